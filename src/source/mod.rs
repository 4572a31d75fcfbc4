//! Where object bytes come from, and their decoding.

pub mod decode;
pub mod event;
pub mod object;

pub use decode::{DecodeLimits, Decoded, Encoding, decode};
pub use event::ObjectRef;
pub use object::{LocalSource, ObjectSource, OpenedObject, S3Source, SourceError};

//! Where object bytes come from, and their decoding.

pub mod decode;
pub mod event;
pub mod object;

pub use decode::DecodeLimits;
pub use event::ObjectRef;
pub use object::{LocalSource, ObjectHead, ObjectSource, S3Source, SourceError};

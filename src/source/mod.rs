//! Where object bytes come from, and their decoding.

pub mod decode;

pub use decode::{DecodeLimits, Decoded, Encoding, decode};

//! Which parser an object needs: from its S3 key first (AWS delivery paths are
//! distinctive), then from its first bytes.

use super::Format;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detection {
    Parse(Format),
    /// Not a log (e.g. a CloudTrail digest file); the reason is logged.
    Skip(String),
}

/// `key` is the S3 key or file path; `head` the first decoded bytes (up to a few hundred KiB).
pub fn detect(key: &str, head: &[u8]) -> Detection {
    let _ = (key, head);
    unimplemented!()
}

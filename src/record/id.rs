//! Deterministic record ids.
//!
//! Sentinel has no server-side deduplication, so a retried or re-delivered object must
//! produce the same ids as the first attempt: the id is a 128-bit XXH3 hash of the log
//! type, the record's position in its object and the record's raw bytes. The same object
//! content always yields the same ids, whatever key or bucket it arrives under.

use std::fmt;

use xxhash_rust::xxh3::Xxh3;

use super::LogType;

/// A record's deterministic id: XXH3-128 of log type, ordinal and raw bytes.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordId(pub u128);

impl RecordId {
    /// The id of the record at `ordinal` in its object, parsed from `raw`.
    pub fn compute(log_type: LogType, ordinal: u64, raw: &[u8]) -> RecordId {
        let mut hasher = Xxh3::new();
        hasher.update(log_type.name().as_bytes());
        hasher.update(&[0]);
        hasher.update(&ordinal.to_le_bytes());
        hasher.update(raw);
        RecordId(hasher.digest128())
    }

    /// UUID-shaped text (8-4-4-4-12 hex digits), the form Sentinel users filter on.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let bytes = self.0.to_be_bytes();
        for (i, b) in bytes.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                out.push(b'-');
            }
            out.push(HEX[(b >> 4) as usize]);
            out.push(HEX[(b & 0xf) as usize]);
        }
    }

    /// Reads 32 hex digits, dashes ignored (the UUID-shaped form too).
    pub fn parse(text: &str) -> Option<RecordId> {
        let hex: String = text.chars().filter(|c| *c != '-').collect();
        if hex.len() != 32 {
            return None;
        }
        u128::from_str_radix(&hex, 16).ok().map(RecordId)
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = Vec::with_capacity(36);
        self.write_to(&mut buf);
        f.write_str(std::str::from_utf8(&buf).expect("hex is ASCII"))
    }
}

impl fmt::Debug for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecordId({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_content_and_position_give_the_same_id() {
        let a = RecordId::compute(LogType::CloudTrail, 3, b"{\"x\":1}");
        let b = RecordId::compute(LogType::CloudTrail, 3, b"{\"x\":1}");
        assert_eq!(a, b);
        assert_ne!(a, RecordId::compute(LogType::CloudTrail, 4, b"{\"x\":1}"));
        assert_ne!(a, RecordId::compute(LogType::VpcFlow, 3, b"{\"x\":1}"));
    }

    #[test]
    fn text_form_round_trips() {
        let id = RecordId::compute(LogType::Text, 0, b"hello");
        let text = id.to_string();
        assert_eq!(text.len(), 36);
        assert_eq!(text.matches('-').count(), 4);
        assert_eq!(RecordId::parse(&text), Some(id));
    }
}

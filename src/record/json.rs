//! The record's JSON form: one flat object per row, columns in insertion order, connector
//! columns last. Written by hand instead of through `serde_json::Value` because this is
//! the hot path of every object: no intermediate map, no per-key allocation.

use super::{Record, RecordId, Value, columns, time};

/// Appends the record as one JSON object to `out`.
pub fn write_record(record: &Record, out: &mut Vec<u8>) {
    let mut object = ObjectWriter::new(out);
    if let Some(t) = record.time {
        object.time(columns::TIME_GENERATED, &t);
    }
    for (name, value) in &record.columns {
        object.value(name, value);
    }
    object.str(columns::SOURCE_LOG_TYPE, record.log_type.name());
    object.str(columns::SOURCE_OBJECT, &record.source_object);
    if let Some(t) = record.time {
        object.time(columns::EVENT_TIME, &t);
    }
    object.id(columns::RECORD_ID, record.id);
    object.finish();
}

/// Writes one JSON object member by member: records, and rows built without one (alerts).
pub struct ObjectWriter<'o> {
    out: &'o mut Vec<u8>,
    first: bool,
}

impl<'o> ObjectWriter<'o> {
    /// Opens the object.
    pub fn new(out: &'o mut Vec<u8>) -> Self {
        out.push(b'{');
        ObjectWriter { out, first: true }
    }

    fn key(&mut self, name: &str) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        // Column names are ASCII identifiers (checked by the table tests): no escaping needed.
        self.out.push(b'"');
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(b"\":");
    }

    /// A member holding `value`.
    pub fn value(&mut self, name: &str, value: &Value) {
        self.key(name);
        write_value(self.out, value);
    }

    /// A string member.
    pub fn str(&mut self, name: &str, value: &str) {
        self.key(name);
        write_str(self.out, value);
    }

    /// A timestamp member (RFC 3339 text).
    pub fn time(&mut self, name: &str, t: &chrono::DateTime<chrono::Utc>) {
        self.key(name);
        write_time(self.out, t);
    }

    /// A record id member (its text form).
    pub fn id(&mut self, name: &str, id: RecordId) {
        self.key(name);
        self.out.push(b'"');
        id.write_to(self.out);
        self.out.push(b'"');
    }

    /// A member whose value is JSON text already.
    pub fn raw(&mut self, name: &str, json: &str) {
        self.key(name);
        self.out.extend_from_slice(json.as_bytes());
    }

    /// Closes the object.
    pub fn finish(self) {
        self.out.push(b'}');
    }
}

pub fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Str(s) => write_str(out, s),
        Value::Int(i) => out.extend_from_slice(itoa::Buffer::new().format(*i).as_bytes()),
        Value::Real(f) if f.is_finite() => {
            out.extend_from_slice(ryu::Buffer::new().format_finite(*f).as_bytes())
        }
        Value::Real(_) => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Time(t) => write_time(out, t),
        Value::Json(raw) => out.extend_from_slice(raw.get().as_bytes()),
    }
}

fn write_time(out: &mut Vec<u8>, t: &chrono::DateTime<chrono::Utc>) {
    out.push(b'"');
    time::write_rfc3339(out, t);
    out.push(b'"');
}

/// The first byte JSON must escape (a control character, `"` or `\\`), eight bytes at a
/// time: row serialization is the largest single cost of the pipeline after the models,
/// and most of it is this scan.
fn first_to_escape(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // Per byte: the high bit set where the byte is zero (exact for the lowest such byte,
    // which is all the scan needs).
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let mut chunks = bytes.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let x = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        let control = x.wrapping_sub(ONES * 0x20) & !x & HIGHS;
        let hits =
            control | zero(x ^ (ONES * u64::from(b'"'))) | zero(x ^ (ONES * u64::from(b'\\')));
        if hits != 0 {
            return Some(offset + (hits.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b < 0x20 || b == b'"' || b == b'\\')
        .map(|i| offset + i)
}

/// JSON string escaping with a fast path for the common case of nothing to escape.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    // Most values need no escaping at all: one tight scan, then one copy.
    let Some(first) = first_to_escape(bytes) else {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    };
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate().skip(first) {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => {
                out.extend_from_slice(&bytes[start..i]);
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 0xf) as usize]);
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escape);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{LogType, RecordId};
    use serde_json::value::RawValue;

    #[test]
    fn writes_flat_object_with_connector_columns() {
        let mut r = Record::new(LogType::CloudTrail);
        r.time = Some(time::parse_iso8601("2024-05-01T10:20:30Z").unwrap());
        r.push("EventName", "Get\"Object\"\n");
        r.push("ReadOnly", true);
        r.push("Bytes", 42i64);
        r.push("Ratio", 0.5f64);
        r.push(
            "Resources",
            RawValue::from_string("[{\"a\":1}]".to_string()).unwrap(),
        );
        r.source_object = "s3://b/k".into();
        r.id = RecordId(1);
        let text = r.to_json();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["TimeGenerated"], "2024-05-01T10:20:30Z");
        assert_eq!(v["EventTime"], "2024-05-01T10:20:30Z");
        assert_eq!(v["EventName"], "Get\"Object\"\n");
        assert_eq!(v["ReadOnly"], true);
        assert_eq!(v["Bytes"], 42);
        assert_eq!(v["Ratio"], 0.5);
        assert_eq!(v["Resources"][0]["a"], 1);
        assert_eq!(v["SourceLogType"], "CloudTrail");
        assert_eq!(v["SourceObject"], "s3://b/k");
        assert_eq!(v["RecordId"], "00000000-0000-0000-0000-000000000001");
    }

    #[test]
    fn the_word_scan_finds_the_first_byte_to_escape() {
        for len in 0..40 {
            for at in 0..=len {
                for special in [b'"', b'\\', 0x00, 0x1f, b'\n'] {
                    let mut bytes = vec![b'a'; len];
                    // High bytes (UTF-8 continuation) and the neighbours of each special
                    // byte must not count.
                    for (i, b) in bytes.iter_mut().enumerate() {
                        *b = [b'a', 0x20, 0x21, 0x5b, 0x5d, 0x7f, 0x80, 0xff][i % 8];
                    }
                    if at < len {
                        bytes[at] = special;
                    }
                    let expected = bytes
                        .iter()
                        .position(|&b| b < 0x20 || b == b'"' || b == b'\\');
                    assert_eq!(first_to_escape(&bytes), expected, "{bytes:?}");
                }
            }
        }
    }

    #[test]
    fn escapes_control_characters() {
        let mut out = Vec::new();
        write_str(&mut out, "a\u{1}b\u{7f}é");
        let back: String = serde_json::from_slice(&out).unwrap();
        assert_eq!(back, "a\u{1}b\u{7f}é");
    }
}

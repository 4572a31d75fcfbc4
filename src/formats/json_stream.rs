//! Splits a byte stream into top-level JSON values without parsing them, so that a
//! multi-gigabyte `{"Records":[...]}` document or a run of concatenated objects is handled
//! one value at a time in bounded memory. Each value is then deserialized on its own,
//! and a broken one becomes a reject instead of taking the whole object down.

use std::io::{self, BufRead};

/// Values larger than this are rejected (and skipped without buffering them).
pub const DEFAULT_MAX_VALUE_BYTES: usize = 64 * 1024 * 1024;

#[derive(Debug, PartialEq, Eq)]
pub enum Item<'a> {
    /// A complete value (object, array or scalar) and its offset in the stream.
    Value { offset: u64, bytes: &'a [u8] },
    /// Bytes that cannot start or complete a value: the text (cut to a bounded size), the
    /// offset and why.
    Malformed {
        offset: u64,
        bytes: &'a [u8],
        reason: &'static str,
    },
}

pub struct JsonStream<R> {
    reader: R,
    /// Offset of the next unread byte of `reader`.
    offset: u64,
    buf: Vec<u8>,
    max_value_bytes: usize,
}

impl<R: BufRead> JsonStream<R> {
    pub fn new(reader: R) -> Self {
        Self::with_limit(reader, DEFAULT_MAX_VALUE_BYTES)
    }

    pub fn with_limit(reader: R, max_value_bytes: usize) -> Self {
        JsonStream {
            reader,
            offset: 0,
            buf: Vec::new(),
            max_value_bytes,
        }
    }

    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Skips whitespace and the given separator bytes; returns the next byte without
    /// consuming it, or `None` at end of stream.
    pub fn skip(&mut self, separators: &[u8]) -> io::Result<Option<u8>> {
        loop {
            let chunk = self.reader.fill_buf()?;
            if chunk.is_empty() {
                return Ok(None);
            }
            match chunk
                .iter()
                .position(|b| !(b.is_ascii_whitespace() || separators.contains(b)))
            {
                Some(i) => {
                    let next = chunk[i];
                    self.consume(i);
                    return Ok(Some(next));
                }
                None => {
                    let n = chunk.len();
                    self.consume(n);
                }
            }
        }
    }

    /// Consumes exactly one expected byte (after whitespace). Returns false if a different
    /// byte (or the end) comes first; nothing is consumed then.
    pub fn expect(&mut self, byte: u8) -> io::Result<bool> {
        if self.skip(&[])? == Some(byte) {
            self.consume(1);
            Ok(true)
        } else {
            Ok(false)
        }
    }

    fn consume(&mut self, n: usize) {
        self.reader.consume(n);
        self.offset += n as u64;
    }

    /// Reads the next top-level value, skipping whitespace and `separators` before it.
    pub fn next_item(&mut self, separators: &[u8]) -> io::Result<Option<Item<'_>>> {
        let Some(first) = self.skip(separators)? else {
            return Ok(None);
        };
        let start = self.offset;
        self.buf.clear();
        match first {
            b'{' | b'[' => self.read_container(start),
            b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n' => self.read_scalar(start, first),
            _ => {
                self.read_until_newline();
                Ok(Some(Item::Malformed {
                    offset: start,
                    bytes: &self.buf,
                    reason: "text outside any JSON value",
                }))
            }
        }
    }

    fn read_container(&mut self, start: u64) -> io::Result<Option<Item<'_>>> {
        let mut depth: usize = 0;
        let mut in_string = false;
        let mut escaped = false;
        let mut oversize = false;
        loop {
            let chunk = self.reader.fill_buf()?;
            if chunk.is_empty() {
                return Ok(Some(Item::Malformed {
                    offset: start,
                    bytes: &self.buf,
                    reason: "JSON value truncated at end of stream",
                }));
            }
            let mut i = 0;
            let mut done = None;
            while i < chunk.len() {
                if in_string {
                    if escaped {
                        escaped = false;
                        i += 1;
                        continue;
                    }
                    match memchr::memchr2(b'"', b'\\', &chunk[i..]) {
                        Some(j) => {
                            i += j;
                            if chunk[i] == b'\\' {
                                escaped = true;
                            } else {
                                in_string = false;
                            }
                            i += 1;
                        }
                        None => i = chunk.len(),
                    }
                    continue;
                }
                match chunk[i] {
                    b'"' => in_string = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            done = Some(i + 1);
                            break;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            let take = done.unwrap_or(chunk.len());
            push_bounded(
                &mut self.buf,
                self.max_value_bytes,
                &chunk[..take],
                &mut oversize,
            );
            self.consume(take);
            if done.is_some() {
                if oversize {
                    return Ok(Some(Item::Malformed {
                        offset: start,
                        bytes: &self.buf,
                        reason: "JSON value larger than the per-value limit",
                    }));
                }
                return Ok(Some(Item::Value {
                    offset: start,
                    bytes: &self.buf,
                }));
            }
        }
    }

    fn read_scalar(&mut self, start: u64, first: u8) -> io::Result<Option<Item<'_>>> {
        let in_string = first == b'"';
        let mut escaped = false;
        let mut oversize = false;
        let mut first_byte = true;
        loop {
            let chunk = self.reader.fill_buf()?;
            if chunk.is_empty() {
                if in_string {
                    return Ok(Some(Item::Malformed {
                        offset: start,
                        bytes: &self.buf,
                        reason: "JSON string truncated at end of stream",
                    }));
                }
                return Ok(Some(Item::Value {
                    offset: start,
                    bytes: &self.buf,
                }));
            }
            let mut end = None;
            for (i, &b) in chunk.iter().enumerate() {
                if first_byte {
                    first_byte = false;
                    continue;
                }
                if in_string {
                    if escaped {
                        escaped = false;
                    } else if b == b'\\' {
                        escaped = true;
                    } else if b == b'"' {
                        end = Some(i + 1);
                        break;
                    }
                } else if b.is_ascii_whitespace()
                    || matches!(b, b',' | b']' | b'}' | b'{' | b'[' | b'"')
                {
                    end = Some(i);
                    break;
                }
            }
            let take = end.unwrap_or(chunk.len());
            push_bounded(
                &mut self.buf,
                self.max_value_bytes,
                &chunk[..take],
                &mut oversize,
            );
            self.consume(take);
            if end.is_some() {
                return Ok(Some(Item::Value {
                    offset: start,
                    bytes: &self.buf,
                }));
            }
        }
    }

    fn read_until_newline(&mut self) {
        let mut oversize = false;
        loop {
            let Ok(chunk) = self.reader.fill_buf() else {
                return;
            };
            if chunk.is_empty() {
                return;
            }
            let (take, found) = match memchr::memchr(b'\n', chunk) {
                Some(i) => (i + 1, true),
                None => (chunk.len(), false),
            };
            push_bounded(
                &mut self.buf,
                self.max_value_bytes,
                &chunk[..take],
                &mut oversize,
            );
            self.consume(take);
            if found {
                return;
            }
        }
    }
}

/// How much of an oversize value is kept for the reject output.
const REJECT_PREFIX: usize = 64 * 1024;

fn push_bounded(buf: &mut Vec<u8>, max: usize, bytes: &[u8], oversize: &mut bool) {
    if *oversize {
        return;
    }
    if buf.len() + bytes.len() > max {
        *oversize = true;
        let keep = max.min(REJECT_PREFIX);
        let room = keep.saturating_sub(buf.len());
        buf.extend_from_slice(&bytes[..room.min(bytes.len())]);
        buf.truncate(keep);
        return;
    }
    buf.extend_from_slice(bytes);
}

/// Splits an in-memory slice (e.g. one line) into its top-level values.
pub fn split_values(text: &[u8]) -> Vec<Item<'_>> {
    let mut items = Vec::new();
    let mut stream = JsonStream::new(text);
    let mut ranges = Vec::new();
    while let Ok(Some(item)) = stream.next_item(&[]) {
        let (start, reason) = match item {
            Item::Value { offset, .. } => (offset as usize, None),
            Item::Malformed { offset, reason, .. } => (offset as usize, Some(reason)),
        };
        ranges.push((start, stream.offset() as usize, reason));
    }
    for (start, end, reason) in ranges {
        let bytes = trim_end(&text[start..end]);
        items.push(match reason {
            None => Item::Value {
                offset: start as u64,
                bytes,
            },
            Some(reason) => Item::Malformed {
                offset: start as u64,
                bytes,
                reason,
            },
        });
    }
    items
}

fn trim_end(mut b: &[u8]) -> &[u8] {
    while let [rest @ .., last] = b {
        if last.is_ascii_whitespace() {
            b = rest;
        } else {
            break;
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str) -> Vec<String> {
        split_values(text.as_bytes())
            .into_iter()
            .map(|i| match i {
                Item::Value { bytes, .. } => String::from_utf8(bytes.to_vec()).unwrap(),
                Item::Malformed { reason, .. } => format!("ERR {reason}"),
            })
            .collect()
    }

    #[test]
    fn splits_concatenated_objects() {
        assert_eq!(
            values(r#"{"a":"}{"}{"b":[1,{"c":"\"]"}]}  {"d":1}"#),
            vec![r#"{"a":"}{"}"#, r#"{"b":[1,{"c":"\"]"}]}"#, r#"{"d":1}"#]
        );
    }

    #[test]
    fn reports_truncation_and_garbage() {
        assert_eq!(
            values("{\"a\":1}\ngarbage here\n{\"b\":"),
            vec![
                "{\"a\":1}".to_string(),
                "ERR text outside any JSON value".to_string(),
                "ERR JSON value truncated at end of stream".to_string()
            ]
        );
    }

    #[test]
    fn streams_array_elements_after_descending() {
        let doc = br#"{"Records": [ {"x":1}, {"y":"]"} ]}"#;
        let mut s = JsonStream::new(&doc[..]);
        assert!(s.expect(b'{').unwrap());
        let key = match s.next_item(&[]).unwrap().unwrap() {
            Item::Value { bytes, .. } => bytes.to_vec(),
            other => panic!("{other:?}"),
        };
        assert_eq!(key, b"\"Records\"");
        assert!(s.expect(b':').unwrap());
        assert!(s.expect(b'[').unwrap());
        let mut got = Vec::new();
        loop {
            if s.skip(b",").unwrap() == Some(b']') {
                break;
            }
            match s.next_item(b",").unwrap().unwrap() {
                Item::Value { bytes, .. } => got.push(String::from_utf8(bytes.to_vec()).unwrap()),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(got, vec![r#"{"x":1}"#, r#"{"y":"]"}"#]);
    }

    #[test]
    fn oversize_values_are_malformed_not_buffered() {
        let big = format!("{{\"a\":\"{}\"}} {{\"b\":1}}", "x".repeat(10_000));
        let mut s = JsonStream::with_limit(big.as_bytes(), 1000);
        match s.next_item(&[]).unwrap().unwrap() {
            Item::Malformed { reason, bytes, .. } => {
                assert!(reason.contains("limit"));
                assert!(bytes.len() <= 1000);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            s.next_item(&[]).unwrap().unwrap(),
            Item::Value { .. }
        ));
    }
}

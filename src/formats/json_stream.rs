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

impl<'a> Item<'a> {
    /// A value, or malformed text when there is a `problem`.
    fn new(offset: u64, bytes: &'a [u8], problem: Option<&'static str>) -> Item<'a> {
        match problem {
            None => Item::Value { offset, bytes },
            Some(reason) => Item::Malformed {
                offset,
                bytes,
                reason,
            },
        }
    }
}

/// Bracket matching state of one value, carried across chunks or lines.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Scan {
    depth: usize,
    in_string: bool,
    escaped: bool,
}

impl Scan {
    /// Feeds bytes of a value; returns the index just past the value's end when it closes.
    pub(super) fn feed(&mut self, bytes: &[u8]) -> Option<usize> {
        let mut i = 0;
        while i < bytes.len() {
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                    i += 1;
                    continue;
                }
                match memchr::memchr2(b'"', b'\\', &bytes[i..]) {
                    Some(j) => {
                        i += j;
                        if bytes[i] == b'\\' {
                            self.escaped = true;
                        } else {
                            self.in_string = false;
                        }
                        i += 1;
                    }
                    None => return None,
                }
                continue;
            }
            match bytes[i] {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.depth == 0 {
                        return Some(i + 1);
                    }
                }
                _ => {}
            }
            i += 1;
        }
        None
    }
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
                let problem = Some("text outside any JSON value");
                Ok(Some(Item::new(start, &self.buf, problem)))
            }
        }
    }

    fn read_container(&mut self, start: u64) -> io::Result<Option<Item<'_>>> {
        let mut scan = Scan::default();
        let read = self.read_through(|chunk| scan.feed(chunk))?;
        let problem = match read {
            Read::Unfinished => Some("JSON value truncated at end of stream"),
            Read::Oversize => Some("JSON value larger than the per-value limit"),
            Read::Complete => None,
        };
        Ok(Some(Item::new(start, &self.buf, problem)))
    }

    fn read_scalar(&mut self, start: u64, first: u8) -> io::Result<Option<Item<'_>>> {
        let in_string = first == b'"';
        let mut escaped = false;
        let mut first_byte = true;
        let read = self.read_through(|chunk| {
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
                        return Some(i + 1);
                    }
                } else if b.is_ascii_whitespace()
                    || matches!(b, b',' | b']' | b'}' | b'{' | b'[' | b'"')
                {
                    return Some(i);
                }
            }
            None
        })?;
        // An oversize scalar is kept whole as far as the limit goes.
        let truncated = read == Read::Unfinished && in_string;
        let problem = truncated.then_some("JSON string truncated at end of stream");
        Ok(Some(Item::new(start, &self.buf, problem)))
    }

    fn read_until_newline(&mut self) {
        // An I/O error ends the text as the end of the stream does.
        let _ = self.read_through(|chunk| memchr::memchr(b'\n', chunk).map(|i| i + 1));
    }

    /// Moves bytes from the reader into `buf` (at most `max_value_bytes` of them) until
    /// `end` finds the end of the value in a chunk (the index just past it) or the stream
    /// ends.
    fn read_through(&mut self, mut end: impl FnMut(&[u8]) -> Option<usize>) -> io::Result<Read> {
        let mut oversize = false;
        loop {
            let chunk = self.reader.fill_buf()?;
            if chunk.is_empty() {
                return Ok(Read::Unfinished);
            }
            let found = end(chunk);
            let take = found.unwrap_or(chunk.len());
            push_bounded(
                &mut self.buf,
                self.max_value_bytes,
                &chunk[..take],
                &mut oversize,
            );
            self.consume(take);
            if found.is_some() {
                return Ok(if oversize {
                    Read::Oversize
                } else {
                    Read::Complete
                });
            }
        }
    }
}

/// How [`JsonStream::read_through`] ended.
#[derive(Debug, PartialEq, Eq)]
enum Read {
    /// The value ended within the limit.
    Complete,
    /// The value ended; only its start was kept.
    Oversize,
    /// The stream ended first.
    Unfinished,
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
        let bytes = text[start..end].trim_ascii_end();
        items.push(Item::new(start as u64, bytes, reason));
    }
    items
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

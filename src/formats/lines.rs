//! Line splitting for the line-oriented formats: bounded line length, CRLF tolerant,
//! line numbers and byte offsets kept for rejects.

use std::io::{self, BufRead};

use super::fields::{is_blank, line_text};
use super::{Emitter, ParseError, Parser};
use crate::record::{LogType, Record};

/// Lines longer than this are cut and reported as rejects; memory stays bounded.
pub const DEFAULT_MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// The reason given for a line cut at the limit.
pub const TOO_LONG: &str = "line longer than the line limit";

#[derive(Debug)]
pub struct Line<'a> {
    /// 1-based.
    pub number: u64,
    pub offset: u64,
    /// Without the line terminator.
    pub bytes: &'a [u8],
    /// The line was longer than the limit; `bytes` holds its beginning only.
    pub cut: bool,
}

pub struct LineReader<R> {
    reader: R,
    buf: Vec<u8>,
    number: u64,
    offset: u64,
    max_line: usize,
}

impl<R: BufRead> LineReader<R> {
    pub fn new(reader: R) -> Self {
        Self::with_limit(reader, DEFAULT_MAX_LINE_BYTES)
    }

    pub fn with_limit(reader: R, max_line: usize) -> Self {
        LineReader {
            reader,
            buf: Vec::with_capacity(4096),
            number: 0,
            offset: 0,
            max_line,
        }
    }

    pub fn next_line(&mut self) -> io::Result<Option<Line<'_>>> {
        self.buf.clear();
        let start = self.offset;
        let mut cut = false;
        let mut consumed_total = 0u64;
        loop {
            let chunk = self.reader.fill_buf()?;
            if chunk.is_empty() {
                break;
            }
            let (take, found) = match memchr::memchr(b'\n', chunk) {
                Some(i) => (i + 1, true),
                None => (chunk.len(), false),
            };
            let room = self.max_line.saturating_sub(self.buf.len());
            if take > room {
                cut = true;
            }
            self.buf.extend_from_slice(&chunk[..take.min(room)]);
            self.reader.consume(take);
            consumed_total += take as u64;
            if found {
                break;
            }
        }
        if consumed_total == 0 {
            return Ok(None);
        }
        self.offset += consumed_total;
        self.number += 1;
        let mut bytes = &self.buf[..];
        if let [rest @ .., b'\n'] = bytes {
            bytes = rest;
        }
        if let [rest @ .., b'\r'] = bytes {
            bytes = rest;
        }
        Ok(Some(Line {
            number: self.number,
            offset: start,
            bytes,
            cut,
        }))
    }
}

/// A parser of a format with one record a line. Its [`Parser`] skips blank lines, rejects
/// a line cut at the length limit without parsing it, and emits or rejects what
/// [`LineParser::record`] makes of the others.
pub trait LineParser {
    /// The table the line's reject goes to.
    fn log_type(&self, text: &str) -> LogType;
    /// The line's record, nothing (a header line), or why it is not a record.
    fn record(&mut self, text: &str) -> Result<Option<Record>, String>;
}

impl<P: LineParser> Parser for P {
    fn parse(&mut self, input: &mut dyn BufRead, out: &mut Emitter<'_>) -> Result<(), ParseError> {
        let mut lines = LineReader::new(input);
        while let Some(line) = lines.next_line()? {
            if is_blank(line.bytes) {
                continue;
            }
            let text = line_text(line.bytes);
            let result = if line.cut {
                Err(TOO_LONG.to_string())
            } else {
                self.record(&text)
            };
            match result {
                Ok(Some(record)) => out.emit(line.bytes, record)?,
                Ok(None) => {}
                Err(reason) => out.reject_line(self.log_type(&text), &line, reason)?,
            }
        }
        Ok(())
    }
}

/// Where the double-quoted string whose text starts at `start` ends: the index of its
/// closing quote, skipping backslash-escaped bytes; `bytes.len()` or beyond when it is not
/// closed.
pub fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut j = start;
    while j < bytes.len() && bytes[j] != b'"' {
        if bytes[j] == b'\\' {
            j += 1;
        }
        j += 1;
    }
    j
}

/// Splits a line on single spaces, honouring double-quoted fields (`"GET / HTTP/1.1"`),
/// as in ELB, S3 access and similar space-separated AWS logs. Quotes are removed; a
/// backslash escapes the next character inside quotes. Brackets (`[06/Feb/2019:00:00:38
/// +0000]`) group like quotes.
pub fn split_quoted(line: &str) -> Vec<&str> {
    let bytes = line.as_bytes();
    let mut fields = Vec::with_capacity(32);
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b' ' => i += 1,
            b'"' => {
                let start = i + 1;
                let end = string_end(bytes, start).min(bytes.len());
                fields.push(&line[start..end]);
                i = end + 1;
            }
            b'[' => {
                let start = i + 1;
                let end = memchr::memchr(b']', &bytes[start..])
                    .map(|p| start + p)
                    .unwrap_or(bytes.len());
                fields.push(&line[start..end]);
                i = end + 1;
            }
            _ => {
                let start = i;
                let end = memchr::memchr(b' ', &bytes[start..])
                    .map(|p| start + p)
                    .unwrap_or(bytes.len());
                fields.push(&line[start..end]);
                i = end;
            }
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_lines_and_strips_terminators() {
        let mut r = LineReader::new(&b"a\r\nbb\n\nccc"[..]);
        let mut got = Vec::new();
        while let Some(l) = r.next_line().unwrap() {
            got.push((
                l.number,
                l.offset,
                String::from_utf8(l.bytes.to_vec()).unwrap(),
            ));
        }
        assert_eq!(
            got,
            vec![
                (1, 0, "a".into()),
                (2, 3, "bb".into()),
                (3, 6, "".into()),
                (4, 7, "ccc".into())
            ]
        );
    }

    #[test]
    fn cuts_long_lines_and_continues() {
        let text = format!("{}\nshort\n", "x".repeat(100));
        let mut r = LineReader::with_limit(text.as_bytes(), 10);
        let first = r.next_line().unwrap().unwrap();
        assert!(first.cut);
        assert_eq!(first.bytes.len(), 10);
        let second = r.next_line().unwrap().unwrap();
        assert!(!second.cut);
        assert_eq!(second.bytes, b"short");
        assert_eq!(second.number, 2);
    }

    #[test]
    fn splits_quoted_and_bracketed_fields() {
        let f = split_quoted(r#"a [01/Aug/2019:00:24:41 +0000] "GET / HTTP/1.1" - "x \"y\"" z"#);
        assert_eq!(
            f,
            vec![
                "a",
                "01/Aug/2019:00:24:41 +0000",
                "GET / HTTP/1.1",
                "-",
                r#"x \"y\""#,
                "z"
            ]
        );
    }
}

//! Top-level JSON values of the JSON-lines formats (WAF, GuardDuty, Route 53, Network
//! Firewall, CloudWatch envelopes, CloudFront v2, generic JSON), whatever the layout: one
//! value per line, several concatenated on one line (Firehose), or pretty-printed across
//! lines.
//!
//! Unlike [`super::json_stream::JsonStream`], it works line by line so that one truncated
//! or mangled line costs exactly that line: a value left open at the end of a line continues
//! on the next line only while that line does not itself start a new top-level value at
//! column 0 (pretty-printers indent nested lines, so a `{` in column 0 means the previous
//! value was cut short).

use std::io::BufRead;

use serde_json::value::RawValue;

use super::fields::{JsonObject, json_error_reason};
use super::json_stream::Scan;
use super::lines::LineReader;
use super::{Emitter, ParseError, Stop};
use crate::record::{LogType, Record};

/// Values larger than this are rejected; memory stays bounded.
pub const MAX_VALUE_BYTES: usize = 64 * 1024 * 1024;

/// One piece of input: a complete value or bad text, with where it starts.
#[derive(Debug)]
pub enum Piece<'a> {
    Value {
        line: u64,
        offset: u64,
        bytes: &'a [u8],
    },
    Bad {
        line: u64,
        offset: u64,
        bytes: &'a [u8],
        reason: String,
    },
}

struct Pending {
    line: u64,
    offset: u64,
    buf: Vec<u8>,
    scan: Scan,
    oversize: bool,
}

/// Calls `f` for every value and every piece of bad text in `input`, in order.
pub fn for_each_value(
    input: &mut dyn BufRead,
    mut f: impl FnMut(Piece<'_>) -> Result<(), Stop>,
) -> Result<(), ParseError> {
    for_each_value_limited(input, MAX_VALUE_BYTES, &mut f)
}

pub fn for_each_value_limited(
    input: &mut dyn BufRead,
    max_value_bytes: usize,
    f: &mut dyn FnMut(Piece<'_>) -> Result<(), Stop>,
) -> Result<(), ParseError> {
    let mut lines = LineReader::with_limit(input, max_value_bytes);
    let mut pending: Option<Pending> = None;
    while let Some(line) = lines.next_line()? {
        let bytes = line.bytes;
        if line.cut {
            if let Some(p) = pending.take() {
                flush_truncated(p, "JSON value cut short by an over-long line", f)?;
            }
            f(Piece::Bad {
                line: line.number,
                offset: line.offset,
                bytes,
                reason: format!("line longer than {max_value_bytes} bytes"),
            })?;
            continue;
        }
        let mut pos = 0;
        if let Some(mut p) = pending.take() {
            // Only an object resyncs: elements of a pretty-printed top-level array often sit
            // in column 0.
            if p.buf.first() == Some(&b'{') && matches!(bytes.first(), Some(b'{' | b'[')) {
                flush_truncated(
                    p,
                    "JSON value truncated (the next line starts a new value)",
                    f,
                )?;
            } else {
                match p.scan.feed(bytes) {
                    Some(end) => {
                        append(&mut p, b"\n", max_value_bytes);
                        append(&mut p, &bytes[..end], max_value_bytes);
                        if p.oversize {
                            f(Piece::Bad {
                                line: p.line,
                                offset: p.offset,
                                bytes: &p.buf,
                                reason: format!("JSON value larger than {max_value_bytes} bytes"),
                            })?;
                        } else {
                            f(Piece::Value {
                                line: p.line,
                                offset: p.offset,
                                bytes: &p.buf,
                            })?;
                        }
                        pos = end;
                    }
                    None => {
                        append(&mut p, b"\n", max_value_bytes);
                        append(&mut p, bytes, max_value_bytes);
                        pending = Some(p);
                        continue;
                    }
                }
            }
        }
        // Values starting on this line.
        loop {
            while pos < bytes.len() && (bytes[pos].is_ascii_whitespace() || bytes[pos] == b',') {
                pos += 1;
            }
            if pos >= bytes.len() {
                break;
            }
            let start = pos;
            let offset = line.offset + start as u64;
            match bytes[pos] {
                b'{' | b'[' => {
                    let mut scan = Scan::default();
                    match scan.feed(&bytes[start..]) {
                        Some(len) => {
                            f(Piece::Value {
                                line: line.number,
                                offset,
                                bytes: &bytes[start..start + len],
                            })?;
                            pos = start + len;
                        }
                        None => {
                            let mut p = Pending {
                                line: line.number,
                                offset,
                                buf: Vec::new(),
                                scan,
                                oversize: false,
                            };
                            append(&mut p, &bytes[start..], max_value_bytes);
                            pending = Some(p);
                            break;
                        }
                    }
                }
                _ => {
                    // Scalars and stray text are not records of any JSON-lines format: the
                    // rest of the line up to the next value is rejected.
                    let end = bytes[start..]
                        .iter()
                        .position(|b| *b == b'{')
                        .map(|i| start + i)
                        .unwrap_or(bytes.len());
                    let end = if end == start { bytes.len() } else { end };
                    f(Piece::Bad {
                        line: line.number,
                        offset,
                        bytes: bytes[start..end].trim_ascii_end(),
                        reason: "text outside any JSON object".to_string(),
                    })?;
                    pos = end;
                }
            }
        }
    }
    if let Some(p) = pending.take() {
        flush_truncated(p, "JSON value truncated at end of stream", f)?;
    }
    Ok(())
}

fn append(p: &mut Pending, bytes: &[u8], max: usize) {
    if p.oversize {
        return;
    }
    if p.buf.len() + bytes.len() > max {
        p.oversize = true;
        let keep = crate::record::Reject::MAX_RAW.saturating_sub(p.buf.len());
        p.buf.extend_from_slice(&bytes[..keep.min(bytes.len())]);
        return;
    }
    p.buf.extend_from_slice(bytes);
}

fn flush_truncated(
    p: Pending,
    reason: &str,
    f: &mut dyn FnMut(Piece<'_>) -> Result<(), Stop>,
) -> Result<(), Stop> {
    f(Piece::Bad {
        line: p.line,
        offset: p.offset,
        bytes: p.buf.trim_ascii_end(),
        reason: reason.to_string(),
    })
}

/// Turns one JSON object (with its bytes) into a row, or says why not.
pub type ObjectToRecord<'c> = dyn FnMut(&[u8], &JsonObject<'_>) -> Result<Record, String> + 'c;

/// Runs a JSON-object format over `input`: every object (top-level arrays, and an array
/// under `wrapper_key` such as GuardDuty's `{"findings":[...]}`, are expanded one level)
/// goes through `convert`; what fails becomes a reject of `reject_type`.
pub fn parse_objects(
    input: &mut dyn BufRead,
    out: &mut Emitter<'_>,
    reject_type: LogType,
    wrapper_key: Option<&str>,
    convert: &mut ObjectToRecord<'_>,
) -> Result<(), ParseError> {
    parse_objects_unwrapping(
        input,
        out,
        reject_type,
        &|obj| wrapper_key.and_then(|k| wrapped_array(obj, k)),
        convert,
    )
}

/// The items an object wraps (expanded one level), or `None` for an object that is a
/// record itself.
pub type Unwrap<'u> = dyn for<'a> Fn(&JsonObject<'a>) -> Option<Vec<&'a RawValue>> + 'u;

/// [`parse_objects`] with the wrapped items found by `unwrap` rather than under one key.
pub fn parse_objects_unwrapping(
    input: &mut dyn BufRead,
    out: &mut Emitter<'_>,
    reject_type: LogType,
    unwrap: &Unwrap<'_>,
    convert: &mut ObjectToRecord<'_>,
) -> Result<(), ParseError> {
    for_each_element(input, out, reject_type, |out, line, offset, bytes| {
        let result = JsonObject::parse(bytes).and_then(|obj| {
            if let Some(items) = unwrap(&obj) {
                return Ok(Err(items));
            }
            convert(bytes, &obj).map(Ok)
        });
        match result {
            Ok(Ok(record)) => out.emit(bytes, record),
            Ok(Err(items)) => {
                for item in items {
                    let b = item.get().as_bytes();
                    match JsonObject::parse(b).and_then(|obj| convert(b, &obj)) {
                        Ok(record) => out.emit(b, record)?,
                        Err(reason) => out.reject(reject_type, Some(line), offset, b, reason)?,
                    }
                }
                Ok(())
            }
            Err(reason) => out.reject(reject_type, Some(line), offset, bytes, reason),
        }
    })
}

/// Calls `element` with every value of `input` (and its line and offset), the elements of
/// a top-level array one by one; an array that is not valid JSON and text that is no value
/// are rejects of `reject_type`.
pub fn for_each_element(
    input: &mut dyn BufRead,
    out: &mut Emitter<'_>,
    reject_type: LogType,
    mut element: impl FnMut(&mut Emitter<'_>, u64, u64, &[u8]) -> Result<(), Stop>,
) -> Result<(), ParseError> {
    for_each_value(input, |piece| match piece {
        Piece::Value {
            line,
            offset,
            bytes,
        } if bytes.first() == Some(&b'[') => {
            match serde_json::from_slice::<Vec<&RawValue>>(bytes) {
                Ok(items) => items
                    .iter()
                    .try_for_each(|item| element(out, line, offset, item.get().as_bytes())),
                Err(e) => out.reject(
                    reject_type,
                    Some(line),
                    offset,
                    bytes,
                    json_error_reason(&e),
                ),
            }
        }
        Piece::Value {
            line,
            offset,
            bytes,
        } => element(out, line, offset, bytes),
        Piece::Bad {
            line,
            offset,
            bytes,
            reason,
        } => out.reject(reject_type, Some(line), offset, bytes, reason),
    })
}

/// Declares `$name`, the [`Parser`](crate::formats::Parser) of a JSON-object format whose
/// objects `$record` turns into rows ([`parse_objects`]: arrays, and an array under
/// `$wrapper_key`, are expanded; what fails is a reject of `$log_type`).
macro_rules! object_parser {
    ($name:ident, $log_type:expr, $wrapper_key:expr, $record:path) => {
        #[derive(Debug, Default)]
        pub struct $name;

        impl $crate::formats::Parser for $name {
            fn parse(
                &mut self,
                input: &mut dyn std::io::BufRead,
                out: &mut $crate::formats::Emitter<'_>,
            ) -> Result<(), $crate::formats::ParseError> {
                let record =
                    &mut |_: &[u8], obj: &$crate::formats::fields::JsonObject<'_>| $record(obj);
                $crate::formats::json_lines::parse_objects(
                    input,
                    out,
                    $log_type,
                    $wrapper_key,
                    record,
                )
            }
        }
    };
}
pub(crate) use object_parser;

/// The elements of `obj[key]` when the object is just that wrapper around an array.
fn wrapped_array<'a>(obj: &JsonObject<'a>, key: &str) -> Option<Vec<&'a RawValue>> {
    if obj.members.len() != 1 {
        return None;
    }
    let raw = obj.raw(key)?;
    serde_json::from_str(raw.get()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        for_each_value(&mut text.as_bytes(), |p| {
            out.push(match p {
                Piece::Value { line, bytes, .. } => {
                    format!("{line}:{}", String::from_utf8_lossy(bytes))
                }
                Piece::Bad {
                    line,
                    bytes,
                    reason,
                    ..
                } => format!("{line}:BAD {} ({reason})", String::from_utf8_lossy(bytes)),
            });
            Ok(())
        })
        .unwrap();
        out
    }

    #[test]
    fn one_value_per_line_and_concatenated() {
        assert_eq!(
            pieces("{\"a\":1}\n\n{\"b\":\"}{\"}{\"c\":[1]}\r\n"),
            vec!["1:{\"a\":1}", "3:{\"b\":\"}{\"}", "3:{\"c\":[1]}"]
        );
    }

    #[test]
    fn pretty_printed_values_span_lines() {
        let text = "{\n  \"a\": {\n    \"b\": 1\n  }\n}\n{\n\t\"c\": 2\n}{\"d\":3}\n";
        assert_eq!(
            pieces(text),
            vec![
                "1:{\n  \"a\": {\n    \"b\": 1\n  }\n}",
                "6:{\n\t\"c\": 2\n}",
                "8:{\"d\":3}"
            ]
        );
    }

    #[test]
    fn a_truncated_line_costs_only_itself() {
        let text = "{\"a\":1}\n{\"b\":\"cut\n{\"c\":3}\nnot json\n{\"d\":";
        let got = pieces(text);
        assert_eq!(got.len(), 5, "{got:?}");
        assert_eq!(got[0], "1:{\"a\":1}");
        assert!(got[1].starts_with("2:BAD {\"b\":\"cut"), "{}", got[1]);
        assert_eq!(got[2], "3:{\"c\":3}");
        assert!(got[3].starts_with("4:BAD not json"));
        assert!(got[4].contains("end of stream"));
    }

    #[test]
    fn arrays_with_elements_in_column_zero_stay_whole() {
        assert_eq!(
            pieces("[\n{\"a\":1},\n{\"b\":2}\n]\n"),
            vec!["1:[\n{\"a\":1},\n{\"b\":2}\n]"]
        );
    }

    #[test]
    fn oversize_values_are_rejected_with_bounded_memory() {
        let big = format!("{{\"a\":\"{}\"}}\n{{\"b\":1}}\n", "x".repeat(5000));
        let mut got = Vec::new();
        for_each_value_limited(&mut big.as_bytes(), 1000, &mut |p| {
            got.push(match p {
                Piece::Value { bytes, .. } => String::from_utf8_lossy(bytes).into_owned(),
                Piece::Bad { reason, bytes, .. } => {
                    assert!(bytes.len() <= 1000);
                    format!("BAD {reason}")
                }
            });
            Ok(())
        })
        .unwrap();
        assert_eq!(got.len(), 2);
        assert!(got[0].starts_with("BAD line longer"));
        assert_eq!(got[1], "{\"b\":1}");
    }
}

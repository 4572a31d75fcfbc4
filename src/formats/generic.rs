//! Anything else: generic JSON lines and plain text lines -> S3SentinelLogs_CL, the message in
//! `Message` and a timestamp found in it as `ExtractedTime` (and the row's time).

use std::io::BufRead;

use serde_json::value::RawValue;

use super::fields::{JsonObject, json_error_reason, leading_timestamp, line_text};
use super::json_lines::for_each_element;
use super::lines::LineParser;
use super::{Emitter, ParseError, Parser};
use crate::record::{LogType, Record, Value};

/// Members that commonly hold an event's time, in order of preference.
const TIME_KEYS: &[&str] = &[
    "@timestamp",
    "timestamp",
    "time",
    "eventTime",
    "event_time",
    "ts",
    "datetime",
    "date",
    "Timestamp",
    "Time",
];

fn message_record(
    log_type: LogType,
    message: &str,
    time: Option<chrono::DateTime<chrono::Utc>>,
) -> Record {
    let mut r = Record::new(log_type);
    r.time = time;
    r.push_opt("ExtractedTime", time);
    r.push("Message", Value::Str(message.to_owned()));
    r
}

/// Largest JSON value kept as one record, as for a text line: a bigger one is rejected
/// (its start kept) instead of being copied into a record and a row.
const MAX_RECORD_BYTES: usize = super::lines::DEFAULT_MAX_LINE_BYTES;

fn too_large(bytes: &[u8]) -> Option<String> {
    (bytes.len() > MAX_RECORD_BYTES).then(|| {
        format!(
            "JSON value of {} bytes, over the {MAX_RECORD_BYTES}-byte limit of one record",
            bytes.len()
        )
    })
}

/// One JSON value as a row; objects contribute their time member.
pub fn record_from_json(bytes: &[u8]) -> Record {
    let text = line_text(bytes);
    let time = JsonObject::parse(bytes)
        .ok()
        .and_then(|obj| TIME_KEYS.iter().find_map(|k| obj.time(k).ok().flatten()));
    message_record(LogType::GenericJson, &text, time)
}

/// One text line as a row.
pub fn record_from_text(line: &str) -> Record {
    message_record(LogType::Text, line, leading_timestamp(line))
}

#[derive(Debug, Default)]
pub struct GenericJsonParser;

impl Parser for GenericJsonParser {
    fn parse(&mut self, input: &mut dyn BufRead, out: &mut Emitter<'_>) -> Result<(), ParseError> {
        for_each_element(
            input,
            out,
            LogType::GenericJson,
            |out, line, offset, bytes| {
                let reason = match serde_json::from_slice::<&RawValue>(bytes) {
                    Err(e) => json_error_reason(&e),
                    Ok(_) => match too_large(bytes) {
                        Some(reason) => reason,
                        None => return out.emit(bytes, record_from_json(bytes)),
                    },
                };
                out.reject(LogType::GenericJson, Some(line), offset, bytes, reason)
            },
        )
    }
}

#[derive(Debug, Default)]
pub struct TextParser;

impl LineParser for TextParser {
    fn log_type(&self, _text: &str) -> LogType {
        LogType::Text
    }

    fn record(&mut self, text: &str) -> Result<Option<Record>, String> {
        Ok(Some(record_from_text(text)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::Collect;
    use crate::formats::time_text;
    use crate::record::tables::check_record;

    fn run(parser: &mut dyn Parser, text: &[u8]) -> Collect {
        let mut sink = Collect::default();
        let mut out = Emitter::new("f", &mut sink);
        parser.parse(&mut &text[..], &mut out).unwrap();
        for r in &sink.records {
            check_record(r).unwrap();
        }
        sink
    }

    #[test]
    fn a_value_over_the_record_limit_is_rejected_and_its_neighbours_kept() {
        let big = format!("\"{}\"", "x".repeat(MAX_RECORD_BYTES));
        let text = format!("{{\"a\":1}}\n[{big},{{\"b\":2}}]\n{{\"c\":{big}}}\n{{\"d\":4}}\n");
        let got = run(&mut GenericJsonParser, text.as_bytes());
        assert_eq!(got.records.len(), 3);
        assert_eq!(got.rejects.len(), 2);
        assert!(got.rejects[0].reason.contains("limit of one record"));
        assert!(got.rejects.iter().all(|r| r.raw.len() <= 64 * 1024));
    }

    #[test]
    fn json_lines_with_times_arrays_and_garbage() {
        let got = run(
            &mut GenericJsonParser,
            b"{\"level\":\"info\",\"time\":\"2026-11-20T10:00:30Z\",\"msg\":\"up\"}\n[{\"a\":1},2]\nnot json\n{\"ts\":1763632831}\n{\"x\":tru}\n",
        );
        assert_eq!(got.counts(), (4, 2), "{:?}", got.rejects);
        let r = &got.records[0];
        assert_eq!(r.log_type, LogType::GenericJson);
        assert_eq!(time_text(r), "2026-11-20T10:00:30Z");
        assert_eq!(
            r.get_str("Message"),
            Some("{\"level\":\"info\",\"time\":\"2026-11-20T10:00:30Z\",\"msg\":\"up\"}")
        );
        assert_eq!(got.records[2].get_str("Message"), Some("2"));
        assert!(got.records[3].time.is_some());
    }

    #[test]
    fn text_lines() {
        let got = run(
            &mut TextParser,
            b"2026-11-20T10:00:31Z first\r\n\n  \nno time here\n\xff\xfe bytes\n",
        );
        assert_eq!(got.records.len(), 3);
        assert_eq!(
            got.records[0].get_str("Message"),
            Some("2026-11-20T10:00:31Z first")
        );
        assert!(got.records[0].time.is_some());
        assert!(got.records[1].time.is_none());
        assert!(
            got.records[2]
                .get_str("Message")
                .unwrap()
                .ends_with(" bytes")
        );
    }
}

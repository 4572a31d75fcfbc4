//! CloudWatch Logs subscription messages -> the table of each message's own format.
//!
//! An object holds `DATA_MESSAGE` envelopes (compact or pretty-printed, one after another as
//! Firehose concatenates them; a Lambda's `{"awslogs":{"data":"<base64 gzip>"}}` event is
//! unpacked). Each log event's message is detected on its own: a CloudTrail event becomes an
//! AWSCloudTrail row, a VPC flow record an AWSVPCFlow row, and so on; anything else is an
//! AWSCloudWatch row with the message text, keeping the log group and stream in
//! `AdditionalFields`. `CONTROL_MESSAGE`s (delivery probes) carry no logs and are skipped.

use std::borrow::Cow;

use base64::Engine;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::fields::{
    Extras, JsonObject, Text, json_error_reason, leading_timestamp, parse_time, raw_text,
    trim_newline,
};
use super::json_lines::{Piece, for_each_element, for_each_value};
use super::{
    Emitter, Format, ParseError, Parser, Stop, cloudtrail, detect, elb, guardduty,
    network_firewall, route53, s3access, vpcflow, waf,
};
use crate::record::{LogType, Record, Value};

const LOG_TYPE: LogType = LogType::CloudWatch;

/// Bound on an unpacked `awslogs.data` payload: one subscription delivery carries at most
/// a PutLogEvents batch (1 MiB of events) in its JSON envelope.
const MAX_AWSLOGS_BYTES: u64 = 8 * 1024 * 1024;

/// Bound on one log event's message: CloudWatch Logs takes events of at most 1 MiB, and a
/// Sentinel row must fit a 1 MiB request. A longer one is rejected (its start kept in the
/// rejects), not carried through every stage.
const MAX_MESSAGE_BYTES: usize = 1024 * 1024;

#[derive(Deserialize)]
struct LogEvent<'a> {
    #[serde(borrow, default)]
    id: Option<Text<'a>>,
    #[serde(borrow, default)]
    timestamp: Option<&'a RawValue>,
    #[serde(borrow, default)]
    message: Option<Text<'a>>,
}

/// Where a message came from, for rows that stay in AWSCloudWatch.
struct Origin<'a> {
    owner: Option<Cow<'a, str>>,
    group: Option<Cow<'a, str>>,
    stream: Option<Cow<'a, str>>,
}

/// A message as a row of its own format when it is one, else as an AWSCloudWatch row.
pub fn record_from_message(
    message: &str,
    timestamp: Option<&RawValue>,
    id: Option<&str>,
    origin: &OriginRef<'_>,
) -> Record {
    let message = trim_newline(message);
    if let Some(record) = detect::message_format(message).and_then(|f| typed_record(f, message)) {
        return record;
    }
    let mut r = Record::new(LOG_TYPE);
    let extracted = leading_timestamp(message);
    let event_time = timestamp.and_then(raw_text).and_then(|t| parse_time(&t));
    r.time = extracted.or(event_time);
    r.push_opt("ExtractedTime", extracted);
    r.push("Message", Value::Str(message.to_owned()));
    let mut extras = Extras::new();
    for (key, value) in [
        ("logGroup", origin.group),
        ("logStream", origin.stream),
        ("owner", origin.owner),
        ("id", id),
    ] {
        if let Some(v) = value {
            extras.str(key, v);
        }
    }
    // The event's own timestamp, when the message's time replaced it and differs.
    if let (Some(x), Some(t)) = (extracted, event_time) {
        if x != t {
            extras.str("timestamp", &crate::record::time::to_rfc3339(&t));
        }
    }
    extras.finish(&mut r);
    r
}

/// Borrowed view of a message's origin.
#[derive(Default, Clone, Copy)]
pub struct OriginRef<'a> {
    pub owner: Option<&'a str>,
    pub group: Option<&'a str>,
    pub stream: Option<&'a str>,
}

impl<'a> Origin<'a> {
    fn as_ref(&self) -> OriginRef<'_> {
        OriginRef {
            owner: self.owner.as_deref(),
            group: self.group.as_deref(),
            stream: self.stream.as_deref(),
        }
    }
}

/// Parses a message with the parser of its detected format; `None` when it does not parse
/// (the message is then kept as plain CloudWatch text rather than rejected).
fn typed_record(format: Format, message: &str) -> Option<Record> {
    let bytes = message.as_bytes();
    let object = || JsonObject::parse(bytes).ok();
    match format {
        Format::CloudTrail => cloudtrail::record_from_event(bytes).ok(),
        Format::VpcFlow => vpcflow::record_from_line(message).ok(),
        Format::ElbAccess => elb::record_from_line(message).ok(),
        Format::S3Access => s3access::record_from_line(message).ok(),
        Format::Waf => waf::record_from_object(&object()?).ok(),
        Format::Route53Resolver => route53::record_from_object(&object()?).ok(),
        Format::NetworkFirewall => network_firewall::record_from_object(&object()?).ok(),
        Format::GuardDuty => guardduty::record_from_object(&object()?).ok(),
        _ => None,
    }
}

/// Unpacks `awslogs.data`: base64 of a gzip'd subscription message, counted against the
/// object's decompression limits.
fn unpack_awslogs(data: &str, out: &Emitter<'_>) -> Result<Vec<u8>, String> {
    let compressed = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|e| format!("awslogs.data is not base64: {e}"))?;
    out.gunzip_nested(&compressed, MAX_AWSLOGS_BYTES)
        .map_err(|e| format!("awslogs.data: {e}"))
}

fn value(
    bytes: &[u8],
    line: u64,
    offset: u64,
    out: &mut Emitter<'_>,
    nested: bool,
) -> Result<(), Stop> {
    if bytes.first() == Some(&b'[') {
        return match serde_json::from_slice::<Vec<&RawValue>>(bytes) {
            Ok(items) => {
                for item in items {
                    value(item.get().as_bytes(), line, offset, out, nested)?;
                }
                Ok(())
            }
            Err(e) => out.reject(LOG_TYPE, Some(line), offset, bytes, json_error_reason(&e)),
        };
    }
    let obj = match JsonObject::parse(bytes) {
        Ok(obj) => obj,
        Err(reason) => return out.reject(LOG_TYPE, Some(line), offset, bytes, reason),
    };
    if !nested {
        if let Some(data) = obj.object("awslogs").and_then(|a| a.str("data")) {
            let unpacked = match unpack_awslogs(&data, out) {
                Ok(u) => u,
                Err(reason) => return out.reject(LOG_TYPE, Some(line), offset, bytes, reason),
            };
            let result = for_each_value(&mut &unpacked[..], |piece| match piece {
                Piece::Value { bytes, .. } => value(bytes, line, offset, out, true),
                Piece::Bad { bytes, reason, .. } => {
                    out.reject(LOG_TYPE, Some(line), offset, bytes, reason)
                }
            });
            return match result {
                Ok(()) => Ok(()),
                Err(ParseError::Stopped(stop)) => Err(stop),
                Err(ParseError::Io(e)) => out.reject(LOG_TYPE, Some(line), offset, bytes, e),
            };
        }
    }
    match obj.str("messageType").as_deref() {
        Some("CONTROL_MESSAGE") => {
            tracing::debug!(object = %out.source_object(), "CloudWatch Logs CONTROL_MESSAGE skipped");
            return Ok(());
        }
        Some("DATA_MESSAGE") => {}
        None if obj.has("logEvents") => {}
        _ => {
            return out.reject(
                LOG_TYPE,
                Some(line),
                offset,
                bytes,
                "not a CloudWatch Logs subscription message (no DATA_MESSAGE messageType)",
            );
        }
    }
    let origin = Origin {
        owner: obj.str("owner"),
        group: obj.str("logGroup"),
        stream: obj.str("logStream"),
    };
    let events: Vec<&RawValue> = match obj
        .raw("logEvents")
        .map(|raw| serde_json::from_str(raw.get()))
    {
        Some(Ok(events)) => events,
        Some(Err(e)) => {
            return out.reject(
                LOG_TYPE,
                Some(line),
                offset,
                bytes,
                format!("logEvents: {}", json_error_reason(&e)),
            );
        }
        None => {
            return out.reject(
                LOG_TYPE,
                Some(line),
                offset,
                bytes,
                "DATA_MESSAGE without logEvents",
            );
        }
    };
    for raw in events {
        let event = match serde_json::from_str::<LogEvent<'_>>(raw.get()) {
            Ok(e) => e,
            Err(e) => {
                out.reject(
                    LOG_TYPE,
                    Some(line),
                    offset,
                    raw.get().as_bytes(),
                    format!("log event: {}", json_error_reason(&e)),
                )?;
                continue;
            }
        };
        let Some(message) = event.message else {
            out.reject(
                LOG_TYPE,
                Some(line),
                offset,
                raw.get().as_bytes(),
                "log event without a message",
            )?;
            continue;
        };
        if message.as_str().len() > MAX_MESSAGE_BYTES {
            out.reject(
                LOG_TYPE,
                Some(line),
                offset,
                raw.get().as_bytes(),
                format!(
                    "log event message of {} bytes, over the {MAX_MESSAGE_BYTES}-byte limit of \
                     a CloudWatch Logs event",
                    message.as_str().len()
                ),
            )?;
            continue;
        }
        let record = record_from_message(
            message.as_str(),
            event.timestamp,
            event.id.as_ref().map(Text::as_str),
            &origin.as_ref(),
        );
        out.emit(message.as_str().as_bytes(), record)?;
    }
    Ok(())
}

#[derive(Debug, Default)]
pub struct CloudWatchParser;

impl Parser for CloudWatchParser {
    fn parse(
        &mut self,
        input: &mut dyn std::io::BufRead,
        out: &mut Emitter<'_>,
    ) -> Result<(), ParseError> {
        // Elements of a top-level array are values of their own, as `value` reads them.
        for_each_element(input, out, LOG_TYPE, |out, line, offset, bytes| {
            value(bytes, line, offset, out, false)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::Collect;
    use crate::record::time;
    use std::io::Write;

    fn parse(text: &str) -> Collect {
        crate::formats::parse_checked(&mut CloudWatchParser, "f", text)
    }

    fn envelope(events: &str) -> String {
        format!(
            r#"{{"messageType":"DATA_MESSAGE","owner":"111122223333","logGroup":"/aws/lambda/orders","logStream":"2026/11/20/[$LATEST]abc","subscriptionFilters":["all"],"logEvents":[{events}]}}"#
        )
    }

    #[test]
    fn messages_become_rows_of_their_own_format() {
        let trail = r#"{\"eventVersion\":\"1.11\",\"userIdentity\":{\"type\":\"Root\"},\"eventTime\":\"2026-11-20T10:00:20Z\",\"eventSource\":\"signin.amazonaws.com\",\"eventName\":\"ConsoleLogin\",\"awsRegion\":\"us-east-1\"}"#;
        let flow =
            "2 111122223333 eni-1 10.0.0.1 10.0.0.2 80 443 6 1 1 1763632800 1763632860 ACCEPT OK";
        let events = format!(
            r#"{{"id":"1","timestamp":1763632821000,"message":"2026-11-20T10:00:21.500Z\tREQ\tINFO\thello\n"}},{{"id":"2","timestamp":1763632822000,"message":"{trail}"}},{{"id":"3","timestamp":1763632823000,"message":"{flow}"}},{{"id":"4","timestamp":1763632824000,"message":"plain text"}}"#
        );
        let got = parse(&envelope(&events));
        assert!(got.rejects.is_empty(), "{:?}", got.rejects);
        let types: Vec<_> = got.records.iter().map(|r| r.log_type).collect();
        assert_eq!(
            types,
            vec![
                LogType::CloudWatch,
                LogType::CloudTrail,
                LogType::VpcFlow,
                LogType::CloudWatch
            ]
        );
        let lambda = &got.records[0];
        assert_eq!(
            lambda.get_str("Message"),
            Some("2026-11-20T10:00:21.500Z\tREQ\tINFO\thello")
        );
        assert_eq!(
            time::to_rfc3339(&lambda.time.unwrap()),
            "2026-11-20T10:00:21.500000Z"
        );
        assert!(matches!(lambda.get("ExtractedTime"), Some(Value::Time(_))));
        let extra = lambda.get_str("AdditionalFields").unwrap();
        assert!(extra.contains("\"logGroup\":\"/aws/lambda/orders\""));
        assert_eq!(got.records[1].get_str("EventName"), Some("ConsoleLogin"));
        let plain = &got.records[3];
        assert!(plain.get("ExtractedTime").is_none());
        assert_eq!(
            time::to_rfc3339(&plain.time.unwrap()),
            "2025-11-20T10:00:24Z"
        );
    }

    #[test]
    fn concatenated_pretty_envelopes_control_messages_and_awslogs() {
        let one = envelope(r#"{"id":"1","timestamp":1763632821000,"message":"a"}"#);
        let pretty =
            serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(&one).unwrap())
                .unwrap();
        let control = r#"{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1763632821000,"message":"CWL CONTROL MESSAGE: Checking health of destination Firehose."}]}"#;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(one.as_bytes()).unwrap();
        let data = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
        let lambda_event = format!(r#"{{"awslogs":{{"data":"{data}"}}}}"#);
        let text = format!("{pretty}\n{one}{one}\n{control}\n{lambda_event}\n");
        let got = parse(&text);
        assert!(got.rejects.is_empty(), "{:?}", got.rejects);
        assert_eq!(got.records.len(), 4);
    }

    #[test]
    fn broken_envelopes_and_events_are_rejected() {
        let text = format!(
            "{}\n{{\"hello\":1}}\n{}\n",
            envelope(r#"{"id":"1","timestamp":1},{"id":"2","timestamp":2,"message":"ok"}"#),
            &envelope("")[..40]
        );
        let got = parse(&text);
        assert_eq!(got.records.len(), 1);
        assert_eq!(got.rejects.len(), 3, "{:?}", got.rejects);
        assert!(got.rejects[0].reason.contains("without a message"));
        assert!(got.rejects[1].reason.contains("not a CloudWatch"));
        assert!(got.rejects[2].reason.contains("truncated"));
    }
}

//! CloudFront standard logs -> AWSCloudFront_CL (CloudFront has no built-in Sentinel table).
//!
//! Legacy logs are tab-separated with a `#Fields:` header naming the columns; standard
//! logging v2 can write one JSON object per line with the same field names. Both go through
//! one field-name mapping. The distribution id, absent from legacy lines, is taken from the
//! object name (`<distribution-id>.<YYYY-MM-DD-HH>.<unique>.gz`).

use std::borrow::Cow;
use std::io::BufRead;

use percent_encoding::percent_decode_str;

use super::fields::{
    Extras, JsonObject, clip, is_absent, is_blank, line_text, parse_time, raw_text,
};
use super::json_stream::{Item, split_values};
use super::lines::{LineReader, TOO_LONG};
use super::{Emitter, ParseError, Parser};
use crate::record::{LogType, Record, Value, time};

const LOG_TYPE: LogType = LogType::CloudFront;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Str,
    /// Percent-encoded text (the user agent), decoded.
    Encoded,
    Int,
    Long,
    Real,
    Date,
    TimeOfDay,
    /// Epoch seconds (v2 `timestamp`).
    Epoch,
    /// Epoch milliseconds (v2 `timestamp(ms)`).
    EpochMillis,
}

const FIELDS: &[(&str, &str, Kind)] = {
    use Kind::*;
    &[
        ("date", "", Date),
        ("time", "", TimeOfDay),
        ("timestamp", "", Epoch),
        ("timestamp(ms)", "", EpochMillis),
        ("x-edge-location", "EdgeLocation", Str),
        ("sc-bytes", "ScBytes", Long),
        ("c-ip", "ClientIp", Str),
        ("cs-method", "CsMethod", Str),
        ("cs(Host)", "CsHost", Str),
        ("cs-uri-stem", "CsUriStem", Str),
        ("sc-status", "ScStatus", Int),
        ("cs(Referer)", "CsReferer", Str),
        ("cs(User-Agent)", "CsUserAgent", Encoded),
        ("cs-uri-query", "CsUriQuery", Str),
        ("cs(Cookie)", "CsCookie", Str),
        ("x-edge-result-type", "EdgeResultType", Str),
        ("x-edge-request-id", "EdgeRequestId", Str),
        ("x-host-header", "HostHeader", Str),
        ("cs-protocol", "CsProtocol", Str),
        ("cs-bytes", "CsBytes", Long),
        ("time-taken", "TimeTaken", Real),
        ("x-forwarded-for", "ForwardedFor", Str),
        ("ssl-protocol", "SslProtocol", Str),
        ("ssl-cipher", "SslCipher", Str),
        ("x-edge-response-result-type", "EdgeResponseResultType", Str),
        ("cs-protocol-version", "CsProtocolVersion", Str),
        ("fle-status", "FleStatus", Str),
        ("fle-encrypted-fields", "FleEncryptedFields", Str),
        ("c-port", "ClientPort", Int),
        ("time-to-first-byte", "TimeToFirstByte", Real),
        ("x-edge-detailed-result-type", "EdgeDetailedResultType", Str),
        ("sc-content-type", "ScContentType", Str),
        ("sc-content-len", "ScContentLen", Long),
        ("sc-range-start", "ScRangeStart", Long),
        ("sc-range-end", "ScRangeEnd", Long),
        ("DistributionId", "DistributionId", Str),
        ("distribution-id", "DistributionId", Str),
    ]
};

/// The 33 fields of the current legacy layout, as a `#Fields` header names them; used when a
/// file has no such header.
const STANDARD_FIELDS: &str = "\
    date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status \
    cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id \
    x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher \
    x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port \
    time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len \
    sc-range-start sc-range-end";

fn lookup(name: &str) -> Option<(&'static str, Kind)> {
    FIELDS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, c, k)| (*c, *k))
}

/// Builds a row from (field name, value) pairs in either layout.
fn record_from_pairs<'v>(
    pairs: impl Iterator<Item = (&'v str, Cow<'v, str>)>,
    distribution: Option<&str>,
) -> Result<Record, String> {
    let mut r = Record::new(LOG_TYPE);
    let mut extras = Extras::new();
    let (mut date, mut tod, mut stamp) = (None, None, None);
    for (name, value) in pairs {
        if is_absent(&value) {
            continue;
        }
        let Some((column, kind)) = lookup(name) else {
            extras.str(name, &value);
            continue;
        };
        let bad = |what: &str| format!("{name} is not {what}: {}", clip(&value));
        match kind {
            Kind::Str => r.push(column, Value::Str(value.into_owned())),
            Kind::Encoded => {
                let decoded = percent_decode_str(&value).decode_utf8_lossy().into_owned();
                r.push(column, Value::Str(decoded))
            }
            Kind::Int => {
                let v: i64 = value.trim().parse().map_err(|_| bad("an integer"))?;
                if i32::try_from(v).is_ok() {
                    r.push(column, Value::Int(v));
                } else {
                    extras.int(column, v);
                }
            }
            Kind::Long => {
                let v: i64 = value.trim().parse().map_err(|_| bad("an integer"))?;
                r.push(column, Value::Int(v));
            }
            Kind::Real => {
                let v: f64 = value
                    .trim()
                    .parse()
                    .ok()
                    .filter(|f: &f64| f.is_finite())
                    .ok_or_else(|| bad("a number"))?;
                r.push(column, Value::Real(v));
            }
            Kind::Date => date = Some(value),
            Kind::TimeOfDay => tod = Some(value),
            Kind::Epoch => stamp = Some(parse_time(&value).ok_or_else(|| bad("epoch seconds"))?),
            Kind::EpochMillis => {
                let ms: i64 = value
                    .trim()
                    .parse()
                    .map_err(|_| bad("epoch milliseconds"))?;
                stamp = Some(time::from_epoch_millis(ms).ok_or_else(|| bad("a valid time"))?);
            }
        }
    }
    // A line whose date and time are unusable is still delivered with its object's time;
    // the text it had stays in AdditionalFields.
    r.time = match (date, tod) {
        (Some(d), Some(t)) => {
            let text = format!("{}T{}Z", d.trim(), t.trim());
            let parsed = time::parse_iso8601(&text);
            if parsed.is_none() {
                extras.str("date_time", &text);
            }
            parsed.or(stamp)
        }
        _ => stamp,
    };
    if r.get("DistributionId").is_none() {
        if let Some(d) = distribution {
            r.push("DistributionId", Value::Str(d.to_owned()));
        }
    }
    extras.finish(&mut r);
    Ok(r)
}

/// A v2 JSON log object as a row.
pub fn record_from_json(bytes: &[u8], distribution: Option<&str>) -> Result<Record, String> {
    let obj = JsonObject::parse(bytes)?;
    record_from_pairs(
        obj.members
            .iter()
            .map(|(k, v)| (k.as_ref(), raw_text(v).unwrap_or(Cow::Borrowed("-")))),
        distribution,
    )
}

/// The distribution id in a legacy log object name, `EMLARXS9EXAMPLE.2019-11-14-20.RT4K.gz`.
pub fn distribution_from_key(key: &str) -> Option<&str> {
    let name = key.rsplit('/').next()?;
    let mut parts = name.split('.');
    let id = parts.next()?;
    let hour = parts.next()?;
    let id_ok = (8..=20).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    let hour_ok = hour.len() == 13
        && hour.bytes().enumerate().all(|(i, b)| {
            if matches!(i, 4 | 7 | 10) {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    (id_ok && hour_ok && parts.next().is_some()).then_some(id)
}

#[derive(Debug, Default)]
pub struct CloudFrontParser {
    fields: Option<Vec<String>>,
}

impl CloudFrontParser {
    fn tsv_line(&self, text: &str, distribution: Option<&str>) -> Result<Record, String> {
        let values: Vec<&str> = text.split('\t').collect();
        let names: Vec<&str> = match &self.fields {
            Some(f) => f.iter().map(String::as_str).collect(),
            None => STANDARD_FIELDS.split(' ').collect(),
        };
        if values.len() != names.len() {
            return Err(format!(
                "{} tab-separated fields, but the {} names {}",
                values.len(),
                if self.fields.is_some() {
                    "#Fields header"
                } else {
                    "standard layout"
                },
                names.len()
            ));
        }
        record_from_pairs(
            names
                .iter()
                .zip(values)
                .map(|(n, v)| (*n, Cow::Borrowed(v))),
            distribution,
        )
    }
}

impl Parser for CloudFrontParser {
    fn parse(&mut self, input: &mut dyn BufRead, out: &mut Emitter<'_>) -> Result<(), ParseError> {
        let source = out.source_object().clone();
        let distribution = distribution_from_key(&source);
        let mut lines = LineReader::new(input);
        while let Some(line) = lines.next_line()? {
            if is_blank(line.bytes) {
                continue;
            }
            let text = line_text(line.bytes);
            let trimmed = text.trim_matches(|c: char| c.is_ascii_whitespace());
            if line.cut {
                out.reject_line(LOG_TYPE, &line, TOO_LONG)?;
                continue;
            }
            if let Some(directive) = trimmed.strip_prefix('#') {
                if let Some(names) = directive.trim_start().strip_prefix("Fields:") {
                    self.fields = Some(names.split_whitespace().map(str::to_owned).collect());
                }
                continue;
            }
            if trimmed.starts_with('{') {
                for item in split_values(line.bytes) {
                    let (offset, bytes, result) = match item {
                        Item::Value { offset, bytes } => {
                            (offset, bytes, record_from_json(bytes, distribution))
                        }
                        Item::Malformed {
                            offset,
                            bytes,
                            reason,
                        } => (offset, bytes, Err(reason.to_string())),
                    };
                    match result {
                        Ok(record) => out.emit(bytes, record)?,
                        Err(reason) => out.reject(
                            LOG_TYPE,
                            Some(line.number),
                            line.offset + offset,
                            bytes,
                            reason,
                        )?,
                    }
                }
                continue;
            }
            match self.tsv_line(text.trim_end_matches(['\r', '\n']), distribution) {
                Ok(record) => out.emit(line.bytes, record)?,
                Err(reason) => out.reject_line(LOG_TYPE, &line, reason)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::Collect;
    use crate::formats::{extras, time_text};

    fn parse(source: &str, text: &str) -> Collect {
        crate::formats::parse_checked(&mut CloudFrontParser::default(), source, text)
    }

    fn tsv_line(date: &str) -> String {
        [
            date,
            "10:00:06",
            "IAD89-C1",
            "5120",
            "198.51.100.30",
            "GET",
            "d111111abcdef8.cloudfront.net",
            "/index.html",
            "200",
            "-",
            "Mozilla/5.0%20(X11;%20Linux)",
            "a=1",
            "-",
            "Hit",
            "req-id==",
            "www.example.com",
            "https",
            "120",
            "0.004",
            "-",
            "TLSv1.3",
            "TLS_AES_128_GCM_SHA256",
            "Hit",
            "HTTP/2.0",
            "-",
            "-",
            "51000",
            "0.003",
            "Hit",
            "text/html",
            "4800",
            "-",
            "-",
        ]
        .join("\t")
    }

    #[test]
    fn legacy_tsv_with_header_and_key_distribution() {
        let text = format!(
            "#Version: 1.0\n#Fields: {STANDARD_FIELDS}\n{}\n{}\n",
            tsv_line("2026-11-20"),
            tsv_line("2026-11-21")
        );
        let got = parse("s3://logs/cf/E2EXAMPLE123.2026-11-20-10.abcd1234.gz", &text);
        assert!(got.rejects.is_empty(), "{:?}", got.rejects);
        assert_eq!(got.records.len(), 2);
        let r = &got.records[0];
        assert_eq!(time_text(r), "2026-11-20T10:00:06Z");
        assert_eq!(r.get_str("CsUserAgent"), Some("Mozilla/5.0 (X11; Linux)"));
        assert_eq!(r.get("ScStatus"), Some(&Value::Int(200)));
        assert_eq!(r.get("ScBytes"), Some(&Value::Int(5120)));
        assert_eq!(r.get("TimeTaken"), Some(&Value::Real(0.004)));
        assert_eq!(r.get_str("DistributionId"), Some("E2EXAMPLE123"));
        assert!(r.get("ScRangeStart").is_none());
    }

    #[test]
    fn fewer_fields_than_the_header_is_a_reject() {
        let line = tsv_line("2026-11-20");
        let short: Vec<&str> = line.split('\t').take(31).collect();
        let text = format!(
            "#Fields: {STANDARD_FIELDS}\n{}\n{}\n",
            tsv_line("2026-11-20"),
            short.join("\t")
        );
        let got = parse("f", &text);
        assert_eq!(got.counts(), (1, 1));
        assert!(got.rejects[0].reason.contains("31 tab-separated fields"));
        assert_eq!(got.rejects[0].line, Some(3));
    }

    #[test]
    fn a_custom_header_changes_the_layout() {
        let text = "#Fields: date time c-ip sc-status x-new-field\n2026-11-20\t10:00:00\t192.0.2.1\t404\tv\n";
        let got = parse("f", text);
        let r = &got.records[0];
        assert_eq!(r.get("ScStatus"), Some(&Value::Int(404)));
        assert!(extras(r).contains("x-new-field"));
    }

    #[test]
    fn v2_json_lines() {
        let text = r#"{"timestamp":"1763632806","DistributionId":"E3V2EXAMPLE","date":"2026-11-20","time":"10:00:06","x-edge-location":"IAD89-C1","sc-bytes":"5120","c-ip":"198.51.100.30","cs-method":"GET","sc-status":"200","cs(User-Agent)":"curl/8.4.0","time-taken":"0.004","c-port":"51000"}
{"date":"2026-11-20","time":"10:00:07","sc-status":"abc"}
"#;
        let got = parse("f", text);
        assert_eq!(got.counts(), (1, 1));
        let r = &got.records[0];
        assert_eq!(r.get_str("DistributionId"), Some("E3V2EXAMPLE"));
        assert_eq!(r.get("ClientPort"), Some(&Value::Int(51000)));
        assert!(got.rejects[0].reason.contains("sc-status"));
    }

    #[test]
    fn distribution_ids_from_keys() {
        assert_eq!(
            distribution_from_key("prefix/EMLARXS9EXAMPLE.2019-11-14-20.RT4KCN4SGK9.gz"),
            Some("EMLARXS9EXAMPLE")
        );
        assert_eq!(distribution_from_key("prefix/file.json.gz"), None);
    }
}

//! Labelled training data as JSON lines.
//!
//! One JSON object per line, with a `label` (`critical_security`, `system_error`,
//! `performance` or `normal`) and the record in one of three forms:
//!
//! - `raw`: the record as AWS delivers it, with its `log_type` (a `SourceLogType` name
//!   such as `CloudTrail`, `VPCFlow`, `ALB`, `WAF`, `Route53Resolver`, `Text`). JSON
//!   formats give the JSON value itself (a CloudTrail event object, a WAF log entry);
//!   line formats give the line as a string. VPC flow lines in a custom format add the
//!   file's `header` line. The record is parsed by the connector's own parser, exactly as
//!   in production.
//!   `{"log_type":"CloudTrail","label":"critical_security","raw":{"eventName":"StopLogging",...}}`
//! - `row`: a row as the connector sends it to Sentinel (the output of `s3-sentinel
//!   process`, or a query result exported from Sentinel); the log type comes from
//!   `log_type` or the row's `SourceLogType`.
//!   `{"label":"normal","row":{"SourceLogType":"VPCFlow","DstPort":443,...}}`
//! - `ref`: a reference to a record in a log object on disk: `object` (a path, relative to
//!   the JSON-lines file) and `ordinal` (the record's position, from 0) or `record_id` (its
//!   `RecordId`).
//!   `{"label":"performance","ref":{"object":"alb/2025-01-07.log.gz","ordinal":41}}`
//!
//! Other members (`scenario`, `note`, ...) are ignored. A line that cannot be used is
//! reported with its number and reason; the other lines still count.

use std::collections::HashMap;
use std::io::{BufRead, Cursor, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::formats::{self, Collect, Emitter, Format};
use crate::formats::{ObjectJob, parse_object};
use crate::ml::Category;
use crate::record::{ColumnType, LogType, Record, RecordId, Value, time};

#[derive(Debug, Serialize, Deserialize)]
struct Line<'a> {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    log_type: Option<String>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    raw: Option<&'a RawValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    header: Option<String>,
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    row: Option<&'a RawValue>,
    #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
    reference: Option<Reference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scenario: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Reference {
    object: String,
    #[serde(default)]
    ordinal: Option<u64>,
    #[serde(default)]
    record_id: Option<String>,
}

/// Labelled records read from JSON lines.
#[derive(Debug, Default)]
pub struct Labelled {
    pub records: Vec<Record>,
    pub labels: Vec<Category>,
    /// Lines that could not be used: (1-based line number, reason).
    pub rejected: Vec<(u64, String)>,
}

/// The parser family of a log type.
pub fn format_of(log_type: LogType) -> Format {
    match log_type {
        LogType::CloudTrail => Format::CloudTrail,
        LogType::VpcFlow | LogType::TransitGatewayFlow => Format::VpcFlow,
        LogType::Alb | LogType::AlbConnection | LogType::Nlb | LogType::ClassicElb => {
            Format::ElbAccess
        }
        LogType::CloudFront => Format::CloudFront,
        LogType::S3Access => Format::S3Access,
        LogType::Waf => Format::Waf,
        LogType::GuardDuty => Format::GuardDuty,
        LogType::SecurityHub => Format::SecurityHub,
        LogType::Route53Resolver => Format::Route53Resolver,
        LogType::NetworkFirewallAlert
        | LogType::NetworkFirewallFlow
        | LogType::NetworkFirewallTls => Format::NetworkFirewall,
        LogType::CloudWatch => Format::CloudWatch,
        LogType::GenericJson => Format::GenericJson,
        LogType::Text => Format::Text,
    }
}

/// Parses one raw record with its log type's parser; exactly one record must come out.
pub fn parse_raw(
    log_type: LogType,
    raw: &str,
    header: Option<&str>,
    source: &str,
) -> Result<Record, String> {
    let mut input = String::with_capacity(raw.len() + 1 + header.map_or(0, str::len));
    if let Some(h) = header {
        input.push_str(h);
        input.push('\n');
    }
    input.push_str(raw);
    input.push('\n');
    let mut sink = Collect::default();
    let mut emitter = Emitter::new(source, &mut sink);
    formats::parse_with(
        format_of(log_type),
        &mut Cursor::new(input.as_bytes()),
        &mut emitter,
    )
    .map_err(|e| format!("parsing failed: {e}"))?;
    if let Some(reject) = sink.rejects.first() {
        return Err(format!(
            "the {log_type} parser rejected it: {}",
            reject.reason
        ));
    }
    match sink.records.len() {
        1 => {
            let record = sink.records.pop().expect("one record");
            if record.log_type != log_type {
                return Err(format!("it parses as {}, not {log_type}", record.log_type));
            }
            Ok(record)
        }
        n => Err(format!(
            "expected one {log_type} record, the parser produced {n}"
        )),
    }
}

/// A Sentinel row back into a [`Record`] of its table's columns.
pub fn record_from_row(
    row: &serde_json::Map<String, serde_json::Value>,
    log_type: LogType,
) -> Result<Record, String> {
    let table = log_type.table();
    let mut record = Record::new(log_type);
    let time_text = row
        .get("EventTime")
        .or_else(|| row.get("TimeGenerated"))
        .and_then(|v| v.as_str());
    record.time = time_text.and_then(time::parse_any);
    if let Some(id) = row.get("RecordId").and_then(|v| v.as_str()) {
        record.id = RecordId::parse(id).unwrap_or_default();
    }
    // The pattern stage's columns feed the pattern slot of the features.
    const PATTERN_COLUMNS: &[(&str, ColumnType)] = &[
        ("PatternId", ColumnType::Str),
        ("PatternTemplate", ColumnType::Str),
        ("PatternFlags", ColumnType::Dynamic),
        ("SequenceScore", ColumnType::Real),
    ];
    for (name, column_type) in table.columns().iter().chain(PATTERN_COLUMNS) {
        if *name == "TimeGenerated" {
            continue;
        }
        let Some(v) = row.get(*name) else { continue };
        if v.is_null() {
            continue;
        }
        let value = match (column_type, v) {
            (ColumnType::Str, serde_json::Value::String(s)) => Value::Str(s.clone()),
            (ColumnType::Str, other) => Value::Str(other.to_string()),
            (ColumnType::Int | ColumnType::Long, v) => match v
                .as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            {
                Some(i) => Value::Int(i),
                None => return Err(format!("{name} is not an integer: {v}")),
            },
            (ColumnType::Real, v) => match v
                .as_f64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            {
                Some(f) => Value::Real(f),
                None => return Err(format!("{name} is not a number: {v}")),
            },
            (ColumnType::Bool, v) => match v
                .as_bool()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            {
                Some(b) => Value::Bool(b),
                None => return Err(format!("{name} is not a boolean: {v}")),
            },
            (ColumnType::DateTime, v) => match v.as_str().and_then(time::parse_any) {
                Some(t) => Value::Time(t),
                None => return Err(format!("{name} is not a time: {v}")),
            },
            (ColumnType::Dynamic, v) => {
                Value::Json(RawValue::from_string(v.to_string()).map_err(|e| e.to_string())?)
            }
        };
        record.push(name, value);
    }
    Ok(record)
}

/// Reads labelled JSON lines; `base` resolves `ref` objects.
pub fn read(reader: impl BufRead, base: &Path) -> std::io::Result<Labelled> {
    let mut out = Labelled::default();
    let mut objects: HashMap<PathBuf, Vec<Record>> = HashMap::new();
    for (i, line) in reader.lines().enumerate() {
        let line_no = i as u64 + 1;
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        match read_line(&line, base, &mut objects) {
            Ok((record, label)) => {
                out.records.push(record);
                out.labels.push(label);
            }
            Err(reason) => out.rejected.push((line_no, reason)),
        }
    }
    Ok(out)
}

fn read_line(
    text: &str,
    base: &Path,
    objects: &mut HashMap<PathBuf, Vec<Record>>,
) -> Result<(Record, Category), String> {
    let line: Line<'_> =
        serde_json::from_str(text).map_err(|e| format!("not a labelled record: {e}"))?;
    if line.label.is_none() && line.raw.is_none() && line.row.is_none() && line.reference.is_none()
    {
        return analyst_row(text);
    }
    let label = line.label.as_deref().unwrap_or_default();
    let label = Category::from_name(label).ok_or_else(|| {
        format!(
            "unknown label {label:?} (one of critical_security, system_error, performance, normal)"
        )
    })?;
    let log_type = match &line.log_type {
        Some(name) => {
            Some(LogType::from_name(name).ok_or_else(|| format!("unknown log_type {name:?}"))?)
        }
        None => None,
    };
    let record = if let Some(raw) = line.raw {
        let log_type = log_type.ok_or("a raw record needs its log_type")?;
        let text = match serde_json::from_str::<String>(raw.get()) {
            Ok(line_text) => line_text,
            Err(_) => raw.get().to_string(),
        };
        parse_raw(log_type, &text, line.header.as_deref(), "labelled")?
    } else if let Some(row) = line.row {
        let map: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(row.get()).map_err(|e| format!("row is not an object: {e}"))?;
        let log_type = match log_type {
            Some(t) => t,
            None => map
                .get("SourceLogType")
                .and_then(|v| v.as_str())
                .and_then(LogType::from_name)
                .ok_or("a row needs log_type or a SourceLogType column")?,
        };
        record_from_row(&map, log_type)?
    } else if let Some(reference) = line.reference {
        resolve(&reference, base, objects)?
    } else {
        return Err("no raw, row or ref member".to_string());
    };
    Ok((record, label))
}

/// Columns an analyst export may carry the verdict in, in the order they are looked for.
pub const VERDICT_COLUMNS: &[&str] = &["AnalystVerdict", "Verdict", "Classification", "label"];

/// The category an analyst's verdict on a row means; `model_category` is the row's
/// `LogCategory` as the connector sent it. Sentinel's incident classifications map as:
/// `TruePositive` confirms what the connector found (its non-normal category; a record it
/// called normal becomes `critical_security`), `FalsePositive` and `BenignPositive` are
/// `normal`; a category name is taken as is; `Undetermined` and blanks are not labels.
pub fn verdict_category(verdict: &str, model_category: Option<&str>) -> Result<Category, String> {
    let v = verdict.trim().to_ascii_lowercase().replace([' ', '-'], "_");
    if let Some(c) = Category::from_name(&v) {
        return Ok(c);
    }
    match v.as_str() {
        "truepositive" | "true_positive" | "tp" | "malicious" | "confirmed" | "incident" => {
            Ok(model_category
                .and_then(Category::from_name)
                .filter(|c| *c != Category::Normal)
                .unwrap_or(Category::CriticalSecurity))
        }
        "falsepositive" | "false_positive" | "fp" | "benignpositive" | "benign_positive"
        | "benign" | "expected" => Ok(Category::Normal),
        "error" | "outage" | "failure" | "systemerror" => Ok(Category::SystemError),
        "slow" | "latency" | "degraded" => Ok(Category::Performance),
        "" | "undetermined" | "unknown" => Err("verdict is undetermined: not a label".to_string()),
        _ => Err(format!(
            "unknown verdict {verdict:?} (TruePositive, FalsePositive, BenignPositive, or a category name)"
        )),
    }
}

/// A flat row exported from Sentinel (the record's columns, `SourceLogType`, and a
/// verdict column).
fn analyst_row(text: &str) -> Result<(Record, Category), String> {
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(text).map_err(|e| format!("row is not an object: {e}"))?;
    let verdict = VERDICT_COLUMNS
        .iter()
        .find_map(|c| map.get(*c).and_then(|v| v.as_str()))
        .ok_or_else(|| {
            format!(
                "no label: give label with raw/row/ref, or a verdict column ({})",
                VERDICT_COLUMNS.join(", ")
            )
        })?;
    let label = verdict_category(verdict, map.get("LogCategory").and_then(|v| v.as_str()))?;
    let log_type = map
        .get("SourceLogType")
        .and_then(|v| v.as_str())
        .and_then(LogType::from_name)
        .ok_or("an exported row needs its SourceLogType column")?;
    Ok((record_from_row(&map, log_type)?, label))
}

fn resolve(
    reference: &Reference,
    base: &Path,
    objects: &mut HashMap<PathBuf, Vec<Record>>,
) -> Result<Record, String> {
    let path = base.join(&reference.object);
    if !objects.contains_key(&path) {
        let file = std::fs::File::open(&path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        let key = path.to_string_lossy().to_string();
        let mut sink = Collect::default();
        parse_object(file, &ObjectJob::new(key.clone(), key), &mut sink)
            .map_err(|e| format!("cannot process {}: {e}", path.display()))?;
        objects.insert(path.clone(), sink.records);
    }
    let records = &objects[&path];
    let found = match (&reference.ordinal, &reference.record_id) {
        (Some(n), _) => records.iter().find(|r| r.ordinal == *n),
        (None, Some(id)) => {
            let id = RecordId::parse(id).ok_or_else(|| format!("{id:?} is not a record id"))?;
            records.iter().find(|r| r.id == id)
        }
        (None, None) => return Err("a ref needs ordinal or record_id".to_string()),
    };
    found
        .cloned()
        .ok_or_else(|| format!("{} has no such record", path.display()))
}

/// One labelled record in raw form (as the generator makes them).
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledRaw {
    /// The log type the raw text parses as.
    pub log_type: LogType,
    /// The category it is labelled with.
    pub label: Category,
    /// The record as AWS would deliver it.
    pub raw: Raw,
    /// For line formats whose field list comes from a header (VPC flow logs).
    pub header: Option<String>,
    /// The scenario that produced it (`benign/...`, `attack/...`, `ops/...`).
    pub scenario: &'static str,
    /// The event's time.
    pub time: DateTime<Utc>,
}

impl LabelledRaw {
    /// A record of a format that needs no header, with the label its scenario gives it.
    pub fn new(
        log_type: LogType,
        raw: Raw,
        time: DateTime<Utc>,
        label: Category,
        scenario: &'static str,
    ) -> Self {
        LabelledRaw {
            log_type,
            label,
            raw,
            header: None,
            scenario,
            time,
        }
    }
}

/// A record's source text.
#[derive(Debug, Clone, PartialEq)]
pub enum Raw {
    /// One JSON value (a CloudTrail event, a WAF log entry, ...).
    Json(String),
    /// One line of a line-oriented format.
    Line(String),
}

impl Raw {
    /// The text, whichever kind.
    pub fn text(&self) -> &str {
        match self {
            Raw::Json(s) | Raw::Line(s) => s,
        }
    }
}

/// Writes generated records in the `raw` form.
pub fn write_generated(items: &[LabelledRaw], mut out: impl Write) -> std::io::Result<()> {
    for item in items {
        let raw_json = match &item.raw {
            Raw::Json(text) => text.clone(),
            Raw::Line(line) => serde_json::to_string(line).expect("string serializes"),
        };
        let raw = RawValue::from_string(raw_json).map_err(std::io::Error::other)?;
        let line = Line {
            label: Some(item.label.name().to_string()),
            log_type: Some(item.log_type.name().to_string()),
            raw: Some(&raw),
            header: item.header.clone(),
            row: None,
            reference: None,
            scenario: Some(item.scenario.to_string()),
        };
        serde_json::to_writer(&mut out, &line)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLOUDTRAIL: &str = r#"{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","principalId":"AIDAX","arn":"arn:aws:iam::111122223333:user/bob","accountId":"111122223333","accessKeyId":"AKIAEXAMPLEEXAMPLE12","userName":"bob"},"eventTime":"2025-02-03T14:12:00Z","eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.7","userAgent":"aws-cli/2","requestParameters":{"name":"t"},"responseElements":null,"requestID":"r","eventID":"e","readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management"}"#;

    #[test]
    fn analyst_exports_map_verdicts_to_categories() {
        assert_eq!(
            verdict_category("TruePositive", Some("normal")),
            Ok(Category::CriticalSecurity)
        );
        assert_eq!(
            verdict_category("TruePositive", Some("system_error")),
            Ok(Category::SystemError)
        );
        assert_eq!(
            verdict_category("False Positive", Some("critical_security")),
            Ok(Category::Normal)
        );
        assert_eq!(
            verdict_category("BenignPositive", None),
            Ok(Category::Normal)
        );
        assert_eq!(
            verdict_category("performance", None),
            Ok(Category::Performance)
        );
        assert!(verdict_category("Undetermined", None).is_err());
        assert!(verdict_category("maybe", None).is_err());

        // Rows as `| project ..., AnalystVerdict` exports them, one JSON object a line.
        let export = concat!(
            r#"{"TimeGenerated":"2025-02-03T14:12:00Z","SourceLogType":"CloudTrail","EventName":"StopLogging","EventSource":"cloudtrail.amazonaws.com","UserIdentityType":"IAMUser","SourceIpAddress":"198.51.100.7","LogCategory":"critical_security","AnalystVerdict":"TruePositive"}"#,
            "\n",
            r#"{"SourceLogType":"CloudTrail","EventName":"DescribeInstances","EventSource":"ec2.amazonaws.com","LogCategory":"critical_security","AnalystVerdict":"FalsePositive"}"#,
            "\n",
            r#"{"SourceLogType":"CloudTrail","EventName":"GetObject","AnalystVerdict":"Undetermined"}"#,
            "\n",
            r#"{"SourceLogType":"CloudTrail","EventName":"GetObject"}"#,
            "\n",
        );
        let read = read(export.as_bytes(), Path::new(".")).unwrap();
        assert_eq!(
            read.labels,
            vec![Category::CriticalSecurity, Category::Normal]
        );
        assert_eq!(read.records[0].get_str("EventName"), Some("StopLogging"));
        assert_eq!(read.rejected.len(), 2);
        assert!(read.rejected[0].1.contains("undetermined"));
        assert!(read.rejected[1].1.contains("verdict column"));
    }

    #[test]
    fn reads_raw_row_and_ref_forms_and_reports_bad_lines() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("trail.json"),
            format!("{{\"Records\":[{CLOUDTRAIL},{CLOUDTRAIL}]}}"),
        )
        .unwrap();
        let flow_header = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status";
        let lines = [
            format!(r#"{{"label":"critical_security","log_type":"CloudTrail","raw":{CLOUDTRAIL}}}"#),
            format!(
                r#"{{"label":"normal","log_type":"VPCFlow","header":"{flow_header}","raw":"2 111122223333 eni-1 10.0.1.5 10.0.2.9 443 49152 6 10 840 1736150400 1736150460 ACCEPT OK"}}"#
            ),
            r#"{"label":"system_error","row":{"SourceLogType":"ALB","ElbStatusCode":502,"TimeGenerated":"2025-01-07T10:00:00Z","PatternFlags":["new"],"AnomalyScore":0.5}}"#.to_string(),
            r#"{"label":"performance","ref":{"object":"trail.json","ordinal":1}}"#.to_string(),
            r#"{"label":"sideways","row":{"SourceLogType":"ALB"}}"#.to_string(),
            r#"{"label":"normal","log_type":"CloudTrail","raw":{"not":"an event"}}"#.to_string(),
            "not json".to_string(),
            r#"{"label":"normal","ref":{"object":"missing.json","ordinal":0}}"#.to_string(),
            String::new(),
        ];
        let read = read(lines.join("\n").as_bytes(), dir.path()).unwrap();
        assert_eq!(read.records.len(), 4, "{:?}", read.rejected);
        assert_eq!(
            read.labels,
            vec![
                Category::CriticalSecurity,
                Category::Normal,
                Category::SystemError,
                Category::Performance
            ]
        );
        assert_eq!(read.records[0].get_str("EventName"), Some("StopLogging"));
        assert_eq!(read.records[1].log_type, LogType::VpcFlow);
        assert_eq!(
            read.records[1].get("DstPort").and_then(|v| v.as_i64()),
            Some(49152)
        );
        let alb = &read.records[2];
        assert_eq!(alb.log_type, LogType::Alb);
        assert_eq!(alb.get("ElbStatusCode").and_then(|v| v.as_i64()), Some(502));
        assert!(
            alb.get("PatternFlags").is_some(),
            "pattern columns are kept"
        );
        assert!(
            alb.get("AnomalyScore").is_none(),
            "enrichment columns are not inputs"
        );
        assert!(alb.time.is_some());
        assert_eq!(read.records[3].ordinal, 1);
        let rejected: Vec<u64> = read.rejected.iter().map(|(n, _)| *n).collect();
        assert_eq!(rejected, vec![5, 6, 7, 8]);
        assert!(read.rejected[0].1.contains("unknown label"));
    }

    #[test]
    fn generated_records_round_trip_through_json_lines() {
        let items = crate::training::synth::generate(&crate::training::synth::SynthConfig {
            scale: 0.01,
            ..Default::default()
        });
        let mut out = Vec::new();
        write_generated(&items, &mut out).unwrap();
        let read = read(out.as_slice(), Path::new(".")).unwrap();
        assert!(
            read.rejected.is_empty(),
            "{:?}",
            &read.rejected[..read.rejected.len().min(3)]
        );
        assert_eq!(read.records.len(), items.len());
        for (item, (record, label)) in items.iter().zip(read.records.iter().zip(&read.labels)) {
            assert_eq!(item.label, *label);
            assert_eq!(item.log_type, record.log_type);
        }
    }
}

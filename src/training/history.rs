//! A deployment's own history as training rows for the anomaly model.
//!
//! What is rare depends on the deployment: one account's routine (its services, its
//! principals' habits, its log volumes) is another's anomaly, and no generator knows it.
//! So `train --history` reads the deployment's own traffic, unlabelled, and the anomaly
//! model learns the log families it has enough of from it ([`super::train::train_with_history`]).
//!
//! History comes as the connector delivered it (rows: `s3-sentinel process` output or a
//! query exported from Sentinel, one JSON object with `SourceLogType` per line) or as the
//! log objects themselves (any format the connector reads, compressed or not). Records
//! that did not go through the pattern stage or the behaviour history get them by replay,
//! in time order, as the function would have met them. Records the detection rules
//! judge high or above, or that are part of a credential, discovery or denied burst, and
//! records their source reports as errors, are left out: known-bad traffic and failures
//! are not the deployment's normal (the labelled data's normal rows hold neither).

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use super::knowledge;
use super::labelled::record_from_row;
use super::replay::{analyze_missing, behaviour_missing};
use super::train::Dataset;
use crate::detection::RulePack;
use crate::features::{Extractor, F};
use crate::formats::{Collect, ObjectJob, parse_object};
use crate::ml::{Category, knowledge as slots};
use crate::patterns::AnalyzerConfig;
use crate::record::{LogType, Record, columns};

/// Records read from one history file.
#[derive(Debug, Default)]
pub struct HistoryFile {
    /// The records, in file order.
    pub records: Vec<Record>,
    /// Lines or records that could not be used.
    pub rejected: usize,
}

/// Reads one history file: delivered rows (JSON lines whose first object has a
/// `SourceLogType`) or a log object, detected by content.
pub fn read_file(path: &Path) -> Result<HistoryFile, String> {
    let open =
        || std::fs::File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()));
    let mut head = Vec::new();
    BufReader::new(open()?.take(64 * 1024))
        .read_until(b'\n', &mut head)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if is_row(&head) {
        return Ok(read_rows(BufReader::new(open()?)));
    }
    let key = path.to_string_lossy().to_string();
    let mut sink = Collect::default();
    parse_object(open()?, &ObjectJob::new(key.clone(), key), &mut sink)
        .map_err(|e| format!("cannot process {}: {e}", path.display()))?;
    Ok(HistoryFile {
        records: sink.records,
        rejected: sink.rejects.len(),
    })
}

fn is_row(line: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(line)
        .is_ok_and(|m| m.contains_key(columns::SOURCE_LOG_TYPE))
}

/// Delivered rows, one JSON object per line.
pub fn read_rows(input: impl BufRead) -> HistoryFile {
    let mut out = HistoryFile::default();
    for line in input.lines() {
        let Ok(line) = line else {
            out.rejected += 1;
            continue;
        };
        if line.trim().is_empty() {
            continue;
        }
        let record = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&line)
            .map_err(|e| e.to_string())
            .and_then(|row| {
                let log_type = row
                    .get(columns::SOURCE_LOG_TYPE)
                    .and_then(|v| v.as_str())
                    .and_then(LogType::from_name)
                    .ok_or("no SourceLogType")?;
                record_from_row(&row, log_type)
            });
        match record {
            Ok(r) => out.records.push(r),
            Err(_) => out.rejected += 1,
        }
    }
    out
}

/// History turned into anomaly training rows.
#[derive(Debug, Default)]
pub struct HistoryRows {
    /// One row per record kept, labelled normal.
    pub dataset: Dataset,
    /// Records left out as known-bad (rules high or above, bursts).
    pub left_out: usize,
}

/// Replays what `records` miss of the pattern stage and the behaviour history, extracts
/// their features with `rules` filling the knowledge slots, and keeps the rows nothing
/// known marks as bad.
pub fn rows(mut records: Vec<Record>, rules: &RulePack) -> HistoryRows {
    analyze_missing(&mut records, AnalyzerConfig::default());
    behaviour_missing(&mut records);
    let extractor = Extractor::new();
    let mut out = HistoryRows::default();
    for record in &records {
        let mut row = extractor.extract(record);
        slots::fill(&mut row, record, rules);
        let known_bad = knowledge::label(Category::Normal, &row, record) != Some(Category::Normal);
        if known_bad || reports_an_error(&row) {
            out.left_out += 1;
        } else {
            out.dataset
                .push_typed(record.log_type, &row, Category::Normal);
        }
    }
    out
}

/// Whether the source itself reports the record as an error or worse (its severity, a
/// server error, an error or fatal level). Such records are not routine even when they are
/// frequent, as the labelled data's normal rows hold none: an error storm in the history
/// window would otherwise teach the model that the storm is normal.
fn reports_an_error(row: &[f32]) -> bool {
    [F::Severity, F::ServerError, F::TextError, F::TextFatal]
        .iter()
        .any(|f| row[*f as usize] >= 0.5)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::training::labelled::parse_raw;

    fn cloudtrail(name: &str, minute: u32) -> String {
        serde_json::json!({
            "eventVersion": "1.09",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/ops",
                             "accountId": "111122223333", "userName": "ops"},
            "eventTime": format!("2026-01-05T10:{minute:02}:00Z"),
            "eventSource": "ec2.amazonaws.com",
            "eventName": name,
            "awsRegion": "eu-west-1",
            "sourceIPAddress": "198.51.100.7",
            "userAgent": "aws-cli/2.15.30",
            "readOnly": name.starts_with("Describe"),
            "eventType": "AwsApiCall",
            "eventID": format!("id-{name}-{minute}"),
        })
        .to_string()
    }

    #[test]
    fn rows_files_and_log_objects_both_read_and_known_bad_is_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let events: Vec<String> = (0..30)
            .map(|m| cloudtrail("DescribeInstances", m))
            .chain([cloudtrail("StopLogging", 31).replace("ec2.", "cloudtrail.")])
            .collect();
        let object = dir.path().join("trail.json");
        std::fs::write(&object, format!("{{\"Records\":[{}]}}", events.join(","))).unwrap();
        let read = read_file(&object).unwrap();
        assert_eq!((read.records.len(), read.rejected), (31, 0));
        assert!(
            read.records
                .iter()
                .all(|r| r.log_type == LogType::CloudTrail)
        );

        let mut delivered = parse_raw(LogType::CloudTrail, &events[0], None, "t").unwrap();
        delivered.push(columns::SOURCE_LOG_TYPE, "CloudTrail");
        let rows_file = dir.path().join("rows.ndjson");
        std::fs::write(&rows_file, format!("{}\nnot json\n", delivered.to_json())).unwrap();
        let rows_read = read_file(&rows_file).unwrap();
        assert_eq!((rows_read.records.len(), rows_read.rejected), (1, 1));

        let history = rows(read.records, &RulePack::embedded());
        assert_eq!(history.left_out, 1, "StopLogging matches a high rule");
        assert_eq!(history.dataset.len(), 30);
        assert!(history.dataset.has_log_types());
    }
}

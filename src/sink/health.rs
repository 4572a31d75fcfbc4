//! Alerts about the connector itself, for the alert table (`S3SentinelAlerts_CL`): rows
//! Sentinel refused and the dead letter now holds, and state documents that could not be
//! used and were set aside. Sentinel's connector health rule
//! (`docs/sentinel/analytics/S3Sentinel-ConnectorHealthAlerts.yaml`) matches them by the
//! `AlertName` prefixes [`DEAD_LETTER_ALERT_PREFIX`] and [`STATE_ALERT_PREFIX`].

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::Row;
use super::sentinel::FailedRow;
use crate::record::alert::{ConnectorAlert, DEAD_LETTER_ALERT_PREFIX, STATE_ALERT_PREFIX};
use crate::record::{LogType, RecordId, Table};
use crate::state::Damage;

/// Longest refusal text repeated in an alert.
const MAX_REASON_CHARS: usize = 1000;

/// One alert per (table, stream, failure kind) among `failed`, which were written to the
/// dead letter at `location` (`files`). Ids derive from the object and the first refused
/// row, so a re-delivered object raises the same alerts.
pub fn dead_letter_alerts(
    source_object: &str,
    failed: &[FailedRow],
    location: &str,
    files: &[String],
    now: DateTime<Utc>,
) -> Vec<Row> {
    let mut groups: BTreeMap<(Table, &str, &str), Vec<&FailedRow>> = BTreeMap::new();
    for f in failed {
        groups
            .entry((f.row.table, f.stream.as_str(), f.reason.kind()))
            .or_default()
            .push(f);
    }
    groups
        .into_iter()
        .map(|((table, stream, kind), rows)| {
            let first = rows[0];
            let mut reason = first.reason.to_string();
            if reason.chars().count() > MAX_REASON_CHARS {
                reason = reason.chars().take(MAX_REASON_CHARS).collect::<String>() + "…";
            }
            let mut seed =
                format!("dead-letter:{source_object}:{table}:{stream}:{kind}:").into_bytes();
            first.row.record_id.write_to(&mut seed);
            let id = RecordId(xxhash_rust::xxh3::xxh3_128(&seed));
            ConnectorAlert {
                id,
                time: now,
                name: format!(
                    "{DEAD_LETTER_ALERT_PREFIX}: {} rows of {table} refused ({kind})",
                    rows.len()
                ),
                severity: "High",
                description: format!(
                    "{} rows from {source_object} for stream {stream} were not accepted and \
                     are in the dead letter {location} ({}). Fix the cause, then run \
                     `s3-sentinel replay {location}`. First refusal: {reason}",
                    rows.len(),
                    files.join(", ")
                ),
                trigger: "dead_letter",
                source_table: table,
                summary: format!("{} rows, stream {stream}, {kind}", rows.len()),
                source_record_id: Some(first.row.record_id),
                log_type: first.row.log_type,
                source_object,
                ordinal: first.row.ordinal,
            }
            .into_row()
        })
        .collect()
}

/// One alert per damaged state document of the store at `location`. Ids derive from the
/// key and the reason, so functions that trip over the same document raise one alert at
/// query time.
pub fn damaged_state_alerts(damage: &[Damage], location: &str, now: DateTime<Utc>) -> Vec<Row> {
    damage
        .iter()
        .map(|d| {
            let id = RecordId(xxhash_rust::xxh3::xxh3_128(
                format!("damaged-state:{location}:{}:{}", d.key, d.reason).as_bytes(),
            ));
            let mut reason = d.reason.clone();
            if reason.chars().count() > MAX_REASON_CHARS {
                reason = reason.chars().take(MAX_REASON_CHARS).collect::<String>() + "…";
            }
            let kept = match &d.set_aside_as {
                Some(to) => format!("it was moved to {to} in the same prefix"),
                None => "it could not be moved and was deleted".to_string(),
            };
            ConnectorAlert {
                id,
                time: now,
                name: format!("{STATE_ALERT_PREFIX}: {}", d.key),
                severity: "Medium",
                description: format!(
                    "The connector could not use its state document {} in {location} and \
                     started that part of its state afresh; {kept}. Ingestion goes on. \
                     Reason: {reason}. A document no function wrote means someone else can \
                     write the state bucket.",
                    d.key
                ),
                trigger: "damaged_state",
                source_table: Table::S3SentinelAlerts,
                summary: format!("{}: {reason}", d.key),
                source_record_id: None,
                log_type: LogType::Text,
                source_object: location,
                ordinal: 0,
            }
            .into_row()
        })
        .collect()
}

#[cfg(all(test, feature = "tools"))]
mod tests {
    use super::*;
    use crate::azure::StreamDeclaration;
    use crate::azure::schema::UnknownColumns;
    use crate::record::{LogType, Record, time};
    use crate::sink::sentinel::FailureReason;

    #[test]
    fn one_alert_per_table_stream_and_kind_with_declared_columns() {
        let failed: Vec<FailedRow> = (0..3)
            .map(|i| {
                let mut r = Record::new(LogType::CloudTrail);
                r.id = RecordId(i);
                r.source_object = "s3://logs/a.json.gz".into();
                FailedRow {
                    row: Row::from_record(&r),
                    stream: "Custom-Wrong".into(),
                    reason: if i < 2 {
                        FailureReason::Rejected {
                            status: 400,
                            body: "Column 'EventName' is not declared".into(),
                        }
                    } else {
                        FailureReason::Deadline
                    },
                }
            })
            .collect();
        let now = time::parse_iso8601("2026-11-20T10:00:00Z").unwrap();
        let alerts = dead_letter_alerts(
            "s3://logs/a.json.gz",
            &failed,
            "s3://dl/dead-letter/",
            &["x.ndjson.gz".to_string()],
            now,
        );
        assert_eq!(alerts.len(), 2);
        let declaration = StreamDeclaration::for_table(Table::S3SentinelAlerts);
        for a in &alerts {
            let v: serde_json::Value = serde_json::from_str(&a.json).unwrap();
            declaration
                .check_row(v.as_object().unwrap(), UnknownColumns::Reject)
                .unwrap();
            assert!(
                v["AlertName"]
                    .as_str()
                    .unwrap()
                    .starts_with(DEAD_LETTER_ALERT_PREFIX)
            );
        }
        let v: serde_json::Value = serde_json::from_str(&alerts[1].json).unwrap();
        assert_eq!(
            v["AlertName"],
            "Dead-lettered rows: 2 rows of AWSCloudTrail refused (rejected)"
        );
        // Deterministic ids: the same input gives the same alerts.
        let again = dead_letter_alerts(
            "s3://logs/a.json.gz",
            &failed,
            "s3://dl/dead-letter/",
            &[],
            now,
        );
        assert_eq!(again[0].record_id, alerts[0].record_id);
    }
}

//! Alert records for the alert stream (`Custom-S3SentinelAlerts`, table
//! `S3SentinelAlerts_CL`): one per record that is an anomaly (`IsAnomaly`) or whose
//! `PriorityScore` reaches `priority_threshold`.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::priority::Priority;
use crate::record::json::ObjectWriter;
use crate::record::{LogType, Record, RecordId, Table, Value, prefix_within};

/// Why an alert was raised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// `IsAnomaly`: the anomaly score reached the log type's threshold.
    Anomaly,
    /// The priority score reached `priority_threshold`.
    Priority,
    /// Both of the above.
    Both,
}

impl Trigger {
    /// The `AlertTrigger` column's value.
    pub fn name(self) -> &'static str {
        match self {
            Trigger::Anomaly => "anomaly",
            Trigger::Priority => "priority",
            Trigger::Both => "anomaly+priority",
        }
    }
}

/// The enrichment results an alert repeats.
#[derive(Debug, Clone, Copy)]
pub struct ScoredRecord<'a> {
    pub anomaly_score: f64,
    pub priority_score: f64,
    pub category: &'static str,
    /// JSON array text of `AnomalyReasons`.
    pub reasons_json: &'a str,
    pub model_version: &'a str,
}

/// One `S3SentinelAlerts_CL` row raised by an enriched record.
#[derive(Debug, Clone)]
pub struct Alert {
    /// When the alert was raised.
    pub time: DateTime<Utc>,
    /// `AlertName`: what kind of activity, and its summary.
    pub name: String,
    /// `AlertSeverity`.
    pub severity: Priority,
    /// `Description`: scores, category and the reasons behind them.
    pub description: String,
    /// What raised it.
    pub trigger: Trigger,
    /// The record that raised it.
    pub source_record_id: RecordId,
    /// The table that record went to.
    pub source_table: Table,
    /// That record's log type.
    pub source_log_type: LogType,
    /// The object that record came from.
    pub source_object: Arc<str>,
    /// Position of the source record in its object (checkpoints count alerts with it).
    pub source_ordinal: u64,
    /// The record's own time, when it has one.
    pub event_time: Option<DateTime<Utc>>,
    /// The record's `AnomalyScore`.
    pub anomaly_score: f64,
    /// The record's `PriorityScore`.
    pub priority_score: f64,
    /// The record's `LogCategory`.
    pub category: &'static str,
    /// JSON array text, as in the source record's `AnomalyReasons`.
    pub reasons: String,
    /// The model set that scored the record.
    pub model_version: String,
    /// A one-line summary of the record (who did what to what).
    pub summary: String,
}

impl Alert {
    /// Builds the alert for an enriched record.
    pub fn for_record(record: &Record, trigger: Trigger, scored: &ScoredRecord<'_>) -> Alert {
        let ScoredRecord {
            anomaly_score,
            priority_score,
            category,
            reasons_json,
            model_version,
        } = *scored;
        let summary = super::reasons::summary(record);
        let severity = match trigger {
            // An anomaly alone is at least worth a look the same day.
            Trigger::Anomaly => Priority::from_score(priority_score).max(Priority::Medium),
            _ => Priority::from_score(priority_score),
        };
        let what = match trigger {
            Trigger::Anomaly => "Anomalous",
            Trigger::Priority | Trigger::Both => match category {
                "critical_security" => "Critical security",
                "system_error" => "System error",
                "performance" => "Performance",
                _ => "High-priority",
            },
        };
        let name = format!("{what} {} activity: {summary}", record.log_type.name());
        let reasons: Vec<String> = serde_json::from_str(reasons_json).unwrap_or_default();
        let description = format!(
            "{summary}. Anomaly score {anomaly_score:.4}, priority score {priority_score:.4} ({}), category {category}. Why: {}.",
            Priority::from_score(priority_score),
            if reasons.is_empty() {
                "no single feature stands out".to_string()
            } else {
                reasons.join("; ")
            }
        );
        Alert {
            time: record.time.unwrap_or_else(Utc::now),
            name: prefix_within(&name, 256).to_string(),
            severity,
            description,
            trigger,
            source_record_id: record.id,
            source_table: record.table(),
            source_log_type: record.log_type,
            source_object: record.source_object.clone(),
            source_ordinal: record.ordinal,
            event_time: record.time,
            anomaly_score,
            priority_score,
            category,
            reasons: reasons_json.to_string(),
            model_version: model_version.to_string(),
            summary,
        }
    }

    /// The alert's own id: derived from the source record's, so a re-delivered object
    /// yields the same alert ids.
    pub fn id(&self) -> RecordId {
        let mut buf = Vec::with_capacity(24);
        buf.extend_from_slice(b"alert:");
        buf.extend_from_slice(&self.source_record_id.0.to_le_bytes());
        RecordId(xxhash_rust::xxh3::xxh3_128(&buf))
    }

    /// The row sent to the alert stream.
    /// The alert row as JSON text.
    pub fn to_json(&self) -> String {
        let mut out = Vec::with_capacity(1024);
        self.write_json(&mut out);
        String::from_utf8(out).expect("alert JSON is UTF-8")
    }

    /// Appends the alert row as JSON to `out`.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        let mut row = ObjectWriter::new(out);
        row.time("TimeGenerated", &self.time);
        row.str("AlertName", &self.name);
        row.str("AlertSeverity", self.severity.name());
        row.str("Description", &self.description);
        row.str("AlertTrigger", self.trigger.name());
        row.id("SourceRecordId", self.source_record_id);
        row.str("SourceTable", self.source_table.name());
        row.str("SourceSummary", &self.summary);
        row.str("SourceLogType", self.source_log_type.name());
        row.str("SourceObject", &self.source_object);
        if let Some(t) = self.event_time {
            row.time("EventTime", &t);
        }
        row.value("AnomalyScore", &Value::Real(self.anomaly_score));
        row.value("PriorityScore", &Value::Real(self.priority_score));
        let priority = Priority::from_score(self.priority_score);
        row.str("Priority", priority.name());
        row.str("LogCategory", self.category);
        row.raw("AnomalyReasons", &self.reasons);
        row.str("ModelVersion", &self.model_version);
        row.id("RecordId", self.id());
        row.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::tables::CONNECTOR_COLUMNS;
    use crate::record::time;

    #[test]
    fn alert_rows_use_only_declared_columns() {
        let mut r = Record::new(LogType::CloudTrail);
        r.time = time::parse_iso8601("2024-07-31T13:06:24Z");
        r.id = RecordId(42);
        r.source_object = "s3://logs/AWSLogs/x.json.gz".into();
        r.push("EventName", "StopLogging");
        r.push("EventSource", "cloudtrail.amazonaws.com");
        r.push("UserIdentityType", "IAMUser");
        r.push("UserIdentityUserName", "bob");
        let alert = Alert::for_record(
            &r,
            Trigger::Both,
            &ScoredRecord {
                anomaly_score: 0.97,
                priority_score: 0.91,
                category: "critical_security",
                reasons_json: r#"["StopLogging turns off logging","made by IAMUser bob"]"#,
                model_version: "default-1",
            },
        );
        let v: serde_json::Value = serde_json::from_str(&alert.to_json()).unwrap();
        let table = Table::S3SentinelAlerts;
        for (name, _) in v.as_object().unwrap() {
            assert!(
                table.column_type(name).is_some(),
                "{name} is neither an alert table column nor a connector column"
            );
        }
        assert_eq!(v["AlertSeverity"], "Critical");
        assert_eq!(v["SourceTable"], "AWSCloudTrail");
        assert_eq!(v["AnomalyReasons"][1], "made by IAMUser bob");
        assert_eq!(v["SourceRecordId"], "00000000-0000-0000-0000-00000000002a");
        assert_ne!(v["RecordId"], v["SourceRecordId"]);
        assert!(
            v["Description"]
                .as_str()
                .unwrap()
                .contains("Why: StopLogging")
        );
        assert_eq!(
            v["SourceSummary"],
            "StopLogging on cloudtrail.amazonaws.com by IAMUser bob"
        );
        assert!(
            CONNECTOR_COLUMNS
                .iter()
                .any(|(n, _)| *n == "AnomalyReasons")
        );
        assert_eq!(
            Table::S3SentinelAlerts.default_stream(),
            "Custom-S3SentinelAlerts"
        );
    }
}

//! Rows about the connector itself for the alert table (`S3SentinelAlerts_CL`):
//! dead-lettered rows (`sink::health`) and model drift (`enrich::models`). Sentinel's
//! connector health rule matches them by their `AlertName` prefix.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{LogType, RecordId, Row, Table, time};

/// `AlertName` prefix of the connector's health alerts about dead-lettered rows
/// (`sink::health`). Sentinel's connector health rule matches it.
pub const DEAD_LETTER_ALERT_PREFIX: &str = "Dead-lettered rows";
/// `AlertName` prefix of model drift alerts (`enrich::service`: a log type's merged drift
/// window beyond the PSI alarm level); the connector health rule matches it.
pub const DRIFT_ALERT_PREFIX: &str = "Model drift";
/// `AlertName` prefix of the alerts about a state document that could not be used and was
/// set aside (`sink::health`); the connector health rule matches it.
pub const STATE_ALERT_PREFIX: &str = "Damaged state";

/// An alert about the connector itself rather than about one record (dead-lettered rows,
/// model drift), as an `S3SentinelAlerts_CL` row.
pub struct ConnectorAlert<'a> {
    pub id: RecordId,
    pub time: DateTime<Utc>,
    pub name: String,
    pub severity: &'static str,
    pub description: String,
    pub trigger: &'static str,
    pub source_table: Table,
    pub summary: String,
    /// The first record concerned, when there is one.
    pub source_record_id: Option<RecordId>,
    pub log_type: LogType,
    pub source_object: &'a str,
    pub ordinal: u64,
}

impl ConnectorAlert<'_> {
    pub fn into_row(self) -> Row {
        let mut row = serde_json::json!({
            "TimeGenerated": time::to_rfc3339(&self.time),
            "AlertName": self.name,
            "AlertSeverity": self.severity,
            "Description": self.description,
            "AlertTrigger": self.trigger,
            "SourceTable": self.source_table.name(),
            "SourceSummary": self.summary,
            "SourceLogType": self.log_type.name(),
            "SourceObject": self.source_object,
            "RecordId": self.id.to_string(),
        });
        if let Some(source) = self.source_record_id {
            row["SourceRecordId"] = source.to_string().into();
        }
        Row {
            log_type: self.log_type,
            table: Table::S3SentinelAlerts,
            record_id: self.id,
            source_object: Arc::from(self.source_object),
            ordinal: self.ordinal,
            json: row.to_string(),
        }
    }
}

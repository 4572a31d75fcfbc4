//! The production [`Delivery`]: rows to Sentinel through [`SentinelClient`], refused rows
//! to the dead letter, rejected input lines to a `rejects/` folder beside it.

use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use sha2::{Digest, Sha256};

use super::dead_letter::DeadLetter;
use super::sentinel::{FailedRow, FailureReason, SendReport, SentinelClient};
use super::{Delivery, DeliveryError, DeliveryReport, Progress};
use crate::record::{Reject, Row};
use crate::state::{PutCondition, StateStore};

/// Delivery to Sentinel, with the dead letter for what it refuses.
pub struct SentinelDelivery {
    /// The Logs Ingestion API client.
    pub client: SentinelClient,
    /// Without a dead letter, rows Sentinel refuses fail the object so it is retried (and
    /// eventually lands in the event source's own DLQ) instead of being dropped.
    pub dead_letter: Option<DeadLetter>,
    /// Where rejected input lines go (gzip NDJSON under `rejects/`).
    pub rejects: Option<Arc<dyn StateStore>>,
}

fn convert(report: &SendReport, dead_lettered: u64) -> DeliveryReport {
    let mut out = DeliveryReport {
        accepted: report.accepted,
        dead_lettered,
        requests: report.requests,
        retries: report.retries,
        throttles: report.throttled,
        bytes_sent: report.bytes_sent,
        ..DeliveryReport::default()
    };
    for (log_type, counts) in &report.by_log_type {
        if counts.accepted > 0 {
            out.accepted_by_type.insert(*log_type, counts.accepted);
        }
        if counts.failed > 0 && dead_lettered > 0 {
            out.dead_lettered_by_type.insert(*log_type, counts.failed);
        }
    }
    out
}

impl SentinelDelivery {
    /// Tells Sentinel (alert table) that rows went to the dead letter. Best effort: the
    /// rows are safe in the dead letter whatever happens to the alert, so a refused alert
    /// is only logged (it may be refused for the same reason as the rows).
    async fn raise_dead_letter_alerts(
        &self,
        source_object: &str,
        failed: &[FailedRow],
        dead_letter: &DeadLetter,
        files: &[String],
        deadline: Instant,
    ) {
        let alerts = super::health::dead_letter_alerts(
            source_object,
            failed,
            dead_letter.location(),
            files,
            chrono::Utc::now(),
        );
        let count = alerts.len();
        let sent = self.client.send(alerts, deadline).await;
        if sent.accepted < count as u64 {
            tracing::warn!(
                source_object,
                alerts = count,
                accepted = sent.accepted,
                "the dead-letter alert was not accepted; the rows are in the dead letter"
            );
        }
    }
}

#[async_trait]
impl Delivery for SentinelDelivery {
    async fn deliver(
        &self,
        source_object: &str,
        rows: Vec<Row>,
        deadline: Instant,
    ) -> Result<DeliveryReport, DeliveryError> {
        self.deliver_reporting(source_object, rows, deadline, &Progress::none())
            .await
    }

    async fn deliver_reporting(
        &self,
        source_object: &str,
        rows: Vec<Row>,
        deadline: Instant,
        progress: &Progress,
    ) -> Result<DeliveryReport, DeliveryError> {
        let ids: Vec<_> = rows.iter().map(|r| r.record_id).collect();
        let mut report = self.client.send_reporting(rows, deadline, progress).await;
        // No token (Secrets Manager or Entra ID unreachable, credentials being rotated) says
        // nothing about the rows: keep them for the retry instead of dead-lettering them.
        let (auth, failed): (Vec<_>, Vec<_>) = std::mem::take(&mut report.failed)
            .into_iter()
            .partition(|f| matches!(f.reason, FailureReason::Auth { .. }));
        report.failed = failed;
        let auth_error = auth.first().map(|f| f.reason.to_string());
        report.unsent.extend(auth.into_iter().map(|f| f.row));
        let not_accepted: std::collections::HashSet<_> = report
            .failed
            .iter()
            .map(|f| f.row.record_id)
            .chain(report.unsent.iter().map(|r| r.record_id))
            .collect();
        let accepted_ids = || {
            ids.iter()
                .copied()
                .filter(|id| !not_accepted.contains(id))
                .collect::<Vec<_>>()
        };

        let mut dead_lettered = 0;
        if !report.failed.is_empty() {
            let Some(dead_letter) = &self.dead_letter else {
                return Err(DeliveryError {
                    message: format!(
                        "{} rows from {source_object} were refused ({}) and no dead letter is configured",
                        report.failed.len(),
                        report.failed[0].reason
                    ),
                    accepted: accepted_ids(),
                    report: convert(&report, 0),
                });
            };
            match dead_letter.write_failed(&report.failed).await {
                Ok(written) => {
                    dead_lettered = written.rows;
                    self.raise_dead_letter_alerts(
                        source_object,
                        &report.failed,
                        dead_letter,
                        &written.files,
                        deadline,
                    )
                    .await;
                }
                Err(e) => {
                    return Err(DeliveryError {
                        message: format!("writing the dead letter failed: {e}"),
                        accepted: accepted_ids(),
                        report: convert(&report, 0),
                    });
                }
            }
        }
        if !report.unsent.is_empty() {
            // Dead-lettered rows count as delivered: the retry must not send them again.
            let failed: std::collections::HashSet<_> =
                report.unsent.iter().map(|r| r.record_id).collect();
            let why = auth_error.unwrap_or_else(|| "time ran out".to_string());
            return Err(DeliveryError {
                message: format!(
                    "{why}; {} rows of {source_object} not yet accepted",
                    report.unsent.len()
                ),
                accepted: ids
                    .iter()
                    .copied()
                    .filter(|id| !failed.contains(id))
                    .collect(),
                report: convert(&report, dead_lettered),
            });
        }
        Ok(convert(&report, dead_lettered))
    }

    async fn write_rejects(
        &self,
        source_object: &str,
        rejects: Vec<Reject>,
    ) -> Result<(), DeliveryError> {
        let Some(store) = &self.rejects else {
            if let Some(first) = rejects.first() {
                tracing::warn!(object = source_object, count = rejects.len(), line = ?first.line,
                    reason = %first.reason,
                    "rejected input lines dropped: no dead letter configured to keep them");
            }
            return Ok(());
        };
        let first_offset = rejects.first().map(|r| r.offset).unwrap_or(0);
        let digest = Sha256::digest(source_object.as_bytes());
        // The name is a function of the object and position, so a retried batch rewrites
        // the same file instead of adding a copy.
        let key = format!(
            "rejects/{}/{}-{first_offset}.ndjson.gz",
            chrono::Utc::now().format("%Y-%m-%d"),
            hex::encode(&digest[..16])
        );
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        for r in &rejects {
            serde_json::to_writer(&mut gz, r).expect("reject serializes");
            gz.write_all(b"\n").expect("in-memory write");
        }
        let body = gz.finish().expect("in-memory gzip");
        store
            .put(&key, body, PutCondition::Always)
            .await
            .map_err(|e| DeliveryError::new(format!("writing rejects to {key}: {e}")))?;
        tracing::warn!(object = source_object, %key, count = rejects.len(),
            "rejected input lines written aside");
        Ok(())
    }
}

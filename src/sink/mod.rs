//! Where rows go: a [`Delivery`] takes every row of a batch and either gets it accepted or
//! dead-letters it. [`sentinel`] is the Logs Ingestion API (client, packing, retries,
//! Entra ID tokens) with [`SentinelDelivery`]; [`dead_letter`] keeps refused rows for a
//! replay; [`health`] raises alert rows about them; [`ndjson`] writes rows to files (the
//! command line's output).

pub mod dead_letter;
pub mod health;
pub mod ndjson;
pub mod sentinel;
mod sentinel_delivery;

use std::time::Instant;

use async_trait::async_trait;

use crate::record::{LogType, RecordId, Reject, Row};

use dead_letter::{DeadLetter, DeadLetterError, DeadLetterWrite};
pub use ndjson::NdjsonDelivery;
use sentinel::{SendReport, SentinelClient};
pub use sentinel_delivery::SentinelDelivery;

/// Where a delivery reports rows as soon as the API has accepted them, before it returns:
/// the runner checkpoints them, so a function killed mid-batch sends again only the
/// requests that were in flight, not the whole batch.
#[derive(Debug, Clone, Default)]
pub struct Progress(Option<tokio::sync::mpsc::UnboundedSender<Vec<RecordId>>>);

impl Progress {
    /// Reports to nobody.
    pub fn none() -> Progress {
        Progress(None)
    }

    /// A progress and the receiving end of what it reports.
    pub fn channel() -> (
        Progress,
        tokio::sync::mpsc::UnboundedReceiver<Vec<RecordId>>,
    ) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        (Progress(Some(tx)), rx)
    }

    /// Reports rows accepted by one request (`ids` is only built when someone listens).
    pub fn accepted(&self, ids: impl FnOnce() -> Vec<RecordId>) {
        if let Some(tx) = &self.0 {
            // The receiver gone means nobody checkpoints any more: nothing to tell.
            let _ = tx.send(ids());
        }
    }
}

/// What delivering a batch achieved. Every row given to [`Delivery::deliver`] is either
/// accepted or dead-lettered; nothing else may happen to it.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct DeliveryReport {
    /// Rows the API accepted.
    pub accepted: u64,
    /// Rows written to the dead letter.
    pub dead_lettered: u64,
    /// Accepted / dead-lettered per log type (alert rows count under no log type).
    pub accepted_by_type: std::collections::BTreeMap<LogType, u64>,
    /// Dead-lettered rows per log type.
    pub dead_lettered_by_type: std::collections::BTreeMap<LogType, u64>,
    /// HTTP requests sent, retries included.
    pub requests: u64,
    /// Requests that were retries.
    pub retries: u64,
    /// Answers 429 or 503.
    pub throttles: u64,
    /// Bytes sent, retries included.
    pub bytes_sent: u64,
}

impl DeliveryReport {
    /// Adds `other`'s counts.
    pub fn merge(&mut self, other: &DeliveryReport) {
        self.accepted += other.accepted;
        self.dead_lettered += other.dead_lettered;
        for (k, v) in &other.accepted_by_type {
            *self.accepted_by_type.entry(*k).or_default() += v;
        }
        for (k, v) in &other.dead_lettered_by_type {
            *self.dead_lettered_by_type.entry(*k).or_default() += v;
        }
        self.requests += other.requests;
        self.retries += other.retries;
        self.throttles += other.throttles;
        self.bytes_sent += other.bytes_sent;
    }
}

/// Delivery could not finish (time ran out, or rows could be neither sent nor
/// dead-lettered). `accepted` lists the rows that did reach Sentinel, so a retry can skip
/// exactly those.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct DeliveryError {
    /// What went wrong.
    pub message: String,
    /// Ids of the rows that were accepted before it did.
    pub accepted: Vec<RecordId>,
    /// What was achieved before it did.
    pub report: DeliveryReport,
}

impl DeliveryError {
    /// An error with nothing accepted.
    pub fn new(message: impl Into<String>) -> Self {
        DeliveryError {
            message: message.into(),
            accepted: Vec::new(),
            report: DeliveryReport::default(),
        }
    }
}

/// Where rows go: Sentinel in production. `source_object` names the object the rows come
/// from (for dead-letter files).
#[async_trait]
pub trait Delivery: Send + Sync {
    /// Delivers every row (accepted or dead-lettered). An error means some rows could be
    /// neither sent nor dead-lettered: the object must then be retried from its last
    /// checkpoint.
    async fn deliver(
        &self,
        source_object: &str,
        rows: Vec<Row>,
        deadline: Instant,
    ) -> Result<DeliveryReport, DeliveryError>;

    /// [`Delivery::deliver`], telling `progress` about rows as they are accepted. By
    /// default nothing is reported before the batch is done.
    async fn deliver_reporting(
        &self,
        source_object: &str,
        rows: Vec<Row>,
        deadline: Instant,
        progress: &Progress,
    ) -> Result<DeliveryReport, DeliveryError> {
        let _ = progress;
        self.deliver(source_object, rows, deadline).await
    }

    /// Keeps rejected input (raw text and reason) aside.
    async fn write_rejects(
        &self,
        source_object: &str,
        rejects: Vec<Reject>,
    ) -> Result<(), DeliveryError>;
}

/// One batch sent straight through a [`SentinelClient`]: the client's report and what went
/// to the dead letter.
#[derive(Debug, Default)]
pub struct Delivered {
    /// `report.failed` lists the rows now in the dead letter; `report.unsent` the rows the
    /// deadline left with the caller.
    pub report: SendReport,
    pub dead_lettered: DeadLetterWrite,
}

/// Sends `rows` and writes the ones Sentinel did not accept to the dead letter, so that
/// every row is accepted, dead-lettered, or handed back in `report.unsent`. An error means
/// the dead letter itself could not be written: the caller must keep the rows (a Lambda
/// fails the invocation, so the event is delivered again).
pub async fn deliver(
    client: &SentinelClient,
    dead_letter: &DeadLetter,
    rows: Vec<Row>,
    deadline: Instant,
) -> Result<Delivered, DeadLetterError> {
    settle(dead_letter, client.send(rows, deadline).await).await
}

/// Like [`deliver`], but rows the deadline left unsent are dead-lettered too (reason
/// `deadline`), so the whole batch is settled: for callers that would rather replay later
/// than keep rows.
pub async fn deliver_settled(
    client: &SentinelClient,
    dead_letter: &DeadLetter,
    rows: Vec<Row>,
    deadline: Instant,
) -> Result<Delivered, DeadLetterError> {
    let mut report = client.send(rows, deadline).await;
    client.fail_unsent(&mut report);
    settle(dead_letter, report).await
}

async fn settle(
    dead_letter: &DeadLetter,
    report: SendReport,
) -> Result<Delivered, DeadLetterError> {
    let dead_lettered = if report.failed.is_empty() {
        DeadLetterWrite::default()
    } else {
        dead_letter.write_failed(&report.failed).await?
    };
    Ok(Delivered {
        report,
        dead_lettered,
    })
}

//! Delivery of one S3 object, end to end: claim it in the ledger, stream and decode it,
//! parse, enrich and serialize in bounded batches on a blocking thread, deliver each batch,
//! checkpoint, and mark the object complete. The Lambda handler and `process --sentinel`
//! both call [`Runner::process`]; S3, Sentinel and the state store sit behind traits.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub mod patterns;
pub mod sentinel;

use async_trait::async_trait;
use chrono::Utc;
use tokio::sync::mpsc;
use tokio_util::io::SyncIoBridge;

use crate::event::ObjectRef;
use crate::formats::{Format, ParseStats, RecordSink, Stop};
use crate::pipeline::{ObjectError, ObjectJob, ObjectOutcome, process_object};
use crate::record::{LogType, Record, RecordId, Reject};
pub use crate::sink::Row;
use crate::source::{DecodeLimits, ObjectSource, SourceError};
use crate::state::StateStore;
use crate::state::objects::{Claim, Lease, ObjectLedger};

/// What delivering a batch achieved. Every row given to [`Delivery::deliver`] is either
/// accepted or dead-lettered; nothing else may happen to it.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct DeliveryReport {
    pub accepted: u64,
    pub dead_lettered: u64,
    /// Accepted / dead-lettered per log type (alert rows count under no log type).
    pub accepted_by_type: std::collections::BTreeMap<LogType, u64>,
    pub dead_lettered_by_type: std::collections::BTreeMap<LogType, u64>,
    pub requests: u64,
    pub retries: u64,
    pub throttles: u64,
    pub bytes_sent: u64,
}

impl DeliveryReport {
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
    pub message: String,
    pub accepted: Vec<RecordId>,
    pub report: DeliveryReport,
}

impl DeliveryError {
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

    /// Keeps rejected input (raw text and reason) aside.
    async fn write_rejects(
        &self,
        source_object: &str,
        rejects: Vec<Reject>,
    ) -> Result<(), DeliveryError>;
}

/// The enrichment stage (models, patterns, priorities). `enrich` runs on the blocking
/// thread, per batch, and returns the alert rows the batch raised. The state hooks run
/// between objects: what one function learned (pattern counts, score history) is merged
/// into the shared state so that every function builds on all of it.
#[async_trait]
pub trait Enricher: Send + Sync {
    fn enrich(&self, records: &mut [Record]) -> Vec<Row>;

    /// Reads the shared state (at cold start).
    async fn load_state(&self, _store: &dyn StateStore) -> anyhow::Result<()> {
        Ok(())
    }

    /// Merges this process's learning into the shared state (conditional writes).
    async fn save_state(&self, _store: &dyn StateStore) -> anyhow::Result<()> {
        Ok(())
    }

    /// Adds what the stage measured since the last call (model drift, inference latency,
    /// shadow agreement) to the invocation's metrics; called after `save_state`.
    fn publish_metrics(&self, _metrics: &mut crate::metrics::InvocationMetrics) {}
}

/// Stages applied in order (patterns first: the models read the pattern columns).
pub struct EnricherChain(pub Vec<Arc<dyn Enricher>>);

#[async_trait]
impl Enricher for EnricherChain {
    fn enrich(&self, records: &mut [Record]) -> Vec<Row> {
        self.0
            .iter()
            .flat_map(|stage| stage.enrich(records))
            .collect()
    }

    async fn load_state(&self, store: &dyn StateStore) -> anyhow::Result<()> {
        for stage in &self.0 {
            stage.load_state(store).await?;
        }
        Ok(())
    }

    async fn save_state(&self, store: &dyn StateStore) -> anyhow::Result<()> {
        for stage in &self.0 {
            stage.save_state(store).await?;
        }
        Ok(())
    }

    fn publish_metrics(&self, metrics: &mut crate::metrics::InvocationMetrics) {
        for stage in &self.0 {
            stage.publish_metrics(metrics);
        }
    }
}

/// No enrichment: rows leave as parsed.
pub struct NoEnrichment;

impl Enricher for NoEnrichment {
    fn enrich(&self, _records: &mut [Record]) -> Vec<Row> {
        Vec::new()
    }
}

#[derive(Debug, Clone)]
pub struct RunnerSettings {
    /// Records per batch (a batch is enriched, delivered and checkpointed as a unit).
    pub batch_records: usize,
    /// Serialized bytes per batch.
    pub batch_bytes: usize,
    /// Stop taking new batches when less than this remains before the deadline, leaving
    /// time to checkpoint and answer.
    pub safety_margin: Duration,
    /// How long a claim on an object lasts beyond the invocation's deadline.
    pub lease_grace: Duration,
    pub limits: DecodeLimits,
    pub format: Option<Format>,
}

impl Default for RunnerSettings {
    fn default() -> Self {
        RunnerSettings {
            batch_records: 5_000,
            batch_bytes: 8 * 1024 * 1024,
            safety_margin: Duration::from_secs(10),
            lease_grace: Duration::from_secs(30),
            limits: DecodeLimits::default(),
            format: None,
        }
    }
}

/// The result of one object.
#[derive(Debug, Clone, Default)]
pub struct ObjectReport {
    pub object: String,
    pub duplicate: bool,
    pub skipped: Option<String>,
    pub format: Option<Format>,
    pub resumed_from: u64,
    pub parse: ParseStats,
    pub delivery: DeliveryReport,
    pub alerts: u64,
    pub bytes_in: u64,
    pub bytes_decoded: u64,
    pub stream_error: Option<String>,
    pub parse_time: Duration,
    pub deliver_time: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{object} is being processed by invocation {owner}; retry later")]
    Busy { object: String, owner: String },
    #[error(
        "time ran short in {object} after {next_ordinal} records; checkpoint saved, the retry resumes there"
    )]
    DeadlineReached { object: String, next_ordinal: u64 },
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("delivering {object} failed: {message}")]
    Delivery { object: String, message: String },
    #[error("state store: {0}")]
    State(#[from] crate::state::StateError),
    #[error("{0}")]
    Object(String),
}

impl RunError {
    /// Objects that vanished before we read them are not worth retrying.
    pub fn is_permanent(&self) -> bool {
        matches!(self, RunError::Source(SourceError::NotFound(_)))
    }
}

pub struct Runner {
    pub source: Arc<dyn ObjectSource>,
    pub state: Option<Arc<dyn StateStore>>,
    pub delivery: Arc<dyn Delivery>,
    pub enricher: Arc<dyn Enricher>,
    pub settings: RunnerSettings,
}

struct Batch {
    rows: Vec<Row>,
    alerts: Vec<Row>,
    rejects: Vec<Reject>,
    /// Every record with a lower ordinal is in this or an earlier batch.
    next_ordinal: u64,
}

/// Collects records on the blocking thread, enriches and serializes each full batch and
/// hands it to the async side. Back-pressure: at most two batches wait.
struct BatchingSink {
    tx: mpsc::Sender<Batch>,
    enricher: Arc<dyn Enricher>,
    records: Vec<Record>,
    bytes_estimate: usize,
    rejects: Vec<Reject>,
    next_ordinal: u64,
    /// Delivered by an invocation that stopped mid-batch: not sent again.
    already_delivered: HashSet<RecordId>,
    batch_records: usize,
    batch_bytes: usize,
}

impl BatchingSink {
    fn flush(&mut self) -> Result<(), Stop> {
        if self.records.is_empty() && self.rejects.is_empty() {
            return Ok(());
        }
        let mut records = std::mem::take(&mut self.records);
        let alerts = self.enricher.enrich(&mut records);
        let rows = records.iter().map(Row::from_record).collect();
        let batch = Batch {
            rows,
            alerts,
            rejects: std::mem::take(&mut self.rejects),
            next_ordinal: self.next_ordinal,
        };
        self.bytes_estimate = 0;
        self.tx
            .blocking_send(batch)
            .map_err(|_| Stop("delivery stopped".into()))
    }
}

impl RecordSink for BatchingSink {
    fn record(&mut self, record: Record) -> Result<(), Stop> {
        self.next_ordinal = record.ordinal + 1;
        if !self.already_delivered.is_empty() && self.already_delivered.remove(&record.id) {
            return Ok(());
        }
        self.bytes_estimate += 64 + record.columns.len() * 32;
        for (_, v) in &record.columns {
            if let Some(t) = v.as_text() {
                self.bytes_estimate += t.len();
            }
        }
        self.records.push(record);
        if self.records.len() >= self.batch_records || self.bytes_estimate >= self.batch_bytes {
            self.flush()?;
        }
        Ok(())
    }

    fn reject(&mut self, reject: Reject) -> Result<(), Stop> {
        self.rejects.push(reject);
        Ok(())
    }
}

impl Runner {
    /// Processes one object before `deadline`. `owner` identifies this invocation in the
    /// ledger (the Lambda request id).
    pub async fn process(
        &self,
        object: &ObjectRef,
        deadline: Instant,
        owner: &str,
    ) -> Result<ObjectReport, RunError> {
        let uri = object.uri();
        let mut report = ObjectReport {
            object: uri.clone(),
            ..ObjectReport::default()
        };
        let opened = self.source.open(object).await?;
        // The ETag GetObject saw is authoritative (events may lack it).
        let mut identified = object.clone();
        if identified.version_id.is_none() {
            identified.etag = opened.etag.clone().or(identified.etag);
        }

        let ledger = self.state.as_deref().map(ObjectLedger::new);
        let lease_until = lease_deadline(deadline, self.settings.lease_grace);
        let mut lease: Option<Lease> = None;
        let mut already_delivered = HashSet::new();
        if let Some(ledger) = &ledger {
            match ledger.claim(&identified, owner, lease_until).await? {
                Claim::AlreadyCompleted => {
                    tracing::info!(object = %uri, "object already delivered; duplicate event skipped");
                    report.duplicate = true;
                    return Ok(report);
                }
                Claim::Busy { owner, .. } => {
                    return Err(RunError::Busy { object: uri, owner });
                }
                Claim::Process {
                    resume_from,
                    already_delivered: delivered,
                    lease: l,
                } => {
                    if resume_from > 0 || !delivered.is_empty() {
                        tracing::info!(object = %uri, resume_from, skip = delivered.len(),
                            "resuming after checkpoint");
                    }
                    report.resumed_from = resume_from;
                    already_delivered = delivered.into_iter().collect();
                    lease = Some(l);
                }
            }
        }

        let (tx, mut rx) = mpsc::channel::<Batch>(2);
        let mut job = ObjectJob::new(uri.clone(), object.key.clone());
        job.format = self.settings.format;
        job.limits = self.settings.limits;
        job.resume_from = report.resumed_from;
        let reader = SyncIoBridge::new(opened.body);
        let mut sink = BatchingSink {
            tx,
            enricher: self.enricher.clone(),
            records: Vec::with_capacity(self.settings.batch_records),
            bytes_estimate: 0,
            rejects: Vec::new(),
            next_ordinal: report.resumed_from,
            already_delivered,
            batch_records: self.settings.batch_records,
            batch_bytes: self.settings.batch_bytes,
        };
        let parse_started = Instant::now();
        let parser = tokio::task::spawn_blocking(move || {
            let result = process_object(reader, &job, &mut sink);
            let flushed = match &result {
                Ok(_) => sink.flush(),
                Err(_) => Ok(()),
            };
            (result, flushed)
        });

        let mut delivered_up_to = report.resumed_from;
        let mut stopped_for_deadline = false;
        let mut delivery_error: Option<String> = None;
        while let Some(batch) = rx.recv().await {
            if Instant::now() + self.settings.safety_margin >= deadline {
                stopped_for_deadline = true;
                break;
            }
            let started = Instant::now();
            let mut rows = batch.rows;
            report.alerts += batch.alerts.len() as u64;
            rows.extend(batch.alerts);
            if !batch.rejects.is_empty() {
                if let Err(e) = self.delivery.write_rejects(&uri, batch.rejects).await {
                    delivery_error = Some(format!("writing rejects: {e}"));
                    break;
                }
            }
            match self.delivery.deliver(&uri, rows, deadline).await {
                Ok(r) => report.delivery.merge(&r),
                Err(e) => {
                    report.delivery.merge(&e.report);
                    report.deliver_time += started.elapsed();
                    // Remember exactly what got through, so the retry sends the rest once.
                    if let (Some(ledger), Some(lease)) = (&ledger, lease.as_mut()) {
                        ledger
                            .checkpoint(lease, delivered_up_to, &e.accepted, lease_until)
                            .await?;
                    }
                    delivery_error = Some(e.message);
                    break;
                }
            }
            report.deliver_time += started.elapsed();
            delivered_up_to = batch.next_ordinal;
            if let (Some(ledger), Some(lease)) = (&ledger, lease.as_mut()) {
                ledger
                    .checkpoint(lease, delivered_up_to, &[], lease_until)
                    .await?;
            }
        }
        // Dropping the receiver stops the parser at its next batch.
        drop(rx);
        let (result, _flushed) = parser
            .await
            .map_err(|e| RunError::Object(format!("parser thread failed: {e}")))?;
        report.parse_time = parse_started.elapsed().saturating_sub(report.deliver_time);

        if stopped_for_deadline || delivery_error.is_some() {
            if let (Some(ledger), Some(lease)) = (&ledger, lease.as_mut()) {
                // Best effort: a retry could otherwise only start when the lease expires.
                if let Err(e) = ledger.release(lease).await {
                    tracing::warn!(object = %uri, error = %e, "could not release the object lease");
                }
            }
            if let Some(message) = delivery_error {
                return Err(RunError::Delivery {
                    object: uri,
                    message,
                });
            }
            return Err(RunError::DeadlineReached {
                object: uri,
                next_ordinal: delivered_up_to,
            });
        }

        let outcome: ObjectOutcome = match result {
            Ok(outcome) => outcome,
            Err(ObjectError::Stopped { reason, .. }) => {
                return Err(RunError::Object(format!(
                    "{uri}: parsing stopped: {reason}"
                )));
            }
            Err(e) => return Err(RunError::Object(e.to_string())),
        };
        report.format = outcome.format;
        report.skipped = outcome.skipped;
        report.parse = outcome.stats;
        report.bytes_in = outcome.bytes_in;
        report.bytes_decoded = outcome.bytes_decoded;
        report.stream_error = outcome.stream_error;
        if let (Some(ledger), Some(lease)) = (&ledger, lease.as_mut()) {
            let next = delivered_up_to.max(report.resumed_from + report.parse.total_records());
            ledger.complete(lease, next).await?;
        }
        Ok(report)
    }
}

fn lease_deadline(deadline: Instant, grace: Duration) -> chrono::DateTime<Utc> {
    let remaining = deadline.saturating_duration_since(Instant::now()) + grace;
    Utc::now() + chrono::Duration::from_std(remaining).unwrap_or(chrono::Duration::minutes(15))
}

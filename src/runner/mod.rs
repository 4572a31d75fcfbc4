//! Delivery of one S3 object, end to end: claim it in the ledger, stream and decode it,
//! parse, enrich and serialize in bounded batches on a blocking thread, deliver each batch,
//! checkpoint, and mark the object complete. The Lambda handler and both forms of
//! `s3-sentinel process` call [`Runner::process`]; objects, delivery and the state store
//! sit behind traits.

mod batch;
pub mod ledger;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use smart_default::SmartDefault;
use tokio::sync::mpsc;
use tokio_util::io::SyncIoBridge;

use crate::enrich::Enricher;
use crate::formats::{
    Detection, Format, ObjectError, ObjectJob, ObjectOutcome, ObjectTime, detect::detect_key,
    parse_object,
};
use crate::record::RecordId;
use crate::sink::{Delivery, DeliveryReport, Progress, health};
use crate::source::{DecodeLimits, ObjectRef, ObjectSource, SourceError};
use crate::state::StateStore;
use batch::{Batch, BatchingSink};
use ledger::{Session, Start};

/// How the runner batches and bounds its work (`config` reads it from the environment).
#[derive(Debug, Clone, PartialEq, SmartDefault)]
pub struct RunnerSettings {
    /// Records per batch (a batch is enriched, delivered and checkpointed as a unit).
    #[default(5_000)]
    pub batch_records: usize,
    /// Serialized bytes per batch.
    #[default(8 * 1024 * 1024)]
    pub batch_bytes: usize,
    /// Stop taking new batches when less than this remains before the deadline, leaving
    /// time to checkpoint and answer.
    #[default(Duration::from_secs(10))]
    pub safety_margin: Duration,
    /// How long a claim on an object lasts beyond the invocation's deadline.
    #[default(Duration::from_secs(30))]
    pub lease_grace: Duration,
    /// Decompression limits per object.
    pub limits: DecodeLimits,
    /// Parse every object as this format instead of detecting it.
    pub format: Option<Format>,
    /// Claim objects in the ledger of the state store (the function); off, every object
    /// is processed from its start (`s3-sentinel process` writing files).
    #[default(true)]
    pub ledger: bool,
}

/// The result of one object.
#[derive(Debug, Clone, Default)]
pub struct ObjectReport {
    pub object: String,
    pub duplicate: bool,
    pub resumed_from: u64,
    /// What parsing found; nothing for a duplicate, which is not read.
    pub parsed: ObjectOutcome,
    pub delivery: DeliveryReport,
    pub alerts: u64,
    pub parse_time: Duration,
    pub deliver_time: Duration,
}

/// What processing an object would do (see [`Runner::preview`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Preview {
    /// The ledger has the object delivered: it would be skipped.
    pub delivered: bool,
    /// Its size in bytes.
    pub size: Option<u64>,
    /// Its format as its key names it; `None`: detected from its content when read.
    pub detection: Option<Detection>,
}

/// Why an object was not processed to the end.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Another invocation holds the object's lease.
    #[error("{object} is being processed by invocation {owner}; retry later")]
    Busy {
        /// The object's URI.
        object: String,
        /// Request id of the invocation holding the lease.
        owner: String,
    },
    /// The deadline came first; the checkpoint is saved and a retry resumes there.
    #[error(
        "time ran short in {object} after {next_ordinal} records; checkpoint saved, the retry resumes there"
    )]
    DeadlineReached {
        /// The object's URI.
        object: String,
        /// Ordinal the retry resumes at.
        next_ordinal: u64,
    },
    /// The object could not be read.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// Rows could be neither delivered nor dead-lettered.
    #[error("delivering {object} failed: {message}")]
    Delivery {
        /// The object's URI.
        object: String,
        /// Why.
        message: String,
    },
    /// The ledger's state store failed.
    #[error("state store: {0}")]
    State(#[from] crate::state::StateError),
    /// Decoding or parsing failed, or the parser thread did.
    #[error("{0}")]
    Object(String),
}

impl RunError {
    /// Objects that vanished before we read them are not worth retrying.
    pub fn is_permanent(&self) -> bool {
        matches!(self, RunError::Source(SourceError::NotFound(_)))
    }
}

/// Runs objects through the pipeline: where they come from, the ledger, where the rows
/// go, and the enrichment between.
pub struct Runner {
    /// Where objects are read from.
    pub source: Arc<dyn ObjectSource>,
    /// The state store: the object ledger (unless `settings.ledger` is off) and what the
    /// enrichment stages learn. Without one, repeated events are not deduplicated and an
    /// interrupted object starts over.
    pub state: Option<Arc<dyn StateStore>>,
    /// Where rows go.
    pub delivery: Arc<dyn Delivery>,
    /// The enrichment between parsing and delivery.
    pub enricher: Arc<dyn Enricher>,
    /// Batching and limits.
    pub settings: RunnerSettings,
}

/// What the ledger held for an object before it was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Known {
    /// Delivered already.
    Completed,
    /// No entry.
    Absent,
    /// Not read, unreadable, or an entry in progress.
    Unknown,
}

/// How the delivery loop ended.
enum Stopped {
    /// Every batch was delivered; `unsaved`: the last batch's checkpoint is not written
    /// (the object's completion writes it; its requests' checkpoints already name what
    /// got through).
    Finished { unsaved: bool },
    /// Too little time was left for another batch.
    Deadline,
    /// Rows could be neither delivered nor dead-lettered.
    Failed(String),
}

impl Runner {
    /// Reads what the enrichment stages learned before (pattern database, sequence model,
    /// score history). An improvement, not a precondition: without it they start fresh.
    pub async fn load_state(&self) {
        if let Some(store) = &self.state
            && let Err(e) = self.enricher.load_state(store.as_ref()).await
        {
            tracing::warn!(error = %format!("{e:#}"), "could not load the enrichment state; starting fresh");
        }
        self.report_damage().await;
    }

    /// Merges what the enrichment stages learned into the state store (conditional
    /// writes); a failure is logged and the learning stays pending.
    pub async fn save_state(&self) {
        if let Some(store) = &self.state
            && let Err(e) = self.enricher.save_state(store.as_ref()).await
        {
            tracing::warn!(error = %format!("{e:#}"), "could not save the enrichment state");
        }
        self.report_damage().await;
    }

    /// Raises a connector-health alert row for each state document set aside since the
    /// last call. Best effort: the damage is also in the logs.
    pub async fn report_damage(&self) {
        let Some(store) = &self.state else {
            return;
        };
        let damage = store.damage().take();
        if damage.is_empty() {
            return;
        }
        let location = store.location();
        let rows = health::damaged_state_alerts(&damage, &location, Utc::now());
        let deadline = Instant::now() + Duration::from_secs(30);
        if let Err(e) = self.delivery.deliver(&location, rows, deadline).await {
            tracing::warn!(error = %e, "the damaged-state alert was not delivered");
        }
    }

    /// Processes one object before `deadline`. `owner` identifies this invocation in the
    /// ledger (the Lambda request id).
    pub async fn process(
        &self,
        object: &ObjectRef,
        deadline: Instant,
        owner: &str,
    ) -> Result<ObjectReport, RunError> {
        self.process_as(object, deadline, owner, self.settings.format)
            .await
    }

    /// What [`Runner::process`] would do with the object, reading none of it: whether the
    /// ledger has it delivered, its size, and its format as its key names it (or as
    /// `format` forces). An object that cannot be read fails as processing would.
    pub async fn preview(
        &self,
        object: &ObjectRef,
        format: Option<Format>,
    ) -> Result<Preview, RunError> {
        let head = self.source.head(object).await?;
        let mut identified = object.clone();
        identified.version_id = head.version_id.or(identified.version_id);
        identified.etag = head.etag.or(identified.etag);
        let delivered = self.ledger_entry(&identified).await == Known::Completed;
        let detection = match format.or(self.settings.format) {
            Some(format) => Some(Detection::Parse(format)),
            None => detect_key(&object.key),
        };
        Ok(Preview {
            delivered,
            size: head.size,
            detection,
        })
    }

    /// [`Runner::process`], parsing the object as `format` when given instead of
    /// detecting it.
    pub async fn process_as(
        &self,
        object: &ObjectRef,
        deadline: Instant,
        owner: &str,
        format: Option<Format>,
    ) -> Result<ObjectReport, RunError> {
        let uri = object.uri();
        let mut report = ObjectReport {
            object: uri.clone(),
            ..ObjectReport::default()
        };
        let known = self.ledger_entry(object).await;
        if known == Known::Completed {
            tracing::info!(object = %uri, "object already delivered; duplicate event skipped unread");
            report.duplicate = true;
            return Ok(report);
        }
        let opened = self.source.open(object).await?;
        // The ledger knows an object by what GetObject read: its version id on a versioned
        // bucket, else its ETag, however the event named it (a notification on a versioned
        // bucket names the version, a Batch Operations task may name neither).
        let mut identified = object.clone();
        identified.version_id = opened.version_id.clone().or(identified.version_id);
        identified.etag = opened.etag.clone().or(identified.etag);
        let known_absent =
            known == Known::Absent && ledger::identity(&identified) == ledger::identity(object);

        let term = ledger::LeaseTerm {
            deadline,
            grace: self.settings.lease_grace,
        };
        let ledger = self.state.as_deref().filter(|_| self.settings.ledger);
        let opened_session = Session::open(ledger, &identified, owner, term, known_absent).await;
        self.report_damage().await;
        let (mut session, start) = opened_session?;
        let already_delivered = match start {
            Start::Duplicate => {
                tracing::info!(object = %uri, "object already delivered; duplicate event skipped");
                report.duplicate = true;
                return Ok(report);
            }
            Start::Busy { owner } => return Err(RunError::Busy { object: uri, owner }),
            Start::Process {
                resume_from,
                already_delivered,
            } => {
                if resume_from > 0 || !already_delivered.is_empty() {
                    tracing::info!(object = %uri, resume_from, skip = already_delivered.len(),
                        "resuming after checkpoint");
                }
                report.resumed_from = resume_from;
                already_delivered
            }
        };

        let (tx, rx) = mpsc::channel::<Batch>(2);
        let mut job = ObjectJob::new(uri.clone(), object.key.clone());
        job.format = format;
        job.limits = self.settings.limits;
        job.resume_from = report.resumed_from;
        job.object_time = ObjectTime::of(&object.key, opened.last_modified);
        let reader = SyncIoBridge::new(opened.body);
        let mut sink = BatchingSink {
            tx,
            enricher: self.enricher.clone(),
            records: Vec::with_capacity(self.settings.batch_records),
            bytes_estimate: 0,
            rejects: Vec::new(),
            reject_bytes: 0,
            next_ordinal: report.resumed_from,
            already_delivered: already_delivered.iter().copied().collect(),
            batch_records: self.settings.batch_records,
            batch_bytes: self.settings.batch_bytes,
        };
        let parse_started = Instant::now();
        let parser = tokio::task::spawn_blocking(move || {
            let result = parse_object(reader, &job, &mut sink);
            if result.is_ok() {
                // A failed hand-over means delivery stopped; the loop below knows why.
                let _ = sink.flush();
            }
            result
        });

        let (stopped, delivered_up_to) = self
            .deliver_batches(rx, &mut session, &mut report, deadline, already_delivered)
            .await?;
        let result = parser
            .await
            .map_err(|e| RunError::Object(format!("parser thread failed: {e}")))?;
        report.parse_time = parse_started.elapsed().saturating_sub(report.deliver_time);

        let unsaved = match stopped {
            Stopped::Finished { unsaved } => unsaved,
            Stopped::Deadline => {
                session.release(&uri).await;
                return Err(RunError::DeadlineReached {
                    object: uri,
                    next_ordinal: delivered_up_to,
                });
            }
            Stopped::Failed(message) => {
                session.release(&uri).await;
                return Err(RunError::Delivery {
                    object: uri,
                    message,
                });
            }
        };

        let outcome: ObjectOutcome = match result {
            Ok(outcome) => outcome,
            Err(e) => {
                if unsaved {
                    session.checkpoint(delivered_up_to, &[]).await?;
                }
                return Err(RunError::Object(match e {
                    ObjectError::Stopped { reason, .. } => {
                        format!("{uri}: parsing stopped: {reason}")
                    }
                    e => e.to_string(),
                }));
            }
        };
        report.parsed = outcome;
        let next = delivered_up_to.max(report.resumed_from + report.parsed.stats.total_records());
        session.complete(next).await?;
        Ok(report)
    }

    /// What the ledger says of the object the event names (by version or ETag): delivered
    /// already, a repeated event or a backfill of delivered objects costs one small read
    /// instead of fetching the object; no entry, the claim after opening the object need
    /// not read it again. Without either identity, or when the read fails, the claim
    /// decides.
    async fn ledger_entry(&self, object: &ObjectRef) -> Known {
        let Some(store) = self.state.as_deref().filter(|_| self.settings.ledger) else {
            return Known::Unknown;
        };
        if ledger::identity(object).is_empty() {
            return Known::Unknown;
        }
        match ledger::ObjectLedger::new(store).get(object).await {
            Ok(Some(state))
                if state.status == ledger::ObjectStatus::Completed
                    && state.object == object.uri()
                    && state.identity == ledger::identity(object) =>
            {
                Known::Completed
            }
            Ok(None) => Known::Absent,
            _ => Known::Unknown,
        }
    }

    /// Delivers batches as the parser hands them over, checkpointing after each request
    /// the API accepts and after each batch; returns how it stopped and the ordinal every
    /// earlier record was delivered below. `carried` are the ids an earlier invocation
    /// delivered beyond its checkpoint: they stay in the checkpoint until a batch covers
    /// them. Dropping the receiver on return stops the parser at its next batch.
    async fn deliver_batches(
        &self,
        mut rx: mpsc::Receiver<Batch>,
        session: &mut Session<'_>,
        report: &mut ObjectReport,
        deadline: Instant,
        mut carried: Vec<RecordId>,
    ) -> Result<(Stopped, u64), RunError> {
        let uri = report.object.clone();
        let mut delivered_up_to = report.resumed_from;
        let mut unsaved = false;
        while let Some(batch) = rx.recv().await {
            // A batch's checkpoint waits until another batch follows it: after the last
            // one, the completion says the same in one write less.
            if std::mem::take(&mut unsaved) {
                session.checkpoint(delivered_up_to, &[]).await?;
            }
            if Instant::now() + self.settings.safety_margin >= deadline {
                return Ok((Stopped::Deadline, delivered_up_to));
            }
            let started = Instant::now();
            let mut rows = batch.rows;
            report.alerts += batch.alerts.len() as u64;
            rows.extend(batch.alerts);
            if !batch.rejects.is_empty()
                && let Err(e) = self.delivery.write_rejects(&uri, batch.rejects).await
            {
                return Ok((
                    Stopped::Failed(format!("writing rejects: {e}")),
                    delivered_up_to,
                ));
            }
            let (progress, accepted_rx) = Progress::channel();
            let delivering = async {
                let result = self
                    .delivery
                    .deliver_reporting(&uri, rows, deadline, &progress)
                    .await;
                drop(progress);
                result
            };
            let checkpointing =
                checkpoint_requests(session, delivered_up_to, &carried, accepted_rx);
            let (delivered, checkpointed) = tokio::join!(delivering, checkpointing);
            report.deliver_time += started.elapsed();
            match delivered {
                Ok(r) => report.delivery.merge(&r),
                Err(e) => {
                    report.delivery.merge(&e.report);
                    // Remember exactly what got through, so the retry sends the rest once.
                    let mut through = carried.clone();
                    through.extend(e.accepted);
                    session.checkpoint(delivered_up_to, &through).await?;
                    return Ok((Stopped::Failed(e.message), delivered_up_to));
                }
            }
            checkpointed?;
            // A batch of rejects alone moves no record past the checkpoint.
            if batch.next_ordinal > delivered_up_to {
                delivered_up_to = batch.next_ordinal;
                carried.clear();
                unsaved = true;
            }
        }
        Ok((Stopped::Finished { unsaved }, delivered_up_to))
    }
}

/// Checkpoints the rows of each request as the API accepts it (several acceptances that
/// arrive during one write go into the next), until the batch's delivery is over.
async fn checkpoint_requests(
    session: &mut Session<'_>,
    delivered_up_to: u64,
    carried: &[RecordId],
    mut accepted: mpsc::UnboundedReceiver<Vec<RecordId>>,
) -> Result<(), crate::state::StateError> {
    let mut through: Vec<RecordId> = carried.to_vec();
    while let Some(ids) = accepted.recv().await {
        through.extend(ids);
        while let Ok(more) = accepted.try_recv() {
            through.extend(more);
        }
        session.checkpoint(delivered_up_to, &through).await?;
    }
    Ok(())
}

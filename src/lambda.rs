//! The Lambda function: configuration and clients built once per cold start, then per
//! invocation: envelope -> objects -> [`Runner`] -> SQS batch response and EMF metrics.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::s3::batch_job::{S3BatchJobResponse, S3BatchJobResult};
use aws_lambda_events::sqs::SqsBatchResponse;
use futures::stream::{self, StreamExt};
use serde_json::{Value, json};

use crate::config::{Config, Platform};
use crate::formats::{Detection, Format};
use crate::metrics::InvocationMetrics;
use crate::runner::{ObjectReport, Preview, RunError, Runner};
use crate::setup::{self, Aws};
use crate::source::event::{BatchJob, Envelope, Invocation, parse_invocation};
use crate::source::{ObjectRef, S3Source, SourceError};

/// The function between invocations: everything built at cold start.
pub struct App {
    /// Processes the objects of each invocation.
    pub runner: Runner,
    /// What Lambda says about where the function runs.
    pub platform: Platform,
    /// Buckets events may name (`LOG_BUCKETS`); `None` accepts any.
    pub log_buckets: Option<Vec<String>>,
    /// The shared enrichment state is read by the first invocation, not at cold start, so
    /// the function asks for work as soon as its models are ready.
    state_loaded: tokio::sync::OnceCell<()>,
}

/// What the handler needs from the Lambda context.
pub struct InvocationContext {
    /// Lambda's request id of the invocation.
    pub request_id: String,
    /// Milliseconds since the Unix epoch, as Lambda gives it.
    pub deadline_ms: u64,
}

impl InvocationContext {
    /// The deadline as an [`Instant`] on this process's clock.
    pub fn deadline(&self) -> Instant {
        let now_ms = chrono::Utc::now().timestamp_millis().max(0) as u64;
        Instant::now() + Duration::from_millis(self.deadline_ms.saturating_sub(now_ms))
    }
}

impl App {
    /// Cold start: validates the configuration (one clear error naming the variable) and
    /// builds the clients, the models and the runner. Credentials are fetched at the first
    /// token request, so an unavailable Secrets Manager fails invocations (which are
    /// retried), not the start.
    pub async fn from_env(platform: Platform) -> anyhow::Result<App> {
        let config = Config::from_env()?;
        let aws = Aws::new(&platform);
        let delivery = Arc::new(setup::sentinel_delivery(&config, &aws).await?);
        let source = Arc::new(S3Source::new(aws.s3().await));
        let runner = setup::runner(&config.pipeline, &aws, source, delivery, true).await?;
        if config.log_buckets.is_none() {
            tracing::warn!(
                "no LOG_BUCKETS: events naming any bucket the role can read are processed"
            );
        }
        Ok(App {
            runner,
            platform,
            log_buckets: config.log_buckets,
            state_loaded: tokio::sync::OnceCell::new(),
        })
    }

    /// Handles one invocation. Direct events fail as a whole (Lambda retries them; objects
    /// already done are skipped on the retry); SQS messages fail one by one through
    /// `batchItemFailures`.
    pub async fn handle(&self, payload: Value, ctx: &InvocationContext) -> anyhow::Result<Value> {
        let invoked = Instant::now();
        let deadline = ctx.deadline();
        let mut metrics = InvocationMetrics::default();
        self.load_state_once(&mut metrics).await;
        let invocation = parse_invocation(&payload)?;
        let result = match invocation {
            Invocation::Direct(envelope) => {
                let failures = self
                    .process_envelope(&envelope, deadline, &ctx.request_id, &mut metrics)
                    .await;
                match failures.first() {
                    None => Ok(json!({
                        "objects": envelope.objects.len(),
                        "ignored": envelope.ignored,
                    })),
                    Some(first) => Err(anyhow::anyhow!(
                        "{} of {} objects failed; first: {first}",
                        failures.len(),
                        envelope.objects.len()
                    )),
                }
            }
            Invocation::Sqs(items) => {
                // Parsing and scoring are CPU-bound: the batch's objects run side by side
                // on the vCPUs the memory size gives, each with its own bounded delivery.
                let outcomes: Vec<(bool, InvocationMetrics)> = stream::iter(&items)
                    .map(|item| async move {
                        let mut item_metrics = InvocationMetrics::default();
                        let failed = match &item.envelope {
                            Err(reason) => {
                                tracing::error!(message_id = %item.message_id, %reason,
                                    "SQS message is not an S3 event");
                                true
                            }
                            Ok(envelope) => !self
                                .process_envelope(
                                    envelope,
                                    deadline,
                                    &ctx.request_id,
                                    &mut item_metrics,
                                )
                                .await
                                .is_empty(),
                        };
                        (failed, item_metrics)
                    })
                    .buffered(self.platform.vcpus())
                    .collect()
                    .await;
                let mut response = SqsBatchResponse::default();
                for (item, (failed, item_metrics)) in items.iter().zip(outcomes) {
                    metrics.merge(&item_metrics);
                    if failed {
                        response.add_failure(item.message_id.clone());
                    }
                }
                Ok(serde_json::to_value(&response)?)
            }
            Invocation::BatchJob(job) => {
                let response = self
                    .process_batch_job(&job, deadline, &ctx.request_id, &mut metrics)
                    .await;
                Ok(serde_json::to_value(&response)?)
            }
        };
        // The enrichment stages learn from records only: an invocation whose objects were
        // all delivered before (a backfill run again, a repeated event) has nothing to
        // merge, and its state documents are not read and written again.
        if metrics.objects > metrics.objects_skipped {
            let started = Instant::now();
            self.runner.save_state().await;
            metrics.add_stage_time("State", started.elapsed());
        }
        self.runner.enricher.publish_metrics(&mut metrics);
        let now = Instant::now();
        for (name, value, unit) in crate::metrics::resources::gauges(
            crate::metrics::resources::max_rss_bytes(),
            self.platform.memory_limit_mb,
            now.duration_since(invoked),
            deadline.saturating_duration_since(now),
        ) {
            metrics.gauges.insert(name.into(), (value, unit));
        }
        metrics.write_emf(
            &mut std::io::stdout().lock(),
            chrono::Utc::now().timestamp_millis(),
            &self.platform.function_name,
        );
        result
    }

    /// Shared learning (pattern database, score history, model manifest) is an improvement,
    /// not a precondition: without it the function starts from scratch.
    async fn load_state_once(&self, metrics: &mut InvocationMetrics) {
        let started = Instant::now();
        self.state_loaded
            .get_or_init(|| self.runner.load_state())
            .await;
        metrics.add_stage_time("State", started.elapsed());
    }

    /// Answers each task of an S3 Batch Operations invocation with its result code:
    /// `Succeeded` (delivered, or already delivered before), `TemporaryFailure` (Batch
    /// Operations retries it; the ledger's checkpoint resumes it) or `PermanentFailure`.
    /// Tasks the deadline leaves no time for are not started.
    async fn process_batch_job(
        &self,
        job: &BatchJob,
        deadline: Instant,
        owner: &str,
        metrics: &mut InvocationMetrics,
    ) -> S3BatchJobResponse {
        let arguments = JobArguments::read(&job.user_arguments);
        if let Ok(arguments) = &arguments {
            tracing::info!(job = %job.job_id, format = ?arguments.format.map(Format::name),
                dry_run = arguments.dry_run, ignored = ?arguments.ignored,
                "Batch Operations job arguments");
        }
        let mut response = S3BatchJobResponse::default();
        response.invocation_schema_version = Some(job.schema_version.clone());
        response.invocation_id = Some(job.invocation_id.clone());
        response.treat_missing_keys_as = Some(TaskResult::Temporary.code().to_string());
        for task in &job.tasks {
            let (result, reason) = match (&task.object, &arguments) {
                (_, Err(reason)) | (Err(reason), _) => (TaskResult::Permanent, reason.clone()),
                (Ok(_), _) if Instant::now() + self.runner.settings.safety_margin >= deadline => (
                    TaskResult::Temporary,
                    "the invocation's time ran out before this task started".to_string(),
                ),
                (Ok(object), Ok(arguments)) => {
                    self.process_task(object, arguments, deadline, owner, metrics)
                        .await
                }
            };
            tracing::info!(job = %job.job_id, task = %task.task_id, result = result.code(),
                %reason, "Batch Operations task");
            let mut answer = S3BatchJobResult::default();
            answer.task_id = Some(task.task_id.clone());
            answer.result_code = Some(result.code().to_string());
            answer.result_string = Some(reason);
            response.results.push(answer);
        }
        response
    }

    async fn process_task(
        &self,
        object: &ObjectRef,
        arguments: &JobArguments,
        deadline: Instant,
        owner: &str,
        metrics: &mut InvocationMetrics,
    ) -> (TaskResult, String) {
        metrics.objects += 1;
        if let Some(allowed) = &self.log_buckets
            && !allowed.contains(&object.bucket)
        {
            metrics.objects_failed += 1;
            return (
                TaskResult::Permanent,
                format!("{} is not a log bucket (LOG_BUCKETS)", object.bucket),
            );
        }
        if arguments.dry_run {
            return preview_result(self.runner.preview(object, arguments.format).await);
        }
        let outcome = self
            .runner
            .process_as(
                object,
                deadline,
                owner,
                arguments.format.or(self.runner.settings.format),
            )
            .await;
        if let Ok(report) = &outcome {
            record_object(metrics, object, report);
        } else {
            metrics.objects_failed += 1;
        }
        task_result(outcome)
    }

    /// Processes an envelope's objects; returns the failures that must be retried.
    async fn process_envelope(
        &self,
        envelope: &Envelope,
        deadline: Instant,
        owner: &str,
        metrics: &mut InvocationMetrics,
    ) -> Vec<RunError> {
        for note in &envelope.ignored {
            tracing::info!(reason = %note, "event ignored");
        }
        let mut failures = Vec::new();
        for object in &envelope.objects {
            metrics.objects += 1;
            if let Some(allowed) = &self.log_buckets
                && !allowed.contains(&object.bucket)
            {
                metrics.objects_failed += 1;
                tracing::error!(object = %object.uri(), bucket = %object.bucket,
                    "event names a bucket that is not a log bucket (LOG_BUCKETS); not read, not retried");
                continue;
            }
            match self.runner.process(object, deadline, owner).await {
                Ok(report) => record_object(metrics, object, &report),
                Err(e) if e.is_permanent() => {
                    metrics.objects_failed += 1;
                    tracing::error!(object = %object.uri(), error = %e, "object cannot be processed; not retried");
                }
                Err(e) => {
                    metrics.objects_failed += 1;
                    tracing::error!(object = %object.uri(), error = %e, "object failed; it will be retried");
                    failures.push(e);
                }
            }
        }
        failures
    }
}

/// What a Batch Operations job asks of the function through its `userArguments`
/// (schema 2.0; README "Backfill").
#[derive(Debug, Clone, Default, PartialEq)]
struct JobArguments {
    /// `format`: parse every object of the job as this format (objects whose key and
    /// content do not tell).
    format: Option<Format>,
    /// `dryRun`: `true` answers each task with what would happen, delivering nothing.
    dry_run: bool,
    /// Arguments this function does not read (a job may carry its own notes).
    ignored: Vec<String>,
}

impl JobArguments {
    /// The arguments, or why they are unusable (every task then fails permanently with
    /// that reason: a job asking for a format that does not exist must not deliver the
    /// objects as something else).
    fn read(arguments: &BTreeMap<String, String>) -> Result<JobArguments, String> {
        let mut read = JobArguments::default();
        for (name, value) in arguments {
            match name.as_str() {
                "format" => {
                    read.format = Some(Format::from_name(value).ok_or_else(|| {
                        let names: Vec<_> = Format::ALL.iter().map(|f| f.name()).collect();
                        format!(
                            "userArguments.format {value:?} is no format; one of: {}",
                            names.join(", ")
                        )
                    })?);
                }
                "dryRun" => {
                    read.dry_run = match value.to_ascii_lowercase().as_str() {
                        "true" => true,
                        "false" => false,
                        _ => {
                            return Err(format!(
                                "userArguments.dryRun {value:?} is neither true nor false"
                            ));
                        }
                    }
                }
                _ => read.ignored.push(name.clone()),
            }
        }
        Ok(read)
    }
}

/// A dry run's answer for one task: what a real run would do.
fn preview_result(preview: Result<Preview, RunError>) -> (TaskResult, String) {
    match preview {
        Ok(preview) if preview.delivered => (
            TaskResult::Succeeded,
            "dry run: already delivered (object ledger); would be skipped".to_string(),
        ),
        Ok(Preview {
            detection: Some(Detection::Skip(reason)),
            ..
        }) => (TaskResult::Permanent, format!("not a log object: {reason}")),
        Ok(preview) => (
            TaskResult::Succeeded,
            format!(
                "dry run: would deliver {} bytes as {}",
                preview.size.unwrap_or(0),
                match preview.detection {
                    Some(Detection::Parse(format)) => format.name(),
                    _ => "the format its content shows",
                }
            ),
        ),
        Err(e) => task_result(Err(e)),
    }
}

/// A Batch Operations result code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TaskResult {
    Succeeded,
    Temporary,
    Permanent,
}

impl TaskResult {
    fn code(self) -> &'static str {
        match self {
            TaskResult::Succeeded => "Succeeded",
            TaskResult::Temporary => "TemporaryFailure",
            TaskResult::Permanent => "PermanentFailure",
        }
    }
}

/// What Batch Operations should do with a task: a permanent failure only when a retry
/// cannot help (no such key, access denied, not a log object, corrupt); the deadline, a
/// busy lease, Sentinel or the state store unavailable are temporary.
fn task_result(outcome: Result<ObjectReport, RunError>) -> (TaskResult, String) {
    match outcome {
        Ok(report) if report.duplicate => (
            TaskResult::Succeeded,
            "already delivered (object ledger)".to_string(),
        ),
        Ok(report) => match (&report.parsed.skipped, &report.parsed.stream_error) {
            (Some(reason), _) => (TaskResult::Permanent, format!("not a log object: {reason}")),
            (None, Some(damage)) => (
                TaskResult::Permanent,
                format!(
                    "corrupt: {damage}; {} records before the damage were delivered",
                    report.delivery.accepted + report.delivery.dead_lettered
                ),
            ),
            (None, None) => (
                TaskResult::Succeeded,
                format!(
                    "{} records delivered, {} dead-lettered, {} rejected",
                    report.delivery.accepted,
                    report.delivery.dead_lettered,
                    report.parsed.stats.rejects
                ),
            ),
        },
        Err(RunError::Source(SourceError::NotFound(object))) => {
            (TaskResult::Permanent, format!("no such key: {object}"))
        }
        Err(RunError::Source(SourceError::AccessDenied(object))) => {
            (TaskResult::Permanent, format!("access denied: {object}"))
        }
        Err(e @ RunError::Object(_)) => (TaskResult::Permanent, format!("corrupt: {e}")),
        Err(e) => (TaskResult::Temporary, e.to_string()),
    }
}

fn record_object(metrics: &mut InvocationMetrics, object: &ObjectRef, report: &ObjectReport) {
    if report.duplicate || report.parsed.skipped.is_some() {
        metrics.objects_skipped += 1;
    }
    for (log_type, n) in &report.parsed.stats.records {
        metrics.log_type(log_type.name()).records_in += n;
    }
    for (log_type, n) in &report.delivery.accepted_by_type {
        metrics.log_type(log_type.name()).records_sent += n;
    }
    for (log_type, n) in &report.delivery.dead_lettered_by_type {
        metrics.log_type(log_type.name()).records_dead_lettered += n;
    }
    if report.parsed.stats.rejects > 0 {
        let name = report
            .parsed
            .stats
            .records
            .keys()
            .next()
            .map(|t| t.name())
            .unwrap_or("Unknown");
        metrics.log_type(name).records_rejected += report.parsed.stats.rejects;
    }
    metrics.bytes_in += report.parsed.bytes_in;
    metrics.bytes_decoded += report.parsed.bytes_decoded;
    metrics.requests += report.delivery.requests;
    metrics.retries += report.delivery.retries;
    metrics.throttles += report.delivery.throttles;
    metrics.bytes_sent += report.delivery.bytes_sent;
    metrics.add_stage_time("Parse", report.parse_time);
    metrics.add_stage_time("Deliver", report.deliver_time);
    if let Some(error) = &report.parsed.stream_error {
        tracing::error!(object = %object.uri(), %error, "object was damaged; records before the damage were delivered");
    }
    tracing::info!(
        object = %object.uri(),
        format = report.parsed.format.map(|f| f.name()).unwrap_or("-"),
        records = report.parsed.stats.total_records(),
        rejects = report.parsed.stats.rejects,
        accepted = report.delivery.accepted,
        dead_lettered = report.delivery.dead_lettered,
        alerts = report.alerts,
        duplicate = report.duplicate,
        resumed_from = report.resumed_from,
        "object done"
    );
}

/// JSON logs on stderr-free stdout, as CloudWatch expects, filtered by `RUST_LOG`.
pub fn init_tracing(filter: Option<&str>) {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            filter
                .and_then(|f| tracing_subscriber::EnvFilter::try_new(f).ok())
                .unwrap_or_else(|| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_current_span(false)
        .with_target(false)
        .without_time()
        .init();
}

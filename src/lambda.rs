//! The Lambda function: configuration and clients built once per cold start, then per
//! invocation: envelope -> objects -> [`Runner`] -> SQS batch response and EMF metrics.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::sqs::SqsBatchResponse;
use serde_json::{Value, json};

use crate::config::{Config, DeadLetterLocation};
use crate::enrich::PatternStage;
use crate::enrich::{Enricher, EnricherChain};
use crate::metrics::InvocationMetrics;
use crate::runner::{ObjectReport, RunError, Runner, RunnerSettings};
use crate::sink::SentinelDelivery;
use crate::sink::dead_letter::DeadLetter;
use crate::sink::sentinel::SentinelClient;
use crate::source::S3Source;
use crate::source::event::{Envelope, Invocation, ObjectRef, parse_invocation};
use crate::state::StateStore;
use crate::state::local::LocalDirStore;
use crate::state::s3::S3StateStore;

pub struct App {
    pub runner: Runner,
    pub function_name: String,
    /// The shared enrichment state is read by the first invocation, not at cold start, so
    /// the function asks for work as soon as its models are ready.
    state_loaded: tokio::sync::OnceCell<()>,
}

/// What the handler needs from the Lambda context.
pub struct InvocationContext {
    pub request_id: String,
    /// Milliseconds since the Unix epoch, as Lambda gives it.
    pub deadline_ms: u64,
}

impl InvocationContext {
    pub fn deadline(&self) -> Instant {
        let now_ms = chrono::Utc::now().timestamp_millis().max(0) as u64;
        Instant::now() + Duration::from_millis(self.deadline_ms.saturating_sub(now_ms))
    }
}

impl App {
    /// Cold start: validates the configuration (one clear error naming the variable) and
    /// builds the clients. Credentials are fetched at the first token request, so an
    /// unavailable Secrets Manager fails invocations (which are retried), not the start.
    pub async fn from_env(enricher: Arc<dyn Enricher>) -> anyhow::Result<App> {
        let config = Config::from_env()?;
        let aws = crate::setup::load_config().await;
        let s3 = crate::setup::s3_client(&aws);
        let client = SentinelClient::from_config(&config.sentinel).await?;
        let state: Option<Arc<dyn StateStore>> = config.state.as_ref().map(|loc| {
            Arc::new(S3StateStore::new(s3.clone(), &loc.bucket, &loc.prefix)) as Arc<dyn StateStore>
        });
        let (dead_letter, rejects): (Option<DeadLetter>, Option<Arc<dyn StateStore>>) =
            match &config.dead_letter {
                Some(DeadLetterLocation::S3(loc)) => (
                    Some(DeadLetter::s3(s3.clone(), loc)),
                    Some(Arc::new(S3StateStore::new(
                        s3.clone(),
                        &loc.bucket,
                        &loc.prefix,
                    ))),
                ),
                Some(DeadLetterLocation::Dir(dir)) => (
                    Some(DeadLetter::dir(dir.clone())),
                    Some(Arc::new(LocalDirStore::new(dir.clone()))),
                ),
                None => {
                    tracing::warn!(
                        "no DEAD_LETTER_BUCKET: rows Sentinel refuses will fail their object so it is retried"
                    );
                    (None, None)
                }
            };
        if state.is_none() {
            tracing::warn!(
                "no STATE_BUCKET: repeated S3 events are not deduplicated and timeouts restart objects"
            );
        }
        let runner = Runner {
            source: Arc::new(S3Source::new(s3)),
            state,
            delivery: Arc::new(SentinelDelivery {
                client,
                dead_letter,
                rejects,
            }),
            enricher,
            settings: runner_settings_from_env()?,
        };
        Ok(App {
            runner,
            function_name: std::env::var("AWS_LAMBDA_FUNCTION_NAME")
                .unwrap_or_else(|_| "s3-sentinel".into()),
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
                let mut response = SqsBatchResponse::default();
                for item in items {
                    let failed = match &item.envelope {
                        Err(reason) => {
                            tracing::error!(message_id = %item.message_id, %reason,
                                "SQS message is not an S3 event");
                            true
                        }
                        Ok(envelope) => !self
                            .process_envelope(envelope, deadline, &ctx.request_id, &mut metrics)
                            .await
                            .is_empty(),
                    };
                    if failed {
                        response.add_failure(item.message_id.clone());
                    }
                }
                Ok(serde_json::to_value(&response)?)
            }
        };
        if let Some(store) = &self.runner.state {
            let started = Instant::now();
            if let Err(e) = self.runner.enricher.save_state(store.as_ref()).await {
                tracing::warn!(error = %format!("{e:#}"), "could not save the enrichment state");
            }
            metrics.add_stage_time("State", started.elapsed());
        }
        self.runner.enricher.publish_metrics(&mut metrics);
        let now = Instant::now();
        for (name, value, unit) in crate::metrics::resources::gauges(
            crate::metrics::resources::max_rss_bytes(),
            crate::metrics::resources::memory_limit_mb(),
            now.duration_since(invoked),
            deadline.saturating_duration_since(now),
        ) {
            metrics.gauges.insert(name.into(), (value, unit));
        }
        metrics.write_emf(
            &mut std::io::stdout().lock(),
            chrono::Utc::now().timestamp_millis(),
            &self.function_name,
        );
        result
    }

    /// Shared learning (pattern database, score history, model manifest) is an improvement,
    /// not a precondition: without it the function starts from scratch.
    async fn load_state_once(&self, metrics: &mut InvocationMetrics) {
        let Some(store) = &self.runner.state else {
            return;
        };
        let started = Instant::now();
        self.state_loaded
            .get_or_init(|| async {
                if let Err(e) = self.runner.enricher.load_state(store.as_ref()).await {
                    tracing::warn!(error = %format!("{e:#}"), "could not load the enrichment state; starting fresh");
                }
            })
            .await;
        metrics.add_stage_time("State", started.elapsed());
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

fn record_object(metrics: &mut InvocationMetrics, object: &ObjectRef, report: &ObjectReport) {
    if report.duplicate || report.skipped.is_some() {
        metrics.objects_skipped += 1;
    }
    for (log_type, n) in &report.parse.records {
        metrics.log_type(log_type.name()).records_in += n;
    }
    for (log_type, n) in &report.delivery.accepted_by_type {
        metrics.log_type(log_type.name()).records_sent += n;
    }
    for (log_type, n) in &report.delivery.dead_lettered_by_type {
        metrics.log_type(log_type.name()).records_dead_lettered += n;
    }
    if report.parse.rejects > 0 {
        let name = report
            .parse
            .records
            .keys()
            .next()
            .map(|t| t.name())
            .unwrap_or("Unknown");
        metrics.log_type(name).records_rejected += report.parse.rejects;
    }
    metrics.bytes_in += report.bytes_in;
    metrics.bytes_decoded += report.bytes_decoded;
    metrics.requests += report.delivery.requests;
    metrics.retries += report.delivery.retries;
    metrics.throttles += report.delivery.throttles;
    metrics.bytes_sent += report.delivery.bytes_sent;
    metrics.add_stage_time("Parse", report.parse_time);
    metrics.add_stage_time("Deliver", report.deliver_time);
    if let Some(error) = &report.stream_error {
        tracing::error!(object = %object.uri(), %error, "object was damaged; records before the damage were delivered");
    }
    tracing::info!(
        object = %object.uri(),
        format = report.format.map(|f| f.name()).unwrap_or("-"),
        records = report.parse.total_records(),
        rejects = report.parse.rejects,
        accepted = report.delivery.accepted,
        dead_lettered = report.delivery.dead_lettered,
        alerts = report.alerts,
        duplicate = report.duplicate,
        resumed_from = report.resumed_from,
        "object done"
    );
}

/// Variables tuning the runner (optional).
pub mod vars {
    /// Records per batch (enriched, delivered and checkpointed together). Default 5000.
    pub const BATCH_RECORDS: &str = "S3_SENTINEL_BATCH_RECORDS";
    /// Seconds kept in reserve before the function's deadline to checkpoint and answer.
    /// Default 10.
    pub const SAFETY_MARGIN_SECONDS: &str = "S3_SENTINEL_SAFETY_MARGIN_SECONDS";
    /// Most decompressed bytes per object. Default 10 GiB.
    pub const MAX_DECOMPRESSED_BYTES: &str = "S3_SENTINEL_MAX_DECOMPRESSED_BYTES";
}

fn env_number<T: std::str::FromStr>(name: &'static str) -> anyhow::Result<Option<T>> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v.trim().parse().map(Some).map_err(|_| {
            anyhow::anyhow!("invalid configuration: {name}: must be a number, got {v:?}")
        }),
        _ => Ok(None),
    }
}

pub fn runner_settings_from_env() -> anyhow::Result<RunnerSettings> {
    let mut settings = RunnerSettings::default();
    if let Some(n) = env_number::<usize>(vars::BATCH_RECORDS)? {
        anyhow::ensure!(
            (1..=1_000_000).contains(&n),
            "invalid configuration: {}: must be 1-1000000, got {n}",
            vars::BATCH_RECORDS
        );
        settings.batch_records = n;
    }
    if let Some(secs) = env_number::<f64>(vars::SAFETY_MARGIN_SECONDS)? {
        anyhow::ensure!(
            (0.0..=600.0).contains(&secs),
            "invalid configuration: {}: must be 0-600 seconds, got {secs}",
            vars::SAFETY_MARGIN_SECONDS
        );
        settings.safety_margin = Duration::from_secs_f64(secs);
    }
    if let Some(bytes) = env_number::<u64>(vars::MAX_DECOMPRESSED_BYTES)? {
        settings.limits.max_decompressed_bytes = bytes;
    }
    Ok(settings)
}

/// The default enrichment of the shipped function: pattern analysis, then the ML models
/// (embedded defaults, swapped from `MODEL_BUCKET` when configured) with adaptive
/// thresholds kept in the state bucket. Fails on invalid ML variables, naming the variable.
pub fn default_enricher() -> anyhow::Result<Arc<dyn Enricher>> {
    let settings = crate::enrich::ModelSettings::from_env()
        .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
    let service = crate::enrich::ModelStage::new(settings)?;
    Ok(Arc::new(EnricherChain(vec![
        Arc::new(PatternStage::default()),
        Arc::new(service),
    ])))
}

/// JSON logs on stderr-free stdout, as CloudWatch expects, filtered by `RUST_LOG`.
pub fn init_tracing() {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_current_span(false)
        .with_target(false)
        .without_time()
        .init();
}

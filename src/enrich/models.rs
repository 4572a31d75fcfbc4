//! The model stage as the function and `s3-sentinel process` run it.
//!
//! At construction the embedded default models are loaded and optimized (no network, so
//! the cold start stays short). With a model store (`MODEL_BUCKET`), the first batch
//! checks its manifest (the cold-start check) and later batches check again at most
//! every [`ModelSettings::check_interval`]. With a state store (`STATE_BUCKET`), the
//! adaptive threshold history is loaded on the first batch and merged back at most every
//! [`ModelSettings::persist_interval`]. Network work runs on the async runtime the batch
//! comes from; without one (a purely synchronous caller) the embedded models serve and
//! nothing is fetched or stored.
//!
//! Drift: every scored record is counted into its log type's histograms (features and
//! anomaly score, bins of the manifest's reference profile for the log's family). At the
//! end of an invocation the counts are merged into `drift/<log-type>/<model-version>` in
//! the state prefix and the PSI of the merged window is published; without a state
//! bucket, the invocation's own counts are used.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::monitor::{LogTypeDrift, MonitorSnapshot, ShadowStats, StoredDrift};
use super::{EnrichConfig, Enricher, ModelScorer};
use crate::metrics::{GaugeDocument, InvocationMetrics};
use crate::ml::ModelHandle;
use crate::ml::embedded;
use crate::ml::runtime::ModelError;
use crate::ml::swap::{ModelSwapper, SwapConfig};
use crate::record::Record;
use crate::record::alert::{ConnectorAlert, DRIFT_ALERT_PREFIX};
use crate::state::{StateError, StateStore};

/// The model stage's settings (`config` reads them from the environment).
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSettings {
    /// Base `IsAnomaly` threshold (`ANOMALY_THRESHOLD`).
    pub anomaly_threshold: f64,
    /// `PriorityScore` at or above which a record raises an alert (`PRIORITY_THRESHOLD`).
    pub priority_threshold: f64,
    /// How often the model store is checked for a new manifest.
    pub check_interval: Duration,
    /// Ed25519 public key (hex): only manifests signed by its private key are served.
    pub public_key: Option<String>,
    /// Serve unsigned manifests when no key is configured (`MODEL_ALLOW_UNSIGNED`).
    pub allow_unsigned: bool,
    /// How often the threshold history is merged into the state store.
    pub persist_interval: Duration,
    /// Drift counts in the state store restart after this long.
    pub drift_window: Duration,
    /// Rows a log type's drift window needs before its PSI is published.
    pub drift_min_rows: u64,
}

impl Default for ModelSettings {
    fn default() -> Self {
        ModelSettings {
            anomaly_threshold: 0.95,
            priority_threshold: 0.8,
            check_interval: crate::ml::swap::DEFAULT_CHECK_INTERVAL,
            public_key: None,
            allow_unsigned: false,
            persist_interval: Duration::from_secs(5 * 60),
            drift_window: Duration::from_secs(24 * 3600),
            drift_min_rows: 200,
        }
    }
}

/// Largest stored drift window read (a healthy one is a few KB).
const MAX_DRIFT_BYTES: u64 = 1024 * 1024;

struct Upkeep {
    started: bool,
    swapper: Option<ModelSwapper>,
    state: Option<Arc<dyn StateStore>>,
    last_persist: Instant,
}

/// The enricher with its upkeep (model swaps, threshold history).
pub struct ModelStage {
    scorer: ModelScorer,
    settings: ModelSettings,
    upkeep: Mutex<Upkeep>,
    /// Drift reports of the merged windows, from `save_state`, for `publish_metrics`.
    merged: Mutex<Option<Measured>>,
    drift_alerts: Mutex<DriftAlerts>,
}

/// Drift alert rows waiting for the next batch's delivery, and what this process already
/// raised (one alert per log type, model version and day).
#[derive(Default)]
struct DriftAlerts {
    raised: std::collections::HashSet<String>,
    pending: Vec<crate::record::Row>,
}

/// What one invocation measured, ready to publish.
#[derive(Default)]
struct Measured {
    drift: Vec<LogTypeDrift>,
    shadow: Option<ShadowStats>,
    inference_us_per_record: Option<f64>,
}

impl ModelStage {
    /// Loads the embedded models; network work waits for the first batch. `models` is
    /// where newer model sets are published, `state` where the threshold history and
    /// drift counts are kept.
    pub fn new(
        settings: ModelSettings,
        models: Option<Arc<dyn StateStore>>,
        state: Option<Arc<dyn StateStore>>,
    ) -> Result<ModelStage, ModelError> {
        let mut config = EnrichConfig::default();
        config.thresholds.base = settings.anomaly_threshold;
        config.priority_threshold = settings.priority_threshold;
        let handle = ModelHandle::new(embedded::load()?);
        let swapper = models.map(|store| {
            let swapper = ModelSwapper::new(
                store,
                handle.clone(),
                SwapConfig {
                    interval: settings.check_interval,
                    public_key: settings.public_key.clone(),
                    allow_unsigned: settings.allow_unsigned,
                },
            );
            match &state {
                Some(state) => swapper.with_memory(state.clone()),
                None => swapper,
            }
        });
        Ok(ModelStage {
            scorer: ModelScorer::new(handle, config),
            settings,
            upkeep: Mutex::new(Upkeep {
                started: false,
                swapper,
                state,
                last_persist: Instant::now(),
            }),
            merged: Mutex::new(None),
            drift_alerts: Mutex::new(DriftAlerts::default()),
        })
    }

    /// The scorer the batches go through.
    pub fn scorer(&self) -> &ModelScorer {
        &self.scorer
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Upkeep> {
        self.upkeep.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cold-start work (first manifest check, threshold history) on the first call,
    /// then swap checks and threshold merges when due.
    pub async fn upkeep(&self) {
        let mut upkeep = {
            let mut guard = self.lock();
            std::mem::replace(
                &mut *guard,
                Upkeep {
                    started: true,
                    swapper: None,
                    state: None,
                    last_persist: Instant::now(),
                },
            )
        };
        if !upkeep.started {
            upkeep.started = true;
            if let Some(state) = &upkeep.state
                && let Err(e) = self.scorer.load_thresholds(state.as_ref()).await
            {
                tracing::warn!(error = %e, "anomaly threshold history not loaded; starting from anomaly_threshold");
            }
            if let Some(swapper) = upkeep.swapper.as_mut() {
                swapper.check_now().await;
            }
        } else if let Some(swapper) = upkeep.swapper.as_mut() {
            swapper.check_if_due(Instant::now()).await;
        }
        if let Some(state) = &upkeep.state
            && upkeep.last_persist.elapsed() >= self.settings.persist_interval
        {
            match self
                .scorer
                .persist_thresholds(state.as_ref(), chrono::Utc::now())
                .await
            {
                Ok(()) => upkeep.last_persist = Instant::now(),
                Err(e) => {
                    tracing::warn!(error = %e, "anomaly threshold history not saved; kept for the next attempt")
                }
            }
        }
        *self.lock() = upkeep;
    }

    /// Merges the threshold history now (end of an invocation, shutdown).
    pub async fn flush(&self) {
        let state = self.lock().state.clone();
        if let Some(state) = state {
            match self
                .scorer
                .persist_thresholds(state.as_ref(), chrono::Utc::now())
                .await
            {
                Ok(()) => self.lock().last_persist = Instant::now(),
                Err(e) => tracing::warn!(error = %e, "anomaly threshold history not saved"),
            }
        }
    }

    /// Merges the drift counts measured since the last call into
    /// `drift/<log-type>/<model-version>` (conditional writes, so concurrent invocations
    /// add up) and keeps the PSI of the merged windows for [`ModelStage::publish`].
    pub async fn merge_drift(&self, store: &dyn StateStore) {
        let snapshot = self.scorer.take_monitor();
        let now = chrono::Utc::now();
        let mut measured = Measured {
            shadow: snapshot.shadow.clone(),
            inference_us_per_record: snapshot.inference_us_per_record(),
            drift: Vec::new(),
        };
        for entry in &snapshot.drift {
            let key = entry.state_key();
            let window = self.settings.drift_window;
            let result = crate::state::update(store, &key, MAX_DRIFT_BYTES, |old| {
                let merged = StoredDrift::merged(old, &entry.counts, now, window)
                    .map_err(|e| StateError::Damaged(format!("{key}: {e}")))?;
                Ok(serde_json::to_vec(&merged).expect("drift counts serialize"))
            })
            .await;
            let counts = match result.map(|bytes| serde_json::from_slice::<StoredDrift>(&bytes)) {
                Ok(Ok(stored)) => stored.counts,
                Ok(Err(e)) => {
                    tracing::warn!(%key, error = %e, "drift counts written but not read back; publishing this invocation's");
                    entry.counts.clone()
                }
                Err(e) => {
                    tracing::warn!(%key, error = %e, "drift counts not merged; publishing this invocation's");
                    entry.counts.clone()
                }
            };
            measured.drift.extend(LogTypeDrift::new(entry, &counts));
        }
        self.raise_drift_alerts(&measured.drift, now);
        *self.merged.lock().unwrap_or_else(|e| e.into_inner()) = Some(measured);
    }

    /// Queues an alert row for each log type whose merged window drifts beyond the alarm
    /// level, once per log type, model version and day; the next batch delivers them to the
    /// alert stream, where Sentinel's connector health rule matches them.
    fn raise_drift_alerts(&self, drift: &[LogTypeDrift], now: chrono::DateTime<chrono::Utc>) {
        let mut alerts = self.drift_alerts.lock().unwrap_or_else(|e| e.into_inner());
        for d in drift {
            if d.report.rows < self.settings.drift_min_rows
                || !d.report.is_drifting(crate::ml::drift::DEFAULT_PSI_ALARM)
            {
                continue;
            }
            let key = format!(
                "{}/{}/{}",
                d.log_type,
                d.model_version,
                now.format("%Y-%m-%d")
            );
            if alerts.raised.insert(key.clone()) {
                alerts.pending.push(drift_alert_row(d, &key, now));
            }
        }
    }

    /// The EMF gauges of what was measured: merged windows when [`ModelStage::merge_drift`]
    /// ran, else this process's counts since the last call.
    pub fn publish(&self, metrics: &mut InvocationMetrics) {
        let measured = self
            .merged
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .unwrap_or_else(|| local_measure(self.scorer.take_monitor()));
        if let Some(us) = measured.inference_us_per_record {
            metrics
                .gauges
                .insert("InferenceLatencyPerRecord".into(), (us, "Microseconds"));
        }
        if let Some(shadow) = &measured.shadow {
            for (name, value, unit) in shadow.gauges() {
                metrics.gauges.insert(name.into(), (value, unit));
            }
        }
        let mut max_feature: Option<f64> = None;
        let mut max_score: Option<f64> = None;
        for d in &measured.drift {
            if d.report.rows < self.settings.drift_min_rows {
                continue;
            }
            max_feature = Some(max_feature.unwrap_or(0.0).max(d.report.max_feature_psi));
            max_score = Some(max_score.unwrap_or(0.0).max(d.report.score_psi));
            let mut gauges = vec![
                ("DriftRows".to_string(), d.report.rows as f64, "Count"),
                ("DriftScorePsi".to_string(), d.report.score_psi, "None"),
                (
                    "DriftMaxFeaturePsi".to_string(),
                    d.report.max_feature_psi,
                    "None",
                ),
            ];
            for ((name, psi), informative) in d.report.per_feature.iter().zip(&d.informative) {
                if *informative {
                    gauges.push((format!("Psi.{name}"), *psi, "None"));
                }
            }
            if d.report.is_drifting(crate::ml::drift::DEFAULT_PSI_ALARM) {
                tracing::warn!(
                    log_type = %d.log_type,
                    model_version = %d.model_version,
                    rows = d.report.rows,
                    score_psi = d.report.score_psi,
                    max_feature_psi = d.report.max_feature_psi,
                    feature = ?d.report.most_drifted_feature,
                    "live records drift from the models' training distribution"
                );
            }
            metrics.documents.push(GaugeDocument {
                dimensions: vec![("LogType".into(), d.log_type.clone())],
                gauges,
            });
        }
        if let Some(v) = max_feature {
            metrics
                .gauges
                .insert("DriftMaxFeaturePsi".into(), (v, "None"));
        }
        if let Some(v) = max_score {
            metrics.gauges.insert("DriftScorePsi".into(), (v, "None"));
        }
    }

    /// Runs [`ModelStage::upkeep`] from a synchronous caller: on the async runtime the
    /// caller runs under, if any (the runner's batches run on its blocking threads).
    fn upkeep_blocking(&self) {
        let needs_network = {
            let upkeep = self.lock();
            upkeep.swapper.is_some() || upkeep.state.is_some()
        };
        if !needs_network {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                if tokio::runtime::Handle::current().runtime_flavor()
                    == tokio::runtime::RuntimeFlavor::CurrentThread
                {
                    // Blocking a current-thread runtime from inside it would deadlock.
                    return;
                }
                tokio::task::block_in_place(|| handle.block_on(self.upkeep()));
            }
            Err(_) => {
                let mut upkeep = self.lock();
                if !upkeep.started {
                    upkeep.started = true;
                    tracing::info!(
                        "no async runtime: model bucket and threshold history are not used"
                    );
                }
            }
        }
    }
}

#[async_trait::async_trait]
impl Enricher for ModelStage {
    fn enrich(&self, records: &mut [Record]) -> Vec<crate::record::Row> {
        self.upkeep_blocking();
        let mut alerts = std::mem::take(
            &mut self
                .drift_alerts
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pending,
        );
        alerts.extend(Enricher::enrich(&self.scorer, records));
        alerts
    }

    /// Cold start: model manifest check and threshold history, before the first batch.
    async fn load_state(&self, _store: &dyn StateStore) -> anyhow::Result<()> {
        self.upkeep().await;
        Ok(())
    }

    /// End of an invocation: the threshold history and the drift counts are merged into
    /// the state bucket.
    async fn save_state(&self, store: &dyn StateStore) -> anyhow::Result<()> {
        self.flush().await;
        self.merge_drift(store).await;
        Ok(())
    }

    fn publish_metrics(&self, metrics: &mut InvocationMetrics) {
        self.publish(metrics);
    }
}

/// An `S3SentinelAlerts_CL` row about a drifting log type. Its id derives from the log
/// type, model version and day, so the copies concurrent functions raise are one alert at
/// query time.
fn drift_alert_row(
    d: &LogTypeDrift,
    key: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> crate::record::Row {
    use crate::record::{LogType, RecordId};
    let id = RecordId(xxhash_rust::xxh3::xxh3_128(
        format!("drift:{key}").as_bytes(),
    ));
    let log_type = LogType::from_name(&d.log_type).unwrap_or(LogType::Text);
    let feature = d.report.most_drifted_feature.as_deref().unwrap_or("(none)");
    let source_object = format!("drift/{key}");
    ConnectorAlert {
        id,
        time: now,
        name: format!(
            "{}: {} records drift from model {}",
            DRIFT_ALERT_PREFIX, d.log_type, d.model_version
        ),
        severity: "Medium",
        description: format!(
            "Over the last window {} {} records scored by model {} differ from its training \
             distribution: population stability index of AnomalyScore {:.3}, largest feature \
             PSI {:.3} ({feature}); above {} the scores are no longer comparable with those \
             the thresholds were set on. Evaluate and retrain (docs/lifecycle.md).",
            d.report.rows,
            d.log_type,
            d.model_version,
            d.report.score_psi,
            d.report.max_feature_psi,
            crate::ml::drift::DEFAULT_PSI_ALARM
        ),
        trigger: "drift",
        source_table: log_type.table(),
        summary: format!(
            "{} rows, score PSI {:.3}, max feature PSI {:.3} ({feature})",
            d.report.rows, d.report.score_psi, d.report.max_feature_psi
        ),
        source_record_id: None,
        log_type,
        source_object: &source_object,
        ordinal: 0,
    }
    .into_row()
}

fn local_measure(snapshot: MonitorSnapshot) -> Measured {
    Measured {
        drift: snapshot
            .drift
            .iter()
            .filter_map(|e| LogTypeDrift::new(e, &e.counts))
            .collect(),
        shadow: snapshot.shadow.clone(),
        inference_us_per_record: snapshot.inference_us_per_record(),
    }
}

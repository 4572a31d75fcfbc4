//! The model stage's core: scores batches of records with the model set in service,
//! writes the enrichment columns, decides `IsAnomaly` against the adaptive thresholds and
//! builds the alerts. The model set is shared through a [`ModelHandle`] that the swapper
//! can replace while batches are being scored: each batch uses one set from start to end.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde_json::value::RawValue;

use super::alerts::{Alert, ScoredRecord, Trigger};
use super::priority::{self, Detected, Priority, RecordScores};
use super::thresholds::{AdaptiveThresholds, ThresholdConfig};
use super::{Enricher, monitor, reasons};
use crate::features::{Extractor, F, N_FEATURES};
use crate::ml::knowledge::Knowledge;
use crate::ml::runtime::{ModelError, ModelSet};
use crate::ml::{Category, ModelHandle};
use crate::record::{LogType, Record, Row, Value, columns};
use crate::state::{StateError, StateStore};

/// How [`ModelScorer`] decides `IsAnomaly` and alerts.
#[derive(Debug, Clone)]
pub struct EnrichConfig {
    /// The anomaly thresholds, fixed and adaptive.
    pub thresholds: ThresholdConfig,
    /// `priority_threshold`: records at or above it produce an alert.
    pub priority_threshold: f64,
}

impl Default for EnrichConfig {
    fn default() -> Self {
        EnrichConfig {
            thresholds: ThresholdConfig::default(),
            priority_threshold: 0.8,
        }
    }
}

/// Scores records with the model set in service and writes the enrichment columns.
pub struct ModelScorer {
    models: ModelHandle,
    extractor: Extractor,
    config: EnrichConfig,
    thresholds: Mutex<AdaptiveThresholds>,
    monitor: Mutex<monitor::MonitorSnapshot>,
}

/// Six decimals are plenty for a score and keep rows short.
fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

impl ModelScorer {
    /// A scorer over `models`, with no threshold history yet.
    pub fn new(models: ModelHandle, config: EnrichConfig) -> Self {
        let thresholds = AdaptiveThresholds::new(config.thresholds.clone());
        ModelScorer {
            models,
            extractor: Extractor::new(),
            config,
            thresholds: Mutex::new(thresholds),
            monitor: Mutex::new(monitor::MonitorSnapshot::default()),
        }
    }

    /// Uses the pattern stage's features for the pattern slot.
    pub fn with_extractor(mut self, extractor: Extractor) -> Self {
        self.extractor = extractor;
        self
    }

    /// The handle on the model set in service.
    pub fn models(&self) -> &ModelHandle {
        &self.models
    }

    /// The configuration it scores with.
    pub fn config(&self) -> &EnrichConfig {
        &self.config
    }

    /// The feature extractor the models' inputs come from.
    pub fn extractor(&self) -> &Extractor {
        &self.extractor
    }

    /// What was measured since the last call (drift counts, inference time, shadow
    /// agreement), and a fresh start.
    pub fn take_monitor(&self) -> monitor::MonitorSnapshot {
        std::mem::take(&mut *self.monitor.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The threshold `IsAnomaly` currently uses for a log type.
    pub fn anomaly_threshold(&self, log_type: LogType) -> f64 {
        self.lock_thresholds().threshold(log_type)
    }

    fn lock_thresholds(&self) -> std::sync::MutexGuard<'_, AdaptiveThresholds> {
        self.thresholds.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Scores records without changing them or the threshold history.
    pub fn score(&self, records: &[Record]) -> Result<Vec<RecordScores>, ModelError> {
        let models = self.models.current();
        let (features, known) = models.features_and_knowledge(&self.extractor, records);
        self.score_features(&models, records, &features, known, true)
    }

    /// Whether a record's reasons are worth their cost: an analyst reads them on records
    /// at Medium or above and on alerts; the Low bulk (most of any trail) goes without.
    fn explains(&self, priority_score: f64, is_anomaly: bool) -> bool {
        Priority::from_score(priority_score) >= Priority::Medium
            || is_anomaly
            || priority_score >= self.config.priority_threshold
    }

    /// Scores records; `explain_all` finds the reason slots of every record, otherwise
    /// only of those [`Self::explains`] picks.
    fn score_features(
        &self,
        models: &ModelSet,
        records: &[Record],
        features: &[f32],
        known: Vec<Knowledge<'_>>,
        explain_all: bool,
    ) -> Result<Vec<RecordScores>, ModelError> {
        let scores = models.score(features)?;
        let thresholds = self.lock_thresholds();
        Ok(records
            .iter()
            .zip(known)
            .enumerate()
            .map(|(i, (record, known))| {
                let anomaly = scores.anomaly[i] as f64;
                let p = scores.probabilities_of(i);
                let probabilities = [p[0] as f64, p[1] as f64, p[2] as f64, p[3] as f64];
                let row = &features[i * N_FEATURES..(i + 1) * N_FEATURES];
                let source_fatal = row[F::TextFatal as usize] >= 0.5;
                let (category, confidence) = priority::category_of(p, source_fatal);
                let evidence = priority::Evidence::of(
                    record,
                    &known.matches,
                    known.flags.as_deref(),
                    source_fatal,
                );
                let priority_score = priority::priority_score(p, anomaly, evidence);
                let threshold = thresholds.threshold(record.log_type);
                let is_anomaly = anomaly >= threshold;
                let reason_slots = if explain_all || self.explains(priority_score, is_anomaly) {
                    reasons::top_slots(
                        scores.contributions_of(i),
                        scores.critical_contributions_of(i),
                        anomaly,
                        probabilities[Category::CriticalSecurity.index()],
                        row,
                    )
                } else {
                    Vec::new()
                };
                RecordScores {
                    anomaly_score: anomaly,
                    is_anomaly,
                    anomaly_threshold: threshold,
                    category,
                    category_confidence: confidence,
                    probabilities,
                    priority_score,
                    priority: Priority::from_score(priority_score),
                    detections: known.matches.into_iter().map(Detected::from).collect(),
                    reason_slots,
                }
            })
            .collect())
    }

    /// Scores a batch, writes the enrichment columns, records the scores in the
    /// threshold history, and returns the alerts the batch raised.
    pub fn enrich(&self, records: &mut [Record]) -> Result<Vec<Alert>, ModelError> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let models = self.models.current();
        let version = models.version().to_string();
        let started = Instant::now();
        let (features, known) = models.features_and_knowledge(&self.extractor, records);
        let scored = self.score_features(&models, records, &features, known, false)?;
        let inference_time = started.elapsed();
        self.observe(&models, records, &features, &scored, inference_time);
        let mut alerts = Vec::new();
        let mut reasons = String::with_capacity(256);
        for (record, s) in records.iter_mut().zip(&scored) {
            reasons.clear();
            if self.explains(s.priority_score, s.is_anomaly) {
                reasons::render(record, &s.detections, &s.reason_slots, &mut reasons);
                let raw = RawValue::from_string(reasons.clone()).expect("reasons are JSON");
                record.set(columns::ANOMALY_REASONS, Value::Json(raw));
            }
            record.set(columns::ANOMALY_SCORE, round6(s.anomaly_score));
            record.set(columns::IS_ANOMALY, s.is_anomaly);
            record.set(columns::LOG_CATEGORY, s.category.name());
            record.set(
                columns::LOG_CATEGORY_CONFIDENCE,
                round6(s.category_confidence),
            );
            record.set(columns::PRIORITY_SCORE, round6(s.priority_score));
            record.set(columns::PRIORITY, s.priority.name());
            record.set(columns::MODEL_VERSION, version.as_str());
            if !s.detections.is_empty() {
                let json = serde_json::to_string(&s.detections).expect("matches serialize");
                let raw = RawValue::from_string(json).expect("matches are JSON");
                record.set(columns::DETECTION_RULES, Value::Json(raw));
            }
            let by_priority = s.priority_score >= self.config.priority_threshold;
            let trigger = match (s.is_anomaly, by_priority) {
                (true, true) => Some(Trigger::Both),
                (true, false) => Some(Trigger::Anomaly),
                (false, true) => Some(Trigger::Priority),
                (false, false) => None,
            };
            if let Some(trigger) = trigger {
                alerts.push(Alert::for_record(
                    record,
                    trigger,
                    &ScoredRecord {
                        anomaly_score: round6(s.anomaly_score),
                        priority_score: round6(s.priority_score),
                        category: s.category.name(),
                        reasons_json: &reasons,
                        model_version: &version,
                    },
                ));
            }
        }
        let mut thresholds = self.lock_thresholds();
        for (record, s) in records.iter().zip(&scored) {
            thresholds.observe(record.log_type, s.anomaly_score);
        }
        Ok(alerts)
    }

    /// Drift counts, inference time, and the shadow set's scores of the same records
    /// (which change nothing in the output).
    fn observe(
        &self,
        models: &Arc<ModelSet>,
        records: &[Record],
        features: &[f32],
        scored: &[RecordScores],
        inference_time: std::time::Duration,
    ) {
        let shadow = self.models.shadow().and_then(|shadow| {
            // The shadow set may fill unanalyzed records' pattern slots differently.
            let (shadow_features, known) = shadow.features_and_knowledge(&self.extractor, records);
            match self.score_features(&shadow, records, &shadow_features, known, false) {
                Ok(s) => Some((shadow, s)),
                Err(e) => {
                    tracing::warn!(error = %e, shadow = %shadow.version(), "shadow models failed to score a batch");
                    None
                }
            }
        });
        let mut m = self.monitor.lock().unwrap_or_else(|e| e.into_inner());
        m.inference_time += inference_time;
        m.records += records.len() as u64;
        for (i, (record, s)) in records.iter().zip(scored).enumerate() {
            m.observe_drift(
                models,
                record.log_type,
                &features[i * N_FEATURES..(i + 1) * N_FEATURES],
                s.anomaly_score as f32,
            );
        }
        if let Some((shadow, shadow_scores)) = shadow {
            let stats = m.shadow.get_or_insert_with(Default::default);
            if stats.shadow_version != shadow.version() {
                *stats = monitor::ShadowStats {
                    shadow_version: shadow.version().to_string(),
                    ..Default::default()
                };
            }
            for (a, b) in scored.iter().zip(&shadow_scores) {
                stats.observe(a, b);
            }
        }
    }

    /// Enriches a batch; when the models fail, the records leave unenriched and the
    /// failure is logged, so a model problem never loses data.
    pub fn enrich_or_log(&self, records: &mut [Record]) -> Vec<Alert> {
        match self.enrich(records) {
            Ok(alerts) => alerts,
            Err(e) => {
                tracing::error!(error = %e, records = records.len(),
                    "scoring failed; the batch is delivered without ML columns");
                Vec::new()
            }
        }
    }

    /// Loads the stored threshold history (cold start).
    pub async fn load_thresholds<S: StateStore + ?Sized>(
        &self,
        store: &S,
    ) -> Result<(), StateError> {
        let mut loaded = AdaptiveThresholds::new(self.config.thresholds.clone());
        loaded.load(store).await?;
        self.lock_thresholds().adopt(&loaded);
        Ok(())
    }

    /// Merges this process's score history into the stored one. On failure the
    /// observations stay pending for the next attempt.
    pub async fn persist_thresholds<S: StateStore + ?Sized>(
        &self,
        store: &S,
        now: DateTime<Utc>,
    ) -> Result<(), StateError> {
        let mut batch = self.lock_thresholds().take_pending();
        match batch.persist(store, now).await {
            Ok(()) => {
                self.lock_thresholds().adopt(&batch);
                Ok(())
            }
            Err(e) => {
                self.lock_thresholds().restore_pending(batch);
                Err(e)
            }
        }
    }
}

/// The runner's enrichment stage: alerts become rows for the alert table.
impl Enricher for ModelScorer {
    fn enrich(&self, records: &mut [Record]) -> Vec<Row> {
        self.enrich_or_log(records)
            .iter()
            .map(|alert| Row {
                log_type: alert.source_log_type,
                table: crate::record::Table::S3SentinelAlerts,
                record_id: alert.id(),
                source_object: alert.source_object.clone(),
                ordinal: alert.source_ordinal,
                json: alert.to_json(),
            })
            .collect()
    }
}

#[cfg(all(test, feature = "tools"))]
mod tests {
    use super::*;
    use crate::record::time::parse_iso8601;
    use crate::state::local::LocalDirStore;
    use crate::training::artifacts::{Provenance, train_and_export};
    use crate::training::train::tests::{toy_config, toy_dataset};

    pub(crate) fn toy_models() -> ModelSet {
        let data = toy_dataset(1_200, 21);
        let artifacts = train_and_export(
            &data,
            &crate::training::train::Dataset::new(),
            &toy_config(200),
            &Provenance {
                set_version: "toy-1".into(),
                source: "toy".into(),
                labelling: "toy".into(),
            },
        )
        .unwrap();
        artifacts.load().unwrap()
    }

    fn cloudtrail(name: &str, source: &str, identity: &str, ip: &str) -> Record {
        let mut r = Record::new(LogType::CloudTrail);
        r.time = parse_iso8601("2025-01-07T11:00:00Z");
        r.push("EventName", name);
        r.push("EventSource", source);
        r.push("UserIdentityType", identity);
        r.push("SourceIpAddress", ip);
        r
    }

    #[test]
    fn enrich_writes_every_column_and_raises_alerts() {
        let enricher = ModelScorer::new(ModelHandle::new(toy_models()), EnrichConfig::default());
        let mut records = vec![
            cloudtrail(
                "StopLogging",
                "cloudtrail.amazonaws.com",
                "IAMUser",
                "198.51.100.1",
            ),
            cloudtrail(
                "DescribeInstances",
                "ec2.amazonaws.com",
                "AssumedRole",
                "10.0.0.1",
            ),
        ];
        let alerts = enricher.enrich(&mut records).unwrap();
        for r in &records {
            for c in [
                columns::ANOMALY_SCORE,
                columns::IS_ANOMALY,
                columns::LOG_CATEGORY,
                columns::LOG_CATEGORY_CONFIDENCE,
                columns::PRIORITY_SCORE,
                columns::PRIORITY,
                columns::MODEL_VERSION,
            ] {
                assert!(r.get(c).is_some(), "{c} missing");
                assert!(r.table().column_type(c).is_some());
            }
            let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
            // Reasons are written for records an analyst reads: Medium and above, anomalies.
            let explained = json["Priority"] != "Low" || json["IsAnomaly"] == true;
            assert_eq!(json["AnomalyReasons"].is_array(), explained, "{json}");
            assert_eq!(json["ModelVersion"], "toy-1");
        }
        let score = |r: &Record| r.get(columns::PRIORITY_SCORE).unwrap().as_f64().unwrap();
        assert!(score(&records[0]) > score(&records[1]));
        assert_eq!(
            records[0].get_str(columns::LOG_CATEGORY),
            Some("critical_security")
        );
        assert!(alerts.iter().any(|a| a.source_record_id == records[0].id));
        // Enriching twice replaces the columns instead of duplicating them.
        let before = records[0].columns.len();
        enricher.enrich(&mut records).unwrap();
        assert_eq!(records[0].columns.len(), before);
    }

    #[tokio::test]
    async fn threshold_history_survives_a_cold_start() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDirStore::new(dir.path());
        let config = EnrichConfig {
            thresholds: ThresholdConfig {
                min_history: 50.0,
                ..ThresholdConfig::default()
            },
            ..EnrichConfig::default()
        };
        let models = ModelHandle::new(toy_models());
        let first = ModelScorer::new(models.clone(), config.clone());
        // A log type where every record is scored as unusual raises its own bar.
        let mut records: Vec<Record> = (0..80)
            .map(|_| {
                cloudtrail(
                    "StopLogging",
                    "cloudtrail.amazonaws.com",
                    "IAMUser",
                    "198.51.100.1",
                )
            })
            .collect();
        first.enrich(&mut records).unwrap();
        let learned = first.anomaly_threshold(LogType::CloudTrail);
        let now = parse_iso8601("2025-01-07T12:00:00Z").unwrap();
        first.persist_thresholds(&store, now).await.unwrap();

        let second = ModelScorer::new(models, config);
        assert_eq!(second.anomaly_threshold(LogType::CloudTrail), 0.95);
        second.load_thresholds(&store).await.unwrap();
        assert_eq!(second.anomaly_threshold(LogType::CloudTrail), learned);
    }
}

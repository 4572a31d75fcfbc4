//! The connector API of the seed design: `detect_anomalies` and `get_priorities` over
//! [`Record`]s, backed by the ONNX models (`update_models`, which trains, is tooling:
//! `training::update`).

use crate::features::{FeatureVector, N_FEATURES};
use crate::ml::Category;
use crate::ml::runtime::{ModelError, ModelSet};
use crate::record::{Record, RecordId};

use super::priority::{Detected, RecordScores};
use super::reasons;
use super::{Alert, EnrichConfig, ModelScorer, Priority};
use crate::ml::ModelHandle;

/// What [`Connector::detect_anomalies`] says about one record.
#[derive(Debug, Clone, PartialEq)]
pub struct AnomalyResult {
    pub record_id: RecordId,
    /// 0..=1: `1 - p^(1/3)`, `p` the share of normal traffic of the same log family that
    /// looks more unusual (0.95 ≈ one in 8,000).
    pub anomaly_score: f64,
    pub is_anomaly: bool,
    /// The threshold `is_anomaly` was decided with (the larger of `anomaly_threshold`
    /// and the log type's adaptive threshold).
    pub threshold: f64,
    /// Two or three facts behind the scores, in words.
    pub reasons: Vec<String>,
}

/// What [`Connector::get_priorities`] says about one record.
#[derive(Debug, Clone, PartialEq)]
pub struct PriorityResult {
    pub record_id: RecordId,
    pub priority_score: f64,
    pub priority: Priority,
    pub category: Category,
    pub category_confidence: f64,
    /// The detection rules the record matched, highest level first.
    pub detections: Vec<Detected>,
}

/// Scores records with the anomaly model and the classifier, and retrains them.
///
/// ```
/// use s3_sentinel_connector::Connector;
/// use s3_sentinel_connector::{LogType, Record};
///
/// let connector = Connector::new()?; // the models embedded in the binary
/// let mut stop = Record::new(LogType::CloudTrail);
/// stop.push("EventSource", "cloudtrail.amazonaws.com");
/// stop.push("EventName", "StopLogging");
/// stop.push("UserIdentityType", "IAMUser");
/// stop.push("UserIdentityAccessKeyId", "AKIAIOSFODNN7EXAMPLE");
/// stop.push("SourceIpAddress", "198.51.100.7");
/// let mut read = Record::new(LogType::CloudTrail);
/// read.push("EventSource", "ec2.amazonaws.com");
/// read.push("EventName", "DescribeInstances");
/// read.push("UserIdentityType", "AssumedRole");
/// read.push("SourceIpAddress", "10.0.4.20");
/// read.push("ReadOnly", true);
///
/// let anomalies = connector.detect_anomalies(&[stop.clone(), read.clone()])?;
/// assert!(anomalies[0].anomaly_score > anomalies[1].anomaly_score);
/// assert!(anomalies[0].reasons.len() >= 2);
///
/// let priorities = connector.get_priorities(&[stop, read])?;
/// assert!(priorities[0].priority_score > priorities[1].priority_score);
/// println!("{:?} {}", priorities[0].priority, priorities[0].category);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Connector {
    scorer: ModelScorer,
}

impl Connector {
    /// A connector with the default models embedded in the binary.
    pub fn new() -> Result<Connector, ModelError> {
        Ok(Connector::with_models(crate::ml::embedded::load()?))
    }

    /// A connector with `models` and the default configuration.
    pub fn with_models(models: ModelSet) -> Connector {
        Connector::with_config(models, EnrichConfig::default())
    }

    /// A connector with `models` and `config`.
    pub fn with_config(models: ModelSet, config: EnrichConfig) -> Connector {
        Connector {
            scorer: ModelScorer::new(ModelHandle::new(models), config),
        }
    }

    /// The scorer behind both calls.
    pub fn scorer(&self) -> &ModelScorer {
        &self.scorer
    }

    /// Version of the model set in service.
    pub fn model_version(&self) -> String {
        self.scorer.models().current().version().to_string()
    }

    /// The feature vectors the models see for these records (what `update_models`
    /// takes).
    pub fn extract_features(&self, records: &[Record]) -> Vec<FeatureVector> {
        let models = self.scorer.models().current();
        models
            .features(self.scorer.extractor(), records)
            .chunks_exact(N_FEATURES)
            .map(|row| row.try_into().expect("rows of N_FEATURES"))
            .collect()
    }

    /// Anomaly scores, decisions and reasons; the records and the threshold history are
    /// left unchanged.
    pub fn detect_anomalies(&self, records: &[Record]) -> Result<Vec<AnomalyResult>, ModelError> {
        self.per_record(records, |r, s| AnomalyResult {
            record_id: r.id,
            anomaly_score: s.anomaly_score,
            is_anomaly: s.is_anomaly,
            threshold: s.anomaly_threshold,
            reasons: {
                let mut json = String::new();
                reasons::render(r, &s.detections, &s.reason_slots, &mut json);
                serde_json::from_str(&json).unwrap_or_default()
            },
        })
    }

    /// Priority scores and bands with the predicted category.
    pub fn get_priorities(&self, records: &[Record]) -> Result<Vec<PriorityResult>, ModelError> {
        self.per_record(records, |r, s| PriorityResult {
            record_id: r.id,
            priority_score: s.priority_score,
            priority: s.priority,
            category: s.category,
            category_confidence: s.category_confidence,
            detections: s.detections,
        })
    }

    /// Scores `records` and makes one result of each record and its scores.
    fn per_record<T>(
        &self,
        records: &[Record],
        result: impl Fn(&Record, RecordScores) -> T,
    ) -> Result<Vec<T>, ModelError> {
        let scores = self.scorer.score(records)?;
        Ok(records
            .iter()
            .zip(scores)
            .map(|(r, s)| result(r, s))
            .collect())
    }

    /// Writes the enrichment columns into `records` and returns the alerts they raise.
    pub fn enrich(&self, records: &mut [Record]) -> Result<Vec<Alert>, ModelError> {
        self.scorer.enrich(records)
    }
}

//! The manifest stored next to the models (`manifest.json`): which files make up a model
//! set, their sha256, versions, the feature schema they expect, what they were trained
//! on and how they scored on held-out data.
//!
//! The same file is what a model bucket serves under `MODEL_PREFIX/manifest.json`;
//! fields this build does not know are kept when a manifest is read and written back,
//! so newer tools can add to it without breaking older functions.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Category;
use super::drift::DriftProfile;
use crate::features::FeatureSchema;

/// File name of the manifest next to the models.
pub const MANIFEST_FILE: &str = "manifest.json";
#[cfg(feature = "tools")]
pub const ANOMALY_FILE: &str = "anomaly.onnx";
#[cfg(feature = "tools")]
pub const CLASSIFIER_FILE: &str = "classifier.onnx";
pub const MANIFEST_VERSION: u32 = 1;

/// What makes up one model set; see the module docs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format version of the manifest itself.
    pub manifest_version: u32,
    /// Written into every record's `ModelVersion` column.
    pub set_version: String,
    /// The tool that wrote the manifest, with its version.
    pub created_by: String,
    /// The feature vector both models expect.
    pub feature_schema: FeatureSchema,
    /// What the models were trained on.
    pub training_data: TrainingData,
    /// The anomaly model's file and scores.
    pub anomaly: ModelEntry,
    /// The classifier's file and scores.
    pub classifier: ModelEntry,
    /// Training distribution of every feature and of the anomaly score, for drift
    /// monitoring (population stability index against live traffic).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<DriftProfile>,
    /// The same per log type (`SourceLogType` name): live records of one log type are
    /// compared with the training rows of that log type, not with the mix of all log
    /// types, whose shares depend on what a deployment happens to ingest.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub drift_log_types: BTreeMap<String, DriftProfile>,
    /// Per log family (`Family::name`), the mean pattern slot of the normal training
    /// rows: what a record that never went through the pattern stage is given, so that it
    /// is judged on its own fields as if its pattern context were typical, rather than
    /// on a slot of zeros no training row had.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pattern_neutral: BTreeMap<String, Vec<f32>>,
    /// A candidate set scored beside this one on live records without affecting output
    /// (shadow mode); its files are named relative to the same prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shadow: Option<Box<Manifest>>,
    /// The detection rule pack served with the models; without one the pack embedded in
    /// the binary is used. Swapped, verified and rolled back with the models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<RulesEntry>,
    /// Grows with every publish (`deploy-models` writes the publish time in milliseconds,
    /// above the deployed set's). Inside the signed bytes, so a function can refuse an
    /// older signed manifest put back in the bucket: a replay of a set it moved on from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_sequence: Option<u64>,
    /// Fields this build does not know, kept as read.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// The rows a set was trained on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingData {
    /// Where the rows came from (`synthetic generator, seed 42`, a file name, ...).
    pub source: String,
    /// Labelled rows, training and held-out.
    pub rows: u64,
    /// Rows per label.
    pub rows_per_category: BTreeMap<Category, u64>,
    /// Rows per log family (`Family::name`).
    pub rows_per_family: BTreeMap<String, u64>,
    /// How labels were assigned.
    pub labelling: String,
    /// Rows of the deployment's own history (`train --history`) the anomaly model learned
    /// each log family from; the families not listed were learned from the labelled rows.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub history_rows_per_family: BTreeMap<String, u64>,
}

/// One model file of the set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelEntry {
    /// File name, relative to the manifest.
    pub file: String,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    /// Size of the file in bytes.
    pub bytes: u64,
    /// `<set_version>/anomaly` or `<set_version>/classifier`.
    pub version: String,
    /// `pca_reconstruction` or `logistic_regression`.
    pub kind: String,
    /// How it scored on held-out rows.
    pub metrics: serde_json::Value,
}

/// The rule pack file of a set: a [`RuleBundle`] as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RulesEntry {
    /// File name, relative to the manifest.
    pub file: String,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    /// Size of the file in bytes.
    pub bytes: u64,
    /// Rules in the pack.
    pub count: u64,
}

/// Rule files in one JSON document, so that a pack is one file with one digest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleBundle {
    /// `(file name, YAML text)` of every rule, in load order.
    pub rules: Vec<BundledRule>,
}

/// One rule file of a [`RuleBundle`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BundledRule {
    /// The rule's file name in the folder it was published from.
    pub file: String,
    /// The rule, YAML.
    pub yaml: String,
}

impl RuleBundle {
    /// The rule pack the bundle holds; any bad rule refuses it.
    pub fn pack(&self) -> Result<crate::detection::RulePack, crate::detection::RuleError> {
        crate::detection::RulePack::from_files(
            self.rules.iter().map(|r| (r.file.clone(), r.yaml.clone())),
        )
    }

    /// Pretty JSON with a trailing newline.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).expect("bundle serializes");
        out.push(b'\n');
        out
    }
}

impl Manifest {
    /// Parses a manifest; checks nothing beyond the JSON shape.
    pub fn from_json(bytes: &[u8]) -> Result<Manifest, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// Pretty JSON with a trailing newline; stable for identical inputs.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).expect("manifest serializes");
        out.push(b'\n');
        out
    }

    /// Checks what can be checked without running the models: the manifest version, the
    /// feature schema against this build, and the files' digests.
    pub fn verify(&self, anomaly: &[u8], classifier: &[u8]) -> Result<(), String> {
        if self.manifest_version > MANIFEST_VERSION {
            return Err(format!(
                "manifest version {} is newer than this build understands ({MANIFEST_VERSION})",
                self.manifest_version
            ));
        }
        self.feature_schema.check_compatible()?;
        for (entry, bytes) in [(&self.anomaly, anomaly), (&self.classifier, classifier)] {
            let digest = sha256_hex(bytes);
            if digest != entry.sha256 {
                return Err(format!(
                    "{} has sha256 {digest}, the manifest says {}",
                    entry.file, entry.sha256
                ));
            }
        }
        Ok(())
    }
}

impl Manifest {
    /// The reference profile for records of `log_type`: the log type's own when the
    /// manifest has one. Log types the training data did not have get none: against the
    /// mix of other log types PSI would only measure the difference between log types.
    pub fn drift_profile(&self, log_type: &str) -> Option<&DriftProfile> {
        self.drift_log_types.get(log_type)
    }

    /// What identifies the models a manifest serves (shadow excluded).
    pub fn serves_same_models(&self, other: &Manifest) -> bool {
        self.set_version == other.set_version
            && self.anomaly.sha256 == other.anomaly.sha256
            && self.classifier.sha256 == other.classifier.sha256
            && self.rules.as_ref().map(|r| &r.sha256) == other.rules.as_ref().map(|r| &r.sha256)
    }
}

/// SHA-256 of bytes, lowercase hex (as manifests write digests).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(feature = "tools")]
/// The manifest of a freshly trained and exported set.
pub fn for_training(
    set_version: &str,
    source: &str,
    labelling: &str,
    report: &TrainingReport,
    drift: Option<DriftProfile>,
    anomaly_onnx: &[u8],
    classifier_onnx: &[u8],
) -> Manifest {
    let anomaly_metrics = anomaly_metrics(&report.anomaly);
    let classifier_metrics = classifier_metrics(&report.classifier);
    let entry = |file: &str, onnx: &[u8], kind: &str, metrics| ModelEntry {
        file: file.to_string(),
        sha256: sha256_hex(onnx),
        bytes: onnx.len() as u64,
        // `anomaly.onnx` is `<set_version>/anomaly`.
        version: format!("{set_version}/{}", file.trim_end_matches(".onnx")),
        kind: kind.to_string(),
        metrics,
    };
    Manifest {
        manifest_version: MANIFEST_VERSION,
        set_version: set_version.to_string(),
        created_by: format!("s3-sentinel train {}", env!("CARGO_PKG_VERSION")),
        feature_schema: FeatureSchema::current(),
        training_data: TrainingData {
            source: source.to_string(),
            rows: report.rows,
            rows_per_category: report.rows_per_category.iter().cloned().collect(),
            rows_per_family: report.rows_per_family.iter().cloned().collect(),
            labelling: labelling.to_string(),
            history_rows_per_family: report
                .anomaly
                .history_rows_per_family
                .iter()
                .cloned()
                .collect(),
        },
        anomaly: entry(
            ANOMALY_FILE,
            anomaly_onnx,
            "pca_reconstruction",
            anomaly_metrics,
        ),
        classifier: entry(
            CLASSIFIER_FILE,
            classifier_onnx,
            "logistic_regression",
            classifier_metrics,
        ),
        rules: None,
        drift,
        drift_log_types: BTreeMap::new(),
        pattern_neutral: BTreeMap::new(),
        shadow: None,
        set_sequence: None,
        extra: BTreeMap::new(),
    }
}

#[cfg(feature = "tools")]
fn anomaly_metrics(r: &AnomalyReport) -> serde_json::Value {
    serde_json::json!({
        "normal_training_rows": r.normal_rows,
        "pca_components": r.components,
        "explained_variance": round6(r.explained_variance),
        "holdout_roc_auc_non_normal": r.holdout_auc_non_normal.map(round6),
        "holdout_roc_auc_critical_security": r.holdout_auc_critical.map(round6),
        "holdout_normal_share_at_or_above_0_95": round6(r.holdout_normal_above_095),
    })
}

#[cfg(feature = "tools")]
fn classifier_metrics(r: &ClassReport) -> serde_json::Value {
    let per_class: BTreeMap<&str, serde_json::Value> = r
        .per_class
        .iter()
        .map(|c| {
            (
                c.category.name(),
                serde_json::json!({
                    "support": c.support,
                    "precision": round6(c.precision),
                    "recall": round6(c.recall),
                    "f1": round6(c.f1),
                }),
            )
        })
        .collect();
    serde_json::json!({
        "holdout_rows": r.rows,
        "holdout_accuracy": round6(r.accuracy),
        "holdout_macro_f1": round6(r.macro_f1),
        "holdout_per_class": per_class,
        "holdout_confusion_actual_by_predicted": r.confusion,
        "category_order": Category::ALL.map(|c| c.name()),
    })
}

#[cfg(feature = "tools")]
/// Six decimals: metrics are for people, and shorter numbers keep manifests diffable.
fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// What went into training and how the models did on held-out rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingReport {
    /// Labelled rows in all.
    pub rows: u64,
    /// Rows the models were trained on.
    pub training_rows: u64,
    /// Rows held out for the scores.
    pub holdout_rows: u64,
    /// Rows per label, in [`Category::ALL`] order.
    pub rows_per_category: Vec<(Category, u64)>,
    /// Rows per log family.
    pub rows_per_family: Vec<(String, u64)>,
    /// Feature slots the training rows ever set; the others carry no information.
    pub active_features: usize,
    /// The anomaly model's results.
    pub anomaly: AnomalyReport,
    /// The classifier's results on held-out rows.
    pub classifier: ClassReport,
}

/// How the anomaly model was fitted and how it did on held-out rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnomalyReport {
    /// Normal training rows the PCA was fitted on.
    pub normal_rows: u64,
    /// Principal components kept.
    pub components: usize,
    /// Share of the variance the kept components explain, 0..=1.
    pub explained_variance: f64,
    /// Held out: ROC-AUC of the score for non-normal against normal rows.
    pub holdout_auc_non_normal: Option<f64>,
    /// Held out: ROC-AUC for `critical_security` against normal rows.
    pub holdout_auc_critical: Option<f64>,
    /// Held out: share of normal rows scoring at or above 0.95.
    pub holdout_normal_above_095: f64,
    /// Rows of the deployment's own history the model learned each family from (the
    /// families not listed were learned from the labelled data).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history_rows_per_family: Vec<(String, u64)>,
}

/// Multi-class results of the classifier on labelled rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassReport {
    /// `confusion[actual][predicted]`, in [`Category::ALL`] order.
    pub confusion: [[u64; 4]; 4],
    /// Scores per category, in [`Category::ALL`] order.
    pub per_class: Vec<ClassScores>,
    /// Mean F1 over the categories that have rows.
    pub macro_f1: f64,
    /// Share of rows predicted right, 0..=1.
    pub accuracy: f64,
    /// Rows scored.
    pub rows: u64,
}

/// The classifier's results for one category.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassScores {
    /// The category.
    pub category: Category,
    /// Rows labelled with it.
    pub support: u64,
    /// Share of rows predicted as it that are labelled it.
    pub precision: f64,
    /// Share of rows labelled it that are predicted as it.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
}

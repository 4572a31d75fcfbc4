//! A trained model set as files: two ONNX graphs and their manifest.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;

use super::onnx::{self, ModelInfo};
use super::train::{self, AnomalyModel, Dataset, TrainConfig, TrainError};
use crate::features::{Family, FeatureSchema, PATTERN_FEATURES, PATTERN_OFFSET};
use crate::ml::Category;
use crate::ml::drift::DriftProfile;
use crate::ml::manifest::{
    self, ANOMALY_FILE, CLASSIFIER_FILE, MANIFEST_FILE, Manifest, TrainingReport,
};
use crate::ml::runtime::{ModelError, ModelSet};

/// What a training run produces.
#[derive(Debug, Clone)]
pub struct Artifacts {
    /// The manifest of the new set.
    pub manifest: Manifest,
    /// The anomaly model, ONNX.
    pub anomaly_onnx: Vec<u8>,
    /// The classifier, ONNX.
    pub classifier_onnx: Vec<u8>,
    /// What went into training and how the models did.
    pub report: TrainingReport,
}

/// Provenance written into the manifest.
#[derive(Debug, Clone)]
pub struct Provenance {
    /// The set's version, written to `ModelVersion`.
    pub set_version: String,
    /// Where the rows came from.
    pub source: String,
    /// How labels were assigned.
    pub labelling: String,
}

/// What the anomaly model computes, in its ONNX metadata.
const ANOMALY_DESCRIPTION: &str = "PCA reconstruction error of standardized features, calibrated per log family: anomaly_score = 1 - p^(1/3), p = share of normal training records of the family with a larger error";
/// What the classifier computes, in its ONNX metadata.
const CLASSIFIER_DESCRIPTION: &str =
    "Multinomial logistic regression over critical_security, system_error, performance, normal";

/// Trains both models and exports them with their manifest; `history` is the
/// deployment's own unlabelled traffic the anomaly model learns its families from (see
/// [`train::train_with_history`]), empty for none.
pub fn train_and_export(
    data: &Dataset,
    history: &Dataset,
    config: &TrainConfig,
    provenance: &Provenance,
) -> Result<Artifacts, TrainError> {
    let models = train::train_with_history(data, history, config)?;
    let set = &provenance.set_version;
    let anomaly_info = ModelInfo::of_set(set, "anomaly", ANOMALY_DESCRIPTION);
    let anomaly_onnx = onnx::encode(&onnx::anomaly_graph(&models.anomaly, &anomaly_info));
    let classifier_info = ModelInfo::of_set(set, "classifier", CLASSIFIER_DESCRIPTION);
    let classifier_onnx = onnx::encode(&onnx::classifier_graph(
        &models.classifier,
        &classifier_info,
    ));
    let drift = drift_profile(data, &models.anomaly)?;
    let drift_log_types = log_type_drift_profiles(data, &models.anomaly)?;
    let mut manifest = manifest::for_training(
        &provenance.set_version,
        &provenance.source,
        &provenance.labelling,
        &models.report,
        Some(drift),
        &anomaly_onnx,
        &classifier_onnx,
    );
    manifest.drift_log_types = drift_log_types;
    manifest.pattern_neutral = pattern_neutral(data);
    Ok(Artifacts {
        manifest,
        anomaly_onnx,
        classifier_onnx,
        report: models.report,
    })
}

/// Mean pattern slot of the normal rows of each log family (see
/// `Manifest::pattern_neutral`); families without normal rows, or whose normal rows never
/// went through the pattern stage (all zeros: nothing to fill in), are left out.
fn pattern_neutral(data: &Dataset) -> BTreeMap<String, Vec<f32>> {
    let mut sums: BTreeMap<usize, (Vec<f64>, u64)> = BTreeMap::new();
    for (i, label) in data.labels.iter().enumerate() {
        if *label != Category::Normal {
            continue;
        }
        let row = data.row(i);
        let (sum, n) = sums
            .entry(train::family_of_row(row))
            .or_insert_with(|| (vec![0.0; PATTERN_FEATURES], 0));
        for (s, v) in sum.iter_mut().zip(&row[PATTERN_OFFSET..]) {
            *s += *v as f64;
        }
        *n += 1;
    }
    sums.into_iter()
        .filter(|(_, (sum, _))| sum.iter().any(|s| *s != 0.0))
        .filter_map(|(family, (sum, n))| {
            let name = Family::ALL.get(family)?.name().to_string();
            Some((name, sum.iter().map(|s| (s / n as f64) as f32).collect()))
        })
        .collect()
}

/// Rows of the training distribution kept for drift reference histograms.
const DRIFT_SAMPLE: usize = 20_000;

/// Reference histograms of every feature and of the anomaly score over (a deterministic
/// sample of) the training rows.
fn drift_profile(data: &Dataset, anomaly: &AnomalyModel) -> Result<DriftProfile, TrainError> {
    let step = data.len().div_ceil(DRIFT_SAMPLE).max(1);
    sample_profile(data, anomaly, (0..data.len()).step_by(step))
}

/// Reference histograms of the features and the anomaly score of the rows `picked`.
fn sample_profile(
    data: &Dataset,
    anomaly: &AnomalyModel,
    picked: impl Iterator<Item = usize>,
) -> Result<DriftProfile, TrainError> {
    let rows: Vec<Vec<f32>> = picked.map(|i| data.row(i).to_vec()).collect();
    let flat: Vec<f32> = rows.iter().flatten().copied().collect();
    let scores: Vec<f32> = anomaly
        .reference(&flat)?
        .scores
        .iter()
        .map(|s| *s as f32)
        .collect();
    Ok(DriftProfile::from_training(
        &FeatureSchema::current().names,
        &rows,
        &scores,
    ))
}

/// Training rows per log type kept for the per-log-type reference histograms.
const LOG_TYPE_DRIFT_SAMPLE: usize = 5_000;
/// Fewer training rows than this: no reference for the log type (PSI would be noise).
const MIN_LOG_TYPE_DRIFT_ROWS: usize = 100;

/// Reference histograms per log type, when the rows' log types are known.
fn log_type_drift_profiles(
    data: &Dataset,
    anomaly: &AnomalyModel,
) -> Result<BTreeMap<String, DriftProfile>, TrainError> {
    let mut out = BTreeMap::new();
    if !data.has_log_types() {
        return Ok(out);
    }
    let mut by_type: BTreeMap<&'static str, Vec<usize>> = BTreeMap::new();
    for (i, t) in data.log_types.iter().enumerate() {
        by_type.entry(t.name()).or_default().push(i);
    }
    for (name, members) in by_type {
        if members.len() < MIN_LOG_TYPE_DRIFT_ROWS {
            continue;
        }
        let step = members.len().div_ceil(LOG_TYPE_DRIFT_SAMPLE).max(1);
        let picked = members.iter().copied().step_by(step);
        out.insert(name.to_string(), sample_profile(data, anomaly, picked)?);
    }
    Ok(out)
}

impl Artifacts {
    /// Loads the set through tract (verification and probe included).
    pub fn load(&self) -> Result<ModelSet, ModelError> {
        ModelSet::load(
            self.manifest.clone(),
            &self.anomaly_onnx,
            &self.classifier_onnx,
        )
    }

    /// Writes `anomaly.onnx`, `classifier.onnx` and `manifest.json` into `dir`.
    pub fn write_to(&self, dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        for (name, bytes) in [
            (ANOMALY_FILE, &self.anomaly_onnx),
            (CLASSIFIER_FILE, &self.classifier_onnx),
            (MANIFEST_FILE, &self.manifest.to_json()),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
        }
        Ok(())
    }

    /// Reads a model directory written by [`Artifacts::write_to`] (the report is not
    /// stored; the manifest carries its metrics), with the rule pack file when the
    /// manifest names one.
    pub fn read_from(dir: &Path) -> anyhow::Result<ModelFiles> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path).with_context(|| format!("reading {}", path.display()))
        };
        let manifest = Manifest::from_json(&read(MANIFEST_FILE)?)
            .with_context(|| format!("parsing {}", dir.join(MANIFEST_FILE).display()))?;
        let anomaly = read(&manifest.anomaly.file)?;
        let classifier = read(&manifest.classifier.file)?;
        let rules = manifest.rules.as_ref().map(|r| read(&r.file)).transpose()?;
        Ok(ModelFiles {
            manifest,
            anomaly,
            classifier,
            rules,
        })
    }
}

/// A model directory's files, read.
#[derive(Debug, Clone)]
pub struct ModelFiles {
    /// The set's manifest.
    pub manifest: Manifest,
    /// The anomaly model, ONNX.
    pub anomaly: Vec<u8>,
    /// The classifier, ONNX.
    pub classifier: Vec<u8>,
    /// The rule bundle, when the manifest names one.
    pub rules: Option<Vec<u8>>,
}

impl ModelFiles {
    /// Loads the set through tract (verification and probe included).
    pub fn load(self) -> Result<ModelSet, ModelError> {
        ModelSet::load_with_rules(
            self.manifest,
            &self.anomaly,
            &self.classifier,
            self.rules.as_deref(),
        )
    }
}

/// Loads a model directory through tract.
pub fn load_dir(dir: &Path) -> anyhow::Result<ModelSet> {
    Artifacts::read_from(dir)?
        .load()
        .with_context(|| format!("loading models from {}", dir.display()))
}

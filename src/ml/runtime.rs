//! Inference through tract: a model set is loaded, optimized and checked once, then
//! scores feature batches.

use std::io::Cursor;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tract_onnx::prelude::*;

use super::knowledge::Knowledge;
use super::manifest::{Manifest, RuleBundle, RulesEntry, sha256_hex};
use crate::detection::RulePack;
use crate::features::{Extractor, Family, N_FEATURES, PATTERN_FEATURES, PATTERN_OFFSET};
use crate::patterns::was_analyzed;
use crate::record::Record;

/// Tensor names of the model graphs: the contract between the exporter
/// (`training::onnx`) and this runtime.
pub mod tensors {
    /// Input of both graphs: float `[N, N_FEATURES]`.
    pub const INPUT: &str = "features";
    /// Anomaly graph: the anomaly score, `[N, 1]`, 0..=1.
    pub const ANOMALY_SCORE: &str = "anomaly_score";
    /// Anomaly graph: the PCA reconstruction error, `[N, 1]`.
    pub const RECONSTRUCTION_ERROR: &str = "reconstruction_error";
    /// Anomaly graph: the PCA projection, `[N, K]`.
    pub const PROJECTION: &str = "projection";
    /// Anomaly graph: each slot's squared residual, `[N, N_FEATURES]`.
    pub const CONTRIBUTIONS: &str = "contributions";
    /// Classifier graph: probabilities in `Category::ALL` order, `[N, 4]`.
    pub const PROBABILITIES: &str = "probabilities";
    /// Classifier graph: each slot's term in the `critical_security` logit.
    pub const CRITICAL_CONTRIBUTIONS: &str = "critical_contributions";
}

/// Records scored per tract call: large enough to amortize the call, small enough to
/// keep intermediate tensors in cache.
pub const BATCH: usize = 512;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("manifest: {0}")]
    Manifest(String),
    #[error("{model}: {message}")]
    Load {
        model: &'static str,
        message: String,
    },
    #[error("{model}: {message}")]
    Run {
        model: &'static str,
        message: String,
    },
    #[error("probe batch: {0}")]
    Probe(String),
}

/// One optimized graph with its outputs located by name.
struct Graph {
    plan: Arc<TypedSimplePlan>,
    outputs: Vec<usize>,
}

impl Graph {
    fn load(kind: &'static str, bytes: &[u8], outputs: &[&str]) -> Result<Graph, ModelError> {
        let err = |e: TractError| ModelError::Load {
            model: kind,
            message: format!("{e:#}"),
        };
        let model = onnx()
            .model_for_read(&mut Cursor::new(bytes))
            .map_err(err)?;
        let labels: Vec<Option<String>> = model
            .output_outlets()
            .map_err(err)?
            .iter()
            .map(|o| model.outlet_label(*o).map(str::to_string))
            .collect();
        let positions = outputs
            .iter()
            .map(|name| {
                labels
                    .iter()
                    .position(|l| l.as_deref() == Some(name))
                    .ok_or_else(|| ModelError::Load {
                        model: kind,
                        message: format!("the graph has no output named {name}"),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        // A fixed batch shape lets tract fold the shapes and fuse the element-wise ops into
        // its matrix kernels at load; with a symbolic N every run re-derives them.
        let plan = model
            .with_input_fact(0, f32::fact([BATCH, N_FEATURES]).into())
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(err)?;
        Ok(Graph {
            plan,
            outputs: positions,
        })
    }

    /// Runs the plan on any number of rows, [`BATCH`] at a time; the last batch is
    /// padded with zero rows whose outputs are dropped.
    fn run(&self, kind: &'static str, rows: &[f32]) -> Result<Vec<Vec<f32>>, ModelError> {
        let err = |e: TractError| ModelError::Run {
            model: kind,
            message: format!("{e:#}"),
        };
        let total_rows = rows.len() / N_FEATURES;
        let mut outputs: Vec<Vec<f32>> = vec![Vec::new(); self.outputs.len()];
        for chunk in rows.chunks(BATCH * N_FEATURES) {
            let n = chunk.len() / N_FEATURES;
            let input = if n == BATCH {
                Tensor::from_shape(&[BATCH, N_FEATURES], chunk)
            } else {
                let mut padded = vec![0.0f32; BATCH * N_FEATURES];
                padded[..chunk.len()].copy_from_slice(chunk);
                Tensor::from_shape(&[BATCH, N_FEATURES], &padded)
            }
            .map_err(err)?;
            let result = self.plan.run(tvec!(input.into_tvalue())).map_err(err)?;
            for (out, &i) in outputs.iter_mut().zip(&self.outputs) {
                let values = result[i]
                    .try_as_plain_ram()
                    .and_then(|v| v.as_slice::<f32>())
                    .map_err(err)?;
                let per_row = values.len() / BATCH;
                if out.capacity() == 0 {
                    out.reserve_exact(total_rows * per_row);
                }
                out.extend_from_slice(&values[..n * per_row]);
            }
        }
        Ok(outputs)
    }
}

/// Runs one ONNX model on feature rows and returns the named outputs (flattened), for
/// evaluations and parity checks that need more than [`ModelSet::score`] gives.
pub fn run_outputs(
    onnx: &[u8],
    rows: &[f32],
    outputs: &[&str],
) -> Result<Vec<Vec<f32>>, ModelError> {
    let graph = Graph::load("model", onnx, outputs)?;
    graph.run("model", rows)
}

/// Per-record outputs of both models.
#[derive(Debug, Clone, Default)]
pub struct Scores {
    pub anomaly: Vec<f32>,
    /// `rows x N_FEATURES`: each slot's squared residual in the anomaly model.
    pub contributions: Vec<f32>,
    /// `rows x 4`, in `Category::ALL` order.
    pub probabilities: Vec<f32>,
    /// `rows x N_FEATURES`: each slot's term in the `critical_security` logit.
    pub critical_contributions: Vec<f32>,
}

impl Scores {
    pub fn len(&self) -> usize {
        self.anomaly.len()
    }

    pub fn is_empty(&self) -> bool {
        self.anomaly.is_empty()
    }

    pub fn probabilities_of(&self, row: usize) -> &[f32] {
        &self.probabilities[row * 4..(row + 1) * 4]
    }

    pub fn contributions_of(&self, row: usize) -> &[f32] {
        &self.contributions[row * N_FEATURES..(row + 1) * N_FEATURES]
    }

    pub fn critical_contributions_of(&self, row: usize) -> &[f32] {
        &self.critical_contributions[row * N_FEATURES..(row + 1) * N_FEATURES]
    }
}

/// Both models, ready to score, with the manifest that describes them.
pub struct ModelSet {
    anomaly: Graph,
    classifier: Graph,
    rules: Arc<RulePack>,
    manifest: Manifest,
    load_time: Duration,
}

impl std::fmt::Debug for ModelSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelSet")
            .field("set_version", &self.manifest.set_version)
            .field("load_time", &self.load_time)
            .finish()
    }
}

/// The embedded pack, parsed once per process and shared by every set that has no pack.
fn embedded_rules() -> Arc<RulePack> {
    static EMBEDDED: std::sync::OnceLock<Arc<RulePack>> = std::sync::OnceLock::new();
    EMBEDDED
        .get_or_init(|| Arc::new(RulePack::embedded()))
        .clone()
}

/// Checks a rule pack file against its manifest entry and parses it.
fn load_rules(entry: &RulesEntry, bytes: &[u8]) -> Result<RulePack, ModelError> {
    let digest = sha256_hex(bytes);
    if digest != entry.sha256 {
        return Err(ModelError::Manifest(format!(
            "{} has sha256 {digest}, the manifest says {}",
            entry.file, entry.sha256
        )));
    }
    let bundle: RuleBundle = serde_json::from_slice(bytes)
        .map_err(|e| ModelError::Manifest(format!("{} is not a rule bundle: {e}", entry.file)))?;
    let pack = bundle
        .pack()
        .map_err(|e| ModelError::Manifest(format!("{}: {e}", entry.file)))?;
    if pack.len() as u64 != entry.count {
        return Err(ModelError::Manifest(format!(
            "{} holds {} rules, the manifest says {}",
            entry.file,
            pack.len(),
            entry.count
        )));
    }
    Ok(pack)
}

impl ModelSet {
    /// Verifies the manifest against the files (sha256, feature schema), loads and
    /// optimizes both graphs, and runs the probe batch; any failure is an error and
    /// nothing is returned.
    pub fn load(
        manifest: Manifest,
        anomaly_onnx: &[u8],
        classifier_onnx: &[u8],
    ) -> Result<ModelSet, ModelError> {
        ModelSet::load_with_rules(manifest, anomaly_onnx, classifier_onnx, None)
    }

    /// [`ModelSet::load`] with the rule pack file the manifest names (`rules`), which is
    /// verified and parsed like the models: a bad pack refuses the whole set. A manifest
    /// without a pack serves the embedded one.
    pub fn load_with_rules(
        manifest: Manifest,
        anomaly_onnx: &[u8],
        classifier_onnx: &[u8],
        rules_json: Option<&[u8]>,
    ) -> Result<ModelSet, ModelError> {
        let started = Instant::now();
        manifest
            .verify(anomaly_onnx, classifier_onnx)
            .map_err(ModelError::Manifest)?;
        let rules = match (&manifest.rules, rules_json) {
            (None, _) => embedded_rules(),
            (Some(entry), None) => {
                return Err(ModelError::Manifest(format!(
                    "the manifest names the rule pack {} and it was not given",
                    entry.file
                )));
            }
            (Some(entry), Some(bytes)) => Arc::new(load_rules(entry, bytes)?),
        };
        let anomaly = Graph::load(
            "anomaly model",
            anomaly_onnx,
            &[tensors::ANOMALY_SCORE, tensors::CONTRIBUTIONS],
        )?;
        let classifier = Graph::load(
            "classifier",
            classifier_onnx,
            &[tensors::PROBABILITIES, tensors::CRITICAL_CONTRIBUTIONS],
        )?;
        let set = ModelSet {
            anomaly,
            classifier,
            rules,
            manifest,
            load_time: Duration::ZERO,
        };
        set.probe()?;
        Ok(ModelSet {
            load_time: started.elapsed(),
            ..set
        })
    }

    /// The set's manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The detection rules served with the models.
    pub fn rules(&self) -> &Arc<RulePack> {
        &self.rules
    }

    /// The set's version, as written in `ModelVersion`.
    pub fn version(&self) -> &str {
        &self.manifest.set_version
    }

    /// Time spent verifying, loading, optimizing and probing.
    pub fn load_time(&self) -> Duration {
        self.load_time
    }

    /// The feature rows these models see for `records`: the extractor's vectors, with the
    /// knowledge slots filled from this set's rules and the records' behaviour flags
    /// (`ml::knowledge`), and the pattern slot of every record the pattern stage did not
    /// analyze set to the manifest's typical values for its family (see
    /// `Manifest::pattern_neutral`).
    pub fn features(&self, extractor: &Extractor, records: &[Record]) -> Vec<f32> {
        self.features_and_knowledge(extractor, records).0
    }

    /// [`Self::features`], with what each record's knowledge slots were filled from (its
    /// rule matches and behaviour flags), so the scorer reads neither twice.
    pub fn features_and_knowledge<'s>(
        &'s self,
        extractor: &Extractor,
        records: &[Record],
    ) -> (Vec<f32>, Vec<Knowledge<'s>>) {
        let mut rows = extractor.extract_batch(records);
        let mut known = Vec::with_capacity(records.len());
        for (record, row) in records.iter().zip(rows.chunks_exact_mut(N_FEATURES)) {
            known.push(super::knowledge::fill(row, record, &self.rules));
        }
        if self.manifest.pattern_neutral.is_empty() {
            return (rows, known);
        }
        for (record, row) in records.iter().zip(rows.chunks_exact_mut(N_FEATURES)) {
            if was_analyzed(record) {
                continue;
            }
            let family = Family::of(record.log_type).name();
            if let Some(neutral) = self.manifest.pattern_neutral.get(family)
                && neutral.len() == PATTERN_FEATURES
            {
                row[PATTERN_OFFSET..].copy_from_slice(neutral);
            }
        }
        (rows, known)
    }

    /// Scores row-major feature rows, in batches of [`BATCH`].
    pub fn score(&self, rows: &[f32]) -> Result<Scores, ModelError> {
        assert_eq!(rows.len() % N_FEATURES, 0, "feature rows");
        let mut a = self.anomaly.run("anomaly model", rows)?.into_iter();
        let mut c = self.classifier.run("classifier", rows)?.into_iter();
        Ok(Scores {
            anomaly: a.next().unwrap_or_default(),
            contributions: a.next().unwrap_or_default(),
            probabilities: c.next().unwrap_or_default(),
            critical_contributions: c.next().unwrap_or_default(),
        })
    }

    /// Runs the built-in probe batch and checks that the outputs are well formed: the
    /// shapes match, scores lie in 0..=1, probabilities sum to 1.
    pub fn probe(&self) -> Result<(), ModelError> {
        // Through this set's own feature path: the knowledge slots carry its rules.
        let rows = self.features(&Extractor::new(), &super::probe::probe_records());
        let n = rows.len() / N_FEATURES;
        let s = self.score(&rows)?;
        if s.anomaly.len() != n
            || s.probabilities.len() != n * 4
            || s.contributions.len() != n * N_FEATURES
            || s.critical_contributions.len() != n * N_FEATURES
        {
            return Err(ModelError::Probe(format!(
                "output shapes for {n} rows: {} scores, {} probabilities, {} contributions",
                s.anomaly.len(),
                s.probabilities.len(),
                s.contributions.len()
            )));
        }
        if let Some(bad) = s.anomaly.iter().find(|v| !(0.0..=1.0).contains(*v)) {
            return Err(ModelError::Probe(format!(
                "anomaly score {bad} outside 0..=1"
            )));
        }
        for row in s.probabilities.chunks_exact(4) {
            let sum: f32 = row.iter().sum();
            if !(sum - 1.0).abs().lt(&1e-3) || row.iter().any(|p| !p.is_finite()) {
                return Err(ModelError::Probe(format!(
                    "class probabilities {row:?} do not sum to 1"
                )));
            }
        }
        let critical = |row: usize| s.probabilities_of(row)[0];
        if critical(super::probe::CRITICAL) <= critical(super::probe::ROUTINE) {
            return Err(ModelError::Probe(format!(
                "StopLogging by an IAM user gets P(critical_security) {:.4}, not above the {:.4} of a routine DescribeInstances",
                critical(super::probe::CRITICAL),
                critical(super::probe::ROUTINE)
            )));
        }
        Ok(())
    }
}

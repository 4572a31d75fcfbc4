//! Training with smartcore: the anomaly model and the category classifier.
//!
//! **Anomaly model.** Features of rows labelled `normal` are standardized (mean, standard
//! deviation floored at [`STD_FLOOR`], clipped at ±[`Z_CLIP`]) and a PCA keeps the
//! components that explain [`TrainConfig::variance_to_keep`] of their variance. A record's
//! reconstruction error (squared distance to that subspace) measures how far it is from
//! normal traffic. The error is calibrated per log family (CloudTrail errors are not
//! comparable with text-line errors) into
//!
//! ```text
//! AnomalyScore = 1 - p^(1/3)
//! ```
//!
//! where `p` is the estimated share of normal training records of the same family whose
//! error is larger (empirical survival function of `ln(1 + error)`, linear between
//! quantile knots, with an exponential tail beyond the 99.9th percentile). So 0.5 means
//! "more unusual than 87.5% of normal traffic", 0.9 "one in a thousand", 0.95 "one in
//! 8,000", 0.99 "one in a million".
//!
//! **Classifier.** A multinomial logistic regression over the four [`Category`] values on
//! standardized features, trained on a class-balanced sample so that rare categories are
//! not drowned by normal traffic.
//!
//! A feature that is zero in every training row (for instance the pattern slot when the
//! pattern stage did not run) gets a zero scale: the models ignore it rather than
//! treating an unseen value as infinitely unusual. A feature seen in training but never
//! in normal traffic keeps the floored scale, so its presence is strongly anomalous.

use serde::{Deserialize, Serialize};
use smartcore::decomposition::pca::{PCA, PCAParameters};
use smartcore::linalg::basic::arrays::{Array, ArrayView2};
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::linear::logistic_regression::{LogisticRegression, LogisticRegressionParameters};

use super::metrics;
use super::rng::SplitMix64;
use crate::features::{FAMILY_OFFSET, Family, N_FEATURES};
use crate::ml::Category;
use crate::ml::manifest::{AnomalyReport, TrainingReport};
use crate::record::LogType;

/// Standardized values are clipped to this magnitude.
pub const Z_CLIP: f32 = 10.0;
/// Smallest standard deviation used for scaling: a binary feature that is almost never
/// set in training still scores at most `1 / STD_FLOOR` when it is.
pub const STD_FLOOR: f64 = 0.1;
/// Quantile levels of the calibration knots.
pub const CALIBRATION_LEVELS: [f64; 17] = [
    0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97, 0.98, 0.99, 0.995, 0.998, 0.999,
];
pub const N_KNOTS: usize = CALIBRATION_LEVELS.len();
pub const N_SEGMENTS: usize = N_KNOTS - 1;
/// Narrowest calibration segment in `ln(1 + error)`: keeps the score continuous where many
/// records share one error value, so small numeric differences cannot flip it.
pub const MIN_SEGMENT_WIDTH: f64 = 0.05;
/// Smallest exponential tail scale in `ln(1 + error)`: beyond the last knot the survival
/// falls at most like `error^-4`. The tail is extrapolated from the few normal records
/// beyond the 99th percentile; without a floor a tightly clustered family would call
/// anything past it astronomically rare, and scores would saturate at 1 in f32 (ties that
/// erase the ranking of the most unusual records).
pub const MIN_TAIL_SCALE: f64 = 0.25;
/// `AnomalyScore = 1 - p^(1/SCORE_ROOT)`.
pub const SCORE_ROOT: f64 = 3.0;
/// Fewer normal rows than this in a family: its calibration uses all families pooled.
pub const MIN_FAMILY_ROWS: usize = 50;
pub const N_FAMILIES: usize = Family::ALL.len();

/// Labelled feature rows.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    /// Row-major, [`N_FEATURES`] per row.
    pub features: Vec<f32>,
    /// One label per row.
    pub labels: Vec<Category>,
    /// The log type of each row when known (only for drift reference profiles; empty, or
    /// shorter than `labels`, when rows came without it).
    pub log_types: Vec<LogType>,
}

impl Dataset {
    /// No rows.
    pub fn new() -> Self {
        Dataset::default()
    }

    /// Adds a row of [`N_FEATURES`] values.
    pub fn push(&mut self, row: &[f32], label: Category) {
        assert_eq!(row.len(), N_FEATURES);
        self.features.extend_from_slice(row);
        self.labels.push(label);
    }

    /// A row whose log type is known.
    pub fn push_typed(&mut self, log_type: LogType, row: &[f32], label: Category) {
        if self.log_types.len() == self.labels.len() {
            self.log_types.push(log_type);
        }
        self.push(row, label);
    }

    /// Whether every row's log type is known.
    pub fn has_log_types(&self) -> bool {
        !self.is_empty() && self.log_types.len() == self.labels.len()
    }

    /// Rows.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Row `i`'s features.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.features[i * N_FEATURES..(i + 1) * N_FEATURES]
    }

    /// The given rows, in the given order.
    pub fn subset(&self, rows: &[usize]) -> Dataset {
        let mut out = Dataset {
            features: Vec::with_capacity(rows.len() * N_FEATURES),
            labels: Vec::with_capacity(rows.len()),
            log_types: Vec::new(),
        };
        let typed = self.has_log_types();
        for &i in rows {
            if typed {
                out.push_typed(self.log_types[i], self.row(i), self.labels[i]);
            } else {
                out.push(self.row(i), self.labels[i]);
            }
        }
        out
    }

    /// Rows labelled `category`.
    pub fn count(&self, category: Category) -> usize {
        self.labels.iter().filter(|l| **l == category).count()
    }
}

/// The family of a feature row, from its one-hot slots.
pub fn family_of_row(row: &[f32]) -> usize {
    (0..N_FAMILIES)
        .find(|&f| row[FAMILY_OFFSET + f] > 0.5)
        .unwrap_or(Family::Text.index())
}

/// Settings of a training run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Share of variance of normal traffic the PCA subspace keeps.
    pub variance_to_keep: f64,
    /// Most principal components the PCA keeps.
    pub max_components: usize,
    /// Normal rows used to fit the anomaly model (a deterministic sample beyond this).
    pub max_anomaly_rows: usize,
    /// Rows per category for the classifier (balanced sample; small categories are
    /// repeated up to half of this).
    pub classifier_rows_per_class: usize,
    /// L2 penalty of the logistic regression (on the summed log-loss).
    pub l2: f64,
    /// Share of rows held out for the metrics in the manifest.
    pub holdout_fraction: f64,
    /// Seed of the samples, shuffles and the holdout split.
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            variance_to_keep: 0.9,
            max_components: 40,
            max_anomaly_rows: 60_000,
            classifier_rows_per_class: 6_000,
            l2: 1.0,
            holdout_fraction: 0.2,
            seed: 0x5e17_1e11,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("no training rows")]
    Empty,
    #[error(
        "features and labels differ in length ({features} feature values for {labels} labels of {width} features)"
    )]
    Shape {
        features: usize,
        labels: usize,
        width: usize,
    },
    #[error("the training data has no rows labelled {0}; every category needs examples")]
    MissingCategory(Category),
    #[error("only {0} rows labelled normal; the anomaly model needs at least {MIN_FAMILY_ROWS}")]
    TooFewNormal(usize),
    #[error("feature row {row} has a non-finite value in slot {slot}")]
    NonFinite { row: usize, slot: usize },
    #[error("smartcore: {0}")]
    Smartcore(String),
}

fn sc<T>(r: Result<T, smartcore::error::Failed>) -> Result<T, TrainError> {
    r.map_err(|e| TrainError::Smartcore(e.to_string()))
}

/// `z = clip((x - mean) * scale, -Z_CLIP, Z_CLIP)`; a zero scale switches a slot off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Standardizer {
    pub mean: Vec<f32>,
    pub scale: Vec<f32>,
}

impl Standardizer {
    fn fit<'a>(rows: impl Iterator<Item = &'a [f32]> + Clone, active: &[bool]) -> Standardizer {
        let mut n = 0usize;
        let mut sum = vec![0.0f64; N_FEATURES];
        for row in rows.clone() {
            n += 1;
            for (s, v) in sum.iter_mut().zip(row) {
                *s += *v as f64;
            }
        }
        let mean: Vec<f64> = sum.iter().map(|s| s / n.max(1) as f64).collect();
        let mut sq = vec![0.0f64; N_FEATURES];
        for row in rows {
            for ((s, v), m) in sq.iter_mut().zip(row).zip(&mean) {
                let d = *v as f64 - m;
                *s += d * d;
            }
        }
        let scale = sq
            .iter()
            .zip(active)
            .map(|(s, &on)| {
                if on {
                    (1.0 / (s / n.max(1) as f64).sqrt().max(STD_FLOOR)) as f32
                } else {
                    0.0
                }
            })
            .collect();
        Standardizer {
            mean: mean.iter().map(|m| *m as f32).collect(),
            scale,
        }
    }

    /// The standardized row in f64 (the reference path; the ONNX graph does it in f32).
    pub fn apply(&self, row: &[f32], out: &mut [f64]) {
        for (i, o) in out.iter_mut().enumerate() {
            let z = (row[i] as f64 - self.mean[i] as f64) * self.scale[i] as f64;
            *o = z.clamp(-(Z_CLIP as f64), Z_CLIP as f64);
        }
    }

    /// Every row of `rows` (row-major features) standardized, row-major.
    pub fn apply_rows(&self, rows: &[f32]) -> Vec<f64> {
        let mut z = vec![0.0; rows.len() / N_FEATURES * N_FEATURES];
        for (out, row) in z
            .chunks_exact_mut(N_FEATURES)
            .zip(rows.chunks_exact(N_FEATURES))
        {
            self.apply(row, out);
        }
        z
    }

    fn matrix(&self, data: &Dataset, rows: &[usize]) -> Result<DenseMatrix<f64>, TrainError> {
        let mut values = vec![0.0; rows.len() * N_FEATURES];
        for (chunk, &i) in values.chunks_exact_mut(N_FEATURES).zip(rows) {
            self.apply(data.row(i), chunk);
        }
        sc(DenseMatrix::new(rows.len(), N_FEATURES, values, false))
    }

    pub fn active_features(&self) -> usize {
        self.scale.iter().filter(|s| **s != 0.0).count()
    }
}

/// Per-family calibration of `ln(1 + error)` into a survival probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// `knots[family][k]`: the `CALIBRATION_LEVELS[k]` quantile of `ln(1 + error)`.
    pub knots: Vec<[f32; N_KNOTS]>,
    /// Mean excess of `ln(1 + error)` beyond the 99th percentile (exponential tail scale).
    pub tail_scale: Vec<f32>,
    /// Normal training rows per family (0 = pooled calibration used).
    pub rows: Vec<u64>,
}

impl Calibration {
    pub fn tail_mass() -> f64 {
        1.0 - CALIBRATION_LEVELS[N_KNOTS - 1]
    }

    /// `1 / max(width, MIN_SEGMENT_WIDTH)` of each segment, as stored in the graph.
    pub fn inverse_widths(&self, family: usize) -> [f32; N_SEGMENTS] {
        let k = &self.knots[family];
        std::array::from_fn(|i| {
            (1.0 / ((k[i + 1] as f64 - k[i] as f64).max(MIN_SEGMENT_WIDTH))) as f32
        })
    }

    pub fn segment_masses() -> [f32; N_SEGMENTS] {
        std::array::from_fn(|i| (CALIBRATION_LEVELS[i + 1] - CALIBRATION_LEVELS[i]) as f32)
    }

    /// The estimated share of normal records of `family` with a larger error.
    pub fn survival(&self, family: usize, error: f64) -> f64 {
        let u = error.max(0.0).ln_1p();
        let k = &self.knots[family];
        let inv_w = self.inverse_widths(family);
        let masses = Self::segment_masses();
        let mut s = 0.0;
        for i in 0..N_SEGMENTS {
            let v = ((k[i + 1] as f64 - u) * inv_w[i] as f64).clamp(0.0, 1.0);
            s += masses[i] as f64 * v;
        }
        let inv_beta = 1.0 / self.tail_scale[family] as f64;
        let excess = (u - k[N_KNOTS - 1] as f64).max(0.0);
        s += Self::tail_mass() as f32 as f64 * (-(excess * (inv_beta as f32 as f64))).exp();
        s.clamp(0.0, 1.0)
    }

    fn fit(errors: &[f64], families: &[usize]) -> Calibration {
        let pooled: Vec<f64> = errors.iter().map(|e| e.ln_1p()).collect();
        let fit_one = |values: &[f64]| -> ([f32; N_KNOTS], f32) {
            let mut sorted = values.to_vec();
            sorted.sort_by(f64::total_cmp);
            let knots: [f32; N_KNOTS] = std::array::from_fn(|i| {
                metrics::quantile_sorted(&sorted, CALIBRATION_LEVELS[i]) as f32
            });
            let q99 = metrics::quantile_sorted(&sorted, 0.99);
            let excess: Vec<f64> = sorted
                .iter()
                .filter(|v| **v > q99)
                .map(|v| v - q99)
                .collect();
            let mean_excess = if excess.is_empty() {
                0.0
            } else {
                excess.iter().sum::<f64>() / excess.len() as f64
            };
            (knots, mean_excess.max(MIN_TAIL_SCALE) as f32)
        };
        let (pooled_knots, pooled_scale) = fit_one(&pooled);
        let mut cal = Calibration {
            knots: vec![pooled_knots; N_FAMILIES],
            tail_scale: vec![pooled_scale; N_FAMILIES],
            rows: vec![0; N_FAMILIES],
        };
        for f in 0..N_FAMILIES {
            let values: Vec<f64> = pooled
                .iter()
                .zip(families)
                .filter(|(_, fam)| **fam == f)
                .map(|(v, _)| *v)
                .collect();
            if values.len() >= MIN_FAMILY_ROWS {
                let (knots, scale) = fit_one(&values);
                cal.knots[f] = knots;
                cal.tail_scale[f] = scale;
                cal.rows[f] = values.len() as u64;
            }
        }
        cal
    }
}

/// `AnomalyScore` from a survival probability.
pub fn score_from_survival(p: f64) -> f64 {
    1.0 - p.clamp(0.0, 1.0).powf(1.0 / SCORE_ROOT)
}

/// PCA reconstruction-error anomaly model.
#[derive(Debug)]
pub struct AnomalyModel {
    pub standardizer: Standardizer,
    /// Mean of the standardized training rows (the PCA's centre).
    pub center: Vec<f32>,
    /// `N_FEATURES x n_components`, row-major.
    pub components: Vec<f32>,
    pub n_components: usize,
    pub explained_variance: f64,
    pub calibration: Calibration,
    pca: PCA<f64, DenseMatrix<f64>>,
    center_f64: Vec<f64>,
}

/// Reference outputs for a batch, computed in f64 with smartcore.
#[derive(Debug, Clone)]
pub struct AnomalyOutputs {
    pub scores: Vec<f64>,
    pub errors: Vec<f64>,
    /// `rows x n_components`, row-major (smartcore's `transform`).
    pub projections: Vec<f64>,
}

impl AnomalyModel {
    /// Scores rows (row-major features) through smartcore: the reference the exported
    /// graph must reproduce.
    pub fn reference(&self, rows: &[f32]) -> Result<AnomalyOutputs, TrainError> {
        let n = rows.len() / N_FEATURES;
        let z = self.standardizer.apply_rows(rows);
        let zm = sc(DenseMatrix::new(n, N_FEATURES, z.clone(), false))?;
        let proj = sc(self.pca.transform(&zm))?;
        let k = self.n_components;
        let comps = self.pca.components();
        let mut out = AnomalyOutputs {
            scores: Vec::with_capacity(n),
            errors: Vec::with_capacity(n),
            projections: Vec::with_capacity(n * k),
        };
        for r in 0..n {
            let p: Vec<f64> = (0..k).map(|c| *proj.get((r, c))).collect();
            let mut err = 0.0;
            for j in 0..N_FEATURES {
                let recon: f64 = (0..k).map(|c| p[c] * *comps.get((j, c))).sum();
                let resid = z[r * N_FEATURES + j] - self.center_f64[j] - recon;
                err += resid * resid;
            }
            let family = family_of_row(&rows[r * N_FEATURES..(r + 1) * N_FEATURES]);
            out.scores
                .push(score_from_survival(self.calibration.survival(family, err)));
            out.errors.push(err);
            out.projections.extend(p);
        }
        Ok(out)
    }
}

/// Multinomial logistic regression over [`Category`].
#[derive(Debug)]
pub struct ClassifierModel {
    pub standardizer: Standardizer,
    /// `4 x N_FEATURES`, row-major, in [`Category::ALL`] order.
    pub weights: Vec<f32>,
    pub bias: Vec<f32>,
    lr: LogisticRegression<f64, u32, DenseMatrix<f64>, Vec<u32>>,
}

#[derive(Debug, Clone)]
pub struct ClassifierOutputs {
    /// `rows x 4`, row-major, from smartcore's coefficients.
    pub probabilities: Vec<f64>,
    /// smartcore's own `predict`.
    pub labels: Vec<Category>,
}

impl ClassifierModel {
    pub fn reference(&self, rows: &[f32]) -> Result<ClassifierOutputs, TrainError> {
        let z = self.standardizer.apply_rows(rows);
        let coef = self.lr.coefficients();
        let intercept = self.lr.intercept();
        let probabilities: Vec<f64> = z
            .chunks_exact(N_FEATURES)
            .flat_map(|zr| {
                let logits: Vec<f64> = (0..4)
                    .map(|c| {
                        (0..N_FEATURES)
                            .map(|j| zr[j] * *coef.get((c, j)))
                            .sum::<f64>()
                            + *intercept.get((c, 0))
                    })
                    .collect();
                softmax(&logits)
            })
            .collect();
        let zm = sc(DenseMatrix::new(z.len() / N_FEATURES, N_FEATURES, z, false))?;
        let predicted = sc(self.lr.predict(&zm))?;
        let labels = predicted
            .iter()
            .map(|&c| Category::from_index(c as usize).expect("class index"))
            .collect();
        Ok(ClassifierOutputs {
            probabilities,
            labels,
        })
    }
}

pub fn softmax(logits: &[f64]) -> Vec<f64> {
    let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let exps: Vec<f64> = logits.iter().map(|l| (l - max).exp()).collect();
    let sum: f64 = exps.iter().sum();
    exps.iter().map(|e| e / sum).collect()
}

#[derive(Debug)]
pub struct TrainedModels {
    pub anomaly: AnomalyModel,
    pub classifier: ClassifierModel,
    pub report: TrainingReport,
}

/// Trains both models; `data` rows must come from [`crate::features::Extractor`].
pub fn train(data: &Dataset, config: &TrainConfig) -> Result<TrainedModels, TrainError> {
    train_with_history(data, &Dataset::new(), config)
}

/// Fewest rows of one log family in a deployment's history for the anomaly model to learn
/// that family from them instead of the labelled data.
pub const MIN_HISTORY_ROWS: usize = 200;

/// Trains both models, the anomaly model learning each log family the deployment's own
/// `history` (unlabelled rows, taken as its normal traffic) has enough rows of from that
/// history rather than from `data`'s normal rows. A deployment's routine differs from any
/// generated one, and what is rare for it is what the anomaly score should find; the
/// classifier, which needs labels, learns from `data` alone.
pub fn train_with_history(
    data: &Dataset,
    history: &Dataset,
    config: &TrainConfig,
) -> Result<TrainedModels, TrainError> {
    validate(data)?;
    let mut rng = SplitMix64::new(config.seed);
    let mut order: Vec<usize> = (0..data.len()).collect();
    rng.shuffle(&mut order);
    let holdout_len = ((data.len() as f64) * config.holdout_fraction).round() as usize;
    let (holdout, training) = order.split_at(holdout_len.min(data.len().saturating_sub(1)));
    let mut holdout = holdout.to_vec();
    let mut training = training.to_vec();
    holdout.sort_unstable();
    training.sort_unstable();

    // A slot the training data never sets carries no information for either model.
    let active: Vec<bool> = (0..N_FEATURES)
        .map(|j| {
            training.iter().any(|&i| data.row(i)[j] != 0.0)
                || (0..history.len()).any(|i| history.row(i)[j] != 0.0)
        })
        .collect();

    let normal = normal_rows(data, &training, history, config, &mut rng.fork("anomaly"));
    let anomaly = train_anomaly(&normal.rows, &active, config)?;
    let classifier = train_classifier(data, &training, &active, config, &mut rng.fork("lr"))?;
    let mut report = evaluate(data, &training, &holdout, &anomaly, &classifier, &active)?;
    if !normal.history_per_family.is_empty() {
        report.anomaly.normal_rows = normal.rows.len() as u64;
        report.anomaly.history_rows_per_family = normal.history_per_family;
    }
    Ok(TrainedModels {
        anomaly,
        classifier,
        report,
    })
}

fn validate(data: &Dataset) -> Result<(), TrainError> {
    if data.is_empty() {
        return Err(TrainError::Empty);
    }
    if data.features.len() != data.labels.len() * N_FEATURES {
        return Err(TrainError::Shape {
            features: data.features.len(),
            labels: data.labels.len(),
            width: N_FEATURES,
        });
    }
    if let Some(pos) = data.features.iter().position(|v| !v.is_finite()) {
        return Err(TrainError::NonFinite {
            row: pos / N_FEATURES,
            slot: pos % N_FEATURES,
        });
    }
    for c in Category::ALL {
        if data.count(c) == 0 {
            return Err(TrainError::MissingCategory(c));
        }
    }
    Ok(())
}

/// The rows the anomaly model is fitted on, and how many of them per family came from a
/// deployment's history.
struct NormalRows {
    rows: Dataset,
    history_per_family: Vec<(String, u64)>,
}

/// The families the history has [`MIN_HISTORY_ROWS`] of come from it; the others from the
/// labelled data's normal training rows. Each side is sampled down to
/// `max_anomaly_rows` deterministically.
fn normal_rows(
    data: &Dataset,
    training: &[usize],
    history: &Dataset,
    config: &TrainConfig,
    rng: &mut SplitMix64,
) -> NormalRows {
    let mut per_family = [0usize; N_FAMILIES];
    for i in 0..history.len() {
        per_family[family_of_row(history.row(i))] += 1;
    }
    let learned = per_family.map(|n| n >= MIN_HISTORY_ROWS);
    let mut sample = |mut rows: Vec<usize>| {
        if rows.len() > config.max_anomaly_rows {
            rng.shuffle(&mut rows);
            rows.truncate(config.max_anomaly_rows);
            rows.sort_unstable();
        }
        rows
    };
    let generated = sample(
        training
            .iter()
            .copied()
            .filter(|&i| data.labels[i] == Category::Normal && !learned[family_of_row(data.row(i))])
            .collect(),
    );
    let own = sample(
        (0..history.len())
            .filter(|&i| learned[family_of_row(history.row(i))])
            .collect(),
    );
    let mut rows = data.subset(&generated);
    let mut history_per_family = [0u64; N_FAMILIES];
    for &i in &own {
        history_per_family[family_of_row(history.row(i))] += 1;
        rows.push(history.row(i), Category::Normal);
    }
    NormalRows {
        rows,
        history_per_family: Family::ALL
            .iter()
            .filter(|f| history_per_family[f.index()] > 0)
            .map(|f| (f.name().to_string(), history_per_family[f.index()]))
            .collect(),
    }
}

fn train_anomaly(
    normal_rows: &Dataset,
    active: &[bool],
    config: &TrainConfig,
) -> Result<AnomalyModel, TrainError> {
    if normal_rows.len() < MIN_FAMILY_ROWS {
        return Err(TrainError::TooFewNormal(normal_rows.len()));
    }
    let data = normal_rows;
    let normal: Vec<usize> = (0..data.len()).collect();
    let standardizer = Standardizer::fit(normal.iter().map(|&i| data.row(i)), active);
    let z = standardizer.matrix(data, &normal)?;
    let center_f64 = z.mean_by(0);

    // Pick the number of components from the variance each one explains.
    let full = sc(PCA::fit(
        &z,
        PCAParameters::default().with_n_components(N_FEATURES),
    ))?;
    let projected = sc(full.transform(&z))?;
    let n = normal.len() as f64;
    let variance_of = |m: &DenseMatrix<f64>, c: usize| -> f64 {
        let col: Vec<f64> = (0..m.shape().0).map(|r| *m.get((r, c))).collect();
        let mean = col.iter().sum::<f64>() / n;
        col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n
    };
    let total: f64 = (0..N_FEATURES).map(|c| variance_of(&z, c)).sum();
    let mut kept = 0.0;
    let mut k = 0;
    while k < config.max_components.min(N_FEATURES) {
        kept += variance_of(&projected, k);
        k += 1;
        if total <= 0.0 || kept / total >= config.variance_to_keep {
            break;
        }
    }
    let k = k.max(1);
    let pca = sc(PCA::fit(&z, PCAParameters::default().with_n_components(k)))?;
    let comps = pca.components();
    let mut components = vec![0.0f32; N_FEATURES * k];
    for j in 0..N_FEATURES {
        for c in 0..k {
            components[j * k + c] = *comps.get((j, c)) as f32;
        }
    }
    let mut model = AnomalyModel {
        standardizer,
        center: center_f64.iter().map(|c| *c as f32).collect(),
        components,
        n_components: k,
        explained_variance: if total > 0.0 { kept / total } else { 1.0 },
        calibration: Calibration {
            knots: vec![[0.0; N_KNOTS]; N_FAMILIES],
            tail_scale: vec![1.0; N_FAMILIES],
            rows: vec![0; N_FAMILIES],
        },
        pca,
        center_f64,
    };
    let rows: Vec<f32> = normal
        .iter()
        .flat_map(|&i| data.row(i).iter().copied())
        .collect();
    let outputs = model.reference(&rows)?;
    let families: Vec<usize> = normal.iter().map(|&i| family_of_row(data.row(i))).collect();
    model.calibration = Calibration::fit(&outputs.errors, &families);
    Ok(model)
}

fn train_classifier(
    data: &Dataset,
    training: &[usize],
    active: &[bool],
    config: &TrainConfig,
    rng: &mut SplitMix64,
) -> Result<ClassifierModel, TrainError> {
    let per_class = config.classifier_rows_per_class.max(4);
    let mut sample = Vec::new();
    for c in Category::ALL {
        let mut rows: Vec<usize> = training
            .iter()
            .copied()
            .filter(|&i| data.labels[i] == c)
            .collect();
        if rows.is_empty() {
            return Err(TrainError::MissingCategory(c));
        }
        rng.shuffle(&mut rows);
        rows.truncate(per_class);
        let target = rows.len().max(per_class / 2);
        sample.extend(rows.iter().cycle().take(target).copied());
    }
    let standardizer = Standardizer::fit(sample.iter().map(|&i| data.row(i)), active);
    let x = standardizer.matrix(data, &sample)?;
    let y: Vec<u32> = sample
        .iter()
        .map(|&i| data.labels[i].index() as u32)
        .collect();
    let lr = sc(LogisticRegression::fit(
        &x,
        &y,
        LogisticRegressionParameters::default().with_alpha(config.l2),
    ))?;
    let coef = lr.coefficients();
    let intercept = lr.intercept();
    let mut weights = vec![0.0f32; 4 * N_FEATURES];
    for c in 0..4 {
        for j in 0..N_FEATURES {
            weights[c * N_FEATURES + j] = *coef.get((c, j)) as f32;
        }
    }
    let bias = (0..4).map(|c| *intercept.get((c, 0)) as f32).collect();
    Ok(ClassifierModel {
        standardizer,
        weights,
        bias,
        lr,
    })
}

fn evaluate(
    data: &Dataset,
    training: &[usize],
    holdout: &[usize],
    anomaly: &AnomalyModel,
    classifier: &ClassifierModel,
    active: &[bool],
) -> Result<TrainingReport, TrainError> {
    let rows: Vec<f32> = holdout
        .iter()
        .flat_map(|&i| data.row(i).iter().copied())
        .collect();
    let labels: Vec<Category> = holdout.iter().map(|&i| data.labels[i]).collect();
    let (anomaly_report, class_report) = if holdout.is_empty() {
        (
            AnomalyReport {
                normal_rows: 0,
                components: anomaly.n_components,
                explained_variance: anomaly.explained_variance,
                holdout_auc_non_normal: None,
                holdout_auc_critical: None,
                holdout_normal_above_095: 0.0,
                history_rows_per_family: Vec::new(),
            },
            metrics::class_report(&[], &[]),
        )
    } else {
        let a = anomaly.reference(&rows)?;
        let c = classifier.reference(&rows)?;
        let non_normal: Vec<bool> = labels.iter().map(|l| *l != Category::Normal).collect();
        let (crit_scores, crit_labels): (Vec<f64>, Vec<bool>) = a
            .scores
            .iter()
            .zip(&labels)
            .filter(|(_, l)| matches!(l, Category::Normal | Category::CriticalSecurity))
            .map(|(s, l)| (*s, *l == Category::CriticalSecurity))
            .unzip();
        let normal_scores: Vec<f64> = a
            .scores
            .iter()
            .zip(&labels)
            .filter(|(_, l)| **l == Category::Normal)
            .map(|(s, _)| *s)
            .collect();
        let above = normal_scores.iter().filter(|s| **s >= 0.95).count();
        (
            AnomalyReport {
                normal_rows: training
                    .iter()
                    .filter(|&&i| data.labels[i] == Category::Normal)
                    .count() as u64,
                components: anomaly.n_components,
                explained_variance: anomaly.explained_variance,
                holdout_auc_non_normal: metrics::roc_auc(&a.scores, &non_normal),
                holdout_auc_critical: metrics::roc_auc(&crit_scores, &crit_labels),
                holdout_normal_above_095: above as f64 / normal_scores.len().max(1) as f64,
                history_rows_per_family: Vec::new(),
            },
            metrics::class_report(&c.labels, &labels),
        )
    };
    let rows_per_family = Family::ALL
        .iter()
        .map(|f| {
            let n = (0..data.len())
                .filter(|&i| family_of_row(data.row(i)) == f.index())
                .count();
            (f.name().to_string(), n as u64)
        })
        .collect();
    Ok(TrainingReport {
        rows: data.len() as u64,
        training_rows: training.len() as u64,
        holdout_rows: holdout.len() as u64,
        rows_per_category: Category::ALL
            .iter()
            .map(|&c| (c, data.count(c) as u64))
            .collect(),
        rows_per_family,
        active_features: active.iter().filter(|a| **a).count(),
        anomaly: anomaly_report,
        classifier: class_report,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::features::F;

    /// Settings for training on the toy data, with `rows_per_class` classifier rows per
    /// category.
    pub fn toy_config(rows_per_class: usize) -> TrainConfig {
        TrainConfig {
            classifier_rows_per_class: rows_per_class,
            ..TrainConfig::default()
        }
    }

    /// A small synthetic dataset in feature space: normal rows near a few prototypes,
    /// labelled rows with the slots their category sets.
    pub fn toy_dataset(rows: usize, seed: u64) -> Dataset {
        let mut rng = SplitMix64::new(seed);
        let mut data = Dataset::new();
        for i in 0..rows {
            let mut v = [0.0f32; N_FEATURES];
            let family = i % 3;
            v[FAMILY_OFFSET + family] = 1.0;
            let hour = rng.unit() as f32 * std::f32::consts::TAU;
            v[F::HourSin as usize] = hour.sin();
            v[F::HourCos as usize] = hour.cos();
            v[F::Bytes as usize] = (0.3 + 0.1 * rng.normal()) as f32;
            v[F::CtReadOnly as usize] = if family == 0 && rng.chance(0.8) {
                1.0
            } else {
                0.0
            };
            let label = match i % 10 {
                0 => {
                    v[F::CtDefenseEvasion as usize] = 1.0;
                    v[F::CtIamUser as usize] = 1.0;
                    Category::CriticalSecurity
                }
                1 => {
                    v[F::ServerError as usize] = 1.0;
                    v[F::Failure as usize] = 1.0;
                    Category::SystemError
                }
                2 => {
                    v[F::Latency as usize] = (0.8 + 0.1 * rng.unit()) as f32;
                    Category::Performance
                }
                _ => Category::Normal,
            };
            data.push(&v, label);
        }
        data
    }

    #[test]
    fn trains_and_separates_the_toy_categories() {
        let data = toy_dataset(2_000, 3);
        let config = toy_config(400);
        let models = train(&data, &config).unwrap();
        let report = &models.report;
        assert!(report.classifier.macro_f1 > 0.95, "{report:?}");
        assert!(
            report.anomaly.holdout_auc_critical.unwrap() > 0.95,
            "{report:?}"
        );
        // The never-set pattern slot is ignored.
        assert_eq!(
            models.anomaly.standardizer.scale[F::PatternNew as usize],
            0.0
        );
        assert!(report.active_features < N_FEATURES);
        let holdout_normal_fp = report.anomaly.holdout_normal_above_095;
        assert!(holdout_normal_fp < 0.02, "{holdout_normal_fp}");
    }

    #[test]
    fn a_family_with_enough_history_is_learned_from_it_and_the_others_are_not() {
        let data = toy_dataset(2_000, 3);
        let config = toy_config(400);
        // The deployment's family-0 routine moves far more bytes than the generated one.
        let mut history = Dataset::new();
        let mut rng = SplitMix64::new(17);
        for _ in 0..MIN_HISTORY_ROWS * 2 {
            let mut v = [0.0f32; N_FEATURES];
            v[FAMILY_OFFSET] = 1.0;
            v[F::Bytes as usize] = (0.9 + 0.05 * rng.normal()) as f32;
            history.push(&v, Category::Normal);
        }
        let routine = history.row(0).to_vec();
        let without = train(&data, &config).unwrap();
        let with = train_with_history(&data, &history, &config).unwrap();
        let score = |m: &TrainedModels| m.anomaly.reference(&routine).unwrap().scores[0];
        let (before, after) = (score(&without), score(&with));
        assert!(before > 0.8 && after < before - 0.3, "{before} -> {after}");
        assert_eq!(
            with.report.anomaly.history_rows_per_family,
            vec![(
                Family::ALL[0].name().to_string(),
                2 * MIN_HISTORY_ROWS as u64
            )]
        );
        // The classifier learns from the labelled data alone.
        assert_eq!(with.classifier.weights, without.classifier.weights);

        // Too little history of a family changes nothing.
        let few = history.subset(&(0..MIN_HISTORY_ROWS - 1).collect::<Vec<_>>());
        let unchanged = train_with_history(&data, &few, &config).unwrap();
        assert_eq!(unchanged.anomaly.calibration, without.anomaly.calibration);
    }

    #[test]
    fn refuses_data_without_every_category() {
        let mut data = toy_dataset(200, 1);
        data.labels
            .iter_mut()
            .filter(|l| **l == Category::Performance)
            .for_each(|l| *l = Category::Normal);
        assert!(matches!(
            train(&data, &TrainConfig::default()),
            Err(TrainError::MissingCategory(Category::Performance))
        ));
        let mut bad = toy_dataset(200, 1);
        bad.features[5] = f32::NAN;
        assert!(matches!(
            train(&bad, &TrainConfig::default()),
            Err(TrainError::NonFinite { row: 0, slot: 5 })
        ));
    }

    #[test]
    fn training_is_deterministic() {
        let data = toy_dataset(600, 9);
        let config = toy_config(100);
        let a = train(&data, &config).unwrap();
        let b = train(&data, &config).unwrap();
        assert_eq!(a.anomaly.components, b.anomaly.components);
        assert_eq!(a.anomaly.calibration, b.anomaly.calibration);
        assert_eq!(a.classifier.weights, b.classifier.weights);
        assert_eq!(a.report, b.report);
    }

    #[test]
    fn survival_is_monotone_and_bounded() {
        let data = toy_dataset(1_000, 5);
        let models = train(&data, &toy_config(100)).unwrap();
        let cal = &models.anomaly.calibration;
        let mut last = 1.0;
        for i in 0..400 {
            let e = (i as f64 * 0.05).exp_m1();
            let s = cal.survival(0, e);
            assert!((0.0..=1.0).contains(&s));
            assert!(s <= last + 1e-12, "survival rises at {e}");
            last = s;
        }
        assert!((cal.survival(0, 0.0) - 1.0).abs() < 1e-6 || cal.knots[0][0] == 0.0);
        assert!(score_from_survival(1.25e-4) > 0.949 && score_from_survival(1.25e-4) < 0.951);
    }
}

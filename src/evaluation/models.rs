//! Evaluation of a model set on labelled records: what `s3-sentinel evaluate` prints and
//! what `scripts/deploy_models.sh` gates a deployment on.
//!
//! - **Classifier**: per-class precision, recall and F1, macro-F1, accuracy and the
//!   confusion matrix of `LogCategory` against the label.
//! - **Anomaly score**: ROC-AUC and PR-AUC (average precision) of `AnomalyScore` for
//!   non-normal against normal records, and for `critical_security` against normal;
//!   precision/recall/F1 of `IsAnomaly` at the fixed `anomaly_threshold`.
//! - **Priority**: ROC-AUC of `PriorityScore` (non-normal vs normal, critical vs the
//!   rest) and its calibration. `PriorityScore` is not a probability of one event: by its
//!   formula (`enrich::priority`) a confident, unremarkable record of a category scores
//!   that category's weight (critical_security 1.0, system_error 0.55, performance 0.4,
//!   normal 0.05). Its calibration target is therefore the weight of the record's true
//!   category: the reliability bins compare mean `PriorityScore` with the mean target
//!   weight, with the expected calibration error (ECE, count-weighted mean gap) and the
//!   mean squared error (the Brier score of this target).
//! - **Confidence calibration**: the classical top-label calibration of
//!   `LogCategoryConfidence` against accuracy (reliability bins, ECE, Brier).
//! - **Inference latency per record**: features plus both models for one record at a
//!   time (p50, p99, mean over a sample), and the per-record cost in batches.
//! - **Feature importance**, from the models' own per-feature outputs: the mean absolute
//!   term of each feature in the `critical_security` logit, and each feature's share of
//!   the anomaly model's reconstruction error on non-normal records.
//!
//! Pure computation: no files or network.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::enrich::priority::{self, CATEGORY_WEIGHTS};
use crate::features::{Extractor, F, FEATURES, N_FEATURES};
use crate::ml::Category;
use crate::ml::manifest::ClassReport;
use crate::ml::runtime::{ModelError, ModelSet};
use crate::record::Record;
use crate::training::metrics::{self, BinaryScores};

/// Reliability bins of the calibration tables and plots.
pub const CALIBRATION_BINS: usize = 10;
/// Features listed in the JSON importance table.
pub const IMPORTANCE_LISTED: usize = 15;

/// Settings of a model evaluation.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// `IsAnomaly` threshold (the function's `ANOMALY_THRESHOLD`).
    pub anomaly_threshold: f64,
    /// Records timed one at a time for the latency percentiles.
    pub latency_sample: usize,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            anomaly_threshold: 0.95,
            latency_sample: 2_000,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("no labelled records to evaluate on")]
    Empty,
    #[error("{records} records but {labels} labels")]
    Mismatch { records: usize, labels: usize },
    #[error("scoring failed: {0}")]
    Model(#[from] ModelError),
}

/// Everything measured, serializable as the `--json` output.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Evaluation {
    pub model_version: String,
    pub feature_schema_version: u32,
    pub rows: u64,
    pub rows_per_category: BTreeMap<Category, u64>,
    pub rows_per_log_type: BTreeMap<String, u64>,
    pub classifier: ClassReport,
    pub anomaly: AnomalyEval,
    pub priority: PriorityEval,
    pub confidence_calibration: Calibration,
    pub latency: LatencyEval,
    pub feature_importance: Vec<FeatureImportance>,
    /// Per-record outputs for plots; not part of the JSON.
    #[serde(skip)]
    pub details: EvalDetails,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AnomalyEval {
    /// Non-normal (any other category) against normal records.
    pub roc_auc: Option<f64>,
    pub pr_auc: Option<f64>,
    /// `critical_security` against normal records (other categories left out).
    pub roc_auc_critical: Option<f64>,
    pub pr_auc_critical: Option<f64>,
    pub threshold: f64,
    /// `IsAnomaly` (score at or above the threshold) against "non-normal".
    pub is_anomaly: BinaryScores,
    /// Share of normal records at or above the threshold.
    pub normal_flagged: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PriorityEval {
    pub roc_auc_non_normal: Option<f64>,
    pub roc_auc_critical: Option<f64>,
    /// Against the weight of the true category (see the module docs).
    pub calibration: Calibration,
    /// Records per (true category, priority band).
    pub bands: BTreeMap<Category, BTreeMap<String, u64>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Calibration {
    pub bins: Vec<CalibrationBin>,
    /// Count-weighted mean |mean predicted - mean observed| over the bins.
    pub ece: f64,
    /// Mean squared difference between prediction and target.
    pub brier: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CalibrationBin {
    pub lower: f64,
    pub upper: f64,
    pub count: u64,
    pub mean_predicted: f64,
    pub mean_observed: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LatencyEval {
    /// Records scored one at a time (features + both models).
    pub records_timed: u64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub mean_us: f64,
    /// Features + both models per record when scored in batches, as the function does.
    pub batched_us_per_record: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FeatureImportance {
    pub feature: String,
    /// Mean |term| of the feature in the `critical_security` logit.
    pub critical_logit: f64,
    /// Share of the anomaly model's reconstruction error on non-normal records.
    pub anomaly_error_share: f64,
}

/// Per-record outputs kept for the report's plots.
#[derive(Debug, Clone, Default)]
pub struct EvalDetails {
    pub labels: Vec<Category>,
    pub anomaly_scores: Vec<f64>,
    pub priority_scores: Vec<f64>,
    /// Every feature, in slot order (the JSON lists the top ones).
    pub importance: Vec<FeatureImportance>,
}

/// Scores `records` with `models` and measures everything against `labels`.
pub fn evaluate_models(
    models: &ModelSet,
    records: &[Record],
    labels: &[Category],
    options: &EvalOptions,
) -> Result<Evaluation, EvalError> {
    if records.len() != labels.len() {
        return Err(EvalError::Mismatch {
            records: records.len(),
            labels: labels.len(),
        });
    }
    if records.is_empty() {
        return Err(EvalError::Empty);
    }
    let extractor = Extractor::new();
    let started = Instant::now();
    let (features, known) = models.features_and_knowledge(&extractor, records);
    let scores = models.score(&features)?;
    let batched = started.elapsed().as_secs_f64() * 1e6 / records.len() as f64;

    let n = records.len();
    let anomaly: Vec<f64> = scores.anomaly.iter().map(|s| *s as f64).collect();
    let mut predicted = Vec::with_capacity(n);
    let mut confidence = Vec::with_capacity(n);
    let mut priority_scores = Vec::with_capacity(n);
    for (i, a) in anomaly.iter().enumerate() {
        let p = scores.probabilities_of(i);
        let source_fatal = features[i * N_FEATURES + F::TextFatal as usize] >= 0.5;
        let (category, conf) = priority::category_of(p, source_fatal);
        predicted.push(category);
        confidence.push(conf);
        let evidence = priority::Evidence::of(
            &records[i],
            &known[i].matches,
            known[i].flags.as_deref(),
            source_fatal,
        );
        priority_scores.push(priority::priority_score(p, *a, evidence));
    }

    let non_normal: Vec<bool> = labels.iter().map(|l| *l != Category::Normal).collect();
    let critical: Vec<bool> = labels
        .iter()
        .map(|l| *l == Category::CriticalSecurity)
        .collect();
    let (crit_scores, crit_positive): (Vec<f64>, Vec<bool>) = anomaly
        .iter()
        .zip(labels)
        .filter(|(_, l)| matches!(l, Category::Normal | Category::CriticalSecurity))
        .map(|(s, l)| (*s, *l == Category::CriticalSecurity))
        .unzip();
    let flagged: Vec<bool> = anomaly
        .iter()
        .map(|s| *s >= options.anomaly_threshold)
        .collect();
    let normal_count = non_normal.iter().filter(|p| !**p).count();
    let normal_flagged = flagged
        .iter()
        .zip(&non_normal)
        .filter(|(f, nn)| **f && !**nn)
        .count();

    let targets: Vec<f64> = labels.iter().map(|l| CATEGORY_WEIGHTS[l.index()]).collect();
    let correct: Vec<f64> = predicted
        .iter()
        .zip(labels)
        .map(|(p, l)| if p == l { 1.0 } else { 0.0 })
        .collect();

    let mut bands: BTreeMap<Category, BTreeMap<String, u64>> = BTreeMap::new();
    for (l, s) in labels.iter().zip(&priority_scores) {
        *bands
            .entry(*l)
            .or_default()
            .entry(crate::enrich::Priority::from_score(*s).name().to_string())
            .or_default() += 1;
    }

    let importance = feature_importance(&scores, &non_normal);
    let mut listed = importance.clone();
    listed.sort_by(|a, b| {
        (b.critical_logit + b.anomaly_error_share)
            .total_cmp(&(a.critical_logit + a.anomaly_error_share))
    });
    listed.truncate(IMPORTANCE_LISTED);

    let mut rows_per_category: BTreeMap<Category, u64> = BTreeMap::new();
    for l in labels {
        *rows_per_category.entry(*l).or_default() += 1;
    }
    let mut rows_per_log_type: BTreeMap<String, u64> = BTreeMap::new();
    for r in records {
        *rows_per_log_type
            .entry(r.log_type.name().to_string())
            .or_default() += 1;
    }

    Ok(Evaluation {
        model_version: models.version().to_string(),
        feature_schema_version: models.manifest().feature_schema.version,
        rows: n as u64,
        rows_per_category,
        rows_per_log_type,
        classifier: metrics::class_report(&predicted, labels),
        anomaly: AnomalyEval {
            roc_auc: metrics::roc_auc(&anomaly, &non_normal),
            pr_auc: metrics::average_precision(&anomaly, &non_normal),
            roc_auc_critical: metrics::roc_auc(&crit_scores, &crit_positive),
            pr_auc_critical: metrics::average_precision(&crit_scores, &crit_positive),
            threshold: options.anomaly_threshold,
            is_anomaly: metrics::binary_scores(&flagged, &non_normal),
            normal_flagged: normal_flagged as f64 / normal_count.max(1) as f64,
        },
        priority: PriorityEval {
            roc_auc_non_normal: metrics::roc_auc(&priority_scores, &non_normal),
            roc_auc_critical: metrics::roc_auc(&priority_scores, &critical),
            calibration: calibration(&priority_scores, &targets, CALIBRATION_BINS),
            bands,
        },
        confidence_calibration: calibration(&confidence, &correct, CALIBRATION_BINS),
        latency: latency(models, &extractor, records, options.latency_sample, batched)?,
        feature_importance: listed,
        details: EvalDetails {
            labels: labels.to_vec(),
            anomaly_scores: anomaly,
            priority_scores,
            importance,
        },
    })
}

/// Equal-width reliability bins over `0..=1`; empty bins are left out.
pub fn calibration(predicted: &[f64], observed: &[f64], bins: usize) -> Calibration {
    assert_eq!(predicted.len(), observed.len());
    let bins = bins.max(1);
    let mut sums = vec![(0u64, 0.0f64, 0.0f64); bins];
    let mut squared = 0.0;
    for (p, o) in predicted.iter().zip(observed) {
        let b = ((p.clamp(0.0, 1.0) * bins as f64) as usize).min(bins - 1);
        sums[b].0 += 1;
        sums[b].1 += p;
        sums[b].2 += o;
        squared += (p - o) * (p - o);
    }
    let total = predicted.len().max(1) as f64;
    let mut ece = 0.0;
    let mut out = Vec::new();
    for (b, (count, sp, so)) in sums.into_iter().enumerate() {
        if count == 0 {
            continue;
        }
        let mean_predicted = sp / count as f64;
        let mean_observed = so / count as f64;
        ece += count as f64 / total * (mean_predicted - mean_observed).abs();
        out.push(CalibrationBin {
            lower: b as f64 / bins as f64,
            upper: (b + 1) as f64 / bins as f64,
            count,
            mean_predicted,
            mean_observed,
        });
    }
    Calibration {
        bins: out,
        ece,
        brier: squared / total,
    }
}

fn feature_importance(
    scores: &crate::ml::runtime::Scores,
    non_normal: &[bool],
) -> Vec<FeatureImportance> {
    let n = scores.len().max(1) as f64;
    let mut critical = vec![0.0f64; N_FEATURES];
    let mut residual = vec![0.0f64; N_FEATURES];
    for (i, nn) in non_normal.iter().enumerate() {
        for (acc, v) in critical.iter_mut().zip(scores.critical_contributions_of(i)) {
            *acc += (*v as f64).abs();
        }
        if *nn {
            for (acc, v) in residual.iter_mut().zip(scores.contributions_of(i)) {
                *acc += *v as f64;
            }
        }
    }
    let residual_total: f64 = residual.iter().sum();
    FEATURES
        .iter()
        .enumerate()
        .map(|(j, info)| FeatureImportance {
            feature: info.name.to_string(),
            critical_logit: critical[j] / n,
            anomaly_error_share: if residual_total > 0.0 {
                residual[j] / residual_total
            } else {
                0.0
            },
        })
        .collect()
}

fn latency(
    models: &ModelSet,
    extractor: &Extractor,
    records: &[Record],
    sample: usize,
    batched_us_per_record: f64,
) -> Result<LatencyEval, ModelError> {
    // An even spread over the set, so every log type is represented.
    let step = records.len().div_ceil(sample.max(1)).max(1);
    let mut times = Vec::new();
    for record in records.iter().step_by(step) {
        let started = Instant::now();
        let row = models.features(extractor, std::slice::from_ref(record));
        let scored = models.score(&row)?;
        std::hint::black_box(&scored);
        times.push(started.elapsed().as_secs_f64() * 1e6);
    }
    let mean = times.iter().sum::<f64>() / times.len().max(1) as f64;
    Ok(LatencyEval {
        records_timed: times.len() as u64,
        p50_us: metrics::quantile(&times, 0.5).unwrap_or(0.0),
        p99_us: metrics::quantile(&times, 0.99).unwrap_or(0.0),
        mean_us: mean,
        batched_us_per_record,
    })
}

/// A metric of two evaluations side by side.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MetricDelta {
    pub metric: String,
    pub candidate: Option<f64>,
    pub baseline: Option<f64>,
    /// `candidate - baseline` when both exist.
    pub delta: Option<f64>,
    /// Quality metrics gate a deployment; the others are shown only.
    pub gated: bool,
}

/// The candidate against the model set currently deployed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Comparison {
    pub candidate_version: String,
    pub baseline_version: String,
    pub metrics: Vec<MetricDelta>,
}

/// The metrics a deployment is gated on, by name, with how to read them.
pub fn gated_metrics(e: &Evaluation) -> Vec<(&'static str, Option<f64>)> {
    vec![
        ("classifier.macro_f1", Some(e.classifier.macro_f1)),
        ("anomaly.roc_auc", e.anomaly.roc_auc),
        ("anomaly.roc_auc_critical", e.anomaly.roc_auc_critical),
        ("priority.roc_auc_non_normal", e.priority.roc_auc_non_normal),
        ("priority.roc_auc_critical", e.priority.roc_auc_critical),
    ]
}

fn informative_metrics(e: &Evaluation) -> Vec<(&'static str, Option<f64>)> {
    let mut out = vec![
        ("classifier.accuracy", Some(e.classifier.accuracy)),
        ("anomaly.pr_auc", e.anomaly.pr_auc),
        ("anomaly.is_anomaly_f1", Some(e.anomaly.is_anomaly.f1)),
        ("anomaly.normal_flagged", Some(e.anomaly.normal_flagged)),
        ("priority.calibration_ece", Some(e.priority.calibration.ece)),
        ("latency.p99_us", Some(e.latency.p99_us)),
    ];
    for c in &e.classifier.per_class {
        let name: &'static str = match c.category {
            Category::CriticalSecurity => "classifier.f1.critical_security",
            Category::SystemError => "classifier.f1.system_error",
            Category::Performance => "classifier.f1.performance",
            Category::Normal => "classifier.f1.normal",
        };
        out.push((name, (c.support > 0).then_some(c.f1)));
    }
    out
}

/// The candidate's gated and informative metrics next to the baseline's.
pub fn compare(candidate: &Evaluation, baseline: &Evaluation) -> Comparison {
    let mut metrics = Vec::new();
    for (gated, (c, b)) in [
        (true, (gated_metrics(candidate), gated_metrics(baseline))),
        (
            false,
            (
                informative_metrics(candidate),
                informative_metrics(baseline),
            ),
        ),
    ] {
        for ((name, cv), (_, bv)) in c.into_iter().zip(b) {
            metrics.push(MetricDelta {
                metric: name.to_string(),
                candidate: cv,
                baseline: bv,
                delta: cv.zip(bv).map(|(c, b)| c - b),
                gated,
            });
        }
    }
    Comparison {
        candidate_version: candidate.model_version.clone(),
        baseline_version: baseline.model_version.clone(),
        metrics,
    }
}

impl Comparison {
    /// The gated metrics where the candidate is worse than the baseline by more than
    /// `tolerance` (absolute), or that the candidate lacks while the baseline has them.
    pub fn regressions(&self, tolerance: f64) -> Vec<String> {
        self.metrics
            .iter()
            .filter(|m| m.gated)
            .filter_map(|m| match (m.candidate, m.baseline) {
                (Some(c), Some(b)) if c < b - tolerance => Some(format!(
                    "{}: {c:.4} vs {b:.4} deployed ({:+.4}, tolerance {tolerance})",
                    m.metric,
                    c - b
                )),
                (None, Some(b)) => Some(format!(
                    "{}: not measurable for the candidate ({b:.4} deployed)",
                    m.metric
                )),
                _ => None,
            })
            .collect()
    }
}

/// A metric that may be missing (`n/a`), to four decimals.
fn opt(v: Option<f64>) -> String {
    v.map_or("n/a".to_string(), |v| format!("{v:.4}"))
}

/// A short plain-text summary for terminals.
pub fn format_summary(e: &Evaluation) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "models {} (feature schema {}), {} labelled records",
        e.model_version, e.feature_schema_version, e.rows
    );
    let _ = writeln!(
        out,
        "{:<18} {:>8} {:>9} {:>7} {:>7}",
        "category", "support", "precision", "recall", "F1"
    );
    for c in &e.classifier.per_class {
        let _ = writeln!(
            out,
            "{:<18} {:>8} {:>9.4} {:>7.4} {:>7.4}",
            c.category.name(),
            c.support,
            c.precision,
            c.recall,
            c.f1
        );
    }
    let _ = writeln!(
        out,
        "macro-F1 {:.4}, accuracy {:.4}",
        e.classifier.macro_f1, e.classifier.accuracy
    );
    let _ = writeln!(
        out,
        "AnomalyScore: ROC-AUC {} PR-AUC {} (non-normal vs normal); critical vs normal ROC-AUC {} PR-AUC {}",
        opt(e.anomaly.roc_auc),
        opt(e.anomaly.pr_auc),
        opt(e.anomaly.roc_auc_critical),
        opt(e.anomaly.pr_auc_critical)
    );
    let a = &e.anomaly.is_anomaly;
    let _ = writeln!(
        out,
        "IsAnomaly at {}: precision {:.4} recall {:.4} F1 {:.4}; normal records flagged {:.4}%",
        e.anomaly.threshold,
        a.precision,
        a.recall,
        a.f1,
        e.anomaly.normal_flagged * 100.0
    );
    let _ = writeln!(
        out,
        "PriorityScore: ROC-AUC {} (non-normal), {} (critical); calibration ECE {:.4}, Brier {:.4}",
        opt(e.priority.roc_auc_non_normal),
        opt(e.priority.roc_auc_critical),
        e.priority.calibration.ece,
        e.priority.calibration.brier
    );
    let _ = writeln!(
        out,
        "LogCategoryConfidence calibration: ECE {:.4}, Brier {:.4}",
        e.confidence_calibration.ece, e.confidence_calibration.brier
    );
    let l = &e.latency;
    let _ = writeln!(
        out,
        "latency per record: p50 {:.1} us, p99 {:.1} us one at a time ({} timed); {:.2} us in batches",
        l.p50_us, l.p99_us, l.records_timed, l.batched_us_per_record
    );
    out
}

pub fn format_comparison(c: &Comparison) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "candidate {} against deployed {}:",
        c.candidate_version, c.baseline_version
    );
    for m in &c.metrics {
        let _ = writeln!(
            out,
            "  {:<34} {:>9} {:>9} {:>9}{}",
            m.metric,
            opt(m.candidate),
            opt(m.baseline),
            m.delta.map_or("".to_string(), |d| format!("{d:+.4}")),
            if m.gated { "  (gated)" } else { "" }
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calibration_of_perfect_and_biased_predictions() {
        let predicted = [0.05, 0.05, 0.95, 0.95];
        let observed = [0.0, 0.1, 1.0, 0.9];
        let c = calibration(&predicted, &observed, 10);
        assert_eq!(c.bins.len(), 2);
        assert!(c.ece < 1e-12, "{c:?}");
        let biased = calibration(&[0.9, 0.9], &[0.0, 0.0], 10);
        assert!((biased.ece - 0.9).abs() < 1e-12);
        assert!((biased.brier - 0.81).abs() < 1e-12);
        // A score of exactly 1 falls in the last bin.
        assert_eq!(calibration(&[1.0], &[1.0], 10).bins[0].upper, 1.0);
    }

    fn evaluation_with(version: &str, macro_f1: f64, roc: Option<f64>) -> Evaluation {
        Evaluation {
            model_version: version.into(),
            feature_schema_version: 1,
            rows: 10,
            rows_per_category: BTreeMap::new(),
            rows_per_log_type: BTreeMap::new(),
            classifier: ClassReport {
                confusion: [[0; 4]; 4],
                per_class: Vec::new(),
                macro_f1,
                accuracy: 0.9,
                rows: 10,
            },
            anomaly: AnomalyEval {
                roc_auc: roc,
                pr_auc: None,
                roc_auc_critical: roc,
                pr_auc_critical: None,
                threshold: 0.95,
                is_anomaly: metrics::binary_scores(&[], &[]),
                normal_flagged: 0.0,
            },
            priority: PriorityEval {
                roc_auc_non_normal: roc,
                roc_auc_critical: roc,
                calibration: Calibration::default(),
                bands: BTreeMap::new(),
            },
            confidence_calibration: Calibration::default(),
            latency: LatencyEval {
                records_timed: 0,
                p50_us: 0.0,
                p99_us: 0.0,
                mean_us: 0.0,
                batched_us_per_record: 0.0,
            },
            feature_importance: Vec::new(),
            details: EvalDetails::default(),
        }
    }

    #[test]
    fn the_gate_refuses_regressions_beyond_the_tolerance() {
        let baseline = evaluation_with("old", 0.90, Some(0.95));
        let slightly_worse = evaluation_with("new", 0.895, Some(0.945));
        assert!(
            compare(&slightly_worse, &baseline)
                .regressions(0.01)
                .is_empty()
        );
        let worse = evaluation_with("new", 0.85, Some(0.95));
        let r = compare(&worse, &baseline).regressions(0.01);
        assert_eq!(r.len(), 1, "{r:?}");
        assert!(r[0].starts_with("classifier.macro_f1"), "{r:?}");
        let unmeasurable = evaluation_with("new", 0.95, None);
        assert_eq!(compare(&unmeasurable, &baseline).regressions(0.01).len(), 4);
        let better = evaluation_with("new", 0.95, Some(0.99));
        assert!(compare(&better, &baseline).regressions(0.0).is_empty());
    }
}

//! Evaluation metrics shared by training reports, evaluations and tests.

use serde::{Deserialize, Serialize};

use crate::ml::Category;
use crate::ml::manifest::{ClassReport, ClassScores};

/// Area under the ROC curve: the probability that a random positive scores above a
/// random negative, ties counting half (Mann-Whitney U). `None` without both classes.
pub fn roc_auc(scores: &[f64], positive: &[bool]) -> Option<f64> {
    assert_eq!(scores.len(), positive.len());
    let n_pos = positive.iter().filter(|p| **p).count();
    let n_neg = positive.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Average ranks over ties.
    let mut rank_sum_pos = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            if positive[k] {
                rank_sum_pos += avg_rank;
            }
        }
        i = j + 1;
    }
    let u = rank_sum_pos - (n_pos * (n_pos + 1)) as f64 / 2.0;
    Some(u / (n_pos as f64 * n_neg as f64))
}

/// Average precision (area under the precision-recall curve, step-wise), ties grouped.
pub fn average_precision(scores: &[f64], positive: &[bool]) -> Option<f64> {
    let n_pos = positive.iter().filter(|p| **p).count();
    if n_pos == 0 {
        return None;
    }
    let (mut ap, mut last_recall) = (0.0, 0.0);
    for (tp, fp) in threshold_steps(scores, positive) {
        let recall = tp as f64 / n_pos as f64;
        let precision = tp as f64 / (tp + fp) as f64;
        ap += (recall - last_recall) * precision;
        last_recall = recall;
    }
    Some(ap)
}

/// Cumulative (true positives, false positives) at each distinct score, highest first:
/// what a threshold at that score lets through.
pub fn threshold_steps(scores: &[f64], positive: &[bool]) -> Vec<(usize, usize)> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut steps = Vec::new();
    let (mut tp, mut fp) = (0, 0);
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        for &k in &order[i..=j] {
            if positive[k] {
                tp += 1;
            } else {
                fp += 1;
            }
        }
        steps.push((tp, fp));
        i = j + 1;
    }
    steps
}

/// `part / whole`, or 0 when `whole` is 0.
fn share(part: f64, whole: f64) -> f64 {
    if whole > 0.0 { part / whole } else { 0.0 }
}

/// The harmonic mean of precision and recall (0 when both are).
fn f1(precision: f64, recall: f64) -> f64 {
    share(2.0 * precision * recall, precision + recall)
}

/// Precision, recall and F1 of a binary decision.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BinaryScores {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub true_positives: u64,
    pub false_positives: u64,
    pub false_negatives: u64,
}

/// Precision, recall and F1 of `predicted` against `actual`.
pub fn binary_scores(predicted: &[bool], actual: &[bool]) -> BinaryScores {
    let mut tp = 0;
    let mut fp = 0;
    let mut fn_ = 0;
    for (&p, &a) in predicted.iter().zip(actual) {
        match (p, a) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, true) => fn_ += 1,
            (false, false) => {}
        }
    }
    let precision = share(tp as f64, (tp + fp) as f64);
    let recall = share(tp as f64, (tp + fn_) as f64);
    BinaryScores {
        precision,
        recall,
        f1: f1(precision, recall),
        true_positives: tp,
        false_positives: fp,
        false_negatives: fn_,
    }
}

pub fn class_report(predicted: &[Category], actual: &[Category]) -> ClassReport {
    let mut confusion = [[0u64; 4]; 4];
    for (p, a) in predicted.iter().zip(actual) {
        confusion[a.index()][p.index()] += 1;
    }
    let rows: u64 = confusion.iter().flatten().sum();
    let correct: u64 = (0..4).map(|i| confusion[i][i]).sum();
    let per_class: Vec<ClassScores> = Category::ALL
        .iter()
        .map(|&c| {
            let i = c.index();
            let tp = confusion[i][i] as f64;
            let predicted: u64 = (0..4).map(|a| confusion[a][i]).sum();
            let support: u64 = confusion[i].iter().sum();
            let precision = share(tp, predicted as f64);
            let recall = share(tp, support as f64);
            ClassScores {
                category: c,
                support,
                precision,
                recall,
                f1: f1(precision, recall),
            }
        })
        .collect();
    let present: Vec<&ClassScores> = per_class.iter().filter(|c| c.support > 0).collect();
    let macro_f1 = if present.is_empty() {
        0.0
    } else {
        present.iter().map(|c| c.f1).sum::<f64>() / present.len() as f64
    };
    ClassReport {
        confusion,
        per_class,
        macro_f1,
        accuracy: share(correct as f64, rows as f64),
        rows,
    }
}

/// The `q` quantile (0..=1) of `values` by linear interpolation; `values` need not be
/// sorted. `None` when empty.
pub fn quantile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    Some(quantile_sorted(&sorted, q))
}

pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let frac = pos - lo as f64;
    sorted[lo] + (sorted[hi] - sorted[lo]) * frac
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_of_perfect_random_and_tied_scores() {
        assert_eq!(
            roc_auc(&[0.1, 0.2, 0.8, 0.9], &[false, false, true, true]),
            Some(1.0)
        );
        assert_eq!(
            roc_auc(&[0.9, 0.8, 0.2, 0.1], &[false, false, true, true]),
            Some(0.0)
        );
        assert_eq!(
            roc_auc(&[0.5, 0.5, 0.5, 0.5], &[false, true, false, true]),
            Some(0.5)
        );
        // One positive ranked between two negatives.
        assert_eq!(roc_auc(&[0.1, 0.5, 0.9], &[false, true, false]), Some(0.5));
        assert_eq!(roc_auc(&[0.1], &[true]), None);
    }

    #[test]
    fn average_precision_matches_hand_computation() {
        // Ranking: P N P -> precision 1 at recall .5, 2/3 at recall 1.
        let ap = average_precision(&[0.9, 0.8, 0.7], &[true, false, true]).unwrap();
        assert!((ap - (0.5 + 0.5 * 2.0 / 3.0)).abs() < 1e-12);
    }

    #[test]
    fn binary_and_class_reports() {
        let s = binary_scores(&[true, true, false, false], &[true, false, true, false]);
        assert_eq!(
            (s.true_positives, s.false_positives, s.false_negatives),
            (1, 1, 1)
        );
        assert!((s.f1 - 0.5).abs() < 1e-12);
        use Category::*;
        let r = class_report(
            &[CriticalSecurity, Normal, Normal, SystemError],
            &[CriticalSecurity, Normal, CriticalSecurity, SystemError],
        );
        assert_eq!(r.rows, 4);
        assert_eq!(r.confusion[0][3], 1);
        assert!((r.accuracy - 0.75).abs() < 1e-12);
        assert!((r.per_class[0].recall - 0.5).abs() < 1e-12);
        assert_eq!(r.per_class[2].support, 0);
    }

    #[test]
    fn quantiles() {
        assert_eq!(quantile(&[3.0, 1.0, 2.0], 0.5), Some(2.0));
        assert_eq!(quantile(&[1.0, 2.0], 0.25), Some(1.25));
        assert_eq!(quantile(&[], 0.5), None);
    }
}

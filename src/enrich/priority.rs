//! `PriorityScore` and `Priority`: how urgently an analyst should look at a record.
//!
//! ```text
//! severity      = Σ P(category) · weight(category)
//!                 weights: critical_security 1.0, system_error 0.55, performance 0.4, normal 0.05
//! PriorityScore = severity + (1 − severity) · 0.5 · AnomalyScore
//! ```
//!
//! The classifier says what a record is about, the anomaly score how unusual it is; an
//! unusual record of any category moves up, but unusualness alone (a normal-looking
//! category) stays below High. Bands: Critical ≥ 0.8 (the default alert threshold),
//! High ≥ 0.6, Medium ≥ 0.35, Low below.

use std::fmt;

use crate::ml::Category;

pub const CATEGORY_WEIGHTS: [f64; 4] = [1.0, 0.55, 0.4, 0.05];
/// Share of the remaining headroom an anomaly score of 1 adds.
pub const ANOMALY_WEIGHT: f64 = 0.5;

/// Band of a record's `PriorityScore`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum Priority {
    /// Below 0.35.
    Low,
    /// 0.35 to below 0.6.
    Medium,
    /// 0.6 to below 0.8.
    High,
    /// 0.8 and above: the default alert threshold.
    Critical,
}

impl Priority {
    /// The band of a priority score.
    pub fn from_score(score: f64) -> Priority {
        if score >= 0.8 {
            Priority::Critical
        } else if score >= 0.6 {
            Priority::High
        } else if score >= 0.35 {
            Priority::Medium
        } else {
            Priority::Low
        }
    }

    /// The band's name, as written in the `Priority` column.
    pub fn name(self) -> &'static str {
        match self {
            Priority::Low => "Low",
            Priority::Medium => "Medium",
            Priority::High => "High",
            Priority::Critical => "Critical",
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `probabilities` in [`Category::ALL`] order.
pub fn priority_score(probabilities: &[f32], anomaly: f64) -> f64 {
    let severity: f64 = probabilities
        .iter()
        .zip(CATEGORY_WEIGHTS)
        .map(|(p, w)| *p as f64 * w)
        .sum::<f64>()
        .clamp(0.0, 1.0);
    (severity + (1.0 - severity) * ANOMALY_WEIGHT * anomaly.clamp(0.0, 1.0)).clamp(0.0, 1.0)
}

/// The most likely category and its probability.
pub fn top_category(probabilities: &[f32]) -> (Category, f64) {
    let (i, p) = probabilities
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, p)| (i, *p as f64))
        .unwrap_or((Category::Normal.index(), 0.0));
    (Category::from_index(i).unwrap_or(Category::Normal), p)
}

/// Everything the models say about one record.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordScores {
    pub anomaly_score: f64,
    pub is_anomaly: bool,
    /// The threshold `is_anomaly` was decided with.
    pub anomaly_threshold: f64,
    pub category: Category,
    pub category_confidence: f64,
    /// Probabilities in [`Category::ALL`] order.
    pub probabilities: [f64; 4],
    pub priority_score: f64,
    pub priority: Priority,
    /// Feature slots behind the scores, strongest first.
    pub reason_slots: Vec<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_and_formula() {
        assert_eq!(Priority::from_score(0.85), Priority::Critical);
        assert_eq!(Priority::from_score(0.8), Priority::Critical);
        assert_eq!(Priority::from_score(0.7), Priority::High);
        assert_eq!(Priority::from_score(0.4), Priority::Medium);
        assert_eq!(Priority::from_score(0.1), Priority::Low);
        // Certain critical: 1 whatever the anomaly.
        assert!((priority_score(&[1.0, 0.0, 0.0, 0.0], 0.0) - 1.0).abs() < 1e-9);
        // Certain normal and maximally unusual: Medium at most.
        let p = priority_score(&[0.0, 0.0, 0.0, 1.0], 1.0);
        assert!((p - (0.05 + 0.95 * 0.5)).abs() < 1e-9);
        assert_eq!(Priority::from_score(p), Priority::Medium);
        assert!(priority_score(&[0.0, 0.0, 0.0, 1.0], 0.0) < 0.1);
        assert_eq!(
            top_category(&[0.1, 0.2, 0.6, 0.1]),
            (Category::Performance, 0.6000000238418579)
        );
    }
}

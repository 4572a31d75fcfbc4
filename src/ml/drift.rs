//! Drift monitoring: how far live feature and score distributions have moved from the
//! training distribution, as the population stability index (PSI).
//!
//! At training time each feature gets a [`ReferenceHistogram`] (quantile bin edges and the
//! share of training rows per bin), stored in the model manifest. At run time the function
//! counts live values into the same bins ([`DriftCounts`], merged into the state prefix by
//! concurrent invocations) and computes PSI per feature. The usual reading: below 0.1
//! stable, 0.1-0.2 moderate shift, above 0.2 significant drift.

use serde::{Deserialize, Serialize};

/// Default alarm level for PSI.
pub const DEFAULT_PSI_ALARM: f64 = 0.2;
const DEFAULT_BINS: usize = 10;
/// Keeps empty bins from making PSI infinite.
const EPSILON: f64 = 1e-4;
/// Narrowest bin, in the units of features and scores (both scaled to about `0..=1`).
/// Quantile edges of a value that clusters tightly (a sequence surprise that sits near
/// one level in a log type) are otherwise a few thousandths apart, and the ordinary
/// difference between two healthy deployments reads as a PSI of 1 or more.
pub const MIN_BIN_WIDTH: f32 = 0.05;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReferenceHistogram {
    /// Upper-exclusive inner edges; `edges.len() + 1` bins.
    pub edges: Vec<f32>,
    /// Share of training values per bin (sums to 1).
    pub proportions: Vec<f64>,
}

impl ReferenceHistogram {
    /// Quantile bins over training values, no narrower than [`MIN_BIN_WIDTH`]: an edge
    /// closer than that to the previous one (or to the minimum) is dropped, so repeated
    /// edges of a discrete feature collapse too. A minimum that holds most values gets a
    /// bin of its own, and two guard bins, empty in training, catch values more than
    /// [`MIN_BIN_WIDTH`] beyond the training range.
    pub fn from_samples(values: &[f32]) -> ReferenceHistogram {
        Self::with_bins(values, DEFAULT_BINS)
    }

    pub fn with_bins(values: &[f32], bins: usize) -> ReferenceHistogram {
        let mut sorted: Vec<f32> = values.iter().copied().filter(|v| v.is_finite()).collect();
        sorted.sort_by(f32::total_cmp);
        let mut edges: Vec<f32> = Vec::new();
        if let (Some(&min), Some(&max)) = (sorted.first(), sorted.last()) {
            // A guard bin below the training range, empty in training.
            edges.push(min - MIN_BIN_WIDTH);
            // Most features sit at their minimum (zero) most of the time: a flag, a slot
            // of another family. The minimum then gets a bin of its own, so a rare flag
            // firing far more often shows even though no quantile reaches it.
            let at_min = sorted.partition_point(|v| *v <= min);
            let mut floor = min;
            if at_min * 2 > sorted.len() {
                floor = min + MIN_BIN_WIDTH / 2.0;
                edges.push(floor);
            }
            for i in 1..bins {
                let q = sorted[(i * sorted.len() / bins).min(sorted.len() - 1)];
                if q - floor >= MIN_BIN_WIDTH {
                    edges.push(q);
                    floor = q;
                }
            }
            // And a guard bin above the range.
            if max + MIN_BIN_WIDTH > floor {
                edges.push(max + MIN_BIN_WIDTH);
            }
        }
        let mut counts = vec![0u64; edges.len() + 1];
        for v in &sorted {
            counts[bin_index(&edges, *v)] += 1;
        }
        let total = sorted.len().max(1) as f64;
        ReferenceHistogram {
            proportions: counts.iter().map(|c| *c as f64 / total).collect(),
            edges,
        }
    }

    pub fn bins(&self) -> usize {
        self.edges.len() + 1
    }
}

pub fn bin_index(edges: &[f32], value: f32) -> usize {
    if value.is_nan() {
        return 0;
    }
    edges.partition_point(|edge| *edge <= value)
}

/// PSI between a reference (proportions) and live counts over the same bins.
pub fn psi(expected: &[f64], actual_counts: &[u64]) -> f64 {
    let total: u64 = actual_counts.iter().sum();
    if total == 0 || expected.len() != actual_counts.len() {
        return 0.0;
    }
    expected
        .iter()
        .zip(actual_counts)
        .map(|(e, a)| {
            let e = e.max(EPSILON);
            let a = (*a as f64 / total as f64).max(EPSILON);
            (a - e) * (a / e).ln()
        })
        .sum()
}

/// The training distribution of every feature and of the anomaly score, stored with the
/// model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftProfile {
    pub feature_names: Vec<String>,
    pub features: Vec<ReferenceHistogram>,
    pub score: ReferenceHistogram,
}

impl DriftProfile {
    /// `rows` are training feature vectors, `scores` the model's scores on them.
    pub fn from_training(feature_names: &[String], rows: &[Vec<f32>], scores: &[f32]) -> Self {
        let features = (0..feature_names.len())
            .map(|j| {
                let column: Vec<f32> = rows.iter().map(|r| r[j]).collect();
                ReferenceHistogram::from_samples(&column)
            })
            .collect();
        DriftProfile {
            feature_names: feature_names.to_vec(),
            features,
            score: ReferenceHistogram::from_samples(scores),
        }
    }

    pub fn empty_counts(&self) -> DriftCounts {
        DriftCounts {
            features: self.features.iter().map(|h| vec![0; h.bins()]).collect(),
            score: vec![0; self.score.bins()],
            rows: 0,
        }
    }

    pub fn observe(&self, counts: &mut DriftCounts, features: &[f32], score: f32) {
        for ((hist, slot), v) in self.features.iter().zip(&mut counts.features).zip(features) {
            slot[bin_index(&hist.edges, *v)] += 1;
        }
        counts.score[bin_index(&self.score.edges, score)] += 1;
        counts.rows += 1;
    }

    pub fn report(&self, counts: &DriftCounts) -> DriftReport {
        let per_feature: Vec<(String, f64)> = self
            .feature_names
            .iter()
            .zip(&self.features)
            .zip(&counts.features)
            .map(|((name, hist), c)| (name.clone(), psi(&hist.proportions, c)))
            .collect();
        // The pattern slot describes the deployment's own history (how often a template
        // occurs there, how its volume moves), which differs between healthy deployments
        // of different sizes; its effect on the models shows in the score's PSI, and the
        // pattern stage reports its changes itself. Its PSI is published, not alarmed on.
        // So are the knowledge slots: the behaviour slot follows how warm the deployment's
        // principal histories are, and the rule slot the rule pack deployed.
        let max = per_feature
            .iter()
            .filter(|(name, _)| {
                !crate::patterns::PATTERN_FEATURE_NAMES.contains(&name.as_str())
                    && !super::knowledge::SLOT_NAMES.contains(&name.as_str())
            })
            .cloned()
            .fold(None, |best: Option<(String, f64)>, cur| match best {
                Some(b) if b.1 >= cur.1 => Some(b),
                _ => Some(cur),
            });
        DriftReport {
            rows: counts.rows,
            score_psi: psi(&self.score.proportions, &counts.score),
            max_feature_psi: max.as_ref().map(|m| m.1).unwrap_or(0.0),
            most_drifted_feature: max.map(|m| m.0),
            per_feature,
        }
    }
}

/// Live counts per bin; additive, so concurrent invocations merge by summing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftCounts {
    pub features: Vec<Vec<u64>>,
    pub score: Vec<u64>,
    pub rows: u64,
}

impl DriftCounts {
    /// Adds `other` (same profile) into `self`; shapes that differ (another model
    /// version) are replaced instead.
    pub fn merge(&mut self, other: &DriftCounts) {
        let same_shape = self.score.len() == other.score.len()
            && self.features.len() == other.features.len()
            && self
                .features
                .iter()
                .zip(&other.features)
                .all(|(a, b)| a.len() == b.len());
        if !same_shape {
            *self = other.clone();
            return;
        }
        for (a, b) in self.features.iter_mut().zip(&other.features) {
            for (x, y) in a.iter_mut().zip(b) {
                *x = x.saturating_add(*y);
            }
        }
        for (x, y) in self.score.iter_mut().zip(&other.score) {
            *x = x.saturating_add(*y);
        }
        self.rows = self.rows.saturating_add(other.rows);
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftReport {
    pub rows: u64,
    pub score_psi: f64,
    pub max_feature_psi: f64,
    pub most_drifted_feature: Option<String>,
    pub per_feature: Vec<(String, f64)>,
}

impl DriftReport {
    pub fn is_drifting(&self, alarm: f64) -> bool {
        self.max_feature_psi > alarm || self.score_psi > alarm
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(seed: &mut u64) -> f32 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((*seed >> 33) as f32) / (1u64 << 31) as f32
    }

    #[test]
    fn same_distribution_is_stable_and_a_shift_drifts() {
        let mut seed = 7;
        let train: Vec<f32> = (0..20_000).map(|_| lcg(&mut seed)).collect();
        let hist = ReferenceHistogram::from_samples(&train);
        // Ten quantile bins and the two guards.
        assert_eq!(hist.bins(), 12);
        let same: Vec<u64> = {
            let mut c = vec![0; hist.bins()];
            for _ in 0..5000 {
                c[bin_index(&hist.edges, lcg(&mut seed))] += 1;
            }
            c
        };
        assert!(psi(&hist.proportions, &same) < 0.02);
        let shifted: Vec<u64> = {
            let mut c = vec![0; hist.bins()];
            for _ in 0..5000 {
                c[bin_index(&hist.edges, lcg(&mut seed) * 0.5 + 0.5)] += 1;
            }
            c
        };
        assert!(psi(&hist.proportions, &shifted) > DEFAULT_PSI_ALARM);
    }

    #[test]
    fn tightly_clustered_values_get_no_hair_thin_bins() {
        // A feature near 0.11 with a small spread, then the same shifted by 0.02.
        let train: Vec<f32> = (0..1000).map(|i| 0.1 + (i % 10) as f32 * 0.002).collect();
        let hist = ReferenceHistogram::from_samples(&train);
        assert!(
            hist.edges.windows(2).all(|w| w[1] - w[0] >= MIN_BIN_WIDTH),
            "{:?}",
            hist.edges
        );
        assert!(hist.bins() <= 3, "{:?}", hist.edges);
        let mut counts = vec![0u64; hist.bins()];
        for v in &train {
            counts[bin_index(&hist.edges, v + 0.02)] += 1;
        }
        assert!(psi(&hist.proportions, &counts) < DEFAULT_PSI_ALARM);
        // A real move still shows.
        let mut moved = vec![0u64; hist.bins()];
        for v in &train {
            moved[bin_index(&hist.edges, v + 0.3)] += 1;
        }
        assert!(psi(&hist.proportions, &moved) > DEFAULT_PSI_ALARM);
    }

    #[test]
    fn pattern_features_are_reported_but_not_alarmed_on() {
        let names = vec!["bytes".to_string(), "pattern_rare".to_string()];
        let rows: Vec<Vec<f32>> = (0..1000)
            .map(|i| vec![(i % 10) as f32 / 10.0, f32::from(i % 50 == 0)])
            .collect();
        let scores: Vec<f32> = (0..1000).map(|i| (i % 10) as f32 / 10.0).collect();
        let profile = DriftProfile::from_training(&names, &rows, &scores);
        let mut counts = profile.empty_counts();
        for (i, row) in rows.iter().enumerate() {
            // Same bytes and scores; rare templates ten times as often.
            profile.observe(&mut counts, &[row[0], f32::from(i % 5 == 0)], scores[i]);
        }
        let report = profile.report(&counts);
        assert!(report.per_feature[1].1 > DEFAULT_PSI_ALARM);
        assert_eq!(report.most_drifted_feature.as_deref(), Some("bytes"));
        assert!(!report.is_drifting(DEFAULT_PSI_ALARM));
    }

    #[test]
    fn discrete_features_collapse_bins() {
        let values: Vec<f32> = (0..100)
            .map(|i| if i % 4 == 0 { 1.0 } else { 0.0 })
            .collect();
        let hist = ReferenceHistogram::from_samples(&values);
        assert_eq!(hist.edges, vec![-0.05, 0.025, 1.0, 1.05]);
        assert_eq!(hist.proportions, vec![0.0, 0.75, 0.0, 0.25, 0.0]);
    }

    #[test]
    fn profile_counts_merge_and_report() {
        let names = vec!["a".to_string(), "b".to_string()];
        let rows: Vec<Vec<f32>> = (0..1000).map(|i| vec![i as f32, (i % 2) as f32]).collect();
        let scores: Vec<f32> = (0..1000).map(|i| i as f32 / 1000.0).collect();
        let profile = DriftProfile::from_training(&names, &rows, &scores);
        let mut a = profile.empty_counts();
        let mut b = profile.empty_counts();
        for i in 0..500 {
            profile.observe(&mut a, &[i as f32 * 2.0, 1.0], 0.99);
            profile.observe(&mut b, &[i as f32 * 2.0, 1.0], 0.99);
        }
        a.merge(&b);
        assert_eq!(a.rows, 1000);
        let report = profile.report(&a);
        assert!(report.is_drifting(DEFAULT_PSI_ALARM));
        assert_eq!(report.most_drifted_feature.as_deref(), Some("b"));
        assert!(report.score_psi > 1.0);
    }
}

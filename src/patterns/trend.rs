//! Frequency analysis: a pattern's (or a log type's) count per window compared with its
//! own history.
//!
//! The history of complete windows is smoothed with an exponentially weighted mean and
//! variance (EWMA); the variance never goes below the mean, as for counts that vary like
//! a Poisson process, so a quiet pattern needs a real jump to be flagged. On top:
//! - **spike**: the current count is far above the expectation (z-score and ratio),
//! - **drop**: the last complete window is far below it,
//! - **rising**: a one-sided CUSUM of standardized residuals accumulates a sustained
//!   upward drift that no single window makes a spike,
//! - **new** (a never-seen template) is decided by the caller, who knows the database.

use serde::Serialize;
use smart_default::SmartDefault;

#[derive(Debug, Clone, PartialEq, SmartDefault)]
pub struct TrendConfig {
    /// EWMA weight of the newest window.
    #[default(0.3)]
    pub alpha: f64,
    /// Complete windows of history needed before spikes, drops and trends are judged.
    #[default(4)]
    pub min_history: usize,
    #[default(4.0)]
    pub spike_z: f64,
    /// A spike must also be this many times the expectation.
    #[default(3.0)]
    pub spike_ratio: f64,
    /// Counts below this are never a spike.
    #[default(10)]
    pub min_spike_count: u64,
    #[default(3.0)]
    pub drop_z: f64,
    /// A drop must fall below this share of the expectation...
    #[default(0.25)]
    pub drop_ratio: f64,
    /// ...from an expectation of at least this many per window.
    #[default(10.0)]
    pub min_drop_expectation: f64,
    /// CUSUM slack (in standard deviations) and decision threshold.
    #[default(0.5)]
    pub cusum_slack: f64,
    #[default(4.0)]
    pub cusum_threshold: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TrendFlag {
    Spike,
    Drop,
    Rising,
}

impl TrendFlag {
    pub fn name(self) -> &'static str {
        match self {
            TrendFlag::Spike => "spike",
            TrendFlag::Drop => "drop",
            TrendFlag::Rising => "rising",
        }
    }
}

/// The verdict on one window.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TrendReport {
    pub spike: bool,
    pub drop: bool,
    pub rising: bool,
    /// Expected count of the current window from the history.
    pub expected: f64,
    /// Standardized difference of the current count from the expectation.
    pub z: f64,
}

impl TrendReport {
    pub fn flags(&self) -> impl Iterator<Item = TrendFlag> {
        [
            (self.spike, TrendFlag::Spike),
            (self.drop, TrendFlag::Drop),
            (self.rising, TrendFlag::Rising),
        ]
        .into_iter()
        .filter_map(|(on, f)| on.then_some(f))
    }
}

/// Exponentially weighted mean and variance.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Ewma {
    pub mean: f64,
    pub variance: f64,
    pub samples: usize,
}

impl Ewma {
    pub fn update(&mut self, x: f64, alpha: f64) {
        if self.samples == 0 {
            self.mean = x;
            self.variance = 0.0;
        } else {
            let diff = x - self.mean;
            self.mean += alpha * diff;
            self.variance = (1.0 - alpha) * (self.variance + alpha * diff * diff);
        }
        self.samples += 1;
    }

    /// Standard deviation with the Poisson floor (variance at least the mean, and 1).
    pub fn spread(&self) -> f64 {
        self.variance.max(self.mean).max(1.0).sqrt()
    }
}

/// Judges `current` (the count so far in the current window, which may still be open)
/// against `history`: counts of the complete windows before it, oldest first. The last
/// history window is itself judged for a drop against the windows before it, since an
/// open window can only be judged for excess.
pub fn assess(history: &[u64], current: u64, config: &TrendConfig) -> TrendReport {
    let mut report = TrendReport::default();
    if history.len() < config.min_history {
        return report;
    }
    let mut ewma = Ewma::default();
    let mut cusum: f64 = 0.0;
    let mut before_last = Ewma::default();
    for (i, &count) in history.iter().enumerate() {
        let x = count as f64;
        if ewma.samples >= config.min_history.saturating_sub(1).max(1) {
            let z = (x - ewma.mean) / ewma.spread();
            cusum = (cusum + z - config.cusum_slack).max(0.0);
        }
        if i + 1 == history.len() {
            before_last = ewma;
        }
        ewma.update(x, config.alpha);
    }
    let x = current as f64;
    report.expected = ewma.mean;
    report.z = (x - ewma.mean) / ewma.spread();
    report.spike = current >= config.min_spike_count
        && report.z >= config.spike_z
        && x >= config.spike_ratio * ewma.mean.max(1.0);
    let last = *history.last().unwrap_or(&0) as f64;
    report.drop = before_last.samples >= config.min_history.saturating_sub(1).max(1)
        && before_last.mean >= config.min_drop_expectation
        && last <= config.drop_ratio * before_last.mean
        && (last - before_last.mean) / before_last.spread() <= -config.drop_z;
    report.rising = cusum >= config.cusum_threshold && !report.spike;
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> TrendConfig {
        TrendConfig::default()
    }

    #[test]
    fn steady_counts_raise_nothing() {
        let r = assess(&[100, 96, 104, 99, 101, 98], 103, &cfg());
        assert_eq!(r.flags().count(), 0, "{r:?}");
        assert!((r.expected - 100.0).abs() < 3.0);
    }

    #[test]
    fn spikes_need_size_and_history() {
        assert!(assess(&[10, 12, 9, 11, 10], 80, &cfg()).spike);
        assert!(!assess(&[10, 12, 9, 11, 10], 18, &cfg()).spike);
        assert!(!assess(&[10, 12], 80, &cfg()).spike, "too little history");
        // Quiet patterns: 0 -> 5 is not a spike (below the minimum count).
        assert!(!assess(&[0, 0, 1, 0, 0], 5, &cfg()).spike);
        assert!(assess(&[0, 0, 1, 0, 0], 40, &cfg()).spike);
    }

    #[test]
    fn drops_are_judged_on_the_last_complete_window() {
        assert!(assess(&[200, 190, 210, 205, 198, 3], 0, &cfg()).drop);
        assert!(!assess(&[200, 190, 210, 205, 198, 150], 0, &cfg()).drop);
        assert!(
            !assess(&[2, 3, 2, 3, 2, 0], 0, &cfg()).drop,
            "too small to tell"
        );
    }

    #[test]
    fn a_sustained_climb_is_rising_without_being_a_spike() {
        let climb = [50, 52, 49, 51, 50, 58, 66, 75, 84, 94, 105];
        let r = assess(&climb, 112, &cfg());
        assert!(r.rising && !r.spike, "{r:?}");
        assert!(!assess(&[50, 52, 49, 51, 50, 50, 51, 49, 50], 52, &cfg()).rising);
    }

    #[test]
    fn flag_names() {
        let r = TrendReport {
            spike: true,
            rising: false,
            drop: true,
            ..Default::default()
        };
        let names: Vec<_> = r.flags().map(TrendFlag::name).collect();
        assert_eq!(names, vec!["spike", "drop"]);
    }
}

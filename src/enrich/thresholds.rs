//! Adaptive anomaly thresholds: `IsAnomaly` needs a score at or above the larger of the
//! configured `anomaly_threshold` and the log type's own recent score quantile, so a log
//! type whose records often look unusual (a new application, a noisy source) does not
//! flood the alert stream.
//!
//! The history is a histogram of scores per log type over `-log10(1 - score)` (fine
//! resolution where thresholds live, near 1). Histograms add up, so concurrent
//! functions merge theirs through [`state::update`] instead of overwriting each other,
//! and old observations fade with a half-life so the threshold follows the data.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::record::LogType;
use crate::state::{self, StateError, StateStore};

/// Where the history lives in the state store.
pub const STATE_KEY: &str = "ml/anomaly-thresholds.json";
/// Largest stored history read (a healthy one is a few KB per log type).
const MAX_STORED_BYTES: u64 = 4 * 1024 * 1024;
/// The highest an adaptive threshold can rise: a score of 0.995 is about one record in
/// eight million of normal traffic. A flood of anomalous records (or a forged history)
/// lifts the threshold this far and no further, so the records behind an attack still
/// alert.
pub const DEFAULT_CEILING: f64 = 0.995;
const BINS: usize = 400;
/// `-log10(1 - score)` covered by the histogram (scores up to 1 - 1e-8).
const MAX_NINES: f64 = 8.0;

/// How the anomaly threshold of each log type is decided.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ThresholdConfig {
    /// `anomaly_threshold`: the lowest score that can ever be an anomaly.
    pub base: f64,
    /// Quantile of the log type's score history used as its adaptive threshold.
    pub quantile: f64,
    /// Observations a log type needs before its history counts.
    pub min_history: f64,
    /// Weight of an observation halves after this many hours.
    pub half_life_hours: f64,
    /// The highest the adaptive threshold goes (never below `base`).
    pub ceiling: f64,
}

impl Default for ThresholdConfig {
    fn default() -> Self {
        ThresholdConfig {
            base: 0.95,
            quantile: 0.995,
            min_history: 1_000.0,
            half_life_hours: 24.0 * 7.0,
            ceiling: DEFAULT_CEILING,
        }
    }
}

/// Weighted counts of scores.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ScoreHistogram {
    pub total: f64,
    /// Sparse `(bin, weight)` pairs, sorted by bin.
    pub bins: Vec<(u16, f64)>,
}

fn bin_of(score: f64) -> usize {
    let nines = -(1.0 - score.clamp(0.0, 1.0)).max(1e-12).log10();
    let mut b = ((nines / MAX_NINES * BINS as f64) as usize).min(BINS - 1);
    // Rounding must never put a score in a bin whose upper edge it reaches: the edge is
    // what `quantile` returns, and a threshold must lie above the scores beneath it.
    while b + 1 < BINS && score >= score_of_bin(b + 1) {
        b += 1;
    }
    while b > 0 && score < score_of_bin(b) {
        b -= 1;
    }
    b
}

/// The lowest score of a bin.
fn score_of_bin(bin: usize) -> f64 {
    1.0 - 10f64.powf(-(bin as f64) * MAX_NINES / BINS as f64)
}

impl ScoreHistogram {
    fn dense(&self) -> Vec<f64> {
        let mut d = vec![0.0; BINS];
        for (b, w) in &self.bins {
            if let Some(slot) = d.get_mut(*b as usize) {
                *slot += w;
            }
        }
        d
    }

    fn from_dense(d: &[f64]) -> ScoreHistogram {
        let bins: Vec<(u16, f64)> = d
            .iter()
            .enumerate()
            .filter(|(_, w)| **w > 1e-9)
            .map(|(b, w)| (b as u16, *w))
            .collect();
        ScoreHistogram {
            total: bins.iter().map(|(_, w)| w).sum(),
            bins,
        }
    }

    pub fn add(&mut self, score: f64) {
        let b = bin_of(score) as u16;
        match self.bins.binary_search_by_key(&b, |(bin, _)| *bin) {
            Ok(i) => self.bins[i].1 += 1.0,
            Err(i) => self.bins.insert(i, (b, 1.0)),
        }
        self.total += 1.0;
    }

    pub fn merge(&self, other: &ScoreHistogram) -> ScoreHistogram {
        let mut d = self.dense();
        for (b, w) in &other.bins {
            if let Some(slot) = d.get_mut(*b as usize) {
                *slot += w;
            }
        }
        ScoreHistogram::from_dense(&d)
    }

    pub fn scaled(&self, factor: f64) -> ScoreHistogram {
        let d: Vec<f64> = self.dense().iter().map(|w| w * factor).collect();
        ScoreHistogram::from_dense(&d)
    }

    /// The score below which a share `q` of the history lies (upper edge of its bin).
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.total <= 0.0 {
            return None;
        }
        let target = q.clamp(0.0, 1.0) * self.total;
        let mut seen = 0.0;
        for (b, w) in &self.bins {
            seen += w;
            if seen >= target {
                return Some(score_of_bin(*b as usize + 1));
            }
        }
        self.bins.last().map(|(b, _)| score_of_bin(*b as usize + 1))
    }
}

/// The persisted form.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ThresholdState {
    pub version: u32,
    pub updated: Option<DateTime<Utc>>,
    pub log_types: BTreeMap<String, ScoreHistogram>,
}

impl ThresholdState {
    /// Fades every histogram by the time elapsed since `updated`.
    fn decayed(&self, now: DateTime<Utc>, half_life_hours: f64) -> ThresholdState {
        // A writer whose clock reading is older than the stored one (it lost a race and
        // retried) must not move `updated` back: the next writer would fade that stretch
        // of time a second time.
        let now = self.updated.map_or(now, |u| u.max(now));
        let hours = self
            .updated
            .map(|u| (now - u).num_milliseconds().max(0) as f64 / 3.6e6)
            .unwrap_or(0.0);
        let factor = 0.5f64.powf(hours / half_life_hours.max(1e-9));
        ThresholdState {
            version: 1,
            updated: Some(now),
            log_types: self
                .log_types
                .iter()
                .map(|(k, h)| (k.clone(), h.scaled(factor)))
                .filter(|(_, h)| h.total > 1e-6)
                .collect(),
        }
    }
}

/// History as known to this process: what was loaded or last persisted, plus what this
/// process observed since.
#[derive(Debug, Clone, Default)]
pub struct AdaptiveThresholds {
    /// How thresholds are decided from the history.
    pub config: ThresholdConfig,
    shared: ThresholdState,
    pending: BTreeMap<String, ScoreHistogram>,
}

impl AdaptiveThresholds {
    /// No history yet: every log type uses `config.base`.
    pub fn new(config: ThresholdConfig) -> Self {
        AdaptiveThresholds {
            config,
            shared: ThresholdState::default(),
            pending: BTreeMap::new(),
        }
    }

    /// The threshold `IsAnomaly` uses for a log type now.
    pub fn threshold(&self, log_type: LogType) -> f64 {
        let name = log_type.name();
        let shared = self.shared.log_types.get(name);
        let pending = self.pending.get(name);
        let history = match (shared, pending) {
            (Some(s), Some(p)) => s.merge(p),
            (Some(s), None) => s.clone(),
            (None, Some(p)) => p.clone(),
            (None, None) => return self.config.base,
        };
        if history.total < self.config.min_history {
            return self.config.base;
        }
        let ceiling = self.config.ceiling.max(self.config.base);
        history
            .quantile(self.config.quantile)
            .map_or(self.config.base, |q| q.clamp(self.config.base, ceiling))
    }

    /// Records one score of `log_type`, pending until persisted.
    pub fn observe(&mut self, log_type: LogType, score: f64) {
        self.pending
            .entry(log_type.name().to_string())
            .or_default()
            .add(score);
    }

    /// Weight of the observations not yet persisted.
    pub fn pending_observations(&self) -> f64 {
        self.pending.values().map(|h| h.total).sum()
    }

    /// Replaces the local view with the stored history (cold start); a stored history
    /// that cannot be used is set aside and the history starts afresh.
    pub async fn load<S: StateStore + ?Sized>(&mut self, store: &S) -> Result<(), StateError> {
        let now = Utc::now();
        if let Some(stored) = state::load(store, STATE_KEY, MAX_STORED_BYTES, |bytes| {
            ThresholdState::from_json(bytes, now)
        })
        .await?
        {
            self.shared = stored;
        }
        Ok(())
    }

    /// Adds this process's observations to the stored history (merging with whatever
    /// other functions stored meanwhile) and adopts the merged result.
    pub async fn persist<S: StateStore + ?Sized>(
        &mut self,
        store: &S,
        now: DateTime<Utc>,
    ) -> Result<(), StateError> {
        let pending = self.pending.clone();
        let half_life = self.config.half_life_hours;
        let mut adopted = None;
        state::update(store, STATE_KEY, MAX_STORED_BYTES, |current| {
            let stored = match current {
                Some(bytes) => {
                    ThresholdState::from_json(bytes, now).map_err(StateError::Damaged)?
                }
                None => ThresholdState::default(),
            };
            let mut merged = stored.decayed(now, half_life);
            for (name, h) in &pending {
                let entry = merged.log_types.entry(name.clone()).or_default();
                *entry = entry.merge(h);
            }
            let body = serde_json::to_vec(&merged).expect("threshold state serializes");
            adopted = Some(merged);
            Ok(body)
        })
        .await?;
        self.shared = adopted.expect("update ran the merge");
        self.pending.clear();
        Ok(())
    }

    /// The stored history, as last loaded or persisted.
    pub fn state(&self) -> &ThresholdState {
        &self.shared
    }

    /// Moves the pending observations into a copy that can be persisted without holding
    /// a lock on `self`.
    pub fn take_pending(&mut self) -> AdaptiveThresholds {
        AdaptiveThresholds {
            config: self.config.clone(),
            shared: self.shared.clone(),
            pending: std::mem::take(&mut self.pending),
        }
    }

    /// Adopts the stored history of `other` (after a load or a successful persist).
    pub fn adopt(&mut self, other: &AdaptiveThresholds) {
        self.shared = other.shared.clone();
    }

    /// Puts back observations whose persist failed.
    pub fn restore_pending(&mut self, failed: AdaptiveThresholds) {
        for (name, h) in failed.pending {
            let entry = self.pending.entry(name).or_default();
            *entry = entry.merge(&h);
        }
    }
}

impl ThresholdState {
    /// Reads a stored history, refusing one that cannot be right (written in the future,
    /// negative or non-finite weights, bins out of range, unknown log types) so it is set
    /// aside instead of steering `IsAnomaly`.
    pub fn from_json(bytes: &[u8], now: DateTime<Utc>) -> Result<ThresholdState, String> {
        let mut state: ThresholdState = serde_json::from_slice(bytes)
            .map_err(|e| format!("stored anomaly thresholds ({STATE_KEY}) are not valid: {e}"))?;
        let refuse = |why: String| Err(format!("stored anomaly thresholds ({STATE_KEY}): {why}"));
        // 0 is the empty history's; 1 what every save writes.
        if state.version > 1 {
            return refuse(format!("version {}; this build reads 1", state.version));
        }
        // A few minutes of clock skew between functions is normal; a future beyond it
        // would stop the history from ever fading.
        if let Some(updated) = state.updated
            && updated > now + chrono::Duration::minutes(10)
        {
            return refuse(format!("updated {updated}, in the future"));
        }
        for (name, h) in &mut state.log_types {
            if LogType::from_name(name).is_none() {
                return refuse(format!("unknown log type {name:?}"));
            }
            if h.bins
                .iter()
                .any(|(b, w)| *b as usize >= BINS || !w.is_finite() || *w < 0.0)
            {
                return refuse(format!("{name}: a bin out of range or a weight below zero"));
            }
            h.bins.sort_unstable_by_key(|(b, _)| *b);
            h.total = h.bins.iter().map(|(_, w)| w).sum();
        }
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_quantiles_follow_the_scores() {
        let mut h = ScoreHistogram::default();
        for i in 0..1000 {
            h.add(i as f64 / 1000.0);
        }
        let q = h.quantile(0.5).unwrap();
        assert!((q - 0.5).abs() < 0.03, "{q}");
        let q = h.quantile(0.995).unwrap();
        assert!((0.99..=0.999).contains(&q), "{q}");
        assert_eq!(ScoreHistogram::default().quantile(0.5), None);
        let doubled = h.merge(&h);
        assert!((doubled.total - 2000.0).abs() < 1e-9);
        assert!((h.scaled(0.5).total - 500.0).abs() < 1e-9);
    }

    #[test]
    fn threshold_is_the_base_until_history_suffices() {
        let mut t = AdaptiveThresholds::new(ThresholdConfig {
            min_history: 100.0,
            ..ThresholdConfig::default()
        });
        assert_eq!(t.threshold(LogType::Text), 0.95);
        // A noisy log type: 10% of its records score 0.99.
        for i in 0..200 {
            t.observe(LogType::Text, if i % 10 == 0 { 0.99 } else { 0.3 });
        }
        let th = t.threshold(LogType::Text);
        assert!(th > 0.99, "{th}");
        // A flood of extreme scores lifts it to the ceiling and no further.
        for _ in 0..10_000 {
            t.observe(LogType::Text, 0.999_999);
        }
        assert_eq!(t.threshold(LogType::Text), DEFAULT_CEILING);
        // A quiet one keeps the base.
        for _ in 0..200 {
            t.observe(LogType::CloudTrail, 0.1);
        }
        assert_eq!(t.threshold(LogType::CloudTrail), 0.95);
    }
}

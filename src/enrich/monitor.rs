//! What the enrichment stage measures about its models while it scores live records:
//! drift counts per log type against the manifest's reference profiles, inference time
//! per record, and the agreement of a shadow model set with the active one.
//!
//! Pure bookkeeping: the service merges drift counts into the state prefix and turns a
//! [`MonitorSnapshot`] into EMF gauges.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::priority::RecordScores;
use crate::features::N_FEATURES;
use crate::ml::drift::{DriftCounts, DriftProfile, DriftReport};
use crate::ml::runtime::ModelSet;
use crate::record::LogType;

/// Drift counts of one log type scored by one model set.
pub struct DriftEntry {
    pub log_type: LogType,
    /// The set whose manifest holds the reference profile.
    pub models: Arc<ModelSet>,
    pub counts: DriftCounts,
}

impl DriftEntry {
    pub fn profile(&self) -> Option<&DriftProfile> {
        profile_for(&self.models, self.log_type)
    }

    /// `drift/<log-type>/<model-version>` in the state prefix.
    pub fn state_key(&self) -> String {
        drift_key(self.log_type, self.models.version())
    }
}

pub fn drift_key(log_type: LogType, model_version: &str) -> String {
    let version: String = model_version
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("drift/{}/{version}", log_type.name())
}

pub fn profile_for(models: &ModelSet, log_type: LogType) -> Option<&DriftProfile> {
    models
        .manifest()
        .drift_profile(log_type.name())
        .filter(|p| p.features.len() == N_FEATURES)
}

/// Agreement of the shadow set with the active one on the same records.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ShadowStats {
    pub shadow_version: String,
    pub records: u64,
    pub category_agree: u64,
    pub is_anomaly_agree: u64,
    pub priority_agree: u64,
    /// Sums of shadow - active.
    pub anomaly_delta_sum: f64,
    pub anomaly_abs_delta_sum: f64,
    pub anomaly_abs_delta_max: f64,
    pub priority_abs_delta_sum: f64,
}

impl ShadowStats {
    /// Compares one record's scores; `IsAnomaly` of both uses the active threshold.
    pub fn observe(&mut self, active: &RecordScores, shadow: &RecordScores) {
        self.records += 1;
        self.category_agree += u64::from(active.category == shadow.category);
        let shadow_flag = shadow.anomaly_score >= active.anomaly_threshold;
        self.is_anomaly_agree += u64::from(active.is_anomaly == shadow_flag);
        self.priority_agree += u64::from(active.priority == shadow.priority);
        let delta = shadow.anomaly_score - active.anomaly_score;
        self.anomaly_delta_sum += delta;
        self.anomaly_abs_delta_sum += delta.abs();
        self.anomaly_abs_delta_max = self.anomaly_abs_delta_max.max(delta.abs());
        self.priority_abs_delta_sum += (shadow.priority_score - active.priority_score).abs();
    }

    /// EMF gauges (name, value, unit); none without records.
    pub fn gauges(&self) -> Vec<(&'static str, f64, &'static str)> {
        if self.records == 0 {
            return Vec::new();
        }
        let n = self.records as f64;
        vec![
            ("ShadowRecords", n, "Count"),
            (
                "ShadowCategoryAgreement",
                self.category_agree as f64 / n,
                "None",
            ),
            (
                "ShadowIsAnomalyAgreement",
                self.is_anomaly_agree as f64 / n,
                "None",
            ),
            (
                "ShadowPriorityAgreement",
                self.priority_agree as f64 / n,
                "None",
            ),
            (
                "ShadowMeanAnomalyScoreDelta",
                self.anomaly_delta_sum / n,
                "None",
            ),
            (
                "ShadowMeanAbsAnomalyScoreDelta",
                self.anomaly_abs_delta_sum / n,
                "None",
            ),
            (
                "ShadowMaxAbsAnomalyScoreDelta",
                self.anomaly_abs_delta_max,
                "None",
            ),
            (
                "ShadowMeanAbsPriorityScoreDelta",
                self.priority_abs_delta_sum / n,
                "None",
            ),
        ]
    }
}

/// Everything measured since the last snapshot.
#[derive(Default)]
pub struct MonitorSnapshot {
    /// One entry per (log type, model set); a handful, so a list is the fastest lookup.
    pub drift: Vec<DriftEntry>,
    pub shadow: Option<ShadowStats>,
    /// Features plus models, over `records`.
    pub inference_time: Duration,
    pub records: u64,
}

impl MonitorSnapshot {
    /// Counts one scored record's features and anomaly score.
    pub fn observe_drift(
        &mut self,
        models: &Arc<ModelSet>,
        log_type: LogType,
        features: &[f32],
        score: f32,
    ) {
        let position = self.drift.iter().position(|e| {
            e.log_type == log_type
                && (Arc::ptr_eq(&e.models, models) || e.models.version() == models.version())
        });
        let index = match position {
            Some(i) => i,
            None => {
                let Some(profile) = profile_for(models, log_type) else {
                    return;
                };
                let counts = profile.empty_counts();
                self.drift.push(DriftEntry {
                    log_type,
                    models: models.clone(),
                    counts,
                });
                self.drift.len() - 1
            }
        };
        let entry = &mut self.drift[index];
        if let Some(profile) = profile_for(&entry.models, log_type) {
            profile.observe(&mut entry.counts, features, score);
        }
    }

    pub fn inference_us_per_record(&self) -> Option<f64> {
        (self.records > 0).then(|| self.inference_time.as_secs_f64() * 1e6 / self.records as f64)
    }
}

/// Drift counts as stored under `drift/<log-type>/<model-version>`: a window of live
/// traffic, restarted once it is older than the configured window so that PSI follows
/// recent traffic instead of averaging over the model's whole life.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredDrift {
    /// Serialization version ([`DRIFT_VERSION`]); windows stored before it had none.
    #[serde(default = "drift_version")]
    pub version: u32,
    /// When the window's first counts were stored.
    pub window_start: chrono::DateTime<chrono::Utc>,
    /// Counts of the window so far.
    pub counts: DriftCounts,
}

/// The serialization version of [`StoredDrift`] this code writes and reads.
pub const DRIFT_VERSION: u32 = 1;

fn drift_version() -> u32 {
    DRIFT_VERSION
}

impl StoredDrift {
    /// Adds `counts` to the stored window, or starts a new window with them when the
    /// stored one is older than `window` (or there is none). A stored window that cannot be
    /// right (not JSON, started in the future) is an error, so it is set aside.
    pub fn merged(
        stored: Option<&[u8]>,
        counts: &DriftCounts,
        now: chrono::DateTime<chrono::Utc>,
        window: Duration,
    ) -> Result<StoredDrift, String> {
        let window = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
        let fresh = || StoredDrift {
            version: DRIFT_VERSION,
            window_start: now,
            counts: counts.clone(),
        };
        let Some(bytes) = stored else {
            return Ok(fresh());
        };
        let mut s: StoredDrift =
            serde_json::from_slice(bytes).map_err(|e| format!("not drift counts: {e}"))?;
        crate::state::check_version("drift counts", s.version, DRIFT_VERSION)?;
        if s.window_start > now + chrono::Duration::minutes(10) {
            return Err(format!(
                "drift window starting {}, in the future",
                s.window_start
            ));
        }
        if now.signed_duration_since(s.window_start) > window {
            return Ok(fresh());
        }
        s.counts.merge(counts);
        Ok(s)
    }
}

/// PSI gauges of one log type.
#[derive(Debug, Clone)]
pub struct LogTypeDrift {
    pub log_type: String,
    pub model_version: String,
    pub report: DriftReport,
    /// Features that vary in the log type's training rows (the others are constant there,
    /// so their PSI says nothing).
    pub informative: Vec<bool>,
}

impl LogTypeDrift {
    pub fn new(entry: &DriftEntry, counts: &DriftCounts) -> Option<LogTypeDrift> {
        let profile = entry.profile()?;
        Some(LogTypeDrift {
            log_type: entry.log_type.name().to_string(),
            model_version: entry.models.version().to_string(),
            report: profile.report(counts),
            informative: profile.features.iter().map(|h| h.bins() > 1).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_windows_merge_and_restart() {
        let counts = DriftCounts {
            features: vec![vec![1, 2]],
            score: vec![3, 4],
            rows: 7,
        };
        let t0 = chrono::DateTime::parse_from_rfc3339("2025-01-07T00:00:00Z")
            .unwrap()
            .to_utc();
        let day = Duration::from_secs(86_400);
        let first = StoredDrift::merged(None, &counts, t0, day).unwrap();
        let bytes = serde_json::to_vec(&first).unwrap();
        let second =
            StoredDrift::merged(Some(&bytes), &counts, t0 + chrono::Duration::hours(1), day)
                .unwrap();
        assert_eq!(second.counts.rows, 14);
        assert_eq!(second.window_start, t0);
        let later =
            StoredDrift::merged(Some(&bytes), &counts, t0 + chrono::Duration::hours(25), day)
                .unwrap();
        // A window that starts in the future was not written by a function.
        assert!(
            StoredDrift::merged(Some(&bytes), &counts, t0 - chrono::Duration::hours(1), day)
                .is_err()
        );
        assert!(StoredDrift::merged(Some(b"{"), &counts, t0, day).is_err());
        assert_eq!(later.counts.rows, 7);
        assert_eq!(later.window_start, t0 + chrono::Duration::hours(25));
        assert_eq!(
            drift_key(LogType::CloudTrail, "v1/2 x"),
            "drift/CloudTrail/v1_2_x"
        );
    }
}

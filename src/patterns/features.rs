//! Per-record pattern features for the ML models, read from the columns the
//! [`super::analyzer::PatternAnalyzer`] writes (`PatternFlags`, `SequenceScore`,
//! `PatternTemplate`), so they are a pure function of the record.

use crate::record::{Record, columns};

use super::analyzer::flags;

/// Names of [`pattern_features`]' outputs, in order. All are in `[0, 1]`:
/// - `pattern_new`: 1 when the template was never seen before the record's batch.
/// - `pattern_rare`: 1 when the template is rare (few sightings or a tiny share).
/// - `frequency_spike`, `frequency_drop`, `frequency_rising`: the template's count in its
///   window is far above its history, its last window far below, or climbing.
/// - `log_type_volume_anomaly`: the record's log type as a whole spikes, drops or rises.
/// - `sequence_surprise`: 1 when `1 - P(template | entity's previous templates)` is at
///   least [`SURPRISING`]; 0 below it or without an entity.
/// - `sequence_unseen`: 1 when that transition was never seen.
/// - `correlation_new`, `correlation_broken`: the record completed a newly correlated
///   pair, or its template occurred without its usual companion.
/// - `template_variable_share`: share of the template's tokens that are `<*>`.
pub const PATTERN_FEATURE_NAMES: [&str; 11] = [
    "pattern_new",
    "pattern_rare",
    "frequency_spike",
    "frequency_drop",
    "frequency_rising",
    "log_type_volume_anomaly",
    "sequence_surprise",
    "sequence_unseen",
    "correlation_new",
    "correlation_broken",
    "template_variable_share",
];

/// Length of the pattern slot of the feature vector.
pub const PATTERN_FEATURES: usize = PATTERN_FEATURE_NAMES.len();

/// `SequenceScore` from which a record counts as surprising: its template follows the
/// entity's previous ones less than once in ten. The score itself is not a feature: below
/// that level it mostly restates how often each template occurs in a deployment (the
/// share of failing TLS handshakes, say), which differs between healthy deployments.
pub const SURPRISING: f64 = 0.9;

/// The pattern features of an analyzed record (all zero for a record never analyzed).
pub fn pattern_features(record: &Record) -> [f32; PATTERN_FEATURES] {
    let flag_text = record.get_str("PatternFlags").unwrap_or("[]");
    let names: Vec<String> = serde_json::from_str(flag_text).unwrap_or_default();
    let has = |f: &str| names.iter().any(|n| n == f) as u8 as f32;
    let surprise = record
        .get("SequenceScore")
        .and_then(|v| v.as_f64())
        .is_some_and(|s| s >= SURPRISING) as u8 as f32;
    let variable_share = record.get_str("PatternTemplate").map_or(0.0, |t| {
        let total = t.split(' ').count();
        let vars = t
            .split(' ')
            .filter(|w| w.contains(super::mask::WILDCARD))
            .count();
        if total == 0 {
            0.0
        } else {
            vars as f32 / total as f32
        }
    });
    [
        has(flags::NEW),
        has(flags::RARE),
        has(flags::SPIKE),
        has(flags::DROP),
        has(flags::RISING),
        has(flags::LOG_TYPE_SPIKE)
            .max(has(flags::LOG_TYPE_DROP))
            .max(has(flags::LOG_TYPE_RISING)),
        surprise,
        has(flags::SEQUENCE),
        has(flags::CORRELATION_NEW),
        has(flags::CORRELATION_BROKEN),
        variable_share,
    ]
}

/// Whether the pattern stage has already analyzed this record (an exported Sentinel
/// row carries its columns; a raw record does not).
pub fn was_analyzed(record: &Record) -> bool {
    record.get(columns::PATTERN_FLAGS).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{LogType, Value};
    use serde_json::value::RawValue;

    #[test]
    fn features_come_from_the_pattern_columns() {
        let mut r = Record::new(LogType::Text);
        assert_eq!(pattern_features(&r), [0.0; PATTERN_FEATURES]);
        r.set("PatternTemplate", "Invalid user <*> from <*>");
        r.set(
            "PatternFlags",
            Value::Json(
                RawValue::from_string(r#"["new","spike","logtype-drop","sequence"]"#.into())
                    .unwrap(),
            ),
        );
        r.set("SequenceScore", 0.95);
        let f = pattern_features(&r);
        let get = |name: &str| {
            f[PATTERN_FEATURE_NAMES
                .iter()
                .position(|n| *n == name)
                .unwrap()]
        };
        assert_eq!(get("pattern_new"), 1.0);
        assert_eq!(get("pattern_rare"), 0.0);
        assert_eq!(get("frequency_spike"), 1.0);
        assert_eq!(get("log_type_volume_anomaly"), 1.0);
        assert_eq!(get("sequence_surprise"), 1.0);
        assert_eq!(get("sequence_unseen"), 1.0);
        assert!((get("template_variable_share") - 0.4).abs() < 1e-6);
    }
}

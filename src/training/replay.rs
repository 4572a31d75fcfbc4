//! Replaying a set of records through a fresh [`PatternAnalyzer`] the way the function
//! meets them in production: one log type per object, objects covering a few minutes,
//! in time order. Training data goes through this before feature extraction, so the
//! pattern slot a model learns from means what it means at inference (where the pattern
//! stage runs before the models on every batch).
//!
//! Deterministic: the batches and each batch's clock come from the records' own times,
//! never from the wall clock, so the same records always get the same pattern columns.

use chrono::{DateTime, Utc};

use crate::behaviour::{Behaviour, BehaviourConfig};
use crate::patterns::{AnalyzerConfig, PatternAnalyzer, was_analyzed};
use crate::record::{LogType, Record, columns};

/// How much time one replayed object covers: CloudTrail and most AWS services deliver a
/// log object every five minutes.
pub const OBJECT_SECONDS: i64 = 300;

/// Records without an event time are replayed in batches of this many, after the timed
/// records of their log type.
const UNTIMED_BATCH: usize = 1_000;

/// Analyzes `records` in place (their `PatternId`, `PatternTemplate`, `PatternFlags` and
/// `SequenceScore` columns are set) and returns the analyzer with what it learned.
/// The records may come in any order; each log type is replayed in time order (ties in
/// input order) and the log types one after another, as independent objects would be.
pub fn analyze_as_delivered(records: &mut [Record], config: AnalyzerConfig) -> PatternAnalyzer {
    let mut analyzer = PatternAnalyzer::new(config, Default::default());
    let mut order: Vec<usize> = (0..records.len()).collect();
    // Untimed records sort after the timed ones of their log type.
    order.sort_by_key(|&i| {
        let r = &records[i];
        (
            r.log_type.name(),
            r.time.is_none(),
            r.time.map(|t| t.timestamp_millis()),
        )
    });
    let mut latest: Option<DateTime<Utc>> = None;
    let mut start = 0;
    while start < order.len() {
        let first = &records[order[start]];
        let log_type = first.log_type;
        let window = first.time.map(|t| t.timestamp().div_euclid(OBJECT_SECONDS));
        let mut end = start + 1;
        while end < order.len() {
            let r = &records[order[end]];
            let same = r.log_type == log_type
                && match window {
                    Some(w) => r.time.map(|t| t.timestamp().div_euclid(OBJECT_SECONDS)) == Some(w),
                    None => r.time.is_none() && end - start < UNTIMED_BATCH,
                };
            if !same {
                break;
            }
            end += 1;
        }
        let now = match window {
            Some(w) => DateTime::from_timestamp((w + 1) * OBJECT_SECONDS, 0),
            None => latest,
        }
        .unwrap_or(DateTime::UNIX_EPOCH);
        latest = latest.max(Some(now));
        // The analyzer takes a contiguous batch: move the records out and back.
        let mut batch: Vec<Record> = order[start..end]
            .iter()
            .map(|&i| std::mem::replace(&mut records[i], Record::new(log_type)))
            .collect();
        analyzer.analyze(&mut batch, now);
        for (&i, record) in order[start..end].iter().zip(batch) {
            records[i] = record;
        }
        start = end;
    }
    analyzer
}

/// Replays the CloudTrail records through a fresh behaviour history the way the function
/// meets them (time order, one batch per [`OBJECT_SECONDS`] object), setting their
/// `BehaviourFlags`, so a model learns the `ct_behaviour` slot as it is read at inference.
pub fn behaviour_as_delivered(records: &mut [Record], config: BehaviourConfig) {
    let mut order: Vec<usize> = (0..records.len())
        .filter(|&i| records[i].log_type == LogType::CloudTrail)
        .collect();
    order.sort_by_key(|&i| {
        let t = records[i].time;
        (t.is_none(), t.map(|t| t.timestamp_millis()))
    });
    let windows: Vec<Option<i64>> = order
        .iter()
        .map(|&i| {
            records[i]
                .time
                .map(|t| t.timestamp().div_euclid(OBJECT_SECONDS))
        })
        .collect();
    let mut history = Behaviour::new(config);
    let mut start = 0;
    while start < order.len() {
        let end = start
            + windows[start..]
                .iter()
                .take_while(|w| **w == windows[start])
                .count();
        let object = &order[start..end];
        start = end;
        let mut batch: Vec<Record> = object
            .iter()
            .map(|&i| std::mem::replace(&mut records[i], Record::new(LogType::CloudTrail)))
            .collect();
        history.analyze(&mut batch);
        for (&i, record) in object.iter().zip(batch) {
            records[i] = record;
        }
    }
}

/// Replays, as [`analyze_as_delivered`], only the records that were not analyzed yet.
pub fn analyze_missing(records: &mut [Record], config: AnalyzerConfig) {
    let missing: Vec<usize> = (0..records.len())
        .filter(|&i| !was_analyzed(&records[i]))
        .collect();
    if missing.is_empty() {
        return;
    }
    let mut raw: Vec<Record> = missing
        .iter()
        .map(|&i| {
            let log_type = records[i].log_type;
            std::mem::replace(&mut records[i], Record::new(log_type))
        })
        .collect();
    analyze_as_delivered(&mut raw, config);
    for (&i, record) in missing.iter().zip(raw) {
        records[i] = record;
    }
}

/// Replays, as [`behaviour_as_delivered`], the CloudTrail records without behaviour flags.
pub fn behaviour_missing(records: &mut [Record]) {
    let missing: Vec<usize> = (0..records.len())
        .filter(|&i| {
            records[i].log_type == LogType::CloudTrail
                && records[i].get(columns::BEHAVIOUR_FLAGS).is_none()
        })
        .collect();
    let mut raw: Vec<Record> = missing
        .iter()
        .map(|&i| std::mem::replace(&mut records[i], Record::new(LogType::CloudTrail)))
        .collect();
    behaviour_as_delivered(&mut raw, BehaviourConfig::default());
    for (&i, record) in missing.iter().zip(raw) {
        records[i] = record;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn call(name: &str, minute: i64) -> Record {
        let mut r = Record::new(LogType::CloudTrail);
        r.time = Some(
            Utc.with_ymd_and_hms(2025, 1, 6, 0, 0, 0).unwrap() + chrono::Duration::minutes(minute),
        );
        r.set("EventSource", "iam.amazonaws.com");
        r.set("EventName", name);
        r.set("UserIdentityType", "IAMUser");
        r.set("UserIdentityArn", "arn:aws:iam::123456789012:user/ci");
        r
    }

    fn flags(r: &Record) -> String {
        r.get_str("PatternFlags").unwrap_or("").to_string()
    }

    #[test]
    fn replays_in_time_order_whatever_the_input_order() {
        let mut forward: Vec<Record> = (0..40).map(|m| call("GetUser", m)).collect();
        forward.push(call("DeleteTrail", 50));
        let mut shuffled = forward.clone();
        shuffled.reverse();
        let config = AnalyzerConfig {
            novelty_min_history: 20,
            ..AnalyzerConfig::default()
        };
        analyze_as_delivered(&mut forward, config.clone());
        analyze_as_delivered(&mut shuffled, config);
        shuffled.reverse();
        for (a, b) in forward.iter().zip(&shuffled) {
            assert_eq!(flags(a), flags(b));
            assert_eq!(a.get("SequenceScore"), b.get("SequenceScore"));
        }
        // The first call has no history to be new against; the late, never-seen call
        // is new, the repeats are not.
        assert!(!flags(&forward[0]).contains("new"));
        assert!(!flags(&forward[30]).contains("new"));
        assert!(flags(&forward[40]).contains("new"));
    }

    #[test]
    fn only_records_without_pattern_columns_are_replayed() {
        let mut analyzed = call("GetUser", 0);
        analyzed.set("PatternFlags", "[\"spike\"]");
        let mut records = vec![analyzed, call("GetUser", 1)];
        analyze_missing(&mut records, AnalyzerConfig::default());
        assert_eq!(flags(&records[0]), "[\"spike\"]");
        assert!(was_analyzed(&records[1]));
    }
}

//! Adaptive anomaly thresholds persist through the state store and merge between
//! concurrent functions.

use chrono::{Duration, TimeZone, Utc};
use s3_sentinel_connector::LocalDirStore;
use s3_sentinel_connector::LogType;
use s3_sentinel_connector::StateStore;
use s3_sentinel_connector::{AdaptiveThresholds, THRESHOLDS_STATE_KEY, ThresholdConfig};
use s3_sentinel_connector::{Alert, Trigger};
use s3_sentinel_connector::{EnrichConfig, ModelHandle, ModelScorer, Record, embedded, parse_raw};

fn config() -> ThresholdConfig {
    ThresholdConfig {
        min_history: 100.0,
        ..ThresholdConfig::default()
    }
}

#[tokio::test]
async fn history_survives_cold_starts_and_merges_concurrent_writers() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalDirStore::new(dir.path());
    let now = Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap();

    // Two functions observe the same noisy log type at the same time.
    let mut a = AdaptiveThresholds::new(config());
    let mut b = AdaptiveThresholds::new(config());
    for i in 0..60 {
        a.observe(LogType::Waf, if i % 5 == 0 { 0.999 } else { 0.2 });
        b.observe(LogType::Waf, if i % 5 == 0 { 0.999 } else { 0.2 });
    }
    // Neither has enough history alone.
    assert_eq!(a.threshold(LogType::Waf), 0.95);
    let (ra, rb) = tokio::join!(a.persist(&store, now), b.persist(&store, now));
    ra.unwrap();
    rb.unwrap();

    // A cold start sees both contributions.
    let mut cold = AdaptiveThresholds::new(config());
    cold.load(&store).await.unwrap();
    let total = cold.state().log_types["WAF"].total;
    assert!((total - 120.0).abs() < 1e-6, "{total}");
    // Raised by the noise, as far as the ceiling.
    assert!(cold.threshold(LogType::Waf) > 0.99);
    // Other log types keep the configured threshold.
    assert_eq!(cold.threshold(LogType::CloudTrail), 0.95);

    // A week later (one half-life) the old history weighs half.
    cold.observe(LogType::Waf, 0.1);
    cold.persist(&store, now + Duration::days(7)).await.unwrap();
    let total = cold.state().log_types["WAF"].total;
    assert!((total - 61.0).abs() < 1e-6, "{total}");
    assert!(
        store
            .get(THRESHOLDS_STATE_KEY, 1 << 20)
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn corrupt_state_is_set_aside_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalDirStore::new(dir.path());
    store
        .put(
            THRESHOLDS_STATE_KEY,
            b"not json".to_vec(),
            s3_sentinel_connector::PutCondition::Always,
        )
        .await
        .unwrap();
    let mut t = AdaptiveThresholds::new(config());
    t.load(&store).await.unwrap();
    assert_eq!(t.threshold(LogType::Waf), 0.95);
    let damage = store.damage().take();
    assert_eq!(damage.len(), 1);
    assert_eq!(damage[0].key, THRESHOLDS_STATE_KEY);
    assert!(damage[0].reason.contains("not valid"), "{:?}", damage[0]);
    let moved = damage[0].set_aside_as.clone().unwrap();
    assert_eq!(
        store.get(&moved, 1024).await.unwrap().unwrap().body,
        b"not json"
    );
    // The next save starts a fresh history.
    t.observe(LogType::Waf, 0.5);
    t.persist(&store, Utc::now()).await.unwrap();
    assert!(
        store
            .get(THRESHOLDS_STATE_KEY, 1 << 20)
            .await
            .unwrap()
            .is_some()
    );
}

/// The attack's events: Stratus Red Team detonations from `../shared`.
fn stratus_attack(shared: &std::path::Path) -> Vec<Record> {
    let dir = shared.join("datasets/cloudtrail-stratus");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let events: Vec<serde_json::Value> =
            serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        for event in events {
            out.push(parse_raw(LogType::CloudTrail, &event.to_string(), None, "stratus").unwrap());
        }
    }
    out
}

/// An attacker who floods the trail for a day before acting lifts CloudTrail's adaptive
/// threshold to the ceiling and no further: the attack's own alerts keep firing, except
/// anomaly-only ones below the ceiling. The flood
/// is the worst case for the threshold: the attack's calls themselves, replayed for a day
/// (24 x 4,000 events), so the history is all high scores.
#[tokio::test]
async fn a_day_of_flooding_does_not_silence_the_attack_after_it() {
    let Some(shared) = crate::common::shared_dir() else {
        return;
    };
    let attack = stratus_attack(&shared);
    let scorer = || {
        ModelScorer::new(
            ModelHandle::new(embedded::load().unwrap()),
            EnrichConfig::default(),
        )
    };
    let quiet = scorer();
    let before = quiet.enrich(&mut attack.clone()).unwrap();

    let flooded = scorer();
    let flood: Vec<Record> = attack.iter().cycle().take(4_000).cloned().collect();
    for _hour in 0..24 {
        flooded.enrich(&mut flood.clone()).unwrap();
    }
    let threshold = flooded.anomaly_threshold(LogType::CloudTrail);
    let after = flooded.enrich(&mut attack.clone()).unwrap();
    let anomalies = |alerts: &[Alert]| {
        alerts
            .iter()
            .filter(|a| matches!(a.trigger, Trigger::Anomaly | Trigger::Both))
            .count()
    };
    println!(
        "stratus attack ({} events): {} alerts ({} by anomaly) on a quiet history; after a \
         day of flooding (threshold {threshold:.4}): {} alerts ({} by anomaly)",
        attack.len(),
        before.len(),
        anomalies(&before),
        after.len(),
        anomalies(&after)
    );
    assert!(threshold <= ThresholdConfig::default().ceiling);
    let ids = |alerts: &[Alert]| {
        alerts
            .iter()
            .map(|a| a.source_record_id)
            .collect::<std::collections::BTreeSet<_>>()
    };
    // What the ceiling guarantees: an event alerted by its priority, or by an anomaly
    // score at or above the ceiling, still alerts; only anomaly-only alerts between the
    // quiet threshold and the ceiling may go, the flood having taught that such scores
    // are this trail's normal.
    let kept = ids(&after);
    let ceiling = ThresholdConfig::default().ceiling;
    for alert in &before {
        if kept.contains(&alert.source_record_id) {
            continue;
        }
        assert!(
            matches!(alert.trigger, Trigger::Anomaly) && alert.anomaly_score < ceiling,
            "an attack event that raised an alert on a quiet history went silent: {:?} {}",
            alert.trigger,
            alert.anomaly_score
        );
    }
}

//! Adaptive anomaly thresholds persist through the state store and merge between
//! concurrent functions.

use chrono::{Duration, TimeZone, Utc};
use s3_sentinel_connector::LocalDirStore;
use s3_sentinel_connector::LogType;
use s3_sentinel_connector::StateStore;
use s3_sentinel_connector::{AdaptiveThresholds, THRESHOLDS_STATE_KEY, ThresholdConfig};

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

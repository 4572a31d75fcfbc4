//! Two writers update one pattern database concurrently through a real local S3 server
//! (moto) with conditional writes: every count survives.

use crate::common;

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use s3_sentinel_connector::PatternId;
use s3_sentinel_connector::S3StateStore;
use s3_sentinel_connector::{PatternDb, pattern_db};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_concurrent_writers_lose_no_count() {
    let config = common::moto_config().await;
    let client = common::s3_client(&config);
    let bucket = common::new_bucket(&client, "patterns-db").await;
    let store = Arc::new(S3StateStore::new(client, &bucket, "state"));
    let now = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();

    const FLUSHES: u64 = 12;
    let shared = PatternId(1);
    let mut writers = Vec::new();
    for writer in 0..2u64 {
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            for flush in 0..FLUSHES {
                // Each flush: a pattern both writers see, one of its own, and a new one.
                let mut delta = PatternDb::default();
                let at = now + chrono::Duration::minutes(flush as i64);
                for _ in 0..3 {
                    delta.record(
                        shared,
                        "Invalid user <*> from <*>",
                        "Text",
                        at,
                        Some("Invalid user a from 1.1.1.1"),
                    );
                }
                delta.record(PatternId(10 + writer), "own <*>", "Text", at, None);
                delta.record(
                    PatternId(100 + writer * FLUSHES + flush),
                    "new <*>",
                    "Text",
                    at,
                    None,
                );
                pattern_db::persist(&*store, pattern_db::DEFAULT_KEY, &delta, at)
                    .await
                    .unwrap();
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }

    let stored = pattern_db::load(
        &*store,
        pattern_db::DEFAULT_KEY,
        &Default::default(),
        Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(stored.get(shared).unwrap().count, 2 * FLUSHES * 3);
    assert_eq!(stored.get(PatternId(10)).unwrap().count, FLUSHES);
    assert_eq!(stored.get(PatternId(11)).unwrap().count, FLUSHES);
    for id in 100..100 + 2 * FLUSHES {
        assert_eq!(stored.get(PatternId(id)).unwrap().count, 1, "pattern {id}");
    }
    assert_eq!(stored.len() as u64, 3 + 2 * FLUSHES);
    let total: u64 = stored.patterns.iter().map(|p| p.count).sum();
    assert_eq!(total, 2 * FLUSHES * 5);
    assert_eq!(
        stored.log_types["Text"].iter().map(|w| w.1).sum::<u64>(),
        total
    );
    let shared_entry = stored.get(shared).unwrap();
    assert_eq!(shared_entry.examples, vec!["Invalid user a from 1.1.1.1"]);
    assert_eq!(shared_entry.first_seen, now);
    assert_eq!(
        shared_entry.last_seen,
        now + chrono::Duration::minutes(FLUSHES as i64 - 1)
    );
}

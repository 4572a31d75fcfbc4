//! The S3 state store against a real local S3 server (moto): conditional writes and
//! concurrent read-modify-write without lost updates.

use crate::common;

use std::sync::Arc;

use s3_sentinel_connector::S3StateStore;
use s3_sentinel_connector::{PutCondition, StateError, StateStore, update};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conditional_writes_and_concurrent_updates_lose_nothing() {
    let config = common::moto_config().await;
    let client = common::s3_client(&config);
    let bucket = common::new_bucket(&client, "state").await;
    let store = Arc::new(S3StateStore::new(client, &bucket, "state"));

    assert!(store.get("missing", 1024).await.unwrap().is_none());
    let tag = store
        .put("k", b"one".to_vec(), PutCondition::IfAbsent)
        .await
        .unwrap();
    assert!(matches!(
        store
            .put("k", b"two".to_vec(), PutCondition::IfAbsent)
            .await,
        Err(StateError::PreconditionFailed)
    ));
    store
        .put("k", b"two".to_vec(), PutCondition::IfMatch(tag.clone()))
        .await
        .unwrap();
    assert!(matches!(
        store
            .put("k", b"three".to_vec(), PutCondition::IfMatch(tag))
            .await,
        Err(StateError::PreconditionFailed)
    ));
    assert_eq!(store.get("k", 1024).await.unwrap().unwrap().body, b"two");

    let writers = 4;
    let increments = 10;
    let mut tasks = Vec::new();
    for _ in 0..writers {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..increments {
                update(&*store, "counter", 1024, |old: Option<&[u8]>| {
                    let n: u64 = old
                        .map(|b| std::str::from_utf8(b).unwrap().parse().unwrap())
                        .unwrap_or(0);
                    Ok((n + 1).to_string().into_bytes())
                })
                .await
                .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let body = store.get("counter", 1024).await.unwrap().unwrap().body;
    assert_eq!(
        String::from_utf8(body).unwrap(),
        (writers * increments).to_string()
    );
    let keys = store.list("").await.unwrap();
    assert_eq!(keys, vec!["counter".to_string(), "k".to_string()]);
    store.delete("k").await.unwrap();
    assert!(store.get("k", 1024).await.unwrap().is_none());
}

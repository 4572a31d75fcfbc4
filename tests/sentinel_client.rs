//! The Sentinel client against the project's Logs Ingestion emulator over real HTTP: the
//! wire limit under packing and every fault the client must ride out, each asserting that
//! no row is lost or duplicated (by RecordId).

use std::time::{Duration, Instant};

use s3_sentinel_connector::FailureReason;
use s3_sentinel_connector::Table;
use s3_sentinel_connector::vars;
use s3_sentinel_connector::{EmulatorOptions, ErrorFaults, FaultPlan, ThrottleFaults};

use crate::delivery_support::*;

const TRAIL: &str = "Custom-AWSCloudTrail";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packing_by_compressed_size_respects_the_wire_limit() {
    let emulator = start_emulator(EmulatorOptions::default()).await;
    let client = client(&emulator.url(), &[]).await;
    // About 12 MB of JSON: several full 1 MiB bodies once compressed.
    let rows = cloudtrail_rows(30_000, "s3://logs/trail-1.json.gz", 1);
    let raw_total: usize = rows.iter().map(|r| r.json.len()).sum();
    let report = client.send(rows.clone(), far_deadline()).await;

    assert!(report.is_complete(), "{report:?}");
    assert_eq!(report.accepted, 30_000);
    assert_exactly_once(&emulator.rows(TRAIL), &rows);
    let stats = emulator.stats();
    assert!(
        stats.max_body_bytes_seen <= 1_048_576,
        "{}",
        stats.max_body_bytes_seen
    );
    assert_eq!(stats.accepted_requests, report.requests);
    assert_eq!(report.retries, 0);
    // Packing by the compressed size, not the raw one: each request carries far more than
    // 1 MiB of JSON, and all but the last are nearly full.
    let requests = report.requests as usize;
    assert!(requests >= 2, "{requests} requests");
    assert!(
        raw_total / requests > 2 * 1_048_576,
        "{raw_total} bytes in {requests} requests"
    );
    let full_bodies = report.bytes_accepted as usize;
    assert!(
        full_bodies > (requests - 1) * 1_048_576 * 9 / 10,
        "{full_bodies} bytes in {requests} requests"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_bursts_are_waited_out_as_retry_after_says() {
    let emulator = start_emulator(EmulatorOptions::default()).await;
    emulator.apply(&FaultPlan {
        throttle: Some(ThrottleFaults {
            count: 6,
            retry_after_ms: 150,
        }),
        ..FaultPlan::default()
    });
    let client = client(&emulator.url(), &[(vars::MAX_REQUEST_BYTES, "16384")]).await;
    let rows = cloudtrail_rows(3_000, "s3://logs/trail-2.json.gz", 2);
    let report = client.send(rows.clone(), far_deadline()).await;

    assert!(report.is_complete(), "{report:?}");
    assert_eq!(report.throttled, 6);
    assert_eq!(emulator.stats().statuses.get(&429), Some(&6));
    assert_eq!(report.requests, emulator.stats().requests);
    assert_exactly_once(&emulator.rows(TRAIL), &rows);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_of_server_errors_are_retried() {
    let emulator = start_emulator(EmulatorOptions::default()).await;
    emulator.apply(&FaultPlan {
        errors: Some(ErrorFaults {
            count: 4,
            status: 500,
        }),
        ..FaultPlan::default()
    });
    emulator.apply(&FaultPlan {
        errors: Some(ErrorFaults {
            count: 3,
            status: 503,
        }),
        sequence: vec![
            s3_sentinel_connector::Fault::Status { status: 502 },
            s3_sentinel_connector::Fault::Status { status: 504 },
        ],
        ..FaultPlan::default()
    });
    let client = client(&emulator.url(), &[(vars::MAX_REQUEST_BYTES, "16384")]).await;
    let rows = cloudtrail_rows(2_000, "s3://logs/trail-3.json.gz", 3);
    let report = client.send(rows.clone(), far_deadline()).await;

    assert!(report.is_complete(), "{report:?}");
    assert_eq!(report.retries, 9);
    assert_eq!(report.throttled, 3, "503 counts as throttling");
    let stats = emulator.stats();
    assert_eq!(stats.statuses.get(&500), Some(&4));
    assert_eq!(stats.statuses.get(&503), Some(&3));
    assert_exactly_once(&emulator.rows(TRAIL), &rows);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_413_splits_the_body_until_the_halves_fit() {
    // A server (or proxy) with a lower limit than the client packs for.
    let emulator = start_emulator(EmulatorOptions {
        max_body_bytes: 20_000,
        ..EmulatorOptions::default()
    })
    .await;
    let client = client(&emulator.url(), &[(vars::MAX_REQUEST_BYTES, "120000")]).await;
    let rows = cloudtrail_rows(4_000, "s3://logs/trail-4.json.gz", 4);
    let report = client.send(rows.clone(), far_deadline()).await;

    assert!(report.is_complete(), "{report:?}");
    assert!(report.splits >= 3, "{} splits", report.splits);
    let stats = emulator.stats();
    assert_eq!(stats.statuses.get(&413).copied(), Some(report.splits));
    assert_exactly_once(&emulator.rows(TRAIL), &rows);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_errors_are_not_retried_and_come_back_with_the_body() {
    let emulator = start_emulator(EmulatorOptions::default()).await;
    // A wrong mapping: CloudTrail rows into the WAF stream.
    let client = client(
        &emulator.url(),
        &[(vars::STREAM_MAP, r#"{"AWSCloudTrail": "Custom-AWSWAF"}"#)],
    )
    .await;
    let trail = cloudtrail_rows(500, "s3://logs/trail-5.json.gz", 5);
    let flows = vpc_rows(500, "s3://logs/vpc-5.log.gz", 5);
    let mut rows = trail.clone();
    rows.extend(flows.clone());
    let report = client.send(rows, far_deadline()).await;

    assert_eq!(report.accepted, 500);
    assert_eq!(report.failed.len(), 500);
    assert!(report.unsent.is_empty());
    assert_eq!(report.retries, 0);
    for failed in &report.failed {
        assert_eq!(failed.stream, "Custom-AWSWAF");
        assert_eq!(failed.row.table, Table::AwsCloudTrail);
        match &failed.reason {
            FailureReason::Rejected { status: 400, body } => {
                assert!(body.contains("not declared in stream"), "{body}")
            }
            other => panic!("unexpected reason {other:?}"),
        }
    }
    let counts = &report.by_log_type[&s3_sentinel_connector::LogType::CloudTrail];
    assert_eq!((counts.rows, counts.failed, counts.accepted), (500, 500, 0));
    assert_exactly_once(&emulator.rows("Custom-AWSVPCFlow"), &flows);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_tokens_are_refreshed_after_a_401() {
    let emulator = start_emulator(EmulatorOptions::default()).await;
    let client = client(&emulator.url(), &[(vars::MAX_REQUEST_BYTES, "16384")]).await;
    let first = cloudtrail_rows(1_000, "s3://logs/trail-6a.json.gz", 6);
    let report = client.send(first.clone(), far_deadline()).await;
    assert!(report.is_complete());
    assert_eq!(emulator.stats().tokens_issued, 1, "the token is cached");

    emulator.apply(&FaultPlan {
        expire_tokens: true,
        ..FaultPlan::default()
    });
    let second = cloudtrail_rows(1_000, "s3://logs/trail-6b.json.gz", 7);
    let report = client.send(second.clone(), far_deadline()).await;
    assert!(report.is_complete(), "{report:?}");
    assert!(report.unauthorized >= 1);
    let stats = emulator.stats();
    assert_eq!(
        stats.tokens_issued, 2,
        "one refresh for all parallel requests"
    );
    assert!(stats.statuses.contains_key(&401));
    let mut all = first;
    all.extend(second);
    assert_exactly_once(&emulator.rows(TRAIL), &all);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_lived_tokens_are_renewed_before_they_expire() {
    let emulator = start_emulator(EmulatorOptions {
        token_ttl: Duration::from_secs(4),
        ..EmulatorOptions::default()
    })
    .await;
    let client = client(&emulator.url(), &[]).await;
    let first = cloudtrail_rows(100, "s3://logs/trail-7a.json.gz", 8);
    assert!(
        client
            .send(first.clone(), far_deadline())
            .await
            .is_complete()
    );
    // Past three quarters of the lifetime the cached token is not used any more.
    tokio::time::sleep(Duration::from_millis(3200)).await;
    let second = cloudtrail_rows(100, "s3://logs/trail-7b.json.gz", 9);
    let report = client.send(second.clone(), far_deadline()).await;
    assert!(report.is_complete());
    assert_eq!(
        report.unauthorized, 0,
        "renewed before expiry, not after a 401"
    );
    assert!(emulator.stats().tokens_issued >= 2);
    let mut all = first;
    all.extend(second);
    assert_exactly_once(&emulator.rows(TRAIL), &all);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connections_are_retried() {
    let emulator = start_emulator(EmulatorOptions::default()).await;
    emulator.apply(&FaultPlan {
        drop_connections: Some(4),
        ..FaultPlan::default()
    });
    let client = client(&emulator.url(), &[(vars::MAX_REQUEST_BYTES, "16384")]).await;
    let rows = cloudtrail_rows(2_000, "s3://logs/trail-8.json.gz", 10);
    let report = client.send(rows.clone(), far_deadline()).await;

    assert!(report.is_complete(), "{report:?}");
    let stats = emulator.stats();
    assert_eq!(stats.dropped_connections, 4);
    assert_eq!(stats.statuses.values().sum::<u64>() + 4, stats.requests);
    assert_eq!(report.retries, 4);
    assert_exactly_once(&emulator.rows(TRAIL), &rows);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_too_large_for_any_request_is_reported_not_dropped() {
    let emulator = start_emulator(EmulatorOptions::default()).await;
    let client = client(&emulator.url(), &[]).await;
    let object = "s3://logs/cw-9.json.gz";
    let mut rows = vec![
        noisy_row(0, object, 200, 1),
        noisy_row(1, object, 1_500_000, 2),
        noisy_row(2, object, 200, 3),
    ];
    let report = client.send(rows.clone(), far_deadline()).await;

    assert_eq!(report.accepted, 2);
    assert_eq!(report.failed.len(), 1);
    let failed = &report.failed[0];
    assert_eq!(failed.row.record_id, rows[1].record_id);
    assert!(matches!(
        failed.reason,
        FailureReason::TooLarge { compressed_bytes, limit: 1_048_576, server_body: None }
            if compressed_bytes > 1_048_576
    ));
    assert!(emulator.stats().max_body_bytes_seen < 1_048_576);
    rows.remove(1);
    assert_exactly_once(&emulator.rows("Custom-AWSCloudWatch"), &rows);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_the_server_refuses_as_too_large_alone_is_reported() {
    let emulator = start_emulator(EmulatorOptions {
        max_body_bytes: 50_000,
        ..EmulatorOptions::default()
    })
    .await;
    let client = client(&emulator.url(), &[]).await;
    let object = "s3://logs/cw-10.json.gz";
    let rows = vec![
        noisy_row(0, object, 200, 1),
        noisy_row(1, object, 80_000, 2),
        noisy_row(2, object, 200, 3),
    ];
    let report = client.send(rows.clone(), far_deadline()).await;
    assert_eq!(report.accepted, 2, "{report:?}");
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].row.record_id, rows[1].record_id);
    assert!(matches!(
        &report.failed[0].reason,
        FailureReason::TooLarge { server_body: Some(body), .. } if body.contains("limit")
    ));
    assert_eq!(report.failed[0].reason.status(), Some(413));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deadline_stops_retries_and_hands_rows_back_unsent() {
    let emulator = start_emulator(EmulatorOptions::default()).await;
    emulator.apply(&FaultPlan {
        throttle: Some(ThrottleFaults {
            count: 100,
            retry_after_ms: 60_000,
        }),
        ..FaultPlan::default()
    });
    let client = client(&emulator.url(), &[(vars::MAX_REQUEST_BYTES, "16384")]).await;
    let rows = cloudtrail_rows(1_000, "s3://logs/trail-11.json.gz", 11);
    let report = client
        .send(rows.clone(), Instant::now() + Duration::from_secs(3))
        .await;
    // A Retry-After past the deadline is not waited for: one attempt per body.
    assert!(report.requests > 1);
    assert_eq!(report.throttled, report.requests);
    assert_eq!(report.retries, 0);
    assert_eq!(report.accepted, 0);
    assert!(report.failed.is_empty());
    assert_eq!(report.unsent.len(), 1_000);
    let mut ids: Vec<_> = report.unsent.iter().map(|r| r.record_id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 1_000);
    assert!(emulator.rows(TRAIL).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_credentials_fail_the_rows_with_an_auth_reason_and_no_secret() {
    let emulator = start_emulator(EmulatorOptions {
        client_secret: Some("the-right-secret".into()),
        ..EmulatorOptions::default()
    })
    .await;
    let client = client(&emulator.url(), &[]).await;
    let rows = cloudtrail_rows(10, "s3://logs/trail-12.json.gz", 12);
    let report = client.send(rows, far_deadline()).await;
    assert_eq!(report.failed.len(), 10);
    let reason = report.failed[0].reason.to_string();
    assert!(
        matches!(report.failed[0].reason, FailureReason::Auth { .. }),
        "{reason}"
    );
    assert!(reason.contains("invalid_client"), "{reason}");
    assert!(!reason.contains(CLIENT_SECRET), "{reason}");
    assert_eq!(emulator.stats().requests, 0, "nothing sent without a token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_table_goes_to_its_own_stream_with_latency_and_parallel_requests() {
    let emulator = start_emulator(EmulatorOptions::default()).await;
    emulator.apply(&FaultPlan {
        latency_ms: Some(30),
        ..FaultPlan::default()
    });
    emulator.set_stream("Custom-MyFlows", Table::AwsVpcFlow);
    let client = client(
        &emulator.url(),
        &[
            (vars::MAX_REQUEST_BYTES, "8192"),
            (vars::MAX_PARALLEL_REQUESTS, "8"),
            (vars::STREAM_MAP, r#"{"AWSVPCFlow": "Custom-MyFlows"}"#),
        ],
    )
    .await;
    let trail = cloudtrail_rows(1_500, "s3://logs/trail-13.json.gz", 13);
    let flows = vpc_rows(1_500, "s3://logs/vpc-13.log.gz", 13);
    let mut rows = Vec::new();
    for (a, b) in trail.iter().zip(&flows) {
        rows.push(a.clone());
        rows.push(b.clone());
    }
    let report = client.send(rows, far_deadline()).await;
    assert!(report.is_complete(), "{report:?}");
    assert_exactly_once(&emulator.rows(TRAIL), &trail);
    assert_exactly_once(&emulator.rows("Custom-MyFlows"), &flows);
    assert!(emulator.rows("Custom-AWSVPCFlow").is_empty());
}

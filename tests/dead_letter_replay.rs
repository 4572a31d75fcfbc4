//! Rows Sentinel refuses go to the dead letter (a local folder, or S3 through moto), and
//! `replay` sends them again after the cause is fixed, removing what was accepted: zero
//! rows lost, zero duplicated, counted by RecordId at the emulator.

use crate::common;

use std::process::Command;
use std::sync::Arc;

use s3_sentinel_connector::Row;
use s3_sentinel_connector::S3Location;
use s3_sentinel_connector::S3StateStore;
use s3_sentinel_connector::vars;
use s3_sentinel_connector::{DeadLetter, ReplayOptions, dead_letter};
use s3_sentinel_connector::{EmulatorOptions, FaultPlan, ThrottleFaults};
use s3_sentinel_connector::{SentinelClient, StreamMap};
use s3_sentinel_connector::{deliver, deliver_settled};

use crate::delivery_support::*;

const TRAIL: &str = "Custom-AWSCloudTrail";
const FLOWS: &str = "Custom-AWSVPCFlow";

fn fixed(pairs: &str) -> StreamMap {
    StreamMap::parse_pairs(pairs).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_rows_are_dead_lettered_then_replayed_after_fixing_the_mapping() {
    let emulator = start_emulator(EmulatorOptions::default()).await;
    let wrong = client(
        &emulator.url(),
        &[
            (vars::STREAM_MAP, r#"{"AWSCloudTrail": "Custom-AWSWAF"}"#),
            (vars::MAX_REQUEST_BYTES, "32768"),
        ],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let dl = DeadLetter::dir(dir.path());

    let trail_a = cloudtrail_rows(500, "s3://logs/a.json.gz", 21);
    let trail_b = cloudtrail_rows(300, "s3://logs/b.json.gz", 22);
    let flows = vpc_rows(500, "s3://logs/c.log.gz", 23);
    let mut rows: Vec<Row> = trail_a.clone();
    rows.extend(flows.clone());
    rows.extend(trail_b.clone());
    let delivered = deliver(&wrong, &dl, rows, far_deadline()).await.unwrap();
    assert_eq!(delivered.report.accepted, 500);
    assert_eq!(delivered.dead_lettered.rows, 800);
    assert_eq!(
        delivered.dead_lettered.files.len(),
        2,
        "one file per source object"
    );
    assert_exactly_once(&emulator.rows(FLOWS), &flows);
    assert!(emulator.rows(TRAIL).is_empty());

    // Replaying with the mapping still wrong changes nothing.
    let report = dead_letter::replay(&dl, &wrong, &ReplayOptions::default())
        .await
        .unwrap();
    assert_eq!(report.rows_read, 800);
    assert_eq!(report.rows_accepted, 0);
    assert_eq!(report.rows_remaining.get("rejected"), Some(&800));
    assert_eq!(dl.list().await.unwrap().len(), 2);

    // A dry run counts without sending.
    let requests_before = emulator.stats().requests;
    let survey = dead_letter::survey(&dl, &fixed("AWSCloudTrail=Custom-AWSCloudTrail"))
        .await
        .unwrap();
    assert_eq!(survey.rows_by_stream.get(TRAIL), Some(&800));
    assert_eq!(emulator.stats().requests, requests_before);

    let right = wrong.with_streams(&fixed("AWSCloudTrail=Custom-AWSCloudTrail"));
    let report = dead_letter::replay(&dl, &right, &ReplayOptions::default())
        .await
        .unwrap();
    assert_eq!(report.rows_accepted, 800);
    assert_eq!(report.remaining(), 0);
    assert_eq!(report.files_deleted, 2);
    assert!(dl.list().await.unwrap().is_empty());

    let mut trail = trail_a;
    trail.extend(trail_b);
    assert_exactly_once(&emulator.rows(TRAIL), &trail);
    assert_exactly_once(&emulator.rows(FLOWS), &flows);
    assert!(emulator.rows("Custom-AWSWAF").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partly_accepted_files_in_s3_are_rewritten_with_the_rest() {
    let config = common::moto_config().await;
    let s3 = common::s3_client(&config);
    let bucket = common::new_bucket(&s3, "dead-letter").await;
    let location = S3Location {
        bucket: bucket.clone(),
        prefix: "dead-letter/".into(),
    };
    let dl = DeadLetter::s3(s3.clone(), &location);

    let emulator = start_emulator(EmulatorOptions::default()).await;
    let wrong = client(
        &emulator.url(),
        &[(
            vars::STREAM_MAP,
            r#"{"AWSCloudTrail": "Custom-AWSWAF", "AWSVPCFlow": "Custom-AWSWAF"}"#,
        )],
    )
    .await;
    // One object holding both kinds of rows: one dead-letter file.
    let object = "s3://logs/mixed.json.gz";
    let trail = cloudtrail_rows(400, object, 31);
    let flows = vpc_rows(300, object, 32);
    let mut rows = trail.clone();
    rows.extend(flows.clone());
    let delivered = deliver(&wrong, &dl, rows, far_deadline()).await.unwrap();
    assert_eq!(delivered.report.accepted, 0);
    assert_eq!(delivered.dead_lettered.rows, 700);
    let keys = dl.list().await.unwrap();
    assert_eq!(keys.len(), 1);
    assert!(keys[0].ends_with("-0.ndjson.gz"), "{keys:?}");
    let listed = s3
        .list_objects_v2()
        .bucket(&bucket)
        .prefix("dead-letter/")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.contents().len(), 1);

    // Fix only CloudTrail: those rows go, the flow rows stay in a rewritten file.
    let report = dead_letter::replay(
        &dl,
        &wrong.with_streams(&fixed("AWSCloudTrail=Custom-AWSCloudTrail")),
        &ReplayOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(report.rows_accepted, 400);
    assert_eq!(report.files_rewritten, 1);
    assert_eq!(report.rows_remaining.get("rejected"), Some(&300));
    let file = dl.read(&keys[0]).await.unwrap().unwrap();
    assert_eq!(file.entries.len(), 300);
    assert!(file.entries.iter().all(|e| e.table == "AWSVPCFlow"));
    assert!(file.entries.iter().all(|e| e.replay_attempts == 1));
    assert!(
        file.entries[0].reason.contains("not declared"),
        "{}",
        file.entries[0].reason
    );

    let report = dead_letter::replay(
        &dl,
        &wrong.with_streams(&fixed(
            "AWSCloudTrail=Custom-AWSCloudTrail,AWSVPCFlow=Custom-AWSVPCFlow",
        )),
        &ReplayOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(report.rows_accepted, 300);
    assert_eq!(report.files_deleted, 1);
    assert!(dl.list().await.unwrap().is_empty());
    assert_exactly_once(&emulator.rows(TRAIL), &trail);
    assert_exactly_once(&emulator.rows(FLOWS), &flows);

    // When even the dead letter cannot be written, delivery says so.
    let missing = DeadLetter::new(
        Arc::new(S3StateStore::new(s3.clone(), "no-such-bucket-for-dl", "x/")),
        "s3://no-such-bucket-for-dl/x/",
    );
    let rows = cloudtrail_rows(5, "s3://logs/lost.json.gz", 33);
    let err = deliver(&wrong, &missing, rows, far_deadline())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no-such-bucket-for-dl"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_replay_command_sends_and_cleans_up() {
    let emulator = start_emulator(EmulatorOptions::default()).await;
    let wrong: SentinelClient = client(
        &emulator.url(),
        &[(vars::STREAM_MAP, r#"{"AWSCloudTrail": "Custom-AWSWAF"}"#)],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let dl = DeadLetter::dir(dir.path());
    let trail = cloudtrail_rows(250, "s3://logs/cli.json.gz", 41);
    let delivered = deliver(&wrong, &dl, trail.clone(), far_deadline())
        .await
        .unwrap();
    assert_eq!(delivered.dead_lettered.rows, 250);

    let url = emulator.url();
    let run = |extra: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_s3-sentinel"));
        cmd.arg("replay")
            .arg(dir.path())
            .args(extra)
            .env(vars::INGESTION_ENDPOINT, &url)
            .env(vars::AUTHORITY_HOST, &url)
            .env(vars::DCR_IMMUTABLE_ID, DCR)
            .env(vars::TENANT_ID, TENANT)
            .env(vars::CLIENT_ID, CLIENT_ID)
            .env(vars::CLIENT_SECRET, CLIENT_SECRET)
            .env(vars::STREAM_MAP, r#"{"AWSCloudTrail": "Custom-AWSWAF"}"#)
            .env_remove(vars::CREDENTIALS_SECRET_ARN);
        let out = cmd.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, text) = run(&[
        "--dry-run",
        "--stream-map",
        "AWSCloudTrail=Custom-AWSCloudTrail",
    ]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("250 rows -> Custom-AWSCloudTrail"), "{text}");
    assert!(emulator.rows(TRAIL).is_empty());

    // Without the fix the rows stay and the exit status says so.
    let (code, text) = run(&[]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("still dead-lettered"), "{text}");
    assert!(!text.contains(CLIENT_SECRET));

    let (code, text) = run(&[
        "--stream-map",
        r#"{"AWSCloudTrail": "Custom-AWSCloudTrail"}"#,
    ]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("accepted 250 rows"), "{text}");
    assert!(dl.list().await.unwrap().is_empty());
    assert_exactly_once(&emulator.rows(TRAIL), &trail);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversize_row_is_dead_lettered_and_stays_until_it_can_be_sent() {
    let emulator = start_emulator(EmulatorOptions::default()).await;
    let client = client(&emulator.url(), &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let dl = DeadLetter::dir(dir.path());
    let object = "s3://logs/huge.json.gz";
    let rows = vec![
        noisy_row(0, object, 100, 61),
        // Random alphanumerics compress to ~0.75 byte/char at best: over 1 MiB at any level.
        noisy_row(1, object, 2_000_000, 62),
        noisy_row(2, object, 100, 63),
    ];
    let delivered = deliver(&client, &dl, rows.clone(), far_deadline())
        .await
        .unwrap();
    assert_eq!(delivered.report.accepted, 2);
    assert_eq!(delivered.dead_lettered.rows, 1);
    let keys = dl.list().await.unwrap();
    let file = dl.read(&keys[0]).await.unwrap().unwrap();
    assert_eq!(file.entries.len(), 1);
    assert_eq!(file.entries[0].reason_kind, "too_large");
    assert_eq!(file.entries[0].record_id, rows[1].record_id.to_string());
    assert_eq!(file.entries[0].row.get(), rows[1].json);

    // Still too large on replay: it stays, and nothing is sent twice.
    let report = dead_letter::replay(&dl, &client, &ReplayOptions::default())
        .await
        .unwrap();
    assert_eq!(report.rows_remaining.get("too_large"), Some(&1));
    assert_eq!(dl.list().await.unwrap().len(), 1);
    let kept: Vec<Row> = vec![rows[0].clone(), rows[2].clone()];
    assert_exactly_once(&emulator.rows("Custom-AWSCloudWatch"), &kept);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_left_unsent_by_the_deadline_can_be_settled_into_the_dead_letter() {
    let emulator = start_emulator(EmulatorOptions::default()).await;
    // Throttled with a Retry-After far past the deadline: nothing can be accepted in time.
    emulator.apply(&FaultPlan {
        throttle: Some(ThrottleFaults {
            count: 1_000,
            retry_after_ms: 120_000,
        }),
        ..FaultPlan::default()
    });
    let client = client(&emulator.url(), &[(vars::MAX_REQUEST_BYTES, "16384")]).await;
    let dir = tempfile::tempdir().unwrap();
    let dl = DeadLetter::dir(dir.path());
    let rows = cloudtrail_rows(600, "s3://logs/late.json.gz", 71);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    let delivered = deliver_settled(&client, &dl, rows.clone(), deadline)
        .await
        .unwrap();
    assert!(delivered.report.unsent.is_empty());
    assert_eq!(delivered.report.failed.len(), 600);
    assert_eq!(delivered.dead_lettered.rows, 600);
    let counts = &delivered.report.by_log_type[&s3_sentinel_connector::LogType::CloudTrail];
    assert_eq!((counts.failed, counts.unsent), (600, 0));
    let keys = dl.list().await.unwrap();
    let file = dl.read(&keys[0]).await.unwrap().unwrap();
    assert!(file.entries.iter().all(|e| e.reason_kind == "deadline"));
    let mut ordinals: Vec<u64> = file.entries.iter().map(|e| e.ordinal).collect();
    ordinals.sort();
    assert_eq!(ordinals, (0..600).collect::<Vec<_>>());

    // The throttling ends; a replay delivers everything once.
    emulator.reset();
    let report = dead_letter::replay(&dl, &client, &ReplayOptions::default())
        .await
        .unwrap();
    assert_eq!(report.rows_accepted, 600);
    assert!(dl.list().await.unwrap().is_empty());
    assert_exactly_once(&emulator.rows(TRAIL), &rows);
}

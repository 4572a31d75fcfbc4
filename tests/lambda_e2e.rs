//! End to end with real parts: the shipped `bootstrap` binary driven through the Lambda
//! Runtime API, objects in a real local S3 (moto), credentials in moto's Secrets Manager,
//! and the project's Logs Ingestion emulator enforcing the API contract. Every test counts
//! rows by RecordId: zero lost, zero duplicated.

use std::process::Command;
use std::time::Duration;

use crate::common::function::*;
use crate::common::runtime_api::{Outcome, RuntimeApi};
use s3_sentinel_connector::Table;
use s3_sentinel_connector::{EmulatorOptions, ErrorFaults, FaultPlan, ThrottleFaults};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------
// Tests

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_envelope_delivers_every_record_exactly_once() {
    let mut h = Harness::new(EmulatorOptions::default()).await;
    let trail = cloudtrail_key("Envelope1");
    let flow = vpc_key("0e0e0e0e");
    let spaced = "app logs/2026+11/worker log:1.txt.gz".to_string();
    let bridged = cloudtrail_key("Envelope2");
    h.put(&trail, &cloudtrail_json(300, 1)).await;
    h.put(&flow, &vpc_flow_lines(400)).await;
    h.put(&spaced, &text_lines(250)).await;
    h.put(&bridged, &cloudtrail_json(120, 2)).await;

    let function = Function::start(&h.env()).await;
    // Direct S3 notification.
    assert_ok(&function.invoke(&s3_event(&h.logs, &trail), LONG).await);
    // SNS-in-SQS with an S3 test event and a message that is not an event at all.
    let sqs = sqs_event(&[
        (
            "m-flow".into(),
            sns_event(&s3_event(&h.logs, &flow))["Records"][0]["Sns"].clone(),
        ),
        (
            "m-test".into(),
            json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": h.logs}),
        ),
        ("m-bad".into(), json!({"unexpected": true})),
    ]);
    let response = assert_ok(&function.invoke(&sqs, LONG).await).clone();
    assert_eq!(
        response["batchItemFailures"],
        json!([{"itemIdentifier": "m-bad"}]),
        "only the malformed message is returned to the queue"
    );
    // SNS directly, with a key that needs URL-decoding.
    assert_ok(
        &function
            .invoke(&sns_event(&s3_event(&h.logs, &spaced)), LONG)
            .await,
    );
    // EventBridge.
    assert_ok(
        &function
            .invoke(&eventbridge_event(&h.logs, &bridged), LONG)
            .await,
    );
    h.assert_exactly_once();
    h.report();

    // S3 events are at-least-once: the same events again change nothing.
    assert_ok(&function.invoke(&s3_event(&h.logs, &trail), LONG).await);
    assert_ok(
        &function
            .invoke(&eventbridge_event(&h.logs, &bridged), LONG)
            .await,
    );
    h.assert_exactly_once();
    let rows = h.emulator.emulator().rows("Custom-AWSCloudTrail");
    assert_eq!(
        rows[0]["SourceObject"],
        format!("s3://{}/{}", h.logs, trail)
    );
    assert!(rows[0]["PatternId"].is_string() && rows[0]["PatternTemplate"].is_string());
    // What the function learned is shared through the state prefix.
    let db =
        h.s3.get_object()
            .bucket(&h.state)
            .key("state/patterns/db.json")
            .send()
            .await
            .expect("the pattern database is persisted");
    let db: Value = serde_json::from_slice(&db.body.collect().await.unwrap().into_bytes()).unwrap();
    assert!(!db["patterns"].as_array().unwrap().is_empty());
    assert!(
        rows[0]["TimeGenerated"]
            .as_str()
            .unwrap()
            .starts_with("2026-11-20T10:")
    );
}

/// At 3,538 MB (two vCPUs) the objects of one SQS batch run side by side: every record
/// still arrives once, and a bad message fails alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_sqs_batch_runs_its_objects_side_by_side_on_two_vcpus() {
    let mut h = Harness::new(EmulatorOptions::default()).await;
    let mut messages = Vec::new();
    for i in 0..6usize {
        // Distinct content per object: a VPC Flow line's id is its text and position.
        let key = cloudtrail_key(&format!("SideBySide{i}"));
        h.put(&key, &cloudtrail_json(400 + 50 * i, i + 10)).await;
        messages.push((format!("m-{i}"), s3_event(&h.logs, &key)));
    }
    messages.insert(3, ("m-bad".into(), json!({"unexpected": true})));
    let mut env = h.env();
    env.insert("AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(), "3538".into());
    let function = Function::start(&env).await;
    let response = assert_ok(&function.invoke(&sqs_event(&messages), LONG).await).clone();
    assert_eq!(
        response["batchItemFailures"],
        json!([{"itemIdentifier": "m-bad"}])
    );
    h.assert_exactly_once();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn real_s3_to_sqs_notifications_from_moto() {
    let mut h = Harness::new(EmulatorOptions::default()).await;
    // moto routes unsigned query-protocol calls by the credential scope's service name.
    let sqs_auth = "AWS4-HMAC-SHA256 Credential=testing/20261120/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0";
    let http = reqwest::Client::new();
    let queue_name = format!("q-{}", h.logs);
    let created = http
        .post(&h.moto)
        .header("Authorization", sqs_auth)
        .form(&[
            ("Action", "CreateQueue"),
            ("QueueName", queue_name.as_str()),
            ("Version", "2012-11-05"),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let queue_url = between(&created, "<QueueUrl>", "</QueueUrl>").to_string();
    let queue_arn = format!("arn:aws:sqs:us-east-1:{ACCOUNT}:{queue_name}");
    h.s3.put_bucket_notification_configuration()
        .bucket(&h.logs)
        .notification_configuration(
            aws_sdk_s3::types::NotificationConfiguration::builder()
                .queue_configurations(
                    aws_sdk_s3::types::QueueConfiguration::builder()
                        .queue_arn(&queue_arn)
                        .events(aws_sdk_s3::types::Event::S3ObjectCreated)
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let key = "firehose/2026/11/20/10/app stream+1.log.gz";
    h.put(key, &text_lines(150)).await;

    let received = http
        .post(&queue_url)
        .header("Authorization", sqs_auth)
        .form(&[
            ("Action", "ReceiveMessage"),
            ("MaxNumberOfMessages", "10"),
            ("Version", "2012-11-05"),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut bodies = Vec::new();
    let mut rest = received.as_str();
    while let Some(start) = rest.find("<Body>") {
        let body = between(rest, "<Body>", "</Body>");
        let body = body
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&");
        let value: Value = serde_json::from_str(&body).unwrap();
        bodies.push((format!("moto-{}", bodies.len()), value));
        rest = &rest[start + 6..];
    }
    let object_events: Vec<_> = bodies
        .into_iter()
        .filter(|(_, b)| b.get("Records").is_some())
        .collect();
    assert_eq!(
        object_events.len(),
        1,
        "moto sends one notification per object"
    );

    let function = Function::start(&h.env()).await;
    let response = assert_ok(&function.invoke(&sqs_event(&object_events), LONG).await).clone();
    assert_eq!(response["batchItemFailures"], json!([]));
    h.assert_exactly_once();
    h.report();
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text.find(start).expect(start) + start.len();
    let to = text[from..].find(end).expect(end) + from;
    &text[from..to]
}

/// One object of ~1,500 CloudTrail rows in small requests and batches, so every fault
/// lands in the middle of real work.
async fn fault_case(plan: FaultPlan, options: EmulatorOptions) -> Harness {
    let mut h = Harness::new(options).await;
    let key = cloudtrail_key("Faults");
    h.put(&key, &cloudtrail_json(1500, 3)).await;
    h.faults(plan);
    let mut env = h.env();
    env.insert("SENTINEL_MAX_REQUEST_BYTES".into(), "65536".into());
    env.insert("S3_SENTINEL_BATCH_RECORDS".into(), "500".into());
    let function = Function::start(&env).await;
    assert_ok(&function.invoke(&s3_event(&h.logs, &key), LONG).await);
    h.assert_exactly_once();
    assert!(
        h.dead_letter_files().await.is_empty(),
        "nothing dead-lettered"
    );
    h.report();
    h
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fault_429_bursts_with_retry_after() {
    let h = fault_case(
        FaultPlan {
            throttle: Some(ThrottleFaults {
                count: 6,
                retry_after_ms: 300,
            }),
            ..FaultPlan::default()
        },
        EmulatorOptions::default(),
    )
    .await;
    assert_eq!(h.emulator.emulator().stats().statuses.get(&429), Some(&6));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fault_500_and_503_runs() {
    let h = fault_case(
        FaultPlan {
            errors: Some(ErrorFaults {
                count: 3,
                status: 500,
            }),
            sequence: vec![
                s3_sentinel_connector::Fault::Status { status: 503 },
                s3_sentinel_connector::Fault::Status { status: 503 },
            ],
            ..FaultPlan::default()
        },
        EmulatorOptions::default(),
    )
    .await;
    let stats = h.emulator.emulator().stats();
    assert_eq!(stats.statuses.get(&500), Some(&3));
    assert_eq!(stats.statuses.get(&503), Some(&2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fault_413_on_oversized_bodies_splits() {
    // The server's limit is below the client's: it answers 413 and the client splits.
    let h = fault_case(
        FaultPlan::default(),
        EmulatorOptions {
            max_body_bytes: 20_000,
            ..EmulatorOptions::default()
        },
    )
    .await;
    assert!(
        h.emulator
            .emulator()
            .stats()
            .statuses
            .get(&413)
            .copied()
            .unwrap_or(0)
            > 0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fault_dropped_connections() {
    let h = fault_case(
        FaultPlan {
            drop_connections: Some(4),
            ..FaultPlan::default()
        },
        EmulatorOptions::default(),
    )
    .await;
    assert_eq!(h.emulator.emulator().stats().dropped_connections, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fault_expired_tokens_between_and_during_invocations() {
    let mut h = Harness::new(EmulatorOptions::default()).await;
    let first = cloudtrail_key("TokenOne");
    let second = cloudtrail_key("TokenTwo");
    h.put(&first, &cloudtrail_json(400, 4)).await;
    h.put(&second, &cloudtrail_json(400, 5)).await;
    let mut env = h.env();
    env.insert("SENTINEL_MAX_REQUEST_BYTES".into(), "65536".into());
    let function = Function::start(&env).await;
    assert_ok(&function.invoke(&s3_event(&h.logs, &first), LONG).await);
    // Every cached token dies; the warm function must notice (401) and fetch a new one.
    h.faults(FaultPlan {
        expire_tokens: true,
        ..FaultPlan::default()
    });
    assert_ok(&function.invoke(&s3_event(&h.logs, &second), LONG).await);
    h.assert_exactly_once();
    h.report();
    let stats = h.emulator.emulator().stats();
    assert!(stats.statuses.get(&401).copied().unwrap_or(0) >= 1);
    assert!(stats.tokens_issued >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fault_400_schema_errors_are_dead_lettered_then_replayed() {
    let mut h = Harness::new(EmulatorOptions {
        streams: [("Custom-WrongTable".to_string(), Table::AwsVpcFlow)].into(),
        ..EmulatorOptions::default()
    })
    .await;
    let key = cloudtrail_key("Schema");
    h.put(&key, &cloudtrail_json(700, 6)).await;
    let mut env = h.env();
    // A mapping mistake: CloudTrail rows sent to a stream whose table lacks their columns.
    env.insert(
        "SENTINEL_STREAM_MAP".into(),
        r#"{"AWSCloudTrail": "Custom-WrongTable"}"#.into(),
    );
    let function = Function::start(&env).await;
    // Dead-lettered rows are safe: the invocation succeeds.
    assert_ok(&function.invoke(&s3_event(&h.logs, &key), LONG).await);
    assert!(h.received().is_empty());
    assert!(
        h.emulator
            .emulator()
            .stats()
            .statuses
            .get(&400)
            .copied()
            .unwrap_or(0)
            > 0
    );
    assert!(!h.dead_letter_files().await.is_empty());

    // After fixing the mapping, replay sends every row once and empties the dead letter.
    let status = Command::new(env!("CARGO_BIN_EXE_s3-sentinel"))
        .args([
            "replay",
            &format!("s3://{}/dead-letter/", h.state),
            "--stream-map",
            r#"{"AWSCloudTrail": "Custom-AWSCloudTrail"}"#,
        ])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(h.env())
        .status()
        .unwrap();
    assert!(status.success());
    h.assert_exactly_once();
    h.report();
    assert!(h.dead_letter_files().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deadline_mid_object_checkpoints_and_the_retry_resumes() {
    let mut h = Harness::new(EmulatorOptions::default()).await;
    let key = vpc_key("deadline");
    h.put(&key, &vpc_flow_lines(3000)).await;
    h.faults(FaultPlan {
        latency_ms: Some(700),
        ..FaultPlan::default()
    });
    let mut env = h.env();
    env.insert("S3_SENTINEL_BATCH_RECORDS".into(), "300".into());
    env.insert("S3_SENTINEL_SAFETY_MARGIN_SECONDS".into(), "1".into());
    let function = Function::start(&env).await;
    // Ten batches at 0.7 s each (one after another: each is checkpointed) cannot fit in
    // 6 s; the slack before the first one absorbs a busy machine (state load, GetObject and
    // the token all wait on a moto that other tests are hammering).
    let first = function
        .invoke(&s3_event(&h.logs, &key), Duration::from_millis(6000))
        .await;
    let Outcome::Error(error) = &first else {
        panic!("expected the first attempt to stop at the deadline, got {first:?}")
    };
    assert!(error.to_string().contains("checkpoint"), "{error}");
    let partial = h.received().len();
    assert!(
        partial > 0 && partial < 3000,
        "{partial} rows after the first attempt"
    );

    h.faults(FaultPlan {
        latency_ms: Some(0),
        ..FaultPlan::default()
    });
    assert_ok(&function.invoke(&s3_event(&h.logs, &key), LONG).await);
    h.assert_exactly_once();
    h.report();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn secrets_manager_unavailable_fails_clearly_and_the_retry_delivers() {
    let mut h = Harness::new(EmulatorOptions::default()).await;
    let key = cloudtrail_key("Secrets");
    h.put(&key, &cloudtrail_json(200, 7)).await;
    let mut broken = h.env();
    // Nothing listens on port 9: every Secrets Manager call fails to connect.
    broken.insert(
        "AWS_ENDPOINT_URL_SECRETS_MANAGER".into(),
        "http://127.0.0.1:9".into(),
    );
    broken.insert("SENTINEL_MAX_ATTEMPTS".into(), "2".into());
    {
        let function = Function::start(&broken).await;
        let outcome = function.invoke(&s3_event(&h.logs, &key), LONG).await;
        let Outcome::Error(error) = &outcome else {
            panic!("expected a failure, got {outcome:?}")
        };
        let text = error.to_string();
        assert!(text.contains("ecret"), "the error names the secret: {text}");
        assert!(!text.contains("s3cr3t-value"), "no secret in errors");
        assert!(h.received().is_empty());
    }
    // Lambda retries the event on a fresh environment.
    let function = Function::start(&h.env()).await;
    assert_ok(&function.invoke(&s3_event(&h.logs, &key), LONG).await);
    h.assert_exactly_once();
    h.report();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn invalid_configuration_fails_the_cold_start_naming_the_variable() {
    let h = Harness::new(EmulatorOptions::default()).await;
    let mut env = h.env();
    env.insert(
        "SENTINEL_INGESTION_ENDPOINT".into(),
        "http://ingest.example.com".into(),
    );
    let (_api, addr) = RuntimeApi::start().await;
    let output = Command::new(env!("CARGO_BIN_EXE_bootstrap"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(&env)
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "s3-sentinel-test")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(text.contains("SENTINEL_INGESTION_ENDPOINT"), "{text}");
    assert!(text.contains("https"), "{text}");
}

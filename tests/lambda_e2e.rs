//! End to end with real parts: the shipped `bootstrap` binary driven through the Lambda
//! Runtime API, objects in a real local S3 (moto), credentials in moto's Secrets Manager,
//! and the project's Logs Ingestion emulator enforcing the API contract. Every test counts
//! rows by RecordId: zero lost, zero duplicated.

use crate::common;

use std::collections::{BTreeMap, HashMap};
use std::io::{Cursor, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::runtime_api::{Outcome, RuntimeApi};
use aws_sdk_s3::primitives::ByteStream;
use s3_sentinel_connector::Collect;
use s3_sentinel_connector::Table;
use s3_sentinel_connector::{
    Emulator, EmulatorOptions, ErrorFaults, FaultPlan, RunningEmulator, ThrottleFaults,
};
use s3_sentinel_connector::{ObjectJob, parse_object};
use serde_json::{Value, json};

const ACCOUNT: &str = "123456789012";
const DCR: &str = "dcr-00000000000000000000000000000001";

// ---------------------------------------------------------------------------------------
// Objects

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn cloudtrail_json(n: usize, seed: usize) -> Vec<u8> {
    const NAMES: [(&str, &str, bool); 6] = [
        ("ec2.amazonaws.com", "DescribeInstances", true),
        ("s3.amazonaws.com", "GetObject", true),
        ("iam.amazonaws.com", "ListRoles", true),
        ("sts.amazonaws.com", "AssumeRole", false),
        ("cloudtrail.amazonaws.com", "StopLogging", false),
        ("kms.amazonaws.com", "Decrypt", true),
    ];
    let records: Vec<Value> = (0..n)
        .map(|i| {
            let (source, name, read_only) = NAMES[(i + seed) % NAMES.len()];
            json!({
                "eventVersion": "1.09",
                "userIdentity": {"type": "IAMUser", "principalId": format!("AIDA{i:016}"),
                    "arn": format!("arn:aws:iam::{ACCOUNT}:user/user{}", i % 7),
                    "accountId": ACCOUNT, "accessKeyId": format!("AKIA{:016}", i % 7),
                    "userName": format!("user{}", i % 7)},
                "eventTime": format!("2026-11-20T10:{:02}:{:02}Z", (i / 60) % 60, i % 60),
                "eventSource": source,
                "eventName": name,
                "awsRegion": "us-east-1",
                "sourceIPAddress": format!("198.51.100.{}", i % 250),
                "userAgent": "aws-cli/2.15.0 Python/3.11.6 Linux/6.1",
                "requestParameters": {"instancesSet": {"items": [{"instanceId": format!("i-{i:017x}")}]}},
                "responseElements": null,
                "requestID": format!("{seed:04}-{i:08}"),
                "eventID": format!("00000000-0000-4000-8000-{seed:04}{i:08}"),
                "readOnly": read_only,
                "eventType": "AwsApiCall",
                "managementEvent": true,
                "recipientAccountId": ACCOUNT,
                "eventCategory": "Management"
            })
        })
        .collect();
    serde_json::to_vec(&json!({ "Records": records })).unwrap()
}

fn vpc_flow_lines(n: usize) -> Vec<u8> {
    let mut out = String::from(
        "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n",
    );
    for i in 0..n {
        out.push_str(&format!(
            "2 {ACCOUNT} eni-0a1b2c3d4e5f{:05} 10.0.{}.{} 172.31.{}.{} {} {} 6 {} {} {} {} {} OK\n",
            i % 100,
            i % 250,
            i % 200,
            i % 30,
            i % 240,
            40000 + i % 20000,
            [22, 80, 443, 3389][i % 4],
            1 + i % 50,
            100 + i * 13 % 90000,
            1_795_000_000 + i,
            1_795_000_060 + i,
            if i % 9 == 0 { "REJECT" } else { "ACCEPT" },
        ));
    }
    out.into_bytes()
}

fn text_lines(n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| {
            format!(
                "2026-11-20T10:00:{:02}Z {} worker-{} processed batch {} in {} ms\n",
                i % 60,
                if i % 17 == 0 { "ERROR" } else { "INFO" },
                i % 5,
                i,
                i * 3 % 1000
            )
        })
        .collect::<String>()
        .into_bytes()
}

fn cloudtrail_key(tag: &str) -> String {
    format!(
        "AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2026/11/20/{ACCOUNT}_CloudTrail_us-east-1_20261120T1000Z_{tag:0>16}.json.gz"
    )
}

fn vpc_key(tag: &str) -> String {
    format!(
        "AWSLogs/{ACCOUNT}/vpcflowlogs/us-east-1/2026/11/20/{ACCOUNT}_vpcflowlogs_us-east-1_fl-0123456789abcdef0_20261120T1000Z_{tag:0>8}.log.gz"
    )
}

/// The record ids the library parses out of an object: what must arrive, once each.
fn expected_ids(bucket: &str, key: &str, body: &[u8]) -> Vec<String> {
    let mut sink = Collect::default();
    let job = ObjectJob::new(format!("s3://{bucket}/{key}"), key);
    parse_object(Cursor::new(body.to_vec()), &job, &mut sink).unwrap();
    assert!(sink.rejects.is_empty(), "test objects must be clean");
    sink.records.iter().map(|r| r.id.to_string()).collect()
}

// ---------------------------------------------------------------------------------------
// Events

fn url_encode_key(key: &str) -> String {
    percent_encoding::utf8_percent_encode(key, percent_encoding::NON_ALPHANUMERIC)
        .to_string()
        .replace("%2F", "/")
        .replace("%20", "+")
}

fn s3_record(bucket: &str, key: &str) -> Value {
    // Trimmed the way moto and some forwarders send it.
    json!({
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-11-20T10:05:00.000Z", "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "logs",
               "bucket": {"name": bucket, "arn": format!("arn:aws:s3:::{bucket}")},
               "object": {"key": url_encode_key(key), "size": 1}}
    })
}

fn s3_event(bucket: &str, key: &str) -> Value {
    json!({ "Records": [s3_record(bucket, key)] })
}

fn sqs_event(bodies: &[(String, Value)]) -> Value {
    json!({ "Records": bodies.iter().map(|(id, body)| json!({
        "messageId": id, "receiptHandle": "rh", "body": body.to_string(),
        "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
        "md5OfBody": "", "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:logs", "awsRegion": "us-east-1"
    })).collect::<Vec<_>>() })
}

fn sns_event(inner: &Value) -> Value {
    json!({ "Records": [{ "EventSource": "aws:sns", "EventVersion": "1.0",
        "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:logs:1",
        "Sns": { "Type": "Notification", "MessageId": "m-1",
                 "TopicArn": "arn:aws:sns:us-east-1:123456789012:logs",
                 "Message": inner.to_string(), "Timestamp": "2026-11-20T10:05:00.000Z" } }] })
}

fn eventbridge_event(bucket: &str, key: &str) -> Value {
    json!({
        "version": "0", "id": "e-1", "detail-type": "Object Created", "source": "aws.s3",
        "account": ACCOUNT, "time": "2026-11-20T10:05:00Z", "region": "us-east-1",
        "resources": [format!("arn:aws:s3:::{bucket}")],
        "detail": {"version": "0", "bucket": {"name": bucket},
                   "object": {"key": key, "size": 1, "etag": "x"}, "reason": "PutObject"}
    })
}

// ---------------------------------------------------------------------------------------
// Harness

struct Harness {
    s3: aws_sdk_s3::Client,
    moto: String,
    logs: String,
    state: String,
    secret_arn: String,
    emulator: RunningEmulator,
    expected: BTreeMap<String, usize>,
}

impl Harness {
    async fn new(options: EmulatorOptions) -> Harness {
        let config = common::moto_config().await;
        let s3 = common::s3_client(&config);
        let logs = common::new_bucket(&s3, "logs").await;
        let state = common::new_bucket(&s3, "state").await;
        let secrets = aws_sdk_secretsmanager::Client::new(&config);
        let secret_arn = secrets
            .create_secret()
            .name(format!("azure-{logs}"))
            .secret_string(
                json!({"tenant_id": "00000000-0000-0000-0000-0000000000aa",
                       "client_id": "connector", "client_secret": "s3cr3t-value"})
                .to_string(),
            )
            .send()
            .await
            .unwrap()
            .arn()
            .unwrap()
            .to_string();
        let emulator = Emulator::new(EmulatorOptions {
            client_id: Some("connector".into()),
            client_secret: Some("s3cr3t-value".into()),
            dcr_immutable_id: Some(DCR.into()),
            ..options
        })
        .start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
        Harness {
            s3,
            moto: common::moto_endpoint(),
            logs,
            state,
            secret_arn,
            emulator,
            expected: BTreeMap::new(),
        }
    }

    async fn put(&mut self, key: &str, plain: &[u8]) {
        let body = gzip(plain);
        for id in expected_ids(&self.logs, key, &body) {
            *self.expected.entry(id).or_default() += 1;
        }
        self.s3
            .put_object()
            .bucket(&self.logs)
            .key(key)
            .body(ByteStream::from(body))
            .send()
            .await
            .unwrap();
    }

    fn env(&self) -> HashMap<String, String> {
        let mut env = HashMap::new();
        for (k, v) in [
            ("AWS_ENDPOINT_URL", self.moto.as_str()),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("SENTINEL_DCR_IMMUTABLE_ID", DCR),
            ("AZURE_CREDENTIALS_SECRET_ARN", self.secret_arn.as_str()),
            ("STATE_BUCKET", self.state.as_str()),
            ("DEAD_LETTER_BUCKET", self.state.as_str()),
            ("RUST_LOG", "warn"),
        ] {
            env.insert(k.to_string(), v.to_string());
        }
        env.insert("SENTINEL_INGESTION_ENDPOINT".into(), self.emulator.url());
        env.insert("AZURE_AUTHORITY_HOST".into(), self.emulator.url());
        env
    }

    fn faults(&self, plan: FaultPlan) {
        self.emulator.emulator().apply(&plan);
    }

    /// Record ids that reached the emulator, over every stream but the alert stream.
    fn received(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for (stream, rows) in self.emulator.emulator().all_rows() {
            if stream == Table::S3SentinelAlerts.default_stream() {
                continue;
            }
            for row in rows {
                let id = row["RecordId"].as_str().unwrap().to_string();
                *counts.entry(id).or_default() += 1;
            }
        }
        counts
    }

    fn assert_exactly_once(&self) {
        let received = self.received();
        let lost: Vec<_> = self
            .expected
            .keys()
            .filter(|id| !received.contains_key(*id))
            .collect();
        let duplicated: Vec<_> = received.iter().filter(|(_, n)| **n > 1).collect();
        let unexpected: Vec<_> = received
            .keys()
            .filter(|id| !self.expected.contains_key(*id))
            .collect();
        assert!(
            lost.is_empty() && duplicated.is_empty() && unexpected.is_empty(),
            "expected {} rows: {} lost, {} duplicated, {} unexpected",
            self.expected.len(),
            lost.len(),
            duplicated.len(),
            unexpected.len()
        );
    }

    /// One line for the fault matrix (`cargo test --test lambda_e2e -- --nocapture`).
    fn report(&self) {
        let stats = self.emulator.emulator().stats();
        let received = self.received();
        eprintln!(
            "fault matrix: expected {} received {} duplicated {} | requests {} statuses {:?} dropped {} tokens {}",
            self.expected.len(),
            received.len(),
            received.values().filter(|n| **n > 1).count(),
            stats.requests,
            stats.statuses,
            stats.dropped_connections,
            stats.tokens_issued
        );
    }

    async fn dead_letter_files(&self) -> Vec<String> {
        let out = self
            .s3
            .list_objects_v2()
            .bucket(&self.state)
            .prefix("dead-letter/")
            .send()
            .await
            .unwrap();
        out.contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_string))
            .filter(|k| k.ends_with(".ndjson.gz"))
            .collect()
    }
}

/// The real `bootstrap` binary polling a Runtime API emulator.
struct Function {
    child: Child,
    api: RuntimeApi,
}

impl Function {
    async fn start(env: &HashMap<String, String>) -> Function {
        let (api, addr) = RuntimeApi::start().await;
        let child = spawn_bootstrap(env, addr);
        Function { child, api }
    }

    async fn invoke(&self, payload: &Value, timeout: Duration) -> Outcome {
        self.api.invoke(payload, timeout).await
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_bootstrap(env: &HashMap<String, String>, runtime_api: SocketAddr) -> Child {
    Command::new(env!("CARGO_BIN_EXE_bootstrap"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env)
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "s3-sentinel-test")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/s3-sentinel-test")
        // The function's JSON logs and EMF lines, when debugging a failure.
        .stdout(if std::env::var_os("S3_SENTINEL_E2E_VERBOSE").is_some() {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawning bootstrap")
}

const LONG: Duration = Duration::from_secs(120);

fn assert_ok(outcome: &Outcome) -> &Value {
    match outcome {
        Outcome::Response(v) => v,
        Outcome::Error(e) => panic!("invocation failed: {e}"),
    }
}

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
    // Ten batches at 0.7 s each cannot fit in 3.5 s.
    let first = function
        .invoke(&s3_event(&h.logs, &key), Duration::from_millis(3500))
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

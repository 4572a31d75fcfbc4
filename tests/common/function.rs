//! The real `bootstrap` binary driven through the Lambda Runtime API against moto (S3,
//! Secrets Manager) and the Logs Ingestion emulator: objects, events and the harness that
//! the end-to-end and hostile-input tests share.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::io::{Cursor, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use s3_sentinel_connector::Collect;
use s3_sentinel_connector::Table;
use s3_sentinel_connector::{Emulator, EmulatorOptions, FaultPlan, RunningEmulator};
use s3_sentinel_connector::{ObjectJob, parse_object};
use serde_json::{Value, json};

use super::runtime_api::{Outcome, RuntimeApi};

pub const ACCOUNT: &str = "123456789012";
pub const DCR: &str = "dcr-00000000000000000000000000000001";

// ---------------------------------------------------------------------------------------
// Objects

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

pub fn cloudtrail_json(n: usize, seed: usize) -> Vec<u8> {
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

pub fn vpc_flow_lines(n: usize) -> Vec<u8> {
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

pub fn text_lines(n: usize) -> Vec<u8> {
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

pub fn cloudtrail_key(tag: &str) -> String {
    format!(
        "AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2026/11/20/{ACCOUNT}_CloudTrail_us-east-1_20261120T1000Z_{tag:0>16}.json.gz"
    )
}

pub fn vpc_key(tag: &str) -> String {
    format!(
        "AWSLogs/{ACCOUNT}/vpcflowlogs/us-east-1/2026/11/20/{ACCOUNT}_vpcflowlogs_us-east-1_fl-0123456789abcdef0_20261120T1000Z_{tag:0>8}.log.gz"
    )
}

/// The record ids the library parses out of an object: what must arrive, once each.
pub fn expected_ids(bucket: &str, key: &str, body: &[u8]) -> Vec<String> {
    let mut sink = Collect::default();
    let job = ObjectJob::new(format!("s3://{bucket}/{key}"), key);
    parse_object(Cursor::new(body.to_vec()), &job, &mut sink).unwrap();
    assert!(sink.rejects.is_empty(), "test objects must be clean");
    sink.records.iter().map(|r| r.id.to_string()).collect()
}

// ---------------------------------------------------------------------------------------
// Events

pub fn url_encode_key(key: &str) -> String {
    percent_encoding::utf8_percent_encode(key, percent_encoding::NON_ALPHANUMERIC)
        .to_string()
        .replace("%2F", "/")
        .replace("%20", "+")
}

pub fn s3_record(bucket: &str, key: &str) -> Value {
    // Trimmed the way moto and some forwarders send it.
    json!({
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-11-20T10:05:00.000Z", "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "logs",
               "bucket": {"name": bucket, "arn": format!("arn:aws:s3:::{bucket}")},
               "object": {"key": url_encode_key(key), "size": 1}}
    })
}

pub fn s3_event(bucket: &str, key: &str) -> Value {
    json!({ "Records": [s3_record(bucket, key)] })
}

pub fn sqs_event(bodies: &[(String, Value)]) -> Value {
    json!({ "Records": bodies.iter().map(|(id, body)| json!({
        "messageId": id, "receiptHandle": "rh", "body": body.to_string(),
        "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
        "md5OfBody": "", "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:logs", "awsRegion": "us-east-1"
    })).collect::<Vec<_>>() })
}

pub fn sns_event(inner: &Value) -> Value {
    json!({ "Records": [{ "EventSource": "aws:sns", "EventVersion": "1.0",
        "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:logs:1",
        "Sns": { "Type": "Notification", "MessageId": "m-1",
                 "TopicArn": "arn:aws:sns:us-east-1:123456789012:logs",
                 "Message": inner.to_string(), "Timestamp": "2026-11-20T10:05:00.000Z" } }] })
}

pub fn eventbridge_event(bucket: &str, key: &str) -> Value {
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

pub struct Harness {
    pub s3: aws_sdk_s3::Client,
    pub moto: String,
    pub logs: String,
    pub state: String,
    pub secret_arn: String,
    pub emulator: RunningEmulator,
    pub expected: BTreeMap<String, usize>,
}

impl Harness {
    pub async fn new(options: EmulatorOptions) -> Harness {
        Harness::at(&super::moto_endpoint(), options).await
    }

    /// A harness on the moto server at `moto` (a test's own).
    pub async fn at(moto: &str, options: EmulatorOptions) -> Harness {
        let config = super::moto_config_at(moto).await;
        let s3 = super::s3_client(&config);
        let logs = super::new_bucket(&s3, "logs").await;
        let state = super::new_bucket(&s3, "state").await;
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
            moto: moto.to_string(),
            logs,
            state,
            secret_arn,
            emulator,
            expected: BTreeMap::new(),
        }
    }

    pub async fn put(&mut self, key: &str, plain: &[u8]) {
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

    /// Stores `body` as it is (already compressed, or not) and expects the records the
    /// library parses out of it, rejected lines allowed; returns (records, rejects).
    pub async fn put_raw(&mut self, key: &str, body: Vec<u8>) -> (usize, u64) {
        let mut sink = Collect::default();
        let job = ObjectJob::new(format!("s3://{}/{key}", self.logs), key);
        parse_object(Cursor::new(body.clone()), &job, &mut sink).unwrap();
        for r in &sink.records {
            *self.expected.entry(r.id.to_string()).or_default() += 1;
        }
        let counts = (sink.records.len(), sink.rejects.len() as u64);
        drop(sink);
        self.put_object(&self.logs.clone(), key, body).await;
        counts
    }

    pub async fn put_object(&self, bucket: &str, key: &str, body: Vec<u8>) {
        self.s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(body))
            .send()
            .await
            .unwrap();
    }

    /// An object of the state bucket, `None` when absent.
    pub async fn get_state(&self, key: &str) -> Option<Vec<u8>> {
        let out = self
            .s3
            .get_object()
            .bucket(&self.state)
            .key(key)
            .send()
            .await;
        match out {
            Ok(o) => Some(o.body.collect().await.unwrap().into_bytes().to_vec()),
            Err(_) => None,
        }
    }

    /// Keys of the state bucket under `prefix`.
    pub async fn state_keys(&self, prefix: &str) -> Vec<String> {
        let mut keys = Vec::new();
        let mut token = None;
        loop {
            let out = self
                .s3
                .list_objects_v2()
                .bucket(&self.state)
                .prefix(prefix)
                .set_continuation_token(token)
                .send()
                .await
                .unwrap();
            keys.extend(
                out.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_string)),
            );
            match out.next_continuation_token() {
                Some(t) => token = Some(t.to_string()),
                None => return keys,
            }
        }
    }

    /// Rejected input lines the function wrote aside (gzip NDJSON under `rejects/`).
    pub async fn rejected_lines(&self) -> u64 {
        let mut lines = 0;
        for key in self.state_keys("dead-letter/rejects/").await {
            let body = self.get_state(&key).await.unwrap();
            let mut text = String::new();
            std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&body[..]), &mut text)
                .unwrap();
            lines += text.lines().count() as u64;
        }
        lines
    }

    /// Rows of the alert stream.
    pub fn alerts(&self) -> Vec<Value> {
        self.emulator
            .emulator()
            .all_rows()
            .into_iter()
            .filter(|(stream, _)| *stream == Table::S3SentinelAlerts.default_stream())
            .flat_map(|(_, rows)| rows)
            .collect()
    }

    pub fn env(&self) -> HashMap<String, String> {
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

    pub fn faults(&self, plan: FaultPlan) {
        self.emulator.emulator().apply(&plan);
    }

    /// Record ids that reached the emulator, over every stream but the alert stream.
    pub fn received(&self) -> BTreeMap<String, usize> {
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

    pub fn assert_exactly_once(&self) {
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

    /// What has arrived so far arrived once and was expected (more may be on its way).
    pub fn assert_exactly_once_so_far(&self) {
        let received = self.received();
        let duplicated = received.values().filter(|n| **n > 1).count();
        let unexpected = received
            .keys()
            .filter(|id| !self.expected.contains_key(*id))
            .count();
        assert!(
            duplicated == 0 && unexpected == 0,
            "{} rows so far: {duplicated} duplicated, {unexpected} unexpected",
            received.len()
        );
    }

    /// One line for the fault matrix (`cargo test --test lambda_e2e -- --nocapture`).
    pub fn report(&self) {
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

    pub async fn dead_letter_files(&self) -> Vec<String> {
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
pub struct Function {
    pub child: Child,
    pub api: RuntimeApi,
}

impl Function {
    pub async fn start(env: &HashMap<String, String>) -> Function {
        let (api, addr) = RuntimeApi::start().await;
        let child = spawn_bootstrap(env, addr);
        Function { child, api }
    }

    /// Like [`Function::start`], with everything the function prints (stdout and stderr)
    /// written to `log`, for tests that read its log lines.
    pub async fn start_logging(env: &HashMap<String, String>, log: &std::path::Path) -> Function {
        let (api, addr) = RuntimeApi::start().await;
        let file = std::fs::File::create(log).expect("creating the log file");
        let child = bootstrap_command(env, addr)
            .stdout(file.try_clone().expect("cloning the log file handle"))
            .stderr(file)
            .spawn()
            .expect("spawning bootstrap");
        Function { child, api }
    }

    /// Waits until the function asks for its first invocation (its cold start is done).
    pub async fn wait_ready(&self, timeout: Duration) {
        let until = std::time::Instant::now() + timeout;
        while self.api.next_polls() == 0 {
            assert!(
                std::time::Instant::now() < until,
                "no Runtime API poll after {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    pub async fn invoke(&self, payload: &Value, timeout: Duration) -> Outcome {
        self.api.invoke(payload, timeout).await
    }

    /// The process's peak resident memory so far (VmHWM), in MiB.
    pub fn peak_rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("reading the function's /proc status");
        let kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in /proc status");
        kib / 1024.0
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn spawn_bootstrap(env: &HashMap<String, String>, runtime_api: SocketAddr) -> Child {
    bootstrap_command(env, runtime_api)
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

/// The `bootstrap` command with the Lambda environment, output not yet directed.
pub fn bootstrap_command(env: &HashMap<String, String>, runtime_api: SocketAddr) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bootstrap"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "s3-sentinel-test")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/s3-sentinel-test")
        // A test may set its own memory size (and so vCPUs).
        .envs(env);
    command
}

pub const LONG: Duration = Duration::from_secs(120);

pub fn assert_ok(outcome: &Outcome) -> &Value {
    match outcome {
        Outcome::Response(v) => v,
        Outcome::Error(e) => panic!("invocation failed: {e}"),
    }
}

//! Backfill of objects already in S3, through the same function: S3 Batch Operations
//! invocations answered per task, and `s3-sentinel backfill` listing by date partition and
//! feeding the function's queue. Real parts only: the `bootstrap` binary, moto's S3 and SQS,
//! the Logs Ingestion emulator; rows are counted by RecordId.

use std::collections::BTreeSet;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use chrono::NaiveDate;
use futures::StreamExt;

use crate::common::function::*;
use s3_sentinel_connector::{EmulatorOptions, Fault, FaultPlan};
use serde_json::{Value, json};

/// A CloudTrail object whose events have no `eventTime`: delivered with the key's time.
fn cloudtrail_without_event_time(n: usize, seed: usize) -> Vec<u8> {
    let mut doc: Value = serde_json::from_slice(&cloudtrail_json(n, seed)).unwrap();
    for event in doc["Records"].as_array_mut().unwrap() {
        event.as_object_mut().unwrap().remove("eventTime");
    }
    serde_json::to_vec(&doc).unwrap()
}

pub(crate) fn batch_task(id: &str, bucket: &str, key: &str, schema: &str) -> Value {
    let bucket_member = if schema == "1.0" {
        json!({"s3BucketArn": format!("arn:aws:s3:::{bucket}")})
    } else {
        json!({"s3Bucket": bucket})
    };
    let mut task = json!({"taskId": id, "s3Key": url_encode_key(key), "s3VersionId": null});
    task.as_object_mut()
        .unwrap()
        .extend(bucket_member.as_object().unwrap().clone());
    task
}

fn batch_invocation(schema: &str, tasks: Vec<Value>) -> Value {
    let mut job = json!({"id": "job-backfill"});
    if schema == "2.0" {
        job["userArguments"] = json!({"purpose": "backfill"});
    }
    json!({"invocationSchemaVersion": schema, "invocationId": format!("inv-{schema}"),
           "job": job, "tasks": tasks})
}

/// (taskId, resultCode, resultString) of a Batch Operations answer.
pub(crate) fn results(answer: &Value) -> Vec<(String, String, String)> {
    answer["results"]
        .as_array()
        .expect("results[]")
        .iter()
        .map(|r| {
            (
                r["taskId"].as_str().unwrap().to_string(),
                r["resultCode"].as_str().unwrap().to_string(),
                r["resultString"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn batch_operations_tasks_get_their_result_codes_and_a_retry_completes_them() {
    let mut h = Harness::new(EmulatorOptions::default()).await;
    let notified = cloudtrail_key("Notified");
    h.put(&notified, &cloudtrail_json(40, 1)).await;
    let digest = format!(
        "AWSLogs/{ACCOUNT}/CloudTrail-Digest/us-east-1/2026/11/20/{ACCOUNT}_CloudTrail-Digest_us-east-1_t_us-east-1_20261120T1000Z.json.gz"
    );
    h.put_object(
        &h.logs.clone(),
        &digest,
        gzip(br#"{"awsAccountId":"1","digestStartTime":"2026-11-20T09:00:00Z","logFiles":[]}"#),
    )
    .await;
    let corrupt = cloudtrail_key("Corrupt");
    let whole = gzip(&cloudtrail_json(300, 2));
    let (records_before_damage, _) = h.put_raw(&corrupt, whole[..whole.len() / 2].to_vec()).await;
    assert!(records_before_damage > 0);
    let big = cloudtrail_key("Big");
    let big_body = cloudtrail_json(6_000, 3);
    let big_ids: BTreeSet<String> = expected_ids(&h.logs, &big, &gzip(&big_body))
        .into_iter()
        .collect();
    h.put(&big, &big_body).await;
    let untimed = cloudtrail_key("Untimed");
    h.put(&untimed, &cloudtrail_without_event_time(25, 4)).await;
    let mut small = Vec::new();
    for i in 0..94 {
        let key = cloudtrail_key(&format!("Small{i}"));
        h.put(&key, &cloudtrail_json(12, 10 + i)).await;
        small.push(key);
    }

    let mut env = h.env();
    env.insert("S3_SENTINEL_BATCH_RECORDS".into(), "500".into());
    env.insert("S3_SENTINEL_SAFETY_MARGIN_SECONDS".into(), "1".into());
    env.insert("LOG_BUCKETS".into(), h.logs.clone());
    let function = Function::start(&env).await;
    // One object arrived the usual way first: the job must not send it again.
    assert_ok(&function.invoke(&s3_event(&h.logs, &notified), LONG).await);

    let mut keys = vec![
        format!("AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2026/11/20/deleted-since.json.gz"),
        digest,
        corrupt,
        notified,
        big,
        untimed,
    ];
    keys.extend(small);
    assert_eq!(keys.len(), 100);
    let tasks: Vec<Value> = keys
        .iter()
        .enumerate()
        .map(|(i, key)| batch_task(&format!("t{i}"), &h.logs, key, "1.0"))
        .collect();
    // Sentinel answers 503 three times, then slowly: the deadline falls inside the big
    // object, after some of its batches were accepted.
    h.faults(FaultPlan {
        sequence: vec![Fault::Status { status: 503 }; 3],
        latency_ms: Some(400),
        ..FaultPlan::default()
    });
    let first = assert_ok(
        &function
            .invoke(
                &batch_invocation("1.0", tasks.clone()),
                Duration::from_secs(6),
            )
            .await,
    )
    .clone();
    assert_eq!(first["invocationSchemaVersion"], "1.0");
    assert_eq!(first["invocationId"], "inv-1.0");
    let first = results(&first);
    assert_eq!(first.len(), 100, "one result per task");
    let code = |i: usize| first[i].1.as_str();
    let reason = |i: usize| first[i].2.as_str();
    assert_eq!(code(0), "PermanentFailure");
    assert!(reason(0).contains("no such key"), "{}", reason(0));
    assert_eq!(code(1), "PermanentFailure");
    assert!(reason(1).contains("not a log object"), "{}", reason(1));
    assert_eq!(code(2), "PermanentFailure");
    assert!(reason(2).contains("corrupt"), "{}", reason(2));
    assert_eq!(code(3), "Succeeded");
    assert!(reason(3).contains("already delivered"), "{}", reason(3));
    assert_eq!(code(4), "TemporaryFailure", "{}", reason(4));
    let big_received = h
        .received()
        .keys()
        .filter(|id| big_ids.contains(*id))
        .count();
    assert!(
        big_received > 0 && big_received < big_ids.len(),
        "the deadline fell inside the big object: {big_received} of {} rows",
        big_ids.len()
    );
    assert!(
        first[5..]
            .iter()
            .all(|(_, code, _)| code == "TemporaryFailure"),
        "tasks after the deadline are retried: {:?}",
        &first[5..8]
    );
    assert!(h.emulator.emulator().stats().statuses.get(&503) == Some(&3));

    // Batch Operations retries the temporary failures; schema 2.0 this time.
    h.faults(FaultPlan {
        latency_ms: Some(0),
        ..FaultPlan::default()
    });
    let retried: Vec<Value> = first
        .iter()
        .enumerate()
        .filter(|(_, (_, code, _))| code == "TemporaryFailure")
        .map(|(i, (id, ..))| batch_task(id, &h.logs, &keys[i], "2.0"))
        .collect();
    assert_eq!(retried.len(), 96);
    let second = assert_ok(
        &function
            .invoke(&batch_invocation("2.0", retried), LONG)
            .await,
    )
    .clone();
    assert_eq!(second["invocationSchemaVersion"], "2.0");
    let second = results(&second);
    assert!(
        second.iter().all(|(_, code, _)| code == "Succeeded"),
        "{:?}",
        second.iter().find(|(_, code, _)| code != "Succeeded")
    );
    h.assert_exactly_once();

    // The whole job again (a re-run of the job) sends nothing twice.
    let again = assert_ok(&function.invoke(&batch_invocation("1.0", tasks), LONG).await).clone();
    assert!(
        results(&again)[3..]
            .iter()
            .all(|(_, code, reason)| code == "Succeeded" && reason.contains("already delivered"))
    );
    h.assert_exactly_once();
    h.report();

    let untimed_rows: Vec<Value> = h
        .emulator
        .emulator()
        .rows("Custom-AWSCloudTrail")
        .into_iter()
        .filter(|r| r["SourceObject"] == format!("s3://{}/{}", h.logs, keys[5]))
        .collect();
    assert_eq!(untimed_rows.len(), 25);
    for row in untimed_rows {
        assert_eq!(
            row["TimeGenerated"], "2026-11-20T10:00:00Z",
            "the key's time"
        );
        assert_eq!(row["TimeGeneratedFrom"], "ObjectKey");
    }
}

// ---------------------------------------------------------------------------------------
// s3-sentinel backfill

/// What passed through a [`CountingProxy`].
#[derive(Default)]
struct Counts {
    /// `ListObjectsV2` calls.
    lists: AtomicU64,
    /// S3 requests of any kind (other services name theirs in `X-Amz-Target`).
    s3: AtomicU64,
    /// GetObject calls per path (`/bucket/key`).
    reads: std::sync::Mutex<std::collections::BTreeMap<String, u64>>,
}

/// An S3 endpoint in front of moto that counts the calls passing through.
struct CountingProxy {
    url: String,
    counts: Arc<Counts>,
}

impl CountingProxy {
    async fn start(target: String) -> CountingProxy {
        let counts = Arc::new(Counts::default());
        let counted = counts.clone();
        let http = reqwest::Client::new();
        let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
            let (http, target, counted) = (http.clone(), target.clone(), counted.clone());
            async move {
                let (parts, body) = request.into_parts();
                let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
                let query = parts.uri.query().unwrap_or_default();
                let is_get = parts.method == axum::http::Method::GET;
                if !parts.headers.contains_key("x-amz-target") && parts.uri.path() != "/" {
                    counted.s3.fetch_add(1, Ordering::SeqCst);
                }
                if is_get && query.split('&').any(|p| p == "list-type=2") {
                    counted.lists.fetch_add(1, Ordering::SeqCst);
                }
                if is_get && query.split('&').any(|p| p == "x-id=GetObject") {
                    *counted
                        .reads
                        .lock()
                        .unwrap()
                        .entry(parts.uri.path().to_string())
                        .or_default() += 1;
                }
                let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
                let mut forwarded = http.request(parts.method.clone(), format!("{target}{path}"));
                for (name, value) in &parts.headers {
                    if name != axum::http::header::HOST
                        && name != axum::http::header::CONTENT_LENGTH
                    {
                        forwarded = forwarded.header(name, value);
                    }
                }
                let answer = forwarded.body(body).send().await.unwrap();
                let mut response = axum::response::Response::builder().status(answer.status());
                for (name, value) in answer.headers() {
                    if name != axum::http::header::TRANSFER_ENCODING
                        && name != axum::http::header::CONTENT_LENGTH
                    {
                        response = response.header(name, value);
                    }
                }
                response
                    .body(axum::body::Body::from(answer.bytes().await.unwrap()))
                    .unwrap()
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        CountingProxy { url, counts }
    }

    fn lists(&self) -> u64 {
        self.counts.lists.load(Ordering::SeqCst)
    }

    fn s3_requests(&self) -> u64 {
        self.counts.s3.load(Ordering::SeqCst)
    }

    /// GetObject calls of `bucket`'s `key`.
    fn reads(&self, bucket: &str, key: &str) -> u64 {
        let reads = self.counts.reads.lock().unwrap();
        reads.get(&format!("/{bucket}/{key}")).copied().unwrap_or(0)
    }
}

/// `s3-sentinel backfill ARGS` against S3 and SQS at `endpoint`.
fn backfill_command(endpoint: &str, args: &[&str]) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_s3-sentinel"));
    command
        .arg("backfill")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

fn finished(child: std::process::Child) -> String {
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "backfill failed: {stderr}");
    stderr
}

/// The first day of the 90 days of keys.
fn first_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 8, 23).unwrap()
}

/// Objects of the backfill through the queue. Every one costs about ten requests to moto
/// on delivery, and moto's latency, not the connector, set the pace: 2,000 took six
/// minutes of a loaded machine. Both services still have objects in every odd day's
/// partition and several in each day, so the listing, the interruption half way and the
/// rerun check the same things.
const QUEUED_OBJECTS: usize = 600;

/// [`QUEUED_OBJECTS`] small objects over 90 days of partitions, in two services; returns
/// the keys.
async fn ninety_days_of_objects(h: &mut Harness) -> Vec<String> {
    let mut bodies = Vec::new();
    for i in 0..QUEUED_OBJECTS {
        let day = first_day() + chrono::Duration::days((i % 90) as i64);
        let stamp = format!("{}T{:02}{:02}Z", day.format("%Y%m%d"), i % 24, i % 60);
        let folder = day.format("%Y/%m/%d");
        let (key, plain) = if i % 4 == 3 {
            let lines = String::from_utf8(vpc_flow_lines(3))
                .unwrap()
                .replace("eni-0a1b2c3d4e5f", &format!("eni-{i:011x}"));
            (
                format!(
                    "AWSLogs/{ACCOUNT}/vpcflowlogs/us-east-1/{folder}/{ACCOUNT}_vpcflowlogs_us-east-1_fl-0123456789abcdef0_{stamp}_{i:08x}.log.gz"
                ),
                lines.into_bytes(),
            )
        } else {
            (
                format!(
                    "AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/{folder}/{ACCOUNT}_CloudTrail_us-east-1_{stamp}_{i:016}.json.gz"
                ),
                cloudtrail_json(3, i),
            )
        };
        let body = gzip(&plain);
        for id in expected_ids(&h.logs, &key, &body) {
            *h.expected.entry(id).or_default() += 1;
        }
        bodies.push((key, body));
    }
    let keys = bodies.iter().map(|(key, _)| key.clone()).collect();
    let s3 = h.s3.clone();
    let bucket = h.logs.clone();
    futures::stream::iter(bodies)
        .for_each_concurrent(16, |(key, body)| {
            let (s3, bucket) = (s3.clone(), bucket.clone());
            async move {
                s3.put_object()
                    .bucket(&bucket)
                    .key(&key)
                    .body(aws_sdk_s3::primitives::ByteStream::from(body))
                    .send()
                    .await
                    .unwrap();
            }
        })
        .await;
    keys
}

/// Lambda's SQS event source: receives from the queue, invokes the function with what it
/// got, deletes what the function did not return as `batchItemFailures`. Runs until
/// `stop` is set and the queue is empty; returns the invocations made.
async fn event_source(
    sqs: aws_sdk_sqs::Client,
    queue: String,
    function: Arc<Function>,
    stop: Arc<AtomicBool>,
) -> u64 {
    let mut invocations = 0;
    loop {
        let received = sqs
            .receive_message()
            .queue_url(&queue)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        let messages = received.messages();
        if messages.is_empty() {
            if stop.load(Ordering::SeqCst) && queue_is_empty(&sqs, &queue).await {
                return invocations;
            }
            continue;
        }
        let bodies: Vec<(String, Value)> = messages
            .iter()
            .map(|m| {
                (
                    m.message_id().unwrap().to_string(),
                    serde_json::from_str(m.body().unwrap()).unwrap(),
                )
            })
            .collect();
        let answer = assert_ok(&function.invoke(&sqs_event(&bodies), LONG).await).clone();
        invocations += 1;
        let failed: Vec<&str> = answer["batchItemFailures"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["itemIdentifier"].as_str().unwrap())
            .collect();
        let done: Vec<_> = messages
            .iter()
            .filter(|m| !failed.contains(&m.message_id().unwrap()))
            .map(|m| {
                aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                    .id(m.message_id().unwrap())
                    .receipt_handle(m.receipt_handle().unwrap())
                    .build()
                    .unwrap()
            })
            .collect();
        if !done.is_empty() {
            sqs.delete_message_batch()
                .queue_url(&queue)
                .set_entries(Some(done))
                .send()
                .await
                .unwrap();
        }
    }
}

async fn queue_is_empty(sqs: &aws_sdk_sqs::Client, queue: &str) -> bool {
    use aws_sdk_sqs::types::QueueAttributeName;
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(queue)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .unwrap();
    attributes
        .attributes()
        .unwrap()
        .values()
        .all(|count| count == "0")
}

/// Runs the event source, one poller per function (Lambda scales out the same way),
/// until `work` is done and the queue drained; returns the invocations made.
async fn with_event_source<T>(
    sqs: &aws_sdk_sqs::Client,
    queue: &str,
    functions: &[Arc<Function>],
    work: impl Future<Output = T>,
) -> (T, u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let pollers: Vec<_> = functions
        .iter()
        .map(|function| {
            tokio::spawn(event_source(
                sqs.clone(),
                queue.to_string(),
                function.clone(),
                stop.clone(),
            ))
        })
        .collect();
    let result = work.await;
    stop.store(true, Ordering::SeqCst);
    let mut invocations = 0;
    for poller in pollers {
        invocations += poller.await.unwrap();
    }
    (result, invocations)
}

/// A fresh queue on moto, with a client for it.
async fn moto_queue(name: &str) -> (aws_sdk_sqs::Client, String) {
    let sqs = aws_sdk_sqs::Client::new(&crate::common::moto_config().await);
    let queue = sqs
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_string();
    (sqs, queue)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn backfill_through_the_queue_is_exactly_once_across_an_interruption_and_a_rerun() {
    let started = std::time::Instant::now();
    let mut h = Harness::new(EmulatorOptions::default()).await;
    let keys = ninety_days_of_objects(&mut h).await;
    let (sqs, queue) = moto_queue(&format!("backfill-{}", h.logs)).await;
    let proxy = CountingProxy::start(h.moto.clone()).await;
    // The functions' S3 calls pass the proxy too, to be counted.
    let mut env = h.env();
    env.insert("AWS_ENDPOINT_URL".into(), proxy.url.clone());
    let mut functions = Vec::new();
    for _ in 0..2 {
        functions.push(Arc::new(Function::start(&env).await));
    }
    let function = &functions[0];
    eprintln!("setup {:.1}s", started.elapsed().as_secs_f64());

    // One in fifty objects arrived the usual way: notifications, delivered before the
    // backfill.
    let notified: Vec<(String, Value)> = keys
        .iter()
        .step_by(50)
        .enumerate()
        .map(|(i, key)| (format!("n-{i}"), s3_event(&h.logs, key)))
        .collect();
    for chunk in notified.chunks(10) {
        let answer = assert_ok(&function.invoke(&sqs_event(chunk), LONG).await).clone();
        assert_eq!(answer["batchItemFailures"], json!([]));
    }

    // Listing cost: 30 days of 90 list 30 day partitions per service, plus the walk down
    // to them (AWSLogs/, the account, each service and its region).
    let manifest = tempfile::tempdir().unwrap();
    let manifest_path = manifest.path().join("manifest.csv");
    let since = (first_day() + chrono::Duration::days(30)).to_string();
    let until = (first_day() + chrono::Duration::days(59)).to_string();
    let before = proxy.lists();
    let uri = format!("s3://{}/AWSLogs/", h.logs);
    finished(
        backfill_command(
            &proxy.url,
            &[
                &uri,
                "--since",
                &since,
                "--until",
                &until,
                "--manifest",
                manifest_path.to_str().unwrap(),
            ],
        )
        .spawn()
        .unwrap(),
    );
    assert_eq!(
        proxy.lists() - before,
        2 + 2 * (2 + 30),
        "ListObjectsV2 calls"
    );
    let listed = std::fs::read_to_string(&manifest_path).unwrap();
    let in_range = keys
        .iter()
        .enumerate()
        .filter(|(i, _)| (30..60).contains(&(i % 90)))
        .count();
    assert_eq!(listed.lines().count(), in_range);
    assert!(
        listed
            .lines()
            .all(|line| line.starts_with(&format!("{},AWSLogs/", h.logs)))
    );

    // A dry run and a local run of one day: nothing is sent, the day's rows are written.
    let dry = backfill_command(
        &proxy.url,
        &[
            &uri,
            "--since",
            &since,
            "--until",
            &since,
            "--dry-run",
            "--sample",
            "1",
        ],
    )
    .spawn()
    .unwrap()
    .wait_with_output()
    .unwrap();
    let report = String::from_utf8_lossy(&dry.stdout);
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    assert!(
        report.contains("cloudtrail") && report.contains("Sentinel ingestion about"),
        "{report}"
    );
    let rows = manifest.path().join("day.ndjson");
    finished(
        backfill_command(
            &proxy.url,
            &[
                &uri,
                "--since",
                &since,
                "--until",
                &since,
                "-o",
                rows.to_str().unwrap(),
            ],
        )
        .spawn()
        .unwrap(),
    );
    let day = keys
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 90 == 30)
        .count();
    assert_eq!(
        std::fs::read_to_string(&rows).unwrap().lines().count(),
        3 * day
    );

    // Through the queue, interrupted half way, resumed, then run again in full.
    let cursor = manifest.path().join("cursor.json");
    let since = first_day().to_string();
    let until = (first_day() + chrono::Duration::days(89)).to_string();
    let queue_args = [
        uri.as_str(),
        "--since",
        &since,
        "--until",
        &until,
        "--queue",
        &queue,
        // Paced near what two functions take, as --rate is meant to be used: moto's SQS
        // recounts the whole queue on every send and receive, so a queue two thousand
        // deep made the test quadratic (two thirds of moto's time, by py-spy).
        "--rate",
        "30",
        "--cursor",
        cursor.to_str().unwrap(),
    ];
    let s3_before = proxy.s3_requests();
    let (resumed, invocations) = with_event_source(&sqs, &queue, &functions, async {
        let mut first = backfill_command(&proxy.url, &queue_args).spawn().unwrap();
        loop {
            let sent = std::fs::read_to_string(&cursor)
                .ok()
                .and_then(|text| serde_json::from_str::<Value>(&text).ok())
                .and_then(|c| c["objects"].as_u64())
                .unwrap_or(0);
            if sent >= QUEUED_OBJECTS as u64 / 2 {
                break;
            }
            assert!(first.try_wait().unwrap().is_none(), "killed before the end");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        first.kill().unwrap();
        first.wait().unwrap();
        finished(backfill_command(&proxy.url, &queue_args).spawn().unwrap())
    })
    .await;
    eprintln!(
        "backfill with an interruption: {invocations} invocations, {} S3 requests, {:.1}s so far",
        proxy.s3_requests() - s3_before,
        started.elapsed().as_secs_f64()
    );
    assert!(resumed.contains("resuming after"), "{resumed}");
    let sent_on_resume: u64 = resumed
        .lines()
        .find_map(|l| l.strip_prefix("sent "))
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(
        sent_on_resume <= QUEUED_OBJECTS as u64 / 2,
        "the resumed run sent only what was left: {sent_on_resume}"
    );
    assert!(!cursor.exists(), "a finished run removes its cursor");
    h.assert_exactly_once();

    // Run again, every message costs one ledger read: it may go faster.
    let mut rerun_args = queue_args;
    let rate = rerun_args.iter().position(|a| *a == "--rate").unwrap() + 1;
    rerun_args[rate] = "100";
    let s3_before = proxy.s3_requests();
    let (again, invocations) = with_event_source(&sqs, &queue, &functions, async {
        finished(backfill_command(&proxy.url, &rerun_args).spawn().unwrap())
    })
    .await;
    eprintln!(
        "the same backfill again: {invocations} invocations, {} S3 requests, {:.1}s so far",
        proxy.s3_requests() - s3_before,
        started.elapsed().as_secs_f64()
    );
    assert!(
        again.contains(&format!("sent {QUEUED_OBJECTS} objects")),
        "{again}"
    );
    h.assert_exactly_once();
    h.report();
    eprintln!("total {:.1}s", started.elapsed().as_secs_f64());
}

/// An S3 notification as S3 sends it for a versioned bucket: the version and the ETag.
fn versioned_event(bucket: &str, key: &str, version: &str, etag: &str) -> Value {
    let mut event = s3_event(bucket, key);
    let object = &mut event["Records"][0]["s3"]["object"];
    object["versionId"] = json!(version);
    object["eTag"] = json!(etag);
    event
}

/// `s3-sentinel backfill` with the function's own configuration (Sentinel, state bucket),
/// for a local run with `--sentinel`.
fn backfill_command_as_function(
    endpoint: &str,
    env: &std::collections::HashMap<String, String>,
    args: &[&str],
) -> std::process::Command {
    let mut command = backfill_command(endpoint, args);
    command.envs(env).env("AWS_ENDPOINT_URL", endpoint);
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_a_versioned_bucket_objects_notified_before_are_not_sent_again() {
    let mut h = Harness::new(EmulatorOptions::default()).await;
    h.s3.put_bucket_versioning()
        .bucket(&h.logs)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    // 24 objects over three days; every third arrives by notification first, naming its
    // version as S3 does on a versioned bucket.
    let mut objects = Vec::new();
    for i in 0..24usize {
        let day = 18 + i % 3;
        let key = format!(
            "AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2026/11/{day}/{ACCOUNT}_CloudTrail_us-east-1_202611{day}T10{:02}Z_{i:016}.json.gz",
            i % 60
        );
        let body = gzip(&cloudtrail_json(4, 300 + i));
        for id in expected_ids(&h.logs, &key, &body) {
            *h.expected.entry(id).or_default() += 1;
        }
        let put =
            h.s3.put_object()
                .bucket(&h.logs)
                .key(&key)
                .body(aws_sdk_s3::primitives::ByteStream::from(body))
                .send()
                .await
                .unwrap();
        let version = put.version_id().expect("a version id").to_string();
        let etag = put.e_tag().unwrap().trim_matches('"').to_string();
        objects.push((key, version, etag));
    }
    let proxy = CountingProxy::start(h.moto.clone()).await;
    let mut env = h.env();
    env.insert("AWS_ENDPOINT_URL".into(), proxy.url.clone());
    let function = Arc::new(Function::start(&env).await);
    let notified: Vec<(String, Value)> = objects
        .iter()
        .step_by(3)
        .map(|(key, version, etag)| (key.clone(), versioned_event(&h.logs, key, version, etag)))
        .collect();
    for chunk in notified.chunks(10) {
        let answer = assert_ok(&function.invoke(&sqs_event(chunk), LONG).await).clone();
        assert_eq!(answer["batchItemFailures"], json!([]));
    }
    // The first notified object is then overwritten: its new version is new to the ledger,
    // its first version must not come back.
    let overwritten = objects[0].0.clone();
    let newer = gzip(&cloudtrail_json(3, 400));
    for id in expected_ids(&h.logs, &overwritten, &newer) {
        *h.expected.entry(id).or_default() += 1;
    }
    h.put_object(&h.logs.clone(), &overwritten, newer).await;
    let notified_rows = h.received().len();
    let requests_after = |h: &Harness| h.emulator.emulator().stats().requests;

    // Processed here, one day: what was notified is skipped without being read again.
    let uri = format!("s3://{}/AWSLogs/", h.logs);
    let local = finished(
        backfill_command_as_function(
            &proxy.url,
            &env,
            &[
                &uri,
                "--since",
                "2026-11-18",
                "--until",
                "2026-11-18",
                "--sentinel",
            ],
        )
        .spawn()
        .unwrap(),
    );
    assert!(local.contains("already delivered"), "{local}");
    h.assert_exactly_once_so_far();
    assert!(h.received().len() > notified_rows);

    // Through the queue, everything: only what no notification or earlier run delivered.
    let (sqs, queue) = moto_queue(&format!("versioned-{}", h.logs)).await;
    let cursor = tempfile::tempdir().unwrap();
    let cursor_path = cursor.path().join("cursor.json");
    let functions = [function.clone()];
    let (sent, _) = with_event_source(&sqs, &queue, &functions, async {
        finished(
            backfill_command(
                &proxy.url,
                &[
                    &uri,
                    "--since",
                    "2026-11-18",
                    "--until",
                    "2026-11-20",
                    "--queue",
                    &queue,
                    "--cursor",
                    cursor_path.to_str().unwrap(),
                ],
            )
            .spawn()
            .unwrap(),
        )
    })
    .await;
    assert!(sent.contains("sent 24 objects"), "{sent}");
    h.assert_exactly_once();
    let requests = requests_after(&h);

    // A Batch Operations job from the manifest (bucket, key, version): every task is
    // already delivered, and not one object is read or sent again.
    let manifest = cursor.path().join("manifest.csv");
    finished(
        backfill_command(
            &proxy.url,
            &[
                &uri,
                "--since",
                "2026-11-18",
                "--manifest",
                manifest.to_str().unwrap(),
            ],
        )
        .spawn()
        .unwrap(),
    );
    let lines = std::fs::read_to_string(&manifest).unwrap();
    let tasks: Vec<Value> = lines
        .lines()
        .enumerate()
        .map(|(i, line)| {
            let fields: Vec<&str> = line.split(',').collect();
            assert_eq!(fields.len(), 3, "bucket, key and version: {line}");
            json!({"taskId": format!("t{i}"), "s3Bucket": fields[0], "s3Key": fields[1],
                   "s3VersionId": fields[2]})
        })
        .collect();
    assert_eq!(tasks.len(), 24);
    let answer = assert_ok(
        &function
            .invoke(
                &json!({"invocationSchemaVersion": "2.0", "invocationId": "inv-v",
                        "job": {"id": "job-v"}, "tasks": tasks}),
                LONG,
            )
            .await,
    )
    .clone();
    assert!(
        results(&answer)
            .iter()
            .all(|(_, code, reason)| code == "Succeeded" && reason.contains("already delivered")),
        "{answer}"
    );
    assert_eq!(requests_after(&h), requests, "no second ingestion request");
    h.assert_exactly_once();

    // Each version was read once, by whichever path delivered it.
    for (key, ..) in &objects {
        let expected = if *key == overwritten { 2 } else { 1 };
        assert_eq!(
            proxy.reads(&h.logs, key),
            expected,
            "GetObject calls of {key}"
        );
    }
    h.report();
}

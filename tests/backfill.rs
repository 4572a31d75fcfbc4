//! Backfill of objects already in S3, through the same function: S3 Batch Operations
//! invocations answered per task, and `s3-sentinel backfill` listing by date partition and
//! feeding the function's queue. Real parts only: the `bootstrap` binary, moto's S3 and SQS,
//! the Logs Ingestion emulator; rows are counted by RecordId.

use std::collections::BTreeSet;
use std::time::Duration;

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

fn batch_task(id: &str, bucket: &str, key: &str, schema: &str) -> Value {
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
fn results(answer: &Value) -> Vec<(String, String, String)> {
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

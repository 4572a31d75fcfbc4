//! Lambda event envelopes -> the S3 objects to process.
//!
//! Accepted shapes: S3 event notifications (direct), the same wrapped in SQS, in SNS, in
//! SNS-in-SQS, EventBridge "Object Created" events (direct or in SQS), and S3 Batch
//! Operations invocations (schema 1.0 and 2.0), whose tasks are answered one by one. Parsing is
//! lenient on purpose: real senders (and local emulators such as moto) trim fields like
//! `userIdentity`, `requestParameters` or `sequencer`, and a missing field we do not need
//! must not lose the event.

use std::collections::BTreeMap;

use percent_encoding::percent_decode_str;
use serde_json::Value;

/// One object to process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    /// The bucket; empty for a local file.
    pub bucket: String,
    /// Decoded key, ready for GetObject.
    pub key: String,
    /// The object version the event names, if versioned.
    pub version_id: Option<String>,
    /// The ETag the event gives.
    pub etag: Option<String>,
    /// Size in bytes, as the event gives it.
    pub size: Option<u64>,
}

impl ObjectRef {
    /// `s3://bucket/key`; a local file (empty bucket) is named by its path, standard
    /// input (`-`) as `stdin`.
    pub fn uri(&self) -> String {
        if self.bucket.is_empty() && self.key == "-" {
            "stdin".to_string()
        } else if self.bucket.is_empty() {
            self.key.clone()
        } else {
            format!("s3://{}/{}", self.bucket, self.key)
        }
    }
}

/// What one message (a whole direct event, or one SQS message) asks for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Envelope {
    /// The objects created, in event order.
    pub objects: Vec<ObjectRef>,
    /// Notes on what was deliberately ignored (test events, non-create events).
    pub ignored: Vec<String>,
}

/// The invocation payload, split into its units of retry.
#[derive(Debug, Clone, PartialEq)]
pub enum Invocation {
    /// Direct S3, SNS or EventBridge: the whole invocation succeeds or fails.
    Direct(Envelope),
    /// SQS: each message succeeds or fails on its own (`batchItemFailures`).
    Sqs(Vec<SqsItem>),
    /// S3 Batch Operations: each task gets its own result code.
    BatchJob(BatchJob),
}

/// An S3 Batch Operations invocation (a `LambdaInvoke` job), schema 1.0 or 2.0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchJob {
    /// `invocationSchemaVersion`, answered back unchanged.
    pub schema_version: String,
    /// `invocationId`, answered back unchanged.
    pub invocation_id: String,
    /// The job's id.
    pub job_id: String,
    /// `job.userArguments` (schema 2.0).
    pub user_arguments: BTreeMap<String, String>,
    /// The tasks, in order.
    pub tasks: Vec<BatchTask>,
}

/// One task of a Batch Operations invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchTask {
    /// `taskId`, for its result.
    pub task_id: String,
    /// The object, or why the task names none (a permanent failure).
    pub object: Result<ObjectRef, String>,
}

/// One SQS message of an invocation.
#[derive(Debug, Clone, PartialEq)]
pub struct SqsItem {
    /// Its id, for `batchItemFailures`.
    pub message_id: String,
    /// `Err` when the body is not an event we understand: reported, and the message is
    /// returned to the queue (and eventually its DLQ) instead of vanishing.
    pub envelope: Result<Envelope, String>,
}

/// A payload that is no event this function understands.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unrecognized event: {0}")]
pub struct EventError(pub String);

/// URL-decodes an S3 notification key: `+` is a space, `%xx` a byte.
pub fn decode_key(raw: &str) -> String {
    let spaced = raw.replace('+', " ");
    percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}

/// Splits an invocation payload (S3, SQS, SNS or EventBridge, possibly nested) into the
/// objects it names and its units of retry.
pub fn parse_invocation(payload: &Value) -> Result<Invocation, EventError> {
    if payload.get("invocationSchemaVersion").is_some() && payload.get("tasks").is_some() {
        return parse_batch_job(payload).map(Invocation::BatchJob);
    }
    if let Some(records) = payload.get("Records").and_then(Value::as_array) {
        let is_sqs = records
            .first()
            .and_then(|r| r.get("eventSource"))
            .and_then(Value::as_str)
            == Some("aws:sqs");
        if is_sqs {
            let items = records
                .iter()
                .map(|r| {
                    let message_id = r
                        .get("messageId")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string();
                    let envelope = r
                        .get("body")
                        .and_then(Value::as_str)
                        .ok_or_else(|| "SQS message has no body".to_string())
                        .and_then(|body| {
                            serde_json::from_str::<Value>(body)
                                .map_err(|e| format!("SQS body is not JSON: {e}"))
                        })
                        .and_then(|body| parse_message(&body).map_err(|e| e.0));
                    SqsItem {
                        message_id,
                        envelope,
                    }
                })
                .collect();
            return Ok(Invocation::Sqs(items));
        }
    }
    parse_message(payload).map(Invocation::Direct)
}

/// Parses one notification (S3, SNS, EventBridge or a test event), unwrapping SNS.
pub fn parse_message(msg: &Value) -> Result<Envelope, EventError> {
    // s3:TestEvent, sent once when a notification configuration is saved.
    if msg.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(Envelope {
            objects: vec![],
            ignored: vec![format!(
                "s3:TestEvent for bucket {}",
                msg.get("Bucket").and_then(Value::as_str).unwrap_or("?")
            )],
        });
    }
    // SNS notification delivered to SQS (raw message delivery off).
    if msg.get("Type").and_then(Value::as_str) == Some("Notification") {
        return unwrap_sns_message(msg.get("Message"));
    }
    // EventBridge.
    if msg.get("detail-type").is_some() {
        return parse_eventbridge(msg);
    }
    let Some(records) = msg.get("Records").and_then(Value::as_array) else {
        return Err(EventError(describe(msg)));
    };
    let mut envelope = Envelope::default();
    for record in records {
        // SNS invoking Lambda directly.
        if let Some(sns) = record.get("Sns") {
            let inner = unwrap_sns_message(sns.get("Message"))?;
            envelope.objects.extend(inner.objects);
            envelope.ignored.extend(inner.ignored);
            continue;
        }
        let source = record.get("eventSource").and_then(Value::as_str);
        if source != Some("aws:s3") {
            return Err(EventError(format!(
                "record with eventSource {:?} is not an S3 notification",
                source.unwrap_or("<missing>")
            )));
        }
        let name = record
            .get("eventName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !name.starts_with("ObjectCreated") {
            envelope
                .ignored
                .push(format!("S3 event {name} is not an object creation"));
            continue;
        }
        let (bucket, object, key) = bucket_and_object(record, "s3", "S3 record")?;
        envelope.objects.push(ObjectRef {
            bucket: bucket.to_string(),
            key: decode_key(key),
            version_id: str_field(object, "versionId"),
            etag: str_field(object, "eTag").or_else(|| str_field(object, "etag")),
            size: object.get("size").and_then(Value::as_u64),
        });
    }
    Ok(envelope)
}

/// A Batch Operations invocation: keys arrive URL-encoded (as in the CSV manifest), the
/// bucket as an ARN in schema 1.0 and as a name in 2.0.
fn parse_batch_job(payload: &Value) -> Result<BatchJob, EventError> {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_string();
    let schema_version = text(payload.get("invocationSchemaVersion"));
    if !matches!(schema_version.as_str(), "1.0" | "2.0") {
        return Err(EventError(format!(
            "S3 Batch Operations invocation schema {schema_version:?} (1.0 and 2.0 are understood)"
        )));
    }
    let tasks = payload
        .get("tasks")
        .and_then(Value::as_array)
        .ok_or_else(|| EventError("S3 Batch Operations invocation without tasks[]".into()))?;
    let user_arguments = payload
        .pointer("/job/userArguments")
        .and_then(Value::as_object)
        .map(|args| {
            args.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str().map_or_else(|| v.to_string(), str::to_string),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(BatchJob {
        invocation_id: text(payload.get("invocationId")),
        job_id: text(payload.pointer("/job/id")),
        user_arguments,
        tasks: tasks.iter().map(batch_task).collect(),
        schema_version,
    })
}

fn batch_task(task: &Value) -> BatchTask {
    let task_id = str_field(task, "taskId").unwrap_or_default();
    let bucket = str_field(task, "s3Bucket").or_else(|| {
        str_field(task, "s3BucketArn").map(|arn| {
            arn.strip_prefix("arn:aws:s3:::")
                .or_else(|| arn.rsplit(":::").next())
                .unwrap_or(&arn)
                .to_string()
        })
    });
    let key = str_field(task, "s3Key");
    let object = match (bucket, key) {
        (Some(bucket), Some(key)) => Ok(ObjectRef {
            bucket,
            key: decode_key(&key),
            version_id: str_field(task, "s3VersionId"),
            etag: None,
            size: None,
        }),
        _ => Err("task without s3Key and s3Bucket (or s3BucketArn)".to_string()),
    };
    BatchTask { task_id, object }
}

fn unwrap_sns_message(message: Option<&Value>) -> Result<Envelope, EventError> {
    let text = message
        .and_then(Value::as_str)
        .ok_or_else(|| EventError("SNS notification without a Message string".into()))?;
    let inner: Value = serde_json::from_str(text)
        .map_err(|e| EventError(format!("SNS Message is not JSON: {e}")))?;
    parse_message(&inner)
}

fn parse_eventbridge(msg: &Value) -> Result<Envelope, EventError> {
    let detail_type = msg
        .get("detail-type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let source = msg
        .get("source")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if source != "aws.s3" {
        return Err(EventError(format!(
            "EventBridge event from {source:?} is not from aws.s3"
        )));
    }
    if detail_type != "Object Created" {
        return Ok(Envelope {
            objects: vec![],
            ignored: vec![format!(
                "EventBridge {detail_type} is not an object creation"
            )],
        });
    }
    // EventBridge carries the key as stored (not URL-encoded, unlike S3 notifications).
    let (bucket, object, key) = bucket_and_object(msg, "detail", "EventBridge event")?;
    Ok(Envelope {
        objects: vec![ObjectRef {
            bucket: bucket.to_string(),
            key: key.to_string(),
            version_id: str_field(object, "version-id"),
            etag: str_field(object, "etag"),
            size: object.get("size").and_then(Value::as_u64),
        }],
        ignored: vec![],
    })
}

/// The bucket name, the `object` member and its key under `event`'s `member` (`s3` of an
/// S3 notification record, `detail` of an EventBridge event); what is missing is an
/// error of `what` the event is.
fn bucket_and_object<'v>(
    event: &'v Value,
    member: &str,
    what: &str,
) -> Result<(&'v str, &'v Value, &'v str), EventError> {
    let missing = |path: String| EventError(format!("{what} without {path}"));
    let inner = event
        .get(member)
        .ok_or_else(|| missing(member.to_string()))?;
    let bucket = inner
        .pointer("/bucket/name")
        .and_then(Value::as_str)
        .ok_or_else(|| missing(format!("{member}.bucket.name")))?;
    let object = inner
        .get("object")
        .ok_or_else(|| missing(format!("{member}.object")))?;
    let key = object
        .get("key")
        .and_then(Value::as_str)
        .ok_or_else(|| missing(format!("{member}.object.key")))?;
    Ok((bucket, object, key))
}

fn str_field(v: &Value, name: &str) -> Option<String> {
    v.get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_matches('"').to_string())
}

fn describe(v: &Value) -> String {
    match v {
        Value::Object(map) => {
            let keys: Vec<_> = map.keys().take(8).map(String::as_str).collect();
            format!("an object with keys [{}]", keys.join(", "))
        }
        other => format!("a JSON {}", kind(other)),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn s3_event(key: &str) -> Value {
        // As moto sends it: no userIdentity, requestParameters, responseElements, sequencer.
        json!({"Records": [{
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventTime": "2026-11-20T10:00:00.000Z", "eventName": "ObjectCreated:Put",
            "s3": {"s3SchemaVersion": "1.0", "configurationId": "c",
                   "bucket": {"name": "logs", "arn": "arn:aws:s3:::logs"},
                   "object": {"key": key, "size": 12, "eTag": "abc"}}
        }]})
    }

    #[test]
    fn direct_s3_event_with_trimmed_fields_and_encoded_key() {
        let inv = parse_invocation(&s3_event("AWSLogs/a+b/c%3Ad%2Be.json.gz")).unwrap();
        let Invocation::Direct(env) = inv else {
            panic!("expected direct")
        };
        assert_eq!(
            env.objects,
            vec![ObjectRef {
                bucket: "logs".into(),
                key: "AWSLogs/a b/c:d+e.json.gz".into(),
                version_id: None,
                etag: Some("abc".into()),
                size: Some(12),
            }]
        );
    }

    #[test]
    fn sqs_wrapping_s3_sns_eventbridge_and_test_events() {
        let sns = json!({"Type": "Notification", "MessageId": "m",
            "Message": s3_event("k2").to_string()});
        let eb = json!({"version": "0", "detail-type": "Object Created", "source": "aws.s3",
            "detail": {"bucket": {"name": "b3"}, "object": {"key": "x y:z", "etag": "e"}}});
        let test = json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "logs"});
        let payload = json!({"Records": [
            {"messageId": "1", "eventSource": "aws:sqs", "body": s3_event("k1").to_string()},
            {"messageId": "2", "eventSource": "aws:sqs", "body": sns.to_string()},
            {"messageId": "3", "eventSource": "aws:sqs", "body": eb.to_string()},
            {"messageId": "4", "eventSource": "aws:sqs", "body": test.to_string()},
            {"messageId": "5", "eventSource": "aws:sqs", "body": "not json"},
        ]});
        let Invocation::Sqs(items) = parse_invocation(&payload).unwrap() else {
            panic!("expected sqs")
        };
        assert_eq!(items.len(), 5);
        assert_eq!(items[0].envelope.as_ref().unwrap().objects[0].key, "k1");
        assert_eq!(items[1].envelope.as_ref().unwrap().objects[0].key, "k2");
        let eb_obj = &items[2].envelope.as_ref().unwrap().objects[0];
        assert_eq!(
            (eb_obj.bucket.as_str(), eb_obj.key.as_str()),
            ("b3", "x y:z")
        );
        let test_env = items[3].envelope.as_ref().unwrap();
        assert!(test_env.objects.is_empty());
        assert!(test_env.ignored[0].contains("TestEvent"));
        assert!(items[4].envelope.is_err());
    }

    #[test]
    fn sns_direct_invocation() {
        let payload = json!({"Records": [{"EventSource": "aws:sns",
            "Sns": {"Type": "Notification", "Message": s3_event("k").to_string()}}]});
        let Invocation::Direct(env) = parse_invocation(&payload).unwrap() else {
            panic!()
        };
        assert_eq!(env.objects[0].key, "k");
    }

    #[test]
    fn batch_operations_schema_1_and_2() {
        let v1 = json!({"invocationSchemaVersion": "1.0", "invocationId": "inv-1",
            "job": {"id": "job-1"},
            "tasks": [{"taskId": "t1", "s3Key": "AWSLogs/a+b/c%3Ad.json.gz", "s3VersionId": null,
                       "s3BucketArn": "arn:aws:s3:::logs"},
                      {"taskId": "t2"}]});
        let Invocation::BatchJob(job) = parse_invocation(&v1).unwrap() else {
            panic!("expected a batch job")
        };
        assert_eq!(
            (job.invocation_id.as_str(), job.job_id.as_str()),
            ("inv-1", "job-1")
        );
        let first = job.tasks[0].object.as_ref().unwrap();
        assert_eq!(
            (first.bucket.as_str(), first.key.as_str()),
            ("logs", "AWSLogs/a b/c:d.json.gz")
        );
        assert_eq!(first.version_id, None);
        assert!(job.tasks[1].object.is_err());

        let v2 = json!({"invocationSchemaVersion": "2.0", "invocationId": "inv-2",
            "job": {"id": "job-2", "userArguments": {"reason": "backfill"}},
            "tasks": [{"taskId": "t1", "s3Key": "k", "s3VersionId": "v7", "s3Bucket": "logs"}]});
        let Invocation::BatchJob(job) = parse_invocation(&v2).unwrap() else {
            panic!("expected a batch job")
        };
        assert_eq!(job.user_arguments["reason"], "backfill");
        let task = job.tasks[0].object.as_ref().unwrap();
        assert_eq!(
            (task.bucket.as_str(), task.version_id.as_deref()),
            ("logs", Some("v7"))
        );

        let v3 = json!({"invocationSchemaVersion": "3.0", "tasks": []});
        assert!(parse_invocation(&v3).unwrap_err().0.contains("3.0"));
    }

    #[test]
    fn unknown_payload_is_a_clear_error() {
        let err = parse_invocation(&json!({"hello": 1})).unwrap_err();
        assert!(err.0.contains("hello"), "{err}");
        let mut removed = s3_event("k");
        removed["Records"][0]["eventName"] = json!("ObjectRemoved:Delete");
        let Invocation::Direct(env) = parse_invocation(&removed).unwrap() else {
            panic!()
        };
        assert!(env.objects.is_empty());
        assert_eq!(env.ignored.len(), 1);
    }
}

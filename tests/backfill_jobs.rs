//! What an S3 Batch Operations job asks of the function beyond its tasks: `userArguments`
//! (a format for objects that do not show theirs, a dry run), and the answer for a key the
//! function may not read (moto enforcing an IAM policy with an explicit Deny). The real
//! `bootstrap`, moto and the Logs Ingestion emulator.

use s3_sentinel_connector::{EmulatorOptions, Table};
use serde_json::{Value, json};

use crate::backfill::{batch_task, results};
use crate::common::function::*;

fn job_with_arguments(tasks: Vec<Value>, arguments: Value) -> Value {
    json!({"invocationSchemaVersion": "2.0", "invocationId": "inv-args",
           "job": {"id": "job-args", "userArguments": arguments}, "tasks": tasks})
}

/// Resolver query logs exported without their time and source address: neither the key
/// nor the first record tells what they are.
fn redacted_dns_queries(n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| {
            format!(
                "{{\"query_name\":\"host{i}.example.\",\"query_type\":\"A\",\"rcode\":\"NOERROR\",\"answers\":[]}}\n"
            )
        })
        .collect::<String>()
        .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_arguments_set_the_format_and_ask_for_a_dry_run() {
    let h = Harness::new(EmulatorOptions::default()).await;
    let key = "exports/dns/part-00001.json.gz";
    h.put_object(&h.logs, key, gzip(&redacted_dns_queries(12)))
        .await;
    let missing = "exports/dns/part-00002.json.gz";
    let tasks = vec![
        batch_task("t0", &h.logs, key, "2.0"),
        batch_task("t1", &h.logs, missing, "2.0"),
    ];
    let function = Function::start(&h.env()).await;
    let route53 = Table::AwsRoute53Resolver.default_stream();

    // A dry run answers what a run would do and sends nothing.
    let dry = assert_ok(
        &function
            .invoke(
                &job_with_arguments(
                    tasks.clone(),
                    json!({"dryRun": "true", "format": "route53", "note": "q3"}),
                ),
                LONG,
            )
            .await,
    )
    .clone();
    let dry = results(&dry);
    assert_eq!(dry[0].1, "Succeeded", "{:?}", dry[0]);
    assert!(
        dry[0].2.starts_with("dry run: would deliver") && dry[0].2.ends_with("as route53resolver"),
        "{:?}",
        dry[0]
    );
    assert_eq!(dry[1].1, "PermanentFailure");
    assert!(dry[1].2.contains("no such key"), "{:?}", dry[1]);
    assert_eq!(
        h.emulator.emulator().stats().requests,
        0,
        "a dry run sends nothing"
    );

    // A format that does not exist fails every task, naming the argument.
    let wrong = assert_ok(
        &function
            .invoke(
                &job_with_arguments(tasks.clone(), json!({"format": "dnslog"})),
                LONG,
            )
            .await,
    )
    .clone();
    assert!(
        results(&wrong)
            .iter()
            .all(|(_, code, reason)| code == "PermanentFailure"
                && reason.contains("userArguments.format"))
    );

    // The job's format: the rows go to the Resolver table, not the generic one, with the
    // object's time since the records carry none.
    let run = assert_ok(
        &function
            .invoke(
                &job_with_arguments(tasks.clone(), json!({"format": "route53"})),
                LONG,
            )
            .await,
    )
    .clone();
    let run = results(&run);
    assert_eq!(run[0].1, "Succeeded", "{:?}", run[0]);
    let rows = h.emulator.emulator().rows(&route53);
    assert_eq!(rows.len(), 12);
    assert!(rows.iter().all(|r| {
        r["TimeGeneratedFrom"] == "ObjectLastModified"
            && r["QueryName"]
                .as_str()
                .is_some_and(|q| q.starts_with("host"))
    }));
    let generic = Table::S3SentinelLogs.default_stream();
    assert!(h.emulator.emulator().rows(&generic).is_empty());

    // Without the argument the same object would have been generic JSON; delivered, a
    // dry run now says it would be skipped.
    let again = assert_ok(
        &function
            .invoke(&job_with_arguments(tasks, json!({"dryRun": "true"})), LONG)
            .await,
    )
    .clone();
    let again = results(&again);
    assert!(again[0].2.contains("already delivered"), "{:?}", again[0]);
    assert_eq!(h.emulator.emulator().rows(&route53).len(), 12);
}

/// One IAM Query API call to moto (its setup calls are not checked, but are routed by the
/// service their credential scope names).
async fn iam(endpoint: &str, params: &[(&str, &str)]) -> String {
    let answer = reqwest::Client::new()
        .post(endpoint)
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20261207/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0",
        )
        .form(&[params, &[("Version", "2010-05-08")]].concat())
        .send()
        .await
        .unwrap();
    let status = answer.status();
    let text = answer.text().await.unwrap();
    assert!(status.is_success(), "IAM {params:?}: {status} {text}");
    text
}

fn xml_member<'a>(xml: &'a str, name: &str) -> &'a str {
    let open = format!("<{name}>");
    let start = xml
        .find(&open)
        .unwrap_or_else(|| panic!("no {name} in {xml}"))
        + open.len();
    let end = start + xml[start..].find('<').unwrap();
    &xml[start..end]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_the_function_may_not_read_fails_permanently_and_the_rest_succeed() {
    // IAM enforcement is server-wide: this test has a moto of its own.
    let moto = crate::common::OwnMoto::start();
    let mut h = Harness::at(&moto.endpoint, EmulatorOptions::default()).await;
    let keys: Vec<String> = (0..3)
        .map(|i| cloudtrail_key(&format!("Policy{i}")))
        .collect();
    for (i, key) in keys.iter().enumerate() {
        if i == 1 {
            h.put_object(&h.logs.clone(), key, gzip(&cloudtrail_json(5, 90)))
                .await;
        } else {
            h.put(key, &cloudtrail_json(5, 91 + i)).await;
        }
    }
    // The function's identity may do anything but read the one key (an explicit Deny, as
    // a bucket owner restricting a prefix would write).
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:GetObject",
         "Resource": format!("arn:aws:s3:::{}/{}", h.logs, keys[1])}
    ]})
    .to_string();
    iam(
        &moto.endpoint,
        &[("Action", "CreateUser"), ("UserName", "connector")],
    )
    .await;
    iam(
        &moto.endpoint,
        &[
            ("Action", "PutUserPolicy"),
            ("UserName", "connector"),
            ("PolicyName", "logs"),
            ("PolicyDocument", &policy),
        ],
    )
    .await;
    let created = iam(
        &moto.endpoint,
        &[("Action", "CreateAccessKey"), ("UserName", "connector")],
    )
    .await;
    let mut env = h.env();
    env.insert(
        "AWS_ACCESS_KEY_ID".into(),
        xml_member(&created, "AccessKeyId").to_string(),
    );
    env.insert(
        "AWS_SECRET_ACCESS_KEY".into(),
        xml_member(&created, "SecretAccessKey").to_string(),
    );
    // From here on moto checks every request against IAM.
    let enforced = reqwest::Client::new()
        .post(format!("{}/moto-api/reset-auth", moto.endpoint))
        .body("0")
        .send()
        .await
        .unwrap();
    assert!(enforced.status().is_success());

    let function = Function::start(&env).await;
    let tasks: Vec<Value> = keys
        .iter()
        .enumerate()
        .map(|(i, key)| batch_task(&format!("t{i}"), &h.logs, key, "1.0"))
        .collect();
    let answer = assert_ok(
        &function
            .invoke(
                &json!({"invocationSchemaVersion": "1.0", "invocationId": "inv-deny",
                        "job": {"id": "job-deny"}, "tasks": tasks}),
                LONG,
            )
            .await,
    )
    .clone();
    let answer = results(&answer);
    assert_eq!(answer[0].1, "Succeeded", "{:?}", answer[0]);
    assert_eq!(answer[1].1, "PermanentFailure", "{:?}", answer[1]);
    assert!(answer[1].2.starts_with("access denied"), "{:?}", answer[1]);
    assert_eq!(answer[2].1, "Succeeded", "{:?}", answer[2]);
    h.assert_exactly_once();
}

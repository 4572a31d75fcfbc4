//! Entra ID credentials from AWS Secrets Manager (moto): cached across calls, read again
//! when the token endpoint refuses them (a rotated secret), clear errors that never show
//! the secret, and no cached failure.

use crate::common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use s3_sentinel_connector::EmulatorOptions;
use s3_sentinel_connector::{AuthError, FailureReason, SecretsManagerCredentials, SentinelClient};

use crate::delivery_support::*;

fn secret_json(secret: &str) -> String {
    serde_json::json!({"tenant_id": TENANT, "client_id": CLIENT_ID, "client_secret": secret})
        .to_string()
}

async fn secrets() -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(&common::moto_config().await)
}

fn unique(name: &str) -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("s3-sentinel/{name}-{}-{n}", std::process::id())
}

fn client_with_secret(
    url: &str,
    sm: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
) -> SentinelClient {
    let config = sentinel_config(url, &[]);
    SentinelClient::new(
        &config,
        Arc::new(SecretsManagerCredentials::new(sm.clone(), secret_id)),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_are_cached_and_a_rotated_secret_is_picked_up() {
    let sm = secrets().await;
    let created = sm
        .create_secret()
        .name(unique("rotating"))
        .secret_string(secret_json("first-secret"))
        .send()
        .await
        .unwrap();
    let arn = created.arn().unwrap().to_string();
    let emulator = start_emulator(EmulatorOptions {
        client_id: Some(CLIENT_ID.into()),
        client_secret: Some("first-secret".into()),
        ..EmulatorOptions::default()
    })
    .await;
    let client = client_with_secret(&emulator.url(), &sm, &arn);

    let first = cloudtrail_rows(300, "s3://logs/sm-1.json.gz", 51);
    assert!(
        client
            .send(first.clone(), far_deadline())
            .await
            .is_complete()
    );
    let second = cloudtrail_rows(300, "s3://logs/sm-2.json.gz", 52);
    assert!(
        client
            .send(second.clone(), far_deadline())
            .await
            .is_complete()
    );
    assert_eq!(
        client.auth().stats().credential_loads,
        1,
        "read once, then cached"
    );
    assert_eq!(emulator.stats().tokens_issued, 1);

    // Rotation: the secret changes in Secrets Manager and at the identity provider, and
    // the old token stops working.
    sm.put_secret_value()
        .secret_id(&arn)
        .secret_string(secret_json("second-secret"))
        .send()
        .await
        .unwrap();
    emulator.set_credentials(Some(CLIENT_ID.into()), Some("second-secret".into()));
    emulator.expire_tokens();

    let third = cloudtrail_rows(300, "s3://logs/sm-3.json.gz", 53);
    let report = client.send(third.clone(), far_deadline()).await;
    assert!(report.is_complete(), "{report:?}");
    assert!(report.unauthorized >= 1);
    assert_eq!(
        client.auth().stats().credential_loads,
        2,
        "read again after refusal"
    );
    assert!(emulator.stats().token_requests_refused >= 1);

    let mut all = first;
    all.extend(second);
    all.extend(third);
    assert_exactly_once(&emulator.rows("Custom-AWSCloudTrail"), &all);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_malformed_secret_is_a_clear_error_that_is_not_cached() {
    let sm = secrets().await;
    let emulator = start_emulator(EmulatorOptions::default()).await;
    let name = unique("late");
    let client = client_with_secret(&emulator.url(), &sm, &name);
    let deadline = Instant::now() + Duration::from_secs(30);

    let err = client.auth().token(deadline).await.unwrap_err();
    assert!(matches!(err, AuthError::Rejected(_)), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(&name), "{text}");
    assert!(text.contains("ResourceNotFound"), "{text}");

    // Rows sent meanwhile come back with the reason instead of vanishing.
    let rows = cloudtrail_rows(20, "s3://logs/sm-4.json.gz", 54);
    let report = client.send(rows, far_deadline()).await;
    assert_eq!(report.failed.len(), 20);
    assert!(matches!(
        report.failed[0].reason,
        FailureReason::Auth { .. }
    ));

    // A malformed secret: the message names the problem, not the content.
    sm.create_secret()
        .name(&name)
        .secret_string(r#"{"tenant_id": "t", "client_id": "a", "password": "canary-value"}"#)
        .send()
        .await
        .unwrap();
    let err = client.auth().token(deadline).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("client_secret is missing"), "{text}");
    assert!(!text.contains("canary-value"), "{text}");

    // Once fixed, the next call works: failures are not cached.
    sm.put_secret_value()
        .secret_id(&name)
        .secret_string(secret_json("fine"))
        .send()
        .await
        .unwrap();
    client.auth().token(deadline).await.unwrap();
    let rows = cloudtrail_rows(20, "s3://logs/sm-5.json.gz", 55);
    assert!(
        client
            .send(rows.clone(), far_deadline())
            .await
            .is_complete()
    );
    assert_exactly_once(&emulator.rows("Custom-AWSCloudTrail"), &rows);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_secrets_manager_is_a_transient_error() {
    // A port nothing listens on: connection refused.
    let port = common::free_port();
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .load()
        .await;
    let sm = aws_sdk_secretsmanager::Client::new(&config);
    let emulator = start_emulator(EmulatorOptions::default()).await;
    let client = client_with_secret(&emulator.url(), &sm, "arn:aws:secretsmanager:x:1:secret:s");
    let err = client
        .auth()
        .token(Instant::now() + Duration::from_secs(30))
        .await
        .unwrap_err();
    assert!(!err.is_permanent(), "{err:?}");
    assert!(
        err.to_string()
            .contains("reading Secrets Manager secret arn:aws:secretsmanager:x:1:secret:s"),
        "{err}"
    );
}

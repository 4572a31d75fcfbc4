//! The emulator enforces the Logs Ingestion API's contract, checked with plain HTTP
//! requests, in-process and as the shipped `sentinel-emulator` binary.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::{Value, json};

use s3_sentinel_connector::EmulatorOptions;

use crate::delivery_support::start_emulator;

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

async fn get_token(http: &reqwest::Client, base: &str, secret: &str) -> reqwest::Response {
    http.post(format!("{base}/my-tenant/oauth2/v2.0/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "app"),
            ("client_secret", secret),
            ("scope", "https://monitor.azure.com//.default"),
        ])
        .send()
        .await
        .unwrap()
}

async fn post(
    http: &reqwest::Client,
    base: &str,
    token: Option<&str>,
    stream: &str,
    body: Vec<u8>,
    gzipped: bool,
) -> (u16, String) {
    let mut req = http
        .post(format!(
            "{base}/dataCollectionRules/dcr-1/streams/{stream}?api-version=2023-01-01"
        ))
        .header("content-type", "application/json")
        .body(body);
    if gzipped {
        req = req.header("content-encoding", "gzip");
    }
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_contract_is_enforced() {
    let emulator = start_emulator(EmulatorOptions {
        client_secret: Some("s3cret".into()),
        ..EmulatorOptions::default()
    })
    .await;
    let base = emulator.url();
    let http = reqwest::Client::new();

    // Token endpoint: wrong secret refused, right one gets an expiring bearer token.
    let refused = get_token(&http, &base, "wrong").await;
    assert_eq!(refused.status().as_u16(), 401);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    let granted: Value = get_token(&http, &base, "s3cret")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(granted["token_type"], "Bearer");
    assert!(granted["expires_in"].as_u64().unwrap() > 3000);
    let token = granted["access_token"].as_str().unwrap().to_string();

    let row = json!({"TimeGenerated": "2024-05-01T00:00:00Z", "EventName": "GetObject",
                     "RecordId": "r1", "SourceLogType": "CloudTrail"});
    let array = serde_json::to_vec(&json!([row])).unwrap();
    let trail = "Custom-AWSCloudTrail";

    let (status, _) = post(&http, &base, None, trail, array.clone(), false).await;
    assert_eq!(status, 401, "no token");
    let (status, _) = post(&http, &base, Some("forged"), trail, array.clone(), false).await;
    assert_eq!(status, 401, "unknown token");

    // Plain and gzip arrays are accepted with 204.
    let (status, _) = post(&http, &base, Some(&token), trail, array.clone(), false).await;
    assert_eq!(status, 204);
    let (status, _) = post(&http, &base, Some(&token), trail, gzip(&array), true).await;
    assert_eq!(status, 204);
    assert_eq!(emulator.rows(trail).len(), 2);

    // A bare object is answered 204 and dropped, as Azure does.
    let object = serde_json::to_vec(&row).unwrap();
    let (status, _) = post(&http, &base, Some(&token), trail, object, false).await;
    assert_eq!(status, 204);
    assert_eq!(emulator.rows(trail).len(), 2);
    assert_eq!(emulator.stats().bare_objects_dropped, 1);

    // Unknown column: 400 naming it.
    let bad = serde_json::to_vec(&json!([{"EventName": "x", "NotAColumn": 1}])).unwrap();
    let (status, text) = post(&http, &base, Some(&token), trail, bad, false).await;
    assert_eq!(status, 400);
    assert!(text.contains("NotAColumn"), "{text}");

    // Unknown stream: 404. Not JSON, not gzip, array of non-objects: 400.
    let (status, _) = post(
        &http,
        &base,
        Some(&token),
        "Custom-Nope",
        array.clone(),
        false,
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = post(&http, &base, Some(&token), trail, b"[{".to_vec(), false).await;
    assert_eq!(status, 400);
    let (status, _) = post(&http, &base, Some(&token), trail, array.clone(), true).await;
    assert_eq!(status, 400, "claims gzip but is not");
    let (status, _) = post(&http, &base, Some(&token), trail, b"[1,2]".to_vec(), false).await;
    assert_eq!(status, 400);

    // More than 1 MiB on the wire: 413, even if it would decompress to little.
    let mut big = b"[".to_vec();
    while big.len() < 1_100_000 {
        big.extend_from_slice(br#"{"EventName":"GetObject"},"#);
    }
    big.pop();
    big.push(b']');
    let (status, _) = post(&http, &base, Some(&token), trail, big.clone(), false).await;
    assert_eq!(status, 413);
    let (status, _) = post(&http, &base, Some(&token), trail, gzip(&big), true).await;
    assert_eq!(status, 204, "the same rows gzip-compressed fit");

    // Wrong api-version: 400.
    let resp = http
        .post(format!(
            "{base}/dataCollectionRules/dcr-1/streams/{trail}?api-version=2021-01-01"
        ))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(array.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);

    // Token expiry through the admin API.
    let resp = http
        .post(format!("{base}/admin/faults"))
        .json(&json!({"expire_tokens": true}))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    let (status, _) = post(&http, &base, Some(&token), trail, array.clone(), false).await;
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_api_injects_faults_and_reports() {
    let emulator = start_emulator(EmulatorOptions::default()).await;
    let base = emulator.url();
    let http = reqwest::Client::new();
    let granted: Value = get_token(&http, &base, "any").await.json().await.unwrap();
    let token = granted["access_token"].as_str().unwrap().to_string();
    let array = br#"[{"Message":"hello","RecordId":"a"}]"#.to_vec();
    let stream = "Custom-AWSCloudWatch";

    let pending: Value = http
        .post(format!("{base}/admin/faults"))
        .json(&json!({"throttle": {"count": 1, "retry_after_ms": 1500},
                      "errors": {"count": 1, "status": 500},
                      "sequence": [{"kind": "status", "status": 502}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(pending.as_array().unwrap().len(), 3);

    let resp = http
        .post(format!(
            "{base}/dataCollectionRules/d/streams/{stream}?api-version=2023-01-01"
        ))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(array.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    assert_eq!(resp.headers()["retry-after"], "2");
    assert_eq!(resp.headers()["retry-after-ms"], "1500");
    let (status, _) = post(&http, &base, Some(&token), stream, array.clone(), false).await;
    assert_eq!(status, 500);
    let (status, _) = post(&http, &base, Some(&token), stream, array.clone(), false).await;
    assert_eq!(status, 502);
    let (status, _) = post(&http, &base, Some(&token), stream, array.clone(), false).await;
    assert_eq!(status, 204);

    // New streams map to tables; their schema applies.
    let streams: Value = http
        .post(format!("{base}/admin/streams"))
        .json(&json!({"Custom-Mine": "AWSCloudWatch"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(streams["Custom-Mine"], "AWSCloudWatch");
    let (status, _) = post(
        &http,
        &base,
        Some(&token),
        "Custom-Mine",
        array.clone(),
        false,
    )
    .await;
    assert_eq!(status, 204);

    let stats: Value = http
        .get(format!("{base}/admin/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["rows_accepted"], 2);
    assert_eq!(stats["statuses"]["429"], 1);
    assert_eq!(stats["streams"][stream]["rows"], 1);
    let rows: Value = http
        .get(format!("{base}/admin/rows?stream={stream}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rows["total"], 1);
    assert_eq!(rows["rows"][0]["Message"], "hello");

    let resp = http
        .post(format!("{base}/admin/reset"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 204);
    assert_eq!(emulator.stats().rows_accepted, 0);
    assert!(emulator.rows(stream).is_empty());
}

/// The binary users run: starts on a free port, prints its URL, takes flags.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_binary_serves_and_injects_flag_faults() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sentinel-emulator"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--errors",
            "1",
            "--error-status",
            "500",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("sentinel-emulator starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .rsplit(' ')
        .next()
        .expect("URL on the first line")
        .to_string();
    assert!(base.starts_with("http://127.0.0.1:"), "{line}");

    let http = reqwest::Client::new();
    let granted: Value = get_token(&http, &base, "any").await.json().await.unwrap();
    let token = granted["access_token"].as_str().unwrap().to_string();
    let array = br#"[{"Message":"m","RecordId":"1"}]"#.to_vec();
    let (status, _) = post(
        &http,
        &base,
        Some(&token),
        "Custom-AWSCloudWatch",
        array.clone(),
        false,
    )
    .await;
    assert_eq!(status, 500);
    let (status, _) = post(
        &http,
        &base,
        Some(&token),
        "Custom-AWSCloudWatch",
        array,
        false,
    )
    .await;
    assert_eq!(status, 204);
    child.kill().unwrap();
    child.wait().unwrap();
}

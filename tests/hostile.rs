//! Hostile input and hostile state: objects shaped by anyone who can write a log bucket,
//! state files and model buckets written by someone else, endpoints that answer badly.
//! Each case is run through the real `bootstrap` (memory is its peak resident set, read
//! from /proc) or, for the state and endpoint cases, through the library in process.

use std::io::Write;

use base64::Engine;
use serde_json::{Value, json};

use crate::common::function::*;
use s3_sentinel_connector::EmulatorOptions;

/// The function's default memory is 512 MB; every crafted object must stay well inside.
const PEAK_MIB: f64 = 256.0;

fn gzip_fast(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// Bytes that do not compress, as text: keeps an object under the decompression ratio
/// limit while the rest of it is one repeated byte.
fn noise(len: usize, seed: u64) -> String {
    let mut x = seed.wrapping_mul(2).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(b'a' + (x % 26) as u8)
        })
        .collect()
}

/// One CloudWatch Logs subscription message, members in the order CloudWatch writes them.
fn subscription(events: &[(u64, String)]) -> String {
    let events: Vec<Value> = events
        .iter()
        .map(|(id, message)| {
            json!({"id": id.to_string(), "timestamp": 1_795_000_000_000u64 + id, "message": message})
        })
        .collect();
    format!(
        r#"{{"messageType":"DATA_MESSAGE","owner":"{ACCOUNT}","logGroup":"/aws/lambda/app","logStream":"2026/11/20/[$LATEST]abc","subscriptionFilters":["to-sentinel"],"logEvents":{}}}"#,
        Value::from(events)
    )
}

fn app_line(i: u64) -> String {
    format!(
        "2026-11-20T10:00:{:02}.000Z\treq-{i}\tINFO\tprocessed order {i}\n",
        i % 60
    )
}

async fn started(h: &Harness) -> Function {
    Function::start(&h.env()).await
}

fn assert_bounded(function: &Function, case: &str) -> f64 {
    let peak = function.peak_rss_mib();
    eprintln!("hostile: {case}: bootstrap peak RSS {peak:.0} MiB");
    assert!(peak < PEAK_MIB, "{case}: peak RSS {peak:.0} MiB");
    peak
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn junk_lines_go_aside_in_chunks_and_the_valid_records_arrive() {
    let mut h = Harness::new(EmulatorOptions::default()).await;
    let flows = String::from_utf8(vpc_flow_lines(3)).unwrap();
    let mut lines = flows.lines();
    let header = lines.next().unwrap();
    let junk = "this is not a flow record\n".repeat(750_000);
    let mut body = format!("{header}\n");
    for (i, line) in lines.enumerate() {
        body.push_str(line);
        body.push('\n');
        if i < 2 {
            body.push_str(&junk);
        }
    }
    let key = vpc_key("0bad0bad");
    let (records, rejects) = h.put_raw(&key, gzip_fast(body.as_bytes())).await;
    assert_eq!((records, rejects), (3, 1_500_000));
    drop(body);

    let function = started(&h).await;
    assert_ok(&function.invoke(&s3_event(&h.logs, &key), LONG).await);
    h.assert_exactly_once();
    assert_eq!(h.rejected_lines().await, 1_500_000);
    assert_bounded(&function, "1.5M junk VPC flow lines");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_giant_log_event_is_set_aside_and_the_rest_arrive() {
    let mut h = Harness::new(EmulatorOptions::default()).await;
    // A JSON message the pattern stage would once have built a value of, a 12 MB event
    // (under the line limit, over CloudWatch's own 1 MiB event limit) beside ordinary
    // ones, and a 60 MB event alone.
    let array = |len: usize| format!("[{}1]", "1,".repeat(len / 2));
    let body = [
        subscription(&[(1, app_line(1)), (2, array(500_000))]),
        subscription(&[(3, app_line(3)), (4, array(12_000_000)), (5, app_line(5))]),
        subscription(&[(6, array(60_000_000))]),
        subscription(&[(7, app_line(7))]),
    ]
    .join("\n");
    let key = "cloudwatch/2026/11/20/firehose-app-1.gz";
    let (records, rejects) = h.put_raw(key, gzip_fast(body.as_bytes())).await;
    drop(body);
    assert_eq!(records, 5, "every event under the limit");
    assert_eq!(rejects, 2, "the 12 MB event and the 60 MB line");

    let function = started(&h).await;
    assert_ok(&function.invoke(&s3_event(&h.logs, key), LONG).await);
    h.assert_exactly_once();
    assert_eq!(h.rejected_lines().await, 2);
    assert_bounded(&function, "12 MB and 60 MB CloudWatch events");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_decompression_bomb_inside_awslogs_is_refused_and_the_rest_arrive() {
    let mut h = Harness::new(EmulatorOptions::default()).await;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let bomb = {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![b' '; 1 << 20];
        for _ in 0..200 {
            enc.write_all(&zeros).unwrap();
        }
        enc.finish().unwrap()
    };
    let normal = gzip_fast(subscription(&[(1, app_line(1)), (2, app_line(2))]).as_bytes());
    let body = format!(
        "{}\n{}\n",
        json!({"awslogs": {"data": b64(&bomb)}}),
        json!({"awslogs": {"data": b64(&normal)}})
    );
    eprintln!("hostile: awslogs bomb object is {} bytes", body.len());
    let key = "cloudwatch/2026/11/20/firehose-app-2.json";
    let (records, rejects) = h.put_raw(key, body.into_bytes()).await;
    assert_eq!((records, rejects), (2, 1));

    let function = started(&h).await;
    assert_ok(&function.invoke(&s3_event(&h.logs, key), LONG).await);
    h.assert_exactly_once();
    assert_bounded(&function, "awslogs.data unpacking to 200 MB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn megabyte_words_leave_the_pattern_database_small() {
    let mut h = Harness::new(EmulatorOptions::default()).await;
    // Room under the decompression ratio for 100 MB of near-constant words.
    let mut body = format!("2026-11-20T10:00:00Z INFO noise {}\n", noise(300_000, 7));
    for i in 0..100u64 {
        let word = format!("{i:03}{}", "w".repeat(1 << 20));
        body.push_str(&format!(
            "2026-11-20T10:00:01Z INFO token {word} accepted\n"
        ));
    }
    for i in 0..5 {
        body.push_str(&format!("2026-11-20T10:00:02Z INFO worker {i} finished\n"));
    }
    let key = "app/2026/11/20/words.log.gz";
    let (records, _) = h.put_raw(key, gzip_fast(body.as_bytes())).await;
    drop(body);
    assert_eq!(records, 106);

    let function = started(&h).await;
    assert_ok(&function.invoke(&s3_event(&h.logs, key), LONG).await);
    h.assert_exactly_once();
    let first = assert_bounded(&function, "100 distinct 1 MB words");
    drop(function);

    let db = h
        .get_state("state/patterns/db.json")
        .await
        .expect("the pattern database is saved");
    eprintln!(
        "hostile: patterns/db.json after 100 MB words: {} bytes",
        db.len()
    );
    assert!(db.len() < 512 * 1024, "{} bytes", db.len());

    // The next cold start reads that database and stays small too.
    let key = "app/2026/11/20/after.log";
    h.put(key, b"2026-11-20T10:05:00Z INFO worker 9 finished\n")
        .await;
    let function = started(&h).await;
    assert_ok(&function.invoke(&s3_event(&h.logs, key), LONG).await);
    h.assert_exactly_once();
    let second = assert_bounded(&function, "a cold start after the words");
    assert!(
        second < first + 64.0,
        "{second:.0} MiB after {first:.0} MiB"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn megabyte_session_ids_keep_a_warm_function_small() {
    let mut h = Harness::new(EmulatorOptions::default()).await;
    let function = started(&h).await;
    for object in 0..3u64 {
        let mut body = format!(
            "2026-11-20T10:00:00Z INFO noise {}\n",
            noise(100_000, object + 11)
        );
        for i in 0..30u64 {
            let session = format!("{object}{i:03}{}", "s".repeat(1 << 20));
            body.push_str(&format!(
                "2026-11-20T10:00:{i:02}Z INFO session={session} user=alice action=login\n"
            ));
        }
        let key = format!("app/2026/11/20/sessions-{object}.log.gz");
        let (records, _) = h.put_raw(&key, gzip_fast(body.as_bytes())).await;
        assert_eq!(records, 31);
        assert_ok(&function.invoke(&s3_event(&h.logs, &key), LONG).await);
    }
    h.assert_exactly_once();
    assert_bounded(&function, "three objects of 1 MB session ids");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_state_files_are_set_aside_with_one_alert_each_and_ingestion_goes_on() {
    let mut h = Harness::new(EmulatorOptions::default()).await;
    let forged = [
        // Would divide by zero in every window computation.
        (
            "state/patterns/db.json",
            json!({"version": 1, "limits": {"window_seconds": 0}, "patterns": []}),
        ),
        // All weight in the top bin, updated in 2099: IsAnomaly off for good.
        (
            "state/ml/anomaly-thresholds.json",
            json!({"version": 1, "updated": "2099-01-01T00:00:00Z",
                   "log_types": {"CloudTrail": {"total": 1e12, "bins": [[399, 1e12]]}}}),
        ),
        // Thirty times slower scoring, written back by every function.
        (
            "state/patterns/sequences.json",
            json!({"order": 2000, "contexts": {}}),
        ),
    ];
    for (key, body) in &forged {
        let state = h.state.clone();
        h.put_object(&state, key, body.to_string().into_bytes())
            .await;
    }
    let key = cloudtrail_key("Hostile1");
    h.put(&key, &cloudtrail_json(300, 5)).await;
    let function = started(&h).await;
    assert_ok(&function.invoke(&s3_event(&h.logs, &key), LONG).await);
    h.assert_exactly_once();

    let damaged_alerts = |h: &Harness| -> Vec<String> {
        h.alerts()
            .iter()
            .filter(|a| a["AlertTrigger"] == "damaged_state")
            .map(|a| a["AlertName"].as_str().unwrap().to_string())
            .collect()
    };
    let mut names = damaged_alerts(&h);
    names.sort();
    assert_eq!(
        names,
        [
            "Damaged state: ml/anomaly-thresholds.json",
            "Damaged state: patterns/db.json",
            "Damaged state: patterns/sequences.json",
        ]
    );
    let record_alerts = h
        .alerts()
        .iter()
        .filter(|a| a["AlertTrigger"] != "damaged_state")
        .count();
    assert!(record_alerts > 0, "alerts keep firing");
    assert_eq!(h.state_keys("state/damaged/").await.len(), 3);
    // What the function saved in their place is its own, valid state.
    let db: Value =
        serde_json::from_slice(&h.get_state("state/patterns/db.json").await.unwrap()).unwrap();
    assert!(db.get("limits").is_none(), "{db}");
    let sequences: Value =
        serde_json::from_slice(&h.get_state("state/patterns/sequences.json").await.unwrap())
            .unwrap();
    assert_ne!(sequences["order"], 2000);
    drop(function);

    // A cold start reads what was saved: no new damage, ingestion as usual.
    let key = cloudtrail_key("Hostile2");
    h.put(&key, &cloudtrail_json(200, 6)).await;
    let function = started(&h).await;
    assert_ok(&function.invoke(&s3_event(&h.logs, &key), LONG).await);
    h.assert_exactly_once();
    assert_eq!(damaged_alerts(&h).len(), 3);
}

// ---------------------------------------------------------------------------------------
// Endpoints that answer badly

mod endpoints {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    use axum::http::{HeaderMap, StatusCode, Uri};
    use axum::response::{IntoResponse, Redirect, Response};
    use s3_sentinel_connector::vars;
    use s3_sentinel_connector::{DeadLetter, EmulatorOptions, FailureReason, deliver};

    use crate::delivery_support::*;

    /// An HTTP server answering every request with `answer`, counting them.
    async fn serve<F>(answer: F) -> (String, Arc<AtomicUsize>)
    where
        F: Fn(&Uri) -> Response + Clone + Send + Sync + 'static,
    {
        let count = Arc::new(AtomicUsize::new(0));
        let seen = count.clone();
        let app =
            axum::Router::new().fallback(move |uri: Uri, _: HeaderMap, _: axum::body::Bytes| {
                let answer = answer.clone();
                let seen = seen.clone();
                async move {
                    seen.fetch_add(1, Ordering::SeqCst);
                    answer(&uri)
                }
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (url, count)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn redirects_are_not_followed_and_their_targets_receive_nothing() {
        let emulator = start_emulator(EmulatorOptions::default()).await;
        let (elsewhere, received) = serve(|_| StatusCode::NO_CONTENT.into_response()).await;
        let target = elsewhere.clone();
        let (redirector, _) = serve(move |uri| {
            let to = format!("{target}{}", uri.path());
            if uri.path().contains("oauth2") {
                Redirect::temporary(&to).into_response()
            } else {
                Redirect::permanent(&to).into_response()
            }
        })
        .await;
        let rows = cloudtrail_rows(50, "s3://logs/redirected.json.gz", 81);

        // A 307 from the authority: the client secret is not posted anywhere else.
        let to_authority = client(
            &emulator.url(),
            &[(vars::AUTHORITY_HOST, redirector.as_str())],
        )
        .await;
        let report = to_authority.send(rows.clone(), far_deadline()).await;
        assert_eq!(report.accepted, 0);
        assert_eq!(report.failed.len(), 50);
        let reason = report.failed[0].reason.to_string();
        assert!(
            matches!(report.failed[0].reason, FailureReason::Auth { .. }),
            "{reason}"
        );
        assert!(reason.contains(vars::AUTHORITY_HOST), "{reason}");

        // A 308 from the ingestion endpoint: the rows are not sent elsewhere and not
        // counted as delivered; the dead letter keeps them.
        let to_ingestion = client(
            &emulator.url(),
            &[(vars::INGESTION_ENDPOINT, redirector.as_str())],
        )
        .await;
        let dir = tempfile::tempdir().unwrap();
        let delivered = deliver(
            &to_ingestion,
            &DeadLetter::dir(dir.path()),
            rows,
            far_deadline(),
        )
        .await
        .unwrap();
        assert_eq!(delivered.report.accepted, 0);
        assert_eq!(delivered.dead_lettered.rows, 50);
        assert_eq!(received.load(Ordering::SeqCst), 0, "the redirect target");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn absurd_retry_after_values_are_bounded_not_panics() {
        let emulator = start_emulator(EmulatorOptions::default()).await;
        for value in ["1e20", "10000000000000000000", "-5", "NaN", "inf"] {
            let (ingestion, requests) = serve(move |_| {
                (StatusCode::TOO_MANY_REQUESTS, [("retry-after", value)]).into_response()
            })
            .await;
            let client = client(
                &emulator.url(),
                &[(vars::INGESTION_ENDPOINT, ingestion.as_str())],
            )
            .await;
            let rows = cloudtrail_rows(20, "s3://logs/throttled.json.gz", 82);
            let report = client
                .send(rows, Instant::now() + Duration::from_secs(2))
                .await;
            assert_eq!(report.accepted, 0, "Retry-After: {value}");
            assert_eq!(
                report.unsent.len() + report.failed.len(),
                20,
                "Retry-After: {value}"
            );
            assert!(requests.load(Ordering::SeqCst) >= 1);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_endless_token_lifetime_is_capped_not_a_panic() {
        let (authority, _) = serve(|_| {
            axum::Json(serde_json::json!({
                "token_type": "Bearer", "access_token": "forever",
                "expires_in": 18446744073709551615u64,
            }))
            .into_response()
        })
        .await;
        let (ingestion, requests) = serve(|_| StatusCode::NO_CONTENT.into_response()).await;
        let client = client(&ingestion, &[(vars::AUTHORITY_HOST, authority.as_str())]).await;
        let rows = cloudtrail_rows(20, "s3://logs/forever.json.gz", 83);
        let report = client.send(rows, far_deadline()).await;
        assert_eq!(report.accepted, 20, "{report:?}");
        assert_eq!(requests.load(Ordering::SeqCst), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn events_naming_a_bucket_other_than_the_log_buckets_are_refused() {
    let mut h = Harness::new(EmulatorOptions::default()).await;
    let key = cloudtrail_key("Allowed1");
    h.put(&key, &cloudtrail_json(40, 7)).await;
    // Something the role can read that is not a log: the function's own state.
    let state = h.state.clone();
    h.put_object(&state, "state/notes.json", cloudtrail_json(10, 8))
        .await;
    let mut env = h.env();
    env.insert("LOG_BUCKETS".into(), format!("{},other-logs", h.logs));
    let function = Function::start(&env).await;
    let both = json!({"Records": [
        s3_event(&h.state, "state/notes.json")["Records"][0].clone(),
        s3_event(&h.logs, &key)["Records"][0].clone(),
    ]});
    // Refused, not failed: a retry would be refused again.
    assert_ok(&function.invoke(&both, LONG).await);
    h.assert_exactly_once();
}

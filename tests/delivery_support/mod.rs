//! Shared support for the delivery tests: an in-process emulator on a free port, client
//! configuration pointing at it, row generators and the exactly-once check.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use s3_sentinel_connector::Row;
use s3_sentinel_connector::{Emulator, EmulatorOptions, RunningEmulator};
use s3_sentinel_connector::{LogType, Record, RecordId, time};
use s3_sentinel_connector::{SentinelClient, SentinelSettings};
use s3_sentinel_connector::{sentinel_from_map, vars};

pub const TENANT: &str = "00000000-0000-0000-0000-00000000beef";
pub const CLIENT_ID: &str = "test-app";
pub const CLIENT_SECRET: &str = "test-secret-value";
pub const DCR: &str = "dcr-00000000000000000000000000000001";

pub async fn start_emulator(options: EmulatorOptions) -> RunningEmulator {
    Emulator::new(options)
        .start("127.0.0.1:0".parse().unwrap())
        .await
        .expect("emulator starts")
}

/// Client configuration for `url` with environment credentials and fast backoff; `extra`
/// variables are added or replace the defaults.
pub fn sentinel_config(url: &str, extra: &[(&str, &str)]) -> SentinelSettings {
    let mut map: HashMap<String, String> = HashMap::from([
        (vars::INGESTION_ENDPOINT.into(), url.into()),
        (vars::AUTHORITY_HOST.into(), url.into()),
        (vars::DCR_IMMUTABLE_ID.into(), DCR.into()),
        (vars::TENANT_ID.into(), TENANT.into()),
        (vars::CLIENT_ID.into(), CLIENT_ID.into()),
        (vars::CLIENT_SECRET.into(), CLIENT_SECRET.into()),
        (vars::REQUEST_TIMEOUT_SECONDS.into(), "5".into()),
    ]);
    for (k, v) in extra {
        map.insert(k.to_string(), v.to_string());
    }
    let mut config = sentinel_from_map(&map).expect("valid test configuration");
    config.delivery.initial_backoff = Duration::from_millis(20);
    config.delivery.max_backoff = Duration::from_millis(200);
    config
}

pub async fn client(url: &str, extra: &[(&str, &str)]) -> SentinelClient {
    SentinelClient::with_credentials(&sentinel_config(url, extra), Default::default()).unwrap()
}

pub fn far_deadline() -> Instant {
    Instant::now() + Duration::from_secs(120)
}

/// A small deterministic generator, so runs are repeatable.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E3779B97F4A7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn token(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        (0..len)
            .map(|_| ALPHABET[self.below(ALPHABET.len() as u64) as usize] as char)
            .collect()
    }
}

fn finish(mut record: Record, ordinal: u64, object: &str) -> Row {
    record.ordinal = ordinal;
    record.source_object = Arc::from(object);
    let raw = format!("{object}#{ordinal}");
    record.id = RecordId::compute(record.log_type, ordinal, raw.as_bytes());
    Row::from_record(&record)
}

/// CloudTrail-shaped rows with a realistic mix of repeated and unique values.
pub fn cloudtrail_rows(n: u64, object: &str, seed: u64) -> Vec<Row> {
    let mut rng = Rng::new(seed);
    let events = [
        "GetObject",
        "PutObject",
        "AssumeRole",
        "DescribeInstances",
        "ListBuckets",
    ];
    let sources = ["s3.amazonaws.com", "sts.amazonaws.com", "ec2.amazonaws.com"];
    (0..n)
        .map(|i| {
            let mut r = Record::new(LogType::CloudTrail);
            r.time = Some(time::from_epoch_millis((1_714_000_000 + i as i64) * 1000).unwrap());
            r.push("EventName", events[rng.below(5) as usize]);
            r.push("EventSource", sources[rng.below(3) as usize]);
            r.push("AWSRegion", "eu-west-1");
            r.push(
                "SourceIpAddress",
                format!("10.{}.{}.{}", rng.below(4), rng.below(256), rng.below(256)),
            );
            r.push(
                "UserAgent",
                "aws-cli/2.15.0 Python/3.11.6 Linux/6.1 botocore/2.0",
            );
            r.push("AwsRequestId", rng.token(20));
            r.push("AwsEventId", rng.token(36));
            r.push(
                "RequestParameters",
                format!(
                    "{{\"bucketName\":\"logs-{}\",\"key\":\"{}\"}}",
                    rng.below(10),
                    rng.token(24)
                ),
            );
            r.push("ReadOnly", rng.below(2) == 0);
            finish(r, i, object)
        })
        .collect()
}

pub fn vpc_rows(n: u64, object: &str, seed: u64) -> Vec<Row> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|i| {
            let mut r = Record::new(LogType::VpcFlow);
            r.time = Some(time::from_epoch_millis((1_714_000_000 + i as i64) * 1000).unwrap());
            r.push("AccountId", "123456789012");
            r.push(
                "Action",
                if rng.below(10) == 0 {
                    "REJECT"
                } else {
                    "ACCEPT"
                },
            );
            r.push(
                "DstAddr",
                format!("172.31.{}.{}", rng.below(256), rng.below(256)),
            );
            r.push("DstPort", rng.below(65536) as i64);
            r.push("Bytes", rng.below(100_000) as i64);
            finish(r, i, object)
        })
        .collect()
}

/// One CloudWatch row whose `Message` is `len` bytes of hard-to-compress text.
pub fn noisy_row(ordinal: u64, object: &str, len: usize, seed: u64) -> Row {
    let mut rng = Rng::new(seed);
    let mut r = Record::new(LogType::CloudWatch);
    r.push("Message", rng.token(len));
    finish(r, ordinal, object)
}

/// Asserts that `accepted` (rows the emulator kept) holds each of `expected` exactly once
/// and nothing else.
pub fn assert_exactly_once(accepted: &[serde_json::Value], expected: &[Row]) {
    let mut seen: BTreeMap<String, u32> = BTreeMap::new();
    for row in accepted {
        let id = row["RecordId"]
            .as_str()
            .expect("RecordId column")
            .to_string();
        *seen.entry(id).or_default() += 1;
    }
    let duplicated: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(duplicated.is_empty(), "duplicated rows: {duplicated:?}");
    let expected_ids: BTreeMap<String, u32> = expected
        .iter()
        .map(|r| (r.record_id.to_string(), 1))
        .collect();
    let missing: Vec<_> = expected_ids
        .keys()
        .filter(|k| !seen.contains_key(*k))
        .collect();
    assert!(
        missing.is_empty(),
        "{} rows lost, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(3)]
    );
    let unexpected: Vec<_> = seen
        .keys()
        .filter(|k| !expected_ids.contains_key(*k))
        .collect();
    assert!(unexpected.is_empty(), "unexpected rows: {unexpected:?}");
}

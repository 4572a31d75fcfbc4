//! The bundled sample objects under tests/fixtures/ (written by scripts/make_fixtures.py at
//! AWS delivery keys) through the whole pipeline, detected by key alone; plus damaged
//! objects end to end: a truncated gzip yields every record before the damage and the
//! stream error, a truncated JSON value at the end is a reject.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use s3_sentinel_connector::check_record;
use s3_sentinel_connector::{Collect, Detection, Format, detect};
use s3_sentinel_connector::{LogType, Value};
use s3_sentinel_connector::{ObjectJob, ObjectOutcome, parse_object};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// The object's S3 key: its path below tests/fixtures/.
fn key_of(path: &Path) -> String {
    path.strip_prefix(fixtures())
        .unwrap()
        .to_string_lossy()
        .replace('\\', "/")
}

fn process(bytes: Vec<u8>, key: &str) -> (ObjectOutcome, Collect) {
    let mut sink = Collect::default();
    let job = ObjectJob::new(format!("s3://sample-logs/{key}"), key);
    let outcome = parse_object(Cursor::new(bytes), &job, &mut sink).unwrap();
    for r in &sink.records {
        check_record(r).unwrap_or_else(|e| panic!("{key}: {e}"));
        assert!(r.time.is_some(), "{key}: record without event time");
    }
    (outcome, sink)
}

fn counts(sink: &Collect) -> BTreeMap<LogType, usize> {
    let mut m = BTreeMap::new();
    for r in &sink.records {
        *m.entry(r.log_type).or_default() += 1;
    }
    m
}

/// (key fragment, format detected from the key, rows per log type)
type Expectation = (&'static str, Option<Format>, Vec<(LogType, usize)>);

fn expected() -> Vec<Expectation> {
    use LogType::*;
    vec![
        (
            "/CloudTrail/",
            Some(Format::CloudTrail),
            vec![(CloudTrail, 40)],
        ),
        ("/CloudTrail-Digest/", None, vec![]),
        ("/vpcflowlogs/", Some(Format::VpcFlow), vec![(VpcFlow, 19)]),
        ("_app.shop-web.", Some(Format::ElbAccess), vec![(Alb, 12)]),
        ("_net.edge-nlb.", Some(Format::ElbAccess), vec![(Nlb, 5)]),
        (
            "_legacy-web_",
            Some(Format::ElbAccess),
            vec![(ClassicElb, 4)],
        ),
        (
            "cloudfront/",
            Some(Format::CloudFront),
            vec![(CloudFront, 8)],
        ),
        (
            "s3-access-logs/",
            Some(Format::S3Access),
            vec![(S3Access, 6)],
        ),
        ("/WAFLogs/", Some(Format::Waf), vec![(Waf, 6)]),
        ("/GuardDuty/", Some(Format::GuardDuty), vec![(GuardDuty, 3)]),
        (
            "/vpcdnsquerylogs/",
            Some(Format::Route53Resolver),
            vec![(Route53Resolver, 9)],
        ),
        (
            "/network-firewall/alert/",
            Some(Format::NetworkFirewall),
            vec![(NetworkFirewallAlert, 3)],
        ),
        (
            "/network-firewall/flow/",
            Some(Format::NetworkFirewall),
            vec![(NetworkFirewallFlow, 4)],
        ),
        (
            "/network-firewall/tls/",
            Some(Format::NetworkFirewall),
            vec![(NetworkFirewallTls, 2)],
        ),
        (
            "firehose/cwl-to-s3/",
            None,
            vec![(CloudTrail, 1), (VpcFlow, 1), (CloudWatch, 4)],
        ),
    ]
}

#[test]
fn every_fixture_is_detected_by_key_and_parses_completely() {
    let mut all = Vec::new();
    files(&fixtures(), &mut all);
    all.sort();
    let table = expected();
    assert_eq!(all.len(), table.len(), "{all:?}");
    for path in &all {
        let key = key_of(path);
        let (_, by_key, rows) = table
            .iter()
            .find(|(fragment, ..)| key.contains(fragment))
            .unwrap_or_else(|| panic!("no expectation for {key}"));
        match by_key {
            Some(f) => assert_eq!(
                detect::detect_key(&key),
                Some(Detection::Parse(*f)),
                "{key}"
            ),
            None => assert!(
                !matches!(detect::detect_key(&key), Some(Detection::Parse(_))),
                "{key}"
            ),
        }
        let (outcome, sink) = process(std::fs::read(path).unwrap(), &key);
        assert!(outcome.stream_error.is_none(), "{key}: {outcome:?}");
        assert!(sink.rejects.is_empty(), "{key}: {:?}", sink.rejects);
        let want: BTreeMap<LogType, usize> = rows.iter().copied().collect();
        assert_eq!(counts(&sink), want, "{key}");
        if rows.is_empty() {
            assert!(outcome.skipped.is_some(), "{key}: {outcome:?}");
        }
    }
}

fn cloudtrail_fixture() -> (String, Vec<u8>) {
    let key = "AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/20/123456789012_CloudTrail_us-east-1_20261120T1005Z_Qx7sLm2PaBcD3eFg.json.gz";
    (
        key.to_string(),
        std::fs::read(fixtures().join(key)).unwrap(),
    )
}

#[test]
fn the_cloudtrail_sample_carries_the_suspicious_events() {
    let (key, bytes) = cloudtrail_fixture();
    let (_, sink) = process(bytes, &key);
    let named = |name: &str| {
        sink.records
            .iter()
            .filter(|r| r.get_str("EventName") == Some(name))
            .collect::<Vec<_>>()
    };
    for name in [
        "StopLogging",
        "DeleteTrail",
        "CreateAccessKey",
        "AttachUserPolicy",
    ] {
        assert_eq!(named(name).len(), 1, "{name}");
    }
    let failed_logins = named("ConsoleLogin")
        .into_iter()
        .filter(|r| r.get_str("ErrorMessage") == Some("Failed authentication"))
        .count();
    assert_eq!(failed_logins, 5);
    let sg = &named("AuthorizeSecurityGroupIngress")[0];
    assert_eq!(sg.get_str("CidrIp"), Some("0.0.0.0/0"));
    assert_eq!(sg.get_str("DestinationPort"), Some("22"));
    let reads = sink
        .records
        .iter()
        .filter(|r| r.get("ReadOnly") == Some(&Value::Bool(true)))
        .count();
    assert!(reads >= 20, "{reads} read-only events");
    assert!(
        sink.records
            .iter()
            .all(|r| r.source_object.starts_with("s3://sample-logs/AWSLogs/"))
    );
}

#[test]
fn record_ids_depend_on_content_and_position_not_on_the_key() {
    let (key, bytes) = cloudtrail_fixture();
    let (_, a) = process(bytes.clone(), &key);
    let (_, b) = process(bytes, "copied/elsewhere/AWSLogs/1/CloudTrail/x.json.gz");
    let ids = |c: &Collect| c.records.iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(ids(&a), ids(&b));
    let distinct: std::collections::BTreeSet<_> = ids(&a).into_iter().collect();
    assert_eq!(distinct.len(), a.records.len());
}

#[test]
fn truncated_gzip_yields_every_record_before_the_damage_and_the_error() {
    let (key, bytes) = cloudtrail_fixture();
    let (_, whole) = process(bytes.clone(), &key);
    let cut = bytes[..bytes.len() * 2 / 3].to_vec();
    let (outcome, sink) = process(cut, &key);
    let err = outcome.stream_error.expect("a stream error");
    assert!(err.contains("truncated"), "{err}");
    assert!(!sink.records.is_empty() && sink.records.len() < whole.records.len());
    // What was delivered is exactly the start of the whole object.
    for (got, want) in sink.records.iter().zip(&whole.records) {
        assert_eq!(got.id, want.id);
    }

    let vpc_key = "AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/11/20/123456789012_vpcflowlogs_us-east-1_fl-0a1b2c3d4e5f67890_20261120T1005Z_3f9a1c2e.log.gz";
    let text: String = (0..5000)
        .map(|i| {
            format!(
                "2 123456789012 eni-0a1b 10.0.1.5 192.0.2.{} {} 443 6 10 840 1763632800 1763632860 ACCEPT OK\n",
                i % 250,
                30000 + i
            )
        })
        .collect();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, text.as_bytes()).unwrap();
    let gz = gz.finish().unwrap();
    let (outcome, sink) = process(gz[..gz.len() / 2].to_vec(), vpc_key);
    assert!(outcome.stream_error.is_some());
    let n = sink.records.len();
    assert!(n > 100 && n < 5000, "{n}");
    // Lines arrive in order; at most the one line cut by the damage is a reject.
    for (i, r) in sink.records.iter().enumerate() {
        assert_eq!(r.get("SrcPort"), Some(&Value::Int(30000 + i as i64)));
    }
    assert!(sink.rejects.len() <= 1, "{:?}", sink.rejects);
}

#[test]
fn truncated_json_value_at_the_end_is_a_reject() {
    let key = "AWSLogs/123456789012/WAFLogs/us-east-1/shop-acl/2026/11/20/10/05/x.log";
    let record = r#"{"timestamp":1763632807123,"formatVersion":1,"webaclId":"w","action":"ALLOW","httpRequest":{"clientIp":"198.51.100.1"}}"#;
    let text = format!("{record}\n{record}\n{}", &record[..60]);
    let (outcome, sink) = process(text.into_bytes(), key);
    assert!(outcome.stream_error.is_none());
    assert_eq!(sink.records.len(), 2);
    assert_eq!(sink.rejects.len(), 1);
    assert!(sink.rejects[0].reason.contains("truncated"));
    assert_eq!(sink.rejects[0].raw, &record[..60]);
    assert_eq!(sink.rejects[0].line, Some(3));
}

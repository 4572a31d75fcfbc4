//! Every real-world sample in `../shared/samples/aws/` through the whole pipeline
//! (`pipeline::parse_object`), checked against the record counts of its MANIFEST.tsv.
//!
//! The samples keep their upstream file names, which mostly do not follow AWS delivery key
//! patterns. Where the name reveals the format (the CloudTrail ones do), the file path is
//! the key and detection decides; elsewhere the manifest's format column is passed as the
//! `--format` override. Content detection is checked separately on every file, so both
//! paths are covered.
//!
//! Counting rule: manifest records = parsed records + rejects + objects that legitimately
//! hold no record. Rejects and empty objects are listed per file below with the reason, so
//! a change in how any sample is handled fails this test.

use crate::common;

use std::fs::File;
use std::path::Path;

use s3_sentinel_connector::check_record;
use s3_sentinel_connector::{Collect, Detection, Format, detect};
use s3_sentinel_connector::{ObjectJob, ObjectTime, TimeOrigin, parse_object};

const TIME_GENERATED_FROM: &str = "TimeGeneratedFrom";

/// Samples whose events have no usable time of their own, with why: their records carry the
/// time in the file name (`TimeGeneratedFrom` = `ObjectKey`).
const TIMED_BY_KEY: &[(&str, &str)] = &[(
    "cloudtrail/dynatrace_012345678910_CloudTrail_ap-northeast-1_20220101T0000Z_gkuyIJtLhiT90uem.json",
    "both events have the unrendered template \"{{next_log_timestamp()}}\" as eventTime",
)];

/// (file, rejects, objects without records, why). Files not listed: no rejects.
const EXCEPTIONS: &[(&str, u64, u64, &str)] = &[
    (
        "cloudfront/elastic_test-cloudfront.log",
        1,
        0,
        "the last line is truncated to 31 of the 33 #Fields",
    ),
    (
        "guardduty/elastic_test-guardduty.log",
        0,
        1,
        "the last object is an empty {\"findings\":[]} list",
    ),
    (
        "cloudtrail-digest/elastic_test-cloudtrail-digest-json.log",
        0,
        1,
        "a digest file is skipped: it holds no log records",
    ),
];

struct Row {
    format: String,
    file: String,
    expected: u64,
}

fn manifest(dir: &Path) -> Vec<Row> {
    let text = std::fs::read_to_string(dir.join("MANIFEST.tsv")).expect("MANIFEST.tsv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (format, file, records) = (col("format"), col("saved_filename"), col("records"));
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Row {
                format: f[format].to_string(),
                file: f[file].to_string(),
                expected: expected_count(f[records]),
            }
        })
        .collect()
}

/// "20 Records", "12 records (+2 # header lines)", "1 DATA_MESSAGE envelope(s), 19
/// logEvents": the number of log records (log events for CloudWatch envelopes).
fn expected_count(text: &str) -> u64 {
    let number_before = |word: &str| {
        let at = text.find(word)?;
        text[..at].split_whitespace().last()?.parse().ok()
    };
    number_before("logEvents")
        .or_else(|| text.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no count in {text:?}"))
}

fn manifest_format(name: &str) -> Option<Format> {
    match name {
        "alb" | "nlb" | "elb" => Some(Format::ElbAccess),
        "cloudtrail-digest" => None,
        other => Some(Format::from_name(other).unwrap_or_else(|| panic!("format {other}"))),
    }
}

#[test]
fn every_sample_parses_to_its_manifest_count() {
    let Some(shared) = common::shared_dir() else {
        return;
    };
    let dir = shared.join("samples/aws");
    let rows = manifest(&dir);
    assert!(rows.len() >= 30, "manifest has {} rows", rows.len());
    let mut failures = Vec::new();
    for row in &rows {
        let path = dir.join(&row.file);
        let key = path.to_string_lossy().into_owned();
        let want_format = manifest_format(&row.format);

        // Content detection alone must agree with the manifest.
        let head = std::fs::read(&path).unwrap();
        let by_content = detect::detect_content(&head);
        let content_ok = match want_format {
            Some(f) => by_content == Detection::Parse(f),
            None => matches!(by_content, Detection::Skip(_)),
        };
        if !content_ok {
            failures.push(format!("{}: content detected as {by_content:?}", row.file));
        }

        let mut job = ObjectJob::new(key.clone(), key.clone());
        job.object_time = ObjectTime::of(&key, None);
        let timed_by_key = TIMED_BY_KEY.iter().any(|(f, _)| *f == row.file);
        let by_key = detect::detect_key(&key);
        if by_key.is_none() {
            job.format = want_format;
        }
        let mut sink = Collect::default();
        let outcome = parse_object(File::open(&path).unwrap(), &job, &mut sink)
            .unwrap_or_else(|e| panic!("{}: {e}", row.file));
        assert!(
            outcome.stream_error.is_none(),
            "{}: {:?}",
            row.file,
            outcome.stream_error
        );

        let (want_rejects, empty_objects) = EXCEPTIONS
            .iter()
            .find(|(f, ..)| *f == row.file)
            .map(|(_, r, e, _)| (*r, *e))
            .unwrap_or((0, 0));
        let records = sink.records.len() as u64;
        let rejects = sink.rejects.len() as u64;
        if rejects != want_rejects || records + rejects + empty_objects != row.expected {
            failures.push(format!(
                "{}: manifest {} = {records} records + {rejects} rejects + {empty_objects} empty objects expected (want {want_rejects} rejects); rejects: {:?}",
                row.file,
                row.expected,
                sink.rejects.iter().map(|r| &r.reason).collect::<Vec<_>>()
            ));
        }
        if want_format.is_none() && outcome.format.is_some() && records > 0 {
            failures.push(format!("{}: a digest produced records", row.file));
        }
        for (i, record) in sink.records.iter().enumerate() {
            if let Err(e) = check_record(record) {
                failures.push(format!("{} record {i}: {e}", row.file));
            }
            if record.time.is_none() {
                failures.push(format!("{} record {i}: no event time", row.file));
            }
            let from_key =
                record.get_str(TIME_GENERATED_FROM) == Some(TimeOrigin::ObjectKey.name());
            if from_key != timed_by_key {
                failures.push(format!(
                    "{} record {i}: TimeGeneratedFrom {:?}",
                    row.file,
                    record.get_str(TIME_GENERATED_FROM)
                ));
            }
            if let Some(f) = want_format {
                // A CloudWatch envelope's messages become rows of their own format.
                if f != Format::CloudWatch && !format_log_types(f).contains(&record.log_type) {
                    failures.push(format!(
                        "{} record {i}: log type {} from format {f}",
                        row.file, record.log_type
                    ));
                }
            }
        }
        for reject in &sink.rejects {
            assert!(
                !reject.raw.is_empty(),
                "{}: reject without raw text",
                row.file
            );
            assert_eq!(reject.source_object, key);
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

fn format_log_types(f: Format) -> Vec<s3_sentinel_connector::LogType> {
    use s3_sentinel_connector::LogType::*;
    match f {
        Format::CloudTrail => vec![CloudTrail],
        Format::VpcFlow => vec![VpcFlow, TransitGatewayFlow],
        Format::ElbAccess => vec![Alb, AlbConnection, Nlb, ClassicElb],
        Format::CloudFront => vec![CloudFront],
        Format::S3Access => vec![S3Access],
        Format::Waf => vec![Waf],
        Format::GuardDuty => vec![GuardDuty],
        Format::SecurityHub => vec![SecurityHub],
        Format::Route53Resolver => vec![Route53Resolver],
        Format::NetworkFirewall => vec![
            NetworkFirewallAlert,
            NetworkFirewallFlow,
            NetworkFirewallTls,
        ],
        Format::CloudWatch => vec![CloudWatch],
        Format::GenericJson => vec![GenericJson],
        Format::Text => vec![Text],
    }
}

/// The samples' CloudTrail files are named like AWS deliveries: detection by key alone
/// must get them right, and the digest must be skipped by content when its name says
/// nothing.
#[test]
fn keys_and_digests() {
    let Some(shared) = common::shared_dir() else {
        return;
    };
    let dir = shared.join("samples/aws");
    let named = dir.join(
        "cloudtrail/cloudsnitch_333333333333_CloudTrail_us-east-1_20250306T0320Z_ZgdYr0lP8M9fWEH8.json",
    );
    assert_eq!(
        detect::detect_key(&named.to_string_lossy()),
        Some(Detection::Parse(Format::CloudTrail))
    );
    let digest = dir.join("cloudtrail-digest/elastic_test-cloudtrail-digest-json.log");
    let key = digest.to_string_lossy().into_owned();
    let mut sink = Collect::default();
    let outcome = parse_object(
        File::open(&digest).unwrap(),
        &ObjectJob::new(key.clone(), key),
        &mut sink,
    )
    .unwrap();
    assert!(
        outcome
            .skipped
            .as_deref()
            .is_some_and(|r| r.contains("digest")),
        "{outcome:?}"
    );
    assert!(sink.records.is_empty() && sink.rejects.is_empty());
}

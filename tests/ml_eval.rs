//! Evaluation of the default models on real data in `../shared` (skipped without it).
//! Prints the figures; asserts only that they were computed. Run with
//! `cargo test --release --test ml_eval -- --nocapture`; set `S3_SENTINEL_MODELS=DIR` to
//! evaluate another model directory instead of the embedded defaults.
//!
//! - CloudTrail: the 310 events recorded by Stratus Red Team while detonating 35 attack
//!   techniques, their `userAgent` rewritten to ordinary client values (the tool names
//!   itself there) and their `awsRegion` (anonymized by the dataset into names like
//!   `us-north-2r`) set to `us-east-1`, mixed with benign CloudTrail from the project's
//!   generator run with a seed other than the training seed.
//! - BGL (loghub-2k): alert lines (Label not `-`) against the rest, label column removed.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use s3_sentinel_connector::enrich::{Connector, Priority};
use s3_sentinel_connector::features::catalog;
use s3_sentinel_connector::ml::labelled::parse_raw;
use s3_sentinel_connector::ml::metrics::{binary_scores, roc_auc};
use s3_sentinel_connector::ml::synth::{self, SynthConfig};
use s3_sentinel_connector::ml::{Category, artifacts};
use s3_sentinel_connector::record::{LogType, Record};

/// Client strings of ordinary tools, assigned round-robin to the attack events.
const ORDINARY_AGENTS: &[&str] = &[
    "aws-cli/2.15.30 md/awscrt#0.19.19 ua/2.0 os/linux#6.5.0 md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe",
    "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#5.10.213 md/arch#x86_64 lang/python#3.12.2 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.69",
    "aws-sdk-go-v2/1.26.1 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64",
];

/// A seed other than the default models' training seed.
const BENIGN_SEED: u64 = 7;

fn connector() -> Connector {
    match std::env::var_os("S3_SENTINEL_MODELS") {
        Some(dir) => Connector::with_models(
            artifacts::load_dir(Path::new(&dir)).expect("models from S3_SENTINEL_MODELS"),
        ),
        None => Connector::new().expect("embedded models"),
    }
}

fn stratus_events(dir: &Path, rewrite_region: bool) -> Vec<(String, Record)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let technique = file.file_stem().unwrap().to_string_lossy().to_string();
        let events: Vec<serde_json::Value> =
            serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        for mut event in events {
            let agent = ORDINARY_AGENTS[out.len() % ORDINARY_AGENTS.len()];
            event["userAgent"] = serde_json::json!(agent);
            if rewrite_region {
                event["awsRegion"] = serde_json::json!("us-east-1");
            }
            let record = parse_raw(LogType::CloudTrail, &event.to_string(), None, "stratus")
                .unwrap_or_else(|e| panic!("{technique}: {e}"));
            out.push((technique.clone(), record));
        }
    }
    out
}

fn benign_cloudtrail(n: usize) -> Vec<Record> {
    let items = synth::generate(&SynthConfig {
        seed: BENIGN_SEED,
        ..SynthConfig::default()
    });
    items
        .iter()
        .filter(|i| i.log_type == LogType::CloudTrail && i.label == Category::Normal)
        .take(n)
        .map(|i| parse_raw(i.log_type, i.raw.text(), None, "benign").unwrap())
        .collect()
}

fn share_high(p: &[Priority]) -> f64 {
    p.iter().filter(|p| **p >= Priority::High).count() as f64 / p.len().max(1) as f64
}

#[test]
fn cloudtrail_attacks_against_benign_activity() {
    let Some(shared) = common::shared_dir() else {
        return;
    };
    let dir = shared.join("datasets/cloudtrail-stratus");
    let connector = connector();
    let benign = benign_cloudtrail(20_000);
    let benign_priorities = connector.get_priorities(&benign).unwrap();
    let benign_anomalies = connector.detect_anomalies(&benign).unwrap();
    println!(
        "models {}; benign CloudTrail events: {} (generator seed {BENIGN_SEED})",
        connector.model_version(),
        benign.len()
    );

    for rewrite_region in [true, false] {
        let attacks = stratus_events(&dir, rewrite_region);
        let records: Vec<Record> = attacks.iter().map(|(_, r)| r.clone()).collect();
        let priorities = connector.get_priorities(&records).unwrap();
        let anomalies = connector.detect_anomalies(&records).unwrap();
        let mut positive = vec![true; records.len()];
        positive.extend(vec![false; benign.len()]);
        let priority_scores: Vec<f64> = priorities
            .iter()
            .chain(&benign_priorities)
            .map(|p| p.priority_score)
            .collect();
        let anomaly_scores: Vec<f64> = anomalies
            .iter()
            .chain(&benign_anomalies)
            .map(|a| a.anomaly_score)
            .collect();
        let auc_priority = roc_auc(&priority_scores, &positive).unwrap();
        let auc_anomaly = roc_auc(&anomaly_scores, &positive).unwrap();
        let attack_bands: Vec<Priority> = priorities.iter().map(|p| p.priority).collect();
        let benign_bands: Vec<Priority> = benign_priorities.iter().map(|p| p.priority).collect();
        println!(
            "\nstratus attacks ({} events), awsRegion {}:",
            records.len(),
            if rewrite_region {
                "set to us-east-1"
            } else {
                "as anonymized in the dataset"
            }
        );
        println!("  ROC-AUC PriorityScore {auc_priority:.4}, AnomalyScore {auc_anomaly:.4}");
        println!(
            "  attacks at High or Critical: {:.1}%; benign at High or Critical: {:.2}%",
            share_high(&attack_bands) * 100.0,
            share_high(&benign_bands) * 100.0
        );
        let mut bands: BTreeMap<Priority, usize> = BTreeMap::new();
        for b in &attack_bands {
            *bands.entry(*b).or_default() += 1;
        }
        println!("  attack priority bands: {bands:?}");
        let flagged = anomalies.iter().filter(|a| a.is_anomaly).count();
        let benign_flagged = benign_anomalies.iter().filter(|a| a.is_anomaly).count();
        println!(
            "  IsAnomaly: {flagged}/{} attacks, {benign_flagged}/{} benign",
            records.len(),
            benign.len()
        );

        // Events whose API call is in no technique group of the catalogue: what the
        // models make of attack traffic that looks routine.
        let uncatalogued: Vec<usize> = records
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                let source = catalog::service_of(r.get_str("EventSource").unwrap_or(""));
                let t = catalog::tactics(
                    source,
                    r.get_str("EventName").unwrap_or(""),
                    r.get_str("RequestParameters"),
                );
                !t.any() && !t.discovery
            })
            .map(|(i, _)| i)
            .collect();
        let mut sub_scores: Vec<f64> = uncatalogued
            .iter()
            .map(|&i| priorities[i].priority_score)
            .collect();
        let mut sub_positive = vec![true; sub_scores.len()];
        sub_scores.extend(benign_priorities.iter().map(|p| p.priority_score));
        sub_positive.extend(vec![false; benign.len()]);
        println!(
            "  attack events outside the API catalogue: {} of {}, ROC-AUC PriorityScore {:.4}",
            uncatalogued.len(),
            records.len(),
            roc_auc(&sub_scores, &sub_positive).unwrap()
        );

        if rewrite_region {
            // Per technique: the highest priority reached (what an analyst would see).
            let mut per_technique: BTreeMap<&str, (f64, usize)> = BTreeMap::new();
            for ((technique, _), p) in attacks.iter().zip(&priorities) {
                let e = per_technique.entry(technique.as_str()).or_insert((0.0, 0));
                e.0 = e.0.max(p.priority_score);
                e.1 += 1;
            }
            let detected = per_technique.values().filter(|(s, _)| *s >= 0.6).count();
            println!(
                "  techniques with at least one event at High or Critical: {detected} of {}",
                per_technique.len()
            );
            for (t, (max, n)) in &per_technique {
                println!("    {t:<62} {n:>4} events, max PriorityScore {max:.3}");
            }
            assert!(auc_priority > 0.0 && auc_anomaly > 0.0);
        }
    }
}

#[test]
fn bgl_alert_lines() {
    let Some(shared) = common::shared_dir() else {
        return;
    };
    let dir = shared.join("datasets/loghub-2k/BGL");
    let raw = std::fs::read_to_string(dir.join("BGL_2k.log")).unwrap();
    let csv = std::fs::read_to_string(dir.join("BGL_2k.log_structured_corrected.csv")).unwrap();
    // Level is the 10th CSV column; Content may contain commas but comes after it.
    let levels: Vec<String> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(9).unwrap_or("").to_string())
        .collect();
    let mut records = Vec::new();
    let mut alert = Vec::new();
    for line in raw.lines() {
        let (label, rest) = line.split_once(' ').unwrap();
        alert.push(label != "-");
        records.push(parse_raw(LogType::Text, rest, None, "bgl").unwrap());
    }
    assert_eq!(levels.len(), records.len());
    let connector = connector();
    // In production order, in batches, so the adaptive threshold learns as it goes.
    let mut scores = Vec::new();
    let mut is_anomaly = Vec::new();
    let mut categories = Vec::new();
    for chunk in records.chunks_mut(200) {
        connector.enrich(chunk).unwrap();
        for r in chunk.iter() {
            scores.push(r.get("AnomalyScore").unwrap().as_f64().unwrap());
            is_anomaly.push(r.get("IsAnomaly").unwrap().as_bool().unwrap());
            categories.push(r.get_str("LogCategory").unwrap().to_string());
        }
    }
    let auc = roc_auc(&scores, &alert).unwrap();
    let decision: Vec<f64> = is_anomaly.iter().map(|b| f64::from(u8::from(*b))).collect();
    let auc_decision = roc_auc(&decision, &alert).unwrap();
    let s = binary_scores(&is_anomaly, &alert);
    println!(
        "BGL: {} lines, {} alerts; ROC-AUC of AnomalyScore {auc:.4}, of IsAnomaly {auc_decision:.4}; IsAnomaly precision {:.3} recall {:.3} F1 {:.3}; threshold after the run {:.4}",
        records.len(),
        alert.iter().filter(|a| **a).count(),
        s.precision,
        s.recall,
        s.f1,
        connector.enricher().anomaly_threshold(LogType::Text)
    );
    let mut dist: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (level, category) in levels.iter().zip(&categories) {
        if matches!(level.as_str(), "ERROR" | "FATAL" | "SEVERE" | "FAILURE") {
            *dist.entry((level.clone(), category.clone())).or_default() += 1;
        }
    }
    println!("LogCategory of ERROR/FATAL/SEVERE lines: {dist:?}");
    assert!(auc > 0.0);
}

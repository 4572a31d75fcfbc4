//! Evaluation of the default models on real data in `../shared` (skipped without it).
//! Prints the figures; asserts only that they were computed. Run with
//! `cargo test --release --test ml_eval -- --nocapture`; set `S3_SENTINEL_MODELS=DIR` to
//! evaluate another model directory instead of the embedded defaults.
//!
//! - CloudTrail: the 310 events recorded by Stratus Red Team while detonating 35 attack
//!   techniques, their `userAgent` rewritten to ordinary client values (the tool names
//!   itself there) and their `awsRegion` (anonymized by the dataset into names like
//!   `us-north-2r`) set to `us-east-1`, injected into two weeks of benign CloudTrail of an
//!   organisation from the project's generator (run with a seed other than the training
//!   seed, attack scenarios left out): each technique keeps its time of day and its
//!   pacing and lands on one of days 5 to 14. The stream goes through the pattern stage in
//!   5-minute objects, as in the function, then the models; events of the first 3 days
//!   (history the pattern stage learns from) are not scored. The same records are also
//!   scored one by one without the pattern stage, for comparison.
//! - Rule-derived events: for each SigmaHQ rule (`../shared/detection-rules`) of level
//!   medium or above, an event that matches it and near misses that do not (the same call
//!   with one condition broken, its exclusion filter met, or a sibling read), each scored
//!   alone. The embedded rule pack is the project's own, written without these rules, so
//!   this measures how the project's knowledge carries to someone else's.
//! - BGL (loghub-2k): alert lines (Label not `-`) against the rest, label column removed,
//!   through the pattern stage then the models.

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use s3_sentinel_connector::AnalyzerConfig;
use s3_sentinel_connector::Category;
use s3_sentinel_connector::analyze_as_delivered;
use s3_sentinel_connector::artifacts;
use s3_sentinel_connector::catalog;
use s3_sentinel_connector::parse_raw;
use s3_sentinel_connector::{Behaviour, BehaviourConfig, behaviour_flags, principal_of};
use s3_sentinel_connector::{BundledRule, RuleBundle, RulesEntry, sha256_hex};
use s3_sentinel_connector::{Connector, ModelSet, Priority, embedded};
use s3_sentinel_connector::{read_rule_dir, rule_events};

use s3_sentinel_connector::{Artifacts, Provenance, train_and_export};
use s3_sentinel_connector::{Dataset, Extractor, RulePack, TrainConfig, history};
use s3_sentinel_connector::{LogType, Record};
use s3_sentinel_connector::{SynthConfig, synth};
use s3_sentinel_connector::{binary_scores, roc_auc};

/// Client strings of ordinary tools, assigned round-robin to the attack events.
const ORDINARY_AGENTS: &[&str] = &[
    "aws-cli/2.15.30 md/awscrt#0.19.19 ua/2.0 os/linux#6.5.0 md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe",
    "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#5.10.213 md/arch#x86_64 lang/python#3.12.2 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.69",
    "aws-sdk-go-v2/1.26.1 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64",
];

/// A seed other than the default models' training seed.
const BENIGN_SEED: u64 = 7;
/// Days of history before scoring starts.
const WARM_UP_DAYS: i64 = 3;
/// Attacks land on days `WARM_UP_DAYS + 1 ..= 14`.
const ATTACK_DAYS: i64 = 10;

fn connector() -> Connector {
    match std::env::var_os("S3_SENTINEL_MODELS") {
        Some(dir) => Connector::with_models(
            artifacts::load_dir(Path::new(&dir)).expect("models from S3_SENTINEL_MODELS"),
        ),
        None => Connector::new().expect("embedded models"),
    }
}

/// What an event of the evaluation stream is.
#[derive(Debug, Clone, PartialEq)]
enum Truth {
    Attack(String),
    Benign,
    /// Operational trouble: part of the stream, neither attack nor benign in the figures.
    Other,
}

fn stratus_events(dir: &Path, rewrite_region: bool, start: DateTime<Utc>) -> Vec<(Truth, Record)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let n_files = files.len() as i64;
    let mut out = Vec::new();
    for (k, file) in files.iter().enumerate() {
        let technique = file.file_stem().unwrap().to_string_lossy().to_string();
        let events: Vec<serde_json::Value> =
            serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
        let time = |e: &serde_json::Value| -> DateTime<Utc> {
            e["eventTime"].as_str().unwrap().parse().unwrap()
        };
        let first = events.iter().map(time).min().unwrap();
        let day = start + Duration::days(WARM_UP_DAYS + 1 + k as i64 * ATTACK_DAYS / n_files);
        let shift = Duration::days((day.date_naive() - first.date_naive()).num_days());
        for mut event in events {
            let at = time(&event) + shift;
            event["eventTime"] = serde_json::json!(at.format("%Y-%m-%dT%H:%M:%SZ").to_string());
            let agent = ORDINARY_AGENTS[out.len() % ORDINARY_AGENTS.len()];
            event["userAgent"] = serde_json::json!(agent);
            if rewrite_region {
                event["awsRegion"] = serde_json::json!("us-east-1");
            }
            let record = parse_raw(LogType::CloudTrail, &event.to_string(), None, "stratus")
                .unwrap_or_else(|e| panic!("{technique}: {e}"));
            out.push((Truth::Attack(technique.clone()), record));
        }
    }
    out
}

fn benign_cloudtrail() -> Vec<(Truth, Record)> {
    let items = synth::generate(&SynthConfig {
        seed: BENIGN_SEED,
        ..SynthConfig::default()
    });
    items
        .iter()
        .filter(|i| i.log_type == LogType::CloudTrail && !i.scenario.starts_with("attack/"))
        .map(|i| {
            let truth = if i.label == Category::Normal {
                Truth::Benign
            } else {
                Truth::Other
            };
            (
                truth,
                parse_raw(i.log_type, i.raw.text(), None, "benign").unwrap(),
            )
        })
        .collect()
}

fn share_high(p: &[Priority]) -> f64 {
    p.iter().filter(|p| **p >= Priority::High).count() as f64 / p.len().max(1) as f64
}

/// Scores of the attack events and of the benign ones, in stream order.
struct Scored {
    attack: Vec<(String, Record, f64, f64, Priority)>,
    /// PriorityScore, AnomalyScore, band, and for those at High or above what put them
    /// there (call, rules, behaviour flags).
    benign: Vec<(f64, f64, Priority, Option<String>)>,
    /// Every record's PriorityScore, in stream order.
    all_priority: Vec<f64>,
}

fn score(connector: &Connector, stream: &[(Truth, Record)], scored_from: DateTime<Utc>) -> Scored {
    let records: Vec<Record> = stream.iter().map(|(_, r)| r.clone()).collect();
    let priorities = connector.get_priorities(&records).unwrap();
    let anomalies = connector.detect_anomalies(&records).unwrap();
    let mut out = Scored {
        attack: Vec::new(),
        benign: Vec::new(),
        all_priority: priorities.iter().map(|p| p.priority_score).collect(),
    };
    for (i, (truth, record)) in stream.iter().enumerate() {
        let (p, a) = (&priorities[i], &anomalies[i]);
        match truth {
            Truth::Attack(t) => out.attack.push((
                t.clone(),
                record.clone(),
                p.priority_score,
                a.anomaly_score,
                p.priority,
            )),
            Truth::Benign if record.time.is_some_and(|t| t >= scored_from) => {
                let why = (p.priority >= Priority::High).then(|| {
                    let rules: Vec<&str> = p.detections.iter().map(|d| d.title.as_str()).collect();
                    let flags: Vec<&str> = behaviour_flags(record)
                        .unwrap_or_default()
                        .iter()
                        .map(|f| f.name())
                        .collect();
                    format!(
                        "{} {} rules {rules:?} flags {flags:?}",
                        record.get_str("EventName").unwrap_or("-"),
                        if record.get_str("ErrorCode").is_some() {
                            "(failed)"
                        } else {
                            ""
                        },
                    )
                });
                out.benign
                    .push((p.priority_score, a.anomaly_score, p.priority, why))
            }
            _ => {}
        }
    }
    out
}

fn auc(attack: &[f64], benign: &[f64]) -> f64 {
    let scores: Vec<f64> = attack.iter().chain(benign).copied().collect();
    let mut positive = vec![true; attack.len()];
    positive.extend(vec![false; benign.len()]);
    roc_auc(&scores, &positive).unwrap()
}

fn report(s: &Scored, details: bool) -> f64 {
    let attack_p: Vec<f64> = s.attack.iter().map(|a| a.2).collect();
    let attack_a: Vec<f64> = s.attack.iter().map(|a| a.3).collect();
    let benign_p: Vec<f64> = s.benign.iter().map(|b| b.0).collect();
    let benign_a: Vec<f64> = s.benign.iter().map(|b| b.1).collect();
    let auc_priority = auc(&attack_p, &benign_p);
    let auc_anomaly = auc(&attack_a, &benign_a);
    let attack_bands: Vec<Priority> = s.attack.iter().map(|a| a.4).collect();
    let benign_bands: Vec<Priority> = s.benign.iter().map(|b| b.2).collect();
    println!(
        "  {} attack events, {} benign events scored",
        s.attack.len(),
        s.benign.len()
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
    if !details {
        return auc_priority;
    }
    // Events whose API call is in no technique group of the catalogue: what the models
    // make of attack traffic that looks routine.
    let uncatalogued: Vec<f64> = s
        .attack
        .iter()
        .filter(|(_, r, ..)| {
            let source = catalog::service_of(r.get_str("EventSource").unwrap_or(""));
            let t = catalog::tactics(
                source,
                r.get_str("EventName").unwrap_or(""),
                r.get_str("RequestParameters"),
            );
            !t.any() && !t.discovery
        })
        .map(|a| a.2)
        .collect();
    println!(
        "  attack events outside the API catalogue: {} of {}, ROC-AUC PriorityScore {:.4}",
        uncatalogued.len(),
        s.attack.len(),
        auc(&uncatalogued, &benign_p)
    );
    // Per technique: the highest priority reached (what an analyst would see).
    let mut per_technique: BTreeMap<&str, (f64, usize)> = BTreeMap::new();
    for (t, _, p, ..) in &s.attack {
        let e = per_technique.entry(t.as_str()).or_insert((0.0, 0));
        e.0 = e.0.max(*p);
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
    // The calls the attack events below High make, with the behaviour flags they carried:
    // what a per-principal history or a rule would still have to reach.
    let mut below: BTreeMap<String, (usize, BTreeMap<String, usize>)> = BTreeMap::new();
    for (_, r, _, _, band) in &s.attack {
        if *band >= Priority::High {
            continue;
        }
        let e = below
            .entry(r.get_str("EventName").unwrap_or("-").to_string())
            .or_default();
        e.0 += 1;
        for f in behaviour_flags(r).unwrap_or_default() {
            *e.1.entry(f.name().to_string()).or_default() += 1;
        }
    }
    let mut below: Vec<_> = below.into_iter().collect();
    below.sort_by_key(|b| std::cmp::Reverse(b.1.0));
    println!("  attack events below High, by call (behaviour flags):");
    for (call, (n, flags)) in below.iter().take(25) {
        println!("    {n:>4} {call:<40} {flags:?}");
    }
    // What puts benign events at High or above: the analyst's false alarms.
    let mut benign_high: BTreeMap<&str, usize> = BTreeMap::new();
    for why in s.benign.iter().filter_map(|b| b.3.as_deref()) {
        *benign_high.entry(why).or_default() += 1;
    }
    let mut benign_high: Vec<_> = benign_high.into_iter().collect();
    benign_high.sort_by_key(|b| std::cmp::Reverse(b.1));
    println!("  benign events at High or Critical, by call (rules, behaviour flags):");
    for (why, n) in benign_high.iter().take(15) {
        println!("    {n:>4} {why}");
    }
    let mut lowest: Vec<&(String, Record, f64, f64, Priority)> = s.attack.iter().collect();
    lowest.sort_by(|a, b| a.2.total_cmp(&b.2));
    println!("  lowest-ranked attack events:");
    for (t, r, p, a, _) in lowest.iter().take(8) {
        println!(
            "    {p:.3} (anomaly {a:.3}) {} by {} in {t}; pattern flags {}",
            r.get_str("EventName").unwrap_or("-"),
            r.get_str("UserIdentityType").unwrap_or("-"),
            r.get_str("PatternFlags").unwrap_or("-"),
        );
    }
    auc_priority
}

#[test]
fn cloudtrail_attacks_against_benign_activity() {
    let Some(shared) = common::shared_dir() else {
        return;
    };
    let dir = shared.join("datasets/cloudtrail-stratus");
    let connector = connector();
    let start = SynthConfig::default().start;
    let scored_from = start + Duration::days(WARM_UP_DAYS);
    let benign = benign_cloudtrail();
    println!(
        "models {}; benign CloudTrail: {} events over 14 days (generator seed {BENIGN_SEED}), scored from day {}",
        connector.model_version(),
        benign.len(),
        WARM_UP_DAYS + 1
    );
    for rewrite_region in [true, false] {
        let mut stream = benign.clone();
        stream.extend(stratus_events(&dir, rewrite_region, start));
        stream.sort_by_key(|(_, r)| r.time);
        let region = if rewrite_region {
            "set to us-east-1"
        } else {
            "as anonymized in the dataset"
        };
        println!("\nstratus attacks, awsRegion {region}, one record at a time (no pattern stage):");
        report(&score(&connector, &stream, scored_from), false);

        let mut records: Vec<Record> = stream.iter().map(|(_, r)| r.clone()).collect();
        analyze_as_delivered(&mut records, AnalyzerConfig::default());
        for ((_, r), analyzed) in stream.iter_mut().zip(records) {
            *r = analyzed;
        }
        println!("stratus attacks, awsRegion {region}, through the pattern stage (as deployed):");
        let auc_priority = report(&score(&connector, &stream, scored_from), rewrite_region);
        assert!(auc_priority > 0.0);
    }
}

/// The busiest principal of the benign traffic: its identity block, its most common
/// source address and its most common client.
fn busiest_principal() -> (String, serde_json::Value, String, String) {
    let items = synth::generate(&SynthConfig {
        seed: BENIGN_SEED,
        ..SynthConfig::default()
    });
    let mut calls: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    for i in &items {
        if i.log_type != LogType::CloudTrail || i.scenario.starts_with("attack/") {
            continue;
        }
        let record = parse_raw(i.log_type, i.raw.text(), None, "benign").unwrap();
        if let Some(p) = principal_of(&record) {
            calls
                .entry(p)
                .or_default()
                .push(serde_json::from_str(i.raw.text()).unwrap());
        }
    }
    let (principal, events) = calls
        .into_iter()
        .max_by_key(|(_, e)| e.len())
        .expect("benign CloudTrail has principals");
    let most_common = |field: &str| {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for e in &events {
            if let Some(v) = e[field].as_str() {
                *counts.entry(v.to_string()).or_default() += 1;
            }
        }
        counts.into_iter().max_by_key(|(_, n)| *n).unwrap().0
    };
    let address = most_common("sourceIPAddress");
    let agent = most_common("userAgent");
    let identity = events
        .iter()
        .find(|e| e["sourceIPAddress"] == address.as_str())
        .unwrap()["userIdentity"]
        .clone();
    println!(
        "busiest benign principal: {principal} ({} calls), address {address}, client {}",
        events.len(),
        agent.split('/').next().unwrap_or("")
    );
    (principal, identity, address, agent)
}

/// (a) The Stratus detonations re-attributed to the busiest principal of the benign
/// traffic (its identity block, its usual address and client), interleaved in time: the
/// stolen-credentials case, where "a principal we have never seen" gives nothing away.
#[test]
fn stratus_attacks_under_a_busy_benign_principal() {
    let Some(shared) = common::shared_dir() else {
        return;
    };
    let dir = shared.join("datasets/cloudtrail-stratus");
    let start = SynthConfig::default().start;
    let scored_from = start + Duration::days(WARM_UP_DAYS);
    let (principal, identity, address, agent) = busiest_principal();
    let account = identity["accountId"].as_str().unwrap_or("").to_string();
    let mut stream = benign_cloudtrail();
    let mut attacks = stratus_events(&dir, true, start);
    for (_, record) in &mut attacks {
        let mut event: serde_json::Value =
            serde_json::from_str(&record.to_json()).expect("record JSON");
        // Rebuild from the raw event, not the record: parse_raw wants CloudTrail.
        event = serde_json::json!({
            "eventVersion": "1.09",
            "userIdentity": identity,
            "eventTime": event["EventTime"],
            "eventSource": event["EventSource"],
            "eventName": event["EventName"],
            "awsRegion": "us-east-1",
            "sourceIPAddress": address,
            "userAgent": agent,
            "errorCode": event.get("ErrorCode"),
            "errorMessage": event.get("ErrorMessage"),
            "requestParameters": event.get("RequestParameters")
                .and_then(|v| v.as_str())
                .and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok()),
            "responseElements": event.get("ResponseElements")
                .and_then(|v| v.as_str())
                .and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok()),
            "readOnly": event["ReadOnly"],
            "eventType": "AwsApiCall",
            "managementEvent": true,
            "recipientAccountId": account,
            "eventID": event["AwsEventId"],
        });
        *record = parse_raw(LogType::CloudTrail, &event.to_string(), None, "stratus")
            .expect("re-attributed event");
    }
    stream.extend(attacks);
    stream.sort_by_key(|(_, r)| r.time);
    let mut records: Vec<Record> = stream.iter().map(|(_, r)| r.clone()).collect();
    analyze_as_delivered(&mut records, AnalyzerConfig::default());
    let without: Vec<Record> = records.clone();
    let mut behaviour = Behaviour::new(BehaviourConfig::default());
    for object in records.chunk_by_mut(|a, b| {
        a.time.map(|t| t.timestamp() / 300) == b.time.map(|t| t.timestamp() / 300)
    }) {
        behaviour.analyze(object);
    }
    let mut flagged: BTreeMap<String, [usize; 2]> = BTreeMap::new();
    let mut totals = [0usize; 2];
    for ((truth, _), r) in stream.iter().zip(&records) {
        let k = match truth {
            Truth::Attack(_) => 1,
            Truth::Benign => 0,
            Truth::Other => continue,
        };
        totals[k] += 1;
        for f in behaviour_flags(r).unwrap_or_default() {
            flagged.entry(f.name().to_string()).or_default()[k] += 1;
        }
    }
    println!(
        "behaviour flags (benign of {}, attack of {}): {flagged:?}",
        totals[0], totals[1]
    );
    let before: Vec<Record> = records
        .iter()
        .filter(|r| r.time.is_some_and(|t| t < scored_from))
        .cloned()
        .collect();
    let attacks_before = stream
        .iter()
        .filter(|(t, r)| matches!(t, Truth::Attack(_)) && r.time.is_some_and(|t| t < scored_from))
        .count();
    println!(
        "\nthe anomaly model learning this deployment's first {WARM_UP_DAYS} days ({} records, {attacks_before} of them attacks), on the same base data:",
        before.len()
    );
    let scored: Vec<(Truth, Record)> = stream
        .iter()
        .map(|(t, _)| t.clone())
        .zip(records.iter().cloned())
        .collect();
    for (name, connector) in per_deployment_sets(before) {
        println!("stratus attacks as {principal}, {name}:");
        report(&score(&connector, &scored, scored_from), false);
    }

    let connector = connector();
    for (name, analyzed) in [
        ("with behaviour (as deployed)", records),
        ("without behaviour (pattern stage only)", without),
    ] {
        let scored: Vec<(Truth, Record)> = stream
            .iter()
            .map(|(t, _)| t.clone())
            .zip(analyzed)
            .collect();
        println!("\nstratus attacks as {principal}, {name}:");
        let s = score(&connector, &scored, scored_from);
        let auc_priority = report(&s, name.starts_with("with"));
        let own: Vec<f64> = scored
            .iter()
            .zip(&s.all_priority)
            .filter(|((t, r), _)| {
                *t == Truth::Benign
                    && principal_of(r).as_deref() == Some(principal.as_str())
                    && r.time.is_some_and(|t| t >= scored_from)
            })
            .map(|(_, p)| *p)
            .collect();
        let attack: Vec<f64> = s.attack.iter().map(|a| a.2).collect();
        println!(
            "  against the same principal's own benign calls ({}): ROC-AUC PriorityScore {:.4}",
            own.len(),
            auc(&attack, &own)
        );
        assert!(auc_priority > 0.0);
    }
}

/// Scale of the generated base data of [`per_deployment_sets`]: small, so the test trains
/// in seconds; both sets share it, so the difference is the history's.
const BASE_SCALE: f64 = 0.1;

/// Two sets trained on the same generated base data: one without history, one whose
/// anomaly model learned the families `history` covers from it (as `train --history`).
fn per_deployment_sets(history: Vec<Record>) -> Vec<(&'static str, Connector)> {
    static BASE: std::sync::OnceLock<(Dataset, Artifacts)> = std::sync::OnceLock::new();
    let train = |base: &Dataset, own: &Dataset| {
        train_and_export(
            base,
            own,
            &TrainConfig::default(),
            &Provenance {
                set_version: format!("eval-{}", own.len()),
                source: "ml_eval".into(),
                labelling: "knowledge".into(),
            },
        )
        .unwrap()
    };
    let (base, base_only) = BASE.get_or_init(|| {
        let items = synth::generate(&SynthConfig {
            scale: BASE_SCALE,
            ..SynthConfig::default()
        });
        let base = synth::to_dataset(&items, &Extractor::new()).unwrap().0;
        let base_only = train(&base, &Dataset::new());
        (base, base_only)
    });
    let history = history::rows(history, &RulePack::embedded());
    println!(
        "  history: {} rows kept, {} left out as known-bad or reported errors",
        history.dataset.len(),
        history.left_out
    );
    let with_history = train(base, &history.dataset);
    [
        ("generated base only", base_only.clone()),
        ("base + the deployment's history", with_history),
    ]
    .into_iter()
    .map(|(name, set)| (name, Connector::with_models(set.load().unwrap())))
    .collect()
}

#[test]
fn sigma_rule_events_against_their_near_misses() {
    let Some(shared) = common::shared_dir() else {
        return;
    };
    let dir = shared.join("detection-rules/sigma-aws-cloudtrail");
    let files = read_rule_dir(&dir).unwrap();
    let derived = rule_events::derive(&files);
    // The same models with no rules (the models alone), the embedded pack (the project's
    // rules, written apart from these) and SigmaHQ's own pack deployed (circular: the pack
    // the events were derived from).
    let with_pack = |rules: &[(String, String)]| {
        let bundle = RuleBundle {
            rules: rules
                .iter()
                .map(|(file, yaml)| BundledRule {
                    file: file.clone(),
                    yaml: yaml.clone(),
                })
                .collect(),
        };
        let bytes = bundle.to_json();
        let mut manifest = embedded::manifest().unwrap();
        manifest.rules = Some(RulesEntry {
            file: "rules.json".into(),
            sha256: sha256_hex(&bytes),
            bytes: bytes.len() as u64,
            count: bundle.rules.len() as u64,
        });
        ModelSet::load_with_rules(
            manifest,
            embedded::ANOMALY_ONNX,
            embedded::CLASSIFIER_ONNX,
            Some(&bytes),
        )
        .unwrap()
    };
    let mut first = None;
    for (name, models) in [
        ("no rules (the models alone)", with_pack(&[])),
        ("embedded rules", embedded::load().unwrap()),
        ("SigmaHQ rules deployed (circular)", with_pack(&files)),
    ] {
        let scores = rule_events::score(models, &derived).unwrap();
        if first.is_none() {
            print!("sigma {}", scores.summary().lines().next().unwrap());
            println!();
            for (file, why) in &scores.skipped {
                println!("  skipped {file}: {why}");
            }
            first = Some(scores.matches);
        }
        let summary = scores.summary();
        println!("  {name}:{}", summary.lines().nth(1).unwrap());
        assert!(scores.matches >= 20 && scores.near_misses >= scores.matches);
        assert!(scores.priority_roc_auc.is_some());
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
    let mut analyzed = records.clone();
    analyze_as_delivered(&mut analyzed, AnalyzerConfig::default());
    // The anomaly model learning BGL's first half (alerts included, as a deployment's
    // history would hold them), scored on the second half only.
    let half = analyzed.len() / 2;
    println!("BGL, the anomaly model learning the first {half} lines, second half scored:");
    for (name, connector) in per_deployment_sets(analyzed[..half].to_vec()) {
        bgl_figures_with(
            &connector,
            name,
            analyzed[half..].to_vec(),
            &alert[half..],
            &levels[half..],
        );
    }
    for (name, records) in [
        ("one line at a time (no pattern stage)", records),
        ("through the pattern stage (as deployed)", analyzed),
    ] {
        bgl_figures(name, records, &alert, &levels);
    }
}

fn bgl_figures(name: &str, records: Vec<Record>, alert: &[bool], levels: &[String]) {
    bgl_figures_with(&connector(), name, records, alert, levels);
}

fn bgl_figures_with(
    connector: &Connector,
    name: &str,
    mut records: Vec<Record>,
    alert: &[bool],
    levels: &[String],
) {
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
    let auc = roc_auc(&scores, alert).unwrap();
    let decision: Vec<f64> = is_anomaly.iter().map(|b| f64::from(u8::from(*b))).collect();
    let auc_decision = roc_auc(&decision, alert).unwrap();
    let s = binary_scores(&is_anomaly, alert);
    println!(
        "BGL {name}: {} lines, {} alerts; ROC-AUC of AnomalyScore {auc:.4}, of IsAnomaly {auc_decision:.4}; IsAnomaly precision {:.3} recall {:.3} F1 {:.3}; threshold after the run {:.4}",
        records.len(),
        alert.iter().filter(|a| **a).count(),
        s.precision,
        s.recall,
        s.f1,
        connector.scorer().anomaly_threshold(LogType::Text)
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

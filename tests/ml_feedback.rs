//! The feedback loop: analysts' verdicts exported from Sentinel as flat rows train a new
//! set on top of a base set's training data (`s3-sentinel train --base`).

use std::io::Write as _;
use std::process::Command;

use flate2::Compression;
use flate2::write::GzEncoder;

use s3_sentinel_connector::Category;
use s3_sentinel_connector::LogType;
use s3_sentinel_connector::Manifest;
use s3_sentinel_connector::parse_raw;
use s3_sentinel_connector::{SynthConfig, synth};

const BIN: &str = env!("CARGO_BIN_EXE_s3-sentinel");

/// Runs `s3-sentinel train ARGS`, which must succeed, and returns its standard error.
fn train(args: &[&std::ffi::OsStr]) -> String {
    let output = Command::new(BIN).arg("train").args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{stderr}");
    stderr
}

#[test]
fn train_on_analyst_verdicts_on_top_of_a_base_set() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base");
    train(&[
        "--generate".as_ref(),
        "--seed".as_ref(),
        "3".as_ref(),
        "--scale".as_ref(),
        "0.02".as_ref(),
        "--model-version".as_ref(),
        "base-1".as_ref(),
        "--out".as_ref(),
        base.as_os_str(),
    ]);

    // Rows as the connector sent them, with the analyst's verdict added by the export.
    let mut export = String::new();
    for item in synth::generate(&SynthConfig {
        seed: 8,
        scale: 0.01,
        ..SynthConfig::default()
    }) {
        let record =
            parse_raw(item.log_type, item.raw.text(), item.header.as_deref(), "x").unwrap();
        let mut row: serde_json::Value = serde_json::from_str(&record.to_json()).unwrap();
        let verdict = match item.label {
            Category::CriticalSecurity => "TruePositive",
            Category::Normal => "FalsePositive",
            other => other.name(),
        };
        row["LogCategory"] = serde_json::json!("critical_security");
        row["AnalystVerdict"] = serde_json::json!(verdict);
        export.push_str(&row.to_string());
        export.push('\n');
    }
    export.push_str("{\"SourceLogType\":\"CloudTrail\",\"AnalystVerdict\":\"Undetermined\"}\n");
    let verdicts = dir.path().join("verdicts.jsonl");
    std::fs::write(&verdicts, export).unwrap();

    let out = dir.path().join("retrained");
    let stderr = train(&[
        "--model-version".as_ref(),
        "team-2".as_ref(),
        "--base".as_ref(),
        base.as_os_str(),
        "--data".as_ref(),
        verdicts.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert!(
        stderr.contains("base base-1: generator seed 3 scale 0.02, 1 data file(s)"),
        "{stderr}"
    );
    assert!(stderr.contains("undetermined"), "{stderr}");

    let manifest = Manifest::from_json(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest.set_version, "team-2");
    assert_eq!(manifest.extra["base_set_version"], "base-1");
    assert!(
        manifest.training_data.source.starts_with(
            "s3-sentinel synthetic generator, seed 3, scale 0.02, with smaller organisations"
        ),
        "{}",
        manifest.training_data.source
    );
    let base_manifest =
        Manifest::from_json(&std::fs::read(base.join("manifest.json")).unwrap()).unwrap();
    assert!(manifest.training_data.rows > base_manifest.training_data.rows);
    assert!(manifest.drift_log_types.contains_key("CloudTrail"));
}

/// `train --history`: the anomaly model learns the families the deployment's own traffic
/// has enough of (log objects and delivered rows alike), and the manifest says so.
#[test]
fn the_anomaly_model_learns_from_the_deployments_history() {
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("history");
    std::fs::create_dir_all(history.join("cloudtrail")).unwrap();
    let items = synth::generate(&SynthConfig {
        seed: 11,
        scale: 0.05,
        ..SynthConfig::default()
    });
    // CloudTrail as the trail delivers it: gzip'd objects of {"Records": [...]}.
    let events: Vec<&str> = items
        .iter()
        .filter(|i| i.log_type == LogType::CloudTrail && i.label == Category::Normal)
        .map(|i| i.raw.text())
        .collect();
    assert!(events.len() > 400, "{}", events.len());
    for (n, chunk) in events.chunks(200).enumerate() {
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        write!(gz, "{{\"Records\":[{}]}}", chunk.join(",")).unwrap();
        let path = history.join(format!("cloudtrail/{n:03}.json.gz"));
        std::fs::write(path, gz.finish().unwrap()).unwrap();
    }
    // VPC flow rows as `process` delivered them, plus one line that is not a row.
    let mut rows = String::new();
    let mut flows = 0;
    for i in items.iter().filter(|i| i.log_type == LogType::VpcFlow) {
        let record = parse_raw(i.log_type, i.raw.text(), i.header.as_deref(), "x").unwrap();
        rows.push_str(&record.to_json());
        rows.push('\n');
        flows += 1;
    }
    rows.push_str("{\"SourceLogType\": 7}\n");
    std::fs::write(history.join("flows.ndjson"), rows).unwrap();

    let out = dir.path().join("own");
    let stderr = train(&[
        "--generate".as_ref(),
        "--seed".as_ref(),
        "3".as_ref(),
        "--scale".as_ref(),
        "0.02".as_ref(),
        "--model-version".as_ref(),
        "own-1".as_ref(),
        "--history".as_ref(),
        history.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert!(stderr.contains("flows.ndjson: "), "{stderr}");
    assert!(
        stderr.contains(&format!("{flows} history records, 1 skipped")),
        "{stderr}"
    );
    let manifest = Manifest::from_json(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let learned = &manifest.training_data.history_rows_per_family;
    assert!(
        learned.get("cloudtrail").is_some_and(|n| *n > 300),
        "{learned:?}"
    );
    assert!(manifest.training_data.source.contains("deployment history"));
    // The set loads and scores as any other.
    s3_sentinel_connector::artifacts::load_dir(&out).unwrap();
}

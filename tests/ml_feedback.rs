//! The feedback loop: analysts' verdicts exported from Sentinel as flat rows train a new
//! set on top of a base set's training data (`s3-sentinel train --base`).

use std::process::Command;

use s3_sentinel_connector::Category;
use s3_sentinel_connector::Manifest;
use s3_sentinel_connector::parse_raw;
use s3_sentinel_connector::{SynthConfig, synth};

const BIN: &str = env!("CARGO_BIN_EXE_s3-sentinel");

#[test]
fn train_on_analyst_verdicts_on_top_of_a_base_set() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base");
    let status = Command::new(BIN)
        .args(["train", "--generate", "--seed", "3", "--scale", "0.02"])
        .args(["--model-version", "base-1", "--out"])
        .arg(&base)
        .status()
        .unwrap();
    assert!(status.success());

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
    let output = Command::new(BIN)
        .args(["train", "--model-version", "team-2", "--base"])
        .arg(&base)
        .arg("--data")
        .arg(&verdicts)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
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

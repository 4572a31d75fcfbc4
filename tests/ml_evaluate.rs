//! `evaluate_models`, the HTML report and `s3-sentinel evaluate` on held-out records from
//! the project's generator (a seed other than the default models' training seed).

use std::process::Command;

use s3_sentinel_connector::Record;
use s3_sentinel_connector::parse_raw;
use s3_sentinel_connector::{Category, embedded};
use s3_sentinel_connector::{EvalOptions, compare, evaluate_models};
use s3_sentinel_connector::{PLOT_IDS, render_report};
use s3_sentinel_connector::{SynthConfig, synth};

fn held_out(scale: f64) -> (Vec<Record>, Vec<Category>) {
    let items = synth::generate(&SynthConfig {
        seed: 7,
        scale,
        ..SynthConfig::default()
    });
    items
        .iter()
        .map(|i| {
            (
                parse_raw(i.log_type, i.raw.text(), i.header.as_deref(), "t").unwrap(),
                i.label,
            )
        })
        .unzip()
}

#[test]
fn evaluation_measures_every_metric_and_the_report_has_every_plot() {
    let (records, labels) = held_out(0.05);
    let models = embedded::load().unwrap();
    let options = EvalOptions {
        latency_sample: 50,
        ..EvalOptions::default()
    };
    let e = evaluate_models(&models, &records, &labels, &options).unwrap();
    assert_eq!(e.rows as usize, records.len());
    assert_eq!(e.classifier.per_class.len(), 4);
    assert_eq!(e.classifier.confusion.iter().flatten().sum::<u64>(), e.rows);
    for c in &e.classifier.per_class {
        assert!(c.support > 0, "{:?} has no held-out rows", c.category);
        assert!((0.0..=1.0).contains(&c.f1));
    }
    // The default models separate the generator's categories well.
    assert!(e.classifier.macro_f1 > 0.8, "{}", e.classifier.macro_f1);
    assert!(e.anomaly.roc_auc.unwrap() > 0.8);
    assert!(e.priority.roc_auc_critical.unwrap() > 0.9);
    assert!(!e.priority.calibration.bins.is_empty());
    assert!(e.latency.records_timed > 0 && e.latency.p99_us >= e.latency.p50_us);
    assert!(!e.feature_importance.is_empty());

    let comparison = compare(&e, &e);
    assert!(comparison.regressions(0.0).is_empty());
    let html = render_report(&e, Some((&e, &comparison))).unwrap();
    for id in PLOT_IDS {
        let start = html
            .find(&format!("<figure id=\"{id}\">"))
            .unwrap_or_else(|| panic!("no figure {id}"));
        let end = start + html[start..].find("</figure>").unwrap();
        assert!(html[start..end].contains("<svg"), "figure {id} has no plot");
    }
    // Self-contained: nothing is fetched when the file is opened.
    for needle in ["<script", "src=\"http", "href=\"http", "<link", "@import"] {
        assert!(!html.contains(needle), "report references {needle}");
    }

    // Without a baseline the comparison figure says how to get one.
    let alone = render_report(&e, None).unwrap();
    assert!(alone.contains("--baseline"));
}

#[test]
fn the_command_prints_json_and_writes_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.html");
    let output = Command::new(env!("CARGO_BIN_EXE_s3-sentinel"))
        .args(["evaluate", "--generate-seed", "11", "--scale", "0.03"])
        .args(["--baseline", "embedded", "--tolerance", "0.01", "--json"])
        .args(["--latency-sample", "20", "--report"])
        .arg(&report)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let candidate = &json["candidate"];
    for key in [
        "classifier",
        "anomaly",
        "priority",
        "confidence_calibration",
        "latency",
        "feature_importance",
    ] {
        assert!(candidate.get(key).is_some(), "{key} missing");
    }
    assert!(candidate["classifier"]["macro_f1"].is_number());
    assert!(candidate["anomaly"]["roc_auc"].is_number());
    assert!(candidate["latency"]["p99_us"].is_number());
    assert_eq!(json["regressions"], serde_json::json!([]));
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.matches("<svg").count() >= PLOT_IDS.len());

    // A labelled file with a bad line: the line is reported, the rest evaluated.
    let data = dir.path().join("labelled.jsonl");
    let mut lines = String::new();
    for item in synth::generate(&SynthConfig {
        seed: 3,
        scale: 0.02,
        ..SynthConfig::default()
    }) {
        let raw = match &item.raw {
            synth::Raw::Json(t) => t.clone(),
            synth::Raw::Line(l) => serde_json::to_string(l).unwrap(),
        };
        let mut line =
            serde_json::json!({"label": item.label.name(), "log_type": item.log_type.name()});
        line["raw"] = serde_json::from_str(&raw).unwrap();
        if let Some(h) = &item.header {
            line["header"] = serde_json::json!(h);
        }
        lines.push_str(&line.to_string());
        lines.push('\n');
    }
    lines.push_str("{\"label\":\"suspicious\",\"row\":{}}\n");
    std::fs::write(&data, lines).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_s3-sentinel"))
        .args(["evaluate", "--latency-sample", "10", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown label"), "{stderr}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("macro-F1"), "{stdout}");
    assert!(stdout.contains("1 lines skipped"), "{stdout}");
}

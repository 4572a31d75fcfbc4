//! The embedded default models, the export parity on generated data, and the enrichment
//! stage as the runner uses it.

use std::sync::Arc;

use s3_sentinel_connector::Enricher as _;
use s3_sentinel_connector::LocalDirStore;
use s3_sentinel_connector::onnx;
use s3_sentinel_connector::parse_raw;
use s3_sentinel_connector::tensors;
use s3_sentinel_connector::{Category, embedded, run_outputs};
use s3_sentinel_connector::{Connector, Priority};
use s3_sentinel_connector::{Extractor, N_FEATURES};
use s3_sentinel_connector::{LogType, Record};
use s3_sentinel_connector::{ModelSettings, ModelStage};
use s3_sentinel_connector::{SynthConfig, synth};
use s3_sentinel_connector::{TrainConfig, train};

fn cloudtrail(event: serde_json::Value) -> Record {
    parse_raw(LogType::CloudTrail, &event.to_string(), None, "test").unwrap()
}

fn user_event(source: &str, name: &str) -> Record {
    cloudtrail(serde_json::json!({
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLE", "arn": "arn:aws:iam::111122223333:user/mallory",
                         "accountId": "111122223333", "accessKeyId": "AKIAEXAMPLEEXAMPLE12", "userName": "mallory"},
        "eventTime": "2025-02-03T14:12:00Z", "eventSource": source, "eventName": name,
        "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.77",
        "userAgent": "aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0 exe/x86_64.ubuntu.22",
        "requestParameters": {"name": "org-trail"}, "responseElements": null,
        "requestID": "0b5c7f9e-1111-2222-3333-444455556666", "eventID": "9c1d2e3f-1111-2222-3333-444455556666",
        "readOnly": false, "eventType": "AwsApiCall", "managementEvent": true,
        "recipientAccountId": "111122223333", "eventCategory": "Management"
    }))
}

fn routine_read(name: &str) -> Record {
    cloudtrail(serde_json::json!({
        "eventVersion": "1.09",
        "userIdentity": {"type": "AssumedRole", "principalId": "AROAEXAMPLE:i-0abc", "arn": "arn:aws:sts::111122223333:assumed-role/web-frontend-ec2/i-0abc",
                         "accountId": "111122223333", "accessKeyId": "ASIAEXAMPLEEXAMPLE34",
                         "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLE", "arn": "arn:aws:iam::111122223333:role/web-frontend-ec2", "accountId": "111122223333", "userName": "web-frontend-ec2"},
                                            "attributes": {"creationDate": "2025-02-03T13:00:00Z", "mfaAuthenticated": "false"}}},
        "eventTime": "2025-02-03T14:10:00Z", "eventSource": "ec2.amazonaws.com", "eventName": name,
        "awsRegion": "us-east-1", "sourceIPAddress": "10.0.4.20",
        "userAgent": "aws-sdk-go-v2/1.26.1 os/linux lang/go#1.22.1",
        "requestParameters": {"instancesSet": {}, "filterSet": {}}, "responseElements": null,
        "requestID": "1b5c7f9e-1111-2222-3333-444455556666", "eventID": "8c1d2e3f-1111-2222-3333-444455556666",
        "readOnly": true, "eventType": "AwsApiCall", "managementEvent": true,
        "recipientAccountId": "111122223333", "eventCategory": "Management"
    }))
}

#[test]
fn embedded_models_load_and_match_their_manifest() {
    let models = embedded::load().expect("embedded models load");
    let manifest = embedded::manifest().unwrap();
    assert_eq!(models.version(), manifest.set_version);
    manifest
        .verify(embedded::ANOMALY_ONNX, embedded::CLASSIFIER_ONNX)
        .unwrap();
    assert!(
        manifest.drift.is_some(),
        "drift reference stored with the models"
    );
    for (key, value) in onnx::metadata(embedded::ANOMALY_ONNX).unwrap() {
        if key == "feature_schema_version" {
            assert_eq!(value, manifest.feature_schema.version.to_string());
        }
    }
}

#[test]
fn critical_cloudtrail_events_outrank_routine_reads() {
    let connector = Connector::new().unwrap();
    let critical = vec![
        user_event("cloudtrail.amazonaws.com", "StopLogging"),
        user_event("cloudtrail.amazonaws.com", "DeleteTrail"),
    ];
    let routine: Vec<Record> = [
        "DescribeInstances",
        "DescribeVolumes",
        "DescribeSecurityGroups",
    ]
    .iter()
    .map(|n| routine_read(n))
    .collect();
    let crit = connector.get_priorities(&critical).unwrap();
    let rout = connector.get_priorities(&routine).unwrap();
    let crit_anomaly = connector.detect_anomalies(&critical).unwrap();
    let rout_anomaly = connector.detect_anomalies(&routine).unwrap();
    let lowest_critical = crit.iter().map(|p| p.priority_score).fold(1.0, f64::min);
    let highest_routine = rout.iter().map(|p| p.priority_score).fold(0.0, f64::max);
    assert!(
        lowest_critical > highest_routine,
        "critical {crit:?} vs routine {rout:?}"
    );
    for p in &crit {
        assert_eq!(p.category, Category::CriticalSecurity, "{p:?}");
        assert!(p.priority >= Priority::High, "{p:?}");
    }
    for p in &rout {
        assert_eq!(p.category, Category::Normal, "{p:?}");
        assert_eq!(p.priority, Priority::Low, "{p:?}");
    }
    let lowest_critical_anomaly = crit_anomaly
        .iter()
        .map(|a| a.anomaly_score)
        .fold(1.0, f64::min);
    let highest_routine_anomaly = rout_anomaly
        .iter()
        .map(|a| a.anomaly_score)
        .fold(0.0, f64::max);
    assert!(lowest_critical_anomaly > highest_routine_anomaly);
    for a in &crit_anomaly {
        // Up to three facts behind the scores, after the rules matched and the note that
        // the principal's history was not consulted.
        let facts = a
            .reasons
            .iter()
            .filter(|r| !r.starts_with("matches detection rule") && !r.starts_with("no history"))
            .count();
        assert!((2..=3).contains(&facts), "{a:?}");
        assert!(
            a.reasons.iter().any(|r| r.contains("defense evasion")),
            "{:?}",
            a.reasons
        );
    }
}

#[test]
fn tract_reproduces_smartcore_on_held_out_generated_rows() {
    let extractor = Extractor::new();
    let training = synth::generate(&SynthConfig {
        scale: 0.12,
        ..SynthConfig::default()
    });
    let (data, _) = synth::to_dataset(&training, &extractor).unwrap();
    let models = train(
        &data,
        &TrainConfig {
            classifier_rows_per_class: 800,
            ..TrainConfig::default()
        },
    )
    .unwrap();
    // Rows from another run of the generator: never seen in training.
    let held_out = synth::generate(&SynthConfig {
        seed: 99,
        scale: 0.03,
        ..SynthConfig::default()
    });
    let (held_out, _) = synth::to_dataset(&held_out, &extractor).unwrap();
    let rows = &held_out.features;
    assert!(rows.len() / N_FEATURES > 1_000);
    let info = |kind| onnx::ModelInfo {
        kind,
        version: "parity".into(),
        description: String::new(),
    };

    let anomaly = onnx::encode(&onnx::anomaly_graph(&models.anomaly, &info("anomaly")));
    let out = run_outputs(
        &anomaly,
        rows,
        &[tensors::ANOMALY_SCORE, tensors::PROJECTION],
    )
    .unwrap();
    let reference = models.anomaly.reference(rows).unwrap();
    let max_diff = |a: &[f32], b: &[f64]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| (*x as f64 - y).abs())
            .fold(0.0, f64::max)
    };
    let score_diff = max_diff(&out[0], &reference.scores);
    let projection_diff = max_diff(&out[1], &reference.projections);
    println!(
        "max |tract - smartcore|: anomaly score {score_diff:.2e}, PCA projection {projection_diff:.2e}"
    );
    assert!(score_diff < 1e-5);
    assert!(projection_diff < 1e-5);

    let classifier = onnx::encode(&onnx::classifier_graph(
        &models.classifier,
        &info("classifier"),
    ));
    let out = run_outputs(&classifier, rows, &[tensors::PROBABILITIES]).unwrap();
    let reference = models.classifier.reference(rows).unwrap();
    let prob_diff = max_diff(&out[0], &reference.probabilities);
    println!("max |tract - smartcore|: class probabilities {prob_diff:.2e}");
    assert!(prob_diff < 1e-5);
    let agree = out[0]
        .chunks_exact(4)
        .zip(&reference.labels)
        .filter(|(p, label)| {
            let argmax = (0..4).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap();
            Category::from_index(argmax) == Some(**label)
        })
        .count();
    assert_eq!(
        agree,
        reference.labels.len(),
        "smartcore's predict agrees with tract's argmax"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runner_stage_enriches_and_keeps_thresholds_in_the_state_store() {
    let state_dir = tempfile::tempdir().unwrap();
    let models_dir = tempfile::tempdir().unwrap();
    let settings = ModelSettings {
        persist_interval: std::time::Duration::ZERO,
        ..ModelSettings::default()
    };
    let service = Arc::new(
        ModelStage::new(
            settings,
            Some(Arc::new(LocalDirStore::new(models_dir.path()))),
            Some(Arc::new(LocalDirStore::new(state_dir.path()))),
        )
        .unwrap(),
    );
    let stage = service.clone();
    let (records, alerts) = tokio::task::spawn_blocking(move || {
        let mut records = vec![
            user_event("cloudtrail.amazonaws.com", "StopLogging"),
            routine_read("DescribeInstances"),
        ];
        let alerts = stage.enrich(&mut records);
        (records, alerts)
    })
    .await
    .unwrap();
    let json: serde_json::Value = serde_json::from_str(&records[0].to_json()).unwrap();
    for column in [
        "AnomalyScore",
        "IsAnomaly",
        "AnomalyReasons",
        "LogCategory",
        "LogCategoryConfidence",
        "PriorityScore",
        "Priority",
        "ModelVersion",
    ] {
        assert!(!json[column].is_null(), "{column} missing: {json}");
    }
    assert_eq!(json["LogCategory"], "critical_security");
    assert_eq!(
        alerts.len(),
        1,
        "only the StopLogging event raises an alert"
    );
    assert_eq!(alerts[0].table.name(), "S3SentinelAlerts_CL");
    let alert: serde_json::Value = serde_json::from_str(&alerts[0].json).unwrap();
    assert_eq!(alert["SourceRecordId"], json["RecordId"]);
    // The upkeep merged the batch's scores into the state store.
    assert!(
        state_dir
            .path()
            .join(s3_sentinel_connector::THRESHOLDS_STATE_KEY)
            .exists()
    );
}

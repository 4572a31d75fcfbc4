//! Model monitoring in the enrichment service: drift counts merged into the state prefix
//! with PSI published as EMF gauges (a drift rehearsal: the generator's held-out traffic
//! is stable, attack-only traffic crosses the alarm level), inference latency per
//! record, and a shadow model set scored beside the active one without changing output.

use std::sync::Arc;
use std::time::Duration;

use s3_sentinel_connector::AnalyzerConfig;
use s3_sentinel_connector::DEFAULT_PSI_ALARM;
use s3_sentinel_connector::DRIFT_ALERT_PREFIX;
use s3_sentinel_connector::Dataset;
use s3_sentinel_connector::Enricher as _;
use s3_sentinel_connector::Extractor;
use s3_sentinel_connector::InvocationMetrics;
use s3_sentinel_connector::LocalDirStore;
use s3_sentinel_connector::Manifest;
use s3_sentinel_connector::Row;
use s3_sentinel_connector::StateStore;
use s3_sentinel_connector::StoredDrift;
use s3_sentinel_connector::StreamDeclaration;
use s3_sentinel_connector::TrainConfig;
use s3_sentinel_connector::UnknownColumns;
use s3_sentinel_connector::analyze_as_delivered;
use s3_sentinel_connector::parse_raw;
use s3_sentinel_connector::{Category, embedded};
use s3_sentinel_connector::{ModelSettings, ModelStage};
use s3_sentinel_connector::{Provenance, train_and_export};
use s3_sentinel_connector::{Record, Table};
use s3_sentinel_connector::{SynthConfig, synth};

/// Generated traffic as the models meet it in the function: through the pattern stage.
fn held_out(seed: u64, scale: f64) -> Vec<(Record, Category)> {
    let items = synth::generate(&SynthConfig {
        seed,
        scale,
        ..SynthConfig::default()
    });
    let mut records: Vec<Record> = items
        .iter()
        .map(|i| parse_raw(i.log_type, i.raw.text(), i.header.as_deref(), "t").unwrap())
        .collect();
    analyze_as_delivered(&mut records, AnalyzerConfig::default());
    records
        .into_iter()
        .zip(items.iter().map(|i| i.label))
        .collect()
}

fn settings() -> ModelSettings {
    ModelSettings {
        drift_min_rows: 100,
        ..ModelSettings::default()
    }
}

/// One invocation: enrich, merge state, publish.
async fn invocation(
    service: &ModelStage,
    store: &dyn StateStore,
    records: &mut [Record],
) -> InvocationMetrics {
    for batch in records.chunks_mut(5000) {
        service.enrich(batch);
    }
    service.save_state(store).await.unwrap();
    let mut metrics = InvocationMetrics::default();
    service.publish_metrics(&mut metrics);
    metrics
}

/// The drift alert rows the next batch would deliver.
fn drift_alerts(service: &ModelStage) -> Vec<serde_json::Value> {
    let rows: Vec<Row> = service.enrich(&mut []);
    rows.iter()
        .map(|r| serde_json::from_str::<serde_json::Value>(&r.json).unwrap())
        .filter(|v| {
            v["AlertName"]
                .as_str()
                .is_some_and(|n| n.starts_with(DRIFT_ALERT_PREFIX))
        })
        .collect()
}

fn document_gauge(metrics: &InvocationMetrics, log_type: &str, name: &str) -> Option<f64> {
    metrics
        .documents
        .iter()
        .find(|d| d.dimensions == [("LogType".to_string(), log_type.to_string())])?
        .gauges
        .iter()
        .find(|(n, _, _)| n == name)
        .map(|(_, v, _)| *v)
}

#[tokio::test(flavor = "multi_thread")]
async fn drift_rehearsal_stable_traffic_then_a_shift_crosses_the_alarm() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalDirStore::new(dir.path());
    let service = ModelStage::new(settings(), None, None).unwrap();
    let version = embedded::manifest().unwrap().set_version;

    let data = held_out(7, 0.2);
    let mut stable: Vec<Record> = data.iter().map(|(r, _)| r.clone()).collect();
    let metrics = invocation(&service, &store, &mut stable).await;
    let stable_psi = metrics.gauges["DriftMaxFeaturePsi"].0;
    let stable_score_psi = metrics.gauges["DriftScorePsi"].0;
    eprintln!("held-out traffic: max feature PSI {stable_psi:.4}, score PSI {stable_score_psi:.4}");
    for d in &metrics.documents {
        eprintln!(
            "  {:?}: rows {:?} score PSI {:.4} max feature PSI {:.4}",
            d.dimensions[0].1,
            document_gauge(&metrics, &d.dimensions[0].1, "DriftRows"),
            document_gauge(&metrics, &d.dimensions[0].1, "DriftScorePsi").unwrap(),
            document_gauge(&metrics, &d.dimensions[0].1, "DriftMaxFeaturePsi").unwrap(),
        );
    }
    assert!(
        stable_score_psi < DEFAULT_PSI_ALARM,
        "held-out score PSI {stable_score_psi}"
    );
    assert_eq!(drift_alerts(&service), Vec::<serde_json::Value>::new());
    let cloudtrail_stable = document_gauge(&metrics, "CloudTrail", "DriftMaxFeaturePsi").unwrap();
    assert!(cloudtrail_stable < DEFAULT_PSI_ALARM, "{cloudtrail_stable}");
    let latency = metrics.gauges["InferenceLatencyPerRecord"];
    assert!(latency.0 > 0.0 && latency.1 == "Microseconds");
    // Per-feature PSI goes out for the features that vary in the family's training rows.
    assert!(
        document_gauge(&metrics, "CloudTrail", "Psi.hour_of_day").is_some()
            || metrics
                .documents
                .iter()
                .any(|d| d.gauges.iter().any(|(n, _, _)| n.starts_with("Psi.")))
    );
    let emf = metrics.to_emf(0, "fn");
    assert!(emf.iter().any(|d| d.get("DriftMaxFeaturePsi").is_some()));
    assert!(emf.iter().all(|d| {
        d["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .len()
            <= 100
    }));

    // The window is merged in the state prefix: stored rows are the invocation's.
    let key = format!("drift/CloudTrail/{version}");
    let stored: StoredDrift =
        serde_json::from_slice(&store.get(&key, 1 << 20).await.unwrap().unwrap().body).unwrap();
    let cloudtrail_rows = stable
        .iter()
        .filter(|r| r.log_type.name() == "CloudTrail")
        .count() as u64;
    assert_eq!(stored.counts.rows, cloudtrail_rows);

    // The shift: a second invocation (a new process: nothing in memory) sees attack
    // traffic only; the merged window moves past the alarm level.
    let second = ModelStage::new(settings(), None, None).unwrap();
    let mut attacks: Vec<Record> = data
        .iter()
        .filter(|(_, l)| *l == Category::CriticalSecurity)
        .map(|(r, _)| r.clone())
        .collect();
    // Repeated to outweigh the stable window already merged, as a sustained campaign would.
    let copy = attacks.clone();
    for _ in 0..8 {
        attacks.extend(copy.iter().cloned());
    }
    let metrics = invocation(&second, &store, &mut attacks).await;
    let shifted = metrics.gauges["DriftMaxFeaturePsi"].0;
    let shifted_score = metrics.gauges["DriftScorePsi"].0;
    eprintln!(
        "after attack-only traffic: max feature PSI {shifted:.4}, score PSI {shifted_score:.4}"
    );
    assert!(shifted > DEFAULT_PSI_ALARM, "{shifted}");
    assert!(shifted_score > DEFAULT_PSI_ALARM, "{shifted_score}");

    // Sentinel hears of it too: the next batch carries one alert row per drifting log type
    // for the alert table, matched by the connector health rule; raised once per day.
    let alerts = drift_alerts(&second);
    let declaration = StreamDeclaration::for_table(Table::S3SentinelAlerts);
    for a in &alerts {
        declaration
            .check_row(a.as_object().unwrap(), UnknownColumns::Reject)
            .unwrap();
        eprintln!("drift alert: {} | {}", a["AlertName"], a["SourceSummary"]);
    }
    assert!(!alerts.is_empty());
    for d in &metrics.documents {
        let log_type = &d.dimensions[0].1;
        let drifting = document_gauge(&metrics, log_type, "DriftMaxFeaturePsi").unwrap()
            > DEFAULT_PSI_ALARM
            || document_gauge(&metrics, log_type, "DriftScorePsi").unwrap() > DEFAULT_PSI_ALARM;
        let alerted = alerts
            .iter()
            .any(|a| a["SourceLogType"] == log_type.as_str());
        assert_eq!(alerted, drifting, "{log_type}");
    }
    assert_eq!(drift_alerts(&second), Vec::<serde_json::Value>::new());
    // The same campaign again: log types already alerted today stay quiet (others may
    // only now cross the level).
    invocation(&second, &store, &mut attacks.clone()).await;
    for again in drift_alerts(&second) {
        assert!(
            !alerts
                .iter()
                .any(|a| a["SourceLogType"] == again["SourceLogType"]),
            "{again}"
        );
    }
    let stored: StoredDrift =
        serde_json::from_slice(&store.get(&key, 1 << 20).await.unwrap().unwrap().body).unwrap();
    assert!(stored.counts.rows > cloudtrail_rows);

    // The alarm in template.yaml watches this metric at the same default.
    let template =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml")).unwrap();
    assert!(template.contains("MetricName: DriftMaxFeaturePsi"));
    assert!(template.contains("Default: 0.2"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_shadow_set_is_scored_beside_the_active_one_without_changing_output() {
    // A genuinely different candidate: trained on a small generated sample.
    let items = synth::generate(&SynthConfig {
        seed: 5,
        scale: 0.03,
        ..SynthConfig::default()
    });
    let (data, _) = synth::to_dataset(&items, &Extractor::new()).unwrap();
    let candidate = train_and_export(
        &data,
        &Dataset::new(),
        &TrainConfig {
            classifier_rows_per_class: 300,
            ..TrainConfig::default()
        },
        &Provenance {
            set_version: "candidate-7".into(),
            source: "test".into(),
            labelling: "generator".into(),
        },
    )
    .unwrap();

    // The bucket: the embedded set active, the candidate as its shadow.
    let dir = tempfile::tempdir().unwrap();
    let mut manifest = embedded::manifest().unwrap();
    let mut shadow: Manifest = candidate.manifest.clone();
    shadow.anomaly.file = "candidate/anomaly.onnx".into();
    shadow.classifier.file = "candidate/classifier.onnx".into();
    std::fs::create_dir_all(dir.path().join("candidate")).unwrap();
    std::fs::write(
        dir.path().join(&shadow.anomaly.file),
        &candidate.anomaly_onnx,
    )
    .unwrap();
    std::fs::write(
        dir.path().join(&shadow.classifier.file),
        &candidate.classifier_onnx,
    )
    .unwrap();
    std::fs::write(dir.path().join("anomaly.onnx"), embedded::ANOMALY_ONNX).unwrap();
    std::fs::write(
        dir.path().join("classifier.onnx"),
        embedded::CLASSIFIER_ONNX,
    )
    .unwrap();
    manifest.shadow = Some(Box::new(shadow));
    std::fs::write(dir.path().join("manifest.json"), manifest.to_json()).unwrap();

    let store: Arc<dyn StateStore> = Arc::new(LocalDirStore::new(dir.path()));
    let with_shadow = ModelStage::new(
        ModelSettings {
            check_interval: Duration::from_secs(3600),
            allow_unsigned: true,
            ..settings()
        },
        Some(store),
        None,
    )
    .unwrap();
    let state_dir = tempfile::tempdir().unwrap();
    let state = LocalDirStore::new(state_dir.path());
    with_shadow.load_state(&state).await.unwrap();
    assert_eq!(
        with_shadow
            .scorer()
            .models()
            .shadow()
            .map(|s| s.version().to_string()),
        Some("candidate-7".to_string())
    );
    let without = ModelStage::new(settings(), None, None).unwrap();

    let records: Vec<Record> = held_out(11, 0.03).into_iter().map(|(r, _)| r).collect();
    let mut a = records.clone();
    let mut b = records.clone();
    let alerts_a = with_shadow.enrich(&mut a);
    let alerts_b = without.enrich(&mut b);
    let rows = |rs: &[Record]| rs.iter().map(|r| r.to_json()).collect::<Vec<_>>();
    assert_eq!(rows(&a), rows(&b), "the shadow changed the output");
    assert_eq!(alerts_a.len(), alerts_b.len());

    let mut metrics = InvocationMetrics::default();
    with_shadow.publish_metrics(&mut metrics);
    let g = |n: &str| metrics.gauges[n].0;
    eprintln!(
        "shadow candidate-7 vs active: {} records, category agreement {:.4}, IsAnomaly agreement {:.4}, priority agreement {:.4}, mean |delta AnomalyScore| {:.4}, max {:.4}",
        g("ShadowRecords"),
        g("ShadowCategoryAgreement"),
        g("ShadowIsAnomalyAgreement"),
        g("ShadowPriorityAgreement"),
        g("ShadowMeanAbsAnomalyScoreDelta"),
        g("ShadowMaxAbsAnomalyScoreDelta")
    );
    assert_eq!(g("ShadowRecords") as usize, records.len());
    for name in [
        "ShadowCategoryAgreement",
        "ShadowIsAnomalyAgreement",
        "ShadowPriorityAgreement",
    ] {
        assert!((0.0..=1.0).contains(&g(name)), "{name}");
    }
    assert!(g("ShadowMeanAbsAnomalyScoreDelta") > 0.0);
    assert!(g("ShadowCategoryAgreement") > 0.5);

    // Without a shadow there are no shadow gauges.
    let mut metrics = InvocationMetrics::default();
    without.publish_metrics(&mut metrics);
    assert!(!metrics.gauges.contains_key("ShadowRecords"));
}

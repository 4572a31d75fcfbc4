//! The pattern analyzer on real CloudTrail events recorded during attack simulations
//! (Stratus Red Team detonations in `../shared`; skipped without it). Records are built
//! with the AWSCloudTrail columns the analyzer reads.

use crate::common;

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use s3_sentinel_connector::PatternDb;
use s3_sentinel_connector::{AnalyzerConfig, PATTERN_FEATURES, PatternAnalyzer, pattern_features};
use s3_sentinel_connector::{LogType, Record};
use serde_json::Value;

fn record(event: &Value) -> Record {
    let mut r = Record::new(LogType::CloudTrail);
    r.time = event["eventTime"]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc));
    let mut text = |column: &'static str, value: &Value| match value {
        Value::String(s) => r.push(column, s.as_str()),
        Value::Null => {}
        other => r.push(column, other.to_string()),
    };
    text("EventSource", &event["eventSource"]);
    text("EventName", &event["eventName"]);
    text("ErrorCode", &event["errorCode"]);
    text("ResponseElements", &event["responseElements"]);
    text("SourceIpAddress", &event["sourceIPAddress"]);
    text("UserIdentityType", &event["userIdentity"]["type"]);
    text("UserIdentityArn", &event["userIdentity"]["arn"]);
    text(
        "UserIdentityAccessKeyId",
        &event["userIdentity"]["accessKeyId"],
    );
    r
}

#[test]
fn stratus_cloudtrail_events_get_pattern_columns() {
    let Some(shared) = common::shared_dir() else {
        return;
    };
    let dir = shared.join("datasets/cloudtrail-stratus");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut analyzer = PatternAnalyzer::new(AnalyzerConfig::default(), PatternDb::default());
    let mut all = Vec::new();
    let mut keys = HashSet::new();
    for file in &files {
        let events: Vec<Value> = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
        let mut batch: Vec<Record> = events.iter().map(record).collect();
        for e in &events {
            keys.insert((
                e["eventSource"].as_str().unwrap_or("").to_string(),
                e["eventName"].as_str().unwrap_or("").to_string(),
                e["errorCode"].as_str().map(str::to_string),
                e["userIdentity"]["type"].as_str().map(str::to_string),
            ));
        }
        let summary = analyzer.analyze(&mut batch, Utc::now());
        assert_eq!(summary.records, batch.len());
        all.extend(batch);
    }
    assert_eq!(all.len(), 310);
    let mut templates: HashMap<String, String> = HashMap::new();
    for r in &all {
        let id = r.get_str("PatternId").expect("PatternId").to_string();
        assert_eq!(id.len(), 16);
        let template = r
            .get_str("PatternTemplate")
            .expect("PatternTemplate")
            .to_string();
        assert!(template.starts_with("CloudTrail "), "{template}");
        // One id per template and one template per id.
        if let Some(t) = templates.insert(id, template.clone()) {
            assert_eq!(t, template);
        }
        let flags: Vec<String> = serde_json::from_str(r.get_str("PatternFlags").unwrap()).unwrap();
        assert!(flags.iter().all(|f| !f.is_empty()));
        let features = pattern_features(r);
        assert_eq!(features.len(), PATTERN_FEATURES);
        assert!(features.iter().all(|x| (0.0..=1.0).contains(x)));
    }
    // Structured messages are their own templates: as many as distinct identifying
    // field combinations.
    assert_eq!(templates.len(), keys.len());
    assert!(
        templates
            .values()
            .any(|t| t.contains("ConsoleLogin ok identity=IAMUser"))
    );
    let delta = analyzer.take_delta();
    assert_eq!(delta.patterns.iter().map(|p| p.count).sum::<u64>(), 310);
    assert_eq!(delta.len(), keys.len());
}

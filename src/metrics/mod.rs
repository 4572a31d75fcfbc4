//! Per-invocation metrics as CloudWatch Embedded Metric Format lines: CloudWatch turns
//! these log lines into metrics without any API call from the function.

pub mod resources;

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use serde_json::{Map, Value, json};

pub const NAMESPACE: &str = "S3SentinelConnector";

/// Counters kept per log type (the `LogType` dimension).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct LogTypeCounters {
    pub records_in: u64,
    pub records_sent: u64,
    pub records_dead_lettered: u64,
    pub records_rejected: u64,
    pub alerts: u64,
    pub anomalies: u64,
}

/// Everything one invocation measured.
#[derive(Debug, Default, Clone)]
pub struct InvocationMetrics {
    /// Counters by log type name.
    pub per_log_type: BTreeMap<String, LogTypeCounters>,
    /// Objects the invocation was given.
    pub objects: u64,
    /// Objects skipped: already processed, or not logs.
    pub objects_skipped: u64,
    /// Objects that failed, retried or not.
    pub objects_failed: u64,
    /// Bytes read from S3, as stored.
    pub bytes_in: u64,
    /// Bytes after decompression.
    pub bytes_decoded: u64,
    /// HTTP requests to the ingestion API, retries included.
    pub requests: u64,
    /// Requests that were retries.
    pub retries: u64,
    /// Requests answered 429 or 503.
    pub throttles: u64,
    /// Request body bytes sent, compressed, retries included.
    pub bytes_sent: u64,
    /// Wall time per pipeline stage (decode+parse, enrich, deliver, state).
    pub stage_time: BTreeMap<&'static str, Duration>,
    /// Extra gauges published as-is (e.g. drift PSI, shadow-model agreement).
    pub gauges: BTreeMap<String, (f64, &'static str)>,
    /// Gauges with their own dimensions (e.g. PSI per feature of one log type), each
    /// published as its own EMF document(s) next to `FunctionName`.
    pub documents: Vec<GaugeDocument>,
}

/// Gauges sharing one set of dimensions.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct GaugeDocument {
    /// (name, value), in addition to `FunctionName`.
    pub dimensions: Vec<(String, String)>,
    /// (metric name, value, unit).
    pub gauges: Vec<(String, f64, &'static str)>,
}

/// CloudWatch takes at most 100 metrics per EMF directive.
const MAX_METRICS_PER_DOCUMENT: usize = 100;

impl InvocationMetrics {
    /// The counters of a log type, created at zero.
    pub fn log_type(&mut self, name: &str) -> &mut LogTypeCounters {
        self.per_log_type.entry(name.to_string()).or_default()
    }

    /// Adds `elapsed` to the time of `stage`.
    pub fn add_stage_time(&mut self, stage: &'static str, elapsed: Duration) {
        *self.stage_time.entry(stage).or_default() += elapsed;
    }

    /// Adds `other`'s counts and times; its gauges replace ours of the same name.
    pub fn merge(&mut self, other: &InvocationMetrics) {
        for (k, v) in &other.per_log_type {
            let c = self.log_type(k);
            c.records_in += v.records_in;
            c.records_sent += v.records_sent;
            c.records_dead_lettered += v.records_dead_lettered;
            c.records_rejected += v.records_rejected;
            c.alerts += v.alerts;
            c.anomalies += v.anomalies;
        }
        self.objects += other.objects;
        self.objects_skipped += other.objects_skipped;
        self.objects_failed += other.objects_failed;
        self.bytes_in += other.bytes_in;
        self.bytes_decoded += other.bytes_decoded;
        self.requests += other.requests;
        self.retries += other.retries;
        self.throttles += other.throttles;
        self.bytes_sent += other.bytes_sent;
        for (k, v) in &other.stage_time {
            self.add_stage_time(k, *v);
        }
        for (k, v) in &other.gauges {
            self.gauges.insert(k.clone(), *v);
        }
        self.documents.extend(other.documents.iter().cloned());
    }

    /// The EMF documents: one for the function as a whole, one per log type.
    pub fn to_emf(&self, timestamp_ms: i64, function_name: &str) -> Vec<Value> {
        let mut docs = Vec::new();
        let mut fields = Map::new();
        let mut metrics = Vec::new();
        let mut put = |name: &str, value: f64, unit: &str| {
            fields.insert(name.to_string(), json!(value));
            metrics.push(json!({"Name": name, "Unit": unit}));
        };
        put("Objects", self.objects as f64, "Count");
        put("ObjectsSkipped", self.objects_skipped as f64, "Count");
        put("ObjectsFailed", self.objects_failed as f64, "Count");
        put("BytesIn", self.bytes_in as f64, "Bytes");
        put("BytesDecoded", self.bytes_decoded as f64, "Bytes");
        put("BytesSent", self.bytes_sent as f64, "Bytes");
        put("Requests", self.requests as f64, "Count");
        put("Retries", self.retries as f64, "Count");
        put("Throttles", self.throttles as f64, "Count");
        let totals = self
            .per_log_type
            .values()
            .fold(LogTypeCounters::default(), |mut a, c| {
                a.records_in += c.records_in;
                a.records_sent += c.records_sent;
                a.records_dead_lettered += c.records_dead_lettered;
                a.records_rejected += c.records_rejected;
                a.alerts += c.alerts;
                a.anomalies += c.anomalies;
                a
            });
        put("RecordsIn", totals.records_in as f64, "Count");
        put("RecordsSent", totals.records_sent as f64, "Count");
        put(
            "RecordsDeadLettered",
            totals.records_dead_lettered as f64,
            "Count",
        );
        put("RecordsRejected", totals.records_rejected as f64, "Count");
        put("Alerts", totals.alerts as f64, "Count");
        for (stage, t) in &self.stage_time {
            put(
                &format!("{stage}Latency"),
                t.as_secs_f64() * 1000.0,
                "Milliseconds",
            );
        }
        for (name, (value, unit)) in &self.gauges {
            put(name, *value, unit);
        }
        fields.insert("FunctionName".into(), json!(function_name));
        docs.push(emf_document(
            timestamp_ms,
            &[&["FunctionName"]],
            metrics,
            fields,
        ));

        for (log_type, c) in &self.per_log_type {
            let mut fields = Map::new();
            let mut metrics = Vec::new();
            let mut put = |name: &str, value: u64| {
                fields.insert(name.to_string(), json!(value));
                metrics.push(json!({"Name": name, "Unit": "Count"}));
            };
            put("RecordsIn", c.records_in);
            put("RecordsSent", c.records_sent);
            put("RecordsDeadLettered", c.records_dead_lettered);
            put("RecordsRejected", c.records_rejected);
            put("Alerts", c.alerts);
            put("Anomalies", c.anomalies);
            fields.insert("FunctionName".into(), json!(function_name));
            fields.insert("LogType".into(), json!(log_type));
            docs.push(emf_document(
                timestamp_ms,
                &[&["FunctionName", "LogType"]],
                metrics,
                fields,
            ));
        }
        for doc in &self.documents {
            let mut names: Vec<&str> = vec!["FunctionName"];
            names.extend(doc.dimensions.iter().map(|(k, _)| k.as_str()));
            for chunk in doc.gauges.chunks(MAX_METRICS_PER_DOCUMENT) {
                let mut fields = Map::new();
                let mut metrics = Vec::new();
                for (name, value, unit) in chunk {
                    fields.insert(name.clone(), json!(value));
                    metrics.push(json!({"Name": name, "Unit": unit}));
                }
                fields.insert("FunctionName".into(), json!(function_name));
                for (k, v) in &doc.dimensions {
                    fields.insert(k.clone(), json!(v));
                }
                docs.push(emf_document(timestamp_ms, &[&names], metrics, fields));
            }
        }
        docs
    }

    /// Writes the EMF documents, one JSON line each (stdout in Lambda).
    pub fn write_emf(&self, out: &mut dyn Write, timestamp_ms: i64, function_name: &str) {
        for doc in self.to_emf(timestamp_ms, function_name) {
            // A metrics line that cannot be written must not fail the invocation.
            let _ = writeln!(out, "{doc}");
        }
    }
}

fn emf_document(
    timestamp_ms: i64,
    dimensions: &[&[&str]],
    metrics: Vec<Value>,
    mut fields: Map<String, Value>,
) -> Value {
    fields.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": dimensions,
                "Metrics": metrics,
            }]
        }),
    );
    Value::Object(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_documents_name_every_metric_they_carry() {
        let mut m = InvocationMetrics::default();
        m.log_type("CloudTrail").records_in = 10;
        m.log_type("CloudTrail").records_sent = 9;
        m.log_type("CloudTrail").records_dead_lettered = 1;
        m.requests = 3;
        m.throttles = 1;
        m.add_stage_time("Parse", Duration::from_millis(12));
        let docs = m.to_emf(1_700_000_000_000, "fn");
        assert_eq!(docs.len(), 2);
        for doc in &docs {
            let directive = &doc["_aws"]["CloudWatchMetrics"][0];
            assert_eq!(directive["Namespace"], NAMESPACE);
            for metric in directive["Metrics"].as_array().unwrap() {
                let name = metric["Name"].as_str().unwrap();
                assert!(doc.get(name).is_some(), "{name} missing from {doc}");
            }
            for dims in directive["Dimensions"].as_array().unwrap() {
                for d in dims.as_array().unwrap() {
                    assert!(doc.get(d.as_str().unwrap()).is_some());
                }
            }
        }
        assert_eq!(docs[0]["RecordsIn"], 10.0);
        assert_eq!(docs[0]["ParseLatency"], 12.0);
        assert_eq!(docs[1]["LogType"], "CloudTrail");
        assert_eq!(docs[1]["RecordsDeadLettered"], 1);

        m.documents.push(GaugeDocument {
            dimensions: vec![("LogType".into(), "CloudTrail".into())],
            gauges: (0..150)
                .map(|i| (format!("Psi.f{i}"), 0.01, "None"))
                .collect(),
        });
        let docs = m.to_emf(1_700_000_000_000, "fn");
        assert_eq!(docs.len(), 4, "150 gauges go out as two documents");
        for doc in &docs[2..] {
            let directive = &doc["_aws"]["CloudWatchMetrics"][0];
            assert!(directive["Metrics"].as_array().unwrap().len() <= 100);
            assert_eq!(
                directive["Dimensions"],
                json!([["FunctionName", "LogType"]])
            );
            assert_eq!(doc["LogType"], "CloudTrail");
        }
    }
}

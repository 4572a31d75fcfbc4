//! The runner offline: local object source, local state directory, an in-memory delivery
//! that can be told to fail part-way. Asserts every record arrives exactly once across
//! duplicates, mid-batch failures and deadline stops.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use s3_sentinel_connector::LocalDirStore;
use s3_sentinel_connector::LocalSource;
use s3_sentinel_connector::NoEnrichment;
use s3_sentinel_connector::ObjectRef;
use s3_sentinel_connector::Table;
use s3_sentinel_connector::{Delivery, DeliveryError, DeliveryReport};
use s3_sentinel_connector::{RecordId, Reject, Row};
use s3_sentinel_connector::{RunError, Runner, RunnerSettings};
use std::sync::Arc;

#[derive(Default)]
struct MemoryDelivery {
    received: Mutex<HashMap<RecordId, usize>>,
    rejects: Mutex<Vec<Reject>>,
    /// Rows of the alert table, as sent.
    alerts: Mutex<Vec<serde_json::Value>>,
    /// After this many more rows are accepted, the next call stops half-way.
    fail_after_rows: AtomicUsize,
}

#[async_trait]
impl Delivery for MemoryDelivery {
    async fn deliver(
        &self,
        _source: &str,
        rows: Vec<Row>,
        _deadline: Instant,
    ) -> Result<DeliveryReport, DeliveryError> {
        let budget = self.fail_after_rows.load(Ordering::SeqCst);
        let take = rows.len().min(budget);
        let mut received = self.received.lock().unwrap();
        for row in &rows[..take] {
            if row.table == Table::S3SentinelAlerts {
                let alert = serde_json::from_str(&row.json).unwrap();
                self.alerts.lock().unwrap().push(alert);
                continue;
            }
            *received.entry(row.record_id).or_default() += 1;
        }
        if take < rows.len() {
            self.fail_after_rows.store(usize::MAX, Ordering::SeqCst);
            return Err(DeliveryError {
                message: "simulated: time ran out mid-batch".into(),
                accepted: rows[..take].iter().map(|r| r.record_id).collect(),
                report: DeliveryReport {
                    accepted: take as u64,
                    ..DeliveryReport::default()
                },
            });
        }
        self.fail_after_rows
            .store(budget.saturating_sub(take), Ordering::SeqCst);
        Ok(DeliveryReport {
            accepted: rows.len() as u64,
            ..DeliveryReport::default()
        })
    }

    async fn write_rejects(
        &self,
        _source: &str,
        rejects: Vec<Reject>,
    ) -> Result<(), DeliveryError> {
        self.rejects.lock().unwrap().extend(rejects);
        Ok(())
    }
}

fn setup(lines: usize) -> (tempfile::TempDir, ObjectRef) {
    let dir = tempfile::tempdir().unwrap();
    let bucket = dir.path().join("logs");
    std::fs::create_dir_all(bucket.join("app")).unwrap();
    let text: String = (0..lines)
        .map(|i| {
            format!(
                "2026-11-20T10:00:{:02}Z INFO worker {i} finished job {}\n",
                i % 60,
                i * 7
            )
        })
        .collect();
    std::fs::write(bucket.join("app/worker.log"), text).unwrap();
    let object = ObjectRef {
        bucket: "logs".into(),
        key: "app/worker.log".into(),
        version_id: None,
        etag: None,
        size: None,
    };
    (dir, object)
}

fn runner(dir: &std::path::Path, delivery: Arc<MemoryDelivery>) -> Runner {
    Runner {
        source: Arc::new(LocalSource {
            root: dir.to_path_buf(),
        }),
        state: Some(Arc::new(LocalDirStore::new(dir.join("state")))),
        delivery,
        enricher: Arc::new(NoEnrichment),
        settings: RunnerSettings {
            batch_records: 100,
            safety_margin: Duration::from_millis(50),
            ..RunnerSettings::default()
        },
    }
}

fn later() -> Instant {
    Instant::now() + Duration::from_secs(60)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_record_exactly_once_across_duplicates_and_failures() {
    let (dir, object) = setup(1000);
    let delivery = Arc::new(MemoryDelivery::default());
    delivery.fail_after_rows.store(450, Ordering::SeqCst);
    let runner = runner(dir.path(), delivery.clone());

    // First attempt stops half-way through the fifth batch.
    let err = runner.process(&object, later(), "inv-1").await.unwrap_err();
    assert!(matches!(err, RunError::Delivery { .. }), "{err}");
    assert_eq!(delivery.received.lock().unwrap().len(), 450);

    // The retry resumes after the checkpoint and skips the 50 rows that got through.
    let report = runner.process(&object, later(), "inv-2").await.unwrap();
    assert_eq!(report.resumed_from, 400);
    let received = delivery.received.lock().unwrap().clone();
    assert_eq!(received.len(), 1000);
    assert!(received.values().all(|n| *n == 1), "a record arrived twice");

    // The same event again is a duplicate.
    let report = runner.process(&object, later(), "inv-3").await.unwrap();
    assert!(report.duplicate);
    assert_eq!(delivery.received.lock().unwrap().len(), 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadline_stops_with_a_checkpoint_and_the_retry_resumes() {
    let (dir, object) = setup(500);
    let delivery = Arc::new(MemoryDelivery::default());
    delivery.fail_after_rows.store(usize::MAX, Ordering::SeqCst);
    let runner = runner(dir.path(), delivery.clone());

    // A deadline inside the safety margin: nothing may be sent.
    let err = runner
        .process(&object, Instant::now() + Duration::from_millis(10), "inv-1")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            RunError::DeadlineReached {
                next_ordinal: 0,
                ..
            }
        ),
        "{err}"
    );
    assert!(delivery.received.lock().unwrap().is_empty());

    let report = runner.process(&object, later(), "inv-2").await.unwrap();
    assert_eq!(report.parsed.stats.total_records(), 500);
    let received = delivery.received.lock().unwrap();
    assert_eq!(received.len(), 500);
    assert!(received.values().all(|n| *n == 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_concurrent_duplicate_backs_off() {
    let (dir, object) = setup(10);
    let delivery = Arc::new(MemoryDelivery::default());
    delivery.fail_after_rows.store(usize::MAX, Ordering::SeqCst);
    let runner = runner(dir.path(), delivery.clone());
    let store = LocalDirStore::new(dir.path().join("state"));
    let ledger = s3_sentinel_connector::ObjectLedger::new(&store);
    // Another invocation holds the object.
    let mut claimed = object.clone();
    claimed.etag = Some(
        LocalSource {
            root: dir.path().to_path_buf(),
        }
        .open_etag(&object)
        .await,
    );
    ledger
        .claim(
            &claimed,
            "other",
            chrono::Utc::now() + chrono::Duration::minutes(5),
            false,
        )
        .await
        .unwrap();
    let err = runner.process(&object, later(), "me").await.unwrap_err();
    assert!(matches!(err, RunError::Busy { .. }), "{err}");
}

trait OpenEtag {
    async fn open_etag(&self, object: &ObjectRef) -> String;
}

impl OpenEtag for LocalSource {
    async fn open_etag(&self, object: &ObjectRef) -> String {
        use s3_sentinel_connector::ObjectSource;
        self.open(object).await.unwrap().etag.unwrap()
    }
}

/// A ledger entry the function did not write (garbage, a lease that never ends, another
/// object's entry) is set aside with a health alert and the object is processed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_ledger_entries_are_set_aside_and_the_object_processed() {
    let (dir, object) = setup(300);
    let first = Arc::new(MemoryDelivery::default());
    first.fail_after_rows.store(usize::MAX, Ordering::SeqCst);
    runner(dir.path(), first.clone())
        .process(&object, later(), "first")
        .await
        .unwrap();
    let objects = dir.path().join("state/objects");
    let entry_path = std::fs::read_dir(&objects)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let real: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&entry_path).unwrap()).unwrap();
    assert_eq!(real["status"], "completed");

    let mut forever = real.clone();
    forever["status"] = "in_progress".into();
    forever["owner"] = "someone-else".into();
    forever["lease_until"] = "2099-01-01T00:00:00Z".into();
    let mut elsewhere = real.clone();
    elsewhere["object"] = "s3://other/key".into();
    for (case, forged) in [
        ("garbage", b"{not json".to_vec()),
        ("lease until 2099", forever.to_string().into_bytes()),
        ("another object's entry", elsewhere.to_string().into_bytes()),
    ] {
        std::fs::write(&entry_path, forged).unwrap();
        let delivery = Arc::new(MemoryDelivery::default());
        delivery.fail_after_rows.store(usize::MAX, Ordering::SeqCst);
        let report = runner(dir.path(), delivery.clone())
            .process(&object, later(), "second")
            .await
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        assert!(!report.duplicate, "{case}");
        assert_eq!(delivery.received.lock().unwrap().len(), 300, "{case}");
        let alerts = delivery.alerts.lock().unwrap().clone();
        assert_eq!(alerts.len(), 1, "{case}: {alerts:?}");
        assert_eq!(alerts[0]["AlertTrigger"], "damaged_state", "{case}");
        let damaged = std::fs::read_dir(dir.path().join("state/damaged")).unwrap();
        assert!(damaged.count() > 0, "{case}");
        // The entry written in its place is the function's own: the next event is a
        // duplicate.
        let again = Arc::new(MemoryDelivery::default());
        let report = runner(dir.path(), again)
            .process(&object, later(), "third")
            .await
            .unwrap();
        assert!(report.duplicate, "{case}");
    }
}

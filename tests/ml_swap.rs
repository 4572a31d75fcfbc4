//! Model swap from a bucket, against a local S3 server (moto): new models are verified,
//! probed and only then served; every kind of bad upload keeps the current models.

use crate::common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use s3_sentinel_connector::LocalDirStore;
use s3_sentinel_connector::ModelHandle;
use s3_sentinel_connector::S3StateStore;
use s3_sentinel_connector::embedded;
use s3_sentinel_connector::{DamageLog, PutCondition, StateError, StateStore, Versioned};
use s3_sentinel_connector::{MANIFEST_FILE, Manifest};
use s3_sentinel_connector::{ModelSwapper, SIGNATURE_FILE, SwapConfig, SwapOutcome};

struct Bucket {
    client: aws_sdk_s3::Client,
    name: String,
}

impl Bucket {
    async fn put(&self, key: &str, body: &[u8]) {
        self.client
            .put_object()
            .bucket(&self.name)
            .key(key)
            .body(body.to_vec().into())
            .send()
            .await
            .unwrap();
    }
}

async fn bucket() -> Bucket {
    let config = common::moto_config().await;
    let client = common::s3_client(&config);
    let name = common::new_bucket(&client, "models").await;
    Bucket { client, name }
}

/// The embedded models republished under another version (same graphs).
fn republished(version: &str) -> Manifest {
    let mut m = embedded::manifest().unwrap();
    m.set_version = version.to_string();
    m
}

fn swapper(b: &Bucket, handle: &ModelHandle, config: SwapConfig) -> ModelSwapper {
    let store: Arc<dyn StateStore> =
        Arc::new(S3StateStore::new(b.client.clone(), &b.name, "models/prod"));
    ModelSwapper::new(store, handle.clone(), config)
}

async fn publish(b: &Bucket, manifest: &Manifest, anomaly: &[u8], classifier: &[u8]) {
    b.put("models/prod/anomaly.onnx", anomaly).await;
    b.put("models/prod/classifier.onnx", classifier).await;
    // The manifest last, as a deployment must.
    b.put(&format!("models/prod/{MANIFEST_FILE}"), &manifest.to_json())
        .await;
}

#[tokio::test]
async fn swaps_verified_models_and_keeps_current_ones_on_any_failure() {
    let b = bucket().await;
    let handle = ModelHandle::new(embedded::load().unwrap());
    let default_version = handle.current().version().to_string();
    let unsigned = SwapConfig {
        allow_unsigned: true,
        ..SwapConfig::default()
    };
    let mut swapper = swapper(&b, &handle, unsigned);

    // Empty bucket: the embedded defaults serve.
    assert_eq!(swapper.check_now().await, SwapOutcome::NoManifest);

    // A new version: loaded, probed, served.
    publish(
        &b,
        &republished("v2"),
        embedded::ANOMALY_ONNX,
        embedded::CLASSIFIER_ONNX,
    )
    .await;
    assert_eq!(
        swapper.check_now().await,
        SwapOutcome::Swapped {
            version: "v2".into()
        }
    );
    assert_eq!(handle.current().version(), "v2");
    assert_eq!(swapper.check_now().await, SwapOutcome::Unchanged);

    // A model file that does not match its digest.
    let mut tampered = embedded::ANOMALY_ONNX.to_vec();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    publish(
        &b,
        &republished("v3-tampered"),
        &tampered,
        embedded::CLASSIFIER_ONNX,
    )
    .await;
    match swapper.check_now().await {
        SwapOutcome::Kept { reason } => assert!(reason.contains("sha256"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(handle.current().version(), "v2");

    // A feature schema this build does not extract.
    let mut other_schema = republished("v4-schema");
    other_schema.feature_schema.version += 1;
    publish(
        &b,
        &other_schema,
        embedded::ANOMALY_ONNX,
        embedded::CLASSIFIER_ONNX,
    )
    .await;
    match swapper.check_now().await {
        SwapOutcome::Kept { reason } => assert!(reason.contains("feature schema"), "{reason}"),
        other => panic!("{other:?}"),
    }

    // Files swapped by mistake: digests match, but the graphs have the wrong outputs.
    let mut mixed = republished("v5-mixed");
    std::mem::swap(&mut mixed.anomaly.sha256, &mut mixed.classifier.sha256);
    std::mem::swap(&mut mixed.anomaly.bytes, &mut mixed.classifier.bytes);
    publish(
        &b,
        &mixed,
        embedded::CLASSIFIER_ONNX,
        embedded::ANOMALY_ONNX,
    )
    .await;
    match swapper.check_now().await {
        SwapOutcome::Kept { reason } => assert!(reason.contains("no output named"), "{reason}"),
        other => panic!("{other:?}"),
    }

    // Not JSON at all.
    b.put("models/prod/manifest.json", b"{ half a manifest")
        .await;
    assert!(matches!(
        swapper.check_now().await,
        SwapOutcome::Kept { .. }
    ));

    // Through every refusal the models in service never changed.
    assert_eq!(handle.current().version(), "v2");
    handle.current().probe().unwrap();

    // Publishing the defaults again brings them back.
    publish(
        &b,
        &embedded::manifest().unwrap(),
        embedded::ANOMALY_ONNX,
        embedded::CLASSIFIER_ONNX,
    )
    .await;
    assert_eq!(
        swapper.check_now().await,
        SwapOutcome::Swapped {
            version: default_version
        }
    );
}

#[tokio::test]
async fn checks_at_most_once_per_interval() {
    let b = bucket().await;
    let handle = ModelHandle::new(embedded::load().unwrap());
    let mut swapper = swapper(
        &b,
        &handle,
        SwapConfig {
            interval: Duration::from_secs(600),
            public_key: None,
            allow_unsigned: true,
        },
    );
    let start = Instant::now();
    assert_eq!(swapper.check_if_due(start).await, SwapOutcome::NoManifest);
    publish(
        &b,
        &republished("v2"),
        embedded::ANOMALY_ONNX,
        embedded::CLASSIFIER_ONNX,
    )
    .await;
    assert_eq!(
        swapper.check_if_due(start + Duration::from_secs(60)).await,
        SwapOutcome::NotDue
    );
    assert_eq!(
        swapper.check_if_due(start + Duration::from_secs(601)).await,
        SwapOutcome::Swapped {
            version: "v2".into()
        }
    );
}

#[tokio::test]
async fn signed_manifests_only_when_a_key_is_configured() {
    let b = bucket().await;
    let handle = ModelHandle::new(embedded::load().unwrap());
    let (private, public) = s3_sentinel_connector::generate_keypair();
    let mut swapper = swapper(
        &b,
        &handle,
        SwapConfig {
            interval: Duration::from_secs(60),
            public_key: Some(public),
            allow_unsigned: false,
        },
    );
    let manifest = republished("v2-signed");
    // Unsigned: refused.
    publish(
        &b,
        &manifest,
        embedded::ANOMALY_ONNX,
        embedded::CLASSIFIER_ONNX,
    )
    .await;
    match swapper.check_now().await {
        SwapOutcome::Kept { reason } => assert!(reason.contains(SIGNATURE_FILE), "{reason}"),
        other => panic!("{other:?}"),
    }
    // Signed with another key: refused.
    let (other_private, _) = s3_sentinel_connector::generate_keypair();
    let bytes = manifest.to_json();
    let mut manifest_v3 = manifest.clone();
    manifest_v3.set_version = "v3-signed".into();
    let bytes_v3 = manifest_v3.to_json();
    b.put(
        &format!("models/prod/{SIGNATURE_FILE}"),
        s3_sentinel_connector::sign(&other_private, &bytes_v3)
            .unwrap()
            .as_bytes(),
    )
    .await;
    b.put("models/prod/manifest.json", &bytes_v3).await;
    match swapper.check_now().await {
        SwapOutcome::Kept { reason } => assert!(reason.contains("signature"), "{reason}"),
        other => panic!("{other:?}"),
    }
    // Signed with the right key: served.
    b.put(
        &format!("models/prod/{SIGNATURE_FILE}"),
        s3_sentinel_connector::sign(&private, &bytes)
            .unwrap()
            .as_bytes(),
    )
    .await;
    b.put("models/prod/manifest.json", &bytes).await;
    assert_eq!(
        swapper.check_now().await,
        SwapOutcome::Swapped {
            version: "v2-signed".into()
        }
    );
}

/// The model prefix, counting the reads of each file (HEAD requests are not reads).
struct CountingStore {
    inner: S3StateStore,
    reads: std::sync::Mutex<std::collections::HashMap<String, usize>>,
}

impl CountingStore {
    fn new(b: &Bucket) -> Arc<CountingStore> {
        Arc::new(CountingStore {
            inner: S3StateStore::new(b.client.clone(), &b.name, "models/prod"),
            reads: Default::default(),
        })
    }

    fn reads(&self, key: &str) -> usize {
        self.reads.lock().unwrap().get(key).copied().unwrap_or(0)
    }
}

#[async_trait::async_trait]
impl StateStore for CountingStore {
    async fn get(&self, key: &str, limit: u64) -> Result<Option<Versioned>, StateError> {
        *self
            .reads
            .lock()
            .unwrap()
            .entry(key.to_string())
            .or_default() += 1;
        self.inner.get(key, limit).await
    }
    async fn head(&self, key: &str) -> Result<Option<(String, u64)>, StateError> {
        self.inner.head(key).await
    }
    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        condition: PutCondition,
    ) -> Result<String, StateError> {
        self.inner.put(key, body, condition).await
    }
    async fn delete(&self, key: &str) -> Result<(), StateError> {
        self.inner.delete(key).await
    }
    async fn rename(&self, from: &str, to: &str) -> Result<(), StateError> {
        self.inner.rename(from, to).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StateError> {
        self.inner.list(prefix).await
    }
    fn location(&self) -> String {
        self.inner.location()
    }
    fn damage(&self) -> &DamageLog {
        self.inner.damage()
    }
}

fn remembering(
    store: &Arc<CountingStore>,
    memory: &std::path::Path,
    config: SwapConfig,
) -> ModelSwapper {
    let handle = ModelHandle::new(embedded::load().unwrap());
    ModelSwapper::new(store.clone(), handle, config)
        .with_memory(Arc::new(LocalDirStore::new(memory)))
}

#[tokio::test]
async fn an_oversized_manifest_is_refused_unread_and_not_looked_at_again() {
    let b = bucket().await;
    let (_, public) = s3_sentinel_connector::generate_keypair();
    let config = SwapConfig {
        interval: Duration::from_secs(60),
        public_key: Some(public),
        allow_unsigned: false,
    };
    b.put("models/prod/anomaly.onnx", embedded::ANOMALY_ONNX)
        .await;
    b.put(
        &format!("models/prod/{MANIFEST_FILE}"),
        &vec![b' '; 5 * 1024 * 1024],
    )
    .await;
    let memory = tempfile::tempdir().unwrap();
    let store = CountingStore::new(&b);
    match remembering(&store, memory.path(), config.clone())
        .check_now()
        .await
    {
        SwapOutcome::Kept { reason } => assert!(reason.contains("limit"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(store.reads(MANIFEST_FILE), 0, "refused on its size alone");

    // A cold start remembers the refusal: nothing is read, nothing changes.
    let store = CountingStore::new(&b);
    let mut cold = remembering(&store, memory.path(), config);
    assert_eq!(cold.check_now().await, SwapOutcome::Unchanged);
    assert_eq!(store.reads(MANIFEST_FILE), 0);
    assert_eq!(store.reads(SIGNATURE_FILE), 0);
}

#[tokio::test]
async fn an_older_signed_set_put_back_is_refused_as_a_replay() {
    let b = bucket().await;
    let (private, public) = s3_sentinel_connector::generate_keypair();
    let config = SwapConfig {
        interval: Duration::from_secs(60),
        public_key: Some(public),
        allow_unsigned: false,
    };
    let publish_signed = |version: &str, sequence: u64| {
        let mut manifest = republished(version);
        manifest.set_sequence = Some(sequence);
        let bytes = manifest.to_json();
        let signature = s3_sentinel_connector::sign(&private, &bytes).unwrap();
        (manifest, signature)
    };
    let memory = tempfile::tempdir().unwrap();
    let store = CountingStore::new(&b);
    let mut swapper = remembering(&store, memory.path(), config.clone());

    let (old, old_signature) = publish_signed("v1", 1_000);
    let (new, new_signature) = publish_signed("v2", 2_000);
    for (manifest, signature) in [(&old, &old_signature), (&new, &new_signature)] {
        b.put(
            &format!("models/prod/{SIGNATURE_FILE}"),
            signature.as_bytes(),
        )
        .await;
        publish(
            &b,
            manifest,
            embedded::ANOMALY_ONNX,
            embedded::CLASSIFIER_ONNX,
        )
        .await;
        assert!(matches!(
            swapper.check_now().await,
            SwapOutcome::Swapped { .. }
        ));
    }
    // The older set, validly signed, put back.
    b.put(
        &format!("models/prod/{SIGNATURE_FILE}"),
        old_signature.as_bytes(),
    )
    .await;
    b.put(&format!("models/prod/{MANIFEST_FILE}"), &old.to_json())
        .await;
    match swapper.check_now().await {
        SwapOutcome::Kept { reason } => assert!(reason.contains("older"), "{reason}"),
        other => panic!("{other:?}"),
    }

    // After a cold start the newest set served is still known: the replay stays refused
    // without being read again.
    let store = CountingStore::new(&b);
    let mut cold = remembering(&store, memory.path(), config);
    assert_eq!(cold.check_now().await, SwapOutcome::Unchanged);
    assert_eq!(store.reads(MANIFEST_FILE), 0);
}

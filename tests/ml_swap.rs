//! Model swap from a bucket, against a local S3 server (moto): new models are verified,
//! probed and only then served; every kind of bad upload keeps the current models.

use crate::common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use s3_sentinel_connector::ModelHandle;
use s3_sentinel_connector::S3StateStore;
use s3_sentinel_connector::StateStore;
use s3_sentinel_connector::embedded;
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

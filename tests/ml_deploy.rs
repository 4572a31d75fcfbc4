//! `scripts/deploy_models.sh` against a local S3 server (moto): a worse model is refused, a
//! good one is published (signed) and picked up by a running function's model swapper
//! without a redeploy, rollback restores the previous set, `--dry-run` writes nothing,
//! `--force` records its reason, a schema mismatch is refused even when forced, `--shadow`
//! adds a shadow set the running function loads; and with
//! a public key configured a tampered manifest or a tampered model file is never served.
//! Detection rule packs go the same way (`--rules DIR|embedded`): published with the
//! models, carried to the next models, refused when a rule is bad, rolled back, and never
//! served tampered.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use s3_sentinel_connector::Manifest;
use s3_sentinel_connector::ModelHandle;
use s3_sentinel_connector::S3StateStore;
use s3_sentinel_connector::StateStore;
use s3_sentinel_connector::embedded;
use s3_sentinel_connector::{LogType, Record};
use s3_sentinel_connector::{ModelSwapper, SwapConfig, SwapOutcome};
use s3_sentinel_connector::{SynthConfig, synth};

const BIN: &str = env!("CARGO_BIN_EXE_s3-sentinel");
const PREFIX: &str = "models/prod/";

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/deploy_models.sh")
}

fn deploy(bucket: &str, args: &[&str]) -> Output {
    let output = Command::new("bash")
        .arg(script())
        .args(args)
        // Timing 2,000 records one at a time per set was most of each evaluation, and
        // nothing here reads the latency figures.
        .args(["--heldout-scale", "0.3", "--latency-sample", "100"])
        .env("MODEL_BUCKET", bucket)
        .env("MODEL_PREFIX", PREFIX)
        .env("S3_SENTINEL", BIN)
        .env("AWS_ENDPOINT_URL", common::moto_endpoint())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap();
    eprintln!(
        "deploy_models.sh {args:?}: {}\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn rollback(bucket: &str, args: &[&str]) -> Output {
    let mut all = vec!["--rollback"];
    all.extend_from_slice(args);
    deploy(bucket, &all)
}

/// The embedded graphs under another version (same quality as the deployed defaults).
fn republished(dir: &Path, version: &str) -> PathBuf {
    let out = dir.join(version);
    std::fs::create_dir_all(&out).unwrap();
    let mut m = embedded::manifest().unwrap();
    m.set_version = version.to_string();
    std::fs::write(out.join(&m.anomaly.file), embedded::ANOMALY_ONNX).unwrap();
    std::fs::write(out.join(&m.classifier.file), embedded::CLASSIFIER_ONNX).unwrap();
    std::fs::write(out.join("manifest.json"), m.to_json()).unwrap();
    out
}

/// A model trained on the generator's records with system errors and performance
/// problems swapped.
fn trained_on_wrong_labels(dir: &Path) -> PathBuf {
    let items = synth::generate(&SynthConfig {
        seed: 99,
        scale: 0.05,
        ..SynthConfig::default()
    });
    let mut buffer = Vec::new();
    s3_sentinel_connector::write_generated(&items, &mut buffer).unwrap();
    // Critical and normal stay right, so the set passes the probe batch (which checks
    // that a known-critical event outranks a routine one) and only the gate stops it.
    fn rotate(label: &str) -> &str {
        match label {
            "performance" => "system_error",
            "system_error" => "performance",
            other => other,
        }
    }
    let mut wrong = String::new();
    for line in String::from_utf8(buffer).unwrap().lines() {
        let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
        let label = rotate(v["label"].as_str().unwrap()).to_string();
        v["label"] = serde_json::json!(label);
        wrong.push_str(&v.to_string());
        wrong.push('\n');
    }
    let data = dir.join("wrong.jsonl");
    std::fs::write(&data, wrong).unwrap();
    let out = dir.join("worse");
    let status = Command::new(BIN)
        .args(["train", "--model-version", "worse-1", "--data"])
        .arg(&data)
        .arg("--out")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    out
}

struct Bucket {
    client: aws_sdk_s3::Client,
    name: String,
}

impl Bucket {
    async fn get(&self, name: &str) -> Option<Vec<u8>> {
        match self
            .client
            .get_object()
            .bucket(&self.name)
            .key(format!("{PREFIX}{name}"))
            .send()
            .await
        {
            Ok(o) => Some(o.body.collect().await.unwrap().into_bytes().to_vec()),
            Err(_) => None,
        }
    }

    async fn put(&self, name: &str, body: &[u8]) {
        self.client
            .put_object()
            .bucket(&self.name)
            .key(format!("{PREFIX}{name}"))
            .body(body.to_vec().into())
            .send()
            .await
            .unwrap();
    }

    async fn manifest(&self) -> Option<Manifest> {
        self.get("manifest.json")
            .await
            .map(|b| Manifest::from_json(&b).unwrap())
    }

    /// A function's model swapper as at a cold start (embedded defaults in service).
    fn function(&self, public_key: &str) -> (ModelSwapper, ModelHandle) {
        let handle = ModelHandle::new(embedded::load().unwrap());
        let store: Arc<dyn StateStore> =
            Arc::new(S3StateStore::new(self.client.clone(), &self.name, PREFIX));
        let swapper = ModelSwapper::new(
            store,
            handle.clone(),
            SwapConfig {
                interval: Duration::ZERO,
                public_key: Some(public_key.to_string()),
                allow_unsigned: false,
            },
        );
        (swapper, handle)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn deployments_are_gated_signed_picked_up_and_rolled_back() {
    let config = common::moto_config().await;
    let client = common::s3_client(&config);
    let bucket = Bucket {
        name: common::new_bucket(&client, "deploy").await,
        client,
    };
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("signing.key");
    let keygen = Command::new(BIN)
        .args(["keygen", "--out"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(keygen.status.success());
    let public = String::from_utf8(keygen.stdout).unwrap().trim().to_string();
    let key_arg = key.to_str().unwrap();

    // A worse candidate against the embedded defaults (nothing deployed yet): refused.
    let worse = trained_on_wrong_labels(dir.path());
    let refused = deploy(
        &bucket.name,
        &[worse.to_str().unwrap(), "--sign-key", key_arg],
    );
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("classifier.macro_f1"), "{stderr}");
    assert!(bucket.manifest().await.is_none());

    // A dry run of a good candidate writes nothing.
    let v2 = republished(dir.path(), "good-2");
    let dry = deploy(&bucket.name, &[v2.to_str().unwrap(), "--dry-run"]);
    assert!(dry.status.success());
    assert!(String::from_utf8_lossy(&dry.stdout).contains("would upload"));
    assert!(bucket.manifest().await.is_none());

    // The good candidate, signed: published, and a running function swaps it in.
    let (mut function, handle) = bucket.function(&public);
    assert_eq!(function.check_now().await, SwapOutcome::NoManifest);
    assert!(
        deploy(&bucket.name, &[v2.to_str().unwrap(), "--sign-key", key_arg])
            .status
            .success()
    );
    let published = bucket.manifest().await.unwrap();
    assert_eq!(published.set_version, "good-2");
    assert!(published.anomaly.file.starts_with("files/"));
    assert!(published.extra["deployment"]["evaluation"]["macro_f1"].is_number());
    assert_eq!(
        function.check_now().await,
        SwapOutcome::Swapped {
            version: "good-2".into()
        }
    );

    // A second one, then rollback: the same running function follows both.
    let v3 = republished(dir.path(), "good-3");
    assert!(
        deploy(&bucket.name, &[v3.to_str().unwrap(), "--sign-key", key_arg])
            .status
            .success()
    );
    assert_eq!(
        function.check_now().await,
        SwapOutcome::Swapped {
            version: "good-3".into()
        }
    );
    let rolled = rollback(&bucket.name, &["--sign-key", key_arg]);
    assert!(rolled.status.success());
    assert_eq!(bucket.manifest().await.unwrap().set_version, "good-2");
    assert_eq!(
        function.check_now().await,
        SwapOutcome::Swapped {
            version: "good-2".into()
        }
    );
    assert_eq!(handle.current().version(), "good-2");

    // A schema the running code does not extract: refused, even when forced.
    let old_schema = republished(dir.path(), "old-schema");
    let mut m =
        Manifest::from_json(&std::fs::read(old_schema.join("manifest.json")).unwrap()).unwrap();
    m.feature_schema.version -= 1;
    std::fs::write(old_schema.join("manifest.json"), m.to_json()).unwrap();
    let schema = deploy(
        &bucket.name,
        &[old_schema.to_str().unwrap(), "--force", "testing"],
    );
    assert_eq!(schema.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&schema.stderr).contains("feature schema"));

    // Forced past the gate: deployed, with the reason in the log and the manifest.
    let forced = deploy(
        &bucket.name,
        &[
            worse.to_str().unwrap(),
            "--force",
            "analyst-approved experiment",
            "--sign-key",
            key_arg,
        ],
    );
    assert!(forced.status.success());
    assert!(String::from_utf8_lossy(&forced.stderr).contains("FORCED"));
    let manifest = bucket.manifest().await.unwrap();
    assert_eq!(manifest.set_version, "worse-1");
    assert_eq!(
        manifest.extra["deployment"]["forced"],
        "analyst-approved experiment"
    );
    assert_eq!(
        function.check_now().await,
        SwapOutcome::Swapped {
            version: "worse-1".into()
        }
    );

    // A better set than the one deployed now: accepted, and the function follows. The
    // worse set's anomaly model is trained on normal rows, which its label swap leaves
    // alone, so it can match the defaults' within a hair; the tolerance leaves room for
    // that, the classifier is what differs.
    let better = deploy(
        &bucket.name,
        &[
            v3.to_str().unwrap(),
            "--sign-key",
            key_arg,
            "--tolerance",
            "0.03",
        ],
    );
    assert!(better.status.success());
    let manifest = bucket.manifest().await.unwrap();
    let evaluation = &manifest.extra["deployment"]["evaluation"];
    eprintln!("better set accepted: {evaluation}");
    assert_eq!(evaluation["baseline_version"], "worse-1");
    assert_eq!(
        function.check_now().await,
        SwapOutcome::Swapped {
            version: "good-3".into()
        }
    );
    // Rollback twice: back to worse-1, then forward again.
    assert!(
        rollback(&bucket.name, &["--sign-key", key_arg])
            .status
            .success()
    );
    assert_eq!(bucket.manifest().await.unwrap().set_version, "worse-1");
    assert_eq!(
        function.check_now().await,
        SwapOutcome::Swapped {
            version: "worse-1".into()
        }
    );
    assert!(
        rollback(&bucket.name, &["--sign-key", key_arg])
            .status
            .success()
    );
    assert_eq!(bucket.manifest().await.unwrap().set_version, "good-3");
    assert_eq!(
        function.check_now().await,
        SwapOutcome::Swapped {
            version: "good-3".into()
        }
    );

    // A shadow beside the active set: the running function scores it too.
    assert!(
        deploy(
            &bucket.name,
            &[v2.to_str().unwrap(), "--shadow", "--sign-key", key_arg]
        )
        .status
        .success()
    );
    let manifest = bucket.manifest().await.unwrap();
    assert_eq!(manifest.set_version, "good-3");
    assert_eq!(manifest.shadow.as_ref().unwrap().set_version, "good-2");
    assert_eq!(
        function.check_now().await,
        SwapOutcome::ShadowChanged {
            shadow: Some("good-2".into())
        }
    );
    assert_eq!(handle.current().version(), "good-3");
    assert_eq!(handle.shadow().unwrap().version(), "good-2");

    // Tampering, seen by a function at a cold start with the public key configured.
    let good_manifest = bucket.get("manifest.json").await.unwrap();
    let text = String::from_utf8(good_manifest.clone()).unwrap();
    bucket
        .put(
            "manifest.json",
            text.replacen("good-3", "good-9", 1).as_bytes(),
        )
        .await;
    let (mut cold, handle) = bucket.function(&public);
    match cold.check_now().await {
        SwapOutcome::Kept { reason } => assert!(reason.contains("signature"), "{reason}"),
        other => panic!("tampered manifest served: {other:?}"),
    }
    assert_eq!(
        handle.current().version(),
        embedded::manifest().unwrap().set_version
    );

    bucket.put("manifest.json", &good_manifest).await;
    let served = Manifest::from_json(&good_manifest).unwrap();
    let mut model = bucket.get(&served.classifier.file).await.unwrap();
    let last = model.len() - 1;
    model[last] ^= 1;
    bucket.put(&served.classifier.file, &model).await;
    let (mut cold, handle) = bucket.function(&public);
    match cold.check_now().await {
        SwapOutcome::Kept { reason } => assert!(reason.contains("sha256"), "{reason}"),
        other => panic!("tampered model served: {other:?}"),
    }
    assert_eq!(
        handle.current().version(),
        embedded::manifest().unwrap().set_version
    );
}

/// A rule that names a routine call, so that a test can see which pack is in service.
const WATCH_RULE: &str = r#"title: Instances listed (test pack)
id: 0f0e0d0c-0b0a-4909-8807-060504030201
logsource:
    product: aws
    service: cloudtrail
detection:
    selection:
        eventSource: ec2.amazonaws.com
        eventName: DescribeInstances
    condition: selection
level: high
"#;

fn describe_instances() -> Record {
    let mut r = Record::new(LogType::CloudTrail);
    r.push("EventSource", "ec2.amazonaws.com");
    r.push("EventName", "DescribeInstances");
    r
}

#[tokio::test(flavor = "multi_thread")]
async fn rule_packs_are_published_with_the_models_swapped_carried_and_rolled_back() {
    let config = common::moto_config().await;
    let client = common::s3_client(&config);
    let bucket = Bucket {
        name: common::new_bucket(&client, "rules").await,
        client,
    };
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("signing.key");
    let keygen = Command::new(BIN)
        .args(["keygen", "--out"])
        .arg(&key)
        .output()
        .unwrap();
    let public = String::from_utf8(keygen.stdout).unwrap().trim().to_string();
    let key_arg = key.to_str().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(rules.join("watch.yml"), WATCH_RULE).unwrap();
    std::fs::write(rules.join("README.md"), "not a rule").unwrap();
    let (mut function, handle) = bucket.function(&public);
    let embedded_rules = handle.current().rules().len();
    assert!(embedded_rules >= 30);

    // Models with the folder's rules: published, signed, swapped in together.
    let v2 = republished(dir.path(), "rules-2");
    let out = deploy(
        &bucket.name,
        &[
            v2.to_str().unwrap(),
            "--rules",
            rules.to_str().unwrap(),
            "--sign-key",
            key_arg,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest = bucket.manifest().await.unwrap();
    let entry = manifest.rules.clone().expect("a rules entry");
    assert_eq!(entry.count, 1);
    assert!(entry.file.starts_with("files/") && entry.file.ends_with(".rules.json"));
    assert_eq!(
        function.check_now().await,
        SwapOutcome::Swapped {
            version: "rules-2".into()
        }
    );
    let served = handle.current();
    assert_eq!(served.rules().len(), 1);
    assert_eq!(served.rules().matches(&describe_instances()).len(), 1);

    // New models without --rules keep the deployed pack.
    let v3 = republished(dir.path(), "rules-3");
    assert!(
        deploy(&bucket.name, &[v3.to_str().unwrap(), "--sign-key", key_arg])
            .status
            .success()
    );
    assert_eq!(bucket.manifest().await.unwrap().rules, Some(entry.clone()));
    assert!(matches!(
        function.check_now().await,
        SwapOutcome::Swapped { .. }
    ));
    assert_eq!(handle.current().rules().len(), 1);

    // A folder with a rule the engine cannot use is refused before anything is written.
    let bad = dir.path().join("bad-rules");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(
        bad.join("windows.yml"),
        WATCH_RULE.replace("product: aws", "product: windows"),
    )
    .unwrap();
    let v4 = republished(dir.path(), "rules-4");
    let refused = deploy(
        &bucket.name,
        &[
            v4.to_str().unwrap(),
            "--rules",
            bad.to_str().unwrap(),
            "--sign-key",
            key_arg,
        ],
    );
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("windows.yml"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert_eq!(bucket.manifest().await.unwrap().set_version, "rules-3");

    // Back to the embedded pack, then rolled back to the folder's.
    assert!(
        deploy(
            &bucket.name,
            &[
                v4.to_str().unwrap(),
                "--rules",
                "embedded",
                "--sign-key",
                key_arg
            ]
        )
        .status
        .success()
    );
    assert!(bucket.manifest().await.unwrap().rules.is_none());
    assert!(matches!(
        function.check_now().await,
        SwapOutcome::Swapped { .. }
    ));
    assert_eq!(handle.current().rules().len(), embedded_rules);
    assert!(
        rollback(&bucket.name, &["--sign-key", key_arg])
            .status
            .success()
    );
    assert!(matches!(
        function.check_now().await,
        SwapOutcome::Swapped { .. }
    ));
    assert_eq!(handle.current().rules().len(), 1);

    // A tampered rule file is refused by a cold start, which keeps its embedded set.
    let mut bundle = bucket.get(&entry.file).await.unwrap();
    let text = String::from_utf8(bundle.clone()).unwrap();
    bundle = text.replace("level: high", "level: low").into_bytes();
    bucket.put(&entry.file, &bundle).await;
    let (mut cold, handle) = bucket.function(&public);
    match cold.check_now().await {
        SwapOutcome::Kept { reason } => assert!(reason.contains("sha256"), "{reason}"),
        other => panic!("tampered rules served: {other:?}"),
    }
    assert_eq!(handle.current().rules().len(), embedded_rules);
}

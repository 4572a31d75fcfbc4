//! `s3-sentinel deploy-models`: the steps `scripts/deploy_models.sh` runs to publish a
//! model set to `s3://$MODEL_BUCKET/$MODEL_PREFIX`, and `keygen`/`sign` for signed
//! manifests.
//!
//! Bucket layout under the prefix:
//! - `manifest.json` (and `manifest.json.sig` when signed): what functions serve.
//! - `files/<sha256>.onnx`: model files, named by content, never overwritten, so a
//!   manifest (current, previous, or in history) always finds its files.
//! - `previous/manifest.json` (+ `.sig`): the manifest the last publish or rollback
//!   replaced; `rollback` puts it back (and keeps the one it replaces there, so a second
//!   rollback undoes the first).
//! - `history/<UTC time>-<set version>.json`: every manifest ever published.
//!
//! Files go up first, the signature next and the manifest last: a function reading the
//! bucket during a publish sees the old manifest (whose files are all still there) or the
//! new one, never half of a set.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use serde_json::json;

use crate::config::Platform;
use crate::ml::manifest::{
    BundledRule, MANIFEST_FILE, Manifest, ModelEntry, RuleBundle, RulesEntry, sha256_hex,
};
use crate::ml::runtime::ModelSet;
use crate::ml::swap::SIGNATURE_FILE;
use crate::setup::Aws;
use crate::state::{PutCondition, S3Location, StateStore};
use crate::training::artifacts::Artifacts;

pub const PREVIOUS_MANIFEST: &str = "previous/manifest.json";
pub const PREVIOUS_SIGNATURE: &str = "previous/manifest.json.sig";

/// The model prefix (`s3://$MODEL_BUCKET/$MODEL_PREFIX`, or a folder in tests).
pub struct ModelBucket {
    store: Arc<dyn StateStore>,
}

impl ModelBucket {
    pub fn new(store: Arc<dyn StateStore>) -> ModelBucket {
        ModelBucket { store }
    }

    pub fn location(&self, name: &str) -> String {
        let root = self.store.location();
        format!("{}/{name}", root.trim_end_matches('/'))
    }

    pub async fn get(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let found = self
            .store
            .get(name, crate::ml::swap::MAX_MODEL_BYTES)
            .await
            .with_context(|| format!("reading {}", self.location(name)))?;
        Ok(found.map(|v| v.body))
    }

    pub async fn exists(&self, name: &str) -> Result<bool> {
        Ok(self.get(name).await?.is_some())
    }

    pub async fn put(&self, name: &str, body: &[u8]) -> Result<()> {
        self.store
            .put(name, body.to_vec(), PutCondition::Always)
            .await
            .with_context(|| format!("writing {}", self.location(name)))?;
        Ok(())
    }

    pub async fn delete(&self, name: &str) -> Result<()> {
        self.store
            .delete(name)
            .await
            .with_context(|| format!("deleting {}", self.location(name)))
    }
}

/// Downloads the deployed set into `out` (manifest and model files, under the names a
/// model directory uses) and returns `out`, or `None` when nothing is deployed.
pub async fn fetch_deployed(bucket: &ModelBucket, out: &Path) -> Result<Option<PathBuf>> {
    let Some(bytes) = bucket.get(MANIFEST_FILE).await? else {
        return Ok(None);
    };
    let mut manifest = Manifest::from_json(&bytes)
        .with_context(|| format!("parsing {}", bucket.location(MANIFEST_FILE)))?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    for entry in [&mut manifest.anomaly, &mut manifest.classifier] {
        let body = bucket
            .get(&entry.file)
            .await?
            .with_context(|| format!("{} is missing", bucket.location(&entry.file)))?;
        let local = Path::new(&entry.file)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| entry.file.replace('/', "_"));
        std::fs::write(out.join(&local), &body)?;
        entry.file = local;
    }
    if let Some(entry) = &mut manifest.rules {
        let body = bucket
            .get(&entry.file)
            .await?
            .with_context(|| format!("{} is missing", bucket.location(&entry.file)))?;
        let local = "rules.json".to_string();
        std::fs::write(out.join(&local), &body)?;
        entry.file = local;
    }
    // The shadow's files are not needed to evaluate the deployed set.
    manifest.shadow = None;
    std::fs::write(out.join(MANIFEST_FILE), manifest.to_json())?;
    Ok(Some(out.to_path_buf()))
}

/// The manifest's feature schema version of a model directory.
pub fn schema_version_of(dir: &Path) -> Result<u32> {
    let path = dir.join(MANIFEST_FILE);
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let manifest =
        Manifest::from_json(&bytes).with_context(|| format!("parsing {}", path.display()))?;
    Ok(manifest.feature_schema.version)
}

/// Where the model sets are published.
#[derive(Debug, Clone, clap::Args)]
pub struct BucketArgs {
    #[arg(long, env = "MODEL_BUCKET")]
    pub bucket: String,
    #[arg(long, env = "MODEL_PREFIX", default_value = "models/")]
    pub prefix: String,
}

/// Inputs of `deploy-models publish`.
#[derive(Debug, Clone, clap::Args)]
pub struct PublishArgs {
    #[command(flatten)]
    pub bucket: BucketArgs,
    #[arg(long)]
    pub models: PathBuf,
    /// `s3-sentinel evaluate --json` output that cleared the candidate (its summary is kept
    /// in the manifest).
    #[arg(long)]
    pub evaluation: Option<PathBuf>,
    /// The quality gate was overridden, and why (kept in the manifest).
    #[arg(long)]
    pub forced_reason: Option<String>,
    /// Private key file (from `keygen`): sign the manifest.
    #[arg(long)]
    pub sign_key: Option<PathBuf>,
    /// Run the set as the shadow of the deployed one (scored beside it, output unchanged,
    /// agreement published as metrics) instead of replacing it.
    #[arg(long)]
    pub shadow: bool,
    #[arg(long)]
    pub dry_run: bool,
    /// Detection rules served with the models: a folder of Sigma rules (`*.yml`), or
    /// `embedded` for the pack built into the function. Default: the rules the deployed
    /// set serves.
    #[arg(long, value_parser = RulesArg::parse)]
    pub rules: Option<RulesArg>,
}

/// Where `--rules` takes the rules from.
#[derive(Debug, Clone, PartialEq)]
pub enum RulesArg {
    /// The pack built into the function.
    Embedded,
    /// A folder of Sigma rules.
    Dir(PathBuf),
}

impl RulesArg {
    fn parse(text: &str) -> Result<RulesArg, std::convert::Infallible> {
        Ok(if text == "embedded" {
            RulesArg::Embedded
        } else {
            RulesArg::Dir(PathBuf::from(text))
        })
    }
}

/// The rules of a folder (its `*.yml`/`*.yaml` files, by name), checked as a function
/// will check them.
pub fn rule_bundle(dir: &Path) -> Result<RuleBundle> {
    let rules: Vec<BundledRule> = crate::detection::read_dir(dir)
        .with_context(|| format!("reading the rules in {}", dir.display()))?
        .into_iter()
        .map(|(file, yaml)| BundledRule { file, yaml })
        .collect();
    if rules.is_empty() {
        bail!("{} holds no rules (*.yml)", dir.display());
    }
    let bundle = RuleBundle { rules };
    bundle
        .pack()
        .with_context(|| format!("refusing the rules in {}", dir.display()))?;
    Ok(bundle)
}

/// Publish model sets to s3://BUCKET/PREFIX (the steps scripts/deploy_models.sh runs; use
/// the script, which evaluates the candidate first).
#[derive(Debug, Clone, clap::Subcommand)]
pub enum DeployCommand {
    /// Download the deployed set into --out; prints the directory, or `embedded` when the
    /// bucket has no manifest (the functions serve their embedded defaults).
    Fetch {
        #[command(flatten)]
        bucket: BucketArgs,
        #[arg(long)]
        out: PathBuf,
    },
    /// Print the feature schema version of a model directory's manifest.
    Schema { models: PathBuf },
    /// Verify a model directory (digests, schema, probe) and upload it: files, signature,
    /// then the manifest; the replaced manifest is kept for --rollback.
    Publish(PublishArgs),
    /// Put the previous manifest back.
    Rollback {
        #[command(flatten)]
        bucket: BucketArgs,
        #[arg(long)]
        sign_key: Option<PathBuf>,
        #[arg(long)]
        dry_run: bool,
    },
}

/// Inputs of `keygen`.
#[derive(Debug, Clone, clap::Args)]
pub struct KeygenArgs {
    /// Where the private key goes (mode 0600).
    #[arg(long)]
    pub out: PathBuf,
}

/// Inputs of `sign`.
#[derive(Debug, Clone, clap::Args)]
pub struct SignArgs {
    /// Private key file (from `keygen`).
    #[arg(long)]
    pub key: PathBuf,
    pub manifest: PathBuf,
}

/// Inputs of `schema-version`.
#[derive(Debug, Clone, clap::Args)]
pub struct SchemaVersionArgs {
    /// Print the version and the feature names as JSON.
    #[arg(long)]
    pub json: bool,
}

async fn model_bucket(args: &BucketArgs) -> ModelBucket {
    let aws = Aws::new(&Platform::from_env());
    let location = S3Location {
        bucket: args.bucket.clone(),
        prefix: args.prefix.clone(),
    };
    ModelBucket::new(aws.store(&location).await)
}

/// The `deploy-models` command.
pub fn command(what: DeployCommand) -> Result<u8> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let print_plan = |plan: &Plan, dry_run: bool| {
        for step in &plan.steps {
            println!("{}{step}", if dry_run { "would " } else { "" });
        }
    };
    runtime.block_on(async {
        match what {
            DeployCommand::Fetch { bucket, out } => {
                match fetch_deployed(&model_bucket(&bucket).await, &out).await? {
                    Some(dir) => println!("{}", dir.display()),
                    None => println!("embedded"),
                }
            }
            DeployCommand::Schema { models } => println!("{}", schema_version_of(&models)?),
            DeployCommand::Publish(args) => {
                let plan = publish(&model_bucket(&args.bucket).await, &args).await?;
                print_plan(&plan, args.dry_run);
            }
            DeployCommand::Rollback {
                bucket,
                sign_key,
                dry_run,
            } => {
                let bucket = model_bucket(&bucket).await;
                let plan = rollback(&bucket, sign_key.as_deref(), dry_run).await?;
                print_plan(&plan, dry_run);
                println!("rolled back to {}", plan.set_version);
            }
        }
        Ok(0)
    })
}

/// The `keygen` command.
pub fn keygen_command(args: KeygenArgs) -> Result<u8> {
    let public = keygen(&args.out)?;
    eprintln!(
        "private key written to {} (keep it secret)",
        args.out.display()
    );
    println!("{public}");
    Ok(0)
}

/// The `sign` command.
pub fn sign_command(args: SignArgs) -> Result<u8> {
    println!("{}", sign_file(&args.key, &args.manifest)?.display());
    Ok(0)
}

/// The `schema-version` command.
pub fn schema_version_command(args: SchemaVersionArgs) -> Result<u8> {
    let schema = crate::features::FeatureSchema::current();
    if args.json {
        println!("{}", serde_json::to_string(&schema)?);
    } else {
        println!("{}", schema.version);
    }
    Ok(0)
}

/// What a publish or rollback did (or would do with `--dry-run`).
#[derive(Debug, Default)]
pub struct Plan {
    pub steps: Vec<String>,
    pub set_version: String,
}

/// The deployed manifest, as stored and parsed, and its signature: `None`s when nothing
/// is deployed.
struct Deployed {
    bytes: Option<Vec<u8>>,
    manifest: Option<Manifest>,
    signature: Option<Vec<u8>>,
}

impl Deployed {
    async fn read(bucket: &ModelBucket) -> Result<Deployed> {
        let bytes = bucket.get(MANIFEST_FILE).await?;
        let manifest = bytes
            .as_deref()
            .map(Manifest::from_json)
            .transpose()
            .with_context(|| format!("parsing {}", bucket.location(MANIFEST_FILE)))?;
        let signature = bucket.get(SIGNATURE_FILE).await?;
        Ok(Deployed {
            bytes,
            manifest,
            signature,
        })
    }

    /// Copies the manifest and its signature (or the lack of one) to `previous/`, unless
    /// `dry_run`; the plan's step names it as `what`. Nothing when nothing is deployed.
    async fn keep_as_previous(
        &self,
        bucket: &ModelBucket,
        what: &str,
        dry_run: bool,
        plan: &mut Plan,
    ) -> Result<()> {
        let Some(bytes) = &self.bytes else {
            return Ok(());
        };
        plan.steps.push(format!(
            "keep {what} as {}",
            bucket.location(PREVIOUS_MANIFEST)
        ));
        if !dry_run {
            bucket.put(PREVIOUS_MANIFEST, bytes).await?;
            match &self.signature {
                Some(sig) => bucket.put(PREVIOUS_SIGNATURE, sig).await?,
                None => bucket.delete(PREVIOUS_SIGNATURE).await?,
            }
        }
        Ok(())
    }
}

fn content_name(entry: &ModelEntry) -> String {
    format!("files/{}.onnx", entry.sha256)
}

fn read_key(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the signing key {}", path.display()))?;
    // The key itself never goes into an error message.
    crate::ml::signing::public_key_of(text.trim())
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(text.trim().to_string())
}

fn sign(key: Option<&str>, bytes: &[u8]) -> Result<Option<String>> {
    key.map(|k| crate::ml::signing::sign(k, bytes).map_err(|e| anyhow::anyhow!("signing: {e}")))
        .transpose()
}

/// A short summary of the evaluation that cleared the candidate, kept in its manifest.
fn evaluation_summary(path: &Path) -> Result<serde_json::Value> {
    let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let v: serde_json::Value =
        serde_json::from_slice(&text).with_context(|| format!("parsing {}", path.display()))?;
    let c = &v["candidate"];
    let per_class: serde_json::Map<String, serde_json::Value> = c["classifier"]["per_class"]
        .as_array()
        .map(|classes| {
            classes
                .iter()
                .filter_map(|k| Some((k["category"].as_str()?.to_string(), k["f1"].clone())))
                .collect()
        })
        .unwrap_or_default();
    Ok(json!({
        "data": v["data"],
        "macro_f1": c["classifier"]["macro_f1"],
        "f1": per_class,
        "anomaly_roc_auc": c["anomaly"]["roc_auc"],
        "anomaly_roc_auc_critical": c["anomaly"]["roc_auc_critical"],
        "priority_roc_auc_critical": c["priority"]["roc_auc_critical"],
        "priority_calibration_ece": c["priority"]["calibration"]["ece"],
        "latency_p99_us": c["latency"]["p99_us"],
        "baseline_version": v["comparison"]["baseline_version"],
        "regressions": v["regressions"],
    }))
}

/// Verifies the candidate (digests, feature schema, probe batch, exactly as a function
/// will), then uploads its files, its signature and its manifest, in that order.
pub async fn publish(bucket: &ModelBucket, args: &PublishArgs) -> Result<Plan> {
    let files = Artifacts::read_from(&args.models)?;
    let (mut candidate, anomaly, classifier) = (files.manifest, files.anomaly, files.classifier);
    candidate
        .feature_schema
        .check_compatible()
        .map_err(|e| anyhow::anyhow!("refusing {}: {e}", args.models.display()))?;
    let key = args.sign_key.as_deref().map(read_key).transpose()?;

    let deployed = Deployed::read(bucket).await?;
    let current = &deployed.manifest;

    // The rule pack: a folder given now, else the one the directory or the deployed set
    // carries (new models keep the deployed rules), else none (the embedded pack).
    let mut rules = files.rules;
    match &args.rules {
        Some(RulesArg::Embedded) => {
            candidate.rules = None;
            rules = None;
        }
        Some(RulesArg::Dir(dir)) => {
            let bundle = rule_bundle(dir)?;
            let bytes = bundle.to_json();
            candidate.rules = Some(RulesEntry {
                file: String::new(),
                sha256: sha256_hex(&bytes),
                bytes: bytes.len() as u64,
                count: bundle.rules.len() as u64,
            });
            rules = Some(bytes);
        }
        None if candidate.rules.is_none() => {
            if let Some(entry) = current.as_ref().and_then(|c| c.rules.clone()) {
                let bytes = bucket
                    .get(&entry.file)
                    .await?
                    .with_context(|| format!("{} is missing", bucket.location(&entry.file)))?;
                candidate.rules = Some(entry);
                rules = Some(bytes);
            }
        }
        None => {}
    }
    ModelSet::load_with_rules(candidate.clone(), &anomaly, &classifier, rules.as_deref())
        .with_context(|| format!("refusing {}", args.models.display()))?;

    candidate.anomaly.file = content_name(&candidate.anomaly);
    candidate.classifier.file = content_name(&candidate.classifier);
    if let Some(entry) = &mut candidate.rules {
        entry.file = format!("files/{}.rules.json", entry.sha256);
    }
    candidate.shadow = None;
    let now = chrono::Utc::now();
    let mut deployment = json!({
        "published_at": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "published_by": format!("s3-sentinel deploy-models {}", env!("CARGO_PKG_VERSION")),
        "previous_set_version": current.as_ref().map(|m| m.set_version.clone()),
        "role": if args.shadow { "shadow" } else { "active" },
    });
    if let Some(path) = &args.evaluation {
        deployment["evaluation"] = evaluation_summary(path)?;
    }
    if let Some(reason) = &args.forced_reason {
        deployment["forced"] = json!(reason);
    }
    candidate
        .extra
        .insert("deployment".to_string(), deployment.clone());

    let mut new_manifest = if args.shadow {
        let Some(mut active) = current.clone() else {
            bail!(
                "nothing is deployed at {}: a shadow runs beside an active set",
                bucket.location(MANIFEST_FILE)
            );
        };
        if active.serves_same_models(&candidate) {
            bail!("the candidate is the active set; nothing to shadow");
        }
        active.shadow = Some(Box::new(candidate.clone()));
        active
    } else {
        candidate.clone()
    };
    new_manifest.set_sequence = Some(next_sequence(current.as_ref(), now));
    let manifest_bytes = new_manifest.to_json();
    let signature = sign(key.as_deref(), &manifest_bytes)?;

    let mut plan = Plan {
        set_version: candidate.set_version.clone(),
        ..Plan::default()
    };
    let mut uploads = vec![
        (candidate.anomaly.file.clone(), anomaly),
        (candidate.classifier.file.clone(), classifier),
    ];
    if let (Some(entry), Some(bytes)) = (&candidate.rules, rules) {
        uploads.push((entry.file.clone(), bytes));
    }
    for (file, body) in &uploads {
        if bucket.exists(file).await? {
            plan.steps
                .push(format!("{} already there", bucket.location(file)));
        } else {
            plan.steps.push(format!(
                "upload {} ({} bytes)",
                bucket.location(file),
                body.len()
            ));
            if !args.dry_run {
                bucket.put(file, body).await?;
            }
        }
    }
    let history = format!(
        "history/{}-{}.json",
        now.format("%Y%m%dT%H%M%SZ"),
        sanitize(&new_manifest.set_version)
    );
    plan.steps.push(format!(
        "keep this manifest as {}",
        bucket.location(&history)
    ));
    let version = current.as_ref().map(|m| m.set_version.as_str());
    let what = format!("the deployed manifest ({})", version.unwrap_or("?"));
    deployed
        .keep_as_previous(bucket, &what, args.dry_run, &mut plan)
        .await?;
    if !args.dry_run {
        bucket.put(&history, &manifest_bytes).await?;
    }
    write_manifest(
        bucket,
        &manifest_bytes,
        signature.as_deref(),
        args.dry_run,
        &mut plan,
    )
    .await?;
    Ok(plan)
}

async fn write_manifest(
    bucket: &ModelBucket,
    manifest_bytes: &[u8],
    signature: Option<&str>,
    dry_run: bool,
    plan: &mut Plan,
) -> Result<()> {
    match signature {
        Some(sig) => {
            plan.steps
                .push(format!("upload {}", bucket.location(SIGNATURE_FILE)));
            if !dry_run {
                bucket
                    .put(SIGNATURE_FILE, format!("{sig}\n").as_bytes())
                    .await?;
            }
        }
        None => {
            plan.steps.push(format!(
                "remove {} (unsigned manifest)",
                bucket.location(SIGNATURE_FILE)
            ));
            if !dry_run {
                bucket.delete(SIGNATURE_FILE).await?;
            }
        }
    }
    plan.steps
        .push(format!("upload {} (last)", bucket.location(MANIFEST_FILE)));
    if !dry_run {
        bucket.put(MANIFEST_FILE, manifest_bytes).await?;
    }
    Ok(())
}

fn sanitize(version: &str) -> String {
    version
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Puts the previous manifest back; the replaced one becomes the previous. With a key
/// the restored manifest is signed again (its old signature is reused otherwise).
pub async fn rollback(
    bucket: &ModelBucket,
    sign_key: Option<&Path>,
    dry_run: bool,
) -> Result<Plan> {
    let Some(previous) = bucket.get(PREVIOUS_MANIFEST).await? else {
        bail!(
            "no previous manifest at {}: nothing to roll back to",
            bucket.location(PREVIOUS_MANIFEST)
        );
    };
    let mut manifest = Manifest::from_json(&previous)
        .with_context(|| format!("parsing {}", bucket.location(PREVIOUS_MANIFEST)))?;
    for entry in [&manifest.anomaly, &manifest.classifier] {
        if !bucket.exists(&entry.file).await? {
            bail!(
                "the previous manifest names {}, which is missing",
                bucket.location(&entry.file)
            );
        }
    }
    let deployed = Deployed::read(bucket).await?;
    // The set comes back as a new publication: functions refuse a manifest older than
    // the one they serve (it could be a replay), so it gets the next sequence and a new
    // signature over it.
    manifest.set_sequence = Some(next_sequence(
        deployed.manifest.as_ref(),
        chrono::Utc::now(),
    ));
    let previous = manifest.to_json();
    let signature = match sign_key {
        Some(path) => sign(Some(&read_key(path)?), &previous)?,
        None if bucket.exists(PREVIOUS_SIGNATURE).await? => bail!(
            "the previous manifest is signed: rolling back re-signs it with a new sequence, \
             so give --sign-key"
        ),
        None => None,
    };
    let mut plan = Plan {
        set_version: manifest.set_version.clone(),
        ..Plan::default()
    };
    deployed
        .keep_as_previous(bucket, "the deployed manifest", dry_run, &mut plan)
        .await?;
    write_manifest(bucket, &previous, signature.as_deref(), dry_run, &mut plan).await?;
    Ok(plan)
}

/// The sequence of a new publication: the publish time in milliseconds, above the deployed
/// set's so it grows even when clocks disagree.
fn next_sequence(deployed: Option<&Manifest>, now: chrono::DateTime<chrono::Utc>) -> u64 {
    let deployed = deployed.and_then(|m| m.set_sequence).unwrap_or(0);
    (now.timestamp_millis().max(0) as u64).max(deployed + 1)
}

/// `keygen`: writes the private key (hex) to `out`, readable by its owner only, and
/// returns the public key.
pub fn keygen(out: &Path) -> Result<String> {
    if out.exists() {
        bail!("{} exists; refusing to overwrite a key", out.display());
    }
    let (private, public) = crate::ml::signing::generate_keypair();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(out)
        .with_context(|| format!("creating {}", out.display()))?;
    std::io::Write::write_all(&mut file, format!("{private}\n").as_bytes())?;
    Ok(public)
}

/// `sign`: writes `<manifest>.sig` next to the manifest; returns its path.
pub fn sign_file(key: &Path, manifest: &Path) -> Result<PathBuf> {
    let key = read_key(key)?;
    let bytes =
        std::fs::read(manifest).with_context(|| format!("reading {}", manifest.display()))?;
    Manifest::from_json(&bytes)
        .with_context(|| format!("{} is not a manifest", manifest.display()))?;
    let sig = sign(Some(&key), &bytes)?.expect("a key was given");
    let mut out = manifest.as_os_str().to_owned();
    out.push(".sig");
    let out = PathBuf::from(out);
    std::fs::write(&out, format!("{sig}\n"))?;
    Ok(out)
}

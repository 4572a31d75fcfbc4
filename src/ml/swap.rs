//! Model swap from a bucket: with `MODEL_BUCKET`/`MODEL_PREFIX` set, the function reads
//! `manifest.json` there at cold start and at most every [`SwapConfig::interval`], and
//! when it names other models it downloads them, verifies their sha256 and feature
//! schema (and the manifest's signature when a public key is configured), loads and
//! probes them, and only then puts them in service. Any failure keeps the models in
//! service and logs why. Without a bucket the embedded defaults serve.
//!
//! The bucket is read through a [`StateStore`]: an S3 prefix, or a local folder (tests,
//! `s3-sentinel` runs against a folder).

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use smart_default::SmartDefault;

use super::manifest::{MANIFEST_FILE, Manifest};
use super::runtime::ModelSet;
use crate::state::{StateError, StateStore};

/// The model set in service, replaceable at any time, and an optional shadow set scored
/// beside it without affecting output.
#[derive(Clone)]
pub struct ModelHandle {
    active: Arc<RwLock<Arc<ModelSet>>>,
    shadow: Arc<RwLock<Option<Arc<ModelSet>>>>,
}

impl ModelHandle {
    /// A handle serving `models`, with no shadow set.
    pub fn new(models: ModelSet) -> Self {
        ModelHandle {
            active: Arc::new(RwLock::new(Arc::new(models))),
            shadow: Arc::new(RwLock::new(None)),
        }
    }

    /// The set in service now.
    pub fn current(&self) -> Arc<ModelSet> {
        self.active
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Puts a new set in service; batches already running finish with the old one.
    pub fn replace(&self, models: ModelSet) {
        *self.active.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(models);
    }

    /// The shadow set, if one is scored.
    pub fn shadow(&self) -> Option<Arc<ModelSet>> {
        self.shadow
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Starts (or, with `None`, stops) scoring a shadow set beside the active one.
    pub fn set_shadow(&self, models: Option<ModelSet>) {
        *self.shadow.write().unwrap_or_else(|e| e.into_inner()) = models.map(Arc::new);
    }
}

/// Largest manifest read (the default one is a few hundred KB with its drift profile).
pub const MAX_MANIFEST_BYTES: u64 = 4 * 1024 * 1024;
/// Largest signature file read (128 hex digits and a newline).
pub const MAX_SIGNATURE_BYTES: u64 = 1024;
/// Largest model file read (the default models are about 20 KB each).
pub const MAX_MODEL_BYTES: u64 = 16 * 1024 * 1024;
/// Largest rule bundle fetched (5,000 rules of well under 2 KiB each fit).
pub const MAX_RULES_BYTES: u64 = 8 * 1024 * 1024;

/// The detached signature of the manifest (hex Ed25519 over its exact bytes).
pub const SIGNATURE_FILE: &str = "manifest.json.sig";
pub const DEFAULT_CHECK_INTERVAL: Duration = Duration::from_secs(15 * 60);

/// How the swapper checks the bucket.
/// How the swapper checks the bucket and what it accepts.
#[derive(Debug, Clone, SmartDefault)]
pub struct SwapConfig {
    /// Time between checks of the bucket.
    #[default(DEFAULT_CHECK_INTERVAL)]
    pub interval: Duration,
    /// Ed25519 public key (hex): a manifest must carry a valid signature by it.
    pub public_key: Option<String>,
    /// Serve unsigned manifests when no key is configured (an explicit opt-out; without
    /// it and without a key, nothing from the bucket is served).
    pub allow_unsigned: bool,
}

/// Where the swapper remembers, across cold starts, the newest set it served and the
/// manifests it refused (in the state store, which the model bucket's writers cannot
/// write).
pub const MEMORY_KEY: &str = "ml/model-swap.json";
const MAX_MEMORY_BYTES: u64 = 64 * 1024;
/// Refused manifests remembered.
const MAX_REFUSED: usize = 32;

/// What the swapper keeps in [`MEMORY_KEY`].
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SwapMemory {
    /// The highest `set_sequence` served: a manifest below it is a replay.
    pub highest_sequence: u64,
    /// Version tags (manifest and signature) of manifests refused for good: not read again.
    pub refused: Vec<String>,
}

impl SwapMemory {
    fn merge(&mut self, other: &SwapMemory) {
        self.highest_sequence = self.highest_sequence.max(other.highest_sequence);
        for tag in &other.refused {
            if !self.refused.contains(tag) {
                self.refused.push(tag.clone());
            }
        }
        if self.refused.len() > MAX_REFUSED {
            self.refused.drain(..self.refused.len() - MAX_REFUSED);
        }
    }
}

/// What a check did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SwapOutcome {
    /// The last check was less than an interval ago.
    NotDue,
    /// The bucket has no manifest: the current models stay.
    NoManifest,
    /// The manifest names the models in service (or one already refused).
    Unchanged,
    /// A new set is in service.
    Swapped {
        /// Its version.
        version: String,
    },
    /// The active set stays; the shadow set changed (`None`: no shadow any more).
    ShadowChanged {
        /// Version of the new shadow set.
        shadow: Option<String>,
    },
    /// The new models were refused; the current ones stay.
    Kept {
        /// Why they were refused.
        reason: String,
    },
}

/// Puts newer model sets from a bucket in service through a [`ModelHandle`].
pub struct ModelSwapper {
    store: Arc<dyn StateStore>,
    handle: ModelHandle,
    config: SwapConfig,
    last_check: Option<Instant>,
    /// Version tags of the manifest (and signature) last served or refused for good: it
    /// is not looked at again.
    settled: Option<String>,
    /// The state store the memory lives in, if any.
    state: Option<Arc<dyn StateStore>>,
    /// `None` until read from the state store (at the first check).
    memory: Option<SwapMemory>,
}

impl ModelSwapper {
    /// A swapper over `store` that has not checked yet.
    pub fn new(store: Arc<dyn StateStore>, handle: ModelHandle, config: SwapConfig) -> Self {
        ModelSwapper {
            store,
            handle,
            config,
            last_check: None,
            settled: None,
            state: None,
            memory: None,
        }
    }

    /// Remembers the newest set served and the manifests refused in `state`, so neither a
    /// replayed older set nor a refused one costs anything after a cold start.
    pub fn with_memory(mut self, state: Arc<dyn StateStore>) -> Self {
        self.state = Some(state);
        self
    }

    /// What the swapper remembers (read from the state store on the first check).
    pub fn memory(&self) -> SwapMemory {
        self.memory.clone().unwrap_or_default()
    }

    async fn load_memory(&mut self) {
        if self.memory.is_some() {
            return;
        }
        let mut memory = SwapMemory::default();
        if let Some(state) = &self.state {
            let stored = crate::state::load(state.as_ref(), MEMORY_KEY, MAX_MEMORY_BYTES, |b| {
                serde_json::from_slice::<SwapMemory>(b).map_err(|e| format!("{MEMORY_KEY}: {e}"))
            })
            .await;
            match stored {
                Ok(Some(m)) => memory.merge(&m),
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "model swap memory not read"),
            }
        }
        self.memory = Some(memory);
    }

    /// Adds to the memory and stores it (merged with other functions'). Best effort: the
    /// in-process memory holds either way.
    async fn remember(&mut self, change: SwapMemory) {
        let memory = self.memory.get_or_insert_with(SwapMemory::default);
        memory.merge(&change);
        let Some(state) = &self.state else {
            return;
        };
        let stored = crate::state::update(state.as_ref(), MEMORY_KEY, MAX_MEMORY_BYTES, |old| {
            let mut merged: SwapMemory = match old {
                Some(b) => serde_json::from_slice(b)
                    .map_err(|e| StateError::Damaged(format!("{MEMORY_KEY}: {e}")))?,
                None => SwapMemory::default(),
            };
            merged.merge(&change);
            Ok(serde_json::to_vec(&merged).expect("swap memory serializes"))
        })
        .await;
        if let Err(e) = stored {
            tracing::warn!(error = %e, "model swap memory not stored");
        }
    }

    /// Checks the bucket unless the last check is less than an interval old.
    pub async fn check_if_due(&mut self, now: Instant) -> SwapOutcome {
        if let Some(last) = self.last_check
            && now.duration_since(last) < self.config.interval
        {
            return SwapOutcome::NotDue;
        }
        self.last_check = Some(now);
        self.check_now().await
    }

    /// Checks the bucket now, logs the outcome and returns it.
    pub async fn check_now(&mut self) -> SwapOutcome {
        self.last_check.get_or_insert_with(Instant::now);
        let outcome = self.check().await;
        let location = self.store.location();
        match &outcome {
            SwapOutcome::Swapped { version } => {
                tracing::info!(%location, %version, shadow = ?self.handle.shadow().map(|s| s.version().to_string()), "model set swapped in")
            }
            SwapOutcome::ShadowChanged { shadow } => {
                tracing::info!(%location, ?shadow, active = %self.handle.current().version(), "shadow model set changed")
            }
            SwapOutcome::Kept { reason } => tracing::warn!(
                %location, %reason, current = %self.handle.current().version(),
                "new models refused; keeping the models in service"
            ),
            SwapOutcome::NoManifest => {
                tracing::debug!(%location, "no model manifest; keeping the models in service")
            }
            _ => {}
        }
        outcome
    }

    /// A file of the model prefix, `None` when it does not exist; refused unread when it
    /// is over `limit` bytes.
    async fn fetch(&self, name: &str, limit: u64) -> Result<Option<Vec<u8>>, String> {
        self.store
            .get(name, limit)
            .await
            .map(|found| found.map(|v| v.body))
            .map_err(|e| e.to_string())
    }

    async fn check(&mut self) -> SwapOutcome {
        self.load_memory().await;
        // The tags alone first: a manifest already served or refused is not read again,
        // even after a cold start.
        let (manifest_tag, manifest_size) = match self.store.head(MANIFEST_FILE).await {
            Ok(Some(head)) => head,
            Ok(None) => return SwapOutcome::NoManifest,
            Err(e) => {
                return SwapOutcome::Kept {
                    reason: format!("cannot read {MANIFEST_FILE}: {e}"),
                };
            }
        };
        let signature_tag = match self.store.head(SIGNATURE_FILE).await {
            Ok(head) => head.map(|(tag, _)| tag).unwrap_or_default(),
            Err(e) => {
                return SwapOutcome::Kept {
                    reason: format!("cannot read {SIGNATURE_FILE}: {e}"),
                };
            }
        };
        // A manifest is judged together with its signature: a signature uploaded later
        // gets the manifest looked at again.
        let digest = format!("{manifest_tag}:{signature_tag}");
        if self.settled.as_deref() == Some(digest.as_str())
            || self.memory().refused.contains(&digest)
        {
            self.settled = Some(digest);
            return SwapOutcome::Unchanged;
        }
        if manifest_size > MAX_MANIFEST_BYTES {
            let reason = format!(
                "{MANIFEST_FILE} is {manifest_size} bytes, over the {MAX_MANIFEST_BYTES}-byte limit"
            );
            return self.refuse(digest, reason).await;
        }
        let manifest_bytes = match self.fetch(MANIFEST_FILE, MAX_MANIFEST_BYTES).await {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return SwapOutcome::NoManifest,
            Err(e) => {
                return SwapOutcome::Kept {
                    reason: format!("cannot read {MANIFEST_FILE}: {e}"),
                };
            }
        };
        let signature = if self.config.public_key.is_some() {
            match self.fetch(SIGNATURE_FILE, MAX_SIGNATURE_BYTES).await {
                Ok(sig) => sig,
                Err(e) => {
                    return SwapOutcome::Kept {
                        reason: format!("cannot read {SIGNATURE_FILE}: {e}"),
                    };
                }
            }
        } else {
            None
        };
        match self.evaluate(&manifest_bytes, signature.as_deref()).await {
            Evaluation::Serve(models, shadow) => {
                let version = models.version().to_string();
                let sequence = models.manifest().set_sequence.unwrap_or(0);
                self.handle.replace(*models);
                self.handle.set_shadow(shadow.map(|s| *s));
                self.settled = Some(digest);
                self.remember(SwapMemory {
                    highest_sequence: sequence,
                    refused: Vec::new(),
                })
                .await;
                SwapOutcome::Swapped { version }
            }
            Evaluation::Shadow(shadow) => {
                let version = shadow.as_ref().map(|s| s.version().to_string());
                self.handle.set_shadow(shadow.map(|s| *s));
                self.settled = Some(digest);
                SwapOutcome::ShadowChanged { shadow: version }
            }
            Evaluation::Same => {
                self.settled = Some(digest);
                SwapOutcome::Unchanged
            }
            Evaluation::Refuse(reason) => self.refuse(digest, reason).await,
            Evaluation::Retry(reason) => SwapOutcome::Kept { reason },
        }
    }

    /// A manifest refused for good: not looked at again, here or after a cold start.
    async fn refuse(&mut self, digest: String, reason: String) -> SwapOutcome {
        self.settled = Some(digest.clone());
        self.remember(SwapMemory {
            highest_sequence: 0,
            refused: vec![digest],
        })
        .await;
        SwapOutcome::Kept { reason }
    }

    async fn evaluate(&self, manifest_bytes: &[u8], signature: Option<&[u8]>) -> Evaluation {
        if self.config.public_key.is_none() && !self.config.allow_unsigned {
            return Evaluation::Refuse(
                "no MODEL_PUBLIC_KEY to verify the manifest with, and unsigned models are not \
                 allowed (MODEL_ALLOW_UNSIGNED)"
                    .to_string(),
            );
        }
        if let Some(key) = &self.config.public_key {
            match signature {
                Some(sig) => {
                    let sig = String::from_utf8_lossy(sig);
                    if let Err(e) = super::signing::verify(key, manifest_bytes, sig.trim()) {
                        return Evaluation::Refuse(format!("manifest signature: {e}"));
                    }
                }
                None => {
                    return Evaluation::Refuse(format!(
                        "a public key is configured and {SIGNATURE_FILE} is missing"
                    ));
                }
            }
        }
        let manifest = match Manifest::from_json(manifest_bytes) {
            Ok(m) => m,
            Err(e) => {
                return Evaluation::Refuse(format!("{MANIFEST_FILE} is not a valid manifest: {e}"));
            }
        };
        let sequence = manifest.set_sequence.unwrap_or(0);
        let served = self.memory().highest_sequence;
        if sequence < served {
            return Evaluation::Refuse(format!(
                "{MANIFEST_FILE} (set {}, sequence {sequence}) is older than a set already \
                 served (sequence {served}): a manifest put back, not published",
                manifest.set_version
            ));
        }
        let current = self.handle.current();
        let shadow_manifest = manifest.shadow.clone().map(|s| *s);
        if manifest.serves_same_models(current.manifest()) {
            let serving_shadow = self.handle.shadow();
            let same_shadow = match (&shadow_manifest, &serving_shadow) {
                (None, None) => true,
                (Some(m), Some(s)) => m.serves_same_models(s.manifest()),
                _ => false,
            };
            if same_shadow {
                return Evaluation::Same;
            }
            return match shadow_manifest {
                None => Evaluation::Shadow(None),
                Some(m) => match self.load(m).await {
                    Ok(set) => Evaluation::Shadow(Some(set)),
                    Err(e) => e.shadow(),
                },
            };
        }
        let active = match self.load(manifest).await {
            Ok(set) => set,
            Err(e) => return e.into(),
        };
        let shadow = match shadow_manifest {
            None => None,
            Some(m) => match self.load(m).await {
                Ok(set) => Some(set),
                Err(e) => {
                    // A broken candidate must not keep the active set from being served.
                    tracing::warn!(reason = %e.reason(), "shadow model set refused; serving without a shadow");
                    None
                }
            },
        };
        Evaluation::Serve(active, shadow)
    }

    /// Fetches, verifies, loads and probes the set a manifest names.
    async fn load(&self, manifest: Manifest) -> Result<Box<ModelSet>, LoadFailure> {
        if let Err(e) = manifest.feature_schema.check_compatible() {
            return Err(LoadFailure::Refuse(e));
        }
        let mut files = Vec::with_capacity(2);
        for entry in [&manifest.anomaly, &manifest.classifier] {
            match self.fetch(&entry.file, MAX_MODEL_BYTES).await {
                Ok(Some(bytes)) => files.push(bytes),
                Ok(None) => return Err(LoadFailure::Retry(format!("{} is missing", entry.file))),
                Err(e) => {
                    return Err(LoadFailure::Retry(format!(
                        "cannot read {}: {e}",
                        entry.file
                    )));
                }
            }
        }
        let classifier = files.pop().expect("two files");
        let anomaly = files.pop().expect("two files");
        let rules = match &manifest.rules {
            None => None,
            Some(entry) => match self.fetch(&entry.file, MAX_RULES_BYTES).await {
                Ok(Some(bytes)) => Some(bytes),
                Ok(None) => return Err(LoadFailure::Retry(format!("{} is missing", entry.file))),
                Err(e) => {
                    return Err(LoadFailure::Retry(format!(
                        "cannot read {}: {e}",
                        entry.file
                    )));
                }
            },
        };
        // Optimizing graphs is CPU work: keep it off the async workers.
        let loaded = tokio::task::spawn_blocking(move || {
            ModelSet::load_with_rules(manifest, &anomaly, &classifier, rules.as_deref())
        })
        .await;
        match loaded {
            Ok(Ok(models)) => Ok(Box::new(models)),
            Ok(Err(e)) => Err(LoadFailure::Refuse(e.to_string())),
            Err(e) => Err(LoadFailure::Retry(format!("loading task failed: {e}"))),
        }
    }
}

enum LoadFailure {
    Refuse(String),
    Retry(String),
}

impl LoadFailure {
    fn reason(&self) -> &str {
        match self {
            LoadFailure::Refuse(r) | LoadFailure::Retry(r) => r,
        }
    }

    fn shadow(self) -> Evaluation {
        match self {
            LoadFailure::Refuse(r) => Evaluation::Refuse(format!("shadow set: {r}")),
            LoadFailure::Retry(r) => Evaluation::Retry(format!("shadow set: {r}")),
        }
    }
}

impl From<LoadFailure> for Evaluation {
    fn from(f: LoadFailure) -> Evaluation {
        match f {
            LoadFailure::Refuse(r) => Evaluation::Refuse(r),
            LoadFailure::Retry(r) => Evaluation::Retry(r),
        }
    }
}

enum Evaluation {
    /// The active set and its shadow, if the manifest names one.
    Serve(Box<ModelSet>, Option<Box<ModelSet>>),
    /// The active set stays; the shadow changes.
    Shadow(Option<Box<ModelSet>>),
    Same,
    /// Wrong for good (bad digest, schema, signature, failed probe).
    Refuse(String),
    /// Possibly transient (network, upload in progress).
    Retry(String),
}

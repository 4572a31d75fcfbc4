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

use super::manifest::{MANIFEST_FILE, Manifest, sha256_hex};
use super::runtime::ModelSet;
use crate::state::StateStore;

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

/// The detached signature of the manifest (hex Ed25519 over its exact bytes).
pub const SIGNATURE_FILE: &str = "manifest.json.sig";
pub const DEFAULT_CHECK_INTERVAL: Duration = Duration::from_secs(15 * 60);

/// How the swapper checks the bucket.
#[derive(Debug, Clone)]
pub struct SwapConfig {
    /// Least time between two checks of the bucket.
    pub interval: Duration,
    /// Ed25519 public key (hex): when set, a manifest must carry a valid signature.
    pub public_key: Option<String>,
}

impl Default for SwapConfig {
    fn default() -> Self {
        SwapConfig {
            interval: DEFAULT_CHECK_INTERVAL,
            public_key: None,
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
    /// Digest of the manifest last served or refused for good: it is not looked at again.
    settled: Option<String>,
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

    /// A file of the model prefix, `None` when it does not exist.
    async fn fetch(&self, name: &str) -> Result<Option<Vec<u8>>, String> {
        self.store
            .get(name)
            .await
            .map(|found| found.map(|v| v.body))
            .map_err(|e| e.to_string())
    }

    async fn check(&mut self) -> SwapOutcome {
        let manifest_bytes = match self.fetch(MANIFEST_FILE).await {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return SwapOutcome::NoManifest,
            Err(e) => {
                return SwapOutcome::Kept {
                    reason: format!("cannot read {MANIFEST_FILE}: {e}"),
                };
            }
        };
        let signature = if self.config.public_key.is_some() {
            match self.fetch(SIGNATURE_FILE).await {
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
        // A manifest is judged together with its signature: a signature uploaded later
        // gets the manifest looked at again.
        let digest = format!(
            "{}:{}",
            sha256_hex(&manifest_bytes),
            signature.as_deref().map(sha256_hex).unwrap_or_default()
        );
        if self.settled.as_deref() == Some(digest.as_str()) {
            return SwapOutcome::Unchanged;
        }
        match self.evaluate(&manifest_bytes, signature.as_deref()).await {
            Evaluation::Serve(models, shadow) => {
                let version = models.version().to_string();
                self.handle.replace(*models);
                self.handle.set_shadow(shadow.map(|s| *s));
                self.settled = Some(digest);
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
            Evaluation::Refuse(reason) => {
                self.settled = Some(digest);
                SwapOutcome::Kept { reason }
            }
            Evaluation::Retry(reason) => SwapOutcome::Kept { reason },
        }
    }

    async fn evaluate(&self, manifest_bytes: &[u8], signature: Option<&[u8]>) -> Evaluation {
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
            match self.fetch(&entry.file).await {
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
        // Optimizing graphs is CPU work: keep it off the async workers.
        let loaded =
            tokio::task::spawn_blocking(move || ModelSet::load(manifest, &anomaly, &classifier))
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

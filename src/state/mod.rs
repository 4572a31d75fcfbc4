//! Pipeline state kept between invocations: completion markers and checkpoints, the
//! pattern database, adaptive thresholds, drift histograms. Stored as small objects under
//! one prefix and updated with conditional writes, so concurrent functions never
//! overwrite each other's work.
//!
//! State is data, never configuration: every reader bounds the size it reads and checks
//! what it parses, and a document it cannot use is set aside under `damaged/` and noted in
//! the store's [`DamageLog`] (the runner raises a health alert for each) while that part of
//! the state starts afresh. A damaged file never stops ingestion or every later save.

pub mod local;
pub mod s3;

use async_trait::async_trait;

/// A bucket and key prefix (the prefix is empty or ends with `/`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Location {
    /// The bucket.
    pub bucket: String,
    /// Key prefix, empty or ending with `/`.
    pub prefix: String,
}

/// A stored object and the version tag its next conditional write must name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned {
    /// The stored bytes.
    pub body: Vec<u8>,
    /// Their version tag, for a conditional write that follows.
    pub etag: String,
}

/// When a write may replace what is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutCondition {
    /// Unconditional.
    Always,
    /// Only if the current version still has this tag (optimistic concurrency).
    IfMatch(String),
    /// Only if nothing exists yet under the key.
    IfAbsent,
}

/// Why a state store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Another writer got there first; read again, merge, retry.
    #[error("conditional write lost to a concurrent writer")]
    PreconditionFailed,
    /// The stored object is larger than its reader accepts; its body was not read.
    #[error("{key} is {size} bytes, over the {limit}-byte limit for it")]
    TooLarge {
        /// The object's key.
        key: String,
        /// Its size.
        size: u64,
        /// The reader's limit.
        limit: u64,
    },
    /// The stored document cannot be used (not JSON, wrong version, values out of range):
    /// [`update`] sets it aside and starts from nothing.
    #[error("{0}")]
    Damaged(String),
    /// Any other failure of the store.
    #[error("state store: {0}")]
    Other(#[from] anyhow::Error),
}

/// A state document that could not be used: set aside, and the state it held started
/// afresh. The runner turns each into a connector-health alert row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// The document's key.
    pub key: String,
    /// Why it could not be used.
    pub reason: String,
    /// Where it was moved, when moving it worked.
    pub set_aside_as: Option<String>,
}

/// Damage noticed since the last [`DamageLog::take`]; each store keeps one for whoever
/// reports on it.
#[derive(Debug, Default)]
pub struct DamageLog(std::sync::Mutex<Vec<Damage>>);

impl DamageLog {
    /// Notes one damaged document.
    pub fn push(&self, damage: Damage) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(damage);
    }

    /// What was noted since the last call.
    pub fn take(&self) -> Vec<Damage> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Small objects under one prefix, with conditional writes.
#[async_trait]
pub trait StateStore: Send + Sync {
    /// The object under `key` and its version tag; `None` when absent;
    /// [`StateError::TooLarge`] when it is over `limit` bytes, before its body is read.
    async fn get(&self, key: &str, limit: u64) -> Result<Option<Versioned>, StateError>;
    /// The version tag and size of the object under `key`, without its body; `None` when
    /// absent.
    async fn head(&self, key: &str) -> Result<Option<(String, u64)>, StateError>;
    /// Returns the new version tag.
    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        condition: PutCondition,
    ) -> Result<String, StateError>;
    /// Removes the object under `key`.
    async fn delete(&self, key: &str) -> Result<(), StateError>;
    /// Moves the object under `from` to `to` without reading it here.
    async fn rename(&self, from: &str, to: &str) -> Result<(), StateError>;
    /// Keys under `prefix`, in lexical order.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StateError>;
    /// Where the store is, for messages: `s3://bucket/prefix` or a folder.
    fn location(&self) -> String;
    /// Damaged documents noticed in this store.
    fn damage(&self) -> &DamageLog;
}

/// Moves a document that cannot be used to `damaged/<key>/<time>` (so the next save
/// starts afresh and the original stays for inspection) and notes it in the store's damage
/// log. Best effort: when the move fails the document is deleted instead, and when that
/// fails too the next save overwrites it.
pub async fn set_aside<S: StateStore + ?Sized>(store: &S, key: &str, reason: &str) {
    let to = format!(
        "damaged/{key}/{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ")
    );
    let set_aside_as = match store.rename(key, &to).await {
        Ok(()) => Some(to),
        Err(e) => {
            tracing::warn!(%key, error = %e, "could not move a damaged state document aside");
            if let Err(e) = store.delete(key).await {
                tracing::warn!(%key, error = %e, "could not delete a damaged state document");
            }
            None
        }
    };
    tracing::error!(%key, %reason, set_aside_as = ?set_aside_as, location = %store.location(),
        "damaged state document set aside; this part of the state starts afresh");
    store.damage().push(Damage {
        key: key.to_string(),
        reason: reason.to_string(),
        set_aside_as,
    });
}

/// Reads a document with `parse`: `None` when absent; a document over `limit` bytes or
/// one `parse` refuses is set aside ([`set_aside`]) and read as absent.
pub async fn load<S, T>(
    store: &S,
    key: &str,
    limit: u64,
    parse: impl FnOnce(&[u8]) -> Result<T, String>,
) -> Result<Option<T>, StateError>
where
    S: StateStore + ?Sized,
{
    let reason = match store.get(key, limit).await {
        Ok(None) => return Ok(None),
        Ok(Some(v)) => match parse(&v.body) {
            Ok(doc) => return Ok(Some(doc)),
            Err(reason) => reason,
        },
        Err(e @ StateError::TooLarge { .. }) => e.to_string(),
        Err(e) => return Err(e),
    };
    set_aside(store, key, &reason).await;
    Ok(None)
}

/// Refuses a document written in another format version than `reads`, the one this build
/// reads; `what` names the document (`drift counts`).
pub fn check_version(what: &str, found: u32, reads: u32) -> Result<(), String> {
    if found == reads {
        return Ok(());
    }
    Err(format!("{what} version {found}; this build reads {reads}"))
}

/// Read-modify-write with retries on conflict: `update` sees the current body (or `None`)
/// and returns the new one. This is how concurrent invocations merge instead of
/// overwriting. A current body over `limit` bytes, or one `update` refuses with
/// [`StateError::Damaged`], is set aside and `update` called again with `None`, so a damaged
/// document never stops every later save.
pub async fn update<S, F>(
    store: &S,
    key: &str,
    limit: u64,
    mut update: F,
) -> Result<Vec<u8>, StateError>
where
    S: StateStore + ?Sized,
    F: FnMut(Option<&[u8]>) -> Result<Vec<u8>, StateError>,
{
    const ATTEMPTS: usize = 32;
    for attempt in 0..ATTEMPTS {
        let current = match store.get(key, limit).await {
            Err(e @ StateError::TooLarge { .. }) => {
                set_aside(store, key, &e.to_string()).await;
                continue;
            }
            other => other?,
        };
        let (condition, old) = match &current {
            Some(v) => (
                PutCondition::IfMatch(v.etag.clone()),
                Some(v.body.as_slice()),
            ),
            None => (PutCondition::IfAbsent, None),
        };
        let body = match update(old) {
            Err(StateError::Damaged(reason)) if old.is_some() => {
                set_aside(store, key, &reason).await;
                continue;
            }
            other => other?,
        };
        match store.put(key, body.clone(), condition).await {
            Ok(_) => return Ok(body),
            Err(StateError::PreconditionFailed) => {
                // Back off a little so two writers do not collide forever.
                let jitter = rand::random_range(0..=(5u64 << attempt.min(5)));
                tokio::time::sleep(std::time::Duration::from_millis(jitter)).await;
            }
            Err(e) => return Err(e),
        }
    }
    Err(StateError::Other(anyhow::anyhow!(
        "gave up updating {key} after {ATTEMPTS} conflicting writes"
    )))
}

//! Pipeline state kept between invocations: completion markers and checkpoints, the
//! pattern database, adaptive thresholds, drift histograms. Stored as small objects under
//! one prefix and updated with conditional writes, so concurrent functions never
//! overwrite each other's work.

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
    pub body: Vec<u8>,
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
    /// Any other failure of the store.
    #[error("state store: {0}")]
    Other(#[from] anyhow::Error),
}

/// Small objects under one prefix, with conditional writes.
#[async_trait]
pub trait StateStore: Send + Sync {
    /// The object under `key` and its version tag; `None` when absent.
    async fn get(&self, key: &str) -> Result<Option<Versioned>, StateError>;
    /// Returns the new version tag.
    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        condition: PutCondition,
    ) -> Result<String, StateError>;
    /// Removes the object under `key`.
    async fn delete(&self, key: &str) -> Result<(), StateError>;
    /// Keys under `prefix`, in lexical order.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, StateError>;
    /// Where the store is, for messages: `s3://bucket/prefix` or a folder.
    fn location(&self) -> String;
}

/// Read-modify-write with retries on conflict: `update` sees the current body (or `None`)
/// and returns the new one. This is how concurrent invocations merge instead of
/// overwriting.
pub async fn update<S, F>(store: &S, key: &str, mut update: F) -> Result<Vec<u8>, StateError>
where
    S: StateStore + ?Sized,
    F: FnMut(Option<&[u8]>) -> Result<Vec<u8>, StateError>,
{
    const ATTEMPTS: usize = 32;
    for attempt in 0..ATTEMPTS {
        let current = store.get(key).await?;
        let (condition, old) = match &current {
            Some(v) => (
                PutCondition::IfMatch(v.etag.clone()),
                Some(v.body.as_slice()),
            ),
            None => (PutCondition::IfAbsent, None),
        };
        let body = update(old)?;
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

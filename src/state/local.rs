//! State in a local directory (CLI runs and tests). Version tags are content hashes, and a
//! process-wide lock makes the compare-and-swap atomic between tasks of one process.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use tokio::sync::Mutex;

use super::{DamageLog, PutCondition, StateError, StateStore, Versioned};

/// A state store in a local folder.
pub struct LocalDirStore {
    root: PathBuf,
    lock: Mutex<()>,
    damage: DamageLog,
}

impl LocalDirStore {
    /// A store whose keys are paths below `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalDirStore {
            root: root.into(),
            lock: Mutex::new(()),
            damage: DamageLog::default(),
        }
    }

    fn path(&self, key: &str) -> Result<PathBuf, StateError> {
        if key.split('/').any(|part| part == ".." || part.is_empty()) {
            return Err(StateError::Other(anyhow::anyhow!(
                "invalid state key {key:?}"
            )));
        }
        Ok(self.root.join(key))
    }
}

fn etag(body: &[u8]) -> String {
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(body))
}

async fn read_opt(path: &Path) -> Result<Option<Vec<u8>>, StateError> {
    match tokio::fs::read(path).await {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StateError::Other(e.into())),
    }
}

#[async_trait]
impl StateStore for LocalDirStore {
    fn location(&self) -> String {
        self.root.display().to_string()
    }

    fn damage(&self) -> &DamageLog {
        &self.damage
    }

    async fn get(&self, key: &str, limit: u64) -> Result<Option<Versioned>, StateError> {
        let path = self.path(key)?;
        match tokio::fs::metadata(&path).await {
            Ok(meta) if meta.len() > limit => {
                return Err(StateError::TooLarge {
                    key: key.to_string(),
                    size: meta.len(),
                    limit,
                });
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StateError::Other(e.into())),
        }
        Ok(read_opt(&path).await?.map(|body| Versioned {
            etag: etag(&body),
            body,
        }))
    }

    async fn head(&self, key: &str) -> Result<Option<(String, u64)>, StateError> {
        // Tags are content hashes here, so the body is read; folders hold small files.
        let path = self.path(key)?;
        Ok(read_opt(&path)
            .await?
            .map(|body| (etag(&body), body.len() as u64)))
    }

    async fn rename(&self, from: &str, to: &str) -> Result<(), StateError> {
        let (from, to) = (self.path(from)?, self.path(to)?);
        let _guard = self.lock.lock().await;
        if let Some(parent) = to.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| StateError::Other(e.into()))?;
        }
        tokio::fs::rename(&from, &to)
            .await
            .map_err(|e| StateError::Other(e.into()))
    }

    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        condition: PutCondition,
    ) -> Result<String, StateError> {
        let path = self.path(key)?;
        let _guard = self.lock.lock().await;
        let current = read_opt(&path).await?;
        let allowed = match (&condition, &current) {
            (PutCondition::Always, _) => true,
            (PutCondition::IfAbsent, None) => true,
            (PutCondition::IfAbsent, Some(_)) => false,
            (PutCondition::IfMatch(tag), Some(cur)) => *tag == etag(cur),
            (PutCondition::IfMatch(_), None) => false,
        };
        if !allowed {
            return Err(StateError::PreconditionFailed);
        }
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| StateError::Other(e.into()))?;
        }
        // Write then rename, so a reader never sees half a file.
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        tokio::fs::write(&tmp, &body)
            .await
            .map_err(|e| StateError::Other(e.into()))?;
        tokio::fs::rename(&tmp, &path)
            .await
            .map_err(|e| StateError::Other(e.into()))?;
        Ok(etag(&body))
    }

    async fn delete(&self, key: &str) -> Result<(), StateError> {
        let path = self.path(key)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StateError::Other(e.into())),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StateError> {
        let mut out = Vec::new();
        let mut stack = vec![self.root.clone()];
        while let Some(dir) = stack.pop() {
            let mut entries = match tokio::fs::read_dir(&dir).await {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(StateError::Other(e.into())),
            };
            while let Some(entry) = entries
                .next_entry()
                .await
                .map_err(|e| StateError::Other(e.into()))?
            {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if let Ok(rel) = path.strip_prefix(&self.root) {
                    let key = rel.to_string_lossy().replace('\\', "/");
                    if key.starts_with(prefix) && !key.contains(".tmp") {
                        out.push(key);
                    }
                }
            }
        }
        out.sort();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::update;
    use std::sync::Arc;

    #[tokio::test]
    async fn conditional_writes_and_concurrent_updates() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(LocalDirStore::new(dir.path()));
        let tag = store
            .put("a/b", b"1".to_vec(), PutCondition::IfAbsent)
            .await
            .unwrap();
        assert!(matches!(
            store
                .put("a/b", b"2".to_vec(), PutCondition::IfAbsent)
                .await,
            Err(StateError::PreconditionFailed)
        ));
        store
            .put("a/b", b"2".to_vec(), PutCondition::IfMatch(tag.clone()))
            .await
            .unwrap();
        assert!(matches!(
            store
                .put("a/b", b"3".to_vec(), PutCondition::IfMatch(tag))
                .await,
            Err(StateError::PreconditionFailed)
        ));

        let mut tasks = Vec::new();
        for _ in 0..8 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                for _ in 0..10 {
                    update(&*store, "counter", 64, |old: Option<&[u8]>| {
                        let n: u64 = old
                            .map(|b| std::str::from_utf8(b).unwrap().parse().unwrap())
                            .unwrap_or(0);
                        Ok((n + 1).to_string().into_bytes())
                    })
                    .await
                    .unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let v = store.get("counter", 64).await.unwrap().unwrap();
        assert_eq!(v.body, b"80");
        assert_eq!(store.list("a/").await.unwrap(), vec!["a/b".to_string()]);
    }
}

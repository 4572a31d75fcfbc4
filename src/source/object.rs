//! Object sources: S3 (aws-sdk-s3, streamed) and local files, behind one small trait so
//! the runner is the same in the Lambda, the CLI and the tests.

use std::path::PathBuf;
use std::pin::Pin;

use async_trait::async_trait;
use tokio::io::AsyncRead;

use crate::source::ObjectRef;

pub type ObjectBody = Pin<Box<dyn AsyncRead + Send>>;

/// An object opened for reading, with the identity used for deduplication.
pub struct OpenedObject {
    pub body: ObjectBody,
    /// ETag (or a content-independent stand-in for local files) of what is being read.
    pub etag: Option<String>,
    pub version_id: Option<String>,
    pub size: Option<u64>,
    /// When the object was written (a local file's modification time).
    pub last_modified: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("object {0} does not exist (deleted after the event?)")]
    NotFound(String),
    #[error("access denied reading {0}")]
    AccessDenied(String),
    #[error("reading {object}: {message}")]
    Other { object: String, message: String },
}

/// What is known of an object without reading it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObjectHead {
    /// Its ETag, without quotes.
    pub etag: Option<String>,
    /// Its version id, on a versioned bucket.
    pub version_id: Option<String>,
    /// Its size in bytes.
    pub size: Option<u64>,
}

/// Where objects are read from.
#[async_trait]
pub trait ObjectSource: Send + Sync {
    /// Opens `object` for streaming.
    async fn open(&self, object: &ObjectRef) -> Result<OpenedObject, SourceError>;

    /// The object's identity and size, reading none of it where the source allows.
    async fn head(&self, object: &ObjectRef) -> Result<ObjectHead, SourceError> {
        let opened = self.open(object).await?;
        Ok(ObjectHead {
            etag: opened.etag,
            version_id: opened.version_id,
            size: opened.size,
        })
    }
}

/// A failed S3 call as a [`SourceError`], by the answer's status (a HeadObject answer
/// has no body to read an error code from).
fn s3_error<E>(
    object: &ObjectRef,
    e: aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> SourceError
where
    E: std::error::Error + Send + Sync + 'static,
{
    match e.raw_response().map(|r| r.status().as_u16()) {
        Some(404) => SourceError::NotFound(object.uri()),
        Some(403) => SourceError::AccessDenied(object.uri()),
        _ => SourceError::Other {
            object: object.uri(),
            message: aws_sdk_s3::error::DisplayErrorContext(&e).to_string(),
        },
    }
}

pub struct S3Source {
    client: aws_sdk_s3::Client,
}

impl S3Source {
    pub fn new(client: aws_sdk_s3::Client) -> Self {
        S3Source { client }
    }
}

#[async_trait]
impl ObjectSource for S3Source {
    async fn open(&self, object: &ObjectRef) -> Result<OpenedObject, SourceError> {
        let mut req = self
            .client
            .get_object()
            .bucket(&object.bucket)
            .key(&object.key);
        if let Some(v) = &object.version_id {
            req = req.version_id(v);
        }
        let out = req.send().await.map_err(|e| s3_error(object, e))?;
        Ok(OpenedObject {
            etag: out.e_tag().map(|s| s.trim_matches('"').to_string()),
            version_id: out.version_id().map(str::to_string),
            size: out.content_length().map(|n| n.max(0) as u64),
            last_modified: out.last_modified().and_then(s3_time),
            body: Box::pin(out.body.into_async_read()),
        })
    }

    async fn head(&self, object: &ObjectRef) -> Result<ObjectHead, SourceError> {
        let out = self
            .client
            .head_object()
            .bucket(&object.bucket)
            .key(&object.key)
            .set_version_id(object.version_id.clone())
            .send()
            .await
            .map_err(|e| s3_error(object, e))?;
        Ok(ObjectHead {
            etag: out.e_tag().map(|s| s.trim_matches('"').to_string()),
            version_id: out.version_id().map(str::to_string),
            size: out.content_length().map(|n| n.max(0) as u64),
        })
    }
}

/// Reads `bucket` as a directory and `key` as a path below it (CLI, tests); the key `-`
/// in no bucket is standard input.
pub struct LocalSource {
    /// The folder buckets are subfolders of.
    pub root: PathBuf,
}

#[async_trait]
impl ObjectSource for LocalSource {
    async fn open(&self, object: &ObjectRef) -> Result<OpenedObject, SourceError> {
        if object.bucket.is_empty() && object.key == "-" {
            return Ok(OpenedObject {
                body: Box::pin(tokio::io::stdin()),
                etag: None,
                version_id: None,
                size: None,
                last_modified: None,
            });
        }
        let path = self.root.join(&object.bucket).join(&object.key);
        let file = tokio::fs::File::open(&path).await.map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                SourceError::NotFound(path.display().to_string())
            } else {
                SourceError::Other {
                    object: path.display().to_string(),
                    message: e.to_string(),
                }
            }
        })?;
        let meta = file.metadata().await.ok();
        let size = meta.as_ref().map(|m| m.len());
        let modified = meta
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
        let last_modified = modified
            .and_then(|d| chrono::DateTime::from_timestamp(d.as_secs() as i64, d.subsec_nanos()));
        let modified = modified.map(|d| d.as_nanos());
        Ok(OpenedObject {
            etag: Some(format!(
                "local-{}-{}",
                size.unwrap_or(0),
                modified.unwrap_or(0)
            )),
            version_id: None,
            size,
            last_modified,
            body: Box::pin(file),
        })
    }
}

/// An S3 timestamp (LastModified) as chrono's.
pub fn s3_time(t: &aws_sdk_s3::primitives::DateTime) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}

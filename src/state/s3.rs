//! State in S3 under one prefix, with S3's conditional writes (`If-Match` on the ETag,
//! `If-None-Match: *` for first writes) so concurrent invocations never overwrite each
//! other.

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::primitives::ByteStream;

use super::{DamageLog, PutCondition, StateError, StateStore, Versioned};

/// A state store under an S3 prefix.
#[derive(Clone)]
pub struct S3StateStore {
    client: Client,
    bucket: String,
    prefix: String,
    /// Shared by clones.
    damage: std::sync::Arc<DamageLog>,
}

impl S3StateStore {
    /// `prefix` is prepended to every key (a trailing `/` is added when missing).
    pub fn new(client: Client, bucket: impl Into<String>, prefix: impl Into<String>) -> Self {
        let mut prefix = prefix.into();
        if !prefix.is_empty() && !prefix.ends_with('/') {
            prefix.push('/');
        }
        S3StateStore {
            client,
            bucket: bucket.into(),
            prefix,
            damage: Default::default(),
        }
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    fn full_key(&self, key: &str) -> String {
        format!("{}{}", self.prefix, key)
    }
}

/// `x-amz-copy-source` is a URL path: keys are percent-encoded, `/` kept.
const COPY_SOURCE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn status_of<E>(err: &SdkError<E, HttpResponse>) -> Option<u16> {
    err.raw_response().map(|r| r.status().as_u16())
}

fn other<E: std::error::Error + Send + Sync + 'static>(context: String, e: E) -> StateError {
    StateError::Other(anyhow::Error::new(e).context(context))
}

#[async_trait]
impl StateStore for S3StateStore {
    fn location(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
    }

    fn damage(&self) -> &DamageLog {
        &self.damage
    }

    async fn get(&self, key: &str, limit: u64) -> Result<Option<Versioned>, StateError> {
        let full = self.full_key(key);
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&full)
            .send()
            .await
        {
            Ok(out) => {
                // The length comes with the headers: an oversized object is refused
                // before its body is read.
                let size = out.content_length().unwrap_or(0).max(0) as u64;
                if size > limit {
                    return Err(StateError::TooLarge {
                        key: key.to_string(),
                        size,
                        limit,
                    });
                }
                let etag = out.e_tag().unwrap_or_default().to_string();
                let body = out
                    .body
                    .collect()
                    .await
                    .map_err(|e| other(format!("reading s3://{}/{full}", self.bucket), e))?
                    .into_bytes()
                    .to_vec();
                Ok(Some(Versioned { body, etag }))
            }
            Err(e) => {
                if matches!(e.as_service_error(), Some(se) if se.is_no_such_key())
                    || status_of(&e) == Some(404)
                {
                    Ok(None)
                } else {
                    Err(other(format!("GET s3://{}/{full}", self.bucket), e))
                }
            }
        }
    }

    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        condition: PutCondition,
    ) -> Result<String, StateError> {
        let full = self.full_key(key);
        let mut req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(&full)
            .body(ByteStream::from(body));
        req = match condition {
            PutCondition::Always => req,
            PutCondition::IfMatch(etag) => req.if_match(etag),
            PutCondition::IfAbsent => req.if_none_match("*"),
        };
        match req.send().await {
            Ok(out) => Ok(out.e_tag().unwrap_or_default().to_string()),
            // 412: the ETag moved on (or the key now exists); 409: a concurrent
            // conditional write is in flight. Both mean: read again and merge.
            Err(e) if matches!(status_of(&e), Some(412) | Some(409)) => {
                Err(StateError::PreconditionFailed)
            }
            // If-Match on a key that vanished.
            Err(e) if status_of(&e) == Some(404) => Err(StateError::PreconditionFailed),
            Err(e) => Err(other(format!("PUT s3://{}/{full}", self.bucket), e)),
        }
    }

    async fn head(&self, key: &str) -> Result<Option<(String, u64)>, StateError> {
        let full = self.full_key(key);
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(&full)
            .send()
            .await
        {
            Ok(out) => Ok(Some((
                out.e_tag().unwrap_or_default().to_string(),
                out.content_length().unwrap_or(0).max(0) as u64,
            ))),
            Err(e) if status_of(&e) == Some(404) => Ok(None),
            Err(e) => Err(other(format!("HEAD s3://{}/{full}", self.bucket), e)),
        }
    }

    async fn rename(&self, from: &str, to: &str) -> Result<(), StateError> {
        let (from, to) = (self.full_key(from), self.full_key(to));
        self.client
            .copy_object()
            .bucket(&self.bucket)
            .copy_source(format!(
                "{}/{}",
                self.bucket,
                percent_encoding::utf8_percent_encode(&from, COPY_SOURCE)
            ))
            .key(&to)
            .send()
            .await
            .map_err(|e| other(format!("COPY s3://{}/{from} to {to}", self.bucket), e))?;
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(&from)
            .send()
            .await
            .map_err(|e| other(format!("DELETE s3://{}/{from}", self.bucket), e))?;
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StateError> {
        let full = self.full_key(key);
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(&full)
            .send()
            .await
            .map_err(|e| other(format!("DELETE s3://{}/{full}", self.bucket), e))?;
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StateError> {
        let full = self.full_key(prefix);
        let mut keys = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&full)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| other(format!("LIST s3://{}/{full}", self.bucket), e))?;
            for obj in page.contents() {
                if let Some(k) = obj.key() {
                    keys.push(k.strip_prefix(&self.prefix).unwrap_or(k).to_string());
                }
            }
        }
        keys.sort();
        Ok(keys)
    }
}

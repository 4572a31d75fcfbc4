//! [`SentinelClient`]: batches of rows to the Logs Ingestion API with packing, bounded
//! parallelism, retries within a deadline, and a report that accounts for every row.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use flate2::Compression;
use futures::StreamExt;
use reqwest::header::{CONTENT_ENCODING, CONTENT_TYPE};

use super::{CredentialsSource, DeliverySettings, SentinelSettings};
use crate::record::Row;
use crate::sink::Progress;

use super::auth::{
    CredentialsLoader, SecretsManagerCredentials, StaticCredentials, TokenProvider, error_chain,
};
use super::federation::AwsFederationCredentials;
use super::packer::{self, Chunk};
use super::retry::{self, Verdict};
use super::{FailedRow, FailureReason, SendReport, StreamMap};

pub const API_VERSION: &str = "2023-01-01";

/// The AWS service clients credentials may come through; only the configured source's is
/// needed.
#[derive(Clone, Debug, Default)]
pub struct CredentialServices {
    /// For `AZURE_CREDENTIALS_SECRET_ARN`.
    pub secrets: Option<aws_sdk_secretsmanager::Client>,
    /// For `AZURE_AUTH=aws-federation`.
    pub sts: Option<aws_sdk_sts::Client>,
}
/// Response bodies kept in reasons (an error page can be large).
const MAX_BODY_IN_REASON: usize = 4096;
/// Attempts that a server's throttling may add beyond `max_attempts`: throttled requests
/// wait as told, bounded by the deadline, but a client without a deadline must stop too.
const THROTTLE_ATTEMPT_FACTOR: u32 = 4;

/// Sends rows to one DCR through one ingestion endpoint. Cheap to clone; clones share the
/// connection pool and the token cache, so keep one per process (a Lambda keeps it across
/// warm invocations).
#[derive(Clone)]
pub struct SentinelClient {
    http: reqwest::Client,
    endpoint: Arc<str>,
    dcr_immutable_id: Arc<str>,
    streams: StreamMap,
    settings: DeliverySettings,
    min_attempt_time: Duration,
    compression: Compression,
    auth: Arc<TokenProvider>,
}

enum PostOutcome {
    Accepted,
    TooLarge { body: String },
    Failed(FailureReason),
    Deadline { last_error: String },
}

impl SentinelClient {
    /// A client whose credentials come from `loader`.
    pub fn new(
        config: &SentinelSettings,
        loader: Arc<dyn CredentialsLoader>,
    ) -> Result<SentinelClient, reqwest::Error> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("s3-sentinel-connector/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            // A redirect would carry the rows (or the client secret) to another origin and
            // take its answer for the real one's: neither endpoint ever redirects.
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(Duration::from_secs(50))
            .build()?;
        let auth = TokenProvider::new(
            http.clone(),
            config.authority_host.clone(),
            config.token_scope.clone(),
            loader,
        );
        Ok(SentinelClient {
            http,
            endpoint: Arc::from(config.ingestion_endpoint.trim_end_matches('/')),
            dcr_immutable_id: Arc::from(config.dcr_immutable_id.as_str()),
            streams: config.streams.clone(),
            settings: config.delivery.clone(),
            min_attempt_time: Duration::from_secs(1).min(config.delivery.request_timeout),
            compression: Compression::new(config.delivery.gzip_level),
            auth: Arc::new(auth),
        })
    }

    /// A client with the credentials the settings name: given in the environment, a
    /// Secrets Manager secret, or tokens from the function's AWS identity, through the
    /// service client in `services` that the case needs.
    pub fn with_credentials(
        settings: &SentinelSettings,
        services: CredentialServices,
    ) -> anyhow::Result<SentinelClient> {
        let loader: Arc<dyn CredentialsLoader> = match &settings.credentials {
            CredentialsSource::Environment(c) => Arc::new(StaticCredentials(c.clone())),
            CredentialsSource::SecretsManager { secret_id } => {
                let Some(client) = services.secrets else {
                    anyhow::bail!("reading the secret {secret_id} needs a Secrets Manager client")
                };
                Arc::new(SecretsManagerCredentials::new(client, secret_id.clone()))
            }
            CredentialsSource::AwsFederation(federation) => {
                let Some(client) = services.sts else {
                    anyhow::bail!("AZURE_AUTH=aws-federation needs an STS client")
                };
                Arc::new(AwsFederationCredentials::new(client, federation.clone()))
            }
        };
        Ok(SentinelClient::new(settings, loader)?)
    }

    /// The same client (pool, token cache) with some tables sent to other streams.
    pub fn with_streams(&self, overrides: &StreamMap) -> SentinelClient {
        let mut client = self.clone();
        client.streams.extend(overrides);
        client
    }

    /// Which stream each table's rows go to.
    pub fn streams(&self) -> &StreamMap {
        &self.streams
    }

    /// Limits, retries and timeouts of sending.
    pub fn settings(&self) -> &DeliverySettings {
        &self.settings
    }

    /// The Entra ID token source.
    pub fn auth(&self) -> &TokenProvider {
        &self.auth
    }

    /// Moves the rows the deadline left unsent into `failed` (reason `deadline`), for
    /// callers that dead-letter them instead of keeping them.
    pub fn fail_unsent(&self, report: &mut SendReport) {
        for row in std::mem::take(&mut report.unsent) {
            let counts = report.by_log_type.entry(row.log_type).or_default();
            counts.unsent -= 1;
            counts.failed += 1;
            report.failed.push(FailedRow {
                stream: self.streams.stream_for(row.table),
                row,
                reason: FailureReason::Deadline,
            });
        }
    }

    /// The ingestion URL of a stream target: `Custom-X` on the configured DCR, or
    /// `dcr-<id>/Custom-X` on that DCR.
    pub fn stream_url(&self, stream: &str) -> String {
        let (dcr, stream) = match super::split_stream_target(stream) {
            (Some(dcr), stream) => (dcr, stream),
            (None, stream) => (&*self.dcr_immutable_id, stream),
        };
        format!(
            "{}/dataCollectionRules/{dcr}/streams/{stream}?api-version={API_VERSION}",
            self.endpoint
        )
    }

    /// Sends `rows` (any mix of tables), giving up on retries at `deadline`.
    ///
    /// Never fails as a whole: each row ends up accepted, in `failed` with the reason (for
    /// the dead letter), or in `unsent` when the deadline came before it could be sent.
    /// Rows go to their table's stream in order, packed into gzip bodies under the size
    /// limit, with up to `max_parallel_requests` requests in flight.
    pub async fn send(&self, rows: Vec<Row>, deadline: Instant) -> SendReport {
        self.send_reporting(rows, deadline, &Progress::none()).await
    }

    /// [`SentinelClient::send`], telling `progress` about each request's rows as soon as
    /// the API accepts them.
    pub async fn send_reporting(
        &self,
        rows: Vec<Row>,
        deadline: Instant,
        progress: &Progress,
    ) -> SendReport {
        let mut report = SendReport {
            rows: rows.len() as u64,
            ..SendReport::default()
        };
        for row in &rows {
            report.by_log_type.entry(row.log_type).or_default().rows += 1;
        }
        if rows.is_empty() {
            return report;
        }

        let mut groups: Vec<(Arc<str>, Vec<Row>)> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        for row in rows {
            let stream = self.streams.stream_for(row.table);
            let slot = *index.entry(stream.clone()).or_insert_with(|| {
                groups.push((Arc::from(stream.as_str()), Vec::new()));
                groups.len() - 1
            });
            groups[slot].1.push(row);
        }

        let limit = self.settings.max_request_bytes;
        let level = self.compression;
        // Compression is CPU work: keep it off the async worker threads.
        let packed = tokio::task::spawn_blocking(move || {
            groups
                .into_iter()
                .map(|(stream, rows)| (stream, packer::pack(rows, limit, level)))
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));

        let mut jobs = Vec::new();
        for (stream, packed) in packed {
            for oversize in packed.oversize {
                report.failed.push(FailedRow {
                    row: oversize.row,
                    stream: stream.to_string(),
                    reason: FailureReason::TooLarge {
                        compressed_bytes: oversize.compressed_bytes,
                        limit,
                        server_body: None,
                    },
                });
            }
            jobs.extend(packed.chunks.into_iter().map(|c| (stream.clone(), c)));
        }

        let outcomes: Vec<SendReport> = futures::stream::iter(jobs)
            .map(|(stream, chunk)| self.deliver_chunk(stream, chunk, deadline, progress))
            .buffer_unordered(self.settings.max_parallel_requests.max(1))
            .collect()
            .await;
        for outcome in outcomes {
            report.merge(outcome);
        }
        for failed in &report.failed {
            report
                .by_log_type
                .entry(failed.row.log_type)
                .or_default()
                .failed += 1;
        }
        for row in &report.unsent {
            report.by_log_type.entry(row.log_type).or_default().unsent += 1;
        }
        if !report.failed.is_empty() || !report.unsent.is_empty() {
            tracing::warn!(
                rows = report.rows,
                accepted = report.accepted,
                failed = report.failed.len(),
                unsent = report.unsent.len(),
                "not every row was accepted"
            );
        }
        report
    }

    /// One body and its retries; a 413 splits the rows into halves sent one after the
    /// other.
    async fn deliver_chunk(
        &self,
        stream: Arc<str>,
        chunk: Chunk,
        deadline: Instant,
        progress: &Progress,
    ) -> SendReport {
        let mut out = SendReport::default();
        match self.post(&stream, &chunk.body, deadline, &mut out).await {
            PostOutcome::Accepted => {
                progress.accepted(|| chunk.rows.iter().map(|r| r.record_id).collect());
                out.accepted += chunk.rows.len() as u64;
                out.bytes_accepted += chunk.body.len() as u64;
                out.raw_bytes_accepted += chunk.raw_bytes as u64;
                for row in &chunk.rows {
                    out.by_log_type.entry(row.log_type).or_default().accepted += 1;
                }
            }
            PostOutcome::TooLarge { body } if chunk.rows.len() == 1 => {
                let compressed_bytes = chunk.body.len();
                out.failed
                    .extend(chunk.rows.into_iter().map(|row| FailedRow {
                        row,
                        stream: stream.to_string(),
                        reason: FailureReason::TooLarge {
                            compressed_bytes,
                            limit: self.settings.max_request_bytes,
                            server_body: Some(body.clone()),
                        },
                    }));
            }
            PostOutcome::TooLarge { .. } => {
                out.splits += 1;
                let mut first = chunk.rows;
                let second = first.split_off(first.len() / 2);
                tracing::info!(
                    stream = %stream,
                    rows = first.len() + second.len(),
                    bytes = chunk.body.len(),
                    "request too large for the server; splitting it"
                );
                for half in [first, second] {
                    let level = self.compression;
                    let sub = tokio::task::spawn_blocking(move || packer::pack_one(half, level))
                        .await
                        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
                    let result =
                        Box::pin(self.deliver_chunk(stream.clone(), sub, deadline, progress)).await;
                    out.merge(result);
                }
            }
            PostOutcome::Failed(reason) => {
                tracing::warn!(stream = %stream, rows = chunk.rows.len(), %reason,
                    "rows not accepted; they go to the dead letter");
                out.failed
                    .extend(chunk.rows.into_iter().map(|row| FailedRow {
                        row,
                        stream: stream.to_string(),
                        reason: reason.clone(),
                    }));
            }
            PostOutcome::Deadline { last_error } => {
                tracing::warn!(stream = %stream, rows = chunk.rows.len(), last_error = %last_error,
                    "deadline reached before these rows were accepted");
                out.unsent.extend(chunk.rows);
            }
        }
        out
    }

    /// Posts one body until it is accepted, refused for good, or time or attempts run out.
    async fn post(
        &self,
        stream: &str,
        body: &Bytes,
        deadline: Instant,
        out: &mut SendReport,
    ) -> PostOutcome {
        let url = self.stream_url(stream);
        let max_attempts = self.settings.max_attempts;
        let mut attempts = 0u32;
        let mut counted_attempts = 0u32;
        let mut unauthorized_in_a_row = 0u32;
        let mut last_error = String::new();
        // A token that could not be had says nothing about the body: the caller keeps the
        // rows for a later retry instead of dead-lettering them.
        let mut last_failure_was_auth = false;
        loop {
            if Instant::now() + self.min_attempt_time > deadline {
                return PostOutcome::Deadline { last_error };
            }
            if counted_attempts >= max_attempts
                || attempts >= max_attempts * THROTTLE_ATTEMPT_FACTOR
            {
                if last_failure_was_auth {
                    return PostOutcome::Failed(FailureReason::Auth {
                        message: last_error,
                    });
                }
                return PostOutcome::Failed(FailureReason::RetriesExhausted {
                    attempts,
                    last_error,
                });
            }
            let token = match self.auth.token(deadline).await {
                Ok(token) => {
                    last_failure_was_auth = false;
                    token
                }
                Err(e) if e.is_permanent() => {
                    return PostOutcome::Failed(FailureReason::Auth {
                        message: e.to_string(),
                    });
                }
                Err(e) => {
                    attempts += 1;
                    counted_attempts += 1;
                    last_error = e.to_string();
                    last_failure_was_auth = true;
                    let wait = retry::backoff(
                        counted_attempts,
                        self.settings.initial_backoff,
                        self.settings.max_backoff,
                    );
                    if !self.sleep_within(wait, deadline).await {
                        return PostOutcome::Deadline { last_error };
                    }
                    continue;
                }
            };

            attempts += 1;
            if attempts > 1 {
                out.retries += 1;
            }
            out.requests += 1;
            out.bytes_sent += body.len() as u64;
            let timeout = self
                .settings
                .request_timeout
                .min(deadline.saturating_duration_since(Instant::now()));
            let sent = self
                .http
                .post(&url)
                .bearer_auth(&*token)
                .header(CONTENT_TYPE, "application/json")
                .header(CONTENT_ENCODING, "gzip")
                .timeout(timeout)
                .body(body.clone())
                .send()
                .await;

            let wait = match sent {
                Err(e) => {
                    counted_attempts += 1;
                    unauthorized_in_a_row = 0;
                    last_error = if e.is_timeout() {
                        format!("no answer within {timeout:?}")
                    } else {
                        format!("request failed: {}", error_chain(&e))
                    };
                    tracing::debug!(%stream, attempt = attempts, error = %last_error, "retrying");
                    retry::backoff(
                        counted_attempts,
                        self.settings.initial_backoff,
                        self.settings.max_backoff,
                    )
                }
                Ok(response) => {
                    let status = response.status().as_u16();
                    let headers = response.headers().clone();
                    let verdict = retry::classify(status);
                    let text = if verdict == Verdict::Accepted {
                        String::new()
                    } else {
                        read_bounded(response, MAX_BODY_IN_REASON).await
                    };
                    if verdict != Verdict::Unauthorized {
                        unauthorized_in_a_row = 0;
                    }
                    match verdict {
                        Verdict::Accepted => return PostOutcome::Accepted,
                        Verdict::TooLarge => return PostOutcome::TooLarge { body: text },
                        Verdict::Permanent => {
                            return PostOutcome::Failed(FailureReason::Rejected {
                                status,
                                body: text,
                            });
                        }
                        Verdict::Unauthorized => {
                            out.unauthorized += 1;
                            unauthorized_in_a_row += 1;
                            self.auth.invalidate(&token).await;
                            last_error = format!("HTTP 401: {text}");
                            match unauthorized_in_a_row {
                                1 => {}
                                // A fresh token refused too: the credentials may have been
                                // rotated or replaced; read them again.
                                2 => self.auth.invalidate_credentials().await,
                                _ => {
                                    return PostOutcome::Failed(FailureReason::Auth {
                                        message: format!(
                                            "the ingestion API refused {unauthorized_in_a_row} fresh tokens in a row: {text}"
                                        ),
                                    });
                                }
                            }
                            Duration::ZERO
                        }
                        Verdict::Throttled => {
                            out.throttled += 1;
                            last_error = format!("HTTP {status}: {text}");
                            match retry::retry_after(&headers) {
                                Some(asked) => asked,
                                None => {
                                    counted_attempts += 1;
                                    retry::backoff(
                                        counted_attempts,
                                        self.settings.initial_backoff,
                                        self.settings.max_backoff,
                                    )
                                }
                            }
                        }
                        Verdict::Transient => {
                            counted_attempts += 1;
                            last_error = format!("HTTP {status}: {text}");
                            retry::retry_after(&headers).unwrap_or_else(|| {
                                retry::backoff(
                                    counted_attempts,
                                    self.settings.initial_backoff,
                                    self.settings.max_backoff,
                                )
                            })
                        }
                    }
                }
            };
            if !self.sleep_within(wait, deadline).await {
                return PostOutcome::Deadline { last_error };
            }
        }
    }

    /// Sleeps `wait` unless that would leave no time for another attempt.
    async fn sleep_within(&self, wait: Duration, deadline: Instant) -> bool {
        let ready = Instant::now().checked_add(wait.saturating_add(self.min_attempt_time));
        if ready.is_none_or(|ready| ready > deadline) {
            return false;
        }
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        true
    }
}

/// The start of a response body, at most `max` bytes (an error page can be large, and a
/// hostile endpoint can answer without end); `…` marks a cut.
pub async fn read_bounded(mut response: reqwest::Response, max: usize) -> String {
    let mut body = Vec::new();
    let mut cut = false;
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = max - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            cut = true;
            break;
        }
        body.extend_from_slice(&chunk);
    }
    let mut text = String::from_utf8_lossy(&body).into_owned();
    if cut {
        text.push('…');
    }
    text
}

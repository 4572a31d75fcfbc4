//! The Azure Monitor Logs Ingestion API client (api-version 2023-01-01).
//!
//! - [`auth`]: Entra ID client-credentials tokens, credentials from Secrets Manager or the
//!   environment, both cached and refreshed when they stop working.
//! - [`federation`]: no secret at all: the function's AWS identity token
//!   (`sts:GetWebIdentityToken`) as the client assertion.
//! - [`packer`]: rows into gzip JSON arrays whose wire size stays under the request limit.
//! - [`retry`]: what each response means (retry, wait, split, give up) and how long to wait.
//! - [`client`]: [`SentinelClient::send`], one call per batch of rows with a deadline,
//!   returning a [`SendReport`] that accounts for every row.

pub mod assertion;
pub mod auth;
pub mod client;
pub mod federation;
pub mod packer;
pub mod retry;
mod settings;
mod streams;

use std::collections::BTreeMap;
use std::fmt;

use crate::record::LogType;

use crate::record::Row;

pub use auth::{
    AuthError, AzureCredentials, CredentialsSource, FederationSettings, Secret,
    SecretsManagerCredentials,
};
pub use client::{CredentialServices, SentinelClient};
pub use federation::{AwsFederationCredentials, DEFAULT_FEDERATION_AUDIENCE};
pub use settings::{
    DEFAULT_ALERT_STREAM, DEFAULT_AUTHORITY_HOST, DEFAULT_TOKEN_SCOPE, DeliverySettings,
    MAX_REQUEST_BYTES, SentinelSettings,
};
pub use streams::{
    StreamMap, quoted, split_stream_target, validate_stream_name, validate_stream_target,
};

/// Why a row was not accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FailureReason {
    /// The API refused the request for good (400 schema errors, 403, 404, ...): the
    /// response body says why.
    Rejected {
        /// The HTTP status.
        status: u16,
        /// The response body.
        body: String,
    },
    /// The row alone does not fit in one request.
    TooLarge {
        /// The row's size, gzip-compressed, in bytes.
        compressed_bytes: usize,
        /// The request limit, in bytes.
        limit: usize,
        /// The server's 413 body when the server, not the packer, said so.
        server_body: Option<String>,
    },
    /// Retryable failures (5xx, timeouts, dropped connections, throttling) until the
    /// attempts ran out.
    RetriesExhausted {
        /// Attempts made.
        attempts: u32,
        /// The last failure, in words.
        last_error: String,
    },
    /// No token could be had (bad credentials, unreadable secret), or the API kept
    /// answering 401 to fresh tokens.
    Auth {
        /// What went wrong.
        message: String,
    },
    /// The deadline came before the row was accepted (see [`SentinelClient::fail_unsent`]).
    Deadline,
}

impl FailureReason {
    /// The HTTP status that refused the row, if one did.
    pub fn status(&self) -> Option<u16> {
        match self {
            FailureReason::Rejected { status, .. } => Some(*status),
            FailureReason::TooLarge { server_body, .. } => server_body.as_ref().map(|_| 413),
            _ => None,
        }
    }

    /// A short machine-friendly kind for metrics and dead-letter files.
    pub fn kind(&self) -> &'static str {
        match self {
            FailureReason::Rejected { .. } => "rejected",
            FailureReason::TooLarge { .. } => "too_large",
            FailureReason::RetriesExhausted { .. } => "retries_exhausted",
            FailureReason::Auth { .. } => "auth",
            FailureReason::Deadline => "deadline",
        }
    }
}

impl fmt::Display for FailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailureReason::Rejected { status, body } => {
                write!(f, "rejected with HTTP {status}: {body}")
            }
            FailureReason::TooLarge {
                compressed_bytes,
                limit,
                server_body: None,
            } => write!(
                f,
                "row is {compressed_bytes} bytes gzip-compressed, over the {limit}-byte request limit"
            ),
            FailureReason::TooLarge {
                server_body: Some(body),
                compressed_bytes,
                ..
            } => write!(
                f,
                "server answered 413 to this row alone ({compressed_bytes} bytes gzip-compressed): {body}"
            ),
            FailureReason::RetriesExhausted {
                attempts,
                last_error,
            } => write!(f, "gave up after {attempts} attempts: {last_error}"),
            FailureReason::Auth { message } => write!(f, "authentication failed: {message}"),
            FailureReason::Deadline => {
                f.write_str("the deadline came before the row could be accepted")
            }
        }
    }
}

/// A row the API did not accept, with where it was going and why.
#[derive(Clone, Debug, PartialEq)]
pub struct FailedRow {
    pub row: Row,
    pub stream: String,
    pub reason: FailureReason,
}

/// Per-log-type row counts of one call.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogTypeCounts {
    pub rows: u64,
    pub accepted: u64,
    pub failed: u64,
    pub unsent: u64,
}

/// What one [`SentinelClient::send`] call did. Every row given to the call ends up counted
/// in exactly one of `accepted`, `failed` (to be dead-lettered) and `unsent` (the deadline
/// came first; the caller still owns them).
#[derive(Clone, Debug, Default)]
pub struct SendReport {
    pub rows: u64,
    pub accepted: u64,
    pub failed: Vec<FailedRow>,
    pub unsent: Vec<Row>,
    /// HTTP requests to the ingestion API (every attempt counts).
    pub requests: u64,
    /// Attempts after the first one of a body (including after 401 and throttling).
    pub retries: u64,
    /// 429 and 503 answers.
    pub throttled: u64,
    /// 413 answers that made the client split a body.
    pub splits: u64,
    /// 401 answers (each one drops the cached token).
    pub unauthorized: u64,
    /// Gzip body bytes sent, all attempts.
    pub bytes_sent: u64,
    /// Gzip body bytes of accepted requests.
    pub bytes_accepted: u64,
    /// Uncompressed JSON bytes of accepted rows.
    pub raw_bytes_accepted: u64,
    pub by_log_type: BTreeMap<LogType, LogTypeCounts>,
}

impl SendReport {
    /// True when every row was accepted.
    pub fn is_complete(&self) -> bool {
        self.failed.is_empty() && self.unsent.is_empty() && self.accepted == self.rows
    }

    /// Adds another report's numbers and rows to this one.
    pub fn merge(&mut self, other: SendReport) {
        self.rows += other.rows;
        self.accepted += other.accepted;
        self.failed.extend(other.failed);
        self.unsent.extend(other.unsent);
        self.requests += other.requests;
        self.retries += other.retries;
        self.throttled += other.throttled;
        self.splits += other.splits;
        self.unauthorized += other.unauthorized;
        self.bytes_sent += other.bytes_sent;
        self.bytes_accepted += other.bytes_accepted;
        self.raw_bytes_accepted += other.raw_bytes_accepted;
        for (log_type, counts) in other.by_log_type {
            let mine = self.by_log_type.entry(log_type).or_default();
            mine.rows += counts.rows;
            mine.accepted += counts.accepted;
            mine.failed += counts.failed;
            mine.unsent += counts.unsent;
        }
    }
}

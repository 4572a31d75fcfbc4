//! How the emulator starts, the faults it can inject, and what it counts.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use smart_default::SmartDefault;

use crate::azure::schema::UnknownColumns;
use crate::record::Table;

/// How the emulator starts; everything but the limits can be changed later via `/admin`.
#[derive(Debug, Clone, SmartDefault)]
pub struct EmulatorOptions {
    /// Largest request body accepted, as received (compressed when gzip).
    #[default(1_048_576)]
    pub max_body_bytes: usize,
    /// Largest body after gunzip (protects the emulator from decompression bombs).
    #[default(64 * 1_048_576)]
    pub max_decompressed_bytes: usize,
    /// How long an issued token stays valid.
    #[default(Duration::from_secs(3599))]
    pub token_ttl: Duration,
    /// When set, the token endpoint only accepts these client credentials.
    pub client_id: Option<String>,
    /// The client secret the token endpoint accepts, with `client_id`.
    pub client_secret: Option<String>,
    /// When set, other DCR ids get 404.
    pub dcr_immutable_id: Option<String>,
    /// Streams in addition to (or replacing) the default ones: `Custom-<Table>` for every
    /// table the connector writes to, the streams of the Azure template.
    pub streams: BTreeMap<String, Table>,
    /// Properties a stream does not declare: 400 (default), or dropped as Azure does.
    #[default(UnknownColumns::Reject)]
    pub unknown_columns: UnknownColumns,
    /// Rows kept for `/admin/rows`; later rows are counted but not kept.
    #[default(1_000_000)]
    pub max_recorded_rows: usize,
    /// Faults and settings applied at start.
    pub faults: FaultPlan,
    /// Federated identity credentials: which external tokens the token endpoint accepts
    /// as client assertions (`client_assertion`), as an Entra ID application or managed
    /// identity does.
    pub federated_credentials: Vec<FederatedCredential>,
    /// How long a federated identity credential takes to be honoured after it is set
    /// (Entra ID takes a few minutes to propagate a new one).
    pub federation_propagation: Duration,
}

/// A federated identity credential: an external token is accepted when its `iss`, `sub`
/// and `aud` are exactly these (Entra ID compares them character for character).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FederatedCredential {
    /// The issuer URL (for AWS: the account's, from
    /// `aws iam get-outbound-web-identity-federation-info`).
    pub issuer: String,
    /// The subject (for AWS: the role ARN).
    pub subject: String,
    /// The audience, `api://AzureADTokenExchange` in Azure public cloud.
    pub audience: String,
}

/// One injected fault, consumed by one ingestion request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// 429 with `Retry-After` (whole seconds, rounded up) and `retry-after-ms`.
    Throttle {
        /// `Retry-After` to answer with, in milliseconds.
        retry_after_ms: u64,
    },
    /// An error answer, e.g. 500 or 503.
    Status {
        /// The status code.
        status: u16,
    },
    /// The connection closes without an answer; the request is not ingested.
    Drop,
}

/// Faults to add (queued in the order throttle, errors, drops, then `sequence`) and
/// settings to change. The `/admin/faults` body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultPlan {
    /// Throttled answers to queue.
    pub throttle: Option<ThrottleFaults>,
    /// Error answers to queue.
    pub errors: Option<ErrorFaults>,
    /// Connections to drop without an answer.
    pub drop_connections: Option<u32>,
    /// Faults queued after the others, in order.
    pub sequence: Vec<Fault>,
    /// Delay before every ingestion answer.
    pub latency_ms: Option<u64>,
    /// Make every token issued so far invalid.
    pub expire_tokens: bool,
    /// New lifetime of tokens issued from now on, in seconds.
    pub token_ttl_seconds: Option<u64>,
}

/// A run of 429 answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThrottleFaults {
    /// Requests answered 429.
    pub count: u32,
    /// `Retry-After` of each, in milliseconds (1000 by default).
    #[serde(default = "default_retry_after_ms")]
    pub retry_after_ms: u64,
}

fn default_retry_after_ms() -> u64 {
    1000
}

/// A run of error answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorFaults {
    /// Requests answered with `status`.
    pub count: u32,
    /// The status code (503 by default).
    #[serde(default = "default_error_status")]
    pub status: u16,
}

fn default_error_status() -> u16 {
    503
}

/// Counters since start (or the last reset).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Ingestion requests received (including refused and dropped ones).
    pub requests: u64,
    pub accepted_requests: u64,
    pub rows_accepted: u64,
    /// Answers by status code, e.g. `"204": 10, "429": 3`.
    pub statuses: BTreeMap<u16, u64>,
    pub dropped_connections: u64,
    /// Requests whose body was a bare JSON object (answered 204, not ingested).
    pub bare_objects_dropped: u64,
    pub tokens_issued: u64,
    pub token_requests_refused: u64,
    /// Client assertions verified and accepted (tokens issued for them count above too).
    #[serde(default)]
    pub assertions_accepted: u64,
    /// Client assertions refused, by Entra ID error code (`700213`: subject, ...).
    #[serde(default)]
    pub assertions_refused: BTreeMap<u64, u64>,
    /// Largest body received, as sent (compressed when gzip).
    pub max_body_bytes_seen: u64,
    /// Most rows an accepted request carried.
    #[serde(default)]
    pub max_rows_per_request: u64,
    pub body_bytes_received: u64,
    pub streams: BTreeMap<String, StreamStats>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamStats {
    pub accepted_requests: u64,
    pub rows: u64,
    pub body_bytes: u64,
}

//! What the Sentinel client needs to know: the endpoint, the DCR and its streams, where
//! the credentials come from, and how hard to try. `config` reads it from the
//! environment.

use std::time::Duration;

use smart_default::SmartDefault;

use super::auth::CredentialsSource;
use super::streams::StreamMap;

/// Azure public cloud's Entra ID authority.
pub const DEFAULT_AUTHORITY_HOST: &str = "https://login.microsoftonline.com";
/// The Logs Ingestion API's token scope in Azure public cloud (`.us` / `.cn` elsewhere).
pub const DEFAULT_TOKEN_SCOPE: &str = "https://monitor.azure.com//.default";
pub const DEFAULT_ALERT_STREAM: &str = "Custom-S3SentinelAlerts";
/// The Logs Ingestion API's limit on one request's body.
pub const MAX_REQUEST_BYTES: usize = 1_048_576;

/// Everything the Sentinel client needs.
#[derive(Clone, Debug, PartialEq)]
pub struct SentinelSettings {
    /// Data collection endpoint (or the DCR's own logs ingestion endpoint), no trailing `/`.
    pub ingestion_endpoint: String,
    /// The DCR's immutable id (`dcr-...`).
    pub dcr_immutable_id: String,
    /// Which stream each table's rows go to.
    pub streams: StreamMap,
    /// Where the Entra ID client credentials come from.
    pub credentials: CredentialsSource,
    /// Entra ID authority host, no trailing `/`.
    pub authority_host: String,
    /// OAuth scope of the token, ending in `/.default`.
    pub token_scope: String,
    /// Limits, retries and timeouts of sending.
    pub delivery: DeliverySettings,
}

/// Tuning knobs of the delivery path.
#[derive(Clone, Debug, PartialEq, SmartDefault)]
pub struct DeliverySettings {
    /// Requests in flight at once (per client call).
    #[default(4)]
    pub max_parallel_requests: usize,
    /// One HTTP attempt's time limit.
    #[default(Duration::from_secs(30))]
    pub request_timeout: Duration,
    /// Gzip body size limit per request.
    #[default(MAX_REQUEST_BYTES)]
    pub max_request_bytes: usize,
    /// Attempts per request before its rows are dead-lettered (the deadline may stop
    /// earlier).
    #[default(8)]
    pub max_attempts: u32,
    /// First exponential backoff step; doubles per retry up to `max_backoff`.
    #[default(Duration::from_millis(250))]
    pub initial_backoff: Duration,
    #[default(Duration::from_secs(30))]
    pub max_backoff: Duration,
    /// Gzip level of request bodies. Egress to Azure is billed by the byte on the wire
    /// and costs far more than the CPU: 4 sends 4% more than 6 at 1.5x its speed
    /// (docs/delivery.md has the measured table).
    #[default(4)]
    pub gzip_level: u32,
}

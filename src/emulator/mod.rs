//! A local stand-in for the Azure Monitor Logs Ingestion API and its Entra ID token
//! endpoint, for trying the connector without Azure and for testing it against the real
//! contract over HTTP. See `docs/emulator.md`.
//!
//! It enforces what the real service does: bearer tokens from its own token endpoint that
//! expire, 401 without a valid one, gzip or plain JSON bodies of at most 1 MiB on the wire
//! (413 beyond), a JSON array of objects (a bare object is answered 204 and dropped, as
//! Azure does), and the column names each stream's table declares (400 otherwise). Faults
//! can be injected by flags and at run time through `/admin`: throttling with
//! `Retry-After`, runs of 5xx answers, latency, dropped connections, expired tokens.
//! Accepted rows are kept per stream for `/admin/rows` and `/admin/stats`.

pub mod listener;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::io::Read;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::record::Table;
use crate::record::tables::CONNECTOR_COLUMNS;

use listener::{Connection, CuttableListener};

pub const API_VERSION: &str = "2023-01-01";

/// How the emulator starts; everything but the limits can be changed later via `/admin`.
#[derive(Debug, Clone)]
pub struct EmulatorOptions {
    /// Largest request body accepted, as received (compressed when gzip).
    pub max_body_bytes: usize,
    /// Largest body after gunzip (protects the emulator from decompression bombs).
    pub max_decompressed_bytes: usize,
    pub token_ttl: Duration,
    /// When set, the token endpoint only accepts these client credentials.
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// When set, other DCR ids get 404.
    pub dcr_immutable_id: Option<String>,
    /// Streams in addition to (or replacing) the default `Custom-<Table>` ones.
    pub streams: BTreeMap<String, Table>,
    /// Rows kept for `/admin/rows`; later rows are counted but not kept.
    pub max_recorded_rows: usize,
    pub faults: FaultPlan,
}

impl Default for EmulatorOptions {
    fn default() -> Self {
        EmulatorOptions {
            max_body_bytes: 1_048_576,
            max_decompressed_bytes: 64 * 1_048_576,
            token_ttl: Duration::from_secs(3599),
            client_id: None,
            client_secret: None,
            dcr_immutable_id: None,
            streams: BTreeMap::new(),
            max_recorded_rows: 1_000_000,
            faults: FaultPlan::default(),
        }
    }
}

/// One injected fault, consumed by one ingestion request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// 429 with `Retry-After` (whole seconds, rounded up) and `retry-after-ms`.
    Throttle { retry_after_ms: u64 },
    /// An error answer, e.g. 500 or 503.
    Status { status: u16 },
    /// The connection closes without an answer; the request is not ingested.
    Drop,
}

/// Faults to add (queued in the order throttle, errors, drops, then `sequence`) and
/// settings to change. The `/admin/faults` body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultPlan {
    pub throttle: Option<ThrottleFaults>,
    pub errors: Option<ErrorFaults>,
    pub drop_connections: Option<u32>,
    pub sequence: Vec<Fault>,
    /// Delay before every ingestion answer.
    pub latency_ms: Option<u64>,
    /// Make every token issued so far invalid.
    pub expire_tokens: bool,
    pub token_ttl_seconds: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThrottleFaults {
    pub count: u32,
    #[serde(default = "default_retry_after_ms")]
    pub retry_after_ms: u64,
}

fn default_retry_after_ms() -> u64 {
    1000
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorFaults {
    pub count: u32,
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
    /// Largest body received, as sent (compressed when gzip).
    pub max_body_bytes_seen: u64,
    pub body_bytes_received: u64,
    pub streams: BTreeMap<String, StreamStats>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamStats {
    pub accepted_requests: u64,
    pub rows: u64,
    pub body_bytes: u64,
}

struct Inner {
    tokens: HashMap<String, Instant>,
    token_ttl: Duration,
    client_id: Option<String>,
    client_secret: Option<String>,
    faults: VecDeque<Fault>,
    latency: Duration,
    streams: BTreeMap<String, Table>,
    rows: BTreeMap<String, Vec<Box<RawValue>>>,
    recorded: usize,
    stats: Stats,
}

struct Shared {
    max_body_bytes: usize,
    max_decompressed_bytes: usize,
    dcr_immutable_id: Option<String>,
    max_recorded_rows: usize,
    inner: Mutex<Inner>,
}

/// A handle on the emulator's state: the same operations as the `/admin` API.
#[derive(Clone)]
pub struct Emulator {
    shared: Arc<Shared>,
}

fn default_streams() -> BTreeMap<String, Table> {
    Table::ALL
        .into_iter()
        .map(|t| (t.default_stream(), t))
        .collect()
}

impl Emulator {
    pub fn new(options: EmulatorOptions) -> Emulator {
        let mut streams = default_streams();
        streams.extend(options.streams.clone());
        let emulator = Emulator {
            shared: Arc::new(Shared {
                max_body_bytes: options.max_body_bytes,
                max_decompressed_bytes: options.max_decompressed_bytes,
                dcr_immutable_id: options.dcr_immutable_id.clone(),
                max_recorded_rows: options.max_recorded_rows,
                inner: Mutex::new(Inner {
                    tokens: HashMap::new(),
                    token_ttl: options.token_ttl,
                    client_id: options.client_id.clone(),
                    client_secret: options.client_secret.clone(),
                    faults: VecDeque::new(),
                    latency: Duration::ZERO,
                    streams,
                    rows: BTreeMap::new(),
                    recorded: 0,
                    stats: Stats::default(),
                }),
            }),
        };
        emulator.apply(&options.faults);
        emulator
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic elsewhere must not take the admin API down with it.
        self.shared
            .inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues faults and changes settings as `plan` says.
    pub fn apply(&self, plan: &FaultPlan) {
        let mut inner = self.lock();
        if let Some(t) = &plan.throttle {
            for _ in 0..t.count {
                inner.faults.push_back(Fault::Throttle {
                    retry_after_ms: t.retry_after_ms,
                });
            }
        }
        if let Some(e) = &plan.errors {
            for _ in 0..e.count {
                inner.faults.push_back(Fault::Status { status: e.status });
            }
        }
        for _ in 0..plan.drop_connections.unwrap_or(0) {
            inner.faults.push_back(Fault::Drop);
        }
        inner.faults.extend(plan.sequence.iter().cloned());
        if let Some(ms) = plan.latency_ms {
            inner.latency = Duration::from_millis(ms);
        }
        if let Some(ttl) = plan.token_ttl_seconds {
            inner.token_ttl = Duration::from_secs(ttl);
        }
        if plan.expire_tokens {
            inner.tokens.clear();
        }
    }

    pub fn pending_faults(&self) -> Vec<Fault> {
        self.lock().faults.iter().cloned().collect()
    }

    pub fn expire_tokens(&self) {
        self.lock().tokens.clear();
    }

    /// Changes the client credentials the token endpoint accepts (`None`: any).
    pub fn set_credentials(&self, client_id: Option<String>, client_secret: Option<String>) {
        let mut inner = self.lock();
        inner.client_id = client_id;
        inner.client_secret = client_secret;
    }

    pub fn set_stream(&self, stream: impl Into<String>, table: Table) {
        self.lock().streams.insert(stream.into(), table);
    }

    pub fn streams(&self) -> BTreeMap<String, Table> {
        self.lock().streams.clone()
    }

    pub fn stats(&self) -> Stats {
        self.lock().stats.clone()
    }

    /// Accepted rows of one stream, in arrival order.
    pub fn rows(&self, stream: &str) -> Vec<serde_json::Value> {
        self.lock()
            .rows
            .get(stream)
            .map(|rows| {
                rows.iter()
                    .map(|r| serde_json::from_str(r.get()).expect("stored rows are JSON"))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Accepted rows of every stream.
    pub fn all_rows(&self) -> BTreeMap<String, Vec<serde_json::Value>> {
        let names: Vec<String> = self.lock().rows.keys().cloned().collect();
        names
            .into_iter()
            .map(|name| {
                let rows = self.rows(&name);
                (name, rows)
            })
            .collect()
    }

    /// Forgets rows, counters and queued faults (tokens, streams and credentials stay).
    pub fn reset(&self) {
        let mut inner = self.lock();
        inner.rows.clear();
        inner.recorded = 0;
        inner.stats = Stats::default();
        inner.faults.clear();
        inner.latency = Duration::ZERO;
    }

    pub fn router(&self) -> Router {
        Router::new()
            .route("/{tenant}/oauth2/v2.0/token", post(token))
            .route("/dataCollectionRules/{dcr}/streams/{stream}", post(ingest))
            .route("/admin/stats", get(admin_stats))
            .route("/admin/rows", get(admin_rows))
            .route(
                "/admin/faults",
                post(admin_faults).get(admin_pending_faults),
            )
            .route("/admin/reset", post(admin_reset))
            .route(
                "/admin/streams",
                post(admin_streams).get(admin_list_streams),
            )
            .route("/admin/credentials", post(admin_credentials))
            .route("/healthz", get(|| async { "ok" }))
            .with_state(self.clone())
    }

    /// Serves on `addr` (port 0 picks a free port) until the returned handle is dropped.
    pub async fn start(self, addr: SocketAddr) -> std::io::Result<RunningEmulator> {
        let tcp = tokio::net::TcpListener::bind(addr).await?;
        let local = tcp.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = self
            .router()
            .into_make_service_with_connect_info::<Connection>();
        let task = tokio::spawn(async move {
            let served = axum::serve(CuttableListener(tcp), app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "emulator server stopped");
            }
        });
        Ok(RunningEmulator {
            emulator: self,
            addr: local,
            stop: Some(stop),
            task,
        })
    }
}

/// A serving emulator; dropping it stops the server.
pub struct RunningEmulator {
    emulator: Emulator,
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningEmulator {
    /// `http://127.0.0.1:PORT`: both the ingestion endpoint and the authority host.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn emulator(&self) -> &Emulator {
        &self.emulator
    }

    /// Waits for the server to finish after a graceful stop.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let task = std::mem::replace(&mut self.task, tokio::spawn(async {}));
        let _ = task.await;
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.abort();
    }
}

impl std::ops::Deref for RunningEmulator {
    type Target = Emulator;
    fn deref(&self) -> &Emulator {
        &self.emulator
    }
}

fn api_error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = serde_json::json!({ "error": { "code": code, "message": message.into() } });
    (status, Json(body)).into_response()
}

fn token_error(status: StatusCode, error: &str, description: &str) -> Response {
    let body = serde_json::json!({ "error": error, "error_description": description });
    (status, Json(body)).into_response()
}

fn random_token() -> String {
    let bytes: [u8; 24] = rand::random();
    hex::encode(bytes)
}

async fn token(
    State(emulator): State<Emulator>,
    Path(tenant): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or("");
    let refused = |status, error, description: &str| {
        emulator.lock().stats.token_requests_refused += 1;
        token_error(status, error, description)
    };
    if field("grant_type") != "client_credentials" {
        return refused(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "AADSTS70003: The app requested an unsupported grant type; use client_credentials.",
        );
    }
    if field("client_id").is_empty() || field("client_secret").is_empty() {
        return refused(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "AADSTS900144: The request body must contain client_id and client_secret.",
        );
    }
    let scope = field("scope");
    if !(scope.starts_with("https://monitor.azure.") && scope.ends_with("/.default")) {
        return refused(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "AADSTS1002012: The provided scope is not valid for the Logs Ingestion API; \
             use https://monitor.azure.com//.default.",
        );
    }
    if tenant.is_empty() || tenant.contains(['/', ' ']) {
        return refused(
            StatusCode::BAD_REQUEST,
            "invalid_tenant",
            "AADSTS90002: Tenant not found.",
        );
    }
    let mut inner = emulator.lock();
    if inner
        .client_id
        .as_deref()
        .is_some_and(|id| id != field("client_id"))
    {
        inner.stats.token_requests_refused += 1;
        return token_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "AADSTS700016: Application with the given identifier was not found in the directory.",
        );
    }
    if inner
        .client_secret
        .as_deref()
        .is_some_and(|s| s != field("client_secret"))
    {
        inner.stats.token_requests_refused += 1;
        return token_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "AADSTS7000215: Invalid client secret provided.",
        );
    }
    let token = random_token();
    let ttl = inner.token_ttl;
    let now = Instant::now();
    inner.tokens.retain(|_, expires| *expires > now);
    inner.tokens.insert(token.clone(), now + ttl);
    inner.stats.tokens_issued += 1;
    Json(serde_json::json!({
        "token_type": "Bearer",
        "expires_in": ttl.as_secs(),
        "ext_expires_in": ttl.as_secs(),
        "access_token": token,
    }))
    .into_response()
}

#[derive(Deserialize)]
struct IngestQuery {
    #[serde(rename = "api-version")]
    api_version: Option<String>,
}

async fn ingest(
    State(emulator): State<Emulator>,
    ConnectInfo(connection): ConnectInfo<Connection>,
    Path((dcr, stream)): Path<(String, String)>,
    Query(query): Query<IngestQuery>,
    request: Request<Body>,
) -> Response {
    let (fault, latency) = {
        let mut inner = emulator.lock();
        inner.stats.requests += 1;
        (inner.faults.pop_front(), inner.latency)
    };
    let (parts, body) = request.into_parts();
    let limit = emulator.shared.max_body_bytes;
    // Read the whole body first, as the service does, so a refused or dropped request has
    // really been sent.
    let body = axum::body::to_bytes(body, limit + 1).await;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let fault_seen = fault.clone();
    let response = match fault {
        Some(Fault::Drop) => {
            emulator.lock().stats.dropped_connections += 1;
            connection.cut();
            tracing::info!(%stream, "fault: dropping the connection");
            // Never reaches the client: writing it fails on the cut connection.
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
        other => {
            let response = check_and_ingest(&emulator, &parts.headers, &dcr, &stream, &query, body);
            match (response, other) {
                (Err(refusal), Some(fault)) if refusal.status() == StatusCode::UNAUTHORIZED => {
                    // Auth comes first; the fault is kept for the next request.
                    emulator.lock().faults.push_front(fault);
                    refusal
                }
                (Err(refusal), _) => refusal,
                (Ok(ingest), None) => ingest.commit(&emulator),
                (Ok(_), Some(Fault::Throttle { retry_after_ms })) => {
                    let mut r = api_error(
                        StatusCode::TOO_MANY_REQUESTS,
                        "TooManyRequests",
                        "Request rate exceeded; retry after the time in Retry-After.",
                    );
                    let seconds = retry_after_ms.div_ceil(1000).to_string();
                    let headers = r.headers_mut();
                    headers.insert(
                        header::RETRY_AFTER,
                        HeaderValue::from_str(&seconds).expect("digits"),
                    );
                    headers.insert(
                        "retry-after-ms",
                        HeaderValue::from_str(&retry_after_ms.to_string()).expect("digits"),
                    );
                    r
                }
                (Ok(_), Some(Fault::Status { status })) => {
                    let status =
                        StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
                    api_error(
                        status,
                        "ServiceUnavailable",
                        format!("Injected fault: HTTP {}", status.as_u16()),
                    )
                }
                (Ok(_), Some(Fault::Drop)) => unreachable!("handled above"),
            }
        }
    };
    let status = response.status().as_u16();
    *emulator.lock().stats.statuses.entry(status).or_default() += 1;
    tracing::info!(%stream, status, fault = ?fault_seen, "ingestion request");
    response
}

/// A request that passed every check, ready to be recorded.
struct Accepted {
    stream: String,
    rows: Vec<Box<RawValue>>,
    bare_object: bool,
    body_bytes: usize,
}

impl Accepted {
    fn commit(self, emulator: &Emulator) -> Response {
        let mut inner = emulator.lock();
        let max = emulator.shared.max_recorded_rows;
        let stats = &mut inner.stats;
        stats.accepted_requests += 1;
        if self.bare_object {
            stats.bare_objects_dropped += 1;
            return StatusCode::NO_CONTENT.into_response();
        }
        stats.rows_accepted += self.rows.len() as u64;
        let per_stream = stats.streams.entry(self.stream.clone()).or_default();
        per_stream.accepted_requests += 1;
        per_stream.rows += self.rows.len() as u64;
        per_stream.body_bytes += self.body_bytes as u64;
        let room = max.saturating_sub(inner.recorded);
        let keep: Vec<_> = self.rows.into_iter().take(room).collect();
        inner.recorded += keep.len();
        inner.rows.entry(self.stream).or_default().extend(keep);
        StatusCode::NO_CONTENT.into_response()
    }
}

// The refusal is the response itself, built once per failed request: boxing it buys
// nothing here.
#[allow(clippy::result_large_err)]
fn check_and_ingest(
    emulator: &Emulator,
    headers: &HeaderMap,
    dcr: &str,
    stream: &str,
    query: &IngestQuery,
    body: Result<bytes::Bytes, axum::Error>,
) -> Result<Accepted, Response> {
    let table = {
        let mut inner = emulator.lock();
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let valid = token
            .and_then(|t| inner.tokens.get(t))
            .is_some_and(|expires| *expires > Instant::now());
        if !valid {
            let message = if token.is_none() {
                "Authorization header with a Bearer token is required."
            } else {
                "The access token is invalid or has expired."
            };
            let mut r = api_error(StatusCode::UNAUTHORIZED, "InvalidToken", message);
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
            return Err(r);
        }
        if let Ok(b) = &body {
            inner.stats.body_bytes_received += b.len() as u64;
            inner.stats.max_body_bytes_seen = inner.stats.max_body_bytes_seen.max(b.len() as u64);
        }
        inner.streams.get(stream).copied()
    };
    if query.api_version.as_deref() != Some(API_VERSION) {
        return Err(api_error(
            StatusCode::BAD_REQUEST,
            "InvalidApiVersion",
            format!("The api-version query parameter must be {API_VERSION}."),
        ));
    }
    if emulator
        .shared
        .dcr_immutable_id
        .as_deref()
        .is_some_and(|id| id != dcr)
    {
        return Err(api_error(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("Data collection rule {dcr} was not found."),
        ));
    }
    let Some(table) = table else {
        return Err(api_error(
            StatusCode::NOT_FOUND,
            "InvalidStream",
            format!("Stream {stream} is not declared in data collection rule {dcr}."),
        ));
    };
    let limit = emulator.shared.max_body_bytes;
    let too_large = || {
        api_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "ContentLengthLimitExceeded",
            format!("The request body exceeds the {limit}-byte limit."),
        )
    };
    let body = body.map_err(|_| too_large())?;
    if body.len() > limit {
        return Err(too_large());
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with("application/json") {
        return Err(api_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            "Content-Type must be application/json.",
        ));
    }
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let json = match encoding.as_str() {
        "" | "identity" => body.to_vec(),
        "gzip" => {
            let mut out = Vec::new();
            let max = emulator.shared.max_decompressed_bytes as u64;
            let read = flate2::read::GzDecoder::new(&body[..])
                .take(max + 1)
                .read_to_end(&mut out);
            match read {
                Ok(_) if out.len() as u64 > max => return Err(too_large()),
                Ok(_) => out,
                Err(e) => {
                    return Err(api_error(
                        StatusCode::BAD_REQUEST,
                        "InvalidContentEncoding",
                        format!("The body is not valid gzip: {e}."),
                    ));
                }
            }
        }
        other => {
            return Err(api_error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UnsupportedContentEncoding",
                format!("Content-Encoding {other:?} is not supported; use gzip."),
            ));
        }
    };
    let body_bytes = body.len();
    let stream = stream.to_string();
    let value: &RawValue = serde_json::from_slice(&json).map_err(|e| {
        api_error(
            StatusCode::BAD_REQUEST,
            "InvalidJson",
            format!("The body is not valid JSON: {e}."),
        )
    })?;
    let text = value.get().trim_start();
    if text.starts_with('{') {
        return Ok(Accepted {
            stream,
            rows: Vec::new(),
            bare_object: true,
            body_bytes,
        });
    }
    if !text.starts_with('[') {
        return Err(api_error(
            StatusCode::BAD_REQUEST,
            "InvalidJson",
            "The body must be a JSON array of objects.",
        ));
    }
    let rows: Vec<Box<RawValue>> = serde_json::from_str(value.get()).expect("checked JSON");
    let declared: BTreeSet<&str> = table
        .columns()
        .iter()
        .chain(CONNECTOR_COLUMNS)
        .map(|(name, _)| *name)
        .collect();
    for (index, row) in rows.iter().enumerate() {
        let object: BTreeMap<&str, &RawValue> = serde_json::from_str(row.get()).map_err(|_| {
            api_error(
                StatusCode::BAD_REQUEST,
                "InvalidJson",
                format!("Element {index} of the array is not a JSON object."),
            )
        })?;
        if let Some(column) = object.keys().find(|k| !declared.contains(*k)) {
            return Err(api_error(
                StatusCode::BAD_REQUEST,
                "InvalidStreamSchema",
                format!(
                    "Column '{column}' (element {index}) is not declared in stream '{stream}' \
                     (table {table})."
                ),
            ));
        }
    }
    Ok(Accepted {
        stream,
        rows,
        bare_object: false,
        body_bytes,
    })
}

async fn admin_stats(State(emulator): State<Emulator>) -> Json<Stats> {
    Json(emulator.stats())
}

#[derive(Deserialize)]
struct RowsQuery {
    stream: Option<String>,
    #[serde(default)]
    offset: usize,
    limit: Option<usize>,
}

async fn admin_rows(
    State(emulator): State<Emulator>,
    Query(q): Query<RowsQuery>,
) -> Json<serde_json::Value> {
    let inner = emulator.lock();
    let mut rows: Vec<&RawValue> = Vec::new();
    match &q.stream {
        Some(stream) => rows.extend(inner.rows.get(stream).into_iter().flatten().map(|r| &**r)),
        None => rows.extend(inner.rows.values().flatten().map(|r| &**r)),
    }
    let total = rows.len();
    let page: Vec<&RawValue> = rows
        .into_iter()
        .skip(q.offset)
        .take(q.limit.unwrap_or(usize::MAX))
        .collect();
    Json(serde_json::json!({ "total": total, "offset": q.offset, "rows": page }))
}

async fn admin_faults(
    State(emulator): State<Emulator>,
    Json(plan): Json<FaultPlan>,
) -> Json<Vec<Fault>> {
    emulator.apply(&plan);
    Json(emulator.pending_faults())
}

async fn admin_pending_faults(State(emulator): State<Emulator>) -> Json<Vec<Fault>> {
    Json(emulator.pending_faults())
}

async fn admin_reset(State(emulator): State<Emulator>) -> StatusCode {
    emulator.reset();
    StatusCode::NO_CONTENT
}

async fn admin_streams(
    State(emulator): State<Emulator>,
    Json(streams): Json<BTreeMap<String, String>>,
) -> Response {
    let mut parsed = Vec::new();
    for (stream, table_name) in &streams {
        let Some(table) = Table::from_name(table_name) else {
            return api_error(
                StatusCode::BAD_REQUEST,
                "UnknownTable",
                format!("Unknown table {table_name:?}."),
            );
        };
        if let Err(m) = crate::config::validate_stream_name(stream) {
            return api_error(StatusCode::BAD_REQUEST, "InvalidStreamName", m);
        }
        parsed.push((stream.clone(), table));
    }
    for (stream, table) in parsed {
        emulator.set_stream(stream, table);
    }
    admin_list_streams(State(emulator)).await.into_response()
}

async fn admin_list_streams(State(emulator): State<Emulator>) -> Json<BTreeMap<String, String>> {
    Json(
        emulator
            .streams()
            .into_iter()
            .map(|(s, t)| (s, t.name().to_string()))
            .collect(),
    )
}

#[derive(Deserialize)]
struct CredentialsBody {
    client_id: Option<String>,
    client_secret: Option<String>,
}

async fn admin_credentials(
    State(emulator): State<Emulator>,
    Json(body): Json<CredentialsBody>,
) -> StatusCode {
    emulator.set_credentials(body.client_id, body.client_secret);
    StatusCode::NO_CONTENT
}

//! The Logs Ingestion endpoint: every check the real API makes, then the rows recorded.

use std::io::Read;
use std::time::Instant;

use axum::Json;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::listener::Connection;
use super::{Emulator, Fault};
use crate::azure::StreamDeclaration;
use crate::azure::schema::RowError;
use crate::sink::sentinel::client::API_VERSION;

pub(super) fn api_error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = serde_json::json!({ "error": { "code": code, "message": message.into() } });
    (status, Json(body)).into_response()
}

#[derive(Deserialize)]
pub(super) struct IngestQuery {
    #[serde(rename = "api-version")]
    api_version: Option<String>,
}

pub(super) async fn ingest(
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
pub(super) struct Accepted {
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
        stats.max_rows_per_request = stats.max_rows_per_request.max(self.rows.len() as u64);
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
pub(super) fn check_and_ingest(
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
    let declaration = StreamDeclaration::new(stream.as_str(), table);
    let unknown = emulator.shared.unknown_columns;
    let mut kept = Vec::with_capacity(rows.len());
    for (index, row) in rows.into_iter().enumerate() {
        let mut object: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(row.get()).map_err(|_| {
                api_error(
                    StatusCode::BAD_REQUEST,
                    "InvalidJson",
                    format!("Element {index} of the array is not a JSON object."),
                )
            })?;
        declaration.check_row(&object, unknown).map_err(|e| {
            let message = match e {
                RowError::Undeclared(column) => format!(
                    "Column '{column}' (element {index}) is not declared in stream '{stream}' \
                     (table {table})."
                ),
                RowError::TypeMismatch {
                    column,
                    expected,
                    found,
                } => format!(
                    "Column '{column}' (element {index}) of stream '{stream}' is declared as {} \
                     but holds a {found}.",
                    expected.name()
                ),
            };
            api_error(StatusCode::BAD_REQUEST, "InvalidStreamSchema", message)
        })?;
        let before = object.len();
        object.retain(|k, _| declaration.column_type(k).is_some());
        if object.len() == before {
            kept.push(row);
        } else {
            // Azure drops what the stream does not declare; keep what it would store.
            let text = serde_json::to_string(&object).expect("a JSON object serializes");
            kept.push(RawValue::from_string(text).expect("serialized JSON"));
        }
    }
    let rows = kept;
    Ok(Accepted {
        stream,
        rows,
        bare_object: false,
        body_bytes,
    })
}

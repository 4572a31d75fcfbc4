//! `/admin`: rows, counters, faults, streams and credentials, for tests and the demo.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::record::Table;

use super::ingest::api_error;
use super::{Emulator, Fault, FaultPlan, FederatedCredential, Stats};

pub(super) async fn admin_stats(State(emulator): State<Emulator>) -> Json<Stats> {
    Json(emulator.stats())
}

#[derive(Deserialize)]
pub(super) struct RowsQuery {
    stream: Option<String>,
    #[serde(default)]
    offset: usize,
    limit: Option<usize>,
}

pub(super) async fn admin_rows(
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

pub(super) async fn admin_faults(
    State(emulator): State<Emulator>,
    Json(plan): Json<FaultPlan>,
) -> Json<Vec<Fault>> {
    emulator.apply(&plan);
    Json(emulator.pending_faults())
}

pub(super) async fn admin_pending_faults(State(emulator): State<Emulator>) -> Json<Vec<Fault>> {
    Json(emulator.pending_faults())
}

pub(super) async fn admin_reset(State(emulator): State<Emulator>) -> StatusCode {
    emulator.reset();
    StatusCode::NO_CONTENT
}

pub(super) async fn admin_streams(
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
        if let Err(m) = crate::sink::sentinel::validate_stream_name(stream) {
            return api_error(StatusCode::BAD_REQUEST, "InvalidStreamName", m);
        }
        parsed.push((stream.clone(), table));
    }
    for (stream, table) in parsed {
        emulator.set_stream(stream, table);
    }
    admin_list_streams(State(emulator)).await.into_response()
}

pub(super) async fn admin_list_streams(
    State(emulator): State<Emulator>,
) -> Json<BTreeMap<String, String>> {
    Json(
        emulator
            .streams()
            .into_iter()
            .map(|(s, t)| (s, t.name().to_string()))
            .collect(),
    )
}

#[derive(Deserialize)]
pub(super) struct CredentialsBody {
    client_id: Option<String>,
    client_secret: Option<String>,
}

pub(super) async fn admin_credentials(
    State(emulator): State<Emulator>,
    Json(body): Json<CredentialsBody>,
) -> StatusCode {
    emulator.set_credentials(body.client_id, body.client_secret);
    StatusCode::NO_CONTENT
}

pub(super) async fn admin_federated_credentials(
    State(emulator): State<Emulator>,
    Json(credentials): Json<Vec<FederatedCredential>>,
) -> StatusCode {
    emulator.set_federated_credentials(credentials);
    StatusCode::NO_CONTENT
}

pub(super) async fn admin_list_federated_credentials(
    State(emulator): State<Emulator>,
) -> Json<Vec<FederatedCredential>> {
    Json(emulator.federated_credentials())
}

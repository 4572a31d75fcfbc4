//! The Entra ID token endpoint: client credentials in, short-lived bearer tokens out.

use std::collections::HashMap;
use std::time::Instant;

use super::Emulator;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};

pub(super) fn token_error(status: StatusCode, error: &str, description: &str) -> Response {
    let body = serde_json::json!({ "error": error, "error_description": description });
    (status, Json(body)).into_response()
}

pub(super) fn random_token() -> String {
    let bytes: [u8; 24] = rand::random();
    hex::encode(bytes)
}

pub(super) async fn token(
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
    // Credentials are checked only when the emulator was given them.
    let differs = |expected: &Option<String>, name: &str| {
        expected.as_deref().is_some_and(|v| v != field(name))
    };
    let refusal = if differs(&inner.client_id, "client_id") {
        Some((
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "AADSTS700016: Application with the given identifier was not found in the directory.",
        ))
    } else if differs(&inner.client_secret, "client_secret") {
        Some((
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "AADSTS7000215: Invalid client secret provided.",
        ))
    } else {
        None
    };
    if let Some((status, error, description)) = refusal {
        inner.stats.token_requests_refused += 1;
        return token_error(status, error, description);
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

//! The Entra ID token endpoint: client credentials (a secret, or a client assertion from a
//! trusted issuer) in, short-lived bearer tokens out.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use super::Emulator;
use crate::sink::sentinel::assertion::read_claims;
use crate::sink::sentinel::auth::JWT_BEARER_ASSERTION;
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
    let assertion = !field("client_assertion_type").is_empty();
    if assertion && !field("client_secret").is_empty() {
        return refused(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "AADSTS90023: Only one of client_secret and client_assertion may be given.",
        );
    }
    if assertion && field("client_assertion_type") != JWT_BEARER_ASSERTION {
        return refused(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "AADSTS50027: client_assertion_type must be \
             urn:ietf:params:oauth:client-assertion-type:jwt-bearer.",
        );
    }
    let proof = if assertion {
        "client_assertion"
    } else {
        "client_secret"
    };
    if field("client_id").is_empty() || field(proof).is_empty() {
        return refused(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &format!("AADSTS900144: The request body must contain client_id and {proof}."),
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
    if assertion {
        if let Some(client_id) = emulator.lock().client_id.clone()
            && client_id != field("client_id")
        {
            return refused(
                StatusCode::BAD_REQUEST,
                "unauthorized_client",
                "AADSTS700016: Application with the given identifier was not found in the \
                 directory.",
            );
        }
        if let Err((code, description)) =
            verify_assertion(&emulator, field("client_assertion")).await
        {
            let mut inner = emulator.lock();
            inner.stats.token_requests_refused += 1;
            *inner.stats.assertions_refused.entry(code).or_default() += 1;
            drop(inner);
            let status = if code == 90061 {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::UNAUTHORIZED
            };
            let body = serde_json::json!({
                "error": "invalid_client",
                "error_description": format!("AADSTS{code}: {description}"),
                "error_codes": [code],
            });
            return (status, Json(body)).into_response();
        }
        emulator.lock().stats.assertions_accepted += 1;
        return issue(&emulator);
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
    drop(inner);
    issue(&emulator)
}

fn issue(emulator: &Emulator) -> Response {
    let mut inner = emulator.lock();
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

/// Clock skew Entra ID tolerates on `exp` and `nbf`.
const ASSERTION_LEEWAY_SECONDS: u64 = 60;

/// Checks a client assertion as Entra ID checks one against an application's federated
/// identity credentials: a credential with the token's issuer, then its subject, then its
/// audience; the signature against the issuer's published keys; the expiry. The error is
/// Entra ID's code and description.
async fn verify_assertion(emulator: &Emulator, token: &str) -> Result<(), (u64, String)> {
    let malformed = || (50027, "JWT token is invalid or malformed.".to_string());
    let header = jsonwebtoken::decode_header(token).map_err(|_| malformed())?;
    if header.alg != Algorithm::RS256 {
        return Err((
            5002738,
            format!(
                "The client assertion is signed with {:?}; only RS256 is accepted.",
                header.alg
            ),
        ));
    }
    let claims = read_claims(token).ok_or_else(malformed)?;
    let credentials = emulator.federated_credentials();
    let issuer_matches: Vec<_> = credentials
        .iter()
        .filter(|c| c.issuer == claims.issuer)
        .collect();
    let described = format!(
        "Assertion Issuer: '{}'. Assertion Subject: '{}'. Assertion Audience: '{}'.",
        claims.issuer, claims.subject, claims.audience
    );
    if issuer_matches.is_empty() {
        return Err((
            700211,
            format!(
                "No matching federated identity record found for presented assertion issuer. {described}"
            ),
        ));
    }
    let subject_matches: Vec<_> = issuer_matches
        .into_iter()
        .filter(|c| c.subject == claims.subject)
        .collect();
    if subject_matches.is_empty() {
        return Err((
            700213,
            format!(
                "No matching federated identity record found for presented assertion subject. {described}"
            ),
        ));
    }
    let Some(credential) = subject_matches
        .into_iter()
        .find(|c| claims.audience.split(',').any(|a| a == c.audience))
    else {
        return Err((
            700212,
            format!(
                "No matching federated identity record found for presented assertion audience. {described}"
            ),
        ));
    };
    let keys = super::sts::fetch_jwks(
        &emulator.shared.http,
        &credential.issuer,
        Duration::from_secs(5),
    )
    .await
    .map_err(|e| {
        (
            90061,
            format!("Request to External OIDC endpoint failed: {e}"),
        )
    })?;
    let not_signed_by_issuer = || {
        (
            700027,
            format!(
                "Client assertion failed signature validation against the keys of issuer '{}'.",
                credential.issuer
            ),
        )
    };
    let jwk = header
        .kid
        .as_deref()
        .and_then(|kid| keys.find(kid))
        .ok_or_else(not_signed_by_issuer)?;
    let key = DecodingKey::from_jwk(jwk).map_err(|_| not_signed_by_issuer())?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[&credential.issuer]);
    validation.set_audience(&[&credential.audience]);
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    validation.leeway = ASSERTION_LEEWAY_SECONDS;
    validation.validate_nbf = true;
    match jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation) {
        Ok(_) => Ok(()),
        Err(e) => Err(match e.kind() {
            ErrorKind::ExpiredSignature | ErrorKind::ImmatureSignature => (
                700024,
                "Client assertion is not within its valid time range.".to_string(),
            ),
            ErrorKind::InvalidSignature => not_signed_by_issuer(),
            _ => malformed(),
        }),
    }
}

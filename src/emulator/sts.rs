//! A local stand-in for AWS STS `GetWebIdentityToken` (IAM outbound identity federation)
//! and the account's token issuer: what moto does not serve. The real `aws-sdk-sts` client
//! reaches it through an endpoint override (`AWS_ENDPOINT_URL_STS`); it answers the STS
//! query protocol with an RS256 JWT (`iss` = its own URL, `sub` = the caller's role ARN,
//! `aud`, `iat`, `exp`, `jti`) and publishes `/.well-known/openid-configuration` and the
//! JWKS, which the emulator's token endpoint reads to verify the token as Entra ID does.
//!
//! Faults: the account's federation disabled, the role lacking the permission, tokens
//! issued already expired, signed with a key the JWKS does not publish, or with a shorter
//! lifetime than asked.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lc_rs::encoding::AsDer as _;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json};
use base64::Engine as _;
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use smart_default::SmartDefault;

use super::Serving;

/// The JWKS path the discovery document points to.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";
const STS_NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// How the stand-in starts.
#[derive(Debug, Clone, SmartDefault)]
pub struct StsOptions {
    /// The `sub` of every token: the role the caller's credentials belong to (real STS
    /// knows it from the signature; the stand-in is told).
    #[default("arn:aws:iam::123456789012:role/s3-sentinel-connector".into())]
    pub role_arn: String,
    /// Faults and overrides applied at start.
    pub behaviour: StsBehaviour,
}

/// A refusal STS answers instead of a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StsRefusal {
    /// `OutboundWebIdentityFederationDisabledException`: the account never enabled it.
    FederationDisabled,
    /// `AccessDenied`: the role may not call `sts:GetWebIdentityToken` (for this audience).
    AccessDenied,
}

/// Faults and overrides; all off by default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StsBehaviour {
    /// Answer every request with this refusal.
    pub refuse: Option<StsRefusal>,
    /// Issue tokens that expired ten minutes ago (and say so in `Expiration`).
    pub issue_expired: bool,
    /// Sign with a key the JWKS does not publish.
    pub sign_with_unpublished_key: bool,
    /// Issue tokens of this lifetime, in seconds, whatever was asked.
    pub lifetime_seconds: Option<u64>,
}

/// Counters since start.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StsStats {
    /// `GetWebIdentityToken` calls received.
    pub requests: u64,
    /// Tokens issued.
    pub tokens_issued: u64,
    /// Requests answered with an error.
    pub refused: u64,
    /// Reads of the discovery document (by a token endpoint verifying a token).
    pub discovery_reads: u64,
    /// Reads of the JWKS.
    pub jwks_reads: u64,
}

struct SigningKey {
    kid: String,
    key: EncodingKey,
    jwk: Jwk,
}

impl SigningKey {
    fn generate(kid: &str) -> SigningKey {
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
            .expect("RSA key generation");
        let pkcs8 = pair.as_der().expect("a generated key encodes");
        let body = base64::engine::general_purpose::STANDARD.encode(pkcs8.as_ref());
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).expect("base64 is ASCII"))
            .collect();
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            lines.join("\n")
        );
        let key = EncodingKey::from_rsa_pem(pem.as_bytes()).expect("PKCS#8 RSA key");
        let mut jwk = Jwk::from_encoding_key(&key, Algorithm::RS256).expect("RSA public key");
        jwk.common.key_id = Some(kid.to_string());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        SigningKey {
            kid: kid.to_string(),
            key,
            jwk,
        }
    }
}

struct StsInner {
    issuer: String,
    role_arn: String,
    behaviour: StsBehaviour,
    stats: StsStats,
    issued: Vec<String>,
}

struct StsShared {
    published: SigningKey,
    unpublished: SigningKey,
    inner: Mutex<StsInner>,
}

/// The stand-in's state; cheap to clone.
#[derive(Clone)]
pub struct StsEmulator {
    shared: Arc<StsShared>,
}

/// Tokens kept for [`StsEmulator::issued_tokens`] (tests look for them in logs).
const MAX_KEPT_TOKENS: usize = 1000;

impl StsEmulator {
    /// A stand-in with a fresh RSA key pair (and a second one it never publishes).
    pub fn new(options: StsOptions) -> StsEmulator {
        StsEmulator {
            shared: Arc::new(StsShared {
                published: SigningKey::generate("s3-sentinel-emulator-1"),
                unpublished: SigningKey::generate("s3-sentinel-emulator-1"),
                inner: Mutex::new(StsInner {
                    issuer: String::new(),
                    role_arn: options.role_arn,
                    behaviour: options.behaviour,
                    stats: StsStats::default(),
                    issued: Vec::new(),
                }),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, StsInner> {
        self.shared
            .inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Replaces the faults and overrides.
    pub fn set_behaviour(&self, behaviour: StsBehaviour) {
        self.lock().behaviour = behaviour;
    }

    /// Changes the role the caller's credentials belong to.
    pub fn set_role_arn(&self, role_arn: impl Into<String>) {
        self.lock().role_arn = role_arn.into();
    }

    /// The `iss` of its tokens (its own URL once started).
    pub fn issuer(&self) -> String {
        self.lock().issuer.clone()
    }

    /// The role ARN it puts in `sub`.
    pub fn role_arn(&self) -> String {
        self.lock().role_arn.clone()
    }

    /// Counters since start.
    pub fn stats(&self) -> StsStats {
        self.lock().stats.clone()
    }

    /// The tokens issued so far (the last 1,000).
    pub fn issued_tokens(&self) -> Vec<String> {
        self.lock().issued.clone()
    }

    /// The routes: STS at `POST /`, the discovery document and the JWKS.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/", post(get_web_identity_token))
            .route("/.well-known/openid-configuration", get(discovery))
            .route(JWKS_PATH, get(jwks))
            .with_state(self.clone())
    }

    /// Serves on `addr` (port 0 picks one); its URL becomes the issuer.
    pub async fn start(self, addr: SocketAddr) -> std::io::Result<RunningSts> {
        let tcp = tokio::net::TcpListener::bind(addr).await?;
        let local = tcp.local_addr()?;
        self.lock().issuer = format!("http://{local}");
        let app = self.router();
        Ok(Serving::spawn(self, local, "STS stand-in", |stopped| {
            axum::serve(tcp, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .into_future()
        }))
    }
}

/// A serving stand-in; dropping it stops the server.
pub type RunningSts = Serving<StsEmulator>;

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn request_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// An STS error in the query protocol's XML.
fn sts_error(status: StatusCode, code: &str, message: &str) -> Response {
    let id = request_id();
    let body = format!(
        "<ErrorResponse xmlns=\"{STS_NAMESPACE}\"><Error><Type>Sender</Type><Code>{code}</Code>\
         <Message>{}</Message></Error><RequestId>{id}</RequestId></ErrorResponse>",
        xml_escape(message)
    );
    (
        status,
        [
            (header::CONTENT_TYPE, "text/xml".to_string()),
            (header::HeaderName::from_static("x-amzn-requestid"), id),
        ],
        body,
    )
        .into_response()
}

#[derive(Serialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Serialize)]
struct Claims {
    iss: String,
    sub: String,
    aud: Audience,
    iat: i64,
    exp: i64,
    jti: String,
}

async fn get_web_identity_token(
    State(sts): State<StsEmulator>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let fields: HashMap<&str, &str> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    sts.lock().stats.requests += 1;
    let refused = |status, code: &str, message: &str| {
        sts.lock().stats.refused += 1;
        sts_error(status, code, message)
    };
    // Real STS tells who calls from the SigV4 signature; the stand-in only insists on one.
    let signed = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("AWS4-HMAC-SHA256 ") && v.contains("/sts/aws4_request"));
    if !signed {
        return refused(
            StatusCode::FORBIDDEN,
            "MissingAuthenticationToken",
            "Request is missing a SigV4 signature for service sts.",
        );
    }
    if fields.get("Action") != Some(&"GetWebIdentityToken") {
        return refused(
            StatusCode::BAD_REQUEST,
            "InvalidAction",
            "This stand-in serves GetWebIdentityToken only.",
        );
    }
    let audiences: Vec<String> = (1..=10)
        .filter_map(|n| fields.get(format!("Audience.member.{n}").as_str()))
        .map(|a| a.to_string())
        .collect();
    if audiences.is_empty() || audiences.iter().any(String::is_empty) {
        return refused(
            StatusCode::BAD_REQUEST,
            "ValidationError",
            "1 validation error detected: Value at 'audience' failed to satisfy constraint: \
             Member must have length greater than or equal to 1",
        );
    }
    match fields.get("SigningAlgorithm").copied() {
        Some("RS256") => {}
        Some("ES384") => {
            return refused(
                StatusCode::BAD_REQUEST,
                "ValidationError",
                "This stand-in signs RS256 only (Entra ID verifies RS256 only).",
            );
        }
        _ => {
            return refused(
                StatusCode::BAD_REQUEST,
                "ValidationError",
                "Value at 'signingAlgorithm' failed to satisfy constraint: Member must \
                 satisfy enum value set: [RS256, ES384]",
            );
        }
    }
    let asked: i64 = match fields.get("DurationSeconds").map(|d| d.parse::<i64>()) {
        None => 300,
        Some(Ok(d)) if (60..=3600).contains(&d) => d,
        Some(_) => {
            return refused(
                StatusCode::BAD_REQUEST,
                "ValidationError",
                "Value at 'durationSeconds' failed to satisfy constraint: Member must have \
                 value between 60 and 3600",
            );
        }
    };
    let (issuer, role_arn, behaviour) = {
        let inner = sts.lock();
        (
            inner.issuer.clone(),
            inner.role_arn.clone(),
            inner.behaviour.clone(),
        )
    };
    match behaviour.refuse {
        Some(StsRefusal::FederationDisabled) => {
            return refused(
                StatusCode::FORBIDDEN,
                "OutboundWebIdentityFederationDisabledException",
                "Outbound web identity federation is disabled for this account.",
            );
        }
        Some(StsRefusal::AccessDenied) => {
            return refused(
                StatusCode::FORBIDDEN,
                "AccessDenied",
                &format!(
                    "User: {role_arn} is not authorized to perform: sts:GetWebIdentityToken \
                     because no identity-based policy allows the sts:GetWebIdentityToken action"
                ),
            );
        }
        None => {}
    }
    let now = chrono::Utc::now().timestamp();
    let lifetime = behaviour
        .lifetime_seconds
        .map(|s| s as i64)
        .unwrap_or(asked);
    let (iat, exp) = if behaviour.issue_expired {
        (now - 600 - lifetime, now - 600)
    } else {
        (now, now + lifetime)
    };
    let claims = Claims {
        iss: issuer,
        sub: role_arn,
        aud: if audiences.len() == 1 {
            Audience::One(audiences[0].clone())
        } else {
            Audience::Many(audiences)
        },
        iat,
        exp,
        jti: request_id(),
    };
    let key = if behaviour.sign_with_unpublished_key {
        &sts.shared.unpublished
    } else {
        &sts.shared.published
    };
    let mut jwt_header = Header::new(Algorithm::RS256);
    jwt_header.kid = Some(key.kid.clone());
    let token = match jsonwebtoken::encode(&jwt_header, &claims, &key.key) {
        Ok(t) => t,
        Err(e) => {
            return sts_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalFailure",
                &format!("signing failed: {e}"),
            );
        }
    };
    {
        let mut inner = sts.lock();
        inner.stats.tokens_issued += 1;
        if inner.issued.len() >= MAX_KEPT_TOKENS {
            inner.issued.remove(0);
        }
        inner.issued.push(token.clone());
    }
    let expiration = chrono::DateTime::from_timestamp(exp, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ");
    let id = request_id();
    let body = format!(
        "<GetWebIdentityTokenResponse xmlns=\"{STS_NAMESPACE}\"><GetWebIdentityTokenResult>\
         <WebIdentityToken>{token}</WebIdentityToken><Expiration>{expiration}</Expiration>\
         </GetWebIdentityTokenResult><ResponseMetadata><RequestId>{id}</RequestId>\
         </ResponseMetadata></GetWebIdentityTokenResponse>"
    );
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/xml".to_string()),
            (header::HeaderName::from_static("x-amzn-requestid"), id),
        ],
        body,
    )
        .into_response()
}

async fn discovery(State(sts): State<StsEmulator>) -> Json<serde_json::Value> {
    let issuer = {
        let mut inner = sts.lock();
        inner.stats.discovery_reads += 1;
        inner.issuer.clone()
    };
    Json(serde_json::json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}{JWKS_PATH}"),
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }))
}

async fn jwks(State(sts): State<StsEmulator>) -> Json<JwkSet> {
    sts.lock().stats.jwks_reads += 1;
    Json(JwkSet {
        keys: vec![sts.shared.published.jwk.clone()],
    })
}

/// Reads an issuer's discovery document and JWKS, as Entra ID does before it verifies a
/// token from that issuer.
pub(super) async fn fetch_jwks(
    http: &reqwest::Client,
    issuer: &str,
    timeout: Duration,
) -> Result<JwkSet, String> {
    #[derive(Deserialize)]
    struct Discovery {
        jwks_uri: String,
    }
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let read = async |url: &str| -> Result<reqwest::Response, String> {
        http.get(url)
            .timeout(timeout)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| format!("reading {url}: {e}"))
    };
    let discovery: Discovery = read(&url)
        .await?
        .json()
        .await
        .map_err(|e| format!("{url} is not an OpenID discovery document: {e}"))?;
    read(&discovery.jwks_uri)
        .await?
        .json()
        .await
        .map_err(|e| format!("{} is not a JWKS: {e}", discovery.jwks_uri))
}

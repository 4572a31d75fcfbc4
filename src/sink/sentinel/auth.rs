//! Entra ID client-credentials tokens for the Logs Ingestion API.
//!
//! The token is cached until shortly before it expires and dropped when the API answers
//! 401. The client credentials are cached too (a warm Lambda does not read Secrets Manager
//! per invocation) and read again when Entra ID refuses them, so a rotated secret is picked
//! up without a restart. Secret values never reach logs or error messages.
//!
//! The proof sent with the client id is a client secret or, with
//! `AZURE_AUTH=aws-federation` ([`super::federation`]), a short-lived client assertion,
//! which is kept only while it has time left and read again before it runs out.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::Deserialize;
use tokio::sync::Mutex;

use super::assertion::{AssertionClaims, explain_refusal};
use super::retry;
use super::streams::quoted;

/// A string that must not be shown: `Debug` prints `***`, and there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// An Entra ID application's client credentials.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AzureCredentials {
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: Secret,
}

/// Where the Entra ID client credentials come from.
#[derive(Clone, Debug, PartialEq)]
pub enum CredentialsSource {
    /// A Secrets Manager secret holding `{"tenant_id", "client_id", "client_secret"}`.
    SecretsManager {
        /// The secret's name or ARN.
        secret_id: String,
    },
    /// `AZURE_TENANT_ID` / `AZURE_CLIENT_ID` / `AZURE_CLIENT_SECRET`.
    Environment(AzureCredentials),
    /// No secret: a token from the function's own AWS identity (`sts:GetWebIdentityToken`)
    /// as the client assertion of an Entra ID application or managed identity that trusts
    /// it through a federated identity credential (`AZURE_AUTH=aws-federation`).
    AwsFederation(FederationSettings),
}

/// The Entra ID side of `AZURE_AUTH=aws-federation`, and the audience of the AWS token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FederationSettings {
    /// The Entra ID tenant.
    pub tenant_id: String,
    /// The application's or user-assigned managed identity's client id.
    pub client_id: String,
    /// The AWS token's `aud`: what the federated identity credential expects.
    pub audience: String,
}

/// Tenant ids go into the token URL path, so only id-like values pass.
pub fn validate_tenant(tenant: &str) -> Result<(), String> {
    if !tenant.is_empty()
        && tenant
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
    {
        Ok(())
    } else {
        Err(format!(
            "must be a tenant id (a GUID or a domain name), got {}",
            quoted(tenant)
        ))
    }
}

/// `client_assertion_type` of a JWT client assertion (RFC 7523).
pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Token responses are a few KB; more is not a token response.
const MAX_TOKEN_RESPONSE_BYTES: usize = 64 * 1024;
/// Entra ID tokens live about an hour; the cache never trusts a lifetime beyond a day.
const MAX_TOKEN_LIFETIME_SECONDS: u64 = 24 * 3600;

/// Why no token could be had.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuthError {
    /// The credentials themselves are wrong or unreadable: retrying will not help until
    /// someone fixes them.
    #[error("{0}")]
    Rejected(String),
    /// The token endpoint or Secrets Manager could not be reached or failed transiently.
    #[error("{0}")]
    Unavailable(String),
}

impl AuthError {
    /// Whether retrying cannot help until the credentials are fixed.
    pub fn is_permanent(&self) -> bool {
        matches!(self, AuthError::Rejected(_))
    }
}

/// What proves the client's identity at the token endpoint.
#[derive(Clone, Debug)]
pub enum ClientProof {
    /// A client secret.
    Secret(Secret),
    /// A signed JWT from another issuer (RFC 7523 client assertion), usable until
    /// `refresh_at`; `claims` names its issuer, subject and audience in messages.
    Assertion {
        token: Secret,
        refresh_at: Instant,
        claims: AssertionClaims,
    },
}

/// Client credentials as the token endpoint takes them.
#[derive(Clone, Debug)]
pub struct ClientCredentials {
    pub tenant_id: String,
    pub client_id: String,
    pub proof: ClientProof,
}

impl ClientCredentials {
    /// Whether they can still be sent: a secret until refused, an assertion until shortly
    /// before it expires.
    fn is_fresh(&self, now: Instant) -> bool {
        match &self.proof {
            ClientProof::Secret(_) => true,
            ClientProof::Assertion { refresh_at, .. } => now < *refresh_at,
        }
    }
}

impl From<AzureCredentials> for ClientCredentials {
    fn from(c: AzureCredentials) -> Self {
        ClientCredentials {
            tenant_id: c.tenant_id,
            client_id: c.client_id,
            proof: ClientProof::Secret(c.client_secret),
        }
    }
}

/// Where client credentials come from.
#[async_trait]
pub trait CredentialsLoader: Send + Sync {
    async fn load(&self) -> Result<ClientCredentials, AuthError>;
    /// Names the source in messages (never the secret).
    fn describe(&self) -> String;
}

/// Credentials given up front (environment variables, tests).
pub struct StaticCredentials(pub AzureCredentials);

#[async_trait]
impl CredentialsLoader for StaticCredentials {
    async fn load(&self) -> Result<ClientCredentials, AuthError> {
        Ok(self.0.clone().into())
    }

    fn describe(&self) -> String {
        "AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET".into()
    }
}

/// A Secrets Manager secret holding `{"tenant_id", "client_id", "client_secret"}`.
pub struct SecretsManagerCredentials {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
}

impl SecretsManagerCredentials {
    /// Credentials read from secret `secret_id` (name or ARN) through `client`.
    pub fn new(client: aws_sdk_secretsmanager::Client, secret_id: impl Into<String>) -> Self {
        SecretsManagerCredentials {
            client,
            secret_id: secret_id.into(),
        }
    }
}

#[async_trait]
impl CredentialsLoader for SecretsManagerCredentials {
    async fn load(&self) -> Result<ClientCredentials, AuthError> {
        let out = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .send()
            .await
            .map_err(|e| {
                let service = e.as_service_error();
                let not_usable = service.is_some_and(|s| {
                    s.is_resource_not_found_exception()
                        || s.is_decryption_failure()
                        || s.is_invalid_request_exception()
                        || s.is_invalid_parameter_exception()
                });
                // The SDK's error text names the operation and the service's reason; it
                // never contains the secret value (there is none on failure).
                let message = format!(
                    "reading Secrets Manager secret {}: {}",
                    self.secret_id,
                    aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
                );
                if not_usable {
                    AuthError::Rejected(message)
                } else {
                    AuthError::Unavailable(message)
                }
            })?;
        let text = out.secret_string().ok_or_else(|| {
            AuthError::Rejected(format!(
                "Secrets Manager secret {} has no string value (binary secrets are not supported)",
                self.secret_id
            ))
        })?;
        parse_secret(text)
            .map(ClientCredentials::from)
            .map_err(|m| {
                AuthError::Rejected(format!("Secrets Manager secret {}: {m}", self.secret_id))
            })
    }

    fn describe(&self) -> String {
        format!("Secrets Manager secret {}", self.secret_id)
    }
}

/// Parses the secret's JSON. Messages name fields only: a parser's own message could quote
/// part of the value.
pub fn parse_secret(text: &str) -> Result<AzureCredentials, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|_| {
        "is not JSON; expected {\"tenant_id\": ..., \"client_id\": ..., \"client_secret\": ...}"
            .to_string()
    })?;
    let field = |names: &[&str]| -> Result<String, String> {
        for name in names {
            match value.get(*name) {
                Some(serde_json::Value::String(s)) if !s.trim().is_empty() => {
                    return Ok(s.trim().to_string());
                }
                Some(_) => return Err(format!("field {name} must be a non-empty string")),
                None => {}
            }
        }
        Err(format!("field {} is missing", names[0]))
    };
    let tenant_id = field(&["tenant_id", "tenantId"])?;
    validate_tenant(&tenant_id).map_err(|m| format!("field tenant_id {m}"))?;
    Ok(AzureCredentials {
        tenant_id,
        client_id: field(&["client_id", "clientId"])?,
        client_secret: Secret::new(field(&["client_secret", "clientSecret"])?),
    })
}

#[derive(Clone)]
struct CachedToken {
    value: Arc<str>,
    refresh_at: Instant,
}

#[derive(Default)]
struct AuthState {
    credentials: Option<Arc<ClientCredentials>>,
    token: Option<CachedToken>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(deserialize_with = "number_or_string")]
    expires_in: u64,
}

#[derive(Deserialize, Default)]
struct TokenError {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
    #[serde(default)]
    error_codes: Vec<u64>,
}

fn number_or_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum N {
        Num(u64),
        Text(String),
    }
    match N::deserialize(d)? {
        N::Num(n) => Ok(n),
        N::Text(s) => s.parse().map_err(serde::de::Error::custom),
    }
}

/// Counters of the provider's work since it was built.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct AuthStats {
    pub token_requests: u64,
    pub credential_loads: u64,
}

/// Gets, caches and refreshes bearer tokens. One per process; cheap to share.
pub struct TokenProvider {
    http: reqwest::Client,
    authority_host: String,
    scope: String,
    loader: Arc<dyn CredentialsLoader>,
    state: Mutex<AuthState>,
    token_requests: AtomicU64,
    credential_loads: AtomicU64,
}

/// Token endpoint attempts per `token()` call for transient failures.
const TOKEN_ATTEMPTS: u32 = 3;

impl TokenProvider {
    pub fn new(
        http: reqwest::Client,
        authority_host: impl Into<String>,
        scope: impl Into<String>,
        loader: Arc<dyn CredentialsLoader>,
    ) -> Self {
        TokenProvider {
            http,
            authority_host: authority_host.into().trim_end_matches('/').to_string(),
            scope: scope.into(),
            loader,
            state: Mutex::new(AuthState::default()),
            token_requests: AtomicU64::new(0),
            credential_loads: AtomicU64::new(0),
        }
    }

    pub fn stats(&self) -> AuthStats {
        AuthStats {
            token_requests: self.token_requests.load(Ordering::Relaxed),
            credential_loads: self.credential_loads.load(Ordering::Relaxed),
        }
    }

    /// Forgets `token` if it is still the cached one (after a 401). Comparing first keeps
    /// parallel requests that all saw the same 401 from discarding a fresh token.
    pub async fn invalidate(&self, token: &str) {
        let mut state = self.state.lock().await;
        if state.token.as_ref().is_some_and(|t| &*t.value == token) {
            state.token = None;
        }
    }

    /// Forgets the credentials too, so the next token is requested with freshly read ones.
    pub async fn invalidate_credentials(&self) {
        let mut state = self.state.lock().await;
        state.token = None;
        state.credentials = None;
    }

    /// A valid bearer token, from the cache or the token endpoint. Callers wait on one
    /// another while a token is being fetched, so a burst of requests makes one fetch.
    pub async fn token(&self, deadline: Instant) -> Result<Arc<str>, AuthError> {
        let mut state = self.state.lock().await;
        if let Some(cached) = state
            .token
            .as_ref()
            .filter(|t| Instant::now() < t.refresh_at)
        {
            return Ok(cached.value.clone());
        }
        state.token = None;
        let mut reloaded = false;
        loop {
            let fresh = state
                .credentials
                .as_ref()
                .filter(|c| c.is_fresh(Instant::now()));
            let credentials = match fresh {
                Some(c) => c.clone(),
                None => {
                    self.credential_loads.fetch_add(1, Ordering::Relaxed);
                    let loaded = Arc::new(self.loader.load().await?);
                    state.credentials = Some(loaded.clone());
                    reloaded = true;
                    loaded
                }
            };
            match self.request_token(&credentials, deadline).await {
                Ok(token) => {
                    state.token = Some(token.clone());
                    return Ok(token.value);
                }
                // Cached credentials may have been rotated: read them once more.
                Err(e) if e.is_permanent() && !reloaded => {
                    tracing::info!(source = %self.loader.describe(),
                        "token request refused with cached credentials; reading them again");
                    state.credentials = None;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn request_token(
        &self,
        credentials: &ClientCredentials,
        deadline: Instant,
    ) -> Result<CachedToken, AuthError> {
        let url = format!(
            "{}/{}/oauth2/v2.0/token",
            self.authority_host, credentials.tenant_id
        );
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_id", credentials.client_id.as_str()),
            ("scope", self.scope.as_str()),
        ];
        match &credentials.proof {
            ClientProof::Secret(secret) => form.push(("client_secret", secret.expose())),
            ClientProof::Assertion { token, .. } => {
                form.push(("client_assertion_type", JWT_BEARER_ASSERTION));
                form.push(("client_assertion", token.expose()));
            }
        }
        let mut last_error = String::new();
        for attempt in 1..=TOKEN_ATTEMPTS {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining < Duration::from_millis(100) {
                break;
            }
            self.token_requests.fetch_add(1, Ordering::Relaxed);
            let started = Instant::now();
            let sent = self
                .http
                .post(&url)
                .form(&form)
                .timeout(remaining.min(Duration::from_secs(30)))
                .send()
                .await;
            let response = match sent {
                Ok(r) => r,
                Err(e) => {
                    // reqwest's error names the URL, which holds only the tenant id.
                    last_error = format!("token request to {url} failed: {}", error_chain(&e));
                    self.pause(attempt, None, deadline).await;
                    continue;
                }
            };
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let body = super::client::read_bounded(response, MAX_TOKEN_RESPONSE_BYTES).await;
            if status == 200 {
                let parsed: TokenResponse = serde_json::from_str(&body).map_err(|_| {
                    AuthError::Unavailable(format!(
                        "token endpoint {url} answered 200 without access_token/expires_in"
                    ))
                })?;
                // A lifetime beyond a day is the endpoint's mistake (or a hostile one's):
                // the token is asked for again after a day at most.
                let lifetime =
                    Duration::from_secs(parsed.expires_in.min(MAX_TOKEN_LIFETIME_SECONDS));
                // Refresh a little early so a request never leaves with a token about
                // to expire: 5 minutes, or a quarter of a short lifetime.
                let margin = (lifetime / 4).min(Duration::from_secs(300));
                return Ok(CachedToken {
                    value: Arc::from(parsed.access_token),
                    refresh_at: started + lifetime - margin,
                });
            }
            let error: TokenError = serde_json::from_str(&body).unwrap_or_default();
            let description: String = error.error_description.chars().take(300).collect();
            let mut message = format!(
                "token endpoint {url} answered {status} {}: {}",
                error.error, description
            );
            let assertion_problem = match &credentials.proof {
                ClientProof::Assertion { claims, .. } => {
                    explain_refusal(&error.error_codes, &description, claims)
                }
                ClientProof::Secret(_) => None,
            };
            if let Some(problem) = &assertion_problem {
                message = format!("{message}. {}", problem.hint);
                if problem.retry {
                    // A federated identity credential takes a while to reach every Entra
                    // ID instance after it is created: the refusal may not last.
                    last_error = message;
                    self.pause(attempt, None, deadline).await;
                    continue;
                }
            }
            match status {
                300..=399 => {
                    return Err(AuthError::Rejected(format!(
                        "token endpoint {url} answered {status}, a redirect, which is never \
                         followed (the client credentials would go to another origin): check {}",
                        "AZURE_AUTHORITY_HOST"
                    )));
                }
                400 | 401 | 403 => {
                    return Err(AuthError::Rejected(format!(
                        "{message} (credentials from {})",
                        self.loader.describe()
                    )));
                }
                _ => {
                    last_error = message;
                    self.pause(attempt, retry::retry_after(&headers), deadline)
                        .await;
                }
            }
        }
        Err(AuthError::Unavailable(if last_error.is_empty() {
            "no time left before the deadline to request a token".into()
        } else {
            last_error
        }))
    }

    async fn pause(&self, attempt: u32, asked: Option<Duration>, deadline: Instant) {
        if attempt == TOKEN_ATTEMPTS {
            return;
        }
        let wait = asked.unwrap_or_else(|| {
            retry::backoff(attempt, Duration::from_millis(200), Duration::from_secs(5))
        });
        let latest = deadline.saturating_duration_since(Instant::now());
        tokio::time::sleep(wait.min(latest)).await;
    }
}

/// An error and its causes on one line (reqwest hides the interesting part in `source`).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_json_is_read_without_echoing_values() {
        let c = parse_secret(r#"{"tenant_id":"t-1","client_id":"app","client_secret":"s3cr3t"}"#)
            .unwrap();
        assert_eq!(c.tenant_id, "t-1");
        assert_eq!(c.client_id, "app");
        assert_eq!(c.client_secret.expose(), "s3cr3t");
        let c = parse_secret(r#"{"tenantId":"t","clientId":"a","clientSecret":"b"}"#).unwrap();
        assert_eq!(c.client_id, "a");

        let e = parse_secret(r#"{"tenant_id":"t","client_id":"a"}"#).unwrap_err();
        assert!(e.contains("client_secret is missing"), "{e}");
        let e =
            parse_secret(r#"{"tenant_id":"t","client_id":"a","client_secret":12345}"#).unwrap_err();
        assert!(!e.contains("12345"), "{e}");
        let e = parse_secret("hunter2 not json").unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
        assert!(
            parse_secret(r#"{"tenant_id":"a/b","client_id":"a","client_secret":"x"}"#).is_err()
        );
    }
}

//! `AZURE_AUTH=aws-federation`: no secret anywhere. The function asks AWS STS for a signed
//! token about its own execution role (`GetWebIdentityToken`, IAM outbound identity
//! federation) and hands it to Entra ID as a client assertion; Entra ID accepts it when a
//! federated identity credential of the application (or user-assigned managed identity)
//! names the token's issuer, subject (the role ARN) and audience exactly.
//!
//! The AWS token lives a few minutes and is kept until shortly before it expires; the
//! Entra ID token it buys lives about an hour and is cached by the [`TokenProvider`]
//! as any other. Neither token reaches a log line or an error message: messages name the
//! token's issuer, subject and audience, which are not secret and are what an operator
//! has to compare with the federated identity credential.
//!
//! [`TokenProvider`]: super::auth::TokenProvider

use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use aws_sdk_sts::error::{DisplayErrorContext, ProvideErrorMetadata};

use super::assertion::read_claims;
use super::auth::{
    AuthError, ClientCredentials, ClientProof, CredentialsLoader, FederationSettings, Secret,
};

/// The audience Entra ID expects of an external token in Azure public cloud (US Gov:
/// `api://AzureADTokenExchangeUSGov`, China: `api://AzureADTokenExchangeChina`).
pub const DEFAULT_FEDERATION_AUDIENCE: &str = "api://AzureADTokenExchange";
/// The only algorithm of the two STS offers (RS256, ES384) that Entra ID verifies.
pub const SIGNING_ALGORITHM: &str = "RS256";
/// Lifetime asked of each AWS token: STS's default and the short end of what it allows
/// (60 to 3,600 seconds); the token is exchanged at once, so a longer one buys nothing.
pub const WEB_IDENTITY_TOKEN_SECONDS: i32 = 300;
/// An assertion is not sent when it has less than this left (clock skew, slow requests),
/// or a quarter of its lifetime when that is shorter.
const ASSERTION_MARGIN: Duration = Duration::from_secs(60);

/// Client assertions from `sts:GetWebIdentityToken` on the function's own credentials.
pub struct AwsFederationCredentials {
    sts: aws_sdk_sts::Client,
    settings: FederationSettings,
}

impl AwsFederationCredentials {
    /// Assertions for `settings` from `sts` (the regional STS endpoint of the function's
    /// configuration; `AWS_ENDPOINT_URL_STS` overrides it).
    pub fn new(sts: aws_sdk_sts::Client, settings: FederationSettings) -> Self {
        AwsFederationCredentials { sts, settings }
    }

    fn refusal(
        &self,
        e: &aws_sdk_sts::error::SdkError<
            aws_sdk_sts::operation::get_web_identity_token::GetWebIdentityTokenError,
        >,
    ) -> AuthError {
        let audience = &self.settings.audience;
        // The SDK's text names the operation, the code and AWS's reason; a failed call
        // carries no token.
        let detail = DisplayErrorContext(e);
        let Some(service) = e.as_service_error() else {
            return AuthError::Unavailable(format!(
                "sts:GetWebIdentityToken could not be called: {detail}"
            ));
        };
        if service.is_outbound_web_identity_federation_disabled_exception() {
            return AuthError::Rejected(format!(
                "outbound identity federation is not enabled in this AWS account: an \
                 administrator enables it once with `aws iam \
                 enable-outbound-web-identity-federation` (docs/azure.md) ({detail})"
            ));
        }
        match service.code() {
            Some("AccessDenied" | "AccessDeniedException") => AuthError::Rejected(format!(
                "the function's role may not call sts:GetWebIdentityToken for audience \
                 {audience}: allow the action with the condition sts:IdentityTokenAudience = \
                 {audience} (template.yaml does with AzureAuth=aws-federation) ({detail})"
            )),
            Some(
                "ValidationError"
                | "SessionDurationEscalationException"
                | "JWTPayloadSizeExceededException",
            ) => AuthError::Rejected(format!(
                "sts:GetWebIdentityToken refused the request: {detail}"
            )),
            _ => AuthError::Unavailable(format!("sts:GetWebIdentityToken failed: {detail}")),
        }
    }
}

#[async_trait]
impl CredentialsLoader for AwsFederationCredentials {
    async fn load(&self) -> Result<ClientCredentials, AuthError> {
        let asked_at = Instant::now();
        let out = self
            .sts
            .get_web_identity_token()
            .audience(&self.settings.audience)
            .signing_algorithm(SIGNING_ALGORITHM)
            .duration_seconds(WEB_IDENTITY_TOKEN_SECONDS)
            .send()
            .await
            .map_err(|e| self.refusal(&e))?;
        let token = out.web_identity_token().unwrap_or_default();
        if token.is_empty() {
            return Err(AuthError::Unavailable(
                "sts:GetWebIdentityToken answered without a WebIdentityToken".into(),
            ));
        }
        let claims = read_claims(token).ok_or_else(|| {
            AuthError::Unavailable(
                "sts:GetWebIdentityToken answered with a token that is not a JWT".into(),
            )
        })?;
        let lifetime = out
            .expiration()
            .and_then(|t| SystemTime::try_from(*t).ok())
            .map(|expires| {
                expires
                    .duration_since(SystemTime::now())
                    .unwrap_or_default()
            })
            .unwrap_or(Duration::from_secs(WEB_IDENTITY_TOKEN_SECONDS as u64));
        let margin = (lifetime / 4).min(ASSERTION_MARGIN);
        tracing::debug!(issuer = %claims.issuer, subject = %claims.subject,
            audience = %claims.audience, lifetime_s = lifetime.as_secs(),
            "new AWS web identity token");
        Ok(ClientCredentials {
            tenant_id: self.settings.tenant_id.clone(),
            client_id: self.settings.client_id.clone(),
            proof: ClientProof::Assertion {
                token: Secret::new(token),
                refresh_at: asked_at + lifetime - margin,
                claims,
            },
        })
    }

    fn describe(&self) -> String {
        format!(
            "AWS outbound identity federation (sts:GetWebIdentityToken, audience {}) for \
             client {} in tenant {}",
            self.settings.audience, self.settings.client_id, self.settings.tenant_id
        )
    }
}

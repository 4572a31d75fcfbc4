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
use base64::Engine as _;

use super::auth::{
    AssertionClaims, AuthError, ClientCredentials, ClientProof, CredentialsLoader,
    FederationSettings, Secret,
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

/// The issuer, subject and audience of a JWT, read without checking its signature (only
/// to name them in messages). `None` when it is not a JWT.
pub fn read_claims(jwt: &str) -> Option<AssertionClaims> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let text = |name: &str| match &value[name] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(items) => items
            .iter()
            .filter_map(|i| i.as_str())
            .collect::<Vec<_>>()
            .join(","),
        _ => String::new(),
    };
    Some(AssertionClaims {
        issuer: text("iss"),
        subject: text("sub"),
        audience: text("aud"),
    })
}

/// What a refusal of a client assertion means and whether asking again can help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssertionRefusal {
    /// What to fix, in words.
    pub hint: String,
    /// The refusal may not last (a new federated identity credential still propagating).
    pub retry: bool,
}

/// Entra ID's `AADSTS` codes of a refused client assertion, from `error_codes` or from the
/// description's `AADSTSnnnn:` prefix.
fn codes(error_codes: &[u64], description: &str) -> Vec<u64> {
    let mut codes = error_codes.to_vec();
    let mut rest = description;
    while let Some(at) = rest.find("AADSTS") {
        rest = &rest[at + 6..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if let Ok(code) = digits.parse() {
            codes.push(code);
        }
    }
    codes
}

/// Explains an Entra ID refusal of `claims`' assertion; `None` when it is about something
/// else (scope, tenant, application).
pub fn explain_refusal(
    error_codes: &[u64],
    description: &str,
    claims: &AssertionClaims,
) -> Option<AssertionRefusal> {
    let AssertionClaims {
        issuer,
        subject,
        audience,
    } = claims;
    let no_match = |what: &str| AssertionRefusal {
        hint: format!(
            "No federated identity credential matches the AWS token's {what} (issuer \
             {issuer}, subject {subject}, audience {audience}): the credential's issuer must \
             be the account's issuer URL (`aws iam get-outbound-web-identity-federation-info`), \
             its subject the function's role ARN and its audience {audience}, character for \
             character. A credential created in the last minutes may not have propagated \
             yet, so this is retried"
        ),
        retry: true,
    };
    for code in codes(error_codes, description) {
        let refusal = match code {
            700211 => no_match("issuer"),
            700212 => no_match("audience"),
            700213 => no_match("subject"),
            70021 => no_match("claims"),
            700024 => AssertionRefusal {
                hint: format!(
                    "The AWS token from {issuer} was expired or not yet valid when Entra ID \
                     checked it: a fresh one is asked for; if this persists, check the clock"
                ),
                retry: false,
            },
            700027 | 50027 | 5002738 => AssertionRefusal {
                hint: format!(
                    "The AWS token's signature does not verify against the keys {issuer} \
                     publishes (its /.well-known/openid-configuration and JWKS): the issuer \
                     URL of the federated identity credential must be the account's own"
                ),
                retry: false,
            },
            90061 | 90108 | 50126 => AssertionRefusal {
                hint: format!("Entra ID could not read the issuer's keys from {issuer}: retried"),
                retry: true,
            },
            _ => continue,
        };
        return Some(refusal);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> AssertionClaims {
        AssertionClaims {
            issuer: "https://abc.tokens.sts.global.api.aws".into(),
            subject: "arn:aws:iam::123456789012:role/fn".into(),
            audience: DEFAULT_FEDERATION_AUDIENCE.into(),
        }
    }

    #[test]
    fn claims_are_read_from_the_payload_only() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"iss":"https://i","sub":"arn:r","aud":["a","b"],"exp":1}"#);
        let c = read_claims(&format!("e30.{payload}.c2ln")).unwrap();
        assert_eq!(c.issuer, "https://i");
        assert_eq!(c.subject, "arn:r");
        assert_eq!(c.audience, "a,b");
        assert!(read_claims("not a jwt").is_none());
        assert!(read_claims("a.!!!.c").is_none());
    }

    #[test]
    fn each_refusal_says_what_to_fix() {
        let c = claims();
        let subject = explain_refusal(&[700213], "", &c).unwrap();
        assert!(subject.retry);
        assert!(subject.hint.contains("subject"), "{}", subject.hint);
        assert!(subject.hint.contains(&c.subject), "{}", subject.hint);
        assert!(subject.hint.contains("propagated"), "{}", subject.hint);
        let issuer = explain_refusal(&[], "AADSTS700211: No matching ...", &c).unwrap();
        assert!(issuer.hint.contains("issuer"));
        let expired = explain_refusal(&[700024], "", &c).unwrap();
        assert!(!expired.retry);
        assert!(expired.hint.contains("expired"));
        let signature = explain_refusal(&[700027], "", &c).unwrap();
        assert!(signature.hint.contains("signature"));
        assert!(explain_refusal(&[700016], "AADSTS700016: app", &c).is_none());
    }
}

//! Client assertions as Entra ID sees them: the claims a federated identity credential
//! must match, read from a JWT without checking it, and what each refusal of one means.

use base64::Engine as _;

/// The identifying claims of a client assertion: not secret, and what a federated identity
/// credential must match exactly.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AssertionClaims {
    /// `iss`: for AWS, the account's outbound federation issuer URL.
    pub issuer: String,
    /// `sub`: for AWS, the role ARN.
    pub subject: String,
    /// `aud`, several joined by `,`.
    pub audience: String,
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
    use crate::sink::sentinel::DEFAULT_FEDERATION_AUDIENCE;

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

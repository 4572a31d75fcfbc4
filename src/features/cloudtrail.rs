//! CloudTrail (AWSCloudTrail columns).

use super::catalog::{self, Verb};
use super::common::{self, AddressClass, boolean, text};
use super::{F, Slots};
use crate::record::Record;

pub fn extract(r: &Record, s: &mut Slots<'_>) {
    let event_name = text(r, "EventName").unwrap_or("");
    let service = catalog::service_of(text(r, "EventSource").unwrap_or(""));
    let params = text(r, "RequestParameters");

    s.flag(F::CtReadOnly, boolean(r, "ReadOnly") == Some(true));
    match catalog::verb_of(event_name) {
        Verb::Read => s.set(F::CtVerbRead, 1.0),
        Verb::Write => s.set(F::CtVerbWrite, 1.0),
        Verb::Destructive => s.set(F::CtVerbDestructive, 1.0),
        Verb::Other => {}
    }
    s.flag(F::CtSecurityService, catalog::is_security_service(service));

    let tactics = catalog::tactics(service, event_name, params);
    s.flag(F::CtDefenseEvasion, tactics.defense_evasion);
    s.flag(F::CtCredentialAccess, tactics.credential_access);
    s.flag(F::CtPersistence, tactics.persistence);
    s.flag(F::CtExposure, tactics.exposure);
    s.flag(F::CtExecution, tactics.execution);
    s.flag(F::CtImpact, tactics.impact);
    s.flag(F::CtDiscovery, tactics.discovery);

    let identity = text(r, "UserIdentityType").unwrap_or("");
    let invoked_by = text(r, "UserIdentityInvokedBy");
    match identity {
        "IAMUser" => s.set(F::CtIamUser, 1.0),
        "Root" => s.set(F::CtRoot, 1.0),
        "AssumedRole" | "Role" => s.set(F::CtAssumedRole, 1.0),
        "AWSService" | "AWSAccount" => s.set(F::CtAwsService, 1.0),
        "FederatedUser" | "SAMLUser" | "WebIdentityUser" | "IdentityCenterUser" => {
            s.set(F::CtFederated, 1.0)
        }
        _ => {}
    }
    if invoked_by.is_some() {
        s.set(F::CtAwsService, 1.0);
    }

    let key = text(r, "UserIdentityAccessKeyId").unwrap_or("");
    s.flag(F::CtLongTermKey, key.starts_with("AKIA"));

    let human = matches!(identity, "IAMUser" | "Root");
    let additional = text(r, "AdditionalEventData").unwrap_or("");
    let console_login = event_name == "ConsoleLogin";
    // Federated (SSO) sign-ins report `MFAUsed: No` because the identity provider did
    // the MFA; only IAM users and root sign in with AWS's own MFA.
    let mfa_missing = human
        && ((console_login && additional.contains("\"MFAUsed\":\"No\""))
            || boolean(r, "SessionMfaAuthenticated") == Some(false));
    s.flag(F::CtNoMfa, mfa_missing);

    let event_type = text(r, "EventTypeName").unwrap_or("");
    let user_agent = text(r, "UserAgent").unwrap_or("");
    // AWS's own origin markers only; client tool names are never looked at.
    let console = matches!(event_type, "AwsConsoleSignIn" | "AwsConsoleAction")
        || (user_agent.starts_with("console.") && user_agent.ends_with(".amazonaws.com"))
        || user_agent == "signin.amazonaws.com";
    s.flag(F::CtConsole, console);

    s.set(
        F::CtRegionRarity,
        region_rarity(text(r, "AWSRegion").unwrap_or("")),
    );
    s.flag(F::CtDataEvent, boolean(r, "ManagementEvent") == Some(false));
    let own_account = text(r, "RecipientAccountId");
    s.flag(
        F::CtOtherAccount,
        (tactics.exposure || tactics.persistence)
            && params.is_some_and(|p| catalog::grants_outside(p, own_account)),
    );

    match text(r, "SourceIpAddress").map(common::classify_address) {
        Some(AddressClass::AwsService) => s.set(F::CtAwsInternalSource, 1.0),
        Some(class) if class.is_public() => s.set(F::SourcePublic, 1.0),
        _ => {}
    }
    if invoked_by.is_some() {
        s.set(F::CtAwsInternalSource, 1.0);
        s.set(F::SourcePublic, 0.0);
    }

    let error = text(r, "ErrorCode");
    let login_failed = (console_login
        && text(r, "ResponseElements").is_some_and(|t| t.contains("Failure")))
        || text(r, "ErrorMessage").is_some_and(|m| m.contains("Failed authentication"));
    if error.is_some() || login_failed {
        s.set(F::Failure, 1.0);
    }
    if let Some(code) = error {
        match error_class(code) {
            ErrorClass::Denied => s.set(F::Denied, 1.0),
            ErrorClass::Throttled => s.set(F::Throttled, 1.0),
            ErrorClass::Server => s.set(F::ServerError, 1.0),
            ErrorClass::Other => {}
        }
    }
    if login_failed {
        s.set(F::Denied, 1.0);
    }

    if tactics.exposure
        && service == "ec2"
        && params.is_some_and(|p| sensitive_port_in_params(p) && catalog::opens_to_world(p))
    {
        s.set(F::SensitivePort, 1.0);
    }
    // `payload_size` stays zero for CloudTrail: the size of the request parameters says
    // more about the API than about intent, and synthetic training data cannot reproduce
    // every API's parameters faithfully enough to learn from it.
}

enum ErrorClass {
    Denied,
    Throttled,
    Server,
    Other,
}

fn error_class(code: &str) -> ErrorClass {
    let code = code.strip_prefix("Client.").unwrap_or(code);
    match code {
        "AccessDenied"
        | "AccessDeniedException"
        | "UnauthorizedOperation"
        | "UnauthorizedAccess"
        | "UnauthorizedException"
        | "AuthFailure"
        | "InvalidClientTokenId"
        | "SignatureDoesNotMatch"
        | "NotAuthorized"
        | "NotAuthorizedException"
        | "Forbidden"
        | "ExpiredToken"
        | "InvalidAccessKeyId" => ErrorClass::Denied,
        "ThrottlingException"
        | "Throttling"
        | "RequestLimitExceeded"
        | "TooManyRequestsException"
        | "SlowDown"
        | "RateExceeded"
        | "ProvisionedThroughputExceededException" => ErrorClass::Throttled,
        "InternalError"
        | "InternalFailure"
        | "InternalServerError"
        | "InternalServerException"
        | "ServiceUnavailable"
        | "ServiceUnavailableException"
        | "ServiceFailure"
        | "Unavailable" => ErrorClass::Server,
        _ => ErrorClass::Other,
    }
}

fn sensitive_port_in_params(params: &str) -> bool {
    // `"fromPort":22` style; checking each number after a port key keeps this cheap.
    let mut rest = params;
    while let Some(pos) = rest.find("Port\"") {
        let after = rest[pos + 5..].trim_start_matches([':', ' ']);
        let digits: &str = &after[..after
            .bytes()
            .position(|b| !b.is_ascii_digit())
            .unwrap_or(after.len())];
        if let Ok(port) = digits.parse::<i64>()
            && common::is_sensitive_port(port)
        {
            return true;
        }
        rest = &rest[pos + 5..];
    }
    false
}

/// A static prior of how often accounts use a region: the home regions most workloads
/// live in score low, other real regions higher, and unknown names highest. A per-account
/// history belongs to the pattern stage, not to a stateless feature.
pub fn region_rarity(region: &str) -> f32 {
    match region {
        "" => 0.0,
        "us-east-1" => 0.0,
        "us-east-2" | "us-west-2" | "eu-west-1" | "eu-central-1" | "ap-southeast-1"
        | "ap-southeast-2" | "ap-northeast-1" | "eu-west-2" => 0.25,
        r if is_real_region(r) => 0.6,
        _ => 1.0,
    }
}

fn is_real_region(r: &str) -> bool {
    const REGIONS: &[&str] = &[
        "us-west-1",
        "af-south-1",
        "ap-east-1",
        "ap-east-2",
        "ap-south-1",
        "ap-south-2",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-southeast-3",
        "ap-southeast-4",
        "ap-southeast-5",
        "ap-southeast-7",
        "ca-central-1",
        "ca-west-1",
        "eu-west-3",
        "eu-central-2",
        "eu-north-1",
        "eu-south-1",
        "eu-south-2",
        "il-central-1",
        "me-south-1",
        "me-central-1",
        "mx-central-1",
        "sa-east-1",
        "us-gov-east-1",
        "us-gov-west-1",
        "cn-north-1",
        "cn-northwest-1",
    ];
    REGIONS.contains(&r)
}

//! What CloudTrail API calls mean for security: verbs, security services, and the calls
//! that MITRE ATT&CK's cloud matrix (IaaS, identity provider, SaaS) and AWS's own
//! security guidance name as techniques. The lists are written from that public
//! knowledge, not derived from any evaluation data; they name API calls, never clients.

/// Technique groups an API call belongs to (a call may belong to several).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tactics {
    /// Turns off or weakens logging, monitoring or guardrails.
    pub defense_evasion: bool,
    /// Reads or creates credentials or secrets.
    pub credential_access: bool,
    /// Creates identities, keys or permissions that persist.
    pub persistence: bool,
    /// Shares or exposes resources outside the account.
    pub exposure: bool,
    /// Runs code or opens a remote session on compute.
    pub execution: bool,
    /// Destroys data or hijacks paid services.
    pub impact: bool,
    /// Enumerates identities, permissions or secrets.
    pub discovery: bool,
}

impl Tactics {
    /// Whether the call is in any group but discovery.
    pub fn any(&self) -> bool {
        self.defense_evasion
            || self.credential_access
            || self.persistence
            || self.exposure
            || self.execution
            || self.impact
    }
}

/// `iam` from `iam.amazonaws.com`.
pub fn service_of(event_source: &str) -> &str {
    event_source
        .strip_suffix(".amazonaws.com")
        .unwrap_or(event_source)
}

/// Drops API version suffixes such as Lambda's `UpdateFunctionCode20150331v2`.
pub fn base_event_name(name: &str) -> &str {
    let bytes = name.as_bytes();
    let mut end = bytes.len();
    // Optional `v<digits>` after the date.
    let mut i = end;
    while i > 0 && bytes[i - 1].is_ascii_digit() {
        i -= 1;
    }
    if i < end && i > 0 && bytes[i - 1] == b'v' {
        end = i - 1;
    }
    let mut digits = 0;
    while end > 0 && bytes[end - 1].is_ascii_digit() {
        end -= 1;
        digits += 1;
    }
    if digits == 8 && end > 0 {
        &name[..end]
    } else {
        name
    }
}

/// What an API call does, from its name's prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// Describe, list, get and the like.
    Read,
    /// Creates or changes resources.
    Write,
    /// Deletes, stops or disables something.
    Destructive,
    /// None of the known prefixes.
    Other,
}

/// The verb of a CloudTrail `eventName`.
pub fn verb_of(event_name: &str) -> Verb {
    const READ: &[&str] = &[
        "Describe", "List", "Get", "Head", "Lookup", "Search", "Check", "Query", "Scan",
        "BatchGet", "Select", "Preview", "Validate", "Estimate", "Test", "View",
    ];
    const DESTRUCTIVE: &[&str] = &[
        "Delete",
        "Remove",
        "Detach",
        "Disable",
        "Stop",
        "Terminate",
        "Deregister",
        "Revoke",
        "Disassociate",
        "Cancel",
        "Leave",
        "Purge",
        "Deactivate",
        "Reject",
        "Unsubscribe",
        "Schedule",
        "BatchDelete",
        "Decline",
    ];
    const WRITE: &[&str] = &[
        "Create",
        "Put",
        "Update",
        "Modify",
        "Attach",
        "Add",
        "Set",
        "Associate",
        "Enable",
        "Start",
        "Run",
        "Tag",
        "Untag",
        "Register",
        "Import",
        "Copy",
        "Upload",
        "Authorize",
        "Replace",
        "Reset",
        "Change",
        "Send",
        "Invoke",
        "Publish",
        "Accept",
        "Allocate",
        "Apply",
        "Assign",
        "Attest",
        "Batch",
        "Restore",
        "Reboot",
        "Rotate",
        "Activate",
        "Grant",
        "Move",
        "Restart",
        "Resume",
        "Upgrade",
        "Write",
        "Execute",
    ];
    let starts = |list: &[&str]| {
        list.iter().any(|p| {
            event_name.starts_with(p)
                && event_name[p.len()..]
                    .bytes()
                    .next()
                    .is_none_or(|b| !b.is_ascii_lowercase())
        })
    };
    if starts(READ) {
        Verb::Read
    } else if starts(DESTRUCTIVE) {
        Verb::Destructive
    } else if starts(WRITE) {
        Verb::Write
    } else {
        Verb::Other
    }
}

/// Services whose calls change who can do what, or what is watched.
pub fn is_security_service(service: &str) -> bool {
    matches!(
        service,
        "iam"
            | "sts"
            | "kms"
            | "cloudtrail"
            | "config"
            | "guardduty"
            | "securityhub"
            | "organizations"
            | "sso"
            | "sso-directory"
            | "identitystore"
            | "access-analyzer"
            | "detective"
            | "macie2"
            | "inspector2"
            | "secretsmanager"
            | "signin"
            | "rolesanywhere"
            | "ram"
            | "acm-pca"
            | "cognito-idp"
            | "cognito-identity"
            | "wafv2"
            | "waf"
            | "network-firewall"
            | "route53resolver"
            | "shield"
            | "fms"
    )
}

/// The technique groups of a call. `request_parameters` refines calls whose meaning
/// depends on their arguments (SSM parameter reads with decryption, user-data reads,
/// attribute changes that share with other accounts).
pub fn tactics(service: &str, event_name: &str, request_parameters: Option<&str>) -> Tactics {
    let name = base_event_name(event_name);
    let params = request_parameters.unwrap_or("");
    let mut t = Tactics::default();
    match (service, name) {
        // Logging, monitoring and guardrails switched off or narrowed.
        (
            "cloudtrail",
            "StopLogging"
            | "DeleteTrail"
            | "UpdateTrail"
            | "PutEventSelectors"
            | "DeleteEventDataStore"
            | "StopEventDataStoreIngestion",
        )
        | (
            "guardduty",
            "DeleteDetector"
            | "UpdateDetector"
            | "DeleteMembers"
            | "DisassociateFromMasterAccount"
            | "DisassociateFromAdministratorAccount"
            | "DeletePublishingDestination"
            | "CreateIPSet"
            | "UpdateIPSet"
            | "ArchiveFindings"
            | "CreateFilter",
        )
        | (
            "config",
            "StopConfigurationRecorder"
            | "DeleteConfigurationRecorder"
            | "DeleteDeliveryChannel"
            | "DeleteConfigRule"
            | "DeleteConformancePack",
        )
        | (
            "securityhub",
            "DisableSecurityHub"
            | "BatchDisableStandards"
            | "DisableImportFindingsForProduct"
            | "DeleteActionTarget",
        )
        | ("ec2", "DeleteFlowLogs" | "DisableEbsEncryptionByDefault")
        | (
            "logs",
            "DeleteLogGroup" | "DeleteLogStream" | "DeleteSubscriptionFilter" | "DeleteDestination",
        )
        | (
            "route53resolver",
            "DeleteResolverQueryLogConfig" | "DisassociateResolverQueryLogConfig",
        )
        | ("organizations", "LeaveOrganization" | "DisablePolicyType" | "DetachPolicy")
        | ("access-analyzer", "DeleteAnalyzer")
        | ("macie2", "DisableMacie")
        | ("inspector2", "Disable")
        | ("detective", "DeleteGraph")
        | ("monitoring", "DeleteAlarms" | "DisableAlarmActions")
        | ("wafv2", "DeleteLoggingConfiguration" | "DeleteWebACL")
        | ("iam", "DeactivateMFADevice" | "DeleteVirtualMFADevice")
        | ("s3", "PutBucketLogging" | "DeleteBucketPolicy") => t.defense_evasion = true,
        _ => {}
    }
    match (service, name) {
        ("secretsmanager", "GetSecretValue" | "BatchGetSecretValue")
        | ("ec2", "GetPasswordData")
        | (
            "iam",
            "CreateAccessKey"
            | "CreateLoginProfile"
            | "UpdateLoginProfile"
            | "CreateServiceSpecificCredential"
            | "UploadSSHPublicKey",
        )
        | ("sts", "GetFederationToken")
        | ("ec2-instance-connect", "SendSSHPublicKey" | "SendSerialConsoleSSHPublicKey") => {
            t.credential_access = true
        }
        ("ssm", "GetParameter" | "GetParameters" | "GetParametersByPath")
            if contains_true(params, "withDecryption") =>
        {
            t.credential_access = true
        }
        ("ec2", "DescribeInstanceAttribute") if params.contains("userData") => {
            t.credential_access = true
        }
        _ => {}
    }
    match (service, name) {
        (
            "iam",
            "CreateUser"
            | "CreateRole"
            | "AttachUserPolicy"
            | "AttachRolePolicy"
            | "AttachGroupPolicy"
            | "PutUserPolicy"
            | "PutRolePolicy"
            | "PutGroupPolicy"
            | "AddUserToGroup"
            | "UpdateAssumeRolePolicy"
            | "CreatePolicyVersion"
            | "SetDefaultPolicyVersion"
            | "CreateAccessKey"
            | "CreateLoginProfile"
            | "UpdateLoginProfile"
            | "CreateOpenIDConnectProvider"
            | "CreateSAMLProvider"
            | "UpdateSAMLProvider"
            | "AddRoleToInstanceProfile",
        )
        | ("rolesanywhere", "CreateTrustAnchor" | "CreateProfile" | "UpdateTrustAnchor")
        | (
            "lambda",
            "AddPermission"
            | "UpdateFunctionCode"
            | "PublishLayerVersion"
            | "AddLayerVersionPermission",
        )
        | ("sts", "GetFederationToken")
        | ("ec2", "CreateKeyPair" | "ImportKeyPair")
        | (
            "sso",
            "CreatePermissionSet"
            | "AttachManagedPolicyToPermissionSet"
            | "PutInlinePolicyToPermissionSet",
        ) => t.persistence = true,
        ("lambda", "UpdateFunctionConfiguration") if params.contains("ayers") => {
            t.persistence = true
        }
        _ => {}
    }
    match (service, name) {
        ("ec2", "ModifySnapshotAttribute" | "ModifyImageAttribute")
        | ("rds", "ModifyDBSnapshotAttribute" | "ModifyDBClusterSnapshotAttribute")
        | (
            "s3",
            "PutBucketPolicy"
            | "PutBucketAcl"
            | "PutObjectAcl"
            | "DeleteBucketPublicAccessBlock"
            | "PutBucketReplication",
        )
        | ("kms", "PutKeyPolicy" | "CreateGrant")
        | ("ecr", "SetRepositoryPolicy")
        | ("ram", "CreateResourceShare")
        | ("lambda", "AddPermission")
        | ("organizations", "LeaveOrganization") => t.exposure = true,
        ("ec2", "AuthorizeSecurityGroupIngress") if opens_to_world(params) => t.exposure = true,
        _ => {}
    }
    match (service, name) {
        ("ssm", "SendCommand" | "StartSession" | "ResumeSession")
        | ("ec2", "EnableSerialConsoleAccess" | "ModifyInstanceAttribute")
        | ("ec2-instance-connect", "SendSSHPublicKey" | "SendSerialConsoleSSHPublicKey")
        | ("lambda", "UpdateFunctionCode") => t.execution = true,
        ("ec2", "RunInstances") if params.contains("userData") => t.execution = true,
        _ => {}
    }
    match (service, name) {
        ("kms", "ScheduleKeyDeletion" | "DisableKey")
        | ("s3", "DeleteBucket" | "PutBucketLifecycle" | "PutBucketLifecycleConfiguration")
        | (
            "rds",
            "DeleteDBInstance" | "DeleteDBCluster" | "DeleteDBSnapshot" | "DeleteDBClusterSnapshot",
        )
        | ("backup", "DeleteBackupVault" | "DeleteRecoveryPoint" | "DeleteBackupPlan")
        | ("ec2", "DeleteVolume")
        // Enabling foundation-model access in an account that did not use it is the
        // usual first step of model hijacking ("LLMjacking").
        | (
            "bedrock",
            "PutUseCaseForModelAccess"
            | "CreateFoundationModelAgreement"
            | "PutFoundationModelEntitlement",
        ) => t.impact = true,
        _ => {}
    }
    match (service, name) {
        ("sts", "GetCallerIdentity")
        | (
            "iam",
            "GetAccountAuthorizationDetails"
            | "ListUsers"
            | "ListRoles"
            | "ListAccessKeys"
            | "ListAttachedUserPolicies"
            | "ListAttachedRolePolicies"
            | "ListUserPolicies"
            | "ListRolePolicies"
            | "GetAccountSummary"
            | "ListPolicies"
            | "ListGroupsForUser",
        )
        | ("secretsmanager", "ListSecrets")
        | ("ssm", "DescribeParameters")
        | ("s3", "ListBuckets" | "GetBucketPolicy" | "GetBucketAcl")
        | ("cloudtrail", "DescribeTrails" | "GetTrailStatus")
        | ("guardduty", "ListDetectors")
        | ("organizations", "ListAccounts" | "DescribeOrganization")
        | ("bedrock", "ListFoundationModels" | "GetFoundationModelAvailability") => {
            t.discovery = true
        }
        _ => {}
    }
    t
}

/// `"key":true` somewhere in a JSON text (either spacing).
fn contains_true(params: &str, key: &str) -> bool {
    let mut rest = params;
    while let Some(pos) = rest.find(key) {
        let after = rest[pos + key.len()..].trim_start_matches(['"', ' ', ':']);
        if after.starts_with("true") {
            return true;
        }
        rest = &rest[pos + key.len()..];
    }
    false
}

/// An ingress rule for every address.
pub fn opens_to_world(params: &str) -> bool {
    params.contains("0.0.0.0/0") || params.contains("::/0")
}

/// Whether the arguments grant something to another account or to everyone: an account
/// id other than the recipient's, the `all` group, or a `*` principal.
pub fn grants_outside(params: &str, own_account: Option<&str>) -> bool {
    if params.contains("\"all\"")
        || params.contains("\"Principal\":\"*\"")
        || params.contains("\"AWS\":\"*\"")
        || params.contains("\"principal\":\"*\"")
        || params.contains("AllUsers")
        || params.contains("AuthenticatedUsers")
    {
        return true;
    }
    // A 12-digit run that is not part of a longer number and not our own account.
    let bytes = params.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            if i - start == 12 {
                let prev_ok = start == 0 || !bytes[start - 1].is_ascii_alphanumeric();
                let next_ok = i == bytes.len() || !bytes[i].is_ascii_alphanumeric();
                let id = &params[start..i];
                if prev_ok && next_ok && Some(id) != own_account {
                    return true;
                }
            }
        } else {
            i += 1;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_api_version_suffixes() {
        assert_eq!(
            base_event_name("UpdateFunctionCode20150331v2"),
            "UpdateFunctionCode"
        );
        assert_eq!(base_event_name("AddPermission20150331"), "AddPermission");
        assert_eq!(base_event_name("GetObject"), "GetObject");
        assert_eq!(base_event_name("Ec2V2"), "Ec2V2");
    }

    #[test]
    fn verbs() {
        for (name, verb) in [
            ("DescribeInstances", Verb::Read),
            ("ListBuckets", Verb::Read),
            ("StopLogging", Verb::Destructive),
            ("DeleteTrail", Verb::Destructive),
            ("CreateUser", Verb::Write),
            ("AssumeRole", Verb::Other),
            // `Getaway` is not `Get` + something.
            ("Getaway", Verb::Other),
            ("ConsoleLogin", Verb::Other),
        ] {
            assert_eq!(verb_of(name), verb, "{name}");
        }
    }

    #[test]
    fn technique_groups() {
        assert!(tactics("cloudtrail", "StopLogging", None).defense_evasion);
        assert!(tactics("cloudtrail", "StopLogging", None).any());
        assert!(!tactics("ec2", "DescribeInstances", None).any());
        assert!(
            tactics(
                "ssm",
                "GetParameters",
                Some(r#"{"names":["a"],"withDecryption":true}"#)
            )
            .credential_access
        );
        assert!(
            !tactics(
                "ssm",
                "GetParameters",
                Some(r#"{"names":["a"],"withDecryption": false}"#)
            )
            .credential_access
        );
        assert!(tactics("lambda", "UpdateFunctionCode20150331v2", None).execution);
        assert!(
            tactics(
                "ec2",
                "AuthorizeSecurityGroupIngress",
                Some(r#"{"ipPermissions":{"items":[{"ipRanges":{"items":[{"cidrIp":"0.0.0.0/0"}]}}]}}"#)
            )
            .exposure
        );
        assert!(tactics("sts", "GetCallerIdentity", None).discovery);
        assert!(!tactics("sts", "GetCallerIdentity", None).any());
    }

    #[test]
    fn sharing_outside_the_account() {
        let own = Some("111122223333");
        assert!(grants_outside(
            r#"{"createVolumePermission":{"add":{"items":[{"userId":"444455556666"}]}}}"#,
            own
        ));
        assert!(!grants_outside(
            r#"{"createVolumePermission":{"add":{"items":[{"userId":"111122223333"}]}}}"#,
            own
        ));
        assert!(grants_outside(
            r#"{"launchPermission":{"add":{"items":[{"group":"all"}]}}}"#,
            own
        ));
        assert!(!grants_outside(r#"{"size":1234567890123}"#, own));
    }
}

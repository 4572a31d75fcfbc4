use super::*;

/// The vector for one record.
pub(crate) fn extract(record: &Record) -> FeatureVector {
    Extractor::new().extract(record)
}
use crate::record::Value;
use crate::record::time::parse_iso8601;

fn cloudtrail(event_source: &str, event_name: &str, identity: &str) -> Record {
    let mut r = Record::new(LogType::CloudTrail);
    r.time = parse_iso8601("2024-07-31T13:06:24Z");
    r.push("EventSource", event_source);
    r.push("EventName", event_name);
    r.push("UserIdentityType", identity);
    r.push("AWSRegion", "us-east-1");
    r.push("SourceIpAddress", "203.0.113.7");
    r.push(
        "UserAgent",
        "aws-cli/2.15.30 Python/3.11.8 Linux/6.5 exe/x86_64.ubuntu.22",
    );
    r.push("UserIdentityAccessKeyId", "AKIAEXAMPLEKEY000001");
    r.push("ReadOnly", false);
    r.push("ManagementEvent", true);
    r
}

fn at(v: &FeatureVector, f: F) -> f32 {
    v[f as usize]
}

/// Checks that each of `features` is fully set (1.0) in `v`.
fn assert_set(v: &FeatureVector, features: &[F]) {
    for f in features {
        assert_eq!(at(v, *f), 1.0, "{f:?}");
    }
}

#[test]
fn schema_is_consistent() {
    assert_eq!(F::ALL.len(), N_FEATURES);
    for (i, f) in F::ALL.iter().enumerate() {
        assert_eq!(*f as usize, i);
    }
    let mut names: Vec<_> = FEATURES.iter().map(|f| f.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), N_FEATURES, "feature names are unique");
    for (i, family) in Family::ALL.iter().enumerate() {
        assert_eq!(family.index(), i);
        assert_eq!(family.slot() as usize, FAMILY_OFFSET + i);
    }
    assert!(FeatureSchema::current().check_compatible().is_ok());
    let mut old = FeatureSchema::current();
    old.version += 1;
    assert!(old.check_compatible().is_err());
    let mut renamed = FeatureSchema::current();
    renamed.names[3] = "something_else".into();
    let err = renamed.check_compatible().unwrap_err();
    assert!(err.contains("slot 3"), "{err}");
}

#[test]
fn every_log_type_extracts_finite_values_in_range() {
    for log_type in LogType::ALL {
        let mut r = Record::new(log_type);
        r.time = parse_iso8601("2024-01-06T03:00:00Z");
        let v = extract(&r);
        assert!(v.iter().all(|x| x.is_finite() && (-1.0..=1.0).contains(x)));
        assert_eq!(at(&v, Family::of(log_type).slot()), 1.0);
        assert_eq!(at(&v, F::Weekend), 1.0, "2024-01-06 is a Saturday");
    }
}

#[test]
fn cloudtrail_defense_evasion_by_a_user() {
    let v = extract(&cloudtrail(
        "cloudtrail.amazonaws.com",
        "StopLogging",
        "IAMUser",
    ));
    assert_set(
        &v,
        &[
            F::CtDefenseEvasion,
            F::CtVerbDestructive,
            F::CtSecurityService,
            F::CtIamUser,
            F::CtLongTermKey,
            F::SourcePublic,
        ],
    );
    let read = extract(&cloudtrail(
        "ec2.amazonaws.com",
        "DescribeInstances",
        "AssumedRole",
    ));
    assert_eq!(at(&read, F::CtVerbRead), 1.0);
    assert_eq!(at(&read, F::CtDefenseEvasion), 0.0);
}

#[test]
fn user_agent_tool_names_do_not_change_features() {
    let mut a = cloudtrail("iam.amazonaws.com", "CreateUser", "IAMUser");
    let mut b = a.clone();
    a.set("UserAgent", "stratus-red-team_1234");
    b.set(
        "UserAgent",
        "Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux",
    );
    assert_eq!(extract(&a), extract(&b));
    let mut c = a.clone();
    c.set("UserAgent", "console.amazonaws.com");
    assert_eq!(at(&extract(&c), F::CtConsole), 1.0);
}

#[test]
fn cloudtrail_errors_and_sharing() {
    let mut r = cloudtrail("ec2.amazonaws.com", "ModifySnapshotAttribute", "IAMUser");
    r.push("RecipientAccountId", "111122223333");
    r.push(
        "RequestParameters",
        r#"{"snapshotId":"snap-1","createVolumePermission":{"add":{"items":[{"userId":"444455556666"}]}}}"#,
    );
    r.push("ErrorCode", "Client.UnauthorizedOperation");
    let v = extract(&r);
    assert_set(
        &v,
        &[F::CtExposure, F::CtOtherAccount, F::Failure, F::Denied],
    );
    assert_eq!(at(&v, F::Size), 0.0);
}

#[test]
fn console_login_without_mfa() {
    let mut r = cloudtrail("signin.amazonaws.com", "ConsoleLogin", "IAMUser");
    r.set("UserIdentityAccessKeyId", "");
    r.push("EventTypeName", "AwsConsoleSignIn");
    r.push(
        "AdditionalEventData",
        r#"{"LoginTo":"https://console","MobileVersion":"No","MFAUsed":"No"}"#,
    );
    r.push("ResponseElements", r#"{"ConsoleLogin":"Success"}"#);
    let v = extract(&r);
    assert_set(&v, &[F::CtNoMfa, F::CtConsole]);
    assert_eq!(at(&v, F::CtLongTermKey), 0.0);
    assert_eq!(at(&v, F::Failure), 0.0);
}

#[test]
fn vpc_flow_rejected_ssh_probe() {
    let r = Record::with_columns(
        LogType::VpcFlow,
        [
            ("SrcAddr", "198.51.100.9".into()),
            ("DstAddr", "10.0.1.5".into()),
            ("DstPort", Value::Int(22)),
            ("Protocol", Value::Int(6)),
            ("Packets", Value::Int(1)),
            ("Bytes", Value::Int(40)),
            ("Action", "REJECT".into()),
            ("TcpFlags", Value::Int(2)),
        ],
    );
    let v = extract(&r);
    assert_set(
        &v,
        &[
            F::NetReject,
            F::SensitivePort,
            F::NetInbound,
            F::NetSynOnly,
            F::SourcePublic,
        ],
    );
}

#[test]
fn alb_slow_server_error() {
    let r = Record::with_columns(
        LogType::Alb,
        [
            ("ElbStatusCode", Value::Int(504)),
            ("TargetStatusCode", "-".into()),
            ("RequestProcessingTime", "0.001".into()),
            ("TargetProcessingTime", "-1".into()),
            ("ResponseProcessingTime", "-1".into()),
            (
                "RequestRaw",
                "GET https://shop.example.com:443/api/cart?id=1 HTTP/1.1".into(),
            ),
            ("ClientIp", "203.0.113.50".into()),
        ],
    );
    let v = extract(&r);
    assert_set(&v, &[F::Http5xx, F::HttpTargetFailure, F::ServerError]);
    let mut slow = Record::new(LogType::Alb);
    slow.push("ElbStatusCode", 200i64);
    slow.push("TargetProcessingTime", "12.5");
    let v = extract(&slow);
    assert!(at(&v, F::Latency) > 0.8);
}

#[test]
fn text_levels_and_words() {
    let mut r = Record::new(LogType::Text);
    r.push(
        "Message",
        "2024-01-01 ERROR db connection timed out after 30000 ms",
    );
    let v = extract(&r);
    assert_eq!(at(&v, F::TextError), 1.0);
    assert_eq!(at(&v, F::TextPerfWords), 0.5);
    assert_eq!(at(&v, F::Failure), 1.0);
    let mut ssh = Record::new(LogType::CloudWatch);
    ssh.push(
        "Message",
        "sshd[811]: Failed password for root from 203.0.113.4 port 4242 ssh2",
    );
    let v = extract(&ssh);
    assert!(at(&v, F::TextSecurityWords) > 0.0);
    assert_eq!(at(&v, F::Denied), 1.0);
}

#[test]
fn findings_and_dns() {
    let mut gd = Record::new(LogType::GuardDuty);
    gd.push("Severity", 8i64);
    gd.push(
        "ActivityType",
        "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
    );
    let v = extract(&gd);
    assert_eq!(at(&v, F::GdHighImpact), 1.0);
    assert!(at(&v, F::Severity) > 0.8);

    let mut dns = Record::new(LogType::Route53Resolver);
    dns.push(
        "QueryName",
        "k3j5h2g8f9d7s6a5q4w3e2r1t0y9u8i7.tunnel.example.net.",
    );
    dns.push("QueryType", "TXT");
    dns.push("Rcode", "NOERROR");
    let v = extract(&dns);
    assert!(at(&v, F::DnsEntropy) > 0.8);
    assert_eq!(at(&v, F::DnsUnusualType), 1.0);

    let waf = Record::with_columns(
        LogType::Waf,
        [
            ("Action", "BLOCK"),
            ("TerminatingRuleId", "AWS-AWSManagedRulesSQLiRuleSet"),
            ("TerminatingRuleType", "MANAGED_RULE_GROUP"),
            ("Uri", "/login"),
            ("Args", "user=admin'%20or%201=1--"),
        ],
    );
    let v = extract(&waf);
    assert_eq!(at(&v, F::WafBlocked), 1.0);
    assert!(at(&v, F::HttpAttackMarkers) > 0.0);

    let fw = Record::with_columns(
        LogType::NetworkFirewallAlert,
        [
            ("Severity", "1"),
            ("AlertAction", "blocked"),
            ("Category", "A Network Trojan was detected"),
            ("DestPort", "3389"),
        ],
    );
    let v = extract(&fw);
    assert_set(&v, &[F::Severity, F::FwBlocked, F::SensitivePort]);
}

#[test]
fn pattern_slot_follows_the_pattern_stage() {
    assert_eq!(
        PATTERN_FEATURES,
        crate::patterns::PATTERN_FEATURE_NAMES.len()
    );
    for (i, name) in crate::patterns::PATTERN_FEATURE_NAMES.iter().enumerate() {
        assert_eq!(FEATURES[PATTERN_OFFSET + i].name, *name);
    }
    fn patterns(_: &Record) -> [f32; PATTERN_FEATURES] {
        let mut v = [0.0; PATTERN_FEATURES];
        v[0] = 1.0;
        v[6] = f32::NAN;
        v[10] = 0.5;
        v
    }
    let r = Record::new(LogType::Text);
    // A record the pattern stage never saw has an all-zero slot.
    let plain = Extractor::new().extract(&r);
    assert!(plain[PATTERN_OFFSET..].iter().all(|v| *v == 0.0));
    let with = Extractor::with_pattern_features(patterns).extract(&r);
    assert_eq!(with[PATTERN_OFFSET], 1.0);
    assert_eq!(with[PATTERN_OFFSET + 6], 0.0, "non-finite values become 0");
    assert_eq!(with[PATTERN_OFFSET + 10], 0.5);
    let mut analyzed = Record::new(LogType::Text);
    analyzed.push(
        "PatternFlags",
        serde_json::value::RawValue::from_string(r#"["new"]"#.to_string()).unwrap(),
    );
    let v = Extractor::new().extract(&analyzed);
    assert_eq!(
        v[F::PatternNew as usize],
        crate::patterns::pattern_features(&analyzed)[0]
    );
    let batch = Extractor::new().extract_batch(&[r.clone(), r]);
    assert_eq!(batch.len(), 2 * N_FEATURES);
}

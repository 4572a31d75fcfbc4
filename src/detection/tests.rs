use super::*;
use crate::record::Value;

fn record(event_name: &str, columns: &[(&'static str, &str)]) -> Record {
    let mut r = Record::new(LogType::CloudTrail);
    r.push("EventSource", "s3.amazonaws.com");
    r.push("EventName", event_name);
    for (name, value) in columns {
        r.push(name, *value);
    }
    r
}

const PUBLIC_POLICY: &str = r#"
title: Bucket policy for everyone
id: 11111111-1111-4111-8111-111111111111
logsource: {product: aws, service: cloudtrail}
detection:
    selection:
        eventSource: s3.amazonaws.com
        eventName: PutBucketPolicy
        requestParameters.bucketPolicy.Statement.Principal: '\*'
    condition: selection
level: high
"#;

const ROOT_ANY: &str = r#"
title: Root activity
id: 22222222-2222-4222-8222-222222222222
logsource: {product: aws, service: cloudtrail}
detection:
    selection:
        userIdentity.type: Root
    filter:
        eventType: AwsServiceEvent
    condition: selection and not filter
level: medium
"#;

fn pack(rules: &[&str]) -> RulePack {
    RulePack::from_files(
        rules
            .iter()
            .enumerate()
            .map(|(i, r)| (format!("r{i}.yml"), r.to_string())),
    )
    .unwrap()
}

#[test]
fn rules_see_the_record_as_cloudtrail_wrote_it() {
    let pack = pack(&[PUBLIC_POLICY, ROOT_ANY]);
    assert_eq!(
        pack.unindexed().count(),
        0,
        "the root rule names no call but an identity type"
    );
    let public = record(
        "PutBucketPolicy",
        &[(
            "RequestParameters",
            r#"{"bucketName":"b","bucketPolicy":{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject"}]}}"#,
        )],
    );
    let ids: Vec<&str> = pack
        .matches(&public)
        .iter()
        .map(|r| r.id.as_str())
        .collect();
    assert_eq!(ids, ["11111111-1111-4111-8111-111111111111"]);

    let private = record(
        "PutBucketPolicy",
        &[(
            "RequestParameters",
            r#"{"bucketPolicy":{"Statement":[{"Principal":{"AWS":"arn:aws:iam::444455556666:root"}}]}}"#,
        )],
    );
    assert!(pack.matches(&private).is_empty());

    let root = record("ListBuckets", &[("UserIdentityType", "Root")]);
    let found = pack.matches(&root);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].level, Level::Medium);
    let mut service = record("ListBuckets", &[("UserIdentityType", "Root")]);
    service.push("EventTypeName", "AwsServiceEvent");
    assert!(pack.matches(&service).is_empty());
    let user = record("ListBuckets", &[("UserIdentityType", "IAMUser")]);
    assert!(pack.matches(&user).is_empty());
}

#[test]
fn a_path_through_an_array_matches_any_element() {
    let pack = pack(&[PUBLIC_POLICY]);
    let statements = record(
        "PutBucketPolicy",
        &[(
            "RequestParameters",
            r#"{"bucketPolicy":{"Version":"2012-10-17","Statement":[{"Principal":{"AWS":"arn:aws:iam::444455556666:root"}},{"Effect":"Allow","Principal":"*","Action":"s3:GetObject"}]}}"#,
        )],
    );
    assert_eq!(pack.matches(&statements).len(), 1);
    let event = event::cloudtrail_json(&statements);
    assert_eq!(event::variants(event).len(), 2);
    // Lists of plain values too (the engine never matches a list), multiplied together.
    let plain = serde_json::json!({"a": [1, 2, 3], "b": [{"c": 1}, {"c": 2}]});
    assert_eq!(event::variants(plain).len(), 6);
    let tagged = record(
        "PutBucketPolicy",
        &[(
            "RequestParameters",
            r#"{"bucketPolicy":{"Statement":{"Effect":"Allow","Principal":["arn:aws:iam::444455556666:root","*"]}}}"#,
        )],
    );
    assert_eq!(pack.matches(&tagged).len(), 1);
}

#[test]
fn events_keep_only_the_fields_rules_read_so_arrays_elsewhere_do_not_multiply() {
    let mut tree = event::FieldTree::default();
    tree.insert("eventName");
    tree.insert("requestParameters.containerDefinitions.privileged");
    let noisy = serde_json::json!({
        "eventName": "RegisterTaskDefinition",
        "userAgent": "x",
        "requestParameters": {"containerDefinitions": [
            {"privileged": false, "environment": (0..12).map(|i| serde_json::json!({"name": i})).collect::<Vec<_>>(),
             "portMappings": [1, 2, 3]},
            {"privileged": true, "secrets": [1, 2]}
        ]}
    });
    let pruned = tree.prune(noisy);
    assert!(pruned.get("userAgent").is_none());
    let variants = event::variants(pruned);
    assert_eq!(variants.len(), 2);
    assert_eq!(
        variants[1]["requestParameters"]["containerDefinitions"]["privileged"],
        true
    );
}

#[test]
fn only_cloudtrail_records_are_evaluated() {
    let pack = pack(&[ROOT_ANY]);
    let mut other = Record::new(LogType::VpcFlow);
    other.push("UserIdentityType", "Root");
    assert!(pack.matches(&other).is_empty());
}

#[test]
fn nested_identity_and_flags_come_back_under_their_cloudtrail_names() {
    let mut r = record("ConsoleLogin", &[("SessionIssuerUserName", "Admin")]);
    r.push("SessionMfaAuthenticated", Value::Bool(false));
    r.push("ReadOnly", Value::Bool(false));
    r.push(
        "AdditionalFields",
        r#"{"sessionCredentialFromConsole":"true"}"#,
    );
    let json = event::cloudtrail_json(&r);
    assert_eq!(
        json["userIdentity"]["sessionContext"]["sessionIssuer"]["userName"],
        "Admin"
    );
    assert_eq!(
        json["userIdentity"]["sessionContext"]["attributes"]["mfaAuthenticated"],
        "false"
    );
    assert_eq!(json["readOnly"], false);
    assert_eq!(json["sessionCredentialFromConsole"], "true");
}

#[test]
fn a_rule_is_indexed_only_when_every_way_to_match_names_a_call() {
    let indexed = |detection: &str| {
        index::event_names(&format!(
            "title: t\nlogsource: {{product: aws, service: cloudtrail}}\ndetection:\n{detection}"
        ))
    };
    assert_eq!(
        indexed("    sel:\n        eventName: [A, B]\n    condition: sel"),
        Some(vec!["A".to_string(), "B".to_string()])
    );
    // Another conjunct may be unbounded when one is bounded.
    assert_eq!(
        indexed(
            "    sel:\n        eventName: A\n    status_1:\n        errorCode: x\n    status_2:\n        errorCode: y\n    condition: sel and 1 of status_*"
        ),
        Some(vec!["A".to_string()])
    );
    // An alternative without a name could match anything.
    let either = "    sel:\n        eventName: A\n    other:\n        userIdentity.type: Root\n    condition: sel or other";
    assert_eq!(indexed(either), None);
    // Neither is it bound by identity: the first alternative may be anyone.
    let by_identity = |detection: &str| {
        index::identity_types(&format!(
            "title: t\nlogsource: {{product: aws, service: cloudtrail}}\ndetection:\n{detection}"
        ))
    };
    assert_eq!(by_identity(either), None);
    assert_eq!(
        by_identity(
            "    sel:\n        userIdentity.type: Root\n    filter:\n        eventType: AwsServiceEvent\n    condition: sel and not filter"
        ),
        Some(vec!["Root".to_string()])
    );
    assert_eq!(
        indexed("    sel:\n        eventName: A\n    condition: not sel"),
        None
    );
    assert_eq!(
        indexed("    sel:\n        eventName|startswith: Delete\n    condition: sel"),
        None
    );
    assert_eq!(
        indexed(
            "    sel:\n        eventName: A\n    f:\n        errorCode: x\n    condition: sel and not f"
        ),
        Some(vec!["A".to_string()])
    );
    assert_eq!(
        indexed("    sel:\n        eventName: A\n    condition: (sel)"),
        None
    );
}

#[test]
fn a_bad_rule_refuses_the_pack_and_says_which() {
    let windows = PUBLIC_POLICY.replace("product: aws", "product: windows");
    let err = RulePack::from_files([("bad.yml".to_string(), windows)]).unwrap_err();
    assert!(err.to_string().contains("bad.yml"), "{err}");
    let err = RulePack::from_files([
        ("a.yml".to_string(), PUBLIC_POLICY.to_string()),
        ("b.yml".to_string(), PUBLIC_POLICY.to_string()),
    ])
    .unwrap_err();
    assert!(matches!(err, RuleError::DuplicateId { .. }), "{err}");
    let err =
        RulePack::from_files([("x.yml".to_string(), "detection: [".to_string())]).unwrap_err();
    assert!(err.to_string().starts_with("rule x.yml"), "{err}");
}

#[test]
fn the_embedded_pack_loads_and_indexes_its_rules() {
    let pack = RulePack::embedded();
    assert!(pack.len() >= 30, "{} rules", pack.len());
    let unindexed: Vec<&str> = pack.unindexed().map(|r| r.title.as_str()).collect();
    assert!(
        unindexed.len() <= 3,
        "rules run on every call: {unindexed:?}"
    );
}

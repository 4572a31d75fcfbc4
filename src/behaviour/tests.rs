use super::*;
use chrono::TimeZone;

fn call(at: DateTime<Utc>, name: &str, source: &str) -> Record {
    let mut r = Record::new(LogType::CloudTrail);
    r.time = Some(at);
    r.push("EventSource", source);
    r.push("EventName", name);
    r.push("UserIdentityType", "IAMUser");
    r.push("UserIdentityArn", "arn:aws:iam::111122223333:user/alice");
    r.push("SourceIpAddress", "198.51.100.20");
    r.push("UserAgent", "aws-cli/2.15.30 md/awscrt#0.19.19");
    r.push("AWSRegion", "us-east-1");
    r.push("UserIdentityAccessKeyId", "AKIAEXAMPLEALICEKEY0");
    r
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap()
}

/// Two days of the same few calls, every 10 minutes in office hours.
fn routine(b: &mut Behaviour) {
    let mut records = Vec::new();
    for day in 0..2 {
        for slot in 0..48 {
            let at = start() + Duration::days(day) + Duration::minutes(10 * slot);
            let name = ["DescribeInstances", "ListBuckets", "GetObject"][slot as usize % 3];
            let source = ["ec2", "s3", "s3"][slot as usize % 3];
            records.push(call(at, name, &format!("{source}.amazonaws.com")));
        }
    }
    b.analyze(&mut records);
}

fn flags(b: &mut Behaviour, mut record: Record) -> Vec<Flag> {
    b.analyze(std::slice::from_mut(&mut record));
    flags_of(&record).unwrap()
}

#[test]
fn a_warm_principal_gets_novelty_flags_and_a_cold_one_none() {
    let mut b = Behaviour::new(BehaviourConfig::default());
    // Cold: the first call of anything is not news.
    let first = flags(
        &mut b,
        call(start(), "GetSecretValue", "secretsmanager.amazonaws.com"),
    );
    assert_eq!(first, [Flag::WarmingUp]);
    routine(&mut b);
    let at = start() + Duration::days(2) + Duration::hours(1);
    // Warm, and routine: no flag at all.
    assert!(flags(&mut b, call(at, "DescribeInstances", "ec2.amazonaws.com")).is_empty());
    let mut odd = call(at, "ListUsers", "iam.amazonaws.com");
    odd.set("SourceIpAddress", "203.0.113.9");
    odd.set("UserAgent", "Boto3/1.34.69 md/Botocore#1.34.69");
    odd.set("AWSRegion", "ap-southeast-2");
    odd.set("UserIdentityAccessKeyId", "AKIAEXAMPLENEWKEY000");
    let got = flags(&mut b, odd);
    for f in [
        Flag::NewApi,
        Flag::NewService,
        Flag::NewAddress,
        Flag::NewClient,
        Flag::NewRegion,
        Flag::NewAccessKey,
    ] {
        assert!(got.contains(&f), "{f:?} in {got:?}");
    }
    // At 3 a.m., never seen before in 100 calls or more.
    routine(&mut b);
    let night = start() + Duration::days(2) + Duration::hours(18);
    assert!(
        flags(&mut b, call(night, "ListBuckets", "s3.amazonaws.com")).contains(&Flag::OffHours)
    );
}

#[test]
fn bursts_of_secret_reads_discovery_and_denials() {
    let mut b = Behaviour::new(BehaviourConfig::default());
    routine(&mut b);
    let at = start() + Duration::days(2) + Duration::hours(2);
    let reads: Vec<Vec<Flag>> = (0..4)
        .map(|i| {
            flags(
                &mut b,
                call(
                    at + Duration::seconds(i),
                    "GetSecretValue",
                    "secretsmanager.amazonaws.com",
                ),
            )
        })
        .collect();
    assert!(!reads[1].contains(&Flag::CredentialBurst));
    assert!(reads[2].contains(&Flag::CredentialBurst) && reads[3].contains(&Flag::CredentialBurst));

    let names = [
        "ListRoles",
        "ListPolicies",
        "GetAccountAuthorizationDetails",
        "ListUsers",
        "ListGroups",
        "ListAccessKeys",
    ];
    let got: Vec<Vec<Flag>> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            flags(
                &mut b,
                call(
                    at + Duration::seconds(30 + i as i64),
                    n,
                    "iam.amazonaws.com",
                ),
            )
        })
        .collect();
    assert!(!got[3].contains(&Flag::DiscoveryBurst));
    assert!(got[4].contains(&Flag::DiscoveryBurst), "{got:?}");

    let denied: Vec<Vec<Flag>> = (0..5)
        .map(|i| {
            let mut r = call(
                at + Duration::seconds(60 + i),
                "ListFunctions",
                "lambda.amazonaws.com",
            );
            r.push("ErrorCode", "AccessDenied");
            flags(&mut b, r)
        })
        .collect();
    assert!(denied[4].contains(&Flag::DeniedBurst) && !denied[3].contains(&Flag::DeniedBurst));
}

#[test]
fn a_principal_that_reads_secrets_all_day_has_no_credential_burst() {
    let mut b = Behaviour::new(BehaviourConfig::default());
    let mut records: Vec<Record> = (0..200)
        .map(|i| {
            call(
                start() + Duration::minutes(i),
                "GetSecretValue",
                "secretsmanager.amazonaws.com",
            )
        })
        .collect();
    b.analyze(&mut records);
    assert!(
        !flags_of(&records[199])
            .unwrap()
            .contains(&Flag::CredentialBurst)
    );
}

#[test]
fn roles_are_followed_across_sessions_and_services_are_not_principals() {
    let mut r = Record::new(LogType::CloudTrail);
    r.push("UserIdentityType", "AssumedRole");
    r.push(
        "UserIdentityArn",
        "arn:aws:sts::111122223333:assumed-role/Deploy/session-1",
    );
    r.push("SessionIssuerArn", "arn:aws:iam::111122223333:role/Deploy");
    assert_eq!(
        principal_of(&r).unwrap(),
        "arn:aws:iam::111122223333:role/Deploy"
    );
    let mut s = Record::new(LogType::CloudTrail);
    s.push("UserIdentityType", "AWSService");
    assert_eq!(principal_of(&s), None);
}

#[test]
fn histories_merge_as_concurrent_functions_learn() {
    let config = BehaviourConfig::default();
    let mut a = Behaviour::new(config.clone());
    let mut b = Behaviour::new(config.clone());
    routine(&mut a);
    let mut other = vec![call(start(), "ListUsers", "iam.amazonaws.com")];
    b.analyze(&mut other);
    let mut stored = BehaviourDb::default();
    stored.merge(&a.take_delta(), &config);
    stored.merge(&b.take_delta(), &config);
    let alice = stored
        .principal("arn:aws:iam::111122223333:user/alice")
        .unwrap();
    assert_eq!(alice.events(), 97);
    assert_eq!(alice.apis.len(), 4);
    let json = serde_json::to_vec(&stored).unwrap();
    assert_eq!(BehaviourDb::from_json(&json).unwrap(), stored);
    let mut future = stored.clone();
    future.version = VERSION + 1;
    assert!(BehaviourDb::from_json(&serde_json::to_vec(&future).unwrap()).is_err());
}

#[test]
fn the_least_recently_active_principals_go_first() {
    let config = BehaviourConfig {
        max_principals: 2,
        ..BehaviourConfig::default()
    };
    let mut b = Behaviour::new(config);
    for (i, user) in ["a", "b", "c"].iter().enumerate() {
        let mut r = call(
            start() + Duration::minutes(i as i64),
            "ListBuckets",
            "s3.amazonaws.com",
        );
        r.set(
            "UserIdentityArn",
            format!("arn:aws:iam::111122223333:user/{user}"),
        );
        b.analyze(std::slice::from_mut(&mut r));
    }
    assert_eq!(b.view().len(), 2);
    assert!(
        b.view()
            .principal("arn:aws:iam::111122223333:user/a")
            .is_none()
    );
}

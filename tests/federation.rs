//! `AZURE_AUTH=aws-federation` with real parts: the real `aws-sdk-sts` client calls the STS
//! stand-in (`GetWebIdentityToken`, reached by an endpoint override), whose RS256 token
//! goes as a client assertion to the emulator's token endpoint, which verifies it like
//! Entra ID (signature against the issuer's JWKS, issuer, subject, audience, expiry).
//! Every fault: a clear error, no row delivered, lost or dead-lettered, and neither token
//! in the message; once fixed, every row exactly once. The Lambda end to end and the
//! templates are at the end.

use std::time::{Duration, Instant};

use s3_sentinel_connector::{
    CredentialServices, DEFAULT_FEDERATION_AUDIENCE, DeadLetter, Delivery, EmulatorOptions,
    FederatedCredential, Row, RunningEmulator, RunningSts, SentinelClient, SentinelDelivery,
    StsBehaviour, StsEmulator, StsOptions, StsRefusal, vars,
};

use crate::delivery_support::*;

pub const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/s3-sentinel-connector-function";

pub async fn start_sts() -> RunningSts {
    StsEmulator::new(StsOptions {
        role_arn: ROLE_ARN.into(),
        ..StsOptions::default()
    })
    .start("127.0.0.1:0".parse().unwrap())
    .await
    .expect("STS stand-in starts")
}

/// The federated identity credential that trusts `sts`'s tokens for the function's role.
pub fn trusting(sts: &RunningSts) -> FederatedCredential {
    FederatedCredential {
        issuer: sts.issuer(),
        subject: ROLE_ARN.into(),
        audience: DEFAULT_FEDERATION_AUDIENCE.into(),
    }
}

/// The real STS client with its endpoint overridden to the stand-in.
async fn sts_client(sts: &RunningSts) -> aws_sdk_sts::Client {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(sts.url())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .load()
        .await;
    aws_sdk_sts::Client::new(&config)
}

struct Setup {
    sts: RunningSts,
    emulator: RunningEmulator,
    delivery: SentinelDelivery,
    dead_letter_dir: tempfile::TempDir,
}

impl Setup {
    async fn new(options: EmulatorOptions, trust: bool) -> Setup {
        let sts = start_sts().await;
        let emulator = start_emulator(EmulatorOptions {
            client_id: Some(CLIENT_ID.into()),
            federated_credentials: if trust { vec![trusting(&sts)] } else { vec![] },
            ..options
        })
        .await;
        let settings = sentinel_config(
            &emulator.url(),
            &[
                (vars::AUTH, "aws-federation"),
                (vars::CLIENT_SECRET, ""),
                (vars::MAX_ATTEMPTS, "2"),
            ],
        );
        let client = SentinelClient::with_credentials(
            &settings,
            CredentialServices {
                sts: Some(sts_client(&sts).await),
                ..CredentialServices::default()
            },
        )
        .unwrap();
        let dead_letter_dir = tempfile::tempdir().unwrap();
        Setup {
            delivery: SentinelDelivery {
                client,
                dead_letter: Some(DeadLetter::dir(dead_letter_dir.path())),
                rejects: None,
            },
            sts,
            emulator,
            dead_letter_dir,
        }
    }

    fn client(&self) -> &SentinelClient {
        &self.delivery.client
    }

    fn dead_lettered_files(&self) -> usize {
        walk(self.dead_letter_dir.path())
    }

    /// Neither the AWS tokens nor the Entra ID tokens issued so far appear in `text`.
    fn assert_no_token_in(&self, text: &str) {
        assert_no_token(
            text,
            &self.sts.issued_tokens(),
            &self.emulator.issued_tokens(),
        );
    }
}

fn walk(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| {
                    if e.path().is_dir() {
                        walk(&e.path())
                    } else {
                        1
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

/// Fails when any token, or the signature or payload part of an AWS token, is in `text`.
pub fn assert_no_token(text: &str, aws_tokens: &[String], entra_tokens: &[String]) {
    for token in aws_tokens {
        for part in std::iter::once(token.as_str()).chain(token.split('.').skip(1)) {
            assert!(
                !text.contains(part),
                "an AWS token (part) leaked into: {text}"
            );
        }
    }
    for token in entra_tokens {
        assert!(
            !text.contains(token.as_str()),
            "an Entra ID token leaked into: {text}"
        );
    }
}

fn far() -> Instant {
    Instant::now() + Duration::from_secs(60)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_from_the_functions_aws_identity_buys_the_entra_token() {
    let s = Setup::new(EmulatorOptions::default(), true).await;
    let first = cloudtrail_rows(300, "s3://logs/fed-1.json.gz", 61);
    s.delivery
        .deliver("fed-1", first.clone(), far())
        .await
        .unwrap();
    let second = cloudtrail_rows(200, "s3://logs/fed-2.json.gz", 62);
    s.delivery
        .deliver("fed-2", second.clone(), far())
        .await
        .unwrap();

    let sts = s.sts.stats();
    assert_eq!(sts.tokens_issued, 1, "the AWS token is asked for once");
    assert!(
        sts.jwks_reads >= 1,
        "the token endpoint read the issuer's keys"
    );
    let stats = s.emulator.stats();
    assert_eq!(stats.assertions_accepted, 1);
    assert_eq!(stats.tokens_issued, 1, "the Entra ID token is cached");
    assert_eq!(s.client().auth().stats().credential_loads, 1);
    let mut all = first;
    all.extend(second);
    assert_exactly_once(&s.emulator.rows("Custom-AWSCloudTrail"), &all);
}

/// A fault of one side, its fix, and what the refusal must say.
struct Case {
    name: &'static str,
    break_it: fn(&Setup),
    fix: fn(&Setup),
    /// Entra ID's error code, when the token endpoint refuses (none when STS does).
    code: Option<u64>,
    says: &'static [&'static str],
}

fn credential_with(s: &Setup, change: fn(&mut FederatedCredential)) {
    let mut credential = trusting(&s.sts);
    change(&mut credential);
    s.emulator.set_federated_credentials(vec![credential]);
}

fn trust(s: &Setup) {
    s.emulator.set_federated_credentials(vec![trusting(&s.sts)]);
}

fn heal_sts(s: &Setup) {
    s.sts.set_behaviour(StsBehaviour::default());
}

const CASES: &[Case] = &[
    Case {
        name: "wrong audience",
        break_it: |s| credential_with(s, |c| c.audience = "api://AzureADTokenExchangeUSGov".into()),
        fix: trust,
        code: Some(700212),
        says: &["audience", DEFAULT_FEDERATION_AUDIENCE, "propagated"],
    },
    Case {
        name: "wrong subject",
        break_it: |s| {
            credential_with(s, |c| {
                c.subject = "arn:aws:iam::123456789012:role/other".into()
            })
        },
        fix: trust,
        code: Some(700213),
        says: &["subject", ROLE_ARN],
    },
    Case {
        name: "unknown issuer",
        break_it: |s| {
            credential_with(s, |c| {
                c.issuer = "https://0000.tokens.sts.global.api.aws".into()
            })
        },
        fix: trust,
        code: Some(700211),
        says: &["issuer", "get-outbound-web-identity-federation-info"],
    },
    Case {
        name: "expired",
        break_it: |s| {
            s.sts.set_behaviour(StsBehaviour {
                issue_expired: true,
                ..StsBehaviour::default()
            })
        },
        fix: heal_sts,
        code: Some(700024),
        says: &["expired"],
    },
    Case {
        name: "bad signature",
        break_it: |s| {
            s.sts.set_behaviour(StsBehaviour {
                sign_with_unpublished_key: true,
                ..StsBehaviour::default()
            })
        },
        fix: heal_sts,
        code: Some(700027),
        says: &["signature", "JWKS"],
    },
    Case {
        name: "outbound federation not enabled",
        break_it: |s| {
            s.sts.set_behaviour(StsBehaviour {
                refuse: Some(StsRefusal::FederationDisabled),
                ..StsBehaviour::default()
            })
        },
        fix: heal_sts,
        code: None,
        says: &["enable-outbound-web-identity-federation"],
    },
    Case {
        name: "no sts:GetWebIdentityToken permission",
        break_it: |s| {
            s.sts.set_behaviour(StsBehaviour {
                refuse: Some(StsRefusal::AccessDenied),
                ..StsBehaviour::default()
            })
        },
        fix: heal_sts,
        code: None,
        says: &["sts:GetWebIdentityToken", "sts:IdentityTokenAudience"],
    },
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_refusal_says_what_to_fix_and_no_row_is_lost_sent_or_dead_lettered() {
    for (n, case) in CASES.iter().enumerate() {
        let s = Setup::new(EmulatorOptions::default(), true).await;
        (case.break_it)(&s);
        let object = format!("s3://logs/fault-{n}.json.gz");
        let rows: Vec<Row> = cloudtrail_rows(150, &object, 70 + n as u64);
        let error = s
            .delivery
            .deliver(&object, rows.clone(), far())
            .await
            .expect_err(case.name);
        let text = error.to_string();
        for words in case.says {
            assert!(
                text.contains(words),
                "{}: {words:?} not in: {text}",
                case.name
            );
        }
        assert!(error.accepted.is_empty(), "{}", case.name);
        assert!(
            s.emulator.rows("Custom-AWSCloudTrail").is_empty(),
            "{}",
            case.name
        );
        assert_eq!(
            s.dead_lettered_files(),
            0,
            "{}: auth failures wait",
            case.name
        );
        let stats = s.emulator.stats();
        match case.code {
            Some(code) => assert!(
                stats.assertions_refused.get(&code).copied().unwrap_or(0) >= 1,
                "{}: {:?}",
                case.name,
                stats.assertions_refused
            ),
            None => assert_eq!(stats.token_requests_refused, 0, "{}", case.name),
        }
        s.assert_no_token_in(&text);

        // Fixed: the rows that waited arrive, once.
        (case.fix)(&s);
        s.delivery
            .deliver(&object, rows.clone(), far())
            .await
            .unwrap_or_else(|e| panic!("{} after the fix: {e}", case.name));
        assert_exactly_once(&s.emulator.rows("Custom-AWSCloudTrail"), &rows);
        assert_eq!(s.dead_lettered_files(), 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_credential_not_yet_propagated_is_retried() {
    let s = Setup::new(
        EmulatorOptions {
            federation_propagation: Duration::from_millis(1500),
            ..EmulatorOptions::default()
        },
        true,
    )
    .await;
    let rows = cloudtrail_rows(100, "s3://logs/fed-new.json.gz", 80);
    let mut settings = sentinel_config(
        &s.emulator.url(),
        &[(vars::AUTH, "aws-federation"), (vars::CLIENT_SECRET, "")],
    );
    settings.delivery.max_attempts = 8;
    let client = SentinelClient::with_credentials(
        &settings,
        CredentialServices {
            sts: Some(sts_client(&s.sts).await),
            ..CredentialServices::default()
        },
    )
    .unwrap();
    let started = Instant::now();
    let report = client.send(rows.clone(), far()).await;
    assert!(report.is_complete(), "{report:?}");
    assert!(started.elapsed() >= Duration::from_millis(1500));
    let stats = s.emulator.stats();
    assert!(stats.assertions_refused.get(&700211).copied().unwrap_or(0) >= 1);
    assert_eq!(stats.assertions_accepted, 1);
    assert_exactly_once(&s.emulator.rows("Custom-AWSCloudTrail"), &rows);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aws_token_that_expired_between_two_entra_refreshes_is_replaced_first() {
    // Entra ID tokens of 2 s (refreshed after 1.5 s) bought with AWS tokens of 1 s: by the
    // second refresh the cached AWS token is stale and must not be sent.
    let s = Setup::new(
        EmulatorOptions {
            token_ttl: Duration::from_secs(2),
            ..EmulatorOptions::default()
        },
        true,
    )
    .await;
    s.sts.set_behaviour(StsBehaviour {
        lifetime_seconds: Some(1),
        ..StsBehaviour::default()
    });
    let first = cloudtrail_rows(100, "s3://logs/fed-a.json.gz", 81);
    s.delivery.deliver("a", first.clone(), far()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let second = cloudtrail_rows(100, "s3://logs/fed-b.json.gz", 82);
    s.delivery
        .deliver("b", second.clone(), far())
        .await
        .unwrap();

    assert_eq!(
        s.sts.stats().tokens_issued,
        2,
        "a new AWS token for the refresh"
    );
    let stats = s.emulator.stats();
    assert!(
        stats.assertions_refused.is_empty(),
        "no stale assertion was sent: {:?}",
        stats.assertions_refused
    );
    assert_eq!(stats.assertions_accepted, 2);
    let mut all = first;
    all.extend(second);
    assert_exactly_once(&s.emulator.rows("Custom-AWSCloudTrail"), &all);
}

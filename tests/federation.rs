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
    // The propagation clock starts when the setup registers the credential: measured from
    // here, a busy machine's slow setup cannot make an honoured delay look too short.
    let started = Instant::now();
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

// ---------------------------------------------------------------------------------------
// The function end to end

mod end_to_end {
    use std::time::{Duration, Instant};

    use s3_sentinel_connector::{EmulatorOptions, FederatedCredential};

    use super::{ROLE_ARN, assert_no_token, start_sts, trusting};
    use crate::common::function::*;
    use crate::common::runtime_api::Outcome;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn the_function_delivers_with_no_secret_and_logs_neither_token() {
        let mut h = Harness::new(EmulatorOptions::default()).await;
        let sts = start_sts().await;
        let emulator = h.emulator.emulator().clone();
        emulator.set_federated_credentials(vec![trusting(&sts)]);
        let first = cloudtrail_key("Federated1");
        let second = cloudtrail_key("Federated2");
        h.put(&first, &cloudtrail_json(300, 21)).await;
        h.put(&second, &cloudtrail_json(200, 22)).await;

        let mut env = h.env();
        env.remove("AZURE_CREDENTIALS_SECRET_ARN");
        for (k, v) in [
            ("AZURE_AUTH", "aws-federation"),
            ("AZURE_TENANT_ID", "00000000-0000-0000-0000-0000000000aa"),
            ("AZURE_CLIENT_ID", "connector"),
            ("AWS_ENDPOINT_URL_STS", sts.url().as_str()),
            ("SENTINEL_MAX_ATTEMPTS", "2"),
            // Everything the function and its libraries say, to look for tokens in.
            ("RUST_LOG", "debug"),
        ] {
            env.insert(k.into(), v.into());
        }
        let log = tempfile::NamedTempFile::new().unwrap();
        let spawned = Instant::now();
        let function = Function::start_logging(&env, log.path()).await;
        function.wait_ready(Duration::from_secs(30)).await;
        let cold_start = spawned.elapsed();
        assert_eq!(sts.stats().requests, 0, "no AWS token at the cold start");
        assert_eq!(
            emulator.stats().tokens_issued,
            0,
            "no Entra ID token either"
        );
        eprintln!(
            "aws-federation cold start (spawn to first Runtime API poll, test build): {:.1} ms",
            cold_start.as_secs_f64() * 1e3
        );

        assert_ok(&function.invoke(&s3_event(&h.logs, &first), LONG).await);
        assert_eq!(sts.stats().tokens_issued, 1);
        assert_eq!(emulator.stats().assertions_accepted, 1);
        let mut entra_tokens = emulator.issued_tokens();

        // The credential stops matching the role (someone edited it) and every Entra ID
        // token dies: the next object waits, nothing is dead-lettered.
        emulator.set_federated_credentials(vec![FederatedCredential {
            subject: "arn:aws:iam::123456789012:role/someone-else".into(),
            ..trusting(&sts)
        }]);
        emulator.expire_tokens();
        let outcome = function.invoke(&s3_event(&h.logs, &second), LONG).await;
        let Outcome::Error(error) = &outcome else {
            panic!("expected the invocation to fail, got {outcome:?}")
        };
        let error_text = error.to_string();
        assert!(error_text.contains("subject"), "{error_text}");
        assert!(error_text.contains(ROLE_ARN), "{error_text}");
        assert_eq!(h.received().len(), 300, "only the first object's rows");
        assert!(h.dead_letter_files().await.is_empty());

        // Fixed: the retried event delivers the waiting rows, once.
        emulator.set_federated_credentials(vec![trusting(&sts)]);
        assert_ok(&function.invoke(&s3_event(&h.logs, &second), LONG).await);
        h.assert_exactly_once();
        assert!(h.dead_letter_files().await.is_empty());
        h.report();
        entra_tokens.extend(emulator.issued_tokens());
        drop(function);

        let logged = std::fs::read_to_string(log.path()).unwrap();
        assert!(
            logged.contains("STS.GetWebIdentityToken") && logged.contains("oauth2/v2.0/token"),
            "the log follows both token requests"
        );
        let aws_tokens = sts.issued_tokens();
        assert!(!aws_tokens.is_empty() && entra_tokens.len() >= 2);
        assert_no_token(&logged, &aws_tokens, &entra_tokens);
        assert_no_token(&error_text, &aws_tokens, &entra_tokens);
    }
}

// ---------------------------------------------------------------------------------------
// The templates

mod templates {
    use std::collections::HashMap;

    use serde_json::Value as Json;
    use serde_norway::Value as Yaml;

    use s3_sentinel_connector::{
        DEFAULT_FEDERATION_AUDIENCE, PublisherIdentity, TemplateOptions, template,
    };

    /// template.yaml as CloudFormation would deploy it with `parameters`: conditions
    /// evaluated, `!If` branches chosen, `AWS::NoValue` and conditional resources dropped,
    /// parameter `!Ref`s replaced by their values.
    struct Deployed<'a> {
        doc: &'a Yaml,
        parameters: HashMap<String, String>,
    }

    fn tagged(v: &Yaml) -> Option<(&str, &Yaml)> {
        match v {
            Yaml::Tagged(t) => Some((t.tag.to_string().leak().trim_start_matches('!'), &t.value)),
            _ => None,
        }
    }

    fn items(v: &Yaml) -> &[Yaml] {
        v.as_sequence().map(Vec::as_slice).unwrap_or(&[])
    }

    impl<'a> Deployed<'a> {
        fn new(doc: &'a Yaml, given: &[(&str, &str)]) -> Deployed<'a> {
            let mut parameters = HashMap::new();
            for (name, spec) in doc["Parameters"].as_mapping().unwrap() {
                if let Some(default) = spec.get("Default") {
                    let text = match default {
                        Yaml::String(s) => s.clone(),
                        other => serde_norway::to_string(other).unwrap().trim().to_string(),
                    };
                    parameters.insert(name.as_str().unwrap().to_string(), text);
                }
            }
            for (k, v) in given {
                parameters.insert(k.to_string(), v.to_string());
            }
            Deployed { doc, parameters }
        }

        fn scalar(&self, v: &Yaml) -> String {
            match v {
                Yaml::String(s) => s.clone(),
                Yaml::Bool(b) => b.to_string(),
                Yaml::Number(n) => n.to_string(),
                other => match tagged(other) {
                    Some(("Ref", name)) => {
                        let name = name.as_str().unwrap();
                        self.parameters
                            .get(name)
                            .cloned()
                            .unwrap_or_else(|| format!("<{name}>"))
                    }
                    _ => format!("<{other:?}>"),
                },
            }
        }

        fn condition(&self, v: &Yaml) -> bool {
            let (tag, args) = tagged(v).expect("a condition function");
            let args = items(args);
            match tag {
                "Equals" => self.scalar(&args[0]) == self.scalar(&args[1]),
                "Not" => !self.condition(&args[0]),
                "And" => args.iter().all(|a| self.condition(a)),
                "Or" => args.iter().any(|a| self.condition(a)),
                "Condition" => self.named(tagged(v).unwrap().1.as_str().unwrap()),
                other => panic!("condition function {other}"),
            }
        }

        fn named(&self, name: &str) -> bool {
            self.condition(&self.doc["Conditions"][name])
        }

        /// `None` where CloudFormation would leave the value out.
        fn resolve(&self, v: &Yaml) -> Option<Json> {
            if let Some((tag, args)) = tagged(v) {
                return match tag {
                    "If" => {
                        let args = items(args);
                        let branch = if self.named(args[0].as_str().unwrap()) {
                            &args[1]
                        } else {
                            &args[2]
                        };
                        self.resolve(branch)
                    }
                    "Ref" if args.as_str() == Some("AWS::NoValue") => None,
                    "Ref" => Some(Json::String(self.scalar(v))),
                    other => Some(Json::String(format!("!{other} {args:?}"))),
                };
            }
            Some(match v {
                Yaml::Sequence(seq) => {
                    Json::Array(seq.iter().filter_map(|i| self.resolve(i)).collect())
                }
                Yaml::Mapping(map) => Json::Object(
                    map.iter()
                        .filter_map(|(k, v)| Some((self.scalar(k), self.resolve(v)?)))
                        .collect(),
                ),
                Yaml::Null => Json::Null,
                other => Json::String(self.scalar(other)),
            })
        }

        fn resources(&self) -> serde_json::Map<String, Json> {
            self.doc["Resources"]
                .as_mapping()
                .unwrap()
                .iter()
                .filter(|(_, r)| {
                    r.get("Condition")
                        .is_none_or(|c| self.named(c.as_str().unwrap()))
                })
                .map(|(k, r)| (self.scalar(k), self.resolve(r).unwrap()))
                .collect()
        }

        /// Whether every rule that applies holds.
        fn rules_hold(&self) -> bool {
            self.doc["Rules"]
                .as_mapping()
                .unwrap()
                .values()
                .all(|rule| {
                    let applies = rule.get("RuleCondition").is_none_or(|c| self.condition(c));
                    !applies
                        || items(&rule["Assertions"])
                            .iter()
                            .all(|a| self.condition(&a["Assert"]))
                })
        }
    }

    fn statements(resources: &serde_json::Map<String, Json>) -> Vec<Json> {
        let mut out = Vec::new();
        for resource in resources.values() {
            for policy in resource["Properties"]["Policies"]
                .as_array()
                .into_iter()
                .flatten()
            {
                out.extend(
                    policy["PolicyDocument"]["Statement"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .cloned(),
                );
            }
        }
        out
    }

    fn actions(statement: &Json) -> Vec<String> {
        match &statement["Action"] {
            Json::String(a) => vec![a.clone()],
            Json::Array(a) => a.iter().map(|x| x.as_str().unwrap().to_string()).collect(),
            _ => vec![],
        }
    }

    /// Every string and key of a JSON value, lowercased.
    fn words(v: &Json, out: &mut Vec<String>) {
        match v {
            Json::String(s) => out.push(s.to_ascii_lowercase()),
            Json::Array(a) => a.iter().for_each(|x| words(x, out)),
            Json::Object(o) => o.iter().for_each(|(k, x)| {
                out.push(k.to_ascii_lowercase());
                words(x, out)
            }),
            _ => {}
        }
    }

    #[test]
    fn a_federated_deployment_holds_no_secret_in_aws_or_azure() {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml")).unwrap();
        let doc: Yaml = serde_norway::from_str(&text).unwrap();
        let tenant = ("AzureTenantId", "00000000-0000-0000-0000-0000000000aa");
        let client = ("AzureClientId", "11111111-1111-1111-1111-111111111111");
        let federated = Deployed::new(
            &doc,
            &[
                ("AzureAuth", "aws-federation"),
                tenant,
                client,
                ("LogBucketName", "logs"),
            ],
        );
        assert!(federated.rules_hold());
        let resources = federated.resources();

        // AWS: no secret resource, no secret read, no secret passed.
        for (name, resource) in &resources {
            let ty = resource["Type"].as_str().unwrap();
            assert!(
                !ty.contains("SecretsManager")
                    && !ty.contains("AccessKey")
                    && ty != "AWS::SSM::Parameter",
                "{name} is a {ty}"
            );
        }
        for parameter in doc["Parameters"].as_mapping().unwrap().values() {
            assert!(
                parameter.get("NoEcho").is_none(),
                "a secret parameter: {parameter:?}"
            );
        }
        let granted = statements(&resources);
        let all_actions: Vec<String> = granted.iter().flat_map(actions).collect();
        assert!(
            all_actions
                .iter()
                .all(|a| !a.starts_with("secretsmanager:")),
            "{all_actions:?}"
        );
        let sts: Vec<&Json> = granted
            .iter()
            .filter(|s| actions(s).iter().any(|a| a.starts_with("sts:")))
            .collect();
        assert_eq!(sts.len(), 1, "one sts statement: {sts:?}");
        assert_eq!(actions(sts[0]), ["sts:GetWebIdentityToken"]);
        assert_eq!(
            sts[0]["Condition"]["StringEquals"]["sts:IdentityTokenAudience"],
            DEFAULT_FEDERATION_AUDIENCE,
            "tokens only for Entra ID's audience"
        );
        let variables = &resources["ConnectorFunction"]["Properties"]["Environment"]["Variables"];
        assert_eq!(variables["AZURE_AUTH"], "aws-federation");
        assert_eq!(variables["AZURE_CREDENTIALS_SECRET_ARN"], "");
        assert_eq!(variables["AZURE_TENANT_ID"], tenant.1);
        assert_eq!(variables["AZURE_CLIENT_ID"], client.1);
        assert!(variables.get("AZURE_CLIENT_SECRET").is_none());
        let role = &resources["ConnectorRole"];
        assert!(
            role["Properties"]["RoleName"]
                .as_str()
                .unwrap()
                .contains("-function"),
            "a role ARN known before the stack exists: {role}"
        );
        assert!(doc["Outputs"].get("FunctionRoleArn").is_some());

        // A secret beside the mode is refused by the template's rules.
        let with_secret = Deployed::new(
            &doc,
            &[
                ("AzureAuth", "aws-federation"),
                tenant,
                client,
                (
                    "AzureCredentialsSecretArn",
                    "arn:aws:secretsmanager:us-east-1:1:secret:x",
                ),
            ],
        );
        assert!(!with_secret.rules_hold());
        // The secret mode still reads its secret and mints no AWS tokens.
        let secret = Deployed::new(
            &doc,
            &[(
                "AzureCredentialsSecretArn",
                "arn:aws:secretsmanager:us-east-1:1:secret:x",
            )],
        );
        assert!(secret.rules_hold());
        let secret_actions: Vec<String> = statements(&secret.resources())
            .iter()
            .flat_map(actions)
            .collect();
        assert!(secret_actions.contains(&"secretsmanager:GetSecretValue".to_string()));
        assert!(!secret_actions.contains(&"sts:GetWebIdentityToken".to_string()));
        assert!(
            !Deployed::new(&doc, &[]).rules_hold(),
            "secret mode needs its secret"
        );

        // Azure: the whole side in one deployment, a managed identity trusting the role,
        // no app registration, no secret, no key listed.
        let arm = template::arm_template(&TemplateOptions {
            identity: PublisherIdentity::ManagedIdentity,
            ..TemplateOptions::default()
        });
        for (name, parameter) in arm["parameters"].as_object().unwrap() {
            let ty = parameter["type"].as_str().unwrap().to_ascii_lowercase();
            assert!(!ty.starts_with("secure"), "{name} is a {ty}");
        }
        assert!(arm["parameters"].get("servicePrincipalObjectId").is_none());
        for resource in arm["resources"].as_array().unwrap() {
            let ty = resource["type"].as_str().unwrap();
            assert!(
                !ty.starts_with("Microsoft.KeyVault") && !ty.starts_with("Microsoft.Graph"),
                "{ty}"
            );
            let mut all = Vec::new();
            words(resource, &mut all);
            for word in all {
                for forbidden in ["secret", "password", "keycredentials", "listkeys("] {
                    assert!(!word.contains(forbidden), "{ty}: {word}");
                }
            }
        }
        let mut outputs = Vec::new();
        words(&arm["outputs"], &mut outputs);
        assert!(
            outputs
                .iter()
                .all(|w| !w.contains("listkeys(") && !w.contains("secret"))
        );
        let fic = arm["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["type"] == "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials")
            .expect("a federated identity credential");
        assert_eq!(fic["properties"]["subject"], "[parameters('awsRoleArn')]");
        // Both sides agree on the audience.
        assert_eq!(
            arm["parameters"]["federationAudience"]["defaultValue"],
            federated.parameters["AzureFederationAudience"]
        );
    }
}

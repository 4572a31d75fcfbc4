//! CloudTrail: services, people, CI users and AWS services at work, operational errors,
//! and intrusions by stolen credentials.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

mod attacks;

use super::{BROWSER_AGENTS, CLI_AGENTS, Env, LabelledRaw, Raw, rfc3339, uuid};
use crate::features::catalog::{Verb, verb_of};
use crate::ml::Category;
use crate::record::LogType;
use crate::training::rng::SplitMix64;

/// Who makes a call.
#[derive(Debug, Clone)]
enum Identity {
    IamUser {
        name: String,
        key: String,
    },
    Role {
        role: String,
        session: String,
        key: String,
        mfa: bool,
    },
    Service {
        service: &'static str,
    },
    Root {
        key: Option<String>,
    },
}

#[derive(Debug, Clone)]
struct Actor {
    identity: Identity,
    ip: String,
    agent: String,
}

struct Call<'a> {
    source: &'a str,
    name: &'a str,
    params: Value,
    response: Value,
    error: Option<(&'a str, &'a str)>,
    region: Option<&'a str>,
    data_event: bool,
    event_type: &'a str,
    additional: Value,
}

impl<'a> Call<'a> {
    fn new(source: &'a str, name: &'a str) -> Self {
        Call {
            source,
            name,
            params: Value::Null,
            response: Value::Null,
            error: None,
            region: None,
            data_event: false,
            event_type: "AwsApiCall",
            additional: Value::Null,
        }
    }
    fn params(mut self, p: Value) -> Self {
        self.params = p;
        self
    }
    fn response(mut self, r: Value) -> Self {
        self.response = r;
        self
    }
    fn error(mut self, code: &'a str, message: &'a str) -> Self {
        self.error = Some((code, message));
        self
    }
    fn region(mut self, region: &'a str) -> Self {
        self.region = Some(region);
        self
    }
    fn data(mut self) -> Self {
        self.data_event = true;
        self
    }
}

struct Gen<'e> {
    env: &'e Env,
    rng: SplitMix64,
    out: Vec<LabelledRaw>,
}

fn access_key(rng: &mut SplitMix64, prefix: &str) -> String {
    format!("{prefix}{}", rng.alnum_upper(16))
}

impl Gen<'_> {
    fn emit(
        &mut self,
        t: DateTime<Utc>,
        actor: &Actor,
        call: Call<'_>,
        label: Category,
        scenario: &'static str,
    ) {
        let env = self.env;
        let rng = &mut self.rng;
        let account = env.account;
        let user_identity = match &actor.identity {
            Identity::IamUser { name, key } => json!({
                "type": "IAMUser",
                "principalId": format!("AIDA{}", name_hash(name)),
                "arn": format!("arn:aws:iam::{account}:user/{name}"),
                "accountId": account,
                "accessKeyId": key,
                "userName": name,
            }),
            Identity::Role {
                role,
                session,
                key,
                mfa,
            } => json!({
                "type": "AssumedRole",
                "principalId": format!("AROA{}:{session}", name_hash(role)),
                "arn": format!("arn:aws:sts::{account}:assumed-role/{role}/{session}"),
                "accountId": account,
                "accessKeyId": key,
                "sessionContext": {
                    "sessionIssuer": {
                        "type": "Role",
                        "principalId": format!("AROA{}", name_hash(role)),
                        "arn": format!("arn:aws:iam::{account}:role/{role}"),
                        "accountId": account,
                        "userName": role,
                    },
                    "webIdFederationData": {},
                    "attributes": {
                        "creationDate": rfc3339(t - Duration::minutes(rng.range(1, 55))),
                        "mfaAuthenticated": if *mfa { "true" } else { "false" },
                    },
                },
            }),
            Identity::Service { service } => json!({
                "type": "AWSService",
                "invokedBy": service,
            }),
            Identity::Root { key } => {
                let mut v = json!({
                    "type": "Root",
                    "principalId": account,
                    "arn": format!("arn:aws:iam::{account}:root"),
                    "accountId": account,
                });
                if let Some(k) = key {
                    v["accessKeyId"] = json!(k);
                }
                v
            }
        };
        let read_only = matches!(verb_of(call.name), Verb::Read);
        let region = call.region.unwrap_or(env.region);
        let host = if call.source == "iam.amazonaws.com" || call.source == "signin.amazonaws.com" {
            call.source.to_string()
        } else {
            call.source
                .replace(".amazonaws.com", &format!(".{region}.amazonaws.com"))
        };
        let mut event = json!({
            "eventVersion": "1.09",
            "userIdentity": user_identity,
            "eventTime": rfc3339(t),
            "eventSource": call.source,
            "eventName": call.name,
            "awsRegion": region,
            "sourceIPAddress": actor.ip,
            "userAgent": actor.agent,
            "requestParameters": call.params,
            "responseElements": call.response,
            "requestID": uuid(rng),
            "eventID": uuid(rng),
            "readOnly": read_only,
            "eventType": call.event_type,
            "managementEvent": !call.data_event,
            "recipientAccountId": account,
            "eventCategory": if call.data_event { "Data" } else { "Management" },
        });
        if matches!(actor.identity, Identity::Service { .. }) {
            event.as_object_mut().expect("object").remove("userAgent");
            event["userAgent"] = json!(actor.ip);
        } else {
            event["tlsDetails"] = json!({
                "tlsVersion": "TLSv1.3",
                "cipherSuite": "TLS_AES_128_GCM_SHA256",
                "clientProvidedHostHeader": host,
            });
        }
        if let Some((code, message)) = call.error {
            event["errorCode"] = json!(code);
            event["errorMessage"] = json!(message);
        }
        if !call.additional.is_null() {
            event["additionalEventData"] = call.additional;
        }
        let raw = Raw::Json(event.to_string());
        let record = LabelledRaw::new(LogType::CloudTrail, raw, t, label, scenario);
        self.out.push(record);
    }
}

fn name_hash(name: &str) -> String {
    let h = xxhash_rust::xxh3::xxh3_64(name.as_bytes());
    format!("{h:016X}").chars().take(17).collect()
}

/// Routine reads and writes services make: (event source, event name, weight).
const SERVICE_CALLS: &[(&str, &str, f64)] = &[
    ("ec2.amazonaws.com", "DescribeInstances", 8.0),
    ("ec2.amazonaws.com", "DescribeInstanceStatus", 5.0),
    ("ec2.amazonaws.com", "DescribeVolumes", 3.0),
    ("ec2.amazonaws.com", "DescribeSecurityGroups", 2.0),
    ("ec2.amazonaws.com", "DescribeNetworkInterfaces", 2.0),
    ("ec2.amazonaws.com", "DescribeTags", 2.0),
    ("ssm.amazonaws.com", "UpdateInstanceInformation", 10.0),
    ("ssm.amazonaws.com", "ListAssociations", 4.0),
    ("ssm.amazonaws.com", "ListInstanceAssociations", 4.0),
    ("ssm.amazonaws.com", "DescribeInstanceInformation", 3.0),
    ("ssm.amazonaws.com", "GetParameter", 4.0),
    ("kms.amazonaws.com", "Decrypt", 9.0),
    ("kms.amazonaws.com", "GenerateDataKey", 6.0),
    ("kms.amazonaws.com", "DescribeKey", 1.0),
    ("secretsmanager.amazonaws.com", "GetSecretValue", 4.0),
    ("sts.amazonaws.com", "GetCallerIdentity", 3.0),
    ("s3.amazonaws.com", "GetBucketLocation", 2.0),
    ("s3.amazonaws.com", "GetObject", 8.0),
    ("s3.amazonaws.com", "PutObject", 5.0),
    ("logs.amazonaws.com", "CreateLogStream", 4.0),
    ("logs.amazonaws.com", "DescribeLogGroups", 1.0),
    ("monitoring.amazonaws.com", "GetMetricData", 3.0),
    ("monitoring.amazonaws.com", "DescribeAlarms", 2.0),
    ("dynamodb.amazonaws.com", "DescribeTable", 2.0),
    ("ecr.amazonaws.com", "GetAuthorizationToken", 2.0),
    ("ecr.amazonaws.com", "BatchCheckLayerAvailability", 1.0),
    (
        "elasticloadbalancing.amazonaws.com",
        "DescribeTargetHealth",
        2.0,
    ),
    (
        "autoscaling.amazonaws.com",
        "DescribeAutoScalingGroups",
        2.0,
    ),
    ("rds.amazonaws.com", "DescribeDBInstances", 1.0),
    ("cloudformation.amazonaws.com", "DescribeStacks", 1.0),
    ("lambda.amazonaws.com", "GetFunction", 1.0),
];

const APP_ROLES: &[&str] = &[
    "orders-api-task",
    "payments-worker",
    "ingest-lambda-role",
    "reporting-batch",
    "web-frontend-ec2",
    "ssm-managed-instance",
    "eks-node-group",
    "data-pipeline-glue",
];

const SECRETS: &[&str] = &[
    "prod/orders/db",
    "prod/payments/stripe",
    "prod/reporting/warehouse",
    "shared/smtp",
    "prod/api/jwt-signing",
    "staging/orders/db",
];

fn params_for(g: &mut Gen<'_>, source: &str, name: &str) -> Value {
    let rng = &mut g.rng;
    match (source, name) {
        ("ec2.amazonaws.com", "DescribeInstances") => {
            json!({"instancesSet": {}, "filterSet": {"items": [{"name": "tag:app", "valueSet": {"items": [{"value": "orders"}]}}]}})
        }
        ("ssm.amazonaws.com", "GetParameter") => json!({
            "name": format!("/prod/{}/config", rng.pick(&["orders", "payments", "web"])),
            "withDecryption": rng.chance(0.5),
        }),
        ("secretsmanager.amazonaws.com", "GetSecretValue") => {
            json!({"secretId": rng.pick(SECRETS)})
        }
        ("s3.amazonaws.com", "GetObject") | ("s3.amazonaws.com", "PutObject") => json!({
            "bucketName": rng.pick(&["acme-prod-artifacts", "acme-prod-data", "acme-app-uploads"]),
            "key": format!("{}/{}.json", rng.pick(&["orders", "events", "exports"]), rng.hex(12)),
            "Host": "acme-prod-data.s3.us-east-1.amazonaws.com",
        }),
        ("kms.amazonaws.com", _) => json!({
            "encryptionAlgorithm": "SYMMETRIC_DEFAULT",
            "keyId": format!("arn:aws:kms:us-east-1:123456789012:key/{}", uuid(rng)),
        }),
        ("logs.amazonaws.com", "CreateLogStream") => json!({
            "logGroupName": format!("/aws/lambda/{}", rng.pick(APP_ROLES)),
            "logStreamName": format!("2025/01/07/[$LATEST]{}", rng.hex(32)),
        }),
        _ => Value::Null,
    }
}

pub fn generate(env: &Env, rng: &mut SplitMix64) -> Vec<LabelledRaw> {
    let mut g = Gen {
        env,
        rng: rng.fork("events"),
        out: Vec::new(),
    };
    service_activity(&mut g);
    aws_service_activity(&mut g);
    people_activity(&mut g);
    long_term_key_users(&mut g);
    operational_trouble(&mut g);
    attacks::attacks(&mut g);
    // Last, on its own stream, so the scenarios above keep their events.
    g.rng = rng.fork("iac-lifecycle");
    infrastructure_lifecycles(&mut g);
    g.out
}

/// Infrastructure as code applied and later destroyed by the people and the `terraform`
/// user: a test stack's buckets, roles, functions, databases, keys and secrets created,
/// then torn down hours or days later. The teardown looks like an attacker's impact phase
/// call by call (`DeleteBucket`, `DeleteDBInstance` without a final snapshot,
/// `ScheduleKeyDeletion`), and it is the owner's own routine work.
fn infrastructure_lifecycles(g: &mut Gen<'_>) {
    let n_people = g.env.people.len();
    let terraform_key = access_key(&mut g.rng, "AKIA");
    for _ in 0..g.env.count(60) {
        let stack = format!("test-{}", g.rng.hex(6));
        let actor = if g.rng.chance(0.5) {
            let i = g.rng.below(n_people as u64) as usize;
            person_actor(g, i, false)
        } else {
            Actor {
                identity: Identity::IamUser {
                    name: "terraform".to_string(),
                    key: terraform_key.clone(),
                },
                ip: g.rng.pick(&g.env.ci_ips).clone(),
                agent: g.rng.pick(CLI_AGENTS).to_string(),
            }
        };
        let bucket = format!("acme-{stack}");
        let role = format!("{stack}-fn");
        let function = format!("{stack}-api");
        let db = format!("{stack}-db");
        let group = format!("sg-0{}", g.rng.hex(16));
        let key_id = format!("{}-{}", g.rng.hex(8), g.rng.hex(4));
        let secret = format!("{stack}/db");
        let instance = format!("i-0{}", g.rng.hex(16));
        let apply: Vec<(&str, &str, Value)> = vec![
            ("sts.amazonaws.com", "GetCallerIdentity", Value::Null),
            (
                "s3.amazonaws.com",
                "CreateBucket",
                json!({"bucketName": bucket}),
            ),
            (
                "s3.amazonaws.com",
                "PutBucketTagging",
                json!({"bucketName": bucket}),
            ),
            (
                "iam.amazonaws.com",
                "CreateRole",
                json!({"roleName": role, "assumeRolePolicyDocument": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"lambda.amazonaws.com\"},\"Action\":\"sts:AssumeRole\"}]}"}),
            ),
            (
                "iam.amazonaws.com",
                "AttachRolePolicy",
                json!({"roleName": role, "policyArn": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}),
            ),
            (
                "lambda.amazonaws.com",
                "CreateFunction20150331",
                json!({"functionName": function, "runtime": "python3.12", "role": format!("arn:aws:iam::{}:role/{role}", g.env.account)}),
            ),
            (
                "ec2.amazonaws.com",
                "CreateSecurityGroup",
                json!({"groupName": stack, "groupDescription": "test stack"}),
            ),
            (
                "ec2.amazonaws.com",
                "AuthorizeSecurityGroupIngress",
                sg_params(&mut g.rng, "10.0.0.0/16", 5432),
            ),
            (
                "kms.amazonaws.com",
                "CreateKey",
                json!({"description": stack}),
            ),
            (
                "secretsmanager.amazonaws.com",
                "CreateSecret",
                json!({"name": secret}),
            ),
            (
                "rds.amazonaws.com",
                "CreateDBInstance",
                json!({"dBInstanceIdentifier": db, "engine": "postgres", "dBInstanceClass": "db.t4g.micro", "publiclyAccessible": false, "storageEncrypted": true}),
            ),
            (
                "logs.amazonaws.com",
                "CreateLogGroup",
                json!({"logGroupName": format!("/aws/lambda/{function}")}),
            ),
            (
                "ec2.amazonaws.com",
                "RunInstances",
                json!({"instanceType": "t3.micro", "minCount": 1, "maxCount": 1}),
            ),
        ];
        let destroy: Vec<(&str, &str, Value)> = vec![
            ("sts.amazonaws.com", "GetCallerIdentity", Value::Null),
            ("ec2.amazonaws.com", "DescribeInstances", Value::Null),
            (
                "ec2.amazonaws.com",
                "TerminateInstances",
                json!({"instancesSet": {"items": [{"instanceId": instance}]}}),
            ),
            (
                "rds.amazonaws.com",
                "DeleteDBInstance",
                json!({"dBInstanceIdentifier": db, "skipFinalSnapshot": true, "deleteAutomatedBackups": true}),
            ),
            (
                "lambda.amazonaws.com",
                "DeleteFunction20150331",
                json!({"functionName": function}),
            ),
            (
                "logs.amazonaws.com",
                "DeleteLogGroup",
                json!({"logGroupName": format!("/aws/lambda/{function}")}),
            ),
            (
                "iam.amazonaws.com",
                "DetachRolePolicy",
                json!({"roleName": role, "policyArn": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}),
            ),
            ("iam.amazonaws.com", "DeleteRole", json!({"roleName": role})),
            (
                "ec2.amazonaws.com",
                "DeleteSecurityGroup",
                json!({"groupId": group}),
            ),
            (
                "secretsmanager.amazonaws.com",
                "DeleteSecret",
                json!({"secretId": secret, "forceDeleteWithoutRecovery": true}),
            ),
            (
                "kms.amazonaws.com",
                "ScheduleKeyDeletion",
                json!({"keyId": key_id, "pendingWindowInDays": 7}),
            ),
            (
                "s3.amazonaws.com",
                "DeleteObject",
                json!({"bucketName": bucket, "key": "index.html"}),
            ),
            (
                "s3.amazonaws.com",
                "DeleteBucket",
                json!({"bucketName": bucket}),
            ),
        ];
        let applied = g.env.work_time(&mut g.rng);
        let destroyed = applied + Duration::minutes(30 + g.rng.below(72 * 60) as i64);
        for (start, calls) in [(applied, apply), (destroyed, destroy)] {
            let mut t = start;
            for (source, name, params) in calls {
                t += Duration::seconds(1 + g.rng.below(20) as i64);
                g.emit(
                    t,
                    &actor,
                    Call::new(source, name).params(params),
                    Category::Normal,
                    "benign/iac-lifecycle",
                );
            }
        }
    }
}

fn role_actor(g: &mut Gen<'_>, role: &str) -> Actor {
    let env = g.env;
    let rng = &mut g.rng;
    let session = if rng.chance(0.5) {
        rng.pick(&env.instance_ids).clone()
    } else {
        format!("{}-{}", role, rng.hex(8))
    };
    let ip = if rng.chance(0.6) {
        rng.pick(&env.instance_ips).clone()
    } else {
        "AWS Internal".to_string()
    };
    Actor {
        identity: Identity::Role {
            role: role.to_string(),
            session,
            key: access_key(rng, "ASIA"),
            mfa: false,
        },
        ip,
        agent: rng.pick(CLI_AGENTS).to_string(),
    }
}

fn service_activity(g: &mut Gen<'_>) {
    let weights: Vec<f64> = SERVICE_CALLS.iter().map(|c| c.2).collect();
    for _ in 0..g.env.count(14_000) {
        let t = g.env.any_time(&mut g.rng);
        let role = *g.rng.pick(APP_ROLES);
        let actor = role_actor(g, role);
        let (source, name, _) = SERVICE_CALLS[g.rng.weighted(&weights)];
        let params = params_for(g, source, name);
        let mut call = Call::new(source, name).params(params);
        if matches!(name, "GetObject" | "PutObject") {
            call = call.data();
        }
        g.emit(t, &actor, call, Category::Normal, "benign/service");
    }
}

fn aws_service_activity(g: &mut Gen<'_>) {
    const CALLS: &[(&str, &str, &str)] = &[
        (
            "config.amazonaws.com",
            "ec2.amazonaws.com",
            "DescribeInstances",
        ),
        (
            "config.amazonaws.com",
            "ec2.amazonaws.com",
            "DescribeSecurityGroups",
        ),
        ("config.amazonaws.com", "s3.amazonaws.com", "GetBucketAcl"),
        (
            "config.amazonaws.com",
            "s3.amazonaws.com",
            "GetBucketPolicy",
        ),
        (
            "config.amazonaws.com",
            "iam.amazonaws.com",
            "ListAttachedRolePolicies",
        ),
        ("config.amazonaws.com", "iam.amazonaws.com", "GetRole"),
        (
            "config.amazonaws.com",
            "iam.amazonaws.com",
            "ListRolePolicies",
        ),
        (
            "backup.amazonaws.com",
            "ec2.amazonaws.com",
            "CreateSnapshot",
        ),
        (
            "backup.amazonaws.com",
            "ec2.amazonaws.com",
            "DeleteSnapshot",
        ),
        (
            "backup.amazonaws.com",
            "ec2.amazonaws.com",
            "DescribeVolumes",
        ),
        (
            "autoscaling.amazonaws.com",
            "ec2.amazonaws.com",
            "RunInstances",
        ),
        (
            "autoscaling.amazonaws.com",
            "ec2.amazonaws.com",
            "TerminateInstances",
        ),
        ("lambda.amazonaws.com", "sts.amazonaws.com", "AssumeRole"),
        ("ecs-tasks.amazonaws.com", "sts.amazonaws.com", "AssumeRole"),
        ("ec2.amazonaws.com", "sts.amazonaws.com", "AssumeRole"),
        (
            "securityhub.amazonaws.com",
            "iam.amazonaws.com",
            "GetAccountSummary",
        ),
        (
            "access-analyzer.amazonaws.com",
            "iam.amazonaws.com",
            "ListRoles",
        ),
    ];
    for _ in 0..g.env.count(4_000) {
        let t = g.env.any_time(&mut g.rng);
        let (service, source, name) = *g.rng.pick(CALLS);
        let actor = Actor {
            identity: Identity::Service { service },
            ip: service.to_string(),
            agent: service.to_string(),
        };
        let params = match name {
            "AssumeRole" => json!({
                "roleArn": format!("arn:aws:iam::123456789012:role/{}", g.rng.pick(APP_ROLES)),
                "roleSessionName": g.rng.hex(12),
            }),
            _ => Value::Null,
        };
        g.emit(
            t,
            &actor,
            Call::new(source, name).params(params),
            Category::Normal,
            "benign/aws-service",
        );
    }
}

fn person_actor(g: &mut Gen<'_>, i: usize, console: bool) -> Actor {
    let env = g.env;
    let p = &env.people[i];
    let rng = &mut g.rng;
    Actor {
        identity: Identity::Role {
            role: p.sso_role.to_string(),
            session: format!("{}@acme.example", p.name),
            key: access_key(rng, "ASIA"),
            mfa: false,
        },
        ip: rng.pick(&env.office_ips).clone(),
        agent: if console {
            if rng.chance(0.5) {
                "AWS Internal".to_string()
            } else {
                rng.pick(BROWSER_AGENTS).to_string()
            }
        } else {
            rng.pick(CLI_AGENTS).to_string()
        },
    }
}

fn people_activity(g: &mut Gen<'_>) {
    const READS: &[(&str, &str)] = &[
        ("ec2.amazonaws.com", "DescribeInstances"),
        ("ec2.amazonaws.com", "DescribeSecurityGroups"),
        ("ec2.amazonaws.com", "DescribeVpcs"),
        ("s3.amazonaws.com", "ListBuckets"),
        ("s3.amazonaws.com", "GetBucketPolicy"),
        ("rds.amazonaws.com", "DescribeDBInstances"),
        ("lambda.amazonaws.com", "ListFunctions"),
        ("lambda.amazonaws.com", "GetFunction"),
        ("logs.amazonaws.com", "FilterLogEvents"),
        ("logs.amazonaws.com", "DescribeLogStreams"),
        ("monitoring.amazonaws.com", "GetMetricData"),
        ("cloudformation.amazonaws.com", "DescribeStacks"),
        ("cloudformation.amazonaws.com", "DescribeStackEvents"),
        ("iam.amazonaws.com", "ListRoles"),
        ("iam.amazonaws.com", "GetRole"),
        ("iam.amazonaws.com", "ListAttachedRolePolicies"),
        ("secretsmanager.amazonaws.com", "ListSecrets"),
        ("secretsmanager.amazonaws.com", "DescribeSecret"),
        ("ssm.amazonaws.com", "DescribeInstanceInformation"),
        ("ssm.amazonaws.com", "DescribeParameters"),
        ("sts.amazonaws.com", "GetCallerIdentity"),
        ("cloudtrail.amazonaws.com", "LookupEvents"),
        ("cloudtrail.amazonaws.com", "DescribeTrails"),
        ("guardduty.amazonaws.com", "ListFindings"),
        ("bedrock.amazonaws.com", "ListFoundationModels"),
    ];
    const WRITES: &[(&str, &str)] = &[
        ("ec2.amazonaws.com", "StartInstances"),
        ("ec2.amazonaws.com", "StopInstances"),
        ("ec2.amazonaws.com", "RunInstances"),
        ("ec2.amazonaws.com", "TerminateInstances"),
        ("ec2.amazonaws.com", "CreateTags"),
        ("ec2.amazonaws.com", "CreateSecurityGroup"),
        ("ec2.amazonaws.com", "AuthorizeSecurityGroupIngress"),
        ("s3.amazonaws.com", "CreateBucket"),
        ("s3.amazonaws.com", "PutBucketTagging"),
        ("lambda.amazonaws.com", "UpdateFunctionCode20150331v2"),
        (
            "lambda.amazonaws.com",
            "UpdateFunctionConfiguration20150331v2",
        ),
        ("cloudformation.amazonaws.com", "UpdateStack"),
        ("ssm.amazonaws.com", "PutParameter"),
        ("ssm.amazonaws.com", "StartSession"),
        ("logs.amazonaws.com", "CreateLogGroup"),
        ("secretsmanager.amazonaws.com", "GetSecretValue"),
    ];
    const ADMIN: &[(&str, &str)] = &[
        ("iam.amazonaws.com", "CreateRole"),
        ("iam.amazonaws.com", "AttachRolePolicy"),
        ("iam.amazonaws.com", "PutRolePolicy"),
        ("iam.amazonaws.com", "CreatePolicyVersion"),
        ("iam.amazonaws.com", "ListUsers"),
        ("iam.amazonaws.com", "CreateAccessKey"),
        ("iam.amazonaws.com", "DeleteAccessKey"),
        ("ssm.amazonaws.com", "SendCommand"),
        ("kms.amazonaws.com", "CreateGrant"),
        ("s3.amazonaws.com", "PutBucketPolicy"),
        ("cloudtrail.amazonaws.com", "UpdateTrail"),
    ];
    let n_people = g.env.people.len();
    for _ in 0..g.env.count(5_000) {
        let t = g.env.work_time(&mut g.rng);
        let i = g.rng.below(n_people as u64) as usize;
        let console = g.rng.chance(0.55);
        let actor = person_actor(g, i, console);
        let admin = g.env.people[i].admin;
        let roll = g.rng.unit();
        let (source, name) = if admin && roll < 0.04 {
            *g.rng.pick(ADMIN)
        } else if roll < 0.22 {
            *g.rng.pick(WRITES)
        } else {
            *g.rng.pick(READS)
        };
        let params = match name {
            "AuthorizeSecurityGroupIngress" => {
                let (cidr, port) = if g.rng.chance(0.25) {
                    ("0.0.0.0/0", 443)
                } else {
                    ("10.0.0.0/16", *g.rng.pick(&[5432, 6379, 8080, 443]))
                };
                sg_params(&mut g.rng, cidr, port)
            }
            "PutBucketPolicy" => json!({
                "bucketName": "acme-prod-artifacts",
                "bucketPolicy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/ci-deploy"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::acme-prod-artifacts/*"}]},
            }),
            "CreateAccessKey" => json!({"userName": "ci-deploy"}),
            "RunInstances" => {
                json!({"instanceType": g.rng.pick(&["t3.medium", "m6i.large", "c6i.xlarge"]), "minCount": 1, "maxCount": 1})
            }
            "GetSecretValue" => json!({"secretId": g.rng.pick(SECRETS)}),
            _ => Value::Null,
        };
        g.emit(
            t,
            &actor,
            Call::new(source, name).params(params),
            Category::Normal,
            "benign/people",
        );
    }
    // Console sign-ins through the identity provider, a few mistyped.
    for _ in 0..g.env.count(300) {
        let t = g.env.work_time(&mut g.rng);
        let i = g.rng.below(n_people as u64) as usize;
        let actor = person_actor(g, i, true);
        let failed = g.rng.chance(0.04);
        let mut call = Call::new("signin.amazonaws.com", "ConsoleLogin").response(json!({
            "ConsoleLogin": if failed { "Failure" } else { "Success" }
        }));
        call.event_type = "AwsConsoleSignIn";
        call.additional = json!({"LoginTo": "https://console.aws.amazon.com/console/home", "MobileVersion": "No", "MFAUsed": "No"});
        if failed {
            call = call.error("Failed authentication", "Failed authentication");
        }
        g.emit(t, &actor, call, Category::Normal, "benign/console-login");
    }
}

fn sg_params(rng: &mut SplitMix64, cidr: &str, port: i64) -> Value {
    json!({
        "groupId": format!("sg-0{}", rng.hex(16)),
        "ipPermissions": {"items": [{
            "ipProtocol": "tcp",
            "fromPort": port,
            "toPort": port,
            "ipRanges": {"items": [{"cidrIp": cidr}]},
        }]},
    })
}

/// CI, infrastructure-as-code and scripts signing with IAM users' long-term keys.
fn long_term_key_users(g: &mut Gen<'_>) {
    struct User {
        name: &'static str,
        calls: &'static [(&'static str, &'static str)],
        office: bool,
    }
    const USERS: &[User] = &[
        User {
            name: "ci-deploy",
            calls: &[
                ("cloudformation.amazonaws.com", "CreateChangeSet"),
                ("cloudformation.amazonaws.com", "ExecuteChangeSet"),
                ("cloudformation.amazonaws.com", "DescribeStacks"),
                ("cloudformation.amazonaws.com", "DescribeChangeSet"),
                ("s3.amazonaws.com", "PutObject"),
                ("lambda.amazonaws.com", "UpdateFunctionCode20150331v2"),
                ("ecr.amazonaws.com", "GetAuthorizationToken"),
                ("ecr.amazonaws.com", "PutImage"),
                ("sts.amazonaws.com", "GetCallerIdentity"),
                ("sts.amazonaws.com", "AssumeRole"),
            ],
            office: false,
        },
        User {
            name: "terraform",
            calls: &[
                ("ec2.amazonaws.com", "DescribeVpcs"),
                ("ec2.amazonaws.com", "DescribeSubnets"),
                ("ec2.amazonaws.com", "DescribeSecurityGroups"),
                ("ec2.amazonaws.com", "DescribeInstances"),
                ("iam.amazonaws.com", "GetRole"),
                ("iam.amazonaws.com", "ListAttachedRolePolicies"),
                ("iam.amazonaws.com", "ListRolePolicies"),
                ("iam.amazonaws.com", "GetPolicyVersion"),
                ("s3.amazonaws.com", "GetBucketPolicy"),
                ("s3.amazonaws.com", "GetBucketAcl"),
                ("lambda.amazonaws.com", "GetFunction"),
                ("rds.amazonaws.com", "DescribeDBInstances"),
                ("sts.amazonaws.com", "GetCallerIdentity"),
                ("iam.amazonaws.com", "CreateRole"),
                ("iam.amazonaws.com", "AttachRolePolicy"),
                ("ec2.amazonaws.com", "AuthorizeSecurityGroupIngress"),
            ],
            office: false,
        },
        User {
            name: "backup-script",
            calls: &[
                ("s3.amazonaws.com", "ListBuckets"),
                ("s3.amazonaws.com", "GetObject"),
                ("ec2.amazonaws.com", "CreateSnapshot"),
                ("ec2.amazonaws.com", "DescribeSnapshots"),
            ],
            office: true,
        },
        User {
            name: "legacy-reporting",
            calls: &[
                ("ec2.amazonaws.com", "DescribeInstances"),
                ("monitoring.amazonaws.com", "GetMetricData"),
                ("s3.amazonaws.com", "ListBuckets"),
                ("ce.amazonaws.com", "GetCostAndUsage"),
                ("ssm.amazonaws.com", "DescribeInstanceInformation"),
            ],
            office: true,
        },
    ];
    let keys: Vec<String> = USERS
        .iter()
        .map(|_| access_key(&mut g.rng, "AKIA"))
        .collect();
    for _ in 0..g.env.count(2_500) {
        let u = g.rng.below(USERS.len() as u64) as usize;
        let user = &USERS[u];
        // CI runs around the clock; scripts run on their schedule.
        let t = if user.office {
            g.env.work_time(&mut g.rng)
        } else {
            g.env.any_time(&mut g.rng)
        };
        let ip = if user.office {
            g.rng.pick(&g.env.office_ips).clone()
        } else {
            g.rng.pick(&g.env.ci_ips).clone()
        };
        let actor = Actor {
            identity: Identity::IamUser {
                name: user.name.to_string(),
                key: keys[u].clone(),
            },
            ip,
            agent: g.rng.pick(CLI_AGENTS).to_string(),
        };
        let (source, name) = *g.rng.pick(user.calls);
        let mut call = Call::new(source, name);
        call.params = match name {
            "AuthorizeSecurityGroupIngress" => sg_params(&mut g.rng, "0.0.0.0/0", 443),
            "CreateRole" => {
                json!({"roleName": format!("svc-{}", g.rng.hex(6)), "assumeRolePolicyDocument": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"lambda.amazonaws.com\"},\"Action\":\"sts:AssumeRole\"}]}"})
            }
            _ => Value::Null,
        };
        if matches!(name, "PutObject" | "GetObject") {
            call = call.data();
        }
        if name == "GetRole" && g.rng.chance(0.2) {
            // Terraform checks for a role before creating it.
            call = call.error("NoSuchEntity", "The role with name svc-x cannot be found.");
        }
        g.emit(t, &actor, call, Category::Normal, "benign/long-term-key");
    }
}

/// Automation failing the same call again and again: one of `calls`, made `attempts` times,
/// each failing with one of `errors`; the k-th attempt comes k times a step drawn from
/// `step` (counted in `step_unit`) after the first.
struct Trouble {
    label: Category,
    scenario: &'static str,
    incidents: usize,
    calls: &'static [(&'static str, &'static str)],
    attempts: (i64, i64),
    errors: &'static [(&'static str, &'static str)],
    step_unit: fn(i64) -> Duration,
    step: (i64, i64),
}

/// Throttling bursts of automation.
const THROTTLING: Trouble = Trouble {
    label: Category::Performance,
    scenario: "ops/throttling",
    incidents: 25,
    calls: &[
        ("ec2.amazonaws.com", "DescribeInstances"),
        ("ssm.amazonaws.com", "GetParameter"),
        ("kms.amazonaws.com", "Decrypt"),
        ("secretsmanager.amazonaws.com", "GetSecretValue"),
        ("monitoring.amazonaws.com", "GetMetricData"),
    ],
    attempts: (6, 20),
    errors: &[
        ("ThrottlingException", "Rate exceeded"),
        ("RequestLimitExceeded", "Request limit exceeded."),
        ("Client.RequestLimitExceeded", "Request limit exceeded."),
    ],
    step_unit: Duration::milliseconds,
    step: (50, 900),
};

/// Service-side failures.
const SERVICE_FAILURES: Trouble = Trouble {
    label: Category::SystemError,
    scenario: "ops/service-error",
    incidents: 30,
    calls: &[
        ("dynamodb.amazonaws.com", "DescribeTable"),
        ("ec2.amazonaws.com", "RunInstances"),
        ("rds.amazonaws.com", "DescribeDBInstances"),
        ("lambda.amazonaws.com", "GetFunction"),
    ],
    attempts: (2, 10),
    errors: &[
        ("InternalError", "An internal error has occurred"),
        (
            "ServiceUnavailable",
            "Service is unavailable. Please try again later.",
        ),
        (
            "InternalFailure",
            "The request processing has failed because of an unknown error.",
        ),
    ],
    step_unit: Duration::seconds,
    step: (1, 20),
};

/// A deployed role missing a permission.
const MISSING_PERMISSION: Trouble = Trouble {
    label: Category::SystemError,
    scenario: "ops/missing-permission",
    incidents: 15,
    calls: &[
        ("s3.amazonaws.com", "PutObject"),
        ("sqs.amazonaws.com", "SendMessage"),
        ("dynamodb.amazonaws.com", "DescribeTable"),
        ("kms.amazonaws.com", "Decrypt"),
    ],
    attempts: (5, 25),
    errors: &[(
        "AccessDenied",
        "User is not authorized to perform this action",
    )],
    step_unit: Duration::seconds,
    step: (5, 60),
};

fn operational_trouble(g: &mut Gen<'_>) {
    for trouble in [THROTTLING, SERVICE_FAILURES, MISSING_PERMISSION] {
        for _ in 0..g.env.count(trouble.incidents) {
            let t0 = g.env.any_time(&mut g.rng);
            let role = *g.rng.pick(APP_ROLES);
            let actor = role_actor(g, role);
            let (source, name) = *g.rng.pick(trouble.calls);
            for k in 0..g.rng.range(trouble.attempts.0, trouble.attempts.1) {
                // A single possible error is not drawn.
                let (code, message) = match trouble.errors {
                    [only] => *only,
                    errors => *g.rng.pick(errors),
                };
                let step = k * g.rng.range(trouble.step.0, trouble.step.1);
                let t = t0 + (trouble.step_unit)(step);
                let call = Call::new(source, name).error(code, message);
                g.emit(t, &actor, call, trouble.label, trouble.scenario);
            }
        }
    }
}

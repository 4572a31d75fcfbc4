//! Intrusions: each picks stolen credentials, an address the organisation never used and
//! an ordinary client, and plays out one technique, one function per technique. Each incident begins
//! with `GetCallerIdentity`, then the technique's calls, each denied now and then (a
//! low-privilege key is denied often while it explores).

use chrono::Duration;
use serde_json::{Value, json};

use super::super::{BROWSER_AGENTS, CLI_AGENTS};
use super::{Actor, Call, Gen, Identity, SECRETS, access_key, sg_params};
use crate::ml::Category;

/// What an intrusion knows besides the calls it makes.
struct Incident {
    /// An account outside the organisation (data shared to it, trust granted to it).
    outsider: String,
    /// A region the organisation does not use.
    region_hop: &'static str,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Technique {
    Discovery,
    DefenseEvasion,
    PersistenceIam,
    PersistenceLambda,
    SecretTheft,
    Sharing,
    Exposure,
    RemoteExecution,
    Hijacking,
    Destruction,
    ConsoleIntrusion,
    InstanceCredentials,
}

/// In the order incidents cycle through them.
const TECHNIQUES: [Technique; 12] = [
    Technique::Discovery,
    Technique::DefenseEvasion,
    Technique::PersistenceIam,
    Technique::PersistenceLambda,
    Technique::SecretTheft,
    Technique::Sharing,
    Technique::Exposure,
    Technique::RemoteExecution,
    Technique::Hijacking,
    Technique::Destruction,
    Technique::ConsoleIntrusion,
    Technique::InstanceCredentials,
];

impl Technique {
    /// Appends the technique's calls to `seq`.
    fn add_calls(self, g: &mut Gen<'_>, incident: &Incident, seq: &mut Vec<Call<'static>>) {
        match self {
            Technique::Discovery => discovery(g, incident, seq),
            Technique::DefenseEvasion => defense_evasion(g, incident, seq),
            Technique::PersistenceIam => persistence_iam(g, incident, seq),
            Technique::PersistenceLambda => persistence_lambda(g, incident, seq),
            Technique::SecretTheft => secret_theft(g, incident, seq),
            Technique::Sharing => sharing(g, incident, seq),
            Technique::Exposure => exposure(g, incident, seq),
            Technique::RemoteExecution => remote_execution(g, incident, seq),
            Technique::Hijacking => hijacking(g, incident, seq),
            Technique::Destruction => destruction(g, incident, seq),
            Technique::ConsoleIntrusion => console_intrusion(g, incident, seq),
            Technique::InstanceCredentials => instance_credentials(g, incident, seq),
        }
    }
}

pub(super) fn attacks(g: &mut Gen<'_>) {
    let incidents = g.env.count(110);
    for n in 0..incidents {
        let technique = TECHNIQUES[n % TECHNIQUES.len()];
        let t = g.env.any_time(&mut g.rng);
        let actor = stolen_credentials(g);
        // Low-privilege credentials get many denials while exploring.
        let denial_rate = if g.rng.chance(0.4) { 0.5 } else { 0.05 };
        let region_hop = *g.rng.pick(&[
            "us-west-2",
            "eu-west-1",
            "ap-southeast-1",
            "sa-east-1",
            "eu-north-1",
            "ap-northeast-1",
        ]);
        let incident = Incident {
            region_hop,
            outsider: format!("{}", g.rng.range(100_000_000_000, 999_999_999_999)),
        };
        // Nearly every intrusion starts by asking who it is.
        let mut seq = vec![Call::new("sts.amazonaws.com", "GetCallerIdentity")];
        technique.add_calls(g, &incident, &mut seq);
        let actor = if technique == Technique::ConsoleIntrusion {
            console_actor(g, actor)
        } else if technique == Technique::InstanceCredentials {
            Actor {
                identity: Identity::Role {
                    role: "web-frontend-ec2".to_string(),
                    session: g.rng.pick(&g.env.instance_ids).clone(),
                    key: access_key(&mut g.rng, "ASIA"),
                    mfa: false,
                },
                ..actor
            }
        } else {
            actor
        };
        emit_incident(g, t, &actor, seq, denial_rate);
    }
}

/// A stolen IAM user key, an instance role's session or an SSO session, used with an
/// ordinary command-line client from the internet.
fn stolen_credentials(g: &mut Gen<'_>) -> Actor {
    let ip = g.env.internet_ip(&mut g.rng);
    let agent = g.rng.pick(CLI_AGENTS).to_string();
    let identity = match g.rng.below(4) {
        0 | 1 => Identity::IamUser {
            name: g
                .rng
                .pick(&[
                    "legacy-reporting",
                    "backup-script",
                    "ci-deploy",
                    "terraform",
                    "svc-analytics",
                    "j.doe",
                ])
                .to_string(),
            key: access_key(&mut g.rng, "AKIA"),
        },
        2 => Identity::Role {
            role: g
                .rng
                .pick(&["web-frontend-ec2", "ssm-managed-instance", "eks-node-group"])
                .to_string(),
            session: g.rng.pick(&g.env.instance_ids).clone(),
            key: access_key(&mut g.rng, "ASIA"),
            mfa: false,
        },
        _ => Identity::Role {
            role: "AWSReservedSSO_AdministratorAccess_5d2c0e7f1b3a4c6d".to_string(),
            session: format!("{}@acme.example", g.rng.pick(&g.env.people).name),
            key: access_key(&mut g.rng, "ASIA"),
            mfa: false,
        },
    };
    Actor {
        identity,
        ip,
        agent,
    }
}

/// Console intrusions sign in as a person or as root, with a browser.
fn console_actor(g: &mut Gen<'_>, actor: Actor) -> Actor {
    Actor {
        identity: if g.rng.chance(0.4) {
            Identity::Root { key: None }
        } else {
            Identity::IamUser {
                name: g
                    .rng
                    .pick(&["ops-breakglass", "j.doe", "finance-admin"])
                    .to_string(),
                key: String::new(),
            }
        },
        ip: actor.ip.clone(),
        agent: g.rng.pick(BROWSER_AGENTS).to_string(),
    }
}

fn emit_incident(
    g: &mut Gen<'_>,
    mut t: chrono::DateTime<chrono::Utc>,
    actor: &Actor,
    seq: Vec<Call<'static>>,
    denial_rate: f64,
) {
    for call in seq {
        t += Duration::milliseconds(g.rng.range(300, 90_000));
        let denied = call.error.is_none()
            && call.name != "GetCallerIdentity"
            && call.name != "ConsoleLogin"
            && g.rng.chance(denial_rate);
        let call = if denied {
            let code = if call.source == "ec2.amazonaws.com" {
                "Client.UnauthorizedOperation"
            } else {
                "AccessDenied"
            };
            call.error(code, "You are not authorized to perform this operation.")
        } else {
            call
        };
        let mut actor_now = actor.clone();
        if let Identity::IamUser { key, .. } = &mut actor_now.identity
            && key.is_empty()
        {
            // Console sessions of IAM users carry session keys.
            *key = access_key(&mut g.rng, "ASIA");
        }
        g.emit(
            t,
            &actor_now,
            call,
            Category::CriticalSecurity,
            "attack/cloudtrail",
        );
    }
}

/// Enumerating identities, data stores, detectors and every region.
fn discovery(g: &mut Gen<'_>, _incident: &Incident, seq: &mut Vec<Call<'static>>) {
    for (s, e) in [
        ("iam.amazonaws.com", "ListUsers"),
        ("iam.amazonaws.com", "ListRoles"),
        ("iam.amazonaws.com", "ListGroups"),
        ("iam.amazonaws.com", "ListPolicies"),
        ("iam.amazonaws.com", "GetAccountAuthorizationDetails"),
        ("iam.amazonaws.com", "ListAttachedUserPolicies"),
        ("iam.amazonaws.com", "GetAccountSummary"),
        ("s3.amazonaws.com", "ListBuckets"),
        ("secretsmanager.amazonaws.com", "ListSecrets"),
        ("ssm.amazonaws.com", "DescribeParameters"),
        ("lambda.amazonaws.com", "ListFunctions20150331"),
        ("rds.amazonaws.com", "DescribeDBInstances"),
        ("cloudtrail.amazonaws.com", "DescribeTrails"),
        ("guardduty.amazonaws.com", "ListDetectors"),
        ("organizations.amazonaws.com", "DescribeOrganization"),
    ] {
        if g.rng.chance(0.7) {
            seq.push(Call::new(s, e));
        }
    }
    for region in [
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
        "eu-west-1",
        "eu-central-1",
        "ap-south-1",
        "ap-northeast-1",
        "sa-east-1",
        "ca-central-1",
    ] {
        seq.push(Call::new("ec2.amazonaws.com", "DescribeInstances").region(region));
        if g.rng.chance(0.5) {
            seq.push(Call::new("ec2.amazonaws.com", "DescribeSecurityGroups").region(region));
        }
    }
    for _ in 0..g.rng.range(2, 8) {
        seq.push(
            Call::new("s3.amazonaws.com", "GetBucketPolicy")
                .params(json!({"bucketName": format!("acme-{}", g.rng.hex(6))})),
        );
    }
}

/// Turning off the trail, GuardDuty, flow logs, Config, alarms.
fn defense_evasion(g: &mut Gen<'_>, _incident: &Incident, seq: &mut Vec<Call<'static>>) {
    seq.push(Call::new("cloudtrail.amazonaws.com", "DescribeTrails"));
    let actions: &[(&str, &str)] = &[
        ("cloudtrail.amazonaws.com", "StopLogging"),
        ("cloudtrail.amazonaws.com", "DeleteTrail"),
        ("cloudtrail.amazonaws.com", "UpdateTrail"),
        ("cloudtrail.amazonaws.com", "PutEventSelectors"),
        ("guardduty.amazonaws.com", "DeleteDetector"),
        ("guardduty.amazonaws.com", "UpdateDetector"),
        ("guardduty.amazonaws.com", "CreateIPSet"),
        ("ec2.amazonaws.com", "DeleteFlowLogs"),
        ("config.amazonaws.com", "StopConfigurationRecorder"),
        ("config.amazonaws.com", "DeleteDeliveryChannel"),
        (
            "route53resolver.amazonaws.com",
            "DeleteResolverQueryLogConfig",
        ),
        ("logs.amazonaws.com", "DeleteLogGroup"),
        ("securityhub.amazonaws.com", "DisableSecurityHub"),
        ("organizations.amazonaws.com", "LeaveOrganization"),
        ("monitoring.amazonaws.com", "DeleteAlarms"),
    ];
    if g.rng.chance(0.5) {
        seq.push(Call::new("guardduty.amazonaws.com", "ListDetectors"));
        seq.push(Call::new("ec2.amazonaws.com", "DescribeFlowLogs"));
    }
    for _ in 0..g.rng.range(1, 4) {
        let (s, e) = *g.rng.pick(actions);
        let params = match e {
            "StopLogging" | "DeleteTrail" => {
                json!({"name": format!("arn:aws:cloudtrail:us-east-1:123456789012:trail/{}", g.rng.pick(&["org-trail", "management-events"]))})
            }
            "PutEventSelectors" => {
                json!({"trailName": "org-trail", "eventSelectors": [{"readWriteType": "ReadOnly", "includeManagementEvents": false, "dataResources": []}]})
            }
            "UpdateDetector" => json!({"detectorId": g.rng.hex(32), "enable": false}),
            "DeleteFlowLogs" => {
                json!({"DeleteFlowLogsRequest": {"FlowLogId": {"tag": 1, "content": format!("fl-0{}", g.rng.hex(16))}}})
            }
            _ => Value::Null,
        };
        seq.push(Call::new(s, e).params(params));
    }
}

/// A new user, role, trust or federation the attacker controls.
fn persistence_iam(g: &mut Gen<'_>, incident: &Incident, seq: &mut Vec<Call<'static>>) {
    let outsider = &incident.outsider;
    let new_user = g
        .rng
        .pick(&[
            "support-svc",
            "backup-admin",
            "aws-health",
            "devops2",
            "monitoring",
        ])
        .to_string();
    match g.rng.below(4) {
        0 => {
            seq.push(Call::new("iam.amazonaws.com", "ListUsers"));
            seq.push(
                Call::new("iam.amazonaws.com", "CreateUser").params(json!({"userName": new_user})),
            );
            seq.push(
                Call::new("iam.amazonaws.com", "CreateLoginProfile")
                    .params(json!({"userName": new_user, "passwordResetRequired": false})),
            );
            seq.push(Call::new("iam.amazonaws.com", "AttachUserPolicy").params(json!({"userName": new_user, "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"})));
            seq.push(
                Call::new("iam.amazonaws.com", "CreateAccessKey")
                    .params(json!({"userName": new_user})),
            );
        }
        1 => {
            seq.push(Call::new("iam.amazonaws.com", "ListRoles"));
            seq.push(Call::new("iam.amazonaws.com", "CreateRole").params(json!({"roleName": new_user, "assumeRolePolicyDocument": format!("{{\"Version\":\"2012-10-17\",\"Statement\":[{{\"Effect\":\"Allow\",\"Principal\":{{\"AWS\":\"arn:aws:iam::{outsider}:root\"}},\"Action\":\"sts:AssumeRole\"}}]}}")})));
            seq.push(Call::new("iam.amazonaws.com", "AttachRolePolicy").params(json!({"roleName": new_user, "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"})));
        }
        2 => {
            let target = g.rng.pick(&g.env.people).name.clone();
            seq.push(Call::new("iam.amazonaws.com", "ListUsers"));
            seq.push(
                Call::new("iam.amazonaws.com", "UpdateLoginProfile")
                    .params(json!({"userName": target})),
            );
            seq.push(
                Call::new("iam.amazonaws.com", "CreateAccessKey")
                    .params(json!({"userName": target})),
            );
            seq.push(Call::new("iam.amazonaws.com", "UpdateAssumeRolePolicy").params(json!({"roleName": "reporting-batch", "policyDocument": format!("{{\"Statement\":[{{\"Effect\":\"Allow\",\"Principal\":{{\"AWS\":\"arn:aws:iam::{outsider}:root\"}},\"Action\":\"sts:AssumeRole\"}}]}}")})));
        }
        _ => {
            seq.push(
                Call::new("rolesanywhere.amazonaws.com", "CreateTrustAnchor")
                    .params(json!({"name": new_user, "enabled": true})),
            );
            seq.push(Call::new("rolesanywhere.amazonaws.com", "CreateProfile").params(json!({"name": new_user, "roleArns": ["arn:aws:iam::123456789012:role/reporting-batch"]})));
            seq.push(
                Call::new("sts.amazonaws.com", "GetFederationToken")
                    .params(json!({"name": new_user, "durationSeconds": 129600})),
            );
        }
    }
}

/// A function backdoored through its code, a layer or its policy.
fn persistence_lambda(g: &mut Gen<'_>, incident: &Incident, seq: &mut Vec<Call<'static>>) {
    let outsider = &incident.outsider;
    seq.push(Call::new("lambda.amazonaws.com", "ListFunctions20150331"));
    let f = *g
        .rng
        .pick(&["orders-webhook", "image-resizer", "nightly-export"]);
    match g.rng.below(3) {
        0 => seq.push(Call::new("lambda.amazonaws.com", "UpdateFunctionCode20150331v2").params(json!({"functionName": f, "publish": true}))),
        1 => {
            seq.push(Call::new("lambda.amazonaws.com", "PublishLayerVersion20181031").params(json!({"layerName": "ext-telemetry"})));
            seq.push(Call::new("lambda.amazonaws.com", "UpdateFunctionConfiguration20150331v2").params(json!({"functionName": f, "layers": [format!("arn:aws:lambda:us-east-1:{outsider}:layer:ext-telemetry:1")]})));
        }
        _ => seq.push(Call::new("lambda.amazonaws.com", "AddPermission20150331v2").params(json!({"functionName": f, "statementId": "public", "action": "lambda:InvokeFunction", "principal": "*"}))),
    }
}

/// Secrets, decrypted parameters, instance passwords and user data read in bulk.
fn secret_theft(g: &mut Gen<'_>, _incident: &Incident, seq: &mut Vec<Call<'static>>) {
    match g.rng.below(4) {
        0 => {
            seq.push(Call::new("secretsmanager.amazonaws.com", "ListSecrets"));
            for _ in 0..g.rng.range(5, 25) {
                seq.push(
                    Call::new("secretsmanager.amazonaws.com", "GetSecretValue")
                        .params(json!({"secretId": g.rng.pick(SECRETS)})),
                );
            }
        }
        1 => {
            seq.push(Call::new("secretsmanager.amazonaws.com", "ListSecrets"));
            seq.push(
                Call::new("secretsmanager.amazonaws.com", "BatchGetSecretValue")
                    .params(json!({"filters": [{"key": "name", "values": ["prod"]}]})),
            );
        }
        2 => {
            seq.push(Call::new("ssm.amazonaws.com", "DescribeParameters"));
            for _ in 0..g.rng.range(3, 15) {
                seq.push(Call::new("ssm.amazonaws.com", "GetParameters").params(json!({"names": [format!("/prod/{}/password", g.rng.hex(4))], "withDecryption": true})));
            }
        }
        _ => {
            seq.push(Call::new("ec2.amazonaws.com", "DescribeInstances"));
            for _ in 0..g.rng.range(3, 20) {
                let id = g.rng.pick(&g.env.instance_ids).clone();
                if g.rng.chance(0.5) {
                    seq.push(
                        Call::new("ec2.amazonaws.com", "GetPasswordData")
                            .params(json!({"instanceId": id})),
                    );
                } else {
                    seq.push(
                        Call::new("ec2.amazonaws.com", "DescribeInstanceAttribute")
                            .params(json!({"instanceId": id, "attribute": "userData"})),
                    );
                }
            }
        }
    };
}

/// Snapshots, images or a bucket shared with an outside account, then read.
fn sharing(g: &mut Gen<'_>, incident: &Incident, seq: &mut Vec<Call<'static>>) {
    match g.rng.below(4) {
        0 => {
            seq.push(Call::new("ec2.amazonaws.com", "DescribeSnapshots"));
            seq.push(Call::new("ec2.amazonaws.com", "ModifySnapshotAttribute").params(json!({"snapshotId": format!("snap-0{}", g.rng.hex(16)), "createVolumePermission": {"add": {"items": [{"userId": incident.outsider}]}}, "attributeType": "CREATE_VOLUME_PERMISSION"})));
        }
        1 => {
            seq.push(Call::new("ec2.amazonaws.com", "DescribeImages"));
            seq.push(Call::new("ec2.amazonaws.com", "ModifyImageAttribute").params(json!({"imageId": format!("ami-0{}", g.rng.hex(16)), "launchPermission": {"add": {"items": [{"userId": incident.outsider}]}}})));
        }
        2 => {
            seq.push(Call::new("rds.amazonaws.com", "DescribeDBSnapshots"));
            seq.push(Call::new("rds.amazonaws.com", "ModifyDBSnapshotAttribute").params(json!({"dBSnapshotIdentifier": "orders-nightly", "attributeName": "restore", "valuesToAdd": [incident.outsider]})));
        }
        _ => {
            seq.push(Call::new("s3.amazonaws.com", "ListBuckets"));
            seq.push(
                Call::new("s3.amazonaws.com", "DeleteBucketPublicAccessBlock")
                    .params(json!({"bucketName": "acme-prod-data"})),
            );
            seq.push(Call::new("s3.amazonaws.com", "PutBucketPolicy").params(json!({"bucketName": "acme-prod-data", "bucketPolicy": {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::acme-prod-data/*"}]}})));
            for _ in 0..g.rng.range(5, 30) {
                seq.push(Call::new("s3.amazonaws.com", "GetObject").params(json!({"bucketName": "acme-prod-data", "key": format!("exports/{}.csv", g.rng.hex(10))})).data());
            }
        }
    };
}

/// A database or remote-access port opened to the internet.
fn exposure(g: &mut Gen<'_>, _incident: &Incident, seq: &mut Vec<Call<'static>>) {
    seq.push(Call::new("ec2.amazonaws.com", "DescribeSecurityGroups"));
    let port = *g.rng.pick(&[22, 3389, 5432, 3306, 6379]);
    seq.push(
        Call::new("ec2.amazonaws.com", "AuthorizeSecurityGroupIngress").params(sg_params(
            &mut g.rng,
            "0.0.0.0/0",
            port,
        )),
    );
}

/// Commands, sessions or keys pushed to instances; new instances for mining.
fn remote_execution(g: &mut Gen<'_>, incident: &Incident, seq: &mut Vec<Call<'static>>) {
    match g.rng.below(4) {
        0 => {
            for _ in 0..g.rng.range(3, 30) {
                seq.push(Call::new(
                    "ssm.amazonaws.com",
                    "DescribeInstanceInformation",
                ));
            }
            seq.push(Call::new("ssm.amazonaws.com", "SendCommand").params(json!({"documentName": "AWS-RunShellScript", "instanceIds": [g.rng.pick(&g.env.instance_ids)], "parameters": "HIDDEN_DUE_TO_SECURITY_REASONS"})));
            for _ in 0..g.rng.range(2, 10) {
                seq.push(Call::new("ssm.amazonaws.com", "GetCommandInvocation"));
            }
        }
        1 => {
            seq.push(Call::new(
                "ssm.amazonaws.com",
                "DescribeInstanceInformation",
            ));
            seq.push(
                Call::new("ssm.amazonaws.com", "StartSession")
                    .params(json!({"target": g.rng.pick(&g.env.instance_ids)})),
            );
            seq.push(Call::new("ssm.amazonaws.com", "TerminateSession"));
        }
        2 => {
            let id = g.rng.pick(&g.env.instance_ids).clone();
            if g.rng.chance(0.5) {
                seq.push(
                    Call::new("ec2-instance-connect.amazonaws.com", "SendSSHPublicKey")
                        .params(json!({"instanceId": id, "instanceOSUser": "ec2-user"})),
                );
            } else {
                seq.push(Call::new("ec2.amazonaws.com", "EnableSerialConsoleAccess"));
                seq.push(
                    Call::new(
                        "ec2-instance-connect.amazonaws.com",
                        "SendSerialConsoleSSHPublicKey",
                    )
                    .params(json!({"instanceId": id, "serialPort": 0})),
                );
            }
        }
        _ => {
            for _ in 0..g.rng.range(1, 6) {
                seq.push(Call::new("ec2.amazonaws.com", "RunInstances").region(incident.region_hop).params(json!({"instanceType": g.rng.pick(&["p3.16xlarge", "g5.12xlarge", "c6i.32xlarge", "p4d.24xlarge"]), "minCount": 10, "maxCount": 10, "userData": "<sensitiveDataRemoved>"})));
            }
            if g.rng.chance(0.5) {
                let id = g.rng.pick(&g.env.instance_ids).clone();
                seq.push(
                    Call::new("ec2.amazonaws.com", "StopInstances")
                        .params(json!({"instancesSet": {"items": [{"instanceId": id}]}})),
                );
                seq.push(
                    Call::new("ec2.amazonaws.com", "ModifyInstanceAttribute")
                        .params(json!({"instanceId": id, "userData": "<sensitiveDataRemoved>"})),
                );
                seq.push(
                    Call::new("ec2.amazonaws.com", "StartInstances")
                        .params(json!({"instancesSet": {"items": [{"instanceId": id}]}})),
                );
            }
        }
    };
}

/// Model access enabled and invoked (LLM hijacking).
fn hijacking(g: &mut Gen<'_>, incident: &Incident, seq: &mut Vec<Call<'static>>) {
    seq.push(Call::new("bedrock.amazonaws.com", "ListFoundationModels"));
    for _ in 0..g.rng.range(2, 8) {
        seq.push(Call::new(
            "bedrock.amazonaws.com",
            "GetFoundationModelAvailability",
        ));
    }
    for name in [
        "PutUseCaseForModelAccess",
        "CreateFoundationModelAgreement",
        "PutFoundationModelEntitlement",
    ] {
        seq.push(Call::new("bedrock.amazonaws.com", name));
    }
    for _ in 0..g.rng.range(3, 20) {
        seq.push(Call::new("bedrock.amazonaws.com", "InvokeModel").region(incident.region_hop));
    }
}

/// Keys, buckets, databases, backups and instances deleted.
fn destruction(g: &mut Gen<'_>, _incident: &Incident, seq: &mut Vec<Call<'static>>) {
    let actions: &[(&str, &str)] = &[
        ("kms.amazonaws.com", "ScheduleKeyDeletion"),
        ("s3.amazonaws.com", "DeleteBucket"),
        ("s3.amazonaws.com", "PutBucketLifecycleConfiguration"),
        ("rds.amazonaws.com", "DeleteDBInstance"),
        ("backup.amazonaws.com", "DeleteRecoveryPoint"),
        ("ec2.amazonaws.com", "TerminateInstances"),
        ("ec2.amazonaws.com", "DeleteVolume"),
    ];
    for _ in 0..g.rng.range(2, 12) {
        let (s, e) = *g.rng.pick(actions);
        seq.push(Call::new(s, e));
    }
}

/// Password guessing, then a sign-in without MFA, then a look around.
fn console_intrusion(g: &mut Gen<'_>, _incident: &Incident, seq: &mut Vec<Call<'static>>) {
    // Password guessing, then a sign-in without MFA, then a look around.
    let attempts = g.rng.range(3, 25);
    for _ in 0..attempts {
        let mut c = Call::new("signin.amazonaws.com", "ConsoleLogin")
            .response(json!({"ConsoleLogin": "Failure"}))
            .error("Failed authentication", "Failed authentication");
        c.event_type = "AwsConsoleSignIn";
        c.additional = json!({"LoginTo": "https://console.aws.amazon.com/console/home", "MobileVersion": "No", "MFAUsed": "No"});
        seq.push(c);
    }
    let mut c = Call::new("signin.amazonaws.com", "ConsoleLogin")
        .response(json!({"ConsoleLogin": "Success"}));
    c.event_type = "AwsConsoleSignIn";
    c.additional = json!({"LoginTo": "https://console.aws.amazon.com/console/home", "MobileVersion": "No", "MFAUsed": "No"});
    seq.push(c);
    seq.push(Call::new("iam.amazonaws.com", "ListUsers"));
    seq.push(Call::new("iam.amazonaws.com", "CreateAccessKey"));
}

/// An instance role's credentials used to read the data it can reach.
fn instance_credentials(g: &mut Gen<'_>, _incident: &Incident, seq: &mut Vec<Call<'static>>) {
    seq.push(Call::new("s3.amazonaws.com", "ListBuckets"));
    seq.push(Call::new("ec2.amazonaws.com", "DescribeInstances"));
    for _ in 0..g.rng.range(5, 40) {
        seq.push(Call::new("s3.amazonaws.com", "GetObject").params(json!({"bucketName": "acme-prod-data", "key": format!("exports/{}.parquet", g.rng.hex(10))})).data());
    }
}

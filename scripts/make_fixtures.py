#!/usr/bin/env python3
"""Writes the bundled sample objects under tests/fixtures/, one per AWS log format, each at
the S3 key AWS would deliver it under. All content is invented here (account 123456789012,
documentation IP ranges); nothing is copied from elsewhere. Output is deterministic (fixed
seed, gzip mtime 0), so re-running it changes no file.

    python3 scripts/make_fixtures.py
"""

import gzip
import json
import random
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
ACCOUNT = "123456789012"
REGION = "us-east-1"
rng = random.Random(20261120)
T0 = datetime(2026, 11, 20, 9, 55, 0, tzinfo=timezone.utc)


def iso(t, frac=False):
    if frac:
        return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def uid():
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def write(rel, data, compress=True):
    path = ROOT / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    if compress:
        data = gzip.compress(data, compresslevel=9, mtime=0)
    path.write_bytes(data)
    print(f"{path.relative_to(ROOT.parent.parent)}  ({len(data)} bytes)")


def compact(obj):
    return json.dumps(obj, separators=(",", ":"))


# --- CloudTrail ------------------------------------------------------------------------

OFFICE_IP = "198.51.100.24"
ATTACKER_IP = "203.0.113.77"

alice = {
    "type": "IAMUser",
    "principalId": "AIDA4EXAMPLEALICE0001",
    "arn": f"arn:aws:iam::{ACCOUNT}:user/alice",
    "accountId": ACCOUNT,
    "accessKeyId": "AKIA4EXAMPLEALICE001",
    "userName": "alice",
}
deploy_role = {
    "type": "AssumedRole",
    "principalId": "AROA4EXAMPLEDEPLOY01:ci-run-4821",
    "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/deploy/ci-run-4821",
    "accountId": ACCOUNT,
    "accessKeyId": "ASIA4EXAMPLEDEPLOY01",
    "sessionContext": {
        "sessionIssuer": {
            "type": "Role",
            "principalId": "AROA4EXAMPLEDEPLOY01",
            "arn": f"arn:aws:iam::{ACCOUNT}:role/deploy",
            "accountId": ACCOUNT,
            "userName": "deploy",
        },
        "webIdFederationData": {},
        "attributes": {"creationDate": "2026-11-20T09:50:03Z", "mfaAuthenticated": "false"},
    },
}
ec2_role = {
    "type": "AssumedRole",
    "principalId": "AROA4EXAMPLEAPPSRV01:i-0a1b2c3d4e5f67890",
    "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/app-server/i-0a1b2c3d4e5f67890",
    "accountId": ACCOUNT,
    "accessKeyId": "ASIA4EXAMPLEAPPSRV01",
    "sessionContext": {
        "sessionIssuer": {
            "type": "Role",
            "principalId": "AROA4EXAMPLEAPPSRV01",
            "arn": f"arn:aws:iam::{ACCOUNT}:role/app-server",
            "accountId": ACCOUNT,
            "userName": "app-server",
        },
        "attributes": {"creationDate": "2026-11-20T08:12:40Z", "mfaAuthenticated": "false"},
        "ec2RoleDelivery": "2.0",
    },
}
mallory = dict(alice, principalId="AIDA4EXAMPLEMALLORY1", arn=f"arn:aws:iam::{ACCOUNT}:user/svc-backup",
               accessKeyId="AKIA4EXAMPLEBACKUP01", userName="svc-backup")
root = {"type": "Root", "principalId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:root", "accountId": ACCOUNT}
CLI = "aws-cli/2.22.4 md/awscrt#0.23.4 ua/2.0 os/linux#6.8.0 md/arch#x86_64 lang/python#3.12.7 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe"
CONSOLE = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
SDK = "aws-sdk-go-v2/1.32.6 os/linux lang/go#1.23.3 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.196.0"


def event(t, identity, source, name, ip, agent, params=None, response=None, read_only=True,
          error=None, category="Management", event_type="AwsApiCall", resources=None,
          additional=None, extra=None):
    e = {
        "eventVersion": "1.11",
        "userIdentity": identity,
        "eventTime": iso(t),
        "eventSource": source,
        "eventName": name,
        "awsRegion": REGION,
        "sourceIPAddress": ip,
        "userAgent": agent,
    }
    if error:
        e["errorCode"], e["errorMessage"] = error
    e["requestParameters"] = params
    e["responseElements"] = response
    if additional:
        e["additionalEventData"] = additional
    e["requestID"] = uid()
    e["eventID"] = uid()
    e["readOnly"] = read_only
    if resources:
        e["resources"] = resources
    e["eventType"] = event_type
    e["managementEvent"] = category == "Management"
    e["recipientAccountId"] = ACCOUNT
    e["eventCategory"] = category
    if event_type == "AwsApiCall" and not ip.endswith("amazonaws.com"):
        host = source.replace(".amazonaws.com", f".{REGION}.amazonaws.com")
        e["tlsDetails"] = {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
                           "clientProvidedHostHeader": host}
    if extra:
        e.update(extra)
    return e


def cloudtrail_events():
    t = T0
    ev = []

    def step(seconds=None):
        nonlocal t
        t += timedelta(seconds=seconds if seconds is not None else rng.randint(3, 25))
        return t

    routine = [
        (ec2_role, "ssm.amazonaws.com", "UpdateInstanceInformation", "10.0.1.23", SDK,
         {"instanceId": "i-0a1b2c3d4e5f67890", "agentVersion": "3.3.1142.0", "agentStatus": "Active"}, False),
        (deploy_role, "ec2.amazonaws.com", "DescribeInstances", "198.51.100.40", SDK,
         {"instancesSet": {}, "filterSet": {"items": [{"name": "tag:env", "valueSet": {"items": [{"value": "prod"}]}}]}}, True),
        (alice, "s3.amazonaws.com", "ListBuckets", OFFICE_IP, CLI, {"Host": "s3.us-east-1.amazonaws.com"}, True),
        (deploy_role, "sts.amazonaws.com", "GetCallerIdentity", "198.51.100.40", SDK, None, True),
        (alice, "iam.amazonaws.com", "ListRoles", OFFICE_IP, CLI, {"maxItems": 100}, True),
        (ec2_role, "secretsmanager.amazonaws.com", "GetSecretValue", "10.0.1.23", SDK,
         {"secretId": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:prod/db-AbCdEf"}, True),
        (deploy_role, "ec2.amazonaws.com", "DescribeSecurityGroups", "198.51.100.40", SDK, {"securityGroupSet": {}}, True),
        (alice, "rds.amazonaws.com", "DescribeDBInstances", OFFICE_IP, CLI, None, True),
        (ec2_role, "kms.amazonaws.com", "Decrypt", "10.0.1.23", SDK,
         {"encryptionAlgorithm": "SYMMETRIC_DEFAULT"}, True),
        (alice, "cloudtrail.amazonaws.com", "LookupEvents", OFFICE_IP, CONSOLE,
         {"maxResults": 50, "lookupAttributes": [{"attributeKey": "EventName", "attributeValue": "ConsoleLogin"}]}, True),
        (deploy_role, "ecr.amazonaws.com", "GetAuthorizationToken", "198.51.100.40", SDK, None, True),
        (ec2_role, "ssm.amazonaws.com", "GetParameter", "10.0.1.23", SDK, {"name": "/prod/app/feature-flags", "withDecryption": False}, True),
    ]
    for i in range(20):
        who, src, name, ip, agent, params, ro = routine[i % len(routine)]
        ev.append(event(step(), who, src, name, ip, agent, params, None, ro))

    # An AWS service acting on the account's behalf.
    ev.append(event(step(), {"type": "AWSService", "invokedBy": "cloudtrail.amazonaws.com"},
                    "sts.amazonaws.com", "AssumeRole", "cloudtrail.amazonaws.com", "cloudtrail.amazonaws.com",
                    {"roleArn": f"arn:aws:iam::{ACCOUNT}:role/cloudtrail-cw", "roleSessionName": "cloudtrail"},
                    {"credentials": {"accessKeyId": "ASIA4EXAMPLECTCW0001", "expiration": "Nov 20, 2026, 11:00:00 AM"}},
                    True, resources=[{"accountId": ACCOUNT, "type": "AWS::IAM::Role",
                                      "ARN": f"arn:aws:iam::{ACCOUNT}:role/cloudtrail-cw"}],
                    extra={"sharedEventID": uid()}))
    # A data event.
    ev.append(event(step(), ec2_role, "s3.amazonaws.com", "GetObject", "10.0.1.23", SDK,
                    {"bucketName": "prod-app-assets", "Host": "prod-app-assets.s3.us-east-1.amazonaws.com",
                     "key": "config/app.json"}, None, True, category="Data",
                    resources=[{"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::prod-app-assets/config/app.json"},
                               {"accountId": ACCOUNT, "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::prod-app-assets"}],
                    additional={"SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256",
                                "bytesTransferredIn": 0, "bytesTransferredOut": 2048, "AuthenticationMethod": "AuthHeader"},
                    extra={"vpcEndpointId": "vpce-0a1b2c3d4e5f67890", "vpcEndpointAccountId": ACCOUNT}))

    # Password spraying against the console, then a login without MFA.
    for _ in range(4):
        ev.append(event(step(2), {"type": "IAMUser", "principalId": "AIDA4EXAMPLEMALLORY1", "accountId": ACCOUNT,
                                  "accessKeyId": "", "userName": "svc-backup"},
                        "signin.amazonaws.com", "ConsoleLogin", ATTACKER_IP, CONSOLE, None,
                        {"ConsoleLogin": "Failure"}, False, error=None, event_type="AwsConsoleSignIn",
                        additional={"LoginTo": "https://console.aws.amazon.com/console/home", "MobileVersion": "No",
                                    "MFAUsed": "No"},
                        extra={"errorMessage": "Failed authentication"}))
    ev.append(event(step(5), {"type": "Root", "principalId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:root",
                              "accountId": ACCOUNT, "accessKeyId": ""},
                    "signin.amazonaws.com", "ConsoleLogin", ATTACKER_IP, CONSOLE, None,
                    {"ConsoleLogin": "Failure"}, False, event_type="AwsConsoleSignIn",
                    additional={"LoginTo": "https://console.aws.amazon.com/console/home", "MobileVersion": "No",
                                "MFAUsed": "No"},
                    extra={"errorMessage": "Failed authentication"}))
    ev.append(event(step(4), dict(mallory, accessKeyId=""), "signin.amazonaws.com", "ConsoleLogin", ATTACKER_IP,
                    CONSOLE, None, {"ConsoleLogin": "Success"}, False, event_type="AwsConsoleSignIn",
                    additional={"LoginTo": "https://console.aws.amazon.com/console/home", "MobileVersion": "No",
                                "MFAUsed": "No"}))
    # Persistence and privilege escalation from the attacker's address.
    ev.append(event(step(), mallory, "iam.amazonaws.com", "CreateUser", ATTACKER_IP, CONSOLE,
                    {"userName": "support-sync"},
                    {"user": {"path": "/", "userName": "support-sync", "userId": "AIDA4EXAMPLESUPPORT1",
                              "arn": f"arn:aws:iam::{ACCOUNT}:user/support-sync", "createDate": "Nov 20, 2026, 10:02:11 AM"}},
                    False))
    ev.append(event(step(), mallory, "iam.amazonaws.com", "AttachUserPolicy", ATTACKER_IP, CONSOLE,
                    {"userName": "support-sync", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
                    None, False))
    ev.append(event(step(), mallory, "iam.amazonaws.com", "CreateAccessKey", ATTACKER_IP, CONSOLE,
                    {"userName": "support-sync"},
                    {"accessKey": {"userName": "support-sync", "accessKeyId": "AKIA4EXAMPLESUPPORT1",
                                   "status": "Active", "createDate": "Nov 20, 2026, 10:02:40 AM"}},
                    False))
    ev.append(event(step(), mallory, "ec2.amazonaws.com", "AuthorizeSecurityGroupIngress", ATTACKER_IP, CONSOLE,
                    {"groupId": "sg-0a1b2c3d4e5f67890",
                     "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "groups": {},
                                                  "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]},
                                                  "ipv6Ranges": {}, "prefixListIds": {}}]}},
                    {"requestId": uid(), "_return": True,
                     "securityGroupRuleSet": {"items": [{"groupOwnerId": ACCOUNT, "groupId": "sg-0a1b2c3d4e5f67890",
                                                         "securityGroupRuleId": "sgr-0a1b2c3d4e5f67890",
                                                         "isEgress": False, "ipProtocol": "tcp", "fromPort": 22,
                                                         "toPort": 22, "cidrIpv4": "0.0.0.0/0"}]}},
                    False))
    ev.append(event(step(), mallory, "s3.amazonaws.com", "PutBucketPolicy", ATTACKER_IP, CONSOLE,
                    {"bucketName": "prod-app-assets", "Host": "prod-app-assets.s3.us-east-1.amazonaws.com",
                     "bucketPolicy": {"Version": "2012-10-17", "Statement": [
                         {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                          "Resource": "arn:aws:s3:::prod-app-assets/*"}]}, "policy": ""},
                    None, False))
    # Defence evasion: blind the trail.
    trail = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/main-trail"
    ev.append(event(step(), mallory, "cloudtrail.amazonaws.com", "StopLogging", ATTACKER_IP, CONSOLE,
                    {"name": trail}, None, False))
    ev.append(event(step(), mallory, "cloudtrail.amazonaws.com", "DeleteTrail", ATTACKER_IP, CONSOLE,
                    {"name": trail}, None, False))
    ev.append(event(step(), mallory, "ec2.amazonaws.com", "DeleteFlowLogs", ATTACKER_IP, CONSOLE,
                    {"DeleteFlowLogsRequest": {"FlowLogId": {"tag": 1, "content": "fl-0a1b2c3d4e5f67890"}}},
                    {"DeleteFlowLogsResponse": {"xmlns": "http://ec2.amazonaws.com/doc/2016-11-15/",
                                                "requestId": uid(), "unsuccessful": ""}},
                    False))
    # A denied call, and routine activity that carries on.
    ev.append(event(step(), ec2_role, "iam.amazonaws.com", "ListUsers", "10.0.1.23", SDK, None, None, True,
                    error=("AccessDenied", f"User: arn:aws:sts::{ACCOUNT}:assumed-role/app-server/i-0a1b2c3d4e5f67890 "
                                           "is not authorized to perform: iam:ListUsers on resource: "
                                           f"arn:aws:iam::{ACCOUNT}:user/ because no identity-based policy allows "
                                           "the iam:ListUsers action")))
    for i in range(3):
        who, src, name, ip, agent, params, ro = routine[i]
        ev.append(event(step(), who, src, name, ip, agent, params, None, ro))
    return ev


CT_EVENTS = []


def cloudtrail():
    events = cloudtrail_events()
    CT_EVENTS.extend(events)
    write(f"AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/2026/11/20/"
          f"{ACCOUNT}_CloudTrail_{REGION}_20261120T1005Z_Qx7sLm2PaBcD3eFg.json.gz",
          compact({"Records": events}))
    digest = {
        "awsAccountId": ACCOUNT,
        "digestStartTime": "2026-11-20T09:05:12Z",
        "digestEndTime": "2026-11-20T10:05:12Z",
        "digestS3Bucket": "org-trail-logs",
        "digestS3Object": f"AWSLogs/{ACCOUNT}/CloudTrail-Digest/{REGION}/2026/11/20/"
                          f"{ACCOUNT}_CloudTrail-Digest_{REGION}_main-trail_{REGION}_20261120T100512Z.json.gz",
        "digestPublicKeyFingerprint": "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
        "digestSignatureAlgorithm": "SHA256withRSA",
        "newestEventTime": events[-1]["eventTime"],
        "oldestEventTime": events[0]["eventTime"],
        "previousDigestS3Bucket": "org-trail-logs",
        "previousDigestS3Object": None,
        "previousDigestHashValue": None,
        "previousDigestHashAlgorithm": None,
        "previousDigestSignature": None,
        "logFiles": [{
            "s3Bucket": "org-trail-logs",
            "s3Object": f"AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/2026/11/20/"
                        f"{ACCOUNT}_CloudTrail_{REGION}_20261120T1005Z_Qx7sLm2PaBcD3eFg.json.gz",
            "hashValue": "%064x" % rng.getrandbits(256),
            "hashAlgorithm": "SHA-256",
            "newestEventTime": events[-1]["eventTime"],
            "oldestEventTime": events[0]["eventTime"],
        }],
    }
    write(f"AWSLogs/{ACCOUNT}/CloudTrail-Digest/{REGION}/2026/11/20/"
          f"{ACCOUNT}_CloudTrail-Digest_{REGION}_main-trail_{REGION}_20261120T100512Z.json.gz", compact(digest))
    return len(events)


# --- VPC flow logs ------------------------------------------------------------------------

def vpcflow():
    fields = ("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes "
              "start end action log-status vpc-id subnet-id instance-id tcp-flags type pkt-srcaddr "
              "pkt-dstaddr region az-id flow-direction traffic-path")
    lines = [fields]
    start = int(datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc).timestamp())
    eni, vpc, subnet, inst = "eni-0a1b2c3d4e5f67890", "vpc-0a1b2c3d4e5f67890", "subnet-0a1b2c3d4e5f67890", "i-0a1b2c3d4e5f67890"
    for i in range(12):
        s = start + i * 10
        port = rng.choice([443, 443, 443, 5432, 53])
        proto = 17 if port == 53 else 6
        lines.append(f"5 {ACCOUNT} {eni} 10.0.1.23 192.0.2.{rng.randint(10, 200)} {rng.randint(32768, 60999)} {port} "
                     f"{proto} {rng.randint(4, 80)} {rng.randint(400, 90000)} {s} {s + 60} ACCEPT OK {vpc} {subnet} "
                     f"{inst} {19 if proto == 6 else 0} IPv4 10.0.1.23 192.0.2.{rng.randint(10, 200)} {REGION} use1-az2 egress 1")
    # An SSH scan from outside, rejected.
    for p in range(6):
        s = start + 130 + p
        lines.append(f"5 {ACCOUNT} {eni} {ATTACKER_IP} 10.0.1.23 {40000 + p} 22 6 1 44 {s} {s + 55} REJECT OK "
                     f"{vpc} {subnet} {inst} 2 IPv4 {ATTACKER_IP} 10.0.1.23 {REGION} use1-az2 ingress -")
    lines.append(f"5 {ACCOUNT} eni-0f9e8d7c6b5a43210 - - - - - - - {start} {start + 60} - NODATA "
                 f"{vpc} {subnet} - - - - - {REGION} use1-az2 - -")
    write(f"AWSLogs/{ACCOUNT}/vpcflowlogs/{REGION}/2026/11/20/"
          f"{ACCOUNT}_vpcflowlogs_{REGION}_fl-0a1b2c3d4e5f67890_20261120T1005Z_3f9a1c2e.log.gz", "\n".join(lines) + "\n")
    return len(lines) - 1


# --- Elastic Load Balancing -----------------------------------------------------------------

def alb():
    lines = []
    t = datetime(2026, 11, 20, 10, 0, 3, 120000, tzinfo=timezone.utc)
    lb = "app/shop-web/7f3e2d1c0b9a8f76"
    tg = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/shop-web/0a1b2c3d4e5f6071"
    cert = f"arn:aws:acm:{REGION}:{ACCOUNT}:certificate/0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9"
    paths = ["/", "/products?page=2", "/cart", "/api/v1/orders", "/static/app.js"]
    for i in range(10):
        t += timedelta(milliseconds=rng.randint(80, 900))
        path = paths[i % len(paths)]
        status = 200 if i % 7 else 304
        client = f"198.51.100.{rng.randint(2, 250)}:{rng.randint(30000, 65000)}"
        lines.append(
            f'h2 {iso(t, True)} {lb} {client} 10.0.2.15:8080 0.000 0.{rng.randint(5, 90):03d} 0.000 {status} {status} '
            f'{rng.randint(200, 900)} {rng.randint(300, 40000)} "GET https://shop.example.com:443{path} HTTP/2.0" '
            f'"{CONSOLE}" TLS_AES_128_GCM_SHA256 TLSv1.3 {tg} "Root=1-{rng.getrandbits(32):08x}-{rng.getrandbits(96):024x}" '
            f'"shop.example.com" "{cert}" 10 {iso(t - timedelta(milliseconds=2), True)} "waf,forward" "-" "-" '
            f'"10.0.2.15:8080" "{status}" "-" "-" TID_{rng.getrandbits(64):016x}')
    # A blocked injection attempt and a scanner probe.
    t += timedelta(seconds=2)
    lines.append(
        f'https {iso(t, True)} {lb} {ATTACKER_IP}:51515 - -1 -1 -1 403 - 412 202 '
        f'"GET https://shop.example.com:443/products?id=1%27%20OR%20%271%27=%271 HTTP/1.1" "sqlmap/1.8.11#stable (https://sqlmap.org)" '
        f'TLS_AES_128_GCM_SHA256 TLSv1.3 - "Root=1-{rng.getrandbits(32):08x}-{rng.getrandbits(96):024x}" "shop.example.com" '
        f'"{cert}" 0 {iso(t, True)} "waf" "-" "-" "-" "-" "-" "-" TID_{rng.getrandbits(64):016x}')
    lines.append(
        f'http {iso(t + timedelta(seconds=1), True)} {lb} {ATTACKER_IP}:51600 - -1 -1 -1 301 - 95 378 '
        f'"GET http://shop.example.com:80/.env HTTP/1.1" "curl/8.5.0" - - - "Root=1-{rng.getrandbits(32):08x}-{rng.getrandbits(96):024x}" '
        f'"-" "-" 0 {iso(t + timedelta(seconds=1), True)} "redirect" "https://shop.example.com:443/.env" "-" "-" "-" "-" "-" '
        f'TID_{rng.getrandbits(64):016x}')
    write(f"AWSLogs/{ACCOUNT}/elasticloadbalancing/{REGION}/2026/11/20/"
          f"{ACCOUNT}_elasticloadbalancing_{REGION}_app.shop-web.7f3e2d1c0b9a8f76_20261120T1005Z_10.0.1.44_5k2j9x0q.log.gz",
          "\n".join(lines) + "\n")
    return len(lines)


def nlb():
    lines = []
    t = datetime(2026, 11, 20, 10, 1, 0, tzinfo=timezone.utc)
    cert = f"arn:aws:acm:{REGION}:{ACCOUNT}:certificate/9f8e7d6c-5b4a-3928-1706-f5e4d3c2b1a0"
    for i in range(5):
        t += timedelta(seconds=rng.randint(1, 20))
        lines.append(
            f'tls 2.0 {t.strftime("%Y-%m-%dT%H:%M:%S")} net/edge-nlb/4c5d6e7f8a9b0c1d 2b7e151628aed2a6 '
            f'198.51.100.{rng.randint(2, 250)}:{rng.randint(30000, 65000)} 10.0.3.7:443 {rng.randint(20, 3000)} '
            f'{rng.randint(2, 30)} {rng.randint(300, 5000)} {rng.randint(1000, 90000)} - {cert} - '
            f'ECDHE-RSA-AES128-GCM-SHA256 tlsv12 secp256r1 api.example.com h2 h2 "h2","http/1.1" '
            f'{(t - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S")}')
    write(f"AWSLogs/{ACCOUNT}/elasticloadbalancing/{REGION}/2026/11/20/"
          f"{ACCOUNT}_elasticloadbalancing_{REGION}_net.edge-nlb.4c5d6e7f8a9b0c1d_20261120T1005Z_2b7e1516.log.gz",
          "\n".join(lines) + "\n")
    return len(lines)


def classic_elb():
    lines = []
    t = datetime(2026, 11, 20, 9, 59, 0, 5, tzinfo=timezone.utc)
    for i in range(4):
        t += timedelta(seconds=rng.randint(1, 50))
        backend = "-" if i == 3 else "10.0.4.4:80"
        status = 503 if i == 3 else 200
        lines.append(
            f'{iso(t, True)} legacy-web 192.0.2.{rng.randint(2, 250)}:{rng.randint(30000, 65000)} {backend} '
            f'0.000041 {"-1" if i == 3 else "0.001022"} 0.000036 {status} {"-" if i == 3 else 200} 0 {rng.randint(200, 4000)} '
            f'"GET http://legacy.example.com:80/status HTTP/1.1" "kube-probe/1.31" - -')
    # Classic load balancers write plain text objects.
    write(f"AWSLogs/{ACCOUNT}/elasticloadbalancing/{REGION}/2026/11/20/"
          f"{ACCOUNT}_elasticloadbalancing_{REGION}_legacy-web_20261120T1000Z_10.0.4.10_1a2b3c4d.log",
          "\n".join(lines) + "\n", compress=False)
    return len(lines)


# --- CloudFront ------------------------------------------------------------------------------

def cloudfront():
    fields = ("date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) "
              "cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header "
              "cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher "
              "x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port "
              "time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len "
              "sc-range-start sc-range-end")
    lines = ["#Version: 1.0", f"#Fields: {fields}"]
    t = datetime(2026, 11, 20, 10, 0, 1, tzinfo=timezone.utc)
    for i in range(8):
        t += timedelta(seconds=rng.randint(0, 30))
        hit = rng.choice(["Hit", "Hit", "Miss", "RefreshHit"])
        path = rng.choice(["/index.html", "/static/app.js", "/img/logo.png", "/api/config"])
        size = rng.randint(300, 120000)
        tt = rng.randint(1, 300) / 1000
        row = [t.strftime("%Y-%m-%d"), t.strftime("%H:%M:%S"), "IAD89-C1", str(size + 400),
               f"198.51.100.{rng.randint(2, 250)}", "GET", "d1a2b3c4d5e6f7.cloudfront.net", path, "200", "-",
               "Mozilla/5.0%20(Macintosh;%20Intel%20Mac%20OS%20X%2014_6)%20AppleWebKit/605.1.15",
               "-", "-", hit, "%040x==" % rng.getrandbits(160), "www.example.com", "https", str(rng.randint(80, 400)),
               f"{tt:.3f}", "-", "TLSv1.3", "TLS_AES_128_GCM_SHA256", hit, "HTTP/2.0", "-", "-",
               str(rng.randint(30000, 65000)), f"{tt * 0.9:.3f}", hit, "text/html", str(size), "-", "-"]
        lines.append("\t".join(row))
    write("cloudfront/E2EXAMPLE0FIXT.2026-11-20-10.a1b2c3d4.gz", "\n".join(lines) + "\n")
    return len(lines) - 2


# --- S3 server access ------------------------------------------------------------------------

def s3access():
    owner = "%064x" % rng.getrandbits(256)
    lines = []
    t = datetime(2026, 11, 20, 10, 4, 0, tzinfo=timezone.utc)
    ops = [("REST.GET.OBJECT", "GET", "config/app.json", 200, "-", 2048),
           ("REST.PUT.OBJECT", "PUT", "uploads/report-1120.pdf", 200, "-", 5_600_000_000),
           ("REST.GET.BUCKETPOLICY", "GET", "-", 404, "NoSuchBucketPolicy", 0),
           ("REST.GET.OBJECT", "GET", "private/customers.csv", 403, "AccessDenied", 0),
           ("REST.HEAD.OBJECT", "HEAD", "config/app.json", 200, "-", 2048)]
    for i, (op, method, key, status, err, size) in enumerate(ops):
        t += timedelta(seconds=rng.randint(1, 40))
        uri = f"/prod-app-assets/{key}" if key != "-" else "/prod-app-assets?policy"
        requester = f"arn:aws:iam::{ACCOUNT}:user/alice" if i != 3 else "-"
        ip = OFFICE_IP if i != 3 else ATTACKER_IP
        sent = "-" if status >= 400 and size == 0 else str(size if method == "GET" else 0)
        lines.append(
            f'{owner} prod-app-assets [{t.strftime("%d/%b/%Y:%H:%M:%S")} +0000] {ip} {requester} '
            f'{rng.getrandbits(64):016X} {op} {key} "{method} {uri} HTTP/1.1" {status} {err} {sent} '
            f'{size if size else "-"} {rng.randint(8, 900)} {rng.randint(1, 60)} "-" "{CLI}" - '
            f'{rng.getrandbits(256):x}= SigV4 TLS_AES_128_GCM_SHA256 {"AuthHeader" if i != 3 else "-"} '
            f'prod-app-assets.s3.us-east-1.amazonaws.com TLSv1.3 - -')
    # A lifecycle expiry written by S3 itself (fewer fields, old layout).
    lines.append(f'{owner} prod-app-assets [{t.strftime("%d/%b/%Y:%H:%M:%S")} +0000] - AmazonS3 '
                 f'{rng.getrandbits(64):016X} S3.EXPIRE.OBJECT tmp/old-export.csv "-" - - - 1024 - - "-" "-" -')
    write("s3-access-logs/2026-11-20-10-05-12-7D3C1B2A4E5F6A7B", "\n".join(lines) + "\n", compress=False)
    return len(lines)


# --- WAF, GuardDuty, Route 53, Network Firewall ------------------------------------------------

def waf():
    acl = f"arn:aws:wafv2:{REGION}:{ACCOUNT}:regional/webacl/shop-acl/0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9"
    src = f"{ACCOUNT}-app/shop-web/7f3e2d1c0b9a8f76"
    base = int(datetime(2026, 11, 20, 10, 0, 5, tzinfo=timezone.utc).timestamp() * 1000)
    records = []
    for i in range(6):
        blocked = i in (2, 4)
        rec = {
            "timestamp": base + i * 1370,
            "formatVersion": 1,
            "webaclId": acl,
            "terminatingRuleId": "AWS-AWSManagedRulesSQLiRuleSet" if blocked else "Default_Action",
            "terminatingRuleType": "MANAGED_RULE_GROUP" if blocked else "REGULAR",
            "action": "BLOCK" if blocked else "ALLOW",
            "terminatingRuleMatchDetails": [],
            "httpSourceName": "ALB",
            "httpSourceId": src,
            "ruleGroupList": [{
                "ruleGroupId": "AWS#AWSManagedRulesSQLiRuleSet",
                "terminatingRule": {"ruleId": "SQLi_QUERYARGUMENTS", "action": "BLOCK", "ruleMatchDetails": None}
                if blocked else None,
                "nonTerminatingMatchingRules": [],
                "excludedRules": None,
                "customerConfig": None,
            }],
            "rateBasedRuleList": [],
            "nonTerminatingMatchingRules": [],
            "requestHeadersInserted": None,
            "responseCodeSent": None,
            "httpRequest": {
                "clientIp": ATTACKER_IP if blocked else f"198.51.100.{rng.randint(2, 250)}",
                "country": "NL" if blocked else "US",
                "headers": [{"name": "Host", "value": "shop.example.com"},
                            {"name": "User-Agent", "value": "sqlmap/1.8.11#stable" if blocked else "Mozilla/5.0"}],
                "uri": "/products",
                "args": "id=1%27%20OR%20%271%27=%271" if blocked else "page=2",
                "httpVersion": "HTTP/2.0",
                "httpMethod": "GET",
                "requestId": f"1-{rng.getrandbits(32):08x}-{rng.getrandbits(96):024x}",
                "fragment": "",
                "scheme": "https",
                "host": "shop.example.com",
            },
            "labels": [{"name": "awswaf:managed:aws:sql-database:SQLi_QueryArguments"}] if blocked else [],
            "ja3Fingerprint": "%032x" % rng.getrandbits(128),
            "ja4Fingerprint": "t13d1516h2_8daaf6152771_02713d6af862",
        }
        records.append(compact(rec))
    # The last two as Firehose writes them: concatenated, no newline between.
    text = "\n".join(records[:-2]) + "\n" + records[-2] + records[-1] + "\n"
    write(f"AWSLogs/{ACCOUNT}/WAFLogs/{REGION}/shop-acl/2026/11/20/10/05/"
          f"{ACCOUNT}_waflogs_{REGION}_shop-acl_20261120T1005Z_9c1e7a3b.log.gz", text)
    return len(records)


def guardduty():
    def finding(kind, title, severity, resource, service, created, updated):
        fid = "%032x" % rng.getrandbits(128)
        return compact({
            "schemaVersion": "2.0", "accountId": ACCOUNT, "region": REGION, "partition": "aws", "id": fid,
            "arn": f"arn:aws:guardduty:{REGION}:{ACCOUNT}:detector/0a1b2c3d4e5f60718293a4b5c6d7e8f9/finding/{fid}",
            "type": kind, "resource": resource, "service": service, "severity": severity,
            "createdAt": created, "updatedAt": updated, "title": title,
            "description": title + ".",
        })
    instance = {"resourceType": "Instance", "instanceDetails": {"instanceId": "i-0a1b2c3d4e5f67890",
                                                                "instanceType": "m7g.large"}}
    key = {"resourceType": "AccessKey", "accessKeyDetails": {"accessKeyId": "AKIA4EXAMPLEBACKUP01",
                                                            "principalId": "AIDA4EXAMPLEMALLORY1",
                                                            "userName": "svc-backup", "userType": "IAMUser"}}
    lines = [
        finding("UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom", "API CreateAccessKey was invoked from an IP address on a custom threat list",
                5.0, key, {"serviceName": "guardduty", "action": {"actionType": "AWS_API_CALL", "awsApiCallAction": {
                    "api": "CreateAccessKey", "serviceName": "iam.amazonaws.com", "remoteIpDetails": {"ipAddressV4": ATTACKER_IP}}},
                    "count": 3, "eventFirstSeen": "2026-11-20T10:02:40Z", "eventLastSeen": "2026-11-20T10:04:10Z"},
                "2026-11-20T10:03:00.512Z", "2026-11-20T10:05:02.118Z"),
        finding("Recon:EC2/PortProbeUnprotectedPort", "Unprotected port on EC2 instance i-0a1b2c3d4e5f67890 is being probed",
                2.0, instance, {"serviceName": "guardduty", "action": {"actionType": "PORT_PROBE", "portProbeAction": {
                    "blocked": False, "portProbeDetails": [{"localPortDetails": {"port": 22, "portName": "SSH"},
                                                            "remoteIpDetails": {"ipAddressV4": ATTACKER_IP}}]}},
                    "count": 6},
                "2026-11-20T10:02:15.000Z", "2026-11-20T10:04:55.731Z"),
        finding("Stealth:IAMUser/CloudTrailLoggingDisabled", "AWS CloudTrail trail main-trail was disabled",
                2.5, key, {"serviceName": "guardduty", "action": {"actionType": "AWS_API_CALL", "awsApiCallAction": {
                    "api": "StopLogging", "serviceName": "cloudtrail.amazonaws.com"}}, "count": 1},
                "2026-11-20T10:03:30.204Z", "2026-11-20T10:03:30.204Z"),
    ]
    write(f"AWSLogs/{ACCOUNT}/GuardDuty/{REGION}/2026/11/20/5f0c2a8e-3b1d-4c6f-9a7e-2d4b8c1f0e93.jsonl.gz",
          "\n".join(lines) + "\n")
    return len(lines)


def route53():
    vpc = "vpc-0a1b2c3d4e5f67890"
    lines = []
    t = datetime(2026, 11, 20, 10, 0, 0, tzinfo=timezone.utc)
    names = [("api.example.com.", "A", "NOERROR", [{"Rdata": "192.0.2.80", "Type": "A", "Class": "IN"}]),
             ("s3.us-east-1.amazonaws.com.", "A", "NOERROR", [{"Rdata": "192.0.2.81", "Type": "A", "Class": "IN"}]),
             ("nonexistent.internal.example.", "AAAA", "NXDOMAIN", []),
             ("23.1.0.10.in-addr.arpa.", "PTR", "NOERROR", [{"Rdata": "ip-10-0-1-23.ec2.internal.", "Type": "PTR", "Class": "IN"}])]
    for i in range(8):
        t += timedelta(seconds=rng.randint(1, 20))
        name, qtype, rcode, answers = names[i % len(names)]
        lines.append(compact({"version": "1.100000", "account_id": ACCOUNT, "region": REGION, "vpc_id": vpc,
                              "query_timestamp": iso(t), "query_name": name, "query_type": qtype, "query_class": "IN",
                              "rcode": rcode, "answers": answers, "srcaddr": "10.0.1.23",
                              "srcport": str(rng.randint(30000, 60000)), "transport": "UDP",
                              "srcids": {"instance": "i-0a1b2c3d4e5f67890"}}))
    lines.append(compact({"version": "1.100000", "account_id": ACCOUNT, "region": REGION, "vpc_id": vpc,
                          "query_timestamp": iso(t + timedelta(seconds=3)), "query_name": "xj3k9q.c2-relay.example.",
                          "query_type": "TXT", "query_class": "IN", "rcode": "NOERROR", "answers": [],
                          "srcaddr": "10.0.1.23", "srcport": "51234", "transport": "UDP",
                          "srcids": {"instance": "i-0a1b2c3d4e5f67890"}, "firewall_rule_action": "BLOCK",
                          "firewall_rule_group_id": "rslvr-frg-0a1b2c3d4e5f6071",
                          "firewall_domain_list_id": "rslvr-fdl-0a1b2c3d4e5f6071",
                          "firewall_protection": "DNS_TUNNELING"}))
    write(f"AWSLogs/{ACCOUNT}/vpcdnsquerylogs/{vpc}/2026/11/20/"
          f"{vpc}_vpcdnsquerylogs_{ACCOUNT}_20261120T1005Z_71584702.log.gz", "\n".join(lines) + "\n")
    return len(lines)


def network_firewall():
    fw = "egress-fw"
    counts = {}

    def put(kind, rows):
        write(f"AWSLogs/{ACCOUNT}/network-firewall/{kind}/{REGION}/{fw}/2026/11/20/10/"
              f"{ACCOUNT}_network-firewall_{kind}_{REGION}_{fw}_202611201005_{rng.getrandbits(32):08x}.log.gz",
              "\n".join(compact(r) for r in rows) + "\n")
        counts[kind] = len(rows)

    base = int(datetime(2026, 11, 20, 10, 1, 0, tzinfo=timezone.utc).timestamp())

    def envelope(i, event):
        ts = base + i * 17
        event.setdefault("timestamp",
                         datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f+0000"))
        return {"firewall_name": fw, "availability_zone": f"{REGION}a", "event_timestamp": str(ts), "event": event}

    put("alert", [envelope(i, {
        "flow_id": rng.getrandbits(50), "event_type": "alert", "src_ip": "10.0.1.23",
        "src_port": rng.randint(30000, 60000), "dest_ip": "192.0.2.200", "dest_port": 443, "proto": "TCP",
        "app_proto": "tls", "direction": "to_server",
        "alert": {"action": "blocked", "signature_id": 2027758 + i, "rev": 3, "gid": 1,
                  "signature": "ET MALWARE Observed C2 Domain in TLS SNI", "category": "Domain Observed Used for C2 Detected",
                  "severity": 1},
        "tls": {"sni": "c2-relay.example", "version": "TLS 1.2"}}) for i in range(3)])
    put("flow", [envelope(i, {
        "flow_id": rng.getrandbits(50), "event_type": "netflow", "src_ip": "10.0.1.23",
        "src_port": rng.randint(30000, 60000), "dest_ip": f"192.0.2.{rng.randint(2, 250)}", "dest_port": 443,
        "proto": "TCP", "app_proto": "tls",
        "netflow": {"pkts": rng.randint(5, 90), "bytes": rng.randint(500, 90000),
                    "start": "2026-11-20T10:00:58.000000+0000", "end": "2026-11-20T10:01:03.000000+0000",
                    "age": 5, "min_ttl": 63, "max_ttl": 64},
        "tcp": {"tcp_flags": "1b", "syn": True, "fin": True, "psh": True, "ack": True}}) for i in range(4)])
    put("tls", [envelope(i, {
        "src_ip": "10.0.1.23", "src_port": str(rng.randint(30000, 60000)), "dest_ip": "192.0.2.44",
        "dest_port": "443", "sni": "expired.example.org",
        "tls_error": {"error_message": "certificate verify failed: certificate has expired"},
        "revocation_check": {"leaf_cert_fpr": "%064x" % rng.getrandbits(256), "action": "DROP", "status": "REVOKED"}})
        for i in range(2)])
    return counts


# --- CloudWatch Logs via Firehose ------------------------------------------------------------

def cloudwatch():
    base = int(datetime(2026, 11, 20, 10, 2, 0, tzinfo=timezone.utc).timestamp() * 1000)
    lambda_events = []
    for i, (level, text) in enumerate([("INFO", "order 4821 accepted"), ("WARN", "payment retry 1/3"),
                                       ("ERROR", "payment provider timeout after 3000 ms")]):
        ts = base + i * 250
        when = datetime.fromtimestamp(ts / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        lambda_events.append({"id": str(rng.getrandbits(180)), "timestamp": ts,
                              "message": f"{when}\t{uid()}\t{level}\t{text}\n"})
    lambda_events.append({"id": str(rng.getrandbits(180)), "timestamp": base + 900,
                          "message": "REPORT RequestId: 7c1e... Duration: 812.33 ms Billed Duration: 813 ms Memory Size: 512 MB\n"})
    # StopLogging again, as delivered through the trail's CloudWatch Logs group.
    trail_event = next(e for e in CT_EVENTS if e["eventName"] == "StopLogging")
    envelopes = [
        {"messageType": "CONTROL_MESSAGE", "owner": "CloudwatchLogs", "logGroup": "", "logStream": "",
         "subscriptionFilters": [], "logEvents": [{"id": "", "timestamp": base - 5000,
                                                   "message": "CWL CONTROL MESSAGE: Checking health of destination Firehose."}]},
        {"messageType": "DATA_MESSAGE", "owner": ACCOUNT, "logGroup": "/aws/lambda/orders-api",
         "logStream": "2026/11/20/[$LATEST]0a1b2c3d4e5f60718293a4b5c6d7e8f9",
         "subscriptionFilters": ["all-to-firehose"], "logEvents": lambda_events},
        {"messageType": "DATA_MESSAGE", "owner": ACCOUNT, "logGroup": "aws-cloudtrail-logs-main",
         "logStream": f"{ACCOUNT}_CloudTrail_{REGION}", "subscriptionFilters": ["all-to-firehose"],
         "logEvents": [{"id": str(rng.getrandbits(180)), "timestamp": base + 2000, "message": compact(trail_event)}]},
        {"messageType": "DATA_MESSAGE", "owner": ACCOUNT, "logGroup": "/vpc/flow-logs",
         "logStream": "eni-0a1b2c3d4e5f67890-all", "subscriptionFilters": ["all-to-firehose"],
         "logEvents": [{"id": str(rng.getrandbits(180)), "timestamp": base + 3000,
                        "message": f"2 {ACCOUNT} eni-0a1b2c3d4e5f67890 {ATTACKER_IP} 10.0.1.23 40001 22 6 1 44 "
                                   f"{base // 1000} {base // 1000 + 60} REJECT OK"}]},
    ]
    # Firehose stores each CloudWatch Logs record still gzip'd: one gzip member per record.
    data = b"".join(gzip.compress(compact(e).encode(), compresslevel=9, mtime=0) for e in envelopes)
    path = ROOT / "firehose/cwl-to-s3/2026/11/20/10/cwl-to-s3-1-2026-11-20-10-05-00-4e1f9c2a-8b7d-4a3e-9f1c-2b6d8e0a7c53"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    print(f"{path.relative_to(ROOT.parent.parent)}  ({len(data)} bytes)")
    return sum(len(e["logEvents"]) for e in envelopes if e["messageType"] == "DATA_MESSAGE")


if __name__ == "__main__":
    counts = {
        "cloudtrail": cloudtrail(),
        "vpcflow": vpcflow(),
        "alb": alb(),
        "nlb": nlb(),
        "classic-elb": classic_elb(),
        "cloudfront": cloudfront(),
        "s3access": s3access(),
        "waf": waf(),
        "guardduty": guardduty(),
        "route53resolver": route53(),
        "networkfirewall": network_firewall(),
        "cloudwatch": cloudwatch(),
    }
    print(counts)

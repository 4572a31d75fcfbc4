//! Sources that judge traffic themselves: GuardDuty findings and Network Firewall alerts
//! and TLS events.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::{Env, LabelledRaw, Raw, rfc3339};
use crate::ml::Category;
use crate::record::LogType;
use crate::training::rng::SplitMix64;

/// (finding type, severity, title, label). Low-severity probes of exposed services are
/// the background of every account; the rest describe compromise.
const FINDINGS: &[(&str, f64, &str, Category)] = &[
    (
        "Recon:EC2/PortProbeUnprotectedPort",
        2.0,
        "Unprotected port on EC2 instance is being probed.",
        Category::Normal,
    ),
    (
        "UnauthorizedAccess:EC2/SSHBruteForce",
        2.0,
        "SSH brute force attacks against an EC2 instance.",
        Category::Normal,
    ),
    (
        "Policy:IAMUser/RootCredentialUsage",
        2.0,
        "API was invoked using root credentials.",
        Category::Normal,
    ),
    (
        "Recon:EC2/PortProbeEMRUnprotectedPort",
        2.0,
        "Unprotected EMR port is being probed.",
        Category::Normal,
    ),
    (
        "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
        8.0,
        "Credentials for an EC2 instance role were used from a remote AWS account or outside AWS.",
        Category::CriticalSecurity,
    ),
    (
        "CryptoCurrency:EC2/BitcoinTool.B!DNS",
        8.0,
        "EC2 instance queried a domain name associated with cryptocurrency activity.",
        Category::CriticalSecurity,
    ),
    (
        "Backdoor:EC2/C&CActivity.B",
        8.0,
        "EC2 instance is communicating with a known command and control server.",
        Category::CriticalSecurity,
    ),
    (
        "Trojan:EC2/DNSDataExfiltration",
        8.0,
        "EC2 instance is exfiltrating data through DNS queries.",
        Category::CriticalSecurity,
    ),
    (
        "Exfiltration:S3/AnomalousBehavior",
        8.0,
        "An IAM entity invoked an S3 API in a suspicious way.",
        Category::CriticalSecurity,
    ),
    (
        "CredentialAccess:IAMUser/AnomalousBehavior",
        5.0,
        "An API used to gain access to an AWS environment was invoked in an anomalous way.",
        Category::CriticalSecurity,
    ),
    (
        "Stealth:IAMUser/CloudTrailLoggingDisabled",
        2.0,
        "AWS CloudTrail trail was disabled.",
        Category::CriticalSecurity,
    ),
    (
        "PrivilegeEscalation:IAMUser/AnomalousBehavior",
        5.0,
        "An API commonly used to obtain high-level permissions was invoked in an anomalous way.",
        Category::CriticalSecurity,
    ),
    (
        "Recon:EC2/Portscan",
        5.0,
        "EC2 instance is performing outbound port scans to a remote host.",
        Category::CriticalSecurity,
    ),
    (
        "Execution:EC2/MaliciousFile",
        8.0,
        "A malicious file was detected on an EC2 instance.",
        Category::CriticalSecurity,
    ),
    (
        "Impact:EC2/WinRMBruteForce",
        8.0,
        "EC2 instance is performing an outbound Windows Remote Management brute force attack.",
        Category::CriticalSecurity,
    ),
];

/// GuardDuty findings and firewall alerts come from benign activity too: their scenario
/// follows the label.
fn scenario_of(label: Category, benign: &'static str, attack: &'static str) -> &'static str {
    if label == Category::Normal {
        benign
    } else {
        attack
    }
}

pub fn generate_guardduty(env: &Env, rng: &mut SplitMix64) -> Vec<LabelledRaw> {
    let mut rng = rng.fork("findings");
    let detector = rng.hex(32);
    let weights: Vec<f64> = FINDINGS
        .iter()
        .map(|f| if f.3 == Category::Normal { 6.0 } else { 1.0 })
        .collect();
    (0..env.count(700))
        .map(|_| {
            let t = env.any_time(&mut rng);
            let (kind, base, title, label) = FINDINGS[rng.weighted(&weights)];
            let severity = (base + rng.unit() * 0.9).min(8.9);
            let id = rng.hex(32);
            let finding = json!({
                "schemaVersion": "2.0",
                "accountId": env.account,
                "region": env.region,
                "partition": "aws",
                "id": id,
                "arn": format!("arn:aws:guardduty:{}:{}:detector/{detector}/finding/{id}", env.region, env.account),
                "type": kind,
                "resource": {"resourceType": "Instance", "instanceDetails": {"instanceId": rng.pick(&env.instance_ids)}},
                "service": {
                    "serviceName": "guardduty",
                    "detectorId": detector,
                    "eventFirstSeen": rfc3339(t - Duration::minutes(rng.range(1, 600))),
                    "eventLastSeen": rfc3339(t),
                    "archived": false,
                    "count": rng.range(1, 40),
                },
                "severity": (severity * 10.0).round() / 10.0,
                "createdAt": rfc3339(t - Duration::minutes(rng.range(1, 600))),
                "updatedAt": rfc3339(t),
                "title": title,
                "description": title,
            });
            let scenario = scenario_of(label, "benign/guardduty", "attack/guardduty");
            let raw = Raw::Json(finding.to_string());
            LabelledRaw::new(LogType::GuardDuty, raw, t, label, scenario)
        })
        .collect()
}

/// (signature, category, severity, label).
const SIGNATURES: &[(&str, &str, i64, Category)] = &[
    (
        "ET POLICY GNU/Linux APT User-Agent Outbound likely related to package management",
        "Not Suspicious Traffic",
        3,
        Category::Normal,
    ),
    (
        "ET POLICY Python-urllib/ Suspicious User Agent",
        "Attempted Information Leak",
        2,
        Category::Normal,
    ),
    (
        "ET INFO Observed DNS Query to .cloud TLD",
        "Potentially Bad Traffic",
        3,
        Category::Normal,
    ),
    (
        "aws:alert_established matched allowed domain list",
        "Misc activity",
        3,
        Category::Normal,
    ),
    (
        "ET SCAN Suspicious inbound to PostgreSQL port 5432",
        "Potentially Bad Traffic",
        2,
        Category::Normal,
    ),
    (
        "ET SCAN Potential SSH Scan",
        "Attempted Information Leak",
        2,
        Category::Normal,
    ),
    (
        "ET TROJAN Observed Malicious SSL Cert (Cobalt Strike C2)",
        "A Network Trojan was detected",
        1,
        Category::CriticalSecurity,
    ),
    (
        "ET COINMINER Observed DNS Query to Cryptocurrency Mining Pool Domain",
        "Crypto Currency Mining Activity Detected",
        1,
        Category::CriticalSecurity,
    ),
    (
        "ET EXPLOIT Apache log4j RCE Attempt (CVE-2021-44228)",
        "Attempted Administrator Privilege Gain",
        1,
        Category::CriticalSecurity,
    ),
    (
        "ET MALWARE Possible Reverse Shell Outbound",
        "A Network Trojan was detected",
        1,
        Category::CriticalSecurity,
    ),
    (
        "ET EXPLOIT Possible CVE-2023-46604 Apache ActiveMQ Exploit",
        "Attempted Administrator Privilege Gain",
        1,
        Category::CriticalSecurity,
    ),
];

fn firewall_event(
    env: &Env,
    t: DateTime<Utc>,
    event: serde_json::Value,
    rng: &mut SplitMix64,
) -> String {
    json!({
        "firewall_name": "prod-egress-fw",
        "availability_zone": format!("{}{}", env.region, rng.pick(&["a", "b", "c"])),
        "event_timestamp": t.timestamp().to_string(),
        "event": event,
    })
    .to_string()
}

pub fn generate_firewall(env: &Env, rng: &mut SplitMix64) -> Vec<LabelledRaw> {
    let mut rng = rng.fork("nfw");
    let mut out = Vec::new();
    let weights: Vec<f64> = SIGNATURES
        .iter()
        .map(|s| if s.3 == Category::Normal { 8.0 } else { 1.0 })
        .collect();
    for _ in 0..env.count(2_500) {
        let t = env.any_time(&mut rng);
        let i = rng.weighted(&weights);
        let (signature, category, severity, label) = SIGNATURES[i];
        let inbound_scan = signature.starts_with("ET SCAN");
        let (src, dst) = if inbound_scan {
            (
                env.internet_ip(&mut rng),
                rng.pick(&env.instance_ips).clone(),
            )
        } else {
            (
                rng.pick(&env.instance_ips).clone(),
                env.internet_ip(&mut rng),
            )
        };
        let action = if inbound_scan || (label == Category::CriticalSecurity && rng.chance(0.6)) {
            "blocked"
        } else {
            "allowed"
        };
        let dest_port = if inbound_scan {
            *rng.pick(&[22, 5432, 3389])
        } else {
            *rng.pick(&[443, 443, 80, 8443, 4444])
        };
        let event = json!({
            "timestamp": t.format("%Y-%m-%dT%H:%M:%S%.6f+0000").to_string(),
            "flow_id": rng.range(1, 1 << 50),
            "event_type": "alert",
            "src_ip": src,
            "src_port": rng.range(1024, 65535),
            "dest_ip": dst,
            "dest_port": dest_port,
            "proto": "TCP",
            "app_proto": if dest_port == 443 { "tls" } else { "unknown" },
            "alert": {
                "action": action,
                "signature_id": 2_000_000 + i as i64 * 1_117,
                "rev": rng.range(1, 9),
                "signature": signature,
                "category": category,
                "severity": severity,
            },
        });
        let scenario = scenario_of(label, "benign/firewall", "attack/firewall");
        let raw = Raw::Json(firewall_event(env, t, event, &mut rng));
        let alert = LabelledRaw::new(LogType::NetworkFirewallAlert, raw, t, label, scenario);
        out.push(alert);
    }
    // TLS inspection: mostly clean revocation checks, some failing handshakes.
    for _ in 0..env.count(800) {
        let t = env.any_time(&mut rng);
        let failing = rng.chance(0.12);
        let mut event = json!({
            "timestamp": t.format("%Y-%m-%dT%H:%M:%S%.6f+0000").to_string(),
            "event_type": "tls",
            "src_ip": rng.pick(&env.instance_ips),
            "src_port": rng.range(1024, 65535),
            "dest_ip": env.internet_ip(&mut rng),
            "dest_port": 443,
            "sni": rng.pick(&["api.stripe.com", "hooks.slack.com", "github.com", "intake.logs.datadoghq.com", "pypi.org"]),
        });
        if failing {
            event["tls_error"] = json!({"error_message": rng.pick(&["certificate has expired", "unable to get local issuer certificate", "handshake failure: no shared cipher"])});
        } else {
            event["revocation_check"] =
                json!({"leaf_cert_fpr": rng.hex(40), "action": "pass", "status": "good"});
        }
        let (label, scenario) = if failing {
            (Category::SystemError, "ops/tls-error")
        } else {
            (Category::Normal, "benign/tls")
        };
        let raw = Raw::Json(firewall_event(env, t, event, &mut rng));
        let tls = LabelledRaw::new(LogType::NetworkFirewallTls, raw, t, label, scenario);
        out.push(tls);
    }
    out
}

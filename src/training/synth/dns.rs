//! Route 53 Resolver query logs.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::{Env, LabelledRaw, Raw, Records, rfc3339};
use crate::ml::Category;
use crate::record::LogType;
use crate::training::rng::SplitMix64;

const DOMAINS: &[(&str, f64)] = &[
    ("sts.us-east-1.amazonaws.com", 8.0),
    ("s3.us-east-1.amazonaws.com", 10.0),
    ("dynamodb.us-east-1.amazonaws.com", 6.0),
    ("ssm.us-east-1.amazonaws.com", 5.0),
    ("ec2messages.us-east-1.amazonaws.com", 4.0),
    ("secretsmanager.us-east-1.amazonaws.com", 3.0),
    ("logs.us-east-1.amazonaws.com", 5.0),
    ("api.stripe.com", 3.0),
    ("hooks.slack.com", 1.0),
    ("registry.npmjs.org", 1.0),
    ("pypi.org", 1.0),
    ("github.com", 1.5),
    ("intake.logs.datadoghq.com", 3.0),
    ("orders.prod.internal", 6.0),
    ("db-primary.prod.internal", 4.0),
    ("cache.prod.internal", 4.0),
    ("shop.example.com", 2.0),
    ("time.aws.com", 1.0),
];

fn entry(
    rng: &mut SplitMix64,
    env: &Env,
    t: DateTime<Utc>,
    query: &str,
    qtype: &str,
    rcode: &str,
    firewall: Option<&str>,
) -> String {
    let answers: Value = if rcode == "NOERROR" {
        json!([{"Rdata": format!("10.0.{}.{}", rng.range(0, 20), rng.range(1, 254)), "Type": qtype, "Class": "IN"}])
    } else {
        json!([])
    };
    let mut v = json!({
        "version": "1.100000",
        "account_id": env.account,
        "region": env.region,
        "vpc_id": "vpc-0a1b2c3d4e5f60718",
        "query_timestamp": rfc3339(t),
        "query_name": format!("{query}."),
        "query_type": qtype,
        "query_class": "IN",
        "rcode": rcode,
        "answers": answers,
        "srcaddr": rng.pick(&env.instance_ips),
        "srcport": rng.range(1024, 65535).to_string(),
        "transport": "UDP",
        "srcids": {"instance": rng.pick(&env.instance_ids)},
    });
    if let Some(action) = firewall {
        v["firewall_rule_action"] = json!(action);
        v["firewall_rule_group_id"] = json!("rslvr-frg-0123456789abcdef");
        v["firewall_domain_list_id"] = json!("rslvr-fdl-fedcba9876543210");
    }
    v.to_string()
}

fn base32(rng: &mut SplitMix64, len: usize) -> String {
    rng.alnum_upper(len).to_ascii_lowercase()
}

pub fn generate(env: &Env, rng: &mut SplitMix64) -> Vec<LabelledRaw> {
    let mut rng = rng.fork("queries");
    let mut out = Records::new(LogType::Route53Resolver);
    for _ in 0..env.count(7_000) {
        let t = env.any_time(&mut rng);
        let domain = rng.pick_weighted(DOMAINS, |d| d.1).0;
        let roll = rng.unit();
        let e = if roll < 0.05 {
            // Search-domain expansion: the resolver first tries the name under the VPC
            // domain, which does not exist.
            entry(
                &mut rng,
                env,
                t,
                &format!("{domain}.ec2.internal"),
                "A",
                "NXDOMAIN",
                None,
            )
        } else {
            let qtype = *rng.pick(&["A", "A", "A", "AAAA"]);
            entry(&mut rng, env, t, domain, qtype, "NOERROR", None)
        };
        out.push(t, Raw::Json(e), Category::Normal, "benign/dns");
    }
    // Resolution failures when an upstream is down.
    for _ in 0..env.count(25) {
        let mut t = env.any_time(&mut rng);
        let domain = rng.pick_weighted(DOMAINS, |d| d.1).0;
        for _ in 0..rng.range(3, 15) {
            t += Duration::milliseconds(rng.range(100, 5000));
            let e = entry(&mut rng, env, t, domain, "A", "SERVFAIL", None);
            out.push(t, Raw::Json(e), Category::SystemError, "ops/dns-servfail");
        }
    }
    for n in 0..env.count(45) {
        let mut t = env.any_time(&mut rng);
        match n % 3 {
            // Data smuggled out in query names.
            0 => {
                let zone = format!(
                    "{}.{}",
                    base32(&mut rng, 6),
                    rng.pick(&["net", "xyz", "top"])
                );
                for _ in 0..rng.range(10, 50) {
                    t += Duration::milliseconds(rng.range(20, 2000));
                    let len = rng.range(30, 62) as usize;
                    let q = format!("{}.{}.{zone}", base32(&mut rng, len), base32(&mut rng, 12));
                    let qtype = *rng.pick(&["TXT", "TXT", "NULL", "A"]);
                    let e = entry(&mut rng, env, t, &q, qtype, "NOERROR", None);
                    out.push(
                        t,
                        Raw::Json(e),
                        Category::CriticalSecurity,
                        "attack/dns-tunnel",
                    );
                }
            }
            // Malware trying generated rendezvous domains.
            1 => {
                for _ in 0..rng.range(10, 40) {
                    t += Duration::milliseconds(rng.range(20, 800));
                    let len = rng.range(12, 24) as usize;
                    let q = format!(
                        "{}.{}",
                        base32(&mut rng, len),
                        rng.pick(&["com", "net", "info", "biz"])
                    );
                    let e = entry(&mut rng, env, t, &q, "A", "NXDOMAIN", None);
                    out.push(t, Raw::Json(e), Category::CriticalSecurity, "attack/dga");
                }
            }
            // Known-bad destinations stopped by DNS Firewall.
            _ => {
                let bad = *rng.pick(&[
                    "xmr-pool.minexmr.example",
                    "update-check.badcdn.top",
                    "login-microsoft.secure-verify.example",
                    "pastebin-raw.example.ru",
                ]);
                for _ in 0..rng.range(2, 12) {
                    t += Duration::seconds(rng.range(1, 300));
                    let e = entry(&mut rng, env, t, bad, "A", "NXDOMAIN", Some("BLOCK"));
                    out.push(
                        t,
                        Raw::Json(e),
                        Category::CriticalSecurity,
                        "attack/dns-blocked",
                    );
                }
            }
        }
    }
    out.into_vec()
}

//! A generator of realistic benign and attack activity, as raw AWS logs, for training the
//! default models. Deterministic: the same seed gives the same records byte for byte.
//!
//! It simulates one organisation over two weeks: services and automation (instance
//! profiles, Lambda roles, AWS services), people (SSO sessions in the console, a few IAM
//! users with long-term keys for CI and scripts), web traffic through an ALB behind WAF,
//! VPC flows, DNS queries, Network Firewall alerts, GuardDuty findings and application
//! logs. Into that it mixes attack scenarios written from MITRE ATT&CK's cloud matrix
//! (stolen keys doing discovery, defense evasion, persistence, credential access,
//! exfiltration, remote execution, resource hijacking; web injection and credential
//! stuffing; scans, brute force, tunnels and beacons on the network; intrusions in host
//! logs), plus operational trouble (server errors, throttling, timeouts, slow requests).
//!
//! # Labels (weak labelling rules)
//!
//! Each record's label comes from the scenario that produced it, by these rules:
//! - every record an attack scenario emits is `critical_security`, including the
//!   attacker's ordinary-looking reads (an analyst wants the whole intrusion);
//! - records of operational failures (5xx, service errors, SERVFAIL, crashes, ERROR and
//!   FATAL log lines, TLS errors) are `system_error`;
//! - slowness and saturation (throttling, timeouts, slow responses, pool exhaustion, GC
//!   pauses) is `performance`;
//! - everything else is `normal`, including the benign noise that resembles attacks
//!   (internet background scans rejected at the edge, low-severity GuardDuty probes,
//!   a mistyped console password, WAF blocks of oversized uploads, admins changing IAM).
//!
//! Every record is emitted as the raw text AWS would deliver (a CloudTrail event, a VPC
//! flow line under its header, an ALB line, ...) and becomes a [`Record`] only through
//! the real parsers, exactly like production data.
//!
//! [`Record`]: crate::record::Record

mod cloudtrail;
mod dns;
mod network;
mod security;
mod text;
mod web;

use chrono::{DateTime, Duration, TimeZone, Utc};
use smart_default::SmartDefault;

use super::labelled;
pub use super::labelled::{LabelledRaw, Raw};
use super::rng::SplitMix64;
use super::train::Dataset;
use crate::behaviour::BehaviourConfig;
use crate::detection::RulePack;
use crate::features::Extractor;
use crate::ml::Category;
use crate::patterns::AnalyzerConfig;
use crate::record::{LogType, Record};
use crate::training::replay::{analyze_as_delivered, behaviour_as_delivered};

/// What to generate: which organisation, how much, over which period.
#[derive(Debug, Clone, SmartDefault)]
pub struct SynthConfig {
    /// Seed of every random choice; the same seed gives the same records.
    #[default(20_250_106)]
    pub seed: u64,
    /// Multiplies every volume (1.0 gives about 75,000 records).
    #[default(1.0)]
    pub scale: f64,
    /// Start of the simulated period.
    #[default(Utc.with_ymd_and_hms(2025, 1, 6, 0, 0, 0).unwrap())]
    pub start: DateTime<Utc>,
    /// Length of the period in days.
    #[default(14)]
    pub days: i64,
}

/// Sizes of the organisations training data is generated for, as shares of the
/// configured scale. The pattern stage's flags depend on volume (a template seen five
/// times is rare; a principal needs ten observed transitions before an unseen one
/// counts), so models learn them from small deployments as well as from a large one.
pub const TRAINING_VOLUMES: [f64; 5] = [1.0, 0.5, 0.5, 0.1, 0.03];

/// The organisations of a training run: the configured one, then smaller ones
/// ([`TRAINING_VOLUMES`]) with seeds derived from its seed. Each is generated and
/// replayed through the pattern stage on its own, as separate deployments would be.
pub fn training_organisations(config: &SynthConfig) -> Vec<SynthConfig> {
    TRAINING_VOLUMES
        .iter()
        .enumerate()
        .map(|(k, share)| SynthConfig {
            seed: config.seed.wrapping_add(k as u64),
            scale: config.scale * share,
            ..config.clone()
        })
        .collect()
}

/// Generates every log type, sorted by time within each log type.
pub fn generate(config: &SynthConfig) -> Vec<LabelledRaw> {
    let root = SplitMix64::new(config.seed);
    let env = Env::new(&mut root.fork("environment"), config);
    let mut out = Vec::new();
    let mut add = |mut part: Vec<LabelledRaw>| {
        part.sort_by_key(|r| r.time);
        out.extend(part);
    };
    add(cloudtrail::generate(&env, &mut root.fork("cloudtrail")));
    add(network::generate(&env, &mut root.fork("vpcflow")));
    add(web::generate_alb(&env, &mut root.fork("alb")));
    add(web::generate_waf(&env, &mut root.fork("waf")));
    add(dns::generate(&env, &mut root.fork("dns")));
    add(security::generate_guardduty(
        &env,
        &mut root.fork("guardduty"),
    ));
    add(security::generate_firewall(
        &env,
        &mut root.fork("firewall"),
    ));
    add(text::generate(&env, &mut root.fork("text")));
    out
}

/// Parses generated records with the real parsers, replays them through the pattern
/// stage and the behaviour history as the function would meet them (`training::replay`),
/// extracts their features with the embedded rules' knowledge slots, and labels them from
/// knowledge (`training::knowledge`: a CloudTrail record only the generator calls an
/// attack is left out, so the dataset can hold fewer rows than `items`). Every generated
/// record must parse: a failure means the generator and a parser disagree, and is an
/// error rather than a silently smaller training set.
pub fn to_dataset(
    items: &[LabelledRaw],
    extractor: &Extractor,
) -> Result<(Dataset, Vec<Record>), String> {
    let mut records = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let record = labelled::parse_raw(
            item.log_type,
            item.raw.text(),
            item.header.as_deref(),
            "synthetic",
        )
        .map_err(|e| {
            format!(
                "generated record {i} ({}, {}): {e}: {}",
                item.log_type,
                item.scenario,
                item.raw.text()
            )
        })?;
        records.push(record);
    }
    analyze_as_delivered(&mut records, AnalyzerConfig::default());
    behaviour_as_delivered(&mut records, BehaviourConfig::default());
    let rules = RulePack::embedded();
    let mut data = Dataset::new();
    for (item, record) in items.iter().zip(&records) {
        let mut row = extractor.extract(record);
        crate::ml::knowledge::fill(&mut row, record, &rules);
        if let Some(label) = super::knowledge::label(item.label, &row, record) {
            data.push_typed(item.log_type, &row, label);
        }
    }
    Ok((data, records))
}

/// Counts per log type and label, for manifests and reports.
pub fn summary(
    items: &[LabelledRaw],
) -> std::collections::BTreeMap<String, std::collections::BTreeMap<Category, u64>> {
    let mut out: std::collections::BTreeMap<String, std::collections::BTreeMap<Category, u64>> =
        Default::default();
    for item in items {
        *out.entry(item.log_type.name().to_string())
            .or_default()
            .entry(item.label)
            .or_default() += 1;
    }
    out
}

/// The simulated organisation.
pub struct Env {
    /// The organisation's AWS account id.
    pub account: &'static str,
    /// Another AWS account id, outside the organisation.
    pub partner_account: &'static str,
    /// The region most activity happens in.
    pub region: &'static str,
    /// Regions used now and then.
    pub other_regions: &'static [&'static str],
    /// Start of the simulated period.
    pub start: DateTime<Utc>,
    /// Length of the period in days.
    pub days: i64,
    /// Multiplies every volume.
    pub scale: f64,
    /// Office and VPN egress addresses people work from.
    pub office_ips: Vec<String>,
    /// CI runners' egress addresses (IAM users with long-term keys).
    pub ci_ips: Vec<String>,
    /// Private addresses of instances.
    pub instance_ips: Vec<String>,
    /// EC2 instance ids.
    pub instance_ids: Vec<String>,
    /// The people who sign in through SSO.
    pub people: Vec<Person>,
}

/// One person of the organisation.
#[derive(Debug, Clone)]
pub struct Person {
    /// First name; their SSO session is `<name>@acme.example`.
    pub name: String,
    /// The SSO role they assume (administrator, read-only or developer).
    pub sso_role: &'static str,
    /// Whether that role is the administrator one.
    pub admin: bool,
}

const FIRST_NAMES: &[&str] = &[
    "alice", "bruno", "chen", "dana", "emeka", "farah", "goran", "hana", "ivan", "jules", "kiri",
    "lena", "mateo", "nadia", "oscar", "priya", "quinn", "rafael", "sara", "tomas", "uma",
    "viktor", "wen", "yusuf", "zoe",
];

impl Env {
    fn new(rng: &mut SplitMix64, config: &SynthConfig) -> Env {
        let office_ips = (0..6)
            .map(|i| format!("203.0.113.{}", 10 + i * 7))
            .chain((0..3).map(|i| format!("198.51.100.{}", 40 + i)))
            .collect();
        let ci_ips = (0..4)
            .map(|_| {
                format!(
                    "34.{}.{}.{}",
                    rng.range(192, 235),
                    rng.range(0, 255),
                    rng.range(1, 254)
                )
            })
            .collect();
        let instance_ips: Vec<String> = (0..40)
            .map(|_| format!("10.0.{}.{}", rng.range(1, 12), rng.range(4, 250)))
            .collect();
        let instance_ids = (0..40).map(|_| format!("i-0{}", rng.hex(16))).collect();
        let people = FIRST_NAMES
            .iter()
            .enumerate()
            .map(|(i, name)| Person {
                name: name.to_string(),
                sso_role: if i % 6 == 0 {
                    "AWSReservedSSO_AdministratorAccess_5d2c0e7f1b3a4c6d"
                } else if i % 3 == 0 {
                    "AWSReservedSSO_ReadOnlyAccess_9a8b7c6d5e4f3a2b"
                } else {
                    "AWSReservedSSO_DeveloperAccess_1f2e3d4c5b6a7980"
                },
                admin: i % 6 == 0,
            })
            .collect();
        Env {
            account: "123456789012",
            partner_account: "210987654321",
            region: "us-east-1",
            other_regions: &["us-west-2", "eu-west-1"],
            start: config.start,
            days: config.days,
            scale: config.scale,
            office_ips,
            ci_ips,
            instance_ips,
            instance_ids,
            people,
        }
    }

    /// `n` scaled by the configured volume, at least 1.
    pub fn count(&self, n: usize) -> usize {
        ((n as f64 * self.scale).round() as usize).max(1)
    }

    /// Any moment of the period.
    pub fn any_time(&self, rng: &mut SplitMix64) -> DateTime<Utc> {
        let secs = rng.below((self.days * 86_400) as u64) as i64;
        self.start + Duration::seconds(secs) + Duration::milliseconds(rng.range(0, 999))
    }

    /// A moment people work: weekdays, 13:00-23:00 UTC mostly (US business hours), with
    /// some evening and weekend work.
    pub fn work_time(&self, rng: &mut SplitMix64) -> DateTime<Utc> {
        loop {
            let t = self.any_time(rng);
            let hour = t.format("%H").to_string().parse::<u32>().unwrap_or(0);
            let weekday = chrono::Datelike::weekday(&t).number_from_monday();
            let office = (13..23).contains(&hour);
            let weight = match (weekday >= 6, office) {
                (false, true) => 1.0,
                (false, false) => 0.08,
                (true, true) => 0.1,
                (true, false) => 0.02,
            };
            if rng.chance(weight) {
                return t;
            }
        }
    }

    /// A public address outside the organisation (clients, attackers).
    pub fn internet_ip(&self, rng: &mut SplitMix64) -> String {
        loop {
            let a = rng.range(1, 223);
            if matches!(a, 10 | 100 | 127 | 169 | 172 | 192 | 198 | 203) {
                continue;
            }
            return format!(
                "{a}.{}.{}.{}",
                rng.range(0, 255),
                rng.range(0, 255),
                rng.range(1, 254)
            );
        }
    }
}

/// Common client user agents; attack scenarios use the same ones, so nothing can be
/// learned from them.
pub const CLI_AGENTS: &[&str] = &[
    "aws-cli/2.15.30 md/awscrt#0.19.19 ua/2.0 os/linux#6.5.0 md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/distrib#ubuntu.22 md/prompt#off md/command#ec2.describe-instances",
    "aws-cli/2.13.5 Python/3.11.4 Darwin/23.1.0 exe/x86_64 prompt/off command/s3.ls",
    "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#5.10.213 md/arch#x86_64 lang/python#3.12.2 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.69",
    "aws-sdk-go-v2/1.26.1 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64 api/sts#1.28.6",
    "APN/1.0 HashiCorp/1.0 Terraform/1.7.5 (+https://www.terraform.io) terraform-provider-aws/5.43.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.26.1 os/linux lang/go#1.22.1",
    "aws-sdk-java/2.25.16 Linux/5.10.213 OpenJDK_64-Bit_Server_VM/17.0.10+7-LTS Java/17.0.10 vendor/Amazon.com_Inc. exec-env/AWS_ECS_FARGATE io/sync http/Apache cfg/retry-mode/legacy",
    "aws-sdk-js/3.540.0 ua/2.0 os/linux#5.10.213 lang/js md/nodejs#20.11.1 api/s3#3.540.0",
];

/// User agents of web browsers.
pub const BROWSER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Mobile Safari/537.36",
];

/// The records a generator emits for one log type, in the order it emits them.
struct Records {
    log_type: LogType,
    items: Vec<LabelledRaw>,
}

impl Records {
    fn new(log_type: LogType) -> Self {
        Records {
            log_type,
            items: Vec::new(),
        }
    }

    /// Adds a record, labelled as its scenario says.
    fn push(&mut self, t: DateTime<Utc>, raw: Raw, label: Category, scenario: &'static str) {
        let record = LabelledRaw::new(self.log_type, raw, t, label, scenario);
        self.items.push(record);
    }

    fn into_vec(self) -> Vec<LabelledRaw> {
        self.items
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ`, whole seconds.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ`, microseconds.
pub fn rfc3339_micros(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// A random UUID-shaped id (8-4-4-4-12 hex digits).
pub fn uuid(rng: &mut SplitMix64) -> String {
    let h = rng.hex(32);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

#[cfg(test)]
mod tests;

//! `AnomalyReasons`: the two or three facts that pushed a record's scores up, in words.
//!
//! Candidates are the feature slots with the largest share of the anomaly model's
//! reconstruction error (weighted by the anomaly score) and of the `critical_security`
//! logit (weighted by that probability). Each slot is rendered with the record's own
//! values ("StopLogging turns off or weakens logging ...", "came from public address
//! 198.51.100.23").

use chrono::Timelike;

use super::priority::Detected;
use crate::features::{F, FEATURES, N_FEATURES};
use crate::record::Record;

pub const MAX_REASONS: usize = 3;
pub const MIN_REASONS: usize = 2;

/// Slots ranked by how much they pushed the scores up.
pub fn top_slots(
    contributions: &[f32],
    critical_contributions: &[f32],
    anomaly: f64,
    critical_probability: f64,
    features: &[f32],
) -> Vec<usize> {
    let total: f64 = contributions
        .iter()
        .map(|c| *c as f64)
        .sum::<f64>()
        .max(1e-9);
    let positive: f64 = critical_contributions
        .iter()
        .filter(|c| **c > 0.0)
        .map(|c| *c as f64)
        .sum::<f64>()
        .max(1e-9);
    let mut weights: Vec<(usize, f64)> = (0..N_FEATURES)
        .map(|j| {
            let a = contributions[j] as f64 / total * (0.05 + anomaly);
            let c = (critical_contributions[j].max(0.0) as f64) / positive
                * (0.05 + critical_probability);
            (j, a + c)
        })
        // A slot explains the record only if the record has it: the absence of a common
        // fact is rarely what an analyst needs to read first.
        .filter(|(j, w)| *w > 0.0 && features[*j] != 0.0 && !is_family_slot(*j))
        .collect();
    weights.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut out: Vec<usize> = Vec::with_capacity(MAX_REASONS);
    for (j, _) in weights {
        // Sine and cosine of the hour are one fact.
        let j = if j == F::HourCos as usize {
            F::HourSin as usize
        } else {
            j
        };
        if !out.contains(&j) {
            out.push(j);
        }
        if out.len() == MAX_REASONS {
            break;
        }
    }
    out
}

fn is_family_slot(j: usize) -> bool {
    j < F::HourSin as usize
}

/// Said of a CloudTrail record scored without its principal's history (the connector API,
/// a record without a principal).
pub const NO_HISTORY: &str =
    "no history of its principal: judged on its own fields and the detection rules alone";

/// Said of a warm principal's routine call, which the classifier counts less for.
pub const ROUTINE: &str =
    "a routine call for its principal: its usual API, network, client, region and hours";

/// Renders reasons as a JSON array of strings: the detection rules matched, the behaviour
/// flags (or that the principal's history was not consulted), then the feature slots
/// behind the scores; at least [`MIN_REASONS`] entries when the record offers that many.
pub fn render(record: &Record, detections: &[Detected], slots: &[usize], out: &mut String) {
    let mut texts: Vec<String> = detections
        .iter()
        .map(|d| format!("matches detection rule: {} ({})", d.title, d.level))
        .collect();
    if record.log_type == crate::record::LogType::CloudTrail {
        match crate::behaviour::flags_of(record) {
            Some(flags) if flags.is_empty() => texts.push(ROUTINE.to_string()),
            // A short history is context, not a reason: it stays in `BehaviourFlags`.
            Some(flags) => texts.extend(
                flags
                    .iter()
                    .filter(|f| **f != crate::behaviour::Flag::WarmingUp)
                    .map(|f| f.description().to_string()),
            ),
            None => texts.push(NO_HISTORY.to_string()),
        }
    }
    texts.extend(slots.iter().map(|&j| describe(record, j)));
    if texts.len() < MIN_REASONS {
        texts.push(summary(record));
    }
    texts.dedup();
    let json = serde_json::to_string(&texts).expect("strings serialize");
    out.push_str(&json);
}

fn col<'r>(r: &'r Record, name: &str) -> Option<&'r str> {
    r.get_str(name)
        .map(str::trim)
        .filter(|s| !s.is_empty() && *s != "-")
}

fn first_col<'r>(r: &'r Record, names: &[&str]) -> Option<&'r str> {
    names.iter().find_map(|n| col(r, n))
}

fn number(r: &Record, name: &str) -> Option<f64> {
    r.get(name).and_then(|v| v.as_f64())
}

/// What the record is, in a few words (used when fewer facts stand out).
pub fn summary(r: &Record) -> String {
    match r.log_type.name() {
        "CloudTrail" => {
            let who = identity(r);
            match col(r, "EventName") {
                Some(name) => format!(
                    "{name} on {} by {who}",
                    col(r, "EventSource").unwrap_or("an AWS service")
                ),
                None => format!("CloudTrail event by {who}"),
            }
        }
        other => {
            let source = first_col(
                r,
                &[
                    "SrcAddr",
                    "ClientIp",
                    "RemoteIp",
                    "SrcIp",
                    "SourceIpAddress",
                ],
            );
            match source {
                Some(s) => format!("{other} record from {s}"),
                None => format!("{other} record"),
            }
        }
    }
}

fn identity(r: &Record) -> String {
    let kind = col(r, "UserIdentityType").unwrap_or("unknown identity");
    match first_col(r, &["UserIdentityUserName", "SessionIssuerUserName"]) {
        Some(name) => format!("{kind} {name}"),
        None => kind.to_string(),
    }
}

fn source_address(r: &Record) -> Option<&str> {
    first_col(
        r,
        &[
            "SourceIpAddress",
            "SrcAddr",
            "ClientIp",
            "RemoteIp",
            "SrcIp",
            "ClientIPPort",
        ],
    )
}

/// Keeps the first four and last four characters of an access key id.
fn mask_key(key: &str) -> String {
    if key.len() > 8 {
        format!("{}…{}", &key[..4], &key[key.len() - 4..])
    } else {
        key.to_string()
    }
}

pub fn describe(r: &Record, slot: usize) -> String {
    let f = F::ALL[slot];
    let generic = FEATURES[slot].description;
    let event = col(r, "EventName").unwrap_or("the call");
    match f {
        F::CtDefenseEvasion
        | F::CtCredentialAccess
        | F::CtPersistence
        | F::CtExposure
        | F::CtExecution
        | F::CtImpact
        | F::CtDiscovery => format!("{event} {generic}"),
        F::CtVerbDestructive | F::CtVerbWrite => format!("{event}: {generic}"),
        F::CtSecurityService => format!(
            "{event} on {}: {generic}",
            col(r, "EventSource").unwrap_or("a security service")
        ),
        F::CtIamUser | F::CtRoot | F::CtAssumedRole | F::CtFederated | F::CtAwsService => {
            format!("made by {}", identity(r))
        }
        F::CtLongTermKey => match col(r, "UserIdentityAccessKeyId") {
            Some(key) => format!("signed with long-term access key {}", mask_key(key)),
            None => generic.to_string(),
        },
        F::CtNoMfa => format!("{} without MFA", identity(r)),
        F::CtRegionRarity => format!(
            "in region {}, which accounts rarely use",
            col(r, "AWSRegion").unwrap_or("?")
        ),
        F::CtOtherAccount => format!("{event} grants access to another account or to everyone"),
        F::SourcePublic => match source_address(r) {
            Some(ip) => format!("came from public address {ip}"),
            None => generic.to_string(),
        },
        F::HourSin | F::HourCos => match r.time {
            Some(t) => format!(
                "at {:02}:{:02} UTC, an unusual hour for this activity",
                t.hour(),
                t.minute()
            ),
            None => generic.to_string(),
        },
        F::Weekend => "on a weekend".to_string(),
        F::Failure | F::Denied | F::ServerError | F::Throttled => {
            let detail = first_col(r, &["ErrorCode", "Rcode", "Action", "AlertAction"])
                .map(str::to_string)
                .or_else(|| {
                    first_col(
                        r,
                        &[
                            "ElbStatusCode",
                            "HttpStatus",
                            "ScStatus",
                            "ResponseCodeSent",
                        ],
                    )
                    .map(|s| format!("HTTP {s}"))
                })
                .or_else(|| {
                    [
                        "ElbStatusCode",
                        "HttpStatus",
                        "ScStatus",
                        "ResponseCodeSent",
                    ]
                    .iter()
                    .find_map(|c| number(r, c))
                    .map(|s| format!("HTTP {s}"))
                });
            match detail {
                Some(d) => format!("{generic} ({d})"),
                None => generic.to_string(),
            }
        }
        F::Http4xx | F::Http5xx => {
            match [
                "ElbStatusCode",
                "HttpStatus",
                "ScStatus",
                "ResponseCodeSent",
            ]
            .iter()
            .find_map(|c| number(r, c))
            {
                Some(s) => format!("{generic} (HTTP {s})"),
                None => generic.to_string(),
            }
        }
        F::SensitivePort => match first_col(r, &["DestPort"])
            .map(str::to_string)
            .or_else(|| number(r, "DstPort").map(|p| p.to_string()))
        {
            Some(p) => format!("involves port {p} (remote administration or database)"),
            None => generic.to_string(),
        },
        F::HttpAttackMarkers => {
            match first_col(r, &["RequestRaw", "Uri", "CsUriStem", "RequestUri"]) {
                Some(u) => format!("{generic}: {}", truncate(u, 120)),
                None => generic.to_string(),
            }
        }
        F::DnsEntropy | F::DnsLength | F::DnsNxdomain | F::DnsUnusualType => {
            match col(r, "QueryName") {
                Some(q) => format!("{generic}: {}", truncate(q, 120)),
                None => generic.to_string(),
            }
        }
        F::GdHighImpact | F::GdRecon => match col(r, "ActivityType") {
            Some(t) => format!("{generic}: {t}"),
            None => generic.to_string(),
        },
        F::Severity => match first_col(r, &["Title", "Signature"]) {
            Some(t) => format!("{generic}: {}", truncate(t, 120)),
            None => generic.to_string(),
        },
        F::TextLevel
        | F::TextWarn
        | F::TextError
        | F::TextFatal
        | F::TextFailureWords
        | F::TextSecurityWords
        | F::TextPerfWords
        | F::TextLifecycle
        | F::TextTrace => match col(r, "Message") {
            Some(m) => format!("{generic}: \"{}\"", truncate(m, 100)),
            None => generic.to_string(),
        },
        F::PatternNew
        | F::PatternRare
        | F::FrequencySpike
        | F::FrequencyDrop
        | F::FrequencyRising
        | F::SequenceSurprise
        | F::SequenceUnseen
        | F::CorrelationNew
        | F::CorrelationBroken => match col(r, "PatternTemplate") {
            Some(t) => format!("{generic}: {}", truncate(t, 100)),
            None => generic.to_string(),
        },
        _ => generic.to_string(),
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features;
    use crate::record::LogType;

    #[test]
    fn renders_record_specific_reasons() {
        let mut r = Record::new(LogType::CloudTrail);
        r.push("EventName", "StopLogging");
        r.push("EventSource", "cloudtrail.amazonaws.com");
        r.push("UserIdentityType", "IAMUser");
        r.push("UserIdentityUserName", "christophe");
        r.push("UserIdentityAccessKeyId", "AKIAGGWFBBHBE7D3M9WI");
        r.push("SourceIpAddress", "86.245.153.234");
        assert_eq!(
            describe(&r, F::CtDefenseEvasion as usize),
            "StopLogging turns off or weakens logging, monitoring or guardrails (defense evasion)"
        );
        assert_eq!(
            describe(&r, F::CtIamUser as usize),
            "made by IAMUser christophe"
        );
        assert_eq!(
            describe(&r, F::CtLongTermKey as usize),
            "signed with long-term access key AKIA…M9WI"
        );
        assert_eq!(
            describe(&r, F::SourcePublic as usize),
            "came from public address 86.245.153.234"
        );
        let v = features::tests::extract(&r);
        let mut contributions = vec![0.0f32; N_FEATURES];
        contributions[F::CtDefenseEvasion as usize] = 100.0;
        contributions[F::CtLongTermKey as usize] = 20.0;
        contributions[F::HourSin as usize] = 5.0;
        let critical = vec![0.0f32; N_FEATURES];
        let slots = top_slots(&contributions, &critical, 0.99, 0.0, &v);
        assert_eq!(slots[0], F::CtDefenseEvasion as usize);
        assert_eq!(slots[1], F::CtLongTermKey as usize);
        let mut json = String::new();
        render(&r, &[], &slots, &mut json);
        let parsed: Vec<String> = serde_json::from_str(&json).unwrap();
        assert_eq!(
            parsed[0], NO_HISTORY,
            "scored without its principal's history"
        );
        assert!((MIN_REASONS..=MAX_REASONS + 1).contains(&parsed.len()));
    }

    #[test]
    fn fills_in_a_summary_when_nothing_stands_out() {
        let r = Record::new(LogType::VpcFlow);
        let mut json = String::new();
        render(&r, &[], &[], &mut json);
        let parsed: Vec<String> = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed, vec!["VPCFlow record".to_string()]);
    }
}

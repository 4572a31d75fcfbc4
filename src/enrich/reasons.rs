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
use crate::record::{Record, clipped};

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
        .filter(|(j, w)| {
            *w > 0.0 && features[*j] != 0.0 && !is_family_slot(*j) && !is_knowledge_slot(*j)
        })
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

/// Rule matches and behaviour flags have reasons of their own, by name.
fn is_knowledge_slot(j: usize) -> bool {
    j == F::CtRuleLevel as usize || j == F::CtBehaviour as usize
}

/// Said of a CloudTrail record scored without its principal's history (the connector API,
/// a record without a principal).
pub const NO_HISTORY: &str =
    "no history of its principal: judged on its own fields and the detection rules alone";

/// Said of a warm principal's routine call, for which the classifier and the rule matches
/// count less (`priority::ROUTINE_WEIGHT`, `priority::ROUTINE_RULE_LEVELS`).
pub const ROUTINE: &str = "a routine call for its principal (its usual API, network, client, \
     region and hours): rule matches count two levels lower";

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

/// Columns holding an HTTP status, in order of preference.
const STATUS_COLUMNS: [&str; 4] = [
    "ElbStatusCode",
    "HttpStatus",
    "ScStatus",
    "ResponseCodeSent",
];

/// The first HTTP status column that holds a number.
fn status_number(r: &Record) -> Option<f64> {
    STATUS_COLUMNS.iter().find_map(|c| number(r, c))
}

pub fn describe(r: &Record, slot: usize) -> String {
    let generic = FEATURES[slot].description;
    specific(r, F::ALL[slot], generic).unwrap_or_else(|| generic.to_string())
}

/// The reason for feature `f` told with this record's own values, when it has them.
fn specific(r: &Record, f: F, generic: &str) -> Option<String> {
    let event = col(r, "EventName").unwrap_or("the call");
    match f {
        F::CtDefenseEvasion
        | F::CtCredentialAccess
        | F::CtPersistence
        | F::CtExposure
        | F::CtExecution
        | F::CtImpact
        | F::CtDiscovery => Some(format!("{event} {generic}")),
        F::CtVerbDestructive | F::CtVerbWrite => Some(format!("{event}: {generic}")),
        F::CtSecurityService => Some(format!(
            "{event} on {}: {generic}",
            col(r, "EventSource").unwrap_or("a security service")
        )),
        F::CtIamUser | F::CtRoot | F::CtAssumedRole | F::CtFederated | F::CtAwsService => {
            Some(format!("made by {}", identity(r)))
        }
        F::CtLongTermKey => col(r, "UserIdentityAccessKeyId")
            .map(|key| format!("signed with long-term access key {}", mask_key(key))),
        F::CtNoMfa => Some(format!("{} without MFA", identity(r))),
        F::CtRegionRarity => Some(format!(
            "in region {}, which accounts rarely use",
            col(r, "AWSRegion").unwrap_or("?")
        )),
        F::CtOtherAccount => Some(format!(
            "{event} grants access to another account or to everyone"
        )),
        F::SourcePublic => source_address(r).map(|ip| format!("came from public address {ip}")),
        F::HourSin | F::HourCos => r.time.map(|t| {
            format!(
                "at {:02}:{:02} UTC, an unusual hour for this activity",
                t.hour(),
                t.minute()
            )
        }),
        F::Weekend => Some("on a weekend".to_string()),
        F::Failure | F::Denied | F::ServerError | F::Throttled => {
            let detail = first_col(r, &["ErrorCode", "Rcode", "Action", "AlertAction"])
                .map(str::to_string)
                .or_else(|| first_col(r, &STATUS_COLUMNS).map(|s| format!("HTTP {s}")))
                .or_else(|| status_number(r).map(|s| format!("HTTP {s}")));
            detail.map(|d| format!("{generic} ({d})"))
        }
        F::Http4xx | F::Http5xx => status_number(r).map(|s| format!("{generic} (HTTP {s})")),
        F::SensitivePort => first_col(r, &["DestPort"])
            .map(str::to_string)
            .or_else(|| number(r, "DstPort").map(|p| p.to_string()))
            .map(|p| format!("involves port {p} (remote administration or database)")),
        F::HttpAttackMarkers => first_col(r, &["RequestRaw", "Uri", "CsUriStem", "RequestUri"])
            .map(|u| format!("{generic}: {}", clipped(u, 120))),
        F::DnsEntropy | F::DnsLength | F::DnsNxdomain | F::DnsUnusualType => {
            col(r, "QueryName").map(|q| format!("{generic}: {}", clipped(q, 120)))
        }
        F::GdHighImpact | F::GdRecon => col(r, "ActivityType").map(|t| format!("{generic}: {t}")),
        F::Severity => {
            first_col(r, &["Title", "Signature"]).map(|t| format!("{generic}: {}", clipped(t, 120)))
        }
        F::TextLevel
        | F::TextWarn
        | F::TextError
        | F::TextFatal
        | F::TextFailureWords
        | F::TextSecurityWords
        | F::TextPerfWords
        | F::TextLifecycle
        | F::TextTrace => col(r, "Message").map(|m| format!("{generic}: \"{}\"", clipped(m, 100))),
        F::PatternNew
        | F::PatternRare
        | F::FrequencySpike
        | F::FrequencyDrop
        | F::FrequencyRising
        | F::SequenceSurprise
        | F::SequenceUnseen
        | F::CorrelationNew
        | F::CorrelationBroken => {
            col(r, "PatternTemplate").map(|t| format!("{generic}: {}", clipped(t, 100)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features;
    use crate::record::LogType;

    #[test]
    fn renders_record_specific_reasons() {
        let r = Record::with_columns(
            LogType::CloudTrail,
            [
                ("EventName", "StopLogging"),
                ("EventSource", "cloudtrail.amazonaws.com"),
                ("UserIdentityType", "IAMUser"),
                ("UserIdentityUserName", "christophe"),
                ("UserIdentityAccessKeyId", "AKIAGGWFBBHBE7D3M9WI"),
                ("SourceIpAddress", "86.245.153.234"),
            ],
        );
        for (feature, reason) in [
            (
                F::CtDefenseEvasion,
                "StopLogging turns off or weakens logging, monitoring or guardrails (defense evasion)",
            ),
            (F::CtIamUser, "made by IAMUser christophe"),
            (
                F::CtLongTermKey,
                "signed with long-term access key AKIA…M9WI",
            ),
            (F::SourcePublic, "came from public address 86.245.153.234"),
        ] {
            assert_eq!(describe(&r, feature as usize), reason);
        }
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

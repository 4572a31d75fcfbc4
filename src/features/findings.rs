//! Sources that already judged the traffic: WAF decisions (AWSWAF), GuardDuty findings
//! (AWSGuardDuty) and Network Firewall alerts and TLS events.

use super::common::{self, contains_ci, number, text};
use super::http::attack_markers;
use super::{F, Slots};
use crate::record::{LogType, Record};

pub fn extract_waf(r: &Record, s: &mut Slots<'_>) {
    let action = text(r, "Action").unwrap_or("");
    let blocked = ["BLOCK", "CAPTCHA", "CHALLENGE"]
        .iter()
        .any(|a| action.eq_ignore_ascii_case(a));
    if blocked {
        s.set(F::WafBlocked, 1.0);
        s.set(F::Denied, 1.0);
        s.set(F::Failure, 1.0);
    }
    let rule_type = text(r, "TerminatingRuleType").unwrap_or("");
    if rule_type == "RATE_BASED" {
        s.set(F::WafRateBased, 1.0);
        s.set(F::Throttled, 1.0);
    }
    // Matches: the terminating rule when it is not the default action, plus every
    // non-terminating match (count mode); each `ruleId` occurrence is one match.
    let terminating = text(r, "TerminatingRuleId").is_some_and(|id| id != "Default_Action");
    let non_terminating =
        text(r, "NonTerminatingMatchingRules").map_or(0, |t| t.matches("\"ruleId\"").count());
    let matches = usize::from(terminating) + non_terminating;
    s.set(F::WafManagedMatch, (matches as f32 / 3.0).min(1.0));
    let uri_markers = text(r, "Uri").map_or(0.0, attack_markers);
    let arg_markers = text(r, "Args").map_or(0.0, attack_markers);
    s.set(F::HttpAttackMarkers, uri_markers.max(arg_markers));
    if let Some(status) = number(r, "ResponseCodeSent") {
        s.flag(F::Http4xx, (400.0..500.0).contains(&status));
        s.flag(F::Http5xx, status >= 500.0);
    }
    if let Some(m) = text(r, "HttpMethod") {
        s.flag(
            F::HttpUnsafeMethod,
            matches!(m, "POST" | "PUT" | "DELETE" | "PATCH"),
        );
    }
    s.flag(
        F::SourcePublic,
        text(r, "ClientIp").is_some_and(|c| common::classify_address(c).is_public()),
    );
}

pub fn extract_guardduty(r: &Record, s: &mut Slots<'_>) {
    // GuardDuty rates 1.0-8.9 (low < 4, medium < 7, high).
    if let Some(sev) = number(r, "Severity") {
        s.set(F::Severity, (sev / 9.0).clamp(0.0, 1.0) as f32);
    }
    let finding_type = text(r, "ActivityType").unwrap_or("");
    let threat = finding_type.split(':').next().unwrap_or("");
    match threat {
        "Backdoor"
        | "CryptoCurrency"
        | "Trojan"
        | "UnauthorizedAccess"
        | "Exfiltration"
        | "Impact"
        | "CredentialAccess"
        | "PrivilegeEscalation"
        | "Persistence"
        | "DefenseEvasion"
        | "Execution"
        | "InitialAccess"
        | "Stealth"
        | "Object"
        | "AttackSequence" => s.set(F::GdHighImpact, 1.0),
        "Recon" | "Discovery" | "PenTest" => s.set(F::GdRecon, 1.0),
        _ => {}
    }
}

pub fn extract_firewall(r: &Record, s: &mut Slots<'_>) {
    s.flag(
        F::SourcePublic,
        text(r, "SrcIp").is_some_and(|c| common::classify_address(c).is_public()),
    );
    if let Some(p) = common::port(r, "DestPort") {
        s.flag(F::SensitivePort, common::is_sensitive_port(p));
    }
    if r.log_type == LogType::NetworkFirewallTls {
        // A failed handshake, or a certificate the revocation check did not find good.
        let error = text(r, "ErrorMessage").is_some()
            || text(r, "Status").is_some_and(|st| {
                st.eq_ignore_ascii_case("revoked") || st.eq_ignore_ascii_case("unknown")
            });
        s.flag(F::FwTlsError, error);
        s.flag(F::Failure, error);
        let dropped = text(r, "Action")
            .is_some_and(|a| a.eq_ignore_ascii_case("drop") || a.eq_ignore_ascii_case("reject"));
        s.flag(F::FwBlocked, dropped);
        s.flag(F::Denied, dropped);
        return;
    }
    // Suricata priorities: 1 is the most severe.
    let severity = match number(r, "Severity").map(|v| v as i64) {
        Some(1) => 1.0,
        Some(2) => 0.6,
        Some(3) => 0.3,
        Some(_) => 0.15,
        None => 0.0,
    };
    s.set(F::Severity, severity);
    let action = text(r, "AlertAction").unwrap_or("");
    let blocked = ["blocked", "drop", "dropped", "reject", "rejected"]
        .iter()
        .any(|a| action.eq_ignore_ascii_case(a));
    s.flag(F::FwBlocked, blocked);
    s.flag(F::Denied, blocked);
    let category = text(r, "Category").unwrap_or("");
    // Categories that describe a compromise rather than policy noise raise the severity.
    if [
        "trojan",
        "privilege gain",
        "exploit",
        "malware",
        "command and control",
    ]
    .iter()
    .any(|c| contains_ci(category, c))
    {
        s.raise(F::Severity, 1.0);
    }
}

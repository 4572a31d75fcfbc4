//! Route 53 Resolver query logs (AWSRoute53Resolver).

use super::common::{self, entropy, log_scale, text};
use super::{F, Slots};
use crate::record::Record;

pub fn extract(r: &Record, s: &mut Slots<'_>) {
    let rcode = text(r, "Rcode").unwrap_or("");
    if rcode == "NXDOMAIN" {
        s.set(F::DnsNxdomain, 1.0);
        s.set(F::Failure, 1.0);
    } else if rcode == "SERVFAIL" {
        s.set(F::Failure, 1.0);
        s.set(F::ServerError, 1.0);
    } else if rcode == "REFUSED" {
        s.set(F::Failure, 1.0);
        s.set(F::Denied, 1.0);
    }
    if let Some(name) = text(r, "QueryName") {
        let name = name.trim_end_matches('.');
        s.set(F::DnsLength, log_scale(name.len() as f64, 253.0));
        // The longest label carries the payload of tunnels and generated domains.
        let longest = name.split('.').max_by_key(|l| l.len()).unwrap_or("");
        if longest.len() >= 8 {
            // 4.5 bits per character is about what random base32/hex labels reach.
            s.set(F::DnsEntropy, (entropy(longest) / 4.5).min(1.0));
        }
    }
    let qtype = text(r, "QueryType").unwrap_or("");
    s.flag(
        F::DnsUnusualType,
        matches!(qtype, "TXT" | "NULL" | "ANY" | "AXFR"),
    );
    let firewall = text(r, "FirewallRuleAction").unwrap_or("");
    if firewall.eq_ignore_ascii_case("BLOCK") || firewall.eq_ignore_ascii_case("ALERT") {
        s.set(F::DnsFirewallBlock, 1.0);
        s.set(F::Denied, 1.0);
    }
    s.flag(
        F::SourcePublic,
        text(r, "SrcAddr").is_some_and(|a| common::classify_address(a).is_public()),
    );
}

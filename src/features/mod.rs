//! Feature extraction: one fixed-length `f32` vector per [`Record`], shared by training and
//! inference so that a model always sees what it was trained on.
//!
//! The vector has [`N_FEATURES`] slots in a versioned layout ([`SCHEMA`]): a log-family
//! one-hot, universal facts that every family maps into (failure, denial, severity,
//! latency, bytes, public source, ...), then one block per family (CloudTrail, network
//! flows, HTTP access logs, WAF, GuardDuty, DNS, Network Firewall alerts, text), then the
//! pattern slot. Slots of other families stay zero. Every value is scaled to roughly
//! `0..=1` so that models weigh them comparably before standardization.
//!
//! Rules the extractors follow:
//! - columns are read by name (`record::tables` names), and a missing column is zero;
//! - nothing keys on a client tool name in a user agent (attack tools rename themselves);
//!   the only user-agent facts used are AWS's own origin markers (console, AWS Internal);
//! - extraction is pure and allocation-free on the common path.
//!
//! Changing the meaning or order of any slot requires a new [`SCHEMA_VERSION`]: models
//! carry the version they were trained with and are refused by code with another one.
//!
//! # Knowledge slots
//!
//! `ct_rule_level` (the effective level of the detection rules a CloudTrail record matches,
//! 0 to 1 in quarters) and `ct_behaviour` (the severity its behaviour flags add up to) are
//! not read from the record: the rules travel with the model set and the flags come from
//! the behaviour stage. The extractor leaves them zero and `ml::knowledge` fills them, for
//! training and inference alike. A record without history (the connector API) has a zero
//! `ct_behaviour`: it is judged on its fields and the rules.
//!
//! # Pattern slot
//!
//! The last [`PATTERN_FEATURES`] slots hold the pattern stage's per-record features
//! (`patterns::pattern_features`: new or rare template, frequency spike/drop/rise, volume
//! anomaly, sequence surprise, unseen transition, new or broken correlation, variable
//! share), read from the `PatternFlags`, `SequenceScore` and `PatternTemplate` columns the
//! stage writes. Records it did not analyze get zeros here; the models then fill the slot
//! with the typical values of their normal training records (`ModelSet::features`), and
//! a model trained only on such records gives the slot no weight (see `ml::train`). The
//! default models are trained on generated records replayed through the pattern stage
//! (`patterns::replay`, deterministic), as the function meets them.

pub mod catalog;
mod cloudtrail;
pub mod common;
mod dns;
mod findings;
mod http;
mod network;
mod text;

use crate::record::{LogType, Record};

/// Bumped whenever a slot changes meaning or position. 4: the knowledge slots.
pub const SCHEMA_VERSION: u32 = 4;

/// One slot of the vector: its stable name and what it means for an analyst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeatureInfo {
    pub name: &'static str,
    /// Phrase used in `AnomalyReasons` when this slot pushes a score up.
    pub description: &'static str,
}

macro_rules! feature_layout {
    ($( $ident:ident = $name:literal : $desc:literal ),* $(,)?) => {
        /// Slot indices, in vector order.
        #[allow(non_camel_case_types, clippy::upper_case_acronyms)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(usize)]
        pub enum F { $($ident),* }

        /// Every slot, in vector order.
        pub const FEATURES: &[FeatureInfo] = &[
            $(FeatureInfo { name: $name, description: $desc }),*
        ];

        impl F {
            pub const ALL: &[F] = &[$(F::$ident),*];
        }
    };
}

feature_layout! {
    // Log family (one-hot).
    FamilyCloudTrail = "family_cloudtrail": "CloudTrail API activity",
    FamilyNetworkFlow = "family_network_flow": "network flow record",
    FamilyHttp = "family_http_access": "HTTP access log record",
    FamilyWaf = "family_waf": "WAF decision",
    FamilyGuardDuty = "family_guardduty": "GuardDuty finding",
    FamilyDns = "family_dns": "DNS query",
    FamilyFirewall = "family_firewall_alert": "Network Firewall alert or TLS event",
    FamilyText = "family_text": "application or system log line",
    // Universal facts.
    HourSin = "hour_sin": "time of day",
    HourCos = "hour_cos": "time of day",
    Weekend = "weekend": "happened on a weekend",
    Failure = "outcome_failure": "the action failed",
    Denied = "access_denied": "access was denied or blocked",
    Severity = "source_severity": "the source itself rates this as severe",
    ServerError = "server_error": "a server-side error",
    Throttled = "throttled": "the request was throttled or rate-limited",
    Latency = "latency": "slow response",
    Bytes = "bytes": "unusual data volume",
    SourcePublic = "source_public": "came from a public internet address",
    SensitivePort = "sensitive_port": "involves a remote-administration or database port",
    Size = "payload_size": "unusually large request or message",
    // CloudTrail.
    CtReadOnly = "ct_read_only": "read-only API call",
    CtVerbRead = "ct_verb_read": "describe/list/get call",
    CtVerbWrite = "ct_verb_write": "call that creates or changes resources",
    CtVerbDestructive = "ct_verb_destructive": "call that deletes, stops or disables something",
    CtSecurityService = "ct_security_service": "call to a security or identity service",
    CtDefenseEvasion = "ct_defense_evasion": "turns off or weakens logging, monitoring or guardrails (defense evasion)",
    CtCredentialAccess = "ct_credential_access": "reads or creates credentials or secrets (credential access)",
    CtPersistence = "ct_persistence": "creates identities, keys or permissions that persist (persistence / privilege escalation)",
    CtExposure = "ct_exposure": "shares or exposes resources outside the account (exfiltration / exposure)",
    CtExecution = "ct_execution": "runs code or opens a remote session on compute (execution / lateral movement)",
    CtImpact = "ct_impact": "destroys data or hijacks paid services (impact)",
    CtDiscovery = "ct_discovery": "enumerates identities, permissions or secrets (discovery)",
    CtIamUser = "ct_identity_iam_user": "made by an IAM user",
    CtRoot = "ct_identity_root": "made by the root account",
    CtAssumedRole = "ct_identity_assumed_role": "made by an assumed role",
    CtAwsService = "ct_identity_aws_service": "made by an AWS service",
    CtFederated = "ct_identity_federated": "made by a federated or Identity Center user",
    CtLongTermKey = "ct_long_term_key": "signed with a long-term access key",
    CtNoMfa = "ct_mfa_missing": "human session without MFA",
    CtConsole = "ct_console": "console session",
    CtRegionRarity = "ct_region_rarity": "in a rarely used region",
    CtDataEvent = "ct_data_event": "data-plane event",
    CtOtherAccount = "ct_other_account": "grants access to another account or to everyone",
    CtAwsInternalSource = "ct_aws_internal_source": "called from inside AWS",
    // CloudTrail knowledge: filled by the model set (`ml::knowledge`), zero here.
    CtRuleLevel = "ct_rule_level": "matches a detection rule",
    CtBehaviour = "ct_behaviour": "unusual for its principal",
    // Network flows (VPC, Transit Gateway, Network Firewall flow).
    NetReject = "net_reject": "rejected connection",
    NetUdp = "net_proto_udp": "UDP traffic",
    NetIcmp = "net_proto_icmp": "ICMP traffic",
    NetEphemeralPort = "net_dst_port_ephemeral": "to a high (ephemeral) port",
    NetPackets = "net_packets": "many packets",
    NetBytesPerPacket = "net_bytes_per_packet": "unusual packet size",
    NetInbound = "net_inbound": "inbound connection",
    NetSynOnly = "net_syn_only": "connection attempt that never completed (scan-like)",
    // HTTP access logs (ALB, classic ELB, NLB, CloudFront, S3 server access).
    Http4xx = "http_4xx": "client error status",
    Http5xx = "http_5xx": "server error status",
    HttpUnsafeMethod = "http_unsafe_method": "write method (POST/PUT/DELETE/PATCH)",
    HttpAttackMarkers = "http_attack_markers": "request contains injection or traversal markers",
    HttpTargetFailure = "http_target_failure": "the backend did not answer",
    HttpUriLength = "http_uri_length": "very long URL",
    HttpObjectWrite = "http_object_write": "object write or delete",
    // WAF.
    WafBlocked = "waf_blocked": "WAF blocked or challenged the request",
    WafRateBased = "waf_rate_based": "WAF rate-based rule fired",
    WafManagedMatch = "waf_rule_matches": "WAF rules matched",
    // GuardDuty.
    GdHighImpact = "gd_high_impact_type": "GuardDuty finding type indicates compromise",
    GdRecon = "gd_recon_type": "GuardDuty finding type indicates reconnaissance",
    // DNS.
    DnsNxdomain = "dns_nxdomain": "name does not exist",
    DnsEntropy = "dns_label_entropy": "random-looking domain name",
    DnsLength = "dns_name_length": "very long domain name",
    DnsUnusualType = "dns_unusual_type": "unusual record type (TXT/NULL/ANY)",
    DnsFirewallBlock = "dns_firewall_block": "DNS firewall blocked or alerted",
    // Network Firewall alerts and TLS.
    FwBlocked = "fw_blocked": "firewall blocked the flow",
    FwTlsError = "fw_tls_error": "TLS inspection error",
    // Text (CloudWatch, plain text, generic JSON).
    TextLevel = "text_level": "severity level of the line",
    TextWarn = "text_level_warn": "warning level",
    TextError = "text_level_error": "error level",
    TextFatal = "text_level_fatal": "fatal or critical level",
    TextFailureWords = "text_failure_words": "mentions failures or errors",
    TextSecurityWords = "text_security_words": "mentions authentication failures or denied access",
    TextPerfWords = "text_perf_words": "mentions timeouts, slowness or resource exhaustion",
    TextLifecycle = "text_lifecycle": "mentions a restart, shutdown or crash",
    TextTrace = "text_stack_trace": "contains an exception or stack trace",
    TextDigitRatio = "text_digit_ratio": "mostly numbers",
    TextHexTokens = "text_hex_tokens": "contains hex identifiers or addresses",
    TextTokens = "text_token_count": "many tokens",
    // Pattern slot: `patterns::pattern_features`, in its order (zero for records the
    // pattern stage did not analyze).
    PatternNew = "pattern_new": "never-seen log template",
    PatternRare = "pattern_rare": "rare log template",
    FrequencySpike = "frequency_spike": "the template's frequency spiked",
    FrequencyDrop = "frequency_drop": "the template's frequency dropped",
    FrequencyRising = "frequency_rising": "the template's frequency keeps rising",
    LogTypeVolume = "log_type_volume_anomaly": "the log type's volume is abnormal",
    SequenceSurprise = "sequence_surprise": "unexpected after the same entity's previous events",
    SequenceUnseen = "sequence_unseen": "a transition between events never seen before",
    CorrelationNew = "correlation_new": "completes a newly correlated pair of events",
    CorrelationBroken = "correlation_broken": "occurred without its usual companion event",
    TemplateVariableShare = "template_variable_share": "mostly variable content",
}

/// Length of the vector.
pub const N_FEATURES: usize = FEATURES.len();
/// Length of the pattern slot at the end of the vector.
pub const PATTERN_FEATURES: usize = crate::patterns::PATTERN_FEATURES;
/// Index of the first pattern slot.
pub const PATTERN_OFFSET: usize = F::PatternNew as usize;

const _: () = assert!(PATTERN_OFFSET + PATTERN_FEATURES == N_FEATURES);

/// A fixed-length feature vector.
pub type FeatureVector = [f32; N_FEATURES];

/// Supplies the pattern slot for a record (the pattern stage's `pattern_features`).
pub type PatternFeatureFn = fn(&Record) -> [f32; PATTERN_FEATURES];

/// The schema stored next to every model: version and slot names, in order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FeatureSchema {
    /// Schema version; changes whenever the slots change.
    pub version: u32,
    /// Slot names, in vector order.
    pub names: Vec<String>,
}

impl FeatureSchema {
    /// The schema this build extracts.
    pub fn current() -> FeatureSchema {
        FeatureSchema {
            version: SCHEMA_VERSION,
            names: FEATURES.iter().map(|f| f.name.to_string()).collect(),
        }
    }

    /// Whether a model trained with `self` can be fed by this build's extractor.
    pub fn check_compatible(&self) -> Result<(), String> {
        let current = FeatureSchema::current();
        if self.version != current.version {
            return Err(format!(
                "feature schema version {} does not match this build's version {}",
                self.version, current.version
            ));
        }
        if self.names != current.names {
            let first_difference = self
                .names
                .iter()
                .zip(&current.names)
                .position(|(a, b)| a != b)
                .unwrap_or(self.names.len().min(current.names.len()));
            return Err(format!(
                "feature schema {} lists {} features that differ from this build's {} from slot {}",
                self.version,
                self.names.len(),
                current.names.len(),
                first_difference
            ));
        }
        Ok(())
    }
}

/// The family a log type's features are read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    CloudTrail,
    NetworkFlow,
    Http,
    Waf,
    GuardDuty,
    Dns,
    Firewall,
    Text,
}

impl Family {
    #[cfg(any(test, feature = "tools"))]
    pub const ALL: [Family; 8] = [
        Family::CloudTrail,
        Family::NetworkFlow,
        Family::Http,
        Family::Waf,
        Family::GuardDuty,
        Family::Dns,
        Family::Firewall,
        Family::Text,
    ];

    pub fn of(log_type: LogType) -> Family {
        match log_type {
            LogType::CloudTrail => Family::CloudTrail,
            LogType::VpcFlow | LogType::TransitGatewayFlow | LogType::NetworkFirewallFlow => {
                Family::NetworkFlow
            }
            LogType::Alb
            | LogType::AlbConnection
            | LogType::Nlb
            | LogType::ClassicElb
            | LogType::CloudFront
            | LogType::S3Access => Family::Http,
            LogType::Waf => Family::Waf,
            // Findings of other detectors: the same family as GuardDuty's.
            LogType::GuardDuty | LogType::SecurityHub => Family::GuardDuty,
            LogType::Route53Resolver => Family::Dns,
            LogType::NetworkFirewallAlert | LogType::NetworkFirewallTls => Family::Firewall,
            LogType::CloudWatch | LogType::GenericJson | LogType::Text => Family::Text,
        }
    }

    #[cfg(any(test, feature = "tools"))]
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        match self {
            Family::CloudTrail => "cloudtrail",
            Family::NetworkFlow => "network_flow",
            Family::Http => "http_access",
            Family::Waf => "waf",
            Family::GuardDuty => "guardduty",
            Family::Dns => "dns",
            Family::Firewall => "firewall",
            Family::Text => "text",
        }
    }

    fn slot(self) -> F {
        match self {
            Family::CloudTrail => F::FamilyCloudTrail,
            Family::NetworkFlow => F::FamilyNetworkFlow,
            Family::Http => F::FamilyHttp,
            Family::Waf => F::FamilyWaf,
            Family::GuardDuty => F::FamilyGuardDuty,
            Family::Dns => F::FamilyDns,
            Family::Firewall => F::FamilyFirewall,
            Family::Text => F::FamilyText,
        }
    }
}

#[cfg(any(test, feature = "tools"))]
/// Index of the first family one-hot slot; the [`Family::ALL`] order follows it.
pub const FAMILY_OFFSET: usize = F::FamilyCloudTrail as usize;

/// Writable view of one vector, indexed by [`F`].
pub struct Slots<'a>(&'a mut [f32]);

impl Slots<'_> {
    #[inline]
    pub fn set(&mut self, f: F, value: f32) {
        self.0[f as usize] = value;
    }

    #[inline]
    pub fn flag(&mut self, f: F, on: bool) {
        if on {
            self.0[f as usize] = 1.0;
        }
    }

    /// Raises a slot to `value` if it is larger (universal facts several rules can set).
    #[inline]
    pub fn raise(&mut self, f: F, value: f32) {
        let slot = &mut self.0[f as usize];
        if value > *slot {
            *slot = value;
        }
    }
}

/// Extracts features; the pattern slot comes from `patterns::pattern_features` unless
/// another function is given.
#[derive(Debug, Clone, Copy)]
pub struct Extractor {
    pattern: Option<PatternFeatureFn>,
}

impl Default for Extractor {
    fn default() -> Self {
        Extractor::new()
    }
}

impl Extractor {
    /// An extractor whose pattern slot comes from `patterns::pattern_features`.
    pub fn new() -> Self {
        Extractor {
            pattern: Some(crate::patterns::pattern_features),
        }
    }

    /// Leaves the pattern slot at zero.
    pub fn without_pattern_features() -> Self {
        Extractor { pattern: None }
    }

    /// An extractor whose pattern slot comes from `pattern`.
    pub fn with_pattern_features(pattern: PatternFeatureFn) -> Self {
        Extractor {
            pattern: Some(pattern),
        }
    }

    /// Whether the pattern slot is filled.
    pub fn has_pattern_features(&self) -> bool {
        self.pattern.is_some()
    }

    /// The vector for one record.
    pub fn extract(&self, record: &Record) -> FeatureVector {
        let mut out = [0.0; N_FEATURES];
        self.extract_into(record, &mut out);
        out
    }

    /// Writes the vector for one record into `out` (length [`N_FEATURES`]).
    pub fn extract_into(&self, record: &Record, out: &mut [f32]) {
        assert_eq!(out.len(), N_FEATURES, "feature buffer length");
        out.fill(0.0);
        let family = Family::of(record.log_type);
        let mut slots = Slots(out);
        slots.set(family.slot(), 1.0);
        common::time_features(record, &mut slots);
        match family {
            Family::CloudTrail => cloudtrail::extract(record, &mut slots),
            Family::NetworkFlow => network::extract(record, &mut slots),
            Family::Http => http::extract(record, &mut slots),
            Family::Waf => findings::extract_waf(record, &mut slots),
            Family::GuardDuty => findings::extract_guardduty(record, &mut slots),
            Family::Dns => dns::extract(record, &mut slots),
            Family::Firewall => findings::extract_firewall(record, &mut slots),
            Family::Text => text::extract(record, &mut slots),
        }
        if let Some(pattern) = self.pattern {
            let values = pattern(record);
            for (slot, v) in out[PATTERN_OFFSET..].iter_mut().zip(values) {
                *slot = if v.is_finite() { v } else { 0.0 };
            }
        }
        debug_assert!(out.iter().all(|v| v.is_finite()));
    }

    /// Row-major matrix of the vectors of `records`.
    pub fn extract_batch(&self, records: &[Record]) -> Vec<f32> {
        let mut out = vec![0.0; records.len() * N_FEATURES];
        for (record, row) in records.iter().zip(out.chunks_exact_mut(N_FEATURES)) {
            self.extract_into(record, row);
        }
        out
    }
}

#[cfg(test)]
pub(crate) mod tests;

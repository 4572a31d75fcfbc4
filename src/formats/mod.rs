//! Format detection and parsers: decoded bytes in, Sentinel-shaped [`Record`]s out.
//!
//! Every parser is pure (no I/O but the reader it is given) and pushes its output through
//! an [`Emitter`], which numbers records, computes their deterministic ids, and counts
//! rejects. A malformed line or value is a [`Reject`], never the end of the object.
//! [`parse_object`] runs one object through decoding, detection and its parser.

pub mod cloudfront;
pub mod cloudtrail;
pub mod cloudwatch;
pub mod detect;
pub mod elb;
pub mod fields;
pub mod generic;
pub mod guardduty;
pub mod json_lines;
pub mod json_stream;
pub mod lines;
pub mod network_firewall;
pub mod object;
pub mod object_time;
pub mod route53;
pub mod s3access;
pub mod securityhub;
pub mod vpcflow;
pub mod waf;

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, BufRead};
use std::sync::Arc;

use crate::record::{LogType, Record, RecordId, Reject, display_as_name};
use crate::source::decode::{ByteCounters, DecodeLimits, gunzip_nested, limit_error};
use lines::Line;

pub use detect::{Detection, detect};
pub use object::{ObjectError, ObjectJob, ObjectOutcome, parse_object};
pub use object_time::{ObjectTime, TimeOrigin};

/// A parser family; one format may produce several log types (an ELB access log file can
/// mix ALB, NLB and connection-log lines; Network Firewall has alert, flow and tls).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// CloudTrail log files -> AWSCloudTrail.
    CloudTrail,
    /// VPC and Transit Gateway flow logs -> AWSVPCFlow.
    VpcFlow,
    /// ALB, NLB and classic ELB access logs and ALB connection logs.
    ElbAccess,
    /// CloudFront standard logs -> AWSCloudFront_CL.
    CloudFront,
    /// S3 server access logs -> AWSS3ServerAccess.
    S3Access,
    /// AWS WAF web ACL logs -> AWSWAF.
    Waf,
    /// GuardDuty findings -> AWSGuardDuty.
    GuardDuty,
    /// Security Hub findings (ASFF) -> AWSSecurityHubFindings.
    SecurityHub,
    /// Route 53 Resolver query logs -> AWSRoute53Resolver.
    Route53Resolver,
    /// Network Firewall alert, flow and TLS logs.
    NetworkFirewall,
    /// CloudWatch Logs subscription messages, each parsed as its own format.
    CloudWatch,
    /// Other JSON lines -> S3SentinelLogs_CL.
    GenericJson,
    /// Other text lines -> S3SentinelLogs_CL.
    Text,
}

impl Format {
    /// Every format.
    pub const ALL: [Format; 13] = [
        Format::CloudTrail,
        Format::VpcFlow,
        Format::ElbAccess,
        Format::CloudFront,
        Format::S3Access,
        Format::Waf,
        Format::GuardDuty,
        Format::SecurityHub,
        Format::Route53Resolver,
        Format::NetworkFirewall,
        Format::CloudWatch,
        Format::GenericJson,
        Format::Text,
    ];

    /// The name used by `--format`.
    pub fn name(self) -> &'static str {
        match self {
            Format::CloudTrail => "cloudtrail",
            Format::VpcFlow => "vpcflow",
            Format::ElbAccess => "elb",
            Format::CloudFront => "cloudfront",
            Format::S3Access => "s3access",
            Format::Waf => "waf",
            Format::GuardDuty => "guardduty",
            Format::SecurityHub => "securityhub",
            Format::Route53Resolver => "route53resolver",
            Format::NetworkFirewall => "networkfirewall",
            Format::CloudWatch => "cloudwatch",
            Format::GenericJson => "json",
            Format::Text => "text",
        }
    }

    /// Accepts the `--format` names and a few obvious aliases.
    pub fn from_name(name: &str) -> Option<Format> {
        let n = name.to_ascii_lowercase();
        let alias = match n.as_str() {
            "alb" | "nlb" | "classic-elb" | "elbv2" => "elb",
            "vpc" | "vpc-flow" | "tgw" | "transitgateway" => "vpcflow",
            "s3" | "s3-access" => "s3access",
            "route53" | "dns" => "route53resolver",
            "nfw" | "network-firewall" | "firewall" => "networkfirewall",
            "cloudwatch-logs" | "cwl" => "cloudwatch",
            "security-hub" | "asff" => "securityhub",
            "jsonl" | "ndjson" | "generic-json" => "json",
            "plain" | "lines" => "text",
            other => other,
        };
        Format::ALL.into_iter().find(|f| f.name() == alias)
    }
}

display_as_name!(Format);

/// Asked by a sink to stop parsing early (deadline reached, downstream failed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stop(pub String);

#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// The stream itself failed (truncated gzip, decode limit, network). Everything before
    /// the failure was emitted.
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("stopped: {}", .0.0)]
    Stopped(Stop),
}

impl From<Stop> for ParseError {
    fn from(s: Stop) -> Self {
        ParseError::Stopped(s)
    }
}

/// Where parsed output goes.
pub trait RecordSink {
    /// Takes one parsed record.
    fn record(&mut self, record: Record) -> Result<(), Stop>;
    /// Takes one line or value that could not be parsed.
    fn reject(&mut self, reject: Reject) -> Result<(), Stop>;
}

/// Collects everything in memory (tests, small inputs).
#[derive(Debug, Default)]
pub struct Collect {
    /// Records, in order.
    pub records: Vec<Record>,
    /// Rejects, in order.
    pub rejects: Vec<Reject>,
}

impl RecordSink for Collect {
    fn record(&mut self, record: Record) -> Result<(), Stop> {
        self.records.push(record);
        Ok(())
    }
    fn reject(&mut self, reject: Reject) -> Result<(), Stop> {
        self.rejects.push(reject);
        Ok(())
    }
}

/// Parses `text` as `source` with `parser`, checking that every record fits its table
/// (the parsers' unit tests).
#[cfg(test)]
pub(crate) fn parse_checked(parser: &mut dyn Parser, source: &str, text: &str) -> Collect {
    let mut sink = Collect::default();
    let mut out = Emitter::new(source, &mut sink);
    parser.parse(&mut text.as_bytes(), &mut out).unwrap();
    for r in &sink.records {
        crate::record::tables::check_record(r).unwrap();
    }
    sink
}

/// [`parse_checked`] in an object whose time is 2026-11-20T10:00:00Z (from its key): the
/// time of records without a usable one of their own.
#[cfg(test)]
pub(crate) fn parse_checked_in_object(parser: &mut dyn Parser, text: &str) -> Collect {
    let key = "AWSLogs/111122223333/x/us-east-1/2026/11/20/x_20261120T1000Z_0.json";
    let mut sink = Collect::default();
    let object_time = ObjectTime::of(key, None);
    let mut out = Emitter::new(key, &mut sink).with_object_time(object_time);
    parser.parse(&mut text.as_bytes(), &mut out).unwrap();
    for r in &sink.records {
        crate::record::tables::check_record(r).unwrap();
    }
    sink
}

/// Asserts that `record` took its object's time (see [`parse_checked_in_object`]).
#[cfg(test)]
pub(crate) fn assert_object_time(record: &Record) {
    assert_eq!(time_text(record), "2026-11-20T10:00:00Z");
    assert_eq!(
        record.get_str(crate::record::columns::TIME_GENERATED_FROM),
        Some("ObjectKey")
    );
}

/// Parses, in an object dated by its key ([`parse_checked_in_object`]), a record without a
/// time member, one whose time is unreadable (`unreadable`, holding the text
/// `unreadable_text`) and a `timed` one. Asserts that the first two take their object's
/// time and that the unreadable time stays in its row, and that `timed` keeps its own
/// time; returns the three records.
#[cfg(test)]
pub(crate) fn assert_untimed_take_object_time(
    parser: &mut dyn Parser,
    untimed: &str,
    unreadable: &str,
    unreadable_text: &str,
    timed: &str,
) -> Vec<Record> {
    let got = parse_checked_in_object(parser, &format!("{untimed}\n{unreadable}\n{timed}\n"));
    assert_eq!(got.counts(), (3, 0), "{:?}", got.rejects);
    assert_object_time(&got.records[0]);
    assert_object_time(&got.records[1]);
    assert!(got.records[1].to_json().contains(unreadable_text));
    assert_eq!(
        got.records[2].get(crate::record::columns::TIME_GENERATED_FROM),
        None
    );
    got.records
}

/// What the parsers' unit tests check of their output.
#[cfg(test)]
impl Collect {
    /// How many records and rejects there are.
    pub(crate) fn counts(&self) -> (usize, usize) {
        (self.records.len(), self.rejects.len())
    }

    /// The records' log types, in order.
    pub(crate) fn log_types(&self) -> Vec<LogType> {
        self.records.iter().map(|r| r.log_type).collect()
    }
}

/// A record's time as RFC 3339 text (the parsers' unit tests).
#[cfg(test)]
pub(crate) fn time_text(r: &Record) -> String {
    crate::record::time::to_rfc3339(&r.time.expect("the record has a time"))
}

/// Checks a record's string columns, `(column, value)` (the parsers' unit tests).
#[cfg(test)]
pub(crate) fn assert_strs(r: &Record, expected: &[(&str, &str)]) {
    for (column, value) in expected {
        assert_eq!(r.get_str(column), Some(*value), "{column}");
    }
}

/// A record's `AdditionalFields` JSON text (the parsers' unit tests).
#[cfg(test)]
pub(crate) fn extras(r: &Record) -> &str {
    r.get_str(fields::ADDITIONAL_FIELDS)
        .expect("the record has AdditionalFields")
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct ParseStats {
    pub records: BTreeMap<LogType, u64>,
    pub rejects: u64,
    /// Records before the resume point, parsed again but not delivered.
    pub skipped: u64,
}

impl ParseStats {
    pub fn total_records(&self) -> u64 {
        self.records.values().sum()
    }
}

/// Numbers records, stamps ids and the source object, and forwards to the sink.
pub struct Emitter<'a> {
    source_object: Arc<str>,
    next_ordinal: u64,
    resume_from: u64,
    sink: &'a mut dyn RecordSink,
    /// The object's decompression limits and counters: payloads a parser unpacks count
    /// against them.
    limits: DecodeLimits,
    counters: ByteCounters,
    /// The time of records that have no usable time of their own.
    object_time: Option<ObjectTime>,
    /// Records and rejects counted so far.
    pub stats: ParseStats,
}

impl<'a> Emitter<'a> {
    /// An emitter numbering from 0, stamping `source_object` on every record.
    pub fn new(source_object: impl Into<Arc<str>>, sink: &'a mut dyn RecordSink) -> Self {
        Emitter {
            source_object: source_object.into(),
            next_ordinal: 0,
            resume_from: 0,
            sink,
            limits: DecodeLimits::default(),
            counters: ByteCounters::default(),
            object_time: None,
            stats: ParseStats::default(),
        }
    }

    /// Records without a usable time of their own get the object's, and a column saying so.
    pub fn with_object_time(mut self, object_time: Option<ObjectTime>) -> Self {
        self.object_time = object_time;
        self
    }

    /// Nested payloads count against these limits and counters (the object's own).
    pub fn with_limits(mut self, limits: DecodeLimits, counters: ByteCounters) -> Self {
        self.limits = limits;
        self.counters = counters;
        self
    }

    /// Unpacks a gzip payload inside the object (at most `max_bytes`), counted against the
    /// object's decompression limits; the error says which limit it hit.
    pub fn gunzip_nested(&self, compressed: &[u8], max_bytes: u64) -> Result<Vec<u8>, String> {
        gunzip_nested(compressed, &self.limits, &self.counters, max_bytes).map_err(|e| {
            match limit_error(&e) {
                Some(limit) => limit.to_string(),
                None => format!("not gzip: {e}"),
            }
        })
    }

    /// Records with an ordinal below `ordinal` were delivered by an earlier attempt: they
    /// are parsed (their position must be known) but not passed on.
    pub fn resume_from(mut self, ordinal: u64) -> Self {
        self.resume_from = ordinal;
        self
    }

    /// The `SourceObject` stamped on every record.
    pub fn source_object(&self) -> &Arc<str> {
        &self.source_object
    }

    /// Ordinal the next record gets.
    pub fn next_ordinal(&self) -> u64 {
        self.next_ordinal
    }

    /// `raw` is the record's source bytes (its line, or its JSON value): with the
    /// ordinal it determines the id.
    pub fn emit(&mut self, raw: &[u8], mut record: Record) -> Result<(), Stop> {
        let ordinal = self.next_ordinal;
        self.next_ordinal += 1;
        if ordinal < self.resume_from {
            self.stats.skipped += 1;
            return Ok(());
        }
        record.ordinal = ordinal;
        record.id = RecordId::compute(record.log_type, ordinal, raw);
        record.source_object = self.source_object.clone();
        if record.time.is_none()
            && let Some(object_time) = self.object_time
        {
            record.time = Some(object_time.at);
            let (column, origin) = object_time.column();
            record.push(column, origin);
        }
        *self.stats.records.entry(record.log_type).or_default() += 1;
        self.sink.record(record)
    }

    /// Rejects a whole line.
    pub fn reject_line(
        &mut self,
        log_type: LogType,
        line: &Line<'_>,
        reason: impl fmt::Display,
    ) -> Result<(), Stop> {
        self.reject(log_type, Some(line.number), line.offset, line.bytes, reason)
    }

    /// Counts a line or value that could not be parsed and passes it to the sink.
    pub fn reject(
        &mut self,
        log_type: LogType,
        line: Option<u64>,
        offset: u64,
        raw: &[u8],
        reason: impl fmt::Display,
    ) -> Result<(), Stop> {
        self.stats.rejects += 1;
        self.sink.reject(Reject {
            source_object: self.source_object.to_string(),
            line,
            offset,
            log_type: log_type.name().to_string(),
            reason: reason.to_string(),
            raw: Reject::raw_text(raw),
        })
    }
}

/// A parser for one format. It reads until the end of `input`, emitting records and
/// rejects; it returns an error only when the stream itself fails or the sink stops it.
pub trait Parser {
    fn parse(&mut self, input: &mut dyn BufRead, out: &mut Emitter<'_>) -> Result<(), ParseError>;
}

/// The parser for a format.
pub fn parser_for(format: Format) -> Box<dyn Parser> {
    match format {
        Format::CloudTrail => Box::new(cloudtrail::CloudTrailParser),
        Format::VpcFlow => Box::new(vpcflow::VpcFlowParser::default()),
        Format::ElbAccess => Box::new(elb::ElbParser),
        Format::CloudFront => Box::new(cloudfront::CloudFrontParser::default()),
        Format::S3Access => Box::new(s3access::S3AccessParser),
        Format::Waf => Box::new(waf::WafParser),
        Format::GuardDuty => Box::new(guardduty::GuardDutyParser),
        Format::SecurityHub => Box::new(securityhub::SecurityHubParser),
        Format::Route53Resolver => Box::new(route53::Route53ResolverParser),
        Format::NetworkFirewall => Box::new(network_firewall::NetworkFirewallParser),
        Format::CloudWatch => Box::new(cloudwatch::CloudWatchParser),
        Format::GenericJson => Box::new(generic::GenericJsonParser),
        Format::Text => Box::new(generic::TextParser),
    }
}

/// Parses a whole decoded stream with the given format.
pub fn parse_with(
    format: Format,
    input: &mut dyn BufRead,
    out: &mut Emitter<'_>,
) -> Result<(), ParseError> {
    parser_for(format).parse(input, out)
}

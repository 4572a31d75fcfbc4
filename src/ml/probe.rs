//! The built-in probe batch every model set must pass before it serves: one record per
//! log family plus a known-critical and a routine CloudTrail event.

use crate::record::time::parse_iso8601;
use crate::record::{LogType, Record};

/// Index of the critical CloudTrail probe (StopLogging by an IAM user with a long-term
/// key from the internet) in [`probe_records`].
pub const CRITICAL: usize = 0;
/// Index of the routine probe (DescribeInstances by an assumed role from inside AWS).
pub const ROUTINE: usize = 1;

pub fn probe_records() -> Vec<Record> {
    let time = parse_iso8601("2025-03-04T10:15:00Z");
    let with = |log_type: LogType, columns: &[(&'static str, &str)]| {
        let mut r = Record::new(log_type);
        r.time = time;
        for (name, value) in columns {
            r.push(name, *value);
        }
        r
    };
    let mut critical = with(
        LogType::CloudTrail,
        &[
            ("EventSource", "cloudtrail.amazonaws.com"),
            ("EventName", "StopLogging"),
            ("UserIdentityType", "IAMUser"),
            ("UserIdentityAccessKeyId", "AKIAPROBEPROBEPROBE1"),
            ("SourceIpAddress", "198.51.100.23"),
            ("AWSRegion", "us-east-1"),
            ("RequestParameters", r#"{"name":"org-trail"}"#),
        ],
    );
    critical.push("ReadOnly", false);
    let mut routine = with(
        LogType::CloudTrail,
        &[
            ("EventSource", "ec2.amazonaws.com"),
            ("EventName", "DescribeInstances"),
            ("UserIdentityType", "AssumedRole"),
            ("UserIdentityAccessKeyId", "ASIAPROBEPROBEPROBE2"),
            ("SourceIpAddress", "10.0.3.17"),
            ("AWSRegion", "us-east-1"),
        ],
    );
    routine.push("ReadOnly", true);
    let mut flow = with(
        LogType::VpcFlow,
        &[
            ("SrcAddr", "10.0.1.4"),
            ("DstAddr", "10.0.2.9"),
            ("Action", "ACCEPT"),
        ],
    );
    flow.push("DstPort", 443i64);
    flow.push("Protocol", 6i64);
    flow.push("Bytes", 5120i64);
    flow.push("Packets", 12i64);
    let mut alb = with(
        LogType::Alb,
        &[
            (
                "RequestRaw",
                "GET https://shop.example.com:443/api/items HTTP/1.1",
            ),
            ("ClientIp", "203.0.113.9"),
            ("TargetProcessingTime", "0.031"),
        ],
    );
    alb.push("ElbStatusCode", 200i64);
    let text = with(
        LogType::Text,
        &[(
            "Message",
            "2025-03-04 10:15:00 ERROR payment-service: connection to db timed out",
        )],
    );
    let dns = with(
        LogType::Route53Resolver,
        &[
            ("QueryName", "api.example.com."),
            ("QueryType", "A"),
            ("Rcode", "NOERROR"),
        ],
    );
    vec![critical, routine, flow, alb, text, dns]
}

//! What a record "says", for pattern mining: its message, its entity and its
//! correlation scope, from its Sentinel columns.
//!
//! Structured AWS records have no free text; their message is a canonical string of the
//! fields that identify the action (CloudTrail `EventSource EventName` with the error and
//! identity type; a VPC flow's action, protocol and service-port class; an HTTP request's
//! method, status class and path shape; ...). Such messages are already templates: they
//! are used as they are, never generalized. Text records (CloudWatch, plain text, generic
//! JSON) have the `Message` column, whose header (timestamp, host, level) is dropped and
//! whose body goes to the template miner.

use crate::formats::fields::JsonObject;
use crate::record::{LogType, Record, Value, prefix_within};

/// The pattern stage reads at most this much of a message: templates, entities and
/// sessions come from its start (loghub's longest lines are under 600 bytes), and a huge
/// message must cost no more than a long one, in time and in the miner's memory.
pub const MAX_MESSAGE_BYTES: usize = 1024;
/// A JSON message up to this size is read as JSON (for its text field); a longer one is
/// read as text.
const MAX_JSON_MESSAGE_BYTES: usize = 64 * 1024;
/// An entity or scope longer than this is kept as its start and a hash of the whole, so
/// the sequence and correlation tables stay small whatever the input.
pub const MAX_KEY_BYTES: usize = 128;

/// `key` itself when short, else its start and a hash of the whole.
fn bounded_key(key: String) -> String {
    if key.len() <= MAX_KEY_BYTES {
        return key;
    }
    let hash = xxhash_rust::xxh3::xxh3_64(key.as_bytes());
    format!("{}#{hash:016x}", prefix_within(&key, MAX_KEY_BYTES - 17))
}

/// A record's message and whether it is free text for the miner (`true`) or a canonical
/// structured string used as its own template (`false`).
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub text: String,
    pub free_text: bool,
}

fn s<'a>(r: &'a Record, column: &str) -> Option<&'a str> {
    r.get_str(column)
        .map(str::trim)
        .filter(|v| !v.is_empty() && *v != "-")
}

fn int(r: &Record, column: &str) -> Option<i64> {
    r.get(column).and_then(Value::as_i64)
}

fn or_dash(v: Option<&str>) -> &str {
    v.unwrap_or("-")
}

/// The message of a record, at most [`MAX_MESSAGE_BYTES`] long.
pub fn message_of(r: &Record) -> Message {
    let mut message = unbounded_message(r);
    if message.text.len() > MAX_MESSAGE_BYTES {
        let cut = prefix_within(&message.text, MAX_MESSAGE_BYTES).len();
        message.text.truncate(cut);
    }
    message
}

fn unbounded_message(r: &Record) -> Message {
    let structured = |text: String| Message {
        text,
        free_text: false,
    };
    let t = r.log_type;
    match t {
        LogType::CloudTrail => {
            let outcome = match s(r, "ErrorCode") {
                Some(code) => format!("error={code}"),
                None => match s(r, "ResponseElements") {
                    Some(resp) if resp.contains("\"Failure\"") => "outcome=Failure".into(),
                    _ => "ok".into(),
                },
            };
            structured(format!(
                "{t} {} {} {outcome} identity={}",
                or_dash(s(r, "EventSource")),
                or_dash(s(r, "EventName")),
                or_dash(s(r, "UserIdentityType")),
            ))
        }
        LogType::VpcFlow | LogType::TransitGatewayFlow => {
            let port = match (int(r, "SrcPort"), int(r, "DstPort")) {
                (Some(a), Some(b)) => port_class(a.min(b)),
                (Some(p), None) | (None, Some(p)) => port_class(p),
                _ => "-".into(),
            };
            structured(format!(
                "{t} {} {} port={port} {} {}",
                or_dash(s(r, "Action")),
                protocol_name(int(r, "Protocol")),
                or_dash(s(r, "FlowDirection")),
                or_dash(s(r, "LogStatus")),
            ))
        }
        LogType::Alb | LogType::ClassicElb | LogType::AlbConnection => {
            let (method, path) = request_parts(s(r, "RequestRaw").unwrap_or(""));
            structured(format!(
                "{t} {method} {} {path} {}",
                status_class(int(r, "ElbStatusCode")),
                or_dash(s(r, "ActionsExecuted")),
            ))
        }
        LogType::Nlb => structured(format!(
            "{t} {} {} alert={}",
            or_dash(s(r, "Listener").map(|_| "tls")),
            or_dash(s(r, "TLSProtocolVersion")),
            or_dash(s(r, "IncomingTLSAlert")),
        )),
        LogType::CloudFront => structured(format!(
            "{t} {} {} {} {}",
            or_dash(s(r, "CsMethod")),
            status_class(int(r, "ScStatus")),
            path_shape(s(r, "CsUriStem").unwrap_or("")),
            or_dash(s(r, "EdgeResultType")),
        )),
        LogType::S3Access => structured(format!(
            "{t} {} {} error={} auth={}",
            or_dash(s(r, "Operation")),
            status_class(int(r, "HttpStatus")),
            or_dash(s(r, "ErrorCode")),
            or_dash(s(r, "AuthenticationType")),
        )),
        LogType::Waf => structured(columns_message(
            r,
            &[
                ("", "Action"),
                ("rule", "TerminatingRuleId"),
                ("", "HttpMethod"),
            ],
        )),
        LogType::GuardDuty => structured(format!(
            "{t} {} severity={}",
            or_dash(s(r, "ActivityType")),
            match r.get("Severity").and_then(Value::as_f64) {
                Some(x) if x >= 7.0 => "high",
                Some(x) if x >= 4.0 => "medium",
                Some(_) => "low",
                None => "-",
            }
        )),
        LogType::SecurityHub => structured(columns_message(
            r,
            &[
                ("", "AwsSecurityFindingGeneratorId"),
                ("compliance", "ComplianceStatus"),
                ("workflow", "WorkflowState"),
            ],
        )),
        LogType::Route53Resolver => structured(columns_message(
            r,
            &[
                ("", "QueryType"),
                ("", "Rcode"),
                ("firewall", "FirewallRuleAction"),
            ],
        )),
        LogType::NetworkFirewallAlert => structured(columns_message(
            r,
            &[
                ("", "AlertAction"),
                ("", "Proto"),
                ("", "AppProto"),
                ("sid", "SignatureId"),
            ],
        )),
        LogType::NetworkFirewallFlow => structured(columns_message(
            r,
            &[("", "EventType"), ("", "Proto"), ("", "AppProto")],
        )),
        LogType::NetworkFirewallTls => {
            structured(columns_message(r, &[("", "Action"), ("", "Status")]))
        }
        LogType::CloudWatch | LogType::GenericJson | LogType::Text => Message {
            text: text_body(s(r, "Message").unwrap_or("")),
            free_text: true,
        },
    }
}

/// The log type, then each column's value (`-` when missing) after a space, as
/// `label=value` where the label is not empty.
fn columns_message(r: &Record, columns: &[(&str, &str)]) -> String {
    let mut text = r.log_type.to_string();
    for (label, column) in columns {
        text.push(' ');
        if !label.is_empty() {
            text.push_str(label);
            text.push('=');
        }
        text.push_str(or_dash(s(r, column)));
    }
    text
}

fn protocol_name(p: Option<i64>) -> String {
    match p {
        Some(6) => "tcp".into(),
        Some(17) => "udp".into(),
        Some(1) => "icmp".into(),
        Some(58) => "icmpv6".into(),
        Some(47) => "gre".into(),
        Some(50) => "esp".into(),
        Some(n) => format!("proto-{n}"),
        None => "-".into(),
    }
}

/// Well-known ports by number; registered ports by number when they name a common
/// service, else as a class; ephemeral ports as a class.
fn port_class(port: i64) -> String {
    const NOTABLE: [i64; 16] = [
        1433, 1521, 2049, 2375, 2379, 3306, 3389, 5432, 5601, 5900, 6379, 8080, 8443, 9092, 9200,
        27017,
    ];
    match port {
        0..=1023 => port.to_string(),
        p if NOTABLE.contains(&p) => p.to_string(),
        1024..=49151 => "registered".into(),
        _ => "ephemeral".into(),
    }
}

fn status_class(status: Option<i64>) -> String {
    match status {
        Some(s) if (100..600).contains(&s) => format!("{}xx", s / 100),
        Some(s) => s.to_string(),
        None => "-".into(),
    }
}

/// Method and path shape of `GET https://host:443/a/b?q HTTP/1.1`.
fn request_parts(raw: &str) -> (&str, String) {
    let mut parts = raw.split_whitespace();
    let method = parts.next().unwrap_or("-");
    let url = parts.next().unwrap_or("");
    let path = match url.find("://") {
        Some(p) => {
            let rest = &url[p + 3..];
            rest.find('/').map_or("/", |i| &rest[i..])
        }
        None => url,
    };
    (method, path_shape(path))
}

/// The first three segments of a path without its query, with data-like segments
/// (numbers, ids, hashes) as `<*>`: `/api/users/123?x=1` -> `/api/users/<*>`.
pub fn path_shape(path: &str) -> String {
    let path = path.split(['?', '#']).next().unwrap_or("");
    if path.is_empty() {
        return "-".into();
    }
    let mut out = String::new();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    for seg in segments.iter().take(3) {
        out.push('/');
        let data = seg.bytes().any(|b| b.is_ascii_digit()) || seg.len() > 32;
        out.push_str(if data { super::mask::WILDCARD } else { seg });
    }
    if segments.len() > 3 {
        out.push_str("/...");
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// The body of a text message: a JSON message's text field (with its level), or the
/// line after a leading timestamp/host/level header. Only a JSON message of at most 64 KiB
/// is read as JSON, its values left unparsed but for the fields read; the result is at
/// most [`MAX_MESSAGE_BYTES`].
pub fn text_body(message: &str) -> String {
    let trimmed = message.trim();
    if trimmed.starts_with('{')
        && trimmed.len() <= MAX_JSON_MESSAGE_BYTES
        && let Ok(object) = JsonObject::parse(trimmed.as_bytes())
    {
        let string = |key: &str| {
            object
                .raw(key)
                .filter(|raw| raw.get().starts_with('"'))
                .and_then(|_| object.str(key))
        };
        let text = ["message", "msg", "Message", "event", "eventName", "error"]
            .iter()
            .find_map(|k| string(k));
        let level = ["level", "severity", "Level", "levelname"]
            .iter()
            .find_map(|k| string(k));
        let body = match (level, text) {
            (Some(l), Some(t)) => format!("{l} {}", prefix_within(&t, MAX_MESSAGE_BYTES)),
            (None, Some(t)) => prefix_within(&t, MAX_MESSAGE_BYTES).to_string(),
            _ => {
                let mut keys: Vec<&str> = object.members.iter().map(|(k, _)| k.as_ref()).collect();
                keys.sort_unstable();
                keys.dedup();
                format!("json {}", keys.join(" "))
            }
        };
        return prefix_within(&body, MAX_MESSAGE_BYTES).to_string();
    }
    strip_header(prefix_within(trimmed, MAX_MESSAGE_BYTES)).to_string()
}

/// Drops `2024-01-02T03:04:05Z`, `2024-01-02 03:04:05,678` or `Jan  2 03:04:05 host` and a
/// following log level from the start of a line.
fn strip_header(line: &str) -> &str {
    let tokens: Vec<(usize, &str)> = token_offsets(line).take(5).collect();
    let tok = |i: usize| tokens.get(i).map_or("", |t| t.1);
    let from = |i: usize| tokens.get(i).map_or("", |t| &line[t.0..]);
    let is_clock = |t: &str| t.len() >= 8 && t.as_bytes()[2] == b':' && t.as_bytes()[5] == b':';
    let is_date = |t: &str| {
        let b = t.as_bytes();
        b.len() >= 10 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-' && b[7] == b'-'
    };
    let mut rest = line;
    if is_date(tok(0)) {
        rest = if is_clock(tok(1)) { from(2) } else { from(1) };
    } else if tok(0).len() == 3
        && tok(0).bytes().all(|c| c.is_ascii_alphabetic())
        && tok(1).len() <= 2
        && tok(1).bytes().all(|c| c.is_ascii_digit())
        && is_clock(tok(2))
    {
        rest = from(4);
    }
    for level in [
        "TRACE", "DEBUG", "INFO", "WARN", "WARNING", "ERROR", "FATAL", "CRITICAL",
    ] {
        if let Some(after) = rest.strip_prefix(level)
            && after.starts_with([' ', ':'])
        {
            return after.trim_start_matches([' ', ':']);
        }
    }
    rest
}

fn token_offsets(line: &str) -> impl Iterator<Item = (usize, &str)> {
    line.split(' ')
        .scan(0usize, |offset, t| {
            let at = *offset;
            *offset += t.len() + 1;
            Some((at, t))
        })
        .filter(|(_, t)| !t.is_empty())
}

/// The entity whose sequence of events a record belongs to, if any: the principal of a
/// CloudTrail call, the interface of a flow, the client of a request, an HDFS block or a
/// session id found in text.
pub fn entity_of(r: &Record) -> Option<String> {
    let first = |cols: &[&str]| cols.iter().find_map(|c| s(r, c)).map(str::to_string);
    match r.log_type {
        LogType::CloudTrail => first(&[
            "UserIdentityArn",
            "UserIdentityAccessKeyId",
            "UserIdentityPrincipalid",
        ]),
        LogType::VpcFlow | LogType::TransitGatewayFlow => first(&["InterfaceId"]),
        LogType::Alb
        | LogType::ClassicElb
        | LogType::AlbConnection
        | LogType::CloudFront
        | LogType::Waf => first(&["ClientIp"]),
        LogType::S3Access => first(&["Requester", "RemoteIp"]),
        LogType::Route53Resolver => first(&["SrcAddr"]),
        LogType::NetworkFirewallAlert
        | LogType::NetworkFirewallFlow
        | LogType::NetworkFirewallTls => first(&["SrcIp"]),
        LogType::Nlb => first(&["ClientIPPort"]).map(|c| {
            c.rsplit_once(':')
                .map_or(c.clone(), |(ip, _)| ip.to_string())
        }),
        LogType::GuardDuty | LogType::SecurityHub => None,
        LogType::CloudWatch | LogType::GenericJson | LogType::Text => s(r, "Message")
            .map(|m| prefix_within(m, MAX_MESSAGE_BYTES))
            .and_then(session_in_text),
    }
    .map(bounded_key)
}

/// Where co-occurrence is counted: the source of the activity when known (so failed
/// logins and a success from one address meet), else the entity, else the log type.
pub fn scope_of(r: &Record, entity: Option<&str>) -> String {
    let source = match r.log_type {
        LogType::CloudTrail => s(r, "SourceIpAddress"),
        LogType::VpcFlow | LogType::TransitGatewayFlow | LogType::Route53Resolver => {
            s(r, "SrcAddr")
        }
        LogType::S3Access => s(r, "RemoteIp"),
        _ => None,
    };
    match (source, entity) {
        (Some(src), _) => bounded_key(src.to_string()),
        (None, Some(e)) => e.to_string(),
        (None, None) => r.log_type.name().to_string(),
    }
}

/// A session-like id in free text: an HDFS block (`blk_-123`), a `session`/`request`/
/// `trace` id given as `key=value` or `key: value`, or a syslog `process[pid]`.
pub fn session_in_text(text: &str) -> Option<String> {
    let b = text.as_bytes();
    if let Some(p) = memchr::memmem::find(b, b"blk_") {
        let start = p;
        let mut end = p + 4;
        if b.get(end) == Some(&b'-') {
            end += 1;
        }
        let digits = end;
        while end < b.len() && b[end].is_ascii_digit() {
            end += 1;
        }
        if end > digits {
            return Some(text[start..end].to_string());
        }
    }
    let lower = text.to_ascii_lowercase();
    for key in [
        "sessionid",
        "session_id",
        "session",
        "request_id",
        "requestid",
        "trace_id",
        "traceid",
    ] {
        let mut from = 0;
        while let Some(p) = lower[from..].find(key) {
            let at = from + p;
            from = at + key.len();
            let boundary = at == 0 || !lower.as_bytes()[at - 1].is_ascii_alphanumeric();
            let rest = &text[at + key.len()..];
            let value = rest.trim_start_matches([' ', ':', '=', '"']);
            if !boundary || value.len() == rest.len() {
                continue;
            }
            let id: String = value
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                .collect();
            if id.len() >= 4 && id.bytes().any(|c| c.is_ascii_digit()) {
                return Some(format!("{key}:{id}"));
            }
        }
    }
    // `sshd[24200]:` in a syslog line.
    let open = text.find('[')?;
    let close = open + text[open..].find("]:")?;
    let name_start = text[..open].rfind(' ').map_or(0, |i| i + 1);
    let pid = &text[open + 1..close];
    (!pid.is_empty() && pid.bytes().all(|c| c.is_ascii_digit()) && open > name_start)
        .then(|| text[name_start..=close].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(log_type: LogType, cols: &[(&'static str, Value)]) -> Record {
        let mut r = Record::new(log_type);
        for (n, v) in cols {
            r.push(n, v.clone());
        }
        r
    }

    #[test]
    fn cloudtrail_message_names_the_action() {
        let r = record(
            LogType::CloudTrail,
            &[
                ("EventSource", "signin.amazonaws.com".into()),
                ("EventName", "ConsoleLogin".into()),
                ("ResponseElements", r#"{"ConsoleLogin":"Failure"}"#.into()),
                ("UserIdentityType", "IAMUser".into()),
                ("UserIdentityArn", "arn:aws:iam::1:user/bob".into()),
                ("SourceIpAddress", "1.2.3.4".into()),
            ],
        );
        let m = message_of(&r);
        assert_eq!(
            m.text,
            "CloudTrail signin.amazonaws.com ConsoleLogin outcome=Failure identity=IAMUser"
        );
        assert!(!m.free_text);
        assert_eq!(entity_of(&r).as_deref(), Some("arn:aws:iam::1:user/bob"));
        assert_eq!(scope_of(&r, entity_of(&r).as_deref()), "1.2.3.4");
    }

    #[test]
    fn flows_and_requests_use_classes() {
        let flow = record(
            LogType::VpcFlow,
            &[
                ("Action", "REJECT".into()),
                ("Protocol", Value::Int(6)),
                ("SrcPort", Value::Int(51234)),
                ("DstPort", Value::Int(22)),
                ("LogStatus", "OK".into()),
                ("InterfaceId", "eni-1".into()),
            ],
        );
        assert_eq!(message_of(&flow).text, "VPCFlow REJECT tcp port=22 - OK");
        assert_eq!(entity_of(&flow).as_deref(), Some("eni-1"));
        let alb = record(
            LogType::Alb,
            &[
                (
                    "RequestRaw",
                    "GET https://x.example:443/api/users/123?a=1 HTTP/1.1".into(),
                ),
                ("ElbStatusCode", Value::Int(404)),
            ],
        );
        assert_eq!(message_of(&alb).text, "ALB GET 4xx /api/users/<*> -");
        assert_eq!(port_class(50000), "ephemeral");
        assert_eq!(port_class(3306), "3306");
        assert_eq!(port_class(4000), "registered");
    }

    #[test]
    fn column_messages_label_some_values_and_dash_missing_ones() {
        for (log_type, columns, expected) in [
            (
                LogType::Waf,
                vec![
                    ("Action", "BLOCK"),
                    ("TerminatingRuleId", "SQLi"),
                    ("HttpMethod", "GET"),
                ],
                "WAF BLOCK rule=SQLi GET",
            ),
            (
                LogType::SecurityHub,
                vec![
                    ("AwsSecurityFindingGeneratorId", "S3.8"),
                    ("WorkflowState", "NEW"),
                ],
                "SecurityHub S3.8 compliance=- workflow=NEW",
            ),
            (
                LogType::Route53Resolver,
                vec![("QueryType", "A"), ("Rcode", "NOERROR")],
                "Route53Resolver A NOERROR firewall=-",
            ),
            (
                LogType::NetworkFirewallAlert,
                vec![
                    ("AlertAction", "blocked"),
                    ("Proto", "TCP"),
                    ("SignatureId", "7"),
                ],
                "NetworkFirewallAlert blocked TCP - sid=7",
            ),
            (
                LogType::NetworkFirewallFlow,
                vec![
                    ("EventType", "netflow"),
                    ("Proto", "UDP"),
                    ("AppProto", "dns"),
                ],
                "NetworkFirewallFlow netflow UDP dns",
            ),
            (
                LogType::NetworkFirewallTls,
                vec![("Status", "ok")],
                "NetworkFirewallTls - ok",
            ),
        ] {
            let cols: Vec<_> = columns.into_iter().map(|(n, v)| (n, v.into())).collect();
            assert_eq!(message_of(&record(log_type, &cols)).text, expected);
        }
    }

    #[test]
    fn text_bodies_drop_headers_and_read_json() {
        assert_eq!(
            text_body("2024-01-02T03:04:05Z INFO started worker 3"),
            "started worker 3"
        );
        assert_eq!(
            text_body("2024-01-02 03:04:05,678 WARN: low disk"),
            "low disk"
        );
        assert_eq!(
            text_body("Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user a from 1.2.3.4"),
            "sshd[24200]: Invalid user a from 1.2.3.4"
        );
        assert_eq!(
            text_body(r#"{"level":"error","msg":"db down","n":1}"#),
            "error db down"
        );
        assert_eq!(text_body(r#"{"b":1,"a":2}"#), "json a b");
        assert_eq!(text_body("plain"), "plain");
    }

    #[test]
    fn sessions_in_text() {
        assert_eq!(
            session_in_text("Receiving block blk_-5623176793330377570 src: /10.0.0.1:1").as_deref(),
            Some("blk_-5623176793330377570")
        );
        assert_eq!(
            session_in_text("Closed socket which had sessionid 0x14ed93111f20005").as_deref(),
            Some("sessionid:0x14ed93111f20005")
        );
        assert_eq!(
            session_in_text("LabSZ sshd[24200]: Invalid user a").as_deref(),
            Some("sshd[24200]")
        );
        assert_eq!(session_in_text("nothing here"), None);
    }
}

//! Elastic Load Balancing logs: ALB access logs and ALB connection logs -> AWSALBAccessLogs,
//! NLB (TLS listener) access logs -> AWSNLBAccessLogs, classic ELB access logs ->
//! AWSALBAccessLogs. They share one S3 prefix and may be mixed in one file, so each line is
//! classified on its own. Fields AWS appended over the years are optional at the end, and
//! fields newer than this parser knows go to `AdditionalFields`.

use std::borrow::Cow;

use super::fields::{Extras, int_field, is_absent, push_int32};
use super::lines::LineParser;
use crate::record::{LogType, Record, Value, time};

/// Splits on spaces. A field that is wholly double-quoted may contain spaces; its quotes are
/// removed and `\"`, `\\` unescaped. A token that merely contains quotes, such as NLB's
/// ALPN list `"h2","http/1.1"`, is kept verbatim, and brackets do not group (an IPv6
/// `[fe80::1]:443` is one field).
pub fn split_fields(line: &str) -> Vec<Cow<'_, str>> {
    let b = line.as_bytes();
    let mut fields = Vec::with_capacity(32);
    let mut i = 0;
    while i < b.len() {
        if b[i] == b' ' {
            i += 1;
            continue;
        }
        let start = i;
        if b[i] == b'"' {
            let mut j = i + 1;
            let mut escaped = false;
            while j < b.len() && b[j] != b'"' {
                if b[j] == b'\\' {
                    escaped = true;
                    j += 1;
                }
                j += 1;
            }
            if j >= b.len() {
                // No closing quote: the rest of the line is the field.
                fields.push(unescape(&line[start + 1..], escaped));
                break;
            }
            if j + 1 == b.len() || b[j + 1] == b' ' {
                fields.push(unescape(&line[start + 1..j], escaped));
                i = j + 1;
                continue;
            }
        }
        // A bare token, possibly with embedded quoted parts.
        let mut j = start;
        let mut quoted = false;
        while j < b.len() && (quoted || b[j] != b' ') {
            if b[j] == b'"' {
                quoted = !quoted;
            }
            j += 1;
        }
        fields.push(Cow::Borrowed(&line[start..j]));
        i = j;
    }
    fields
}

fn unescape(text: &str, escaped: bool) -> Cow<'_, str> {
    if !escaped {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(n @ ('"' | '\\')) => out.push(n),
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    Alb,
    Nlb,
    ClassicElb,
    AlbConnection,
}

impl LineKind {
    pub fn log_type(self) -> LogType {
        match self {
            LineKind::Alb => LogType::Alb,
            LineKind::Nlb => LogType::Nlb,
            LineKind::ClassicElb => LogType::ClassicElb,
            LineKind::AlbConnection => LogType::AlbConnection,
        }
    }
}

const ALB_TYPES: [&str; 6] = ["http", "https", "h2", "grpcs", "ws", "wss"];

/// Which kind of ELB line this is, from its first fields.
pub fn classify<S: AsRef<str>>(fields: &[S]) -> Option<LineKind> {
    let f = |i: usize| fields.get(i).map(|s| s.as_ref()).unwrap_or("");
    if ALB_TYPES.contains(&f(0)) && time::parse_iso8601(f(1)).is_some() {
        return Some(LineKind::Alb);
    }
    if f(0) == "tls" && time::parse_iso8601(f(2)).is_some() {
        return Some(LineKind::Nlb);
    }
    if time::parse_iso8601(f(0)).is_some() {
        let third = f(2);
        if !third.is_empty() && third.bytes().all(|b| b.is_ascii_digit()) {
            return Some(LineKind::AlbConnection);
        }
        if third.contains(':') || third == "-" {
            return Some(LineKind::ClassicElb);
        }
    }
    None
}

/// Whether a line is an ELB log line of any kind.
pub fn looks_like_line(line: &str) -> bool {
    let head: Vec<_> = split_fields(line).into_iter().take(3).collect();
    classify(&head).is_some()
}

/// `ip:port`, `[v6]:port` or `-`.
fn split_host_port<'a>(
    name: &str,
    text: &'a str,
) -> Result<(Option<&'a str>, Option<i64>), String> {
    if is_absent(text) {
        return Ok((None, None));
    }
    let Some((host, port)) = text.rsplit_once(':') else {
        return Ok((Some(text), None));
    };
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.contains(':') && !text.starts_with('[') {
        // A bare IPv6 address without a port.
        return Ok((Some(text), None));
    }
    let port = int_field(name, port)?;
    Ok((Some(host), port))
}

struct Row<'f> {
    fields: &'f [Cow<'f, str>],
    record: Record,
    extras: Extras,
}

impl<'f> Row<'f> {
    /// A row of `log_type` from the fields of a line that needs at least `min` of them.
    fn new(
        fields: &'f [Cow<'f, str>],
        log_type: LogType,
        min: usize,
        what: &str,
    ) -> Result<Self, String> {
        if fields.len() < min {
            return Err(format!(
                "{what} line has {} fields, at least {min} expected",
                fields.len()
            ));
        }
        Ok(Row {
            fields,
            record: Record::new(log_type),
            extras: Extras::new(),
        })
    }
    fn get(&self, i: usize) -> &'f str {
        self.fields.get(i).map(|s| s.as_ref()).unwrap_or("")
    }
    fn text(&mut self, i: usize, column: &'static str) {
        let v = self.get(i);
        if !is_absent(v) {
            self.record.push(column, Value::Str(v.to_owned()));
        }
    }
    fn long(&mut self, i: usize, column: &'static str, name: &str) -> Result<(), String> {
        let v = int_field(name, self.get(i))?;
        self.record.push_opt(column, v.map(Value::Int));
        Ok(())
    }
    fn int(&mut self, i: usize, column: &'static str, name: &str) -> Result<(), String> {
        let v = int_field(name, self.get(i))?;
        push_int32(&mut self.record, &mut self.extras, column, v);
        Ok(())
    }
    fn extra(&mut self, i: usize, name: &str) {
        let v = self.get(i);
        if !is_absent(v) {
            self.extras.str(name, v);
        }
    }
    fn time(&mut self, i: usize) -> Result<(), String> {
        let v = self.get(i);
        // An unusable time is no reason to lose the request: the object's time stands in
        // and the text stays in AdditionalFields.
        self.record.time = time::parse_iso8601(v);
        if self.record.time.is_none() && !is_absent(v) {
            self.extras.str("time", v);
        }
        Ok(())
    }
    fn host_port(
        &mut self,
        i: usize,
        ip_column: &'static str,
        port_column: &'static str,
        name: &str,
    ) -> Result<(), String> {
        let (ip, port) = split_host_port(name, self.get(i))?;
        if let Some(ip) = ip {
            self.record.push(ip_column, Value::Str(ip.to_owned()));
        }
        push_int32(&mut self.record, &mut self.extras, port_column, port);
        Ok(())
    }
    /// Text columns for the fields from `first` on.
    fn texts(&mut self, first: usize, columns: &[&'static str]) {
        for (i, column) in (first..).zip(columns) {
            self.text(i, column);
        }
    }
    /// The row, with fields past the `known` ones of its layout kept as `trailing_fields`.
    fn finish(mut self, known: usize) -> Record {
        if self.fields.len() > known {
            let rest: Vec<&str> = self.fields[known..].iter().map(|s| s.as_ref()).collect();
            self.extras.strings("trailing_fields", rest);
        }
        self.extras.finish(&mut self.record);
        self.record
    }
}

/// The 15 fields of a classic ELB access log line, which an ALB line repeats after its type
/// field, from field `first` on; `target` is AWS's name for the target address
/// (`target:port` or `backend:port`).
fn classic_fields(row: &mut Row<'_>, first: usize, target: &str) -> Result<(), String> {
    row.time(first)?;
    row.text(first + 1, "Alb");
    row.host_port(first + 2, "ClientIp", "ClientPort", "client:port")?;
    row.host_port(first + 3, "TargetIp", "TargetPort", target)?;
    let processing_times = [
        "RequestProcessingTime",
        "TargetProcessingTime",
        "ResponseProcessingTime",
    ];
    row.texts(first + 4, &processing_times);
    row.int(first + 7, "ElbStatusCode", "elb_status_code")?;
    row.text(first + 8, "TargetStatusCode");
    row.long(first + 9, "ReceivedBytes", "received_bytes")?;
    row.long(first + 10, "SentBytes", "sent_bytes")?;
    row.texts(
        first + 11,
        &["RequestRaw", "UserAgent", "SslCipher", "SslProtocol"],
    );
    Ok(())
}

const ALB_FIELDS: usize = 30;

fn alb(fields: &[Cow<'_, str>]) -> Result<Record, String> {
    // The 2016 layout ended at trace_id (18 fields); later fields are optional.
    let mut row = Row::new(fields, LogType::Alb, 18, "ALB access log")?;
    row.text(0, "ALBType");
    classic_fields(&mut row, 1, "target:port")?;
    row.texts(
        16,
        &[
            "TargetGroupArn",
            "TraceId",
            "DomainName",
            "ChosenCertArn",
            "MatchedRulePriority",
            "RequestCreationTime",
            "ActionsExecuted",
            "RedirectUrl",
            "LambdaErrorReason",
            "TargetPortList",
            "TargetStatusCodeList",
            "Classification",
            "ClassificationReason",
            "ConnTraceId",
        ],
    );
    Ok(row.finish(ALB_FIELDS))
}

const NLB_FIELDS: usize = 22;

fn nlb(fields: &[Cow<'_, str>]) -> Result<Record, String> {
    let mut row = Row::new(fields, LogType::Nlb, 20, "NLB access log")?;
    row.texts(0, &["NLBType", "Version"]);
    row.time(2)?;
    row.texts(
        3,
        &[
            "Nlb",
            "Listener",
            "ClientIPPort",
            "TargetIPPort",
            "ConnectionTime",
            "TlsHandshakeTime",
            "ReceivedBytes",
            "SentBytes",
            "IncomingTLSAlert",
            "ChosenCertArn",
            "ChosenCertSerial",
            "TLSCipher",
            "TLSProtocolVersion",
            "TLSNamedGroup",
            "DomainName",
            "ALPNFEProtocol",
            "ALPNBEProtocol",
            "ALPNClientPrefList",
            "TLSConnectionCreationTime",
        ],
    );
    Ok(row.finish(NLB_FIELDS))
}

const CLASSIC_FIELDS: usize = 15;

fn classic(fields: &[Cow<'_, str>]) -> Result<Record, String> {
    let mut row = Row::new(fields, LogType::ClassicElb, 13, "classic ELB access log")?;
    classic_fields(&mut row, 0, "backend:port")?;
    Ok(row.finish(CLASSIC_FIELDS))
}

const CONNECTION_FIELDS: usize = 12;

fn connection(fields: &[Cow<'_, str>]) -> Result<Record, String> {
    let mut row = Row::new(fields, LogType::AlbConnection, 11, "ALB connection log")?;
    row.time(0)?;
    row.text(1, "ClientIp");
    row.int(2, "ClientPort", "client_port")?;
    row.extra(3, "listener_port");
    row.texts(4, &["SslProtocol", "SslCipher"]);
    for (i, name) in (6..).zip([
        "tls_handshake_latency",
        "leaf_client_cert_subject",
        "leaf_client_cert_validity",
        "leaf_client_cert_serial_number",
        "tls_verify_status",
    ]) {
        row.extra(i, name);
    }
    row.text(11, "ConnTraceId");
    Ok(row.finish(CONNECTION_FIELDS))
}

/// One ELB log line of any kind.
pub fn record_from_line(line: &str) -> Result<Record, String> {
    let fields = split_fields(line);
    match classify(&fields) {
        Some(LineKind::Alb) => alb(&fields),
        Some(LineKind::Nlb) => nlb(&fields),
        Some(LineKind::ClassicElb) => classic(&fields),
        Some(LineKind::AlbConnection) => connection(&fields),
        None => Err("not an ALB, NLB, classic ELB or ALB connection log line".to_string()),
    }
}

#[derive(Debug, Default)]
pub struct ElbParser;

impl LineParser for ElbParser {
    fn log_type(&self, text: &str) -> LogType {
        let kind = classify(&split_fields(text));
        kind.map(LineKind::log_type).unwrap_or(LogType::Alb)
    }

    fn record(&mut self, text: &str) -> Result<Option<Record>, String> {
        record_from_line(text).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::Collect;
    use crate::formats::{assert_strs, extras, time_text};

    fn parse(text: &str) -> Collect {
        crate::formats::parse_checked(&mut ElbParser, "f", text)
    }

    const ALB: &str = r#"https 2026-11-20T10:00:01.123456Z app/web/0123456789abcdef 198.51.100.4:50432 10.0.2.15:8080 0.001 0.020 0.000 200 200 310 4821 "GET https://shop.example.com:443/cart?id=7 HTTP/2.0" "Mozilla/5.0 (X11; \"quoted\")" TLS_AES_128_GCM_SHA256 TLSv1.3 arn:aws:elasticloadbalancing:us-east-1:111122223333:targetgroup/web/0a1b "Root=1-6555-abc" "shop.example.com" "arn:aws:acm:us-east-1:111122223333:certificate/c1" 10 2026-11-20T10:00:01.100000Z "waf,forward" "-" "-" "10.0.2.15:8080" "200" "-" "-" TID_0a1b2c"#;
    const NLB: &str = r#"tls 2.0 2026-11-20T10:00:02 net/edge/0123456789abcdef 0a1b2c3d4e5f6a7b 203.0.113.8:61000 10.0.3.7:443 120 9 512 2048 - arn:aws:acm:us-east-1:111122223333:certificate/c2 - ECDHE-RSA-AES128-GCM-SHA256 tlsv12 secp256r1 api.example.com h2 h2 "h2","http/1.1" 2026-11-20T10:00:01"#;
    const CLASSIC: &str = r#"2026-11-20T10:00:03.000001Z legacy-lb 192.0.2.10:40000 10.0.4.4:80 0.000050 0.001000 0.000040 503 - 0 0 "GET http://legacy.example.com:80/ HTTP/1.1" "curl/8.0" - -"#;
    const CONNECTION: &str = r#"2026-11-20T10:00:04.000002Z 192.0.2.11 40001 443 TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256 2.5 "CN=client,O=Example" NotBefore=2026-01-01T00:00:00Z;NotAfter=2027-01-01T00:00:00Z 0A1B Failed:ClientCertUntrusted TID_9f"#;

    #[test]
    fn mixed_kinds_in_one_file() {
        let got = parse(&format!("{ALB}\n{NLB}\n{CLASSIC}\n{CONNECTION}\n"));
        assert!(got.rejects.is_empty(), "{:?}", got.rejects);
        assert_eq!(
            got.log_types(),
            vec![
                LogType::Alb,
                LogType::Nlb,
                LogType::ClassicElb,
                LogType::AlbConnection
            ]
        );
        let alb = &got.records[0];
        assert_eq!(alb.get_str("ClientIp"), Some("198.51.100.4"));
        assert_eq!(alb.get("ClientPort"), Some(&Value::Int(50432)));
        assert_eq!(alb.get("ElbStatusCode"), Some(&Value::Int(200)));
        assert_eq!(alb.get("SentBytes"), Some(&Value::Int(4821)));
        assert_eq!(
            alb.get_str("RequestRaw"),
            Some("GET https://shop.example.com:443/cart?id=7 HTTP/2.0")
        );
        assert_eq!(
            alb.get_str("UserAgent"),
            Some("Mozilla/5.0 (X11; \"quoted\")")
        );
        assert_strs(
            alb,
            &[
                ("ActionsExecuted", "waf,forward"),
                ("ConnTraceId", "TID_0a1b2c"),
            ],
        );
        assert!(alb.get("RedirectUrl").is_none());
        assert_eq!(time_text(alb), "2026-11-20T10:00:01.123456Z");

        let nlb = &got.records[1];
        assert_eq!(
            nlb.get_str("ALPNClientPrefList"),
            Some("\"h2\",\"http/1.1\"")
        );
        assert_strs(
            nlb,
            &[
                ("ClientIPPort", "203.0.113.8:61000"),
                ("ReceivedBytes", "512"),
            ],
        );

        let classic = &got.records[2];
        assert_eq!(classic.get_str("Alb"), Some("legacy-lb"));
        assert_eq!(classic.get("ElbStatusCode"), Some(&Value::Int(503)));
        assert!(classic.get("TargetStatusCode").is_none());

        let conn = &got.records[3];
        let extra = extras(conn);
        assert!(extra.contains("\"tls_verify_status\":\"Failed:ClientCertUntrusted\""));
        assert!(extra.contains("\"leaf_client_cert_subject\":\"CN=client,O=Example\""));
    }

    #[test]
    fn ipv6_and_newer_trailing_fields() {
        let line = ALB
            .replace("198.51.100.4:50432", "[2001:db8::4]:50432")
            .replace("TID_0a1b2c", "TID_0a1b2c \"future-field\"");
        let got = parse(&line);
        let r = &got.records[0];
        assert_eq!(r.get_str("ClientIp"), Some("2001:db8::4"));
        assert!(extras(r).contains("\"trailing_fields\":[\"future-field\"]"));
    }

    #[test]
    fn bad_lines_are_rejected() {
        let short = "http 2026-11-20T10:00:01Z app/x 1.2.3.4:5";
        let bad_status = ALB.replace(" 200 200 ", " OK 200 ");
        let got = parse(&format!("{short}\ngarbage line\n{bad_status}\n{ALB}\n"));
        assert_eq!(got.counts(), (1, 3));
        assert!(got.rejects[0].reason.contains("at least 18"));
        assert!(got.rejects[1].reason.contains("not an ALB"));
        assert!(got.rejects[2].reason.contains("elb_status_code"));
    }

    #[test]
    fn splitter_keeps_embedded_quotes_and_handles_unterminated() {
        let f = split_fields(r#"a "b c" "x","y" \"z\" "open end"#);
        assert_eq!(f, vec!["a", "b c", "\"x\",\"y\"", "\\\"z\\\"", "open end"]);
    }
}

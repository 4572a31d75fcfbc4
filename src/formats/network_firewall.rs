//! AWS Network Firewall logs -> AWSNetworkFirewallAlert / AWSNetworkFirewallFlow /
//! AWSNetworkFirewallTls, by the Suricata `event_type` of each record (a file usually holds
//! one kind, but nothing depends on that).

use super::fields::{Extras, JsonObject, push_cow, push_strs};
use super::json_lines::object_parser;
use crate::record::{LogType, Record};

/// `a` then `b`, as an array of their `N` keys.
const fn keys<const N: usize>(a: &[&'static str], b: &[&'static str]) -> [&'static str; N] {
    assert!(a.len() + b.len() == N, "N is the number of keys");
    let mut out = [""; N];
    let mut i = 0;
    while i < N {
        out[i] = if i < a.len() { a[i] } else { b[i - a.len()] };
        i += 1;
    }
    out
}

/// Members of every Suricata event that the tables map. The `*_EVENT_KEYS` are the event
/// members each table maps; the rest of `event` goes to `AdditionalFields`.
const EVENT_HEADER: &[&str] = &[
    "timestamp",
    "event_type",
    "src_ip",
    "src_port",
    "dest_ip",
    "dest_port",
];
/// The header of alert and flow events.
const FLOW_HEADER: [&str; 9] = keys(EVENT_HEADER, &["flow_id", "proto", "app_proto"]);
const ALERT_EVENT_KEYS: [&str; 14] = keys(
    &FLOW_HEADER,
    &["direction", "pkt_src", "tx_id", "alert", "verdict"],
);
const ALERT_KEYS: &[&str] = &[
    "action",
    "signature_id",
    "rev",
    "signature",
    "category",
    "severity",
];
const FLOW_EVENT_KEYS: [&str; 11] = keys(&FLOW_HEADER, &["netflow", "tcp"]);
const NETFLOW_KEYS: &[&str] = &["pkts", "bytes", "start", "end", "age", "min_ttl", "max_ttl"];
const TCP_KEYS: &[&str] = &["tcp_flags", "syn", "ack", "fin", "psh", "rst", "ecn"];
const TLS_EVENT_KEYS: [&str; 9] = keys(EVENT_HEADER, &["sni", "tls_error", "revocation_check"]);
const ENVELOPE_KEYS: &[&str] = &[
    "firewall_name",
    "availability_zone",
    "event_timestamp",
    "event",
];

/// (column, member) of the event's type, flow id and protocols, in the alert and flow tables.
const FLOW_IDENTITY: &[(&str, &str)] = &[
    ("EventType", "event_type"),
    ("FlowId", "flow_id"),
    ("Proto", "proto"),
    ("AppProto", "app_proto"),
];

/// Which table a record goes to.
fn kind_of(event: &JsonObject<'_>) -> Result<LogType, String> {
    match event.str("event_type").as_deref() {
        Some("alert" | "drop" | "pass") => Ok(LogType::NetworkFirewallAlert),
        Some("netflow" | "flow") => Ok(LogType::NetworkFirewallFlow),
        Some("tls") => Ok(LogType::NetworkFirewallTls),
        None if event.has("tls_error") || event.has("revocation_check") => {
            Ok(LogType::NetworkFirewallTls)
        }
        Some(other) => Err(format!("unknown Network Firewall event_type {other:?}")),
        None => Err("Network Firewall record without event_type".to_string()),
    }
}

/// One Network Firewall record as a row of the table its event type belongs to.
pub fn record_from_object(obj: &JsonObject<'_>) -> Result<Record, String> {
    let event = obj
        .object("event")
        .ok_or("not a Network Firewall record: no event object")?;
    let log_type = kind_of(&event)?;
    let event_time = obj.time("event_timestamp")?;
    let time = event.time("timestamp")?.or(event_time);
    let mut r = Record::new(log_type);
    r.time = time;
    let mut extras = Extras::new();
    let envelope = [
        ("FirewallName", "firewall_name"),
        ("AvailabilityZone", "availability_zone"),
    ];
    push_strs(&mut r, obj, &envelope);
    extras.unmapped(obj, ENVELOPE_KEYS);
    let endpoints = [
        ("SrcIp", "src_ip"),
        ("SrcPort", "src_port"),
        ("DestIp", "dest_ip"),
        ("DestPort", "dest_port"),
    ];
    push_strs(&mut r, &event, &endpoints);
    match log_type {
        LogType::NetworkFirewallAlert => {
            r.push_opt("EventTimestamp", event_time);
            r.push_opt("Timestamp", event.time("timestamp")?);
            push_strs(&mut r, &event, FLOW_IDENTITY);
            let alert_event = [
                ("Direction", "direction"),
                ("PktSrc", "pkt_src"),
                ("TxId", "tx_id"),
            ];
            push_strs(&mut r, &event, &alert_event);
            if let Some(alert) = event.object("alert") {
                let columns = [
                    ("AlertAction", "action"),
                    ("SignatureId", "signature_id"),
                    ("Rev", "rev"),
                    ("Signature", "signature"),
                    ("Category", "category"),
                    ("Severity", "severity"),
                ];
                push_strs(&mut r, &alert, &columns);
                if alert.unmapped(ALERT_KEYS).next().is_some() {
                    if let Some(raw) = event.raw("alert") {
                        extras.raw("alert", raw);
                    }
                }
            }
            if let Some(verdict) = event.object("verdict") {
                push_cow(&mut r, "VerdictAction", verdict.str("action"));
            }
            let sni = event.object("tls").and_then(|t| t.str("sni"));
            push_cow(&mut r, "Sni", sni);
            extras.unmapped(&event, &ALERT_EVENT_KEYS);
        }
        LogType::NetworkFirewallFlow => {
            // A string column in this table: the epoch text as AWS wrote it.
            push_cow(&mut r, "EventTimestamp", obj.str("event_timestamp"));
            r.push_opt("Timestamp", event.time("timestamp")?);
            push_strs(&mut r, &event, FLOW_IDENTITY);
            if let Some(flow) = event.object("netflow") {
                let columns = [
                    ("NetFlowPkts", "pkts"),
                    ("NetFlowBytes", "bytes"),
                    ("NetFlowAge", "age"),
                    ("NetFlowMinttl", "min_ttl"),
                    ("NetFlowMaxttl", "max_ttl"),
                ];
                push_strs(&mut r, &flow, &columns);
                r.push_opt("NetFlowStart", flow.time("start")?);
                r.push_opt("NetFlowEnd", flow.time("end")?);
                if flow.unmapped(NETFLOW_KEYS).next().is_some() {
                    extras.unmapped(&flow, NETFLOW_KEYS);
                }
            }
            if let Some(tcp) = event.object("tcp") {
                push_cow(&mut r, "TCPFlags", tcp.str("tcp_flags"));
                for (key, column) in [
                    ("syn", "Syn"),
                    ("ack", "Ack"),
                    ("fin", "Fin"),
                    ("psh", "Psh"),
                    ("rst", "Rst"),
                    ("ecn", "Ecn"),
                ] {
                    r.push_opt(column, tcp.bool(key)?);
                }
                if tcp.unmapped(TCP_KEYS).next().is_some() {
                    if let Some(raw) = event.raw("tcp") {
                        extras.raw("tcp", raw);
                    }
                }
            }
            extras.unmapped(&event, &FLOW_EVENT_KEYS);
        }
        _ => {
            r.push_opt("EventTimestamp", event_time);
            push_cow(&mut r, "Sni", event.str("sni"));
            if let Some(err) = event.object("tls_error") {
                push_cow(&mut r, "ErrorMessage", err.str("error_message"));
            }
            if let Some(check) = event.object("revocation_check") {
                let columns = [
                    ("LeafCertificateFingerprint", "leaf_cert_fpr"),
                    ("Action", "action"),
                    ("Status", "status"),
                ];
                push_strs(&mut r, &check, &columns);
            }
            extras.unmapped(&event, &TLS_EVENT_KEYS);
        }
    }
    extras.finish(&mut r);
    Ok(r)
}

object_parser!(
    NetworkFirewallParser,
    LogType::NetworkFirewallAlert,
    None,
    record_from_object
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::Collect;
    use crate::formats::{assert_strs, extras, time_text};
    use crate::record::Value;

    fn parse(text: &str) -> Collect {
        crate::formats::parse_checked(&mut NetworkFirewallParser, "f", text)
    }

    const ALERT: &str = r#"{"firewall_name":"egress","availability_zone":"us-east-1a","event_timestamp":"1763632811","event":{"timestamp":"2025-11-20T10:00:11.250000+0000","flow_id":1234567890123,"event_type":"alert","src_ip":"10.0.1.5","src_port":49152,"dest_ip":"203.0.113.66","dest_port":443,"proto":"TCP","app_proto":"tls","alert":{"action":"blocked","signature_id":2027758,"rev":3,"signature":"ET MALWARE Known C2 SNI","category":"A Network Trojan was detected","severity":1,"gid":1},"tls":{"sni":"c2.bad.example","version":"TLS 1.2"}}}"#;
    const FLOW: &str = r#"{"firewall_name":"egress","availability_zone":"us-east-1a","event_timestamp":"1763632812","event":{"timestamp":"2025-11-20T10:00:12.000000+0000","flow_id":99,"event_type":"netflow","src_ip":"10.0.1.5","src_port":50000,"dest_ip":"198.51.100.9","dest_port":53,"proto":"UDP","app_proto":"dns","netflow":{"pkts":2,"bytes":140,"start":"2025-11-20T09:59:10.000000+0000","end":"2025-11-20T09:59:11.000000+0000","age":1,"min_ttl":64,"max_ttl":64},"tcp":{"tcp_flags":"1b","syn":true,"ack":true,"fin":true,"psh":true}}}"#;
    const TLS: &str = r#"{"firewall_name":"egress","availability_zone":"us-east-1b","event_timestamp":"1763632813","event":{"src_ip":"10.0.1.7","src_port":"51000","dest_ip":"192.0.2.44","dest_port":"443","sni":"expired.example.com","tls_error":{"error_message":"certificate has expired"},"revocation_check":{"leaf_cert_fpr":"a1b2c3","action":"DROP","status":"REVOKED"}}}"#;

    #[test]
    fn three_kinds_to_three_tables() {
        let got = parse(&format!("{ALERT}\n{FLOW}\n{TLS}\n"));
        assert!(got.rejects.is_empty(), "{:?}", got.rejects);
        assert_eq!(
            got.log_types(),
            vec![
                LogType::NetworkFirewallAlert,
                LogType::NetworkFirewallFlow,
                LogType::NetworkFirewallTls
            ]
        );
        let a = &got.records[0];
        assert_eq!(time_text(a), "2025-11-20T10:00:11.250000Z");
        assert_strs(
            a,
            &[
                ("SignatureId", "2027758"),
                ("Severity", "1"),
                ("Sni", "c2.bad.example"),
                ("SrcPort", "49152"),
            ],
        );
        assert!(matches!(a.get("EventTimestamp"), Some(Value::Time(_))));
        let extra = extras(a);
        assert!(extra.contains("\"gid\":1"), "{extra}");
        assert!(extra.contains("\"tls\""));

        let f = &got.records[1];
        assert_strs(
            f,
            &[("EventTimestamp", "1763632812"), ("NetFlowBytes", "140")],
        );
        assert_eq!(f.get("Syn"), Some(&Value::Bool(true)));
        assert!(f.get("Rst").is_none());
        assert!(matches!(f.get("NetFlowStart"), Some(Value::Time(_))));

        let t = &got.records[2];
        assert_strs(
            t,
            &[
                ("ErrorMessage", "certificate has expired"),
                ("Status", "REVOKED"),
            ],
        );
        assert_eq!(time_text(t), "2025-11-20T10:00:13Z");
    }

    #[test]
    fn unknown_event_types_and_shapes_are_rejected() {
        let dns = ALERT.replace("\"alert\",\"src_ip\"", "\"dns\",\"src_ip\"");
        let got = parse(&format!("{dns}\n{{\"firewall_name\":\"x\"}}\n{ALERT}\n"));
        assert_eq!(got.counts(), (1, 2));
        assert!(got.rejects[0].reason.contains("dns"));
        assert!(got.rejects[1].reason.contains("no event object"));
    }
}

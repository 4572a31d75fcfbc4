//! VPC and Transit Gateway flow logs -> AWSVPCFlow.
//!
//! S3 deliveries start with a header line naming the fields in order (`version account-id
//! ...`); that list drives the parse, and a repeated or changed header switches to the new
//! list. Without a header (CloudWatch Logs, hand-made files) the field list is inferred from
//! the field count: the default v2 format has 14 fields, and "all fields in default order"
//! files have one of the documented longer lengths.

use std::io::BufRead;
use std::sync::Arc;

use super::fields::{Extras, int_field, is_absent, line_text, push_int32};
use super::lines::{LineReader, TOO_LONG};
use super::{Emitter, ParseError, Parser};
use crate::record::{LogType, Record, Value, time};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Str,
    /// A 32-bit `int` column.
    Int,
    /// A 64-bit `long` column.
    Long,
    EpochSeconds,
}

/// Source field name -> (column, kind). Fields not listed go to `AdditionalFields`.
const FIELD_COLUMNS: &[(&str, &str, Kind)] = {
    use Kind::*;
    &[
        ("version", "Version", Int),
        ("account-id", "AccountId", Str),
        ("interface-id", "InterfaceId", Str),
        ("srcaddr", "SrcAddr", Str),
        ("dstaddr", "DstAddr", Str),
        ("srcport", "SrcPort", Int),
        ("dstport", "DstPort", Int),
        ("protocol", "Protocol", Int),
        ("packets", "Packets", Int),
        ("bytes", "Bytes", Long),
        ("start", "Start", EpochSeconds),
        ("end", "End", EpochSeconds),
        ("action", "Action", Str),
        ("log-status", "LogStatus", Str),
        ("vpc-id", "VpcId", Str),
        ("subnet-id", "SubnetId", Str),
        ("instance-id", "InstanceId", Str),
        ("tcp-flags", "TcpFlags", Int),
        ("type", "TrafficType", Str),
        ("pkt-srcaddr", "PktSrcAddr", Str),
        ("pkt-dstaddr", "PktDstAddr", Str),
        ("region", "Region", Str),
        ("az-id", "AzId", Str),
        ("sublocation-type", "SublocationType", Str),
        ("sublocation-id", "SublocationId", Str),
        ("pkt-src-aws-service", "PktSrcAwsService", Str),
        ("pkt-dst-aws-service", "PktDstAwsService", Str),
        ("flow-direction", "FlowDirection", Str),
        ("traffic-path", "TrafficPath", Str),
        ("ecs-cluster-arn", "EcsClusterArn", Str),
        ("ecs-cluster-name", "EcsClusterName", Str),
        ("ecs-container-instance-arn", "EcsContainerInstanceArn", Str),
        ("ecs-container-instance-id", "EcsContainerInstanceId", Str),
        ("ecs-container-id", "EcsContainerId", Str),
        ("ecs-second-container-id", "EcsSecondContainerId", Str),
        ("ecs-service-name", "EcsServiceName", Str),
        ("ecs-task-definition-arn", "EcsTaskDefinitionArn", Str),
        ("ecs-task-arn", "EcsTaskArn", Str),
        ("ecs-task-id", "EcsTaskId", Str),
    ]
};

/// Every VPC flow log field in AWS's default order, as a header line names them; v2 is the
/// first 14, and each later version appends its fields (v3: 21, v4: 25, v5: 29, v7 ECS: 39,
/// v8: 40).
const DEFAULT_ORDER: &str = "\
    version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes \
    start end action log-status vpc-id subnet-id instance-id tcp-flags type pkt-srcaddr \
    pkt-dstaddr region az-id sublocation-type sublocation-id pkt-src-aws-service \
    pkt-dst-aws-service flow-direction traffic-path ecs-cluster-arn ecs-cluster-name \
    ecs-container-instance-arn ecs-container-instance-id ecs-container-id \
    ecs-second-container-id ecs-service-name ecs-task-definition-arn ecs-task-arn ecs-task-id \
    reject-reason";

const DEFAULT_LENGTHS: [usize; 6] = [14, 21, 25, 29, 39, 40];

/// The Transit Gateway flow log default format, as its header line names it.
const TGW_DEFAULT_ORDER: &str = "\
    version resource-type account-id tgw-id tgw-attachment-id tgw-src-vpc-account-id \
    tgw-dst-vpc-account-id tgw-src-vpc-id tgw-dst-vpc-id tgw-src-subnet-id tgw-dst-subnet-id \
    tgw-src-eni tgw-dst-eni tgw-src-az-id tgw-dst-az-id tgw-pair-attachment-id srcaddr dstaddr \
    srcport dstport protocol packets bytes start end log-status type packets-lost-no-route \
    packets-lost-blackhole packets-lost-mtu-exceeded packets-lost-ttl-expired tcp-flags region \
    flow-direction pkt-src-aws-service pkt-dst-aws-service";

/// How many fields [`TGW_DEFAULT_ORDER`] names.
const TGW_FIELDS: usize = 36;

#[derive(Debug)]
struct Slot {
    name: Box<str>,
    column: Option<(&'static str, Kind)>,
}

/// A field list: from a header line or a default.
#[derive(Debug)]
struct Layout {
    slots: Vec<Slot>,
    log_type: LogType,
}

impl Layout {
    fn from_names<'n>(names: impl IntoIterator<Item = &'n str>) -> Layout {
        let slots: Vec<Slot> = names
            .into_iter()
            .map(|name| Slot {
                name: name.into(),
                column: FIELD_COLUMNS
                    .iter()
                    .find(|(n, _, _)| *n == name)
                    .map(|(_, c, k)| (*c, *k)),
            })
            .collect();
        let tgw = slots
            .iter()
            .any(|s| s.name.starts_with("tgw-") || &*s.name == "resource-type");
        Layout {
            slots,
            log_type: if tgw {
                LogType::TransitGatewayFlow
            } else {
                LogType::VpcFlow
            },
        }
    }
}

/// Whether a line is a header: at least two tokens, all lower-case field-name shaped, at
/// least half of them known names (custom formats need not start with `version`).
fn is_header(tokens: &[&str]) -> bool {
    if tokens.len() < 2 || tokens[0].as_bytes()[0].is_ascii_digit() {
        return false;
    }
    let shaped = tokens.iter().all(|t| {
        t.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    });
    let known = tokens
        .iter()
        .filter(|t| {
            FIELD_COLUMNS.iter().any(|(n, _, _)| n == *t)
                || TGW_DEFAULT_ORDER.split(' ').any(|n| n == **t)
        })
        .count();
    shaped && known * 2 >= tokens.len()
}

#[derive(Default)]
pub struct VpcFlowParser {
    header: Option<Arc<Layout>>,
    defaults: Vec<(usize, Arc<Layout>)>,
}

impl VpcFlowParser {
    fn default_layout(&mut self, tokens: &[&str]) -> Option<Arc<Layout>> {
        let n = tokens.len();
        let tgw = n == TGW_FIELDS && tokens.get(1) == Some(&"TransitGateway");
        let key = if tgw { usize::MAX } else { n };
        if let Some((_, l)) = self.defaults.iter().find(|(k, _)| *k == key) {
            return Some(l.clone());
        }
        let layout = if tgw {
            Layout::from_names(TGW_DEFAULT_ORDER.split(' '))
        } else if DEFAULT_LENGTHS.contains(&n) {
            Layout::from_names(DEFAULT_ORDER.split(' ').take(n))
        } else {
            return None;
        };
        let layout = Arc::new(layout);
        self.defaults.push((key, layout.clone()));
        Some(layout)
    }

    /// One line: a header (remembered), a record, or an error.
    fn line(&mut self, line: &str) -> Result<Option<Record>, String> {
        let tokens: Vec<&str> = line.split_ascii_whitespace().collect();
        if tokens.is_empty() {
            return Ok(None);
        }
        if is_header(&tokens) {
            self.header = Some(Arc::new(Layout::from_names(tokens.iter().copied())));
            return Ok(None);
        }
        let layout = match &self.header {
            Some(h) => h.clone(),
            None => self.default_layout(&tokens).ok_or_else(|| {
                format!(
                    "no header line, and {} fields match no default flow log format (14, 21, 25, 29, 39 or 40 fields; 36 for Transit Gateway)",
                    tokens.len()
                )
            })?,
        };
        build(&layout, &tokens).map(Some)
    }
}

fn build(layout: &Layout, tokens: &[&str]) -> Result<Record, String> {
    if tokens.len() != layout.slots.len() {
        return Err(format!(
            "{} fields, but the field list has {}",
            tokens.len(),
            layout.slots.len()
        ));
    }
    let mut r = Record::new(layout.log_type);
    let mut extras = Extras::new();
    let (mut start, mut end) = (None, None);
    for (slot, &token) in layout.slots.iter().zip(tokens) {
        if is_absent(token) {
            continue;
        }
        match slot.column {
            None => extras.str(&slot.name, token),
            Some((column, Kind::Str)) => r.push(column, Value::Str(token.to_owned())),
            Some((column, Kind::Int)) => {
                push_int32(&mut r, &mut extras, column, int_field(&slot.name, token)?)
            }
            Some((column, Kind::Long)) => {
                r.push_opt(column, int_field(&slot.name, token)?.map(Value::Int))
            }
            Some((column, Kind::EpochSeconds)) => {
                let t = time::parse_epoch_seconds(token)
                    .ok_or_else(|| format!("{} is not epoch seconds: {token}", slot.name))?;
                if column == "Start" {
                    start = Some(t);
                } else {
                    end = Some(t);
                }
                r.push(column, Value::Time(t));
            }
        }
    }
    r.time = start.or(end);
    extras.finish(&mut r);
    Ok(r)
}

/// A single flow log line without a header (as CloudWatch Logs delivers them).
pub fn record_from_line(line: &str) -> Result<Record, String> {
    VpcFlowParser::default()
        .line(line)?
        .ok_or_else(|| "a header line, not a flow record".to_string())
}

/// Whether a headerless line has the shape of a default-format flow record.
pub fn looks_like_record(line: &str) -> bool {
    let tokens: Vec<&str> = line.split_ascii_whitespace().collect();
    let n = tokens.len();
    let version_ok = tokens
        .first()
        .is_some_and(|v| v.len() <= 2 && v.bytes().all(|b| b.is_ascii_digit()));
    if !version_ok {
        return false;
    }
    if n == TGW_FIELDS && tokens[1] == "TransitGateway" {
        return true;
    }
    DEFAULT_LENGTHS.contains(&n)
        && (tokens[2].starts_with("eni-") || tokens[2] == "-")
        && matches!(tokens[13], "OK" | "NODATA" | "SKIPDATA")
}

/// Whether a line is a flow log header (the parser takes it as one).
pub fn looks_like_header(line: &str) -> bool {
    let tokens: Vec<&str> = line.split_ascii_whitespace().collect();
    is_header(&tokens)
}

impl Parser for VpcFlowParser {
    fn parse(&mut self, input: &mut dyn BufRead, out: &mut Emitter<'_>) -> Result<(), ParseError> {
        let mut lines = LineReader::new(input);
        while let Some(line) = lines.next_line()? {
            let log_type = self
                .header
                .as_ref()
                .map(|h| h.log_type)
                .unwrap_or(LogType::VpcFlow);
            // Unlike the other line formats, a blank line that is too long is rejected.
            if line.cut {
                out.reject_line(log_type, &line, TOO_LONG)?;
                continue;
            }
            match self.line(&line_text(line.bytes)) {
                Ok(Some(record)) => out.emit(line.bytes, record)?,
                Ok(None) => {}
                Err(reason) => out.reject_line(log_type, &line, reason)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::Collect;
    use crate::formats::{extras, time_text};

    fn parse(text: &str) -> Collect {
        crate::formats::parse_checked(&mut VpcFlowParser::default(), "f", text)
    }

    #[test]
    fn default_v2_without_header() {
        let got = parse(
            "2 111122223333 eni-0a1b2c3d 10.0.1.5 203.0.113.9 49152 443 6 12 3400 1763632800 1763632860 ACCEPT OK\n\
             2 111122223333 eni-0a1b2c3d - - - - - - - 1763632800 1763632860 - NODATA\n",
        );
        assert_eq!(got.records.len(), 2);
        let r = &got.records[0];
        assert_eq!(r.log_type, LogType::VpcFlow);
        assert_eq!(r.get("Version"), Some(&Value::Int(2)));
        assert_eq!(r.get("DstPort"), Some(&Value::Int(443)));
        assert_eq!(r.get("Bytes"), Some(&Value::Int(3400)));
        assert_eq!(r.get_str("Action"), Some("ACCEPT"));
        assert_eq!(time_text(r), "2025-11-20T10:00:00Z");
        assert!(matches!(r.get("End"), Some(Value::Time(_))));
        let nodata = &got.records[1];
        assert_eq!(nodata.get_str("LogStatus"), Some("NODATA"));
        assert!(nodata.get("SrcAddr").is_none());
    }

    #[test]
    fn custom_header_repeated_and_changed() {
        let got = parse(
            "version vpc-id srcaddr dstaddr action tcp-flags flow-direction reject-reason start log-status\n\
             5 vpc-1 10.0.0.1 10.0.0.2 REJECT 2 ingress BPA 1763632800 OK\n\
             version vpc-id srcaddr dstaddr action tcp-flags flow-direction reject-reason start log-status\n\
             5 vpc-1 10.0.0.3 10.0.0.4 ACCEPT 18 egress - 1763632801 OK\n\
             version srcaddr start\n\
             10.0.0.9 1763632802\n",
        );
        // The last header has three names but its line only two fields.
        assert_eq!(got.counts(), (2, 1));
        assert!(got.rejects[0].reason.contains("2 fields"));
        let r = &got.records[0];
        assert_eq!(r.get_str("FlowDirection"), Some("ingress"));
        assert_eq!(r.get("TcpFlags"), Some(&Value::Int(2)));
        assert!(extras(r).contains("\"reject-reason\":\"BPA\""));
        assert!(got.records[1].get("AdditionalFields").is_none());
    }

    #[test]
    fn transit_gateway_lines() {
        assert_eq!(TGW_DEFAULT_ORDER.split(' ').count(), TGW_FIELDS);
        assert_eq!(DEFAULT_ORDER.split(' ').count(), DEFAULT_LENGTHS[5]);
        let header = TGW_DEFAULT_ORDER;
        let line = "6 TransitGateway 111122223333 tgw-1 tgw-attach-1 111122223333 444455556666 vpc-a vpc-b subnet-a subnet-b eni-a eni-b use1-az1 use1-az2 tgw-attach-2 10.0.0.1 10.1.0.1 1234 443 6 10 1000 0 0 0 0 1763632800 1763632860 OK IPv4 2 us-east-1 ingress - -";
        let got = parse(&format!("{header}\n{line}\n{line}\n"));
        assert_eq!(got.records.len(), 2, "{:?}", got.rejects);
        assert_eq!(got.records[0].log_type, LogType::TransitGatewayFlow);
        // Also without a header.
        let got = parse(&format!("{line}\n"));
        assert_eq!(got.records.len(), 1);
        let extra = extras(&got.records[0]);
        assert!(extra.contains("\"tgw-id\":\"tgw-1\""));
    }

    #[test]
    fn bad_values_and_shapes_are_rejected() {
        let got = parse(
            "2 111122223333 eni-1 10.0.0.1 10.0.0.2 http 443 6 1 1 1763632800 1763632860 ACCEPT OK\n\
             hello world\n\
             2 111122223333 eni-1 10.0.0.1 10.0.0.2 80 443 6 1 1 yesterday 1763632860 ACCEPT OK\n\
             2 111122223333 eni-1 10.0.0.1 10.0.0.2 80 443 6 1 1 1763632800 1763632860 ACCEPT OK\n",
        );
        assert_eq!(got.counts(), (1, 3));
        assert!(got.rejects[0].reason.contains("srcport"));
        assert!(got.rejects[1].reason.contains("no header"));
        assert!(got.rejects[2].reason.contains("start"));
        assert_eq!(got.rejects[2].line, Some(3));
    }

    #[test]
    fn shape_probes() {
        assert!(looks_like_record(
            "2 111122223333 eni-1 10.0.0.1 10.0.0.2 80 443 6 1 1 1763632800 1763632860 ACCEPT OK"
        ));
        assert!(!looks_like_record("2024-01-01 hello"));
        assert!(looks_like_header("version account-id interface-id srcaddr"));
        assert!(!looks_like_header("hello world again"));
    }
}

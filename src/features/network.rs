//! Network flows: VPC and Transit Gateway flow logs (AWSVPCFlow) and Network Firewall
//! flow events (AWSNetworkFirewallFlow). The two tables name the same facts differently.

use super::common::{self, boolean, log_scale, number, port, text};
use super::{F, Slots};
use crate::record::{LogType, Record};

struct Flow<'r> {
    src: Option<&'r str>,
    dst: Option<&'r str>,
    dst_port: Option<i64>,
    protocol: Option<i64>,
    bytes: Option<f64>,
    packets: Option<f64>,
    rejected: bool,
    ingress: Option<bool>,
    syn_only: bool,
}

fn vpc_flow(r: &Record) -> Flow<'_> {
    let tcp_flags = number(r, "TcpFlags").map(|f| f as i64);
    Flow {
        src: text(r, "SrcAddr"),
        dst: text(r, "DstAddr"),
        dst_port: port(r, "DstPort"),
        protocol: number(r, "Protocol").map(|p| p as i64),
        bytes: number(r, "Bytes"),
        packets: number(r, "Packets"),
        rejected: text(r, "Action").is_some_and(|a| a.eq_ignore_ascii_case("REJECT")),
        ingress: text(r, "FlowDirection").map(|d| d.eq_ignore_ascii_case("ingress")),
        // SYN alone (2), without the SYN-ACK of an answered connection.
        syn_only: tcp_flags == Some(2),
    }
}

fn firewall_flow(r: &Record) -> Flow<'_> {
    let protocol = text(r, "Proto").map(|p| {
        if p.eq_ignore_ascii_case("TCP") {
            6
        } else if p.eq_ignore_ascii_case("UDP") {
            17
        } else if p.eq_ignore_ascii_case("ICMP") || p.eq_ignore_ascii_case("IPv6-ICMP") {
            1
        } else {
            0
        }
    });
    let syn = boolean(r, "Syn") == Some(true);
    let ack = boolean(r, "Ack") == Some(true);
    Flow {
        src: text(r, "SrcIp"),
        dst: text(r, "DestIp"),
        dst_port: port(r, "DestPort"),
        protocol,
        bytes: number(r, "NetFlowBytes"),
        packets: number(r, "NetFlowPkts"),
        rejected: false,
        ingress: None,
        syn_only: syn && !ack,
    }
}

pub fn extract(r: &Record, s: &mut Slots<'_>) {
    let flow = match r.log_type {
        LogType::NetworkFirewallFlow => firewall_flow(r),
        _ => vpc_flow(r),
    };
    if flow.rejected {
        s.set(F::NetReject, 1.0);
        s.set(F::Failure, 1.0);
        s.set(F::Denied, 1.0);
    }
    match flow.protocol {
        Some(17) => s.set(F::NetUdp, 1.0),
        Some(1) | Some(58) => s.set(F::NetIcmp, 1.0),
        _ => {}
    }
    if let Some(p) = flow.dst_port {
        s.flag(F::NetEphemeralPort, p >= 32768);
        s.flag(F::SensitivePort, common::is_sensitive_port(p));
    }
    let bytes = flow.bytes.unwrap_or(0.0);
    let packets = flow.packets.unwrap_or(0.0);
    s.set(F::Bytes, log_scale(bytes, 1e10));
    s.set(F::NetPackets, log_scale(packets, 1e7));
    if packets > 0.0 {
        // 1500 is the usual MTU: full-size packets mean bulk transfer, tiny ones probes.
        s.set(
            F::NetBytesPerPacket,
            ((bytes / packets) / 1500.0).min(1.0) as f32,
        );
    }
    let src_public = flow
        .src
        .is_some_and(|a| common::classify_address(a).is_public());
    let dst_private = flow
        .dst
        .is_some_and(|a| !common::classify_address(a).is_public());
    s.flag(F::SourcePublic, src_public);
    s.flag(
        F::NetInbound,
        flow.ingress.unwrap_or(src_public && dst_private),
    );
    s.flag(F::NetSynOnly, flow.syn_only);
}

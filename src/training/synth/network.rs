//! VPC flow logs (version 5 fields, with the header AWS writes at the top of each file).

use chrono::{DateTime, Duration, Utc};

use super::{Env, LabelledRaw, Raw};
use crate::ml::Category;
use crate::record::LogType;
use crate::training::rng::SplitMix64;

pub const HEADER: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status vpc-id subnet-id instance-id tcp-flags type flow-direction";

struct Flow<'a> {
    src: &'a str,
    dst: &'a str,
    src_port: i64,
    dst_port: i64,
    protocol: i64,
    packets: i64,
    bytes: i64,
    accept: bool,
    tcp_flags: i64,
    ingress: bool,
}

struct Gen<'e> {
    env: &'e Env,
    rng: SplitMix64,
    out: Vec<LabelledRaw>,
    enis: Vec<(String, String)>,
}

impl Gen<'_> {
    fn emit(&mut self, t: DateTime<Utc>, f: Flow<'_>, label: Category, scenario: &'static str) {
        let (eni, instance) = self.enis[self.rng.below(self.enis.len() as u64) as usize].clone();
        let start = t.timestamp();
        let end = start + self.rng.range(1, 60);
        let line = format!(
            "5 {} {eni} {} {} {} {} {} {} {} {start} {end} {} OK vpc-0a1b2c3d4e5f60718 subnet-0{} {instance} {} IPv4 {}",
            self.env.account,
            f.src,
            f.dst,
            f.src_port,
            f.dst_port,
            f.protocol,
            f.packets.max(1),
            f.bytes.max(20),
            if f.accept { "ACCEPT" } else { "REJECT" },
            &eni[4..12],
            f.tcp_flags,
            if f.ingress { "ingress" } else { "egress" },
        );
        self.out.push(LabelledRaw {
            header: Some(HEADER.to_string()),
            ..LabelledRaw::new(LogType::VpcFlow, Raw::Line(line), t, label, scenario)
        });
    }

    fn ephemeral(&mut self) -> i64 {
        self.rng.range(32768, 60999)
    }

    fn bytes_for(&mut self, packets: i64, per_packet: f64) -> i64 {
        (packets as f64 * per_packet * (0.6 + 0.8 * self.rng.unit())) as i64
    }

    /// An accepted TCP connection of `kind` from an ephemeral port of `src` to `dst_port` of
    /// `dst`, carrying `packets` packets. Its size is drawn before the port.
    fn tcp(&mut self, t: DateTime<Utc>, (src, dst, dst_port): Route<'_>, packets: i64, kind: &Tcp) {
        let bytes = self.bytes_for(packets, kind.bytes_per_packet);
        let src_port = self.ephemeral();
        let flow = Flow {
            src,
            dst,
            src_port,
            dst_port,
            protocol: 6,
            packets,
            bytes,
            accept: true,
            tcp_flags: kind.tcp_flags,
            ingress: kind.ingress,
        };
        self.emit(t, flow, kind.label, kind.scenario);
    }
}

/// Source address, destination address and destination port of a connection.
type Route<'a> = (&'a str, &'a str, i64);

/// What the accepted TCP connections of one scenario have in common.
struct Tcp {
    bytes_per_packet: f64,
    tcp_flags: i64,
    ingress: bool,
    label: Category,
    scenario: &'static str,
}

/// TCP flags of a whole connection (SYN, ACK and FIN seen).
const COMPLETE: i64 = 19;

const INTERNAL: Tcp = Tcp {
    bytes_per_packet: 700.0,
    tcp_flags: COMPLETE,
    ingress: true,
    label: Category::Normal,
    scenario: "benign/internal",
};

const INBOUND_WEB: Tcp = Tcp {
    bytes_per_packet: 500.0,
    tcp_flags: COMPLETE,
    ingress: true,
    label: Category::Normal,
    scenario: "benign/inbound-web",
};

const EGRESS: Tcp = Tcp {
    bytes_per_packet: 900.0,
    tcp_flags: COMPLETE,
    ingress: false,
    label: Category::Normal,
    scenario: "benign/egress",
};

/// An attack seen in flow logs as a run of accepted TCP sessions with remote peers.
struct SessionRun {
    sessions: (i64, i64),
    gap_seconds: (i64, i64),
    packets: (i64, i64),
    tcp: Tcp,
}

/// Password guessing over SSH that gets through the security group.
const SSH_BRUTEFORCE: SessionRun = SessionRun {
    sessions: (15, 60),
    gap_seconds: (1, 20),
    packets: (12, 40),
    tcp: Tcp {
        bytes_per_packet: 120.0,
        tcp_flags: 27,
        ingress: true,
        label: Category::CriticalSecurity,
        scenario: "attack/ssh-bruteforce",
    },
};

/// Bulk exfiltration.
const EXFILTRATION: SessionRun = SessionRun {
    sessions: (3, 12),
    gap_seconds: (30, 600),
    packets: (200_000, 4_000_000),
    tcp: Tcp {
        bytes_per_packet: 1400.0,
        tcp_flags: COMPLETE,
        ingress: false,
        label: Category::CriticalSecurity,
        scenario: "attack/exfiltration",
    },
};

/// Crypto-mining pool connections.
const MINING: SessionRun = SessionRun {
    sessions: (10, 40),
    gap_seconds: (50, 70),
    packets: (20, 80),
    tcp: Tcp {
        bytes_per_packet: 180.0,
        tcp_flags: 3,
        ingress: false,
        label: Category::CriticalSecurity,
        scenario: "attack/mining",
    },
};

/// Lateral movement over admin protocols.
const LATERAL_MOVEMENT: SessionRun = SessionRun {
    sessions: (5, 25),
    gap_seconds: (1, 120),
    packets: (10, 300),
    tcp: Tcp {
        bytes_per_packet: 400.0,
        tcp_flags: 27,
        ingress: false,
        label: Category::CriticalSecurity,
        scenario: "attack/lateral-movement",
    },
};

/// The sessions of `run` between `victim` and the peer (address and port) `peer` draws
/// for each session; inbound runs come from the peer, the others go to it.
fn session_run(
    g: &mut Gen<'_>,
    mut t: DateTime<Utc>,
    victim: &str,
    run: &SessionRun,
    mut peer: impl FnMut(&mut Gen<'_>) -> (String, i64),
) {
    for _ in 0..g.rng.range(run.sessions.0, run.sessions.1) {
        t += Duration::seconds(g.rng.range(run.gap_seconds.0, run.gap_seconds.1));
        let (remote, port) = peer(g);
        let packets = g.rng.range(run.packets.0, run.packets.1);
        let route = if run.tcp.ingress {
            (remote.as_str(), victim, port)
        } else {
            (victim, remote.as_str(), port)
        };
        g.tcp(t, route, packets, &run.tcp);
    }
}

pub fn generate(env: &Env, rng: &mut SplitMix64) -> Vec<LabelledRaw> {
    let mut g = Gen {
        env,
        rng: rng.fork("flows"),
        out: Vec::new(),
        enis: Vec::new(),
    };
    g.enis = env
        .instance_ids
        .iter()
        .map(|i| (format!("eni-0{}", g.rng.hex(16)), i.clone()))
        .collect();
    benign(&mut g);
    attacks(&mut g);
    g.out
}

fn benign(g: &mut Gen<'_>) {
    let env = g.env;
    for _ in 0..env.count(12_000) {
        let t = env.any_time(&mut g.rng);
        let a = g.rng.pick(&env.instance_ips).clone();
        let b = g.rng.pick(&env.instance_ips).clone();
        match g.rng.weighted(&[40.0, 18.0, 15.0, 12.0, 6.0, 9.0]) {
            // Service to service inside the VPC.
            0 => {
                let port = *g.rng.pick(&[443, 5432, 6379, 8080, 9092, 2049]);
                let packets = g.rng.log_normal(30.0, 1.2) as i64 + 2;
                g.tcp(t, (&a, &b, port), packets, &INTERNAL);
            }
            // Clients reaching the load balancer.
            1 => {
                let client = env.internet_ip(&mut g.rng);
                let packets = g.rng.log_normal(14.0, 0.9) as i64 + 3;
                g.tcp(t, (&client, &a, 443), packets, &INBOUND_WEB);
            }
            // Instances calling out (package mirrors, SaaS APIs, AWS endpoints).
            2 => {
                let remote = env.internet_ip(&mut g.rng);
                let packets = g.rng.log_normal(40.0, 1.4) as i64 + 3;
                g.tcp(t, (&a, &remote, 443), packets, &EGRESS);
            }
            // DNS to the VPC resolver.
            3 => {
                let sp = g.ephemeral();
                let packets = g.rng.range(1, 4);
                g.emit(
                    t,
                    Flow {
                        src: &a,
                        dst: "10.0.0.2",
                        src_port: sp,
                        dst_port: 53,
                        protocol: 17,
                        packets,
                        bytes: packets * 90,
                        accept: true,
                        tcp_flags: 0,
                        ingress: false,
                    },
                    Category::Normal,
                    "benign/dns",
                );
            }
            // Time sync.
            4 => {
                g.emit(
                    t,
                    Flow {
                        src: &a,
                        dst: "169.254.169.123",
                        src_port: 123,
                        dst_port: 123,
                        protocol: 17,
                        packets: 1,
                        bytes: 76,
                        accept: true,
                        tcp_flags: 0,
                        ingress: false,
                    },
                    Category::Normal,
                    "benign/ntp",
                );
            }
            // Internet background noise: scanners knocking on every public address.
            _ => {
                let scanner = env.internet_ip(&mut g.rng);
                let port = *g
                    .rng
                    .pick(&[22, 23, 3389, 445, 80, 8080, 5900, 1433, 6379, 9200, 2375]);
                let sp = g.ephemeral();
                let icmp = g.rng.chance(0.1);
                g.emit(
                    t,
                    Flow {
                        src: &scanner,
                        dst: &a,
                        src_port: if icmp { 0 } else { sp },
                        dst_port: if icmp { 0 } else { port },
                        protocol: if icmp { 1 } else { 6 },
                        packets: 1,
                        bytes: 44,
                        accept: false,
                        tcp_flags: if icmp { 0 } else { 2 },
                        ingress: true,
                    },
                    Category::Normal,
                    "benign/background-scan",
                );
            }
        }
    }
}

fn attacks(g: &mut Gen<'_>) {
    let env = g.env;
    for n in 0..env.count(36) {
        let mut t = env.any_time(&mut g.rng);
        let victim = g.rng.pick(&env.instance_ips).clone();
        match n % 6 {
            // A compromised instance sweeping the VPC.
            0 => {
                for _ in 0..g.rng.range(20, 80) {
                    t += Duration::milliseconds(g.rng.range(5, 400));
                    let target = format!("10.0.{}.{}", g.rng.range(1, 12), g.rng.range(1, 254));
                    let port = *g
                        .rng
                        .pick(&[22, 80, 443, 445, 3389, 5432, 3306, 6379, 8080, 27017, 9200]);
                    let accept = g.rng.chance(0.25);
                    let sp = g.ephemeral();
                    g.emit(
                        t,
                        Flow {
                            src: &victim,
                            dst: &target,
                            src_port: sp,
                            dst_port: port,
                            protocol: 6,
                            packets: if accept { 3 } else { 1 },
                            bytes: if accept { 180 } else { 60 },
                            accept,
                            tcp_flags: if accept { 22 } else { 2 },
                            ingress: false,
                        },
                        Category::CriticalSecurity,
                        "attack/internal-scan",
                    );
                }
            }
            1 => {
                let attacker = env.internet_ip(&mut g.rng);
                session_run(g, t, &victim, &SSH_BRUTEFORCE, |_| (attacker.clone(), 22));
            }
            2 => {
                let drop = env.internet_ip(&mut g.rng);
                let port = *g.rng.pick(&[443, 8443, 9001, 21, 2222]);
                session_run(g, t, &victim, &EXFILTRATION, |_| (drop.clone(), port));
            }
            3 => {
                let pool = env.internet_ip(&mut g.rng);
                let port = *g.rng.pick(&[3333, 4444, 5555, 14444, 45700]);
                session_run(g, t, &victim, &MINING, |_| (pool.clone(), port));
            }
            // Command-and-control beacons: small, regular, to one rare address.
            4 => {
                let c2 = env.internet_ip(&mut g.rng);
                let port = *g.rng.pick(&[8443, 443, 8080, 53]);
                for _ in 0..g.rng.range(15, 50) {
                    t += Duration::seconds(60 + g.rng.range(-3, 3));
                    let packets = g.rng.range(4, 8);
                    let sp = g.ephemeral();
                    let proto = if port == 53 { 17 } else { 6 };
                    g.emit(
                        t,
                        Flow {
                            src: &victim,
                            dst: &c2,
                            src_port: sp,
                            dst_port: port,
                            protocol: proto,
                            packets,
                            bytes: packets * 160,
                            accept: true,
                            tcp_flags: if proto == 6 { COMPLETE } else { 0 },
                            ingress: false,
                        },
                        Category::CriticalSecurity,
                        "attack/beacon",
                    );
                }
            }
            _ => session_run(g, t, &victim, &LATERAL_MOVEMENT, |g| {
                let target = g.rng.pick(&env.instance_ips).clone();
                (target, *g.rng.pick(&[445, 3389, 5985, 5986, 22, 135]))
            }),
        }
    }
}

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
            log_type: LogType::VpcFlow,
            label,
            raw: Raw::Line(line),
            header: Some(HEADER.to_string()),
            scenario,
            time: t,
        });
    }

    fn ephemeral(&mut self) -> i64 {
        self.rng.range(32768, 60999)
    }

    fn bytes_for(&mut self, packets: i64, per_packet: f64) -> i64 {
        (packets as f64 * per_packet * (0.6 + 0.8 * self.rng.unit())) as i64
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
                let bytes = g.bytes_for(packets, 700.0);
                let sp = g.ephemeral();
                g.emit(
                    t,
                    Flow {
                        src: &a,
                        dst: &b,
                        src_port: sp,
                        dst_port: port,
                        protocol: 6,
                        packets,
                        bytes,
                        accept: true,
                        tcp_flags: 19,
                        ingress: true,
                    },
                    Category::Normal,
                    "benign/internal",
                );
            }
            // Clients reaching the load balancer.
            1 => {
                let client = env.internet_ip(&mut g.rng);
                let packets = g.rng.log_normal(14.0, 0.9) as i64 + 3;
                let bytes = g.bytes_for(packets, 500.0);
                let sp = g.ephemeral();
                g.emit(
                    t,
                    Flow {
                        src: &client,
                        dst: &a,
                        src_port: sp,
                        dst_port: 443,
                        protocol: 6,
                        packets,
                        bytes,
                        accept: true,
                        tcp_flags: 19,
                        ingress: true,
                    },
                    Category::Normal,
                    "benign/inbound-web",
                );
            }
            // Instances calling out (package mirrors, SaaS APIs, AWS endpoints).
            2 => {
                let remote = env.internet_ip(&mut g.rng);
                let packets = g.rng.log_normal(40.0, 1.4) as i64 + 3;
                let bytes = g.bytes_for(packets, 900.0);
                let sp = g.ephemeral();
                g.emit(
                    t,
                    Flow {
                        src: &a,
                        dst: &remote,
                        src_port: sp,
                        dst_port: 443,
                        protocol: 6,
                        packets,
                        bytes,
                        accept: true,
                        tcp_flags: 19,
                        ingress: false,
                    },
                    Category::Normal,
                    "benign/egress",
                );
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
            // Password guessing over SSH that gets through the security group.
            1 => {
                let attacker = env.internet_ip(&mut g.rng);
                for _ in 0..g.rng.range(15, 60) {
                    t += Duration::seconds(g.rng.range(1, 20));
                    let packets = g.rng.range(12, 40);
                    let bytes = g.bytes_for(packets, 120.0);
                    let sp = g.ephemeral();
                    g.emit(
                        t,
                        Flow {
                            src: &attacker,
                            dst: &victim,
                            src_port: sp,
                            dst_port: 22,
                            protocol: 6,
                            packets,
                            bytes,
                            accept: true,
                            tcp_flags: 27,
                            ingress: true,
                        },
                        Category::CriticalSecurity,
                        "attack/ssh-bruteforce",
                    );
                }
            }
            // Bulk exfiltration.
            2 => {
                let drop = env.internet_ip(&mut g.rng);
                let port = *g.rng.pick(&[443, 8443, 9001, 21, 2222]);
                for _ in 0..g.rng.range(3, 12) {
                    t += Duration::seconds(g.rng.range(30, 600));
                    let packets = g.rng.range(200_000, 4_000_000);
                    let bytes = g.bytes_for(packets, 1400.0);
                    let sp = g.ephemeral();
                    g.emit(
                        t,
                        Flow {
                            src: &victim,
                            dst: &drop,
                            src_port: sp,
                            dst_port: port,
                            protocol: 6,
                            packets,
                            bytes,
                            accept: true,
                            tcp_flags: 19,
                            ingress: false,
                        },
                        Category::CriticalSecurity,
                        "attack/exfiltration",
                    );
                }
            }
            // Crypto-mining pool connections.
            3 => {
                let pool = env.internet_ip(&mut g.rng);
                let port = *g.rng.pick(&[3333, 4444, 5555, 14444, 45700]);
                for _ in 0..g.rng.range(10, 40) {
                    t += Duration::seconds(g.rng.range(50, 70));
                    let packets = g.rng.range(20, 80);
                    let bytes = g.bytes_for(packets, 180.0);
                    let sp = g.ephemeral();
                    g.emit(
                        t,
                        Flow {
                            src: &victim,
                            dst: &pool,
                            src_port: sp,
                            dst_port: port,
                            protocol: 6,
                            packets,
                            bytes,
                            accept: true,
                            tcp_flags: 3,
                            ingress: false,
                        },
                        Category::CriticalSecurity,
                        "attack/mining",
                    );
                }
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
                            tcp_flags: if proto == 6 { 19 } else { 0 },
                            ingress: false,
                        },
                        Category::CriticalSecurity,
                        "attack/beacon",
                    );
                }
            }
            // Lateral movement over admin protocols.
            _ => {
                for _ in 0..g.rng.range(5, 25) {
                    t += Duration::seconds(g.rng.range(1, 120));
                    let target = g.rng.pick(&env.instance_ips).clone();
                    let port = *g.rng.pick(&[445, 3389, 5985, 5986, 22, 135]);
                    let packets = g.rng.range(10, 300);
                    let bytes = g.bytes_for(packets, 400.0);
                    let sp = g.ephemeral();
                    g.emit(
                        t,
                        Flow {
                            src: &victim,
                            dst: &target,
                            src_port: sp,
                            dst_port: port,
                            protocol: 6,
                            packets,
                            bytes,
                            accept: true,
                            tcp_flags: 27,
                            ingress: false,
                        },
                        Category::CriticalSecurity,
                        "attack/lateral-movement",
                    );
                }
            }
        }
    }
}

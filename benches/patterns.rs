//! Template-miner throughput on the concatenated loghub-2k raw lines (all eight systems,
//! 16,000 lines; generated lines when `../shared` is absent), next to a baseline measured
//! in the same run: splitting each line on whitespace and hashing its tokens into a map,
//! the least any tokenizing miner must do.
//!
//! Run: `cargo bench --bench patterns`. Each measurement is the best of several rounds
//! (the least disturbed by other processes); CPU time is read from /proc when available,
//! since wall time on a shared machine also counts other processes' turns.

use std::collections::HashMap;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

use s3_sentinel_connector::TemplateMiner;
use s3_sentinel_connector::{mine_lines, write_csv};
use xxhash_rust::xxh3::xxh3_64;

const SYSTEMS: [&str; 8] = [
    "Apache",
    "BGL",
    "HDFS",
    "Hadoop",
    "Linux",
    "OpenSSH",
    "Spark",
    "Zookeeper",
];
const ROUNDS: usize = 7;
const TARGET_LINES: usize = 1_000_000;

fn lines() -> (Vec<String>, &'static str) {
    let shared = std::env::var_os("S3_SENTINEL_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    let dir = shared.join("datasets/loghub-2k");
    let mut out = Vec::new();
    for s in SYSTEMS {
        if let Ok(text) = std::fs::read_to_string(dir.join(s).join(format!("{s}_2k.log"))) {
            out.extend(text.lines().map(str::to_string));
        }
    }
    if !out.is_empty() {
        return (out, "loghub-2k raw lines, 8 systems");
    }
    // Generated fallback: a few kinds of lines with varying values.
    let out = (0..16_000u64)
        .map(|i| match i % 4 {
            0 => format!("081109 2036{:02} {} INFO dfs.DataNode: Receiving block blk_{} src: /10.0.{}.{}:{} dest: /10.0.0.1:50010", i % 60, i % 900, i * 7919, i % 255, i % 7, 40000 + i % 999),
            1 => format!("Dec 10 06:55:{:02} LabSZ sshd[{}]: Failed password for invalid user u{} from 173.234.31.{} port {} ssh2", i % 60, 24000 + i, i % 50, i % 255, 30000 + i),
            2 => format!("2015-10-18 18:01:{:02},978 INFO [main] Progress of TaskAttempt attempt_1445144423722_0020_m_{:06}_0 is : 0.{}", i % 60, i, i * 31),
            _ => format!("- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 RAS KERNEL INFO generating core.{}", i),
        })
        .collect();
    (out, "generated lines (no ../shared)")
}

/// Process CPU seconds (user + system) from /proc/self/stat, if readable.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

struct Rate {
    best_wall: f64,
    best_cpu: Option<f64>,
}

/// Runs `pass` (one pass over all lines) enough times for about TARGET_LINES lines per
/// round, ROUNDS rounds; returns the best lines/s by wall and by CPU time.
fn measure(lines: usize, mut pass: impl FnMut()) -> Rate {
    let passes = (TARGET_LINES / lines).max(1);
    pass(); // warm up: caches, allocator, the miner's templates
    let mut best_wall = 0.0f64;
    let mut best_cpu: Option<f64> = None;
    for _ in 0..ROUNDS {
        let cpu0 = cpu_seconds();
        let t = Instant::now();
        for _ in 0..passes {
            pass();
        }
        let wall = t.elapsed().as_secs_f64();
        let n = (passes * lines) as f64;
        best_wall = best_wall.max(n / wall);
        if let (Some(a), Some(b)) = (cpu0, cpu_seconds())
            && b > a
        {
            let rate = n / (b - a);
            best_cpu = Some(best_cpu.map_or(rate, |c: f64| c.max(rate)));
        }
    }
    Rate {
        best_wall,
        best_cpu,
    }
}

fn main() {
    // `cargo bench` passes `--bench`; filters are not supported by this harness.
    let (lines, source) = lines();
    let n = lines.len();
    let input: String = lines.join("\n");
    println!("input: {n} {source}");

    let mut counts: HashMap<u64, u64> = HashMap::new();
    let baseline = measure(n, || {
        for line in &lines {
            let mut h = 0u64;
            for token in line.split_ascii_whitespace() {
                h = h.rotate_left(5) ^ xxh3_64(token.as_bytes());
            }
            *counts.entry(h).or_default() += 1;
        }
        black_box(&counts);
    });

    let mut miner = TemplateMiner::default();
    let steady = measure(n, || {
        for line in &lines {
            black_box(miner.add(line));
        }
    });

    let cold = measure(n, || {
        let mut fresh = TemplateMiner::default();
        for line in &lines {
            black_box(fresh.add(line));
        }
    });

    let command = measure(n, || {
        let mut fresh = TemplateMiner::default();
        let assigned = mine_lines(&mut fresh, input.as_bytes()).expect("in-memory input");
        write_csv(&fresh, &assigned, std::io::sink()).expect("sink");
    });

    let show = |name: &str, r: &Rate| {
        let cpu = r
            .best_cpu
            .map_or("n/a".to_string(), |c| format!("{c:>12.0}"));
        let ratio = r.best_wall / baseline.best_wall;
        let cpu_ratio = match (r.best_cpu, baseline.best_cpu) {
            (Some(a), Some(b)) => format!("{:.3}", a / b),
            _ => "n/a".into(),
        };
        println!(
            "{name:<44} {:>12.0} lines/s wall  {cpu} lines/s cpu  ratio to baseline {ratio:.3} (cpu {cpu_ratio})",
            r.best_wall
        );
    };
    show("baseline: split + hash tokens + map", &baseline);
    show("miner, steady state (templates known)", &steady);
    show("miner, cold (fresh miner each pass)", &cold);
    show("patterns command path (mine + CSV to sink)", &command);
}

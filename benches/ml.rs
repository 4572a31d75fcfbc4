//! ML enrichment cost, measured in one run against baselines on the same data
//! (`cargo bench --bench ml`; harness = false, the report is printed).
//!
//! 1. Per record, on CloudTrail records from the project's generator (benign and attack
//!    mix), best of `BENCH_ROUNDS`, single-threaded:
//!    - features only; features + both models (tract, batches of 512); the whole
//!      enrichment stage (also columns, reasons, alerts, threshold history);
//!    - baseline: writing the same records as Sentinel JSON rows (a cost every record pays).
//! 2. Pipeline throughput on gzip'd CloudTrail objects: decode + parse + ML enrichment +
//!    JSON rows to a discard writer, next to the core benchmark's floor on the same files
//!    (gunzip + `serde_json::Value` parse + re-serialise each event + gzip).
//! 3. Cold start: loading, verifying, optimizing and probing both embedded models
//!    in-process; and the release `bootstrap` binary pinned to one core (`taskset -c 0`
//!    when available), from spawn to its first Runtime API `next` request, against a
//!    minimal local Runtime API. Binary sizes.
//!
//! Knobs: `BENCH_ROUNDS` (5), `BENCH_COLD_STARTS` (15).

use std::fs::File;
use std::hint::black_box;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;

use s3_sentinel_connector::Category;
use s3_sentinel_connector::Extractor;
use s3_sentinel_connector::ModelHandle;
use s3_sentinel_connector::embedded;
use s3_sentinel_connector::parse_raw;
use s3_sentinel_connector::{Behaviour, BehaviourConfig};
use s3_sentinel_connector::{EnrichConfig, ModelScorer};
use s3_sentinel_connector::{LogType, Record, Reject, write_record};
use s3_sentinel_connector::{ObjectJob, parse_object};
use s3_sentinel_connector::{RecordSink, Stop};
use s3_sentinel_connector::{SynthConfig, synth};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn best_of(rounds: usize, mut f: impl FnMut() -> u64) -> (Duration, u64) {
    let mut best = Duration::MAX;
    let mut n = 0;
    for _ in 0..rounds {
        let start = Instant::now();
        n = f();
        best = best.min(start.elapsed());
    }
    (best, n)
}

fn per_record(d: Duration, n: u64) -> f64 {
    d.as_secs_f64() * 1e9 / n.max(1) as f64
}

/// Batches parsed records, enriches each batch, writes rows to a discard writer.
struct EnrichingSink<'a> {
    enricher: Option<&'a ModelScorer>,
    batch: Vec<Record>,
    buf: Vec<u8>,
    written: u64,
}

impl EnrichingSink<'_> {
    fn flush(&mut self) {
        if let Some(e) = self.enricher {
            black_box(e.enrich(&mut self.batch).unwrap());
        }
        for r in self.batch.drain(..) {
            self.buf.clear();
            write_record(&r, &mut self.buf);
            self.buf.push(b'\n');
            io::sink().write_all(&self.buf).unwrap();
            self.written += 1;
        }
    }
}

impl RecordSink for EnrichingSink<'_> {
    fn record(&mut self, record: Record) -> Result<(), Stop> {
        self.batch.push(record);
        if self.batch.len() == 512 {
            self.flush();
        }
        Ok(())
    }
    fn reject(&mut self, _: Reject) -> Result<(), Stop> {
        Ok(())
    }
}

fn run_pipeline(files: &[PathBuf], enricher: Option<&ModelScorer>) -> u64 {
    let mut sink = EnrichingSink {
        enricher,
        batch: Vec::with_capacity(512),
        buf: Vec::with_capacity(4096),
        written: 0,
    };
    for path in files {
        let key = path.to_string_lossy().to_string();
        let job = ObjectJob::new(key.clone(), key);
        parse_object(File::open(path).unwrap(), &job, &mut sink).unwrap();
        sink.flush();
    }
    sink.written
}

/// The core benchmark's floor: gunzip, parse the document as `serde_json::Value`,
/// re-serialise every event, gzip the output.
fn run_floor(files: &[PathBuf]) -> u64 {
    let mut n = 0;
    for path in files {
        let mut text = Vec::new();
        MultiGzDecoder::new(BufReader::new(File::open(path).unwrap()))
            .read_to_end(&mut text)
            .unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&text).unwrap();
        let mut out = GzEncoder::new(io::sink(), Compression::default());
        for event in doc["Records"].as_array().unwrap() {
            serde_json::to_writer(&mut out, event).unwrap();
            out.write_all(b"\n").unwrap();
            n += 1;
        }
        out.finish().unwrap();
    }
    n
}

/// Spawns `binary` and waits for its first `GET .../invocation/next`; returns the time
/// from spawn to that request.
/// `federation`: `AZURE_AUTH=aws-federation` (tokens from STS at the first delivery)
/// instead of a client secret.
fn time_to_first_next(binary: &Path, pin: bool, federation: bool) -> Duration {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut command = if pin {
        let mut c = std::process::Command::new("taskset");
        c.args(["-c", "0"]).arg(binary);
        c
    } else {
        std::process::Command::new(binary)
    };
    command
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{port}"))
        .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "bench")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        .env("SENTINEL_INGESTION_ENDPOINT", "http://127.0.0.1:9")
        .env(
            "SENTINEL_DCR_IMMUTABLE_ID",
            "dcr-00000000000000000000000000000000",
        )
        .env("AZURE_TENANT_ID", "00000000-0000-0000-0000-000000000000")
        .env("AZURE_CLIENT_ID", "00000000-0000-0000-0000-000000000000")
        .env("RUST_LOG", "error")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    if federation {
        command
            .env("AZURE_AUTH", "aws-federation")
            .env("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9");
    } else {
        command.env("AZURE_CLIENT_SECRET", "bench");
    }
    let started = Instant::now();
    let mut child = command.spawn().expect("spawn bootstrap");
    let (mut stream, _) = listener.accept().unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let elapsed = started.elapsed();
    assert!(
        line.contains("/runtime/invocation/next"),
        "first request was {line:?}"
    );
    let _ = stream.write_all(b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n");
    let _ = child.kill();
    let _ = child.wait();
    elapsed
}

fn main() {
    let rounds = env_usize("BENCH_ROUNDS", 5);

    // Records: the generator's CloudTrail, benign and attack, parsed once.
    let items: Vec<_> = synth::generate(&SynthConfig::default())
        .into_iter()
        .filter(|i| i.log_type == LogType::CloudTrail)
        .collect();
    let records: Vec<Record> = items
        .iter()
        .map(|i| parse_raw(i.log_type, i.raw.text(), None, "bench").unwrap())
        .collect();
    let attacks = items
        .iter()
        .filter(|i| i.label == Category::CriticalSecurity)
        .count();
    let n = records.len() as u64;
    println!(
        "ML enrichment benchmark: {n} CloudTrail records ({attacks} from attack scenarios), best of {rounds}\n"
    );

    let models = embedded::load().unwrap();
    let extractor = Extractor::new();
    let enricher = ModelScorer::new(
        ModelHandle::new(embedded::load().unwrap()),
        EnrichConfig::default(),
    );

    let (t_json, _) = best_of(rounds, || {
        let mut buf = Vec::with_capacity(4096);
        for r in &records {
            buf.clear();
            write_record(r, &mut buf);
            black_box(&buf);
        }
        n
    });
    let (t_features, _) = best_of(rounds, || {
        black_box(extractor.extract_batch(&records));
        n
    });
    let (t_models, _) = best_of(rounds, || {
        let rows = extractor.extract_batch(&records);
        black_box(models.score(&rows).unwrap());
        n
    });
    let (t_enrich, _) = best_of(rounds, || {
        let mut copy = records.clone();
        for chunk in copy.chunks_mut(512) {
            black_box(enricher.enrich(chunk).unwrap());
        }
        n
    });
    let rules = models.rules();
    let (t_rules, matched) = best_of(rounds, || {
        records.iter().map(|r| rules.matches(r).len() as u64).sum()
    });
    let (t_behaviour, _) = best_of(rounds, || {
        let mut copy = records.clone();
        let mut history = Behaviour::new(BehaviourConfig::default());
        for chunk in copy.chunks_mut(512) {
            history.analyze(chunk);
        }
        black_box(&copy);
        n
    });
    let (t_clone, _) = best_of(rounds, || {
        black_box(records.clone());
        n
    });
    println!(
        "detection rules: {} rules, {matched} matches on these records\n",
        rules.len()
    );
    let json_ns = per_record(t_json, n);
    println!("per record                                         ns/record   x JSON row");
    for (name, t) in [
        ("baseline: write the Sentinel JSON row", t_json),
        ("features only", t_features),
        ("features + anomaly model + classifier (tract)", t_models),
        (
            "whole enrichment stage (+ columns, reasons, alerts)",
            t_enrich.saturating_sub(t_clone),
        ),
        ("  of which detection rules (embedded pack)", t_rules),
        (
            "behaviour history (flags, in time order)",
            t_behaviour.saturating_sub(t_clone),
        ),
    ] {
        let ns = per_record(t, n);
        println!("  {name:<48} {ns:>9.0}   {:>6.2}", ns / json_ns);
    }

    // Pipeline throughput with ML against the floor, on gzip'd objects.
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    let mut total_events = 0usize;
    for (f, chunk) in items.chunks(5_000).enumerate() {
        let path = dir.path().join(format!(
            "123456789012_CloudTrail_us-east-1_20250106T{f:04}Z_bench.json.gz"
        ));
        let mut gz = GzEncoder::new(File::create(&path).unwrap(), Compression::default());
        gz.write_all(b"{\"Records\":[").unwrap();
        for (i, item) in chunk.iter().enumerate() {
            if i > 0 {
                gz.write_all(b",").unwrap();
            }
            gz.write_all(item.raw.text().as_bytes()).unwrap();
        }
        gz.write_all(b"]}").unwrap();
        gz.finish().unwrap();
        total_events += chunk.len();
        files.push(path);
    }
    let (t_plain, n_plain) = best_of(rounds, || run_pipeline(&files, None));
    let (t_ml, n_ml) = best_of(rounds, || run_pipeline(&files, Some(&enricher)));
    let (t_floor, n_floor) = best_of(rounds, || run_floor(&files));
    assert_eq!(n_plain as usize, total_events);
    assert_eq!(n_ml, n_plain);
    assert_eq!(n_floor, n_plain);
    let rate = |t: Duration| n_plain as f64 / t.as_secs_f64();
    println!(
        "\npipeline on {} gzip'd CloudTrail objects ({total_events} events)    records/s   x floor",
        files.len()
    );
    for (name, t) in [
        ("floor: gunzip + Value parse + re-serialise + gzip", t_floor),
        ("process path without ML -> JSON rows", t_plain),
        ("process path with ML enrichment -> JSON rows", t_ml),
    ] {
        println!(
            "  {name:<58} {:>9.0}   {:>5.2}",
            rate(t),
            t_floor.as_secs_f64() / t.as_secs_f64()
        );
    }

    // Cold start.
    let mut loads: Vec<Duration> = (0..10)
        .map(|_| {
            let start = Instant::now();
            black_box(embedded::load().unwrap());
            start.elapsed()
        })
        .collect();
    loads.sort();
    println!(
        "\ncold start: load + verify + optimize + probe both embedded models in-process: median {:.1} ms, min {:.1} ms",
        loads[loads.len() / 2].as_secs_f64() * 1e3,
        loads[0].as_secs_f64() * 1e3
    );
    let bootstrap = PathBuf::from(env!("CARGO_BIN_EXE_bootstrap"));
    let pin = std::process::Command::new("taskset")
        .args(["-c", "0", "true"])
        .status()
        .is_ok_and(|s| s.success());
    let runs = env_usize("BENCH_COLD_STARTS", 15);
    for (mode, federation) in [("client secret", false), ("aws-federation", true)] {
        let mut starts: Vec<Duration> = (0..runs)
            .map(|_| time_to_first_next(&bootstrap, pin, federation))
            .collect();
        starts.sort();
        println!(
            "cold start ({mode}): bootstrap spawn -> first Runtime API `next` ({}): median {:.1} ms, min {:.1} ms, max {:.1} ms over {runs} starts",
            if pin {
                "pinned to one core"
            } else {
                "unpinned"
            },
            starts[runs / 2].as_secs_f64() * 1e3,
            starts[0].as_secs_f64() * 1e3,
            starts[runs - 1].as_secs_f64() * 1e3
        );
    }
    for name in ["bootstrap", "s3-sentinel"] {
        let path = bootstrap.with_file_name(name);
        if let Ok(meta) = std::fs::metadata(&path) {
            println!(
                "binary size: {name} {:.1} MiB ({} bytes, {})",
                meta.len() as f64 / (1 << 20) as f64,
                meta.len(),
                path.display()
            );
        }
    }
    let onnx: u64 = [embedded::ANOMALY_ONNX, embedded::CLASSIFIER_ONNX]
        .iter()
        .map(|b| b.len() as u64)
        .sum();
    println!("embedded model bytes: {onnx}");
}

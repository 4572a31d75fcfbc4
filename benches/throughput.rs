//! CloudTrail throughput and memory, measured in one run against a baseline on the same
//! files (`cargo bench --bench throughput`; harness = false, the report is printed).
//!
//! 1. Generates a CloudTrail corpus (deterministic seed) of `CORPUS_FILES` gzip'd
//!    `{"Records":[...]}` objects, compact as AWS writes them, `EVENTS_PER_FILE` events each.
//! 2. Times, single-threaded, best of `ROUNDS`:
//!    - process: `pipeline::parse_object` (gunzip, detection, parsing) into the CLI's
//!      NDJSON sink writing to a discard writer: the `s3-sentinel process` path;
//!    - floor: gunzip + `serde_json::Value` parse of the document (every event) +
//!      re-serialisation of each event + gzip of that output;
//!    - and, to show where the time goes, the floor without its output gzip and the process
//!      path with gzip'd output.
//! 3. Writes one object of at least 1 GiB uncompressed and runs the release `s3-sentinel
//!    process` binary on it as a child process, reporting its peak RSS (VmHWM).
//!
//! Environment knobs: `BENCH_EVENTS_PER_FILE`, `BENCH_FILES`, `BENCH_ROUNDS`, `BENCH_BIG_MIB`
//! (size of the big object in MiB of JSON; 0 skips the memory run).

use std::fmt::Write as _;
use std::fs::File;
use std::hint::black_box;
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;

use s3_sentinel_connector::{ObjectJob, RecordSink, Stop, parse_object};
use s3_sentinel_connector::{Record, Reject, write_record};

/// Records as NDJSON into a writer, as `s3-sentinel process` writes them.
struct NdjsonSink<W: Write> {
    out: W,
    buf: Vec<u8>,
}

impl<W: Write> NdjsonSink<W> {
    fn new(out: W) -> Self {
        NdjsonSink {
            out,
            buf: Vec::with_capacity(64 * 1024),
        }
    }

    fn finish(mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl<W: Write> RecordSink for NdjsonSink<W> {
    fn record(&mut self, record: Record) -> Result<(), Stop> {
        self.buf.clear();
        write_record(&record, &mut self.buf);
        self.buf.push(b'\n');
        self.out
            .write_all(&self.buf)
            .map_err(|e| Stop(format!("writing output failed: {e}")))
    }

    fn reject(&mut self, _reject: Reject) -> Result<(), Stop> {
        Ok(())
    }
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// SplitMix64: a fixed, dependency-free generator so the corpus is identical everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
    fn uuid(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            (b >> 48) & 0x3fff | 0x8000,
            b & 0xffff_ffff_ffff
        )
    }
}

const ACCOUNT: &str = "123456789012";
const AGENTS: &[&str] = &[
    "aws-cli/2.22.4 md/awscrt#0.23.4 ua/2.0 os/linux#6.8.0 md/arch#x86_64 lang/python#3.12.7 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe",
    "aws-sdk-go-v2/1.32.6 os/linux lang/go#1.23.3 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.196.0",
    "Boto3/1.35.76 md/Botocore#1.35.76 ua/2.0 os/linux#5.10.228-219.884.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.7 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy Botocore/1.35.76",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
];
const REGIONS: &[&str] = &["us-east-1", "us-east-1", "us-west-2", "eu-west-1"];

/// Appends one realistic compact CloudTrail event to `out`.
fn write_event(out: &mut String, rng: &mut Rng, seconds: u64) {
    let t = 1_763_632_800 + seconds; // 2025-11-20T10:00:00Z onwards
    let (h, m, s) = ((t / 3600) % 24, (t / 60) % 60, t % 60);
    let day = 20 + (t - 1_763_596_800) / 86_400;
    let time = format!("2025-11-{day:02}T{h:02}:{m:02}:{s:02}Z");
    let region = rng.pick(REGIONS);
    let agent = rng.pick(AGENTS);
    let ip = format!("198.51.100.{}", rng.below(250) + 2);
    let (request_id, event_id) = (rng.uuid(), rng.uuid());
    let role = rng.pick(&["app-server", "deploy", "lambda-orders", "ecs-task-web"]);
    let session = format!("i-0{:016x}", rng.next());
    let identity = match rng.below(10) {
        0..=5 => format!(
            r#"{{"type":"AssumedRole","principalId":"AROA4EXAMPLE{n:08X}:{session}","arn":"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}","accountId":"{ACCOUNT}","accessKeyId":"ASIA4EXAMPLE{k:08X}","sessionContext":{{"sessionIssuer":{{"type":"Role","principalId":"AROA4EXAMPLE{n:08X}","arn":"arn:aws:iam::{ACCOUNT}:role/{role}","accountId":"{ACCOUNT}","userName":"{role}"}},"webIdFederationData":{{}},"attributes":{{"creationDate":"{time}","mfaAuthenticated":"false"}},"ec2RoleDelivery":"2.0"}}}}"#,
            n = rng.below(1 << 31),
            k = rng.below(1 << 31)
        ),
        6..=8 => format!(
            r#"{{"type":"IAMUser","principalId":"AIDA4EXAMPLE{n:08X}","arn":"arn:aws:iam::{ACCOUNT}:user/{user}","accountId":"{ACCOUNT}","accessKeyId":"AKIA4EXAMPLE{k:08X}","userName":"{user}"}}"#,
            n = rng.below(1 << 31),
            k = rng.below(1 << 31),
            user = rng.pick(&["alice", "bob", "carol", "ci-bot"])
        ),
        _ => r#"{"type":"AWSService","invokedBy":"ec2.amazonaws.com"}"#.to_string(),
    };
    let tls = format!(
        r#","tlsDetails":{{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"{}.{region}.amazonaws.com"}}"#,
        rng.pick(&["ec2", "s3", "sts", "kms", "ssm"])
    );
    let (source, name, read_only, category, params, response, extra) = match rng.below(8) {
        0 => (
            "ec2.amazonaws.com",
            "DescribeInstances",
            true,
            "Management",
            r#"{"instancesSet":{},"filterSet":{"items":[{"name":"tag:env","valueSet":{"items":[{"value":"prod"}]}}]}}"#.to_string(),
            "null".to_string(),
            String::new(),
        ),
        1 => {
            let key = format!("data/{:x}/part-{:05}.parquet", rng.next(), rng.below(99999));
            (
                "s3.amazonaws.com",
                "GetObject",
                true,
                "Data",
                format!(r#"{{"bucketName":"prod-datalake","Host":"prod-datalake.s3.{region}.amazonaws.com","key":"{key}"}}"#),
                "null".to_string(),
                format!(
                    r#","additionalEventData":{{"SignatureVersion":"SigV4","CipherSuite":"TLS_AES_128_GCM_SHA256","bytesTransferredIn":0,"bytesTransferredOut":{},"x-amz-id-2":"{:x}{:x}","AuthenticationMethod":"AuthHeader"}},"resources":[{{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::prod-datalake/{key}"}},{{"accountId":"{ACCOUNT}","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::prod-datalake"}}]"#,
                    rng.below(10_000_000),
                    rng.next(),
                    rng.next()
                ),
            )
        }
        2 => (
            "kms.amazonaws.com",
            "Decrypt",
            true,
            "Management",
            format!(
                r#"{{"encryptionContext":{{"aws:secretsmanager:arn":"arn:aws:secretsmanager:{region}:{ACCOUNT}:secret:prod/db-{:06x}"}},"encryptionAlgorithm":"SYMMETRIC_DEFAULT"}}"#,
                rng.below(1 << 24)
            ),
            "null".to_string(),
            format!(
                r#","resources":[{{"accountId":"{ACCOUNT}","type":"AWS::KMS::Key","ARN":"arn:aws:kms:{region}:{ACCOUNT}:key/{}"}}]"#,
                rng.uuid()
            ),
        ),
        3 => (
            "sts.amazonaws.com",
            "AssumeRole",
            true,
            "Management",
            format!(
                r#"{{"roleArn":"arn:aws:iam::{ACCOUNT}:role/{role}","roleSessionName":"{session}","durationSeconds":3600}}"#
            ),
            format!(
                r#"{{"credentials":{{"accessKeyId":"ASIA4EXAMPLE{:08X}","sessionToken":"IQoJb3JpZ2luX2VjEXAMPLE{:x}{:x}","expiration":"Nov 20, 2025, 11:00:00 AM"}},"assumedRoleUser":{{"assumedRoleId":"AROA4EXAMPLE:{session}","arn":"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}"}}}}"#,
                rng.below(1 << 31),
                rng.next(),
                rng.next()
            ),
            format!(r#","sharedEventID":"{}""#, rng.uuid()),
        ),
        4 => (
            "ssm.amazonaws.com",
            "GetParameter",
            true,
            "Management",
            format!(
                r#"{{"name":"/prod/{}/config","withDecryption":true}}"#,
                rng.pick(&["orders", "web", "billing"])
            ),
            "null".to_string(),
            String::new(),
        ),
        5 => (
            "iam.amazonaws.com",
            "CreateAccessKey",
            false,
            "Management",
            r#"{"userName":"ci-bot"}"#.to_string(),
            format!(
                r#"{{"accessKey":{{"userName":"ci-bot","accessKeyId":"AKIA4EXAMPLE{:08X}","status":"Active","createDate":"Nov 20, 2025, 10:02:40 AM"}}}}"#,
                rng.below(1 << 31)
            ),
            String::new(),
        ),
        6 => (
            "ec2.amazonaws.com",
            "AuthorizeSecurityGroupIngress",
            false,
            "Management",
            format!(
                r#"{{"groupId":"sg-0{:016x}","ipPermissions":{{"items":[{{"ipProtocol":"tcp","fromPort":443,"toPort":443,"groups":{{}},"ipRanges":{{"items":[{{"cidrIp":"10.0.0.0/8"}}]}},"ipv6Ranges":{{}},"prefixListIds":{{}}}}]}}}}"#,
                rng.next()
            ),
            format!(r#"{{"requestId":"{}","_return":true}}"#, rng.uuid()),
            String::new(),
        ),
        _ => (
            "signin.amazonaws.com",
            "ConsoleLogin",
            false,
            "Management",
            "null".to_string(),
            r#"{"ConsoleLogin":"Success"}"#.to_string(),
            r#","additionalEventData":{"LoginTo":"https://console.aws.amazon.com/console/home","MobileVersion":"No","MFAUsed":"Yes"}"#.to_string(),
        ),
    };
    let _ = write!(
        out,
        r#"{{"eventVersion":"1.11","userIdentity":{identity},"eventTime":"{time}","eventSource":"{source}","eventName":"{name}","awsRegion":"{region}","sourceIPAddress":"{ip}","userAgent":"{agent}","requestParameters":{params},"responseElements":{response}{extra},"requestID":"{request_id}","eventID":"{event_id}","readOnly":{read_only},"eventType":"AwsApiCall","managementEvent":{management},"recipientAccountId":"{ACCOUNT}","eventCategory":"{category}"{tls}}}"#,
        management = category == "Management"
    );
}

/// Writes a gzip'd `{"Records":[...]}` object of `events` events (or until `min_bytes` of
/// JSON), returning (events, uncompressed bytes).
fn write_object(
    path: &Path,
    rng: &mut Rng,
    events: usize,
    min_bytes: u64,
    level: u32,
) -> (usize, u64) {
    let file = io::BufWriter::new(File::create(path).unwrap());
    let mut gz = GzEncoder::new(file, Compression::new(level));
    gz.write_all(b"{\"Records\":[").unwrap();
    let mut written = 12u64;
    let mut n = 0usize;
    let mut buf = String::with_capacity(4096);
    while n < events || written < min_bytes {
        buf.clear();
        if n > 0 {
            buf.push(',');
        }
        write_event(&mut buf, rng, n as u64 / 20);
        gz.write_all(buf.as_bytes()).unwrap();
        written += buf.len() as u64;
        n += 1;
    }
    gz.write_all(b"]}").unwrap();
    gz.finish().unwrap().flush().unwrap();
    (n, written + 2)
}

fn key_for(i: usize) -> String {
    format!(
        "AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2025/11/20/{ACCOUNT}_CloudTrail_us-east-1_20251120T10{i:02}Z_BenchCorpus{i:04}.json.gz"
    )
}

/// The `process` path; returns records written.
fn run_process(files: &[PathBuf], gzip_output: bool) -> u64 {
    let mut records = 0;
    for (i, path) in files.iter().enumerate() {
        let key = key_for(i);
        let job = ObjectJob::new(format!("s3://bench/{key}"), key);
        let out: Box<dyn Write> = if gzip_output {
            Box::new(GzEncoder::new(io::sink(), Compression::default()))
        } else {
            Box::new(io::sink())
        };
        let mut sink = NdjsonSink::new(io::BufWriter::with_capacity(256 * 1024, out));
        let outcome = parse_object(File::open(path).unwrap(), &job, &mut sink).unwrap();
        assert!(outcome.stream_error.is_none());
        assert_eq!(outcome.stats.rejects, 0);
        records += outcome.stats.total_records();
        sink.finish().unwrap();
    }
    records
}

/// The baseline: gunzip, parse into `serde_json::Value`, re-serialise every event, gzip.
fn run_floor(files: &[PathBuf], gzip_output: bool) -> u64 {
    let mut records = 0;
    for path in files {
        let mut text = Vec::new();
        MultiGzDecoder::new(BufReader::new(File::open(path).unwrap()))
            .read_to_end(&mut text)
            .unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&text).unwrap();
        let out: Box<dyn Write> = if gzip_output {
            Box::new(GzEncoder::new(io::sink(), Compression::default()))
        } else {
            Box::new(io::sink())
        };
        let mut out = io::BufWriter::with_capacity(256 * 1024, out);
        for event in doc["Records"].as_array().unwrap() {
            serde_json::to_writer(&mut out, event).unwrap();
            out.write_all(b"\n").unwrap();
            records += 1;
        }
        out.flush().unwrap();
        black_box(&out);
    }
    records
}

fn best_of(rounds: usize, mut f: impl FnMut() -> u64) -> (Duration, u64) {
    let mut best = Duration::MAX;
    let mut n = 0;
    for _ in 0..rounds {
        let started = Instant::now();
        n = black_box(f());
        best = best.min(started.elapsed());
    }
    (best, n)
}

/// Runs the binary on `path` and returns (peak RSS in KiB, wall time).
///
/// The peak is the child's own `VmHWM` from /proc, polled until it exits. (`wait4`'s
/// `ru_maxrss` is no good here: Linux carries the pre-exec high-water mark of the spawning
/// process into it, and this process has just parsed whole documents for the floor.)
#[cfg(target_os = "linux")]
fn child_peak_rss(binary: &str, path: &Path) -> (u64, Duration) {
    let started = Instant::now();
    let mut child = std::process::Command::new(binary)
        .args(["process", "--output", "/dev/null"])
        .arg(path)
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .expect("start s3-sentinel");
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0u64;
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(&status_file) {
            if let Some(kib) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                peak_kib = peak_kib.max(kib);
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let elapsed = started.elapsed();
    assert!(status.success(), "s3-sentinel process failed: {status}");
    (peak_kib, elapsed)
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is ignored.
    let per_file = env_usize("BENCH_EVENTS_PER_FILE", 16_000);
    let file_count = env_usize("BENCH_FILES", 8);
    let rounds = env_usize("BENCH_ROUNDS", 3);
    let big_mib = env_usize("BENCH_BIG_MIB", 1100) as u64;
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x5EED_2026_1120);

    let started = Instant::now();
    let mut files = Vec::new();
    let (mut events, mut json_bytes, mut gz_bytes) = (0usize, 0u64, 0u64);
    for i in 0..file_count {
        let path = dir.path().join(key_for(i).replace('/', "_"));
        let (n, bytes) = write_object(&path, &mut rng, per_file, 0, 6);
        events += n;
        json_bytes += bytes;
        gz_bytes += std::fs::metadata(&path).unwrap().len();
        files.push(path);
    }
    println!(
        "corpus: {events} CloudTrail events in {file_count} gzip objects, {:.1} MB JSON, {:.1} MB gzip (generated in {:.1}s)",
        json_bytes as f64 / 1e6,
        gz_bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );

    let (process, n_process) = best_of(rounds, || run_process(&files, false));
    let (floor, n_floor) = best_of(rounds, || run_floor(&files, true));
    let (floor_plain, _) = best_of(rounds, || run_floor(&files, false));
    let (process_gz, _) = best_of(rounds, || run_process(&files, true));
    assert_eq!(n_process, events as u64);
    assert_eq!(n_floor, events as u64);

    let rate = |d: Duration| events as f64 / d.as_secs_f64();
    let mbs = |d: Duration| json_bytes as f64 / 1e6 / d.as_secs_f64();
    println!("single thread, best of {rounds} rounds:");
    for (label, d) in [
        ("process -> discard (s3-sentinel process path)", process),
        ("floor: gunzip + Value parse + re-serialise + gzip", floor),
        ("floor without output gzip", floor_plain),
        ("process -> gzip'd output", process_gz),
    ] {
        println!(
            "  {label:<52} {:>8.3}s {:>10.0} events/s {:>7.1} MB/s",
            d.as_secs_f64(),
            rate(d),
            mbs(d)
        );
    }
    println!(
        "ratio process / floor: {:.2}x (goal >= 1.5x); like for like: process->gzip vs floor {:.2}x, process->discard vs floor without gzip {:.2}x",
        floor.as_secs_f64() / process.as_secs_f64(),
        floor.as_secs_f64() / process_gz.as_secs_f64(),
        floor_plain.as_secs_f64() / process.as_secs_f64()
    );

    if big_mib == 0 {
        return;
    }
    let big = dir.path().join("big.json.gz");
    let started = Instant::now();
    let (n, bytes) = write_object(&big, &mut rng, 0, big_mib << 20, 1);
    println!(
        "big object: {n} events, {:.2} GiB JSON on one line, {:.0} MB gzip (generated in {:.1}s)",
        bytes as f64 / (1u64 << 30) as f64,
        std::fs::metadata(&big).unwrap().len() as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    #[cfg(target_os = "linux")]
    {
        let binary = env!("CARGO_BIN_EXE_s3-sentinel");
        let (rss_kib, elapsed) = child_peak_rss(binary, &big);
        println!(
            "peak RSS of `s3-sentinel process` on it: {:.1} MiB (goal < 128 MiB), {:.1}s, {:.0} MB/s",
            rss_kib as f64 / 1024.0,
            elapsed.as_secs_f64(),
            bytes as f64 / 1e6 / elapsed.as_secs_f64()
        );
    }
}

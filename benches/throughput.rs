//! CloudTrail throughput and memory of the release `s3-sentinel` binary, measured in one run
//! against the shared floor on the same files (`cargo bench --bench throughput`; harness =
//! false, the report is printed).
//!
//! 1. Builds `../shared/tools/floor` as its README says (release, target dir outside
//!    `shared/`).
//! 2. Derives a CloudTrail corpus from the real events in `../shared` (the public sample
//!    trails and the Stratus detonations): `BENCH_FILES` gzip'd `{"Records":[...]}` objects of
//!    `BENCH_EVENTS_PER_FILE` events, each event a real one with a fresh `eventID`,
//!    `requestID` and `eventTime`, compact as AWS writes them. Without `../shared` the corpus
//!    is generated and the floor comparison is skipped with a message.
//! 3. Times, pinned to one core (`taskset -c 0`), best of `BENCH_ROUNDS` interleaved rounds,
//!    wall time of each child process on the same files:
//!    - floor: gunzip + `serde_json::Value` + re-serialise every record + gzip level 1;
//!    - `s3-sentinel process --output /dev/null` (parse, pattern stage, detection rules,
//!      behaviour, both models, NDJSON);
//!    - `s3-sentinel process --sentinel` into `sentinel-emulator` (pinned to the other core),
//!      including packing and gzip of the request bodies;
//!    - the floor's gunzip alone (`FLOOR_MODE=gunzip`), the input side's physical limit.
//! 4. Writes one object of at least 1 GiB uncompressed and runs `s3-sentinel process` on it,
//!    reporting its peak RSS (VmHWM).
//!
//! Environment knobs: `BENCH_EVENTS_PER_FILE` (5,000), `BENCH_FILES` (20), `BENCH_ROUNDS`
//! (3), `BENCH_BIG_MIB` (size of the big object in MiB of JSON; 0 skips the memory run),
//! `BENCH_CORPUS_DIR` (write the corpus there and keep it, e.g. for a profiler).

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use flate2::Compression;
use flate2::write::GzEncoder;

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
/// JSON), each appended by `event(out, index)`, returning (events, uncompressed bytes).
fn write_object(
    path: &Path,
    events: usize,
    min_bytes: u64,
    level: u32,
    event: &mut dyn FnMut(&mut String, u64),
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
        event(&mut buf, n as u64);
        gz.write_all(buf.as_bytes()).unwrap();
        written += buf.len() as u64;
        n += 1;
    }
    gz.write_all(b"]}").unwrap();
    gz.finish().unwrap().flush().unwrap();
    (n, written + 2)
}

/// Every CloudTrail event of `../shared`'s sample trails and Stratus detonations.
fn shared_events(shared: &Path) -> Vec<serde_json::Value> {
    let mut events = Vec::new();
    for dir in ["samples/aws/cloudtrail", "datasets/cloudtrail-stratus"] {
        let Ok(entries) = std::fs::read_dir(shared.join(dir)) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
        paths.sort();
        for path in paths {
            let Ok(doc) =
                serde_json::from_slice::<serde_json::Value>(&std::fs::read(&path).unwrap())
            else {
                continue;
            };
            match doc {
                serde_json::Value::Object(mut map) => {
                    if let Some(serde_json::Value::Array(records)) = map.remove("Records") {
                        events.extend(records);
                    }
                }
                serde_json::Value::Array(records) => events.extend(records),
                _ => {}
            }
        }
    }
    events.retain(|e| e.get("eventName").is_some());
    events
}

/// A real event with a fresh identity and time, so every record of the corpus is distinct.
fn write_real_event(out: &mut String, rng: &mut Rng, events: &[serde_json::Value], seconds: u64) {
    let mut event = events[rng.below(events.len() as u64) as usize].clone();
    let t = chrono_like(1_763_632_800 + seconds);
    event["eventTime"] = serde_json::Value::String(t);
    event["eventID"] = serde_json::Value::String(rng.uuid());
    if event.get("requestID").is_some() {
        event["requestID"] = serde_json::Value::String(rng.uuid());
    }
    out.push_str(&serde_json::to_string(&event).unwrap());
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a time in November 2025 (the corpus spans hours).
fn chrono_like(t: u64) -> String {
    let (h, m, s) = ((t / 3600) % 24, (t / 60) % 60, t % 60);
    let day = 1 + (t - 1_761_955_200) / 86_400;
    format!("2025-11-{day:02}T{h:02}:{m:02}:{s:02}Z")
}

fn key_for(i: usize) -> String {
    format!(
        "AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2025/11/20/{ACCOUNT}_CloudTrail_us-east-1_20251120T10{i:02}Z_BenchCorpus{i:04}.json.gz"
    )
}

/// Runs the binary on `path` and returns (peak RSS in KiB, wall time).
///
/// The peak is the child's own `VmHWM` from /proc, polled until it exits. (`wait4`'s
/// `ru_maxrss` is no good here: Linux carries the pre-exec high-water mark of the spawning
/// process into it, and this process has just parsed whole documents for the floor.)
#[cfg(target_os = "linux")]
fn child_peak_rss(binary: &str, path: &Path) -> (u64, Duration) {
    let started = Instant::now();
    let mut child = Command::new(binary)
        .args(["process", "--output", "/dev/null"])
        .arg(path)
        .stderr(Stdio::inherit())
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

/// Real lines of a line format from `../shared/samples/aws/<dir>` that `keep` accepts.
fn shared_lines(shared: &Path, dir: &str, keep: fn(&str) -> bool) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(shared.join("samples/aws").join(dir)) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
    paths.sort();
    paths
        .iter()
        .flat_map(|p| {
            std::fs::read_to_string(p)
                .unwrap_or_default()
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter(|l| keep(l))
        .collect()
}

/// A default-format (version 2) VPC Flow Logs line: 14 fields.
fn is_vpc_flow_v2(line: &str) -> bool {
    line.starts_with("2 ") && line.split(' ').count() == 14
}

/// An ALB access log line (the request type leads).
fn is_alb(line: &str) -> bool {
    ["http ", "https ", "h2 ", "grpcs ", "ws ", "wss "]
        .iter()
        .any(|t| line.starts_with(t))
}

/// A real VPC Flow line with fresh addresses, ports, counts and times.
fn vpc_flow_line(out: &mut String, rng: &mut Rng, lines: &[String], seconds: u64) {
    let line = &lines[rng.below(lines.len() as u64) as usize];
    let mut fields: Vec<String> = line.split(' ').map(str::to_string).collect();
    if fields[3] != "-" {
        fields[3] = format!("10.0.{}.{}", rng.below(256), rng.below(254) + 1);
        fields[4] = format!("172.31.{}.{}", rng.below(256), rng.below(254) + 1);
        fields[5] = (rng.below(64_511) + 1024).to_string();
        fields[8] = (rng.below(200) + 1).to_string();
        fields[9] = (rng.below(200_000) + 40).to_string();
    }
    let t = 1_763_632_800 + seconds;
    fields[10] = t.to_string();
    fields[11] = (t + 60).to_string();
    out.push_str(&fields.join(" "));
}

/// A real ALB line with a fresh time and client address.
fn alb_line(out: &mut String, rng: &mut Rng, lines: &[String], seconds: u64) {
    let line = &lines[rng.below(lines.len() as u64) as usize];
    let mut parts = line.splitn(5, ' ');
    let (kind, _time, lb, _client, rest) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap_or(""),
    );
    let time = chrono_like(1_763_632_800 + seconds).replace('Z', ".123456Z");
    let _ = write!(
        out,
        "{kind} {time} {lb} 198.51.100.{}:{} {rest}",
        rng.below(250) + 2,
        rng.below(60_000) + 1024
    );
}

/// Writes `files` gzip'd objects of `per_file` lines, each from `line(out, index)`;
/// returns the paths and the uncompressed bytes.
fn write_line_objects(
    dir: &Path,
    name: &str,
    files: usize,
    per_file: usize,
    line: &mut dyn FnMut(&mut String, u64),
) -> (Vec<PathBuf>, u64) {
    let mut paths = Vec::new();
    let mut bytes = 0u64;
    let mut buf = String::with_capacity(1024);
    for i in 0..files {
        let path = dir.join(format!("{name}-{i:04}.log.gz"));
        let file = io::BufWriter::new(File::create(&path).unwrap());
        let mut gz = GzEncoder::new(file, Compression::new(6));
        for n in 0..per_file {
            buf.clear();
            line(&mut buf, ((i * per_file + n) / 20) as u64);
            buf.push('\n');
            gz.write_all(buf.as_bytes()).unwrap();
            bytes += buf.len() as u64;
        }
        gz.finish().unwrap().flush().unwrap();
        paths.push(path);
    }
    (paths, bytes)
}

/// Lambda's arm64 price per GB-second (us-east-1, first 7.5 billion GB-seconds a month).
const PRICE_PER_GB_SECOND: f64 = 0.000_013_333_4;
/// Memory that buys one full vCPU.
const MB_PER_VCPU: f64 = 1_769.0;

/// Records per second and cost per million records at the memory sizes of the sizing
/// table, from a one-core rate: below 1,769 MB a function gets that share of a vCPU; at
/// 3,538 MB it has two, which the objects of one SQS batch use side by side.
fn print_sizing(label: &str, one_core_rate: f64) {
    for mb in [512.0, 1_024.0, MB_PER_VCPU, 2.0 * MB_PER_VCPU] {
        let vcpus = mb / MB_PER_VCPU;
        let rate = one_core_rate * vcpus;
        let cost = 1e6 / rate * (mb / 1024.0) * PRICE_PER_GB_SECOND;
        println!("  | {label:<9} | {mb:>5.0} MB | {vcpus:>4.2} | {rate:>9.0} | ${cost:.4} |");
    }
}

/// The floor built as `../shared/tools/README.md` says, its target dir outside `shared/`.
fn build_floor(shared: &Path) -> Option<PathBuf> {
    let manifest = shared.join("tools/floor/Cargo.toml");
    if !manifest.exists() {
        return None;
    }
    let target = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/floor");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(|d| PathBuf::from(d).join("floor"))
        .unwrap_or(target);
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--release", "--quiet", "--manifest-path"])
        .arg(&manifest)
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .expect("run cargo for the floor");
    assert!(status.success(), "building the floor failed");
    Some(target.join("release/floor"))
}

/// `taskset -c CORE` when taskset exists (one core, as the figures are defined).
fn pinned(core: &str, program: &Path) -> Command {
    if Command::new("taskset").arg("-V").output().is_ok() {
        let mut command = Command::new("taskset");
        command.args(["-c", core]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

/// Wall time of one run of `command` (its output discarded), which must succeed.
fn timed(label: &str, mut command: Command) -> Duration {
    let started = Instant::now();
    let output = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap_or_else(|e| panic!("{label}: {e}"));
    let elapsed = started.elapsed();
    assert!(
        output.status.success(),
        "{label} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    elapsed
}

/// A `sentinel-emulator` on core 1 that keeps no rows; returns it and its URL.
// The child goes back to the caller, which kills it after the timed runs.
#[allow(clippy::zombie_processes)]
fn start_emulator() -> (std::process::Child, String) {
    let mut child = pinned("1", Path::new(env!("CARGO_BIN_EXE_sentinel-emulator")))
        .args(["--listen", "127.0.0.1:0", "--max-recorded-rows", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start sentinel-emulator");
    let mut line = String::new();
    let mut out = io::BufReader::new(child.stdout.take().unwrap());
    loop {
        line.clear();
        assert!(
            io::BufRead::read_line(&mut out, &mut line).unwrap() > 0,
            "emulator exited"
        );
        if let Some(at) = line.find("http://") {
            let url: String = line[at..]
                .chars()
                .take_while(|c| !c.is_whitespace())
                .collect();
            std::thread::spawn(move || io::copy(&mut out, &mut io::sink()));
            return (child, url);
        }
    }
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is ignored.
    let per_file = env_usize("BENCH_EVENTS_PER_FILE", 5_000);
    let file_count = env_usize("BENCH_FILES", 20);
    let rounds = env_usize("BENCH_ROUNDS", 3);
    let big_mib = env_usize("BENCH_BIG_MIB", 1100) as u64;
    let shared = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared");
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x5EED_2026_1120);

    let started = Instant::now();
    let real = shared_events(&shared);
    // BENCH_CORPUS_DIR keeps the objects (for a profiler run on the same files).
    let corpus = std::env::var_os("BENCH_CORPUS_DIR").map(PathBuf::from);
    let corpus_dir = corpus.clone().unwrap_or_else(|| dir.path().to_path_buf());
    std::fs::create_dir_all(&corpus_dir).unwrap();
    let mut files = Vec::new();
    let (mut events, mut json_bytes, mut gz_bytes) = (0usize, 0u64, 0u64);
    for i in 0..file_count {
        let path = corpus_dir.join(key_for(i).replace('/', "_"));
        let base = (i * per_file) as u64;
        let (n, bytes) = if real.is_empty() {
            write_object(&path, per_file, 0, 6, &mut |out, n| {
                write_event(out, &mut rng, (base + n) / 20)
            })
        } else {
            write_object(&path, per_file, 0, 6, &mut |out, n| {
                write_real_event(out, &mut rng, &real, (base + n) / 20)
            })
        };
        events += n;
        json_bytes += bytes;
        gz_bytes += std::fs::metadata(&path).unwrap().len();
        files.push(path);
    }
    let origin = if real.is_empty() {
        "generated (../shared absent)".to_string()
    } else {
        format!("derived from the {} real events in ../shared", real.len())
    };
    println!(
        "corpus: {events} CloudTrail events {origin}, in {file_count} gzip objects, {:.1} MB JSON, {:.1} MB gzip (made in {:.1}s)",
        json_bytes as f64 / 1e6,
        gz_bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );

    let s3_sentinel = Path::new(env!("CARGO_BIN_EXE_s3-sentinel"));
    let floor = if real.is_empty() {
        None
    } else {
        build_floor(&shared)
    };
    if floor.is_none() {
        println!("../shared/tools/floor is absent: the floor comparison is skipped");
    }
    let (mut emulator, url) = start_emulator();
    let dead_letter = dir.path().join("dead-letter");
    std::fs::create_dir_all(&dead_letter).unwrap();

    let process = || {
        let mut command = pinned("0", s3_sentinel);
        command
            .args(["process", "--output", "/dev/null"])
            .args(&files);
        command
    };
    let sentinel = || {
        let mut command = pinned("0", s3_sentinel);
        command
            .args(["process", "--sentinel"])
            .args(&files)
            .env("SENTINEL_INGESTION_ENDPOINT", &url)
            .env("AZURE_AUTHORITY_HOST", &url)
            .env(
                "SENTINEL_DCR_IMMUTABLE_ID",
                "dcr-00000000000000000000000000000000",
            )
            .env("AZURE_TENANT_ID", "00000000-0000-0000-0000-000000000000")
            .env("AZURE_CLIENT_ID", "bench")
            .env("AZURE_CLIENT_SECRET", "bench")
            .env("DEAD_LETTER_DIR", &dead_letter);
        command
    };
    let floor_run = |gunzip_only: bool| {
        let mut command = pinned("0", floor.as_deref().unwrap());
        command.args(&files);
        if gunzip_only {
            command.env("FLOOR_MODE", "gunzip");
        }
        command
    };

    let mut best = [Duration::MAX; 4];
    for _ in 0..rounds {
        if floor.is_some() {
            best[0] = best[0].min(timed("floor", floor_run(false)));
            best[3] = best[3].min(timed("floor gunzip", floor_run(true)));
        }
        best[1] = best[1].min(timed("s3-sentinel process", process()));
        best[2] = best[2].min(timed("s3-sentinel process --sentinel", sentinel()));
    }
    let _ = emulator.kill();

    let rate = |d: Duration| events as f64 / d.as_secs_f64();
    let mbs = |d: Duration| json_bytes as f64 / 1e6 / d.as_secs_f64();
    println!("one core (taskset -c 0), wall time of each process, best of {rounds} rounds:");
    let labels = [
        "floor (gunzip + Value + re-serialise + gzip -1)",
        "s3-sentinel process (models, patterns, NDJSON)",
        "s3-sentinel process --sentinel (emulator)",
        "floor, gunzip only",
    ];
    for (label, d) in labels.iter().zip(best) {
        if d == Duration::MAX {
            continue;
        }
        println!(
            "  {label:<50} {:>8.3}s {:>10.0} events/s {:>7.1} MB/s",
            d.as_secs_f64(),
            rate(d),
            mbs(d)
        );
    }
    if floor.is_some() {
        println!(
            "x floor: process {:.2}x (goal >= 1.5x), process --sentinel {:.2}x (goal >= 1.0x)",
            best[0].as_secs_f64() / best[1].as_secs_f64(),
            best[0].as_secs_f64() / best[2].as_secs_f64()
        );
    }

    println!(
        "sizing (one-core rate x the vCPU share Lambda gives at each memory size; x86_64 here, arm64 prices):"
    );
    println!("  | log type  | memory   | vCPU | records/s | $ per 1M records |");
    print_sizing("CloudTrail", rate(best[1]));
    for (name, dir_name, keep, line) in [
        (
            "VPC Flow",
            "vpcflow",
            is_vpc_flow_v2 as fn(&str) -> bool,
            vpc_flow_line as fn(&mut String, &mut Rng, &[String], u64),
        ),
        ("ALB", "alb", is_alb, alb_line),
    ] {
        let lines = shared_lines(&shared, dir_name, keep);
        if lines.is_empty() {
            println!("  {name}: no sample lines in ../shared; skipped");
            continue;
        }
        let (paths, bytes) = write_line_objects(
            dir.path(),
            dir_name,
            file_count,
            per_file * 4,
            &mut |out, n| line(out, &mut rng, &lines, n),
        );
        let mut best_line = Duration::MAX;
        for _ in 0..rounds {
            let mut command = pinned("0", s3_sentinel);
            command
                .args(["process", "--output", "/dev/null"])
                .args(&paths);
            best_line = best_line.min(timed(name, command));
        }
        let records = (file_count * per_file * 4) as f64;
        println!(
            "  ({name}: {records:.0} records from {} real lines, {:.1} MB, {:.3}s on one core)",
            lines.len(),
            bytes as f64 / 1e6,
            best_line.as_secs_f64()
        );
        print_sizing(name, records / best_line.as_secs_f64());
    }

    if big_mib == 0 {
        return;
    }
    let big = dir.path().join("big.json.gz");
    let started = Instant::now();
    let (n, bytes) = write_object(&big, 0, big_mib << 20, 1, &mut |out, n| {
        write_event(out, &mut rng, n / 20)
    });
    println!(
        "big object: {n} events, {:.2} GiB JSON on one line, {:.0} MB gzip (generated in {:.1}s)",
        bytes as f64 / (1u64 << 30) as f64,
        std::fs::metadata(&big).unwrap().len() as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    #[cfg(target_os = "linux")]
    {
        let (rss_kib, elapsed) = child_peak_rss(s3_sentinel.to_str().unwrap(), &big);
        println!(
            "peak RSS of `s3-sentinel process` on it: {:.1} MiB (goal < 128 MiB), {:.1}s, {:.0} MB/s",
            rss_kib as f64 / 1024.0,
            elapsed.as_secs_f64(),
            bytes as f64 / 1e6 / elapsed.as_secs_f64()
        );
    }
}

//! `s3-sentinel process`: files, directories, `s3://` prefixes or stdin through the
//! function's own pipeline ([`Runner`] with the same batching, enrichment and setup as the
//! Lambda), either to NDJSON files or, with `--sentinel`, to the Logs Ingestion API. The
//! S3 listing (`Lister`) lives here; `backfill` narrows it by date.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};

use crate::config::{Config, PipelineConfig, Platform};
use crate::formats::Format;
use crate::record::LogType;
use crate::runner::{ObjectReport, Runner};
use crate::setup::{self, Aws};
use crate::sink::NdjsonDelivery;
use crate::source::object::s3_time;
use crate::source::{DecodeLimits, LocalSource, ObjectRef, ObjectSource, S3Source};

/// Parse log objects (files, directories, s3:// prefixes, or - for stdin) into
/// Sentinel-shaped NDJSON.
#[derive(Debug, Clone, clap::Args)]
pub struct ProcessArgs {
    /// Files, directories (read recursively), - for standard input, or s3://BUCKET/PREFIX
    /// (every object under the prefix, read with GetObject).
    #[arg(required = true)]
    pub paths: Vec<String>,
    /// Skip detection and parse every input as this format: cloudtrail, vpcflow, elb
    /// (ALB/NLB/classic), cloudfront, s3access, waf, guardduty, securityhub,
    /// route53resolver, networkfirewall, cloudwatch, json, text.
    #[arg(long, value_parser = super::parse_format)]
    pub format: Option<Format>,
    #[command(flatten)]
    pub destination: Destination,
    /// Write rejected lines (raw text and reason, NDJSON) here; otherwise the first few
    /// are shown on standard error.
    #[arg(long)]
    pub rejects: Option<PathBuf>,
    /// Write alert records (NDJSON) here; otherwise they are only counted.
    #[arg(long)]
    pub alerts: Option<PathBuf>,
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// Where the records of objects processed here go (`process`, and `backfill` without
/// `--queue` or `--manifest`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Destination {
    /// Write records to this file instead of standard output.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Deliver to Microsoft Sentinel (with the object ledger of STATE_BUCKET) instead of
    /// writing NDJSON, configured by the same environment variables as the Lambda
    /// (SENTINEL_INGESTION_ENDPOINT, SENTINEL_DCR_IMMUTABLE_ID, AZURE_*, DEAD_LETTER_DIR or
    /// DEAD_LETTER_BUCKET, ...).
    #[arg(long)]
    pub sentinel: bool,
}

/// Decompression limits per object.
#[derive(Debug, Clone, clap::Args)]
pub struct LimitArgs {
    /// Stop decompressing an object after this many bytes.
    #[arg(long, default_value_t = DecodeLimits::default().max_decompressed_bytes)]
    pub max_decompressed_bytes: u64,
    /// Stop decompressing when output/input exceeds this ratio (decompression bombs).
    #[arg(long, default_value_t = DecodeLimits::default().max_ratio)]
    pub max_ratio: u64,
}

impl Default for LimitArgs {
    fn default() -> Self {
        let limits = DecodeLimits::default();
        LimitArgs {
            max_decompressed_bytes: limits.max_decompressed_bytes,
            max_ratio: limits.max_ratio,
        }
    }
}

/// What a run did, per log type and in total.
#[derive(Debug, Default)]
pub struct Summary {
    pub files: u64,
    pub skipped: u64,
    pub failed: u64,
    pub records: BTreeMap<LogType, u64>,
    pub rejects: u64,
    pub alerts: u64,
    pub bytes_in: u64,
    pub bytes_decoded: u64,
    /// Rows Sentinel accepted / the dead letter took (`--sentinel`).
    pub accepted: u64,
    pub dead_lettered: u64,
}

/// The command: exit status 1 when an input failed or rows went to the dead letter.
pub fn command(args: ProcessArgs) -> Result<u8> {
    let summary = run(&args)?;
    Ok(u8::from(summary.failed > 0 || summary.dead_lettered > 0))
}

pub fn run(args: &ProcessArgs) -> Result<Summary> {
    let s3_paths = args.paths.iter().filter(|p| p.starts_with("s3://")).count();
    if s3_paths > 0 && s3_paths < args.paths.len() {
        bail!("give either s3:// paths or local paths, not both");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let aws = Aws::new(&Platform::from_env());
        let inputs = if s3_paths > 0 {
            let s3 = aws.s3().await;
            let mut objects = Vec::new();
            for path in &args.paths {
                let uri = S3Uri::parse(path)?;
                let mut lister = Lister::new(s3.clone(), &uri.bucket);
                objects.extend(
                    lister
                        .list_all(&uri.prefix, None)
                        .await?
                        .into_iter()
                        .map(|listed| listed.object(&uri.bucket)),
                );
            }
            Inputs::S3(objects)
        } else {
            Inputs::Local(expand_paths(&args.paths)?)
        };
        process_inputs(args, &aws, inputs).await
    })
}

/// What `process` reads: local files (or `-`), or S3 objects.
pub enum Inputs {
    /// Paths of files, `-` for standard input.
    Local(Vec<String>),
    /// Objects read with GetObject.
    S3(Vec<ObjectRef>),
}

/// Runs `inputs` through a runner built like the function's: NDJSON out, or Sentinel
/// with the ledger (`--sentinel`).
pub async fn process_inputs(args: &ProcessArgs, aws: &Aws, inputs: Inputs) -> Result<Summary> {
    if args.destination.sentinel
        && matches!(&inputs, Inputs::Local(files) if files.iter().any(|f| f == "-"))
    {
        bail!("--sentinel reads files or directories, not standard input");
    }
    let source: Arc<dyn ObjectSource> = match &inputs {
        // Paths are read as given (relative to the working directory), so `SourceObject`
        // names them as the user did.
        Inputs::Local(_) => Arc::new(LocalSource {
            root: PathBuf::new(),
        }),
        Inputs::S3(_) => Arc::new(S3Source::new(aws.s3().await)),
    };
    let (runner, ndjson) = if args.destination.sentinel {
        let mut config = Config::from_env()?;
        apply_limits(&mut config.pipeline, args);
        let delivery = Arc::new(setup::sentinel_delivery(&config, aws).await?);
        let runner = setup::runner(&config.pipeline, aws, source, delivery, true).await?;
        (runner, None)
    } else {
        let mut pipeline = PipelineConfig::from_env()?;
        apply_limits(&mut pipeline, args);
        let delivery = Arc::new(ndjson_delivery(args)?);
        let runner = setup::runner(&pipeline, aws, source, delivery.clone(), false).await?;
        (runner, Some(delivery))
    };
    let (objects, unreadable) = match inputs {
        Inputs::Local(files) => local_objects(&files, args.destination.sentinel),
        Inputs::S3(objects) => (objects, 0),
    };
    let mut summary = run_objects(&runner, &objects, args.destination.sentinel).await;
    summary.files += unreadable;
    summary.failed += unreadable;
    if let Some(ndjson) = ndjson {
        ndjson.flush().context("flushing output")?;
    }
    Ok(summary)
}

/// Local files as objects of no bucket; with the ledger (`--sentinel`) a file is known
/// by its absolute path. Returns the objects and how many paths could not be resolved.
fn local_objects(files: &[String], sentinel: bool) -> (Vec<ObjectRef>, u64) {
    let mut objects = Vec::new();
    let mut unreadable = 0;
    for file in files {
        let key = if file == "-" || !sentinel {
            file.clone()
        } else {
            match std::fs::canonicalize(file) {
                Ok(path) => path.to_string_lossy().into_owned(),
                Err(e) => {
                    unreadable += 1;
                    eprintln!("error: {file}: {e}");
                    continue;
                }
            }
        };
        objects.push(ObjectRef {
            bucket: String::new(),
            key,
            version_id: None,
            etag: None,
            size: None,
        });
    }
    (objects, unreadable)
}

fn apply_limits(pipeline: &mut PipelineConfig, args: &ProcessArgs) {
    pipeline.runner.format = args.format;
    pipeline.runner.limits = DecodeLimits {
        max_decompressed_bytes: args.limits.max_decompressed_bytes,
        max_ratio: args.limits.max_ratio,
        ..pipeline.runner.limits
    };
}

fn create(path: &Path) -> Result<Box<dyn Write + Send>> {
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    Ok(Box::new(BufWriter::with_capacity(256 * 1024, file)))
}

fn ndjson_delivery(args: &ProcessArgs) -> Result<NdjsonDelivery> {
    let out = match &args.destination.output {
        Some(path) => create(path)?,
        None => Box::new(BufWriter::with_capacity(256 * 1024, io::stdout())),
    };
    let alerts = args.alerts.as_deref().map(create).transpose()?;
    let rejects = args.rejects.as_deref().map(create).transpose()?;
    Ok(NdjsonDelivery::new(out, alerts, rejects))
}

/// Every object through the runner, with a progress bar on a terminal and the summary on
/// standard error.
async fn run_objects(runner: &Runner, objects: &[ObjectRef], sentinel: bool) -> Summary {
    let progress = (io::stderr().is_terminal() && objects.len() > 1).then(|| {
        let bar = indicatif::ProgressBar::new(objects.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} objects {msg}",
            )
            .expect("static template"),
        );
        bar
    });
    runner.load_state().await;
    let started = Instant::now();
    let mut summary = Summary::default();
    for object in objects {
        summary.files += 1;
        let name = object.uri();
        // A command-line run has no Lambda deadline: a day is "no deadline".
        let deadline = Instant::now() + Duration::from_secs(86_400);
        match runner.process(object, deadline, "cli").await {
            Ok(report) => add_report(&mut summary, &name, &report),
            Err(e) => {
                summary.failed += 1;
                eprintln!("error: {name}: {e}");
            }
        }
        if let Some(bar) = &progress {
            bar.set_message(format!("{} records", summary.records.values().sum::<u64>()));
            bar.inc(1);
        }
    }
    runner.save_state().await;
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    print_summary(&summary, started.elapsed());
    if sentinel {
        eprintln!(
            "sentinel: {} rows accepted, {} dead-lettered",
            summary.accepted, summary.dead_lettered
        );
    }
    summary
}

fn add_report(summary: &mut Summary, file: &str, report: &ObjectReport) {
    let name = if file == "-" { "stdin" } else { file };
    if let Some(reason) = &report.parsed.skipped {
        summary.skipped += 1;
        eprintln!("skipped {name}: {reason}");
    }
    if report.duplicate {
        summary.skipped += 1;
        eprintln!("skipped {name}: already delivered (state bucket)");
    }
    if let Some(err) = &report.parsed.stream_error {
        summary.failed += 1;
        eprintln!("error: {name}: {err}");
    }
    for (t, n) in &report.parsed.stats.records {
        *summary.records.entry(*t).or_default() += n;
    }
    summary.rejects += report.parsed.stats.rejects;
    summary.alerts += report.alerts;
    summary.bytes_in += report.parsed.bytes_in;
    summary.bytes_decoded += report.parsed.bytes_decoded;
    summary.accepted += report.delivery.accepted;
    summary.dead_lettered += report.delivery.dead_lettered;
}

/// Expands directories (recursively, sorted) and keeps `-` for stdin.
pub fn expand_paths(paths: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for p in paths {
        if p == "-" {
            out.push(p.clone());
            continue;
        }
        let path = Path::new(p);
        if path.is_dir() {
            let mut files = Vec::new();
            collect_files(path, &mut files)
                .with_context(|| format!("reading directory {}", path.display()))?;
            files.sort();
            out.extend(files.into_iter().map(|f| f.to_string_lossy().into_owned()));
        } else if path.exists() {
            out.push(p.clone());
        } else {
            bail!("no such file or directory: {p}");
        }
    }
    Ok(out)
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_files(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

fn print_summary(s: &Summary, elapsed: Duration) {
    let total: u64 = s.records.values().sum();
    let secs = elapsed.as_secs_f64().max(1e-9);
    eprintln!(
        "processed {} file(s) ({} skipped, {} with errors): {} records, {} rejects, {} alerts",
        s.files, s.skipped, s.failed, total, s.rejects, s.alerts
    );
    for (t, n) in &s.records {
        eprintln!("  {:<22} {:>10}  -> {}", t.name(), n, t.table().name());
    }
    eprintln!(
        "bytes in {} (decoded {}), {:.2}s, {:.1} MB/s decoded, {:.0} records/s",
        s.bytes_in,
        s.bytes_decoded,
        secs,
        s.bytes_decoded as f64 / 1e6 / secs,
        total as f64 / secs
    );
    if let Some(peak) = crate::metrics::resources::max_rss_bytes() {
        eprintln!("peak memory {:.1} MiB", peak as f64 / (1024.0 * 1024.0));
    }
}

/// `s3://bucket/prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Uri {
    pub bucket: String,
    pub prefix: String,
}

impl S3Uri {
    pub fn parse(text: &str) -> Result<S3Uri> {
        let rest = text
            .strip_prefix("s3://")
            .with_context(|| format!("{text} is not an s3://BUCKET/PREFIX address"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            bail!("{text} names no bucket");
        }
        Ok(S3Uri {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        })
    }
}

/// One object of a listing (on a versioned bucket, its current version).
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    pub key: String,
    pub size: u64,
    /// Without quotes; the ledger knows a delivered object of an unversioned bucket by it
    /// without fetching it.
    pub etag: Option<String>,
    /// The current version's id on a versioned bucket: the ledger knows a delivered object
    /// there by it, as the notification that delivered it named it.
    pub version_id: Option<String>,
    pub last_modified: Option<DateTime<Utc>>,
}

impl Listed {
    /// An entry of ListObjectsV2 or ListObjectVersions.
    fn from_listing(
        key: &str,
        size: Option<i64>,
        etag: Option<&str>,
        version_id: Option<&str>,
        last_modified: Option<&aws_sdk_s3::primitives::DateTime>,
    ) -> Listed {
        Listed {
            key: key.to_string(),
            size: size.unwrap_or(0).max(0) as u64,
            etag: etag.map(|t| t.trim_matches('"').to_string()),
            version_id: version_id.map(str::to_string),
            last_modified: last_modified.and_then(s3_time),
        }
    }

    /// The object, named as the ledger knows it.
    pub fn object(&self, bucket: &str) -> ObjectRef {
        ObjectRef {
            bucket: bucket.to_string(),
            key: self.key.clone(),
            version_id: self.version_id.clone(),
            etag: self.etag.clone(),
            size: Some(self.size),
        }
    }
}

/// The listing of one bucket: ListObjectsV2, or on a versioned bucket ListObjectVersions
/// (current versions only), counting the calls (the listing's cost).
pub struct Lister {
    s3: aws_sdk_s3::Client,
    bucket: String,
    /// Whether the bucket's objects have versions, once probed.
    versioned: Option<bool>,
    /// List requests made.
    pub calls: u64,
}

/// One level of a delimited listing: the objects at it and its subfolders.
#[derive(Default)]
pub struct Level {
    pub objects: Vec<Listed>,
    pub folders: Vec<String>,
}

impl Level {
    fn add_folders(&mut self, prefixes: &[aws_sdk_s3::types::CommonPrefix]) {
        self.folders.extend(
            prefixes
                .iter()
                .filter_map(|p| p.prefix().map(str::to_string)),
        );
    }
}

/// What one listing asks for: the objects under `prefix` (one level with a `delimiter`)
/// whose keys sort after `start_after`.
#[derive(Clone, Copy)]
struct Query<'a> {
    prefix: &'a str,
    delimiter: Option<&'a str>,
    start_after: Option<&'a str>,
}

impl Lister {
    pub fn new(s3: aws_sdk_s3::Client, bucket: &str) -> Lister {
        Lister {
            s3,
            bucket: bucket.to_string(),
            versioned: None,
            calls: 0,
        }
    }

    /// Whether the objects under `prefix` have versions, probed once with one
    /// ListObjectVersions of one entry: a version id other than S3's `null` means a bucket
    /// whose versioning is (or was) on. Unreadable (no `s3:ListBucketVersions`), the bucket
    /// is listed as unversioned: still delivered once, but objects a notification named by
    /// version are fetched once more to be recognized.
    pub async fn versioned(&mut self, prefix: &str) -> bool {
        if let Some(versioned) = self.versioned {
            return versioned;
        }
        self.calls += 1;
        let probe = self
            .s3
            .list_object_versions()
            .bucket(&self.bucket)
            .prefix(prefix)
            .max_keys(1)
            .send()
            .await;
        let versioned = match probe {
            Ok(page) => page
                .versions()
                .iter()
                .filter_map(|v| v.version_id())
                .chain(page.delete_markers().iter().filter_map(|m| m.version_id()))
                .any(|id| id != "null"),
            Err(e) => {
                eprintln!(
                    "warning: versions of s3://{}/{prefix} not listed ({}); naming objects by ETag",
                    self.bucket,
                    aws_sdk_s3::error::DisplayErrorContext(&e)
                );
                false
            }
        };
        self.versioned = Some(versioned);
        versioned
    }

    /// Every object under `prefix` (all pages), after `start_after` when given.
    pub async fn list_all(
        &mut self,
        prefix: &str,
        start_after: Option<&str>,
    ) -> Result<Vec<Listed>> {
        let query = Query {
            prefix,
            delimiter: None,
            start_after,
        };
        Ok(self.list(query).await?.objects)
    }

    /// The objects and subfolders directly under `prefix`.
    pub async fn list_level(&mut self, prefix: &str) -> Result<Level> {
        let query = Query {
            prefix,
            delimiter: Some("/"),
            start_after: None,
        };
        self.list(query).await
    }

    async fn list(&mut self, query: Query<'_>) -> Result<Level> {
        if self.versioned(query.prefix).await {
            self.list_versions(query).await
        } else {
            self.list_current(query).await
        }
    }

    /// ListObjectVersions, keeping each key's current version (a key whose current
    /// version is a delete marker is gone). `start_after` is applied here: a key-marker
    /// without a version-id-marker is not read alike by every S3-compatible server.
    async fn list_versions(&mut self, query: Query<'_>) -> Result<Level> {
        let mut level = Level::default();
        let mut markers: (Option<String>, Option<String>) = (None, None);
        loop {
            self.calls += 1;
            let page = self
                .s3
                .list_object_versions()
                .bucket(&self.bucket)
                .prefix(query.prefix)
                .set_delimiter(query.delimiter.map(str::to_string))
                .set_key_marker(markers.0.take())
                .set_version_id_marker(markers.1.take())
                .send()
                .await
                .map_err(|e| self.failed("listing the versions of", query.prefix, e))?;
            level.objects.extend(
                page.versions()
                    .iter()
                    .filter(|v| v.is_latest() == Some(true))
                    .filter_map(|v| {
                        let key = v.key()?;
                        if query.start_after.is_some_and(|after| key <= after) {
                            return None;
                        }
                        let version_id = v.version_id().filter(|id| *id != "null");
                        let (size, etag, modified) = (v.size(), v.e_tag(), v.last_modified());
                        Some(Listed::from_listing(key, size, etag, version_id, modified))
                    }),
            );
            level.add_folders(page.common_prefixes());
            if page.is_truncated() != Some(true) {
                return Ok(level);
            }
            markers = (
                page.next_key_marker().map(str::to_string),
                page.next_version_id_marker().map(str::to_string),
            );
        }
    }

    async fn list_current(&mut self, query: Query<'_>) -> Result<Level> {
        let mut level = Level::default();
        let mut token: Option<String> = None;
        loop {
            self.calls += 1;
            let page = self
                .s3
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(query.prefix)
                .set_delimiter(query.delimiter.map(str::to_string))
                .set_start_after(query.start_after.map(str::to_string))
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| self.failed("listing", query.prefix, e))?;
            level.objects.extend(page.contents().iter().filter_map(|o| {
                let (size, etag, modified) = (o.size(), o.e_tag(), o.last_modified());
                Some(Listed::from_listing(o.key()?, size, etag, None, modified))
            }));
            level.add_folders(page.common_prefixes());
            match page.next_continuation_token() {
                Some(next) if page.is_truncated() == Some(true) => token = Some(next.to_string()),
                _ => return Ok(level),
            }
        }
    }

    fn failed(&self, doing: &str, prefix: &str, e: impl std::error::Error) -> anyhow::Error {
        anyhow::anyhow!(
            "{doing} s3://{}/{prefix}: {}",
            self.bucket,
            aws_sdk_s3::error::DisplayErrorContext(&e)
        )
    }
}

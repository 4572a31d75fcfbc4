//! `s3-sentinel backfill`: log objects already in S3 through the same function, exactly
//! once. The listing is narrowed to the date partitions in range (`YYYY/MM/DD/` of AWS's
//! key layouts, or Hive-style `year=/month=/day=`); the objects then go as S3-event-shaped
//! messages to the function's queue (paced, resumable from a cursor file), into an S3
//! Batch Operations manifest, or through a local runner (`process` on `s3://` objects). The
//! object ledger makes an object that was delivered before a no-op wherever it is sent.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::{Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::process::{Destination, Inputs, LimitArgs, Listed, Lister, ProcessArgs, S3Uri};
use crate::config::{PipelineConfig, Platform};
use crate::formats::object_time::key_time;
use crate::formats::{Detection, Format, detect::detect_key};
use crate::setup::{self, Aws};
use crate::sink::NdjsonDelivery;
use crate::source::S3Source;

/// Objects already in S3 through the function: to its queue, into a Batch Operations
/// manifest, or processed here.
#[derive(Debug, Clone, clap::Args)]
pub struct BackfillArgs {
    /// s3://BUCKET/PREFIX to backfill (e.g. s3://logs/AWSLogs/ or s3://logs/).
    pub uri: String,
    /// First day (UTC, YYYY-MM-DD) to include: the listing reads only the date partitions
    /// from here on.
    #[arg(long)]
    pub since: Option<NaiveDate>,
    /// Last day (UTC, YYYY-MM-DD) to include; default today.
    #[arg(long)]
    pub until: Option<NaiveDate>,
    /// Only objects whose key names this format (AWS delivery paths); processed here, they
    /// are parsed as this format too.
    #[arg(long, value_parser = super::parse_format)]
    pub format: Option<Format>,
    /// List what would be sent (objects, bytes, per log type) with an estimate of the
    /// Lambda cost and of the Sentinel ingestion volume, measured on a sample; send
    /// nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Objects parsed here per log type for the dry run's estimates.
    #[arg(long, default_value_t = 2)]
    pub sample: usize,
    /// The function's memory for the dry run's cost estimate, in MB.
    #[arg(long, default_value_t = 512)]
    pub memory_mb: u64,
    /// Lambda price per GB-second (arm64, us-east-1, first tier) for the estimate.
    #[arg(long, default_value_t = 0.000_013_333_4)]
    pub price_per_gb_second: f64,
    /// Send S3-event-shaped messages (batches of 10) to this SQS queue, the function's.
    #[arg(long, conflicts_with = "manifest")]
    pub queue: Option<String>,
    /// Messages per second sent to --queue.
    #[arg(long, default_value_t = 50.0)]
    pub rate: f64,
    /// Where --queue keeps its progress; an interrupted run started again resumes after the
    /// last batch sent (default: a file named after the job in the working directory).
    #[arg(long)]
    pub cursor: Option<PathBuf>,
    /// Write an S3 Batch Operations manifest (CSV: bucket, URL-encoded key) here instead;
    /// see README for `aws s3control create-job`.
    #[arg(long)]
    pub manifest: Option<PathBuf>,
    #[command(flatten)]
    pub destination: Destination,
}

/// The days to backfill, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRange {
    pub since: Option<NaiveDate>,
    pub until: NaiveDate,
}

impl DateRange {
    fn contains(&self, day: NaiveDate) -> bool {
        self.since.is_none_or(|s| day >= s) && day <= self.until
    }
}

/// Folders below the given prefix walked level by level before the rest is listed whole
/// (`AWSLogs/<account>/<service>/<region>/` is four; an organization trail adds one).
const MAX_WALK_DEPTH: usize = 6;

/// What a listing found.
#[derive(Debug, Default)]
pub struct Plan {
    /// The objects to send, in key order.
    pub objects: Vec<Listed>,
    /// Keys outside the date range or the format, and objects that are not logs.
    pub left_out: u64,
}

/// How to list: the range, the format filter, and the cursor to resume after.
struct Walk<'a> {
    range: Option<DateRange>,
    format: Option<Format>,
    after: Option<&'a str>,
    plan: Plan,
}

impl Walk<'_> {
    /// Whether everything under `prefix` sorts before the cursor (sent already).
    fn passed(&self, prefix: &str) -> bool {
        self.after
            .is_some_and(|after| after > prefix && !after.starts_with(prefix))
    }

    /// The cursor, when it lies under `prefix`: the listing starts after it.
    fn start_after(&self, prefix: &str) -> Option<&str> {
        self.after.filter(|after| after.starts_with(prefix))
    }

    fn take(&mut self, listed: Listed, day: Option<NaiveDate>) {
        let after_cursor = self.after.is_none_or(|after| listed.key.as_str() > after);
        let in_range = match (self.range, day) {
            (None, _) => true,
            (Some(range), Some(day)) => range.contains(day),
            (Some(range), None) => key_time(&listed.key)
                .or(listed.last_modified)
                .is_some_and(|t| range.contains(t.date_naive())),
        };
        let wanted = match detect_key(&listed.key) {
            Some(Detection::Skip(_)) => false,
            Some(Detection::Parse(format)) => self.format.is_none_or(|f| f == format),
            None => self.format.is_none(),
        };
        if !after_cursor {
            return;
        }
        if in_range && wanted {
            self.plan.objects.push(listed);
        } else {
            self.plan.left_out += 1;
        }
    }
}

/// A year folder (`2026/` or `year=2026/`) and its year.
fn year_folder(folder: &str, parent: &str) -> Option<(i32, bool)> {
    let name = folder.strip_prefix(parent)?.strip_suffix('/')?;
    let (digits, hive) = match name.strip_prefix("year=") {
        Some(rest) => (rest, true),
        None => (name, false),
    };
    (digits.len() == 4 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok().map(|y| (y, hive)))
        .flatten()
}

fn day_folder(year_folder: &str, day: NaiveDate, hive: bool) -> String {
    if hive {
        format!(
            "{year_folder}month={}/day={}/",
            day.format("%m"),
            day.format("%d")
        )
    } else {
        format!("{year_folder}{}/", day.format("%m/%d"))
    }
}

/// Lists what to backfill under `prefix`, in key order, after `after` (a cursor). With a
/// date range, folders are walked down to the year folders of AWS's layouts and only the
/// day partitions in range are listed; keys elsewhere are judged by the time in their key
/// or else their LastModified.
pub async fn plan(
    lister: &mut Lister,
    prefix: &str,
    range: Option<DateRange>,
    format: Option<Format>,
    after: Option<&str>,
) -> Result<Plan> {
    let mut walk = Walk {
        range,
        format,
        after,
        plan: Plan::default(),
    };
    match range {
        None => {
            for listed in lister.list_all(prefix, walk.start_after(prefix)).await? {
                walk.take(listed, None);
            }
        }
        Some(range) => walk_level(lister, &mut walk, range, prefix, 0).await?,
    }
    Ok(walk.plan)
}

async fn walk_level(
    lister: &mut Lister,
    walk: &mut Walk<'_>,
    range: DateRange,
    prefix: &str,
    depth: usize,
) -> Result<()> {
    if walk.passed(prefix) {
        return Ok(());
    }
    if depth >= MAX_WALK_DEPTH {
        for listed in lister.list_all(prefix, walk.start_after(prefix)).await? {
            walk.take(listed, None);
        }
        return Ok(());
    }
    let level = lister.list_level(prefix).await?;
    // Objects and folders merged in key order, so the cursor (the last key sent) splits
    // the listing in two.
    enum Entry {
        Object(Listed),
        Folder(String),
    }
    let mut entries: Vec<(String, Entry)> = level
        .objects
        .into_iter()
        .map(|o| (o.key.clone(), Entry::Object(o)))
        .chain(
            level
                .folders
                .into_iter()
                .map(|f| (f.clone(), Entry::Folder(f))),
        )
        .collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (_, entry) in entries {
        match entry {
            Entry::Object(listed) => walk.take(listed, None),
            Entry::Folder(folder) => match year_folder(&folder, prefix) {
                Some((year, hive)) => {
                    walk_year(lister, walk, range, &folder, year, hive).await?;
                }
                None => Box::pin(walk_level(lister, walk, range, &folder, depth + 1)).await?,
            },
        }
    }
    Ok(())
}

/// The day partitions of one year folder that are in range, each listed whole; without
/// a first day, the year folder is listed whole.
async fn walk_year(
    lister: &mut Lister,
    walk: &mut Walk<'_>,
    range: DateRange,
    folder: &str,
    year: i32,
    hive: bool,
) -> Result<()> {
    let Some(since) = range.since else {
        if year <= range.until.year() {
            for listed in lister.list_all(folder, walk.start_after(folder)).await? {
                let day = key_time(&listed.key).map(|t| t.date_naive());
                walk.take(listed, day);
            }
        }
        return Ok(());
    };
    let first = since.max(NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or(since));
    let last = range
        .until
        .min(NaiveDate::from_ymd_opt(year, 12, 31).unwrap_or(range.until));
    for day in first.iter_days().take_while(|d| *d <= last) {
        let partition = day_folder(folder, day, hive);
        if walk.passed(&partition) {
            continue;
        }
        for listed in lister
            .list_all(&partition, walk.start_after(&partition))
            .await?
        {
            walk.take(listed, Some(day));
        }
    }
    Ok(())
}

/// Where an interrupted `--queue` run resumes: the last key of the last batch sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cursor {
    /// What the run sends (bucket, prefix, dates, format, queue): another job's cursor is
    /// not applied.
    pub job: String,
    /// Every object up to this key (in key order) was sent.
    pub last_key: String,
    /// Objects and bytes sent so far.
    pub objects: u64,
    pub bytes: u64,
}

impl Cursor {
    fn load(path: &Path, job: &str) -> Result<Option<Cursor>> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let cursor: Cursor = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a backfill cursor", path.display()))?;
        if cursor.job != job {
            bail!(
                "{} belongs to another backfill ({}); remove it or give another --cursor",
                path.display(),
                cursor.job
            );
        }
        Ok(Some(cursor))
    }

    /// Written to a temporary file and renamed, so an interruption leaves the old or
    /// the new cursor, never half of one.
    fn save(&self, path: &Path) -> Result<()> {
        let temporary = path.with_extension("tmp");
        std::fs::write(&temporary, serde_json::to_vec_pretty(self)?)
            .with_context(|| format!("writing {}", temporary.display()))?;
        std::fs::rename(&temporary, path).with_context(|| format!("writing {}", path.display()))
    }
}

/// The command: exit status 1 when an object failed (processed here).
pub fn command(args: BackfillArgs) -> Result<u8> {
    let uri = S3Uri::parse(&args.uri)?;
    if args
        .since
        .is_some_and(|s| args.until.is_some_and(|u| s > u))
    {
        bail!("--since is after --until");
    }
    if !(args.rate.is_finite() && args.rate > 0.0) {
        bail!("--rate must be a positive number of messages per second");
    }
    let range = (args.since.is_some() || args.until.is_some()).then(|| DateRange {
        since: args.since,
        until: args.until.unwrap_or_else(|| Utc::now().date_naive()),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let aws = Aws::new(&Platform::from_env());
        let mut lister = Lister::new(aws.s3().await, &uri.bucket);
        if let Some(queue) = &args.queue
            && !args.dry_run
        {
            return send_to_queue(&args, &aws, &mut lister, &uri, range, queue).await;
        }
        let planned = plan(&mut lister, &uri.prefix, range, args.format, None).await?;
        report_listing(&uri, &planned, lister.calls);
        if args.dry_run {
            dry_run(&args, &aws, &uri, &planned).await?;
            return Ok(0);
        }
        if let Some(path) = &args.manifest {
            let fields = write_manifest(path, &uri.bucket, &planned.objects)?;
            eprintln!(
                "wrote {} tasks to {} (see README: aws s3control create-job with \"Fields\": {fields})",
                planned.objects.len(),
                path.display()
            );
            return Ok(0);
        }
        let process_args = ProcessArgs {
            paths: Vec::new(),
            format: args.format,
            destination: args.destination.clone(),
            rejects: None,
            alerts: None,
            limits: LimitArgs::default(),
        };
        let objects = planned
            .objects
            .iter()
            .map(|listed| listed.object(&uri.bucket))
            .collect();
        let summary =
            super::process::process_inputs(&process_args, &aws, Inputs::S3(objects)).await?;
        Ok(u8::from(summary.failed > 0 || summary.dead_lettered > 0))
    })
}

/// A key as S3 notifications and Batch Operations manifests carry it: URL-encoded, `/`
/// kept, a space as `+`.
pub fn encode_key(key: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'/')
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~')
        .remove(b' ');
    percent_encoding::utf8_percent_encode(key, KEEP)
        .to_string()
        .replace(' ', "+")
}

/// The S3 notification S3 itself would have sent for the object (on a versioned bucket,
/// naming the version as S3 does).
fn s3_event(bucket: &str, listed: &Listed) -> serde_json::Value {
    let mut object = json!({"key": encode_key(&listed.key), "size": listed.size,
                            "eTag": listed.etag.as_deref().unwrap_or_default()});
    if let Some(version) = &listed.version_id {
        object["versionId"] = json!(version);
    }
    json!({"Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "eventTime": listed.last_modified.unwrap_or_else(Utc::now).to_rfc3339(),
        "eventName": "ObjectCreated:Put",
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "s3-sentinel-backfill",
            "bucket": {"name": bucket, "arn": format!("arn:aws:s3:::{bucket}")},
            "object": object
        }
    }]})
}

/// Messages per `SendMessageBatch` (the API's limit).
const SQS_BATCH: usize = 10;

/// What the listing found and what it cost, before anything is sent.
fn report_listing(uri: &S3Uri, planned: &Plan, calls: u64) {
    eprintln!(
        "listed s3://{}/{}: {} objects to send, {} left out, {calls} list requests",
        uri.bucket,
        uri.prefix,
        planned.objects.len(),
        planned.left_out,
    );
}

async fn send_to_queue(
    args: &BackfillArgs,
    aws: &Aws,
    lister: &mut Lister,
    uri: &S3Uri,
    range: Option<DateRange>,
    queue: &str,
) -> Result<u8> {
    let job = format!(
        "s3://{}/{} since={} until={} format={} queue={queue}",
        uri.bucket,
        uri.prefix,
        range
            .and_then(|r| r.since)
            .map_or("-".to_string(), |d| d.to_string()),
        range.map_or("-".to_string(), |r| r.until.to_string()),
        args.format.map_or("-", Format::name),
    );
    let cursor_path = args.cursor.clone().unwrap_or_else(|| {
        let digest = xxhash_rust::xxh3::xxh3_64(job.as_bytes());
        PathBuf::from(format!("backfill-{}-{digest:016x}.cursor.json", uri.bucket))
    });
    let mut cursor = Cursor::load(&cursor_path, &job)?.unwrap_or(Cursor {
        job: job.clone(),
        last_key: String::new(),
        objects: 0,
        bytes: 0,
    });
    let after = (!cursor.last_key.is_empty()).then(|| cursor.last_key.clone());
    if let Some(after) = &after {
        eprintln!(
            "resuming after {after} ({} objects sent before), cursor {}",
            cursor.objects,
            cursor_path.display()
        );
    }
    let planned = plan(lister, &uri.prefix, range, args.format, after.as_deref()).await?;
    report_listing(uri, &planned, lister.calls);
    let sqs = aws_sdk_sqs::Client::new(aws.config().await);
    let bar = indicatif::ProgressBar::new(planned.objects.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} objects {per_sec} eta {eta} {msg}",
        )
        .expect("static template"),
    );
    let started = Instant::now();
    let mut sent_now = 0u64;
    for chunk in planned.objects.chunks(SQS_BATCH) {
        // Paced: the batch leaves no earlier than its place at --rate allows.
        let due = started + Duration::from_secs_f64(sent_now as f64 / args.rate);
        tokio::time::sleep_until(due.into()).await;
        send_batch(&sqs, queue, &uri.bucket, chunk).await?;
        sent_now += chunk.len() as u64;
        cursor.objects += chunk.len() as u64;
        cursor.bytes += chunk.iter().map(|l| l.size).sum::<u64>();
        cursor.last_key = chunk.last().map(|l| l.key.clone()).unwrap_or_default();
        cursor.save(&cursor_path)?;
        bar.inc(chunk.len() as u64);
        bar.set_message(format!("{:.1} MB", cursor.bytes as f64 / 1e6));
    }
    bar.finish_and_clear();
    // Done: the next run of the same job starts over (the ledger skips what was sent).
    match std::fs::remove_file(&cursor_path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("removing {}", cursor_path.display())),
    }
    eprintln!(
        "sent {} objects ({} bytes) to {queue} in {:.1}s; {} in all with earlier runs",
        sent_now,
        planned.objects.iter().map(|l| l.size).sum::<u64>(),
        started.elapsed().as_secs_f64(),
        cursor.objects
    );
    Ok(0)
}

/// One `SendMessageBatch`, retrying the entries SQS did not take.
async fn send_batch(
    sqs: &aws_sdk_sqs::Client,
    queue: &str,
    bucket: &str,
    chunk: &[Listed],
) -> Result<()> {
    use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
    let mut pending: Vec<(String, &Listed)> = chunk
        .iter()
        .enumerate()
        .map(|(i, listed)| (i.to_string(), listed))
        .collect();
    for attempt in 0..5u32 {
        let entries = pending
            .iter()
            .map(|(id, listed)| {
                SendMessageBatchRequestEntry::builder()
                    .id(id)
                    .message_body(s3_event(bucket, listed).to_string())
                    .build()
                    .context("building an SQS message")
            })
            .collect::<Result<Vec<_>>>()?;
        let out = sqs
            .send_message_batch()
            .queue_url(queue)
            .set_entries(Some(entries))
            .send()
            .await;
        match out {
            Ok(out) => {
                let failed: Vec<&str> = out.failed().iter().map(|f| f.id()).collect();
                if failed.is_empty() {
                    return Ok(());
                }
                pending.retain(|(id, _)| failed.contains(&id.as_str()));
                if let Some(f) = out.failed().iter().find(|f| f.sender_fault()) {
                    bail!(
                        "SQS refused a message: {} {}",
                        f.code(),
                        f.message().unwrap_or_default()
                    );
                }
            }
            Err(e) if attempt == 4 => {
                bail!(
                    "sending to {queue}: {}",
                    aws_sdk_sqs::error::DisplayErrorContext(&e)
                )
            }
            Err(e) => tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(&e),
                "SendMessageBatch failed; retrying"),
        }
        tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
    }
    bail!(
        "SQS did not take {} messages after 5 attempts",
        pending.len()
    )
}

/// The manifest S3 Batch Operations reads: `bucket,key` per line, keys URL-encoded, and
/// on a versioned bucket `bucket,key,versionId` (S3's `null` for an object written before
/// versioning): the version reaches the function as the task's `s3VersionId`, which the
/// ledger knows a delivered object by. Returns the manifest's `Fields`.
fn write_manifest(path: &Path, bucket: &str, objects: &[Listed]) -> Result<&'static str> {
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut out = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(io::BufWriter::new(file));
    let versioned = objects.iter().any(|listed| listed.version_id.is_some());
    for listed in objects {
        let key = encode_key(&listed.key);
        if versioned {
            let version = listed.version_id.as_deref().unwrap_or("null");
            out.write_record([bucket, &key, version])?;
        } else {
            out.write_record([bucket, &key])?;
        }
    }
    out.flush()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(if versioned {
        r#"["Bucket", "Key", "VersionId"]"#
    } else {
        r#"["Bucket", "Key"]"#
    })
}

/// Counts the bytes written through it.
#[derive(Clone, Default)]
struct Counter(Arc<AtomicU64>);

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.fetch_add(buf.len() as u64, Ordering::Relaxed);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Totals per log type (as the key names it) of the objects to send.
#[derive(Debug, Default)]
struct Group {
    objects: u64,
    bytes: u64,
    sample: Vec<Listed>,
}

/// What the dry run measured on its sample of one group.
#[derive(Debug, Default)]
struct Measured {
    bytes_in: u64,
    records: u64,
    row_bytes: u64,
    seconds: f64,
}

async fn dry_run(args: &BackfillArgs, aws: &Aws, uri: &S3Uri, planned: &Plan) -> Result<()> {
    let mut groups: BTreeMap<&'static str, Group> = BTreeMap::new();
    for listed in &planned.objects {
        let name = match detect_key(&listed.key) {
            Some(Detection::Parse(format)) => format.name(),
            _ => "detected by content",
        };
        let group = groups.entry(name).or_default();
        group.objects += 1;
        group.bytes += listed.size;
        if group.sample.len() < args.sample {
            group.sample.push(listed.clone());
        }
    }
    // The sample goes through the function's own pipeline (models and all) into a byte
    // counter: rows per stored byte, row bytes per stored byte and time per stored byte.
    let mut pipeline = PipelineConfig::from_env()?;
    pipeline.state = None;
    pipeline.runner.format = args.format;
    let rows = Counter::default();
    let delivery = Arc::new(NdjsonDelivery::new(Box::new(rows.clone()), None, None));
    let source = Arc::new(S3Source::new(aws.s3().await));
    let runner = setup::runner(&pipeline, aws, source, delivery, false).await?;
    let mut totals = Measured::default();
    let mut estimate = Measured::default();
    println!(
        "{:<22} {:>9} {:>14} {:>12} {:>14}",
        "log type", "objects", "bytes", "est. rows", "est. ingested"
    );
    for (name, group) in &groups {
        let mut measured = Measured::default();
        for listed in &group.sample {
            let before = rows.0.load(Ordering::Relaxed);
            let started = Instant::now();
            let deadline = started + Duration::from_secs(900);
            match runner
                .process(&listed.object(&uri.bucket), deadline, "dry-run")
                .await
            {
                Ok(report) => {
                    measured.bytes_in += listed.size;
                    measured.records += report.parsed.stats.total_records();
                    measured.row_bytes += rows.0.load(Ordering::Relaxed) - before;
                    measured.seconds += started.elapsed().as_secs_f64();
                }
                Err(e) => eprintln!("sample {}: {e}", listed.key),
            }
        }
        let scale = if measured.bytes_in > 0 {
            group.bytes as f64 / measured.bytes_in as f64
        } else {
            0.0
        };
        let est_rows = (measured.records as f64 * scale) as u64;
        let est_ingested = (measured.row_bytes as f64 * scale) as u64;
        estimate.records += est_rows;
        estimate.row_bytes += est_ingested;
        estimate.seconds += measured.seconds * scale;
        totals.bytes_in += group.bytes;
        totals.records += group.objects;
        println!(
            "{:<22} {:>9} {:>14} {:>12} {:>14}",
            name, group.objects, group.bytes, est_rows, est_ingested
        );
    }
    let gb_seconds = estimate.seconds * args.memory_mb as f64 / 1024.0;
    println!(
        "{:<22} {:>9} {:>14} {:>12} {:>14}",
        "total", totals.records, totals.bytes_in, estimate.records, estimate.row_bytes
    );
    println!(
        "estimates from {} sampled objects run through the pipeline here:",
        groups.values().map(|g| g.sample.len()).sum::<usize>()
    );
    println!(
        "  Sentinel ingestion about {:.3} GB ({} rows)",
        estimate.row_bytes as f64 / 1e9,
        estimate.records
    );
    println!(
        "  Lambda about {:.0} s of processing = {:.1} GB-s at {} MB = ${:.4} (+ ${:.4} for {} requests at $0.20 per million with Batch Operations, a tenth with --queue); this machine's speed stands in for the function's",
        estimate.seconds,
        gb_seconds,
        args.memory_mb,
        gb_seconds * args.price_per_gb_second,
        totals.records as f64 * 0.2e-6,
        totals.records
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_and_keys() {
        assert_eq!(
            S3Uri::parse("s3://logs/AWSLogs/1/").unwrap(),
            S3Uri {
                bucket: "logs".into(),
                prefix: "AWSLogs/1/".into()
            }
        );
        assert_eq!(S3Uri::parse("s3://logs").unwrap().prefix, "");
        assert!(S3Uri::parse("logs/x").is_err());
        assert_eq!(encode_key("a b/c:d+e.gz"), "a+b/c%3Ad%2Be.gz");
        let decoded = crate::source::event::decode_key(&encode_key("x y/ü:1+2"));
        assert_eq!(decoded, "x y/ü:1+2");
    }

    #[test]
    fn year_and_day_folders() {
        assert_eq!(year_folder("p/2026/", "p/"), Some((2026, false)));
        assert_eq!(year_folder("p/year=2026/", "p/"), Some((2026, true)));
        assert_eq!(year_folder("p/us-east-1/", "p/"), None);
        let day = NaiveDate::from_ymd_opt(2026, 3, 7).unwrap();
        assert_eq!(day_folder("p/2026/", day, false), "p/2026/03/07/");
        assert_eq!(
            day_folder("p/year=2026/", day, true),
            "p/year=2026/month=03/day=07/"
        );
    }
}

//! `s3-sentinel process`: files, directories or stdin through the pipeline to NDJSON.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};

use std::sync::Arc;

use crate::enrich::Enricher;
use crate::formats::{Format, RecordSink, Stop};
use crate::formats::{ObjectJob, parse_object};
use crate::record::{LogType, Record, Reject};
use crate::source::DecodeLimits;

#[derive(Clone)]
pub struct ProcessArgs {
    pub paths: Vec<String>,
    pub format: Option<Format>,
    pub output: Option<PathBuf>,
    pub rejects: Option<PathBuf>,
    /// Alert records (NDJSON) go here; otherwise they are only counted.
    pub alerts: Option<PathBuf>,
    pub limits: DecodeLimits,
    pub enricher: Arc<dyn Enricher>,
}

/// Batches records for the enrichment stage (models and patterns score whole batches),
/// then passes them on; alert rows go to their own writer.
pub struct EnrichingSink<'a> {
    inner: &'a mut dyn RecordSink,
    enricher: Arc<dyn Enricher>,
    batch: Vec<Record>,
    alerts: Option<BufWriter<File>>,
    pub alert_count: u64,
}

const ENRICH_BATCH: usize = 1024;

impl<'a> EnrichingSink<'a> {
    pub fn new(
        inner: &'a mut dyn RecordSink,
        enricher: Arc<dyn Enricher>,
        alerts: Option<BufWriter<File>>,
    ) -> Self {
        EnrichingSink {
            inner,
            enricher,
            batch: Vec::with_capacity(ENRICH_BATCH),
            alerts,
            alert_count: 0,
        }
    }

    pub fn flush(&mut self) -> Result<(), Stop> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let alerts = self.enricher.enrich(&mut self.batch);
        self.alert_count += alerts.len() as u64;
        if let Some(w) = self.alerts.as_mut() {
            for alert in &alerts {
                w.write_all(alert.json.as_bytes())
                    .and_then(|_| w.write_all(b"\n"))
                    .map_err(|e| Stop(format!("writing alerts failed: {e}")))?;
            }
        }
        for record in self.batch.drain(..) {
            self.inner.record(record)?;
        }
        Ok(())
    }

    pub fn finish(mut self) -> Result<u64, Stop> {
        self.flush()?;
        if let Some(w) = self.alerts.as_mut() {
            w.flush()
                .map_err(|e| Stop(format!("writing alerts failed: {e}")))?;
        }
        Ok(self.alert_count)
    }
}

impl RecordSink for EnrichingSink<'_> {
    fn record(&mut self, record: Record) -> Result<(), Stop> {
        self.batch.push(record);
        if self.batch.len() >= ENRICH_BATCH {
            self.flush()?;
        }
        Ok(())
    }

    fn reject(&mut self, reject: Reject) -> Result<(), Stop> {
        self.inner.reject(reject)
    }
}

/// Writes records as NDJSON and rejects to their own NDJSON (or a short note on stderr).
pub struct NdjsonSink<W: Write> {
    out: W,
    rejects: Option<BufWriter<File>>,
    buf: Vec<u8>,
    rejects_reported: u64,
}

const REJECTS_SHOWN_ON_STDERR: u64 = 20;

impl<W: Write> NdjsonSink<W> {
    pub fn new(out: W, rejects: Option<BufWriter<File>>) -> Self {
        NdjsonSink {
            out,
            rejects,
            buf: Vec::with_capacity(64 * 1024),
            rejects_reported: 0,
        }
    }

    pub fn finish(mut self) -> io::Result<()> {
        self.out.flush()?;
        if let Some(r) = self.rejects.as_mut() {
            r.flush()?;
        }
        Ok(())
    }
}

impl<W: Write> RecordSink for NdjsonSink<W> {
    fn record(&mut self, record: Record) -> Result<(), Stop> {
        self.buf.clear();
        crate::record::json::write_record(&record, &mut self.buf);
        self.buf.push(b'\n');
        self.out
            .write_all(&self.buf)
            .map_err(|e| Stop(format!("writing output failed: {e}")))
    }

    fn reject(&mut self, reject: Reject) -> Result<(), Stop> {
        match self.rejects.as_mut() {
            Some(w) => {
                serde_json::to_writer(&mut *w, &reject)
                    .map_err(|e| Stop(format!("writing rejects failed: {e}")))?;
                w.write_all(b"\n")
                    .map_err(|e| Stop(format!("writing rejects failed: {e}")))?;
            }
            None => {
                self.rejects_reported += 1;
                if self.rejects_reported <= REJECTS_SHOWN_ON_STDERR {
                    let mut raw: String = reject.raw.chars().take(120).collect();
                    if raw.len() < reject.raw.len() {
                        raw.push('…');
                    }
                    eprintln!(
                        "reject: {} line {}: {}: {raw}",
                        reject.source_object,
                        reject.line.map(|l| l.to_string()).unwrap_or("-".into()),
                        reject.reason
                    );
                } else if self.rejects_reported == REJECTS_SHOWN_ON_STDERR + 1 {
                    eprintln!(
                        "reject: more rejects not shown; use --rejects FILE to keep them all"
                    );
                }
            }
        }
        Ok(())
    }
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
            anyhow::bail!("no such file or directory: {p}");
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
}

pub fn run(args: &ProcessArgs) -> Result<Summary> {
    let files = expand_paths(&args.paths)?;
    let out: Box<dyn Write> = match &args.output {
        Some(path) => {
            Box::new(File::create(path).with_context(|| format!("creating {}", path.display()))?)
        }
        None => Box::new(io::stdout().lock()),
    };
    let rejects = match &args.rejects {
        Some(path) => Some(BufWriter::new(
            File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => None,
    };
    let mut ndjson = NdjsonSink::new(BufWriter::with_capacity(256 * 1024, out), rejects);
    let alerts = match &args.alerts {
        Some(path) => Some(BufWriter::new(
            File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => None,
    };
    let mut sink = EnrichingSink::new(&mut ndjson, args.enricher.clone(), alerts);

    let progress = if io::stderr().is_terminal() && files.len() > 1 {
        let bar = indicatif::ProgressBar::new(files.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} files {msg}",
            )
            .expect("static template"),
        );
        Some(bar)
    } else {
        None
    };

    let started = Instant::now();
    let mut summary = Summary::default();
    for file in &files {
        summary.files += 1;
        let (reader, source): (Box<dyn io::Read + Send>, String) = if file == "-" {
            (Box::new(io::stdin()), "stdin".to_string())
        } else {
            let f = File::open(file).with_context(|| format!("opening {file}"))?;
            (Box::new(f), file.clone())
        };
        let mut job = ObjectJob::new(source.clone(), source.clone());
        job.format = args.format;
        job.limits = args.limits;
        let result = parse_object(reader, &job, &mut sink);
        // Each file's last partial batch is scored before the next file starts.
        sink.flush().map_err(|e| anyhow::anyhow!(e.0))?;
        match result {
            Ok(outcome) => {
                if let Some(reason) = &outcome.skipped {
                    summary.skipped += 1;
                    eprintln!("skipped {source}: {reason}");
                }
                if let Some(err) = &outcome.stream_error {
                    summary.failed += 1;
                    eprintln!("error: {source}: {err}");
                }
                for (t, n) in &outcome.stats.records {
                    *summary.records.entry(*t).or_default() += n;
                }
                summary.rejects += outcome.stats.rejects;
                summary.bytes_in += outcome.bytes_in;
                summary.bytes_decoded += outcome.bytes_decoded;
            }
            Err(e) => {
                summary.failed += 1;
                eprintln!("error: {e}");
            }
        }
        if let Some(bar) = &progress {
            bar.set_message(format!("{} records", summary.records.values().sum::<u64>()));
            bar.inc(1);
        }
    }
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    summary.alerts = sink.finish().map_err(|e| anyhow::anyhow!(e.0))?;
    ndjson.finish().context("flushing output")?;
    print_summary(&summary, started.elapsed());
    Ok(summary)
}

fn print_summary(s: &Summary, elapsed: std::time::Duration) {
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
}

/// `process --sentinel`: the files go through the same runner as the Lambda, to the
/// Logs Ingestion API configured by the environment (SENTINEL_*, AZURE_*, DEAD_LETTER_DIR
/// or DEAD_LETTER_BUCKET, STATE_BUCKET optional).
pub fn run_sentinel(args: &ProcessArgs) -> Result<Summary> {
    let files = expand_paths(&args.paths)?;
    if files.iter().any(|f| f == "-") {
        anyhow::bail!("--sentinel reads files or directories, not standard input");
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        let config = crate::config::Config::from_env()?;
        let client = crate::sink::sentinel::SentinelClient::from_config(&config.sentinel).await?;
        let (dead_letter, rejects): (
            Option<crate::sink::dead_letter::DeadLetter>,
            Option<Arc<dyn crate::state::StateStore>>,
        ) = match &config.dead_letter {
            Some(location) => {
                let dl = crate::sink::dead_letter::DeadLetter::from_location(location).await;
                let store: Arc<dyn crate::state::StateStore> = match location {
                    crate::config::DeadLetterLocation::Dir(dir) => {
                        Arc::new(crate::state::local::LocalDirStore::new(dir.clone()))
                    }
                    crate::config::DeadLetterLocation::S3(loc) => {
                        let aws = crate::setup::load_config().await;
                        Arc::new(crate::state::s3::S3StateStore::new(
                            crate::setup::s3_client(&aws),
                            &loc.bucket,
                            &loc.prefix,
                        ))
                    }
                };
                (Some(dl), Some(store))
            }
            None => (None, None),
        };
        let state: Option<Arc<dyn crate::state::StateStore>> = match &config.state {
            Some(loc) => {
                let aws = crate::setup::load_config().await;
                Some(Arc::new(crate::state::s3::S3StateStore::new(
                    crate::setup::s3_client(&aws),
                    &loc.bucket,
                    &loc.prefix,
                )))
            }
            None => None,
        };
        let runner = crate::runner::Runner {
            source: Arc::new(crate::source::LocalSource {
                root: PathBuf::from("/"),
            }),
            state,
            delivery: Arc::new(crate::sink::SentinelDelivery {
                client,
                dead_letter,
                rejects,
            }),
            enricher: args.enricher.clone(),
            settings: crate::runner::RunnerSettings {
                format: args.format,
                limits: args.limits,
                ..crate::runner::RunnerSettings::default()
            },
        };
        let started = Instant::now();
        let mut summary = Summary::default();
        let mut dead_lettered = 0;
        let mut accepted = 0;
        for file in &files {
            summary.files += 1;
            let absolute =
                std::fs::canonicalize(file).with_context(|| format!("opening {file}"))?;
            let object = crate::source::ObjectRef {
                bucket: String::new(),
                key: absolute.to_string_lossy().into_owned(),
                version_id: None,
                etag: None,
                size: None,
            };
            // A CLI run has no Lambda deadline: a day is "no deadline".
            let deadline = Instant::now() + std::time::Duration::from_secs(86_400);
            match runner.process(&object, deadline, "cli").await {
                Ok(report) => {
                    if let Some(reason) = &report.skipped {
                        summary.skipped += 1;
                        eprintln!("skipped {file}: {reason}");
                    }
                    if report.duplicate {
                        summary.skipped += 1;
                        eprintln!("skipped {file}: already delivered (state bucket)");
                    }
                    if let Some(err) = &report.stream_error {
                        summary.failed += 1;
                        eprintln!("error: {file}: {err}");
                    }
                    for (t, n) in &report.parse.records {
                        *summary.records.entry(*t).or_default() += n;
                    }
                    summary.rejects += report.parse.rejects;
                    summary.alerts += report.alerts;
                    summary.bytes_in += report.bytes_in;
                    summary.bytes_decoded += report.bytes_decoded;
                    accepted += report.delivery.accepted;
                    dead_lettered += report.delivery.dead_lettered;
                }
                Err(e) => {
                    summary.failed += 1;
                    eprintln!("error: {file}: {e}");
                }
            }
        }
        print_summary(&summary, started.elapsed());
        eprintln!("sentinel: {accepted} rows accepted, {dead_lettered} dead-lettered");
        if dead_lettered > 0 {
            summary.failed += 1;
        }
        Ok(summary)
    })
}

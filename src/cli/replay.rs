//! `s3-sentinel replay`: sends dead-lettered rows to Sentinel again and removes what was
//! accepted.

use anyhow::{Context, Result, anyhow};

use crate::config::{self, Platform};
use crate::setup::{self, Aws};
use crate::sink::dead_letter::{self, DeadLetterLocation, ReplayOptions, ReplayReport};
use crate::sink::sentinel::StreamMap;

/// Send dead-lettered rows to Sentinel again; files whose rows are all accepted are
/// deleted, partly accepted ones keep the rest. Reads the SENTINEL_* and AZURE_* variables
/// (see README).
#[derive(Debug, Clone, clap::Args)]
pub struct ReplayArgs {
    /// The dead letter: s3://bucket/prefix or a local folder.
    pub target: String,
    /// Send tables to these streams instead: JSON ({"AWSCloudTrail": "Custom-X"}) or
    /// TABLE=STREAM,... (overrides SENTINEL_STREAM_MAP).
    #[arg(long)]
    pub stream_map: Option<String>,
    /// Only count the rows and their target streams; send nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// The command: exit status 1 when rows are left in the dead letter after a real replay.
pub fn command(args: ReplayArgs) -> Result<u8> {
    let report = run(&args)?;
    Ok(u8::from(
        !report.file_errors.is_empty() || (!args.dry_run && report.remaining() > 0),
    ))
}

pub fn parse_stream_map(text: &str) -> Result<StreamMap> {
    let parsed = if text.trim_start().starts_with('{') {
        StreamMap::parse_json(text)
    } else {
        StreamMap::parse_pairs(text)
    };
    parsed.map_err(|m| anyhow!("--stream-map: {m}"))
}

pub fn run(args: &ReplayArgs) -> Result<ReplayReport> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(run_async(args))
}

pub async fn run_async(args: &ReplayArgs) -> Result<ReplayReport> {
    let overrides = match &args.stream_map {
        Some(text) => parse_stream_map(text)?,
        None => StreamMap::default(),
    };
    let location = DeadLetterLocation::parse(&args.target).map_err(|m| anyhow!(m))?;
    let aws = Aws::new(&Platform::from_env());
    let dead_letter = setup::dead_letter(&location, &aws).await;
    let report = if args.dry_run {
        // A dry run needs no credentials; the configured stream map is used when present.
        let mut streams = config::sentinel_from_env()
            .map(|c| c.streams)
            .unwrap_or_default();
        streams.extend(&overrides);
        dead_letter::survey(&dead_letter, &streams).await?
    } else {
        let client = setup::sentinel_client(&config::sentinel_from_env()?, &aws)
            .await?
            .with_streams(&overrides);
        dead_letter::replay(&dead_letter, &client, &ReplayOptions::default()).await?
    };
    print_report(&report, args.dry_run, dead_letter.location());
    Ok(report)
}

fn print_report(report: &ReplayReport, dry_run: bool, location: &str) {
    eprintln!(
        "{}{location}: {} files, {} rows",
        if dry_run { "dry run: " } else { "" },
        report.files,
        report.rows_read
    );
    for (stream, rows) in &report.rows_by_stream {
        eprintln!("  {rows:>8} rows -> {stream}");
    }
    if !dry_run {
        let d = &report.delivery;
        eprintln!(
            "  accepted {} rows; {} requests, {} retries, {} throttled; {} files deleted, {} rewritten",
            report.rows_accepted,
            d.requests,
            d.retries,
            d.throttled,
            report.files_deleted,
            report.files_rewritten
        );
    }
    for (kind, rows) in &report.rows_remaining {
        eprintln!(
            "  {rows:>8} rows {} ({kind})",
            if dry_run {
                "dead-lettered"
            } else {
                "still dead-lettered"
            }
        );
    }
    for (key, error) in &report.file_errors {
        eprintln!("  file {key}: {error}");
    }
}

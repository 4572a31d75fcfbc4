//! `s3-sentinel replay`: sends dead-lettered rows to Sentinel again and removes what was
//! accepted.

use anyhow::{Context, Result, anyhow};

use crate::config::{self, SentinelConfig};
use crate::sink::dead_letter::{self, DeadLetter, ReplayOptions, ReplayReport};
use crate::sink::sentinel::{SentinelClient, StreamMap};

#[derive(Debug, Clone)]
pub struct ReplayArgs {
    /// `s3://bucket/prefix` or a local folder.
    pub target: String,
    /// Table-to-stream overrides: JSON (`{"AWSCloudTrail": "Custom-X"}`) or
    /// `TABLE=STREAM,...`.
    pub stream_map: Option<String>,
    /// Only count what would be sent.
    pub dry_run: bool,
}

pub fn parse_stream_map(text: &str) -> Result<StreamMap> {
    let parsed = if text.trim_start().starts_with('{') {
        StreamMap::parse_json(text)
    } else {
        config::parse_stream_pairs(text)
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
    let dead_letter = DeadLetter::from_target(&args.target)
        .await
        .map_err(|m| anyhow!(m))?;
    let report = if args.dry_run {
        // A dry run needs no credentials; the configured stream map is used when present.
        let mut streams = SentinelConfig::from_env()
            .map(|c| c.streams)
            .unwrap_or_default();
        streams.extend(&overrides);
        dead_letter::survey(&dead_letter, &streams).await?
    } else {
        let config = SentinelConfig::from_env()?;
        let client = SentinelClient::from_config(&config)
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

//! `s3-sentinel azure-template` (the ARM template of the Azure side, or the column coverage
//! of the built-in tables) and `s3-sentinel sentinel-content` (analytics rules, hunting
//! queries and the workbook, written into a folder).

use std::fs::File;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};

use crate::azure::coverage::{self, Coverage};
use crate::azure::schema;
use crate::azure::template::{self, PublisherIdentity, TemplateOptions};
use crate::formats::{Collect, Format};
use crate::formats::{ObjectJob, parse_object};
use crate::record::Table;
use crate::record::json::write_record;

/// Inputs of `azure-template`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AzureTemplateArgs {
    /// Only these tables (comma-separated or repeated, e.g. AWSCloudTrail,AWSVPCFlow). Up to
    /// 10 give one DCR with its own endpoint; more are spread over DCRs behind one data
    /// collection endpoint. Default: every table the connector writes.
    #[arg(long, value_delimiter = ',')]
    pub tables: Vec<String>,
    /// Create a user-assigned managed identity for the connector, trusting the function's
    /// AWS role through a federated identity credential, instead of taking an existing
    /// service principal: no app registration and no secret (AZURE_AUTH=aws-federation).
    #[arg(long)]
    pub managed_identity: bool,
    /// Instead of the template, print which documented columns of each built-in table the
    /// connector fills, measured on these log objects (files or folders).
    #[arg(long, num_args = 1..)]
    pub coverage: Vec<String>,
    /// Parse the --coverage inputs as this format instead of detecting it.
    #[arg(long, value_parser = super::parse_format)]
    pub format: Option<Format>,
    /// Write here instead of standard output.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

/// Inputs of `sentinel-content`.
#[derive(Debug, Clone, clap::Args)]
pub struct SentinelContentArgs {
    /// Folder to write analytics/, hunting/ and workbooks/ into.
    #[arg(long, default_value = "docs/sentinel")]
    pub out: PathBuf,
}

/// The `sentinel-content` command.
pub fn sentinel_content(args: SentinelContentArgs) -> Result<u8> {
    let files = write_sentinel_content(&args.out)?;
    eprintln!("{} files written to {}", files.len(), args.out.display());
    Ok(0)
}

/// The tables named on the command line, in [`Table::ALL`] order.
pub fn parse_tables(names: &[String]) -> Result<Vec<Table>> {
    if names.is_empty() {
        return Ok(schema::produced_tables());
    }
    let produced = schema::produced_tables();
    let mut tables = Vec::new();
    for name in names.iter().flat_map(|n| n.split(',')).map(str::trim) {
        let table = Table::from_name(name)
            .or_else(|| Table::from_name(&format!("{name}_CL")))
            .ok_or_else(|| {
                let known: Vec<_> = produced.iter().map(|t| t.name()).collect();
                anyhow!("unknown table {name:?}; tables are: {}", known.join(", "))
            })?;
        if !produced.contains(&table) {
            bail!("the connector never writes to {table}, so it needs no stream");
        }
        tables.push(table);
    }
    tables.sort();
    tables.dedup();
    Ok(produced
        .into_iter()
        .filter(|t| tables.contains(t))
        .collect())
}

pub fn run(args: &AzureTemplateArgs) -> Result<()> {
    let text = if args.coverage.is_empty() {
        let options = TemplateOptions {
            tables: parse_tables(&args.tables)?,
            identity: if args.managed_identity {
                PublisherIdentity::ManagedIdentity
            } else {
                PublisherIdentity::ServicePrincipal
            },
        };
        if let Some(note) = options.layout_note() {
            eprintln!("note: {note}");
        }
        let mut text = serde_json::to_string_pretty(&template::arm_template(&options))?;
        text.push('\n');
        text
    } else {
        coverage::render(&measure_coverage(&args.coverage, args.format)?.report())
    };
    match &args.output {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?
        }
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    Ok(())
}

/// Runs the parsers over `paths` (files or folders) and counts the columns their rows fill.
pub fn measure_coverage(paths: &[String], format: Option<Format>) -> Result<Coverage> {
    let mut coverage = Coverage::default();
    for file in super::process::expand_paths(paths)? {
        let reader = BufReader::new(
            File::open(Path::new(&file)).with_context(|| format!("opening {file}"))?,
        );
        let mut job = ObjectJob::new(file.clone(), file.clone());
        job.format = format;
        let mut sink = Collect::default();
        parse_object(reader, &job, &mut sink).with_context(|| format!("processing {file}"))?;
        let mut buf = Vec::new();
        for record in &sink.records {
            buf.clear();
            write_record(record, &mut buf);
            let row: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&buf)?;
            coverage.add_row(&row).map_err(|m| anyhow!("{file}: {m}"))?;
        }
    }
    Ok(coverage)
}

/// Writes the Sentinel content (`analytics/`, `hunting/`, `workbooks/`) into `dir`;
/// returns the files written.
pub fn write_sentinel_content(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for (relative, text) in crate::azure::content::files() {
        let path = dir.join(&relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

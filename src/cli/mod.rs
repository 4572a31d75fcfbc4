//! The `s3-sentinel` command line: each subcommand is a module here with its options
//! (a `clap::Args` struct) beside the code that runs it, a thin layer over the library.

pub mod azure;
pub mod backfill;
pub mod deploy;
pub mod eval;
pub mod evaluate;
pub mod patterns;
pub mod process;
pub mod replay;
pub mod train;

use crate::formats::Format;

/// The subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Parse log objects (files, directories, or - for stdin) into Sentinel-shaped NDJSON,
    /// through the same runner as the Lambda; --sentinel delivers them instead.
    Process(process::ProcessArgs),
    /// Train the anomaly model and the category classifier; writes anomaly.onnx,
    /// classifier.onnx and manifest.json into --out.
    Train(train::TrainArgs),
    /// Backfill log objects already in S3 (s3://BUCKET/PREFIX, narrowed to --since/--until
    /// by the date partitions of AWS's key layouts): S3-event messages to the function's
    /// queue (--queue, paced by --rate, resumable), an S3 Batch Operations manifest
    /// (--manifest), a --dry-run with estimates, or processed here (NDJSON, or --sentinel).
    Backfill(backfill::BackfillArgs),
    /// Send dead-lettered rows to Sentinel again; files whose rows are all accepted are
    /// deleted, partly accepted ones keep the rest. Reads the SENTINEL_* and AZURE_*
    /// variables (see README).
    Replay(replay::ReplayArgs),
    /// Mine log templates: one message per input line; CSV `LineId,EventId,EventTemplate`
    /// out, in input order, each line with its template's final form.
    Patterns(patterns::PatternsArgs),
    /// Print the ARM template of the Azure side (custom columns on the built-in tables, the
    /// custom tables, the data collection rules, the role assignments), generated from the
    /// connector's own column definitions. Deploy it with `az deployment group create`;
    /// see docs/azure.md.
    AzureTemplate(azure::AzureTemplateArgs),
    /// Write the Microsoft Sentinel content for the connector's ML columns: scheduled
    /// analytics rules and hunting queries (YAML) and a workbook (JSON), checked against
    /// the same column definitions as the template.
    SentinelContent(azure::SentinelContentArgs),
    /// Measure a model set on labelled records: per-class precision/recall/F1, macro-F1,
    /// confusion matrix, ROC-AUC and PR-AUC of AnomalyScore, calibration of PriorityScore,
    /// inference latency; optionally against a baseline (the deployed models) and as an
    /// HTML report with plots.
    Evaluate(evaluate::EvaluateArgs),
    /// Print the feature schema version of this build (models must match it).
    SchemaVersion(deploy::SchemaVersionArgs),
    /// Publish model sets to s3://BUCKET/PREFIX (the steps scripts/deploy_models.sh runs;
    /// use the script, which evaluates the candidate first).
    #[command(subcommand)]
    DeployModels(deploy::DeployCommand),
    /// Create an Ed25519 key pair for signed model manifests: the private key (hex) goes to
    /// --out (mode 0600), the public key (for MODEL_PUBLIC_KEY) to standard output.
    Keygen(deploy::KeygenArgs),
    /// Sign a model manifest with a private key file: writes MANIFEST.sig.
    Sign(deploy::SignArgs),
    /// Measure the pattern miner and the sequence model on labelled data.
    #[command(subcommand)]
    Eval(eval::EvalCommand),
}

/// Runs a subcommand; returns the process exit status.
pub fn run(command: Command) -> anyhow::Result<u8> {
    match command {
        Command::Process(args) => process::command(args),
        Command::Train(args) => train::run(&args).map(|()| 0),
        Command::Backfill(args) => backfill::command(args),
        Command::Replay(args) => replay::command(args),
        Command::Patterns(args) => patterns::command(args),
        Command::AzureTemplate(args) => azure::run(&args).map(|()| 0),
        Command::SentinelContent(args) => azure::sentinel_content(args),
        Command::Evaluate(args) => evaluate::command(args),
        Command::SchemaVersion(args) => deploy::schema_version_command(args),
        Command::DeployModels(what) => deploy::command(what),
        Command::Keygen(args) => deploy::keygen_command(args),
        Command::Sign(args) => deploy::sign_command(args),
        Command::Eval(what) => eval::command(what),
    }
}

/// Text logs on standard error for the command-line tools, filtered by `S3_SENTINEL_LOG`
/// (`default_filter` when it is unset or invalid).
pub fn init_stderr_tracing(default_filter: &str) {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("S3_SENTINEL_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter)),
        )
        .with_writer(std::io::stderr)
        .init();
}

/// `--format` values.
pub fn parse_format(s: &str) -> Result<Format, String> {
    Format::from_name(s).ok_or_else(|| {
        let names: Vec<_> = Format::ALL.iter().map(|f| f.name()).collect();
        format!("unknown format {s:?}; one of: {}", names.join(", "))
    })
}

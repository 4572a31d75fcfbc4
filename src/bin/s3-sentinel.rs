//! `s3-sentinel`: run the connector's pipeline locally, train and evaluate its models,
//! mine patterns, replay dead letters.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use s3_sentinel_connector::cli;
use s3_sentinel_connector::formats::Format;
use s3_sentinel_connector::source::DecodeLimits;

#[derive(Parser)]
#[command(name = "s3-sentinel", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parse log objects (files, directories, or - for stdin) into Sentinel-shaped NDJSON.
    Process {
        /// Files, directories (read recursively) or - for standard input.
        #[arg(required = true)]
        paths: Vec<String>,
        /// Skip detection and parse every input as this format: cloudtrail, vpcflow, elb
        /// (ALB/NLB/classic), cloudfront, s3access, waf, guardduty, securityhub, route53resolver,
        /// networkfirewall, cloudwatch, json, text.
        #[arg(long, value_parser = parse_format)]
        format: Option<Format>,
        /// Write records here instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Write rejected lines (raw text and reason, NDJSON) here; otherwise the first
        /// few are shown on standard error.
        #[arg(long)]
        rejects: Option<PathBuf>,
        /// Write alert records (NDJSON) here; otherwise they are only counted.
        #[arg(long)]
        alerts: Option<PathBuf>,
        /// Deliver to Microsoft Sentinel instead of writing NDJSON, configured by the same
        /// environment variables as the Lambda (SENTINEL_INGESTION_ENDPOINT,
        /// SENTINEL_DCR_IMMUTABLE_ID, AZURE_*, DEAD_LETTER_DIR or DEAD_LETTER_BUCKET, ...).
        #[arg(long)]
        sentinel: bool,
        /// Stop decompressing an object after this many bytes.
        #[arg(long, default_value_t = DecodeLimits::default().max_decompressed_bytes)]
        max_decompressed_bytes: u64,
        /// Stop decompressing when output/input exceeds this ratio (decompression bombs).
        #[arg(long, default_value_t = DecodeLimits::default().max_ratio)]
        max_ratio: u64,
    },
    /// Train the anomaly model and the category classifier; writes anomaly.onnx,
    /// classifier.onnx and manifest.json into --out.
    Train {
        /// Labelled JSON lines (label plus raw record, Sentinel row or object reference;
        /// see the ml::labelled docs). May be given several times.
        #[arg(long)]
        data: Vec<PathBuf>,
        /// Add the project's synthetic benign and attack activity (what the default models
        /// are trained on).
        #[arg(long)]
        generate: bool,
        /// Seed of the generator.
        #[arg(long, default_value_t = s3_sentinel_connector::training::synth::SynthConfig::default().seed)]
        seed: u64,
        /// Volume of generated data (1.0 is about 75,000 records).
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
        /// Also write the generated records as labelled JSON lines.
        #[arg(long)]
        write_data: Option<PathBuf>,
        /// Directory for the model files.
        #[arg(long)]
        out: PathBuf,
        /// Version written into the manifest and every record's ModelVersion.
        #[arg(long = "model-version")]
        model_version: Option<String>,
        /// Retrain on top of another set's training data: a model directory or `embedded`
        /// (its manifest's recipe: generator seed and scale, data files), plus --data.
        #[arg(long)]
        base: Option<String>,
    },
    /// Send dead-lettered rows to Sentinel again; files whose rows are all accepted are
    /// deleted, partly accepted ones keep the rest. Reads the SENTINEL_* and AZURE_*
    /// variables (see README).
    Replay {
        /// The dead letter: s3://bucket/prefix or a local folder.
        target: String,
        /// Send tables to these streams instead: JSON ({"AWSCloudTrail": "Custom-X"}) or
        /// TABLE=STREAM,... (overrides SENTINEL_STREAM_MAP).
        #[arg(long)]
        stream_map: Option<String>,
        /// Only count the rows and their target streams; send nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Mine log templates: one message per input line; CSV `LineId,EventId,EventTemplate`
    /// out, in input order, each line with its template's final form.
    Patterns {
        /// Input lines (default: standard input).
        #[arg(long, short)]
        input: Option<PathBuf>,
        /// CSV output (default: standard output).
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Pattern database (JSON): loaded when it exists, so known templates keep their
        /// ids, and saved with this run's counts.
        #[arg(long)]
        db: Option<PathBuf>,
    },
    /// Print the ARM template of the Azure side (custom columns on the built-in tables, the
    /// custom tables, the data collection rules, the role assignments), generated from the
    /// connector's own column definitions. Deploy it with `az deployment group create`; see
    /// docs/azure.md.
    AzureTemplate {
        /// Only these tables (comma-separated or repeated, e.g. AWSCloudTrail,AWSVPCFlow).
        /// Up to 10 give one DCR with its own endpoint; more are spread over DCRs behind one
        /// data collection endpoint. Default: every table the connector writes.
        #[arg(long, value_delimiter = ',')]
        tables: Vec<String>,
        /// Instead of the template, print which documented columns of each built-in table
        /// the connector fills, measured on these log objects (files or folders).
        #[arg(long, num_args = 1..)]
        coverage: Vec<String>,
        /// Parse the --coverage inputs as this format instead of detecting it.
        #[arg(long, value_parser = parse_format)]
        format: Option<Format>,
        /// Write here instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Write the Microsoft Sentinel content for the connector's ML columns: scheduled
    /// analytics rules and hunting queries (YAML) and a workbook (JSON), checked against
    /// the same column definitions as the template.
    SentinelContent {
        /// Folder to write analytics/, hunting/ and workbooks/ into.
        #[arg(long, default_value = "docs/sentinel")]
        out: PathBuf,
    },
    /// Measure a model set on labelled records: per-class precision/recall/F1, macro-F1,
    /// confusion matrix, ROC-AUC and PR-AUC of AnomalyScore, calibration of PriorityScore,
    /// inference latency; optionally against a baseline (the deployed models) and as an
    /// HTML report with plots.
    Evaluate {
        /// Labelled JSON lines (see docs/lifecycle.md). May be given several times.
        #[arg(long)]
        data: Vec<PathBuf>,
        /// Also evaluate on records from the project's generator with this seed (the
        /// default models were trained on seed 20250106: any other seed is held out).
        #[arg(long)]
        generate_seed: Option<u64>,
        /// Volume of generated records (1.0 is about 75,000).
        #[arg(long, default_value_t = 0.5)]
        scale: f64,
        /// Model directory to evaluate, or `embedded` for the defaults in this binary.
        #[arg(long, default_value = "embedded")]
        models: String,
        /// Model directory to compare with (the deployed set), or `embedded`.
        #[arg(long)]
        baseline: Option<String>,
        /// Write a self-contained HTML report with plots here.
        #[arg(long)]
        report: Option<PathBuf>,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
        /// IsAnomaly threshold.
        #[arg(long, default_value_t = 0.95)]
        anomaly_threshold: f64,
        /// Records scored one at a time for the latency percentiles.
        #[arg(long, default_value_t = 2000)]
        latency_sample: usize,
        /// With --baseline: exit with status 1 when a gated metric (macro-F1, ROC-AUCs) is
        /// worse than the baseline's by more than this.
        #[arg(long)]
        tolerance: Option<f64>,
    },
    /// Print the feature schema version of this build (models must match it).
    SchemaVersion {
        /// Print the version and the feature names as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Publish model sets to s3://BUCKET/PREFIX (the steps scripts/deploy_models.sh runs;
    /// use the script, which evaluates the candidate first).
    DeployModels {
        #[command(subcommand)]
        what: DeployCommand,
    },
    /// Create an Ed25519 key pair for signed model manifests: the private key (hex) goes
    /// to --out (mode 0600), the public key (for MODEL_PUBLIC_KEY) to standard output.
    Keygen {
        #[arg(long)]
        out: PathBuf,
    },
    /// Sign a model manifest with a private key file: writes MANIFEST.sig.
    Sign {
        #[arg(long)]
        key: PathBuf,
        manifest: PathBuf,
    },
    /// Measure the pattern miner and the sequence model on labelled data.
    Eval {
        #[command(subcommand)]
        what: EvalCommand,
    },
}

#[derive(Subcommand)]
enum DeployCommand {
    /// Download the deployed set into --out; prints the directory, or `embedded` when the
    /// bucket has no manifest (the functions serve their embedded defaults).
    Fetch {
        #[arg(long, env = "MODEL_BUCKET")]
        bucket: String,
        #[arg(long, env = "MODEL_PREFIX", default_value = "models/")]
        prefix: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Print the feature schema version of a model directory's manifest.
    Schema { models: PathBuf },
    /// Verify a model directory (digests, schema, probe) and upload it: files, signature,
    /// then the manifest; the replaced manifest is kept for --rollback.
    Publish {
        #[arg(long, env = "MODEL_BUCKET")]
        bucket: String,
        #[arg(long, env = "MODEL_PREFIX", default_value = "models/")]
        prefix: String,
        #[arg(long)]
        models: PathBuf,
        /// `s3-sentinel evaluate --json` output that cleared the candidate (its summary is
        /// kept in the manifest).
        #[arg(long)]
        evaluation: Option<PathBuf>,
        /// The quality gate was overridden, and why (kept in the manifest).
        #[arg(long)]
        forced_reason: Option<String>,
        /// Private key file (from `keygen`): sign the manifest.
        #[arg(long)]
        sign_key: Option<PathBuf>,
        /// Run the set as the shadow of the deployed one (scored beside it, output
        /// unchanged, agreement published as metrics) instead of replacing it.
        #[arg(long)]
        shadow: bool,
        #[arg(long)]
        dry_run: bool,
    },
    /// Put the previous manifest back.
    Rollback {
        #[arg(long, env = "MODEL_BUCKET")]
        bucket: String,
        #[arg(long, env = "MODEL_PREFIX", default_value = "models/")]
        prefix: String,
        #[arg(long)]
        sign_key: Option<PathBuf>,
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand)]
enum EvalCommand {
    /// Grouping accuracy (GA) and parsing accuracy (PA, exact template match) per system
    /// of a loghub folder (`<S>/<S>_2k.log_structured_corrected.csv`), with the miner's
    /// defaults.
    Templates {
        #[arg(long)]
        loghub: PathBuf,
    },
    /// Precision, recall and F1 of the sequence model on sessions (one per line,
    /// space-separated event ids). Trains on the first `--train-fraction` of `--train`
    /// (default: half when no `--test-normal` is given) and tests on the rest of it, on
    /// `--test-normal` and on `--test-abnormal`. The documented HDFS run is
    /// `--train hdfs_train --test-abnormal hdfs_test_abnormal`: first 50% of hdfs_train
    /// (2,428 sessions) to train, the other 2,427 as normal test sessions.
    Sequences {
        #[arg(long)]
        train: PathBuf,
        #[arg(long)]
        train_fraction: Option<f64>,
        #[arg(long)]
        test_normal: Option<PathBuf>,
        #[arg(long)]
        test_abnormal: PathBuf,
        /// Events of context the model looks back on.
        #[arg(long, default_value_t = 3)]
        order: usize,
    },
}

fn parse_format(s: &str) -> Result<Format, String> {
    Format::from_name(s).ok_or_else(|| {
        let names: Vec<_> = Format::ALL.iter().map(|f| f.name()).collect();
        format!("unknown format {s:?}; one of: {}", names.join(", "))
    })
}

fn run_deploy(what: DeployCommand) -> anyhow::Result<u8> {
    use cli::deploy::{self, ModelBucket, PublishArgs};
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let print_plan = |plan: &deploy::Plan, dry_run: bool| {
        for step in &plan.steps {
            println!("{}{step}", if dry_run { "would " } else { "" });
        }
    };
    runtime.block_on(async {
        match what {
            DeployCommand::Fetch {
                bucket,
                prefix,
                out,
            } => {
                let bucket = ModelBucket::from_env(&bucket, &prefix).await;
                match deploy::fetch_deployed(&bucket, &out).await? {
                    Some(dir) => println!("{}", dir.display()),
                    None => println!("embedded"),
                }
                Ok(0)
            }
            DeployCommand::Schema { models } => {
                println!("{}", deploy::schema_version_of(&models)?);
                Ok(0)
            }
            DeployCommand::Publish {
                bucket,
                prefix,
                models,
                evaluation,
                forced_reason,
                sign_key,
                shadow,
                dry_run,
            } => {
                let bucket = ModelBucket::from_env(&bucket, &prefix).await;
                let plan = deploy::publish(
                    &bucket,
                    &PublishArgs {
                        models,
                        evaluation,
                        forced_reason,
                        sign_key,
                        shadow,
                        dry_run,
                    },
                )
                .await?;
                print_plan(&plan, dry_run);
                Ok(0)
            }
            DeployCommand::Rollback {
                bucket,
                prefix,
                sign_key,
                dry_run,
            } => {
                let bucket = ModelBucket::from_env(&bucket, &prefix).await;
                let plan = deploy::rollback(&bucket, sign_key.as_deref(), dry_run).await?;
                print_plan(&plan, dry_run);
                println!("rolled back to {}", plan.set_version);
                Ok(0)
            }
        }
    })
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("S3_SENTINEL_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Process {
            paths,
            format,
            output,
            rejects,
            alerts,
            sentinel,
            max_decompressed_bytes,
            max_ratio,
        } => s3_sentinel_connector::lambda::default_enricher().and_then(|enricher| {
            let args = cli::process::ProcessArgs {
                paths,
                format,
                output,
                rejects,
                alerts,
                limits: DecodeLimits {
                    max_decompressed_bytes,
                    max_ratio,
                    ..DecodeLimits::default()
                },
                enricher,
            };
            let run = if sentinel {
                cli::process::run_sentinel(&args)
            } else {
                cli::process::run(&args)
            };
            run.map(|s| if s.failed > 0 { 1 } else { 0 })
        }),
        Command::Replay {
            target,
            stream_map,
            dry_run,
        } => {
            let args = cli::replay::ReplayArgs {
                target,
                stream_map,
                dry_run,
            };
            // Rows left in the dead letter (after a real replay) make the exit status 1.
            cli::replay::run(&args).map(|r| {
                if !r.file_errors.is_empty() || (!dry_run && r.remaining() > 0) {
                    1
                } else {
                    0
                }
            })
        }
        Command::AzureTemplate {
            tables,
            coverage,
            format,
            output,
        } => cli::azure::run(&cli::azure::AzureTemplateArgs {
            tables,
            coverage,
            format,
            output,
        })
        .map(|()| 0),
        Command::SentinelContent { out } => cli::azure::write_sentinel_content(&out).map(|files| {
            eprintln!("{} files written to {}", files.len(), out.display());
            0
        }),
        Command::Patterns { input, output, db } => {
            let args = cli::patterns::PatternsArgs { input, output, db };
            cli::patterns::run(&args).map(|summary| {
                eprintln!("{} lines, {} templates", summary.lines, summary.templates);
                0
            })
        }
        Command::Eval { what } => match what {
            EvalCommand::Templates { loghub } => cli::eval::templates(&loghub).map(|rows| {
                print!("{}", cli::eval::format_template_scores(&rows));
                0
            }),
            EvalCommand::Sequences {
                train,
                train_fraction,
                test_normal,
                test_abnormal,
                order,
            } => {
                let args = cli::eval::SequenceEvalArgs {
                    train,
                    train_fraction,
                    test_normal,
                    test_abnormal,
                    order,
                };
                cli::eval::sequences(&args).map(|e| {
                    print!("{}", cli::eval::format_sequence_eval(&e));
                    0
                })
            }
        },
        Command::Evaluate {
            data,
            generate_seed,
            scale,
            models,
            baseline,
            report,
            json,
            anomaly_threshold,
            latency_sample,
            tolerance,
        } => {
            let args = cli::evaluate::EvaluateArgs {
                data,
                generate_seed,
                scale,
                models: cli::evaluate::ModelSource::parse(&models),
                baseline: baseline.as_deref().map(cli::evaluate::ModelSource::parse),
                report,
                json,
                anomaly_threshold,
                latency_sample,
                tolerance,
            };
            cli::evaluate::run(&args).and_then(|out| {
                if json {
                    println!("{}", serde_json::to_string(&out)?);
                    for line in out.regressions.iter().flatten() {
                        eprintln!("worse than the baseline: {line}");
                    }
                } else {
                    print!("{}", cli::evaluate::format_output(&out));
                }
                Ok(match &out.regressions {
                    Some(r) if !r.is_empty() => 1,
                    _ => 0,
                })
            })
        }
        Command::DeployModels { what } => run_deploy(what),
        Command::Keygen { out } => cli::deploy::keygen(&out).map(|public| {
            eprintln!("private key written to {} (keep it secret)", out.display());
            println!("{public}");
            0
        }),
        Command::Sign { key, manifest } => cli::deploy::sign_file(&key, &manifest).map(|sig| {
            println!("{}", sig.display());
            0
        }),
        Command::SchemaVersion { json } => {
            let schema = s3_sentinel_connector::features::FeatureSchema::current();
            if json {
                println!("{}", serde_json::to_string(&schema).unwrap_or_default());
            } else {
                println!("{}", schema.version);
            }
            Ok(0)
        }
        Command::Train {
            data,
            generate,
            seed,
            scale,
            write_data,
            out,
            model_version,
            base,
        } => cli::train::run(&cli::train::TrainArgs {
            data,
            generate,
            seed,
            scale,
            write_data,
            out,
            set_version: model_version,
            base,
        })
        .map(|()| 0),
    };
    match result {
        Ok(0) => ExitCode::SUCCESS,
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

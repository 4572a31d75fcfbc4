//! `sentinel-emulator`: a local Azure Monitor Logs Ingestion API (and Entra ID token
//! endpoint) that enforces the real contract and injects faults on request; with
//! `--sts-listen`, also a stand-in for AWS STS `GetWebIdentityToken` and its issuer, for
//! trying `AZURE_AUTH=aws-federation`. See `docs/emulator.md`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;

use s3_sentinel_connector::Table;
use s3_sentinel_connector::{
    Emulator, EmulatorOptions, ErrorFaults, FaultPlan, FederatedCredential, StsEmulator,
    StsOptions, ThrottleFaults, UnknownColumns,
};

#[derive(Parser)]
#[command(name = "sentinel-emulator", version, about, long_about = None)]
struct Args {
    /// Address to listen on (port 0 picks a free port; the chosen URL is printed).
    #[arg(long, default_value = "127.0.0.1:8089")]
    listen: SocketAddr,
    /// Largest request body accepted (bytes on the wire); larger ones get 413.
    #[arg(long, default_value_t = 1_048_576)]
    max_body_bytes: usize,
    /// Lifetime of issued tokens, in seconds.
    #[arg(long, default_value_t = 3599)]
    token_ttl: u64,
    /// Accept only this client id at the token endpoint (default: any).
    #[arg(long)]
    client_id: Option<String>,
    /// Accept only this client secret at the token endpoint (default: any). Also read from
    /// SENTINEL_EMULATOR_CLIENT_SECRET, which keeps it out of the process list.
    #[arg(long, env = "SENTINEL_EMULATOR_CLIENT_SECRET", hide_env_values = true)]
    client_secret: Option<String>,
    /// Accept only this DCR immutable id (default: any).
    #[arg(long)]
    dcr: Option<String>,
    /// Extra stream: STREAM=TABLE, e.g. Custom-MyTrail=AWSCloudTrail (repeatable). The
    /// streams of `s3-sentinel azure-template` (Custom-<Table>) exist already.
    #[arg(long = "stream", value_parser = parse_stream)]
    streams: Vec<(String, Table)>,
    /// Answer the first N ingestion requests with 429.
    #[arg(long, default_value_t = 0)]
    throttle: u32,
    /// Retry-After of injected 429s, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    retry_after_ms: u64,
    /// Answer the next N ingestion requests (after the 429s) with --error-status.
    #[arg(long, default_value_t = 0)]
    errors: u32,
    #[arg(long, default_value_t = 503)]
    error_status: u16,
    /// Drop the connection of the next N requests (after the errors) without an answer.
    #[arg(long, default_value_t = 0)]
    drop_connections: u32,
    /// Delay every ingestion answer by this many milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// A row property the stream does not declare: `reject` answers 400 naming it (the
    /// default: a mapping mistake shows at once); `ignore` drops it and accepts the row,
    /// as Azure does.
    #[arg(long, value_parser = parse_unknown_columns, default_value = "reject")]
    unknown_columns: UnknownColumns,
    /// Rows kept for /admin/rows (later rows are only counted).
    #[arg(long, default_value_t = 1_000_000)]
    max_recorded_rows: usize,
    /// Also serve a stand-in for AWS STS GetWebIdentityToken (and its issuer's discovery
    /// document and JWKS) here; point the function's AWS_ENDPOINT_URL_STS at it.
    #[arg(long)]
    sts_listen: Option<SocketAddr>,
    /// The role ARN the STS stand-in puts in `sub`.
    #[arg(
        long,
        default_value = "arn:aws:iam::123456789012:role/s3-sentinel-connector-function"
    )]
    sts_role_arn: String,
    /// Accept client assertions from this issuer (a federated identity credential). With
    /// --sts-listen and without this, the stand-in's issuer and role are trusted.
    #[arg(long, requires = "federated_subject")]
    federated_issuer: Option<String>,
    /// The subject of the federated identity credential (the function's role ARN).
    #[arg(long, requires = "federated_issuer")]
    federated_subject: Option<String>,
    /// The audience of the federated identity credential.
    #[arg(long, default_value = s3_sentinel_connector::DEFAULT_FEDERATION_AUDIENCE)]
    federated_audience: String,
    /// Milliseconds before a federated identity credential is honoured (Entra ID takes
    /// minutes to propagate a new one).
    #[arg(long, default_value_t = 0)]
    federation_propagation_ms: u64,
}

fn parse_unknown_columns(text: &str) -> Result<UnknownColumns, String> {
    match text {
        "reject" => Ok(UnknownColumns::Reject),
        "ignore" => Ok(UnknownColumns::Ignore),
        _ => Err(format!("expected reject or ignore, got {text:?}")),
    }
}

fn parse_stream(text: &str) -> Result<(String, Table), String> {
    let (stream, table) = text
        .split_once('=')
        .ok_or_else(|| format!("expected STREAM=TABLE, got {text:?}"))?;
    s3_sentinel_connector::validate_stream_name(stream)?;
    let table = Table::from_name(table).ok_or_else(|| format!("unknown table {table:?}"))?;
    Ok((stream.to_string(), table))
}

#[tokio::main]
async fn main() -> ExitCode {
    s3_sentinel_connector::init_stderr_tracing("info");
    let args = Args::parse();
    let sts = match args.sts_listen {
        Some(addr) => {
            let options = StsOptions {
                role_arn: args.sts_role_arn.clone(),
                ..StsOptions::default()
            };
            match StsEmulator::new(options).start(addr).await {
                Ok(running) => Some(running),
                Err(e) => {
                    eprintln!("error: cannot listen on {addr}: {e}");
                    return ExitCode::from(2);
                }
            }
        }
        None => None,
    };
    let federated_credentials = match (&args.federated_issuer, &args.federated_subject, &sts) {
        (Some(issuer), Some(subject), _) => vec![FederatedCredential {
            issuer: issuer.clone(),
            subject: subject.clone(),
            audience: args.federated_audience.clone(),
        }],
        (_, _, Some(sts)) => vec![FederatedCredential {
            issuer: sts.issuer(),
            subject: sts.role_arn(),
            audience: args.federated_audience.clone(),
        }],
        _ => Vec::new(),
    };
    let options = EmulatorOptions {
        max_body_bytes: args.max_body_bytes,
        token_ttl: std::time::Duration::from_secs(args.token_ttl),
        client_id: args.client_id,
        client_secret: args.client_secret,
        dcr_immutable_id: args.dcr,
        streams: args.streams.into_iter().collect::<BTreeMap<_, _>>(),
        max_recorded_rows: args.max_recorded_rows,
        unknown_columns: args.unknown_columns,
        faults: FaultPlan {
            throttle: (args.throttle > 0).then_some(ThrottleFaults {
                count: args.throttle,
                retry_after_ms: args.retry_after_ms,
            }),
            errors: (args.errors > 0).then_some(ErrorFaults {
                count: args.errors,
                status: args.error_status,
            }),
            drop_connections: Some(args.drop_connections),
            latency_ms: Some(args.latency_ms),
            ..FaultPlan::default()
        },
        federated_credentials,
        federation_propagation: std::time::Duration::from_millis(args.federation_propagation_ms),
        ..EmulatorOptions::default()
    };
    let running = match Emulator::new(options).start(args.listen).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", args.listen);
            return ExitCode::from(2);
        }
    };
    // One line on stdout that scripts can read the URL from.
    println!("sentinel-emulator listening on {}", running.url());
    if let Some(sts) = &sts {
        println!(
            "sts stand-in listening on {} (issuer {})",
            sts.url(),
            sts.issuer()
        );
    }
    shutdown_signal().await;
    running.stop().await;
    ExitCode::SUCCESS
}

/// Ctrl-C, or SIGTERM from a service manager or container runtime.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

//! `s3-sentinel`: run the connector's pipeline locally, train and evaluate its models,
//! mine patterns, replay dead letters. The subcommands live in the library (`cli`).

use std::process::ExitCode;

use clap::Parser;

use s3_sentinel_connector::{Command, init_stderr_tracing, retain_freed_memory, run_command};

#[derive(Parser)]
#[command(name = "s3-sentinel", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

fn main() -> ExitCode {
    retain_freed_memory();
    init_stderr_tracing("warn");
    match run_command(Cli::parse().command) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

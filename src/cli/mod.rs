//! The `s3-sentinel` command line: each subcommand is a thin layer over the library.

pub mod azure;
pub mod deploy;
pub mod eval;
pub mod evaluate;
pub mod patterns;
pub mod process;
pub mod replay;
pub mod train;

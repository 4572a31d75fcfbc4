//! s3-sentinel-connector: AWS logs from S3 into Microsoft Sentinel, parsed into the
//! built-in AWS tables, scored by ONNX models and mined for patterns on the way.

#[cfg(feature = "tools")]
pub mod azure;
#[cfg(feature = "tools")]
pub mod cli;
pub mod config;
#[cfg(feature = "tools")]
pub mod emulator;
pub mod enrich;
#[cfg(feature = "tools")]
pub mod evaluation;
pub mod features;
pub mod formats;
pub mod lambda;
pub mod metrics;
pub mod ml;
pub mod patterns;
pub mod record;
pub mod runner;
pub mod setup;
pub mod sink;
pub mod source;
pub mod state;
#[cfg(feature = "tools")]
pub mod training;

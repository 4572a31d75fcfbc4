//! s3-sentinel-connector: AWS logs from S3 into Microsoft Sentinel, parsed into the
//! built-in AWS tables, scored by ONNX models and mined for patterns on the way.

pub mod azure;
pub mod cli;
pub mod config;
pub mod emulator;
pub mod enrich;
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
pub mod training;

//! s3-sentinel-connector: AWS logs from S3 into Microsoft Sentinel, parsed into the
//! built-in AWS tables, scored by ONNX models and mined for patterns on the way.
//!
//! The data path is the module tree: [`event`] (Lambda envelopes) -> [`source`] (object
//! bytes, decoding) -> [`formats`] (detection, parsers) -> [`record`] (Sentinel-shaped
//! rows) -> [`runner`] (batches, checkpoints) -> [`sink`] (Sentinel client, dead letter)
//! -> [`state`] and [`metrics`].

pub mod aws;
pub mod azure;
pub mod cli;
pub mod config;
pub mod drift;
pub mod emulator;
pub mod enrich;
pub mod event;
pub mod features;
pub mod formats;
pub mod lambda;
pub mod metrics;
pub mod ml;
pub mod patterns;
pub mod pipeline;
pub mod record;
pub mod resources;
pub mod runner;
pub mod signing;
pub mod sink;
pub mod source;
pub mod state;

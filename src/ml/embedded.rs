//! The default models, compiled into the binary: served whenever no model bucket is
//! configured, and kept when a bucket's models fail their checks.
//!
//! `scripts/train_default_models.sh` regenerates `onnx/` bit for bit from the project's
//! synthetic generator (see `ml::synth`).

use super::manifest::Manifest;
use super::runtime::{ModelError, ModelSet};

/// The default anomaly model, ONNX.
pub const ANOMALY_ONNX: &[u8] =
    include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/onnx/anomaly.onnx"));
/// The default classifier, ONNX.
pub const CLASSIFIER_ONNX: &[u8] =
    include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/onnx/classifier.onnx"));
/// The default set's manifest, JSON.
pub const MANIFEST_JSON: &[u8] =
    include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/onnx/manifest.json"));

/// The default set's manifest, parsed.
pub fn manifest() -> Result<Manifest, ModelError> {
    Manifest::from_json(MANIFEST_JSON)
        .map_err(|e| ModelError::Manifest(format!("embedded manifest.json: {e}")))
}

/// Loads, verifies, optimizes and probes the embedded models.
pub fn load() -> Result<ModelSet, ModelError> {
    ModelSet::load(manifest()?, ANOMALY_ONNX, CLASSIFIER_ONNX)
}

//! Training the models (tooling; the function never runs it): smartcore fits the anomaly
//! model (PCA reconstruction error on standardized features of normal traffic, calibrated
//! per log family) and the four-class classifier ([`train`]); both are exported as plain
//! ONNX graphs ([`onnx`]) with their manifest ([`artifacts`]). Training data comes from
//! labelled JSON lines ([`labelled`]) and the project's generator of benign and attack
//! activity ([`synth`]), replayed through a fresh pattern stage first ([`replay`]) so the
//! pattern slot means in training what it means in the function.

pub mod artifacts;
pub mod history;
pub mod knowledge;
pub mod labelled;
pub mod metrics;
pub mod onnx;
pub mod replay;
pub mod rng;
pub mod synth;
pub mod train;
pub mod update;

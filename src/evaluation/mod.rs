//! Measuring the models and the pattern miner (tooling): [`models`] scores a model set on
//! labelled records (per-class F1, ROC and PR curves, calibration, latency), [`report`]
//! renders that as a self-contained HTML page, [`scores`] measures template mining and
//! sequence anomaly detection against ground truth, [`rule_events`] derives matching events
//! and near misses from Sigma rules.

pub mod models;
pub mod report;
pub mod rule_events;
pub mod scores;

//! Pattern recognition: online template mining, the pattern database, frequency trends,
//! sequences and correlations. Pure code: no I/O, network or AWS types.

pub mod analyzer;
pub mod correlation;
pub mod db;
pub mod features;
pub mod mask;
pub mod message;
pub mod miner;
pub mod sequence;
pub mod trend;

pub use analyzer::{AnalyzerConfig, PatternAnalyzer};
pub use features::{PATTERN_FEATURE_NAMES, PATTERN_FEATURES, pattern_features, was_analyzed};
pub use miner::{PatternId, TemplateMiner};

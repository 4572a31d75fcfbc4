//! Pattern recognition: online template mining, the pattern database, frequency trends,
//! sequences and correlations. Pure code: no I/O, network or AWS types.

pub mod correlation;
pub mod db;
pub mod eval;
pub mod mask;
pub mod miner;
pub mod sequence;
pub mod trend;

pub use miner::{Assignment, MinerConfig, PatternId, TemplateMiner};

//! Enrichment: what the connector adds to each record on its way to Sentinel.
//!
//! An [`Enricher`] is one stage applied to every batch; the shipped function chains three
//! ([`EnricherChain`]): the [`PatternStage`] (templates, trends, sequences, correlations),
//! the [`BehaviourStage`] (each principal's calls against its own history) and then the
//! [`ModelStage`] (detection rules and the ONNX models through [`ModelScorer`]:
//! `DetectionRules`, `AnomalyScore`, `IsAnomaly`, `AnomalyReasons`, `LogCategory`, `LogCategoryConfidence`,
//! `PriorityScore`, `Priority`, `ModelVersion`, adaptive thresholds, alert records, model
//! swaps, drift monitoring). Stages learn while they run; their `load_state` and
//! `save_state` hooks merge what every function learned through the state store.

pub mod alerts;
pub mod behaviour;
pub mod connector;
pub mod models;
pub mod monitor;
pub mod patterns;
pub mod priority;
pub mod reasons;
pub mod scorer;
pub mod thresholds;

use std::sync::Arc;

use async_trait::async_trait;

pub use alerts::Alert;
pub use behaviour::BehaviourStage;
pub use connector::Connector;
pub use models::{ModelSettings, ModelStage};
pub use patterns::PatternStage;
pub use priority::Priority;
pub use scorer::{EnrichConfig, ModelScorer};
pub use thresholds::{AdaptiveThresholds, ThresholdConfig};

use crate::metrics::InvocationMetrics;
use crate::record::{Record, Row};
use crate::state::StateStore;

/// One enrichment stage. `enrich` runs on the runner's blocking thread, per batch, and
/// returns the alert rows the batch raised. The state hooks run between objects: what
/// one function learned (pattern counts, score history) is merged into the shared state
/// so that every function builds on all of it.
#[async_trait]
pub trait Enricher: Send + Sync {
    /// Adds this stage's columns to `records`; returns the alert rows they raise.
    fn enrich(&self, records: &mut [Record]) -> Vec<Row>;

    /// Reads the shared state (at cold start).
    async fn load_state(&self, _store: &dyn StateStore) -> anyhow::Result<()> {
        Ok(())
    }

    /// Merges this process's learning into the shared state (conditional writes).
    async fn save_state(&self, _store: &dyn StateStore) -> anyhow::Result<()> {
        Ok(())
    }

    /// Adds what the stage measured since the last call (model drift, inference latency,
    /// shadow agreement) to the invocation's metrics; called after `save_state`.
    fn publish_metrics(&self, _metrics: &mut InvocationMetrics) {}
}

/// Stages applied in order (patterns first: the models read the pattern columns).
pub struct EnricherChain(pub Vec<Arc<dyn Enricher>>);

#[async_trait]
impl Enricher for EnricherChain {
    fn enrich(&self, records: &mut [Record]) -> Vec<Row> {
        self.0
            .iter()
            .flat_map(|stage| stage.enrich(records))
            .collect()
    }

    async fn load_state(&self, store: &dyn StateStore) -> anyhow::Result<()> {
        for stage in &self.0 {
            stage.load_state(store).await?;
        }
        Ok(())
    }

    async fn save_state(&self, store: &dyn StateStore) -> anyhow::Result<()> {
        for stage in &self.0 {
            stage.save_state(store).await?;
        }
        Ok(())
    }

    fn publish_metrics(&self, metrics: &mut InvocationMetrics) {
        for stage in &self.0 {
            stage.publish_metrics(metrics);
        }
    }
}

/// The shipped enrichment: the pattern stage, then the models (embedded defaults,
/// swapped from `models` when given) with adaptive thresholds and drift counts kept in
/// `state` when given.
pub fn default_stages(
    settings: ModelSettings,
    models: Option<Arc<dyn StateStore>>,
    state: Option<Arc<dyn StateStore>>,
) -> Result<EnricherChain, crate::ml::runtime::ModelError> {
    Ok(EnricherChain(vec![
        Arc::new(PatternStage::default()),
        Arc::new(BehaviourStage::default()),
        Arc::new(ModelStage::new(settings, models, state)?),
    ]))
}

/// No enrichment: rows leave as parsed.
pub struct NoEnrichment;

impl Enricher for NoEnrichment {
    fn enrich(&self, _records: &mut [Record]) -> Vec<Row> {
        Vec::new()
    }
}

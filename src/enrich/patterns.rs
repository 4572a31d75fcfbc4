//! The pattern stage of enrichment: every record gains its template, flags and sequence
//! score from a [`PatternAnalyzer`] shared by the batches of a warm function, whose
//! pattern database and sequence model are merged with every other function's through the
//! state prefix.

use std::sync::Mutex;

use async_trait::async_trait;
use chrono::Utc;

use super::{Enricher, Row};
use crate::patterns::analyzer::{AnalyzerConfig, PatternAnalyzer};
use crate::patterns::{db, sequence};
use crate::record::Record;
use crate::state::StateStore;

pub struct PatternStage {
    analyzer: Mutex<PatternAnalyzer>,
}

impl Default for PatternStage {
    fn default() -> Self {
        PatternStage::new(AnalyzerConfig::default())
    }
}

impl PatternStage {
    pub fn new(config: AnalyzerConfig) -> Self {
        PatternStage {
            analyzer: Mutex::new(PatternAnalyzer::new(config, Default::default())),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PatternAnalyzer> {
        // A panic in one batch must not stop every later batch from being analyzed.
        self.analyzer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl Enricher for PatternStage {
    fn enrich(&self, records: &mut [Record]) -> Vec<Row> {
        let summary = self.lock().analyze(records, Utc::now());
        if !summary.new_patterns.is_empty() || !summary.trending.is_empty() {
            tracing::info!(
                records = summary.records,
                patterns = summary.patterns,
                new_patterns = summary.new_patterns.len(),
                trending = summary.trending.len(),
                new_correlations = summary.new_correlations.len(),
                broken_correlations = summary.broken_correlations.len(),
                "pattern analysis"
            );
        }
        Vec::new()
    }

    async fn load_state(&self, store: &dyn StateStore) -> anyhow::Result<()> {
        let config = self.lock().config().clone();
        let stored = db::load(store, db::DEFAULT_KEY, &config.db_limits, Utc::now()).await?;
        // Without the stored transitions every principal's next call would look unseen
        // until the first save: the models weigh sequence surprise.
        let sequences = sequence::load(store, sequence::DEFAULT_KEY, config.sequence_order).await?;
        let mut analyzer = self.lock();
        analyzer.replace_db(stored);
        if let Some(model) = sequences {
            analyzer.replace_sequence_model(model);
        }
        Ok(())
    }

    async fn save_state(&self, store: &dyn StateStore) -> anyhow::Result<()> {
        let (delta, sequences) = {
            let mut analyzer = self.lock();
            (analyzer.take_delta(), analyzer.take_sequence_delta())
        };
        let merged = match db::persist(store, db::DEFAULT_KEY, &delta, Utc::now()).await {
            Ok(merged) => merged,
            Err(e) => {
                self.lock().restore_deltas(Some(&delta), &sequences);
                return Err(e.into());
            }
        };
        self.lock().replace_db(merged);
        match sequence::persist(store, sequence::DEFAULT_KEY, &sequences).await {
            Ok(model) => self.lock().replace_sequence_model(model),
            Err(e) => {
                self.lock().restore_deltas(None, &sequences);
                return Err(e.into());
            }
        }
        Ok(())
    }
}

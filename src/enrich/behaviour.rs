//! The behaviour stage of enrichment: every CloudTrail record gains its `BehaviourFlags`
//! from a [`Behaviour`] history shared by the batches of a warm function and merged with
//! every other function's through the state prefix.

use std::sync::Mutex;

use async_trait::async_trait;

use super::{Enricher, Row};
use crate::behaviour::{self, Behaviour};
use crate::record::Record;
use crate::state::StateStore;

/// Flags each principal's unusual calls against its own history.
#[derive(Default)]
pub struct BehaviourStage {
    history: Mutex<Behaviour>,
}

impl BehaviourStage {
    fn lock(&self) -> std::sync::MutexGuard<'_, Behaviour> {
        // A panic in one batch must not stop every later batch from being analyzed.
        self.history.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl Enricher for BehaviourStage {
    fn enrich(&self, records: &mut [Record]) -> Vec<Row> {
        self.lock().analyze(records);
        Vec::new()
    }

    async fn load_state(&self, store: &dyn StateStore) -> anyhow::Result<()> {
        let mut loaded = Behaviour::new(self.lock().config().clone());
        loaded.load(store).await?;
        self.lock().adopt(loaded.view().clone());
        Ok(())
    }

    async fn save_state(&self, store: &dyn StateStore) -> anyhow::Result<()> {
        let (delta, config) = {
            let mut history = self.lock();
            (history.take_delta(), history.config().clone())
        };
        match behaviour::persist(store, &delta, &config).await {
            Ok(merged) => {
                self.lock().adopt(merged);
                Ok(())
            }
            Err(e) => {
                self.lock().restore_delta(delta);
                Err(e.into())
            }
        }
    }
}

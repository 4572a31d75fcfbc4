//! The blocking side of one object: records collect into batches, each full batch is
//! enriched and serialized and handed to the async side, which delivers it.

use std::collections::HashSet;
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::enrich::Enricher;
use crate::formats::{RecordSink, Stop};
use crate::record::{Record, RecordId, Reject, Row};

/// One batch, ready to deliver.
pub(super) struct Batch {
    pub rows: Vec<Row>,
    pub alerts: Vec<Row>,
    pub rejects: Vec<Reject>,
    /// Every record with a lower ordinal is in this or an earlier batch.
    pub next_ordinal: u64,
}

/// Rejects handed over at once: an object of nothing but junk lines must not hold them all
/// in memory until its end (each keeps up to 64 KiB of raw text).
const REJECT_CHUNK: usize = 5_000;
const REJECT_CHUNK_BYTES: usize = 2 * 1024 * 1024;

/// Collects records on the blocking thread, enriches and serializes each full batch and
/// hands it to the async side. Back-pressure: the channel holds at most two batches.
pub(super) struct BatchingSink {
    pub tx: mpsc::Sender<Batch>,
    pub enricher: Arc<dyn Enricher>,
    pub records: Vec<Record>,
    pub bytes_estimate: usize,
    pub rejects: Vec<Reject>,
    /// Raw bytes held by `rejects`.
    pub reject_bytes: usize,
    pub next_ordinal: u64,
    /// Delivered by an invocation that stopped mid-batch: not sent again.
    pub already_delivered: HashSet<RecordId>,
    pub batch_records: usize,
    pub batch_bytes: usize,
}

impl BatchingSink {
    pub fn flush(&mut self) -> Result<(), Stop> {
        if self.records.is_empty() && self.rejects.is_empty() {
            return Ok(());
        }
        let mut records = std::mem::take(&mut self.records);
        let alerts = self.enricher.enrich(&mut records);
        let rows = records.iter().map(Row::from_record).collect();
        let batch = Batch {
            rows,
            alerts,
            rejects: std::mem::take(&mut self.rejects),
            next_ordinal: self.next_ordinal,
        };
        self.bytes_estimate = 0;
        self.reject_bytes = 0;
        self.hand_over(batch)
    }

    /// Hands the rejects collected so far over on their own. The records still waiting
    /// keep the checkpoint below them.
    fn flush_rejects(&mut self) -> Result<(), Stop> {
        let next_ordinal = self
            .records
            .first()
            .map_or(self.next_ordinal, |r| r.ordinal);
        let batch = Batch {
            rows: Vec::new(),
            alerts: Vec::new(),
            rejects: std::mem::take(&mut self.rejects),
            next_ordinal,
        };
        self.reject_bytes = 0;
        self.hand_over(batch)
    }

    fn hand_over(&mut self, batch: Batch) -> Result<(), Stop> {
        self.tx
            .blocking_send(batch)
            .map_err(|_| Stop("delivery stopped".into()))
    }
}

impl RecordSink for BatchingSink {
    fn record(&mut self, record: Record) -> Result<(), Stop> {
        self.next_ordinal = record.ordinal + 1;
        if !self.already_delivered.is_empty() && self.already_delivered.remove(&record.id) {
            return Ok(());
        }
        self.bytes_estimate += 64 + record.columns.len() * 32;
        for (_, v) in &record.columns {
            if let Some(t) = v.as_text() {
                self.bytes_estimate += t.len();
            }
        }
        self.records.push(record);
        if self.records.len() >= self.batch_records || self.bytes_estimate >= self.batch_bytes {
            self.flush()?;
        }
        Ok(())
    }

    fn reject(&mut self, reject: Reject) -> Result<(), Stop> {
        self.reject_bytes += reject.raw.len() + reject.reason.len();
        self.rejects.push(reject);
        if self.rejects.len() >= REJECT_CHUNK || self.reject_bytes >= REJECT_CHUNK_BYTES {
            self.flush_rejects()?;
        }
        Ok(())
    }
}

//! Where records go after the pure stages: Sentinel through the Logs Ingestion API
//! ([`sentinel`]), and the dead letter ([`dead_letter`]) for rows Sentinel would not take.

pub mod dead_letter;
pub mod health;
pub mod sentinel;

use std::sync::Arc;
use std::time::Instant;

use crate::record::{LogType, Record, RecordId, Table};

use dead_letter::{DeadLetter, DeadLetterError, DeadLetterWrite};
use sentinel::{DeliveryReport, SentinelClient};

/// One serialized row on its way to Sentinel.
///
/// `json` is one JSON object (as written by [`crate::record::json::write_record`]); the
/// client puts it into request bodies verbatim.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub log_type: LogType,
    pub table: Table,
    pub record_id: RecordId,
    pub source_object: Arc<str>,
    /// Position of the record in its source object (for checkpoints).
    pub ordinal: u64,
    pub json: String,
}

impl Row {
    pub fn from_record(record: &Record) -> Row {
        Row {
            log_type: record.log_type,
            table: record.table(),
            record_id: record.id,
            source_object: record.source_object.clone(),
            ordinal: record.ordinal,
            json: record.to_json(),
        }
    }
}

/// One batch delivered: the client's report and what went to the dead letter.
#[derive(Debug, Default)]
pub struct Delivered {
    /// `report.failed` lists the rows now in the dead letter; `report.unsent` the rows the
    /// deadline left with the caller.
    pub report: DeliveryReport,
    pub dead_lettered: DeadLetterWrite,
}

/// Like [`deliver`], but rows the deadline left unsent are dead-lettered too (reason
/// `deadline`), so the whole batch is settled: for callers that would rather replay later
/// than keep rows (the CLI, or a Lambda that checkpoints only whole batches).
pub async fn deliver_settled(
    client: &SentinelClient,
    dead_letter: &DeadLetter,
    rows: Vec<Row>,
    deadline: Instant,
) -> Result<Delivered, DeadLetterError> {
    let mut report = client.send(rows, deadline).await;
    client.fail_unsent(&mut report);
    let dead_lettered = if report.failed.is_empty() {
        DeadLetterWrite::default()
    } else {
        dead_letter.write_failed(&report.failed).await?
    };
    Ok(Delivered {
        report,
        dead_lettered,
    })
}

/// Sends `rows` and writes the ones Sentinel did not accept to the dead letter, so that
/// every row is accepted, dead-lettered, or handed back in `report.unsent`. An error means
/// the dead letter itself could not be written: the caller must keep the rows (a Lambda
/// fails the invocation, so the event is delivered again).
pub async fn deliver(
    client: &SentinelClient,
    dead_letter: &DeadLetter,
    rows: Vec<Row>,
    deadline: Instant,
) -> Result<Delivered, DeadLetterError> {
    let report = client.send(rows, deadline).await;
    let dead_lettered = if report.failed.is_empty() {
        DeadLetterWrite::default()
    } else {
        dead_letter.write_failed(&report.failed).await?
    };
    Ok(Delivered {
        report,
        dead_lettered,
    })
}

//! Where records go after the pure stages: Sentinel through the Logs Ingestion API
//! ([`sentinel`]), and the dead letter ([`dead_letter`]) for rows Sentinel would not take.

pub mod sentinel;

use std::sync::Arc;

use crate::record::{LogType, Record, RecordId, Table};

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
    pub json: String,
}

impl Row {
    pub fn from_record(record: &Record) -> Row {
        Row {
            log_type: record.log_type,
            table: record.table(),
            record_id: record.id,
            source_object: record.source_object.clone(),
            json: record.to_json(),
        }
    }
}

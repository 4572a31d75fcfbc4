use std::sync::Arc;

use super::{LogType, Record, RecordId, Table};

/// One serialized row on its way to Sentinel.
///
/// `json` is one JSON object (as written by [`super::json::write_record`]); the
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

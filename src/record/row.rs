use std::sync::Arc;

use super::{LogType, Record, RecordId, Table};

/// One serialized row on its way to Sentinel.
///
/// `json` is one JSON object (as written by [`super::json::write_record`]); the
/// client puts it into request bodies verbatim.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The record's log type.
    pub log_type: LogType,
    /// The table the row goes to.
    pub table: Table,
    /// The record's id.
    pub record_id: RecordId,
    /// The object the record came from.
    pub source_object: Arc<str>,
    /// Position of the record in its source object (for checkpoints).
    pub ordinal: u64,
    /// The row as one JSON object.
    pub json: String,
}

impl Row {
    /// The row of `record`, serialized.
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

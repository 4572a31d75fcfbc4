//! The Sentinel-shaped row every parser produces and every later stage enriches.
//!
//! A [`Record`] is an ordered list of `(column, value)` pairs whose column names are the
//! documented columns of the destination built-in table (see [`tables`]) plus the connector's
//! own columns ([`columns`]). Column names are `&'static str`, so a row costs one allocation
//! per string value and nothing per name.

/// `Display` for a type that has a `name(self) -> &'static str`: it writes the name.
macro_rules! display_as_name {
    ($($ty:ty),+ $(,)?) => {$(
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    )+};
}
pub(crate) use display_as_name;

pub mod alert;
pub mod id;
pub mod json;
mod row;
pub mod tables;
pub mod time;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::value::RawValue;

pub use id::RecordId;
pub use row::Row;
pub use tables::{ColumnType, LogType, Table};

/// Column names the connector adds, in one place: the parsers, the enrichment stages, the
/// table schemas ([`tables::CONNECTOR_COLUMNS`]) and the Azure template all use these.
/// None of them is a column of any built-in AWS table (checked by
/// `tables::tests::connector_columns_collide_with_no_builtin_column`).
pub mod columns {
    pub const TIME_GENERATED: &str = "TimeGenerated";
    pub const SOURCE_LOG_TYPE: &str = "SourceLogType";
    pub const SOURCE_OBJECT: &str = "SourceObject";
    pub const EVENT_TIME: &str = "EventTime";
    /// Set when the event had no usable time of its own and `TimeGenerated` is its object's:
    /// `ObjectKey` (the key's timestamp or date partition) or `ObjectLastModified`.
    pub const TIME_GENERATED_FROM: &str = "TimeGeneratedFrom";
    pub const RECORD_ID: &str = "RecordId";
    /// Source fields with no column in the destination table, keyed by source field name.
    pub const ADDITIONAL_FIELDS: &str = "AdditionalFields";
    pub const ANOMALY_SCORE: &str = "AnomalyScore";
    pub const IS_ANOMALY: &str = "IsAnomaly";
    pub const ANOMALY_REASONS: &str = "AnomalyReasons";
    pub const LOG_CATEGORY: &str = "LogCategory";
    pub const LOG_CATEGORY_CONFIDENCE: &str = "LogCategoryConfidence";
    pub const PRIORITY_SCORE: &str = "PriorityScore";
    pub const PRIORITY: &str = "Priority";
    pub const MODEL_VERSION: &str = "ModelVersion";
    pub const PATTERN_ID: &str = "PatternId";
    pub const PATTERN_TEMPLATE: &str = "PatternTemplate";
    pub const PATTERN_FLAGS: &str = "PatternFlags";
    pub const SEQUENCE_SCORE: &str = "SequenceScore";
    /// Detection rules the record matched: `[{"id", "title", "level"}]`.
    pub const DETECTION_RULES: &str = "DetectionRules";
    /// What the record's principal did that it does not usually do: `["new_api", ...]`.
    pub const BEHAVIOUR_FLAGS: &str = "BehaviourFlags";
}

/// Column names are mostly the same `&'static str` constants on both sides, so the
/// address settles most comparisons; a different name of the same length is usually told
/// apart by its first byte, before a full compare.
#[inline]
fn same_name(column: &str, name: &str) -> bool {
    column.len() == name.len()
        && (std::ptr::eq(column.as_ptr(), name.as_ptr())
            || (column.as_bytes().first() == name.as_bytes().first() && column == name))
}

/// One cell. `Json` holds raw JSON text and is written as nested JSON (for `dynamic`
/// columns); a `string` column that documents JSON content gets `Str` with the JSON text.
#[derive(Debug, Clone)]
pub enum Value {
    /// Text: a `string` column, or JSON text a `string` column documents.
    Str(String),
    /// A whole number (`int` or `long`).
    Int(i64),
    /// A `real`.
    Real(f64),
    /// A `boolean`.
    Bool(bool),
    /// A `datetime`.
    Time(DateTime<Utc>),
    /// Raw JSON text for a `dynamic` column.
    Json(Box<RawValue>),
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Real(a), Value::Real(b)) => a == b,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Time(a), Value::Time(b)) => a == b,
            (Value::Json(a), Value::Json(b)) => a.get() == b.get(),
            _ => false,
        }
    }
}

impl Value {
    /// The text of a `Str`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A whole number, from an `Int`, a whole `Real` or a numeric `Str`.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Real(f) if f.fract() == 0.0 => Some(*f as i64),
            Value::Str(s) => s.parse().ok(),
            _ => None,
        }
    }

    /// A number, from an `Int`, a `Real` or a numeric `Str`.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Real(f) => Some(*f),
            Value::Str(s) => s.parse().ok(),
            _ => None,
        }
    }

    /// A `Bool`, or a `Str` that says `true` or `false` in any case.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::Str(s) if s.eq_ignore_ascii_case("true") => Some(true),
            Value::Str(s) if s.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        }
    }

    /// The time of a `Time`.
    pub fn as_time(&self) -> Option<DateTime<Utc>> {
        match self {
            Value::Time(t) => Some(*t),
            _ => None,
        }
    }

    /// Raw JSON text of a `Json` value, or the text of a `Str`.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            Value::Json(raw) => Some(raw.get()),
            _ => None,
        }
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}
impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_owned())
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}
impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::Real(f)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<DateTime<Utc>> for Value {
    fn from(t: DateTime<Utc>) -> Self {
        Value::Time(t)
    }
}
impl From<Box<RawValue>> for Value {
    fn from(raw: Box<RawValue>) -> Self {
        Value::Json(raw)
    }
}

/// A row bound for one Sentinel table.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// What kind of log the record came from; decides its table.
    pub log_type: LogType,
    /// The event's own time; becomes both `TimeGenerated` and `EventTime`.
    pub time: Option<DateTime<Utc>>,
    /// Table columns and enrichment columns, in insertion order. `TimeGenerated`,
    /// `SourceLogType`, `SourceObject`, `EventTime` and `RecordId` are not stored here: the
    /// writer derives them from the fields below.
    pub columns: Vec<(&'static str, Value)>,
    /// The deterministic id, set by the emitter.
    pub id: RecordId,
    /// Position of the record in its object, counting from 0 (rejects do not count).
    pub ordinal: u64,
    /// The object it came from (`s3://bucket/key` or a path).
    pub source_object: Arc<str>,
}

impl Record {
    /// An empty record of `log_type`.
    pub fn new(log_type: LogType) -> Self {
        Record {
            log_type,
            time: None,
            columns: Vec::with_capacity(24),
            id: RecordId::default(),
            ordinal: 0,
            source_object: Arc::from(""),
        }
    }

    /// An empty record of `log_type` for an event at `time`.
    pub fn at(log_type: LogType, time: DateTime<Utc>) -> Self {
        Record {
            time: Some(time),
            ..Record::new(log_type)
        }
    }

    /// A record of `log_type` with these columns, in order (tests build theirs this way).
    #[cfg(test)]
    pub fn with_columns<V: Into<Value>>(
        log_type: LogType,
        columns: impl IntoIterator<Item = (&'static str, V)>,
    ) -> Self {
        let mut r = Record::new(log_type);
        for (name, value) in columns {
            r.push(name, value);
        }
        r
    }

    /// The table the record goes to.
    pub fn table(&self) -> Table {
        self.log_type.table()
    }

    /// Appends a column; `None` leaves it out (Sentinel shows missing columns as empty).
    pub fn push(&mut self, name: &'static str, value: impl Into<Value>) {
        self.columns.push((name, value.into()));
    }

    /// Appends a column when there is a value.
    pub fn push_opt<V: Into<Value>>(&mut self, name: &'static str, value: Option<V>) {
        if let Some(v) = value {
            self.columns.push((name, v.into()));
        }
    }

    /// Sets a column, replacing an existing value of the same name.
    pub fn set(&mut self, name: &'static str, value: impl Into<Value>) {
        let value = value.into();
        match self.columns.iter_mut().find(|(n, _)| same_name(n, name)) {
            Some(slot) => slot.1 = value,
            None => self.columns.push((name, value)),
        }
    }

    /// The value of a column.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.columns
            .iter()
            .find(|(n, _)| same_name(n, name))
            .map(|(_, v)| v)
    }

    /// The text of a column: a `Str`, or the JSON text of a `Json`.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(Value::as_text)
    }

    /// Takes a column out, returning its value.
    pub fn remove(&mut self, name: &str) -> Option<Value> {
        let idx = self.columns.iter().position(|(n, _)| same_name(n, name))?;
        Some(self.columns.remove(idx).1)
    }

    /// The record as one JSON object, as sent to Sentinel and written by `process`.
    pub fn to_json(&self) -> String {
        let mut out = Vec::with_capacity(512);
        json::write_record(self, &mut out);
        // The writer only emits valid UTF-8.
        String::from_utf8(out).expect("record JSON is UTF-8")
    }
}

/// A line or value that could not be parsed, kept with the reason so nothing is lost in
/// silence.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Reject {
    /// The object the input came from.
    #[serde(rename = "SourceObject")]
    pub source_object: String,
    /// 1-based line number where the bad input starts, when the format is line-based.
    #[serde(rename = "Line", skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// Byte offset of the bad input in the decoded stream.
    #[serde(rename = "Offset")]
    pub offset: u64,
    /// The log type the parser expected.
    #[serde(rename = "SourceLogType")]
    pub log_type: String,
    /// Why the input could not be parsed.
    #[serde(rename = "Reason")]
    pub reason: String,
    /// The raw text (lossy UTF-8), cut at [`Reject::MAX_RAW`] bytes.
    #[serde(rename = "Raw")]
    pub raw: String,
}

impl Reject {
    /// Bytes of raw input kept per reject.
    pub const MAX_RAW: usize = 64 * 1024;

    /// `raw` as lossy UTF-8, cut at [`Reject::MAX_RAW`] bytes.
    pub fn raw_text(raw: &[u8]) -> String {
        let cut = &raw[..raw.len().min(Self::MAX_RAW)];
        String::from_utf8_lossy(cut).into_owned()
    }
}

/// The longest start of `text` no longer than `max_bytes` that ends on a character
/// boundary.
pub fn prefix_within(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// `text` cut to at most `max_bytes` (on a character boundary), with `…` where it was cut.
pub fn clipped(text: &str, max_bytes: usize) -> String {
    let prefix = prefix_within(text, max_bytes);
    if prefix.len() == text.len() {
        text.to_string()
    } else {
        format!("{prefix}…")
    }
}

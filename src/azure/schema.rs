//! Stream declarations, workspace columns and data flows, derived from `record::tables`.
//!
//! The connector posts each table's rows, with their plain column names (the table's own
//! plus [`CONNECTOR_COLUMNS`]), to the DCR input stream `Custom-<Table>`. A data flow takes
//! the stream to the table:
//!
//! - built-in tables (`outputStream: Microsoft-<Table>`) keep only their documented columns
//!   and custom columns named `<Name>_CF`, so the transform renames the connector columns
//!   (`project-rename RecordId_CF = RecordId, ...`);
//! - the connector's custom tables (`outputStream: Custom-<Table>_CL`) hold every column
//!   under its own name (`transformKql: source`).

use std::collections::BTreeMap;

use serde_json::Value as Json;

use crate::record::tables::{CONNECTOR_COLUMNS, ColumnType};
use crate::record::{LogType, Table, time};

/// Suffix Azure requires on custom columns added to a built-in table.
pub const CUSTOM_COLUMN_SUFFIX: &str = "_CF";

/// A DCR holds at most this many data flows and stream declarations (Azure Monitor service
/// limits, "Data collection rules").
pub const MAX_DATA_FLOWS_PER_DCR: usize = 10;

/// A transformation may hold at most this many characters.
pub const MAX_TRANSFORM_CHARS: usize = 15_360;

/// Names Azure reserves or uses itself (Logs Ingestion API overview and "create a custom
/// table"); a column the connector creates may not use them.
pub const RESERVED_COLUMN_NAMES: &[&str] = &[
    "id",
    "BilledSize",
    "IsBillable",
    "InvalidTimeGenerated",
    "TenantId",
    "Title",
    "Type",
    "UniqueId",
    "_ItemId",
    "_ResourceGroup",
    "_ResourceId",
    "_SubscriptionId",
    "_TimeReceived",
];

/// Columns Azure fills itself in every table; nobody sends them, and coverage leaves them
/// out.
pub const STANDARD_COLUMNS: &[&str] = &[
    "TenantId",
    "Type",
    "_IsBillable",
    "_BilledSize",
    "SourceSystem",
];

/// Whether `name` may be a column Azure accepts: starts with a letter, 2 to 45 characters
/// of `[A-Za-z0-9_]`, not reserved.
pub fn check_column_name(name: &str) -> Result<(), String> {
    if !(2..=45).contains(&name.len()) {
        return Err(format!("{name:?} must have 2 to 45 characters"));
    }
    if !name.as_bytes()[0].is_ascii_alphabetic() {
        return Err(format!("{name:?} must start with a letter"));
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(format!(
            "{name:?} may only hold letters, digits and underscores"
        ));
    }
    if RESERVED_COLUMN_NAMES.contains(&name) {
        return Err(format!("{name:?} is a reserved column name"));
    }
    Ok(())
}

/// The tables the connector writes to: every log type's table and the alert table, in
/// [`Table::ALL`] order. (AWSELBFlowLogs is documented but never produced.)
pub fn produced_tables() -> Vec<Table> {
    Table::ALL
        .into_iter()
        .filter(|t| *t == Table::S3SentinelAlerts || LogType::ALL.iter().any(|l| l.table() == *t))
        .collect()
}

/// The log types whose rows land in `table`.
pub fn log_types_of(table: Table) -> Vec<LogType> {
    LogType::ALL
        .into_iter()
        .filter(|l| l.table() == table)
        .collect()
}

/// The name a connector column has in `table` in the workspace.
pub fn workspace_name(table: Table, column: &str) -> String {
    if table.is_built_in() && is_connector_column(column) {
        format!("{column}{CUSTOM_COLUMN_SUFFIX}")
    } else {
        column.to_string()
    }
}

/// Whether `name` is one of [`CONNECTOR_COLUMNS`].
pub fn is_connector_column(name: &str) -> bool {
    CONNECTOR_COLUMNS.iter().any(|(n, _)| *n == name)
}

/// The columns the workspace table has for the connector's rows: the documented (or
/// custom-table) columns and the connector columns under their workspace names.
pub fn workspace_columns(table: Table) -> Vec<(String, ColumnType)> {
    table
        .columns()
        .iter()
        .chain(CONNECTOR_COLUMNS)
        .map(|(name, ty)| (workspace_name(table, name), *ty))
        .collect()
}

/// The columns the template has to create: the `_CF` columns of a built-in table, or every
/// column of a custom table.
pub fn created_columns(table: Table) -> Vec<(String, ColumnType)> {
    if table.is_built_in() {
        CONNECTOR_COLUMNS
            .iter()
            .map(|(name, ty)| (workspace_name(table, name), *ty))
            .collect()
    } else {
        workspace_columns(table)
    }
}

/// Where a data flow delivers `table`'s rows.
pub fn output_stream(table: Table) -> String {
    if table.is_built_in() {
        format!("Microsoft-{}", table.name())
    } else {
        format!("Custom-{}", table.name())
    }
}

/// The transformation of `table`'s data flow.
pub fn transform_kql(table: Table) -> String {
    if !table.is_built_in() {
        return "source".to_string();
    }
    let renames: Vec<String> = CONNECTOR_COLUMNS
        .iter()
        .map(|(name, _)| format!("{} = {name}", workspace_name(table, name)))
        .collect();
    format!("source | project-rename {}", renames.join(", "))
}

/// One `streamDeclarations` entry: the stream's name and its columns, exactly the keys
/// and types of the rows the connector posts to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamDeclaration {
    /// Stream name, `Custom-<Table>` by default.
    pub name: String,
    /// The table whose rows the stream carries.
    pub table: Table,
    /// The table's columns, then [`CONNECTOR_COLUMNS`].
    pub columns: Vec<(&'static str, ColumnType)>,
}

impl StreamDeclaration {
    /// The declaration of a stream carrying `table`'s rows.
    pub fn new(name: impl Into<String>, table: Table) -> StreamDeclaration {
        StreamDeclaration {
            name: name.into(),
            table,
            columns: table
                .columns()
                .iter()
                .chain(CONNECTOR_COLUMNS)
                .copied()
                .collect(),
        }
    }

    /// The table's default stream (`Custom-<Table>`).
    pub fn for_table(table: Table) -> StreamDeclaration {
        StreamDeclaration::new(table.default_stream(), table)
    }

    /// The declared type of column `name`, if declared.
    pub fn column_type(&self, name: &str) -> Option<ColumnType> {
        self.columns
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| *t)
    }

    /// Checks one posted row (a JSON object) against the declaration: every key declared
    /// (unless `unknown` says to ignore undeclared ones) and every value of its column's
    /// type (`null` fits any column).
    pub fn check_row(
        &self,
        row: &serde_json::Map<String, Json>,
        unknown: UnknownColumns,
    ) -> Result<(), RowError> {
        for (key, value) in row {
            match self.column_type(key) {
                None if unknown == UnknownColumns::Ignore => {}
                None => return Err(RowError::Undeclared(key.clone())),
                Some(ty) => {
                    if !json_fits(ty, value) {
                        return Err(RowError::TypeMismatch {
                            column: key.clone(),
                            expected: ty,
                            found: json_kind(value),
                        });
                    }
                }
            }
        }
        Ok(())
    }
}

/// What to do with a property a row has but its stream does not declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnknownColumns {
    /// Refuse the request (400) naming the column: a mapping mistake shows at once.
    #[default]
    Reject,
    /// Drop the property and accept the row, which is what Azure does: only declared
    /// columns reach the transformation.
    Ignore,
}

/// Why a posted row does not fit its stream declaration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowError {
    /// The row has a property the stream does not declare.
    #[error("column '{0}' is not declared in the stream")]
    Undeclared(String),
    /// A value is not of its column's declared type.
    #[error("column '{column}' is declared as {} but holds a {found}", expected.name())]
    TypeMismatch {
        /// The column's name.
        column: String,
        /// Its declared type.
        expected: ColumnType,
        /// The JSON kind of the value (`string`, `integer`, ...).
        found: &'static str,
    },
}

/// Whether a JSON value can be stored in a column of type `ty` as sent on the wire.
pub fn json_fits(ty: ColumnType, value: &Json) -> bool {
    match (ty, value) {
        (_, Json::Null) => true,
        (ColumnType::Str, Json::String(_)) => true,
        (ColumnType::Int, Json::Number(n)) => n.as_i64().is_some_and(|i| i32::try_from(i).is_ok()),
        (ColumnType::Long, Json::Number(n)) => n.is_i64() || n.is_u64(),
        (ColumnType::Real, Json::Number(_)) => true,
        (ColumnType::Bool, Json::Bool(_)) => true,
        (ColumnType::DateTime, Json::String(s)) => time::parse_iso8601(s).is_some(),
        (ColumnType::Dynamic, _) => true,
        _ => false,
    }
}

fn json_kind(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "boolean",
        Json::Number(n) if n.is_f64() => "real number",
        Json::Number(_) => "integer",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    }
}

/// One `dataFlows` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFlow {
    /// The destination table.
    pub table: Table,
    /// Input stream, `Custom-<Table>`.
    pub stream: String,
    /// `Microsoft-<Table>` for a built-in table, `Custom-<Table>` for a custom one.
    pub output_stream: String,
    /// The `transformKql`: `source`, or renames of the connector columns to `_CF` names.
    pub transform_kql: String,
}

impl DataFlow {
    /// The data flow of `table`'s default stream.
    pub fn for_table(table: Table) -> DataFlow {
        DataFlow {
            table,
            stream: table.default_stream(),
            output_stream: output_stream(table),
            transform_kql: transform_kql(table),
        }
    }
}

/// Table name -> stream name for `tables`, in the JSON form `SENTINEL_STREAM_MAP` (and the
/// SAM parameter `SentinelStreamMap`) accepts.
pub fn stream_map(tables: &[Table]) -> BTreeMap<String, String> {
    tables
        .iter()
        .map(|t| (t.name().to_string(), t.default_stream()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_follow_the_rules() {
        assert!(check_column_name("RecordId_CF").is_ok());
        assert!(check_column_name("Type").unwrap_err().contains("reserved"));
        assert!(check_column_name("_ResourceId").is_err());
        assert!(check_column_name("1abc").unwrap_err().contains("letter"));
        assert!(check_column_name("a-b").is_err());
        assert!(check_column_name(&"a".repeat(46)).is_err());
        assert!(check_column_name(&"a".repeat(45)).is_ok());
    }

    #[test]
    fn built_in_tables_rename_connector_columns_and_custom_tables_keep_them() {
        let flow = DataFlow::for_table(Table::AwsCloudTrail);
        assert_eq!(flow.stream, "Custom-AWSCloudTrail");
        assert_eq!(flow.output_stream, "Microsoft-AWSCloudTrail");
        assert!(
            flow.transform_kql
                .starts_with("source | project-rename SourceLogType_CF = SourceLogType,")
        );
        assert!(flow.transform_kql.len() < MAX_TRANSFORM_CHARS);
        let flow = DataFlow::for_table(Table::AwsCloudFront);
        assert_eq!(flow.output_stream, "Custom-AWSCloudFront_CL");
        assert_eq!(flow.transform_kql, "source");
        let ws = workspace_columns(Table::AwsVpcFlow);
        assert!(ws.contains(&("RecordId_CF".to_string(), ColumnType::Str)));
        assert!(ws.contains(&("SrcAddr".to_string(), ColumnType::Str)));
        let ws = workspace_columns(Table::S3SentinelLogs);
        assert!(ws.contains(&("RecordId".to_string(), ColumnType::Str)));
        assert_eq!(
            created_columns(Table::AwsWaf).len(),
            CONNECTOR_COLUMNS.len()
        );
    }

    #[test]
    fn produced_tables_are_every_log_types_table_and_the_alerts() {
        let tables = produced_tables();
        assert!(!tables.contains(&Table::AwsElbFlowLogs));
        assert!(tables.contains(&Table::S3SentinelAlerts));
        assert!(tables.contains(&Table::S3SentinelLogs));
        for l in LogType::ALL {
            assert!(tables.contains(&l.table()), "{l}");
        }
    }

    #[test]
    fn rows_are_checked_by_name_and_type() {
        let decl = StreamDeclaration::for_table(Table::AwsVpcFlow);
        let row = |v: Json| v.as_object().unwrap().clone();
        let ok = row(
            json!({"SrcPort": 443, "Bytes": 5_000_000_000i64, "Action": "ACCEPT",
            "TimeGenerated": "2026-11-20T10:05:00Z", "AnomalyScore": 0.5, "IsAnomaly": false,
            "AnomalyReasons": ["x"], "Start": null}),
        );
        assert_eq!(decl.check_row(&ok, UnknownColumns::Reject), Ok(()));
        let bad = row(json!({"SrcPort": "443"}));
        assert!(matches!(
            decl.check_row(&bad, UnknownColumns::Reject),
            Err(RowError::TypeMismatch { ref column, expected: ColumnType::Int, found: "string" })
                if column == "SrcPort"
        ));
        let bad = row(json!({"SrcPort": 5_000_000_000i64}));
        assert!(decl.check_row(&bad, UnknownColumns::Reject).is_err());
        let bad = row(json!({"TimeGenerated": "yesterday"}));
        assert!(decl.check_row(&bad, UnknownColumns::Reject).is_err());
        let unknown = row(json!({"Nope": 1}));
        assert_eq!(
            decl.check_row(&unknown, UnknownColumns::Reject),
            Err(RowError::Undeclared("Nope".into()))
        );
        assert_eq!(decl.check_row(&unknown, UnknownColumns::Ignore), Ok(()));
    }
}

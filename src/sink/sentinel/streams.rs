//! Where each table's rows go: DCR input streams, and the naming rules they follow.

use std::collections::BTreeMap;

use crate::record::Table;

/// Which DCR input stream each table's rows are posted to. Tables without an entry use
/// [`Table::default_stream`]. A stream may name its own DCR (`dcr-<id>/Custom-X`) when the
/// tables are spread over several DCRs behind one endpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamMap {
    streams: BTreeMap<Table, String>,
}

impl StreamMap {
    /// The stream `table`'s rows go to: its entry or [`Table::default_stream`].
    pub fn stream_for(&self, table: Table) -> String {
        self.streams
            .get(&table)
            .cloned()
            .unwrap_or_else(|| table.default_stream())
    }

    /// Sends `table`'s rows to `stream`.
    pub fn set(&mut self, table: Table, stream: impl Into<String>) {
        self.streams.insert(table, stream.into());
    }

    /// Entries of `other` replace this map's.
    pub fn extend(&mut self, other: &StreamMap) {
        for (table, stream) in &other.streams {
            self.streams.insert(*table, stream.clone());
        }
    }

    /// The tables with an entry, and their streams.
    pub fn entries(&self) -> impl Iterator<Item = (Table, &str)> {
        self.streams.iter().map(|(t, s)| (*t, s.as_str()))
    }

    /// Table names (case-insensitive, `_CL` optional for custom tables) to stream names.
    pub fn from_names(names: &BTreeMap<String, String>) -> Result<StreamMap, String> {
        let mut map = StreamMap::default();
        for (table_name, stream) in names {
            let table = Table::from_name(table_name)
                .or_else(|| Table::from_name(&format!("{table_name}_CL")))
                .ok_or_else(|| {
                    let known: Vec<_> = Table::ALL.iter().map(|t| t.name()).collect();
                    format!(
                        "unknown table {table_name:?}; tables are: {}",
                        known.join(", ")
                    )
                })?;
            validate_stream_target(stream).map_err(|m| format!("table {table_name}: {m}"))?;
            map.set(table, stream.clone());
        }
        Ok(map)
    }

    /// A JSON object of table name -> stream name.
    pub fn parse_json(json: &str) -> Result<StreamMap, String> {
        let names: BTreeMap<String, String> = serde_json::from_str(json).map_err(|_| {
            "must be a JSON object of table name to DCR stream name, e.g. \
             {\"AWSCloudTrail\": \"Custom-AWSCloudTrail\"}"
                .to_string()
        })?;
        StreamMap::from_names(&names)
    }

    /// Parses `AWSCloudTrail=Custom-X,AWSVPCFlow=Custom-Y` (the command line's form).
    /// Parses `AWSCloudTrail=Custom-X,AWSVPCFlow=Custom-Y` (the CLI's form of a stream map).
    pub fn parse_pairs(text: &str) -> Result<StreamMap, String> {
        let mut map = BTreeMap::new();
        for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (table, stream) = pair
                .split_once('=')
                .ok_or_else(|| format!("expected TABLE=STREAM, got {pair:?}"))?;
            map.insert(table.trim().to_string(), stream.trim().to_string());
        }
        StreamMap::from_names(&map)
    }
}

/// Where a table's rows go: a stream of the configured DCR (`Custom-X`), or a stream of
/// another DCR behind the same ingestion endpoint (`dcr-<immutable id>/Custom-X`; a DCR
/// holds at most 10 streams, so a deployment writing to more tables needs several).
/// Where a table's rows go: a stream of the configured DCR (`Custom-X`), or a stream of
/// another DCR behind the same ingestion endpoint (`dcr-<immutable id>/Custom-X`; a DCR
/// holds at most 10 streams, so a deployment writing to more tables needs several).
pub fn validate_stream_target(target: &str) -> Result<(), String> {
    match split_stream_target(target) {
        (Some(dcr), stream) => {
            if !dcr.starts_with("dcr-")
                || dcr.len() < 5
                || !dcr.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            {
                return Err(format!(
                    "a stream target is \"Custom-<Name>\" or \"dcr-<immutable id>/Custom-<Name>\", \
                     got {}",
                    quoted(target)
                ));
            }
            validate_stream_name(stream)
        }
        (None, stream) => validate_stream_name(stream),
    }
}

/// `dcr-<id>/Custom-X` -> (`Some("dcr-<id>")`, `Custom-X`); `Custom-X` -> (`None`, `Custom-X`).
/// `dcr-<id>/Custom-X` -> (`Some("dcr-<id>")`, `Custom-X`); `Custom-X` -> (`None`, `Custom-X`).
pub fn split_stream_target(target: &str) -> (Option<&str>, &str) {
    match target.split_once('/') {
        Some((dcr, stream)) => (Some(dcr), stream),
        None => (None, target),
    }
}

/// DCR input streams start with `Custom-` (or `Microsoft-` for built-in streams) and use
/// the column-name alphabet.
/// DCR input streams start with `Custom-` (or `Microsoft-` for built-in streams) and use
/// the column-name alphabet.
pub fn validate_stream_name(stream: &str) -> Result<(), String> {
    let rest = stream
        .strip_prefix("Custom-")
        .or_else(|| stream.strip_prefix("Microsoft-"));
    match rest {
        Some(rest)
            if !rest.is_empty()
                && rest.len() <= 100
                && rest
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') =>
        {
            Ok(())
        }
        _ => Err(format!(
            "a stream name must be \"Custom-<Name>\" or \"Microsoft-<Name>\" (letters, digits, \
             '_'), got {}",
            quoted(stream)
        )),
    }
}

/// A value quoted for an error message, cut short so a pasted blob stays readable.
pub fn quoted(value: &str) -> String {
    const MAX: usize = 120;
    if value.chars().count() <= MAX {
        format!("{value:?}")
    } else {
        let cut: String = value.chars().take(MAX).collect();
        format!("{cut:?}…")
    }
}

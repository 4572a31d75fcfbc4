//! The Azure side as code: what the connector sends, described the way Azure Monitor wants
//! it, from the same column lists the pipeline uses (`record::tables`), so the workspace,
//! the data collection rule (DCR) and the Sentinel content cannot drift from the rows.
//!
//! - [`schema`]: the DCR input stream of each table (columns and types exactly as the
//!   connector emits them), the columns as they appear in the workspace (`_CF` custom
//!   columns on built-in tables), each data flow's `transformKql` and `outputStream`, the
//!   naming rules, and the wire-level check the emulator applies to every row.
//! - [`template`]: the ARM template (`s3-sentinel azure-template`).
//! - [`kql`]: a small KQL reader: identifiers of a query, and a checker for transforms and
//!   for Sentinel queries against the declared columns.
//! - [`content`]: Sentinel analytics rules, hunting queries and a workbook for the
//!   connector's ML columns (`s3-sentinel sentinel-content`).
//! - [`coverage`]: which documented columns of each built-in table the connector fills.
//!
//! Pure code: no network, no Azure SDK.

pub mod content;
pub mod coverage;
pub mod kql;
pub mod schema;
pub mod template;

pub use schema::{StreamDeclaration, UnknownColumns};

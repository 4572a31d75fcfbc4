//! Which documented columns of each built-in table the connector fills, measured on rows
//! it produced (`s3-sentinel process` output or records from the pipeline).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde_json::Value as Json;

use super::schema::STANDARD_COLUMNS;
use crate::record::{LogType, Table};

/// Columns seen with a value, per table.
#[derive(Debug, Default, Clone)]
pub struct Coverage {
    filled: BTreeMap<Table, BTreeSet<String>>,
    rows: BTreeMap<Table, u64>,
}

/// The result for one built-in table.
#[derive(Debug, Clone)]
pub struct TableCoverage {
    /// The built-in table.
    pub table: Table,
    /// Rows counted for the table.
    pub rows: u64,
    /// Documented columns, without the ones Azure fills itself.
    pub documented: Vec<&'static str>,
    /// Documented columns seen with a value in at least one row.
    pub filled: Vec<&'static str>,
    /// Documented columns never filled, with the reason.
    pub missing: Vec<(&'static str, &'static str)>,
}

impl TableCoverage {
    /// Share of the documented columns filled, 0..=100.
    pub fn percent(&self) -> f64 {
        if self.documented.is_empty() {
            return 0.0;
        }
        100.0 * self.filled.len() as f64 / self.documented.len() as f64
    }
}

impl Coverage {
    /// Counts one row (a JSON object as the connector sends it). Rows are attributed to a
    /// table by their `SourceLogType`; alert rows (they have `AlertName`) are skipped.
    pub fn add_row(&mut self, row: &serde_json::Map<String, Json>) -> Result<(), String> {
        if row.contains_key("AlertName") {
            return Ok(());
        }
        let log_type = row
            .get("SourceLogType")
            .and_then(Json::as_str)
            .ok_or("row without SourceLogType")?;
        let table = LogType::from_name(log_type)
            .ok_or_else(|| format!("unknown SourceLogType {log_type:?}"))?
            .table();
        *self.rows.entry(table).or_default() += 1;
        let filled = self.filled.entry(table).or_default();
        for (key, value) in row {
            if !value.is_null() && !filled.contains(key) {
                filled.insert(key.clone());
            }
        }
        Ok(())
    }

    /// One entry per built-in table the connector produces, in [`Table::BUILT_IN`] order.
    pub fn report(&self) -> Vec<TableCoverage> {
        super::schema::produced_tables()
            .into_iter()
            .filter(|t| t.is_built_in())
            .map(|table| {
                let seen = self.filled.get(&table);
                let documented: Vec<&'static str> = table
                    .columns()
                    .iter()
                    .map(|(n, _)| *n)
                    .filter(|n| !STANDARD_COLUMNS.contains(n))
                    .collect();
                let (filled, missing): (Vec<&'static str>, Vec<&'static str>) = documented
                    .iter()
                    .partition(|n| seen.is_some_and(|s| s.contains(**n)));
                TableCoverage {
                    table,
                    rows: self.rows.get(&table).copied().unwrap_or(0),
                    documented,
                    filled,
                    missing: missing
                        .into_iter()
                        .map(|c| (c, why_not_filled(table, c)))
                        .collect(),
                }
            })
            .collect()
    }
}

/// Why the connector leaves a documented column empty in the measured rows. Every
/// documented column has a source field the parsers read (or, for one, none exists); the
/// reason says when AWS writes that field.
pub fn why_not_filled(table: Table, column: &str) -> &'static str {
    use Table::*;
    match (table, column) {
        (AwsCloudTrail, "APIVersion") => "apiVersion: only some AwsApiCall events carry it",
        (AwsCloudTrail, "ServiceEventDetails") => {
            "serviceEventDetails: AwsServiceEvent events only"
        }
        (AwsCloudTrail, "UserIdentityStoreArn") => {
            "userIdentity.identityStoreArn: IAM Identity Center users only"
        }
        (AwsCloudTrail, "UserIdentityUserId") => {
            "userIdentity.userId: IAM Identity Center (identity store) users only"
        }
        (AwsVpcFlow, "SublocationId" | "SublocationType") => {
            "sublocation-id/-type (v5): flows in Outposts, Local Zones or Wavelength only"
        }
        (AwsWaf, "CaptchaResponse" | "ChallengeResponse") => {
            "captchaResponse/challengeResponse: only when a CAPTCHA or Challenge action ran"
        }
        (AwsWaf, "ExcludedRules") => "excludedRules: legacy rule-group exclusions only",
        (AwsWaf, "OversizeFields") => {
            "oversizeFields: requests beyond the web ACL's inspection size limits only"
        }
        (AwsWaf, "RequestHeadersInserted") => {
            "requestHeadersInserted: rules with custom request handling only"
        }
        (AwsWaf, "ResponseCodeSent") => "responseCodeSent: custom block responses only",
        (AwsS3ServerAccess, "Referer") => "Referer: \"-\" (no value) in every measured line",
        (AwsNetworkFirewallAlert, "PktSrc") => "pkt_src: newer alert logs only",
        (AwsNetworkFirewallAlert, "TxId") => "tx_id: alerts on application-layer transactions only",
        (AwsNetworkFirewallAlert, "VerdictAction") => "verdict.action: newer alert logs only",
        (AwsNetworkFirewallAlert, "Version") => {
            "no field of Network Firewall alert logs holds a log-schema or rule-format version"
        }
        (AwsNetworkFirewallFlow, "Ecn" | "Rst") => {
            "tcp.ecn/tcp.rst: present only when the flow saw that TCP flag"
        }
        (AwsAlbAccessLogs, "LambdaErrorReason") => {
            "lambda_error_reason: Lambda targets that failed only (else \"-\")"
        }
        (AwsNlbAccessLogs, "ChosenCertSerial") => {
            "chosen_cert_serial: TLS listeners with a matching certificate serial only"
        }
        (AwsNlbAccessLogs, "IncomingTLSAlert") => {
            "incoming_tls_alert: only when the client sent a TLS alert (else \"-\")"
        }
        _ => "filled when the source record has the field; none of the measured records did",
    }
}

/// A plain-text table of the report.
pub fn render(report: &[TableCoverage]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<26} {:>7} {:>7} {:>10} {:>9}",
        "table", "rows", "filled", "documented", "coverage"
    );
    let (mut filled, mut documented) = (0, 0);
    for t in report {
        if t.rows == 0 {
            let _ = writeln!(
                out,
                "{:<26} {:>7} {:>7} {:>10} {:>9}",
                t.table.name(),
                0,
                "-",
                t.documented.len(),
                "no rows"
            );
            continue;
        }
        filled += t.filled.len();
        documented += t.documented.len();
        let _ = writeln!(
            out,
            "{:<26} {:>7} {:>7} {:>10} {:>8.1}%",
            t.table.name(),
            t.rows,
            t.filled.len(),
            t.documented.len(),
            t.percent()
        );
    }
    let _ = writeln!(
        out,
        "{:<26} {:>7} {:>7} {:>10} {:>8.1}%",
        "tables with rows",
        "",
        filled,
        documented,
        100.0 * filled as f64 / documented.max(1) as f64
    );
    let _ = writeln!(out, "\ncolumns not filled:");
    for t in report.iter().filter(|t| t.rows > 0) {
        for (column, why) in &t.missing {
            let _ = writeln!(out, "  {}.{column}: {why}", t.table.name());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows_count_toward_their_log_types_table() {
        let mut c = Coverage::default();
        let row = json!({"SourceLogType": "WAF", "Action": "ALLOW", "Uri": null,
                         "TimeGenerated": "2026-11-20T10:00:00Z"});
        c.add_row(row.as_object().unwrap()).unwrap();
        c.add_row(json!({"AlertName": "x"}).as_object().unwrap())
            .unwrap();
        assert!(c.add_row(json!({"A": 1}).as_object().unwrap()).is_err());
        let report = c.report();
        let waf = report.iter().find(|t| t.table == Table::AwsWaf).unwrap();
        assert_eq!(waf.rows, 1);
        assert_eq!(waf.filled, vec!["Action", "TimeGenerated"]);
        assert!(waf.missing.iter().any(|(c, _)| *c == "Uri"));
        assert!(render(&report).contains("AWSWAF"));
    }
}

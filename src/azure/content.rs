//! Microsoft Sentinel content for the connector's ML and pattern columns, in Sentinel's own
//! formats: scheduled analytics rules and hunting queries (Azure-Sentinel YAML) and a
//! workbook (`Notebook/1.0` JSON). `s3-sentinel sentinel-content --out DIR` writes them;
//! the copies in `docs/sentinel/` are that output, and `tests/azure_template.rs` checks
//! both that they are current and that every query reads only tables and columns the
//! workspace has ([`workspace_tables`], the `_CF` names on built-in tables).
//!
//! Alert names are a contract with the code that writes `S3SentinelAlerts_CL`: the health
//! rule matches [`DRIFT_ALERT_PREFIX`] and [`DEAD_LETTER_ALERT_PREFIX`].

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Value as Json, json};

use super::schema;
use crate::record::Table;

pub use crate::record::alert::{DEAD_LETTER_ALERT_PREFIX, DRIFT_ALERT_PREFIX, STATE_ALERT_PREFIX};

/// Every workspace table a query may name, with its columns as the workspace has them.
pub fn workspace_tables() -> BTreeMap<String, Vec<String>> {
    Table::ALL
        .into_iter()
        .map(|t| {
            (
                t.name().to_string(),
                schema::workspace_columns(t)
                    .into_iter()
                    .map(|(n, _)| n)
                    .collect(),
            )
        })
        .collect()
}

/// An entity mapping: entity type and (identifier, column) pairs.
pub type EntityMapping = (&'static str, &'static [(&'static str, &'static str)]);

/// A scheduled analytics rule or a hunting query.
#[derive(Debug, Clone)]
pub struct ContentQuery {
    /// File name of its YAML under `analytics/` or `hunting/`.
    pub file: &'static str,
    /// Its fixed GUID.
    pub id: &'static str,
    /// Display name.
    pub name: &'static str,
    /// What it finds or looks for, shown in Sentinel.
    pub description: &'static str,
    /// When an analytics rule runs and what it raises; `None` for a hunting query.
    pub schedule: Option<Schedule>,
    /// MITRE ATT&CK tactics.
    pub tactics: &'static [&'static str],
    /// MITRE ATT&CK technique ids (`T1078`).
    pub techniques: &'static [&'static str],
    /// The KQL query.
    pub query: String,
    /// Entities Sentinel extracts from the result rows.
    pub entities: &'static [EntityMapping],
}

/// When a scheduled analytics rule runs and how severe its alerts are.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// Sentinel severity: `High`, `Medium`, `Low` or `Informational`.
    pub severity: &'static str,
    /// How often the rule runs, as a KQL timespan (`1h`).
    pub query_frequency: &'static str,
    /// How far back each run looks, as a KQL timespan.
    pub query_period: &'static str,
    /// An alert is raised when the query returns more rows than this.
    pub trigger_threshold: u32,
}

impl Schedule {
    /// Every hour over the last hour, an alert for any row.
    fn hourly(severity: &'static str) -> Option<Schedule> {
        Some(Schedule {
            severity,
            query_frequency: "1h",
            query_period: "1h",
            trigger_threshold: 0,
        })
    }
}

/// The built-in tables whose rows carry a principal or a source address, for `union`.
const ACTIVITY_TABLES: &str = "AWSCloudTrail, AWSVPCFlow, AWSWAF, AWSS3ServerAccess, \
AWSALBAccessLogs, AWSRoute53Resolver, AWSNetworkFirewallAlert, AWSNetworkFirewallFlow, \
AWSNetworkFirewallTls";

/// Every built-in table the connector writes to.
fn all_built_in() -> String {
    schema::produced_tables()
        .into_iter()
        .filter(|t| t.is_built_in())
        .map(|t| t.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Rows of every built-in table over the hunting period (7 days) that have `column`.
fn hunted_rows_with(column: &str) -> String {
    format!(
        "union withsource = SourceTable {}
| where TimeGenerated > ago(7d)
| where isnotempty({column})
",
        all_built_in()
    )
}

/// Rows of every built-in table (`all`) that pass `filter`, counted as `count` by `by` and
/// `bin` of time.
fn counted_over_time(all: &str, filter: &str, count: &str, by: &str, bin: &str) -> String {
    format!(
        "union withsource = SourceTable {all}
| where {filter}
| summarize {count} = count() by {by}, bin(TimeGenerated, {bin})
"
    )
}

/// The actor of an activity row: an AWS principal where the table has one, else the
/// source address.
const ACTOR_COLUMNS: &str = "| extend Principal = coalesce(UserIdentityArn, Requester),
    SourceAddress = coalesce(SourceIpAddress, SrcAddr, ClientIp, RemoteIp, SrcIp)";

const SENSITIVE_SERVICES: &str = r#"dynamic(["iam.amazonaws.com", "kms.amazonaws.com",
    "sts.amazonaws.com", "cloudtrail.amazonaws.com", "organizations.amazonaws.com",
    "secretsmanager.amazonaws.com", "guardduty.amazonaws.com", "config.amazonaws.com",
    "sso.amazonaws.com", "s3.amazonaws.com"])"#;

const ACCOUNT_AND_IP: &[EntityMapping] = &[
    ("Account", &[("FullName", "Principal")]),
    ("IP", &[("Address", "SourceAddress")]),
];

/// The scheduled analytics rules of the content.
pub fn analytics_rules() -> Vec<ContentQuery> {
    vec![
        ContentQuery {
            file: "S3Sentinel-CriticalHighPriorityRecord.yaml",
            id: "8ed443f2-63a5-41a3-a1da-7030b91edf3c",
            name: "S3 Sentinel connector - Critical or High priority AWS record",
            description: "AWS records the connector's priority model rated Critical or High \
(Priority_CF), with the anomaly score, the reasons and the category the models gave. \
RecordId_CF identifies the row; SourceObject_CF names the S3 object it came from.",
            schedule: Schedule::hourly("High"),
            tactics: &["InitialAccess", "PrivilegeEscalation", "DefenseEvasion", "Impact"],
            techniques: &["T1078", "T1562", "T1485"],
            query: format!(
                "union withsource = SourceTable {}
| where TimeGenerated > ago(1h)
| where Priority_CF in (\"Critical\", \"High\")
| summarize arg_min(TimeGenerated, *) by RecordId_CF
{ACTOR_COLUMNS}
| project TimeGenerated, EventTime_CF, SourceTable, SourceLogType_CF, Priority_CF,
    PriorityScore_CF, AnomalyScore_CF, AnomalyReasons_CF, LogCategory_CF, Principal,
    SourceAddress, PatternTemplate_CF, ModelVersion_CF, RecordId_CF, SourceObject_CF
",
                all_built_in()
            ),
            entities: ACCOUNT_AND_IP,
        },
        ContentQuery {
            file: "S3Sentinel-AnomalyBurstByActor.yaml",
            id: "07e0b28b-b6b8-4707-be30-40fb90d7ba92",
            name: "S3 Sentinel connector - Burst of anomalies from one principal or address",
            description: "At least 5 records flagged as anomalies (IsAnomaly_CF) within an hour \
from the same AWS principal, or from the same source address when the record has no \
principal. Many anomalies from one actor are more telling than any single one.",
            schedule: Schedule::hourly("Medium"),
            tactics: &["Discovery", "CredentialAccess", "Exfiltration"],
            techniques: &["T1087", "T1110", "T1530"],
            query: format!(
                "let threshold = 5;
union withsource = SourceTable {ACTIVITY_TABLES}
| where TimeGenerated > ago(1h)
| where IsAnomaly_CF == true
| summarize arg_min(TimeGenerated, *) by RecordId_CF
{ACTOR_COLUMNS}
| extend Actor = iff(isnotempty(Principal), Principal, SourceAddress)
| where isnotempty(Actor)
| summarize Anomalies = count(), MaxAnomalyScore = max(AnomalyScore_CF),
    Tables = make_set(SourceTable), Reasons = make_set(AnomalyReasons_CF, 20),
    FirstSeen = min(TimeGenerated), LastSeen = max(TimeGenerated),
    Principal = take_any(Principal), SourceAddress = take_any(SourceAddress) by Actor
| where Anomalies >= threshold
"
            ),
            entities: ACCOUNT_AND_IP,
        },
        ContentQuery {
            file: "S3Sentinel-NewTemplateOnSensitiveService.yaml",
            id: "0324535c-0870-469e-b6e2-37a2d47e2ab5",
            name: "S3 Sentinel connector - Never-seen event template on a sensitive AWS service",
            description: "A CloudTrail event on IAM, KMS, STS, CloudTrail, Organizations, \
Secrets Manager, GuardDuty, Config, SSO or S3 whose log template the connector's pattern \
miner had never seen before (PatternFlags_CF contains \"new\"). New shapes of calls to \
these services are rare in a settled account.",
            schedule: Schedule::hourly("Medium"),
            tactics: &["Persistence", "PrivilegeEscalation", "DefenseEvasion"],
            techniques: &["T1098", "T1562", "T1556"],
            query: format!(
                "let sensitive = {SENSITIVE_SERVICES};
AWSCloudTrail
| where TimeGenerated > ago(1h)
| where EventSource in (sensitive)
| where set_has_element(PatternFlags_CF, \"new\")
| summarize arg_min(TimeGenerated, *) by RecordId_CF
| extend Principal = coalesce(UserIdentityArn, UserIdentityPrincipalid), SourceAddress = SourceIpAddress
| project TimeGenerated, EventSource, EventName, Principal, SourceAddress, AWSRegion,
    RecipientAccountId, ErrorCode, PatternId_CF, PatternTemplate_CF, PatternFlags_CF,
    AnomalyScore_CF, Priority_CF, RecordId_CF
"
            ),
            entities: ACCOUNT_AND_IP,
        },
        ContentQuery {
            file: "S3Sentinel-ConnectorHealthAlerts.yaml",
            id: "7b9c89fc-17f7-4a7b-a065-fd7538b72605",
            name: "S3 Sentinel connector - Dead-lettered rows, model drift or damaged state",
            description: "Health alerts the connector writes to S3SentinelAlerts_CL: rows \
Sentinel refused that went to the dead letter (AlertName starting \"Dead-lettered rows\", \
one per table, stream and kind of refusal) and drift of the live data away from the \
models' training data (AlertName starting \"Model drift\") and state documents \
the connector could not use and set aside (AlertName starting \"Damaged state\"). Dead \
letters are replayed with `s3-sentinel replay` once the cause is fixed; drift calls for \
retraining; damaged state calls for a look at who can write the state bucket.",
            schedule: Schedule::hourly("Medium"),
            tactics: &["DefenseEvasion"],
            techniques: &["T1562"],
            query: format!(
                "S3SentinelAlerts_CL
| where TimeGenerated > ago(1h)
| where AlertName startswith \"{DEAD_LETTER_ALERT_PREFIX}\" or AlertName startswith \"{DRIFT_ALERT_PREFIX}\"
    or AlertName startswith \"{STATE_ALERT_PREFIX}\"
| summarize arg_min(TimeGenerated, *) by RecordId
| project TimeGenerated, AlertName, AlertSeverity, Description, AlertTrigger, SourceTable,
    SourceObject, ModelVersion, RecordId
"
            ),
            entities: &[],
        },
        ContentQuery {
            file: "S3Sentinel-IngestionStopped.yaml",
            id: "d5577cb7-e2fc-4202-863d-76c16e5edbae",
            name: "S3 Sentinel connector - A log type stopped arriving",
            description: "A log type that arrived through the connector during the last day \
has sent nothing for two hours: the S3 trigger, the function or the Azure side may be \
broken (see DCRLogErrors and the function's dead-letter alarm).",
            schedule: Some(Schedule {
                severity: "Low",
                query_frequency: "1h",
                query_period: "1d",
                trigger_threshold: 0,
            }),
            tactics: &["DefenseEvasion"],
            techniques: &["T1562"],
            query: format!(
                "union withsource = SourceTable {}
| extend Ingested = ingestion_time()
| where Ingested > ago(1d)
| where isnotempty(RecordId_CF)
| summarize LastIngested = max(Ingested), Rows = count() by SourceTable, SourceLogType_CF
| where LastIngested < ago(2h)
",
                all_built_in()
            ),
            entities: &[],
        },
    ]
}

/// The hunting queries of the content.
pub fn hunting_queries() -> Vec<ContentQuery> {
    vec![
        ContentQuery {
            file: "S3Sentinel-TopAnomalousPrincipals.yaml",
            id: "739a9982-bdfd-4f2a-b21d-bf70286a844f",
            name: "S3 Sentinel connector - Most anomalous AWS principals",
            description: "CloudTrail principals ranked by their anomalous calls over the \
hunting period, with the API calls and reasons behind the scores.",
            schedule: None,
            tactics: &["Discovery", "PrivilegeEscalation"],
            techniques: &["T1087", "T1078"],
            query: "AWSCloudTrail
| where TimeGenerated > ago(7d)
| where IsAnomaly_CF == true
| extend Principal = coalesce(UserIdentityArn, UserIdentityPrincipalid)
| summarize Anomalies = count(), MaxScore = max(AnomalyScore_CF),
    Calls = make_set(EventName, 20), Reasons = make_set(AnomalyReasons_CF, 20),
    SourceAddress = take_any(SourceIpAddress) by Principal
| top 25 by Anomalies desc
"
            .to_string(),
            entities: ACCOUNT_AND_IP,
        },
        ContentQuery {
            file: "S3Sentinel-RareTemplates.yaml",
            id: "36eb3fb7-c963-45f4-bfb0-e7e7bae34fb6",
            name: "S3 Sentinel connector - Rare log templates",
            description: "Log templates (PatternId_CF) seen at most three times in the hunting \
period across every table the connector fills: one-off shapes of activity.",
            schedule: None,
            tactics: &["Discovery", "Execution"],
            techniques: &["T1059"],
            query: hunted_rows_with("PatternId_CF")
                + "| summarize Occurrences = count(), FirstSeen = min(TimeGenerated),
    Example = take_any(RecordId_CF) by SourceTable, PatternId_CF, PatternTemplate_CF
| where Occurrences <= 3
| order by Occurrences asc
",
            entities: &[],
        },
        ContentQuery {
            file: "S3Sentinel-BackfilledRecords.yaml",
            id: "bf0e2fd9-6a4f-439f-987e-712208693666",
            name: "S3 Sentinel connector - Records whose event time is older than TimeGenerated",
            description: "Azure replaces a TimeGenerated more than two days old with the \
ingestion time; EventTime_CF keeps the event's own time. This lists backfilled or late \
records by how late they arrived, to hunt in old activity by its real time.",
            schedule: None,
            tactics: &["DefenseEvasion"],
            techniques: &["T1070"],
            query: hunted_rows_with("EventTime_CF")
                + "| extend DelayHours = datetime_diff(\"hour\", TimeGenerated, EventTime_CF)
| where DelayHours >= 48
| summarize Rows = count(), OldestEvent = min(EventTime_CF) by SourceTable, SourceObject_CF
| order by OldestEvent asc
",
            entities: &[],
        },
        ContentQuery {
            file: "S3Sentinel-UnusualSequences.yaml",
            id: "fbc3c81c-e6c2-4405-b83b-8c9eb609aace",
            name: "S3 Sentinel connector - Unusual event sequences",
            description: "Records whose place in their source's event sequence the pattern \
stage found unlikely (high SequenceScore_CF), with the templates around them.",
            schedule: None,
            tactics: &["Execution", "Persistence"],
            techniques: &["T1059", "T1098"],
            query: format!(
                "union withsource = SourceTable {ACTIVITY_TABLES}
| where TimeGenerated > ago(7d)
| where SequenceScore_CF >= 0.9
{ACTOR_COLUMNS}
| project TimeGenerated, SourceTable, SequenceScore_CF, PatternTemplate_CF, Principal,
    SourceAddress, AnomalyScore_CF, Priority_CF, RecordId_CF
| order by SequenceScore_CF desc
"
            ),
            entities: ACCOUNT_AND_IP,
        },
        ContentQuery {
            file: "S3Sentinel-ModelVersionScores.yaml",
            id: "94653b47-7a72-416a-9f67-5f41abe15f10",
            name: "S3 Sentinel connector - Scores per model version",
            description: "Anomaly rate and score percentiles per model version (ModelVersion_CF) \
and log type: a model swap that changes the rate sharply deserves a look before its \
alerts are trusted.",
            schedule: None,
            tactics: &["DefenseEvasion"],
            techniques: &["T1562"],
            query: hunted_rows_with("ModelVersion_CF")
                + "| extend Ingested = ingestion_time()
| summarize Rows = count(), Anomalies = countif(IsAnomaly_CF == true),
    P50 = percentile(AnomalyScore_CF, 50), P99 = percentile(AnomalyScore_CF, 99),
    FirstSeen = min(Ingested), LastSeen = max(Ingested)
    by ModelVersion_CF, SourceLogType_CF
| extend AnomalyRate = round(100.0 * Anomalies / Rows, 2)
",
            entities: &[],
        },
    ]
}

/// The workbook's queries: (title, query, visualization).
pub fn workbook_queries() -> Vec<(&'static str, String, &'static str)> {
    let all = all_built_in();
    vec![
        (
            "Records by priority",
            counted_over_time(
                &all,
                "isnotempty(Priority_CF)",
                "Records",
                "Priority_CF",
                "1h",
            ),
            "timechart",
        ),
        (
            "Anomalies by log type",
            counted_over_time(
                &all,
                "IsAnomaly_CF == true",
                "Anomalies",
                "SourceLogType_CF",
                "1h",
            ),
            "timechart",
        ),
        (
            "Top anomalous principals and addresses",
            format!(
                "union withsource = SourceTable {ACTIVITY_TABLES}
| where IsAnomaly_CF == true
| summarize arg_min(TimeGenerated, *) by RecordId_CF
{ACTOR_COLUMNS}
| extend Actor = iff(isnotempty(Principal), Principal, SourceAddress)
| where isnotempty(Actor)
| summarize Anomalies = count(), MaxScore = max(AnomalyScore_CF) by Actor
| top 20 by Anomalies desc
"
            ),
            "table",
        ),
        (
            "Template frequency",
            format!(
                "union withsource = SourceTable {all}
| where isnotempty(PatternId_CF)
| summarize Records = count(), New = countif(set_has_element(PatternFlags_CF, \"new\"))
    by PatternId_CF, PatternTemplate_CF, SourceLogType_CF
| top 50 by Records desc
"
            ),
            "table",
        ),
        (
            "Model versions",
            counted_over_time(
                &all,
                "isnotempty(ModelVersion_CF)",
                "Records",
                "ModelVersion_CF",
                "1d",
            ),
            "barchart",
        ),
        (
            "Connector alerts",
            "S3SentinelAlerts_CL
| summarize Alerts = count() by AlertSeverity, bin(TimeGenerated, 1h)
"
            .to_string(),
            "timechart",
        ),
    ]
}

/// The workbook (Azure Monitor workbook gallery format, `Notebook/1.0`).
pub fn workbook() -> Json {
    let mut items = vec![json!({
        "type": 1,
        "content": {
            "json": "## S3 Sentinel connector: ML and pattern columns\nPriority, anomalies, \
    the most anomalous actors, log templates and model versions of the rows the connector \
    sends to the AWS tables (`*_CF` columns) over the last 7 days."
        },
        "name": "header"
    })];
    for (i, (title, query, visualization)) in workbook_queries().into_iter().enumerate() {
        items.push(json!({
            "type": 3,
            "content": {
                "version": "KqlItem/1.0",
                "query": query,
                "size": 0,
                "title": title,
                "timeContext": {"durationMs": 604_800_000},
                "queryType": 0,
                "resourceType": "microsoft.operationalinsights/workspaces",
                "visualization": visualization,
            },
            "name": format!("query-{i}"),
        }));
    }
    json!({
        "version": "Notebook/1.0",
        "items": items,
        "fallbackResourceIds": [],
        "$schema": "https://github.com/Microsoft/Application-Insights-Workbooks/blob/master/schema/workbook.json"
    })
}

fn yaml_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn yaml_list(out: &mut String, key: &str, items: &[&str]) {
    if items.is_empty() {
        let _ = writeln!(out, "{key}: []");
        return;
    }
    let _ = writeln!(out, "{key}:");
    for item in items {
        let _ = writeln!(out, "  - {item}");
    }
}

fn yaml_block(out: &mut String, key: &str, text: &str) {
    let _ = writeln!(out, "{key}: |");
    for line in text.trim_end().lines() {
        if line.is_empty() {
            out.push('\n');
        } else {
            let _ = writeln!(out, "  {line}");
        }
    }
}

fn yaml_entities(out: &mut String, entities: &[EntityMapping]) {
    if entities.is_empty() {
        return;
    }
    let _ = writeln!(out, "entityMappings:");
    for (kind, fields) in entities {
        let _ = writeln!(out, "  - entityType: {kind}\n    fieldMappings:");
        for (identifier, column) in *fields {
            let _ = writeln!(
                out,
                "      - identifier: {identifier}\n        columnName: {column}"
            );
        }
    }
}

impl ContentQuery {
    /// The rule or query as Azure-Sentinel YAML.
    pub fn to_yaml(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "id: {}", self.id);
        let _ = writeln!(out, "name: {}", yaml_quote(self.name));
        let _ = writeln!(out, "description: {}", yaml_quote(self.description));
        if let Some(s) = &self.schedule {
            let _ = writeln!(out, "severity: {}", s.severity);
        }
        let _ = writeln!(out, "requiredDataConnectors: []");
        if let Some(s) = &self.schedule {
            let _ = writeln!(out, "queryFrequency: {}", s.query_frequency);
            let _ = writeln!(out, "queryPeriod: {}", s.query_period);
            let _ = writeln!(out, "triggerOperator: gt");
            let _ = writeln!(out, "triggerThreshold: {}", s.trigger_threshold);
        }
        yaml_list(&mut out, "tactics", self.tactics);
        yaml_list(&mut out, "relevantTechniques", self.techniques);
        yaml_block(&mut out, "query", &self.query);
        yaml_entities(&mut out, self.entities);
        let _ = writeln!(out, "version: 1.0.0");
        if self.schedule.is_some() {
            let _ = writeln!(out, "kind: Scheduled");
        }
        out
    }
}

/// The workspace function that returns one row per `RecordId` (the first ingested) and
/// every row without one: duplicates from an ambiguous retry or a killed function dropped
/// at query time. Installed by the ARM template; its body is also in docs/delivery.md.
pub const DISTINCT_FUNCTION: &str = "S3SentinelDistinct";
/// [`DISTINCT_FUNCTION`]'s parameter: the table to read.
pub const DISTINCT_PARAMETERS: &str = "TableName:string";
/// [`DISTINCT_FUNCTION`]'s body.
pub const DISTINCT_BODY: &str = r#"let rows = table(TableName)
    | extend S3SentinelId = tostring(column_ifexists("RecordId_CF", column_ifexists("RecordId", ""))),
             S3SentinelIngested = ingestion_time();
union
    (rows | where isempty(S3SentinelId)),
    (rows | where isnotempty(S3SentinelId) | summarize arg_min(S3SentinelIngested, *) by S3SentinelId)
| project-away S3SentinelId, S3SentinelIngested"#;

/// Every file of the content: path below the content folder, and text.
pub fn files() -> Vec<(String, String)> {
    let mut files = Vec::new();
    for rule in analytics_rules() {
        files.push((format!("analytics/{}", rule.file), rule.to_yaml()));
    }
    for query in hunting_queries() {
        files.push((format!("hunting/{}", query.file), query.to_yaml()));
    }
    let mut workbook = serde_json::to_string_pretty(&workbook()).expect("the workbook serializes");
    workbook.push('\n');
    files.push(("workbooks/S3SentinelConnector.json".to_string(), workbook));
    files
}

/// Every query of the content with where it comes from.
pub fn queries() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = analytics_rules()
        .into_iter()
        .map(|r| (format!("analytics/{}", r.file), r.query))
        .collect();
    out.extend(
        hunting_queries()
            .into_iter()
            .map(|q| (format!("hunting/{}", q.file), q.query)),
    );
    out.extend(
        workbook_queries()
            .into_iter()
            .map(|(title, q, _)| (format!("workbook: {title}"), q)),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_query_reads_only_workspace_columns() {
        let tables = workspace_tables();
        let lookup = |name: &str| tables.get(name).cloned();
        for (origin, query) in queries() {
            super::super::kql::check_query(&query, &lookup)
                .unwrap_or_else(|e| panic!("{origin}: {e}\n{query}"));
        }
    }

    #[test]
    fn yaml_quotes_and_blocks() {
        let rule = &analytics_rules()[0];
        let yaml = rule.to_yaml();
        assert!(yaml.starts_with("id: 8ed443f2-"));
        assert!(yaml.contains("kind: Scheduled\n"));
        assert!(yaml.contains("query: |\n  union withsource"));
        assert_eq!(yaml_quote("it's"), "'it''s'");
    }
}

//! The contract between what the connector sends and the Azure side it generates
//! (`s3-sentinel azure-template`): every column the pipeline emits is declared in its
//! stream with a compatible type, the transforms produce only columns the tables have,
//! names follow Azure's rules, the stream map is the connector's default, the emulator
//! enforces the same declarations, and the Sentinel content reads only existing columns.
//!
//! The project's own copy of the built-in tables' documented columns is
//! `src/record/tables.rs` (checked in); when `../shared/sentinel-tables` is present the
//! copy is compared with it too.

use crate::common;
use crate::delivery_support;

use s3_sentinel_connector::Enricher as _;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Cursor;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use s3_sentinel_connector::EmulatorOptions;
use s3_sentinel_connector::StreamMap;
use s3_sentinel_connector::kql;
use s3_sentinel_connector::sentinel_content;
use s3_sentinel_connector::{CONNECTOR_COLUMNS, ColumnType};
use s3_sentinel_connector::{Collect, Format};
use s3_sentinel_connector::{Coverage, coverage};
use s3_sentinel_connector::{LogType, Record, Table};
use s3_sentinel_connector::{ObjectJob, parse_object};
use s3_sentinel_connector::{StreamDeclaration, UnknownColumns, schema};
use s3_sentinel_connector::{TemplateOptions, template};

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn process(bytes: Vec<u8>, key: &str, format: Option<Format>) -> Vec<Record> {
    let mut sink = Collect::default();
    let mut job = ObjectJob::new(format!("s3://sample-logs/{key}"), key);
    job.format = format;
    parse_object(Cursor::new(bytes), &job, &mut sink).unwrap_or_else(|e| panic!("{key}: {e}"));
    sink.records
}

/// Records of every log type the project can produce from its own inputs: the bundled
/// fixtures (detected by key), generic JSON and text lines, and `../shared` samples (by
/// their manifest format) when present.
fn all_records() -> Vec<Record> {
    let fixtures = crate_dir().join("tests/fixtures");
    let mut paths = Vec::new();
    files(&fixtures, &mut paths);
    paths.sort();
    let mut records = Vec::new();
    for path in &paths {
        let key = path
            .strip_prefix(&fixtures)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        records.extend(process(std::fs::read(path).unwrap(), &key, None));
    }
    records.extend(process(
        br#"{"level":"info","time":"2026-11-20T10:00:30Z","msg":"up","n":3}
[{"a":1},{"b":[true,null]}]
"#
        .to_vec(),
        "local/app.jsonl",
        Some(Format::GenericJson),
    ));
    records.extend(process(
        b"2026-11-20T10:00:31Z worker 7 started\nno timestamp on this line\n".to_vec(),
        "local/app.log",
        Some(Format::Text),
    ));
    // Security Hub findings as EventBridge delivers them through Firehose.
    let finding = r#"{"SchemaVersion":"2018-10-08","Id":"f-1","ProductArn":"arn:aws:securityhub:us-east-1::product/aws/securityhub","ProductName":"Security Hub","GeneratorId":"security-control/IAM.6","AwsAccountId":"123456789012","Region":"us-east-1","Types":["Software and Configuration Checks"],"FirstObservedAt":"2026-11-20T09:00:00Z","LastObservedAt":"2026-11-20T10:00:00Z","CreatedAt":"2026-11-20T09:00:00Z","UpdatedAt":"2026-11-20T10:00:00Z","ProcessedAt":"2026-11-20T10:00:02Z","Severity":{"Label":"CRITICAL","Normalized":90},"Title":"Hardware MFA should be enabled for the root user","Description":"d","Remediation":{"Recommendation":{"Text":"t"}},"ProductFields":{"k":"v"},"Resources":[{"Type":"AwsAccount","Id":"AWS::::Account:123456789012"}],"Compliance":{"Status":"FAILED","SecurityControlId":"IAM.6","SecurityControlParameters":[],"StatusReasons":[{"ReasonCode":"x"}],"AssociatedStandards":[{"StandardsId":"s"}],"RelatedRequirements":["r"]},"Workflow":{"Status":"NEW"},"RecordState":"ACTIVE"}"#;
    let event = format!(
        r#"{{"version":"0","id":"e","detail-type":"Security Hub Findings - Imported","source":"aws.securityhub","account":"123456789012","time":"2026-11-20T10:00:03Z","region":"us-east-1","resources":[],"detail":{{"findings":[{finding}]}}}}"#
    );
    records.extend(process(
        format!("{event}{event}").into_bytes(),
        "firehose/securityhub/2026/11/20/10/sh-1-2026-11-20-10-00-00-abc",
        None,
    ));
    records.extend(shared_sample_records());
    records
}

fn shared_sample_records() -> Vec<Record> {
    let Some(shared) = common::shared_dir() else {
        return Vec::new();
    };
    let dir = shared.join("samples/aws");
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv")).expect("MANIFEST.tsv");
    let mut records = Vec::new();
    for line in manifest.lines().skip(1) {
        let cells: Vec<&str> = line.split('\t').collect();
        let (format, file) = (cells[0], cells[1]);
        let format = match format {
            "alb" | "nlb" | "elb" => Format::ElbAccess,
            other => match Format::from_name(other) {
                Some(f) => f,
                None => continue, // cloudtrail-digest: no records by design
            },
        };
        let bytes = std::fs::read(dir.join(file)).unwrap();
        records.extend(process(bytes, file, Some(format)));
    }
    records
}

/// The rows the connector sends for `records`: enriched by the default enrichment stages
/// (patterns, then the embedded models), alerts included.
fn enriched_rows(mut records: Vec<Record>) -> Vec<(Table, serde_json::Map<String, Value>)> {
    let enricher = s3_sentinel_connector::default_stages(Default::default(), None, None).unwrap();
    // The stages add columns to the records and return extra rows (alerts).
    let alerts = enricher.enrich(&mut records);
    records
        .iter()
        .map(s3_sentinel_connector::Row::from_record)
        .chain(alerts)
        .map(|row| {
            let object: serde_json::Map<String, Value> =
                serde_json::from_str(&row.json).unwrap_or_else(|e| panic!("{e}: {}", row.json));
            (row.table, object)
        })
        .collect()
}

#[test]
fn every_emitted_column_is_declared_in_its_stream_with_a_compatible_type() {
    let records = all_records();
    let log_types: BTreeSet<LogType> = records.iter().map(|r| r.log_type).collect();
    let rows = enriched_rows(records);
    let mut seen: BTreeMap<Table, BTreeSet<String>> = BTreeMap::new();
    for (table, row) in &rows {
        let declaration = StreamDeclaration::for_table(*table);
        declaration
            .check_row(row, UnknownColumns::Reject)
            .unwrap_or_else(|e| panic!("{table}: {e}: {row:?}"));
        seen.entry(*table).or_default().extend(row.keys().cloned());
    }
    // The bundled fixtures and the inline objects cover every log type but the transit
    // gateway and ALB connection variants; the ../shared samples add those.
    let required: Vec<LogType> = if common::shared_dir().is_some() {
        LogType::ALL.to_vec()
    } else {
        LogType::ALL
            .into_iter()
            .filter(|l| !matches!(l, LogType::TransitGatewayFlow | LogType::AlbConnection))
            .collect()
    };
    for required in required {
        assert!(log_types.contains(&required), "no {required} records");
    }
    // ...and the enrichment columns and alert rows are among what was checked.
    assert!(seen[&Table::AwsCloudTrail].contains("AnomalyScore"));
    assert!(seen[&Table::AwsCloudTrail].contains("PatternId"));
    assert!(seen.contains_key(&Table::S3SentinelAlerts), "no alert rows");
    eprintln!(
        "checked {} rows of {} log types ({log_types:?}) in {} tables",
        rows.len(),
        log_types.len(),
        seen.len()
    );
}

fn dcrs(template: &Value) -> Vec<&Value> {
    template["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["type"] == "Microsoft.Insights/dataCollectionRules")
        .collect()
}

fn declared_streams(template: &Value) -> BTreeMap<String, Vec<(String, String)>> {
    dcrs(template)
        .into_iter()
        .flat_map(|dcr| {
            dcr["properties"]["streamDeclarations"]
                .as_object()
                .unwrap()
                .iter()
        })
        .map(|(name, decl)| {
            let columns = decl["columns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    (
                        c["name"].as_str().unwrap().to_string(),
                        c["type"].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            (name.clone(), columns)
        })
        .collect()
}

fn column_type(name: &str) -> ColumnType {
    [
        ColumnType::Str,
        ColumnType::Int,
        ColumnType::Long,
        ColumnType::Real,
        ColumnType::Bool,
        ColumnType::DateTime,
        ColumnType::Dynamic,
    ]
    .into_iter()
    .find(|t| t.name() == name)
    .unwrap_or_else(|| panic!("{name} is not a DCR column type"))
}

/// `../shared/sentinel-tables/<Table>.tsv` without the columns Azure fills itself.
fn reference_columns(shared: &Path, table: &str) -> Option<BTreeSet<(String, String)>> {
    let text = std::fs::read_to_string(shared.join(format!("sentinel-tables/{table}.tsv"))).ok()?;
    Some(
        text.lines()
            .skip(1)
            .map(|l| {
                let cells: Vec<&str> = l.split('\t').collect();
                let ty = if cells[1] == "bool" {
                    "boolean"
                } else {
                    cells[1]
                };
                (cells[0].to_string(), ty.to_string())
            })
            .filter(|(c, _)| !schema::STANDARD_COLUMNS.contains(&c.as_str()))
            .collect(),
    )
}

#[test]
fn the_checked_in_column_lists_match_the_reference_tables() {
    let Some(shared) = common::shared_dir() else {
        return;
    };
    for table in Table::BUILT_IN {
        let reference = reference_columns(&shared, table.name())
            .unwrap_or_else(|| panic!("no reference TSV for {table}"));
        let ours: BTreeSet<(String, String)> = table
            .columns()
            .iter()
            .map(|(n, t)| (n.to_string(), t.name().to_string()))
            .collect();
        assert_eq!(
            ours, reference,
            "{table}: tables.rs differs from the reference"
        );
    }
}

#[test]
fn flows_transforms_and_names_follow_the_rules() {
    let template = template::arm_template(&TemplateOptions::default());
    let streams = declared_streams(&template);
    let shared = common::shared_dir();
    let created: BTreeMap<String, Vec<(String, String)>> = template["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["type"] == "Microsoft.OperationalInsights/workspaces/tables")
        .map(|r| {
            let schema = &r["properties"]["schema"];
            let columns = schema["columns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    (
                        c["name"].as_str().unwrap().to_string(),
                        c["type"].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            (schema["name"].as_str().unwrap().to_string(), columns)
        })
        .collect();

    let mut flows = Vec::new();
    for dcr in dcrs(&template) {
        let own = dcr["properties"]["dataFlows"].as_array().unwrap();
        assert!(own.len() <= schema::MAX_DATA_FLOWS_PER_DCR);
        // A flow only uses streams its own DCR declares.
        let declared = dcr["properties"]["streamDeclarations"].as_object().unwrap();
        assert_eq!(declared.len(), own.len());
        for flow in own {
            assert!(declared.contains_key(flow["streams"][0].as_str().unwrap()));
        }
        flows.extend(own.iter());
    }
    assert_eq!(flows.len(), schema::produced_tables().len());
    for flow in flows {
        let [stream] = flow["streams"].as_array().unwrap().as_slice() else {
            panic!("a flow with a transformation carries one stream");
        };
        let stream = stream.as_str().unwrap();
        let declared = streams
            .get(stream)
            .unwrap_or_else(|| panic!("{stream} is used by a data flow but not declared"));
        assert!(stream.starts_with("Custom-"));
        let output = flow["outputStream"].as_str().unwrap();
        let table_name = output
            .strip_prefix("Microsoft-")
            .or_else(|| output.strip_prefix("Custom-"))
            .unwrap();
        let table = Table::from_name(table_name).expect("a known table");
        assert_eq!(table.is_built_in(), output.starts_with("Microsoft-"));
        assert_eq!(table.is_built_in(), !table_name.ends_with("_CL"));
        assert_eq!(
            flow["destinations"],
            json!([template::DESTINATION]),
            "{stream}"
        );

        // Stream column names: Azure's rules, except documented columns of Microsoft's
        // own tables (AWSGuardDuty has `Title`, a reserved name for columns one creates).
        let declared_types: Vec<(&str, ColumnType)> = declared
            .iter()
            .map(|(n, t)| (n.as_str(), column_type(t)))
            .collect();
        for (name, _) in &declared_types {
            let documented = table.is_built_in() && table.columns().iter().any(|(c, _)| c == name);
            if !documented {
                schema::check_column_name(name).unwrap_or_else(|e| panic!("{stream}: {e}"));
            }
        }

        // The transformation: allowed operators, declared columns only; its output is the
        // table's shape.
        let transform = flow["transformKql"].as_str().unwrap();
        let output_columns = kql::check_transform(transform, &declared_types)
            .unwrap_or_else(|e| panic!("{stream}: {e}: {transform}"));
        let table_columns = &created[table.name()];
        for (name, ty) in &output_columns {
            let ty = ty.expect("renames keep the type").name();
            if table.is_built_in() && !name.ends_with("_CF") {
                // A documented column of the built-in table: in the project's copy...
                assert!(
                    table
                        .columns()
                        .iter()
                        .any(|(c, t)| c == name && t.name() == ty),
                    "{table}.{name} ({ty}) is not in tables.rs"
                );
                // ...and in the reference, when present.
                if let Some(shared) = &shared {
                    let reference = reference_columns(shared, table.name()).unwrap();
                    assert!(
                        reference.contains(&(name.clone(), ty.to_string())),
                        "{table}.{name} ({ty}) is not in ../shared/sentinel-tables"
                    );
                }
            } else {
                assert!(
                    table_columns.contains(&(name.clone(), ty.to_string())),
                    "{table}.{name} ({ty}) is not created by the template"
                );
            }
        }
        // Nothing is renamed away: every declared column reaches the table.
        assert_eq!(output_columns.len(), declared.len(), "{stream}");
    }

    // Every column the template creates follows the rules; built-in tables only get `_CF`.
    for (table_name, columns) in &created {
        let table = Table::from_name(table_name).unwrap();
        for (name, _) in columns {
            schema::check_column_name(name).unwrap_or_else(|e| panic!("{table_name}: {e}"));
            assert_eq!(
                table.is_built_in(),
                name.ends_with("_CF"),
                "{table_name}.{name}"
            );
        }
        if !table.is_built_in() {
            assert!(columns.contains(&("TimeGenerated".into(), "datetime".into())));
        }
        assert!(columns.len() <= 500, "{table_name}: more than 500 columns");
    }
}

/// Evaluates the stream map output as ARM would, with `dcr-<n>` for the n-th DCR's
/// immutable id: a JSON literal for one DCR, a `string(createObject(...))` expression for
/// several.
fn evaluate_stream_map(value: &str) -> String {
    let Some(inner) = value
        .strip_prefix("[string(createObject(")
        .and_then(|v| v.strip_suffix("))]"))
    else {
        return value.to_string();
    };
    // Top-level comma-separated arguments.
    let mut args = Vec::new();
    let (mut depth, mut quoted, mut start) = (0, false, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '\'' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                args.push(inner[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    args.push(inner[start..].trim());
    let literal = |a: &str| a.trim_matches('\'').to_string();
    let mut map = serde_json::Map::new();
    for pair in args.chunks(2) {
        let value = if pair[1].starts_with("concat(reference(") {
            let suffix = literal(pair[1].rsplit(", ").next().unwrap().trim_end_matches(')'));
            let n = pair[1]
                .split("parameters('dataCollectionRuleName'), '-")
                .nth(1)
                .and_then(|r| r.split('\'').next())
                .expect("a later DCR");
            format!("dcr-{n}{suffix}")
        } else {
            literal(pair[1])
        };
        map.insert(literal(pair[0]), Value::String(value));
    }
    Value::Object(map).to_string()
}

#[test]
fn the_stream_map_output_is_the_connectors_default() {
    let config = s3_sentinel_connector::sentinel_from_map(&std::collections::HashMap::from([
        (
            "SENTINEL_INGESTION_ENDPOINT",
            "https://x.eastus-1.ingest.monitor.azure.com",
        ),
        (
            "SENTINEL_DCR_IMMUTABLE_ID",
            "dcr-0123456789abcdef0123456789abcdef",
        ),
        ("AZURE_TENANT_ID", "t"),
        ("AZURE_CLIENT_ID", "c"),
        ("AZURE_CLIENT_SECRET", "s"),
    ]))
    .unwrap();
    let defaults = StreamMap::default();
    let subset = vec![
        Table::AwsCloudTrail,
        Table::AwsVpcFlow,
        Table::S3SentinelAlerts,
    ];
    for options in [
        TemplateOptions {
            tables: subset,
            ..TemplateOptions::default()
        },
        TemplateOptions::default(),
    ] {
        let template = template::arm_template(&options);
        let value = template["outputs"]["streamMap"]["value"].as_str().unwrap();
        // Paste-ready: the SAM parameter takes one line.
        assert!(!value.contains('\n'));
        let text = evaluate_stream_map(value);
        let parsed = StreamMap::parse_json(&text)
            .unwrap_or_else(|e| panic!("SENTINEL_STREAM_MAP refuses {text}: {e}"));
        let streams = declared_streams(&template);
        for (index, group) in options.dcr_groups().iter().enumerate() {
            for table in group {
                let target = parsed.stream_for(*table);
                let (dcr, stream) = s3_sentinel_connector::split_stream_target(&target);
                // The first DCR is SENTINEL_DCR_IMMUTABLE_ID: its streams need no prefix,
                // and they are the connector's defaults.
                if index == 0 {
                    assert_eq!(dcr, None);
                    assert_eq!(target, defaults.stream_for(*table), "{table}");
                    assert_eq!(target, config.streams.stream_for(*table), "{table}");
                } else {
                    assert_eq!(dcr, Some(format!("dcr-{}", index + 1).as_str()));
                }
                assert_eq!(stream, table.default_stream());
                assert!(streams.contains_key(stream), "{stream} not declared");
            }
        }
        assert_eq!(parsed.entries().count(), streams.len());
    }
}

#[test]
fn template_outputs_and_role_are_wired_to_the_dcr() {
    let t = template::arm_template(&TemplateOptions::default());
    assert_eq!(t["$schema"], template::SCHEMA);
    for p in [
        "workspaceName",
        "location",
        "dataCollectionRuleName",
        "servicePrincipalObjectId",
    ] {
        assert!(t["parameters"][p].is_object(), "{p}");
    }
    // Several DCRs share the endpoint of the template's DCE.
    let endpoint = t["outputs"]["logsIngestionEndpoint"]["value"]
        .as_str()
        .unwrap();
    assert!(endpoint.ends_with(".logsIngestion.endpoint]"), "{endpoint}");
    let id = t["outputs"]["dataCollectionRuleImmutableId"]["value"]
        .as_str()
        .unwrap();
    assert!(id.ends_with(".immutableId]"), "{id}");
    let all = dcrs(&t);
    let mut depended = 0;
    for dcr in &all {
        assert_eq!(dcr["apiVersion"], "2023-03-11");
        // Each DCR waits for the tables it writes to and the endpoint.
        let depends = dcr["dependsOn"].as_array().unwrap();
        assert!(
            depends
                .iter()
                .any(|d| d.as_str().unwrap().contains("dataCollectionEndpoints"))
        );
        depended += depends.len() - 1;
    }
    assert_eq!(depended, schema::produced_tables().len());
    let roles: Vec<&Value> = t["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["type"] == "Microsoft.Authorization/roleAssignments")
        .collect();
    assert_eq!(roles.len(), all.len());
    let mut scopes = BTreeSet::new();
    for role in roles {
        assert_eq!(
            role["properties"]["principalId"],
            "[parameters('servicePrincipalObjectId')]"
        );
        assert!(
            role["properties"]["roleDefinitionId"]
                .as_str()
                .unwrap()
                .contains("3913510d-42f4-4e42-8a64-420c390055eb")
        );
        scopes.insert(role["scope"].as_str().unwrap().to_string());
    }
    assert_eq!(scopes.len(), all.len(), "one role per DCR");
    // One DCR with its own endpoint when the tables fit.
    let one = template::arm_template(&TemplateOptions {
        tables: vec![Table::AwsCloudTrail],
        ..TemplateOptions::default()
    });
    assert_eq!(dcrs(&one).len(), 1);
    assert_eq!(dcrs(&one)[0]["kind"], "Direct");
    assert!(
        one["outputs"]["logsIngestionEndpoint"]["value"]
            .as_str()
            .unwrap()
            .ends_with(".endpoints.logsIngestion]")
    );
    // Every ARM expression is balanced.
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) if s.starts_with('[') => out.push(s.clone()),
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            Value::Object(o) => o.values().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut expressions = Vec::new();
    walk(&t, &mut expressions);
    for e in expressions {
        assert!(e.ends_with(']'), "{e}");
        assert_eq!(e.matches('(').count(), e.matches(')').count(), "{e}");
        assert_eq!(e.matches('\'').count() % 2, 0, "{e}");
    }
}

#[test]
fn the_cli_prints_the_same_template() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_s3-sentinel"))
        .args([
            "azure-template",
            "--tables",
            "AWSCloudTrail,S3SentinelAlerts",
        ])
        .output()
        .unwrap();
    assert!(output.status.success());
    let printed: Value = serde_json::from_slice(&output.stdout).unwrap();
    let expected = template::arm_template(&TemplateOptions {
        tables: vec![Table::AwsCloudTrail, Table::S3SentinelAlerts],
        ..TemplateOptions::default()
    });
    assert_eq!(printed, expected);
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_s3-sentinel"))
        .args(["azure-template", "--tables", "AWSELBFlowLogs"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("never writes"));
}

async fn token(http: &reqwest::Client, base: &str) -> String {
    let granted: Value = http
        .post(format!("{base}/t/oauth2/v2.0/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "app"),
            ("client_secret", "s"),
            ("scope", "https://monitor.azure.com//.default"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    granted["access_token"].as_str().unwrap().to_string()
}

async fn post(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    stream: &str,
    rows: Value,
) -> (u16, String) {
    let resp = http
        .post(format!(
            "{base}/dataCollectionRules/dcr-1/streams/{stream}?api-version=2023-01-01"
        ))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&rows).unwrap())
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_emulator_serves_exactly_the_templates_streams() {
    let emulator = delivery_support::start_emulator(EmulatorOptions::default()).await;
    let template = template::arm_template(&TemplateOptions::default());
    let declared: BTreeSet<String> = declared_streams(&template).into_keys().collect();
    let served: BTreeSet<String> = emulator.streams().into_keys().collect();
    assert_eq!(served, declared);

    let http = reqwest::Client::new();
    let base = emulator.url();
    let token = token(&http, &base).await;
    let good = json!([{"TimeGenerated": "2026-11-20T10:00:00Z", "SrcPort": 443,
                       "Bytes": 5_000_000_000i64, "RecordId": "r1"}]);
    assert_eq!(
        post(&http, &base, &token, "Custom-AWSVPCFlow", good.clone())
            .await
            .0,
        204
    );
    // Type mismatch: 400 naming the column and the declared type.
    let (status, body) = post(
        &http,
        &base,
        &token,
        "Custom-AWSVPCFlow",
        json!([{"SrcPort": "443"}]),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("SrcPort") && body.contains("int"), "{body}");
    let (status, _) = post(
        &http,
        &base,
        &token,
        "Custom-AWSVPCFlow",
        json!([{"TimeGenerated": "not a time"}]),
    )
    .await;
    assert_eq!(status, 400);
    // A table the connector never writes has no stream: 404.
    let (status, _) = post(&http, &base, &token, "Custom-AWSELBFlowLogs", good.clone()).await;
    assert_eq!(status, 404);
    // Undeclared column: 400 by default.
    let (status, body) = post(
        &http,
        &base,
        &token,
        "Custom-AWSVPCFlow",
        json!([{"SrcPort": 1, "Extra": "x"}]),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("Extra"), "{body}");
    emulator.stop().await;

    // As Azure: the undeclared property is dropped, the row kept.
    let emulator = delivery_support::start_emulator(EmulatorOptions {
        unknown_columns: UnknownColumns::Ignore,
        ..EmulatorOptions::default()
    })
    .await;
    let base = emulator.url();
    let token = self::token(&http, &base).await;
    let (status, _) = post(
        &http,
        &base,
        &token,
        "Custom-AWSVPCFlow",
        json!([{"SrcPort": 1, "Extra": "x"}]),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(
        emulator.rows("Custom-AWSVPCFlow"),
        vec![json!({"SrcPort": 1})]
    );
}

#[test]
fn sentinel_content_is_current_and_reads_only_existing_columns() {
    let dir = crate_dir().join("docs/sentinel");
    for (relative, text) in sentinel_content::files() {
        let path = dir.join(&relative);
        let on_disk = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; run `s3-sentinel sentinel-content --out docs/sentinel`",
                path.display()
            )
        });
        assert_eq!(
            on_disk, text,
            "{relative} is stale; run `s3-sentinel sentinel-content --out docs/sentinel`"
        );
    }
    let tables = sentinel_content::workspace_tables();
    let lookup = |name: &str| tables.get(name).cloned();
    for (origin, query) in sentinel_content::queries() {
        let used =
            kql::check_query(&query, &lookup).unwrap_or_else(|e| panic!("{origin}: {e}\n{query}"));
        // The ML columns are on the tables the query names, under their workspace names.
        for t in &used {
            let table = Table::from_name(t).unwrap();
            if table.is_built_in() {
                assert!(tables[t].iter().any(|c| c == "RecordId_CF"));
            }
        }
    }
    // Entity mappings name columns the query outputs.
    for rule in sentinel_content::analytics_rules() {
        let tokens = kql::tokens(&rule.query).unwrap();
        let bound = kql::bound_names(&tokens);
        for (_, fields) in rule.entities {
            for (_, column) in *fields {
                assert!(bound.contains(*column), "{}: {column}", rule.file);
            }
        }
    }
    let ids: BTreeSet<&str> = sentinel_content::analytics_rules()
        .iter()
        .map(|r| r.id)
        .chain(sentinel_content::hunting_queries().iter().map(|q| q.id))
        .collect();
    assert_eq!(
        ids.len(),
        sentinel_content::analytics_rules().len() + sentinel_content::hunting_queries().len()
    );
    // Names of connector columns in the content are the `_CF` ones on built-in tables.
    for (name, _) in CONNECTOR_COLUMNS {
        assert_eq!(
            schema::workspace_name(Table::AwsCloudTrail, name),
            format!("{name}_CF")
        );
    }
}

/// The measurement of the closing note: documented columns of each built-in table filled
/// by the fixtures and `../shared` samples (run with `--nocapture` to see it).
#[test]
fn coverage_of_the_built_in_tables() {
    let mut cov = Coverage::default();
    let mut buf = Vec::new();
    for record in all_records() {
        buf.clear();
        s3_sentinel_connector::write_record(&record, &mut buf);
        let row: serde_json::Map<String, Value> = serde_json::from_slice(&buf).unwrap();
        cov.add_row(&row).unwrap();
    }
    let report = cov.report();
    eprintln!("{}", coverage::render(&report));
    let built_in_log_types = LogType::ALL
        .iter()
        .filter(|l| l.table().is_built_in())
        .count();
    eprintln!(
        "{built_in_log_types} of {} log types map to built-in tables",
        LogType::ALL.len()
    );
    for t in &report {
        assert!(t.rows > 0, "{}: no rows measured", t.table);
    }
    // The floor holds on the full measurement; the fixtures alone exercise fewer fields.
    if common::shared_dir().is_some() {
        for t in &report {
            assert!(t.percent() >= 75.0, "{}: {:.1}%", t.table, t.percent());
        }
    }
}

/// Rows Sentinel refuses go to the dead letter and raise a health alert in the alert table,
/// named so that the connector health rule matches it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_lettered_rows_raise_a_health_alert_the_health_rule_matches() {
    use s3_sentinel_connector::DeadLetter;
    use s3_sentinel_connector::Delivery;
    use s3_sentinel_connector::SentinelDelivery;

    let emulator = delivery_support::start_emulator(EmulatorOptions::default()).await;
    // A mapping mistake: CloudTrail rows into the WAF stream are refused with 400.
    let client = delivery_support::client(
        &emulator.url(),
        &[(
            "SENTINEL_STREAM_MAP",
            r#"{"AWSCloudTrail": "Custom-AWSWAF"}"#,
        )],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let delivery = SentinelDelivery {
        client,
        dead_letter: Some(DeadLetter::dir(dir.path())),
        rejects: None,
    };
    let object = "s3://logs/trail-health.json.gz";
    let rows = delivery_support::cloudtrail_rows(20, object, 77);
    let report = delivery
        .deliver(object, rows, delivery_support::far_deadline())
        .await
        .unwrap();
    assert_eq!(report.dead_lettered, 20);

    let alerts = emulator.rows(&Table::S3SentinelAlerts.default_stream());
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let alert = &alerts[0];
    let name = alert["AlertName"].as_str().unwrap();
    assert!(
        name.starts_with(sentinel_content::DEAD_LETTER_ALERT_PREFIX),
        "{name}"
    );
    assert!(name.contains("20 rows of AWSCloudTrail"), "{name}");
    assert_eq!(alert["SourceObject"], object);
    assert!(
        alert["Description"]
            .as_str()
            .unwrap()
            .contains("s3-sentinel replay")
    );
    let rule = sentinel_content::analytics_rules()
        .into_iter()
        .find(|r| r.file == "S3Sentinel-ConnectorHealthAlerts.yaml")
        .unwrap();
    assert!(rule.query.contains(&format!(
        "AlertName startswith \"{}\"",
        sentinel_content::DEAD_LETTER_ALERT_PREFIX
    )));
}

/// A stream map entry naming another DCR sends that table's rows to that DCR.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_target_with_a_dcr_id_posts_to_that_dcr() {
    let emulator = delivery_support::start_emulator(EmulatorOptions {
        dcr_immutable_id: Some("dcr-second".into()),
        ..EmulatorOptions::default()
    })
    .await;
    let client = delivery_support::client(
        &emulator.url(),
        &[(
            "SENTINEL_STREAM_MAP",
            r#"{"AWSVPCFlow": "dcr-second/Custom-AWSVPCFlow"}"#,
        )],
    )
    .await;
    let flows = delivery_support::vpc_rows(30, "s3://logs/vpc-dcr.log.gz", 3);
    let trail = delivery_support::cloudtrail_rows(5, "s3://logs/trail-dcr.json.gz", 3);
    let mut rows = flows.clone();
    rows.extend(trail);
    let report = client.send(rows, delivery_support::far_deadline()).await;
    // The VPC rows reach the second DCR; CloudTrail rows go to the configured DCR, which
    // this emulator does not serve (404).
    assert_eq!(report.accepted, 30);
    assert_eq!(report.failed.len(), 5);
    assert!(report.failed.iter().all(|f| f.reason.status() == Some(404)));
    delivery_support::assert_exactly_once(&emulator.rows("Custom-AWSVPCFlow"), &flows);
    assert!(StreamMap::parse_json(r#"{"AWSVPCFlow": "second/Custom-AWSVPCFlow"}"#).is_err());
}

//! The ARM template of the Azure side (`s3-sentinel azure-template`): the `_CF` columns on
//! each built-in table, the custom tables, one DCR (`kind: Direct`) with a stream and a data
//! flow per table, the "Monitoring Metrics Publisher" role for the connector's service
//! principal, and outputs ready to paste into the SAM parameters.
//!
//! With [`PublisherIdentity::ManagedIdentity`] the template creates the connector's
//! identity too: a user-assigned managed identity whose federated identity credential
//! trusts the function's AWS role (issuer: the account's outbound federation issuer URL,
//! subject: the role ARN), so the whole Azure side is one deployment with no app
//! registration and no secret (`AZURE_AUTH=aws-federation`).
//!
//! A DCR holds at most 10 data flows. For more tables the template spreads them over
//! several DCRs behind one data collection endpoint (DCE): the endpoint output is the
//! DCE's, the DCR id output the first DCR's, and the stream map sends the other DCRs'
//! tables to `dcr-<immutable id>/Custom-<Table>`, which the connector posts to that DCR.

use serde_json::{Value as Json, json};
use smart_default::SmartDefault;

use super::schema::{self, DataFlow, StreamDeclaration};
use crate::record::Table;

/// The ARM deployment template schema.
pub const SCHEMA: &str =
    "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#";
/// API version of the DCR and DCE resources.
pub const DCR_API_VERSION: &str = "2023-03-11";
/// API version of the workspace table resources.
pub const TABLES_API_VERSION: &str = "2022-10-01";
/// API version of the workspace saved search (function) resources.
pub const SAVED_SEARCH_API_VERSION: &str = "2020-08-01";
/// API version of the role assignment resources.
pub const ROLE_ASSIGNMENT_API_VERSION: &str = "2022-04-01";
/// Built-in role "Monitoring Metrics Publisher": lets a principal post to a DCR.
pub const MONITORING_METRICS_PUBLISHER_ROLE: &str = "3913510d-42f4-4e42-8a64-420c390055eb";
/// The destination's name inside the DCR.
pub const DESTINATION: &str = "workspace";
/// API version of the user-assigned managed identity and its federated credentials.
pub const MANAGED_IDENTITY_API_VERSION: &str = "2023-01-31";
/// The federated identity credential's name inside the managed identity.
pub const FEDERATED_CREDENTIAL: &str = "aws-lambda";

/// Who posts to the DCRs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PublisherIdentity {
    /// An existing Entra ID application's service principal (parameter
    /// `servicePrincipalObjectId`), which authenticates with a client secret.
    #[default]
    ServicePrincipal,
    /// A user-assigned managed identity the template creates, trusting the function's AWS
    /// role through a federated identity credential (parameters `awsIssuerUrl`,
    /// `awsRoleArn`): no secret.
    ManagedIdentity,
}

/// What the template covers.
#[derive(Debug, Clone, SmartDefault)]
pub struct TemplateOptions {
    /// Tables to declare streams and data flows for (default: [`schema::produced_tables`]).
    #[default(schema::produced_tables())]
    pub tables: Vec<Table>,
    /// The identity given "Monitoring Metrics Publisher" on the DCRs.
    pub identity: PublisherIdentity,
}

impl TemplateOptions {
    /// The tables of each DCR: at most [`schema::MAX_DATA_FLOWS_PER_DCR`] per rule.
    pub fn dcr_groups(&self) -> Vec<Vec<Table>> {
        self.tables
            .chunks(schema::MAX_DATA_FLOWS_PER_DCR)
            .map(<[Table]>::to_vec)
            .collect()
    }

    /// A notice when the tables need several DCRs.
    pub fn layout_note(&self) -> Option<String> {
        let groups = self.dcr_groups();
        (groups.len() > 1).then(|| {
            format!(
                "{} tables need {} data flows; a DCR holds at most {}, so the template \
                 declares {} DCRs behind one data collection endpoint (use --tables for one \
                 DCR with its own endpoint)",
                self.tables.len(),
                self.tables.len(),
                schema::MAX_DATA_FLOWS_PER_DCR,
                groups.len()
            )
        })
    }
}

const WORKSPACE_ID: &str =
    "resourceId('Microsoft.OperationalInsights/workspaces', parameters('workspaceName'))";
const DCE_NAME: &str = "concat(parameters('dataCollectionRuleName'), '-dce')";

/// The name expression of the `index`th DCR: the parameter, then `<name>-2`, `<name>-3`...
fn dcr_name(index: usize) -> String {
    if index == 0 {
        "parameters('dataCollectionRuleName')".to_string()
    } else {
        format!(
            "concat(parameters('dataCollectionRuleName'), '-{}')",
            index + 1
        )
    }
}

fn dcr_id(index: usize) -> String {
    format!(
        "resourceId('Microsoft.Insights/dataCollectionRules', {})",
        dcr_name(index)
    )
}

fn dce_id() -> String {
    format!("resourceId('Microsoft.Insights/dataCollectionEndpoints', {DCE_NAME})")
}

fn dcr_reference(index: usize) -> String {
    format!("reference({}, '{DCR_API_VERSION}')", dcr_id(index))
}

fn table_resource_id(table: Table) -> String {
    format!(
        "[resourceId('Microsoft.OperationalInsights/workspaces/tables', parameters('workspaceName'), '{}')]",
        table.name()
    )
}

fn columns_json<S: AsRef<str>>(columns: &[(S, crate::record::tables::ColumnType)]) -> Json {
    Json::Array(
        columns
            .iter()
            .map(|(name, ty)| json!({"name": name.as_ref(), "type": ty.name()}))
            .collect(),
    )
}

/// The table resource: a PUT of the custom columns on a built-in table, or the whole
/// custom table.
fn table_resource(table: Table) -> Json {
    let mut properties = json!({
        "schema": {
            "name": table.name(),
            "columns": columns_json(&schema::created_columns(table)),
        }
    });
    if !table.is_built_in() {
        properties["plan"] = json!("Analytics");
        properties["retentionInDays"] = json!("[parameters('customTableRetentionInDays')]");
    }
    json!({
        "type": "Microsoft.OperationalInsights/workspaces/tables",
        "apiVersion": TABLES_API_VERSION,
        "name": format!("[concat(parameters('workspaceName'), '/{}')]", table.name()),
        "properties": properties,
    })
}

/// The workspace function that drops duplicate rows at query time.
fn distinct_function_resource() -> Json {
    use super::content::{DISTINCT_BODY, DISTINCT_FUNCTION, DISTINCT_PARAMETERS};
    json!({
        "type": "Microsoft.OperationalInsights/workspaces/savedSearches",
        "apiVersion": SAVED_SEARCH_API_VERSION,
        "name": format!("[concat(parameters('workspaceName'), '/{DISTINCT_FUNCTION}')]"),
        "properties": {
            "category": "S3 Sentinel connector",
            "displayName": "One row per RecordId (duplicates from retries dropped)",
            "functionAlias": DISTINCT_FUNCTION,
            "functionParameters": DISTINCT_PARAMETERS,
            "query": DISTINCT_BODY,
            "version": 2,
        },
    })
}

/// One DCR; `with_endpoint` puts it behind the template's DCE instead of `kind: Direct`.
fn dcr_resource(index: usize, tables: &[Table], with_endpoint: bool) -> Json {
    let mut declarations = serde_json::Map::new();
    let mut flows = Vec::new();
    for &table in tables {
        let decl = StreamDeclaration::for_table(table);
        declarations.insert(
            decl.name.clone(),
            json!({"columns": columns_json(&decl.columns)}),
        );
        let flow = DataFlow::for_table(table);
        flows.push(json!({
            "streams": [flow.stream],
            "destinations": [DESTINATION],
            "transformKql": flow.transform_kql,
            "outputStream": flow.output_stream,
        }));
    }
    let mut depends: Vec<String> = tables.iter().map(|t| table_resource_id(*t)).collect();
    if with_endpoint {
        depends.push(format!("[{}]", dce_id()));
    }
    let mut dcr = json!({
        "type": "Microsoft.Insights/dataCollectionRules",
        "apiVersion": DCR_API_VERSION,
        "name": format!("[{}]", dcr_name(index)),
        "location": "[parameters('location')]",
        "kind": "Direct",
        "dependsOn": depends,
        "properties": {
            "description": "s3-sentinel-connector: AWS logs from S3 into Microsoft Sentinel. \
                            Generated by `s3-sentinel azure-template`; regenerate it rather \
                            than editing.",
            "streamDeclarations": declarations,
            "destinations": {
                "logAnalytics": [{
                    "workspaceResourceId": format!("[{WORKSPACE_ID}]"),
                    "name": DESTINATION,
                }]
            },
            "dataFlows": flows,
        }
    });
    if with_endpoint {
        let object = dcr.as_object_mut().expect("an object");
        object.remove("kind");
        dcr["properties"]["dataCollectionEndpointId"] = json!(format!("[{}]", dce_id()));
    }
    dcr
}

fn dce_resource() -> Json {
    json!({
        "type": "Microsoft.Insights/dataCollectionEndpoints",
        "apiVersion": DCR_API_VERSION,
        "name": format!("[{DCE_NAME}]"),
        "location": "[parameters('location')]",
        "properties": {
            "description": "s3-sentinel-connector: one ingestion endpoint for its DCRs",
            "networkAcls": {"publicNetworkAccess": "Enabled"}
        }
    })
}

const IDENTITY_NAME: &str = "parameters('managedIdentityName')";

fn identity_id() -> String {
    format!("resourceId('Microsoft.ManagedIdentity/userAssignedIdentities', {IDENTITY_NAME})")
}

fn identity_reference() -> String {
    format!(
        "reference({}, '{MANAGED_IDENTITY_API_VERSION}')",
        identity_id()
    )
}

/// The managed identity and its federated identity credential.
fn managed_identity_resources() -> Vec<Json> {
    vec![
        json!({
            "type": "Microsoft.ManagedIdentity/userAssignedIdentities",
            "apiVersion": MANAGED_IDENTITY_API_VERSION,
            "name": format!("[{IDENTITY_NAME}]"),
            "location": "[parameters('location')]",
        }),
        json!({
            "type": "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials",
            "apiVersion": MANAGED_IDENTITY_API_VERSION,
            "name": format!("[concat({IDENTITY_NAME}, '/{FEDERATED_CREDENTIAL}')]"),
            "dependsOn": [format!("[{}]", identity_id())],
            "properties": {
                "issuer": "[parameters('awsIssuerUrl')]",
                "subject": "[parameters('awsRoleArn')]",
                "audiences": ["[parameters('federationAudience')]"],
            }
        }),
    ]
}

fn role_assignment(index: usize, identity: PublisherIdentity) -> Json {
    let dcr = dcr_id(index);
    let (principal_key, principal, mut depends) = match identity {
        PublisherIdentity::ServicePrincipal => (
            "parameters('servicePrincipalObjectId')".to_string(),
            "[parameters('servicePrincipalObjectId')]".to_string(),
            vec![format!("[{dcr}]")],
        ),
        PublisherIdentity::ManagedIdentity => (
            identity_id(),
            format!("[{}.principalId]", identity_reference()),
            vec![format!("[{dcr}]"), format!("[{}]", identity_id())],
        ),
    };
    depends.dedup();
    json!({
        "type": "Microsoft.Authorization/roleAssignments",
        "apiVersion": ROLE_ASSIGNMENT_API_VERSION,
        "scope": format!("[concat('Microsoft.Insights/dataCollectionRules/', {})]", dcr_name(index)),
        "name": format!("[guid({dcr}, {principal_key}, '{MONITORING_METRICS_PUBLISHER_ROLE}')]"),
        "dependsOn": depends,
        "properties": {
            "roleDefinitionId": format!(
                "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '{MONITORING_METRICS_PUBLISHER_ROLE}')]"
            ),
            "principalId": principal,
            // Said, not looked up: a new managed identity may not have replicated yet.
            "principalType": "ServicePrincipal",
            "description": "s3-sentinel-connector posts rows to this DCR",
        }
    })
}

/// The stream map output: the JSON `SENTINEL_STREAM_MAP` accepts, as one line of text.
pub fn stream_map_json(tables: &[Table]) -> String {
    serde_json::to_string(&schema::stream_map(tables)).expect("a map of strings serializes")
}

/// The stream map output when tables are spread over several DCRs: an ARM expression
/// that builds the JSON with the other DCRs' immutable ids (`dcr-<id>/Custom-<Table>`).
fn stream_map_expression(groups: &[Vec<Table>]) -> String {
    let mut pairs = Vec::new();
    for (index, tables) in groups.iter().enumerate() {
        for table in tables {
            let stream = table.default_stream();
            let value = if index == 0 {
                format!("'{stream}'")
            } else {
                format!("concat({}.immutableId, '/{stream}')", dcr_reference(index))
            };
            pairs.push(format!("'{}', {value}", table.name()));
        }
    }
    format!("[string(createObject({}))]", pairs.join(", "))
}

/// The whole ARM template.
pub fn arm_template(options: &TemplateOptions) -> Json {
    let tables = &options.tables;
    let groups = options.dcr_groups();
    let with_endpoint = groups.len() > 1;
    let mut resources: Vec<Json> = tables.iter().map(|t| table_resource(*t)).collect();
    resources.push(distinct_function_resource());
    if options.identity == PublisherIdentity::ManagedIdentity {
        resources.extend(managed_identity_resources());
    }
    if with_endpoint {
        resources.push(dce_resource());
    }
    for (index, group) in groups.iter().enumerate() {
        resources.push(dcr_resource(index, group, with_endpoint));
        resources.push(role_assignment(index, options.identity));
    }
    let first = dcr_reference(0);
    let (endpoint, stream_map) = if with_endpoint {
        (
            format!(
                "[reference({}, '{DCR_API_VERSION}').logsIngestion.endpoint]",
                dce_id()
            ),
            stream_map_expression(&groups),
        )
    } else {
        (
            format!("[{first}.endpoints.logsIngestion]"),
            stream_map_json(tables),
        )
    };
    let mut template = json!({
        "$schema": SCHEMA,
        "contentVersion": "1.0.0.0",
        "metadata": {
            "description": "Azure side of s3-sentinel-connector, generated by `s3-sentinel azure-template` from the connector's own column definitions.",
            "generator": format!("s3-sentinel {}", env!("CARGO_PKG_VERSION")),
        },
        "parameters": {
            "workspaceName": {
                "type": "string",
                "metadata": {"description": "Log Analytics workspace (with Microsoft Sentinel) in this resource group."}
            },
            "location": {
                "type": "string",
                "defaultValue": "[resourceGroup().location]",
                "metadata": {"description": "Region of the data collection rule; the workspace's region."}
            },
            "dataCollectionRuleName": {
                "type": "string",
                "defaultValue": "s3-sentinel-connector",
                "metadata": {"description": "Name of the data collection rule."}
            },
            "servicePrincipalObjectId": {
                "type": "string",
                "metadata": {"description": "Object id of the connector's Entra ID service principal (enterprise application), not the application (client) id."}
            },
            "customTableRetentionInDays": {
                "type": "int",
                "defaultValue": 90,
                "minValue": 4,
                "maxValue": 730,
                "metadata": {"description": "Interactive retention of the custom (_CL) tables."}
            }
        },
        "resources": resources,
        "outputs": {
            "logsIngestionEndpoint": {
                "type": "string",
                "value": endpoint,
            },
            "dataCollectionRuleImmutableId": {
                "type": "string",
                "value": format!("[{first}.immutableId]"),
            },
            "streamMap": {
                "type": "string",
                "value": stream_map,
            }
        }
    });
    if options.identity == PublisherIdentity::ManagedIdentity {
        let parameters = template["parameters"]
            .as_object_mut()
            .expect("parameters is an object");
        parameters.remove("servicePrincipalObjectId");
        parameters.insert(
            "managedIdentityName".into(),
            json!({
                "type": "string",
                "defaultValue": "s3-sentinel-connector",
                "metadata": {"description": "Name of the user-assigned managed identity the connector authenticates as."}
            }),
        );
        parameters.insert(
            "awsIssuerUrl".into(),
            json!({
                "type": "string",
                "metadata": {"description": "The AWS account's outbound identity federation issuer URL: `aws iam get-outbound-web-identity-federation-info --query IssuerIdentifier --output text`."}
            }),
        );
        parameters.insert(
            "awsRoleArn".into(),
            json!({
                "type": "string",
                "metadata": {"description": "ARN of the function's role (the FunctionRoleArn output of template.yaml; arn:aws:iam::<account>:role/<stack name>-function): the subject of its tokens."}
            }),
        );
        parameters.insert(
            "federationAudience".into(),
            json!({
                "type": "string",
                "defaultValue": crate::sink::sentinel::DEFAULT_FEDERATION_AUDIENCE,
                "metadata": {"description": "Audience of the AWS tokens (AZURE_FEDERATION_AUDIENCE); api://AzureADTokenExchange in Azure public cloud."}
            }),
        );
        let outputs = template["outputs"]
            .as_object_mut()
            .expect("outputs is an object");
        outputs.insert(
            "azureClientId".into(),
            json!({"type": "string", "value": format!("[{}.clientId]", identity_reference())}),
        );
        outputs.insert(
            "azureTenantId".into(),
            json!({"type": "string", "value": format!("[{}.tenantId]", identity_reference())}),
        );
    }
    template
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of_type<'a>(t: &'a Json, ty: &str) -> Vec<&'a Json> {
        t["resources"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["type"] == ty)
            .collect()
    }

    #[test]
    fn the_distinct_function_is_installed_and_documented() {
        let t = arm_template(&TemplateOptions::default());
        let searches = of_type(&t, "Microsoft.OperationalInsights/workspaces/savedSearches");
        assert_eq!(searches.len(), 1);
        let f = &searches[0]["properties"];
        assert_eq!(f["functionAlias"], "S3SentinelDistinct");
        assert_eq!(f["functionParameters"], "TableName:string");
        let docs = include_str!("../../docs/delivery.md");
        assert!(
            docs.contains(f["query"].as_str().unwrap()),
            "docs/delivery.md shows the function's body as deployed"
        );
    }

    #[test]
    fn up_to_ten_tables_make_one_direct_dcr() {
        let options = TemplateOptions {
            tables: vec![Table::AwsCloudTrail, Table::S3SentinelAlerts],
            ..TemplateOptions::default()
        };
        assert!(options.layout_note().is_none());
        let t = arm_template(&options);
        let dcrs = of_type(&t, "Microsoft.Insights/dataCollectionRules");
        assert_eq!(dcrs.len(), 1);
        assert_eq!(dcrs[0]["kind"], "Direct");
        assert_eq!(dcrs[0]["apiVersion"], DCR_API_VERSION);
        let streams = dcrs[0]["properties"]["streamDeclarations"]
            .as_object()
            .unwrap();
        assert_eq!(streams.len(), 2);
        assert!(of_type(&t, "Microsoft.Insights/dataCollectionEndpoints").is_empty());
        let role = of_type(&t, "Microsoft.Authorization/roleAssignments");
        assert_eq!(role.len(), 1);
        assert!(
            role[0]["properties"]["roleDefinitionId"]
                .as_str()
                .unwrap()
                .contains(MONITORING_METRICS_PUBLISHER_ROLE)
        );
        assert_eq!(
            t["outputs"]["streamMap"]["value"],
            r#"{"AWSCloudTrail":"Custom-AWSCloudTrail","S3SentinelAlerts_CL":"Custom-S3SentinelAlerts"}"#
        );
        assert!(
            t["outputs"]["logsIngestionEndpoint"]["value"]
                .as_str()
                .unwrap()
                .ends_with(".endpoints.logsIngestion]")
        );
    }

    #[test]
    fn a_managed_identity_trusts_the_functions_role_and_publishes_to_every_dcr() {
        let t = arm_template(&TemplateOptions {
            identity: PublisherIdentity::ManagedIdentity,
            ..TemplateOptions::default()
        });
        let identities = of_type(&t, "Microsoft.ManagedIdentity/userAssignedIdentities");
        assert_eq!(identities.len(), 1);
        let credentials = of_type(
            &t,
            "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials",
        );
        assert_eq!(credentials.len(), 1);
        let p = &credentials[0]["properties"];
        assert_eq!(p["issuer"], "[parameters('awsIssuerUrl')]");
        assert_eq!(p["subject"], "[parameters('awsRoleArn')]");
        assert_eq!(
            p["audiences"],
            json!(["[parameters('federationAudience')]"])
        );
        assert_eq!(
            t["parameters"]["federationAudience"]["defaultValue"],
            "api://AzureADTokenExchange"
        );
        assert!(t["parameters"].get("servicePrincipalObjectId").is_none());
        let roles = of_type(&t, "Microsoft.Authorization/roleAssignments");
        assert_eq!(
            roles.len(),
            of_type(&t, "Microsoft.Insights/dataCollectionRules").len()
        );
        for role in roles {
            let principal = role["properties"]["principalId"].as_str().unwrap();
            assert!(principal.ends_with(".principalId]"), "{principal}");
            assert!(principal.contains("userAssignedIdentities"), "{principal}");
            assert!(
                role["dependsOn"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|d| d.as_str().unwrap().contains("userAssignedIdentities"))
            );
        }
        for output in ["azureClientId", "azureTenantId"] {
            assert!(t["outputs"][output]["value"].is_string(), "{output}");
        }
    }

    #[test]
    fn more_tables_spread_over_dcrs_behind_one_endpoint() {
        let options = TemplateOptions::default();
        assert!(options.tables.len() > schema::MAX_DATA_FLOWS_PER_DCR);
        assert!(options.layout_note().is_some());
        let t = arm_template(&options);
        let dcrs = of_type(&t, "Microsoft.Insights/dataCollectionRules");
        assert_eq!(dcrs.len(), options.dcr_groups().len());
        let mut flows = 0;
        for dcr in &dcrs {
            assert!(dcr.get("kind").is_none());
            assert!(
                dcr["properties"]["dataCollectionEndpointId"]
                    .as_str()
                    .unwrap()
                    .contains("dataCollectionEndpoints")
            );
            let n = dcr["properties"]["dataFlows"].as_array().unwrap().len();
            assert!(n <= schema::MAX_DATA_FLOWS_PER_DCR);
            flows += n;
        }
        assert_eq!(flows, options.tables.len());
        assert_eq!(
            of_type(&t, "Microsoft.Authorization/roleAssignments").len(),
            dcrs.len()
        );
        assert_eq!(
            of_type(&t, "Microsoft.Insights/dataCollectionEndpoints").len(),
            1
        );
        let map = t["outputs"]["streamMap"]["value"].as_str().unwrap();
        assert!(map.starts_with("[string(createObject('AWSCloudTrail', 'Custom-AWSCloudTrail'"));
        assert!(map.contains(".immutableId, '/Custom-"), "{map}");
        assert!(
            t["outputs"]["logsIngestionEndpoint"]["value"]
                .as_str()
                .unwrap()
                .ends_with(".logsIngestion.endpoint]")
        );
    }
}

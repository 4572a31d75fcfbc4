//! Destination tables and their columns.
//!
//! Each built-in table's column names and types follow Microsoft's table reference for
//! Azure Monitor (the columns Azure fills itself, `TenantId`, `Type`, `SourceSystem`,
//! `_IsBillable` and `_BilledSize`, are left out because a sender never supplies them).
//! CloudFront has no built-in table; it goes to the custom table `AWSCloudFront_CL`, whose
//! schema is defined here and documented in `docs/tables/AWSCloudFront.md`. Generic JSON
//! lines and plain text have no AWS table either: they go to the custom table
//! `S3SentinelLogs_CL` (`docs/tables/S3SentinelLogs.md`).
//!
//! These lists are the project's own copy of the documented schemas: the Azure template
//! (`crate::azure`), the Sentinel emulator and the contract tests are generated from or
//! checked against them, and `tests/azure_template.rs` compares them with the reference
//! TSVs when those are present.

use super::{Record, Value, columns};

/// Type of a Log Analytics column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnType {
    /// `string`.
    Str,
    /// `int`: 32 bits.
    Int,
    /// `long`: 64 bits.
    Long,
    /// `real`.
    Real,
    /// `boolean`.
    Bool,
    /// `datetime`.
    DateTime,
    /// `dynamic`: nested JSON.
    Dynamic,
}

impl ColumnType {
    /// The type's name in table schemas (`string`, `datetime`, ...).
    pub fn name(self) -> &'static str {
        match self {
            ColumnType::Str => "string",
            ColumnType::Int => "int",
            ColumnType::Long => "long",
            ColumnType::Real => "real",
            ColumnType::Bool => "boolean",
            ColumnType::DateTime => "datetime",
            ColumnType::Dynamic => "dynamic",
        }
    }
}

/// The source format a record was parsed from; its name is the `SourceLogType` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LogType {
    /// CloudTrail events.
    CloudTrail,
    /// VPC flow log records.
    VpcFlow,
    /// Transit Gateway flow log records.
    TransitGatewayFlow,
    /// Application Load Balancer access log lines.
    Alb,
    /// Application Load Balancer connection log lines.
    AlbConnection,
    /// Network Load Balancer (TLS listener) access log lines.
    Nlb,
    /// Classic Load Balancer access log lines.
    ClassicElb,
    /// CloudFront standard log lines.
    CloudFront,
    /// S3 server access log lines.
    S3Access,
    /// AWS WAF web ACL log records.
    Waf,
    /// GuardDuty findings.
    GuardDuty,
    /// Security Hub findings (ASFF).
    SecurityHub,
    /// Route 53 Resolver query log records.
    Route53Resolver,
    /// Network Firewall alert records.
    NetworkFirewallAlert,
    /// Network Firewall flow records.
    NetworkFirewallFlow,
    /// Network Firewall TLS records.
    NetworkFirewallTls,
    /// CloudWatch Logs events of no known format.
    CloudWatch,
    /// JSON lines of no known format.
    GenericJson,
    /// Plain text lines.
    Text,
}

impl LogType {
    /// Every log type.
    pub const ALL: [LogType; 19] = [
        LogType::CloudTrail,
        LogType::VpcFlow,
        LogType::TransitGatewayFlow,
        LogType::Alb,
        LogType::AlbConnection,
        LogType::Nlb,
        LogType::ClassicElb,
        LogType::CloudFront,
        LogType::S3Access,
        LogType::Waf,
        LogType::GuardDuty,
        LogType::SecurityHub,
        LogType::Route53Resolver,
        LogType::NetworkFirewallAlert,
        LogType::NetworkFirewallFlow,
        LogType::NetworkFirewallTls,
        LogType::CloudWatch,
        LogType::GenericJson,
        LogType::Text,
    ];

    /// The name written to `SourceLogType` (`VPCFlow`, `ALB`, ...).
    pub fn name(self) -> &'static str {
        match self {
            LogType::CloudTrail => "CloudTrail",
            LogType::VpcFlow => "VPCFlow",
            LogType::TransitGatewayFlow => "TransitGatewayFlow",
            LogType::Alb => "ALB",
            LogType::AlbConnection => "ALBConnection",
            LogType::Nlb => "NLB",
            LogType::ClassicElb => "ClassicELB",
            LogType::CloudFront => "CloudFront",
            LogType::S3Access => "S3ServerAccess",
            LogType::Waf => "WAF",
            LogType::GuardDuty => "GuardDuty",
            LogType::SecurityHub => "SecurityHub",
            LogType::Route53Resolver => "Route53Resolver",
            LogType::NetworkFirewallAlert => "NetworkFirewallAlert",
            LogType::NetworkFirewallFlow => "NetworkFirewallFlow",
            LogType::NetworkFirewallTls => "NetworkFirewallTls",
            LogType::CloudWatch => "CloudWatch",
            LogType::GenericJson => "GenericJSON",
            LogType::Text => "Text",
        }
    }

    /// Reads a name as [`LogType::name`] writes it, ignoring case.
    pub fn from_name(name: &str) -> Option<LogType> {
        LogType::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(name))
    }

    /// The Sentinel table this log type lands in.
    pub fn table(self) -> Table {
        match self {
            LogType::CloudTrail => Table::AwsCloudTrail,
            LogType::VpcFlow | LogType::TransitGatewayFlow => Table::AwsVpcFlow,
            LogType::Alb | LogType::AlbConnection | LogType::ClassicElb => Table::AwsAlbAccessLogs,
            LogType::Nlb => Table::AwsNlbAccessLogs,
            LogType::CloudFront => Table::AwsCloudFront,
            LogType::S3Access => Table::AwsS3ServerAccess,
            LogType::Waf => Table::AwsWaf,
            LogType::GuardDuty => Table::AwsGuardDuty,
            LogType::SecurityHub => Table::AwsSecurityHubFindings,
            LogType::Route53Resolver => Table::AwsRoute53Resolver,
            LogType::NetworkFirewallAlert => Table::AwsNetworkFirewallAlert,
            LogType::NetworkFirewallFlow => Table::AwsNetworkFirewallFlow,
            LogType::NetworkFirewallTls => Table::AwsNetworkFirewallTls,
            LogType::CloudWatch => Table::AwsCloudWatch,
            // AWSCloudWatch documents CloudWatch Logs events; lines of unknown origin get a
            // table of the connector's own instead of posing as CloudWatch data.
            LogType::GenericJson | LogType::Text => Table::S3SentinelLogs,
        }
    }
}

display_as_name!(LogType);

/// A destination table. The DCR stream for a table defaults to `Custom-<name>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    /// `AWSCloudTrail`.
    AwsCloudTrail,
    /// `AWSVPCFlow`.
    AwsVpcFlow,
    /// `AWSGuardDuty`.
    AwsGuardDuty,
    /// `AWSCloudWatch`.
    AwsCloudWatch,
    /// `AWSWAF`.
    AwsWaf,
    /// `AWSS3ServerAccess`.
    AwsS3ServerAccess,
    /// `AWSRoute53Resolver`.
    AwsRoute53Resolver,
    /// `AWSNetworkFirewallAlert`.
    AwsNetworkFirewallAlert,
    /// `AWSNetworkFirewallFlow`.
    AwsNetworkFirewallFlow,
    /// `AWSNetworkFirewallTls`.
    AwsNetworkFirewallTls,
    /// `AWSALBAccessLogs`: ALB access and connection logs, classic ELB access logs.
    AwsAlbAccessLogs,
    /// `AWSNLBAccessLogs`.
    AwsNlbAccessLogs,
    /// `AWSELBFlowLogs`: documented, but no log type lands in it.
    AwsElbFlowLogs,
    /// `AWSSecurityHubFindings`.
    AwsSecurityHubFindings,
    /// Custom table (CloudFront has no built-in Sentinel table).
    AwsCloudFront,
    /// Custom table for the connector's alert records.
    S3SentinelAlerts,
    /// Custom table for generic JSON lines and plain text lines.
    S3SentinelLogs,
}

impl Table {
    /// The built-in Sentinel tables: the first ones of [`Table::ALL`].
    pub const BUILT_IN: [Table; 14] = {
        let mut built_in = [Table::AwsCloudTrail; 14];
        let mut i = 0;
        while i < built_in.len() {
            built_in[i] = Table::ALL[i];
            i += 1;
        }
        built_in
    };

    /// Every table: the built-in ones, then the custom ones.
    pub const ALL: [Table; 17] = [
        Table::AwsCloudTrail,
        Table::AwsVpcFlow,
        Table::AwsGuardDuty,
        Table::AwsCloudWatch,
        Table::AwsWaf,
        Table::AwsS3ServerAccess,
        Table::AwsRoute53Resolver,
        Table::AwsNetworkFirewallAlert,
        Table::AwsNetworkFirewallFlow,
        Table::AwsNetworkFirewallTls,
        Table::AwsAlbAccessLogs,
        Table::AwsNlbAccessLogs,
        Table::AwsElbFlowLogs,
        Table::AwsSecurityHubFindings,
        Table::AwsCloudFront,
        Table::S3SentinelAlerts,
        Table::S3SentinelLogs,
    ];

    /// The table's name in the workspace (`AWSCloudTrail`, `S3SentinelLogs_CL`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Table::AwsCloudTrail => "AWSCloudTrail",
            Table::AwsVpcFlow => "AWSVPCFlow",
            Table::AwsGuardDuty => "AWSGuardDuty",
            Table::AwsCloudWatch => "AWSCloudWatch",
            Table::AwsWaf => "AWSWAF",
            Table::AwsS3ServerAccess => "AWSS3ServerAccess",
            Table::AwsRoute53Resolver => "AWSRoute53Resolver",
            Table::AwsNetworkFirewallAlert => "AWSNetworkFirewallAlert",
            Table::AwsNetworkFirewallFlow => "AWSNetworkFirewallFlow",
            Table::AwsNetworkFirewallTls => "AWSNetworkFirewallTls",
            Table::AwsAlbAccessLogs => "AWSALBAccessLogs",
            Table::AwsNlbAccessLogs => "AWSNLBAccessLogs",
            Table::AwsElbFlowLogs => "AWSELBFlowLogs",
            Table::AwsSecurityHubFindings => "AWSSecurityHubFindings",
            Table::AwsCloudFront => "AWSCloudFront_CL",
            Table::S3SentinelAlerts => "S3SentinelAlerts_CL",
            Table::S3SentinelLogs => "S3SentinelLogs_CL",
        }
    }

    /// Reads a name as [`Table::name`] writes it, ignoring case.
    pub fn from_name(name: &str) -> Option<Table> {
        Table::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(name))
    }

    /// Whether the table is one of Sentinel's built-in tables rather than a custom `_CL` one.
    pub fn is_built_in(self) -> bool {
        !matches!(
            self,
            Table::AwsCloudFront | Table::S3SentinelAlerts | Table::S3SentinelLogs
        )
    }

    /// The default DCR input stream: `Custom-<table name without _CL>`.
    pub fn default_stream(self) -> String {
        format!("Custom-{}", self.name().trim_end_matches("_CL"))
    }

    /// The table's own columns (without the connector's columns).
    pub fn columns(self) -> &'static [(&'static str, ColumnType)] {
        match self {
            Table::AwsCloudTrail => AWSCLOUDTRAIL,
            Table::AwsVpcFlow => AWSVPCFLOW,
            Table::AwsGuardDuty => AWSGUARDDUTY,
            Table::AwsCloudWatch => AWSCLOUDWATCH,
            Table::AwsWaf => AWSWAF,
            Table::AwsS3ServerAccess => AWSS3SERVERACCESS,
            Table::AwsRoute53Resolver => AWSROUTE53RESOLVER,
            Table::AwsNetworkFirewallAlert => AWSNETWORKFIREWALLALERT,
            Table::AwsNetworkFirewallFlow => AWSNETWORKFIREWALLFLOW,
            Table::AwsNetworkFirewallTls => AWSNETWORKFIREWALLTLS,
            Table::AwsAlbAccessLogs => AWSALBACCESSLOGS,
            Table::AwsNlbAccessLogs => AWSNLBACCESSLOGS,
            Table::AwsElbFlowLogs => AWSELBFLOWLOGS,
            Table::AwsSecurityHubFindings => AWSSECURITYHUBFINDINGS,
            Table::AwsCloudFront => AWSCLOUDFRONT,
            Table::S3SentinelAlerts => S3SENTINELALERTS,
            Table::S3SentinelLogs => S3SENTINELLOGS,
        }
    }

    /// The type of `column`, among the table's own and the connector's columns.
    pub fn column_type(self, column: &str) -> Option<ColumnType> {
        self.columns()
            .iter()
            .chain(CONNECTOR_COLUMNS)
            .find(|(name, _)| *name == column)
            .map(|(_, t)| *t)
    }
}

/// Columns the JSON writer derives from the record itself; a parser must not set them.
const WRITER_COLUMNS: [&str; 5] = [
    columns::TIME_GENERATED,
    columns::SOURCE_LOG_TYPE,
    columns::SOURCE_OBJECT,
    columns::EVENT_TIME,
    columns::RECORD_ID,
];
/// Whether a record fits its table: every column is a column of the table or a connector
/// column, appears once, is not one the writer adds itself, and holds a value of the
/// column's type (`int` within 32 bits, `dynamic` as JSON). The Sentinel emulator applies
/// the same check to what it receives.
pub fn check_record(record: &Record) -> Result<(), String> {
    let table = record.table();
    for (i, (name, value)) in record.columns.iter().enumerate() {
        if WRITER_COLUMNS.contains(name) {
            return Err(format!(
                "{name} is written from the record's own fields and must not be a column"
            ));
        }
        if record.columns[..i].iter().any(|(n, _)| n == name) {
            return Err(format!("column {name} appears twice"));
        }
        let Some(ty) = table.column_type(name) else {
            return Err(format!("{name} is not a column of {table}"));
        };
        check_value(ty, value).map_err(|e| format!("{table}.{name}: {e}"))?;
    }
    Ok(())
}

/// Whether a value can be stored in a column of type `ty`.
pub fn check_value(ty: ColumnType, value: &Value) -> Result<(), String> {
    let fits = match (ty, value) {
        (ColumnType::Str, Value::Str(_)) => true,
        (ColumnType::Int, Value::Int(i)) => {
            if i32::try_from(*i).is_err() {
                return Err(format!("{i} does not fit a 32-bit int column"));
            }
            true
        }
        (ColumnType::Long, Value::Int(_)) => true,
        (ColumnType::Real, Value::Real(_) | Value::Int(_)) => true,
        (ColumnType::Bool, Value::Bool(_)) => true,
        (ColumnType::DateTime, Value::Time(_)) => true,
        (ColumnType::Dynamic, Value::Json(_)) => true,
        _ => false,
    };
    if fits {
        Ok(())
    } else {
        Err(format!(
            "a {} value in a {} column",
            value_kind(value),
            ty.name()
        ))
    }
}

fn value_kind(value: &Value) -> &'static str {
    match value {
        Value::Str(_) => "string",
        Value::Int(_) => "integer",
        Value::Real(_) => "real",
        Value::Bool(_) => "boolean",
        Value::Time(_) => "datetime",
        Value::Json(_) => "JSON",
    }
}

display_as_name!(Table);

/// Columns the connector adds to every table (see `docs/tables/README.md`).
pub const CONNECTOR_COLUMNS: &[(&str, ColumnType)] = &[
    (columns::SOURCE_LOG_TYPE, ColumnType::Str),
    (columns::SOURCE_OBJECT, ColumnType::Str),
    (columns::EVENT_TIME, ColumnType::DateTime),
    (columns::TIME_GENERATED_FROM, ColumnType::Str),
    (columns::RECORD_ID, ColumnType::Str),
    (columns::ADDITIONAL_FIELDS, ColumnType::Dynamic),
    // Enrichment (ML and pattern stages).
    (columns::ANOMALY_SCORE, ColumnType::Real),
    (columns::IS_ANOMALY, ColumnType::Bool),
    (columns::ANOMALY_REASONS, ColumnType::Dynamic),
    (columns::LOG_CATEGORY, ColumnType::Str),
    (columns::LOG_CATEGORY_CONFIDENCE, ColumnType::Real),
    (columns::PRIORITY_SCORE, ColumnType::Real),
    (columns::PRIORITY, ColumnType::Str),
    (columns::MODEL_VERSION, ColumnType::Str),
    (columns::PATTERN_ID, ColumnType::Str),
    (columns::PATTERN_TEMPLATE, ColumnType::Str),
    (columns::PATTERN_FLAGS, ColumnType::Dynamic),
    (columns::SEQUENCE_SCORE, ColumnType::Real),
    (columns::DETECTION_RULES, ColumnType::Dynamic),
    (columns::BEHAVIOUR_FLAGS, ColumnType::Dynamic),
];

const AWSCLOUDTRAIL: &[(&str, ColumnType)] = &[
    ("AdditionalEventData", ColumnType::Str),
    ("APIVersion", ColumnType::Str),
    ("AwsEventId", ColumnType::Str),
    ("AWSRegion", ColumnType::Str),
    ("AwsRequestId", ColumnType::Str),
    ("AwsRequestId_", ColumnType::Str),
    ("Category", ColumnType::Str),
    ("CidrIp", ColumnType::Str),
    ("CipherSuite", ColumnType::Str),
    ("ClientProvidedHostHeader", ColumnType::Str),
    ("DestinationPort", ColumnType::Str),
    ("EC2RoleDelivery", ColumnType::Str),
    ("ErrorCode", ColumnType::Str),
    ("ErrorMessage", ColumnType::Str),
    ("EventName", ColumnType::Str),
    ("EventSource", ColumnType::Str),
    ("EventTypeName", ColumnType::Str),
    ("EventVersion", ColumnType::Str),
    ("IpProtocol", ColumnType::Str),
    ("ManagementEvent", ColumnType::Bool),
    ("OperationName", ColumnType::Str),
    ("ReadOnly", ColumnType::Bool),
    ("RecipientAccountId", ColumnType::Str),
    ("RequestParameters", ColumnType::Str),
    ("Resources", ColumnType::Str),
    ("ResponseElements", ColumnType::Str),
    ("ServiceEventDetails", ColumnType::Str),
    ("SessionCreationDate", ColumnType::DateTime),
    ("SessionIssuerAccountId", ColumnType::Str),
    ("SessionIssuerArn", ColumnType::Str),
    ("SessionIssuerPrincipalId", ColumnType::Str),
    ("SessionIssuerType", ColumnType::Str),
    ("SessionIssuerUserName", ColumnType::Str),
    ("SessionMfaAuthenticated", ColumnType::Bool),
    ("SharedEventId", ColumnType::Str),
    ("SourceIpAddress", ColumnType::Str),
    ("SourcePort", ColumnType::Str),
    ("TimeGenerated", ColumnType::DateTime),
    ("TlsVersion", ColumnType::Str),
    ("UserAgent", ColumnType::Str),
    ("UserIdentityAccessKeyId", ColumnType::Str),
    ("UserIdentityAccountId", ColumnType::Str),
    ("UserIdentityArn", ColumnType::Str),
    ("UserIdentityInvokedBy", ColumnType::Str),
    ("UserIdentityPrincipalid", ColumnType::Str),
    ("UserIdentityStoreArn", ColumnType::Str),
    ("UserIdentityType", ColumnType::Str),
    ("UserIdentityUserId", ColumnType::Str),
    ("UserIdentityUserName", ColumnType::Str),
    ("VpcEndpointId", ColumnType::Str),
];

const AWSVPCFLOW: &[(&str, ColumnType)] = &[
    ("AccountId", ColumnType::Str),
    ("Action", ColumnType::Str),
    ("AzId", ColumnType::Str),
    ("Bytes", ColumnType::Long),
    ("DstAddr", ColumnType::Str),
    ("DstPort", ColumnType::Int),
    ("EcsClusterArn", ColumnType::Str),
    ("EcsClusterName", ColumnType::Str),
    ("EcsContainerId", ColumnType::Str),
    ("EcsContainerInstanceArn", ColumnType::Str),
    ("EcsContainerInstanceId", ColumnType::Str),
    ("EcsSecondContainerId", ColumnType::Str),
    ("EcsServiceName", ColumnType::Str),
    ("EcsTaskArn", ColumnType::Str),
    ("EcsTaskDefinitionArn", ColumnType::Str),
    ("EcsTaskId", ColumnType::Str),
    ("End", ColumnType::DateTime),
    ("FlowDirection", ColumnType::Str),
    ("InstanceId", ColumnType::Str),
    ("InterfaceId", ColumnType::Str),
    ("LogStatus", ColumnType::Str),
    ("Packets", ColumnType::Int),
    ("PktDstAddr", ColumnType::Str),
    ("PktDstAwsService", ColumnType::Str),
    ("PktSrcAddr", ColumnType::Str),
    ("PktSrcAwsService", ColumnType::Str),
    ("Protocol", ColumnType::Int),
    ("Region", ColumnType::Str),
    ("SrcAddr", ColumnType::Str),
    ("SrcPort", ColumnType::Int),
    ("Start", ColumnType::DateTime),
    ("SublocationId", ColumnType::Str),
    ("SublocationType", ColumnType::Str),
    ("SubnetId", ColumnType::Str),
    ("TcpFlags", ColumnType::Int),
    ("TimeGenerated", ColumnType::DateTime),
    ("TrafficPath", ColumnType::Str),
    ("TrafficType", ColumnType::Str),
    ("Version", ColumnType::Int),
    ("VpcId", ColumnType::Str),
];

const AWSGUARDDUTY: &[(&str, ColumnType)] = &[
    ("AccountId", ColumnType::Str),
    ("ActivityType", ColumnType::Str),
    ("Arn", ColumnType::Str),
    ("Description", ColumnType::Str),
    ("Id", ColumnType::Str),
    ("Partition", ColumnType::Str),
    ("Region", ColumnType::Str),
    ("ResourceDetails", ColumnType::Dynamic),
    ("SchemaVersion", ColumnType::Str),
    ("ServiceDetails", ColumnType::Dynamic),
    ("Severity", ColumnType::Int),
    ("TimeCreated", ColumnType::DateTime),
    ("TimeGenerated", ColumnType::DateTime),
    ("Title", ColumnType::Str),
];

const AWSCLOUDWATCH: &[(&str, ColumnType)] = &[
    ("ExtractedTime", ColumnType::DateTime),
    ("Message", ColumnType::Str),
    ("TimeGenerated", ColumnType::DateTime),
];

const AWSWAF: &[(&str, ColumnType)] = &[
    ("Action", ColumnType::Str),
    ("Args", ColumnType::Str),
    ("CaptchaResponse", ColumnType::Dynamic),
    ("ChallengeResponse", ColumnType::Dynamic),
    ("ClientIp", ColumnType::Str),
    ("Country", ColumnType::Str),
    ("ExcludedRules", ColumnType::Dynamic),
    ("FormatVersion", ColumnType::Str),
    ("Headers", ColumnType::Dynamic),
    ("HttpMethod", ColumnType::Str),
    ("HttpRequest", ColumnType::Dynamic),
    ("HttpSourceId", ColumnType::Str),
    ("HttpSourceName", ColumnType::Str),
    ("HttpVersion", ColumnType::Str),
    ("Ja3Fingerprint", ColumnType::Str),
    ("Labels", ColumnType::Dynamic),
    ("NonTerminatingMatchingRules", ColumnType::Dynamic),
    ("OversizeFields", ColumnType::Dynamic),
    ("RateBasedRuleList", ColumnType::Dynamic),
    ("RequestHeadersInserted", ColumnType::Dynamic),
    ("RequestId", ColumnType::Str),
    ("ResponseCodeSent", ColumnType::Int),
    ("RuleGroupId", ColumnType::Str),
    ("RuleGroupList", ColumnType::Dynamic),
    ("TerminatingRule", ColumnType::Dynamic),
    ("TerminatingRuleId", ColumnType::Str),
    ("TerminatingRuleMatchDetails", ColumnType::Dynamic),
    ("TerminatingRuleType", ColumnType::Str),
    ("TimeGenerated", ColumnType::DateTime),
    ("Uri", ColumnType::Str),
    ("WebAclId", ColumnType::Str),
];

const AWSS3SERVERACCESS: &[(&str, ColumnType)] = &[
    ("AccessPointARN", ColumnType::Str),
    ("ACLRequired", ColumnType::Str),
    ("AuthenticationType", ColumnType::Str),
    ("Bucket", ColumnType::Str),
    ("BucketOwner", ColumnType::Str),
    ("BytesSent", ColumnType::Int),
    ("CipherSuite", ColumnType::Str),
    ("ErrorCode", ColumnType::Str),
    ("HostHeader", ColumnType::Str),
    ("HostId", ColumnType::Str),
    ("HttpStatus", ColumnType::Int),
    ("Key", ColumnType::Str),
    ("ObjectSize", ColumnType::Int),
    ("Operation", ColumnType::Str),
    ("Referer", ColumnType::Str),
    ("RemoteIp", ColumnType::Str),
    ("Requester", ColumnType::Str),
    ("RequestId", ColumnType::Str),
    ("RequestUri", ColumnType::Str),
    ("SignatureVersion", ColumnType::Str),
    ("TimeGenerated", ColumnType::DateTime),
    ("TLSVersion", ColumnType::Str),
    ("TotalTime", ColumnType::Int),
    ("TurnAroundTime", ColumnType::Str),
    ("UserAgent", ColumnType::Str),
    ("VersionId", ColumnType::Str),
];

const AWSROUTE53RESOLVER: &[(&str, ColumnType)] = &[
    ("AccountId", ColumnType::Str),
    ("Answers", ColumnType::Dynamic),
    ("FirewallDomainListId", ColumnType::Str),
    ("FirewallRuleAction", ColumnType::Str),
    ("FirewallRuleGroupId", ColumnType::Str),
    ("LogType", ColumnType::Str),
    ("QueryClass", ColumnType::Str),
    ("QueryName", ColumnType::Str),
    ("QueryType", ColumnType::Str),
    ("Rcode", ColumnType::Str),
    ("Region", ColumnType::Str),
    ("SrcAddr", ColumnType::Str),
    ("SrcIds", ColumnType::Dynamic),
    ("SrcPort", ColumnType::Str),
    ("TimeGenerated", ColumnType::DateTime),
    ("Transport", ColumnType::Str),
    ("Version", ColumnType::Str),
    ("VpcId", ColumnType::Str),
];

const AWSNETWORKFIREWALLALERT: &[(&str, ColumnType)] = &[
    ("AlertAction", ColumnType::Str),
    ("AppProto", ColumnType::Str),
    ("AvailabilityZone", ColumnType::Str),
    ("Category", ColumnType::Str),
    ("DestIp", ColumnType::Str),
    ("DestPort", ColumnType::Str),
    ("Direction", ColumnType::Str),
    ("EventTimestamp", ColumnType::DateTime),
    ("EventType", ColumnType::Str),
    ("FirewallName", ColumnType::Str),
    ("FlowId", ColumnType::Str),
    ("PktSrc", ColumnType::Str),
    ("Proto", ColumnType::Str),
    ("Rev", ColumnType::Str),
    ("Severity", ColumnType::Str),
    ("Signature", ColumnType::Str),
    ("SignatureId", ColumnType::Str),
    ("Sni", ColumnType::Str),
    ("SrcIp", ColumnType::Str),
    ("SrcPort", ColumnType::Str),
    ("TimeGenerated", ColumnType::DateTime),
    ("Timestamp", ColumnType::DateTime),
    ("TxId", ColumnType::Str),
    ("VerdictAction", ColumnType::Str),
    ("Version", ColumnType::Str),
];

const AWSNETWORKFIREWALLFLOW: &[(&str, ColumnType)] = &[
    ("Ack", ColumnType::Bool),
    ("AppProto", ColumnType::Str),
    ("AvailabilityZone", ColumnType::Str),
    ("DestIp", ColumnType::Str),
    ("DestPort", ColumnType::Str),
    ("Ecn", ColumnType::Bool),
    ("EventTimestamp", ColumnType::Str),
    ("EventType", ColumnType::Str),
    ("Fin", ColumnType::Bool),
    ("FirewallName", ColumnType::Str),
    ("FlowId", ColumnType::Str),
    ("NetFlowAge", ColumnType::Str),
    ("NetFlowBytes", ColumnType::Str),
    ("NetFlowEnd", ColumnType::DateTime),
    ("NetFlowMaxttl", ColumnType::Str),
    ("NetFlowMinttl", ColumnType::Str),
    ("NetFlowPkts", ColumnType::Str),
    ("NetFlowStart", ColumnType::DateTime),
    ("Proto", ColumnType::Str),
    ("Psh", ColumnType::Bool),
    ("Rst", ColumnType::Bool),
    ("SrcIp", ColumnType::Str),
    ("SrcPort", ColumnType::Str),
    ("Syn", ColumnType::Bool),
    ("TCPFlags", ColumnType::Str),
    ("TimeGenerated", ColumnType::DateTime),
    ("Timestamp", ColumnType::DateTime),
];

const AWSNETWORKFIREWALLTLS: &[(&str, ColumnType)] = &[
    ("Action", ColumnType::Str),
    ("AvailabilityZone", ColumnType::Str),
    ("DestIp", ColumnType::Str),
    ("DestPort", ColumnType::Str),
    ("ErrorMessage", ColumnType::Str),
    ("EventTimestamp", ColumnType::DateTime),
    ("FirewallName", ColumnType::Str),
    ("LeafCertificateFingerprint", ColumnType::Str),
    ("Sni", ColumnType::Str),
    ("SrcIp", ColumnType::Str),
    ("SrcPort", ColumnType::Str),
    ("Status", ColumnType::Str),
    ("TimeGenerated", ColumnType::DateTime),
];

const AWSALBACCESSLOGS: &[(&str, ColumnType)] = &[
    ("ActionsExecuted", ColumnType::Str),
    ("Alb", ColumnType::Str),
    ("ALBType", ColumnType::Str),
    ("ChosenCertArn", ColumnType::Str),
    ("Classification", ColumnType::Str),
    ("ClassificationReason", ColumnType::Str),
    ("ClientIp", ColumnType::Str),
    ("ClientPort", ColumnType::Int),
    ("ConnTraceId", ColumnType::Str),
    ("DomainName", ColumnType::Str),
    ("ElbStatusCode", ColumnType::Int),
    ("LambdaErrorReason", ColumnType::Str),
    ("MatchedRulePriority", ColumnType::Str),
    ("ReceivedBytes", ColumnType::Long),
    ("RedirectUrl", ColumnType::Str),
    ("RequestCreationTime", ColumnType::Str),
    ("RequestProcessingTime", ColumnType::Str),
    ("RequestRaw", ColumnType::Str),
    ("ResponseProcessingTime", ColumnType::Str),
    ("SentBytes", ColumnType::Long),
    ("SslCipher", ColumnType::Str),
    ("SslProtocol", ColumnType::Str),
    ("TargetGroupArn", ColumnType::Str),
    ("TargetIp", ColumnType::Str),
    ("TargetPort", ColumnType::Int),
    ("TargetPortList", ColumnType::Str),
    ("TargetProcessingTime", ColumnType::Str),
    ("TargetStatusCode", ColumnType::Str),
    ("TargetStatusCodeList", ColumnType::Str),
    ("TimeGenerated", ColumnType::DateTime),
    ("TraceId", ColumnType::Str),
    ("UserAgent", ColumnType::Str),
];

const AWSNLBACCESSLOGS: &[(&str, ColumnType)] = &[
    ("ALPNBEProtocol", ColumnType::Str),
    ("ALPNClientPrefList", ColumnType::Str),
    ("ALPNFEProtocol", ColumnType::Str),
    ("ChosenCertArn", ColumnType::Str),
    ("ChosenCertSerial", ColumnType::Str),
    ("ClientIPPort", ColumnType::Str),
    ("ConnectionTime", ColumnType::Str),
    ("DomainName", ColumnType::Str),
    ("IncomingTLSAlert", ColumnType::Str),
    ("Listener", ColumnType::Str),
    ("Nlb", ColumnType::Str),
    ("NLBType", ColumnType::Str),
    ("ReceivedBytes", ColumnType::Str),
    ("SentBytes", ColumnType::Str),
    ("TargetIPPort", ColumnType::Str),
    ("TimeGenerated", ColumnType::DateTime),
    ("TLSCipher", ColumnType::Str),
    ("TLSConnectionCreationTime", ColumnType::Str),
    ("TlsHandshakeTime", ColumnType::Str),
    ("TLSNamedGroup", ColumnType::Str),
    ("TLSProtocolVersion", ColumnType::Str),
    ("Version", ColumnType::Str),
];

const AWSELBFLOWLOGS: &[(&str, ColumnType)] = &[
    ("AccountId", ColumnType::Str),
    ("Action", ColumnType::Str),
    ("Bytes", ColumnType::Str),
    ("DestinationAddress", ColumnType::Str),
    ("DestinationPort", ColumnType::Str),
    ("EndTime", ColumnType::DateTime),
    ("InterfaceId", ColumnType::Str),
    ("LogStatus", ColumnType::Str),
    ("LogType", ColumnType::Str),
    ("Packets", ColumnType::Str),
    ("Protocol", ColumnType::Str),
    ("SourceAddress", ColumnType::Str),
    ("SourcePort", ColumnType::Str),
    ("SStartTime", ColumnType::DateTime),
    ("TimeGenerated", ColumnType::DateTime),
    ("Version", ColumnType::Str),
];

const AWSSECURITYHUBFINDINGS: &[(&str, ColumnType)] = &[
    ("AwsAccountId", ColumnType::Str),
    ("AwsRegion", ColumnType::Str),
    ("AwsSecurityFindingCreatedAt", ColumnType::DateTime),
    ("AwsSecurityFindingDescription", ColumnType::Str),
    ("AwsSecurityFindingFirstObservedAt", ColumnType::DateTime),
    ("AwsSecurityFindingGeneratorId", ColumnType::Str),
    ("AwsSecurityFindingId", ColumnType::Str),
    ("AwsSecurityFindingLastObservedAt", ColumnType::DateTime),
    ("AwsSecurityFindingProcessedAt", ColumnType::DateTime),
    ("AwsSecurityFindingProductArn", ColumnType::Str),
    ("AwsSecurityFindingProductFields", ColumnType::Dynamic),
    ("AwsSecurityFindingProductName", ColumnType::Str),
    ("AwsSecurityFindingSeverity", ColumnType::Dynamic),
    ("AwsSecurityFindingTitle", ColumnType::Str),
    ("AwsSecurityFindingTypes", ColumnType::Dynamic),
    ("AwsSecurityFindingUpdatedAt", ColumnType::DateTime),
    ("ComplianceAssociatedStandards", ColumnType::Dynamic),
    ("ComplianceRelatedRequirements", ColumnType::Dynamic),
    ("ComplianceSecurityControlId", ColumnType::Str),
    ("ComplianceSecurityControlParameters", ColumnType::Dynamic),
    ("ComplianceStatus", ColumnType::Str),
    ("ComplianceStatusReasons", ColumnType::Dynamic),
    ("RawData", ColumnType::Dynamic),
    ("RecordState", ColumnType::Str),
    ("Remediation", ColumnType::Dynamic),
    ("Resources", ColumnType::Dynamic),
    ("SchemaVersion", ColumnType::Str),
    ("TimeGenerated", ColumnType::DateTime),
    ("WorkflowState", ColumnType::Str),
];

/// Custom table for CloudFront standard logs (legacy TSV and v2 JSON); names follow the
/// CloudFront field names in PascalCase.
const AWSCLOUDFRONT: &[(&str, ColumnType)] = &[
    ("TimeGenerated", ColumnType::DateTime),
    ("EdgeLocation", ColumnType::Str),
    ("ScBytes", ColumnType::Long),
    ("ClientIp", ColumnType::Str),
    ("CsMethod", ColumnType::Str),
    ("CsHost", ColumnType::Str),
    ("CsUriStem", ColumnType::Str),
    ("ScStatus", ColumnType::Int),
    ("CsReferer", ColumnType::Str),
    ("CsUserAgent", ColumnType::Str),
    ("CsUriQuery", ColumnType::Str),
    ("CsCookie", ColumnType::Str),
    ("EdgeResultType", ColumnType::Str),
    ("EdgeRequestId", ColumnType::Str),
    ("HostHeader", ColumnType::Str),
    ("CsProtocol", ColumnType::Str),
    ("CsBytes", ColumnType::Long),
    ("TimeTaken", ColumnType::Real),
    ("ForwardedFor", ColumnType::Str),
    ("SslProtocol", ColumnType::Str),
    ("SslCipher", ColumnType::Str),
    ("EdgeResponseResultType", ColumnType::Str),
    ("CsProtocolVersion", ColumnType::Str),
    ("FleStatus", ColumnType::Str),
    ("FleEncryptedFields", ColumnType::Str),
    ("ClientPort", ColumnType::Int),
    ("TimeToFirstByte", ColumnType::Real),
    ("EdgeDetailedResultType", ColumnType::Str),
    ("ScContentType", ColumnType::Str),
    ("ScContentLen", ColumnType::Long),
    ("ScRangeStart", ColumnType::Long),
    ("ScRangeEnd", ColumnType::Long),
    ("DistributionId", ColumnType::Str),
];

/// Custom table for alert records (one per record above a threshold).
const S3SENTINELALERTS: &[(&str, ColumnType)] = &[
    ("TimeGenerated", ColumnType::DateTime),
    ("AlertName", ColumnType::Str),
    ("AlertSeverity", ColumnType::Str),
    ("Description", ColumnType::Str),
    ("SourceRecordId", ColumnType::Str),
    ("SourceTable", ColumnType::Str),
    // Which threshold fired: anomaly, priority or anomaly+priority.
    ("AlertTrigger", ColumnType::Str),
    // The source record in a few words (event, actor, address).
    ("SourceSummary", ColumnType::Str),
];

/// Custom table for generic JSON lines and text lines: the same message columns as
/// AWSCloudWatch, so queries over both look alike.
const S3SENTINELLOGS: &[(&str, ColumnType)] = &[
    ("TimeGenerated", ColumnType::DateTime),
    ("ExtractedTime", ColumnType::DateTime),
    ("Message", ColumnType::Str),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connector_columns_collide_with_no_builtin_column() {
        for table in Table::BUILT_IN {
            for (name, _) in CONNECTOR_COLUMNS {
                assert!(
                    !table.columns().iter().any(|(c, _)| c == name),
                    "{name} collides with a column of {table}"
                );
            }
        }
    }

    #[test]
    fn column_names_follow_azure_naming_rules() {
        for table in Table::ALL {
            for (name, _) in table.columns().iter().chain(CONNECTOR_COLUMNS) {
                assert!((2..=45).contains(&name.len()), "{name}");
                assert!(name.as_bytes()[0].is_ascii_alphabetic(), "{name}");
                assert!(
                    name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
                    "{name}"
                );
            }
        }
    }

    #[test]
    fn every_table_has_time_generated() {
        for table in Table::ALL {
            assert_eq!(
                table.column_type("TimeGenerated"),
                Some(ColumnType::DateTime),
                "{table}"
            );
        }
    }

    #[test]
    fn check_record_accepts_fitting_rows_and_names_what_does_not_fit() {
        use serde_json::value::RawValue;
        let mut r = Record::new(LogType::VpcFlow);
        r.push("SrcPort", 443i64);
        r.push("Bytes", 5_000_000_000i64);
        r.push("Action", "ACCEPT");
        r.push("AnomalyScore", 0.5f64);
        r.push(
            "AdditionalFields",
            RawValue::from_string("{\"a\":1}".into()).unwrap(),
        );
        assert_eq!(check_record(&r), Ok(()));

        for (column, value, error) in [
            ("Packets", Value::Int(5_000_000_000), "32-bit"),
            ("NoSuchColumn", "x".into(), "not a column of AWSVPCFlow"),
            ("DstPort", "80".into(), "string value in a int"),
            ("Action", "REJECT".into(), "twice"),
            ("TimeGenerated", "x".into(), "TimeGenerated"),
        ] {
            let mut bad = r.clone();
            bad.push(column, value);
            let why = check_record(&bad).unwrap_err();
            assert!(why.contains(error), "{column}: {why}");
        }
    }

    #[test]
    fn names_round_trip() {
        for t in LogType::ALL {
            assert_eq!(LogType::from_name(t.name()), Some(t));
        }
        for t in Table::ALL {
            assert_eq!(Table::from_name(t.name()), Some(t));
        }
        assert_eq!(
            Table::AwsCloudTrail.default_stream(),
            "Custom-AWSCloudTrail"
        );
        assert_eq!(
            Table::AwsCloudFront.default_stream(),
            "Custom-AWSCloudFront"
        );
    }
}

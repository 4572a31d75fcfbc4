//! AWS Security Hub findings (ASFF) -> AWSSecurityHubFindings, one row per finding.
//!
//! Security Hub has no S3 export of its own; findings reach S3 as EventBridge events
//! (`"detail-type": "Security Hub Findings - Imported"`, `"detail": {"findings": [...]}`)
//! delivered by Firehose, often several events concatenated on one line. Bare findings and
//! the `{"Findings": [...]}` shape of the GetFindings API are read too.

use std::io::BufRead;

use serde_json::value::RawValue;

use super::fields::{Extras, JsonObject, json_error_reason, push_cow, push_json, push_strs};
use super::json_lines::parse_objects_unwrapping;
use super::{Emitter, ParseError, Parser};
use crate::record::{LogType, Record, Value};

const LOG_TYPE: LogType = LogType::SecurityHub;

/// One ASFF finding as a row.
pub fn record_from_finding(bytes: &[u8], finding: &JsonObject<'_>) -> Result<Record, String> {
    if !finding.has("ProductArn") && !finding.has("SchemaVersion") {
        return Err("not a Security Hub finding: ProductArn and SchemaVersion are missing".into());
    }
    // A finding without a readable time is delivered with its object's; the whole finding
    // stays in RawData, so an unreadable time is still there to see.
    let mut r = Record::new(LOG_TYPE);
    r.time = finding.usable_time(&["UpdatedAt", "CreatedAt"], &mut Extras::new());
    push_cow(&mut r, "AwsAccountId", finding.str("AwsAccountId"));
    push_cow(&mut r, "AwsRegion", finding.str("Region"));
    for (column, key) in [
        ("AwsSecurityFindingCreatedAt", "CreatedAt"),
        ("AwsSecurityFindingFirstObservedAt", "FirstObservedAt"),
        ("AwsSecurityFindingLastObservedAt", "LastObservedAt"),
        ("AwsSecurityFindingProcessedAt", "ProcessedAt"),
        ("AwsSecurityFindingUpdatedAt", "UpdatedAt"),
    ] {
        r.push_opt(column, finding.time(key).ok().flatten());
    }
    push_strs(
        &mut r,
        finding,
        &[
            ("AwsSecurityFindingDescription", "Description"),
            ("AwsSecurityFindingGeneratorId", "GeneratorId"),
            ("AwsSecurityFindingId", "Id"),
            ("AwsSecurityFindingProductArn", "ProductArn"),
            ("AwsSecurityFindingProductName", "ProductName"),
            ("AwsSecurityFindingTitle", "Title"),
            ("RecordState", "RecordState"),
            ("SchemaVersion", "SchemaVersion"),
        ],
    );
    push_json(
        &mut r,
        finding,
        &[
            ("AwsSecurityFindingProductFields", "ProductFields"),
            ("AwsSecurityFindingSeverity", "Severity"),
            ("AwsSecurityFindingTypes", "Types"),
            ("Remediation", "Remediation"),
            ("Resources", "Resources"),
        ],
    );
    if let Some(compliance) = finding.object("Compliance") {
        push_strs(
            &mut r,
            &compliance,
            &[
                ("ComplianceSecurityControlId", "SecurityControlId"),
                ("ComplianceStatus", "Status"),
            ],
        );
        push_json(
            &mut r,
            &compliance,
            &[
                ("ComplianceAssociatedStandards", "AssociatedStandards"),
                ("ComplianceRelatedRequirements", "RelatedRequirements"),
                (
                    "ComplianceSecurityControlParameters",
                    "SecurityControlParameters",
                ),
                ("ComplianceStatusReasons", "StatusReasons"),
            ],
        );
    }
    // `Workflow.Status` replaced the deprecated top-level `WorkflowState`.
    let workflow = finding
        .object("Workflow")
        .and_then(|w| w.str("Status"))
        .or_else(|| finding.str("WorkflowState"));
    push_cow(&mut r, "WorkflowState", workflow);
    // The table keeps the whole finding in RawData, so nothing goes to AdditionalFields.
    let raw: Box<RawValue> = serde_json::from_slice(bytes).map_err(|e| json_error_reason(&e))?;
    r.push("RawData", Value::Json(raw));
    Ok(r)
}

/// The findings an object carries: an EventBridge event's `detail.findings`, a
/// `{"Findings": [...]}` list, or the object itself.
fn findings<'a>(obj: &JsonObject<'a>) -> Option<Vec<&'a RawValue>> {
    let list = obj
        .object("detail")
        .and_then(|d| d.raw("findings"))
        .or_else(|| obj.raw("Findings"))?;
    serde_json::from_str(list.get()).ok()
}

#[derive(Debug, Default)]
pub struct SecurityHubParser;

impl Parser for SecurityHubParser {
    fn parse(&mut self, input: &mut dyn BufRead, out: &mut Emitter<'_>) -> Result<(), ParseError> {
        parse_objects_unwrapping(input, out, LOG_TYPE, &findings, &mut |bytes, obj| {
            record_from_finding(bytes, obj)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::Collect;
    use crate::formats::{assert_strs, time_text};

    fn parse(text: &str) -> Collect {
        crate::formats::parse_checked(&mut SecurityHubParser, "f", text)
    }

    pub const FINDING: &str = r#"{"SchemaVersion":"2018-10-08","Id":"arn:aws:securityhub:us-east-1:111122223333:security-control/S3.8/finding/0b1c","ProductArn":"arn:aws:securityhub:us-east-1::product/aws/securityhub","ProductName":"Security Hub","GeneratorId":"security-control/S3.8","AwsAccountId":"111122223333","Region":"us-east-1","Types":["Software and Configuration Checks/Industry and Regulatory Standards"],"FirstObservedAt":"2026-11-19T08:00:00.000Z","LastObservedAt":"2026-11-20T10:00:00.000Z","CreatedAt":"2026-11-19T08:00:00.000Z","UpdatedAt":"2026-11-20T10:00:05.250Z","ProcessedAt":"2026-11-20T10:00:07.000Z","Severity":{"Label":"HIGH","Normalized":70,"Original":"HIGH"},"Title":"S3 general purpose buckets should block public access","Description":"This control checks whether the bucket blocks public access.","Remediation":{"Recommendation":{"Text":"Block public access","Url":"https://docs.aws.amazon.com/console/securityhub/S3.8/remediation"}},"ProductFields":{"aws/securityhub/ProductName":"Security Hub"},"Resources":[{"Type":"AwsS3Bucket","Id":"arn:aws:s3:::shop-public","Partition":"aws","Region":"us-east-1"}],"Compliance":{"Status":"FAILED","SecurityControlId":"S3.8","AssociatedStandards":[{"StandardsId":"standards/aws-foundational-security-best-practices/v/1.0.0"}],"RelatedRequirements":["NIST.800-53.r5 AC-21"]},"WorkflowState":"NEW","Workflow":{"Status":"NOTIFIED"},"RecordState":"ACTIVE"}"#;

    #[test]
    fn eventbridge_events_lists_and_bare_findings() {
        let event = format!(
            r#"{{"version":"0","id":"e1","detail-type":"Security Hub Findings - Imported","source":"aws.securityhub","account":"111122223333","time":"2026-11-20T10:00:08Z","region":"us-east-1","resources":["x"],"detail":{{"findings":[{FINDING},{FINDING}]}}}}"#
        );
        // Firehose concatenates events without a separator.
        let text = format!("{event}{event}\n{{\"Findings\":[{FINDING}]}}\n{FINDING}\n");
        use crate::formats::{Detection, Format, detect::detect_content};
        for head in [
            event.as_str(),
            FINDING,
            &format!("{{\"Findings\":[{FINDING}]}}"),
        ] {
            assert_eq!(
                detect_content(head.as_bytes()),
                Detection::Parse(Format::SecurityHub),
                "{head}"
            );
        }
        let got = parse(&text);
        assert!(got.rejects.is_empty(), "{:?}", got.rejects);
        assert_eq!(got.records.len(), 6);
        let r = &got.records[0];
        assert_eq!(r.log_type, LogType::SecurityHub);
        assert_eq!(time_text(r), "2026-11-20T10:00:05.250000Z");
        assert_strs(
            r,
            &[
                ("ComplianceStatus", "FAILED"),
                ("ComplianceSecurityControlId", "S3.8"),
                ("WorkflowState", "NOTIFIED"),
                ("AwsRegion", "us-east-1"),
            ],
        );
        assert!(matches!(
            r.get("AwsSecurityFindingSeverity"),
            Some(Value::Json(_))
        ));
        assert!(matches!(r.get("RawData"), Some(Value::Json(_))));
        assert!(matches!(
            r.get("AwsSecurityFindingProcessedAt"),
            Some(Value::Time(_))
        ));
    }

    #[test]
    fn broken_findings_are_rejects_and_the_rest_is_kept() {
        let text = format!(
            "{{\"SchemaVersion\":\"2018-10-08\",\"ProductArn\":\"p\"}}\n{{\"Findings\":[{{\"Id\":1}}]}}\n{{broken\n{FINDING}\n"
        );
        let got = parse(&text);
        assert_eq!(got.counts(), (2, 2));
        assert!(got.rejects[0].reason.contains("ProductArn"));
    }

    #[test]
    fn findings_without_a_usable_time_take_their_objects() {
        let untimed = FINDING
            .replace(r#""CreatedAt":"2026-11-19T08:00:00.000Z","#, "")
            .replace(r#""UpdatedAt":"2026-11-20T10:00:05.250Z","#, "");
        let unreadable = FINDING
            .replace("2026-11-20T10:00:05.250Z", "soon")
            .replace(r#""CreatedAt":"2026-11-19T08:00:00.000Z","#, "");
        let got = crate::formats::assert_untimed_take_object_time(
            &mut SecurityHubParser,
            &untimed,
            &unreadable,
            "soon",
            FINDING,
        );
        for r in &got[..2] {
            assert_eq!(r.get("AwsSecurityFindingUpdatedAt"), None);
        }
        assert!(got[1].get_str("RawData").unwrap().contains("soon"));
    }
}

//! GuardDuty findings -> AWSGuardDuty. S3 exports are JSON lines of findings; findings
//! wrapped as EventBridge events (`"detail": {finding}`) or as a `{"findings":[...]}` list
//! (the GetFindings API shape) are unwrapped.

use super::fields::{Extras, JsonObject, push_json, push_strs};
use super::json_lines::object_parser;
use crate::record::{LogType, Record, Value};

const LOG_TYPE: LogType = LogType::GuardDuty;

/// (column, member) of the string columns.
const STRINGS: &[(&str, &str)] = &[
    ("AccountId", "accountId"),
    ("ActivityType", "type"),
    ("Arn", "arn"),
    ("Description", "description"),
    ("Id", "id"),
    ("Partition", "partition"),
    ("Region", "region"),
    ("SchemaVersion", "schemaVersion"),
    ("Title", "title"),
];

/// (column, member) of the `dynamic` columns.
const DYNAMIC: &[(&str, &str)] = &[
    ("ResourceDetails", "resource"),
    ("ServiceDetails", "service"),
];

const MAPPED: &[&str] = &[
    "accountId",
    "type",
    "arn",
    "description",
    "id",
    "partition",
    "region",
    "resource",
    "schemaVersion",
    "service",
    "severity",
    "createdAt",
    "updatedAt",
    "title",
];

/// One finding (or an EventBridge event carrying one) as a row.
pub fn record_from_object(obj: &JsonObject<'_>) -> Result<Record, String> {
    let detail = obj.object("detail");
    let finding = match &detail {
        Some(d) if d.has("schemaVersion") || d.has("severity") => d,
        _ => obj,
    };
    // Every finding has a schema version, or an id and a finding type; its time may be
    // missing or unreadable and then is its object's.
    let recognized = finding.has("schemaVersion") || (finding.has("id") && finding.has("type"));
    if !recognized {
        return Err("not a GuardDuty finding: schemaVersion, id and type are missing".into());
    }
    let mut extras = Extras::new();
    let mut r = Record::new(LOG_TYPE);
    r.time = finding.usable_time(&["updatedAt", "createdAt"], &mut extras);
    push_strs(&mut r, finding, STRINGS);
    push_json(&mut r, finding, DYNAMIC);
    if let Some(severity) = finding.f64("severity")? {
        // The table's Severity is an int; flooring keeps the band (Low < 4 <= Medium < 7 <=
        // High < 9 <= Critical), and the exact score is kept when it has a fraction.
        r.push("Severity", Value::Int(severity.floor() as i64));
        if severity.fract() != 0.0 {
            if let Some(raw) = finding.raw("severity") {
                extras.raw("severity", raw);
            }
        }
    }
    r.push_opt("TimeCreated", finding.time("createdAt").ok().flatten());
    extras.unmapped(finding, MAPPED);
    extras.finish(&mut r);
    Ok(r)
}

object_parser!(
    GuardDutyParser,
    LOG_TYPE,
    Some("findings"),
    record_from_object
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::Collect;
    use crate::formats::{extras, time_text};

    fn parse(text: &str) -> Collect {
        crate::formats::parse_checked(&mut GuardDutyParser, "f", text)
    }

    const FINDING: &str = r#"{"schemaVersion":"2.0","accountId":"111122223333","region":"us-east-1","partition":"aws","id":"f1","arn":"arn:aws:guardduty:us-east-1:111122223333:detector/d1/finding/f1","type":"UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS","resource":{"resourceType":"AccessKey","accessKeyDetails":{"userName":"app"}},"service":{"serviceName":"guardduty","count":3},"severity":8.5,"createdAt":"2026-11-20T09:00:00.000Z","updatedAt":"2026-11-20T10:00:14.500Z","title":"Credentials used from outside AWS","description":"Instance credentials were used from 203.0.113.77."}"#;

    #[test]
    fn findings_in_every_wrapper() {
        let bridge = format!(
            r#"{{"version":"0","id":"e1","detail-type":"GuardDuty Finding","source":"aws.guardduty","account":"111122223333","time":"2026-11-20T10:00:15Z","region":"us-east-1","resources":[],"detail":{FINDING}}}"#
        );
        let text = format!(
            "{FINDING}\n{bridge}\n{{\"findings\":[{FINDING},{FINDING}]}}\n{{\"findings\":[]}}\n"
        );
        let got = parse(&text);
        assert!(got.rejects.is_empty(), "{:?}", got.rejects);
        assert_eq!(got.records.len(), 4);
        let r = &got.records[0];
        assert_eq!(time_text(r), "2026-11-20T10:00:14.500000Z");
        assert_eq!(r.get("Severity"), Some(&Value::Int(8)));
        assert!(extras(r).contains("\"severity\":8.5"));
        assert!(matches!(r.get("ResourceDetails"), Some(Value::Json(_))));
        assert!(matches!(r.get("TimeCreated"), Some(Value::Time(_))));
        assert_eq!(
            r.get_str("ActivityType"),
            Some("UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS")
        );
        assert_eq!(got.records[1].get_str("Id"), Some("f1"));
    }

    #[test]
    fn objects_that_are_not_findings_are_rejected() {
        let got = parse(
            "{\"hello\":1,\"updatedAt\":\"2026-11-20T10:00:00Z\"}\n{\"schemaVersion\":\"2.0\",\"severity\":\"high\"}\n",
        );
        assert_eq!(got.counts(), (0, 2));
        assert!(got.rejects[0].reason.contains("not a GuardDuty finding"));
        assert!(got.rejects[1].reason.contains("severity"));
    }

    #[test]
    fn findings_without_a_usable_time_take_their_objects() {
        let untimed = FINDING.replace(
            r#""createdAt":"2026-11-20T09:00:00.000Z","updatedAt":"2026-11-20T10:00:14.500Z","#,
            "",
        );
        let unreadable = FINDING
            .replace("2026-11-20T09:00:00.000Z", "soon")
            .replace("2026-11-20T10:00:14.500Z", "yesterday");
        let got = crate::formats::assert_untimed_take_object_time(
            &mut GuardDutyParser,
            &untimed,
            &unreadable,
            "yesterday",
            FINDING,
        );
        assert_eq!(got[0].get_str("Id"), Some("f1"));
        assert_eq!(time_text(&got[2]), "2026-11-20T10:00:14.500000Z");
    }
}

//! AWS WAF (v2) web ACL logs -> AWSWAF. JSON lines; Firehose deliveries may concatenate
//! several objects on one line, which [`super::json_lines`] splits.

use serde_json::value::RawValue;

use super::fields::{Extras, JsonObject, Text, push_json, push_strs};
use super::json_lines::object_parser;
use crate::record::{LogType, Record, Value};

const LOG_TYPE: LogType = LogType::Waf;

/// Top-level members with a column (or folded into one).
const MAPPED: &[&str] = &[
    "timestamp",
    "formatVersion",
    "webaclId",
    "terminatingRuleId",
    "terminatingRuleType",
    "action",
    "terminatingRuleMatchDetails",
    "httpSourceName",
    "httpSourceId",
    "ruleGroupList",
    "rateBasedRuleList",
    "nonTerminatingMatchingRules",
    "requestHeadersInserted",
    "responseCodeSent",
    "httpRequest",
    "labels",
    "captchaResponse",
    "challengeResponse",
    "oversizeFields",
    "excludedRules",
    "ja3Fingerprint",
];

/// (column, member) of the top-level string columns.
const STRINGS: &[(&str, &str)] = &[
    ("FormatVersion", "formatVersion"),
    ("WebAclId", "webaclId"),
    ("TerminatingRuleId", "terminatingRuleId"),
    ("TerminatingRuleType", "terminatingRuleType"),
    ("Action", "action"),
    ("HttpSourceName", "httpSourceName"),
    ("HttpSourceId", "httpSourceId"),
    ("Ja3Fingerprint", "ja3Fingerprint"),
];

/// (column, member) of the top-level `dynamic` columns.
const DYNAMIC: &[(&str, &str)] = &[
    ("TerminatingRuleMatchDetails", "terminatingRuleMatchDetails"),
    ("RuleGroupList", "ruleGroupList"),
    ("RateBasedRuleList", "rateBasedRuleList"),
    ("NonTerminatingMatchingRules", "nonTerminatingMatchingRules"),
    ("RequestHeadersInserted", "requestHeadersInserted"),
    ("Labels", "labels"),
    ("CaptchaResponse", "captchaResponse"),
    ("ChallengeResponse", "challengeResponse"),
    ("OversizeFields", "oversizeFields"),
    ("ExcludedRules", "excludedRules"),
];

/// (column, member) of the string columns from `httpRequest`.
const REQUEST_STRINGS: &[(&str, &str)] = &[
    ("ClientIp", "clientIp"),
    ("Country", "country"),
    ("Uri", "uri"),
    ("Args", "args"),
    ("HttpVersion", "httpVersion"),
    ("HttpMethod", "httpMethod"),
    ("RequestId", "requestId"),
];

#[derive(serde::Deserialize)]
struct RuleGroup<'a> {
    #[serde(rename = "ruleGroupId", borrow, default)]
    rule_group_id: Option<Text<'a>>,
    #[serde(rename = "terminatingRule", borrow, default)]
    terminating_rule: Option<&'a RawValue>,
}

/// One WAF log object as a row.
pub fn record_from_object(obj: &JsonObject<'_>) -> Result<Record, String> {
    // Every WAF log record names its web ACL, or carries the request and the action; its
    // timestamp may be missing or unreadable and then is its object's.
    let recognized = obj.has("webaclId") || (obj.has("httpRequest") && obj.has("action"));
    if !recognized {
        return Err("not a WAF log record: webaclId, httpRequest and action are missing".into());
    }
    let mut extras = Extras::new();
    let mut r = Record::new(LOG_TYPE);
    r.time = obj.usable_time(&["timestamp"], &mut extras);
    push_strs(&mut r, obj, STRINGS);
    if let Some(code) = obj.i64("responseCodeSent")? {
        r.push("ResponseCodeSent", Value::Int(code));
    }
    push_json(&mut r, obj, DYNAMIC);
    if let Some(request) = obj.object("httpRequest") {
        push_strs(&mut r, &request, REQUEST_STRINGS);
        push_json(&mut r, &request, &[("Headers", "headers")]);
    }
    if let Some(raw) = obj.json("httpRequest") {
        r.push("HttpRequest", Value::Json(raw));
    }
    terminating_rule(obj, &mut r);
    extras.unmapped(obj, MAPPED);
    extras.finish(&mut r);
    Ok(r)
}

/// `RuleGroupId` and `TerminatingRule`: the rule group that ended evaluation and its rule,
/// or for a plain rule, the rule id, action and match details from the top level.
fn terminating_rule(obj: &JsonObject<'_>, r: &mut Record) {
    let groups: Vec<RuleGroup<'_>> = obj
        .raw("ruleGroupList")
        .and_then(|raw| serde_json::from_str(raw.get()).ok())
        .unwrap_or_default();
    if let Some(group) = groups
        .iter()
        .find(|g| g.terminating_rule.is_some_and(|t| t.get() != "null"))
    {
        if let Some(id) = &group.rule_group_id {
            r.push("RuleGroupId", Value::Str(id.as_str().to_owned()));
        }
        if let Some(rule) = group.terminating_rule {
            r.push("TerminatingRule", Value::Json(rule.to_owned()));
        }
        return;
    }
    let rule_id = obj.str("terminatingRuleId");
    if rule_id.as_deref().is_none_or(|id| id == "Default_Action") {
        return;
    }
    let mut rule = serde_json::Map::new();
    rule.insert(
        "ruleId".into(),
        rule_id.as_deref().unwrap_or_default().into(),
    );
    if let Some(action) = obj.str("action") {
        rule.insert("action".into(), action.as_ref().into());
    }
    if let Some(details) = obj.raw("terminatingRuleMatchDetails") {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(details.get()) {
            rule.insert("ruleMatchDetails".into(), v);
        }
    }
    let text = serde_json::Value::Object(rule).to_string();
    if let Ok(raw) = RawValue::from_string(text) {
        r.push("TerminatingRule", Value::Json(raw));
    }
}

object_parser!(WafParser, LOG_TYPE, None, record_from_object);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::Collect;
    use crate::formats::{assert_strs, extras, time_text};

    fn parse(text: &str) -> Collect {
        crate::formats::parse_checked(&mut WafParser, "f", text)
    }

    const BLOCK: &str = r#"{"timestamp":1763632807123,"formatVersion":1,"webaclId":"arn:aws:wafv2:us-east-1:111122223333:regional/webacl/shop/a1b2","terminatingRuleId":"SQLi","terminatingRuleType":"REGULAR","action":"BLOCK","terminatingRuleMatchDetails":[{"conditionType":"SQL_INJECTION","location":"QUERY_STRING","matchedData":["1","OR","1"]}],"httpSourceName":"ALB","httpSourceId":"111122223333-app/web/0a1b","ruleGroupList":[],"rateBasedRuleList":[],"nonTerminatingMatchingRules":[],"requestHeadersInserted":null,"responseCodeSent":403,"httpRequest":{"clientIp":"203.0.113.50","country":"NL","headers":[{"name":"Host","value":"shop.example.com"}],"uri":"/search","args":"q=1%20OR%201","httpVersion":"HTTP/1.1","httpMethod":"GET","requestId":"1-6555-abc"},"labels":[{"name":"awswaf:managed:aws:sql-database:SQLi_QueryArguments"}],"ja3Fingerprint":"e7d705a3286e19ea42f587b344ee6865","ja4Fingerprint":"t13d1516h2_8daaf6152771_02713d6af862"}"#;
    const GROUP: &str = r#"{"timestamp":1763632808000,"formatVersion":1,"webaclId":"w","terminatingRuleId":"RG","terminatingRuleType":"GROUP","action":"BLOCK","terminatingRuleMatchDetails":[],"httpSourceName":"CF","httpSourceId":"E2EXAMPLE","ruleGroupList":[{"ruleGroupId":"AWS#AWSManagedRulesCommonRuleSet","terminatingRule":{"ruleId":"XSS_BODY","action":"BLOCK","ruleMatchDetails":null},"nonTerminatingMatchingRules":[],"excludedRules":null}],"rateBasedRuleList":[],"nonTerminatingMatchingRules":[],"httpRequest":{"clientIp":"198.51.100.1","country":"US","headers":[],"uri":"/","args":"","httpVersion":"HTTP/2.0","httpMethod":"POST","requestId":"r2"}}"#;

    #[test]
    fn maps_a_blocked_request() {
        let got = parse(&format!("{BLOCK}\n"));
        let r = &got.records[0];
        assert_eq!(time_text(r), "2025-11-20T10:00:07.123000Z");
        assert_strs(
            r,
            &[
                ("Action", "BLOCK"),
                ("FormatVersion", "1"),
                ("ClientIp", "203.0.113.50"),
                ("Country", "NL"),
            ],
        );
        assert_eq!(r.get("ResponseCodeSent"), Some(&Value::Int(403)));
        assert!(matches!(r.get("Headers"), Some(Value::Json(_))));
        assert!(matches!(r.get("Labels"), Some(Value::Json(_))));
        assert!(r.get("RequestHeadersInserted").is_none());
        let rule: serde_json::Value =
            serde_json::from_str(r.get_str("TerminatingRule").unwrap()).unwrap();
        assert_eq!(rule["ruleId"], "SQLi");
        assert_eq!(
            rule["ruleMatchDetails"][0]["conditionType"],
            "SQL_INJECTION"
        );
        assert!(extras(r).contains("ja4Fingerprint"));
    }

    #[test]
    fn concatenated_objects_on_one_line_and_rule_groups() {
        let got = parse(&format!("{BLOCK}{GROUP}\n{GROUP}\n"));
        assert_eq!(got.records.len(), 3);
        let g = &got.records[1];
        assert_eq!(
            g.get_str("RuleGroupId"),
            Some("AWS#AWSManagedRulesCommonRuleSet")
        );
        assert!(g.get_str("TerminatingRule").unwrap().contains("XSS_BODY"));
        assert!(g.get("Args").is_none());
    }

    #[test]
    fn records_without_a_usable_timestamp_take_their_objects() {
        let untimed = BLOCK.replace(r#""timestamp":1763632807123,"#, "");
        let unreadable = GROUP.replace("1763632808000", r#""soon""#);
        let got = crate::formats::assert_untimed_take_object_time(
            &mut WafParser,
            &untimed,
            &unreadable,
            "soon",
            BLOCK,
        );
        assert_eq!(got[0].get_str("ClientIp"), Some("203.0.113.50"));
        assert_eq!(time_text(&got[2]), "2025-11-20T10:00:07.123000Z");
    }

    #[test]
    fn malformed_and_truncated_objects_are_rejected() {
        let got = parse(&format!(
            "{BLOCK}\n{{\"timestamp\":\"soon\"}}\n{}\n{GROUP}\n{}",
            &BLOCK[..300],
            &GROUP[..50]
        ));
        assert_eq!(got.counts(), (2, 3));
        assert!(got.rejects[0].reason.contains("not a WAF log record"));
        assert!(got.rejects[1].reason.contains("truncated"));
        assert!(got.rejects[2].reason.contains("end of stream"));
    }
}

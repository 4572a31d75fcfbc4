//! Route 53 Resolver query logs (VPC DNS, with DNS Firewall fields) -> AWSRoute53Resolver.

use super::fields::{Extras, JsonObject, push_json, push_strs};
use super::json_lines::object_parser;
use crate::record::{LogType, Record, Value};

const LOG_TYPE: LogType = LogType::Route53Resolver;

/// (column, member) of the string columns.
const STRINGS: &[(&str, &str)] = &[
    ("Version", "version"),
    ("AccountId", "account_id"),
    ("Region", "region"),
    ("VpcId", "vpc_id"),
    ("QueryName", "query_name"),
    ("QueryType", "query_type"),
    ("QueryClass", "query_class"),
    ("Rcode", "rcode"),
    ("SrcAddr", "srcaddr"),
    ("SrcPort", "srcport"),
    ("Transport", "transport"),
    ("FirewallRuleAction", "firewall_rule_action"),
    ("FirewallRuleGroupId", "firewall_rule_group_id"),
    ("FirewallDomainListId", "firewall_domain_list_id"),
];

/// (column, member) of the `dynamic` columns.
const DYNAMIC: &[(&str, &str)] = &[("Answers", "answers"), ("SrcIds", "srcids")];

/// One query log object as a row.
pub fn record_from_object(obj: &JsonObject<'_>) -> Result<Record, String> {
    // Every query log names the query; its timestamp may be missing or unreadable and
    // then is its object's.
    if !obj.has("query_name") {
        return Err("not a Resolver query log: query_name is missing".into());
    }
    let mut extras = Extras::new();
    let mut r = Record::new(LOG_TYPE);
    r.time = obj.usable_time(&["query_timestamp"], &mut extras);
    push_strs(&mut r, obj, STRINGS);
    push_json(&mut r, obj, DYNAMIC);
    // The table documents `LogType` as the kind of DNS log; every record here is one.
    r.push("LogType", Value::Str("ResolverQueryLogs".to_owned()));
    for (key, value) in obj.members.iter() {
        let key = key.as_ref();
        let mapped =
            key == "query_timestamp" || STRINGS.iter().chain(DYNAMIC).any(|(_, k)| *k == key);
        if !mapped {
            extras.raw(key, value);
        }
    }
    extras.finish(&mut r);
    Ok(r)
}

object_parser!(Route53ResolverParser, LOG_TYPE, None, record_from_object);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::Collect;
    use crate::formats::{assert_strs, extras, time_text};

    fn parse(text: &str) -> Collect {
        crate::formats::parse_checked(&mut Route53ResolverParser, "f", text)
    }

    #[test]
    fn query_and_firewall_records() {
        let text = r#"{"version":"1.100000","account_id":"111122223333","region":"us-east-1","vpc_id":"vpc-0a1b","query_timestamp":"2026-11-20T10:00:09Z","query_name":"example.com.","query_type":"A","query_class":"IN","rcode":"NOERROR","answers":[{"Rdata":"93.184.215.14","Type":"A","Class":"IN"}],"srcaddr":"10.0.1.5","srcport":"53124","transport":"UDP","srcids":{"instance":"i-0a1b"}}
{"version":"1.100000","account_id":"111122223333","region":"us-east-1","vpc_id":"vpc-0a1b","query_timestamp":"2026-11-20T10:00:10Z","query_name":"c2.bad.example.","query_type":"A","query_class":"IN","rcode":"NOERROR","answers":[],"srcaddr":"10.0.1.6","srcport":"40000","transport":"UDP","srcids":{"instance":"i-0c"},"firewall_rule_action":"BLOCK","firewall_rule_group_id":"rslvr-frg-1","firewall_domain_list_id":"rslvr-fdl-1","firewall_protection":"DNS_TUNNELING"}
{"query_name":"no-time.example."}
{"query_timestamp":"2026-11-20T10:00:11Z","srcaddr":"10.0.1.7"}
"#;
        let got = parse(text);
        assert_eq!(got.counts(), (3, 1));
        assert!(got.rejects[0].reason.contains("query_name"));
        assert_eq!(got.records[2].time, None, "no time of its own");
        let r = &got.records[0];
        assert_eq!(time_text(r), "2026-11-20T10:00:09Z");
        assert_strs(
            r,
            &[
                ("QueryName", "example.com."),
                ("SrcPort", "53124"),
                ("LogType", "ResolverQueryLogs"),
            ],
        );
        assert!(r.get_str("Answers").unwrap().contains("93.184.215.14"));
        assert!(r.get("AdditionalFields").is_none());
        let fw = &got.records[1];
        assert_eq!(fw.get_str("FirewallRuleAction"), Some("BLOCK"));
        assert!(extras(fw).contains("DNS_TUNNELING"));
    }

    #[test]
    fn queries_without_a_usable_timestamp_take_their_objects() {
        let got = crate::formats::assert_untimed_take_object_time(
            &mut Route53ResolverParser,
            r#"{"query_name":"no-time.example.","query_type":"A","srcaddr":"10.0.1.5"}"#,
            r#"{"query_timestamp":"later","query_name":"bad-time.example."}"#,
            "later",
            r#"{"query_timestamp":"2026-11-20T10:00:09Z","query_name":"example.com."}"#,
        );
        assert_eq!(got[0].get_str("QueryName"), Some("no-time.example."));
        assert!(extras(&got[1]).contains("later"));
        assert_eq!(time_text(&got[2]), "2026-11-20T10:00:09Z");
    }
}

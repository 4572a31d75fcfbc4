//! Events derived from Sigma rules, for an evaluation a sceptic accepts: for each rule of
//! level medium or above, CloudTrail events that match it and near misses that do not (the
//! same call with one of the rule's conditions broken, with its exclusion filter satisfied,
//! or failing that a sibling read call), each checked against the rule itself.
//!
//! Scored one by one (no history), they ask whether the scores tell the behaviour a rule
//! describes from the harmless calls next to it. Derived from a rule pack the scorer does not
//! carry (SigmaHQ's, in `../shared`), they test generalization rather than recall.

use serde::Serialize;
use serde_json::{Value as Json, json};
use serde_norway::Value;

/// One derived event.
#[derive(Debug, Clone)]
pub struct RuleCase {
    /// The rule's title.
    pub rule: String,
    /// The rule's level.
    pub level: String,
    /// Whether the event matches the rule.
    pub positive: bool,
    /// A complete CloudTrail event.
    pub event: Json,
}

/// The events of a pack, and the rules no event could be derived from (with why).
#[derive(Debug, Default)]
pub struct RuleEvents {
    /// Positives and near misses, rule by rule.
    pub cases: Vec<RuleCase>,
    /// `(file, why)` of the rules left out.
    pub skipped: Vec<(String, String)>,
}

const LEVELS: &[&str] = &["medium", "high", "critical"];

/// How a model set (with its rules) ranks derived events scored one by one, without history.
#[derive(Debug, Clone, Serialize)]
pub struct RuleTestScores {
    /// Rules events were derived from.
    pub rules: usize,
    /// Rules left out, with why.
    pub skipped: Vec<(String, String)>,
    /// Events that match their rule.
    pub matches: usize,
    /// Near misses.
    pub near_misses: usize,
    /// ROC-AUC of PriorityScore, matches against near misses.
    pub priority_roc_auc: Option<f64>,
    /// Matches at High or Critical.
    pub matches_high: usize,
    /// Near misses at High or Critical.
    pub near_misses_high: usize,
    /// Matches on which a rule of the scoring set fired.
    pub matches_ruled: usize,
    /// Near misses on which a rule of the scoring set fired.
    pub near_misses_ruled: usize,
    /// Every event as scored, to see which behaviours the scoring set misses.
    pub cases: Vec<CaseScore>,
}

/// One derived event as scored.
#[derive(Debug, Clone, Serialize)]
pub struct CaseScore {
    /// Title of the rule the event was derived from.
    pub rule: String,
    /// Whether the event matches that rule.
    pub positive: bool,
    /// The event's `eventName`.
    pub event_name: String,
    /// Its PriorityScore.
    pub priority_score: f64,
    /// Titles of the scoring set's rules that fired on it.
    pub fired: Vec<String>,
    /// The event itself.
    pub event: Json,
}

/// Scores every derived event alone with `models` (and the rules they carry).
pub fn score(
    models: crate::ml::runtime::ModelSet,
    events: &RuleEvents,
) -> Result<RuleTestScores, crate::ml::runtime::ModelError> {
    use crate::enrich::{EnrichConfig, ModelScorer, Priority};
    let scorer = ModelScorer::new(crate::ml::ModelHandle::new(models), EnrichConfig::default());
    let mut out = RuleTestScores {
        rules: events.cases.iter().filter(|c| c.positive).count(),
        skipped: events.skipped.clone(),
        matches: 0,
        near_misses: 0,
        priority_roc_auc: None,
        matches_high: 0,
        near_misses_high: 0,
        matches_ruled: 0,
        near_misses_ruled: 0,
        cases: Vec::new(),
    };
    let mut scores = Vec::new();
    let mut positive = Vec::new();
    for case in &events.cases {
        let Ok(record) = crate::training::labelled::parse_raw(
            crate::record::LogType::CloudTrail,
            &case.event.to_string(),
            None,
            "rule-tests",
        ) else {
            continue;
        };
        let s = scorer.score(std::slice::from_ref(&record))?.remove(0);
        let high = usize::from(s.priority >= Priority::High);
        let ruled = usize::from(!s.detections.is_empty());
        if case.positive {
            out.matches += 1;
            out.matches_high += high;
            out.matches_ruled += ruled;
        } else {
            out.near_misses += 1;
            out.near_misses_high += high;
            out.near_misses_ruled += ruled;
        }
        scores.push(s.priority_score);
        positive.push(case.positive);
        out.cases.push(CaseScore {
            rule: case.rule.clone(),
            positive: case.positive,
            event_name: case.event["eventName"].as_str().unwrap_or("").to_string(),
            priority_score: s.priority_score,
            fired: s.detections.iter().map(|d| d.title.clone()).collect(),
            event: case.event.clone(),
        });
    }
    out.priority_roc_auc = crate::training::metrics::roc_auc(&scores, &positive);
    Ok(out)
}

impl RuleTestScores {
    /// A few lines of text.
    pub fn summary(&self) -> String {
        let missed: Vec<String> = self
            .cases
            .iter()
            .filter(|c| c.positive && c.fired.is_empty())
            .map(|c| format!("{} ({})", c.rule, c.event_name))
            .collect();
        let false_alarms: Vec<String> = self
            .cases
            .iter()
            .filter(|c| !c.positive && !c.fired.is_empty())
            .map(|c| format!("{} ({}): {}", c.rule, c.event_name, c.fired.join(", ")))
            .collect();
        let mut text = format!(
            "rule tests: {} rules of level medium+ ({} skipped), {} matches, {} near misses, \
             each scored alone\n  PriorityScore ROC-AUC {}; High or Critical: matches {}/{}, \
             near misses {}/{}; a rule fired on matches {}/{}, near misses {}/{}\n",
            self.rules,
            self.skipped.len(),
            self.matches,
            self.near_misses,
            self.priority_roc_auc
                .map_or("n/a".to_string(), |a| format!("{a:.3}")),
            self.matches_high,
            self.matches,
            self.near_misses_high,
            self.near_misses,
            self.matches_ruled,
            self.matches,
            self.near_misses_ruled,
            self.near_misses
        );
        for (what, list) in [
            ("matches no rule fired on", &missed),
            ("near misses a rule fired on", &false_alarms),
        ] {
            if !list.is_empty() {
                text.push_str(&format!("  {what}:\n"));
                for line in list {
                    text.push_str(&format!("    {line}\n"));
                }
            }
        }
        text
    }
}

/// Derives events from `(file, YAML)` rules of level medium and above.
pub fn derive(files: &[(String, String)]) -> RuleEvents {
    let mut out = RuleEvents::default();
    for (file, text) in files {
        match derive_rule(text) {
            Ok(Some(cases)) => out.cases.extend(cases),
            Ok(None) => {}
            Err(why) => out.skipped.push((file.clone(), why)),
        }
    }
    out
}

/// A field assignment: a dotted path and the value it gets (`None`: absent).
type Assignment = (String, Option<Json>);

fn derive_rule(text: &str) -> Result<Option<Vec<RuleCase>>, String> {
    let doc: Value = serde_norway::from_str(text).map_err(|e| e.to_string())?;
    let level = doc.get("level").and_then(Value::as_str).unwrap_or("medium");
    if !LEVELS.contains(&level) {
        return Ok(None);
    }
    let title = doc
        .get("title")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let sigma = sigma_rust::rule_from_yaml(text).map_err(|e| e.to_string())?;
    let detection = doc
        .get("detection")
        .and_then(Value::as_mapping)
        .ok_or("no detection")?;
    let condition = detection
        .get("condition")
        .and_then(Value::as_str)
        .ok_or("no single condition")?;
    if condition.contains('(') || condition.contains('|') {
        return Err(format!("condition too complex to derive from: {condition}"));
    }
    let searches: Vec<(String, &Value)> = detection
        .iter()
        .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v)))
        .filter(|(k, _)| k != "condition")
        .collect();
    let first_term: Vec<&str> = condition
        .split_whitespace()
        .collect::<Vec<_>>()
        .split(|w| w.eq_ignore_ascii_case("or"))
        .next()
        .unwrap_or(&[])
        .to_vec();

    let mut positive: Vec<Assignment> = Vec::new();
    let mut filters: Vec<Vec<Assignment>> = Vec::new();
    for factor in first_term.split(|w| w.eq_ignore_ascii_case("and")) {
        let words: Vec<String> = factor.iter().map(|w| w.to_ascii_lowercase()).collect();
        let pattern = *factor.last().ok_or("empty condition")?;
        let (negated, quantifier) = match words.iter().map(String::as_str).collect::<Vec<_>>()[..] {
            [_] => (false, None),
            ["not", _] => (true, None),
            [q, "of", _] => (false, Some(q.to_string())),
            ["not", q, "of", _] => (true, Some(q.to_string())),
            _ => return Err(format!("condition not understood: {condition}")),
        };
        let mut used: Vec<&(String, &Value)> = searches
            .iter()
            .filter(|(name, _)| match &quantifier {
                Some(_) => match pattern.strip_suffix('*') {
                    Some(prefix) => name.starts_with(prefix),
                    None => name == pattern,
                },
                None => name == pattern,
            })
            .collect();
        used.sort_by(|a, b| a.0.cmp(&b.0));
        if used.is_empty() {
            return Err(format!("no search named {pattern}"));
        }
        if negated {
            for (_, search) in used {
                filters.push(assignments(search)?);
            }
            continue;
        }
        let all = matches!(quantifier.as_deref(), None | Some("all"));
        for (_, search) in used.iter().take(if all { usize::MAX } else { 1 }) {
            positive.extend(assignments(search)?);
        }
    }

    let base = base_event();
    let matches = |event: &Json| -> bool {
        sigma_rust::Event::try_from(event.clone()).is_ok_and(|e| sigma.is_match(&e))
    };
    let mut hit = apply(&base, &positive);
    if !positive.iter().any(|(path, _)| path == "eventSource")
        && let Some(source) = hit["eventName"].as_str().and_then(source_of)
    {
        hit["eventSource"] = json!(source);
    }
    if !matches(&hit) {
        return Err("the derived event does not match the rule".to_string());
    }
    let mut near = Vec::new();
    // One condition broken at a time.
    for (path, value) in &positive {
        if path == "eventName" || path == "eventSource" || near.len() >= 3 {
            continue;
        }
        let broken = match value {
            Some(Json::Bool(b)) => Some(Json::Bool(!b)),
            Some(Json::Number(_)) => Some(json!(7)),
            Some(_) if path.ends_with("errorCode") => Some(json!("AccessDenied")),
            Some(_) => Some(json!("none")),
            None => Some(json!("present")),
        };
        let event = apply(&hit, &[(path.clone(), broken)]);
        if !matches(&event) {
            near.push(event);
        }
    }
    // The rule's own exclusions.
    for filter in &filters {
        let event = apply(&hit, filter);
        if !matches(&event) && near.len() < 4 {
            near.push(event);
        }
    }
    // A sibling read of the same service.
    if near.is_empty() {
        let name = hit["eventName"].as_str().unwrap_or("Call");
        let rest = name
            .char_indices()
            .skip(1)
            .find(|(_, c)| c.is_ascii_uppercase())
            .map(|(i, _)| &name[i..])
            .unwrap_or(name);
        let event = apply(
            &hit,
            &[
                (
                    "eventName".to_string(),
                    Some(json!(format!("Describe{rest}"))),
                ),
                ("readOnly".to_string(), Some(json!(true))),
            ],
        );
        if !matches(&event) {
            near.push(event);
        }
    }
    if near.is_empty() {
        return Err("no near miss could be derived".to_string());
    }
    let case = |positive: bool, event: Json| RuleCase {
        rule: title.clone(),
        level: level.to_string(),
        positive,
        event,
    };
    let mut cases = vec![case(true, hit)];
    cases.extend(near.into_iter().map(|e| case(false, e)));
    Ok(Some(cases))
}

/// The assignments that satisfy one search (the first alternative of a list of maps).
fn assignments(search: &Value) -> Result<Vec<Assignment>, String> {
    let map = match search {
        Value::Mapping(map) => map,
        Value::Sequence(items) => match items.first() {
            Some(Value::Mapping(map)) => map,
            _ => return Err("keyword searches cannot be derived".to_string()),
        },
        _ => return Err("search is not a map".to_string()),
    };
    let mut out = Vec::new();
    for (key, value) in map {
        let key = key.as_str().ok_or("field name is not text")?;
        let mut parts = key.split('|');
        let path = parts.next().unwrap_or_default().to_string();
        let modifiers: Vec<&str> = parts.collect();
        let values: Vec<&Value> = match value {
            Value::Sequence(items) => items.iter().collect(),
            other => vec![other],
        };
        let all = modifiers.contains(&"all");
        let chosen: Vec<&Value> = if all {
            values
        } else {
            values.into_iter().take(1).collect()
        };
        let text = |v: &Value| -> Option<String> {
            match v {
                Value::String(s) => Some(s.replace(['*', '?'], "x")),
                Value::Number(n) => Some(n.to_string()),
                Value::Bool(b) => Some(b.to_string()),
                _ => None,
            }
        };
        let assigned = match modifiers.iter().find(|m| **m != "all") {
            None => match chosen.first() {
                None => None,
                Some(Value::Null) => Some(Json::Null),
                Some(Value::Bool(b)) => Some(Json::Bool(*b)),
                Some(Value::Number(n)) => serde_json::to_value(n.as_f64()).ok(),
                Some(v) => text(v).map(Json::String),
            },
            Some(&"contains") => {
                let parts: Vec<String> = chosen.iter().filter_map(|v| text(v)).collect();
                Some(Json::String(format!("x {} x", parts.join(" "))))
            }
            Some(&"startswith") => chosen
                .first()
                .and_then(|v| text(v))
                .map(|v| Json::String(format!("{v}x"))),
            Some(&"endswith") => chosen
                .first()
                .and_then(|v| text(v))
                .map(|v| Json::String(format!("x{v}"))),
            Some(&"exists") => match chosen.first() {
                Some(Value::Bool(false)) => None,
                _ => Some(json!("present")),
            },
            Some(other) => return Err(format!("modifier {other} cannot be derived")),
        };
        out.push((path, assigned));
    }
    Ok(out)
}

/// The service that records a call, for rules that name only the call: a real event always
/// carries its source, and a rule written against the source must not miss it for want of one.
fn source_of(event_name: &str) -> Option<&'static str> {
    match event_name {
        "ConsoleLogin" | "GetSigninToken" | "PasswordUpdated" | "CheckMfa" => {
            Some("signin.amazonaws.com")
        }
        "GetCallerIdentity" | "AssumeRole" | "GetSessionToken" | "GetFederationToken" => {
            Some("sts.amazonaws.com")
        }
        name if name.contains("Bucket") || name.ends_with("Object") => Some("s3.amazonaws.com"),
        _ => None,
    }
}

/// An ordinary call by an IAM user, which the derived fields then shape.
fn base_event() -> Json {
    json!({
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLEALICE",
            "arn": "arn:aws:iam::111122223333:user/alice",
            "accountId": "111122223333",
            "accessKeyId": "AKIAEXAMPLEALICE",
            "userName": "alice"
        },
        "eventTime": "2026-11-18T14:03:11Z",
        "eventSource": "ec2.amazonaws.com",
        "eventName": "DescribeInstances",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.20",
        "userAgent": "aws-cli/2.15.30 md/awscrt#0.19.19 ua/2.0 os/linux#6.5.0 md/arch#x86_64 lang/python#3.11.8",
        "requestParameters": {},
        "responseElements": null,
        "requestID": "5d0f3a52-0d9c-4c55-9d1f-2b8c3e6a7f10",
        "eventID": "9a1e7c2d-33f4-4b6a-8d2e-6f0b1c9e8a77",
        "readOnly": false,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": "111122223333",
        "eventCategory": "Management"
    })
}

fn apply(event: &Json, assignments: &[Assignment]) -> Json {
    let mut out = event.clone();
    for (path, value) in assignments {
        set_path(&mut out, path, value.clone());
    }
    out
}

fn set_path(root: &mut Json, path: &str, value: Option<Json>) {
    let mut node = root;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        if !node.is_object() {
            *node = json!({});
        }
        let map = node.as_object_mut().expect("made an object");
        if parts.peek().is_none() {
            match value {
                Some(v) => {
                    map.insert(part.to_string(), v);
                }
                None => {
                    map.remove(part);
                }
            }
            return;
        }
        node = map.entry(part.to_string()).or_insert_with(|| json!({}));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_a_match_and_near_misses_checked_against_the_rule() {
        let rule = r#"
title: Public bucket policy
logsource: {product: aws, service: cloudtrail}
detection:
    selection:
        eventSource: s3.amazonaws.com
        eventName: PutBucketPolicy
        requestParameters.bucketPolicy|contains: '"Principal":"*"'
    filter:
        userIdentity.type: AWSService
    condition: selection and not filter
level: high
"#;
        let events = derive(&[("r.yml".to_string(), rule.to_string())]);
        assert!(events.skipped.is_empty(), "{:?}", events.skipped);
        let positives = events.cases.iter().filter(|c| c.positive).count();
        let near = events.cases.iter().filter(|c| !c.positive).count();
        assert_eq!((positives, near), (1, 2));
        assert_eq!(events.cases[0].event["eventName"], "PutBucketPolicy");
        assert_eq!(events.cases[2].event["userIdentity"]["type"], "AWSService");

        let low = rule.replace("level: high", "level: low");
        assert!(derive(&[("r.yml".to_string(), low)]).cases.is_empty());
    }

    #[test]
    fn a_pure_call_rule_gets_a_sibling_read_as_its_near_miss() {
        let rule = r#"
title: Trail stopped
logsource: {product: aws, service: cloudtrail}
detection:
    selection:
        eventSource: cloudtrail.amazonaws.com
        eventName: [StopLogging, DeleteTrail]
    condition: selection
level: medium
"#;
        let events = derive(&[("r.yml".to_string(), rule.to_string())]);
        let near: Vec<&RuleCase> = events.cases.iter().filter(|c| !c.positive).collect();
        assert_eq!(near.len(), 1);
        assert_eq!(near[0].event["eventName"], "DescribeLogging");
    }
}

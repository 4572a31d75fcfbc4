//! A CloudTrail record as CloudTrail wrote it, for rules written against raw CloudTrail.
//!
//! The parser spreads an event over `AWSCloudTrail` columns; this puts the columns back
//! under their CloudTrail names (`userIdentity.sessionContext.sessionIssuer.userName`,
//! `requestParameters` as nested JSON, ...), and the fields that have no column come back
//! from `AdditionalFields`, where the parser kept them under their own names.

use serde_json::{Map, Value as Json};

use crate::record::{Record, Value, columns};

/// Columns holding one CloudTrail field each, by CloudTrail path.
const FIELDS: &[(&str, &str)] = &[
    ("eventVersion", "EventVersion"),
    ("eventSource", "EventSource"),
    ("eventName", "EventName"),
    ("awsRegion", "AWSRegion"),
    ("sourceIPAddress", "SourceIpAddress"),
    ("userAgent", "UserAgent"),
    ("errorCode", "ErrorCode"),
    ("errorMessage", "ErrorMessage"),
    ("requestID", "AwsRequestId"),
    ("eventID", "AwsEventId"),
    ("eventType", "EventTypeName"),
    ("apiVersion", "APIVersion"),
    ("recipientAccountId", "RecipientAccountId"),
    ("sharedEventID", "SharedEventId"),
    ("vpcEndpointId", "VpcEndpointId"),
    ("eventCategory", "Category"),
    ("readOnly", "ReadOnly"),
    ("managementEvent", "ManagementEvent"),
    ("requestParameters", "RequestParameters"),
    ("responseElements", "ResponseElements"),
    ("additionalEventData", "AdditionalEventData"),
    ("resources", "Resources"),
    ("serviceEventDetails", "ServiceEventDetails"),
    ("userIdentity.type", "UserIdentityType"),
    ("userIdentity.principalId", "UserIdentityPrincipalid"),
    ("userIdentity.arn", "UserIdentityArn"),
    ("userIdentity.accountId", "UserIdentityAccountId"),
    ("userIdentity.accessKeyId", "UserIdentityAccessKeyId"),
    ("userIdentity.userName", "UserIdentityUserName"),
    ("userIdentity.invokedBy", "UserIdentityInvokedBy"),
    ("userIdentity.identityStoreArn", "UserIdentityStoreArn"),
    ("userIdentity.userId", "UserIdentityUserId"),
    (
        "userIdentity.sessionContext.sessionIssuer.type",
        "SessionIssuerType",
    ),
    (
        "userIdentity.sessionContext.sessionIssuer.principalId",
        "SessionIssuerPrincipalId",
    ),
    (
        "userIdentity.sessionContext.sessionIssuer.arn",
        "SessionIssuerArn",
    ),
    (
        "userIdentity.sessionContext.sessionIssuer.accountId",
        "SessionIssuerAccountId",
    ),
    (
        "userIdentity.sessionContext.sessionIssuer.userName",
        "SessionIssuerUserName",
    ),
    (
        "userIdentity.sessionContext.attributes.mfaAuthenticated",
        "SessionMfaAuthenticated",
    ),
    (
        "userIdentity.sessionContext.attributes.creationDate",
        "SessionCreationDate",
    ),
    ("tlsDetails.tlsVersion", "TlsVersion"),
    ("tlsDetails.cipherSuite", "CipherSuite"),
    (
        "tlsDetails.clientProvidedHostHeader",
        "ClientProvidedHostHeader",
    ),
    ("eventTime", columns::EVENT_TIME),
];

/// Columns that hold JSON text of a CloudTrail object.
const JSON_FIELDS: &[&str] = &[
    "RequestParameters",
    "ResponseElements",
    "AdditionalEventData",
    "Resources",
    "ServiceEventDetails",
];

/// Fields CloudTrail writes as `null` when they have nothing (the parser drops them).
/// Sigma's `field: null` means "missing or empty", which the engine only sees in a `null`.
const NULL_WHEN_ABSENT: &[&str] = &[
    "errorCode",
    "errorMessage",
    "requestParameters",
    "responseElements",
    "additionalEventData",
];

/// The record as a CloudTrail event JSON object.
#[cfg(test)]
pub fn cloudtrail_json(record: &Record) -> Json {
    cloudtrail_json_of(record, None)
}

/// The record as a CloudTrail event JSON object, with at least the top-level fields
/// `fields` names (all when `None`): the JSON columns no rule reads are not parsed.
fn cloudtrail_json_of(record: &Record, fields: Option<&FieldTree>) -> Json {
    let wanted = |path: &str| fields.is_none_or(|tree| tree.0.contains_key(top_level(path)));
    let mut root = Map::new();
    for field in NULL_WHEN_ABSENT {
        root.insert(field.to_string(), Json::Null);
    }
    // Fields without a column of their own come back from `AdditionalFields`.
    let additional_wanted = fields.is_none_or(|tree| {
        tree.0
            .keys()
            .any(|k| !FIELDS.iter().any(|(path, _)| top_level(path) == k))
    });
    if additional_wanted
        && let Some(Json::Object(extra)) = record
            .get_str(columns::ADDITIONAL_FIELDS)
            .and_then(|text| serde_json::from_str::<Json>(text).ok())
    {
        root.extend(extra);
    }
    for (path, column) in FIELDS {
        if !wanted(path) {
            continue;
        }
        let Some(value) = record.get(column) else {
            continue;
        };
        let json = match value {
            Value::Str(text) if JSON_FIELDS.contains(column) => {
                serde_json::from_str(text).unwrap_or_else(|_| Json::String(text.clone()))
            }
            // CloudTrail writes these flags as strings.
            Value::Bool(b) if path.ends_with("mfaAuthenticated") => Json::String(b.to_string()),
            Value::Str(s) => Json::String(s.clone()),
            Value::Int(i) => Json::from(*i),
            Value::Real(x) => Json::from(*x),
            Value::Bool(b) => Json::Bool(*b),
            Value::Time(t) => Json::String(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            Value::Json(raw) => serde_json::from_str(raw.get()).unwrap_or(Json::Null),
        };
        insert_path(&mut root, path, json);
    }
    Json::Object(root)
}

fn top_level(path: &str) -> &str {
    path.split('.').next().unwrap_or(path)
}

/// Most variants one event expands to; past it the event is matched as it is.
pub const MAX_VARIANTS: usize = 256;

/// The record as Sigma events, keeping only the `fields` rules read (all of it when
/// `None`), one event per way of picking an element from each array on them (see
/// [`variants`]).
pub fn cloudtrail_events(record: &Record, fields: Option<&FieldTree>) -> Vec<sigma_rust::Event> {
    let mut event = cloudtrail_json_of(record, fields);
    if let Some(fields) = fields {
        event = fields.prune(event);
    }
    variants(event)
        .into_iter()
        .filter_map(|v| sigma_rust::Event::try_from(v).ok())
        .collect()
}

/// Sigma reads `a.b.c` through objects only and never matches a list, while CloudTrail
/// puts policy statements, ACL grants, EC2 `items` and plain lists of values in arrays; a
/// rule means "any element" there. So an array is replaced by each of its elements in
/// turn, and the rule matches if it matches any variant. Arrays multiply, so events are
/// first pruned to the fields the pack's rules read ([`FieldTree`]).
pub fn variants(event: Json) -> Vec<Json> {
    // Most events hold no array on the fields rules read: one variant, the event itself.
    if !has_array(&event) {
        return vec![event];
    }
    let out = expand(&event);
    if out.len() > MAX_VARIANTS {
        return vec![event];
    }
    out
}

fn has_array(value: &Json) -> bool {
    match value {
        Json::Array(items) => !items.is_empty(),
        Json::Object(map) => map.values().any(has_array),
        _ => false,
    }
}

/// The field paths a pack's rules read, as a tree of names.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldTree(std::collections::BTreeMap<String, FieldTree>);

impl FieldTree {
    /// Adds a dotted path.
    pub fn insert(&mut self, path: &str) {
        let mut node = self;
        for part in path.split('.') {
            node = node.0.entry(part.to_string()).or_default();
        }
    }

    /// `event` with only the fields on the tree's paths (a path's end keeps its whole
    /// subtree; arrays are kept and pruned element by element).
    pub fn prune(&self, event: Json) -> Json {
        match event {
            Json::Object(map) => Json::Object(
                map.into_iter()
                    .filter_map(|(k, v)| {
                        let child = self.0.get(&k)?;
                        let v = if child.0.is_empty() {
                            v
                        } else {
                            child.prune(v)
                        };
                        Some((k, v))
                    })
                    .collect(),
            ),
            Json::Array(items) => Json::Array(items.into_iter().map(|v| self.prune(v)).collect()),
            other => other,
        }
    }
}

fn expand(value: &Json) -> Vec<Json> {
    match value {
        Json::Array(items) if !items.is_empty() => {
            let mut out = Vec::new();
            for item in items {
                out.extend(expand(item));
                if out.len() > MAX_VARIANTS {
                    break;
                }
            }
            out
        }
        Json::Object(map) => {
            let mut out = vec![Map::new()];
            for (key, child) in map {
                let options = expand(child);
                if options.len() == 1 {
                    let only = options.into_iter().next().expect("one option");
                    for partial in &mut out {
                        partial.insert(key.clone(), only.clone());
                    }
                    continue;
                }
                let mut next = Vec::with_capacity(out.len() * options.len());
                for partial in &out {
                    for option in &options {
                        let mut m = partial.clone();
                        m.insert(key.clone(), option.clone());
                        next.push(m);
                    }
                }
                out = next;
                if out.len() > MAX_VARIANTS {
                    break;
                }
            }
            out.into_iter().map(Json::Object).collect()
        }
        other => vec![other.clone()],
    }
}

fn insert_path(root: &mut Map<String, Json>, path: &str, value: Json) {
    match path.split_once('.') {
        None => {
            root.insert(path.to_string(), value);
        }
        Some((head, rest)) => {
            let child = root
                .entry(head.to_string())
                .or_insert_with(|| Json::Object(Map::new()));
            if !child.is_object() {
                *child = Json::Object(Map::new());
            }
            if let Json::Object(map) = child {
                insert_path(map, rest, value);
            }
        }
    }
}

//! Which calls a rule can match, read from its `detection` block.
//!
//! A rule is indexed by a field (`eventName` first, else `userIdentity.type`) only when that
//! is certain: its condition uses only `and`, `or`, `not`, `1 of`/`all of` and search names
//! (no parentheses), and every search it uses positively (not after `not`) requires an exact
//! value of the field from a list. Any match then needs one of those searches to match, so
//! one of those values. Everything else is evaluated on every call, which is slower (every
//! call's event is rebuilt for it) but never wrong.

use serde_norway::Value;

/// The exact `eventName`s a rule can match, or `None` when it may match any call.
pub fn event_names(text: &str) -> Option<Vec<String>> {
    required_values(text, "eventName")
}

/// The exact `userIdentity.type`s a rule can match (a rule about the root user, whatever
/// it calls), or `None` when it may match any identity.
pub fn identity_types(text: &str) -> Option<Vec<String>> {
    required_values(text, "userIdentity.type")
}

/// The exact values of `field` a rule can match, or `None` when it may match any.
fn required_values(text: &str, field: &str) -> Option<Vec<String>> {
    let doc: Value = serde_norway::from_str(text).ok()?;
    let detection = doc.get("detection")?.as_mapping()?;
    let condition = detection.get("condition")?.as_str()?;
    if condition.contains('(') || condition.contains('|') {
        return None;
    }
    let searches: Vec<(&str, &Value)> = detection
        .iter()
        .filter_map(|(k, v)| Some((k.as_str()?, v)))
        .filter(|(k, _)| *k != "condition" && *k != "timeframe")
        .collect();

    // The condition is an `or` of terms, each an `and` of factors: every term must require
    // some names, and any positive factor of a term is enough to bound it.
    let mut names = Vec::new();
    let words: Vec<&str> = condition.split_whitespace().collect();
    for term in split_words(&words, "or") {
        let mut bound: Option<Vec<String>> = None;
        for factor in split_words(&term, "and") {
            let words: Vec<String> = factor.iter().map(|w| w.to_ascii_lowercase()).collect();
            let pattern = factor.last()?;
            let (negated, quantifier) = match words.iter().map(String::as_str).collect::<Vec<_>>()[..]
            {
                [_] => (false, None),
                ["not", _] => (true, None),
                [q, "of", _] => (false, Some(q.to_string())),
                ["not", q, "of", _] => (true, Some(q.to_string())),
                _ => return None,
            };
            if pattern.eq_ignore_ascii_case("them") {
                return None;
            }
            let used: Vec<&Value> = searches
                .iter()
                .filter(|(name, _)| match quantifier {
                    Some(_) => glob(pattern, name),
                    None => name == pattern,
                })
                .map(|(_, v)| *v)
                .collect();
            if used.is_empty() {
                return None;
            }
            if negated || bound.is_some() {
                continue;
            }
            let required: Vec<Option<Vec<String>>> =
                used.iter().map(|v| required_names(v, field)).collect();
            bound = match quantifier.as_deref() {
                // One search of several: each must be bound.
                Some("1") | Some("any") => required
                    .into_iter()
                    .collect::<Option<Vec<_>>>()
                    .map(|lists| lists.concat()),
                // All of them: one bound search is enough.
                _ => required.into_iter().flatten().next(),
            };
        }
        names.extend(bound?);
    }
    (!names.is_empty()).then_some(names)
}

/// Splits a condition on a keyword into groups of words.
fn split_words<'a>(words: &[&'a str], keyword: &str) -> Vec<Vec<&'a str>> {
    let mut groups = vec![Vec::new()];
    for &word in words {
        if word.eq_ignore_ascii_case(keyword) {
            groups.push(Vec::new());
        } else {
            groups.last_mut().expect("never empty").push(word);
        }
    }
    groups
}

/// `selection_*` style patterns: a trailing `*` matches any suffix.
fn glob(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

/// The exact values of `field` a search requires: a map with the unmodified field, or a
/// list of such maps (any of which may match).
fn required_names(search: &Value, field: &str) -> Option<Vec<String>> {
    match search {
        Value::Mapping(map) => {
            let value = map.get(field)?;
            let names: Vec<String> = match value {
                Value::String(s) => vec![s.clone()],
                Value::Sequence(items) => items
                    .iter()
                    .map(|v| v.as_str().map(str::to_string))
                    .collect::<Option<_>>()?,
                _ => return None,
            };
            // Wildcards make a name a pattern, not a key.
            if names.iter().any(|n| n.contains(['*', '?'])) || names.is_empty() {
                return None;
            }
            Some(names)
        }
        Value::Sequence(alternatives) => {
            let mut names = Vec::new();
            for alternative in alternatives {
                names.extend(required_names(alternative, field)?);
            }
            (!names.is_empty()).then_some(names)
        }
        _ => None,
    }
}

/// The fields a rule reads (dotted paths, modifiers dropped, and the fields `fieldref`
/// values name), or `None` when a search is a list of keywords, which may match any field.
pub fn fields(text: &str) -> Option<Vec<String>> {
    let doc: Value = serde_norway::from_str(text).ok()?;
    let detection = doc.get("detection")?.as_mapping()?;
    let mut out = Vec::new();
    for (key, search) in detection {
        if matches!(key.as_str(), Some("condition" | "timeframe")) {
            continue;
        }
        let maps: Vec<&serde_norway::Mapping> = match search {
            Value::Mapping(map) => vec![map],
            Value::Sequence(items) => items
                .iter()
                .map(Value::as_mapping)
                .collect::<Option<Vec<_>>>()?,
            _ => return None,
        };
        for map in maps {
            for (field, value) in map {
                let name = field.as_str()?;
                let mut parts = name.split('|');
                out.push(parts.next().unwrap_or(name).to_string());
                // `fieldref` names another field as its value.
                if parts.any(|m| m == "fieldref") {
                    match value {
                        Value::String(other) => out.push(other.clone()),
                        Value::Sequence(others) => {
                            out.extend(others.iter().filter_map(|v| v.as_str().map(str::to_string)))
                        }
                        _ => return None,
                    }
                }
            }
        }
    }
    Some(out)
}

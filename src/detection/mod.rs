//! Detection rules: Sigma rules (the detection format the field shares) evaluated on every
//! CloudTrail record, so the knowledge analysts already wrote down reaches the scores.
//!
//! A [`RulePack`] holds parsed rules ([`sigma_rust`] evaluates them) and an index by exact
//! `eventName`: a record is only checked against the rules that name its call, plus the
//! few rules that could match any call ([`index`] says when a rule is indexable). Rules see
//! the record as CloudTrail wrote it ([`event::cloudtrail_events`]), so rules written for
//! raw CloudTrail (`requestParameters.bucketPolicy...`, `userIdentity.type`) work unchanged,
//! and a path through an array (policy statements, EC2 `items`) matches any element.
//!
//! The default pack (`rules/cloudtrail/` in the repository, embedded in the binary) is the
//! project's own; an operator deploys another pack with `scripts/deploy_models.sh`.

pub mod event;
mod index;

use std::collections::HashMap;

use include_dir::{Dir, include_dir};
use serde::Serialize;

use crate::record::{LogType, Record, display_as_name};

static EMBEDDED_RULES: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/rules/cloudtrail");

/// Largest rule file accepted (a pack is operator input).
pub const MAX_RULE_BYTES: usize = 256 * 1024;
/// Most rules in a pack.
pub const MAX_RULES: usize = 5_000;

/// A rule's `level`, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Context only; raises nothing.
    Informational,
    /// Noteworthy: a Medium priority at least.
    Low,
    /// A risky change: High at least.
    Medium,
    /// Likely malicious: Critical.
    High,
    /// Near-certain compromise.
    Critical,
}

impl Level {
    fn parse(text: &str) -> Option<Level> {
        Some(match text.trim().to_ascii_lowercase().as_str() {
            "informational" => Level::Informational,
            "low" => Level::Low,
            "medium" => Level::Medium,
            "high" => Level::High,
            "critical" => Level::Critical,
            _ => return None,
        })
    }

    /// The level's name, as written in rules and in the `DetectionRules` column.
    pub fn name(self) -> &'static str {
        match self {
            Level::Informational => "informational",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }

    /// One level lower (informational stays).
    pub fn lower(self) -> Level {
        match self {
            Level::Critical => Level::High,
            Level::High => Level::Medium,
            Level::Medium => Level::Low,
            Level::Low | Level::Informational => Level::Informational,
        }
    }
}

display_as_name!(Level);

/// One rule of a pack.
#[derive(Debug)]
pub struct Rule {
    /// The rule's `id` (its file name when it has none).
    pub id: String,
    /// The rule's `title`, shown in reasons and alerts.
    pub title: String,
    /// The rule's `level` (medium when it has none).
    pub level: Level,
    /// ATT&CK and other tags, as written.
    pub tags: Vec<String>,
    sigma: sigma_rust::Rule,
}

/// Why a pack cannot be used. The pack is refused whole: a half-loaded pack would silently
/// stop detecting what its missing rules cover.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    /// Not a Sigma rule this engine can evaluate on CloudTrail.
    #[error("rule {file}: {message}")]
    Invalid {
        /// The rule's file name.
        file: String,
        /// What is wrong with it.
        message: String,
    },
    /// Over [`MAX_RULE_BYTES`].
    #[error("rule {file} is {size} bytes, over the {MAX_RULE_BYTES}-byte limit")]
    TooLarge {
        /// The rule's file name.
        file: String,
        /// Its size.
        size: usize,
    },
    /// Over [`MAX_RULES`].
    #[error("the pack has more than {MAX_RULES} rules")]
    TooMany,
    /// Two rules with one id: a match could not say which rule it was.
    #[error("rules {first} and {second} share the id {id}")]
    DuplicateId {
        /// The shared id.
        id: String,
        /// The first file with it.
        first: String,
        /// The second file with it.
        second: String,
    },
}

/// Parsed rules and their index.
#[derive(Debug, Default)]
pub struct RulePack {
    rules: Vec<Rule>,
    /// Lowercased `eventName` to the rules that name it.
    by_event_name: HashMap<String, Vec<usize>>,
    /// Rules not indexed by call but by identity type (lower-cased), such as root activity.
    by_identity_type: HashMap<String, Vec<usize>>,
    /// Rules that may match any call.
    unindexed: Vec<usize>,
    /// The fields the rules a call's name selects read (with the identity-type and
    /// unindexed rules): a record is turned into a Sigma event with only these, so a call
    /// whose rules look at its name alone never has its request and response parsed.
    fields_by_event_name: HashMap<String, Option<event::FieldTree>>,
    /// The same for calls no rule names. `None` when a rule searches keywords (any field).
    fields_of_the_rest: Option<event::FieldTree>,
}

impl RulePack {
    /// The pack built into this binary (`rules/cloudtrail/`).
    pub fn embedded() -> RulePack {
        let mut files: Vec<(String, String)> = EMBEDDED_RULES
            .files()
            .filter(|f| is_rule_file(&f.path().to_string_lossy()))
            .map(|f| {
                (
                    f.path().to_string_lossy().into_owned(),
                    f.contents_utf8().unwrap_or_default().to_string(),
                )
            })
            .collect();
        files.sort();
        RulePack::from_files(files).expect("the embedded rules are checked by tests")
    }

    /// Parses rule files (`(name, YAML text)`); any invalid rule refuses the pack.
    pub fn from_files(
        files: impl IntoIterator<Item = (String, String)>,
    ) -> Result<RulePack, RuleError> {
        let mut pack = RulePack::default();
        let mut names: HashMap<String, String> = HashMap::new();
        let mut rule_fields: Vec<Option<Vec<String>>> = Vec::new();
        for (file, text) in files {
            if text.len() > MAX_RULE_BYTES {
                return Err(RuleError::TooLarge {
                    file,
                    size: text.len(),
                });
            }
            if pack.rules.len() == MAX_RULES {
                return Err(RuleError::TooMany);
            }
            let rule = parse_rule(&file, &text)?;
            if let Some(first) = names.insert(rule.id.clone(), file.clone()) {
                return Err(RuleError::DuplicateId {
                    id: rule.id,
                    first,
                    second: file,
                });
            }
            rule_fields.push(index::fields(&text));
            let i = pack.rules.len();
            if let Some(event_names) = index::event_names(&text) {
                index_rule(&mut pack.by_event_name, event_names, i);
            } else if let Some(types) = index::identity_types(&text) {
                index_rule(&mut pack.by_identity_type, types, i);
            } else {
                pack.unindexed.push(i);
            }
            pack.rules.push(rule);
        }
        for list in pack
            .by_event_name
            .values_mut()
            .chain(pack.by_identity_type.values_mut())
        {
            list.sort_unstable();
            list.dedup();
        }
        let always: Vec<usize> = pack
            .by_identity_type
            .values()
            .flatten()
            .chain(&pack.unindexed)
            .copied()
            .collect();
        let tree_of = |rules: &[usize]| -> Option<event::FieldTree> {
            let mut tree = event::FieldTree::default();
            for &i in rules.iter().chain(&always) {
                rule_fields[i].as_ref()?.iter().for_each(|f| tree.insert(f));
            }
            Some(tree)
        };
        pack.fields_by_event_name = pack
            .by_event_name
            .iter()
            .map(|(name, rules)| (name.clone(), tree_of(rules)))
            .collect();
        pack.fields_of_the_rest = tree_of(&[]);
        Ok(pack)
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether the pack has no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rules, in load order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Rules evaluated on every call, whatever its name (they cost the most).
    pub fn unindexed(&self) -> impl Iterator<Item = &Rule> {
        self.unindexed.iter().map(|i| &self.rules[*i])
    }

    /// The rules a record matches, highest level first. Only CloudTrail records are
    /// evaluated; the event is rebuilt only when some rule could match.
    pub fn matches(&self, record: &Record) -> Vec<&Rule> {
        if record.log_type != LogType::CloudTrail || self.rules.is_empty() {
            return Vec::new();
        }
        let name = record
            .get_str("EventName")
            .unwrap_or("")
            .to_ascii_lowercase();
        let indexed = self
            .by_event_name
            .get(name.as_str())
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let by_identity = match record.get_str("UserIdentityType") {
            Some(t) if !self.by_identity_type.is_empty() => self
                .by_identity_type
                .get(t.to_ascii_lowercase().as_str())
                .map(Vec::as_slice)
                .unwrap_or(&[]),
            _ => &[],
        };
        if indexed.is_empty() && by_identity.is_empty() && self.unindexed.is_empty() {
            return Vec::new();
        }
        let fields = match self.fields_by_event_name.get(name.as_str()) {
            Some(tree) => tree.as_ref(),
            None => self.fields_of_the_rest.as_ref(),
        };
        let events = event::cloudtrail_events(record, fields);
        let mut found: Vec<&Rule> = indexed
            .iter()
            .chain(by_identity)
            .chain(&self.unindexed)
            .map(|i| &self.rules[*i])
            .filter(|rule| events.iter().any(|e| rule.sigma.is_match(e)))
            .collect();
        found.sort_by(|a, b| b.level.cmp(&a.level).then_with(|| a.title.cmp(&b.title)));
        found
    }
}

/// How much a record's matches count: the highest level, one lower when the call failed
/// (an attempt that was refused changed nothing) and one lower again when an AWS service
/// made it on someone's behalf (the service's own housekeeping matches many rules).
pub fn effective_level(record: &Record, matched: &[&Rule]) -> Option<Level> {
    let mut level = matched.iter().map(|r| r.level).max()?;
    let failed = record
        .get_str("ErrorCode")
        .is_some_and(|code| !code.trim().is_empty());
    if failed {
        level = level.lower();
    }
    let by_service = record.get_str("UserIdentityInvokedBy").is_some()
        || matches!(
            record.get_str("UserIdentityType"),
            Some("AWSService" | "AWSAccount")
        );
    if by_service {
        level = level.lower();
    }
    Some(level)
}

/// The rules of a folder (`*.yml`, `*.yaml` files) as `(file name, YAML)`, by name.
#[cfg(feature = "tools")]
pub fn read_dir(dir: &std::path::Path) -> std::io::Result<Vec<(String, String)>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if path.is_file() && is_rule_file(&name) {
            files.push((name, std::fs::read_to_string(&path)?));
        }
    }
    files.sort();
    Ok(files)
}

/// Whether a file of a rule folder is a rule (YAML), by name.
pub fn is_rule_file(name: &str) -> bool {
    name.ends_with(".yml") || name.ends_with(".yaml")
}

/// Files rule `i` under each of `keys` (case folded, as records are looked up).
fn index_rule(index: &mut HashMap<String, Vec<usize>>, keys: Vec<String>, i: usize) {
    for key in keys {
        index.entry(key.to_ascii_lowercase()).or_default().push(i);
    }
}

fn parse_rule(file: &str, text: &str) -> Result<Rule, RuleError> {
    let invalid = |message: String| RuleError::Invalid {
        file: file.to_string(),
        message,
    };
    let sigma = sigma_rust::rule_from_yaml(text).map_err(|e| invalid(e.to_string()))?;
    let source = sigma.logsource.service.as_deref().unwrap_or("");
    let product = sigma.logsource.product.as_deref().unwrap_or("");
    if !product.eq_ignore_ascii_case("aws") || !source.eq_ignore_ascii_case("cloudtrail") {
        return Err(invalid(format!(
            "logsource is product '{product}' service '{source}'; only aws/cloudtrail rules apply"
        )));
    }
    // sigma-rust keeps `level` as its own enum; the YAML says it plainly.
    let level = yaml_field(text, "level")
        .and_then(|l| Level::parse(&l))
        .unwrap_or(Level::Medium);
    let id = sigma
        .id
        .clone()
        .filter(|id| !id.trim().is_empty())
        .unwrap_or_else(|| file.to_string());
    Ok(Rule {
        id,
        title: sigma.title.clone(),
        level,
        tags: sigma.tags.clone().unwrap_or_default(),
        sigma,
    })
}

/// A top-level scalar of a YAML document.
fn yaml_field(text: &str, key: &str) -> Option<String> {
    let doc: serde_norway::Value = serde_norway::from_str(text).ok()?;
    doc.get(key)?.as_str().map(str::to_string)
}

#[cfg(test)]
mod tests;

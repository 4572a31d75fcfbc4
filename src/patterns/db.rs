//! The pattern database: every template seen, with counts, first and last sighting,
//! per-window counts (the history the trend detector compares against) and a few example
//! messages; plus per-log-type window counts.
//!
//! It is bounded ([`DbLimits::max_patterns`]): past the bound the patterns with the lowest
//! retention score (rare and long unseen, see [`PatternEntry::retention_score`]) are
//! evicted. It serializes to versioned JSON.
//!
//! Concurrent writers never overwrite each other: each writer collects a *delta* (a
//! `PatternDb` holding only what it saw since its last flush) and [`persist`] merges that
//! delta into the stored database with a conditional write (`state::update`: read, merge,
//! write If-Match the ETag read, retry on conflict). Merging adds counts, so every
//! writer's counts survive whatever the interleaving.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use smart_default::SmartDefault;

use super::miner::{PatternId, TemplateMiner, glob_match};
use crate::state::{self, StateError, StateStore, update};

/// The serialization version this code writes and reads.
pub const DB_VERSION: u32 = 1;

/// Where the database lives under the state prefix.
pub const DEFAULT_KEY: &str = "patterns/db.json";

/// Longest template kept: messages are cut to 4 KiB before mining, and a template stored
/// at full length would let one object of huge words bloat every later load.
pub const MAX_TEMPLATE_BYTES: usize = 1024;

/// Largest stored database read: the bounds ([`DbLimits`]) keep a healthy one far below.
pub const MAX_STORED_BYTES: u64 = 64 * 1024 * 1024;

/// Bounds of the pattern database: configuration, never read from a stored database.
#[derive(Debug, Clone, PartialEq, SmartDefault)]
pub struct DbLimits {
    /// Patterns kept; past it the lowest retention scores are evicted.
    #[default(20_000)]
    pub max_patterns: usize,
    /// Example messages kept per pattern.
    #[default(3)]
    pub max_examples: usize,
    /// Length of one counting window in seconds.
    #[default(3600)]
    pub window_seconds: i64,
    /// Windows of history kept per pattern and per log type.
    #[default(168)]
    pub max_windows: usize,
    /// Bytes kept of each example message.
    #[default(512)]
    pub max_example_bytes: usize,
}

/// The bounds older builds wrote into every database (the defaults, as JSON).
fn stored_default_limits() -> serde_json::Value {
    let d = DbLimits::default();
    serde_json::json!({
        "max_patterns": d.max_patterns,
        "max_examples": d.max_examples,
        "window_seconds": d.window_seconds,
        "max_windows": d.max_windows,
        "max_example_bytes": d.max_example_bytes,
    })
}

impl Serialize for PatternId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for PatternId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        PatternId::from_hex(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("bad pattern id {s:?}")))
    }
}

/// One template and its history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatternEntry {
    /// The template's stable id.
    pub id: PatternId,
    /// The template text, `<*>` where messages vary.
    pub template: String,
    /// `SourceLogType` of the records it was mined from (empty for plain lines).
    #[serde(default)]
    pub log_type: String,
    /// Records that matched it.
    pub count: u64,
    /// Time of the earliest record that matched.
    pub first_seen: DateTime<Utc>,
    /// Time of the latest record that matched.
    pub last_seen: DateTime<Utc>,
    /// `(window start, count)` in epoch seconds, ascending, at most `max_windows`.
    #[serde(default)]
    pub windows: Vec<(i64, u64)>,
    /// A few messages that matched, cut to `max_example_bytes`.
    #[serde(default)]
    pub examples: Vec<String>,
}

impl PatternEntry {
    /// An entry not yet counted, first and last seen `at`.
    pub fn new(id: PatternId, template: String, log_type: &str, at: DateTime<Utc>) -> Self {
        PatternEntry {
            id,
            template,
            log_type: log_type.to_string(),
            count: 0,
            first_seen: at,
            last_seen: at,
            windows: Vec::new(),
            examples: Vec::new(),
        }
    }

    /// Higher is kept longer: log2 of the count, minus one per week since last seen, so
    /// a pattern seen 1,000 times outlives one seen once by about ten weeks of silence.
    pub fn retention_score(&self, now: DateTime<Utc>) -> f64 {
        let idle_weeks = (now - self.last_seen).num_seconds().max(0) as f64 / (7.0 * 86_400.0);
        (1.0 + self.count as f64).log2() - idle_weeks
    }

    /// Count in the window starting at `start`.
    pub fn window_count(&self, start: i64) -> u64 {
        window_get(&self.windows, start)
    }
}

/// A change of id: the miner merged template `from` into `into`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alias {
    /// The absorbed id.
    pub from: PatternId,
    /// The surviving id.
    pub into: PatternId,
}

/// Every template seen, with its history; see the module docs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatternDb {
    /// Serialization version, [`DB_VERSION`] once read.
    pub version: u32,
    /// Bounds applied when counting, merging and reading: the reader's, never stored.
    #[serde(skip)]
    pub limits: DbLimits,
    /// Sorted by id.
    pub patterns: Vec<PatternEntry>,
    /// Window counts per `SourceLogType`.
    #[serde(default)]
    pub log_types: BTreeMap<String, Vec<(i64, u64)>>,
    /// Ids merged into others, so a writer that still uses an old id lands on the new one.
    #[serde(default)]
    pub aliases: Vec<Alias>,
    /// Patterns evicted over the database's life.
    #[serde(default)]
    pub evicted: u64,
}

impl Default for PatternDb {
    fn default() -> Self {
        PatternDb::new(DbLimits::default())
    }
}

/// Why a stored database cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// Written by a newer build.
    #[error("pattern database version {found} is newer than this build reads ({DB_VERSION})")]
    UnsupportedVersion {
        /// The stored database's version.
        found: u32,
    },
    /// Not JSON of the database's shape.
    #[error("pattern database is not valid JSON: {0}")]
    Malformed(#[from] serde_json::Error),
    /// Bounds other than any build ever wrote: the bounds are configuration, and a file
    /// that tries to set them was not written by a function.
    #[error("pattern database claims bounds of its own: {0}")]
    ClaimedLimits(String),
}

impl PatternDb {
    /// An empty database.
    pub fn new(limits: DbLimits) -> Self {
        PatternDb {
            version: DB_VERSION,
            limits,
            patterns: Vec::new(),
            log_types: BTreeMap::new(),
            aliases: Vec::new(),
            evicted: 0,
        }
    }

    /// Reads a stored database under `limits` (whatever bounds the file claims): duplicate
    /// entries merged, templates, examples and windows cut to the bounds, aliases that
    /// lead nowhere dropped, the excess patterns evicted as of `now`.
    pub fn from_json(
        bytes: &[u8],
        limits: &DbLimits,
        now: DateTime<Utc>,
    ) -> Result<PatternDb, DbError> {
        #[derive(Deserialize)]
        struct Header {
            version: u32,
            /// Older builds stored their bounds, always the defaults.
            #[serde(default)]
            limits: Option<serde_json::Value>,
        }
        let Header {
            version,
            limits: claimed,
        } = serde_json::from_slice(bytes)?;
        if version > DB_VERSION {
            return Err(DbError::UnsupportedVersion { found: version });
        }
        if let Some(claimed) = claimed
            && claimed != stored_default_limits()
        {
            return Err(DbError::ClaimedLimits(claimed.to_string()));
        }
        let mut db: PatternDb = serde_json::from_slice(bytes)?;
        db.version = DB_VERSION;
        db.limits = limits.clone();
        db.clamp(now);
        Ok(db)
    }

    /// Holds the database to its bounds, whatever wrote it.
    fn clamp(&mut self, now: DateTime<Utc>) {
        let limits = self.limits.clone();
        for p in &mut self.patterns {
            if p.template.len() > MAX_TEMPLATE_BYTES {
                p.template = truncate(&p.template, MAX_TEMPLATE_BYTES);
            }
            p.log_type = truncate(&p.log_type, 64);
            p.examples.truncate(limits.max_examples);
            for example in &mut p.examples {
                *example = truncate(example, limits.max_example_bytes);
            }
            clamp_windows(&mut p.windows, limits.max_windows);
        }
        self.patterns.sort_by_key(|p| p.id);
        self.patterns.dedup_by(|b, a| {
            if a.id == b.id {
                merge_entry(a, b, &limits);
                true
            } else {
                false
            }
        });
        self.log_types.retain(|name, _| {
            name.len() <= 64 && crate::record::LogType::from_name(name).is_some()
        });
        for windows in self.log_types.values_mut() {
            clamp_windows(windows, limits.max_windows);
        }
        self.aliases.retain(|a| a.from != a.into);
        self.aliases.truncate(limits.max_patterns);
        self.evict(now);
    }

    /// Compact JSON, as stored.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("pattern database serializes")
    }

    /// Patterns held.
    pub fn len(&self) -> usize {
        self.patterns.len()
    }

    /// Whether no pattern is held.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// The entry of `id`, following aliases.
    pub fn get(&self, id: PatternId) -> Option<&PatternEntry> {
        let id = self.canonical(id);
        self.patterns
            .binary_search_by_key(&id, |p| p.id)
            .ok()
            .map(|i| &self.patterns[i])
    }

    /// Follows aliases to the id a pattern is kept under now.
    pub fn canonical(&self, mut id: PatternId) -> PatternId {
        for _ in 0..=self.aliases.len() {
            match self.aliases.iter().find(|a| a.from == id) {
                Some(a) => id = a.into,
                None => break,
            }
        }
        id
    }

    /// The entry for `id`, created with `template` if new.
    pub fn entry(
        &mut self,
        id: PatternId,
        template: &str,
        log_type: &str,
        at: DateTime<Utc>,
    ) -> &mut PatternEntry {
        let id = self.canonical(id);
        let i = match self.patterns.binary_search_by_key(&id, |p| p.id) {
            Ok(i) => i,
            Err(i) => {
                let entry = PatternEntry::new(id, template.to_string(), log_type, at);
                self.patterns.insert(i, entry);
                i
            }
        };
        &mut self.patterns[i]
    }

    /// Counts one sighting of a pattern at `at` (with an example message).
    pub fn record(
        &mut self,
        id: PatternId,
        template: &str,
        log_type: &str,
        at: DateTime<Utc>,
        example: Option<&str>,
    ) {
        let cut;
        let template = if template.len() > MAX_TEMPLATE_BYTES {
            cut = truncate(template, MAX_TEMPLATE_BYTES);
            cut.as_str()
        } else {
            template
        };
        let limits = self.limits.clone();
        let window = window_start(at, limits.window_seconds);
        let entry = self.entry(id, template, log_type, at);
        entry.count += 1;
        entry.first_seen = entry.first_seen.min(at);
        entry.last_seen = entry.last_seen.max(at);
        if entry.template != template {
            entry.template = wider_template(&entry.template, template);
        }
        window_add(&mut entry.windows, window, 1, limits.max_windows);
        if let Some(text) = example
            && entry.examples.len() < limits.max_examples
        {
            let text = truncate(text, limits.max_example_bytes);
            if !entry.examples.contains(&text) {
                entry.examples.push(text);
            }
        }
        if !log_type.is_empty() {
            let windows = self.log_types.entry(log_type.to_string()).or_default();
            window_add(windows, window, 1, limits.max_windows);
        }
    }

    /// Notes that the miner merged `from` into `into`.
    pub fn alias(&mut self, from: PatternId, into: PatternId) {
        let into = self.canonical(into);
        if from == into || self.aliases.iter().any(|a| a.from == from) {
            return;
        }
        self.aliases.push(Alias { from, into });
        if let Ok(i) = self.patterns.binary_search_by_key(&from, |p| p.id) {
            let mut old = self.patterns.remove(i);
            old.id = into;
            match self.patterns.binary_search_by_key(&into, |p| p.id) {
                Ok(j) => merge_entry(&mut self.patterns[j], &old, &self.limits.clone()),
                Err(j) => self.patterns.insert(j, old),
            }
        }
    }

    /// Adds another database (usually a writer's delta) into this one: counts and window
    /// counts add up, first/last seen widen, examples fill up, templates take the more
    /// general form, aliases apply. Merging the same delta twice counts it twice: a
    /// writer merges each delta once (retries re-read the stored base, not this result).
    pub fn merge(&mut self, delta: &PatternDb) {
        for a in &delta.aliases {
            self.alias(a.from, a.into);
        }
        let limits = self.limits.clone();
        for incoming in &delta.patterns {
            let id = self.canonical(incoming.id);
            match self.patterns.binary_search_by_key(&id, |p| p.id) {
                Ok(i) => merge_entry(&mut self.patterns[i], incoming, &limits),
                Err(i) => {
                    let mut entry = incoming.clone();
                    entry.id = id;
                    trim_windows(&mut entry.windows, limits.max_windows);
                    entry.examples.truncate(limits.max_examples);
                    self.patterns.insert(i, entry);
                }
            }
        }
        for (log_type, windows) in &delta.log_types {
            let mine = self.log_types.entry(log_type.clone()).or_default();
            for &(start, count) in windows {
                window_add(mine, start, count, limits.max_windows);
            }
        }
        self.evicted += delta.evicted;
    }

    /// Evicts the lowest-retention patterns beyond `max_patterns`; returns how many.
    pub fn evict(&mut self, now: DateTime<Utc>) -> usize {
        let excess = self.patterns.len().saturating_sub(self.limits.max_patterns);
        if excess == 0 {
            return 0;
        }
        let mut scored: Vec<(f64, DateTime<Utc>, PatternId)> = self
            .patterns
            .iter()
            .map(|p| (p.retention_score(now), p.last_seen, p.id))
            .collect();
        scored.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        let mut doomed: Vec<PatternId> = scored[..excess].iter().map(|s| s.2).collect();
        doomed.sort_unstable();
        self.patterns
            .retain(|p| doomed.binary_search(&p.id).is_err());
        // Aliases pointing at evicted patterns would only resurrect stale ids.
        self.aliases
            .retain(|a| doomed.binary_search(&a.into).is_err());
        self.evicted += excess as u64;
        excess
    }

    /// Gives a miner this database's templates, so ids stay the same across runs.
    pub fn seed(&self, miner: &mut TemplateMiner) {
        for p in &self.patterns {
            miner.insert_template(p.id, &p.template, p.count);
        }
    }

    /// The last `n` windows ending with the one holding `at`, oldest first, zero-filled.
    pub fn log_type_history(&self, log_type: &str, at: DateTime<Utc>, n: usize) -> Vec<u64> {
        let windows = self
            .log_types
            .get(log_type)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        history(
            windows,
            window_start(at, self.limits.window_seconds),
            self.limits.window_seconds,
            n,
        )
    }
}

/// Start of the window holding `at`.
pub fn window_start(at: DateTime<Utc>, window_seconds: i64) -> i64 {
    at.timestamp().div_euclid(window_seconds) * window_seconds
}

/// `n` window counts ending with the window starting at `current`, oldest first.
pub fn history(windows: &[(i64, u64)], current: i64, window_seconds: i64, n: usize) -> Vec<u64> {
    (0..n)
        .map(|k| current - (n - 1 - k) as i64 * window_seconds)
        .map(|start| window_get(windows, start))
        .collect()
}

fn window_get(windows: &[(i64, u64)], start: i64) -> u64 {
    windows
        .binary_search_by_key(&start, |w| w.0)
        .map(|i| windows[i].1)
        .unwrap_or(0)
}

/// Window counts sorted, one per start, at most `max` (the latest).
fn clamp_windows(windows: &mut Vec<(i64, u64)>, max: usize) {
    windows.sort_unstable_by_key(|w| w.0);
    windows.dedup_by(|b, a| {
        if a.0 == b.0 {
            a.1 = a.1.saturating_add(b.1);
            true
        } else {
            false
        }
    });
    if windows.len() > max {
        windows.drain(..windows.len() - max);
    }
}

fn window_add(windows: &mut Vec<(i64, u64)>, start: i64, count: u64, max: usize) {
    match windows.binary_search_by_key(&start, |w| w.0) {
        Ok(i) => windows[i].1 += count,
        Err(i) => windows.insert(i, (start, count)),
    }
    trim_windows(windows, max);
}

fn trim_windows(windows: &mut Vec<(i64, u64)>, max: usize) {
    if windows.len() > max {
        windows.drain(..windows.len() - max);
    }
}

fn merge_entry(into: &mut PatternEntry, other: &PatternEntry, limits: &DbLimits) {
    into.count += other.count;
    into.first_seen = into.first_seen.min(other.first_seen);
    into.last_seen = into.last_seen.max(other.last_seen);
    if into.template != other.template {
        into.template = wider_template(&into.template, &other.template);
    }
    if into.log_type.is_empty() {
        into.log_type.clone_from(&other.log_type);
    }
    for &(start, count) in &other.windows {
        window_add(&mut into.windows, start, count, limits.max_windows);
    }
    for e in &other.examples {
        if into.examples.len() >= limits.max_examples {
            break;
        }
        if !into.examples.contains(e) {
            into.examples.push(e.clone());
        }
    }
}

/// Of two forms of one template, the one covering the other; token by token when neither
/// does.
fn wider_template(a: &str, b: &str) -> String {
    let (ta, tb): (Vec<&str>, Vec<&str>) = (a.split(' ').collect(), b.split(' ').collect());
    if ta.len() != tb.len() {
        return a.to_string();
    }
    ta.iter()
        .zip(&tb)
        .map(|(x, y)| {
            if x == y || glob_match(x, y) {
                (*x).to_string()
            } else if glob_match(y, x) {
                (*y).to_string()
            } else {
                super::mask::WILDCARD.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

/// Merges `delta` into the database stored under `key` (conditional write, retried on
/// conflict) and returns the merged database. A stored database that cannot be read is set
/// aside and the delta starts a new one.
pub async fn persist<S: StateStore + ?Sized>(
    store: &S,
    key: &str,
    delta: &PatternDb,
    now: DateTime<Utc>,
) -> Result<PatternDb, StateError> {
    let mut merged = None;
    update(store, key, MAX_STORED_BYTES, |current| {
        let mut db = match current {
            Some(bytes) => PatternDb::from_json(bytes, &delta.limits, now)
                .map_err(|e| StateError::Damaged(format!("{key}: {e}")))?,
            None => PatternDb::new(delta.limits.clone()),
        };
        db.merge(delta);
        db.evict(now);
        let body = db.to_json();
        merged = Some(db);
        Ok(body)
    })
    .await?;
    Ok(merged.expect("update ran the merge"))
}

/// Reads the database stored under `key` with `limits` (an empty one when there is none,
/// or when the stored one cannot be read and was set aside).
pub async fn load<S: StateStore + ?Sized>(
    store: &S,
    key: &str,
    limits: &DbLimits,
    now: DateTime<Utc>,
) -> Result<PatternDb, StateError> {
    let stored = state::load(store, key, MAX_STORED_BYTES, |bytes| {
        PatternDb::from_json(bytes, limits, now).map_err(|e| format!("{key}: {e}"))
    })
    .await?;
    Ok(stored.unwrap_or_else(|| PatternDb::new(limits.clone())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, h, 0, 0).unwrap()
    }

    #[test]
    fn records_counts_windows_and_examples() {
        let mut db = PatternDb::default();
        let id = PatternId(7);
        db.record(id, "a <*>", "Text", t(1), Some("a 1"));
        db.record(id, "a <*>", "Text", t(1), Some("a 1"));
        db.record(id, "a <*>", "Text", t(3), Some("a 2"));
        let e = db.get(id).unwrap();
        assert_eq!(e.count, 3);
        assert_eq!((e.first_seen, e.last_seen), (t(1), t(3)));
        assert_eq!(
            e.windows,
            vec![(t(1).timestamp(), 2), (t(3).timestamp(), 1)]
        );
        assert_eq!(e.examples, vec!["a 1", "a 2"]);
        assert_eq!(db.log_type_history("Text", t(3), 3), vec![2, 0, 1]);
    }

    #[test]
    fn merging_deltas_adds_counts_in_any_order() {
        let mut base = PatternDb::default();
        base.record(PatternId(1), "x <*>", "", t(0), None);
        let mut d1 = PatternDb::default();
        d1.record(PatternId(1), "x <*>", "", t(2), None);
        d1.record(PatternId(2), "y y", "", t(2), None);
        let mut d2 = PatternDb::default();
        d2.record(PatternId(2), "y <*>", "", t(1), None);
        let mut a = base.clone();
        a.merge(&d1);
        a.merge(&d2);
        let mut b = base.clone();
        b.merge(&d2);
        b.merge(&d1);
        assert_eq!(a, b);
        assert_eq!(a.get(PatternId(1)).unwrap().count, 2);
        let y = a.get(PatternId(2)).unwrap();
        assert_eq!((y.count, y.template.as_str()), (2, "y <*>"));
        assert_eq!((y.first_seen, y.last_seen), (t(1), t(2)));
    }

    #[test]
    fn aliases_fold_counts_into_the_surviving_id() {
        let mut db = PatternDb::default();
        db.record(PatternId(1), "u a", "", t(0), None);
        db.record(PatternId(2), "u b", "", t(0), None);
        let mut delta = PatternDb::default();
        delta.alias(PatternId(2), PatternId(1));
        delta.record(PatternId(1), "u <*>", "", t(1), None);
        db.merge(&delta);
        assert_eq!(db.len(), 1);
        assert_eq!(db.get(PatternId(2)).unwrap().id, PatternId(1));
        assert_eq!(db.get(PatternId(1)).unwrap().count, 3);
        assert_eq!(db.get(PatternId(1)).unwrap().template, "u <*>");
    }

    #[test]
    fn eviction_drops_rare_and_stale_patterns_first() {
        let mut db = PatternDb::new(DbLimits {
            max_patterns: 2,
            ..DbLimits::default()
        });
        for _ in 0..100 {
            db.record(PatternId(1), "busy", "", t(0), None);
        }
        db.record(PatternId(2), "rare old", "", t(0), None);
        db.record(PatternId(3), "rare new", "", t(5), None);
        assert_eq!(db.evict(t(6)), 1);
        assert!(db.get(PatternId(2)).is_none());
        assert!(db.get(PatternId(1)).is_some() && db.get(PatternId(3)).is_some());
        assert_eq!(db.evicted, 1);
    }

    #[test]
    fn serialization_is_versioned() {
        let mut db = PatternDb::default();
        db.record(PatternId(0xabc), "t <*>", "CloudTrail", t(1), Some("t 1"));
        let json = db.to_json();
        let limits = DbLimits::default();
        assert_eq!(PatternDb::from_json(&json, &limits, t(2)).unwrap(), db);
        let text = String::from_utf8(json).unwrap();
        assert!(text.contains("\"id\":\"0000000000000abc\""), "{text}");
        let future = text.replacen("\"version\":1", "\"version\":99", 1);
        assert!(matches!(
            PatternDb::from_json(future.as_bytes(), &limits, t(2)),
            Err(DbError::UnsupportedVersion { found: 99 })
        ));
        assert!(matches!(
            PatternDb::from_json(b"{", &limits, t(2)),
            Err(DbError::Malformed(_))
        ));
    }

    #[test]
    fn seeding_a_miner_keeps_ids() {
        let mut db = PatternDb::default();
        db.record(PatternId(42), "Invalid user <*> from <*>", "", t(0), None);
        let mut miner = TemplateMiner::default();
        db.seed(&mut miner);
        let a = miner.add("Invalid user bob from 10.0.0.1");
        assert_eq!(a.id, PatternId(42));
        assert!(!a.created);
    }

    #[test]
    fn wider_template_prefers_the_covering_form() {
        assert_eq!(wider_template("a <*> c", "a b c"), "a <*> c");
        assert_eq!(wider_template("a b c", "a <*> c"), "a <*> c");
        assert_eq!(wider_template("a b c", "a d c"), "a <*> c");
        assert_eq!(wider_template("a b", "a b c"), "a b");
    }
}

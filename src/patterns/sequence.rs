//! Sequences of template ids: a model of which event follows which, per entity.
//!
//! The model counts, for every context of the last 1..=`order` event ids, the events that
//! followed it (a variable-order n-gram). The next event is scored at the longest
//! context seen before: its surprise is `1 - P(next | context)`, and an event never seen
//! after that context is *surprising* (surprise 1). Sessions with a known start and end
//! (HDFS blocks) get start and end markers, so a session that stops early or starts in
//! the middle is surprising too.
//!
//! [`SequenceTracker`] keeps the last events of each entity (a CloudTrail principal, a
//! VPC interface, an HDFS block) in a bounded map and scores each new event against its
//! entity's history, learning as it goes.

use std::collections::{HashMap, VecDeque};

use serde::{Deserialize, Serialize};
use smallvec::SmallVec;
use xxhash_rust::xxh3::Xxh3;

/// Marks the start of a session.
pub const START: u64 = u64::MAX - 1;
/// Marks the end of a session.
pub const END: u64 = u64::MAX;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
struct Followers {
    total: u32,
    next: Vec<(u64, u32)>,
}

/// Distinct followers kept per context: past it new ones only count towards the total
/// (they stay "never seen"), so no context costs more than this to score or store.
const MAX_FOLLOWERS: usize = 256;

/// Contexts kept by default: past it the least used half is dropped.
const DEFAULT_MAX_CONTEXTS: usize = 200_000;

/// Largest stored model read.
pub const MAX_STORED_BYTES: u64 = 64 * 1024 * 1024;

impl Followers {
    fn add(&mut self, id: u64) {
        self.add_count(id, 1);
    }

    fn add_count(&mut self, id: u64, count: u32) {
        self.total = self.total.saturating_add(count);
        if let Some((_, c)) = self.next.iter_mut().find(|(n, _)| *n == id) {
            *c = c.saturating_add(count);
        } else if self.next.len() < MAX_FOLLOWERS {
            self.next.push((id, count));
        }
    }

    fn count(&self, id: u64) -> u32 {
        self.next
            .iter()
            .find(|(n, _)| *n == id)
            .map_or(0, |(_, c)| *c)
    }
}

/// How an event fits what the model knows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Surprise {
    /// `1 - P(next | longest known context)`; 1 when the context or the event is unknown.
    pub score: f64,
    /// The event never followed that context before.
    pub unseen: bool,
    /// How often that context was seen: an unseen event after a context seen a handful
    /// of times says little.
    pub support: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SequenceModel {
    /// Serialization version ([`SEQUENCE_VERSION`]); models stored before it had none.
    #[serde(default = "sequence_version")]
    version: u32,
    order: usize,
    /// Configuration, never read from a stored model.
    #[serde(skip, default = "default_max_contexts")]
    max_contexts: usize,
    contexts: HashMap<u64, Followers>,
}

/// The serialization version this code writes and reads.
pub const SEQUENCE_VERSION: u32 = 1;

fn sequence_version() -> u32 {
    SEQUENCE_VERSION
}

fn default_max_contexts() -> usize {
    DEFAULT_MAX_CONTEXTS
}

impl Default for SequenceModel {
    fn default() -> Self {
        SequenceModel::new(3)
    }
}

impl SequenceModel {
    /// A model looking back `order` events (3 is the default; on HDFS sessions longer
    /// contexts see more normal variants as new).
    pub fn new(order: usize) -> Self {
        SequenceModel {
            version: SEQUENCE_VERSION,
            order: order.max(1),
            max_contexts: DEFAULT_MAX_CONTEXTS,
            contexts: HashMap::new(),
        }
    }

    pub fn order(&self) -> usize {
        self.order
    }

    pub fn contexts(&self) -> usize {
        self.contexts.len()
    }

    /// Learns that `next` followed `history` (oldest first; only the last `order` count).
    pub fn observe(&mut self, history: &[u64], next: u64) {
        let tail = &history[history.len().saturating_sub(self.order)..];
        for k in 1..=tail.len() {
            let key = context_key(&tail[tail.len() - k..]);
            self.contexts.entry(key).or_default().add(next);
        }
        if self.contexts.len() > self.max_contexts {
            self.prune();
        }
    }

    /// Scores `next` after `history` without learning.
    pub fn surprise(&self, history: &[u64], next: u64) -> Surprise {
        let tail = &history[history.len().saturating_sub(self.order)..];
        for k in (1..=tail.len()).rev() {
            if let Some(f) = self.contexts.get(&context_key(&tail[tail.len() - k..])) {
                let count = f.count(next);
                return Surprise {
                    score: 1.0 - count as f64 / f.total.max(1) as f64,
                    unseen: count == 0,
                    support: f.total,
                };
            }
        }
        Surprise {
            score: 1.0,
            unseen: true,
            support: 0,
        }
    }

    /// Learns a whole session, with start and end markers.
    pub fn train_session(&mut self, ids: &[u64]) {
        let mut history: Vec<u64> = Vec::with_capacity(ids.len() + 2);
        history.push(START);
        for &id in ids.iter().chain(std::iter::once(&END)) {
            self.observe(&history, id);
            history.push(id);
        }
    }

    /// The most surprising step of a session (with start and end markers) and whether any
    /// step was never seen: the session-level anomaly verdict.
    pub fn score_session(&self, ids: &[u64]) -> Surprise {
        let mut history: Vec<u64> = Vec::with_capacity(ids.len() + 2);
        history.push(START);
        let mut worst = Surprise {
            score: 0.0,
            unseen: false,
            support: u32::MAX,
        };
        for &id in ids.iter().chain(std::iter::once(&END)) {
            let s = self.surprise(&history, id);
            worst.score = worst.score.max(s.score);
            worst.unseen |= s.unseen;
            worst.support = worst.support.min(s.support);
            history.push(id);
        }
        worst
    }

    /// Adds another model's counts (a writer's delta) into this one.
    pub fn merge(&mut self, other: &SequenceModel) {
        for (key, theirs) in &other.contexts {
            let mine = self.contexts.entry(*key).or_default();
            let listed: u32 = theirs.next.iter().map(|(_, c)| *c).sum();
            // Occurrences the other side counted without listing their event.
            mine.total = mine
                .total
                .saturating_add(theirs.total.saturating_sub(listed));
            for &(id, count) in &theirs.next {
                mine.add_count(id, count);
            }
        }
        if self.contexts.len() > self.max_contexts {
            self.prune();
        }
    }

    /// Reads a stored model for a tracker looking back `order` events: one stored with
    /// another order cannot be used (its contexts are other keys), and the stored lists
    /// are held to this build's bounds.
    pub fn from_json(bytes: &[u8], order: usize) -> Result<SequenceModel, String> {
        let mut model: SequenceModel =
            serde_json::from_slice(bytes).map_err(|e| format!("not a sequence model: {e}"))?;
        crate::state::check_version("sequence model", model.version, SEQUENCE_VERSION)?;
        if model.order != order {
            return Err(format!(
                "the stored sequence model looks back {} events; this build looks back {order}",
                model.order
            ));
        }
        for followers in model.contexts.values_mut() {
            followers.next.truncate(MAX_FOLLOWERS);
            let listed: u32 = followers.next.iter().map(|(_, c)| *c).sum();
            followers.total = followers.total.max(listed);
        }
        while model.contexts.len() > model.max_contexts {
            model.prune();
        }
        Ok(model)
    }

    /// Drops the least used half of the contexts.
    fn prune(&mut self) {
        let mut totals: Vec<u32> = self.contexts.values().map(|f| f.total).collect();
        let mid = totals.len() / 2;
        let (_, &mut median, _) = totals.select_nth_unstable(mid);
        let mut budget = mid;
        self.contexts.retain(|_, f| {
            if f.total <= median && budget > 0 {
                budget -= 1;
                false
            } else {
                true
            }
        });
    }
}

fn context_key(ids: &[u64]) -> u64 {
    let mut h = Xxh3::new();
    for id in ids {
        h.update(&id.to_le_bytes());
    }
    h.digest()
}

/// Per-entity histories in front of a shared model.
#[derive(Debug, Clone)]
pub struct SequenceTracker {
    pub model: SequenceModel,
    /// What was learned since the last [`SequenceTracker::take_delta`], for persisting.
    delta: SequenceModel,
    histories: HashMap<String, (VecDeque<u64>, u64)>,
    max_entities: usize,
    clock: u64,
}

impl Default for SequenceTracker {
    fn default() -> Self {
        SequenceTracker::new(SequenceModel::default(), 50_000)
    }
}

impl SequenceTracker {
    pub fn new(model: SequenceModel, max_entities: usize) -> Self {
        SequenceTracker {
            delta: SequenceModel::new(model.order()),
            model,
            histories: HashMap::new(),
            max_entities: max_entities.max(1),
            clock: 0,
        }
    }

    pub fn entities(&self) -> usize {
        self.histories.len()
    }

    /// What the model learned since the last call (to merge into the stored model).
    pub fn take_delta(&mut self) -> SequenceModel {
        let order = self.delta.order();
        std::mem::replace(&mut self.delta, SequenceModel::new(order))
    }

    /// Puts back a delta whose persist failed: the next one carries it.
    pub fn restore_delta(&mut self, delta: &SequenceModel) {
        self.delta.merge(delta);
    }

    /// Whether `entity` has a history (it was seen and not forgotten).
    pub fn knows(&self, entity: &str) -> bool {
        self.histories.contains_key(entity)
    }

    /// Scores event `id` of `entity` against the entity's history, then learns it. The
    /// first event of an entity is scored after the start marker.
    pub fn observe(&mut self, entity: &str, id: u64) -> Surprise {
        self.clock += 1;
        if !self.histories.contains_key(entity) && self.histories.len() >= self.max_entities {
            self.forget_oldest();
        }
        let order = self.model.order();
        let (history, used) = self
            .histories
            .entry(entity.to_string())
            .or_insert_with(|| (VecDeque::from([START]), 0));
        *used = self.clock;
        let context: SmallVec<[u64; 8]> = history.iter().copied().collect();
        let surprise = self.model.surprise(&context, id);
        self.model.observe(&context, id);
        self.delta.observe(&context, id);
        history.push_back(id);
        while history.len() > order {
            history.pop_front();
        }
        surprise
    }

    /// Forgets the least recently active tenth of the entities.
    fn forget_oldest(&mut self) {
        let mut stamps: Vec<u64> = self.histories.values().map(|(_, t)| *t).collect();
        let k = (stamps.len() / 10).max(1).min(stamps.len() - 1);
        let (_, &mut cutoff, _) = stamps.select_nth_unstable(k);
        self.histories.retain(|_, (_, t)| *t > cutoff);
    }
}

/// Where the sequence model lives under the state prefix.
pub const DEFAULT_KEY: &str = "patterns/sequences.json";

/// Reads the model stored under `key` for a tracker looking back `order` events (`None`
/// when there is none yet, or when the stored one cannot be used and was set aside).
pub async fn load<S: crate::state::StateStore + ?Sized>(
    store: &S,
    key: &str,
    order: usize,
) -> Result<Option<SequenceModel>, crate::state::StateError> {
    crate::state::load(store, key, MAX_STORED_BYTES, |bytes| {
        SequenceModel::from_json(bytes, order).map_err(|e| format!("{key}: {e}"))
    })
    .await
}

/// Merges a tracker's delta into the model stored under `key` (conditional write, retried
/// on conflict, like the pattern database) and returns the merged model.
pub async fn persist<S: crate::state::StateStore + ?Sized>(
    store: &S,
    key: &str,
    delta: &SequenceModel,
) -> Result<SequenceModel, crate::state::StateError> {
    use crate::state::StateError;
    let mut merged = None;
    crate::state::update(store, key, MAX_STORED_BYTES, |current| {
        let mut model = match current {
            Some(bytes) => SequenceModel::from_json(bytes, delta.order())
                .map_err(|e| StateError::Damaged(format!("{key}: {e}")))?,
            None => SequenceModel::new(delta.order()),
        };
        model.merge(delta);
        let body = serde_json::to_vec(&model).map_err(|e| StateError::Other(e.into()))?;
        merged = Some(model);
        Ok(body)
    })
    .await?;
    Ok(merged.expect("update ran the merge"))
}

#[cfg(any(test, feature = "tools"))]
/// One session per line, ids separated by whitespace (the DeepLog `hdfs_*` layout).
/// Blank lines are skipped; a token that is not a number is an error naming its line.
pub fn parse_sessions(text: &str) -> Result<Vec<Vec<u64>>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, line)| {
            line.split_whitespace()
                .map(|t| {
                    t.parse::<u64>()
                        .map_err(|_| format!("line {}: {t:?} is not an event id", n + 1))
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unseen_transitions_and_early_ends_are_surprising() {
        let mut m = SequenceModel::default();
        for _ in 0..10 {
            m.train_session(&[1, 2, 3, 4]);
            m.train_session(&[1, 2, 5, 4]);
        }
        assert!(!m.score_session(&[1, 2, 3, 4]).unseen);
        assert!(!m.score_session(&[1, 2, 5, 4]).unseen);
        assert!(m.score_session(&[1, 3, 2, 4]).unseen, "reordered");
        assert!(m.score_session(&[1, 2, 3]).unseen, "ended early");
        assert!(m.score_session(&[2, 3, 4]).unseen, "started late");
        assert!(m.score_session(&[1, 2, 3, 9]).unseen, "unknown event");
        let s = m.surprise(&[START, 1, 2], 3);
        assert!((s.score - 0.5).abs() < 1e-9 && !s.unseen);
    }

    #[test]
    fn backs_off_to_shorter_contexts() {
        let mut m = SequenceModel::new(3);
        m.train_session(&[7, 1, 2]);
        // Context (9, 8, 1) was never seen, but (1) was: 2 follows 1.
        assert!(!m.surprise(&[9, 8, 1], 2).unseen);
        assert!(m.surprise(&[9, 8, 1], 3).unseen);
    }

    #[test]
    fn tracker_keeps_entities_apart_and_bounded() {
        let mut t = SequenceTracker::new(SequenceModel::default(), 2);
        for _ in 0..5 {
            t.observe("a", 1);
            t.observe("a", 2);
        }
        assert!(!t.observe("b", 1).unseen, "b starts like a did");
        assert!(t.observe("b", 3).unseen);
        t.observe("c", 1);
        assert!(t.entities() <= 2);
    }

    #[test]
    fn merged_deltas_equal_one_model_trained_on_everything() {
        let mut whole = SequenceModel::default();
        let mut a = SequenceModel::default();
        let mut b = SequenceModel::default();
        for (i, s) in [[1, 2, 3], [1, 3, 2], [1, 2, 3]].iter().enumerate() {
            whole.train_session(s);
            if i % 2 == 0 {
                a.train_session(s)
            } else {
                b.train_session(s)
            }
        }
        let mut merged = SequenceModel::default();
        merged.merge(&a);
        merged.merge(&b);
        assert_eq!(merged, whole);
        let mut t = SequenceTracker::default();
        t.observe("e", 1);
        t.observe("e", 2);
        let delta = t.take_delta();
        assert!(delta.contexts() > 0);
        assert_eq!(t.take_delta().contexts(), 0);
    }

    #[test]
    fn model_round_trips_through_json() {
        let mut m = SequenceModel::default();
        m.train_session(&[1, 2, 3]);
        let json = serde_json::to_string(&m).unwrap();
        let back: SequenceModel = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn parses_sessions() {
        assert_eq!(
            parse_sessions("5 5 22 \n\n1 2\n").unwrap(),
            vec![vec![5, 5, 22], vec![1, 2]]
        );
        assert!(parse_sessions("1 x").unwrap_err().contains("line 1"));
    }
}

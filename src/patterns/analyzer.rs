//! Pattern analysis of record batches: every record gains `PatternId`, `PatternTemplate`,
//! `PatternFlags` and, when it belongs to an entity, `SequenceScore`.
//!
//! Per batch (usually one S3 object) the analyzer mines each record's message
//! ([`super::message`]), counts it into the pattern database, judges the frequency of
//! each template and log type against its history ([`super::trend`]), scores the
//! record's place in its entity's sequence ([`super::sequence`]) and tracks
//! co-occurrences ([`super::correlation`]). Flags (see [`flags`]) go on the records and
//! are summarized per batch in a [`BatchSummary`].
//!
//! The counts of this process since the last flush are kept as a delta
//! ([`PatternAnalyzer::take_delta`]) for `db::persist`, which merges them into the stored
//! database without losing concurrent writers' counts.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::value::RawValue;
use smart_default::SmartDefault;

use super::correlation::{CorrelationConfig, CorrelationEvent, CorrelationTracker};
use super::db::{DbLimits, PatternDb, history, window_start};
use super::message::{entity_of, message_of, scope_of};
use super::miner::{MinerConfig, PatternId, TemplateMiner};
use super::sequence::{SequenceModel, SequenceTracker};
use super::trend::{TrendConfig, TrendReport, assess};
use crate::record::{Record, Value, columns};

/// The names written to `PatternFlags`.
pub mod flags {
    /// The template was not in the pattern database before this batch.
    pub const NEW: &str = "new";
    /// The template has been seen only a few times, or is a tiny share of its log type.
    pub const RARE: &str = "rare";
    /// The template's count in this window is far above its history.
    pub const SPIKE: &str = "spike";
    /// The template's last complete window fell far below its history.
    pub const DROP: &str = "drop";
    /// The template's rate has been climbing for several windows.
    pub const RISING: &str = "rising";
    /// The same three judgements on the volume of the record's log type.
    pub const LOG_TYPE_SPIKE: &str = "logtype-spike";
    pub const LOG_TYPE_DROP: &str = "logtype-drop";
    pub const LOG_TYPE_RISING: &str = "logtype-rising";
    /// The event never followed its entity's previous events before.
    pub const SEQUENCE: &str = "sequence";
    /// The record completed a pair of templates that just became correlated.
    pub const CORRELATION_NEW: &str = "correlation-new";
    /// The record's template occurred without its usual companion in its window.
    pub const CORRELATION_BROKEN: &str = "correlation-broken";

    pub const ALL: [&str; 11] = [
        NEW,
        RARE,
        SPIKE,
        DROP,
        RISING,
        LOG_TYPE_SPIKE,
        LOG_TYPE_DROP,
        LOG_TYPE_RISING,
        SEQUENCE,
        CORRELATION_NEW,
        CORRELATION_BROKEN,
    ];
}

/// Settings of the pattern stage.
#[derive(Debug, Clone, SmartDefault)]
pub struct AnalyzerConfig {
    /// How messages are mined into templates.
    pub miner: MinerConfig,
    /// When a template's frequency counts as a spike, drop or rise.
    pub trend: TrendConfig,
    /// When two templates count as correlated.
    pub correlation: CorrelationConfig,
    /// Bounds of the pattern database.
    pub db_limits: DbLimits,
    /// Previous templates of an entity the sequence model conditions on.
    #[default(3)]
    pub sequence_order: usize,
    /// Observations of a context before an event never seen after it is flagged: a new
    /// process has seen little, and little is not evidence.
    #[default(10)]
    pub sequence_min_support: u32,
    /// Entities whose sequences are tracked; past it the least recently seen is forgotten.
    #[default(50_000)]
    pub max_entities: usize,
    /// Windows of history the trend judgement looks at.
    #[default(24)]
    pub trend_windows: usize,
    /// A template seen at most this many times is rare...
    #[default(5)]
    pub rare_count: u64,
    /// ...and so is one below this share of its log type's volume.
    #[default(0.0005)]
    pub rare_share: f64,
    /// Records of a log type the database must hold before its templates can be called
    /// new or rare: in a fresh deployment every template is new, and that says nothing.
    #[default(500)]
    pub novelty_min_history: u64,
    /// Templates held in memory before the analyzer trims itself back to the (bounded)
    /// database: a long-lived process never grows without bound.
    #[default(50_000)]
    pub max_templates_in_memory: usize,
}

/// What one batch showed, for the object's log line and alerting.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BatchSummary {
    pub records: usize,
    pub patterns: usize,
    /// Templates never seen before this batch: `(id, template, records)`.
    pub new_patterns: Vec<(String, String, u64)>,
    /// Records per flag.
    pub flag_counts: BTreeMap<&'static str, u64>,
    /// Templates with a frequency flag (spike, drop, rising): `(id, template, flags)`.
    pub trending: Vec<(String, String, Vec<&'static str>)>,
    /// Pairs that became correlated: `(template a, template b, support, lift)`.
    pub new_correlations: Vec<(String, String, u64, f64)>,
    /// Known correlations found broken: `(scope, present template, missing template)`.
    pub broken_correlations: Vec<(String, String, String)>,
}

#[derive(Debug, Clone, Copy, Default)]
struct RecordFlags(u16);

impl RecordFlags {
    fn set(&mut self, name: &str) {
        if let Some(i) = flags::ALL.iter().position(|f| *f == name) {
            self.0 |= 1 << i;
        }
    }

    fn names(self) -> impl Iterator<Item = &'static str> {
        flags::ALL
            .iter()
            .enumerate()
            .filter(move |(i, _)| self.0 & (1 << i) != 0)
            .map(|(_, f)| *f)
    }
}

/// Mines, counts and flags the records of each batch against the pattern database.
pub struct PatternAnalyzer {
    config: AnalyzerConfig,
    text_miner: TemplateMiner,
    /// Structured messages are their own templates: id and text by message.
    structured: HashMap<String, PatternId>,
    db: PatternDb,
    delta: PatternDb,
    known: HashSet<PatternId>,
    sequences: SequenceTracker,
    correlations: CorrelationTracker,
}

/// What one batch's first pass collects for the passes after it.
struct Batch {
    flags: Vec<RecordFlags>,
    /// Each record's pattern and, for mined text, its cluster in the miner.
    ids: Vec<(PatternId, Option<usize>)>,
    sequence_scores: Vec<Option<f64>>,
    /// Records per (template, window) and per (log type, window).
    windows: HashMap<(PatternId, i64), Vec<usize>>,
    log_type_windows: HashMap<(&'static str, i64), Vec<usize>>,
    /// Records per (correlation scope, window, template).
    scope_members: HashMap<(String, i64, u64), Vec<usize>>,
    correlation_events: Vec<(Option<usize>, CorrelationEvent)>,
    new_in_batch: BTreeMap<PatternId, u64>,
    /// Records of each log type in the database before the batch.
    history: HashMap<&'static str, u64>,
}

impl Batch {
    fn new(len: usize) -> Batch {
        Batch {
            flags: vec![RecordFlags::default(); len],
            ids: Vec::with_capacity(len),
            sequence_scores: vec![None; len],
            windows: HashMap::new(),
            log_type_windows: HashMap::new(),
            scope_members: HashMap::new(),
            correlation_events: Vec::new(),
            new_in_batch: BTreeMap::new(),
            history: HashMap::new(),
        }
    }

    /// Whether a log type had enough history for anything in it to count as new or rare.
    fn established(&self, log_type: &str, min_history: u64) -> bool {
        self.history.get(log_type).copied().unwrap_or(0) >= min_history
    }
}

impl PatternAnalyzer {
    /// An analyzer continuing from a stored database (its templates keep their ids, its
    /// history feeds the trend judgement).
    pub fn new(config: AnalyzerConfig, db: PatternDb) -> Self {
        let mut text_miner = TemplateMiner::new(config.miner.clone());
        db.seed(&mut text_miner);
        let known = db.patterns.iter().map(|p| p.id).collect();
        let sequences = SequenceTracker::new(
            SequenceModel::new(config.sequence_order),
            config.max_entities,
        );
        let correlations = CorrelationTracker::new(config.correlation.clone());
        let delta = PatternDb::new(db.limits.clone());
        PatternAnalyzer {
            config,
            text_miner,
            structured: HashMap::new(),
            db,
            delta,
            known,
            sequences,
            correlations,
        }
    }

    /// The settings it runs with.
    pub fn config(&self) -> &AnalyzerConfig {
        &self.config
    }

    /// The database as known to this process: stored plus counted since.
    pub fn db(&self) -> &PatternDb {
        &self.db
    }

    /// Counts since the last call, to persist with `db::persist`.
    pub fn take_delta(&mut self) -> PatternDb {
        let limits = self.delta.limits.clone();
        std::mem::replace(&mut self.delta, PatternDb::new(limits))
    }

    /// What the sequence model learned since the last call, to persist with
    /// `sequence::persist`.
    pub fn take_sequence_delta(&mut self) -> SequenceModel {
        self.sequences.take_delta()
    }

    /// Puts back what a failed save took, so nothing learned is lost: the next save
    /// carries it.
    pub fn restore_deltas(&mut self, db: Option<&PatternDb>, sequences: &SequenceModel) {
        if let Some(db) = db {
            self.delta.merge(db);
        }
        self.sequences.restore_delta(sequences);
    }

    /// Adopts the sequence model as persisted (with other writers' counts merged in).
    pub fn replace_sequence_model(&mut self, model: SequenceModel) {
        self.sequences.model = model;
    }

    /// Adopts the database as persisted (with other writers' counts merged in) as the
    /// history for the next batches.
    pub fn replace_db(&mut self, db: PatternDb) {
        self.known.extend(db.patterns.iter().map(|p| p.id));
        for p in &db.patterns {
            self.text_miner.insert_template(p.id, &p.template, p.count);
        }
        self.db = db;
    }

    /// Correlated pairs found so far, strongest first, with their templates.
    pub fn correlated_pairs(&self) -> Vec<(String, String, u64, f64)> {
        self.correlations
            .correlated_pairs()
            .into_iter()
            .map(|p| {
                (
                    self.template_of(PatternId(p.a)),
                    self.template_of(PatternId(p.b)),
                    p.support,
                    p.lift,
                )
            })
            .collect()
    }

    fn template_of(&self, id: PatternId) -> String {
        if let Some(i) = self.text_miner.index_of(id) {
            return self
                .text_miner
                .cluster(self.text_miner.resolve(i))
                .template();
        }
        self.db
            .get(id)
            .map(|e| e.template.clone())
            .unwrap_or_default()
    }

    /// Analyzes a batch in place. Records without a time count at `now`.
    pub fn analyze(&mut self, records: &mut [Record], now: DateTime<Utc>) -> BatchSummary {
        let mut summary = BatchSummary {
            records: records.len(),
            ..Default::default()
        };
        if records.is_empty() {
            return summary;
        }
        let mut batch = self.observe(records, now);
        let trending = self.judge_frequency(&mut batch);
        self.judge_correlations(&mut batch, &mut summary);
        self.write_columns(records, &batch, &mut summary);
        self.trim(now);
        summary.new_patterns = std::mem::take(&mut batch.new_in_batch)
            .into_iter()
            .map(|(id, n)| (id.to_hex(), self.template_of(id), n))
            .collect();
        summary.trending = trending
            .into_iter()
            .map(|(id, f)| {
                let mut f: Vec<&'static str> = f.into_iter().collect();
                f.sort_unstable();
                (id.to_hex(), self.template_of(id), f)
            })
            .collect();
        summary
    }

    /// The first pass: every record's template (mined or by signature), recorded in the
    /// database and the delta, its sequence step and correlation scope; then the
    /// correlations that closed and the miner's merges.
    fn observe(&mut self, records: &[Record], now: DateTime<Utc>) -> Batch {
        let mut batch = Batch::new(records.len());
        // History per log type before this batch: novelty needs something to be new against.
        for record in records {
            let name = record.log_type.name();
            batch.history.entry(name).or_insert_with(|| {
                self.db
                    .log_types
                    .get(name)
                    .map_or(0, |w| w.iter().map(|x| x.1).sum())
            });
        }
        let window_seconds = self.db.limits.window_seconds;
        let mut latest = i64::MIN;
        for (i, record) in records.iter().enumerate() {
            let at = record.time.unwrap_or(now);
            latest = latest.max(at.timestamp());
            let message = message_of(record);
            let (id, miner_index) = if message.free_text {
                let a = self.text_miner.add(&message.text);
                (a.id, Some(a.index))
            } else {
                let id = *self
                    .structured
                    .entry(message.text.clone())
                    .or_insert_with(|| PatternId::of_signature(&message.text));
                (id, None)
            };
            batch.ids.push((id, miner_index));
            let log_type = record.log_type.name();
            if !self.known.contains(&id) {
                *batch.new_in_batch.entry(id).or_default() += 1;
                if batch.established(log_type, self.config.novelty_min_history) {
                    batch.flags[i].set(flags::NEW);
                }
            }
            let template = match miner_index {
                Some(index) => self.text_miner.cluster(index).template(),
                None => message.text.clone(),
            };
            self.db
                .record(id, &template, log_type, at, Some(&message.text));
            self.delta
                .record(id, &template, log_type, at, Some(&message.text));
            let window = window_start(at, window_seconds);
            batch.windows.entry((id, window)).or_default().push(i);
            batch
                .log_type_windows
                .entry((log_type, window))
                .or_default()
                .push(i);

            let entity = entity_of(record);
            if let Some(entity) = &entity {
                let fresh = self.sequences.entities() == 0 || !self.sequences.knows(entity);
                let s = self.sequences.observe(entity, id.0);
                batch.sequence_scores[i] = Some(s.score);
                if s.unseen && !fresh && s.support >= self.config.sequence_min_support {
                    batch.flags[i].set(flags::SEQUENCE);
                }
            }
            let scope = scope_of(record, entity.as_deref());
            let cw = at
                .timestamp()
                .div_euclid(self.correlations.config().window_seconds)
                * self.correlations.config().window_seconds;
            batch
                .scope_members
                .entry((scope.clone(), cw, id.0))
                .or_default()
                .push(i);
            for event in self.correlations.observe(&scope, id.0, at.timestamp()) {
                batch.correlation_events.push((Some(i), event));
            }
        }
        for event in self.correlations.close_before(latest) {
            batch.correlation_events.push((None, event));
        }
        self.known.extend(batch.new_in_batch.keys().copied());
        // Merges during the batch: fold the absorbed ids in the database and the delta.
        for (from, into) in self.text_miner.take_merges() {
            self.db.alias(from, into);
            self.delta.alias(from, into);
        }
        batch
    }

    /// Frequency: each template-window and log-type-window of the batch against its
    /// history (rare, spike, drop, rising); returns the trending templates.
    fn judge_frequency(&self, batch: &mut Batch) -> BTreeMap<PatternId, HashSet<&'static str>> {
        let window_seconds = self.db.limits.window_seconds;
        let n = self.config.trend_windows;
        let mut trending: BTreeMap<PatternId, HashSet<&'static str>> = BTreeMap::new();
        for (&(id, window), members) in &batch.windows {
            let id = self.db.canonical(id);
            let Some(entry) = self.db.get(id) else {
                continue;
            };
            let report = judge(
                &entry.windows,
                window,
                window_seconds,
                n,
                &self.config.trend,
            );
            let type_total: u64 = self
                .db
                .log_types
                .get(&entry.log_type)
                .map_or(0, |w| w.iter().map(|x| x.1).sum());
            let rare = entry.count <= self.config.rare_count
                || (type_total > 0
                    && (entry.count as f64) < self.config.rare_share * type_total as f64);
            let rare = rare && batch.established(&entry.log_type, self.config.novelty_min_history);
            for &m in members {
                if rare {
                    batch.flags[m].set(flags::RARE);
                }
                for f in report.flags() {
                    batch.flags[m].set(f.name());
                    trending.entry(id).or_default().insert(f.name());
                }
            }
        }
        for (&(log_type, window), members) in &batch.log_type_windows {
            let windows = self
                .db
                .log_types
                .get(log_type)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            let report = judge(windows, window, window_seconds, n, &self.config.trend);
            for &m in members {
                if report.spike {
                    batch.flags[m].set(flags::LOG_TYPE_SPIKE);
                }
                if report.drop {
                    batch.flags[m].set(flags::LOG_TYPE_DROP);
                }
                if report.rising {
                    batch.flags[m].set(flags::LOG_TYPE_RISING);
                }
            }
        }
        trending
    }

    /// Correlations that appeared or broke: flags on the records concerned and entries in
    /// the summary.
    fn judge_correlations(&self, batch: &mut Batch, summary: &mut BatchSummary) {
        for (at_record, event) in std::mem::take(&mut batch.correlation_events) {
            match event {
                CorrelationEvent::New(pair) => {
                    if let Some(i) = at_record {
                        batch.flags[i].set(flags::CORRELATION_NEW);
                    }
                    summary.new_correlations.push((
                        self.template_of(PatternId(pair.a)),
                        self.template_of(PatternId(pair.b)),
                        pair.support,
                        pair.lift,
                    ));
                }
                CorrelationEvent::Broken {
                    scope,
                    window,
                    present,
                    missing,
                    ..
                } => {
                    if let Some(members) =
                        batch.scope_members.get(&(scope.clone(), window, present))
                    {
                        for &m in members {
                            batch.flags[m].set(flags::CORRELATION_BROKEN);
                        }
                    }
                    summary.broken_correlations.push((
                        scope,
                        self.template_of(PatternId(present)),
                        self.template_of(PatternId(missing)),
                    ));
                }
            }
        }
    }

    /// The pattern columns, with each template's final form after the batch.
    fn write_columns(&self, records: &mut [Record], batch: &Batch, summary: &mut BatchSummary) {
        let miner = &self.text_miner;
        let mut templates: HashMap<PatternId, (String, String)> = HashMap::new();
        let mut distinct = HashSet::new();
        for (i, record) in records.iter_mut().enumerate() {
            let (id, index) = batch.ids[i];
            let id = match index {
                Some(index) => miner.cluster(miner.resolve(index)).id,
                None => id,
            };
            distinct.insert(id);
            let (hex, template) = templates
                .entry(id)
                .or_insert_with(|| {
                    let t = match index {
                        Some(index) => miner.cluster(miner.resolve(index)).template(),
                        None => self
                            .db
                            .get(id)
                            .map(|e| e.template.clone())
                            .unwrap_or_default(),
                    };
                    (id.to_hex(), t)
                })
                .clone();
            record.set(columns::PATTERN_ID, hex);
            record.set(columns::PATTERN_TEMPLATE, template);
            let names: Vec<&str> = batch.flags[i].names().collect();
            for name in &names {
                *summary.flag_counts.entry(name).or_default() += 1;
            }
            record.set(columns::PATTERN_FLAGS, Value::Json(flags_json(&names)));
            if let Some(score) = batch.sequence_scores[i] {
                record.set(columns::SEQUENCE_SCORE, score);
            }
        }
        summary.patterns = distinct.len();
    }
}

impl PatternAnalyzer {
    /// Past the in-memory bound: evict the database to its limit and rebuild the miner
    /// from it (ids are kept; only evicted templates are forgotten).
    fn trim(&mut self, now: DateTime<Utc>) {
        let in_memory = self.text_miner.live_clusters().count() + self.structured.len();
        if in_memory <= self.config.max_templates_in_memory {
            return;
        }
        self.db.evict(now);
        self.text_miner = TemplateMiner::new(self.config.miner.clone());
        self.db.seed(&mut self.text_miner);
        self.structured.clear();
        self.known = self.db.patterns.iter().map(|p| p.id).collect();
    }
}

/// Trend verdict for the window starting at `window`, from the counts stored so far
/// (which include the batch).
fn judge(
    windows: &[(i64, u64)],
    window: i64,
    window_seconds: i64,
    n: usize,
    config: &TrendConfig,
) -> TrendReport {
    let past = history(windows, window - window_seconds, window_seconds, n);
    // Only the stretch since the first sighting is history; before it nothing existed.
    let first = windows.first().map_or(window, |w| w.0);
    let skip = past
        .iter()
        .enumerate()
        .position(|(k, _)| window - (n - k) as i64 * window_seconds >= first)
        .unwrap_or(past.len());
    let current = windows
        .binary_search_by_key(&window, |w| w.0)
        .map_or(0, |i| windows[i].1);
    assess(&past[skip..], current, config)
}

fn flags_json(names: &[&str]) -> Box<RawValue> {
    let text = serde_json::to_string(names).expect("flag names serialize");
    RawValue::from_string(text).expect("valid JSON")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::LogType;
    use chrono::{Duration, TimeZone};

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap()
    }

    fn text(message: &str, at: DateTime<Utc>) -> Record {
        let mut r = Record::new(LogType::Text);
        r.time = Some(at);
        r.push("Message", message);
        r
    }

    fn flags_of(r: &Record) -> Vec<String> {
        serde_json::from_str(r.get_str("PatternFlags").unwrap()).unwrap()
    }

    #[test]
    fn nothing_is_new_or_rare_before_the_log_type_has_history() {
        let config = AnalyzerConfig {
            novelty_min_history: 10,
            ..AnalyzerConfig::default()
        };
        let mut a = PatternAnalyzer::new(config, PatternDb::default());
        let mut first: Vec<Record> = (0..10)
            .map(|i| text(&format!("Starting worker {i}"), t0()))
            .collect();
        a.analyze(&mut first, t0());
        assert!(
            first.iter().all(|r| flags_of(r).is_empty()),
            "{:?}",
            flags_of(&first[0])
        );
        let mut later = vec![text(
            "Kernel panic - not syncing: Fatal exception",
            t0() + Duration::hours(1),
        )];
        let summary = a.analyze(&mut later, t0() + Duration::hours(1));
        assert_eq!(summary.new_patterns.len(), 1);
        let flags = flags_of(&later[0]);
        assert!(flags.contains(&"new".to_string()), "{flags:?}");
        assert!(flags.contains(&"rare".to_string()), "{flags:?}");
    }

    #[test]
    fn records_gain_pattern_columns_and_ids_persist_across_batches() {
        let config = AnalyzerConfig {
            novelty_min_history: 0,
            ..AnalyzerConfig::default()
        };
        let mut a = PatternAnalyzer::new(config.clone(), PatternDb::default());
        let mut batch = vec![
            text(
                "Receiving block blk_1 src: /10.0.0.1:5 dest: /10.0.0.2:50010",
                t0(),
            ),
            text(
                "Receiving block blk_2 src: /10.0.0.3:6 dest: /10.0.0.4:50010",
                t0(),
            ),
            text("Deleting block blk_1 file /data/blk_1", t0()),
        ];
        let summary = a.analyze(&mut batch, t0());
        assert_eq!(summary.records, 3);
        assert_eq!(summary.patterns, 2);
        assert_eq!(summary.new_patterns.len(), 2);
        assert_eq!(
            batch[0].get_str("PatternTemplate"),
            Some("Receiving block <*> src: <*> dest: <*>")
        );
        assert_eq!(batch[0].get_str("PatternId"), batch[1].get_str("PatternId"));
        assert!(flags_of(&batch[0]).contains(&"new".to_string()));
        // blk_1 is an entity: its second event has a sequence score.
        assert!(batch[2].get("SequenceScore").is_some());

        let delta = a.take_delta();
        assert_eq!(delta.patterns.iter().map(|p| p.count).sum::<u64>(), 3);
        // A new process continuing from the persisted database keeps the ids.
        let mut db = PatternDb::default();
        db.merge(&delta);
        let mut b = PatternAnalyzer::new(config, db);
        let mut again = vec![text(
            "Deleting block blk_9 file /data/blk_9",
            t0() + Duration::hours(1),
        )];
        let summary = b.analyze(&mut again, t0());
        assert!(summary.new_patterns.is_empty());
        assert_eq!(again[0].get_str("PatternId"), batch[2].get_str("PatternId"));
        assert!(!flags_of(&again[0]).contains(&"new".to_string()));
    }

    #[test]
    fn a_burst_of_one_template_is_a_spike() {
        let mut a = PatternAnalyzer::new(AnalyzerConfig::default(), PatternDb::default());
        for hour in 0..8 {
            let at = t0() + Duration::hours(hour);
            let mut batch: Vec<Record> = (0..10)
                .map(|i| text(&format!("heartbeat ok seq {i}"), at))
                .collect();
            batch.push(text("login failed for user", at));
            let s = a.analyze(&mut batch, at);
            assert!(!s.flag_counts.contains_key("spike"), "hour {hour}: {s:?}");
        }
        let at = t0() + Duration::hours(8);
        let mut burst: Vec<Record> = (0..60).map(|_| text("login failed for user", at)).collect();
        burst.push(text("heartbeat ok seq 1", at));
        let s = a.analyze(&mut burst, at);
        assert!(flags_of(&burst[0]).contains(&"spike".to_string()), "{s:?}");
        assert!(!flags_of(&burst[60]).contains(&"spike".to_string()));
        assert_eq!(s.trending.len(), 1);
        assert_eq!(s.trending[0].1, "login failed for user");
    }

    #[test]
    fn unusual_order_for_an_entity_is_flagged() {
        let mut a = PatternAnalyzer::new(AnalyzerConfig::default(), PatternDb::default());
        // The usual life of a block: receiving, received, deleted.
        let block = |b: u32| {
            [
                format!("Receiving block blk_{b} src: /1.1.1.1:1 dest: /1.1.1.2:2"),
                format!("Received block blk_{b} of size 5 from /1.1.1.1"),
                format!("Deleting block blk_{b} file /d/blk_{b}"),
            ]
        };
        let records =
            |messages: &[&str]| -> Vec<Record> { messages.iter().map(|m| text(m, t0())).collect() };
        let mut batch = Vec::new();
        for b in 0..20 {
            batch.extend(block(b).iter().map(|m| text(m, t0())));
        }
        a.analyze(&mut batch, t0());
        // Deleted right after being received, without the usual "Received".
        let [receiving, _, deleting] = block(99);
        let mut odd = records(&[&receiving, &deleting]);
        a.analyze(&mut odd, t0());
        assert!(flags_of(&odd[1]).contains(&"sequence".to_string()));
        assert_eq!(
            odd[1].get("SequenceScore").and_then(Value::as_f64),
            Some(1.0)
        );
        let [receiving, received, _] = block(100);
        let mut normal = records(&[&receiving, &received]);
        a.analyze(&mut normal, t0());
        assert!(!flags_of(&normal[1]).contains(&"sequence".to_string()));
    }

    fn console_login(ip: &str, outcome: &str, at: DateTime<Utc>) -> Record {
        let mut r = Record::new(LogType::CloudTrail);
        r.time = Some(at);
        r.push("EventSource", "signin.amazonaws.com");
        r.push("EventName", "ConsoleLogin");
        r.push(
            "ResponseElements",
            format!(r#"{{"ConsoleLogin":"{outcome}"}}"#),
        );
        r.push("UserIdentityType", "IAMUser");
        r.push("UserIdentityArn", format!("arn:aws:iam::1:user/{ip}"));
        r.push("SourceIpAddress", ip);
        r
    }

    fn describe(ip: &str, at: DateTime<Utc>) -> Record {
        let mut r = Record::new(LogType::CloudTrail);
        r.time = Some(at);
        r.push("EventSource", "ec2.amazonaws.com");
        r.push("EventName", "DescribeInstances");
        r.push("UserIdentityType", "AssumedRole");
        r.push("SourceIpAddress", ip);
        r
    }

    #[test]
    fn failed_logins_then_success_from_one_source_become_a_correlation() {
        let mut a = PatternAnalyzer::new(AnalyzerConfig::default(), PatternDb::default());
        let mut batch = Vec::new();
        for k in 0..8 {
            let at = t0() + Duration::minutes(10 * k);
            let ip = format!("198.51.100.{k}");
            for _ in 0..3 {
                batch.push(console_login(&ip, "Failure", at));
            }
            batch.push(console_login(&ip, "Success", at + Duration::seconds(20)));
            for j in 0..4 {
                batch.push(describe(&format!("10.0.{k}.{j}"), at));
            }
        }
        let summary = a.analyze(&mut batch, t0());
        let templates: Vec<&str> = batch
            .iter()
            .filter_map(|r| r.get_str("PatternTemplate"))
            .collect();
        assert!(templates.contains(
            &"CloudTrail signin.amazonaws.com ConsoleLogin outcome=Failure identity=IAMUser"
        ));
        assert_eq!(summary.new_correlations.len(), 1, "{summary:?}");
        let (x, y, support, lift) = &summary.new_correlations[0];
        assert!(x.contains("ConsoleLogin") && y.contains("ConsoleLogin"));
        assert!(*support >= 5 && *lift > 2.0);
        assert!(
            summary
                .flag_counts
                .get("correlation-new")
                .copied()
                .unwrap_or(0)
                >= 1
        );
        assert_eq!(a.correlated_pairs().len(), 1);
        // A failure burst without the usual success afterwards breaks the correlation.
        let at = t0() + Duration::hours(2);
        let mut lone = vec![console_login("203.0.113.9", "Failure", at)];
        a.analyze(&mut lone, at);
        let mut later = vec![describe("10.9.9.9", at + Duration::minutes(30))];
        let summary = a.analyze(&mut later, at);
        assert_eq!(summary.broken_correlations.len(), 1, "{summary:?}");
        assert_eq!(summary.broken_correlations[0].0, "203.0.113.9");
    }

    #[test]
    fn memory_stays_bounded() {
        let config = AnalyzerConfig {
            max_templates_in_memory: 50,
            db_limits: DbLimits {
                max_patterns: 20,
                ..DbLimits::default()
            },
            ..AnalyzerConfig::default()
        };
        let db = PatternDb::new(config.db_limits.clone());
        let mut a = PatternAnalyzer::new(config, db);
        let words = [
            "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
        ];
        for i in 0..words.len() {
            for j in 0..words.len() {
                let mut batch = vec![text(
                    &format!("{} {} kind of line", words[i], words[j]),
                    t0(),
                )];
                a.analyze(&mut batch, t0());
            }
        }
        assert!(a.db().len() <= 50);
        assert!(a.text_miner.live_clusters().count() <= 50);
    }

    #[test]
    fn empty_batches_are_fine() {
        let mut a = PatternAnalyzer::new(AnalyzerConfig::default(), PatternDb::default());
        assert_eq!(a.analyze(&mut [], t0()), BatchSummary::default());
    }
}

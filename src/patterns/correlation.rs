//! Correlation analysis: which items (template ids) occur together within a window of
//! one scope (an entity such as a source address or principal, or the whole log) more
//! often than chance says.
//!
//! Time is cut into windows per scope. For every scope-window the tracker notes which
//! items occurred; a pair's *support* is the number of scope-windows holding both, its
//! *lift* `support · windows / (windows(a) · windows(b))` how much more often they meet
//! than if independent, and its confidences `P(b | a)` and `P(a | b)`. A pair with enough
//! support and lift is *correlated*, and reported once as [`CorrelationEvent::New`] when
//! it first becomes so. A correlated pair with a high confidence one way is *known
//! normal* in that direction; a closing scope-window where `a` occurred without its
//! usual companion `b` yields [`CorrelationEvent::Broken`].
//!
//! Memory is bounded: at most `max_items_per_window` items of a window are paired, and
//! past `max_pairs` the pairs seen together only once are forgotten.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use smart_default::SmartDefault;

#[derive(Debug, Clone, PartialEq, SmartDefault)]
pub struct CorrelationConfig {
    #[default(300)]
    pub window_seconds: i64,
    #[default(5)]
    pub min_support: u64,
    #[default(2.0)]
    pub min_lift: f64,
    /// Confidence above which a correlated pair is expected to hold, so its absence is a
    /// break.
    #[default(0.9)]
    pub min_confidence: f64,
    #[default(32)]
    pub max_items_per_window: usize,
    #[default(100_000)]
    pub max_pairs: usize,
    #[default(50_000)]
    pub max_open_windows: usize,
}

/// A correlated pair with its strength.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CorrelatedPair {
    pub a: u64,
    pub b: u64,
    pub support: u64,
    pub lift: f64,
    /// `P(b | a)`.
    pub confidence_ab: f64,
    /// `P(a | b)`.
    pub confidence_ba: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CorrelationEvent {
    /// The pair just became correlated.
    New(CorrelatedPair),
    /// `present` occurred in a window of `scope` without `missing`, which follows it with
    /// high confidence.
    Broken {
        scope: String,
        window: i64,
        present: u64,
        missing: u64,
        confidence: f64,
    },
}

#[derive(Debug, Clone, Copy, Default)]
struct PairStats {
    support: u64,
    reported: bool,
}

#[derive(Debug, Default)]
struct OpenWindow {
    start: i64,
    items: Vec<u64>,
}

#[derive(Debug, Default)]
pub struct CorrelationTracker {
    config: CorrelationConfig,
    windows: u64,
    item_windows: HashMap<u64, u64>,
    pairs: HashMap<(u64, u64), PairStats>,
    /// For each item, the items it is known to be correlated with.
    partners: HashMap<u64, Vec<u64>>,
    open: HashMap<String, OpenWindow>,
}

impl CorrelationTracker {
    pub fn new(config: CorrelationConfig) -> Self {
        CorrelationTracker {
            config,
            ..Default::default()
        }
    }

    pub fn config(&self) -> &CorrelationConfig {
        &self.config
    }

    /// Notes `item` in `scope` at `time` (epoch seconds). Returns the events this causes:
    /// breaks found in the scope's previous window (closed by this later event) and pairs
    /// that became correlated.
    pub fn observe(&mut self, scope: &str, item: u64, time: i64) -> Vec<CorrelationEvent> {
        let start = time.div_euclid(self.config.window_seconds) * self.config.window_seconds;
        let mut events = Vec::new();
        let reopen = match self.open.get(scope) {
            Some(w) => w.start != start,
            None => true,
        };
        if reopen {
            if let Some(old) = self.open.remove(scope) {
                self.close(scope, old, &mut events);
            } else if self.open.len() >= self.config.max_open_windows {
                self.close_oldest(&mut events);
            }
            self.windows += 1;
            self.open.insert(
                scope.to_string(),
                OpenWindow {
                    start,
                    items: Vec::new(),
                },
            );
        }
        let window = self.open.get_mut(scope).expect("window just opened");
        if window.items.contains(&item) {
            return events;
        }
        *self.item_windows.entry(item).or_default() += 1;
        if window.items.len() < self.config.max_items_per_window {
            let others: Vec<u64> = window.items.clone();
            window.items.push(item);
            for other in others {
                let key = ordered(item, other);
                let stats = self.pairs.entry(key).or_default();
                stats.support += 1;
                if !stats.reported
                    && let Some(pair) = self.describe(key)
                    && pair.support >= self.config.min_support
                    && pair.lift >= self.config.min_lift
                {
                    self.pairs.get_mut(&key).expect("pair").reported = true;
                    self.partners.entry(key.0).or_default().push(key.1);
                    self.partners.entry(key.1).or_default().push(key.0);
                    events.push(CorrelationEvent::New(pair));
                }
            }
            if self.pairs.len() > self.config.max_pairs {
                self.pairs.retain(|_, s| s.support > 1 || s.reported);
            }
        }
        events
    }

    /// Closes every open window that ended before `time` (call at the end of a batch with
    /// the latest time seen, so breaks are reported without waiting for the next event).
    pub fn close_before(&mut self, time: i64) -> Vec<CorrelationEvent> {
        let mut events = Vec::new();
        let ended: Vec<String> = self
            .open
            .iter()
            .filter(|(_, w)| w.start + self.config.window_seconds <= time)
            .map(|(s, _)| s.clone())
            .collect();
        for scope in ended {
            if let Some(w) = self.open.remove(&scope) {
                self.close(&scope, w, &mut events);
            }
        }
        events
    }

    fn close_oldest(&mut self, events: &mut Vec<CorrelationEvent>) {
        if let Some(scope) = self
            .open
            .iter()
            .min_by_key(|(_, w)| w.start)
            .map(|(s, _)| s.clone())
            && let Some(w) = self.open.remove(&scope)
        {
            self.close(&scope, w, events);
        }
    }

    fn close(&self, scope: &str, window: OpenWindow, events: &mut Vec<CorrelationEvent>) {
        let present: HashSet<u64> = window.items.iter().copied().collect();
        for &a in &window.items {
            let Some(partners) = self.partners.get(&a) else {
                continue;
            };
            for &b in partners {
                if present.contains(&b) {
                    continue;
                }
                let Some(pair) = self.describe(ordered(a, b)) else {
                    continue;
                };
                // The confidence held before this window, which is already counted
                // with `a` and without `b`.
                let windows_with_a = self.item_windows.get(&a).copied().unwrap_or(1);
                let confidence =
                    pair.support as f64 / windows_with_a.saturating_sub(1).max(1) as f64;
                if confidence >= self.config.min_confidence {
                    events.push(CorrelationEvent::Broken {
                        scope: scope.to_string(),
                        window: window.start,
                        present: a,
                        missing: b,
                        confidence,
                    });
                }
            }
        }
    }

    fn describe(&self, key: (u64, u64)) -> Option<CorrelatedPair> {
        let stats = self.pairs.get(&key)?;
        let na = *self.item_windows.get(&key.0)? as f64;
        let nb = *self.item_windows.get(&key.1)? as f64;
        let support = stats.support as f64;
        Some(CorrelatedPair {
            a: key.0,
            b: key.1,
            support: stats.support,
            lift: support * self.windows as f64 / (na * nb),
            confidence_ab: support / na,
            confidence_ba: support / nb,
        })
    }

    /// Correlated pairs, strongest (by lift, then support) first.
    pub fn correlated_pairs(&self) -> Vec<CorrelatedPair> {
        let mut pairs: Vec<CorrelatedPair> = self
            .pairs
            .keys()
            .filter_map(|&k| self.describe(k))
            .filter(|p| p.support >= self.config.min_support && p.lift >= self.config.min_lift)
            .collect();
        pairs.sort_by(|x, y| {
            y.lift
                .total_cmp(&x.lift)
                .then(y.support.cmp(&x.support))
                .then((x.a, x.b).cmp(&(y.a, y.b)))
        });
        pairs
    }
}

fn ordered(a: u64, b: u64) -> (u64, u64) {
    if a <= b { (a, b) } else { (b, a) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAIL: u64 = 1;
    const SUCCESS: u64 = 2;
    const NOISE: u64 = 3;

    fn tracker() -> CorrelationTracker {
        CorrelationTracker::new(CorrelationConfig {
            window_seconds: 60,
            min_support: 3,
            ..CorrelationConfig::default()
        })
    }

    #[test]
    fn pairs_meeting_more_than_chance_are_reported_once() {
        let mut t = tracker();
        let mut new = Vec::new();
        for i in 0..20i64 {
            let source = format!("10.0.0.{}", i % 4);
            let at = i * 60;
            if i % 4 == 0 {
                new.extend(t.observe(&source, FAIL, at));
                new.extend(t.observe(&source, SUCCESS, at + 5));
            } else {
                new.extend(t.observe(&source, NOISE, at));
            }
        }
        let reported: Vec<_> = new
            .iter()
            .filter_map(|e| match e {
                CorrelationEvent::New(p) => Some((p.a, p.b)),
                _ => None,
            })
            .collect();
        assert_eq!(reported, vec![(FAIL, SUCCESS)]);
        let pairs = t.correlated_pairs();
        assert_eq!(pairs.len(), 1);
        assert_eq!(pairs[0].support, 5);
        assert!(pairs[0].lift >= 3.9, "{:?}", pairs[0]);
        assert_eq!(pairs[0].confidence_ab, 1.0);
    }

    #[test]
    fn a_known_pair_missing_its_partner_is_a_break() {
        let mut t = tracker();
        for i in 0..10i64 {
            t.observe("s", FAIL, i * 60);
            t.observe("s", SUCCESS, i * 60 + 1);
            for other in ["x", "y", "z"] {
                t.observe(other, NOISE, i * 60);
            }
        }
        // FAIL alone in a window.
        let mut events = t.observe("s", FAIL, 10 * 60);
        events.extend(t.close_before(12 * 60));
        let breaks: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                CorrelationEvent::Broken {
                    present, missing, ..
                } => Some((*present, *missing)),
                _ => None,
            })
            .collect();
        assert_eq!(breaks, vec![(FAIL, SUCCESS)]);
    }

    #[test]
    fn independent_items_are_not_correlated() {
        let mut t = tracker();
        // Both items in every window: lift 1.
        for i in 0..20i64 {
            t.observe("s", FAIL, i * 60);
            t.observe("s", NOISE, i * 60);
        }
        assert!(t.correlated_pairs().is_empty());
    }
}

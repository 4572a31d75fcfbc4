//! `PriorityScore` and `Priority`: how urgently an analyst should look at a record.
//!
//! ```text
//! severity      = Σ P(category) · weight(category)
//!                 weights: critical_security 1.0, system_error 0.55, performance 0.4, normal 0.05
//! severity      = max(severity, rule severity)     rule severity by the matched rules'
//!                 effective level (`detection::effective_level`), one lower again for
//!                 a failed call: low 0.35, medium 0.6, high 0.8, critical 0.95
//! PriorityScore = severity + (1 − severity) · 0.5 · AnomalyScore
//! ```
//!
//! A detection rule that matches sets a floor: a high-level match is Critical whatever the
//! models say, because a rule is knowledge someone wrote down about exactly this call;
//! unless the call is the principal's routine ([`ROUTINE_RULE_LEVELS`]) or failed.
//! The classifier says what a record is about, the anomaly score how unusual it is; an
//! unusual record of any category moves up, but unusualness alone (a normal-looking
//! category) stays below High. Bands: Critical ≥ 0.8 (the default alert threshold),
//! High ≥ 0.6, Medium ≥ 0.35, Low below.

use crate::detection::Level;
use crate::ml::Category;
use crate::record::display_as_name;

pub const CATEGORY_WEIGHTS: [f64; 4] = [1.0, 0.55, 0.4, 0.05];
/// Share of the remaining headroom an anomaly score of 1 adds.
pub const ANOMALY_WEIGHT: f64 = 0.5;

/// Band of a record's `PriorityScore`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum Priority {
    /// Below 0.35.
    Low,
    /// 0.35 to below 0.6.
    Medium,
    /// 0.6 to below 0.8.
    High,
    /// 0.8 and above: the default alert threshold.
    Critical,
}

impl Priority {
    /// The band of a priority score.
    pub fn from_score(score: f64) -> Priority {
        if score >= 0.8 {
            Priority::Critical
        } else if score >= 0.6 {
            Priority::High
        } else if score >= 0.35 {
            Priority::Medium
        } else {
            Priority::Low
        }
    }

    /// The band's name, as written in the `Priority` column.
    pub fn name(self) -> &'static str {
        match self {
            Priority::Low => "Low",
            Priority::Medium => "Medium",
            Priority::High => "High",
            Priority::Critical => "Critical",
        }
    }
}

display_as_name!(Priority);

/// The severity floor a detection rule match of this (effective) level sets.
pub fn rule_severity(level: Option<Level>) -> f64 {
    match level {
        None | Some(Level::Informational) => 0.0,
        Some(Level::Low) => 0.35,
        Some(Level::Medium) => 0.6,
        Some(Level::High) => 0.8,
        Some(Level::Critical) => 0.95,
    }
}

pub use crate::behaviour::behaviour_severity;

/// What a record's scores are made of besides the models' outputs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Evidence {
    /// Effective level of the detection rules the record matched.
    pub rule_level: Option<Level>,
    /// [`behaviour_severity`] of its behaviour flags.
    pub behaviour: f64,
    /// The source itself marks the record fatal (a text line at level FATAL, CRITICAL,
    /// EMERG, FAILURE, ...): a system error at least, whatever the classifier learned.
    pub source_fatal: bool,
    /// A warm principal's routine call (no behaviour flag at all): the classifier, which
    /// judges the kind of call, counts for [`ROUTINE_WEIGHT`] of itself.
    pub routine: bool,
    /// An API call that failed (CloudTrail `errorCode`): the classifier, which judges the
    /// kind of call, counts for [`FAILED_WEIGHT`] of itself.
    pub failed_call: bool,
}

impl Evidence {
    /// The evidence of a record from its rule matches and behaviour flags (`None`: not
    /// analyzed) and whether its source marks it fatal.
    pub fn of(
        record: &crate::record::Record,
        matches: &[&crate::detection::Rule],
        flags: Option<&[crate::behaviour::Flag]>,
        source_fatal: bool,
    ) -> Evidence {
        Evidence {
            rule_level: crate::detection::effective_level(record, matches),
            behaviour: behaviour_severity(flags.unwrap_or(&[])),
            routine: flags.is_some_and(<[_]>::is_empty),
            failed_call: failed_call(record),
            source_fatal,
        }
    }
}

/// What the classifier's severity counts for on a principal's routine call. The
/// classifier judges what kind of call a record is; a principal that makes this call all
/// the time, from its usual network, client and region, at its usual hours, is the
/// common benign case it over-rates (an owner's own teardown of what it built).
pub const ROUTINE_WEIGHT: f64 = 0.5;

/// Levels a rule match loses on a principal's routine call: one it has made before, from
/// its usual network, client and region, at its usual hours (no behaviour flag at all).
/// A deployment role that updates function code or tears down test stacks every day
/// matches the same rules every day; the same call from a new address, client or at an
/// odd hour, or the principal's first such call, keeps its rule's full level.
pub const ROUTINE_RULE_LEVELS: usize = 2;

/// What the classifier's severity counts for on a call that failed. A denied attempt to
/// delete a detector or a bucket tells less than one that succeeded (SigmaHQ's rules for
/// such calls require `errorCode` to be absent); a run of denials is the behaviour
/// stage's `denied_burst`, and a failed sign-in has no error code. At 0.6 a refused
/// `DeleteDetector` still outranked most successful matches of medium-level rules: the
/// rule tests' ROC-AUC went from 0.848 to 0.871 at 0.35.
pub const FAILED_WEIGHT: f64 = 0.35;

/// Whether a record is an API call that failed: a CloudTrail event with an `errorCode`.
/// S3 access log denials are not discounted: there a denied request is the signal.
pub fn failed_call(record: &crate::record::Record) -> bool {
    record.log_type == crate::record::LogType::CloudTrail
        && record
            .get_str("ErrorCode")
            .is_some_and(|code| !code.trim().is_empty())
}

/// The level a record's rule matches count for in its priority. `effective_level` already
/// took a failed call one level down; the priority takes it one more, under every
/// successful match of the level below (a refused attempt changed nothing, and a run of
/// refusals is `denied_burst`), and a routine call [`ROUTINE_RULE_LEVELS`] more.
fn rule_level(evidence: Evidence) -> Option<Level> {
    let lowerings = usize::from(evidence.failed_call)
        + if evidence.routine {
            ROUTINE_RULE_LEVELS
        } else {
            0
        };
    let level = evidence.rule_level?;
    Some((0..lowerings).fold(level, |level, _| level.lower()))
}

/// `probabilities` in [`Category::ALL`] order.
pub fn priority_score(probabilities: &[f32], anomaly: f64, evidence: Evidence) -> f64 {
    let routine = if evidence.routine {
        ROUTINE_WEIGHT
    } else {
        1.0
    } * if evidence.failed_call {
        FAILED_WEIGHT
    } else {
        1.0
    };
    let severity: f64 = (probabilities
        .iter()
        .zip(CATEGORY_WEIGHTS)
        .map(|(p, w)| *p as f64 * w)
        .sum::<f64>()
        * routine)
        .max(if evidence.source_fatal {
            CATEGORY_WEIGHTS[Category::SystemError.index()]
        } else {
            0.0
        })
        .max(rule_severity(rule_level(evidence)))
        .max(evidence.behaviour)
        .clamp(0.0, 1.0);
    (severity + (1.0 - severity) * ANOMALY_WEIGHT * anomaly.clamp(0.0, 1.0)).clamp(0.0, 1.0)
}

/// The category of a record: the classifier's most likely one, except that a record its
/// source marks fatal is a system error at least (with the classifier's probability of
/// that). The source's own word is knowledge; the classifier learned text from generated
/// lines and calls many real FATAL lines normal (BGL: 216 of 347).
pub fn category_of(probabilities: &[f32], source_fatal: bool) -> (Category, f64) {
    let (category, p) = top_category(probabilities);
    if source_fatal && matches!(category, Category::Normal | Category::Performance) {
        let i = Category::SystemError.index();
        (Category::SystemError, probabilities[i] as f64)
    } else {
        (category, p)
    }
}

/// The most likely category and its probability.
pub fn top_category(probabilities: &[f32]) -> (Category, f64) {
    let (i, p) = probabilities
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, p)| (i, *p as f64))
        .unwrap_or((Category::Normal.index(), 0.0));
    (Category::from_index(i).unwrap_or(Category::Normal), p)
}

/// Everything the models say about one record.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordScores {
    pub anomaly_score: f64,
    pub is_anomaly: bool,
    /// The threshold `is_anomaly` was decided with.
    pub anomaly_threshold: f64,
    pub category: Category,
    pub category_confidence: f64,
    /// Probabilities in [`Category::ALL`] order.
    pub probabilities: [f64; 4],
    pub priority_score: f64,
    pub priority: Priority,
    /// The detection rules the record matched, highest level first.
    pub detections: Vec<Detected>,
    /// Feature slots behind the scores, strongest first.
    pub reason_slots: Vec<usize>,
}

/// A detection rule a record matched.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Detected {
    /// The rule's id.
    pub id: String,
    /// The rule's title.
    pub title: String,
    /// The rule's own level (before the discounts of `detection::effective_level`).
    pub level: Level,
}

impl From<&crate::detection::Rule> for Detected {
    fn from(rule: &crate::detection::Rule) -> Self {
        Detected {
            id: rule.id.clone(),
            title: rule.title.clone(),
            level: rule.level,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::behaviour::Flag;

    fn rule(level: Level) -> Evidence {
        Evidence {
            rule_level: Some(level),
            ..Evidence::default()
        }
    }

    #[test]
    fn behaviour_flags_add_up_without_passing_one() {
        assert_eq!(behaviour_severity(&[]), 0.0);
        let one = behaviour_severity(&[Flag::NewApi]);
        let two = behaviour_severity(&[Flag::NewApi, Flag::NewAddress]);
        assert!(two > one && two < 1.0);
        let burst = behaviour_severity(&[Flag::CredentialBurst, Flag::NewApi]);
        assert_eq!(Priority::from_score(burst), Priority::High);
    }

    #[test]
    fn bands_and_formula() {
        assert_eq!(Priority::from_score(0.85), Priority::Critical);
        assert_eq!(Priority::from_score(0.8), Priority::Critical);
        assert_eq!(Priority::from_score(0.7), Priority::High);
        assert_eq!(Priority::from_score(0.4), Priority::Medium);
        assert_eq!(Priority::from_score(0.1), Priority::Low);
        // Certain critical: 1 whatever the anomaly.
        assert!(
            (priority_score(&[1.0, 0.0, 0.0, 0.0], 0.0, Evidence::default()) - 1.0).abs() < 1e-9
        );
        // Certain normal and maximally unusual: Medium at most.
        let p = priority_score(&[0.0, 0.0, 0.0, 1.0], 1.0, Evidence::default());
        assert!((p - (0.05 + 0.95 * 0.5)).abs() < 1e-9);
        assert_eq!(Priority::from_score(p), Priority::Medium);
        assert!(priority_score(&[0.0, 0.0, 0.0, 1.0], 0.0, Evidence::default()) < 0.1);
        let normal = [0.0, 0.0, 0.0, 1.0];
        let critical = [1.0, 0.0, 0.0, 0.0];
        let routine = Evidence {
            routine: true,
            ..Evidence::default()
        };
        let failed = Evidence {
            failed_call: true,
            ..Evidence::default()
        };
        for (case, probabilities, evidence, expected) in [
            (
                "a high-level rule match even when the models call it normal",
                normal,
                rule(Level::High),
                Priority::Critical,
            ),
            (
                "a low-level rule match",
                normal,
                rule(Level::Low),
                Priority::Medium,
            ),
            // A warm principal's routine call: neither the classifier nor a rule reaches
            // High alone; the first such call, or one with any behaviour flag, does.
            ("a routine call", critical, routine, Priority::Medium),
            (
                "a routine call matching a high rule",
                critical,
                Evidence {
                    rule_level: Some(Level::High),
                    ..routine
                },
                Priority::Medium,
            ),
            (
                "a routine call matching a critical rule",
                normal,
                Evidence {
                    rule_level: Some(Level::Critical),
                    ..routine
                },
                Priority::High,
            ),
            // A failed call ranks below the same call succeeding, and below a successful
            // match of the level under its rule's (SigmaHQ's rules require success).
            ("a failed call", critical, failed, Priority::Medium),
            (
                "a failed call matching a rule (already one level down)",
                normal,
                Evidence {
                    rule_level: Some(Level::Medium),
                    ..failed
                },
                Priority::Medium,
            ),
            (
                "a successful call matching a rule of that level",
                normal,
                rule(Level::Medium),
                Priority::High,
            ),
            (
                "a failed routine call",
                critical,
                Evidence {
                    routine: true,
                    ..failed
                },
                Priority::Low,
            ),
        ] {
            let p = priority_score(&probabilities, 0.0, evidence);
            assert_eq!(Priority::from_score(p), expected, "{case}: {p}");
        }
        assert_eq!(
            top_category(&[0.1, 0.2, 0.6, 0.1]),
            (Category::Performance, 0.6000000238418579)
        );
    }
}

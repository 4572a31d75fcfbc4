//! The knowledge slots of a CloudTrail feature row (`ct_rule_level`, `ct_behaviour`): what
//! the detection rules the model set carries and the principal's behaviour flags say about
//! the record, filled the same way for training and for inference so the classifier learns
//! from them what it later reads.

use crate::behaviour::{self, Flag};
use crate::detection::{self, Level, Rule, RulePack};
use crate::features::F;
use crate::record::{LogType, Record};

/// The knowledge slots' names, as in the feature schema.
pub const SLOT_NAMES: [&str; 2] = ["ct_rule_level", "ct_behaviour"];

/// The `ct_rule_level` value of an effective rule level: 0 without a match, then quarters
/// from low to critical.
pub fn rule_slot(level: Option<Level>) -> f32 {
    match level {
        None | Some(Level::Informational) => 0.0,
        Some(Level::Low) => 0.25,
        Some(Level::Medium) => 0.5,
        Some(Level::High) => 0.75,
        Some(Level::Critical) => 1.0,
    }
}

/// What the knowledge slots were filled from, kept so the scorer reads each once.
#[derive(Debug, Default)]
pub struct Knowledge<'p> {
    /// The rules the record matched, highest level first (as `RulePack::matches` gives them).
    pub matches: Vec<&'p Rule>,
    /// Its behaviour flags (`behaviour::flags_of`): `None` when it was not analyzed.
    pub flags: Option<Vec<Flag>>,
}

/// Fills the knowledge slots of one record's `row` and returns what they were filled from.
/// Records other than CloudTrail keep zeros.
pub fn fill<'p>(row: &mut [f32], record: &Record, rules: &'p RulePack) -> Knowledge<'p> {
    if record.log_type != LogType::CloudTrail {
        return Knowledge::default();
    }
    let matches = rules.matches(record);
    row[F::CtRuleLevel as usize] = rule_slot(detection::effective_level(record, &matches));
    let flags = behaviour::flags_of(record);
    row[F::CtBehaviour as usize] =
        behaviour::behaviour_severity(flags.as_deref().unwrap_or(&[])) as f32;
    Knowledge { matches, flags }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::{Extractor, N_FEATURES};

    #[test]
    fn slot_names_match_the_schema() {
        let names = crate::features::FEATURES;
        assert_eq!(names[F::CtRuleLevel as usize].name, SLOT_NAMES[0]);
        assert_eq!(names[F::CtBehaviour as usize].name, SLOT_NAMES[1]);
    }

    #[test]
    fn rules_and_flags_fill_their_slots_and_only_for_cloudtrail() {
        let pack = RulePack::embedded();
        let mut record = Record::new(LogType::CloudTrail);
        record.push("EventSource", "cloudtrail.amazonaws.com");
        record.push("EventName", "StopLogging");
        record.push("UserIdentityType", "IAMUser");
        record.push(
            crate::record::columns::BEHAVIOUR_FLAGS,
            "[\"new_api\",\"credential_burst\"]",
        );
        let mut row = Extractor::new().extract(&record);
        assert_eq!(row[F::CtRuleLevel as usize], 0.0, "the extractor leaves it");
        let known = fill(&mut row, &record, &pack);
        assert!(!known.matches.is_empty());
        assert!(row[F::CtRuleLevel as usize] >= 0.75);
        let b = row[F::CtBehaviour as usize];
        assert!((b - (1.0 - 0.8 * 0.45)).abs() < 1e-6, "{b}");

        let mut text = Record::new(LogType::Text);
        text.push("Message", "StopLogging");
        let mut row = [0.0; N_FEATURES];
        assert!(fill(&mut row, &text, &pack).matches.is_empty());
        assert_eq!(row, [0.0; N_FEATURES]);
    }
}

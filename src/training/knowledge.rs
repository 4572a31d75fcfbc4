//! Labels from knowledge: a generated CloudTrail record trains with what the detection
//! rules and the behaviour stage know about it, over what the generator meant.
//!
//! A model trained and judged on the generator's labels learns the generator's beliefs
//! back (on real trails the classifier ranked attacks at chance while the generator's own
//! held-out data said 0.99). So, for CloudTrail:
//! - a record a rule of effective level high or above matches ("likely malicious"), or
//!   that is part of a credential, discovery or denied burst, is `critical_security`,
//!   whatever scenario made it; a medium rule ("a risky change") sets a floor at
//!   inference but does not decide the label, or every owner's teardown of a test database
//!   would teach the classifier that deleting one is an attack;
//! - a record the generator calls an attack keeps that label only when the ATT&CK
//!   catalogue (`features::catalog`) puts its call in a tactic other than discovery;
//!   otherwise it is left out: nothing but the generator says it is an attack, and
//!   teaching either label would teach a belief;
//! - other labels (normal, system errors, throttling) stay.
//!
//! Other log families keep the generator's labels. Analyst verdicts (`labelled`) are
//! knowledge and are taken as given.

use crate::behaviour::{self, Flag};
use crate::detection::Level;
use crate::features::F;
use crate::ml::Category;
use crate::ml::knowledge::rule_slot;
use crate::record::{LogType, Record};

/// The label a generated record trains with, or `None` to leave it out.
pub fn label(generated: Category, row: &[f32], record: &Record) -> Option<Category> {
    if record.log_type != LogType::CloudTrail {
        return Some(generated);
    }
    let ruled = row[F::CtRuleLevel as usize] >= rule_slot(Some(Level::High));
    let burst = behaviour::flags_of(record).is_some_and(|flags| {
        flags.iter().any(|f| {
            matches!(
                f,
                Flag::CredentialBurst | Flag::DiscoveryBurst | Flag::DeniedBurst
            )
        })
    });
    if ruled || burst {
        return Some(Category::CriticalSecurity);
    }
    match generated {
        Category::CriticalSecurity => {
            let tactic = [
                F::CtDefenseEvasion,
                F::CtCredentialAccess,
                F::CtPersistence,
                F::CtExposure,
                F::CtExecution,
                F::CtImpact,
            ]
            .iter()
            .any(|f| row[*f as usize] >= 0.5);
            tactic.then_some(Category::CriticalSecurity)
        }
        other => Some(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::N_FEATURES;

    fn cloudtrail(flags: Option<&str>) -> Record {
        let mut r = Record::new(LogType::CloudTrail);
        r.push("EventName", "DescribeInstances");
        if let Some(flags) = flags {
            r.push(crate::record::columns::BEHAVIOUR_FLAGS, flags.to_string());
        }
        r
    }

    #[test]
    fn knowledge_over_the_generator() {
        let mut row = [0.0f32; N_FEATURES];
        let plain = cloudtrail(Some("[]"));
        // The generator alone: an attacker's read is left out, its evasion kept.
        assert_eq!(label(Category::CriticalSecurity, &row, &plain), None);
        row[F::CtDefenseEvasion as usize] = 1.0;
        assert_eq!(
            label(Category::CriticalSecurity, &row, &plain),
            Some(Category::CriticalSecurity)
        );
        // A high rule makes a benign scenario's call critical; a medium one does not.
        let mut row = [0.0f32; N_FEATURES];
        row[F::CtRuleLevel as usize] = rule_slot(Some(Level::Medium));
        assert_eq!(
            label(Category::Normal, &row, &plain),
            Some(Category::Normal)
        );
        row[F::CtRuleLevel as usize] = rule_slot(Some(Level::High));
        assert_eq!(
            label(Category::Normal, &row, &plain),
            Some(Category::CriticalSecurity)
        );
        // A burst is knowledge too.
        let row = [0.0f32; N_FEATURES];
        let burst = cloudtrail(Some("[\"discovery_burst\"]"));
        assert_eq!(
            label(Category::CriticalSecurity, &row, &burst),
            Some(Category::CriticalSecurity)
        );
        // Other families keep the generator's word.
        let text = Record::new(LogType::Text);
        assert_eq!(
            label(Category::CriticalSecurity, &row, &text),
            Some(Category::CriticalSecurity)
        );
    }
}

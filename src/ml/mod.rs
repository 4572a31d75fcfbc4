//! The two models every record is scored by, at inference: [`runtime`] loads, optimizes
//! and checks a model set once with tract and scores feature batches; [`manifest`] is
//! what is stored next to the models (versions, feature schema, sha256, training report,
//! drift profile); [`embedded`] holds the default set compiled into the binary; [`swap`]
//! replaces it with a newer set published in a bucket (signed with [`signing`]) and
//! keeps an optional shadow set; [`drift`] compares live features with the training
//! distribution. Training and evaluation are tooling (`training`, `evaluation`).

pub mod drift;
pub mod embedded;
pub mod knowledge;
pub mod manifest;
pub mod probe;
pub mod runtime;
pub mod signing;
pub mod swap;

pub use swap::ModelHandle;

use crate::record::display_as_name;

/// What a record is about, as predicted by the classifier.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Attacks and what weakens defences: intrusions, tampering, exfiltration, compromise.
    CriticalSecurity,
    /// Operational failures: 5xx, service errors, exceptions, crashes.
    SystemError,
    /// Slowness and saturation: throttling, timeouts, backlogs.
    Performance,
    /// Everything else, including benign noise that resembles attacks.
    Normal,
}

impl Category {
    /// Classifier output order.
    pub const ALL: [Category; 4] = [
        Category::CriticalSecurity,
        Category::SystemError,
        Category::Performance,
        Category::Normal,
    ];

    /// The name in `LogCategory` and in labels (`critical_security`).
    pub fn name(self) -> &'static str {
        match self {
            Category::CriticalSecurity => "critical_security",
            Category::SystemError => "system_error",
            Category::Performance => "performance",
            Category::Normal => "normal",
        }
    }

    /// Reads a name as [`Category::name`] writes it, ignoring case.
    pub fn from_name(name: &str) -> Option<Category> {
        Category::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(name.trim()))
    }

    /// Position in [`Category::ALL`], the classifier's output order.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The category at a position of [`Category::ALL`].
    pub fn from_index(i: usize) -> Option<Category> {
        Category::ALL.get(i).copied()
    }
}

display_as_name!(Category);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn category_names_round_trip() {
        for (i, c) in Category::ALL.into_iter().enumerate() {
            assert_eq!(c.index(), i);
            assert_eq!(Category::from_name(c.name()), Some(c));
            assert_eq!(Category::from_index(i), Some(c));
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.name()));
        }
        assert_eq!(Category::from_name("other"), None);
    }
}

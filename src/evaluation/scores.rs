//! Accuracy measures for template mining and sequence anomaly detection.

use std::collections::HashMap;
use std::hash::Hash;

/// Grouping and parsing accuracy of mined templates against a ground truth.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateScores {
    pub lines: usize,
    /// Share of lines whose predicted group holds exactly the lines of their true group.
    pub grouping_accuracy: f64,
    /// Share of lines whose predicted template text equals the true template exactly.
    pub parsing_accuracy: f64,
    pub templates_found: usize,
    pub templates_expected: usize,
}

/// Scores one log. `groups[i]` is the predicted group of line `i`, `templates[i]` its
/// predicted template and `truth[i]` its true template (lines with the same true template
/// form one true group).
pub fn score_templates<G: Eq + Hash + Copy>(
    groups: &[G],
    templates: &[&str],
    truth: &[&str],
) -> TemplateScores {
    assert_eq!(groups.len(), truth.len());
    assert_eq!(templates.len(), truth.len());
    let mut predicted_sizes: HashMap<G, usize> = HashMap::new();
    for g in groups {
        *predicted_sizes.entry(*g).or_default() += 1;
    }
    let mut true_groups: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, t) in truth.iter().enumerate() {
        true_groups.entry(t).or_default().push(i);
    }
    let mut grouped = 0;
    for lines in true_groups.values() {
        let first = groups[lines[0]];
        if lines.iter().all(|&l| groups[l] == first) && predicted_sizes[&first] == lines.len() {
            grouped += lines.len();
        }
    }
    let parsed = templates.iter().zip(truth).filter(|(p, t)| p == t).count();
    let n = truth.len().max(1) as f64;
    TemplateScores {
        lines: truth.len(),
        grouping_accuracy: grouped as f64 / n,
        parsing_accuracy: parsed as f64 / n,
        templates_found: predicted_sizes.len(),
        templates_expected: true_groups.len(),
    }
}

/// Precision, recall and F1 of a binary detector.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct DetectionScores {
    pub true_positives: u64,
    pub false_positives: u64,
    pub false_negatives: u64,
    pub true_negatives: u64,
}

impl DetectionScores {
    pub fn add(&mut self, predicted: bool, actual: bool) {
        match (predicted, actual) {
            (true, true) => self.true_positives += 1,
            (true, false) => self.false_positives += 1,
            (false, true) => self.false_negatives += 1,
            (false, false) => self.true_negatives += 1,
        }
    }

    pub fn precision(&self) -> f64 {
        ratio(
            self.true_positives,
            self.true_positives + self.false_positives,
        )
    }

    pub fn recall(&self) -> f64 {
        ratio(
            self.true_positives,
            self.true_positives + self.false_negatives,
        )
    }

    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouping_accuracy_needs_exact_groups() {
        // True groups {0,1} and {2}; predicted {0,1,2}: nothing is grouped right.
        let s = score_templates(&[1, 1, 1], &["a", "a", "a"], &["a", "a", "b"]);
        assert_eq!(s.grouping_accuracy, 0.0);
        assert!((s.parsing_accuracy - 2.0 / 3.0).abs() < 1e-9);
        // Predicted {0,1} and {2}: all right.
        let s = score_templates(&[1, 1, 2], &["a", "a", "b"], &["a", "a", "b"]);
        assert_eq!(s.grouping_accuracy, 1.0);
        assert_eq!(s.parsing_accuracy, 1.0);
        // Split true group: only the intact group counts.
        let s = score_templates(&[1, 3, 2], &["a", "x", "b"], &["a", "a", "b"]);
        assert!((s.grouping_accuracy - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(s.templates_found, 3);
        assert_eq!(s.templates_expected, 2);
    }

    #[test]
    fn detection_scores() {
        let mut d = DetectionScores::default();
        for (p, a) in [
            (true, true),
            (true, true),
            (true, false),
            (false, true),
            (false, false),
        ] {
            d.add(p, a);
        }
        assert!((d.precision() - 2.0 / 3.0).abs() < 1e-9);
        assert!((d.recall() - 2.0 / 3.0).abs() < 1e-9);
        assert!((d.f1() - 2.0 / 3.0).abs() < 1e-9);
        assert_eq!(DetectionScores::default().f1(), 0.0);
    }
}

//! The embedded detection rules (`rules/cloudtrail/`) against their own examples
//! (`rules/examples/<rule>.json`): events written to match each rule, and near misses
//! (the same call with the rule's condition broken), through the real CloudTrail parser.

use std::path::PathBuf;

use s3_sentinel_connector::{LogType, RulePack, parse_raw};

fn dir(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

#[test]
fn every_rule_matches_its_examples_and_none_of_its_near_misses() {
    let pack = RulePack::embedded();
    let mut checked = 0;
    let mut failures = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir("rules/cloudtrail"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), pack.len(), "every file is a rule of the pack");
    for file in files {
        let stem = file.file_stem().unwrap().to_string_lossy().to_string();
        let yaml = std::fs::read_to_string(&file).unwrap();
        let id = yaml
            .lines()
            .find_map(|l| l.strip_prefix("id: "))
            .unwrap_or_else(|| panic!("{stem} has an id"))
            .trim()
            .to_string();
        let examples = dir("rules/examples").join(format!("{stem}.json"));
        let examples: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&examples).unwrap_or_else(|e| {
                panic!(
                    "{stem}: every rule has examples at {}: {e}",
                    examples.display()
                )
            }))
            .unwrap();
        for (kind, should_match) in [("match", true), ("near_miss", false)] {
            let events = examples[kind].as_array().unwrap();
            assert!(!events.is_empty(), "{stem}: no {kind} examples");
            for (i, event) in events.iter().enumerate() {
                let record = parse_raw(LogType::CloudTrail, &event.to_string(), None, "rules")
                    .unwrap_or_else(|e| panic!("{stem} {kind}[{i}]: {e}"));
                let matched = pack.matches(&record).iter().any(|r| r.id == id);
                if matched != should_match {
                    failures.push(format!("{stem} {kind}[{i}]"));
                }
                checked += 1;
            }
        }
    }
    assert!(failures.is_empty(), "wrong decisions: {failures:?}");
    println!("{} rules, {checked} examples", pack.len());
}

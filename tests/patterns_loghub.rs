//! The template miner on the loghub-2k reference logs (skipped without `../shared`), and
//! the `patterns` command end to end.

use crate::common;

use s3_sentinel_connector::{format_template_scores, read_labelled, template_scores};
use std::io::Write;
use std::process::{Command, Stdio};

#[test]
fn loghub_grouping_and_parsing_accuracy_meet_the_goals() {
    let Some(shared) = common::shared_dir() else {
        return;
    };
    let rows = template_scores(&shared.join("datasets/loghub-2k")).unwrap();
    println!("{}", format_template_scores(&rows));
    assert_eq!(rows.len(), 8);
    let n = rows.len() as f64;
    let ga = rows.iter().map(|r| r.scores.grouping_accuracy).sum::<f64>() / n;
    let pa = rows.iter().map(|r| r.scores.parsing_accuracy).sum::<f64>() / n;
    // The goals are GA >= 0.95 and PA >= 0.60; the miner reaches about 0.997 and
    // 0.953 deterministically, so these floors catch regressions with some slack.
    assert!(ga >= 0.98, "average GA {ga:.3}");
    assert!(pa >= 0.90, "average PA {pa:.3}");
    for r in &rows {
        assert!(
            r.scores.grouping_accuracy >= 0.95,
            "{} GA {:.3}",
            r.system,
            r.scores.grouping_accuracy
        );
        assert!(
            r.scores.parsing_accuracy >= 0.60,
            "{} PA {:.3}",
            r.system,
            r.scores.parsing_accuracy
        );
    }
}

#[test]
fn patterns_command_writes_one_row_per_line_in_order() {
    let Some(shared) = common::shared_dir() else {
        return;
    };
    let (contents, _) = read_labelled(
        &shared.join("datasets/loghub-2k/OpenSSH/OpenSSH_2k.log_structured_corrected.csv"),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_s3-sentinel"))
        .arg("patterns")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = contents.join("\n");
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut reader = csv::Reader::from_reader(out.stdout.as_slice());
    assert_eq!(
        reader.headers().unwrap(),
        vec!["LineId", "EventId", "EventTemplate"]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), contents.len());
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row[0], (i + 1).to_string());
    }
    let invalid_user: Vec<usize> = (0..contents.len())
        .filter(|&i| contents[i].starts_with("Invalid user "))
        .collect();
    assert!(invalid_user.len() > 100);
    for &i in &invalid_user {
        assert_eq!(rows[i][2], *"Invalid user <*> from <*>");
        assert_eq!(rows[i][1], rows[invalid_user[0]][1]);
    }
}

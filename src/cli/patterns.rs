//! `s3-sentinel patterns`: mine templates from lines, one message per line, and write
//! `LineId,EventId,EventTemplate` CSV in input order, each line with its template's final
//! form after the whole input.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};

use chrono::{DateTime, Utc};

use crate::patterns::TemplateMiner;
use crate::patterns::db::{DbLimits, PatternDb};

/// Mine log templates: one message per input line; CSV `LineId,EventId,EventTemplate`
/// out, in input order, each line with its template's final form.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PatternsArgs {
    /// Input lines (default: standard input).
    #[arg(long, short)]
    pub input: Option<PathBuf>,
    /// CSV output (default: standard output).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Pattern database (JSON): loaded when it exists, so known templates keep their ids,
    /// and saved with this run's counts.
    #[arg(long)]
    pub db: Option<PathBuf>,
}

/// The command: mines and reports the count on standard error.
pub fn command(args: PatternsArgs) -> Result<u8> {
    let summary = run(&args)?;
    eprintln!("{} lines, {} templates", summary.lines, summary.templates);
    Ok(0)
}

/// What a run mined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternsSummary {
    pub lines: u64,
    pub templates: usize,
}

pub fn run(args: &PatternsArgs) -> Result<PatternsSummary> {
    let input: Box<dyn Read> = match &args.input {
        Some(p) if p.as_os_str() != "-" => {
            Box::new(File::open(p).with_context(|| format!("opening {}", p.display()))?)
        }
        _ => Box::new(io::stdin().lock()),
    };
    let output: Box<dyn Write> = match &args.output {
        Some(p) if p.as_os_str() != "-" => {
            Box::new(File::create(p).with_context(|| format!("creating {}", p.display()))?)
        }
        _ => Box::new(io::stdout().lock()),
    };
    let mut db = match &args.db {
        Some(path) => Some(load_db(path)?),
        None => None,
    };
    let mut miner = TemplateMiner::default();
    if let Some(db) = &db {
        db.seed(&mut miner);
    }
    let mut examples = Examples::default();
    let assigned = mine_lines_with(
        &mut miner,
        BufReader::with_capacity(1 << 20, input),
        |index, line| examples.offer(index, line),
    )?;
    write_csv(&miner, &assigned, BufWriter::with_capacity(1 << 20, output))?;
    if let (Some(path), Some(db)) = (&args.db, db.as_mut()) {
        let delta = run_delta(
            &mut miner,
            &assigned,
            &examples,
            db.limits.clone(),
            Utc::now(),
        );
        db.merge(&delta);
        db.evict(Utc::now());
        save_db(path, db)?;
    }
    Ok(PatternsSummary {
        lines: assigned.len() as u64,
        templates: miner.live_clusters().count(),
    })
}

/// Mines every line of `input` (lossy UTF-8, line ends stripped) and returns each line's
/// template index.
pub fn mine_lines(miner: &mut TemplateMiner, input: impl BufRead) -> Result<Vec<u32>> {
    mine_lines_with(miner, input, |_, _| {})
}

fn mine_lines_with(
    miner: &mut TemplateMiner,
    mut input: impl BufRead,
    mut each: impl FnMut(usize, &str),
) -> Result<Vec<u32>> {
    let mut assigned = Vec::new();
    let mut line = Vec::with_capacity(4096);
    loop {
        line.clear();
        let n = input
            .read_until(b'\n', &mut line)
            .context("reading input")?;
        if n == 0 {
            break;
        }
        while matches!(line.last(), Some(b'\n' | b'\r')) {
            line.pop();
        }
        let text = String::from_utf8_lossy(&line);
        let index = miner.add(&text).index;
        each(index, &text);
        assigned.push(index as u32);
    }
    Ok(assigned)
}

/// The first few lines of each template, kept while mining.
#[derive(Default)]
struct Examples {
    by_index: std::collections::HashMap<usize, Vec<String>>,
}

impl Examples {
    const PER_TEMPLATE: usize = 3;

    fn offer(&mut self, index: usize, line: &str) {
        let kept = self.by_index.entry(index).or_default();
        if kept.len() < Self::PER_TEMPLATE && !kept.iter().any(|k| k == line) {
            kept.push(line.to_string());
        }
    }
}

/// This run's counts as a database delta: one sighting per line at `now` (plain lines
/// carry no time of their own), with the miner's merges as aliases.
fn run_delta(
    miner: &mut TemplateMiner,
    assigned: &[u32],
    examples: &Examples,
    limits: DbLimits,
    now: DateTime<Utc>,
) -> PatternDb {
    let window = crate::patterns::db::window_start(now, limits.window_seconds);
    let max_examples = limits.max_examples;
    let mut delta = PatternDb::new(limits);
    for (from, into) in miner.take_merges() {
        delta.alias(from, into);
    }
    let mut counts: std::collections::HashMap<usize, u64> = std::collections::HashMap::new();
    for &index in assigned {
        *counts.entry(miner.resolve(index as usize)).or_default() += 1;
    }
    let mut example_lists: std::collections::HashMap<usize, Vec<&String>> =
        std::collections::HashMap::new();
    for (&index, lines) in &examples.by_index {
        example_lists
            .entry(miner.resolve(index))
            .or_default()
            .extend(lines);
    }
    for (&index, &count) in &counts {
        let cluster = miner.cluster(index);
        let template = cluster.template();
        let entry = delta.entry(cluster.id, &template, "", now);
        entry.count = count;
        entry.windows = vec![(window, count)];
        entry.examples = example_lists
            .get(&index)
            .map(|l| l.iter().take(max_examples).map(|s| (*s).clone()).collect())
            .unwrap_or_default();
    }
    delta
}

fn load_db(path: &std::path::Path) -> Result<PatternDb> {
    match std::fs::read(path) {
        Ok(bytes) => PatternDb::from_json(&bytes, &Default::default(), Utc::now())
            .with_context(|| format!("reading pattern database {}", path.display())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(PatternDb::default()),
        Err(e) => Err(e).with_context(|| format!("reading pattern database {}", path.display())),
    }
}

/// Writes through a temporary file and a rename, so a crash never leaves half a database.
fn save_db(path: &std::path::Path, db: &PatternDb) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, db.to_json()).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}

/// Writes `LineId,EventId,EventTemplate` rows, LineId counting from 1. Each template's
/// `,EventId,EventTemplate` tail is quoted once (by the csv crate) and reused per line.
pub fn write_csv(miner: &TemplateMiner, assigned: &[u32], mut output: impl Write) -> Result<()> {
    let mut tails: Vec<Option<Vec<u8>>> = vec![None; miner.clusters().len()];
    output
        .write_all(b"LineId,EventId,EventTemplate\n")
        .context("writing output")?;
    let mut line_id = itoa::Buffer::new();
    for (i, &index) in assigned.iter().enumerate() {
        let live = miner.resolve(index as usize);
        let tail = tails[live].get_or_insert_with(|| {
            let cluster = miner.cluster(live);
            let mut csv = csv::Writer::from_writer(Vec::with_capacity(128));
            csv.write_record(["", &cluster.id.to_hex(), &cluster.template()])
                .expect("writing to memory");
            csv.into_inner().expect("writing to memory")
        });
        output
            .write_all(line_id.format(i + 1).as_bytes())
            .context("writing output")?;
        output.write_all(tail).context("writing output")?;
    }
    output.flush().context("writing output")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db_keeps_ids_and_adds_counts_across_runs() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.log");
        let db = dir.path().join("patterns.json");
        std::fs::write(&input, "Deleting block blk_1 file /d/blk_1\nserver started\nDeleting block blk_2 file /d/blk_2\n").unwrap();
        let run_once = |out: &str| {
            let args = PatternsArgs {
                input: Some(input.clone()),
                output: Some(dir.path().join(out)),
                db: Some(db.clone()),
            };
            run(&args).unwrap();
            std::fs::read_to_string(dir.path().join(out)).unwrap()
        };
        let first = run_once("a.csv");
        let second = run_once("b.csv");
        assert_eq!(
            first, second,
            "ids and templates are the same on the second run"
        );
        let stored = PatternDb::from_json(
            &std::fs::read(&db).unwrap(),
            &DbLimits::default(),
            Utc::now(),
        )
        .unwrap();
        assert_eq!(stored.len(), 2);
        let deleting = stored
            .patterns
            .iter()
            .find(|p| p.template.starts_with("Deleting"))
            .unwrap();
        assert_eq!(deleting.count, 4);
        assert_eq!(deleting.examples.len(), 2);
        std::fs::write(&db, b"{not json").unwrap();
        let args = PatternsArgs {
            input: Some(input.clone()),
            output: Some(dir.path().join("c.csv")),
            db: Some(db.clone()),
        };
        let err = format!("{:#}", run(&args).unwrap_err());
        assert!(err.contains("pattern database"), "{err}");
    }

    #[test]
    fn csv_has_one_row_per_line_with_final_templates() {
        let input = "Invalid user a1 from 1.1.1.1\r\nInvalid user bob from 1.1.1.2\nhello, \"world\"\nInvalid user carl from 1.1.1.3\nInvalid user dan from 1.1.1.4\n";
        let mut miner = TemplateMiner::default();
        let assigned = mine_lines(&mut miner, input.as_bytes()).unwrap();
        let mut out = Vec::new();
        write_csv(&miner, &assigned, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let rows: Vec<&str> = text.lines().collect();
        assert_eq!(rows[0], "LineId,EventId,EventTemplate");
        assert_eq!(rows.len(), 6);
        let id_of = |row: &str| row.split(',').nth(1).unwrap().to_string();
        // The first line's row shows the template as it ended up, not as it was then.
        assert!(rows[1].starts_with("1,"));
        assert!(
            rows[1].ends_with(",Invalid user <*> from <*>"),
            "{}",
            rows[1]
        );
        assert_eq!(id_of(rows[1]), id_of(rows[5]));
        assert_eq!(rows[3].split_once(',').unwrap().0, "3");
        assert!(
            rows[3].ends_with(",\"hello, \"\"world\"\"\""),
            "{}",
            rows[3]
        );
    }
}

//! `s3-sentinel patterns`: mine templates from lines, one message per line, and write
//! `LineId,EventId,EventTemplate` CSV in input order, each line with its template's final
//! form after the whole input.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::patterns::TemplateMiner;

#[derive(Debug, Clone, Default)]
pub struct PatternsArgs {
    /// Input lines; standard input when `None` or `-`.
    pub input: Option<PathBuf>,
    /// CSV output; standard output when `None` or `-`.
    pub output: Option<PathBuf>,
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
    let mut miner = TemplateMiner::default();
    let assigned = mine_lines(&mut miner, BufReader::with_capacity(1 << 20, input))?;
    write_csv(&miner, &assigned, BufWriter::with_capacity(1 << 20, output))?;
    Ok(PatternsSummary {
        lines: assigned.len() as u64,
        templates: miner.live_clusters().count(),
    })
}

/// Mines every line of `input` (lossy UTF-8, line ends stripped) and returns each line's
/// template index.
pub fn mine_lines(miner: &mut TemplateMiner, mut input: impl BufRead) -> Result<Vec<u32>> {
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
        assigned.push(miner.add(&text).index as u32);
    }
    Ok(assigned)
}

/// Writes `LineId,EventId,EventTemplate` rows, LineId counting from 1.
pub fn write_csv(miner: &TemplateMiner, assigned: &[u32], output: impl Write) -> Result<()> {
    let mut csv = csv::Writer::from_writer(output);
    csv.write_record(["LineId", "EventId", "EventTemplate"])?;
    let templates: Vec<(String, String)> = miner
        .clusters()
        .iter()
        .map(|c| (c.id.to_hex(), c.template()))
        .collect();
    let mut line_id = itoa::Buffer::new();
    for (i, &index) in assigned.iter().enumerate() {
        let (id, template) = &templates[miner.resolve(index as usize)];
        csv.write_record([line_id.format(i + 1), id.as_str(), template.as_str()])?;
    }
    csv.flush().context("writing output")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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

//! `s3-sentinel eval`: accuracy of the template miner on labelled logs (loghub layout) and
//! of the sequence model on labelled sessions.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::patterns::TemplateMiner;
use crate::patterns::eval::{TemplateScores, score_templates};

/// GA/PA of one system.
#[derive(Debug, Clone)]
pub struct SystemScores {
    pub system: String,
    pub scores: TemplateScores,
    pub seconds: f64,
}

/// Runs the miner, with its defaults, over the `Content` column of every
/// `<dir>/<S>/*_structured*.csv` under `loghub` and scores it against `EventTemplate`.
pub fn templates(loghub: &Path) -> Result<Vec<SystemScores>> {
    let mut systems: Vec<(String, PathBuf)> = Vec::new();
    for entry in
        std::fs::read_dir(loghub).with_context(|| format!("reading {}", loghub.display()))?
    {
        let entry = entry?;
        if !entry.file_type()?.is_dir() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(file) = structured_csv(&entry.path())? {
            systems.push((name, file));
        }
    }
    if systems.is_empty() {
        bail!(
            "no <System>/<System>_2k.log_structured_corrected.csv under {}",
            loghub.display()
        );
    }
    systems.sort();
    systems
        .into_iter()
        .map(|(system, file)| {
            let (contents, truth) = read_labelled(&file)?;
            let start = Instant::now();
            let mut miner = TemplateMiner::default();
            let assigned: Vec<usize> = contents.iter().map(|c| miner.add(c).index).collect();
            let seconds = start.elapsed().as_secs_f64();
            let groups: Vec<usize> = assigned.iter().map(|&i| miner.resolve(i)).collect();
            let texts: Vec<String> = miner.clusters().iter().map(|c| c.template()).collect();
            let templates: Vec<&str> = groups.iter().map(|&g| texts[g].as_str()).collect();
            let truth: Vec<&str> = truth.iter().map(String::as_str).collect();
            Ok(SystemScores {
                system,
                scores: score_templates(&groups, &templates, &truth),
                seconds,
            })
        })
        .collect()
}

/// Prefers the corrected ground truth when both files exist.
fn structured_csv(dir: &Path) -> Result<Option<PathBuf>> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.ends_with("_structured_corrected.csv") || n.ends_with("_structured.csv")
            })
        })
        .collect();
    found.sort_by_key(|p| !p.to_string_lossy().ends_with("_corrected.csv"));
    Ok(found.into_iter().next())
}

/// The `Content` and `EventTemplate` columns of a loghub structured CSV.
pub fn read_labelled(file: &Path) -> Result<(Vec<String>, Vec<String>)> {
    let mut reader =
        csv::Reader::from_path(file).with_context(|| format!("opening {}", file.display()))?;
    let headers = reader.headers()?.clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .with_context(|| format!("{} has no {name} column", file.display()))
    };
    let (content, template) = (column("Content")?, column("EventTemplate")?);
    let mut contents = Vec::new();
    let mut truth = Vec::new();
    for (i, row) in reader.records().enumerate() {
        let row = row.with_context(|| format!("{} row {}", file.display(), i + 2))?;
        contents.push(row.get(content).unwrap_or_default().to_string());
        truth.push(row.get(template).unwrap_or_default().to_string());
    }
    Ok((contents, truth))
}

/// A plain-text table of per-system scores and their average.
pub fn format_template_scores(rows: &[SystemScores]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<12} {:>6} {:>10} {:>9} {:>7} {:>7}",
        "System", "Lines", "Templates", "Expected", "GA", "PA"
    );
    for r in rows {
        let s = &r.scores;
        let _ = writeln!(
            out,
            "{:<12} {:>6} {:>10} {:>9} {:>7.3} {:>7.3}",
            r.system,
            s.lines,
            s.templates_found,
            s.templates_expected,
            s.grouping_accuracy,
            s.parsing_accuracy
        );
    }
    let n = rows.len().max(1) as f64;
    let ga = rows.iter().map(|r| r.scores.grouping_accuracy).sum::<f64>() / n;
    let pa = rows.iter().map(|r| r.scores.parsing_accuracy).sum::<f64>() / n;
    let lines: usize = rows.iter().map(|r| r.scores.lines).sum();
    let _ = writeln!(
        out,
        "{:<12} {:>6} {:>10} {:>9} {:>7.3} {:>7.3}",
        "Average", lines, "", "", ga, pa
    );
    out
}

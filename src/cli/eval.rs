//! `s3-sentinel eval`: accuracy of the template miner on labelled logs (loghub layout) and
//! of the sequence model on labelled sessions.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::evaluation::scores::{DetectionScores, TemplateScores, score_templates};
use crate::patterns::TemplateMiner;
use crate::patterns::sequence::{SequenceModel, parse_sessions};

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

/// Inputs of `eval sequences`.
#[derive(Debug, Clone, clap::Args)]
pub struct SequenceEvalArgs {
    /// Normal sessions, one per line.
    #[arg(long)]
    pub train: PathBuf,
    /// Share of `train` (its first sessions) used for training; the rest joins the normal
    /// test set. Defaults to 0.5 without `test_normal`, to 1.0 with it.
    #[arg(long)]
    pub train_fraction: Option<f64>,
    /// Further normal sessions to test on, one per line.
    #[arg(long)]
    pub test_normal: Option<PathBuf>,
    /// Abnormal sessions to test on, one per line.
    #[arg(long)]
    pub test_abnormal: PathBuf,
    /// Events of context the model looks back on.
    #[arg(long, default_value_t = 3)]
    pub order: usize,
}

/// Inputs of `eval templates`.
#[derive(Debug, Clone, clap::Args)]
pub struct TemplateEvalArgs {
    /// The loghub-2k folder.
    #[arg(long)]
    pub loghub: PathBuf,
}

/// Measure the pattern miner and the sequence model on labelled data.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum EvalCommand {
    /// Grouping accuracy (GA) and parsing accuracy (PA, exact template match) per system of a
    /// loghub folder (`<S>/<S>_2k.log_structured_corrected.csv`), with the miner's defaults.
    Templates(TemplateEvalArgs),
    /// Precision, recall and F1 of the sequence model on sessions (one per line,
    /// space-separated event ids). Trains on the first `--train-fraction` of `--train`
    /// (default: half when no `--test-normal` is given) and tests on the rest of it, on
    /// `--test-normal` and on `--test-abnormal`. The documented HDFS run is
    /// `--train hdfs_train --test-abnormal hdfs_test_abnormal`: first 50% of hdfs_train (2,428
    /// sessions) to train, the other 2,427 as normal test sessions.
    Sequences(SequenceEvalArgs),
}

/// The command: prints the scores.
pub fn command(what: EvalCommand) -> Result<u8> {
    match what {
        EvalCommand::Templates(args) => {
            print!("{}", format_template_scores(&templates(&args.loghub)?))
        }
        EvalCommand::Sequences(args) => print!("{}", format_sequence_eval(&sequences(&args)?)),
    }
    Ok(0)
}

#[derive(Debug, Clone)]
pub struct SequenceEval {
    pub trained_sessions: usize,
    pub normal_sessions: usize,
    pub abnormal_sessions: usize,
    pub scores: DetectionScores,
}

/// Trains the sequence model on normal sessions and flags test sessions with a step
/// never seen after its context.
pub fn sequences(args: &SequenceEvalArgs) -> Result<SequenceEval> {
    let read = |p: &Path| -> Result<Vec<Vec<u64>>> {
        let text =
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
        parse_sessions(&text).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))
    };
    let all_train = read(&args.train)?;
    let fraction = args
        .train_fraction
        .unwrap_or(if args.test_normal.is_some() { 1.0 } else { 0.5 });
    if !(fraction > 0.0 && fraction <= 1.0) {
        bail!("--train-fraction must be in (0, 1], got {fraction}");
    }
    let cut =
        ((all_train.len() as f64 * fraction).round() as usize).clamp(1, all_train.len().max(1));
    let (train, held_out) = all_train.split_at(cut.min(all_train.len()));
    let mut normal: Vec<Vec<u64>> = held_out.to_vec();
    if let Some(p) = &args.test_normal {
        normal.extend(read(p)?);
    }
    let abnormal = read(&args.test_abnormal)?;
    if normal.is_empty() && abnormal.is_empty() {
        bail!("no test sessions");
    }
    let mut model = SequenceModel::new(args.order);
    for s in train {
        model.train_session(s);
    }
    let mut scores = DetectionScores::default();
    for s in &normal {
        scores.add(model.score_session(s).unseen, false);
    }
    for s in &abnormal {
        scores.add(model.score_session(s).unseen, true);
    }
    Ok(SequenceEval {
        trained_sessions: train.len(),
        normal_sessions: normal.len(),
        abnormal_sessions: abnormal.len(),
        scores,
    })
}

/// The result of `eval sequences` as text: counts, false positive rate, precision, recall, F1.
pub fn format_sequence_eval(e: &SequenceEval) -> String {
    let s = &e.scores;
    let fpr = s.false_positives as f64 / (s.false_positives + s.true_negatives).max(1) as f64;
    format!(
        "trained on {} sessions; tested {} normal and {} abnormal\n\
         TP {} FP {} FN {} TN {} (false positive rate on normal sessions {:.4})\n\
         precision {:.4} recall {:.4} F1 {:.4}\n",
        e.trained_sessions,
        e.normal_sessions,
        e.abnormal_sessions,
        s.true_positives,
        s.false_positives,
        s.false_negatives,
        s.true_negatives,
        fpr,
        s.precision(),
        s.recall(),
        s.f1()
    )
}

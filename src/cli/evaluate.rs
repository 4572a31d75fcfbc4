//! `s3-sentinel evaluate`: metrics of a model set on labelled records, optionally against
//! a baseline (the models deployed now), as text, one JSON object, and an HTML report.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use serde::Serialize;

use super::train::read_labelled;
use crate::evaluation::models::{
    Comparison, EvalOptions, Evaluation, compare, format_comparison, format_summary,
};
use crate::evaluation::rule_events::{self, RuleTestScores};
use crate::evaluation::{models as evaluate, report};
use crate::ml::runtime::ModelSet;
use crate::ml::{Category, embedded};
use crate::patterns::AnalyzerConfig;
use crate::record::Record;
use crate::training::replay;
use crate::training::synth::{self, SynthConfig};
use crate::training::{artifacts, labelled};

/// A model set to evaluate: a directory written by `s3-sentinel train` or the defaults
/// compiled into this binary.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelSource {
    Embedded,
    Dir(PathBuf),
}

impl ModelSource {
    /// For clap: [`ModelSource::parse`], which cannot fail.
    fn from_arg(text: &str) -> Result<ModelSource, std::convert::Infallible> {
        Ok(ModelSource::parse(text))
    }

    /// `embedded` names the compiled-in defaults; anything else is a directory.
    pub fn parse(text: &str) -> ModelSource {
        if text == "embedded" {
            ModelSource::Embedded
        } else {
            ModelSource::Dir(PathBuf::from(text))
        }
    }

    pub fn load(&self) -> Result<ModelSet> {
        match self {
            ModelSource::Embedded => embedded::load().context("loading the embedded models"),
            ModelSource::Dir(dir) => artifacts::load_dir(dir),
        }
    }
}

/// Measure a model set on labelled records: per-class precision/recall/F1, macro-F1,
/// confusion matrix, ROC-AUC and PR-AUC of AnomalyScore, calibration of PriorityScore,
/// inference latency; optionally against a baseline (the deployed models) and as an HTML
/// report with plots.
#[derive(Debug, Clone, clap::Args)]
pub struct EvaluateArgs {
    /// Labelled JSON lines (see docs/lifecycle.md). May be given several times.
    #[arg(long)]
    pub data: Vec<PathBuf>,
    /// Also evaluate on records from the project's generator with this seed (the default
    /// models were trained on seed 20250106: any other seed is held out).
    #[arg(long)]
    pub generate_seed: Option<u64>,
    /// Volume of generated records (1.0 is about 75,000).
    #[arg(long, default_value_t = 0.5)]
    pub scale: f64,
    /// Model directory to evaluate, or `embedded` for the defaults in this binary.
    #[arg(long, default_value = "embedded", value_parser = ModelSource::from_arg)]
    pub models: ModelSource,
    /// Model directory to compare with (the deployed set), or `embedded`.
    #[arg(long, value_parser = ModelSource::from_arg)]
    pub baseline: Option<ModelSource>,
    /// Write a self-contained HTML report with plots here.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// IsAnomaly threshold.
    #[arg(long, default_value_t = 0.95)]
    pub anomaly_threshold: f64,
    /// Records scored one at a time for the latency percentiles.
    #[arg(long, default_value_t = 2000)]
    pub latency_sample: usize,
    /// With --baseline: exit with status 1 when a gated metric (macro-F1, ROC-AUCs) is
    /// worse than the baseline's by more than this.
    #[arg(long)]
    pub tolerance: Option<f64>,
    /// A folder of Sigma rules (e.g. SigmaHQ's AWS CloudTrail rules): for each of level
    /// medium and above, derive an event that matches it and near misses that do not, score
    /// each alone, and report how PriorityScore separates them.
    #[arg(long)]
    pub rule_tests: Option<PathBuf>,
}

/// The command: prints the evaluation; exit status 1 when the candidate is worse than the
/// baseline beyond the tolerance.
pub fn command(args: EvaluateArgs) -> Result<u8> {
    let out = run(&args)?;
    if args.json {
        println!("{}", serde_json::to_string(&out)?);
        for line in out.regressions.iter().flatten() {
            eprintln!("worse than the baseline: {line}");
        }
    } else {
        print!("{}", format_output(&out));
    }
    Ok(match &out.regressions {
        Some(r) if !r.is_empty() => 1,
        _ => 0,
    })
}

/// The `--json` object.
#[derive(Debug, Serialize)]
pub struct EvaluateOutput {
    pub data: DataSummary,
    pub candidate: Evaluation,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Evaluation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comparison: Option<Comparison>,
    /// Gated metrics worse than the baseline beyond `--tolerance`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regressions: Option<Vec<String>>,
    /// `--rule-tests`: the candidate's, then the baseline's.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rule_tests: Vec<RuleTestScores>,
}

#[derive(Debug, Serialize)]
pub struct DataSummary {
    pub sources: Vec<String>,
    pub records: usize,
    pub lines_skipped: usize,
}

pub struct LabelledSet {
    pub records: Vec<Record>,
    pub labels: Vec<Category>,
    pub summary: DataSummary,
}

/// Reads labelled files and/or generates records.
pub fn load_labelled(
    files: &[PathBuf],
    generate_seed: Option<u64>,
    scale: f64,
) -> Result<LabelledSet> {
    let mut set = LabelledSet {
        records: Vec::new(),
        labels: Vec::new(),
        summary: DataSummary {
            sources: Vec::new(),
            records: 0,
            lines_skipped: 0,
        },
    };
    for path in files {
        let read = read_labelled(path)?;
        set.summary.lines_skipped += read.rejected.len();
        set.summary.sources.push(path.display().to_string());
        set.records.extend(read.records);
        set.labels.extend(read.labels);
    }
    if let Some(seed) = generate_seed {
        if !(scale > 0.0 && scale.is_finite()) {
            bail!("--scale must be above 0, got {scale}");
        }
        let items = synth::generate(&SynthConfig {
            seed,
            scale,
            ..SynthConfig::default()
        });
        for item in &items {
            let record = labelled::parse_raw(
                item.log_type,
                item.raw.text(),
                item.header.as_deref(),
                "synthetic",
            )
            .map_err(|e| anyhow::anyhow!("generated {} record: {e}", item.log_type))?;
            set.records.push(record);
            set.labels.push(item.label);
        }
        set.summary.sources.push(format!(
            "s3-sentinel synthetic generator, seed {seed}, scale {scale}"
        ));
    }
    if set.records.is_empty() {
        bail!("no labelled records: give --data FILE and/or --generate-seed N");
    }
    // Raw records get their pattern columns the way training gave them theirs.
    replay::analyze_missing(&mut set.records, AnalyzerConfig::default());
    set.summary.records = set.records.len();
    Ok(set)
}

/// Evaluates, writes the report when asked, and returns what was measured.
pub fn run(args: &EvaluateArgs) -> Result<EvaluateOutput> {
    let set = load_labelled(&args.data, args.generate_seed, args.scale)?;
    let options = EvalOptions {
        anomaly_threshold: args.anomaly_threshold,
        latency_sample: args.latency_sample,
    };
    let models = args.models.load()?;
    let candidate = evaluate::evaluate_models(&models, &set.records, &set.labels, &options)?;
    let (baseline, comparison) = match &args.baseline {
        Some(source) => {
            let base_models = source.load().context("loading the baseline models")?;
            let b = evaluate::evaluate_models(&base_models, &set.records, &set.labels, &options)?;
            let c = compare(&candidate, &b);
            (Some(b), Some(c))
        }
        None => (None, None),
    };
    if let Some(path) = &args.report {
        let html = report::render(&candidate, baseline.as_ref().zip(comparison.as_ref()))?;
        std::fs::write(path, html).with_context(|| format!("writing {}", path.display()))?;
    }
    let regressions = match (&comparison, args.tolerance) {
        (Some(c), Some(t)) => Some(c.regressions(t)),
        _ => None,
    };
    let mut rule_tests = Vec::new();
    if let Some(dir) = &args.rule_tests {
        let files = crate::detection::read_dir(dir)
            .with_context(|| format!("reading the rules in {}", dir.display()))?;
        let events = rule_events::derive(&files);
        rule_tests.push(rule_events::score(args.models.load()?, &events)?);
        if let Some(source) = &args.baseline {
            rule_tests.push(rule_events::score(source.load()?, &events)?);
        }
    }
    Ok(EvaluateOutput {
        data: set.summary,
        candidate,
        baseline,
        comparison,
        regressions,
        rule_tests,
    })
}

/// The text shown without `--json`.
pub fn format_output(out: &EvaluateOutput) -> String {
    let mut text = format!(
        "data: {} ({} records, {} lines skipped)\n",
        out.data.sources.join(" + "),
        out.data.records,
        out.data.lines_skipped
    );
    text.push_str(&format_summary(&out.candidate));
    if let Some(b) = &out.baseline {
        text.push_str("\nbaseline:\n");
        text.push_str(&format_summary(b));
    }
    if let Some(c) = &out.comparison {
        text.push('\n');
        text.push_str(&format_comparison(c));
    }
    for (who, scores) in ["", "baseline "].iter().zip(&out.rule_tests) {
        text.push('\n');
        text.push_str(who);
        text.push_str(&scores.summary());
    }
    if let Some(r) = &out.regressions {
        if r.is_empty() {
            text.push_str("\nno gated metric is worse than the baseline beyond the tolerance\n");
        } else {
            text.push_str("\nworse than the baseline beyond the tolerance:\n");
            for line in r {
                text.push_str(&format!("  {line}\n"));
            }
        }
    }
    text
}

//! `s3-sentinel train`: trains the anomaly model and the classifier and writes
//! `anomaly.onnx`, `classifier.onnx` and `manifest.json`.
//!
//! Data comes from labelled JSON lines (`--data`, format in `ml::labelled`, including
//! analyst-labelled rows exported from Sentinel), from the project's generator
//! (`--generate`, what the default models are trained on), or both. `--base DIR` (or
//! `embedded`) retrains on top of another set's training data: its recipe (generator
//! seed and scale, data files) is read from its manifest and the new `--data` added.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::detection::RulePack;
use crate::features::Extractor;
use crate::ml::knowledge;
use crate::patterns::AnalyzerConfig;
use crate::training::artifacts::{self, Provenance};
use crate::training::history;
use crate::training::labelled;
use crate::training::replay;
use crate::training::synth::{self, SynthConfig};
use crate::training::train::{Dataset, TrainConfig};

/// Train the anomaly model and the category classifier; writes anomaly.onnx,
/// classifier.onnx and manifest.json into --out.
#[derive(Debug, Clone, clap::Args)]
pub struct TrainArgs {
    /// Labelled JSON lines (label plus raw record, Sentinel row or object reference; see
    /// docs/ml.md). May be given several times.
    #[arg(long)]
    pub data: Vec<PathBuf>,
    /// Add the project's synthetic benign and attack activity (what the default models are
    /// trained on).
    #[arg(long)]
    pub generate: bool,
    /// Seed of the generator.
    #[arg(long, default_value_t = SynthConfig::default().seed)]
    pub seed: u64,
    /// Volume of generated data (1.0 is about 75,000 records).
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
    /// Also write the generated records as labelled JSON lines.
    #[arg(long)]
    pub write_data: Option<PathBuf>,
    /// Directory for the model files.
    #[arg(long)]
    pub out: PathBuf,
    /// Version written into the manifest and every record's ModelVersion.
    #[arg(long = "model-version")]
    pub set_version: Option<String>,
    /// Retrain on top of another set's training data: a model directory or `embedded`
    /// (its manifest's recipe: generator seed and scale, data files), plus --data.
    #[arg(long)]
    pub base: Option<String>,
    /// The deployment's own traffic, unlabelled: files or folders of delivered rows
    /// (`process` output, Sentinel exports) or of log objects. The anomaly model learns each
    /// log family it has enough records of from it. May be given several times.
    #[arg(long)]
    pub history: Vec<PathBuf>,
}

/// How a set's training data was put together: read from its manifest's
/// `training_recipe` when a tool wrote one, else from `training_data.source`, which
/// `train` writes as `s3-sentinel synthetic generator, seed N, scale S + FILE + FILE`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Recipe {
    /// (seed, scale) of the generator, when used.
    pub generator: Option<(u64, f64)>,
    /// Labelled JSON-lines files, as given.
    pub data: Vec<PathBuf>,
}

impl Recipe {
    pub fn of(manifest: &crate::ml::manifest::Manifest) -> Recipe {
        if let Some(r) = manifest
            .extra
            .get("training_recipe")
            .and_then(|v| serde_json::from_value::<Recipe>(v.clone()).ok())
        {
            return r;
        }
        let mut recipe = Recipe::default();
        for part in manifest.training_data.source.split(" + ") {
            if let Some(rest) = part.strip_prefix("s3-sentinel synthetic generator, seed ") {
                let mut it = rest.split(", scale ");
                let seed = it.next().and_then(|s| s.trim().parse().ok());
                let scale = it
                    .next()
                    .and_then(|s| s.split(',').next())
                    .and_then(|s| s.trim().parse().ok());
                if let (Some(seed), Some(scale)) = (seed, scale) {
                    recipe.generator = Some((seed, scale));
                }
            } else if !part.trim().is_empty() {
                recipe.data.push(PathBuf::from(part.trim()));
            }
        }
        recipe
    }
}

fn base_manifest(base: &str) -> Result<crate::ml::manifest::Manifest> {
    if base == "embedded" {
        return crate::ml::embedded::manifest().context("reading the embedded manifest");
    }
    let path = Path::new(base).join(crate::ml::manifest::MANIFEST_FILE);
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    crate::ml::manifest::Manifest::from_json(&bytes)
        .with_context(|| format!("parsing {}", path.display()))
}

/// The arguments with the base set's recipe folded in: its generator run (unless
/// `--generate` was given) and its data files, then the new data.
pub fn with_base(args: &TrainArgs) -> Result<TrainArgs> {
    let Some(base) = &args.base else {
        return Ok(args.clone());
    };
    let manifest = base_manifest(base)?;
    let recipe = Recipe::of(&manifest);
    let mut out = args.clone();
    if let (Some((seed, scale)), false) = (recipe.generator, args.generate) {
        out.generate = true;
        out.seed = seed;
        out.scale = scale;
    }
    let mut data = Vec::new();
    for file in recipe.data {
        if file.exists() {
            data.push(file);
        } else {
            eprintln!(
                "base {}: training file {} not found; retraining without it",
                manifest.set_version,
                file.display()
            );
        }
    }
    data.extend(args.data.iter().cloned());
    out.data = data;
    eprintln!(
        "base {}: {}{} data file(s)",
        manifest.set_version,
        match recipe.generator {
            Some((seed, scale)) => format!("generator seed {seed} scale {scale}, "),
            None => String::new(),
        },
        out.data.len()
    );
    Ok(out)
}

/// Rejected lines shown before summarizing the rest.
const REJECTS_SHOWN: usize = 10;

/// Reads a labelled JSON-lines file (paths in it are relative to its folder), showing the
/// first lines it skipped on standard error.
pub(super) fn read_labelled(path: &Path) -> Result<labelled::Labelled> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let base = path.parent().map(PathBuf::from).unwrap_or_default();
    let read = labelled::read(BufReader::new(file), &base)
        .with_context(|| format!("reading {}", path.display()))?;
    for (line, reason) in read.rejected.iter().take(REJECTS_SHOWN) {
        eprintln!("{}:{line}: skipped: {reason}", path.display());
    }
    if read.rejected.len() > REJECTS_SHOWN {
        eprintln!(
            "{}: {} more lines skipped",
            path.display(),
            read.rejected.len() - REJECTS_SHOWN
        );
    }
    Ok(read)
}

pub fn run(args: &TrainArgs) -> Result<()> {
    let base_version = match &args.base {
        Some(b) => Some(base_manifest(b)?.set_version),
        None => None,
    };
    let args = &with_base(args)?;
    if args.data.is_empty() && !args.generate {
        bail!("nothing to train on: give --data FILE (labelled JSON lines) and/or --generate");
    }
    let extractor = Extractor::new();
    let mut data = Dataset::new();
    let mut sources = Vec::new();
    let mut labelling = Vec::new();

    if args.generate {
        let config = SynthConfig {
            seed: args.seed,
            scale: args.scale,
            ..SynthConfig::default()
        };
        let mut written = match &args.write_data {
            Some(path) => Some((
                path,
                BufWriter::new(
                    File::create(path).with_context(|| format!("creating {}", path.display()))?,
                ),
                0usize,
            )),
            None => None,
        };
        for organisation in synth::training_organisations(&config) {
            let items = synth::generate(&organisation);
            if let Some((_, out, n)) = &mut written {
                labelled::write_generated(&items, out)?;
                *n += items.len();
            }
            let (generated, _) =
                synth::to_dataset(&items, &extractor).map_err(anyhow::Error::msg)?;
            eprintln!(
                "generated {} records (seed {}, scale {})",
                generated.len(),
                organisation.seed,
                organisation.scale
            );
            for i in 0..generated.len() {
                match generated.log_types.get(i) {
                    Some(t) => data.push_typed(*t, generated.row(i), generated.labels[i]),
                    None => data.push(generated.row(i), generated.labels[i]),
                }
            }
        }
        if let Some((path, mut out, n)) = written {
            out.flush()?;
            eprintln!("wrote {n} generated records to {}", path.display());
        }
        let smaller: Vec<String> = synth::TRAINING_VOLUMES[1..]
            .iter()
            .map(|v| format!("{v}x"))
            .collect();
        sources.push(format!(
            "s3-sentinel synthetic generator, seed {}, scale {}, with smaller organisations at {} of that volume (seeds {}..{}), each replayed through the pattern stage in {}-second objects per log type",
            args.seed,
            args.scale,
            smaller.join(" and "),
            args.seed.wrapping_add(1),
            args.seed.wrapping_add(smaller.len() as u64),
            replay::OBJECT_SECONDS
        ));
        labelling.push("knowledge over generator scenarios: CloudTrail records a detection rule of effective level high+ matches, or in a credential, discovery or denied burst, are critical_security; generated CloudTrail attacks outside the catalogue's non-discovery tactics are left out; otherwise the scenario's label (attack -> critical_security, operational failures -> system_error, slowness -> performance, rest -> normal; see training::knowledge)".to_string());
    }

    let rules = RulePack::embedded();
    for path in &args.data {
        let mut read = read_labelled(path)?;
        // Exported Sentinel rows carry the pattern stage's columns; raw records get them
        // by replaying the file through it, as the generated data does.
        replay::analyze_missing(&mut read.records, AnalyzerConfig::default());
        eprintln!(
            "{}: {} labelled records, {} lines skipped",
            path.display(),
            read.records.len(),
            read.rejected.len()
        );
        for (record, label) in read.records.iter().zip(&read.labels) {
            let mut row = extractor.extract(record);
            knowledge::fill(&mut row, record, &rules);
            data.push_typed(record.log_type, &row, *label);
        }
        sources.push(path.display().to_string());
        labelling.push(format!("labels given in {}", path.display()));
    }

    let mut history_records = Vec::new();
    let history_paths: Vec<String> = args
        .history
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    for file in super::process::expand_paths(&history_paths)? {
        let read = history::read_file(Path::new(&file)).map_err(anyhow::Error::msg)?;
        eprintln!(
            "{file}: {} history records, {} skipped",
            read.records.len(),
            read.rejected
        );
        history_records.extend(read.records);
    }
    let history = history::rows(history_records, &rules);
    if !args.history.is_empty() {
        eprintln!(
            "history: {} records kept as the deployment's normal traffic, {} left out as known-bad",
            history.dataset.len(),
            history.left_out
        );
        sources.push(format!(
            "deployment history (anomaly model only): {}",
            history_paths.join(", ")
        ));
    }

    let set_version = args
        .set_version
        .clone()
        .unwrap_or_else(|| format!("trained-{}", chrono::Utc::now().format("%Y%m%dT%H%M%SZ")));
    let provenance = Provenance {
        set_version,
        source: sources.join(" + "),
        labelling: labelling.join("; "),
    };
    let mut trained = artifacts::train_and_export(
        &data,
        &history.dataset,
        &TrainConfig::default(),
        &provenance,
    )?;
    if let Some(v) = base_version {
        trained
            .manifest
            .extra
            .insert("base_set_version".to_string(), serde_json::json!(v));
    }
    // Loading through tract checks the files exactly as the function will.
    trained
        .load()
        .context("the trained models failed to load")?;
    trained.write_to(&args.out)?;
    let r = &trained.report;
    eprintln!(
        "trained on {} rows ({} held out): anomaly {} components ({:.1}% variance), held-out ROC-AUC critical vs normal {}; classifier macro-F1 {:.3}, accuracy {:.3}",
        r.training_rows,
        r.holdout_rows,
        r.anomaly.components,
        r.anomaly.explained_variance * 100.0,
        r.anomaly
            .holdout_auc_critical
            .map_or("n/a".to_string(), |a| format!("{a:.4}")),
        r.classifier.macro_f1,
        r.classifier.accuracy
    );
    eprintln!("wrote {}", args.out.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipes_come_from_the_manifest_or_its_source_text() {
        let mut m = crate::ml::embedded::manifest().unwrap();
        assert_eq!(
            Recipe::of(&m),
            Recipe {
                generator: Some((20_250_106, 1.0)),
                data: Vec::new(),
            }
        );
        m.training_data.source =
            "s3-sentinel synthetic generator, seed 5, scale 0.5 + verdicts.jsonl".into();
        assert_eq!(
            Recipe::of(&m),
            Recipe {
                generator: Some((5, 0.5)),
                data: vec![PathBuf::from("verdicts.jsonl")],
            }
        );
        let stored = Recipe {
            generator: None,
            data: vec![PathBuf::from("a.jsonl")],
        };
        m.extra.insert(
            "training_recipe".into(),
            serde_json::to_value(&stored).unwrap(),
        );
        assert_eq!(Recipe::of(&m), stored);
    }
}

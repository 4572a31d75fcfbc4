//! `s3-sentinel train`: trains the anomaly model and the classifier and writes
//! `anomaly.onnx`, `classifier.onnx` and `manifest.json`.
//!
//! Data comes from labelled JSON lines (`--data`, format in `ml::labelled`), from the
//! project's generator (`--generate`, what the default models are trained on), or both.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use crate::features::Extractor;
use crate::ml::artifacts::{self, Provenance};
use crate::ml::labelled;
use crate::ml::synth::{self, SynthConfig};
use crate::ml::train::{Dataset, TrainConfig};

#[derive(Debug, Clone)]
pub struct TrainArgs {
    pub data: Vec<PathBuf>,
    pub generate: bool,
    pub seed: u64,
    pub scale: f64,
    pub write_data: Option<PathBuf>,
    pub out: PathBuf,
    pub set_version: Option<String>,
}

/// Rejected lines shown before summarizing the rest.
const REJECTS_SHOWN: usize = 10;

pub fn run(args: &TrainArgs) -> Result<()> {
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
        let items = synth::generate(&config);
        if let Some(path) = &args.write_data {
            let file =
                File::create(path).with_context(|| format!("creating {}", path.display()))?;
            let mut out = BufWriter::new(file);
            labelled::write_generated(&items, &mut out)?;
            out.flush()?;
            eprintln!(
                "wrote {} generated records to {}",
                items.len(),
                path.display()
            );
        }
        let (generated, _) = synth::to_dataset(&items, &extractor).map_err(anyhow::Error::msg)?;
        eprintln!(
            "generated {} records (seed {}, scale {})",
            generated.len(),
            args.seed,
            args.scale
        );
        data.features.extend_from_slice(&generated.features);
        data.labels.extend_from_slice(&generated.labels);
        sources.push(format!(
            "s3-sentinel synthetic generator, seed {}, scale {}",
            args.seed, args.scale
        ));
        labelling.push("generator scenarios (attack -> critical_security, operational failures -> system_error, slowness -> performance, rest -> normal; see ml::synth)".to_string());
    }

    for path in &args.data {
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
        eprintln!(
            "{}: {} labelled records, {} lines skipped",
            path.display(),
            read.records.len(),
            read.rejected.len()
        );
        for (record, label) in read.records.iter().zip(&read.labels) {
            data.push(&extractor.extract(record), *label);
        }
        sources.push(path.display().to_string());
        labelling.push(format!("labels given in {}", path.display()));
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
    let trained = artifacts::train_and_export(&data, &TrainConfig::default(), &provenance)?;
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

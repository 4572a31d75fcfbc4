//! Retraining through the connector API: [`Connector::update_models`] trains both models
//! on labelled feature vectors and puts the new set in service.

use super::artifacts::{self, Artifacts, Provenance};
use super::train::{Dataset, TrainConfig, TrainError};
use crate::enrich::Connector;
use crate::features::{FeatureVector, N_FEATURES};
use crate::ml::Category;
use crate::ml::runtime::ModelError;

/// Why [`Connector::update_models`] changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// Features and labels differ in number.
    #[error("{labels} labels for {rows} feature rows")]
    Mismatch {
        /// Feature rows given.
        rows: usize,
        /// Labels given.
        labels: usize,
    },
    /// Training failed.
    #[error("training failed: {0}")]
    Train(#[from] TrainError),
    /// The new models did not load or pass their checks.
    #[error("the new models were not put in service: {0}")]
    Load(#[from] ModelError),
}

impl Connector {
    /// Retrains both models on labelled feature vectors and, if the new set loads and
    /// passes the probe batch, puts it in service. Returns the new set's files (to save
    /// or deploy) with its training report.
    ///
    /// ```no_run
    /// # use s3_sentinel_connector::Connector;
    /// # use s3_sentinel_connector::Category;
    /// # fn labelled() -> (Vec<s3_sentinel_connector::Record>, Vec<Category>) { unimplemented!() }
    /// let connector = Connector::new()?;
    /// let (records, labels) = labelled();
    /// let features = connector.extract_features(&records);
    /// let trained = connector.update_models(&features, &labels)?;
    /// println!("macro F1 {:.3}", trained.report.classifier.macro_f1);
    /// trained.write_to(std::path::Path::new("models/"))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn update_models(
        &self,
        features: &[FeatureVector],
        labels: &[Category],
    ) -> Result<Artifacts, UpdateError> {
        self.update_models_with(features, labels, &TrainConfig::default())
    }

    /// [`Connector::update_models`] with other training settings.
    pub fn update_models_with(
        &self,
        features: &[FeatureVector],
        labels: &[Category],
        config: &TrainConfig,
    ) -> Result<Artifacts, UpdateError> {
        if features.len() != labels.len() {
            return Err(UpdateError::Mismatch {
                rows: features.len(),
                labels: labels.len(),
            });
        }
        let mut data = Dataset {
            features: Vec::with_capacity(features.len() * N_FEATURES),
            labels: labels.to_vec(),
            log_types: Vec::new(),
        };
        for f in features {
            data.features.extend_from_slice(f);
        }
        let provenance = Provenance {
            set_version: format!("updated-{}", chrono::Utc::now().format("%Y%m%dT%H%M%SZ")),
            source: format!("update_models: {} labelled feature rows", labels.len()),
            labelling: "labels supplied by the caller".to_string(),
        };
        let trained = artifacts::train_and_export(&data, &Dataset::new(), config, &provenance)?;
        let models = trained.load()?;
        self.scorer().models().replace(models);
        Ok(trained)
    }
}

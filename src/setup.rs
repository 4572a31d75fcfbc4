//! The connector assembled from its configuration: AWS clients built once and shared, the
//! stores, the Sentinel delivery, the enrichment chain and the [`Runner`]. The Lambda and
//! `s3-sentinel process` both start here, so the command line runs what the function runs.

use std::sync::Arc;

use aws_config::{BehaviorVersion, SdkConfig};
use tokio::sync::OnceCell;

use crate::config::{Config, PipelineConfig, Platform};
use crate::enrich::Enricher;
use crate::ml::runtime::ModelError;
use crate::runner::Runner;
use crate::sink::dead_letter::{DeadLetter, DeadLetterLocation};
use crate::sink::sentinel::{
    CredentialServices, CredentialsSource, SentinelClient, SentinelSettings,
};
use crate::sink::{Delivery, SentinelDelivery};
use crate::source::ObjectSource;
use crate::state::local::LocalDirStore;
use crate::state::s3::S3StateStore;
use crate::state::{S3Location, StateStore};

/// The AWS configuration and clients, built on first use and then shared: loading the
/// configuration can take a moment outside AWS, and a run that needs no AWS service (a
/// local dead letter, environment credentials) never pays for it.
pub struct Aws {
    path_style: bool,
    config: OnceCell<SdkConfig>,
    s3: OnceCell<aws_sdk_s3::Client>,
}

impl Aws {
    /// Clients for this platform (a custom S3 endpoint gets path-style addressing, since
    /// `bucket.localhost` does not resolve).
    pub fn new(platform: &Platform) -> Aws {
        Aws {
            path_style: platform.custom_s3_endpoint,
            config: OnceCell::new(),
            s3: OnceCell::new(),
        }
    }

    /// The standard AWS configuration (environment, profile, container or instance
    /// credentials; `AWS_ENDPOINT_URL` is honoured by the SDK itself).
    pub async fn config(&self) -> &SdkConfig {
        self.config
            .get_or_init(|| aws_config::load_defaults(BehaviorVersion::latest()))
            .await
    }

    pub async fn s3(&self) -> aws_sdk_s3::Client {
        self.s3
            .get_or_init(|| async {
                let custom = self.path_style || self.config().await.endpoint_url().is_some();
                let s3_config = aws_sdk_s3::config::Builder::from(self.config().await)
                    .force_path_style(custom)
                    .build();
                aws_sdk_s3::Client::from_conf(s3_config)
            })
            .await
            .clone()
    }

    pub async fn secrets(&self) -> aws_sdk_secretsmanager::Client {
        aws_sdk_secretsmanager::Client::new(self.config().await)
    }

    /// STS on the configuration's regional endpoint (`AWS_ENDPOINT_URL_STS` overrides it).
    pub async fn sts(&self) -> aws_sdk_sts::Client {
        aws_sdk_sts::Client::new(self.config().await)
    }

    /// A store under an S3 prefix.
    pub async fn store(&self, location: &S3Location) -> Arc<dyn StateStore> {
        Arc::new(S3StateStore::new(
            self.s3().await,
            &location.bucket,
            &location.prefix,
        ))
    }
}

/// The shipped enrichment ([`crate::enrich::default_stages`]) with the configured model
/// store and `state` (the runner's, so damage in it is reported once).
pub async fn enricher(
    pipeline: &PipelineConfig,
    aws: &Aws,
    state: Option<Arc<dyn StateStore>>,
) -> Result<Arc<dyn Enricher>, ModelError> {
    let models = match &pipeline.model_store {
        Some(location) => Some(aws.store(location).await),
        None => None,
    };
    let stages = crate::enrich::default_stages(pipeline.models.clone(), models, state)?;
    Ok(Arc::new(stages))
}

/// The dead letter at a configured location.
pub async fn dead_letter(location: &DeadLetterLocation, aws: &Aws) -> DeadLetter {
    match location {
        DeadLetterLocation::Dir(dir) => DeadLetter::dir(dir.clone()),
        DeadLetterLocation::S3(loc) => DeadLetter::s3(aws.s3().await, loc),
    }
}

/// The Sentinel client of these settings. Credentials are fetched at the first token
/// request, so an unavailable Secrets Manager or STS fails deliveries (which are
/// retried), not the start, and the cold start makes no call for them.
pub async fn sentinel_client(
    settings: &SentinelSettings,
    aws: &Aws,
) -> anyhow::Result<SentinelClient> {
    let mut services = CredentialServices::default();
    match &settings.credentials {
        CredentialsSource::SecretsManager { .. } => services.secrets = Some(aws.secrets().await),
        CredentialsSource::AwsFederation(_) => services.sts = Some(aws.sts().await),
        CredentialsSource::Environment(_) => {}
    }
    SentinelClient::with_credentials(settings, services)
}

/// Delivery to Sentinel with the configured dead letter (and rejected input lines
/// beside it).
pub async fn sentinel_delivery(config: &Config, aws: &Aws) -> anyhow::Result<SentinelDelivery> {
    let client = sentinel_client(&config.sentinel, aws).await?;
    let (dead_letter, rejects): (Option<DeadLetter>, Option<Arc<dyn StateStore>>) = match &config
        .dead_letter
    {
        Some(location) => {
            let rejects: Arc<dyn StateStore> = match location {
                DeadLetterLocation::Dir(dir) => Arc::new(LocalDirStore::new(dir.clone())),
                DeadLetterLocation::S3(loc) => aws.store(loc).await,
            };
            (Some(dead_letter(location, aws).await), Some(rejects))
        }
        None => {
            tracing::warn!(
                "no DEAD_LETTER_BUCKET: rows Sentinel refuses will fail their object so it is retried"
            );
            (None, None)
        }
    };
    Ok(SentinelDelivery {
        client,
        dead_letter,
        rejects,
    })
}

/// The runner of a pipeline configuration: objects from `source`, rows to `delivery`, one
/// state store (when configured) shared by the ledger (unless `ledger` is off) and the
/// enrichment stages.
pub async fn runner(
    pipeline: &PipelineConfig,
    aws: &Aws,
    source: Arc<dyn ObjectSource>,
    delivery: Arc<dyn Delivery>,
    ledger: bool,
) -> Result<Runner, ModelError> {
    let state = match &pipeline.state {
        Some(location) => Some(aws.store(location).await),
        None => {
            if ledger {
                tracing::warn!(
                    "no STATE_BUCKET: repeated S3 events are not deduplicated and timeouts restart objects"
                );
            }
            None
        }
    };
    let mut settings = pipeline.runner.clone();
    settings.ledger = ledger;
    Ok(Runner {
        source,
        enricher: enricher(pipeline, aws, state.clone()).await?,
        state,
        delivery,
        settings,
    })
}

//! The connector's configuration, read from environment variables (or an explicit map,
//! for tests and tools) once at start-up. This is the only module that reads the
//! environment: each component owns its settings type (`SentinelSettings`,
//! `ModelSettings`, `RunnerSettings`, the locations of its stores) and this module fills
//! them in. Every problem is one [`ConfigError`] naming the variable; secret values never
//! appear in errors or in `Debug` output.

use std::collections::HashMap;
use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::time::Duration;

use crate::enrich::ModelSettings;
use crate::record::Table;
use crate::runner::RunnerSettings;
use crate::sink::dead_letter::DeadLetterLocation;
use crate::sink::sentinel::auth::validate_tenant;
use crate::sink::sentinel::{
    AzureCredentials, CredentialsSource, DEFAULT_ALERT_STREAM, DEFAULT_AUTHORITY_HOST,
    DEFAULT_FEDERATION_AUDIENCE, DEFAULT_TOKEN_SCOPE, DeliverySettings, FederationSettings,
    MAX_REQUEST_BYTES, Secret, SentinelSettings, StreamMap, quoted, validate_stream_target,
};
use crate::state::S3Location;

/// The whole configuration of the function (and of `s3-sentinel process --sentinel`).
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// How objects are read, enriched and remembered.
    pub pipeline: PipelineConfig,
    /// Where rows go.
    pub sentinel: SentinelSettings,
    /// Where rows Sentinel refuses go; without one they fail their object.
    pub dead_letter: Option<DeadLetterLocation>,
    /// `LOG_BUCKETS`: the only buckets whose objects an event may name (the role can read
    /// the state and dead-letter prefixes too); `None` accepts any.
    pub log_buckets: Option<Vec<String>>,
}

/// Everything but delivery: what a local run that writes files needs too.
#[derive(Clone, Debug, PartialEq)]
pub struct PipelineConfig {
    /// How objects are read, batched and checkpointed.
    pub runner: RunnerSettings,
    /// How records are scored and the models kept current.
    pub models: ModelSettings,
    /// `STATE_BUCKET`/`STATE_PREFIX`: the object ledger, pattern database, thresholds
    /// and drift counts.
    pub state: Option<S3Location>,
    /// `MODEL_BUCKET`/`MODEL_PREFIX`: published model sets.
    pub model_store: Option<S3Location>,
}

/// What the platform says about where the connector runs (variables Lambda and the AWS
/// tooling set, not the operator).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Platform {
    /// `AWS_LAMBDA_FUNCTION_NAME`; the metrics' `FunctionName` dimension.
    pub function_name: String,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, in MB.
    pub memory_limit_mb: Option<f64>,
    /// `AWS_ENDPOINT_URL` or `AWS_ENDPOINT_URL_S3` is set: a local S3, which needs
    /// path-style addressing.
    pub custom_s3_endpoint: bool,
    /// `RUST_LOG`: the log filter.
    pub log_filter: Option<String>,
}

/// Memory that buys a function one full vCPU; Lambda scales CPU with memory.
pub const MB_PER_VCPU: f64 = 1_769.0;

impl Platform {
    /// vCPUs the function's memory size gives, rounded (at least one; 6 at 10,240 MB): how many objects of
    /// one SQS batch it processes side by side.
    pub fn vcpus(&self) -> usize {
        self.memory_limit_mb
            .map_or(1, |mb| (mb / MB_PER_VCPU).round().max(1.0) as usize)
    }

    /// Reads the variables Lambda and the AWS tooling set.
    pub fn from_env() -> Platform {
        let get = |name: &str| env_lookup(name).filter(|v| !v.trim().is_empty());
        Platform {
            function_name: get("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|| "s3-sentinel".into()),
            memory_limit_mb: get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
                .and_then(|v| v.trim().parse().ok()),
            custom_s3_endpoint: get("AWS_ENDPOINT_URL").is_some()
                || get("AWS_ENDPOINT_URL_S3").is_some(),
            log_filter: get("RUST_LOG"),
        }
    }
}

/// One configuration problem, naming the variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {variable}: {message}")]
pub struct ConfigError {
    /// The variable at fault.
    pub variable: &'static str,
    /// What is wrong with it.
    pub message: String,
}

fn err(variable: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        message: message.into(),
    }
}

/// Variable names, in one place so docs, errors and tests agree.
pub mod vars {
    /// Logs ingestion endpoint of the DCR, or of a DCE; required.
    pub const INGESTION_ENDPOINT: &str = "SENTINEL_INGESTION_ENDPOINT";
    /// The DCR's immutable id (`dcr-...`); required.
    pub const DCR_IMMUTABLE_ID: &str = "SENTINEL_DCR_IMMUTABLE_ID";
    /// JSON object table name -> stream (`Custom-X` or `dcr-<id>/Custom-X`).
    pub const STREAM_MAP: &str = "SENTINEL_STREAM_MAP";
    /// OAuth scope of the token; ends in `/.default`.
    pub const TOKEN_SCOPE: &str = "SENTINEL_TOKEN_SCOPE";
    /// Requests in flight per batch, 1 to 64.
    pub const MAX_PARALLEL_REQUESTS: &str = "SENTINEL_MAX_PARALLEL_REQUESTS";
    /// Seconds one HTTP attempt may take, 0.1 to 900.
    pub const REQUEST_TIMEOUT_SECONDS: &str = "SENTINEL_REQUEST_TIMEOUT_SECONDS";
    /// Most bytes of one gzip request body, from 1024 up to the API's limit.
    pub const MAX_REQUEST_BYTES: &str = "SENTINEL_MAX_REQUEST_BYTES";
    /// Attempts per request before its rows are dead-lettered, 1 to 100.
    pub const MAX_ATTEMPTS: &str = "SENTINEL_MAX_ATTEMPTS";
    /// Gzip level of request bodies, 1 (fastest) to 9 (smallest).
    pub const GZIP_LEVEL: &str = "SENTINEL_GZIP_LEVEL";
    /// Secrets Manager secret with `tenant_id`, `client_id` and `client_secret`.
    pub const CREDENTIALS_SECRET_ARN: &str = "AZURE_CREDENTIALS_SECRET_ARN";
    /// Entra ID tenant, with credentials from the environment.
    pub const TENANT_ID: &str = "AZURE_TENANT_ID";
    /// Application (client) id, with credentials from the environment.
    pub const CLIENT_ID: &str = "AZURE_CLIENT_ID";
    /// Client secret, with credentials from the environment.
    pub const CLIENT_SECRET: &str = "AZURE_CLIENT_SECRET";
    /// Entra ID authority URL (sovereign clouds, the emulator).
    pub const AUTHORITY_HOST: &str = "AZURE_AUTHORITY_HOST";
    /// How the function proves itself to Entra ID: `secret` (the default: a client secret
    /// from Secrets Manager or the environment) or `aws-federation` (no secret: the
    /// function's AWS identity token as a client assertion).
    pub const AUTH: &str = "AZURE_AUTH";
    /// Audience of the AWS identity token with `aws-federation`.
    pub const FEDERATION_AUDIENCE: &str = "AZURE_FEDERATION_AUDIENCE";
    /// Bucket of the state kept between invocations.
    pub const STATE_BUCKET: &str = "STATE_BUCKET";
    /// Key prefix of that state, `state/` by default.
    pub const STATE_PREFIX: &str = "STATE_PREFIX";
    /// Bucket of the dead letter.
    pub const DEAD_LETTER_BUCKET: &str = "DEAD_LETTER_BUCKET";
    /// Key prefix of the dead letter, `dead-letter/` by default.
    pub const DEAD_LETTER_PREFIX: &str = "DEAD_LETTER_PREFIX";
    /// A local folder as the dead letter, instead of the bucket.
    pub const DEAD_LETTER_DIR: &str = "DEAD_LETTER_DIR";
    /// Anomaly score from which a record is an anomaly, 0..=1.
    pub const ANOMALY_THRESHOLD: &str = "ANOMALY_THRESHOLD";
    /// Priority score from which a record raises an alert, 0..=1.
    pub const PRIORITY_THRESHOLD: &str = "PRIORITY_THRESHOLD";
    /// Bucket of the published model sets.
    pub const MODEL_BUCKET: &str = "MODEL_BUCKET";
    /// Key prefix of the model sets, `models/` by default.
    pub const MODEL_PREFIX: &str = "MODEL_PREFIX";
    /// Minutes between looks for a new model manifest.
    pub const MODEL_CHECK_MINUTES: &str = "MODEL_CHECK_MINUTES";
    /// Ed25519 public key, 64 hex digits, that model manifests must be signed with.
    pub const MODEL_PUBLIC_KEY: &str = "MODEL_PUBLIC_KEY";
    /// `true` serves unsigned model manifests (an explicit opt-out of signing).
    pub const MODEL_ALLOW_UNSIGNED: &str = "MODEL_ALLOW_UNSIGNED";
    /// Comma-separated buckets whose objects may be read; events naming others are refused.
    pub const LOG_BUCKETS: &str = "LOG_BUCKETS";
    /// Minutes between merges of the adaptive thresholds into the state.
    pub const THRESHOLD_PERSIST_MINUTES: &str = "THRESHOLD_PERSIST_MINUTES";
    /// Hours after which a log type's drift counts restart.
    pub const DRIFT_WINDOW_HOURS: &str = "DRIFT_WINDOW_HOURS";
    /// Rows a log type's drift window needs before its PSI is published.
    pub const DRIFT_MIN_ROWS: &str = "DRIFT_MIN_ROWS";
    /// Stream of the alert records.
    pub const ALERT_STREAM: &str = "ALERT_STREAM";
    /// Records per batch (enriched, delivered and checkpointed together).
    pub const BATCH_RECORDS: &str = "S3_SENTINEL_BATCH_RECORDS";
    /// Seconds kept in reserve before the function's deadline to checkpoint and answer.
    pub const SAFETY_MARGIN_SECONDS: &str = "S3_SENTINEL_SAFETY_MARGIN_SECONDS";
    /// Seconds past an invocation's deadline before another invocation may take over an
    /// object it was processing (clock skew between instances).
    pub const LEASE_GRACE_SECONDS: &str = "S3_SENTINEL_LEASE_GRACE_SECONDS";
    /// Most decompressed bytes per object.
    pub const MAX_DECOMPRESSED_BYTES: &str = "S3_SENTINEL_MAX_DECOMPRESSED_BYTES";
}

/// Reads variables by name; empty values count as unset (templates often pass `""` for an
/// unused parameter).
struct Vars<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl Vars<'_> {
    fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.get(name)
            .ok_or_else(|| err(name, "is required but not set"))
    }

    fn parse<T: std::str::FromStr>(
        &self,
        name: &'static str,
        default: T,
        what: &str,
    ) -> Result<T, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| err(name, format!("must be {what}, got {}", quoted(&v)))),
        }
    }

    /// A value within `range` (`what` it is, as for [`Vars::parse`]); one outside is an
    /// error that names the range, in `unit`.
    fn parse_in<T>(
        &self,
        name: &'static str,
        default: T,
        what: &str,
        range: RangeInclusive<T>,
        unit: &str,
    ) -> Result<T, ConfigError>
    where
        T: std::str::FromStr + PartialOrd + std::fmt::Display,
    {
        let value = self.parse(name, default, what)?;
        if range.contains(&value) {
            return Ok(value);
        }
        let (low, high) = range.into_inner();
        Err(err(
            name,
            format!("must be from {low} to {high}{unit}, got {value}"),
        ))
    }

    /// A whole number within `range`.
    fn whole_number_in<T>(
        &self,
        name: &'static str,
        default: T,
        range: RangeInclusive<T>,
    ) -> Result<T, ConfigError>
    where
        T: std::str::FromStr + PartialOrd + std::fmt::Display,
    {
        let what = format!("a whole number from {} to {}", range.start(), range.end());
        self.parse_in(name, default, &what, range, "")
    }

    /// A whole number of `unit`s above 0, as a duration of `seconds_per_unit` each.
    fn duration(
        &self,
        name: &'static str,
        default: Duration,
        unit: &str,
        seconds_per_unit: u64,
    ) -> Result<Duration, ConfigError> {
        let what = format!("a whole number of {unit} above 0");
        match self.get(name) {
            None => Ok(default),
            Some(_) => {
                let n: u64 = self.parse(name, 0, &what)?;
                if n == 0 {
                    return Err(err(name, format!("must be {what}, got 0")));
                }
                Ok(Duration::from_secs(n.saturating_mul(seconds_per_unit)))
            }
        }
    }
}

fn env_lookup(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn map_lookup<K, V, S>(map: &HashMap<K, V, S>) -> impl Fn(&str) -> Option<String> + '_
where
    K: std::borrow::Borrow<str> + std::hash::Hash + Eq,
    V: AsRef<str>,
    S: std::hash::BuildHasher,
{
    move |name| map.get(name).map(|v| v.as_ref().to_string())
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(&env_lookup)
    }

    #[cfg(test)]
    /// Reads an explicit map (tests, tools) instead of the process environment.
    pub fn from_map<K, V, S>(map: &HashMap<K, V, S>) -> Result<Config, ConfigError>
    where
        K: std::borrow::Borrow<str> + std::hash::Hash + Eq,
        V: AsRef<str>,
        S: std::hash::BuildHasher,
    {
        Config::from_lookup(&map_lookup(map))
    }

    /// Reads variables through `lookup`, which returns `None` for unset ones.
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let vars = Vars { lookup };
        let sentinel = sentinel_settings(&vars)?;
        let dead_letter_s3 = s3_location(
            &vars,
            vars::DEAD_LETTER_BUCKET,
            vars::DEAD_LETTER_PREFIX,
            "dead-letter/",
        )?;
        let dead_letter = match (dead_letter_s3, vars.get(vars::DEAD_LETTER_DIR)) {
            (Some(_), Some(_)) => {
                return Err(err(
                    vars::DEAD_LETTER_DIR,
                    "set either DEAD_LETTER_BUCKET (S3) or DEAD_LETTER_DIR (a local folder), not both",
                ));
            }
            (Some(s3), None) => Some(DeadLetterLocation::S3(s3)),
            (None, Some(dir)) => Some(DeadLetterLocation::Dir(dir.into())),
            (None, None) => None,
        };
        let log_buckets = match vars.get(vars::LOG_BUCKETS) {
            None => None,
            Some(list) => {
                let buckets: Vec<String> = list
                    .split(',')
                    .map(str::trim)
                    .filter(|b| !b.is_empty())
                    .map(str::to_string)
                    .collect();
                if let Some(bad) = buckets.iter().find(|b| !valid_bucket(b)) {
                    return Err(err(
                        vars::LOG_BUCKETS,
                        format!(
                            "must be S3 bucket names separated by commas, got {}",
                            quoted(bad)
                        ),
                    ));
                }
                // Empty (a template parameter left blank) means no restriction, not "refuse
                // every event".
                (!buckets.is_empty()).then_some(buckets)
            }
        };
        Ok(Config {
            pipeline: pipeline_config(&vars)?,
            sentinel,
            dead_letter,
            log_buckets,
        })
    }
}

impl PipelineConfig {
    /// Reads the process environment.
    pub fn from_env() -> Result<PipelineConfig, ConfigError> {
        PipelineConfig::from_lookup(&env_lookup)
    }

    /// Reads variables through `lookup`, which returns `None` for unset ones.
    pub fn from_lookup(
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<PipelineConfig, ConfigError> {
        pipeline_config(&Vars { lookup })
    }
}

/// Only the Sentinel part (what `replay` needs).
pub fn sentinel_from_env() -> Result<SentinelSettings, ConfigError> {
    sentinel_settings(&Vars {
        lookup: &env_lookup,
    })
}

/// Only the Sentinel part, from an explicit map.
pub fn sentinel_from_map<K, V, S>(map: &HashMap<K, V, S>) -> Result<SentinelSettings, ConfigError>
where
    K: std::borrow::Borrow<str> + std::hash::Hash + Eq,
    V: AsRef<str>,
    S: std::hash::BuildHasher,
{
    sentinel_settings(&Vars {
        lookup: &map_lookup(map),
    })
}

fn pipeline_config(vars: &Vars<'_>) -> Result<PipelineConfig, ConfigError> {
    let model_store = s3_location(vars, vars::MODEL_BUCKET, vars::MODEL_PREFIX, "models/")?;
    let models = model_settings(vars)?;
    if model_store.is_some() && models.public_key.is_none() && !models.allow_unsigned {
        return Err(err(
            vars::MODEL_PUBLIC_KEY,
            "is required with MODEL_BUCKET: the function serves only signed model manifests \
             (set MODEL_ALLOW_UNSIGNED=true to serve unsigned ones)",
        ));
    }
    Ok(PipelineConfig {
        runner: runner_settings(vars)?,
        models,
        state: s3_location(vars, vars::STATE_BUCKET, vars::STATE_PREFIX, "state/")?,
        model_store,
    })
}

fn runner_settings(vars: &Vars<'_>) -> Result<RunnerSettings, ConfigError> {
    let mut settings = RunnerSettings::default();
    settings.batch_records =
        vars.whole_number_in(vars::BATCH_RECORDS, settings.batch_records, 1..=1_000_000)?;
    let seconds = |name, default: Duration, most: f64| {
        let what = "a number of seconds";
        let secs = vars.parse_in(name, default.as_secs_f64(), what, 0.0..=most, " seconds")?;
        Ok(Duration::from_secs_f64(secs))
    };
    settings.safety_margin = seconds(vars::SAFETY_MARGIN_SECONDS, settings.safety_margin, 600.0)?;
    settings.lease_grace = seconds(vars::LEASE_GRACE_SECONDS, settings.lease_grace, 900.0)?;
    settings.limits.max_decompressed_bytes = vars.parse(
        vars::MAX_DECOMPRESSED_BYTES,
        settings.limits.max_decompressed_bytes,
        "a number of bytes",
    )?;
    Ok(settings)
}

fn model_settings(vars: &Vars<'_>) -> Result<ModelSettings, ConfigError> {
    let defaults = ModelSettings::default();
    let public_key = vars.get(vars::MODEL_PUBLIC_KEY);
    if let Some(key) = &public_key
        && (key.len() != 64 || hex::decode(key).is_err())
    {
        return Err(err(
            vars::MODEL_PUBLIC_KEY,
            "must be 64 hex digits (an Ed25519 public key)",
        ));
    }
    let drift_min_rows = vars.parse(
        vars::DRIFT_MIN_ROWS,
        defaults.drift_min_rows,
        "a whole number above 0",
    )?;
    if drift_min_rows == 0 {
        return Err(err(
            vars::DRIFT_MIN_ROWS,
            "must be a whole number above 0, got 0",
        ));
    }
    Ok(ModelSettings {
        anomaly_threshold: unit_interval(
            vars,
            vars::ANOMALY_THRESHOLD,
            defaults.anomaly_threshold,
        )?,
        priority_threshold: unit_interval(
            vars,
            vars::PRIORITY_THRESHOLD,
            defaults.priority_threshold,
        )?,
        check_interval: vars.duration(
            vars::MODEL_CHECK_MINUTES,
            defaults.check_interval,
            "minutes",
            60,
        )?,
        public_key,
        allow_unsigned: boolean(vars, vars::MODEL_ALLOW_UNSIGNED)?,
        persist_interval: vars.duration(
            vars::THRESHOLD_PERSIST_MINUTES,
            defaults.persist_interval,
            "minutes",
            60,
        )?,
        drift_window: vars.duration(
            vars::DRIFT_WINDOW_HOURS,
            defaults.drift_window,
            "hours",
            3600,
        )?,
        drift_min_rows,
    })
}

fn sentinel_settings(vars: &Vars<'_>) -> Result<SentinelSettings, ConfigError> {
    let ingestion_endpoint = endpoint_url(
        vars::INGESTION_ENDPOINT,
        &vars.required(vars::INGESTION_ENDPOINT)?,
    )?;
    let dcr_immutable_id = vars.required(vars::DCR_IMMUTABLE_ID)?;
    if !dcr_immutable_id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(err(
            vars::DCR_IMMUTABLE_ID,
            format!(
                "must be a DCR immutable id such as \"dcr-0123456789abcdef0123456789abcdef\" \
                 (letters, digits, '-'), got {}",
                quoted(&dcr_immutable_id)
            ),
        ));
    }

    let alert_stream = vars
        .get(vars::ALERT_STREAM)
        .unwrap_or_else(|| DEFAULT_ALERT_STREAM.to_string());
    validate_stream_target(&alert_stream).map_err(|m| err(vars::ALERT_STREAM, m))?;
    let mut streams = StreamMap::default();
    streams.set(Table::S3SentinelAlerts, alert_stream);
    if let Some(json) = vars.get(vars::STREAM_MAP) {
        let overrides = StreamMap::parse_json(&json).map_err(|m| err(vars::STREAM_MAP, m))?;
        streams.extend(&overrides);
    }

    let credentials = credentials_source(vars)?;
    let authority_host = match vars.get(vars::AUTHORITY_HOST) {
        Some(v) => endpoint_url(vars::AUTHORITY_HOST, &v)?,
        None => DEFAULT_AUTHORITY_HOST.to_string(),
    };
    let token_scope = vars
        .get(vars::TOKEN_SCOPE)
        .unwrap_or_else(|| DEFAULT_TOKEN_SCOPE.to_string());
    if !token_scope.ends_with("/.default") {
        return Err(err(
            vars::TOKEN_SCOPE,
            format!(
                "must be a client-credentials scope ending in \"/.default\", got {}",
                quoted(&token_scope)
            ),
        ));
    }

    let defaults = DeliverySettings::default();
    let max_parallel_requests = vars.whole_number_in(
        vars::MAX_PARALLEL_REQUESTS,
        defaults.max_parallel_requests,
        1..=64,
    )?;
    // The range leaves out infinity and NaN.
    let timeout_seconds = vars.parse_in(
        vars::REQUEST_TIMEOUT_SECONDS,
        defaults.request_timeout.as_secs_f64(),
        "a number of seconds",
        0.1..=900.0,
        " seconds",
    )?;
    let max_request_bytes = vars.parse_in(
        vars::MAX_REQUEST_BYTES,
        defaults.max_request_bytes,
        "a number of bytes",
        1024..=MAX_REQUEST_BYTES,
        " (the API's limit)",
    )?;
    let max_attempts = vars.whole_number_in(vars::MAX_ATTEMPTS, defaults.max_attempts, 1..=100)?;
    let gzip_level = vars.whole_number_in(vars::GZIP_LEVEL, defaults.gzip_level, 1..=9)?;

    Ok(SentinelSettings {
        ingestion_endpoint,
        dcr_immutable_id,
        streams,
        credentials,
        authority_host,
        token_scope,
        delivery: DeliverySettings {
            max_parallel_requests,
            request_timeout: Duration::from_secs_f64(timeout_seconds),
            max_request_bytes,
            max_attempts,
            gzip_level,
            ..defaults
        },
    })
}

fn credentials_source(vars: &Vars<'_>) -> Result<CredentialsSource, ConfigError> {
    let secret_arn = vars.get(vars::CREDENTIALS_SECRET_ARN);
    let tenant = vars.get(vars::TENANT_ID);
    let client = vars.get(vars::CLIENT_ID);
    let secret = vars.get(vars::CLIENT_SECRET);
    match vars.get(vars::AUTH).as_deref() {
        None | Some("secret") => {}
        Some("aws-federation") => {
            // A secret beside it would be one more thing to leak, and a sign the
            // deployment is not what the operator thinks.
            for (variable, value) in [
                (vars::CLIENT_SECRET, &secret),
                (vars::CREDENTIALS_SECRET_ARN, &secret_arn),
            ] {
                if value.is_some() {
                    return Err(err(
                        variable,
                        "must not be set with AZURE_AUTH=aws-federation, which uses no secret",
                    ));
                }
            }
            let tenant_id = tenant.ok_or_else(|| {
                err(
                    vars::TENANT_ID,
                    "is required with AZURE_AUTH=aws-federation (the Entra ID tenant)",
                )
            })?;
            validate_tenant(&tenant_id).map_err(|m| err(vars::TENANT_ID, m))?;
            let client_id = client.ok_or_else(|| {
                err(
                    vars::CLIENT_ID,
                    "is required with AZURE_AUTH=aws-federation (the client id of the \
                     application or managed identity with the federated identity credential)",
                )
            })?;
            let audience = vars
                .get(vars::FEDERATION_AUDIENCE)
                .unwrap_or_else(|| DEFAULT_FEDERATION_AUDIENCE.to_string());
            return Ok(CredentialsSource::AwsFederation(FederationSettings {
                tenant_id,
                client_id,
                audience,
            }));
        }
        Some(other) => {
            return Err(err(
                vars::AUTH,
                format!("must be secret or aws-federation, got {}", quoted(other)),
            ));
        }
    }
    if let Some(secret_id) = secret_arn {
        if secret.is_some() {
            return Err(err(
                vars::CLIENT_SECRET,
                "set either AZURE_CREDENTIALS_SECRET_ARN or AZURE_CLIENT_SECRET, not both",
            ));
        }
        return Ok(CredentialsSource::SecretsManager { secret_id });
    }
    match (tenant, client, secret) {
        (Some(tenant_id), Some(client_id), Some(secret)) => {
            validate_tenant(&tenant_id).map_err(|m| err(vars::TENANT_ID, m))?;
            Ok(CredentialsSource::Environment(AzureCredentials {
                tenant_id,
                client_id,
                client_secret: Secret::new(secret),
            }))
        }
        (None, None, None) => Err(err(
            vars::CREDENTIALS_SECRET_ARN,
            "no Azure credentials: set AZURE_CREDENTIALS_SECRET_ARN (a Secrets Manager secret \
             with tenant_id, client_id, client_secret) or AZURE_TENANT_ID, AZURE_CLIENT_ID and \
             AZURE_CLIENT_SECRET",
        )),
        (tenant, client, _) => {
            let missing = if tenant.is_none() {
                vars::TENANT_ID
            } else if client.is_none() {
                vars::CLIENT_ID
            } else {
                vars::CLIENT_SECRET
            };
            Err(err(
                missing,
                "is required when Azure credentials come from the environment (set \
                 AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET together)",
            ))
        }
    }
}

/// An endpoint URL: https, or plain http for loopback addresses only (the emulator,
/// tests). Returned without a trailing `/`.
pub fn endpoint_url(variable: &'static str, value: &str) -> Result<String, ConfigError> {
    let url = reqwest::Url::parse(value).map_err(|e| {
        err(
            variable,
            format!("must be an https URL ({e}), got {}", quoted(value)),
        )
    })?;
    if !url.username().is_empty() || url.password().is_some() {
        // The value may hold a password: do not repeat it.
        return Err(err(variable, "must not contain a user name or password"));
    }
    let host = url.host_str().unwrap_or_default();
    if host.is_empty() {
        return Err(err(
            variable,
            format!("has no host name: {}", quoted(value)),
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(err(
            variable,
            format!("must not have a query or fragment: {}", quoted(value)),
        ));
    }
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(host) => {}
        "http" => {
            return Err(err(
                variable,
                format!(
                    "must use https (plain http is accepted only for 127.0.0.1, ::1 and \
                     localhost), got {}",
                    quoted(value)
                ),
            ));
        }
        other => {
            return Err(err(
                variable,
                format!("must be an https URL, got scheme {other:?}"),
            ));
        }
    }
    Ok(value.trim_end_matches('/').to_string())
}

fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

/// 3-63 lowercase letters, digits, '-' and '.'.
fn valid_bucket(bucket: &str) -> bool {
    (3..=63).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
}

fn s3_location(
    vars: &Vars<'_>,
    bucket_var: &'static str,
    prefix_var: &'static str,
    default_prefix: &str,
) -> Result<Option<S3Location>, ConfigError> {
    let Some(bucket) = vars.get(bucket_var) else {
        return Ok(None);
    };
    let valid_bucket = valid_bucket(&bucket);
    if !valid_bucket {
        return Err(err(
            bucket_var,
            format!(
                "must be an S3 bucket name (3-63 lowercase letters, digits, '-', '.'), got {}",
                quoted(&bucket)
            ),
        ));
    }
    let mut prefix = vars
        .get(prefix_var)
        .unwrap_or_else(|| default_prefix.to_string());
    let trimmed = prefix.trim_start_matches('/').to_string();
    prefix = trimmed;
    if !prefix.is_empty() && !prefix.ends_with('/') {
        prefix.push('/');
    }
    Ok(Some(S3Location { bucket, prefix }))
}

fn boolean(vars: &Vars<'_>, name: &'static str) -> Result<bool, ConfigError> {
    match vars.get(name).map(|v| v.to_ascii_lowercase()) {
        None => Ok(false),
        Some(v) if v == "true" || v == "1" => Ok(true),
        Some(v) if v == "false" || v == "0" => Ok(false),
        Some(v) => Err(err(
            name,
            format!("must be true or false, got {}", quoted(&v)),
        )),
    }
}

fn unit_interval(vars: &Vars<'_>, name: &'static str, default: f64) -> Result<f64, ConfigError> {
    vars.parse_in(name, default, "a number from 0 to 1", 0.0..=1.0, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_run_side_by_side_on_the_vcpus_the_memory_buys() {
        let at = |mb: Option<f64>| {
            Platform {
                memory_limit_mb: mb,
                ..Platform::default()
            }
            .vcpus()
        };
        assert_eq!(at(None), 1);
        assert_eq!(at(Some(128.0)), 1);
        assert_eq!(at(Some(1_769.0)), 1);
        assert_eq!(at(Some(3_538.0)), 2);
        assert_eq!(at(Some(10_240.0)), 6);
    }

    fn base() -> HashMap<&'static str, &'static str> {
        HashMap::from([
            (
                vars::INGESTION_ENDPOINT,
                "https://dce.eastus-1.ingest.monitor.azure.com/",
            ),
            (
                vars::DCR_IMMUTABLE_ID,
                "dcr-0123456789abcdef0123456789abcdef",
            ),
            (vars::TENANT_ID, "72f988bf-86f1-41af-91ab-2d7cd011db47"),
            (vars::CLIENT_ID, "app"),
            (vars::CLIENT_SECRET, "very-secret-value"),
        ])
    }

    fn with(extra: &[(&'static str, &'static str)]) -> Result<Config, ConfigError> {
        let mut map = base();
        for (k, v) in extra {
            map.insert(k, v);
        }
        Config::from_map(&map)
    }

    /// The variable `Config::from_map` names when it refuses `map`.
    fn refused_variable(map: &HashMap<&'static str, &'static str>) -> &'static str {
        Config::from_map(map).unwrap_err().variable
    }

    #[test]
    fn defaults_are_filled_in() {
        let config = with(&[]).unwrap();
        let s = &config.sentinel;
        assert_eq!(
            s.ingestion_endpoint,
            "https://dce.eastus-1.ingest.monitor.azure.com"
        );
        assert_eq!(s.authority_host, DEFAULT_AUTHORITY_HOST);
        assert_eq!(s.token_scope, DEFAULT_TOKEN_SCOPE);
        assert_eq!(
            s.streams.stream_for(Table::AwsCloudTrail),
            "Custom-AWSCloudTrail"
        );
        assert_eq!(
            s.streams.stream_for(Table::S3SentinelAlerts),
            DEFAULT_ALERT_STREAM
        );
        assert_eq!(s.delivery, DeliverySettings::default());
        assert_eq!(config.pipeline.models.anomaly_threshold, 0.95);
        assert_eq!(config.pipeline.models.priority_threshold, 0.8);
        assert_eq!(config.pipeline.state, None);
        assert_eq!(config.dead_letter, None);
    }

    #[test]
    fn secrets_stay_out_of_debug_and_errors() {
        let config = with(&[]).unwrap();
        let debug = format!("{config:?}");
        assert!(!debug.contains("very-secret-value"), "{debug}");
        assert!(debug.contains("***"));
        let e = with(&[(vars::CREDENTIALS_SECRET_ARN, "arn:aws:secretsmanager:x")]).unwrap_err();
        assert_eq!(e.variable, vars::CLIENT_SECRET);
        assert!(!e.to_string().contains("very-secret-value"));
        let e =
            with(&[(vars::INGESTION_ENDPOINT, "https://user:hunter2@example.com")]).unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }

    #[test]
    fn http_only_for_loopback() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://localhost:1",
            "http://[::1]:9000/",
            "https://example.com",
        ] {
            assert!(endpoint_url("X", ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://example.com",
            "http://10.0.0.1",
            "ftp://127.0.0.1",
            "not a url",
            "https://x/?a=b",
        ] {
            assert!(endpoint_url("X", bad).is_err(), "{bad}");
        }
        let e = with(&[(vars::AUTHORITY_HOST, "http://login.example.com")]).unwrap_err();
        assert_eq!(e.variable, vars::AUTHORITY_HOST);
        assert!(e.to_string().contains("https"), "{e}");
    }

    #[test]
    fn each_error_names_its_variable() {
        let mut map = base();
        map.remove(vars::INGESTION_ENDPOINT);
        assert_eq!(refused_variable(&map), vars::INGESTION_ENDPOINT);
        let cases: &[(&'static str, &'static str)] = &[
            (vars::DCR_IMMUTABLE_ID, "dcr/../x"),
            (vars::STREAM_MAP, "{\"AWSCloudTrail\": \"NoPrefix\"}"),
            (vars::STREAM_MAP, "{\"NoSuchTable\": \"Custom-X\"}"),
            (vars::STREAM_MAP, "[1,2]"),
            (vars::ANOMALY_THRESHOLD, "1.5"),
            (vars::PRIORITY_THRESHOLD, "high"),
            (vars::MAX_PARALLEL_REQUESTS, "0"),
            (vars::REQUEST_TIMEOUT_SECONDS, "-1"),
            (vars::MAX_REQUEST_BYTES, "2000000"),
            (vars::MAX_ATTEMPTS, "x"),
            (vars::STATE_BUCKET, "Bad_Bucket"),
            (vars::ALERT_STREAM, "alerts"),
            (vars::TOKEN_SCOPE, "https://monitor.azure.com"),
            (vars::TENANT_ID, "a/b"),
            (vars::LOG_BUCKETS, "logs,Not_A_Bucket"),
        ];
        for (var, value) in cases {
            let e = with(&[(var, value)]).unwrap_err();
            assert_eq!(e.variable, *var, "{var}={value}: {e}");
            assert!(e.to_string().contains(var), "{e}");
        }
        let e = with(&[
            (vars::DEAD_LETTER_BUCKET, "dl-bucket"),
            (vars::DEAD_LETTER_DIR, "/tmp/dl"),
        ])
        .unwrap_err();
        assert_eq!(e.variable, vars::DEAD_LETTER_DIR);
        // A model bucket without a key to check its manifests is an unsigned deployment,
        // which must be asked for.
        let e = with(&[(vars::MODEL_BUCKET, "models")]).unwrap_err();
        assert_eq!(e.variable, vars::MODEL_PUBLIC_KEY);
        assert!(e.to_string().contains(vars::MODEL_ALLOW_UNSIGNED), "{e}");
        let mut map = base();
        map.remove(vars::CLIENT_ID);
        assert_eq!(refused_variable(&map), vars::CLIENT_ID);
    }

    #[test]
    fn log_buckets_restrict_events_unless_blank() {
        let config = with(&[(vars::LOG_BUCKETS, " logs-a, logs-b ,")]).unwrap();
        assert_eq!(
            config.log_buckets,
            Some(vec!["logs-a".to_string(), "logs-b".to_string()])
        );
        assert_eq!(with(&[(vars::LOG_BUCKETS, "")]).unwrap().log_buckets, None);
        assert_eq!(with(&[]).unwrap().log_buckets, None);
    }

    #[test]
    fn secret_arn_replaces_environment_credentials() {
        let mut map = base();
        map.remove(vars::CLIENT_SECRET);
        map.remove(vars::TENANT_ID);
        map.remove(vars::CLIENT_ID);
        map.insert(
            vars::CREDENTIALS_SECRET_ARN,
            "arn:aws:secretsmanager:us-east-1:1:secret:x",
        );
        let config = Config::from_map(&map).unwrap();
        assert_eq!(
            config.sentinel.credentials,
            CredentialsSource::SecretsManager {
                secret_id: "arn:aws:secretsmanager:us-east-1:1:secret:x".into()
            }
        );
        map.remove(vars::CREDENTIALS_SECRET_ARN);
        assert_eq!(refused_variable(&map), vars::CREDENTIALS_SECRET_ARN);
    }

    #[test]
    fn aws_federation_needs_ids_and_no_secret() {
        let mut map = base();
        map.remove(vars::CLIENT_SECRET);
        map.insert(vars::AUTH, "aws-federation");
        let config = Config::from_map(&map).unwrap();
        assert_eq!(
            config.sentinel.credentials,
            CredentialsSource::AwsFederation(FederationSettings {
                tenant_id: "72f988bf-86f1-41af-91ab-2d7cd011db47".into(),
                client_id: "app".into(),
                audience: DEFAULT_FEDERATION_AUDIENCE.into(),
            })
        );
        map.insert(vars::FEDERATION_AUDIENCE, "api://AzureADTokenExchangeUSGov");
        let CredentialsSource::AwsFederation(f) =
            Config::from_map(&map).unwrap().sentinel.credentials
        else {
            panic!("federation expected")
        };
        assert_eq!(f.audience, "api://AzureADTokenExchangeUSGov");
        // A secret beside it is refused, naming the variable.
        let mut with_secret = map.clone();
        with_secret.insert(vars::CLIENT_SECRET, "very-secret-value");
        assert_eq!(refused_variable(&with_secret), vars::CLIENT_SECRET);
        let mut with_arn = map.clone();
        with_arn.insert(vars::CREDENTIALS_SECRET_ARN, "arn:aws:secretsmanager:x");
        assert_eq!(refused_variable(&with_arn), vars::CREDENTIALS_SECRET_ARN);
        for missing in [vars::TENANT_ID, vars::CLIENT_ID] {
            let mut m = map.clone();
            m.remove(missing);
            assert_eq!(refused_variable(&m), missing);
        }
        map.insert(vars::AUTH, "oidc");
        assert_eq!(refused_variable(&map), vars::AUTH);
    }

    #[test]
    fn locations_streams_and_knobs() {
        let config = with(&[
            (vars::STATE_BUCKET, "my-state"),
            (vars::STATE_PREFIX, "/conn/state"),
            (vars::DEAD_LETTER_BUCKET, "my-dl"),
            (vars::MODEL_BUCKET, "my-models"),
            (vars::MODEL_ALLOW_UNSIGNED, "true"),
            (
                vars::STREAM_MAP,
                "{\"AWSCloudTrail\": \"Custom-Trail\", \"awsvpcflow\": \"Microsoft-AWSVPCFlow\"}",
            ),
            (vars::ALERT_STREAM, "Custom-Alerts"),
            (vars::MAX_PARALLEL_REQUESTS, "8"),
            (vars::REQUEST_TIMEOUT_SECONDS, "2.5"),
            (vars::MAX_REQUEST_BYTES, "200000"),
            (vars::ANOMALY_THRESHOLD, "0.9"),
            (vars::DEAD_LETTER_DIR, ""),
        ])
        .unwrap();
        assert_eq!(
            config.pipeline.state,
            Some(S3Location {
                bucket: "my-state".into(),
                prefix: "conn/state/".into()
            })
        );
        assert_eq!(
            config.dead_letter,
            Some(DeadLetterLocation::S3(S3Location {
                bucket: "my-dl".into(),
                prefix: "dead-letter/".into()
            }))
        );
        assert_eq!(config.pipeline.model_store.unwrap().prefix, "models/");
        let s = &config.sentinel;
        assert_eq!(s.streams.stream_for(Table::AwsCloudTrail), "Custom-Trail");
        assert_eq!(
            s.streams.stream_for(Table::AwsVpcFlow),
            "Microsoft-AWSVPCFlow"
        );
        assert_eq!(s.streams.stream_for(Table::AwsWaf), "Custom-AWSWAF");
        assert_eq!(
            s.streams.stream_for(Table::S3SentinelAlerts),
            "Custom-Alerts"
        );
        assert_eq!(s.delivery.max_parallel_requests, 8);
        assert_eq!(s.delivery.request_timeout, Duration::from_millis(2500));
        assert_eq!(s.delivery.max_request_bytes, 200_000);
        assert_eq!(config.pipeline.models.anomaly_threshold, 0.9);
    }

    #[test]
    fn stream_pairs_parse() {
        let map = StreamMap::parse_pairs("AWSCloudTrail=Custom-A, AWSWAF=Custom-B").unwrap();
        assert_eq!(map.stream_for(Table::AwsCloudTrail), "Custom-A");
        assert_eq!(map.stream_for(Table::AwsWaf), "Custom-B");
        assert!(StreamMap::parse_pairs("AWSCloudTrail").is_err());
        assert!(StreamMap::parse_pairs("Nope=Custom-A").is_err());
    }
}

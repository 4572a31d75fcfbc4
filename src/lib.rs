//! s3-sentinel-connector: AWS logs from S3 into Microsoft Sentinel, parsed into the
//! built-in AWS tables, scored by ONNX models and mined for patterns on the way.
//!
//! The modules are layers, each using only the ones above it here (`tests/layers.rs`
//! keeps it so; docs/ARCHITECTURE.md explains the order). They are private: what the
//! binaries, the tests and library users need is re-exported below, by layer.

#![warn(missing_docs)]

/// The allocator of every binary and test that links the library: the pipeline makes and
/// drops millions of small strings per object, which glibc's malloc serves at up to a
/// third of the run time (arena growth, consolidation) where mimalloc's per-thread free
/// lists do not show in the profile.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc 3's `mi_option_e` (`mimalloc.h`); the binding
/// crate names no constant for it.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Keeps freed memory mapped for reuse instead of handing it back to the OS. Each batch
/// allocates and frees a few MiB of rows and tensors; returned pages came back as fresh
/// transparent huge pages that the kernel zeroes, 8% of `process`'s CPU time in the profile
/// (issue 14) and 26,000 page faults on the bench corpus, against about 1,000 without
/// purging. Memory that is freed but kept raises the peak a little (119.0 -> 121.3 MiB on
/// a 1.07 GiB object). Call it first in `main`.
#[allow(unsafe_code)]
pub fn retain_freed_memory() {
    // SAFETY: setting an option is a plain store mimalloc allows at any time.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
}

mod behaviour;
mod config;
mod detection;
mod enrich;
mod features;
mod formats;
mod lambda;
mod metrics;
mod ml;
mod patterns;
mod record;
mod runner;
mod setup;
mod sink;
mod source;
mod state;
// Tooling the function never runs.
#[cfg(feature = "tools")]
mod azure;
#[cfg(feature = "tools")]
mod cli;
#[cfg(feature = "tools")]
mod emulator;
#[cfg(feature = "tools")]
mod evaluation;
#[cfg(feature = "tools")]
mod training;

// Rows and their tables.
pub use record::alert::{DEAD_LETTER_ALERT_PREFIX, DRIFT_ALERT_PREFIX};
pub use record::json::write_record;
pub use record::tables::{CONNECTOR_COLUMNS, check_record};
pub use record::{ColumnType, LogType, Record, RecordId, Reject, Row, Table, Value, time};
// Where objects come from, and their formats.
pub use formats::vpcflow::looks_like_header as looks_like_vpc_flow_header;
pub use formats::{
    Collect, Detection, Emitter, Format, ObjectJob, ObjectOutcome, ObjectTime, RecordSink, Stop,
    TimeOrigin, detect, parse_object, parser_for,
};
pub use source::event::{
    BatchJob, BatchTask, Envelope, EventError, Invocation, SqsItem, parse_invocation,
};
pub use source::{DecodeLimits, LocalSource, ObjectHead, ObjectRef, ObjectSource};
// State kept between invocations.
pub use state::local::LocalDirStore;
pub use state::s3::S3StateStore;
pub use state::{
    Damage, DamageLog, PutCondition, S3Location, StateError, StateStore, Versioned, update,
};
// Detection rules, patterns and features.
pub use behaviour::{
    Behaviour, BehaviourConfig, BehaviourDb, Flag as BehaviourFlag, flags_of as behaviour_flags,
    principal_of,
};
#[cfg(feature = "tools")]
pub use detection::read_dir as read_rule_dir;
pub use detection::{Level as RuleLevel, Rule, RuleError, RulePack};
pub use features::{Extractor, FeatureSchema, N_FEATURES, catalog};
pub use patterns::db::{self as pattern_db, PatternDb};
pub use patterns::{
    AnalyzerConfig, PATTERN_FEATURES, PatternAnalyzer, PatternId, TemplateMiner, pattern_features,
};
// The models.
pub use ml::drift::DEFAULT_PSI_ALARM;
pub use ml::manifest::{
    AnomalyReport, BundledRule, ClassReport, ClassScores, MANIFEST_FILE, Manifest, ModelEntry,
    RuleBundle, RulesEntry, TrainingData, TrainingReport, sha256_hex,
};
pub use ml::runtime::{ModelSet, run_outputs, tensors};
pub use ml::signing::{generate_keypair, sign};
pub use ml::swap::{ModelSwapper, SIGNATURE_FILE, SwapConfig, SwapOutcome};
pub use ml::{Category, ModelHandle, embedded};
// Enrichment.
pub use enrich::alerts::{Alert, Trigger};
pub use enrich::monitor::StoredDrift;
pub use enrich::priority::Detected;
pub use enrich::thresholds::STATE_KEY as THRESHOLDS_STATE_KEY;
pub use enrich::{
    AdaptiveThresholds, Connector, EnrichConfig, Enricher, ModelScorer, ModelSettings, ModelStage,
    NoEnrichment, Priority, ThresholdConfig, default_stages,
};
// Delivery.
pub use sink::dead_letter::{self, DeadLetter, DeadLetterLocation, ReplayOptions};
pub use sink::sentinel::{
    AuthError, AwsFederationCredentials, CredentialServices, CredentialsSource,
    DEFAULT_FEDERATION_AUDIENCE, FailureReason, FederationSettings, SecretsManagerCredentials,
    SentinelClient, SentinelSettings, StreamMap, packer, split_stream_target, validate_stream_name,
};
pub use sink::{
    Delivery, DeliveryError, DeliveryReport, NdjsonDelivery, SentinelDelivery, deliver,
    deliver_settled,
};
// Running objects through it all: the runner, its configuration, the Lambda.
pub use config::{
    Config, ConfigError, PipelineConfig, Platform, sentinel_from_env, sentinel_from_map, vars,
};
pub use lambda::{App, InvocationContext, init_tracing};
pub use metrics::InvocationMetrics;
pub use runner::ledger::ObjectLedger;
pub use runner::{Preview, RunError, Runner, RunnerSettings};

// Tooling.
#[cfg(feature = "tools")]
pub use azure::{
    StreamDeclaration, UnknownColumns, content as sentinel_content, coverage, kql, schema, template,
};
#[cfg(feature = "tools")]
pub use azure::{
    coverage::Coverage,
    template::{PublisherIdentity, TemplateOptions},
};
#[cfg(feature = "tools")]
pub use cli::Command;
#[cfg(feature = "tools")]
pub use cli::eval::{
    SequenceEvalArgs, format_sequence_eval, format_template_scores, read_labelled, sequences,
    templates as template_scores,
};
#[cfg(feature = "tools")]
pub use cli::patterns::{mine_lines, write_csv};
#[cfg(feature = "tools")]
pub use cli::{init_stderr_tracing, run as run_command};
#[cfg(feature = "tools")]
pub use emulator::{
    Emulator, EmulatorOptions, ErrorFaults, Fault, FaultPlan, FederatedCredential, RunningEmulator,
    RunningSts, StsBehaviour, StsEmulator, StsOptions, StsRefusal, StsStats, ThrottleFaults,
};
#[cfg(feature = "tools")]
pub use evaluation::models::{EvalOptions, compare, evaluate_models};
#[cfg(feature = "tools")]
pub use evaluation::report::{PLOT_IDS, render as render_report};
#[cfg(feature = "tools")]
pub use evaluation::rule_events::{self, RuleCase, RuleEvents};
#[cfg(feature = "tools")]
pub use training::artifacts::{self, Artifacts, Provenance, train_and_export};
#[cfg(feature = "tools")]
pub use training::history;
#[cfg(feature = "tools")]
pub use training::labelled::{parse_raw, write_generated};
#[cfg(feature = "tools")]
pub use training::metrics::{binary_scores, roc_auc};
#[cfg(feature = "tools")]
pub use training::replay::analyze_as_delivered;
#[cfg(feature = "tools")]
pub use training::synth::{self, SynthConfig};
#[cfg(feature = "tools")]
pub use training::train::{Dataset, TrainConfig, train, train_with_history};
#[cfg(feature = "tools")]
pub use training::{onnx, update::UpdateError};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(unsafe_code)]
    fn the_purge_delay_index_is_mimalloc_3s() {
        // SAFETY: plain reads of mimalloc's version and options.
        let (version, delay) = unsafe {
            (
                libmimalloc_sys::mi_version(),
                libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY),
            )
        };
        assert_eq!(version / 10_000, 3, "mimalloc {version}: check mi_option_e");
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            // mimalloc 3's documented default for the purge delay, in milliseconds.
            assert_eq!(delay, 1000);
        }
    }
}

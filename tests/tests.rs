//! The integration tests: one binary, so the library links once. Each module is one
//! area; `common` starts the local services (moto) and finds `../shared`,
//! `delivery_support` runs the Sentinel emulator in process.

mod common;
mod delivery_support;

mod azure_template;
mod backfill;
mod backfill_jobs;
mod dead_letter_replay;
mod detection_rules;
mod docs_tables;
mod emulator_contract;
mod faults;
mod federation;
mod fixtures;
mod hostile;
mod lambda_e2e;
mod layers;
mod ml_deploy;
mod ml_eval;
mod ml_evaluate;
mod ml_feedback;
mod ml_models;
mod ml_monitor;
mod ml_swap;
mod ml_thresholds;
mod parser_properties;
mod patterns_analyzer;
mod patterns_db_s3;
mod patterns_hdfs;
mod patterns_loghub;
mod runner;
mod samples;
mod secrets_credentials;
mod sentinel_client;
mod state_s3;

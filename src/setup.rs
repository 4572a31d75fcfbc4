//! AWS client construction shared by the Lambda, the CLI and the tests.

use aws_config::BehaviorVersion;

/// Loads the standard AWS configuration (environment, profile, container or instance
/// credentials). `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_S3` are honoured by the SDK itself.
pub async fn load_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(BehaviorVersion::latest()).await
}

/// An S3 client; with a custom endpoint (a local S3 server) it uses path-style addressing,
/// since `bucket.localhost` does not resolve.
pub fn s3_client(config: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let custom_endpoint = std::env::var_os("AWS_ENDPOINT_URL").is_some()
        || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some()
        || config.endpoint_url().is_some();
    let s3_config = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(custom_endpoint)
        .build();
    aws_sdk_s3::Client::from_conf(s3_config)
}

pub fn secrets_client(config: &aws_config::SdkConfig) -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(config)
}

#!/usr/bin/env bash
# Builds the connector with cargo-lambda (through SAM) and deploys template.yaml.
#
# Required environment (or flags passed through to `sam deploy` after --):
#   STACK_NAME                    CloudFormation stack name (default s3-sentinel-connector)
#   LOG_BUCKET                    bucket receiving the AWS logs
#   SENTINEL_INGESTION_ENDPOINT   DCR logs ingestion endpoint (or DCE), https://...
#   SENTINEL_DCR_IMMUTABLE_ID     dcr-... immutable id of the data collection rule
#   AZURE_CREDENTIALS_SECRET_ARN  Secrets Manager secret {"tenant_id","client_id","client_secret"}
#   or, with no secret at all (docs/azure.md):
#   AZURE_AUTH=aws-federation     the function's AWS identity token as the Entra ID credential
#   AZURE_TENANT_ID, AZURE_CLIENT_ID  tenant and client id of the managed identity (or app)
# Optional:
#   CREATE_LOG_BUCKET=true        create LOG_BUCKET in the stack, wired to the queue
#   CREATE_BATCH_OPERATIONS_ROLE=true  a role S3 Batch Operations backfill jobs run as
#   SENTINEL_STREAM_MAP           JSON {"AWSCloudTrail": "Custom-MyStream", ...}
#   AZURE_AUTHORITY_HOST          e.g. https://login.microsoftonline.us for US Gov
#   AZURE_FEDERATION_AUDIENCE     api://AzureADTokenExchange (…USGov, …China elsewhere)
#   ANOMALY_THRESHOLD (0.95), PRIORITY_THRESHOLD (0.8)
#   MODEL_BUCKET, MODEL_PREFIX    where scripts/deploy_models.sh publishes models
#   MODEL_PUBLIC_KEY              ed25519 public key (hex, `s3-sentinel keygen`): only signed
#                                 model manifests are served; required with MODEL_BUCKET
#   MODEL_ALLOW_UNSIGNED=true     serve unsigned manifests from MODEL_BUCKET (opt-out of signing)
#   DRIFT_PSI_THRESHOLD (0.2)     drift alarms on feature and score PSI
#   INFERENCE_LATENCY_THRESHOLD_MICROS (200)  inference latency alarm, per record
#   RESOURCE_USE_THRESHOLD (0.9)  memory and duration alarms, share of the configured limits
#   RESERVED_CONCURRENCY (10), MEMORY_SIZE (512), TIMEOUT (300), ALARM_TOPIC_ARN
#
# Needs: sam (AWS SAM CLI), cargo-lambda (`pip install cargo-lambda`), zig (pulled in by
# cargo-lambda) and AWS credentials for the target account.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${LOG_BUCKET:?set LOG_BUCKET}"
: "${SENTINEL_INGESTION_ENDPOINT:?set SENTINEL_INGESTION_ENDPOINT}"
: "${SENTINEL_DCR_IMMUTABLE_ID:?set SENTINEL_DCR_IMMUTABLE_ID}"
if [[ "${AZURE_AUTH:-secret}" == aws-federation ]]; then
  : "${AZURE_TENANT_ID:?set AZURE_TENANT_ID}"
  : "${AZURE_CLIENT_ID:?set AZURE_CLIENT_ID}"
else
  : "${AZURE_CREDENTIALS_SECRET_ARN:?set AZURE_CREDENTIALS_SECRET_ARN (or AZURE_AUTH=aws-federation)}"
fi

command -v sam >/dev/null || { echo "install the AWS SAM CLI first" >&2; exit 1; }
command -v cargo-lambda >/dev/null || python3 -m pip install --quiet cargo-lambda

params=(
  "LogBucketName=${LOG_BUCKET}"
  "CreateLogBucket=${CREATE_LOG_BUCKET:-false}"
  "CreateBatchOperationsRole=${CREATE_BATCH_OPERATIONS_ROLE:-false}"
  "SentinelIngestionEndpoint=${SENTINEL_INGESTION_ENDPOINT}"
  "SentinelDcrImmutableId=${SENTINEL_DCR_IMMUTABLE_ID}"
  "SentinelStreamMap=${SENTINEL_STREAM_MAP:-}"
  "AzureAuth=${AZURE_AUTH:-secret}"
  "AzureCredentialsSecretArn=${AZURE_CREDENTIALS_SECRET_ARN:-}"
  "AzureTenantId=${AZURE_TENANT_ID:-}"
  "AzureClientId=${AZURE_CLIENT_ID:-}"
  "AzureFederationAudience=${AZURE_FEDERATION_AUDIENCE:-api://AzureADTokenExchange}"
  "AzureAuthorityHost=${AZURE_AUTHORITY_HOST:-https://login.microsoftonline.com}"
  "AnomalyThreshold=${ANOMALY_THRESHOLD:-0.95}"
  "PriorityThreshold=${PRIORITY_THRESHOLD:-0.8}"
  "ModelBucketName=${MODEL_BUCKET:-}"
  "ModelPrefix=${MODEL_PREFIX:-models/}"
  "ModelPublicKey=${MODEL_PUBLIC_KEY:-}"
  "AllowUnsignedModels=${MODEL_ALLOW_UNSIGNED:-false}"
  "DriftPsiThreshold=${DRIFT_PSI_THRESHOLD:-0.2}"
  "InferenceLatencyThresholdMicros=${INFERENCE_LATENCY_THRESHOLD_MICROS:-200}"
  "ResourceUseThreshold=${RESOURCE_USE_THRESHOLD:-0.9}"
  "ReservedConcurrency=${RESERVED_CONCURRENCY:-10}"
  "MemorySize=${MEMORY_SIZE:-512}"
  "Timeout=${TIMEOUT:-300}"
  "AlarmTopicArn=${ALARM_TOPIC_ARN:-}"
)

sam build --beta-features
sam deploy \
  --stack-name "${STACK_NAME:-s3-sentinel-connector}" \
  --capabilities CAPABILITY_NAMED_IAM \
  --resolve-s3 \
  --no-fail-on-empty-changeset \
  --parameter-overrides "${params[@]}" \
  "$@"

#!/usr/bin/env bash
# Deploys a model set to s3://$MODEL_BUCKET/$MODEL_PREFIX with a quality gate.
#
#   scripts/deploy_models.sh MODEL_DIR [options]     # evaluate, gate, publish
#   scripts/deploy_models.sh --rollback [options]    # put the previous manifest back
#
# Steps: the candidate's feature schema must match the running code (`s3-sentinel
# schema-version`); the deployed set is downloaded (or the embedded defaults are used when
# the bucket has none); `s3-sentinel evaluate` scores both on the same held-out records;
# the deployment is refused when a gated metric (macro-F1, ROC-AUCs) of the candidate is
# worse than the deployed one's by more than the tolerance. Then `s3-sentinel
# deploy-models publish` verifies the files as a function would, uploads them, the
# signature, and the manifest last. See docs/lifecycle.md.
#
# Options:
#   --data FILE          held-out labelled JSON lines (repeatable); default: records from
#                        the project's generator with --heldout-seed (never the training seed)
#   --heldout-seed N     generator seed for held-out records (default 424242)
#   --heldout-scale X    generator volume (default 0.3)
#   --tolerance X        allowed drop of a gated metric (default $DEPLOY_TOLERANCE or 0.01)
#   --latency-sample N   records each set scores one at a time for the latency figures kept
#                        in the manifest (default: evaluate's, 2000)
#   --report FILE.html   also write the evaluation report
#   --sign-key FILE      sign the manifest (private key from `s3-sentinel keygen`)
#   --rules DIR|embedded serve this folder of Sigma rules (*.yml, aws/cloudtrail) with the
#                        models, or the pack built into the function; default: the rules
#                        the deployed set serves. The pack is verified, signed, swapped
#                        and rolled back with the models.
#   --shadow             run the candidate beside the deployed set instead of replacing it
#                        (not refused by the gate: a shadow never changes output)
#   --force REASON       deploy even when the gate refuses (the reason is logged and kept
#                        in the manifest); a schema mismatch is never forced
#   --dry-run            evaluate and show the uploads without writing anything
#   --rollback           restore the previous manifest
# Environment: MODEL_BUCKET (required), MODEL_PREFIX (default models/), S3_SENTINEL (the
# binary; default: s3-sentinel on PATH, else target/release/s3-sentinel), the usual AWS_*
# variables (AWS_ENDPOINT_URL for a local S3 server).
set -euo pipefail

die() { echo "deploy_models: $*" >&2; exit 2; }
log() { echo "deploy_models: $*" >&2; }

models=""
data=()
seed=424242
scale=0.3
tolerance="${DEPLOY_TOLERANCE:-0.01}"
latency=()
report=""
sign_key=""
rules=()
shadow=0
force=""
dry_run=0
rollback=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --data) data+=(--data "$2"); shift 2 ;;
    --heldout-seed) seed="$2"; shift 2 ;;
    --heldout-scale) scale="$2"; shift 2 ;;
    --tolerance) tolerance="$2"; shift 2 ;;
    --latency-sample) latency=(--latency-sample "$2"); shift 2 ;;
    --report) report="$2"; shift 2 ;;
    --sign-key) sign_key="$2"; shift 2 ;;
    --rules) rules=(--rules "$2"); shift 2 ;;
    --shadow) shadow=1; shift ;;
    --force) [[ -n "${2:-}" && "$2" != --* ]] || die "--force needs a reason"; force="$2"; shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    --rollback) rollback=1; shift ;;
    -h|--help) sed -n '2,36p' "$0"; exit 0 ;;
    --*) die "unknown option $1" ;;
    *) [[ -z "$models" ]] || die "one model directory only"; models="$1"; shift ;;
  esac
done

[[ -n "${MODEL_BUCKET:-}" ]] || die "MODEL_BUCKET is not set"
export MODEL_PREFIX="${MODEL_PREFIX:-models/}"
bin="${S3_SENTINEL:-}"
if [[ -z "$bin" ]]; then
  if command -v s3-sentinel >/dev/null; then bin=s3-sentinel
  else bin="$(dirname "$0")/../target/release/s3-sentinel"; fi
fi
[[ -x "$bin" ]] || command -v "$bin" >/dev/null || die "s3-sentinel binary not found (set S3_SENTINEL)"

dry=()
[[ $dry_run == 1 ]] && dry=(--dry-run)
signing=()
[[ -n "$sign_key" ]] && signing=(--sign-key "$sign_key")

if [[ $rollback == 1 ]]; then
  [[ -z "$models" ]] || die "--rollback takes no model directory"
  "$bin" deploy-models rollback "${signing[@]}" "${dry[@]}"
  exit 0
fi
[[ -n "$models" ]] || die "usage: deploy_models.sh MODEL_DIR [options] | --rollback"
[[ -f "$models/manifest.json" ]] || die "$models/manifest.json not found"

running=$("$bin" schema-version)
candidate=$("$bin" deploy-models schema "$models")
if [[ "$running" != "$candidate" ]]; then
  log "refused: the candidate's feature schema is version $candidate, the running code extracts version $running"
  exit 3
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
deployed=$("$bin" deploy-models fetch --out "$work/deployed")
log "deployed models: $deployed"

heldout=()
if [[ ${#data[@]} -eq 0 ]]; then
  heldout=(--generate-seed "$seed" --scale "$scale")
fi
reporting=()
[[ -n "$report" ]] && reporting=(--report "$report")
set +e
"$bin" evaluate --models "$models" --baseline "$deployed" "${data[@]}" "${heldout[@]}" \
  --tolerance "$tolerance" --json "${latency[@]}" "${reporting[@]}" > "$work/evaluation.json"
status=$?
set -e
case $status in
  0) log "the candidate is not worse than the deployed models beyond tolerance $tolerance" ;;
  1)
    log "the candidate is worse than the deployed models beyond tolerance $tolerance (listed above)"
    if [[ $shadow == 1 ]]; then
      log "deploying as a shadow anyway: it cannot change any output, and its live agreement is the evidence"
    elif [[ -z "$force" ]]; then
      log "refused (use --force REASON to deploy anyway)"
      exit 1
    fi
    [[ -n "$force" ]] && log "FORCED deployment despite the gate: $force"
    ;;
  *) die "evaluation failed (status $status)" ;;
esac

forcing=()
[[ -n "$force" ]] && forcing=(--forced-reason "$force")
shadowing=()
[[ $shadow == 1 ]] && shadowing=(--shadow)
"$bin" deploy-models publish --models "$models" --evaluation "$work/evaluation.json" \
  "${forcing[@]}" "${signing[@]}" "${shadowing[@]}" "${rules[@]}" "${dry[@]}"
if [[ $dry_run == 1 ]]; then
  log "dry run: nothing was written"
else
  log "deployed $models to s3://$MODEL_BUCKET/$MODEL_PREFIX"
fi

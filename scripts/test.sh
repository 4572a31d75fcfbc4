#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (.ci/run calls this script):
# installs and starts the local services the tests need (moto for S3, SQS and Secrets
# Manager), then lints and runs every test. Fails on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/s3-sentinel/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# CI builds the crate once from scratch (a fresh clone, a cached dependency dir):
# incremental compilation only adds bookkeeping to such a build. A developer who shares
# this target dir with incremental `cargo` builds can set 1 to avoid rebuilding the crate
# each time the setting flips.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
# Most integration tests wait on moto, the emulator or a spawned function rather than
# compute, so more of them than cores run side by side (libtest's default is one per core).
export RUST_TEST_THREADS="${RUST_TEST_THREADS:-4}"

python_tools() {
  local missing=()
  command -v moto_server >/dev/null 2>&1 || missing+=("moto[server]")
  command -v cfn-lint >/dev/null 2>&1 || missing+=("cfn-lint")
  if ((${#missing[@]})); then
    echo "==> installing ${missing[*]} from PyPI"
    python3 -m pip install --quiet "${missing[@]}"
  fi
}

start_moto() {
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  moto_server -H 127.0.0.1 -p "$port" >"${CARGO_TARGET_DIR}/moto.log" 2>&1 &
  MOTO_PID=$!
  trap 'kill $MOTO_PID 2>/dev/null || true' EXIT
  for _ in $(seq 1 100); do
    if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$port),0.2)" 2>/dev/null; then
      export S3_SENTINEL_MOTO_ENDPOINT="http://127.0.0.1:$port"
      echo "==> moto listening on $S3_SENTINEL_MOTO_ENDPOINT"
      return
    fi
    sleep 0.2
  done
  echo "moto did not start; log:" >&2
  cat "${CARGO_TARGET_DIR}/moto.log" >&2
  exit 1
}

# Each step's duration, to see where the suite's time goes.
step_started=$SECONDS
step() {
  local now=$SECONDS
  ((now == 0)) || echo "    ($((now - step_started))s)"
  step_started=$now
  echo "==> $*"
}

mkdir -p "$CARGO_TARGET_DIR"
python_tools
start_moto

step "cargo fmt --check"
cargo fmt --all -- --check

step "cfn-lint template.yaml"
cfn-lint template.yaml

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --quiet -- -D warnings

# The function alone, without the tooling feature: product code must never need it.
step "cargo clippy --no-default-features --lib --bin bootstrap -- -D warnings"
cargo clippy --no-default-features --lib --bin bootstrap --quiet -- -D warnings

step "cargo test: build (unit, integration, end-to-end tests)"
cargo test --lib --bins --tests --no-fail-fast --no-run
step "cargo test: run"
cargo test --lib --bins --tests --no-fail-fast
step "cargo test --doc"
cargo test --doc --no-fail-fast

step "all tests passed in $((SECONDS / 60))m$((SECONDS % 60))s"

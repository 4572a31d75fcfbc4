#!/usr/bin/env bash
# Regenerates the default models in onnx/ (embedded in the binary) from the project's own
# synthetic data generator, labelled from knowledge (training::knowledge). Deterministic:
# the same source gives the same bytes. Built with the `profiling` profile (release code
# without LTO), which computes the same numbers in a fraction of the build time.
#
#   scripts/train_default_models.sh           # rewrite onnx/
#   scripts/train_default_models.sh --check   # retrain into a temporary folder and fail
#                                             # unless it matches onnx/ byte for byte
set -euo pipefail
cd "$(dirname "$0")/.."

SEED=20250106
SCALE=1.0
VERSION=default-3

out=onnx
if [[ "${1:-}" == "--check" ]]; then
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi

cargo run --quiet --profile profiling --bin s3-sentinel -- train \
  --generate --seed "$SEED" --scale "$SCALE" --model-version "$VERSION" --out "$out"

if [[ "$out" != onnx ]]; then
  for f in anomaly.onnx classifier.onnx manifest.json; do
    if ! cmp -s "onnx/$f" "$out/$f"; then
      echo "onnx/$f differs from a fresh training run" >&2
      exit 1
    fi
  done
  echo "onnx/ is reproduced bit for bit"
fi
sha256sum onnx/anomaly.onnx onnx/classifier.onnx

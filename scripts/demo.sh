#!/usr/bin/env bash
# The main job on a fresh machine, no cloud account needed: the connector's pipeline on the
# bundled sample objects with the embedded default models, then delivery of every bundled
# format into a local Logs Ingestion API (the project's sentinel-emulator).
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/s3-sentinel/target}"
out="$CARGO_TARGET_DIR/demo"
mkdir -p "$out"

echo "==> building (first run: about 10 minutes on 2 cores)"
cargo build --quiet --bin s3-sentinel --bin sentinel-emulator
bin="$CARGO_TARGET_DIR/debug"

trail=tests/fixtures/AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/20/123456789012_CloudTrail_us-east-1_20261120T1005Z_Qx7sLm2PaBcD3eFg.json.gz
echo
echo "==> 1. parse, score and prioritize a CloudTrail object"
echo "    s3-sentinel process $trail"
"$bin/s3-sentinel" process "$trail" --output "$out/cloudtrail.ndjson" --alerts "$out/alerts.ndjson"
python3 - "$out/cloudtrail.ndjson" "$out/alerts.ndjson" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
rows.sort(key=lambda r: -(r.get("PriorityScore") or 0))
print(f"\n    {len(rows)} records -> AWSCloudTrail; highest priority first:")
print(f"    {'EventName':<28} {'User':<18} {'Priority':<9} {'Score':>6} {'Anomaly':>8}  Category / reasons")
for r in rows[:12]:
    reasons = r.get("AnomalyReasons") or []
    print(f"    {r.get('EventName',''):<28} {str(r.get('UserIdentityUserName') or r.get('UserIdentityType') or ''):<18} "
          f"{str(r.get('Priority','-')):<9} {r.get('PriorityScore',0):>6.2f} {r.get('AnomalyScore',0):>8.2f}  "
          f"{r.get('LogCategory','-')}; {'; '.join(reasons[:2])}")
alerts = [json.loads(l) for l in open(sys.argv[2])]
print(f"\n    {len(alerts)} alert records -> S3SentinelAlerts_CL (stream Custom-S3SentinelAlerts)")
PY

echo
echo "==> 2. deliver every bundled format to a local Logs Ingestion API (sentinel-emulator)"
"$bin/sentinel-emulator" --listen 127.0.0.1:0 >"$out/emulator.out" 2>"$out/emulator.log" &
emulator_pid=$!
trap 'kill $emulator_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do
  url=$(grep -o 'http://[0-9.:]*' "$out/emulator.out" | head -n 1 || true)
  [ -n "$url" ] && break
  sleep 0.1
done
echo "    emulator at $url"
rm -rf "$out/dead-letter" && mkdir -p "$out/dead-letter"
SENTINEL_INGESTION_ENDPOINT="$url" AZURE_AUTHORITY_HOST="$url" \
SENTINEL_DCR_IMMUTABLE_ID=dcr-00000000000000000000000000000000 \
AZURE_TENANT_ID=00000000-0000-0000-0000-000000000000 AZURE_CLIENT_ID=demo AZURE_CLIENT_SECRET=demo \
DEAD_LETTER_DIR="$out/dead-letter" \
  "$bin/s3-sentinel" process --sentinel tests/fixtures
echo
echo "    rows the emulator accepted, per stream:"
curl -s "$url/admin/stats" | python3 -c '
import json, sys
stats = json.load(sys.stdin)
for stream, s in sorted(stats["streams"].items()):
    rows, requests = s["rows"], s["accepted_requests"]
    print(f"      {stream:<36} {rows:>6} rows in {requests} request(s)")
total, largest = stats["requests"], stats["max_body_bytes_seen"]
print(f"    requests: {total}, largest body on the wire: {largest} bytes")'
echo
echo "==> done: records in $out/cloudtrail.ndjson, alerts in $out/alerts.ndjson"

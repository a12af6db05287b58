#!/usr/bin/env bash
# Sensor ingestion for BENCHMARKS.md: wrk posting batches of 100 readings to a
# release parkd with the demo city, one device key per lot with ≥ 100 spots.
#
#   bash parkd/bench/sensors.sh                  # 3 runs of 10 s, 64 connections
#   RUNS=1 DURATION=30s bash parkd/bench/sensors.sh
#
# Needs wrk (apt-get install wrk), curl and python3. Everything runs on
# 127.0.0.1 and stops by itself. Durable commits (synchronous=FULL), as shipped.
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
RUNS=${RUNS:-3}
TARGET=${CARGO_TARGET_DIR:-target}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }

# NO_BUILD=1 uses the release binary already built.
[ -n "${NO_BUILD:-}" ] || cargo build --release -q -p parkd --bin parkd
PARKD="$TARGET/release/parkd"
DATA=$(mktemp -d)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null || true; rm -rf "$DATA"; }
trap cleanup EXIT
wait_for() { for _ in $(seq 1 400); do curl -sf "$1" >/dev/null && return 0; sleep 0.05; done; echo "timeout waiting for $1" >&2; exit 1; }

PARKD_RATE_LIMITS=off "$PARKD" serve --demo --data-dir "$DATA" --listen 127.0.0.1:18095 --log-format json >"$DATA/out.log" 2>"$DATA/err.log" & PID=$!
BASE=http://127.0.0.1:18095
wait_for "$BASE/ready"

# The demo admin creates a device key for every lot with at least 100 spots and
# lists its spot ids: one plan line per lot.
BASE=$BASE DATA=$DATA python3 - <<'PY'
import json, os, urllib.request
base, data = os.environ["BASE"], os.environ["DATA"]
creds = json.load(open(f"{data}/demo-credentials.json"))
_, email, password = [u for u in creds["users"] if u[0] == "admin"][0]
def call(method, path, body=None, token=None):
    req = urllib.request.Request(base + path, method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"content-type": "application/json",
                 **({"authorization": f"Bearer {token}"} if token else {})})
    return json.load(urllib.request.urlopen(req))
token = call("POST", "/api/v1/auth/login", {"email": email, "password": password})["access_token"]
lots = call("GET", "/api/v1/parking-lots?lat=51.05&lng=13.74&radius=50000&per_page=100")["items"]
lines = []
for lot in lots:
    spots = call("GET", f"/api/v1/parking-lots/{lot['id']}/spots")
    if len(spots) < 100:
        continue
    key = call("POST", f"/api/v1/parking-lots/{lot['id']}/devices", {"name": "bench"}, token)["key"]
    lines.append(" ".join([key] + [s["id"] for s in spots]))
open(f"{data}/plan.txt", "w").write("\n".join(lines) + "\n")
print(f"parkd: demo city, {len(lines)} lots with device keys, "
      f"{sum(len(l.split()) - 1 for l in lines)} spots with sensors")
PY

for run in $(seq 1 "$RUNS"); do
  echo "== run $run: sensor batches of 100 readings"
  SENSOR_PLAN="$DATA/plan.txt" wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency \
    -s parkd/bench/sensors.lua "$BASE" | grep -E "Requests/sec|Non-2xx|Socket errors|p50|readings/s"
done
curl -sf "$BASE/metrics" | grep -E '^parkd_sensor_(readings|changes)_total' | sed 's/^/   /'
echo "   RSS after the runs: $(grep VmRSS /proc/$PID/status | awk '{print $2/1024 " MB"}')"

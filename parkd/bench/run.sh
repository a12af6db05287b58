#!/usr/bin/env bash
# parkd's load figures for BENCHMARKS.md: wrk against a release parkd on loopback,
# beside the trivial-handler ceiling (examples/ceiling.rs) measured in the same run.
#
#   bash parkd/bench/run.sh            # 10 s per scenario, 64 connections
#   DURATION=30s bash parkd/bench/run.sh
#
# Needs wrk (apt-get install wrk) and python3. Everything runs on 127.0.0.1 and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
TARGET=${CARGO_TARGET_DIR:-target}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }

cargo build --release -q -p parkd --bin parkd --example ceiling
PARKD="$TARGET/release/parkd"
CEILING="$TARGET/release/examples/ceiling"
DATA=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$DATA"; }
trap cleanup EXIT

wait_for() { for _ in $(seq 1 200); do curl -sf "$1" >/dev/null && return 0; sleep 0.05; done; echo "timeout waiting for $1" >&2; exit 1; }
run_wrk() { # name script url
  echo "== $1"
  wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$2" "$3" | grep -E "Requests/sec|Non-2xx|Socket errors|p50"
}

"$CEILING" 127.0.0.1:18090 >/dev/null & PIDS+=($!)
wait_for http://127.0.0.1:18090/ceiling
run_wrk "ceiling: fixed 1 KB JSON (axum)" parkd/bench/ceiling.lua http://127.0.0.1:18090
kill "${PIDS[0]}"

PARKD_RATE_LIMITS=off "$PARKD" serve --demo --data-dir "$DATA" --listen 127.0.0.1:18091 --log-format json >"$DATA/out.log" 2>"$DATA/err.log" & PID=$!; PIDS+=($PID)
wait_for http://127.0.0.1:18091/ready
BASE=http://127.0.0.1:18091
read -r EMAIL PASSWORD < <(python3 -c "import json,sys; d=json.load(open('$DATA/demo-credentials.json')); u=[u for u in d['users'] if u[0]=='driver'][0]; print(u[1], u[2])")
TOKEN=$(curl -sf -X POST "$BASE/api/v1/auth/login" -H 'content-type: application/json' \
  -d "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}" | python3 -c "import json,sys; print(json.load(sys.stdin)['access_token'])")
# Lots open around the clock (surface lots close at night and would refuse some
# slots) with at least 100 spots (tiny lots fill up and answer 409).
LOTS=$(curl -sf "$BASE/api/v1/parking-lots?lat=51.05&lng=13.74&radius=50000&per_page=100" | python3 -c "
import json,sys,urllib.request
items=json.load(sys.stdin)['items']
keep=[]
for i in items:
    lot=json.load(urllib.request.urlopen('$BASE/api/v1/parking-lots/'+i['id']))
    if lot.get('operating_hours',{}).get('weekly') is None and i['total_spots'] >= 100:
        keep.append(i['id'])
print(','.join(keep))")
echo "parkd: demo city, $(echo "$LOTS" | tr ',' '\n' | wc -l) lots open around the clock; idle RSS $(grep VmRSS /proc/$PID/status | awk '{print $2/1024 " MB"}')"

run_wrk "nearby search: radius 2 km, availability counted" parkd/bench/search.lua "$BASE"
BASE_EPOCH=$(( ($(date +%s) / 3600 + 48) * 3600 ))
TOKEN=$TOKEN LOTS=$LOTS BASE_EPOCH=$BASE_EPOCH run_wrk "durable booking creation, distinct spots" parkd/bench/book.lua "$BASE"
echo "   bookings committed: $(curl -sf $BASE/metrics | grep '^parkd_bookings_total' | awk '{print $2}')"
EMAIL=$EMAIL PASSWORD=$PASSWORD run_wrk "login storm (argon2id)" parkd/bench/login.lua "$BASE" &
WRK=$!
PEAK=0
while kill -0 $WRK 2>/dev/null; do
  R=$(grep VmRSS /proc/$PID/status | awk '{print $2}'); [ "$R" -gt "$PEAK" ] && PEAK=$R
  # Another endpoint stays responsive during the storm:
  T=$(curl -s -o /dev/null -w '%{time_total}' "$BASE/api/v1/parking-lots?lat=51.05&lng=13.74&radius=2000")
  echo "   search during the storm: ${T}s" >>"$DATA/storm.txt"
  sleep 0.5
done
wait $WRK || true
echo "   peak RSS during the storm: $((PEAK / 1024)) MB"
sort -t: -k2 -n "$DATA/storm.txt" | tail -1 | sed 's/^/   slowest /'

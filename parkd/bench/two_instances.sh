#!/usr/bin/env bash
# Two parkd instances on one PostgreSQL database (BENCHMARKS.md, "parkd on
# PostgreSQL"): durable bookings split over both instances, then nearby search.
#
#   bash parkd/bench/two_instances.sh     # 10 s per scenario, 64 connections in all
#
# Needs wrk, python3 and Debian's PostgreSQL (apt-get install -y wrk postgresql
# postgresql-contrib); run as root (the throwaway cluster runs as `postgres`).
# Everything listens on 127.0.0.1 and is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
TARGET=${CARGO_TARGET_DIR:-target}
POOL=${POOL:-32}   # PostgreSQL connections per instance
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
PGBIN=$(dirname "$(ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)")

cargo build --release -q -p parkd --bin parkd
PARKD="$TARGET/release/parkd"
DATA=$(mktemp -d)
PG=$(mktemp -d); chown postgres "$PG"
PGPORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PG/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$DATA" "$PG"
}
trap cleanup EXIT

runuser -u postgres -- "$PGBIN/initdb" -D "$PG/data" -U postgres -A trust >/dev/null
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PG/data" -w -l "$PG/log" \
  -o "-p $PGPORT -k $PG -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
URL="postgres://postgres@127.0.0.1:$PGPORT/postgres"

wait_for() { for _ in $(seq 1 600); do curl -sf "$1" >/dev/null && return 0; sleep 0.05; done; echo "timeout waiting for $1" >&2; exit 1; }

# Instance A seeds the demo city; B starts over the same data directory (the
# same signing key, so a token from one is good on the other).
PARKD_POOL_SIZE=$POOL PARKD_RATE_LIMITS=off "$PARKD" serve --demo --database "$URL" --data-dir "$DATA" \
  --listen 127.0.0.1:18191 >"$DATA/a.out" 2>"$DATA/a.err" & PIDS+=($!)
wait_for http://127.0.0.1:18191/ready
PARKD_POOL_SIZE=$POOL PARKD_RATE_LIMITS=off "$PARKD" serve --database "$URL" --data-dir "$DATA" \
  --listen 127.0.0.1:18192 >"$DATA/b.out" 2>"$DATA/b.err" & PIDS+=($!)
wait_for http://127.0.0.1:18192/ready
A=http://127.0.0.1:18191
B=http://127.0.0.1:18192
read -r EMAIL PASSWORD < <(python3 -c "import json; d=json.load(open('$DATA/demo-credentials.json')); u=[u for u in d['users'] if u[0]=='driver'][0]; print(u[1], u[2])")
TOKEN=$(curl -sf -X POST "$A/api/v1/auth/login" -H 'content-type: application/json' \
  -d "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}" | python3 -c "import json,sys; print(json.load(sys.stdin)['access_token'])")
LOTS=$(curl -sf "$A/api/v1/parking-lots?lat=51.05&lng=13.74&radius=50000&per_page=100" | python3 -c "
import json,sys,urllib.request
items=json.load(sys.stdin)['items']
keep=[]
for i in items:
    lot=json.load(urllib.request.urlopen('$A/api/v1/parking-lots/'+i['id']))
    if lot.get('operating_hours',{}).get('weekly') is None and i['total_spots'] >= 100:
        keep.append(i['id'])
print(','.join(keep))")
echo "demo city on PostgreSQL, $(echo "$LOTS" | tr ',' '\n' | wc -l) lots open around the clock"

HALF=$((CONNECTIONS / 2))
# Each instance books its own 60 days of slots, so the two never collide.
BASE_A=$(( ($(date +%s) / 3600 + 48) * 3600 ))
BASE_B=$(( BASE_A + 61 * 86400 ))
echo "== durable booking creation: $HALF connections on each of two instances"
TOKEN=$TOKEN LOTS=$LOTS BASE_EPOCH=$BASE_A wrk -t1 -c"$HALF" -d"$DURATION" --latency -s parkd/bench/book.lua "$A" >"$DATA/wrk-a" &
WA=$!
TOKEN=$TOKEN LOTS=$LOTS BASE_EPOCH=$BASE_B wrk -t1 -c"$HALF" -d"$DURATION" --latency -s parkd/bench/book.lua "$B" >"$DATA/wrk-b" &
WB=$!
wait $WA $WB
for f in "$DATA/wrk-a" "$DATA/wrk-b"; do grep -E "Requests/sec|Non-2xx|Socket errors|p50" "$f"; done
python3 - "$DATA/wrk-a" "$DATA/wrk-b" <<'EOF'
import re, sys
total = sum(float(re.search(r"Requests/sec:\s+([\d.]+)", open(f).read()).group(1)) for f in sys.argv[1:])
print(f"   both instances together: {total:,.0f} bookings/s")
EOF
echo "   bookings in the database: $(runuser -u postgres -- "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -Atc \
  "SELECT count(*) FROM reservations WHERE status = 'confirmed'")"
echo "   overlapping blocking pairs: $(runuser -u postgres -- "$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -Atc \
  "SELECT count(*) FROM reservations x JOIN reservations y ON x.spot_id = y.spot_id AND x.id < y.id
     AND tstzrange(x.start_time, x.end_time) && tstzrange(y.start_time, y.end_time)
   WHERE x.status IN ('held','confirmed','checked_in') AND y.status IN ('held','confirmed','checked_in')")"

echo "== nearby search on one instance (served from memory)"
wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency -s parkd/bench/search.lua "$A" | grep -E "Requests/sec|Non-2xx|Socket errors|p50"

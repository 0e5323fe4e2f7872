#!/usr/bin/env bash
# Heavy reads under load: 17 clients ask at once for an XLSX export of about
# 100,000 ledger rows (retrying after 429 as Retry-After says) while a cadre's
# ordinary requests run beside them, paced to RATE per second (default 200).
# Two rounds, so memory after the first and the second can be compared.
# Prints the exports' answers, the ordinary requests' latency and errors, and
# the server's resident memory at start, at its peak and after each round.
# Usage: [RATE=200] [ARENAS=2] scripts/bench-exports.sh [extra filings, default 300000] [clients, default 17]
set -euo pipefail
cd "$(dirname "$0")/.."
FILINGS="${1:-300000}"
CLIENTS="${2:-17}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/whereabouts/target}"
for tool in wrk jq psql curl; do command -v $tool >/dev/null || { echo "$tool is needed"; exit 1; }; done
cargo build --release -q -p whereabouts-api -p whereabouts-demo
BIN="$CARGO_TARGET_DIR/release/whereabouts"
PG="${WHEREABOUTS_TEST_DATABASE_URL:-postgres://postgres@localhost:5432}"
DB="whereabouts_bench_exports_$$"
LOG="$(mktemp)"; WORK="$(mktemp -d)"
export DATABASE_URL="$PG/$DB" WHEREABOUTS_JWT_SECRET="bench-secret-bench-secret-bench-secret!!"
export WHEREABOUTS_ACCESS_TTL_SECONDS=7200 RUST_LOG=warn
# The benchmarks measure reads and writes, not sign-in: no second factor.
export WHEREABOUTS_MFA_REQUIRED_ROLES=
# The deployment setting README.md recommends: two malloc arenas, so memory
# freed after heavy reads goes back to the system. ARENAS= runs without it.
ARENAS="${ARENAS-2}"
[ -n "$ARENAS" ] && export MALLOC_ARENA_MAX="$ARENAS"
export WHEREABOUTS_DOCUMENT_KEY="YmVuY2gtZG9jdW1lbnQta2V5LTMyLWJ5dGVzLWxvbmc="
SERVER=""
cleanup() {
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null || true
  psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$LOG" "$WORK"
}
trap cleanup EXIT
kb() { awk -v k="$1" '$1 == k":" {print $2}' "/proc/$SERVER/status"; }

echo "== demo district with $FILINGS extra filings"
"$CARGO_TARGET_DIR/release/whereabouts-demo" --filings "$FILINGS" --evidence-days 1 >/dev/null
DISTRICT=$(psql "$DATABASE_URL" -Atc "SELECT id FROM units WHERE parent_id IS NULL")
# The window whose export holds about 100,000 rows.
TO=$(psql "$DATABASE_URL" -Atc "SELECT d FROM (SELECT depart_on AS d, count(*) OVER (ORDER BY depart_on) AS n
  FROM filings WHERE status <> 'draft' AND depart_on >= '2025-01-01') t WHERE n >= 100000 ORDER BY d LIMIT 1")
ROWS=$(psql "$DATABASE_URL" -Atc "SELECT count(*) FROM filings WHERE status <> 'draft' AND depart_on <= '$TO' AND return_on >= '2025-01-01'")

WHEREABOUTS_BIND=127.0.0.1:0 "$BIN" serve >"$LOG" 2>/dev/null &
SERVER=$!
for _ in $(seq 1 100); do grep -q '^listening on' "$LOG" && break; sleep 0.1; done
API="$(sed -n 's/^listening on //p' "$LOG" | head -1)/api/v1"
J='content-type: application/json'
login() { curl -fsS "$API/auth/login" -H "$J" -d "{\"login\":\"$1\",\"password\":\"demo-password-1\"}" | jq -r .access_token; }
INSPECTOR=$(login demo-inspector)
CADRE_LOGIN=$(psql "$DATABASE_URL" -Atc "SELECT login FROM accounts a WHERE NOT EXISTS (SELECT 1 FROM role_grants g WHERE g.account_id = a.id) AND unit_id IS NOT NULL ORDER BY login LIMIT 1")
CADRE=$(login "$CADRE_LOGIN")
EXPORT="$API/ledger?unit_id=$DISTRICT&from=2025-01-01&to=$TO&format=xlsx"
curl -fsS "$API/me" -H "authorization: Bearer $CADRE" >/dev/null
BASE_RSS=$(kb VmRSS)
echo "   server resident memory at start: $((BASE_RSS / 1024)) MB"

# The cadre's ordinary requests, paced to $RATE per second over 8 connections
# (each waits a random gap before its next request), so their latency shows
# queueing behind the exports rather than a saturated machine.
RATE="${RATE:-200}"
cat >"$WORK/me.lua" <<LUA
wrk.headers["authorization"] = "Bearer $CADRE"
local gap = 8000 / $RATE
delay = function() return math.random(0, math.floor(2 * gap)) end
done = function(summary, latency, requests)
  io.write(string.format("   GET /me at $RATE/s: %d requests, p50 %.1f ms, p99 %.1f ms, max %.1f ms, non-2xx %d, socket errors %d\n",
    summary.requests, latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.timeout))
end
LUA

client() {
  local n=$1 tries=0 first=""
  while :; do
    tries=$((tries + 1))
    code=$(curl -sS -o "$WORK/export-$n.xlsx" -D "$WORK/head-$n" -w '%{http_code}' "$EXPORT" -H "authorization: Bearer $INSPECTOR")
    [ -z "$first" ] && first=$code
    if [ "$code" = 429 ]; then
      sleep "$(awk 'tolower($1) == "retry-after:" {print $2+0}' "$WORK/head-$n")"
      continue
    fi
    echo "$n $first $code $tries $(stat -c %s "$WORK/export-$n.xlsx")" >>"$WORK/clients"
    return
  done
}

echo "== without exports, 10 s"
wrk -t1 -c8 -d10s -s "$WORK/me.lua" "$API/me" | grep "GET /me"

for round in 1 2; do
  echo "== round $round: $CLIENTS clients export $ROWS rows as XLSX at once (retrying after 429 as told); GET /me beside them for 30 s"
  : >"$WORK/clients"; : >"$WORK/rss"
  start=$(date +%s.%N)
  ( while kill -0 "$SERVER" 2>/dev/null; do kb VmRSS >>"$WORK/rss"; sleep 0.2; done ) &
  SAMPLER=$!
  PIDS=()
  for n in $(seq 1 "$CLIENTS"); do client "$n" & PIDS+=($!); done
  wrk -t1 -c8 -d30s -s "$WORK/me.lua" "$API/me" | grep "GET /me"
  wait "${PIDS[@]}"
  end=$(date +%s.%N)
  kill "$SAMPLER" 2>/dev/null || true
  wait "$SAMPLER" 2>/dev/null || true
  awk '{first[$2]++; final[$3]++; tries += $4; size = $5} END {
    printf "   exports: first answers"; for (c in first) printf " %s×%d", c, first[c];
    printf "; final answers"; for (c in final) printf " %s×%d", c, final[c];
    printf "; %d requests in all; %d bytes each\n", tries, size }' "$WORK/clients"
  printf "   all %d exports done in %.1f s\n" "$CLIENTS" "$(echo "$end - $start" | bc)"
  sleep 2
  echo "   server resident memory: before $((BASE_RSS / 1024)) MB, peak $(( $(sort -n "$WORK/rss" | tail -1) / 1024 )) MB, after $(( $(kb VmRSS) / 1024 )) MB"
done

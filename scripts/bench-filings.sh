#!/usr/bin/env bash
# Load benchmark of filing submissions on a district-sized database (133 units,
# 40,000 accounts, 500,000 earlier filings), in one run: pgbench runs the
# minimal durable submission (scripts/bench/minimal.sql) and the old server
# transaction (submit.sql) at 32 clients; then POST /api/v1/filings with wrk
# at 32 connections, for filers who need approval and filers who only report,
# each against the minimal rate; then the approver inbox and the roster.
# Each route runs twice: saturated (every connection sends its next request as
# soon as the last one is answered) and paced (the 32 connections together
# offer a fixed rate with random gaps), which is where the latency targets
# are read: submissions at 60% of their own saturated rate, the reads at PACE,
# default 60% of submit.sql's pgbench rate.
# Usage: scripts/bench-filings.sh [seconds per run, default 20] [PACE]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN="${1:-20}"
PACE="${2:-}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/whereabouts/target}"
for tool in wrk pgbench jq; do command -v $tool >/dev/null || { echo "$tool is needed"; exit 1; }; done
cargo build --release -q -p whereabouts-api
BIN="$CARGO_TARGET_DIR/release/whereabouts"
PG="${WHEREABOUTS_TEST_DATABASE_URL:-postgres://postgres@localhost:5432}"
DB="whereabouts_bench_filings_$$"
LOG="$(mktemp)"; WORK="$(mktemp -d)"
export DATABASE_URL="$PG/$DB" WHEREABOUTS_JWT_SECRET="bench-secret-bench-secret-bench-secret!!"
export WHEREABOUTS_ADMIN_PASSWORD="bench-password-1" WHEREABOUTS_ACCESS_TTL_SECONDS=7200 RUST_LOG=warn
# The benchmarks measure reads and writes, not sign-in: no second factor.
export WHEREABOUTS_MFA_REQUIRED_ROLES=
export WHEREABOUTS_DB_POOL_SIZE="${WHEREABOUTS_DB_POOL_SIZE:-32}"
cleanup() {
  [ -n "${SERVER:-}" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
  psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$LOG" "$WORK"
}
trap cleanup EXIT

"$BIN" create-admin --login bench >/dev/null
HASH=$(psql "$DATABASE_URL" -Atc "SELECT password_hash FROM accounts WHERE login = 'bench'")
echo "== seeding 133 units, 40,000 accounts, 500,000 filings"
start=$(date +%s)
psql "$DATABASE_URL" -q -v password_hash="$HASH" -f scripts/bench/seed.sql
echo "   seeded in $(( $(date +%s) - start ))s: $(psql "$DATABASE_URL" -Atc 'SELECT count(*) FROM filings') filings"

WHEREABOUTS_BIND=127.0.0.1:0 "$BIN" serve >"$LOG" 2>/dev/null &
SERVER=$!
for _ in $(seq 1 100); do grep -q '^listening on' "$LOG" && break; sleep 0.1; done
BASE="$(sed -n 's/^listening on //p' "$LOG" | head -1)"
API="$BASE/api/v1"
J='content-type: application/json'
login() { curl -fsS "$API/auth/login" -H "$J" -d "{\"login\":\"$1\",\"password\":\"bench-password-1\"}" | jq -r .access_token; }
ADMIN=$(login bench)

# A wrk script filing for 64 filers, each request for one at random: $1 and
# $2 are the first and last account numbers. Staff (1000 on) need their
# department head and the unit's principal; department heads (1 to 399) only
# report.
filer_script() {
  echo 'tokens = {'
  for n in $(seq "$1" "$2"); do echo "\"$(login user$n)\","; done
  echo '}'
  cat <<'LUA'
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.body = '{"submit":true,"draft":{"kind":"leave_jurisdiction","purpose":"tourism","reason":"bench","destinations":[{"code":"310000"}],"depart_on":"2027-06-01","return_on":"2027-06-03","contact_phone":"13800138000"}}'
request = function()
  wrk.headers["authorization"] = "Bearer " .. tokens[math.random(#tokens)]
  return wrk.format()
end
LUA
}
filer_script 1000 1063 >"$WORK/submit.lua"
filer_script 2 65 >"$WORK/report.lua"
for who in user2000 user66; do
  curl -fsS "$API/filings" -H "authorization: Bearer $(login $who)" -H "$J" \
    -d '{"submit":true,"draft":{"kind":"leave_jurisdiction","purpose":"tourism","reason":"check","destinations":[{"code":"310000"}],"depart_on":"2027-06-01","return_on":"2027-06-03","contact_phone":"13800138000"}}' \
    | jq -c '{status, requirement, current_step, approvers: [.approvals[].candidates[0]]}'
done

# A wrk script paced to $1 requests per second over 32 connections: each
# connection waits a random gap (mean 32/$1 s) before its next request.
paced() {
  cat "$2"
  echo "local gap = 32000 / $1"
  echo 'delay = function() return math.random(0, math.floor(2 * gap)) end'
}
run_paced() { # rate, script, url
  paced "$1" "$2" >"$WORK/paced.lua"
  wrk -t2 -c32 -d"${SECONDS_PER_RUN}s" --latency -s "$WORK/paced.lua" "$3" | report
}
# The policy snapshot a phone downloads, for a staff member of unit-1 (about
# 300 accounts in the unit, like every unit of the seed).
SNAP_TOKEN=$(login user1000)
curl -fsS "$API/me/policy-snapshot" -H "authorization: Bearer $SNAP_TOKEN" -o "$WORK/snapshot.json"
MEMBERS=$(psql "$DATABASE_URL" -Atc "SELECT count(*) FROM accounts a JOIN units u ON u.id = a.unit_id
  WHERE u.path @> ARRAY[(SELECT parent_id FROM units WHERE id = (SELECT unit_id FROM accounts WHERE login = 'user1000'))]")
echo "== policy snapshot of user1000 (their unit has $MEMBERS accounts): $(stat -c %s "$WORK/snapshot.json") bytes, $(gzip -9c "$WORK/snapshot.json" | wc -c) gzipped"

report() { grep -E "Requests/sec|  50%|  99%|Non-2xx|Socket errors" | sed 's/^/   /'; }
rate() { sed -n 's/.*Requests\/sec: *\([0-9.]*\).*/\1/p' "$1" | head -1; }
# pgbench with $1 as its script: its rate, and its latency percentiles from its
# per-transaction log (µs, column 3).
bench_sql() {
  rm -f "$WORK"/pgbench.*
  pgbench -n -c32 -j2 -T"$SECONDS_PER_RUN" -f "$1" -l --log-prefix="$WORK/pgbench" "$DATABASE_URL" 2>/dev/null \
    | grep -E "^tps|latency average" | sed 's/^/   /' | tee "$WORK/pgbench.out"
  cat "$WORK"/pgbench.* 2>/dev/null | awk '$3 ~ /^[0-9]+$/ {print $3}' | sort -n | awk '{a[NR]=$1} END {if (NR) printf "   pgbench latency p50 %.1f ms, p99 %.1f ms\n", a[int(NR*0.5)]/1000, a[int(NR*0.99)]/1000}'
}
echo "== pgbench, the minimal durable submission (scripts/bench/minimal.sql), 32 clients, ${SECONDS_PER_RUN}s"
bench_sql scripts/bench/minimal.sql
MINIMAL=$(sed -n 's/.*tps = \([0-9.]*\).*/\1/p' "$WORK/pgbench.out" | head -1)
echo "== pgbench, the server's old submission transaction (scripts/bench/submit.sql), 32 clients, ${SECONDS_PER_RUN}s"
bench_sql scripts/bench/submit.sql
TPS=$(sed -n 's/.*tps = \([0-9.]*\).*/\1/p' "$WORK/pgbench.out" | head -1)
for kind in approval report; do
  script="$WORK/submit.lua"; [ "$kind" = report ] && script="$WORK/report.lua"
  echo "== POST /api/v1/filings (submit, $kind), 32 connections, ${SECONDS_PER_RUN}s"
  wrk -t2 -c32 -d"${SECONDS_PER_RUN}s" --latency -s "$script" "$API/filings" >"$WORK/wrk.out"
  report <"$WORK/wrk.out"
  RATE=$(rate "$WORK/wrk.out")
  echo "   $(awk -v r="$RATE" -v m="$MINIMAL" 'BEGIN {printf "%.2f", r / m}') of the minimal transaction's rate"
  EACH=$(awk -v r="$RATE" 'BEGIN {printf "%d", r * 0.6 + 0.5}')
  echo "== POST /api/v1/filings (submit, $kind), 32 connections paced to $EACH/s (60% of its rate), ${SECONDS_PER_RUN}s"
  run_paced "$EACH" "$script" "$API/filings"
done
PACE="${PACE:-$(awk -v t="$TPS" 'BEGIN {printf "%d", t * 0.6 + 0.5}')}"

# The inbox of user1 (head of user400's department) gets as many filings as
# pgbench's steps happened to give it; user400 files real trips until it holds
# a full default page of 50, so every run reads the same page.
HEAD_TOKEN=$(login user1)
inbox_size() { curl -fsS "$API/approvals/pending?limit=500" -H "authorization: Bearer $HEAD_TOKEN" | jq '.items | length'; }
FILER=$(login user400)
for _ in $(seq "$(inbox_size)" 49); do
  curl -fsS "$API/filings" -H "authorization: Bearer $FILER" -H "$J" -o /dev/null \
    -d '{"submit":true,"draft":{"kind":"leave_jurisdiction","purpose":"tourism","reason":"bench","destinations":[{"code":"310000"}],"depart_on":"2027-06-01","return_on":"2027-06-03","contact_phone":"13800138000"}}'
done
echo "   inbox of user1: $(inbox_size) filings"
cat >"$WORK/get.lua" <<LUA
wrk.headers["authorization"] = "Bearer $HEAD_TOKEN"
LUA
echo "== GET /api/v1/approvals/pending (a department head), 32 connections, ${SECONDS_PER_RUN}s"
wrk -t2 -c32 -d"${SECONDS_PER_RUN}s" --latency -s "$WORK/get.lua" "$API/approvals/pending" | report
echo "== the same, paced to $PACE/s"
run_paced "$PACE" "$WORK/get.lua" "$API/approvals/pending"
UNIT=$(psql "$DATABASE_URL" -Atc "SELECT id FROM units WHERE code = 'unit-1'")
cat >"$WORK/roster.lua" <<LUA
wrk.headers["authorization"] = "Bearer $ADMIN"
LUA
echo "   roster of unit-1 on 2026-05-02: $(curl -fsS "$API/units/$UNIT/roster?on=2026-05-02" -H "authorization: Bearer $ADMIN" | jq '.items | length') people away"
echo "== GET /api/v1/units/{id}/roster?on=2026-05-02, 32 connections, ${SECONDS_PER_RUN}s"
wrk -t2 -c32 -d"${SECONDS_PER_RUN}s" --latency -s "$WORK/roster.lua" "$API/units/$UNIT/roster?on=2026-05-02" | report
echo "== the same, paced to $PACE/s"
run_paced "$PACE" "$WORK/roster.lua" "$API/units/$UNIT/roster?on=2026-05-02"

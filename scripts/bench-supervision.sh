#!/usr/bin/env bash
# Supervision on the demo district grown to 1,000,000 filings: a ledger page
# of the whole district over a month (wrk, p50/p95/p99), a CSV export of about
# 100,000 rows with the server's peak memory, a reconciliation of 40,000
# people over 10 days with 400,000 evidence rows, and a campaign report over
# the 133 units; then EXPLAIN ANALYZE of the heaviest queries.
# Usage: scripts/bench-supervision.sh [extra filings, default 1000000] [seconds, default 20]
set -euo pipefail
cd "$(dirname "$0")/.."
FILINGS="${1:-1000000}"
SECONDS_PER_RUN="${2:-20}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/whereabouts/target}"
for tool in wrk jq psql curl; do command -v $tool >/dev/null || { echo "$tool is needed"; exit 1; }; done
cargo build --release -q -p whereabouts-api -p whereabouts-demo
BIN="$CARGO_TARGET_DIR/release/whereabouts"
PG="${WHEREABOUTS_TEST_DATABASE_URL:-postgres://postgres@localhost:5432}"
DB="whereabouts_bench_supervision_$$"
LOG="$(mktemp)"; WORK="$(mktemp -d)"
export DATABASE_URL="$PG/$DB" WHEREABOUTS_JWT_SECRET="bench-secret-bench-secret-bench-secret!!"
export WHEREABOUTS_ACCESS_TTL_SECONDS=7200 RUST_LOG=warn
# The benchmarks measure reads and writes, not sign-in: no second factor.
export WHEREABOUTS_MFA_REQUIRED_ROLES=
export WHEREABOUTS_DOCUMENT_KEY="YmVuY2gtZG9jdW1lbnQta2V5LTMyLWJ5dGVzLWxvbmc="
SERVER=""
stop_server() { [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null; SERVER=""; }
cleanup() {
  stop_server || true
  psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$LOG" "$WORK"
}
trap cleanup EXIT
start_server() {
  : >"$LOG"
  WHEREABOUTS_BIND=127.0.0.1:0 "$BIN" serve >"$LOG" 2>/dev/null &
  SERVER=$!
  for _ in $(seq 1 100); do grep -q '^listening on' "$LOG" && break; sleep 0.1; done
  BASE="$(sed -n 's/^listening on //p' "$LOG" | head -1)"
  API="$BASE/api/v1"
}
peak_kb() { awk '/VmHWM/ {print $2}' "/proc/$SERVER/status"; }

echo "== demo district with $FILINGS extra filings and 10 days of attendance"
start=$(date +%s)
"$CARGO_TARGET_DIR/release/whereabouts-demo" --filings "$FILINGS" --evidence-days 10 | tail -n 20 | sed 's/^/   /'
echo "   built in $(( $(date +%s) - start ))s: $(psql "$DATABASE_URL" -Atc 'SELECT count(*) FROM filings') filings, $(psql "$DATABASE_URL" -Atc 'SELECT count(*) FROM evidence') evidence rows"
DISTRICT=$(psql "$DATABASE_URL" -Atc "SELECT id FROM units WHERE parent_id IS NULL")

start_server
J='content-type: application/json'
TOKEN=$(curl -fsS "$API/auth/login" -H "$J" -d '{"login":"demo-inspector","password":"demo-password-1"}' | jq -r .access_token)
AUTH="authorization: Bearer $TOKEN"

# wrk prints p50/p90/p99; this script adds p95.
cat >"$WORK/page.lua" <<LUA
wrk.headers["authorization"] = "Bearer $TOKEN"
done = function(summary, latency, requests)
  io.write(string.format("   requests/s %.1f  p50 %.1f ms  p95 %.1f ms  p99 %.1f ms  errors %d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.timeout))
end
LUA
PAGE="$API/ledger?unit_id=$DISTRICT&from=2025-06-01&to=2025-06-30"
echo "== ledger page (50 rows and counts) of the whole district for June 2025: $(curl -fsS "$PAGE" -H "$AUTH" | jq .counts.total) filings match"
for c in 1 4; do
  echo "   $c connection(s), ${SECONDS_PER_RUN}s:"
  wrk -t1 -c$c -d"${SECONDS_PER_RUN}s" -s "$WORK/page.lua" "$PAGE" | grep "requests/s"
done

stop_server
start_server
TOKEN=$(curl -fsS "$API/auth/login" -H "$J" -d '{"login":"demo-inspector","password":"demo-password-1"}' | jq -r .access_token)
AUTH="authorization: Bearer $TOKEN"
EXPORT="$API/ledger?unit_id=$DISTRICT&from=2025-03-01&to=2025-04-15&format=csv"
ROWS=$(psql "$DATABASE_URL" -Atc "SELECT count(*) FROM filings WHERE status <> 'draft' AND return_on >= '2025-03-01' AND depart_on <= '2025-04-15'")
curl -fsS "$API/ledger?unit_id=$DISTRICT&limit=1" -H "$AUTH" >/dev/null
BEFORE=$(peak_kb)
echo "== CSV export of $ROWS filings (March to mid-April 2025)"
curl -fsS "$EXPORT" -H "$AUTH" -o "$WORK/export.csv" -w "   %{time_total}s, %{size_download} bytes\n"
echo "   lines: $(wc -l <"$WORK/export.csv") (with the heading)"
echo "   server peak resident memory: $((BEFORE / 1024)) MB before, $(( $(peak_kb) / 1024 )) MB after the export"

EVIDENCE=$(psql "$DATABASE_URL" -Atc "SELECT count(*) FROM evidence WHERE date BETWEEN '2026-05-06' AND '2026-05-15'")
echo "== reconciliation of the district, 2026-05-06..2026-05-15 ($EVIDENCE evidence rows)"
curl -fsS "$API/reconciliations" -H "$AUTH" -H "$J" -d "{\"unit_id\":\"$DISTRICT\",\"from\":\"2026-05-06\",\"to\":\"2026-05-15\"}" \
  -o "$WORK/reconciliation.json" -w "   %{time_total}s\n"
jq -r '"   people \(.people), discrepancies \(.discrepancies | length), new \(.created)"' "$WORK/reconciliation.json"
echo "== reconciliation of the May Day window, 2026-04-28..2026-05-07"
curl -fsS "$API/reconciliations" -H "$AUTH" -H "$J" -d "{\"unit_id\":\"$DISTRICT\",\"from\":\"2026-04-28\",\"to\":\"2026-05-07\"}" \
  -o "$WORK/mayday.json" -w "   %{time_total}s\n"
jq -r '"   people \(.people), discrepancies \(.discrepancies | length), new \(.created)"' "$WORK/mayday.json"

CAMPAIGN=$(curl -fsS "$API/inspections" -H "$AUTH" -H "$J" -d "{\"name\":\"May Day 2026\",\"unit_id\":\"$DISTRICT\",\"from\":\"2026-04-28\",\"to\":\"2026-05-07\"}" | jq -r .id)
echo "== campaign report over the district (3 runs)"
for _ in 1 2 3; do
  curl -fsS "$API/inspections/$CAMPAIGN/report" -H "$AUTH" -o "$WORK/report.json" -w "   %{time_total}s\n"
done
jq -r '.overall | "   units \(.units), with problems \(.units_with_problems) (\(.share_with_problems * 100 | floor)%), members \(.members), filings \(.filings), late \(.late_filings), unreported by rank \(.people_unreported_by_rank)"' "$WORK/report.json"

echo "== EXPLAIN ANALYZE (prepared with parameters, as the server sends them; no per-node timing)"
NODES=$(psql "$DATABASE_URL" -Atc "SELECT '{' || string_agg(id::text, ',') || '}' FROM units WHERE path @> ARRAY['$DISTRICT']::uuid[]")
psql "$DATABASE_URL" -q <<SQL | grep -vE "^-+$|QUERY PLAN|^\(|^$" | sed -E "s/ANY \('\{[^}]*\}'/ANY ('{…the subtree's nodes…}'/" | head -80 | sed 's/^/   /'
-- The server's sessions run without JIT (api/src/db.rs).
SET jit = off;
PREPARE counts(uuid[], date, date) AS
  SELECT f.status, count(*) FROM filings f
  WHERE f.status <> 'draft' AND f.unit_id = ANY(\$1) AND f.depart_on <= \$3 AND f.return_on >= \$2
    AND f.depart_on >= \$2::date - (SELECT coalesce(max(l.return_on - l.depart_on), 0) FROM filings l WHERE l.status <> 'draft')
  GROUP BY f.status;
PREPARE page(uuid[], date, date) AS
  SELECT f.id FROM filings f JOIN accounts a ON a.id = f.account_id JOIN units u ON u.id = f.unit_id
  WHERE f.status <> 'draft' AND f.unit_id = ANY(\$1) AND f.depart_on <= \$3 AND f.return_on >= \$2
    AND f.depart_on >= \$2::date - (SELECT coalesce(max(l.return_on - l.depart_on), 0) FROM filings l WHERE l.status <> 'draft')
  ORDER BY f.depart_on DESC NULLS LAST, f.id DESC LIMIT 51;
\echo '-- ledger counts, whole district, June 2025 (flags left out)'
EXPLAIN (ANALYZE, TIMING OFF) EXECUTE counts('$NODES', '2025-06-01', '2025-06-30');
\echo '-- ledger page'
EXPLAIN (ANALYZE, TIMING OFF) EXECUTE page('$NODES', '2025-06-01', '2025-06-30');
\echo '-- reconciliation: the window evidence'
EXPLAIN (ANALYZE, TIMING OFF) SELECT id FROM evidence WHERE unit_path @> ARRAY['$DISTRICT']::uuid[] AND date <= '2026-05-15'
  AND (date >= '2026-05-06' OR (source = 'border_crossing' AND date >= '2025-05-05'));
SQL

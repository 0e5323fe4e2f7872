#!/usr/bin/env bash
# Load benchmark: POST /api/v1/assessments and GET /healthz at 32 concurrent
# connections with wrk, against the release server on a fresh database seeded
# with a district, a bureau, an office, a clerk and a two-step policy.
# Usage: scripts/bench-http.sh [seconds per run, default 20]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN="${1:-20}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/whereabouts/target}"
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)"; exit 1; }
cargo build --release -q -p whereabouts-api
BIN="$CARGO_TARGET_DIR/release/whereabouts"
PG="${WHEREABOUTS_TEST_DATABASE_URL:-postgres://postgres@localhost:5432}"
DB="whereabouts_bench_$$"
LOG="$(mktemp)"
WORK="$(mktemp -d)"
export DATABASE_URL="$PG/$DB" WHEREABOUTS_JWT_SECRET="bench-secret-bench-secret-bench-secret!!"
export WHEREABOUTS_ADMIN_PASSWORD="bench-password-1" WHEREABOUTS_ACCESS_TTL_SECONDS=3600 RUST_LOG=warn
# The benchmarks measure reads and writes, not sign-in: no second factor.
export WHEREABOUTS_MFA_REQUIRED_ROLES=
cleanup() {
  [ -n "${SERVER:-}" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
  psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$LOG" "$WORK"
}
trap cleanup EXIT

"$BIN" create-admin --login bench >/dev/null
WHEREABOUTS_BIND=127.0.0.1:0 "$BIN" serve >"$LOG" 2>/dev/null &
SERVER=$!
for _ in $(seq 1 100); do grep -q '^listening on' "$LOG" && break; sleep 0.1; done
BASE="$(sed -n 's/^listening on //p' "$LOG" | head -1)"
API="$BASE/api/v1"
J='content-type: application/json'
post() { curl -fsS "$API/$1" -H "authorization: Bearer $2" -H "$J" -d "$3"; }
ADMIN=$(curl -fsS "$API/auth/login" -H "$J" -d '{"login":"bench","password":"bench-password-1"}' | jq -r .access_token)
D=$(post units "$ADMIN" '{"code":"d","name":"District","kind":"jurisdiction","parent_id":null}' | jq -r .id)
B=$(post units "$ADMIN" "{\"code\":\"b\",\"name\":\"Bureau\",\"kind\":\"unit\",\"parent_id\":\"$D\"}" | jq -r .id)
O=$(post units "$ADMIN" "{\"code\":\"o\",\"name\":\"Office\",\"kind\":\"department\",\"parent_id\":\"$B\"}" | jq -r .id)
acct() { post accounts "$ADMIN" "{\"login\":\"$1\",\"display_name\":\"$1\",\"unit_id\":\"$2\",\"rank\":\"$3\",\"position\":\"$4\",\"password\":\"bench-password-1\"}" | jq -r .id; }
CLERK=$(acct clerk "$O" clerk staff); HEAD=$(acct head "$O" section department_head); CHIEF=$(acct chief "$B" bureau principal)
curl -fsS -X PUT "$API/units/$O/leaders" -H "authorization: Bearer $ADMIN" -H "$J" -d "{\"principal_id\":\"$HEAD\"}" >/dev/null
curl -fsS -X PUT "$API/units/$B/leaders" -H "authorization: Bearer $ADMIN" -H "$J" -d "{\"principal_id\":\"$CHIEF\"}" >/dev/null
curl -fsS -X PUT "$API/units/$B/policy" -H "authorization: Bearer $ADMIN" -H "$J" -d '{"rules":[
 {"id":"key","applies_to":{"key_post":true},"requirement":"approval","approvers":[{"kind":"unit_principal"}],"form":"online","notice":{"days":5,"working_days":true}},
 {"id":"staff","applies_to":{"positions":["staff"]},"requirement":"approval","approvers":[{"kind":"department_head"},{"kind":"unit_principal"}],"form":"online","notice":{"days":3,"working_days":true},"return_report":{"required":true,"within_hours":24},"max_days":30},
 {"id":"rest","requirement":"report","form":"online","notice":{"days":1,"working_days":false}}]}' >/dev/null
TOKEN=$(curl -fsS "$API/auth/login" -H "$J" -d '{"login":"clerk","password":"bench-password-1"}' | jq -r .access_token)
cat >"$WORK/assess.lua" <<LUA
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.headers["authorization"] = "Bearer $TOKEN"
wrk.body = '{"draft":{"kind":"leave_jurisdiction","purpose":"tourism","reason":"May Day","destinations":[{"code":"310000"}],"depart_on":"2026-12-31","return_on":"2027-01-03","contact_phone":"13800138000"}}'
LUA
# Check the request works before measuring it.
curl -fsS "$API/assessments" -H "authorization: Bearer $TOKEN" -H "$J" \
  -d '{"draft":{"kind":"leave_jurisdiction","purpose":"tourism","reason":"May Day","destinations":[{"code":"310000"}],"depart_on":"2026-12-31","return_on":"2027-01-03","contact_phone":"13800138000"}}' | jq -c '{valid, requirement, approvers: [.approvers[].display_name]}'
echo "== GET /healthz, 32 connections, ${SECONDS_PER_RUN}s"
wrk -t2 -c32 -d"${SECONDS_PER_RUN}s" --latency "$BASE/healthz" | grep -E "Requests/sec|50%|90%|99%|Non-2xx"
echo "== POST /api/v1/assessments, 32 connections, ${SECONDS_PER_RUN}s"
wrk -t2 -c32 -d"${SECONDS_PER_RUN}s" --latency -s "$WORK/assess.lua" "$API/assessments" | grep -E "Requests/sec|50%|90%|99%|Non-2xx"

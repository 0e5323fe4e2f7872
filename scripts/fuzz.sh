#!/usr/bin/env bash
# Fuzzes the running API from its own OpenAPI document with schemathesis: no
# 5xx, and no status, content type, header or body the document does not allow.
# Usage: scripts/fuzz.sh [path/to/schemathesis]
set -euo pipefail
cd "$(dirname "$0")/.."
ST="${1:-schemathesis}"
BIN="${CARGO_TARGET_DIR:-target}/debug/whereabouts"
PG="${WHEREABOUTS_TEST_DATABASE_URL:-postgres://postgres@localhost:5432}"
DB="whereabouts_fuzz_$$"
LOG="$(mktemp)"
export DATABASE_URL="$PG/$DB"
export WHEREABOUTS_JWT_SECRET="fuzz-secret-fuzz-secret-fuzz-secret-fuzz"
export WHEREABOUTS_ADMIN_PASSWORD="fuzz-password-1" WHEREABOUTS_ACCESS_TTL_SECONDS=7200
# The fuzzer logs in many times from one address.
export WHEREABOUTS_LOGIN_MAX_FAILURES=1000000 WHEREABOUTS_LOGIN_MAX_FAILURES_PER_ADDRESS=1000000 \
  WHEREABOUTS_LOGIN_SLOWDOWN_AFTER=1000000

cleanup() {
  [ -n "${SERVER:-}" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
  psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -f "$LOG"
}
trap cleanup EXIT

"$BIN" create-admin --login fuzz >/dev/null
# The fuzzer explores as an administrator that need not enrol a second factor.
WHEREABOUTS_MFA_REQUIRED_ROLES= WHEREABOUTS_BIND=127.0.0.1:0 "$BIN" serve >"$LOG" 2>/dev/null &
SERVER=$!
for _ in $(seq 1 100); do grep -q '^listening on' "$LOG" && break; sleep 0.1; done
BASE="$(sed -n 's/^listening on //p' "$LOG" | head -1)"
[ -n "$BASE" ] || { echo "the server did not start"; exit 1; }

TOKEN="$(curl -fsS "$BASE/api/v1/auth/login" -H 'content-type: application/json' \
  -d '{"login":"fuzz","password":"fuzz-password-1"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')"
# Give the fuzzer a tree to find: a district with a unit.
ROOT="$(curl -fsS "$BASE/api/v1/units" -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
  -d '{"code":"fuzz-root","name":"Fuzz","kind":"jurisdiction","parent_id":null}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
curl -fsS "$BASE/api/v1/units" -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
  -d "{\"code\":\"fuzz-unit\",\"name\":\"Unit\",\"kind\":\"unit\",\"parent_id\":\"$ROOT\"}" >/dev/null

# endMySession is left out: the fuzzer lists its own session and ends it, and
# every later request would answer 401 (api/tests/my_sessions.rs covers it).
"$ST" run "$BASE/api/v1/openapi.json" \
  --url "$BASE" \
  --exclude-operation-id endMySession \
  --header "Authorization: Bearer $TOKEN" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
  --max-examples "${FUZZ_EXAMPLES:-40}" \
  --generation-deterministic \
  --seed 20261127 \
  --max-time "${FUZZ_MAX_SECONDS:-300}"

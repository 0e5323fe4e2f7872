#!/usr/bin/env bash
# Lints the OpenAPI document: openapi-spec-validator checks it against the
# OpenAPI schema, and Redocly checks it with the `recommended` ruleset
# (redocly.yaml). Any error or warning of either fails.
# Usage: scripts/lint-openapi.sh [path/to/openapi.json]
# Installs what it needs under $HOME/.cache/whereabouts: the Python venv from
# scripts/requirements-ci.txt, and @redocly/cli from scripts/openapi-lint/.
set -euo pipefail
cd "$(dirname "$0")/.."
DOC="${1:-openapi/openapi.json}"
CACHE="$HOME/.cache/whereabouts"
VENV="$CACHE/venv"
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true

# The venv, (re)installed whenever scripts/requirements-ci.txt changes.
python_tools() {
  local want
  want="$(sha256sum scripts/requirements-ci.txt | cut -d' ' -f1)"
  if [ "$(cat "$VENV/.requirements-ci.sha256" 2>/dev/null)" != "$want" ]; then
    [ -x "$VENV/bin/pip" ] || python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet -r scripts/requirements-ci.txt
    echo "$want" >"$VENV/.requirements-ci.sha256"
  fi
}

# An npm package's locked dependencies, installed once per lock file with
# `npm ci`; prints the folder that holds their node_modules.
npm_tools() {
  local name="$1" src="$2" dest
  dest="$CACHE/node/$name-$(cat "$src/package.json" "$src/package-lock.json" | sha256sum | cut -c1-16)"
  if [ ! -d "$dest/node_modules" ]; then
    rm -rf "$dest.tmp" && mkdir -p "$dest.tmp"
    cp "$src/package.json" "$src/package-lock.json" "$dest.tmp/"
    (cd "$dest.tmp" && npm ci --cache "$CACHE/npm" --no-audit --no-fund --loglevel=error >&2)
    mv "$dest.tmp" "$dest"
  fi
  echo "$dest"
}

python_tools
REDOCLY="$(npm_tools openapi-lint scripts/openapi-lint)/node_modules/.bin/redocly"
status=0

echo "openapi-spec-validator $DOC"
"$VENV/bin/openapi-spec-validator" --validation-errors all "$DOC" || status=1

echo "redocly lint $DOC (redocly.yaml)"
REPORT="$(mktemp)"
ERRORS="$(mktemp)"
trap 'rm -f "$REPORT" "$ERRORS"' EXIT
# Exits 1 on errors only; the JSON report counts the warnings too.
"$REDOCLY" lint --config redocly.yaml --lint-config error --format json --max-problems 100000 "$DOC" \
  >"$REPORT" 2>"$ERRORS" || true
python3 - "$REPORT" "$ERRORS" <<'EOF' || status=1
import collections, json, sys

try:
    report = json.load(open(sys.argv[1]))
except ValueError:
    sys.stdout.write(open(sys.argv[2]).read())
    sys.exit("redocly lint did not answer a report")
problems = report["problems"]
for p in problems:
    where = p["location"][0].get("pointer", "") if p.get("location") else ""
    print(f"  {p['severity']:5} {p['ruleId']}: {where}: {p['message']}")
counts = collections.Counter(p["ruleId"] for p in problems)
for rule, n in sorted(counts.items()):
    print(f"  {n:4} x {rule}")
totals = report["totals"]
print(f"redocly: {totals['errors']} errors, {totals['warnings']} warnings")
sys.exit(1 if totals["errors"] or totals["warnings"] else 0)
EOF

[ "$status" = 0 ] && echo "the OpenAPI document lints clean"
exit "$status"

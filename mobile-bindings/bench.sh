#!/usr/bin/env bash
# Figures for BENCHMARKS.md: library sizes for this machine's target (release
# and the size-optimised `mobile` profile, stripped), and the time of one
# assessment in Rust, through Python and through Kotlin on the JVM, on shared
# vector 001 (a clerk's May Day trip).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
export BINDINGS_DIR="${BINDINGS_DIR:-$ROOT/target/bindings-release}"
KOTLIN_HOME="${KOTLIN_HOME:-$HOME/.cache/whereabouts/kotlin}"
JARS=/usr/share/java
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

mobile-bindings/generate.sh --release >/dev/null
cargo build -q --profile mobile -p whereabouts-mobile
TRIPLE="$(rustc -vV | sed -n 's/^host: //p')"
size() { stat -c %s "$1" | awk '{printf "%.2f MB (%d bytes)", $1 / 1048576, $1}'; }
cp "$CARGO_TARGET_DIR/release/libwhereabouts_mobile.so" "$WORK/release.so" && strip "$WORK/release.so"
cp "$CARGO_TARGET_DIR/release/libwhereabouts_mobile.a" "$WORK/release.a" && strip --strip-debug "$WORK/release.a"
cp "$CARGO_TARGET_DIR/mobile/libwhereabouts_mobile.a" "$WORK/mobile.a" && strip --strip-debug "$WORK/mobile.a"
echo "== sizes on $TRIPLE (stripped)"
echo "   release cdylib:  $(size "$WORK/release.so")"
echo "   mobile  cdylib:  $(size "$CARGO_TARGET_DIR/mobile/libwhereabouts_mobile.so")"
echo "   release staticlib: $(size "$WORK/release.a")"
echo "   mobile  staticlib: $(size "$WORK/mobile.a")"
gzip -9c "$CARGO_TARGET_DIR/mobile/libwhereabouts_mobile.so" >"$WORK/mobile.so.gz"
echo "   mobile  cdylib gzipped (download size): $(size "$WORK/mobile.so.gz")"

python3 - "$WORK" <<'PY'
import json, sys
v = json.load(open("tests/vectors/001_may_day_report_working_days.json"))["input"]
snap = {"schema_version": 1, "settings": v.get("settings", {"home_code": "110000", "time_zone": "Asia/Shanghai"}),
        "profile": v["profile"], "org": v.get("org", {"units": [], "accounts": [], "role_grants": []}),
        "policy": v.get("policy"), "special_periods": v.get("special_periods", []),
        "calendar": v.get("calendar", {"years": []}), "generated_at": "2026-01-01T00:00:00Z"}
open(sys.argv[1] + "/snapshot.json", "w").write(json.dumps(snap))
open(sys.argv[1] + "/draft.json", "w").write(json.dumps(v["draft"]))
open(sys.argv[1] + "/now", "w").write(v["now"])
PY
NOW="$(cat "$WORK/now")"
echo "== one assessment (vector 001)"
cargo bench -q -p whereabouts-mobile --bench assess -- --warm-up-time 1 --measurement-time 3 --output-format bencher 2>/dev/null \
  | sed -n 's/^test \(.*\) \.\.\. bench: *\([0-9,]*\) ns\/iter.*/   rust: \1: \2 ns/p'
echo "   $(python3 mobile-bindings/benches/bench.py "$WORK/snapshot.json" "$WORK/draft.json" "$NOW")"
KC="$KOTLIN_HOME/node_modules/kotlin-compiler"
"$KC/bin/kotlinc" -nowarn "$BINDINGS_DIR/kotlin/org/whereabouts/core/whereabouts_mobile.kt" mobile-bindings/benches/Bench.kt \
  -cp "$JARS/jna.jar" -d "$WORK/bench.jar" 2>/dev/null
echo "   $(java -Djna.library.path="$BINDINGS_DIR/lib" -cp "$WORK/bench.jar:$JARS/jna.jar:$KC/lib/kotlin-stdlib.jar" \
  BenchKt "$WORK/snapshot.json" "$WORK/draft.json" "$NOW")"

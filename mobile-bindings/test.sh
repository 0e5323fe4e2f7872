#!/usr/bin/env bash
# Generates the bindings, then runs the shared vectors and the surface tests
# through Python and through Kotlin on the JVM (as Android unit tests run).
# Needs python3, a JDK (17), Debian's libjna-java and libgoogle-gson-java, and
# the npm registry's kotlin-compiler (installed under KOTLIN_HOME when missing).
# PARITY_DIR, when set, holds cases a real server answered (tests/e2e/parity.rs
# writes them with WHEREABOUTS_PARITY_OUT); both runners replay them too.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
export BINDINGS_DIR="${BINDINGS_DIR:-$ROOT/target/bindings}"
KOTLIN_HOME="${KOTLIN_HOME:-$HOME/.cache/whereabouts/kotlin}"
KOTLIN_VERSION=2.4.20
JARS=/usr/share/java

mobile-bindings/generate.sh

echo "== Python"
python3 mobile-bindings/tests/python/test_bindings.py

echo "== Kotlin (JVM)"
if [ ! -x "$KOTLIN_HOME/node_modules/kotlin-compiler/bin/kotlinc" ]; then
  mkdir -p "$KOTLIN_HOME"
  (cd "$KOTLIN_HOME" && npm install --no-audit --no-fund --silent "kotlin-compiler@$KOTLIN_VERSION")
fi
KC="$KOTLIN_HOME/node_modules/kotlin-compiler"
BUILD="$(mktemp -d)"
trap 'rm -rf "$BUILD"' EXIT
"$KC/bin/kotlinc" -nowarn \
  "$BINDINGS_DIR/kotlin/org/whereabouts/core/whereabouts_mobile.kt" \
  mobile-bindings/tests/kotlin/BindingsTest.kt \
  -cp "$JARS/jna.jar:$JARS/gson.jar" -d "$BUILD/test.jar" 2>&1 | grep -v "^warning:" || true
java -Djna.library.path="$BINDINGS_DIR/lib" \
  -cp "$BUILD/test.jar:$JARS/jna.jar:$JARS/gson.jar:$KC/lib/kotlin-stdlib.jar" \
  BindingsTestKt "$ROOT"

echo "== Swift (generated sources, checked as text)"
python3 mobile-bindings/tests/check_swift.py

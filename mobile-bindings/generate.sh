#!/usr/bin/env bash
# Builds the mobile library for this machine and generates its Kotlin, Swift
# and Python sources.
#
# Usage: mobile-bindings/generate.sh [--release]
# Output (BINDINGS_DIR, default target/bindings/ in the repository):
#   kotlin/org/whereabouts/core/whereabouts_mobile.kt
#   swift/WhereaboutsCore.swift, WhereaboutsCoreFFI.h, WhereaboutsCoreFFI.modulemap
#   python/whereabouts_mobile.py with libwhereabouts_mobile.so beside it
#   lib/libwhereabouts_mobile.{so,a}: the library the sources were generated from
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=debug
FLAGS=()
if [ "${1:-}" = "--release" ]; then PROFILE=release; FLAGS=(--release); fi
TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
OUT="${BINDINGS_DIR:-$PWD/target/bindings}"

cargo build -q "${FLAGS[@]}" -p whereabouts-mobile
cargo build -q -p uniffi-bindgen
LIB="$TARGET_DIR/$PROFILE/libwhereabouts_mobile.so"
rm -rf "$OUT"
mkdir -p "$OUT/lib"
cp "$LIB" "$TARGET_DIR/$PROFILE/libwhereabouts_mobile.a" "$OUT/lib/"
# Library mode: the sources come from the metadata inside the built library,
# with mobile-bindings/uniffi.toml (Kotlin package, Swift module) applied.
for language in kotlin swift python; do
  "$TARGET_DIR/debug/uniffi-bindgen" generate "$LIB" --language "$language" \
    --out-dir "$OUT/$language" --no-format
done
cp "$LIB" "$OUT/python/"
echo "bindings in $OUT:"
(cd "$OUT" && find . -type f | sort | sed 's/^\.\//  /')

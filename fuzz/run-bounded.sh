#!/bin/sh
# Run the fuzz targets for a bounded number of inputs, from the seed corpus.
# Usage: fuzz/run-bounded.sh BUILDDIR [RUNS]   (default 20000 runs)
# Builds the targets with `make fuzz` in BUILDDIR (needs clang). New inputs
# go to a temporary directory, so the seed corpus in git is never changed.
# Exits non-zero when a target finds a crash, leak or undefined behaviour.
set -eu
builddir=${1:?usage: $0 BUILDDIR [RUNS]}
runs=${2:-20000}
srcdir=$(cd "$(dirname "$0")/.." && pwd)

if ! command -v clang >/dev/null 2>&1; then
    echo "fuzz: clang is not installed (apt-get install clang)" >&2
    exit 1
fi
make -C "$builddir" -s fuzz

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
mkdir -p "$work/corpus" "$work/artifacts"

echo "fuzz_config: $runs runs from $srcdir/fuzz/corpus/config"
if "$builddir/fuzz/fuzz_config" -runs="$runs" -max_len=8192 -timeout=10 \
    -dict="$srcdir/fuzz/config.dict" -artifact_prefix="$work/artifacts/" \
    "$work/corpus" "$srcdir/fuzz/corpus/config" >"$work/log" 2>&1; then
    tail -n 2 "$work/log"
    echo "fuzz_config: PASS"
else
    cat "$work/log" >&2
    for f in "$work/artifacts"/*; do
        [ -e "$f" ] || continue
        echo "fuzz_config: crashing input $(basename "$f") (base64):" >&2
        base64 "$f" >&2
    done
    echo "fuzz_config: FAIL" >&2
    exit 1
fi

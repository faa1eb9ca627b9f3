#!/bin/sh
# Run every libFuzzer target for a bounded time from its seed corpus (CI).
# Usage: fuzz/run-all-bounded.sh BUILDDIR [SECONDS_PER_TARGET]   (default 20)
# Builds the targets with `make fuzz` in BUILDDIR (needs clang).  New inputs
# go to a temporary directory, so the seed corpora in git never change.
# Exits non-zero when any target finds a crash, leak, undefined behaviour or
# (fuzz_layer) a change outside the rootfs; the input is printed in base64.
set -u
builddir=${1:?usage: $0 BUILDDIR [SECONDS]}
secs=${2:-20}
srcdir=$(cd "$(dirname "$0")/.." && pwd)

if ! command -v clang >/dev/null 2>&1; then
    echo "fuzz: clang is not installed (apt-get install clang)" >&2
    exit 1
fi
make -C "$builddir" -s fuzz || exit 1

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
status=0
# target, binary, corpus directory, -max_len, extra flags.  -max_len is a
# little above the largest compact seed: inputs the size of the 20 KiB
# engine configs made every run of a parser target several times slower
# (seeds.py writes compact copies; longer seeds are cut to max_len).
while read -r name bin corpus maxlen flags; do
    mkdir -p "$work/$name/new" "$work/$name/art"
    # shellcheck disable=SC2086
    if "$builddir/$bin" -max_total_time="$secs" -max_len="$maxlen" -timeout=20 -rss_limit_mb=1024 $flags \
        -artifact_prefix="$work/$name/art/" "$work/$name/new" "$srcdir/fuzz/corpus/$corpus" \
        >"$work/$name/log" 2>&1; then
        echo "$name: PASS ($(grep -o 'Done [0-9]* runs' "$work/$name/log" | head -n 1), ${secs}s)"
    else
        tail -n 40 "$work/$name/log" >&2
        for f in "$work/$name/art"/*; do
            [ -e "$f" ] || continue
            echo "$name: failing input $(basename "$f") (base64):" >&2
            base64 "$f" >&2
        done
        echo "$name: FAIL" >&2
        status=1
    fi
done <<LIST
fuzz_config fuzz/fuzz_config config 8192 -dict=$srcdir/fuzz/config.dict
fuzz_process fuzz/fuzz_process process 4096 -dict=$srcdir/fuzz/config.dict
fuzz_manifest fuzz/fuzz_manifest manifest 4096
fuzz_imageconfig fuzz/fuzz_imageconfig imageconfig 4096
fuzz_ref fuzz/fuzz_ref ref 512
fuzz_auth fuzz/fuzz_auth auth 1024
fuzz_authfile fuzz/fuzz_authfile authfile 2048
fuzz_state fuzz/fuzz_state state 2048
fuzz_layer imagetool/tests/fuzz_layer layer 1048576
LIST
exit $status

#!/usr/bin/env bash
# check-sizeclasses.sh: fails if the committed src/sizeclasses.h is not what
# tools/mksizeclasses.c generates, or if the generator's self-test fails.
#
# Usage: tools/check-sizeclasses.sh [GENERATOR]
#   GENERATOR  an already built mksizeclasses (e.g. build/tools/mksizeclasses);
#              without it the generator is compiled into a temporary directory
#              with $CC (default cc) and the warning flags CI uses.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-sizeclasses.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

if [[ $# -ge 1 ]]; then
    gen=$1
else
    gen=$tmp/mksizeclasses
    "${CC:-cc}" -std=c11 -Wall -Wextra -Werror -Wshadow -Wundef -Wstrict-prototypes \
        -Wmissing-prototypes -Wvla -O2 -o "$gen" "$root/tools/mksizeclasses.c"
fi

if ! "$gen" --selftest >"$tmp/selftest.out"; then
    cat "$tmp/selftest.out"
    echo "check-sizeclasses: $gen --selftest failed" >&2
    exit 1
fi

"$gen" "$tmp/sizeclasses.h"
if ! cmp -s "$root/src/sizeclasses.h" "$tmp/sizeclasses.h"; then
    echo "src/sizeclasses.h is stale: run 'make sizeclasses'" >&2
    diff -u "$root/src/sizeclasses.h" "$tmp/sizeclasses.h" | head -n 40 >&2 || true
    exit 1
fi
echo "check-sizeclasses: src/sizeclasses.h is up to date; generator self-test passed"

#!/usr/bin/env bash
# check-gctrace-summary.sh: tests tools/gctrace-summary.c.
#
#   tools/check-gctrace-summary.sh SUMMARY_BINARY MINI_LISP_BINARY
#
# 1. test/gctrace/sample.txt (gctrace lines of every shape, mixed with other
#    lines) gives exactly test/gctrace/sample.expected, whose figures were
#    worked out by hand: totals, nearest-rank medians and 90th percentiles.
# 2. A real trace (mini-lisp's trees.lisp under GCHEAP_DEBUG=gctrace=1):
#    the collection count is the number of gctrace lines, exit status 0.
# 3. The sample given twice: the same share of the run (each input's run
#    time counts once).
# 4. A malformed gctrace line: reported with its place, exit status 1, the
#    other lines still summed. No gctrace line at all: exit status 1. A
#    missing file, or a directory: exit status 2.
# Prints one line per failure and "gctrace-summary: N checks passed".
set -u
sum=${1:?usage: check-gctrace-summary.sh SUMMARY_BINARY MINI_LISP_BINARY}
lisp=${2:?usage: check-gctrace-summary.sh SUMMARY_BINARY MINI_LISP_BINARY}
here=$(cd "$(dirname "$0")/.." && pwd)
CHECK_NAME=gctrace-summary
. "$here/tools/check-lib.sh"

"$sum" "$here/test/gctrace/sample.txt" >"$tmp/out" 2>"$tmp/err"
rc=$?
check "sample: exit status $rc, want 0" test $rc -eq 0
check "sample: output differs from sample.expected: $(diff "$here/test/gctrace/sample.expected" "$tmp/out" | head -4 | tr '\n' '|')" \
    cmp -s "$tmp/out" "$here/test/gctrace/sample.expected"
check "sample: stderr not empty: $(head -c 200 "$tmp/err")" test ! -s "$tmp/err"

GCHEAP_DEBUG=gctrace=1 "$lisp" "$here/examples/mini-lisp/programs/trees.lisp" 2>"$tmp/trace" >/dev/null
rc=$?
check "real trace: mini-lisp exit status $rc, want 0" test $rc -eq 0
n=$(grep -c '^gc [0-9]' "$tmp/trace")
"$sum" <"$tmp/trace" >"$tmp/out" 2>"$tmp/err"
rc=$?
check "real trace: exit status $rc, want 0 (stderr: $(head -c 200 "$tmp/err"))" test $rc -eq 0
check "real trace: $n gctrace lines, summary says: $(head -1 "$tmp/out")" \
    grep -q "^collections  *$n (" "$tmp/out"

"$sum" "$here/test/gctrace/sample.txt" "$here/test/gctrace/sample.txt" >"$tmp/out" 2>&1
check "sample twice: $(grep '^share' "$tmp/out")" grep -q '^share .* (13.6%)$' "$tmp/out"
check "sample twice: $(head -1 "$tmp/out")" grep -q '^collections  *8 (2 minor' "$tmp/out"

{ cat "$here/test/gctrace/sample.txt"; echo "gc 5 @0.2s: 1.0 ms mark, 0.1 ms sweep, 4.0->x MB"; } >"$tmp/bad"
"$sum" "$tmp/bad" >"$tmp/out" 2>"$tmp/err"
rc=$?
check "malformed line: exit status $rc, want 1" test $rc -eq 1
check "malformed line: stderr \"$(head -c 200 "$tmp/err")\"" grep -q "1 malformed gctrace line(s); the first: $tmp/bad:7: gc 5" "$tmp/err"
check "malformed line: the others are still summed" grep -q '^collections  *4 (' "$tmp/out"

printf 'no trace here\n' | "$sum" >"$tmp/out" 2>"$tmp/err"
rc=$?
check "no gctrace line: exit status $rc, want 1" test $rc -eq 1
check "no gctrace line: stdout not empty" test ! -s "$tmp/out"

"$sum" "$tmp/does-not-exist" >"$tmp/out" 2>"$tmp/err"
rc=$?
check "missing file: exit status $rc, want 2" test $rc -eq 2
"$sum" "$tmp" >"$tmp/out" 2>"$tmp/err"
rc=$?
check "a directory: exit status $rc, want 2 (stderr: $(head -c 200 "$tmp/err"))" test $rc -eq 2

check_done

#!/usr/bin/env bash
# run.sh: runs test/valgrind/vg_smoke under memcheck (make check-valgrind).
#
# Usage: test/valgrind/run.sh PATH/TO/vg_smoke
#
# Two runs, both must hold:
#   vg_smoke        memcheck reports no error (--error-exitcode=1) and the
#                   program's own checks pass (exit 0);
#   vg_smoke uninit memcheck reports a branch on a byte of a gc_alloc_uninit
#                   object that was never written.
#   vg_smoke swept  memcheck reports the read of a swept object: exit status
#                   1 from --error-exitcode and an "Invalid read" in
#                   read_swept in its log. (memcheck may describe the address
#                   by its nearest block, the live neighbour, rather than as
#                   "free'd": what counts is that the read is reported.)
set -u
prog=${1:?usage: run.sh PATH/TO/vg_smoke}
if ! command -v valgrind >/dev/null 2>&1; then
    echo "check-valgrind: valgrind is missing (apt-get install valgrind)"
    exit 1
fi
vg=(valgrind --error-exitcode=1 --leak-check=no --quiet)
log=$(mktemp "${TMPDIR:-/tmp}/gcheap-vg.XXXXXX")
trap 'rm -f "$log"' EXIT
# memcheck's log, or its first lines: one bug can produce thousands of reports.
show_log() {
    head -n 80 "$log"
    [ "$(wc -l <"$log")" -le 80 ] || echo "... ($(wc -l <"$log") lines in all)"
}

echo "== valgrind $prog"
start=$SECONDS
"${vg[@]}" "$prog" 2>"$log"
rc=$?
if [ $rc -ne 0 ] || [ -s "$log" ]; then
    show_log
    echo "check-valgrind: $prog under memcheck: expected exit 0 and no report, got exit $rc" \
         "(1: memcheck errors, 3: the program's own check failed)"
    exit 1
fi
echo "   clean ($((SECONDS - start)) s)"

# expect_report MODE REPORT FUNCTION WHAT: "vg_smoke MODE" must make
# memcheck exit 1 (--error-exitcode) with REPORT in FUNCTION.
expect_report() {
    local mode=$1 report=$2 func=$3 what=$4 rc
    echo "== valgrind $prog $mode (memcheck must report $what)"
    "${vg[@]}" "$prog" "$mode" >/dev/null 2>"$log"
    rc=$?
    if [ $rc -ne 1 ] || ! grep -q "$report" "$log" || ! grep -q "$func" "$log"; then
        show_log
        echo "check-valgrind: $what: expected exit 1 from --error-exitcode and" \
             "\"$report\" in $func, got exit $rc"
        exit 1
    fi
    echo "   reported: $(grep -m1 "$report" "$log" | sed 's/^==[0-9]*== //')"
}

expect_report swept "Invalid read of size" read_swept "the read of a swept object"
expect_report uninit "uninitialised value" read_uninit "a gc_alloc_uninit byte never written"
echo "check-valgrind: memcheck is clean on a working host and reports a read after sweep" \
     "and an uninitialised byte of gc_alloc_uninit"

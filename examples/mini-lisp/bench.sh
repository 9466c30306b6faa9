#!/usr/bin/env bash
# Times the example programs.
#
#   bench.sh BINARY [DIR] [RUNS]
#
# Runs each DIR/*.lisp (default: programs/ beside this script) RUNS times
# (default 3) with MINILISP_STATS=1, which makes the interpreter print one line
# of statistics on stderr at exit, and prints a table built from the run with
# the median wall time: seconds, gcheap allocations per second, collections
# (and how many were minor), bytes allocated, peak heap_alloc and peak
# resident set size.
set -u
bin=${1:?usage: bench.sh BINARY [DIR] [RUNS]}
dir=${2:-$(dirname "$0")/programs}
runs=${3:-3}
case "$bin" in /*) ;; *) bin="$PWD/$bin" ;; esac
[ -x "$bin" ] || { echo "bench.sh: $bin is not an executable" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# field NAME LINE: the value of NAME=... in a minilisp-stats line.
field() { sed -n "s/.*[ :]$1=\([0-9]*\).*/\1/p" <<< "$2"; }

printf '%-16s %9s %12s %6s %6s %10s %10s %10s\n' \
    program seconds allocs/s gcs minor alloc_MB peak_MB rss_MB
status=0
for f in "$dir"/*.lisp; do
    [ -e "$f" ] || continue
    [ -e "${f%.lisp}.err" ] && continue # ends in an error on purpose (run-programs.sh)
    name=$(basename "$f" .lisp)
    : > "$tmp/runs"
    for ((i = 0; i < runs; i++)); do
        start=$(date +%s%N)
        MINILISP_STATS=1 MINILISP_ALWAYS_GC= "$bin" "$f" > /dev/null 2> "$tmp/err"
        rc=$?
        end=$(date +%s%N)
        stats=$(grep '^minilisp-stats:' "$tmp/err" | tail -n 1)
        if [ $rc -ne 0 ] || [ -z "$stats" ]; then
            echo "bench.sh: $name failed (exit status $rc): $(head -c 200 "$tmp/err")" >&2
            status=1
            continue 2
        fi
        echo "$((end - start)) $stats" >> "$tmp/runs"
    done
    # The median run by wall time.
    line=$(sort -n "$tmp/runs" | sed -n "$(((runs + 1) / 2))p")
    ns=${line%% *}
    mallocs=$(field mallocs "$line")
    awk -v name="$name" -v ns="$ns" -v mallocs="$mallocs" \
        -v gcs="$(field num_gc "$line")" -v minor="$(field num_minor_gc "$line")" \
        -v total="$(field total_alloc "$line")" \
        -v peak="$(field peak_heap "$line")" -v rss="$(field peak_rss_kb "$line")" \
        'BEGIN {
            s = ns / 1e9
            printf "%-16s %9.3f %12.0f %6d %6d %10.1f %10.1f %10.1f\n", name, s,
                   (s > 0 ? mallocs / s : 0), gcs, minor, total / 1048576,
                   peak / 1048576, rss / 1024
        }'
done
exit $status

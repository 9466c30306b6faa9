#!/usr/bin/env bash
# bench/run.sh: gcheap against malloc peers, Boehm GC and Go.
#
#   bench/run.sh                  defaults (about 5 minutes on 2 cores)
#   QUICK=1 bench/run.sh          depth 16, 3 runs, smaller sizes (about 1.5 minutes)
#
# Benchmarks (see each program's header):
#   binary-trees       binary_trees.c / binary_trees.go, depth DEPTH
#   alloc T=1, T=2     alloc_throughput.c: T threads x ALLOC_N allocations, ring ALLOC_K
#   alloc T=1, ring    the same at T=1 with rings of ALLOC_K/4 and 4*ALLOC_K (gcheap, mimalloc)
#   alloc T=2, par     gcheap's T=2 with parallel marking and lazy sweeping (what a
#                      multi-threaded VM would do; alloc_throughput.c)
#   alloc 2 processes  the T=1 test in two processes at once, each with its own heap
#                      (gcheap, mimalloc): the machine's bound on T=2 / T=1 scaling
#   micro              micro.c: gc_alloc fast path (callgrind), gc_sweep return time,
#                      full-sweep throughput, marking throughput (and, for reference,
#                      a bare marker's on the same tree: the floor of a trace hook)
# Backends: gcheap (trace + roots hooks, GOGC=100), gcheap-gen (the same
# binaries with generational mode on, gc_set_generational; neither program
# stores into an old object, so they need no write barrier), gcheap-thp
# (the same binaries with GCHEAP_HUGEPAGES=1: the heap advised onto
# transparent huge pages, gc_set_hugepages; the other backends run with
# their defaults, none of which asks for huge pages), glibc, mimalloc, jemalloc,
# tcmalloc (one malloc/free object file linked against -lmimalloc, -ljemalloc,
# -ltcmalloc_minimal: the library's malloc replaces glibc's for the whole
# program; each program prints whose malloc it called), Boehm GC (libgc),
# Go (binary-trees only, GOMAXPROCS=1 and 2).
#
# Each (benchmark, backend) runs RUNS times, the backends interleaved round by
# round so that load from other users of the machine spreads over all of
# them. Reported: CPU seconds (user + system of the child, from wait4: the
# machine is shared, so backends are ranked by CPU, not wall), wall seconds,
# peak RSS (ru_maxrss), collections and time in collections as each
# collector counts them, and the checksum, which must be the same for every
# backend. Medians, with min-max.
#
# Environment:
#   DEPTH=19          binary-trees depth (QUICK: 16)
#   RUNS=5            runs per configuration (QUICK: 3)
#   ALLOC_N=10000000  allocations per thread (QUICK: 2000000); ALLOC_K=16384 ring
#   CG_DEPTH=12       binary-trees depth under callgrind
#   FAST_N=10000000   allocations of the callgrind fast-path loop (QUICK: 1000000)
#   SWEEP_MB=1024     heap of the sweep micro-benchmark; MARK_N=10000000; MICRO_REPS=5 (QUICK: 3)
#   BACKENDS="gcheap gcheap-gen gcheap-thp glibc mimalloc jemalloc tcmalloc boehm go"   a subset to run
#   PERF=1            also profile gcheap with perf (top functions into results.md)
#   BENCH_NO_INSTALL=1  never apt-get install missing packages (otherwise done
#                     when running as root); backends whose package is missing are skipped
#   TIMEOUT=300       seconds before one run is killed
#   CC=cc
#
# Output: the report on stdout and in bench/results/results.md, a plot of CPU
# seconds per backend per benchmark in bench/results/results.png (gnuplot).
# Binaries go to bench/build/.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
BUILD=$HERE/build
RESULTS=$HERE/results

QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then
    DEPTH=${DEPTH:-16} RUNS=${RUNS:-3} ALLOC_N=${ALLOC_N:-2000000}
    FAST_N=${FAST_N:-1000000} MICRO_REPS=${MICRO_REPS:-3}
fi
DEPTH=${DEPTH:-19}
RUNS=${RUNS:-5}
ALLOC_N=${ALLOC_N:-10000000}
ALLOC_K=${ALLOC_K:-16384}
CG_DEPTH=${CG_DEPTH:-12}
FAST_N=${FAST_N:-10000000}
SWEEP_MB=${SWEEP_MB:-1024}
MARK_N=${MARK_N:-10000000}
MICRO_REPS=${MICRO_REPS:-5}
BACKENDS=${BACKENDS:-gcheap gcheap-gen gcheap-thp glibc mimalloc jemalloc tcmalloc boehm go}
PERF=${PERF:-0}
TIMEOUT=${TIMEOUT:-300}
CC=${CC:-cc}
CFLAGS="-std=c11 -O2 -Wall -Wextra"

note() { printf 'bench: %s\n' "$*" >&2; }

# ---------------------------------------------------------------- packages

pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

# backend -> Debian package
declare -A PKG=([mimalloc]=libmimalloc-dev [jemalloc]=libjemalloc-dev
    [tcmalloc]=libgoogle-perftools-dev [boehm]=libgc-dev [go]=golang-go)
# tool -> package (the tool's absence only drops its section)
declare -A TOOL_PKG=([gnuplot]=gnuplot-nox [valgrind]=valgrind [perf]=linux-perf)

want=()
for b in $BACKENDS; do
    p=${PKG[$b]:-}
    if [ -n "$p" ] && ! pkg_installed "$p"; then want+=("$p"); fi
done
for t in gnuplot valgrind; do command -v "$t" >/dev/null || want+=("${TOOL_PKG[$t]}"); done
if [ "$PERF" = 1 ] && ! command -v perf >/dev/null; then want+=(linux-perf); fi
if [ ${#want[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && [ -z "${BENCH_NO_INSTALL:-}" ]; then
        note "installing ${want[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -qq "${want[@]}" >/dev/null 2>&1 ||
            { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq "${want[@]}" >/dev/null 2>&1; } ||
            note "apt-get could not install everything; missing backends are skipped"
    else
        note "missing packages: ${want[*]} (as root without BENCH_NO_INSTALL, run.sh installs them)"
    fi
fi

ACTIVE=()
for b in $BACKENDS; do
    p=${PKG[$b]:-}
    if [ -n "$p" ] && ! pkg_installed "$p"; then
        note "skipping $b: package $p is not installed (apt-get install $p)"
        continue
    fi
    ACTIVE+=("$b")
done
has() { local x; for x in "${ACTIVE[@]}"; do [ "$x" = "$1" ] && return 0; done; return 1; }

# ---------------------------------------------------------------- build

note "building libgcheap.a and the benchmarks"
make -C "$ROOT" --no-print-directory -s build/libgcheap.a >&2
mkdir -p "$BUILD" "$RESULTS"
LIBGCHEAP="$ROOT/build/libgcheap.a -latomic_ops -pthread"
cc_() { note "  $*"; "$CC" "$@"; }
cc_ $CFLAGS -o "$BUILD/measure" "$HERE/measure.c"
cc_ $CFLAGS -I"$ROOT" -o "$BUILD/micro" "$HERE/micro.c" $LIBGCHEAP
declare -A MALLOC_LIB=([glibc]="" [mimalloc]=-lmimalloc [jemalloc]=-ljemalloc [tcmalloc]=-ltcmalloc_minimal)
for prog in binary_trees:bt alloc_throughput:at; do
    src=$HERE/${prog%%:*}.c
    p=${prog##*:}
    if has gcheap || has gcheap-gen || has gcheap-thp; then cc_ $CFLAGS -I"$ROOT" -DBACKEND_GCHEAP=1 -o "$BUILD/${p}_gcheap" "$src" $LIBGCHEAP; fi
    cc_ $CFLAGS -DBACKEND_MALLOC=1 -c -o "$BUILD/${p}_malloc.o" "$src"
    for m in glibc mimalloc jemalloc tcmalloc; do
        if has $m; then cc_ -o "$BUILD/${p}_$m" "$BUILD/${p}_malloc.o" ${MALLOC_LIB[$m]} -ldl -pthread; fi
    done
    if has boehm; then cc_ $CFLAGS -DBACKEND_BOEHM=1 -o "$BUILD/${p}_boehm" "$src" -lgc -pthread; fi
done
if has go; then
    note "  go build binary_trees.go"
    (cd "$BUILD" && GOCACHE="$BUILD/gocache" GO111MODULE=off go build -o bt_go "$HERE/binary_trees.go")
fi

# ---------------------------------------------------------------- configurations

CFGS=()
declare -A CMD BENCH BACK
add() { CFGS+=("$1"); BENCH[$1]=$2; BACK[$1]=$3; CMD[$1]=$4; }
BT="binary-trees depth $DEPTH"
# gcheap's variants: the gcheap binary with a setting in its environment
# (gcheap-gen: generational mode, backend.h; gcheap-thp: huge pages).
declare -A VARIANT_ENV=([gcheap-gen]=BENCH_GCHEAP_GENERATIONAL=1 [gcheap-thp]=GCHEAP_HUGEPAGES=1)
GEN_ENV=${VARIANT_ENV[gcheap-gen]}
exe() { if [ -n "${VARIANT_ENV[$1]:-}" ]; then echo "env ${VARIANT_ENV[$1]} ./${2}_gcheap"; else echo "./${2}_$1"; fi; }
for b in gcheap gcheap-gen gcheap-thp glibc mimalloc jemalloc tcmalloc boehm; do
    if has $b; then add "bt.$b" "$BT" $b "$(exe $b bt) $DEPTH"; fi
done
if has go; then
    add bt.go1 "$BT" "go GOMAXPROCS=1" "env GOMAXPROCS=1 ./bt_go $DEPTH"
    add bt.go2 "$BT" "go GOMAXPROCS=2" "env GOMAXPROCS=2 ./bt_go $DEPTH"
fi
for t in 1 2; do
    for b in gcheap gcheap-gen gcheap-thp glibc mimalloc jemalloc tcmalloc boehm; do
        if has $b; then add "at$t.$b" "alloc T=$t" $b "$(exe $b at) $t $ALLOC_N $ALLOC_K"; fi
    done
done
# T=2 as a multi-threaded VM would run it: each thread marks its own ring
# (gc_mark_roots) and gc_sweep leaves the sweeping to the threads, each on
# its own spans (alloc_throughput.c; src/mcache.c [C6]).
PAR_ENV="AT_GCHEAP_PARALLEL=1 AT_GCHEAP_LAZY=1"
if has gcheap; then
    add at2.gcheap-par "alloc T=2" "gcheap, parallel marking + lazy sweep" \
        "env $PAR_ENV ./at_gcheap 2 $ALLOC_N $ALLOC_K"
fi
# The ring at a quarter and four times its size, T=1, gcheap and mimalloc:
# how each one's cost follows the live heap (the collector's heap is twice
# the live one at GOGC=100, and a freed slot is reused only a cycle later).
RING_KS=("$((ALLOC_K / 4))" "$((ALLOC_K * 4))")
for k in "${RING_KS[@]}"; do
    for b in gcheap mimalloc; do
        if has $b; then add "ring$k.$b" "alloc T=1, ring $k" $b "$(exe $b at) 1 $ALLOC_N $k"; fi
    done
done

# The work of T=2 in two processes of T=1 (alloc_throughput's PROCESSES
# argument): nothing shared between the heaps, so its throughput over
# T=1's is what two cores, their caches and the memory allow; what T=2
# loses beyond that is the allocator's own sharing.
AP2="alloc 2 processes × T=1"
for b in gcheap mimalloc; do
    if has $b; then add "ap2.$b" "$AP2" $b "$(exe $b at) 1 $ALLOC_N $ALLOC_K 2"; fi
done

# ---------------------------------------------------------------- runs

WORK=$(mktemp -d "${TMPDIR:-/tmp}/gcheap-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
START_LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
T0=$(date +%s)

kv() { { grep -o "\b$1=[^ ]*" "$2" 2>/dev/null || true; } | tail -1 | cut -d= -f2-; }

# run_once ID R: one measured run; appends "cpu wall rss_kb gcs gc_ms checksum status"
# to $WORK/ID.runs.
run_once() {
    local id=$1 r=$2 m=$WORK/$1.$2.m o=$WORK/$1.$2.out
    (cd "$BUILD" && MEASURE_TIMEOUT=$TIMEOUT ./measure "$m" ${CMD[$id]}) >"$o" 2>&1 || true
    local st
    st=$(kv status "$m")
    if [ "${st:-x}" != 0 ] || ! grep -q '^RESULT' "$o"; then
        note "FAILED: ${BENCH[$id]} / ${BACK[$id]} (status ${st:-?}); last lines:"
        tail -5 "$o" >&2
        echo "- - - - - - ${st:-?}" >>"$WORK/$id.runs"
        return
    fi
    echo "$(kv cpu "$m") $(kv wall "$m") $(kv rss_kb "$m") $(kv gcs "$o") $(kv gc_ms "$o")" \
        "$(kv checksum "$o") 0" >>"$WORK/$id.runs"
    if [ ! -f "$WORK/$id.alloc" ]; then kv allocator "$o" >"$WORK/$id.alloc"; fi
}

for ((r = 1; r <= RUNS; r++)); do
    note "round $r/$RUNS"
    for id in "${CFGS[@]}"; do run_once "$id" "$r"; done
done

# col ID N: column N of the successful runs; stat: "median min max" of stdin.
col() { awk -v c="$2" '$7 == 0 && $c != "-" { print $c }' "$WORK/$1.runs" 2>/dev/null || true; }
stat() {
    sort -g | awk '{ v[NR] = $1 }
        END { if (NR == 0) { print "- - -"; exit }
              m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
              print m, v[1], v[NR] }'
}
med() { col "$1" "$2" | stat | cut -d' ' -f1; }
fmt_range() { # "median min max" on stdin, printf format $1
    awk -v f="$1" '{ if ($1 == "-") print "-"; else printf(f " (" f "–" f ")\n", $1, $2, $3) }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || a == "" || b == "" || b == 0) print "-"; else printf("%.2f\n", a / b) }'; }
verdict() { # value op goal
    awk -v v="$1" -v op="$2" -v g="$3" 'BEGIN { if (v == "-" || v == "") { print "n/a"; exit }
        ok = (op == "<=") ? (v <= g) : (v >= g); print ok ? "MET" : "NOT MET" }'
}

# ---------------------------------------------------------------- callgrind

declare -A IR
if command -v valgrind >/dev/null; then
    note "callgrind: binary-trees depth $CG_DEPTH"
    for b in gcheap gcheap-gen glibc mimalloc jemalloc tcmalloc boehm go; do
        has $b || continue
        if [ $b = go ]; then
            # valgrind 3.19 stops Go binaries at once: it cannot decode the
            # RDTSCP of runtime.cputicks (SIGILL during runtime.schedinit).
            IR[go]="-"
            continue
        fi
        genv=$([ $b = gcheap-gen ] && echo "$GEN_ENV" || true)
        (cd "$BUILD" && GOMAXPROCS=1 timeout "$TIMEOUT" env $genv valgrind --tool=callgrind \
            --callgrind-out-file="$WORK/cg.$b" ./bt_${b%-gen} "$CG_DEPTH") >"$WORK/cg.$b.log" 2>&1 || true
        if grep -q '^RESULT' "$WORK/cg.$b.log"; then
            IR[$b]=$(awk '/^summary:/ { print $2 }' "$WORK/cg.$b")
        else
            IR[$b]="-"
            note "callgrind could not run $b: $(grep -m1 -E 'unhandled instruction|SIGILL|Illegal' "$WORK/cg.$b.log" || tail -1 "$WORK/cg.$b.log")"
        fi
    done
fi

# ---------------------------------------------------------------- micro

note "micro-benchmarks"
FAST_PER="-" FAST_SELF="-" FAST_INCL="-"
if command -v valgrind >/dev/null; then
    for v in alloc base; do
        (cd "$BUILD" && valgrind --tool=callgrind --callgrind-out-file="$WORK/fp.$v" \
            ./micro fastpath $v "$FAST_N") >"$WORK/fp.$v.log" 2>&1 || true
    done
    ir_a=$(awk '/^summary:/ { print $2 }' "$WORK/fp.alloc" 2>/dev/null || true)
    ir_b=$(awk '/^summary:/ { print $2 }' "$WORK/fp.base" 2>/dev/null || true)
    if [ -n "$ir_a" ] && [ -n "$ir_b" ]; then
        FAST_PER=$(awk -v a="$ir_a" -v b="$ir_b" -v n="$FAST_N" 'BEGIN { printf("%.1f", (a - b) / n) }')
        # gc_alloc's instructions per call: with its callees (every slow
        # path), and its own alone (the inlined fast path).
        incl=$({ callgrind_annotate --inclusive=yes "$WORK/fp.alloc" 2>/dev/null || true; } |
            awk '/:gc_alloc / { gsub(",", "", $1); print $1; exit }')
        self=$({ callgrind_annotate "$WORK/fp.alloc" 2>/dev/null || true; } |
            awk '/:gc_alloc / { gsub(",", "", $1); print $1; exit }')
        if [ -n "$incl" ]; then
            FAST_INCL=$(awk -v s="$incl" -v n="$FAST_N" 'BEGIN { printf("%.1f", s / n) }')
        fi
        if [ -n "$self" ]; then
            FAST_SELF=$(awk -v s="$self" -v n="$FAST_N" 'BEGIN { printf("%.1f", s / n) }')
        fi
    fi
fi
(cd "$BUILD" && MEASURE_TIMEOUT=$TIMEOUT ./measure "$WORK/sweep.m" ./micro sweep "$SWEEP_MB" "$MICRO_REPS") >"$WORK/sweep.out" 2>&1 ||
    { note "micro sweep failed:"; tail -5 "$WORK/sweep.out" >&2; }
(cd "$BUILD" && MEASURE_TIMEOUT=$TIMEOUT ./measure "$WORK/mark.m" ./micro mark "$MARK_N" "$MICRO_REPS") >"$WORK/mark.out" 2>&1 ||
    { note "micro mark failed:"; tail -5 "$WORK/mark.out" >&2; }
mget() { awk -v k="$1" '$1 == k { print $2; exit }' "$2" 2>/dev/null || true; }
mline() { awk -v k="$1" '$1 == k { $1 = ""; sub(/^ /, ""); print; exit }' "$2" 2>/dev/null || true; }

# ---------------------------------------------------------------- profiles

PROFILE=$WORK/profile.md
: >"$PROFILE"
if [ "$PERF" = 1 ] && command -v perf >/dev/null && has gcheap; then
    note "perf profiles of gcheap"
    for id in bt.gcheap at1.gcheap at2.gcheap; do
        [ -n "${CMD[$id]:-}" ] || continue
        (cd "$BUILD" && perf record -q -e cpu-clock -F 4000 -o "$WORK/perf.$id" ${CMD[$id]}) >/dev/null 2>&1 || continue
        {
            echo "${BENCH[$id]} / gcheap (\`perf report --no-children --sort dso,symbol\`, top 10):"
            echo
            echo '```'
            { perf report -i "$WORK/perf.$id" --stdio --no-children --sort dso,symbol 2>/dev/null || true; } |
                awk '!/^#/ && NF > 0 && n++ < 10 { sub(/[ \t-]+$/, ""); print }'
            echo '```'
            echo
        } >>"$PROFILE"
    done
fi

# ---------------------------------------------------------------- report

REPORT=$RESULTS/results.md
{
    echo "# gcheap benchmarks"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(uname -sr), load average at start $START_LOAD"
    echo "- gcheap: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD -- . ':!bench/results' 2>/dev/null || echo ' (with uncommitted changes)'), $("$CC" --version | head -1), -O2"
    echo "- sizes: binary-trees depth $DEPTH; alloc: $ALLOC_N allocations per thread, ring $ALLOC_K; $RUNS runs each$([ "$QUICK" = 1 ] && echo ' (QUICK=1)')"
    echo
    echo "CPU = user + system seconds of the process (all its threads), the figure backends are ranked by;"
    echo "medians of $RUNS runs with min–max. RSS = peak resident set. GCs and GC time as each collector"
    echo "counts them: gcheap num_gc and pause_total_ns (time inside gc_collect: marking plus the full sweep);"
    echo "Boehm GC_get_gc_no and GC_get_full_gc_total_time; Go NumGC and PauseTotalNs (stop-the-world"
    echo "pauses only: Go marks concurrently); all three are wall-clock, so they grow when the machine is"
    echo "loaded. alloc throughput = T × N / wall. In alloc, gcheap's threads stop at safepoints for each"
    echo "collection, triggered by gcheap's pacer (gc_collect_due) and run with gc_collect and the"
    echo "roots hook (see alloc_throughput.c: gc_alloc collecting by itself is unsafe with several threads)."
    echo
    echo "| benchmark | backend | CPU s | wall s | peak RSS MiB | GCs | GC time s | M allocs/s | checksum |"
    echo "|---|---|---|---|---|---|---|---|---|"
    for id in "${CFGS[@]}"; do
        cpu=$(col "$id" 1 | stat | fmt_range %.3f)
        wall=$(col "$id" 2 | stat | fmt_range %.3f)
        rss=$(med "$id" 3)
        rss=$([ "$rss" = - ] && echo - || awk -v k="$rss" 'BEGIN { printf("%.1f", k / 1024) }')
        gcs=$(col "$id" 4 | stat | cut -d' ' -f1)
        gcms=$(col "$id" 5 | stat | cut -d' ' -f1)
        gct=$([ "$gcms" = - ] && echo - || awk -v m="$gcms" 'BEGIN { printf("%.3f", m / 1000) }')
        sums=$(col "$id" 6 | sort -u | tr '\n' ' ' | sed 's/ $//')
        fails=$({ awk '$7 != 0' "$WORK/$id.runs" 2>/dev/null || true; } | wc -l)
        thr=-
        if [[ $id == at* || $id == ring* || $id == ap2* ]]; then
            w=$(med "$id" 2)
            t=1
            if [[ $id == at* || $id == ap2* ]]; then t=${id:2:1}; fi
            thr=$(awk -v w="$w" -v t="$t" -v n="$ALLOC_N" 'BEGIN { if (w == "-") print "-"; else printf("%.1f", t * n / w / 1e6) }')
        fi
        name=${BACK[$id]}
        alloc=$(cat "$WORK/$id.alloc" 2>/dev/null || true)
        if [ -n "$alloc" ] && [[ $name =~ ^(glibc|mimalloc|jemalloc|tcmalloc)$ ]]; then
            name="$name ($alloc)"
        fi
        if [ "$fails" -gt 0 ]; then sums="$sums — $fails run(s) FAILED"; fi
        echo "| ${BENCH[$id]} | $name | $cpu | $wall | $rss | $gcs | $gct | $thr | ${sums:--} |"
    done
    echo
    for bench in "$BT" "alloc T=1" "alloc T=2" "alloc T=1, ring ${RING_KS[0]}" "alloc T=1, ring ${RING_KS[1]}" "$AP2"; do
        n=$(for id in "${CFGS[@]}"; do if [ "${BENCH[$id]}" = "$bench" ]; then col "$id" 6; fi; done | sort -u | wc -l)
        if [ "$n" -gt 1 ]; then
            echo "**CHECKSUM MISMATCH in $bench**: the backends disagree (see the table)."
            echo
        fi
    done

    if [ ${#IR[@]} -gt 0 ]; then
        echo "## Instructions (callgrind, binary-trees depth $CG_DEPTH)"
        echo
        echo "Total Ir of the whole program, every thread. Go binaries do not run under valgrind"
        echo "(it cannot decode the RDTSCP in runtime.cputicks: SIGILL at start-up), so Go has no figure."
        echo
        echo "| backend | Ir | × mimalloc |"
        echo "|---|---|---|"
        for b in gcheap gcheap-gen glibc mimalloc jemalloc tcmalloc boehm go; do
            [ -n "${IR[$b]:-}" ] || continue
            echo "| $b | ${IR[$b]} | $(ratio "${IR[$b]}" "${IR[mimalloc]:--}") |"
        done
        echo
    fi

    echo "## Micro-benchmarks (gcheap)"
    echo
    sw=$WORK/sweep.out mk=$WORK/mark.out
    ret=$(mget sweep_return_dead_us "$sw")
    swl=$(mget sweep_full_live_gbps "$sw")
    swd=$(mget sweep_full_dead_gbps "$sw")
    mkl=$(mget mark_list_mops "$mk")
    mkt=$(mget mark_tree_mops "$mk")
    echo "| figure | value | goal | |"
    echo "|---|---|---|---|"
    echo "| gc_alloc(16, true), instructions executed by gc_alloc per call, every slow path amortised (Ir of gc_alloc with its callees / $FAST_N) | $FAST_INCL | ≤ 20 | $(verdict "$FAST_INCL" "<=" 20) |"
    echo "| … of which in gc_alloc itself (the inlined fast path) | $FAST_SELF | | |"
    echo "| … plus the caller's argument setup and call: (Ir(loop) − Ir(empty loop)) / $FAST_N | $FAST_PER | | |"
    echo "| gc_sweep return, heap $(mline sweep_heap "$sw" | cut -d, -f1), one object marked | $(mline sweep_return_dead_us "$sw") | ≤ 50 µs | $(verdict "${ret:--}" "<=" 50) |"
    echo "| gc_sweep return, same heap, every object marked | $(mline sweep_return_live_us "$sw") | ≤ 50 µs | |"
    echo "| full sweep, garbage heap (gc_mark(NULL) after gc_sweep: finishes the sweep) | $(mline sweep_full_dead_gbps "$sw") | ≥ 10 GB/s | $(verdict "${swd:--}" ">=" 10) |"
    echo "| full sweep, all-live heap (same) | $(mline sweep_full_live_gbps "$sw") | ≥ 10 GB/s | $(verdict "${swl:--}" ">=" 10) |"
    echo "| marking, linked list of $MARK_N (trace hook) | $(mline mark_list_mops "$mk") | ≥ 100 M/s | $(verdict "${mkl:--}" ">=" 100) |"
    echo "| marking, balanced tree of $MARK_N (trace hook) | $(mline mark_tree_mops "$mk") | ≥ 100 M/s | $(verdict "${mkt:--}" ">=" 100) |"
    echo "| marking, balanced tree of $MARK_N scattered over the heap (cache misses; trace hook) | $(mline mark_scattered_mops "$mk") | | |"
    echo "| reference: the same tree marked by a bare marker of the trace hook's shape (no span lookup, no checks, no size; micro.c \"marking floor\") | $(mline mark_floor_tree_mops "$mk") | | |"
    echo "| marking by the host, no trace hook (one gc_mark per object, 64-byte objects) | $(mline mark_host_mops "$sw") | | |"
    echo
    echo "Heap bytes = bytes in spans (gc_stats.heap_inuse). Sweep and mark figures: median of $MICRO_REPS, clock_gettime."
    echo

    echo "## Goals"
    echo
    echo "CPU-time ratios, gcheap / peer (medians)$([ "$DEPTH" != 19 ] && echo "; binary-trees at depth $DEPTH (the goal is stated for 19)")."
    echo
    echo "| goal | ratio | target | |"
    echo "|---|---|---|---|"
    for gb in gcheap gcheap-gen gcheap-thp; do
        [ -n "${BACK[bt.$gb]:-}${BACK[at1.$gb]:-}" ] || continue
        g=$(med bt.$gb 1)
        for p in mimalloc:1.0 boehm:0.4 go1:0.25 go2:0.25; do
            peer=${p%%:*} tgt=${p##*:}
            id=bt.$peer
            [ -n "${BACK[$id]:-}" ] && [ -n "${BACK[bt.$gb]:-}" ] || continue
            r=$(ratio "$g" "$(med "$id" 1)")
            echo "| binary-trees CPU, $gb / ${BACK[$id]} | $r | ≤ $tgt | $(verdict "$r" "<=" "$tgt") |"
        done
        if [ -n "${BACK[bt.mimalloc]:-}" ] && [ -n "${BACK[bt.$gb]:-}" ]; then
            r=$(ratio "$(med bt.$gb 3)" "$(med bt.mimalloc 3)")
            echo "| binary-trees peak RSS, $gb / mimalloc | $r | ≤ 1.0 | $(verdict "$r" "<=" 1.0) |"
        fi
        for t in 1 2; do
            [ -n "${BACK[at$t.mimalloc]:-}" ] && [ -n "${BACK[at$t.$gb]:-}" ] || continue
            r=$(ratio "$(med at$t.$gb 1)" "$(med at$t.mimalloc 1)")
            echo "| alloc T=$t CPU, $gb / mimalloc | $r | ≤ 1.0 | $(verdict "$r" "<=" 1.0) |"
        done
    done
    # Scaling: throughput(2) / throughput(1) = 2 * wall(1) / wall(2), each thread doing N.
    # On a loaded machine the 2 threads may not get 2 CPUs; the CPU-based figure
    # (4 * cpu(1) / cpu(2): the throughput if each thread had a CPU to itself)
    # shows what the allocator itself costs when it runs in parallel.
    for b in gcheap gcheap-gen gcheap-thp mimalloc; do
        [ -n "${BACK[at1.$b]:-}" ] || continue
        sw_=$(awk -v a="$(med at1.$b 2)" -v b="$(med at2.$b 2)" 'BEGIN { if (a == "-" || b == "-") print "-"; else printf("%.2f", 2 * a / b) }')
        sc_=$(awk -v a="$(med at1.$b 1)" -v b="$(med at2.$b 1)" 'BEGIN { if (a == "-" || b == "-") print "-"; else printf("%.2f", 4 * a / b) }')
        if [ $b != mimalloc ]; then
            echo "| alloc throughput T=2 / T=1, $b (wall) | $sw_ | ≥ 1.8 | $(verdict "$sw_" ">=" 1.8) |"
            echo "| … estimated from CPU time (each thread on its own CPU) | $sc_ | ≥ 1.8 | $(verdict "$sc_" ">=" 1.8) |"
        else
            echo "| (for comparison: mimalloc T=2 / T=1, wall; from CPU) | $sw_; $sc_ | | |"
        fi
    done
    if [ -n "${BACK[at2.gcheap-par]:-}" ] && [ -n "${BACK[at1.gcheap]:-}" ]; then
        sw_=$(awk -v a="$(med at1.gcheap 2)" -v b="$(med at2.gcheap-par 2)" 'BEGIN { if (a == "-" || b == "-") print "-"; else printf("%.2f", 2 * a / b) }')
        echo "| alloc throughput T=2 / T=1, gcheap, T=2 with parallel marking + lazy sweep (wall) | $sw_ | ≥ 1.8 | $(verdict "$sw_" ">=" 1.8) |"
        if [ -n "${BACK[at2.mimalloc]:-}" ]; then
            r=$(ratio "$(med at2.gcheap-par 1)" "$(med at2.mimalloc 1)")
            echo "| alloc T=2 CPU, gcheap with parallel marking + lazy sweep / mimalloc | $r | ≤ 1.0 | $(verdict "$r" "<=" 1.0) |"
        fi
    fi
    # The machine's bound: two processes of T=1 at once over one (wall).
    for b in gcheap mimalloc; do
        [ -n "${BACK[ap2.$b]:-}" ] && [ -n "${BACK[at1.$b]:-}" ] || continue
        sp_=$(awk -v a="$(med at1.$b 2)" -v b="$(med ap2.$b 2)" 'BEGIN { if (a == "-" || b == "-") print "-"; else printf("%.2f", 2 * a / b) }')
        echo "| (the machine's bound: 2 processes × T=1 / T=1, $b, wall) | $sp_ | | |"
    done
    echo
    if [ -s "$PROFILE" ]; then
        echo "## Profiles (perf record -e cpu-clock)"
        echo
        cat "$PROFILE"
    fi
    echo "Total time of this run: $(($(date +%s) - T0)) s; load average at the end $(cut -d' ' -f1-3 /proc/loadavg)."
} >"$REPORT"

# ---------------------------------------------------------------- plot

PLOT=$RESULTS/results.png
if command -v gnuplot >/dev/null; then
    dat=$WORK/plot.dat
    cols=(gcheap gcheap-gen gcheap-thp glibc mimalloc jemalloc tcmalloc boehm go1 go2)
    {
        printf '# benchmark'
        for c in "${cols[@]}"; do printf '\t%s' "$c"; done
        echo
        for bench in bt at1 at2; do
            case $bench in bt) printf '"binary-trees d=%s"' "$DEPTH" ;; at1) printf '"alloc T=1"' ;; at2) printf '"alloc T=2"' ;; esac
            for c in "${cols[@]}"; do
                v=-
                if [ -n "${BACK[$bench.$c]:-}" ]; then v=$(med "$bench.$c" 1); fi
                printf '\t%s' "${v:--}"
            done
            echo
        done
    } >"$dat"
    titles=(gcheap "gcheap generational" "gcheap huge pages" glibc mimalloc jemalloc tcmalloc "Boehm GC" "Go P=1" "Go P=2")
    colors=("#9400d3" "#d98cf2" "#5b2a86" "#009e73" "#56b4e9" "#e69f00" "#f0e442" "#0072b2" "#e51e10" "#222222")
    plots=""
    for i in "${!cols[@]}"; do
        plots+="${plots:+, }'$dat' using $((i + 2)):xtic(1) title '${titles[$i]}' lc rgb '${colors[$i]}'"
    done
    term="pngcairo size 1000,560 font 'sans,10'"
    gnuplot -e "set terminal $term" -e "quit" 2>/dev/null || term="png size 1000,560"
    gnuplot <<EOF 2>"$WORK/gnuplot.log" || note "gnuplot failed: $(head -3 "$WORK/gnuplot.log")"
set terminal $term
set output '$PLOT'
set title "CPU seconds per backend (median of $RUNS; lower is better) — $(date -u +%Y-%m-%d), $(nproc) CPUs"
set datafile missing '-'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set ylabel 'CPU seconds'
set yrange [0:*]
set grid ytics
set key top right
plot $plots
EOF
fi

cat "$REPORT"
note "wrote $REPORT$([ -f "$PLOT" ] && echo " and $PLOT")"

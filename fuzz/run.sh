#!/usr/bin/env bash
# fuzz/run.sh [SECONDS] [libFuzzer options...]
#
# Builds fuzz/fuzz_heap.c and fuzz/model.c with the library's sources into
# build/fuzz/fuzz_heap (clang, -fsanitize=fuzzer,address, GCH_DEBUG=2) and
# fuzzes for SECONDS (default 60) on build/fuzz/corpus, a working copy of
# fuzz/corpus that keeps what earlier runs found. Prints the executions and
# executions per second; exits non-zero on a finding, whose input libFuzzer
# saves as build/fuzz/crash-* (or leak-, timeout-, oom-). Reproduce one with
#     FUZZ_HEAP_TRACE=1 build/fuzz/fuzz_heap build/fuzz/crash-...
#
# SECONDS = 0 runs until stopped. Environment: CC (default clang; any other
# compiler is replaced by clang), BUILD_DIR (default build/fuzz).
set -euo pipefail

cd "$(dirname "$0")/.."
seconds=${1:-60}
[[ $# -gt 0 ]] && shift
case $seconds in
'' | *[!0-9]*)
    echo "usage: fuzz/run.sh [SECONDS] [libFuzzer options...]" >&2
    exit 2
    ;;
esac

cc=${CC:-clang}
# CC may name gcc or cc (make passes its own); libFuzzer needs clang.
case $(basename "$cc") in clang*) ;; *) cc=clang ;; esac
out=${BUILD_DIR:-build/fuzz}
bin=$out/fuzz_heap
mkdir -p "$out/corpus"

ao_cflags=$(pkg-config --cflags atomic_ops 2>/dev/null || true)
ao_libs=$(pkg-config --libs atomic_ops 2>/dev/null || echo -latomic_ops)
cmd="$cc -g -O1 -fsanitize=fuzzer,address -fno-omit-frame-pointer -std=c11 \
-Wall -Wextra -Werror -Wshadow -Wundef -Wstrict-prototypes -Wmissing-prototypes -Wvla \
-fsanitize-coverage-ignorelist=fuzz/verify.ignore -fsanitize-ignorelist=fuzz/verify.ignore \
-D_GNU_SOURCE -DGCH_DEBUG=2 -I. $ao_cflags -o $bin fuzz/fuzz_heap.c fuzz/model.c src/*.c $ao_libs -pthread"

# Rebuild when a source or the command line changed.
stamp=$out/stamp.cmd
if [[ ! -x $bin || ! -f $stamp || "$(cat "$stamp")" != "$cmd" ||
    -n $(find fuzz/*.c fuzz/*.h fuzz/verify.ignore src gcheap.h -newer "$bin" -print -quit) ]]; then
    echo "fuzz: building $bin"
    if ! $cmd; then
        echo "fuzz: build failed (libFuzzer and ASan come with clang's runtime:" \
            "apt-get install clang libclang-rt-14-dev on Debian 12)" >&2
        exit 1
    fi
    printf '%s\n' "$cmd" >"$stamp"
fi

cp -n fuzz/corpus/* "$out/corpus/" 2>/dev/null || true
count_inputs() { find "$out/corpus" -type f | wc -l; }
log=$out/fuzz.log
echo "fuzz: $bin for ${seconds}s on $out/corpus ($(count_inputs) inputs), log in $log"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=0}
status=0
"$bin" "$out/corpus" -max_total_time="$seconds" -print_final_stats=1 -detect_leaks=0 \
    -max_len=4096 -timeout=30 -rss_limit_mb=4096 -artifact_prefix="$out/" "$@" >"$log" 2>&1 ||
    status=$?

execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
if [[ $status -ne 0 ]]; then
    tail -n 60 "$log"
    echo "fuzz: FAILED (exit $status) after ${execs:-?} executions; input:" \
        "$(grep -o "Test unit written to .*" "$log" | tail -1 | sed 's/Test unit written to //')"
    exit 1
fi
echo "fuzz: ${execs:-?} executions in ${seconds}s (${rate:-?} exec/s), no findings;" \
    "corpus now $(count_inputs) inputs"

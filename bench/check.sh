#!/usr/bin/env bash
# check.sh: a smoke test of the benchmark programs, run by `make test`
# (check-bench), so that a change to them or to the library cannot break
# `make bench` unseen: the full run takes minutes and no test ran it.
#
#   bench/check.sh CC LIBGCHEAP [CFLAGS...]
#
# CFLAGS: a sanitizer build's flags (`make check-asan` runs this too, so
# the programs then run under the sanitizer).
#
# 1. binary_trees.c, alloc_throughput.c, micro.c and measure.c compile with
#    CC under -Wall -Wextra -Werror, against gcheap (LIBGCHEAP, the static
#    library just built) and against the C library's malloc.
# 2. binary-trees at depth 10 prints the node count worked out by hand on
#    both: the stretch tree (depth 11) 4,095, then 1,024 x 31 + 256 x 127 +
#    64 x 511 + 16 x 2,047 for depths 4, 6, 8, 10, and the long-lived tree
#    2,047: 135,854.
# 3. alloc_throughput, small sizes: gcheap and malloc agree on the checksum
#    for T=1 and T=2; gcheap's other modes (parallel marking, lazy sweeping,
#    both, gc_alloc collecting by itself) agree too; two processes of T=1
#    (PROCESSES = 2) print T=1's checksum in both processes.
# 4. micro mark on a small heap: gcheap's marking keeps every object, and
#    the floor marker marks every node (micro exits 1 otherwise).
# 5. Bad arguments (no arguments, 0 threads, 0 or 17 processes, a mode
#    that needs other thread counts): exit status 2 and a message.
# Prints one line per failure and "check-bench: N checks passed".
set -u
cc=${1:?usage: check.sh CC LIBGCHEAP [CFLAGS...]}
lib=${2:?usage: check.sh CC LIBGCHEAP [CFLAGS...]}
shift 2
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
CHECK_NAME=check-bench
. "$root/tools/check-lib.sh"
flags=(-std=c11 -O1 -Wall -Wextra -Werror "$@")
build() { # output, then compiler arguments; shows the compiler's first lines on failure
    local out=$1
    shift
    "$cc" "${flags[@]}" -o "$tmp/$out" "$@" 2>"$tmp/$out.log" && return 0
    head -c 600 "$tmp/$out.log" | sed 's/^/    /'
    return 1
}
checksum() { grep -o 'checksum=[0-9]*' "$1" | cut -d= -f2 | sort -u | tr '\n' ' ' | sed 's/ $//'; }

for p in binary_trees:bt alloc_throughput:at; do
    src=$here/${p%%:*}.c b=${p##*:}
    check "$b: does not build against gcheap (above)" \
        build "${b}_gcheap" -I"$root" -DBACKEND_GCHEAP=1 "$src" "$lib" -latomic_ops -pthread
    check "$b: does not build against malloc (above)" \
        build "${b}_malloc" -DBACKEND_MALLOC=1 "$src" -ldl -pthread
done
check "micro: does not build (above)" \
    build micro -I"$root" "$here/micro.c" "$lib" -latomic_ops -pthread
check "measure: does not build (above)" \
    build measure "$here/measure.c"

# run NAME ENV... -- PROGRAM ARGS...: runs it, output in $tmp/NAME, status in $tmp/NAME.rc
run() {
    local name=$1
    shift
    local env=()
    while [ "$1" != -- ]; do
        env+=("$1")
        shift
    done
    shift
    env "${env[@]}" "$@" >"$tmp/$name" 2>&1
    echo $? >"$tmp/$name.rc"
}
ok() { [ "$(cat "$tmp/$1.rc")" = 0 ] && grep -q '^RESULT' "$tmp/$1"; }

if [ -x "$tmp/micro" ]; then
    run micro.mark -- "$tmp/micro" mark 3000 2
    check "micro mark: no floor figure in its output" \
        grep -q '^mark_floor_tree_mops ' "$tmp/micro.mark"
    check "micro mark: exit status $(cat "$tmp/micro.mark.rc"), want 0" \
        test "$(cat "$tmp/micro.mark.rc")" = 0
fi

for b in gcheap malloc; do
    [ -x "$tmp/bt_$b" ] || continue
    run "bt.$b" -- "$tmp/bt_$b" 10
    check "binary-trees on $b: status $(cat "$tmp/bt.$b.rc"), or no RESULT line" ok "bt.$b"
    check "binary-trees on $b: checksum '$(checksum "$tmp/bt.$b")', want 135854" \
        test "$(checksum "$tmp/bt.$b")" = 135854
done

N=200000 K=1024
if [ -x "$tmp/at_gcheap" ] && [ -x "$tmp/at_malloc" ]; then
    for t in 1 2; do
        run "at$t.gcheap" -- "$tmp/at_gcheap" $t $N $K
        run "at$t.malloc" -- "$tmp/at_malloc" $t $N $K
        for b in gcheap malloc; do
            check "alloc T=$t on $b: status $(cat "$tmp/at$t.$b.rc"): $(tail -2 "$tmp/at$t.$b" | tr '\n' '|')" \
                ok "at$t.$b"
        done
        check "alloc T=$t: checksums differ: gcheap '$(checksum "$tmp/at$t.gcheap")', malloc '$(checksum "$tmp/at$t.malloc")'" \
            test "$(checksum "$tmp/at$t.gcheap")" = "$(checksum "$tmp/at$t.malloc")"
    done
    want2=$(checksum "$tmp/at2.malloc")
    for mode in AT_GCHEAP_PARALLEL=1 AT_GCHEAP_LAZY=1 "AT_GCHEAP_PARALLEL=1 AT_GCHEAP_LAZY=1"; do
        # shellcheck disable=SC2086 # the mode is one or two assignments
        run mode $mode -- "$tmp/at_gcheap" 2 $N $K
        check "alloc T=2, $mode: status $(cat "$tmp/mode.rc"), checksum '$(checksum "$tmp/mode")', want '$want2'" \
            eval 'ok mode && test "$(checksum "$tmp/mode")" = "$want2"'
    done
    want1=$(checksum "$tmp/at1.malloc")
    run auto AT_GCHEAP_AUTO=1 -- "$tmp/at_gcheap" 1 $N $K
    check "alloc T=1, AT_GCHEAP_AUTO=1: status $(cat "$tmp/auto.rc"), checksum '$(checksum "$tmp/auto")', want '$want1'" \
        eval 'ok auto && test "$(checksum "$tmp/auto")" = "$want1"'
    for b in gcheap malloc; do
        run "ap2.$b" -- "$tmp/at_$b" 1 $N $K 2
        check "alloc, 2 processes on $b: status $(cat "$tmp/ap2.$b.rc"), $(grep -c '^RESULT' "$tmp/ap2.$b") RESULT lines (want 2), checksum '$(checksum "$tmp/ap2.$b")' (want '$want1')" \
            eval 'ok ap2.$b && test "$(grep -c "^RESULT" "$tmp/ap2.$b")" = 2 && test "$(checksum "$tmp/ap2.$b")" = "$want1"'
    done
    while read -r env args; do
        # shellcheck disable=SC2086 # env and args are lists
        run bad $env -- "$tmp/at_gcheap" $args
        check "alloc_throughput '$args' ($env): status $(cat "$tmp/bad.rc"), want 2, with a message" \
            eval 'test "$(cat "$tmp/bad.rc")" = 2 && grep -q "alloc_throughput" "$tmp/bad"'
    done <<EOF
X=1
X=1 0 10 10
X=1 1 10 10 0
X=1 1 10 10 17
AT_GCHEAP_PARALLEL=1 1 10 10
AT_GCHEAP_AUTO=1 2 10 10
EOF
fi

check_done

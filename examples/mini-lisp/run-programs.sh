#!/usr/bin/env bash
# Runs the example programs and checks their output.
#
#   run-programs.sh BINARY [DIR]
#
# Each DIR/NAME.lisp (default DIR: programs/ beside this script) is run as
# `BINARY NAME.lisp` twice: normally, and with GCHEAP_DEBUG=poison=1 (gcheap
# fills freed memory with 0xDB, so an object the interpreter failed to keep
# alive shows up as garbage). Each run must exit 0, write nothing on stderr,
# and print exactly DIR/NAME.out; a program with a DIR/NAME.err instead must
# end in that error: exit 1 with exactly that on stderr (an error too costly
# to reach under MINILISP_ALWAYS_GC, so not one of run-tests.sh's eNN
# tests). (The programs are too big for MINILISP_ALWAYS_GC, a collection
# per allocation; run-tests.sh covers that.)
# Prints one line per failure, then "N passed, M failed"; exits 1 on failure.
set -u
bin=${1:?usage: run-programs.sh BINARY [DIR]}
dir=${2:-$(dirname "$0")/programs}
case "$bin" in /*) ;; *) bin="$PWD/$bin" ;; esac
[ -x "$bin" ] || { echo "run-programs.sh: $bin is not an executable" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0

run() { # name file expected mode(normal|poison)
    local name=$1 file=$2 want=$3 mode=$4 rc why=""
    local debug=${GCHEAP_DEBUG:-}
    [ "$mode" = poison ] && debug=${debug:+$debug,}poison=1
    GCHEAP_DEBUG=$debug MINILISP_ALWAYS_GC= timeout 300 "$bin" "$file" > "$tmp/out" 2> "$tmp/err"
    rc=$?
    if [ -f "${file%.lisp}.err" ]; then
        [ $rc -eq 1 ] || why="exit status $rc (want 1)"
        cmp -s "$tmp/err" "${file%.lisp}.err" ||
            why="${why:+$why; }stderr: $(head -c 200 "$tmp/err") (want $(head -c 200 "${file%.lisp}.err"))"
    else
        [ $rc -eq 0 ] || why="exit status $rc"
        [ -s "$tmp/err" ] && why="${why:+$why; }stderr: $(head -c 200 "$tmp/err")"
    fi
    if ! cmp -s "$tmp/out" "$want"; then
        why="${why:+$why; }stdout differs: $(diff "$want" "$tmp/out" | head -n 6 | tr '\n' '|' | head -c 300)"
    fi
    if [ -z "$why" ]; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL $name [$mode]: $why"
    fi
}

for f in "$dir"/*.lisp; do
    [ -e "$f" ] || continue
    name=$(basename "$f" .lisp)
    want="${f%.lisp}.out"
    if [ ! -f "$want" ]; then
        fail=$((fail + 1))
        echo "FAIL $name: no $want"
        continue
    fi
    run "$name" "$f" "$want" normal
    run "$name" "$f" "$want" poison
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]

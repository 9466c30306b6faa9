#!/usr/bin/env bash
# Tests the interactive session: standard input a terminal (script(1) gives
# the interpreter one), where an error is reported and the session goes on.
#
#   run-session-test.sh BINARY
#
# The session is fed a few lines and must:
#   - go on after an error (an unbound symbol), printing the next value;
#   - report a cyclic print on a line of its own, after the partial output
#     ("((" alone on its line, then "error: print: cyclic structure ...");
#   - still collect correctly after errors unwound root frames (a loop that
#     makes garbage, then a value computed from live data);
#   - exit 0 at the end of the input.
# Skipped (exit 0, with a message) where script(1) is missing.
# Prints "session: N checks passed" or one line per failure (exit 1).
set -u
bin=${1:?usage: run-session-test.sh BINARY}
case "$bin" in /*) ;; *) bin="$PWD/$bin" ;; esac
[ -x "$bin" ] || { echo "run-session-test.sh: $bin is not an executable" >&2; exit 2; }
if ! command -v script >/dev/null; then
    echo "session: skipped (no script(1); Debian package bsdutils)"
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/in" <<'LISP'
(car undefined-symbol)
(cons 1 2)
(define x (cons 1 2))
(setcar x x)
(define keep (cons 7 (cons 8 ())))
(define i 0)
(while (< i 200000) (cons i i) (setq i (+ i 1)))
(cons i keep)
LISP
MINILISP_ALWAYS_GC= timeout 60 script -qec "$bin" /dev/null <"$tmp/in" >"$tmp/raw" 2>&1
rc=$?
tr -d '\r' <"$tmp/raw" >"$tmp/out"
pass=0 fail=0
check() { # description, then a command that succeeds on a pass
    local what=$1
    shift
    if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL session: $what"; fi
}
check "exit status $rc, want 0" test $rc -eq 0
check "the unbound symbol is reported" grep -q '^error: .*undefined-symbol' "$tmp/out"
check "the session goes on after it: (1 . 2)" grep -q '^(1 \. 2)$' "$tmp/out"
check "the cyclic print's partial output ends its line" grep -q '^(($' "$tmp/out"
check "the cyclic print's error has a line of its own" \
    grep -q '^error: print: cyclic structure' "$tmp/out"
check "collections after the errors keep live data: (200000 7 8)" \
    grep -q '^(200000 7 8)$' "$tmp/out"
if [ $fail -ne 0 ]; then
    echo "session output:"
    sed 's/^/    /' "$tmp/out" | head -40
    exit 1
fi
echo "session: $pass checks passed"

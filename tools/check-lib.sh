# check-lib.sh: what the check scripts (tools/check-gctrace-summary.sh,
# bench/check.sh) share. Sourced, after setting CHECK_NAME:
#   check DESCRIPTION COMMAND...   counts a pass if COMMAND succeeds, else
#                                  prints "FAIL CHECK_NAME: DESCRIPTION"
#   check_done                     prints the tally; exits 1 on a failure
# and $tmp, a directory removed on exit.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
check() {
    local what=$1
    shift
    if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL $CHECK_NAME: $what"; fi
}
check_done() {
    if [ $fail -ne 0 ]; then
        echo "$CHECK_NAME: $fail of $((pass + fail)) checks failed"
        exit 1
    fi
    echo "$CHECK_NAME: $pass checks passed"
}

#!/usr/bin/env bash
# deps.sh: checks that the packages gcheap's build needs are installed, and
# installs the missing ones when it can. The Makefile runs it before compiling
# anything, so a missing package stops make with one clear line instead of a
# compiler error three screens later.
#
# Usage: tools/deps.sh [lib|test|run]
#   lib   the library and mini-lisp: libatomic-ops-dev
#   run   lib, plus a note if libedit-dev is missing (mini-lisp then has no
#         line editing)
#   test  lib, plus libcriterion-dev and pkg-config (check-install uses it),
#         plus the libedit-dev note
#
# A required package that is missing is installed with apt-get when this runs
# as root (or with passwordless sudo), apt-get exists and GCHEAP_NO_INSTALL is
# unset; `apt-get update` runs only if the first install fails (a fresh
# machine's package lists may be empty or stale). Otherwise, or if the install
# fails, prints one line and exits 1:
#   gcheap: missing libcriterion-dev; install it with: sudo apt-get install libcriterion-dev
# Silent and quick (a few stat calls and pkg-config runs) when all is there.
#
# The headers looked for can be overridden, which is how the failure path is
# tested without uninstalling anything. When one of these is set, that file
# alone decides (pkg-config is not asked):
#   GCHEAP_DEPS_ATOMIC_HEADER     default /usr/include/atomic_ops.h
#   GCHEAP_DEPS_CRITERION_HEADER  default /usr/include/criterion/criterion.h
#   GCHEAP_DEPS_EDIT_HEADER       default /usr/include/editline/readline.h
#   GCHEAP_DEPS_PKG_CONFIG        the pkg-config program (default pkg-config)
set -euo pipefail

mode=${1:-lib}
case "$mode" in
lib | run | test) ;;
*)
    echo "usage: tools/deps.sh [lib|test|run]" >&2
    exit 2
    ;;
esac

pkgconfig=${GCHEAP_DEPS_PKG_CONFIG:-pkg-config}

have_pkgconfig() {
    command -v "$pkgconfig" >/dev/null 2>&1
}

# has_dep HEADER_OVERRIDE_VAR DEFAULT_HEADER PKG_CONFIG_MODULE
has_dep() {
    local override=${!1:-} header=$2 module=$3
    if [[ -n $override ]]; then
        [[ -f $override ]]
        return
    fi
    [[ -f $header || -f /usr/local/include/${header#/usr/include/} ]] && return 0
    have_pkgconfig && "$pkgconfig" --exists "$module" 2>/dev/null
}

missing_packages() {
    local missing=()
    has_dep GCHEAP_DEPS_ATOMIC_HEADER /usr/include/atomic_ops.h atomic_ops ||
        missing+=(libatomic-ops-dev)
    if [[ $mode == test ]]; then
        has_dep GCHEAP_DEPS_CRITERION_HEADER /usr/include/criterion/criterion.h criterion ||
            missing+=(libcriterion-dev)
        have_pkgconfig || missing+=(pkg-config)
    fi
    echo "${missing[@]}"
}

can_install() {
    [[ -z ${GCHEAP_NO_INSTALL:-} ]] || return 1
    command -v apt-get >/dev/null 2>&1 || return 1
    [[ $(id -u) -eq 0 ]] && return 0
    command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null
}

apt_install() {
    local sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo -n)
    # Progress goes to stderr so that make's output stays readable.
    echo "gcheap: installing $*" >&2
    if ! DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q "$@" >&2; then
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get update -q >&2 &&
            DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q "$@" >&2
    fi
}

read -r -a missing <<<"$(missing_packages)"
if ((${#missing[@]} > 0)) && can_install; then
    apt_install "${missing[@]}" || true
    read -r -a missing <<<"$(missing_packages)"
fi
if ((${#missing[@]} > 0)); then
    sudo="sudo "
    [[ $(id -u) -eq 0 ]] && sudo=""
    if ((${#missing[@]} == 1)); then it=it; else it=them; fi
    echo "gcheap: missing ${missing[*]}; install $it with: ${sudo}apt-get install ${missing[*]}" >&2
    exit 1
fi

if [[ $mode == test || $mode == run ]]; then
    if ! has_dep GCHEAP_DEPS_EDIT_HEADER /usr/include/editline/readline.h libedit; then
        echo "gcheap: note: libedit-dev is not installed, so mini-lisp has no line editing" \
            "(optional: apt-get install libedit-dev)" >&2
    fi
fi
exit 0

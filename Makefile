# Makefile: builds gcheap, its tests and the mini-lisp example. One
# non-recursive GNU make file; sources are found by wildcard, so a new
# src/*.c, test/test_*.c or examples/mini-lisp/*.c needs no edit here.
#
#   make                 libgcheap.a, libgcheap.so, gcheap.pc, bin/mini-lisp,
#                        tools/gctrace-summary
#   make test            build everything, then run every check (see `test`)
#   make run             build mini-lisp and run its demo
#   make BUILD=debug     other modes: debug check asan ubsan tsan (see below)
#   make CC=clang test   another compiler, in its own build directory
#   make install PREFIX=/usr/local DESTDIR=
#   make help            the list of targets
#
# Outputs go to $(B): build/ for the default (BUILD=release with cc/gcc),
# build/$(BUILD)/ for other modes, build/<compiler>/[$(BUILD)/] for another
# compiler, so objects of different flags or compilers never mix.
# Extra flags can be given with CFLAGS, CPPFLAGS, LDFLAGS and LDLIBS; a change
# of flags rebuilds what they affect.

.DEFAULT_GOAL := all
SHELL := /bin/bash
.DELETE_ON_ERROR:
.SUFFIXES:

# ---------------------------------------------------------------- modes

BUILD ?= release
PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
DESTDIR ?=
PKG_CONFIG ?= pkg-config
# Per test binary: a hung test must not eat the whole CI budget.
TEST_TIMEOUT ?= 900
CRITERION_ARGS ?= --jobs 2

MODE_CFLAGS_release := -O2
MODE_CPPFLAGS_release := -DNDEBUG -DGCH_DEBUG=0
MODE_CFLAGS_debug := -O0 -g
MODE_CPPFLAGS_debug := -DGCH_DEBUG=2
# check: every assertion tier, the heap verifier after every sweep.
MODE_CFLAGS_check := -O1 -g
MODE_CPPFLAGS_check := -DGCH_DEBUG=3
MODE_CFLAGS_asan := -O1 -g
MODE_SAN_asan := -fsanitize=address -fno-omit-frame-pointer
MODE_CPPFLAGS_asan := -DGCH_DEBUG=1
MODE_CFLAGS_ubsan := -O1 -g
MODE_SAN_ubsan := -fsanitize=undefined -fno-sanitize-recover=all
MODE_CPPFLAGS_ubsan := -DGCH_DEBUG=1
MODE_CFLAGS_tsan := -O1 -g
MODE_SAN_tsan := -fsanitize=thread
MODE_CPPFLAGS_tsan := -DGCH_DEBUG=1

# Sanitizer run-time options for everything a sanitized build runs (unless
# already set). LSan is off: a collected heap is freed by the collector, never
# by free(), and mini-lisp must keep stderr empty.
ifeq ($(BUILD),asan)
export ASAN_OPTIONS ?= detect_leaks=0
endif
ifeq ($(BUILD),ubsan)
export UBSAN_OPTIONS ?= print_stacktrace=1:halt_on_error=1
endif
ifeq ($(BUILD),tsan)
export TSAN_OPTIONS ?= halt_on_error=1
endif

MODES := release debug check asan ubsan tsan
ifeq ($(filter $(BUILD),$(MODES)),)
$(error BUILD=$(BUILD) is not one of: $(MODES))
endif

# The compiler's name goes into the build directory unless it is the default
# one, so `make CC=clang` never links gcc's objects.
CC_NAME := $(notdir $(firstword $(CC)))
CC_DIR := $(if $(filter cc gcc,$(CC_NAME)),,/$(CC_NAME))
MODE_DIR := $(if $(filter release,$(BUILD)),,/$(BUILD))
B := build$(CC_DIR)$(MODE_DIR)
# Host tools (mksizeclasses) do not depend on BUILD.
TB := build$(CC_DIR)/tools

# ---------------------------------------------------------------- flags

WARN := -Wall -Wextra -Werror -Wshadow -Wundef -Wstrict-prototypes \
        -Wmissing-prototypes -Wvla
SAN := $(MODE_SAN_$(BUILD))
BASE_CFLAGS := -std=c11 $(WARN) -pthread $(MODE_CFLAGS_$(BUILD)) $(SAN) -MMD -MP
BASE_CPPFLAGS := -D_GNU_SOURCE -I. $(MODE_CPPFLAGS_$(BUILD))
BASE_LDFLAGS := -pthread $(SAN)
HOST_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) -O2

# Package flags are looked up once, and only when a recipe needs them, i.e.
# after tools/deps.sh has run (and perhaps installed the package). The
# `X = $(eval X := ...)$(X)` form memoises a recursive variable.
AO_CFLAGS = $(eval AO_CFLAGS := $(shell $(PKG_CONFIG) --cflags atomic_ops 2>/dev/null))$(AO_CFLAGS)
AO_LIBS = $(eval AO_LIBS := $(or $(shell $(PKG_CONFIG) --libs atomic_ops 2>/dev/null),-latomic_ops))$(AO_LIBS)
CRIT_CFLAGS = $(eval CRIT_CFLAGS := $(shell $(PKG_CONFIG) --cflags criterion 2>/dev/null))$(CRIT_CFLAGS)
CRIT_LIBS = $(eval CRIT_LIBS := $(or $(shell $(PKG_CONFIG) --libs criterion 2>/dev/null),-lcriterion))$(CRIT_LIBS)
HAVE_LIBEDIT = $(eval HAVE_LIBEDIT := $(shell $(PKG_CONFIG) --exists libedit 2>/dev/null && echo 1 || echo 0))$(HAVE_LIBEDIT)
EDIT_CFLAGS = $(eval EDIT_CFLAGS := $(if $(filter 1,$(HAVE_LIBEDIT)),$(shell $(PKG_CONFIG) --cflags libedit)) \
              -DMINILISP_HAVE_LIBEDIT=$(HAVE_LIBEDIT))$(EDIT_CFLAGS)
EDIT_LIBS = $(eval EDIT_LIBS := $(if $(filter 1,$(HAVE_LIBEDIT)),$(shell $(PKG_CONFIG) --libs libedit)))$(EDIT_LIBS)

# TSan cannot run Criterion (its boxfort runner maps its shared arena at
# addresses TSan reserves). If a drop-in criterion/criterion.h is provided in
# $(TSAN_SHIM), tsan builds compile the tests against it instead.
TSAN_SHIM := test/tsan-shim
USE_SHIM := $(if $(and $(filter tsan,$(BUILD)),$(wildcard $(TSAN_SHIM)/criterion/criterion.h)),1)

# The library is compiled twice: position-independent code for the shared
# library (-fPIC), and for the static archive code that only executables
# link (-fPIE, as Debian's compilers default to). -fPIE lets the compiler
# reach the thread's mcache pointer with one %fs-relative load (the
# local-exec TLS model) instead of two: one instruction of gc_alloc's fast
# path. A shared object that embeds gcheap links libgcheap.so or builds the
# sources with -fPIC.
LIB_COMPILE_BASE = $(CC) $(BASE_CPPFLAGS) $(CPPFLAGS) $(AO_CFLAGS) $(BASE_CFLAGS) \
                   -fvisibility=hidden $(CFLAGS)
LIB_COMPILE = $(LIB_COMPILE_BASE) -fPIC
LIB_COMPILE_PIE = $(LIB_COMPILE_BASE) -fPIE
TEST_COMPILE = $(CC) $(BASE_CPPFLAGS) $(CPPFLAGS) $(AO_CFLAGS) \
               $(if $(USE_SHIM),-I$(TSAN_SHIM),$(CRIT_CFLAGS)) $(BASE_CFLAGS) $(CFLAGS)
LISP_COMPILE = $(CC) $(BASE_CPPFLAGS) $(CPPFLAGS) $(EDIT_CFLAGS) $(BASE_CFLAGS) $(CFLAGS)
LINK = $(CC) $(BASE_LDFLAGS) $(LDFLAGS)

# ---------------------------------------------------------------- sources

VERSION_MAJOR := $(shell sed -n 's/^\#define GCHEAP_VERSION_MAJOR \([0-9]*\).*/\1/p' gcheap.h)
VERSION_MINOR := $(shell sed -n 's/^\#define GCHEAP_VERSION_MINOR \([0-9]*\).*/\1/p' gcheap.h)
VERSION := $(VERSION_MAJOR).$(VERSION_MINOR)
SONAME := libgcheap.so.$(VERSION_MAJOR)

LIB_SRCS := $(sort $(wildcard src/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(B)/obj/%.o)
LIB_PIE_OBJS := $(LIB_SRCS:%.c=$(B)/obj-pie/%.o)
TEST_SRCS := $(sort $(wildcard test/test_*.c))
# Any other test/*.c is a helper linked into every test binary.
TEST_HELPER_SRCS := $(filter-out $(TEST_SRCS),$(sort $(wildcard test/*.c))) \
                    $(if $(USE_SHIM),$(wildcard $(TSAN_SHIM)/*.c))
TEST_HELPER_OBJS := $(TEST_HELPER_SRCS:%.c=$(B)/obj/%.o)
TEST_OBJS := $(TEST_SRCS:%.c=$(B)/obj/%.o)
TEST_NAMES := $(TEST_SRCS:test/%.c=%)
TEST_BINS := $(TEST_NAMES:%=$(B)/test/%)
# `make test TESTS="test_a test_b"` runs only those binaries.
TESTS ?= $(TEST_NAMES)
THREAD_TESTS := $(foreach t,$(TEST_NAMES),$(if $(findstring thread,$t),$t))
LISP_SRCS := $(sort $(wildcard examples/mini-lisp/*.c))
LISP_OBJS := $(LISP_SRCS:%.c=$(B)/obj/%.o)
LISP_BIN := $(if $(LISP_SRCS),$(B)/bin/mini-lisp)
LISP_DIR := examples/mini-lisp
MKSC := $(TB)/mksizeclasses
GCTS := $(TB)/gctrace-summary

STATIC_LIB := $(B)/libgcheap.a
SHARED_LIB := $(B)/libgcheap.so
PC_FILE := $(B)/gcheap.pc

# src/sizeclasses.h is generated, so it is the generator's output that counts.
FORMAT_FILES := $(filter-out src/sizeclasses.h, \
                  $(wildcard src/*.c src/*.h gcheap.h tools/*.c test/*.c test/*.h \
                             test/outside/*.c test/tsan-shim/*.c test/tsan-shim/criterion/*.h \
                             test/valgrind/*.c examples/mini-lisp/*.c examples/mini-lisp/*.h \
                             bench/*.c bench/*.h fuzz/*.c fuzz/*.h))

# ---------------------------------------------------------------- dependency check

# tools/deps.sh runs (quietly, in milliseconds) before the first compile of
# each kind: as an order-only prerequisite it never causes a rebuild itself.
.PHONY: deps-lib deps-test deps-run
deps-lib deps-test deps-run: deps-%:
	@tools/deps.sh $*

# ---------------------------------------------------------------- flag stamps

# Each stamp holds the command line of one kind of compile and changes only
# when that command line does, so new flags rebuild exactly what they affect.
.PHONY: FORCE
FORCE:
define write-if-changed
	@mkdir -p $(@D)
	@printf '%s\n' '$(strip $(1))' >$@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv -f $@.tmp $@; fi
endef
$(B)/stamp.lib: FORCE | deps-lib
	$(call write-if-changed,$(LIB_COMPILE) | $(LIB_COMPILE_PIE) | $(LINK) $(AO_LIBS))
$(B)/stamp.test: FORCE | deps-test
	$(call write-if-changed,$(TEST_COMPILE) | $(LINK) $(CRIT_LIBS))
$(B)/stamp.lisp: FORCE | deps-lib
	$(call write-if-changed,$(LISP_COMPILE) | $(LINK) $(EDIT_LIBS))
# The lists of objects each link uses: removing a source relinks.
$(B)/stamp.objs: FORCE
	$(call write-if-changed,$(LIB_OBJS) | $(TEST_HELPER_OBJS) | $(LISP_OBJS))
$(TB)/stamp.host: FORCE
	$(call write-if-changed,$(CC) $(HOST_CFLAGS))

# ---------------------------------------------------------------- build rules

.PHONY: all
all: $(STATIC_LIB) $(SHARED_LIB) $(PC_FILE) $(LISP_BIN) $(GCTS) | deps-lib

$(B)/obj/src/%.o: src/%.c $(B)/stamp.lib
	@mkdir -p $(@D)
	$(LIB_COMPILE) -c -o $@ $<

$(B)/obj-pie/src/%.o: src/%.c $(B)/stamp.lib
	@mkdir -p $(@D)
	$(LIB_COMPILE_PIE) -c -o $@ $<

$(B)/obj/test/%.o: test/%.c $(B)/stamp.test
	@mkdir -p $(@D)
	$(TEST_COMPILE) -c -o $@ $<

$(B)/obj/examples/mini-lisp/%.o: examples/mini-lisp/%.c $(B)/stamp.lisp
	@mkdir -p $(@D)
	$(LISP_COMPILE) -c -o $@ $<

$(STATIC_LIB): $(LIB_PIE_OBJS) $(B)/stamp.objs
	@mkdir -p $(@D)
	@rm -f $@
	$(AR) rcs $@ $(LIB_PIE_OBJS)

# --no-undefined catches a missing library at link time; sanitizer builds skip
# it because clang leaves the sanitizer runtime to the executable.
NO_UNDEFINED := -Wl,--no-undefined
$(SHARED_LIB): $(LIB_OBJS) $(B)/stamp.lib $(B)/stamp.objs
	@mkdir -p $(@D)
	$(LINK) -shared -Wl,-soname,$(SONAME) $(if $(SAN),,$(NO_UNDEFINED)) -o $@ $(LIB_OBJS) $(AO_LIBS)

# PREFIX is substituted on every run (cheap) and the file rewritten only if it
# changed, so `make PREFIX=/opt` is never served a stale prefix.
$(PC_FILE): gcheap.pc.in FORCE
	@mkdir -p $(@D)
	@$(call pc-from-in,$(PREFIX),$(LIBDIR),$(INCLUDEDIR)) >$@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv -f $@.tmp $@; echo "  GEN $@"; fi

# pc-from-in PREFIX,LIBDIR,INCLUDEDIR: gcheap.pc.in with the paths filled in.
pc-from-in = sed -e "s|@PREFIX@|$(1)|g" -e "s|@LIBDIR@|$(2)|g" \
                 -e "s|@INCLUDEDIR@|$(3)|g" -e "s|@VERSION@|$(VERSION)|g" gcheap.pc.in

$(B)/test/%: $(B)/obj/test/%.o $(TEST_HELPER_OBJS) $(STATIC_LIB) $(B)/stamp.test $(B)/stamp.objs
	@mkdir -p $(@D)
	$(LINK) -o $@ $< $(TEST_HELPER_OBJS) $(STATIC_LIB) \
	    $(if $(USE_SHIM),,$(CRIT_LIBS)) $(AO_LIBS) -lm

$(B)/bin/mini-lisp: $(LISP_OBJS) $(STATIC_LIB) $(B)/stamp.lisp $(B)/stamp.objs
	@mkdir -p $(@D)
	$(LINK) -o $@ $(LISP_OBJS) $(STATIC_LIB) $(EDIT_LIBS) $(AO_LIBS) -lm

$(MKSC): tools/mksizeclasses.c $(TB)/stamp.host
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -o $@ $<

$(GCTS): tools/gctrace-summary.c $(TB)/stamp.host
	@mkdir -p $(@D)
	$(CC) $(HOST_CFLAGS) -o $@ $<

# Keep test objects: they are intermediate to make, but a rebuild needs them.
.SECONDARY: $(TEST_OBJS) $(TEST_HELPER_OBJS)

-include $(wildcard $(B)/obj/*/*.d $(B)/obj/*/*/*.d $(B)/obj/*/*/*/*.d $(B)/obj-pie/src/*.d)

# ---------------------------------------------------------------- checks
#
# Each check is a canned recipe, so that `test` runs them in a fixed order
# inside one recipe (stable even under -j) and each also has its own target.

define run-check-sizeclasses
	@if [ -x tools/check-sizeclasses.sh ]; then \
	    tools/check-sizeclasses.sh $(MKSC); \
	else \
	    echo "check-sizeclasses: skipped (tools/check-sizeclasses.sh does not exist yet)"; \
	fi
endef

# Every symbol the shared library defines for others must be gc_*, and every
# function gcheap.h declares must be among them (-fvisibility=hidden hides the
# API too unless its declarations are given default visibility).
define run-check-exports
	@syms=$$(nm -D --defined-only $(SHARED_LIB) | awk 'NF == 3 && $$2 ~ /^[BDGRSTVWiu]$$/'); \
	bad=$$(awk 'NF == 3 && $$3 !~ /^gc_/ { print "    " $$2 " " $$3 }' <<<"$$syms"); \
	if [ -n "$$bad" ]; then \
	    echo "check-exports: $(SHARED_LIB) exports symbols without the gc_ prefix" \
	         "(make them static, or gch_* declared in src/internal.h):"; \
	    echo "$$bad"; \
	    exit 1; \
	fi; \
	api=$$(grep -oE '^[A-Za-z_][^(;]*\<gc_[a-z0-9_]+\(' gcheap.h | grep -v '^typedef' | \
	       grep -oE 'gc_[a-z0-9_]+\($$' | tr -d '('); \
	if [ -z "$$api" ]; then echo "check-exports: found no gc_* prototypes in gcheap.h"; exit 1; fi; \
	missing=$$(for f in $$api; do awk -v f=$$f '$$3 == f { found = 1 } END { exit !found }' \
	           <<<"$$syms" || echo "    $$f"; done); \
	if [ -n "$$missing" ]; then \
	    echo "check-exports: $(SHARED_LIB) does not export these gcheap.h functions" \
	         "(undefined, or hidden: give gcheap.h's declarations default visibility):"; \
	    echo "$$missing"; \
	    exit 1; \
	fi; \
	echo "check-exports: $(SHARED_LIB) exports only gc_*, and all $$(wc -w <<<"$$api") functions of gcheap.h"
endef

# Stops at the first failing binary and names it.
define run-unit-tests
	@set -u; \
	if [ -z "$(strip $(TESTS))" ]; then echo "unit tests: none (test/test_*.c)"; exit 0; fi; \
	for t in $(TESTS); do \
	    echo "== $(B)/test/$$t"; \
	    if ! timeout $(TEST_TIMEOUT) $(B)/test/$$t $(CRITERION_ARGS); then \
	        echo "FAILED: $(B)/test/$$t"; exit 1; \
	    fi; \
	done
endef

define run-lisp-tests
	@if [ -z "$(LISP_BIN)" ]; then \
	    echo "mini-lisp: skipped (no examples/mini-lisp/*.c yet)"; \
	elif [ ! -f $(LISP_DIR)/run-tests.sh ]; then \
	    echo "mini-lisp conformance: skipped (no $(LISP_DIR)/run-tests.sh yet)"; \
	else \
	    echo "== mini-lisp conformance: $(LISP_DIR)/tests"; \
	    bash $(LISP_DIR)/run-tests.sh $(LISP_BIN) $(LISP_DIR)/tests || exit 1; \
	fi
	@if [ -n "$(LISP_BIN)" ] && [ -f $(LISP_DIR)/run-programs.sh ]; then \
	    echo "== mini-lisp programs: $(LISP_DIR)/programs"; \
	    bash $(LISP_DIR)/run-programs.sh $(LISP_BIN) $(LISP_DIR)/programs || exit 1; \
	elif [ -n "$(LISP_BIN)" ]; then \
	    echo "mini-lisp programs: skipped (no $(LISP_DIR)/run-programs.sh yet)"; \
	fi
	@if [ -n "$(LISP_BIN)" ] && [ -f $(LISP_DIR)/run-session-test.sh ]; then \
	    echo "== mini-lisp interactive session"; \
	    bash $(LISP_DIR)/run-session-test.sh $(LISP_BIN) || exit 1; \
	fi
endef

# The gctrace summariser on a hand-checked sample and on a real trace.
define run-check-tools
	@bash tools/check-gctrace-summary.sh $(GCTS) $(LISP_BIN)
endef

# The benchmark programs build warning-free and run at small sizes
# (bench/check.sh): `make bench` is too long for every change.
define run-check-bench
	@bash bench/check.sh $(CC) $(STATIC_LIB) $(SAN)
endef

# install-cmds DESTDIR,PREFIX,LIBDIR,INCLUDEDIR,PKGCONFIGDIR: one shell command
# list (so check-install can run it with shell variables as arguments).
install-cmds = install -d "$(1)$(4)" "$(1)$(3)" "$(1)$(5)" && \
    install -m 644 gcheap.h "$(1)$(4)/gcheap.h" && \
    install -m 644 $(STATIC_LIB) "$(1)$(3)/libgcheap.a" && \
    install -m 755 $(SHARED_LIB) "$(1)$(3)/libgcheap.so.$(VERSION)" && \
    ln -sf libgcheap.so.$(VERSION) "$(1)$(3)/$(SONAME)" && \
    ln -sf $(SONAME) "$(1)$(3)/libgcheap.so" && \
    $(call pc-from-in,$(2),$(3),$(4)) >"$(1)$(5)/gcheap.pc" && \
    chmod 644 "$(1)$(5)/gcheap.pc"

# Installs into a temporary prefix and builds test/outside/prog.c the way a
# user would: shared through pkg-config, then static against the .a. The
# sanitizer flags of the mode are passed too (a sanitized library needs them).
define run-check-install
	@set -e; tmp=$$(mktemp -d "$${TMPDIR:-/tmp}/gcheap-install.XXXXXX"); \
	trap 'rm -rf "$$tmp"' EXIT; p=$$tmp/prefix; \
	$(call install-cmds,,$$p,$$p/lib,$$p/include,$$p/lib/pkgconfig); \
	export PKG_CONFIG_PATH=$$p/lib/pkgconfig$${PKG_CONFIG_PATH:+:$$PKG_CONFIG_PATH}; \
	cflags=$$($(PKG_CONFIG) --cflags gcheap); libs=$$($(PKG_CONFIG) --libs gcheap); \
	$(CC) -std=c11 $(WARN) $(SAN) $$cflags -o $$tmp/prog-shared test/outside/prog.c \
	    $$libs -Wl,-rpath,$$p/lib; \
	readelf -d $$tmp/prog-shared | grep -q 'NEEDED.*$(SONAME)' || \
	    { echo "check-install: prog-shared does not link $(SONAME)"; exit 1; }; \
	out=$$($$tmp/prog-shared 2>&1) && [ "$$out" = ok ] || \
	    { echo "check-install: test/outside/prog.c built shared printed '$$out', want 'ok'"; exit 1; }; \
	slibs=$$($(PKG_CONFIG) --static --libs gcheap); \
	$(CC) -std=c11 $(WARN) $(SAN) $$cflags -o $$tmp/prog-static test/outside/prog.c \
	    $${slibs//-lgcheap/$$p/lib/libgcheap.a}; \
	! readelf -d $$tmp/prog-static | grep -q 'NEEDED.*libgcheap' || \
	    { echo "check-install: prog-static still needs libgcheap.so"; exit 1; }; \
	out=$$($$tmp/prog-static 2>&1) && [ "$$out" = ok ] || \
	    { echo "check-install: test/outside/prog.c built static printed '$$out', want 'ok'"; exit 1; }; \
	echo "check-install: installed tree works through pkg-config, shared and static"
endef

.PHONY: test check-sizeclasses check-exports check-unit check-lisp check-install check-tools \
        check-bench
# The order: the generated table, the export list, the unit tests, the Lisp
# suite, the tools, the benchmark programs, the installed tree.
test: all $(TEST_BINS) $(MKSC) | deps-test
	$(run-check-sizeclasses)
	$(run-check-header)
	$(run-check-exports)
	$(run-unit-tests)
	$(run-lisp-tests)
	$(run-check-tools)
	$(run-check-bench)
	$(run-check-install)

check-sizeclasses: $(MKSC)
	$(run-check-sizeclasses)

check-tools: $(GCTS) $(LISP_BIN)
	$(run-check-tools)

check-bench: $(STATIC_LIB)
	$(run-check-bench)

check-exports: $(SHARED_LIB)
	$(run-check-exports)

# gcheap.h promises to compile as C99 -pedantic and as C++ (extern "C").
CXX ?= c++
define run-check-header
	@printf '#include "gcheap.h"\nint main(void) { return gc_size(0) != 0; }\n' > $(B)/hdr.c
	@$(CC) -std=c99 -pedantic -Wall -Wextra -Werror -I. -fsyntax-only $(B)/hdr.c
	@cp $(B)/hdr.c $(B)/hdr.cc
	@$(CXX) -std=c++11 -pedantic -Wall -Wextra -Werror -I. -fsyntax-only $(B)/hdr.cc
	@echo "check-header: gcheap.h compiles as C99 -pedantic and as C++11"
endef
.PHONY: check-header
check-header:
	@mkdir -p $(B)
	$(run-check-header)

check-unit: $(TESTS:%=$(B)/test/%) | deps-test
	$(run-unit-tests)

check-lisp: $(LISP_BIN)
	$(run-lisp-tests)

check-install: $(STATIC_LIB) $(SHARED_LIB) | deps-test
	$(run-check-install)

# Sanitizer and debug runs of the whole suite, each in its own build directory
# (run-time options: see the top).
.PHONY: check check-asan check-ubsan check-tsan
check:
	$(MAKE) --no-print-directory BUILD=check test
check-asan:
	$(MAKE) --no-print-directory BUILD=asan test
check-ubsan:
	$(MAKE) --no-print-directory BUILD=ubsan test
# TSan: every unit test (the threaded ones are what it is for). Criterion's
# runner cannot start under TSan (see TSAN_SHIM above), so without a shim this
# fails at once with the reason instead of after a sanitized build.
check-tsan:
	@if [ -z "$(THREAD_TESTS)" ]; then echo "check-tsan: no test/test_*thread*.c yet"; exit 0; fi; \
	if [ ! -f $(TSAN_SHIM)/criterion/criterion.h ]; then \
	    echo "check-tsan: Criterion cannot run under ThreadSanitizer (its runner maps a shared" \
	         "arena at addresses TSan reserves); add a drop-in $(TSAN_SHIM)/criterion/criterion.h" \
	         "(+ $(TSAN_SHIM)/*.c) and tsan builds use it"; \
	    exit 1; \
	fi
	$(MAKE) --no-print-directory BUILD=tsan check-unit

# ---------------------------------------------------------------- generated table

.PHONY: sizeclasses
sizeclasses: $(MKSC)
	$(MKSC) src/sizeclasses.h

# ---------------------------------------------------------------- install

.PHONY: install
install: $(STATIC_LIB) $(SHARED_LIB) | deps-lib
	$(call install-cmds,$(DESTDIR),$(PREFIX),$(LIBDIR),$(INCLUDEDIR),$(PKGCONFIGDIR))

# ---------------------------------------------------------------- mini-lisp

.PHONY: run bench-lisp
run: deps-run all
	@if [ -z "$(LISP_BIN)" ]; then echo "run: no examples/mini-lisp/*.c yet"; exit 1; fi
	$(LISP_BIN) $(LISP_DIR)/demo.lisp

bench-lisp: $(LISP_BIN)
	@if [ -z "$(LISP_BIN)" ] || [ ! -f $(LISP_DIR)/bench.sh ]; then \
	    echo "bench-lisp: skipped (needs examples/mini-lisp/*.c and $(LISP_DIR)/bench.sh)"; \
	else \
	    bash $(LISP_DIR)/bench.sh $(LISP_BIN); \
	fi

# libFuzzer target fuzz/fuzz_heap.c (clang + libclang-rt-14-dev), see fuzz/README.md.
FUZZ_SECONDS ?= 60
.PHONY: fuzz check-fuzz
fuzz: | deps-lib
	fuzz/run.sh $(FUZZ_SECONDS)
# CI smoke: 20 seconds from the committed seed corpus.
check-fuzz: | deps-lib
	fuzz/run.sh 20

# Benchmarks against malloc peers, Boehm GC and Go; results in bench/results/.
# `make bench QUICK=1` for a short run (about 2 minutes).
.PHONY: bench
bench:
	bench/run.sh

# ---------------------------------------------------------------- housekeeping

.PHONY: format-check format clean help
format-check:
	@command -v clang-format >/dev/null || \
	    { echo "format-check: clang-format is missing (apt-get install clang-format)"; exit 1; }
	clang-format --dry-run -Werror $(FORMAT_FILES)

format:
	clang-format -i $(FORMAT_FILES)

clean:
	rm -rf build

help:
	@echo "targets:"
	@echo "  all (default)      build/libgcheap.a, libgcheap.so, gcheap.pc, bin/mini-lisp, tools/gctrace-summary"
	@echo "  test               check-sizeclasses, check-exports, unit tests, mini-lisp suite, check-tools, check-bench, check-install"
	@echo "  check-unit         the Criterion test binaries only (TESTS=\"test_x ...\" to choose)"
	@echo "  check-lisp         the mini-lisp conformance tests and example programs"
	@echo "  check-sizeclasses  src/sizeclasses.h matches tools/mksizeclasses.c"
	@echo "  check-tools        tools/gctrace-summary on a hand-checked sample and a real trace"
	@echo "  check-bench        the benchmark programs build warning-free and agree at small sizes"
	@echo "  check-exports      the shared library exports only gc_*"
	@echo "  check-install      install into a temporary prefix and build a program against it"
	@echo "  check check-asan check-ubsan check-tsan   the suite in BUILD=check/asan/ubsan/tsan"
	@echo "  sizeclasses        regenerate src/sizeclasses.h"
	@echo "  install            PREFIX=$(PREFIX) DESTDIR=$(DESTDIR)"
	@echo "  run                build mini-lisp and run examples/mini-lisp/demo.lisp"
	@echo "  bench-lisp         run examples/mini-lisp/bench.sh"
	@echo "  bench              bench/run.sh: gcheap vs glibc, mimalloc, jemalloc, tcmalloc, Boehm GC, Go (QUICK=1: short)"
	@echo "  check-valgrind     memcheck clean on a working host; reports a read after sweep and an uninit byte"
	@echo "  fuzz check-fuzz    libFuzzer run for FUZZ_SECONDS (60) s; check-fuzz: 20 s smoke"
	@echo "  format-check format clean"
	@echo "modes: BUILD=$(MODES) (now $(BUILD), output in $(B)/)"

# ================================================================ reliability: Valgrind
# (appended block: VALGRIND knob and check-valgrind; nothing above depends on it)
#
# VALGRIND=1 compiles gcheap with GCH_VALGRIND=1 in whatever mode is built:
# objects are announced to memcheck as they are handed out and swept
# (src/internal.h), so a host reading a swept object gets an "Invalid read".
# The objects go to the mode's usual directory (the flag stamps rebuild them
# when VALGRIND changes).
#
# check-valgrind builds its own copy of the library, -O1 -g -DGCH_DEBUG=1
# -DGCH_VALGRIND=1, in $(VG_B)/ (whatever BUILD says), links
# test/valgrind/vg_smoke.c against it and runs test/valgrind/run.sh: the
# smoke program must be clean under memcheck, and its "swept" run must be
# reported.
VALGRIND ?= 0
ifneq ($(VALGRIND),0)
override CPPFLAGS += -DGCH_VALGRIND=$(VALGRIND)
endif

VG_B := build$(CC_DIR)/valgrind
# DWARF 4: Valgrind 3.19 cannot read the DWARF 5 that clang emits by default.
VG_COMPILE = $(CC) -D_GNU_SOURCE -I. -DGCH_DEBUG=1 -DGCH_VALGRIND=1 $(AO_CFLAGS) \
             -std=c11 $(WARN) -pthread -O1 -g -gdwarf-4 -MMD -MP
VG_LIB_OBJS := $(LIB_SRCS:%.c=$(VG_B)/obj/%.o)

$(VG_B)/stamp: FORCE | deps-lib
	$(call write-if-changed,$(VG_COMPILE) | $(AO_LIBS))

$(VG_B)/obj/src/%.o: src/%.c $(VG_B)/stamp
	@mkdir -p $(@D)
	$(VG_COMPILE) -fvisibility=hidden -c -o $@ $<

$(VG_B)/libgcheap.a: $(VG_LIB_OBJS)
	@rm -f $@
	$(AR) rcs $@ $(VG_LIB_OBJS)

$(VG_B)/vg_smoke: test/valgrind/vg_smoke.c $(VG_B)/libgcheap.a $(VG_B)/stamp
	$(VG_COMPILE) -o $@ $< $(VG_B)/libgcheap.a $(AO_LIBS)

-include $(wildcard $(VG_B)/obj/src/*.d $(VG_B)/*.d)

.PHONY: check-valgrind
check-valgrind: $(VG_B)/vg_smoke
	@bash test/valgrind/run.sh $(VG_B)/vg_smoke

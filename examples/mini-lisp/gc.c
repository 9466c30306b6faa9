// gc.c - mini-lisp's side of the collector: the allocation wrapper, the roots
// and trace hooks, the statistics, and the C stack limit.
//
// gcheap does the collecting: it decides when (GOGC pacing), keeps the mark
// bits, drains its own mark stack and sweeps. What only the interpreter knows
// is told through two hooks:
//   - mark_roots (gc_set_roots) marks every root: the root frames, the value
//     stack, the symbol table, Nil and True. See "THE ROOTING RULE" in lisp.h.
//   - trace (gc_set_trace) marks the pointer fields of one object, chosen by
//     its type tag. gcheap calls it once per newly marked object that was
//     allocated with has_ptrs, from its own loop, so marking a list of ten
//     million cells does not recurse in C.
//   - generational mode is on (unless MINILISP_GENERATIONAL=0): most cycles
//     are minor, marking only what was allocated since the last cycle; the
//     interpreter's half of that bargain is the write barrier after every
//     store into an older object (THE BARRIER RULE in lisp.h).
// Integers, primitives, Nil, True and symbol names are allocated with
// has_ptrs = false: gcheap never passes them to trace and keeps them in
// spans it does not scan (integers and short names are "tiny" objects, packed
// into shared 16-byte blocks).
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "lisp.h"

struct roots *root_top;
Obj **vstack;
size_t vsp;
uintptr_t stack_limit;
Obj *Nil, *True;
bool always_gc;

// The largest heap_alloc seen: sampled when each collection begins (the heap
// is at its fullest just before it is collected) and when the figure is
// printed.
static uint64_t peak_heap;

static void sample_peak(void)
{
    gc_stats st;
    gc_get_stats(&st);
    if (st.heap_alloc > peak_heap)
        peak_heap = st.heap_alloc;
}

static void trace(void *p, size_t size, void *ctx)
{
    Obj *o = p;
    (void)size;
    (void)ctx;
    switch (o->type) {
    case TCELL:
        gc_mark(o->car);
        gc_mark(o->cdr);
        return;
    case TSYMBOL:
        gc_mark(o->value);
        gc_mark(o->name);
        return;
    case TFUNCTION:
    case TMACRO:
        gc_mark(o->params);
        gc_mark(o->body);
        gc_mark(o->env);
        return;
    case TENV:
        gc_mark(o->up);
        gc_mark(o->names);
        gc_mark(o->defs);
        for (int i = 0; i < o->num; i++)
            gc_mark(o->slots[i]);
        return;
    }
    // A live object with a tag we do not know is memory that was freed (with
    // poison=1 its tag reads 0xdbdbdbdb) or never initialised: a rooting bug.
    fprintf(stderr, "mini-lisp: trace: bad object %p, tag %#x\n", p, o->type);
    abort();
}

static void mark_roots(void *ctx)
{
    (void)ctx;
    sample_peak();
    for (struct roots *r = root_top; r; r = r->prev)
        for (int i = 0; i < r->n; i++)
            gc_mark(*r->var[i]);
    for (size_t i = 0; i < vsp; i++)
        gc_mark(vstack[i]);
    mark_symbols();
    gc_mark(Nil);
    gc_mark(True);
}

// Every allocation of a Lisp object goes through here. The memory comes back
// zeroed, so the fields of a new object are NULL until the caller fills them
// (trace and mark_roots accept NULL).
Obj *alloc_obj(uint32_t type, size_t size, bool has_ptrs)
{
    if (always_gc)
        gc_collect();
    Obj *o = gc_alloc(size, has_ptrs);
    if (!o)
        lisp_error("out of memory");
    o->type = type;
    return o;
}

// For symbol names: bytes with no pointers and no tag, not zeroed
// (gc_alloc_uninit): the caller writes every byte.
void *alloc_bytes(size_t size)
{
    if (always_gc)
        gc_collect();
    void *p = gc_alloc_uninit(size);
    if (!p)
        lisp_error("out of memory");
    return p;
}

// The usable C stack: from pthread_getattr_np (glibc reports the main
// thread's stack from RLIMIT_STACK and the mappings below it), else from
// getrlimit. Capped, because an unlimited stack would let a runaway
// recursion eat gigabytes before it is stopped. The margin must hold
// whatever runs below the deepest check_stack: a collection, the error path's
// vfprintf, libedit.
#define STACK_CAP    ((uintptr_t)1 << 30)
#define STACK_MARGIN ((uintptr_t)256 << 10)

static void init_stack_limit(void)
{
    uintptr_t here = (uintptr_t)__builtin_frame_address(0);
    uintptr_t low = 0;
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        void *addr;
        size_t size;
        if (pthread_attr_getstack(&attr, &addr, &size) == 0)
            low = (uintptr_t)addr;
        pthread_attr_destroy(&attr);
    }
    if (low == 0 || low >= here) {
        struct rlimit rl;
        uintptr_t size = 8u << 20;
        if (getrlimit(RLIMIT_STACK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
            size = rl.rlim_cur;
        low = size < here ? here - size : 0;
    }
    if (here - low > STACK_CAP)
        low = here - STACK_CAP;
    stack_limit = low + STACK_MARGIN;
}

// MINILISP_ALWAYS_GC (non-empty): collect before every allocation, and have
// gcheap poison what it frees, so that an object the interpreter forgot to
// root is garbage (0xDB bytes) at its next use, not stale but plausible data.
// gcheap reads GCHEAP_DEBUG once, at the first call into it, so "poison=1" is
// appended to whatever the user put there before any gc_* call.
static void enable_always_gc(void)
{
    const char *old = getenv("GCHEAP_DEBUG");
    if (old && *old) {
        size_t n = strlen(old);
        char *s = malloc(n + sizeof ",poison=1");
        if (!s)
            abort();
        memcpy(s, old, n);
        memcpy(s + n, ",poison=1", sizeof ",poison=1");
        setenv("GCHEAP_DEBUG", s, 1);
        free(s);
    } else {
        setenv("GCHEAP_DEBUG", "poison=1", 1);
    }
    always_gc = true;
}

void gc_init(void)
{
    const char *always = getenv("MINILISP_ALWAYS_GC");
    if (always && *always)
        enable_always_gc();
    init_stack_limit();
    vstack = calloc(VSTACK_SIZE, sizeof *vstack);
    if (!vstack)
        abort();
    const char *gen = getenv("MINILISP_GENERATIONAL");
    gc_set_generational(!(gen && strcmp(gen, "0") == 0));
    gc_set_trace(trace, NULL);
    gc_set_roots(mark_roots, NULL);
    // From here on any allocation may collect, so Nil and True are marked by
    // mark_roots directly.
    // 8 bytes, though only the tag is used: a tiny object is aligned to 8
    // only if its size is a multiple of 8, and a struct Obj * must be.
    Nil = alloc_obj(TNIL, offsetof(Obj, car), false);
    True = alloc_obj(TTRUE, offsetof(Obj, car), false);
}

// One line for (gc-summary): "gc: 12 collections (9 minor), 48.2 MB
// allocated, peak heap 3.1 MB".
void gc_summary_line(char *buf, size_t len)
{
    gc_stats st;
    sample_peak();
    gc_get_stats(&st);
    snprintf(buf, len, "gc: %llu collections (%llu minor), %.1f MB allocated, peak heap %.1f MB",
             (unsigned long long)st.num_gc, (unsigned long long)st.num_minor_gc,
             st.total_alloc / 1048576.0, peak_heap / 1048576.0);
}

// MINILISP_STATS=1: one line on stderr at exit, read by bench.sh.
void print_stats_at_exit(void)
{
    gc_stats st;
    struct rusage ru;
    sample_peak();
    gc_get_stats(&st);
    getrusage(RUSAGE_SELF, &ru);
    fflush(stdout);
    fprintf(stderr,
            "minilisp-stats: mallocs=%llu num_gc=%llu num_minor_gc=%llu total_alloc=%llu "
            "peak_heap=%llu peak_rss_kb=%ld\n",
            (unsigned long long)st.mallocs, (unsigned long long)st.num_gc,
            (unsigned long long)st.num_minor_gc, (unsigned long long)st.total_alloc,
            (unsigned long long)peak_heap, ru.ru_maxrss);
}

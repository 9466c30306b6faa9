// test_reliability_pointers.c: the issue "Reliability", part three (see
// test_reliability.c): hostile pointers (stack, globals, gcheap's own
// metadata, free slots, interiors) given to gc_mark, gc_base and gc_size
// never crash and match only live objects.
//
// White-box where it must be (src/internal.h, through whitebox.h). Each Test
// runs in its own process (Criterion forks), so limits and hooks never leak
// from one to another; tests that need a fresh library or must watch a
// process die use forked children.
#include "whitebox.h"

// ---------------------------------------------------------- bad pointers

struct range {
    uintptr_t lo, hi; // [gc_base, gc_base + gc_size) of a live object
    bool marked;      // by this test, in the mark phase under test
};

static struct range *ranges;
static size_t nranges;

static int cmp_range(const void *a, const void *b)
{
    uintptr_t x = ((const struct range *)a)->lo, y = ((const struct range *)b)->lo;
    return x < y ? -1 : x > y;
}

// The live object containing p, or NULL.
static struct range *range_find(uintptr_t p)
{
    size_t lo = 0, hi = nranges;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ranges[mid].lo <= p)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0 || p >= ranges[lo - 1].hi)
        return NULL;
    return &ranges[lo - 1];
}

struct bp_obj {
    unsigned char *p;
    size_t size;
};
static struct bp_obj *bp_objs;
static size_t bp_nobjs;

// Allocated on a thread that then exits: no cache keeps a current tiny
// block, so exactly the objects this test marks survive.
static void *bp_alloc_thread(void *arg)
{
    uint64_t *seed = arg;
    size_t n = 0;
    for (int i = 0; i < 3000; i++) {
        size_t size = 1 + rng_below(seed, 15);
        bp_objs[n++] = (struct bp_obj){gc_alloc(size, false), size};
    }
    for (int i = 0; i < 20000; i++) {
        size_t size = 16 + rng_below(seed, rng_below(seed, 4) == 0 ? 32768 - 16 : 1024);
        bp_objs[n++] = (struct bp_obj){gc_alloc(size, rng_below(seed, 2) == 0), size};
    }
    for (int i = 0; i < 60; i++) {
        size_t size = 32769 + rng_below(seed, 300000);
        bp_objs[n++] = (struct bp_obj){gc_alloc(size, rng_below(seed, 2) == 0), size};
    }
    bp_nobjs = n;
    return NULL;
}

struct meta {
    uintptr_t addr;
    size_t len;
};

static struct meta *metas;
static size_t nmetas, metas_cap;

static void meta_add(const void *addr, size_t len)
{
    if (addr == NULL || len == 0)
        return;
    if (nmetas == metas_cap) {
        metas_cap = metas_cap ? 2 * metas_cap : 1024;
        metas = realloc(metas, metas_cap * sizeof *metas);
        cr_assert_not_null(metas);
    }
    metas[nmetas++] = (struct meta){(uintptr_t)addr, len};
}

static void meta_collect(void)
{
    for (size_t i = 0; i < nranges; i++) {
        struct mspan *s = gch_span_of(ranges[i].lo);
        cr_assert_not_null(s, "no span for live object %#jx", (uintmax_t)ranges[i].lo);
        size_t words = gch_bitmap_words(s->nelems);
        meta_add(s, sizeof *s);
        meta_add(s->gcmark_bits, words * sizeof(AO_t));
        meta_add(s->alloc_bits, words * sizeof(AO_t));
        meta_add(gch_arena_of(ranges[i].lo), sizeof(struct heap_arena));
    }
    struct mcache *c = gch_tls_owner;
    cr_assert_not_null(c, "the marking thread has a cache");
    meta_add(c, sizeof *c);
    meta_add(c->work.stack, c->work.cap * sizeof(void *));
    meta_add(&gch_mheap, sizeof gch_mheap);
    for (size_t i = 0; i < (1u << GCH_ARENA_L1_BITS); i++)
        meta_add((void *)AO_load(&gch_mheap.arenas_l1[i]), sizeof(AO_t) << GCH_ARENA_L2_BITS);
    meta_add(gch_mheap.all_arenas, gch_mheap.arenas_cap * sizeof(struct heap_arena *));
    meta_add(&gch_gc, sizeof gch_gc);
    meta_add(&gch_stats, sizeof gch_stats);
    meta_add(gch_central, sizeof gch_central);
    meta_add(&gch_empty_span, sizeof gch_empty_span);
    meta_add(&gch_empty_mcache, sizeof gch_empty_mcache);
}

static int bp_static_var;

// One hostile or random address of category cat.
static uintptr_t bp_address(uint64_t *seed, int cat, void *stack_var, void *heap_var)
{
    uint64_t r = rng_next(seed);
    switch (cat) {
    case 0: // any 64-bit value
        return (uintptr_t)r;
    case 1: // kernel half
        return (uintptr_t)(0xffff800000000000ull | r);
    case 2: { // non-canonical, or a live pointer with high tag bits
        if (r & 1) {
            uint64_t top = 1 + rng_below(seed, 0xfffe); // neither all zero nor all ones
            return (uintptr_t)((r >> 1 & 0x0000ffffffffffffull) | top << 48);
        }
        struct range *g = &ranges[rng_below(seed, nranges)];
        return g->lo | (uintptr_t)1 << (47 + rng_below(seed, 17));
    }
    case 3: { // anywhere in a heap arena: objects, free pages, uncommitted pages
        struct heap_arena *ha = gch_mheap.all_arenas[rng_below(seed, gch_mheap.narenas)];
        return ha->base + (uintptr_t)rng_below(seed, GCH_ARENA_BYTES);
    }
    case 4: { // around a live object
        struct range *g = &ranges[rng_below(seed, nranges)];
        return g->lo - 64 + (uintptr_t)rng_below(seed, g->hi - g->lo + 128);
    }
    case 5: { // one past the end, the last byte, one before the start
        struct range *g = &ranges[rng_below(seed, nranges)];
        uintptr_t which[3] = {g->hi, g->hi - 1, g->lo - 1};
        return which[rng_below(seed, 3)];
    }
    case 6: { // inside a free slot (an object the sweep freed) or a live one
        struct bp_obj *o = &bp_objs[rng_below(seed, bp_nobjs)];
        return (uintptr_t)o->p + (uintptr_t)rng_below(seed, o->size);
    }
    case 7: { // inside gcheap's metadata
        struct meta *m = &metas[rng_below(seed, nmetas)];
        return m->addr + (uintptr_t)rng_below(seed, m->len);
    }
    case 8: { // misaligned, inside a live object
        struct range *g = &ranges[rng_below(seed, nranges)];
        return g->lo + ((uintptr_t)rng_below(seed, g->hi - g->lo) | 1);
    }
    default: { // low addresses, stack, static data, code, malloc
        uintptr_t which[5] = {(uintptr_t)rng_below(seed, 1 << 16), (uintptr_t)stack_var,
                              (uintptr_t)&bp_static_var, (uintptr_t)&bp_address,
                              (uintptr_t)heap_var};
        return which[rng_below(seed, 5)] + (uintptr_t)rng_below(seed, 64);
    }
    }
}

Test(reliability, hostile_pointers_never_crash_and_match_only_live_objects)
{
    uint64_t seed = test_seed();
    bp_objs = malloc(30000 * sizeof *bp_objs);
    cr_assert_not_null(bp_objs);
    run_in_thread(bp_alloc_thread, &seed);
    for (size_t i = 0; i < bp_nobjs; i++)
        cr_assert_not_null(bp_objs[i].p, "allocation %zu (%zu bytes)", i, bp_objs[i].size);

    // Keep about half; the rest become free slots.
    ranges = malloc(bp_nobjs * sizeof *ranges);
    cr_assert_not_null(ranges);
    for (size_t i = 0; i < bp_nobjs; i++) {
        if (rng_below(&seed, 2) == 0)
            continue;
        uintptr_t b = (uintptr_t)gc_base(bp_objs[i].p);
        CHECK(b != 0, "gc_base of fresh object %zu is NULL", i);
        ranges[nranges++] = (struct range){b, b + gc_size(bp_objs[i].p), false};
        gc_mark(bp_objs[i].p);
    }
    gc_sweep();
    gc_mark(NULL); // a new mark phase; sweeping finished
    cr_assert_eq(AO_load(&gch_gc.phase), GCH_PHASE_MARK);
    // Tiny objects share blocks: one range per block.
    qsort(ranges, nranges, sizeof *ranges, cmp_range);
    size_t m = 0;
    for (size_t i = 0; i < nranges; i++) {
        if (m > 0 && ranges[m - 1].lo == ranges[i].lo)
            continue;
        CHECK(m == 0 || ranges[m - 1].hi <= ranges[i].lo, "live objects %#jx and %#jx overlap",
              (uintmax_t)ranges[m - 1].lo, (uintmax_t)ranges[i].lo);
        ranges[m++] = ranges[i];
    }
    nranges = m;
    for (size_t i = 0; i < nranges; i++)
        CHECK_PTR_EQ(gc_base((void *)ranges[i].lo), (void *)ranges[i].lo,
                     "gc_base of kept object after the sweep");
    // The first mark makes this thread's cache (whose address is tested).
    cr_assert(gc_mark((void *)ranges[0].lo), "first gc_mark of a live object");
    ranges[0].marked = true;
    meta_collect();

    int stack_var = 0;
    void *heap_var = malloc(64);
    size_t n = scaled(1000000, 100000), per_cat[10] = {0}, live_hits = 0;
    double t0 = now_seconds();
    for (size_t i = 0; i < n; i++) {
        int cat = (int)(i % 10);
        uintptr_t a = bp_address(&seed, cat, &stack_var, heap_var);
        struct range *g = range_find(a);
        void *want = g != NULL ? (void *)g->lo : NULL;
        void *got = gc_base((void *)a);
        if (got != want)
            CHECK_PTR_EQ(got, want, "gc_base(%#jx) (category %d)", (uintmax_t)a, cat);
        size_t size = gc_size((void *)a);
        if (size != (g != NULL ? g->hi - g->lo : 0))
            CHECK_EQ(size, g != NULL ? g->hi - g->lo : 0, "gc_size(%#jx) (category %d)",
                     (uintmax_t)a, cat);
        bool marked = gc_mark((void *)a);
        if (g == NULL) {
            CHECK(!marked, "gc_mark(%#jx) (category %d) returned true outside every live object",
                  (uintmax_t)a, cat);
        } else {
            CHECK_EQ(marked, !g->marked, "gc_mark(%#jx) (category %d) into object %#jx, %s marked",
                     (uintmax_t)a, cat, (uintmax_t)g->lo, g->marked ? "already" : "not yet");
            g->marked = true;
            live_hits++;
        }
        per_cat[cat]++;
    }
    double dt = now_seconds() - t0;
    free(heap_var);
    cr_log_info("hostile pointers: %zu tried with gc_base, gc_size and gc_mark (%zu inside live "
                "objects) in %.2f s; %zu live objects, %zu metadata ranges",
                n, live_hits, dt, nranges, nmetas);

    // The sweep keeps exactly what this test marked.
    gc_sweep();
    size_t survivors = 0, marked = 0;
    for (size_t i = 0; i < nranges; i++) {
        void *want = ranges[i].marked ? (void *)ranges[i].lo : NULL;
        CHECK_PTR_EQ(gc_base((void *)ranges[i].lo), want, "object %#jx after the sweep (%s)",
                     (uintmax_t)ranges[i].lo, ranges[i].marked ? "marked" : "not marked");
        survivors += gc_base((void *)ranges[i].lo) != NULL;
        marked += ranges[i].marked;
    }
    gc_mark(NULL); // finishes the sweep: the statistics are exact
    CHECK_EQ(get_stats().heap_objects, marked, "heap_objects after sweeping (objects marked)");
    CHECK_EQ(survivors, marked, "survivors of the sweep");
    CHECK_HEAP("after the hostile-pointer mark phase");
    free(ranges);
    free(bp_objs);
    free(metas);
}

// test_gen.c: black-box tests of generational mode (gcheap.h, section
// "generations"): which cycles are minor, what a minor cycle traces and
// frees, the write barrier (also on lazily swept spans and from several
// threads), large objects, pacing back to a major cycle, and hosts that
// mark by hand.
//
// Each Test runs in its own forked process. The roots hook is set only
// inside collect(), so gc_alloc never collects on its own: every cycle is
// one the test asked for, and the counters can be compared exactly.
#include "util.h"

#define OBJ_MAGIC 0x67656e6f626a6563ULL

// Every scan object: a header the trace hook checks and counts in, then
// nslots pointers the trace hook marks.
struct obj {
    uint64_t magic;
    uint32_t id;
    uint32_t traced; // trace hook calls since the test last reset it
    uint32_t nslots;
    uint32_t pad;
    struct obj *slot[];
};
_Static_assert(sizeof(struct obj) == 24, "a 24-byte header");

enum { NROOTS = 8 };
static struct obj *roots[NROOTS];
static size_t traced_total, trace_bad;
static const void *watch; // an address the trace hook must never receive
static size_t watch_hits;

static size_t obj_bytes(size_t nslots)
{
    return sizeof(struct obj) + nslots * sizeof(struct obj *);
}

static struct obj *obj_new(size_t nslots, bool has_ptrs, uint32_t id)
{
    struct obj *o = gc_alloc(obj_bytes(nslots), has_ptrs);
    cr_assert_not_null(o, "gc_alloc(%zu)", obj_bytes(nslots));
    o->magic = OBJ_MAGIC;
    o->id = id;
    o->nslots = (uint32_t)nslots;
    return o;
}

static void trace(void *p, size_t size, void *ctx)
{
    struct obj *o = p;
    (void)ctx;
    traced_total++;
    if (p == watch)
        watch_hits++;
    if (o->magic != OBJ_MAGIC || size != gc_size(p) || size < obj_bytes(o->nslots)) {
        trace_bad++;
        return;
    }
    o->traced++;
    for (uint32_t i = 0; i < o->nslots; i++)
        gc_mark(o->slot[i]);
}

static void mark_roots(void *ctx)
{
    (void)ctx;
    for (int i = 0; i < NROOTS; i++)
        gc_mark(roots[i]);
}

// Runs one whole cycle with the roots hook fn; returns true if it was minor.
// The last collect_with's gc_collect ran a minor cycle, then a major one.
static bool last_collect_ran_two;

static bool collect_with(gc_roots_fn fn)
{
    gc_stats a = get_stats();
    gc_set_roots(fn, NULL);
    gc_collect();
    gc_set_roots(NULL, NULL);
    gc_stats b = get_stats();
    // One cycle, or (gcheap.h) a minor one that left the heap at its goal
    // followed by a major one.
    bool two = b.num_gc == a.num_gc + 2;
    CHECK(b.num_gc == a.num_gc + 1 || (two && b.num_minor_gc == a.num_minor_gc + 1),
          "num_gc %llu -> %llu, num_minor_gc %llu -> %llu after one gc_collect",
          (unsigned long long)a.num_gc, (unsigned long long)b.num_gc,
          (unsigned long long)a.num_minor_gc, (unsigned long long)b.num_minor_gc);
    CHECK_CMP(b.num_minor_gc - a.num_minor_gc, <=, 1, "num_minor_gc growth in one gc_collect");
    CHECK_CMP(b.num_minor_gc, <=, b.num_gc, "num_minor_gc counts a subset of num_gc");
    CHECK_EQ(trace_bad, 0, "trace hook calls with a bad object or size");
    last_collect_ran_two = two;
    return !two && b.num_minor_gc == a.num_minor_gc + 1;
}

static bool collect(void)
{
    return collect_with(mark_roots);
}

static void check_alive(const struct obj *o, uint32_t id, const char *what)
{
    CHECK_PTR_EQ(gc_base(o), o, "gc_base of %s id %u", what, id);
    CHECK(o->magic == OBJ_MAGIC && o->id == id, "contents of %s id %u (read id %u)", what, id,
          o->id);
}

static void check_freed(const struct obj *o, const char *what, size_t i)
{
    CHECK_PTR_EQ(gc_base(o), NULL, "gc_base of %s %zu", what, i);
}

// n scan nodes with nslots slots each, node i -> node i-1 through slot 0
// (stored right after node i is allocated: no barrier needed). Returns the
// malloc'd array of nodes; the head is the last one.
static struct obj **make_list(size_t n, size_t nslots, uint32_t id0)
{
    struct obj **v = malloc(n * sizeof *v);
    cr_assert_not_null(v);
    for (size_t i = 0; i < n; i++) {
        v[i] = obj_new(nslots, true, id0 + (uint32_t)i);
        v[i]->slot[0] = i > 0 ? v[i - 1] : NULL;
    }
    return v;
}

static void reset_traced(struct obj **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        v[i]->traced = 0;
    traced_total = 0;
}

// Unreachable young scan objects, so that a minor cycle frees most of
// what it was given.
static void make_garbage(size_t n)
{
    for (size_t i = 0; i < n; i++)
        obj_new(125, true, 0xdead); // 1024 bytes
}

static void gen_setup(void)
{
    gc_set_trace(trace, NULL);
    CHECK(!gc_set_generational(true), "generational mode was on before the test turned it on");
}

// ------------------------------------------------------------ the switch

Test(gen, set_generational_returns_the_previous_setting)
{
    CHECK(!gc_set_generational(true), "default setting: expected off");
    CHECK(gc_set_generational(true), "after turning it on: expected on");
    CHECK(gc_set_generational(false), "after turning it on twice: expected on");
    CHECK(!gc_set_generational(false), "after turning it off: expected off");
    CHECK(!gc_set_generational(true), "after turning it off twice: expected off");
}

// ------------------------------------------------ what a minor cycle does

Test(gen, minor_cycles_trace_only_young_objects)
{
    enum { N = 5000, NY = 1000 };
    gen_setup();
    struct obj **old = make_list(N, 2, 0);
    roots[0] = old[N - 1];
    CHECK(!collect(), "the first cycle after turning generational mode on must be major");
    for (size_t i = 0; i < N; i++)
        CHECK_EQ(old[i]->traced, 1, "major cycle: trace calls of list node %zu", i);
    reset_traced(old, N);

    CHECK(collect(), "second cycle: expected minor");
    CHECK_EQ(traced_total, 0, "minor cycle with no young object: trace hook calls");
    for (size_t i = 0; i < N; i++)
        check_alive(old[i], (uint32_t)i, "old list node");

    // Young: a list from a root, garbage, and one object stored into an
    // old node without a barrier (the contract says it is then freed).
    struct obj **young = make_list(NY, 1, N);
    roots[1] = young[NY - 1];
    struct obj **junk = make_list(3 * NY, 1, 2 * N);
    struct obj *unbarriered = obj_new(1, true, 77);
    old[17]->slot[1] = unbarriered;
    reset_traced(old, N);
    CHECK(collect(), "third cycle: expected minor");
    for (size_t i = 0; i < N; i++) {
        CHECK_EQ(old[i]->traced, 0, "minor cycle: trace calls of old list node %zu", i);
        check_alive(old[i], (uint32_t)i, "old list node");
    }
    for (size_t i = 0; i < NY; i++) {
        CHECK_EQ(young[i]->traced, 1, "minor cycle: trace calls of young reachable node %zu", i);
        check_alive(young[i], N + (uint32_t)i, "young reachable node");
    }
    for (size_t i = 0; i < 3 * NY; i++)
        check_freed(junk[i], "young garbage node", i);
    CHECK_PTR_EQ(gc_base(unbarriered), NULL,
                 "young object stored into an old one without gc_write_barrier survived a minor "
                 "cycle (was the old object traced?)");
    CHECK_EQ(traced_total, NY, "minor cycle: trace hook calls (the young reachable nodes)");
    old[17]->slot[1] = NULL;
    free(old);
    free(young);
    free(junk);
}

Test(gen, minor_cycle_frees_young_garbage_and_keeps_young_roots)
{
    static const size_t sizes[] = {32, 64, 256, 1024, 4096, 20000, 40000, 100000};
    enum { NS = sizeof sizes / sizeof sizes[0], PER = 20 };
    gen_setup();
    roots[0] = obj_new(4, true, 1); // old from the first cycle on
    collect();
    CHECK(collect(), "second cycle: expected minor");
    gc_stats before = get_stats();

    struct obj *kids[NS * PER], *junk[NS * PER];
    uint64_t kept_bytes = 0;
    for (size_t i = 0; i < NS * PER; i++) {
        size_t sz = sizes[i % NS];
        bool scan = i % 2 == 0;
        kids[i] = obj_new((sz - sizeof(struct obj)) / 8, scan, (uint32_t)i);
        junk[i] = obj_new((sz - sizeof(struct obj)) / 8, scan, (uint32_t)i);
        if (!scan) // noscan objects are never traced: their slots are data
            memset(kids[i]->slot, 0xA5, sz - sizeof(struct obj));
        kept_bytes += expected_gc_size(sz);
    }
    struct obj *holder = obj_new(NS * PER, true, 2);
    for (size_t i = 0; i < NS * PER; i++) // initialising stores: no barrier
        holder->slot[i] = kids[i];
    roots[1] = holder;
    kept_bytes += expected_gc_size(obj_bytes(NS * PER));
    CHECK(collect(), "third cycle: expected minor");
    gc_stats after = get_stats();
    for (size_t i = 0; i < NS * PER; i++) {
        check_alive(kids[i], (uint32_t)i, "young object reachable from a root");
        check_freed(junk[i], "young garbage object", i);
    }
    CHECK_EQ(after.heap_alloc, before.heap_alloc + kept_bytes,
             "heap_alloc after a minor cycle: before it plus the young survivors");
    CHECK_EQ(after.frees - before.frees, NS * PER, "frees in a minor cycle (the young garbage)");
}

Test(gen, barrier_keeps_young_objects_stored_into_old_ones)
{
    gen_setup();
    struct obj *o = obj_new(4, true, 1), *bystander = obj_new(4, true, 2);
    roots[0] = o;
    roots[1] = bystander;
    collect();
    CHECK(collect(), "second cycle: expected minor");
    CHECK(!gc_mark(o), "gc_mark of an old object in a minor cycle returned true");
    gc_sweep(); // a minor cycle from gc_mark: old objects stay
    check_alive(o, 1, "old object after a minor gc_mark + gc_sweep cycle");
    check_alive(bystander, 2, "old object the host did not mark, after a minor cycle");

    struct obj *y = obj_new(2, true, 10);
    o->slot[0] = y;
    gc_write_barrier(o);
    struct obj *z = obj_new(0, true, 11); // y's child, stored after an allocation
    y->slot[0] = z;
    gc_write_barrier(y);
    struct obj *n = obj_new(0, false, 12); // a noscan child
    y->slot[1] = n;
    gc_write_barrier(y);
    make_garbage(64);
    o->traced = bystander->traced = 0;
    CHECK(collect(), "cycle after the barrier: expected minor");
    check_alive(y, 10, "young object stored into an old one");
    check_alive(z, 11, "young child of that young object");
    check_alive(n, 12, "young noscan child of that young object");
    CHECK_CMP(o->traced, >=, 1, "trace calls of the old object written since the last cycle");
    CHECK_EQ(bystander->traced, 0, "trace calls of an old object nobody wrote into");
    CHECK_EQ(y->traced, 1, "trace calls of the young object");
    CHECK_EQ(z->traced, 1, "trace calls of the young object's child");

    o->traced = y->traced = z->traced = 0;
    make_garbage(64);
    CHECK(collect(), "next cycle: expected minor");
    CHECK(o->traced == 0 && y->traced == 0 && z->traced == 0,
          "old objects traced in a minor cycle with no barrier: o %u, y %u, z %u", o->traced,
          y->traced, z->traced);
    check_alive(z, 11, "aged child");

    // Dropped old objects stay until a major cycle.
    o->slot[0] = NULL;
    gc_write_barrier(o);
    make_garbage(64);
    CHECK(collect(), "cycle after dropping y: expected minor");
    check_alive(y, 10, "old garbage after a minor cycle");
    check_alive(z, 11, "old garbage's child after a minor cycle");
    CHECK(gc_set_generational(false), "gc_set_generational(false): previous setting");
    CHECK(!collect(), "cycle after turning generational mode off: expected major");
    CHECK_PTR_EQ(gc_base(y), NULL, "old garbage y after a major cycle");
    CHECK_PTR_EQ(gc_base(z), NULL, "old garbage z after a major cycle");
    CHECK_PTR_EQ(gc_base(n), NULL, "old garbage n after a major cycle");
    check_alive(o, 1, "old root after a major cycle");
    CHECK(!collect(), "second cycle with generational mode off: expected major");
    CHECK_EQ(get_stats().num_minor_gc, 5, "num_minor_gc: the cycles above that were minor");
}

Test(gen, pacing_turns_a_full_old_generation_into_a_major_cycle)
{
    enum { N = 3072 }; // 3 MiB of 1 KiB nodes: most of the 4 MiB goal
    gc_set_gogc(100);
    gen_setup();
    collect(); // major, nearly nothing live: goal 4 MiB
    CHECK_EQ(get_stats().next_gc, 4u << 20, "next_gc after a major cycle of an empty heap");
    struct obj **v = make_list(N, 125, 0);
    roots[0] = v[N - 1];
    make_garbage(N + 128); // most young bytes die: a productive minor cycle
    CHECK(collect(), "cycle with no old object: expected minor");
    CHECK_EQ(get_stats().next_gc, 4u << 20, "next_gc after a minor cycle (the major one's)");

    // Now the old objects fill 3 MiB of the 4 MiB goal: less than half of
    // the room is left, so the next cycle must be major, and frees half.
    v[N / 2]->slot[0] = NULL;
    gc_write_barrier(v[N / 2]);
    CHECK(!collect(), "cycle with 3 MiB old of a 4 MiB goal: expected major");
    for (size_t i = 0; i < N / 2; i++)
        check_freed(v[i], "dropped old node after the major cycle", i);
    for (size_t i = N / 2; i < N; i++)
        check_alive(v[i], (uint32_t)i, "reachable node after the major cycle");
    make_garbage(256);
    CHECK(collect(), "cycle with 1.5 MiB old of a 4 MiB goal: expected minor");
    free(v);
}

Test(gen, unproductive_minor_cycles_back_off)
{
    // gcheap.h: a minor cycle that frees less than half of the young makes
    // the next 1, then 2, 4, ... cycles major. Here every young object
    // survives (a growing list), so every minor cycle is unproductive.
    gen_setup();
    roots[0] = obj_new(1, true, 0);
    CHECK(!collect(), "first cycle in generational mode: expected major");
    const char *want = "mMmMMmMMMMm";
    for (uint32_t c = 0; want[c] != '\0'; c++) {
        struct obj *n = obj_new(1, true, c + 1);
        n->slot[0] = roots[0];
        roots[0] = n;
        bool minor = collect();
        CHECK(minor == (want[c] == 'm'), "cycle %u of \"%s\": expected %s, got %s", c, want,
              want[c] == 'm' ? "minor" : "major", minor ? "minor" : "major");
    }
    // A productive minor cycle resets the backoff: garbage only.
    for (uint32_t c = 0; c < 8; c++)
        collect();
    make_garbage(64);
    CHECK(collect(), "after the backoff: expected minor");
    make_garbage(64);
    CHECK(collect(), "after a productive minor cycle: expected minor again");
    // Every node created survived: ids 11 (the head) down to 0.
    struct obj *n = roots[0];
    for (uint32_t id = 12; id-- > 0; n = n->slot[0])
        check_alive(n, id, "list node");
    CHECK_PTR_EQ(n, NULL, "the list's end");
}

Test(gen, gc_collect_runs_a_major_cycle_when_the_old_fill_the_goal)
{
    // gcheap.h: a minor cycle inside gc_collect that leaves the heap at or
    // above its goal is followed, in the same call, by a major one. Here
    // the minor cycle leaves 4.5 MiB against a 4 MiB goal.
    enum { N = 4608 };
    gc_set_gogc(100);
    gen_setup();
    collect();
    struct obj **v = make_list(N, 125, 0);
    roots[0] = v[N - 1];
    make_garbage(N + 512);
    CHECK(!collect(), "cycle leaving the heap over the goal: expected minor then major");
    CHECK(last_collect_ran_two, "gc_collect leaving the heap over the goal: expected two cycles");
    for (size_t i = 0; i < N; i++)
        check_alive(v[i], (uint32_t)i, "list node");
    CHECK_CMP(get_stats().next_gc, >=, (uint64_t)N * 1000 * 2,
              "next_gc after the major cycle (GOGC=100 of 4.5 MiB live)");
    roots[0] = v[N / 2]; // half of the list dies: old garbage
    CHECK(collect(), "cycle after dropping old objects: expected minor");
    CHECK(!last_collect_ran_two, "gc_collect with room left: expected one cycle");
    for (size_t i = 0; i < N; i++)
        check_alive(v[i], (uint32_t)i, "old list node (garbage kept by a minor cycle)");
    gc_set_generational(false);
    CHECK(!collect(), "generational mode off: expected major");
    for (size_t i = 0; i < N; i++) {
        if (i <= N / 2)
            check_alive(v[i], (uint32_t)i, "list node");
        else
            check_freed(v[i], "dropped list node", i);
    }
    free(v);
}

// ---------------------------------------------------------- the barrier

Test(gen, barrier_accepts_any_value)
{
    int on_stack = 0;
    void *heap = malloc(64);
    cr_assert_not_null(heap);
    struct obj *freed = obj_new(4, true, 9);
    struct obj *o = obj_new(4, true, 1);
    roots[0] = o;
    // Generational mode off: nothing to do, whatever the value.
    gc_set_trace(trace, NULL);
    gc_write_barrier(o);
    collect();
    uintptr_t junk[] = {0,      (uintptr_t)&on_stack, (uintptr_t)heap,  (uintptr_t)freed, 1,
                        0x1000, UINTPTR_MAX,          (uintptr_t)&junk, (uintptr_t)o + 5};
    enum { NJ = sizeof junk / sizeof junk[0] };
    for (size_t i = 0; i < NJ; i++)
        gc_write_barrier((const void *)junk[i]);
    CHECK(!collect(), "generational mode off: expected a major cycle");
    CHECK_EQ(get_stats().num_minor_gc, 0, "num_minor_gc with generational mode off");

    CHECK(!gc_set_generational(true), "gc_set_generational(true): previous setting");
    collect();
    make_garbage(64);
    CHECK(collect(), "second cycle in generational mode: expected minor");
    CHECK_PTR_EQ(gc_base(freed), NULL, "object freed by a cycle");
    o->traced = 0;
    traced_total = 0;
    watch = freed;
    for (size_t i = 0; i < NJ - 1; i++) // not o + 5: a barrier on o, which o allows
        gc_write_barrier((const void *)junk[i]);
    make_garbage(64);
    CHECK(collect(), "cycle after barriers on non-objects: expected minor");
    CHECK_EQ(traced_total, 0, "trace calls after barriers on non-objects only");
    CHECK_EQ(watch_hits, 0, "trace calls on the freed object after a barrier on it");
    check_alive(o, 1, "root");
    free(heap);
}

Test(gen, repeated_barriers_on_one_old_object)
{
    enum { NS = 512, ROUNDS = 4 };
    gen_setup();
    struct obj *o = obj_new(NS, true, 1);
    roots[0] = o;
    collect();
    struct obj *prev[NS] = {0};
    for (uint32_t r = 0; r < ROUNDS; r++) {
        struct obj *kid[NS];
        for (uint32_t i = 0; i < NS; i++) {
            kid[i] = obj_new(0, true, r * NS + i);
            o->slot[i] = kid[i];
            gc_write_barrier(o);
            gc_write_barrier(kid[i]); // young: nothing to do
        }
        for (int k = 0; k < 100; k++)
            gc_write_barrier((char *)o + (k * 8) % obj_bytes(NS));
        make_garbage(2 * NS);
        o->traced = 0;
        CHECK(collect(), "round %u: expected minor", r);
        CHECK_CMP(o->traced, >=, 1, "round %u: trace calls of the written old object", r);
        for (uint32_t i = 0; i < NS; i++) {
            check_alive(kid[i], r * NS + i, "young object stored into the old one");
            if (prev[i] != NULL) // the last round's, dropped: old garbage stays
                check_alive(prev[i], (r - 1) * NS + i, "old garbage of the round before");
            prev[i] = kid[i];
        }
    }
}

// The lazy path: cycles from gc_mark + gc_sweep; barriers on objects of
// spans that are not swept yet.
Test(gen, barrier_on_spans_not_yet_swept)
{
    enum { N = 200 };
    gen_setup();
    struct obj *holder = obj_new(N, true, 1); // 1624 bytes
    struct obj *o[N];
    for (uint32_t i = 0; i < N; i++) // 256-byte objects: about 7 spans
        holder->slot[i] = o[i] = obj_new(29, true, 100 + i);
    struct obj *junk = obj_new(29, true, 7);

    // Cycle 1, major: its survivors are old once it ends.
    CHECK(gc_mark(holder), "gc_mark(holder) in the first (major) cycle returned false");
    gc_sweep();
    CHECK_PTR_EQ(gc_base(junk), NULL, "unmarked object after gc_sweep");
    // No 256-byte allocation until the next cycle: those spans stay unswept.
    struct obj *y1[N];
    for (uint32_t i = 0; i < N; i++) {
        y1[i] = obj_new(1, true, 1000 + i); // 32 bytes
        o[i]->slot[0] = y1[i];
        gc_write_barrier(o[i]);
    }
    gc_write_barrier(junk); // a free slot of an unswept span: nothing
    watch = junk;
    make_garbage(2 * N);

    // Cycle 2: minor, still lazy.
    gc_stats before = get_stats();
    CHECK(!gc_mark(holder), "gc_mark of an old object in a minor cycle returned true");
    struct obj *young_root = obj_new(0, true, 3);
    CHECK(!gc_mark(young_root), "gc_mark of an object allocated during marking returned true");
    gc_sweep();
    CHECK_EQ(get_stats().num_minor_gc, before.num_minor_gc + 1,
             "num_minor_gc after a gc_mark + gc_sweep cycle in generational mode");
    for (uint32_t i = 0; i < N; i++) {
        check_alive(y1[i], 1000 + i, "young object written into an unswept old object");
        check_alive(o[i], 100 + i, "old object");
    }
    // Again on spans left unswept by this minor cycle, then a full cycle.
    struct obj *y2[N];
    for (uint32_t i = 0; i < N; i++) {
        y2[i] = obj_new(1, true, 2000 + i);
        o[i]->slot[1] = y2[i];
        gc_write_barrier(&o[i]->slot[1]);
    }
    make_garbage(2 * N);
    roots[0] = holder;
    CHECK(collect(), "cycle after the lazy ones: expected minor");
    for (uint32_t i = 0; i < N; i++) {
        check_alive(y1[i], 1000 + i, "first young object, after the full cycle");
        check_alive(y2[i], 2000 + i, "second young object, after the full cycle");
    }
    CHECK_EQ(watch_hits, 0, "trace calls on a freed object after a barrier on it");
}

// ------------------------------------------------------------ threads

enum { NT = 4, NOLD = 32, K = 16 };

struct writer {
    pthread_t t;
    uint32_t tid, round;
    struct obj **old;
};
#define WRITER_ID(round, t, oi, k) ((round) << 24 | (t) << 16 | (oi) << 8 | (k))

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    for (uint32_t oi = 0; oi < NOLD; oi++) {
        for (uint32_t k = 0; k < K; k++) {
            uint32_t id = WRITER_ID(w->round, w->tid, oi, k);
            struct obj *c = obj_new(0, true, id | 0x80);
            struct obj *y = obj_new(1, true, id);
            y->slot[0] = c; // right after y's allocation: no barrier
            size_t s = w->tid * K + k;
            w->old[oi]->slot[s] = y;
            gc_write_barrier(k % 2 ? (void *)&w->old[oi]->slot[s] : (void *)w->old[oi]);
            obj_new(3, true, 0xdead); // garbage
            obj_new(60, true, 0xdead);
        }
    }
    return NULL;
}

Test(gen, threads_store_into_shared_old_objects)
{
    gen_setup();
    struct obj *holder = obj_new(NOLD, true, 1);
    struct obj *old[NOLD];
    for (uint32_t i = 0; i < NOLD; i++)
        holder->slot[i] = old[i] = obj_new(NT * K, true, 10 + i);
    roots[0] = holder;
    collect();
    struct writer w[NT];
    for (uint32_t r = 0; r < 3; r++) {
        for (uint32_t t = 0; t < NT; t++) {
            w[t] = (struct writer){.tid = t, .round = r, .old = old};
            cr_assert_eq(pthread_create(&w[t].t, NULL, writer_main, &w[t]), 0);
        }
        for (uint32_t t = 0; t < NT; t++)
            pthread_join(w[t].t, NULL);
        collect();
        for (uint32_t oi = 0; oi < NOLD; oi++)
            for (uint32_t s = 0; s < NT * K; s++) {
                uint32_t id = WRITER_ID(r, s / K, oi, s % K);
                check_alive(old[oi]->slot[s], id, "object a thread stored into an old object");
                check_alive(old[oi]->slot[s]->slot[0], id | 0x80, "its child");
            }
    }
    CHECK_CMP(get_stats().num_minor_gc, >=, 1, "minor cycles in the threads test");
}

// ------------------------------------------------------- large objects

Test(gen, large_objects_old_and_young)
{
    enum { NL = 12000 }; // 96 KiB: a large object
    static const uint32_t at[] = {0, 1, 511, 1024, 5000, 8191, NL - 1};
    enum { NA = sizeof at / sizeof at[0] };
    gen_setup();
    struct obj *big = obj_new(NL, true, 1);
    roots[0] = big;
    collect();
    struct obj *small[NA];
    for (int i = 0; i < NA; i++) {
        small[i] = obj_new(1, true, 10 + (uint32_t)i);
        big->slot[at[i]] = small[i];
        gc_write_barrier(i % 2 ? (void *)&big->slot[at[i]] : (void *)big);
    }
    struct obj *yl = obj_new(5000, true, 2); // young, large
    struct obj *ylkid = obj_new(0, true, 3);
    yl->slot[4999] = ylkid;
    gc_write_barrier(yl);
    big->slot[2] = yl;
    gc_write_barrier(big);
    struct obj *lj = obj_new(5000, true, 4); // young large garbage
    make_garbage(256);
    big->traced = 0;
    CHECK(collect(), "expected minor");
    CHECK_CMP(big->traced, >=, 1, "trace calls of the written old large object");
    CHECK_EQ(yl->traced, 1, "trace calls of the young large object");
    for (int i = 0; i < NA; i++)
        check_alive(small[i], 10 + (uint32_t)i, "young object in an old large one");
    check_alive(yl, 2, "young large object");
    check_alive(ylkid, 3, "child of the young large object");
    CHECK_PTR_EQ(gc_base(lj), NULL, "young large garbage after a minor cycle");

    big->traced = yl->traced = 0;
    big->slot[2] = NULL;
    gc_write_barrier(big);
    make_garbage(256);
    CHECK(collect(), "expected minor");
    CHECK_EQ(yl->traced, 0, "trace calls of the (now old) large object");
    check_alive(yl, 2, "dropped old large object after a minor cycle");
    gc_set_generational(false);
    CHECK(!collect(), "expected major");
    CHECK_PTR_EQ(gc_base(yl), NULL, "dropped old large object after a major cycle");
    CHECK_PTR_EQ(gc_base(ylkid), NULL, "its child after a major cycle");
    for (int i = 0; i < NA; i++)
        check_alive(small[i], 10 + (uint32_t)i, "reachable object after a major cycle");
}

// ---------------------------------------------- hosts that mark by hand

static struct obj *walk_stack[8192];
static size_t walk_trues;

// The roots hook of a host with no trace hook: gc_mark's result drives the
// walk.
static void walk_roots(void *ctx)
{
    (void)ctx;
    size_t top = 0;
    walk_trues = 0;
    for (int i = 0; i < NROOTS; i++)
        if (gc_mark(roots[i]))
            walk_stack[top++] = roots[i];
    while (top > 0) {
        struct obj *o = walk_stack[--top];
        walk_trues++;
        for (uint32_t k = 0; k < o->nslots; k++)
            if (gc_mark(o->slot[k])) {
                CHECK_CMP(top, <, sizeof walk_stack / sizeof *walk_stack, "walk stack");
                walk_stack[top++] = o->slot[k];
            }
    }
}

Test(gen, without_a_trace_hook_every_cycle_is_major)
{
    enum { N = 3000 };
    CHECK(!gc_set_generational(true), "previous setting");
    struct obj **v = make_list(N, 2, 0);
    roots[0] = v[N - 1];
    for (int c = 0; c < 4; c++) {
        struct obj **junk = make_list(100, 1, 0);
        struct obj *y = obj_new(0, true, 7);
        v[c]->slot[1] = y;
        gc_write_barrier(v[c]);
        CHECK(!collect_with(walk_roots), "cycle %d without a trace hook: expected major", c);
        CHECK_EQ(walk_trues, N + 1 + (size_t)c,
                 "cycle %d: gc_mark true returns (every reachable object, old or young)", c);
        for (size_t i = 0; i < N; i++)
            check_alive(v[i], (uint32_t)i, "list node");
        check_alive(y, 7, "young object stored into a list node");
        for (size_t i = 0; i < 100; i++)
            check_freed(junk[i], "garbage", i);
        free(junk);
    }
    CHECK_EQ(get_stats().num_minor_gc, 0, "num_minor_gc without a trace hook");

    // A trace hook for two cycles (the second minor), then none again: the
    // next cycle is major and marks every reachable object anew.
    gc_set_trace(trace, NULL);
    collect();
    make_garbage(64);
    CHECK(collect(), "with a trace hook: expected minor");
    gc_set_trace(NULL, NULL);
    v[N / 2]->slot[0] = NULL; // drops v[0 .. N/2 - 1]
    gc_write_barrier(v[N / 2]);
    CHECK(!collect_with(walk_roots), "after removing the trace hook: expected major");
    CHECK_EQ(walk_trues, N - N / 2, "gc_mark true returns in the major cycle after minor ones");
    for (size_t i = 0; i < N / 2; i++)
        check_freed(v[i], "dropped list node", i);
    for (size_t i = N / 2; i < N; i++)
        check_alive(v[i], (uint32_t)i, "list node");
    free(v);
}

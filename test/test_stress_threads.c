// test_stress_threads.c: a seeded stress test of the collector under four
// mutator threads (also run under TSan by `make check-tsan`).
//
// Each thread allocates objects of every kind (tiny, small scan and noscan,
// large), writes a per-object pattern, roots some in its own root table,
// drops others, and stores pointers into objects of every thread: a scan
// object has one pointer slot per thread, and slot t is written only by
// thread t, so no two threads ever write one word. Collections stop the
// world: all threads park on a barrier, one of them runs gc_collect (the
// roots hook marks every thread's table), checks the heap against a model
// and frees the model's dead records, and a second barrier releases them.
//
// The model is malloc'd and invisible to the collector. Its records are
// written by their owner while mutating, except edge[t] (thread t's slot),
// and read by everyone only between the barriers, or through the snapshot
// of the records live at the last collection. Reachability is computed on
// the model, so after each collection: every reachable object is where it
// was, intact (pattern, tag and slots), and every unreachable one is free
// (gc_base NULL), except tiny objects whose 16-byte block lives on.
//
// The seed is printed; GCHEAP_TEST_SEED replays the same model operations
// (the interleaving of threads does not change them). GCHEAP_TEST_SCALE
// scales the number of collections and operations.
#include "../src/internal.h" // gch_heap_verify; each thread's tiny block
#include "util.h"

enum {
    NT = 4,                       // mutator threads
    NSLOTS = NT,                  // pointer slots of a scan object: slot t is thread t's
    ROOTS = 1024,                 // root table entries per thread
    POOL = 1 << 15,               // model records per thread
    SCAN_HEADER = 8 + 8 * NSLOTS, // tag word, then the slots
};

enum kind { K_TINY, K_NOSCAN, K_SCAN };

struct rec {
    unsigned char *p;
    uint64_t tag;
    uint32_t size; // requested
    uint8_t kind;
    bool reach;           // collection scratch
    int32_t edge[NSLOTS]; // scan: record id in slot t, or -1; written by thread t
    uint16_t off[NSLOTS]; // the slot points this many bytes into its target
};

struct thr {
    int id;
    uint64_t seed;
    pthread_t tid;
    int32_t roots[ROOTS];  // record ids, -1 for none
    void *root_ptr[ROOTS]; // what the roots hook marks: the object or inside it
    uintptr_t tiny_block;  // the thread's current tiny block when it parked
    int32_t *fresh;        // records made this round (owner only)
    size_t nfresh;
    int32_t *free_ids; // free records; pushed at collections, popped by owner
    size_t nfree;
    uint32_t used; // records ever taken from the pool
    uint64_t allocs, links, pool_full;
};

static struct rec *pool[NT];
static struct thr thr[NT];
static int32_t *snap; // records live at the last collection, read-only between
static size_t nsnap;
static pthread_barrier_t barrier;
static bool stop;
static int rounds_total, rounds_done;
static size_t ops_per_round;
static char fail_msg[1024];
static pthread_mutex_t fail_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t collect_ns, check_ns;

__attribute__((format(printf, 1, 2))) static void fail(const char *fmt, ...)
{
    pthread_mutex_lock(&fail_mu);
    if (fail_msg[0] == '\0') {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(fail_msg, sizeof fail_msg, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&fail_mu);
}

static inline struct rec *rec_of(int32_t id)
{
    return &pool[id / POOL][id % POOL];
}

// -------------------------------------------------------------- the hooks

static void stress_roots(void *ctx)
{
    (void)ctx;
    for (int t = 0; t < NT; t++)
        for (int i = 0; i < ROOTS; i++)
            gc_mark(thr[t].root_ptr[i]);
}

// Every scan object starts with the tag and NSLOTS pointer slots.
static void stress_trace(void *obj, size_t size, void *ctx)
{
    (void)ctx;
    (void)size;
    void **w = obj;
    for (int k = 0; k < NSLOTS; k++)
        gc_mark(w[1 + k]);
}

// ---------------------------------------------------------------- objects

static void obj_fill(const struct rec *r)
{
    if (r->kind == K_SCAN) {
        memcpy(r->p, &r->tag, 8);
        fill_pattern(r->p + SCAN_HEADER, r->size - SCAN_HEADER, r->tag);
    } else {
        fill_pattern(r->p, r->size, r->tag);
    }
}

static void rec_set_edge(struct thr *t, struct rec *x, int32_t target, uint16_t off)
{
    x->edge[t->id] = target;
    x->off[t->id] = off;
    void *v = target < 0 ? NULL : rec_of(target)->p + off;
    memcpy(x->p + 8 + 8 * t->id, &v, sizeof v);
}

static int32_t rec_new(struct thr *t)
{
    uint32_t idx;
    if (t->nfree > 0)
        idx = (uint32_t)t->free_ids[--t->nfree];
    else if (t->used < POOL)
        idx = t->used++;
    else
        return -1;
    return (int32_t)((uint32_t)t->id * POOL + idx);
}

static uint32_t random_size(uint64_t *seed, uint8_t *kind, bool *has_ptrs)
{
    uint64_t r = rng_below(seed, 1000);
    if (r < 3) { // large, either way
        *kind = rng_below(seed, 2) ? K_SCAN : K_NOSCAN;
        *has_ptrs = *kind == K_SCAN;
        return 32769 + (uint32_t)rng_below(seed, 160 << 10);
    }
    if (r < 120) {
        *kind = K_TINY;
        *has_ptrs = false;
        return 1 + (uint32_t)rng_below(seed, 15);
    }
    uint32_t max = r < 170 ? 32768 : 2048;
    if (r < 500) {
        *kind = K_NOSCAN;
        *has_ptrs = false;
        return 16 + (uint32_t)rng_below(seed, max - 16 + 1);
    }
    *kind = K_SCAN;
    *has_ptrs = true;
    return SCAN_HEADER + (uint32_t)rng_below(seed, max - SCAN_HEADER + 1);
}

// A record this thread may use now: one of its own from this round, or
// any live at the last collection.
static int32_t pick(struct thr *t, bool scan_only)
{
    for (int tries = 0; tries < 8; tries++) {
        int32_t id = -1;
        if (t->nfresh > 0 && (nsnap == 0 || rng_below(&t->seed, 2) == 0))
            id = t->fresh[rng_below(&t->seed, t->nfresh)];
        else if (nsnap > 0)
            id = snap[rng_below(&t->seed, nsnap)];
        if (id >= 0 && (!scan_only || rec_of(id)->kind == K_SCAN))
            return id;
    }
    return -1;
}

static uint16_t pick_offset(struct thr *t, int32_t target)
{
    // One pointer in four points inside its target.
    struct rec *r = rec_of(target);
    if (rng_below(&t->seed, 4) != 0)
        return 0;
    uint32_t lim = r->size < 65535 ? r->size : 65535;
    return (uint16_t)rng_below(&t->seed, lim);
}

static void set_root(struct thr *t, int slot, int32_t id)
{
    t->roots[slot] = id;
    t->root_ptr[slot] = id < 0 ? NULL : rec_of(id)->p + pick_offset(t, id);
}

static void mutate(struct thr *t)
{
    for (size_t op = 0; op < ops_per_round && !stop; op++) {
        uint64_t r = rng_below(&t->seed, 100);
        if (r < 45) {
            int32_t id = rec_new(t);
            if (id < 0) {
                t->pool_full++;
                continue;
            }
            struct rec *x = rec_of(id);
            bool has_ptrs;
            uint8_t kind;
            uint32_t size = random_size(&t->seed, &kind, &has_ptrs);
            unsigned char *p = gc_alloc(size, has_ptrs);
            if (p == NULL) {
                fail("thread %d: gc_alloc(%u, %d) returned NULL", t->id, size, has_ptrs);
                return;
            }
            if (kind != K_TINY && (gc_base(p) != p || gc_size(p) < size)) {
                fail("thread %d: new object %p of %u bytes: gc_base %p, gc_size %zu", t->id,
                     (void *)p, size, gc_base(p), gc_size(p));
                return;
            }
            if (first_nonzero(p, size) != size) {
                fail("thread %d: new %u-byte object %p not zero at byte %zu", t->id, size,
                     (void *)p, first_nonzero(p, size));
                return;
            }
            *x = (struct rec){.p = p, .tag = rng_next(&t->seed), .size = size, .kind = kind};
            for (int k = 0; k < NSLOTS; k++)
                x->edge[k] = -1;
            obj_fill(x);
            t->fresh[t->nfresh++] = id;
            t->allocs++;
            if (rng_below(&t->seed, 3) != 0) // rooted; its slot's old object dropped
                set_root(t, (int)rng_below(&t->seed, ROOTS), id);
        } else if (r < 75) { // store a pointer into some scan object
            int32_t x = pick(t, true), y = pick(t, false);
            if (x >= 0 && y >= 0) {
                rec_set_edge(t, rec_of(x), y, pick_offset(t, y));
                t->links++;
            }
        } else if (r < 83) { // clear this thread's slot of some scan object
            int32_t x = pick(t, true);
            if (x >= 0)
                rec_set_edge(t, rec_of(x), -1, 0);
        } else if (r < 93) { // drop a root
            set_root(t, (int)rng_below(&t->seed, ROOTS), -1);
        } else { // root an object of any thread
            int32_t y = pick(t, false);
            if (y >= 0)
                set_root(t, (int)rng_below(&t->seed, ROOTS), y);
        }
    }
}

// ------------------------------------------------------------- collection

static int cmp_u(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

static bool in_sorted(const uintptr_t *v, size_t n, uintptr_t key)
{
    return n > 0 && bsearch(&key, v, n, sizeof key, cmp_u) != NULL;
}

// Reachability on the model, from every thread's roots.
static size_t model_mark(int32_t *queue)
{
    size_t head = 0, tail = 0;
    for (int t = 0; t < NT; t++)
        for (uint32_t i = 0; i < thr[t].used; i++)
            pool[t][i].reach = false;
    for (int t = 0; t < NT; t++) {
        for (int i = 0; i < ROOTS; i++) {
            int32_t id = thr[t].roots[i];
            if (id >= 0 && !rec_of(id)->reach) {
                rec_of(id)->reach = true;
                queue[tail++] = id;
            }
        }
    }
    while (head < tail) {
        struct rec *x = rec_of(queue[head++]);
        if (x->kind != K_SCAN)
            continue;
        for (int k = 0; k < NSLOTS; k++) {
            int32_t id = x->edge[k];
            if (id >= 0 && !rec_of(id)->reach) {
                rec_of(id)->reach = true;
                queue[tail++] = id;
            }
        }
    }
    return tail;
}

static bool check_live(const struct rec *x, int round)
{
    uintptr_t want = x->kind == K_TINY ? (uintptr_t)x->p & ~(uintptr_t)15 : (uintptr_t)x->p;
    if ((uintptr_t)gc_base(x->p) != want) {
        fail("round %d: reachable %u-byte object %p (kind %d): gc_base %p, expected %p", round,
             x->size, (void *)x->p, x->kind, gc_base(x->p), (void *)want);
        return false;
    }
    size_t d;
    if (x->kind == K_SCAN) {
        uint64_t tag;
        memcpy(&tag, x->p, 8);
        if (tag != x->tag) {
            fail("round %d: scan object %p: tag %#jx, expected %#jx", round, (void *)x->p,
                 (uintmax_t)tag, (uintmax_t)x->tag);
            return false;
        }
        for (int k = 0; k < NSLOTS; k++) {
            void *v, *w = x->edge[k] < 0 ? NULL : rec_of(x->edge[k])->p + x->off[k];
            memcpy(&v, x->p + 8 + 8 * k, sizeof v);
            if (v != w) {
                fail("round %d: scan object %p slot %d: %p, expected %p", round, (void *)x->p, k, v,
                     w);
                return false;
            }
        }
        d = check_pattern(x->p + SCAN_HEADER, x->size - SCAN_HEADER, x->tag);
        d = d == x->size - SCAN_HEADER ? x->size : d + SCAN_HEADER;
    } else {
        d = check_pattern(x->p, x->size, x->tag);
    }
    if (d != x->size) {
        fail("round %d: reachable %u-byte object %p (kind %d) damaged at byte %zu", round, x->size,
             (void *)x->p, x->kind, d);
        return false;
    }
    return true;
}

// Runs on one thread while the others wait at the barrier.
static void collect_and_check(int round)
{
    double t0 = now_seconds();
    gc_stats before = get_stats();
    gc_collect();
    gc_stats after = get_stats();
    double t1 = now_seconds();
    collect_ns += (uint64_t)((t1 - t0) * 1e9);
    if (after.num_gc != before.num_gc + 1) {
        fail("round %d: gc_collect: num_gc %ju -> %ju", round, (uintmax_t)before.num_gc,
             (uintmax_t)after.num_gc);
        return;
    }
    char why[512];
    pthread_mutex_lock(&gch_gc.lock);
    bool ok = gch_heap_verify(why, sizeof why);
    pthread_mutex_unlock(&gch_gc.lock);
    if (!ok) {
        fail("round %d: heap verify after gc_collect: %s", round, why);
        return;
    }

    size_t total = 0;
    for (int t = 0; t < NT; t++)
        total += thr[t].used;
    int32_t *queue = malloc((total + 1) * sizeof *queue);
    uintptr_t *blocks = malloc((total + NT + 1) * sizeof *blocks);
    if (queue == NULL || blocks == NULL) {
        fail("malloc");
        return;
    }
    size_t nreach = model_mark(queue);

    // Tiny blocks that live on: those of reachable tiny objects, and each
    // thread's current block (marked whenever a mark phase begins).
    size_t nblocks = 0, reach_big = 0;
    for (size_t i = 0; i < nreach; i++) {
        struct rec *x = rec_of(queue[i]);
        if (x->kind == K_TINY)
            blocks[nblocks++] = (uintptr_t)x->p & ~(uintptr_t)15;
        else
            reach_big++;
    }
    for (int t = 0; t < NT; t++)
        if (thr[t].tiny_block != 0)
            blocks[nblocks++] = thr[t].tiny_block;
    qsort(blocks, nblocks, sizeof *blocks, cmp_u);
    size_t m = 0;
    for (size_t i = 0; i < nblocks; i++)
        if (m == 0 || blocks[m - 1] != blocks[i])
            blocks[m++] = blocks[i];
    nblocks = m;

    if (after.heap_objects != reach_big + nblocks)
        fail("round %d: heap_objects %ju after gc_collect, expected %zu (reachable objects) + "
             "%zu (live tiny blocks)",
             round, (uintmax_t)after.heap_objects, reach_big, nblocks);

    // Reachable: intact. Unreachable: free, and its record recycled.
    nsnap = 0;
    size_t dead = 0;
    for (int t = 0; t < NT && fail_msg[0] == '\0'; t++) {
        for (uint32_t i = 0; i < thr[t].used; i++) {
            struct rec *x = &pool[t][i];
            if (x->p == NULL)
                continue; // on the free list
            if (x->reach) {
                if (!check_live(x, round))
                    break;
                snap[nsnap++] = (int32_t)((uint32_t)t * POOL + i);
                continue;
            }
            bool block_lives =
                x->kind == K_TINY && in_sorted(blocks, nblocks, (uintptr_t)x->p & ~(uintptr_t)15);
            if (!block_lives && gc_base(x->p) != NULL) {
                fail("round %d: unreachable %u-byte object %p (kind %d) still has gc_base %p",
                     round, x->size, (void *)x->p, x->kind, gc_base(x->p));
                break;
            }
            x->p = NULL;
            thr[t].free_ids[thr[t].nfree++] = (int32_t)i;
            dead++;
        }
    }
    free(queue);
    free(blocks);
    check_ns += (uint64_t)((now_seconds() - t1) * 1e9);
    (void)dead;
}

static void *stress_thread(void *arg)
{
    struct thr *t = arg;
    for (int round = 0;; round++) {
        t->nfresh = 0;
        mutate(t);
        struct mcache *c = gch_tls_owner;
        t->tiny_block = c != NULL ? c->tiny : 0;
        // Park; one thread collects and checks; release.
        if (pthread_barrier_wait(&barrier) == PTHREAD_BARRIER_SERIAL_THREAD) {
            if (fail_msg[0] == '\0')
                collect_and_check(round);
            rounds_done = round + 1;
            if (fail_msg[0] != '\0' || round + 1 >= rounds_total)
                stop = true;
        }
        pthread_barrier_wait(&barrier);
        if (stop)
            return NULL;
    }
}

Test(stress_threads, four_threads_mutate_between_stop_the_world_collections)
{
    uint64_t seed = test_seed();
    rounds_total = (int)scaled(16, 4);
    ops_per_round = scaled(6000, 500);
    gc_set_gogc(-1); // collections only at the barriers
    gc_set_roots(stress_roots, NULL);
    gc_set_trace(stress_trace, NULL);
    snap = malloc((size_t)NT * POOL * sizeof *snap);
    cr_assert_not_null(snap);
    cr_assert_eq(pthread_barrier_init(&barrier, NULL, NT), 0);
    for (int t = 0; t < NT; t++) {
        pool[t] = calloc(POOL, sizeof *pool[t]);
        thr[t].fresh = malloc(POOL * sizeof *thr[t].fresh);
        thr[t].free_ids = malloc(POOL * sizeof *thr[t].free_ids);
        cr_assert(pool[t] && thr[t].fresh && thr[t].free_ids);
        thr[t].id = t;
        thr[t].seed = seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)(t + 1));
        for (int i = 0; i < ROOTS; i++)
            thr[t].roots[i] = -1;
    }
    double t0 = now_seconds();
    for (int t = 0; t < NT; t++)
        cr_assert_eq(pthread_create(&thr[t].tid, NULL, stress_thread, &thr[t]), 0);
    for (int t = 0; t < NT; t++)
        pthread_join(thr[t].tid, NULL);
    double dt = now_seconds() - t0;
    pthread_barrier_destroy(&barrier);

    uint64_t allocs = 0, links = 0, pool_full = 0;
    for (int t = 0; t < NT; t++) {
        allocs += thr[t].allocs;
        links += thr[t].links;
        pool_full += thr[t].pool_full;
    }
    cr_log_info("stress: %d threads, %d collections, %ju allocations, %ju cross-object stores, "
                "%zu objects live at the end; %.2f s (%.3f s in gc_collect, %.3f s checking)",
                NT, rounds_done, (uintmax_t)allocs, (uintmax_t)links, nsnap, dt,
                (double)collect_ns * 1e-9, (double)check_ns * 1e-9);
    cr_assert(fail_msg[0] == '\0', "%s (seed printed above)", fail_msg);
    CHECK_EQ(rounds_done, rounds_total, "collections completed");
    CHECK_EQ(pool_full, 0, "allocations skipped for want of model records");
    gc_stats s = get_stats();
    CHECK_EQ(s.mallocs - s.frees, s.heap_objects, "mallocs - frees at the end");
    for (int t = 0; t < NT; t++) {
        free(pool[t]);
        free(thr[t].fresh);
        free(thr[t].free_ids);
    }
    free(snap);
}

// test_collect_marking.c: black-box tests of marking (issue "collector";
// see test_collect.c for the protocol): several threads marking one graph,
// the trace hook's gc_mark path inside a drain, and parallel marking with
// gc_mark_roots.
//
// Each Test runs in its own forked process, so hooks and GOGC set by one
// Test do not leak into another, and statistics start from zero.
#include <stdatomic.h>

#include "util.h"

// ------------------------------------------------- concurrent marking

enum { CN = 200000, CTHREADS = 4 };

struct cnode {
    struct cnode *slot[4];
    uint64_t id;
    uint64_t pad;
};

static struct cnode **cnodes;
static unsigned *hits;
static struct cnode *croots[CTHREADS];
static pthread_barrier_t cbarrier;

static void *cmark_thread(void *arg)
{
    int t = (int)(uintptr_t)arg;
    size_t cap = 1024, top = 0, trues = 0;
    struct cnode **stack = malloc(cap * sizeof *stack);
    pthread_barrier_wait(&cbarrier);
    if (gc_mark(croots[t])) {
        __atomic_fetch_add(&hits[croots[t]->id], 1, __ATOMIC_RELAXED);
        trues++;
        stack[top++] = croots[t];
    }
    while (top > 0) {
        struct cnode *n = stack[--top];
        for (int k = 0; k < 4; k++) {
            struct cnode *c = n->slot[k];
            if (gc_mark(c)) {
                __atomic_fetch_add(&hits[c->id], 1, __ATOMIC_RELAXED);
                trues++;
                if (top == cap) {
                    cap *= 2;
                    stack = realloc(stack, cap * sizeof *stack);
                }
                stack[top++] = c;
            }
        }
    }
    free(stack);
    return (void *)(uintptr_t)trues;
}

static size_t concurrent_mark_round(const bool *reach, size_t nreach, int round)
{
    memset(hits, 0, CN * sizeof *hits);
    pthread_barrier_init(&cbarrier, NULL, CTHREADS);
    pthread_t t[CTHREADS];
    for (int i = 0; i < CTHREADS; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, cmark_thread, (void *)(uintptr_t)i), 0);
    size_t total = 0;
    for (int i = 0; i < CTHREADS; i++) {
        void *r;
        pthread_join(t[i], &r);
        total += (size_t)(uintptr_t)r;
    }
    pthread_barrier_destroy(&cbarrier);
    CHECK_EQ(total, nreach,
             "round %d: gc_mark true returns summed over %d threads (reachable nodes)", round,
             CTHREADS);
    for (size_t i = 0; i < CN; i++)
        CHECK_EQ(hits[i], reach[i] ? 1 : 0, "round %d: true returns for node %zu (reachable: %d)",
                 round, i, reach[i]);
    gc_sweep();
    for (size_t i = 0; i < CN; i++) {
        if (reach[i]) {
            CHECK_PTR_EQ(gc_base(cnodes[i]), cnodes[i], "round %d: gc_base of reachable node %zu",
                         round, i);
            CHECK_EQ(cnodes[i]->id, i, "round %d: id of reachable node %zu", round, i);
        } else {
            CHECK_PTR_EQ(gc_base(cnodes[i]), NULL, "round %d: gc_base of unreachable node %zu",
                         round, i);
        }
    }
    return total;
}

Test(collect, threads_marking_one_graph_mark_each_object_once)
{
    uint64_t seed = test_seed();
    cnodes = malloc(CN * sizeof *cnodes);
    hits = malloc(CN * sizeof *hits);
    bool *reach = calloc(CN, 1);
    size_t *queue = malloc(CN * sizeof *queue);
    cr_assert(cnodes && hits && reach && queue);
    for (size_t i = 0; i < CN; i++) {
        cnodes[i] = gc_alloc(sizeof(struct cnode), true);
        cr_assert_not_null(cnodes[i]);
        cnodes[i]->id = i;
    }
    // Half the slots used: a random graph of mean out-degree 2, where about
    // 80% of the nodes are reachable from a root that does not die out.
    for (size_t i = 0; i < CN; i++)
        for (int k = 0; k < 4; k++)
            if (rng_below(&seed, 2) == 0)
                cnodes[i]->slot[k] = cnodes[rng_below(&seed, CN)];
    size_t nreach = 0;
    for (int attempt = 0; attempt < 100 && nreach < CN / 2; attempt++) {
        // Roots from which a large part of the graph is reachable.
        size_t head = 0, tail = 0;
        memset(reach, 0, CN);
        for (int t = 0; t < CTHREADS; t++) {
            size_t r = rng_below(&seed, CN);
            croots[t] = cnodes[r];
            if (!reach[r]) {
                reach[r] = true;
                queue[tail++] = r;
            }
        }
        while (head < tail) {
            struct cnode *n = cnodes[queue[head++]];
            for (int k = 0; k < 4; k++)
                if (n->slot[k] != NULL && !reach[n->slot[k]->id]) {
                    reach[n->slot[k]->id] = true;
                    queue[tail++] = n->slot[k]->id;
                }
        }
        nreach = tail;
    }
    cr_assert_geq(nreach, CN / 2, "test setup: no roots reaching half the graph found");
    cr_log_info("%zu of %d nodes reachable", nreach, CN);

    // Round 1: the main thread begins the mark phase on an unrelated object,
    // then the threads mark. Round 2: the threads begin it together.
    unsigned char *starter = gc_alloc(64, true);
    CHECK(gc_mark(starter), "gc_mark(starter) returned false");
    concurrent_mark_round(reach, nreach, 1);
    CHECK_PTR_EQ(gc_base(starter), starter, "gc_base of the marked starter object");
    concurrent_mark_round(reach, nreach, 2);
    CHECK_PTR_EQ(gc_base(starter), NULL, "gc_base of the starter, unmarked in round 2");
    free(cnodes);
    free(hits);
    free(reach);
    free(queue);
}

// ------------------------------------------- gc_mark inside a drain
//
// The trace hook's gc_mark calls take a path of their own (mark.c): a span
// cache, the alloc bit read as "allocated" for objects that survived a
// sweep with a window test for the others, and, inside gc_collect, plain
// stores instead of a CAS. The hook below passes that path the values a
// host may pass (NULL, non-heap addresses, free slots inside and outside
// the allocating window, interior pointers, into a large object too), and
// reaches survivors and
// fresh objects twice each; every cycle, through gc_collect and through
// gc_mark + gc_sweep, must answer as outside a drain and trace each object
// once. The holder's pointers outnumber the mark stack's first capacity,
// so the stack also grows in the middle of a drain.

// DFREE80 80-byte objects fill one span of 102 slots but for two, so that
// their span stays in use while d80[0] lives.
enum { DKEPT = 64, DFRESH = 3000, DFREE80 = 100, DPROBES = 12, DLARGE = 40 << 10 };

struct dnode {
    struct dnode *next;
    uint64_t id;
    uint64_t pad[4];
};
_Static_assert(sizeof(struct dnode) == 48, "one 48-byte size class");

static void **dholder;              // DKEPT + DFRESH dnode pointers (scan)
static unsigned char *d80[DFREE80]; // 80-byte noscan objects; d80[0] stays live
static unsigned char *d80_live[4];  // 80-byte objects allocated between cycles
static uintptr_t dprobe[DPROBES];
static bool dprobe_got[DPROBES];
static unsigned *dtraced; // per dnode id
static size_t dholder_traced, dbad_size;
static unsigned char *dlarge; // a large scan object, reached only by the probes
static size_t dlarge_traced;

static void drain_roots(void *ctx)
{
    (void)ctx;
    gc_mark(dholder);
    gc_mark(d80[0]);
    for (int i = 0; i < 4; i++)
        gc_mark(d80_live[i]);
}

static void drain_trace(void *obj, size_t size, void *ctx)
{
    (void)ctx;
    if (size != gc_size(obj))
        dbad_size++;
    if (obj == (void *)dholder) {
        dholder_traced++;
        for (int i = 0; i < DPROBES; i++)
            dprobe_got[i] = gc_mark((const void *)dprobe[i]);
        for (int i = 0; i < DKEPT + DFRESH; i++)
            gc_mark(dholder[i]);
        return;
    }
    if (obj == (void *)dlarge) {
        dlarge_traced++;
        return;
    }
    struct dnode *d = obj;
    dtraced[d->id]++;
    gc_mark(d->next);
}

// Fresh dnodes (allocated since the last sweep: alloc bits clear) in the
// holder's second part, chained; one more live 80-byte object, which
// leaves its span cached with a window; then the probes.
static void drain_prepare(int cycle)
{
    struct dnode *prev = NULL;
    for (int i = 0; i < DFRESH; i++) {
        struct dnode *d = gc_alloc(sizeof *d, true);
        cr_assert_not_null(d);
        d->id = DKEPT + (uint64_t)i;
        d->next = prev;
        dholder[DKEPT + i] = prev = d;
    }
    d80_live[cycle] = gc_alloc(80, false);
    cr_assert_not_null(d80_live[cycle]);
    // Free 80-byte slots: the first in the span after slot 0 (inside the
    // cache's window) and the last two (past it), not reused since.
    unsigned char *free80[3];
    int nfree = 0;
    for (int i = 1; i < DFREE80 && nfree < 3; i++) {
        int k = nfree == 0 ? i : DFREE80 - i; // first one from the front, then from the back
        bool live = false;
        for (int j = 0; j <= cycle; j++)
            live |= d80[k] == d80_live[j];
        if (!live && (nfree == 0 || d80[k] != free80[nfree - 1]))
            free80[nfree++] = d80[k];
    }
    cr_assert_eq(nfree, 3);
    static int on_stack_marker;
    struct dnode *kept = dholder[5], *fresh = dholder[DKEPT + 7];
    uintptr_t probes[DPROBES] = {
        0,                           // NULL
        (uintptr_t)&on_stack_marker, // static data
        (uintptr_t)dtraced,          // malloc memory
        (uintptr_t)free80[0],        // free slot
        (uintptr_t)free80[1] + 8,    // inside a free slot
        (uintptr_t)free80[2],        // free slot
        (uintptr_t)kept + 8,         // interior of a survivor: newly marked
        (uintptr_t)kept + 16,        // again: already marked
        (uintptr_t)fresh + 40,       // interior of a fresh object: newly marked
        (uintptr_t)fresh,            // again
        (uintptr_t)dlarge + 1000,    // interior of a large object: newly marked
        (uintptr_t)dlarge,           // its start: already marked
    };
    memcpy(dprobe, probes, sizeof probes);
    memset(dprobe_got, 0, sizeof dprobe_got);
    memset(dtraced, 0, (DKEPT + DFRESH) * sizeof *dtraced);
    dholder_traced = 0;
    dlarge_traced = 0;
    dbad_size = 0;
}

static void drain_check(const char *how, int cycle)
{
    static const bool want[DPROBES] = {false, false, false, false, false, false,
                                       true,  false, true,  false, true,  false};
    for (int i = 0; i < DPROBES; i++)
        CHECK_EQ(dprobe_got[i], want[i], "%s (cycle %d): gc_mark(probe %d = %p) in the trace hook",
                 how, cycle, i, (void *)dprobe[i]);
    CHECK_EQ(dholder_traced, 1, "%s (cycle %d): times the holder was traced", how, cycle);
    CHECK_EQ(dlarge_traced, 1, "%s (cycle %d): times the large object was traced from its start",
             how, cycle);
    CHECK_EQ(dbad_size, 0, "%s (cycle %d): trace calls whose size differs from gc_size", how,
             cycle);
    for (int i = 0; i < DKEPT + DFRESH; i++)
        CHECK_EQ(dtraced[i], 1, "%s (cycle %d): times dnode %d was traced", how, cycle, i);
    for (int i = 0; i < DKEPT + DFRESH; i++)
        CHECK_PTR_EQ(gc_base(dholder[i]), dholder[i], "%s (cycle %d): gc_base of dnode %d", how,
                     cycle, i);
}

Test(collect, gc_mark_inside_a_drain_answers_as_outside_one)
{
    gc_set_gogc(-1);
    dtraced = calloc(DKEPT + DFRESH, sizeof *dtraced);
    cr_assert_not_null(dtraced);
    dholder = gc_alloc((DKEPT + DFRESH) * sizeof(void *), true);
    cr_assert_not_null(dholder);
    for (int i = 0; i < DFREE80; i++)
        cr_assert_not_null(d80[i] = gc_alloc(80, false));
    dlarge = gc_alloc(DLARGE, true);
    cr_assert_not_null(dlarge);
    struct dnode *prev = NULL;
    for (int i = 0; i < DKEPT; i++) {
        struct dnode *d = gc_alloc(sizeof *d, true);
        cr_assert_not_null(d);
        d->id = (uint64_t)i;
        d->next = prev;
        dholder[i] = prev = d;
    }
    gc_set_roots(drain_roots, NULL);
    gc_set_trace(drain_trace, NULL);
    dprobe[0] = (uintptr_t)dlarge; // until drain_prepare sets the probes
    gc_collect(); // frees d80[1..]; the kept dnodes and dlarge survive with alloc bits set

    for (int cycle = 0; cycle < 4; cycle++) {
        drain_prepare(cycle);
        if (cycle % 2 == 0) {
            gc_collect(); // one thread marks: plain stores
        } else {
            // Marking outside gc_collect: the drain of the first gc_mark
            // uses the CAS.
            CHECK(gc_mark(dholder), "cycle %d: gc_mark(holder) newly marks it", cycle);
            drain_roots(NULL);
            gc_sweep();
        }
        drain_check(cycle % 2 == 0 ? "gc_collect" : "gc_mark + gc_sweep", cycle);
        gc_collect(); // sweeps everything: the next fresh batch starts unswept
    }
    free(dtraced);
}

// ------------------------------------------------- gc_mark_roots

// Parallel marking: four threads each mark from their own list with
// gc_mark_roots at the same time; every fourth node of each list also
// points into the next thread's list, so the graphs overlap. Then one
// gc_collect, with no roots hook, ends the phase. Every node reachable
// survives with its contents, is traced exactly once, and the garbage each
// thread made is freed.
enum { PM_THREADS = 4, PM_NODES = 20000 };

struct pm_node {
    struct pm_node *next;
    struct pm_node *cross; // into another thread's list, or NULL
    _Atomic int traced;
    int owner;
    uint64_t value;
};

static struct pm_node *pm_heads[PM_THREADS];
static struct pm_node *pm_garbage[PM_THREADS];
static pthread_barrier_t pm_barrier;

static void pm_trace(void *obj, size_t size, void *ctx)
{
    (void)size, (void)ctx;
    struct pm_node *n = obj;
    atomic_fetch_add(&n->traced, 1);
    gc_mark(n->next);
    gc_mark(n->cross);
}

static void pm_roots(void *ctx)
{
    gc_mark(pm_heads[(intptr_t)ctx]);
}

static void *pm_marker(void *arg)
{
    intptr_t t = (intptr_t)arg;
    pthread_barrier_wait(&pm_barrier); // all mark at once
    gc_mark_roots(pm_roots, (void *)t);
    return NULL;
}

Test(collect, gc_mark_roots_marks_in_parallel_and_gc_collect_ends_the_phase)
{
    gc_set_trace(pm_trace, NULL);
    size_t n = scaled(PM_NODES, 500);
    struct pm_node **all = calloc(PM_THREADS * n, sizeof *all);
    cr_assert_not_null(all);
    for (int t = 0; t < PM_THREADS; t++) {
        struct pm_node *prev = NULL;
        for (size_t i = 0; i < n; i++) {
            struct pm_node *x = gc_alloc(sizeof *x, true);
            CHECK(x != NULL, "gc_alloc");
            x->owner = t;
            x->value = (uint64_t)t << 32 | i;
            all[t * n + i] = x;
            if (prev == NULL)
                pm_heads[t] = x;
            else
                prev->next = x;
            prev = x;
        }
        pm_garbage[t] = gc_alloc(sizeof(struct pm_node), true);
    }
    for (int t = 0; t < PM_THREADS; t++) {
        for (size_t i = 0; i < n; i += 4)
            all[t * n + i]->cross = all[((t + 1) % PM_THREADS) * n + (i * 7) % n];
    }
    uint64_t gcs = get_stats().num_gc;
    pthread_barrier_init(&pm_barrier, NULL, PM_THREADS);
    pthread_t th[PM_THREADS];
    for (intptr_t t = 0; t < PM_THREADS; t++)
        cr_assert_eq(pthread_create(&th[t], NULL, pm_marker, (void *)t), 0);
    for (int t = 0; t < PM_THREADS; t++)
        pthread_join(th[t], NULL);
    pthread_barrier_destroy(&pm_barrier);
    gc_collect(); // no roots hook: ends the phase the threads began
    CHECK_EQ(get_stats().num_gc, gcs + 1, "one cycle");
    for (int t = 0; t < PM_THREADS; t++)
        CHECK_PTR_EQ(gc_base(pm_garbage[t]), NULL, "thread %d's garbage survived", t);
    for (int i = 0; i < 1000; i++)
        memset(gc_alloc(sizeof(struct pm_node), true), 0xFF, sizeof(struct pm_node));
    for (size_t k = 0; k < PM_THREADS * n; k++) {
        struct pm_node *x = all[k];
        CHECK_PTR_EQ(gc_base(x), x, "node %zu was freed", k);
        CHECK_EQ(x->value, (uint64_t)(k / n) << 32 | (k % n), "node %zu was overwritten", k);
        CHECK_EQ(atomic_load(&x->traced), 1, "node %zu traced %d times", k,
                 atomic_load(&x->traced));
    }
    gc_mark_roots(NULL, NULL); // does nothing
    gc_sweep();
    CHECK_EQ(get_stats().num_gc, gcs + 2, "gc_sweep ended an empty phase");
    free(all);
}

// test_collect.c: black-box tests of the collector (issue "collector"): the
// mark/sweep protocol with and without hooks, allocate-black, deep and
// concurrent marking, lazy sweeping, automatic collection and its pacing,
// and hooks that break the rules.
//
// Each Test runs in its own forked process, so hooks and GOGC set by one
// Test do not leak into another, and statistics start from zero.
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>

#include "util.h"

static void no_roots(void *ctx)
{
    (void)ctx;
}

// ------------------------------------------------ random graphs vs a model
//
// Nodes are 48-byte scan objects (one size class, nothing else allocated),
// so after gc_collect the heap must hold exactly the reachable nodes. The
// model (malloc'd, invisible to the collector) keeps each node's address,
// id and edges; reachability is computed on the model, independently.

enum { K = 4, NROOTS = 64 };

struct node {
    char *slot[K]; // pointer to a node, possibly into its middle
    uint64_t id;
    uint64_t check;
};
_Static_assert(sizeof(struct node) == 48, "one 48-byte size class");

struct rec {
    struct node *ptr;
    uint64_t id;
    int32_t edge[K]; // model index, or -1
    uint8_t off[K];  // byte offset of the edge into its target
    bool reach;
};

static struct {
    struct rec *recs;
    size_t n, cap;
    char *roots[NROOTS]; // what the roots hook marks
    int32_t root_rec[NROOTS];
    size_t traced;    // trace hook calls this cycle
    size_t trace_bad; // trace hook calls with a wrong size or object
    uint64_t next_id;
} g;

static uint64_t node_check(uint64_t id)
{
    return id * 0x9E3779B97F4A7C15ULL ^ 0xC0FFEE;
}

static void graph_roots(void *ctx)
{
    (void)ctx;
    for (int i = 0; i < NROOTS; i++)
        gc_mark(g.roots[i]);
}

static void graph_trace(void *obj, size_t size, void *ctx)
{
    struct node *n = obj;
    (void)ctx;
    g.traced++;
    if (size != sizeof *n || gc_base(obj) != obj)
        g.trace_bad++;
    for (int k = 0; k < K; k++)
        gc_mark(n->slot[k]);
}

static void graph_set_edge(size_t i, int k, int32_t j, uint8_t off)
{
    g.recs[i].edge[k] = j;
    g.recs[i].off[k] = off;
    g.recs[i].ptr->slot[k] = j < 0 ? NULL : (char *)g.recs[j].ptr + off;
}

static uint8_t random_offset(uint64_t *seed)
{
    // One pointer in four points into the middle of its target.
    return rng_below(seed, 4) == 0 ? (uint8_t)(1 + rng_below(seed, sizeof(struct node) - 1)) : 0;
}

static void graph_add_node(uint64_t *seed)
{
    if (g.n == g.cap) {
        g.cap = g.cap ? 2 * g.cap : 4096;
        g.recs = realloc(g.recs, g.cap * sizeof *g.recs);
        cr_assert_not_null(g.recs);
    }
    struct node *p = gc_alloc(sizeof *p, true);
    cr_assert_not_null(p);
    CHECK_EQ(first_nonzero(p, sizeof *p), sizeof *p, "first non-zero byte of a new node");
    size_t i = g.n++;
    g.recs[i] = (struct rec){.ptr = p, .id = g.next_id++};
    p->id = g.recs[i].id;
    p->check = node_check(p->id);
    for (int k = 0; k < K; k++) {
        if (i > 0 && rng_below(seed, 2) == 0)
            graph_set_edge(i, k, (int32_t)rng_below(seed, i + 1), random_offset(seed));
        else
            graph_set_edge(i, k, -1, 0);
    }
}

static void graph_set_root(int r, uint64_t *seed)
{
    if (g.n == 0 || rng_below(seed, 4) == 0) {
        g.roots[r] = NULL;
        g.root_rec[r] = -1;
        return;
    }
    int32_t j = (int32_t)rng_below(seed, g.n);
    g.root_rec[r] = j;
    // A third of the roots point into the middle of their node.
    size_t off = rng_below(seed, 3) == 0 ? 1 + rng_below(seed, sizeof(struct node) - 1) : 0;
    g.roots[r] = (char *)g.recs[j].ptr + off;
}

static size_t graph_reachability(void)
{
    int32_t *queue = malloc((g.n + 1) * sizeof *queue);
    cr_assert_not_null(queue);
    size_t head = 0, tail = 0, count = 0;
    for (size_t i = 0; i < g.n; i++)
        g.recs[i].reach = false;
    for (int r = 0; r < NROOTS; r++) {
        int32_t j = g.root_rec[r];
        if (j >= 0 && !g.recs[j].reach) {
            g.recs[j].reach = true;
            queue[tail++] = j;
        }
    }
    while (head < tail) {
        struct rec *rc = &g.recs[queue[head++]];
        count++;
        for (int k = 0; k < K; k++) {
            int32_t j = rc->edge[k];
            if (j >= 0 && !g.recs[j].reach) {
                g.recs[j].reach = true;
                queue[tail++] = j;
            }
        }
    }
    free(queue);
    return count;
}

// Checks every node against the model, then drops the unreachable ones.
static void graph_check_and_compact(int cycle)
{
    int32_t *remap = malloc((g.n + 1) * sizeof *remap);
    cr_assert_not_null(remap);
    size_t m = 0;
    for (size_t i = 0; i < g.n; i++) {
        struct rec *rc = &g.recs[i];
        if (rc->reach) {
            CHECK_PTR_EQ(gc_base(rc->ptr), rc->ptr, "cycle %d: gc_base of reachable node id %ju",
                         cycle, (uintmax_t)rc->id);
            CHECK_PTR_EQ(gc_base((char *)rc->ptr + 47), rc->ptr,
                         "cycle %d: gc_base of reachable node's last byte", cycle);
            CHECK_EQ(rc->ptr->id, rc->id, "cycle %d: id of reachable node %p", cycle,
                     (void *)rc->ptr);
            CHECK_EQ(rc->ptr->check, node_check(rc->id),
                     "cycle %d: checksum of reachable node id %ju", cycle, (uintmax_t)rc->id);
            remap[i] = (int32_t)m++;
        } else {
            // Right after gc_collect, before any allocation: nothing reused it.
            CHECK_PTR_EQ(gc_base(rc->ptr), NULL, "cycle %d: gc_base of unreachable node id %ju",
                         cycle, (uintmax_t)rc->id);
            CHECK_PTR_EQ(gc_base((char *)rc->ptr + 20), NULL,
                         "cycle %d: gc_base into unreachable node id %ju", cycle,
                         (uintmax_t)rc->id);
            CHECK_EQ(gc_size(rc->ptr), 0, "cycle %d: gc_size of unreachable node", cycle);
            remap[i] = -1;
        }
    }
    // Edges, while the model's indices still hold; then compact.
    for (size_t i = 0; i < g.n; i++) {
        struct rec *rc = &g.recs[i];
        if (!rc->reach)
            continue;
        for (int k = 0; k < K; k++) {
            char *want = rc->edge[k] < 0 ? NULL : (char *)g.recs[rc->edge[k]].ptr + rc->off[k];
            CHECK_PTR_EQ(rc->ptr->slot[k], want, "cycle %d: slot %d of node id %ju", cycle, k,
                         (uintmax_t)rc->id);
        }
    }
    for (size_t i = 0; i < g.n; i++)
        if (remap[i] >= 0)
            g.recs[remap[i]] = g.recs[i];
    for (size_t i = 0; i < m; i++)
        for (int k = 0; k < K; k++)
            if (g.recs[i].edge[k] >= 0)
                g.recs[i].edge[k] = remap[g.recs[i].edge[k]];
    for (int r = 0; r < NROOTS; r++)
        if (g.root_rec[r] >= 0)
            g.root_rec[r] = remap[g.root_rec[r]];
    g.n = m;
    free(remap);
}

Test(collect, random_graphs_keep_exactly_the_reachable_nodes)
{
    uint64_t seed = test_seed();
    gc_set_gogc(-1); // collections only where the model expects them
    gc_set_roots(graph_roots, NULL);
    gc_set_trace(graph_trace, NULL);
    for (int r = 0; r < NROOTS; r++)
        g.root_rec[r] = -1;
    for (int i = 0; i < 2000; i++)
        graph_add_node(&seed);
    for (int r = 0; r < NROOTS; r++)
        graph_set_root(r, &seed);

    for (int cycle = 0; cycle < 100; cycle++) {
        // Mutate: new nodes, rewired edges, changed roots.
        size_t add = rng_below(&seed, 600);
        for (size_t i = 0; i < add; i++)
            graph_add_node(&seed);
        size_t rewire = rng_below(&seed, 400);
        for (size_t i = 0; i < rewire && g.n > 0; i++) {
            size_t from = rng_below(&seed, g.n);
            if (rng_below(&seed, 3) == 0)
                graph_set_edge(from, (int)rng_below(&seed, K), -1, 0);
            else
                graph_set_edge(from, (int)rng_below(&seed, K), (int32_t)rng_below(&seed, g.n),
                               random_offset(&seed));
        }
        for (int r = 0; r < NROOTS; r++)
            if (rng_below(&seed, 6) == 0)
                graph_set_root(r, &seed);

        gc_stats before = get_stats();
        g.traced = 0;
        gc_collect();
        gc_stats s = get_stats();
        size_t reach = graph_reachability();
        CHECK_EQ(s.num_gc, before.num_gc + 1, "cycle %d: num_gc after gc_collect", cycle);
        CHECK_EQ(g.trace_bad, 0,
                 "cycle %d: trace hook calls with a size other than 48 or a non-base object",
                 cycle);
        CHECK_EQ(g.traced, reach, "cycle %d: trace hook calls (each reachable node exactly once)",
                 cycle);
        CHECK_EQ(s.heap_objects, reach, "cycle %d: heap_objects after gc_collect (reachable nodes)",
                 cycle);
        CHECK_EQ(s.heap_alloc, reach * sizeof(struct node), "cycle %d: heap_alloc after gc_collect",
                 cycle);
        CHECK_EQ(s.mallocs - s.frees, s.heap_objects, "cycle %d: mallocs - frees", cycle);
        graph_check_and_compact(cycle);
    }
    free(g.recs);
}

// -------------------------------------------- noscan objects never traced

enum { NHOLDERS = 200, HSLOTS = 8 };

struct holder {
    void *slot[HSLOTS];
};

static struct holder *holders[NHOLDERS];
static uintptr_t *traced_objs;
static size_t ntraced, traced_cap, traced_bad_size;

static void holder_roots(void *ctx)
{
    (void)ctx;
    for (int i = 0; i < NHOLDERS; i++)
        gc_mark(holders[i]);
}

static void holder_trace(void *obj, size_t size, void *ctx)
{
    (void)ctx;
    if (ntraced < traced_cap)
        traced_objs[ntraced] = (uintptr_t)obj;
    ntraced++;
    if (size != gc_size(obj))
        traced_bad_size++;
    // The trace hook knows only holders: it reads slots of whatever it gets,
    // exactly as a host would that trusts has_ptrs.
    struct holder *h = obj;
    for (int k = 0; k < HSLOTS && size >= sizeof *h; k++)
        gc_mark(h->slot[k]);
}

Test(collect, noscan_objects_are_marked_but_never_traced)
{
    static const size_t noscan_sizes[] = {5, 13, 16, 100, 4096, 40000};
    enum { NN = sizeof noscan_sizes / sizeof noscan_sizes[0] };
    traced_cap = 4 * NHOLDERS;
    traced_objs = malloc(traced_cap * sizeof *traced_objs);
    cr_assert_not_null(traced_objs);
    gc_set_roots(holder_roots, NULL);
    gc_set_trace(holder_trace, NULL);
    gc_set_gogc(-1);

    // Each holder: noscan children of several sizes, one scan child holder,
    // and a noscan "carrier" that holds pointers to a scan object and a
    // noscan object nothing else references: as the carrier is never
    // traced, those two must be freed.
    unsigned char *noscan[NHOLDERS][NN];
    struct holder *child[NHOLDERS];
    void *decoy_scan[NHOLDERS], *decoy_noscan[NHOLDERS];
    for (int i = 0; i < NHOLDERS; i++) {
        holders[i] = gc_alloc(sizeof(struct holder), true);
        cr_assert_not_null(holders[i]);
        for (int k = 0; k < NN; k++) {
            noscan[i][k] = gc_alloc(noscan_sizes[k], false);
            cr_assert_not_null(noscan[i][k]);
            fill_pattern(noscan[i][k], noscan_sizes[k], (uint64_t)i * NN + (uint64_t)k);
            holders[i]->slot[k] = noscan[i][k];
        }
        child[i] = gc_alloc(sizeof(struct holder), true);
        holders[i]->slot[NN] = child[i];
        void **carrier = gc_alloc(2 * sizeof(void *), false);
        decoy_scan[i] = gc_alloc(sizeof(struct holder), true);
        decoy_noscan[i] = gc_alloc(64, false);
        carrier[0] = decoy_scan[i];
        carrier[1] = decoy_noscan[i];
        holders[i]->slot[NN + 1] = carrier;
    }
    gc_collect();
    cr_assert_leq(ntraced, traced_cap, "trace hook called %zu times, more than %zu objects exist",
                  ntraced, traced_cap);
    CHECK_EQ(traced_bad_size, 0, "trace hook calls whose size differs from gc_size(obj)");
    // Traced: exactly the holders and their scan children.
    CHECK_EQ(ntraced, 2 * NHOLDERS, "trace hook calls (holders + scan children)");
    qsort(traced_objs, ntraced, sizeof *traced_objs, cmp_uintptr);
    for (int i = 0; i < NHOLDERS; i++) {
        uintptr_t key = (uintptr_t)holders[i];
        CHECK(bsearch(&key, traced_objs, ntraced, sizeof key, cmp_uintptr) != NULL,
              "holder %d (%p) was never traced", i, (void *)holders[i]);
        key = (uintptr_t)child[i];
        CHECK(bsearch(&key, traced_objs, ntraced, sizeof key, cmp_uintptr) != NULL,
              "scan child %d (%p) was never traced", i, (void *)child[i]);
        for (int k = 0; k < NN; k++) {
            uintptr_t b = (uintptr_t)gc_base(noscan[i][k]);
            CHECK(bsearch(&b, traced_objs, ntraced, sizeof b, cmp_uintptr) == NULL,
                  "noscan object %p (size %zu) was passed to the trace hook", (void *)noscan[i][k],
                  noscan_sizes[k]);
        }
        key = (uintptr_t)holders[i]->slot[NN + 1];
        CHECK(bsearch(&key, traced_objs, ntraced, sizeof key, cmp_uintptr) == NULL,
              "noscan carrier %d was passed to the trace hook", i);
    }
    // Noscan objects survive (marked) with their contents.
    for (int i = 0; i < NHOLDERS; i++) {
        for (int k = 0; k < NN; k++) {
            CHECK(gc_base(noscan[i][k]) != NULL,
                  "gc_base of reachable noscan object (size %zu) is NULL", noscan_sizes[k]);
            CHECK_EQ(check_pattern(noscan[i][k], noscan_sizes[k], (uint64_t)i * NN + (uint64_t)k),
                     noscan_sizes[k], "first damaged byte of reachable noscan object (size %zu)",
                     noscan_sizes[k]);
        }
        CHECK_PTR_EQ(gc_base(child[i]), child[i], "gc_base of scan child %d", i);
        CHECK(gc_base(holders[i]->slot[NN + 1]) != NULL, "gc_base of noscan carrier %d is NULL", i);
        CHECK_PTR_EQ(gc_base(decoy_scan[i]), NULL,
                     "gc_base of scan object %d referenced only from a noscan object", i);
        CHECK_PTR_EQ(gc_base(decoy_noscan[i]), NULL,
                     "gc_base of noscan object %d referenced only from a noscan object", i);
    }
    free(traced_objs);
}

// ------------------------------------------------- the manual protocol

struct mnode {
    struct mnode *l, *r;
    uint64_t id;
};

Test(collect, manual_marking_without_hooks)
{
    enum { N = 3000 };
    uint64_t seed = test_seed();
    // A free slot: allocated, then freed by a sweep (1024-byte noscan
    // objects are not allocated again below, so it stays free).
    unsigned char *freed = gc_alloc(1024, false);
    gc_sweep();

    struct mnode **nodes = malloc(N * sizeof *nodes);
    bool *reach = calloc(N, 1);
    int *work = malloc(N * sizeof *work);
    cr_assert(nodes && reach && work);
    for (int i = 0; i < N; i++) {
        nodes[i] = gc_alloc(sizeof(struct mnode), true);
        cr_assert_not_null(nodes[i]);
        nodes[i]->id = (uint64_t)i;
    }
    // Random edges with cycles; node i points only to nodes with lower
    // numbers or to random ones, so reachability from node 0 is partial.
    for (int i = 0; i < N; i++) {
        if (rng_below(&seed, 3) != 0)
            nodes[i]->l = nodes[rng_below(&seed, N)];
        if (rng_below(&seed, 3) == 0)
            nodes[i]->r = nodes[rng_below(&seed, (uint64_t)i + 1)];
    }
    // The model's reachability from nodes 0 and 1.
    int top = 0;
    size_t nreach = 0;
    for (int r = 0; r < 2; r++)
        if (!reach[r]) {
            reach[r] = true;
            work[top++] = r;
        }
    while (top > 0) {
        struct mnode *m = nodes[work[--top]];
        nreach++;
        struct mnode *kids[2] = {m->l, m->r};
        for (int k = 0; k < 2; k++)
            if (kids[k] != NULL && !reach[kids[k]->id]) {
                reach[kids[k]->id] = true;
                work[top++] = (int)kids[k]->id;
            }
    }

    int stack_var = 0;
    CHECK(!gc_mark(NULL), "gc_mark(NULL) returned true");
    CHECK(!gc_mark(&stack_var), "gc_mark(stack address) returned true");
    CHECK(!gc_mark(reach), "gc_mark(malloc memory) returned true");
    CHECK(!gc_mark(freed), "gc_mark(free slot) returned true");
    CHECK(!gc_mark(freed + 100), "gc_mark(inside a free slot) returned true");

    // The host's own walk: gc_mark's result says whether to visit.
    size_t trues = 0;
    top = 0;
    for (int r = 0; r < 2; r++)
        if (gc_mark(nodes[r])) {
            trues++;
            work[top++] = r;
        }
    CHECK(!gc_mark(nodes[0]), "second gc_mark of node 0 returned true");
    CHECK(!gc_mark((char *)nodes[0] + 5), "gc_mark(interior of marked node 0) returned true");
    while (top > 0) {
        struct mnode *m = nodes[work[--top]];
        struct mnode *kids[2] = {m->l, m->r};
        for (int k = 0; k < 2; k++)
            if (gc_mark(kids[k])) {
                trues++;
                CHECK(reach[kids[k]->id],
                      "gc_mark returned true for node %ju, unreachable in the model",
                      (uintmax_t)kids[k]->id);
                work[top++] = (int)kids[k]->id;
            }
    }
    CHECK_EQ(trues, nreach, "gc_mark true returns during the walk (reachable nodes)");
    for (int i = 0; i < N; i++)
        if (reach[i])
            CHECK(!gc_mark(nodes[i]), "gc_mark of already marked node %d returned true", i);
    CHECK(!gc_mark(freed), "gc_mark(free slot) during marking returned true");

    gc_sweep();
    for (int i = 0; i < N; i++) {
        if (reach[i]) {
            CHECK_PTR_EQ(gc_base(nodes[i]), nodes[i], "gc_base of marked node %d after sweep", i);
            CHECK_EQ(nodes[i]->id, (uint64_t)i, "id of marked node %d after sweep", i);
        } else {
            CHECK_PTR_EQ(gc_base(nodes[i]), NULL, "gc_base of unmarked node %d after sweep", i);
        }
    }
    // Next cycle: mark only node 0, without walking: only it survives.
    CHECK(gc_mark(nodes[0]), "gc_mark(node 0) in a new cycle returned false");
    gc_sweep();
    for (int i = 0; i < N; i++)
        if (reach[i])
            CHECK_PTR_EQ(gc_base(nodes[i]), i == 0 ? (void *)nodes[0] : NULL,
                         "gc_base of node %d after a cycle that marked only node 0", i);
    free(nodes);
    free(reach);
    free(work);
}

Test(collect, mark_range_marks_aligned_words_in_range)
{
    enum { N = 16 };
    uintptr_t *table = malloc((N + 1) * sizeof *table);
    unsigned char *obj[N];
    for (int i = 0; i < N; i++) {
        obj[i] = gc_alloc(32 + (size_t)i * 8, i % 2 == 0);
        cr_assert_not_null(obj[i]);
        table[i] = (uintptr_t)obj[i] + (size_t)i % 5; // some interior
    }
    int stack_var = 0;
    table[N] = (uintptr_t)&stack_var; // junk is ignored

    // Empty and inverted ranges do nothing.
    gc_mark_range(table, table);
    gc_mark_range(table + 4, table);
    // [table+1 byte, table+3 words+7 bytes): rounds to words 1 and 2 only.
    gc_mark_range((char *)table + 1, (char *)(table + 3) + 7);
    CHECK(gc_mark(obj[0]), "word 0 lies before the rounded-up start: obj 0 must not be marked");
    CHECK(!gc_mark(obj[1]), "word 1 is in the range: obj 1 must already be marked");
    CHECK(!gc_mark(obj[2]), "word 2 is in the range: obj 2 must already be marked");
    CHECK(gc_mark(obj[3]), "word 3 lies after the rounded-down end: obj 3 must not be marked");
    for (int i = 4; i < N; i++)
        CHECK(gc_mark(obj[i]), "obj %d: outside every range so far, must not be marked", i);
    gc_sweep();

    // Words 0..N/2 point to objects (some inside them), the rest is junk:
    // exactly those objects survive.
    table[N / 2 + 1] = (uintptr_t)&stack_var;
    table[N / 2 + 2] = 12345;
    table[N / 2 + 3] = UINTPTR_MAX;
    for (int i = N / 2 + 4; i < N; i++)
        table[i] = (uintptr_t)i * 8; // small integers
    gc_mark_range(table, table + N + 1);
    gc_sweep();
    for (int i = 0; i < N; i++)
        CHECK_PTR_EQ(gc_base(obj[i]), i <= N / 2 ? (void *)obj[i] : NULL,
                     "gc_base of obj %d after marking table words 0..%d", i, N / 2);
    free(table);
}

// --------------------------------------------------------- allocate-black

Test(collect, objects_allocated_during_marking_are_born_black)
{
    enum { NB = 2000 };
    unsigned char *root = gc_alloc(64, true);
    unsigned char *garbage = gc_alloc(64, true);
    cr_assert(root && garbage);
    CHECK(gc_mark(root), "gc_mark(root) starting the mark phase returned false");

    // Born during the mark phase, never marked by the host.
    static const size_t sizes[] = {48, 200, 3000, 40000, 100000};
    enum { NS = sizeof sizes / sizeof sizes[0] };
    unsigned char *born[NS];
    for (int k = 0; k < NS; k++) {
        born[k] = gc_alloc(sizes[k], k % 2 == 0);
        cr_assert_not_null(born[k]);
        fill_pattern(born[k], sizes[k], (uint64_t)k);
        CHECK(!gc_mark(born[k]),
              "gc_mark of an object of %zu bytes allocated during marking returned true", sizes[k]);
    }
    // Enough 48-byte objects to need spans taken during the mark phase.
    unsigned char **many = malloc(NB * sizeof *many);
    cr_assert_not_null(many);
    for (int i = 0; i < NB; i++) {
        many[i] = gc_alloc(48, true);
        cr_assert_not_null(many[i]);
        fill_pattern(many[i], 48, 1000 + (uint64_t)i);
    }
    CHECK(!gc_mark(many[NB - 1]),
          "gc_mark of the last object allocated during marking returned true");
    gc_sweep();

    // Allocate much more of the same classes: lazy sweeping runs over the
    // spans of the born-black objects; none may be handed out again.
    for (int round = 0; round < 5; round++) {
        for (int i = 0; i < NB; i++) {
            unsigned char *p = gc_alloc(48, true);
            CHECK_EQ(first_nonzero(p, 48), 48, "new 48-byte object after the sweep is not zero");
        }
        for (int k = 0; k < NS; k++)
            cr_assert_not_null(gc_alloc(sizes[k], k % 2 == 0));
    }
    for (int k = 0; k < NS; k++) {
        CHECK_PTR_EQ(gc_base(born[k]), born[k],
                     "gc_base of born-black object of %zu bytes after sweep", sizes[k]);
        CHECK_EQ(check_pattern(born[k], sizes[k], (uint64_t)k), sizes[k],
                 "first damaged byte of born-black object of %zu bytes", sizes[k]);
    }
    for (int i = 0; i < NB; i++) {
        CHECK_PTR_EQ(gc_base(many[i]), many[i], "gc_base of born-black 48-byte object %d", i);
        CHECK_EQ(check_pattern(many[i], 48, 1000 + (uint64_t)i), 48,
                 "first damaged byte of born-black 48-byte object %d", i);
    }
    CHECK_PTR_EQ(gc_base(root), root, "gc_base of the marked root");
    CHECK_PTR_EQ(gc_base(garbage), NULL, "gc_base of an unmarked object allocated before marking");
    free(many);
}

static void *tiny_black_thread(void *arg)
{
    (void)arg;
    unsigned char *t1 = gc_alloc(3, false); // current tiny block B, offset 3
    unsigned char *r = gc_alloc(64, true);
    memset(t1, 0x11, 3);
    CHECK(gc_mark(r), "gc_mark(r) starting the mark phase returned false");
    unsigned char *t2 = gc_alloc(3, false); // carved from B during marking
    memset(t2, 0x22, 3);
    unsigned char *block = gc_base(t1);
    CHECK(block != NULL, "gc_base of a tiny object is NULL");
    CHECK_PTR_EQ(gc_base(t2), block,
                 "tiny object allocated during marking shares the current block");
    CHECK(!gc_mark(t1),
          "gc_mark(tiny object in the current block): the block is marked at mark start");
    gc_sweep();
    // Reuse pressure on the tiny blocks' span class (16-byte noscan).
    for (int i = 0; i < 3000; i++) {
        unsigned char *p = gc_alloc(16, false);
        CHECK(gc_base(p) != block, "a new 16-byte object got the live tiny block %p",
              (void *)block);
        CHECK_EQ(first_nonzero(p, 16), 16, "new 16-byte object is not zero");
        memset(p, 0x77, 16);
        unsigned char *q = gc_alloc(7, false);
        memset(q, 0x66, 7);
    }
    CHECK_PTR_EQ(gc_base(t1), block, "gc_base of the tiny object allocated before marking");
    CHECK_PTR_EQ(gc_base(t2), block, "gc_base of the tiny object allocated during marking");
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(t1[i], 0x11, "byte %d of the tiny object allocated before marking", i);
        CHECK_EQ(t2[i], 0x22, "byte %d of the tiny object allocated during marking", i);
    }
    return NULL;
}

Test(collect, current_tiny_block_is_marked_at_mark_start)
{
    run_in_thread(tiny_black_thread, NULL);
}

// ------------------------------------------- deep list on a small stack

struct lnode {
    struct lnode *next;
    uint64_t v;
};

static struct lnode *list_head;
static bool list_mark_result;

static void list_trace(void *obj, size_t size, void *ctx)
{
    (void)size;
    (void)ctx;
    gc_mark(((struct lnode *)obj)->next);
}

static void *list_mark_thread(void *arg)
{
    (void)arg;
    list_mark_result = gc_mark(list_head);
    return NULL;
}

Test(collect, ten_million_node_list_marks_on_a_64k_stack)
{
    size_t n = scaled(10000000, 1000);
    gc_set_trace(list_trace, NULL);
    struct lnode *garbage = gc_alloc(sizeof *garbage, true);
    struct lnode *prev = NULL;
    for (size_t i = 0; i < n; i++) {
        struct lnode *node = gc_alloc(sizeof *node, true);
        CHECK(node != NULL, "gc_alloc of list node %zu returned NULL", i);
        node->v = i;
        if (prev == NULL)
            list_head = node;
        else
            prev->next = node;
        prev = node;
    }
    double t0 = now_seconds();
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    cr_assert_eq(pthread_attr_setstacksize(&attr, 65536), 0);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, &attr, list_mark_thread, NULL), 0);
    pthread_join(t, NULL);
    pthread_attr_destroy(&attr);
    cr_log_info("marking %zu list nodes took %.3f s", n, now_seconds() - t0);
    CHECK(list_mark_result, "gc_mark(list head) returned false");
    gc_sweep();
    // New 16-byte scan objects would reuse any node wrongly freed.
    for (int i = 0; i < 100000; i++)
        memset(gc_alloc(16, true), 0xFF, 16);
    size_t count = 0;
    for (struct lnode *p = list_head; p != NULL; p = p->next) {
        CHECK_PTR_EQ(gc_base(p), p, "gc_base of list node %zu", count);
        CHECK_EQ(p->v, count, "value of list node %zu", count);
        count++;
        if (count > n)
            break;
    }
    CHECK_EQ(count, n, "list length after the sweep");
    CHECK_PTR_EQ(gc_base(garbage), NULL, "gc_base of an unmarked object");
}

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

// ------------------------------------------------------- lazy sweeping

Test(collect, lazy_sweep_reuses_freed_slots_without_growing)
{
    enum { N = 10240, SIZE = 64, PER_SPAN = 8192 / SIZE };
    unsigned char **p = malloc(N * sizeof *p);
    uintptr_t *freed = malloc(N / 2 * sizeof *freed), *kept = malloc(N / 2 * sizeof *kept);
    uintptr_t *pages = malloc(N * sizeof *pages);
    cr_assert(p && freed && kept && pages);
    for (int i = 0; i < N; i++) {
        p[i] = gc_alloc(SIZE, true);
        cr_assert_not_null(p[i]);
        fill_pattern(p[i], SIZE, (uint64_t)i);
        pages[i] = (uintptr_t)p[i] >> 13;
    }
    for (int i = 0; i < N; i += 2)
        CHECK(gc_mark(p[i]), "gc_mark(object %d) returned false", i);
    gc_sweep();
    uint64_t sys0 = get_stats().heap_sys;
    for (int i = 0; i < N / 2; i++) {
        kept[i] = (uintptr_t)p[2 * i];
        freed[i] = (uintptr_t)p[2 * i + 1];
    }
    qsort(kept, N / 2, sizeof *kept, cmp_uintptr);
    qsort(freed, N / 2, sizeof *freed, cmp_uintptr);
    qsort(pages, N, sizeof *pages, cmp_uintptr);

    size_t from_freed = 0;
    for (int j = 0; j < N / 2; j++) {
        unsigned char *q = gc_alloc(SIZE, true);
        cr_assert_not_null(q);
        uintptr_t a = (uintptr_t)q, pg = a >> 13;
        CHECK(bsearch(&a, kept, N / 2, sizeof a, cmp_uintptr) == NULL,
              "new object %d got the address %p of a marked, live object", j, (void *)q);
        CHECK(bsearch(&pg, pages, N, sizeof pg, cmp_uintptr) != NULL,
              "new object %d at %p is outside the pages the class used before the sweep", j,
              (void *)q);
        CHECK_EQ(first_nonzero(q, SIZE), SIZE, "new object %d reusing a swept slot is not zero", j);
        if (bsearch(&a, freed, N / 2, sizeof a, cmp_uintptr) != NULL)
            from_freed++;
    }
    // All but at most one span's worth (a span that was not full before the
    // sweep) must come from the freed slots.
    CHECK_CMP(from_freed, >=, N / 2 - PER_SPAN, "new objects placed in slots freed by the sweep");
    CHECK_EQ(get_stats().heap_sys, sys0, "heap_sys after refilling the freed slots");
    for (int i = 0; i < N; i += 2)
        CHECK_EQ(check_pattern(p[i], SIZE, (uint64_t)i), SIZE,
                 "first damaged byte of surviving object %d", i);
    free(p);
    free(freed);
    free(kept);
    free(pages);
}

// ----------------------------------------------------------------- churn

enum { RING = 8192 };

struct parent {
    unsigned char *child;
    uint64_t seq;
    uint64_t len;
};

static struct parent **ring;

static void ring_roots(void *ctx)
{
    (void)ctx;
    for (int i = 0; i < RING; i++)
        gc_mark(ring[i]);
}

static void ring_trace(void *obj, size_t size, void *ctx)
{
    (void)size;
    (void)ctx;
    gc_mark(((struct parent *)obj)->child);
}

static void ring_check(int slot)
{
    struct parent *p = ring[slot];
    if (p == NULL)
        return;
    CHECK_PTR_EQ(gc_base(p), p, "gc_base of live ring parent %d (seq %ju)", slot,
                 (uintmax_t)p->seq);
    CHECK_EQ(p->seq % RING, (uint64_t)slot, "seq of ring parent %d", slot);
    unsigned char *c = p->child;
    CHECK(c != NULL, "ring parent %d has lost its child pointer", slot);
    CHECK_PTR_EQ(gc_base(c), c, "gc_base of live ring child %d (seq %ju)", slot, (uintmax_t)p->seq);
    unsigned char want = (unsigned char)(p->seq * 31 + 7);
    CHECK_EQ(c[0], want, "first byte of ring child %d", slot);
    CHECK_EQ(c[p->len / 2], want, "middle byte of ring child %d", slot);
    CHECK_EQ(c[p->len - 1], want, "last byte of ring child %d", slot);
}

Test(collect, churn_of_1gb_with_10mb_live_stays_bounded)
{
    uint64_t seed = test_seed();
    unsetenv("GCHEAP_GOGC"); // default GOGC
    ring = calloc(RING, sizeof *ring);
    cr_assert_not_null(ring);
    gc_set_roots(ring_roots, NULL);
    gc_set_trace(ring_trace, NULL);
    uint64_t total = 0, limit = scaled((size_t)1 << 30, 64u << 20);
    double t0 = now_seconds();
    for (uint64_t seq = 0; total < limit; seq++) {
        int slot = (int)(seq % RING);
        ring_check(slot);
        // Parent first, rooted at once: the child's allocation may collect.
        size_t plen = 24 + (size_t)rng_below(&seed, 232);
        struct parent *p = gc_alloc(plen, true);
        cr_assert_not_null(p);
        ring[slot] = p;
        p->seq = seq;
        p->len = 16 + rng_below(&seed, 2033);
        p->child = gc_alloc(p->len, false);
        cr_assert_not_null(p->child);
        memset(p->child, (unsigned char)(seq * 31 + 7), p->len);
        total += plen + p->len;
    }
    gc_stats s = get_stats();
    cr_log_info("churn: %.3f s, %ju collections, heap_sys %ju MiB", now_seconds() - t0,
                (uintmax_t)s.num_gc, (uintmax_t)(s.heap_sys >> 20));
    for (int i = 0; i < RING; i++)
        ring_check(i);
    CHECK_CMP(s.num_gc, >, 0, "automatic collections after allocating %ju bytes with GOGC=100",
              (uintmax_t)total);
    CHECK_CMP(s.heap_sys, <, 64u << 20, "heap_sys with ~10 MB live after allocating %ju bytes",
              (uintmax_t)total);
    free(ring);
}

// ------------------------------------------------------ large objects

static void *large_cur[10];

static void large_roots(void *ctx)
{
    (void)ctx;
    for (int i = 0; i < 10; i++)
        gc_mark(large_cur[i]);
}

Test(collect, repeated_large_cycles_do_not_grow_the_heap)
{
    uint64_t sys2 = 0;
    gc_stats s = {0};
    gc_set_roots(large_roots, NULL);
    for (int cycle = 1; cycle <= 100; cycle++) {
        for (int i = 0; i < 10; i++) {
            unsigned char *p = gc_alloc(1 << 20, i % 2 == 0);
            cr_assert_not_null(p);
            large_cur[i] = p;
            CHECK(p[0] == 0 && p[(1 << 20) - 1] == 0, "cycle %d: new 1 MiB object not zero", cycle);
            p[0] = p[(1 << 20) - 1] = 0xEE;
        }
        for (int i = 0; i < 10; i++)
            CHECK_EQ(((unsigned char *)large_cur[i])[0], 0xEE, "cycle %d: object %d overwritten",
                     cycle, i);
        memset(large_cur, 0, sizeof large_cur);
        gc_collect();
        s = get_stats();
        CHECK_EQ(s.heap_alloc, 0, "cycle %d: heap_alloc after collecting everything", cycle);
        if (cycle == 2)
            sys2 = s.heap_sys;
    }
    CHECK_CMP(s.heap_sys, <=, sys2, "heap_sys after cycle 100 vs after cycle 2");
}

// ------------------------------------------- gc_collect and GOGC

Test(collect, gc_collect_without_roots_hook_does_nothing)
{
    unsigned char *p[100];
    for (int i = 0; i < 100; i++) {
        p[i] = gc_alloc(16 + (size_t)i * 40, i % 2 == 0);
        fill_pattern(p[i], 16 + (size_t)i * 40, (uint64_t)i);
    }
    gc_stats s0 = get_stats();
    gc_collect();
    gc_stats s1 = get_stats();
    CHECK_EQ(s1.num_gc, s0.num_gc, "num_gc after gc_collect without a roots hook");
    CHECK_EQ(s1.heap_objects, s0.heap_objects,
             "heap_objects after gc_collect without a roots hook");
    for (int i = 0; i < 100; i++) {
        CHECK_PTR_EQ(gc_base(p[i]), p[i],
                     "gc_base of object %d after gc_collect without a roots hook", i);
        CHECK_EQ(check_pattern(p[i], 16 + (size_t)i * 40, (uint64_t)i), 16 + (size_t)i * 40,
                 "first damaged byte of object %d", i);
    }
}

Test(collect, gc_set_gogc_returns_the_previous_value)
{
    unsetenv("GCHEAP_GOGC");
    CHECK_EQ(gc_set_gogc(50), 100, "first gc_set_gogc (the default)");
    CHECK_EQ(gc_set_gogc(-1), 50, "gc_set_gogc(-1) after 50");
    CHECK_EQ((intmax_t)gc_set_gogc(-7), -1, "gc_set_gogc(-7) after off");
    CHECK_EQ((intmax_t)gc_set_gogc(200), -1, "gc_set_gogc(200) after off (-7 is off too)");
    CHECK_EQ(gc_set_gogc(100), 200, "gc_set_gogc(100) after 200");
    CHECK_EQ(gc_set_gogc(0), 100, "gc_set_gogc(0) after 100");
    CHECK_EQ(gc_set_gogc(100), 0, "gc_set_gogc(100) after 0");
}

Test(collect, gogc_off_disables_automatic_collection)
{
    unsetenv("GCHEAP_GOGC");
    gc_set_gogc(-1);
    gc_set_roots(no_roots, NULL); // everything is garbage, if it collected
    enum { NL = 100, NS = 100000 };
    void **large = malloc(NL * sizeof *large), **small = malloc(NS * sizeof *small);
    cr_assert(large && small);
    for (int i = 0; i < NL; i++) {
        large[i] = gc_alloc(1 << 20, false);
        CHECK(large[i] != NULL, "gc_alloc(1 MiB) number %d returned NULL", i);
    }
    for (int i = 0; i < NS; i++) {
        small[i] = gc_alloc(64, true);
        CHECK(small[i] != NULL, "gc_alloc(64) number %d returned NULL", i);
    }
    gc_stats s = get_stats();
    CHECK_EQ(s.num_gc, 0, "collections while allocating ~106 MB with GOGC off");
    for (int i = 0; i < NL; i++)
        CHECK_PTR_EQ(gc_base(large[i]), large[i], "gc_base of large object %d (GOGC off)", i);
    for (int i = 0; i < NS; i++)
        CHECK_PTR_EQ(gc_base(small[i]), small[i], "gc_base of small object %d (GOGC off)", i);
    // The same program collects once GOGC is back on: the heap is far past
    // next_gc.
    CHECK_EQ((intmax_t)gc_set_gogc(100), -1, "gc_set_gogc(100) after off");
    for (int i = 0; i < 128 && get_stats().num_gc == 0; i++)
        gc_alloc(64 << 10, false);
    CHECK_CMP(get_stats().num_gc, >, 0,
              "collections after turning GOGC back on and allocating 8 MiB");
    free(large);
    free(small);
}

// gc_collect_due: gcheap's pacing for a host that collects at safepoints
// (no roots hook while it allocates, so gc_alloc never collects itself).
Test(collect, gc_collect_due_follows_the_goal_without_a_roots_hook)
{
    unsetenv("GCHEAP_GOGC");
    CHECK(!gc_collect_due(), "a new heap is not due (next_gc is 4 MiB)");
    int n = 0;
    while (!gc_collect_due() && n < 1000) {
        CHECK(gc_alloc(64 << 10, false) != NULL, "gc_alloc(64 KiB) number %d", n);
        n++;
    }
    CHECK(gc_collect_due(), "due after %d x 64 KiB", n);
    gc_stats s = get_stats();
    CHECK_EQ(s.num_gc, 0, "no collection without a roots hook");
    CHECK_CMP((uint64_t)n * (64 << 10), >=, (uint64_t)3 << 20,
              "not due before about next_gc (4 MiB) was allocated: %d x 64 KiB", n);
    CHECK_CMP((uint64_t)n * (64 << 10), <=, (uint64_t)5 << 20,
              "due soon after next_gc (4 MiB) was allocated: %d x 64 KiB", n);
    gc_set_roots(no_roots, NULL);
    gc_collect();
    gc_set_roots(NULL, NULL);
    CHECK(!gc_collect_due(), "not due right after a collection freed everything");
    gc_set_gogc(-1);
    for (int i = 0; i < 200; i++)
        gc_alloc(64 << 10, false);
    CHECK(!gc_collect_due(), "never due with GOGC off");
    gc_set_gogc(100);
    CHECK(gc_collect_due(), "due again once GOGC is back on (12.5 MiB allocated)");
}

static void *pace_live[8];

static void pace_roots(void *ctx)
{
    (void)ctx;
    for (int i = 0; i < 8; i++)
        gc_mark(pace_live[i]);
}

Test(collect, next_gc_follows_gogc_and_triggers_collection)
{
    unsetenv("GCHEAP_GOGC");
    gc_set_roots(pace_roots, NULL);
    gc_set_gogc(-1);
    for (int i = 0; i < 8; i++)
        pace_live[i] = gc_alloc(1 << 20, false);
    for (int i = 0; i < 8; i++) // 8 MiB of garbage
        gc_alloc(1 << 20, i % 2 == 0);
    gc_set_gogc(100);
    gc_collect();
    gc_stats s = get_stats();
    CHECK_EQ(s.heap_alloc, 8u << 20, "heap_alloc after collecting with 8 MiB live");
    CHECK_EQ(s.live_after_gc, 8u << 20, "live_after_gc after collecting with 8 MiB live");
    CHECK_EQ(s.next_gc, 16u << 20, "next_gc with 8 MiB live and GOGC=100 (live * 2)");
    gc_set_gogc(50);
    gc_collect();
    s = get_stats();
    CHECK_EQ(s.next_gc, 12u << 20, "next_gc with 8 MiB live and GOGC=50 (live * 1.5)");
    for (int i = 1; i < 8; i++)
        pace_live[i] = NULL;
    gc_collect();
    s = get_stats();
    CHECK_EQ(s.live_after_gc, 1u << 20, "live_after_gc with 1 MiB live");
    CHECK_EQ(s.next_gc, 4u << 20, "next_gc with 1 MiB live and GOGC=50 (the 4 MiB floor)");

    // Automatic collection: allocate garbage until a collection happens;
    // until then heap_alloc must never pass next_gc.
    gc_set_gogc(100);
    uint64_t gcs = s.num_gc;
    int i = 0;
    for (; i < 200; i++) {
        cr_assert_not_null(gc_alloc(64 << 10, false));
        s = get_stats();
        if (s.num_gc != gcs)
            break;
        CHECK_CMP(s.heap_alloc, <=, s.next_gc, "heap_alloc after %d garbage allocations of 64 KiB",
                  i + 1);
    }
    CHECK_CMP(s.num_gc, >, gcs, "collections after allocating %d x 64 KiB past a 4 MiB next_gc", i);
    CHECK_PTR_EQ(gc_base(pace_live[0]), pace_live[0],
                 "gc_base of the rooted object after automatic collection");
}

// ------------------------------------------------- misbehaving hooks

static unsigned char *victim;

static void trace_allocs(void *obj, size_t size, void *ctx)
{
    (void)obj, (void)size, (void)ctx;
    gc_alloc(16, true);
}
static void trace_sweeps(void *obj, size_t size, void *ctx)
{
    (void)obj, (void)size, (void)ctx;
    gc_sweep();
}
static void trace_collects(void *obj, size_t size, void *ctx)
{
    (void)obj, (void)size, (void)ctx;
    gc_collect();
}
static void roots_allocs(void *ctx)
{
    (void)ctx;
    gc_mark(victim);
    gc_alloc(16, true);
}
static void roots_sweeps(void *ctx)
{
    (void)ctx;
    gc_mark(victim);
    gc_sweep();
}
static void roots_collects(void *ctx)
{
    (void)ctx;
    gc_mark(victim);
    gc_collect();
}
static void roots_victim(void *ctx)
{
    (void)ctx;
    gc_mark(victim);
}

// For the Tests that expect SIGABRT: the abort message is checked by the
// last Test; here it would only clutter the runner's output.
static void quiet_stderr(void)
{
    int fd = open("/dev/null", O_WRONLY);
    if (fd >= 0) {
        dup2(fd, 2);
        close(fd);
    }
}

// Through gc_mark alone (no roots hook).
static void run_trace_hook(gc_trace_fn fn)
{
    gc_set_trace(fn, NULL);
    victim = gc_alloc(64, true);
    gc_mark(victim);
}
static void run_trace_allocs(void)
{
    run_trace_hook(trace_allocs);
}
static void run_trace_sweeps(void)
{
    run_trace_hook(trace_sweeps);
}
static void run_trace_collects(void)
{
    run_trace_hook(trace_collects);
}

// Through gc_collect.
static void run_roots_hook(gc_roots_fn fn, gc_trace_fn trace)
{
    victim = gc_alloc(64, true);
    gc_set_trace(trace, NULL);
    gc_set_roots(fn, NULL);
    gc_collect();
}
static void run_roots_allocs(void)
{
    run_roots_hook(roots_allocs, NULL);
}
static void run_roots_sweeps(void)
{
    run_roots_hook(roots_sweeps, NULL);
}
static void run_roots_collects(void)
{
    run_roots_hook(roots_collects, NULL);
}
static void run_collect_trace_allocs(void)
{
    run_roots_hook(roots_victim, trace_allocs);
}

Test(collect, trace_hook_calling_gc_alloc_aborts, .signal = SIGABRT, .init = quiet_stderr)
{
    run_trace_allocs();
}

Test(collect, roots_hook_calling_gc_collect_aborts, .signal = SIGABRT, .init = quiet_stderr)
{
    run_roots_collects();
}

Test(collect, trace_hook_calling_gc_sweep_aborts, .signal = SIGABRT, .init = quiet_stderr)
{
    run_trace_sweeps();
}

Test(collect, misbehaving_hooks_abort_with_one_gcheap_line_on_stderr)
{
    static const struct {
        const char *what;
        void (*fn)(void);
    } cases[] = {
        {"trace hook calls gc_alloc (via gc_mark)", run_trace_allocs},
        {"trace hook calls gc_sweep (via gc_mark)", run_trace_sweeps},
        {"trace hook calls gc_collect (via gc_mark)", run_trace_collects},
        {"trace hook calls gc_alloc (via gc_collect)", run_collect_trace_allocs},
        {"roots hook calls gc_alloc", run_roots_allocs},
        {"roots hook calls gc_sweep", run_roots_sweeps},
        {"roots hook calls gc_collect", run_roots_collects},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct child_result r;
        run_child(cases[i].fn, &r);
        CHECK(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGABRT,
              "%s: expected death by SIGABRT, got %s %d; stderr: \"%s\"", cases[i].what,
              WIFSIGNALED(r.status) ? "signal" : "exit status",
              WIFSIGNALED(r.status) ? WTERMSIG(r.status) : WEXITSTATUS(r.status), r.err);
        CHECK(strncmp(r.err, "gcheap: ", 8) == 0,
              "%s: stderr must start with \"gcheap: \", got \"%s\"", cases[i].what, r.err);
        const char *nl = strchr(r.err, '\n');
        CHECK(nl != NULL && nl[1] == '\0', "%s: stderr must be exactly one line, got \"%s\"",
              cases[i].what, r.err);
    }
}

// ------------------------------------------- gc_mark inside a drain
//
// The trace hook's gc_mark calls take a path of their own (mark.c): a span
// cache, the alloc bit read as "allocated" for objects that survived a
// sweep with a window test for the others, and, inside gc_collect, plain
// stores instead of a CAS. The hook below passes that path the values a
// host may pass (NULL, non-heap addresses, free slots inside and outside
// the allocating window, interior pointers), and reaches survivors and
// fresh objects twice each; every cycle, through gc_collect and through
// gc_mark + gc_sweep, must answer as outside a drain and trace each object
// once. The holder's pointers outnumber the mark stack's first capacity,
// so the stack also grows in the middle of a drain.

// DFREE80 80-byte objects fill one span of 102 slots but for two, so that
// their span stays in use while d80[0] lives.
enum { DKEPT = 64, DFRESH = 3000, DFREE80 = 100, DPROBES = 10 };

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
    };
    memcpy(dprobe, probes, sizeof probes);
    memset(dprobe_got, 0, sizeof dprobe_got);
    memset(dtraced, 0, (DKEPT + DFRESH) * sizeof *dtraced);
    dholder_traced = 0;
    dbad_size = 0;
}

static void drain_check(const char *how, int cycle)
{
    static const bool want[DPROBES] = {false, false, false, false, false,
                                       false, true,  false, true,  false};
    for (int i = 0; i < DPROBES; i++)
        CHECK_EQ(dprobe_got[i], want[i], "%s (cycle %d): gc_mark(probe %d = %p) in the trace hook",
                 how, cycle, i, (void *)dprobe[i]);
    CHECK_EQ(dholder_traced, 1, "%s (cycle %d): times the holder was traced", how, cycle);
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
    gc_collect(); // frees d80[1..]; the kept dnodes survive with alloc bits set

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

// After a lazy gc_sweep, the pacer starts from the marked bytes: garbage
// that no sweep has freed yet does not make the next collection due.
// (It did: heap_live kept the unswept garbage until it was swept, and a
// host ending its cycles with gc_sweep collected half again as often as
// one using gc_collect, 966 times against 626 in bench/alloc_throughput.)
Test(collect, gc_collect_due_ignores_garbage_a_lazy_sweep_has_not_freed)
{
    unsetenv("GCHEAP_GOGC");
    gc_set_gogc(-1); // no goal while the garbage is made
    void *live = gc_alloc(1 << 20, false);
    CHECK(live != NULL, "gc_alloc(1 MiB)");
    for (int i = 0; i < (16 << 10); i++) // 16 MiB of 1 KiB garbage
        CHECK(gc_alloc(1024, i % 2 == 0) != NULL, "gc_alloc(1 KiB) number %d", i);
    gc_set_gogc(100);
    CHECK(gc_collect_due(), "17 MiB allocated is past the first goal (4 MiB)");
    gc_mark(live);
    gc_sweep();
    gc_stats s = get_stats();
    CHECK_CMP(s.heap_alloc, >=, (uint64_t)16 << 20, "the garbage is not swept yet (lazy)");
    CHECK_EQ(s.live_after_gc, 1u << 20, "the marked bytes: the 1 MiB object");
    CHECK_EQ(s.next_gc, 4u << 20, "next_gc: the 4 MiB floor");
    CHECK(!gc_collect_due(), "not due: 1 MiB live against a 4 MiB goal");
    // Allocating sweeps the garbage's spans and reuses them; the pacer
    // counts only the new objects, 3 MiB of them before the goal.
    uint64_t n = 0;
    while (!gc_collect_due() && n < (64 << 10)) {
        CHECK(gc_alloc(1024, false) != NULL, "gc_alloc(1 KiB) after the sweep");
        n++;
    }
    CHECK(gc_collect_due(), "due after %llu x 1 KiB", (unsigned long long)n);
    CHECK_CMP(n * 1024, >=, (uint64_t)5 << 19, "not due before about 3 MiB more: %llu KiB",
              (unsigned long long)n);
    CHECK_CMP(n * 1024, <=, (uint64_t)7 << 19, "due by about 3 MiB more: %llu KiB",
              (unsigned long long)n);
}

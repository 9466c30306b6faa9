// test_collect.c: black-box tests of the collector (issue "collector"): the
// mark/sweep protocol with and without hooks (random graphs against a
// model, noscan objects, manual marking, gc_mark_range), allocate-black and
// marking a deep list on a small stack. The rest of the collector's tests:
// test_collect_marking.c (marking from several threads, gc_mark inside a
// drain, gc_mark_roots) and test_collect_cycles.c (lazy sweeping, churn,
// large objects, gc_collect and its pacing, hooks that break the rules).
//
// Each Test runs in its own forked process, so hooks and GOGC set by one
// Test do not leak into another, and statistics start from zero.
#include "util.h"

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
    // Unreachable. Of another size class than the nodes and the 16-byte
    // objects allocated after the sweep, which may reuse a swept node
    // slot: whether they reach this one's first depends on the order
    // spans are swept in, not on the contract.
    struct lnode *garbage = gc_alloc(48, true);
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

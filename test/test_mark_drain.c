// White-box tests of the order in which the drain traces (mark.c,
// mark_drain_run): depth first, last pushed first, except that an entry
// whose gc_mark missed the span cache and that lies away from the object
// traced just before is parked in the prefetch ring and traced later.
//
// Each test records the order the trace hook sees and compares it with the
// order of a plain depth-first walk (a stack, no ring) over the same graph.
// A heap laid out in traversal order must be walked exactly so: parking
// the entries pushed across a span boundary there breaks the address-
// ordered walk (session 12, bench/NOTES.md). A graph scattered over the
// heap must not be: without the ring every pop there waits for memory.
#include "../src/internal.h"

#include <criterion/criterion.h>
#include <stdlib.h>

struct tnode {
    struct tnode *left, *right; // 16 bytes: 512 to an 8 KiB span
};

static struct tnode **order; // what the trace hook saw, in order
static size_t norder, order_cap;
static struct tnode *troot;

static void trace_record(void *obj, size_t size, void *ctx)
{
    (void)size, (void)ctx;
    cr_assert_lt(norder, order_cap, "no object traced twice in a cycle");
    struct tnode *n = obj;
    order[norder++] = n;
    gc_mark(n->left); // pushed first, so popped after right's subtree
    gc_mark(n->right);
}

static void roots_record(void *ctx)
{
    (void)ctx;
    gc_mark(troot);
}

// The order of a depth-first walk with the hook's push order and no ring.
static size_t walk_lifo(struct tnode *root, struct tnode **out, size_t cap)
{
    struct tnode **stack = malloc(cap * sizeof *stack);
    cr_assert_not_null(stack);
    size_t top = 0, n = 0;
    stack[top++] = root;
    while (top > 0) {
        struct tnode *t = stack[--top];
        cr_assert_lt(n, cap);
        out[n++] = t;
        if (t->left != NULL)
            stack[top++] = t->left;
        if (t->right != NULL)
            stack[top++] = t->right;
    }
    free(stack);
    return n;
}

// Traces the graph under troot by gc_collect (the exclusive drain,
// differ[0]) and by gc_mark outside it (the shared one, differ[1]); sets
// how many of the n positions of each recorded order differ from the plain
// walk's.
static void traced_out_of_order(size_t n, size_t differ[2])
{
    struct tnode **want = malloc(n * sizeof *want);
    order = malloc(n * sizeof *order);
    cr_assert(want != NULL && order != NULL);
    order_cap = n;
    cr_assert_eq(walk_lifo(troot, want, n), n);
    gc_set_trace(trace_record, NULL);
    for (int round = 0; round < 2; round++) {
        norder = 0;
        if (round == 0) {
            gc_set_roots(roots_record, NULL);
            gc_collect();
            gc_set_roots(NULL, NULL);
        } else {
            cr_assert(gc_mark(troot), "the root is newly marked");
            gc_sweep();
        }
        cr_assert_eq(norder, n, "round %d: every node traced once (%zu of %zu)", round, norder, n);
        differ[round] = 0;
        for (size_t i = 0; i < n; i++)
            differ[round] += order[i] != want[i];
    }
    free(want);
    free(order);
}

// A balanced tree of depth d, children allocated before their parent.
static struct tnode *tree_bottom_up(int d)
{
    struct tnode *l = d > 0 ? tree_bottom_up(d - 1) : NULL;
    struct tnode *r = d > 0 ? tree_bottom_up(d - 1) : NULL;
    struct tnode *t = gc_alloc(sizeof *t, true);
    cr_assert_not_null(t);
    t->left = l;
    t->right = r;
    return t;
}

Test(mark_drain, a_tree_laid_out_in_traversal_order_is_walked_depth_first)
{
    enum { DEPTH = 12, N = (1 << (DEPTH + 1)) - 1 }; // 8191 nodes over 16 spans
    gc_set_gogc(-1);
    troot = tree_bottom_up(DEPTH);
    // The walk meets every span boundary of the tree: the left child of a
    // node whose right subtree fills the rest of a span lies in the span
    // below, a span-cache miss when its parent is traced. In a fresh heap
    // the spans follow each other in memory, which is what the test needs:
    // each such child is then popped right after its neighbour in memory.
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    struct tnode **all = malloc(N * sizeof *all);
    cr_assert_not_null(all);
    cr_assert_eq(walk_lifo(troot, all, N), (size_t)N);
    for (size_t i = 0; i < N; i++) {
        uintptr_t a = (uintptr_t)all[i];
        lo = a < lo ? a : lo;
        hi = a > hi ? a : hi;
    }
    free(all);
    if (hi - lo >= (uintptr_t)N * sizeof(struct tnode) + GCH_PAGE_SIZE)
        cr_skip_test("the tree's spans are not contiguous (%zu bytes for %d nodes)",
                     (size_t)(hi - lo), N);
    size_t differ[2];
    traced_out_of_order(N, differ);
    for (int d = 0; d < 2; d++)
        cr_assert_eq(differ[d], 0, "%s drain: %zu of %d nodes traced out of depth-first order",
                     d == 0 ? "exclusive" : "shared", differ[d], N);
}

Test(mark_drain, a_graph_scattered_over_the_heap_goes_through_the_ring)
{
    enum { N = 20000 };
    gc_set_gogc(-1);
    // The nodes of a balanced tree (node i's children are 2i+1 and 2i+2)
    // placed in random order over 40 spans: a node's children are seldom
    // in the span of the object marked before them, or near it.
    struct tnode **v = malloc(N * sizeof *v);
    cr_assert_not_null(v);
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < N; i++) {
        v[i] = gc_alloc(sizeof(struct tnode), true);
        cr_assert_not_null(v[i]);
    }
    for (size_t i = N - 1; i > 0; i--) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t j = (size_t)(x % (i + 1));
        struct tnode *t = v[i];
        v[i] = v[j];
        v[j] = t;
    }
    for (size_t i = 0; i < N; i++) {
        v[i]->left = 2 * i + 1 < N ? v[2 * i + 1] : NULL;
        v[i]->right = 2 * i + 2 < N ? v[2 * i + 2] : NULL;
    }
    troot = v[0];
    free(v);
    // Both drains park most entries: few are popped in the plain walk's
    // place.
    size_t differ[2];
    traced_out_of_order(N, differ);
    for (int d = 0; d < 2; d++)
        cr_assert_gt(differ[d], N / 2,
                     "%s drain: only %zu of %d nodes traced out of depth-first order",
                     d == 0 ? "exclusive" : "shared", differ[d], N);
}

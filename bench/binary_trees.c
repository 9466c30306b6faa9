// binary_trees.c: GCBench / the Benchmarks Game's binary-trees on one
// backend (backend.h). binary_trees.go is the same program for Go's runtime.
//
//   binary_trees DEPTH
//
// Shape (max = max(DEPTH, 6)): a stretch tree of depth max + 1, built,
// counted and dropped; a long-lived tree of depth max, kept to the end; then
// for d = 4, 6, ..., max: 2^(max - d + 4) trees of depth d, each built,
// counted and dropped. A tree of depth d has 2^(d+1) - 1 nodes of two
// pointers (16 bytes). The checksum is the total of every count, the same
// for every backend.
//
// Trees are built bottom-up, children before their parent, as the Go
// program does. For gcheap, whose roots are precise, a subtree built but not
// yet linked into its parent is kept on a small explicit root stack that the
// roots hook marks, so any gc_alloc may collect; the malloc backends free
// each dropped tree explicitly, depth first.
#include "backend.h"

struct node {
    struct node *left, *right;
};

#if BACKEND_GCHEAP
// Subtrees not yet linked into their parent: at most two per level.
static struct node *root_stack[2 * 64];
static int root_len;
static struct node *long_lived;

static void bt_trace(void *obj, size_t size, void *ctx)
{
    struct node *n = obj;
    (void)size, (void)ctx;
    gc_mark(n->left);
    gc_mark(n->right);
}

static void bt_roots(void *ctx)
{
    (void)ctx;
    for (int i = 0; i < root_len; i++)
        gc_mark(root_stack[i]);
    gc_mark(long_lived);
}

static inline void root_push(struct node *n)
{
    root_stack[root_len++] = n;
}

static inline void root_pop(int k)
{
    root_len -= k;
}
#else
static inline void root_push(struct node *n)
{
    (void)n;
}

static inline void root_pop(int k)
{
    (void)k;
}
#endif

static struct node *make(int depth)
{
    struct node *n;
    if (depth == 0) {
        n = bk_alloc(sizeof *n, true);
        n->left = n->right = NULL;
        return n;
    }
    struct node *l = make(depth - 1);
    root_push(l);
    struct node *r = make(depth - 1);
    root_push(r);
    n = bk_alloc(sizeof *n, true);
    n->left = l;
    n->right = r;
    root_pop(2);
    return n;
}

static uint64_t check(const struct node *n)
{
    if (n->left == NULL)
        return 1;
    return 1 + check(n->left) + check(n->right);
}

static void drop(struct node *n)
{
    if (!BACKEND_MALLOC)
        return; // the collector's job
    if (n->left != NULL) {
        drop(n->left);
        drop(n->right);
    }
    bk_free(n);
}

int main(int argc, char **argv)
{
    int max = argc > 1 ? atoi(argv[1]) : 19;
    if (max < 6)
        max = 6;
    bk_init();
#if BACKEND_GCHEAP
    gc_set_trace(bt_trace, NULL);
    gc_set_roots(bt_roots, NULL);
#endif
    uint64_t checksum = 0;

    struct node *stretch = make(max + 1);
    uint64_t c = check(stretch);
    checksum += c;
    printf("stretch tree of depth %d\t check: %llu\n", max + 1, (unsigned long long)c);
    drop(stretch);

    struct node *lived = make(max);
#if BACKEND_GCHEAP
    long_lived = lived;
#endif
    for (int d = 4; d <= max; d += 2) {
        uint64_t iterations = (uint64_t)1 << (max - d + 4);
        c = 0;
        for (uint64_t i = 0; i < iterations; i++) {
            struct node *t = make(d);
            c += check(t);
            drop(t);
        }
        checksum += c;
        printf("%llu\t trees of depth %d\t check: %llu\n", (unsigned long long)iterations, d,
               (unsigned long long)c);
    }
    c = check(lived);
    checksum += c;
    printf("long lived tree of depth %d\t check: %llu\n", max, (unsigned long long)c);
    drop(lived);
    bk_report(checksum);
    return 0;
}

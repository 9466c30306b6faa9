// micro.c: micro-benchmarks of gcheap's own paths, against the goals of the
// benchmark issue. run.sh runs each subcommand and prints the figures next
// to their goals.
//
//   micro fastpath alloc|base N
//       N allocations of 16 bytes with has_ptrs = true (alloc), or the same
//       loop without the gc_alloc call (base). Automatic collection is off
//       (gc_set_gogc(-1), no roots hook), so nothing is ever collected.
//       Meant for callgrind: (Ir(alloc) - Ir(base)) / N is the average cost
//       of an allocation, the slow paths (a new 64-slot window every 64
//       objects, a new span every 512, heap growth) amortised in. Goal: <= 20.
//
//   micro sweep MB REPS
//       Allocates MB MiB of 64-byte pointer-bearing objects (no collection,
//       as above), then, REPS times:
//         gc_mark(NULL)        begins a mark phase, which first finishes the
//                              sweep left by the previous gc_sweep: timed, it
//                              is the full-sweep throughput (heap bytes in
//                              spans / seconds) of a heap whose objects all
//                              survive;
//         gc_mark every object (no trace hook: one call per object), timed;
//         gc_sweep()           timed: its return time on an all-live heap.
//       Then, REPS times, the shape: gc_mark of one object, gc_sweep
//       (timed), gc_mark(NULL) (timed: sweeping MB MiB of garbage, which
//       frees the spans), and the heap allocated again for the next round.
//       Goals: gc_sweep <= 50 us on 1 GiB; sweep >= 10 GB/s.
//
//   micro mark N REPS
//       A linked list of N 16-byte nodes and a balanced binary tree of N
//       16-byte nodes, marked through the trace hook: each round begins a
//       mark phase (gc_mark(NULL), untimed), times gc_mark(list head) and
//       gc_mark(tree root), which trace the whole structure before
//       returning, and ends with gc_sweep. Goal: >= 100 M objects/s.
//       Both are laid out in traversal order, as allocation leaves them; a
//       third structure, a balanced tree of N nodes placed in random order
//       (mark_scattered), shows the cost of cache misses and what the
//       drain's prefetching saves (no goal).
//       Also printed per CPU second of the marking thread (*_cpu_mops),
//       which a loaded machine disturbs less. Then the same tree, same
//       layout, marked by the floor marker (mark_floor_*, see "marking
//       floor" below): what any marker driven by a per-object trace hook
//       costs here, to read the tree figure against.
//
// Each timed figure is the median of REPS (min and max printed too), from
// clock_gettime(CLOCK_MONOTONIC). Output lines are "key value unit" for
// run.sh.
#define _GNU_SOURCE 1 // clock_gettime under -std=c11

#include <gcheap.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

// CPU seconds of the calling thread: on a shared machine, the figure to
// compare variants by (wall time also counts the time others ran).
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// Prints "key median unit (min .. max)" of v[0..n), scaled by scale.
static void report(const char *key, double *v, int n, double scale, const char *unit)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    double med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    printf("%s %.6g %s (min %.6g, max %.6g, n=%d)\n", key, med * scale, unit, v[0] * scale,
           v[n - 1] * scale, n);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (p == NULL) {
        fprintf(stderr, "micro: out of memory\n");
        exit(1);
    }
    return p;
}

static void *xalloc(size_t size, bool has_ptrs)
{
    void *p = gc_alloc(size, has_ptrs);
    if (p == NULL) {
        fprintf(stderr, "micro: gc_alloc(%zu) returned NULL\n", size);
        exit(1);
    }
    return p;
}

// ----------------------------------------------------------------- fastpath

static char base_object[16];

__attribute__((noinline)) static void loop_alloc(long n)
{
    for (long i = 0; i < n; i++) {
        void *p = gc_alloc(16, true);
        __asm__ volatile("" : : "r"(p) : "memory");
    }
}

__attribute__((noinline)) static void loop_base(long n)
{
    for (long i = 0; i < n; i++) {
        void *p = base_object;
        __asm__ volatile("" : : "r"(p) : "memory");
    }
}

static int cmd_fastpath(int argc, char **argv)
{
    if (argc != 2 || (strcmp(argv[0], "alloc") != 0 && strcmp(argv[0], "base") != 0)) {
        fprintf(stderr, "usage: micro fastpath alloc|base N\n");
        return 2;
    }
    long n = atol(argv[1]);
    gc_set_gogc(-1); // both variants initialise the library the same way
    if (strcmp(argv[0], "alloc") == 0)
        loop_alloc(n);
    else
        loop_base(n);
    printf("fastpath_%s_done %ld allocations\n", argv[0], n);
    return 0;
}

// -------------------------------------------------------------------- sweep

enum { SWEEP_OBJ = 64 };

static void **sweep_fill(size_t count)
{
    void **objs = xmalloc(count * sizeof *objs);
    for (size_t i = 0; i < count; i++)
        objs[i] = xalloc(SWEEP_OBJ, true);
    return objs;
}

static int cmd_sweep(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: micro sweep MB REPS\n");
        return 2;
    }
    size_t mb = strtoul(argv[0], NULL, 10);
    int reps = atoi(argv[1]);
    if (reps < 1)
        reps = 1;
    size_t count = (mb << 20) / SWEEP_OBJ;
    gc_set_gogc(-1);
    double t0 = now();
    void **objs = sweep_fill(count);
    double fill_s = now() - t0;
    gc_stats st;
    gc_get_stats(&st);
    double heap = (double)st.heap_inuse;
    printf("sweep_heap %.1f MiB in spans, %zu objects of %d bytes, allocated in %.3f s\n",
           heap / 1048576, count, SWEEP_OBJ, fill_s);

    // All live: the heap survives every round.
    double *live_sweep = xmalloc((size_t)reps * sizeof(double));
    double *mark_all = xmalloc((size_t)reps * sizeof(double));
    double *ret_live = xmalloc((size_t)reps * sizeof(double));
    for (int r = 0; r <= reps; r++) {
        double a = now();
        gc_mark(NULL);
        double b = now();
        if (r > 0)
            live_sweep[r - 1] = b - a;
        if (r == reps)
            break;
        for (size_t i = 0; i < count; i++)
            gc_mark(objs[i]);
        double c = now();
        gc_sweep();
        double d = now();
        mark_all[r] = c - b;
        ret_live[r] = d - c;
    }
    gc_sweep(); // closes the phase the last gc_mark(NULL) opened: all garbage

    // Garbage: one object marked, the rest freed by the sweep. Each round
    // allocates the heap again (untimed), reusing what the last one freed.
    double *ret_dead = xmalloc((size_t)reps * sizeof(double));
    double *dead_sweep = xmalloc((size_t)reps * sizeof(double));
    double dead_heap = 0;
    for (int r = 0; r < reps; r++) {
        free(objs);
        objs = sweep_fill(count);
        gc_get_stats(&st);
        dead_heap = (double)st.heap_inuse;
        gc_mark(objs[0]);
        double a = now();
        gc_sweep();
        double b = now();
        gc_mark(NULL);
        double c = now();
        gc_sweep();
        ret_dead[r] = b - a;
        dead_sweep[r] = c - b;
    }
    free(objs);

    report("sweep_return_live_us", ret_live, reps, 1e6, "us");
    report("sweep_return_dead_us", ret_dead, reps, 1e6, "us");
    for (int r = 0; r < reps; r++) {
        live_sweep[r] = heap / live_sweep[r];
        dead_sweep[r] = dead_heap / dead_sweep[r];
        mark_all[r] = (double)count / mark_all[r];
    }
    report("sweep_full_live_gbps", live_sweep, reps, 1e-9, "GB/s");
    report("sweep_full_dead_gbps", dead_sweep, reps, 1e-9, "GB/s");
    report("mark_host_mops", mark_all, reps, 1e-6, "M objects/s");
    return 0;
}

// --------------------------------------------------------------------- mark

struct node {
    struct node *a, *b; // list: next, NULL; tree: left, right
};

static struct node *volatile list_head, *volatile tree_root, *volatile scattered_root;

static void mark_trace(void *obj, size_t size, void *ctx)
{
    struct node *n = obj;
    (void)size, (void)ctx;
    gc_mark(n->a);
    gc_mark(n->b);
}

// A balanced tree of n nodes, children allocated (by new_node) before
// their parent.
static struct node *build_tree(size_t n, struct node *(*new_node)(void))
{
    if (n == 0)
        return NULL;
    size_t left = (n - 1) / 2;
    struct node *l = build_tree(left, new_node);
    struct node *r = build_tree(n - 1 - left, new_node);
    struct node *t = new_node();
    t->a = l;
    t->b = r;
    return t;
}

// A node from gcheap (nothing collects here: no roots hook).
static struct node *gc_node(void)
{
    return xalloc(sizeof(struct node), true);
}

// A balanced tree of n nodes placed in random order over the heap (node i
// of a shuffled array has children 2i+1 and 2i+2): nearly every object the
// marker reaches is a cache miss unless it was prefetched.
static struct node *mark_scattered(size_t n)
{
    if (n == 0)
        return NULL;
    struct node **v = xmalloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = xalloc(sizeof(struct node), true);
    uint64_t x = 88172645463325252ull; // xorshift64, fixed seed
    for (size_t i = n - 1; i > 0; i--) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t j = (size_t)(x % (i + 1));
        struct node *t = v[i];
        v[i] = v[j];
        v[j] = t;
    }
    for (size_t i = 0; i < n; i++) {
        v[i]->a = 2 * i + 1 < n ? v[2 * i + 1] : NULL;
        v[i]->b = 2 * i + 2 < n ? v[2 * i + 2] : NULL;
    }
    struct node *root = v[0];
    free(v);
    return root;
}

// ----------------------------------------------------------- marking floor
//
// A reference point for the tree figure: a marker of the shape gcheap's
// contract gives (the trace hook called through a pointer for each object,
// one out-of-line call per pointer field, a LIFO stack, a mark bitmap)
// that does nothing else. Its heap is one array of 16-byte nodes, so its
// mark function needs no span lookup, no division, no test that the slot
// holds an object, no object size for the hook and no count of marked
// bytes; it pushes 8-byte entries. What gcheap's gc_mark does beyond it is
// what a heap of size classes and a gc_mark that accepts any value must
// do. The tree has build_tree's shape and layout (children before their
// parent, in address order). FLOOR_OPAQUE keeps gcc from specialising the
// calls to floor_mark as it cannot specialise calls into the library.

#if defined(__GNUC__) && !defined(__clang__)
#define FLOOR_OPAQUE __attribute__((noipa))
#else
#define FLOOR_OPAQUE __attribute__((noinline))
#endif

static struct {
    struct node *base, *next; // the node array; next: the first unused
    uint64_t *bits;           // one mark bit per node
    struct node **stack, **top;
} fl;

// The next node of the floor marker's array.
static struct node *floor_node(void)
{
    return fl.next++;
}

FLOOR_OPAQUE static bool floor_mark(const void *p)
{
    if (p == NULL)
        return false;
    size_t i = (size_t)((const struct node *)p - fl.base);
    uint64_t *w = &fl.bits[i / 64], bit = (uint64_t)1 << (i % 64);
    if (*w & bit)
        return false;
    *w |= bit;
    *fl.top++ = (struct node *)p;
    return true;
}

static void floor_trace(void *obj)
{
    struct node *n = obj;
    floor_mark(n->a);
    floor_mark(n->b);
}

static void (*volatile floor_hook)(void *) = floor_trace;

static void floor_drain(void)
{
    void (*trace)(void *) = floor_hook;
    while (fl.top != fl.stack)
        trace(*--fl.top);
}

// Times REPS markings of an n-node tree by the floor marker, in rates per
// wall and per CPU second; fails if a marking missed a node.
static int floor_run(size_t n, int reps, double *rate, double *rate_cpu)
{
    size_t words = n / 64 + 1;
    fl.base = fl.next = xmalloc(n * sizeof(struct node));
    fl.bits = xmalloc(words * sizeof(uint64_t));
    fl.stack = fl.top = xmalloc(n * sizeof(struct node *));
    struct node *root = build_tree(n, floor_node);
    int bad = 0;
    for (int r = 0; r < reps; r++) {
        memset(fl.bits, 0, words * sizeof(uint64_t));
        double a = now(), ac = cpu_now();
        floor_mark(root);
        floor_drain();
        double b = now(), bc = cpu_now();
        rate[r] = (double)n / (b - a);
        rate_cpu[r] = (double)n / (bc - ac);
        size_t marked = 0;
        for (size_t i = 0; i < words; i++)
            marked += (size_t)__builtin_popcountll(fl.bits[i]);
        if (marked != n) {
            fprintf(stderr, "micro: the floor marker marked %zu of %zu nodes\n", marked, n);
            bad = 1;
        }
    }
    free(fl.base);
    free(fl.bits);
    free(fl.stack);
    return bad;
}

static int cmd_mark(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: micro mark N REPS\n");
        return 2;
    }
    size_t n = strtoul(argv[0], NULL, 10);
    int reps = atoi(argv[1]);
    if (reps < 1)
        reps = 1;
    gc_set_gogc(-1);
    gc_set_trace(mark_trace, NULL);
    struct node *head = NULL;
    for (size_t i = 0; i < n; i++) {
        struct node *x = xalloc(sizeof *x, true);
        x->a = head;
        head = x;
    }
    list_head = head;
    tree_root = build_tree(n, gc_node);
    scattered_root = mark_scattered(n);

    double *list = xmalloc((size_t)reps * sizeof(double));
    double *tree = xmalloc((size_t)reps * sizeof(double));
    double *list_cpu = xmalloc((size_t)reps * sizeof(double));
    double *tree_cpu = xmalloc((size_t)reps * sizeof(double));
    double *scat = xmalloc((size_t)reps * sizeof(double));
    double *scat_cpu = xmalloc((size_t)reps * sizeof(double));
    for (int r = 0; r < reps; r++) {
        gc_mark(NULL);
        double a = now(), ac = cpu_now();
        gc_mark(list_head);
        double b = now(), bc = cpu_now();
        gc_mark(tree_root);
        double c = now(), cc = cpu_now();
        gc_mark(scattered_root);
        double d = now(), dc = cpu_now();
        gc_sweep();
        list[r] = (double)n / (b - a);
        tree[r] = (double)n / (c - b);
        list_cpu[r] = (double)n / (bc - ac);
        tree_cpu[r] = (double)n / (cc - bc);
        scat[r] = (double)n / (d - c);
        scat_cpu[r] = (double)n / (dc - cc);
    }
    gc_stats st;
    gc_get_stats(&st);
    if (st.heap_objects < 3 * n) {
        fprintf(stderr, "micro: marking lost objects: %llu live, want %zu\n",
                (unsigned long long)st.heap_objects, 3 * n);
        return 1;
    }
    printf("mark_objects %zu per structure\n", n);
    report("mark_list_mops", list, reps, 1e-6, "M objects/s");
    report("mark_tree_mops", tree, reps, 1e-6, "M objects/s");
    report("mark_list_cpu_mops", list_cpu, reps, 1e-6, "M objects/CPU s");
    report("mark_tree_cpu_mops", tree_cpu, reps, 1e-6, "M objects/CPU s");
    report("mark_scattered_mops", scat, reps, 1e-6, "M objects/s");
    report("mark_scattered_cpu_mops", scat_cpu, reps, 1e-6, "M objects/CPU s");
    if (floor_run(n, reps, tree, tree_cpu) != 0)
        return 1;
    report("mark_floor_tree_mops", tree, reps, 1e-6, "M objects/s");
    report("mark_floor_tree_cpu_mops", tree_cpu, reps, 1e-6, "M objects/CPU s");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "fastpath") == 0)
        return cmd_fastpath(argc - 2, argv + 2);
    if (argc >= 2 && strcmp(argv[1], "sweep") == 0)
        return cmd_sweep(argc - 2, argv + 2);
    if (argc >= 2 && strcmp(argv[1], "mark") == 0)
        return cmd_mark(argc - 2, argv + 2);
    fprintf(stderr, "usage: micro fastpath alloc|base N | sweep MB REPS | mark N REPS\n");
    return 2;
}

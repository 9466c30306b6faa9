// vg_smoke.c: gcheap under Valgrind's memcheck (make check-valgrind). A
// plain program, no Criterion: memcheck's view of a process must be the
// host's and gcheap's alone.
//
//   vg_smoke          allocates objects of every kind, builds a graph, runs
//                     collections through the hooks while mutating it, and
//                     checks every live object after each; exits 0 when all
//                     checks pass, 3 (with a message) otherwise. memcheck
//                     must report nothing: no object is read before it is
//                     written or zeroed, and no live object is inaccessible.
//   vg_smoke swept    reads an object after a collection freed it, then
//                     exits 0: memcheck must report the invalid read (the
//                     library is built with GCH_VALGRIND=1, which tells
//                     memcheck that swept objects are freed).
//   vg_smoke uninit   branches on a byte of a gc_alloc_uninit object it
//                     never wrote: memcheck must report the use of an
//                     uninitialised value (written ones are checked clean
//                     in the first mode).
#include "../../gcheap.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("vg_smoke: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(3);
}

static uint64_t rng_state = 0x2545F4914F6CDD1DULL;
static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

// A graph node (scan) with a noscan payload of its own size.
struct node {
    struct node *left, *right;
    unsigned char *payload; // noscan, tiny, small or large
    uint64_t id;
    size_t len;
};

enum { NROOTS = 256 };
static struct node *roots[NROOTS];
static void *large_scan; // a large scan object: an array of node pointers
enum { LARGE_SLOTS = 6000 };

static void smoke_roots(void *ctx)
{
    (void)ctx;
    for (int i = 0; i < NROOTS; i++)
        gc_mark(roots[i]);
    gc_mark(large_scan);
}

static void smoke_trace(void *obj, size_t size, void *ctx)
{
    (void)ctx;
    if (obj == large_scan) {
        struct node **a = obj;
        for (size_t i = 0; i < size / sizeof *a; i++)
            gc_mark(a[i]);
        return;
    }
    struct node *n = obj;
    gc_mark(n->left);
    gc_mark(n->right);
    gc_mark(n->payload);
}

static unsigned char pattern(uint64_t id, size_t i)
{
    return (unsigned char)(id * 131 + i * 7 + (i >> 8));
}

static size_t payload_size(void)
{
    uint64_t r = rng() % 100;
    if (r < 30)
        return 1 + rng() % 15; // tiny
    if (r < 97)
        return 16 + rng() % 2000;
    if (r < 99)
        return 16 + rng() % 32752;
    return 32769 + rng() % 100000; // large
}

static uint64_t next_id = 1;

static struct node *new_node(void)
{
    struct node *n = gc_alloc(sizeof *n, true);
    if (n == NULL)
        die("gc_alloc(node) returned NULL");
    // A fresh object is zero: the host may rely on it (memcheck checks that
    // these reads are of defined memory).
    if (n->left != NULL || n->right != NULL || n->payload != NULL || n->id != 0 || n->len != 0)
        die("new node %p is not zero", (void *)n);
    n->id = next_id++;
    n->len = payload_size();
    unsigned char *p = gc_alloc(n->len, false);
    if (p == NULL)
        die("gc_alloc(%zu) returned NULL", n->len);
    for (size_t i = 0; i < n->len; i++) {
        if (p[i] != 0)
            die("new %zu-byte payload %p not zero at byte %zu", n->len, (void *)p, i);
        p[i] = pattern(n->id, i);
    }
    n->payload = p;
    return n;
}

// A random node reachable from the roots (or NULL).
static struct node *some_node(void)
{
    struct node *n = roots[rng() % NROOTS];
    for (int depth = rng() % 4; n != NULL && depth > 0; depth--)
        n = rng() & 1 ? n->left : n->right;
    return n;
}

// Walks the graph from every root and the large object: each node's payload
// intact and gc_base of each object itself. Returns the nodes visited.
static size_t check_node(struct node *n, int depth)
{
    if (n == NULL || depth > 12)
        return 0;
    if (gc_base(n) != n)
        die("reachable node %p (id %llu): gc_base %p", (void *)n, (unsigned long long)n->id,
            gc_base(n));
    if (n->len >= 16 && gc_base(n->payload) != n->payload)
        die("payload of node %llu: gc_base %p, expected %p", (unsigned long long)n->id,
            gc_base(n->payload), (void *)n->payload);
    for (size_t i = 0; i < n->len; i++)
        if (n->payload[i] != pattern(n->id, i))
            die("payload of node %llu (%zu bytes) damaged at byte %zu", (unsigned long long)n->id,
                n->len, i);
    return 1 + check_node(n->left, depth + 1) + check_node(n->right, depth + 1);
}

static void check_all(int cycle)
{
    size_t seen = 0;
    for (int i = 0; i < NROOTS; i++)
        seen += check_node(roots[i], 0);
    struct node **a = large_scan;
    for (size_t i = 0; i < LARGE_SLOTS; i += 97)
        seen += check_node(a[i], 0);
    if (seen == 0)
        die("cycle %d: no node reachable", cycle);
}

static int smoke(void)
{
    gc_set_gogc(-1); // collections where this program calls gc_collect
    gc_set_trace(smoke_trace, NULL);
    gc_set_roots(smoke_roots, NULL);
    large_scan = gc_alloc(LARGE_SLOTS * sizeof(struct node *), true);
    if (large_scan == NULL)
        die("gc_alloc(large scan) returned NULL");
    struct node **a = large_scan;
    for (int i = 0; i < NROOTS; i++)
        roots[i] = new_node();
    for (int cycle = 0; cycle < 8; cycle++) {
        for (int j = 0; j < 3000; j++) {
            struct node *n = new_node();
            uint64_t r = rng() % 10;
            if (r < 3) {
                roots[rng() % NROOTS] = n; // the old root may die
            } else if (r < 8) {
                struct node *p = some_node();
                if (p != NULL) {
                    if (rng() & 1)
                        p->left = n;
                    else
                        p->right = n;
                }
            } else if (r < 9) {
                a[rng() % LARGE_SLOTS] = n;
            } // else: garbage at once
        }
        gc_stats before, after;
        gc_get_stats(&before);
        gc_collect();
        gc_get_stats(&after);
        if (after.num_gc != before.num_gc + 1)
            die("cycle %d: gc_collect did not complete a cycle", cycle);
        if (after.frees == before.frees)
            die("cycle %d: the collection freed nothing", cycle);
        check_all(cycle);
    }
    return 0;
}

static void *keep;
static void swept_roots(void *ctx)
{
    (void)ctx;
    gc_mark(keep);
}

static int read_swept(void)
{
    gc_set_roots(swept_roots, NULL);
    keep = gc_alloc(64, true);
    volatile unsigned char *dead = gc_alloc(64, true);
    if (keep == NULL || dead == NULL)
        die("gc_alloc returned NULL");
    dead[10] = 42;
    gc_collect(); // dead is not a root: freed
    if (gc_base((void *)dead) != NULL)
        die("the unrooted object survived the collection");
    unsigned char v = dead[10]; // memcheck: invalid read
    printf("read %d from a swept object\n", v);
    return 0;
}

// An uninit object written whole reads clean (first mode); one never
// written is undefined to memcheck.
static void uninit_written(void)
{
    for (size_t size = 16; size <= 70000; size = size * 3 + 5) {
        unsigned char *u = gc_alloc_uninit(size);
        if (u == NULL)
            die("gc_alloc_uninit(%zu) returned NULL", size);
        memset(u, 7, size);
        if (u[0] != 7 || u[size - 1] != 7)
            die("gc_alloc_uninit(%zu): the bytes written do not read back", size);
    }
}

static int read_uninit(void)
{
    volatile unsigned char *u = gc_alloc_uninit(100);
    if (u == NULL)
        die("gc_alloc_uninit returned NULL");
    if (u[10] == 42) // memcheck: depends on an uninitialised value
        puts("42");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "swept") == 0)
        return read_swept();
    if (argc > 1 && strcmp(argv[1], "uninit") == 0)
        return read_uninit();
    if (argc > 1)
        die("usage: vg_smoke [swept | uninit]");
    uninit_written();
    return smoke();
}

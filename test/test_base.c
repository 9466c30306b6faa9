// test_base.c: black-box tests of gc_base and gc_size: interior pointers,
// pointers that are not into live objects (foreign memory, free slots, any
// 64-bit value), and the zero-size pointer.
//
// Most checks are exact: the test knows every object it allocated (nothing
// else allocates from gcheap in the process), so for any address it can say
// which object, if any, gc_base must report.
#include <sys/mman.h>

#include "util.h"

// ------------------------------------------------------ known objects

struct range {
    uintptr_t base;
    size_t size;
};

static int cmp_range(const void *a, const void *b)
{
    uintptr_t x = ((const struct range *)a)->base, y = ((const struct range *)b)->base;
    return x < y ? -1 : x > y;
}

struct known {
    struct range *r;
    size_t n, cap;
};

static void known_add(struct known *k, uintptr_t base, size_t size)
{
    if (k->n == k->cap) {
        k->cap = k->cap ? 2 * k->cap : 1024;
        k->r = realloc(k->r, k->cap * sizeof *k->r);
        cr_assert_not_null(k->r);
    }
    k->r[k->n++] = (struct range){base, size};
}

// Sorts and removes duplicates (tiny objects share their block).
static void known_finish(struct known *k)
{
    qsort(k->r, k->n, sizeof *k->r, cmp_range);
    size_t j = 0;
    for (size_t i = 0; i < k->n; i++)
        if (j == 0 || k->r[i].base != k->r[j - 1].base)
            k->r[j++] = k->r[i];
    k->n = j;
    for (size_t i = 1; i < k->n; i++)
        CHECK_CMP(k->r[i - 1].base + k->r[i - 1].size, <=, k->r[i].base,
                  "objects at %#jx and %#jx overlap", (uintmax_t)k->r[i - 1].base,
                  (uintmax_t)k->r[i].base);
}

// The object containing x, or NULL.
static const struct range *known_find(const struct known *k, uintptr_t x)
{
    size_t lo = 0, hi = k->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (k->r[mid].base <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return NULL;
    const struct range *r = &k->r[lo - 1];
    return x - r->base < r->size ? r : NULL;
}

// Requires gc_base(x) and gc_size(x) to match what the known set says.
static void check_probe(const struct known *k, uintptr_t x, const char *what)
{
    const struct range *r = known_find(k, x);
    void *b = gc_base((const void *)x);
    size_t s = gc_size((const void *)x);
    if (r == NULL) {
        CHECK_PTR_EQ(b, NULL, "gc_base(%#jx) (%s), which is in no live object", (uintmax_t)x, what);
        CHECK_EQ(s, 0, "gc_size(%#jx) (%s), which is in no live object", (uintmax_t)x, what);
    } else {
        CHECK_PTR_EQ(b, r->base, "gc_base(%#jx) (%s), inside object %#jx+%zu", (uintmax_t)x, what,
                     (uintmax_t)r->base, r->size);
        CHECK_EQ(s, r->size, "gc_size(%#jx) (%s), inside object %#jx", (uintmax_t)x, what,
                 (uintmax_t)r->base);
    }
}

// Allocates objects of every class (both kinds), tiny objects and large
// objects; records each (tiny objects by their block).
static void allocate_mix(struct known *k, uint64_t *seed, size_t bytes_per_class)
{
    for (int c = 1; c < TEST_NUM_CLASSES; c++) {
        size_t cs = class_size(c);
        size_t n = bytes_per_class / cs < 2 ? 2 : bytes_per_class / cs;
        for (size_t i = 0; i < n; i++) {
            for (int kind = 0; kind < 2; kind++) {
                if (kind == 1 && cs < 16)
                    continue;
                void *p = gc_alloc(cs - (size_t)rng_below(seed, 8), kind == 0);
                cr_assert_not_null(p);
                known_add(k, (uintptr_t)p, cs);
            }
        }
    }
    for (int i = 0; i < 2000; i++) {
        size_t size = 1 + (size_t)rng_below(seed, 15);
        void *p = gc_alloc(size, false);
        cr_assert_not_null(p);
        void *block = gc_base(p);
        CHECK(block != NULL, "gc_base of new tiny object %p (size %zu) is NULL", p, size);
        known_add(k, (uintptr_t)block, 16);
    }
    static const size_t large[] = {32769, 40000, 100000, 1 << 20};
    for (size_t i = 0; i < sizeof large / sizeof large[0]; i++) {
        for (int kind = 0; kind < 2; kind++) {
            void *p = gc_alloc(large[i], kind == 0);
            cr_assert_not_null(p);
            known_add(k, (uintptr_t)p, (large[i] + 8191) / 8192 * 8192);
        }
    }
    known_finish(k);
}

// ------------------------------------------------------ interior pointers

Test(base, every_interior_byte_maps_to_the_base)
{
    static const size_t sizes[] = {8,    16,   24,   48,    112,   1024,  1152,   1408,
                                   3072, 6784, 9472, 27264, 32768, 40000, 1 << 20};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        for (int kind = 0; kind < 2; kind++) {
            bool has_ptrs = kind == 0;
            if (!has_ptrs && sizes[k] < 16)
                continue;
            // Several objects, so some sit in the middle or end of a span.
            for (int i = 0; i < 5; i++) {
                unsigned char *p = gc_alloc(sizes[k], has_ptrs);
                cr_assert_not_null(p);
                size_t gs = gc_size(p);
                CHECK_EQ(gs, expected_gc_size(sizes[k]), "gc_size of gc_alloc(%zu)", sizes[k]);
                size_t stride = gs > 65536 ? 97 : 1; // every byte, or a prime stride
                for (size_t off = 0; off < gs; off += stride) {
                    CHECK_PTR_EQ(gc_base(p + off), p, "gc_base(base + %zu) of a %zu-byte object",
                                 off, gs);
                    CHECK_EQ(gc_size(p + off), gs, "gc_size(base + %zu) of a %zu-byte object", off,
                             gs);
                }
                CHECK_PTR_EQ(gc_base(p + gs - 1), p,
                             "gc_base of the last byte of a %zu-byte object", gs);
                // One past the end: the next object's base, or nothing.
                void *after = gc_base(p + gs);
                CHECK(after == NULL || after == p + gs,
                      "gc_base(end of %zu-byte object %p) = %p: expected NULL or %p", gs, (void *)p,
                      after, (void *)(p + gs));
            }
        }
    }
}

static void *tiny_interior_thread(void *arg)
{
    (void)arg;
    unsigned char *a = gc_alloc(3, false);
    unsigned char *b = gc_alloc(5, false);
    unsigned char *block = gc_base(a);
    CHECK(block != NULL, "gc_base of a tiny object is NULL");
    CHECK_PTR_EQ(gc_base(b), block, "two small tiny objects share a block");
    for (int off = 0; off < 16; off++) {
        CHECK_PTR_EQ(gc_base(block + off), block, "gc_base(block + %d) of a tiny block", off);
        CHECK_EQ(gc_size(block + off), 16, "gc_size(block + %d) of a tiny block", off);
    }
    return NULL;
}

Test(base, tiny_objects_answer_for_their_whole_block)
{
    run_in_thread(tiny_interior_thread, NULL);
}

// ------------------------------------------------------- foreign pointers

static int static_var;
static void some_function(void)
{}

static void check_foreign(const void *p, const char *what)
{
    CHECK_PTR_EQ(gc_base(p), NULL, "gc_base(%p) of %s", p, what);
    CHECK_EQ(gc_size(p), 0, "gc_size(%p) of %s", p, what);
}

static void check_foreign_list(void)
{
    int stack_var = 0;
    void *small = malloc(64);
    void *big = malloc(1 << 20); // typically its own mmap
    cr_assert(small != NULL && big != NULL);
    long ps = sysconf(_SC_PAGESIZE);
    void *gone = mmap(NULL, (size_t)ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(gone, MAP_FAILED);
    munmap(gone, (size_t)ps);

    check_foreign(NULL, "NULL");
    check_foreign((void *)1, "(void *)1");
    check_foreign((void *)4096, "(void *)4096");
    check_foreign(&stack_var, "a stack variable");
    check_foreign(small, "malloc(64) memory");
    check_foreign(big, "malloc(1 MiB) memory");
    check_foreign((char *)big + 12345, "inside malloc(1 MiB) memory");
    check_foreign(&static_var, "a static variable");
    check_foreign((const void *)(uintptr_t)&some_function, "a function");
    check_foreign(gone, "an unmapped page");
    check_foreign((void *)(uintptr_t)0x00007ffffffff000ULL, "the top of the user half");
    check_foreign((void *)(uintptr_t)0x0000800000000000ULL, "the first non-canonical address");
    check_foreign((void *)(uintptr_t)0xffff800000000000ULL, "the start of the kernel half");
    check_foreign((void *)(UINTPTR_MAX - 7), "UINTPTR_MAX - 7");
    check_foreign((void *)UINTPTR_MAX, "UINTPTR_MAX");
    free(small);
    free(big);
}

Test(base, foreign_pointers_before_the_first_allocation)
{
    check_foreign_list(); // the very first calls into the library
}

Test(base, foreign_and_random_pointers_give_null_unless_in_a_live_object)
{
    uint64_t seed = test_seed();
    struct known k = {0};
    allocate_mix(&k, &seed, 32 << 10);
    check_foreign_list();

    // Around every object: just before, first, last and one past the end.
    for (size_t i = 0; i < k.n; i++) {
        uintptr_t b = k.r[i].base, s = k.r[i].size;
        check_probe(&k, b - 1, "byte before an object");
        check_probe(&k, b, "object base");
        check_probe(&k, b + s / 2, "object middle");
        check_probe(&k, b + s - 1, "object's last byte");
        check_probe(&k, b + s, "one past an object");
    }
    // Addresses near the heap: live objects, free slots, span tails, unused
    // pages, metadata, whatever lies within 16 MiB of an object.
    size_t n = scaled(1000000, 1000);
    for (size_t i = 0; i < n; i++) {
        const struct range *r = &k.r[rng_below(&seed, k.n)];
        uintptr_t x = r->base + (uintptr_t)(rng_below(&seed, 32u << 20)) - (16u << 20);
        check_probe(&k, x, "near the heap");
    }
    // Any 64-bit value, including non-canonical ones: must not fault.
    for (size_t i = 0; i < n; i++)
        check_probe(&k, (uintptr_t)rng_next(&seed), "random 64-bit value");
    // Random values in the user half, and at heap-like alignments.
    for (size_t i = 0; i < n; i++) {
        uintptr_t x = (uintptr_t)(rng_next(&seed) & 0x00007fffffffffffULL);
        check_probe(&k, x, "random user-half address");
        check_probe(&k, x & ~(uintptr_t)8191, "random page-aligned address");
    }
    free(k.r);
}

// ------------------------------------------------------------ free slots

Test(base, objects_freed_by_sweep_give_null_swept_or_not)
{
    uint64_t seed = test_seed();
    struct known old = {0};
    allocate_mix(&old, &seed, 16 << 10);
    // The thread's current tiny block survives any sweep (gcheap.h: it is
    // marked when a mark phase begins). A 1-byte object always ends up in
    // the current block: it fits unless the block is full, and a new block
    // then replaces the full one. So this names the block that must live.
    unsigned char *sentinel = gc_alloc(1, false);
    uintptr_t current = (uintptr_t)gc_base(sentinel);
    CHECK(current != 0, "gc_base of a 1-byte tiny object is NULL");
    gc_sweep(); // nothing marked: every other object is free, though not swept yet
    for (size_t i = 0; i < old.n; i++) {
        uintptr_t b = old.r[i].base, s = old.r[i].size;
        if (b == current)
            continue;
        CHECK_PTR_EQ(gc_base((void *)b), NULL,
                     "gc_base(%#jx) of an unswept free object of size %zu", (uintmax_t)b,
                     (size_t)s);
        CHECK_PTR_EQ(gc_base((void *)(b + s - 1)), NULL,
                     "gc_base of the last byte of a free object");
        CHECK_EQ(gc_size((void *)b), 0, "gc_size of an unswept free object of size %zu", (size_t)s);
    }
    CHECK_PTR_EQ(gc_base(sentinel), current,
                 "gc_base of an object in the current tiny block after gc_sweep");
    // Allocate again (sweeping lazily, reusing slots): an old address is
    // now either inside a new object (or the surviving tiny block) or free.
    struct known fresh = {0};
    allocate_mix(&fresh, &seed, 8 << 10);
    known_add(&fresh, current, 16);
    known_finish(&fresh);
    size_t reused = 0;
    for (size_t i = 0; i < old.n; i++) {
        check_probe(&fresh, old.r[i].base, "address of an object freed by the last sweep");
        if (known_find(&fresh, old.r[i].base) != NULL)
            reused++;
    }
    CHECK_CMP(reused, >, 0, "old addresses reused by new objects (the test needs some reuse)");
    free(old.r);
    free(fresh.r);
}

Test(base, sweep_keeps_marked_and_frees_unmarked_neighbours)
{
    enum { N = 200 };
    unsigned char *p[N];
    for (int i = 0; i < N; i++) {
        p[i] = gc_alloc(64, i % 3 == 0);
        cr_assert_not_null(p[i]);
    }
    for (int i = 0; i < N; i += 2)
        CHECK(gc_mark(p[i] + 10), "gc_mark(interior of unmarked object %d) returned false", i);
    gc_sweep();
    for (int i = 0; i < N; i++) {
        if (i % 2 == 0) {
            CHECK_PTR_EQ(gc_base(p[i] + 63), p[i], "gc_base of marked object %d after sweep", i);
            CHECK_EQ(gc_size(p[i]), 64, "gc_size of marked object %d after sweep", i);
        } else {
            CHECK_PTR_EQ(gc_base(p[i]), NULL, "gc_base of unmarked object %d after sweep", i);
            CHECK_PTR_EQ(gc_base(p[i] + 63), NULL, "gc_base of unmarked object %d's last byte", i);
            CHECK_EQ(gc_size(p[i]), 0, "gc_size of unmarked object %d after sweep", i);
        }
    }
}

// ------------------------------------------------------------- zero size

Test(base, zero_size_pointer_is_not_a_heap_object)
{
    for (int round = 0; round < 2; round++) {
        for (int kind = 0; kind < 2; kind++) {
            void *z = gc_alloc(0, kind == 0);
            cr_assert_not_null(z, "gc_alloc(0, %d) returned NULL", kind == 0);
            CHECK_PTR_EQ(gc_base(z), NULL, "gc_base(gc_alloc(0, %d)) (round %d)", kind == 0, round);
            CHECK_EQ(gc_size(z), 0, "gc_size(gc_alloc(0, %d)) (round %d)", kind == 0, round);
        }
        // Round 1 asks again once the heap holds objects of every kind.
        for (int i = 0; i < 100; i++) {
            cr_assert_not_null(gc_alloc(1 + (size_t)i * 7, i % 2 == 0));
        }
        cr_assert_not_null(gc_alloc(50000, true));
    }
}

// test_alloc.c: black-box tests of gc_alloc (issue "heap core"): size
// classes, alignment, the tiny allocator's packing rule, scan/noscan span
// separation, zeroing, large objects, failures and statistics.
//
// Each Test runs in its own forked process (Criterion's default), so each
// starts with an untouched heap and may rely on exact statistics.
#include <sys/mman.h>
#include <sys/resource.h>

#include "util.h"

// Sweeps (frees everything, since nothing is marked) once this many bytes
// have been allocated, to keep loops over many sizes within a few MiB.
#define SWEEP_EVERY (16u << 20)

// ------------------------------------------------------------ size classes

static void check_class_sizes(size_t from, bool has_ptrs)
{
    size_t since_sweep = 0;
    for (size_t size = from; size <= TEST_MAX_SMALL; size++) {
        void *p = gc_alloc(size, has_ptrs);
        CHECK(p != NULL, "gc_alloc(%zu, %d) returned NULL", size, has_ptrs);
        size_t want = expected_gc_size(size);
        CHECK_EQ(gc_size(p), want, "gc_size(gc_alloc(%zu, %d))", size, has_ptrs);
        CHECK_PTR_EQ(gc_base(p), p, "gc_base(gc_alloc(%zu, %d))", size, has_ptrs);
        since_sweep += want;
        if (since_sweep >= SWEEP_EVERY) {
            gc_sweep();
            since_sweep = 0;
        }
    }
}

Test(alloc, class_size_of_every_small_scan_size)
{
    // Spot checks from the issue, then the whole range against Go's table.
    CHECK_EQ(gc_size(gc_alloc(17, true)), 24, "gc_size(gc_alloc(17))");
    CHECK_EQ(gc_size(gc_alloc(24, true)), 24, "gc_size(gc_alloc(24))");
    CHECK_EQ(gc_size(gc_alloc(25, true)), 32, "gc_size(gc_alloc(25))");
    CHECK_EQ(gc_size(gc_alloc(1025, true)), 1152, "gc_size(gc_alloc(1025))");
    CHECK_EQ(gc_size(gc_alloc(32767, true)), 32768, "gc_size(gc_alloc(32767))");
    CHECK_EQ(gc_size(gc_alloc(1, true)), 8,
             "gc_size(gc_alloc(1, true)) (scan objects are never tiny)");
    check_class_sizes(1, true);
}

Test(alloc, class_size_of_every_small_noscan_size_from_16)
{
    check_class_sizes(16, false);
}

// -------------------------------------------------------------- alignment

Test(alloc, small_objects_aligned_to_16_or_8_by_class)
{
    for (int c = 1; c < TEST_NUM_CLASSES; c++) {
        size_t cs = class_size(c);
        uintptr_t align = cs % 16 == 0 ? 16 : 8;
        // Both the class size itself and the smallest request in the class.
        size_t req[2] = {cs, c == 1 ? 1 : class_size(c - 1) + 1};
        for (int kind = 0; kind < 2; kind++) {
            bool has_ptrs = kind == 0;
            for (int r = 0; r < 2; r++) {
                if (!has_ptrs && req[r] < 16)
                    continue; // tiny, tested below
                for (int i = 0; i < 8; i++) {
                    void *p = gc_alloc(req[r], has_ptrs);
                    CHECK(p != NULL, "gc_alloc(%zu, %d)", req[r], has_ptrs);
                    CHECK_EQ((uintptr_t)p % align, 0,
                             "address %p of gc_alloc(%zu, %d) (class %zu) mod %zu", p, req[r],
                             has_ptrs, cs, (size_t)align);
                }
            }
        }
    }
}

struct tiny_obj {
    unsigned char *p;
    size_t size;
};

static int cmp_tiny(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)((const struct tiny_obj *)a)->p;
    uintptr_t y = (uintptr_t)((const struct tiny_obj *)b)->p;
    return x < y ? -1 : x > y;
}

static void *tiny_alignment_thread(void *arg)
{
    enum { N = 4000 };
    uint64_t seed = *(uint64_t *)arg;
    struct tiny_obj *objs = malloc(N * sizeof *objs);
    cr_assert_not_null(objs);
    for (int i = 0; i < N; i++) {
        size_t size = 1 + (size_t)rng_below(&seed, 15);
        unsigned char *p = gc_alloc(size, false);
        CHECK(p != NULL, "gc_alloc(%zu, false)", size);
        CHECK_EQ((uintptr_t)p % tiny_align(size), 0,
                 "tiny object %d of size %zu at %p: alignment %zu", i, size, (void *)p,
                 (size_t)tiny_align(size));
        unsigned char *base = gc_base(p);
        CHECK_PTR_EQ(base, (uintptr_t)p & ~(uintptr_t)15,
                     "gc_base of tiny object %p (blocks are 16-byte slots)", (void *)p);
        CHECK_EQ(gc_size(p), 16, "gc_size of tiny object %p", (void *)p);
        CHECK_CMP(p + size, <=, base + 16, "end of tiny object of size %zu", size);
        CHECK_EQ(first_nonzero(p, size), size, "first non-zero byte of new tiny object of size %zu",
                 size);
        memset(p, (int)(i & 0xff) | 1, size);
        objs[i] = (struct tiny_obj){p, size};
    }
    // No two tiny objects overlap, and none was overwritten by a later one.
    for (int i = 0; i < N; i++)
        for (size_t j = 0; j < objs[i].size; j++)
            CHECK_EQ(objs[i].p[j], (unsigned)(i & 0xff) | 1, "byte %zu of tiny object %d", j, i);
    qsort(objs, N, sizeof *objs, cmp_tiny);
    for (int i = 1; i < N; i++)
        CHECK_CMP(objs[i - 1].p + objs[i - 1].size, <=, objs[i].p,
                  "tiny objects %p (+%zu) and %p overlap", (void *)objs[i - 1].p, objs[i - 1].size,
                  (void *)objs[i].p);
    free(objs);
    return NULL;
}

Test(alloc, tiny_objects_have_natural_alignment_and_never_overlap)
{
    uint64_t seed = test_seed();
    run_in_thread(tiny_alignment_thread, &seed);
}

// ---------------------------------------------------- tiny packing rule
//
// The rule (gcheap.h, Go's mallocgc): a tiny object goes at the current
// block's offset rounded up to its alignment if it fits in 16 bytes;
// otherwise it gets a new zeroed block, which becomes the current block only
// if it leaves more room than the current one (size < current offset).
// Each sequence runs on a fresh thread, whose tiny block starts empty.

static void *tiny_two_bytes(void *arg)
{
    (void)arg;
    unsigned char *a = gc_alloc(1, false);
    unsigned char *b = gc_alloc(1, false);
    CHECK_PTR_EQ(gc_base(a), a, "first tiny object starts its block");
    CHECK_PTR_EQ(gc_base(b), gc_base(a), "two 1-byte objects share one block");
    CHECK_PTR_EQ(b, a + 1, "second 1-byte object follows the first");
    CHECK_EQ(gc_size(a), 16, "gc_size of a tiny object's block");
    CHECK_EQ(gc_size(b), 16, "gc_size of a tiny object's block");
    return NULL;
}

Test(alloc, tiny_one_byte_objects_share_a_block)
{
    run_in_thread(tiny_two_bytes, NULL);
}

static void *tiny_replace_seq(void *arg)
{
    (void)arg;
    // 12: block A, offset 12. 8: aligned offset 16 does not fit; new block B
    // leaves 8 bytes, more than A's 4, so B becomes current (offset 8).
    // 8 again: fits in B at offset 8.
    unsigned char *p1 = gc_alloc(12, false);
    unsigned char *p2 = gc_alloc(8, false);
    unsigned char *p3 = gc_alloc(8, false);
    CHECK_PTR_EQ(gc_base(p1), p1, "12-byte object starts block A");
    CHECK(gc_base(p2) != gc_base(p1),
          "8 bytes do not fit after 12: expected a new block, got A=%p for both", gc_base(p1));
    CHECK_PTR_EQ(gc_base(p2), p2, "8-byte object starts block B");
    CHECK_PTR_EQ(gc_base(p3), gc_base(p2),
                 "third object (8 bytes) lands in B, which replaced A as current block");
    CHECK_PTR_EQ(p3, p2 + 8, "third object at offset 8 of B");
    return NULL;
}

Test(alloc, tiny_new_block_replaces_current_when_it_leaves_more_room)
{
    run_in_thread(tiny_replace_seq, NULL);
}

static void *tiny_keep_seq(void *arg)
{
    (void)arg;
    // 12: block A, offset 12. 14 (align 2): 12+14 > 16, new block B, which
    // would leave 2 bytes, less than A's 4: A stays current. 3 (align 1):
    // fits in A at offset 12.
    unsigned char *p1 = gc_alloc(12, false);
    unsigned char *p2 = gc_alloc(14, false);
    unsigned char *p3 = gc_alloc(3, false);
    CHECK_PTR_EQ(gc_base(p1), p1, "12-byte object starts block A");
    CHECK(gc_base(p2) != gc_base(p1),
          "14 bytes do not fit after 12: expected a new block, got A=%p for both", gc_base(p1));
    CHECK_PTR_EQ(gc_base(p3), gc_base(p1),
                 "third object (3 bytes) lands in A, which stayed current block");
    CHECK_PTR_EQ(p3, p1 + 12, "third object at offset 12 of A");
    return NULL;
}

Test(alloc, tiny_new_block_kept_aside_when_it_leaves_less_room)
{
    run_in_thread(tiny_keep_seq, NULL);
}

static void *tiny_align_seq(void *arg)
{
    (void)arg;
    // 1 at offset 0; 2 aligned to offset 2; 4 aligned to 4; 8 aligned to 8:
    // all in one block, with the padding the alignment rule implies.
    unsigned char *a = gc_alloc(1, false);
    unsigned char *b = gc_alloc(2, false);
    unsigned char *c = gc_alloc(4, false);
    unsigned char *d = gc_alloc(8, false);
    CHECK_PTR_EQ(gc_base(a), a, "1-byte object starts the block");
    CHECK_PTR_EQ(b, a + 2, "2-byte object aligned to offset 2");
    CHECK_PTR_EQ(c, a + 4, "4-byte object aligned to offset 4");
    CHECK_PTR_EQ(d, a + 8, "8-byte object aligned to offset 8");
    // The block is full now: the next object starts a new block.
    unsigned char *e = gc_alloc(1, false);
    CHECK(gc_base(e) != gc_base(a), "block full: expected a new block for the next object, got %p",
          gc_base(e));
    return NULL;
}

Test(alloc, tiny_offsets_are_rounded_up_to_alignment)
{
    run_in_thread(tiny_align_seq, NULL);
}

// ----------------------------------------------- scan/noscan separation
//
// Every 8 KiB page belongs to exactly one span, so if scan and noscan
// objects never share a span, no page holds both kinds.

Test(alloc, scan_and_noscan_objects_never_share_a_page)
{
    static const size_t sizes[] = {16,   24,   32,   48,   64,   128,  256,  512,
                                   1024, 1152, 1408, 2048, 3072, 4096, 8192, 32768};
    enum { NS = sizeof sizes / sizeof sizes[0], BUDGET = 256 << 10 };
    size_t cap = 0;
    for (int k = 0; k < NS; k++)
        cap += 2 * (BUDGET / sizes[k] + 8);
    cap += 2 * 4096; // the tiny/8-byte pair
    uintptr_t *scan = malloc(cap * sizeof *scan), *noscan = malloc(cap * sizeof *noscan);
    cr_assert(scan != NULL && noscan != NULL);
    size_t ns = 0, nn = 0;
    for (size_t i = 0; i < 4096; i++) {
        // Tiny blocks live in noscan spans of the 16-byte class; 8-byte scan
        // objects have their own class.
        unsigned char *t = gc_alloc(1 + i % 15, false), *e = gc_alloc(8, true);
        noscan[nn++] = (uintptr_t)t >> 13;
        scan[ns++] = (uintptr_t)e >> 13;
        for (int k = 0; k < NS; k++) {
            if (i >= BUDGET / sizes[k] + 8)
                continue;
            unsigned char *p = gc_alloc(sizes[k], true);
            unsigned char *q = gc_alloc(sizes[k], false);
            cr_assert(p != NULL && q != NULL);
            // First and last byte: both lie in the object's own span.
            scan[ns++] = (uintptr_t)p >> 13;
            scan[ns++] = (uintptr_t)(p + sizes[k] - 1) >> 13;
            noscan[nn++] = (uintptr_t)q >> 13;
            noscan[nn++] = (uintptr_t)(q + sizes[k] - 1) >> 13;
        }
    }
    cr_assert(ns <= cap && nn <= cap);
    qsort(scan, ns, sizeof *scan, cmp_uintptr);
    qsort(noscan, nn, sizeof *noscan, cmp_uintptr);
    size_t i = 0, j = 0;
    while (i < ns && j < nn) {
        CHECK(scan[i] != noscan[j],
              "page %#jx (8 KiB page number) holds both scan and noscan objects",
              (uintmax_t)scan[i]);
        if (scan[i] < noscan[j])
            i++;
        else
            j++;
    }
    free(scan);
    free(noscan);
}

// -------------------------------------------------------------- zeroing

struct zobj {
    unsigned char *p;
    size_t len; // bytes that belong to this object alone
};

static int cmp_zobj(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)((const struct zobj *)a)->p;
    uintptr_t y = (uintptr_t)((const struct zobj *)b)->p;
    return x < y ? -1 : x > y;
}

Test(alloc, new_objects_are_zero_also_when_reusing_swept_memory)
{
    // Round 0 allocates fresh memory; rounds 1 and 2 allocate the same
    // sizes again after a gc_sweep that freed everything (dirtied with
    // 0xAA), so they reuse swept slots and pages.
    enum { ROUNDS = 3, PER_SIZE_BYTES = 64 << 10 };
    size_t cap = 0;
    for (int c = 1; c < TEST_NUM_CLASSES; c++)
        cap += 2 * (PER_SIZE_BYTES / class_size(c) + 4);
    cap += 15 * (PER_SIZE_BYTES / 8) + 64;
    struct zobj *prev = malloc(cap * sizeof *prev), *cur = malloc(cap * sizeof *cur);
    cr_assert(prev != NULL && cur != NULL);
    size_t nprev = 0;
    static const size_t large[] = {32769, 40000, 100000, 1 << 20};
    size_t reused = 0;
    for (int round = 0; round < ROUNDS; round++) {
        size_t n = 0;
        for (int c = 1; c < TEST_NUM_CLASSES; c++) {
            for (int kind = 0; kind < 2; kind++) {
                bool has_ptrs = kind == 0;
                size_t size = class_size(c);
                if (!has_ptrs && size < 16)
                    continue;
                for (size_t i = 0; i < PER_SIZE_BYTES / size + 4; i++) {
                    unsigned char *p = gc_alloc(size, has_ptrs);
                    cr_assert(p != NULL);
                    size_t gs = gc_size(p);
                    CHECK_EQ(first_nonzero(p, gs), gs,
                             "round %d: first non-zero byte of new object %p, gc_alloc(%zu, %d)",
                             round, (void *)p, size, has_ptrs);
                    memset(p, 0xAA, gs);
                    cur[n++] = (struct zobj){p, gs};
                }
            }
        }
        for (size_t size = 1; size < 16; size++) {
            for (size_t i = 0; i < PER_SIZE_BYTES / 8 / 4; i++) {
                unsigned char *p = gc_alloc(size, false);
                cr_assert(p != NULL);
                CHECK_EQ(first_nonzero(p, size), size,
                         "round %d: first non-zero byte of new tiny object %p of size %zu", round,
                         (void *)p, size);
                memset(p, 0xAA, size);
                cur[n++] = (struct zobj){p, size};
            }
        }
        for (size_t k = 0; k < sizeof large / sizeof large[0]; k++) {
            for (int kind = 0; kind < 2; kind++) {
                unsigned char *p = gc_alloc(large[k], kind == 0);
                cr_assert(p != NULL);
                size_t gs = gc_size(p);
                CHECK_EQ(first_nonzero(p, gs), gs,
                         "round %d: first non-zero byte of new large object %p of size %zu", round,
                         (void *)p, large[k]);
                memset(p, 0xAA, gs);
                cur[n++] = (struct zobj){p, gs};
            }
        }
        cr_assert(n <= cap);
        // How many objects of this round sit where an object of the last
        // round was: without reuse this test would not test reuse.
        qsort(cur, n, sizeof *cur, cmp_zobj);
        for (size_t i = 0, j = 0; i < n && j < nprev;) {
            if (cur[i].p == prev[j].p) {
                reused++;
                i++;
                j++;
            } else if (cur[i].p < prev[j].p) {
                i++;
            } else {
                j++;
            }
        }
        struct zobj *t = prev;
        prev = cur;
        cur = t;
        nprev = n;
        gc_sweep(); // nothing marked: frees everything
    }
    CHECK_CMP(reused, >, 0,
              "objects allocated at addresses freed by gc_sweep (reuse of swept memory)");
    free(prev);
    free(cur);
}

// -------------------------------------------------------- gc_alloc_uninit

// gc_alloc_uninit answers as gc_alloc(size, false), the zeroing aside:
// class sizes, gc_base, alignment, every byte writable; tiny sizes zeroed;
// 0 and impossible sizes as gc_alloc.
Test(alloc, uninit_objects_are_sized_and_aligned_as_noscan_ones)
{
    size_t since_sweep = 0;
    for (size_t size = 16; size <= TEST_MAX_SMALL; size += size < 1024 ? 1 : 61) {
        unsigned char *p = gc_alloc_uninit(size);
        CHECK(p != NULL, "gc_alloc_uninit(%zu) returned NULL", size);
        size_t want = expected_gc_size(size);
        CHECK_EQ(gc_size(p), want, "gc_size(gc_alloc_uninit(%zu))", size);
        CHECK_PTR_EQ(gc_base(p), p, "gc_base(gc_alloc_uninit(%zu))", size);
        CHECK_EQ((uintptr_t)p % (want % 16 == 0 ? 16 : 8), 0, "alignment of gc_alloc_uninit(%zu)",
                 size);
        memset(p, 0x5A, want);
        since_sweep += want;
        if (since_sweep >= SWEEP_EVERY) {
            gc_sweep();
            since_sweep = 0;
        }
    }
    static const size_t large[] = {32769, 100000, 1 << 20};
    for (size_t k = 0; k < sizeof large / sizeof large[0]; k++) {
        unsigned char *p = gc_alloc_uninit(large[k]);
        CHECK(p != NULL, "gc_alloc_uninit(%zu) returned NULL", large[k]);
        size_t want = (large[k] + 8191) & ~(size_t)8191;
        CHECK_EQ(gc_size(p), want, "gc_size(gc_alloc_uninit(%zu))", large[k]);
        CHECK_EQ((uintptr_t)p % 8192, 0, "gc_alloc_uninit(%zu) is page aligned", large[k]);
        memset(p, 0x5A, want);
    }
    for (size_t size = 1; size < 16; size++) {
        unsigned char *p = gc_alloc_uninit(size);
        CHECK(p != NULL, "gc_alloc_uninit(%zu) returned NULL", size);
        CHECK_EQ(first_nonzero(p, size), size, "tiny gc_alloc_uninit(%zu) is zeroed", size);
        memset(p, 0x5A, size);
    }
    void *z = gc_alloc_uninit(0);
    CHECK(z != NULL && gc_base(z) == NULL, "gc_alloc_uninit(0) = %p, gc_base %p", z, gc_base(z));
    errno = 0;
    CHECK(gc_alloc_uninit(SIZE_MAX) == NULL && errno == ENOMEM,
          "gc_alloc_uninit(SIZE_MAX) fails with ENOMEM (errno %d)", errno);
    CHECK(gc_alloc_uninit(100) != NULL, "the heap stays usable");
}

static unsigned char *uninit_obj[6];
static unsigned uninit_traced;

static void uninit_trace(void *obj, size_t size, void *ctx)
{
    (void)obj, (void)size, (void)ctx;
    uninit_traced++;
}

static void uninit_roots(void *ctx)
{
    (void)ctx;
    for (int i = 0; i < 6; i++)
        gc_mark(uninit_obj[i]);
}

// Pointer-free: never traced, alive while marked, born black in a mark
// phase.
Test(alloc, uninit_objects_are_never_traced_and_live_while_marked)
{
    static const size_t sizes[6] = {16, 100, 4096, 32768, 40000, 1 << 20};
    gc_set_trace(uninit_trace, NULL);
    gc_set_roots(uninit_roots, NULL);
    for (int i = 0; i < 6; i++) {
        uninit_obj[i] = gc_alloc_uninit(sizes[i]);
        CHECK(uninit_obj[i] != NULL, "gc_alloc_uninit(%zu)", sizes[i]);
        memset(uninit_obj[i], 0x30 + i, sizes[i]);
    }
    gc_collect();
    gc_collect();
    CHECK_EQ(uninit_traced, 0u, "trace hook calls for pointer-free objects");
    for (int i = 0; i < 6; i++) {
        CHECK_PTR_EQ(gc_base(uninit_obj[i]), uninit_obj[i], "object %d after two collections", i);
        CHECK_EQ(first_nonzero(uninit_obj[i], sizes[i]), 0u, "object %d keeps its bytes", i);
        CHECK(uninit_obj[i][sizes[i] - 1] == 0x30 + i, "object %d's last byte", i);
    }
    gc_set_roots(NULL, NULL);
    gc_mark(uninit_obj[0]); // begins a mark phase
    unsigned char *black = gc_alloc_uninit(200);
    CHECK(black != NULL, "gc_alloc_uninit during a mark phase");
    gc_sweep();
    CHECK_PTR_EQ(gc_base(black), black, "an object allocated while marking survives the sweep");
    CHECK_PTR_EQ(gc_base(uninit_obj[1]), NULL, "an unmarked object is freed");
}

// [C5]: gc_alloc_uninit takes its objects from the same spans as
// gc_alloc(size, false) but loads their windows without zeroing. Whatever
// it leaves behind, gc_alloc must still hand out zeroed memory: here both
// allocate in turns from classes whose swept slots all hold 0xCD, a few
// objects survive each cycle so that spans come back partly used, and every
// cycle's end returns the spans of both kinds of cache slot to their
// central lists, to be cached the next time by either kind.
Test(alloc, gc_alloc_stays_zeroed_next_to_uninit_allocations)
{
    static const size_t sizes[] = {16, 48, 112, 256, 1024, 3072, 8192, 32768};
    enum { NSIZES = sizeof sizes / sizeof sizes[0], N = 300, ROUNDS = 4 };
    size_t zeroed = 0, raw = 0;
    for (int round = 0; round < ROUNDS; round++) {
        for (size_t k = 0; k < NSIZES; k++) {
            for (int i = 0; i < N; i++) {
                bool uninit = (i + round) % 3 == 0;
                unsigned char *p = uninit ? gc_alloc_uninit(sizes[k]) : gc_alloc(sizes[k], false);
                CHECK(p != NULL, "round %d: allocation of %zu bytes", round, sizes[k]);
                size_t gs = gc_size(p);
                if (!uninit) {
                    CHECK_EQ(first_nonzero(p, gs), gs,
                             "round %d: gc_alloc(%zu, false) = %p after %zu uninit ones", round,
                             sizes[k], (void *)p, raw);
                    zeroed++;
                } else {
                    raw++;
                }
                memset(p, 0xCD, gs);
                if (i % 16 == 0)
                    gc_mark(p); // survives this cycle: its span stays partly used
            }
        }
        gc_sweep();
    }
    CHECK_CMP(zeroed, >, 0u, "zeroed allocations checked");
    CHECK_CMP(raw, >, 0u, "uninit allocations made");
}

// --------------------------------------------------------- large objects

Test(alloc, large_objects_are_page_aligned_zeroed_and_writable)
{
    static const size_t sizes[] = {32769, 40000, 1 << 20, 10 << 20, 64 << 20};
    for (int kind = 0; kind < 2; kind++) {
        bool has_ptrs = kind == 0;
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            size_t size = sizes[k];
            size_t rounded = (size + 8191) / 8192 * 8192;
            unsigned char *p = gc_alloc(size, has_ptrs);
            CHECK(p != NULL, "gc_alloc(%zu, %d) returned NULL, errno %d", size, has_ptrs, errno);
            CHECK_EQ((uintptr_t)p % 8192, 0, "address of gc_alloc(%zu, %d) mod 8192", size,
                     has_ptrs);
            CHECK_EQ(gc_size(p), rounded, "gc_size(gc_alloc(%zu, %d))", size, has_ptrs);
            CHECK_EQ(p[0], 0, "first byte of gc_alloc(%zu)", size);
            CHECK_EQ(p[size - 1], 0, "last byte of gc_alloc(%zu)", size);
            CHECK_EQ(p[rounded - 1], 0, "last byte of gc_size of gc_alloc(%zu)", size);
            for (size_t off = 0; off < rounded; off += 4093)
                CHECK_EQ(p[off], 0, "byte %zu of gc_alloc(%zu)", off, size);
            CHECK_PTR_EQ(gc_base(p + size - 1), p, "gc_base(base + size - 1) for size %zu", size);
            CHECK_PTR_EQ(gc_base(p + rounded - 1), p, "gc_base(base + gc_size - 1) for size %zu",
                         size);
            CHECK_PTR_EQ(gc_base(p + size / 2), p, "gc_base(base + size/2) for size %zu", size);
            CHECK_EQ(gc_size(p + size / 2), rounded, "gc_size(base + size/2) for size %zu", size);
            memset(p, 0x5C, rounded); // writable throughout
            CHECK_EQ(p[rounded - 1], 0x5C, "last byte after memset, size %zu", size);
        }
        gc_sweep(); // drop this kind's objects before the next
    }
}

Test(alloc, zero_size_allocation_returns_non_null)
{
    void *a = gc_alloc(0, true);
    void *b = gc_alloc(0, false);
    CHECK(a != NULL, "gc_alloc(0, true) returned NULL");
    CHECK(b != NULL, "gc_alloc(0, false) returned NULL");
    // The heap still works around them.
    void *c = gc_alloc(16, true);
    CHECK(c != NULL && gc_base(c) == c, "gc_alloc(16) after gc_alloc(0): %p, base %p", c,
          gc_base(c));
}

// ----------------------------------------------------------------- ENOMEM

static void check_heap_still_works(const char *when)
{
    static const size_t sizes[] = {1, 5, 16, 24, 100, 1024, 4096, 32768, 40000, 1 << 20};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        for (int kind = 0; kind < 2; kind++) {
            unsigned char *p = gc_alloc(sizes[k], kind == 0);
            CHECK(p != NULL, "%s: gc_alloc(%zu, %d) returned NULL, errno %d", when, sizes[k],
                  kind == 0, errno);
            CHECK(gc_base(p) != NULL, "%s: gc_base(gc_alloc(%zu, %d)) is NULL", when, sizes[k],
                  kind == 0);
            p[0] = 1;
            p[sizes[k] - 1] = 1;
        }
    }
}

Test(alloc, impossible_sizes_fail_with_enomem_and_heap_stays_usable)
{
    static const size_t sizes[] = {
        SIZE_MAX,
        SIZE_MAX - 1,
        SIZE_MAX - 8191,     // overflows when rounded up to a page
        SIZE_MAX - 4 * 8192, // overflows when a span header or chunk is added
        SIZE_MAX / 2,
        SIZE_MAX / 2 + 1,
        (size_t)1 << 62,
        ((size_t)1 << 48) + 1,
        ((size_t)1 << 47) + 1, // more than the user half of a 48-bit address space
    };
    check_heap_still_works("before");
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        for (int kind = 0; kind < 2; kind++) {
            errno = 0;
            void *p = gc_alloc(sizes[k], kind == 0);
            int err = errno;
            CHECK(p == NULL, "gc_alloc(%#zx, %d): expected NULL, got %p", sizes[k], kind == 0, p);
            CHECK_EQ(err, ENOMEM, "errno after gc_alloc(%#zx, %d)", sizes[k], kind == 0);
        }
    }
    check_heap_still_works("after failed allocations");
}

static size_t vm_size_bytes(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    cr_assert_not_null(f, "open /proc/self/status: %s", strerror(errno));
    char line[256];
    size_t kb = 0;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmSize: %zu kB", &kb) == 1)
            break;
    fclose(f);
    cr_assert_neq(kb, 0, "VmSize not found in /proc/self/status");
    return kb * 1024;
}

Test(alloc, mmap_failure_under_rlimit_as_gives_enomem)
{
    // Runs in its own forked process, so the limit dies with the test.
    check_heap_still_works("before the limit");
    size_t vm = vm_size_bytes();
    struct rlimit rl;
    cr_assert_eq(getrlimit(RLIMIT_AS, &rl), 0, "getrlimit: %s", strerror(errno));
    rl.rlim_cur = vm + (256u << 20);
    cr_assert_eq(setrlimit(RLIMIT_AS, &rl), 0, "setrlimit(RLIMIT_AS, %zu): %s", vm + (256u << 20),
                 strerror(errno));
    for (int kind = 0; kind < 2; kind++) {
        errno = 0;
        void *p = gc_alloc((size_t)1 << 30, kind == 0);
        int err = errno;
        CHECK(p == NULL,
              "gc_alloc(1 GiB, %d) with 256 MiB of address space left: expected NULL, got %p",
              kind == 0, p);
        CHECK_EQ(err, ENOMEM, "errno after gc_alloc(1 GiB, %d) under RLIMIT_AS", kind == 0);
    }
    // Small allocations of used and new classes still work.
    for (int kind = 0; kind < 2; kind++) {
        static const size_t sizes[] = {3, 16, 24, 100, 4096, 6784};
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            unsigned char *p = gc_alloc(sizes[k], kind == 0);
            CHECK(p != NULL, "gc_alloc(%zu, %d) after a failed 1 GiB request: NULL, errno %d",
                  sizes[k], kind == 0, errno);
            p[sizes[k] - 1] = 1;
        }
    }
}

// ------------------------------------------------------------- statistics

static void empty_roots(void *ctx)
{
    (void)ctx;
}

Test(alloc, stats_count_allocations_of_a_class)
{
    enum { N = 1000, CLASS = 5 }; // 48 bytes
    const size_t cs = class_size(CLASS);
    gc_get_stats(NULL); // must not crash
    gc_stats s0 = get_stats();
    for (int c = 0; c < TEST_NUM_CLASSES; c++)
        CHECK_EQ(s0.by_size[c].size, class_size(c), "by_size[%d].size", c);
    for (int i = 0; i < N; i++)
        cr_assert(gc_alloc(cs - 7, true) != NULL); // 41 bytes: counted at 48
    gc_stats s1 = get_stats();
    CHECK_EQ(s1.mallocs - s0.mallocs, N, "mallocs increase after %d allocations", N);
    CHECK_EQ(s1.heap_objects - s0.heap_objects, N, "heap_objects increase");
    CHECK_EQ(s1.heap_alloc - s0.heap_alloc, (uint64_t)N * cs,
             "heap_alloc increase (class size %zu)", cs);
    CHECK_EQ(s1.total_alloc - s0.total_alloc, (uint64_t)N * cs, "total_alloc increase");
    CHECK_EQ(s1.by_size[CLASS].mallocs - s0.by_size[CLASS].mallocs, N,
             "by_size[%d].mallocs increase", CLASS);
    CHECK_EQ(s1.frees, s0.frees, "frees without any sweep");
    CHECK_CMP(s1.heap_sys, >=, s1.heap_alloc, "heap_sys vs heap_alloc");
    CHECK_CMP(s1.heap_inuse, >=, s1.heap_alloc, "heap_inuse vs heap_alloc");
    CHECK_CMP(s1.heap_sys, >=, s1.heap_inuse, "heap_sys vs heap_inuse");
    CHECK_EQ(s1.mallocs - s1.frees, s1.heap_objects, "mallocs - frees vs heap_objects");

    // Free everything; the next allocations sweep lazily, which counts frees.
    gc_sweep();
    for (int i = 0; i < N; i++)
        cr_assert(gc_alloc(cs, true) != NULL);
    gc_stats s2 = get_stats();
    CHECK_CMP(s2.frees, >, s1.frees, "frees after gc_sweep and %d more allocations", N);
    CHECK_CMP(s2.by_size[CLASS].frees, >, s1.by_size[CLASS].frees, "by_size[%d].frees", CLASS);
    CHECK_EQ(s2.mallocs - s0.mallocs, 2 * N, "mallocs after the second batch");
    // What the lazy sweeps freed is still in the thread's cache (its sweep
    // tally), not in the shared counters: gc_get_stats adds it.
    uint64_t live2 = (s2.by_size[CLASS].mallocs - s0.by_size[CLASS].mallocs) -
                     (s2.by_size[CLASS].frees - s0.by_size[CLASS].frees);
    CHECK_EQ(s2.heap_alloc - s0.heap_alloc, live2 * cs, "heap_alloc after lazy sweeping");
    CHECK_EQ(s2.mallocs - s2.frees, s2.heap_objects, "mallocs - frees vs heap_objects");

    // A full collection with no roots sweeps everything: exact counts.
    gc_set_roots(empty_roots, NULL);
    gc_collect();
    gc_stats s3 = get_stats();
    CHECK_EQ(s3.num_gc, s2.num_gc + 1, "num_gc after gc_collect");
    CHECK_EQ(s3.heap_objects, 0, "heap_objects after collecting with no roots");
    CHECK_EQ(s3.heap_alloc, 0, "heap_alloc after collecting with no roots");
    CHECK_EQ(s3.frees, s3.mallocs, "frees vs mallocs after collecting with no roots");
    CHECK_EQ(s3.by_size[CLASS].frees, 2 * N, "by_size[%d].frees after collecting", CLASS);
    CHECK_EQ(s3.by_size[CLASS].mallocs, 2 * N, "by_size[%d].mallocs after collecting", CLASS);
    CHECK_EQ(s3.total_alloc - s0.total_alloc, (uint64_t)2 * N * cs, "total_alloc is cumulative");
}

// Allocates and drops a batch, lets gc_sweep free it, and allocates again,
// which sweeps the batch's spans lazily on this thread; then exits.
static void *lazy_sweep_then_exit(void *arg)
{
    (void)arg;
    for (int i = 0; i < 2000; i++)
        cr_assert(gc_alloc(48, true) != NULL);
    gc_sweep();
    for (int i = 0; i < 2000; i++)
        cr_assert(gc_alloc(48, true) != NULL);
    return NULL;
}

Test(alloc, stats_keep_the_frees_of_an_exited_threads_lazy_sweeps)
{
    run_in_thread(lazy_sweep_then_exit, NULL);
    gc_stats s1 = get_stats();
    CHECK_CMP(s1.by_size[5].frees, >, 0, "frees counted by the exited thread's sweeps");
    // Nothing is reachable: a collection frees the rest, and every object
    // made is counted freed once, the exited thread's sweeps included.
    gc_set_roots(empty_roots, NULL);
    gc_collect();
    gc_stats s2 = get_stats();
    CHECK_EQ(s2.by_size[5].mallocs, 4000, "mallocs of the 48-byte class");
    CHECK_EQ(s2.by_size[5].frees, 4000, "frees of the 48-byte class");
    CHECK_EQ(s2.heap_alloc, 0, "heap_alloc after collecting with no roots");
}

Test(alloc, stats_count_large_objects_in_class_0)
{
    gc_stats s0 = get_stats();
    for (int i = 0; i < 3; i++)
        cr_assert(gc_alloc(40000, i % 2 == 0) != NULL);
    gc_stats s1 = get_stats();
    CHECK_EQ(s1.by_size[0].mallocs - s0.by_size[0].mallocs, 3,
             "by_size[0].mallocs after 3 large objects");
    CHECK_EQ(s1.mallocs - s0.mallocs, 3, "mallocs after 3 large objects");
    CHECK_EQ(s1.heap_objects - s0.heap_objects, 3, "heap_objects after 3 large objects");
    CHECK_EQ(s1.heap_alloc - s0.heap_alloc, 3 * 40960,
             "heap_alloc after 3 large objects of 40000 bytes (5 pages)");
    CHECK_EQ(s1.total_alloc - s0.total_alloc, 3 * 40960, "total_alloc after 3 large objects");
    CHECK_CMP(s1.heap_sys, >=, s1.heap_alloc, "heap_sys vs heap_alloc");
}

static void *tiny_stats_thread(void *arg)
{
    gc_stats *out = arg;
    out[0] = get_stats();
    // 16 one-byte objects fill exactly one block: 1 block + 15 inside it.
    for (int i = 0; i < 16; i++)
        cr_assert(gc_alloc(1, false) != NULL);
    out[1] = get_stats();
    return NULL;
}

Test(alloc, stats_count_tiny_allocations_as_in_go)
{
    gc_stats s[2];
    run_in_thread(tiny_stats_thread, s);
    CHECK_EQ(s[1].mallocs - s[0].mallocs, 16, "mallocs after 16 tiny allocations");
    CHECK_EQ(s[1].tiny_allocs - s[0].tiny_allocs, 15,
             "tiny_allocs (served inside an existing block)");
    CHECK_EQ(s[1].heap_objects - s[0].heap_objects, 1, "heap_objects (one block)");
    CHECK_EQ(s[1].heap_alloc - s[0].heap_alloc, 16, "heap_alloc (one 16-byte block)");
    CHECK_EQ(s[1].frees - s[0].frees, 15, "frees (counts tiny allocations inside a block, as Go)");
    CHECK_EQ(s[1].mallocs - s[1].frees, s[1].heap_objects, "mallocs - frees vs heap_objects");
}

// test_populate.c: the page heap backs a new span with memory in one call
// when every page of it is about to be written (src/mheap.c,
// "Populating"): a small-object span on fresh pages or on pages the
// scavenger released, and a large object that gc_alloc clears. A large
// object on fresh pages, and one from gc_alloc_uninit, keep faulting page
// by page, so that the host pays only for what it touches. Residency is
// read with mincore(2); the tests skip where the kernel has no
// MADV_POPULATE_WRITE (Linux < 5.14), after checking that gcheap then
// populates nothing and still allocates. GCHEAP_DEBUG=populate=0 turns it
// off.
#include "whitebox.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

// Does the kernel take the advice? Asked on a scratch mapping.
static bool kernel_populates(void)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    void *p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert(p != MAP_FAILED, "mmap of a scratch page failed");
    bool ok = madvise(p, page, MADV_POPULATE_WRITE) == 0;
    munmap(p, page);
    return ok;
}

// The OS pages of [p, p + size) that are resident.
static size_t resident_pages(const void *p, size_t size)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t lo = (uintptr_t)p & ~(uintptr_t)(page - 1);
    size_t n = ((uintptr_t)p + size - lo + page - 1) / page;
    unsigned char *vec = malloc(n);
    cr_assert(vec != NULL);
    cr_assert(mincore((void *)lo, n * page, vec) == 0, "mincore: %s", strerror(errno));
    size_t resident = 0;
    for (size_t i = 0; i < n; i++)
        resident += vec[i] & 1;
    free(vec);
    return resident;
}

static size_t os_pages(size_t bytes)
{
    return bytes / (size_t)sysconf(_SC_PAGESIZE);
}

// The span holding p, and its bytes.
static struct mspan *span_of(const void *p, size_t *bytes)
{
    struct mspan *s = gch_span_of((uintptr_t)p);
    cr_assert(s != NULL && s->state == MSPAN_IN_USE, "no in-use span holds %p", p);
    *bytes = s->npages << GCH_PAGE_SHIFT;
    return s;
}

// Nothing is live: a collection frees every object.
static void no_roots(void *ctx)
{
    (void)ctx;
}

// Frees every object, then hands every free page back to the OS. Two
// collections: the first sweep keeps the spans it empties for their
// cache for one cycle (src/mcache.c, [C4]); the second frees them.
static void collect_and_release_all(void)
{
    gc_collect();
    gc_collect();
    gch_mheap_scavenge(0, 0);
    gc_stats st;
    gc_get_stats(&st);
    CHECK_EQ(st.heap_released, st.heap_sys - st.heap_inuse, "every free page released");
}

static void setup(void)
{
    // Residency is counted in 4 KiB pages: no transparent huge page may
    // back a range at its first touch, or fill one in later (khugepaged),
    // whatever the system's THP setting.
    gc_set_hugepages(false);
    gc_set_roots(no_roots, NULL);
    gc_set_gogc(-1); // collections only where a test asks
}

// Without the advice, gcheap must populate nothing and allocate anyway.
static void skip_unless_populating(void)
{
    if (kernel_populates())
        return;
    void *p = gc_alloc(48, true);
    CHECK(p != NULL, "gc_alloc without MADV_POPULATE_WRITE");
    CHECK_EQ(gch_os_populated(), 0u, "bytes populated where the kernel refuses the advice");
    cr_skip_test("the kernel has no MADV_POPULATE_WRITE (Linux < 5.14)");
}

Test(populate, a_small_objects_span_on_fresh_pages_is_resident_when_made, .init = setup)
{
    skip_unless_populating();
    size_t before = gch_os_populated();
    // The allocation itself writes nothing into fresh memory: without
    // populating, none of the span's pages would be resident yet.
    char *p = gc_alloc(48, true);
    CHECK(p != NULL, "gc_alloc(48)");
    size_t bytes;
    struct mspan *s = span_of(p, &bytes);
    CHECK(!s->needzero, "the first span of the heap is on fresh pages");
    CHECK_EQ(resident_pages((void *)s->base, bytes), os_pages(bytes),
             "resident pages of the %zu-byte span", bytes);
    CHECK_CMP(gch_os_populated() - before, >=, bytes, "bytes populated");
}

// GCHEAP_DEBUG=populate=0: the span faults in as it is written.
static void setup_off(void)
{
    setenv("GCHEAP_DEBUG", "populate=0", 1); // read at the first call
    setup();
}

Test(populate, populate_0_in_gcheap_debug_turns_it_off, .init = setup_off)
{
    skip_unless_populating();
    char *p = gc_alloc(48, true);
    CHECK(p != NULL, "gc_alloc(48)");
    size_t bytes;
    struct mspan *s = span_of(p, &bytes);
    CHECK(!s->needzero, "the first span of the heap is on fresh pages");
    CHECK_EQ(resident_pages((void *)s->base, bytes), 0u, "resident pages of the untouched span");
    CHECK_EQ(gch_os_populated(), 0u, "bytes populated with populate=0");
    memset(p, 1, 48);
    CHECK_EQ(resident_pages((void *)s->base, bytes), 1u, "resident pages after writing the object");
}

Test(populate, a_large_object_on_fresh_pages_is_left_to_fault, .init = setup)
{
    skip_unless_populating();
    size_t size = 4 * MiB;
    size_t before = gch_os_populated();
    char *p = gc_alloc(size, true);
    CHECK(p != NULL, "gc_alloc(4 MiB)");
    CHECK_EQ(gch_os_populated(), before, "bytes populated for a large object on fresh pages");
    CHECK_EQ(resident_pages(p, size), 0u, "resident pages of an untouched 4 MiB object");
    p[size / 2] = 1;
    CHECK_EQ(resident_pages(p, size), 1u, "resident pages after writing one byte");
}

Test(populate, a_small_objects_span_on_released_pages_is_resident_when_made, .init = setup)
{
    skip_unless_populating();
    // Fill some spans of one class, drop them and release their pages.
    enum { N = 4096 };
    uintptr_t first = 0;
    for (int i = 0; i < N; i++) {
        void *p = gc_alloc(256, true);
        CHECK(p != NULL, "gc_alloc(256) #%d", i);
        memset(p, 0xa5, 256);
        if (i == 0)
            first = (uintptr_t)p;
    }
    collect_and_release_all();
    CHECK_EQ(resident_pages((void *)first, GCH_PAGE_SIZE), 0u, "the first span's page, released");
    // The page allocator is first fit: the class's next span is cut from
    // the lowest released pages again.
    size_t before = gch_os_populated();
    char *q = gc_alloc(256, true);
    CHECK(q != NULL, "gc_alloc(256) after the release");
    size_t bytes;
    struct mspan *s = span_of(q, &bytes);
    CHECK(s->needzero, "the span reuses pages (%p, first was %p)", (void *)s->base, (void *)first);
    CHECK_EQ(resident_pages((void *)s->base, bytes), os_pages(bytes),
             "resident pages of the %zu-byte span on released pages", bytes);
    CHECK_CMP(gch_os_populated() - before, >=, bytes, "bytes populated");
    for (size_t i = 0; i < 256; i++)
        CHECK_EQ(q[i], 0, "byte %zu of an object on released pages", i);
}

Test(populate, a_cleared_large_object_on_released_pages_is_populated_an_uninit_one_not,
     .init = setup)
{
    skip_unless_populating();
    size_t size = 4 * MiB;
    char *p = gc_alloc(size, true);
    CHECK(p != NULL, "gc_alloc(4 MiB)");
    memset(p, 0xa5, size);
    collect_and_release_all();
    CHECK_EQ(resident_pages(p, size), 0u, "the dropped object's pages, released");

    // gc_alloc_uninit on the same pages: nothing clears them, nothing is
    // populated.
    size_t before = gch_os_populated();
    char *u = gc_alloc_uninit(size);
    CHECK_PTR_EQ(u, p, "gc_alloc_uninit reuses the released pages");
    CHECK_EQ(gch_os_populated(), before, "bytes populated for gc_alloc_uninit");
    CHECK_EQ(resident_pages(u, size), 0u, "resident pages of the untouched uninit object");
    memset(u, 0x5a, size);
    collect_and_release_all();

    // gc_alloc clears pages used before: they are populated first.
    before = gch_os_populated();
    char *z = gc_alloc(size, true);
    CHECK_PTR_EQ(z, p, "gc_alloc reuses the released pages");
    CHECK_CMP(gch_os_populated() - before, >=, size, "bytes populated for the cleared object");
    for (size_t i = 0; i < size; i += 4096)
        CHECK_EQ(z[i], 0, "byte %zu of the cleared object", i);
}

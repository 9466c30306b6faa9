// test_sizeclass.c: white-box tests of the generated size-class tables
// (src/sizeclasses.h, defined by src/sizeclass.c). The generator checks these
// properties before writing the header; this test checks the committed header
// itself, against Go's table as published.
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../src/sizeclasses.h"

#define LEN(a) (sizeof(a) / sizeof((a)[0]))

// Go's bytes/obj and pages columns (internal/runtime/gc/sizeclasses.go),
// classes 1..67; class 0 (large) is all zero.
static const unsigned go_size[GCH_NUM_SIZE_CLASSES] = {
    0,     8,     16,    24,    32,    48,    64,    80,    96,    112,   128,   144,
    160,   176,   192,   208,   224,   240,   256,   288,   320,   352,   384,   416,
    448,   480,   512,   576,   640,   704,   768,   896,   1024,  1152,  1280,  1408,
    1536,  1792,  2048,  2304,  2688,  3072,  3200,  3456,  4096,  4864,  5376,  6144,
    6528,  6784,  6912,  8192,  9472,  9728,  10240, 10880, 12288, 13568, 14336, 16384,
    18432, 19072, 20480, 21760, 24576, 27264, 28672, 32768,
};
static const unsigned go_npages[GCH_NUM_SIZE_CLASSES] = {
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,  1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 2, 1, 2, 1, 3, 2,  3, 1, 3,
    2, 3, 4, 5, 6, 1, 7, 6, 5, 4, 3, 5, 7, 2, 9, 7, 5, 8, 3, 10, 7, 4,
};

// The lookup rule documented in sizeclasses.h, for 1 <= size <= 32768.
static unsigned size_to_class(size_t size)
{
    if (size <= GCH_SMALL_SIZE_MAX - 8)
        return gch_size_to_class8[(size + 7) >> 3];
    return gch_size_to_class128[(size - GCH_SMALL_SIZE_MAX + 127) >> 7];
}

static size_t span_bytes(unsigned c)
{
    return (size_t)gch_class_to_npages[c] * GCH_PAGE_SIZE;
}

Test(sizeclass, constants)
{
    cr_assert_eq(GCH_NUM_SIZE_CLASSES, 68, "want 68 classes, got %d", GCH_NUM_SIZE_CLASSES);
    cr_assert_eq(GCH_NUM_SPAN_CLASSES, GCH_NUM_SIZE_CLASSES << 1, "want %d span classes, got %d",
                 GCH_NUM_SIZE_CLASSES << 1, GCH_NUM_SPAN_CLASSES);
    cr_assert_eq(GCH_PAGE_SIZE, 1 << GCH_PAGE_SHIFT, "page size %d, want 1 << %d", GCH_PAGE_SIZE,
                 GCH_PAGE_SHIFT);
    cr_assert_eq(GCH_MAX_SMALL_SIZE, 32768, "max small size: want 32768 got %d",
                 GCH_MAX_SMALL_SIZE);
    cr_assert_eq(gch_class_to_size[GCH_NUM_SIZE_CLASSES - 1], GCH_MAX_SMALL_SIZE,
                 "largest class: want %d got %u", GCH_MAX_SMALL_SIZE,
                 gch_class_to_size[GCH_NUM_SIZE_CLASSES - 1]);
    cr_assert_eq(gch_class_to_size[GCH_TINY_SIZE_CLASS], GCH_TINY_SIZE,
                 "tiny class %d: want size %d got %u", GCH_TINY_SIZE_CLASS, GCH_TINY_SIZE,
                 gch_class_to_size[GCH_TINY_SIZE_CLASS]);

    unsigned max_objs = 0, max_pages = 0;
    for (unsigned c = 1; c < GCH_NUM_SIZE_CLASSES; c++) {
        unsigned objs = (unsigned)(span_bytes(c) / gch_class_to_size[c]);
        if (objs > max_objs)
            max_objs = objs;
        if (gch_class_to_npages[c] > max_pages)
            max_pages = gch_class_to_npages[c];
    }
    cr_assert_eq(max_objs, GCH_MAX_OBJS_PER_SPAN, "max objects per span: want %d got %u",
                 GCH_MAX_OBJS_PER_SPAN, max_objs);
    cr_assert_eq(max_pages, GCH_MAX_CLASS_NPAGES, "max pages per class span: want %d got %u",
                 GCH_MAX_CLASS_NPAGES, max_pages);
}

Test(sizeclass, table_lengths)
{
    cr_assert_eq(LEN(gch_class_to_size), 68, "class_to_size: want 68 entries got %zu",
                 LEN(gch_class_to_size));
    cr_assert_eq(LEN(gch_class_to_npages), 68, "class_to_npages: want 68 entries got %zu",
                 LEN(gch_class_to_npages));
    cr_assert_eq(LEN(gch_class_to_divmagic), 68, "class_to_divmagic: want 68 entries got %zu",
                 LEN(gch_class_to_divmagic));
    cr_assert_eq(LEN(gch_size_to_class8), 129, "size_to_class8: want 129 entries got %zu",
                 LEN(gch_size_to_class8));
    cr_assert_eq(LEN(gch_size_to_class128), 249, "size_to_class128: want 249 entries got %zu",
                 LEN(gch_size_to_class128));
}

Test(sizeclass, class_zero_is_large)
{
    cr_assert(gch_class_to_size[0] == 0 && gch_class_to_npages[0] == 0 &&
                  gch_class_to_divmagic[0] == 0,
              "class 0: want size/npages/divmagic 0/0/0 got %u/%u/%u", gch_class_to_size[0],
              gch_class_to_npages[0], gch_class_to_divmagic[0]);
    cr_assert_eq(gch_size_to_class8[0], 0, "size_to_class8[0]: want 0 got %u",
                 gch_size_to_class8[0]);
}

Test(sizeclass, sizes_match_go)
{
    for (unsigned c = 0; c < GCH_NUM_SIZE_CLASSES; c++)
        cr_assert_eq(gch_class_to_size[c], go_size[c], "class %u: want size %u got %u", c,
                     go_size[c], gch_class_to_size[c]);
}

Test(sizeclass, npages_match_go)
{
    for (unsigned c = 0; c < GCH_NUM_SIZE_CLASSES; c++)
        cr_assert_eq(gch_class_to_npages[c], go_npages[c],
                     "class %u (size %u): want %u pages got %u", c, go_size[c], go_npages[c],
                     gch_class_to_npages[c]);
}

Test(sizeclass, lookup_gives_smallest_fitting_class)
{
    for (size_t size = 1; size <= GCH_MAX_SMALL_SIZE; size++) {
        unsigned c = size_to_class(size);
        cr_assert(c >= 1 && c < GCH_NUM_SIZE_CLASSES, "size %zu: class %u out of 1..%d", size, c,
                  GCH_NUM_SIZE_CLASSES - 1);
        cr_assert(gch_class_to_size[c] >= size, "size %zu: class %u holds only %u bytes", size, c,
                  gch_class_to_size[c]);
        cr_assert(gch_class_to_size[c - 1] < size,
                  "size %zu: class %u (%u bytes) is not the smallest fit, class %u (%u bytes) fits",
                  size, c, gch_class_to_size[c], c - 1, gch_class_to_size[c - 1]);
    }
}

Test(sizeclass, tail_waste_at_most_one_eighth)
{
    for (unsigned c = 1; c < GCH_NUM_SIZE_CLASSES; c++) {
        size_t span = span_bytes(c), tail = span % gch_class_to_size[c];
        cr_assert(tail * 8 <= span, "class %u (size %u, %u pages): tail %zu > span/8 = %zu", c,
                  gch_class_to_size[c], gch_class_to_npages[c], tail, span / 8);
    }
}

Test(sizeclass, divmagic_formula)
{
    for (unsigned c = 1; c < GCH_NUM_SIZE_CLASSES; c++) {
        uint32_t want = 0xFFFFFFFFu / gch_class_to_size[c] + 1;
        cr_assert_eq(gch_class_to_divmagic[c], want, "class %u (size %u): want divmagic %u got %u",
                     c, gch_class_to_size[c], want, gch_class_to_divmagic[c]);
    }
}

Test(sizeclass, divmagic_exact_for_every_offset)
{
    for (unsigned c = 1; c < GCH_NUM_SIZE_CLASSES; c++) {
        size_t size = gch_class_to_size[c], span = span_bytes(c);
        for (size_t off = 0; off <= span; off++) {
            uint64_t got = ((uint64_t)off * gch_class_to_divmagic[c]) >> 32;
            if (got != off / size)
                cr_assert_fail("class %u (size %zu): offset %zu: want index %zu got %llu", c, size,
                               off, off / size, (unsigned long long)got);
        }
    }
}

// Spans start on a page (8 KiB) boundary, so object i sits at span + i*size.
// gcheap promises 16-byte alignment for classes whose size is a multiple of
// 16; only the 8- and 24-byte classes fall short, and they are 8-aligned.
Test(sizeclass, alignment)
{
    for (unsigned c = 1; c < GCH_NUM_SIZE_CLASSES; c++) {
        size_t size = gch_class_to_size[c], span = span_bytes(c);
        cr_assert(size % 8 == 0, "class %u: size %zu not a multiple of 8", c, size);
        bool want16 = size != 8 && size != 24;
        cr_assert_eq(size % 16 == 0, want16, "class %u (size %zu): 16-byte multiple %s", c, size,
                     want16 ? "expected" : "unexpected");
        size_t align = size % 16 == 0 ? 16 : 8;
        for (size_t off = 0; off + size <= span; off += size)
            cr_assert(off % align == 0, "class %u (size %zu): object at offset %zu not %zu-aligned",
                      c, size, off, align);
    }
}

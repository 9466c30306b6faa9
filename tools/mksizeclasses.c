// mksizeclasses.c: derives gcheap's small-object size classes and writes
// src/sizeclasses.h. See src/malloc.c for the overview. Go counterpart:
// src/runtime/_mkmalloc/mksizeclasses.go (which writes sizeclasses.go).
//
// Usage:  mksizeclasses OUTPUT_FILE   derive, check, write OUTPUT_FILE
//         mksizeclasses -             derive, check, write to stdout
//         mksizeclasses --selftest    show that check_table rejects bad tables
//
// The table is computed, not copied, with Go's algorithm, so that gcheap and
// Go keep the same 68 classes and a reader can compare the two side by side:
//
//   1. Candidate sizes step from 8 by an alignment that grows at each power
//      of two: 8 below 32, 16 from 32, size/8 from 128, 256 from 2048. The
//      step bounds the internal waste of a request that just misses a class.
//   2. Each candidate gets the fewest 8 KiB pages whose tail (the bytes left
//      over after the last whole object) is at most 1/8 of the span.
//   3. A candidate that has the same page count and the same object count as
//      the previous class replaces (widens) it: a separate class would cost a
//      span list and buy nothing.
//   4. Each class then grows to the largest multiple of 128 that still fits
//      the same number of objects in its span (the tail is spent on bigger
//      objects instead of being wasted).
//
// Before writing anything the result is checked (check_table): exactly 68
// classes, tail <= span/8 for every class, the 32-bit division magic exact
// for every byte offset of the span, and both lookup arrays naming the
// smallest class that fits every small size. A failed check prints
// "mksizeclasses: <reason>" and exits 1 without touching the output; the
// output is written to a temporary file and renamed, so it is never left
// half-written. --selftest feeds deliberately broken tables to check_table to
// prove that each check bites.
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum {
    PAGE_SHIFT = 13,
    PAGE_SIZE = 1 << PAGE_SHIFT,
    MIN_HEAP_ALIGN = 8,     // the smallest class, and every size's divisor
    MAX_SMALL_SIZE = 32768, // largest size served from a size class
    SMALL_SIZE_DIV = 8,     // granule of the fine lookup array
    SMALL_SIZE_MAX = 1024,  // the fine array covers sizes up to here
    LARGE_SIZE_DIV = 128,   // granule of the coarse lookup array
    WANT_CLASSES = 68,      // Go's count, class 0 (large) included
    TINY_SIZE = 16,         // tiny-allocator block: must be a class
    MAX_CLASSES = 256,      // room to hold (and reject) a wrong count
    CLASS8_LEN = SMALL_SIZE_MAX / SMALL_SIZE_DIV + 1,                      // 129
    CLASS128_LEN = (MAX_SMALL_SIZE - SMALL_SIZE_MAX) / LARGE_SIZE_DIV + 1, // 249
};

// One size class. Class 0 stands for "large object" and is all zeros.
struct sizeclass {
    uint32_t size;     // bytes per object slot
    uint32_t npages;   // pages per span
    uint32_t divmagic; // off / size == (off * divmagic) >> 32 for off <= span
};

struct table {
    unsigned nclasses;
    struct sizeclass cls[MAX_CLASSES];
    uint8_t class8[CLASS8_LEN];     // [k]: smallest class with size >= 8k
    uint8_t class128[CLASS128_LEN]; // [k]: smallest class with size >= 1024 + 128k
};

static int is_pow2(uint32_t x)
{
    return x != 0 && (x & (x - 1)) == 0;
}

static uint32_t span_bytes(const struct sizeclass *c)
{
    return c->npages * PAGE_SIZE;
}

// Returns the 32-bit reciprocal used to divide a span offset by size without a
// divide instruction; 0 for class 0, which holds a single object.
static uint32_t div_magic(uint32_t size)
{
    return size == 0 ? 0 : UINT32_MAX / size + 1;
}

// Returns the alignment every object of a class with this size is guaranteed:
// spans are page-aligned, so objects sit at multiples of size, capped at a page.
static uint32_t min_align(uint32_t size)
{
    uint32_t a = 1;
    while (a < PAGE_SIZE && size % (a * 2) == 0)
        a *= 2;
    return a;
}

// Steps 1-4 of the header comment. Returns 0, or -1 if the candidate list
// outgrows MAX_CLASSES (which the count check would reject anyway).
static int make_classes(struct table *t)
{
    memset(t, 0, sizeof *t);
    t->nclasses = 1; // class 0: large objects
    uint32_t align = MIN_HEAP_ALIGN;
    for (uint32_t size = align; size <= MAX_SMALL_SIZE; size += align) {
        if (is_pow2(size)) {
            if (size >= 2048)
                align = 256;
            else if (size >= 128)
                align = size / 8;
            else if (size >= 32)
                align = 16;
        }
        uint32_t npages = 1;
        while ((npages * PAGE_SIZE) % size > (npages * PAGE_SIZE) / 8)
            npages++;
        uint32_t span = npages * PAGE_SIZE;
        struct sizeclass *prev = &t->cls[t->nclasses - 1];
        if (t->nclasses > 1 && prev->npages == npages && span / prev->size == span / size) {
            prev->size = size;
            continue;
        }
        if (t->nclasses == MAX_CLASSES)
            return -1;
        t->cls[t->nclasses++] = (struct sizeclass){.size = size, .npages = npages};
    }
    for (unsigned c = 1; c < t->nclasses; c++) {
        struct sizeclass *k = &t->cls[c];
        uint32_t span = span_bytes(k);
        uint32_t grown = (span / (span / k->size)) & ~(uint32_t)(LARGE_SIZE_DIV - 1);
        if (grown > k->size)
            k->size = grown;
    }
    return 0;
}

static void fill_magic(struct table *t)
{
    for (unsigned c = 0; c < t->nclasses; c++)
        t->cls[c].divmagic = div_magic(t->cls[c].size);
}

// Returns the smallest class whose size is >= size, or 0 if none is.
static unsigned smallest_fit(const struct table *t, uint32_t size)
{
    for (unsigned c = 1; c < t->nclasses; c++)
        if (t->cls[c].size >= size)
            return c;
    return 0;
}

static void fill_lookup(struct table *t)
{
    t->class8[0] = 0; // size 0 has no class
    for (unsigned k = 1; k < CLASS8_LEN; k++)
        t->class8[k] = (uint8_t)smallest_fit(t, k * SMALL_SIZE_DIV);
    for (unsigned k = 0; k < CLASS128_LEN; k++)
        t->class128[k] = (uint8_t)smallest_fit(t, SMALL_SIZE_MAX + k * LARGE_SIZE_DIV);
}

// The lookup rule the header documents and malloc.c uses, for size in
// 1..MAX_SMALL_SIZE.
static unsigned lookup(const struct table *t, uint32_t size)
{
    if (size <= SMALL_SIZE_MAX - SMALL_SIZE_DIV)
        return t->class8[(size + SMALL_SIZE_DIV - 1) / SMALL_SIZE_DIV];
    return t->class128[(size - SMALL_SIZE_MAX + LARGE_SIZE_DIV - 1) / LARGE_SIZE_DIV];
}

static int fail(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *why, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
    return -1;
}

// Returns 0 if t is a table gcheap can use, or -1 with the first problem
// found described (values included) in why.
static int check_table(const struct table *t, char *why, size_t len)
{
    if (t->nclasses != WANT_CLASSES)
        return fail(why, len, "%u size classes, want %d", t->nclasses, WANT_CLASSES);
    const struct sizeclass *z = &t->cls[0];
    if (z->size != 0 || z->npages != 0 || z->divmagic != 0)
        return fail(why, len, "class 0 must be all zero, got size %u npages %u divmagic %u",
                    z->size, z->npages, z->divmagic);

    for (unsigned c = 1; c < t->nclasses; c++) {
        const struct sizeclass *k = &t->cls[c];
        uint32_t prev = t->cls[c - 1].size;
        if (k->size <= prev || k->size > MAX_SMALL_SIZE || k->size % MIN_HEAP_ALIGN != 0)
            return fail(
                why, len,
                "class %u: size %u must exceed class %u's %u, be <= %d and a multiple of %d", c,
                k->size, c - 1, prev, MAX_SMALL_SIZE, MIN_HEAP_ALIGN);
        // Stored in uint8_t; 255 pages also keeps span * divmagic below 2^64.
        if (k->npages < 1 || k->npages > UINT8_MAX)
            return fail(why, len, "class %u (size %u): %u pages, want 1..%d", c, k->size, k->npages,
                        UINT8_MAX);
        uint32_t span = span_bytes(k);
        if (k->size > span)
            return fail(why, len, "class %u: size %u does not fit its %u-byte span", c, k->size,
                        span);
        uint32_t tail = span % k->size;
        if (tail > span / 8)
            return fail(why, len,
                        "class %u (size %u, %u pages): tail waste %u bytes exceeds span/8 = %u", c,
                        k->size, k->npages, tail, span / 8);
        for (uint32_t n = 0; n <= span; n++) {
            uint64_t q = ((uint64_t)n * k->divmagic) >> 32;
            if (q != n / k->size)
                return fail(why, len,
                            "class %u (size %u, %u pages): division magic %u inexact at "
                            "offset %u: got %llu, want %u",
                            c, k->size, k->npages, k->divmagic, n, (unsigned long long)q,
                            n / k->size);
        }
        if (k->divmagic != div_magic(k->size))
            return fail(why, len,
                        "class %u (size %u): division magic %u, want 0xFFFFFFFF/%u+1 = %u", c,
                        k->size, k->divmagic, k->size, div_magic(k->size));
    }
    if (t->cls[t->nclasses - 1].size != MAX_SMALL_SIZE)
        return fail(why, len, "largest class is %u bytes, want %d", t->cls[t->nclasses - 1].size,
                    MAX_SMALL_SIZE);
    unsigned tiny = smallest_fit(t, TINY_SIZE);
    if (t->cls[tiny].size != TINY_SIZE)
        return fail(why, len,
                    "no %d-byte class for tiny blocks (smallest fit is class %u, %u bytes)",
                    TINY_SIZE, tiny, t->cls[tiny].size);

    // Every entry of both arrays, including those no size in 1..32768 reaches
    // (class8[0] and class8[128]), must be the smallest class that fits.
    if (t->class8[0] != 0)
        return fail(why, len, "size_to_class8[0] = %u, want 0", t->class8[0]);
    for (unsigned k = 1; k < CLASS8_LEN; k++) {
        unsigned want = smallest_fit(t, k * SMALL_SIZE_DIV);
        if (t->class8[k] != want)
            return fail(why, len, "lookup table size_to_class8[%u] (size %u) = %u, want %u", k,
                        k * SMALL_SIZE_DIV, t->class8[k], want);
    }
    for (unsigned k = 0; k < CLASS128_LEN; k++) {
        unsigned want = smallest_fit(t, SMALL_SIZE_MAX + k * LARGE_SIZE_DIV);
        if (t->class128[k] != want)
            return fail(why, len, "lookup table size_to_class128[%u] (size %u) = %u, want %u", k,
                        SMALL_SIZE_MAX + k * LARGE_SIZE_DIV, t->class128[k], want);
    }
    for (uint32_t size = 1; size <= MAX_SMALL_SIZE; size++) {
        unsigned c = lookup(t, size);
        if (c < 1 || c >= t->nclasses || t->cls[c].size < size || t->cls[c - 1].size >= size)
            return fail(why, len, "lookup of size %u gives class %u, want %u", size, c,
                        smallest_fit(t, size));
    }
    return 0;
}

static unsigned max_objects(const struct table *t)
{
    unsigned m = 0;
    for (unsigned c = 1; c < t->nclasses; c++) {
        unsigned n = span_bytes(&t->cls[c]) / t->cls[c].size;
        if (n > m)
            m = n;
    }
    return m;
}

static unsigned max_npages(const struct table *t)
{
    unsigned m = 0;
    for (unsigned c = 1; c < t->nclasses; c++)
        if (t->cls[c].npages > m)
            m = t->cls[c].npages;
    return m;
}

// Writes one C array definition, perrow values to a line.
static void emit_array(FILE *f, const char *decl, const uint32_t *v, unsigned n, unsigned perrow)
{
    fprintf(f, "%s = {\n", decl);
    for (unsigned i = 0; i < n; i++) {
        fprintf(f, "%s%u,", i % perrow == 0 ? "    " : " ", v[i]);
        if (i % perrow == perrow - 1 || i == n - 1)
            fputc('\n', f);
    }
    fprintf(f, "};\n");
}

static void emit_header(FILE *f, const struct table *t)
{
    fprintf(f,
            "// Generated by tools/mksizeclasses.c; DO NOT EDIT.\n"
            "// Regenerate with 'make sizeclasses'; 'make check-sizeclasses' fails when this\n"
            "// file differs from what the generator writes.\n"
            "//\n"
            "// gcheap's small-object size classes, derived with the algorithm of Go's\n"
            "// runtime/_mkmalloc/mksizeclasses.go; the classes are Go's (64-bit, 8 KiB pages).\n"
            "// Class 0 means \"large\": the object gets a span of its own.\n"
            "//\n"
            "// Size -> class, for 1 <= size <= GCH_MAX_SMALL_SIZE:\n"
            "//   size <= 1024-8:  class = gch_size_to_class8[(size + 7) >> 3]\n"
            "//   otherwise:       class = gch_size_to_class128[(size - 1024 + 127) >> 7]\n"
            "// Both give the smallest class whose size is >= size. Size 0 maps to class 0\n"
            "// and must be handled by the caller.\n"
            "//\n"
            "// Divergence from Go: gcheap serves every size up to 32768 inclusive from a\n"
            "// class. Go sends 32761..32768 to the large path because its scan objects\n"
            "// carry an 8-byte malloc header; gcheap objects carry no header.\n"
            "//\n"
            "// Object index of a byte offset within a span of class c (exact for every\n"
            "// offset 0..npages*GCH_PAGE_SIZE, checked by the generator):\n"
            "//   idx = (uint32_t)(((uint64_t)off * gch_class_to_divmagic[c]) >> 32)\n"
            "//\n"
            "// tail: bytes after the last object. max waste: internal plus tail waste\n"
            "// when every object is one byte larger than the previous class. align: the\n"
            "// alignment every object of the class has, its span being page-aligned.\n"
            "// Classes whose objects are not 16-byte aligned:");
    for (unsigned c = 1; c < t->nclasses; c++)
        if (t->cls[c].size % 16 != 0)
            fprintf(f, " %u (%u bytes)", c, t->cls[c].size);
    fprintf(f, ".\n"
               "//\n"
               "// class  bytes/obj  bytes/span  pages  objects   tail  max waste  align\n");
    for (unsigned c = 1; c < t->nclasses; c++) {
        const struct sizeclass *k = &t->cls[c];
        uint32_t span = span_bytes(k), objs = span / k->size, tail = span % k->size;
        uint64_t waste = (uint64_t)(k->size - t->cls[c - 1].size - 1) * objs + tail;
        uint64_t bp = (waste * 10000 + span / 2) / span; // hundredths of a percent
        fprintf(f, "// %5u  %9u  %10u  %5u  %7u  %5u  %6u.%02u%%  %5u\n", c, k->size, span,
                k->npages, objs, tail, (unsigned)(bp / 100), (unsigned)(bp % 100),
                min_align(k->size));
    }
    fprintf(f,
            "\n"
            "#ifndef GCH_SIZECLASSES_H\n"
            "#define GCH_SIZECLASSES_H\n"
            "\n"
            "#include <stdint.h>\n"
            "\n"
            "#define GCH_NUM_SIZE_CLASSES %u\n"
            "#define GCH_NUM_SPAN_CLASSES %u  // (%u << 1): a scan and a noscan class each\n"
            "#define GCH_MAX_SMALL_SIZE %d\n"
            "#define GCH_SMALL_SIZE_DIV %d\n"
            "#define GCH_SMALL_SIZE_MAX %d\n"
            "#define GCH_LARGE_SIZE_DIV %d\n"
            "#define GCH_PAGE_SHIFT %d\n"
            "#define GCH_PAGE_SIZE %d\n"
            "#define GCH_MAX_OBJS_PER_SPAN %u  // most objects in any class's span\n"
            "#define GCH_MAX_CLASS_NPAGES %u    // most pages in any class's span\n"
            "#define GCH_TINY_SIZE %d\n"
            "#define GCH_TINY_SIZE_CLASS %u  // the class whose size is GCH_TINY_SIZE\n"
            "\n",
            t->nclasses, t->nclasses << 1, t->nclasses, MAX_SMALL_SIZE, SMALL_SIZE_DIV,
            SMALL_SIZE_MAX, LARGE_SIZE_DIV, PAGE_SHIFT, PAGE_SIZE, max_objects(t), max_npages(t),
            TINY_SIZE, smallest_fit(t, TINY_SIZE));

    static const char *const decl[] = {
        "const uint16_t gch_class_to_size[GCH_NUM_SIZE_CLASSES]",
        "const uint8_t gch_class_to_npages[GCH_NUM_SIZE_CLASSES]",
        "const uint32_t gch_class_to_divmagic[GCH_NUM_SIZE_CLASSES]",
        "const uint8_t gch_size_to_class8[GCH_SMALL_SIZE_MAX / GCH_SMALL_SIZE_DIV + 1]",
        ("const uint8_t gch_size_to_class128[(GCH_MAX_SMALL_SIZE - GCH_SMALL_SIZE_MAX) / "
         "GCH_LARGE_SIZE_DIV + 1]"),
    };
    fprintf(f, "// Defined in src/sizeclass.c (which defines GCH_SIZECLASSES_IMPL); declared\n"
               "// extern everywhere else, since an unused static const array would warn.\n"
               "// All three class arrays are 0 at class 0.\n");
    for (unsigned i = 0; i < sizeof decl / sizeof decl[0]; i++)
        fprintf(f, "extern %s;\n", decl[i]);

    uint32_t v[MAX_CLASSES > CLASS128_LEN ? MAX_CLASSES : CLASS128_LEN];
    fprintf(f, "\n#if defined(GCH_SIZECLASSES_IMPL)\n");
    for (unsigned c = 0; c < t->nclasses; c++)
        v[c] = t->cls[c].size;
    emit_array(f, decl[0], v, t->nclasses, 12);
    for (unsigned c = 0; c < t->nclasses; c++)
        v[c] = t->cls[c].npages;
    emit_array(f, decl[1], v, t->nclasses, 24);
    for (unsigned c = 0; c < t->nclasses; c++)
        v[c] = t->cls[c].divmagic;
    emit_array(f, decl[2], v, t->nclasses, 8);
    for (unsigned k = 0; k < CLASS8_LEN; k++)
        v[k] = t->class8[k];
    emit_array(f, decl[3], v, CLASS8_LEN, 24);
    for (unsigned k = 0; k < CLASS128_LEN; k++)
        v[k] = t->class128[k];
    emit_array(f, decl[4], v, CLASS128_LEN, 24);
    fprintf(f, "#endif // GCH_SIZECLASSES_IMPL\n\n#endif // GCH_SIZECLASSES_H\n");
}

// Derives and completes a table. Returns 0, or -1 with the reason in why.
static int build_table(struct table *t, char *why, size_t len)
{
    if (make_classes(t) != 0)
        return fail(why, len, "more than %d size classes derived", MAX_CLASSES - 1);
    fill_magic(t);
    fill_lookup(t);
    return 0;
}

// --selftest: each case breaks one property of the good table and names the
// words the rejection must contain, so a case rejected for the wrong reason
// fails too.
static void drop_class(struct table *t, unsigned c)
{
    memmove(&t->cls[c], &t->cls[c + 1], (t->nclasses - c - 1) * sizeof t->cls[0]);
    t->nclasses--;
    fill_lookup(t);
}

static void break_count(struct table *t)
{
    drop_class(t, 3); // Go's table before the 24-byte class was added
}

static void break_waste(struct table *t)
{
    t->cls[36].size = 1704; // one page: 4 objects, tail 1376 > 1024
    fill_magic(t);
    fill_lookup(t);
}

static void break_magic_size(struct table *t)
{
    // 28416 bytes in 21 pages passes the waste rule (tail 1536), but
    // 0xFFFFFFFF/28416+1 overshoots 2^32/28416 by enough that the quotient
    // is one too big at offset 170495, inside the 172032-byte span.
    t->cls[66].size = 28416;
    t->cls[66].npages = 21;
    fill_magic(t);
    fill_lookup(t);
}

static void break_magic_value(struct table *t)
{
    t->cls[20].divmagic -= 1; // rounds down: offset 320 gives index 0
}

static void break_magic_formula(struct table *t)
{
    t->cls[10].divmagic += 1; // still exact for a 128-byte class, but not the formula
}

static void break_class8(struct table *t)
{
    t->class8[20] += 1; // a class that fits, but not the smallest
}

static void break_class128(struct table *t)
{
    t->class128[100] -= 1; // a class too small for the sizes it covers
}

static int selftest(void)
{
    static const struct {
        const char *name;
        void (*breakit)(struct table *);
        const char *expect;
    } cases[] = {
        {"67 classes", break_count, "67 size classes"},
        {"tail waste over 1/8", break_waste, "tail waste 1376"},
        {"size with inexact magic", break_magic_size, "inexact"},
        {"corrupted magic", break_magic_value, "inexact"},
        {"magic off the formula", break_magic_formula, "want 0xFFFFFFFF/128+1"},
        {"size_to_class8 not smallest", break_class8, "size_to_class8[20]"},
        {"size_to_class128 too small", break_class128, "size_to_class128[100]"},
    };
    char why[512];
    struct table good;
    if (build_table(&good, why, sizeof why) != 0 || check_table(&good, why, sizeof why) != 0) {
        fprintf(stderr, "mksizeclasses: selftest: the derived table is rejected: %s\n", why);
        return 1;
    }
    static struct table bad;
    int failed = 0;
    for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bad = good;
        cases[i].breakit(&bad);
        why[0] = '\0';
        if (check_table(&bad, why, sizeof why) == 0) {
            fprintf(stderr, "mksizeclasses: selftest: %s: accepted, want rejected\n",
                    cases[i].name);
            failed = 1;
        } else if (strstr(why, cases[i].expect) == NULL) {
            fprintf(stderr, "mksizeclasses: selftest: %s: rejected for \"%s\", want \"%s\"\n",
                    cases[i].name, why, cases[i].expect);
            failed = 1;
        } else {
            printf("selftest: %s: rejected: %s\n", cases[i].name, why);
        }
    }
    if (failed)
        return 1;
    printf("selftest: derived table accepted, %zu broken tables rejected\n",
           sizeof cases / sizeof cases[0]);
    return 0;
}

// Writes the header to path through a temporary file in the same directory,
// renamed into place only once fully written. Returns 0 or -1 (reported).
static int write_file(const char *path, const struct table *t)
{
    size_t n = strlen(path);
    char *tmp = malloc(n + sizeof ".tmpXXXXXX");
    if (tmp == NULL) {
        fprintf(stderr, "mksizeclasses: out of memory\n");
        return -1;
    }
    memcpy(tmp, path, n);
    memcpy(tmp + n, ".tmpXXXXXX", sizeof ".tmpXXXXXX");
    int fd = mkstemp(tmp);
    if (fd < 0) {
        fprintf(stderr, "mksizeclasses: cannot create %s: %s\n", tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    FILE *f = fdopen(fd, "w");
    if (f == NULL) {
        fprintf(stderr, "mksizeclasses: %s: %s\n", tmp, strerror(errno));
        close(fd);
        remove(tmp);
        free(tmp);
        return -1;
    }
    (void)fchmod(fd, 0644); // mkstemp makes it 0600; the header is no secret
    emit_header(f, t);
    int bad = ferror(f);
    bad |= fclose(f);
    if (bad) {
        fprintf(stderr, "mksizeclasses: error writing %s\n", tmp);
        remove(tmp);
        free(tmp);
        return -1;
    }
    if (rename(tmp, path) != 0) {
        fprintf(stderr, "mksizeclasses: cannot rename %s to %s: %s\n", tmp, path, strerror(errno));
        remove(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: mksizeclasses OUTPUT_FILE | - | --selftest\n");
        return 2;
    }
    if (strcmp(argv[1], "--selftest") == 0)
        return selftest();

    static struct table t;
    char why[512];
    if (build_table(&t, why, sizeof why) != 0 || check_table(&t, why, sizeof why) != 0) {
        fprintf(stderr, "mksizeclasses: %s\n", why);
        return 1;
    }
    if (strcmp(argv[1], "-") == 0) {
        emit_header(stdout, &t);
        if (fflush(stdout) != 0 || ferror(stdout)) {
            fprintf(stderr, "mksizeclasses: error writing standard output\n");
            return 1;
        }
        return 0;
    }
    return write_file(argv[1], &t) == 0 ? 0 : 1;
}

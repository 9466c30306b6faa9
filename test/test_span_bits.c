// test_span_bits.c: the bit helpers of src/span.h that the fast path and
// the sweep count on: gch_ctz64 (written in assembly on x86-64),
// gch_popcount64 (ALU operations where the build has no POPCNT) and
// gch_span_valid_mask, each against a plain loop over the 64 bits, on
// every single-bit and edge value and on pseudo-random words.
#include "whitebox.h"

static unsigned slow_ctz(uint64_t x)
{
    unsigned n = 0;
    while ((x & 1) == 0) {
        x >>= 1;
        n++;
    }
    return n;
}

static unsigned slow_popcount(uint64_t x)
{
    unsigned n = 0;
    for (int i = 0; i < 64; i++)
        n += (unsigned)(x >> i) & 1;
    return n;
}

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

// Edge values, every single bit and every run of low or high bits, then
// random words of every density (a random word ANDed or ORed with more).
static size_t test_words(uint64_t *out, size_t cap)
{
    size_t n = 0;
    out[n++] = 0;
    out[n++] = ~(uint64_t)0;
    for (int i = 0; i < 64; i++) {
        out[n++] = (uint64_t)1 << i;
        out[n++] = ~((uint64_t)1 << i);
        out[n++] = ((uint64_t)1 << i) - 1;
        out[n++] = ~(((uint64_t)1 << i) - 1);
    }
    uint64_t s = 0x9E3779B97F4A7C15u;
    while (n < cap) {
        uint64_t x = xorshift(&s);
        switch (n % 4) {
        case 0:
            out[n++] = x;
            break;
        case 1:
            out[n++] = x & xorshift(&s) & xorshift(&s);
            break;
        case 2:
            out[n++] = x | xorshift(&s) | xorshift(&s);
            break;
        default:
            out[n++] = x & xorshift(&s);
            break;
        }
    }
    return n;
}

enum { NWORDS = 100000 };
static uint64_t words[NWORDS];

Test(span_bits, popcount64_counts_every_bit)
{
    size_t n = test_words(words, NWORDS);
    for (size_t i = 0; i < n; i++)
        CHECK_EQ(gch_popcount64(words[i]), slow_popcount(words[i]), "word %#jx",
                 (uintmax_t)words[i]);
}

Test(span_bits, ctz64_finds_the_lowest_set_bit)
{
    size_t n = test_words(words, NWORDS);
    for (size_t i = 0; i < n; i++) {
        if (words[i] != 0)
            CHECK_EQ(gch_ctz64(words[i]), slow_ctz(words[i]), "word %#jx", (uintmax_t)words[i]);
    }
}

Test(span_bits, valid_mask_covers_exactly_the_slots_below_nelems)
{
    for (uint32_t nelems = 1; nelems <= 1024; nelems++) {
        for (uint32_t w = 0; w < gch_bitmap_words(nelems) + 1; w++) {
            uint64_t mask = gch_span_valid_mask(nelems, w);
            for (uint32_t b = 0; b < 64; b++) {
                bool valid = w * 64 + b < nelems;
                CHECK_EQ((mask >> b) & 1, valid, "nelems %u, word %u, bit %u", nelems, w, b);
            }
        }
        CHECK_EQ(gch_bitmap_words(nelems), (nelems + 63) / 64, "words for %u slots", nelems);
    }
}

// verify.c owns the heap checker: gch_heap_verify walks every structure and
// reports the first broken invariant, by its tag in the structure's comment
// (internal.h). See malloc.c for the overview; Lua's ltests.c checkheap is
// the model (Go has no single equivalent).
//
// Checked: every in-use span ([S1]-[S10], alloc_count against its bitmaps,
// its marks between cycles against [G1]),
// the page allocator (its own summaries against its bitmaps, and that every
// span's pages are allocated), the page cache ([PC1]-[PC4]), every mcentral
// set (class, sweepgen state, partial/full), every mcache ([C1]-[C4]), and
// that each in-use span is in exactly one place: an mcentral set or a
// cache.
//
// Runs when GCH_DEBUG >= 3 or GCHEAP_DEBUG=verify=1 at each phase boundary
// (mark.c), and from tests. The caller stops the world; the checker takes
// mheap.lock and the mcentral locks itself, one at a time.
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>

struct verify_ctx {
    char *why;
    size_t len;
    bool ok;
    uint32_t sg;
    size_t spans; // in-use spans found in the arena maps
};

__attribute__((format(printf, 2, 3))) static void verify_fail(struct verify_ctx *v, const char *fmt,
                                                              ...)
{
    if (!v->ok)
        return;
    v->ok = false;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->why, v->len, fmt, ap);
    va_end(ap);
}

static void verify_span(struct mspan *s, void *arg)
{
    struct verify_ctx *v = arg;
    v->spans++;
    uintptr_t b = s->base;
    unsigned cls = gch_spanclass_sizeclass(s->spanclass);
    if (s->state != MSPAN_IN_USE)
        return verify_fail(v, "[S7] span %p in the page map has state %d", (void *)b, s->state);
    if (s->alloc_count > s->nelems || s->nelems * s->elemsize > s->npages * GCH_PAGE_SIZE)
        return verify_fail(v, "[S1] span %p: alloc_count %u nelems %u elemsize %zu npages %zu",
                           (void *)b, s->alloc_count, s->nelems, s->elemsize, s->npages);
    if (s->limit != b + (uintptr_t)s->nelems * s->elemsize)
        return verify_fail(v, "[S2] span %p: limit %p", (void *)b, (void *)s->limit);
    uint32_t fi = s->freeindex;
    if (fi > s->nelems || (fi % 64 != 0 && fi != s->nelems))
        return verify_fail(v, "[S3] span %p: freeindex %u, nelems %u", (void *)b, fi, s->nelems);
    uint64_t cache = s->alloc_cache;
    uint64_t free_bits =
        fi < s->nelems ? ~(uint64_t)s->alloc_bits[fi / 64] & gch_span_valid_mask(s->nelems, fi / 64)
                       : 0;
    if ((cache & ~free_bits) != 0)
        return verify_fail(
            v, "[S4] span %p: alloc_cache %#llx not within the free slots %#llx (freeindex %u)",
            (void *)b, (unsigned long long)cache, (unsigned long long)free_bits, fi);
    if (s->window_base != b + (uintptr_t)fi * s->elemsize)
        return verify_fail(v, "[S4] span %p: window_base %p, freeindex %u", (void *)b,
                           (void *)s->window_base, fi);
    uint32_t allocated = 0;
    for (uint32_t i = 0; i < s->nelems; i++)
        allocated += gch_span_slot_allocated(s, i);
    uint32_t ssg = (uint32_t)AO_load(&s->sweepgen), sg = v->sg;
    bool cached = ssg == sg + 3 || ssg == sg + 1;
    if (s->alloc_count != (cached ? s->nelems : allocated))
        return verify_fail(v, "[S9] span %p (%s): %u slots allocated, alloc_count %u", (void *)b,
                           cached ? "cached" : "not cached", allocated, s->alloc_count);
    if (s->window_black && (!cached || (cache != 0 && (s->gcmark_bits[fi / 64] & cache) != cache)))
        return verify_fail(v, "[S10] span %p: window %#llx not marked in advance", (void *)b,
                           (unsigned long long)cache);
    if ((ssg == sg || cached) && AO_load(&gch_gc.phase) == GCH_PHASE_MUTATE) {
        // Swept since the last cycle: the marks are the survivors' if
        // sweeping was sticky ([G1], [G2]: on allocated slots only), else
        // none.
        bool sticky = AO_load(&gch_gen.sticky) != 0;
        for (uint32_t i = 0; i < s->nelems; i++) {
            if (gch_mark_bit_get(s->gcmark_bits, i) && (!sticky || !gch_span_slot_allocated(s, i)))
                return verify_fail(v, "[G1] span %p: slot %u marked between cycles (%s)", (void *)b,
                                   i, sticky ? "free" : "sweeps not sticky");
        }
    }
    if (!gch_gcbits_live(s->alloc_bits) || !gch_gcbits_live(s->gcmark_bits))
        return verify_fail(v, "[B1] span %p: bitmaps %p/%p lie in a recycled epoch", (void *)b,
                           (void *)s->alloc_bits, (void *)s->gcmark_bits);
    if (cls != 0 && s->divmul != gch_class_to_divmagic[cls])
        return verify_fail(v, "[S5] span %p: divmul %u for class %u", (void *)b, s->divmul, cls);
    if (ssg != sg - 2 && ssg != sg - 1 && ssg != sg && ssg != sg + 1 && ssg != sg + 3)
        return verify_fail(v, "[S6] span %p: sweepgen %u, heap %u", (void *)b, ssg, sg);
    for (size_t i = 0; i < s->npages; i++) {
        uintptr_t p = b + (i << GCH_PAGE_SHIFT);
        if (gch_span_of(p) != s)
            return verify_fail(v, "[S7] page %p of span %p maps elsewhere", (void *)p, (void *)b);
        if (!gch_pagealloc_in_use(&gch_mheap.pages, p))
            return verify_fail(v, "span %p: page %p free in the page allocator", (void *)b,
                               (void *)p);
    }
    if (cls == 0 && (s->nelems != 1 || s->elemsize != s->npages * GCH_PAGE_SIZE))
        return verify_fail(v, "[S8] large span %p: nelems %u elemsize %zu npages %zu", (void *)b,
                           s->nelems, s->elemsize, s->npages);
}

// Checks one mcentral set; returns the number of spans in it.
static size_t verify_set(struct verify_ctx *v, struct mcentral *c, struct mspan *head, bool swept,
                         bool full)
{
    size_t n = 0;
    for (struct mspan *s = head; s != NULL && v->ok; s = s->next, n++) {
        uint32_t ssg = (uint32_t)AO_load(&s->sweepgen);
        if (s->spanclass != c->spanclass)
            verify_fail(v, "span %p of class %u in mcentral %u", (void *)s->base, s->spanclass,
                        c->spanclass);
        else if (swept && ssg != v->sg)
            verify_fail(v, "[S6] span %p in a swept set has sweepgen %u (heap %u)", (void *)s->base,
                        ssg, v->sg);
        else if (!swept && ssg != v->sg - 2)
            verify_fail(v, "[S6] span %p in an unswept set has sweepgen %u (heap %u)",
                        (void *)s->base, ssg, v->sg);
        else if (swept && full != (s->alloc_count == s->nelems))
            verify_fail(v, "span %p in a swept %s set has %u/%u objects", (void *)s->base,
                        full ? "full" : "partial", s->alloc_count, s->nelems);
        else if (s->kept_empty && s->alloc_count != 0)
            verify_fail(v, "[C4] span %p kept empty has %u objects", (void *)s->base,
                        s->alloc_count);
    }
    return n;
}

// One of cache c's lists of slot i ([C4]): swept spans of the slot's class
// that c held last, full or partly free as the list says, ending at tail.
// Returns the number of spans.
static size_t verify_cache_list(struct verify_ctx *v, struct mcache *c, unsigned i,
                                struct mspan *head, struct mspan *tail, bool full)
{
    size_t n = 0;
    struct mspan *last = NULL;
    for (struct mspan *s = head; s != NULL && v->ok; s = s->next) {
        n++;
        last = s;
        uint32_t ssg = (uint32_t)AO_load(&s->sweepgen);
        bool fill_ok = full ? s->alloc_count == s->nelems : s->alloc_count < s->nelems && c->live;
        if (s->kept_empty && s->alloc_count != 0)
            fill_ok = false;
        if (s->spanclass != gch_mcache_slot_spanclass(i) || ssg != v->sg || s->last_cache != c ||
            !fill_ok)
            verify_fail(v,
                        "[C4] %s list %u of a cache holds span %p of class %u, sweepgen %u "
                        "(heap %u), %u/%u allocated",
                        full ? "full" : "partial", i, (void *)s->base, s->spanclass, ssg, v->sg,
                        s->alloc_count, s->nelems);
    }
    if (v->ok && last != tail)
        verify_fail(v, "[C4] %s list %u of a cache: tail %p, but last span %p",
                    full ? "full" : "partial", i, (void *)tail, (void *)last);
    return n;
}

// Cache c's unswept list of slot i ([C6]): unswept spans of the slot's
// class that c held last, ending at tail. Returns the number of spans.
static size_t verify_unswept_list(struct verify_ctx *v, struct mcache *c, unsigned i)
{
    size_t n = 0;
    struct mspan *last = NULL;
    for (struct mspan *s = c->unswept[i]; s != NULL && v->ok; s = s->next) {
        n++;
        last = s;
        uint32_t ssg = (uint32_t)AO_load(&s->sweepgen);
        if (s->spanclass != gch_mcache_slot_spanclass(i) || ssg != v->sg - 2 || s->last_cache != c)
            verify_fail(v,
                        "[C6] unswept list %u of a cache holds span %p of class %u, sweepgen %u "
                        "(heap %u)",
                        i, (void *)s->base, s->spanclass, ssg, v->sg);
    }
    if (v->ok && last != c->unswept_tail[i])
        verify_fail(v, "[C6] unswept list %u of a cache: tail %p, but last span %p", i,
                    (void *)c->unswept_tail[i], (void *)last);
    return n;
}

bool gch_heap_verify(char *why, size_t whylen)
{
    struct verify_ctx v = {.why = why, .len = whylen, .ok = true};
    v.sg = (uint32_t)AO_load(&gch_mheap.sweepgen);
    if (whylen > 0)
        why[0] = '\0';

    gch_mutex_lock(&gch_mheap.lock);
    bool pages_ok = gch_pagealloc_verify(&gch_mheap.pages, why, whylen) &&
                    gch_pagecache_verify(&gch_mheap.pcache, &gch_mheap.pages, why, whylen);
    for (uint64_t m = gch_mheap.pcache.cache; pages_ok && m != 0; m &= m - 1) {
        uintptr_t pg = gch_mheap.pcache.base + ((uintptr_t)__builtin_ctzll(m) << GCH_PAGE_SHIFT);
        if (gch_span_of(pg) != NULL) {
            snprintf(why, whylen, "[PC4] cached page %p belongs to a span", (void *)pg);
            pages_ok = false;
        }
    }
    gch_mutex_unlock(&gch_mheap.lock);
    if (!pages_ok)
        return false;

    gch_mheap_for_each_span(verify_span, &v);

    size_t placed = 0;
    for (int i = 0; i < GCH_NUM_SPAN_CLASSES && v.ok; i++) {
        struct mcentral *c = &gch_central[i];
        unsigned sw = (v.sg >> 1) & 1;
        gch_mutex_lock(&c->lock);
        placed += verify_set(&v, c, (struct mspan *)AO_load(&c->partial[sw]), true, false);
        placed += verify_set(&v, c, (struct mspan *)AO_load(&c->full[sw]), true, true);
        placed += verify_set(&v, c, (struct mspan *)AO_load(&c->partial[1 - sw]), false, false);
        placed += verify_set(&v, c, (struct mspan *)AO_load(&c->full[1 - sw]), false, false);
        gch_mutex_unlock(&c->lock);
    }
    for (struct mcache *c = gch_gc.mcaches; c != NULL && v.ok; c = c->next) {
        for (int i = 0; i < GCH_MCACHE_SLOTS && v.ok; i++) {
            struct mspan *s = (struct mspan *)AO_load(&c->alloc[i]);
            if (s == &gch_empty_span)
                continue;
            placed++;
            uint32_t ssg = (uint32_t)AO_load(&s->sweepgen);
            // h+1 (cached across a flip) never exists at a phase boundary:
            // gc_sweep uncaches every span before flipping.
            if (s->spanclass != gch_mcache_slot_spanclass((unsigned)i) || ssg != v.sg + 3)
                verify_fail(&v,
                            "[C1] cache slot %d holds span %p of class %u, sweepgen %u (heap %u)",
                            i, (void *)s->base, s->spanclass, ssg, v.sg);
            else if (s->kept_empty)
                verify_fail(&v, "[C4] cache slot %d holds span %p marked kept empty", i,
                            (void *)s->base);
        }
        for (unsigned i = 0; i < GCH_NUM_SPAN_CLASSES && v.ok; i++) {
            placed += verify_cache_list(&v, c, i, c->partial[i], c->partial_tail[i], false);
            placed += verify_cache_list(&v, c, i, c->full[i], c->full_tail[i], true);
            size_t unswept = verify_unswept_list(&v, c, i);
            if (v.ok && unswept != 0 && !c->sweep_ahead)
                verify_fail(&v, "[C6] unswept list %u of a cache is not empty, sweep_ahead is off",
                            i);
            placed += unswept;
        }
        for (unsigned i = 0; i < GCH_DIRECT_SIZES && v.ok; i++) {
            unsigned cls = gch_size_to_class8[i + 1];
            for (int ns = 0; ns < 2; ns++) {
                AO_t want = c->alloc[gch_mcache_slot(gch_spanclass(cls, ns))];
                if ((AO_t)c->small[ns][i] != want)
                    verify_fail(&v, "[C3] sizes %u..%u (noscan %d): span %p, class slot has %p",
                                8 * i + 1, 8 * i + 8, ns, (void *)c->small[ns][i], (void *)want);
            }
        }
        if (c->tiny_offset > GCH_TINY_SIZE ||
            (c->tiny != 0 && gc_size((void *)c->tiny) != GCH_TINY_SIZE))
            verify_fail(&v, "[C2] tiny block %p, offset %zu", (void *)c->tiny,
                        (size_t)c->tiny_offset);
    }
    if (v.ok && placed != v.spans)
        verify_fail(&v, "%zu in-use spans, but %zu in mcentral sets and caches", v.spans, placed);
    return v.ok;
}

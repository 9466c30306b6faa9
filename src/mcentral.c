// mcentral.c owns the central span lists, one per span class. See malloc.c
// for the overview; Go counterpart: mcentral.go (cacheSpan, uncacheSpan,
// grow) and mspanset.go.
//
// An mcentral holds the spans of its class that no mcache holds, in four
// sets: partial (some free slot) and full (none), each split in a swept
// and an unswept half. Which half is which flips with the heap's sweepgen
// (h): partial[h/2 % 2] is swept, partial[1 - h/2 % 2] is unswept. When
// gc_sweep adds 2 to h, every swept set becomes unswept at once, without
// touching a span: that is what makes gc_sweep O(1) in the heap size.
//
// cacheSpan's order (Go's): a swept partial span; else sweep unswept
// partial spans (a swept one with a free slot is used); else sweep unswept
// full spans, up to a budget of 100 (Go's 1% space overhead bound: each
// sweep that finds a full span is wasted work), moving them to full swept;
// else a fresh span from mheap.
//
// The sets are singly-linked stacks under one mutex per mcentral (a struct
// gch_mutex: one CAS to lock, one atomic decrement to unlock). Go uses
// lock-free span sets; a mutex held for a push or a pop is as fast when
// uncontended, and the sets are touched only on mcache refills (once per
// span's worth of objects) and by sweepers. An empty set is recognised
// inline and without the lock, so a refill that has to grow the heap does
// not lock each of the sets it finds empty.
//
// Locking: mcentral.lock protects the four sets. It is never held while
// sweeping or calling mheap, so the lock order (internal.h) is kept.
#include "internal.h"

struct mcentral gch_central[GCH_NUM_SPAN_CLASSES];

void gch_mcentral_init(void)
{
    for (int i = 0; i < GCH_NUM_SPAN_CLASSES; i++) {
        gch_mutex_init(&gch_central[i].lock);
        gch_central[i].spanclass = (uint8_t)i;
    }
}

static inline unsigned swept_index(uint32_t sg)
{
    return (sg >> 1) & 1;
}
static inline unsigned unswept_index(uint32_t sg)
{
    return 1 - swept_index(sg);
}

// Pops a span from a set, or returns NULL. Caller must hold c->lock.
static inline struct mspan *mcentral_pop_locked(struct mcentral *c, AO_t *set)
{
    GCH_ASSERT2(gch_mutex_held(&c->lock));
    (void)c; // unused when assertions are off
    struct mspan *s = (struct mspan *)AO_load(set);
    if (s != NULL) {
        AO_store(set, (AO_t)s->next);
        s->next = NULL;
    }
    return s;
}

// Pushes s on a set. Caller must hold c->lock.
static inline void mcentral_push_locked(struct mcentral *c, AO_t *set, struct mspan *s)
{
    GCH_ASSERT2(gch_mutex_held(&c->lock));
    (void)c; // unused when assertions are off
    s->next = (struct mspan *)AO_load(set);
    AO_store(set, (AO_t)s);
}

static GCH_NOINLINE struct mspan *mcentral_pop_slow(struct mcentral *c, AO_t *set)
{
    gch_mutex_lock(&c->lock);
    struct mspan *s = mcentral_pop_locked(c, set);
    gch_mutex_unlock(&c->lock);
    return s;
}

// Pops a span from a set, or returns NULL. An empty set is seen inline and
// without the lock (a push racing with the peek is as if it came later).
static inline struct mspan *mcentral_pop(struct mcentral *c, AO_t *set)
{
    if (AO_load(set) == 0)
        return NULL;
    return mcentral_pop_slow(c, set);
}

static void mcentral_push(struct mcentral *c, AO_t *set, struct mspan *s)
{
    gch_mutex_lock(&c->lock);
    mcentral_push_locked(c, set, s);
    gch_mutex_unlock(&c->lock);
}

// The set a swept span with alloc_count objects belongs in.
static inline AO_t *mcentral_swept_set(struct mcentral *c, struct mspan *s, uint32_t sg)
{
    return s->alloc_count < s->nelems ? &c->partial[swept_index(sg)] : &c->full[swept_index(sg)];
}

void gch_mcentral_push_swept(struct mcentral *c, struct mspan *s)
{
    uint32_t sg = (uint32_t)AO_load(&gch_mheap.sweepgen);
    GCH_ASSERT2((uint32_t)AO_load(&s->sweepgen) == sg);
    mcentral_push(c, mcentral_swept_set(c, s, sg), s);
}

// Puts list (linked by next) in front of set. Caller must hold c->lock.
static void mcentral_splice(struct mcentral *c, AO_t *set, struct mspan *list)
{
    GCH_ASSERT2(gch_mutex_held(&c->lock));
    (void)c; // unused when assertions are off
    if (list == NULL)
        return;
    struct mspan *tail = list;
    while (tail->next != NULL)
        tail = tail->next;
    tail->next = (struct mspan *)AO_load(set);
    AO_store(set, (AO_t)list);
}

struct mspan *gch_mcentral_take_unswept(struct mcentral *c, uint32_t sg)
{
    AO_t *partial = &c->partial[unswept_index(sg)], *full = &c->full[unswept_index(sg)];
    if (AO_load(partial) == 0 && AO_load(full) == 0)
        return NULL;
    gch_mutex_lock(&c->lock);
    AO_t list = 0;
    mcentral_splice(c, &list, (struct mspan *)AO_load(full));
    mcentral_splice(c, &list, (struct mspan *)AO_load(partial));
    AO_store(partial, 0);
    AO_store(full, 0);
    gch_mutex_unlock(&c->lock);
    return (struct mspan *)list;
}

// Puts the list head .. tail (linked by next) in front of set in O(1).
// Caller must hold c->lock.
static void mcentral_splice_tail(struct mcentral *c, AO_t *set, struct mspan *head,
                                 struct mspan *tail)
{
    GCH_ASSERT2(gch_mutex_held(&c->lock));
    (void)c; // unused when assertions are off
    if (head == NULL)
        return;
    GCH_ASSERT2(tail != NULL && tail->next == NULL);
    tail->next = (struct mspan *)AO_load(set);
    AO_store(set, (AO_t)head);
}

void gch_mcentral_give_swept_lists(struct mcentral *c, uint32_t sg, struct mspan *partial,
                                   struct mspan *partial_tail, struct mspan *full,
                                   struct mspan *full_tail)
{
    if (partial == NULL && full == NULL)
        return;
    gch_mutex_lock(&c->lock);
    mcentral_splice_tail(c, &c->partial[swept_index(sg)], partial, partial_tail);
    mcentral_splice_tail(c, &c->full[swept_index(sg)], full, full_tail);
    gch_mutex_unlock(&c->lock);
}

void gch_mcentral_give_unswept(struct mcentral *c, uint32_t sg, struct mspan *head,
                               struct mspan *tail)
{
    if (head == NULL)
        return;
    // The full set: cacheSpan takes a span of the unswept partial set as
    // having room, and some of these were full when the cache had them.
    gch_mutex_lock(&c->lock);
    mcentral_splice_tail(c, &c->full[unswept_index(sg)], head, tail);
    gch_mutex_unlock(&c->lock);
}

void gch_mcentral_give_swept(struct mcentral *c, uint32_t sg, struct mspan *partial,
                             struct mspan *full)
{
    if (partial == NULL && full == NULL)
        return;
    gch_mutex_lock(&c->lock);
    mcentral_splice(c, &c->partial[swept_index(sg)], partial);
    mcentral_splice(c, &c->full[swept_index(sg)], full);
    gch_mutex_unlock(&c->lock);
}

struct mspan *gch_mcentral_pop_unswept(struct mcentral *c, uint32_t sg)
{
    struct mspan *s = mcentral_pop(c, &c->partial[unswept_index(sg)]);
    if (s == NULL)
        s = mcentral_pop(c, &c->full[unswept_index(sg)]);
    return s;
}

// Hands a span with a free slot to an mcache: sweepgen = h+3 ("swept and
// cached"). Its window stays where it was ([S4]); the cache moves it on.
static struct mspan *mcentral_have_span(struct mspan *s, uint32_t sg)
{
    GCH_ASSERT1(s->alloc_count < s->nelems);
    AO_store_release(&s->sweepgen, (AO_t)(sg + 3));
    return s;
}

// cacheSpan past the swept partial set: unswept partial spans, then
// unswept full ones, then a fresh span.
static GCH_NOINLINE struct mspan *mcentral_cache_slow(struct mcentral *c, uint32_t sg)
{
    struct mspan *s;
    // Unswept partial spans: sweeping one keeps at least its free slots.
    while ((s = mcentral_pop(c, &c->partial[unswept_index(sg)])) != NULL) {
        if (gch_sweep_try_acquire(s, sg)) {
            gch_sweep_span(s, true);
            return mcentral_have_span(s, sg);
        }
        // Someone else owns it (it cannot be: sets own their spans), but be
        // safe and leave it to them.
    }
    // Unswept full spans: sweeping may free some slots.
    for (int budget = GCH_SPAN_BUDGET; budget > 0; budget--) {
        s = mcentral_pop(c, &c->full[unswept_index(sg)]);
        if (s == NULL)
            break;
        if (!gch_sweep_try_acquire(s, sg))
            continue;
        if (gch_sweep_span(s, true))
            return mcentral_have_span(s, sg);
        // Still full: it is swept now.
        AO_store_release(&s->sweepgen, (AO_t)sg);
        mcentral_push(c, &c->full[swept_index(sg)], s);
    }
    // Grow: a fresh span from the page heap. Growing may collect (at the
    // memory limit), which advances sweepgen: read it again.
    unsigned cls = gch_spanclass_sizeclass(c->spanclass);
    s = gch_mheap_alloc(gch_class_to_npages[cls], c->spanclass, true);
    if (s == NULL)
        return NULL;
    return mcentral_have_span(s, (uint32_t)AO_load_acquire(&gch_mheap.sweepgen));
}

struct mspan *gch_mcentral_cache_span(struct mcentral *c)
{
    uint32_t sg = (uint32_t)AO_load_acquire(&gch_mheap.sweepgen);
    struct mspan *s = mcentral_pop(c, &c->partial[swept_index(sg)]);
    if (s != NULL)
        return mcentral_have_span(s, sg);
    return mcentral_cache_slow(c, sg);
}

void gch_mcentral_uncache_span(struct mcentral *c, struct mspan *s)
{
    uint32_t sg = (uint32_t)AO_load_acquire(&gch_mheap.sweepgen);
    uint32_t ssg = (uint32_t)AO_load(&s->sweepgen);
    GCH_ASSERT1(ssg == sg + 1 || ssg == sg + 3);
    if (ssg == sg + 1) {
        // Cached before the last flip: it still needs sweeping, and nobody
        // else can sweep it while cached, so do it now (h+1 -> h-1).
        AO_store_release(&s->sweepgen, (AO_t)(sg - 1));
        gch_sweep_span(s, false);
        return;
    }
    AO_store_release(&s->sweepgen, (AO_t)sg);
    gch_mcentral_push_swept(c, s);
}

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
// The sets are singly-linked stacks under one mutex per mcentral. Go uses
// lock-free span sets; a mutex held for a push or a pop is as fast when
// uncontended, and the sets are touched only on mcache refills (once per
// span's worth of objects) and by sweepers. An empty set is recognised
// without the lock, so a refill that has to grow the heap does not lock
// each of the sets it finds empty.
//
// Locking: mcentral.lock protects the four sets. It is never held while
// sweeping or calling mheap, so the lock order (internal.h) is kept.
#include "internal.h"

struct mcentral gch_central[GCH_NUM_SPAN_CLASSES];

void gch_mcentral_init(void)
{
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, GCH_MUTEX_TYPE);
    for (int i = 0; i < GCH_NUM_SPAN_CLASSES; i++) {
        pthread_mutex_init(&gch_central[i].lock, &attr);
        gch_central[i].spanclass = (uint8_t)i;
    }
    pthread_mutexattr_destroy(&attr);
}

static inline unsigned swept_index(uint32_t sg)
{
    return (sg >> 1) & 1;
}
static inline unsigned unswept_index(uint32_t sg)
{
    return 1 - swept_index(sg);
}

// Pops a span from a set, or returns NULL. An empty set is seen without
// taking the lock (a push racing with the peek is as if it came later).
static struct mspan *mcentral_pop(struct mcentral *c, AO_t *set)
{
    if (AO_load(set) == 0)
        return NULL;
    pthread_mutex_lock(&c->lock);
    struct mspan *s = (struct mspan *)AO_load(set);
    if (s != NULL) {
        AO_store(set, (AO_t)s->next);
        s->next = NULL;
    }
    pthread_mutex_unlock(&c->lock);
    return s;
}

static void mcentral_push(struct mcentral *c, AO_t *set, struct mspan *s)
{
    pthread_mutex_lock(&c->lock);
    s->next = (struct mspan *)AO_load(set);
    AO_store(set, (AO_t)s);
    pthread_mutex_unlock(&c->lock);
}

void gch_mcentral_push_swept(struct mcentral *c, struct mspan *s)
{
    uint32_t sg = (uint32_t)AO_load(&gch_mheap.sweepgen);
    GCH_ASSERT2((uint32_t)AO_load(&s->sweepgen) == sg);
    if (s->alloc_count < s->nelems)
        mcentral_push(c, &c->partial[swept_index(sg)], s);
    else
        mcentral_push(c, &c->full[swept_index(sg)], s);
}

// Puts list (linked by next) in front of set. Caller must hold c->lock.
static void mcentral_splice(AO_t *set, struct mspan *list)
{
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
    pthread_mutex_lock(&c->lock);
    AO_t list = 0;
    mcentral_splice(&list, (struct mspan *)AO_load(full));
    mcentral_splice(&list, (struct mspan *)AO_load(partial));
    AO_store(partial, 0);
    AO_store(full, 0);
    pthread_mutex_unlock(&c->lock);
    return (struct mspan *)list;
}

void gch_mcentral_give_swept(struct mcentral *c, uint32_t sg, struct mspan *partial,
                             struct mspan *full)
{
    if (partial == NULL && full == NULL)
        return;
    pthread_mutex_lock(&c->lock);
    mcentral_splice(&c->partial[swept_index(sg)], partial);
    mcentral_splice(&c->full[swept_index(sg)], full);
    pthread_mutex_unlock(&c->lock);
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

// How many unswept full spans cacheSpan sweeps before giving up and
// growing (Go's spanBudget).
#define SPAN_BUDGET 100

struct mspan *gch_mcentral_cache_span(struct mcentral *c)
{
    uint32_t sg = (uint32_t)AO_load_acquire(&gch_mheap.sweepgen);
    struct mspan *s = mcentral_pop(c, &c->partial[swept_index(sg)]);
    if (s != NULL)
        return mcentral_have_span(s, sg);

    int budget = SPAN_BUDGET;
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
    for (; budget > 0; budget--) {
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
    s = gch_mheap_alloc(gch_class_to_npages[cls], c->spanclass);
    if (s == NULL)
        return NULL;
    return mcentral_have_span(s, (uint32_t)AO_load_acquire(&gch_mheap.sweepgen));
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

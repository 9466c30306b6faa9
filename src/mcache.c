// mcache.c owns the per-thread caches: one span per span class, the tiny
// block, and the marker's work stack. See malloc.c for the overview; Go
// counterpart: mcache.go (refill, releaseAll, prepareForSweep) and the
// per-P gcWork of mgcwork.go.
//
// Go keeps one mcache per P; gcheap keeps one per thread, found through a
// _Thread_local pointer. A thread's first allocation goes to the slow path
// (its pointer starts at gch_empty_mcache, whose spans have no free slot),
// which makes the real cache, registers it in the global list and with a
// pthread key whose destructor returns the cache's spans to their
// mcentrals when the thread exits. Freed caches are kept on a free list
// and reused by later threads, so 1000 short-lived threads cost one
// cache's worth of spans, not 1000.
//
// Accounting follows Go: objects are counted when their span leaves the
// cache (alloc_count - alloc_count_cached), not one by one on the fast
// path. heap_live, the pacer's input, is charged a span's whole free space
// when it is cached and refunded the unused part when it leaves.
//
// Allocate-black: while a mark phase runs, each cached span has a window
// [black_from, freeindex) of slots handed out during the phase. The
// window is opened at mark start (or when a span is cached during the
// phase) and its slots are marked when the span leaves the cache, at
// gc_sweep at the latest. The fast path pays nothing for it.
//
// Locking: a cache is touched only by its thread, except in STW (mark
// start, gc_sweep) and at thread exit, under gch_gc.lock. Fields that
// gc_get_stats reads from other threads are accessed atomically.
#include "internal.h"

#include <errno.h>
#include <string.h>

struct mcache gch_empty_mcache = {
    .alloc = {[0 ... GCH_NUM_SPAN_CLASSES - 1] = (AO_t)&gch_empty_span},
    .is_empty = true,
};

GCH_TLS_MODEL _Thread_local struct mcache *gch_tls_mcache = &gch_empty_mcache;
GCH_TLS_MODEL _Thread_local struct mcache *gch_tls_owner;

static pthread_key_t mcache_key;
static struct mcache *mcache_free_list; // protected by gch_gc.lock

#define GCWORK_INITIAL 1024

static void mcache_exit(void *arg);

void gch_mcache_init_key(void)
{
    if (pthread_key_create(&mcache_key, mcache_exit) != 0)
        gch_throw("pthread_key_create failed");
}

struct mcache *gch_mcache_get(void)
{
    struct mcache *c = gch_tls_owner;
    if (c != NULL)
        return c;
    gch_init();
    pthread_mutex_lock(&gch_gc.lock);
    c = mcache_free_list;
    if (c != NULL) {
        mcache_free_list = c->next;
    } else {
        c = gch_os_alloc(sizeof *c);
        if (c == NULL) {
            pthread_mutex_unlock(&gch_gc.lock);
            errno = ENOMEM;
            return NULL;
        }
        c->work.stack = gch_os_alloc(GCWORK_INITIAL * sizeof(struct gcwork_entry));
        c->work.cap = c->work.stack != NULL ? GCWORK_INITIAL : 0;
    }
    for (int i = 0; i < GCH_NUM_SPAN_CLASSES; i++)
        AO_store(&c->alloc[i], (AO_t)&gch_empty_span);
    c->tiny = 0;
    c->tiny_offset = 0;
    AO_store(&c->tiny_allocs, 0);
    c->work.len = 0;
    c->work.depth = 0;
    c->work.marked_bytes = 0;
    c->in_hook = false;
    c->is_empty = false;
    c->prev = NULL;
    c->next = gch_gc.mcaches;
    if (c->next != NULL)
        c->next->prev = c;
    gch_gc.mcaches = c;
    pthread_mutex_unlock(&gch_gc.lock);
    pthread_setspecific(mcache_key, c);
    gch_tls_owner = c;
    gch_tls_mcache = c;
    return c;
}

static void mcache_exit(void *arg)
{
    struct mcache *c = arg;
    gch_tls_mcache = &gch_empty_mcache;
    gch_tls_owner = NULL;
    pthread_mutex_lock(&gch_gc.lock);
    gch_mcache_release_all(c);
    gch_atomic_add(&gch_gc.marked_bytes, c->work.marked_bytes);
    c->work.marked_bytes = 0;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        gch_gc.mcaches = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    c->next = mcache_free_list;
    mcache_free_list = c;
    pthread_mutex_unlock(&gch_gc.lock);
}

// Marks the slots of s handed out during this mark phase.
static void mcache_apply_black(struct mspan *s)
{
    uint32_t from = s->black_from;
    s->black_from = GCH_NO_BLACK;
    if (from == GCH_NO_BLACK || from >= s->freeindex)
        return;
    uint32_t to = s->freeindex;
    uint64_t marked = 0;
    for (uint32_t w = from / 64; w * 64 < to; w++) {
        uint64_t mask = ~(uint64_t)0;
        if (from > w * 64)
            mask &= ~(((uint64_t)1 << (from - w * 64)) - 1);
        if (to < w * 64 + 64)
            mask &= ((uint64_t)1 << (to - w * 64)) - 1;
        mask &= ~(uint64_t)s->alloc_bits[w];
        if (mask != 0) {
            AO_or(&s->gcmark_bits[w], (AO_t)mask);
            marked += (uint64_t)__builtin_popcountll(mask);
        }
    }
    gch_atomic_add(&gch_gc.marked_bytes, (AO_t)(marked * s->elemsize));
}

// Returns s, cached in slot spc, to its mcentral and flushes its counts.
static void mcache_uncache(struct mspan *s)
{
    mcache_apply_black(s);
    unsigned cls = gch_spanclass_sizeclass(s->spanclass);
    AO_t used = s->alloc_count - s->alloc_count_cached;
    AO_t bytes = used * s->elemsize;
    gch_atomic_add(&gch_stats.mallocs[cls], used);
    gch_atomic_add(&gch_stats.total_alloc, bytes);
    gch_atomic_add(&gch_stats.heap_alloc, bytes);
    // Refund the reservation of the slots not handed out.
    gch_atomic_add(&gch_stats.heap_live, -(AO_t)((s->nelems - s->alloc_count) * s->elemsize));
    gch_mcentral_uncache_span(&gch_central[s->spanclass], s);
}

void gch_mcache_release_all(struct mcache *c)
{
    for (int i = 0; i < GCH_NUM_SPAN_CLASSES; i++) {
        struct mspan *s = (struct mspan *)c->alloc[i];
        if (s != &gch_empty_span) {
            AO_store(&c->alloc[i], (AO_t)&gch_empty_span);
            mcache_uncache(s);
        }
    }
    c->tiny = 0;
    c->tiny_offset = 0;
    gch_atomic_add(&gch_stats.tiny_allocs, AO_load(&c->tiny_allocs));
    AO_store(&c->tiny_allocs, 0);
}

// Caches a span of class spc with a free slot. Returns false (errno =
// ENOMEM) if none can be had.
static bool mcache_refill(struct mcache *c, uint8_t spc)
{
    struct mspan *s = (struct mspan *)c->alloc[spc];
    if (s != &gch_empty_span) {
        AO_store(&c->alloc[spc], (AO_t)&gch_empty_span);
        mcache_uncache(s);
    }
    unsigned cls = gch_spanclass_sizeclass(spc);
    gch_maybe_collect((uint64_t)gch_class_to_npages[cls] << GCH_PAGE_SHIFT);
    s = gch_mcentral_cache_span(&gch_central[spc]);
    if (s == NULL)
        return false;
    AO_int_store(&s->alloc_count_cached, s->alloc_count);
    gch_atomic_add(&gch_stats.heap_live, (AO_t)((s->nelems - s->alloc_count) * s->elemsize));
    if (AO_load(&gch_gc.phase) == GCH_PHASE_MARK)
        s->black_from = s->freeindex;
    AO_store(&c->alloc[spc], (AO_t)s);
    return true;
}

// Takes slot idx, which gch_span_next_free_index just returned: the
// alloc_cache window starts at idx.
static uintptr_t mcache_take(struct mspan *s, uint32_t idx)
{
    GCH_ASSERT2(idx < s->nelems && idx == s->freeindex && (s->alloc_cache & 1));
    s->freeindex = idx + 1;
    s->alloc_cache >>= 1;
    if (s->freeindex % 64 == 0 && s->freeindex < s->nelems)
        gch_span_refill_alloc_cache(s, s->freeindex / 64);
    AO_int_store(&s->alloc_count, s->alloc_count + 1);
    uintptr_t p = s->base + (uintptr_t)idx * s->elemsize;
    gch_check_alloc(p, s->elemsize);
    if (s->needzero)
        gch_memclr((void *)p, s->elemsize);
    return p;
}

GCH_NOINLINE uintptr_t gch_mcache_alloc_slow(struct mcache *c, uint8_t spc)
{
    if (c->is_empty) {
        // First allocation of this thread, or an allocation from a hook.
        gch_check_not_in_hook("gc_alloc called from a trace or roots hook");
        c = gch_mcache_get();
        if (c == NULL)
            return 0;
    }
    struct mspan *s = (struct mspan *)c->alloc[spc];
    if (s != &gch_empty_span) {
        uint32_t idx = gch_span_next_free_index(s);
        if (idx < s->nelems)
            return mcache_take(s, idx);
    }
    if (!mcache_refill(c, spc))
        return 0;
    s = (struct mspan *)c->alloc[spc];
    uint32_t idx = gch_span_next_free_index(s);
    if (idx >= s->nelems)
        gch_throw("mcentral gave a full span %p (class %u, %u/%u)", (void *)s->base, spc,
                  s->alloc_count, s->nelems);
    return mcache_take(s, idx);
}

void gch_mcache_begin_mark_all(void)
{
    for (struct mcache *c = gch_gc.mcaches; c != NULL; c = c->next) {
        if (c->tiny != 0) {
            struct mspan *s = gch_span_of(c->tiny);
            if (gch_mark_slot(s, gch_span_obj_index(s, c->tiny)))
                gch_atomic_add(&gch_gc.marked_bytes, GCH_TINY_SIZE);
        }
        for (int i = 0; i < GCH_NUM_SPAN_CLASSES; i++) {
            struct mspan *s = (struct mspan *)c->alloc[i];
            if (s != &gch_empty_span)
                s->black_from = s->freeindex;
        }
    }
}

void gch_mcache_inflight(uint64_t *bytes, uint64_t *objects, uint64_t *tiny,
                         uint64_t by_class[GCH_NUM_SIZE_CLASSES])
{
    *bytes = *objects = *tiny = 0;
    for (struct mcache *c = gch_gc.mcaches; c != NULL; c = c->next) {
        *tiny += AO_load(&c->tiny_allocs);
        for (int i = 0; i < GCH_NUM_SPAN_CLASSES; i++) {
            struct mspan *s = (struct mspan *)AO_load(&c->alloc[i]);
            if (s == &gch_empty_span)
                continue;
            uint64_t used = AO_int_load(&s->alloc_count) - AO_int_load(&s->alloc_count_cached);
            *bytes += used * s->elemsize;
            *objects += used;
            by_class[i >> 1] += used;
        }
    }
}

size_t gch_gcwork_limit = SIZE_MAX;

bool gch_gcwork_push(struct gcwork *w, void *obj, size_t size)
{
    if (GCH_UNLIKELY(w->len >= w->cap || w->len >= gch_gcwork_limit)) {
        if (w->len >= gch_gcwork_limit)
            return false;
        size_t cap = w->cap ? w->cap * 2 : GCWORK_INITIAL;
        struct gcwork_entry *stack = gch_os_alloc(cap * sizeof *stack);
        if (stack == NULL)
            return false;
        if (w->stack != NULL) {
            memcpy(stack, w->stack, w->len * sizeof *stack);
            gch_os_free(w->stack, w->cap * sizeof *stack);
        }
        w->stack = stack;
        w->cap = cap;
    }
    w->stack[w->len].obj = obj;
    w->stack[w->len].size = size;
    w->len++;
    return true;
}

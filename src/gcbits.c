// gcbits.c owns the memory of span bitmaps (alloc_bits and gcmark_bits).
// See malloc.c for the overview; Go counterpart: gcBitsArenas in mheap.go.
//
// Bitmaps are bump-allocated from 64 KiB arenas grouped in epochs, and a
// whole epoch is recycled at once instead of freeing bitmaps one by one.
// Sweeping a span turns its mark bits into its alloc bits and takes fresh
// zeroed mark bits from the `next` epoch. Once every span has been swept
// (at the start of the next mark phase) no span refers to the epoch that
// held the alloc bits replaced by the sweep before, so:
//
//   at gch_gcbits_rotate:   free <- free + previous
//                           previous <- current
//                           current <- next
//                           next <- (empty; refilled from free on demand)
//
// Invariant [B1]: when rotation runs, every span's alloc_bits and
// gcmark_bits lie in `current` or `next` (never `previous`): a span's alloc
// bits were made at most two sweeps ago, its mark bits at most one.
// Spans made between sweeps take both bitmaps from `next`, which satisfies
// [B1] as well. Bitmaps of freed spans are simply abandoned to their epoch.
// If a sweep finds no memory for fresh mark bits, it reuses the span's old
// alloc bits and moves their arena to `next` (gch_gcbits_keep), where a
// fresh bitmap would have been.
//
// New spans take their two bitmaps from a span run: a few KiB carved from
// `next` at once, then bump-allocated under mheap.lock, which the maker of
// every span holds anyway, without gcbits.lock (a span used to cost two
// gcbits lock sections; with two threads, that lock's cache line and the
// arena's moved between CPUs at every span).
//   [B2] span_cur <= span_end; [span_cur, span_end) is zeroed and lies in
//        one arena of `next`, or span_cur == span_end == NULL. Rotation
//        takes mheap.lock and empties the run, so a span made under
//        mheap.lock always gets bitmaps from `next`, as [B1] needs.
//
// Sweeps take the fresh mark bits from a run of their thread's cache in
// the same way (a span used to cost a gcbits lock section per sweep; with
// two threads sweeping lazily that lock was 5% of the profile):
//   [B3] c->bits_cur <= c->bits_end; [bits_cur, bits_end) is zeroed and
//        lies in one arena of `next`, or both are NULL. Rotation runs with
//        gch_gc.lock held and, by the protocol, no thread allocating (so
//        none sweeping), and empties every live cache's run; a cache's run
//        is empty when it is made and when it dies (both under
//        gch_gc.lock). So a sweep always gets bits from `next`, as [B1]
//        needs. What is left of a run at rotation (at most
//        GCBITS_CACHE_RUN_WORDS words per thread) is abandoned to its epoch.
//
// Locking: gcbits.lock (a struct gch_mutex) protects the epoch lists; it is
// a leaf (nothing that takes a lock is called with it held). The span run
// is protected by mheap.lock, which is above it in the lock order: a run
// is refilled, and epochs are rotated, with both held.
#include "internal.h"

#include <string.h>

#define GCBITS_ARENA_BYTES ((size_t)64 << 10)

struct gcbits_arena {
    struct gcbits_arena *next; // link within an epoch or the free list
    size_t used;               // words of bits handed out
    AO_t bits[];
};

#define GCBITS_ARENA_WORDS \
    ((GCBITS_ARENA_BYTES - offsetof(struct gcbits_arena, bits)) / sizeof(AO_t))

// Words carved from `next` for the span run at a time: 16 to 64 spans'
// bitmaps (2 x 1 to 16 words each), at most 8 KiB unused at a rotation.
#define GCBITS_SPAN_RUN_WORDS 1024

// Words carved from `next` for a cache's run at a time ([B3]): 16 to 256
// spans' mark bits (1 to 16 words each), 2 KiB.
#define GCBITS_CACHE_RUN_WORDS 256

static struct {
    struct gch_mutex lock;
    struct gcbits_arena *free, *next, *current, *previous; // protected by lock
    AO_t *span_cur, *span_end;                             // see [B2]; protected by mheap.lock
} gcbits = {.lock = GCH_MUTEX_INITIALIZER};

_Static_assert(GCBITS_SPAN_RUN_WORDS <= GCBITS_ARENA_WORDS, "a span run fits an arena");

// Puts a zeroed arena at the head of `next`, recycled or new. Caller must
// hold gcbits.lock. Returns NULL if memory is exhausted.
static struct gcbits_arena *gcbits_new_arena(void)
{
    GCH_ASSERT2(gch_mutex_held(&gcbits.lock));
    struct gcbits_arena *a = gcbits.free;
    if (a != NULL) {
        gcbits.free = a->next;
        // Recycled: its bits held stale bitmaps; new ones must start zero.
        memset(a->bits, 0, a->used * sizeof(AO_t));
    } else {
        a = gch_os_alloc(GCBITS_ARENA_BYTES);
        if (a == NULL)
            return NULL;
    }
    a->used = 0;
    a->next = gcbits.next;
    gcbits.next = a;
    return a;
}

// Bump-allocates `words` zeroed words from the `next` epoch. Caller must
// hold gcbits.lock. Returns NULL if memory is exhausted.
static inline AO_t *gcbits_alloc_locked(size_t words)
{
    GCH_ASSERT2(gch_mutex_held(&gcbits.lock));
    GCH_ASSERT1(words <= GCBITS_ARENA_WORDS);
    struct gcbits_arena *a = gcbits.next;
    if (a == NULL || a->used + words > GCBITS_ARENA_WORDS) {
        a = gcbits_new_arena();
        if (a == NULL)
            return NULL;
    }
    AO_t *bits = &a->bits[a->used];
    a->used += words;
    return bits;
}

// Refills c's run ([B3]) and takes words from it: GCBITS_CACHE_RUN_WORDS,
// or the rest of the arena being bump-allocated if that is shorter but
// holds words. Returns NULL if memory is exhausted.
static GCH_NOINLINE AO_t *gcbits_cache_refill(struct mcache *c, size_t words)
{
    GCH_ASSERT1(words <= GCBITS_CACHE_RUN_WORDS);
    gch_mutex_lock(&gcbits.lock);
    const struct gcbits_arena *a = gcbits.next;
    size_t n = GCBITS_CACHE_RUN_WORDS;
    if (a != NULL && a->used + n > GCBITS_ARENA_WORDS && a->used + words <= GCBITS_ARENA_WORDS)
        n = GCBITS_ARENA_WORDS - a->used;
    AO_t *run = gcbits_alloc_locked(n);
    gch_mutex_unlock(&gcbits.lock);
    if (run == NULL)
        return NULL;
    c->bits_cur = run + words;
    c->bits_end = run + n;
    return run;
}

AO_t *gch_gcbits_new(uint32_t nbits)
{
    size_t words = gch_bitmap_words(nbits == 0 ? 1 : nbits);
    struct mcache *c = gch_tls_owner;
    if (GCH_LIKELY(c != NULL)) {
        GCH_ASSERT1(c->bits_cur <= c->bits_end);
        AO_t *bits = c->bits_cur;
        if (GCH_LIKELY((size_t)(c->bits_end - bits) >= words)) {
            c->bits_cur = bits + words;
            return bits;
        }
        return gcbits_cache_refill(c, words);
    }
    gch_mutex_lock(&gcbits.lock);
    AO_t *bits = gcbits_alloc_locked(words);
    gch_mutex_unlock(&gcbits.lock);
    return bits;
}

// Refills the span run ([B2]) with at least `need` words. Caller must hold
// mheap.lock. Returns the run's start, or NULL if memory is exhausted.
static GCH_NOINLINE AO_t *gcbits_span_refill(size_t need)
{
    size_t n = need > GCBITS_SPAN_RUN_WORDS ? need : GCBITS_SPAN_RUN_WORDS;
    gch_mutex_lock(&gcbits.lock);
    AO_t *run = gcbits_alloc_locked(n);
    if (run == NULL && n > need) {
        // No new arena: the current one may still hold what this span needs.
        n = need;
        run = gcbits_alloc_locked(n);
    }
    gch_mutex_unlock(&gcbits.lock);
    if (run != NULL) {
        gcbits.span_cur = run;
        gcbits.span_end = run + n;
    }
    return run;
}

bool gch_gcbits_new_pair(uint32_t nbits, AO_t **alloc_bits, AO_t **mark_bits)
{
    GCH_ASSERT2(gch_mutex_held(&gch_mheap.lock));
    // One run of twice the words, for a new span's two bitmaps. They share
    // an arena, hence an epoch, which [B1] allows (both belong in `next`).
    size_t words = gch_bitmap_words(nbits == 0 ? 1 : nbits);
    AO_t *bits = gcbits.span_cur;
    if (GCH_UNLIKELY((size_t)(gcbits.span_end - bits) < 2 * words)) {
        bits = gcbits_span_refill(2 * words);
        if (bits == NULL) {
            *alloc_bits = *mark_bits = NULL;
            return false;
        }
    }
    gcbits.span_cur = bits + 2 * words;
    *alloc_bits = bits;
    *mark_bits = bits + words;
    return true;
}

// Unlinks the arena holding bits from *list; returns it, or NULL.
static struct gcbits_arena *gcbits_unlink(struct gcbits_arena **list, const AO_t *bits)
{
    for (; *list != NULL; list = &(*list)->next) {
        struct gcbits_arena *a = *list;
        if (bits >= a->bits && bits < a->bits + GCBITS_ARENA_WORDS) {
            *list = a->next;
            return a;
        }
    }
    return NULL;
}

void gch_gcbits_keep(const AO_t *bits)
{
    gch_mutex_lock(&gcbits.lock);
    struct gcbits_arena *a = gcbits_unlink(&gcbits.previous, bits);
    if (a == NULL)
        a = gcbits_unlink(&gcbits.current, bits);
    if (a != NULL) {
        // Behind the arena being bump-allocated, if any, so allocation
        // carries on where it was.
        if (gcbits.next != NULL) {
            a->next = gcbits.next->next;
            gcbits.next->next = a;
        } else {
            a->next = NULL;
            gcbits.next = a;
        }
    }
    gch_mutex_unlock(&gcbits.lock);
}

void gch_gcbits_rotate(void)
{
    // mheap.lock first (the lock order): no span is being made meanwhile,
    // and the span run, which is about to leave `next`, can be dropped.
    gch_mutex_lock(&gch_mheap.lock);
    gch_mutex_lock(&gcbits.lock);
    gcbits.span_cur = gcbits.span_end = NULL;
    for (struct mcache *c = gch_gc.mcaches; c != NULL; c = c->next)
        c->bits_cur = c->bits_end = NULL;
    struct gcbits_arena *a = gcbits.previous;
    while (a != NULL) {
        struct gcbits_arena *n = a->next;
        a->next = gcbits.free;
        gcbits.free = a;
        a = n;
    }
    gcbits.previous = gcbits.current;
    gcbits.current = gcbits.next;
    gcbits.next = NULL;
    gch_mutex_unlock(&gcbits.lock);
    gch_mutex_unlock(&gch_mheap.lock);
}

static bool gcbits_in_list(const struct gcbits_arena *a, const AO_t *bits)
{
    for (; a != NULL; a = a->next) {
        if (bits >= a->bits && bits < a->bits + GCBITS_ARENA_WORDS)
            return true;
    }
    return false;
}

bool gch_gcbits_live(const AO_t *bits)
{
    gch_mutex_lock(&gcbits.lock);
    bool live = gcbits_in_list(gcbits.next, bits) || gcbits_in_list(gcbits.current, bits) ||
                gcbits_in_list(gcbits.previous, bits);
    gch_mutex_unlock(&gcbits.lock);
    return live;
}

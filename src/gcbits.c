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
// Locking: gcbits.lock, a leaf lock (nothing is called with it held).
#include "internal.h"

#include <string.h>

#define GCBITS_ARENA_BYTES ((size_t)64 << 10)

struct gcbits_arena {
    struct gcbits_arena *next; // link within an epoch or the free list
    size_t used;               // bytes of bits handed out
    AO_t bits[];
};

#define GCBITS_ARENA_WORDS \
    ((GCBITS_ARENA_BYTES - offsetof(struct gcbits_arena, bits)) / sizeof(AO_t))

static struct {
    pthread_mutex_t lock;
    struct gcbits_arena *free, *next, *current, *previous; // protected by lock
} gcbits = {.lock = GCH_MUTEX_INITIALIZER};

static struct gcbits_arena *gcbits_new_arena(void)
{
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

AO_t *gch_gcbits_new(uint32_t nbits)
{
    size_t words = gch_bitmap_words(nbits == 0 ? 1 : nbits);
    GCH_ASSERT1(words <= GCBITS_ARENA_WORDS);
    pthread_mutex_lock(&gcbits.lock);
    struct gcbits_arena *a = gcbits.next;
    if (a == NULL || a->used + words > GCBITS_ARENA_WORDS)
        a = gcbits_new_arena();
    AO_t *bits = NULL;
    if (a != NULL) {
        bits = &a->bits[a->used];
        a->used += words;
    }
    pthread_mutex_unlock(&gcbits.lock);
    return bits;
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
    pthread_mutex_lock(&gcbits.lock);
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
    pthread_mutex_unlock(&gcbits.lock);
}

void gch_gcbits_rotate(void)
{
    pthread_mutex_lock(&gcbits.lock);
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
    pthread_mutex_unlock(&gcbits.lock);
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
    pthread_mutex_lock(&gcbits.lock);
    bool live = gcbits_in_list(gcbits.next, bits) || gcbits_in_list(gcbits.current, bits) ||
                gcbits_in_list(gcbits.previous, bits);
    pthread_mutex_unlock(&gcbits.lock);
    return live;
}

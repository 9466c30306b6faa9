// internal.h: gcheap's internal structures and cross-file functions,
// sectioned by the file that defines them. See malloc.c for the overview.
// Two sections live in headers of their own, which this one includes where
// the section would be: span.c's (struct mspan and its inline fast paths)
// in span.h, and the collector's (sweep.c, gcwork, mark.c, gen.c, stats.c)
// in collector.h. .c files include internal.h only.
//
// LOCK ORDER (take only downwards; never hold two at one level):
//   1. gch_gc.lock          phase transitions, the mcache list, hooks
//   2. mcentral.lock        one per span class (never two at once)
//   3. mheap.lock           page allocator, arenas, span structs
//   4. gcbits lock          bitmap arenas (leaf)
//      gch_gen.lock         the write barrier's log (leaf)
// Sweeping a span needs no lock: ownership is taken by a CAS on its
// sweepgen (see sweep.c). Hooks are never called with a lock held.
//
// Protection notes on fields use these phrases:
//   immutable while in use   set when the span is made, read by anyone
//   owner                    the thread owning the object (an mcache's thread,
//                            or the sweeper holding a span's sweepgen)
//   protected by X           read and written with X held
//   atomic                   only through AO_* (src/atomic.h)
//   STW                      written only while the host stops the world
#ifndef GCHEAP_INTERNAL_H
#define GCHEAP_INTERNAL_H

#include "../gcheap.h"
#include "atomic.h"

#include <assert.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

// Everything declared from here on is internal: hidden, so that code in the
// shared library reaches gcheap's own globals and functions directly, not
// through the GOT and PLT (-fvisibility=hidden covers only definitions).
// After the system headers, whose declarations must keep their visibility.
#pragma GCC visibility push(hidden)

#include "os.h"
#include "pagealloc.h"
#include "sizeclasses.h"

// ------------------------------------------------------------ configuration
// GCH_DEBUG: 0 release; 1 cheap asserts; 2 internal asserts; 3 O(n) checks
// (heap verifier after every sweep). Always defined by the build.
#ifndef GCH_DEBUG
#define GCH_DEBUG 0
#endif
#define GCH_ASSERT1(c) assert(GCH_DEBUG < 1 || (c))
#define GCH_ASSERT2(c) assert(GCH_DEBUG < 2 || (c))

// GCH_ASAN: built with AddressSanitizer (detected). GCH_VALGRIND: tell
// Valgrind's memcheck about objects (make VALGRIND=1). Both 0 or 1.
#if defined(__SANITIZE_ADDRESS__)
#define GCH_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GCH_ASAN 1
#endif
#endif
#ifndef GCH_ASAN
#define GCH_ASAN 0
#endif
#ifndef GCH_VALGRIND
#define GCH_VALGRIND 0
#endif

#define GCH_LIKELY(x)   __builtin_expect(!!(x), 1)
#define GCH_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define GCH_NOINLINE    __attribute__((noinline))
#define GCH_NORETURN    __attribute__((noreturn))

// Address space: user pointers on x86-64/arm64 Linux are below 2^47/2^48.
// Heap arenas of 64 MiB (Go's heapArenaBytes on 64-bit Linux) are indexed by
// a two-level map: 10 + 12 bits of arena number cover the 48-bit space.
#define GCH_ADDR_BITS       48
#define GCH_CACHE_LINE      64 // bytes; x86-64 and most ARMv8 cores
#define GCH_ARENA_SHIFT     26
#define GCH_ARENA_BYTES     ((uintptr_t)1 << GCH_ARENA_SHIFT)
#define GCH_PAGES_PER_ARENA (GCH_ARENA_BYTES >> GCH_PAGE_SHIFT)
#define GCH_ARENA_L1_BITS   10
#define GCH_ARENA_L2_BITS   (GCH_ADDR_BITS - GCH_ARENA_SHIFT - GCH_ARENA_L1_BITS)

// The largest request gcheap attempts: half the address space. Anything
// larger cannot be mapped, and refusing early keeps page arithmetic from
// overflowing.
#define GCH_MAX_ALLOC ((size_t)1 << (GCH_ADDR_BITS - 1))

// Span classes: bit 0 set = noscan. Class 0 = large objects.
#define GCH_TINY_SPAN_CLASS ((GCH_TINY_SIZE_CLASS << 1) | 1)
static inline uint8_t gch_spanclass(unsigned sizeclass, bool noscan)
{
    return (uint8_t)(sizeclass << 1 | (noscan ? 1u : 0u));
}
static inline unsigned gch_spanclass_sizeclass(uint8_t spc)
{
    return spc >> 1;
}
static inline bool gch_spanclass_noscan(uint8_t spc)
{
    return spc & 1;
}

// ------------------------------------------------------------------ lock.c

// gcheap's mutex, for the heap's short critical sections: mheap.lock, the
// mcentral locks and the gcbits lock (gch_gc.lock stays a pthread mutex: it
// is held across collections). One 32-bit word, Drepper's mutex 3 ("Futexes
// Are Tricky"): lock is one CAS 0 -> 1, unlock one atomic decrement, both
// inline; a contended lock goes out of line to lock.c, which spins briefly,
// then sleeps on the word (a futex, or os.c's stand-in without one). A glibc
// mutex call costs ~30 instructions through the PLT, and a span refill took
// five lock sections (~320 of its ~1,000 instructions).
//
//   [L1] key == 0: free; 1: held, no thread asleep on it; 2: held, and a
//        thread may be asleep on it, so unlock must wake one
//   [L2] owner == the holder's gch_mutex_self() while held, else 0; kept
//        at GCH_DEBUG >= 2 only (0 in other builds)
// Ordering: the CAS that takes the lock is acquire, the decrement or store
// that frees it release, so each critical section happens-before the next
// one, through the atomics (which TSan sees).
struct gch_mutex {
    unsigned key; // atomic; see [L1]
    AO_t owner;   // atomic (relaxed); see [L2]
};
_Static_assert(sizeof(unsigned) == 4, "a futex word is 32 bits");
#define GCH_MUTEX_INITIALIZER \
    {                         \
        .key = 0, .owner = 0  \
    }

// The contended halves of gch_mutex_lock and gch_mutex_unlock (old: the
// word before the decrement).
void gch_mutex_lock_slow(struct gch_mutex *m);
void gch_mutex_unlock_slow(struct gch_mutex *m, unsigned old);
// [L2] bookkeeping; aborts on a lock taken twice or freed by a non-holder.
void gch_mutex_debug_acquired(struct gch_mutex *m);
void gch_mutex_debug_releasing(struct gch_mutex *m);
// Is m held: by this thread at GCH_DEBUG >= 2 ([L2]), by any thread
// otherwise? For assertions of "Caller must hold ...".
bool gch_mutex_held(struct gch_mutex *m);

static inline void gch_mutex_init(struct gch_mutex *m)
{
    AO_int_store(&m->key, 0);
    AO_store(&m->owner, 0);
}

static inline void gch_mutex_lock(struct gch_mutex *m)
{
    if (GCH_UNLIKELY(AO_int_fetch_compare_and_swap_acquire(&m->key, 0, 1) != 0))
        gch_mutex_lock_slow(m);
    if (GCH_DEBUG >= 2)
        gch_mutex_debug_acquired(m);
}

static inline void gch_mutex_unlock(struct gch_mutex *m)
{
    if (GCH_DEBUG >= 2)
        gch_mutex_debug_releasing(m);
    unsigned old = AO_int_fetch_and_sub1_release(&m->key);
    if (GCH_UNLIKELY(old != 1))
        gch_mutex_unlock_slow(m, old);
}

// ------------------------------------------------------ memory checkers
// Free slots are made inaccessible to the checkers and objects accessible
// when handed out, so a host that uses an object after it was swept is
// reported by ASan or memcheck. Everything compiles away in other builds.
// The checkers' headers declare their runtimes' functions: default
// visibility, not this header's hidden.
#pragma GCC visibility push(default)
#if GCH_ASAN
#include <sanitizer/asan_interface.h>
#endif
#if GCH_VALGRIND
#include <valgrind/memcheck.h>
#endif
#pragma GCC visibility pop

// [p, p + n) became an object (zeroed by the caller afterwards).
// An object handed out without zeroing (gc_alloc_uninit), after
// gch_check_alloc: its bytes are undefined to Valgrind.
static inline void gch_check_uninit(uintptr_t p, size_t n)
{
#if GCH_VALGRIND
    VALGRIND_MAKE_MEM_UNDEFINED((void *)p, n);
#endif
    (void)p, (void)n;
}

static inline void gch_check_alloc(uintptr_t p, size_t n)
{
#if GCH_ASAN
    ASAN_UNPOISON_MEMORY_REGION((void *)p, n);
#endif
#if GCH_VALGRIND
    // is_zeroed = 1: gcheap hands out zeroed memory, either fresh from the
    // OS or cleared right after this call.
    VALGRIND_MALLOCLIKE_BLOCK((void *)p, n, 0, 1);
#endif
    (void)p, (void)n;
}

// The object [p, p + n) was freed by a sweep.
static inline void gch_check_free(uintptr_t p, size_t n)
{
#if GCH_ASAN
    ASAN_POISON_MEMORY_REGION((void *)p, n);
#endif
#if GCH_VALGRIND
    VALGRIND_FREELIKE_BLOCK((void *)p, 0);
#endif
    (void)p, (void)n;
}

// [p, p + n) holds no object (a new span's slots, a freed span).
static inline void gch_check_noaccess(uintptr_t p, size_t n)
{
#if GCH_ASAN
    ASAN_POISON_MEMORY_REGION((void *)p, n);
#endif
#if GCH_VALGRIND
    VALGRIND_MAKE_MEM_NOACCESS((void *)p, n);
#endif
    (void)p, (void)n;
}

// gcheap itself is about to write [p, p + n) of a free slot (poisoning).
static inline void gch_check_internal_write(uintptr_t p, size_t n)
{
#if GCH_ASAN
    ASAN_UNPOISON_MEMORY_REGION((void *)p, n);
#endif
#if GCH_VALGRIND
    VALGRIND_MAKE_MEM_UNDEFINED((void *)p, n);
#endif
    (void)p, (void)n;
}

// The size class of a small request, 1 <= size <= GCH_MAX_SMALL_SIZE
// (Go's size_to_class8 / size_to_class128 lookup, [Z1]).
static inline unsigned gch_size_class(size_t size)
{
    GCH_ASSERT2(size >= 1 && size <= GCH_MAX_SMALL_SIZE);
    if (size <= GCH_SMALL_SIZE_MAX)
        return gch_size_to_class8[(size + GCH_SMALL_SIZE_DIV - 1) / GCH_SMALL_SIZE_DIV];
    return gch_size_to_class128[(size - GCH_SMALL_SIZE_MAX + GCH_LARGE_SIZE_DIV - 1) /
                                GCH_LARGE_SIZE_DIV];
}

// Clears an object of n bytes (n >= 8, a multiple of 8). Small objects,
// the common case, get a few inline stores instead of a call to memset:
// two overlapping fixed-size clears cover every n in a range.
static inline void gch_memclr(void *p, size_t n)
{
    char *c = p;
    if (n <= 16) {
        memset(c, 0, 8);
        memset(c + n - 8, 0, 8);
    } else if (n <= 32) {
        memset(c, 0, 16);
        memset(c + n - 16, 0, 16);
    } else if (n <= 64) {
        memset(c, 0, 32);
        memset(c + n - 32, 0, 32);
    } else {
        memset(c, 0, n);
    }
}

// ------------------------------------------------------------------ span.c
// struct mspan, its invariants and its fast paths: span.h.
#include "span.h"

// ---------------------------------------------------------------- gcbits.c

// Returns a zeroed bitmap of nbits bits (whole 64-bit words) from the
// current allocation epoch, or NULL if memory is exhausted. On a thread with
// a cache, usually from the cache's run, without a lock ([B3]).
AO_t *gch_gcbits_new(uint32_t nbits);
// Both bitmaps of a new span: zeroed, nbits bits each, from the current
// allocation epoch, usually without a lock of its own. Caller must hold
// mheap.lock. Returns false (both NULL) if memory is exhausted.
bool gch_gcbits_new_pair(uint32_t nbits, AO_t **alloc_bits, AO_t **mark_bits);
// Called when every span has been swept and before marking begins, with
// gch_gc.lock held and no thread allocating: frees the epoch that held the
// alloc bits replaced by the sweep before last, and empties every cache's
// run ([B3]). Takes mheap.lock: caller must hold no heap lock.
void gch_gcbits_rotate(void);
// A sweep could not get a fresh bitmap and reused the span's old alloc
// bits as its mark bits: their arena moves to the newest epoch, so it lives
// as long as a bitmap allocated now would.
void gch_gcbits_keep(const AO_t *bits);
// Is bits inside an arena of a live epoch (not recycled)? For the verifier.
bool gch_gcbits_live(const AO_t *bits);

// ---------------------------------------------------------------- mheap.c

struct heap_arena {
    // Page -> span for every page of the arena (NULL: free or not in
    // heap). Atomic: gc_base reads it from any thread.
    AO_t spans[GCH_PAGES_PER_ARENA];
    uintptr_t base;        // immutable
    uintptr_t zeroed_base; // pages at or above base + zeroed_base have never
                           // been used: they are still zero. Protected by
                           // mheap.lock.
};

struct mheap {
    struct gch_mutex lock;    // one section per span made (see mheap.c)
    struct page_alloc pages;  // protected by lock
    struct page_cache pcache; // in front of pages; protected by lock
    // Arena map: l1[i] -> AO_t[1 << L2_BITS] of struct heap_arena *.
    // Entries are published with release stores and never removed.
    AO_t arenas_l1[1 << GCH_ARENA_L1_BITS];
    struct heap_arena **all_arenas;     // protected by lock
    size_t narenas, arenas_cap;         // protected by lock
    uintptr_t cur_arena, cur_arena_end; // reserved, not yet committed; protected
                                        // by lock
    struct mspan *span_free;            // free span structs; protected by lock
    AO_t sweepgen;                      // atomic; advanced by 2 in gc_sweep (STW)
    AO_t limit;                         // atomic: heap_sys cap (gc_set_limit)
    // Huge-page advice for every arena (gc_set_hugepages): 0 none given,
    // 1 MADV_HUGEPAGE, -1 MADV_NOHUGEPAGE. Protected by lock; a new
    // reservation gets the advice before any of its pages is committed,
    // and a range decommitted after a failed growth gets it again (the
    // decommit maps it afresh).
    int hugepages;
};
extern struct mheap gch_mheap;

// Allocates a span of npages for span class spc and initialises its
// bitmaps and page map. Sweeps unswept spans before growing the heap.
// zero (large spans only): the caller clears the span if needzero, so
// every page of it is about to be written; see mheap.c, "Populating".
// Returns NULL with errno = ENOMEM on failure. Caller must hold no lock
// above mcentral.
struct mspan *gch_mheap_alloc(size_t npages, uint8_t spc, bool zero);
// Returns s's pages to the page heap and s to the free list.
void gch_mheap_free(struct mspan *s);
// The arena holding address p, or NULL. Lock-free; p may be any value.
static inline struct heap_arena *gch_arena_of(uintptr_t p)
{
    if (p >> GCH_ADDR_BITS != 0)
        return NULL;
    AO_t *l2 =
        (AO_t *)AO_load_acquire(&gch_mheap.arenas_l1[p >> (GCH_ARENA_SHIFT + GCH_ARENA_L2_BITS)]);
    if (l2 == NULL)
        return NULL;
    return (struct heap_arena *)AO_load_acquire(
        &l2[(p >> GCH_ARENA_SHIFT) & ((1u << GCH_ARENA_L2_BITS) - 1)]);
}

// The span whose pages hold address p, or NULL. Lock-free; p may be any
// value. The span may be dead or describe other pages: callers check.
static inline struct mspan *gch_span_of(uintptr_t p)
{
    struct heap_arena *ha = gch_arena_of(p);
    if (ha == NULL)
        return NULL;
    size_t page = (p >> GCH_PAGE_SHIFT) & (GCH_PAGES_PER_ARENA - 1);
    return (struct mspan *)AO_load_acquire(&ha->spans[page]);
}
// If the heap's resident part (heap_sys - heap_released) exceeds retain by
// more than slack bytes, returns free pages to the OS (MADV_DONTNEED),
// highest first, until it is at most retain bytes or no free page is left
// to release (Go's scavenger, run synchronously). The page cache's pages
// are released last: it is flushed only if the other free pages do not
// suffice, since the next spans come from it.
void gch_mheap_scavenge(uint64_t retain, uint64_t slack);
// Returns the page cache's pages to the page allocator (for tests and the
// verifier's page count).
void gch_mheap_flush_pagecache(void);
// Calls fn on every in-use span (walks the arena maps). Caller ensures no
// span is allocated or freed meanwhile (STW or verifier).
void gch_mheap_for_each_span(void (*fn)(struct mspan *s, void *ctx), void *ctx);

// ------------------------------------------------------------- mcentral.c

// One per span class: spans with free slots (partial) and without (full),
// each in a swept and an unswept half selected by sweepgen (see sweep.c).
// One cache line each: lock and sets are used together, and a refill of
// one class does not disturb another's.
struct mcentral {
    struct gch_mutex lock; // taken for every set push and pop
    uint8_t spanclass;     // immutable
    AO_t partial[2];       // struct mspan *; written under lock (AO_store),
    AO_t full[2];          // read without it only to skip an empty set
} __attribute__((aligned(64)));
_Static_assert(sizeof(struct mcentral) == 64, "one cache line per mcentral");

extern struct mcentral gch_central[GCH_NUM_SPAN_CLASSES];

void gch_mcentral_init(void);
// Returns a span of class spc with at least one free slot, swept and
// marked cached (sweepgen = h+3), or NULL with errno = ENOMEM.
struct mspan *gch_mcentral_cache_span(struct mcentral *c);
// Returns a span an mcache held (sweeping it first if it was cached
// before the last sweepgen flip).
void gch_mcentral_uncache_span(struct mcentral *c, struct mspan *s);
// Pushes a swept, uncached span into its swept set (partial or full).
void gch_mcentral_push_swept(struct mcentral *c, struct mspan *s);
// Pops one unswept span of c (partial first), or NULL when none is left.
struct mspan *gch_mcentral_pop_unswept(struct mcentral *c, uint32_t sg);
// Detaches both unswept sets of c and returns them as one list.
struct mspan *gch_mcentral_take_unswept(struct mcentral *c, uint32_t sg);
// Unswept full spans a refill sweeps before it grows instead (Go's
// spanBudget): in cacheSpan, and on a cache's own list ([C6]).
#define GCH_SPAN_BUDGET 100
// Adds the list head .. tail of unswept spans (sweepgen h-2; NULL, NULL
// when empty) to c's unswept full set in O(1): a dying cache's [C6] lists.
void gch_mcentral_give_unswept(struct mcentral *c, uint32_t sg, struct mspan *head,
                               struct mspan *tail);
// Adds lists of swept spans (sweepgen h) to c's swept partial/full sets
// (walking each list to its end).
void gch_mcentral_give_swept(struct mcentral *c, uint32_t sg, struct mspan *partial,
                             struct mspan *full);
// The same in O(1), for lists whose last spans the caller knows (NULL for
// an empty list): gc_sweep's flush of the caches' lists ([C4]) must not
// depend on the heap's size.
void gch_mcentral_give_swept_lists(struct mcentral *c, uint32_t sg, struct mspan *partial,
                                   struct mspan *partial_tail, struct mspan *full,
                                   struct mspan *full_tail);

// The collector (sweep.c, gcwork, mark.c, gen.c, stats.c): before struct
// mcache, which embeds struct gcwork.
#include "collector.h"

// ---------------------------------------------------------------- mcache.c

// mcache: the per-thread cache. Its fast path needs no lock.
//   [C1] alloc[gch_mcache_slot(spc)] is &gch_empty_span or a span of span
//        class spc cached by this mcache (its sweepgen == h+3, or h+1 after
//        a flip). Slots are scan classes first, then noscan ones, so the
//        fast path indexes by size class with no shift; then the raw slots
//        (GCH_MCACHE_RAW_SLOT0 + size class), which cache noscan spans for
//        gc_alloc_uninit under the same rule ([C5]).
//   [C2] tiny == 0 or tiny is the base of a 16-byte block of class 2
//        noscan allocated to this mcache; tiny_offset <= 16
//   [C3] small[ns][i] == alloc[gch_mcache_slot(gch_spanclass(c, ns))] for
//        the class c of sizes 8i+1 .. 8i+8 (gch_size_to_class8[i + 1]):
//        the fast path goes from size to span with one load, without the
//        class table (mimalloc's pages_free_direct). mcache_set keeps it.
//   [C4] partial[slot] lists (by next) swept spans (sweepgen == h) of the
//        slot's span class with a free slot, not cached, whose last_cache
//        is this cache: the full sweep (gch_finish_sweep, every other
//        thread stopped) hands each partly free span back to the cache
//        that filled it, so a thread refills from its own spans without a
//        lock and without sharing cache lines with another thread's new
//        objects; the cache's own sweeps put theirs here too (sweep-ahead,
//        the page heap's reclaim), and so does a flush for a cached span
//        it lets go with a free slot. The owner pops;
//        gch_mcache_release_all moves the lists to the unswept lists
//        ([C6]) at the end of a mark phase, or to the mcentrals when the
//        cache dies, so they are empty at every sweepgen flip.
//        A span the full sweep leaves empty goes on this list too, once:
//        kept_empty is set until a cache caches it, and a kept span that
//        comes back empty to the next full sweep with kept_empty still set
//        (never cached meanwhile) returns to the page heap
//        (sweep_keep_empty). A kept_empty span has alloc_count == 0 and
//        is never cached.
//        full[slot] lists (by next, newest first) the swept spans
//        (sweepgen == h, last_cache this cache) of the slot's class that
//        left this cache full: nothing can be allocated from them before
//        the next sweep, so they wait here, without the mcentral's lock,
//        until the flush returns each list in one splice. partial_tail[slot]
//        and full_tail[slot] are the lists' last spans (NULL when empty),
//        so that the flush takes a time independent of their length.
//   [C6] unswept[slot] lists (by next) the spans that were on partial[slot]
//        or full[slot] when the last mark phase ended: unswept (sweepgen
//        == h - 2), not cached, last_cache this cache. Its refills sweep
//        them first (span affinity, mcache.c); gch_finish_sweep sweeps the
//        rest, so the lists are empty in a mark phase; a dying cache gives
//        them to the mcentrals. unswept_tail[slot]: the last span, or NULL.
//        Owner pops, or STW. A span on the list is on no mcentral set, so
//        no other sweeper can reach it: the owner takes it with a plain
//        store (h-2 -> h-1), not a CAS.
//   [C5] The free slots of the window of a span cached in a scan or noscan
//        slot are zeroed (loaded by mcache_load_window with zero set, if
//        needzero), so the fast path hands out zeroed objects without a
//        test. A raw slot loads windows without zeroing them: only
//        gc_alloc_uninit allocates there. A span that leaves a raw slot has
//        its window zeroed again when a scan or noscan slot caches it
//        (every load zeroes when needzero; without needzero no free slot
//        was ever written).
#define GCH_DIRECT_SIZES     (GCH_SMALL_SIZE_MAX / GCH_SMALL_SIZE_DIV)
#define GCH_MCACHE_RAW_SLOT0 GCH_NUM_SPAN_CLASSES
#define GCH_MCACHE_SLOTS     (GCH_MCACHE_RAW_SLOT0 + GCH_NUM_SIZE_CLASSES)

// A cache's heap_live batch (live_pending): the pacer may see another
// thread's allocation up to this late (1.6% of the minimum heap goal).
#define GCH_LIVE_BATCH ((AO_t)64 << 10)
struct mcache {
    struct mspan *small[2][GCH_DIRECT_SIZES]; // [C3]; [0] scan, [1] noscan; owner
    AO_t alloc[GCH_MCACHE_SLOTS];             // struct mspan *; owner writes with
                                              // AO_store, gc_get_stats reads atomically
    // Objects counted when their span left this cache ([S9]) and not yet
    // added to gch_stats: the span refills of several threads would
    // otherwise all write the shared counters' lines. Owner writes with
    // AO_store, gc_get_stats reads atomically; gch_mcache_release_all adds
    // them to gch_stats (mallocs, and the bytes to total_alloc and
    // heap_alloc) and zeroes them.
    AO_t flushed_mallocs[GCH_NUM_SIZE_CLASSES];
    AO_t flushed_bytes;
    // heap_live changes of this cache's refills not yet added to
    // gch_stats.heap_live, a signed count of bytes in an AO_t: added once
    // they reach GCH_LIVE_BATCH either way, and at every flush. Owner; read
    // in STW.
    AO_t live_pending;
    // What this thread's lazy sweeps freed, not yet in gch_stats (struct
    // gch_sweep_tally): added with the flushed_* counters.
    struct gch_sweep_tally swept;
    // A run of zeroed bitmap words from gcbits' `next` epoch, for the mark
    // bits of the spans this thread sweeps ([B3] in gcbits.c). Owner; emptied
    // at epoch rotation and when the cache is made or dies, under gch_gc.lock.
    AO_t *bits_cur, *bits_end;
    struct mspan *partial[GCH_NUM_SPAN_CLASSES]; // [C4]
    struct mspan *full[GCH_NUM_SPAN_CLASSES];    // [C4]
    struct mspan *partial_tail[GCH_NUM_SPAN_CLASSES];
    struct mspan *full_tail[GCH_NUM_SPAN_CLASSES];
    struct mspan *unswept[GCH_NUM_SPAN_CLASSES]; // [C6]
    struct mspan *unswept_tail[GCH_NUM_SPAN_CLASSES];
    bool sweep_ahead;           // set whenever an unswept list is non-empty
                                // ([C6]; verify.c checks it); owner
    unsigned sweep_cursor;      // the list sweep-ahead looks at first; owner
    uintptr_t tiny;             // owner
    uintptr_t tiny_offset;      // owner
    AO_t tiny_allocs;           // allocations inside an existing block; owner
                                // stores, gc_get_stats loads
    struct gcwork work;         // owner
    bool in_hook;               // owner: inside a trace/roots hook
    bool is_empty;              // the shared placeholder, never a real cache
    bool live;                  // owned by a thread; protected by gch_gc.lock
    struct mcache *next, *prev; // list of live caches; protected by gch_gc.lock
};

static inline unsigned gch_mcache_slot(uint8_t spc)
{
    return (spc & 1) * GCH_NUM_SIZE_CLASSES + (spc >> 1);
}
// The span class of slot's spans; a raw slot's is its class's noscan one.
static inline uint8_t gch_mcache_slot_spanclass(unsigned slot)
{
    return gch_spanclass(slot % GCH_NUM_SIZE_CLASSES, slot >= GCH_NUM_SIZE_CLASSES);
}
// Does a window loaded in slot get zeroed ([C5])?
static inline bool gch_mcache_slot_zeroes(unsigned slot)
{
    return slot < GCH_MCACHE_RAW_SLOT0;
}

extern struct mcache gch_empty_mcache;
// The allocation view of the current thread: &gch_empty_mcache until the
// thread's first slow-path allocation, and while it runs a hook (so that
// gc_alloc from a hook reaches the slow path, which reports it).
// In code for an executable (-fPIE: libgcheap.a) local-exec, one load at a
// fixed %fs offset; in the shared library initial-exec, the offset loaded
// first, never a call to __tls_get_addr.
#if defined(__PIE__)
#define GCH_TLS_MODEL __attribute__((tls_model("local-exec")))
#else
#define GCH_TLS_MODEL __attribute__((tls_model("initial-exec")))
#endif
extern _Thread_local struct mcache *gch_tls_mcache GCH_TLS_MODEL;
// The thread's real cache (NULL until made).
extern _Thread_local struct mcache *gch_tls_owner GCH_TLS_MODEL;

// Creates the pthread key whose destructor flushes an exiting thread's cache.
void gch_mcache_init_key(void);
// The current thread's cache, made on first use. Returns NULL only if its
// metadata cannot be mapped (errno = ENOMEM).
struct mcache *gch_mcache_get(void);
// Small-object slow path for cache slot slot (gch_mcache_slot): moves the
// window on or refills the slot, and returns an object, or 0.
uintptr_t gch_mcache_alloc_slow(struct mcache *c, unsigned slot);
// The same for the fast path's miss on size (1 .. GCH_SMALL_SIZE_MAX) with
// s = small[!has_ptrs][(size - 1) / 8] of the thread's allocation view.
uintptr_t gch_mcache_alloc_small_slow(size_t size, bool has_ptrs, struct mspan *s);
// Gives s, just swept by gch_finish_sweep and partly free or empty, to the
// cache that held it last ([C4]), if that cache still has a thread: an
// empty span goes after the partly free ones. Every other thread must be
// stopped (gch_gc.lock held, at a phase change). False if s stays with the
// caller.
bool gch_mcache_adopt(struct mspan *s);
// Returns every cached span to the mcentrals and drops the tiny block.
// Applies allocate-black for the current mark phase first. With keep (the
// end of a mark phase, before the sweepgen flip), the partial and full
// lists ([C4]) become the unswept lists ([C6]); without (the cache dies),
// they go to the mcentrals, and so do the unswept lists. Owner or STW.
void gch_mcache_release_all(struct mcache *c, bool keep);
// Pops and sweeps c's unswept spans of one cache list ([C6]) until one
// has a free slot, which it returns cached (sweepgen h+3); the full ones
// go to c's full list. NULL if none has room among the first
// GCH_SPAN_BUDGET, or the list is empty. Owner.
struct mspan *gch_mcache_sweep_own(struct mcache *c, unsigned list);
// Sweeps one span of c's unswept lists ([C6]) for the page heap, which
// needs pages: an empty span goes back to the page heap, a partly free or
// full one stays with c, on its [C4] lists (so the page heap's hunger does
// not hand c's spans to the mcentrals, where the other threads take
// them). False if c has no unswept span. Owner.
bool gch_mcache_reclaim_own(struct mcache *c, uint32_t sg);
// Sweep-ahead: sweeps one span of c's unswept lists ([C6]), of any class,
// and files it as the full sweep would: partly free on c's partial list,
// full on its full list, empty kept once or freed (gch_sweep_keep_empty).
// Each refill calls it, so a thread sweeps its own leftovers as it
// allocates instead of leaving them to the next mark phase's
// gch_finish_sweep, where one thread sweeps every thread's, with the world
// stopped. Owner.
void gch_mcache_sweep_ahead(struct mcache *c);
// Pops the first span of c's unswept list ([C6]) and takes it for sweeping
// (sweepgen h-2 -> h-1, aborting if it is not h-2); NULL if the list is
// empty. Owner, or STW.
struct mspan *gch_mcache_pop_unswept(struct mcache *c, unsigned list, uint32_t sg);
// Mark start (STW): marks the tiny block and opens allocate-black windows
// on every cached span of every cache.
void gch_mcache_begin_mark_all(void);
// What the caches hold that gch_stats does not count yet: the allocations
// made from cached spans, those the caches counted (flushed_*) but have not
// added, and their sweep tallies.
struct gch_inflight {
    uint64_t bytes;                          // allocated
    uint64_t tiny;                           // allocations inside tiny blocks
    uint64_t by_class[GCH_NUM_SIZE_CLASSES]; // objects allocated, by class
    struct gch_sweep_tally swept;            // freed by lazy sweeps
};
// Sums it over every live cache into *out. Caller holds gch_gc.lock.
void gch_mcache_inflight(struct gch_inflight *out);

// ---------------------------------------------------------------- malloc.c

// Debug switches from GCHEAP_DEBUG, fixed after init.
struct gch_debug {
    bool gctrace;
    bool poison;
    bool verify;
    bool nopopulate; // populate=0 (mheap.c, "Populating")
};
extern struct gch_debug gch_debug;
#define GCH_POISON_BYTE 0xDB

// One-time initialisation (thread-safe, idempotent, cheap after the first).
void gch_init(void);
// Reports corruption or host misuse as one "gcheap: ..." line and aborts.
GCH_NORETURN void gch_throw(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

// ---------------------------------------------------------------- verify.c

// Checks every invariant of the heap; on the first broken one, writes a
// message into why and returns false. Caller ensures no other thread
// allocates (STW).
bool gch_heap_verify(char *why, size_t whylen);

#pragma GCC visibility pop

#endif

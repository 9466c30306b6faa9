/* gcheap.h - a garbage-collected heap for language VMs.
 *
 * gcheap is an allocator in the design of the Go runtime's (per-thread
 * caches, central span lists, a page heap) with the collector split in two:
 * the library owns the mark bits and the sweep; the host VM, which knows its
 * object layouts and roots, does the marking through gc_mark.
 *
 * This is the only public header. It needs only the C standard library,
 * compiles as C99 (-pedantic) and as C++.
 *
 * THE PROTOCOL
 *
 * The heap goes round three phases:
 *
 *     MUTATE --first gc_mark--> MARK --gc_sweep--> SWEEP/MUTATE --> ...
 *
 *   MUTATE  The host allocates with gc_alloc and writes pointers freely.
 *           Memory freed by the previous cycle is swept lazily, on demand,
 *           by the allocating threads.
 *   MARK    Begins with the first gc_mark (or non-empty gc_mark_range) after
 *           a sweep, or inside gc_collect. The host calls gc_mark on every root and,
 *           unless a trace hook is set, on every pointer of every object it
 *           reaches (gc_mark returns true exactly once per object per cycle,
 *           which tells the host to walk that object's children).
 *           Objects allocated during a mark phase are born marked
 *           ("allocate-black"). At the start of a mark phase every thread's
 *           current tiny block (see gc_alloc) is marked, so tiny objects
 *           carved from it later also survive.
 *   SWEEP   gc_sweep ends the mark phase: every object that is not marked is
 *           free from then on. It returns at once; the spans are swept later,
 *           when allocation needs them, and whatever is left is swept before
 *           the next mark phase begins.
 *
 * Threads: a collection is stop-the-world from the host's side. While a mark
 * phase or gc_collect runs, no other thread may allocate or write pointers;
 * several threads may call gc_mark at the same time (the marking is atomic).
 * Outside collections, any number of threads may allocate concurrently
 * without registering. gcheap does not stop threads itself: an automatic
 * collection runs on the thread whose gc_alloc triggered it while the others
 * go on. So a host with several allocating threads keeps gc_alloc from
 * collecting by setting its roots hook only while it collects, polls
 * gc_collect_due at its safepoints, and when it says so parks the other
 * threads and calls gc_collect (bench/alloc_throughput.c does exactly
 * this).
 *
 * Hooks: with a trace hook (gc_set_trace), gc_mark traces for the host: each
 * newly marked object of a pointer-bearing ("scan") allocation is pushed on
 * the library's mark stack and the outermost gc_mark on the thread drains it,
 * calling trace(obj, gc_size(obj), ctx), which calls gc_mark on each pointer
 * field. Marking never recurses in C, whatever the graph's depth.
 * With a roots hook (gc_set_roots), gc_collect runs a whole cycle by itself
 * and gc_alloc collects automatically when the heap has grown by GOGC percent
 * since the last collection (see gc_set_gogc): with a roots hook set, ANY
 * gc_alloc may collect, so the host's roots must be complete at every
 * allocation.
 * A hook must not call gc_alloc, gc_sweep or gc_collect: gcheap detects it,
 * prints one "gcheap: ..." line on stderr and aborts.
 *
 * A minimal host:
 *
 *     struct node { struct node *left, *right; long value; };
 *     static struct node *root;
 *
 *     static void trace(void *obj, size_t size, void *ctx) {
 *         struct node *n = obj;
 *         (void)size; (void)ctx;
 *         gc_mark(n->left);
 *         gc_mark(n->right);
 *     }
 *     static void roots(void *ctx) { (void)ctx; gc_mark(root); }
 *
 *     int main(void) {
 *         gc_set_trace(trace, NULL);
 *         gc_set_roots(roots, NULL);
 *         root = gc_alloc(sizeof *root, true);   // zeroed
 *         ...                                    // allocate freely
 *         gc_collect();                          // or let gc_alloc do it
 *     }
 *
 * ENVIRONMENT (read once, at the first call into the library)
 *
 *   GCHEAP_GOGC=N|off   initial GOGC (default 100), see gc_set_gogc.
 *   GCHEAP_MEMLIMIT=N[B|KiB|MiB|GiB|TiB]|off   memory limit, see gc_set_limit.
 *   GCHEAP_HUGEPAGES=1|on|0|off   huge-page advice, see gc_set_hugepages.
 *   GCHEAP_DEBUG=k=v,...
 *       gctrace=1   one line per cycle on stderr, in the shape of Go's:
 *                   gc N @T s: M ms mark, S sweep, A->B MB, G MB goal, K threads
 *                   ("M ms minor mark" for a minor cycle, gc_set_generational)
 *                   N: cycle number; T: seconds since the heap started;
 *                   M: wall time of the mark phase (from its start to
 *                   gc_sweep, or to the end of marking in gc_collect);
 *                   S: "X ms" spent sweeping inside gc_collect, or "lazy"
 *                   for gc_sweep; A: heap_alloc when marking began;
 *                   B: bytes marked live; G: next_gc after the cycle;
 *                   K: threads with a cache. build/tools/gctrace-summary
 *                   (tools/gctrace-summary.c) sums these lines up.
 *       poison=1    fill every swept slot with the byte 0xDB, so a host that
 *                   keeps using an object it did not mark reads garbage at
 *                   once instead of stale but plausible data.
 *       verify=1    check the whole heap's invariants at every phase
 *                   boundary (slow; for debugging hosts and gcheap).
 *       populate=0  let the pages of new spans fault in one by one as they
 *                   are first written. By default gcheap has the kernel
 *                   back a new span's unused pages in one call (Linux 5.14
 *                   MADV_POPULATE_WRITE) when all of them are about to be
 *                   written: spans of small objects, and large objects it
 *                   clears. Resident memory is the same once the span is
 *                   used; populate=0 is there to compare.
 */
#ifndef GCHEAP_H
#define GCHEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GCHEAP_VERSION_MAJOR 0
#define GCHEAP_VERSION_MINOR 1

/* The library is built with hidden visibility; only these are exported. */
#if defined(__GNUC__) || defined(__clang__)
#define GCHEAP_API __attribute__((visibility("default")))
#else
#define GCHEAP_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- allocation
 *
 * gc_alloc returns size bytes of zeroed memory owned by the collector: it
 * stays allocated as long as it is marked in every collection, and is freed
 * by the first gc_sweep after a mark phase that did not mark it. There is no
 * gc_free.
 *
 * has_ptrs says whether the object may hold pointers to other gcheap objects.
 * Objects with has_ptrs == false are never passed to the trace hook (they are
 * "noscan"); has_ptrs objects and pointer-free objects never share a span.
 *
 * Sizes and alignment:
 *   - size 0: a non-NULL pointer that must not be dereferenced; all
 *     zero-size allocations may share it. It is not a heap object (gc_base
 *     returns NULL for it).
 *   - has_ptrs == false && size < 16 ("tiny"): carved from a shared 16-byte
 *     block, aligned to 8 if size % 8 == 0, else 4 if size % 4 == 0, else 2
 *     if size % 2 == 0, else 1. The block is freed when none of the objects
 *     in it is marked; gc_base and gc_size answer for the whole block.
 *     So a host whose objects start with a pointer-aligned header must ask
 *     for a multiple of 8 bytes (a 4-byte object is only 4-byte aligned).
 *   - size <= 32768 ("small"): rounded up to one of 67 size classes (Go's
 *     table: 8, 16, 24, 32, 48, ... 32768 bytes). Objects of a class whose
 *     size is a multiple of 16 are 16-byte aligned; those of the 8- and
 *     24-byte classes are 8-byte aligned.
 *   - size > 32768 ("large"): a span of whole 8 KiB pages of its own,
 *     page (8192-byte) aligned.
 *
 * Threads: any thread, any time, without registration or initialisation,
 * except inside a hook. The common case takes no lock.
 * Failure: returns NULL with errno = ENOMEM when the size cannot be served
 * (SIZE_MAX, overflow while rounding, address space or mmap exhausted); the
 * heap stays usable. Calling it from a trace or roots hook aborts.
 */
GCHEAP_API void *gc_alloc(size_t size, bool has_ptrs);

/* gc_alloc_uninit is gc_alloc(size, false) without the zeroing: the object
 * is pointer-free and its bytes are unspecified (they may be those of a
 * freed object; never those of a live one). For data the host writes whole
 * at once, such as strings and byte buffers, it saves clearing memory the
 * host overwrites anyway (Boehm GC's GC_MALLOC_ATOMIC; Go's runtime makes
 * its strings so). Sizes under 16 bytes come from the tiny allocator and
 * are zeroed all the same; sizes, alignment, lifetime, threads and failure
 * are those of gc_alloc(size, false). In a build for Valgrind (make
 * VALGRIND=1) memcheck sees the bytes as undefined until written. */
GCHEAP_API void *gc_alloc_uninit(size_t size);

/* gc_base returns the start of the allocated object containing p (interior
 * pointers included), or NULL if p is not inside an allocated gcheap object:
 * NULL, stack, malloc or unmapped memory, free slots (including objects that
 * were not marked in the last mark phase but are not swept yet), gcheap's own
 * metadata, any 64-bit value. It never faults, whatever p is.
 * gc_size returns the usable size of that object (its class size, or a large
 * object's whole pages; 16 for a tiny object's block), or 0 for the same
 * cases gc_base returns NULL.
 * Threads: any thread, any time. While another thread sweeps the span of p
 * concurrently, the answer may reflect either side of that sweep. */
GCHEAP_API void *gc_base(const void *p);
GCHEAP_API size_t gc_size(const void *p);

/* ------------------------------------------------------------------ marking
 *
 * gc_mark: p may be any value. If it points at or into an allocated object,
 * marks it and returns true if and only if this call set the mark; returns
 * false otherwise (NULL, foreign memory, free slots, objects already marked
 * in this cycle, objects allocated during this mark phase, and in a minor
 * cycle old objects: see gc_set_generational). The first gc_mark
 * after a sweep begins a mark phase (see THE PROTOCOL); that first call
 * finishes any sweeping left from the previous cycle, so it may take time
 * proportional to the heap.
 * With a trace hook set, gc_mark traces what it marks before returning (see
 * above); the trace hook's own gc_mark calls only push.
 * Threads: several threads may mark concurrently; no thread may allocate or
 * write pointers meanwhile, except the allocate-black case of the marking
 * thread itself. Never fails; if the mark stack cannot grow, marking still
 * completes (more slowly). */
GCHEAP_API bool gc_mark(const void *p);

/* gc_mark_range calls gc_mark on every pointer-aligned word in [lo, hi)
 * (conservative roots: a C stack, a foreign table). lo is rounded up and hi
 * down to pointer alignment; an empty or inverted range does nothing. The
 * range must be readable memory. Threads: as gc_mark. */
GCHEAP_API void gc_mark_range(const void *lo, const void *hi);

/* gc_sweep ends the mark phase: every object not marked is freed (lazily; see
 * THE PROTOCOL). Called with no mark phase in progress, it begins and ends an
 * empty one, which frees every object except those in each thread's current
 * tiny block (marked whenever a mark phase begins, see THE PROTOCOL).
 * Returns in time that does not depend on the number of objects.
 * The freeing happens as threads allocate afterwards, each thread in the
 * spans it filled itself (so its memory stays on its core): those of the
 * size it needs, and one more of any size at each refill of its cache, so
 * that a thread that keeps allocating has swept all of its own before the
 * next collection. What is left is swept when the next mark phase begins;
 * until then, one thread's unswept garbage is not used to spare another
 * thread's allocations a heap growth.
 * Threads: one thread, with no other thread allocating or marking. Calling it
 * from a hook aborts. */
GCHEAP_API void gc_sweep(void);

/* The hooks. fn == NULL removes a hook. ctx is passed back unchanged; gcheap
 * does not own it. The trace hook receives each newly marked object of a
 * has_ptrs allocation once per cycle, with its gc_size, and must call gc_mark
 * on each pointer field (if the mark stack could not grow for lack of memory,
 * marked objects are traced again to recover, so a trace hook must be safe
 * to call twice on one object: marking is idempotent); the roots hook must call gc_mark (or
 * gc_mark_range) on every root.
 * Threads: set hooks while no collection runs; the setting is global. */
typedef void (*gc_trace_fn)(void *obj, size_t size, void *ctx);
typedef void (*gc_roots_fn)(void *ctx);
GCHEAP_API void gc_set_trace(gc_trace_fn fn, void *ctx);
GCHEAP_API void gc_set_roots(gc_roots_fn fn, void *ctx);

/* gc_collect runs a whole cycle on the calling thread: finishes the previous
 * sweep, calls the roots hook, drains marking, sweeps every span, and
 * returns when the sweep is complete, so gc_get_stats is exact afterwards.
 * A span of small objects that the sweep leaves empty stays with the thread
 * that filled it for one cycle, for that thread's next allocations (it
 * still counts in heap_inuse); if the next gc_collect finds it unused, its
 * pages go back to the heap, as do those of every emptied span when the
 * memory limit forced the collection (gc_set_limit) or the thread has
 * exited. (The same holds for the spans a lazy gc_sweep leaves unswept
 * until the next mark phase begins.) Then, if the resident heap exceeds its
 * target by more than an eighth, it returns free pages to the OS (madvise,
 * counted in heap_released), highest addresses first, down to the target:
 * 110% of the larger of the next heap goal and the largest heap_inuse at
 * the start of the last four collections.
 * Inside a mark phase (begun by gc_mark or gc_mark_roots) it goes on with
 * that phase: the roots hook, if set, marks what it adds, then the full
 * sweep. In generational mode, a minor cycle that leaves the heap at its
 * goal is followed at once by a major one: the roots hook then runs twice.
 * Does nothing without a roots hook outside a mark phase (it cannot know
 * what is live). Threads: as gc_sweep; the hooks run on the calling
 * thread, which alone marks (it does so without atomic operations): other
 * threads must not call gc_mark during gc_collect. Calling it from a hook
 * aborts. */
GCHEAP_API void gc_collect(void);

/* gc_mark_roots marks from roots(ctx) on the calling thread as gc_collect
 * marks from the roots hook: the gc_mark calls of roots only push, and the
 * whole graph they reach is traced (by the trace hook) in one drain before
 * gc_mark_roots returns. It begins a mark phase if none runs. This is
 * parallel marking: at a safepoint, several threads may call it at the
 * same time, each with its own roots (say, its own stack), and each traces
 * what its roots reach, mostly memory it wrote itself; an object reachable
 * from two threads' roots is traced once, by whichever marks it first.
 * When all have returned, one thread ends the cycle with gc_collect (the
 * full sweep) or gc_sweep (lazy). roots == NULL does nothing. ctx is
 * passed to roots unchanged; gcheap does not own it.
 * Threads: any number at once, while no thread allocates; the trace hook
 * runs on each of them. Never fails: if a thread's mark stack cannot grow,
 * the marks are recovered as for gc_mark. Calling it from a hook aborts. */
GCHEAP_API void gc_mark_roots(gc_roots_fn roots, void *ctx);

/* gc_set_gogc sets the collection target as Go's GOGC: with a roots hook
 * set, gc_alloc collects when heap_alloc would pass
 *     next_gc = max(4 MiB, live_after_last_collection * (1 + percent/100)).
 * percent < 0 turns automatic collection off. Returns the previous value
 * (-1 for off). Default 100, or GCHEAP_GOGC. Threads: any. */
GCHEAP_API int gc_set_gogc(int percent);

/* gc_collect_due returns true when the heap has grown past the collection
 * goal (next_gc, see gc_set_gogc), by the measure gc_alloc's automatic
 * collection uses: the live bytes of the last collection (marked, or exact
 * after gc_collect) plus the bytes allocated since, counting the whole free
 * space of the spans the threads' caches hold. Each thread's cache adds
 * its share in batches, so another thread's allocation may be seen up to
 * 64 KiB late (the calling thread's own, at once). Garbage that a lazy
 * gc_sweep has not freed yet does not count. It does not need a roots
 * hook, so a host that collects at its own safepoints gets gcheap's pacing
 * from it; always false when GOGC is off. Threads: any, any time; two
 * atomic loads, no lock. Never fails. */
GCHEAP_API bool gc_collect_due(void);

/* ------------------------------------------------------------ generations
 *
 * Generational mode (off by default) makes most cycles "minor": a minor
 * cycle marks and traces only the objects allocated since the cycle before
 * (the young), and keeps every object that survived an earlier cycle (the
 * old) without tracing it. Mark bits are sticky: a survivor's mark bit stays
 * set, so the host's trace hook stops at it (the scheme of Demers et al.'s
 * "sticky mark bits"; no object moves). A long-lived structure then costs
 * nothing per cycle: binary-trees' million-node tree is traced once, not at
 * every collection. Old objects that die stay until the next "major" cycle,
 * which clears every mark and marks the whole heap as without generations.
 *
 * The price is a write barrier: after storing a pointer to a gcheap object
 * into a field of another gcheap object, the host calls
 * gc_write_barrier(obj) on the object written into (its start, or any
 * address inside it). The call may be skipped for the initialising stores
 * into an object that no collection has run since it was allocated (no
 * gc_alloc, gc_collect or gc_sweep on any thread in between, and no
 * safepoint at which the host collects). Stores into memory that is not a
 * gcheap object (roots: globals, stacks, malloc memory) need no barrier:
 * the roots hook marks them at every cycle. A missing barrier frees a young
 * object that an old one still points to: the host then reads freed memory
 * (GCHEAP_DEBUG=poison=1 makes that show at once).
 *
 * Which cycle runs is gcheap's choice, made when the mark phase begins: a
 * minor cycle when generational mode was on at the end of the previous
 * cycle, a trace hook is set, and the old objects left at least half of the
 * room the last major cycle's GOGC goal gave; else a major one. The heap
 * goal (next_gc) is the one GOGC sets after each major cycle, so the heap
 * peaks where it would without generations. A minor cycle needs a trace
 * hook: the objects written since the last cycle are traced by gcheap
 * itself when the mark phase begins. With generational mode, gc_mark
 * returns false for old objects (they are already marked).
 */

/* gc_set_generational turns generational mode on or off (see above) and
 * returns the previous setting. It takes effect when the current or next
 * cycle ends; after turning it off, the next cycle is major and every cycle
 * after it too. Threads: any, while no collection runs. Never fails. */
GCHEAP_API bool gc_set_generational(bool on);

/* gc_write_barrier(obj): a pointer was stored into the object holding obj
 * (see above). Any value is accepted: NULL, foreign memory and free slots do
 * nothing. Cheap when generational mode is off (one load) and for young
 * objects (the span lookup and one bit test); the first store into an old
 * object per cycle records it under a lock. Threads: any, between
 * collections (never while a mark phase runs, as for any pointer store).
 * Never fails: if the record cannot grow, the next cycle is major. */
GCHEAP_API void gc_write_barrier(const void *obj);

/* gc_set_limit caps the memory the heap commits (heap_sys), as Go's
 * SetMemoryLimit does, but as a hard limit: when an allocation would need
 * the heap to grow past it, gcheap first collects (if a roots hook is set
 * and no mark phase is running) and, if that does not make room, gc_alloc
 * returns NULL with errno = ENOMEM. After the host drops objects and a
 * collection frees them, allocation succeeds again. The heap grows in 4 MiB
 * steps, so the usable limit is rounded down to a multiple of 4 MiB;
 * metadata (span records, bitmaps, caches) is not counted. bytes ==
 * SIZE_MAX means no limit (the default, or GCHEAP_MEMLIMIT in the
 * environment: a number of bytes with an optional B, KiB, MiB, GiB or TiB
 * suffix, or "off"). A limit below the current heap_sys only stops growth.
 * Returns the previous limit. Threads: any. */
GCHEAP_API size_t gc_set_limit(size_t bytes);

/* gc_set_hugepages(true) advises Linux to back the heap with transparent
 * huge pages (2 MiB; madvise MADV_HUGEPAGE on every heap arena, those
 * reserved so far and those to come); gc_set_hugepages(false) advises
 * against them (MADV_NOHUGEPAGE). Initially gcheap gives no advice and the
 * system's setting decides; GCHEAP_HUGEPAGES=1 or on (0 or off) in the
 * environment gives it from the start. Malformed values are reported on
 * stderr and ignored.
 * Why: marking and sweeping walk the whole heap, a few bytes on each of
 * many 4 KiB pages, which strains the TLB; huge pages made binary-trees and
 * the allocation benchmark 5-10% faster (bench/NOTES.md, "Huge pages").
 * The costs, why it is off by default: resident memory grows in 2 MiB
 * steps; a page fault may first compact memory (the kernel's defrag
 * setting); pages the scavenger returns split their huge page, and the
 * kernel's khugepaged may later fill it in again, so the heap can stay
 * resident above what the scavenger left. What it changes depends on
 * /sys/kernel/mm/transparent_hugepage/enabled: under "madvise" true turns
 * huge pages on; under "always" the heap has them anyway, true only makes
 * its faults compact memory when the defrag setting is "madvise" (the
 * default), and false keeps huge pages out; under "never", or where the
 * advice does not exist, nothing changes. Returns true if the
 * previous advice was for huge pages. Best effort: never fails.
 * Threads: any. */
GCHEAP_API bool gc_set_hugepages(bool on);

/* -------------------------------------------------------------- statistics */

#define GCHEAP_NUM_SIZE_CLASSES 68

typedef struct gc_class_stats {
    uint32_t size;    /* object size of the class (0 for large objects) */
    uint64_t mallocs; /* objects allocated from spans of this class */
    uint64_t frees;   /* objects of this class freed by sweeping */
} gc_class_stats;

typedef struct gc_stats {
    uint64_t heap_alloc;     /* bytes in allocated objects not yet freed (at class size) */
    uint64_t heap_sys;       /* bytes of address space committed for the heap */
    uint64_t heap_released;  /* bytes returned to the OS */
    uint64_t mallocs, frees; /* cumulative object counts */
    uint64_t num_gc;         /* completed collection cycles */
    uint64_t next_gc;        /* heap_alloc at which the next automatic collection starts */
    uint64_t pause_total_ns; /* time spent inside gc_collect */
    uint64_t heap_objects;   /* objects allocated and not yet freed (tiny blocks count once) */
    uint64_t heap_inuse;     /* bytes in spans holding objects, or emptied and
                                kept one cycle for their thread (see gc_collect) */
    uint64_t tiny_allocs;    /* allocations served inside an existing tiny block */
    uint64_t
        live_after_gc; /* heap_alloc right after the last gc_collect, or bytes marked by the last gc_sweep
                          (in a minor cycle, plus an estimate of the old bytes) */
    uint64_t total_alloc;  /* cumulative bytes allocated (at class size) */
    uint64_t num_minor_gc; /* of num_gc, the minor cycles (see gc_set_generational) */
    gc_class_stats by_size[GCHEAP_NUM_SIZE_CLASSES]; /* [0] is large objects */
} gc_stats;

/* gc_get_stats fills *out. Counts include objects allocated by every thread
 * up to the call. Tiny allocations: mallocs counts each one; a tiny block
 * counts once in heap_alloc (16 bytes) and heap_objects; as in Go, frees also
 * counts each tiny allocation made inside an existing block, so that
 * mallocs - frees == heap_objects. Between gc_sweep and the end of lazy
 * sweeping, heap_alloc still includes the unswept garbage.
 * out == NULL does nothing. Threads: any; figures are a consistent snapshot
 * only when no other thread allocates meanwhile. */
GCHEAP_API void gc_get_stats(gc_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* GCHEAP_H */

// gen.c owns generations: the write barrier, the record of old objects
// written since the last cycle, and the choice between a minor and a major
// cycle. See malloc.c for the overview and gcheap.h ("generations") for the
// contract. Go's collector is not generational, so there is no Go
// counterpart; the scheme is the "sticky mark bits" of Demers, Weiser,
// Hayes, Boehm, Bobrow and Shenker ("Combining generational and
// conservative garbage collection", POPL 1990), with a precise host.
//
// Sticky marks. Sweeping turns a span's mark bits into its alloc bits and
// gives it fresh mark bits: zeroed normally, a copy of the new alloc bits
// when the cycle that ended was run with generational mode on (sticky ==
// 1, set at mark termination and constant until the next one, so every
// sweep of one sweepgen does the same). After such a sweep an object is
// "old" iff its mark bit is set: it survived a cycle. A minor cycle keeps
// those bits; gc_mark then stops at every old object (its first test, mark
// bit set, is its cheapest exit), so only the young, allocated since the
// last cycle, are marked and traced. Young objects that nothing reaches are
// freed; old ones are kept until a major cycle, which clears every mark bit
// when it begins (gen_clear_marks: one pass over the span bitmaps) and
// marks the whole heap.
//
// The barrier. A young object referenced only from an old one would not be
// reached: the old one is never traced. So the host reports every store
// into an object (gc_write_barrier), and the first report on an old object
// in a cycle withdraws its mark bit with a CAS (one reporter wins) and
// records the object in the log. When the next minor cycle begins, the
// thread that begins it marks every logged object again and traces it
// (mark.c, mark_trace_log): the logged objects are roots of the minor
// cycle. A withdrawn mark also makes later reports on the same object
// cheap: it looks young, and young objects need nothing. An object whose
// span is not swept yet since the last cycle (gc_sweep is lazy) is logged
// without reading or touching its bits, which a sweeper may be replacing
// at that moment: clearing its mark there would free it, and the object
// is live anyway (the host reached it, so it was marked). It may be
// logged once per store until its span is swept; tracing it twice is
// harmless, and the tracer skips an entry whose slot is free (only a host
// writing into an object it had dropped makes one). Pointer-free spans are
// ignored: their objects hold no pointers.
//
// The log is one array under gch_gen.lock (a leaf lock): a store into an
// old object is logged once per cycle, so the lock is rare. If the array
// cannot grow (no memory, or GEN_LOG_MAX entries), the log overflows: the
// object's mark may already be withdrawn and nothing records it, so the
// next cycle must be major, which needs no log.
//
// Pacing. The heap goal is the one GOGC gives after each major cycle
// (live_major * (1 + GOGC/100)); minor cycles keep it, so the heap peaks
// where it would without generations. The old objects that died since the
// last major cycle stay, eating into the room the goal leaves: when a
// minor cycle leaves less than half of the room the last major cycle left,
// the next cycle is major; when it leaves none (the heap is at its goal
// right after collecting), gc_collect runs the major cycle at once, rather
// than raise the goal as a cycle without generations would: the old
// objects may all be dead.
//
// Backoff. Generations pay when most young objects die young. A program
// whose objects live about one cycle (a FIFO of the last K objects, when
// a cycle allocates about K) gets minor cycles that free almost nothing,
// each followed by a major one: twice the cycles. So a minor cycle that
// frees less than half of the young bytes makes the next `backoff` cycles
// major, backoff doubling (up to GEN_BACKOFF_MAX) at each such failure in
// a row and returning to 0 after a productive minor cycle: a program that
// gains nothing from generations pays one minor cycle in 64. With GOGC off
// (no goal), a major cycle runs when the heap after a cycle has doubled
// since the last major one.
#include "internal.h"

#include <string.h>

// Entries of the log at most (8 bytes each): 64 MiB.
#define GEN_LOG_MAX ((size_t)8 << 20)
#define GEN_LOG_MIN ((size_t)4096)
// Major cycles run, at most, after an unproductive minor cycle before the
// next minor one is tried.
#define GEN_BACKOFF_MAX 64u

struct gch_gen gch_gen = {
    .lock = GCH_MUTEX_INITIALIZER,
};

bool gc_set_generational(bool on)
{
    gch_init();
    bool old = AO_load(&gch_gen.on) != 0;
    AO_store(&gch_gen.on, on ? 1 : 0);
    return old;
}

// Appends the old object obj to the log, or marks the log overflowed.
static void gen_log(void *obj)
{
    gch_mutex_lock(&gch_gen.lock);
    if (gch_gen.len == gch_gen.cap && !gch_gen.overflow) {
        size_t cap = gch_gen.cap != 0 ? 2 * gch_gen.cap : GEN_LOG_MIN;
        void **log = cap <= GEN_LOG_MAX ? gch_os_alloc(cap * sizeof *log) : NULL;
        if (log != NULL) {
            if (gch_gen.len != 0)
                memcpy(log, gch_gen.log, gch_gen.len * sizeof *log);
            if (gch_gen.log != NULL)
                gch_os_free(gch_gen.log, gch_gen.cap * sizeof *log);
            gch_gen.log = log;
            gch_gen.cap = cap;
        } else {
            gch_gen.overflow = true;
        }
    }
    if (gch_gen.len < gch_gen.cap && !gch_gen.overflow)
        gch_gen.log[gch_gen.len++] = obj;
    gch_mutex_unlock(&gch_gen.lock);
}

// The barrier once the bits are sticky: finds the object, and logs it if
// it is old (see the top).
static GCH_NOINLINE void gen_barrier(uintptr_t p)
{
    // Outside [first page, 2^48): no heap address (as gc_mark's lookup).
    if (p - GCH_PAGE_SIZE >= ((uintptr_t)1 << GCH_ADDR_BITS) - GCH_PAGE_SIZE)
        return;
    struct mspan *s = gch_span_of(p);
    if (s == NULL || s->state != MSPAN_IN_USE || p < s->base || p >= s->limit ||
        gch_spanclass_noscan(s->spanclass))
        return;
    uint32_t idx = gch_span_obj_index(s, p);
    if (idx >= s->nelems)
        return;
    uint32_t sg = (uint32_t)AO_load_acquire(&gch_mheap.sweepgen);
    uint32_t ssg = (uint32_t)AO_load_acquire(&s->sweepgen);
    if (ssg == sg - 2 || ssg == sg - 1 || ssg == sg + 1) {
        // Not swept since the last cycle: log, keep the mark (see the top).
        gen_log((void *)(s->base + (uintptr_t)idx * s->elemsize));
        return;
    }
    // Swept: no sweeper writes these bits before the next cycle, and
    // other barriers only clear bits. One CAS wins.
    AO_t *word = &s->gcmark_bits[idx >> 6];
    AO_t bit = (AO_t)1 << (idx & 63);
    AO_t old = AO_load(word);
    if ((old & bit) == 0)
        return; // young
    while (AO_fetch_compare_and_swap_full(word, old, old & ~bit) != old) {
        old = AO_load(word);
        if ((old & bit) == 0)
            return; // another thread's barrier withdrew it and logs it
    }
    gch_atomic_add(&gch_gen.withdrawn_bytes, (AO_t)s->elemsize);
    gen_log((void *)(s->base + (uintptr_t)idx * s->elemsize));
}

void gc_write_barrier(const void *obj)
{
    if (GCH_LIKELY(AO_load(&gch_gen.sticky) == 0))
        return;
    gen_barrier((uintptr_t)obj);
}

// Clears the mark bits of one span (a major cycle after sticky sweeps).
static void gen_clear_marks(struct mspan *s, void *ctx)
{
    (void)ctx;
    if (s->state == MSPAN_IN_USE)
        memset(s->gcmark_bits, 0, gch_bitmap_words(s->nelems) * sizeof(AO_t));
}

bool gch_gen_begin_cycle(bool can_minor, uint64_t live_before)
{
    bool sticky = AO_load(&gch_gen.sticky) != 0;
    gch_mutex_lock(&gch_gen.lock);
    bool minor =
        can_minor && sticky && AO_load(&gch_gen.on) != 0 && !gch_gen.major_due && !gch_gen.overflow;
    if (minor && gch_gen.skip > 0) {
        gch_gen.skip--;
        minor = false;
    }
    if (!minor) {
        gch_gen.len = 0;
        gch_gen.overflow = false;
    }
    gch_mutex_unlock(&gch_gen.lock);
    uint64_t withdrawn = AO_load(&gch_gen.withdrawn_bytes);
    AO_store(&gch_gen.withdrawn_bytes, 0);
    if (!minor && sticky)
        gch_mheap_for_each_span(gen_clear_marks, NULL);
    gch_gen.minor = minor;
    gch_gen.old_bytes = minor && live_before > withdrawn ? live_before - withdrawn : 0;
    return minor;
}

void *const *gch_gen_log(size_t *n)
{
    *n = gch_gen.len;
    return gch_gen.log;
}

void gch_gen_log_clear(void)
{
    gch_mutex_lock(&gch_gen.lock);
    gch_gen.len = 0;
    gch_mutex_unlock(&gch_gen.lock);
}

void gch_gen_end_cycle(void)
{
    bool sticky = AO_load(&gch_gen.on) != 0 && AO_load(&gch_gc.trace_fn) != 0;
    AO_store(&gch_gen.sticky, sticky ? 1 : 0);
    if (gch_gen.minor)
        gch_atomic_add(&gch_stats.num_minor_gc, 1);
}

uint64_t gch_gen_pace(uint64_t live, uint64_t heap_at_mark, bool *major_now)
{
    *major_now = false;
    if (!gch_gen.minor) {
        gch_gen.major_live = live;
        gch_gen.major_due = false;
        return gch_heap_goal(live);
    }
    // Productive: freed at least half of what was young at the start.
    uint64_t young = heap_at_mark > gch_gen.old_bytes ? heap_at_mark - gch_gen.old_bytes : 0;
    uint64_t freed = heap_at_mark > live ? heap_at_mark - live : 0;
    if (2 * freed >= young) {
        gch_gen.backoff = 0;
    } else {
        gch_gen.backoff = gch_gen.backoff == 0 ? 1 : 2 * gch_gen.backoff;
        if (gch_gen.backoff > GEN_BACKOFF_MAX)
            gch_gen.backoff = GEN_BACKOFF_MAX;
        gch_gen.skip = gch_gen.backoff;
    }
    uint64_t goal = gch_heap_goal(gch_gen.major_live);
    if (goal == UINT64_MAX) {
        gch_gen.major_due |= live / 2 > gch_gen.major_live;
        return goal;
    }
    uint64_t room = goal > gch_gen.major_live ? goal - gch_gen.major_live : 0;
    if (live >= goal || goal - live < room / 2)
        gch_gen.major_due = true;
    *major_now = live >= goal;
    return goal;
}

// pacer.c owns pacing: when gc_alloc's slow paths run a collection and
// how much free memory a collection returns to the OS. Go counterpart:
// mgcpacer.go (heap goal), mgcscavenge.go (retained memory).
//
// The heap goal is Go's GOGC without the trigger runway: after a cycle,
// next_gc = max(4 MiB, live * (1 + GOGC/100)); gc_alloc's slow paths
// collect when heap_live would pass it. live is exact after gc_collect (the
// sweep is complete) and the marked bytes after a lazy gc_sweep; heap_live
// starts from it and only allocation raises it (collector.h), so the
// garbage a lazy sweep has yet to free does not count. In
// generational mode gen.c keeps the goal of the last major cycle
// (gch_gen_pace).
#include "internal.h"

uint64_t gch_heap_goal(uint64_t live)
{
    long gogc = (long)AO_load(&gch_gc.gogc);
    if (gogc < 0)
        return UINT64_MAX;
    uint64_t goal = live + live / 100 * (uint64_t)gogc + live % 100 * (uint64_t)gogc / 100;
    return goal > GCH_MIN_HEAP_GOAL ? goal : GCH_MIN_HEAP_GOAL;
}

int gc_set_gogc(int percent)
{
    gch_init();
    long old = (long)AO_load(&gch_gc.gogc);
    AO_store(&gch_gc.gogc, (AO_t)(long)(percent < 0 ? -1 : percent));
    AO_store(&gch_gc.next_gc, gch_heap_goal(AO_load(&gch_stats.live_after_gc)));
    return (int)old;
}

// Returns free pages to the OS after a collection. What a cycle will use
// again is the span memory the heap held at its fullest (Go's
// lastHeapInUse), so that is retained, plus 10% (Go's retainExtraPercent),
// taking the largest of the last few cycles: releasing pages that the next
// cycle faults back in costs more than it saves (Go paces its background
// scavenger for the same reason). A one-off spike is released once it has
// left the window. And only an excess of more than 1/8 of that is worth a
// release: a heap whose resident size hovers at the target faulted a few
// released pages back in each cycle, and the next collection released as
// many again (a madvise, with its TLB shootdown, and a page fault per page:
// 1,118 madvise calls in 2,103 collections of alloc_throughput with a
// 4096-object ring, whose CPU time fell from 0.67 to 0.46 s without them;
// 329 in 210 for mini-lisp's trees.lisp). Once released down to the
// target, the heap faults back the pages it uses and keeps them.
#define MARK_SCAVENGE_WINDOW 4
void gch_pacer_scavenge(uint64_t live, uint64_t inuse_peak)
{
    static uint64_t peaks[MARK_SCAVENGE_WINDOW]; // protected by gch_gc.lock
    static unsigned next;
    peaks[next++ % MARK_SCAVENGE_WINDOW] = inuse_peak;
    uint64_t goal = AO_load(&gch_gc.next_gc);
    if (goal == UINT64_MAX) // GOGC off: the live heap is what stays
        goal = live > GCH_MIN_HEAP_GOAL ? live : GCH_MIN_HEAP_GOAL;
    uint64_t retain = goal;
    for (int i = 0; i < MARK_SCAVENGE_WINDOW; i++)
        retain = peaks[i] > retain ? peaks[i] : retain;
    retain += retain / 10;
    gch_mheap_scavenge(retain, retain / 8);
}

bool gch_collect_for_limit(void)
{
    struct mcache *c = gch_tls_owner;
    if (AO_load(&gch_gc.roots_fn) == 0 || AO_load(&gch_gc.phase) != GCH_PHASE_MUTATE ||
        (c != NULL && c->in_hook))
        return false;
    // Every empty span goes back to the page heap (sweep.c).
    AO_store(&gch_gc.keep_no_empty, 1);
    gc_collect();
    AO_store(&gch_gc.keep_no_empty, 0);
    return true;
}

// Would allocating extra more bytes pass the goal? (next_gc is UINT64_MAX
// when GOGC is off.)
static inline bool mark_goal_passed(uint64_t extra)
{
    return AO_load(&gch_stats.heap_live) + extra > AO_load(&gch_gc.next_gc);
}

bool gc_collect_due(void)
{
    gch_init();
    // The caller's own batch counts (mcache.c); other threads' may be up to
    // GCH_LIVE_BATCH late each.
    struct mcache *c = gch_tls_owner;
    return mark_goal_passed(c != NULL ? c->live_pending : 0);
}

void gch_maybe_collect(uint64_t extra)
{
    if (AO_load(&gch_gc.roots_fn) == 0 || (long)AO_load(&gch_gc.gogc) < 0)
        return;
    if (AO_load(&gch_gc.phase) != GCH_PHASE_MUTATE)
        return;
    if (!mark_goal_passed(extra))
        return;
    gc_collect();
}

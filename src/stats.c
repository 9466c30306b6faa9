// stats.c owns the statistics: the shared counters and gc_get_stats. See
// malloc.c for the overview; Go counterpart: mstats.go (ReadMemStats).
//
// Counters are updated on slow paths only. An object is counted when its
// span leaves an mcache (mcache.c) or, for large objects, when allocated;
// a free when its span is swept. gc_get_stats adds what the caches hold
// and have not flushed (their spans' alloc_count progress), so the figures
// are exact for every allocation made before the call.
//
// Tiny allocations follow Go's MemStats: each counts in mallocs; a tiny
// block counts once as an object; allocations made inside an existing
// block also count in frees, so mallocs - frees == heap_objects.
#include "internal.h"

#include <string.h>
#include <time.h>

struct gch_stats gch_stats;

// The caches' part of the statistics (gch_mcache_inflight), under the
// lock that keeps the list of caches still.
static void stats_inflight(struct gch_inflight *out)
{
    pthread_mutex_lock(&gch_gc.lock);
    gch_mcache_inflight(out);
    pthread_mutex_unlock(&gch_gc.lock);
}

uint64_t gch_spans_swept(void)
{
    struct gch_inflight f;
    stats_inflight(&f);
    return AO_load(&gch_stats.spans_swept) + f.swept.spans;
}

uint64_t gch_nanotime(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void gc_get_stats(gc_stats *out)
{
    if (out == NULL)
        return;
    gch_init();
    memset(out, 0, sizeof *out);
    struct gch_inflight f;
    stats_inflight(&f);
    uint64_t tiny = f.tiny + AO_load(&gch_stats.tiny_allocs);

    uint64_t mallocs = 0, frees = 0;
    for (int i = 0; i < GCH_NUM_SIZE_CLASSES; i++) {
        gc_class_stats *b = &out->by_size[i];
        b->size = gch_class_to_size[i];
        b->mallocs = AO_load(&gch_stats.mallocs[i]) + f.by_class[i];
        b->frees = AO_load(&gch_stats.frees[i]) + f.swept.frees[i];
        mallocs += b->mallocs;
        frees += b->frees;
    }
    out->mallocs = mallocs + tiny;
    out->frees = frees + tiny;
    out->heap_objects = out->mallocs - out->frees;
    out->tiny_allocs = tiny;
    out->heap_alloc = AO_load(&gch_stats.heap_alloc) + f.bytes - f.swept.bytes;
    out->total_alloc = AO_load(&gch_stats.total_alloc) + f.bytes;
    out->heap_sys = AO_load(&gch_stats.heap_sys);
    out->heap_released = AO_load(&gch_stats.heap_released);
    out->heap_inuse = AO_load(&gch_stats.heap_inuse);
    out->num_gc = AO_load(&gch_stats.num_gc);
    out->num_minor_gc = AO_load(&gch_stats.num_minor_gc);
    out->next_gc = AO_load(&gch_gc.next_gc);
    out->pause_total_ns = AO_load(&gch_stats.pause_total_ns);
    out->live_after_gc = AO_load(&gch_stats.live_after_gc);
}

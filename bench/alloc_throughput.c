// alloc_throughput.c: allocation throughput of one backend (backend.h) from
// T threads.
//
//   alloc_throughput T N K [P]
//
// Each of T threads makes N allocations from a fixed size mix and keeps the
// last K alive in a ring; the object that leaves the ring is checked, then
// dropped (freed for the malloc backends). The mix, from a per-thread
// xorshift generator with a fixed seed, so every backend sees the same
// sequence:
//   90%    8 .. 256 bytes
//   9.9%   1 .. 4 KiB
//   0.1%   64 KiB
// Half the objects are pointer-free (has_ptrs false). Every object carries
// a tag word (thread, sequence number) at its start and, when there is room,
// its complement in its last whole word; a pointer-bearing object of 16
// bytes or more holds in its second word a pointer to the object allocated
// just before it (so the collector has edges to trace). A wrong tag when an
// object leaves the ring means the allocator handed out live memory twice:
// the program says so and exits with status 1.
// The checksum is the total of the requested sizes (the same everywhere);
// the runner reports throughput as T * N / wall seconds.
//
// gcheap with several threads. gcheap's collections are stop-the-world from
// the host's side (gcheap.h): while one runs, no other thread may allocate.
// A gc_alloc that collects by itself (roots hook set) cannot guarantee that,
// since the other threads may be inside gc_alloc at that moment. So this
// host does what a multi-threaded VM does: safepoints. Threads poll a flag
// between allocations; every 256 KiB of its own allocation a thread asks
// gcheap's pacer (gc_collect_due: the heap against next_gc, which gcheap
// computes from the last cycle's live heap and GOGC), and when the goal is
// passed it stops the others at their next poll, installs the roots hook
// (every thread's ring), runs gc_collect and restarts them. The same
// protocol runs for T = 1, so the 1- and 2-thread figures compare alike.
// AT_GCHEAP_PARALLEL=1 (T > 1) marks in parallel instead, as a
// multi-threaded VM has each thread scan its own stack: the stopped threads
// wake to mark their own ring (gc_mark_roots) while the collecting thread
// marks its own and those of threads that have finished allocating; then
// gc_collect, with no roots hook, ends the phase and sweeps. GC time is
// then the host's: the wall time from each stop to the restart.
// AT_GCHEAP_LAZY=1 ends each collection with gc_sweep instead of a full
// sweep: the threads sweep lazily as they allocate, after the restart (with
// one thread marking, it marks with gc_mark_roots, not gc_collect).
// AT_GCHEAP_AUTO=1 (T = 1 only) instead leaves the roots hook installed and
// lets gc_alloc collect by itself, to show what the safepoints cost.
//
// P processes (default 1): the program forks into P copies before any
// allocation, each with its own heap, and each runs the whole test (T
// threads, the same sequences); the first process waits for the others
// and fails if any failed. This is the machine's own bound on scaling:
// P = 2, T = 1 does the work of T = 2 with nothing shared between the two
// heaps, so what T = 2 loses beyond it is the allocator's sharing, not the
// cores, caches or memory. Each process prints its RESULT line, the first
// process last: the runner's collection figures are that process's, while
// its CPU time covers all of them.
#include "backend.h"

#include <pthread.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum {
    MAX_THREADS = 64,
    MAX_PROCESSES = 16,
    SIZE_LARGE = 64 << 10,
};

struct slot {
    uint64_t *p;
    uint32_t size;
    uint32_t has_ptrs;
};

// One per thread, each on its own cache lines: a shared line would make the
// threads' bookkeeping, not the allocator, the bottleneck (false sharing).
struct worker {
    _Alignas(128) int id;
    bool left; // done allocating (gcheap safepoints); protected by sp_lock
    uint64_t n;
    struct slot *ring; // K slots, in bk_alloc_roots memory
    uint64_t checksum;
    pthread_t thread;
};

static uint64_t ring_k;
static struct worker workers[MAX_THREADS];
static int nworkers;

static inline uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static inline uint64_t tag_of(int id, uint64_t seq)
{
    return ((uint64_t)(id + 1) << 48 | seq) * 0x9E3779B97F4A7C15u;
}

// The last whole word of an object of size bytes that no other field uses,
// or 0 if there is none.
static inline size_t trailer_word(size_t size, bool has_ptrs)
{
    size_t w = size / 8 - 1;
    return w > (has_ptrs ? 1u : 0u) ? w : 0;
}

static void check_slot(const struct worker *w, const struct slot *s, uint64_t seq)
{
    uint64_t tag = tag_of(w->id, seq);
    size_t tw = trailer_word(s->size, s->has_ptrs);
    if (s->p[0] != tag || (tw != 0 && s->p[tw] != ~tag)) {
        fprintf(stderr,
                "alloc_throughput: thread %d object %llu (%u bytes at %p) was overwritten: "
                "tag %#llx, want %#llx\n",
                w->id, (unsigned long long)seq, s->size, (void *)s->p, (unsigned long long)s->p[0],
                (unsigned long long)tag);
        exit(1);
    }
}

#if BACKEND_GCHEAP
// ------------------------------------------------------ gcheap safepoints

static pthread_mutex_t sp_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sp_cond = PTHREAD_COND_INITIALIZER;
static int sp_stop;       // protected by sp_lock; polled relaxed
static int sp_parked;     // protected by sp_lock
static int sp_running;    // threads still allocating; protected by sp_lock
static bool sp_auto;      // AT_GCHEAP_AUTO: gc_alloc collects by itself
static bool sp_parallel;  // AT_GCHEAP_PARALLEL: each thread marks its ring
static bool sp_lazy;      // AT_GCHEAP_LAZY: gc_sweep, not gc_collect
static unsigned sp_round; // collections begun; protected by sp_lock
static int sp_marked;     // parked threads done marking this round; sp_lock
static uint64_t sp_gc_ns; // wall time of the safepoints; the collector's

static void at_trace(void *obj, size_t size, void *ctx)
{
    (void)ctx;
    if (size >= 16)
        gc_mark(((void **)obj)[1]);
}

static void ring_mark(const struct worker *w)
{
    for (uint64_t i = 0; i < ring_k; i++)
        gc_mark(w->ring[i].p);
}

// Every ring (inside gc_collect).
static void at_roots(void *ctx)
{
    (void)ctx;
    for (int t = 0; t < nworkers; t++)
        ring_mark(&workers[t]);
}

// A stopped thread's own ring.
static void at_roots_own(void *ctx)
{
    ring_mark(ctx);
}

// The collecting thread's ring and those of the threads that have left
// (read by sp_lock's holder; no thread leaves while the others are stopped).
static void at_roots_collector(void *ctx)
{
    ring_mark(ctx);
    for (int t = 0; t < nworkers; t++) {
        if (workers[t].left)
            ring_mark(&workers[t]);
    }
}

// Caller holds sp_lock. Waits out the collection, marking w's ring when
// the collecting thread asks.
static void sp_park_locked(struct worker *w)
{
    unsigned round = sp_round;
    sp_parked++;
    pthread_cond_broadcast(&sp_cond);
    while (sp_stop) {
        if (sp_round != round) {
            round = sp_round;
            pthread_mutex_unlock(&sp_lock);
            gc_mark_roots(at_roots_own, w);
            pthread_mutex_lock(&sp_lock);
            sp_marked++;
            pthread_cond_broadcast(&sp_cond);
        } else {
            pthread_cond_wait(&sp_cond, &sp_lock);
        }
    }
    sp_parked--;
}

static void sp_park(struct worker *w)
{
    pthread_mutex_lock(&sp_lock);
    sp_park_locked(w);
    pthread_mutex_unlock(&sp_lock);
}

static inline void sp_poll(struct worker *w)
{
    if (__atomic_load_n(&sp_stop, __ATOMIC_RELAXED))
        sp_park(w);
}

static uint64_t sp_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

// Collects if gcheap's pacer says the heap has reached its goal.
static void sp_maybe_collect(struct worker *w)
{
    if (sp_auto)
        return;
    if (!gc_collect_due())
        return;
    pthread_mutex_lock(&sp_lock);
    if (sp_stop) { // another thread got there first
        sp_park_locked(w);
        pthread_mutex_unlock(&sp_lock);
        return;
    }
    uint64_t t0 = sp_now_ns();
    __atomic_store_n(&sp_stop, 1, __ATOMIC_RELAXED);
    while (sp_parked < sp_running - 1)
        pthread_cond_wait(&sp_cond, &sp_lock);
    int helpers = sp_parked;
    if (sp_parallel) {
        sp_round++;
        sp_marked = 0;
        pthread_cond_broadcast(&sp_cond);
    }
    pthread_mutex_unlock(&sp_lock);

    if (!sp_parallel && !sp_lazy) {
        gc_set_roots(at_roots, NULL);
        gc_collect();
        gc_set_roots(NULL, NULL);
    } else {
        if (sp_parallel) {
            gc_mark_roots(at_roots_collector, w);
            pthread_mutex_lock(&sp_lock);
            while (sp_marked < helpers)
                pthread_cond_wait(&sp_cond, &sp_lock);
            pthread_mutex_unlock(&sp_lock);
        } else {
            gc_mark_roots(at_roots, NULL);
        }
        if (sp_lazy)
            gc_sweep();
        else
            gc_collect(); // no roots hook: ends the phase the markers began
    }

    pthread_mutex_lock(&sp_lock);
    __atomic_store_n(&sp_stop, 0, __ATOMIC_RELAXED);
    sp_gc_ns += sp_now_ns() - t0;
    pthread_cond_broadcast(&sp_cond);
    pthread_mutex_unlock(&sp_lock);
}

static void sp_leave(struct worker *w)
{
    pthread_mutex_lock(&sp_lock);
    sp_running--;
    w->left = true;
    pthread_cond_broadcast(&sp_cond);
    pthread_mutex_unlock(&sp_lock);
}
#else
static inline void sp_poll(struct worker *w)
{
    (void)w;
}

static inline void sp_maybe_collect(struct worker *w)
{
    (void)w;
}

static inline void sp_leave(struct worker *w)
{
    (void)w;
}
#endif

enum { PACING_CHECK_BYTES = 256 << 10 };

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    uint64_t rng = 0x2545F4914F6CDD1Du ^ ((uint64_t)(w->id + 1) * 0x9E3779B97F4A7C15u);
    uint64_t since_check = 0, checksum = 0;
    uint64_t *prev = NULL;
    for (uint64_t seq = 0; seq < w->n; seq++) {
        sp_poll(w);
        struct slot *s = &w->ring[seq % ring_k];
        if (seq >= ring_k) {
            check_slot(w, s, seq - ring_k);
            bk_free(s->p);
            if (prev == s->p)
                prev = NULL;
        }
        uint64_t r = xorshift(&rng);
        unsigned u = (unsigned)(r % 1000);
        size_t size;
        if (u < 1)
            size = SIZE_LARGE;
        else if (u < 100)
            size = 1024 + (size_t)((r >> 10) % 3073);
        else
            size = 8 + (size_t)((r >> 10) % 249);
        bool has_ptrs = (r >> 40) & 1;

        // Pointer-free objects: written (tag, trailer) before they are read.
        uint64_t *p = has_ptrs ? bk_alloc(size, true) : bk_alloc_data(size);
        uint64_t tag = tag_of(w->id, seq);
        p[0] = tag;
        if (has_ptrs && size >= 16)
            p[1] = (uint64_t)(uintptr_t)prev;
        size_t tw = trailer_word(size, has_ptrs);
        if (tw != 0)
            p[tw] = ~tag;
        *s = (struct slot){p, (uint32_t)size, has_ptrs};
        prev = p;
        checksum += size;

        since_check += size;
        if (since_check >= PACING_CHECK_BYTES) {
            since_check = 0;
            sp_maybe_collect(w);
        }
    }
    w->checksum = checksum;
    // The survivors are checked too (reading needs no safepoint).
    sp_leave(w);
    uint64_t first = w->n > ring_k ? w->n - ring_k : 0;
    for (uint64_t seq = first; seq < w->n; seq++)
        check_slot(w, &w->ring[seq % ring_k], seq);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: alloc_throughput THREADS N K [PROCESSES]\n");
        return 2;
    }
    nworkers = atoi(argv[1]);
    uint64_t n = strtoull(argv[2], NULL, 10);
    ring_k = strtoull(argv[3], NULL, 10);
    int nprocs = argc == 5 ? atoi(argv[4]) : 1;
    if (nworkers < 1 || nworkers > MAX_THREADS || ring_k < 1 || nprocs < 1 ||
        nprocs > MAX_PROCESSES) {
        fprintf(stderr,
                "alloc_throughput: need 1 <= THREADS <= %d, K >= 1 and 1 <= PROCESSES <= %d\n",
                MAX_THREADS, MAX_PROCESSES);
        return 2;
    }
    // Fork before the allocator runs: each copy gets a heap of its own.
    pid_t kids[MAX_PROCESSES];
    int nkids = 0;
    fflush(stdout);
    for (int i = 1; i < nprocs; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("alloc_throughput: fork");
            return 1;
        }
        if (pid == 0) {
            nkids = 0; // a copy waits for nobody
            break;
        }
        kids[nkids++] = pid;
    }
    bk_init();
#if BACKEND_GCHEAP
    gc_set_trace(at_trace, NULL);
    sp_running = nworkers;
    const char *mode = getenv("AT_GCHEAP_AUTO");
    if (mode != NULL && atoi(mode) == 1) {
        if (nworkers != 1) {
            fprintf(stderr, "alloc_throughput: AT_GCHEAP_AUTO=1 needs THREADS = 1\n");
            return 2;
        }
        sp_auto = true;
    }
    mode = getenv("AT_GCHEAP_PARALLEL");
    if (mode != NULL && atoi(mode) == 1) {
        if (nworkers < 2 || sp_auto) {
            fprintf(stderr, "alloc_throughput: AT_GCHEAP_PARALLEL=1 needs THREADS > 1\n");
            return 2;
        }
        sp_parallel = true;
    }
    mode = getenv("AT_GCHEAP_LAZY");
    if (mode != NULL && atoi(mode) == 1) {
        if (sp_auto) {
            fprintf(stderr,
                    "alloc_throughput: AT_GCHEAP_LAZY=1 does not go with AT_GCHEAP_AUTO=1\n");
            return 2;
        }
        sp_lazy = true;
    }
#endif
    for (int t = 0; t < nworkers; t++) {
        workers[t].id = t;
        workers[t].n = n;
        workers[t].ring = bk_alloc_roots(ring_k * sizeof(struct slot));
    }
#if BACKEND_GCHEAP
    if (sp_auto)
        gc_set_roots(at_roots, NULL);
#endif
    for (int t = 0; t < nworkers; t++) {
        if (pthread_create(&workers[t].thread, NULL, worker_main, &workers[t]) != 0) {
            fprintf(stderr, "alloc_throughput: cannot create thread %d\n", t);
            return 1;
        }
    }
    uint64_t checksum = 0;
    for (int t = 0; t < nworkers; t++) {
        pthread_join(workers[t].thread, NULL);
        checksum += workers[t].checksum;
    }
    int failed = 0;
    for (int i = 0; i < nkids; i++) {
        int st;
        if (waitpid(kids[i], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            failed++;
    }
    if (failed != 0) {
        fprintf(stderr, "alloc_throughput: %d of %d processes failed\n", failed, nprocs);
        return 1;
    }
    printf("%d threads x %llu allocations, ring %llu: all tags intact\n", nworkers,
           (unsigned long long)n, (unsigned long long)ring_k);
#if BACKEND_GCHEAP
    if (sp_parallel || sp_lazy)
        bk_gc_ns_host = sp_gc_ns;
#endif
    bk_report(checksum);
    return 0;
}

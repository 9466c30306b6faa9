// test_threads.c: concurrent allocation from many threads (also run under
// TSan): objects from different threads never overlap and no write is lost;
// short-lived threads give their cached spans back so the heap does not grow
// with the number of threads that ever ran.
#include "util.h"

// --------------------------------------------- concurrent allocation

enum { NTHREADS = 4 };

struct obj {
    uint64_t *p;
    size_t size; // gc_size
};

struct alloc_thread {
    int id;
    size_t n;
    uint64_t seed;
    pthread_barrier_t *barrier;
    struct obj *objs;
    uint64_t bytes; // sum of gc_size
    size_t bad;     // first mismatch, reported by the main thread
    char msg[256];
};

// The word stored at index w of object idx of thread tid.
static inline uint64_t pattern_word(int tid, size_t idx, size_t w)
{
    return (uint64_t)tid << 60 | (uint64_t)idx << 24 | (uint64_t)(w & 0xffffff);
}

static size_t random_size(uint64_t *seed)
{
    // 8..4095 bytes, the binary order of magnitude skewed to small sizes
    // (mean ~220 bytes, as in a VM's heap); one in 2000 is large (32-96 KiB).
    if (rng_below(seed, 2000) == 0)
        return 32769 + (size_t)rng_below(seed, 64 << 10);
    uint64_t u = rng_below(seed, 9), v = rng_below(seed, 9);
    unsigned b = 3 + (unsigned)(u < v ? u : v);
    return ((size_t)1 << b) | (size_t)rng_below(seed, (uint64_t)1 << b);
}

static void *alloc_thread_main(void *arg)
{
    struct alloc_thread *t = arg;
    for (size_t i = 0; i < t->n; i++) {
        size_t size = random_size(&t->seed);
        // Noscan requests under 16 bytes are tiny and share blocks; keep
        // every object to itself so the pattern can cover its gc_size.
        bool has_ptrs = size < 16 || rng_below(&t->seed, 2) == 0;
        uint64_t *p = gc_alloc(size, has_ptrs);
        if (p == NULL) {
            snprintf(t->msg, sizeof t->msg, "thread %d: gc_alloc(%zu) returned NULL", t->id, size);
            t->bad = 1;
            t->n = i;
            break;
        }
        size_t gs = gc_size(p);
        if (gs < size || gc_base(p) != p) {
            snprintf(t->msg, sizeof t->msg,
                     "thread %d: object %zu: gc_size %zu for %zu bytes, gc_base %p for %p", t->id,
                     i, gs, size, gc_base(p), (void *)p);
            t->bad = 1;
            t->n = i;
            break;
        }
        for (size_t w = 0; w < gs / 8; w++)
            p[w] = pattern_word(t->id, i, w);
        t->objs[i] = (struct obj){p, gs};
        t->bytes += gs;
    }
    // Verify only once every thread has written everything: an overlap with
    // another thread's object shows up as a foreign pattern.
    pthread_barrier_wait(t->barrier);
    for (size_t i = 0; i < t->n && !t->bad; i++) {
        uint64_t *p = t->objs[i].p;
        for (size_t w = 0; w < t->objs[i].size / 8; w++) {
            if (p[w] != pattern_word(t->id, i, w)) {
                snprintf(
                    t->msg, sizeof t->msg,
                    "thread %d object %zu (%p, %zu bytes) word %zu: expected %#jx, actual %#jx",
                    t->id, i, (void *)p, t->objs[i].size, w, (uintmax_t)pattern_word(t->id, i, w),
                    (uintmax_t)p[w]);
                t->bad = 1;
                break;
            }
        }
    }
    return NULL;
}

static int cmp_obj(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)((const struct obj *)a)->p, y = (uintptr_t)((const struct obj *)b)->p;
    return x < y ? -1 : x > y;
}

Test(threads, four_threads_allocate_disjoint_objects_and_lose_no_write)
{
    size_t n = scaled(100000, 1000);
    uint64_t seed = test_seed();
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, NTHREADS);
    struct alloc_thread t[NTHREADS];
    pthread_t tid[NTHREADS];
    gc_stats s0 = get_stats();
    for (int i = 0; i < NTHREADS; i++) {
        t[i] = (struct alloc_thread){
            .id = i, .n = n, .seed = seed + (uint64_t)i * 0x1234567, .barrier = &barrier};
        t[i].objs = malloc(n * sizeof *t[i].objs);
        cr_assert_not_null(t[i].objs);
        cr_assert_eq(pthread_create(&tid[i], NULL, alloc_thread_main, &t[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(tid[i], NULL);
    pthread_barrier_destroy(&barrier);
    gc_stats s1 = get_stats();

    uint64_t bytes = 0;
    for (int i = 0; i < NTHREADS; i++) {
        cr_assert_eq(t[i].bad, 0, "%s", t[i].msg);
        bytes += t[i].bytes;
    }
    // The statistics see every thread's allocations.
    CHECK_EQ(s1.mallocs - s0.mallocs, (uint64_t)NTHREADS * n,
             "mallocs after %d threads x %zu objects", NTHREADS, n);
    CHECK_EQ(s1.heap_objects - s0.heap_objects, (uint64_t)NTHREADS * n,
             "heap_objects after all threads");
    CHECK_EQ(s1.heap_alloc - s0.heap_alloc, bytes,
             "heap_alloc vs the sum of gc_size over all objects");

    // No object overlaps another, whichever thread allocated it.
    struct obj *all = malloc(NTHREADS * n * sizeof *all);
    cr_assert_not_null(all);
    size_t m = 0;
    for (int i = 0; i < NTHREADS; i++) {
        memcpy(all + m, t[i].objs, t[i].n * sizeof *all);
        m += t[i].n;
        free(t[i].objs);
    }
    qsort(all, m, sizeof *all, cmp_obj);
    for (size_t i = 1; i < m; i++)
        CHECK_CMP((uintptr_t)all[i - 1].p + all[i - 1].size, <=, (uintptr_t)all[i].p,
                  "objects %p (+%zu) and %p overlap", (void *)all[i - 1].p, all[i - 1].size,
                  (void *)all[i].p);
    free(all);
}

// ------------------------------------------------- short-lived threads

enum { SHORT_THREADS = 1000, BATCH = 50, PER_THREAD = 10 };

// One object of each: scan and noscan classes from 8 to 1024 bytes, and
// two tiny ones.
static const size_t short_sizes[PER_THREAD] = {8, 24, 48, 64, 128, 256, 512, 5, 12, 1024};
static const bool short_ptrs[PER_THREAD] = {true,  true, true,  false, true,
                                            false, true, false, false, false};

static unsigned char *short_objs[SHORT_THREADS][PER_THREAD];

static void *short_thread_main(void *arg)
{
    size_t id = (size_t)(uintptr_t)arg;
    for (int k = 0; k < PER_THREAD; k++) {
        unsigned char *p = gc_alloc(short_sizes[k], short_ptrs[k]);
        if (p != NULL) {
            if (first_nonzero(p, short_sizes[k]) != short_sizes[k])
                p = NULL; // reported as a failure by the main thread
            else
                fill_pattern(p, short_sizes[k], id * PER_THREAD + (size_t)k);
        }
        short_objs[id][k] = p;
    }
    return NULL;
}

Test(threads, short_lived_threads_do_not_grow_the_heap)
{
    // Every thread leaves its objects alive (nothing is collected), so the
    // heap must grow by what they hold: per thread, the class sizes below
    // (2 tiny blocks of 16), at most 1/8 more for span tails, plus one heap
    // growth step (4 MiB chunks, as in Go) that may fall in the measured
    // interval. If exited threads kept their cached spans instead of
    // returning them for the next threads to fill, each of the 900 would
    // leave ~10 nearly empty spans: >= 70 MiB.
    uint64_t per_thread = 0;
    for (int k = 0; k < PER_THREAD; k++)
        per_thread +=
            short_sizes[k] < 16 && !short_ptrs[k] ? 16 : class_size(size_to_class(short_sizes[k]));
    uint64_t heap_sys_100 = 0;
    for (size_t first = 0; first < SHORT_THREADS; first += BATCH) {
        pthread_t tid[BATCH];
        for (size_t i = 0; i < BATCH; i++) {
            int rc =
                pthread_create(&tid[i], NULL, short_thread_main, (void *)(uintptr_t)(first + i));
            cr_assert_eq(rc, 0, "pthread_create of thread %zu: %d", first + i, rc);
        }
        for (size_t i = 0; i < BATCH; i++)
            pthread_join(tid[i], NULL);
        if (first + BATCH == 100)
            heap_sys_100 = get_stats().heap_sys;
    }
    gc_stats s = get_stats();
    uint64_t bound = (SHORT_THREADS - 100) * per_thread * 9 / 8 + (4u << 20);
    cr_log_info("heap_sys after 100 threads %ju, after %d threads %ju", (uintmax_t)heap_sys_100,
                SHORT_THREADS, (uintmax_t)s.heap_sys);
    CHECK_CMP(s.heap_sys - heap_sys_100, <, bound,
              "heap_sys growth from thread 100 (%ju) to thread 1000 (%ju)", (uintmax_t)heap_sys_100,
              (uintmax_t)s.heap_sys);
    // All objects are intact: reusing an exited thread's spans did not
    // hand out a live slot twice.
    for (size_t i = 0; i < SHORT_THREADS; i++) {
        for (int k = 0; k < PER_THREAD; k++) {
            unsigned char *p = short_objs[i][k];
            CHECK(p != NULL, "thread %zu object %d (size %zu): NULL or not zeroed", i, k,
                  short_sizes[k]);
            CHECK(gc_base(p) != NULL, "thread %zu object %d: gc_base NULL", i, k);
            CHECK_EQ(check_pattern(p, short_sizes[k], i * PER_THREAD + (size_t)k), short_sizes[k],
                     "first damaged byte of thread %zu object %d (size %zu)", i, k, short_sizes[k]);
        }
    }
}

// ---------------------------------------------- pacing across threads

// A cache adds its refills' charges to the pacer's heap_live in batches
// (mcache.c, GCH_LIVE_BATCH = 64 KiB): another thread's allocation must
// still reach gc_collect_due within a batch, while that thread lives on.
struct pace_thread {
    pthread_barrier_t barrier;
    size_t first, second; // bytes to allocate before each look, in 64-byte objects
    size_t failed;        // allocations that returned NULL
};

static void pace_alloc(struct pace_thread *t, size_t bytes)
{
    for (size_t done = 0; done < bytes; done += 64)
        t->failed += gc_alloc(64, true) == NULL;
}

static void *pace_thread_main(void *arg)
{
    struct pace_thread *t = arg;
    pace_alloc(t, t->first);
    pthread_barrier_wait(&t->barrier); // the main thread looks
    pthread_barrier_wait(&t->barrier);
    pace_alloc(t, t->second);
    pthread_barrier_wait(&t->barrier); // and looks again
    pthread_barrier_wait(&t->barrier);
    return NULL;
}

Test(threads, the_pacer_sees_another_thread_s_allocation_within_a_batch)
{
    unsetenv("GCHEAP_GOGC");
    uint64_t goal = get_stats().next_gc; // the 4 MiB minimum on a fresh heap
    CHECK(!gc_collect_due(), "gc_collect_due before any allocation (goal %ju)", (uintmax_t)goal);
    static struct pace_thread t;
    t.first = goal - (192u << 10); // a span's reservation under the goal, and more
    t.second = 320u << 10;         // 128 KiB past the goal: two batches
    pthread_barrier_init(&t.barrier, NULL, 2);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, pace_thread_main, &t), 0);
    pthread_barrier_wait(&t.barrier);
    CHECK(!gc_collect_due(), "gc_collect_due after the other thread allocated %zu of %ju bytes",
          t.first, (uintmax_t)goal);
    pthread_barrier_wait(&t.barrier);
    pthread_barrier_wait(&t.barrier);
    CHECK(gc_collect_due(), "gc_collect_due after the other thread allocated %zu of %ju bytes",
          t.first + t.second, (uintmax_t)goal);
    pthread_barrier_wait(&t.barrier);
    pthread_join(th, NULL);
    pthread_barrier_destroy(&t.barrier);
    CHECK_EQ(t.failed, 0, "allocations that failed");
}

// ------------------------------------- lazy sweeping with two threads
//
// [C6]: the end of a mark phase leaves each cache's spans on its own
// unswept lists, so that after a lazy gc_sweep each thread sweeps and
// reuses the spans it filled. Two threads fill spans of one class in turn
// and keep every other object; the main thread marks the survivors and
// calls gc_sweep; then each thread's next object of the class must come
// from one of its own pages (spans of 64-byte objects are one page), and
// every survivor keeps its contents. From the mcentral's shared unswept
// set, which is LIFO, the thread asking second got the other's spans.
enum { OWN_N = 1024, OWN_SIZE = 64 };

struct own_thread {
    int id;
    pthread_barrier_t *step;
    unsigned char *kept[OWN_N]; // even indices; NULL for the dropped ones
    uintptr_t pages[OWN_N];     // the page of every object it allocated, sorted
    uintptr_t next_page;        // the page of its first object after the sweep
    bool failed;                // an allocation returned NULL
};

static uintptr_t page_of(const void *p)
{
    return (uintptr_t)p & ~(uintptr_t)(TEST_PAGE_SIZE - 1);
}

static void *own_thread_main(void *arg)
{
    struct own_thread *t = arg;
    for (int turn = 0; turn < 2; turn++) { // fill, one thread after the other
        for (int i = 0; turn == t->id && i < OWN_N; i++) {
            unsigned char *p = gc_alloc(OWN_SIZE, true);
            if (p == NULL) {
                t->failed = true;
                break;
            }
            fill_pattern(p, OWN_SIZE, (uint64_t)t->id * OWN_N + (uint64_t)i);
            t->pages[i] = page_of(p);
            t->kept[i] = i % 2 == 0 ? p : NULL;
        }
        pthread_barrier_wait(t->step);
    }
    qsort(t->pages, OWN_N, sizeof t->pages[0], cmp_uintptr);
    pthread_barrier_wait(t->step); // the main thread marks and sweeps
    for (int turn = 0; turn < 2; turn++) {
        if (turn == t->id) {
            void *p = gc_alloc(OWN_SIZE, true);
            t->failed |= p == NULL;
            t->next_page = page_of(p);
        }
        pthread_barrier_wait(t->step);
    }
    pthread_barrier_wait(t->step); // the caches stay live until checked
    return NULL;
}

static bool own_has_page(const struct own_thread *t, uintptr_t page)
{
    return bsearch(&page, t->pages, OWN_N, sizeof t->pages[0], cmp_uintptr) != NULL;
}

Test(threads, after_a_lazy_sweep_each_thread_reuses_its_own_spans)
{
    gc_set_gogc(-1);
    pthread_barrier_t step;
    cr_assert_eq(pthread_barrier_init(&step, NULL, 3), 0);
    static struct own_thread t[2];
    pthread_t tid[2];
    for (int k = 0; k < 2; k++) {
        t[k] = (struct own_thread){.id = k, .step = &step};
        cr_assert_eq(pthread_create(&tid[k], NULL, own_thread_main, &t[k]), 0);
    }
    pthread_barrier_wait(&step);
    pthread_barrier_wait(&step);
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < OWN_N; i++) {
            if (t[k].kept[i] != NULL)
                gc_mark(t[k].kept[i]);
        }
    }
    gc_sweep();
    pthread_barrier_wait(&step);
    pthread_barrier_wait(&step);
    pthread_barrier_wait(&step);
    for (int k = 0; k < 2; k++) {
        CHECK(!t[k].failed, "thread %d: an allocation returned NULL", k);
        CHECK(own_has_page(&t[k], t[k].next_page),
              "thread %d: its first object after the sweep is on page %p, not one of its own "
              "(the other thread's: %d)",
              k, (void *)t[k].next_page, own_has_page(&t[1 - k], t[k].next_page));
        for (int i = 0; i < OWN_N; i += 2)
            CHECK_EQ(check_pattern(t[k].kept[i], OWN_SIZE, (uint64_t)k * OWN_N + (uint64_t)i),
                     (size_t)OWN_SIZE, "first damaged byte of thread %d object %d", k, i);
    }
    pthread_barrier_wait(&step);
    for (int k = 0; k < 2; k++)
        pthread_join(tid[k], NULL);
    pthread_barrier_destroy(&step);
}

// A thread that exits between a lazy gc_sweep and the next mark phase
// leaves unswept spans, some of them full, which its cache had to itself
// ([C6]); they go to the mcentrals' unswept sets, where the next thread's
// refills sweep them like any other. The survivors stay intact, the
// emptied spans are reused, and the heap verifier (GCHEAP_DEBUG=verify,
// at every phase change) stays clean. The survivors are the second half,
// whose spans are the newest, so a refill meets them first: taken for
// spans with room, they would be handed out full. Sets the environment
// before gcheap's first call: each Test runs in a process of its own.
enum { EXIT_N = 4096, EXIT_SIZE = 128 };
static unsigned char *exit_objs[EXIT_N];
static pthread_barrier_t exit_step;

// Fills, waits while the main thread marks the first half and sweeps, then
// exits with its spans on its unswept lists.
static void *exit_fill_thread(void *arg)
{
    (void)arg;
    for (int i = 0; i < EXIT_N; i++) {
        exit_objs[i] = gc_alloc(EXIT_SIZE, true);
        if (exit_objs[i] != NULL)
            fill_pattern(exit_objs[i], EXIT_SIZE, (uint64_t)i);
    }
    pthread_barrier_wait(&exit_step);
    pthread_barrier_wait(&exit_step);
    return NULL;
}

static void exit_roots(void *ctx)
{
    (void)ctx;
    for (int i = EXIT_N / 2; i < EXIT_N; i++)
        gc_mark(exit_objs[i]);
}

Test(threads, a_thread_exiting_after_a_lazy_sweep_leaves_its_spans_sweepable)
{
    setenv("GCHEAP_DEBUG", "verify=1", 1);
    gc_set_gogc(-1);
    cr_assert_eq(pthread_barrier_init(&exit_step, NULL, 2), 0);
    pthread_t tid;
    cr_assert_eq(pthread_create(&tid, NULL, exit_fill_thread, NULL), 0);
    pthread_barrier_wait(&exit_step);
    for (int i = 0; i < EXIT_N; i++)
        cr_assert_not_null(exit_objs[i], "gc_alloc %d in the thread", i);
    // The second half survives (its spans stay full), the first half dies
    // (its spans will be empty).
    exit_roots(NULL);
    gc_sweep();
    for (int i = 0; i < EXIT_N / 2; i++)
        exit_objs[i] = NULL;
    pthread_barrier_wait(&exit_step);
    pthread_join(tid, NULL);
    pthread_barrier_destroy(&exit_step);
    gc_stats s0 = get_stats();
    // The main thread's refills take the exited thread's spans.
    for (int i = 0; i < EXIT_N / 2; i++) {
        unsigned char *p = gc_alloc(EXIT_SIZE, true);
        cr_assert_not_null(p, "gc_alloc %d after the thread exited", i);
        memset(p, 0xEE, EXIT_SIZE);
    }
    CHECK_EQ(get_stats().heap_inuse, s0.heap_inuse,
             "heap_inuse after reallocating what the sweep freed");
    for (int i = EXIT_N / 2; i < EXIT_N; i++)
        CHECK_EQ(check_pattern(exit_objs[i], EXIT_SIZE, (uint64_t)i), (size_t)EXIT_SIZE,
                 "first damaged byte of survivor %d", i);
    gc_set_roots(exit_roots, NULL);
    gc_collect(); // verifies before marking, after marking and after sweeping
    for (int i = EXIT_N / 2; i < EXIT_N; i++)
        CHECK_EQ(check_pattern(exit_objs[i], EXIT_SIZE, (uint64_t)i), (size_t)EXIT_SIZE,
                 "first damaged byte of survivor %d after gc_collect", i);
}

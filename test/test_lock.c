// test_lock.c: gcheap's mutex (struct gch_mutex, lock.c) on its own:
// mutual exclusion and no lost update under contention, sleepers woken,
// misuse caught, and the futex calls' contract. Also run under TSan, which
// checks that each critical section happens-before the next (the counters
// are plain variables).
#include "../src/internal.h"

#include "util.h"

#include <signal.h>

enum { LOCK_THREADS = 4 };

struct hammer {
    struct gch_mutex *m;
    pthread_barrier_t *start;
    uint64_t iters;
    uint64_t hold; // extra work inside the critical section
    // Shared, protected by *m: plain reads and writes on purpose.
    uint64_t *counter;
    uint64_t *inside;
    uint64_t *overlaps;
};

static void *hammer_main(void *arg)
{
    struct hammer *h = arg;
    pthread_barrier_wait(h->start);
    for (uint64_t i = 0; i < h->iters; i++) {
        gch_mutex_lock(h->m);
        if (*h->inside != 0)
            (*h->overlaps)++;
        *h->inside = 1;
        // A read-modify-write split by the work, so an unprotected
        // interleaving would lose increments.
        uint64_t c = *h->counter;
        for (uint64_t k = 0; k < h->hold; k++)
            __asm__ volatile("" ::: "memory");
        *h->counter = c + 1;
        *h->inside = 0;
        gch_mutex_unlock(h->m);
    }
    return NULL;
}

// Runs LOCK_THREADS threads of iters lock/unlock pairs each on one mutex;
// checks the exact total and that no two critical sections overlapped.
static void hammer(uint64_t iters, uint64_t hold)
{
    static struct gch_mutex m = GCH_MUTEX_INITIALIZER;
    uint64_t counter = 0, inside = 0, overlaps = 0;
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, LOCK_THREADS);
    struct hammer h[LOCK_THREADS];
    pthread_t tid[LOCK_THREADS];
    for (int i = 0; i < LOCK_THREADS; i++) {
        h[i] = (struct hammer){&m, &start, iters, hold, &counter, &inside, &overlaps};
        CHECK_EQ(pthread_create(&tid[i], NULL, hammer_main, &h[i]), 0, "pthread_create %d", i);
    }
    for (int i = 0; i < LOCK_THREADS; i++)
        pthread_join(tid[i], NULL);
    pthread_barrier_destroy(&start);
    CHECK_EQ(counter, LOCK_THREADS * iters,
             "%d threads x %" PRIu64 " increments (hold %" PRIu64 ")", LOCK_THREADS, iters, hold);
    CHECK_EQ(overlaps, 0, "critical sections entered while another was inside");
    CHECK_EQ(AO_int_load(&m.key), 0, "[L1] word after the last unlock");
}

Test(lock, short_sections_lose_no_update)
{
    hammer(200000, 0);
}

Test(lock, long_sections_make_threads_sleep_and_wake)
{
    // Sections long enough that waiters exhaust their spin and sleep.
    hammer(20000, 2000);
}

// --------------------------------------------------- sleepers are woken

struct sleeper {
    struct gch_mutex *m;
    uint64_t *counter; // protected by *m
};

static void *sleeper_main(void *arg)
{
    struct sleeper *s = arg;
    gch_mutex_lock(s->m);
    (*s->counter)++;
    gch_mutex_unlock(s->m);
    return NULL;
}

Test(lock, every_sleeper_is_woken)
{
    // The main thread holds the lock until a waiter has marked it
    // contended ([L1]: 2, i.e. it gave up spinning and sleeps or is about
    // to); then each unlock must hand the lock on until all got in.
    static struct gch_mutex m = GCH_MUTEX_INITIALIZER;
    uint64_t counter = 0;
    struct sleeper s = {&m, &counter};
    pthread_t tid[LOCK_THREADS];
    gch_mutex_lock(&m);
    for (int i = 0; i < LOCK_THREADS; i++)
        CHECK_EQ(pthread_create(&tid[i], NULL, sleeper_main, &s), 0, "pthread_create %d", i);
    double deadline = now_seconds() + 30;
    while (AO_int_load(&m.key) != 2) {
        CHECK(now_seconds() < deadline, "no waiter marked the lock contended within 30 s (word %u)",
              AO_int_load(&m.key));
        sched_yield();
    }
    gch_mutex_unlock(&m);
    for (int i = 0; i < LOCK_THREADS; i++)
        pthread_join(tid[i], NULL);
    CHECK_EQ(counter, LOCK_THREADS, "waiters that got the lock");
    CHECK_EQ(AO_int_load(&m.key), 0, "[L1] word after the last unlock");
}

Test(lock, uncontended_lock_leaves_the_word_at_zero)
{
    struct gch_mutex m;
    gch_mutex_init(&m);
    gch_mutex_lock(&m);
    CHECK_EQ(AO_int_load(&m.key), 1, "[L1] word of a lock held without contention");
    CHECK(gch_mutex_held(&m), "gch_mutex_held on a held lock");
    gch_mutex_unlock(&m);
    CHECK_EQ(AO_int_load(&m.key), 0, "[L1] word of a free lock");
}

// ------------------------------------------------------------ misuse

static void quiet_stderr(void)
{
    FILE *f = freopen("/dev/null", "w", stderr);
    (void)f;
}

Test(lock, unlocking_a_free_mutex_aborts, .signal = SIGABRT, .init = quiet_stderr)
{
    struct gch_mutex m = GCH_MUTEX_INITIALIZER;
    gch_mutex_unlock(&m);
}

// [L2] is kept at GCH_DEBUG >= 2 only.
Test(lock, locking_twice_from_one_thread_aborts, .signal = SIGABRT, .init = quiet_stderr,
     .disabled = GCH_DEBUG < 2)
{
    struct gch_mutex m = GCH_MUTEX_INITIALIZER;
    gch_mutex_lock(&m);
    gch_mutex_lock(&m);
}

// ------------------------------------------------------- futex calls

Test(lock, futex_wait_returns_when_the_word_differs)
{
    // The contract: sleep only while *word == val. A wait on a word that
    // differs must return (or this test hangs and times out).
    unsigned word = 1;
    gch_os_futex_wait(&word, 2);
    gch_os_futex_wake(&word); // nobody sleeps: a no-op
    CHECK_EQ(word, 1, "futex calls leave the word alone");
}

// os.c owns the operating-system layer: the only file that calls mmap,
// mprotect and madvise. See malloc.c for the overview; Go counterpart:
// mem_linux.go (sysReserve, sysMap, sysUsed, sysUnused, sysFree).
//
// gcheap's address space goes through Go's states:
//   Reserved  mmap(PROT_NONE): address space only, no memory charged.
//   Prepared/Ready  mprotect(PROT_READ|PROT_WRITE): usable; pages are
//             charged when first touched. gcheap does not distinguish the
//             two (Go does for huge-page hints); gch_os_commit goes straight
//             to Ready. Huge-page advice (gch_os_hugepages, madvise
//             MADV_HUGEPAGE or MADV_NOHUGEPAGE) is given per reservation,
//             whatever its state, when the host asks for it.
//   Released  madvise(MADV_DONTNEED) on a Ready range: the kernel takes the
//             physical pages back; the range stays usable and reads as zero.
// Every failure returns to the caller with errno = ENOMEM; nothing here
// aborts, so an mmap failure becomes a NULL from gc_alloc.
//
// It also holds the futex calls behind gcheap's mutex (lock.c), Go's
// futexsleep and futexwakeup, so that lock.c stays free of OS conditionals.
#include "os.h"

#include "atomic.h"

#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>
#if GCH_OS_FUTEX
#include <linux/futex.h>
#include <sys/syscall.h>
#else
#include <pthread.h>
#endif

// Fault injection (tests): countdown to the failing call, 0 = off.
static AO_t os_fault_countdown;
static AO_t os_call_count;

void gch_os_fail_nth(unsigned long n)
{
    AO_store(&os_fault_countdown, n);
}

unsigned long gch_os_calls(void)
{
    return AO_load(&os_call_count);
}

// Counts a fallible call; true if it must fail.
static bool os_inject_fault(void)
{
    (void)AO_fetch_and_add1(&os_call_count);
    AO_t n = AO_load(&os_fault_countdown);
    while (n != 0) {
        AO_t seen = AO_fetch_compare_and_swap_full(&os_fault_countdown, n, n - 1);
        if (seen == n)
            return n == 1;
        n = seen;
    }
    return false;
}

size_t gch_os_page_size(void)
{
    static size_t page; // benign race: every thread computes the same value
    if (page == 0)
        page = (size_t)sysconf(_SC_PAGESIZE);
    return page;
}

void *gch_os_reserve(size_t size, size_t align)
{
    size_t page = gch_os_page_size();
    if (align < page)
        align = page;
    // Over-reserve by align, then trim both ends so the result is aligned.
    if (size == 0 || size > SIZE_MAX - align || os_inject_fault()) {
        errno = ENOMEM;
        return NULL;
    }
    size_t len = size + align;
    void *p = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        errno = ENOMEM;
        return NULL;
    }
    uintptr_t start = (uintptr_t)p;
    uintptr_t aligned = (start + align - 1) & ~(uintptr_t)(align - 1);
    if (aligned > start)
        munmap(p, aligned - start);
    uintptr_t end = start + len;
    if (end > aligned + size)
        munmap((void *)(aligned + size), end - (aligned + size));
    return (void *)aligned;
}

bool gch_os_commit(void *p, size_t size)
{
    if (os_inject_fault()) {
        errno = ENOMEM;
        return false;
    }
    if (mprotect(p, size, PROT_READ | PROT_WRITE) != 0) {
        errno = ENOMEM;
        return false;
    }
    return true;
}

void gch_os_release(void *p, size_t size)
{
    // Failure only costs memory, never correctness of the allocator's view:
    // callers treat released pages as dirty unless this succeeded.
    (void)madvise(p, size, MADV_DONTNEED);
}

// MADV_POPULATE_WRITE is Linux 5.14's; older headers lack the name, and
// older kernels refuse the value with EINVAL, after which no call is made.
// Where madvise is not Linux's, gch_os_populate does nothing.
#if defined(__linux__) && !defined(MADV_POPULATE_WRITE)
#define MADV_POPULATE_WRITE 23
#endif
static AO_t os_populate_off; // set once the kernel refused the advice
static AO_t os_populated;    // bytes populated, for tests

size_t gch_os_populated(void)
{
    return (size_t)AO_load(&os_populated);
}

void gch_os_populate(void *p, size_t size)
{
#ifdef MADV_POPULATE_WRITE
    if (AO_load(&os_populate_off) != 0)
        return;
    int saved = errno;
    // EINVAL: a kernel older than the advice; ENOSYS or EPERM: a sandbox
    // that refuses it. Those would refuse every call: stop asking. Other
    // errors (ENOMEM, EAGAIN, EINTR, a poisoned page) concern this range
    // or this moment, and leave its pages to fault in as usual.
    if (madvise(p, size, MADV_POPULATE_WRITE) == 0)
        (void)AO_fetch_and_add(&os_populated, (AO_t)size);
    else if (errno == EINVAL || errno == ENOSYS || errno == EPERM)
        AO_store(&os_populate_off, 1);
    errno = saved;
#else
    (void)p, (void)size;
#endif
}

bool gch_os_hugepages(void *p, size_t size, bool on)
{
#if defined(MADV_HUGEPAGE) && defined(MADV_NOHUGEPAGE)
    return madvise(p, size, on ? MADV_HUGEPAGE : MADV_NOHUGEPAGE) == 0;
#else
    (void)p, (void)size, (void)on;
    errno = ENOSYS;
    return false;
#endif
}

void gch_os_decommit(void *p, size_t size)
{
    // Re-mapping PROT_NONE over the range both drops the pages and makes
    // stray accesses fault, which is what a decommitted range should do.
    (void)mmap(p, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
}

void gch_os_unreserve(void *p, size_t size)
{
    (void)munmap(p, size);
}

void *gch_os_alloc(size_t size)
{
    size_t page = gch_os_page_size();
    if (size == 0 || size > SIZE_MAX - page || os_inject_fault()) {
        errno = ENOMEM;
        return NULL;
    }
    size = (size + page - 1) & ~(page - 1);
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        errno = ENOMEM;
        return NULL;
    }
    return p;
}

void gch_os_free(void *p, size_t size)
{
    size_t page = gch_os_page_size();
    size = (size + page - 1) & ~(page - 1);
    (void)munmap(p, size);
}

#if GCH_OS_FUTEX
// Go's futexsleep and futexwakeup: the word's address is the wait queue.
void gch_os_futex_wait(unsigned *word, unsigned val)
{
    // EAGAIN (the word is no longer val) and EINTR are early returns, which
    // the contract allows: the caller looks at the word again.
    (void)syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

void gch_os_futex_wake(unsigned *word)
{
    (void)syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}
#else
// Without futexes (Go's lock_sema.go has the same shape): words hash to
// buckets of a pthread mutex and condition variable. A sleeper compares the
// word under its bucket's mutex and waits in one step; the waker has
// changed the word before it takes that mutex to broadcast, so the compare
// either sees the change or is already waiting. A broadcast wakes the
// bucket's other sleepers too: they compare again and go back to sleep.
#define OS_PARK_BUCKETS 64
static struct os_park {
    pthread_mutex_t mu;
    pthread_cond_t cv;
} os_park[OS_PARK_BUCKETS] = {
    [0 ... OS_PARK_BUCKETS - 1] = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER},
};

static struct os_park *os_park_of(const unsigned *word)
{
    uintptr_t a = (uintptr_t)word;
    return &os_park[(a ^ a >> 12) / sizeof *word % OS_PARK_BUCKETS];
}

void gch_os_futex_wait(unsigned *word, unsigned val)
{
    struct os_park *b = os_park_of(word);
    pthread_mutex_lock(&b->mu);
    if (AO_int_load(word) == val)
        pthread_cond_wait(&b->cv, &b->mu);
    pthread_mutex_unlock(&b->mu);
}

void gch_os_futex_wake(unsigned *word)
{
    struct os_park *b = os_park_of(word);
    pthread_mutex_lock(&b->mu);
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}
#endif

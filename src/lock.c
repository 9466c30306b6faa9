// lock.c owns the contended halves of gcheap's mutex (struct gch_mutex; its
// fast paths are inline in internal.h, with its invariants [L1], [L2]). See
// malloc.c for the overview; Go counterpart: lock_futex.go (lock2, unlock2).
//
// The word's protocol is Drepper's mutex 3 ("Futexes Are Tricky", 2011):
//
//   lock, contended  spin: up to LOCK_SPIN rounds of pause-and-look, trying
//                    the CAS 0 -> 1 whenever the word reads 0. The heap's
//                    critical sections are a few hundred instructions, so a
//                    holder running on another CPU is usually gone within
//                    a few rounds, while sleeping costs two system calls
//                    and, on a VM, a wake-up IPI.
//                    sleep: swap 2 into the word (a CAS loop: libatomic_ops
//                    has no exchange). If it was 0 the lock is taken, marked
//                    contended, which costs at most one needless wake-up;
//                    otherwise sleep while the word is 2, then swap again.
//   unlock, 1 -> 0   the inline decrement, nothing else.
//   unlock, 2 -> 1   the decrement leaves 1, which keeps lockers out; the
//                    slow half stores 0 and wakes one sleeper.
//
// No wake-up is lost: a thread sleeps only while the word is 2 (the kernel
// compares and sleeps atomically), and the word becomes 2 only through a
// swap that is followed by a sleep or that took the lock. Every unlock that
// finds 2 wakes a sleeper, which swaps 2 back in, so any other sleeper is
// woken by a later unlock. A spinning thread may take the lock between the
// store of 0 and the wake-up; the woken thread then finds 1, swaps in 2 and
// sleeps again, and the spinner's unlock will wake it.
//
// Ordering: every transition that takes the lock (CAS 0 -> 1 or 0 -> 2) is
// an acquire; the decrement and the store of 0 are releases. The futex calls
// carry no ordering of their own.
#include "internal.h"

// Pause-and-look rounds before sleeping. A PAUSE takes ~10-140 cycles
// (by CPU), so the spin lasts a few microseconds at most: longer than a
// critical section of the heap, shorter than a sleep and wake-up. (glibc's
// adaptive mutex spins up to 100 rounds as well.)
#define LOCK_SPIN 100

// A per-thread address: the [L2] owner tag (GCH_DEBUG >= 2).
static _Thread_local char lock_self;

static inline AO_t lock_self_tag(void)
{
    return (AO_t)&lock_self;
}

// Swaps 2 into the word ([L1]: "held, a sleeper may exist"); returns the
// word it replaced. Acquire: if that was 0, the caller holds the lock.
static unsigned lock_swap_contended(struct gch_mutex *m)
{
    unsigned old = AO_int_load(&m->key);
    for (;;) {
        if (old == 2)
            return 2; // already marked: no store needed
        unsigned seen = AO_int_fetch_compare_and_swap_acquire(&m->key, old, 2);
        if (seen == old)
            return old;
        old = seen;
    }
}

GCH_NOINLINE void gch_mutex_lock_slow(struct gch_mutex *m)
{
    if (GCH_DEBUG >= 2 && AO_load(&m->owner) == lock_self_tag())
        gch_throw("mutex %p: locked twice by the same thread", (void *)m);
    for (int i = 0; i < LOCK_SPIN; i++) {
        gch_spin_pause();
        if (AO_int_load(&m->key) == 0 && AO_int_fetch_compare_and_swap_acquire(&m->key, 0, 1) == 0)
            return;
    }
    while (lock_swap_contended(m) != 0)
        gch_os_futex_wait(&m->key, 2);
}

GCH_NOINLINE void gch_mutex_unlock_slow(struct gch_mutex *m, unsigned old)
{
    if (old != 2)
        gch_throw("mutex %p: unlocked while not locked (word %u)", (void *)m, old);
    AO_int_store_release(&m->key, 0);
    gch_os_futex_wake(&m->key);
}

void gch_mutex_debug_acquired(struct gch_mutex *m)
{
    if (AO_load(&m->owner) != 0)
        gch_throw("mutex %p: taken while its owner tag says it is held", (void *)m);
    AO_store(&m->owner, lock_self_tag());
}

void gch_mutex_debug_releasing(struct gch_mutex *m)
{
    if (AO_load(&m->owner) != lock_self_tag())
        gch_throw("mutex %p: unlocked by a thread that does not hold it", (void *)m);
    AO_store(&m->owner, 0);
}

bool gch_mutex_held(struct gch_mutex *m)
{
    if (GCH_DEBUG >= 2)
        return AO_load(&m->owner) == lock_self_tag();
    return AO_int_load(&m->key) != 0;
}

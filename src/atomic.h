// atomic.h: the one includer of <atomic_ops.h>. Every atomic access in gcheap
// goes through libatomic_ops with its ordering named at the call site:
//   AO_load / AO_store                 relaxed: counters read for statistics
//   AO_load_acquire / AO_store_release publication (phase, sweepgen, hooks)
//   AO_fetch_compare_and_swap_full     ownership transfers (sweepgen) and
//                                      mark words (gc_mark must know whether
//                                      it set the bit, which AO_or cannot say)
//   AO_fetch_and_add                   shared statistics on slow paths only
//   AO_int_fetch_compare_and_swap_acquire, AO_int_fetch_and_sub1_release
//                                      gcheap's mutex (internal.h, lock.c)
// See malloc.c for the overview.
#ifndef GCHEAP_ATOMIC_H
#define GCHEAP_ATOMIC_H

#include <atomic_ops.h>
#include <stdbool.h>

_Static_assert(sizeof(AO_t) == sizeof(void *), "AO_t must be pointer-sized");
_Static_assert(sizeof(AO_t) == 8, "gcheap needs 64-bit atomics (mark words, counters)");

// Atomically sets the bits of mask in *word. Returns true if this call set at
// least one of them (they were all clear before), false if they were
// already set. Used for mark bits, where "newly marked" drives tracing.
static inline bool gch_atomic_set_bits(volatile AO_t *word, AO_t mask)
{
    AO_t old = AO_load(word);
    for (;;) {
        if ((old & mask) == mask)
            return false;
        AO_t seen = AO_fetch_compare_and_swap_full(word, old, old | mask);
        if (seen == old)
            return true;
        old = seen;
    }
}

// Tells the CPU that the thread is spinning on a lock word (x86 PAUSE,
// Arm YIELD): the other hyperthread of the core gets the pipeline, and the
// loop does not flood the memory system with loads. Elsewhere only a
// compiler barrier, so that the word is read again.
static inline void gch_spin_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
    __asm__ __volatile__("yield" ::: "memory");
#else
    AO_compiler_barrier();
#endif
}

// Adds delta (two's complement for subtraction) to a shared statistic.
static inline void gch_atomic_add(volatile AO_t *word, AO_t delta)
{
    (void)AO_fetch_and_add(word, delta);
}

#endif

// os.h: the operating-system layer (src/os.c is the only file that calls
// mmap, mprotect or madvise). See malloc.c for the overview.
//
// Contract: every function takes and returns page-aligned ranges (the OS
// page, 4 KiB on Linux; gcheap's 8 KiB pages are whole OS pages). Failures
// never abort: they return NULL/false with errno = ENOMEM and leave the
// range in its previous state. Thread-safe (the kernel serialises).
#ifndef GCHEAP_OS_H
#define GCHEAP_OS_H

#include <stdbool.h>
#include <stddef.h>

// GCH_OS_FUTEX: the OS can put a thread to sleep on a 32-bit word and wake
// it through that word (Linux futex). Always 0 or 1; a build may force 0 to
// test the fallback (gcheap's mutex then wraps a pthread mutex, lock.c).
#ifndef GCH_OS_FUTEX
#ifdef __linux__
#define GCH_OS_FUTEX 1
#else
#define GCH_OS_FUTEX 0
#endif
#endif

// Internal declarations: hidden (see internal.h).
#pragma GCC visibility push(hidden)

// Reserves size bytes of address space aligned to align (a power of two,
// >= the OS page), inaccessible (PROT_NONE) and not counted as memory.
// Returns NULL if the address space cannot be had.
void *gch_os_reserve(size_t size, size_t align);

// Makes [p, p+size) of a reservation readable and writable. Pages that were
// never committed, or were released, read as zero. Returns false on failure.
bool gch_os_commit(void *p, size_t size);

// Tells the OS it may take back the physical pages of [p, p+size), which stays
// committed and reads as zero afterwards (MADV_DONTNEED).
void gch_os_release(void *p, size_t size);

// Has the kernel back the committed range [p, p+size) with memory now, in
// one call, rather than a page fault per page at first touch
// (MADV_POPULATE_WRITE). A hint: does nothing where unsupported, and a
// failure leaves the pages to fault in as usual. Keeps errno.
// gch_os_populated (tests): the bytes populated since start (0 where the
// kernel has no such advice).
void gch_os_populate(void *p, size_t size);
size_t gch_os_populated(void);

// Returns [p, p+size) to the inaccessible reserved state.
void gch_os_decommit(void *p, size_t size);

// Returns a whole reservation to the OS.
void gch_os_unreserve(void *p, size_t size);

// Advises the kernel to back the reserved range [p, p + size) with
// transparent huge pages (on: MADV_HUGEPAGE) or not to (MADV_NOHUGEPAGE).
// Best effort: returns false, with errno set, where the advice is unknown
// or refused; nothing else changes.
bool gch_os_hugepages(void *p, size_t size, bool on);

// Off-heap metadata: size bytes (rounded up to the OS page), zeroed,
// readable and writable. Returns NULL on failure. Free with gch_os_free.
void *gch_os_alloc(size_t size);
void gch_os_free(void *p, size_t size);

// The OS page size (4096 on Linux/x86-64).
size_t gch_os_page_size(void);

// Futex, for lock.c (only when GCH_OS_FUTEX): gch_os_futex_wait sleeps while
// *word == val, and may return early for any reason (a wake, a signal, the
// word already changed): the caller rechecks. gch_os_futex_wake wakes one
// thread sleeping on word. Process-private; never fails.
void gch_os_futex_wait(unsigned *word, unsigned val);
void gch_os_futex_wake(unsigned *word);

// Fault injection, for tests only: makes the nth call from now of
// gch_os_reserve, gch_os_commit or gch_os_alloc fail (1 = the next one);
// 0 turns it off. gch_os_calls counts those calls since start.
void gch_os_fail_nth(unsigned long n);
unsigned long gch_os_calls(void);

#pragma GCC visibility pop

#endif

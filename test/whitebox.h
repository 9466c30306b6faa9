// whitebox.h: helpers shared by the white-box tests (test_reliability*.c,
// test_pagecache.c), which include src/internal.h: the heap verifier run
// with the lock it wants, as a check.
//
// Only static inline functions and macros, as in util.h.
#ifndef GCHEAP_TEST_WHITEBOX_H
#define GCHEAP_TEST_WHITEBOX_H

#include "../src/internal.h"
#include "util.h"

#define MiB ((size_t)1 << 20)

// Checks the heap's invariants; gch_heap_verify wants gch_gc.lock held.
static inline bool heap_verify(char *why, size_t len)
{
    pthread_mutex_lock(&gch_gc.lock);
    bool ok = gch_heap_verify(why, len);
    pthread_mutex_unlock(&gch_gc.lock);
    return ok;
}

#define CHECK_HEAP(...)                                                      \
    do {                                                                     \
        char why_[512];                                                      \
        CHECK(heap_verify(why_, sizeof why_), "heap verify (%s) failed: %s", \
              chk_format(__VA_ARGS__), why_);                                \
    } while (0)

#endif

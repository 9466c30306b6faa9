// backend.h: the allocator a benchmark program is built against, chosen at
// compile time with exactly one of
//
//   -DBACKEND_GCHEAP=1   gc_alloc (gc_alloc_uninit for bk_alloc_data); the
//                        program supplies the trace and roots
//                        hooks, gcheap paces itself (GOGC=100 unless
//                        GCHEAP_GOGC says otherwise); generational mode
//                        with BENCH_GCHEAP_GENERATIONAL=1
//   -DBACKEND_MALLOC=1   malloc/free; the same object file is linked against
//                        glibc, -lmimalloc, -ljemalloc or -ltcmalloc_minimal,
//                        which replace malloc for the whole program
//   -DBACKEND_BOEHM=1    GC_MALLOC / GC_MALLOC_ATOMIC (bdwgc, conservative,
//                        its own pacing)
//
// The programs are written once against bk_alloc / bk_alloc_data / bk_free: the GC backends
// ignore bk_free, the malloc backend ignores has_ptrs. Each program ends by
// printing one line the runner parses:
//
//   RESULT checksum=N gcs=N gc_ms=X allocator=NAME
//
// gcs and gc_ms are "-" where the backend has no collector.
#ifndef BENCH_BACKEND_H
#define BENCH_BACKEND_H

#ifndef BACKEND_GCHEAP
#define BACKEND_GCHEAP 0
#endif
#ifndef BACKEND_MALLOC
#define BACKEND_MALLOC 0
#endif
#ifndef BACKEND_BOEHM
#define BACKEND_BOEHM 0
#endif
#if BACKEND_GCHEAP + BACKEND_MALLOC + BACKEND_BOEHM != 1
#error "build with exactly one of -DBACKEND_GCHEAP=1, -DBACKEND_MALLOC=1, -DBACKEND_BOEHM=1"
#endif

// dladdr (malloc backend); must precede every system header, so backend.h
// is the first include of each program.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#if BACKEND_GCHEAP
#include <gcheap.h>
#elif BACKEND_BOEHM
#define GC_THREADS 1 // before gc.h: pthread_create becomes GC_pthread_create
#include <gc/gc.h>
#include <pthread.h>
#else
#include <dlfcn.h>
#endif

static inline void bk_init(void)
{
#if BACKEND_GCHEAP
    // bench/run.sh's gcheap-gen backend. The programs store pointers only
    // into objects they have just allocated, so they need no write barrier.
    const char *gen = getenv("BENCH_GCHEAP_GENERATIONAL");
    if (gen != NULL && atoi(gen) == 1)
        gc_set_generational(true);
#endif
#if BACKEND_BOEHM
    GC_INIT();
    GC_start_performance_measurement();
#endif
}

__attribute__((noreturn, cold, noinline)) static void bk_out_of_memory(size_t size)
{
    fprintf(stderr, "bench: out of memory allocating %zu bytes\n", size);
    exit(1);
}

// Zeroed for the GC backends (they must be: a collector may look at the
// fields before the program writes them); malloc's memory is not, so the
// programs initialise every field they later read.
static inline void *bk_alloc(size_t size, bool has_ptrs)
{
    void *p;
#if BACKEND_GCHEAP
    p = gc_alloc(size, has_ptrs);
#elif BACKEND_BOEHM
    p = has_ptrs ? GC_MALLOC(size) : GC_MALLOC_ATOMIC(size);
#else
    (void)has_ptrs;
    p = malloc(size);
#endif
    if (p == NULL)
        bk_out_of_memory(size);
    return p;
}

// A pointer-free object that the program writes before it reads: not
// zeroed where the backend need not (gcheap's gc_alloc_uninit, Boehm's
// GC_MALLOC_ATOMIC, malloc).
static inline void *bk_alloc_data(size_t size)
{
    void *p;
#if BACKEND_GCHEAP
    p = gc_alloc_uninit(size);
#elif BACKEND_BOEHM
    p = GC_MALLOC_ATOMIC(size);
#else
    p = malloc(size);
#endif
    if (p == NULL)
        bk_out_of_memory(size);
    return p;
}

static inline void bk_free(void *p)
{
#if BACKEND_MALLOC
    free(p);
#else
    (void)p;
#endif
}

// Memory the program keeps its own references in (the alloc_throughput
// rings): the conservative collector must scan it, and must not free it.
static inline void *bk_alloc_roots(size_t size)
{
#if BACKEND_BOEHM
    void *p = GC_MALLOC_UNCOLLECTABLE(size);
#else
    void *p = calloc(1, size);
#endif
    if (p == NULL) {
        fprintf(stderr, "bench: out of memory allocating %zu bytes of roots\n", size);
        exit(1);
    }
    return p;
}

// The RESULT line (see the top).
#if BACKEND_GCHEAP
// GC time as the host measured it (its safepoints, when marking runs on
// several threads outside gc_collect), else 0: gcheap's pause_total_ns.
static uint64_t bk_gc_ns_host;
#endif

static inline void bk_report(uint64_t checksum)
{
#if BACKEND_GCHEAP
    gc_stats st;
    gc_get_stats(&st);
    uint64_t gc_ns = bk_gc_ns_host != 0 ? bk_gc_ns_host : st.pause_total_ns;
    printf("RESULT checksum=%llu gcs=%llu gc_ms=%.1f allocator=gcheap\n",
           (unsigned long long)checksum, (unsigned long long)st.num_gc, (double)gc_ns / 1e6);
#elif BACKEND_BOEHM
    printf("RESULT checksum=%llu gcs=%lu gc_ms=%lu allocator=bdwgc-%d.%d.%d\n",
           (unsigned long long)checksum, (unsigned long)GC_get_gc_no(), GC_get_full_gc_total_time(),
           GC_VERSION_MAJOR, GC_VERSION_MINOR, GC_VERSION_MICRO);
#else
    // Which library's malloc the program is really calling: a check that
    // the link put mimalloc/jemalloc/tcmalloc in front of glibc.
    Dl_info info;
    const char *lib = "?";
    void *fn = dlsym(RTLD_DEFAULT, "malloc");
    if (fn != NULL && dladdr(fn, &info) != 0 && info.dli_fname != NULL) {
        lib = info.dli_fname;
        for (const char *s = lib; *s != '\0'; s++) {
            if (*s == '/')
                lib = s + 1;
        }
    }
    printf("RESULT checksum=%llu gcs=- gc_ms=- allocator=%s\n", (unsigned long long)checksum, lib);
#endif
    fflush(stdout);
}

#endif // BENCH_BACKEND_H

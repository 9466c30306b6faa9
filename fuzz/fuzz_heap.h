// fuzz_heap.h: what the fuzz target's two files share: the bounds, the
// model of the heap (model.c) and the checks the operations (fuzz_heap.c)
// call. The design and the input format are at the top of fuzz_heap.c.
#ifndef FUZZ_HEAP_H
#define FUZZ_HEAP_H

#include "../src/internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_MAX_OPS   2048
#define FUZZ_MAX_OBJS  4096
#define FUZZ_MAX_BYTES ((size_t)24 << 20)
#define FUZZ_LARGE_MAX ((size_t)1 << 20)
#define FUZZ_MAX_SLOTS 8
#define FUZZ_NROOTS    64
#define FUZZ_HASH_BITS 13 // 8192 entries: at most half full
#define FUZZ_HASH_SIZE ((size_t)1 << FUZZ_HASH_BITS)
// Pattern windows: the first, middle and last bytes of an object carry its
// pattern; checking every byte of a 1 MiB object at every cycle would make
// large objects dominate the run time.
#define FUZZ_WINDOW 64

_Static_assert(FUZZ_HASH_SIZE >= 2 * FUZZ_MAX_OBJS, "the object index must stay half empty");

enum obj_kind { KIND_TINY, KIND_NOSCAN, KIND_SCAN };

// One allocated object of the model.
//   base == p for non-tiny objects; the 16-byte block for tiny ones.
//   ext == gc_size: class size, whole pages, or 16 for a tiny block.
//   slot[k] == the word at p + 8k (k < nslots); slot_key[k] is the pointer
//   gc_alloc returned for the target (0 for NULL), the key of the index.
struct obj {
    uintptr_t p;
    uintptr_t base;
    size_t size;
    size_t ext;
    uint64_t tag;
    uint8_t kind;
    uint8_t nslots;
    bool marked; // manual mark phase: marked by the host or traced
    bool black;  // allocated during the current mark phase
    bool live;   // scratch of the cycle check
    uintptr_t slot[FUZZ_MAX_SLOTS];
    uintptr_t slot_key[FUZZ_MAX_SLOTS];
};

enum cycle_kind { CYCLE_COLLECT, CYCLE_SWEEP, CYCLE_AUTO };

struct fuzz_model {
    struct obj objs[FUZZ_MAX_OBJS];
    size_t n;
    int32_t index[FUZZ_HASH_SIZE]; // p -> object number + 1; 0 = empty
    // Read word by word by gc_mark_range, so it must be pointer-sized.
    uintptr_t root_val[FUZZ_NROOTS]; // what the roots hook marks
    uintptr_t root_key[FUZZ_NROOTS]; // p of the object root_val points into
    bool marking;                    // a manual mark phase is open
    bool host_traces;                // no trace hook: the host traces
    bool roots_by_range;             // the roots hook uses gc_mark_range
    bool gen;                        // generational mode (knob); changed
                                     // only outside mark phases
    bool gen_cycles;                 // gen was on at the end of the last
                                     // cycle: the next may be minor
    uint64_t num_gc, num_minor_gc;   // gc_get_stats at the last check
    size_t bytes;                    // allocated by this input, at extent
    unsigned roots_calls;
    unsigned long fault_at; // gch_os_calls() at which the injected fault fires
    uint64_t next_tag;
    size_t opno;
    const char *opname;
    bool trace_ops;
};
extern struct fuzz_model model;

// Worklist of the model's closure (model.c, fuzz_heap.c).
extern size_t work[FUZZ_MAX_OBJS];

// Reports a failed check (operation, message, model summary) and aborts.
__attribute__((format(printf, 1, 2), noreturn)) void fuzz_fail(const char *fmt, ...);
// With FUZZ_HEAP_TRACE=1, prints one line about the current operation.
__attribute__((format(printf, 1, 2))) void fuzz_log(const char *fmt, ...);

static inline uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

// ------------------------------------------------------------- model.c

// The model object whose gc_alloc pointer is p, or -1.
long index_find(uintptr_t p);
// Adds, or rebuilds from the table, the index of the objects' pointers.
void index_insert(size_t i);
void index_rebuild(void);
// The object a stored key names; the model never keeps a key to a freed
// object, so a miss is a bug of the target itself.
struct obj *obj_of_key(uintptr_t key, const char *what);
// Writes (write) or checks the pattern windows of o outside its slots.
// Returns the first offset that differs, or SIZE_MAX.
size_t obj_pattern(const struct obj *o, bool write);
// Stores v (a pointer into the object key) into slot k of o, in memory and
// in the model, with the write barrier where gcheap.h asks for one.
void obj_store_slot(struct obj *o, unsigned k, uintptr_t v, uintptr_t key);
const char *kind_name(const struct obj *o); // "tiny", "scan", "noscan"
// The usable size gcheap must give a request, computed from the class
// table by search (not by its lookup tables).
size_t expected_extent(size_t size, bool scan);
// The model's answer for gc_base(a): the unit (object or tiny block)
// holding a. Returns false if no model object holds a.
bool model_unit_at(uintptr_t a, uintptr_t *base, size_t *ext);
// The trace and roots hooks, and the heap verifier run under gch_gc.lock.
void fuzz_trace(void *obj, size_t size, void *ctx);
// gc_mark without a trace hook: the host walks what gc_mark newly marks.
bool host_mark(uintptr_t v);
void fuzz_roots(void *ctx);
void fuzz_verify(const char *when);
// Checks the heap after a cycle of the given kind and drops what it freed.
// For CYCLE_AUTO, [qbase, qbase + qext) is the object gc_alloc returned
// after collecting: it may reuse a freed object's memory, so dead objects
// overlapping it are dropped unchecked.
void model_check_cycle(enum cycle_kind kind, uintptr_t qbase, size_t qext);

#endif

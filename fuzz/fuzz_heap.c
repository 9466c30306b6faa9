// fuzz_heap.c: a libFuzzer target that decodes its input as a sequence of
// heap operations, runs them against gcheap and checks every collection
// against a reachability model of its own. See src/malloc.c for gcheap's
// overview and fuzz/README.md for building and running.
//
// THE MODEL
//
// The target keeps a table of the objects it allocated (pointer, requested
// size, usable extent, kind, a tag from which a byte pattern is derived, and
// its own copy of the object's pointer slots), a root table of 64 words that
// its roots hook marks, and, during a manual mark phase, which objects it
// has marked (with their closure) and which were born black. After every
// cycle -- gc_collect, gc_sweep, or an automatic collection inside gc_alloc,
// seen as a call of the roots hook -- it computes the live set:
//
//   collect:  closure(roots ∪ marked ∪ born black)
//   sweep:    closure(marked ∪ born black)
//
// and checks: every live object is still allocated (gc_base and gc_size
// answer for it) with its pattern and slots intact; every other non-tiny
// object is freed (gc_base == NULL) and leaves the model, so its address
// may be reused; gch_heap_verify is clean.
//
// Generational mode (a knob): the host calls gc_write_barrier after every
// slot store outside a mark phase. When only minor cycles ran since the last
// check, an unreachable non-tiny object may still be allocated (old and
// dead): the target checks its pattern, clears its slots (they may name
// freed objects) and keeps it in the model as an unreachable object; a major
// cycle must free it. In a minor mark phase gc_mark answers false for old
// objects, which the model then counts as marked, closure included.
//
// Tiny objects share 16-byte blocks, and a thread's current block survives
// every mark phase, so a tiny object whose block holds nothing reachable
// may still be allocated: for them the target checks only "reachable =>
// allocated" and keeps them in the model while gc_base says the block
// lives. Since every input starts from an empty heap, the model knows every
// object: gc_base must answer NULL, and gc_mark false, for any address
// outside them.
//
// The host side follows the protocol of gcheap.h: the roots hook marks the
// whole root table, so every object the model may still use is reachable
// at every allocation (any gc_alloc may collect); no pointer is written
// during a mark phase unless its target is already marked or born black;
// hooks are changed only outside collections. Without a trace hook (a knob
// of the input) the host traces itself from gc_mark's "newly marked".
//
// INPUT FORMAT (little-endian; a missing byte reads as 0)
//
//   op byte, low 4 bits:
//     0-2  alloc   flags(1) size(...)           flags: bit 0 scan, bits 1-3
//                                               size selector, bits 4-7 slots
//                                               (noscan: bit 4 gc_alloc_uninit)
//     3    burst   flags(1) count(1) size(...) root(1): 1 + count % 64 objects;
//                  flags bit 4 chains them (slot 0 = previous) under root
//     4-5  store   obj(2) slot(1) target(2) how(1): target 0xffff = NULL
//     6-7  root    slot(1) obj(2) how(1)
//     8    unroot  slot(1)
//     9-10 mark    sub(1) ...: a root, an interior pointer, a random word,
//                  an edge address, NULL, or gc_mark_range over the roots
//     11   sweep   gc_sweep
//     12   collect gc_collect
//     13-14 query  sub(1) ...: gc_base/gc_size of random words, interior
//                  pointers, one past the end, foreign memory
//     15   knob    sub(1) value(1): GOGC, trace hook on/off, roots by
//                  gc_mark_range, mark-stack limit, verify, drop all roots,
//                  make the nth OS call from now fail (gch_os_fail_nth),
//                  generational mode on/off
//
// Bounds per input: 2048 operations, 4096 objects, 24 MiB allocated. Every
// input ends with the mark phase closed, generational mode off, a checked
// gc_collect, and a checked gc_collect with no roots, so the next input
// starts from an empty heap.
//
// FUZZ_HEAP_TRACE=1 in the environment prints each operation on stderr
// (for reading a crash input).
#include "fuzz_heap.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t zeros[4096];

// ------------------------------------------------------------------ input

struct reader {
    const uint8_t *p;
    size_t n;
};

static uint8_t rd8(struct reader *r)
{
    if (r->n == 0)
        return 0;
    r->n--;
    return *r->p++;
}
static uint16_t rd16(struct reader *r)
{
    uint16_t lo = rd8(r);
    return (uint16_t)(lo | (uint16_t)rd8(r) << 8);
}
static uint32_t rd32(struct reader *r)
{
    uint32_t lo = rd16(r);
    return lo | (uint32_t)rd16(r) << 16;
}
static uint64_t rd64(struct reader *r)
{
    uint64_t lo = rd32(r);
    return lo | (uint64_t)rd32(r) << 32;
}

// ------------------------------------------------------------- operations

static struct obj *pick(struct reader *r)
{
    uint16_t v = rd16(r);
    return model.n == 0 ? NULL : &model.objs[v % model.n];
}

// A pointer into o chosen by how: its own pointer, or any byte of its unit.
static uintptr_t pointer_into(const struct obj *o, uint8_t how)
{
    if (how < 128)
        return o->p;
    return o->base + (uintptr_t)mix64(how) % o->ext;
}

static size_t read_size(struct reader *r, unsigned sel)
{
    static const size_t edges[] = {0,     1,     7,     8,     9,     15,    16,     17,
                                   24,    25,    32,    33,    48,    1016,  1017,   1024,
                                   1025,  1152,  8192,  8193,  16384, 27264, 28672,  32767,
                                   32768, 32769, 40960, 65536, 65537, 81920, 1048576};
    switch (sel & 7) {
    case 0:
    case 1:
        return 1 + rd8(r) % 15;
    case 2:
        return 16 + rd8(r);
    case 3:
        return 1 + rd16(r) % 1024;
    case 4:
        return 1 + rd16(r) % GCH_MAX_SMALL_SIZE;
    case 5:
        return edges[rd8(r) % (sizeof edges / sizeof edges[0])];
    case 6:
        return GCH_MAX_SMALL_SIZE + 1 + rd32(r) % (FUZZ_LARGE_MAX - GCH_MAX_SMALL_SIZE);
    default: {
        uint8_t pages = rd8(r);
        return pages == 0 ? 0 : (size_t)(1 + pages % 128) * GCH_PAGE_SIZE;
    }
    }
}

// Allocates, checks the new object and adds it to the model. Returns its
// number (valid until the next allocation or cycle), or -1 if the input's
// budget is spent or size is 0. uninit (noscan only): gc_alloc_uninit,
// whose objects of 16 bytes and more need not be zeroed.
static long fuzz_alloc(size_t size, bool scan, unsigned want_slots, bool uninit)
{
    bool tiny = !scan && size > 0 && size < GCH_TINY_SIZE;
    size_t ext = expected_extent(size, scan);
    if (model.n == FUZZ_MAX_OBJS || model.bytes + ext > FUZZ_MAX_BYTES)
        return -1;
    unsigned calls = model.roots_calls;
    unsigned long os_calls = gch_os_calls();
    errno = 0;
    void *q = uninit ? gc_alloc_uninit(size) : gc_alloc(size, scan);
    // NULL only for ENOMEM from an injected OS failure during this call; the
    // heap must stay usable (and whatever it collected on the way, correct).
    int err = errno;
    if (q == NULL &&
        (err != ENOMEM || model.fault_at <= os_calls || model.fault_at > gch_os_calls()))
        fuzz_fail("gc_alloc(%zu, %d) returned NULL (errno %d)", size, scan, err);
    uintptr_t qp = (uintptr_t)q;
    uintptr_t qbase = tiny ? qp & ~(uintptr_t)(GCH_TINY_SIZE - 1) : qp;
    if (model.roots_calls != calls) {
        if (model.marking)
            fuzz_fail("gc_alloc collected during a mark phase");
        fuzz_log("automatic collection");
        model_check_cycle(CYCLE_AUTO, qbase, q != NULL ? ext : 0);
    }
    if (q == NULL) {
        fuzz_log("alloc %zu: NULL after the injected OS failure", size);
        return -1;
    }
    if (size == 0) {
        if (gc_base(q) != NULL || gc_size(q) != 0)
            fuzz_fail("gc_alloc(0) = %p is a heap object (gc_base %p)", q, gc_base(q));
        return -1;
    }
    model.bytes += ext;

    // Alignment (gcheap.h), placement, size, zeroing.
    size_t align;
    if (tiny)
        align = size % 8 == 0 ? 8 : size % 4 == 0 ? 4 : size % 2 == 0 ? 2 : 1;
    else if (size > GCH_MAX_SMALL_SIZE)
        align = GCH_PAGE_SIZE;
    else
        align = ext % 16 == 0 ? 16 : 8;
    if (qp % align != 0)
        fuzz_fail("gc_alloc(%zu, %d) = %p is not %zu-byte aligned", size, scan, q, align);
    void *b = gc_base(q);
    size_t sz = gc_size(q);
    if (b != (void *)qbase || sz != ext)
        fuzz_fail("gc_alloc(%zu, %d) = %p: gc_base %p gc_size %zu, want %p %zu", size, scan, q, b,
                  sz, (void *)qbase, ext);
    if (tiny && qp + size > qbase + GCH_TINY_SIZE)
        fuzz_fail("tiny gc_alloc(%zu) = %p crosses its block %p", size, q, (void *)qbase);
    for (size_t off = 0; off < size && (!uninit || tiny); off += sizeof zeros) {
        size_t chunk = size - off < sizeof zeros ? size - off : sizeof zeros;
        if (memcmp((char *)q + off, zeros, chunk) != 0)
            fuzz_fail("gc_alloc(%zu, %d) = %p is not zeroed near offset %zu", size, scan, q, off);
    }
    if (index_find(qp) >= 0)
        fuzz_fail("gc_alloc returned %p, a live object of the model", q);
    if (tiny) {
        for (uintptr_t a = qbase; a < qbase + GCH_TINY_SIZE; a++) {
            long i = index_find(a);
            if (i >= 0 && a < qp + size && qp < a + model.objs[i].size)
                fuzz_fail("tiny gc_alloc(%zu) = %p overlaps live tiny object %p (size %zu)", size,
                          q, (void *)a, model.objs[i].size);
        }
    }

    size_t i = model.n++;
    struct obj *o = &model.objs[i];
    memset(o, 0, sizeof *o);
    o->p = qp;
    o->base = qbase;
    o->size = size;
    o->ext = ext;
    o->tag = mix64(model.next_tag++);
    o->kind = tiny ? KIND_TINY : scan ? KIND_SCAN : KIND_NOSCAN;
    size_t fit = size / sizeof(uintptr_t);
    o->nslots = (uint8_t)(!scan ? 0 : want_slots < fit ? want_slots : fit);
    if (o->nslots > FUZZ_MAX_SLOTS)
        o->nslots = FUZZ_MAX_SLOTS;
    o->black = model.marking;
    obj_pattern(o, true);
    index_insert(i);
    fuzz_log("alloc%s %zu %s -> %p (extent %zu, %u slots)%s", uninit ? "-uninit" : "", size,
             kind_name(o), q, ext, o->nslots, o->black ? " black" : "");
    return (long)i;
}

static void op_alloc(struct reader *r)
{
    uint8_t flags = rd8(r);
    size_t size = read_size(r, flags >> 1);
    bool scan = flags & 1;
    (void)fuzz_alloc(size, scan, flags >> 4, !scan && (flags >> 4) & 1);
}

// count+1 objects of one size; chained: each one's slot 0 holds the previous
// one and a root holds the newest, so the chain is reachable at every
// allocation.
static void op_burst(struct reader *r)
{
    uint8_t flags = rd8(r);
    unsigned count = 1 + rd8(r) % 64;
    size_t size = read_size(r, flags >> 1);
    int root = rd8(r) % FUZZ_NROOTS;
    bool chain = flags & 0x10;
    uintptr_t prev = 0;
    fuzz_log("burst of %u x %zu, %s%s", count, size, flags & 1 ? "scan" : "noscan",
             chain ? ", chained" : "");
    for (unsigned n = 0; n < count; n++) {
        long i = fuzz_alloc(size, flags & 1, 1, false);
        if (i < 0)
            return;
        struct obj *o = &model.objs[i];
        if (!chain)
            continue;
        if (prev != 0 && o->nslots > 0)
            obj_store_slot(o, 0, prev, prev);
        prev = o->p;
        model.root_val[root] = model.root_key[root] = o->p;
    }
}

static void op_store(struct reader *r)
{
    struct obj *o = pick(r);
    unsigned k = rd8(r) % FUZZ_MAX_SLOTS;
    uint16_t t = rd16(r);
    uint8_t how = rd8(r);
    if (o == NULL || k >= o->nslots)
        return;
    if (t == 0xffff) {
        fuzz_log("store %p[%u] = NULL", (void *)o->p, k);
        obj_store_slot(o, k, 0, 0);
        return;
    }
    const struct obj *j = &model.objs[t % model.n];
    // No write barrier: during a mark phase only targets that are already
    // live for this cycle may be stored (gcheap.h: no pointer writes while
    // marking).
    if (model.marking && !j->marked && !j->black)
        return;
    uintptr_t v = pointer_into(j, how);
    fuzz_log("store %p[%u] = %p (object %p)", (void *)o->p, k, (void *)v, (void *)j->p);
    obj_store_slot(o, k, v, j->p);
}

static void op_root(struct reader *r)
{
    int root = rd8(r) % FUZZ_NROOTS;
    const struct obj *o = pick(r);
    uint8_t how = rd8(r);
    if (o == NULL)
        return;
    model.root_val[root] = pointer_into(o, how);
    model.root_key[root] = o->p;
    fuzz_log("root[%d] = %p (object %p)", root, (void *)model.root_val[root], (void *)o->p);
}

static void op_unroot(struct reader *r)
{
    int root = rd8(r) % FUZZ_NROOTS;
    model.root_val[root] = model.root_key[root] = 0;
    fuzz_log("root[%d] = NULL", root);
}

// The model's side of marking from o (trace): what the library marks
// through the trace hook (or the host through gc_mark's answer).
static void model_trace_from(size_t i)
{
    size_t len = 0;
    work[len++] = i;
    while (len > 0) {
        const struct obj *o = &model.objs[work[--len]];
        for (unsigned k = 0; k < o->nslots; k++) {
            if (o->slot_key[k] == 0)
                continue;
            struct obj *t = obj_of_key(o->slot_key[k], "slot");
            if (t->marked || t->black)
                continue; // born black: gc_mark refuses it, nothing traced
            t->marked = true;
            if (t->kind == KIND_SCAN)
                work[len++] = (size_t)(t - model.objs);
        }
    }
}

// The model's side of gc_mark(a) in a manual mark phase; checks gc_mark's
// answer ret unless check is false (gc_mark_range).
static void model_mark(uintptr_t a, bool ret, bool check)
{
    bool found = false, tiny_was_marked = false, tiny_found = false;
    for (size_t i = 0; i < model.n; i++) {
        struct obj *o = &model.objs[i];
        if (a - o->base >= o->ext)
            continue;
        found = true;
        if (o->kind == KIND_TINY) {
            tiny_found = true;
            tiny_was_marked |= o->marked || o->black;
            o->marked = true;
            continue;
        }
        bool want = !o->marked && !o->black;
        // In a minor cycle gc_mark answers false for old objects, which
        // survive with their closure: the model counts them as marked.
        bool old = model.gen_cycles && !ret && want;
        if (check && ret != want && !old)
            fuzz_fail("gc_mark(%p) into %s object %p (%s) returned %d, want %d", (void *)a,
                      kind_name(o), (void *)o->p,
                      o->black    ? "born black"
                      : o->marked ? "marked"
                                  : "unmarked",
                      ret, want);
        if (want) {
            o->marked = true;
            if (o->kind == KIND_SCAN)
                model_trace_from(i);
        }
    }
    if (check && tiny_found && tiny_was_marked && ret)
        fuzz_fail("gc_mark(%p) into a marked tiny block returned true", (void *)a);
    if (check && !found && ret)
        fuzz_fail("gc_mark(%p), outside every object, returned true", (void *)a);
}

static void model_begin_mark(void)
{
    if (model.marking)
        return;
    for (size_t i = 0; i < model.n; i++) {
        if (model.objs[i].marked || model.objs[i].black)
            fuzz_fail("model: object %p marked outside a mark phase", (void *)model.objs[i].p);
    }
    model.marking = true;
}

static void op_mark(struct reader *r)
{
    unsigned sub = rd8(r) % 6;
    uintptr_t a = 0;
    const struct obj *o;
    if (sub == 5 && model.host_traces)
        sub = 0; // gc_mark_range cannot tell the host what to trace
    switch (sub) {
    case 0:
        a = model.root_val[rd8(r) % FUZZ_NROOTS];
        break;
    case 1:
        o = pick(r);
        a = o ? o->base + rd16(r) % o->ext : 0;
        break;
    case 2:
        a = (uintptr_t)rd64(r);
        break;
    case 3: {
        uint8_t how = rd8(r);
        o = pick(r);
        if (o != NULL)
            a = how % 3 == 0 ? o->base + o->ext : how % 3 == 1 ? o->p + o->size : o->base - 1;
        break;
    }
    case 4:
        break;
    default: {
        unsigned lo = rd8(r) % FUZZ_NROOTS, hi = rd8(r) % (FUZZ_NROOTS + 1);
        fuzz_log("gc_mark_range(roots[%u..%u))", lo, hi);
        // An empty or inverted range does nothing: no mark phase begins.
        uint64_t phase = AO_load(&gch_gc.phase);
        gc_mark_range(&model.root_val[lo], &model.root_val[hi]);
        if (lo >= hi) {
            if (AO_load(&gch_gc.phase) != phase)
                fuzz_fail("an empty gc_mark_range changed the phase");
            return;
        }
        model_begin_mark();
        for (unsigned k = lo; k < hi; k++)
            model_mark(model.root_val[k], false, false);
        return;
    }
    }
    model_begin_mark();
    bool ret = model.host_traces ? host_mark(a) : gc_mark((void *)a);
    fuzz_log("gc_mark(%p) = %d", (void *)a, ret);
    if (AO_load(&gch_gc.phase) != GCH_PHASE_MARK)
        fuzz_fail("gc_mark did not begin a mark phase");
    model_mark(a, ret, true);
}

static void op_sweep(void)
{
    fuzz_log("gc_sweep");
    model_begin_mark(); // gc_sweep outside a phase runs an empty one
    gc_sweep();
    model_check_cycle(CYCLE_SWEEP, 0, 0);
}

static void op_collect(void)
{
    fuzz_log("gc_collect");
    unsigned calls = model.roots_calls;
    gc_collect();
    // In generational mode a minor cycle that leaves the heap at its goal
    // is followed by a major one (gcheap.h, gc_collect).
    unsigned want = model.gen_cycles ? 2 : 1;
    if (model.roots_calls - calls < 1 || model.roots_calls - calls > want)
        fuzz_fail("gc_collect called the roots hook %u times", model.roots_calls - calls);
    // The second cycle begins from the roots alone: what the host marked in
    // its open mark phase, or allocated black in it, now lives only if the
    // roots reach it.
    if (model.roots_calls - calls == 2)
        model.marking = false;
    model_check_cycle(CYCLE_COLLECT, 0, 0);
}

static int query_local; // an address outside the heap

static void op_query(struct reader *r)
{
    unsigned sub = rd8(r) % 8;
    uintptr_t a = 0;
    const struct obj *o = sub >= 1 && sub <= 5 ? pick(r) : NULL;
    void *heap_ptr = NULL;
    switch (sub) {
    case 0:
        a = (uintptr_t)rd64(r);
        break;
    case 1:
        a = o ? o->base + rd32(r) % o->ext : 0;
        break;
    case 2:
        a = o ? o->base + o->ext : 0;
        break;
    case 3:
        a = o ? o->base - 1 : 0;
        break;
    case 4:
        a = o ? o->p + o->size : 0;
        break;
    case 5: // around the object: neighbours, other spans, free pages
        a = o ? o->base + rd32(r) % (2 * FUZZ_LARGE_MAX) - FUZZ_LARGE_MAX : 0;
        break;
    case 6: {
        heap_ptr = malloc(64);
        uintptr_t special[] = {
            0,
            1,
            (uintptr_t)&query_local,
            (uintptr_t)heap_ptr,
            (uintptr_t)&model,
            (uintptr_t)&fuzz_trace,
            (uintptr_t)gc_alloc(0, true),
            (uintptr_t)&gch_mheap,
            UINTPTR_MAX,
            ((uintptr_t)1 << 47) - 1,
            (uintptr_t)1 << 47,
            (uintptr_t)1 << 48,
            (uintptr_t)1 << 63,
        };
        a = special[rd8(r) % (sizeof special / sizeof special[0])];
        break;
    }
    default: { // the arena and page of a model object, at any offset
        o = pick(r);
        uint32_t off = rd32(r);
        if (o != NULL)
            a = (o->base & ~(GCH_ARENA_BYTES - 1)) + off % GCH_ARENA_BYTES;
        break;
    }
    }
    void *b = gc_base((void *)a);
    size_t sz = gc_size((void *)a);
    free(heap_ptr);
    uintptr_t want_b = 0;
    size_t want_sz = 0;
    fuzz_log("gc_base(%p) = %p, gc_size = %zu", (void *)a, b, sz);
    if (model_unit_at(a, &want_b, &want_sz)) {
        if (b != (void *)want_b || sz != want_sz)
            fuzz_fail("gc_base(%p) = %p, gc_size = %zu; want %p, %zu", (void *)a, b, sz,
                      (void *)want_b, want_sz);
    } else if (b != NULL || sz != 0) {
        fuzz_fail("gc_base(%p) = %p, gc_size = %zu, outside every object of the model", (void *)a,
                  b, sz);
    }
}

static void op_knob(struct reader *r)
{
    unsigned sub = rd8(r) % 8;
    uint8_t v = rd8(r);
    switch (sub) {
    case 0:
        fuzz_log("GOGC %d", v == 255 ? -1 : v % 201);
        gc_set_gogc(v == 255 ? -1 : v % 201);
        break;
    case 1:
        if (model.marking)
            break; // hooks change only outside collections
        model.host_traces = !model.host_traces;
        fuzz_log("%s", model.host_traces ? "host traces" : "trace hook");
        gc_set_trace(model.host_traces ? NULL : fuzz_trace, NULL);
        break;
    case 2:
        model.roots_by_range = !model.roots_by_range;
        break;
    case 3: // small stacks exercise the overflow rescan
        gch_gcwork_limit = v >= 16 ? SIZE_MAX : v;
        fuzz_log("mark stack limit %zu", gch_gcwork_limit);
        break;
    case 4:
        fuzz_verify("between operations");
        break;
    case 5:
        fuzz_log("drop all roots");
        memset(model.root_val, 0, sizeof model.root_val);
        memset(model.root_key, 0, sizeof model.root_key);
        break;
    case 6: // the failure may hit heap growth, bitmaps, mark stacks...
        model.fault_at = gch_os_calls() + 1 + v % 32;
        gch_os_fail_nth(1 + v % 32);
        fuzz_log("OS call %lu will fail", model.fault_at);
        break;
    default:
        if (model.marking)
            break; // gc_set_generational: while no collection runs
        model.gen = !model.gen;
        fuzz_log("generational %s", model.gen ? "on" : "off");
        gc_set_generational(model.gen);
        break;
    }
}

// ------------------------------------------------------------ entry points

// Closes the input's work with checked cycles and leaves an empty heap and
// the default knobs for the next one.
static void fuzz_finish(void)
{
    model.opname = "end of input";
    if (model.marking)
        op_sweep();
    // The next cycle is major, so the checks below are exact.
    gc_set_generational(false);
    model.gen = false;
    op_collect();
    memset(model.root_val, 0, sizeof model.root_val);
    memset(model.root_key, 0, sizeof model.root_key);
    gc_set_gogc(100);
    op_collect();
    for (size_t i = 0; i < model.n; i++) {
        if (model.objs[i].kind != KIND_TINY)
            fuzz_fail("object %p survived a collection without roots", (void *)model.objs[i].p);
    }
    model.n = 0;
    index_rebuild();
    model.host_traces = false;
    model.roots_by_range = false;
    gc_set_trace(fuzz_trace, NULL);
    gch_gcwork_limit = SIZE_MAX;
    gch_os_fail_nth(0);
    model.fault_at = 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    // Freed slots are filled with 0xDB: a use after free reads garbage.
    setenv("GCHEAP_DEBUG", "poison=1", 0);
    const char *t = getenv("FUZZ_HEAP_TRACE");
    model.trace_ops = t != NULL && *t != '\0' && *t != '0';
    gc_set_trace(fuzz_trace, NULL);
    gc_set_roots(fuzz_roots, NULL);
    gc_collect();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[16] = {"alloc",   "alloc", "alloc",  "burst", "store", "store",
                                          "root",    "root",  "unroot", "mark",  "mark",  "sweep",
                                          "collect", "query", "query",  "knob"};
    struct reader r = {data, size};
    model.bytes = 0;
    model.next_tag = 1;
    if (model.trace_ops)
        fprintf(stderr, "fuzz_heap: input of %zu bytes\n", size);
    for (model.opno = 0; r.n > 0 && model.opno < FUZZ_MAX_OPS; model.opno++) {
        unsigned op = rd8(&r) & 15;
        model.opname = names[op];
        switch (op) {
        case 0:
        case 1:
        case 2:
            op_alloc(&r);
            break;
        case 3:
            op_burst(&r);
            break;
        case 4:
        case 5:
            op_store(&r);
            break;
        case 6:
        case 7:
            op_root(&r);
            break;
        case 8:
            op_unroot(&r);
            break;
        case 9:
        case 10:
            op_mark(&r);
            break;
        case 11:
            op_sweep();
            break;
        case 12:
            op_collect();
            break;
        case 13:
        case 14:
            op_query(&r);
            break;
        default:
            op_knob(&r);
            break;
        }
    }
    fuzz_finish();
    return 0;
}

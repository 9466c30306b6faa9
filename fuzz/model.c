// model.c: the fuzz target's model of the heap: its object table and index,
// object contents and patterns, the expected extents, the hooks, and the
// check after every cycle. See fuzz_heap.c for the design.
#include "fuzz_heap.h"

struct fuzz_model model;

// Worklists of the model's closure and of host tracing. An object enters
// at most once per cycle, so these bounds hold.
size_t work[FUZZ_MAX_OBJS];
static uintptr_t host_work[2 * FUZZ_MAX_OBJS + 64];

// Live tiny blocks during a cycle check (open addressing, generation-tagged
// so that it need not be cleared).
static struct {
    uintptr_t block;
    unsigned gen;
} blockset[FUZZ_HASH_SIZE];
static unsigned blockset_gen;

void fuzz_fail(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "fuzz_heap: op #%zu (%s): %s\n", model.opno, model.opname ? model.opname : "-",
            buf);
    fprintf(stderr, "fuzz_heap: model: %zu objects, %zu bytes, %s phase, %s\n", model.n,
            model.bytes, model.marking ? "mark" : "mutate",
            model.host_traces ? "host traces" : "trace hook");
    fflush(stderr);
    abort();
}

void fuzz_log(const char *fmt, ...)
{
    if (!model.trace_ops)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "  #%zu ", model.opno);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

// ------------------------------------------------------------ object index

static size_t index_slot(uintptr_t p)
{
    return (size_t)((p * 0x9e3779b97f4a7c15ull) >> (64 - FUZZ_HASH_BITS));
}

// The model object whose gc_alloc pointer is p, or -1.
long index_find(uintptr_t p)
{
    for (size_t h = index_slot(p);; h = (h + 1) & (FUZZ_HASH_SIZE - 1)) {
        int32_t e = model.index[h];
        if (e == 0)
            return -1;
        if (model.objs[e - 1].p == p)
            return e - 1;
    }
}

void index_insert(size_t i)
{
    size_t h = index_slot(model.objs[i].p);
    while (model.index[h] != 0)
        h = (h + 1) & (FUZZ_HASH_SIZE - 1);
    model.index[h] = (int32_t)i + 1;
}

void index_rebuild(void)
{
    memset(model.index, 0, sizeof model.index);
    for (size_t i = 0; i < model.n; i++)
        index_insert(i);
}

// The object a stored key names; the model never keeps a key to a freed
// object, so a miss is a bug of the target itself.
struct obj *obj_of_key(uintptr_t key, const char *what)
{
    long i = index_find(key);
    if (i < 0)
        fuzz_fail("model: %s %#lx names no object", what, (unsigned long)key);
    return &model.objs[i];
}

static bool blockset_add(uintptr_t block)
{
    for (size_t h = index_slot(block);; h = (h + 1) & (FUZZ_HASH_SIZE - 1)) {
        if (blockset[h].gen != blockset_gen) {
            blockset[h].block = block;
            blockset[h].gen = blockset_gen;
            return true;
        }
        if (blockset[h].block == block)
            return false;
    }
}

static bool blockset_has(uintptr_t block)
{
    for (size_t h = index_slot(block);; h = (h + 1) & (FUZZ_HASH_SIZE - 1)) {
        if (blockset[h].gen != blockset_gen)
            return false;
        if (blockset[h].block == block)
            return true;
    }
}

// ------------------------------------------------------- object contents

static uint8_t pattern_byte(uint64_t tag, size_t off)
{
    uint64_t x = mix64(tag ^ (uint64_t)(off >> 3));
    return (uint8_t)(x >> ((off & 7) * 8));
}

// Writes (write) or checks the pattern windows of o outside its slots.
// Returns the first offset that differs, or SIZE_MAX.
size_t obj_pattern(const struct obj *o, bool write)
{
    uint8_t *mem = (uint8_t *)o->p;
    size_t n = o->size, slots_end = (size_t)o->nslots * sizeof(uintptr_t);
    size_t mid = n / 2 > FUZZ_WINDOW / 2 ? n / 2 - FUZZ_WINDOW / 2 : 0;
    size_t tail = n > FUZZ_WINDOW ? n - FUZZ_WINDOW : 0;
    size_t win[3][2] = {{0, FUZZ_WINDOW}, {mid, mid + FUZZ_WINDOW}, {tail, n}};
    size_t done = slots_end;
    for (int w = 0; w < 3; w++) {
        size_t lo = win[w][0] > done ? win[w][0] : done;
        size_t hi = win[w][1] < n ? win[w][1] : n;
        for (size_t off = lo; off < hi; off++) {
            uint8_t want = pattern_byte(o->tag, off);
            if (write)
                mem[off] = want;
            else if (mem[off] != want)
                return off;
        }
        if (hi > done)
            done = hi;
    }
    return SIZE_MAX;
}

static uintptr_t obj_load_slot(const struct obj *o, unsigned k)
{
    uintptr_t v;
    memcpy(&v, (const char *)o->p + k * sizeof v, sizeof v);
    return v;
}

void obj_store_slot(struct obj *o, unsigned k, uintptr_t v, uintptr_t key)
{
    memcpy((char *)o->p + k * sizeof v, &v, sizeof v);
    o->slot[k] = v;
    o->slot_key[k] = key;
    // gcheap.h: a barrier after every pointer store into an object, except
    // while marking (where only live targets are stored).
    if (model.gen && !model.marking)
        gc_write_barrier((void *)o->p);
}

const char *kind_name(const struct obj *o)
{
    return o->kind == KIND_TINY ? "tiny" : o->kind == KIND_SCAN ? "scan" : "noscan";
}

// o must be allocated: gc_base/gc_size answer for it and its bytes are the
// ones the target wrote.
static void obj_check_alive(const struct obj *o, const char *why)
{
    void *b = gc_base((void *)o->p);
    if (b != (void *)o->base)
        fuzz_fail("%s %s object %p (size %zu, extent %zu): gc_base = %p, want %p", why,
                  kind_name(o), (void *)o->p, o->size, o->ext, b, (void *)o->base);
    size_t sz = gc_size((void *)o->p);
    if (sz != o->ext)
        fuzz_fail("%s %s object %p: gc_size = %zu, want %zu", why, kind_name(o), (void *)o->p, sz,
                  o->ext);
    b = gc_base((void *)(o->base + o->ext - 1));
    if (b != (void *)o->base)
        fuzz_fail("%s %s object %p: gc_base(last byte) = %p", why, kind_name(o), (void *)o->p, b);
    size_t off = obj_pattern(o, false);
    if (off != SIZE_MAX)
        fuzz_fail("%s %s object %p (size %zu): byte %zu is %#x, want %#x", why, kind_name(o),
                  (void *)o->p, o->size, off, ((uint8_t *)o->p)[off], pattern_byte(o->tag, off));
    for (unsigned k = 0; k < o->nslots; k++) {
        uintptr_t v = obj_load_slot(o, k);
        if (v != o->slot[k])
            fuzz_fail("%s scan object %p: slot %u holds %#lx, want %#lx", why, (void *)o->p, k,
                      (unsigned long)v, (unsigned long)o->slot[k]);
    }
}

// ----------------------------------------------------------- expectations

// The usable size gcheap must give a request, computed from the class
// table by search (not by its lookup tables).
size_t expected_extent(size_t size, bool scan)
{
    if (size == 0)
        return 0;
    if (!scan && size < GCH_TINY_SIZE)
        return GCH_TINY_SIZE;
    if (size <= GCH_MAX_SMALL_SIZE) {
        for (unsigned c = 1; c < GCH_NUM_SIZE_CLASSES; c++) {
            if (gch_class_to_size[c] >= size)
                return gch_class_to_size[c];
        }
        fuzz_fail("no size class holds %zu bytes", size);
    }
    return (size + GCH_PAGE_SIZE - 1) & ~(size_t)(GCH_PAGE_SIZE - 1);
}

// The model's answer for gc_base(a): the unit (object or tiny block)
// holding a. Returns false if no model object holds a.
bool model_unit_at(uintptr_t a, uintptr_t *base, size_t *ext)
{
    for (size_t i = 0; i < model.n; i++) {
        const struct obj *o = &model.objs[i];
        if (a - o->base < o->ext) {
            *base = o->base;
            *ext = o->ext;
            return true;
        }
    }
    return false;
}

// Does the model hold a tiny object in the block at base?
static bool model_has_tiny_block(uintptr_t base)
{
    for (uintptr_t a = base; a < base + GCH_TINY_SIZE; a++) {
        long i = index_find(a);
        if (i >= 0 && model.objs[i].kind == KIND_TINY)
            return true;
    }
    return false;
}

// ------------------------------------------------------------------ hooks

void fuzz_trace(void *obj, size_t size, void *ctx)
{
    (void)ctx;
    long i = index_find((uintptr_t)obj);
    if (i < 0 || model.objs[i].kind != KIND_SCAN)
        fuzz_fail("trace hook called on %p (size %zu), not a scan object of the model", obj, size);
    const struct obj *o = &model.objs[i];
    if (size != o->ext)
        fuzz_fail("trace hook: object %p given size %zu, gc_size is %zu", obj, size, o->ext);
    for (unsigned k = 0; k < o->nslots; k++)
        gc_mark((void *)obj_load_slot(o, k));
}

// gc_mark without a trace hook: the host walks what gc_mark newly marks.
bool host_mark(uintptr_t v)
{
    if (!gc_mark((void *)v))
        return false;
    size_t len = 0;
    host_work[len++] = (uintptr_t)gc_base((void *)v);
    while (len > 0) {
        uintptr_t b = host_work[--len];
        long i = index_find(b);
        if (i < 0) {
            // A tiny block whose first bytes hold no model object.
            if (model_has_tiny_block(b))
                continue;
            fuzz_fail("gc_mark newly marked %p, which is no object of the model", (void *)b);
        }
        const struct obj *o = &model.objs[i];
        for (unsigned k = 0; k < o->nslots; k++) {
            uintptr_t w = obj_load_slot(o, k);
            if (gc_mark((void *)w)) {
                if (len == sizeof host_work / sizeof host_work[0])
                    fuzz_fail("host tracing: more newly marked objects than the model holds");
                host_work[len++] = (uintptr_t)gc_base((void *)w);
            }
        }
    }
    return true;
}

void fuzz_roots(void *ctx)
{
    (void)ctx;
    model.roots_calls++;
    if (model.host_traces) {
        for (int r = 0; r < FUZZ_NROOTS; r++)
            host_mark(model.root_val[r]);
    } else if (model.roots_by_range) {
        gc_mark_range(&model.root_val[0], &model.root_val[FUZZ_NROOTS]);
    } else {
        for (int r = 0; r < FUZZ_NROOTS; r++)
            gc_mark((void *)model.root_val[r]);
    }
}

void fuzz_verify(const char *when)
{
    char why[256];
    pthread_mutex_lock(&gch_gc.lock);
    bool ok = gch_heap_verify(why, sizeof why);
    pthread_mutex_unlock(&gch_gc.lock);
    if (!ok)
        fuzz_fail("gch_heap_verify %s: %s", when, why);
}

// ------------------------------------------------------------ cycle check

// Pushes o on the closure worklist unless already live.
static void live_push(size_t i, size_t *len)
{
    if (!model.objs[i].live) {
        model.objs[i].live = true;
        work[(*len)++] = i;
    }
}

// Checks the heap after a cycle of the given kind and drops what it freed.
// For CYCLE_AUTO, [qbase, qbase + qext) is the object gc_alloc returned
// after collecting: it may reuse a freed object's memory, so dead objects
// overlapping it are dropped unchecked.
void model_check_cycle(enum cycle_kind kind, uintptr_t qbase, size_t qext)
{
    static const char *names[] = {"gc_collect", "gc_sweep", "automatic collection"};
    if (AO_load(&gch_gc.phase) != GCH_PHASE_MUTATE)
        fuzz_fail("after %s the heap is in phase %d", names[kind], (int)AO_load(&gch_gc.phase));

    // The live set.
    size_t len = 0;
    for (size_t i = 0; i < model.n; i++)
        model.objs[i].live = false;
    if (model.marking) {
        for (size_t i = 0; i < model.n; i++) {
            if (model.objs[i].marked || model.objs[i].black)
                live_push(i, &len);
        }
    }
    if (kind != CYCLE_SWEEP) {
        for (int r = 0; r < FUZZ_NROOTS; r++) {
            if (model.root_key[r] != 0)
                live_push((size_t)(obj_of_key(model.root_key[r], "root") - model.objs), &len);
        }
    }
    while (len > 0) {
        const struct obj *o = &model.objs[work[--len]];
        for (unsigned k = 0; k < o->nslots; k++) {
            if (o->slot_key[k] != 0)
                live_push((size_t)(obj_of_key(o->slot_key[k], "slot") - model.objs), &len);
        }
    }
    blockset_gen++;
    for (size_t i = 0; i < model.n; i++) {
        if (model.objs[i].live && model.objs[i].kind == KIND_TINY)
            blockset_add(model.objs[i].base);
    }

    // Only minor cycles since the last check: old objects that died may
    // still be allocated (until a major cycle).
    gc_stats st;
    gc_get_stats(&st);
    bool minor_only = st.num_minor_gc - model.num_minor_gc == st.num_gc - model.num_gc &&
                      st.num_gc > model.num_gc;
    if (model.gen_cycles || model.gen)
        fuzz_log("  %llu minor and %llu major cycles",
                 (unsigned long long)(st.num_minor_gc - model.num_minor_gc),
                 (unsigned long long)(st.num_gc - model.num_gc -
                                      (st.num_minor_gc - model.num_minor_gc)));
    model.num_gc = st.num_gc;
    model.num_minor_gc = st.num_minor_gc;
    model.gen_cycles = model.gen;

    // The verdicts.
    size_t kept = 0;
    const char *why =
        kind == CYCLE_SWEEP ? "after gc_sweep, marked" : "after a collection, reachable";
    for (size_t i = 0; i < model.n; i++) {
        struct obj *o = &model.objs[i];
        bool tiny = o->kind == KIND_TINY;
        bool expect = o->live || (tiny && blockset_has(o->base));
        bool reused = kind == CYCLE_AUTO && o->base < qbase + qext && qbase < o->base + o->ext;
        if (expect) {
            if (reused)
                fuzz_fail("gc_alloc returned %p (extent %zu), overlapping live %s object %p",
                          (void *)qbase, qext, kind_name(o), (void *)o->p);
            obj_check_alive(o, why);
        } else if (reused) {
            continue; // freed, and its memory handed out again
        } else if (!tiny) {
            void *b = gc_base((void *)o->p);
            size_t sz = gc_size((void *)o->p);
            if (minor_only && b == (void *)o->p) {
                // Old and dead, kept by a minor cycle. Its slots may name
                // freed objects: the host clears them (NULL needs no
                // barrier), and the object stays in the model as an
                // unreachable one, as a host could still hold it.
                obj_check_alive(o, "after a minor cycle, old unreachable");
                for (unsigned k = 0; k < o->nslots; k++)
                    obj_store_slot(o, k, 0, 0);
            } else if (b != NULL || sz != 0) {
                fuzz_fail("after %s, unreachable %s object %p (size %zu) is still allocated: "
                          "gc_base = %p, gc_size = %zu",
                          names[kind], kind_name(o), (void *)o->p, o->size, b, sz);
            } else {
                continue;
            }
        } else if (gc_base((void *)o->p) == NULL) {
            continue; // its block was freed
        } else {
            obj_check_alive(o, "after a collection, surviving tiny");
        }
        o->marked = o->black = false;
        if (kept != i)
            model.objs[kept] = *o;
        kept++;
    }
    model.n = kept;
    model.marking = false;
    index_rebuild();

    // Whatever the model still refers to must have survived. A manual sweep
    // ignores the roots, so roots into freed objects are cleared.
    for (int r = 0; r < FUZZ_NROOTS; r++) {
        if (model.root_key[r] != 0 && index_find(model.root_key[r]) < 0) {
            if (kind != CYCLE_SWEEP)
                fuzz_fail("model: root %d names a freed object", r);
            model.root_key[r] = model.root_val[r] = 0;
        }
    }
    for (size_t i = 0; i < model.n; i++) {
        for (unsigned k = 0; k < model.objs[i].nslots; k++) {
            if (model.objs[i].slot_key[k] != 0)
                (void)obj_of_key(model.objs[i].slot_key[k], "slot");
        }
    }
    fuzz_verify(names[kind]);
}

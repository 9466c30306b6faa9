// lisp.h - declarations shared by the mini-lisp interpreter's files.
//
// mini-lisp is the embedding example of gcheap: a small Lisp (the dialect of
// rui314's minilisp; see README.md) whose every object is a gcheap
// allocation. The interpreter does the marking half of the collector: gc.c
// tells gcheap where the roots are (gc_set_roots) and how to find the
// pointers inside an object (gc_set_trace); gcheap does the rest, including
// deciding when to collect.
//
// Files, in the order a value flows through them:
//   reader.c    text -> objects (and the interactive line input)
//   eval.c      objects -> values: eval, apply, environments
//   builtins.c  the primitives and special forms bound in the global scope
//   print.c     values -> text
//   object.c    constructors and the symbol table
//   gc.c        the allocator wrapper, the roots and trace hooks, statistics,
//               the stack limit
//   main.c      the command line, the two modes, errors
//
// THE ROOTING RULE. Any allocation may run a whole collection (gcheap collects
// when the heap has grown by GOGC percent; MINILISP_ALWAYS_GC collects before
// every allocation). A collection frees every object that is not reachable
// from a root, so at each allocation every object the C code will use later
// must be reachable from:
//   - a variable registered in a root frame (ROOTS below),
//   - the value stack (vstack[0 .. vsp), where call arguments are evaluated),
//   - the symbol table (every interned symbol, and through it each global
//     binding), or Nil and True.
// A pointer held only in an unregistered C local across an allocation is a
// dangling pointer after the collection. Conventions that keep this simple:
//   - A function roots its own Obj * parameters and locals if it allocates
//     (directly or through a callee) and still needs them afterwards. So a
//     caller may pass an unrooted value straight into a call.
//   - A function's result is unrooted: store it into a rooted variable before
//     the next allocation. Never pass two allocating calls as arguments of
//     one call (the first result would wait unrooted in a temporary).
//   - A pointer into the middle of a list (a cursor) needs no root as long as
//     the list's head is rooted: the collector never moves objects and cdr
//     fields are never written after construction (the dialect has no
//     setcdr; only the reader appends to the list it is building).
//
// THE BARRIER RULE. mini-lisp runs gcheap in generational mode (gc.c): most
// collections are minor and trace only the objects allocated since the
// collection before; an object that survived one (an "old" object) stays
// marked and is not traced again. A young object whose only reference sits
// in an old object would be freed, so every store of a pointer into a field
// of an object that may be old is followed by gc_write_barrier on that
// object: set_field below does both. An object may be old as soon as any
// allocation has happened since it was allocated (any allocation may
// collect). Two kinds of store need no barrier:
//   - the initialising stores into an object allocated with no allocation
//     since (cons, make_function, a scope in apply before its rest list);
//   - stores into roots (root frames, the value stack, the symbol table):
//     the roots hook marks them at every collection.
// The places that store into older objects: define (a global value, a
// scope's defs), setq, setcar, a scope's rest list (apply), a symbol's
// name (make_symbol, the one char * field, so it calls gc_write_barrier
// itself), the primitives' bindings (builtins_init) and the reader's
// appending at the tail of a list.
#ifndef LISP_H
#define LISP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdnoreturn.h>

#include "gcheap.h"

// The type tag is the first word of every object, so the trace hook can tell
// objects apart. 0 is never used: a zeroed object is an unfinished one.
enum {
    TINT = 1,  // num: the value
    TCELL,     // car, cdr
    TSYMBOL,   // value: global binding (NULL: unbound); name; num: length
    TNIL,      // the empty list, the only false value
    TTRUE,     // t
    TPRIM,     // prim: a function of evaluated arguments
    TSPECIAL,  // special: a special form, gets its arguments unevaluated
    TFUNCTION, // params, body, env; num: see FN_NPARAMS
    TMACRO,    // same layout as TFUNCTION
    TENV,      // a scope: up, names, defs, slots[num]
};

typedef struct Obj Obj;

// A primitive gets its evaluated arguments in argv[0 .. argc), a window of
// the value stack, so they are rooted for as long as the call lasts.
typedef Obj *Primitive(int argc, Obj **argv);
// A special form gets the unevaluated argument list and the scope.
typedef Obj *Special(Obj *env, Obj *args);

// Sizes are chosen per type at allocation (see object.c): an integer is 8
// bytes (a gcheap tiny object), a cell 24, a function 32, a scope 32 + 8 per
// slot. The union members are therefore only valid for the object's type.
struct Obj {
    uint32_t type;
    int32_t num;
    union {
        struct {
            Obj *car, *cdr;
        };
        struct {
            Obj *value;
            char *name;
        };
        struct {
            Obj *params, *body, *env;
        };
        // A scope (environment frame) of a function call: slots[i] holds the
        // value of the i-th parameter named in names (the function's
        // parameter list; a dotted tail symbol names the last slot, the list
        // of rest arguments). defs is an alist of the variables that `define`
        // added to this scope afterwards, newest first. up is the scope the
        // function was created in; NULL is the global scope, whose bindings
        // live in the symbols themselves.
        struct {
            Obj *up, *names, *defs;
        };
        Primitive *prim;
        Special *special;
    };
    Obj *slots[]; // TENV only
};

// A function's num: 2 * (number of named parameters) + (1 if it has a rest
// parameter).
#define FN_NPARAMS(fn)  ((fn)->num >> 1)
#define FN_HAS_REST(fn) ((fn)->num & 1)

// ---------------------------------------------------------------- root frames
//
// A root frame lists the addresses of a function's Obj * variables; frames
// are chained from root_top, and the roots hook marks what each variable
// holds at the time of the collection. Usage:
//
//     Obj *x = NULL;
//     ROOTS(&param, &x);      // one ROOTS per function, after the declarations
//     ...                     // allocate freely
//     UNROOT();               // before every return
//
// Every registered variable must hold NULL or a valid object whenever an
// allocation can happen. An error (longjmp to the REPL) abandons frames
// without UNROOT; main.c puts root_top back.
struct roots {
    struct roots *prev;
    int n;
    Obj ***var;
};

extern struct roots *root_top;

#define ROOTS(...)                                                                                 \
    Obj **roots_var_[] = {__VA_ARGS__};                                                            \
    struct roots roots_ = {root_top, (int)(sizeof roots_var_ / sizeof roots_var_[0]), roots_var_}; \
    root_top = &roots_
#define UNROOT() (root_top = roots_.prev)

// ---------------------------------------------------------------- write barrier

// Stores value into *field, a pointer field of a heap object, and tells
// gcheap (see THE BARRIER RULE above). gc_write_barrier accepts any address
// inside the object written into, so the field's address names it; a field
// found by lookup() needs nothing else. Never allocates.
static inline void set_field(Obj **field, Obj *value)
{
    *field = value;
    gc_write_barrier(field);
}

// ---------------------------------------------------------------- value stack
//
// Arguments are evaluated onto this stack instead of into a fresh list, so a
// call to a primitive allocates nothing for its arguments. It is a fixed
// array (never reallocated: primitives hold argv pointers into it), and a
// root up to vsp.
#define VSTACK_SIZE (1u << 20)

extern Obj **vstack;
extern size_t vsp;

noreturn void stack_overflow(void);
// The value stack is full: reports it as an error (not as "stack overflow",
// which is the C stack's).
noreturn void value_stack_overflow(void);

static inline void vpush(Obj *o)
{
    if (vsp == VSTACK_SIZE)
        value_stack_overflow();
    vstack[vsp++] = o;
}

// ---------------------------------------------------------------- stack depth
//
// eval, the reader and anything else that recurses on the input's shape call
// check_stack() first: the C stack grows down, and below stack_limit (the real
// limit plus a margin for what runs on top: a collection, printf, the error
// path) it reports "stack overflow" instead of faulting.
extern uintptr_t stack_limit;

static inline void check_stack(void)
{
    if ((uintptr_t)__builtin_frame_address(0) < stack_limit)
        stack_overflow();
}

// ---------------------------------------------------------------- files

// gc.c
extern Obj *Nil, *True;
extern bool always_gc;
void gc_init(void);
Obj *alloc_obj(uint32_t type, size_t size, bool has_ptrs);
void *alloc_bytes(size_t size);
void gc_summary_line(char *buf, size_t len);
void print_stats_at_exit(void);

// object.c
Obj *make_int(int32_t value);
Obj *cons(Obj *car, Obj *cdr);
Obj *make_symbol(const char *name, size_t len);
Obj *intern(const char *name, size_t len);
Obj *intern_cstr(const char *name);
Obj *make_prim(Primitive *fn);
Obj *make_special(Special *fn);
void mark_symbols(void);
int list_length(Obj *list);

// reader.c
extern Obj *sym_quote;
void reader_init_file(void *file);
void reader_init_interactive(void);
void reader_discard_line(void);
Obj *read_toplevel(void);

// eval.c
Obj *eval(Obj *env, Obj *form);
Obj *progn(Obj *env, Obj *body);
Obj *apply(Obj *fn, int argc, Obj **argv);
Obj *macroexpand_once(Obj *env, Obj *form);
Obj **lookup(Obj *env, Obj *sym);
void define(Obj *env, Obj *sym, Obj *value);
Obj *make_function(Obj *env, uint32_t type, Obj *args);

// builtins.c
void builtins_init(void);

// print.c
void print_obj(Obj *o);
// True while print_obj has begun a line of output it has not finished (it
// stays true if the printer stops with an error): lisp_error then ends the
// line in a session, so the error does not share it.
extern bool print_midline;

// main.c
noreturn void lisp_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif

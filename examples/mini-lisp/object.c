// object.c - constructors for Lisp objects, and the symbol table.
//
// Each constructor allocates exactly one gcheap object of the size its type
// needs (see struct Obj in lisp.h), except make_symbol, which allocates the
// symbol and, separately, its name as pointer-free bytes.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lisp.h"

// Objects are as long as the fields their type uses, so an integer (tag and
// value) is an 8-byte tiny object and a cell (tag and two pointers) 24 bytes.
#define SIZE_UPTO(field) (offsetof(Obj, field) + sizeof(((Obj *)0)->field))

_Static_assert(SIZE_UPTO(num) == 8, "an integer is 8 bytes");
_Static_assert(SIZE_UPTO(cdr) == 24, "a cell is 24 bytes");

Obj *make_int(int32_t value)
{
    Obj *o = alloc_obj(TINT, SIZE_UPTO(num), false);
    o->num = value;
    return o;
}

Obj *cons(Obj *car, Obj *cdr)
{
    ROOTS(&car, &cdr);
    Obj *o = alloc_obj(TCELL, SIZE_UPTO(cdr), true);
    o->car = car;
    o->cdr = cdr;
    UNROOT();
    return o;
}

Obj *make_prim(Primitive *fn)
{
    Obj *o = alloc_obj(TPRIM, SIZE_UPTO(prim), false);
    o->prim = fn;
    return o;
}

Obj *make_special(Special *fn)
{
    Obj *o = alloc_obj(TSPECIAL, SIZE_UPTO(special), false);
    o->special = fn;
    return o;
}

// A new symbol, not interned (gensym uses it directly). The name is copied
// into its own pointer-free object, so most names are tiny objects.
Obj *make_symbol(const char *name, size_t len)
{
    Obj *sym = alloc_obj(TSYMBOL, SIZE_UPTO(name), true);
    ROOTS(&sym);
    char *s = alloc_bytes(len + 1);
    memcpy(s, name, len);
    s[len] = '\0';
    // alloc_bytes may have collected and made sym old (THE BARRIER RULE in
    // lisp.h); name is a char *, so set_field does not apply.
    sym->name = s;
    gc_write_barrier(sym);
    sym->num = (int32_t)len;
    UNROOT();
    return sym;
}

// Returns the length of a proper list, or -1 for anything else.
int list_length(Obj *list)
{
    int n = 0;
    for (; list->type == TCELL; list = list->cdr)
        n++;
    return list == Nil ? n : -1;
}

// ---------------------------------------------------------------- symbols
//
// The symbol table is an open-addressing hash table of symbol pointers,
// outside the heap (malloc). It is a root: interned symbols are never freed,
// and global bindings hang from them. Load factor <= 1/2.

static Obj **symtab;
static size_t symtab_cap; // a power of two
static size_t symtab_count;

static size_t hash_name(const char *name, size_t len)
{
    size_t h = 2166136261u; // FNV-1a
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)name[i]) * 16777619u;
    return h;
}

// The slot holding the symbol called name, or the empty slot where it goes.
static Obj **symtab_slot(const char *name, size_t len)
{
    size_t mask = symtab_cap - 1;
    for (size_t i = hash_name(name, len) & mask;; i = (i + 1) & mask) {
        Obj *s = symtab[i];
        if (!s || ((size_t)s->num == len && memcmp(s->name, name, len) == 0))
            return &symtab[i];
    }
}

static void symtab_grow(void)
{
    Obj **old = symtab;
    size_t old_cap = symtab_cap;
    symtab_cap = old_cap ? old_cap * 2 : 256;
    symtab = calloc(symtab_cap, sizeof *symtab);
    if (!symtab)
        abort();
    for (size_t i = 0; i < old_cap; i++)
        if (old[i])
            *symtab_slot(old[i]->name, (size_t)old[i]->num) = old[i];
    free(old);
}

Obj *intern(const char *name, size_t len)
{
    if ((symtab_count + 1) * 2 > symtab_cap)
        symtab_grow();
    Obj **slot = symtab_slot(name, len);
    if (*slot)
        return *slot;
    // make_symbol may collect; the table does not change meanwhile, so slot
    // stays the right place.
    Obj *sym = make_symbol(name, len);
    *slot = sym;
    symtab_count++;
    return sym;
}

Obj *intern_cstr(const char *name)
{
    return intern(name, strlen(name));
}

void mark_symbols(void)
{
    for (size_t i = 0; i < symtab_cap; i++)
        if (symtab[i])
            gc_mark(symtab[i]);
}

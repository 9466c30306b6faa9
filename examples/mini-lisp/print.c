// print.c - writes a value to standard output.
//
// The printer does not recurse: a list of ten million elements, or a chain
// of ten million cars, prints in constant C stack. It keeps its own stack (a
// malloc'd array) of the lists it is inside, holding for each the part not
// printed yet. Printing never allocates in the heap, so no collection can
// happen meanwhile and the pointers on that stack need no rooting.
#include <stdio.h>
#include <stdlib.h>

#include "lisp.h"

static Obj **pending;
static size_t npending, pending_cap;

static void push_pending(Obj *rest)
{
    if (npending == pending_cap) {
        pending_cap = pending_cap ? 2 * pending_cap : 64;
        pending = realloc(pending, pending_cap * sizeof *pending);
        if (!pending) {
            fputs("mini-lisp: out of memory while printing\n", stderr);
            exit(1);
        }
    }
    pending[npending++] = rest;
}

static void print_int(int32_t v)
{
    char buf[12];
    size_t i = sizeof buf;
    uint32_t u = v < 0 ? 0u - (uint32_t)v : (uint32_t)v;
    do {
        buf[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        buf[--i] = '-';
    fwrite(buf + i, 1, sizeof buf - i, stdout);
}

static void print_atom(Obj *o)
{
    switch (o->type) {
    case TINT:
        print_int(o->num);
        return;
    case TSYMBOL:
        fwrite(o->name, 1, (size_t)o->num, stdout);
        return;
    case TNIL:
        fputs("()", stdout);
        return;
    case TTRUE:
        putchar_unlocked('t');
        return;
    case TPRIM:
    case TSPECIAL:
        fputs("<primitive>", stdout);
        return;
    case TFUNCTION:
        fputs("<function>", stdout);
        return;
    case TMACRO:
        fputs("<macro>", stdout);
        return;
    }
    fprintf(stderr, "mini-lisp: print: bad object %p, tag %#x\n", (void *)o, o->type);
    abort();
}

void print_obj(Obj *o)
{
    size_t base = npending;
    for (;;) {
        // Go down the cars, opening a list at each cell.
        while (o->type == TCELL) {
            putchar_unlocked('(');
            push_pending(o->cdr);
            o = o->car;
        }
        print_atom(o);
        // Then continue the innermost list that has elements left, closing
        // the finished ones.
        for (;;) {
            if (npending == base)
                return;
            Obj *rest = pending[--npending];
            if (rest->type == TCELL) {
                putchar_unlocked(' ');
                push_pending(rest->cdr);
                o = rest->car;
                break;
            }
            if (rest != Nil) {
                fputs(" . ", stdout);
                print_atom(rest);
            }
            putchar_unlocked(')');
        }
    }
}

// print.c - writes a value to standard output.
//
// The printer does not recurse: a list of ten million elements, or a chain
// of ten million cars, prints in constant C stack. It keeps its own stack (a
// malloc'd array), `path`: for each list it is inside, the element cell
// whose car it is printing; the rest of that list is the cell's cdr.
// Printing never allocates in the heap, so no collection can happen
// meanwhile and the pointers on that stack need no rooting.
//
// Cycles. Every cdr chain is finite, so a list has finitely many elements:
// cons takes an existing object as the cdr, the reader builds its lists
// fresh, front to back, and the only store a program can make into a cell
// it can reach is setcar's (define and setq write the cdrs of binding
// pairs, which are never values). An output without end therefore needs a path without end (the
// path that is never popped again: P[1], P[2], ...), and since the heap is
// finite, a cell then appears on it twice. Conversely a cell on the path
// twice means output without end: printing is deterministic and the
// structure does not change meanwhile, so from the second visit the
// printer repeats what it did from the first. That also makes P[k+1] a
// function of P[k] (the first element of P[k]'s car whose printing never
// ends), so P is eventually periodic, and Brent's cycle finding applies: each
// cell pushed at depth d is compared with the one at depth m, the largest
// power of two below d. Once m is past both the cycle's start and its
// length, the cell at depth m + length is its equal. So the printer reports
// "print: cyclic structure" exactly for the structures whose printing would
// not end, by depth m + length with m the least power of two at or above
// both (under 2 max(start, length) + length: at most about three times the
// cycle's depth), for one compare per cell; no false report, as two equal
// cells on one path are a cycle. The output made until then stays printed, as for any error
// (DIALECT.md).
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "lisp.h"

static Obj **path;
static size_t npath, path_cap;

static noreturn void print_oom(void)
{
    fputs("mini-lisp: out of memory while printing\n", stderr);
    exit(1);
}

// Pushes the next cell of the path, whose depth becomes npath - base
// (print_obj's first cell has depth 1), after Brent's check (see above).
static void push_path(size_t base, Obj *cell)
{
    if (npath == path_cap) {
        size_t cap = path_cap ? 2 * path_cap : 64;
        Obj **p = realloc(path, cap * sizeof *p);
        if (!p)
            print_oom();
        path = p;
        path_cap = cap;
    }
    path[npath++] = cell;
    size_t d = npath - base;
    if (d >= 2) {
        size_t m = (size_t)1 << (63 - __builtin_clzll((unsigned long long)(d - 1)));
        if (path[base + m - 1] == cell) {
            npath = base;
            lisp_error("print: cyclic structure (a cell contains itself through setcar)");
        }
    }
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

bool print_midline;

void print_obj(Obj *o)
{
    size_t base = npath;
    print_midline = true;
    for (;;) {
        // Go down the cars, opening a list at each cell.
        while (o->type == TCELL) {
            putchar_unlocked('(');
            push_path(base, o);
            o = o->car;
        }
        print_atom(o);
        // Then continue the innermost list that has elements left, closing
        // the finished ones.
        for (;;) {
            if (npath == base) {
                print_midline = false;
                return;
            }
            Obj *rest = path[--npath]->cdr;
            if (rest->type == TCELL) {
                putchar_unlocked(' ');
                push_path(base, rest);
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

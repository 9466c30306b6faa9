// main.c - the command line, the two ways of running, and errors.
//
//   mini-lisp [FILE | -]
//
// With a file, or when standard input is not a terminal, the program is read
// to its end and each top-level value printed on its own line; the first
// error prints one line on stderr and exits with status 1. When standard
// input is a terminal (and no file is named) it is a session: a prompt, line
// editing when built with libedit, and an error abandons only the expression
// in progress.
//
// Environment:
//   MINILISP_ALWAYS_GC=1     a full collection before every allocation,
//                            with gcheap's poisoning of freed memory (gc.c)
//   MINILISP_STATS=1         one line of allocation statistics on stderr at
//                            exit
//   MINILISP_GENERATIONAL=0  gcheap's generational mode off (it is on by
//                            default; see THE BARRIER RULE in lisp.h)
//   GCHEAP_DEBUG, GCHEAP_GOGC are read by gcheap itself (see gcheap.h).
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lisp.h"

// In a session, errors jump back to the loop in run_session.
static bool in_session;
static jmp_buf session_jmp;

noreturn void lisp_error(const char *fmt, ...)
{
    va_list ap;
    // What the program printed before the error stays, and comes first; in
    // a session, on a line of its own.
    if (in_session && print_midline)
        putchar('\n');
    print_midline = false;
    fflush(stdout);
    fputs("error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (in_session)
        longjmp(session_jmp, 1);
    exit(1);
}

noreturn void stack_overflow(void)
{
    lisp_error("stack overflow");
}

noreturn void value_stack_overflow(void)
{
    lisp_error("too many arguments pending: more than the value stack's %u (in one call, or "
               "in nested calls together)",
               VSTACK_SIZE);
}

// Reads, evaluates and prints one top-level expression. Returns false at the
// end of the input.
static bool eval_next(void)
{
    Obj *x = NULL;
    ROOTS(&x);
    x = read_toplevel();
    if (x) {
        x = eval(NULL, x);
        print_obj(x);
        putchar('\n');
    }
    UNROOT();
    return x != NULL;
}

static void run_session(void)
{
    // An error unwinds the C stack past root frames and value-stack entries
    // that were never popped; they are dropped here, where both are empty.
    struct roots *top = root_top;
    in_session = true;
    for (;;) {
        if (setjmp(session_jmp) != 0) {
            root_top = top;
            vsp = 0;
            reader_discard_line();
            continue;
        }
        if (!eval_next())
            break;
    }
    in_session = false;
    putchar('\n');
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    FILE *in = stdin;
    if (argc > 2) {
        fputs("usage: mini-lisp [FILE | -]\n"
              "environment: MINILISP_ALWAYS_GC=1, MINILISP_STATS=1, MINILISP_GENERATIONAL=0\n"
              "(see examples/mini-lisp/README.md)\n",
              stderr);
        return 2;
    }
    if (argc == 2 && strcmp(argv[1], "-") != 0) {
        path = argv[1];
        in = fopen(path, "r");
        if (!in) {
            fprintf(stderr, "error: %s: %s\n", path, strerror(errno));
            return 1;
        }
    }
    // gc_init must come first: it may set GCHEAP_DEBUG, which gcheap reads
    // at the first call into it.
    gc_init();
    const char *stats = getenv("MINILISP_STATS");
    if (stats && *stats && strcmp(stats, "0") != 0)
        atexit(print_stats_at_exit);
    builtins_init();
    if (!path && isatty(0)) {
        reader_init_interactive();
        run_session();
    } else {
        reader_init_file(in);
        while (eval_next())
            ;
    }
    return 0;
}

// builtins.c - the special forms and primitives of the global scope.
//
// Special forms get (env, unevaluated argument list) and check the list's
// shape themselves. Primitives get their evaluated arguments on the value
// stack (argc, argv), already rooted. Integer arithmetic is done in uint32_t,
// where overflow is defined to wrap; the result is the 32-bit two's
// complement value the dialect asks for.
#include <stdio.h>

#include "lisp.h"

// ---------------------------------------------------------------- special forms

static Obj *sf_quote(Obj *env, Obj *args)
{
    (void)env;
    if (list_length(args) != 1)
        lisp_error("malformed quote");
    return args->car;
}

static Obj *sf_if(Obj *env, Obj *args)
{
    if (list_length(args) < 2)
        lisp_error("malformed if: needs a condition and a then form");
    Obj *result = Nil;
    ROOTS(&env, &args);
    if (eval(env, args->car) != Nil) {
        result = eval(env, args->cdr->car);
    } else {
        // The else forms, like progn but without its frame.
        for (Obj *p = args->cdr->cdr; p->type == TCELL; p = p->cdr)
            result = eval(env, p->car);
    }
    UNROOT();
    return result;
}

static Obj *sf_while(Obj *env, Obj *args)
{
    if (list_length(args) < 2)
        lisp_error("malformed while: needs a condition and a body");
    ROOTS(&env, &args);
    while (eval(env, args->car) != Nil)
        progn(env, args->cdr);
    UNROOT();
    return Nil;
}

static Obj *sf_setq(Obj *env, Obj *args)
{
    if (list_length(args) != 2 || args->car->type != TSYMBOL)
        lisp_error("malformed setq: (setq symbol value)");
    Obj *sym = args->car;
    if (!lookup(env, sym))
        lisp_error("undefined symbol: %s", sym->name);
    ROOTS(&env, &sym);
    Obj *value = eval(env, args->cdr->car);
    // Look up again: the binding cannot disappear, but the value's evaluation
    // may have moved what holds it (a define in this scope adds to defs).
    set_field(lookup(env, sym), value);
    UNROOT();
    return value;
}

static Obj *sf_define(Obj *env, Obj *args)
{
    if (list_length(args) != 2 || args->car->type != TSYMBOL)
        lisp_error("malformed define: (define symbol value)");
    Obj *value = NULL;
    ROOTS(&env, &args, &value);
    value = eval(env, args->cdr->car);
    define(env, args->car, value);
    UNROOT();
    return value;
}

static Obj *sf_lambda(Obj *env, Obj *args)
{
    return make_function(env, TFUNCTION, args);
}

// (defun name params body...) and (defmacro name params body...)
static Obj *define_function(Obj *env, Obj *args, uint32_t type)
{
    if (args->type != TCELL || args->car->type != TSYMBOL)
        lisp_error("malformed %s: needs a name", type == TMACRO ? "defmacro" : "defun");
    Obj *fn = NULL;
    ROOTS(&env, &args, &fn);
    fn = make_function(env, type, args->cdr);
    define(env, args->car, fn);
    UNROOT();
    return fn;
}

static Obj *sf_defun(Obj *env, Obj *args)
{
    return define_function(env, args, TFUNCTION);
}

static Obj *sf_defmacro(Obj *env, Obj *args)
{
    return define_function(env, args, TMACRO);
}

static Obj *sf_macroexpand(Obj *env, Obj *args)
{
    if (list_length(args) != 1)
        lisp_error("malformed macroexpand");
    return macroexpand_once(env, args->car);
}

// ---------------------------------------------------------------- primitives

static void want_args(const char *name, int argc, int n)
{
    if (argc != n)
        lisp_error("%s: wrong number of arguments: expected %d, got %d", name, n, argc);
}

static uint32_t int_arg(const char *name, Obj *o)
{
    if (o->type != TINT)
        lisp_error("%s: not an integer", name);
    return (uint32_t)o->num;
}

static Obj *cell_arg(const char *name, Obj *o)
{
    if (o->type != TCELL)
        lisp_error("%s: not a cell", name);
    return o;
}

static Obj *prim_cons(int argc, Obj **argv)
{
    want_args("cons", argc, 2);
    return cons(argv[0], argv[1]);
}

static Obj *prim_car(int argc, Obj **argv)
{
    want_args("car", argc, 1);
    return cell_arg("car", argv[0])->car;
}

static Obj *prim_cdr(int argc, Obj **argv)
{
    want_args("cdr", argc, 1);
    return cell_arg("cdr", argv[0])->cdr;
}

static Obj *prim_setcar(int argc, Obj **argv)
{
    want_args("setcar", argc, 2);
    set_field(&cell_arg("setcar", argv[0])->car, argv[1]);
    return argv[0];
}

static Obj *prim_gensym(int argc, Obj **argv)
{
    static unsigned counter;
    char name[16];
    (void)argv;
    want_args("gensym", argc, 0);
    int n = snprintf(name, sizeof name, "G__%u", counter++);
    return make_symbol(name, (size_t)n);
}

static Obj *prim_plus(int argc, Obj **argv)
{
    uint32_t sum = 0;
    for (int i = 0; i < argc; i++)
        sum += int_arg("+", argv[i]);
    return make_int((int32_t)sum);
}

static Obj *prim_minus(int argc, Obj **argv)
{
    if (argc < 1)
        lisp_error("-: needs at least one argument");
    uint32_t r = int_arg("-", argv[0]);
    if (argc == 1)
        return make_int((int32_t)(0u - r));
    for (int i = 1; i < argc; i++)
        r -= int_arg("-", argv[i]);
    return make_int((int32_t)r);
}

static Obj *prim_lt(int argc, Obj **argv)
{
    want_args("<", argc, 2);
    int32_t a = (int32_t)int_arg("<", argv[0]), b = (int32_t)int_arg("<", argv[1]);
    return a < b ? True : Nil;
}

static Obj *prim_num_eq(int argc, Obj **argv)
{
    want_args("=", argc, 2);
    return int_arg("=", argv[0]) == int_arg("=", argv[1]) ? True : Nil;
}

static Obj *prim_eq(int argc, Obj **argv)
{
    want_args("eq", argc, 2);
    return argv[0] == argv[1] ? True : Nil;
}

static Obj *prim_println(int argc, Obj **argv)
{
    want_args("println", argc, 1);
    print_obj(argv[0]);
    putchar('\n');
    return Nil;
}

// An extension, not in the dialect: prints a one-line summary of the
// collector's work so far and returns ().
static Obj *prim_gc_summary(int argc, Obj **argv)
{
    char line[200];
    (void)argv;
    want_args("gc-summary", argc, 0);
    gc_summary_line(line, sizeof line);
    puts(line);
    return Nil;
}

// ---------------------------------------------------------------- the table

static void add_special(const char *name, Special *fn)
{
    Obj *sym = intern_cstr(name); // rooted by the symbol table
    Obj *value = make_special(fn);
    set_field(&sym->value, value); // sym is older than value
}

static void add_prim(const char *name, Primitive *fn)
{
    Obj *sym = intern_cstr(name);
    Obj *value = make_prim(fn);
    set_field(&sym->value, value);
}

void builtins_init(void)
{
    set_field(&intern_cstr("t")->value, True);

    add_special("quote", sf_quote);
    add_special("if", sf_if);
    add_special("while", sf_while);
    add_special("setq", sf_setq);
    add_special("define", sf_define);
    add_special("lambda", sf_lambda);
    add_special("defun", sf_defun);
    add_special("defmacro", sf_defmacro);
    add_special("macroexpand", sf_macroexpand);

    add_prim("cons", prim_cons);
    add_prim("car", prim_car);
    add_prim("cdr", prim_cdr);
    add_prim("setcar", prim_setcar);
    add_prim("gensym", prim_gensym);
    add_prim("+", prim_plus);
    add_prim("-", prim_minus);
    add_prim("<", prim_lt);
    add_prim("=", prim_num_eq);
    add_prim("eq", prim_eq);
    add_prim("println", prim_println);
    add_prim("gc-summary", prim_gc_summary);
}

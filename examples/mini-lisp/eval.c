// eval.c - the evaluator: scopes, eval, apply, macro expansion.
//
// eval is a plain recursive tree walker. The dialect has no tail calls, so a
// deep recursion in Lisp is a deep recursion here; check_stack turns the end
// of the C stack into the error "stack overflow".
//
// Scopes. The global scope is the symbols themselves (sym->value), so a
// global lookup costs nothing once the local scopes are passed. A function
// call makes one scope object holding the argument values in slots, named by
// the function's own parameter list (shared, never copied); `define` inside a
// function adds to that scope's defs alist. Looking up a variable walks the
// scopes outward, comparing symbol pointers.
//
// Arguments are evaluated onto the value stack (see lisp.h): a primitive
// reads them there, a function copies them into its new scope. Either way the
// call allocates nothing but the scope and, for a rest parameter, its list.
#include <stdio.h>
#include <string.h>

#include "lisp.h"

// Where sym's value is stored, seen from env; NULL if it is unbound.
// Never allocates.
Obj **lookup(Obj *env, Obj *sym)
{
    for (Obj *e = env; e; e = e->up) {
        for (Obj *d = e->defs; d != Nil; d = d->cdr)
            if (d->car->car == sym)
                return &d->car->cdr;
        int i = 0;
        Obj *p = e->names;
        for (; p->type == TCELL; p = p->cdr, i++)
            if (p->car == sym)
                return &e->slots[i];
        if (p == sym) // the rest parameter
            return &e->slots[i];
    }
    return sym->value ? &sym->value : NULL;
}

// Adds a binding of sym to the scope env (shadowing any earlier one there).
void define(Obj *env, Obj *sym, Obj *value)
{
    if (!env) {
        set_field(&sym->value, value);
        return;
    }
    ROOTS(&env, &sym, &value);
    Obj *pair = cons(sym, value);
    pair = cons(pair, env->defs);
    set_field(&env->defs, pair);
    UNROOT();
}

// (lambda (params) body...) without the `lambda`: args is (params body...).
Obj *make_function(Obj *env, uint32_t type, Obj *args)
{
    const char *what = type == TMACRO ? "macro" : "lambda";
    if (args->type != TCELL || list_length(args->cdr) < 1)
        lisp_error("malformed %s: needs a parameter list and a body", what);
    Obj *p = args->car;
    if (p != Nil && p->type != TCELL)
        lisp_error("malformed %s: parameters must be a list", what);
    int n = 0;
    for (; p->type == TCELL; p = p->cdr, n++)
        if (p->car->type != TSYMBOL)
            lisp_error("malformed %s: parameter is not a symbol", what);
    if (p != Nil && p->type != TSYMBOL)
        lisp_error("malformed %s: rest parameter is not a symbol", what);
    ROOTS(&env, &args);
    Obj *fn = alloc_obj(type, offsetof(Obj, slots), true);
    fn->num = 2 * n + (p != Nil);
    fn->params = args->car;
    fn->body = args->cdr;
    fn->env = env;
    UNROOT();
    return fn;
}

// Evaluates the forms of body in order; returns the last value, or ().
Obj *progn(Obj *env, Obj *body)
{
    Obj *result = Nil;
    ROOTS(&env, &body);
    // The cursor needs no root: it is a tail of body.
    for (Obj *p = body; p->type == TCELL; p = p->cdr)
        result = eval(env, p->car);
    UNROOT();
    return result;
}

// Calls a function or a macro with argv[0 .. argc), which the caller keeps
// rooted (they are on the value stack).
Obj *apply(Obj *fn, int argc, Obj **argv)
{
    int n = FN_NPARAMS(fn);
    bool rest = FN_HAS_REST(fn);
    if (argc < n || (!rest && argc > n))
        lisp_error("wrong number of arguments: expected %s%d, got %d", rest ? "at least " : "", n,
                   argc);
    Obj *env = NULL, *list = Nil, *result = Nil;
    ROOTS(&fn, &env, &list);
    int nslots = n + rest;
    env = alloc_obj(TENV, offsetof(Obj, slots) + (size_t)nslots * sizeof(Obj *), true);
    env->num = nslots;
    env->up = fn->env;
    env->names = fn->params;
    env->defs = Nil;
    // Initialising stores: no allocation since env's.
    memcpy(env->slots, argv, (size_t)n * sizeof *argv);
    if (rest) {
        for (int i = argc; i-- > n;)
            list = cons(argv[i], list);
        // The conses may have collected: env may be old by now. (list also
        // stays rooted for the whole call, but the barrier should not depend
        // on that.)
        set_field(&env->slots[n], list);
    }
    for (Obj *p = fn->body; p->type == TCELL; p = p->cdr)
        result = eval(env, p->car);
    UNROOT();
    return result;
}

// Pushes the elements of the list args on the value stack as they are (for
// a macro). Returns how many.
static int push_forms(Obj *args)
{
    size_t base = vsp;
    Obj *p = args;
    for (; p->type == TCELL; p = p->cdr)
        vpush(p->car);
    if (p != Nil)
        lisp_error("malformed call: arguments are not a proper list");
    return (int)(vsp - base);
}

// Runs macro on the unevaluated argument forms of a call; returns the
// expansion.
static Obj *expand(Obj *macro, Obj *args)
{
    size_t base = vsp;
    int argc = push_forms(args);
    Obj *expansion = apply(macro, argc, &vstack[base]);
    vsp = base;
    return expansion;
}

// If form is a call of a macro (its head a symbol bound to a macro in env),
// returns its expansion; otherwise returns form.
Obj *macroexpand_once(Obj *env, Obj *form)
{
    if (form->type != TCELL || form->car->type != TSYMBOL)
        return form;
    Obj **loc = lookup(env, form->car);
    if (!loc || (*loc)->type != TMACRO)
        return form;
    return expand(*loc, form->cdr);
}

static const char *type_name(Obj *o)
{
    switch (o->type) {
    case TINT:
        return "an integer";
    case TCELL:
        return "a list";
    case TSYMBOL:
        return "a symbol";
    case TNIL:
        return "()";
    case TTRUE:
        return "t";
    case TMACRO:
        return "a macro";
    default:
        return "a strange object";
    }
}

static Obj *eval_call(Obj *env, Obj *form)
{
    Obj *fn = NULL, *result = NULL;
    ROOTS(&env, &form, &fn);
    Obj *head = form->car;
    if (head->type == TSYMBOL) {
        // One lookup serves both questions: is it a macro, and what to call.
        Obj **loc = lookup(env, head);
        if (!loc)
            lisp_error("undefined symbol: %s", head->name);
        fn = *loc;
        if (fn->type == TMACRO) {
            fn = expand(fn, form->cdr);
            result = eval(env, fn);
            UNROOT();
            return result;
        }
    } else {
        fn = eval(env, head);
    }
    switch (fn->type) {
    case TSPECIAL:
        result = fn->special(env, form->cdr);
        break;
    case TPRIM:
    case TFUNCTION: {
        // Evaluate the arguments left to right onto the value stack. (Done
        // here rather than in a helper: every C frame between two evals
        // costs Lisp recursion depth.) The cursor p is a tail of form.
        size_t base = vsp;
        Obj *p = form->cdr;
        for (; p->type == TCELL; p = p->cdr)
            vpush(eval(env, p->car));
        if (p != Nil)
            lisp_error("malformed call: arguments are not a proper list");
        int argc = (int)(vsp - base);
        if (fn->type == TPRIM)
            result = fn->prim(argc, &vstack[base]);
        else
            result = apply(fn, argc, &vstack[base]);
        vsp = base;
        break;
    }
    default:
        if (head->type == TSYMBOL)
            lisp_error("not a function: %s is %s", head->name, type_name(fn));
        lisp_error("not a function: the head of the call is %s", type_name(fn));
    }
    UNROOT();
    return result;
}

Obj *eval(Obj *env, Obj *form)
{
    check_stack();
    switch (form->type) {
    case TSYMBOL: {
        Obj **loc = lookup(env, form);
        if (!loc)
            lisp_error("undefined symbol: %s", form->name);
        return *loc;
    }
    case TCELL:
        return eval_call(env, form);
    default: // integers, (), t and functions evaluate to themselves
        return form;
    }
}

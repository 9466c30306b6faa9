// reader.c - turns text into objects, and feeds it from a file or from the
// terminal a line at a time.
//
// The reader is recursive descent over single characters with one character
// of lookahead. Nesting recurses in C, so read_expr checks the stack depth:
// ten thousand '(' is an error, not a crash. Every byte value is either part
// of the grammar or reported ("don't know how to handle ..."); symbol names
// are read into a fixed buffer whose bound is checked.
//
// Interactive input comes a line at a time (libedit's readline when built
// with it, else a plain prompt and getline). The reader asks for the next
// line only when it needs more characters, so an expression may span lines;
// the prompt says whether an expression is still open.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lisp.h"

#ifndef MINILISP_HAVE_LIBEDIT
#define MINILISP_HAVE_LIBEDIT 0
#endif
#if MINILISP_HAVE_LIBEDIT
#include <editline/readline.h>
#endif

// The dialect's limit on symbol names.
#define SYMBOL_MAX 200

Obj *sym_quote;

static FILE *in; // non-interactive input
static bool interactive;
static char *line; // interactive: the current line, '\n'-terminated
static size_t line_len, line_pos, line_cap;
static bool at_eof;  // interactive: end of input was seen
static bool in_expr; // an expression has begun but is not complete

// ---------------------------------------------------------------- input

void reader_init_file(void *file)
{
    in = file;
    interactive = false;
    sym_quote = intern_cstr("quote");
}

void reader_init_interactive(void)
{
    interactive = true;
    sym_quote = intern_cstr("quote");
}

// After an error in a session, the rest of the line is thrown away.
void reader_discard_line(void)
{
    line_pos = line_len;
    in_expr = false;
}

static bool next_line(void)
{
    const char *prompt = in_expr ? "... " : "> ";
    if (at_eof)
        return false;
#if MINILISP_HAVE_LIBEDIT
    char *s = readline(prompt);
    if (!s) {
        at_eof = true;
        return false;
    }
    if (*s)
        add_history(s);
    size_t n = strlen(s);
    if (n + 2 > line_cap) {
        line_cap = n + 2;
        line = realloc(line, line_cap);
        if (!line)
            abort();
    }
    memcpy(line, s, n);
    line[n] = '\n';
    line_len = n + 1;
    free(s);
#else
    fputs(prompt, stdout);
    fflush(stdout);
    ssize_t n = getline(&line, &line_cap, stdin);
    if (n <= 0) {
        at_eof = true;
        return false;
    }
    line_len = (size_t)n;
#endif
    line_pos = 0;
    return true;
}

static int readc(void)
{
    if (!interactive)
        return getc_unlocked(in);
    if (line_pos == line_len && !next_line())
        return EOF;
    return (unsigned char)line[line_pos++];
}

static void unreadc(int c)
{
    if (c == EOF)
        return;
    if (interactive)
        line_pos--;
    else
        ungetc(c, in);
}

static int peekc(void)
{
    int c = readc();
    unreadc(c);
    return c;
}

// Skips whitespace and comments; returns the next character, not consumed.
static int skip_space(void)
{
    for (;;) {
        int c = readc();
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
            continue;
        if (c == ';') {
            while ((c = readc()) != EOF && c != '\n')
                ;
            continue;
        }
        unreadc(c);
        return c;
    }
}

// ---------------------------------------------------------------- grammar

// Plain ASCII tests: <ctype.h> would depend on the locale, and the dialect's
// character set does not.
static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static bool is_symbol_start(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c > 0 && strchr("~!@#$%^&*-_=+:/?<>", c));
}

static bool is_symbol_char(int c)
{
    return is_symbol_start(c) || is_digit(c);
}

static noreturn void bad_char(int c)
{
    if (c > ' ' && c < 127)
        lisp_error("don't know how to handle '%c'", c);
    lisp_error("don't know how to handle byte 0x%02x", c);
}

static Obj *read_expr(void);

// After '(': elements up to ')', with an optional ". tail" before it.
static Obj *read_list(void)
{
    Obj *head = Nil, *tail = NULL, *x = NULL;
    ROOTS(&head, &x);
    for (;;) {
        int c = skip_space();
        if (c == EOF)
            lisp_error("unclosed parenthesis at end of input");
        if (c == ')') {
            readc();
            break;
        }
        if (c == '.') {
            readc();
            if (head == Nil)
                lisp_error("stray '.'");
            x = read_expr();
            set_field(&tail->cdr, x);
            if (skip_space() != ')')
                lisp_error("expected ')' after the expression following '.'");
            readc();
            break;
        }
        x = read_expr();
        x = cons(x, Nil);
        // tail needs no root: it is reachable from head. It needs the
        // barrier: it was allocated before the cons that made x.
        if (head == Nil)
            head = x;
        else
            set_field(&tail->cdr, x);
        tail = x;
    }
    UNROOT();
    return head;
}

// Digits, computed modulo 2^32 like the rest of the arithmetic.
static Obj *read_number(uint32_t value, bool negative)
{
    while (is_digit(peekc()))
        value = value * 10 + (uint32_t)(readc() - '0');
    return make_int((int32_t)(negative ? 0u - value : value));
}

// The name buffer is static, not a local: read_symbol is inlined into the
// recursive read_expr, and 200 bytes in each of its frames would divide the
// nesting depth the stack allows by three.
static char buf[SYMBOL_MAX];

static Obj *read_symbol(int c)
{
    size_t len = 0;
    buf[len++] = (char)c;
    while (is_symbol_char(peekc())) {
        if (len == SYMBOL_MAX)
            lisp_error("symbol name too long (more than %d characters)", SYMBOL_MAX);
        buf[len++] = (char)readc();
    }
    return intern(buf, len);
}

static Obj *read_expr(void)
{
    check_stack();
    int c = skip_space();
    if (c == EOF)
        lisp_error("unexpected end of input");
    readc();
    if (c == '(')
        return read_list();
    if (c == ')')
        lisp_error("unbalanced ')'");
    if (c == '.')
        lisp_error("stray '.'");
    if (c == '\'') {
        Obj *x = read_expr();
        x = cons(x, Nil);
        return cons(sym_quote, x);
    }
    if (is_digit(c))
        return read_number((uint32_t)(c - '0'), false);
    if (c == '-' && is_digit(peekc()))
        return read_number(0, true);
    if (is_symbol_start(c))
        return read_symbol(c);
    bad_char(c);
}

// The next top-level expression, or NULL at the end of the input.
Obj *read_toplevel(void)
{
    in_expr = false;
    if (skip_space() == EOF)
        return NULL;
    in_expr = true;
    Obj *x = read_expr();
    in_expr = false;
    return x;
}

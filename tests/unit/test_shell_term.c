/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for the interactive line editor (shell/term.c).  Each row of the
 * table feeds keystrokes (possibly in several pieces, as they come off the
 * network) to a fresh editor whose output is captured in memory, then checks
 * what ran and what was echoed.  A line that runs is seen through the shell
 * itself: an unknown word comes back as "unknown command 'WORD'", and
 * "help CMD" prints "usage: CMD ...", so the test sees exactly the line the
 * editor handed over, after all editing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common.h"
#include "shell.h"

/* ---- capturing output ---- */

struct cap {
    char *buf;
    size_t len;
};

static int cap_write(void *io, int is_err, const char *buf, size_t len)
{
    struct cap *c = io;

    (void)is_err;
    c->buf = realloc(c->buf, c->len + len + 1);
    assert_non_null(c->buf);
    memcpy(c->buf + c->len, buf, len);
    c->len += len;
    c->buf[c->len] = '\0';
    return 0;
}

static size_t occurrences(const char *hay, size_t haylen, const char *needle)
{
    size_t n = 0, nl = strlen(needle);

    for (size_t i = 0; nl > 0 && i + nl <= haylen; i++) {
        if (memcmp(hay + i, needle, nl) == 0) {
            n++;
        }
    }
    return n;
}

struct fixture {
    struct cap cap;
    struct shell_ctx ctx;
    struct shell_term *t;
    size_t banner_len;
};

static void fixture_start(struct fixture *f)
{
    memset(f, 0, sizeof(*f));
    f->ctx.user = "alice";
    f->ctx.interactive = 1;
    f->ctx.write = cap_write;
    f->ctx.io = &f->cap;
    f->t = shell_term_new(&f->ctx);
    assert_non_null(f->t);
    f->banner_len = f->cap.len;
}

static void fixture_stop(struct fixture *f)
{
    shell_term_free(f->t);
    free(f->cap.buf);
}

/* ---- the table ---- */

#define P(s)                                                                                       \
    {                                                                                              \
        s, sizeof(s) - 1                                                                           \
    }
#define PROMPT "alice@drawbridge> "

struct piece {
    const char *s;
    size_t len;
};

struct term_case {
    const char *name;
    struct piece in[4];    /* fed one call each; s NULL ends */
    int ret;               /* what the last call returns */
    const char *want[4];   /* each must appear in the output after the banner */
    const char *unwant[3]; /* none may appear */
    const char *count;     /* appears exactly ncount times */
    size_t ncount;
};

static const struct term_case term_cases[] = {
    {"line runs on CR",
     {P("abc\r")},
     0,
     {"abc\r\n", "unknown command 'abc'", PROMPT},
     {NULL},
     "unknown command",
     1},
    {"LF runs too", {P("abc\n")}, 0, {"unknown command 'abc'"}, {NULL}, "unknown command", 1},
    {"CRLF counts once", {P("abc\r\n")}, 0, {NULL}, {NULL}, PROMPT, 1},
    {"CRLF split across reads", {P("abc\r"), P("\n")}, 0, {NULL}, {NULL}, "unknown command", 1},
    {"LF CR is two lines", {P("abc\n\r")}, 0, {NULL}, {NULL}, PROMPT, 2},
    {"CR CR is two lines", {P("a\r\rb\n")}, 0, {"'a'", "'b'"}, {NULL}, PROMPT, 3},
    {"empty line just prompts", {P("\r")}, 0, {"\r\n" PROMPT}, {"unknown"}, NULL, 0},
    {"pasted lines each run",
     {P("one\rtwo\rthree\r")},
     0,
     {"'one'", "'two'", "'three'"},
     {NULL},
     "unknown command",
     3},
    {"echo", {P("ab")}, 0, {"ab"}, {"unknown"}, NULL, 0},
    {"backspace (DEL)",
     {P("abd\x7f"
        "c\r")},
     0,
     {"'abc'"},
     {"'abdc'"},
     NULL,
     0},
    {"backspace (^H)",
     {P("abd\x08"
        "c\r")},
     0,
     {"'abc'"},
     {NULL},
     NULL,
     0},
    {"backspace on empty line",
     {P("\x7f\x7f"
        "a\r")},
     0,
     {"'a'"},
     {NULL},
     NULL,
     0},
    {"^U kills the line",
     {P("xyz\x15"
        "abc\r")},
     0,
     {"'abc'"},
     {"xyzabc"},
     NULL,
     0},
    {"^C discards the line",
     {P("xyz\x03"
        "abc\r")},
     0,
     {"^C\r\n" PROMPT, "'abc'"},
     {"'xyz"},
     NULL,
     0},
    {"^D on an empty line ends", {P("\x04")}, 1, {"\r\n"}, {NULL}, NULL, 0},
    {"^D with text does not end", {P("ab\x04")}, 0, {NULL}, {NULL}, NULL, 0},
    {"^D deletes under the cursor", {P("abxc\x1b[D\x1b[D\x04\r")}, 0, {"'abc'"}, {NULL}, NULL, 0},
    {"left arrow then insert",
     {P("ac\x1b[D"
        "b\r")},
     0,
     {"'abc'", "\x1b[1D"},
     {NULL},
     NULL,
     0},
    {"left arrow (SS3)",
     {P("ac\x1bOD"
        "b\r")},
     0,
     {"'abc'"},
     {NULL},
     NULL,
     0},
    {"right arrow",
     {P("ac\x1b[D\x1b[C"
        "d\r")},
     0,
     {"'acd'"},
     {NULL},
     NULL,
     0},
    {"left stops at the start",
     {P("b\x1b[D\x1b[D\x1b[D"
        "a\r")},
     0,
     {"'ab'"},
     {NULL},
     NULL,
     0},
    {"right stops at the end",
     {P("a\x1b[C\x1b[C"
        "b\r")},
     0,
     {"'ab'"},
     {NULL},
     NULL,
     0},
    {"Home and End",
     {P("bc\x1b[H"
        "a\x1b[F"
        "d\r")},
     0,
     {"'abcd'"},
     {NULL},
     NULL,
     0},
    {"Home and End (~ forms)",
     {P("bc\x1b[1~"
        "a\x1b[4~"
        "d\r")},
     0,
     {"'abcd'"},
     {NULL},
     NULL,
     0},
    {"^A and ^E",
     {P("bc\x01"
        "a\x05"
        "d\r")},
     0,
     {"'abcd'"},
     {NULL},
     NULL,
     0},
    {"Delete key", {P("abxc\x1b[D\x1b[D\x1b[3~\r")}, 0, {"'abc'"}, {NULL}, NULL, 0},
    {"ctrl-arrow still moves",
     {P("ac\x1b[1;5D"
        "b\r")},
     0,
     {"'abc'"},
     {"1;5"},
     NULL,
     0},
    {"other CSI sequences are swallowed",
     {P("a\x1b[1;5P"
        "b\x1b[200~"
        "c\x1b[201~\x1b[?1;2c\r")},
     0,
     {"'abc'"},
     {"200~", "[1;5P", "?1;2c"},
     NULL,
     0},
    {"SS3 function keys are swallowed",
     {P("a\x1bOP"
        "b\x1bOQ\r")},
     0,
     {"'ab'"},
     {"OP"},
     NULL,
     0},
    {"Alt+key is swallowed", {P("a\x1bxb\r")}, 0, {"'ab'"}, {NULL}, NULL, 0},
    {"escape then Enter still runs", {P("ab\x1b\r")}, 0, {"'ab'"}, {NULL}, NULL, 0},
    {"escape sequence split across reads",
     {P("ab\x1b"), P("["),
      P("D"
        "X\r")},
     0,
     {"'aXb'"},
     {NULL},
     NULL,
     0},
    {"control byte cuts a CSI short",
     {P("a\x1b[1\x03"
        "b\r")},
     0,
     {"^C", "'b'"},
     {NULL},
     NULL,
     0},
    {"other control bytes are ignored",
     {P("a\x02\x06\x0e"
        "b\r")},
     0,
     {"'ab'"},
     {NULL},
     NULL,
     0},
    {"tab is a space", {P("help\twhoami\r")}, 0, {"usage: whoami"}, {NULL}, NULL, 0},
    {"^W rubs out a word",
     {P("help foo bar  \x17\x17"
        "whoami\r")},
     0,
     {"usage: whoami"},
     {NULL},
     NULL,
     0},
    {"history up", {P("aaa\rbbb\r\x1b[A\r")}, 0, {NULL}, {NULL}, "'bbb'", 2},
    {"history up twice", {P("aaa\rbbb\r\x1b[A\x1b[A\r")}, 0, {NULL}, {NULL}, "'aaa'", 2},
    {"history down returns to the new line",
     {P("aaa\rxy\x1b[A\x1b[B"
        "z\r")},
     0,
     {"'xyz'"},
     {NULL},
     NULL,
     0},
    {"history (SS3 arrows)", {P("aaa\r\x1bOA\r")}, 0, {NULL}, {NULL}, "'aaa'", 2},
    {"history skips repeats and blanks",
     {P("aaa\raaa\r   \r\x1b[A\x1b[A\r")},
     0,
     {"\a"},
     {NULL},
     "'aaa'",
     3},
    {"edited history line runs as edited",
     {P("help\r\x1b[A whoami\r")},
     0,
     {"usage: whoami"},
     {NULL},
     NULL,
     0},
    {"up with no history beeps", {P("\x1b[A")}, 0, {"\a"}, {NULL}, NULL, 0},
    {"utf-8 echoed",
     {P("r\xc3\xa9"
        "s\r")},
     0,
     {"r\xc3\xa9s", "'r?s'"},
     {NULL},
     NULL,
     0},
    {"utf-8 split across reads",
     {P("r\xc3"), P("\xa9"
                    "s\r")},
     0,
     {"r\xc3\xa9s"},
     {"\a"},
     NULL,
     0},
    {"backspace removes a code point",
     {P("r\xe2\x82\xac\x7f"
        "x\r")},
     0,
     {"'rx'"},
     {NULL},
     NULL,
     0},
    {"backspace removes a 4-byte code point",
     {P("a\xf0\x9f\x94\x91\x7f"
        "b\r")},
     0,
     {"'ab'"},
     {NULL},
     NULL,
     0},
    {"left over a code point",
     {P("\xc3\xa9"
        "b\x1b[D\x1b[D"
        "a\r")},
     0,
     {"'a?b'"},
     {NULL},
     NULL,
     0},
    {"invalid byte beeps",
     {P("a\xff"
        "b\r")},
     0,
     {"\a", "'ab'"},
     {"\xff"},
     NULL,
     0},
    {"stray continuation beeps",
     {P("a\x80"
        "b\r")},
     0,
     {"\a", "'ab'"},
     {"\x80"},
     NULL,
     0},
    {"truncated sequence beeps",
     {P("a\xc3"
        "b\r")},
     0,
     {"\a", "'ab'"},
     {"\xc3"},
     NULL,
     0},
    {"overlong form beeps",
     {P("a\xc0\xaf"
        "b\r")},
     0,
     {"\a", "'ab'"},
     {NULL},
     NULL,
     0},
    {"C1 control beeps",
     {P("a\xc2\x9b"
        "b\r")},
     0,
     {"\a", "'ab'"},
     {"\xc2\x9b"},
     NULL,
     0},
    {"exit ends", {P("exit\r")}, 1, {NULL}, {NULL}, PROMPT, 0},
    {"nothing runs after exit", {P("exit\rhelp\r")}, 1, {NULL}, {"Commands"}, NULL, 0},
    {"logout ends", {P("logout\r")}, 1, {NULL}, {NULL}, NULL, 0},
    {"command output uses CRLF", {P("help\r")}, 0, {"Commands:\r\n"}, {NULL}, NULL, 0},
};

static void check_case(const struct term_case *tc)
{
    struct fixture f;
    int ret = 0;
    const char *after;
    size_t alen;

    fixture_start(&f);
    for (int k = 0; k < 4 && tc->in[k].s != NULL; k++) {
        ret = shell_term_input(f.t, tc->in[k].s, tc->in[k].len);
    }
    assert_int_equal(ret, tc->ret);
    after = f.cap.buf + f.banner_len;
    alen = f.cap.len - f.banner_len;
    for (int k = 0; k < 4 && tc->want[k] != NULL; k++) {
        if (occurrences(after, alen, tc->want[k]) == 0) {
            fail_msg("output lacks \"%s\"", tc->want[k]);
        }
    }
    for (int k = 0; k < 3 && tc->unwant[k] != NULL; k++) {
        if (occurrences(after, alen, tc->unwant[k]) != 0) {
            fail_msg("output has \"%s\"", tc->unwant[k]);
        }
    }
    if (tc->count != NULL) {
        assert_int_equal(occurrences(after, alen, tc->count), tc->ncount);
    }
    if (tc->ret == 1) {
        assert_int_equal(f.ctx.want_exit, 1);
        /* Once ended, more input is refused. */
        assert_int_equal(shell_term_input(f.t, "help\r", 5), 1);
    }
    fixture_stop(&f);
}

static void test_term_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(term_cases) / sizeof(term_cases[0]); i++) {
        print_message("case: %s\n", term_cases[i].name);
        check_case(&term_cases[i]);
    }
}

/* ---- cases that do not fit a row ---- */

static void test_term_banner(void **state)
{
    struct fixture f;

    (void)state;
    fixture_start(&f);
    assert_non_null(strstr(f.cap.buf, "Drawbridge \xe2\x80\x94 type 'help' for commands"));
    assert_non_null(strstr(f.cap.buf, "alice"));
    assert_true(f.cap.len > strlen(PROMPT));
    assert_string_equal(f.cap.buf + f.cap.len - strlen(PROMPT), PROMPT);
    fixture_stop(&f);
}

static void test_term_line_cap(void **state)
{
    struct fixture f;
    char *big = malloc(SHELL_LINE_MAX);
    size_t before;

    (void)state;
    assert_non_null(big);
    memset(big, 'a', SHELL_LINE_MAX);
    fixture_start(&f);
    assert_int_equal(shell_term_input(f.t, big, SHELL_LINE_MAX), 0);
    assert_null(memchr(f.cap.buf + f.banner_len, '\a', f.cap.len - f.banner_len));
    before = f.cap.len;
    /* Full: one more byte, or a 2-byte character, is refused with a beep. */
    assert_int_equal(shell_term_input(f.t, "b\xc3\xa9", 3), 0);
    assert_int_equal(occurrences(f.cap.buf + before, f.cap.len - before, "\a"), 2);
    assert_null(memchr(f.cap.buf + before, 'b', f.cap.len - before));
    /* Editing still works, and the full line runs. */
    assert_int_equal(shell_term_input(f.t,
                                      "\x7f"
                                      "c\r",
                                      3),
                     0);
    assert_non_null(strstr(f.cap.buf + before, "unknown command 'aaaa"));
    fixture_stop(&f);
    free(big);
}

static void test_term_history_cap(void **state)
{
    struct fixture f;
    char line[32];
    size_t before;

    (void)state;
    fixture_start(&f);
    for (int i = 0; i < 105; i++) {
        int n = snprintf(line, sizeof(line), "c%d\r", i);

        assert_int_equal(shell_term_input(f.t, line, (size_t)n), 0);
    }
    before = f.cap.len;
    /* 100 ups reach the oldest kept line, c5; the 101st beeps. */
    for (int i = 0; i < 101; i++) {
        assert_int_equal(shell_term_input(f.t, "\x1b[A", 3), 0);
    }
    assert_int_equal(occurrences(f.cap.buf + before, f.cap.len - before, "\a"), 1);
    assert_int_equal(shell_term_input(f.t, "\r", 1), 0);
    assert_non_null(strstr(f.cap.buf + before, "unknown command 'c5'"));
    fixture_stop(&f);
}

static void test_term_byte_by_byte(void **state)
{
    static const char keys[] = "ac\x1b[D"
                               "b\x1b[F\xc3\xa9\x7f"
                               "d\r\n";
    struct fixture f;

    (void)state;
    fixture_start(&f);
    for (size_t i = 0; i < sizeof(keys) - 1; i++) {
        assert_int_equal(shell_term_input(f.t, keys + i, 1), 0);
    }
    assert_non_null(strstr(f.cap.buf, "unknown command 'abcd'"));
    assert_int_equal(occurrences(f.cap.buf, f.cap.len, PROMPT), 2);
    fixture_stop(&f);
}

static void test_term_null(void **state)
{
    (void)state;
    assert_null(shell_term_new(NULL));
    assert_int_equal(shell_term_input(NULL, "x", 1), 1);
    shell_term_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_term_table),        cmocka_unit_test(test_term_banner),
        cmocka_unit_test(test_term_line_cap),     cmocka_unit_test(test_term_history_cap),
        cmocka_unit_test(test_term_byte_by_byte), cmocka_unit_test(test_term_null),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

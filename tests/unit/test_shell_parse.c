/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for the shell line parser (shell/parse.c): word splitting, both kinds
 * of quotes, backslash escapes, shell metacharacters kept as ordinary bytes,
 * and every refusal (control bytes, NUL, unterminated quotes, a trailing
 * backslash, too many words, too long).  One table; each row gives the input
 * with its exact length, the expected code and either the words or a piece
 * of the error message.
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

#define IN(s) s, sizeof(s) - 1
#define WORDS_MAX 12

struct parse_case {
    const char *name;
    const char *line;
    size_t len;
    int rc;
    int argc;
    const char *argv[WORDS_MAX]; /* when rc == 0 */
    const char *err;             /* when rc < 0: a substring of the message */
};

static const struct parse_case parse_cases[] = {
    {"empty", IN(""), 0, 0, {NULL}, NULL},
    {"blanks", IN("  \t  "), 0, 0, {NULL}, NULL},
    {"one word", IN("help"), 0, 1, {"help"}, NULL},
    {"spaces and tabs",
     IN("  request\tweb-1   --for 1h  "),
     0,
     4,
     {"request", "web-1", "--for", "1h"},
     NULL},
    {"single quotes keep blanks", IN("say 'a b  c'"), 0, 2, {"say", "a b  c"}, NULL},
    {"single quotes keep backslashes and double quotes", IN("'a\\b\"c'"), 0, 1, {"a\\b\"c"}, NULL},
    {"double quotes: \\\" and \\\\ only",
     IN("\"a \\\"b\\\" \\\\ \\n \\$\""),
     0,
     1,
     {"a \"b\" \\ \\n \\$"},
     NULL},
    {"double quotes keep single quotes", IN("\"it's\""), 0, 1, {"it's"}, NULL},
    {"adjacent parts join", IN("a'b'\"c\"d\\ e"), 0, 1, {"abcd e"}, NULL},
    {"empty quoted words", IN("x '' \"\" y"), 0, 4, {"x", "", "", "y"}, NULL},
    {"backslash outside quotes",
     IN("a\\ b \\'x \\\\ \\\"q"),
     0,
     4,
     {"a b", "'x", "\\", "\"q"},
     NULL},
    {"tab inside quotes", IN("'a\tb'"), 0, 1, {"a\tb"}, NULL},
    {"metacharacters are ordinary",
     IN("echo $HOME `id` $(id) ; ls|cat * && x>y <z ~ #c"),
     0,
     12,
     {"echo", "$HOME", "`id`", "$(id)", ";", "ls|cat", "*", "&&", "x>y", "<z", "~", "#c"},
     NULL},
    {"no expansion inside double quotes", IN("\"$USER `x` $(y)\""), 0, 1, {"$USER `x` $(y)"}, NULL},
    {"utf-8 and other high bytes",
     IN("r\xc3\xa9son \xff\xfe"),
     0,
     2,
     {"r\xc3\xa9son", "\xff\xfe"},
     NULL},
    {"control byte",
     IN("a\x01"
        "b"),
     DB_ERR_INVALID,
     0,
     {NULL},
     "control character 0x01"},
    {"newline", IN("a\nb"), DB_ERR_INVALID, 0, {NULL}, "0x0a"},
    {"carriage return", IN("help\r"), DB_ERR_INVALID, 0, {NULL}, "0x0d"},
    {"escape", IN("a\x1b[31m"), DB_ERR_INVALID, 0, {NULL}, "0x1b"},
    {"delete", IN("a\x7f"), DB_ERR_INVALID, 0, {NULL}, "0x7f"},
    {"NUL inside the line", IN("a\0b"), DB_ERR_INVALID, 0, {NULL}, "0x00"},
    {"control byte inside quotes", IN("'a\x02'"), DB_ERR_INVALID, 0, {NULL}, "0x02"},
    {"unterminated single quote",
     IN("say 'abc"),
     DB_ERR_INVALID,
     0,
     {NULL},
     "unterminated single quote (opened at column 5)"},
    {"unterminated double quote",
     IN("\"abc"),
     DB_ERR_INVALID,
     0,
     {NULL},
     "unterminated double quote"},
    {"escaped closing double quote",
     IN("\"a\\\""),
     DB_ERR_INVALID,
     0,
     {NULL},
     "unterminated double quote"},
    {"trailing backslash", IN("abc\\"), DB_ERR_INVALID, 0, {NULL}, "backslash"},
};

static void assert_clear(const struct shell_argv *a)
{
    assert_int_equal(a->argc, 0);
    for (int i = 0; i <= SHELL_ARGS_MAX; i++) {
        assert_null(a->argv[i]);
    }
}

static void test_parse_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
        const struct parse_case *pc = &parse_cases[i];
        struct shell_argv a;
        char err[256] = "untouched";
        int rc;

        print_message("case: %s\n", pc->name);
        rc = shell_parse(pc->line, pc->len, &a, err, sizeof(err));
        assert_int_equal(rc, pc->rc);
        if (rc < 0) {
            assert_clear(&a);
            assert_non_null(strstr(err, pc->err));
            continue;
        }
        assert_string_equal(err, "");
        assert_int_equal(a.argc, pc->argc);
        for (int k = 0; k < pc->argc; k++) {
            assert_string_equal(a.argv[k], pc->argv[k]);
        }
        assert_null(a.argv[a.argc]);
        shell_argv_clear(&a);
        assert_clear(&a);
    }
}

/* Builds "w w w ..." with n words. */
static char *words(int n, size_t *len)
{
    char *s = malloc((size_t)n * 2 + 1);

    assert_non_null(s);
    for (int i = 0; i < n; i++) {
        s[2 * i] = 'w';
        s[2 * i + 1] = ' ';
    }
    *len = n > 0 ? (size_t)n * 2 - 1 : 0;
    s[*len] = '\0';
    return s;
}

static void test_parse_word_limit(void **state)
{
    struct shell_argv a;
    char err[128];
    size_t len;
    char *s = words(SHELL_ARGS_MAX, &len);

    (void)state;
    assert_int_equal(shell_parse(s, len, &a, err, sizeof(err)), 0);
    assert_int_equal(a.argc, SHELL_ARGS_MAX);
    assert_null(a.argv[SHELL_ARGS_MAX]);
    shell_argv_clear(&a);
    free(s);

    s = words(SHELL_ARGS_MAX + 1, &len);
    assert_int_equal(shell_parse(s, len, &a, err, sizeof(err)), DB_ERR_INVALID);
    assert_non_null(strstr(err, "too many words"));
    assert_clear(&a);
    free(s);

    /* The 65th word ending the line (no blank after it) is refused too. */
    s = words(SHELL_ARGS_MAX + 1, &len);
    s[len - 1] = '\'';
    memcpy(s + len, "'", 2);
    assert_int_equal(shell_parse(s, len + 1, &a, err, sizeof(err)), DB_ERR_INVALID);
    assert_clear(&a);
    free(s);
}

static void test_parse_length_limit(void **state)
{
    struct shell_argv a;
    char err[128];
    char *s = malloc(SHELL_LINE_MAX + 2);

    (void)state;
    assert_non_null(s);
    memset(s, 'x', SHELL_LINE_MAX + 1);
    s[SHELL_LINE_MAX + 1] = '\0';
    assert_int_equal(shell_parse(s, SHELL_LINE_MAX, &a, err, sizeof(err)), 0);
    assert_int_equal(a.argc, 1);
    assert_int_equal(strlen(a.argv[0]), SHELL_LINE_MAX);
    shell_argv_clear(&a);

    assert_int_equal(shell_parse(s, SHELL_LINE_MAX + 1, &a, err, sizeof(err)), DB_ERR_INVALID);
    assert_non_null(strstr(err, "too long"));
    assert_clear(&a);
    free(s);
}

static void test_parse_explicit_length(void **state)
{
    struct shell_argv a;
    char err[64];

    (void)state;
    /* Only len bytes count: what follows is not read. */
    assert_int_equal(shell_parse("help whoami", 4, &a, err, sizeof(err)), 0);
    assert_int_equal(a.argc, 1);
    assert_string_equal(a.argv[0], "help");
    shell_argv_clear(&a);

    /* A NULL line of length 0 is an empty line; with a length it is refused. */
    assert_int_equal(shell_parse(NULL, 0, &a, err, sizeof(err)), 0);
    assert_int_equal(a.argc, 0);
    assert_int_equal(shell_parse(NULL, 3, &a, err, sizeof(err)), DB_ERR_INVALID);

    /* No error buffer is fine. */
    assert_int_equal(shell_parse("'x", 2, &a, NULL, 0), DB_ERR_INVALID);
    assert_clear(&a);

    /* Clearing twice, or a NULL argv, is harmless. */
    shell_argv_clear(&a);
    shell_argv_clear(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_table),
        cmocka_unit_test(test_parse_word_limit),
        cmocka_unit_test(test_parse_length_limit),
        cmocka_unit_test(test_parse_explicit_length),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for command option parsing (shell/opts.c): "--name value",
 * "--name=value", flags, "--" ending options, positional words mixed with
 * options, and the usage errors (unknown, missing value, repeated, a value
 * given to a flag, single-dash words, too many positionals).  Table-driven:
 * each row is a command line as words plus what shell_opts_parse must find.
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

#define MAXW 20

/* The spec every row uses: request's options, roughly. */
static const char *const spec[] = {"for=", "reason=", "login=", "json", "all", NULL};

struct opt_want {
    const char *name;
    const char *value; /* NULL: absent */
};

struct opts_case {
    const char *name;
    const char *argv[MAXW]; /* NULL-terminated; argv[0] is the command */
    int rc;
    const char *pos[MAXW];   /* NULL-terminated, when rc == 0 */
    struct opt_want want[6]; /* name NULL ends */
    const char *err;         /* when rc < 0: substring of the message */
};

static const struct opts_case opts_cases[] = {
    {"nothing", {"targets", NULL}, 0, {NULL}, {{"for", NULL}, {"json", NULL}}, NULL},
    {"value as next word",
     {"request", "web-1", "--for", "1h", "--reason", "INC 4711", NULL},
     0,
     {"web-1", NULL},
     {{"for", "1h"}, {"reason", "INC 4711"}, {"login", NULL}, {"json", NULL}},
     NULL},
    {"name=value",
     {"request", "--for=30m", "web-1", NULL},
     0,
     {"web-1", NULL},
     {{"for", "30m"}},
     NULL},
    {"name= gives an empty value", {"x", "--reason=", NULL}, 0, {NULL}, {{"reason", ""}}, NULL},
    {"value containing =", {"x", "--reason=a=b", NULL}, 0, {NULL}, {{"reason", "a=b"}}, NULL},
    {"value starting with a dash",
     {"x", "--reason", "-x --y", NULL},
     0,
     {NULL},
     {{"reason", "-x --y"}},
     NULL},
    {"flags are empty strings",
     {"requests", "--json", "--all", NULL},
     0,
     {NULL},
     {{"json", ""}, {"all", ""}, {"for", NULL}},
     NULL},
    {"options and positionals mixed",
     {"approve", "--reason", "ok", "12", "--json", "13", NULL},
     0,
     {"12", "13", NULL},
     {{"reason", "ok"}, {"json", ""}},
     NULL},
    {"-- ends options",
     {"x", "--json", "--", "--for", "-1", NULL},
     0,
     {"--for", "-1", NULL},
     {{"json", ""}, {"for", NULL}},
     NULL},
    {"lone dash is positional", {"x", "-", NULL}, 0, {"-", NULL}, {{"json", NULL}}, NULL},
    {"unknown option",
     {"x", "--nope", NULL},
     DB_ERR_USAGE,
     {NULL},
     {{NULL, NULL}},
     "unknown option '--nope'"},
    {"unknown option with a value",
     {"x", "--nope=1", NULL},
     DB_ERR_USAGE,
     {NULL},
     {{NULL, NULL}},
     "unknown option '--nope'"},
    {"prefix is not a match",
     {"x", "--fo", "1h", NULL},
     DB_ERR_USAGE,
     {NULL},
     {{NULL, NULL}},
     "unknown option '--fo'"},
    {"missing value",
     {"x", "--for", NULL},
     DB_ERR_USAGE,
     {NULL},
     {{NULL, NULL}},
     "option '--for' needs a value"},
    {"repeated option",
     {"x", "--for", "1h", "--for=2h", NULL},
     DB_ERR_USAGE,
     {NULL},
     {{NULL, NULL}},
     "given more than once"},
    {"repeated flag",
     {"x", "--json", "--json", NULL},
     DB_ERR_USAGE,
     {NULL},
     {{NULL, NULL}},
     "given more than once"},
    {"value for a flag",
     {"x", "--json=yes", NULL},
     DB_ERR_USAGE,
     {NULL},
     {{NULL, NULL}},
     "takes no value"},
    {"single dash option",
     {"x", "-f", NULL},
     DB_ERR_USAGE,
     {NULL},
     {{NULL, NULL}},
     "unknown option '-f'"},
    {"empty name",
     {"x", "--=1", NULL},
     DB_ERR_USAGE,
     {NULL},
     {{NULL, NULL}},
     "unknown option '--'"},
    {"terminal escapes are not echoed",
     {"x", "--\x1b]52;c;aGk\a", NULL},
     DB_ERR_USAGE,
     {NULL},
     {{NULL, NULL}},
     "unknown option '--?]52;c;aGk?'"},
    {"too many positionals",
     {"x", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16",
      "17", NULL},
     DB_ERR_USAGE,
     {NULL},
     {{NULL, NULL}},
     "too many arguments"},
};

static int count(const char *const *v)
{
    int n = 0;

    while (v[n] != NULL) {
        n++;
    }
    return n;
}

static void test_opts_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(opts_cases) / sizeof(opts_cases[0]); i++) {
        const struct opts_case *oc = &opts_cases[i];
        struct shell_opts o;
        char err[256] = "untouched";
        int argc = count(oc->argv);
        int rc;

        print_message("case: %s\n", oc->name);
        rc = shell_opts_parse(spec, argc, (char **)oc->argv, &o, err, sizeof(err));
        assert_int_equal(rc, oc->rc);
        if (rc < 0) {
            if (strstr(err, oc->err) == NULL) {
                fail_msg("message '%s' lacks '%s'", err, oc->err);
            }
            assert_null(strchr(err, '\x1b'));
            assert_int_equal(o.npos, 0);
            for (int k = 0; k < 16; k++) {
                assert_null(o.values[k]);
            }
            continue;
        }
        assert_string_equal(err, "");
        assert_int_equal(o.npos, count(oc->pos));
        for (int k = 0; k < o.npos; k++) {
            assert_string_equal(o.pos[k], oc->pos[k]);
        }
        for (int k = 0; oc->want[k].name != NULL; k++) {
            const char *v = shell_opt(&o, oc->want[k].name);

            if (oc->want[k].value == NULL) {
                assert_null(v);
            } else {
                assert_non_null(v);
                assert_string_equal(v, oc->want[k].value);
            }
        }
    }
}

static void test_opts_lookup(void **state)
{
    char *argv[] = {"request", "--for", "1h", "--json", NULL};
    struct shell_opts o;
    char err[128];

    (void)state;
    assert_int_equal(shell_opts_parse(spec, 4, argv, &o, err, sizeof(err)), 0);
    /* The name as listed in the spec, or with dashes, finds it too. */
    assert_string_equal(shell_opt(&o, "for"), "1h");
    assert_string_equal(shell_opt(&o, "for="), "1h");
    assert_string_equal(shell_opt(&o, "--for"), "1h");
    assert_string_equal(shell_opt(&o, "json"), "");
    assert_null(shell_opt(&o, "fo"));
    assert_null(shell_opt(&o, "nope"));
    assert_null(shell_opt(&o, NULL));
    assert_null(shell_opt(NULL, "for"));
    /* names[] mirrors the spec. */
    assert_string_equal(o.names[0], "for=");
    assert_string_equal(o.names[3], "json");
    assert_null(o.names[5]);
}

static void test_opts_spec_limits(void **state)
{
    static const char *const big[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i",
                                      "j", "k", "l", "m", "n", "o", "p", "q", NULL};
    static const char *const sixteen[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i",
                                          "j", "k", "l", "m", "n", "o", "p", NULL};
    char *argv[] = {"x", "--p", "w", NULL};
    struct shell_opts o;
    char err[128];

    (void)state;
    assert_int_equal(shell_opts_parse(big, 3, argv, &o, err, sizeof(err)), DB_ERR_INVALID);
    assert_int_equal(shell_opts_parse(sixteen, 3, argv, &o, err, sizeof(err)), 0);
    assert_string_equal(shell_opt(&o, "p"), "");
    assert_int_equal(o.npos, 1);

    /* No spec: every option is unknown, positionals still work. */
    assert_int_equal(shell_opts_parse(NULL, 3, argv, &o, err, sizeof(err)), DB_ERR_USAGE);
    argv[1] = "w";
    assert_int_equal(shell_opts_parse(NULL, 3, argv, &o, err, sizeof(err)), 0);
    assert_int_equal(o.npos, 2);

    /* Exactly 16 positionals fit. */
    {
        char *many[18] = {"x"};

        for (int k = 1; k <= 16; k++) {
            many[k] = "p";
        }
        assert_int_equal(shell_opts_parse(spec, 17, many, &o, err, sizeof(err)), 0);
        assert_int_equal(o.npos, 16);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_opts_table),
        cmocka_unit_test(test_opts_lookup),
        cmocka_unit_test(test_opts_spec_limits),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

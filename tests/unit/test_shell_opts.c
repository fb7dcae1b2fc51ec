/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for command option parsing (shell/opts.c): "--name value",
 * "--name=value", flags, "--" ending options, positional words mixed with
 * options, and the usage errors (unknown, missing value, repeated, a value
 * given to a flag, single-dash words, too many positionals), and free text:
 * --reason/--comment/--note taking every word up to the next of the
 * command's own options, and "*" (search) taking all the other words.
 * Table-driven: each row is a command line as words plus what
 * shell_opts_parse must find.
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

/* The spec most rows use: request's options, roughly. */
static const char *const spec[] = {"for=", "reason=", "login=", "json", "all", NULL};
/* search's: every word that is not an option is the text. */
static const char *const spec_rest[] = {"limit=", "json", "*", NULL};
/* Two free texts in one command. */
static const char *const spec_two[] = {"reason=", "comment=", "for=", NULL};

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
    const char *const *spec; /* NULL: spec */
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
     {"approve", "--login", "ok", "12", "--json", "13", NULL},
     0,
     {"12", "13", NULL},
     {{"login", "ok"}, {"json", ""}},
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
    /* ---- free text: every word up to the next of the command's options ---- */
    {"free text: words up to the end",
     {"request", "web-1", "--for", "1h", "--reason", "INC-4711:", "disk", "full", "on", "web-1",
      NULL},
     0,
     {"web-1", NULL},
     {{"reason", "INC-4711: disk full on web-1"}, {"for", "1h"}},
     NULL},
    {"free text: ends at the next option",
     {"breakglass", "web-1", "--reason", "INC-4712:", "site", "down", "--for", "30m", NULL},
     0,
     {"web-1", NULL},
     {{"reason", "INC-4712: site down"}, {"for", "30m"}},
     NULL},
    {"free text: name=value goes on with the next words",
     {"x", "--reason=a", "b", "c", "--json", NULL},
     0,
     {NULL},
     {{"reason", "a b c"}, {"json", ""}},
     NULL},
    {"free text: one word is kept as it is",
     {"x", "--reason", "ok", "--all", NULL},
     0,
     {NULL},
     {{"reason", "ok"}, {"all", ""}},
     NULL},
    {"free text: other dashed words, -- and numbers are text",
     {"x", "--reason", "see", "--force", "-x", "--", "12", "--nope=1", NULL},
     0,
     {NULL},
     {{"reason", "see --force -x -- 12 --nope=1"}},
     NULL},
    {"free text: one of the options inside is the option",
     {"x", "--reason", "see", "--for", "details", NULL},
     0,
     {NULL},
     {{"reason", "see"}, {"for", "details"}},
     NULL},
    {"free text: an option with = ends it too",
     {"x", "--reason", "a", "b", "--for=1h", NULL},
     0,
     {NULL},
     {{"reason", "a b"}, {"for", "1h"}},
     NULL},
    {"free text: a quoted text is one word, option names and all",
     {"x", "--reason", "see --for details", "--for", "1h", NULL},
     0,
     {NULL},
     {{"reason", "see --for details"}, {"for", "1h"}},
     NULL},
    {"free text: several spaces inside a word are kept",
     {"x", "--reason", "a  b", "c\td", "caf\xc3\xa9", NULL},
     0,
     {NULL},
     {{"reason", "a  b c\td caf\xc3\xa9"}},
     NULL},
    {"free text: empty words add nothing",
     {"x", "--reason", "", "a", "", "b", "", NULL},
     0,
     {NULL},
     {{"reason", "a b"}},
     NULL},
    {"free text: one empty word is an empty value (the command refuses it)",
     {"x", "--reason", "", NULL},
     0,
     {NULL},
     {{"reason", ""}},
     NULL},
    {"free text: positional words go before it",
     {"approve", "12", "--reason", "ok", "13", NULL},
     0,
     {"12", NULL},
     {{"reason", "ok 13"}},
     NULL},
    {"free text: no word before the next option",
     {"x", "--reason", "--for", "1h", NULL},
     DB_ERR_USAGE,
     {NULL},
     {{NULL, NULL}},
     "option '--reason' needs a value"},
    {"free text: no word at the end",
     {"x", "web-1", "--reason", NULL},
     DB_ERR_USAGE,
     {NULL},
     {{NULL, NULL}},
     "option '--reason' needs a value"},
    {"free text: only an option name after =",
     {"x", "--reason=--for", "1h", NULL},
     DB_ERR_USAGE,
     {NULL},
     {{NULL, NULL}},
     "option '--reason' needs a value"},
    {"free text: only a flag's name",
     {"x", "--reason", "--json", NULL},
     DB_ERR_USAGE,
     {NULL},
     {{NULL, NULL}},
     "option '--reason' needs a value"},
    {"free text: given twice",
     {"x", "--reason", "a", "--reason", "b", NULL},
     DB_ERR_USAGE,
     {NULL},
     {{NULL, NULL}},
     "option '--reason' given more than once (to write it inside the --reason text, quote"},
    {"free text: an option given again inside it says how to quote",
     {"x", "--for", "1h", "--reason", "extend", "--for", "another", "hour", NULL},
     DB_ERR_USAGE,
     {NULL},
     {{NULL, NULL}},
     "option '--for' given more than once (to write it inside the --reason text"},
    {"free text: a flag with a value ends it, and is refused",
     {"x", "--reason", "a", "--json=1", NULL},
     DB_ERR_USAGE,
     {NULL},
     {{NULL, NULL}},
     "takes no value"},
    {"free text: two of them",
     {"x", "--comment", "c", "d", "--reason", "a", "b", "--for", "1h", NULL},
     0,
     {NULL},
     {{"reason", "a b"}, {"comment", "c d"}, {"for", "1h"}},
     NULL,
     spec_two},
    {"free text: two of them, the second with =",
     {"x", "--reason", "a", "b", "--comment=c", "d", NULL},
     0,
     {NULL},
     {{"reason", "a b"}, {"comment", "c d"}},
     NULL,
     spec_two},

    /* ---- "*": all the words that are not options are one text ---- */
    {"rest: words with dashes",
     {"search", "rm", "-rf", "/", NULL},
     0,
     {NULL},
     {{"*", "rm -rf /"}, {"json", NULL}},
     NULL,
     spec_rest},
    {"rest: options anywhere",
     {"search", "--json", "rm", "-rf", "--limit", "5", "x", NULL},
     0,
     {NULL},
     {{"*", "rm -rf x"}, {"json", ""}, {"limit", "5"}},
     NULL,
     spec_rest},
    {"rest: unknown --words are text",
     {"search", "--force", "push", NULL},
     0,
     {NULL},
     {{"*", "--force push"}},
     NULL,
     spec_rest},
    {"rest: after -- even an option is text",
     {"search", "--", "--json", "--", "x", NULL},
     0,
     {NULL},
     {{"*", "--json -- x"}, {"json", NULL}},
     NULL,
     spec_rest},
    {"rest: none", {"search", "--json", NULL}, 0, {NULL}, {{"*", NULL}}, NULL, spec_rest},
    {"rest: one empty word", {"search", "", NULL}, 0, {NULL}, {{"*", ""}}, NULL, spec_rest},
    {"rest: more words than positionals may be",
     {"search", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15",
      "16", "17", NULL},
     0,
     {NULL},
     {{"*", "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17"}},
     NULL,
     spec_rest},
    {"rest: an option still needs its value",
     {"search", "abc", "--limit", NULL},
     DB_ERR_USAGE,
     {NULL},
     {{NULL, NULL}},
     "option '--limit' needs a value",
     spec_rest},
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
        rc = shell_opts_parse(oc->spec != NULL ? oc->spec : spec, argc, (char **)oc->argv, &o, err,
                              sizeof(err));
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

/* The texts live in o.text, which holds what a command line can: longer is a usage error. */
static void test_opts_text_limits(void **state)
{
    static const char *const both[] = {"reason=", "*", NULL};
    char *argv[8] = {"x", "--reason", NULL, NULL, NULL};
    char *big = malloc(SHELL_LINE_MAX + 100);
    struct shell_opts o;
    char err[128];

    (void)state;
    assert_non_null(big);
    /* A spec cannot have both: they would compete for the same words. */
    argv[2] = "a";
    assert_int_equal(shell_opts_parse(both, 3, argv, &o, err, sizeof(err)), DB_ERR_INVALID);

    /* One word of any length is used as it stands (the command checks the length). */
    memset(big, 'a', SHELL_LINE_MAX + 50);
    big[SHELL_LINE_MAX + 50] = '\0';
    argv[2] = big;
    assert_int_equal(shell_opts_parse(spec, 3, argv, &o, err, sizeof(err)), 0);
    assert_ptr_equal(shell_opt(&o, "reason"), big);

    /* Joined, it must fit. */
    argv[3] = "b";
    assert_int_equal(shell_opts_parse(spec, 4, argv, &o, err, sizeof(err)), DB_ERR_USAGE);
    assert_non_null(strstr(err, "too long"));
    assert_null(shell_opt(&o, "reason"));
    big[SHELL_LINE_MAX - 2] = '\0';
    assert_int_equal(shell_opts_parse(spec, 4, argv, &o, err, sizeof(err)), 0);
    assert_int_equal(strlen(shell_opt(&o, "reason")), SHELL_LINE_MAX);
    argv[3] = "bc";
    assert_int_equal(shell_opts_parse(spec, 4, argv, &o, err, sizeof(err)), DB_ERR_USAGE);

    /* The same for "*". */
    argv[1] = big;
    argv[2] = "bc";
    assert_int_equal(shell_opts_parse(spec_rest, 3, argv, &o, err, sizeof(err)), DB_ERR_USAGE);
    assert_non_null(strstr(err, "too long"));
    argv[2] = "b";
    assert_int_equal(shell_opts_parse(spec_rest, 3, argv, &o, err, sizeof(err)), 0);
    assert_int_equal(strlen(shell_opt(&o, "*")), SHELL_LINE_MAX);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_opts_table),
        cmocka_unit_test(test_opts_lookup),
        cmocka_unit_test(test_opts_spec_limits),
        cmocka_unit_test(test_opts_text_limits),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dir_filter_build: RFC 4515 escaping of the user name and DN before they
 * are put into ldap.user_filter / ldap.group_filter.  A wrong answer here is
 * an LDAP injection ("alice)(uid=*" logging in as whoever comes first), so
 * every metacharacter, high and control bytes, both placeholders and every
 * refusal have a row below.  No directory is needed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "broker.h"

#define MALLORY_DN "cn=mallory *)(cn=*,ou=people,dc=example,dc=org"

struct filter_case {
    const char *name;
    const char *tmpl;
    const char *user;
    const char *dn;
    int want_rc;
    const char *want; /* NULL when refused */
};

static const struct filter_case cases[] = {
    {"plain", "(&(objectClass=inetOrgPerson)(uid=%u))", "alice", NULL, 0,
     "(&(objectClass=inetOrgPerson)(uid=alice))"},
    {"star", "(uid=%u)", "*", NULL, 0, "(uid=\\2A)"},
    {"prefix star", "(uid=%u)", "alic*", NULL, 0, "(uid=alic\\2A)"},
    {"close-open", "(uid=%u)", "alice)(uid=*", NULL, 0, "(uid=alice\\29\\28uid=\\2A)"},
    {"or injection", "(uid=%u)", "*)(|(uid=*", NULL, 0, "(uid=\\2A\\29\\28|\\28uid=\\2A)"},
    {"backslash", "(uid=%u)", "a\\b", NULL, 0, "(uid=a\\5Cb)"},
    {"escaped-looking input", "(uid=%u)", "\\2A", NULL, 0, "(uid=\\5C2A)"},
    {"utf-8 bytes", "(cn=%u)", "caf\xc3\xa9", NULL, 0, "(cn=caf\\C3\\A9)"},
    {"high bytes", "(cn=%u)", "\x80\xff", NULL, 0, "(cn=\\80\\FF)"},
    {"control bytes", "(cn=%u)", "\x01\x1f\x7f", NULL, 0, "(cn=\\01\\1F\\7F)"},
    {"harmless punctuation", "(uid=%u)", "a.b-c_d +=,", NULL, 0, "(uid=a.b-c_d +=,)"},
    {"user twice", "(|(uid=%u)(mail=%u))", "x*", NULL, 0, "(|(uid=x\\2A)(mail=x\\2A))"},
    {"dn", "(member=%d)", "alice", "uid=alice,ou=people,dc=example,dc=org", 0,
     "(member=uid=alice,ou=people,dc=example,dc=org)"},
    {"dn with metacharacters", "(member=%d)", "mallory", MALLORY_DN, 0,
     "(member=cn=mallory \\2A\\29\\28cn=\\2A,ou=people,dc=example,dc=org)"},
    {"dn and user", "(|(member=%d)(memberUid=%u))", "bob", "uid=bob,dc=x", 0,
     "(|(member=uid=bob,dc=x)(memberUid=bob))"},
    {"dn escaped, user escaped", "(|(member=%d)(memberUid=%u))", "b)", "cn=a\\,b", 0,
     "(|(member=cn=a\\5C,b)(memberUid=b\\29))"},
    {"only %u: dn unused", "(uid=%u)", "carol", NULL, 0, "(uid=carol)"},
    {"only %d: user unused", "(member=%d)", NULL, "uid=dave,dc=x", 0, "(member=uid=dave,dc=x)"},
    {"percent literal", "(description=100%%)", "x", NULL, 0, "(description=100%)"},
    {"no placeholder kept as is", "(objectClass=*)", "x", NULL, 0, "(objectClass=*)"},
    /* Refusals. */
    {"empty user", "(uid=%u)", "", NULL, DB_ERR_INVALID, NULL},
    {"null user", "(uid=%u)", NULL, NULL, DB_ERR_INVALID, NULL},
    {"%d without dn", "(member=%d)", "alice", NULL, DB_ERR_INVALID, NULL},
    {"%d with empty dn", "(member=%d)", "alice", "", DB_ERR_INVALID, NULL},
    {"empty template", "", "alice", NULL, DB_ERR_INVALID, NULL},
    {"null template", NULL, "alice", NULL, DB_ERR_INVALID, NULL},
    {"unknown placeholder", "(uid=%s)", "alice", NULL, DB_ERR_INVALID, NULL},
    {"trailing percent", "(uid=%u)%", "alice", NULL, DB_ERR_INVALID, NULL},
};

static void test_filter_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct filter_case *c = &cases[i];
        char *out = (char *)0x1; /* must be reset on every path */
        int rc = dir_filter_build(c->tmpl, c->user, c->dn, &out);

        if (rc != c->want_rc) {
            fail_msg("%s: rc %d, want %d", c->name, rc, c->want_rc);
        }
        if (c->want == NULL) {
            if (out != NULL) {
                fail_msg("%s: refused but out is not NULL", c->name);
            }
            continue;
        }
        if (out == NULL || strcmp(out, c->want) != 0) {
            fail_msg("%s: got \"%s\", want \"%s\"", c->name, out != NULL ? out : "(null)", c->want);
        }
        free(out);
    }
}

static void test_filter_null_out(void **state)
{
    (void)state;
    assert_int_equal(dir_filter_build("(uid=%u)", "alice", NULL, NULL), DB_ERR_INVALID);
}

/*
 * Every single byte as a user name: it comes back either as itself (when it
 * cannot change the filter's meaning) or as \XX, and the value never holds a
 * bare metacharacter.
 */
static void test_filter_every_byte(void **state)
{
    (void)state;
    for (int b = 1; b < 256; b++) {
        char user[2] = {(char)b, '\0'}, hex[8];
        char *out = NULL;
        const char *val;

        assert_int_equal(dir_filter_build("(uid=%u)", user, NULL, &out), 0);
        assert_non_null(out);
        assert_true(strncmp(out, "(uid=", 5) == 0);
        val = out + 5;
        assert_true(strlen(val) >= 2 && val[strlen(val) - 1] == ')');
        snprintf(hex, sizeof(hex), "\\%02X)", b);
        if (b < 0x20 || b >= 0x7f || strchr("*()\\", b) != NULL) {
            if (strcmp(val, hex) != 0) {
                fail_msg("byte 0x%02x: got \"%s\", want \"%s\"", b, val, hex);
            }
        } else {
            assert_int_equal((unsigned char)val[0], b);
            assert_string_equal(val + 1, ")");
        }
        free(out);
    }
}

/* A long value: the output grows past any initial buffer and stays exact. */
static void test_filter_long_value(void **state)
{
    char user[4097], *out = NULL;
    size_t i;

    (void)state;
    memset(user, '*', sizeof(user) - 1);
    user[sizeof(user) - 1] = '\0';
    assert_int_equal(dir_filter_build("(uid=%u)", user, NULL, &out), 0);
    assert_int_equal(strlen(out), 5 + 3 * 4096 + 1);
    for (i = 0; i < 4096; i++) {
        assert_memory_equal(out + 5 + 3 * i, "\\2A", 3);
    }
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filter_table),
        cmocka_unit_test(test_filter_null_out),
        cmocka_unit_test(test_filter_every_byte),
        cmocka_unit_test(test_filter_long_value),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

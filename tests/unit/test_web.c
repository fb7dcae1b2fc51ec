/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The web console's small parsers, from tables: form fields of a login
 * POST, terminal bytes made valid UTF-8 for JSON (split characters joined,
 * anything else U+FFFD), refusal codes to HTTP statuses, and the
 * constant-time comparison of tokens.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "web/web.h"

static void test_form_fields(void **state)
{
    static const struct {
        const char *body, *name;
        int rc;
        const char *want;
    } cases[] = {
        {"user=bob&password=a%20b+c", "user", 0, "bob"},
        {"user=bob&password=a%20b+c", "password", 0, "a b c"},
        {"username=x&user=y", "user", 0, "y"},
        {"user=", "user", 0, ""},
        {"user=%7e%7E", "user", 0, "~~"},
        {"password=x", "user", DB_ERR_NOTFOUND, ""},
        {"user", "user", DB_ERR_NOTFOUND, ""},
        {"user=%zz", "user", DB_ERR_INVALID, ""},
        {"user=%4", "user", DB_ERR_INVALID, ""},
        {"user=a%00b", "user", DB_ERR_INVALID, ""},
        {"user=0123456789012345678901234567890123456789", "user", DB_ERR_INVALID, ""},
    };
    char out[32];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct web_req r;
        int rc;

        memset(&r, 0, sizeof(r));
        r.body = (char *)cases[i].body;
        r.bodylen = strlen(cases[i].body);
        rc = web_form_field(&r, cases[i].name, out, sizeof(out));
        if (rc != cases[i].rc || (rc == 0 && strcmp(out, cases[i].want) != 0)) {
            print_error("case %zu: rc %d out \"%s\"\n", i, rc, out);
            fail();
        }
    }
}

static void test_utf8(void **state)
{
    static const struct {
        const char *in;
        size_t len;
        const char *want;
        size_t carry;
    } cases[] = {
        {"plain", 5, "plain", 0},
        {"\xe2\x82\xac", 3, "\xe2\x82\xac", 0},
        {"a\xff" "b", 3, "a\xef\xbf\xbd" "b", 0},
        {"a\0b", 3, "a\xef\xbf\xbd" "b", 0},
        {"\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd", 0},
        {"x\xe2\x82", 3, "x", 2},
    };
    unsigned char carry[4];
    size_t ncarry = 0;
    json_t *j = NULL;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ncarry = 0;
        j = web_utf8_json(carry, &ncarry, cases[i].in, cases[i].len);
        assert_non_null(j);
        if (strcmp(json_string_value(j), cases[i].want) != 0 || ncarry != cases[i].carry) {
            print_error("case %zu: \"%s\" carry %zu\n", i, json_string_value(j), ncarry);
            fail();
        }
        json_decref(j);
    }
    /* a character split across two events is joined */
    ncarry = 0;
    j = web_utf8_json(carry, &ncarry, "\xe2", 1);
    assert_string_equal(json_string_value(j), "");
    assert_int_equal(ncarry, 1);
    json_decref(j);
    j = web_utf8_json(carry, &ncarry, "\x82\xac!", 3);
    assert_string_equal(json_string_value(j), "\xe2\x82\xac!");
    assert_int_equal(ncarry, 0);
    json_decref(j);
}

static void test_status(void **state)
{
    static const struct {
        int rc;
        unsigned status;
    } cases[] = {
        {DB_ERR_INVALID, 400},  {DB_ERR_USAGE, 400},   {DB_ERR_AUTH, 401},
        {DB_ERR_DENIED, 403},   {DB_ERR_NOTFOUND, 404}, {DB_ERR_CONFLICT, 409},
        {DB_ERR_EXISTS, 409},   {DB_ERR_TAMPERED, 409}, {DB_ERR_UNAVAIL, 503},
        {DB_ERR_BUSY, 503},     {DB_ERR_NOMEM, 500},   {0, 500},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(web_status_for(cases[i].rc), cases[i].status);
    }
}

static void test_secure_eq(void **state)
{
    (void)state;
    assert_true(web_secure_eq("abc", "abc"));
    assert_true(web_secure_eq("", ""));
    assert_false(web_secure_eq("abc", "abd"));
    assert_false(web_secure_eq("abc", "ab"));
    assert_false(web_secure_eq("ab", "abc"));
    assert_false(web_secure_eq("", "a"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_form_fields),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_status),
        cmocka_unit_test(test_secure_eq),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

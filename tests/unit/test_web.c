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
        {"a\xff"
         "b",
         3,
         "a\xef\xbf\xbd"
         "b",
         0},
        {"a\0b", 3,
         "a\xef\xbf\xbd"
         "b",
         0},
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
        {DB_ERR_INVALID, 400}, {DB_ERR_USAGE, 400},    {DB_ERR_AUTH, 401},
        {DB_ERR_DENIED, 403},  {DB_ERR_NOTFOUND, 404}, {DB_ERR_CONFLICT, 409},
        {DB_ERR_EXISTS, 409},  {DB_ERR_TAMPERED, 409}, {DB_ERR_UNAVAIL, 503},
        {DB_ERR_BUSY, 503},    {DB_ERR_NOMEM, 500},    {0, 500},
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

/* Browser sessions: found by their cookie, ended after WEB_IDLE_S unused, never by another token.
 */
static void test_sessions_idle(void **state)
{
    static struct web_app app;
    char *groups[] = {"sre", NULL};
    struct dir_user u = {.name = "bob", .dn = "uid=bob", .groups = groups, .ngroups = 1};
    char cookie[160], token[WEBLINK_TOKEN_LEN + 1];
    struct web_sess *s = NULL;

    (void)state;
    memset(&app, 0, sizeof(app));
    assert_int_equal(web_sess_new(&app, &u, 0, 1000, cookie, sizeof(cookie)), 0);
    assert_int_equal(strncmp(cookie, WEB_COOKIE "=", strlen(WEB_COOKIE) + 1), 0);
    assert_non_null(strstr(cookie, "; Secure; HttpOnly; SameSite=Strict"));
    memcpy(token, cookie + strlen(WEB_COOKIE) + 1, WEBLINK_TOKEN_LEN);
    token[WEBLINK_TOKEN_LEN] = '\0';
    assert_true(weblink_token_valid(token, strlen(token)));
    /* the process keeps a hash of the token, not the token */
    assert_null(strstr(app.sess[0]->key, token));
    s = web_sess_find(&app, token, 1000 + WEB_IDLE_S);
    assert_non_null(s);
    assert_string_equal(s->user, "bob");
    assert_string_equal(s->groups[0], "sre");
    assert_int_equal(strlen(s->csrf), WEBLINK_TOKEN_LEN);
    /* used at 1000 + WEB_IDLE_S: good until WEB_IDLE_S after that */
    assert_non_null(web_sess_find(&app, token, 1000 + 2 * WEB_IDLE_S));
    token[0] = token[0] == 'A' ? 'B' : 'A';
    assert_null(web_sess_find(&app, token, 1000 + 2 * WEB_IDLE_S));
    token[0] = cookie[strlen(WEB_COOKIE) + 1];
    assert_null(web_sess_find(&app, token, 1000 + 3 * WEB_IDLE_S + 1));
    assert_int_equal(app.nsess, 0);
    assert_null(web_sess_find(&app, token, 1000 + 2 * WEB_IDLE_S));
    /* and the sweep ends idle ones too */
    assert_int_equal(web_sess_new(&app, &u, 1, 5000, cookie, sizeof(cookie)), 0);
    web_sess_expire(&app, 5000 + WEB_IDLE_S);
    assert_int_equal(app.nsess, 1);
    web_sess_expire(&app, 5000 + WEB_IDLE_S + 1);
    assert_int_equal(app.nsess, 0);
    /* a session kept busy still ends WEB_MAX_S after its login */
    assert_int_equal(web_sess_new(&app, &u, 0, 9000, cookie, sizeof(cookie)), 0);
    memcpy(token, cookie + strlen(WEB_COOKIE) + 1, WEBLINK_TOKEN_LEN);
    for (long long t = 9000; t <= 9000 + WEB_MAX_S; t += WEB_IDLE_S) {
        assert_non_null(web_sess_find(&app, token, t));
    }
    assert_null(web_sess_find(&app, token, 9000 + WEB_MAX_S + 1));
    web_sess_free_all(&app);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_form_fields),   cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_status),        cmocka_unit_test(test_secure_eq),
        cmocka_unit_test(test_sessions_idle),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for policies/policy.c and syntax.c: a fixture with every key
 * is read field by field; a table of broken policies must each be refused
 * with the right line and reason; the example policies must load; and a
 * policy that parses but fails lint must never be returned by policy_load_*.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

#define KEY_ED "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIESI0XHBjp/qERqxgizW1kcrwTsnM6AaElK1pZJOmomc"
#define KEY_EC                                                                                     \
    "ecdsa-sha2-nistp256 "                                                                         \
    "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBMvxWuuuFQNLA6Y/frTzorPwr5xW3C0yI7IGY31/" \
    "Z5faQKJ9kTot7Z6/THFs5rdwqKs3vVnW5uz8J4a+2ehKEv8="

/* Lines 1-6. */
#define TARGETS                                                                                    \
    "targets:\n"                                                                                   \
    "  - name: web-1\n"                                                                            \
    "    address: 10.0.1.5:22\n"                                                                   \
    "    host_key: \"" KEY_ED "\"\n"                                                               \
    "    logins: [deploy]\n"                                                                       \
    "    labels: {env: prod}\n"
/* A target whose line 3 (address), 4 (host_key) and 5 (logins) the case writes. */
#define TARGET_WITH(addr, key, logins)                                                             \
    "targets:\n  - name: web-1\n    address: " addr "\n    host_key: " key "\n    logins: " logins \
    "\n"
/* Lines 7-9; the case's rule keys start on line 10. */
#define RULE_START "rules:\n  - name: r1\n    requesters: [\"group:sre\"]\n"
#define RULE_REST "    max_duration: 1h\n    approvers: [\"group:leads\"]\n"

struct bad_case {
    const char *yaml;
    int line;
    const char *needle;
};

static const struct bad_case bad_cases[] = {
    /* top level */
    {"- a\n", 1, "expected a map"},
    {TARGETS "colour: blue\n", 7, "unknown key \"colour\""},
    {"request_ttl: 5\n" TARGETS, 1, "not a duration"},
    {"request_ttl: 0s\n" TARGETS, 1, "not a duration"},
    {"request_ttl: [1h]\n" TARGETS, 1, "expected a string, got a list"},
    {"protected: {env: prod}\n" TARGETS, 1, "protected.env: expected a list"},
    {"protected: {env: []}\n" TARGETS, 1, "at least 1"},
    {"protected: [env]\n" TARGETS, 1, "expected a map"},
    {"targets: {web-1: {}}\n", 1, "targets: expected a list"},
    {"a: &x 1\n", 1, "anchors"},
    /* targets */
    {"targets:\n  - address: 10.0.1.5\n    logins: [deploy]\n", 2, "missing \"name\""},
    {"targets:\n  - name: Web-1\n", 2, "must match"},
    {"targets:\n  - name: "
     "a23456789012345678901234567890123456789012345678901234567890123456\n",
     2, "must match"},
    {"targets:\n  - name: web-1\n    address: 10.0.1.5\n    logins: [deploy]\n    hostkey: x\n", 5,
     "target web-1: unknown key \"hostkey\""},
    {"targets:\n  - hostkey: x\n", 2, "targets[0]: missing \"name\""},
    {"targets:\n  - web-1\n", 2, "targets[0]: expected a map, got a string"},
    {"rules:\n  - name: r1\n    requesters: [\"group:a\"]\n    approver: x\n", 4,
     "rule r1: unknown key \"approver\""},
    {"targets:\n  - name: web-1\n    logins: [deploy]\n", 2, "missing \"address\""},
    {TARGET_WITH("10.0.1.5:0", "\"" KEY_ED "\"", "[deploy]"), 3, "port must be"},
    {TARGET_WITH("10.0.1.5:65536", "\"" KEY_ED "\"", "[deploy]"), 3, "port must be"},
    {TARGET_WITH("10.0.1.5:ssh", "\"" KEY_ED "\"", "[deploy]"), 3, "port must be"},
    {TARGET_WITH("\"10.0.1.5:\"", "\"" KEY_ED "\"", "[deploy]"), 3, "port must be"},
    {TARGET_WITH("\":22\"", "\"" KEY_ED "\"", "[deploy]"), 3, "bad host name"},
    {TARGET_WITH("2001:db8::1", "\"" KEY_ED "\"", "[deploy]"), 3, "[ADDRESS]:PORT"},
    {TARGET_WITH("\"[2001:db8::1\"", "\"" KEY_ED "\"", "[deploy]"), 3, "missing ']'"},
    {TARGET_WITH("\"[zz::1]:22\"", "\"" KEY_ED "\"", "[deploy]"), 3, "bad IPv6"},
    {TARGET_WITH("\"[::1]22\"", "\"" KEY_ED "\"", "[deploy]"), 3, "expected ':PORT'"},
    {TARGET_WITH("300.1.1.1:22", "\"" KEY_ED "\"", "[deploy]"), 3, "bad host name"},
    {TARGET_WITH("\"web 1:22\"", "\"" KEY_ED "\"", "[deploy]"), 3, "bad host name"},
    {TARGET_WITH("10.0.1.5", "\"ssh-dss AAAAB3NzaC1kc3M=\"", "[deploy]"), 4,
     "unknown host key type"},
    {TARGET_WITH("10.0.1.5", "ssh-ed25519", "[deploy]"), 4, "TYPE BASE64"},
    {TARGET_WITH("10.0.1.5", "\"ssh-ed25519 AAAAC3Nz!!!!\"", "[deploy]"), 4, "not valid base64"},
    {TARGET_WITH("10.0.1.5", "\"ssh-ed25519 AAAAC3NzaC1\"", "[deploy]"), 4, "not valid base64"},
    {TARGET_WITH("10.0.1.5", "\"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5\"", "[deploy]"), 4,
     "not a ssh-ed25519 key"},
    {TARGET_WITH("10.0.1.5", "\"ssh-rsa " KEY_ED "\"", "[deploy]"), 4, "not valid base64"},
    {TARGET_WITH("10.0.1.5", "\"ssh-ed25519 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTY=\"",
                 "[deploy]"),
     4, "not a ssh-ed25519 key"},
    {TARGET_WITH("10.0.1.5", "[x]", "[deploy]"), 4, "expected a string, got a list"},
    {TARGET_WITH("10.0.1.5", "\"" KEY_ED "\"", "[]"), 5, "at least 1"},
    {TARGET_WITH("10.0.1.5", "\"" KEY_ED "\"", "deploy"), 5, "expected a list"},
    {TARGET_WITH("10.0.1.5", "\"" KEY_ED "\"", "[deploy, deploy]"), 5, "listed twice"},
    {TARGET_WITH("10.0.1.5", "\"" KEY_ED "\"", "[\"de ploy\"]"), 5, "not a valid login"},
    {TARGET_WITH("10.0.1.5", "\"" KEY_ED "\"", "[\"-oProxyCommand\"]"), 5, "not a valid login"},
    {TARGET_WITH("10.0.1.5", "\"" KEY_ED "\"", "[{a: b}]"), 5, "expected a string, got a map"},
    {TARGET_WITH("10.0.1.5", "\"" KEY_ED "\"", "[deploy]") "    labels: {env: [prod]}\n", 6,
     "expected a string, got a list"},
    {TARGET_WITH("10.0.1.5", "\"" KEY_ED "\"", "[deploy]") "    labels: {\"bad key\": x}\n", 6,
     "not a valid label name"},
    {TARGET_WITH("10.0.1.5", "\"" KEY_ED "\"", "[deploy]") "    labels: {env: \"pr od\"}\n", 6,
     "without spaces"},
    {TARGET_WITH("10.0.1.5", "\"" KEY_ED "\"", "[deploy]") "    labels: {}\n", 6,
     "at least one label"},
    {TARGET_WITH("10.0.1.5", "\"" KEY_ED "\"", "[deploy]") "    record_input: yes\n", 6,
     "true or false"},
    {TARGET_WITH("10.0.1.5", "\"" KEY_ED "\"", "[deploy]") "    record_input: \"false\"\n", 6,
     "true or false"},
    {TARGETS "  - name: web-1\n    address: 10.0.1.6\n    logins: [deploy]\n", 7,
     "target web-1 is defined twice (first on line 2)"},
    /* rules */
    {TARGETS "rules:\n  - name: r1\n    targets: {names: [web-1]}\n", 8, "missing \"requesters\""},
    {TARGETS "rules:\n  - name: R1\n", 8, "rule name \"R1\" must match"},
    {TARGETS "rules:\n  - requesters: []\n", 8, "missing \"name\""},
    {TARGETS RULE_START "    targets: {names: [web-1]}\n    approver: [\"group:x\"]\n", 11,
     "unknown key \"approver\""},
    {TARGETS "rules:\n  - name: r1\n    requesters: [sre]\n", 9, "not group:NAME or user:NAME"},
    {TARGETS "rules:\n  - name: r1\n    requesters: [\"group:\"]\n", 9, "not group:NAME"},
    {TARGETS "rules:\n  - name: r1\n    requesters: [\"user:\"]\n", 9, "not group:NAME"},
    {TARGETS "rules:\n  - name: r1\n    requesters: [\"group:s re\"]\n", 9, "not group:NAME"},
    {TARGETS "rules:\n  - name: r1\n    requesters: [\"group:a\\tb\"]\n", 9, "not group:NAME"},
    {TARGETS "rules:\n  - name: r1\n    requesters: [\"Group:sre\"]\n", 9, "not group:NAME"},
    {TARGETS "rules:\n  - name: r1\n    requesters: []\n", 9, "at least one principal"},
    {TARGETS "rules:\n  - name: r1\n    requesters: [\"user:a\", \"user:a\"]\n", 9, "listed twice"},
    {TARGETS RULE_START "    approvers: [\"group:leads\"]\n", 8, "missing \"targets\""},
    {TARGETS RULE_START "    targets: {}\n", 10, "exactly one of labels or names"},
    {TARGETS RULE_START "    targets: {names: [web-1], labels: {env: prod}}\n", 10,
     "exactly one of labels or names"},
    {TARGETS RULE_START "    targets: {names: []}\n", 10, "at least 1"},
    {TARGETS RULE_START "    targets: {names: [Web-1]}\n", 10, "not a valid target name"},
    {TARGETS RULE_START "    targets: {labels: {}}\n", 10, "at least one label"},
    {TARGETS RULE_START "    targets: {hosts: [web-1]}\n", 10, "unknown key \"hosts\""},
    {TARGETS RULE_START "    targets: [web-1]\n", 10, "expected a map"},
    {TARGETS RULE_START "    targets: {names: [web-1]}\n    max_duration: 4\n", 11,
     "\"4\" is not a duration"},
    {TARGETS RULE_START "    targets: {names: [web-1]}\n    max_duration: 4 hours\n", 11,
     "not a duration"},
    {TARGETS RULE_START "    targets: {names: [web-1]}\n    max_duration: -1h\n", 11,
     "not a duration"},
    {TARGETS RULE_START "    targets: {names: [web-1]}\n    approvals: -1\n", 11, "approvals"},
    {TARGETS RULE_START "    targets: {names: [web-1]}\n    approvals: \"2\"\n", 11, "approvals"},
    {TARGETS RULE_START "    targets: {names: [web-1]}\n    approvals: 101\n", 11, "approvals"},
    {TARGETS RULE_START "    targets: {names: [web-1]}\n    approvals: 1.5\n", 11, "approvals"},
    {TARGETS RULE_START "    targets: {names: [web-1]}\n    standing: 1\n", 11, "true or false"},
    {TARGETS RULE_START "    targets: {names: [web-1]}\n    logins: [\"a:b\"]\n", 11,
     "not a valid login"},
    {TARGETS RULE_START "    targets: {names: [web-1]}\n" RULE_REST
                        "  - name: r1\n    requesters: [\"group:sre\"]\n"
                        "    targets: {names: [web-1]}\n",
     13, "rule r1 is defined twice (first on line 8)"},
    /* reviewers and break_glass */
    {TARGETS "reviewers: \"group:security\"\n", 7, "reviewers: expected a list"},
    {TARGETS "reviewers: [\"team:security\"]\n", 7, "not group:NAME"},
    {TARGETS "break_glass:\n  max_duration: 30m\n", 8, "missing \"requesters\""},
    {TARGETS "break_glass:\n  requesters: [\"group:oncall\"]\n  max: 30m\n", 9,
     "unknown key \"max\""},
    {TARGETS "break_glass:\n  requesters: [\"group:oncall\"]\n  max_duration: soon\n", 9,
     "not a duration"},
    {TARGETS "break_glass: [\"group:oncall\"]\n", 7, "break_glass: expected a map"},
};

static void test_bad_policies(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad_case *c = &bad_cases[i];
        struct policy *p = NULL;
        char err[512], prefix[32];
        int r = policy_parse_buffer("p.yaml", c->yaml, strlen(c->yaml), &p, err, sizeof(err));

        snprintf(prefix, sizeof(prefix), "p.yaml:%d: ", c->line);
        if (r != DB_ERR_INVALID || strncmp(err, prefix, strlen(prefix)) != 0 ||
            strstr(err, c->needle) == NULL) {
            print_error("case %zu: r=%d err \"%s\"; wanted line %d and \"%s\"\n", i, r,
                        r < 0 ? err : "", c->line, c->needle);
            fail();
        }
        assert_null(p);
        /* Loading gives the same answer: parse errors come before lint. */
        assert_int_equal(
            policy_load_buffer("p.yaml", c->yaml, strlen(c->yaml), &p, err, sizeof(err)),
            DB_ERR_INVALID);
        assert_non_null(strstr(err, c->needle));
        assert_null(p);
    }
}

static void test_fixture_fields(void **state)
{
    struct policy *p = NULL;
    const struct policy_target *t = NULL;
    const struct policy_rule *r = NULL;
    char err[1024] = "";
    int rc = policy_load_file(FIXTURES_DIR "/policy/good.yaml", &p, err, sizeof(err));

    (void)state;
    if (rc != 0) {
        print_error("%s\n", err);
    }
    assert_int_equal(rc, 0);
    assert_string_equal(p->path, FIXTURES_DIR "/policy/good.yaml");
    assert_int_equal(p->nprotect, 1);
    assert_string_equal(p->protect[0].key, "env");
    assert_int_equal(p->protect[0].nvalues, 2);
    assert_string_equal(p->protect[0].values[1], "dr");
    assert_int_equal(p->request_ttl, 12 * 3600);
    assert_int_equal(p->request_ttl_line, 4);

    assert_int_equal(p->ntargets, 3);
    t = &p->targets[0];
    assert_string_equal(t->name, "web-1");
    assert_int_equal(t->line, 6);
    assert_string_equal(t->address, "10.0.1.5:22");
    assert_string_equal(t->host, "10.0.1.5");
    assert_int_equal(t->port, 22);
    assert_string_equal(t->host_key, KEY_ED); /* comment dropped */
    assert_int_equal(t->nlogins, 2);
    assert_string_equal(t->logins[0], "deploy");
    assert_string_equal(t->logins[1], "root");
    assert_int_equal(t->nlabels, 2);
    assert_string_equal(t->labels[1].key, "tier");
    assert_string_equal(t->labels[1].value, "web");
    assert_int_equal(t->record_input, 1);
    t = &p->targets[1];
    assert_string_equal(t->host, "2001:db8::10");
    assert_int_equal(t->port, 2222);
    assert_string_equal(t->host_key, KEY_EC);
    assert_int_equal(t->record_input, 0);
    t = &p->targets[2];
    assert_string_equal(t->host, "stage-1.example.org");
    assert_int_equal(t->port, 22);

    assert_int_equal(p->nrules, 3);
    r = &p->rules[0];
    assert_string_equal(r->name, "web-oncall");
    assert_int_equal(r->line, 23);
    assert_int_equal(r->nrequesters, 2);
    assert_int_equal(r->requesters[0].kind, POLICY_PRINCIPAL_GROUP);
    assert_string_equal(r->requesters[0].name, "sre");
    assert_int_equal(r->requesters[1].kind, POLICY_PRINCIPAL_USER);
    assert_string_equal(r->requesters[1].name, "alice");
    assert_int_equal(r->ntarget_labels, 2);
    assert_int_equal(r->ntarget_names, 0);
    assert_int_equal(r->nlogins, 1);
    assert_int_equal(r->max_duration, 4 * 3600);
    assert_int_equal(r->napprovers, 1);
    assert_int_equal(r->approvals, 1);
    assert_true(r->approvals_set);
    assert_false(r->standing);
    r = &p->rules[1];
    assert_int_equal(r->ntarget_names, 2);
    assert_string_equal(r->target_names[1], "web-1");
    assert_int_equal(r->nlogins, 0);
    assert_int_equal(r->max_duration, 30 * 60);
    assert_int_equal(r->approvals, 2);
    r = &p->rules[2];
    assert_true(r->standing);
    assert_false(r->approvals_set);
    assert_int_equal(r->napprovers, 0);

    assert_int_equal(p->nreviewers, 1);
    assert_string_equal(p->reviewers[0].name, "security");
    assert_int_equal(p->nbreakglass_requesters, 1);
    assert_string_equal(p->breakglass_requesters[0].name, "oncall");
    assert_int_equal(p->breakglass_max_duration, 30 * 60);
    assert_int_equal(p->breakglass_line, 41);
    policy_free(p);
}

static void test_defaults_and_nulls(void **state)
{
    static const char doc[] = "protected:\n"
                              "request_ttl: ~\n" TARGETS "    record_input: null\n"
                              "rules:\n"
                              "  - name: r1\n"
                              "    requesters: [\"user:bob\"]\n"
                              "    targets: {names: [web-1]}\n"
                              "    logins:\n"
                              "    max_duration: 90s\n"
                              "    approvers: [\"user:carol\"]\n"
                              "reviewers:\n"
                              "break_glass: null\n";
    struct policy *p = NULL;
    char err[1024] = "";
    int rc = policy_load_buffer("d.yaml", doc, sizeof(doc) - 1, &p, err, sizeof(err));

    (void)state;
    if (rc != 0) {
        print_error("%s\n", err);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(p->nprotect, 0);
    assert_int_equal(p->request_ttl, 24 * 3600);
    assert_int_equal(p->targets[0].record_input, 1);
    assert_int_equal(p->targets[0].port, 22);
    assert_int_equal(p->rules[0].approvals, 1);
    assert_false(p->rules[0].approvals_set);
    assert_false(p->rules[0].standing);
    assert_int_equal(p->rules[0].nlogins, 0);
    assert_int_equal(p->rules[0].max_duration, 90);
    assert_int_equal(p->nreviewers, 0);
    assert_int_equal(p->breakglass_line, 0);
    assert_int_equal(p->breakglass_max_duration, 0);
    policy_free(p);
}

/* upstream_auth: absent, null, certificate or key; anything else is lint's to refuse. */
static void test_upstream_auth(void **state)
{
    static const struct {
        const char *line;
        int want;
    } cases[] = {
        {"", POLICY_UPSTREAM_DEFAULT},
        {"    upstream_auth: null\n", POLICY_UPSTREAM_DEFAULT},
        {"    upstream_auth: certificate\n", POLICY_UPSTREAM_CERTIFICATE},
        {"    upstream_auth: key\n", POLICY_UPSTREAM_KEY},
        {"    upstream_auth: Key\n", POLICY_UPSTREAM_INVALID},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char doc[1024], err[1024] = "";
        struct policy *p = NULL;

        snprintf(doc, sizeof(doc), "%s%s", TARGETS, cases[i].line);
        assert_int_equal(policy_parse_buffer("u.yaml", doc, strlen(doc), &p, err, sizeof(err)), 0);
        assert_int_equal(p->targets[0].upstream_auth, cases[i].want);
        assert_int_equal(p->targets[0].upstream_auth_line, cases[i].line[0] && i > 1 ? 7 : 0);
        policy_free(p);
        p = NULL;
        assert_int_equal(policy_load_buffer("u.yaml", doc, strlen(doc), &p, err, sizeof(err)),
                         cases[i].want == POLICY_UPSTREAM_INVALID ? DB_ERR_INVALID : 0);
        if (cases[i].want == POLICY_UPSTREAM_INVALID) {
            assert_non_null(strstr(err, "u.yaml:7: target web-1: upstream_auth must be"));
        }
        policy_free(p);
    }
}

static void test_address_forms(void **state)
{
    static const struct {
        const char *in;
        const char *host;
        int port;
    } cases[] = {
        {"10.0.1.5", "10.0.1.5", 22},
        {"10.0.1.5:2222", "10.0.1.5", 2222},
        {"[::1]", "::1", 22},
        {"[2001:db8::1]:65535", "2001:db8::1", 65535},
        {"web-1.example.org:1", "web-1.example.org", 1},
        {"localhost", "localhost", 22},
    };
    static const char *const bad[] = {"",     "10.0.1.5:", "[::1]:0",   "a..b",         "-a.b",
                                      "a-.b", "[]:22",     "1.2.3.4.5", "10.0.1.5:022", "h:1:2"};

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *host = NULL, why[128];
        int port = 0;

        assert_int_equal(policy_address_parse(cases[i].in, &host, &port, why, sizeof(why)), 0);
        assert_string_equal(host, cases[i].host);
        assert_int_equal(port, cases[i].port);
        free(host);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *host = NULL, why[128];
        int port = 0;

        if (policy_address_parse(bad[i], &host, &port, why, sizeof(why)) != DB_ERR_INVALID) {
            print_error("address \"%s\" was accepted\n", bad[i]);
            fail();
        }
        assert_null(host);
    }
}

static void test_host_key_types(void **state)
{
    static const char *const good[] = {
        KEY_ED,
        KEY_ED " comment with spaces",
        KEY_EC,
        "ecdsa-sha2-nistp384 AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBJSvjRwHOg4RvU6FN7"
        "zFD4HQw3Ezpv50vcwXVQemsmHwih+DY1eUjq7/QPfZqFGbIZN8Ol0hs0XIQDPhiLiOnfiSE7EVwNfQH0fVd4T1cX"
        "VxrIsTA/UHs8jnP8zPVqfcZw==",
        "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDC/uK5z7wfs5oVXhEEREr5AD0z2L6Xi0F58ygUutbKGm+E/1X2Q"
        "ipz15hlyLHDi8orrlku7loi7e8zI5zgcNRfp7RnVwxfRWyVpDhdWHVh+1qRxknyJI7ODILNKUMBLGU7EVRgtYtIYfW"
        "0KqUXgp5dyXMwJC5+zuPYkDGXNvbJOQ==",
        "rsa-sha2-256 AAAAB3NzaC1yc2EAAAADAQABAAAAgQDC/uK5z7wfs5oVXhEEREr5AD0z2L6Xi0F58ygUutbKGm+E/"
        "1X2Qipz15hlyLHDi8orrlku7loi7e8zI5zgcNRfp7RnVwxfRWyVpDhdWHVh+1qRxknyJI7ODILNKUMBLGU7EVRgtYt"
        "IYfW0KqUXgp5dyXMwJC5+zuPYkDGXNvbJOQ==",
    };
    char *out = NULL, why[128];

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        int r = policy_host_key_parse(good[i], &out, why, sizeof(why));

        if (r != 0) {
            print_error("key %zu: %s\n", i, why);
        }
        assert_int_equal(r, 0);
        assert_null(strstr(out, "comment"));
        free(out);
    }
    /* A 384-bit key announced as 256 is refused: the blob names its own type. */
    assert_int_equal(policy_host_key_parse("ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAA"
                                           "AIbmlzdHAzODQAAABhBJSvjRwHOg4=",
                                           &out, why, sizeof(why)),
                     DB_ERR_INVALID);
    assert_null(out);
}

static void test_examples_load(void **state)
{
    static const char *const files[] = {
        FIXTURES_DIR "/../../policies/examples/production.yaml",
        FIXTURES_DIR "/../../policies/examples/minimal.yaml",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        struct policy *p = NULL;
        char err[1024] = "";
        int r = policy_load_file(files[i], &p, err, sizeof(err));

        if (r != 0) {
            print_error("%s\n", err);
        }
        assert_int_equal(r, 0);
        assert_true(p->ntargets > 0);
        assert_true(p->nrules > 0);
        policy_free(p);
    }
}

static void test_lint_failure_refuses_load(void **state)
{
    struct policy *p = NULL;
    char err[1024] = "", all[2048] = "";

    (void)state;
    assert_int_equal(policy_load_file(FIXTURES_DIR "/policy/lint-fails.yaml", &p, err, sizeof(err)),
                     DB_ERR_INVALID);
    assert_null(p);
    /* One line: the first problem and a count of the rest. */
    assert_null(strchr(err, '\n'));
    assert_non_null(strstr(err, "lint-fails.yaml:"));
    assert_non_null(strstr(err, "and 1 more"));

    assert_int_equal(
        policy_parse_file(FIXTURES_DIR "/policy/lint-fails.yaml", &p, err, sizeof(err)), 0);
    assert_int_equal(policy_lint(p, all, sizeof(all)), DB_ERR_INVALID);
    assert_non_null(strstr(all, ":5: target web-1 has no host_key"));
    assert_non_null(strstr(all, ":10: rule everyone-everywhere gives standing access"));
    policy_free(p);

    assert_int_equal(
        policy_load_file(FIXTURES_DIR "/policy/syntax-error.yaml", &p, err, sizeof(err)),
        DB_ERR_INVALID);
    assert_non_null(strstr(err, "syntax-error.yaml:5: target web-1: unknown key \"hostkey\""));
    assert_int_equal(policy_load_file(FIXTURES_DIR "/policy/absent.yaml", &p, err, sizeof(err)),
                     DB_ERR_IO);
    assert_null(p);
    policy_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_policies),
        cmocka_unit_test(test_fixture_fields),
        cmocka_unit_test(test_defaults_and_nulls),
        cmocka_unit_test(test_upstream_auth),
        cmocka_unit_test(test_address_forms),
        cmocka_unit_test(test_host_key_types),
        cmocka_unit_test(test_examples_load),
        cmocka_unit_test(test_lint_failure_refuses_load),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for policies/lint.c.  Each lint rule has a policy that breaks it
 * and a near-identical one that does not; a failing case names the line and
 * the exact number of problems, so a check that fires too often fails too.
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

#define KEY "\"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIESI0XHBjp/qERqxgizW1kcrwTsnM6AaElK1pZJOmomc\""

/* Lines 1-7: three protected targets, one staging target, then "rules:". */
#define BASE                                                                                       \
    "protected: {env: [prod]}\n"                                                                   \
    "targets:\n"                                                                                   \
    "  - {name: web-1, address: 10.0.1.5, host_key: " KEY ", logins: [deploy],"                    \
    " labels: {env: prod, tier: web}}\n"                                                           \
    "  - {name: web-2, address: 10.0.1.6, host_key: " KEY ", logins: [deploy, root],"              \
    " labels: {env: prod, tier: web}}\n"                                                           \
    "  - {name: db-1, address: 10.0.1.7, host_key: " KEY ", logins: [postgres],"                   \
    " labels: {env: prod, tier: db}}\n"                                                            \
    "  - {name: stage-1, address: 10.0.2.5, host_key: " KEY ", logins: [deploy],"                  \
    " labels: {env: staging, tier: web}}\n"                                                        \
    "rules:\n"

/* A rule starting on line 8 with what every approval rule needs, plus extra keys. */
#define RULE(sel, extra)                                                                           \
    "  - name: r\n    requesters: [\"group:sre\"]\n    targets: " sel "\n" extra
#define APPROVED "    max_duration: 1h\n    approvers: [\"group:leads\"]\n"
/* A harmless rule of 5 lines, for cases about top-level keys written after it. */
#define OK_RULE RULE("{names: [web-1]}", APPROVED)

struct lint_case {
    const char *what;
    const char *yaml;
    int problems;       /* 0: must pass */
    int line;           /* line of the expected problem */
    const char *needle; /* part of its message */
};

static const struct lint_case cases[] = {
    {"standing on protected (labels)", BASE RULE("{labels: {env: prod}}", "    standing: true\n"),
     1, 8, "gives standing access to protected target web-1 (3 protected"},
    {"standing on protected (names)", BASE RULE("{names: [stage-1, db-1]}", "    standing: true\n"),
     1, 8, "standing access to protected target db-1"},
    {"standing off protected", BASE RULE("{labels: {env: staging}}", "    standing: true\n"), 0, 0,
     NULL},

    {"no max_duration", BASE RULE("{names: [web-1]}", "    approvers: [\"group:leads\"]\n"), 1, 8,
     "needs approval but has no max_duration"},
    {"max_duration above 24h",
     BASE RULE("{names: [web-1]}", "    max_duration: 25h\n    approvers: [\"group:leads\"]\n"), 1,
     8, "max_duration 1d1h is above 24h"},
    {"max_duration 24h",
     BASE RULE("{names: [web-1]}", "    max_duration: 24h\n    approvers: [\"group:leads\"]\n"), 0,
     0, NULL},
    {"max_duration needed off protected too",
     BASE RULE("{names: [stage-1]}", "    approvers: [\"group:leads\"]\n"), 1, 8,
     "no max_duration"},

    {"approvals 0 on protected", BASE RULE("{names: [web-1]}", APPROVED "    approvals: 0\n"), 1, 8,
     "selects protected target web-1 with approvals < 1"},
    {"approvals 0 off protected", BASE RULE("{names: [stage-1]}", APPROVED "    approvals: 0\n"), 0,
     0, NULL},

    {"every protected target, 1 approval", BASE RULE("{labels: {env: prod}}", APPROVED), 1, 8,
     "selects every protected target with approvals < 2"},
    {"every protected target by names",
     BASE RULE("{names: [web-1, web-2, db-1]}", APPROVED "    approvals: 1\n"), 1, 8,
     "every protected target"},
    {"every protected target, 2 approvals",
     BASE RULE("{labels: {env: prod}}", APPROVED "    approvals: 2\n"), 0, 0, NULL},
    {"most protected targets, 1 approval", BASE RULE("{labels: {tier: web}}", APPROVED), 0, 0,
     NULL},
    {"the only protected target, 1 approval",
     "protected: {env: [prod]}\ntargets:\n"
     "  - {name: web-1, address: 10.0.1.5, host_key: " KEY ", logins: [deploy], labels: {env: "
     "prod}}\n"
     "rules:\n" RULE("{labels: {env: prod}}", APPROVED),
     0, 0, NULL},

    {"unknown target name", BASE RULE("{names: [web-1, web-9]}", APPROVED), 1, 8,
     "unknown target \"web-9\""},
    {"known target names", BASE RULE("{names: [web-1, stage-1]}", APPROVED), 0, 0, NULL},
    {"label no target carries", BASE RULE("{labels: {tier: cache}}", APPROVED), 2, 8,
     "no target carries label tier=cache"},
    {"label value no target carries", BASE RULE("{labels: {env: prd}}", APPROVED), 2, 8,
     "no target carries label env=prd"},
    {"selector picks nothing", BASE RULE("{labels: {env: staging, tier: db}}", APPROVED), 1, 8,
     "rule r selects no target"},
    {"selector picks something", BASE RULE("{labels: {env: staging, tier: web}}", APPROVED), 0, 0,
     NULL},

    {"no approvers", BASE RULE("{names: [web-1]}", "    max_duration: 1h\n"), 1, 8,
     "needs approval but lists no approvers"},
    {"standing with approvers",
     BASE RULE("{names: [stage-1]}", "    standing: true\n    approvers: [\"group:leads\"]\n"), 1,
     8, "rule r is standing: approvers and approvals do not apply"},
    {"standing with approvals",
     BASE RULE("{names: [stage-1]}", "    standing: true\n    approvals: 1\n"), 1, 8,
     "is standing"},

    {"rule login no target offers",
     BASE RULE("{labels: {tier: web}}", APPROVED "    logins: [admin]\n"), 1, 8,
     "login admin is not offered by any target it selects"},
    {"rule login one target offers",
     BASE RULE("{labels: {tier: web}}", APPROVED "    logins: [root]\n"), 0, 0, NULL},

    {"too few named approvers",
     BASE RULE("{names: [web-1]}",
               "    max_duration: 1h\n    approvers: [\"user:ann\"]\n    approvals: 2\n"),
     1, 8, "needs 2 approvals but names only 1 approvers"},
    {"enough named approvers",
     BASE RULE("{names: [web-1]}", "    max_duration: 1h\n    approvers: [\"user:ann\", "
                                   "\"user:bob\"]\n    approvals: 2\n"),
     0, 0, NULL},
    {"a group may hold enough approvers",
     BASE RULE("{names: [web-1]}", "    max_duration: 1h\n    approvers: [\"user:ann\", "
                                   "\"group:leads\"]\n    approvals: 2\n"),
     0, 0, NULL},

    {"target without host_key",
     "targets:\n  - name: web-1\n    address: 10.0.1.5\n    logins: [deploy]\n", 1, 2,
     "target web-1 has no host_key"},
    {"target with host_key",
     "targets:\n  - name: web-1\n    address: 10.0.1.5\n    logins: [deploy]\n    host_key: " KEY
     "\n",
     0, 0, NULL},

    {"break_glass without max_duration",
     BASE OK_RULE "break_glass:\n  requesters: [\"group:oncall\"]\n", 1, 13,
     "break_glass has no max_duration"},
    {"break_glass above 24h",
     BASE OK_RULE "break_glass:\n  requesters: [\"group:oncall\"]\n  max_duration: 2d\n", 1, 13,
     "break_glass max_duration 2d is above 24h"},
    {"break_glass 24h",
     BASE OK_RULE "break_glass:\n  requesters: [\"group:oncall\"]\n  max_duration: 24h\n", 0, 0,
     NULL},

    {"request_ttl above 7d", BASE OK_RULE "request_ttl: 8d\n", 1, 13, "request_ttl 8d is above 7d"},
    {"request_ttl 7d", BASE OK_RULE "request_ttl: 168h\n", 0, 0, NULL},

    {"upstream_auth neither certificate nor key",
     "protected: {env: [prod]}\ntargets:\n"
     "  - {name: web-1, address: 10.0.1.5, host_key: " KEY ", logins: [deploy],"
     " labels: {env: prod}, upstream_auth: certificates}\n"
     "  - {name: web-2, address: 10.0.1.6, host_key: " KEY ", logins: [deploy],"
     " labels: {env: prod}, upstream_auth: key}\n"
     "rules:\n" RULE("{names: [web-1]}", APPROVED),
     1, 3, "target web-1: upstream_auth must be certificate or key"},
    {"upstream_auth certificate and key",
     "protected: {env: [prod]}\ntargets:\n"
     "  - {name: web-1, address: 10.0.1.5, host_key: " KEY ", logins: [deploy],"
     " labels: {env: prod}, upstream_auth: certificate}\n"
     "  - {name: web-2, address: 10.0.1.6, host_key: " KEY ", logins: [deploy],"
     " labels: {env: prod}, upstream_auth: key}\n"
     "rules:\n" RULE("{names: [web-1]}", APPROVED),
     0, 0, NULL},

    {"every problem reported",
     BASE RULE("{labels: {env: prod}}",
               "    standing: true\n    approvers: [\"group:x\"]\n") "  - name: s\n    requesters: "
                                                                     "[\"group:sre\"]\n    "
                                                                     "targets: {names: [nope]}\n"
                                                                     "request_ttl: 30d\n",
     7, 16, "request_ttl 30d is above 7d"},
};

static int count_lines(const char *s)
{
    int n = 0;

    for (; *s != '\0'; s++) {
        n += *s == '\n';
    }
    return n;
}

/* Some line of err starts with "l.yaml:LINE: " and contains needle. */
static int has_problem(const char *err, int line, const char *needle)
{
    char prefix[32];

    snprintf(prefix, sizeof(prefix), "l.yaml:%d: ", line);
    while (*err != '\0') {
        const char *eol = strchr(err, '\n');
        size_t len = eol != NULL ? (size_t)(eol - err) : strlen(err);
        const char *hit = strstr(err, needle);

        if (strncmp(err, prefix, strlen(prefix)) == 0 && hit != NULL && hit < err + len) {
            return 1;
        }
        err += len + (eol != NULL);
    }
    return 0;
}

/* Problems come in file order. */
static int lines_sorted(const char *err)
{
    int prev = 0;

    while ((err = strstr(err, "l.yaml:")) != NULL) {
        int line = atoi(err + strlen("l.yaml:"));

        if (line < prev) {
            return 0;
        }
        prev = line;
        err += strlen("l.yaml:");
    }
    return 1;
}

static void test_lint_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct lint_case *c = &cases[i];
        struct policy *p = NULL;
        char err[4096] = "";
        int r = policy_parse_buffer("l.yaml", c->yaml, strlen(c->yaml), &p, err, sizeof(err));

        if (r != 0) {
            print_error("%s: does not parse: %s\n", c->what, err);
            fail();
        }
        r = policy_lint(p, err, sizeof(err));
        if (c->problems == 0) {
            if (r != 0) {
                print_error("%s: expected no problem, got:\n%s", c->what, err);
                fail();
            }
            assert_string_equal(err, "");
        } else {
            if (r != DB_ERR_INVALID || !has_problem(err, c->line, c->needle) ||
                count_lines(err) != c->problems || !lines_sorted(err)) {
                print_error("%s: wanted %d problem(s) incl. line %d \"%s\", got:\n%s", c->what,
                            c->problems, c->line, c->needle, err);
                fail();
            }
        }
        policy_free(p);
    }
}

/* The parser refuses bad principals, so lint's own check is seen on a hand-edited policy. */
static void test_lint_principal_syntax(void **state)
{
    static const char doc[] = BASE OK_RULE "reviewers: [\"group:security\"]\n"
                                           "break_glass: {requesters: [\"user:ann\"], "
                                           "max_duration: 1h}\n";
    struct policy *p = NULL;
    char err[2048];

    (void)state;
    assert_int_equal(policy_parse_buffer("l.yaml", doc, sizeof(doc) - 1, &p, err, sizeof(err)), 0);
    assert_int_equal(policy_lint(p, err, sizeof(err)), 0);

    free(p->rules[0].requesters[0].name);
    p->rules[0].requesters[0].name = strdup("s re");
    free(p->breakglass_requesters[0].name);
    p->breakglass_requesters[0].name = strdup("");
    free(p->reviewers[0].name);
    p->reviewers[0].name = strdup("sec\x01");
    assert_int_equal(policy_lint(p, err, sizeof(err)), DB_ERR_INVALID);
    assert_non_null(strstr(err, "l.yaml:8: rule r: principal name \"s re\""));
    assert_non_null(strstr(err, "l.yaml:14: break_glass: principal name \"\""));
    assert_non_null(strstr(err, "reviewers: principal name"));
    assert_int_equal(count_lines(err), 3);
    policy_free(p);
}

/* Problems beyond the buffer are still counted: lint fails, the text is cut, never overrun. */
static void test_lint_truncation(void **state)
{
    static const char doc[] = BASE RULE("{labels: {env: prod}}", "    standing: true\n");
    struct policy *p = NULL;
    char err[24];

    (void)state;
    memset(err, 'x', sizeof(err));
    assert_int_equal(policy_parse_buffer("l.yaml", doc, sizeof(doc) - 1, &p, err, sizeof(err)), 0);
    assert_int_equal(policy_lint(p, err, 10), DB_ERR_INVALID);
    assert_int_equal(strlen(err), 9);
    assert_int_equal(err[10], 'x');
    assert_int_equal(policy_lint(p, NULL, 0), DB_ERR_INVALID);
    assert_int_equal(policy_lint(NULL, err, sizeof(err)), DB_ERR_INVALID);
    policy_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lint_table),
        cmocka_unit_test(test_lint_principal_syntax),
        cmocka_unit_test(test_lint_truncation),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for the policy's mfa section (policies/mfa.c, the parser and
 * lint): what each key means, the defaults, and every malformed value
 * refused with its line -- an unknown or repeated action, a require entry
 * that is not group:NAME or user:NAME, an unusable issuer, an unknown key --
 * plus lint of a hand-built policy carrying what the parser never makes.
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

/* Lines 1-4; the mfa section starts on line 5. */
#define BASE                                                                                       \
    "protected: {env: [prod]}\n"                                                                   \
    "targets:\n"                                                                                   \
    "  - {name: web-1, address: 10.0.1.5, host_key: " KEY ", logins: [deploy],"                    \
    " labels: {env: prod}}\n"                                                                      \
    "reviewers: [\"group:security\"]\n"

static struct policy *load(const char *yaml, char *err, size_t errlen)
{
    struct policy *p = NULL;

    err[0] = '\0';
    if (policy_load_buffer("p.yaml", yaml, strlen(yaml), &p, err, errlen) != 0) {
        return NULL;
    }
    return p;
}

static void test_absent(void **state)
{
    const char *groups[] = {"sre"};
    struct policy_subject s = {"alice", groups, 1};
    char err[512];
    struct policy *p = load(BASE, err, sizeof(err));

    (void)state;
    assert_non_null(p);
    assert_int_equal(p->mfa.line, 0);
    assert_false(policy_mfa_required(p, &s));
    for (unsigned a = POLICY_MFA_PROTECTED; a <= POLICY_MFA_TERMINATE; a <<= 1) {
        assert_false(policy_mfa_needs_code(p, a));
    }
    assert_string_equal(policy_mfa_issuer(p), "Drawbridge");
    policy_free(p);
}

static void test_full(void **state)
{
    const char *lead_groups[] = {"sre-leads"}, *other_groups[] = {"sre"};
    struct policy_subject lead = {"erin", lead_groups, 1}, frank = {"frank", NULL, 0},
                          alice = {"alice", other_groups, 1};
    char err[512];
    struct policy *p = load(BASE "mfa:\n"
                                 "  require: [\"group:sre-leads\", \"user:frank\"]\n"
                                 "  actions: [protected, approve, terminate]\n"
                                 "  issuer: \"Example Corp\"\n",
                            err, sizeof(err));

    (void)state;
    if (p == NULL) {
        fail_msg("%s", err);
    }
    assert_int_equal(p->mfa.line, 5);
    assert_true(policy_mfa_required(p, &lead));
    assert_true(policy_mfa_required(p, &frank));
    assert_false(policy_mfa_required(p, &alice));
    assert_true(policy_mfa_needs_code(p, POLICY_MFA_PROTECTED));
    assert_true(policy_mfa_needs_code(p, POLICY_MFA_APPROVE));
    assert_true(policy_mfa_needs_code(p, POLICY_MFA_TERMINATE));
    assert_false(policy_mfa_needs_code(p, POLICY_MFA_DENY));
    assert_false(policy_mfa_needs_code(p, POLICY_MFA_REVOKE));
    assert_false(policy_mfa_needs_code(p, POLICY_MFA_BREAKGLASS));
    assert_false(policy_mfa_needs_code(p, 0));
    assert_string_equal(policy_mfa_issuer(p), "Example Corp");
    policy_free(p);
    /* every action name round-trips */
    for (unsigned a = POLICY_MFA_PROTECTED; a <= POLICY_MFA_TERMINATE; a <<= 1) {
        assert_int_equal(policy_mfa_action_parse(policy_mfa_action_name(a)), a);
    }
    assert_null(policy_mfa_action_name(0));
    assert_null(policy_mfa_action_name(POLICY_MFA_APPROVE | POLICY_MFA_DENY));
    assert_int_equal(policy_mfa_action_parse("Approve"), 0);
    assert_int_equal(policy_mfa_action_parse(""), 0);
}

static void test_refused(void **state)
{
    static const struct {
        const char *yaml;
        const char *needle;
    } bad[] = {
        {"mfa:\n  actions: [approve, sudo]\n", "p.yaml:6: mfa: actions: unknown action \"sudo\""},
        {"mfa:\n  actions: [approve, approve]\n",
         "p.yaml:6: mfa: actions: \"approve\" is listed twice"},
        {"mfa:\n  actions: approve\n", "p.yaml:6: mfa: actions: expected a list"},
        {"mfa:\n  require: [\"sre-leads\"]\n",
         "p.yaml:6: mfa: require: \"sre-leads\" is not group:NAME"},
        {"mfa:\n  require: [\"group:sre leads\"]\n", "p.yaml:6: mfa: require:"},
        {"mfa:\n  require: [\"group:\"]\n", "p.yaml:6: mfa: require:"},
        {"mfa:\n  require: [\"user:a\", \"user:a\"]\n", "listed twice"},
        {"mfa:\n  issuer: \"a:b\"\n", "p.yaml:6: mfa: issuer: 1 to 64 printable"},
        {"mfa:\n  issuer: \"\"\n", "p.yaml:6: mfa: issuer: must not be empty"},
        {"mfa:\n  issuer: \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\n",
         "mfa: issuer: 1 to 64"},
        {"mfa:\n  requires: [\"group:x\"]\n", "p.yaml:6: mfa: unknown key \"requires\""},
        {"mfa: [approve]\n", "p.yaml:5: mfa: expected a map"},
    };
    char yaml[2048], err[512];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct policy *p = NULL;

        snprintf(yaml, sizeof(yaml), "%s%s", BASE, bad[i].yaml);
        p = load(yaml, err, sizeof(err));
        if (p != NULL) {
            policy_free(p);
            fail_msg("case %zu was accepted", i);
        }
        if (strstr(err, bad[i].needle) == NULL) {
            fail_msg("case %zu: \"%s\" not in \"%s\"", i, bad[i].needle, err);
        }
        assert_null(strchr(err, '\n'));
    }
}

/* Lint re-checks what the parser enforces, for policies built another way. */
static void test_lint_hand_built(void **state)
{
    char err[2048];
    struct policy *p =
        load(BASE "mfa:\n  require: [\"group:sre\"]\n  actions: [approve]\n", err, sizeof(err));

    (void)state;
    assert_non_null(p);
    assert_int_equal(policy_lint(p, err, sizeof(err)), 0);
    p->mfa.actions |= 1u << 9;
    free(p->mfa.require[0].name);
    p->mfa.require[0].name = strdup("bad name");
    p->mfa.issuer = strdup("x:y");
    assert_int_equal(policy_lint(p, err, sizeof(err)), DB_ERR_INVALID);
    assert_non_null(strstr(err, "p.yaml:5: mfa: require: \"group:bad name\" is not group:NAME"));
    assert_non_null(strstr(err, "p.yaml:5: mfa: actions: unknown action"));
    assert_non_null(strstr(err, "p.yaml:5: mfa: issuer:"));
    policy_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_absent),
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_lint_hand_built),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

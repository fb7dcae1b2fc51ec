/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for policies/eval.c, from tables: who may connect where with
 * which login (with and without a grant), who may request what for how long,
 * and who may approve -- including the two invariants: standing access never
 * reaches a protected target, and nobody approves their own request.
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
#define TGT(name, logins, labels)                                                                  \
    "  - {name: " name ", address: 10.0.0.1, host_key: " KEY ", logins: " logins                   \
    ", labels: " labels "}\n"

static const char policy_text[] =
    "protected: {env: [prod]}\n"
    "targets:\n" TGT("web-1", "[deploy, root]", "{env: prod, tier: web}") TGT(
        "db-1", "[postgres, root]", "{env: prod, tier: db}") TGT("stage-1", "[deploy, admin]",
                                                                 "{env: staging}")
        TGT("lab-1", "[root, lab]",
            "{env: lab}") "rules:\n"
                          "  - {name: web-oncall, requesters: [\"group:sre\"], targets: {labels: "
                          "{tier: web}},"
                          " logins: [deploy], max_duration: 4h, approvers: [\"group:sre-leads\"]}\n"
                          "  - {name: web-root, requesters: [\"group:sre-leads\"], targets: "
                          "{names: [web-1, stage-1]},"
                          " logins: [admin, root], max_duration: 1h, approvers: "
                          "[\"group:sre-leads\","
                          " \"group:security\"], approvals: 2}\n"
                          "  - {name: db, requesters: [\"user:dana\"], targets: {names: [db-1]}, "
                          "max_duration: 2h,"
                          " approvers: [\"group:dba\"]}\n"
                          "  - {name: stage-standing, requesters: [\"group:eng\"], targets: "
                          "{labels: {env: staging}},"
                          " logins: [deploy], standing: true}\n"
                          "  - {name: stage-admin, requesters: [\"group:eng\"], targets: {names: "
                          "[stage-1]},"
                          " logins: [admin], max_duration: 1h, approvers: [\"group:sre-leads\"]}\n"
                          "  - {name: lab-standing, requesters: [\"group:eng\"], targets: {labels: "
                          "{env: lab}},"
                          " logins: [lab], standing: true}\n"
                          "reviewers: [\"group:security\"]\n"
                          "break_glass: {requesters: [\"user:oncall\"], max_duration: 30m}\n";

static const char *const g_sre[] = {"sre"};
static const char *const g_lead[] = {"sre-leads"};
static const char *const g_both[] = {"sre", "sre-leads"};
static const char *const g_eng[] = {"eng"};
static const char *const g_sec[] = {"security"};
static const char *const g_dba[] = {"dba"};
static const char *const g_dana[] = {"dana", "nobody"};

#define SUBJ(u, g)                                                                                 \
    {                                                                                              \
        u, g, sizeof(g) / sizeof(g[0])                                                             \
    }
#define ALICE SUBJ("alice", g_sre)
#define LEAD SUBJ("lee", g_lead)
#define BOTH SUBJ("bo", g_both)
#define EVE SUBJ("eve", g_eng)
#define DANA                                                                                       \
    {                                                                                              \
        "dana", NULL, 0                                                                            \
    }
#define MALLORY SUBJ("mallory", g_dana)

struct connect_case {
    struct policy_subject s;
    const char *target, *login, *grant;
    enum policy_verdict verdict;
    const char *rule, *use_login, *reason;
};

static const struct connect_case connect_cases[] = {
    {ALICE, "web-1", NULL, NULL, POLICY_NEED_GRANT, "web-oncall", "deploy",
     "no active grant; request one with: ssh gw request web-1 --for DURATION --reason TEXT"},
    {ALICE, "web-1", NULL, "deploy", POLICY_ALLOW_GRANT, "web-oncall", "deploy", NULL},
    {ALICE, "web-1", "deploy", "deploy", POLICY_ALLOW_GRANT, "web-oncall", "deploy", NULL},
    {ALICE, "web-1", "deploy", "root", POLICY_NEED_GRANT, "web-oncall", "deploy", "no active"},
    {ALICE, "web-1", "root", NULL, POLICY_BAD_LOGIN, NULL, NULL, "login root on web-1"},
    /* A grant the policy no longer backs is not honoured. */
    {ALICE, "web-1", "root", "root", POLICY_BAD_LOGIN, NULL, NULL, "login root"},
    {ALICE, "web-1", NULL, "postgres", POLICY_NEED_GRANT, "web-oncall", "deploy", NULL},
    {ALICE, "web-1", "nobody", NULL, POLICY_BAD_LOGIN, NULL, NULL, "web-1 has no login nobody"},
    {ALICE, "web-9", NULL, NULL, POLICY_UNKNOWN_TARGET, NULL, NULL, "no such target: web-9"},
    {ALICE, "db-1", NULL, NULL, POLICY_DENY, NULL, NULL, "no rule gives you access to db-1"},
    {ALICE, "stage-1", NULL, "deploy", POLICY_DENY, NULL, NULL, "no rule gives you access"},
    {EVE, "stage-1", NULL, NULL, POLICY_ALLOW_STANDING, "stage-standing", "deploy", NULL},
    {EVE, "stage-1", "deploy", NULL, POLICY_ALLOW_STANDING, "stage-standing", "deploy", NULL},
    {EVE, "stage-1", "admin", NULL, POLICY_NEED_GRANT, "stage-admin", "admin",
     "ssh gw request stage-1 --login admin --for DURATION"},
    {EVE, "stage-1", "admin", "admin", POLICY_ALLOW_GRANT, "stage-admin", "admin", NULL},
    /* With a grant and standing access, the grant is used (the session is tied to it). */
    {EVE, "stage-1", NULL, "admin", POLICY_ALLOW_GRANT, "stage-admin", "admin", NULL},
    /* The rule's own first login wins over the target's first. */
    {EVE, "lab-1", NULL, NULL, POLICY_ALLOW_STANDING, "lab-standing", "lab", NULL},
    {EVE, "lab-1", "root", NULL, POLICY_BAD_LOGIN, NULL, NULL, "login root on lab-1"},
    {EVE, "web-1", NULL, NULL, POLICY_DENY, NULL, NULL, "no rule gives you access to web-1"},
    {DANA, "db-1", NULL, NULL, POLICY_NEED_GRANT, "db", "postgres", "request db-1"},
    {DANA, "db-1", "root", "root", POLICY_ALLOW_GRANT, "db", "root", NULL},
    /* The rule's first login ("admin") is not on web-1, so its next one is the default. */
    {LEAD, "web-1", NULL, NULL, POLICY_NEED_GRANT, "web-root", "root", NULL},
    {LEAD, "web-1", NULL, "root", POLICY_ALLOW_GRANT, "web-root", "root", NULL},
    {LEAD, "web-1", "deploy", "deploy", POLICY_BAD_LOGIN, NULL, NULL, "login deploy"},
    {BOTH, "web-1", NULL, NULL, POLICY_NEED_GRANT, "web-oncall", "deploy", NULL},
    {BOTH, "web-1", "root", NULL, POLICY_NEED_GRANT, "web-root", "root", NULL},
    /* A group named like a user is not that user. */
    {MALLORY, "db-1", NULL, NULL, POLICY_DENY, NULL, NULL, "no rule"},
    {{NULL, NULL, 0}, "web-1", NULL, "deploy", POLICY_DENY, NULL, NULL, "no rule"},
};

static struct policy *load(const char *text, int lint)
{
    struct policy *p = NULL;
    char err[2048] = "";
    int r = lint ? policy_load_buffer("e.yaml", text, strlen(text), &p, err, sizeof(err))
                 : policy_parse_buffer("e.yaml", text, strlen(text), &p, err, sizeof(err));

    if (r != 0) {
        print_error("%s\n", err);
    }
    assert_int_equal(r, 0);
    return p;
}

static void check_result(size_t i, const struct policy_result *res, enum policy_verdict verdict,
                         const char *rule, const char *login, const char *reason)
{
    if (res->verdict != verdict || (rule == NULL) != (res->rule == NULL) ||
        (rule != NULL && strcmp(res->rule->name, rule) != 0) ||
        (login != NULL && (res->login == NULL || strcmp(res->login, login) != 0)) ||
        (reason != NULL && strstr(res->reason, reason) == NULL)) {
        print_error("case %zu: verdict %d rule %s login %s reason \"%s\"\n", i, res->verdict,
                    res->rule != NULL ? res->rule->name : "-",
                    res->login != NULL ? res->login : "-", res->reason);
        fail();
    }
}

static void test_connect_table(void **state)
{
    struct policy *p = load(policy_text, 1);

    (void)state;
    for (size_t i = 0; i < sizeof(connect_cases) / sizeof(connect_cases[0]); i++) {
        const struct connect_case *c = &connect_cases[i];
        struct policy_connect_query q = {c->s, c->target, c->login, c->grant};
        struct policy_result res;

        assert_int_equal(policy_eval_connect(p, &q, &res), 0);
        check_result(i, &res, c->verdict, c->rule, c->use_login, c->reason);
        if (c->verdict == POLICY_UNKNOWN_TARGET) {
            assert_null(res.target);
        } else {
            assert_non_null(res.target);
            assert_string_equal(res.target->name, c->target);
        }
        if (c->verdict == POLICY_ALLOW_GRANT || c->verdict == POLICY_ALLOW_STANDING) {
            assert_string_equal(res.reason, "");
        }
    }
    policy_free(p);
}

/* The login handed back lives in the policy, not in the caller's query. */
static void test_connect_login_owned_by_policy(void **state)
{
    struct policy *p = load(policy_text, 1);
    char login[16] = "root", grant[16] = "root";
    struct policy_connect_query q = {DANA, "db-1", login, grant};
    struct policy_result res;

    (void)state;
    assert_int_equal(policy_eval_connect(p, &q, &res), 0);
    assert_int_equal(res.verdict, POLICY_ALLOW_GRANT);
    assert_ptr_equal(res.login, p->targets[1].logins[1]);
    assert_int_equal(policy_eval_connect(NULL, &q, &res), DB_ERR_INVALID);
    assert_int_equal(policy_eval_connect(p, NULL, &res), DB_ERR_INVALID);
    assert_int_equal(policy_eval_connect(p, &q, NULL), DB_ERR_INVALID);
    policy_free(p);
}

/* A policy that lint refuses, built anyway: eval must still never give standing on prod. */
static void test_standing_never_on_protected(void **state)
{
    static const char text[] =
        "protected: {env: [prod, pci]}\n"
        "targets:\n" TGT("web-1", "[deploy]", "{env: prod}") TGT("card-1", "[deploy]", "{env: pci}")
            TGT("dev-1", "[deploy]",
                "{env: dev}") "rules:\n"
                              "  - {name: all-standing, requesters: [\"group:eng\"], targets: "
                              "{names: [web-1, card-1,"
                              " dev-1]}, standing: true}\n";
    const char *targets[] = {"web-1", "card-1", "dev-1"};
    const enum policy_verdict want[] = {POLICY_DENY, POLICY_DENY, POLICY_ALLOW_STANDING};
    struct policy *p = load(text, 0);
    char err[1024];

    (void)state;
    assert_int_equal(policy_lint(p, err, sizeof(err)), DB_ERR_INVALID);
    for (size_t i = 0; i < 3; i++) {
        struct policy_connect_query q = {EVE, targets[i], NULL, "deploy"};
        struct policy_request_query rq = {EVE, targets[i], NULL, 3600};
        struct policy_result res;

        assert_int_equal(policy_eval_connect(p, &q, &res), 0);
        check_result(i, &res, want[i], want[i] == POLICY_DENY ? NULL : "all-standing", NULL, NULL);
        assert_int_equal(policy_target_is_protected(p, res.target), want[i] == POLICY_DENY);
        /* Nor can a standing rule be used to request a grant. */
        assert_int_not_equal(policy_eval_request(p, &rq, &res), 0);
    }
    policy_free(p);
}

struct request_case {
    struct policy_subject s;
    const char *target, *login;
    long long duration;
    int ret;
    enum policy_verdict verdict;
    const char *rule, *use_login, *reason;
};

static const struct request_case request_cases[] = {
    {ALICE, "web-1", NULL, 3600, 0, POLICY_NEED_GRANT, "web-oncall", "deploy", NULL},
    {ALICE, "web-1", "deploy", 4 * 3600, 0, POLICY_NEED_GRANT, "web-oncall", "deploy", NULL},
    {ALICE, "web-1", NULL, 4 * 3600 + 1, DB_ERR_INVALID, POLICY_DENY, "web-oncall", NULL,
     "duration must be from 1s to 4h (rule web-oncall)"},
    {ALICE, "web-1", NULL, 0, DB_ERR_INVALID, POLICY_DENY, "web-oncall", NULL, "duration"},
    {ALICE, "web-1", NULL, -5, DB_ERR_INVALID, POLICY_DENY, "web-oncall", NULL, "duration"},
    {ALICE, "web-1", "root", 3600, DB_ERR_INVALID, POLICY_BAD_LOGIN, NULL, NULL, "login root"},
    {ALICE, "web-1", "sa", 3600, DB_ERR_INVALID, POLICY_BAD_LOGIN, NULL, NULL, "has no login"},
    {ALICE, "web-7", NULL, 3600, DB_ERR_NOTFOUND, POLICY_UNKNOWN_TARGET, NULL, NULL, "web-7"},
    {ALICE, "db-1", NULL, 3600, DB_ERR_DENIED, POLICY_DENY, NULL, NULL, "no rule gives you"},
    {MALLORY, "web-1", NULL, 60, DB_ERR_DENIED, POLICY_DENY, NULL, NULL, "no rule"},
    {EVE, "stage-1", NULL, 3600, 0, POLICY_NEED_GRANT, "stage-admin", "admin", NULL},
    {EVE, "stage-1", "deploy", 3600, DB_ERR_DENIED, POLICY_DENY, NULL, NULL,
     "you have standing access to stage-1; no request needed"},
    {EVE, "lab-1", NULL, 3600, DB_ERR_DENIED, POLICY_DENY, NULL, NULL, "standing access"},
    {LEAD, "web-1", NULL, 3600, 0, POLICY_NEED_GRANT, "web-root", "root", NULL},
    {LEAD, "web-1", "root", 7200, DB_ERR_INVALID, POLICY_DENY, "web-root", NULL, "1h"},
    {DANA, "db-1", "root", 7200, 0, POLICY_NEED_GRANT, "db", "root", NULL},
    /* First matching rule in file order, per login. */
    {BOTH, "web-1", NULL, 600, 0, POLICY_NEED_GRANT, "web-oncall", "deploy", NULL},
    {BOTH, "web-1", "root", 600, 0, POLICY_NEED_GRANT, "web-root", "root", NULL},
};

static void test_request_table(void **state)
{
    struct policy *p = load(policy_text, 1);

    (void)state;
    for (size_t i = 0; i < sizeof(request_cases) / sizeof(request_cases[0]); i++) {
        const struct request_case *c = &request_cases[i];
        struct policy_request_query q = {c->s, c->target, c->login, c->duration};
        struct policy_result res;
        int r = policy_eval_request(p, &q, &res);

        if (r != c->ret) {
            print_error("case %zu: returned %d, wanted %d (%s)\n", i, r, c->ret, res.reason);
            fail();
        }
        check_result(i, &res, c->verdict, c->rule, c->use_login, c->reason);
    }
    policy_free(p);
}

static void test_may_approve(void **state)
{
    struct policy *p = load(policy_text, 1);
    const struct policy_rule *oncall = &p->rules[0], *root = &p->rules[1], *db = &p->rules[2];
    const struct policy_rule *standing = &p->rules[3];
    const struct policy_subject lead = LEAD, alice = ALICE, both = BOTH;
    const struct policy_subject sec = SUBJ("sam", g_sec), dba = SUBJ("dan", g_dba);
    const struct policy_subject dana_dba = SUBJ("dana", g_dba);

    (void)state;
    assert_true(policy_may_approve(oncall, &lead, "alice"));
    assert_false(policy_may_approve(oncall, &lead, "lee"));  /* own request */
    assert_false(policy_may_approve(oncall, &both, "bo"));   /* own, though in both groups */
    assert_false(policy_may_approve(oncall, &alice, "bob")); /* requester group, not approver */
    assert_false(policy_may_approve(oncall, &sec, "alice"));
    assert_true(policy_may_approve(root, &sec, "lee"));
    assert_true(policy_may_approve(root, &lead, "bo"));
    assert_true(policy_may_approve(db, &dba, "dana"));
    assert_false(policy_may_approve(db, &dana_dba, "dana"));
    assert_false(policy_may_approve(standing, &lead, "eve"));
    assert_false(policy_may_approve(NULL, &lead, "alice"));
    assert_false(policy_may_approve(oncall, NULL, "alice"));
    assert_false(policy_may_approve(oncall, &lead, NULL));
    policy_free(p);
}

static void test_roles_and_matchers(void **state)
{
    struct policy *p = load(policy_text, 1);
    const struct policy_subject lead = LEAD, alice = ALICE, eve = EVE, mallory = MALLORY;
    const struct policy_subject sec = SUBJ("sam", g_sec), oncall = {"oncall", NULL, 0};
    const struct policy_subject grp_oncall = {"x", (const char *const[]){"oncall"}, 1};
    const struct policy_target *web = policy_target_find(p, "web-1");
    const struct policy_target *stage = policy_target_find(p, "stage-1");
    struct policy_rule empty = {0};

    (void)state;
    assert_non_null(web);
    assert_null(policy_target_find(p, "web"));
    assert_null(policy_target_find(p, NULL));
    assert_true(policy_target_is_protected(p, web));
    assert_false(policy_target_is_protected(p, stage));
    assert_true(policy_target_has_login(web, "root"));
    assert_false(policy_target_has_login(web, "admin"));

    assert_true(policy_rule_selects(&p->rules[0], web));
    assert_false(policy_rule_selects(&p->rules[0], stage));
    assert_true(policy_rule_selects(&p->rules[4], stage));
    assert_false(policy_rule_selects(&empty, web)); /* an empty selector picks nothing */
    assert_true(policy_rule_allows_login(&p->rules[0], web, "deploy"));
    assert_false(policy_rule_allows_login(&p->rules[0], web, "root"));
    assert_true(policy_rule_allows_login(&p->rules[2], policy_target_find(p, "db-1"), "root"));
    assert_false(policy_rule_allows_login(&p->rules[1], web, "admin")); /* rule yes, target no */

    assert_true(policy_is_reviewer(p, &sec));
    assert_false(policy_is_reviewer(p, &lead));
    assert_true(policy_is_breakglass_requester(p, &oncall));
    assert_false(policy_is_breakglass_requester(p, &grp_oncall)); /* user:, not group: */
    assert_true(policy_is_any_approver(p, &lead));
    assert_true(policy_is_any_approver(p, &sec));
    assert_false(policy_is_any_approver(p, &alice));
    assert_true(policy_is_any_requester(p, &alice));
    assert_true(policy_is_any_requester(p, &eve));
    assert_false(policy_is_any_requester(p, &mallory));
    assert_false(policy_is_any_requester(NULL, &alice));
    assert_false(policy_principals_match(p->rules[0].requesters, 1, NULL));
    policy_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connect_table),
        cmocka_unit_test(test_connect_login_owned_by_policy),
        cmocka_unit_test(test_standing_never_on_protected),
        cmocka_unit_test(test_request_table),
        cmocka_unit_test(test_may_approve),
        cmocka_unit_test(test_roles_and_matchers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

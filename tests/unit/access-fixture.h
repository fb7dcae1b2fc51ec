/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared by test_access.c and test_access_scope.c: a store in a temp dir, a
 * policy parsed from YAML with web (one approval) and db (two approvals)
 * rules, a standing staging rule, reviewers and break-glass, and the people
 * who play the roles.  Helpers are marked unused so each test file may take
 * what it needs.
 */
#ifndef DRAWBRIDGE_TEST_ACCESS_FIXTURE_H
#define DRAWBRIDGE_TEST_ACCESS_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "broker.h"
#include "store-backend.h"

#define FX_UNUSED __attribute__((unused))

#define HOSTKEY "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIONH9O/85E2J7ruvA6x9LH9u8VvZRSZFjziSiZalffY5"
#define T0 1700000000LL

#define TARGET(name, addr, logins, labels)                                                         \
    "  - name: " name "\n    address: " addr "\n    host_key: \"" HOSTKEY "\"\n"                   \
    "    logins: " logins "\n    labels: " labels "\n"

#define POLICY_TARGETS                                                                             \
    "protected: {env: [prod]}\n"                                                                   \
    "request_ttl: 1h\n"                                                                            \
    "targets:\n" TARGET("web-1", "10.0.1.5:22", "[deploy, root]", "{env: prod, tier: web}")        \
        TARGET("db-1", "10.0.2.5:22", "[postgres]", "{env: prod, tier: db}")                       \
            TARGET("stage-1", "10.0.3.5:22", "[deploy]", "{env: staging}")

#define POLICY_TAIL                                                                                \
    "  - name: db-change\n    requesters: [\"group:dba\"]\n    targets: {names: [db-1]}\n"         \
    "    max_duration: 2h\n    approvers: [\"group:dba-leads\", \"user:carol\"]\n"                 \
    "    approvals: 2\n"                                                                           \
    "  - name: staging-standing\n    requesters: [\"group:engineers\"]\n"                          \
    "    targets: {labels: {env: staging}}\n    standing: true\n"                                  \
    "reviewers: [\"group:security\"]\n"                                                            \
    "break_glass:\n  requesters: [\"group:oncall\"]\n  max_duration: 30m\n"

FX_UNUSED static const char policy_yaml[] = POLICY_TARGETS
    "rules:\n"
    "  - name: web-oncall\n    requesters: [\"group:sre\"]\n    targets: {labels: {tier: web}}\n"
    "    logins: [deploy]\n    max_duration: 4h\n    approvers: [\"group:sre-leads\"]\n"
    "    approvals: 1\n" POLICY_TAIL;

/* The same policy after a reload that hands web-oncall to other approvers, with a 1h cap. */
FX_UNUSED static const char policy_yaml_changed[] = POLICY_TARGETS
    "rules:\n"
    "  - name: web-oncall\n    requesters: [\"group:sre\"]\n    targets: {labels: {tier: web}}\n"
    "    logins: [deploy]\n    max_duration: 1h\n    approvers: [\"group:web-leads\"]\n"
    "    approvals: 1\n" POLICY_TAIL;

/* alice requests web and is an approver of web too; bob and dave approve web; carol and dan
 * approve db; mallory requests db; eve is an ordinary engineer; sam reviews. */
static const char *const g_alice[] = {"sre", "sre-leads", "oncall"};
static const char *const g_bob[] = {"sre-leads"};
static const char *const g_dave[] = {"sre-leads", "sre"};
static const char *const g_carol[] = {"engineers"};
static const char *const g_dan[] = {"dba-leads"};
static const char *const g_mallory[] = {"dba", "dba-leads"};
static const char *const g_eve[] = {"engineers"};
static const char *const g_sam[] = {"security"};
#define SUBJ(n)                                                                                    \
    {                                                                                              \
#n, g_##n, sizeof(g_##n) / sizeof(g_##n[0])                                                \
    }
FX_UNUSED static const struct policy_subject alice = SUBJ(alice), bob = SUBJ(bob),
                                             dave = SUBJ(dave), carol = SUBJ(carol),
                                             dan = SUBJ(dan), mallory = SUBJ(mallory),
                                             eve = SUBJ(eve), sam = SUBJ(sam);

struct fx {
    char dir[64];
    struct store *s;
    struct policy *p;
    struct access_notify notify;
    struct access a;
    char events[32][32];
    long long event_ids[32];
    int nevents;
    json_t *last; /* the last notification's object */
    char err[512];
};

FX_UNUSED static void fx_on_notify(void *ctx, const char *event, struct json_t *obj)
{
    struct fx *f = ctx;

    if (f->nevents < 32) {
        snprintf(f->events[f->nevents], sizeof(f->events[0]), "%s", event);
        f->event_ids[f->nevents] = json_integer_value(json_object_get(obj, "id"));
        f->nevents++;
    }
    json_decref(f->last);
    f->last = json_incref(obj);
}

FX_UNUSED static int fx_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

FX_UNUSED static struct policy *fx_policy(const char *yaml)
{
    struct policy *p = NULL;
    char err[1024] = "";

    if (policy_load_buffer("test.yaml", yaml, strlen(yaml), &p, err, sizeof(err)) != 0) {
        fail_msg("policy: %s", err);
    }
    return p;
}

FX_UNUSED static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct config c;
    char err[512] = "";

    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/db-access-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    memset(&c, 0, sizeof(c));
    c.state_dir = f->dir;
    if (keys_ensure(&c, err, sizeof(err)) != 0 ||
        tsb_open(f->dir, &f->s, err, sizeof(err)) != 0) {
        fail_msg("setup: %s", err);
    }
    f->p = fx_policy(policy_yaml);
    f->notify.fn = fx_on_notify;
    f->notify.ctx = f;
    f->a.store = f->s;
    f->a.policy = f->p;
    f->a.notify = &f->notify;
    *state = f;
    return 0;
}

FX_UNUSED static int fx_teardown(void **state)
{
    struct fx *f = *state;

    store_close(f->s);
    policy_free(f->p);
    json_decref(f->last);
    nftw(f->dir, fx_rm, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

FX_UNUSED static long long fx_request(struct fx *f, const struct policy_subject *who,
                                      const char *target, long long duration, long long now)
{
    struct access_request_args q = {target, NULL, duration, "INC-4711 disk full", NULL};
    struct store_request r;

    if (access_request(&f->a, who, &q, now, &r, f->err, sizeof(f->err)) != 0) {
        fail_msg("request: %s", f->err);
    }
    assert_int_equal(r.status, STORE_REQ_PENDING);
    return r.id;
}

FX_UNUSED static enum store_request_status fx_status(struct fx *f, long long id)
{
    struct store_request r;

    assert_int_equal(store_request_get(f->s, id, &r), 0);
    return r.status;
}

FX_UNUSED static void fx_chain_ok(struct fx *f)
{
    char err[512] = "";

    if (store_audit_verify(f->s, NULL, err, sizeof(err)) != 0) {
        fail_msg("audit chain: %s", err);
    }
}

/* The err buffer after a refusal must name the reason. */
#define assert_err(f, needle)                                                                      \
    do {                                                                                           \
        if (strstr((f)->err, (needle)) == NULL) {                                                  \
            fail_msg("expected \"%s\" in \"%s\"", (needle), (f)->err);                             \
        }                                                                                          \
    } while (0)

enum fx_op { OP_APPROVE, OP_DENY, OP_CANCEL };

/* bob approves or denies, alice cancels: the usual actors on alice's web request. */
FX_UNUSED static int fx_op(struct fx *f, enum fx_op op, long long id, long long now)
{
    switch (op) {
    case OP_APPROVE:
        return access_approve(&f->a, &bob, id, NULL, now, NULL, f->err, sizeof(f->err));
    case OP_DENY:
        return access_deny(&f->a, &bob, id, "not now", now, f->err, sizeof(f->err));
    default:
        return access_cancel(&f->a, &alice, id, now, f->err, sizeof(f->err));
    }
}

#endif

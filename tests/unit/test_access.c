/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for broker/access*.c: the just-in-time state machine on a real
 * store in a temp dir and a policy parsed from YAML.  Tables cover input
 * validation and every transition from every state; scenarios cover
 * self-approval, outsiders, two-person rules, deny, cancel, expiry, revoke,
 * break-glass, policy changes, reopening, notifications, and a crash test
 * that SIGKILLs a process in the middle of approvals.
 */
#include "access-fixture.h"

/* ---- request input ---- */

struct req_case {
    const struct policy_subject *who;
    const char *target, *login;
    long long duration;
    const char *reason, *ticket;
    int rc;
    const char *needle;
};

static char huge_reason[2000];

static const struct req_case req_cases[] = {
    {&alice, "web-1", NULL, 3600, "INC-1", NULL, 0, NULL},
    {&alice, "web-1", "deploy", 4 * 3600, "INC-1", "JIRA-12", 0, NULL},
    {&alice, "web-1", NULL, 3600, "caf\xc3\xa9 \xe2\x98\x95 ok", NULL, 0, NULL},
    {&alice, "web-1", NULL, 3600, "$(rm -rf /); `id` | tee x & y > z", NULL, 0, NULL},
    {&alice, "web-9", NULL, 3600, "INC-1", NULL, DB_ERR_NOTFOUND, "no such target"},
    {&alice, "web-1", NULL, 4 * 3600 + 1, "INC-1", NULL, DB_ERR_INVALID, "duration"},
    {&alice, "web-1", NULL, 0, "INC-1", NULL, DB_ERR_INVALID, "duration"},
    {&alice, "web-1", NULL, -60, "INC-1", NULL, DB_ERR_INVALID, "duration"},
    {&alice, "web-1", "root", 3600, "INC-1", NULL, DB_ERR_INVALID, "login root"},
    {&alice, "web-1", "nobody", 3600, "INC-1", NULL, DB_ERR_INVALID, "no login nobody"},
    {&alice, "web-1", NULL, 3600, NULL, NULL, DB_ERR_INVALID, "reason is required"},
    {&alice, "web-1", NULL, 3600, "", NULL, DB_ERR_INVALID, "reason is required"},
    {&alice, "web-1", NULL, 3600, "   ", NULL, DB_ERR_INVALID, "reason is required"},
    {&alice, "web-1", NULL, 3600, huge_reason, NULL, DB_ERR_INVALID, "too long"},
    {&alice, "web-1", NULL, 3600, "bad \xff\xfe bytes", NULL, DB_ERR_INVALID, "UTF-8"},
    {&alice, "web-1", NULL, 3600, "overlong \xc0\xaf", NULL, DB_ERR_INVALID, "UTF-8"},
    {&alice, "web-1", NULL, 3600, "two\nlines", NULL, DB_ERR_INVALID, "control"},
    {&alice, "web-1", NULL, 3600, "tab\there", NULL, DB_ERR_INVALID, "control"},
    {&alice, "web-1", NULL, 3600, "\x1b[2J clear", NULL, DB_ERR_INVALID, "control"},
    {&alice, "web-1", NULL, 3600, "del\x7f", NULL, DB_ERR_INVALID, "control"},
    {&alice, "web-1", NULL, 3600,
     "c1 \xc2\x9b"
     "31m",
     NULL, DB_ERR_INVALID, "control"},
    {&alice, "web-1", NULL, 3600, "rlo \xe2\x80\xae txt", NULL, DB_ERR_INVALID, "control"},
    {&alice, "web-1", NULL, 3600, "INC-1", "JIRA 12", DB_ERR_INVALID, "ticket"},
    {&alice, "web-1", NULL, 3600, "INC-1", "T\xc3\xa9", DB_ERR_INVALID, "ticket"},
    {&alice, "web-1", NULL, 3600, "INC-1",
     "TTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTT"
     "T"
     "TTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTT",
     DB_ERR_INVALID, "ticket is too long"},
    {&eve, "web-1", NULL, 3600, "INC-1", NULL, DB_ERR_DENIED, "no rule"},
    {&eve, "stage-1", NULL, 3600, "INC-1", NULL, DB_ERR_DENIED, "standing access"},
    {&mallory, "db-1", NULL, 2 * 3600, "migration", NULL, 0, NULL},
    {&mallory, "db-1", NULL, 2 * 3600 + 1, "migration", NULL, DB_ERR_INVALID, "duration"},
};

static void test_request_input(void **state)
{
    struct fx *f = *state;

    memset(huge_reason, 'x', sizeof(huge_reason) - 1);
    for (size_t i = 0; i < sizeof(req_cases) / sizeof(req_cases[0]); i++) {
        const struct req_case *c = &req_cases[i];
        struct access_request_args q = {c->target, c->login, c->duration, c->reason, c->ticket};
        struct store_request r;
        int rc;

        f->err[0] = '\0';
        rc = access_request(&f->a, c->who, &q, T0, &r, f->err, sizeof(f->err));
        if (rc != c->rc) {
            fail_msg("case %zu: rc %d, expected %d (%s)", i, rc, c->rc, f->err);
        }
        if (c->needle != NULL) {
            assert_err(f, c->needle);
        } else {
            assert_int_equal(r.status, STORE_REQ_PENDING);
            assert_int_equal(r.expires_at, T0 + 3600);
            assert_string_equal(r.requester, c->who->user);
            assert_int_equal(fx_status(f, r.id), STORE_REQ_PENDING);
        }
    }
    /* A 1024-byte reason is the limit, not beyond it. */
    huge_reason[1024] = '\0';
    {
        struct access_request_args q = {"web-1", NULL, 60, huge_reason, NULL};
        assert_int_equal(access_request(&f->a, &alice, &q, T0, NULL, f->err, sizeof(f->err)), 0);
        huge_reason[1025 - 1] = 'x';
        huge_reason[1025] = '\0';
        assert_int_equal(access_request(&f->a, &alice, &q, T0, NULL, f->err, sizeof(f->err)),
                         DB_ERR_INVALID);
    }
    fx_chain_ok(f);
}

static void test_request_fields(void **state)
{
    struct fx *f = *state;
    struct access_request_args q = {"web-1", NULL, 1800, "INC-9", "JIRA-9"};
    struct store_request r, got;

    assert_int_equal(access_request(&f->a, &alice, &q, T0, &r, f->err, sizeof(f->err)), 0);
    assert_int_equal(store_request_get(f->s, r.id, &got), 0);
    assert_string_equal(got.target, "web-1");
    assert_string_equal(got.login, "deploy");
    assert_string_equal(got.rule, "web-oncall");
    assert_string_equal(got.ticket, "JIRA-9");
    assert_int_equal(got.duration, 1800);
    assert_int_equal(got.approvals_needed, 1);
    assert_int_equal(got.approvals, 0);
    assert_int_equal(got.created_at, T0);
    assert_int_equal(got.expires_at, T0 + 3600);
    /* Ids are sequential: the next request is the next number. */
    assert_int_equal(fx_request(f, &alice, "web-1", 60, T0), r.id + 1);
    assert_int_equal(f->nevents, 2);
    assert_string_equal(f->events[0], "request.created");
}

/* ---- every transition from every state ---- */

enum fx_state { S_PENDING, S_APPROVED, S_DENIED, S_CANCELLED, S_EXPIRED, S_STALE };

struct trans_case {
    enum fx_state from;
    enum fx_op op;
    int rc;
    enum store_request_status to;
    const char *needle;
};

static const struct trans_case trans_cases[] = {
    {S_PENDING, OP_APPROVE, 0, STORE_REQ_APPROVED, NULL},
    {S_PENDING, OP_DENY, 0, STORE_REQ_DENIED, NULL},
    {S_PENDING, OP_CANCEL, 0, STORE_REQ_CANCELLED, NULL},
    {S_APPROVED, OP_APPROVE, DB_ERR_CONFLICT, STORE_REQ_APPROVED, "is not pending (approved)"},
    {S_APPROVED, OP_DENY, DB_ERR_CONFLICT, STORE_REQ_APPROVED, "is not pending (approved)"},
    {S_APPROVED, OP_CANCEL, DB_ERR_CONFLICT, STORE_REQ_APPROVED, "is not pending (approved)"},
    {S_DENIED, OP_APPROVE, DB_ERR_CONFLICT, STORE_REQ_DENIED, "is not pending (denied)"},
    {S_DENIED, OP_DENY, DB_ERR_CONFLICT, STORE_REQ_DENIED, "is not pending (denied)"},
    {S_DENIED, OP_CANCEL, DB_ERR_CONFLICT, STORE_REQ_DENIED, "is not pending (denied)"},
    {S_CANCELLED, OP_APPROVE, DB_ERR_CONFLICT, STORE_REQ_CANCELLED, "(cancelled)"},
    {S_CANCELLED, OP_DENY, DB_ERR_CONFLICT, STORE_REQ_CANCELLED, "(cancelled)"},
    {S_CANCELLED, OP_CANCEL, DB_ERR_CONFLICT, STORE_REQ_CANCELLED, "(cancelled)"},
    {S_EXPIRED, OP_APPROVE, DB_ERR_CONFLICT, STORE_REQ_EXPIRED, "(expired)"},
    {S_EXPIRED, OP_DENY, DB_ERR_CONFLICT, STORE_REQ_EXPIRED, "(expired)"},
    {S_EXPIRED, OP_CANCEL, DB_ERR_CONFLICT, STORE_REQ_EXPIRED, "(expired)"},
    /* Past its ttl but not yet swept: the action records the expiry and refuses. */
    {S_STALE, OP_APPROVE, DB_ERR_CONFLICT, STORE_REQ_EXPIRED, "has expired"},
    {S_STALE, OP_DENY, DB_ERR_CONFLICT, STORE_REQ_EXPIRED, "has expired"},
    {S_STALE, OP_CANCEL, DB_ERR_CONFLICT, STORE_REQ_EXPIRED, "(expired)"},
};

static void test_transitions(void **state)
{
    struct fx *f = *state;

    for (size_t i = 0; i < sizeof(trans_cases) / sizeof(trans_cases[0]); i++) {
        const struct trans_case *c = &trans_cases[i];
        long long now = T0 + (long long)i * 10000, id = fx_request(f, &alice, "web-1", 600, now);
        long long at = now + 60;
        struct store_grant g;
        int expired = 0, rc;

        switch (c->from) {
        case S_APPROVED:
            assert_int_equal(fx_op(f, OP_APPROVE, id, now + 1), 0);
            break;
        case S_DENIED:
            assert_int_equal(fx_op(f, OP_DENY, id, now + 1), 0);
            break;
        case S_CANCELLED:
            assert_int_equal(fx_op(f, OP_CANCEL, id, now + 1), 0);
            break;
        case S_EXPIRED:
            /* (earlier cases' grants expire in the same sweep) */
            assert_int_equal(access_expire(&f->a, now + 3600, &expired), 0);
            assert_true(expired >= 1);
            at = now + 3601;
            break;
        case S_STALE:
            at = now + 3600;
            break;
        default:
            break;
        }
        f->err[0] = '\0';
        rc = fx_op(f, c->op, id, at);
        if (rc != c->rc) {
            fail_msg("case %zu: rc %d, expected %d (%s)", i, rc, c->rc, f->err);
        }
        if (c->needle != NULL) {
            assert_err(f, c->needle);
        }
        assert_int_equal(fx_status(f, id), c->to);
        /* approved <=> a grant exists, from the approval for the requested duration */
        if (c->to == STORE_REQ_APPROVED) {
            assert_int_equal(store_grant_get(f->s, id, &g), 0);
            assert_int_equal(g.ends_at - g.starts_at, 600);
        } else {
            assert_int_equal(store_grant_get(f->s, id, &g), DB_ERR_NOTFOUND);
        }
    }
    fx_chain_ok(f);
}

struct grant_case {
    int from; /* 0 active, 1 revoked, 2 expired (swept), 3 past its end (not swept) */
    int rc;
    enum store_grant_status to;
    const char *needle;
};

static const struct grant_case grant_cases[] = {
    {0, 0, STORE_GRANT_REVOKED, NULL},
    {1, DB_ERR_CONFLICT, STORE_GRANT_REVOKED, "is not active (revoked)"},
    {2, DB_ERR_CONFLICT, STORE_GRANT_EXPIRED, "is not active (expired)"},
    {3, DB_ERR_CONFLICT, STORE_GRANT_EXPIRED, "is not active (expired)"},
};

static void test_grant_transitions(void **state)
{
    struct fx *f = *state;
    struct store_grant g;

    for (size_t i = 0; i < sizeof(grant_cases) / sizeof(grant_cases[0]); i++) {
        const struct grant_case *c = &grant_cases[i];
        long long now = T0 + (long long)i * 10000, id = fx_request(f, &alice, "web-1", 600, now);
        long long at = now + 100;
        int rc;

        assert_int_equal(fx_op(f, OP_APPROVE, id, now + 10), 0);
        if (c->from == 1) {
            assert_int_equal(
                access_revoke(&f->a, &sam, id, "done", now + 20, f->err, sizeof(f->err)), 0);
        } else if (c->from == 2) {
            assert_int_equal(access_expire(&f->a, now + 610, NULL), 0);
            at = now + 700;
        } else if (c->from == 3) {
            at = now + 610;
        }
        f->err[0] = '\0';
        rc = access_revoke(&f->a, &bob, id, "incident over", at, f->err, sizeof(f->err));
        if (rc != c->rc) {
            fail_msg("case %zu: rc %d, expected %d (%s)", i, rc, c->rc, f->err);
        }
        if (c->needle != NULL) {
            assert_err(f, c->needle);
        }
        assert_int_equal(store_grant_get(f->s, id, &g), 0);
        assert_int_equal(g.status, c->to);
        assert_int_equal(access_live_grant(f->s, "alice", "web-1", "deploy", at, &g),
                         DB_ERR_NOTFOUND);
    }
    /* A request that was never approved has no grant to revoke. */
    assert_int_equal(access_revoke(&f->a, &bob, fx_request(f, &alice, "web-1", 60, T0), "x", T0,
                                   f->err, sizeof(f->err)),
                     DB_ERR_NOTFOUND);
    assert_err(f, "no grant");
    fx_chain_ok(f);
}

/* ---- who may decide ---- */

static void test_self_approval(void **state)
{
    struct fx *f = *state;
    long long id = fx_request(f, &alice, "web-1", 600, T0);
    struct store_decision *d = NULL;
    size_t nd = 99;

    /* alice is in sre-leads, the approver group, and still cannot approve her own request. */
    assert_true(
        policy_principals_match(f->p->rules[0].approvers, f->p->rules[0].napprovers, &alice));
    assert_int_equal(access_approve(&f->a, &alice, id, NULL, T0 + 1, NULL, f->err, sizeof(f->err)),
                     DB_ERR_DENIED);
    assert_err(f, "you cannot approve your own request");
    assert_int_equal(access_deny(&f->a, &alice, id, "no", T0 + 1, f->err, sizeof(f->err)),
                     DB_ERR_DENIED);
    assert_err(f, "own request");
    assert_int_equal(fx_status(f, id), STORE_REQ_PENDING);
    assert_int_equal(store_decision_list(f->s, id, &d, &nd), 0);
    assert_int_equal(nd, 0);
    free(d);
    /* mallory is in dba-leads too: two-approval rules do not count her either. */
    id = fx_request(f, &mallory, "db-1", 600, T0);
    assert_int_equal(
        access_approve(&f->a, &mallory, id, NULL, T0 + 1, NULL, f->err, sizeof(f->err)),
        DB_ERR_DENIED);
    assert_int_equal(access_approve(&f->a, &carol, id, NULL, T0 + 2, NULL, f->err, sizeof(f->err)),
                     0);
    assert_int_equal(fx_status(f, id), STORE_REQ_PENDING);
    fx_chain_ok(f);
}

static void test_outsider(void **state)
{
    struct fx *f = *state;
    long long id = fx_request(f, &alice, "web-1", 600, T0);

    assert_int_equal(access_approve(&f->a, &eve, id, NULL, T0 + 1, NULL, f->err, sizeof(f->err)),
                     DB_ERR_DENIED);
    assert_err(f, "eve is not an approver for rule web-oncall");
    /* An approver of another rule is an outsider here; so is a reviewer. */
    assert_int_equal(access_approve(&f->a, &carol, id, NULL, T0 + 1, NULL, f->err, sizeof(f->err)),
                     DB_ERR_DENIED);
    assert_int_equal(access_approve(&f->a, &sam, id, NULL, T0 + 1, NULL, f->err, sizeof(f->err)),
                     DB_ERR_DENIED);
    assert_int_equal(access_deny(&f->a, &eve, id, "no", T0 + 1, f->err, sizeof(f->err)),
                     DB_ERR_DENIED);
    assert_int_equal(access_cancel(&f->a, &bob, id, T0 + 1, f->err, sizeof(f->err)),
                     DB_ERR_NOTFOUND);
    assert_err(f, "you have no request");
    assert_int_equal(access_approve(&f->a, &bob, 9999, NULL, T0 + 1, NULL, f->err, sizeof(f->err)),
                     DB_ERR_NOTFOUND);
    assert_int_equal(fx_status(f, id), STORE_REQ_PENDING);
    assert_int_equal(f->nevents, 1);
    fx_chain_ok(f);
}

static void test_two_approvals(void **state)
{
    struct fx *f = *state;
    long long id = fx_request(f, &mallory, "db-1", 5400, T0);
    struct store_request r;
    struct store_grant g;

    assert_int_equal(
        access_approve(&f->a, &carol, id, "ok by me", T0 + 10, &r, f->err, sizeof(f->err)), 0);
    assert_int_equal(r.status, STORE_REQ_PENDING);
    assert_int_equal(r.approvals, 1);
    assert_int_equal(r.approvals_needed, 2);
    /* The same person twice is one approval. */
    assert_int_equal(access_approve(&f->a, &carol, id, NULL, T0 + 20, &r, f->err, sizeof(f->err)),
                     DB_ERR_CONFLICT);
    assert_err(f, "already decided");
    assert_int_equal(store_request_get(f->s, id, &r), 0);
    assert_int_equal(r.approvals, 1);
    assert_int_equal(r.status, STORE_REQ_PENDING);
    assert_int_equal(access_live_grant(f->s, "mallory", "db-1", "postgres", T0 + 30, &g),
                     DB_ERR_NOTFOUND);
    assert_int_equal(access_approve(&f->a, &dan, id, NULL, T0 + 100, &r, f->err, sizeof(f->err)),
                     0);
    assert_int_equal(r.status, STORE_REQ_APPROVED);
    assert_string_equal(r.decided_by, "dan");
    /* The grant runs from the final approval for the requested duration. */
    assert_int_equal(access_live_grant(f->s, "mallory", "db-1", "postgres", T0 + 100, &g), 0);
    assert_int_equal(g.id, id);
    assert_int_equal(g.starts_at, T0 + 100);
    assert_int_equal(g.ends_at, T0 + 100 + 5400);
    assert_string_equal(g.rule, "db-change");
    assert_int_equal(f->nevents, 2);
    assert_string_equal(f->events[1], "request.approved");
    assert_int_equal(f->event_ids[1], id);
    fx_chain_ok(f);
}

static void test_deny_ends(void **state)
{
    struct fx *f = *state;
    long long id = fx_request(f, &mallory, "db-1", 600, T0);
    struct store_grant g;

    assert_int_equal(access_approve(&f->a, &carol, id, NULL, T0 + 1, NULL, f->err, sizeof(f->err)),
                     0);
    assert_int_equal(access_deny(&f->a, &dan, id, NULL, T0 + 2, f->err, sizeof(f->err)),
                     DB_ERR_INVALID);
    assert_err(f, "reason is required");
    assert_int_equal(
        access_deny(&f->a, &dan, id, "not during the freeze", T0 + 2, f->err, sizeof(f->err)), 0);
    assert_int_equal(fx_status(f, id), STORE_REQ_DENIED);
    assert_int_equal(store_grant_get(f->s, id, &g), DB_ERR_NOTFOUND);
    assert_int_equal(access_approve(&f->a, &dan, id, NULL, T0 + 3, NULL, f->err, sizeof(f->err)),
                     DB_ERR_CONFLICT);
    assert_string_equal(f->events[f->nevents - 1], "request.denied");
    fx_chain_ok(f);
}

static void test_cancel(void **state)
{
    struct fx *f = *state;
    long long id = fx_request(f, &alice, "web-1", 600, T0);

    assert_int_equal(access_cancel(&f->a, &eve, id, T0 + 1, f->err, sizeof(f->err)),
                     DB_ERR_NOTFOUND);
    assert_int_equal(access_cancel(&f->a, &alice, id, T0 + 1, f->err, sizeof(f->err)), 0);
    assert_int_equal(fx_status(f, id), STORE_REQ_CANCELLED);
    assert_int_equal(access_approve(&f->a, &bob, id, NULL, T0 + 2, NULL, f->err, sizeof(f->err)),
                     DB_ERR_CONFLICT);
    fx_chain_ok(f);
}

static void test_request_expiry(void **state)
{
    struct fx *f = *state;
    long long id = fx_request(f, &alice, "web-1", 600, T0);
    int n = -1;

    assert_int_equal(access_expire(&f->a, T0 + 3599, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(fx_status(f, id), STORE_REQ_PENDING);
    assert_int_equal(access_expire(&f->a, T0 + 3600, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(fx_status(f, id), STORE_REQ_EXPIRED);
    assert_int_equal(access_expire(&f->a, T0 + 3700, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(access_approve(&f->a, &bob, id, NULL, T0 + 3700, NULL, f->err, sizeof(f->err)),
                     DB_ERR_CONFLICT);
    fx_chain_ok(f);
}

static void test_grant_expiry(void **state)
{
    struct fx *f = *state;
    long long id = fx_request(f, &alice, "web-1", 3600, T0);
    struct store_grant g;
    int n = -1;

    assert_int_equal(fx_op(f, OP_APPROVE, id, T0 + 50), 0);
    assert_int_equal(access_live_grant(f->s, "alice", "web-1", "deploy", T0 + 50, &g), 0);
    assert_int_equal(access_live_grant(f->s, "alice", "web-1", "deploy", T0 + 3649, &g), 0);
    assert_int_equal(access_live_grant(f->s, "alice", "web-1", "root", T0 + 60, &g),
                     DB_ERR_NOTFOUND);
    assert_int_equal(access_live_grant(f->s, "bob", "web-1", "deploy", T0 + 60, &g),
                     DB_ERR_NOTFOUND);
    assert_int_equal(access_live_grant(f->s, "alice", "db-1", "deploy", T0 + 60, &g),
                     DB_ERR_NOTFOUND);
    assert_int_equal(access_live_grant(f->s, "alice", "web-1", "deploy", T0 + 3650, &g),
                     DB_ERR_NOTFOUND);
    /* Before the sweep the status already reads expired... */
    assert_int_equal(access_grant_status(f->s, id, T0 + 3650, &g), 0);
    assert_int_equal(g.status, STORE_GRANT_EXPIRED);
    assert_int_equal(access_grant_status(f->s, id, T0 + 3649, &g), 0);
    assert_int_equal(g.status, STORE_GRANT_ACTIVE);
    /* ...and the sweep writes it, once. */
    assert_int_equal(access_expire(&f->a, T0 + 3650, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(store_grant_get(f->s, id, &g), 0);
    assert_int_equal(g.status, STORE_GRANT_EXPIRED);
    assert_int_equal(access_expire(&f->a, T0 + 4000, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(access_grant_status(f->s, 424242, T0, &g), DB_ERR_NOTFOUND);
    fx_chain_ok(f);
}

struct revoke_case {
    const struct policy_subject *who;
    int rc;
};

static const struct revoke_case revoke_cases[] = {
    {&bob, 0},             /* approver of the rule */
    {&sam, 0},             /* reviewer */
    {&alice, 0},           /* the holder gives it up */
    {&eve, DB_ERR_DENIED}, /* nobody in particular */
    {&carol, DB_ERR_DENIED},
};

static void test_revoke(void **state)
{
    struct fx *f = *state;
    struct store_grant g;

    for (size_t i = 0; i < sizeof(revoke_cases) / sizeof(revoke_cases[0]); i++) {
        long long now = T0 + (long long)i * 100, id = fx_request(f, &alice, "web-1", 3600, now);
        int rc;

        assert_int_equal(fx_op(f, OP_APPROVE, id, now + 1), 0);
        assert_int_equal(
            access_revoke(&f->a, revoke_cases[i].who, id, "", now + 2, f->err, sizeof(f->err)),
            DB_ERR_INVALID);
        rc = access_revoke(&f->a, revoke_cases[i].who, id, "incident closed", now + 2, f->err,
                           sizeof(f->err));
        if (rc != revoke_cases[i].rc) {
            fail_msg("case %zu: rc %d (%s)", i, rc, f->err);
        }
        assert_int_equal(store_grant_get(f->s, id, &g), 0);
        if (rc == 0) {
            assert_int_equal(g.status, STORE_GRANT_REVOKED);
            assert_string_equal(g.revoked_by, revoke_cases[i].who->user);
            assert_string_equal(g.revoke_reason, "incident closed");
            assert_int_equal(g.revoked_at, now + 2);
            assert_int_equal(access_live_grant(f->s, "alice", "web-1", "deploy", now + 3, &g),
                             DB_ERR_NOTFOUND);
            assert_string_equal(f->events[f->nevents - 1], "grant.revoked");
        } else {
            assert_err(f, "may not revoke");
            assert_int_equal(g.status, STORE_GRANT_ACTIVE);
            assert_int_equal(
                access_revoke(&f->a, &sam, id, "cleanup", now + 3, f->err, sizeof(f->err)), 0);
        }
    }
    fx_chain_ok(f);
}

static void test_breakglass(void **state)
{
    struct fx *f = *state;
    struct store_request r;
    struct store_grant g;

    assert_int_equal(access_breakglass(&f->a, &alice, "db-1", NULL, 900, "db down, paging", T0, &r,
                                       f->err, sizeof(f->err)),
                     0);
    assert_int_equal(r.status, STORE_REQ_APPROVED);
    assert_int_equal(r.breakglass, 1);
    assert_int_equal(access_live_grant(f->s, "alice", "db-1", "postgres", T0, &g), 0);
    assert_int_equal(g.id, r.id);
    assert_int_equal(g.breakglass, 1);
    assert_int_equal(g.review_required, 1);
    assert_int_equal(g.ends_at, T0 + 900);
    assert_string_equal(f->events[f->nevents - 1], "breakglass");
    /* Nobody approves a break-glass grant after the fact. */
    assert_int_equal(access_approve(&f->a, &dan, r.id, NULL, T0 + 1, NULL, f->err, sizeof(f->err)),
                     DB_ERR_DENIED);
    assert_int_equal(
        access_breakglass(&f->a, &alice, "db-1", NULL, 1801, "x", T0, NULL, f->err, sizeof(f->err)),
        DB_ERR_INVALID);
    assert_err(f, "30m");
    assert_int_equal(
        access_breakglass(&f->a, &alice, "db-1", NULL, 0, "x", T0, NULL, f->err, sizeof(f->err)),
        DB_ERR_INVALID);
    assert_int_equal(
        access_breakglass(&f->a, &eve, "db-1", NULL, 60, "x", T0, NULL, f->err, sizeof(f->err)),
        DB_ERR_DENIED);
    assert_int_equal(
        access_breakglass(&f->a, &alice, "nope", NULL, 60, "x", T0, NULL, f->err, sizeof(f->err)),
        DB_ERR_NOTFOUND);
    assert_int_equal(
        access_breakglass(&f->a, &alice, "db-1", "root", 60, "x", T0, NULL, f->err, sizeof(f->err)),
        DB_ERR_INVALID);
    assert_int_equal(access_breakglass(&f->a, &alice, "db-1", NULL, 60, "\x1b]52;c;", T0, NULL,
                                       f->err, sizeof(f->err)),
                     DB_ERR_INVALID);
    /* Reviewers may end it; an approver of some rule may not. */
    assert_int_equal(access_revoke(&f->a, &dan, r.id, "x", T0 + 5, f->err, sizeof(f->err)),
                     DB_ERR_DENIED);
    assert_int_equal(access_revoke(&f->a, &sam, r.id, "reviewed", T0 + 5, f->err, sizeof(f->err)),
                     0);
    fx_chain_ok(f);
}

/* The current policy decides: a reload that changes approvers or max takes effect at once. */
static void test_policy_change(void **state)
{
    struct fx *f = *state;
    struct policy *changed = fx_policy(policy_yaml_changed);
    const char *const g_wl[] = {"web-leads"};
    struct policy_subject wl = {"wendy", g_wl, 1};
    long long id1 = fx_request(f, &alice, "web-1", 1800, T0);
    long long id2 = fx_request(f, &alice, "web-1", 7200, T0);
    long long id3 = fx_request(f, &alice, "web-1", 1800, T0);

    assert_int_equal(fx_op(f, OP_APPROVE, id3, T0 + 1), 0);
    f->a.policy = changed;
    assert_int_equal(access_approve(&f->a, &bob, id1, NULL, T0 + 5, NULL, f->err, sizeof(f->err)),
                     DB_ERR_DENIED);
    assert_err(f, "bob is not an approver for rule web-oncall");
    assert_int_equal(access_approve(&f->a, &wl, id1, NULL, T0 + 5, NULL, f->err, sizeof(f->err)),
                     0);
    /* Asked for 2h under a rule that now allows 1h. */
    assert_int_equal(access_approve(&f->a, &wl, id2, NULL, T0 + 5, NULL, f->err, sizeof(f->err)),
                     DB_ERR_DENIED);
    assert_err(f, "at most 1h");
    assert_int_equal(fx_status(f, id2), STORE_REQ_PENDING);
    /* bob approved id3 under the old policy; now he cannot revoke it, wendy can. */
    assert_int_equal(access_revoke(&f->a, &bob, id3, "x", T0 + 6, f->err, sizeof(f->err)),
                     DB_ERR_DENIED);
    assert_int_equal(access_revoke(&f->a, &wl, id3, "x", T0 + 6, f->err, sizeof(f->err)), 0);
    f->a.policy = f->p;
    policy_free(changed);
    fx_chain_ok(f);
}

/* ---- durability ---- */

static void test_reopen(void **state)
{
    struct fx *f = *state;
    long long pending = fx_request(f, &alice, "web-1", 600, T0);
    long long granted = fx_request(f, &alice, "web-1", 3600, T0);
    struct store_grant g;

    assert_int_equal(fx_op(f, OP_APPROVE, granted, T0 + 5), 0);
    store_close(f->s);
    f->s = NULL;
    assert_int_equal(tsb_open(f->dir, &f->s, f->err, sizeof(f->err)), 0);
    f->a.store = f->s;
    assert_int_equal(fx_status(f, pending), STORE_REQ_PENDING);
    assert_int_equal(access_live_grant(f->s, "alice", "web-1", "deploy", T0 + 100, &g), 0);
    assert_int_equal(g.id, granted);
    /* Still a working state machine after reopening. */
    assert_int_equal(fx_op(f, OP_APPROVE, pending, T0 + 200), 0);
    fx_chain_ok(f);
}

/*
 * A child performs request + two approvals in a loop, each step audited; the
 * parent SIGKILLs it at random moments, several times.  Afterwards every
 * request must be consistent: approved <=> a grant with matching times,
 * decisions never more than one per approver, and every state change
 * accompanied by its audit row; and the chain must verify.
 */
static void fx_crash_child(const char *dir, int ready)
{
    struct store *s = NULL;
    struct policy *p = fx_policy(policy_yaml);
    struct access a = {NULL, p, NULL};
    struct access_request_args q = {"db-1", NULL, 600, "crash test", NULL};
    struct store_request r;
    char err[256];
    long long now = T0 + (long long)getpid() * 10;

    if (tsb_open(dir, &s, err, sizeof(err)) != 0) {
        _exit(3);
    }
    a.store = s;
    /* the kill is timed from here: opening (a PostgreSQL connection) takes a while under load */
    if (write(ready, "r", 1) != 1) {
        _exit(3);
    }
    close(ready);
    for (;;) {
        now += 3;
        if (access_request(&a, &mallory, &q, now, &r, err, sizeof(err)) != 0) {
            access_expire(&a, now + 7200, NULL); /* keep under the pending cap */
            continue;
        }
        access_approve(&a, &carol, r.id, "one", now + 1, NULL, err, sizeof(err));
        access_approve(&a, &dan, r.id, "two", now + 2, NULL, err, sizeof(err));
    }
}

struct crash_audit {
    long long max_id;
    unsigned char created[4096], approved[4096], started[4096];
};

static int fx_crash_audit_row(void *ctx, const struct audit_row *row)
{
    struct crash_audit *c = ctx;
    long long id = 0;

    if (sscanf(row->object, "%*s %lld", &id) != 1 || id <= 0 || id >= 4096) {
        return 0;
    }
    if (strcmp(row->event, "request.create") == 0) {
        c->created[id]++;
    } else if (strcmp(row->event, "request.approve") == 0) {
        c->approved[id]++;
    } else if (strcmp(row->event, "grant.start") == 0) {
        c->started[id]++;
    }
    return 0;
}

static void test_crash_during_approvals(void **state)
{
    struct fx *f = *state;
    struct store_request *v = NULL;
    struct crash_audit *ca = calloc(1, sizeof(*ca));
    size_t n = 0, approved = 0;
    unsigned seed = (unsigned)time(NULL);

    assert_non_null(ca);
    srand(seed);
    /* As the listener should: no handle open across fork. */
    store_close(f->s);
    f->s = NULL;
    for (int round = 0; round < 8; round++) {
        int ready[2], st = 0;
        pid_t pid;
        char b;

        assert_int_equal(pipe(ready), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(ready[0]);
            fx_crash_child(f->dir, ready[1]);
        }
        close(ready[1]);
        assert_int_equal(read(ready[0], &b, 1), 1);
        close(ready[0]);
        usleep(20000 + (useconds_t)(rand() % 60000));
        kill(pid, SIGKILL);
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFSIGNALED(st));
    }
    assert_int_equal(tsb_open(f->dir, &f->s, f->err, sizeof(f->err)), 0);
    f->a.store = f->s;
    assert_int_equal(store_request_list(f->s, NULL, 0, 4000, &v, &n), 0);
    if (n < 8) {
        fail_msg("the child made only %zu requests (seed %u)", n, seed);
    }
    assert_int_equal(store_audit_foreach(f->s, 0, fx_crash_audit_row, ca), 0);
    for (size_t i = 0; i < n; i++) {
        struct store_grant g;
        struct store_decision *d = NULL;
        size_t nd = 0;
        int has_grant = store_grant_get(f->s, v[i].id, &g) == 0;

        assert_true(v[i].id < 4096);
        assert_int_equal(store_decision_list(f->s, v[i].id, &d, &nd), 0);
        assert_int_equal((int)nd, v[i].approvals); /* approvals only, one per approver */
        assert_int_equal(ca->created[v[i].id], 1);
        assert_int_equal(ca->approved[v[i].id], (unsigned char)nd);
        if (v[i].status == STORE_REQ_APPROVED) {
            approved++;
            assert_true(has_grant);
            assert_int_equal(nd, 2);
            assert_int_equal(g.starts_at, v[i].decided_at);
            assert_int_equal(g.ends_at, v[i].decided_at + v[i].duration);
            assert_int_equal(g.starts_at, d[1].at);
            assert_int_equal(ca->started[v[i].id], 1);
        } else {
            assert_false(has_grant);
            assert_true(nd < 2);
            assert_int_equal(ca->started[v[i].id], 0);
        }
        free(d);
    }
    if (approved == 0) {
        fail_msg("no request was approved (seed %u)", seed);
    }
    print_message("crash test: %zu requests, %zu approved, 8 kills (seed %u)\n", n, approved, seed);
    free(v);
    free(ca);
    fx_chain_ok(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_request_input, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_request_fields, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_transitions, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_grant_transitions, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_self_approval, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_outsider, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_two_approvals, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_deny_ends, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_cancel, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_request_expiry, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_grant_expiry, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_revoke, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_breakglass, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_policy_change, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_reopen, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_crash_during_approvals, fx_setup, fx_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

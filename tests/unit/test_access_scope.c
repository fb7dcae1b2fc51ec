/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for what broker/access*.c shows and records rather than
 * decides: listings and `show` scoped by role, the per-requester cap,
 * notifications, the access report, the audit helpers the session code
 * calls, and processes racing to decide the same requests.
 */
#include "access-fixture.h"

/* ---- scoping ---- */

static int fx_has(const struct store_request *v, size_t n, long long id)
{
    for (size_t i = 0; i < n; i++) {
        if (v[i].id == id) {
            return 1;
        }
    }
    return 0;
}

struct scope_case {
    const struct policy_subject *who;
    unsigned flags;
    int web, db, done; /* expected visibility of the three requests */
};

static const struct scope_case scope_cases[] = {
    {&alice, 0, 1, 0, 1}, /* her own (done: approved with a live grant) */
    {&alice, ACCESS_LIST_PENDING, 1, 0, 0},
    {&bob, 0, 1, 0, 1}, /* approver of web-oncall */
    {&bob, ACCESS_LIST_MINE, 0, 0, 0},
    {&carol, 0, 0, 1, 0},   /* approver of db-change */
    {&mallory, 0, 0, 1, 0}, /* her own */
    {&eve, 0, 0, 0, 0},
    {&eve, ACCESS_LIST_ALL, 0, 0, 0},
    {&sam, 0, 1, 1, 1}, /* reviewer */
    {&sam, ACCESS_LIST_MINE, 0, 0, 0},
};

static void test_scope(void **state)
{
    struct fx *f = *state;
    long long web = fx_request(f, &alice, "web-1", 600, T0);
    long long db = fx_request(f, &mallory, "db-1", 600, T0);
    long long done = fx_request(f, &alice, "web-1", 600, T0);
    struct store_request *v = NULL, r;
    struct store_decision *d = NULL;
    struct store_grant *gv = NULL, g;
    size_t n = 0, nd = 0;

    assert_int_equal(fx_op(f, OP_APPROVE, done, T0 + 1), 0);
    for (size_t i = 0; i < sizeof(scope_cases) / sizeof(scope_cases[0]); i++) {
        const struct scope_case *c = &scope_cases[i];

        assert_int_equal(
            access_list_requests(&f->a, c->who, c->flags, T0 + 2, &v, &n, f->err, sizeof(f->err)),
            0);
        if (fx_has(v, n, web) != c->web || fx_has(v, n, db) != c->db ||
            fx_has(v, n, done) != c->done) {
            fail_msg("case %zu (%s): web %d db %d done %d", i, c->who->user, fx_has(v, n, web),
                     fx_has(v, n, db), fx_has(v, n, done));
        }
        free(v);
    }
    /* Expired requests leave the default list but stay in --all. */
    assert_int_equal(
        access_list_requests(&f->a, &sam, 0, T0 + 7200, &v, &n, f->err, sizeof(f->err)), 0);
    assert_int_equal(n, 0);
    free(v);
    assert_int_equal(access_list_requests(&f->a, &sam, ACCESS_LIST_ALL, T0 + 7200, &v, &n, f->err,
                                          sizeof(f->err)),
                     0);
    assert_int_equal(n, 3);
    assert_int_equal(v[0].id, done); /* newest first */
    assert_int_equal(v[1].status, STORE_REQ_EXPIRED);
    free(v);
    /* show: visible ones with decisions and grant; others read as absent. */
    assert_int_equal(
        access_show(&f->a, &alice, done, T0 + 2, &r, &d, &nd, &g, f->err, sizeof(f->err)), 0);
    assert_int_equal(nd, 1);
    assert_string_equal(d[0].approver, "bob");
    assert_int_equal(g.status, STORE_GRANT_ACTIVE);
    free(d);
    assert_int_equal(
        access_show(&f->a, &alice, web, T0 + 2, &r, NULL, NULL, &g, f->err, sizeof(f->err)), 0);
    assert_int_equal(g.status, STORE_GRANT_NONE);
    assert_int_equal(
        access_show(&f->a, &eve, web, T0 + 2, &r, NULL, NULL, NULL, f->err, sizeof(f->err)),
        DB_ERR_NOTFOUND);
    assert_err(f, "no request");
    assert_int_equal(
        access_show(&f->a, &alice, db, T0 + 2, &r, NULL, NULL, NULL, f->err, sizeof(f->err)),
        DB_ERR_NOTFOUND);
    assert_int_equal(
        access_show(&f->a, &sam, 12345, T0 + 2, &r, NULL, NULL, NULL, f->err, sizeof(f->err)),
        DB_ERR_NOTFOUND);
    /* grants: holder, approver, reviewer; not eve. */
    assert_int_equal(access_list_grants(&f->a, &alice, 0, T0 + 2, &gv, &n, f->err, sizeof(f->err)),
                     0);
    assert_int_equal(n, 1);
    assert_int_equal(gv[0].id, done);
    free(gv);
    assert_int_equal(access_list_grants(&f->a, &bob, 0, T0 + 2, &gv, &n, f->err, sizeof(f->err)),
                     0);
    assert_int_equal(n, 1);
    free(gv);
    assert_int_equal(access_list_grants(&f->a, &eve, 0, T0 + 2, &gv, &n, f->err, sizeof(f->err)),
                     0);
    assert_int_equal(n, 0);
    assert_null(gv);
    assert_int_equal(access_list_grants(&f->a, &sam, 0, T0 + 700, &gv, &n, f->err, sizeof(f->err)),
                     0);
    assert_int_equal(n, 0);
}

/* A requester cannot flood approvers: at most 20 open requests each. */
static void test_pending_cap(void **state)
{
    struct fx *f = *state;
    struct access_request_args q = {"web-1", NULL, 60, "again", NULL};
    int i;

    for (i = 0; i < 20; i++) {
        assert_int_equal(access_request(&f->a, &alice, &q, T0, NULL, f->err, sizeof(f->err)), 0);
    }
    assert_int_equal(access_request(&f->a, &alice, &q, T0, NULL, f->err, sizeof(f->err)),
                     DB_ERR_DENIED);
    assert_err(f, "pending requests");
    assert_int_equal(access_request(&f->a, &dave, &q, T0, NULL, f->err, sizeof(f->err)), 0);
}

/* ---- notifications ---- */

static void test_notify_payload(void **state)
{
    struct fx *f = *state;
    struct access_request_args q = {"db-1", NULL, 600, "migrate \"orders\"", "CHG-7"};
    struct store_request r;
    json_t *ap = NULL;

    assert_int_equal(access_request(&f->a, &mallory, &q, T0, &r, f->err, sizeof(f->err)), 0);
    assert_non_null(f->last);
    assert_string_equal(json_string_value(json_object_get(f->last, "event")), "request.created");
    assert_int_equal(json_integer_value(json_object_get(f->last, "id")), r.id);
    assert_string_equal(json_string_value(json_object_get(f->last, "requester")), "mallory");
    assert_string_equal(json_string_value(json_object_get(f->last, "reason")),
                        "migrate \"orders\"");
    assert_string_equal(json_string_value(json_object_get(f->last, "ticket")), "CHG-7");
    assert_int_equal(json_integer_value(json_object_get(f->last, "approvals_needed")), 2);
    ap = json_object_get(f->last, "approvers");
    assert_int_equal(json_array_size(ap), 2);
    assert_string_equal(json_string_value(json_array_get(ap, 0)), "group:dba-leads");
    assert_string_equal(json_string_value(json_array_get(ap, 1)), "user:carol");
    /* A first approval of two is not an event; the second is, with the grant's end. */
    assert_int_equal(
        access_approve(&f->a, &carol, r.id, NULL, T0 + 1, NULL, f->err, sizeof(f->err)), 0);
    assert_int_equal(f->nevents, 1);
    assert_int_equal(access_approve(&f->a, &dan, r.id, "go", T0 + 2, NULL, f->err, sizeof(f->err)),
                     0);
    assert_int_equal(f->nevents, 2);
    assert_string_equal(json_string_value(json_object_get(f->last, "actor")), "dan");
    assert_string_equal(json_string_value(json_object_get(f->last, "status")), "approved");
    assert_string_equal(json_string_value(json_object_get(f->last, "text")), "go");
    assert_int_equal(json_integer_value(json_object_get(f->last, "grant_ends_at")), T0 + 602);
    /* Refusals notify nobody. */
    assert_int_equal(access_revoke(&f->a, &eve, r.id, "x", T0 + 3, f->err, sizeof(f->err)),
                     DB_ERR_DENIED);
    assert_int_equal(f->nevents, 2);
    /* No hook: nothing breaks. */
    f->a.notify = NULL;
    assert_int_equal(access_request(&f->a, &mallory, &q, T0, &r, f->err, sizeof(f->err)), 0);
    assert_int_equal(f->nevents, 2);
}

/* ---- audit rows of the session code's helpers ---- */

struct fx_rows {
    char events[64][32];
    char objects[64][64];
    char details[64][512];
    int n;
    int approves, grants; /* for fx_count_events */
};

/* Counts request.approve and grant.start; any other event but request.create goes to n. */
static int fx_count_events(void *ctx, const struct audit_row *row)
{
    struct fx_rows *c = ctx;

    if (strcmp(row->event, "request.approve") == 0) {
        c->approves++;
    } else if (strcmp(row->event, "grant.start") == 0) {
        c->grants++;
    } else if (strcmp(row->event, "request.create") != 0) {
        c->n++;
    }
    return 0;
}

static int fx_collect(void *ctx, const struct audit_row *row)
{
    struct fx_rows *c = ctx;

    if (c->n < 64) {
        snprintf(c->events[c->n], sizeof(c->events[0]), "%s", row->event);
        snprintf(c->objects[c->n], sizeof(c->objects[0]), "%s", row->object);
        snprintf(c->details[c->n], sizeof(c->details[0]), "%s", row->details);
        c->n++;
    }
    return 0;
}

static void test_session_audit(void **state)
{
    struct fx *f = *state;
    struct fx_rows *rows = calloc(1, sizeof(*rows));
    struct store_session s, got;
    char obj[64];

    assert_non_null(rows);
    assert_int_equal(access_audit_auth(f->s, T0, "alice", "uid=alice,dc=x", "10.0.0.1:5555",
                                       "publickey", 1, NULL),
                     0);
    assert_int_equal(access_audit_auth(f->s, T0 + 1, "bob\xff", NULL, "10.0.0.2:1", "password", 0,
                                       "bad password"),
                     0);
    assert_int_equal(access_audit_policy_load(f->s, T0 + 2, "/etc/p.yaml", 1, "3 targets"), 0);
    assert_int_equal(access_audit_policy_load(f->s, T0 + 3, "/etc/p.yaml", 0, "p.yaml:4: bad"), 0);
    memset(&s, 0, sizeof(s));
    snprintf(s.user, sizeof(s.user), "alice");
    snprintf(s.target, sizeof(s.target), "web-1");
    snprintf(s.login, sizeof(s.login), "deploy");
    snprintf(s.kind, sizeof(s.kind), "exec");
    s.command = "systemctl restart nginx";
    s.started_at = T0 + 4;
    assert_int_equal(access_session_start(f->s, &s), 0);
    assert_int_equal(access_session_end(f->s, s.id, "alice", T0 + 9, 3, NULL, NULL), 0);
    assert_int_equal(store_session_get(f->s, s.id, &got), 0);
    assert_int_equal(got.ended_at, T0 + 9);
    assert_int_equal(got.exit_status, 3);
    store_session_clear(&got);
    assert_int_equal(access_session_end(f->s, "nosuchsession222", "alice", T0, 0, NULL, NULL),
                     DB_ERR_NOTFOUND);
    assert_int_equal(access_audit_event(f->s, T0 + 10, "alice", "channel.refused", "web-1", NULL),
                     0);

    assert_int_equal(store_audit_foreach(f->s, 0, fx_collect, rows), 0);
    assert_int_equal(rows->n, 7);
    assert_string_equal(rows->events[0], "auth.success");
    assert_string_equal(rows->objects[0], "alice");
    assert_non_null(strstr(rows->details[0], "\"method\":\"publickey\""));
    assert_string_equal(rows->events[1], "auth.failure");
    assert_string_equal(rows->objects[1], "bob?"); /* not UTF-8: not stored as typed */
    assert_non_null(strstr(rows->details[1], "bad password"));
    assert_string_equal(rows->events[2], "policy.load");
    assert_string_equal(rows->events[3], "policy.reject");
    assert_non_null(strstr(rows->details[3], "p.yaml:4: bad"));
    snprintf(obj, sizeof(obj), "session %s", s.id);
    assert_string_equal(rows->events[4], "session.start");
    assert_string_equal(rows->objects[4], obj);
    assert_non_null(strstr(rows->details[4], "systemctl restart nginx"));
    assert_string_equal(rows->events[5], "session.end");
    assert_non_null(strstr(rows->details[5], "\"exit_status\":3"));
    assert_string_equal(rows->events[6], "channel.refused");
    free(rows);
    fx_chain_ok(f);
}

/* ---- drawbridge access-report ---- */

static void test_access_report(void **state)
{
    struct fx *f = *state;
    struct config c;
    FILE *fp = NULL;
    char *out = NULL;
    size_t len = 0;
    long long id = fx_request(f, &alice, "web-1", 3600, T0);

    assert_int_equal(fx_op(f, OP_APPROVE, id, T0 + 10), 0);
    assert_int_equal(access_breakglass(&f->a, &alice, "db-1", NULL, 600, "db down", T0 + 20, NULL,
                                       f->err, sizeof(f->err)),
                     0);
    memset(&c, 0, sizeof(c));
    c.state_dir = f->dir;
    c.store_url = tsb_store_url(f->dir);
    fp = open_memstream(&out, &len);
    assert_non_null(fp);
    assert_int_equal(admin_access_report(&c, f->p, T0 + 30, fp), 0);
    fclose(fp);
    assert_non_null(strstr(out, "live grants (2):"));
    assert_non_null(strstr(out, "alice -> deploy@web-1  grant 1  rule web-oncall  "
                                "until 2023-11-14T23:13:30Z (59m40s left)"));
    assert_non_null(strstr(out, "alice -> postgres@db-1  grant 2  rule -"));
    assert_non_null(strstr(out, "break-glass, review required"));
    assert_non_null(strstr(out, "group:engineers -> deploy@stage-1  rule staging-standing"));
    assert_non_null(strstr(out, "protected targets (grant only): web-1, db-1"));
    free(out);
    /* After both end, none are listed. */
    fp = open_memstream(&out, &len);
    assert_int_equal(admin_access_report(&c, f->p, T0 + 7200, fp), 0);
    fclose(fp);
    assert_non_null(strstr(out, "live grants (0):\n  (none)"));
    free(out);
    free(c.store_url);
}

/* ---- concurrent deciders ---- */

/*
 * Four processes race to approve the same two-approval requests.  BEGIN
 * IMMEDIATE makes each check-then-write atomic across processes, so every
 * request ends with exactly two approvals, one grant and one grant.start,
 * and the other two deciders are told it is no longer pending.
 */
static void fx_race_child(const char *dir, const char *user, long long first, long long n)
{
    static const char *const groups[] = {"dba-leads"};
    struct policy_subject who = {user, groups, 1};
    struct policy *p = fx_policy(policy_yaml);
    struct access a = {NULL, p, NULL};
    struct store *s = NULL;
    char err[256];
    int bad = 0;

    if (tsb_open(dir, &s, err, sizeof(err)) != 0) {
        _exit(3);
    }
    a.store = s;
    for (long long id = first; id < first + n; id++) {
        int rc = access_approve(&a, &who, id, NULL, T0 + 10, NULL, err, sizeof(err));
        if (rc != 0 && !(rc == DB_ERR_CONFLICT && strstr(err, "not pending (approved)"))) {
            bad++;
        }
    }
    store_close(s);
    policy_free(p);
    _exit(bad ? 1 : 0);
}

static void test_concurrent_approvals(void **state)
{
    struct fx *f = *state;
    static const char *const users[] = {"d1", "d2", "d3", "d4"};
    struct fx_rows *rows = calloc(1, sizeof(*rows));
    long long first = 0, n = 20; /* the per-requester cap */
    pid_t pids[4];

    assert_non_null(rows);
    for (long long i = 0; i < n; i++) {
        long long id = fx_request(f, &mallory, "db-1", 600, T0);
        first = i == 0 ? id : first;
    }
    store_close(f->s);
    f->s = NULL;
    for (int i = 0; i < 4; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            fx_race_child(f->dir, users[i], first, n);
        }
    }
    for (int i = 0; i < 4; i++) {
        int st = 0;
        assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
    assert_int_equal(tsb_open(f->dir, &f->s, f->err, sizeof(f->err)), 0);
    f->a.store = f->s;
    for (long long id = first; id < first + n; id++) {
        struct store_request r;
        struct store_grant g;

        assert_int_equal(store_request_get(f->s, id, &r), 0);
        assert_int_equal(r.status, STORE_REQ_APPROVED);
        assert_int_equal(r.approvals, 2);
        assert_int_equal(store_grant_get(f->s, id, &g), 0);
        assert_int_equal(g.starts_at, T0 + 10);
    }
    assert_int_equal(store_audit_foreach(f->s, 0, fx_count_events, rows), 0);
    assert_int_equal(rows->n, 0); /* no unexpected events */
    assert_int_equal(rows->approves, 2 * n);
    assert_int_equal(rows->grants, n);
    free(rows);
    fx_chain_ok(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_scope, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_pending_cap, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_notify_payload, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_session_audit, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_access_report, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_approvals, fx_setup, fx_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

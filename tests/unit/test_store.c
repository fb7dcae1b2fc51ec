/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for broker/store*.c: opening and migrating, the SQLite settings
 * the rest relies on (WAL, foreign keys, schema version), row round trips,
 * the column limits, the live-grant lookup's boundaries, transactions
 * (rollback leaves nothing, nesting refused), two handles on one file, and
 * session rows with their random ids.
 *
 * The test reads the database itself to check what the store cannot be
 * asked through its interface (pragmas, the users table).  It runs against
 * both backends (store-backend.h): unit/test_store and unit-pg/test_store.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker.h"
#include "store-backend.h"

#define T0 1700000000LL
#define FX_SCHEMA "8" /* the number of migrations (broker/store/schema.c) */

struct fx {
    char dir[64];
    char db[128];
    struct store *s;
    char err[512];
};

static int fx_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct config c;

    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/db-store-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof(f->db), "%s/drawbridge.db", f->dir);
    memset(&c, 0, sizeof(c));
    c.state_dir = f->dir;
    if (keys_ensure(&c, f->err, sizeof(f->err)) != 0 ||
        tsb_open(f->dir, &f->s, f->err, sizeof(f->err)) != 0) {
        fail_msg("setup: %s", f->err);
    }
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;

    store_close(f->s);
    nftw(f->dir, fx_rm, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* First column of the first row of sql, as text, into buf. */
static void fx_query(struct fx *f, const char *sql, char *buf, size_t buflen)
{
    assert_int_equal(tsb_query(f->dir, sql, buf, buflen), 0);
}

static struct store_request fx_req(const char *who, long long now)
{
    struct store_request r;

    memset(&r, 0, sizeof(r));
    snprintf(r.requester, sizeof(r.requester), "%s", who);
    snprintf(r.target, sizeof(r.target), "web-1");
    snprintf(r.login, sizeof(r.login), "deploy");
    snprintf(r.rule, sizeof(r.rule), "web-oncall");
    snprintf(r.reason, sizeof(r.reason), "INC-1");
    r.duration = 600;
    r.status = STORE_REQ_PENDING;
    r.created_at = now;
    r.expires_at = now + 3600;
    r.approvals_needed = 1;
    return r;
}

static void test_open_settings(void **state)
{
    struct fx *f = *state;
    char buf[64], path[256];

    if (tsb_pg()) {
        fx_query(f, "SELECT version FROM drawbridge_schema", buf, sizeof(buf));
        assert_string_equal(buf, FX_SCHEMA);
        fx_query(f, "SELECT count(*) FROM pg_indexes WHERE indexname = 'grants_live'", buf,
                 sizeof(buf));
        assert_string_equal(buf, "1");
        fx_query(f, "SELECT count(*) FROM pg_indexes WHERE indexname = 'audit_event'", buf,
                 sizeof(buf));
        assert_string_equal(buf, "1");
    } else {
        fx_query(f, "PRAGMA journal_mode", buf, sizeof(buf));
        assert_string_equal(buf, "wal");
        fx_query(f, "PRAGMA user_version", buf, sizeof(buf));
        assert_string_equal(buf, FX_SCHEMA);
        fx_query(f,
                 "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'audit_event'",
                 buf, sizeof(buf));
        assert_string_equal(buf, "1");
        fx_query(f,
                 "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'grants_live'",
                 buf, sizeof(buf));
        assert_string_equal(buf, "1");
    }
    /* A fresh store anchors the empty chain. */
    snprintf(path, sizeof(path), "%s/audit.head", f->dir);
    assert_int_equal(access(path, R_OK), 0);
    /* Reopening migrates nothing and keeps going. */
    store_close(f->s);
    assert_int_equal(tsb_open(f->dir, &f->s, f->err, sizeof(f->err)), 0);
    assert_int_equal(store_audit_verify(f->s, NULL, f->err, sizeof(f->err)), 0);
}

static void test_open_refusals(void **state)
{
    struct fx *f = *state;
    struct store *s = NULL;
    char path[256], buf[16];

    /* A schema from a newer drawbridge is not touched. */
    store_close(f->s);
    f->s = NULL;
    fx_query(f,
             tsb_pg() ? "UPDATE drawbridge_schema SET version = 99" : "PRAGMA user_version = 99",
             buf, sizeof(buf));
    assert_int_equal(tsb_open(f->dir, &s, f->err, sizeof(f->err)), DB_ERR_INVALID);
    assert_null(s);
    assert_non_null(strstr(f->err, "newer"));
    fx_query(f,
             tsb_pg() ? "UPDATE drawbridge_schema SET version = " FX_SCHEMA
                      : "PRAGMA user_version = " FX_SCHEMA,
             buf, sizeof(buf));
    /* No anchor key: refused, with the file named. */
    snprintf(path, sizeof(path), "%s/keys/recording.hmac", f->dir);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(tsb_open(f->dir, &s, f->err, sizeof(f->err)), DB_ERR_IO);
    assert_non_null(strstr(f->err, "recording.hmac"));
    /* A key of the wrong size. */
    {
        FILE *fp = fopen(path, "wb");
        assert_non_null(fp);
        fputs("short", fp);
        fclose(fp);
    }
    assert_int_equal(tsb_open(f->dir, &s, f->err, sizeof(f->err)), DB_ERR_INVALID);
    assert_int_equal(tsb_open("/nonexistent/dir", &s, f->err, sizeof(f->err)), DB_ERR_IO);
}

static void test_request_roundtrip(void **state)
{
    struct fx *f = *state;
    struct store_request r = fx_req("alice", T0), got;

    snprintf(r.ticket, sizeof(r.ticket), "JIRA-1");
    r.breakglass = 1;
    assert_int_equal(store_request_insert(f->s, &r), 0);
    assert_true(r.id > 0);
    assert_int_equal(store_request_get(f->s, r.id, &got), 0);
    assert_memory_equal(&got, &r, sizeof(r));
    assert_int_equal(store_request_set_status(f->s, r.id, STORE_REQ_DENIED, T0 + 5, "bob"), 0);
    assert_int_equal(store_request_get(f->s, r.id, &got), 0);
    assert_int_equal(got.status, STORE_REQ_DENIED);
    assert_int_equal(got.decided_at, T0 + 5);
    assert_string_equal(got.decided_by, "bob");
    assert_int_equal(store_request_get(f->s, r.id + 1, &got), DB_ERR_NOTFOUND);
    assert_int_equal(store_request_set_status(f->s, r.id + 1, STORE_REQ_DENIED, T0, "x"),
                     DB_ERR_NOTFOUND);
    assert_string_equal(store_request_status_name(STORE_REQ_CANCELLED), "cancelled");
    assert_string_equal(store_grant_status_name(STORE_GRANT_REVOKED), "revoked");
    assert_string_equal(store_request_status_name((enum store_request_status)42), "unknown");
}

/*
 * Limits: the structs hold exactly the maximum, so the full-length values
 * must go in; what the store must refuse are empty required fields,
 * non-positive durations, and over-long names where the interface takes a
 * plain string.
 */
struct limit_case {
    int field; /* 0 requester, 1 reason, 2 ticket, 3 duration, 4 target, 5 reason empty */
    int rc;
};

static const struct limit_case limit_cases[] = {
    {0, 0}, {1, 0}, {2, 0}, {3, DB_ERR_INVALID}, {4, DB_ERR_INVALID}, {5, DB_ERR_INVALID},
};

static void test_request_limits(void **state)
{
    struct fx *f = *state;
    char name[STORE_NAME_MAX + 2];

    for (size_t i = 0; i < sizeof(limit_cases) / sizeof(limit_cases[0]); i++) {
        struct store_request r = fx_req("alice", T0), got;

        switch (limit_cases[i].field) {
        case 0:
            memset(r.requester, 'a', STORE_NAME_MAX);
            break;
        case 1:
            memset(r.reason, 'r', STORE_TEXT_MAX);
            break;
        case 2:
            memset(r.ticket, 't', STORE_TICKET_MAX);
            break;
        case 3:
            r.duration = 0;
            break;
        case 4:
            r.target[0] = '\0';
            break;
        default:
            r.reason[0] = '\0';
            break;
        }
        if (store_request_insert(f->s, &r) != limit_cases[i].rc) {
            fail_msg("case %zu: expected %d", i, limit_cases[i].rc);
        }
        if (limit_cases[i].rc == 0) {
            assert_int_equal(store_request_get(f->s, r.id, &got), 0);
            assert_memory_equal(&got, &r, sizeof(r));
        }
    }
    memset(name, 'n', sizeof(name));
    name[STORE_NAME_MAX] = '\0';
    assert_int_equal(store_user_seen(f->s, name, "uid=n", T0), 0);
    name[STORE_NAME_MAX] = 'n';
    name[STORE_NAME_MAX + 1] = '\0';
    assert_int_equal(store_user_seen(f->s, name, "uid=n", T0), DB_ERR_INVALID);
    assert_int_equal(store_user_seen(f->s, "", "uid=n", T0), DB_ERR_INVALID);
}

static void test_decisions(void **state)
{
    struct fx *f = *state;
    struct store_request r = fx_req("alice", T0), got;
    struct store_decision d = {0}, *v = NULL;
    size_t n = 0;

    assert_int_equal(store_request_insert(f->s, &r), 0);
    d.request_id = r.id;
    snprintf(d.approver, sizeof(d.approver), "bob");
    d.approve = 1;
    d.at = T0 + 1;
    assert_int_equal(store_decision_insert(f->s, &d), 0);
    /* One decision per approver per request, whatever it says. */
    d.approve = 0;
    assert_int_equal(store_decision_insert(f->s, &d), DB_ERR_EXISTS);
    snprintf(d.approver, sizeof(d.approver), "carol");
    snprintf(d.comment, sizeof(d.comment), "no");
    d.at = T0 + 2;
    assert_int_equal(store_decision_insert(f->s, &d), 0);
    /* Foreign keys are on: no decision on a request that does not exist. */
    d.request_id = r.id + 100;
    assert_int_equal(store_decision_insert(f->s, &d), DB_ERR_EXISTS);
    assert_int_equal(store_decision_list(f->s, r.id, &v, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].approver, "bob");
    assert_int_equal(v[0].approve, 1);
    assert_string_equal(v[1].comment, "no");
    assert_int_equal(v[1].approve, 0);
    free(v);
    assert_int_equal(store_request_get(f->s, r.id, &got), 0);
    assert_int_equal(got.approvals, 1); /* approvals count approve decisions only */
}

static long long fx_grant(struct fx *f, const char *user, const char *login, long long starts,
                          long long ends, enum store_grant_status st)
{
    struct store_request r = fx_req(user, starts);
    struct store_grant g;

    assert_int_equal(store_request_insert(f->s, &r), 0);
    memset(&g, 0, sizeof(g));
    g.id = r.id;
    snprintf(g.user, sizeof(g.user), "%s", user);
    snprintf(g.target, sizeof(g.target), "web-1");
    snprintf(g.login, sizeof(g.login), "%s", login);
    snprintf(g.rule, sizeof(g.rule), "web-oncall");
    g.starts_at = starts;
    g.ends_at = ends;
    g.status = st;
    assert_int_equal(store_grant_insert(f->s, &g), 0);
    return g.id;
}

struct live_case {
    const char *user, *target, *login;
    long long now;
    long long expect; /* index into ids[] + 1, 0: none */
};

static void test_grant_live_lookup(void **state)
{
    struct fx *f = *state;
    long long ids[4];
    struct store_grant g, *v = NULL;
    size_t n = 0;
    const struct live_case cases[] = {
        {"alice", "web-1", "deploy", T0 + 100, 2}, /* both live: the one ending last */
        {"alice", "web-1", "deploy", T0, 1},       /* starts_at is inclusive */
        {"alice", "web-1", "deploy", T0 - 1, 0},   /* not yet */
        {"alice", "web-1", "deploy", T0 + 5, 1},
        {"alice", "web-1", "deploy", T0 + 600, 2},  /* the first ended; the longer one is live */
        {"alice", "web-1", "deploy", T0 + 1200, 0}, /* ends_at is exclusive */
        {"alice", "web-1", "root", T0 + 100, 0},    /* another login */
        {"alice", "db-1", "deploy", T0 + 100, 0},   /* another target */
        {"bob", "web-1", "deploy", T0 + 100, 0},    /* bob's is revoked */
        {"carol", "web-1", "deploy", T0 + 100, 0},  /* carol's expired */
    };

    ids[0] = fx_grant(f, "alice", "deploy", T0, T0 + 600, STORE_GRANT_ACTIVE);
    ids[1] = fx_grant(f, "alice", "deploy", T0 + 10, T0 + 1200, STORE_GRANT_ACTIVE);
    ids[2] = fx_grant(f, "bob", "deploy", T0, T0 + 600, STORE_GRANT_REVOKED);
    ids[3] = fx_grant(f, "carol", "deploy", T0, T0 + 600, STORE_GRANT_EXPIRED);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct live_case *c = &cases[i];
        int rc = store_grant_find_live(f->s, c->user, c->target, c->login, c->now, &g);

        if (c->expect == 0 ? rc != DB_ERR_NOTFOUND : (rc != 0 || g.id != ids[c->expect - 1])) {
            fail_msg("case %zu: rc %d id %lld", i, rc, rc == 0 ? g.id : 0);
        }
    }
    /* When both are live the one ending last is reported. */
    assert_int_equal(store_grant_find_live(f->s, "alice", "web-1", "deploy", T0 + 100, &g), 0);
    assert_int_equal(g.id, ids[1]);
    assert_int_equal(store_grant_list_live(f->s, NULL, T0 + 100, &v, &n), 0);
    assert_int_equal(n, 2);
    free(v);
    assert_int_equal(store_grant_list_live(f->s, "bob", T0 + 100, &v, &n), 0);
    assert_int_equal(n, 0);
    free(v);
    /* Revoking fills the revoke columns; expiring does not. */
    assert_int_equal(
        store_grant_set_status(f->s, ids[0], STORE_GRANT_REVOKED, T0 + 5, "sam", "done"), 0);
    assert_int_equal(store_grant_get(f->s, ids[0], &g), 0);
    assert_int_equal(g.status, STORE_GRANT_REVOKED);
    assert_string_equal(g.revoked_by, "sam");
    assert_int_equal(g.revoked_at, T0 + 5);
    assert_int_equal(store_grant_set_status(f->s, 9999, STORE_GRANT_EXPIRED, T0, NULL, NULL),
                     DB_ERR_NOTFOUND);
    /* Invalid grants: ending before starting, or for no request (foreign key). */
    memset(&g, 0, sizeof(g));
    g.id = 9999;
    snprintf(g.user, sizeof(g.user), "x");
    snprintf(g.target, sizeof(g.target), "x");
    snprintf(g.login, sizeof(g.login), "x");
    g.status = STORE_GRANT_ACTIVE;
    g.starts_at = g.ends_at = T0;
    assert_int_equal(store_grant_insert(f->s, &g), DB_ERR_INVALID);
    g.ends_at = T0 + 1;
    assert_int_equal(store_grant_insert(f->s, &g), DB_ERR_EXISTS);
}

static void test_lists_and_stale(void **state)
{
    struct fx *f = *state;
    struct store_request r, *v = NULL;
    long long *ids = NULL, id[4];
    size_t n = 0;

    for (int i = 0; i < 4; i++) {
        r = fx_req(i % 2 ? "bob" : "alice", T0 + i);
        assert_int_equal(store_request_insert(f->s, &r), 0);
        id[i] = r.id;
    }
    assert_int_equal(store_request_set_status(f->s, id[2], STORE_REQ_CANCELLED, T0, "alice"), 0);
    assert_int_equal(store_request_list(f->s, NULL, 0, 0, &v, &n), 0);
    assert_int_equal(n, 4);
    assert_int_equal(v[0].id, id[3]); /* newest first */
    free(v);
    assert_int_equal(store_request_list(f->s, "alice", 0, 0, &v, &n), 0);
    assert_int_equal(n, 2);
    free(v);
    assert_int_equal(store_request_list(f->s, "alice", 1u << STORE_REQ_PENDING, 0, &v, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].id, id[0]);
    free(v);
    assert_int_equal(store_request_list(f->s, NULL, 1u << STORE_REQ_CANCELLED, 0, &v, &n), 0);
    assert_int_equal(n, 1);
    free(v);
    assert_int_equal(store_request_list(f->s, NULL, 0, 3, &v, &n), 0);
    assert_int_equal(n, 3);
    free(v);
    /* Stale: pending past expires_at (T0 + i + 3600). */
    assert_int_equal(store_request_list_stale(f->s, T0 + 3600, &ids, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], id[0]);
    free(ids);
    assert_int_equal(store_request_list_stale(f->s, T0 + 3603, &ids, &n), 0);
    assert_int_equal(n, 3); /* not the cancelled one */
    free(ids);
    fx_grant(f, "eve", "deploy", T0, T0 + 60, STORE_GRANT_ACTIVE);
    assert_int_equal(store_grant_list_stale(f->s, T0 + 59, &ids, &n), 0);
    assert_int_equal(n, 0);
    free(ids);
    assert_int_equal(store_grant_list_stale(f->s, T0 + 60, &ids, &n), 0);
    assert_int_equal(n, 1);
    free(ids);
    {
        long long np = 0;
        assert_int_equal(store_request_count_pending(f->s, "bob", &np), 0);
        assert_int_equal(np, 2);
    }
}

static void test_transactions(void **state)
{
    struct fx *f = *state;
    struct store_request r = fx_req("alice", T0), got;
    struct store *other = NULL;
    char buf[32];
    long long n = 0;

    assert_int_equal(store_begin(f->s), 0);
    assert_int_equal(store_begin(f->s), DB_ERR_INTERNAL);
    assert_int_equal(store_request_insert(f->s, &r), 0);
    assert_int_equal(
        store_audit_append(f->s, T0, "alice", "request.create", "request 1", NULL, NULL), 0);
    store_rollback(f->s);
    assert_int_equal(store_request_get(f->s, r.id, &got), DB_ERR_NOTFOUND);
    assert_int_equal(store_audit_verify(f->s, &n, f->err, sizeof(f->err)), 0);
    assert_int_equal(n, 0);
    store_rollback(f->s); /* harmless without a transaction */
    assert_int_equal(store_commit(f->s, f->err, sizeof(f->err)), DB_ERR_INTERNAL);

    /* Committed work is visible to another handle (another process, in real life). */
    assert_int_equal(tsb_open(f->dir, &other, f->err, sizeof(f->err)), 0);
    assert_int_equal(store_begin(f->s), 0);
    assert_int_equal(store_request_insert(f->s, &r), 0);
    assert_int_equal(store_audit_append(f->s, T0, "alice", "request.create", "request", NULL, NULL),
                     0);
    assert_int_equal(store_request_get(other, r.id, &got), DB_ERR_NOTFOUND); /* not yet */
    assert_int_equal(store_commit(f->s, f->err, sizeof(f->err)), 0);
    assert_int_equal(store_request_get(other, r.id, &got), 0);
    /* Both append to one chain. */
    assert_int_equal(store_audit_append(other, T0 + 1, "bob", "x", "y", "{\"k\":1}", &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(store_audit_append(f->s, T0 + 2, "carol", "x", "y", NULL, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(store_audit_verify(other, &n, f->err, sizeof(f->err)), 0);
    assert_int_equal(n, 3);
    store_close(other);
    /* Audit details default to an empty object; an empty event is refused. */
    fx_query(f, "SELECT details FROM audit WHERE seq = 3", buf, sizeof(buf));
    assert_string_equal(buf, "{}");
    assert_int_equal(store_audit_append(f->s, T0, "a", "", "o", NULL, NULL), DB_ERR_INVALID);
}

static void test_users_seen(void **state)
{
    struct fx *f = *state;
    char buf[128];

    assert_int_equal(store_user_seen(f->s, "alice", "uid=alice,ou=people", T0), 0);
    assert_int_equal(store_user_seen(f->s, "alice", "uid=alice,ou=staff", T0 + 50), 0);
    assert_int_equal(store_user_seen(f->s, "alice", "uid=alice,ou=staff", T0 + 20), 0);
    fx_query(f, "SELECT first_seen || ' ' || last_seen || ' ' || dn FROM users", buf, sizeof(buf));
    assert_string_equal(buf, "1700000000 1700000050 uid=alice,ou=staff");
}

static int fx_id_ok(const char *id)
{
    if (strlen(id) != STORE_SESSION_ID_LEN) {
        return 0;
    }
    for (; *id; id++) {
        if (!((*id >= 'a' && *id <= 'z') || (*id >= '2' && *id <= '7'))) {
            return 0;
        }
    }
    return 1;
}

static int fx_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void test_sessions(void **state)
{
    struct fx *f = *state;
    static char ids[200][STORE_SESSION_ID_LEN + 1];
    struct store_session row, got, *v = NULL;
    long long gid = fx_grant(f, "alice", "deploy", T0, T0 + 600, STORE_GRANT_ACTIVE);
    size_t n = 0;

    for (int i = 0; i < 200; i++) {
        memset(&row, 0, sizeof(row));
        snprintf(row.user, sizeof(row.user), "%s", i % 2 ? "bob" : "alice");
        snprintf(row.target, sizeof(row.target), "%s", i % 3 ? "web-1" : "");
        snprintf(row.kind, sizeof(row.kind), "shell");
        row.grant_id = i == 0 ? gid : 0;
        row.started_at = T0 + i;
        row.review_required = i < 5;
        assert_int_equal(store_session_insert(f->s, &row), 0);
        assert_true(fx_id_ok(row.id));
        memcpy(ids[i], row.id, sizeof(ids[i]));
    }
    qsort(ids, 200, sizeof(ids[0]), fx_cmp);
    for (int i = 1; i < 200; i++) {
        assert_string_not_equal(ids[i - 1], ids[i]);
    }
    /* A fresh row with everything set, then its life: recording, end, review. */
    memset(&row, 0, sizeof(row));
    snprintf(row.user, sizeof(row.user), "alice");
    snprintf(row.target, sizeof(row.target), "web-1");
    snprintf(row.login, sizeof(row.login), "deploy");
    snprintf(row.kind, sizeof(row.kind), "exec");
    row.command = "uptime; id";
    row.grant_id = gid;
    row.started_at = T0 + 1000;
    row.review_required = 1;
    assert_int_equal(store_session_insert(f->s, &row), 0);
    assert_int_equal(store_session_set_recording(f->s, row.id, "/var/rec/x.cast"), 0);
    assert_int_equal(store_session_get(f->s, row.id, &got), 0);
    assert_int_equal(got.ended_at, 0);
    assert_int_equal(got.exit_status, -1);
    assert_string_equal(got.command, "uptime; id");
    assert_string_equal(got.recording_path, "/var/rec/x.cast");
    assert_int_equal(got.grant_id, gid);
    store_session_clear(&got);
    assert_int_equal(
        store_session_end(f->s, row.id, T0 + 1100, 0,
                          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", NULL),
        0);
    assert_int_equal(store_session_get(f->s, row.id, &got), 0);
    assert_int_equal(got.ended_at, T0 + 1100);
    assert_int_equal(got.exit_status, 0);
    assert_int_equal(got.sha256[0], 'a');
    assert_string_equal(got.hmac, "");
    assert_null(got.review_note);
    store_session_clear(&got);
    assert_int_equal(store_session_list(f->s, 0, 1, NULL, NULL, 0, &v, &n), 0);
    assert_int_equal(n, 6); /* 5 + the exec one */
    assert_string_equal(v[0].id, row.id);
    store_sessions_free(v, n);
    assert_int_equal(store_session_review(f->s, row.id, "sam", T0 + 2000, "looked fine"), 0);
    assert_int_equal(store_session_get(f->s, row.id, &got), 0);
    assert_string_equal(got.reviewed_by, "sam");
    assert_string_equal(got.review_note, "looked fine");
    store_session_clear(&got);
    assert_int_equal(store_session_list(f->s, 0, 1, NULL, NULL, 0, &v, &n), 0);
    assert_int_equal(n, 5);
    store_sessions_free(v, n);
    /* Filters: live (not ended), user, target, limit. */
    assert_int_equal(store_session_list(f->s, 1, 0, NULL, NULL, 0, &v, &n), 0);
    assert_int_equal(n, 200);
    store_sessions_free(v, n);
    assert_int_equal(store_session_list(f->s, 0, 0, "bob", "web-1", 0, &v, &n), 0);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(v[i].user, "bob");
        assert_string_equal(v[i].target, "web-1");
    }
    assert_true(n > 0 && n < 100);
    store_sessions_free(v, n);
    assert_int_equal(store_session_list(f->s, 0, 0, NULL, NULL, 7, &v, &n), 0);
    assert_int_equal(n, 7);
    store_sessions_free(v, n);
    assert_int_equal(store_session_get(f->s, "nosuchsession222", &got), DB_ERR_NOTFOUND);
    assert_int_equal(store_session_end(f->s, "nosuchsession222", T0, 0, NULL, NULL),
                     DB_ERR_NOTFOUND);
    store_sessions_free(NULL, 0);
}

static int reap_alive(long long pid)
{
    (void)pid;
    return 1;
}

static int reap_dead(long long pid)
{
    (void)pid;
    return 0;
}

/* Terminate requests, byte counts, the trigram text index, sessions of dead processes. */
static void test_recording_rows(void **state)
{
    struct fx *f = *state;
    struct store_session row;
    struct store_text lines[3], *hits = NULL;
    char by[STORE_NAME_MAX + 1], reason[STORE_TEXT_MAX + 1];
    long long at = -1;
    size_t n = 0;

    memset(&row, 0, sizeof(row));
    snprintf(row.user, sizeof(row.user), "alice");
    snprintf(row.target, sizeof(row.target), "web-1");
    snprintf(row.kind, sizeof(row.kind), "shell");
    row.started_at = T0;
    assert_int_equal(store_session_insert(f->s, &row), 0);
    assert_int_equal(store_session_terminate_get(f->s, row.id, &at, by, sizeof(by), reason,
                                                 sizeof(reason)),
                     0);
    assert_int_equal(at, 0);
    assert_int_equal(store_session_terminate(f->s, row.id, "carol", "INC-1 looks wrong", T0 + 5),
                     0);
    /* asked once; a second ask and an unknown session are refused */
    assert_int_equal(store_session_terminate(f->s, row.id, "carol", "again", T0 + 6),
                     DB_ERR_NOTFOUND);
    assert_int_equal(store_session_terminate(f->s, "nosuchsession00", "carol", "x", T0 + 6),
                     DB_ERR_NOTFOUND);
    assert_int_equal(store_session_terminate_get(f->s, row.id, &at, by, sizeof(by), reason,
                                                 sizeof(reason)),
                     0);
    assert_int_equal(at, T0 + 5);
    assert_string_equal(by, "carol");
    assert_string_equal(reason, "INC-1 looks wrong");
    assert_int_equal(store_session_bytes(f->s, row.id, 10, 2000), 0);

    memset(lines, 0, sizeof(lines));
    lines[0] = (struct store_text){row.id, 1, 1.5, "sudo rm -rf /srv/data", 21, ""};
    lines[1] = (struct store_text){row.id, 0, 1.7, "removed '/srv/data/a'", 21, ""};
    lines[2] = (struct store_text){row.id, 0, 2.0, "say \"hi\" $(id)", 15, ""};
    assert_int_equal(store_text_insert(f->s, lines, 3), 0);
    assert_int_equal(store_text_search(f->s, "rm -rf", 0, &hits, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(hits[0].session, row.id);
    assert_int_equal(hits[0].stream, 1);
    assert_string_equal(hits[0].line, "sudo rm -rf /srv/data");
    store_text_free(hits, n);
    /* quotes and metacharacters are text, not query syntax */
    assert_int_equal(store_text_search(f->s, "\"hi\" $(", 0, &hits, &n), 0);
    assert_int_equal(n, 1);
    assert_true(hits[0].ts > 1.9 && hits[0].ts < 2.1);
    store_text_free(hits, n);
    assert_int_equal(store_text_search(f->s, "srv/data", 0, &hits, &n), 0);
    assert_int_equal(n, 2);
    store_text_free(hits, n);
    assert_int_equal(store_text_search(f->s, "nothing like this", 0, &hits, &n), 0);
    assert_int_equal(n, 0);
    store_text_free(hits, n);

    /* A live session whose process is alive is left alone; a dead one is ended and audited. */
    {
        struct store_session got;
        int count = -1;

        assert_int_equal(store_session_get(f->s, row.id, &got), 0);
        assert_int_equal(got.pid, (long long)getpid());
        assert_int_equal(got.bytes_out, 2000);
        store_session_clear(&got);
        assert_int_equal(access_sessions_reap(f->s, T0 + 9, reap_alive, &count), 0);
        assert_int_equal(count, 0);
        assert_int_equal(access_sessions_reap(f->s, T0 + 10, reap_dead, &count), 0);
        assert_int_equal(count, 1);
        assert_int_equal(store_session_get(f->s, row.id, &got), 0);
        assert_int_equal(got.ended_at, T0 + 10);
        assert_int_equal(got.exit_status, -1);
        store_session_clear(&got);
        assert_int_equal(access_sessions_reap(f->s, T0 + 11, reap_dead, &count), 0);
        assert_int_equal(count, 0);
        assert_int_equal(store_audit_verify(f->s, NULL, f->err, sizeof(f->err)), 0);
    }
}

/* Web console login links: the token's hash only, once, before expiry. */
static void test_web_logins(void **state)
{
    struct fx *f = *state;
    char token[WEBLINK_TOKEN_LEN + 1], hash[AUDIT_HASH_HEX + 1], other[AUDIT_HASH_HEX + 1];
    char user[STORE_NAME_MAX + 1], buf[256];
    long long used = -1, expires = -1;
    int mfa = -1;

    assert_int_equal(weblink_new(token, hash), 0);
    assert_true(weblink_token_valid(token, strlen(token)));
    assert_int_equal(weblink_hash(token, strlen(token), other), 0);
    assert_string_equal(hash, other);
    assert_int_equal(store_web_login_insert(f->s, hash, "bob", 1, 1000, 1060), 0);
    fx_query(f, "SELECT count(*) FROM web_logins WHERE hash = (SELECT hash FROM web_logins) AND "
                "hash = lower(hash) AND length(hash) = 64", buf, sizeof(buf));
    assert_string_equal(buf, "1");
    /* unknown, expired (at the second it ends), then good once */
    assert_int_equal(store_web_login_take(f->s, "00", 1001, user, sizeof(user), &mfa),
                     DB_ERR_NOTFOUND);
    assert_int_equal(store_web_login_take(f->s, hash, 1060, user, sizeof(user), &mfa),
                     DB_ERR_NOTFOUND);
    assert_int_equal(store_web_login_take(f->s, hash, 1059, user, sizeof(user), &mfa), 0);
    assert_string_equal(user, "bob");
    assert_int_equal(mfa, 1);
    assert_int_equal(store_web_login_take(f->s, hash, 1059, user, sizeof(user), &mfa),
                     DB_ERR_NOTFOUND);
    assert_string_equal(user, "");
    /* a link refused: whose it was, whether it was used, when it expires (the console audits it) */
    assert_int_equal(store_web_login_peek(f->s, hash, user, sizeof(user), &used, &expires), 0);
    assert_string_equal(user, "bob");
    assert_int_equal(used, 1059);
    assert_int_equal(expires, 1060);
    assert_int_equal(store_web_login_peek(f->s, "00", user, sizeof(user), &used, &expires),
                     DB_ERR_NOTFOUND);
    assert_string_equal(user, "");
    assert_int_equal(used, 0);
    /* rows long expired go when the next link is made */
    assert_int_equal(weblink_new(token, other), 0);
    assert_int_equal(store_web_login_insert(f->s, other, "carol", 0, 1000 + 3600 + 61, 1000 + 3700),
                     0);
    fx_query(f, "SELECT count(*) || ' ' || min(\"user\") FROM web_logins", buf, sizeof(buf));
    assert_string_equal(buf, "1 carol");
    assert_int_equal(store_web_login_insert(f->s, other, "carol", 0, 1000, 1060), DB_ERR_EXISTS);
    assert_false(weblink_token_valid("short", 5));
    assert_false(weblink_token_valid("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/", 43));
}

/* The newest row of one event (`drawbridge status`: the last verify). */
static int last_seq(void *ctx, const struct audit_row *row)
{
    *(long long *)ctx = row->seq;
    assert_string_equal(row->event, "verify.result");
    return 0;
}

static void test_audit_last_event(void **state)
{
    struct fx *f = *state;
    long long seq = 0;

    assert_int_equal(store_audit_last_event(f->s, "verify.result", last_seq, &seq), DB_ERR_NOTFOUND);
    assert_int_equal(store_audit_append(f->s, T0, "system", "verify.result", "audit", NULL, NULL), 0);
    assert_int_equal(store_audit_append(f->s, T0, "alice", "request.create", "request 1", NULL, NULL),
                     0);
    assert_int_equal(store_audit_append(f->s, T0, "system", "verify.result", "audit", NULL, NULL), 0);
    assert_int_equal(store_audit_append(f->s, T0, "bob", "request.approve", "request 1", NULL, NULL),
                     0);
    assert_int_equal(store_audit_last_event(f->s, "verify.result", last_seq, &seq), 0);
    assert_int_equal(seq, 3);
    assert_int_equal(store_audit_last_event(f->s, "no.such", last_seq, &seq), DB_ERR_NOTFOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_settings, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_open_refusals, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_request_roundtrip, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_request_limits, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_decisions, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_grant_live_lookup, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_lists_and_stale, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_transactions, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_users_seen, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_sessions, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_recording_rows, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_web_logins, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_audit_last_event, fx_setup, fx_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

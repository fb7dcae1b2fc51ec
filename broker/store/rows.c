/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store's rows: users seen, requests, decisions, grants and sessions.
 * These functions only read and write; the rules that say which change is
 * allowed live in access.c, which wraps them in transactions.  Strings are
 * checked against the column sizes of broker.h before they are written, so
 * that reading a row back never has to cut anything.  Everything here runs
 * on every backend: values are bound and columns read through the query
 * objects of store-int.h, and the SQL is the table in schema.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>

#include "store-int.h"

#define STORE_LIST_DEFAULT 1000

static const char *const store_req_names[] = {"pending", "approved", "denied", "cancelled",
                                              "expired"};
static const char *const store_grant_names[] = {"none", "active", "revoked", "expired"};

const char *store_request_status_name(enum store_request_status st)
{
    if ((unsigned)st >= sizeof(store_req_names) / sizeof(store_req_names[0])) {
        return "unknown";
    }
    return store_req_names[st];
}

const char *store_grant_status_name(enum store_grant_status st)
{
    if ((unsigned)st >= sizeof(store_grant_names) / sizeof(store_grant_names[0])) {
        return "unknown";
    }
    return store_grant_names[st];
}

static int store_status_parse(const char *const *names, size_t n, const char *s)
{
    for (size_t i = 0; s != NULL && i < n; i++) {
        if (strcmp(names[i], s) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* 1 when s fits a column of max bytes (and, when required, is not empty). */
static int store_fits(const char *s, size_t max, int required)
{
    size_t n;

    if (s == NULL) {
        return !required;
    }
    n = strnlen(s, max + 1);
    return n <= max && (n > 0 || !required);
}

int store_user_seen(struct store *s, const char *user, const char *dn, long long now)
{
    struct store_q *q = store_q(s, ST_USER_SEEN);

    if (!store_fits(user, STORE_NAME_MAX, 1)) {
        return DB_ERR_INVALID;
    }
    store_bind_text(q, 1, user);
    store_bind_text(q, 2, dn != NULL ? dn : "");
    store_bind_int(q, 3, now);
    return store_exec(q);
}

/* ---- requests ---- */

int store_request_insert(struct store *s, struct store_request *r)
{
    struct store_q *q = store_q(s, ST_REQ_INSERT);
    int rc;

    if (!store_fits(r->requester, STORE_NAME_MAX, 1) || !store_fits(r->target, STORE_NAME_MAX, 1) ||
        !store_fits(r->login, STORE_NAME_MAX, 1) || !store_fits(r->rule, STORE_NAME_MAX, 0) ||
        !store_fits(r->reason, STORE_TEXT_MAX, 1) || !store_fits(r->ticket, STORE_TICKET_MAX, 0) ||
        r->duration <= 0 || (unsigned)r->status > STORE_REQ_EXPIRED) {
        return DB_ERR_INVALID;
    }
    store_bind_text(q, 1, r->requester);
    store_bind_text(q, 2, r->target);
    store_bind_text(q, 3, r->login);
    store_bind_text(q, 4, r->rule);
    store_bind_int(q, 5, r->duration);
    store_bind_text(q, 6, r->reason);
    store_bind_text(q, 7, r->ticket);
    store_bind_text(q, 8, store_req_names[r->status]);
    store_bind_int(q, 9, r->created_at);
    store_bind_int(q, 10, r->expires_at);
    store_bind_int(q, 11, r->decided_at);
    store_bind_text(q, 12, r->decided_by);
    store_bind_int(q, 13, r->approvals_needed);
    store_bind_int(q, 14, r->breakglass ? 1 : 0);
    rc = store_step(q);
    if (rc > 0) {
        r->id = store_col_int(q, 0); /* RETURNING id */
        rc = 0;
    } else if (rc == 0) {
        rc = DB_ERR_INTERNAL;
    }
    store_done(q);
    return rc;
}

static void store_req_read(struct store_q *q, struct store_request *r)
{
    char status[16];
    int v;

    memset(r, 0, sizeof(*r));
    r->id = store_col_int(q, 0);
    store_col_copy(q, 1, r->requester, sizeof(r->requester));
    store_col_copy(q, 2, r->target, sizeof(r->target));
    store_col_copy(q, 3, r->login, sizeof(r->login));
    store_col_copy(q, 4, r->rule, sizeof(r->rule));
    r->duration = store_col_int(q, 5);
    store_col_copy(q, 6, r->reason, sizeof(r->reason));
    store_col_copy(q, 7, r->ticket, sizeof(r->ticket));
    store_col_copy(q, 8, status, sizeof(status));
    v = store_status_parse(store_req_names, 5, status);
    r->status = v >= 0 ? (enum store_request_status)v : STORE_REQ_EXPIRED;
    r->created_at = store_col_int(q, 9);
    r->expires_at = store_col_int(q, 10);
    r->decided_at = store_col_int(q, 11);
    store_col_copy(q, 12, r->decided_by, sizeof(r->decided_by));
    r->approvals_needed = (int)store_col_int(q, 13);
    r->breakglass = (int)store_col_int(q, 14);
    r->approvals = (int)store_col_int(q, 15);
}

int store_request_get(struct store *s, long long id, struct store_request *out)
{
    struct store_q *q = store_q(s, ST_REQ_GET);
    int rc, r = DB_ERR_NOTFOUND;

    store_bind_int(q, 1, id);
    rc = store_step(q);
    if (rc > 0) {
        store_req_read(q, out);
        r = 0;
    } else if (rc < 0) {
        r = rc;
    }
    store_done(q);
    return r;
}

int store_request_set_status(struct store *s, long long id, enum store_request_status status,
                             long long at, const char *by)
{
    struct store_q *q = store_q(s, ST_REQ_SET_STATUS);
    int r;

    if ((unsigned)status > STORE_REQ_EXPIRED || !store_fits(by, STORE_NAME_MAX, 0)) {
        return DB_ERR_INVALID;
    }
    store_bind_int(q, 1, id);
    store_bind_text(q, 2, store_req_names[status]);
    store_bind_int(q, 3, at);
    store_bind_text(q, 4, by != NULL ? by : "");
    if ((r = store_exec(q)) != 0) {
        return r;
    }
    return store_changes(q) == 1 ? 0 : DB_ERR_NOTFOUND;
}

/* Appends rows of a running statement into a growing array. */
#define STORE_COLLECT(q, type, readfn, out, n, limit, r)                                           \
    do {                                                                                           \
        size_t cap_ = 0;                                                                           \
        int rc_;                                                                                   \
        while ((rc_ = store_step(q)) > 0 && *(n) < (limit)) {                                      \
            if (*(n) == cap_) {                                                                    \
                size_t ncap_ = cap_ ? cap_ * 2 : 16;                                               \
                type *nv_ = realloc(*(out), ncap_ * sizeof(type));                                 \
                if (nv_ == NULL) {                                                                 \
                    (r) = DB_ERR_NOMEM;                                                            \
                    break;                                                                         \
                }                                                                                  \
                *(out) = nv_;                                                                      \
                cap_ = ncap_;                                                                      \
            }                                                                                      \
            readfn(q, &(*(out))[*(n)]);                                                            \
            (*(n))++;                                                                              \
        }                                                                                          \
        if ((r) == 0 && rc_ < 0) {                                                                 \
            (r) = rc_;                                                                             \
        }                                                                                          \
        store_done(q);                                                                             \
    } while (0)

int store_request_list(struct store *s, const char *requester, unsigned status_mask, size_t limit,
                       struct store_request **out, size_t *n)
{
    struct store_q *q = store_q(s, ST_REQ_LIST);
    int r = 0;

    *out = NULL;
    *n = 0;
    if (limit == 0) {
        limit = STORE_LIST_DEFAULT;
    }
    if (requester != NULL) {
        store_bind_text(q, 1, requester);
    }
    store_bind_int(q, 2, (long long)status_mask);
    store_bind_int(q, 3, (long long)limit);
    STORE_COLLECT(q, struct store_request, store_req_read, out, n, limit, r);
    if (r != 0) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return r;
}

int store_request_count_pending(struct store *s, const char *requester, long long *n)
{
    struct store_q *q = store_q(s, ST_REQ_COUNT_PENDING);
    int rc, r = 0;

    *n = 0;
    store_bind_text(q, 1, requester);
    rc = store_step(q);
    if (rc > 0) {
        *n = store_col_int(q, 0);
    } else {
        r = rc < 0 ? rc : DB_ERR_INTERNAL;
    }
    store_done(q);
    return r;
}

static void store_id_read(struct store_q *q, long long *id)
{
    *id = store_col_int(q, 0);
}

static int store_ids(struct store *s, enum store_stmt_id which, long long now, long long **ids,
                     size_t *n)
{
    struct store_q *q = store_q(s, which);
    int r = 0;

    *ids = NULL;
    *n = 0;
    store_bind_int(q, 1, now);
    STORE_COLLECT(q, long long, store_id_read, ids, n, (size_t)-1, r);
    if (r != 0) {
        free(*ids);
        *ids = NULL;
        *n = 0;
    }
    return r;
}

int store_request_list_stale(struct store *s, long long now, long long **ids, size_t *n)
{
    return store_ids(s, ST_REQ_STALE, now, ids, n);
}

int store_grant_list_stale(struct store *s, long long now, long long **ids, size_t *n)
{
    return store_ids(s, ST_GRANT_STALE, now, ids, n);
}

/* ---- decisions ---- */

int store_decision_insert(struct store *s, const struct store_decision *d)
{
    struct store_q *q = store_q(s, ST_DEC_INSERT);

    if (!store_fits(d->approver, STORE_NAME_MAX, 1) || !store_fits(d->comment, STORE_TEXT_MAX, 0)) {
        return DB_ERR_INVALID;
    }
    store_bind_int(q, 1, d->request_id);
    store_bind_text(q, 2, d->approver);
    store_bind_text(q, 3, d->approve ? "approve" : "deny");
    store_bind_text(q, 4, d->comment);
    store_bind_int(q, 5, d->at);
    /* The primary key (request_id, approver) makes a second decision DB_ERR_EXISTS. */
    return store_exec(q);
}

static void store_dec_read(struct store_q *q, struct store_decision *d)
{
    memset(d, 0, sizeof(*d));
    d->request_id = store_col_int(q, 0);
    store_col_copy(q, 1, d->approver, sizeof(d->approver));
    d->approve = store_col_text(q, 2) != NULL && strcmp(store_col_text(q, 2), "approve") == 0;
    store_col_copy(q, 3, d->comment, sizeof(d->comment));
    d->at = store_col_int(q, 4);
}

int store_decision_list(struct store *s, long long request_id, struct store_decision **out,
                        size_t *n)
{
    struct store_q *q = store_q(s, ST_DEC_LIST);
    int r = 0;

    *out = NULL;
    *n = 0;
    store_bind_int(q, 1, request_id);
    STORE_COLLECT(q, struct store_decision, store_dec_read, out, n, (size_t)-1, r);
    if (r != 0) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return r;
}

/* ---- grants ---- */

int store_grant_insert(struct store *s, const struct store_grant *g)
{
    struct store_q *q = store_q(s, ST_GRANT_INSERT);

    if (!store_fits(g->user, STORE_NAME_MAX, 1) || !store_fits(g->target, STORE_NAME_MAX, 1) ||
        !store_fits(g->login, STORE_NAME_MAX, 1) || !store_fits(g->rule, STORE_NAME_MAX, 0) ||
        g->ends_at <= g->starts_at || g->status < STORE_GRANT_ACTIVE ||
        g->status > STORE_GRANT_EXPIRED) {
        return DB_ERR_INVALID;
    }
    store_bind_int(q, 1, g->id);
    store_bind_text(q, 2, g->user);
    store_bind_text(q, 3, g->target);
    store_bind_text(q, 4, g->login);
    store_bind_text(q, 5, g->rule);
    store_bind_int(q, 6, g->starts_at);
    store_bind_int(q, 7, g->ends_at);
    store_bind_text(q, 8, store_grant_names[g->status]);
    store_bind_int(q, 9, g->breakglass ? 1 : 0);
    store_bind_int(q, 10, g->review_required ? 1 : 0);
    return store_exec(q);
}

static void store_grant_read(struct store_q *q, struct store_grant *g)
{
    char status[16];
    int v;

    memset(g, 0, sizeof(*g));
    g->id = store_col_int(q, 0);
    store_col_copy(q, 1, g->user, sizeof(g->user));
    store_col_copy(q, 2, g->target, sizeof(g->target));
    store_col_copy(q, 3, g->login, sizeof(g->login));
    store_col_copy(q, 4, g->rule, sizeof(g->rule));
    g->starts_at = store_col_int(q, 5);
    g->ends_at = store_col_int(q, 6);
    store_col_copy(q, 7, status, sizeof(status));
    v = store_status_parse(store_grant_names, 4, status);
    /* An unreadable status never reads as active. */
    g->status = v > 0 ? (enum store_grant_status)v : STORE_GRANT_REVOKED;
    store_col_copy(q, 8, g->revoked_by, sizeof(g->revoked_by));
    store_col_copy(q, 9, g->revoke_reason, sizeof(g->revoke_reason));
    g->revoked_at = store_col_int(q, 10);
    g->breakglass = (int)store_col_int(q, 11);
    g->review_required = (int)store_col_int(q, 12);
}

static int store_grant_one(struct store_q *q, struct store_grant *out)
{
    int rc = store_step(q), r = DB_ERR_NOTFOUND;

    if (rc > 0) {
        store_grant_read(q, out);
        r = 0;
    } else if (rc < 0) {
        r = rc;
    }
    store_done(q);
    return r;
}

int store_grant_get(struct store *s, long long id, struct store_grant *out)
{
    struct store_q *q = store_q(s, ST_GRANT_GET);

    store_bind_int(q, 1, id);
    return store_grant_one(q, out);
}

int store_grant_find_live(struct store *s, const char *user, const char *target, const char *login,
                          long long now, struct store_grant *out)
{
    struct store_q *q = store_q(s, ST_GRANT_FIND_LIVE);

    if (user == NULL || target == NULL || login == NULL) {
        return DB_ERR_INVALID;
    }
    store_bind_text(q, 1, user);
    store_bind_text(q, 2, target);
    store_bind_text(q, 3, login);
    store_bind_int(q, 4, now);
    return store_grant_one(q, out);
}

int store_grant_set_status(struct store *s, long long id, enum store_grant_status status,
                           long long at, const char *by, const char *reason)
{
    struct store_q *q = store_q(s, ST_GRANT_SET_STATUS);
    int revoked = status == STORE_GRANT_REVOKED, r;

    if (status < STORE_GRANT_ACTIVE || status > STORE_GRANT_EXPIRED ||
        !store_fits(by, STORE_NAME_MAX, 0) || !store_fits(reason, STORE_TEXT_MAX, 0)) {
        return DB_ERR_INVALID;
    }
    store_bind_int(q, 1, id);
    store_bind_text(q, 2, store_grant_names[status]);
    store_bind_int(q, 3, revoked ? at : 0);
    store_bind_text(q, 4, revoked && by != NULL ? by : "");
    store_bind_text(q, 5, revoked && reason != NULL ? reason : "");
    if ((r = store_exec(q)) != 0) {
        return r;
    }
    return store_changes(q) == 1 ? 0 : DB_ERR_NOTFOUND;
}

int store_grant_list_live(struct store *s, const char *user, long long now,
                          struct store_grant **out, size_t *n)
{
    struct store_q *q = store_q(s, ST_GRANT_LIST_LIVE);
    int r = 0;

    *out = NULL;
    *n = 0;
    if (user != NULL) {
        store_bind_text(q, 1, user);
    }
    store_bind_int(q, 2, now);
    STORE_COLLECT(q, struct store_grant, store_grant_read, out, n, (size_t)STORE_LIST_DEFAULT, r);
    if (r != 0) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return r;
}

/* ---- sessions ---- */

void store_session_clear(struct store_session *s)
{
    if (s == NULL) {
        return;
    }
    free(s->command);
    free(s->recording_path);
    free(s->review_note);
    s->command = s->recording_path = s->review_note = NULL;
}

void store_sessions_free(struct store_session *v, size_t n)
{
    for (size_t i = 0; v != NULL && i < n; i++) {
        store_session_clear(&v[i]);
    }
    free(v);
}

/* 80 random bits as 16 characters of [a-z2-7]: unguessable, and easy to read aloud. */
int store_session_id_new(char id[STORE_SESSION_ID_LEN + 1])
{
    static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";
    unsigned char rnd[10];
    unsigned long long acc = 0;
    int bits = 0, k = 0;

    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        return DB_ERR_IO;
    }
    for (size_t i = 0; i < sizeof(rnd); i++) {
        acc = (acc << 8) | rnd[i];
        bits += 8;
        while (bits >= 5) {
            id[k++] = b32[(acc >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    id[k] = '\0';
    return 0;
}

int store_session_insert(struct store *s, struct store_session *row)
{
    struct store_q *q = store_q(s, ST_SESS_INSERT);
    int r = DB_ERR_INTERNAL;

    if (!store_fits(row->user, STORE_NAME_MAX, 1) || !store_fits(row->target, STORE_NAME_MAX, 0) ||
        !store_fits(row->login, STORE_NAME_MAX, 0) || !store_fits(row->kind, 15, 1)) {
        return DB_ERR_INVALID;
    }
    /* A collision of 80 random bits is not expected; retrying costs nothing. */
    for (int attempt = 0; attempt < 3; attempt++) {
        if ((attempt > 0 || strlen(row->id) != STORE_SESSION_ID_LEN) &&
            (r = store_session_id_new(row->id)) != 0) {
            return r;
        }
        store_bind_text(q, 1, row->id);
        store_bind_text(q, 2, row->user);
        store_bind_text(q, 3, row->target);
        store_bind_text(q, 4, row->login);
        if (row->grant_id > 0) {
            store_bind_int(q, 5, row->grant_id);
        }
        store_bind_text(q, 6, row->kind);
        store_bind_text(q, 7, row->command);
        store_bind_int(q, 8, row->started_at);
        store_bind_text(q, 9, row->recording_path);
        store_bind_int(q, 10, row->review_required ? 1 : 0);
        store_bind_int(q, 11, (long long)getpid());
        store_bind_text(q, 12, s->gateway);
        r = store_exec(q);
        if (r != DB_ERR_EXISTS) {
            break;
        }
    }
    return r;
}

static int store_session_changed(struct store_q *q, int r)
{
    if (r != 0) {
        return r;
    }
    return store_changes(q) == 1 ? 0 : DB_ERR_NOTFOUND;
}

int store_session_end(struct store *s, const char *id, long long ended_at, int exit_status,
                      const char *sha256, const char *hmac)
{
    struct store_q *q = store_q(s, ST_SESS_END);

    if (!store_fits(sha256, AUDIT_HASH_HEX, 0) || !store_fits(hmac, AUDIT_HASH_HEX, 0)) {
        return DB_ERR_INVALID;
    }
    store_bind_text(q, 1, id);
    store_bind_int(q, 2, ended_at);
    store_bind_int(q, 3, exit_status);
    store_bind_text(q, 4, sha256);
    store_bind_text(q, 5, hmac);
    return store_session_changed(q, store_exec(q));
}

int store_session_set_recording(struct store *s, const char *id, const char *path)
{
    struct store_q *q = store_q(s, ST_SESS_SET_REC);

    store_bind_text(q, 1, id);
    store_bind_text(q, 2, path);
    return store_session_changed(q, store_exec(q));
}

int store_session_review(struct store *s, const char *id, const char *reviewer, long long at,
                         const char *note)
{
    struct store_q *q = store_q(s, ST_SESS_REVIEW);

    if (!store_fits(reviewer, STORE_NAME_MAX, 1) || at <= 0) {
        return DB_ERR_INVALID;
    }
    store_bind_text(q, 1, id);
    store_bind_text(q, 2, reviewer);
    store_bind_int(q, 3, at);
    store_bind_text(q, 4, note);
    return store_session_changed(q, store_exec(q));
}

/* Allocation failures leave the optional strings NULL, which callers already handle. */
static void store_sess_read(struct store_q *q, struct store_session *o)
{
    memset(o, 0, sizeof(*o));
    store_col_copy(q, 0, o->id, sizeof(o->id));
    store_col_copy(q, 1, o->user, sizeof(o->user));
    store_col_copy(q, 2, o->target, sizeof(o->target));
    store_col_copy(q, 3, o->login, sizeof(o->login));
    o->grant_id = store_col_int(q, 4);
    store_col_copy(q, 5, o->kind, sizeof(o->kind));
    o->command = store_col_dup(q, 6);
    o->started_at = store_col_int(q, 7);
    o->ended_at = store_col_int(q, 8);
    o->exit_status = (int)store_col_int(q, 9);
    o->recording_path = store_col_dup(q, 10);
    store_col_copy(q, 11, o->sha256, sizeof(o->sha256));
    store_col_copy(q, 12, o->hmac, sizeof(o->hmac));
    o->review_required = (int)store_col_int(q, 13);
    store_col_copy(q, 14, o->reviewed_by, sizeof(o->reviewed_by));
    o->reviewed_at = store_col_int(q, 15);
    o->review_note = store_col_dup(q, 16);
    o->bytes_in = (unsigned long long)store_col_int(q, 17);
    o->bytes_out = (unsigned long long)store_col_int(q, 18);
    o->pid = store_col_int(q, 19);
    o->expired_at = store_col_int(q, 20);
    o->expire_done = (int)store_col_int(q, 21);
}

int store_session_get(struct store *s, const char *id, struct store_session *out)
{
    struct store_q *q = store_q(s, ST_SESS_GET);
    int rc, r = DB_ERR_NOTFOUND;

    memset(out, 0, sizeof(*out));
    store_bind_text(q, 1, id);
    rc = store_step(q);
    if (rc > 0) {
        store_sess_read(q, out);
        r = 0;
    } else if (rc < 0) {
        r = rc;
    }
    store_done(q);
    return r;
}

int store_session_list(struct store *s, int live_only, int review_pending, const char *user,
                       const char *target, size_t limit, struct store_session **out, size_t *n)
{
    struct store_q *q = store_q(s, ST_SESS_LIST);
    int r = 0;

    *out = NULL;
    *n = 0;
    if (limit == 0) {
        limit = STORE_LIST_DEFAULT;
    }
    store_bind_int(q, 1, live_only ? 1 : 0);
    store_bind_int(q, 2, review_pending ? 1 : 0);
    store_bind_text(q, 3, user);
    store_bind_text(q, 4, target);
    store_bind_int(q, 5, (long long)limit);
    STORE_COLLECT(q, struct store_session, store_sess_read, out, n, limit, r);
    if (r != 0) {
        store_sessions_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return r;
}

/* ---- recordings: terminate requests, byte counts, the text index ---- */

int store_session_terminate(struct store *s, const char *id, const char *by, const char *reason,
                            long long at)
{
    struct store_q *q = store_q(s, ST_SESS_TERMINATE);

    if (!store_fits(by, STORE_NAME_MAX, 1) || !store_fits(reason, STORE_TEXT_MAX, 1) || at <= 0) {
        return DB_ERR_INVALID;
    }
    store_bind_text(q, 1, id);
    store_bind_text(q, 2, by);
    store_bind_text(q, 3, reason);
    store_bind_int(q, 4, at);
    return store_session_changed(q, store_exec(q));
}

int store_session_terminate_get(struct store *s, const char *id, long long *at, char *by,
                                size_t bylen, char *reason, size_t reasonlen)
{
    struct store_q *q = store_q(s, ST_SESS_TERM_GET);
    int rc, r = DB_ERR_NOTFOUND;

    *at = 0;
    store_bind_text(q, 1, id);
    rc = store_step(q);
    if (rc > 0) {
        *at = store_col_int(q, 0);
        r = 0;
        if (by != NULL && store_col_copy(q, 1, by, bylen) != 0) {
            r = DB_ERR_INVALID;
        }
        if (reason != NULL && store_col_copy(q, 2, reason, reasonlen) != 0) {
            r = DB_ERR_INVALID;
        }
    } else if (rc < 0) {
        r = rc;
    }
    store_done(q);
    return r;
}

int store_session_bytes(struct store *s, const char *id, unsigned long long in,
                        unsigned long long out)
{
    struct store_q *q = store_q(s, ST_SESS_BYTES);

    store_bind_text(q, 1, id);
    store_bind_int(q, 2, (long long)in);
    store_bind_int(q, 3, (long long)out);
    return store_session_changed(q, store_exec(q));
}

int store_text_insert(struct store *s, const struct store_text *lines, size_t n)
{
    struct store_q *q = store_q(s, ST_TEXT_INSERT);
    int own = !s->in_tx, r = 0;

    if (n == 0) {
        return 0;
    }
    /* one transaction per batch: the index is filled once a second, not per line */
    if (own && (r = store_begin(s)) != 0) {
        return r;
    }
    for (size_t i = 0; i < n && r == 0; i++) {
        store_bind_textn(q, 1, lines[i].line, lines[i].len);
        store_bind_text(q, 2, lines[i].session);
        store_bind_text(q, 3, lines[i].stream == 0 ? "o" : "i");
        store_bind_double(q, 4, lines[i].ts);
        r = store_exec(q);
    }
    if (own) {
        if (r == 0) {
            r = store_commit(s, NULL, 0);
        } else {
            store_rollback(s);
        }
    }
    return r;
}

int store_text_search(struct store *s, const char *text, size_t limit, struct store_text **out,
                      size_t *n)
{
    struct store_q *q = store_q(s, ST_TEXT_SEARCH);
    struct store_text *v = NULL;
    size_t cap = 0, k = 0;
    int rc, r = 0;

    *out = NULL;
    *n = 0;
    /* the statement itself makes the text one phrase of the index (schema.c) */
    store_bind_text(q, 1, text);
    store_bind_int(q, 2, (long long)(limit > 0 ? limit : 1000));
    while ((rc = store_step(q)) > 0) {
        struct store_text *t;

        if (k == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct store_text *nv = realloc(v, ncap * sizeof(*nv));

            if (nv == NULL) {
                r = DB_ERR_NOMEM;
                break;
            }
            v = nv;
            cap = ncap;
        }
        t = &v[k];
        memset(t, 0, sizeof(*t));
        store_col_copy(q, 0, t->session_buf, sizeof(t->session_buf));
        t->session = t->session_buf;
        t->stream = store_col_text(q, 1) != NULL && store_col_text(q, 1)[0] == 'i';
        t->ts = store_col_double(q, 2);
        t->line = store_col_dup(q, 3);
        t->len = t->line != NULL ? strlen(t->line) : 0;
        k++;
    }
    if (r == 0 && rc < 0) {
        r = rc;
    }
    store_done(q);
    if (r != 0) {
        store_text_free(v, k);
        return r;
    }
    *out = v;
    *n = k;
    return 0;
}

void store_text_free(struct store_text *v, size_t n)
{
    if (v == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        free((char *)v[i].line);
    }
    free(v);
}

int store_session_list_live_pids(struct store *s, struct store_live **out, size_t *n)
{
    struct store_q *q = store_q(s, ST_SESS_LIVE_PIDS);
    struct store_live *v = NULL;
    size_t k = 0, cap = 0;
    int rc, r = 0;

    *out = NULL;
    *n = 0;
    store_bind_text(q, 1, s->gateway);
    while ((rc = store_step(q)) > 0) {
        if (k == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct store_live *nv = realloc(v, ncap * sizeof(*nv));

            if (nv == NULL) {
                r = DB_ERR_NOMEM;
                break;
            }
            v = nv;
            cap = ncap;
        }
        memset(&v[k], 0, sizeof(v[k]));
        store_col_copy(q, 0, v[k].id, sizeof(v[k].id));
        store_col_copy(q, 1, v[k].user, sizeof(v[k].user));
        v[k].pid = store_col_int(q, 2);
        k++;
    }
    if (r == 0 && rc < 0) {
        r = rc;
    }
    store_done(q);
    if (r != 0) {
        free(v);
        return r;
    }
    *out = v;
    *n = k;
    return 0;
}

int store_web_login_insert(struct store *s, const char *hash, const char *user, int mfa,
                           long long now, long long expires_at)
{
    struct store_q *q = store_q(s, ST_WEB_LOGIN_PURGE);
    int rc;

    if (!store_fits(hash, AUDIT_HASH_HEX, 1) || !store_fits(user, STORE_NAME_MAX, 1)) {
        return DB_ERR_INVALID;
    }
    /* Links used or expired an hour ago are of no more use to anyone. */
    store_bind_int(q, 1, now - 3600);
    if ((rc = store_exec(q)) != 0) {
        return rc;
    }
    q = store_q(s, ST_WEB_LOGIN_INSERT);
    store_bind_text(q, 1, hash);
    store_bind_text(q, 2, user);
    store_bind_int(q, 3, mfa != 0);
    store_bind_int(q, 4, now);
    store_bind_int(q, 5, expires_at);
    return store_exec(q);
}

int store_web_login_take(struct store *s, const char *hash, long long now, char *user,
                         size_t userlen, int *mfa)
{
    struct store_q *q = store_q(s, ST_WEB_LOGIN_TAKE);
    int rc, r = DB_ERR_NOTFOUND;

    user[0] = '\0';
    *mfa = 0;
    if (!store_fits(hash, AUDIT_HASH_HEX, 1)) {
        return DB_ERR_NOTFOUND;
    }
    store_bind_text(q, 1, hash);
    store_bind_int(q, 2, now);
    rc = store_step(q);
    if (rc == 1) {
        r = store_col_copy(q, 0, user, userlen) == 0 ? 0 : DB_ERR_INVALID;
        *mfa = store_col_int(q, 1) != 0;
        /* run the statement to its end (the update itself is done at the first step) */
        while ((rc = store_step(q)) == 1) {
        }
        if (rc < 0 && r == 0) {
            r = rc;
        }
    } else if (rc < 0) {
        r = rc;
    }
    store_done(q);
    return r;
}

int store_web_login_peek(struct store *s, const char *hash, char *user, size_t userlen,
                         long long *used_at, long long *expires_at)
{
    struct store_q *q = store_q(s, ST_WEB_LOGIN_PEEK);
    int rc, r = DB_ERR_NOTFOUND;

    user[0] = '\0';
    *used_at = *expires_at = 0;
    if (!store_fits(hash, AUDIT_HASH_HEX, 1)) {
        return DB_ERR_NOTFOUND;
    }
    store_bind_text(q, 1, hash);
    rc = store_step(q);
    if (rc == 1) {
        r = store_col_copy(q, 0, user, userlen) == 0 ? 0 : DB_ERR_INVALID;
        *used_at = store_col_int(q, 1);
        *expires_at = store_col_int(q, 2);
    } else if (rc < 0) {
        r = rc;
    }
    store_done(q);
    return r;
}

/* ---- retention (broker/retention.c) ---- */

int store_session_list_expirable(struct store *s, long long before, size_t limit,
                                 struct store_session **out, size_t *n)
{
    struct store_q *q = store_q(s, ST_SESS_EXPIRABLE);
    int r = 0;

    *out = NULL;
    *n = 0;
    store_bind_int(q, 1, before);
    store_bind_int(q, 2, (long long)limit);
    STORE_COLLECT(q, struct store_session, store_sess_read, out, n, limit, r);
    if (r != 0) {
        store_sessions_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return r;
}

int store_session_expire(struct store *s, const char *id, long long at)
{
    struct store_q *q = store_q(s, ST_SESS_EXPIRE);

    store_bind_text(q, 1, id);
    store_bind_int(q, 2, at);
    return store_session_changed(q, store_exec(q));
}

int store_session_list_expire_pending(struct store *s, size_t limit, struct store_session **out,
                                      size_t *n)
{
    struct store_q *q = store_q(s, ST_SESS_EXPIRE_PENDING);
    int r = 0;

    *out = NULL;
    *n = 0;
    store_bind_int(q, 1, (long long)limit);
    STORE_COLLECT(q, struct store_session, store_sess_read, out, n, limit, r);
    if (r != 0) {
        store_sessions_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return r;
}

int store_session_expire_done(struct store *s, const char *id)
{
    struct store_q *q = store_q(s, ST_SESS_EXPIRE_DONE);

    store_bind_text(q, 1, id);
    return store_exec(q);
}

int store_session_drop_expired(struct store *s, long long before, long long *n)
{
    struct store_q *q = store_q(s, ST_SESS_DROP_EXPIRED);
    int r;

    store_bind_int(q, 1, before);
    r = store_exec(q);
    if (n != NULL) {
        *n = r == 0 ? store_changes(q) : 0;
    }
    return r;
}

int store_text_drop_expired(struct store *s)
{
    return store_exec(store_q(s, ST_TEXT_DROP_EXPIRED));
}

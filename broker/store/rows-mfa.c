/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store's rows for the second factor: the mfa table (one enrolment per
 * user, its sealed secret, the last TOTP step accepted, the run of wrong
 * codes and the lock) and mfa_recovery (keyed hashes of recovery codes).
 * Like rows.c these only read and write, on every backend, through the
 * query objects of store-int.h; broker/mfa/ holds the rules and wraps them
 * in transactions.
 */
#include <stdlib.h>
#include <string.h>

#include "store-int.h"

static int mfa_fits(const char *s, size_t max)
{
    size_t n = s != NULL ? strnlen(s, max + 1) : 0;

    return n > 0 && n <= max;
}

static void mfa_read(struct store_q *q, struct store_mfa *m)
{
    const char *state = NULL;

    memset(m, 0, sizeof(*m));
    store_col_copy(q, 0, m->user, sizeof(m->user));
    store_col_copy(q, 1, m->secret, sizeof(m->secret));
    state = store_col_text(q, 2);
    m->active = state != NULL && strcmp(state, "active") == 0;
    m->created_at = store_col_int(q, 3);
    m->confirmed_at = store_col_int(q, 4);
    m->last_step = store_col_int(q, 5);
    m->failures = (int)store_col_int(q, 6);
    m->locked_until = store_col_int(q, 7);
    m->recovery_left = (int)store_col_int(q, 8);
}

int store_mfa_get(struct store *s, const char *user, struct store_mfa *out)
{
    struct store_q *q = store_q(s, ST_MFA_GET);
    int rc;

    if (!mfa_fits(user, STORE_NAME_MAX)) {
        return DB_ERR_INVALID;
    }
    store_bind_text(q, 1, user);
    rc = store_step(q);
    if (rc > 0) {
        mfa_read(q, out);
        rc = 0;
    } else if (rc == 0) {
        rc = DB_ERR_NOTFOUND;
    }
    store_done(q);
    return rc;
}

int store_mfa_list(struct store *s, struct store_mfa **out, size_t *n)
{
    struct store_q *q = store_q(s, ST_MFA_LIST);
    struct store_mfa *v = NULL;
    size_t cap = 0;
    int rc;

    *out = NULL;
    *n = 0;
    while ((rc = store_step(q)) > 0) {
        if (*n == cap) {
            size_t ncap = cap > 0 ? cap * 2 : 16;
            struct store_mfa *nv = realloc(v, ncap * sizeof(*v));

            if (nv == NULL) {
                rc = DB_ERR_NOMEM;
                break;
            }
            v = nv;
            cap = ncap;
        }
        mfa_read(q, &v[(*n)++]);
    }
    store_done(q);
    if (rc < 0) {
        free(v);
        *n = 0;
        return rc;
    }
    *out = v;
    return 0;
}

int store_mfa_put_pending(struct store *s, const char *user, const char *secret, long long now)
{
    struct store_q *q = store_q(s, ST_MFA_PUT_PENDING);
    int rc;

    if (!mfa_fits(user, STORE_NAME_MAX) || !mfa_fits(secret, STORE_MFA_SECRET_MAX)) {
        return DB_ERR_INVALID;
    }
    store_bind_text(q, 1, user);
    store_bind_text(q, 2, secret);
    store_bind_int(q, 3, now);
    if ((rc = store_exec(q)) != 0) {
        return rc;
    }
    /* the upsert leaves an active enrolment alone: nothing changed means there is one */
    return store_changes(q) == 1 ? 0 : DB_ERR_EXISTS;
}

int store_mfa_activate(struct store *s, const char *user, long long now, long long step)
{
    struct store_q *q = store_q(s, ST_MFA_ACTIVATE);
    int rc;

    store_bind_text(q, 1, user);
    store_bind_int(q, 2, now);
    store_bind_int(q, 3, step);
    if ((rc = store_exec(q)) != 0) {
        return rc;
    }
    return store_changes(q) == 1 ? 0 : DB_ERR_NOTFOUND;
}

int store_mfa_set_counters(struct store *s, const char *user, long long last_step, int failures,
                           long long locked_until)
{
    struct store_q *q = store_q(s, ST_MFA_COUNTERS);
    int rc;

    store_bind_text(q, 1, user);
    store_bind_int(q, 2, last_step);
    store_bind_int(q, 3, failures);
    store_bind_int(q, 4, locked_until);
    if ((rc = store_exec(q)) != 0) {
        return rc;
    }
    return store_changes(q) == 1 ? 0 : DB_ERR_NOTFOUND;
}

int store_mfa_delete(struct store *s, const char *user)
{
    struct store_q *q = store_q(s, ST_MFA_DELETE);
    long long changed;
    int rc;

    store_bind_text(q, 1, user);
    if ((rc = store_exec(q)) != 0) {
        return rc;
    }
    changed = store_changes(q);
    q = store_q(s, ST_MFA_RECOVERY_DELETE);
    store_bind_text(q, 1, user);
    if ((rc = store_exec(q)) != 0) {
        return rc;
    }
    return changed == 1 ? 0 : DB_ERR_NOTFOUND;
}

int store_mfa_recovery_add(struct store *s, const char *user, const char *hash)
{
    struct store_q *q = store_q(s, ST_MFA_RECOVERY_ADD);

    if (!mfa_fits(user, STORE_NAME_MAX) || hash == NULL || strlen(hash) != STORE_MFA_HASH_LEN) {
        return DB_ERR_INVALID;
    }
    store_bind_text(q, 1, user);
    store_bind_text(q, 2, hash);
    return store_exec(q);
}

int store_mfa_recovery_use(struct store *s, const char *user, const char *hash, long long now)
{
    struct store_q *q = store_q(s, ST_MFA_RECOVERY_USE);
    int rc;

    store_bind_text(q, 1, user);
    store_bind_text(q, 2, hash);
    store_bind_int(q, 3, now);
    if ((rc = store_exec(q)) != 0) {
        return rc;
    }
    return store_changes(q) == 1 ? 0 : DB_ERR_NOTFOUND;
}

int store_user_list(struct store *s, struct store_user_name **out, size_t *n)
{
    struct store_q *q = store_q(s, ST_USER_LIST);
    struct store_user_name *v = NULL;
    size_t cap = 0;
    int rc;

    *out = NULL;
    *n = 0;
    while ((rc = store_step(q)) > 0) {
        if (*n == cap) {
            size_t ncap = cap > 0 ? cap * 2 : 64;
            struct store_user_name *nv = realloc(v, ncap * sizeof(*v));

            if (nv == NULL) {
                rc = DB_ERR_NOMEM;
                break;
            }
            v = nv;
            cap = ncap;
        }
        store_col_copy(q, 0, v[(*n)++].name, sizeof(v[0].name));
    }
    store_done(q);
    if (rc < 0) {
        free(v);
        *n = 0;
        return rc;
    }
    *out = v;
    return 0;
}

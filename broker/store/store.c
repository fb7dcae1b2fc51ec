/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store: every durable fact of the broker in one database, behind one
 * interface (the store_* functions of broker.h) with two backends, SQLite
 * in state_dir (sqlite.c, the default) and PostgreSQL (postgres.c).  This
 * file holds what the backends share: opening and migrating, transactions,
 * the query objects the row code uses (store-int.h), and the audit chain
 * with its head anchor.  Row-level functions live in rows.c.
 *
 * Habits, all of them on purpose:
 *  - The schema is one numbered list of migrations (schema.c) that every
 *    backend applies, each in its own write transaction taken under the
 *    backend's schema lock, so two processes starting together cannot both
 *    apply one; a schema newer than this binary is refused.
 *  - Every statement comes from the constant table of schema.c; values are
 *    always bound, never written into SQL text.
 *  - Writes that belong together run between store_begin (the backend's
 *    write lock is taken before anything is read, so check-then-write is
 *    race-free across processes) and store_commit.  Audit rows join the
 *    caller's transaction; after COMMIT the head anchor is moved (audit.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <jansson.h>

#include "store-int.h"

/* ---- query objects: what the row code uses instead of a backend's types ---- */

struct store_q *store_q(struct store *s, enum store_stmt_id id)
{
    return &s->q[id];
}

int store_q_new(struct store *s, const char *sql, struct store_q **out, char *err, size_t errlen)
{
    struct store_q *q = calloc(1, sizeof(*q));
    int r;

    *out = NULL;
    if (q == NULL) {
        return DB_ERR_NOMEM;
    }
    q->s = s;
    q->id = STORE_STMT_COUNT;
    if ((r = s->be->q_prepare(s, q, sql, err, errlen)) != 0) {
        free(q);
        return r;
    }
    *out = q;
    return 0;
}

void store_q_free(struct store_q *q)
{
    if (q == NULL) {
        return;
    }
    if (q->running) {
        store_done(q);
    }
    q->s->be->q_finalize(q);
    free(q);
}

/*
 * A statement of the table, prepared when first stepped and then kept.  A
 * session process uses a handful of the table, and a prepared statement
 * holds kilobytes: all of them were about 400 KiB in every process.
 */
static int store_prepare_one(struct store_q *q)
{
    struct store *s = q->s;
    const struct store_stmt_sql *t = &store_stmt_sql[q->id];
    const char *sql = s->be->dialect == STORE_POSTGRES && t->pg != NULL ? t->pg : t->sql;
    char err[sizeof(s->msg)] = "";
    int r = s->be->q_prepare(s, q, sql, err, sizeof(err));

    if (r != 0) {
        snprintf(s->msg, sizeof(s->msg), "%s", err);
    }
    return r;
}

static struct store_val *store_param(struct store_q *q, int pos)
{
    if (pos < 1 || pos > STORE_PARAMS_MAX) {
        return NULL; /* a programming error: the statement table has at most that many */
    }
    if (pos > q->np) {
        for (int i = q->np; i < pos; i++) {
            memset(&q->p[i], 0, sizeof(q->p[i]));
        }
        q->np = pos;
    }
    return &q->p[pos - 1];
}

void store_bind_int(struct store_q *q, int pos, long long v)
{
    struct store_val *p = store_param(q, pos);

    if (p != NULL) {
        p->type = STORE_VAL_INT;
        p->i = v;
    }
}

void store_bind_double(struct store_q *q, int pos, double v)
{
    struct store_val *p = store_param(q, pos);

    if (p != NULL) {
        p->type = STORE_VAL_DOUBLE;
        p->d = v;
    }
}

void store_bind_textn(struct store_q *q, int pos, const char *t, size_t len)
{
    struct store_val *p = store_param(q, pos);

    if (p == NULL) {
        return;
    }
    if (t == NULL) {
        p->type = STORE_VAL_NULL;
        return;
    }
    p->type = STORE_VAL_TEXT;
    p->t = t;
    p->len = len;
}

void store_bind_text(struct store_q *q, int pos, const char *t)
{
    store_bind_textn(q, pos, t, t != NULL ? strlen(t) : 0);
}

int store_step(struct store_q *q)
{
    int r;

    if (q->prep == NULL && q->id < STORE_STMT_COUNT && (r = store_prepare_one(q)) != 0) {
        return r;
    }
    return q->s->be->step(q);
}

void store_done(struct store_q *q)
{
    q->s->be->reset(q);
    q->running = 0;
    q->np = 0;
}

int store_exec(struct store_q *q)
{
    int r = store_step(q);

    store_done(q);
    return r > 0 ? 0 : r;
}

long long store_changes(const struct store_q *q)
{
    return q->changes;
}

int store_col_null(struct store_q *q, int col)
{
    return q->s->be->col_null(q, col);
}

long long store_col_int(struct store_q *q, int col)
{
    return q->s->be->col_int(q, col);
}

double store_col_double(struct store_q *q, int col)
{
    return q->s->be->col_double(q, col);
}

const char *store_col_text(struct store_q *q, int col)
{
    return q->s->be->col_text(q, col, NULL);
}

int store_col_copy(struct store_q *q, int col, char *dst, size_t dstlen)
{
    size_t n = 0;
    const char *t = q->s->be->col_text(q, col, &n);

    if (t == NULL) {
        n = 0;
    }
    if (n >= dstlen) {
        memcpy(dst, t, dstlen - 1);
        dst[dstlen - 1] = '\0';
        return DB_ERR_INVALID;
    }
    if (n > 0) {
        memcpy(dst, t, n);
    }
    dst[n] = '\0';
    return 0;
}

char *store_col_dup(struct store_q *q, int col)
{
    size_t n = 0;
    const char *t = q->s->be->col_text(q, col, &n);

    return t != NULL ? strndup(t, n) : NULL;
}

/* ---- opening and migrating ---- */

static int store_migrate(struct store *s, char *err, size_t errlen)
{
    const struct store_backend *be = s->be;
    int v = 0, r;

    /*
     * Every session child opens the store before its key exchange: a schema
     * that is already current is read without the write lock, so that a lock
     * held elsewhere delays no SSH banner (the writes that need it wait, and
     * say why).  Anything else is looked at again under the lock.
     */
    if (be->schema_version(s, &v, err, errlen) == 0 && v == store_nmigrations) {
        return 0;
    }
    if (errlen > 0) {
        err[0] = '\0';
    }
    for (;;) {
        if ((r = be->schema_lock(s, err, errlen)) != 0) {
            return r;
        }
        if ((r = be->schema_version(s, &v, err, errlen)) != 0) {
            goto fail;
        }
        if (v > store_nmigrations) {
            db_errf(err, errlen, "%s: schema version %d is newer than this drawbridge (%d)",
                    s->where, v, store_nmigrations);
            r = DB_ERR_INVALID;
            goto fail;
        }
        if (v == store_nmigrations) {
            break;
        }
        if ((r = be->exec_script(s,
                                 be->dialect == STORE_SQLITE ? store_migrations[v].sqlite
                                                             : store_migrations[v].pg,
                                 err, errlen)) != 0 ||
            (r = be->schema_set_version(s, v + 1, err, errlen)) != 0) {
            goto fail;
        }
        if ((r = be->tx(s, STORE_TX_COMMIT)) != 0) {
            db_errf(err, errlen, "%s: migration %d: %s", s->where, v + 1, s->msg);
            goto fail;
        }
    }
    if ((r = be->tx(s, STORE_TX_COMMIT)) != 0) {
        db_errf(err, errlen, "%s: %s", s->where, s->msg);
        goto fail;
    }
    return 0;
fail:
    be->tx(s, STORE_TX_ROLLBACK);
    return r;
}

static int store_read_key(struct store *s, const struct config *c, char *err, size_t errlen)
{
    char path[4096];
    unsigned char extra;
    int fd;
    ssize_t n;

    keys_path(c, "recording.hmac", path, sizeof(path));
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        db_errf(err, errlen, "%s: %s (keys_ensure creates it)", path, strerror(errno));
        return DB_ERR_IO;
    }
    n = read(fd, s->key, sizeof(s->key));
    if (n != (ssize_t)sizeof(s->key) || read(fd, &extra, 1) != 0) {
        close(fd);
        db_errf(err, errlen, "%s: must hold exactly 32 bytes", path);
        return DB_ERR_INVALID;
    }
    close(fd);
    return 0;
}

/* store.password_file: one line, the trailing newline not part of it. */
static int store_read_password(struct store *s, const char *path, char *err, size_t errlen)
{
    char buf[1024];
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

    if (fd < 0) {
        db_errf(err, errlen, "store.password_file: %s: %s", path, strerror(errno));
        return DB_ERR_IO;
    }
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n < 0 || n == (ssize_t)sizeof(buf) - 1) {
        db_wipe(buf, sizeof(buf));
        db_errf(err, errlen, "store.password_file: %s: cannot read one line", path);
        return DB_ERR_INVALID;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) {
        n--;
    }
    buf[n] = '\0';
    s->password = strdup(buf);
    db_wipe(buf, sizeof(buf));
    return s->password != NULL ? 0 : DB_ERR_NOMEM;
}

/* A fresh database gets an anchor for the empty chain, so a missing anchor later means removal. */
static int store_anchor_init(struct store *s, char *err, size_t errlen)
{
    struct audit_head h;
    char why[256];
    long long last = 0;
    int r;

    r = audit_head_read(s->head_path, s->key, &h, why, sizeof(why));
    if (r != DB_ERR_NOTFOUND) {
        return 0; /* present (or damaged: verify reports it) */
    }
    if ((r = store_audit_last(s, &last, h.hash)) != 0) {
        db_errf(err, errlen, "%s: cannot read the audit chain", s->where);
        return r;
    }
    if (last != 0) {
        return 0; /* rows but no anchor: leave the evidence for verify */
    }
    memset(&h, 0, sizeof(h));
    memset(h.hash, '0', AUDIT_HASH_HEX);
    return audit_head_write(s->head_path, s->key, &h, err, errlen);
}

int store_anchor_adopt(struct store *s, long long now, char *err, size_t errlen)
{
    struct audit_head h;
    char why[256], details[512];
    long long last = 0;
    int r;

    if (s->be->dialect != STORE_POSTGRES ||
        audit_head_read(s->head_path, s->key, &h, why, sizeof(why)) != DB_ERR_NOTFOUND) {
        return 0;
    }
    memset(&h, 0, sizeof(h));
    if ((r = store_begin(s)) != 0) {
        db_errf(err, errlen, "%s: %s", s->where, s->msg);
        return r;
    }
    if ((r = store_audit_last(s, &last, h.hash)) != 0) {
        goto fail;
    }
    h.seq = last;
    if ((r = audit_head_write(s->head_path, s->key, &h, err, errlen)) != 0) {
        goto fail;
    }
    /* values of our own making (a host name, a path checked by the config, a number) */
    {
        json_t *d = json_pack("{ss ss sI}", "host", s->gateway, "anchor", s->head_path, "seq",
                              (json_int_t)last);
        char *text = d != NULL ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

        snprintf(details, sizeof(details), "%s", text != NULL ? text : "{}");
        free(text);
        json_decref(d);
    }
    if ((r = store_audit_append(s, now, "system", "audit.anchor", "audit", details, NULL)) != 0) {
        goto fail;
    }
    return store_commit(s, err, errlen);
fail:
    store_rollback(s);
    if (err != NULL && errlen > 0 && err[0] == '\0') {
        db_errf(err, errlen, "%s: cannot anchor the audit chain", s->where);
    }
    return r;
}

int store_open_config(const struct config *c, struct store **out, char *err, size_t errlen)
{
    struct store *s = NULL;
    int r = DB_ERR_INTERNAL;

    *out = NULL;
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return DB_ERR_NOMEM;
    }
    s->fwd_fd = -1;
    s->be = c->store_url != NULL ? &store_backend_postgres : &store_backend_sqlite;
    for (int i = 0; i < STORE_STMT_COUNT; i++) {
        s->q[i].s = s;
        s->q[i].id = (enum store_stmt_id)i;
    }
    if (gethostname(s->gateway, sizeof(s->gateway) - 1) != 0) {
        snprintf(s->gateway, sizeof(s->gateway), "localhost");
    }
    snprintf(s->where, sizeof(s->where), "%s/drawbridge.db", c->state_dir);
    snprintf(s->head_path, sizeof(s->head_path), "%s/audit.head", c->state_dir);
    snprintf(s->lock_path, sizeof(s->lock_path), "%s/audit.head.lock", c->state_dir);
    if (c->store_url != NULL && (s->url = strdup(c->store_url)) == NULL) {
        r = DB_ERR_NOMEM;
        goto out;
    }
    if ((c->store_password_file != NULL &&
         (r = store_read_password(s, c->store_password_file, err, errlen)) != 0) ||
        (r = store_read_key(s, c, err, errlen)) != 0 || (r = s->be->open(s, err, errlen)) != 0 ||
        (r = store_migrate(s, err, errlen)) != 0 || (r = store_anchor_init(s, err, errlen)) != 0 ||
        (r = store_forward_open(s, c, err, errlen)) != 0) {
        goto out;
    }
    *out = s;
    s = NULL;
    r = 0;
out:
    if (r != 0 && s != NULL && s->be->dialect == STORE_POSTGRES && err != NULL && errlen > 0 &&
        strncmp(err, "store.", 6) != 0 && strstr(err, s->where) != NULL) {
        /* a message about the database names the setting that chose it */
        char tmp[1024];

        snprintf(tmp, sizeof(tmp), "store.url: %s", err);
        snprintf(err, errlen, "%s", tmp);
    }
    store_close(s);
    return r;
}

int store_open(const char *state_dir, struct store **out, char *err, size_t errlen)
{
    struct config c;

    memset(&c, 0, sizeof(c));
    c.state_dir = (char *)state_dir;
    return store_open_config(&c, out, err, errlen);
}

int store_backend_is_shared(const struct store *s)
{
    return s->be->dialect == STORE_POSTGRES;
}

void store_release_memory(struct store *s)
{
    if (s != NULL && s->conn != NULL && !s->in_tx && s->be->release != NULL) {
        s->be->release(s);
    }
}

void store_close(struct store *s)
{
    if (s == NULL) {
        return;
    }
    if (s->in_tx) {
        store_rollback(s);
    }
    for (int i = 0; i < STORE_STMT_COUNT; i++) {
        if (s->q[i].prep != NULL) {
            s->be->q_finalize(&s->q[i]);
        }
    }
    if (s->conn != NULL) {
        s->be->close(s);
    }
    store_forward_close(s);
    db_wipe(s->key, sizeof(s->key));
    if (s->password != NULL) {
        db_wipe(s->password, strlen(s->password));
        free(s->password);
    }
    free(s->url);
    free(s);
}

/* ---- transactions ---- */

int store_begin(struct store *s)
{
    int r;

    if (s->in_tx) {
        return DB_ERR_INTERNAL;
    }
    if ((r = s->be->tx(s, STORE_TX_BEGIN)) != 0) {
        return r;
    }
    s->in_tx = 1;
    s->tx_audit_seq = 0;
    return 0;
}

void store_rollback(struct store *s)
{
    if (!s->in_tx) {
        return;
    }
    for (int i = 0; i < STORE_STMT_COUNT; i++) {
        if (s->q[i].running) {
            store_done(&s->q[i]);
        }
    }
    s->be->tx(s, STORE_TX_ROLLBACK);
    s->in_tx = 0;
    s->tx_audit_seq = 0;
    store_forward_drop(s);
}

/*
 * Moves the anchor to (seq, hash) if that is forward and the chain still
 * holds the anchored row: a chain whose anchored row is gone or different
 * was tampered with, and the anchor stays as the evidence.  Serialised
 * across processes with a lock file so two writers never move it backwards.
 * Best effort: the commit has happened, and a lagging anchor only weakens
 * truncation detection to the rows it covers.
 */
static void store_anchor_advance(struct store *s, long long seq, const char *hash)
{
    struct audit_head h;
    char why[256], at[AUDIT_HASH_HEX + 1];
    int fd;

    fd = open(s->lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        return;
    }
    if (flock(fd, LOCK_EX) != 0) {
        goto out;
    }
    if (audit_head_read(s->head_path, s->key, &h, why, sizeof(why)) != 0 || h.seq >= seq) {
        goto out;
    }
    if (h.seq > 0 && (store_audit_hash_at(s, h.seq, at) != 0 || strcmp(at, h.hash) != 0)) {
        goto out;
    }
    h.seq = seq;
    memcpy(h.hash, hash, sizeof(h.hash));
    audit_head_write(s->head_path, s->key, &h, why, sizeof(why));
out:
    close(fd);
}

int store_commit(struct store *s, char *err, size_t errlen)
{
    int r;

    if (!s->in_tx) {
        db_errf(err, errlen, "internal error: commit without a transaction");
        return DB_ERR_INTERNAL;
    }
    if ((r = s->be->tx(s, STORE_TX_COMMIT)) != 0) {
        db_errf(err, errlen, "the store could not commit: %s", s->msg);
        store_rollback(s);
        return r;
    }
    s->in_tx = 0;
    store_forward_flush(s);
    if (s->tx_audit_seq > 0) {
        store_anchor_advance(s, s->tx_audit_seq, s->tx_audit_hash);
    }
    s->tx_audit_seq = 0;
    return 0;
}

/* ---- the audit chain ---- */

int store_audit_last(struct store *s, long long *seq, char hash[AUDIT_HASH_HEX + 1])
{
    struct store_q *q = store_q(s, ST_AUDIT_LAST);
    int r = store_step(q);

    *seq = 0;
    memset(hash, '0', AUDIT_HASH_HEX);
    hash[AUDIT_HASH_HEX] = '\0';
    if (r > 0) {
        *seq = store_col_int(q, 0);
        store_col_copy(q, 1, hash, AUDIT_HASH_HEX + 1);
        r = 0;
    }
    store_done(q);
    return r;
}

int store_audit_hash_at(struct store *s, long long seq, char hash[AUDIT_HASH_HEX + 1])
{
    struct store_q *q = store_q(s, ST_AUDIT_HASH_AT);
    int r;

    hash[0] = '\0';
    store_bind_int(q, 1, seq);
    r = store_step(q);
    if (r > 0) {
        store_col_copy(q, 0, hash, AUDIT_HASH_HEX + 1);
        r = 0;
    } else if (r == 0) {
        r = DB_ERR_NOTFOUND;
    }
    store_done(q);
    return r;
}

static int store_audit_insert(struct store *s, long long now, const char *actor, const char *event,
                              const char *object, const char *details, long long *seq_out)
{
    struct store_q *q = store_q(s, ST_AUDIT_INSERT);
    struct audit_row row;
    long long last = 0;
    int r;

    memset(&row, 0, sizeof(row));
    if ((r = store_audit_last(s, &last, row.prev_hash)) != 0) {
        return r;
    }
    row.seq = last + 1;
    row.time = now;
    row.actor = actor != NULL ? actor : "system";
    row.event = event;
    row.object = object != NULL ? object : "";
    row.details = details != NULL ? details : "{}";
    if ((r = audit_row_hash(&row, row.hash)) != 0) {
        return r;
    }
    store_bind_int(q, 1, row.seq);
    store_bind_int(q, 2, row.time);
    store_bind_text(q, 3, row.actor);
    store_bind_text(q, 4, row.event);
    store_bind_text(q, 5, row.object);
    store_bind_text(q, 6, row.details);
    store_bind_text(q, 7, row.prev_hash);
    store_bind_text(q, 8, row.hash);
    if ((r = store_exec(q)) != 0 || (r = store_forward_add(s, &row)) != 0) {
        return r;
    }
    s->tx_audit_seq = row.seq;
    memcpy(s->tx_audit_hash, row.hash, sizeof(s->tx_audit_hash));
    if (seq_out != NULL) {
        *seq_out = row.seq;
    }
    return 0;
}

int store_audit_append(struct store *s, long long now, const char *actor, const char *event,
                       const char *object, const char *details, long long *seq_out)
{
    char err[256];
    int r, own = !s->in_tx;

    if (event == NULL || event[0] == '\0') {
        return DB_ERR_INVALID;
    }
    if (own && (r = store_begin(s)) != 0) {
        return r;
    }
    r = store_audit_insert(s, now, actor, event, object, details, seq_out);
    if (own) {
        if (r == 0) {
            r = store_commit(s, err, sizeof(err));
        } else {
            store_rollback(s);
        }
    }
    return r;
}

#define STORE_AUDIT_PAGE 1000

int store_audit_foreach(struct store *s, long long since,
                        int (*fn)(void *ctx, const struct audit_row *row), void *ctx)
{
    struct store_q *q = store_q(s, ST_AUDIT_PAGE);
    struct audit_row row;
    long long after = INT64_MIN;
    int r = 0, got;

    do {
        got = 0;
        store_bind_int(q, 1, since != 0 ? since : INT64_MIN);
        store_bind_int(q, 2, after);
        store_bind_int(q, 3, STORE_AUDIT_PAGE);
        while ((r = store_step(q)) > 0) {
            memset(&row, 0, sizeof(row));
            row.seq = store_col_int(q, 0);
            row.time = store_col_int(q, 1);
            row.actor = store_col_text(q, 2);
            row.event = store_col_text(q, 3);
            row.object = store_col_text(q, 4);
            row.details = store_col_text(q, 5);
            store_col_copy(q, 6, row.prev_hash, sizeof(row.prev_hash));
            store_col_copy(q, 7, row.hash, sizeof(row.hash));
            after = row.seq;
            got++;
            if ((r = fn(ctx, &row)) != 0) {
                break;
            }
        }
        store_done(q);
    } while (r == 0 && got == STORE_AUDIT_PAGE);
    return r;
}

int store_audit_last_event(struct store *s, const char *event,
                           int (*fn)(void *ctx, const struct audit_row *row), void *ctx)
{
    struct store_q *q = store_q(s, ST_AUDIT_LAST_EVENT);
    struct audit_row row;
    int r;

    store_bind_text(q, 1, event);
    r = store_step(q);
    if (r > 0) {
        memset(&row, 0, sizeof(row));
        row.seq = store_col_int(q, 0);
        row.time = store_col_int(q, 1);
        row.actor = store_col_text(q, 2);
        row.event = store_col_text(q, 3);
        row.object = store_col_text(q, 4);
        row.details = store_col_text(q, 5);
        store_col_copy(q, 6, row.prev_hash, sizeof(row.prev_hash));
        store_col_copy(q, 7, row.hash, sizeof(row.hash));
        r = fn(ctx, &row);
    } else if (r == 0) {
        r = DB_ERR_NOTFOUND;
    }
    store_done(q);
    return r;
}

int store_audit_seq_before(struct store *s, long long before, long long *seq)
{
    struct store_q *q = store_q(s, ST_AUDIT_SEQ_BEFORE);
    int r;

    *seq = 0;
    store_bind_int(q, 1, before);
    r = store_step(q);
    if (r > 0) {
        *seq = store_col_int(q, 0);
        r = 0;
    }
    store_done(q);
    return r;
}

int store_audit_delete_through(struct store *s, long long through)
{
    struct store_q *q = store_q(s, ST_AUDIT_DELETE_THROUGH);

    store_bind_int(q, 1, through);
    return store_exec(q);
}

struct store_verify_ctx {
    struct audit_verifier v;
    char *err;
    size_t errlen;
};

static int store_verify_one(void *ctx, const struct audit_row *row)
{
    struct store_verify_ctx *c = ctx;

    return audit_verify_row(&c->v, row, c->err, c->errlen);
}

int store_audit_verify(struct store *s, long long *nrows, char *err, size_t errlen)
{
    struct store_verify_ctx c;
    struct audit_head head;
    char lasth[AUDIT_HASH_HEX + 1];
    long long last = 0;
    int r, have_head;

    if (nrows != NULL) {
        *nrows = 0;
    }
    r = audit_head_read(s->head_path, s->key, &head, err, errlen);
    have_head = r == 0;
    if (r == DB_ERR_NOTFOUND) {
        /* store_open writes an anchor for an empty chain, so rows without one means removal. */
        if ((r = store_audit_last(s, &last, lasth)) != 0) {
            return r;
        }
        if (last > 0) {
            db_errf(err, errlen, "audit head: %s is missing (removed?)", s->head_path);
            return DB_ERR_TAMPERED;
        }
    } else if (r != 0) {
        return r;
    }
    memset(&c, 0, sizeof(c));
    c.err = err;
    c.errlen = errlen;
    audit_verify_begin(&c.v, have_head ? &head : NULL);
    if ((r = store_audit_foreach(s, 0, store_verify_one, &c)) != 0) {
        return r;
    }
    return audit_verify_end(&c.v, nrows, err, errlen);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The SQLite backend: state_dir/drawbridge.db, the default for a single
 * gateway.  The only file of the project that includes sqlite3.h.
 *
 * Habits, all of them on purpose:
 *  - WAL mode, synchronous=FULL (a decision told to a user survives a power
 *    cut), a 5 s busy timeout, foreign keys on.  Many processes (the
 *    listener and one child per connection) share the file; each opens its
 *    own handle after fork.
 *  - PRAGMA user_version is the schema version.  Each migration runs in its
 *    own BEGIN IMMEDIATE, so two processes starting together cannot both
 *    apply one.
 *  - Every statement is prepared once per handle from the constant table of
 *    schema.c and used as bind -> step -> reset -> clear_bindings.
 *  - A write transaction is BEGIN IMMEDIATE: the write lock is taken before
 *    anything is read, so check-then-write is race-free across processes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store-int.h"

#define STORE_SQLITE_BUSY_MS 5000

static sqlite3 *sq_db(struct store *s)
{
    return (sqlite3 *)s->conn;
}

/* SQLite result code to DB_ERR_* (0 for OK/ROW/DONE). */
static int sq_rc(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return 0;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return DB_ERR_BUSY;
    case SQLITE_CONSTRAINT:
        return DB_ERR_EXISTS;
    case SQLITE_NOMEM:
        return DB_ERR_NOMEM;
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
        return DB_ERR_IO;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return DB_ERR_TAMPERED;
    default:
        return DB_ERR_INTERNAL;
    }
}

static int sq_fail(struct store *s, int rc)
{
    snprintf(s->msg, sizeof(s->msg), "%s",
             s->conn != NULL ? sqlite3_errmsg(sq_db(s)) : sqlite3_errstr(rc));
    return sq_rc(rc) != 0 ? sq_rc(rc) : DB_ERR_INTERNAL;
}

static int sq_exec(struct store *s, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    int rc = sqlite3_exec(sq_db(s), sql, NULL, NULL, &msg);

    if (rc != SQLITE_OK) {
        db_errf(err, errlen, "%s: %s", s->where, msg != NULL ? msg : sqlite3_errstr(rc));
        snprintf(s->msg, sizeof(s->msg), "%s", msg != NULL ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return sq_rc(rc) != 0 ? sq_rc(rc) : DB_ERR_INTERNAL;
    }
    return 0;
}

static int sq_open(struct store *s, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    int rc, r;

    rc = sqlite3_open_v2(s->where, &db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        db_errf(err, errlen, "%s: %s", s->where, db != NULL ? sqlite3_errmsg(db) : "cannot open");
        sqlite3_close(db);
        return DB_ERR_IO;
    }
    s->conn = db;
    sqlite3_busy_timeout(db, STORE_SQLITE_BUSY_MS);
    sqlite3_extended_result_codes(db, 1);
    if ((r = sq_exec(s, "PRAGMA journal_mode = WAL", err, errlen)) != 0 ||
        (r = sq_exec(s, "PRAGMA synchronous = FULL", err, errlen)) != 0 ||
        (r = sq_exec(s, "PRAGMA foreign_keys = ON", err, errlen)) != 0) {
        return r;
    }
    return 0;
}

static void sq_close(struct store *s)
{
    sqlite3_close(sq_db(s));
    s->conn = NULL;
}

static int sq_schema_lock(struct store *s, char *err, size_t errlen)
{
    return sq_exec(s, "BEGIN IMMEDIATE", err, errlen);
}

static int sq_schema_version(struct store *s, int *v, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(sq_db(s), "PRAGMA user_version", -1, &st, NULL);

    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        *v = sqlite3_column_int(st, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK) {
        db_errf(err, errlen, "%s: cannot read the schema version", s->where);
        return sq_rc(rc) != 0 ? sq_rc(rc) : DB_ERR_INTERNAL;
    }
    return 0;
}

static int sq_schema_set_version(struct store *s, int v, char *err, size_t errlen)
{
    char sql[64];

    /* a pragma takes no parameters; v is one of our own small integers */
    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v);
    return sq_exec(s, sql, err, errlen);
}

static int sq_q_prepare(struct store *s, struct store_q *q, const char *sql, char *err,
                        size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v3(sq_db(s), sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);

    if (rc != SQLITE_OK) {
        db_errf(err, errlen, "%s: statement %d: %s", s->where, (int)q->id,
                sqlite3_errmsg(sq_db(s)));
        return DB_ERR_INTERNAL;
    }
    q->prep = st;
    q->nparams = sqlite3_bind_parameter_count(st);
    return 0;
}

static void sq_q_finalize(struct store_q *q)
{
    sqlite3_finalize(q->prep);
    q->prep = NULL;
}

static int sq_tx(struct store *s, enum store_tx_op op)
{
    static const char *const sql[] = {"BEGIN IMMEDIATE", "COMMIT", "ROLLBACK"};
    int rc = sqlite3_exec(sq_db(s), sql[op], NULL, NULL, NULL);

    return rc == SQLITE_OK ? 0 : sq_fail(s, rc);
}

static int sq_bind(struct store_q *q)
{
    sqlite3_stmt *st = q->prep;
    int rc = SQLITE_OK;

    for (int i = 0; i < q->np && rc == SQLITE_OK; i++) {
        const struct store_val *v = &q->p[i];

        switch (v->type) {
        case STORE_VAL_NULL:
            rc = sqlite3_bind_null(st, i + 1);
            break;
        case STORE_VAL_INT:
            rc = sqlite3_bind_int64(st, i + 1, v->i);
            break;
        case STORE_VAL_DOUBLE:
            rc = sqlite3_bind_double(st, i + 1, v->d);
            break;
        case STORE_VAL_TEXT:
            if (v->len > INT32_MAX) {
                return DB_ERR_INVALID;
            }
            rc = sqlite3_bind_text(st, i + 1, v->t, (int)v->len, SQLITE_STATIC);
            break;
        }
    }
    return rc == SQLITE_OK ? 0 : sq_fail(q->s, rc);
}

static int sq_step(struct store_q *q)
{
    sqlite3_stmt *st = q->prep;
    int rc, r;

    if (st == NULL) {
        return sq_fail(q->s, sqlite3_errcode(sq_db(q->s)));
    }
    if (!q->running) {
        q->running = 1;
        if ((r = sq_bind(q)) != 0) {
            return r;
        }
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        return 1;
    }
    if (rc == SQLITE_DONE) {
        q->changes = sqlite3_changes(sq_db(q->s));
        return 0;
    }
    return sq_fail(q->s, rc);
}

static void sq_reset(struct store_q *q)
{
    if (q->prep != NULL) { /* a statement of the table is prepared when first stepped */
        sqlite3_reset(q->prep);
        sqlite3_clear_bindings(q->prep);
    }
}

static int sq_col_null(struct store_q *q, int col)
{
    return sqlite3_column_type(q->prep, col) == SQLITE_NULL;
}

static long long sq_col_int(struct store_q *q, int col)
{
    return sqlite3_column_int64(q->prep, col);
}

static double sq_col_double(struct store_q *q, int col)
{
    return sqlite3_column_double(q->prep, col);
}

static const char *sq_col_text(struct store_q *q, int col, size_t *len)
{
    const unsigned char *t = sqlite3_column_text(q->prep, col);

    if (len != NULL) {
        *len = t != NULL ? (size_t)sqlite3_column_bytes(q->prep, col) : 0;
    }
    return (const char *)t;
}

/* The page cache: pages read are kept for the connection's life unless given back. */
static void sq_release(struct store *s)
{
    sqlite3_db_release_memory(sq_db(s));
}

const struct store_backend store_backend_sqlite = {
    .name = "sqlite",
    .dialect = STORE_SQLITE,
    .open = sq_open,
    .close = sq_close,
    .release = sq_release,
    .schema_lock = sq_schema_lock,
    .schema_version = sq_schema_version,
    .schema_set_version = sq_schema_set_version,
    .exec_script = sq_exec,
    .q_prepare = sq_q_prepare,
    .q_finalize = sq_q_finalize,
    .tx = sq_tx,
    .step = sq_step,
    .reset = sq_reset,
    .col_null = sq_col_null,
    .col_int = sq_col_int,
    .col_double = sq_col_double,
    .col_text = sq_col_text,
};

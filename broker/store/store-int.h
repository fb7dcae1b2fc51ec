/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to broker/store/: the handle, the statement table, the query
 * objects the row code uses, and the interface every backend implements.
 * Nothing outside this folder includes it.
 *
 * The split:
 *   schema.c    the migrations (one numbered list, a text per backend) and
 *               every statement's SQL, by enum store_stmt_id
 *   store.c     opening, migrating, transactions, the audit chain and its
 *               head anchor: everything the backends share
 *   rows.c      users, requests, decisions, grants, sessions, text index:
 *               binds parameters and reads columns through store_q
 *   rows-mfa.c  the second factor's enrolments and recovery codes, the same way
 *   sqlite.c    the SQLite backend (the only file with sqlite3.h)
 *   postgres.c  the PostgreSQL backend (the only file with libpq-fe.h)
 *
 * Row code never sees a backend type: it takes the query object of a
 * statement (store_q), binds values by 1-based position, steps it, reads
 * columns by 0-based position, and calls store_done.  Values are always
 * bound; SQL text is only ever the constants of schema.c.
 */
#ifndef DRAWBRIDGE_STORE_INT_H
#define DRAWBRIDGE_STORE_INT_H

#include <stddef.h>

#include "broker.h"

enum store_stmt_id {
    ST_AUDIT_LAST,
    ST_AUDIT_INSERT,
    ST_AUDIT_HASH_AT,
    ST_AUDIT_PAGE,
    ST_AUDIT_LAST_EVENT,
    ST_USER_SEEN,
    ST_REQ_INSERT,
    ST_REQ_GET,
    ST_REQ_SET_STATUS,
    ST_REQ_LIST,
    ST_REQ_COUNT_PENDING,
    ST_REQ_STALE,
    ST_DEC_INSERT,
    ST_DEC_LIST,
    ST_GRANT_INSERT,
    ST_GRANT_GET,
    ST_GRANT_SET_STATUS,
    ST_GRANT_FIND_LIVE,
    ST_GRANT_LIST_LIVE,
    ST_GRANT_STALE,
    ST_SESS_INSERT,
    ST_SESS_END,
    ST_SESS_SET_REC,
    ST_SESS_REVIEW,
    ST_SESS_GET,
    ST_SESS_LIST,
    ST_SESS_TERMINATE,
    ST_SESS_TERM_GET,
    ST_SESS_BYTES,
    ST_SESS_LIVE_PIDS,
    ST_TEXT_INSERT,
    ST_TEXT_SEARCH,
    ST_SESS_EXPIRABLE,
    ST_SESS_EXPIRE,
    ST_SESS_EXPIRE_PENDING,
    ST_SESS_EXPIRE_DONE,
    ST_SESS_DROP_EXPIRED,
    ST_TEXT_DROP_EXPIRED,
    ST_AUDIT_SEQ_BEFORE,
    ST_AUDIT_DELETE_THROUGH,
    ST_WEB_LOGIN_INSERT,
    ST_WEB_LOGIN_PURGE,
    ST_WEB_LOGIN_TAKE,
    ST_WEB_LOGIN_PEEK,
    /* the second factor (rows-mfa.c) */
    ST_MFA_GET,
    ST_MFA_LIST,
    ST_MFA_PUT_PENDING,
    ST_MFA_ACTIVATE,
    ST_MFA_COUNTERS,
    ST_MFA_DELETE,
    ST_MFA_RECOVERY_ADD,
    ST_MFA_RECOVERY_USE,
    ST_MFA_RECOVERY_DELETE,
    ST_USER_LIST,
    STORE_STMT_COUNT
};

/*
 * One statement's SQL.  sql is written to run on both backends: parameters
 * as ?N (the PostgreSQL backend turns them into $N), the column "user"
 * always quoted (a reserved word in PostgreSQL), a parameter that is only
 * tested for NULL wrapped in CAST(?N AS TEXT).  pg, when not NULL, replaces
 * sql on PostgreSQL where the dialects really differ (the text index).
 */
struct store_stmt_sql {
    const char *sql;
    const char *pg;
};
extern const struct store_stmt_sql store_stmt_sql[STORE_STMT_COUNT];

/*
 * Migration N (1-based) brings the schema from version N-1 to N; each
 * backend has its text for every N.  Append only; both texts in the same
 * commit.  The version itself is set by the backend (schema_set_version).
 */
struct store_migration {
    const char *sqlite;
    const char *pg;
};
extern const struct store_migration store_migrations[];
extern const int store_nmigrations;

/*
 * Every table, for `drawbridge migrate` (migrate.c): how to read all of its
 * rows from SQLite in the order they were written, and how to write one.
 * A migration that adds a table or a column adds it here too.
 */
struct store_copy_table {
    const char *name;
    const char *select_sqlite; /* every column, oldest row first */
    const char *insert;        /* the same columns, ?1..?N */
    const char *count;         /* its rows (the target must have none) */
};
extern const struct store_copy_table store_copy_tables[];
extern const int store_ncopy_tables;

#define STORE_PARAMS_MAX 32

enum store_val_type { STORE_VAL_NULL = 0, STORE_VAL_INT, STORE_VAL_DOUBLE, STORE_VAL_TEXT };

struct store_val {
    enum store_val_type type;
    long long i;
    double d;
    const char *t; /* not owned: valid until store_done */
    size_t len;
};

/* A statement's query object: one per statement per handle, reused like a prepared statement. */
struct store_q {
    struct store *s;
    enum store_stmt_id id;
    struct store_val p[STORE_PARAMS_MAX];
    int np;            /* highest position bound */
    int running;       /* stepped and not yet done */
    long long changes; /* rows written by the last completed run */
    void *prep;        /* the backend's prepared form (q_prepare) */
    void *res;         /* the backend's result of the running statement */
    int nparams;       /* placeholders in the SQL (the backend fills it) */
    int row, nrows;    /* the backend's cursor, where it needs one */
};

enum store_tx_op { STORE_TX_BEGIN, STORE_TX_COMMIT, STORE_TX_ROLLBACK };

/*
 * What a backend implements.  Every function returns 0 or DB_ERR_*
 * (step: 1 for a row, 0 when done), and leaves a readable message in
 * s->msg when it fails.
 */
enum store_dialect { STORE_SQLITE, STORE_POSTGRES };

struct store_backend {
    const char *name;
    enum store_dialect dialect; /* which text of a migration or statement it runs */
    /* connects to s->where, applies the session settings */
    int (*open)(struct store *s, char *err, size_t errlen);
    void (*close)(struct store *s);
    /* opens the write transaction migrations run in, serialised across processes */
    int (*schema_lock)(struct store *s, char *err, size_t errlen);
    int (*schema_version)(struct store *s, int *v, char *err, size_t errlen);
    int (*schema_set_version)(struct store *s, int v, char *err, size_t errlen);
    /* runs a constant script of several statements (a migration) */
    int (*exec_script)(struct store *s, const char *sql, char *err, size_t errlen);
    /* prepares one statement (the table's, once migrations are done, or a copy's) */
    int (*q_prepare)(struct store *s, struct store_q *q, const char *sql, char *err, size_t errlen);
    void (*q_finalize)(struct store_q *q);
    /* BEGIN is a write transaction that holds the store's write lock until it ends */
    int (*tx)(struct store *s, enum store_tx_op op);
    int (*step)(struct store_q *q);
    void (*reset)(struct store_q *q);
    int (*col_null)(struct store_q *q, int col);
    long long (*col_int)(struct store_q *q, int col);
    double (*col_double)(struct store_q *q, int col);
    /* NULL for SQL NULL; *len may be NULL */
    const char *(*col_text)(struct store_q *q, int col, size_t *len);
    /* gives back memory the connection can do without (caches); may be NULL */
    void (*release)(struct store *s);
};

extern const struct store_backend store_backend_sqlite;
extern const struct store_backend store_backend_postgres;

struct store {
    const struct store_backend *be;
    void *conn; /* the backend's connection */
    struct store_q q[STORE_STMT_COUNT];
    char where[4200];  /* the database file, or the URL without its password */
    char *url;         /* store.url (PostgreSQL), NULL for SQLite */
    char *password;    /* from store.password_file; wiped on close */
    char gateway[256]; /* this host's name: the session processes it can see */
    int fwd_fd;        /* audit_forward file (O_APPEND), -1: none */
    int fwd_syslog;    /* audit_forward: syslog */
    char **fwd_rows;   /* rows of the open transaction, forwarded once it commits */
    size_t fwd_n, fwd_cap;
    char head_path[4200];
    char lock_path[4200];
    char msg[256];         /* the backend's last error */
    unsigned char key[32]; /* the anchor's HMAC key */
    int in_tx;
    long long tx_audit_seq; /* last audit row added in the open transaction, 0: none */
    char tx_audit_hash[AUDIT_HASH_HEX + 1];
};

/* ---- the query interface the row code uses (store.c) ---- */

struct store_q *store_q(struct store *s, enum store_stmt_id id);
/* A query object for constant SQL outside the table (migrate.c); free with store_q_free. */
int store_q_new(struct store *s, const char *sql, struct store_q **out, char *err, size_t errlen);
void store_q_free(struct store_q *q);
void store_bind_int(struct store_q *q, int pos, long long v);
void store_bind_double(struct store_q *q, int pos, double v);
/* t NULL binds NULL.  The text must stay valid until store_done. */
void store_bind_text(struct store_q *q, int pos, const char *t);
void store_bind_textn(struct store_q *q, int pos, const char *t, size_t len);
/* 1: a row is ready; 0: done; <0: DB_ERR_*. */
int store_step(struct store_q *q);
/* Ends a run and forgets the bound values. */
void store_done(struct store_q *q);
/* Runs a statement that returns no rows, then store_done. */
int store_exec(struct store_q *q);
/* Rows changed by the last store_exec. */
long long store_changes(const struct store_q *q);

int store_col_null(struct store_q *q, int col);
long long store_col_int(struct store_q *q, int col);
double store_col_double(struct store_q *q, int col);
/* NULL for SQL NULL. */
const char *store_col_text(struct store_q *q, int col);
/* Copies a text column into a fixed buffer ("" for NULL); DB_ERR_INVALID if cut. */
int store_col_copy(struct store_q *q, int col, char *dst, size_t dstlen);
/* A copy the caller frees; NULL for NULL (or no memory). */
char *store_col_dup(struct store_q *q, int col);

int store_audit_last(struct store *s, long long *seq, char hash[AUDIT_HASH_HEX + 1]);

/* ---- forward.c: audit_forward ---- */

/* Opens what c->audit_forward_* names (nothing when unset). */
int store_forward_open(struct store *s, const struct config *c, char *err, size_t errlen);
void store_forward_close(struct store *s);
/* Keeps a row written in the open transaction until it commits. */
int store_forward_add(struct store *s, const struct audit_row *row);
/* After COMMIT: sends the kept rows (best effort, logged when it fails); after ROLLBACK: drops
 * them. */
void store_forward_flush(struct store *s);
void store_forward_drop(struct store *s);
int store_audit_hash_at(struct store *s, long long seq, char hash[AUDIT_HASH_HEX + 1]);

#endif

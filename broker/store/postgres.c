/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The PostgreSQL backend (store.url: postgresql://...), for several gateways
 * sharing one store.  The only file of the project that includes libpq-fe.h.
 *
 * Habits, all of them on purpose:
 *  - Every statement goes through PQexecParams with its values as separate
 *    text parameters: the SQL is always a constant of schema.c (its ?N
 *    placeholders turned into $N once, at open).
 *  - A write transaction (store_begin) is BEGIN plus a transaction-level
 *    advisory lock that every gateway takes for every write: writes are
 *    serialised across gateways exactly as SQLite's BEGIN IMMEDIATE
 *    serialises them across processes, so access.c's read-check-write stays
 *    race-free and the audit chain's head (the last seq and hash, read and
 *    extended inside the transaction) can never fork.  lock_timeout makes a
 *    wait longer than SQLite's busy timeout DB_ERR_BUSY, as there.
 *  - Migrations run under a second advisory lock, so gateways starting
 *    together apply each one once; the version is the one row of
 *    drawbridge_schema.
 *  - synchronous_commit is on: a decision told to a user is on disk.
 *  - A connection that broke (the server restarted, a failover) is noticed
 *    before the next statement outside a transaction and reopened; inside a
 *    transaction the failure is returned, the transaction is gone with the
 *    connection, and nothing of it was written.
 *  - Messages never carry the password: s->where is the URL rebuilt from
 *    host, port and database only.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "store-int.h"

/* Advisory lock keys: any constants, the same on every gateway. */
#define PG_LOCK_WRITE 0x4472617762726964LL   /* "Drawbrid" */
#define PG_LOCK_MIGRATE 0x4472617762726967LL /* "Drawbrig" */
#define PG_CONNECT_TIMEOUT "5"

struct pg {
    PGconn *c;
};

static struct pg *pg_of(struct store *s)
{
    return (struct pg *)s->conn;
}

/* The first line of a libpq message, or several joined with "; " (one host each). */
static void pg_msg_line(const char *in, char *out, size_t outlen)
{
    size_t k = 0;

    for (const char *p = in != NULL ? in : ""; *p != '\0' && k + 1 < outlen; p++) {
        if (*p == '\n') {
            if (p[1] == '\0') {
                break;
            }
            if (k + 3 >= outlen) {
                break;
            }
            out[k++] = ';';
            out[k++] = ' ';
            continue;
        }
        out[k++] = (*p == '\t' || *p == '\r') ? ' ' : *p;
    }
    out[k] = '\0';
}

static int pg_sqlstate_rc(const char *st)
{
    if (st == NULL || strlen(st) != 5) {
        return DB_ERR_INTERNAL;
    }
    if (strncmp(st, "23", 2) == 0) {
        return DB_ERR_EXISTS; /* constraints, as SQLite's SQLITE_CONSTRAINT */
    }
    if (strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0 || strcmp(st, "55P03") == 0 ||
        strcmp(st, "57014") == 0) {
        return DB_ERR_BUSY; /* serialisation, deadlock, lock_timeout, statement timeout */
    }
    if (strncmp(st, "08", 2) == 0 || strncmp(st, "57P", 3) == 0 || strncmp(st, "53", 2) == 0) {
        return DB_ERR_UNAVAIL; /* connection, shutdown, out of resources */
    }
    if (strncmp(st, "22", 2) == 0) {
        return DB_ERR_INVALID; /* data: bad encoding, out of range */
    }
    return DB_ERR_INTERNAL;
}

/* Maps a failed result (or none) to DB_ERR_* and leaves the message in s->msg. */
static int pg_fail(struct store *s, const PGresult *res)
{
    PGconn *c = pg_of(s)->c;
    const char *m = res != NULL ? PQresultErrorMessage(res) : "";

    if (m == NULL || m[0] == '\0') {
        m = PQerrorMessage(c);
    }
    pg_msg_line(m, s->msg, sizeof(s->msg));
    if (PQstatus(c) == CONNECTION_BAD) {
        return DB_ERR_UNAVAIL;
    }
    return res != NULL ? pg_sqlstate_rc(PQresultErrorField(res, PG_DIAG_SQLSTATE)) : DB_ERR_UNAVAIL;
}

/* Runs constant SQL that returns no rows we need. */
static int pg_run(struct store *s, const char *sql)
{
    PGresult *res = PQexec(pg_of(s)->c, sql);
    ExecStatusType st = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    int r = 0;

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        r = pg_fail(s, res);
    }
    PQclear(res);
    return r;
}

/* ?N -> $N outside quotes; the number of the highest parameter into *np. */
static char *pg_translate(const char *sql, int *np)
{
    size_t n = strlen(sql);
    char *out = malloc(n + 1), quote = 0;
    size_t k = 0;

    *np = 0;
    if (out == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = sql[i];

        if (quote != 0) {
            quote = ch == quote ? 0 : quote;
        } else if (ch == '\'' || ch == '"') {
            quote = ch;
        } else if (ch == '?' && sql[i + 1] >= '0' && sql[i + 1] <= '9') {
            int v = atoi(sql + i + 1);

            *np = v > *np ? v : *np;
            ch = '$';
        }
        out[k++] = ch;
    }
    out[k] = '\0';
    return out;
}

/* postgresql://host:port/db from the URL's parts, without user or password. */
static int pg_where(struct store *s, const char *url, char *err, size_t errlen)
{
    PQconninfoOption *opts = NULL, *o;
    char *perr = NULL;
    const char *host = NULL, *port = NULL, *db = NULL;

    opts = PQconninfoParse(url, &perr);
    if (opts == NULL) {
        char line[200];

        pg_msg_line(perr != NULL ? perr : "cannot parse", line, sizeof(line));
        db_errf(err, errlen, "store.url: not a PostgreSQL connection string: %s", line);
        PQfreemem(perr);
        return DB_ERR_INVALID;
    }
    for (o = opts; o->keyword != NULL; o++) {
        if (o->val == NULL) {
            continue;
        }
        if (strcmp(o->keyword, "host") == 0 ||
            (host == NULL && strcmp(o->keyword, "hostaddr") == 0)) {
            host = o->val;
        } else if (strcmp(o->keyword, "port") == 0) {
            port = o->val;
        } else if (strcmp(o->keyword, "dbname") == 0) {
            db = o->val;
        }
    }
    snprintf(s->where, sizeof(s->where), "postgresql://%s%s%s/%s", host != NULL ? host : "",
             port != NULL ? ":" : "", port != NULL ? port : "", db != NULL ? db : "");
    PQconninfoFree(opts);
    return 0;
}

static int pg_session_settings(struct store *s)
{
    /* lock waits end like SQLite's busy timeout; decisions are durable; UTF-8 both ways */
    return pg_run(s, "SET lock_timeout = '5s'; SET synchronous_commit = on; "
                     "SET client_encoding = 'UTF8'; SET client_min_messages = warning");
}

/* Notices (a ROLLBACK with nothing to roll back) are not for the gateway's stderr. */
static void pg_quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static int pg_open(struct store *s, char *err, size_t errlen)
{
    const char *keys[] = {"connect_timeout", "application_name", "dbname", "password", NULL};
    const char *vals[] = {PG_CONNECT_TIMEOUT, "drawbridge", s->url, s->password, NULL};
    struct pg *p = calloc(1, sizeof(*p));
    int r;

    if (p == NULL) {
        return DB_ERR_NOMEM;
    }
    s->conn = p;
    if ((r = pg_where(s, s->url, err, errlen)) != 0) {
        return r;
    }
    if (s->password == NULL) {
        keys[3] = NULL; /* the URL's own, ~/.pgpass or PGPASSWORD */
    }
    p->c = PQconnectdbParams(keys, vals, 1);
    if (p->c == NULL) {
        return DB_ERR_NOMEM;
    }
    if (PQstatus(p->c) != CONNECTION_OK) {
        char line[400];

        pg_msg_line(PQerrorMessage(p->c), line, sizeof(line));
        db_errf(err, errlen, "store.url: cannot connect to %s: %s", s->where, line);
        return DB_ERR_UNAVAIL;
    }
    PQsetNoticeProcessor(p->c, pg_quiet, NULL);
    if ((r = pg_session_settings(s)) != 0) {
        db_errf(err, errlen, "store.url: %s: %s", s->where, s->msg);
        return r;
    }
    return 0;
}

static void pg_close(struct store *s)
{
    struct pg *p = pg_of(s);

    PQfinish(p->c);
    free(p);
    s->conn = NULL;
}

/*
 * Outside a transaction: notices a connection the server closed while it
 * was idle (a restart, a failover, an idle timeout) and opens it again, so
 * that the statement about to run does not fail for a reason that is over.
 */
static int pg_ensure(struct store *s)
{
    struct pg *p = pg_of(s);
    struct pollfd pf;

    if (s->in_tx) {
        return PQstatus(p->c) == CONNECTION_OK ? 0 : DB_ERR_UNAVAIL;
    }
    /*
     * Readable while idle: a notice, or the server going away (its goodbye,
     * then the end of the stream, which libpq sees on a later read).
     */
    for (int i = 0; i < 4 && PQstatus(p->c) == CONNECTION_OK; i++) {
        pf.fd = PQsocket(p->c);
        pf.events = POLLIN;
        pf.revents = 0;
        if (pf.fd < 0 || poll(&pf, 1, 0) == 0) {
            return 0;
        }
        if (PQconsumeInput(p->c) != 1) {
            break;
        }
    }
    if (PQstatus(p->c) == CONNECTION_OK) {
        return 0; /* still talking after all that: let the statement find out */
    }
    PQreset(p->c);
    if (PQstatus(p->c) != CONNECTION_OK) {
        pg_msg_line(PQerrorMessage(p->c), s->msg, sizeof(s->msg));
        return DB_ERR_UNAVAIL;
    }
    return pg_session_settings(s);
}

static int pg_schema_lock(struct store *s, char *err, size_t errlen)
{
    char sql[200];
    int r;

    snprintf(sql, sizeof(sql),
             "BEGIN; SELECT pg_advisory_xact_lock(%lld); "
             "CREATE TABLE IF NOT EXISTS drawbridge_schema (version INTEGER NOT NULL)",
             PG_LOCK_MIGRATE);
    if ((r = pg_ensure(s)) != 0 || (r = pg_run(s, sql)) != 0) {
        db_errf(err, errlen, "%s: %s", s->where, s->msg);
        pg_run(s, "ROLLBACK");
    }
    return r;
}

static int pg_schema_version(struct store *s, int *v, char *err, size_t errlen)
{
    PGresult *res = PQexec(pg_of(s)->c, "SELECT version FROM drawbridge_schema");
    int r = 0;

    *v = 0;
    if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
        r = pg_fail(s, res);
        db_errf(err, errlen, "%s: cannot read the schema version: %s", s->where, s->msg);
    } else if (PQntuples(res) == 0) {
        r = pg_run(s, "INSERT INTO drawbridge_schema (version) VALUES (0)");
    } else {
        *v = atoi(PQgetvalue(res, 0, 0));
    }
    PQclear(res);
    return r;
}

static int pg_schema_set_version(struct store *s, int v, char *err, size_t errlen)
{
    char num[16];
    const char *vals[1] = {num};
    PGresult *res;
    int r = 0;

    snprintf(num, sizeof(num), "%d", v);
    res = PQexecParams(pg_of(s)->c, "UPDATE drawbridge_schema SET version = $1", 1, NULL, vals,
                       NULL, NULL, 0);
    if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
        r = pg_fail(s, res);
        db_errf(err, errlen, "%s: %s", s->where, s->msg);
    }
    PQclear(res);
    return r;
}

static int pg_exec_script(struct store *s, const char *sql, char *err, size_t errlen)
{
    int r = pg_run(s, sql);

    if (r != 0) {
        db_errf(err, errlen, "%s: %s", s->where, s->msg);
    }
    return r;
}

/* The SQL with $N, kept for PQexecParams (which parses it on each run). */
static int pg_q_prepare(struct store *s, struct store_q *q, const char *sql, char *err,
                        size_t errlen)
{
    (void)s;
    if ((q->prep = pg_translate(sql, &q->nparams)) == NULL) {
        return DB_ERR_NOMEM;
    }
    if (q->nparams > STORE_PARAMS_MAX) {
        db_errf(err, errlen, "statement %d: too many parameters", (int)q->id);
        return DB_ERR_INTERNAL;
    }
    return 0;
}

static void pg_q_finalize(struct store_q *q)
{
    PQclear(q->res);
    q->res = NULL;
    free(q->prep);
    q->prep = NULL;
}

static int pg_tx(struct store *s, enum store_tx_op op)
{
    char sql[96];
    PGresult *res = NULL;
    int r;

    switch (op) {
    case STORE_TX_BEGIN:
        if ((r = pg_ensure(s)) != 0) {
            return r;
        }
        snprintf(sql, sizeof(sql), "BEGIN; SELECT pg_advisory_xact_lock(%lld)", PG_LOCK_WRITE);
        if ((r = pg_run(s, sql)) != 0) {
            pg_run(s, "ROLLBACK");
        }
        return r;
    case STORE_TX_COMMIT:
        res = PQexec(pg_of(s)->c, "COMMIT");
        if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
            r = pg_fail(s, res);
        } else if (strcmp(PQcmdStatus(res), "COMMIT") != 0) {
            /* an earlier statement failed: the server rolled everything back */
            snprintf(s->msg, sizeof(s->msg), "the transaction was rolled back");
            r = DB_ERR_CONFLICT;
        } else {
            r = 0;
        }
        PQclear(res);
        return r;
    case STORE_TX_ROLLBACK:
        return PQstatus(pg_of(s)->c) == CONNECTION_OK ? pg_run(s, "ROLLBACK") : 0;
    }
    return DB_ERR_INTERNAL;
}

static int pg_execute(struct store_q *q)
{
    struct store *s = q->s;
    struct pg *p = pg_of(s);
    const char *vals[STORE_PARAMS_MAX];
    char nums[STORE_PARAMS_MAX][32];
    char *copies[STORE_PARAMS_MAX];
    int n = q->nparams, r;
    PGresult *res;

    if ((r = pg_ensure(s)) != 0) {
        return r;
    }
    memset(copies, 0, sizeof(copies));
    for (int i = 0; i < n; i++) {
        const struct store_val *v = &q->p[i];

        vals[i] = NULL;
        if (i >= q->np) {
            continue; /* never bound: NULL, as in SQLite */
        }
        switch (v->type) {
        case STORE_VAL_NULL:
            break;
        case STORE_VAL_INT:
            snprintf(nums[i], sizeof(nums[i]), "%lld", v->i);
            vals[i] = nums[i];
            break;
        case STORE_VAL_DOUBLE:
            snprintf(nums[i], sizeof(nums[i]), "%.17g", v->d);
            vals[i] = nums[i];
            break;
        case STORE_VAL_TEXT:
            /* text ends at a NUL, as SQLite's reads it back (PostgreSQL cannot hold one) */
            if ((copies[i] = strndup(v->t, v->len)) == NULL) {
                r = DB_ERR_NOMEM;
                goto out;
            }
            vals[i] = copies[i];
            break;
        }
    }
    res = PQexecParams(p->c, q->prep, n, NULL, vals, NULL, NULL, 0);
    if (PQstatus(p->c) == CONNECTION_BAD && !s->in_tx && strncmp(q->prep, "SELECT", 6) == 0) {
        /* a read outside a transaction on a connection that was gone: once more, anew */
        PQclear(res);
        res = NULL;
        if (pg_ensure(s) == 0) {
            res = PQexecParams(p->c, q->prep, n, NULL, vals, NULL, NULL, 0);
        }
    }
    if (res == NULL ||
        (PQresultStatus(res) != PGRES_TUPLES_OK && PQresultStatus(res) != PGRES_COMMAND_OK)) {
        r = pg_fail(s, res);
        PQclear(res);
        goto out;
    }
    q->res = res;
    q->row = -1;
    q->nrows = PQntuples(res);
    q->changes = atoll(PQcmdTuples(res));
    r = 0;
out:
    for (int i = 0; i < n; i++) {
        free(copies[i]);
    }
    return r;
}

static int pg_step(struct store_q *q)
{
    int r;

    if (!q->running) {
        q->running = 1;
        if ((r = pg_execute(q)) != 0) {
            return r;
        }
    }
    if (q->res == NULL) {
        return DB_ERR_INTERNAL;
    }
    if (q->row + 1 < q->nrows) {
        q->row++;
        return 1;
    }
    q->row = q->nrows;
    return 0;
}

static void pg_reset(struct store_q *q)
{
    PQclear(q->res);
    q->res = NULL;
    q->row = q->nrows = 0;
}

static int pg_col_null(struct store_q *q, int col)
{
    return PQgetisnull(q->res, q->row, col);
}

static long long pg_col_int(struct store_q *q, int col)
{
    return PQgetisnull(q->res, q->row, col) ? 0
                                            : strtoll(PQgetvalue(q->res, q->row, col), NULL, 10);
}

static double pg_col_double(struct store_q *q, int col)
{
    return PQgetisnull(q->res, q->row, col) ? 0.0 : strtod(PQgetvalue(q->res, q->row, col), NULL);
}

static const char *pg_col_text(struct store_q *q, int col, size_t *len)
{
    if (PQgetisnull(q->res, q->row, col)) {
        if (len != NULL) {
            *len = 0;
        }
        return NULL;
    }
    if (len != NULL) {
        *len = (size_t)PQgetlength(q->res, q->row, col);
    }
    return PQgetvalue(q->res, q->row, col);
}

const struct store_backend store_backend_postgres = {
    .name = "postgresql",
    .dialect = STORE_POSTGRES,
    .open = pg_open,
    .close = pg_close,
    .schema_lock = pg_schema_lock,
    .schema_version = pg_schema_version,
    .schema_set_version = pg_schema_set_version,
    .exec_script = pg_exec_script,
    .q_prepare = pg_q_prepare,
    .q_finalize = pg_q_finalize,
    .tx = pg_tx,
    .step = pg_step,
    .reset = pg_reset,
    .col_null = pg_col_null,
    .col_int = pg_col_int,
    .col_double = pg_col_double,
    .col_text = pg_col_text,
};

/* ---- LISTEN: the listener hears what other gateways changed ---- */

struct store_watch {
    PGconn *c;
};

int store_watch_open(struct store *s, struct store_watch **out, char *err, size_t errlen)
{
    const char *keys[] = {"connect_timeout", "application_name", "dbname", "password", NULL};
    const char *vals[] = {PG_CONNECT_TIMEOUT, "drawbridge-listen", s->url, s->password, NULL};
    struct store_watch *w = NULL;
    PGresult *res = NULL;
    int r = DB_ERR_UNAVAIL;

    *out = NULL;
    if (s->be != &store_backend_postgres) {
        return 0; /* one SQLite store: nothing is changed elsewhere */
    }
    if ((w = calloc(1, sizeof(*w))) == NULL) {
        return DB_ERR_NOMEM;
    }
    if (s->password == NULL) {
        keys[3] = NULL;
    }
    w->c = PQconnectdbParams(keys, vals, 1);
    if (w->c == NULL || PQstatus(w->c) != CONNECTION_OK) {
        char line[300];

        pg_msg_line(w->c != NULL ? PQerrorMessage(w->c) : "out of memory", line, sizeof(line));
        db_errf(err, errlen, "store.url: %s: LISTEN: %s", s->where, line);
        goto out;
    }
    PQsetNoticeProcessor(w->c, pg_quiet, NULL);
    res = PQexec(w->c, "LISTEN drawbridge");
    if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
        char line[300];

        pg_msg_line(PQerrorMessage(w->c), line, sizeof(line));
        db_errf(err, errlen, "store.url: %s: LISTEN: %s", s->where, line);
        goto out;
    }
    if (PQsetnonblocking(w->c, 1) != 0) {
        db_errf(err, errlen, "store.url: %s: LISTEN: cannot go non-blocking", s->where);
        goto out;
    }
    *out = w;
    w = NULL;
    r = 0;
out:
    PQclear(res);
    store_watch_close(w);
    return r;
}

int store_watch_fd(const struct store_watch *w)
{
    return w != NULL ? PQsocket(w->c) : -1;
}

int store_watch_read(struct store_watch *w, void (*fn)(void *ctx, const char *payload), void *ctx)
{
    PGnotify *n;

    if (w == NULL) {
        return 0;
    }
    if (PQconsumeInput(w->c) != 1 || PQstatus(w->c) != CONNECTION_OK) {
        return DB_ERR_UNAVAIL; /* the caller reopens, and assumes it missed something */
    }
    while ((n = PQnotifies(w->c)) != NULL) {
        fn(ctx, n->extra != NULL ? n->extra : "");
        PQfreemem(n);
    }
    return 0;
}

void store_watch_forked(struct store_watch *w)
{
    /*
     * A forked child must never speak on the parent's connection (PQfinish
     * would send the server a goodbye on the shared socket): it only drops
     * its copy of the descriptor.
     */
    if (w != NULL && PQsocket(w->c) >= 0) {
        close(PQsocket(w->c));
    }
}

void store_watch_close(struct store_watch *w)
{
    if (w == NULL) {
        return;
    }
    PQfinish(w->c);
    free(w);
}

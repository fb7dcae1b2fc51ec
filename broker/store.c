/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store: every durable fact of the broker in one SQLite database,
 * state_dir/drawbridge.db.  This is the only file that includes sqlite3.h.
 *
 * Habits, all of them on purpose:
 *  - WAL mode, synchronous=FULL (a decision told to a user survives a power
 *    cut), a 5 s busy timeout, foreign keys on.  Many processes (the
 *    listener and one child per connection) share the file; each opens its
 *    own handle after fork.
 *  - The schema is a list of migrations; PRAGMA user_version says how many
 *    have run.  Each runs in its own BEGIN IMMEDIATE, so two processes
 *    starting together cannot both apply one.
 *  - Every statement is prepared once per handle from a constant table and
 *    used as bind -> step -> reset -> clear_bindings.  No SQL is ever built
 *    from strings.
 *  - Writes that belong together run between store_begin (BEGIN IMMEDIATE:
 *    the write lock is taken before anything is read, so check-then-write is
 *    race-free across processes) and store_commit.  Audit rows join the
 *    caller's transaction; after COMMIT the head anchor is moved (audit.c).
 *
 * Row-level functions live in store-rows.c, which reaches the statements
 * through store-int.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <sqlite3.h>

#include "broker.h"
#include "store-int.h"

#define STORE_BUSY_MS 5000

/* Migration N (1-based) brings user_version from N-1 to N.  Append only. */
static const char *const store_migrations[] = {
    /* 1: the initial schema */
    "CREATE TABLE users ("
    "  name TEXT PRIMARY KEY, dn TEXT NOT NULL DEFAULT '',"
    "  first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL);"
    "CREATE TABLE requests ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  requester TEXT NOT NULL, target TEXT NOT NULL, login TEXT NOT NULL,"
    "  rule TEXT NOT NULL, duration INTEGER NOT NULL CHECK (duration > 0),"
    "  reason TEXT NOT NULL, ticket TEXT NOT NULL DEFAULT '',"
    "  status TEXT NOT NULL CHECK (status IN"
    "    ('pending','approved','denied','cancelled','expired')),"
    "  created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,"
    "  decided_at INTEGER NOT NULL DEFAULT 0, decided_by TEXT NOT NULL DEFAULT '',"
    "  approvals_needed INTEGER NOT NULL, breakglass INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX requests_status ON requests(status, expires_at);"
    "CREATE INDEX requests_requester ON requests(requester, status);"
    "CREATE TABLE decisions ("
    "  request_id INTEGER NOT NULL REFERENCES requests(id),"
    "  approver TEXT NOT NULL,"
    "  decision TEXT NOT NULL CHECK (decision IN ('approve','deny')),"
    "  comment TEXT NOT NULL DEFAULT '', at INTEGER NOT NULL,"
    "  PRIMARY KEY (request_id, approver));"
    "CREATE TABLE grants ("
    "  id INTEGER PRIMARY KEY REFERENCES requests(id),"
    "  user TEXT NOT NULL, target TEXT NOT NULL, login TEXT NOT NULL, rule TEXT NOT NULL,"
    "  starts_at INTEGER NOT NULL, ends_at INTEGER NOT NULL CHECK (ends_at > starts_at),"
    "  status TEXT NOT NULL CHECK (status IN ('active','revoked','expired')),"
    "  revoked_by TEXT NOT NULL DEFAULT '', revoke_reason TEXT NOT NULL DEFAULT '',"
    "  revoked_at INTEGER NOT NULL DEFAULT 0,"
    "  breakglass INTEGER NOT NULL DEFAULT 0, review_required INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX grants_live ON grants(user, target, login, status, ends_at);"
    "CREATE INDEX grants_status ON grants(status, ends_at);"
    "CREATE TABLE sessions ("
    "  id TEXT PRIMARY KEY, user TEXT NOT NULL, target TEXT NOT NULL DEFAULT '',"
    "  login TEXT NOT NULL DEFAULT '', grant_id INTEGER REFERENCES grants(id),"
    "  kind TEXT NOT NULL, command TEXT, started_at INTEGER NOT NULL,"
    "  ended_at INTEGER NOT NULL DEFAULT 0, exit_status INTEGER NOT NULL DEFAULT -1,"
    "  recording_path TEXT, sha256 TEXT NOT NULL DEFAULT '', hmac TEXT NOT NULL DEFAULT '',"
    "  review_required INTEGER NOT NULL DEFAULT 0, reviewed_by TEXT NOT NULL DEFAULT '',"
    "  reviewed_at INTEGER NOT NULL DEFAULT 0, review_note TEXT);"
    "CREATE INDEX sessions_started ON sessions(started_at);"
    "CREATE INDEX sessions_live ON sessions(ended_at, started_at);"
    "CREATE TABLE audit ("
    "  seq INTEGER PRIMARY KEY, time INTEGER NOT NULL, actor TEXT NOT NULL,"
    "  event TEXT NOT NULL, object TEXT NOT NULL, details TEXT NOT NULL,"
    "  prev_hash TEXT NOT NULL, hash TEXT NOT NULL);"
    "CREATE INDEX audit_time ON audit(time);"
    "PRAGMA user_version = 1;",
    /* 2: recordings: terminate requests, flags for review, the text index */
    "ALTER TABLE sessions ADD COLUMN terminate_by TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE sessions ADD COLUMN terminate_reason TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE sessions ADD COLUMN terminate_at INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE sessions ADD COLUMN bytes_in INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE sessions ADD COLUMN bytes_out INTEGER NOT NULL DEFAULT 0;"
    "CREATE VIRTUAL TABLE session_text USING fts5(line, session UNINDEXED, stream UNINDEXED,"
    "  ts UNINDEXED, tokenize = 'trigram');"
    "PRAGMA user_version = 2;",
    /* 3: the process serving a session, so that the sessions of a process that died can be ended */
    ("ALTER TABLE sessions ADD COLUMN pid INTEGER NOT NULL DEFAULT 0;"
     "PRAGMA user_version = 3;"),
};

/* Indexed by enum store_stmt_id (store-int.h); the order must match. */
static const char *const store_sql[STORE_STMT_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_AUDIT_LAST] = "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
    [ST_AUDIT_INSERT] = "INSERT INTO audit (seq, time, actor, event, object, details, "
                        "prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [ST_AUDIT_HASH_AT] = "SELECT hash FROM audit WHERE seq = ?1",
    [ST_AUDIT_SINCE] = "SELECT seq, time, actor, event, object, details, prev_hash, hash "
                       "FROM audit WHERE time >= ?1 ORDER BY seq",
    [ST_USER_SEEN] = "INSERT INTO users (name, dn, first_seen, last_seen) VALUES (?1, ?2, ?3, "
                     "?3) ON CONFLICT (name) DO UPDATE SET dn = excluded.dn, "
                     "last_seen = max(last_seen, excluded.last_seen)",
    [ST_REQ_INSERT] = "INSERT INTO requests (requester, target, login, rule, duration, reason, "
                      "ticket, status, created_at, expires_at, decided_at, decided_by, "
                      "approvals_needed, breakglass) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
                      "?9, ?10, ?11, ?12, ?13, ?14)",
    [ST_REQ_GET] = STORE_REQ_COLUMNS " WHERE r.id = ?1",
    [ST_REQ_SET_STATUS] = "UPDATE requests SET status = ?2, decided_at = ?3, decided_by = ?4 "
                          "WHERE id = ?1",
    [ST_REQ_LIST] = STORE_REQ_COLUMNS " WHERE (?1 IS NULL OR r.requester = ?1) AND (?2 = 0 OR "
                                      "(?2 & (CASE r.status WHEN 'pending' THEN 1 WHEN "
                                      "'approved' THEN 2 WHEN 'denied' THEN 4 WHEN 'cancelled' "
                                      "THEN 8 ELSE 16 END)) != 0) ORDER BY r.id DESC LIMIT ?3",
    [ST_REQ_COUNT_PENDING] = "SELECT count(*) FROM requests WHERE requester = ?1 AND "
                             "status = 'pending'",
    [ST_REQ_STALE] = "SELECT id FROM requests WHERE status = 'pending' AND expires_at <= ?1 "
                     "ORDER BY id",
    [ST_DEC_INSERT] = "INSERT INTO decisions (request_id, approver, decision, comment, at) "
                      "VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_DEC_LIST] = "SELECT request_id, approver, decision, comment, at FROM decisions "
                    "WHERE request_id = ?1 ORDER BY at, rowid",
    [ST_GRANT_INSERT] = "INSERT INTO grants (id, user, target, login, rule, starts_at, ends_at, "
                        "status, breakglass, review_required) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
                        "?7, ?8, ?9, ?10)",
    [ST_GRANT_GET] = STORE_GRANT_COLUMNS " WHERE id = ?1",
    [ST_GRANT_SET_STATUS] = "UPDATE grants SET status = ?2, revoked_at = ?3, revoked_by = ?4, "
                            "revoke_reason = ?5 WHERE id = ?1",
    [ST_GRANT_FIND_LIVE] = STORE_GRANT_COLUMNS " WHERE user = ?1 AND target = ?2 AND login = ?3 "
                                               "AND status = 'active' AND ends_at > ?4 AND "
                                               "starts_at <= ?4 ORDER BY ends_at DESC LIMIT 1",
    [ST_GRANT_LIST_LIVE] = STORE_GRANT_COLUMNS " WHERE status = 'active' AND ends_at > ?2 AND "
                                               "starts_at <= ?2 AND (?1 IS NULL OR user = ?1) "
                                               "ORDER BY id DESC LIMIT 1000",
    [ST_GRANT_STALE] = "SELECT id FROM grants WHERE status = 'active' AND ends_at <= ?1 "
                       "ORDER BY id",
    [ST_SESS_INSERT] = "INSERT INTO sessions (id, user, target, login, grant_id, kind, command, "
                       "started_at, recording_path, review_required, pid) VALUES (?1, ?2, ?3, "
                       "?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    [ST_SESS_END] = "UPDATE sessions SET ended_at = ?2, exit_status = ?3, sha256 = "
                    "coalesce(?4, sha256), hmac = coalesce(?5, hmac) WHERE id = ?1",
    [ST_SESS_SET_REC] = "UPDATE sessions SET recording_path = ?2 WHERE id = ?1",
    [ST_SESS_REVIEW] = "UPDATE sessions SET reviewed_by = ?2, reviewed_at = ?3, "
                       "review_note = ?4 WHERE id = ?1",
    [ST_SESS_GET] = STORE_SESS_COLUMNS " WHERE id = ?1",
    [ST_SESS_TERMINATE] = "UPDATE sessions SET terminate_by = ?2, terminate_reason = ?3, "
                          "terminate_at = ?4 WHERE id = ?1 AND ended_at = 0 AND terminate_at = 0",
    [ST_SESS_TERM_GET] = "SELECT terminate_at, terminate_by, terminate_reason FROM sessions "
                         "WHERE id = ?1",
    [ST_SESS_LIVE_PIDS] = "SELECT id, user, pid FROM sessions WHERE ended_at = 0 ORDER BY rowid",
    [ST_SESS_BYTES] = "UPDATE sessions SET bytes_in = ?2, bytes_out = ?3 WHERE id = ?1",
    [ST_TEXT_INSERT] = "INSERT INTO session_text (line, session, stream, ts) VALUES (?1, ?2, ?3, "
                       "?4)",
    [ST_TEXT_SEARCH] = "SELECT session, stream, ts, line FROM session_text WHERE session_text "
                       "MATCH ?1 ORDER BY session, ts LIMIT ?2",
    [ST_SESS_LIST] = STORE_SESS_COLUMNS " WHERE (?1 = 0 OR ended_at = 0) AND (?2 = 0 OR "
                                        "(review_required != 0 AND reviewed_at = 0)) AND "
                                        "(?3 IS NULL OR user = ?3) AND (?4 IS NULL OR target = "
                                        "?4) ORDER BY started_at DESC, rowid DESC LIMIT ?5",
};

int store_rc(int rc)
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

void store_done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

int store_step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);

    store_done(st);
    return rc == SQLITE_DONE ? 0 : store_rc(rc);
}

static int store_exec_static(struct store *s, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);

    if (rc != SQLITE_OK) {
        db_errf(err, errlen, "%s: %s", s->db_path, msg != NULL ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return store_rc(rc) != 0 ? store_rc(rc) : DB_ERR_INTERNAL;
    }
    return 0;
}

static int store_user_version(struct store *s, int *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL);

    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        *out = sqlite3_column_int(st, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return store_rc(rc);
}

static int store_migrate(struct store *s, char *err, size_t errlen)
{
    const int nmig = (int)(sizeof(store_migrations) / sizeof(store_migrations[0]));
    int v = 0, r;

    for (;;) {
        if ((r = store_exec_static(s, "BEGIN IMMEDIATE", err, errlen)) != 0) {
            return r;
        }
        if ((r = store_user_version(s, &v)) != 0) {
            db_errf(err, errlen, "%s: cannot read the schema version", s->db_path);
            goto fail;
        }
        if (v > nmig) {
            db_errf(err, errlen, "%s: schema version %d is newer than this drawbridge (%d)",
                    s->db_path, v, nmig);
            r = DB_ERR_INVALID;
            goto fail;
        }
        if (v == nmig) {
            return store_exec_static(s, "COMMIT", err, errlen);
        }
        if ((r = store_exec_static(s, store_migrations[v], err, errlen)) != 0 ||
            (r = store_exec_static(s, "COMMIT", err, errlen)) != 0) {
            goto fail;
        }
    }
fail:
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return r;
}

static int store_read_key(struct store *s, const char *state_dir, char *err, size_t errlen)
{
    char path[4096];
    unsigned char extra;
    int fd;
    ssize_t n;

    snprintf(path, sizeof(path), "%s/keys/recording.hmac", state_dir);
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

static int store_prepare_all(struct store *s, char *err, size_t errlen)
{
    for (int i = 0; i < STORE_STMT_COUNT; i++) {
        int rc = sqlite3_prepare_v3(s->db, store_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[i],
                                    NULL);
        if (rc != SQLITE_OK) {
            db_errf(err, errlen, "%s: statement %d: %s", s->db_path, i, sqlite3_errmsg(s->db));
            return DB_ERR_INTERNAL;
        }
    }
    return 0;
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
        db_errf(err, errlen, "%s: cannot read the audit chain", s->db_path);
        return r;
    }
    if (last != 0) {
        return 0; /* rows but no anchor: leave the evidence for verify */
    }
    memset(&h, 0, sizeof(h));
    memset(h.hash, '0', AUDIT_HASH_HEX);
    return audit_head_write(s->head_path, s->key, &h, err, errlen);
}

int store_open(const char *state_dir, struct store **out, char *err, size_t errlen)
{
    struct store *s = NULL;
    int r = DB_ERR_INTERNAL, rc;

    *out = NULL;
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return DB_ERR_NOMEM;
    }
    snprintf(s->db_path, sizeof(s->db_path), "%s/drawbridge.db", state_dir);
    snprintf(s->head_path, sizeof(s->head_path), "%s/audit.head", state_dir);
    snprintf(s->lock_path, sizeof(s->lock_path), "%s/audit.head.lock", state_dir);
    if ((r = store_read_key(s, state_dir, err, errlen)) != 0) {
        goto out;
    }
    rc = sqlite3_open_v2(s->db_path, &s->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        db_errf(err, errlen, "%s: %s", s->db_path, s->db ? sqlite3_errmsg(s->db) : "cannot open");
        r = DB_ERR_IO;
        goto out;
    }
    sqlite3_busy_timeout(s->db, STORE_BUSY_MS);
    sqlite3_extended_result_codes(s->db, 1);
    if ((r = store_exec_static(s, "PRAGMA journal_mode = WAL", err, errlen)) != 0 ||
        (r = store_exec_static(s, "PRAGMA synchronous = FULL", err, errlen)) != 0 ||
        (r = store_exec_static(s, "PRAGMA foreign_keys = ON", err, errlen)) != 0 ||
        (r = store_migrate(s, err, errlen)) != 0 || (r = store_prepare_all(s, err, errlen)) != 0 ||
        (r = store_anchor_init(s, err, errlen)) != 0) {
        goto out;
    }
    *out = s;
    s = NULL;
    r = 0;
out:
    store_close(s);
    return r;
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
        sqlite3_finalize(s->stmt[i]);
    }
    sqlite3_close(s->db);
    db_wipe(s->key, sizeof(s->key));
    free(s);
}

/* ---- transactions ---- */

int store_begin(struct store *s)
{
    int r;

    if (s->in_tx) {
        return DB_ERR_INTERNAL;
    }
    if ((r = store_step_done(s->stmt[ST_BEGIN])) != 0) {
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
        sqlite3_reset(s->stmt[i]);
    }
    store_step_done(s->stmt[ST_ROLLBACK]);
    s->in_tx = 0;
    s->tx_audit_seq = 0;
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
    if ((r = store_step_done(s->stmt[ST_COMMIT])) != 0) {
        db_errf(err, errlen, "the store could not commit: %s", sqlite3_errmsg(s->db));
        store_rollback(s);
        return r;
    }
    s->in_tx = 0;
    if (s->tx_audit_seq > 0) {
        store_anchor_advance(s, s->tx_audit_seq, s->tx_audit_hash);
    }
    s->tx_audit_seq = 0;
    return 0;
}

/* ---- the audit chain ---- */

int store_audit_last(struct store *s, long long *seq, char hash[AUDIT_HASH_HEX + 1])
{
    sqlite3_stmt *st = s->stmt[ST_AUDIT_LAST];
    int rc = sqlite3_step(st), r = 0;

    *seq = 0;
    memset(hash, '0', AUDIT_HASH_HEX);
    hash[AUDIT_HASH_HEX] = '\0';
    if (rc == SQLITE_ROW) {
        *seq = sqlite3_column_int64(st, 0);
        store_col_copy(st, 1, hash, AUDIT_HASH_HEX + 1);
    } else if (rc != SQLITE_DONE) {
        r = store_rc(rc);
    }
    store_done(st);
    return r;
}

int store_audit_hash_at(struct store *s, long long seq, char hash[AUDIT_HASH_HEX + 1])
{
    sqlite3_stmt *st = s->stmt[ST_AUDIT_HASH_AT];
    int rc, r = DB_ERR_NOTFOUND;

    hash[0] = '\0';
    sqlite3_bind_int64(st, 1, seq);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        store_col_copy(st, 0, hash, AUDIT_HASH_HEX + 1);
        r = 0;
    } else if (rc != SQLITE_DONE) {
        r = store_rc(rc);
    }
    store_done(st);
    return r;
}

static int store_audit_insert(struct store *s, long long now, const char *actor, const char *event,
                              const char *object, const char *details, long long *seq_out)
{
    sqlite3_stmt *st = s->stmt[ST_AUDIT_INSERT];
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
    sqlite3_bind_int64(st, 1, row.seq);
    sqlite3_bind_int64(st, 2, row.time);
    sqlite3_bind_text(st, 3, row.actor, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, row.event, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, row.object, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, row.details, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, row.prev_hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, row.hash, -1, SQLITE_STATIC);
    if ((r = store_step_done(st)) != 0) {
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

int store_audit_foreach(struct store *s, long long since,
                        int (*fn)(void *ctx, const struct audit_row *row), void *ctx)
{
    sqlite3_stmt *st = s->stmt[ST_AUDIT_SINCE];
    struct audit_row row;
    int rc, r = 0;

    sqlite3_bind_int64(st, 1, since != 0 ? since : INT64_MIN);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        memset(&row, 0, sizeof(row));
        row.seq = sqlite3_column_int64(st, 0);
        row.time = sqlite3_column_int64(st, 1);
        row.actor = (const char *)sqlite3_column_text(st, 2);
        row.event = (const char *)sqlite3_column_text(st, 3);
        row.object = (const char *)sqlite3_column_text(st, 4);
        row.details = (const char *)sqlite3_column_text(st, 5);
        store_col_copy(st, 6, row.prev_hash, sizeof(row.prev_hash));
        store_col_copy(st, 7, row.hash, sizeof(row.hash));
        if ((r = fn(ctx, &row)) != 0) {
            break;
        }
    }
    if (r == 0 && rc != SQLITE_DONE) {
        r = store_rc(rc) != 0 ? store_rc(rc) : DB_ERR_INTERNAL;
    }
    store_done(st);
    return r;
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

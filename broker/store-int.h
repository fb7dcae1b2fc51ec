/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to store.c and store-rows.c, the two files that talk to SQLite:
 * the handle, the prepared-statement table and a few helpers.  Nothing else
 * includes this header.
 */
#ifndef DRAWBRIDGE_STORE_INT_H
#define DRAWBRIDGE_STORE_INT_H

#include <sqlite3.h>

#include "broker.h"

enum store_stmt_id {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_AUDIT_LAST,
    ST_AUDIT_INSERT,
    ST_AUDIT_HASH_AT,
    ST_AUDIT_SINCE,
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
    STORE_STMT_COUNT
};

/* Column lists shared by the statements that read whole rows (see store_*_read). */
#define STORE_REQ_COLUMNS                                                                          \
    "SELECT r.id, r.requester, r.target, r.login, r.rule, r.duration, r.reason, r.ticket, "        \
    "r.status, r.created_at, r.expires_at, r.decided_at, r.decided_by, r.approvals_needed, "       \
    "r.breakglass, (SELECT count(*) FROM decisions d WHERE d.request_id = r.id AND "               \
    "d.decision = 'approve') FROM requests r"
#define STORE_GRANT_COLUMNS                                                                        \
    "SELECT id, user, target, login, rule, starts_at, ends_at, status, revoked_by, "               \
    "revoke_reason, revoked_at, breakglass, review_required FROM grants"
#define STORE_SESS_COLUMNS                                                                         \
    "SELECT id, user, target, login, grant_id, kind, command, started_at, ended_at, "              \
    "exit_status, recording_path, sha256, hmac, review_required, reviewed_by, reviewed_at, "       \
    "review_note, bytes_in, bytes_out, pid FROM sessions"

struct store {
    sqlite3 *db;
    sqlite3_stmt *stmt[STORE_STMT_COUNT];
    char db_path[4200];
    char head_path[4200];
    char lock_path[4200];
    unsigned char key[32]; /* the anchor's HMAC key */
    int in_tx;
    long long tx_audit_seq; /* last audit row added in the open transaction, 0: none */
    char tx_audit_hash[AUDIT_HASH_HEX + 1];
};

/* SQLite result code to DB_ERR_* (0 for OK/ROW/DONE). */
int store_rc(int rc);
/* reset + clear_bindings. */
void store_done(sqlite3_stmt *st);
/* step a statement that returns no rows, then store_done. */
int store_step_done(sqlite3_stmt *st);
/* Copies a text column into a fixed buffer ("" for NULL); DB_ERR_INVALID if cut. */
int store_col_copy(sqlite3_stmt *st, int col, char *dst, size_t dstlen);

int store_audit_last(struct store *s, long long *seq, char hash[AUDIT_HASH_HEX + 1]);
int store_audit_hash_at(struct store *s, long long seq, char hash[AUDIT_HASH_HEX + 1]);

#endif

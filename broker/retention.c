/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Retention: recordings older than recordings.retain and audit rows older
 * than audit.retain leave the gateway, without ever making `verify` say
 * "missing".  The listener runs retention_run in a process of its own at
 * start and every hour.
 *
 * Recordings.  A session whose recording ended more than recordings.retain
 * ago, and that is not waiting for a review, expires in this order:
 *
 *   1. one transaction: the audit row "recording.expire" (object "session
 *      ID", details: path, ended_at, retain, sha256) and expired_at on the
 *      session's row -- both or neither;
 *   2. the file is removed (and its day's folders when empty);
 *   3. expire_done is set on the row.
 *
 * A crash or a failure between 1 and 3 leaves a row with expired_at and
 * without expire_done: the next run finds it and finishes step 2 and 3.  A
 * full disk fails step 1, and then nothing at all is deleted.  Sessions
 * under a pending review are never expired; `drawbridge check` says when
 * one has waited longer than recordings.retain (retention_lint).
 *
 * Audit rows.  When rows are older than audit.retain (never shorter than
 * recordings.retain, so a recording's rows outlive it), the chain is first
 * verified, then every row up to the newest old one is written to a sealed
 * archive file (archive.c), and then, in one transaction, an "audit.archive"
 * row {"through", "last_hash", "file", "sha256", "rows"} is appended and
 * the archived rows deleted, with the rows of sessions whose recording
 * expired before that time.  The verifier accepts a chain that starts after
 * row 1 only with the audit.archive row that accounts for what is missing.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "broker.h"
#include "recording.h"

#define RETENTION_BATCH 200

static int retention_key(const struct config *c, unsigned char key[REC_KEY_LEN], char *err,
                         size_t errlen)
{
    char path[4200];
    ssize_t n;
    int fd;

    keys_path(c, "recording.hmac", path, sizeof(path));
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    n = fd >= 0 ? read(fd, key, REC_KEY_LEN) : -1;
    if (fd >= 0) {
        close(fd);
    }
    if (n != REC_KEY_LEN) {
        db_errf(err, errlen, "%s: cannot read the recording key", path);
        return DB_ERR_IO;
    }
    return 0;
}

/*
 * Removes the file, then its day's folder when that is empty (never the
 * month's or the year's: the recorder may be making today's folder in them
 * right now).  ENOENT counts as done.
 */
static int retention_unlink(const struct config *c, const char *path)
{
    char top[4200], dir[4200];
    char *slash = NULL;

    if (unlink(path) != 0 && errno != ENOENT) {
        log_msg(LOG_LVL_ERROR, "retention.unlink", "%s: %s (the next run tries again)", path,
                strerror(errno));
        return DB_ERR_IO;
    }
    disk_recordings_dir(c, top, sizeof(top));
    snprintf(dir, sizeof(dir), "%s", path);
    if ((slash = strrchr(dir, '/')) != NULL) {
        *slash = '\0';
        if (strncmp(dir, top, strlen(top)) == 0 && strlen(dir) > strlen(top)) {
            rmdir(dir); /* fails while the day still holds recordings: that is fine */
        }
    }
    return 0;
}

/* Step 2 and 3 for rows whose step 1 is done: after a crash, or a file that could not go. */
static int retention_finish(const struct config *c, struct store *s, int *done)
{
    struct store_session *v = NULL;
    size_t n = 0;
    int r;

    do {
        if ((r = store_session_list_expire_pending(s, RETENTION_BATCH, &v, &n)) != 0) {
            return r;
        }
        for (size_t i = 0; i < n; i++) {
            if (v[i].recording_path != NULL && v[i].recording_path[0] != '\0' &&
                retention_unlink(c, v[i].recording_path) != 0) {
                store_sessions_free(v, n);
                return DB_ERR_IO;
            }
            if ((r = store_session_expire_done(s, v[i].id)) != 0) {
                store_sessions_free(v, n);
                return r;
            }
            (*done)++;
        }
        store_sessions_free(v, n);
        v = NULL;
    } while (n == RETENTION_BATCH);
    return 0;
}

/* Step 1 for one session: its audit row and its mark, in one transaction. */
static int retention_expire_one(const struct config *c, struct store *s,
                                const struct store_session *row, long long now)
{
    char err[256], object[64];
    json_t *d = NULL;
    int r;

    if ((r = store_begin(s)) != 0) {
        return r;
    }
    r = store_session_expire(s, row->id, now);
    if (r == DB_ERR_NOTFOUND) {
        store_rollback(s); /* another gateway expired it first */
        return 0;
    }
    snprintf(object, sizeof(object), "session %s", row->id);
    d = json_pack("{ss ss sI sI ss}", "reason", "expired by retention", "path", row->recording_path,
                  "ended_at", (json_int_t)row->ended_at, "retain", (json_int_t)c->recordings.retain,
                  "sha256", row->sha256);
    if (r == 0) {
        r = access_audit_event(s, now, "system", "recording.expire", object, d);
    }
    json_decref(d);
    if (r == 0) {
        r = store_commit(s, err, sizeof(err));
    } else {
        store_rollback(s);
    }
    return r;
}

static int retention_recordings(const struct config *c, struct store *s, long long now,
                                struct retention_stats *st)
{
    struct store_session *v = NULL;
    size_t n = 0;
    int r = 0;

    if (c->recordings.retain <= 0) {
        return 0;
    }
    do {
        r = store_session_list_expirable(s, now - c->recordings.retain, RETENTION_BATCH, &v, &n);
        for (size_t i = 0; r == 0 && i < n; i++) {
            if ((r = retention_expire_one(c, s, &v[i], now)) != 0) {
                log_msg(LOG_LVL_ERROR, "retention.failed",
                        "session %s: the audit row cannot be written (%s); nothing deleted",
                        v[i].id, db_strerror(r));
                break;
            }
            st->expired++;
            /* steps 2 and 3; a failure here is finished by the next run */
            if (retention_unlink(c, v[i].recording_path) == 0 &&
                store_session_expire_done(s, v[i].id) == 0) {
                st->removed++;
            }
        }
        store_sessions_free(v, n);
        v = NULL;
    } while (r == 0 && n == RETENTION_BATCH);
    if (st->expired > 0 && store_text_drop_expired(s) != 0) {
        log_msg(LOG_LVL_WARN, "retention.search", "the search text of expired sessions stays");
    }
    return r;
}

/* Archive files left by a run that wrote one but could not delete its rows: replaced. */
static void retention_drop_leftovers(const struct config *c, long long first)
{
    struct archive_entry *v = NULL;
    size_t n = 0;

    if (archive_list(c->audit.archive_dir, &v, &n) != 0) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (v[i].first >= first) {
            unlink(v[i].path);
        }
    }
    archive_list_free(v, n);
}

static int retention_first_row(void *ctx, const struct audit_row *row)
{
    *(long long *)ctx = row->seq;
    return 1;
}

static int retention_audit(const struct config *c, struct store *s, long long now,
                           struct retention_stats *st)
{
    unsigned char key[REC_KEY_LEN];
    struct archive_info info;
    char err[512] = "", path[4200], *base = NULL;
    long long through = 0, last = 0, first = 0, dropped = 0;
    char lasth[AUDIT_HASH_HEX + 1];
    json_t *d = NULL;
    int r;

    if (c->audit.retain <= 0) {
        return 0;
    }
    if ((r = store_audit_seq_before(s, now - c->audit.retain, &through)) != 0 ||
        (r = store_audit_last(s, &last, lasth)) != 0) {
        return r;
    }
    store_audit_foreach(s, 0, retention_first_row, &first);
    if (through >= last) {
        through = last - 1; /* the newest row stays: the chain goes on from it */
    }
    if (through < first) {
        return 0; /* nothing old enough */
    }
    /* a chain that does not verify stays where it is, as evidence */
    if ((r = store_audit_verify(s, NULL, err, sizeof(err))) != 0) {
        log_msg(LOG_LVL_ERROR, "retention.audit",
                "not archiving: the audit chain does not "
                "verify: %s",
                err);
        return r;
    }
    if ((r = retention_key(c, key, err, sizeof(err))) != 0) {
        log_msg(LOG_LVL_ERROR, "retention.audit", "%s", err);
        return r;
    }
    retention_drop_leftovers(c, first);
    r = archive_write(s, c->audit.archive_dir, key, through, &info, path, sizeof(path), err,
                      sizeof(err));
    db_wipe(key, sizeof(key));
    if (r != 0) {
        log_msg(LOG_LVL_ERROR, "retention.audit", "not archiving: %s", err);
        return r;
    }
    base = strrchr(path, '/');
    d = json_pack("{sI ss ss ss sI sI}", "through", (json_int_t)info.last, "last_hash",
                  info.last_hash, "file", base != NULL ? base + 1 : path, "sha256", info.sha256,
                  "first", (json_int_t)info.first, "rows",
                  (json_int_t)(info.last - info.first + 1));
    if ((r = store_begin(s)) == 0) {
        r = access_audit_event(s, now, "system", AUDIT_ARCHIVE_EVENT, "audit", d);
        if (r == 0) {
            r = store_audit_delete_through(s, info.last);
        }
        if (r == 0) {
            r = store_session_drop_expired(s, now - c->audit.retain, &dropped);
        }
        if (r == 0) {
            r = store_commit(s, err, sizeof(err));
        } else {
            store_rollback(s);
        }
    }
    json_decref(d);
    if (r != 0) {
        log_msg(LOG_LVL_ERROR, "retention.audit",
                "rows %lld-%lld are archived in %s but stay "
                "in the store: %s",
                info.first, info.last, path, db_strerror(r));
        return r;
    }
    st->archived = info.last - info.first + 1;
    st->sessions_dropped = dropped;
    log_msg(LOG_LVL_INFO, "retention.archived", "audit rows %lld-%lld archived to %s", info.first,
            info.last, path);
    return 0;
}

int retention_run(const struct config *c, long long now, struct retention_stats *st)
{
    struct store *s = NULL;
    char err[512] = "", d[32];
    int r, r2;

    memset(st, 0, sizeof(*st));
    if ((r = store_open_config(c, &s, err, sizeof(err))) != 0) {
        log_msg(LOG_LVL_ERROR, "retention.failed", "%s", err);
        return r;
    }
    if ((r = retention_finish(c, s, &st->finished)) != 0) {
        log_msg(LOG_LVL_WARN, "retention.pending", "expired recordings still on disk: %s",
                db_strerror(r));
    }
    r = retention_recordings(c, s, now, st);
    if (st->expired > 0 || st->finished > 0) {
        db_format_duration(c->recordings.retain, d, sizeof(d));
        log_msg(LOG_LVL_INFO, "retention.expired",
                "%d recording(s) older than %s expired, %d file(s) removed%s", st->expired, d,
                st->removed + st->finished,
                st->finished > 0 ? " (some of an earlier, interrupted run)" : "");
    }
    r2 = r == 0 ? retention_audit(c, s, now, st) : 0;
    store_close(s);
    return r != 0 ? r : r2;
}

/* A session waiting for review longer than retention allows: lint, at check and at start. */
int retention_lint(const struct config *c, long long now, char *err, size_t errlen)
{
    struct store_session *v = NULL;
    struct store *s = NULL;
    char path[4200], d1[32], d2[32], why[256];
    size_t n = 0;
    int r = 0;
    struct stat stt;

    if (c->recordings.retain <= 0) {
        return 0;
    }
    /* a SQLite store not made yet holds nothing that waits (and check must not create it) */
    snprintf(path, sizeof(path), "%s/drawbridge.db", c->state_dir);
    if ((c->store_url == NULL && stat(path, &stt) != 0) ||
        store_open_config(c, &s, why, sizeof(why)) != 0) {
        return 0;
    }
    if (store_session_list(s, 0, 1, NULL, NULL, (size_t)-1 / 2, &v, &n) == 0) {
        for (size_t i = 0; i < n; i++) {
            if (v[i].ended_at == 0 || v[i].ended_at >= now - c->recordings.retain) {
                continue;
            }
            db_format_duration(c->recordings.retain, d1, sizeof(d1));
            db_format_duration(now - v[i].ended_at, d2, sizeof(d2));
            db_errf(err, errlen,
                    "%s:%d: recordings.retain: %s is shorter than session %s (%s on %s) has "
                    "waited for its review (%s): review it, or keep recordings longer "
                    "(sessions awaiting review are never deleted)",
                    c->path, c->recordings.retain_line, d1, v[i].id, v[i].user,
                    v[i].target[0] ? v[i].target : "-", d2);
            r = DB_ERR_INVALID;
            break;
        }
    }
    store_sessions_free(v, n);
    store_close(s);
    return r;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Back-ends of the operator commands `drawbridge audit`, `verify` and
 * `access-report`: each opens the store under state_dir, writes its report
 * to the stream it is given and its problems to stderr, and returns 0 or a
 * negative DB_ERR_* for main.c to turn into an exit status.  Unlike the rest
 * of the broker's library code these read the clock: they are the CLI.
 *
 * Anything printed that came from the store is passed through admin_safe so
 * that a hostile name in the audit (a failed login can carry any bytes)
 * cannot drive the operator's terminal.
 */
#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "broker.h"
#include "recording.h"

static int admin_open(const struct config *c, struct store **s)
{
    char err[512] = "";
    int rc = store_open_config(c, s, err, sizeof(err));

    if (rc != 0) {
        fprintf(stderr, "drawbridge: %s\n", err);
    }
    return rc;
}

static void admin_time(long long t, char *buf, size_t buflen)
{
    struct tm tm;
    time_t tt = (time_t)t;

    if (gmtime_r(&tt, &tm) == NULL || strftime(buf, buflen, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
        snprintf(buf, buflen, "%lld", t);
    }
}

/* Printable ASCII kept; every other byte shown as '?'. */
static void admin_safe(FILE *out, const char *s)
{
    for (; s != NULL && *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;
        fputc(ch >= 0x20 && ch < 0x7f ? ch : '?', out);
    }
}

/*
 * --since: unix seconds, YYYY-MM-DD (UTC midnight), YYYY-MM-DDTHH:MM:SSZ, or
 * a DURATION meaning that long before now.
 */
static int admin_parse_since(const char *s, long long now, long long *out)
{
    struct tm tm;
    const char *end = NULL;
    long long d = 0;
    size_t i = 0;

    *out = 0;
    if (s == NULL) {
        return 0;
    }
    while (s[i] >= '0' && s[i] <= '9') {
        i++;
    }
    if (i > 0 && i <= 12 && s[i] == '\0') {
        *out = strtoll(s, NULL, 10);
        return 0;
    }
    memset(&tm, 0, sizeof(tm));
    end = strptime(s, "%Y-%m-%d", &tm);
    if (end != NULL && *end == 'T') {
        end = strptime(end + 1, "%H:%M:%S", &tm);
        if (end == NULL || *end != 'Z') {
            return DB_ERR_USAGE;
        }
        end++;
    }
    if (end != NULL && *end == '\0') {
        *out = (long long)timegm(&tm);
        return 0;
    }
    if (db_parse_duration(s, &d) == 0) {
        *out = now - d;
        return 0;
    }
    return DB_ERR_USAGE;
}

struct admin_audit_ctx {
    FILE *out;
    int json;
};

/* A JSON string of whatever the store holds: bytes that are not UTF-8 become '?'. */
static json_t *admin_json_str(const char *s)
{
    size_t len = s != NULL ? strlen(s) : 0;
    char *copy = NULL;
    json_t *j = NULL;

    if (db_utf8_valid(s != NULL ? s : "", len)) {
        return json_stringn(s != NULL ? s : "", len);
    }
    if ((copy = strdup(s)) == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)copy[i] >= 0x80) {
            copy[i] = '?';
        }
    }
    j = json_stringn(copy, len);
    free(copy);
    return j;
}

static int admin_audit_row(void *ctx, const struct audit_row *row)
{
    struct admin_audit_ctx *c = ctx;
    char when[32];
    json_t *o = NULL, *details = NULL;
    char *line = NULL;

    if (c->json) {
        /* details is JSON text written by us; if someone put something else there, show it
         * as a string rather than drop it (verify is what judges it). */
        details = json_loads(row->details != NULL ? row->details : "{}", 0, NULL);
        o = json_pack("{sI sI so so so so ss ss}", "seq", (json_int_t)row->seq, "time",
                      (json_int_t)row->time, "actor", admin_json_str(row->actor), "event",
                      admin_json_str(row->event), "object", admin_json_str(row->object), "details",
                      details != NULL ? details : admin_json_str(row->details), "prev_hash",
                      row->prev_hash, "hash", row->hash);
        line = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER)
                         : NULL;
        json_decref(o);
        if (line == NULL) {
            return DB_ERR_NOMEM;
        }
        fprintf(c->out, "%s\n", line);
        free(line);
        return 0;
    }
    admin_time(row->time, when, sizeof(when));
    fprintf(c->out, "%lld %s ", row->seq, when);
    admin_safe(c->out, row->actor);
    fputc(' ', c->out);
    admin_safe(c->out, row->event);
    fputs(" [", c->out);
    admin_safe(c->out, row->object);
    fputs("] ", c->out);
    admin_safe(c->out, row->details);
    fputc('\n', c->out);
    return 0;
}

int admin_audit(const struct config *c, int json, const char *since, FILE *out)
{
    struct admin_audit_ctx ctx;
    struct store *s = NULL;
    long long from = 0;
    int rc;

    if (admin_parse_since(since, (long long)time(NULL), &from) != 0) {
        fprintf(stderr, "drawbridge: --since: expected unix seconds, YYYY-MM-DD, "
                        "YYYY-MM-DDTHH:MM:SSZ or a duration such as 2h\n");
        return DB_ERR_USAGE;
    }
    if ((rc = admin_open(c, &s)) != 0) {
        return rc;
    }
    ctx.out = out;
    ctx.json = json;
    /* since 0 means "everything"; a --since of the epoch itself reads the same. */
    rc = store_audit_foreach(s, from, admin_audit_row, &ctx);
    if (rc != 0) {
        fprintf(stderr, "drawbridge: reading the audit chain: %s\n", db_strerror(rc));
    }
    store_close(s);
    return rc;
}

/* state_dir/keys/recording.hmac: exactly REC_KEY_LEN bytes. */
static int admin_recording_key(const struct config *c, unsigned char key[REC_KEY_LEN])
{
    char path[4096];
    ssize_t n;
    int fd;

    keys_path(c, "recording.hmac", path, sizeof(path));
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        fprintf(stderr, "drawbridge: %s: cannot read the recording key\n", path);
        return DB_ERR_IO;
    }
    n = read(fd, key, REC_KEY_LEN);
    close(fd);
    if (n != REC_KEY_LEN) {
        fprintf(stderr, "drawbridge: %s: cannot read the recording key\n", path);
        return DB_ERR_IO;
    }
    return 0;
}

/* What verify says of each session's recording; the order is the summary's. */
enum admin_rec {
    ADMIN_REC_OK,
    ADMIN_REC_TRUNCATED,
    ADMIN_REC_LIVE,
    ADMIN_REC_TAMPERED,
    ADMIN_REC_MISSING,
    ADMIN_REC_EXPIRED, /* removed by retention, as its audit row says */
    ADMIN_REC_NONE,  /* ended without a recording: refused before it started */
    ADMIN_REC_ERROR, /* the check itself could not run */
    ADMIN_REC_COUNT,
};

/*
 * One session: its file against the seal in its row (none while live or
 * when it never closed, and then the checkpoints decide).  A live session's
 * file is expected to end early: "live", unless something in it is wrong.
 */
/*
 * What the audit chain says about retention: the sessions whose recording
 * it records as expired ("recording.expire" rows), and where the chain
 * starts (rows before it were archived, with the expiries among them).
 */
struct admin_expired {
    char (*ids)[STORE_SESSION_ID_LEN + 1];
    size_t n, cap;
    long long first_seq, first_time;
    char first_prev[AUDIT_HASH_HEX + 1];
};

static int admin_expired_row(void *ctx, const struct audit_row *row)
{
    struct admin_expired *e = ctx;

    if (e->first_seq == 0) {
        e->first_seq = row->seq;
        e->first_time = row->time;
        snprintf(e->first_prev, sizeof(e->first_prev), "%s", row->prev_hash);
    }
    if (row->event == NULL || strcmp(row->event, "recording.expire") != 0 || row->object == NULL ||
        strncmp(row->object, "session ", 8) != 0 || strlen(row->object + 8) != STORE_SESSION_ID_LEN) {
        return 0;
    }
    if (e->n == e->cap) {
        size_t nc = e->cap ? e->cap * 2 : 64;
        void *nv = realloc(e->ids, nc * sizeof(*e->ids));

        if (nv == NULL) {
            return DB_ERR_NOMEM;
        }
        e->ids = nv;
        e->cap = nc;
    }
    memcpy(e->ids[e->n++], row->object + 8, STORE_SESSION_ID_LEN + 1);
    return 0;
}

static int admin_id_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

static int admin_expired_load(struct store *s, struct admin_expired *e)
{
    int r;

    memset(e, 0, sizeof(*e));
    if ((r = store_audit_foreach(s, 0, admin_expired_row, e)) != 0) {
        return r;
    }
    if (e->n > 1) {
        qsort(e->ids, e->n, sizeof(*e->ids), admin_id_cmp);
    }
    return 0;
}

/*
 * A session whose recording retention removed: "expired by retention" when
 * the chain holds its recording.expire row (or held it before archiving the
 * rows of that time); a row marked expired without that is an edit.
 */
static enum admin_rec admin_verify_expired(const struct store_session *s,
                                           const struct admin_expired *e, FILE *out)
{
    char when[32];
    int proven = e != NULL && e->n > 0 &&
                 bsearch(s->id, e->ids, e->n, sizeof(*e->ids), admin_id_cmp) != NULL;

    if (!proven && e != NULL && e->first_seq > 1 && s->expired_at <= e->first_time) {
        proven = 1; /* its row went to an audit archive with the rest of that time */
    }
    if (!proven) {
        fputs("TAMPERED: marked as expired, but the audit chain has no recording.expire row for "
              "it\n",
              out);
        return ADMIN_REC_TAMPERED;
    }
    admin_time(s->expired_at, when, sizeof(when));
    fprintf(out, "expired by retention (%s)%s\n", when,
            s->expire_done ? "" : ", its file not removed yet");
    return ADMIN_REC_EXPIRED;
}

static enum admin_rec admin_verify_one(const struct store_session *s,
                                       const unsigned char key[REC_KEY_LEN],
                                       const struct admin_expired *e, FILE *out)
{
    int sealed = s->sha256[0] != '\0' && s->hmac[0] != '\0';
    enum rec_verdict v = REC_MISSING;
    char why[512] = "";
    int rc;

    fprintf(out, "session %s: ", s->id);
    if (s->expired_at != 0) {
        return admin_verify_expired(s, e, out);
    }
    if (s->recording_path == NULL || s->recording_path[0] == '\0') {
        fprintf(out, "%s\n", s->ended_at == 0 ? "live (no recording yet)" : "no recording");
        return s->ended_at == 0 ? ADMIN_REC_LIVE : ADMIN_REC_NONE;
    }
    rc = rec_verify_file(s->recording_path, key, sealed ? s->sha256 : NULL, sealed ? s->hmac : NULL,
                         &v, why, sizeof(why));
    if (rc != 0) {
        fputs("cannot check: ", out);
        admin_safe(out, why[0] ? why : db_strerror(rc));
        fputc('\n', out);
        return ADMIN_REC_ERROR;
    }
    if (v == REC_TAMPERED || v == REC_MISSING) {
        fputs(v == REC_TAMPERED ? "TAMPERED: " : "MISSING: ", out);
        admin_safe(out, why[0] ? why : s->recording_path);
        fputc('\n', out);
        return v == REC_TAMPERED ? ADMIN_REC_TAMPERED : ADMIN_REC_MISSING;
    }
    if (s->ended_at == 0) {
        fputs("live\n", out);
        return ADMIN_REC_LIVE;
    }
    if (v == REC_TRUNCATED) {
        fputs("truncated", out);
        if (why[0] != '\0') {
            fputs(" (", out);
            admin_safe(out, why);
            fputc(')', out);
        }
        fputc('\n', out);
        return ADMIN_REC_TRUNCATED;
    }
    fputs("ok\n", out);
    return ADMIN_REC_OK;
}

/* A session id as the store makes them, before it is looked up or printed. */
static int admin_session_id_valid(const char *s)
{
    size_t i;

    for (i = 0; s[i] != '\0' && i < STORE_SESSION_ID_LEN; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '2' && s[i] <= '7'))) {
            return 0;
        }
    }
    return i == STORE_SESSION_ID_LEN && s[i] == '\0';
}

/*
 * Every session's recording (or only the sessions named): ok / truncated /
 * live / tampered / missing each, then a summary.  Tampered wins
 * (DB_ERR_TAMPERED); a missing recording, a named session that does not
 * exist or a check that could not run is DB_ERR_NOTFOUND / DB_ERR_IO.
 * Truncated (a crash, a kill) is reported, not a failure.
 */
/* What one verify found, for its own audit row (admin_verify_record). */
struct admin_verify_sum {
    size_t count[ADMIN_REC_COUNT];
    size_t total, unknown;
};

static const char *const admin_rec_names[ADMIN_REC_COUNT] = {
    "ok",      "truncated",           "live",       "tampered", "missing", "expired by retention",
    "without a recording", "not checked"};

static int admin_verify_recordings(const struct config *c, struct store *s, char *const *sessions,
                                   size_t nsessions, const struct admin_expired *e, FILE *out,
                                   struct admin_verify_sum *sum)
{
    const char *const *names = admin_rec_names;
    unsigned char key[REC_KEY_LEN];
    size_t *count = sum->count, total = 0, unknown = 0;
    struct store_session *v = NULL;
    size_t n = 0;
    int rc;

    if ((rc = admin_recording_key(c, key)) != 0) {
        return rc;
    }
    if (nsessions == 0) {
        /* every session: no limit */
        rc = store_session_list(s, 0, 0, NULL, NULL, (size_t)LLONG_MAX, &v, &n);
        if (rc != 0) {
            fprintf(stderr, "drawbridge: reading sessions: %s\n", db_strerror(rc));
            goto out;
        }
        for (size_t i = 0; i < n; i++) {
            count[admin_verify_one(&v[i], key, e, out)]++;
            total++;
        }
    }
    for (size_t i = 0; i < nsessions; i++) {
        struct store_session one;

        if (!admin_session_id_valid(sessions[i]) || store_session_get(s, sessions[i], &one) != 0) {
            fputs("session ", out);
            admin_safe(out, sessions[i]);
            fputs(": no such session\n", out);
            unknown++;
            continue;
        }
        count[admin_verify_one(&one, key, e, out)]++;
        total++;
        store_session_clear(&one);
    }
    fprintf(out, "recordings: %zu checked", total);
    for (int k = 0; k < ADMIN_REC_COUNT; k++) {
        if (count[k] > 0 || k <= ADMIN_REC_MISSING) {
            fprintf(out, "%s %zu %s", k == 0 ? ":" : ",", count[k], names[k]);
        }
    }
    if (unknown > 0) {
        fprintf(out, ", %zu unknown session(s)", unknown);
    }
    fputc('\n', out);
    sum->total = total;
    sum->unknown = unknown;
    if (count[ADMIN_REC_TAMPERED] > 0) {
        rc = DB_ERR_TAMPERED;
    } else if (count[ADMIN_REC_MISSING] > 0 || unknown > 0) {
        rc = DB_ERR_NOTFOUND;
    } else if (count[ADMIN_REC_ERROR] > 0) {
        rc = DB_ERR_IO;
    }
out:
    db_wipe(key, sizeof(key));
    store_sessions_free(v, n);
    return rc;
}

static void admin_gap(FILE *out, long long from, long long to, const char *dir)
{
    fprintf(out, "audit archive: note: rows %lld-%lld are in no archive in ", from, to);
    admin_safe(out, dir);
    fputs(" (moved elsewhere? check them with verify --archive)\n", out);
}

/*
 * The archive files of audit.archive_dir: each one's rows, sha256 and seal,
 * then that they follow one another and lead up to the chain's first row.
 * Rows in no archive here (moved elsewhere) are a note; a file that does
 * not check, or that does not link where it must, is tampering.
 */
static int admin_verify_archives(const struct config *c, const struct admin_expired *e, FILE *out)
{
    unsigned char key[REC_KEY_LEN];
    struct archive_entry *v = NULL;
    struct archive_info info, prev;
    char why[512];
    size_t n = 0, ok = 0;
    int r = 0, have_prev = 0;

    if (c->audit.archive_dir == NULL) {
        return 0;
    }
    if (archive_list(c->audit.archive_dir, &v, &n) != 0) {
        fprintf(stderr, "drawbridge: %s: cannot list the audit archives\n", c->audit.archive_dir);
        return DB_ERR_IO;
    }
    if (n == 0 && e->first_seq <= 1) {
        return 0;
    }
    if (admin_recording_key(c, key) != 0) {
        archive_list_free(v, n);
        return DB_ERR_IO;
    }
    memset(&prev, 0, sizeof(prev));
    for (size_t i = 0; i < n; i++) {
        fputs("audit archive ", out);
        admin_safe(out, v[i].path);
        if (archive_verify_file(v[i].path, key, &info, why, sizeof(why)) != 0) {
            fputs(": TAMPERED: ", out);
            admin_safe(out, why);
            fputc('\n', out);
            r = DB_ERR_TAMPERED;
            have_prev = 0;
            continue;
        }
        fprintf(out, ": ok (rows %lld-%lld)\n", info.first, info.last);
        ok++;
        if (!have_prev && info.first > 1 && i == 0) {
            admin_gap(out, 1, info.first - 1, c->audit.archive_dir);
        } else if (have_prev && info.first > prev.last + 1) {
            admin_gap(out, prev.last + 1, info.first - 1, c->audit.archive_dir);
        } else if (have_prev && (info.first <= prev.last ||
                                 strcmp(info.prev_hash, prev.last_hash) != 0)) {
            fprintf(out, "audit archive: TAMPERED: rows %lld-%lld do not continue rows %lld-%lld\n",
                    info.first, info.last, prev.first, prev.last);
            r = DB_ERR_TAMPERED;
        }
        prev = info;
        have_prev = 1;
    }
    if (e->first_seq > 1 && (!have_prev || prev.last + 1 < e->first_seq)) {
        admin_gap(out, have_prev ? prev.last + 1 : 1, e->first_seq - 1, c->audit.archive_dir);
    } else if (have_prev && e->first_seq > 0 &&
               (prev.last + 1 != e->first_seq || strcmp(prev.last_hash, e->first_prev) != 0)) {
        fprintf(out, "audit archive: TAMPERED: rows %lld-%lld do not lead to the chain's first row "
                "(%lld)\n", prev.first, prev.last, e->first_seq);
        r = DB_ERR_TAMPERED;
    }
    fprintf(out, "audit archives: %zu file(s), %zu ok\n", n, ok);
    db_wipe(key, sizeof(key));
    archive_list_free(v, n);
    return r;
}

int admin_verify_archive_file(const struct config *c, const char *path, FILE *out)
{
    unsigned char key[REC_KEY_LEN];
    struct archive_info info;
    char why[512];
    int r;

    if ((r = admin_recording_key(c, key)) != 0) {
        return r;
    }
    r = archive_verify_file(path, key, &info, why, sizeof(why));
    db_wipe(key, sizeof(key));
    fputs("audit archive ", out);
    admin_safe(out, path);
    if (r != 0) {
        fputs(r == DB_ERR_TAMPERED ? ": TAMPERED: " : ": cannot check: ", out);
        admin_safe(out, why);
        fputc('\n', out);
        return r;
    }
    fprintf(out, ": ok (rows %lld-%lld, chained to %.16s..., ending with %.16s...)\n", info.first,
            info.last, info.prev_hash, info.last_hash);
    return 0;
}

/*
 * Every verify leaves its outcome in the audit chain ("verify.result"), so
 * that `drawbridge status` can say when the chain and the recordings were
 * last checked and what was found.  Best effort: a verify run by an account
 * that cannot write the store still reports on stdout.
 */
static void admin_verify_record(struct store *s, size_t nsessions, int result, long long rows,
                                const struct admin_verify_sum *sum)
{
    static const char *const keys[ADMIN_REC_COUNT] = {"ok",      "truncated", "live", "tampered",
                                                      "missing", "expired",   "none", "error"};
    struct passwd *pw = getpwuid(getuid());
    json_t *d = json_object(), *recs = json_object();

    if (d == NULL || recs == NULL) {
        goto out;
    }
    for (int k = 0; k < ADMIN_REC_COUNT; k++) {
        json_object_set_new(recs, keys[k], json_integer((json_int_t)sum->count[k]));
    }
    json_object_set_new(recs, "checked", json_integer((json_int_t)sum->total));
    json_object_set_new(recs, "unknown", json_integer((json_int_t)sum->unknown));
    json_object_set_new(d, "result",
                        json_string(result == 0                   ? "ok"
                                    : result == DB_ERR_TAMPERED   ? "tampered"
                                    : result == DB_ERR_NOTFOUND   ? "missing"
                                                                  : "error"));
    json_object_set_new(d, "audit_rows", json_integer((json_int_t)rows));
    json_object_set_new(d, "recordings", recs);
    recs = NULL;
    json_object_set_new(d, "scope", json_string(nsessions == 0 ? "all" : "sessions"));
    json_object_set_new(d, "unix_user", json_string(pw != NULL ? pw->pw_name : "?"));
    if (access_audit_event(s, (long long)time(NULL), "system", "verify.result", "audit", d) != 0) {
        fprintf(stderr, "drawbridge: warning: the result could not be written to the audit\n");
    }
out:
    json_decref(recs);
    json_decref(d);
}

int admin_verify(const struct config *c, char *const *sessions, size_t nsessions, FILE *out)
{
    struct admin_verify_sum sum;
    struct admin_expired ex;
    struct store *s = NULL;
    char err[512] = "";
    long long n = 0;
    int rc, rc2, rc3, result;

    if ((rc = admin_open(c, &s)) != 0) {
        return rc;
    }
    rc = store_audit_verify(s, &n, err, sizeof(err));
    if (rc == 0) {
        fprintf(out, "audit chain: ok (%lld rows)\n", n);
    } else if (rc == DB_ERR_TAMPERED) {
        fprintf(out, "audit chain: TAMPERED: ");
        admin_safe(out, err);
        fputc('\n', out);
    } else {
        fprintf(stderr, "drawbridge: audit chain: %s\n", err[0] ? err : db_strerror(rc));
    }
    memset(&sum, 0, sizeof(sum));
    if (admin_expired_load(s, &ex) != 0) {
        fprintf(stderr, "drawbridge: reading the audit chain's expiries failed\n");
    }
    rc3 = nsessions == 0 ? admin_verify_archives(c, &ex, out) : 0;
    rc2 = admin_verify_recordings(c, s, sessions, nsessions, &ex, out, &sum);
    free(ex.ids);
    if (rc3 == DB_ERR_TAMPERED) {
        rc2 = DB_ERR_TAMPERED;
    }
    /* A tamper anywhere wins over any other failure: it is what exit status 1 must mean. */
    result = rc == DB_ERR_TAMPERED || rc2 == DB_ERR_TAMPERED ? DB_ERR_TAMPERED
             : rc != 0                                       ? rc
                                                             : rc2;
    admin_verify_record(s, nsessions, result, n, &sum);
    store_close(s);
    return result;
}

int admin_verify_forwarded(const struct config *c, const char *path, FILE *out)
{
    struct store *s = NULL;
    char err[512] = "";
    long long checked = 0, unforwarded = 0;
    int rc;

    if ((rc = admin_open(c, &s)) != 0) {
        return rc;
    }
    rc = store_audit_verify_forwarded(s, path, &checked, &unforwarded, err, sizeof(err));
    store_close(s);
    if (rc == 0) {
        fprintf(out, "forwarded copy: ok (%lld rows match the store", checked);
        if (unforwarded > 0) {
            fprintf(out, "; %lld later row(s) of the store are not in this copy", unforwarded);
        }
        fprintf(out, ")\n");
    } else if (rc == DB_ERR_TAMPERED) {
        fprintf(out, "forwarded copy: TAMPERED: ");
        admin_safe(out, err);
        fputc('\n', out);
    } else {
        fputs("drawbridge: ", stderr);
        admin_safe(stderr, err[0] ? err : db_strerror(rc));
        fputc('\n', stderr);
    }
    return rc;
}

/* The file's bytes to out, hashed on the way; 0 or DB_ERR_IO (reported). */
static int admin_copy(const char *path, FILE *out, char sha_hex[REC_HEX_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char md[32];
    unsigned int mdlen = 0;
    char buf[65536];
    EVP_MD_CTX *sha = EVP_MD_CTX_new();
    struct stat st;
    int fd = -1, rc = DB_ERR_IO;

    sha_hex[0] = '\0';
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (sha == NULL || EVP_DigestInit_ex(sha, EVP_sha256(), NULL) != 1 || fd < 0 ||
        fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        fprintf(stderr, "drawbridge: the recording cannot be read\n");
        goto out;
    }
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            fprintf(stderr, "drawbridge: reading the recording failed\n");
            goto out;
        }
        if (n == 0) {
            break;
        }
        if (fwrite(buf, 1, (size_t)n, out) != (size_t)n ||
            EVP_DigestUpdate(sha, buf, (size_t)n) != 1) {
            fprintf(stderr, "drawbridge: writing the recording failed\n");
            goto out;
        }
    }
    if (fflush(out) != 0 || EVP_DigestFinal_ex(sha, md, &mdlen) != 1 || mdlen != sizeof(md)) {
        fprintf(stderr, "drawbridge: writing the recording failed\n");
        goto out;
    }
    for (size_t i = 0; i < sizeof(md); i++) {
        sha_hex[2 * i] = digits[md[i] >> 4];
        sha_hex[2 * i + 1] = digits[md[i] & 15];
    }
    sha_hex[REC_HEX_LEN] = '\0';
    rc = 0;
out:
    if (fd >= 0) {
        close(fd);
    }
    EVP_MD_CTX_free(sha);
    return rc;
}

int admin_export(const struct config *c, const char *session, FILE *out)
{
    unsigned char key[REC_KEY_LEN];
    struct store_session row;
    struct store *s = NULL;
    enum rec_verdict v = REC_MISSING;
    char why[512] = "", sent[REC_HEX_LEN + 1];
    int rc, sealed;

    memset(&row, 0, sizeof(row));
    if (!admin_session_id_valid(session)) {
        fprintf(stderr, "drawbridge: export: '");
        admin_safe(stderr, session);
        fprintf(stderr, "' is not a session id (as `sessions` lists them)\n");
        return DB_ERR_USAGE;
    }
    if ((rc = admin_recording_key(c, key)) != 0) {
        return rc;
    }
    if ((rc = admin_open(c, &s)) != 0) {
        goto out;
    }
    if ((rc = store_session_get(s, session, &row)) != 0) {
        fprintf(stderr, "drawbridge: no session %s\n", session);
        goto out;
    }
    if (row.expired_at != 0) {
        char when[32];

        admin_time(row.expired_at, when, sizeof(when));
        fprintf(stderr, "drawbridge: the recording of session %s expired by retention (%s)\n",
                session, when);
        rc = DB_ERR_NOTFOUND;
        goto out;
    }
    if (row.recording_path == NULL || row.recording_path[0] == '\0') {
        fprintf(stderr, "drawbridge: session %s has no recording\n", session);
        rc = DB_ERR_NOTFOUND;
        goto out;
    }
    sealed = row.sha256[0] != '\0' && row.hmac[0] != '\0';
    rc = rec_verify_file(row.recording_path, key, sealed ? row.sha256 : NULL,
                         sealed ? row.hmac : NULL, &v, why, sizeof(why));
    if (rc != 0 || v == REC_MISSING) {
        fprintf(stderr, "drawbridge: the recording of session %s %s: ", session,
                rc != 0 ? "cannot be checked" : "is missing");
        admin_safe(stderr, why[0] ? why : row.recording_path);
        fputc('\n', stderr);
        rc = rc != 0 ? rc : DB_ERR_NOTFOUND;
        goto out;
    }
    /* The operator gets the bytes even when tampered (they are evidence), and exit status 1. */
    if (v == REC_TAMPERED) {
        fprintf(stderr, "drawbridge: warning: the recording of session %s is TAMPERED: ", session);
        admin_safe(stderr, why);
        fputc('\n', stderr);
    } else if (row.ended_at == 0) {
        fprintf(stderr,
                "drawbridge: session %s is still live: exporting what is recorded so "
                "far\n",
                session);
    } else if (v == REC_TRUNCATED) {
        fprintf(stderr,
                "drawbridge: warning: the recording of session %s ends early "
                "(truncated)\n",
                session);
    }
    if ((rc = admin_copy(row.recording_path, out, sent)) != 0) {
        goto out;
    }
    if (v != REC_TAMPERED && sealed && strcasecmp(sent, row.sha256) != 0) {
        fprintf(stderr,
                "drawbridge: the recording of session %s changed while it was "
                "exported: what was written does not match its seal\n",
                session);
        v = REC_TAMPERED;
    }
    rc = v == REC_TAMPERED ? DB_ERR_TAMPERED : 0;
out:
    db_wipe(key, sizeof(key));
    store_session_clear(&row);
    store_close(s);
    return rc;
}

static void admin_principals(FILE *out, const struct policy_principal *ps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        fprintf(out, "%s%s:", i ? ", " : "",
                ps[i].kind == POLICY_PRINCIPAL_GROUP ? "group" : "user");
        admin_safe(out, ps[i].name);
    }
}

static void admin_report_grants(FILE *out, const struct policy *p, struct store_grant *g, size_t n,
                                long long now)
{
    char when[32], left[32];

    fprintf(out, "live grants (%zu):\n", n);
    if (n == 0) {
        fprintf(out, "  (none)\n");
    }
    for (size_t i = 0; i < n; i++) {
        const char *why = "";

        admin_time(g[i].ends_at, when, sizeof(when));
        db_format_duration(g[i].ends_at - now, left, sizeof(left));
        if (g[i].breakglass) {
            why = "  break-glass, review required";
        } else if (p != NULL && policy_target_find(p, g[i].target) != NULL) {
            int found = 0;
            for (size_t k = 0; k < p->nrules; k++) {
                found |= strcmp(p->rules[k].name, g[i].rule) == 0;
            }
            why = found ? "" : "  (its rule is gone from the policy: not usable)";
        } else if (p != NULL) {
            why = "  (its target is gone from the policy: not usable)";
        }
        fprintf(out, "  %s -> %s@%s  grant %lld  rule %s  until %s (%s left)%s\n", g[i].user,
                g[i].login, g[i].target, g[i].id, g[i].rule[0] ? g[i].rule : "-", when, left, why);
    }
}

static void admin_report_standing(FILE *out, const struct policy *p)
{
    size_t lines = 0;

    fprintf(out, "standing access (unprotected targets only):\n");
    for (size_t i = 0; p != NULL && i < p->nrules; i++) {
        const struct policy_rule *r = &p->rules[i];

        if (!r->standing) {
            continue;
        }
        for (size_t t = 0; t < p->ntargets; t++) {
            const struct policy_target *tg = &p->targets[t];

            if (!policy_rule_selects(r, tg) || policy_target_is_protected(p, tg)) {
                continue;
            }
            fputs("  ", out);
            admin_principals(out, r->requesters, r->nrequesters);
            fprintf(out, " -> ");
            for (size_t l = 0, k = 0; l < tg->nlogins; l++) {
                if (policy_rule_allows_login(r, tg, tg->logins[l])) {
                    fprintf(out, "%s%s", k++ ? "," : "", tg->logins[l]);
                }
            }
            fprintf(out, "@%s  rule %s\n", tg->name, r->name);
            lines++;
        }
    }
    if (lines == 0) {
        fprintf(out, "  (none)\n");
    }
    fprintf(out, "protected targets (grant only):");
    lines = 0;
    for (size_t t = 0; p != NULL && t < p->ntargets; t++) {
        if (policy_target_is_protected(p, &p->targets[t])) {
            fprintf(out, "%s%s", lines++ ? ", " : " ", p->targets[t].name);
        }
    }
    fprintf(out, "%s\n", lines ? "" : " (none)");
}

int admin_access_report(const struct config *c, const struct policy *p, long long now, FILE *out)
{
    struct store *s = NULL;
    struct store_grant *g = NULL;
    size_t n = 0;
    int rc;

    if ((rc = admin_open(c, &s)) != 0) {
        return rc;
    }
    rc = store_grant_list_live(s, NULL, now, &g, &n);
    if (rc != 0) {
        fprintf(stderr, "drawbridge: reading grants: %s\n", db_strerror(rc));
        goto out;
    }
    admin_report_grants(out, p, g, n, now);
    admin_report_standing(out, p);
    admin_report_mfa(out, c, p, s, now);
out:
    free(g);
    store_close(s);
    return rc;
}

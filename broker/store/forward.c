/* SPDX-License-Identifier: Apache-2.0 */
/*
 * audit_forward: every audit row also leaves the host as it is written, so
 * that whoever owns the gateway's machine (and its database and keys) cannot
 * rewrite the history unseen.  And the check that uses it:
 * `drawbridge verify --forwarded PATH`.
 *
 * The forwarded form of a row is one line of JSON with the row's fields as
 * stored, its prev_hash and its hash:
 *
 *   {"seq":12,"time":1700000000,"actor":"bob","event":"request.approve",
 *    "object":"request 7","details":"{...}","prev_hash":"…","hash":"…"}
 *
 * written with one write(2) to a file opened O_APPEND (audit_forward:
 * {file: PATH}; a log shipper takes it from there), or as the message of
 * one syslog(3) call (facility authpriv, the message "drawbridge-audit "
 * and the line; audit_forward: syslog).  Rows go out after their transaction commits, in the order
 * they were written, so a row that was rolled back never leaves; a crash between the commit and the
 * write loses that row from the copy (the check then finds nothing to compare it with, which it
 * says, and which is not a rewrite).  With several gateways each forwards the rows it wrote; the
 * check accepts a copy holding any subset of the chain, from any number of gateways, in any order.
 *
 * The check reads a copy (the file, or a syslog file: each line's JSON
 * starts at its first '{') and compares every row in it with the store:
 *   - a row whose fields no longer give its hash: the copy was edited;
 *   - a forwarded seq the store no longer has: removed (rows older than
 *     the store's first one are taken as archived by audit retention,
 *     which the chain's own check and `verify --archive` answer for);
 *   - different fields under the same seq: changed;
 *   - the same fields but another hash: the chain was rebuilt (rows before
 *     it changed and every hash recomputed, possibly with a new anchor key).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <jansson.h>

#include "store-int.h"

int store_forward_open(struct store *s, const struct config *c, char *err, size_t errlen)
{
    if (c->audit_forward_file != NULL) {
        s->fwd_fd = open(c->audit_forward_file,
                         O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
        if (s->fwd_fd < 0) {
            db_errf(err, errlen, "audit_forward: %s: %s", c->audit_forward_file, strerror(errno));
            return DB_ERR_IO;
        }
    }
    if (c->audit_forward_syslog) {
        s->fwd_syslog = 1;
    }
    return 0;
}

void store_forward_drop(struct store *s)
{
    for (size_t i = 0; i < s->fwd_n; i++) {
        free(s->fwd_rows[i]);
    }
    s->fwd_n = 0;
}

void store_forward_close(struct store *s)
{
    store_forward_drop(s);
    free(s->fwd_rows);
    s->fwd_rows = NULL;
    s->fwd_cap = 0;
    if (s->fwd_fd >= 0) {
        close(s->fwd_fd);
        s->fwd_fd = -1;
    }
}

/* The row as one line of JSON (with its newline), or NULL. */
static char *store_forward_line(const struct audit_row *row)
{
    json_t *o = json_pack("{sI sI ss ss ss ss ss ss}", "seq", (json_int_t)row->seq, "time",
                          (json_int_t)row->time, "actor", row->actor != NULL ? row->actor : "",
                          "event", row->event != NULL ? row->event : "", "object",
                          row->object != NULL ? row->object : "", "details",
                          row->details != NULL ? row->details : "", "prev_hash", row->prev_hash,
                          "hash", row->hash);
    char *text = NULL, *line = NULL;

    if (o == NULL) {
        return NULL;
    }
    text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    json_decref(o);
    if (text != NULL && asprintf(&line, "%s\n", text) < 0) {
        line = NULL;
    }
    free(text);
    return line;
}

int store_forward_add(struct store *s, const struct audit_row *row)
{
    char *line;

    if (s->fwd_fd < 0 && !s->fwd_syslog) {
        return 0;
    }
    if (s->fwd_n == s->fwd_cap) {
        size_t ncap = s->fwd_cap ? s->fwd_cap * 2 : 8;
        char **nv = realloc(s->fwd_rows, ncap * sizeof(*nv));

        if (nv == NULL) {
            return DB_ERR_NOMEM;
        }
        s->fwd_rows = nv;
        s->fwd_cap = ncap;
    }
    /* A row that cannot be put into the forwarded form is not written at all. */
    if ((line = store_forward_line(row)) == NULL) {
        return DB_ERR_NOMEM;
    }
    s->fwd_rows[s->fwd_n++] = line;
    return 0;
}

void store_forward_flush(struct store *s)
{
    int failed = 0;

    for (size_t i = 0; i < s->fwd_n; i++) {
        const char *line = s->fwd_rows[i];
        size_t len = strlen(line);

        if (s->fwd_fd >= 0 && write(s->fwd_fd, line, len) != (ssize_t)len) {
            failed = errno != 0 ? errno : EIO;
        }
        if (s->fwd_syslog) {
            /* the process's own ident (log.c opens the log), marked so a shipper can pick it */
            syslog(LOG_AUTHPRIV | LOG_INFO, "drawbridge-audit %.*s", (int)(len - 1), line);
        }
    }
    if (s->fwd_n > 0 && s->fwd_fd >= 0 && fdatasync(s->fwd_fd) != 0 && errno != EINVAL) {
        failed = errno;
    }
    if (failed != 0) {
        log_msg(LOG_LVL_ERROR, "audit.forward_failed", "%zu row(s) not forwarded: %s", s->fwd_n,
                strerror(failed));
    }
    store_forward_drop(s);
}

/* ---- verify --forwarded ---- */

struct fwd_row {
    long long seq;
    long line;
    struct audit_row row;
    char *actor, *event, *object, *details;
};

struct fwd_set {
    struct fwd_row *v;
    size_t n, cap;
    size_t next;      /* merge cursor, in seq order */
    long long stored; /* store rows after the first forwarded one that the copy lacks */
    long long checked;
    long long archived; /* forwarded rows older than the store's first (audit retention) */
    int started;
    char *err;
    size_t errlen;
};

static void fwd_set_free(struct fwd_set *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->v[i].actor);
        free(f->v[i].event);
        free(f->v[i].object);
        free(f->v[i].details);
    }
    free(f->v);
}

static int fwd_cmp(const void *a, const void *b)
{
    const struct fwd_row *x = a, *y = b;

    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int fwd_str(json_t *o, const char *key, char **out)
{
    json_t *v = json_object_get(o, key);

    if (!json_is_string(v)) {
        return -1;
    }
    *out = strndup(json_string_value(v), json_string_length(v));
    return *out != NULL ? 0 : -1;
}

static int fwd_hex(json_t *o, const char *key, char out[AUDIT_HASH_HEX + 1])
{
    json_t *v = json_object_get(o, key);

    if (!json_is_string(v) || json_string_length(v) != AUDIT_HASH_HEX) {
        return -1;
    }
    memcpy(out, json_string_value(v), AUDIT_HASH_HEX + 1);
    return 0;
}

/* One line of the copy; lines that hold no forwarded row (other syslog traffic) are skipped. */
static int fwd_parse_line(struct fwd_set *f, const char *line, long lineno)
{
    const char *brace = strchr(line, '{');
    char calc[AUDIT_HASH_HEX + 1];
    struct fwd_row r;
    json_error_t je;
    json_t *o = NULL, *seq, *tm;
    int rc = DB_ERR_TAMPERED;

    if (brace == NULL || strstr(line, "\"prev_hash\"") == NULL) {
        return 0;
    }
    memset(&r, 0, sizeof(r));
    r.line = lineno;
    o = json_loads(brace, JSON_DISABLE_EOF_CHECK, &je);
    seq = json_object_get(o, "seq");
    tm = json_object_get(o, "time");
    if (o == NULL || !json_is_integer(seq) || !json_is_integer(tm) ||
        fwd_str(o, "actor", &r.actor) || fwd_str(o, "event", &r.event) ||
        fwd_str(o, "object", &r.object) || fwd_str(o, "details", &r.details) ||
        fwd_hex(o, "prev_hash", r.row.prev_hash) || fwd_hex(o, "hash", r.row.hash)) {
        db_errf(f->err, f->errlen, "forwarded copy, line %ld: not a forwarded audit row", lineno);
        goto out;
    }
    r.seq = r.row.seq = json_integer_value(seq);
    r.row.time = json_integer_value(tm);
    r.row.actor = r.actor;
    r.row.event = r.event;
    r.row.object = r.object;
    r.row.details = r.details;
    if (audit_row_hash(&r.row, calc) != 0 || strcmp(calc, r.row.hash) != 0) {
        db_errf(f->err, f->errlen,
                "forwarded copy, line %ld: row %lld does not match its own hash "
                "(the copy was edited)",
                lineno, r.seq);
        goto out;
    }
    if (f->n == f->cap) {
        size_t ncap = f->cap ? f->cap * 2 : 256;
        struct fwd_row *nv = realloc(f->v, ncap * sizeof(*nv));

        if (nv == NULL) {
            rc = DB_ERR_NOMEM;
            goto out;
        }
        f->v = nv;
        f->cap = ncap;
    }
    f->v[f->n++] = r;
    memset(&r, 0, sizeof(r));
    rc = 0;
out:
    free(r.actor);
    free(r.event);
    free(r.object);
    free(r.details);
    json_decref(o);
    return rc;
}

static int fwd_read(struct fwd_set *f, const char *path)
{
    FILE *in = fopen(path, "re");
    char *line = NULL;
    size_t cap = 0;
    long lineno = 0;
    int rc = 0;

    if (in == NULL) {
        db_errf(f->err, f->errlen, "%s: %s", path, strerror(errno));
        return DB_ERR_IO;
    }
    while (rc == 0 && getline(&line, &cap, in) >= 0) {
        rc = fwd_parse_line(f, line, ++lineno);
    }
    free(line);
    fclose(in);
    if (rc != 0) {
        return rc;
    }
    qsort(f->v, f->n, sizeof(*f->v), fwd_cmp);
    for (size_t i = 1; i < f->n; i++) {
        if (f->v[i].seq == f->v[i - 1].seq && strcmp(f->v[i].row.hash, f->v[i - 1].row.hash) != 0) {
            db_errf(f->err, f->errlen,
                    "audit row %lld: forwarded twice with different contents "
                    "(the chain forked or was rebuilt)",
                    f->v[i].seq);
            return DB_ERR_TAMPERED;
        }
    }
    return 0;
}

static int fwd_same(const char *a, const char *b)
{
    return strcmp(a != NULL ? a : "", b != NULL ? b : "") == 0;
}

/* Called for every store row in seq order: compares it with the copy's rows of that seq. */
static int fwd_check_row(void *ctx, const struct audit_row *row)
{
    struct fwd_set *f = ctx;
    int seen = 0;

    /*
     * Rows older than the store's first were archived by audit retention
     * (the chain's own check accounts for them, and `verify --archive`
     * checks the archive files): not compared here.
     */
    while (!f->started && f->next < f->n && f->v[f->next].seq < row->seq) {
        f->archived++;
        f->next++;
    }
    f->started = 1;
    while (f->next < f->n && f->v[f->next].seq < row->seq) {
        db_errf(f->err, f->errlen,
                "audit row %lld: removed from the store (the forwarded copy "
                "has it, line %ld)",
                f->v[f->next].seq, f->v[f->next].line);
        return DB_ERR_TAMPERED;
    }
    while (f->next < f->n && f->v[f->next].seq == row->seq) {
        const struct audit_row *w = &f->v[f->next].row;

        if (w->time != row->time || !fwd_same(w->actor, row->actor) ||
            !fwd_same(w->event, row->event) || !fwd_same(w->object, row->object) ||
            !fwd_same(w->details, row->details)) {
            db_errf(f->err, f->errlen,
                    "audit row %lld: changed since it was forwarded "
                    "(line %ld of the copy)",
                    row->seq, f->v[f->next].line);
            return DB_ERR_TAMPERED;
        }
        if (strcmp(w->hash, row->hash) != 0 || strcmp(w->prev_hash, row->prev_hash) != 0) {
            db_errf(f->err, f->errlen,
                    "audit row %lld: the chain was rebuilt (its hash differs "
                    "from the forwarded copy, line %ld)",
                    row->seq, f->v[f->next].line);
            return DB_ERR_TAMPERED;
        }
        seen = 1;
        f->next++;
    }
    if (seen) {
        f->checked++;
    } else if (f->n > 0 && row->seq > f->v[0].seq) {
        f->stored++;
    }
    return 0;
}

int store_audit_verify_forwarded(struct store *s, const char *path, long long *checked,
                                 long long *unforwarded, char *err, size_t errlen)
{
    struct fwd_set f;
    int rc;

    memset(&f, 0, sizeof(f));
    f.err = err;
    f.errlen = errlen;
    *checked = *unforwarded = 0;
    if ((rc = fwd_read(&f, path)) != 0) {
        goto out;
    }
    if (f.n == 0) {
        db_errf(err, errlen, "%s: holds no forwarded audit row", path);
        rc = DB_ERR_INVALID;
        goto out;
    }
    if ((rc = store_audit_foreach(s, 0, fwd_check_row, &f)) != 0) {
        goto out;
    }
    if (f.next < f.n) {
        db_errf(err, errlen,
                "audit row %lld: removed from the store (the forwarded copy has it, "
                "line %ld)",
                f.v[f.next].seq, f.v[f.next].line);
        rc = DB_ERR_TAMPERED;
        goto out;
    }
    *checked = f.checked;
    *unforwarded = f.stored;
out:
    fwd_set_free(&f);
    return rc;
}

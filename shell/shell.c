/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The context a shell command runs in: its stdout/stderr (shell_out,
 * shell_err, shell_write), running one line (parse, look the command up in
 * the table, dispatch), and small helpers every command uses so that errors,
 * usage messages and JSON look the same everywhere.
 *
 * On a pty (c->interactive) the terminal is in raw mode, so "\n" is sent as
 * "\r\n"; stderr then goes to the same stream, which the write callback
 * decides from is_err.  Anything we echo back that came from a user, LDAP or
 * the store goes through shell_sanitize first, so that no one can make a
 * reviewer's terminal run escape sequences.
 */
#include "shell.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common.h"

/* Longest command name echoed back in "unknown command" (bytes, sanitized). */
#define SHELL_ECHO_NAME_MAX 40

void shell_write(struct shell_ctx *c, int is_err, const char *buf, size_t len)
{
    char chunk[1024];
    size_t n = 0;

    if (c == NULL || c->write == NULL || buf == NULL || len == 0) {
        return;
    }
    if (!c->interactive) {
        (void)c->write(c->io, is_err, buf, len);
        return;
    }
    /*
     * Raw-mode terminal: a lone "\n" only moves down.  Translate through a
     * small buffer rather than one write per line; a "\r\n" already there is
     * left alone.
     */
    for (size_t i = 0; i < len; i++) {
        if (n + 2 > sizeof(chunk)) {
            (void)c->write(c->io, is_err, chunk, n);
            n = 0;
        }
        if (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r')) {
            chunk[n++] = '\r';
        }
        chunk[n++] = buf[i];
    }
    if (n > 0) {
        (void)c->write(c->io, is_err, chunk, n);
    }
}

static void shell_vprintf(struct shell_ctx *c, int is_err, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void shell_vprintf(struct shell_ctx *c, int is_err, const char *fmt, va_list ap)
{
    char small[512];
    char *big = NULL;
    va_list ap2;
    int n;

    va_copy(ap2, ap);
    n = vsnprintf(small, sizeof(small), fmt, ap);
    if (n < 0) {
        goto out;
    }
    if ((size_t)n < sizeof(small)) {
        shell_write(c, is_err, small, (size_t)n);
        goto out;
    }
    big = malloc((size_t)n + 1);
    if (big == NULL) {
        /* Better a truncated line than none. */
        shell_write(c, is_err, small, sizeof(small) - 1);
        goto out;
    }
    vsnprintf(big, (size_t)n + 1, fmt, ap2);
    shell_write(c, is_err, big, (size_t)n);
out:
    va_end(ap2);
    free(big);
}

void shell_out(struct shell_ctx *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    shell_vprintf(c, 0, fmt, ap);
    va_end(ap);
}

void shell_err(struct shell_ctx *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    shell_vprintf(c, 1, fmt, ap);
    va_end(ap);
}

int shell_fail(struct shell_ctx *c, const char *fmt, ...)
{
    va_list ap;

    shell_err(c, "drawbridge: ");
    va_start(ap, fmt);
    shell_vprintf(c, 1, fmt, ap);
    va_end(ap);
    shell_err(c, "\n");
    return SHELL_FAIL;
}

int shell_usage(struct shell_ctx *c, const char *name, const char *why)
{
    const struct shell_cmd_entry *e = shell_cmd_find(name);

    if (why != NULL && why[0] != '\0') {
        shell_err(c, "drawbridge: %s\n", why);
    }
    if (e != NULL) {
        shell_err(c, "usage: %s\n", e->usage);
    }
    return SHELL_USAGE;
}

int shell_cmd_opts(struct shell_ctx *c, const char *const *spec, int argc, char **argv,
                   struct shell_opts *o)
{
    char err[256];

    if (shell_opts_parse(spec, argc, argv, o, err, sizeof(err)) < 0) {
        return shell_usage(c, argc > 0 ? argv[0] : NULL, err);
    }
    return 0;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when it is not one. */
static size_t shell_utf8_len(const unsigned char *s, size_t avail)
{
    size_t n = 0;

    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        n = 2;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        n = 3;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        n = 4;
    }
    if (n == 0 || n > avail || !db_utf8_valid((const char *)s, n)) {
        return 0;
    }
    /* C1 controls (U+0080..U+009F) act like ESC sequences on some terminals. */
    if (n == 2 && s[0] == 0xc2 && s[1] < 0xa0) {
        return 0;
    }
    return n;
}

/*
 * One step of shell_sanitize: how many input bytes the unit at in[i] takes
 * (*nin) and what it becomes: itself (returns 1) or a single '?' (returns 0).
 */
static int shell_sanitize_unit(const unsigned char *u, size_t i, size_t inlen, int ascii_only,
                               size_t *nin)
{
    size_t n;

    *nin = 1;
    if (u[i] >= 0x20 && u[i] < 0x7f) {
        return 1;
    }
    if (u[i] < 0x80) {
        return 0;
    }
    /* A whole character is one '?' when only ASCII may pass. */
    n = shell_utf8_len(u + i, inlen - i);
    *nin = n > 0 ? n : 1;
    return n > 0 && !ascii_only;
}

char *shell_sanitize(char *out, size_t outlen, const char *in, size_t inlen, int ascii_only)
{
    const unsigned char *u = (const unsigned char *)in;
    size_t o = 0, i = 0, need = 0, budget, nin;

    if (out == NULL || outlen == 0) {
        return out;
    }
    if (in == NULL) {
        inlen = 0;
    }
    /* First pass: does it all fit?  Then nothing is cut. */
    for (i = 0; i < inlen; i += nin) {
        need += shell_sanitize_unit(u, i, inlen, ascii_only, &nin) ? nin : 1;
    }
    budget = need < outlen ? need : (outlen >= 4 ? outlen - 4 : 0);
    for (i = 0; i < inlen; i += nin) {
        int keep = shell_sanitize_unit(u, i, inlen, ascii_only, &nin);
        size_t take = keep ? nin : 1;

        if (o + take > budget) {
            break; /* never inside a UTF-8 sequence */
        }
        if (keep) {
            memcpy(out + o, in + i, nin);
        } else {
            out[o] = '?';
        }
        o += take;
    }
    if (need >= outlen && outlen >= 4) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

struct json_t *shell_json_string(const char *s)
{
    json_t *j = NULL;
    char *clean = NULL;
    size_t len = s != NULL ? strlen(s) : 0;

    if (s == NULL) {
        return json_null();
    }
    j = json_stringn(s, len);
    if (j != NULL) {
        return j;
    }
    /* Not UTF-8: JSON cannot carry it, so say so with '?' rather than fail. */
    clean = malloc(len + 8); /* one byte out per byte in: never truncated */
    if (clean == NULL) {
        return NULL;
    }
    shell_sanitize(clean, len + 8, s, len, 0);
    j = json_string(clean);
    free(clean);
    return j;
}

int shell_out_json(struct shell_ctx *c, struct json_t *v)
{
    char *s = NULL;

    if (v == NULL) {
        return DB_ERR_NOMEM;
    }
    s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    if (s == NULL) {
        return DB_ERR_NOMEM;
    }
    shell_write(c, 0, s, strlen(s));
    shell_write(c, 0, "\n", 1);
    free(s);
    return 0;
}

/* Maps whatever a command returned onto the documented 0/1/2. */
static int shell_exit_status(int r)
{
    if (r == SHELL_OK || r == SHELL_FAIL || r == SHELL_USAGE) {
        return r;
    }
    return r == DB_ERR_USAGE ? SHELL_USAGE : SHELL_FAIL;
}

int shell_run_argv(struct shell_ctx *c, int argc, char **argv)
{
    const struct shell_cmd_entry *e = NULL;
    char name[SHELL_ECHO_NAME_MAX + 4];

    c->refusal = 0;
    if (argc == 0) {
        return SHELL_OK;
    }
    e = shell_cmd_find(argv[0]);
    if (e == NULL) {
        shell_sanitize(name, sizeof(name), argv[0], strlen(argv[0]), 1);
        shell_err(c, "drawbridge: unknown command '%s'; try 'help'\n", name);
        return SHELL_USAGE;
    }
    /* the second factor's gate: enrol first, or log in with a code (cmd-mfa.c) */
    if (shell_mfa_gate(c, e->name) != 0) {
        return SHELL_FAIL;
    }
    return shell_exit_status(e->exec(c, argc, argv));
}

int shell_run_line(struct shell_ctx *c, const char *line, size_t len)
{
    struct shell_argv a;
    char err[256];
    int r = SHELL_FAIL;

    if (shell_parse(line, len, &a, err, sizeof(err)) < 0) {
        shell_err(c, "drawbridge: %s\n", err);
        return SHELL_USAGE;
    }
    r = shell_run_argv(c, a.argc, a.argv);
    shell_argv_clear(&a);
    return r;
}

long long shell_now(struct shell_ctx *c)
{
    if (c->clock != NULL) {
        return c->clock(c->clock_ctx);
    }
    return (long long)time(NULL);
}

/* ---- helpers for the access commands ---- */

const struct policy *shell_policy(const struct shell_ctx *c)
{
    if (c->access != NULL && c->access->policy != NULL) {
        return c->access->policy;
    }
    return c->policy;
}

const struct policy_rule *shell_rule_find(const struct policy *p, const char *name)
{
    for (size_t i = 0; p != NULL && name != NULL && name[0] != '\0' && i < p->nrules; i++) {
        if (p->rules[i].name != NULL && strcmp(p->rules[i].name, name) == 0) {
            return &p->rules[i];
        }
    }
    return NULL;
}

struct policy_subject shell_subject(const struct shell_ctx *c)
{
    struct policy_subject s = {
        .user = c->user,
        .groups = c->groups,
        .ngroups = c->ngroups,
    };

    return s;
}

const struct access *shell_access(struct shell_ctx *c)
{
    if (c->access == NULL || c->access->store == NULL || c->access->policy == NULL) {
        shell_fail(c, "the store is unavailable");
        return NULL;
    }
    return c->access;
}

int shell_fail_text(struct shell_ctx *c, const char *msg)
{
    char shown[600];

    if (msg == NULL || msg[0] == '\0') {
        msg = "failed";
    }
    shell_sanitize(shown, sizeof(shown), msg, strlen(msg), 0);
    return shell_fail(c, "%s", shown);
}

int shell_refuse(struct shell_ctx *c, int rc, const char *msg)
{
    c->refusal = rc;
    return shell_fail_text(c, msg);
}

/* "invalid WHAT 'VALUE': WHY" (value sanitized) and the usage; SHELL_USAGE. */
static int shell_bad_value(struct shell_ctx *c, const char *name, const char *what, const char *s,
                           const char *why)
{
    char shown[48], msg[160];

    shell_sanitize(shown, sizeof(shown), s, strlen(s), 1);
    snprintf(msg, sizeof(msg), "invalid %s '%s': %s", what, shown, why);
    return shell_usage(c, name, msg);
}

int shell_parse_id(struct shell_ctx *c, const char *name, const char *s, long long *out)
{
    long long v = 0;
    size_t i;

    *out = 0;
    if (s == NULL) {
        return shell_usage(c, name, "a request number is required");
    }
    /* Digits only (no sign, spaces, hex or "1e3"), at most 18: they never overflow. */
    for (i = 0; i < 18 && s[i] >= '0' && s[i] <= '9'; i++) {
        v = v * 10 + (s[i] - '0');
    }
    if (i == 0 || s[i] != '\0' || v <= 0) {
        return shell_bad_value(c, name, "number", s, "expected a request number such as 12");
    }
    *out = v;
    return 0;
}

int shell_parse_duration(struct shell_ctx *c, const char *name, const char *s, long long *out)
{
    if (s == NULL || db_parse_duration(s, out) != 0) {
        return shell_bad_value(c, name, "duration", s != NULL ? s : "",
                               "use a number with a unit, e.g. 90s, 30m, 4h");
    }
    return 0;
}

static char *shell_strftime(long long t, int iso, char *buf, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;
    size_t n = 0;

    if (len == 0) {
        return buf;
    }
    buf[0] = '\0';
    if (gmtime_r(&tt, &tm) != NULL) {
        n = iso ? strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm)
                : strftime(buf, len, "%Y-%m-%d %H:%M UTC", &tm);
    }
    if (n == 0) {
        snprintf(buf, len, "@%lld", t);
    }
    return buf;
}

char *shell_time(long long t, char *buf, size_t len)
{
    return shell_strftime(t, 0, buf, len);
}

char *shell_time_iso(long long t, char *buf, size_t len)
{
    return shell_strftime(t, 1, buf, len);
}

int shell_json_set_time(struct json_t *o, const char *key, long long t)
{
    char iso_key[64], iso[SHELL_TIME_MAX];

    snprintf(iso_key, sizeof(iso_key), "%s_iso", key);
    if (t == 0) {
        if (json_object_set_new(o, key, json_null()) < 0 ||
            json_object_set_new(o, iso_key, json_null()) < 0) {
            return DB_ERR_NOMEM;
        }
        return 0;
    }
    if (json_object_set_new(o, key, json_integer((json_int_t)t)) < 0 ||
        json_object_set_new(o, iso_key, json_string(shell_time_iso(t, iso, sizeof(iso)))) < 0) {
        return DB_ERR_NOMEM;
    }
    return 0;
}

static const char *shell_principal_kind(const struct policy_principal *p)
{
    return p->kind == POLICY_PRINCIPAL_GROUP ? "group" : "user";
}

char *shell_principals(const struct policy_principal *ps, size_t n, char *buf, size_t len)
{
    size_t off = 0;

    if (len == 0) {
        return buf;
    }
    buf[0] = '\0';
    if (n == 0) {
        snprintf(buf, len, "nobody");
        return buf;
    }
    for (size_t i = 0; i < n && off < len; i++) {
        int k = snprintf(buf + off, len - off, "%s%s:%s", i > 0 ? ", " : "",
                         shell_principal_kind(&ps[i]), ps[i].name != NULL ? ps[i].name : "");

        if (k < 0) {
            break;
        }
        off += (size_t)k;
    }
    return buf;
}

struct json_t *shell_principals_json(const struct policy_principal *ps, size_t n)
{
    json_t *arr = json_array();
    char one[300];

    for (size_t i = 0; arr != NULL && i < n; i++) {
        snprintf(one, sizeof(one), "%s:%s", shell_principal_kind(&ps[i]),
                 ps[i].name != NULL ? ps[i].name : "");
        if (json_array_append_new(arr, shell_json_string(one)) < 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

/* ---- text tables ---- */

struct shell_table {
    size_t ncols;
    size_t nrows; /* the header included */
    size_t cap;
    char **cells; /* nrows * ncols, each owned */
};

/* Columns a sanitized cell takes: one per UTF-8 character. */
static size_t shell_cell_width(const char *s)
{
    size_t w = 0;

    for (; *s != '\0'; s++) {
        w += ((unsigned char)*s & 0xc0) != 0x80;
    }
    return w;
}

struct shell_table *shell_table_new(size_t ncols, const char *const *headers)
{
    struct shell_table *t = NULL;

    if (ncols == 0 || ncols > SHELL_TABLE_COLS_MAX || (t = calloc(1, sizeof(*t))) == NULL) {
        return NULL;
    }
    t->ncols = ncols;
    if (shell_table_add(t, headers) != 0) {
        shell_table_free(t);
        return NULL;
    }
    return t;
}

int shell_table_add(struct shell_table *t, const char *const *cells)
{
    char shown[SHELL_TABLE_CELL_MAX + 1];

    if (t->nrows == t->cap) {
        size_t ncap = t->cap == 0 ? 16 : t->cap * 2;
        char **v = realloc(t->cells, ncap * t->ncols * sizeof(*v));

        if (v == NULL) {
            return DB_ERR_NOMEM;
        }
        t->cells = v;
        t->cap = ncap;
    }
    for (size_t i = 0; i < t->ncols; i++) {
        const char *s = cells[i] != NULL ? cells[i] : "";
        char **dst = &t->cells[t->nrows * t->ncols + i];

        shell_sanitize(shown, sizeof(shown), s, strlen(s), 0);
        if ((*dst = strdup(shown)) == NULL) {
            for (size_t k = 0; k < i; k++) {
                free(t->cells[t->nrows * t->ncols + k]);
            }
            return DB_ERR_NOMEM;
        }
    }
    t->nrows++;
    return 0;
}

void shell_table_print(struct shell_ctx *c, const struct shell_table *t)
{
    size_t width[SHELL_TABLE_COLS_MAX] = {0};
    size_t ncols = t->ncols;

    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t k = 0; k < ncols; k++) {
            size_t w = shell_cell_width(t->cells[r * t->ncols + k]);

            width[k] = w > width[k] ? w : width[k];
        }
    }
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t k = 0; k < ncols; k++) {
            const char *cell = t->cells[r * t->ncols + k];
            int pad = k + 1 < ncols ? (int)(width[k] - shell_cell_width(cell) + 2) : 0;

            shell_out(c, "%s%*s", cell, pad, "");
        }
        shell_out(c, "\n");
    }
}

void shell_table_free(struct shell_table *t)
{
    if (t == NULL) {
        return;
    }
    for (size_t i = 0; i < t->nrows * t->ncols; i++) {
        free(t->cells[i]);
    }
    free(t->cells);
    free(t);
}

/* ---- helpers for the reviewer commands ---- */

/* A session id as the store makes them: STORE_SESSION_ID_LEN characters of [a-z2-7]. */
static int shell_session_id_valid(const char *s)
{
    size_t i;

    for (i = 0; s[i] != '\0' && i < STORE_SESSION_ID_LEN; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '2' && s[i] <= '7'))) {
            return 0;
        }
    }
    return i == STORE_SESSION_ID_LEN && s[i] == '\0';
}

/* "session ID" for the audit, the ID as typed in printable form and cut (it may be anything). */
static void shell_review_object(struct shell_review *rv, const char *id)
{
    char shown[40];

    if (id == NULL) {
        snprintf(rv->object, sizeof(rv->object), "%s", rv->name);
        return;
    }
    shell_sanitize(shown, sizeof(shown), id, strlen(id), 1);
    snprintf(rv->object, sizeof(rv->object), "session %s", shown);
}

static int shell_review_write(struct shell_ctx *c, struct shell_review *rv, json_t *details,
                              const char *result)
{
    int rc = DB_ERR_NOMEM;

    if (details != NULL && json_object_set_new(details, "command", json_string(rv->name)) == 0 &&
        json_object_set_new(details, "result", shell_json_string(result)) == 0) {
        rc =
            access_audit_event(rv->a->store, shell_now(c), c->user, rv->event, rv->object, details);
    }
    json_decref(details);
    return rc;
}

int shell_review_begin(struct shell_ctx *c, const char *name, const char *const *spec, int takes_id,
                       int argc, char **argv, struct shell_opts *o, struct shell_review *rv)
{
    struct policy_subject who = shell_subject(c);
    char err[256];
    int r;

    memset(rv, 0, sizeof(*rv));
    rv->name = name;
    snprintf(rv->event, sizeof(rv->event), "review.%s", name);
    if ((rv->a = shell_access(c)) == NULL) {
        return SHELL_FAIL;
    }
    /* A quiet first parse only to name the object of a refusal. */
    r = shell_opts_parse(spec, argc, argv, o, err, sizeof(err));
    shell_review_object(rv, takes_id && r == 0 && o->npos > 0 ? o->pos[0] : NULL);
    if (!policy_is_reviewer(rv->a->policy, &who)) {
        json_t *d = json_pack("{ss}", "command", name);

        if (d != NULL) {
            (void)access_audit_event(rv->a->store, shell_now(c), c->user, "review.refused",
                                     rv->object, d);
            json_decref(d);
        }
        c->refusal = DB_ERR_DENIED;
        return shell_fail(c, "%s is for reviewers", name);
    }
    if ((r = shell_cmd_opts(c, spec, argc, argv, o)) != 0) {
        return r;
    }
    if (!takes_id) {
        return 0;
    }
    if (o->npos == 0) {
        return shell_usage(c, name, "a session id is required");
    }
    if (o->npos > 1) {
        return shell_usage(c, name, "too many arguments");
    }
    if (!shell_session_id_valid(o->pos[0])) {
        char shown[48], msg[160];

        shell_sanitize(shown, sizeof(shown), o->pos[0], strlen(o->pos[0]), 1);
        snprintf(msg, sizeof(msg),
                 "invalid session id '%s': expected %d letters and digits "
                 "as `sessions` lists them",
                 shown, STORE_SESSION_ID_LEN);
        return shell_usage(c, name, msg);
    }
    memcpy(rv->id, o->pos[0], STORE_SESSION_ID_LEN + 1);
    return 0;
}

int shell_review_ok(struct shell_ctx *c, struct shell_review *rv, struct json_t *details)
{
    int rc = shell_review_write(c, rv, details, "ok");

    if (rc != 0) {
        return shell_fail(c, "cannot write the audit record (%s); not going on", db_strerror(rc));
    }
    return 0;
}

int shell_review_refuse(struct shell_ctx *c, struct shell_review *rv, struct json_t *details,
                        const char *fmt, ...)
{
    char msg[600];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* The refusal stands whether or not its audit row could be written. */
    (void)shell_review_write(c, rv, details, msg);
    return shell_fail_text(c, msg);
}

int shell_review_session(struct shell_ctx *c, struct shell_review *rv, struct store_session *out)
{
    int rc = store_session_get(rv->a->store, rv->id, out);

    c->refusal = rc;
    if (rc == DB_ERR_NOTFOUND) {
        return shell_review_refuse(c, rv, json_object(), "no session %s", rv->id);
    }
    if (rc != 0) {
        return shell_review_refuse(c, rv, json_object(), "cannot read session %s: %s", rv->id,
                                   db_strerror(rc));
    }
    return 0;
}

/* state_dir/keys/recording.hmac: exactly REC_KEY_LEN bytes. */
static int shell_recording_key(const struct shell_ctx *c, unsigned char key[REC_KEY_LEN])
{
    char path[4096];
    ssize_t n;
    int fd;

    if (c->cfg == NULL || c->cfg->state_dir == NULL) {
        return DB_ERR_UNAVAIL;
    }
    keys_path(c->cfg, "recording.hmac", path, sizeof(path));
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        return DB_ERR_IO;
    }
    n = read(fd, key, REC_KEY_LEN);
    close(fd);
    return n == REC_KEY_LEN ? 0 : DB_ERR_IO;
}

int shell_recording_check(struct shell_ctx *c, const struct store_session *s,
                          enum rec_verdict *verdict, char *why, size_t whylen)
{
    unsigned char key[REC_KEY_LEN];
    int sealed = s->sha256[0] != '\0' && s->hmac[0] != '\0';
    int rc;

    *verdict = REC_MISSING;
    why[0] = '\0';
    if (s->expired_at != 0) {
        char when[SHELL_TIME_MAX];

        db_errf(why, whylen, "the recording of session %s expired by retention (%s)", s->id,
                shell_time(s->expired_at, when, sizeof(when)));
        return DB_ERR_NOTFOUND;
    }
    if (s->recording_path == NULL || s->recording_path[0] == '\0') {
        db_errf(why, whylen, "session %s has no recording", s->id);
        return DB_ERR_NOTFOUND;
    }
    if ((rc = shell_recording_key(c, key)) != 0) {
        db_errf(why, whylen, "the recording key cannot be read");
        return rc;
    }
    rc = rec_verify_file(s->recording_path, key, sealed ? s->sha256 : NULL, sealed ? s->hmac : NULL,
                         verdict, why, whylen);
    db_wipe(key, sizeof(key));
    if (rc != 0 && why[0] == '\0') {
        db_errf(why, whylen, "the recording cannot be checked: %s", db_strerror(rc));
    }
    return rc;
}

int shell_recording_usable(struct shell_ctx *c, struct shell_review *rv,
                           const struct store_session *s, const char *against,
                           const char *refusing, enum rec_verdict *verdict)
{
    char why[300] = "";

    if ((c->refusal = shell_recording_check(c, s, verdict, why, sizeof(why))) != 0) {
        return shell_review_refuse(c, rv, json_object(), "%s", why);
    }
    c->refusal = *verdict == REC_MISSING ? DB_ERR_NOTFOUND : DB_ERR_TAMPERED;
    if (*verdict == REC_MISSING) {
        return shell_review_refuse(c, rv, json_pack("{ss}", "verdict", "missing"),
                                   "the recording of session %s is missing", s->id);
    }
    if (*verdict == REC_TAMPERED) {
        return shell_review_refuse(c, rv, json_pack("{ss}", "verdict", "tampered"),
                                   "the recording of session %s does not match its %s (%s); %s",
                                   s->id, against, why, refusing);
    }
    return 0;
}

char *shell_session_label(const struct store_session *s, char *buf, size_t len)
{
    char raw[3 * STORE_NAME_MAX + 32];

    if (s->target[0] == '\0') {
        snprintf(raw, sizeof(raw), "%s (gateway shell)", s->user);
    } else {
        snprintf(raw, sizeof(raw), "%s@%s (%s)", s->user, s->target, s->login);
    }
    return shell_sanitize(buf, len, raw, strlen(raw), 0);
}

void shell_write_raw(struct shell_ctx *c, int is_err, const char *buf, size_t len)
{
    if (c != NULL && c->write != NULL && buf != NULL && len > 0) {
        (void)c->write(c->io, is_err, buf, len);
    }
}

static int shell_outq_room(struct shell_outq *q, size_t n)
{
    size_t ncap;
    char *nb;

    if (q->off > 0 && q->off == q->len) {
        q->off = q->len = 0;
    }
    if (q->len + n <= q->cap) {
        return 0;
    }
    /* Reuse what was written before growing. */
    if (q->off > 0) {
        memmove(q->buf, q->buf + q->off, q->len - q->off);
        q->len -= q->off;
        q->off = 0;
        if (q->len + n <= q->cap) {
            return 0;
        }
    }
    ncap = q->cap ? q->cap : 4096;
    while (ncap < q->len + n) {
        ncap *= 2;
    }
    if ((nb = realloc(q->buf, ncap)) == NULL) {
        return DB_ERR_NOMEM;
    }
    q->buf = nb;
    q->cap = ncap;
    return 0;
}

int shell_outq_add(struct shell_outq *q, const void *p, size_t n, int crlf)
{
    const char *s = p;

    if (n == 0) {
        return 0;
    }
    if (shell_outq_room(q, crlf ? 2 * n : n) != 0) {
        return DB_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        if (crlf && s[i] == '\n' && q->last != '\r') {
            q->buf[q->len++] = '\r';
        }
        q->buf[q->len++] = s[i];
        q->last = s[i];
    }
    return 0;
}

size_t shell_outq_flush(struct shell_ctx *c, struct shell_outq *q, int is_err, size_t max)
{
    size_t n = q->len - q->off;

    if (n > max) {
        n = max;
    }
    shell_write_raw(c, is_err, q->buf + q->off, n);
    q->off += n;
    return q->len - q->off;
}

void shell_outq_free(struct shell_outq *q)
{
    free(q->buf);
    memset(q, 0, sizeof(*q));
}

int shell_job_quit_key(const char *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (buf[i] == 'q' || buf[i] == 'Q' || buf[i] == 0x03) {
            return 1;
        }
    }
    return 0;
}

int shell_id_reason(struct shell_ctx *c, int argc, char **argv, const char *what,
                    struct shell_opts *o, long long *id, const char **reason)
{
    static const char *const spec[] = {"reason=", NULL};
    char err[512] = "";
    int r;

    *id = 0;
    *reason = NULL;
    if ((r = shell_cmd_opts(c, spec, argc, argv, o)) != 0) {
        return r;
    }
    if (o->npos != 1) {
        return shell_usage(c, argv[0], o->npos == 0 ? (strcmp(what, "grant") == 0
                                                          ? "a grant number is required"
                                                          : "a request number is required")
                                                    : "too many arguments");
    }
    if ((r = shell_parse_id(c, argv[0], o->pos[0], id)) != 0) {
        return r;
    }
    if (shell_opt(o, "reason") == NULL) {
        return shell_usage(c, argv[0], "--reason TEXT is required");
    }
    if (access_check_text("reason", shell_opt(o, "reason"), 1, err, sizeof(err)) != 0) {
        return shell_refuse(c, DB_ERR_INVALID, err);
    }
    *reason = shell_opt(o, "reason");
    return SHELL_OK;
}

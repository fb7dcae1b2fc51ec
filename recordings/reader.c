/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The recording reader: the header and then one event per line, each line
 * parsed by jansson with its explicit length (never as a C string, never
 * past REC_LINE_MAX), and the data of each event decoded back to the exact
 * bytes the writer was given: U+EF80..U+EFFF back to single bytes in text
 * events, base64 in binary ones.  A recording is untrusted input (it may
 * have been edited), so every field is checked and every refusal says
 * "line N: why".
 */
#include "recording.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <lz4.h>

#define READ_FILE_MAX (4ULL << 30)

struct rec_reader {
    const char *buf;
    size_t len, pos;
    char *owned; /* the file's bytes, for rec_reader_open_file */
    struct rec_header h;
    int lineno;
    double prev;
    unsigned char *data;
    size_t cap;
};

static int r_grow(unsigned char **buf, size_t *cap, size_t need)
{
    unsigned char *nb;

    if (need <= *cap) {
        return 0;
    }
    nb = realloc(*buf, need);
    if (nb == NULL) {
        return DB_ERR_NOMEM;
    }
    *buf = nb;
    *cap = need;
    return 0;
}

/* obj[key] as a decoded C string; absent: NULL and 0; wrong type or a NUL inside: -1. */
static int r_str(json_t *obj, const char *key, char **out)
{
    json_t *v = json_object_get(obj, key);
    size_t n;

    *out = NULL;
    if (v == NULL || json_is_null(v)) {
        return 0;
    }
    if (!json_is_string(v)) {
        return -1;
    }
    n = json_string_length(v);
    if ((*out = malloc(n + 1)) == NULL) {
        return -1;
    }
    n = rec_pua_decode(json_string_value(v), n, (unsigned char *)*out);
    (*out)[n] = '\0';
    if (strlen(*out) != n) {
        free(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

/* obj[key] as an integer in [lo, hi]; absent: def (or -1 when required). */
static int r_int(json_t *obj, const char *key, long long lo, long long hi, int required,
                 long long *out)
{
    json_t *v = json_object_get(obj, key);

    if (v == NULL) {
        return required ? -1 : 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        return -1;
    }
    *out = json_integer_value(v);
    return 0;
}

void rec_header_clear(struct rec_header *h)
{
    free(h->term);
    free(h->title);
    free(h->session);
    free(h->user);
    free(h->target);
    free(h->login);
    free(h->kind);
    free(h->command);
    memset(h, 0, sizeof(*h));
}

int rec_parse_header(const char *line, size_t len, struct rec_header *h, char *err, size_t errlen)
{
    static const char *const keys[] = {"session", "user", "target", "login", "kind", "command"};
    json_error_t je;
    json_t *j = NULL, *d, *env, *ri;
    char **dst[] = {&h->session, &h->user, &h->target, &h->login, &h->kind, &h->command};
    long long v[6] = {0, 0, 0, 0, 0, 0};
    const char *bad = NULL;
    int r = DB_ERR_INVALID;

    memset(h, 0, sizeof(*h));
    j = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
    if (j == NULL) {
        db_errf(err, errlen, "line 1: not JSON: %s (column %d)", je.text, je.column);
        goto out;
    }
    if (!json_is_object(j)) {
        db_errf(err, errlen, "line 1: the header is not a JSON object");
        goto out;
    }
    if (r_int(j, "version", 2, 2, 1, &v[0]) != 0) {
        db_errf(err, errlen, "line 1: not asciicast version 2");
        goto out;
    }
    bad = r_int(j, "width", 1, 65535, 1, &v[1]) != 0             ? "width"
          : r_int(j, "height", 1, 65535, 1, &v[2]) != 0          ? "height"
          : r_int(j, "timestamp", 0, (1LL << 53), 0, &v[3]) != 0 ? "timestamp"
          : r_str(j, "title", &h->title) != 0                    ? "title"
                                                                 : NULL;
    env = json_object_get(j, "env");
    if (bad == NULL && env != NULL && (!json_is_object(env) || r_str(env, "TERM", &h->term))) {
        bad = "env";
    }
    d = json_object_get(j, "drawbridge");
    if (bad == NULL && !json_is_object(d)) {
        db_errf(err, errlen, "line 1: not a drawbridge recording (no \"drawbridge\" object)");
        goto out;
    }
    if (bad == NULL && r_int(d, "format", 1, REC_FORMAT, 1, &v[4]) != 0) {
        db_errf(err, errlen, "line 1: not drawbridge recording format 1 to %d", REC_FORMAT);
        goto out;
    }
    for (size_t i = 0; bad == NULL && i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (r_str(d, keys[i], dst[i]) != 0) {
            bad = keys[i];
        }
    }
    if (bad == NULL && r_int(d, "grant", 0, (1LL << 53), 0, &v[5]) != 0) {
        bad = "grant";
    }
    ri = json_object_get(d, "record_input");
    if (bad == NULL && !json_is_boolean(ri)) {
        bad = "record_input";
    }
    if (bad != NULL) {
        db_errf(err, errlen, "line 1: bad or missing \"%s\" in the header", bad);
        goto out;
    }
    h->version = (int)v[0];
    h->width = (int)v[1];
    h->height = (int)v[2];
    h->timestamp = v[3];
    h->format = (int)v[4];
    h->grant = v[5];
    h->record_input = json_is_true(ri);
    r = 0;
out:
    json_decref(j);
    if (r != 0) {
        rec_header_clear(h);
    }
    return r;
}

/* what a "zo"/"zi" event may hold: an event's bytes, those that waited, the NUL after */
#define R_Z_OUT (REC_EVENT_IN_MAX + 4 + 1)

static const char *const r_codes[] = {"o", "i", "bo", "bi", "zo", "zi", "r", "m", "c", "e"};

/* "COLSxROWS", each 1..65535 without leading zeros or signs. */
static int r_size_ok(const char *s, size_t n)
{
    size_t i = 0;

    for (int part = 0; part < 2; part++) {
        size_t start = i;
        long v = 0;

        while (i < n && s[i] >= '0' && s[i] <= '9' && i - start < 6) {
            v = v * 10 + (s[i++] - '0');
        }
        if (i == start || s[start] == '0' || v > 65535) {
            return 0;
        }
        if (part == 0 && (i >= n || s[i++] != 'x')) {
            return 0;
        }
    }
    return i == n;
}

static int r_hex_ok(const char *s, size_t n)
{
    if (n != REC_HEX_LEN) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return 0;
        }
    }
    return 1;
}

int rec_parse_event(const char *line, size_t len, int lineno, double prev, struct rec_event *ev,
                    unsigned char **buf, size_t *cap, char *err, size_t errlen)
{
    json_error_t je;
    json_t *j = NULL, *jt, *jc, *jd;
    const char *code, *s;
    size_t n, k;
    int r = DB_ERR_INVALID;
    double t;

    memset(ev, 0, sizeof(*ev));
    if (len == 0) {
        db_errf(err, errlen, "line %d: empty line", lineno);
        goto out;
    }
    j = json_loadb(line, len, JSON_ALLOW_NUL, &je);
    if (j == NULL) {
        db_errf(err, errlen, "line %d: not JSON: %s (column %d)", lineno, je.text, je.column);
        goto out;
    }
    if (!json_is_array(j) || json_array_size(j) != 3) {
        db_errf(err, errlen, "line %d: an event is an array [time, code, data]", lineno);
        goto out;
    }
    jt = json_array_get(j, 0);
    jc = json_array_get(j, 1);
    jd = json_array_get(j, 2);
    t = json_is_number(jt) ? json_number_value(jt) : -1;
    if (!isfinite(t) || t < 0 || t > 1e12) {
        db_errf(err, errlen, "line %d: the time is not a number of seconds", lineno);
        goto out;
    }
    if (t < prev) {
        db_errf(err, errlen, "line %d: time goes backwards (%.6f after %.6f)", lineno, t, prev);
        goto out;
    }
    code = json_is_string(jc) ? json_string_value(jc) : "";
    for (k = 0; k < sizeof(r_codes) / sizeof(r_codes[0]); k++) {
        if (strcmp(code, r_codes[k]) == 0 && strlen(code) == json_string_length(jc)) {
            break;
        }
    }
    if (k == sizeof(r_codes) / sizeof(r_codes[0])) {
        db_errf(err, errlen, "line %d: unknown event code", lineno);
        goto out;
    }
    if (!json_is_string(jd)) {
        db_errf(err, errlen, "line %d: the data of an event is a string", lineno);
        goto out;
    }
    s = json_string_value(jd);
    n = json_string_length(jd);
    if ((r = r_grow(buf, cap, n + 1)) != 0) {
        db_errf(err, errlen, "line %d: out of memory", lineno);
        goto out;
    }
    r = DB_ERR_INVALID;
    if (code[0] == 'z') {
        /* base64 of an LZ4 block, decoded past the largest event, then the block to the front */
        size_t zn;
        int dn;

        if ((r = r_grow(buf, cap, R_Z_OUT + n + 1)) != 0) {
            db_errf(err, errlen, "line %d: out of memory", lineno);
            goto out;
        }
        r = DB_ERR_INVALID;
        if (rec_b64_decode(s, n, *buf + R_Z_OUT, &zn) != 0 || zn > INT_MAX) {
            db_errf(err, errlen, "line %d: the data is not canonical base64", lineno);
            goto out;
        }
        dn = zn == 0 ? -1
                     : LZ4_decompress_safe((const char *)*buf + R_Z_OUT, (char *)*buf, (int)zn,
                                           (int)R_Z_OUT - 1);
        if (dn <= 0) {
            db_errf(err, errlen, "line %d: the data is not an LZ4 block of at most %u bytes",
                    lineno, (unsigned)R_Z_OUT - 1);
            goto out;
        }
        n = (size_t)dn;
        code = code[1] == 'o' ? "bo" : "bi"; /* the same bytes as a "bo"/"bi" event */
    } else if (code[0] == 'b') {
        if (rec_b64_decode(s, n, *buf, &n) != 0) {
            db_errf(err, errlen, "line %d: the data is not canonical base64", lineno);
            goto out;
        }
    } else if (code[0] == 'o' || code[0] == 'i' || code[0] == 'm' || code[0] == 'e') {
        n = rec_pua_decode(s, n, *buf);
    } else if ((code[0] == 'r' && !r_size_ok(s, n)) || (code[0] == 'c' && !r_hex_ok(s, n))) {
        db_errf(err, errlen, "line %d: bad data for a \"%s\" event", lineno, code);
        goto out;
    } else {
        memcpy(*buf, s, n);
    }
    (*buf)[n] = '\0';
    ev->time = t;
    memcpy(ev->code, code, strlen(code) + 1);
    ev->data = *buf;
    ev->len = n;
    ev->line = lineno;
    r = 0;
out:
    json_decref(j);
    return r;
}

/* The next line without its newline, or an error saying why there is none. */
static int r_line(struct rec_reader *r, const char **line, size_t *len, char *err, size_t errlen)
{
    size_t avail = r->len - r->pos;
    const char *p = r->buf + r->pos, *nl;

    nl = memchr(p, '\n', avail < REC_LINE_MAX + 1 ? avail : REC_LINE_MAX + 1);
    if (nl == NULL) {
        db_errf(err, errlen, "line %d: %s", r->lineno + 1,
                avail > REC_LINE_MAX ? "longer than 16 MiB" : "truncated (no newline at the end)");
        return DB_ERR_INVALID;
    }
    *line = p;
    *len = (size_t)(nl - p);
    r->pos += *len + 1;
    r->lineno++;
    return 0;
}

int rec_reader_open_buf(const char *buf, size_t len, struct rec_reader **out, char *err,
                        size_t errlen)
{
    struct rec_reader *r = NULL;
    const char *line;
    size_t n;
    int rc = DB_ERR_INVALID;

    *out = NULL;
    if (buf == NULL && len > 0) {
        db_errf(err, errlen, "no buffer");
        return DB_ERR_INVALID;
    }
    if ((r = calloc(1, sizeof(*r))) == NULL) {
        db_errf(err, errlen, "out of memory");
        return DB_ERR_NOMEM;
    }
    r->buf = buf != NULL ? buf : "";
    r->len = len;
    if ((rc = r_line(r, &line, &n, err, errlen)) != 0 ||
        (rc = rec_parse_header(line, n, &r->h, err, errlen)) != 0) {
        rec_reader_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

int rec_reader_open_file(const char *path, struct rec_reader **out, char *err, size_t errlen)
{
    struct stat sb;
    char *buf = NULL;
    size_t got = 0;
    int fd = -1, rc = DB_ERR_IO;

    *out = NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 || fstat(fd, &sb) != 0) {
        rc = errno == ENOENT ? DB_ERR_NOTFOUND : DB_ERR_IO;
        db_errf(err, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(sb.st_mode) || (unsigned long long)sb.st_size > READ_FILE_MAX) {
        rc = DB_ERR_INVALID;
        db_errf(err, errlen, "%s: not a regular file of at most 4 GiB", path);
        goto out;
    }
    if ((buf = malloc((size_t)sb.st_size + 1)) == NULL) {
        rc = DB_ERR_NOMEM;
        db_errf(err, errlen, "%s: out of memory", path);
        goto out;
    }
    while (got < (size_t)sb.st_size) {
        ssize_t k = read(fd, buf + got, (size_t)sb.st_size - got);

        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k <= 0) {
            db_errf(err, errlen, "%s: %s", path, k < 0 ? strerror(errno) : "shrank while read");
            goto out;
        }
        got += (size_t)k;
    }
    if ((rc = rec_reader_open_buf(buf, got, out, err, errlen)) == 0) {
        (*out)->owned = buf;
        buf = NULL;
    }
out:
    free(buf);
    if (fd >= 0) {
        close(fd);
    }
    return rc;
}

const struct rec_header *rec_reader_header(const struct rec_reader *r)
{
    return r != NULL ? &r->h : NULL;
}

int rec_reader_next(struct rec_reader *r, struct rec_event *ev, char *err, size_t errlen)
{
    const char *line;
    size_t n;
    int rc;

    memset(ev, 0, sizeof(*ev));
    if (r->pos == r->len) {
        return 0;
    }
    if ((rc = r_line(r, &line, &n, err, errlen)) != 0 ||
        (rc = rec_parse_event(line, n, r->lineno, r->prev, ev, &r->data, &r->cap, err, errlen)) !=
            0) {
        return rc;
    }
    r->prev = ev->time;
    return 1;
}

void rec_reader_free(struct rec_reader *r)
{
    if (r == NULL) {
        return;
    }
    rec_header_clear(&r->h);
    free(r->data);
    free(r->owned);
    free(r);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Checks one recording (FORMAT.md, "Integrity").  A closed session's file
 * must hash to what the store sealed, byte for byte: SHA-256 and HMAC.  A
 * file that never closed (the gateway was killed) is judged by its own
 * checkpoints: each must be the HMAC of every byte before it, the lines they
 * cover must parse, and what follows the last one can only be the start of
 * what a crash interrupted -- "truncated".  A clean end (an "e" event and a
 * last checkpoint, nothing after) makes an unsealed file "ok".
 *
 * Format 2 MACs the SHA-256 of the bytes (HMAC-SHA256(K, SHA-256(bytes))),
 * format 1 the bytes themselves (HMAC-SHA256(K, bytes)); the header says
 * which, and a file edited to claim the other format fails its checkpoints
 * and its seal all the same.
 *
 * The file is read in chunks, never whole, so a large recording costs a
 * line's worth of memory; the sealed check hashes it once (reading only its
 * header line for the format) and parses it only to explain a mismatch.
 */
#include "recording.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>

#define V_CHUNK (256u * 1024)

struct v_state {
    const unsigned char *key;
    int format;        /* the header's; 0 until it is read */
    EVP_MAC_CTX *mac;  /* keyed, never fed: copied for each HMAC */
    EVP_MD_CTX *sha;   /* the whole file (sealed check) */
    EVP_MAC_CTX *hmac; /* the whole file, while it may be format 1 (sealed check) */
    /* the lines so far, for checkpoints: run_sha in format 2, run_mac in format 1 */
    EVP_MD_CTX *run_sha;
    EVP_MAC_CTX *run_mac;
    int analyse;  /* split lines and parse them */
    int sniffing; /* sealed check: still reading the header line for the format */
    char *lb;     /* the current line, grown as needed up to REC_LINE_MAX + 1 */
    size_t lblen, lbcap;
    int skipping; /* inside a line too long to hold */
    int lineno;
    double prev;
    unsigned char *data;
    size_t cap;
    int bad_line; /* the first line that does not parse, 0: none */
    char bad_why[160];
    int ck_line, nck; /* the last checkpoint that holds, and how many */
    int e_line;       /* the end event */
    char e_time[24];  /* its time, as written */
    int closed;       /* the last line is the checkpoint after the end event */
    int tampered;
    char why[320];
    unsigned long long tail_lines; /* complete lines after the last checkpoint */
};

static EVP_MAC_CTX *v_hmac_new(const unsigned char *key)
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *c = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
    OSSL_PARAM params[2];

    EVP_MAC_free(mac);
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    if (c != NULL && EVP_MAC_init(c, key, REC_KEY_LEN, params) != 1) {
        EVP_MAC_CTX_free(c);
        c = NULL;
    }
    return c;
}

/* HMAC-SHA256(K, digest), a SHA-256. */
static int v_mac_digest(struct v_state *v, const unsigned char digest[32], unsigned char mac[32])
{
    EVP_MAC_CTX *m = EVP_MAC_CTX_dup(v->mac);
    size_t n = 0;
    int ok = m != NULL && EVP_MAC_update(m, digest, 32) == 1 &&
             EVP_MAC_final(m, mac, &n, 32) == 1 && n == 32;

    EVP_MAC_CTX_free(m);
    return ok ? 0 : DB_ERR_INTERNAL;
}

/* The checkpoint the lines so far call for, in hex, leaving the running hash as it was. */
static int v_peek(struct v_state *v, char hex[REC_HEX_LEN + 1])
{
    unsigned char mac[32];
    size_t n = 0;
    EVP_MAC_CTX *d = NULL;
    int ok;

    if (v->run_mac != NULL) {
        d = EVP_MAC_CTX_dup(v->run_mac);
        ok = d != NULL && EVP_MAC_final(d, mac, &n, sizeof(mac)) == 1 && n == 32;
        EVP_MAC_CTX_free(d);
    } else {
        unsigned char digest[32];
        unsigned int dn = 0;
        EVP_MD_CTX *copy = EVP_MD_CTX_new();

        ok = copy != NULL && v->run_sha != NULL && EVP_MD_CTX_copy_ex(copy, v->run_sha) == 1 &&
             EVP_DigestFinal_ex(copy, digest, &dn) == 1 && dn == 32 &&
             v_mac_digest(v, digest, mac) == 0;
        EVP_MD_CTX_free(copy);
    }
    if (ok) {
        rec_hex(mac, 32, hex);
    }
    return ok ? 0 : DB_ERR_INTERNAL;
}

/*
 * Hashes bytes of lines for the checkpoints.  The running hash is made when
 * first needed, by then the header has said which format (a file without a
 * header that parses is taken as the current format: it fails anyway).
 */
static int v_run(struct v_state *v, const void *p, size_t n)
{
    if (v->run_sha == NULL && v->run_mac == NULL) {
        if (v->format == 1) {
            v->run_mac = EVP_MAC_CTX_dup(v->mac);
        } else if ((v->run_sha = EVP_MD_CTX_new()) != NULL &&
                   EVP_DigestInit_ex(v->run_sha, EVP_sha256(), NULL) != 1) {
            EVP_MD_CTX_free(v->run_sha);
            v->run_sha = NULL;
        }
        if (v->run_sha == NULL && v->run_mac == NULL) {
            return DB_ERR_INTERNAL;
        }
    }
    if (v->run_mac != NULL) {
        return EVP_MAC_update(v->run_mac, p, n) == 1 ? 0 : DB_ERR_INTERNAL;
    }
    return EVP_DigestUpdate(v->run_sha, p, n) == 1 ? 0 : DB_ERR_INTERNAL;
}

static void v_bad(struct v_state *v, const char *why)
{
    if (v->bad_line == 0) {
        v->bad_line = v->lineno;
        snprintf(v->bad_why, sizeof(v->bad_why), "%s", why);
    }
}

/*
 * The time at the start of a line, as written: digits, a dot, six digits.
 * Returns its length, or 0 when it is not in the writer's form.
 */
static size_t v_time_text(const char *line, size_t len)
{
    size_t i = 1;

    while (i < len && i < 20 && line[i] >= '0' && line[i] <= '9') {
        i++;
    }
    if (line[0] != '[' || i == 1 || i + 7 > len || line[i] != '.') {
        return 0;
    }
    for (size_t k = i + 1; k < i + 7; k++) {
        if (line[k] < '0' || line[k] > '9') {
            return 0;
        }
    }
    return i + 7;
}

/*
 * A checkpoint covers the bytes before its line, not the line itself, so the
 * line must be exactly as the writer writes it -- and the last one, which no
 * later checkpoint covers, must have the time of the end event before it.
 */
static int v_checkpoint_form(struct v_state *v, const char *line, size_t len, int closing)
{
    size_t t = v_time_text(line, len);

    if (t == 0 || len != t + 8 + REC_HEX_LEN + 2 || memcmp(line + t, ", \"c\", \"", 8) != 0 ||
        memcmp(line + len - 2, "\"]", 2) != 0) {
        return 0;
    }
    return !closing || (strlen(v->e_time) == t - 1 && memcmp(v->e_time, line + 1, t - 1) == 0);
}

/* One complete line (without its newline); v->run has seen every line before it. */
static int v_line(struct v_state *v, const char *line, size_t len)
{
    struct rec_header h;
    struct rec_event ev;
    char err[160], hex[REC_HEX_LEN + 1];

    v->lineno++;
    v->tail_lines++;
    if (v->closed) {
        v->closed = 0;
        v->tampered = 1;
        snprintf(v->why, sizeof(v->why), "line %d: bytes after the end of the recording",
                 v->lineno);
    } else if (v->lineno == 1) {
        if (rec_parse_header(line, len, &h, err, sizeof(err)) != 0) {
            v_bad(v, err);
        } else {
            v->format = h.format;
        }
        rec_header_clear(&h);
    } else if (rec_parse_event(line, len, v->lineno, v->prev, &ev, &v->data, &v->cap, err,
                               sizeof(err)) != 0) {
        v_bad(v, err);
    } else if (v->e_line != 0 && strcmp(ev.code, "c") != 0) {
        snprintf(err, sizeof(err), "line %d: an event after the end event", v->lineno);
        v_bad(v, err);
    } else if (strcmp(ev.code, "c") == 0 &&
               !v_checkpoint_form(v, line, len, v->e_line != 0 && v->e_line == v->lineno - 1)) {
        snprintf(err, sizeof(err), "line %d: a checkpoint not as the writer writes it", v->lineno);
        v_bad(v, err);
    } else if (strcmp(ev.code, "c") == 0) {
        if (v_peek(v, hex) != 0) {
            return DB_ERR_INTERNAL;
        }
        if (memcmp(hex, ev.data, REC_HEX_LEN) != 0) {
            v->tampered = 1;
            snprintf(v->why, sizeof(v->why),
                     "line %d: checkpoint does not match the bytes before it", v->lineno);
        } else if (v->bad_line != 0) {
            v->tampered = 1;
            snprintf(v->why, sizeof(v->why), "%s (under the checkpoint of line %d)", v->bad_why,
                     v->lineno);
        } else {
            v->ck_line = v->lineno;
            v->nck++;
            v->tail_lines = 0;
            v->closed = v->e_line != 0 && v->e_line == v->lineno - 1;
            if (v->e_line != 0 && !v->closed) {
                v_bad(v, "a checkpoint after the end");
            }
        }
        v->prev = ev.time;
    } else {
        if (strcmp(ev.code, "e") == 0) {
            size_t t = v_time_text(line, len);

            v->e_line = v->lineno;
            if (t > 0 && t - 1 < sizeof(v->e_time)) {
                memcpy(v->e_time, line + 1, t - 1);
                v->e_time[t - 1] = '\0';
            }
        }
        v->prev = ev.time;
    }
    if (v_run(v, line, len) != 0 || v_run(v, "\n", 1) != 0) {
        return DB_ERR_INTERNAL;
    }
    return 0;
}

static int v_chunk(struct v_state *v, const char *p, size_t n)
{
    while (n > 0 && !v->tampered) {
        const char *nl = memchr(p, '\n', n);
        size_t seg = nl != NULL ? (size_t)(nl - p) + 1 : n;

        if (!v->skipping && v->lblen + seg > REC_LINE_MAX + 1) {
            /* too long to be ours: hash it as it passes, and say so */
            if (v_run(v, v->lb, v->lblen) != 0) {
                return DB_ERR_INTERNAL;
            }
            v->lblen = 0;
            v->skipping = 1;
        }
        if (!v->skipping && v->lblen + seg > v->lbcap) {
            size_t cap = v->lbcap * 2 > v->lblen + seg ? v->lbcap * 2 : v->lblen + seg;
            char *nb = realloc(v->lb, cap < REC_LINE_MAX + 1 ? cap : REC_LINE_MAX + 1);

            if (nb == NULL) {
                return DB_ERR_NOMEM;
            }
            v->lb = nb;
            v->lbcap = cap < REC_LINE_MAX + 1 ? cap : REC_LINE_MAX + 1;
        }
        if (v->skipping) {
            if (v_run(v, p, seg) != 0) {
                return DB_ERR_INTERNAL;
            }
        } else {
            memcpy(v->lb + v->lblen, p, seg);
            v->lblen += seg;
        }
        if (nl != NULL) {
            if (v->skipping) {
                v->lineno++;
                v->tail_lines++;
                v_bad(v, "a line longer than 16 MiB");
                v->closed = 0;
                v->skipping = 0;
            } else if (v_line(v, v->lb, v->lblen - 1) != 0) {
                return DB_ERR_INTERNAL;
            }
            v->lblen = 0;
        }
        p += seg;
        n -= seg;
    }
    return 0;
}

/*
 * The sealed check reads the header line only, for the format: until then
 * the file is HMAC'd as format 1 would want it as well.  A header that is
 * too long or does not parse leaves the format unknown (the file cannot
 * match a seal the writer made).
 */
static void v_sniff(struct v_state *v, const char *p, size_t n)
{
    const char *nl = memchr(p, '\n', n);
    size_t seg = nl != NULL ? (size_t)(nl - p) : n;
    struct rec_header h;
    char err[160];

    if (v->lblen + seg > REC_LINE_MAX) {
        v->sniffing = 0;
        return;
    }
    if (seg > 0 && v->lblen + seg > v->lbcap) {
        char *nb = realloc(v->lb, v->lblen + seg);

        if (nb == NULL) {
            v->sniffing = 0;
            return;
        }
        v->lb = nb;
        v->lbcap = v->lblen + seg;
    }
    if (seg > 0) {
        memcpy(v->lb + v->lblen, p, seg);
        v->lblen += seg;
    }
    if (nl == NULL) {
        return;
    }
    v->sniffing = 0;
    if (v->lblen > 0 && rec_parse_header(v->lb, v->lblen, &h, err, sizeof(err)) == 0) {
        v->format = h.format;
        rec_header_clear(&h);
    }
    v->lblen = 0;
    if (v->format != 1) {
        EVP_MAC_CTX_free(v->hmac); /* format 2: the seal is the HMAC of the SHA-256 */
        v->hmac = NULL;
    }
}

/* Reads fd from the start: hashes every byte (sealed check) or analyses lines. */
static int v_scan(int fd, struct v_state *v, char *why, size_t whylen)
{
    char *buf = malloc(V_CHUNK);
    int r = DB_ERR_IO;

    if (buf == NULL) {
        r = DB_ERR_NOMEM;
        db_errf(why, whylen, "out of memory");
        goto out;
    }
    if (lseek(fd, 0, SEEK_SET) != 0) {
        db_errf(why, whylen, "cannot seek: %s", strerror(errno));
        goto out;
    }
    for (;;) {
        ssize_t k = read(fd, buf, V_CHUNK);

        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k < 0) {
            db_errf(why, whylen, "cannot read: %s", strerror(errno));
            goto out;
        }
        if (k == 0) {
            break;
        }
        if (!v->analyse) {
            if (v->sniffing) {
                v_sniff(v, buf, (size_t)k);
            }
            EVP_DigestUpdate(v->sha, buf, (size_t)k);
            if (v->hmac != NULL) {
                EVP_MAC_update(v->hmac, (unsigned char *)buf, (size_t)k);
            }
        } else if ((r = v_chunk(v, buf, (size_t)k)) != 0) {
            db_errf(why, whylen, "%s", db_strerror(r));
            goto out;
        }
        r = DB_ERR_IO;
    }
    r = 0;
out:
    free(buf);
    return r;
}

/* The verdict of the line analysis, for an unsealed file. */
static enum rec_verdict v_judge(struct v_state *v, char *why, size_t whylen)
{
    int partial = v->lblen > 0 || v->skipping;

    if (v->tampered) {
        db_errf(why, whylen, "%s", v->why);
        return REC_TAMPERED;
    }
    if (v->closed && !partial) {
        db_errf(why, whylen, "%d checkpoints hold and the recording ends cleanly at line %d",
                v->nck, v->ck_line);
        return REC_OK;
    }
    if (v->closed && partial) {
        db_errf(why, whylen, "bytes after the end of the recording (line %d)", v->lineno + 1);
        return REC_TAMPERED;
    }
    if (v->bad_line != 0) {
        /* a crash leaves whole events and at most one partial line, never a bad whole line */
        db_errf(why, whylen, "%s (after the last checkpoint)", v->bad_why);
        return REC_TAMPERED;
    }
    if (v->nck == 0) {
        db_errf(why, whylen, "no checkpoint: the recording stops before its first flush");
        return REC_TRUNCATED;
    }
    db_errf(why, whylen,
            "%d checkpoints hold; the recording stops after the checkpoint of line %d "
            "(then %llu unverified line(s)%s)",
            v->nck, v->ck_line, v->tail_lines, partial ? " and a partial line" : "");
    return REC_TRUNCATED;
}

static int v_hex_ok(const char *s)
{
    size_t n = strlen(s);

    if (n != REC_HEX_LEN) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
            return 0;
        }
    }
    return 1;
}

/* Opens path for reading; *out set when the answer is already known. */
static int v_open(const char *path, int *fd, enum rec_verdict *out, int *known, char *why,
                  size_t whylen)
{
    struct stat sb;

    *known = 0;
    *fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (*fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR) {
            *out = REC_MISSING;
            *known = 1;
            db_errf(why, whylen, "%s: no such file", path);
            return 0;
        }
        if (errno == ELOOP) {
            *out = REC_TAMPERED;
            *known = 1;
            db_errf(why, whylen, "%s: a symbolic link where a recording should be", path);
            return 0;
        }
        db_errf(why, whylen, "%s: %s", path, strerror(errno));
        return DB_ERR_IO;
    }
    if (fstat(*fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        *out = REC_TAMPERED;
        *known = 1;
        db_errf(why, whylen, "%s: not a regular file", path);
    }
    return 0;
}

/* The sealed check's SHA-256 and HMAC of the whole file, as its format defines them. */
static int v_finish(struct v_state *v, char sha[REC_HEX_LEN + 1], char mac[REC_HEX_LEN + 1])
{
    unsigned char a[32], b[32];
    unsigned int na = 0;
    size_t nb = 0;

    if (EVP_DigestFinal_ex(v->sha, a, &na) != 1 || na != 32) {
        return DB_ERR_INTERNAL;
    }
    if (v->format == 1 && v->hmac != NULL) {
        if (EVP_MAC_final(v->hmac, b, &nb, sizeof(b)) != 1 || nb != 32) {
            return DB_ERR_INTERNAL;
        }
    } else if (v_mac_digest(v, a, b) != 0) {
        return DB_ERR_INTERNAL;
    }
    rec_hex(a, 32, sha);
    rec_hex(b, 32, mac);
    return 0;
}

static int v_init(struct v_state *v, const unsigned char *key, int analyse)
{
    memset(v, 0, sizeof(*v));
    v->key = key;
    v->analyse = analyse;
    v->mac = v_hmac_new(key);
    if (v->mac == NULL) {
        return DB_ERR_INTERNAL;
    }
    if (!analyse) {
        v->sniffing = 1;
        v->sha = EVP_MD_CTX_new();
        v->hmac = EVP_MAC_CTX_dup(v->mac);
        if (v->sha == NULL || v->hmac == NULL ||
            EVP_DigestInit_ex(v->sha, EVP_sha256(), NULL) != 1) {
            return DB_ERR_INTERNAL;
        }
    }
    return 0;
}

static void v_clear(struct v_state *v)
{
    EVP_MAC_CTX_free(v->mac);
    EVP_MD_CTX_free(v->sha);
    EVP_MAC_CTX_free(v->hmac);
    EVP_MD_CTX_free(v->run_sha);
    EVP_MAC_CTX_free(v->run_mac);
    free(v->lb);
    free(v->data);
    memset(v, 0, sizeof(*v));
}

const char *rec_verdict_name(enum rec_verdict v)
{
    switch (v) {
    case REC_OK:
        return "ok";
    case REC_TRUNCATED:
        return "truncated";
    case REC_TAMPERED:
        return "tampered";
    case REC_MISSING:
        return "missing";
    }
    return "?";
}

int rec_verify_file(const char *path, const unsigned char key[REC_KEY_LEN],
                    const char *sealed_sha256, const char *sealed_hmac, enum rec_verdict *out,
                    char *why, size_t whylen)
{
    struct v_state v;
    char sha[REC_HEX_LEN + 1], mac[REC_HEX_LEN + 1], detail[320];
    int fd = -1, known = 0, sealed = sealed_sha256 != NULL || sealed_hmac != NULL, r;

    memset(&v, 0, sizeof(v));
    db_errf(why, whylen, "not checked");
    *out = REC_TAMPERED;
    if (path == NULL || key == NULL ||
        (sealed && (sealed_sha256 == NULL || sealed_hmac == NULL || !v_hex_ok(sealed_sha256) ||
                    !v_hex_ok(sealed_hmac)))) {
        db_errf(why, whylen, "a path, a key and either both sealed hashes (hex) or neither");
        return DB_ERR_INVALID;
    }
    if ((r = v_open(path, &fd, out, &known, why, whylen)) != 0 || known) {
        goto out;
    }
    if ((r = v_init(&v, key, !sealed)) != 0 || (r = v_scan(fd, &v, why, whylen)) != 0 ||
        (sealed && (r = v_finish(&v, sha, mac)) != 0)) {
        goto out;
    }
    if (!sealed) {
        *out = v_judge(&v, why, whylen);
        goto out;
    }
    if (strcasecmp(sha, sealed_sha256) == 0 && strcasecmp(mac, sealed_hmac) == 0) {
        *out = REC_OK;
        db_errf(why, whylen, "SHA-256 and HMAC match the sealed ones");
        goto out;
    }
    *out = REC_TAMPERED;
    if (strcasecmp(sha, sealed_sha256) == 0) {
        db_errf(why, whylen, "the SHA-256 matches but the HMAC does not (the seal or the key?)");
        goto out;
    }
    /* Say what the file looks like now: cut short, edited, or appended to. */
    v_clear(&v);
    if ((r = v_init(&v, key, 1)) != 0 || (r = v_scan(fd, &v, why, whylen)) != 0) {
        goto out;
    }
    v_judge(&v, detail, sizeof(detail));
    db_errf(why, whylen, "the SHA-256 differs from the sealed one; %s", detail);
out:
    if (r == DB_ERR_INTERNAL) {
        db_errf(why, whylen, "SHA-256/HMAC failed");
    }
    v_clear(&v);
    if (fd >= 0) {
        close(fd);
    }
    return r;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Length-prefixed fields, as SSH writes them (RFC 4251 section 5): uint8,
 * uint32 and uint64 in network byte order, and "string" = uint32 length then
 * that many bytes.  The certificate format and the signer's own request
 * formats are both built from these.
 *
 * The reader never reads past its buffer: every length is checked against
 * what remains and against the caller's maximum before anything is copied,
 * and the first failure latches (r->bad), so a parser may read a whole
 * message and check once at the end.  The writer grows its buffer and
 * latches an allocation failure the same way.
 */
#include <stdlib.h>
#include <string.h>

#include "signer.h"

void wire_r_init(struct wire_r *r, const unsigned char *p, size_t len)
{
    r->p = p;
    r->len = len;
    r->off = 0;
    r->bad = 0;
}

static int wire_take(struct wire_r *r, size_t n, const unsigned char **out)
{
    *out = NULL;
    if (r->bad || n > r->len - r->off) {
        r->bad = 1;
        return DB_ERR_INVALID;
    }
    *out = r->p + r->off;
    r->off += n;
    return 0;
}

int wire_get_u8(struct wire_r *r, uint8_t *v)
{
    const unsigned char *p = NULL;

    *v = 0;
    if (wire_take(r, 1, &p) != 0) {
        return DB_ERR_INVALID;
    }
    *v = p[0];
    return 0;
}

int wire_get_u32(struct wire_r *r, uint32_t *v)
{
    const unsigned char *p = NULL;

    *v = 0;
    if (wire_take(r, 4, &p) != 0) {
        return DB_ERR_INVALID;
    }
    *v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
    return 0;
}

int wire_get_u64(struct wire_r *r, uint64_t *v)
{
    uint32_t hi = 0, lo = 0;

    *v = 0;
    if (wire_get_u32(r, &hi) != 0 || wire_get_u32(r, &lo) != 0) {
        return DB_ERR_INVALID;
    }
    *v = (uint64_t)hi << 32 | lo;
    return 0;
}

int wire_get_string(struct wire_r *r, const unsigned char **p, size_t *len, size_t max)
{
    uint32_t n = 0;

    *p = NULL;
    *len = 0;
    if (wire_get_u32(r, &n) != 0) {
        return DB_ERR_INVALID;
    }
    if (n > max) {
        r->bad = 1;
        return DB_ERR_INVALID;
    }
    if (wire_take(r, n, p) != 0) {
        return DB_ERR_INVALID;
    }
    *len = n;
    return 0;
}

int wire_get_cstr(struct wire_r *r, char *buf, size_t bufsize)
{
    const unsigned char *p = NULL;
    size_t n = 0;

    if (bufsize == 0) {
        r->bad = 1;
        return DB_ERR_INVALID;
    }
    buf[0] = '\0';
    if (wire_get_string(r, &p, &n, bufsize - 1) != 0) {
        return DB_ERR_INVALID;
    }
    if (memchr(p, '\0', n) != NULL) {
        r->bad = 1;
        return DB_ERR_INVALID;
    }
    memcpy(buf, p, n);
    buf[n] = '\0';
    return 0;
}

int wire_get_fixed(struct wire_r *r, unsigned char *buf, size_t n)
{
    const unsigned char *p = NULL;
    size_t got = 0;

    if (wire_get_string(r, &p, &got, n) != 0 || got != n) {
        r->bad = 1;
        memset(buf, 0, n);
        return DB_ERR_INVALID;
    }
    memcpy(buf, p, n);
    return 0;
}

int wire_r_done(const struct wire_r *r)
{
    return !r->bad && r->off == r->len ? 0 : DB_ERR_INVALID;
}

/* ---- writing ---- */

void wire_w_init(struct wire_w *w)
{
    memset(w, 0, sizeof(*w));
}

static unsigned char *wire_room(struct wire_w *w, size_t n)
{
    if (w->bad) {
        return NULL;
    }
    if (n > WIRE_MAX - w->len) {
        w->bad = 1;
        return NULL;
    }
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 256;
        unsigned char *p = NULL;

        while (cap < w->len + n) {
            cap *= 2;
        }
        p = realloc(w->p, cap);
        if (p == NULL) {
            w->bad = 1;
            return NULL;
        }
        w->p = p;
        w->cap = cap;
    }
    w->len += n;
    return w->p + w->len - n;
}

void wire_put_u8(struct wire_w *w, uint8_t v)
{
    unsigned char *p = wire_room(w, 1);

    if (p != NULL) {
        p[0] = v;
    }
}

void wire_put_u32(struct wire_w *w, uint32_t v)
{
    unsigned char *p = wire_room(w, 4);

    if (p != NULL) {
        p[0] = (unsigned char)(v >> 24);
        p[1] = (unsigned char)(v >> 16);
        p[2] = (unsigned char)(v >> 8);
        p[3] = (unsigned char)v;
    }
}

void wire_put_u64(struct wire_w *w, uint64_t v)
{
    wire_put_u32(w, (uint32_t)(v >> 32));
    wire_put_u32(w, (uint32_t)v);
}

void wire_put_raw(struct wire_w *w, const void *data, size_t n)
{
    unsigned char *p = wire_room(w, n);

    if (p != NULL && n > 0) {
        memcpy(p, data, n);
    }
}

void wire_put_string(struct wire_w *w, const void *data, size_t n)
{
    if (n > UINT32_MAX) {
        w->bad = 1;
        return;
    }
    wire_put_u32(w, (uint32_t)n);
    wire_put_raw(w, data, n);
}

void wire_put_cstr(struct wire_w *w, const char *s)
{
    wire_put_string(w, s, strlen(s));
}

void wire_w_free(struct wire_w *w)
{
    if (w->p != NULL) {
        db_wipe(w->p, w->cap);
    }
    free(w->p);
    memset(w, 0, sizeof(*w));
}

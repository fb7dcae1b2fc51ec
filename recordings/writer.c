/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The recording writer: turns what crosses a channel into asciicast v2 lines
 * (FORMAT.md) in one in-memory buffer, hands the buffer to the sink when it
 * fills or when a tick finds REC_FLUSH_MS gone by, and keeps one running
 * SHA-256 of every byte that goes out.  Each tick flush appends a checkpoint
 * line, the HMAC of the SHA-256 of everything before it (a copy of the
 * running hash, finished), so a file cut short by a crash still proves its
 * prefix; close adds an end event and a last checkpoint, and hands back the
 * SHA-256 of the whole file and its HMAC.  Each byte is hashed once.
 *
 * Interactive output comes in many small writes; those of one stream that
 * follow each other closely are held back and written as one event
 * (REC_COALESCE_MS), which is most of what makes a terminal session's file
 * small.  The search-index text is taken from text events only, after the
 * writer has chosen between text and base64.
 *
 * The first error (a full disk, a failing sink) sticks: every later call
 * returns it, so the caller ends the session instead of recording a hole.
 */
#include "recording.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <lz4.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#define W_BUF_CAP (256u * 1024)
#define W_EVENT_ROOM (6u * (REC_EVENT_IN_MAX + 8) + 128) /* worst case of one event line */
#define W_MARKER_MAX (16u * 1024)                        /* label bytes kept in an "m" event */
#define W_META_MAX (1u << 20)                            /* one header string */
#define W_MIN_BINARY 32                                  /* shorter chunks are always text events */
#define W_SAMPLE 256                  /* a chunk whose start is mostly not text is binary at once */
#define W_Z_IN (REC_EVENT_IN_MAX + 4) /* a binary chunk: an event's bytes and those that waited */
#define W_Z_SKIP 15 /* binary chunks not tried after one that LZ4 could not shrink */

struct w_stream {
    unsigned char pend[4]; /* the start of a UTF-8 character cut by the end of a write */
    size_t npend;
    long long pend_us;
    unsigned long long raw;
    unsigned zskip; /* binary chunks still to go out uncompressed */
};

struct rec_writer {
    struct rec_sink sink;
    int record_input;
    struct timespec start;
    char *buf;
    size_t len, hashed;
    EVP_MD_CTX *sha;   /* every byte handed to the sink so far, and those in buf[0..hashed) */
    EVP_MAC_CTX *hmac; /* keyed, never fed: copied for each HMAC */
    /* the event being gathered: REC_COALESCE_MS of one stream's writes */
    unsigned char *co;
    size_t colen;
    unsigned char *zin, *zout; /* a binary chunk in one piece, and its LZ4 block (first use) */
    LZ4_stream_t *lz;          /* LZ4's state, initialised once and reset fast per block */
    enum rec_stream costream;
    long long co_us;    /* the time of its first byte */
    long long last_us;  /* time of the last line, events never go back */
    long long flush_us; /* time of the last checkpoint */
    int dirty;          /* lines since the last checkpoint */
    int failed;         /* the first error, returned by every later call */
    struct w_stream st[2];
    unsigned long long written;
    struct rec_text *text;
};

static long long w_time(struct rec_writer *w, const struct timespec *ts)
{
    long long us;

    if (ts == NULL) {
        return w->last_us;
    }
    us = ((long long)ts->tv_sec - (long long)w->start.tv_sec) * 1000000LL +
         ((long long)ts->tv_nsec - (long long)w->start.tv_nsec) / 1000;
    if (us > w->last_us) {
        w->last_us = us;
    }
    return w->last_us;
}

/* Hashes what the buffer holds beyond what was hashed already. */
static void w_hash(struct rec_writer *w)
{
    if (w->len > w->hashed) {
        EVP_DigestUpdate(w->sha, w->buf + w->hashed, w->len - w->hashed);
        w->hashed = w->len;
    }
}

/*
 * The SHA-256 of every byte hashed so far, and HMAC-SHA256(key, that
 * SHA-256).  Unless final, w->sha goes on as it was (a copy is finished).
 */
static int w_digest(struct rec_writer *w, int final, unsigned char sha[32], unsigned char mac[32])
{
    EVP_MD_CTX *d = final ? w->sha : EVP_MD_CTX_new();
    EVP_MAC_CTX *m = EVP_MAC_CTX_dup(w->hmac);
    unsigned int shalen = 0;
    size_t maclen = 0;
    int ok = d != NULL && m != NULL && (final || EVP_MD_CTX_copy_ex(d, w->sha) == 1) &&
             EVP_DigestFinal_ex(d, sha, &shalen) == 1 && shalen == 32 &&
             EVP_MAC_update(m, sha, 32) == 1 && EVP_MAC_final(m, mac, &maclen, 32) == 1 &&
             maclen == 32;

    if (!final) {
        EVP_MD_CTX_free(d);
    }
    EVP_MAC_CTX_free(m);
    return ok ? 0 : DB_ERR_INTERNAL;
}

static int w_drain(struct rec_writer *w)
{
    int r;

    w_hash(w);
    if (w->len > 0) {
        if ((r = w->sink.write(w->sink.ctx, w->buf, w->len)) != 0) {
            w->failed = r < 0 ? r : DB_ERR_IO;
            return w->failed;
        }
        w->written += w->len;
    }
    w->len = w->hashed = 0;
    return 0;
}

static int w_room(struct rec_writer *w, size_t need)
{
    return W_BUF_CAP - w->len >= need ? 0 : w_drain(w);
}

/* Any length: drains as the buffer fills (the header may be long). */
static int w_append(struct rec_writer *w, const char *p, size_t n)
{
    while (n > 0) {
        size_t k = W_BUF_CAP - w->len;

        if (k == 0) {
            if (w_drain(w) != 0) {
                return w->failed;
            }
            continue;
        }
        k = k < n ? k : n;
        memcpy(w->buf + w->len, p, k);
        w->len += k;
        p += k;
        n -= k;
    }
    return 0;
}

/* `[SECONDS.MICROS, "CODE", "` without a bounds check: callers made room. */
static void w_prefix(struct rec_writer *w, long long us, const char *code)
{
    char tmp[24], *o = w->buf + w->len;
    long long sec = us / 1000000;
    int frac = (int)(us % 1000000), n = 0;

    *o++ = '[';
    do {
        tmp[n++] = (char)('0' + sec % 10);
        sec /= 10;
    } while (sec > 0);
    while (n > 0) {
        *o++ = tmp[--n];
    }
    *o++ = '.';
    for (int d = 100000; d > 0; d /= 10) {
        *o++ = (char)('0' + frac / d % 10);
    }
    memcpy(o, ", \"", 3);
    o += 3;
    while (*code != '\0') {
        *o++ = *code++;
    }
    memcpy(o, "\", \"", 4);
    o += 4;
    w->len = (size_t)(o - w->buf);
}

static void w_suffix(struct rec_writer *w)
{
    memcpy(w->buf + w->len, "\"]\n", 3);
    w->len += 3;
    w->dirty = 1;
}

/* A checkpoint line (the HMAC of the SHA-256 of all before it), then all goes into the file. */
static int w_checkpoint(struct rec_writer *w, long long us)
{
    unsigned char sha[32], mac[32];
    char hex[REC_HEX_LEN + 1];
    int r;

    if (w_room(w, 128) != 0) {
        return w->failed;
    }
    w_hash(w);
    if (w_digest(w, 0, sha, mac) != 0) {
        w->failed = DB_ERR_INTERNAL;
        return w->failed;
    }
    rec_hex(mac, 32, hex);
    w_prefix(w, us, "c");
    memcpy(w->buf + w->len, hex, REC_HEX_LEN);
    w->len += REC_HEX_LEN;
    w_suffix(w);
    w->dirty = 0;
    w->flush_us = us;
    if (w_drain(w) != 0) {
        return w->failed;
    }
    if (w->sink.push != NULL && (r = w->sink.push(w->sink.ctx)) != 0) {
        w->failed = r < 0 ? r : DB_ERR_IO;
    }
    return w->failed;
}

/* base64 of a[0..na) followed by b[0..nb), as one text. */
static size_t w_b64_two(const unsigned char *a, size_t na, const unsigned char *b, size_t nb,
                        char *out)
{
    unsigned char tmp[6];
    size_t m = 0, o;

    if (na == 0) {
        return rec_b64_encode(b, nb, out);
    }
    memcpy(tmp, a, na);
    while ((na + m) % 3 != 0 && m < nb) {
        tmp[na + m] = b[m];
        m++;
    }
    o = rec_b64_encode(tmp, na + m, out);
    return o + rec_b64_encode(b + m, nb - m, out + o);
}

/*
 * A binary chunk (pend[0..npend) then p[0..n)) that LZ4 makes at least a
 * quarter smaller goes as "zo"/"zi", the base64 of the LZ4 block: 1 when it
 * did.  LZ4 gives up as soon as the block would not fit in three quarters,
 * and a stream whose chunk did not shrink is not tried for the next
 * W_Z_SKIP chunks, so incompressible data (an archive, an image) costs one
 * trial in sixteen.  Out of memory only means base64.
 */
static int w_compressed(struct rec_writer *w, enum rec_stream s, long long us,
                        const unsigned char *pend, size_t npend, const unsigned char *p, size_t n)
{
    struct w_stream *st = &w->st[s];
    const unsigned char *in = p;
    size_t total = npend + n;
    int c;

    if (st->zskip > 0) {
        st->zskip--;
        return 0;
    }
    if (w->zin == NULL) {
        w->zin = malloc(W_Z_IN);
        w->zout = malloc(W_Z_IN);
        w->lz = LZ4_createStream();
        if (w->zin == NULL || w->zout == NULL || w->lz == NULL) {
            free(w->zin);
            free(w->zout);
            LZ4_freeStream(w->lz);
            w->zin = w->zout = NULL;
            w->lz = NULL;
            return 0;
        }
    }
    if (npend > 0) {
        memcpy(w->zin, pend, npend);
        memcpy(w->zin + npend, p, n);
        in = w->zin;
    }
    /* a block of its own (no dictionary), without clearing 16 KiB of state each time */
    LZ4_resetStream_fast(w->lz);
    c = LZ4_compress_fast_continue(w->lz, (const char *)in, (char *)w->zout, (int)total,
                                   (int)(total - total / 4), 1);
    if (c <= 0) {
        st->zskip = W_Z_SKIP;
        return 0;
    }
    w_prefix(w, us, s == REC_STREAM_OUT ? "zo" : "zi");
    w->len += rec_b64_encode(w->zout, (size_t)c, w->buf + w->len);
    return 1;
}

/* Bytes that went into a text event, for the search index. */
static void w_text(struct rec_writer *w, enum rec_stream s, long long us, const unsigned char *p,
                   size_t n)
{
    if (w->text != NULL && n > 0) {
        rec_text_feed(w->text, s, (double)us / 1e6, p, n);
    }
}

/*
 * One event for p[0..n) (at most REC_EVENT_IN_MAX) of stream s, with the
 * stream's pending bytes in front.  Text unless the chunk is long enough and
 * more than a quarter of it would need escaping.
 */
static int w_chunk(struct rec_writer *w, enum rec_stream s, long long us, const unsigned char *p,
                   size_t n)
{
    struct w_stream *st = &w->st[s];
    unsigned char pend[4], tmp[8];
    size_t npend = st->npend, total = npend + n, start, bad = 0, used = 0, k = 0, o;
    size_t max_bad = total >= W_MIN_BINARY ? total / 4 : SIZE_MAX;
    char *out;

    if (w_room(w, W_EVENT_ROOM) != 0) {
        return w->failed;
    }
    memcpy(pend, st->pend, npend);
    start = w->len;
    w_prefix(w, us, s == REC_STREAM_OUT ? "o" : "i");
    out = w->buf + w->len;
    o = 0;
    if (n >= W_MIN_BINARY) {
        /* Binary data is mostly not text from its first bytes on: deciding on
         * a sample saves escaping half a chunk only to throw it away. */
        size_t sn = n < W_SAMPLE ? n : W_SAMPLE;

        if (rec_esc_json(p, sn, 0, out, &used, &bad, sn / 4) == (size_t)-1) {
            goto binary;
        }
        bad = used = 0;
    }
    if (npend > 0) {
        size_t take = n < 4 - npend ? n : 4 - npend;
        int cl;

        memcpy(tmp, pend, npend);
        memcpy(tmp + npend, p, take);
        cl = rec_utf8_len(tmp, npend + take);
        if (cl < 0) { /* still not the whole character */
            memcpy(st->pend + npend, p, n);
            st->npend += n;
            w->len = start;
            return 0;
        }
        if (cl > 0) {
            k = (size_t)cl - npend;
            o = rec_esc_json(tmp, (size_t)cl, 1, out, &used, &bad, max_bad);
        } else {
            o = rec_esc_json(pend, npend, 1, out, &used, &bad, max_bad);
        }
        st->npend = 0;
    }
    if (o != (size_t)-1) {
        size_t more = rec_esc_json(p + k, n - k, 0, out + o, &used, &bad, max_bad);

        if (more != (size_t)-1) {
            /* what this event holds: the bytes that waited, then p[0..k + used) */
            w_text(w, s, us, pend, npend);
            w_text(w, s, us, p, k + used);
            o += more;
            st->npend = n - k - used;
            memcpy(st->pend, p + k + used, st->npend);
            st->pend_us = us;
            if (o == 0) {
                w->len = start;
                return 0;
            }
            w->len += o;
            w_suffix(w);
            return 0;
        }
    }
binary:
    /* mostly not text: the raw bytes in base64, compressed where that pays */
    w->len = start;
    if (!w_compressed(w, s, us, pend, npend, p, n)) {
        w_prefix(w, us, s == REC_STREAM_OUT ? "bo" : "bi");
        w->len += w_b64_two(pend, npend, p, n, w->buf + w->len);
    }
    st->npend = 0;
    w_suffix(w);
    if (w->text != NULL) {
        rec_text_break(w->text, s);
    }
    return 0;
}

/* Pending bytes of a cut character go out escaped (close, or waiting too long). */
static int w_pending(struct rec_writer *w, enum rec_stream s, long long us)
{
    struct w_stream *st = &w->st[s];
    size_t used = 0, bad = 0;

    if (st->npend == 0) {
        return 0;
    }
    if (w_room(w, 128) != 0) {
        return w->failed;
    }
    w_prefix(w, us, s == REC_STREAM_OUT ? "o" : "i");
    w->len += rec_esc_json(st->pend, st->npend, 1, w->buf + w->len, &used, &bad, SIZE_MAX);
    w_text(w, s, us, st->pend, st->npend);
    st->npend = 0;
    w_suffix(w);
    return 0;
}

/* Writes the event being gathered, if any. */
static int w_emit(struct rec_writer *w)
{
    size_t n = w->colen;

    if (n == 0) {
        return 0;
    }
    w->colen = 0;
    return w_chunk(w, w->costream, w->co_us, w->co, n);
}

/* How much of p[0..len) fits in room bytes, cut between characters when the data allows it. */
static size_t w_cut(const unsigned char *p, size_t len, size_t room)
{
    size_t k = room;

    if (len <= room) {
        return len;
    }
    while (k > 0 && k + 3 > room && (p[k] & 0xC0) == 0x80) {
        k--;
    }
    return k;
}

int rec_writer_data(struct rec_writer *w, enum rec_stream s, const struct timespec *ts,
                    const void *buf, size_t len)
{
    const unsigned char *p = buf;
    long long us;

    if (w == NULL || (s != REC_STREAM_OUT && s != REC_STREAM_IN) || (p == NULL && len > 0)) {
        return DB_ERR_INVALID;
    }
    if (w->failed != 0) {
        return w->failed;
    }
    w->st[s].raw += len;
    if (len == 0 || (s == REC_STREAM_IN && !w->record_input)) {
        return 0;
    }
    us = w_time(w, ts);
    if (w->colen > 0 && (w->costream != s || us - w->co_us >= REC_COALESCE_MS * 1000LL) &&
        w_emit(w) != 0) {
        return w->failed;
    }
    while (len > 0) {
        size_t k;

        if (w->colen == 0 && len >= REC_EVENT_IN_MAX) {
            /* a whole event's worth: straight from the caller's buffer */
            k = w_cut(p, len, REC_EVENT_IN_MAX);
            if (w_chunk(w, s, us, p, k) != 0) {
                return w->failed;
            }
        } else {
            if (w->colen == 0) {
                w->costream = s;
                w->co_us = us;
            }
            k = w_cut(p, len, REC_EVENT_IN_MAX - w->colen);
            memcpy(w->co + w->colen, p, k);
            w->colen += k;
            if (k < len && w_emit(w) != 0) {
                return w->failed; /* full: the rest starts the next event */
            }
        }
        p += k;
        len -= k;
    }
    return 0;
}

int rec_writer_resize(struct rec_writer *w, const struct timespec *ts, int cols, int rows)
{
    long long us;
    int n;

    if (w == NULL || cols < 1 || rows < 1 || cols > 65535 || rows > 65535) {
        return DB_ERR_INVALID;
    }
    if (w->failed != 0 || w_emit(w) != 0 || w_room(w, 128) != 0) {
        return w->failed;
    }
    us = w_time(w, ts);
    w_prefix(w, us, "r");
    n = snprintf(w->buf + w->len, 16, "%dx%d", cols, rows);
    w->len += (size_t)n;
    w_suffix(w);
    return 0;
}

int rec_writer_marker(struct rec_writer *w, const struct timespec *ts, const char *label)
{
    size_t n, used = 0, bad = 0;
    long long us;

    if (w == NULL || label == NULL) {
        return DB_ERR_INVALID;
    }
    n = strlen(label);
    if (n > W_MARKER_MAX) {
        n = W_MARKER_MAX;
        while (n > W_MARKER_MAX - 3 && ((unsigned char)label[n] & 0xC0) == 0x80) {
            n--;
        }
    }
    if (w->failed != 0 || w_emit(w) != 0 || w_room(w, 6 * n + 128) != 0) {
        return w->failed;
    }
    us = w_time(w, ts);
    w_prefix(w, us, "m");
    w->len +=
        rec_esc_json((const unsigned char *)label, n, 1, w->buf + w->len, &used, &bad, SIZE_MAX);
    w_suffix(w);
    return 0;
}

int rec_writer_tick(struct rec_writer *w, const struct timespec *now)
{
    long long us;

    if (w == NULL || now == NULL) {
        return DB_ERR_INVALID;
    }
    if (w->failed != 0) {
        return w->failed;
    }
    us = w_time(w, now);
    /* an event no later write can join goes to the buffer; all of it before a checkpoint */
    if (w->colen > 0 &&
        (us - w->co_us >= REC_COALESCE_MS * 1000LL || us - w->flush_us >= REC_FLUSH_MS * 1000LL) &&
        w_emit(w) != 0) {
        return w->failed;
    }
    if (us - w->flush_us < REC_FLUSH_MS * 1000LL) {
        return 0;
    }
    for (int s = 0; s < 2; s++) {
        /* a character still cut after a whole flush period is not coming */
        if (w->st[s].npend > 0 && us - w->st[s].pend_us >= REC_FLUSH_MS * 1000LL &&
            w_pending(w, (enum rec_stream)s, us) != 0) {
            return w->failed;
        }
    }
    if (!w->dirty) {
        w->flush_us = us;
        return 0;
    }
    return w_checkpoint(w, us);
}

int rec_writer_next_tick(const struct rec_writer *w, struct timespec *at)
{
    long long due = LLONG_MAX, flush;

    if (w == NULL || at == NULL || w->failed != 0) {
        return 0;
    }
    flush = w->flush_us + REC_FLUSH_MS * 1000LL;
    if (w->colen > 0) {
        long long co = w->co_us + REC_COALESCE_MS * 1000LL;

        due = co < flush ? co : flush;
    } else if (w->dirty) {
        due = flush;
    }
    for (int s = 0; s < 2; s++) {
        if (w->st[s].npend > 0) {
            long long p = (w->st[s].pend_us > w->flush_us ? w->st[s].pend_us : w->flush_us) +
                          REC_FLUSH_MS * 1000LL;

            due = p < due ? p : due;
        }
    }
    if (due == LLONG_MAX) {
        return 0;
    }
    at->tv_sec = w->start.tv_sec + (time_t)(due / 1000000);
    at->tv_nsec = w->start.tv_nsec + (long)(due % 1000000) * 1000;
    if (at->tv_nsec >= 1000000000L) {
        at->tv_sec++;
        at->tv_nsec -= 1000000000L;
    }
    return 1;
}

/* Sets key in obj to s (invalid UTF-8 escaped as in events); NULL s: nothing. */
static int w_set_str(json_t *obj, const char *key, const char *s)
{
    char *v;
    int r;

    if (s == NULL) {
        return 0;
    }
    if (strlen(s) > W_META_MAX || (v = rec_pua_string(s, strlen(s))) == NULL) {
        return -1;
    }
    r = json_object_set_new(obj, key, json_string(v));
    free(v);
    return r;
}

static int w_clamp(int v, int def)
{
    return v < 1 ? def : v > 65535 ? 65535 : v;
}

static char *w_header(const struct rec_meta *m)
{
    json_t *h = json_object(), *d = json_object(), *env = NULL;
    char title[512], *line = NULL;
    int bad = h == NULL || d == NULL;

    if (!bad) {
        bad |= json_object_set_new(h, "version", json_integer(2));
        /* within what the reader accepts, whatever the client claimed */
        bad |= json_object_set_new(h, "width", json_integer(w_clamp(m->width, 80)));
        bad |= json_object_set_new(h, "height", json_integer(w_clamp(m->height, 24)));
        bad |=
            json_object_set_new(h, "timestamp", json_integer(m->timestamp > 0 ? m->timestamp : 0));
    }
    if (!bad && m->term != NULL) {
        env = json_object();
        bad |= env == NULL || w_set_str(env, "TERM", m->term) != 0;
        bad |= json_object_set_new(h, "env", env);
    }
    if (!bad && m->title == NULL) {
        snprintf(title, sizeof(title), "%.150s@%.150s (%.150s)", m->user ? m->user : "?",
                 m->target ? m->target : "?", m->login ? m->login : "?");
    }
    if (!bad) {
        bad |= w_set_str(h, "title", m->title != NULL ? m->title : title);
        bad |= json_object_set_new(d, "format", json_integer(REC_FORMAT));
        bad |= w_set_str(d, "session", m->session);
        bad |= w_set_str(d, "user", m->user);
        bad |= w_set_str(d, "target", m->target);
        bad |= w_set_str(d, "login", m->login);
        if (m->grant > 0) {
            bad |= json_object_set_new(d, "grant", json_integer(m->grant));
        }
        bad |= w_set_str(d, "kind", m->kind);
        bad |= w_set_str(d, "command", m->command);
        bad |= json_object_set_new(d, "record_input", json_boolean(m->record_input));
        bad |= json_object_set(h, "drawbridge", d);
    }
    if (!bad) {
        line = json_dumps(h, JSON_PRESERVE_ORDER);
    }
    json_decref(d);
    json_decref(h);
    return line;
}

static int w_hmac_init(struct rec_writer *w, const unsigned char key[REC_KEY_LEN])
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    OSSL_PARAM params[2];
    int ok;

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    w->hmac = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
    EVP_MAC_free(mac); /* the context holds its own reference */
    w->sha = EVP_MD_CTX_new();
    ok = w->hmac != NULL && w->sha != NULL &&
         EVP_MAC_init(w->hmac, key, REC_KEY_LEN, params) == 1 &&
         EVP_DigestInit_ex(w->sha, EVP_sha256(), NULL) == 1;
    return ok ? 0 : DB_ERR_INTERNAL;
}

int rec_writer_new(const struct rec_sink *sink, const struct rec_meta *m,
                   const unsigned char key[REC_KEY_LEN], const struct timespec *start,
                   struct rec_writer **out, char *err, size_t errlen)
{
    struct rec_writer *w = NULL;
    char *line = NULL;
    int r = DB_ERR_INVALID;

    if (out != NULL) {
        *out = NULL;
    }
    if (sink == NULL || sink->write == NULL || m == NULL || key == NULL || start == NULL ||
        out == NULL) {
        db_errf(err, errlen, "recording: missing argument");
        goto out;
    }
    r = DB_ERR_NOMEM;
    if ((w = calloc(1, sizeof(*w))) == NULL) {
        db_errf(err, errlen, "recording: out of memory");
        goto out;
    }
    w->sink = *sink;
    sink = NULL; /* ours now: closed with w */
    if ((w->buf = malloc(W_BUF_CAP)) == NULL || (w->co = malloc(REC_EVENT_IN_MAX)) == NULL) {
        db_errf(err, errlen, "recording: out of memory");
        goto out;
    }
    w->record_input = m->record_input != 0;
    w->start = *start;
    if ((r = w_hmac_init(w, key)) != 0) {
        db_errf(err, errlen, "recording: cannot set up SHA-256/HMAC");
        goto out;
    }
    if ((line = w_header(m)) == NULL) {
        r = DB_ERR_INVALID;
        db_errf(err, errlen, "recording: cannot make the header (a field is too long?)");
        goto out;
    }
    if (w_append(w, line, strlen(line)) != 0 || w_append(w, "\n", 1) != 0 ||
        w_checkpoint(w, 0) != 0) {
        r = w->failed;
        db_errf(err, errlen, "recording: cannot write the header: %s", db_strerror(r));
        goto out;
    }
    *out = w;
    w = NULL;
    r = 0;
out:
    free(line);
    if (w != NULL) {
        rec_writer_free(w);
    } else if (sink != NULL && sink->close != NULL && r != 0) {
        sink->close(sink->ctx);
    }
    return r;
}

void rec_writer_set_text(struct rec_writer *w, rec_text_fn fn, void *ctx, size_t max_bytes)
{
    if (w == NULL) {
        return;
    }
    if (w->failed == 0) {
        w_emit(w); /* what came before goes by the old choice; an error sticks */
    }
    rec_text_free(w->text);
    w->text = fn != NULL ? rec_text_new(fn, ctx, max_bytes) : NULL;
}

/* "out=N in=M": raw bytes of each stream, written or not. */
static int w_end(struct rec_writer *w, long long us)
{
    char tmp[80];
    int n;

    n = snprintf(tmp, sizeof(tmp), "out=%llu in=%llu", w->st[REC_STREAM_OUT].raw,
                 w->st[REC_STREAM_IN].raw);
    if (w_room(w, 128) != 0) {
        return w->failed;
    }
    w_prefix(w, us, "e");
    memcpy(w->buf + w->len, tmp, (size_t)n);
    w->len += (size_t)n;
    w_suffix(w);
    return w_checkpoint(w, us);
}

int rec_writer_close(struct rec_writer *w, char sha256_hex[REC_HEX_LEN + 1],
                     char hmac_hex[REC_HEX_LEN + 1], char *err, size_t errlen)
{
    unsigned char sha[32], mac[32];
    int r = DB_ERR_INVALID;

    sha256_hex[0] = '\0';
    hmac_hex[0] = '\0';
    if (w == NULL) {
        db_errf(err, errlen, "recording: no writer");
        return r;
    }
    if (w->failed == 0 && w_emit(w) == 0) {
        for (int s = 0; s < 2; s++) {
            w_pending(w, (enum rec_stream)s, w->last_us);
        }
    }
    if (w->text != NULL) {
        rec_text_finish(w->text, (double)w->last_us / 1e6);
    }
    if (w->failed == 0) {
        w_end(w, w->last_us);
    }
    if (w->failed != 0) {
        r = w->failed;
        db_errf(err, errlen, "recording: cannot write: %s", db_strerror(r));
        goto out;
    }
    if (w->sink.sync != NULL && (r = w->sink.sync(w->sink.ctx)) != 0) {
        db_errf(err, errlen, "recording: cannot sync: %s", db_strerror(r));
        goto out;
    }
    if (w_digest(w, 1, sha, mac) != 0) {
        r = DB_ERR_INTERNAL;
        db_errf(err, errlen, "recording: cannot finish SHA-256/HMAC");
        goto out;
    }
    rec_hex(sha, 32, sha256_hex);
    rec_hex(mac, 32, hmac_hex);
    r = 0;
out:
    rec_writer_free(w);
    return r;
}

void rec_writer_free(struct rec_writer *w)
{
    if (w == NULL) {
        return;
    }
    if (w->sink.close != NULL) {
        w->sink.close(w->sink.ctx);
    }
    rec_text_free(w->text);
    EVP_MAC_CTX_free(w->hmac); /* wipes the key it holds */
    EVP_MD_CTX_free(w->sha);
    free(w->buf);
    free(w->co);
    free(w->zin);
    free(w->zout);
    LZ4_freeStream(w->lz);
    free(w);
}

void rec_writer_stats(const struct rec_writer *w, unsigned long long *raw,
                      unsigned long long *written)
{
    if (raw != NULL) {
        *raw = w != NULL ? w->st[0].raw + w->st[1].raw : 0;
    }
    if (written != NULL) {
        *written = w != NULL ? w->written : 0;
    }
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The recording writer on a thread of its own, so that hashing, encoding and
 * writing recordings runs beside the relay instead of between its reads and
 * writes.  One thread serves every writer of a connection.
 *
 * The relay's side (rec_async_data, _resize, _marker, _close) copies what it
 * hands over into one bounded ring of records and returns; the thread takes
 * the records in order and calls the rec_writer_* functions, so each writer
 * still sees exactly the calls it would have seen, in the same order, with
 * the times the relay stamped.  When the ring is full the relay waits for
 * room: a writer that cannot keep up slows the relay, nothing is dropped,
 * and memory stays at the ring's size.  rec_async_close waits until the
 * thread has written everything before it, closed the writer and computed
 * the seal.
 *
 * The thread ticks each writer only when rec_writer_next_tick says it holds
 * something back, and sleeps without a timeout otherwise.  A writer's first
 * error sticks: every later call for it returns the error, the thread
 * discards what is still queued for it, and the notify descriptor is
 * written so that the relay learns of it even when no more data comes.
 *
 * Search-index text (rec_writer_set_text) is made by the thread and handed to
 * the caller's text function on the relay's side only, from rec_async_text,
 * from a call that waits for room, and from rec_async_close: the text
 * function never runs on the thread.  The thread stops at a bounded amount
 * of text not yet taken (and says so on the notify descriptor).
 *
 * Only writers, their sinks and the ring are touched by the thread.
 */
#include "recording.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define A_WRITERS_MAX 16
#define A_REC_DATA_MAX (64u * 1024) /* payload of one record; longer writes are split */
#define A_TEXT_CAP (64u * 1024)     /* text made by the thread, not yet taken */
#define A_RELEASE (128u * 1024)     /* ring bytes the thread gives back at a time */
#define A_KICK (256u * 1024)        /* queued bytes that wake a sleeping thread at once */
#define A_TRIM_KEEP (16u * 1024)    /* ring bytes (page multiple) kept by rec_async_trim */
#define A_ALIGN(n) (((n) + 7u) & ~(size_t)7u)

enum a_op { A_PAD, A_DATA, A_RESIZE, A_MARKER, A_CLOSE };

struct a_rec {
    uint32_t len; /* payload bytes after the header */
    uint16_t op;
    uint16_t h;
    int32_t a, b; /* stream, or cols and rows */
    struct timespec ts;
};

#define A_HDR (sizeof(struct a_rec))

/* One line of text in the text buffer. */
struct a_line {
    uint16_t h;
    uint16_t stream;
    uint32_t len;
    double ts;
};

struct a_writer {
    struct rec_writer *w;
    int used;    /* the handle is taken */
    int err;     /* the first error; sticks */
    int closing; /* a close is queued: no more records for it */
    int closed;  /* the thread has closed it; result below */
    int close_rc;
    char sha[REC_HEX_LEN + 1], mac[REC_HEX_LEN + 1];
    char close_err[256];
    struct rec_async *a;
    int text; /* collects search-index text */
};

struct rec_async {
    pthread_t thread;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t work;  /* the thread: records queued, or stop */
    pthread_cond_t space; /* the relay: room in the ring, a close done */
    pthread_cond_t text_room;
    unsigned char *ring;
    size_t cap, rd, wr, used;
    int stop;
    int sleeping; /* the thread waits for work (it only does with the ring empty) */
    int kick;     /* records queued that have not woken it (the caller's: rec_async_kick) */
    size_t want;  /* the relay waits for this much room; 0: it does not wait */
    int notify_fd;
    struct a_writer wr_[A_WRITERS_MAX];
    /* text made by the thread (lines packed) and the buffer the relay empties */
    unsigned char *text, *text_out;
    size_t text_len, text_max;
    int text_full;
    rec_async_text_fn text_fn;
    void *text_ctx;
    unsigned long long waits; /* times the relay waited for room (tests) */
};

static void a_notify(struct rec_async *a)
{
    uint64_t one = 1;

    if (a->notify_fd >= 0) {
        /* an eventfd or a pipe: a full one already says "look" */
        ssize_t n = write(a->notify_fd, &one, sizeof(one));

        (void)n;
    }
}

/* ---- the thread ---- */

/* The writer's text callback, on the thread: packs the line for the relay. */
static void a_text(void *ctx, enum rec_stream s, double ts, const char *line, size_t len)
{
    struct a_writer *aw = ctx;
    struct rec_async *a = aw->a;
    struct a_line l;
    size_t need = sizeof(l) + len;

    if (len == 0 || need > a->text_max) {
        return;
    }
    pthread_mutex_lock(&a->mu);
    if (a->text == NULL) {
        /* the first line: most recorded channels (sftp, an idle shell) never get here */
        a->text = malloc(a->text_max);
        a->text_out = malloc(a->text_max);
        if (a->text == NULL || a->text_out == NULL) {
            free(a->text);
            free(a->text_out);
            a->text = a->text_out = NULL;
            pthread_mutex_unlock(&a->mu);
            return; /* the index goes without this line; the recording does not */
        }
    }
    while (a->text_len + need > a->text_max && !a->stop) {
        /* the relay has not taken the last lot: tell it (in its loop, or waiting in a call) */
        a->text_full = 1;
        pthread_cond_broadcast(&a->space);
        pthread_mutex_unlock(&a->mu);
        a_notify(a);
        pthread_mutex_lock(&a->mu);
        if (a->text_len + need > a->text_max && !a->stop) {
            pthread_cond_wait(&a->text_room, &a->mu);
        }
    }
    if (a->text_len + need <= a->text_max) {
        l.h = (uint16_t)(aw - a->wr_);
        l.stream = (uint16_t)s;
        l.len = (uint32_t)len;
        l.ts = ts;
        memcpy(a->text + a->text_len, &l, sizeof(l));
        memcpy(a->text + a->text_len + sizeof(l), line, len);
        a->text_len += need;
    }
    pthread_mutex_unlock(&a->mu);
}

static void a_fail(struct rec_async *a, struct a_writer *aw, int rc)
{
    pthread_mutex_lock(&a->mu);
    if (aw->err == 0) {
        aw->err = rc < 0 ? rc : DB_ERR_IO;
    }
    pthread_mutex_unlock(&a->mu);
    a_notify(a);
}

/* One record, outside the lock: the ring region it lives in is the thread's until released. */
static void a_apply(struct rec_async *a, const struct a_rec *r, const unsigned char *p)
{
    struct a_writer *aw = &a->wr_[r->h];
    struct timespec at;
    int rc = 0;

    if (aw->w == NULL) {
        return;
    }
    if (r->op == A_CLOSE) {
        char err[256] = "";
        int crc = aw->err;

        if (crc == 0) {
            crc = rec_writer_close(aw->w, aw->sha, aw->mac, err, sizeof(err));
        } else {
            rec_writer_free(aw->w); /* failed before: no seal, as rec_writer_close would say */
            snprintf(err, sizeof(err), "recording: cannot write: %s", db_strerror(crc));
        }
        pthread_mutex_lock(&a->mu);
        aw->w = NULL;
        aw->close_rc = crc;
        snprintf(aw->close_err, sizeof(aw->close_err), "%s", err);
        aw->closed = 1;
        pthread_cond_broadcast(&a->space);
        pthread_mutex_unlock(&a->mu);
        return;
    }
    if (aw->err != 0) {
        return; /* failed: what is still queued for it is dropped with it */
    }
    /* idle until now: the tick a timer would have given starts the flush period here */
    if (!rec_writer_next_tick(aw->w, &at)) {
        rc = rec_writer_tick(aw->w, &r->ts);
    }
    if (rc == 0) {
        switch (r->op) {
        case A_DATA:
            rc = rec_writer_data(aw->w, (enum rec_stream)r->a, &r->ts, p, r->len);
            break;
        case A_RESIZE:
            rc = rec_writer_resize(aw->w, &r->ts, r->a, r->b);
            break;
        case A_MARKER:
            rc = rec_writer_marker(aw->w, &r->ts, (const char *)p);
            break;
        default:
            break;
        }
    }
    if (rc != 0) {
        a_fail(a, aw, rc);
    }
}

/* Ticks the writers that are due; the earliest next due into *next (0: none). */
static void a_ticks(struct rec_async *a, struct timespec *next, int *have_next)
{
    struct rec_writer *ws[A_WRITERS_MAX];
    struct timespec now, at;

    /* the writers as published; only this thread closes them, so they stay valid */
    pthread_mutex_lock(&a->mu);
    for (int i = 0; i < A_WRITERS_MAX; i++) {
        ws[i] = a->wr_[i].err == 0 ? a->wr_[i].w : NULL;
    }
    pthread_mutex_unlock(&a->mu);
    clock_gettime(CLOCK_MONOTONIC, &now);
    *have_next = 0;
    for (int i = 0; i < A_WRITERS_MAX; i++) {
        struct a_writer *aw = &a->wr_[i];

        if (ws[i] == NULL || !rec_writer_next_tick(aw->w, &at)) {
            continue;
        }
        if (at.tv_sec < now.tv_sec || (at.tv_sec == now.tv_sec && at.tv_nsec <= now.tv_nsec)) {
            if (rec_writer_tick(aw->w, &now) != 0) {
                a_fail(a, aw, DB_ERR_IO);
                continue;
            }
            if (!rec_writer_next_tick(aw->w, &at)) {
                continue;
            }
        }
        if (!*have_next || at.tv_sec < next->tv_sec ||
            (at.tv_sec == next->tv_sec && at.tv_nsec < next->tv_nsec)) {
            *next = at;
            *have_next = 1;
        }
    }
}

/*
 * Wakes the relay if it waits for room and there is enough now: a quarter of
 * the ring at least, so that it copies in long runs rather than waking for
 * every record the thread finishes.  Called with mu held.
 */
static void a_wake_relay(struct rec_async *a)
{
    size_t want = a->want > a->cap / 4 ? a->want : a->cap / 4;

    if (a->want > 0 && a->cap - a->used >= want) {
        pthread_cond_broadcast(&a->space);
    }
}

static void *a_main(void *arg)
{
    struct rec_async *a = arg;

    pthread_mutex_lock(&a->mu);
    for (;;) {
        size_t take, done = 0, freed = 0, rd;
        struct timespec next;
        int have_next;

        if (a->used == 0) {
            if (a->stop) {
                break;
            }
            pthread_mutex_unlock(&a->mu);
            a_ticks(a, &next, &have_next);
            pthread_mutex_lock(&a->mu);
            if (a->used > 0 || a->stop) {
                continue;
            }
            /* nothing queued: sleep until a record comes or a writer's flush is due */
            a->sleeping = 1;
            if (have_next) {
                pthread_cond_timedwait(&a->work, &a->mu, &next);
            } else {
                pthread_cond_wait(&a->work, &a->mu);
            }
            a->sleeping = 0;
            continue;
        }
        take = a->used;
        rd = a->rd;
        pthread_mutex_unlock(&a->mu);
        while (done < take) {
            const struct a_rec *r;
            size_t size;

            if (a->cap - rd < A_HDR) { /* too little left at the end for a header: wasted */
                done += a->cap - rd;
                rd = 0;
                continue;
            }
            r = (const struct a_rec *)(a->ring + rd);
            if (r->op == A_PAD) {
                done += a->cap - rd;
                rd = 0;
                continue;
            }
            size = A_HDR + A_ALIGN(r->len);
            a_apply(a, r, a->ring + rd + A_HDR);
            rd += size;
            done += size;
            if (done - freed >= A_RELEASE && done < take) {
                /* give back what is done, so the relay can go on while this goes on */
                pthread_mutex_lock(&a->mu);
                a->rd = rd;
                a->used -= done - freed;
                freed = done;
                a_wake_relay(a);
                pthread_mutex_unlock(&a->mu);
            }
        }
        /* ticks between batches too: a steady stream still gets its checkpoints */
        a_ticks(a, &next, &have_next);
        pthread_mutex_lock(&a->mu);
        a->rd = rd;
        a->used -= done - freed;
        if (a->used == 0) {
            a->rd = a->wr = 0; /* start again at the front: small traffic stays in few pages */
            if (a->want > 0) {
                pthread_cond_broadcast(&a->space);
            }
        } else {
            a_wake_relay(a);
        }
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

/* ---- the relay's side ---- */

/* Hands the text made so far to the caller's function; called with mu held, returns with it. */
static void a_take_text(struct rec_async *a)
{
    unsigned char *buf;
    size_t len, off = 0;

    if (a->text_len == 0) {
        return;
    }
    buf = a->text;
    len = a->text_len;
    a->text = a->text_out;
    a->text_out = buf;
    a->text_len = 0;
    a->text_full = 0;
    pthread_cond_broadcast(&a->text_room);
    pthread_mutex_unlock(&a->mu);
    while (off + sizeof(struct a_line) <= len) {
        struct a_line l;

        memcpy(&l, buf + off, sizeof(l));
        off += sizeof(l);
        if (a->text_fn != NULL) {
            a->text_fn(a->text_ctx, l.h, (enum rec_stream)l.stream, l.ts, (const char *)buf + off,
                       l.len);
        }
        off += l.len;
    }
    pthread_mutex_lock(&a->mu);
}

/*
 * Room for need contiguous bytes at the write position, waiting while the
 * thread works through the ring.  Returns the offset, with mu held.
 */
static size_t a_room(struct rec_async *a, size_t need)
{
    int waited = 0;

    for (;;) {
        if (a->used == 0) {
            a->rd = a->wr = 0;
        }
        if (a->used == 0 || a->wr > a->rd) {
            /* free: the end [wr, cap) and the front [0, rd) */
            if (a->cap - a->wr >= need) {
                return a->wr;
            }
            if (a->rd >= need) {
                /* the rest of the end is wasted (a pad record where a header fits) */
                size_t waste = a->cap - a->wr;

                if (waste >= A_HDR) {
                    struct a_rec pad;

                    memset(&pad, 0, sizeof(pad));
                    pad.op = A_PAD;
                    memcpy(a->ring + a->wr, &pad, sizeof(pad));
                }
                a->used += waste;
                a->wr = 0;
                return 0;
            }
        } else if (a->wr < a->rd && a->rd - a->wr >= need) {
            return a->wr; /* free: [wr, rd) */
        }
        if (!waited) {
            a->waits++;
            waited = 1;
        }
        if (a->text_len > 0) {
            a_take_text(a); /* the thread may be waiting for that; it drops the lock */
            continue;
        }
        a->want = need;
        pthread_cond_wait(&a->space, &a->mu);
        a->want = 0;
    }
}

/* A record of op for writer h; with nul, p[0..len) is followed by a NUL in the ring. */
static int a_put(struct rec_async *a, int h, enum a_op op, int x, int y, const struct timespec *ts,
                 const void *p, size_t len, int nul)
{
    struct a_rec r;
    size_t off, need = A_HDR + A_ALIGN(len + (nul ? 1 : 0));
    int rc;

    pthread_mutex_lock(&a->mu);
    if (a->wr_[h].closing || (op != A_CLOSE && a->wr_[h].err != 0)) {
        rc = a->wr_[h].err != 0 ? a->wr_[h].err : DB_ERR_INVALID;
        pthread_mutex_unlock(&a->mu);
        return rc;
    }
    off = a_room(a, need);
    memset(&r, 0, sizeof(r));
    r.len = (uint32_t)(len + (nul ? 1 : 0));
    r.op = (uint16_t)op;
    r.h = (uint16_t)h;
    r.a = x;
    r.b = y;
    if (ts != NULL) {
        r.ts = *ts;
    }
    /* the region is ours: the thread reads only what used covers */
    memcpy(a->ring + off, &r, sizeof(r));
    if (len > 0) {
        memcpy(a->ring + off + A_HDR, p, len);
    }
    if (nul) {
        a->ring[off + A_HDR + len] = '\0';
    }
    a->wr = off + need;
    a->used += need;
    if (op == A_CLOSE) {
        a->wr_[h].closing = 1;
    }
    /*
     * It sleeps only with the ring empty; while it works it finds this
     * itself.  A sleeping thread is woken by a quarter megabyte of data (a
     * stream: batches, not a wake-up per packet), by anything but data, or
     * by the caller's rec_async_kick soon after.
     */
    if (a->sleeping && (a->used >= A_KICK || op != A_DATA)) {
        pthread_cond_signal(&a->work);
        a->kick = 0;
    } else if (a->sleeping) {
        a->kick = 1;
    }
    rc = a->wr_[h].err;
    pthread_mutex_unlock(&a->mu);
    return rc;
}

static int a_valid(const struct rec_async *a, int h)
{
    return a != NULL && h >= 0 && h < A_WRITERS_MAX && a->wr_[h].used;
}

int rec_async_new(size_t queue_bytes, int notify_fd, rec_async_text_fn text_fn, void *text_ctx,
                  struct rec_async **out)
{
    struct rec_async *a = NULL;
    pthread_condattr_t ca;
    int r = DB_ERR_NOMEM;

    *out = NULL;
    if (queue_bytes < 4 * (A_HDR + A_REC_DATA_MAX)) {
        queue_bytes = 4 * (A_HDR + A_REC_DATA_MAX);
    }
    a = calloc(1, sizeof(*a));
    if (a == NULL) {
        return DB_ERR_NOMEM;
    }
    a->cap = A_ALIGN(queue_bytes);
    a->notify_fd = notify_fd;
    a->text_fn = text_fn;
    a->text_ctx = text_ctx;
    a->text_max = A_TEXT_CAP;
    /* pages of its own: what a burst touched can be given back (rec_async_trim) */
    a->ring = mmap(NULL, a->cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (a->ring == MAP_FAILED) {
        a->ring = NULL;
        goto fail;
    }
    pthread_mutex_init(&a->mu, NULL);
    pthread_condattr_init(&ca);
    /* tick deadlines come from rec_writer_next_tick: the monotonic clock */
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&a->work, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&a->space, NULL);
    pthread_cond_init(&a->text_room, NULL);
    if (pthread_create(&a->thread, NULL, a_main, a) != 0) {
        r = DB_ERR_INTERNAL;
        pthread_cond_destroy(&a->work);
        pthread_cond_destroy(&a->space);
        pthread_cond_destroy(&a->text_room);
        pthread_mutex_destroy(&a->mu);
        goto fail;
    }
    pthread_setname_np(a->thread, "rec-writer");
    a->started = 1;
    *out = a;
    return 0;
fail:
    if (a->ring != NULL) {
        munmap(a->ring, a->cap);
    }
    free(a->text);
    free(a->text_out);
    free(a);
    return r;
}

int rec_async_add(struct rec_async *a, struct rec_writer *w, size_t text_max)
{
    int h = -1;

    if (a == NULL || w == NULL) {
        return DB_ERR_INVALID;
    }
    pthread_mutex_lock(&a->mu);
    for (int i = 0; i < A_WRITERS_MAX; i++) {
        if (!a->wr_[i].used) {
            h = i;
            break;
        }
    }
    if (h >= 0) {
        memset(&a->wr_[h], 0, sizeof(a->wr_[h]));
        a->wr_[h].used = 1;
        a->wr_[h].a = a;
        a->wr_[h].text = text_max > 0;
    }
    pthread_mutex_unlock(&a->mu);
    if (h < 0) {
        return DB_ERR_BUSY;
    }
    /* before the thread may see it: the writer is ours until published below */
    if (text_max > 0) {
        rec_writer_set_text(w, a_text, &a->wr_[h], text_max);
    }
    pthread_mutex_lock(&a->mu);
    a->wr_[h].w = w;
    pthread_mutex_unlock(&a->mu);
    return h;
}

int rec_async_data(struct rec_async *a, int h, enum rec_stream s, const struct timespec *ts,
                   const void *buf, size_t len)
{
    const unsigned char *p = buf;
    int rc = 0;

    if (!a_valid(a, h) || (s != REC_STREAM_OUT && s != REC_STREAM_IN) || ts == NULL ||
        (p == NULL && len > 0)) {
        return DB_ERR_INVALID;
    }
    do {
        size_t k = len < A_REC_DATA_MAX ? len : A_REC_DATA_MAX;

        rc = a_put(a, h, A_DATA, (int)s, 0, ts, p, k, 0);
        p += k;
        len -= k;
    } while (rc == 0 && len > 0);
    return rc;
}

int rec_async_resize(struct rec_async *a, int h, const struct timespec *ts, int cols, int rows)
{
    if (!a_valid(a, h) || ts == NULL) {
        return DB_ERR_INVALID;
    }
    return a_put(a, h, A_RESIZE, cols, rows, ts, NULL, 0, 0);
}

int rec_async_marker(struct rec_async *a, int h, const struct timespec *ts, const char *label)
{
    size_t n;

    if (!a_valid(a, h) || ts == NULL || label == NULL) {
        return DB_ERR_INVALID;
    }
    n = strlen(label);
    if (n > A_REC_DATA_MAX - 1) {
        n = A_REC_DATA_MAX - 1; /* the writer keeps less than this of a label anyway */
    }
    return a_put(a, h, A_MARKER, 0, 0, ts, label, n, 1);
}

int rec_async_error(struct rec_async *a, int h)
{
    int rc;

    if (!a_valid(a, h)) {
        return DB_ERR_INVALID;
    }
    pthread_mutex_lock(&a->mu);
    rc = a->wr_[h].err;
    pthread_mutex_unlock(&a->mu);
    return rc;
}

int rec_async_kick_pending(const struct rec_async *a)
{
    return a != NULL && a->kick; /* only the caller's thread writes it */
}

void rec_async_kick(struct rec_async *a)
{
    if (a == NULL || !a->kick) {
        return;
    }
    pthread_mutex_lock(&a->mu);
    if (a->sleeping && a->used > 0) {
        pthread_cond_signal(&a->work);
    }
    a->kick = 0;
    pthread_mutex_unlock(&a->mu);
}

void rec_async_text(struct rec_async *a)
{
    if (a == NULL) {
        return;
    }
    pthread_mutex_lock(&a->mu);
    a_take_text(a);
    pthread_mutex_unlock(&a->mu);
}

int rec_async_close(struct rec_async *a, int h, char sha256_hex[REC_HEX_LEN + 1],
                    char hmac_hex[REC_HEX_LEN + 1], char *err, size_t errlen)
{
    struct a_writer *aw;
    int rc;

    sha256_hex[0] = '\0';
    hmac_hex[0] = '\0';
    if (!a_valid(a, h)) {
        db_errf(err, errlen, "recording: no writer");
        return DB_ERR_INVALID;
    }
    aw = &a->wr_[h];
    a_put(a, h, A_CLOSE, 0, 0, NULL, NULL, 0, 0);
    pthread_mutex_lock(&a->mu);
    while (!aw->closed) {
        if (a->text_len > 0) {
            a_take_text(a); /* it drops the lock: look again before sleeping */
            continue;
        }
        pthread_cond_wait(&a->space, &a->mu);
    }
    a_take_text(a); /* the last lines came with the close */
    rc = aw->close_rc;
    if (rc == 0) {
        memcpy(sha256_hex, aw->sha, REC_HEX_LEN + 1);
        memcpy(hmac_hex, aw->mac, REC_HEX_LEN + 1);
    } else {
        db_errf(err, errlen, "%s", aw->close_err);
    }
    memset(aw, 0, sizeof(*aw));
    pthread_mutex_unlock(&a->mu);
    return rc;
}

void rec_async_free(struct rec_async *a)
{
    if (a == NULL) {
        return;
    }
    pthread_mutex_lock(&a->mu);
    a->stop = 1;
    pthread_cond_broadcast(&a->work);
    pthread_cond_broadcast(&a->text_room);
    pthread_mutex_unlock(&a->mu);
    /* the thread writes what was queued (as a tick-less writer would hold it) and ends */
    pthread_join(a->thread, NULL);
    for (int i = 0; i < A_WRITERS_MAX; i++) {
        rec_writer_free(a->wr_[i].w); /* abandoned: what a crash leaves */
    }
    pthread_cond_destroy(&a->work);
    pthread_cond_destroy(&a->space);
    pthread_cond_destroy(&a->text_room);
    pthread_mutex_destroy(&a->mu);
    munmap(a->ring, a->cap);
    free(a->text);
    free(a->text_out);
    free(a);
}

void rec_async_trim(struct rec_async *a)
{
    size_t keep = A_TRIM_KEEP;

    if (a == NULL) {
        return;
    }
    pthread_mutex_lock(&a->mu);
    /* empty, and the caller copies in only under this lock: no record lives there */
    if (a->used == 0 && a->cap > keep) {
        madvise(a->ring + keep, a->cap - keep, MADV_DONTNEED);
    }
    pthread_mutex_unlock(&a->mu);
}

unsigned long long rec_async_waits(struct rec_async *a)
{
    unsigned long long n;

    pthread_mutex_lock(&a->mu);
    n = a->waits;
    pthread_mutex_unlock(&a->mu);
    return n;
}

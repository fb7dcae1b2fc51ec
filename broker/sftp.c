/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A passive SFTP (version 3) observer for the audit: the relay passes every
 * byte of an sftp channel through it, in both directions, and it reports
 * file operations (open, read/write totals at close, remove, rename, mkdir,
 * rmdir, setstat, symlink) with their paths.  It never changes, delays or
 * answers anything; a stream it cannot follow only stops the reporting.
 *
 * Packets are parsed with explicit lengths.  Only the head of each packet
 * (SFTP_HEAD_MAX bytes) is kept; data payloads are counted, never copied.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"

enum {
    FXP_INIT = 1, FXP_VERSION = 2, FXP_OPEN = 3, FXP_CLOSE = 4, FXP_READ = 5, FXP_WRITE = 6,
    FXP_SETSTAT = 9, FXP_OPENDIR = 11, FXP_REMOVE = 13, FXP_MKDIR = 14, FXP_RMDIR = 15,
    FXP_RENAME = 18, FXP_SYMLINK = 20, FXP_STATUS = 101, FXP_HANDLE = 102, FXP_DATA = 103,
    FXP_EXTENDED = 200,
};

static uint32_t sftp_u32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* A string at offset *off of head[0..len): sets s and slen, advances *off; 0 or -1. */
static int sftp_str(const unsigned char *head, size_t len, size_t *off, const unsigned char **s,
                    size_t *slen)
{
    uint32_t n;

    if (len - *off < 4) {
        return -1;
    }
    n = sftp_u32(head + *off);
    if (n > len - *off - 4) {
        return -1;
    }
    *s = head + *off + 4;
    *slen = n;
    *off += 4 + (size_t)n;
    return 0;
}

static char *sftp_dup(const unsigned char *s, size_t n)
{
    char *d = malloc(n + 1);

    if (d != NULL) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static void sftp_emit(struct sftp_watch *w, const char *op, const char *path, const char *path2,
                      unsigned long long bytes)
{
    if (w->fn != NULL) {
        w->fn(w->ctx, op, path != NULL ? path : "", path2, bytes);
    }
}

/* Requests waiting for a HANDLE reply: id -> path. */
static void sftp_pending_add(struct sftp_watch *w, uint32_t id, const unsigned char *p, size_t n,
                             int write)
{
    struct sftp_pending *e;

    if (w->npending == SFTP_PENDING_MAX) {
        /* a client that never reads its replies: forget the oldest */
        free(w->pending[0].path);
        memmove(&w->pending[0], &w->pending[1], (SFTP_PENDING_MAX - 1) * sizeof(w->pending[0]));
        w->npending--;
    }
    e = &w->pending[w->npending];
    e->id = id;
    e->write = write;
    e->path = sftp_dup(p, n);
    if (e->path != NULL) {
        w->npending++;
    }
}

static struct sftp_handle *sftp_handle_find(struct sftp_watch *w, const unsigned char *h,
                                            size_t n)
{
    for (size_t i = 0; i < w->nhandles; i++) {
        if (w->handles[i].hlen == n && memcmp(w->handles[i].h, h, n) == 0) {
            return &w->handles[i];
        }
    }
    return NULL;
}

static void sftp_handle_close(struct sftp_watch *w, struct sftp_handle *hd)
{
    size_t i = (size_t)(hd - w->handles);

    if (hd->bytes_written > 0 || hd->write) {
        sftp_emit(w, "write", hd->path, NULL, hd->bytes_written);
    }
    if (hd->bytes_read > 0 || !hd->write) {
        sftp_emit(w, "read", hd->path, NULL, hd->bytes_read);
    }
    free(hd->path);
    w->handles[i] = w->handles[--w->nhandles];
}

/* A client request (engineer -> target). */
static void sftp_request(struct sftp_watch *w, int type, const unsigned char *h, size_t len,
                         uint32_t total)
{
    const unsigned char *s1 = NULL, *s2 = NULL;
    size_t off = 5, n1 = 0, n2 = 0;
    uint32_t id;
    struct sftp_handle *hd;
    char *a = NULL, *b = NULL;

    if (len < 9) {
        return;
    }
    id = sftp_u32(h + 5);
    off = 9;
    switch (type) {
    case FXP_OPEN:
        if (sftp_str(h, len, &off, &s1, &n1) == 0 && len - off >= 4) {
            uint32_t pflags = sftp_u32(h + off);
            int write = (pflags & 0x02) != 0; /* SSH_FXF_WRITE */

            sftp_pending_add(w, id, s1, n1, write);
            a = sftp_dup(s1, n1);
            sftp_emit(w, write ? "open-write" : "open-read", a, NULL, 0);
        }
        break;
    case FXP_OPENDIR:
        if (sftp_str(h, len, &off, &s1, &n1) == 0) {
            a = sftp_dup(s1, n1);
            sftp_emit(w, "list", a, NULL, 0);
        }
        break;
    case FXP_WRITE:
        /* handle, u64 offset, string data: the data length is all we need */
        if (sftp_str(h, len, &off, &s1, &n1) == 0 && len - off >= 12 &&
            (hd = sftp_handle_find(w, s1, n1)) != NULL) {
            hd->bytes_written += sftp_u32(h + off + 8);
        }
        break;
    case FXP_READ:
        if (sftp_str(h, len, &off, &s1, &n1) == 0 && n1 <= SFTP_HANDLE_MAX &&
            w->nreads < SFTP_PENDING_MAX && sftp_handle_find(w, s1, n1) != NULL) {
            w->reads[w->nreads].id = id;
            memcpy(w->reads[w->nreads].h, s1, n1);
            w->reads[w->nreads].hlen = n1;
            w->nreads++;
        }
        break;
    case FXP_CLOSE:
        if (sftp_str(h, len, &off, &s1, &n1) == 0 && (hd = sftp_handle_find(w, s1, n1)) != NULL) {
            sftp_handle_close(w, hd);
        }
        break;
    case FXP_REMOVE:
    case FXP_MKDIR:
    case FXP_RMDIR:
    case FXP_SETSTAT:
        if (sftp_str(h, len, &off, &s1, &n1) == 0) {
            a = sftp_dup(s1, n1);
            sftp_emit(w, type == FXP_REMOVE ? "remove" : type == FXP_MKDIR ? "mkdir"
                                             : type == FXP_RMDIR ? "rmdir" : "setstat",
                      a, NULL, 0);
        }
        break;
    case FXP_RENAME:
    case FXP_SYMLINK:
        if (sftp_str(h, len, &off, &s1, &n1) == 0 && sftp_str(h, len, &off, &s2, &n2) == 0) {
            a = sftp_dup(s1, n1);
            b = sftp_dup(s2, n2);
            sftp_emit(w, type == FXP_RENAME ? "rename" : "symlink", a, b, 0);
        }
        break;
    case FXP_EXTENDED: {
        /* OpenSSH's sftp renames with posix-rename@openssh.com when the server has it */
        const char *op = NULL;

        if (sftp_str(h, len, &off, &s1, &n1) == 0) {
            if (n1 == 24 && memcmp(s1, "posix-rename@openssh.com", 24) == 0) {
                op = "rename";
            } else if (n1 == 20 && memcmp(s1, "hardlink@openssh.com", 20) == 0) {
                op = "hardlink";
            }
        }
        if (op != NULL && sftp_str(h, len, &off, &s1, &n1) == 0 &&
            sftp_str(h, len, &off, &s2, &n2) == 0) {
            a = sftp_dup(s1, n1);
            b = sftp_dup(s2, n2);
            sftp_emit(w, op, a, b, 0);
        }
        break;
    }
    default:
        break;
    }
    (void)total;
    free(a);
    free(b);
}

/* A server reply (target -> engineer). */
static void sftp_reply(struct sftp_watch *w, int type, const unsigned char *h, size_t len,
                       uint32_t total)
{
    const unsigned char *s1 = NULL;
    size_t off = 9, n1 = 0;
    uint32_t id;

    if (len < 9) {
        return;
    }
    id = sftp_u32(h + 5);
    if (type == FXP_HANDLE && sftp_str(h, len, &off, &s1, &n1) == 0 && n1 <= SFTP_HANDLE_MAX) {
        for (size_t i = 0; i < w->npending; i++) {
            if (w->pending[i].id != id) {
                continue;
            }
            if (w->nhandles < SFTP_HANDLES_MAX) {
                struct sftp_handle *hd = &w->handles[w->nhandles++];

                memset(hd, 0, sizeof(*hd));
                memcpy(hd->h, s1, n1);
                hd->hlen = n1;
                hd->path = w->pending[i].path;
                hd->write = w->pending[i].write;
            } else {
                free(w->pending[i].path);
            }
            w->pending[i] = w->pending[--w->npending];
            break;
        }
    } else if (type == FXP_DATA && len >= 13) {
        for (size_t i = 0; i < w->nreads; i++) {
            if (w->reads[i].id == id) {
                struct sftp_handle *hd = sftp_handle_find(w, w->reads[i].h, w->reads[i].hlen);

                if (hd != NULL) {
                    hd->bytes_read += sftp_u32(h + 9);
                }
                w->reads[i] = w->reads[--w->nreads];
                break;
            }
        }
    } else if (type == FXP_STATUS) {
        for (size_t i = 0; i < w->nreads; i++) {
            if (w->reads[i].id == id) {
                w->reads[i] = w->reads[--w->nreads];
                break;
            }
        }
    }
    (void)total;
}

void sftp_watch_feed(struct sftp_watch *w, int from_client, const void *buf, size_t len)
{
    struct sftp_dir *d = &w->dir[from_client ? 0 : 1];
    const unsigned char *p = buf;

    while (len > 0 && !w->lost) {
        if (d->have < 4) {
            size_t k = 4 - d->have < len ? 4 - d->have : len;

            memcpy(d->head + d->have, p, k);
            d->have += k;
            p += k;
            len -= k;
            if (d->have == 4) {
                d->total = sftp_u32(d->head);
                if (d->total < 1 || d->total > SFTP_PACKET_MAX) {
                    w->lost = 1; /* not sftp as we know it: stop reporting */
                    return;
                }
                d->want = 4 + (d->total < SFTP_HEAD_MAX - 4 ? d->total : SFTP_HEAD_MAX - 4);
                d->skip = d->total + 4 - d->want;
            }
            continue;
        }
        if (d->have < d->want) {
            size_t k = d->want - d->have < len ? d->want - d->have : len;

            memcpy(d->head + d->have, p, k);
            d->have += k;
            p += k;
            len -= k;
            if (d->have < d->want) {
                continue;
            }
            if (from_client) {
                sftp_request(w, d->head[4], d->head, d->have, d->total);
            } else {
                sftp_reply(w, d->head[4], d->head, d->have, d->total);
            }
            if (d->skip == 0) {
                d->have = 0;
            }
            continue;
        }
        {
            size_t k = d->skip < len ? (size_t)d->skip : len;

            d->skip -= k;
            p += k;
            len -= k;
            if (d->skip == 0) {
                d->have = 0;
            }
        }
    }
}

void sftp_watch_init(struct sftp_watch *w, sftp_event_fn fn, void *ctx)
{
    memset(w, 0, sizeof(*w));
    w->fn = fn;
    w->ctx = ctx;
}

void sftp_watch_finish(struct sftp_watch *w)
{
    /* files left open when the channel ended still get their totals */
    while (w->nhandles > 0) {
        sftp_handle_close(w, &w->handles[w->nhandles - 1]);
    }
    for (size_t i = 0; i < w->npending; i++) {
        free(w->pending[i].path);
    }
    w->npending = 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A recording as the browser gets it.  GET sessions/ID/cast is an
 * asciicast v2 file made for the player from the recording, after the
 * checks `replay` makes (shell_replay_load: read, then checked against its
 * seal and against the bytes read): only "o", "i", "r" and "m" events, and
 * the output passed through the same player code as `replay` (the
 * sanitiser: no clipboard writes, no terminal reports, no title games;
 * notes for binary output).  GET sessions/ID/transcript is the recording's
 * text, line by line with the time of each (the lines the search index
 * holds, so a search hit and the transcript agree on the moment).  Both
 * are uses of `replay` and are audited as review.replay.
 *
 * JSON cannot carry invalid UTF-8, which a recording may hold: such bytes
 * become U+FFFD, and a character split across two events is joined.
 */
#include "web.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define WEB_TEXT_MAX (16u * 1024 * 1024) /* bytes of each stream read for the transcript */

/* The start both share: role, session, recording read and checked; audits the use. */
struct web_rec {
    struct web_run w;
    struct shell_review rv;
    struct store_session s;
    char *data;
    size_t len;
    struct rec_reader *rd;
};

static void web_rec_clear(struct web_rec *x)
{
    rec_reader_free(x->rd);
    free(x->data);
    store_session_clear(&x->s);
    web_run_clear(&x->w);
}

static int web_rec_open(struct web_req *r, struct web_rec *x, const char *view)
{
    static const char *const spec[] = {NULL};
    char *argv[] = {"replay", r->param[0], NULL};
    enum rec_verdict verdict = REC_MISSING;
    struct shell_opts o;
    char err[300] = "", why[300] = "";

    memset(x, 0, sizeof(*x));
    web_run_init(&x->w, r);
    x->w.c.interactive = 1; /* the player is a terminal: notes styled, "\r\n" for no pty */
    /* what shell_run_argv checks before `replay` runs, as these are uses of it */
    if (shell_mfa_gate(&x->w.c, "replay") != 0) {
        return x->w.status = SHELL_FAIL;
    }
    if ((x->w.status = shell_review_begin(&x->w.c, "replay", spec, 1, 2, argv, &o, &x->rv)) ||
        (x->w.status = shell_review_session(&x->w.c, &x->rv, &x->s)) ||
        (x->w.status = shell_replay_load(&x->w.c, &x->rv, &x->s, &x->data, &x->len, &verdict, why,
                                         sizeof(why)))) {
        return x->w.status;
    }
    if (rec_reader_open_buf(x->data, x->len, &x->rd, err, sizeof(err)) != 0) {
        x->w.c.refusal = DB_ERR_INVALID;
        return x->w.status = shell_review_refuse(&x->w.c, &x->rv, json_object(),
                                                 "the recording of session %s cannot be read: %s",
                                                 x->s.id, err);
    }
    return x->w.status =
               shell_review_ok(&x->w.c, &x->rv,
                               json_pack("{ss ss}", "view", view, "verdict",
                                         x->s.ended_at == 0 ? "live" : rec_verdict_name(verdict)));
}

/* Appends s[0..n) and a newline to the growing buffer *buf. */
static int web_buf_line(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (*len + n + 2 > *cap) {
        size_t ncap = *cap ? *cap : 64 * 1024;
        char *nb;

        while (ncap < *len + n + 2) {
            ncap *= 2;
        }
        if ((nb = realloc(*buf, ncap)) == NULL) {
            return -1;
        }
        *buf = nb;
        *cap = ncap;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[(*len)++] = '\n';
    return 0;
}

/* Appends one event line [t, code, data] (data stolen). */
static int web_cast_line(char **buf, size_t *len, size_t *cap, double t, const char *code,
                         json_t *data)
{
    json_t *ev = json_pack("[f s o]", t, code, data);
    char *s =
        ev != NULL ? json_dumps(ev, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(9)) : NULL;
    int r = s != NULL ? web_buf_line(buf, len, cap, s, strlen(s)) : -1;

    json_decref(ev);
    free(s);
    return r;
}

/* The player's output so far as one "o" event at t. */
static int web_cast_flush(struct shell_player *pl, unsigned char carry[4], size_t *ncarry,
                          char **buf, size_t *len, size_t *cap, double t)
{
    size_t n = pl->q.len - pl->q.off;
    json_t *d = NULL;

    if (n == 0) {
        return 0;
    }
    d = web_utf8_json(carry, ncarry, pl->q.buf + pl->q.off, n);
    pl->q.off = pl->q.len;
    return d != NULL ? web_cast_line(buf, len, cap, t, "o", d) : -1;
}

static int web_cast_build(struct web_rec *x, char **out, size_t *outlen)
{
    const struct rec_header *h = rec_reader_header(x->rd);
    struct shell_player pl;
    struct rec_event ev;
    unsigned char carry[4];
    size_t ncarry = 0, len = 0, cap = 0;
    char *buf = NULL, *hs = NULL, err[300];
    double last = 0;
    json_t *head = NULL;
    int rc = -1, k;

    if (shell_player_init(&pl, &x->w.c, h) != 0) {
        return -1;
    }
    head = json_pack("{si si si sI}", "version", 2, "width", h->width > 0 ? h->width : 80, "height",
                     h->height > 0 ? h->height : 24, "timestamp", (json_int_t)h->timestamp);
    if (head != NULL && h->title != NULL) {
        json_object_set_new(head, "title", shell_json_string(h->title));
    }
    if (head != NULL && h->term != NULL) {
        json_object_set_new(head, "env", json_pack("{so}", "TERM", shell_json_string(h->term)));
    }
    if (head == NULL || (hs = json_dumps(head, JSON_COMPACT)) == NULL ||
        web_buf_line(&buf, &len, &cap, hs, strlen(hs)) != 0) {
        goto out;
    }
    while ((k = rec_reader_next(x->rd, &ev, err, sizeof(err))) == 1) {
        last = ev.time;
        if (strcmp(ev.code, "o") == 0 || strcmp(ev.code, "bo") == 0) {
            if (shell_player_event(&pl, &ev) != 0 ||
                web_cast_flush(&pl, carry, &ncarry, &buf, &len, &cap, ev.time) != 0) {
                goto out;
            }
        } else if (strcmp(ev.code, "i") == 0) {
            unsigned char c2[4];
            size_t n2 = 0;
            json_t *d = web_utf8_json(c2, &n2, (const char *)ev.data, ev.len);

            if (d == NULL || web_cast_line(&buf, &len, &cap, ev.time, "i", d) != 0) {
                goto out;
            }
        } else if (strcmp(ev.code, "r") == 0 || strcmp(ev.code, "m") == 0) {
            json_t *d = shell_json_string((const char *)ev.data);

            if (d == NULL || web_cast_line(&buf, &len, &cap, ev.time, ev.code, d) != 0) {
                goto out;
            }
        }
    }
    /* A truncated end is what verify called truncated: play what there is. */
    if (shell_player_finish(&pl) != 0 ||
        web_cast_flush(&pl, carry, &ncarry, &buf, &len, &cap, last) != 0) {
        goto out;
    }
    *out = buf;
    *outlen = len;
    buf = NULL;
    rc = 0;
out:
    free(buf);
    free(hs);
    json_decref(head);
    shell_player_clear(&pl);
    return rc;
}

int web_h_session_cast(struct web_req *r)
{
    struct web_rec x;
    char *cast = NULL;
    size_t n = 0;
    int ret;

    if (web_rec_open(r, &x, "player") != 0) {
        ret = web_run_send_error(r, &x.w);
    } else if (web_cast_build(&x, &cast, &n) != 0) {
        ret = web_send_error(r, 500, "the recording cannot be converted");
    } else {
        ret = web_send(r, 200, "application/x-asciicast", cast, n);
    }
    free(cast);
    web_rec_clear(&x);
    return ret;
}

static void web_text_line(void *ctx, enum rec_stream s, double ts, const char *line, size_t len)
{
    json_t *arr = ctx;
    json_t *o = json_pack("{sf ss ss%}", "time", ts, "stream", s == REC_STREAM_IN ? "i" : "o",
                          "line", line, len);

    if (o != NULL) {
        json_array_append_new(arr, o);
    }
}

int web_h_session_transcript(struct web_req *r)
{
    struct web_rec x;
    struct rec_event ev;
    struct rec_text *t = NULL;
    json_t *arr = NULL;
    char err[300];
    double last = 0;
    int ret, k;

    if (web_rec_open(r, &x, "transcript") != 0) {
        ret = web_run_send_error(r, &x.w);
        web_rec_clear(&x);
        return ret;
    }
    if ((arr = json_array()) == NULL ||
        (t = rec_text_new(web_text_line, arr, WEB_TEXT_MAX)) == NULL) {
        json_decref(arr);
        web_rec_clear(&x);
        return web_send_error(r, 500, "out of memory");
    }
    while ((k = rec_reader_next(x.rd, &ev, err, sizeof(err))) == 1) {
        enum rec_stream s = ev.code[strlen(ev.code) - 1] == 'i' ? REC_STREAM_IN : REC_STREAM_OUT;

        last = ev.time;
        if (strcmp(ev.code, "o") == 0 || strcmp(ev.code, "i") == 0) {
            rec_text_feed(t, s, ev.time, ev.data, ev.len);
        } else if (strcmp(ev.code, "bo") == 0 || strcmp(ev.code, "bi") == 0) {
            rec_text_break(t, s);
        }
    }
    rec_text_finish(t, last);
    rec_text_free(t);
    web_rec_clear(&x);
    return web_send_json(r, 200, arr);
}

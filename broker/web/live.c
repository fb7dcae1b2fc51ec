/* SPDX-License-Identifier: Apache-2.0 */
/*
 * GET sessions/ID/live: a live session as server-sent events, in the form
 * the player's "eventsource" driver reads: first {"cols", "rows", "time",
 * "init"} with what the session has shown so far, then [t, "o", text] as
 * it shows more, and an event "done" when it has ended.
 *
 * It is the shell's `watch ID` (same checks, same refusals, the same
 * review.watch audit row): the web process runs the command and drives its
 * job from its loop, every WEB_LIVE_MS or when the job asks, instead of a
 * terminal.  While a live view has nothing to send its connection is
 * suspended; the loop resumes it when the job wrote more, to send a comment
 * line every WEB_LIVE_HEARTBEAT_MS (which also finds browsers that left),
 * and at the end.
 *
 * A live view belongs to the browser session that opened it: when that
 * session ends (logout, the idle or 12-hour limit, its user gone from the
 * directory) the view ends at once, with nothing more sent -- a logout
 * leaves no stream running.  The command runs with the session's user and
 * groups, read from the session at each step (a group refresh replaces
 * them) and never used once it has gone.
 */
#include "web.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

#define WEB_LIVE_HEARTBEAT_MS 15000
#define WEB_LIVE_PENDING_MAX (4u * 1024 * 1024) /* a browser further behind is dropped */

struct web_live {
    struct web_live *next;
    struct web_app *app;
    struct MHD_Connection *conn;
    const struct web_sess *sess; /* whose view it is; NULL once that session ended */
    struct web_run w;
    long long next_ms, started_ms, last_send_ms;
    char *pend;
    size_t npend, offpend, cappend;
    unsigned char carry[4];
    size_t ncarry;
    int suspended, closed;
};

static int web_live_add(struct web_live *lv, const char *s, size_t n)
{
    if (lv->offpend > 0 && lv->offpend == lv->npend) {
        lv->offpend = lv->npend = 0;
    }
    if (lv->npend + n > lv->cappend) {
        size_t ncap = lv->cappend ? lv->cappend : 16 * 1024;
        char *nb;

        while (ncap < lv->npend + n) {
            ncap *= 2;
        }
        if ((nb = realloc(lv->pend, ncap)) == NULL) {
            return -1;
        }
        lv->pend = nb;
        lv->cappend = ncap;
    }
    memcpy(lv->pend + lv->npend, s, n);
    lv->npend += n;
    return 0;
}

/* "data: JSON\n\n" for v (stolen). */
static int web_live_data(struct web_live *lv, json_t *v)
{
    char *s =
        v != NULL ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(9)) : NULL;
    int r = -1;

    json_decref(v);
    if (s != NULL) {
        r = web_live_add(lv, "data: ", 6) | web_live_add(lv, s, strlen(s)) |
            web_live_add(lv, "\n\n", 2);
    }
    free(s);
    return r;
}

/* What the job wrote since the last call, as one "o" event. */
static int web_live_take(struct web_live *lv, long long now_ms)
{
    json_t *d = NULL;
    int r = 0;

    if (lv->w.outlen == 0) {
        return 0;
    }
    d = web_utf8_json(lv->carry, &lv->ncarry, lv->w.out, lv->w.outlen);
    lv->w.outlen = 0;
    if (d == NULL) {
        return -1;
    }
    if (json_string_length(d) > 0) {
        r = web_live_data(lv,
                          json_pack("[f s o]", (double)(now_ms - lv->started_ms) / 1000.0, "o", d));
    } else {
        json_decref(d);
    }
    return r;
}

/* Runs the job while it is due; 1 when it has finished. */
static int web_live_step(struct web_live *lv, long long now_ms)
{
    struct shell_job *j = lv->w.c.job;

    for (int i = 0; i < 64 && j != NULL && now_ms >= lv->next_ms; i++) {
        long long next = now_ms + 200;
        int rc = j->step(j, &lv->w.c, now_ms, &next);

        if (rc <= 0) {
            return 1;
        }
        lv->next_ms = next;
        if (lv->w.outlen >= WEB_LIVE_PENDING_MAX) {
            break;
        }
    }
    return j == NULL;
}

static ssize_t web_live_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct web_live *lv = cls;
    size_t n = lv->npend - lv->offpend;

    (void)pos;
    if (n > 0) {
        n = n < max ? n : max;
        memcpy(buf, lv->pend + lv->offpend, n);
        lv->offpend += n;
        lv->last_send_ms = web_now_ms();
        return (ssize_t)n;
    }
    if (lv->closed) {
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    MHD_suspend_connection(lv->conn);
    lv->suspended = 1;
    return 0;
}

static void web_live_free(void *cls)
{
    struct web_live *lv = cls;
    struct web_live **pp = &lv->app->live;

    while (*pp != NULL && *pp != lv) {
        pp = &(*pp)->next;
    }
    if (*pp == lv) {
        *pp = lv->next;
    }
    web_run_clear(&lv->w);
    free(lv->pend);
    free(lv);
}

/* The recording's width and height, read from its header line; 80x24 when unknown. */
static void web_live_size(struct web_req *r, int *cols, int *rows)
{
    struct store_session s;
    struct rec_header h;
    char line[8192], err[128];
    ssize_t n = 0;
    int fd = -1;

    *cols = 80;
    *rows = 24;
    memset(&s, 0, sizeof(s));
    memset(&h, 0, sizeof(h));
    if (store_session_get(r->app->store, r->param[0], &s) != 0 || s.recording_path == NULL ||
        (fd = open(s.recording_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
        store_session_clear(&s);
        return;
    }
    n = read(fd, line, sizeof(line) - 1);
    close(fd);
    if (n > 0) {
        line[n] = '\0';
        if (rec_parse_header(line, strcspn(line, "\n"), &h, err, sizeof(err)) == 0) {
            *cols = h.width > 0 ? h.width : 80;
            *rows = h.height > 0 ? h.height : 24;
        }
        rec_header_clear(&h);
    }
    store_session_clear(&s);
}

int web_h_session_live(struct web_req *r)
{
    struct web_live *lv = calloc(1, sizeof(*lv));
    struct MHD_Response *resp = NULL;
    char *argv[] = {"watch", r->param[0], NULL};
    long long now = web_now_ms();
    json_t *init = NULL;
    int cols, rows, ret;

    if (lv == NULL) {
        return web_send_error(r, 500, "out of memory");
    }
    lv->app = r->app;
    lv->conn = r->conn;
    lv->sess = r->sess;
    web_run_init(&lv->w, r);
    lv->w.c.interactive = 1;
    web_run_argv(&lv->w, 2, argv);
    if (lv->w.status != SHELL_OK || lv->w.c.job == NULL) {
        ret = web_run_send_error(r, &lv->w);
        web_run_clear(&lv->w);
        free(lv);
        return ret;
    }
    lv->w.errlen = 0; /* "watching session ..." is for a terminal */
    lv->w.outlen = 0;
    web_live_size(r, &cols, &rows);
    lv->started_ms = lv->last_send_ms = now;
    lv->closed = web_live_step(lv, now);
    init = web_utf8_json(lv->carry, &lv->ncarry, lv->w.out != NULL ? lv->w.out : "", lv->w.outlen);
    lv->w.outlen = 0;
    if (web_live_data(lv, json_pack("{si si sf so}", "cols", cols, "rows", rows, "time", 0.0,
                                    "init", init)) != 0 ||
        (lv->closed && web_live_add(lv, "event: done\ndata: {}\n\n", 22) != 0) ||
        (resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, web_live_read, lv,
                                                  web_live_free)) == NULL) {
        web_run_clear(&lv->w);
        free(lv->pend);
        free(lv);
        return web_send_error(r, 500, "out of memory");
    }
    lv->next = r->app->live;
    r->app->live = lv;
    web_headers(resp, 0);
    MHD_add_response_header(resp, "Content-Type", "text/event-stream");
    ret = MHD_queue_response(r->conn, 200, resp);
    MHD_destroy_response(resp);
    return ret;
}

void web_live_tick(struct web_app *app, long long now_ms)
{
    for (struct web_live *lv = app->live; lv != NULL; lv = lv->next) {
        if (!lv->closed && lv->sess != NULL) {
            int done;

            /* the session's user, groups and policy now (a refresh or a reload replaces them) */
            lv->w.c.user = lv->sess->user;
            lv->w.c.groups = (const char *const *)lv->sess->groups;
            lv->w.c.ngroups = lv->sess->ngroups;
            lv->w.c.policy = app->policy;
            done = web_live_step(lv, now_ms);
            if (web_live_take(lv, now_ms) != 0 || lv->npend - lv->offpend > WEB_LIVE_PENDING_MAX) {
                lv->closed = 1; /* out of memory, or a browser that stopped reading */
            } else if (done) {
                lv->closed = 1;
                web_live_add(lv, "event: done\ndata: {}\n\n", 22);
            }
        }
        if (!lv->closed && lv->npend == lv->offpend &&
            now_ms - lv->last_send_ms >= WEB_LIVE_HEARTBEAT_MS) {
            web_live_add(lv, ": still here\n\n", 14);
        }
        if (lv->suspended && (lv->npend > lv->offpend || lv->closed)) {
            lv->suspended = 0;
            MHD_resume_connection(lv->conn);
        }
    }
}

void web_live_sess_end(struct web_app *app, const struct web_sess *s)
{
    for (struct web_live *lv = app->live; lv != NULL; lv = lv->next) {
        if (lv->sess != s || s == NULL) {
            continue;
        }
        lv->sess = NULL;
        lv->closed = 1;
        lv->npend = lv->offpend = 0; /* not one more byte for a browser that logged out */
        lv->w.c.user = NULL;
        lv->w.c.groups = NULL;
        lv->w.c.ngroups = 0;
        if (lv->suspended) {
            lv->suspended = 0;
            MHD_resume_connection(lv->conn);
        }
    }
}

void web_live_stop_all(struct web_app *app)
{
    for (struct web_live *lv = app->live; lv != NULL; lv = lv->next) {
        lv->closed = 1;
        if (lv->suspended) {
            lv->suspended = 0;
            MHD_resume_connection(lv->conn);
        }
    }
}

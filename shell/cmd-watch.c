/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `watch ID` follows a live session as it happens: a job that shows what
 * the session has recorded so far at once (so the reviewer's screen is in
 * the engineer's state), then re-reads the recording about every 200 ms
 * and shows each new complete line (the writer flushes at least every
 * REC_FLUSH_MS).  It ends when the session has ended and its file is read
 * to the end, or when the reviewer types q or ^C.
 *
 * What is shown goes through the same player as `replay` (cmd-replay.c):
 * sanitised output, notes for binary output and markers.  The file is
 * checked when watching starts: a recording whose checkpoints do not hold
 * is refused.  New lines are parsed as they come, each batch behind the
 * header line, with the recordings reader.
 */
#include "shell.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#define WATCH_POLL_MS 200
#define WATCH_READ (16 * 1024) /* bytes of file per read */

struct watch_job {
    struct shell_job job; /* first: the session holds a struct shell_job * */
    char id[STORE_SESSION_ID_LEN + 1];
    char *path; /* NULL until the session notes its recording */
    int fd;
    char *pend; /* bytes read and not yet a complete line */
    size_t npend, cappend;
    char *header; /* the header line with its newline; NULL until read */
    size_t nheader;
    char *batch; /* header + complete lines, for the reader */
    size_t capbatch;
    struct shell_player pl;
    int player;   /* pl is set up (after the header) */
    int quit;     /* q or ^C */
    int ended;    /* the row said the session had ended, before the last read */
    int finished; /* the player's end is queued */
    int failed;
    int exit_status;
    char why[300];
};

static void watch_free(struct shell_job *j)
{
    struct watch_job *wj = (struct watch_job *)j;

    if (wj == NULL) {
        return;
    }
    if (wj->fd >= 0) {
        close(wj->fd);
    }
    shell_player_clear(&wj->pl);
    free(wj->path);
    free(wj->pend);
    free(wj->header);
    free(wj->batch);
    free(wj);
}

static void watch_input(struct shell_job *j, struct shell_ctx *c, const char *buf, size_t len)
{
    (void)c;
    if (shell_job_quit_key(buf, len)) {
        ((struct watch_job *)j)->quit = 1;
    }
}

/* Opens the recording once the row names it. */
static int watch_open(struct watch_job *wj, const char *path)
{
    struct stat st;

    if ((wj->path = strdup(path)) == NULL) {
        return DB_ERR_NOMEM;
    }
    wj->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (wj->fd < 0 || fstat(wj->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        db_errf(wj->why, sizeof(wj->why), "the recording cannot be opened");
        return DB_ERR_IO;
    }
    return 0;
}

/* The session's row: has it ended, and where is its recording? */
static int watch_poll_row(struct watch_job *wj, struct shell_ctx *c)
{
    struct store_session s;
    int rc;

    if (c->access == NULL || c->access->store == NULL) {
        db_errf(wj->why, sizeof(wj->why), "the store is unavailable");
        return DB_ERR_UNAVAIL;
    }
    if ((rc = store_session_get(c->access->store, wj->id, &s)) != 0) {
        db_errf(wj->why, sizeof(wj->why), "cannot read session %s: %s", wj->id, db_strerror(rc));
        return rc;
    }
    if (wj->path == NULL && s.recording_path != NULL && s.recording_path[0] != '\0') {
        rc = watch_open(wj, s.recording_path);
    }
    if (s.ended_at != 0) {
        wj->ended = 1;
        wj->exit_status = s.exit_status;
    }
    store_session_clear(&s);
    return rc;
}

/* Shows the complete lines of pend[0..n): the first is the header. */
static int watch_lines(struct watch_job *wj, struct shell_ctx *c, size_t n)
{
    struct rec_reader *r = NULL;
    struct rec_event ev;
    size_t off = 0;
    int rc;

    if (wj->header == NULL) {
        const char *nl = memchr(wj->pend, '\n', n);
        size_t hl = (size_t)(nl - wj->pend) + 1;

        if ((wj->header = malloc(hl)) == NULL) {
            return DB_ERR_NOMEM;
        }
        memcpy(wj->header, wj->pend, hl);
        wj->nheader = hl;
        off = hl;
        if ((rc = rec_reader_open_buf(wj->header, hl, &r, wj->why, sizeof(wj->why))) != 0) {
            return rc;
        }
        rc = shell_player_init(&wj->pl, c, rec_reader_header(r));
        rec_reader_free(r);
        r = NULL;
        if (rc != 0) {
            return rc;
        }
        wj->player = 1;
    }
    if (off == n) {
        return 0;
    }
    if (wj->capbatch < wj->nheader + (n - off)) {
        char *nb = realloc(wj->batch, wj->nheader + (n - off));

        if (nb == NULL) {
            return DB_ERR_NOMEM;
        }
        wj->batch = nb;
        wj->capbatch = wj->nheader + (n - off);
    }
    memcpy(wj->batch, wj->header, wj->nheader);
    memcpy(wj->batch + wj->nheader, wj->pend + off, n - off);
    if ((rc = rec_reader_open_buf(wj->batch, wj->nheader + (n - off), &r, wj->why,
                                  sizeof(wj->why))) != 0) {
        return rc;
    }
    while ((rc = rec_reader_next(r, &ev, wj->why, sizeof(wj->why))) == 1) {
        if ((rc = shell_player_event(&wj->pl, &ev)) != 0) {
            break;
        }
    }
    rec_reader_free(r);
    return rc;
}

/*
 * Reads what the file has gained (at most WATCH_READ bytes) and queues the
 * complete lines.  1 when something was read, 0 at the end for now.
 */
static int watch_read(struct watch_job *wj, struct shell_ctx *c)
{
    ssize_t n;
    const char *last;
    size_t done;
    int rc;

    if (wj->cappend < wj->npend + WATCH_READ) {
        size_t ncap = wj->cappend ? wj->cappend : 2 * WATCH_READ;
        char *nb;

        while (ncap < wj->npend + WATCH_READ) {
            ncap *= 2;
        }
        if (ncap > REC_LINE_MAX + 2 * WATCH_READ) {
            db_errf(wj->why, sizeof(wj->why), "a line of the recording is too long");
            return DB_ERR_INVALID;
        }
        if ((nb = realloc(wj->pend, ncap)) == NULL) {
            return DB_ERR_NOMEM;
        }
        wj->pend = nb;
        wj->cappend = ncap;
    }
    do {
        n = read(wj->fd, wj->pend + wj->npend, WATCH_READ);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        db_errf(wj->why, sizeof(wj->why), "reading the recording failed");
        return DB_ERR_IO;
    }
    if (n == 0) {
        return 0;
    }
    wj->npend += (size_t)n;
    last = NULL;
    for (size_t i = wj->npend; i > 0; i--) {
        if (wj->pend[i - 1] == '\n') {
            last = wj->pend + i - 1;
            break;
        }
    }
    if (last == NULL) {
        return 1; /* no complete line yet */
    }
    done = (size_t)(last - wj->pend) + 1;
    if ((rc = watch_lines(wj, c, done)) != 0) {
        return rc;
    }
    memmove(wj->pend, wj->pend + done, wj->npend - done);
    wj->npend -= done;
    return 1;
}

static int watch_end(struct watch_job *wj, struct shell_ctx *c, size_t budget, long long now_ms,
                     long long *next_ms)
{
    if (!wj->finished) {
        wj->finished = 1;
        if (wj->player && shell_player_finish(&wj->pl) == 0 &&
            shell_outq_flush(c, &wj->pl.q, 0, budget) > 0) {
            *next_ms = now_ms;
            return 1;
        }
    }
    if (wj->failed) {
        char shown[300];

        shell_err(c, "drawbridge: watching session %s stopped: %s\n", wj->id,
                  shell_sanitize(shown, sizeof(shown), wj->why, strlen(wj->why), 0));
        return -1;
    }
    if (wj->quit) {
        shell_err(c, "stopped watching session %s\n", wj->id);
    } else {
        shell_err(c, "session %s ended (exit status %d)\n", wj->id, wj->exit_status);
    }
    return 0;
}

static int watch_step(struct shell_job *j, struct shell_ctx *c, long long now_ms,
                      long long *next_ms)
{
    struct watch_job *wj = (struct watch_job *)j;
    size_t budget = SHELL_JOB_CHUNK;
    int was_ended, rc;

    if (wj->finished || wj->quit || wj->failed) {
        return watch_end(wj, c, budget, now_ms, next_ms);
    }
    if (wj->pl.q.len > wj->pl.q.off) {
        size_t before = wj->pl.q.len - wj->pl.q.off;

        if (shell_outq_flush(c, &wj->pl.q, 0, budget) > 0) {
            *next_ms = now_ms;
            return 1;
        }
        budget -= before;
    }
    /* Whether it had ended is asked before reading: the file is complete by then. */
    if ((rc = watch_poll_row(wj, c)) != 0) {
        wj->failed = 1;
        return watch_end(wj, c, budget, now_ms, next_ms);
    }
    was_ended = wj->ended;
    while (wj->fd >= 0 && budget > 0) {
        size_t before;

        if ((rc = watch_read(wj, c)) < 0) {
            wj->failed = 1;
            return watch_end(wj, c, budget, now_ms, next_ms);
        }
        before = wj->pl.q.len - wj->pl.q.off;
        if (shell_outq_flush(c, &wj->pl.q, 0, budget) > 0) {
            *next_ms = now_ms;
            return 1;
        }
        budget -= before;
        if (rc == 0) {
            if (was_ended) {
                return watch_end(wj, c, budget, now_ms, next_ms);
            }
            break;
        }
    }
    if (wj->fd < 0 && was_ended) {
        db_errf(wj->why, sizeof(wj->why), "the session ended without a recording");
        wj->failed = 1;
        return watch_end(wj, c, budget, now_ms, next_ms);
    }
    *next_ms = budget == 0 ? now_ms : now_ms + WATCH_POLL_MS;
    return 1;
}

static int cmd_watch_exec(struct shell_ctx *c, int argc, char **argv)
{
    static const char *const spec[] = {NULL};
    struct shell_review rv;
    struct shell_opts o;
    struct store_session s;
    struct watch_job *wj = NULL;
    enum rec_verdict verdict = REC_MISSING;
    char label[200], started[SHELL_TIME_MAX];
    int r;

    memset(&s, 0, sizeof(s));
    if ((r = shell_review_begin(c, argv[0], spec, 1, argc, argv, &o, &rv)) != 0) {
        return r;
    }
    if ((r = shell_review_session(c, &rv, &s)) != 0) {
        return r;
    }
    if (s.ended_at != 0) {
        r = shell_review_refuse(c, &rv, json_object(),
                                "session %s has ended; `replay %s` plays its recording", s.id,
                                s.id);
        goto out;
    }
    if ((wj = calloc(1, sizeof(*wj))) == NULL) {
        r = shell_review_refuse(c, &rv, json_object(), "out of memory");
        goto out;
    }
    wj->fd = -1;
    snprintf(wj->id, sizeof(wj->id), "%s", s.id);
    /* A session notes its recording as it starts; until then there is nothing to check. */
    if (s.recording_path != NULL && s.recording_path[0] != '\0') {
        if ((r = shell_recording_usable(c, &rv, &s, "checkpoints", "not showing it",
                                        &verdict)) != 0) {
            goto out;
        }
        if (watch_open(wj, s.recording_path) != 0) {
            r = shell_review_refuse(c, &rv, json_object(),
                                    "the recording of session %s cannot "
                                    "be opened",
                                    s.id);
            goto out;
        }
    }
    if ((r = shell_review_ok(c, &rv, json_object())) != 0) {
        goto out;
    }
    wj->job.step = watch_step;
    wj->job.input = watch_input;
    wj->job.free = watch_free;
    shell_err(c, "watching session %s: %s, live since %s, press q to stop\n", s.id,
              shell_session_label(&s, label, sizeof(label)),
              shell_time(s.started_at, started, sizeof(started)));
    c->job = &wj->job;
    wj = NULL;
    r = SHELL_OK;
out:
    watch_free(wj ? &wj->job : NULL);
    store_session_clear(&s);
    return r;
}

const struct shell_cmd_entry shell_cmd_watch_entry = {
    .name = "watch",
    .usage = "watch ID",
    .summary = "follow a live session as it happens (reviewers)",
    .exec = cmd_watch_exec,
};

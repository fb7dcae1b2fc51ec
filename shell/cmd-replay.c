/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `replay ID [--speed X] [--idle-limit S]` plays a session's recording in
 * the reviewer's terminal at its original timing (scaled by X, 0.1 to 100;
 * gaps longer than S seconds cut to S), as a job: each step writes what is
 * due and says when the next event is.  q or ^C stops it.  It works in an
 * interactive shell and as `ssh -t gw replay ID`; without -t the output is
 * the same, and typing q then Enter stops it.
 *
 * What reaches the terminal is never the recording's bytes as such: output
 * goes through the recordings sanitiser (no clipboard writes, no answers
 * back, no C1 controls), binary output and markers become one-line notes,
 * and the reviewer's input events are not shown (the terminal echo is in
 * the output).  Before playing, the file is checked against the seal in
 * the session row: a tampered recording is refused, a truncated one (a
 * crash, a kill) is played with a warning.  The file is read into memory
 * once and, when sealed, its SHA-256 is compared with the seal again, so
 * what is played is exactly what was checked.
 *
 * The header and footer go to stderr (the same stream on a terminal), so
 * that stdout is the replay alone.  This file also holds the event
 * rendering that `watch` shares (struct shell_player, shell.h).
 */
#include "shell.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#define REPLAY_SPEED_MIN 0.1
#define REPLAY_SPEED_MAX 100.0
#define REPLAY_IDLE_MAX 86400.0
#define REPLAY_FILE_MAX (4ull << 30) /* as the reader's own limit */
#define REPLAY_LAG_MS 1000 /* a reviewer who fell further behind is not rushed to catch up */
#define REPLAY_NOTE_MAX 200

/* ---- the player, shared with watch ---- */

int shell_player_init(struct shell_player *p, const struct shell_ctx *c, const struct rec_header *h)
{
    memset(p, 0, sizeof(*p));
    p->crlf = c->interactive && h->term == NULL;
    p->styled = c->interactive;
    p->at_bol = 1;
    return rec_sanitizer_new(&p->san);
}

static const char *player_nl(const struct shell_player *p)
{
    return p->styled ? "\r\n" : "\n";
}

/* Notes that the replayed program switched to or from the alternate screen (best effort). */
static void player_track_alt(struct shell_player *p, const char *s, size_t n)
{
    static const char *const on[] = {"\x1b[?1049h", "\x1b[?1047h", "\x1b[?47h"};
    static const char *const off[] = {"\x1b[?1049l", "\x1b[?1047l", "\x1b[?47l"};
    const char *last_on = NULL, *last_off = NULL;

    for (size_t k = 0; k < sizeof(on) / sizeof(on[0]); k++) {
        for (const char *q = s; (q = memmem(q, n - (size_t)(q - s), on[k], strlen(on[k]))); q++) {
            last_on = q > last_on ? q : last_on;
        }
        for (const char *q = s; (q = memmem(q, n - (size_t)(q - s), off[k], strlen(off[k]))); q++) {
            last_off = q > last_off ? q : last_off;
        }
    }
    if (last_on != NULL || last_off != NULL) {
        p->alt = last_on > last_off;
    }
}

int shell_player_note(struct shell_player *p, const char *text)
{
    char shown[REPLAY_NOTE_MAX + 8];
    const char *nl = player_nl(p);
    int r = 0;

    shell_sanitize(shown, sizeof(shown), text, strlen(text), 0);
    if (!p->at_bol) {
        r |= shell_outq_add(&p->q, nl, strlen(nl), 0);
    }
    if (p->styled) {
        r |= shell_outq_add(&p->q, "\x1b[2m", 4, 0);
    }
    r |= shell_outq_add(&p->q, "[", 1, 0);
    r |= shell_outq_add(&p->q, shown, strlen(shown), 0);
    r |= shell_outq_add(&p->q, "]", 1, 0);
    if (p->styled) {
        r |= shell_outq_add(&p->q, "\x1b[22m", 5, 0);
    }
    r |= shell_outq_add(&p->q, nl, strlen(nl), 0);
    p->at_bol = 1;
    return r != 0 ? DB_ERR_NOMEM : 0;
}

int shell_player_event(struct shell_player *p, const struct rec_event *ev)
{
    char note[REPLAY_NOTE_MAX + 32];

    if (strcmp(ev->code, "o") == 0) {
        p->tmplen = 0;
        if (rec_sanitize(p->san, ev->data, ev->len, &p->tmp, &p->tmplen, &p->tmpcap) != 0 ||
            shell_outq_add(&p->q, p->tmp, p->tmplen, p->crlf) != 0) {
            return DB_ERR_NOMEM;
        }
        if (p->tmplen > 0) {
            p->at_bol = p->tmp[p->tmplen - 1] == '\n';
            if (p->styled) {
                player_track_alt(p, p->tmp, p->tmplen);
            }
        }
        p->shown += ev->len;
        return 0;
    }
    if (strcmp(ev->code, "bo") == 0) {
        snprintf(note, sizeof(note), "binary output: %zu bytes", ev->len);
        return shell_player_note(p, note);
    }
    if (strcmp(ev->code, "m") == 0) {
        char label[REPLAY_NOTE_MAX + 1];
        size_t n = ev->len < REPLAY_NOTE_MAX ? ev->len : REPLAY_NOTE_MAX;

        memcpy(label, ev->data, n);
        label[n] = '\0';
        return shell_player_note(p, label);
    }
    /* i, bi (the echo is in the output), r, c: nothing to show */
    return 0;
}

int shell_player_finish(struct shell_player *p)
{
    const char *nl = player_nl(p);
    int r = 0;

    if (p->styled) {
        /* attributes off, cursor shown, and out of the alternate screen if a program left it on */
        r |= shell_outq_add(&p->q, "\x1b[0m\x1b[?25h", 10, 0);
        if (p->alt) {
            r |= shell_outq_add(&p->q, "\x1b[?1049l", 8, 0);
            p->alt = 0;
        }
    }
    if (!p->at_bol) {
        r |= shell_outq_add(&p->q, nl, strlen(nl), 0);
        p->at_bol = 1;
    }
    return r != 0 ? DB_ERR_NOMEM : 0;
}

void shell_player_clear(struct shell_player *p)
{
    rec_sanitizer_free(p->san);
    shell_outq_free(&p->q);
    free(p->tmp);
    memset(p, 0, sizeof(*p));
}

/* ---- the replay job ---- */

struct replay_job {
    struct shell_job job; /* first: the session holds a struct shell_job * */
    char id[STORE_SESSION_ID_LEN + 1];
    char *data; /* the file */
    size_t len;
    struct rec_reader *r;
    struct shell_player pl;
    struct rec_event ev; /* the next event to show, when have_ev */
    int have_ev;
    double speed, idle;
    double prev;       /* recording time of the last event shown */
    long long due_ms;  /* when ev is due */
    long long last_ms; /* when the last event shown was due; -1 before the first step */
    int quit;          /* q or ^C */
    int finished;      /* the player's end is queued */
    int ended;         /* no more events */
    int failed;        /* the reader stopped on a bad line (not a truncated end) */
    int truncated;     /* the file ends early, as verify said */
    int live;          /* the session had not ended when the replay began */
    int exit_status;
    long long ended_at;
    char why[300];
};

static void replay_free(struct shell_job *j)
{
    struct replay_job *rj = (struct replay_job *)j;

    if (rj == NULL) {
        return;
    }
    rec_reader_free(rj->r);
    shell_player_clear(&rj->pl);
    free(rj->data);
    free(rj);
}

static void replay_input(struct shell_job *j, struct shell_ctx *c, const char *buf, size_t len)
{
    (void)c;
    if (shell_job_quit_key(buf, len)) {
        ((struct replay_job *)j)->quit = 1;
    }
}

static void replay_footer(struct replay_job *rj, struct shell_ctx *c)
{
    if (rj->failed) {
        shell_err(c, "drawbridge: the recording of session %s cannot be read further: %s\n", rj->id,
                  rj->why);
    } else if (rj->quit) {
        shell_err(c, "replay of session %s stopped\n", rj->id);
    } else if (rj->truncated || rj->live) {
        shell_err(c, "end of the recording of session %s (%s)\n", rj->id,
                  rj->live ? "the session is still live" : "truncated: it ends early");
    } else {
        shell_err(c, "end of session %s (exit status %d)\n", rj->id, rj->exit_status);
    }
}

/* The next event worth showing (o, bo, m) into rj->ev, with its due time. */
static void replay_next(struct replay_job *rj)
{
    int rc;

    while ((rc = rec_reader_next(rj->r, &rj->ev, rj->why, sizeof(rj->why))) == 1) {
        if (strcmp(rj->ev.code, "o") == 0 || strcmp(rj->ev.code, "bo") == 0 ||
            strcmp(rj->ev.code, "m") == 0) {
            double d = rec_play_delay(rj->prev, rj->ev.time, rj->speed, rj->idle);

            if (!(d >= 0.0)) {
                d = 0.0;
            } else if (d > REPLAY_IDLE_MAX) {
                d = REPLAY_IDLE_MAX; /* a wait, however long the gap, fits the clock */
            }

            rj->have_ev = 1;
            rj->due_ms = rj->last_ms + (long long)(d * 1000.0 + 0.5);
            return;
        }
    }
    rj->ended = 1;
    /* A cut-off last line is what a truncated recording ends with; anything else is a fault. */
    if (rc < 0 && !(rj->truncated || rj->live)) {
        rj->failed = 1;
    }
}

static int replay_step(struct shell_job *j, struct shell_ctx *c, long long now_ms,
                       long long *next_ms)
{
    struct replay_job *rj = (struct replay_job *)j;
    size_t budget = SHELL_JOB_CHUNK;

    if (rj->last_ms < 0) {
        rj->last_ms = now_ms;
    }
    for (;;) {
        size_t before = rj->pl.q.len - rj->pl.q.off;

        if (shell_outq_flush(c, &rj->pl.q, 0, budget) > 0) {
            *next_ms = now_ms;
            return 1; /* more when the reviewer has taken this */
        }
        budget -= before;
        if (rj->quit || rj->ended) {
            break;
        }
        if (!rj->have_ev) {
            replay_next(rj);
            continue;
        }
        if (now_ms < rj->due_ms) {
            *next_ms = rj->due_ms;
            return 1;
        }
        if (shell_player_event(&rj->pl, &rj->ev) != 0) {
            db_errf(rj->why, sizeof(rj->why), "out of memory");
            rj->failed = rj->ended = 1;
            break;
        }
        rj->have_ev = 0;
        rj->prev = rj->ev.time;
        /* Timing runs from when each event was due, unless the reviewer fell far behind. */
        rj->last_ms = now_ms - rj->due_ms > REPLAY_LAG_MS ? now_ms : rj->due_ms;
        if (budget == 0) {
            *next_ms = now_ms;
            return 1;
        }
    }
    if (!rj->finished) {
        rj->finished = 1;
        if (shell_player_finish(&rj->pl) == 0 && shell_outq_flush(c, &rj->pl.q, 0, budget) > 0) {
            *next_ms = now_ms;
            return 1;
        }
    }
    replay_footer(rj, c);
    return rj->failed ? -1 : 0;
}

/* ---- the command ---- */

/* A number as typed: decimal, finite, within [lo, hi]. */
static int replay_number(const char *s, double lo, double hi, double *out)
{
    char *end = NULL;
    double v;

    if (s == NULL || s[0] == '\0' || s[0] == ' ') {
        return DB_ERR_INVALID;
    }
    for (const char *q = s; *q != '\0'; q++) {
        if (!((*q >= '0' && *q <= '9') || *q == '.')) {
            return DB_ERR_INVALID; /* no signs, exponents, hex, inf or nan */
        }
    }
    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || end == NULL || *end != '\0' || !isfinite(v) || v < lo || v > hi) {
        return DB_ERR_INVALID;
    }
    *out = v;
    return 0;
}

/* The whole file, once: regular, not a symlink, at most REPLAY_FILE_MAX. */
static int replay_load(const char *path, char **data, size_t *len)
{
    struct stat st;
    char *buf = NULL;
    size_t have = 0;
    int fd, r = DB_ERR_IO;

    *data = NULL;
    *len = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        return errno == ENOENT ? DB_ERR_NOTFOUND : DB_ERR_IO;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        (unsigned long long)st.st_size > REPLAY_FILE_MAX) {
        goto out;
    }
    if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
        r = DB_ERR_NOMEM;
        goto out;
    }
    /* A live recording may grow meanwhile: what was there at fstat is what is played. */
    while (have < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + have, (size_t)st.st_size - have);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        have += (size_t)n;
    }
    *data = buf;
    *len = have;
    buf = NULL;
    r = 0;
out:
    free(buf);
    close(fd);
    return r;
}

/* 1 when the SHA-256 of data is hex (the seal, lowercase). */
static int replay_sha_matches(const char *data, size_t len, const char *hex)
{
    static const char digits[] = "0123456789abcdef";
    unsigned char md[32];
    unsigned int mdlen = 0;
    char got[REC_HEX_LEN + 1];

    if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != sizeof(md)) {
        return 0;
    }
    for (size_t i = 0; i < sizeof(md); i++) {
        got[2 * i] = digits[md[i] >> 4];
        got[2 * i + 1] = digits[md[i] & 15];
    }
    got[REC_HEX_LEN] = '\0';
    return strcasecmp(got, hex) == 0;
}

int shell_replay_load(struct shell_ctx *c, struct shell_review *rv, const struct store_session *s,
                      char **data, size_t *len, enum rec_verdict *verdict, char *why,
                      size_t whylen)
{
    int rc;

    *data = NULL;
    *len = 0;
    *verdict = REC_MISSING;
    /* Read first, then check the file: a swap after the check cannot reach the screen. */
    if (s->recording_path != NULL && (rc = replay_load(s->recording_path, data, len)) != 0 &&
        rc != DB_ERR_NOTFOUND) {
        c->refusal = rc;
        return shell_review_refuse(c, rv, json_object(),
                                   "the recording of session %s cannot be read", s->id);
    }
    rc = shell_recording_check(c, s, verdict, why, whylen);
    if (rc == 0 && *verdict != REC_TAMPERED && s->sha256[0] != '\0' &&
        (*data == NULL || !replay_sha_matches(*data, *len, s->sha256))) {
        *verdict = REC_TAMPERED;
        db_errf(why, whylen, "the file changed while it was read");
    }
    if (rc != 0) {
        c->refusal = rc;
        rc = shell_review_refuse(c, rv, json_object(), "%s", why);
    } else if (*verdict == REC_MISSING || *data == NULL) {
        c->refusal = DB_ERR_NOTFOUND;
        rc = shell_review_refuse(c, rv, json_pack("{ss}", "verdict", "missing"),
                                 "the recording of session %s is missing", s->id);
    } else if (*verdict == REC_TAMPERED) {
        c->refusal = DB_ERR_TAMPERED;
        rc = shell_review_refuse(c, rv, json_pack("{ss}", "verdict", "tampered"),
                                 "the recording of session %s does not match its seal (%s); "
                                 "not replaying it",
                                 s->id, why);
    }
    if (rc != 0) {
        free(*data);
        *data = NULL;
        *len = 0;
    }
    return rc;
}

static int cmd_replay_exec(struct shell_ctx *c, int argc, char **argv)
{
    static const char *const spec[] = {"speed=", "idle-limit=", NULL};
    struct shell_review rv;
    struct shell_opts o;
    struct store_session s;
    struct replay_job *rj = NULL;
    enum rec_verdict verdict = REC_MISSING;
    char why[300] = "", label[200], started[SHELL_TIME_MAX], err[300] = "";
    double speed = 1.0, idle = 0.0;
    int r;

    memset(&s, 0, sizeof(s));
    if ((r = shell_review_begin(c, argv[0], spec, 1, argc, argv, &o, &rv)) != 0) {
        return r;
    }
    if (shell_opt(&o, "speed") != NULL &&
        replay_number(shell_opt(&o, "speed"), REPLAY_SPEED_MIN, REPLAY_SPEED_MAX, &speed) != 0) {
        return shell_usage(c, argv[0], "--speed: a number from 0.1 to 100, e.g. 2 or 0.5");
    }
    if (shell_opt(&o, "idle-limit") != NULL &&
        replay_number(shell_opt(&o, "idle-limit"), 0.0, REPLAY_IDLE_MAX, &idle) != 0) {
        return shell_usage(c, argv[0], "--idle-limit: seconds, 0 or more, e.g. 2 or 0.5");
    }
    if ((r = shell_review_session(c, &rv, &s)) != 0) {
        return r;
    }
    if ((rj = calloc(1, sizeof(*rj))) == NULL) {
        r = shell_review_refuse(c, &rv, json_object(), "out of memory");
        goto out;
    }
    if ((r = shell_replay_load(c, &rv, &s, &rj->data, &rj->len, &verdict, why,
                               sizeof(why))) != 0) {
        goto out;
    }
    if (rec_reader_open_buf(rj->data, rj->len, &rj->r, err, sizeof(err)) != 0) {
        r = shell_review_refuse(c, &rv, json_object(),
                                "the recording of session %s cannot be read: %s", s.id, err);
        goto out;
    }
    if (shell_player_init(&rj->pl, c, rec_reader_header(rj->r)) != 0) {
        r = shell_review_refuse(c, &rv, json_object(), "out of memory");
        goto out;
    }
    if ((r = shell_review_ok(c, &rv,
                             json_pack("{sf sf ss}", "speed", speed, "idle_limit", idle, "verdict",
                                       s.ended_at == 0 ? "live" : rec_verdict_name(verdict)))) !=
        0) {
        goto out;
    }
    snprintf(rj->id, sizeof(rj->id), "%s", s.id);
    rj->speed = speed;
    rj->idle = idle;
    rj->last_ms = -1;
    rj->live = s.ended_at == 0;
    rj->truncated = verdict == REC_TRUNCATED && !rj->live;
    rj->exit_status = s.exit_status;
    rj->ended_at = s.ended_at;
    rj->job.step = replay_step;
    rj->job.input = replay_input;
    rj->job.free = replay_free;
    shell_err(c, "replaying session %s: %s, started %s", s.id,
              shell_session_label(&s, label, sizeof(label)),
              shell_time(s.started_at, started, sizeof(started)));
    if (speed != 1.0) {
        shell_err(c, ", speed %g", speed);
    }
    if (idle > 0) {
        shell_err(c, ", idle limit %gs", idle);
    }
    shell_err(c, ", press q to stop\n");
    if (rj->live) {
        shell_err(c,
                  "drawbridge: session %s is still live: this is what is recorded so far "
                  "(watch %s follows it)\n",
                  s.id, s.id);
    } else if (rj->truncated) {
        char shown[300];

        shell_err(c,
                  "drawbridge: warning: the recording ends early (%s): the session did not "
                  "close cleanly\n",
                  shell_sanitize(shown, sizeof(shown), why, strlen(why), 0));
    }
    c->job = &rj->job;
    rj = NULL;
    r = SHELL_OK;
out:
    replay_free(rj ? &rj->job : NULL);
    store_session_clear(&s);
    return r;
}

const struct shell_cmd_entry shell_cmd_replay_entry = {
    .name = "replay",
    .usage = "replay ID [--speed X] [--idle-limit S]",
    .summary = "play a session's recording at its original timing (reviewers)",
    .exec = cmd_replay_exec,
};

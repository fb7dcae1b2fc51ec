/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for the reviewer commands (sessions, replay, watch, terminate,
 * export, review, reviews, search, audit) on a real store in a temp
 * state_dir, with recordings written by the recordings writer into files
 * and session rows pointing at them, a fake clock, and jobs driven step by
 * step with a fake monotonic clock while their output is captured.
 *
 * Covered: every command refused (and audited) for people who are not
 * reviewers; the session list's filters and JSON; replay's output is the
 * sanitised output in order, its waits follow speed and idle limit, q and
 * ^C stop it, a tampered recording is refused and a truncated one played
 * with a warning; watch shows lines written after it started and ends with
 * the session; terminate asks once, only a live session; export writes the
 * file's bytes exactly, in chunks; review and the pending list; search
 * takes its text literally; audit --limit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "broker.h"
#include "store-backend.h"
#include "common.h"
#include "policy.h"
#include "recording.h"
#include "shell.h"

#define UNUSED __attribute__((unused))

/* 2023-11-14 22:13:20 UTC */
#define T0 1700000000LL

static const char policy_yaml[] =
    "protected: {env: [prod]}\n"
    "request_ttl: 1h\n"
    "targets:\n"
    "  - name: web-1\n"
    "    address: 10.0.1.5:22\n"
    "    host_key: \"ssh-ed25519 "
    "AAAAC3NzaC1lZDI1NTE5AAAAIK2gdacZattUshfoN5KEENRTezsBX49Jt7jvKqAug/lF\"\n"
    "    logins: [deploy]\n"
    "    labels: {env: prod, tier: web}\n"
    "  - name: db-1\n"
    "    address: 10.0.2.5:22\n"
    "    host_key: \"ssh-ed25519 "
    "AAAAC3NzaC1lZDI1NTE5AAAAIHpiPRyeU4DKVU2+t8u1RDE/f3OBmyWOr6fM9YP1nNEK\"\n"
    "    logins: [postgres]\n"
    "    labels: {env: prod, tier: db}\n"
    "rules:\n"
    "  - name: web-oncall\n"
    "    requesters: [\"group:sre\"]\n"
    "    targets: {labels: {tier: web}}\n"
    "    logins: [deploy]\n"
    "    max_duration: 4h\n"
    "    approvers: [\"group:sre-leads\"]\n"
    "    approvals: 1\n"
    "reviewers: [\"group:security\"]\n"
    "break_glass:\n"
    "  requesters: [\"group:oncall\"]\n"
    "  max_duration: 30m\n";

struct person {
    const char *user;
    const char *groups[4];
};

/* sam and rita review; alice requests, bob approves, eve is an engineer, olivia breaks glass. */
static const struct person people[] = {
    {"sam", {"security", NULL}},  {"rita", {"security", "sre", NULL}}, {"alice", {"sre", NULL}},
    {"bob", {"sre-leads", NULL}}, {"eve", {"engineers", NULL}},        {"olivia", {"oncall", NULL}},
};

struct fx {
    char dir[64];
    struct store *s;
    struct policy *p;
    struct access a;
    struct config cfg;
    unsigned char key[REC_KEY_LEN];
    long long now;
};

static long long fx_clock(void *ctx)
{
    return ((struct fx *)ctx)->now;
}

static int fx_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    char path[128], err[1024] = "";
    int fd;

    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/db-shell-review-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(path, sizeof(path), "%s/keys", f->dir);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/recordings", f->dir);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/keys/recording.hmac", f->dir);
    for (size_t i = 0; i < sizeof(f->key); i++) {
        f->key[i] = (unsigned char)(i * 11 + 3);
    }
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, f->key, sizeof(f->key)), (ssize_t)sizeof(f->key));
    close(fd);
    if (tsb_open(f->dir, &f->s, err, sizeof(err)) != 0) {
        fail_msg("store: %s", err);
    }
    if (policy_load_buffer("test.yaml", policy_yaml, sizeof(policy_yaml) - 1, &f->p, err,
                           sizeof(err)) != 0) {
        fail_msg("policy: %s", err);
    }
    f->a.store = f->s;
    f->a.policy = f->p;
    f->cfg.state_dir = f->dir;
    f->now = T0;
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    char err[512] = "";

    /* Whatever the commands did, the audit chain still verifies. */
    if (store_audit_verify(f->s, NULL, err, sizeof(err)) != 0) {
        fail_msg("audit chain: %s", err);
    }
    store_close(f->s);
    policy_free(f->p);
    nftw(f->dir, fx_rm, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* ---- running commands and jobs with output captured ---- */

struct cap {
    char *out, *err;
    size_t nout, nerr, capout, caperr;
    size_t step; /* bytes written during the current job step */
    int status;
    struct shell_ctx ctx;
};

static struct cap C;

static void cap_append(char **buf, size_t *n, size_t *cap, const char *p, size_t len)
{
    if (*n + len + 1 > *cap) {
        size_t ncap = *cap ? *cap : 4096;

        while (ncap < *n + len + 1) {
            ncap *= 2;
        }
        *buf = realloc(*buf, ncap);
        assert_non_null(*buf);
        *cap = ncap;
    }
    memcpy(*buf + *n, p, len);
    *n += len;
    (*buf)[*n] = '\0';
}

static int cap_write(void *io, int is_err, const char *buf, size_t len)
{
    struct cap *c = io;

    if (is_err) {
        cap_append(&c->err, &c->nerr, &c->caperr, buf, len);
    } else {
        cap_append(&c->out, &c->nout, &c->capout, buf, len);
    }
    c->step += len;
    return 0;
}

/* Forgets what was captured (a job that is running keeps running). */
static void cap_clear(void)
{
    C.nout = C.nerr = 0;
    if (C.out != NULL) {
        C.out[0] = '\0';
    }
    if (C.err != NULL) {
        C.err[0] = '\0';
    }
}

static void cap_reset(void)
{
    if (C.ctx.job != NULL) {
        C.ctx.job->free(C.ctx.job);
    }
    free(C.out);
    free(C.err);
    memset(&C, 0, sizeof(C));
}

static const struct person *person(const char *user)
{
    for (size_t i = 0; i < sizeof(people) / sizeof(people[0]); i++) {
        if (strcmp(people[i].user, user) == 0) {
            return &people[i];
        }
    }
    fail_msg("no such person %s", user);
    return NULL;
}

static void cap_ctx(struct fx *f, const char *user, int interactive)
{
    const struct person *p = person(user);

    cap_reset();
    C.ctx.cfg = &f->cfg;
    C.ctx.policy = f->p;
    C.ctx.access = &f->a;
    C.ctx.user = p->user;
    C.ctx.groups = p->groups;
    while (p->groups[C.ctx.ngroups] != NULL) {
        C.ctx.ngroups++;
    }
    C.ctx.interactive = interactive;
    C.ctx.write = cap_write;
    C.ctx.io = &C;
    C.ctx.clock = fx_clock;
    C.ctx.clock_ctx = f;
    /* both streams are strings from the start, empty or not */
    cap_append(&C.out, &C.nout, &C.capout, "", 0);
    cap_append(&C.err, &C.nerr, &C.caperr, "", 0);
}

static void dump(const char *what)
{
    print_error("%s\n--- stdout ---\n%s\n--- stderr ---\n%s\n--------------\n", what,
                C.out ? C.out : "", C.err ? C.err : "");
}

static struct cap *run_as(struct fx *f, const char *user, int interactive, const char *line)
{
    cap_ctx(f, user, interactive);
    C.status = shell_run_line(&C.ctx, line, strlen(line));
    if (C.status != 0) {
        if (C.nout != 0 || C.nerr == 0 || C.ctx.job != NULL) {
            dump(line);
            fail_msg("\"%s\": a refusal prints on stderr only and starts nothing", line);
        }
    }
    return &C;
}

static struct cap *run(struct fx *f, const char *user, const char *line)
{
    return run_as(f, user, 0, line);
}

/* Runs a command on words as given (no line parsing). */
static struct cap *run_argv(struct fx *f, const char *user, int argc, const char *const *argv)
{
    const struct shell_cmd_entry *e = shell_cmd_find(argv[0]);

    assert_non_null(e);
    cap_ctx(f, user, 0);
    C.status = e->exec(&C.ctx, argc, (char **)argv);
    return &C;
}

static void expect_status(struct cap *c, const char *line, int status)
{
    if (c->status != status) {
        dump(line);
        fail_msg("\"%s\": status %d, wanted %d", line, c->status, status);
    }
}

/* Exit 1, nothing on stdout, one line on stderr with needle. */
static void expect_refused(struct fx *f, const char *user, const char *line, const char *needle)
{
    struct cap *c = run(f, user, line);
    const char *nl = c->err != NULL ? strchr(c->err, '\n') : NULL;

    if (c->status != 1 || c->nout != 0 || nl == NULL || nl[1] != '\0' ||
        strncmp(c->err, "drawbridge: ", 12) != 0 || strstr(c->err, needle) == NULL) {
        dump(line);
        fail_msg("\"%s\": wanted a one-line refusal with \"%s\"", line, needle);
    }
}

static void expect_usage(struct fx *f, const char *user, const char *line, const char *needle)
{
    struct cap *c = run(f, user, line);

    if (c->status != 2 || c->nout != 0 || strstr(c->err, needle) == NULL ||
        strstr(c->err, "usage: ") == NULL) {
        dump(line);
        fail_msg("\"%s\": wanted a usage error with \"%s\"", line, needle);
    }
}

/* One step of the running job at now_ms: never more than SHELL_JOB_CHUNK written. */
static int job_step(long long now_ms, long long *next_ms)
{
    struct shell_job *j = C.ctx.job;
    int r;

    assert_non_null(j);
    C.step = 0;
    *next_ms = -1;
    r = j->step(j, &C.ctx, now_ms, next_ms);
    assert_true(C.step <= SHELL_JOB_CHUNK);
    if (r != 1) {
        j->free(j);
        C.ctx.job = NULL;
    } else {
        assert_true(*next_ms >= 0);
    }
    return r;
}

/* Steps the job, always at the time it asks for, until it ends; its result (0, -1, -2). */
static int job_drive(long long *now_ms, int max_steps)
{
    long long next = 0;

    for (int i = 0; i < max_steps; i++) {
        int r = job_step(*now_ms, &next);

        if (r != 1) {
            return r;
        }
        if (next > *now_ms) {
            *now_ms = next;
        }
    }
    fail_msg("the job did not end in %d steps", max_steps);
    return 1;
}

static void job_input(const char *s)
{
    assert_non_null(C.ctx.job);
    assert_non_null(C.ctx.job->input);
    C.ctx.job->input(C.ctx.job, &C.ctx, s, strlen(s));
}

/* ---- the audit ---- */

struct last_row {
    long long seq;
    char actor[64], event[64], object[96];
    char *details;
};

static int last_row_fn(void *ctx, const struct audit_row *row)
{
    struct last_row *l = ctx;

    l->seq = row->seq;
    snprintf(l->actor, sizeof(l->actor), "%s", row->actor);
    snprintf(l->event, sizeof(l->event), "%s", row->event);
    snprintf(l->object, sizeof(l->object), "%s", row->object);
    free(l->details);
    l->details = strdup(row->details != NULL ? row->details : "");
    return 0;
}

/* The newest audit row is (actor, event, object) and its details contain needle. */
static void expect_audit(struct fx *f, const char *actor, const char *event, const char *object,
                         const char *needle)
{
    struct last_row l;

    memset(&l, 0, sizeof(l));
    assert_int_equal(store_audit_foreach(f->s, 0, last_row_fn, &l), 0);
    if (strcmp(l.actor, actor) != 0 || strcmp(l.event, event) != 0 ||
        strcmp(l.object, object) != 0 || (needle != NULL && strstr(l.details, needle) == NULL)) {
        print_error("last audit row: %lld %s %s [%s] %s\n", l.seq, l.actor, l.event, l.object,
                    l.details);
        fail_msg("wanted %s %s [%s] with %s", actor, event, object, needle ? needle : "-");
    }
    free(l.details);
}

static long long audit_rows(struct fx *f)
{
    long long n = 0;

    assert_int_equal(store_audit_verify(f->s, &n, NULL, 0), 0);
    return n;
}

/* ---- recordings ---- */

struct ev {
    double t;
    const char *code; /* "o", "i", "m", "r" (data "COLSxROWS"), "tick" (a flush) */
    const char *data;
    size_t len; /* 0: strlen(data) */
};

enum rec_end {
    REC_END_SEAL, /* closed and sealed, the row ended with its digests */
    REC_END_LIVE, /* the writer stays open, the row live */
    REC_END_CRASH /* abandoned without a final flush, the row ended without a seal */
};

struct sess {
    const char *user, *target, *login, *kind, *command;
    long long grant;
    int review_required;
    long long started, ended; /* ended: for SEAL and CRASH */
    int exit_status;
    int pty;
};

struct made {
    char id[STORE_SESSION_ID_LEN + 1];
    char path[256];
    struct rec_writer *w; /* REC_END_LIVE */
    char sha[REC_HEX_LEN + 1], hmac[REC_HEX_LEN + 1];
};

static struct timespec rec_ts(double t)
{
    struct timespec ts;
    long long ns = (long long)(t * 1e9 + 0.5);

    ts.tv_sec = 1000 + (time_t)(ns / 1000000000LL);
    ts.tv_nsec = (long)(ns % 1000000000LL);
    return ts;
}

static void rec_events(struct rec_writer *w, const struct ev *evs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct timespec ts = rec_ts(evs[i].t);
        size_t len = evs[i].len ? evs[i].len : (evs[i].data ? strlen(evs[i].data) : 0);
        int cols = 0, rows = 0;

        if (strcmp(evs[i].code, "o") == 0 || strcmp(evs[i].code, "i") == 0) {
            assert_int_equal(rec_writer_data(w,
                                             evs[i].code[0] == 'o' ? REC_STREAM_OUT : REC_STREAM_IN,
                                             &ts, evs[i].data, len),
                             0);
        } else if (strcmp(evs[i].code, "m") == 0) {
            assert_int_equal(rec_writer_marker(w, &ts, evs[i].data), 0);
        } else if (strcmp(evs[i].code, "r") == 0) {
            assert_int_equal(sscanf(evs[i].data, "%dx%d", &cols, &rows), 2);
            assert_int_equal(rec_writer_resize(w, &ts, cols, rows), 0);
        } else if (strcmp(evs[i].code, "tick") == 0) {
            assert_int_equal(rec_writer_tick(w, &ts), 0);
        } else {
            fail_msg("unknown event code %s", evs[i].code);
        }
    }
}

/* A session row and its recording, made as the recorder would. */
static void rec_make(struct fx *f, const struct sess *s, const struct ev *evs, size_t n,
                     enum rec_end end, struct made *m)
{
    struct store_session row;
    struct rec_sink sink;
    struct rec_meta meta;
    struct timespec start = rec_ts(0);
    char err[512] = "";

    memset(m, 0, sizeof(*m));
    memset(&row, 0, sizeof(row));
    snprintf(row.user, sizeof(row.user), "%s", s->user);
    snprintf(row.target, sizeof(row.target), "%s", s->target);
    snprintf(row.login, sizeof(row.login), "%s", s->login);
    snprintf(row.kind, sizeof(row.kind), "%s", s->kind ? s->kind : "shell");
    row.command = (char *)s->command;
    row.grant_id = s->grant;
    row.started_at = s->started;
    row.exit_status = -1;
    row.review_required = s->review_required;
    assert_int_equal(access_session_start(f->s, &row), 0);
    snprintf(m->id, sizeof(m->id), "%s", row.id);
    snprintf(m->path, sizeof(m->path), "%s/recordings/%s.cast", f->dir, m->id);
    if (rec_sink_file_create(m->path, &sink, err, sizeof(err)) != 0) {
        fail_msg("sink: %s", err);
    }
    memset(&meta, 0, sizeof(meta));
    meta.width = 80;
    meta.height = 24;
    meta.timestamp = s->started;
    meta.term = s->pty || s->kind == NULL ? "xterm-256color" : NULL;
    meta.session = m->id;
    meta.user = s->user;
    meta.target = s->target;
    meta.login = s->login;
    meta.kind = row.kind;
    meta.command = s->command;
    meta.grant = s->grant;
    meta.record_input = 1;
    if (rec_writer_new(&sink, &meta, f->key, &start, &m->w, err, sizeof(err)) != 0) {
        fail_msg("writer: %s", err);
    }
    assert_int_equal(store_session_set_recording(f->s, m->id, m->path), 0);
    rec_events(m->w, evs, n);
    if (end == REC_END_SEAL) {
        if (rec_writer_close(m->w, m->sha, m->hmac, err, sizeof(err)) != 0) {
            fail_msg("close: %s", err);
        }
        m->w = NULL;
        assert_int_equal(
            access_session_end(f->s, m->id, s->user, s->ended, s->exit_status, m->sha, m->hmac), 0);
    } else if (end == REC_END_CRASH) {
        rec_writer_free(m->w);
        m->w = NULL;
        assert_int_equal(access_session_end(f->s, m->id, s->user, s->ended, -1, NULL, NULL), 0);
    }
}

/* Ends a live recording: sealed, the row ended. */
static void rec_finish(struct fx *f, struct made *m, const char *user, long long ended, int status)
{
    char err[512] = "";

    if (rec_writer_close(m->w, m->sha, m->hmac, err, sizeof(err)) != 0) {
        fail_msg("close: %s", err);
    }
    m->w = NULL;
    assert_int_equal(access_session_end(f->s, m->id, user, ended, status, m->sha, m->hmac), 0);
}

static char *file_read(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *buf = NULL;
    long n;

    assert_non_null(fp);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    n = ftell(fp);
    assert_true(n >= 0);
    rewind(fp);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    buf[n] = '\0';
    fclose(fp);
    *len = (size_t)n;
    return buf;
}

/* Replaces the first occurrence of from in the file by to (same length): one edited byte or so. */
static void file_edit(const char *path, const char *from, const char *to)
{
    size_t len = 0;
    char *buf = file_read(path, &len);
    char *at = strstr(buf, from);
    FILE *fp;

    assert_non_null(at);
    assert_int_equal(strlen(from), strlen(to));
    memcpy(at, to, strlen(to));
    fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(buf, 1, len, fp), len);
    fclose(fp);
    free(buf);
}

static void file_append(const char *path, const char *s)
{
    int fd = open(path, O_WRONLY | O_APPEND);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
    close(fd);
}

/* What the sanitiser makes of the concatenated outputs, one sanitiser as replay uses. */
static char *sanitised(const char *const *outs, size_t n, size_t *len)
{
    struct rec_sanitizer *s = NULL;
    char *buf = NULL;
    size_t cap = 0;

    *len = 0;
    assert_int_equal(rec_sanitizer_new(&s), 0);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(rec_sanitize(s, outs[i], strlen(outs[i]), &buf, len, &cap), 0);
    }
    rec_sanitizer_free(s);
    buf = realloc(buf, *len + 1);
    assert_non_null(buf);
    buf[*len] = '\0';
    return buf;
}

static const struct sess web_alice = {"alice", "web-1", "deploy", "shell", NULL, 0,
                                      0,       T0,      T0 + 90,  0,       1};

static char line_buf[512];

static const char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static const char *fmt(const char *f, ...)
{
    va_list ap;

    va_start(ap, f);
    vsnprintf(line_buf, sizeof(line_buf), f, ap);
    va_end(ap);
    return line_buf;
}

/* ---- every command is for reviewers only ---- */

static void test_refused_for_others(void **state)
{
    struct fx *f = *state;
    static const struct {
        const char *line; /* @: a session id */
        const char *cmd;
        int names_session;
    } cases[] = {
        {"sessions", "sessions", 0},
        {"sessions --live --json", "sessions", 0},
        {"replay @", "replay", 1},
        {"replay @ --speed 2", "replay", 1},
        {"watch @", "watch", 1},
        {"terminate @ --reason 'just because'", "terminate", 1},
        {"export @", "export", 1},
        {"review @ --note 'looks fine'", "review", 1},
        {"reviews --pending", "reviews", 0},
        {"reviews", "reviews", 0},
        {"search 'rm -rf'", "search", 0},
        {"audit", "audit", 0},
        {"audit --limit 3 --json", "audit", 0},
    };
    static const char *const outsiders[] = {"eve", "alice", "bob", "olivia"};
    struct made live, done;
    const struct ev evs[] = {{0.5, "o", "secret output\r\n", 0}};
    struct sess s = web_alice;
    long long at = 0;

    rec_make(f, &s, evs, 1, REC_END_SEAL, &done);
    s.started = T0 + 100;
    rec_make(f, &s, evs, 1, REC_END_LIVE, &live);
    for (size_t k = 0; k < sizeof(outsiders) / sizeof(outsiders[0]); k++) {
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            const char *id = strcmp(cases[i].cmd, "terminate") == 0 ? live.id : done.id;
            char line[256], want[128], object[64];
            long long before = audit_rows(f);

            const char *mark = strchr(cases[i].line, '@');

            if (mark != NULL) {
                snprintf(line, sizeof(line), "%.*s%s%s", (int)(mark - cases[i].line), cases[i].line,
                         id, mark + 1);
            } else {
                snprintf(line, sizeof(line), "%s", cases[i].line);
            }
            snprintf(want, sizeof(want), "drawbridge: %s is for reviewers\n", cases[i].cmd);
            expect_refused(f, outsiders[k], line, "is for reviewers");
            if (strcmp(C.err, want) != 0) {
                dump(line);
                fail_msg("wanted exactly: %s", want);
            }
            assert_null(C.ctx.job);
            /* one row per refusal, naming the session when one was named */
            assert_int_equal(audit_rows(f), before + 1);
            if (cases[i].names_session) {
                snprintf(object, sizeof(object), "session %s", id);
            } else {
                snprintf(object, sizeof(object), "%s", cases[i].cmd);
            }
            snprintf(want, sizeof(want), "\"command\":\"%s\"", cases[i].cmd);
            expect_audit(f, outsiders[k], "review.refused", object, want);
        }
    }
    /* None of it had an effect. */
    assert_int_equal(store_session_terminate_get(f->s, live.id, &at, NULL, 0, NULL, 0), 0);
    assert_int_equal(at, 0);
    {
        struct store_session row;

        assert_int_equal(store_session_get(f->s, done.id, &row), 0);
        assert_int_equal(row.reviewed_at, 0);
        store_session_clear(&row);
    }
    /* A garbage id from an outsider is refused the same way, and named printably. */
    expect_refused(f, "eve", "replay '../../etc/passwd'", "replay is for reviewers");
    expect_audit(f, "eve", "review.refused", "session ../../etc/passwd", NULL);
    expect_refused(f, "eve", "replay", "replay is for reviewers");
    expect_audit(f, "eve", "review.refused", "replay", NULL);
    rec_writer_free(live.w);
}

/* ---- sessions ---- */

static void test_sessions_filters_and_json(void **state)
{
    struct fx *f = *state;
    const struct ev evs[] = {{0.2, "o", "hi\r\n", 0}};
    const struct sess s1 = web_alice;
    const struct sess s2 = {"bob", "db-1", "postgres", "shell", NULL, 0, 0, T0 + 10, 0, 0, 1};
    const struct sess s3 = {"alice", "db-1",  "postgres", "exec", "uptime", 0,
                            1,       T0 + 20, T0 + 25,    3,      0};
    struct made m1, m2, m3;
    json_t *v, *o;
    const char *p1, *p2, *p3;

    rec_make(f, &s1, evs, 1, REC_END_SEAL, &m1);
    rec_make(f, &s2, evs, 1, REC_END_LIVE, &m2);
    rec_make(f, &s3, evs, 1, REC_END_SEAL, &m3);

    run(f, "sam", "sessions");
    expect_status(&C, "sessions", 0);
    assert_int_equal(C.nerr, 0);
    assert_non_null(strstr(C.out, "ID  "));
    assert_non_null(strstr(C.out, "STARTED"));
    assert_non_null(strstr(C.out, "REVIEW"));
    /* newest first */
    p1 = strstr(C.out, m1.id);
    p2 = strstr(C.out, m2.id);
    p3 = strstr(C.out, m3.id);
    assert_true(p1 != NULL && p2 != NULL && p3 != NULL);
    assert_true(p3 < p2 && p2 < p1);
    assert_non_null(strstr(p3, "alice"));
    assert_non_null(strstr(p3, "exec"));
    assert_non_null(strstr(p3, "2023-11-14 22:13 UTC"));
    assert_non_null(strstr(p3, "  5s  "));
    assert_non_null(strstr(p3, "  3  "));
    assert_non_null(strstr(p3, "pending"));
    assert_non_null(strstr(p3, "uptime\n"));
    assert_true(strstr(p2, "live") < p1);
    assert_true(strstr(p1, "1m30s") != NULL);
    expect_audit(f, "sam", "review.sessions", "sessions", "\"rows\":3");

    run(f, "sam", "sessions --live");
    expect_status(&C, "sessions --live", 0);
    assert_non_null(strstr(C.out, m2.id));
    assert_null(strstr(C.out, m1.id));
    assert_null(strstr(C.out, m3.id));

    run(f, "sam", "sessions --user alice");
    assert_non_null(strstr(C.out, m1.id));
    assert_non_null(strstr(C.out, m3.id));
    assert_null(strstr(C.out, m2.id));

    run(f, "sam", "sessions --target db-1");
    assert_non_null(strstr(C.out, m2.id));
    assert_non_null(strstr(C.out, m3.id));
    assert_null(strstr(C.out, m1.id));

    run(f, "sam", "sessions --user alice --target web-1");
    assert_non_null(strstr(C.out, m1.id));
    assert_null(strstr(C.out, m3.id));

    run(f, "sam", "sessions --user nobody");
    expect_status(&C, "sessions --user nobody", 0);
    assert_string_equal(C.out, "no sessions\n");
    run(f, "sam", "sessions --live --user alice");
    assert_string_equal(C.out, "no live sessions\n");

    run(f, "sam", "sessions --limit 1");
    assert_non_null(strstr(C.out, m3.id));
    assert_null(strstr(C.out, m2.id));

    run(f, "sam", "sessions --json");
    expect_status(&C, "sessions --json", 0);
    v = json_loads(C.out, 0, NULL);
    assert_non_null(v);
    assert_int_equal(json_array_size(v), 3);
    o = json_array_get(v, 0);
    assert_string_equal(json_string_value(json_object_get(o, "id")), m3.id);
    assert_string_equal(json_string_value(json_object_get(o, "user")), "alice");
    assert_string_equal(json_string_value(json_object_get(o, "kind")), "exec");
    assert_string_equal(json_string_value(json_object_get(o, "command")), "uptime");
    assert_false(json_is_true(json_object_get(o, "live")));
    assert_int_equal(json_integer_value(json_object_get(o, "duration")), 5);
    assert_int_equal(json_integer_value(json_object_get(o, "exit_status")), 3);
    assert_int_equal(json_integer_value(json_object_get(o, "started_at")), T0 + 20);
    assert_string_equal(json_string_value(json_object_get(o, "started_at_iso")),
                        "2023-11-14T22:13:40Z");
    assert_string_equal(json_string_value(json_object_get(o, "review")), "pending");
    assert_true(json_is_true(json_object_get(o, "sealed")));
    assert_string_equal(json_string_value(json_object_get(o, "sha256")), m3.sha);
    o = json_array_get(v, 1);
    assert_string_equal(json_string_value(json_object_get(o, "id")), m2.id);
    assert_true(json_is_true(json_object_get(o, "live")));
    assert_true(json_is_null(json_object_get(o, "ended_at")));
    assert_true(json_is_null(json_object_get(o, "duration")));
    assert_true(json_is_null(json_object_get(o, "exit_status")));
    assert_true(json_is_null(json_object_get(o, "command")));
    assert_false(json_is_true(json_object_get(o, "sealed")));
    assert_string_equal(json_string_value(json_object_get(json_array_get(v, 2), "review")), "none");
    json_decref(v);

    expect_usage(f, "sam", "sessions extra", "too many arguments");
    expect_usage(f, "sam", "sessions --user 'Bad User'", "--user");
    expect_usage(f, "sam", "sessions --target '$(id)'", "--target");
    expect_usage(f, "sam", "sessions --limit 0", "--limit");
    expect_usage(f, "sam", "sessions --bogus", "bogus");
    rec_writer_free(m2.w);
}

/* ---- replay ---- */

static void test_replay_output_is_sanitised_output(void **state)
{
    struct fx *f = *state;
    static const char bin[64] = {(char)0xff, (char)0xfe, (char)0x80, (char)0x81, (char)0x90};
    char binary[65];
    const char *o1 = "$ ls\r\n\x1b[31mred\x1b[0m file\r\n";
    const char *o2 = "clip\x1b]52;c;ZWNobyBoaQ==\x07 board \x1b[6n query \x1b[c\xc2\x9b"
                     "c\r\n";
    const char *o3 = "\xe2\x9c\x93 done\r\n";
    const char *const outs[] = {o1, o2, o3};
    struct ev evs[] = {
        {0.1, "o", o1, 0},
        {0.2, "i", "ls\r", 0},
        {0.4, "o", o2, 0},
        {0.5, "r", "100x30", 0},
        {0.6, "m", "sftp: open-read /etc/hosts", 0},
        {0.7, "o", binary, 64},
        {0.8, "o", o3, 0},
    };
    struct made m;
    char *want1, *want3, *want;
    size_t n1, n3, len;
    long long now = 0;
    char head[256];

    memcpy(binary, bin, sizeof(bin));
    for (size_t i = 5; i < 64; i++) {
        binary[i] = (char)(0xf8 + i % 8);
    }
    binary[64] = '\0';
    rec_make(f, &web_alice, evs, sizeof(evs) / sizeof(evs[0]), REC_END_SEAL, &m);

    run(f, "sam", fmt("replay %s", m.id));
    expect_status(&C, "replay", 0);
    assert_non_null(C.ctx.job);
    assert_int_equal(C.nout, 0);
    snprintf(head, sizeof(head),
             "replaying session %s: alice@web-1 (deploy), started 2023-11-14 22:13 UTC, press q "
             "to stop\n",
             m.id);
    assert_string_equal(C.err, head);
    expect_audit(f, "sam", "review.replay", fmt("session %s", m.id), "\"verdict\":\"ok\"");
    cap_clear();
    assert_int_equal(job_drive(&now, 100), 0);

    /* the two first outputs in one sanitiser, then the notes, then the last */
    want1 = sanitised(outs, 2, &n1);
    want3 = sanitised(outs + 2, 1, &n3);
    len = n1 + n3 + 128;
    want = malloc(len);
    assert_non_null(want);
    snprintf(want, len, "%s[sftp: open-read /etc/hosts]\n[binary output: 64 bytes]\n%s", want1,
             want3);
    if (strcmp(C.out, want) != 0) {
        dump("replay output");
        fail_msg("replay output is not the sanitised output");
    }
    /* what the sanitiser is for: no clipboard, no answers, no C1; colours kept */
    assert_null(strstr(C.out, "\x1b]52"));
    assert_null(strstr(C.out, "\x1b[6n"));
    assert_null(strstr(C.out, "\x1b[c"));
    assert_null(strstr(C.out, "\xc2\x9b"));
    assert_non_null(strstr(C.out, "\x1b[31mred\x1b[0m file"));
    assert_string_equal(C.err, fmt("end of session %s (exit status 0)\n", m.id));
    free(want1);
    free(want3);
    free(want);

    /* On a terminal: the same bytes, dim notes, the modes reset at the end. */
    run_as(f, "sam", 1, fmt("replay %s", m.id));
    expect_status(&C, "replay -t", 0);
    assert_non_null(strstr(C.err, "press q to stop\r\n"));
    cap_clear();
    now = 0;
    assert_int_equal(job_drive(&now, 100), 0);
    assert_non_null(strstr(C.out, "\x1b[2m[binary output: 64 bytes]\x1b[22m\r\n"));
    assert_non_null(strstr(C.out, "\x1b[0m\x1b[?25h"));
    assert_null(strstr(C.out, "\x1b]52"));
}

static void test_replay_timing(void **state)
{
    struct fx *f = *state;
    static const struct {
        const char *opts;
        long long due[3]; /* when each output is shown, ms after the first step */
    } cases[] = {
        {"", {500, 1000, 11000}},
        {"--speed 2", {250, 500, 5500}},
        {"--speed 0.5", {1000, 2000, 22000}},
        {"--idle-limit 2", {500, 1000, 3000}},
        {"--speed 2 --idle-limit 2", {250, 500, 1500}},
        {"--idle-limit=0.25 --speed=100", {3, 6, 9}},
        {"--idle-limit 0", {500, 1000, 11000}},
    };
    /* an input event in the long gap must not split it in two for the idle limit */
    const struct ev evs[] = {
        {0.5, "o", "one\r\n", 0},
        {1.0, "o", "two\r\n", 0},
        {6.0, "i", "x", 0},
        {11.0, "o", "three\r\n", 0},
    };
    static const char *const shown[3] = {"one\r\n", "one\r\ntwo\r\n", "one\r\ntwo\r\nthree\r\n"};
    struct made m;

    rec_make(f, &web_alice, evs, sizeof(evs) / sizeof(evs[0]), REC_END_SEAL, &m);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        long long next = 0, base = 5000;

        run(f, "sam", fmt("replay %s %s", m.id, cases[i].opts));
        expect_status(&C, cases[i].opts, 0);
        cap_clear();
        /* the first step starts the clock and shows nothing yet */
        assert_int_equal(job_step(base, &next), 1);
        assert_int_equal(C.nout, 0);
        for (int k = 0; k < 3; k++) {
            if (next != base + cases[i].due[k]) {
                fail_msg("%s: output %d due at +%lld, wanted +%lld", cases[i].opts, k, next - base,
                         cases[i].due[k]);
            }
            /* a step before it is due shows nothing new */
            if (next - 1 > base) {
                long long again = 0;

                assert_int_equal(job_step(next - 1, &again), 1);
                assert_int_equal(again, next);
            }
            assert_string_equal(C.out, k == 0 ? "" : shown[k - 1]);
            if (k < 2) {
                assert_int_equal(job_step(next, &next), 1);
            } else {
                assert_int_equal(job_step(next, &next), 0);
            }
            assert_string_equal(C.out, shown[k]);
        }
    }
    expect_usage(f, "sam", fmt("replay %s --speed 0", m.id), "--speed");
    expect_usage(f, "sam", fmt("replay %s --speed 0.05", m.id), "--speed");
    expect_usage(f, "sam", fmt("replay %s --speed 101", m.id), "--speed");
    expect_usage(f, "sam", fmt("replay %s --speed abc", m.id), "--speed");
    expect_usage(f, "sam", fmt("replay %s --speed nan", m.id), "--speed");
    expect_usage(f, "sam", fmt("replay %s --speed 1e1", m.id), "--speed");
    expect_usage(f, "sam", fmt("replay %s --speed ''", m.id), "--speed");
    expect_usage(f, "sam", fmt("replay %s --idle-limit -1", m.id), "--idle-limit");
    expect_usage(f, "sam", fmt("replay %s --idle-limit 2s", m.id), "--idle-limit");
    expect_usage(f, "sam", "replay", "a session id is required");
    expect_usage(f, "sam", fmt("replay %s %s", m.id, m.id), "too many arguments");
    expect_usage(f, "sam", "replay ABCDEFGHIJKLMNOP", "invalid session id");
    expect_usage(f, "sam", "replay 12", "invalid session id");
    expect_refused(f, "sam", "replay aaaaaaaaaaaaaaaa", "no session aaaaaaaaaaaaaaaa");
    expect_audit(f, "sam", "review.replay", "session aaaaaaaaaaaaaaaa", "no session");
}

static void test_replay_stops_on_q(void **state)
{
    struct fx *f = *state;
    static const char *const keys[] = {"q", "Q", "\x03", "xyzq"};
    const struct ev evs[] = {
        {0.0, "o", "first\r\n", 0}, {10.0, "o", "second\r\n", 0}, {20.0, "o", "third\r\n", 0}};
    struct made m;

    rec_make(f, &web_alice, evs, 3, REC_END_SEAL, &m);
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        long long next = 0;

        run_as(f, "sam", 1, fmt("replay %s", m.id));
        expect_status(&C, "replay", 0);
        cap_clear();
        assert_int_equal(job_step(0, &next), 1);
        assert_string_equal(C.out, "first\r\n");
        assert_int_equal(next, 10000);
        /* other keys do nothing */
        job_input("x ");
        assert_int_equal(job_step(1, &next), 1);
        job_input(keys[i]);
        cap_clear();
        assert_int_equal(job_step(2, &next), 0);
        assert_null(C.ctx.job);
        assert_null(strstr(C.out, "second"));
        assert_string_equal(C.err, fmt("replay of session %s stopped\r\n", m.id));
    }
}

static void test_replay_checks_the_recording(void **state)
{
    struct fx *f = *state;
    const struct ev evs[] = {
        {0.1, "o", "hello before\r\n", 0}, {1.5, "tick", NULL, 0}, {2.0, "o", "lost\r\n", 0}};
    struct made sealed, crashed, gone, live;
    struct sess s = web_alice;
    long long now = 0;

    rec_make(f, &s, evs, 3, REC_END_SEAL, &sealed);
    s.started = T0 + 200;
    rec_make(f, &s, evs, 3, REC_END_CRASH, &crashed);
    s.started = T0 + 300;
    rec_make(f, &s, evs, 3, REC_END_SEAL, &gone);
    s.started = T0 + 400;
    rec_make(f, &s, evs, 2, REC_END_LIVE, &live);

    /* One byte changed in a sealed recording: refused, and the refusal audited. */
    file_edit(sealed.path, "hello", "hellO");
    expect_refused(f, "sam", fmt("replay %s", sealed.id), "does not match its seal");
    expect_audit(f, "sam", "review.replay", fmt("session %s", sealed.id),
                 "\"verdict\":\"tampered\"");
    expect_refused(f, "sam", fmt("export %s", sealed.id), "does not match its seal");
    expect_refused(f, "sam", fmt("watch %s", sealed.id), "has ended");

    /* Cut short by a crash: played, with a warning, up to where it was flushed. */
    run(f, "sam", fmt("replay %s", crashed.id));
    expect_status(&C, "replay crashed", 0);
    assert_non_null(strstr(C.err, "drawbridge: warning: the recording ends early"));
    cap_clear();
    assert_int_equal(job_drive(&now, 100), 0);
    assert_string_equal(C.out, "hello before\r\n");
    assert_string_equal(C.err, fmt("end of the recording of session %s (truncated: it ends "
                                   "early)\n",
                                   crashed.id));

    /* The file is gone. */
    assert_int_equal(unlink(gone.path), 0);
    expect_refused(f, "sam", fmt("replay %s", gone.id), "is missing");
    expect_refused(f, "sam", fmt("export %s", gone.id), "is missing");

    /* Still live: what is there so far. */
    run(f, "sam", fmt("replay %s", live.id));
    expect_status(&C, "replay live", 0);
    assert_non_null(strstr(C.err, "is still live"));
    cap_clear();
    now = 0;
    assert_int_equal(job_drive(&now, 100), 0);
    assert_string_equal(C.out, "hello before\r\n");
    rec_writer_free(live.w);
}

/* ---- watch ---- */

static void test_watch_follows_a_live_session(void **state)
{
    struct fx *f = *state;
    const struct ev before[] = {{0.1, "o", "before\r\n", 0}, {1.2, "tick", NULL, 0}};
    const struct ev after[] = {{2.0, "o", "after one\r\n", 0}};
    const struct ev flush[] = {{3.5, "tick", NULL, 0}};
    const struct ev last[] = {{4.0, "o", "\x1b]52;c;cm0gLXJm\x07last\r\n", 0}};
    struct sess s = {"bob", "db-1", "postgres", "shell", NULL, 0, 0, T0, 0, 0, 1};
    struct made m;
    long long next = 0;

    rec_make(f, &s, before, 2, REC_END_LIVE, &m);
    run(f, "sam", fmt("watch %s", m.id));
    expect_status(&C, "watch", 0);
    assert_string_equal(C.err, fmt("watching session %s: bob@db-1 (postgres), live since "
                                   "2023-11-14 22:13 UTC, press q to stop\n",
                                   m.id));
    expect_audit(f, "sam", "review.watch", fmt("session %s", m.id), "\"result\":\"ok\"");
    cap_clear();
    assert_int_equal(job_step(0, &next), 1);
    assert_string_equal(C.out, "before\r\n");
    assert_int_equal(next, 200);

    /* written after watch started: not shown until the writer flushes, then shown */
    rec_events(m.w, after, 1);
    assert_int_equal(job_step(200, &next), 1);
    assert_string_equal(C.out, "before\r\n");
    rec_events(m.w, flush, 1);
    assert_int_equal(job_step(400, &next), 1);
    assert_string_equal(C.out, "before\r\nafter one\r\n");

    /* written but not flushed yet: nothing */
    rec_events(m.w, last, 1);
    assert_int_equal(job_step(600, &next), 1);
    assert_string_equal(C.out, "before\r\nafter one\r\n");

    /* the session ends: the rest is shown, sanitised, and watching ends */
    rec_finish(f, &m, "bob", T0 + 60, 0);
    assert_int_equal(job_step(800, &next), 0);
    assert_string_equal(C.out, "before\r\nafter one\r\nlast\r\n");
    assert_string_equal(C.err, fmt("session %s ended (exit status 0)\n", m.id));

    /* now it has ended, watch says to replay it */
    expect_refused(f, "sam", fmt("watch %s", m.id), "has ended");
}

static void test_watch_partial_lines_and_quit(void **state)
{
    struct fx *f = *state;
    const struct ev evs[] = {{0.1, "o", "start\r\n", 0}, {1.2, "tick", NULL, 0}};
    struct sess s = {"bob", "db-1", "postgres", "shell", NULL, 0, 0, T0, 0, 0, 1};
    struct made m;
    long long next = 0;

    rec_make(f, &s, evs, 2, REC_END_LIVE, &m);
    run_as(f, "rita", 1, fmt("watch %s", m.id));
    expect_status(&C, "watch", 0);
    cap_clear();
    assert_int_equal(job_step(0, &next), 1);
    assert_string_equal(C.out, "start\r\n");
    /* bytes of a line as a writer's flush may leave them: nothing until the newline */
    file_append(m.path, "[5.0, \"o\", \"par");
    assert_int_equal(job_step(200, &next), 1);
    assert_string_equal(C.out, "start\r\n");
    file_append(m.path, "tial\\r\\n\"]\n[5.5, \"m\", \"a note\"]\n");
    assert_int_equal(job_step(400, &next), 1);
    assert_string_equal(C.out, "start\r\npartial\r\n\x1b[2m[a note]\x1b[22m\r\n");
    job_input("q");
    cap_clear();
    assert_int_equal(job_step(600, &next), 0);
    assert_string_equal(C.err, fmt("stopped watching session %s\r\n", m.id));
    rec_writer_free(m.w);
}

/* ---- terminate ---- */

static void test_terminate(void **state)
{
    struct fx *f = *state;
    const struct ev evs[] = {{0.1, "o", "x\r\n", 0}};
    struct sess s = {"bob", "db-1", "postgres", "shell", NULL, 0, 0, T0, 0, 0, 1};
    struct made live, ended;
    char by[STORE_NAME_MAX + 1] = "", reason[STORE_TEXT_MAX + 1] = "";
    long long at = 0;

    rec_make(f, &s, evs, 1, REC_END_LIVE, &live);
    rec_make(f, &web_alice, evs, 1, REC_END_SEAL, &ended);
    f->now = T0 + 30;

    expect_usage(f, "sam", fmt("terminate %s", live.id), "--reason TEXT is required");
    expect_refused(f, "sam", fmt("terminate %s --reason ''", live.id), "a reason is required");
    expect_audit(f, "sam", "review.terminate", fmt("session %s", live.id), "a reason is required");
    run(f, "sam", fmt("terminate %s --reason 'copying the customer table'", live.id));
    expect_status(&C, "terminate", 0);
    assert_string_equal(C.out, fmt("session %s (bob@db-1 (postgres)): asked to end; it ends "
                                   "within a few seconds\n",
                                   live.id));
    assert_int_equal(
        store_session_terminate_get(f->s, live.id, &at, by, sizeof(by), reason, sizeof(reason)), 0);
    assert_int_equal(at, T0 + 30);
    assert_string_equal(by, "sam");
    assert_string_equal(reason, "copying the customer table");
    expect_audit(f, "sam", "session.terminate", fmt("session %s", live.id),
                 "\"reason\":\"copying the customer table\"");

    /* once only */
    expect_refused(f, "rita", fmt("terminate %s --reason again", live.id),
                   "is already being terminated (asked by sam at 2023-11-14 22:13 UTC)");
    expect_audit(f, "rita", "review.terminate", fmt("session %s", live.id), "already");
    /* never an ended session, nor one that does not exist */
    expect_refused(f, "sam", fmt("terminate %s --reason late", ended.id), "has already ended");
    expect_refused(f, "sam", "terminate zzzzzzzzzzzzzzzz --reason x", "no session");
    expect_usage(f, "sam", "terminate --reason x", "a session id is required");
    assert_int_equal(store_session_terminate_get(f->s, ended.id, &at, NULL, 0, NULL, 0), 0);
    assert_int_equal(at, 0);
    rec_writer_free(live.w);
}

/* ---- export ---- */

static void test_export_writes_the_file(void **state)
{
    struct fx *f = *state;
    struct ev evs[24];
    char *chunk = malloc(9000), *file;
    struct made m, live;
    size_t len = 0;
    long long now = 0;

    assert_non_null(chunk);
    for (size_t i = 0; i < 8999; i++) {
        chunk[i] = (char)('a' + i % 26);
    }
    chunk[8999] = '\0';
    /* ~216 KiB of recording, so the export takes several steps */
    for (size_t i = 0; i < 24; i++) {
        evs[i].t = 0.1 * (double)(i + 1);
        evs[i].code = "o";
        evs[i].data = chunk;
        evs[i].len = 0;
    }
    rec_make(f, &web_alice, evs, 24, REC_END_SEAL, &m);
    file = file_read(m.path, &len);
    assert_true(len > 3 * SHELL_JOB_CHUNK);

    run(f, "sam", fmt("export %s", m.id));
    expect_status(&C, "export", 0);
    assert_int_equal(C.nerr, 0);
    assert_int_equal(C.nout, 0);
    expect_audit(f, "sam", "review.export", fmt("session %s", m.id), "\"verdict\":\"ok\"");
    assert_int_equal(job_drive(&now, 100), 0);
    assert_int_equal(C.nout, len);
    assert_memory_equal(C.out, file, len);
    assert_int_equal(C.nerr, 0);

    /* On a terminal the bytes would be changed: refused. */
    run_as(f, "sam", 1, fmt("export %s", m.id));
    expect_status(&C, "export -t", 1);
    assert_non_null(strstr(C.err, "run it without -t"));

    /* Changed after the check, while being sent: the bytes go out, the export fails. */
    run(f, "sam", fmt("export %s", m.id));
    expect_status(&C, "export", 0);
    file_edit(m.path, "abcdef", "abcdeF");
    now = 0;
    assert_int_equal(job_drive(&now, 100), -1);
    assert_non_null(strstr(C.err, "does not match the seal"));

    /* A live session: what is recorded so far, with a note. */
    rec_make(f, &web_alice, evs, 2, REC_END_LIVE, &live);
    run(f, "sam", fmt("export %s", live.id));
    expect_status(&C, "export live", 0);
    assert_non_null(strstr(C.err, "is still live"));
    now = 0;
    assert_int_equal(job_drive(&now, 100), 0);
    free(file);
    file = file_read(live.path, &len);
    assert_int_equal(C.nout, len);
    assert_memory_equal(C.out, file, len);
    rec_writer_free(live.w);
    free(file);
    free(chunk);
}

/* ---- review and reviews ---- */

static void test_review_and_pending(void **state)
{
    struct fx *f = *state;
    const struct ev evs[] = {{0.1, "o", "x\r\n", 0}};
    struct policy_subject olivia = {"olivia", person("olivia")->groups, 1};
    struct store_request req;
    struct sess bg = {"olivia", "web-1", "deploy", "shell", NULL, 0, 1, T0 + 10, T0 + 70, 0, 1};
    struct sess flagged = {"alice", "db-1",  "postgres", "exec", "psql", 0,
                           1,       T0 + 20, T0 + 30,    0,      0};
    struct sess own = {"sam", "db-1", "postgres", "shell", NULL, 0, 0, T0 + 30, T0 + 40, 0, 1};
    struct made mbg, mflag, mplain, mown, mlive;
    char err[512] = "";
    json_t *v;
    const char *p;

    assert_int_equal(access_breakglass(&f->a, &olivia, "web-1", NULL, 1800, "site down", T0, &req,
                                       err, sizeof(err)),
                     0);
    bg.grant = req.id;
    rec_make(f, &bg, evs, 1, REC_END_SEAL, &mbg);
    rec_make(f, &flagged, evs, 1, REC_END_SEAL, &mflag);
    rec_make(f, &web_alice, evs, 1, REC_END_SEAL, &mplain);
    rec_make(f, &own, evs, 1, REC_END_SEAL, &mown);
    flagged.started = T0 + 50;
    rec_make(f, &flagged, evs, 1, REC_END_LIVE, &mlive);
    f->now = T0 + 3600;

    run(f, "sam", "reviews --pending");
    expect_status(&C, "reviews --pending", 0);
    assert_non_null(strstr(C.out, "WHY"));
    p = strstr(C.out, mbg.id);
    assert_non_null(p);
    assert_non_null(strstr(p, "break-glass"));
    assert_non_null(strstr(p, "pending"));
    p = strstr(C.out, mflag.id);
    assert_non_null(p);
    assert_non_null(strstr(p, "flagged"));
    assert_non_null(strstr(C.out, mlive.id));
    assert_null(strstr(C.out, mplain.id));
    assert_null(strstr(C.out, mown.id));

    expect_usage(f, "sam", fmt("review %s", mbg.id), "--note TEXT is required");
    expect_refused(f, "sam", fmt("review %s --note '   '", mbg.id), "note");
    expect_audit(f, "sam", "review.review", fmt("session %s", mbg.id), "note");
    run(f, "sam", fmt("review %s --note 'restarted nginx only; fine'", mbg.id));
    expect_status(&C, "review", 0);
    assert_string_equal(C.out, fmt("session %s reviewed\n", mbg.id));
    expect_audit(f, "sam", "review.review", fmt("session %s", mbg.id),
                 "\"note\":\"restarted nginx only; fine\"");
    expect_refused(f, "rita", fmt("review %s --note again", mbg.id),
                   "was already reviewed by sam on 2023-11-14 23:13 UTC");
    expect_refused(f, "sam", fmt("review %s --note 'all good'", mown.id),
                   "you cannot review your own session");
    expect_refused(f, "sam", fmt("review %s --note early", mlive.id), "is still live");
    /* any ended session may get a review, asked for or not */
    run(f, "rita", fmt("review %s --note 'spot check'", mplain.id));
    expect_status(&C, "review plain", 0);

    run(f, "sam", "reviews --pending --json");
    expect_status(&C, "reviews --pending --json", 0);
    v = json_loads(C.out, 0, NULL);
    assert_non_null(v);
    assert_int_equal(json_array_size(v), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(v, 0), "id")), mlive.id);
    assert_string_equal(json_string_value(json_object_get(json_array_get(v, 1), "id")), mflag.id);
    assert_false(json_is_true(json_object_get(json_array_get(v, 1), "breakglass")));
    json_decref(v);

    run(f, "sam", "reviews");
    expect_status(&C, "reviews", 0);
    p = strstr(C.out, mbg.id);
    assert_non_null(p);
    assert_non_null(strstr(p, "reviewed by sam 2023-11-14 23:13 UTC"));
    assert_non_null(strstr(p, "restarted nginx only; fine\n"));
    assert_non_null(strstr(C.out, mplain.id));
    run(f, "sam", "reviews --json");
    v = json_loads(C.out, 0, NULL);
    assert_non_null(v);
    for (size_t i = 0; i < json_array_size(v); i++) {
        json_t *o = json_array_get(v, i);

        if (strcmp(json_string_value(json_object_get(o, "id")), mbg.id) == 0) {
            assert_true(json_is_true(json_object_get(o, "breakglass")));
            assert_string_equal(json_string_value(json_object_get(o, "review")), "reviewed");
            assert_string_equal(json_string_value(json_object_get(o, "reviewed_by")), "sam");
            assert_int_equal(json_integer_value(json_object_get(o, "reviewed_at")), T0 + 3600);
        }
    }
    json_decref(v);

    /* all pending ones reviewed: an empty list says so */
    rec_finish(f, &mlive, "alice", T0 + 60, 0);
    run(f, "rita", fmt("review %s --note ok", mflag.id));
    run(f, "rita", fmt("review %s --note ok", mlive.id));
    run(f, "sam", "reviews --pending");
    assert_string_equal(C.out, "no sessions waiting for review\n");
}

/* ---- search ---- */

static void test_search_is_literal(void **state)
{
    struct fx *f = *state;
    const char *a = "aaaaaaaaaaaaaaaa", *b = "bbbbbbbbbbbbbbbb";
    const struct store_text lines[] = {
        {a, 0, 1.5, "$ rm -rf /tmp/x", 15, ""},
        {a, 1, 2.0, "echo \"hello world\" | grep 'a*b'", 31, ""},
        {a, 0, 3725.25, "hello world", 11, ""},
        {b, 0, 0.3, "SELECT * FROM users WHERE name = 'x' OR 1=1;", 44, ""},
        {b, 0, 0.4, "NEAR(a b) AND c* ^d", 19, ""},
        {b, 0, 0.5, "caf\xc3\xa9 \x1b[31mred", 14, ""},
    };
    static const struct {
        const char *words[4];
        int status;
        const char *want; /* stdout exactly (status 0), or a piece of stderr */
    } cases[] = {
        {{"search", "--", "-rf /tmp"}, 0, "aaaaaaaaaaaaaaaa  00:00:01.5  o  $ rm -rf /tmp/x\n"},
        {{"search", "\"hello world\""},
         0,
         "aaaaaaaaaaaaaaaa  00:00:02.0  i  echo \"hello world\" | grep 'a*b'\n"},
        {{"search", "hello", "world"},
         0,
         "aaaaaaaaaaaaaaaa  00:00:02.0  i  echo \"hello world\" | grep 'a*b'\n"
         "aaaaaaaaaaaaaaaa  01:02:05.3  o  hello world\n"},
        {{"search", "a*b"},
         0,
         "aaaaaaaaaaaaaaaa  00:00:02.0  i  echo \"hello world\" | grep 'a*b'\n"},
        {{"search", "'x' OR 1=1"},
         0,
         "bbbbbbbbbbbbbbbb  00:00:00.3  o  SELECT * FROM users WHERE name = 'x' OR 1=1;\n"},
        {{"search", "NEAR(a"}, 0, "bbbbbbbbbbbbbbbb  00:00:00.4  o  NEAR(a b) AND c* ^d\n"},
        {{"search", "c* ^d"}, 0, "bbbbbbbbbbbbbbbb  00:00:00.4  o  NEAR(a b) AND c* ^d\n"},
        {{"search", "AND"}, 0, "bbbbbbbbbbbbbbbb  00:00:00.4  o  NEAR(a b) AND c* ^d\n"},
        {{"search", "caf\xc3\xa9"}, 0, "bbbbbbbbbbbbbbbb  00:00:00.5  o  caf\xc3\xa9 ?[31mred\n"},
        {{"search", "a OR b"}, 0, "no matches\n"},
        {{"search", "*"}, 2, "at least 3 characters"},
        {{"search", "ab"}, 2, "at least 3 characters"},
        {{"search", "\xc3\xa9\xc3\xa9"}, 2, "at least 3 characters"},
        {{"search"}, 2, "TEXT is required"},
        {{"search", "abc\x01"}, 2, "control character"},
    };
    json_t *v;

    assert_int_equal(store_text_insert(f->s, lines, sizeof(lines) / sizeof(lines[0])), 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int argc = 0;

        while (argc < 4 && cases[i].words[argc] != NULL) {
            argc++;
        }
        run_argv(f, "sam", argc, cases[i].words);
        if (C.status != cases[i].status ||
            (cases[i].status == 0 ? strcmp(C.out, cases[i].want) != 0
                                  : strstr(C.err, cases[i].want) == NULL)) {
            dump(cases[i].words[1] ? cases[i].words[1] : "search");
            fail_msg("search case %zu: status %d", i, C.status);
        }
    }
    expect_audit(f, "sam", "review.search", "search", NULL);
    run_argv(f, "sam", 2, (const char *[]){"search", "hello world", NULL});
    expect_audit(f, "sam", "review.search", "search", "\"text\":\"hello world\"");

    run(f, "sam", "search 'hello world' --json --limit 1");
    expect_status(&C, "search --json", 0);
    v = json_loads(C.out, 0, NULL);
    assert_non_null(v);
    assert_int_equal(json_array_size(v), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(v, 0), "session")), a);
    assert_string_equal(json_string_value(json_object_get(json_array_get(v, 0), "stream")), "i");
    assert_true(json_real_value(json_object_get(json_array_get(v, 0), "time")) == 2.0);
    assert_string_equal(json_string_value(json_object_get(json_array_get(v, 0), "line")),
                        "echo \"hello world\" | grep 'a*b'");
    json_decref(v);
}

/* ---- audit ---- */

static void test_audit_limit(void **state)
{
    struct fx *f = *state;
    json_t *v;
    size_t lines = 0;

    run(f, "alice", "audit");
    run(f, "eve", "sessions");
    run(f, "sam", "sessions");
    run(f, "sam", "audit --limit 3");
    expect_status(&C, "audit --limit 3", 0);
    for (const char *p = C.out; (p = strchr(p, '\n')) != NULL; p++) {
        lines++;
    }
    assert_int_equal(lines, 3);
    /* the last shown is the use before this one; this one is audited after */
    assert_non_null(strstr(C.out, "eve review.refused [sessions] {\"command\":\"sessions\"}"));
    assert_non_null(strstr(C.out, "sam review.sessions [sessions]"));
    assert_true(strstr(C.out, "review.refused") < strstr(C.out, "review.sessions"));
    assert_null(strstr(C.out, "review.audit"));
    expect_audit(f, "sam", "review.audit", "audit", "\"rows\":3");

    run(f, "rita", "audit --json --limit 2");
    expect_status(&C, "audit --json", 0);
    v = json_loads(C.out, 0, NULL);
    assert_non_null(v);
    assert_int_equal(json_array_size(v), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(v, 1), "event")),
                        "review.audit");
    assert_true(json_integer_value(json_object_get(json_array_get(v, 0), "seq")) + 1 ==
                json_integer_value(json_object_get(json_array_get(v, 1), "seq")));
    assert_true(json_is_object(json_object_get(json_array_get(v, 1), "details")));
    assert_non_null(json_object_get(json_array_get(v, 1), "time_iso"));
    json_decref(v);

    run(f, "sam", "audit");
    expect_status(&C, "audit", 0);
    lines = 0;
    for (const char *p = C.out; (p = strchr(p, '\n')) != NULL; p++) {
        lines++;
    }
    assert_true(lines >= 5 && lines <= 50);
    expect_usage(f, "sam", "audit --limit 0", "--limit");
    expect_usage(f, "sam", "audit --limit 10001", "--limit");
    expect_usage(f, "sam", "audit --limit -3", "--limit");
    expect_usage(f, "sam", "audit now", "too many arguments");
}

/* Without a store the commands say so, for anyone. */
static void test_no_store(void **state)
{
    struct fx *f = *state;

    cap_ctx(f, "sam", 0);
    C.ctx.access = NULL;
    C.status = shell_run_line(&C.ctx, "sessions", 8);
    assert_int_equal(C.status, 1);
    assert_string_equal(C.err, "drawbridge: the store is unavailable\n");
    cap_reset();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_refused_for_others, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_sessions_filters_and_json, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_replay_output_is_sanitised_output, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_replay_timing, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_replay_stops_on_q, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_replay_checks_the_recording, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_watch_follows_a_live_session, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_watch_partial_lines_and_quit, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_terminate, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_export_writes_the_file, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_review_and_pending, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_search_is_literal, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_audit_limit, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_no_store, fx_setup, fx_teardown),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);

    cap_reset();
    return r;
}

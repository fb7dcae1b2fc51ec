/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Channels of one engineer connection: what the client asks for (pty, env,
 * shell, exec, subsystem, window changes, signals), how each channel is
 * started (the gateway's shell, or a twin channel on the target), and the
 * pump that moves bytes both ways.
 *
 * Callbacks only record what was asked; everything that does I/O runs from
 * the event loop (chan_run_all), so no callback ever blocks or nests a poll.
 *
 * Flow control: a direction's queue is refilled only when it is empty, and
 * then with everything the source channel holds.  libssh 0.10 re-opens a
 * channel's receive window on every read without counting what it already
 * buffered, so reading in small pieces while the destination is slow lets its
 * buffer grow without bound; reading all of it only when our queue is empty
 * keeps libssh's buffer plus its window at most one window (about 1.3 MB) and
 * our queue at most one read.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include <jansson.h>

#include "conn.h"
#include "recording.h"

/* ---- byte queue ---- */

int rbuf_append(struct rbuf *b, const void *p, size_t n)
{
    if (n == 0) {
        return 0;
    }
    if (b->off > 0 && b->off == b->len) {
        b->off = b->len = 0;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        char *d;

        /* compact first: the consumed front is dead space */
        if (b->off > 0) {
            memmove(b->data, b->data + b->off, b->len - b->off);
            b->len -= b->off;
            b->off = 0;
        }
        while (cap < b->len + n) {
            cap *= 2;
        }
        if (cap != b->cap) {
            d = realloc(b->data, cap);
            if (d == NULL) {
                return DB_ERR_NOMEM;
            }
            b->data = d;
            b->cap = cap;
        }
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

void rbuf_consume(struct rbuf *b, size_t n)
{
    b->off += n;
    if (b->off >= b->len) {
        b->off = b->len = 0;
    }
}

void rbuf_free(struct rbuf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

/* ---- hook helpers ---- */

/* Event times are monotonic: a clock step must not reorder a recording. */
static void chan_now(struct timespec *ts)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
}

static long long chan_now_ms(void)
{
    struct timespec ts;

    chan_now(&ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int chan_hook_data(struct chan *ch, enum relay_dir dir, int is_err, const char *buf,
                          size_t len)
{
    struct relay_hook *h = &ch->conn->hook;
    struct timespec ts;

    if (h->data == NULL || len == 0) {
        return 0;
    }
    chan_now(&ts);
    return h->data(h->ctx, ch->id, dir, is_err, buf, len, &ts);
}

static int chan_hook_open(struct chan *ch, const char *login)
{
    struct relay_hook *h = &ch->conn->hook;
    struct relay_chan_info ci;
    struct timespec ts;
    static const char *const kinds[] = {"none", "shell", "exec", "subsystem"};
    int r;

    memset(&ci, 0, sizeof(ci));
    ci.id = ch->id;
    ci.user = ch->conn->user;
    ci.target = ch->target;
    ci.login = login;
    ci.kind = kinds[ch->kind];
    ci.command = ch->command;
    ci.term = ch->has_pty ? ch->term : NULL;
    ci.cols = ch->cols;
    ci.rows = ch->rows;
    ci.session = ch->session_id[0] != '\0' ? ch->session_id : NULL;
    ci.grant = ch->grant_id;
    ci.record_input = ch->conn->tgt != NULL ? ch->conn->tgt->record_input : 1;
    chan_now(&ts);
    if (h->open == NULL) {
        /* no recorder: a session to a target is refused, the shell is not a session */
        r = ci.session != NULL ? DB_ERR_IO : 0;
    } else {
        r = h->open(h->ctx, &ci, &ts);
    }
    ch->hook_open = (r == 0);
    return r;
}

/* ---- queueing output for the engineer ---- */

static void chan_queue_down(struct chan *ch, int is_err, const char *buf, size_t len)
{
    /* With a pty the engineer has one stream, as a terminal would. */
    int stream = (is_err && !ch->has_pty) ? 1 : 0;

    if (chan_hook_data(ch, RELAY_DIR_OUT, stream, buf, len) != 0) {
        ch->state = CHAN_CLOSING;
        ch->exit_status = 255;
    }
    if (rbuf_append(&ch->to_down[stream], buf, len) != 0) {
        ch->state = CHAN_CLOSING;
        ch->exit_status = 255;
    }
}

/* Ends a channel with a one-line message on the engineer's stderr. */
void chan_fail(struct chan *ch, int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(msg, sizeof(msg) - 2, fmt, ap);
    va_end(ap);
    if (n < 0) {
        n = 0;
    }
    if ((size_t)n > sizeof(msg) - 3) {
        n = (int)sizeof(msg) - 3;
    }
    memcpy(msg + n, ch->has_pty ? "\r\n" : "\n", ch->has_pty ? 3 : 2);
    chan_queue_down(ch, 1, msg, strlen(msg));
    ch->exit_status = status;
    ch->state = CHAN_CLOSING;
}

static int chan_shell_write(void *io, int is_err, const char *buf, size_t len)
{
    chan_queue_down(io, is_err, buf, len);
    return 0;
}

/* ---- callbacks: record only ---- */

static int chan_cb_pty(ssh_session s, ssh_channel channel, const char *term, int w, int h, int pxw,
                       int pxh, void *ud)
{
    struct chan *ch = ud;

    (void)s;
    (void)channel;
    if (ch->state != CHAN_NEW || ch->has_pty || term == NULL || w < 0 || h < 0) {
        return -1;
    }
    /* TERM reaches the target's environment: keep it to a sane charset. */
    for (const char *p = term; *p != '\0'; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.' || *p == '+')) {
            return -1;
        }
    }
    snprintf(ch->term, sizeof(ch->term), "%s", term[0] ? term : "dumb");
    ch->cols = w > 10000 ? 10000 : w;
    ch->rows = h > 10000 ? 10000 : h;
    ch->pxw = pxw;
    ch->pxh = pxh;
    ch->has_pty = 1;
    return 0;
}

static int chan_cb_winch(ssh_session s, ssh_channel channel, int w, int h, int pxw, int pxh,
                         void *ud)
{
    struct chan *ch = ud;

    (void)s;
    (void)channel;
    if (!ch->has_pty || w < 0 || h < 0) {
        return -1;
    }
    ch->cols = w > 10000 ? 10000 : w;
    ch->rows = h > 10000 ? 10000 : h;
    ch->pxw = pxw;
    ch->pxh = pxh;
    ch->resize_pending = 1;
    return 0;
}

static int chan_cb_start(struct chan *ch, enum chan_kind kind, const char *command)
{
    if (ch->state != CHAN_NEW) {
        return -1;
    }
    if (command != NULL) {
        ch->command = strdup(command);
        if (ch->command == NULL) {
            return -1;
        }
    }
    ch->kind = kind;
    ch->state = CHAN_START;
    return 0;
}

static int chan_cb_shell(ssh_session s, ssh_channel channel, void *ud)
{
    (void)s;
    (void)channel;
    return chan_cb_start(ud, CHAN_KIND_SHELL, NULL);
}

static int chan_cb_exec(ssh_session s, ssh_channel channel, const char *command, void *ud)
{
    (void)s;
    (void)channel;
    return chan_cb_start(ud, CHAN_KIND_EXEC, command != NULL ? command : "");
}

static int chan_cb_subsystem(ssh_session s, ssh_channel channel, const char *name, void *ud)
{
    struct chan *ch = ud;

    (void)s;
    (void)channel;
    /* Only sftp, and only to a target: the gateway itself serves no files. */
    if (ch->target[0] == '\0' || name == NULL || strcmp(name, "sftp") != 0) {
        log_msg(LOG_LVL_WARN, "request.refused", "user=%s subsystem refused", ch->conn->user);
        return -1;
    }
    return chan_cb_start(ch, CHAN_KIND_SUBSYSTEM, name);
}

static int chan_env_allowed(const char *name)
{
    if (strcmp(name, "TERM") == 0 || strcmp(name, "LANG") == 0) {
        return 1;
    }
    if (strncmp(name, "LC_", 3) != 0 || name[3] == '\0' || strlen(name) > 32) {
        return 0;
    }
    for (const char *p = name + 3; *p != '\0'; p++) {
        if (!((*p >= 'A' && *p <= 'Z') || *p == '_')) {
            return 0;
        }
    }
    return 1;
}

static int chan_cb_env(ssh_session s, ssh_channel channel, const char *name, const char *value,
                       void *ud)
{
    struct chan *ch = ud;

    (void)s;
    (void)channel;
    if (ch->state != CHAN_NEW || name == NULL || value == NULL || !chan_env_allowed(name) ||
        strlen(value) > 256 || ch->nenv >= CONN_ENV_MAX) {
        return -1;
    }
    for (const char *p = value; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            return -1;
        }
    }
    ch->env_name[ch->nenv] = strdup(name);
    ch->env_value[ch->nenv] = strdup(value);
    if (ch->env_name[ch->nenv] == NULL || ch->env_value[ch->nenv] == NULL) {
        free(ch->env_name[ch->nenv]);
        free(ch->env_value[ch->nenv]);
        return -1;
    }
    ch->nenv++;
    return 0;
}

static void chan_cb_signal(ssh_session s, ssh_channel channel, const char *sig, void *ud)
{
    struct chan *ch = ud;

    (void)s;
    (void)channel;
    if (sig == NULL || strlen(sig) > 16 || ch->signal_pending != NULL) {
        return;
    }
    ch->signal_pending = strdup(sig);
}

static void chan_cb_up_exit_status(ssh_session s, ssh_channel channel, int status, void *ud)
{
    struct chan *ch = ud;

    (void)s;
    (void)channel;
    ch->exit_status = status;
    ch->conn->wake = 1;
}

/*
 * Data, EOF and close can arrive while the loop polls one channel (libssh
 * handles every packet of the session then, for any channel): these only
 * note that the loop must look again before it sleeps.  Data is left where
 * it is (0 consumed); the pumps read it with the window in mind.
 */
static int chan_cb_wake_data(ssh_session s, ssh_channel channel, void *data, uint32_t len,
                             int is_stderr, void *ud)
{
    struct chan *ch = ud;

    (void)s;
    (void)data;
    (void)len;
    if (channel == ch->down) {
        ch->rx_down = 1;
    } else {
        ch->rx_up[is_stderr ? 1 : 0] = 1;
    }
    ch->conn->wake = 1;
    return 0; /* nothing taken here: the pump reads it when the destination can take it */
}

/* libssh answers nothing for this request: it is refused by never opening agent channels. */
static void chan_cb_agent(ssh_session s, ssh_channel channel, void *ud)
{
    struct chan *ch = ud;

    (void)s;
    (void)channel;
    session_refused(ch->conn, "agent forwarding");
}

static void chan_cb_wake(ssh_session s, ssh_channel channel, void *ud)
{
    struct chan *ch = ud;

    (void)s;
    /* EOF or close: the pump asks the channel (ssh_channel_poll says SSH_EOF) */
    if (channel == ch->down) {
        ch->rx_down = 1;
    } else {
        ch->rx_up[0] = ch->rx_up[1] = 1;
    }
    ch->conn->wake = 1;
}

/* The target closed the channel: whatever exit status it had to give came before. */
static void chan_cb_up_close(ssh_session s, ssh_channel channel, void *ud)
{
    struct chan *ch = ud;

    ch->up_closed = 1;
    chan_cb_wake(s, channel, ud);
}

static void chan_cb_up_exit_signal(ssh_session s, ssh_channel channel, const char *sig, int core,
                                   const char *errmsg, const char *lang, void *ud)
{
    struct chan *ch = ud;

    (void)s;
    (void)channel;
    (void)errmsg;
    (void)lang;
    if (sig != NULL && ch->exit_signal == NULL) {
        ch->exit_signal = strndup(sig, 16);
        ch->exit_core = core;
    }
    ch->conn->wake = 1;
}

ssh_channel chan_open_cb(ssh_session session, void *userdata)
{
    struct conn *c = userdata;
    struct chan *ch = NULL;
    int slot = -1;

    if (!c->authenticated) {
        return NULL;
    }
    for (int i = 0; i < CONN_CHANNELS_MAX; i++) {
        if (c->chans[i] == NULL) {
            slot = i;
            break;
        }
    }
    if (slot < 0) {
        log_msg(LOG_LVL_WARN, "channel.refused", "user=%s too many channels", c->user);
        return NULL;
    }
    ch = calloc(1, sizeof(*ch));
    if (ch == NULL) {
        return NULL;
    }
    ch->down = ssh_channel_new(session);
    if (ch->down == NULL) {
        free(ch);
        return NULL;
    }
    ch->conn = c;
    ch->id = c->next_chan_id++;
    ch->rx_down = ch->rx_up[0] = ch->rx_up[1] = 1; /* ask once before the callbacks say */
    snprintf(ch->target, sizeof(ch->target), "%s", c->target);
    ch->exit_status = -1;
    ch->down_cb.userdata = ch;
    ch->down_cb.channel_pty_request_function = chan_cb_pty;
    ch->down_cb.channel_pty_window_change_function = chan_cb_winch;
    ch->down_cb.channel_shell_request_function = chan_cb_shell;
    ch->down_cb.channel_exec_request_function = chan_cb_exec;
    ch->down_cb.channel_subsystem_request_function = chan_cb_subsystem;
    ch->down_cb.channel_env_request_function = chan_cb_env;
    ch->down_cb.channel_signal_function = chan_cb_signal;
    ch->down_cb.channel_auth_agent_req_function = chan_cb_agent;
    ch->down_cb.channel_data_function = chan_cb_wake_data;
    ch->down_cb.channel_eof_function = chan_cb_wake;
    ch->down_cb.channel_close_function = chan_cb_wake;
    ssh_callbacks_init(&ch->down_cb);
    ssh_set_channel_callbacks(ch->down, &ch->down_cb);
    c->chans[slot] = ch;
    c->nchan_total++;
    return ch->down;
}

/* ---- starting a channel ---- */

static void chan_start_shell(struct chan *ch)
{
    struct conn *c = ch->conn;

    ch->sh.cfg = c->cfg;
    ch->sh.policy = c->policy;
    ch->sh.user = c->user;
    ch->sh.groups = (const char *const *)c->duser->groups;
    ch->sh.ngroups = c->duser->ngroups;
    ch->sh.interactive = ch->has_pty;
    ch->sh.write = chan_shell_write;
    ch->sh.io = ch;
    ch->sh.access = c->store != NULL ? &c->access : NULL;
    ch->sh.peer = c->peer;
    ch->sh.mfa_verified = c->mfa_verified;
    if (chan_hook_open(ch, "") != 0) {
        chan_fail(ch, 1, "drawbridge: cannot record this session; refusing");
        return;
    }
    if (ch->kind == CHAN_KIND_EXEC) {
        size_t len = strlen(ch->command);

        chan_hook_data(ch, RELAY_DIR_IN, 0, ch->command, len);
        log_msg(LOG_LVL_INFO, "shell.exec", "user=%s", c->user);
        ch->exit_status = shell_run_line(&ch->sh, ch->command, len);
        /* a command that keeps running (replay, export...) is driven by the loop */
        ch->state = ch->sh.job != NULL ? CHAN_OPEN : CHAN_CLOSING;
        return;
    }
    ch->state = CHAN_OPEN;
    c->trim_due = 1;
    if (ch->has_pty) {
        ch->term_ed = shell_term_new(&ch->sh);
        if (ch->term_ed == NULL) {
            chan_fail(ch, 1, "drawbridge: out of memory");
        }
    }
}

static int chan_session_row(struct chan *ch, const struct access_connect *ac, long long now)
{
    struct conn *c = ch->conn;
    struct store_session row;
    static const char *const kinds[] = {"none", "shell", "exec", "subsystem"};

    memset(&row, 0, sizeof(row));
    snprintf(row.user, sizeof(row.user), "%.64s", c->user);
    snprintf(row.target, sizeof(row.target), "%.64s", ch->target);
    snprintf(row.login, sizeof(row.login), "%.64s", c->up_login);
    row.grant_id = ac->grant_id;
    snprintf(row.kind, sizeof(row.kind), "%s", kinds[ch->kind]);
    row.command = ch->command;
    row.started_at = now;
    row.exit_status = -1;
    row.review_required = ac->review_required;
    if (c->up_session[0] != '\0' && !c->up_session_taken) {
        /* the certificate of this connection already names this session */
        snprintf(row.id, sizeof(row.id), "%s", c->up_session);
        c->up_session_taken = 1;
    }
    if (access_session_start(c->store, &row) != 0) {
        return DB_ERR_IO;
    }
    snprintf(ch->session_id, sizeof(ch->session_id), "%s", row.id);
    return 0;
}

/* The connection's target leg, made once; a failure is kept (and said) for every channel. */
static int chan_upstream(struct conn *c, const struct access_connect *ac, long long now)
{
    char err[300] = "";
    int r;

    if (c->up != NULL) {
        return 0;
    }
    if (c->up_failed) {
        return DB_ERR_UPSTREAM;
    }
    if ((r = upstream_connect(c, ac->target, ac->login, ac->grant_id, err, sizeof(err))) != 0) {
        c->up_failed = 1;
        c->up_hostkey_mismatch = r == DB_ERR_HOSTKEY;
        snprintf(c->up_err, sizeof(c->up_err), "%s", err);
        if (c->store != NULL) {
            json_t *d = json_pack("{ss ss}", "error", err, "address", ac->target->address);

            access_audit_event(c->store, now, c->user,
                               c->up_hostkey_mismatch ? "upstream.hostkey_mismatch"
                                                      : "upstream.fail",
                               ac->target->name, d);
            json_decref(d);
        }
        return DB_ERR_UPSTREAM;
    }
    return 0;
}

/*
 * Right after authentication as USER+TARGET, while the client is still
 * opening its channel: if the user may reach the target now, make the target
 * leg already, so that setup costs one round trip less.  A refusal does
 * nothing here: the channel's own check says and audits it.
 */
void chan_preconnect(struct conn *c)
{
    struct access_connect ac;
    struct policy_subject who;
    long long now = (long long)time(NULL);
    char err[300] = "";

    if (c->target[0] == '\0' || c->up != NULL || c->up_failed || c->duser == NULL) {
        return;
    }
    who.user = c->user;
    who.groups = (const char *const *)c->duser->groups;
    who.ngroups = c->duser->ngroups;
    memset(&ac, 0, sizeof(ac));
    if (access_connect_check(c->store != NULL ? &c->access : NULL, c->policy, &who, c->target, NULL,
                             now, &ac, err, sizeof(err)) == 0 &&
        session_mfa_target_quiet(c, ac.target)) {
        chan_upstream(c, &ac, now);
    }
}

/*
 * Below recordings.min_free no new session to a target starts: its recording
 * could not be kept, and recording is fail-closed.  Live sessions go on.
 * The refusal says why, to the engineer, the log and the audit.
 */
static int chan_disk_refuses(struct chan *ch, long long now)
{
    struct conn *c = ch->conn;
    struct disk_state d;
    char err[256] = "", why[512];

    if (disk_check(c->cfg, &d, err, sizeof(err)) != 0) {
        log_msg(LOG_LVL_WARN, "disk.unknown", "%s", err);
        return 0; /* the recorder itself still fails closed */
    }
    if (d.level != DISK_FULL) {
        return 0;
    }
    disk_describe(c->cfg, &d, why, sizeof(why));
    log_msg(LOG_LVL_WARN, "access.denied", "user=%s target=%s disk nearly full: %s", c->user,
            ch->target, why);
    if (c->store != NULL) {
        json_t *det = json_pack("{ss ss ss}", "action", "session", "reason", "disk nearly full",
                                "peer", c->peer != NULL ? c->peer : "");

        access_audit_event(c->store, now, c->user, "access.refused", ch->target, det);
        json_decref(det);
    }
    chan_fail(ch, 1, "drawbridge: disk nearly full: the gateway refuses new sessions until an "
                     "operator frees space (live sessions go on)");
    return 1;
}

static void chan_start_target(struct chan *ch)
{
    struct conn *c = ch->conn;
    struct access_connect ac;
    struct policy_subject who;
    long long now = (long long)time(NULL);
    char err[300] = "";

    who.user = c->user;
    who.groups = (const char *const *)c->duser->groups;
    who.ngroups = c->duser->ngroups;
    memset(&ac, 0, sizeof(ac));
    if (access_connect_check(c->store != NULL ? &c->access : NULL, c->policy, &who, ch->target,
                             ch->login[0] != '\0' ? ch->login : NULL, now, &ac, err,
                             sizeof(err)) != 0) {
        log_msg(LOG_LVL_WARN, "access.denied", "user=%s target=%s %s", c->user, ch->target, err);
        if (c->store != NULL && ac.target != NULL) {
            json_t *d = json_pack("{ss ss ss}", "action", "session", "reason", err, "peer",
                                  c->peer != NULL ? c->peer : "");

            access_audit_event(c->store, now, c->user, "access.refused", ch->target, d);
            json_decref(d);
        }
        chan_fail(ch, 1, "drawbridge: %s", err[0] ? err : "access to this target is not allowed");
        return;
    }
    /* the second factor: enrol first when required; protected targets may need a code */
    if (session_mfa_target(c, ac.target, err, sizeof(err)) != 0) {
        chan_fail(ch, 1, "drawbridge: %s", err);
        return;
    }
    if (chan_disk_refuses(ch, now)) {
        return;
    }
    if (c->up != NULL &&
        (c->tgt == NULL || c->tgt != ac.target || strcmp(c->up_login, ac.login) != 0)) {
        chan_fail(ch, 1, "drawbridge: this connection is already relaying to %s as %s",
                  c->tgt != NULL ? c->tgt->name : c->tgt_name, c->up_login);
        return;
    }
    if (chan_upstream(c, &ac, now) != 0) {
        chan_fail(ch, 255, "drawbridge: %s", c->up_err);
        return;
    }
    if (c->store == NULL || chan_session_row(ch, &ac, now) != 0) {
        chan_fail(ch, 1, "drawbridge: cannot record this session in the audit; refusing");
        return;
    }
    ch->grant_id = ac.grant_id;
    ch->grant_ends = ac.ends_at;
    if (chan_hook_open(ch, c->up_login) != 0) {
        chan_fail(ch, 1, "drawbridge: cannot record this session; refusing");
        return;
    }
    /* The target may answer, exit and close before the exec request returns. */
    ch->up_cb.userdata = ch;
    ch->up_cb.channel_exit_status_function = chan_cb_up_exit_status;
    ch->up_cb.channel_exit_signal_function = chan_cb_up_exit_signal;
    ch->up_cb.channel_data_function = chan_cb_wake_data;
    ch->up_cb.channel_eof_function = chan_cb_wake;
    ch->up_cb.channel_close_function = chan_cb_up_close;
    ssh_callbacks_init(&ch->up_cb);
    if (upstream_open_channel(c, ch, err, sizeof(err)) != 0) {
        chan_fail(ch, 255, "drawbridge: %s", err);
        return;
    }
    ch->state = CHAN_OPEN;
    /* a first look now that the session row exists: a revoke that came before it, a near end */
    c->check_at = 0;
    c->trim_due = 1;
    log_msg(LOG_LVL_INFO, "session.start",
            "user=%s target=%s login=%s channel=%u kind=%s grant=%lld session=%s", c->user,
            ch->target, c->up_login, ch->id,
            ch->kind == CHAN_KIND_SHELL ? "shell" : ch->kind == CHAN_KIND_EXEC ? "exec" : "sftp",
            ac.grant_id, ch->session_id);
}

static void chan_notice(struct chan *ch, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A one-line notice from the gateway on the engineer's terminal (stderr without a pty). */
static void chan_notice(struct chan *ch, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(msg + 2, sizeof(msg) - 4, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    msg[0] = '\r';
    msg[1] = '\n';
    snprintf(msg + strlen(msg), 3, "\r\n");
    if (ch->has_pty) {
        chan_queue_down(ch, 1, msg, strlen(msg));
    } else {
        msg[strlen(msg) - 2] = '\n';
        msg[strlen(msg) - 1] = '\0';
        chan_queue_down(ch, 1, msg + 2, strlen(msg + 2));
    }
}

/*
 * When the recorder holds something back (hook.due): let it flush, so that a
 * crash loses at most about a second of it; a failure ends the session.
 */
void chan_tick_recordings(struct conn *c)
{
    struct relay_hook *h = &c->hook;
    struct timespec ts;

    if (h->tick == NULL) {
        return;
    }
    chan_now(&ts);
    for (int i = 0; i < CONN_CHANNELS_MAX; i++) {
        struct chan *ch = c->chans[i];

        if (ch == NULL || (ch->state != CHAN_OPEN && ch->state != CHAN_CLOSING) ||
            !ch->hook_open || h->tick(h->ctx, ch->id, &ts) == 0) {
            continue;
        }
        if (ch->up != NULL && !ssh_channel_is_closed(ch->up)) {
            ssh_channel_close(ch->up);
        }
        chan_fail(ch, 255, "%sdrawbridge: the recording cannot be written; session ended",
                  ch->has_pty ? "\r\n" : "");
    }
}

/*
 * Has a reviewer asked this session to end?  1 when it was ended, 0 when
 * not, DB_ERR_* when the store could not say.
 */
static int chan_check_terminate(struct chan *ch)
{
    struct relay_hook *h = &ch->conn->hook;
    struct timespec ts;
    char by[STORE_NAME_MAX + 1] = "", reason[STORE_TEXT_MAX + 1] = "";
    long long at = 0;
    int r;

    if (ch->session_id[0] == '\0' || ch->conn->store == NULL) {
        return 0;
    }
    r = store_session_terminate_get(ch->conn->store, ch->session_id, &at, by, sizeof(by), reason,
                                    sizeof(reason));
    if (r != 0 || at == 0) {
        return r == 0 || r == DB_ERR_NOTFOUND || r == DB_ERR_INVALID ? 0 : r;
    }
    chan_now(&ts);
    log_msg(LOG_LVL_INFO, "session.terminated", "user=%s target=%s session=%s by=%s",
            ch->conn->user, ch->target, ch->session_id, by);
    if (h->note != NULL && ch->hook_open) {
        char note[300];

        snprintf(note, sizeof(note), "terminated by %s", by);
        h->note(h->ctx, ch->id, note, &ts);
    }
    if (ch->up != NULL && !ssh_channel_is_closed(ch->up)) {
        ssh_channel_close(ch->up);
    }
    chan_fail(ch, 255, "%sdrawbridge: session terminated by %s: %.300s",
              ch->has_pty ? "\r\n" : "", by, reason);
    return 1;
}

/*
 * The store does not answer (stopped, unreachable): a live session goes on
 * for store_grace seconds, looking again every second, and is then ended;
 * 1 when it was.  Nothing that needs the store (a revoke, a terminate) could
 * reach it meanwhile, which is why the wait is bounded.
 */
static int chan_store_down(struct chan *ch, long long now, int r)
{
    struct conn *c = ch->conn;

    if (c->store_down_since == 0) {
        c->store_down_since = now;
        log_msg(LOG_LVL_WARN, "store.down", "user=%s target=%s: the store does not answer (%s); "
                "the session ends in %ds unless it comes back", c->user, ch->target,
                db_strerror(r), c->cfg->store_grace);
    }
    /* whole seconds on both sides: more than store_grace have passed only when this is over it */
    if (now - c->store_down_since <= c->cfg->store_grace) {
        return 0;
    }
    log_msg(LOG_LVL_WARN, "session.store_grace", "user=%s target=%s session=%s: the store was "
            "unreachable for %ds", c->user, ch->target, ch->session_id, c->cfg->store_grace);
    if (ch->up != NULL && !ssh_channel_is_closed(ch->up)) {
        ssh_channel_close(ch->up);
    }
    chan_fail(ch, 255, "%sdrawbridge: the gateway's store is unreachable; session closed",
              ch->has_pty ? "\r\n" : "");
    return 1;
}

void chan_check_grants(struct conn *c, long long now)
{
    long long next = LLONG_MAX;
    int store_ok = 1;

    for (int i = 0; i < CONN_CHANNELS_MAX; i++) {
        struct chan *ch = c->chans[i];
        struct store_grant g;
        int r;

        if (ch == NULL || ch->state != CHAN_OPEN) {
            continue;
        }
        if ((r = chan_check_terminate(ch)) != 0) {
            if (r < 0) {
                store_ok = 0;
                next = next < now + 1 ? next : now + 1; /* again in a second */
                chan_store_down(ch, now, r);
            }
            continue;
        }
        if (ch->grant_id == 0 || c->store == NULL) {
            continue;
        }
        r = access_grant_status(c->store, ch->grant_id, now, &g);
        if (r != 0 && r != DB_ERR_NOTFOUND) {
            log_msg(LOG_LVL_WARN, "grant.check_failed", "grant=%lld %s", ch->grant_id,
                    db_strerror(r));
            store_ok = 0;
            next = next < now + 1 ? next : now + 1; /* busy: again in a second */
            chan_store_down(ch, now, r);
            continue; /* a vanished grant below ends it */
        }
        if (r == 0 && g.status == STORE_GRANT_ACTIVE) {
            long long left = g.ends_at - now, due;

            if (left <= 60 && ch->warned < 2) {
                ch->warned = 2;
                chan_notice(ch, "drawbridge: grant %lld ends in %lld second(s)", g.id, left);
            } else if (left <= 300 && ch->warned < 1) {
                ch->warned = 1;
                chan_notice(ch, "drawbridge: grant %lld ends in %lld minute(s)", g.id,
                            (left + 59) / 60);
            }
            /* the next look: the 5-minute warning, the 1-minute one, the end */
            due = ch->warned < 1 ? g.ends_at - 300 : ch->warned < 2 ? g.ends_at - 60 : g.ends_at;
            next = due < next ? due : next;
            continue;
        }
        log_msg(LOG_LVL_INFO, "session.grant_ended", "user=%s target=%s grant=%lld status=%s",
                c->user, ch->target, ch->grant_id,
                r == 0 ? store_grant_status_name(g.status) : "missing");
        /* end the target side at once; the engineer gets the reason, then the close */
        if (ch->up != NULL && !ssh_channel_is_closed(ch->up)) {
            ssh_channel_close(ch->up);
        }
        chan_fail(ch, 255, "%sdrawbridge: grant %lld %s; session closed",
                  ch->has_pty ? "\r\n" : "", ch->grant_id,
                  r == 0 && g.status == STORE_GRANT_REVOKED ? "was revoked" : "has expired");
    }
    if (store_ok && c->store_down_since != 0) {
        log_msg(LOG_LVL_INFO, "store.up", "user=%s: the store answers again", c->user);
        c->store_down_since = 0;
    }
    c->check_at = next;
}

/*
 * The policy was reloaded: each live target channel must still be allowed
 * under it (a standing rule removed, a target gone, a grant no longer backed
 * by a rule).  Those that are not end with the reason.
 */
void chan_check_policy(struct conn *c, long long now)
{
    for (int i = 0; i < CONN_CHANNELS_MAX; i++) {
        struct chan *ch = c->chans[i];
        struct access_connect ac;
        struct policy_subject who;
        char err[300] = "";

        if (ch == NULL || ch->state != CHAN_OPEN || ch->up == NULL) {
            continue;
        }
        who.user = c->user;
        who.groups = (const char *const *)c->duser->groups;
        who.ngroups = c->duser->ngroups;
        memset(&ac, 0, sizeof(ac));
        if (access_connect_check(c->store != NULL ? &c->access : NULL, c->policy, &who, ch->target,
                                 c->up_login, now, &ac, err, sizeof(err)) == 0) {
            continue;
        }
        log_msg(LOG_LVL_INFO, "session.policy_ended", "user=%s target=%s session=%s %s", c->user,
                ch->target, ch->session_id, err);
        if (!ssh_channel_is_closed(ch->up)) {
            ssh_channel_close(ch->up);
        }
        chan_fail(ch, 255, "%sdrawbridge: the policy no longer allows this session (%.200s); "
                  "session closed", ch->has_pty ? "\r\n" : "", err);
    }
}

/* ---- pumping ---- */

/*
 * Writes what the queue holds, as far as the destination's window allows.
 * With keep, only whole packets' worth (multiples of CONN_PACKET_DATA) is
 * written and a shorter tail stays: more of the stream is on its way and
 * joins it, so a full packet in makes a full packet out, not a full one and
 * a 10-byte one.
 */
static int chan_flush(ssh_channel dst, int dst_err, struct rbuf *q, int keep, int *progress)
{
    while (rbuf_used(q) > 0) {
        uint32_t win = ssh_channel_window_size(dst);
        size_t n = rbuf_used(q);
        int w;

        if (win == 0) {
            return 0;
        }
        if (n > win) {
            n = win;
        } else if (keep) {
            if (n < CONN_PACKET_DATA) {
                return 0;
            }
            n -= n % CONN_PACKET_DATA;
        }
        w = dst_err ? ssh_channel_write_stderr(dst, q->data + q->off, (uint32_t)n)
                    : ssh_channel_write(dst, q->data + q->off, (uint32_t)n);
        if (w == SSH_ERROR) {
            return -1;
        }
        if (w == 0) {
            return 0; /* e.g. during a rekey: keep it, try after the next poll */
        }
        rbuf_consume(q, (size_t)w);
        *progress = 1;
    }
    return 0;
}

/*
 * Reads everything src holds on one stream and appends it to q (which holds
 * at most a remainder shorter than a packet).  *rx is the stream's flag:
 * cleared before the read, so that data arriving meanwhile sets it again.
 * Returns the byte count, 0 when nothing is there, SSH_EOF, -1, or -2 when
 * the recording refused it.
 */
static int chan_fill(struct chan *ch, ssh_channel src, int src_err, int *rx, struct rbuf *q,
                     enum relay_dir dir, int dst_err)
{
    int avail, n;
    size_t have;

    if (!*rx) {
        return 0;
    }
    *rx = 0;
    avail = ssh_channel_poll(src, src_err);
    if (avail == SSH_EOF) {
        *rx = 1; /* stays said: asking again is cheap once the peer sent EOF */
        return SSH_EOF;
    }
    if (avail <= 0) {
        return avail == 0 ? 0 : -1;
    }
    if ((size_t)avail > CONN_READ_MAX) {
        avail = (int)CONN_READ_MAX;
        *rx = 1; /* the rest next time */
    }
    if (q->off > 0) {
        memmove(q->data, q->data + q->off, rbuf_used(q));
        q->len -= q->off;
        q->off = 0;
    }
    have = q->len;
    if (q->cap < have + (size_t)avail) {
        char *d = realloc(q->data, have + (size_t)avail);

        if (d == NULL) {
            return -1;
        }
        q->data = d;
        q->cap = have + (size_t)avail;
    }
    n = ssh_channel_read_nonblocking(src, q->data + have, (uint32_t)avail, src_err);
    if (n <= 0) {
        return n == SSH_EOF ? SSH_EOF : (n == 0 ? 0 : -1);
    }
    if (n < avail || ssh_channel_is_eof(src)) {
        *rx = 1; /* more, or an EOF that came with the data: ask again */
    }
    q->len = have + (size_t)n;
    if (chan_hook_data(ch, dir, dst_err, q->data + have, (size_t)n) != 0) {
        return -2;
    }
    return n;
}

/*
 * Is more of this stream already on its way: data libssh holds for it (rx),
 * or bytes the source connection's socket (or its read-ahead) holds that
 * libssh has not read?
 * Only then is a tail shorter than a packet kept back for it: a peer that
 * sent a request and waits for the answer (sftp, rsync) must get all of it
 * at once.
 */
static int chan_more_coming(ssh_channel src, const int *rx)
{
    int fd, queued = 0;

    if (ssh_channel_is_eof(src)) {
        return 0;
    }
    if (*rx) {
        return 1;
    }
    fd = ssh_get_fd(ssh_channel_get_session(src));
    return fd >= 0 && (readahead_pending(fd) > 0 || (ioctl(fd, FIONREAD, &queued) == 0 && queued > 0));
}

/*
 * One direction: flush, then refill when the queue is empty or holds only a
 * tail kept back for the next packet, then flush again.  libssh re-opens a
 * channel's window whenever it is read, whatever it still buffers, so a
 * source is read only when its destination has taken all of the last read
 * but such a tail, and then all of it: that keeps libssh's buffer to one
 * window and ours to one read and a packet.  A tail is kept only when more
 * of the stream is on its way as it is cut (chan_more_coming), and goes alone
 * when the stream ends, and after CONN_HOLD_MS at the latest.
 */
static int chan_pump_dir(struct chan *ch, ssh_channel src, int src_err, int *rx, ssh_channel dst,
                         int dst_err, struct rbuf *q, int slot, enum relay_dir dir,
                         int *progress)
{
    struct conn *c = ch->conn;
    long long *held = &ch->hold_since[slot];
    /*
     * A tail is held only when chan_more_coming said so as it was cut, and
     * stays held until the rest joins it, the stream ends or CONN_HOLD_MS
     * is over: asking the socket again on every pass cost a system call per
     * 4 KiB that libssh reads (it reads no more per poll).
     */
    int n, keep = *held != 0 && chan_now_ms() - *held < CONN_HOLD_MS && !ssh_channel_is_eof(src);

    if (chan_flush(dst, dst_err, q, keep, progress) != 0) {
        return -1;
    }
    if (rbuf_used(q) > 0 && !keep) {
        return 0; /* the destination's window is full: read nothing more */
    }
    if (rbuf_used(q) == 0) {
        *held = 0;
    }
    n = chan_fill(ch, src, src_err, rx, q, dir, dst_err);
    if (n == -2) {
        chan_fail(ch, 255, "drawbridge: recording failed; session ended");
        return 0;
    }
    if (n < 0 && n != SSH_EOF) {
        return -1;
    }
    if (n > 0) {
        *progress = 1;
        if (n > 64 * 1024) {
            c->trim_due = 1; /* a stream: its buffers can go once it stops */
        }
        /* a whole packet or more: whole packets now, the tail with what comes next */
        keep = rbuf_used(q) >= CONN_PACKET_DATA && chan_more_coming(src, rx);
        if (chan_flush(dst, dst_err, q, keep, progress) != 0) {
            return -1;
        }
        if (keep && rbuf_used(q) > 0 && rbuf_used(q) < CONN_PACKET_DATA) {
            *held = *held != 0 ? *held : chan_now_ms();
        }
    }
    if (n == SSH_EOF && rbuf_used(q) > 0) {
        *held = 0;
        if (chan_flush(dst, dst_err, q, 0, progress) != 0) {
            return -1;
        }
    }
    if (*held != 0 && rbuf_used(q) > 0) {
        if (*held + CONN_HOLD_MS < c->next_due_ms) {
            c->next_due_ms = *held + CONN_HOLD_MS;
        }
    } else {
        *held = 0;
    }
    return n == SSH_EOF ? 1 : 0;
}

static void chan_pump_target(struct chan *ch, int *progress)
{
    int in_eof, out_eof, err_eof;
    int down_closed = ssh_channel_is_closed(ch->down);

    if (ch->resize_pending) {
        struct relay_hook *h = &ch->conn->hook;
        struct timespec ts;

        ch->resize_pending = 0;
        ssh_channel_change_pty_size(ch->up, ch->cols, ch->rows);
        chan_now(&ts);
        if (h->resize != NULL) {
            h->resize(h->ctx, ch->id, ch->cols, ch->rows, &ts);
        }
    }
    if (ch->signal_pending != NULL) {
        ssh_channel_request_send_signal(ch->up, ch->signal_pending);
        free(ch->signal_pending);
        ch->signal_pending = NULL;
    }
    if (down_closed) {
        /* the engineer went away: nothing more can be delivered */
        ch->state = CHAN_CLOSING;
        return;
    }
    /* an EOF that came before the last of the data was read: now it shows (no callback says so) */
    if (ssh_channel_is_eof(ch->up)) {
        ch->rx_up[0] = ch->rx_up[1] = 1;
    }
    if (ssh_channel_is_eof(ch->down)) {
        ch->rx_down = 1;
    }
    in_eof = ch->eof_up_sent ? 1
                             : chan_pump_dir(ch, ch->down, 0, &ch->rx_down, ch->up, 0, &ch->to_up,
                                             0, RELAY_DIR_IN, progress);
    out_eof = chan_pump_dir(ch, ch->up, 0, &ch->rx_up[0], ch->down, 0, &ch->to_down[0], 1,
                            RELAY_DIR_OUT, progress);
    err_eof = chan_pump_dir(ch, ch->up, 1, &ch->rx_up[1], ch->down, ch->has_pty ? 0 : 1,
                            &ch->to_down[ch->has_pty ? 0 : 1], ch->has_pty ? 1 : 2,
                            RELAY_DIR_OUT, progress);
    if (in_eof < 0 || out_eof < 0 || err_eof < 0) {
        ch->state = CHAN_CLOSING;
        return;
    }
    if (in_eof == 1 && !ch->eof_up_sent && rbuf_used(&ch->to_up) == 0) {
        ssh_channel_send_eof(ch->up);
        ch->eof_up_sent = 1;
        *progress = 1;
    }
    if (out_eof == 1 && err_eof == 1 && rbuf_used(&ch->to_down[0]) == 0 &&
        rbuf_used(&ch->to_down[1]) == 0) {
        /* the target has said all it will say */
        if (ch->exit_status >= 0 || ch->exit_signal != NULL || ssh_channel_is_closed(ch->up)) {
            ch->state = CHAN_CLOSING;
            *progress = 1;
        } else if (!ch->eof_down_sent) {
            ssh_channel_send_eof(ch->down);
            ch->eof_down_sent = 1;
            *progress = 1;
        }
    }
}

/*
 * `connect TARGET` in the interactive shell: this pty channel becomes a relay
 * to the target, authorised afresh by chan_start_target as any other channel.
 */
static void chan_switch_to_target(struct chan *ch)
{
    struct relay_hook *h = &ch->conn->hook;

    snprintf(ch->target, sizeof(ch->target), "%s", ch->sh.connect_target);
    snprintf(ch->login, sizeof(ch->login), "%s", ch->sh.connect_login);
    ch->sh.connect_target[0] = '\0';
    shell_term_free(ch->term_ed);
    ch->term_ed = NULL;
    if (ch->hook_open && h->close != NULL) {
        struct timespec ts;
        char sha[REC_HEX_LEN + 1], mac[REC_HEX_LEN + 1];

        chan_now(&ts);
        h->close(h->ctx, ch->id, 0, NULL, &ts, sha, mac);
    }
    ch->hook_open = 0;
    ch->kind = CHAN_KIND_SHELL;
    ch->state = CHAN_START;
}

/* Drives a running job (replay, watch, export) while the engineer keeps up. */
static void chan_job_run(struct chan *ch, int *progress)
{
    struct shell_job *j = ch->sh.job;
    struct conn *c = ch->conn;
    long long now_ms = chan_now_ms(), next = now_ms + 200;
    size_t before = rbuf_used(&ch->to_down[0]) + rbuf_used(&ch->to_down[1]);
    int r;

    if (before > SHELL_JOB_CHUNK) {
        return; /* the engineer has not taken the last chunk yet: wait for window */
    }
    if (now_ms < ch->job_due_ms) {
        if (ch->job_due_ms < c->next_due_ms) {
            c->next_due_ms = ch->job_due_ms;
        }
        return;
    }
    r = j->step(j, &ch->sh, now_ms, &next);
    if (rbuf_used(&ch->to_down[0]) + rbuf_used(&ch->to_down[1]) != before) {
        *progress = 1;
    }
    if (r == 1) {
        ch->job_due_ms = next;
        if (next < c->next_due_ms) {
            c->next_due_ms = next;
        }
        return;
    }
    j->free(j);
    ch->sh.job = NULL;
    ch->job_due_ms = 0;
    ch->exit_status = r == 0 ? 0 : r == -2 ? 2 : 1;
    *progress = 1;
    if (ch->kind == CHAN_KIND_EXEC || ch->term_ed == NULL) {
        ch->state = CHAN_CLOSING;
    } else {
        shell_term_resume(ch->term_ed);
    }
}

static void chan_pump_shell(struct chan *ch, int *progress)
{
    char buf[4096];
    int n;

    if (chan_flush(ch->down, 0, &ch->to_down[0], 0, progress) != 0 ||
        chan_flush(ch->down, 1, &ch->to_down[1], 0, progress) != 0) {
        ch->state = CHAN_CLOSING;
        return;
    }
    if (ch->sh.job != NULL) {
        chan_job_run(ch, progress);
        if (ch->state != CHAN_OPEN) {
            return;
        }
    }
    /* Output is small, but do not let a client that never reads pile it up. */
    if (rbuf_used(&ch->to_down[0]) + rbuf_used(&ch->to_down[1]) > 256 * 1024) {
        return;
    }
    if (ch->input_eof) {
        if (ssh_channel_is_closed(ch->down)) {
            ch->state = CHAN_CLOSING;
        }
        return;
    }
    n = ssh_channel_read_nonblocking(ch->down, buf, sizeof(buf), 0);
    if (n == SSH_EOF && ch->sh.job != NULL && !ssh_channel_is_closed(ch->down)) {
        /* `ssh gw export 7 < /dev/null`: no more input, but the job goes on */
        ch->input_eof = 1;
        return;
    }
    if (n == SSH_EOF || (n < 0) || ssh_channel_is_closed(ch->down)) {
        if (ch->exit_status < 0) {
            ch->exit_status = 0;
        }
        ch->state = CHAN_CLOSING;
        return;
    }
    if (n == 0) {
        return;
    }
    *progress = 1;
    chan_hook_data(ch, RELAY_DIR_IN, 0, buf, (size_t)n);
    if (ch->sh.job != NULL) {
        if (ch->sh.job->input != NULL) {
            ch->sh.job->input(ch->sh.job, &ch->sh, buf, (size_t)n);
        }
        return;
    }
    if (ch->term_ed != NULL) {
        if (shell_term_input(ch->term_ed, buf, (size_t)n) != 0 || ch->sh.want_exit) {
            ch->exit_status = 0;
            ch->state = CHAN_CLOSING;
        } else if (ch->sh.connect_target[0] != '\0') {
            chan_switch_to_target(ch);
        }
        return;
    }
    /* no pty: one command per line, no echo, no prompt */
    for (int i = 0; i < n; i++) {
        if (buf[i] != '\n') {
            if (rbuf_used(&ch->line) >= SHELL_LINE_MAX + 1) {
                continue; /* the parser refuses it as too long */
            }
            rbuf_append(&ch->line, &buf[i], 1);
            continue;
        }
        size_t len = rbuf_used(&ch->line);
        const char *line = len > 0 ? ch->line.data + ch->line.off : "";

        /* a client that sends CRLF means the same line */
        if (len > 0 && line[len - 1] == '\r') {
            len--;
        }
        ch->exit_status = shell_run_line(&ch->sh, line, len);
        rbuf_consume(&ch->line, rbuf_used(&ch->line));
        if (ch->sh.want_exit) {
            ch->state = CHAN_CLOSING;
            return;
        }
    }
}

/*
 * Flush what is queued, then exit status, EOF and close, in that order.
 *
 * A client may close its side first, once it has sent and received EOF:
 * OpenSSH's connection-sharing master does so for every session it carries,
 * and then still takes the exit status that sshd sends before its own close.
 * So when the engineer's client closed first on a connection that is still
 * up, the target's exit status (or signal) is waited for, at most
 * CONN_CLOSE_GRACE_S, and passed on before our close -- else that client
 * reports exit 255 for a command that succeeded.
 */
static void chan_finish(struct chan *ch, int *progress)
{
    int down_open = !ssh_channel_is_closed(ch->down);
    int down_hears = down_open || ssh_is_connected(ch->conn->down);
    int status_known;
    struct relay_hook *h = &ch->conn->hook;
    char sha[REC_HEX_LEN + 1], mac[REC_HEX_LEN + 1];

    if (ch->closing_since == 0) {
        ch->closing_since = chan_now_ms();
    }
    if (ch->up != NULL && !ssh_channel_is_closed(ch->up) && ch->exit_status < 0 &&
        ch->exit_signal == NULL) {
        /* the engineer's side is ending first: nothing more goes to the target */
        ssh_channel_close(ch->up);
    }
    status_known = ch->exit_status >= 0 || ch->exit_signal != NULL;
    if (!down_open && down_hears && ch->up != NULL && !ch->up_closed && !status_known &&
        chan_now_ms() - ch->closing_since < CONN_CLOSE_GRACE_S * 1000LL) {
        /* the engineer's client closed first: the target's status is on its way */
        if (ch->closing_since + CONN_CLOSE_GRACE_S * 1000LL < ch->conn->next_due_ms) {
            ch->conn->next_due_ms = ch->closing_since + CONN_CLOSE_GRACE_S * 1000LL;
        }
        return;
    }
    if (down_open) {
        if (chan_flush(ch->down, 0, &ch->to_down[0], 0, progress) != 0 ||
            chan_flush(ch->down, 1, &ch->to_down[1], 0, progress) != 0) {
            down_open = 0;
        } else if ((rbuf_used(&ch->to_down[0]) > 0 || rbuf_used(&ch->to_down[1]) > 0) &&
                   chan_now_ms() - ch->closing_since < CONN_CLOSE_GRACE_S * 1000LL) {
            /* wait for window, but not for ever: a session must end on time */
            if (ch->closing_since + CONN_CLOSE_GRACE_S * 1000LL < ch->conn->next_due_ms) {
                ch->conn->next_due_ms = ch->closing_since + CONN_CLOSE_GRACE_S * 1000LL;
            }
            return;
        }
    }
    if ((down_open || (down_hears && status_known)) && !ch->exit_sent) {
        if (ch->exit_signal != NULL) {
            ssh_channel_request_send_exit_signal(ch->down, ch->exit_signal, ch->exit_core, "", "");
        } else {
            ssh_channel_request_send_exit_status(ch->down, ch->exit_status >= 0 ? ch->exit_status
                                                                                 : 255);
        }
        ch->exit_sent = 1;
    }
    if (down_open && !ch->eof_down_sent) {
        ssh_channel_send_eof(ch->down);
        ch->eof_down_sent = 1;
    }
    if (down_open) {
        ssh_channel_close(ch->down);
    }
    if (ch->up != NULL && !ssh_channel_is_closed(ch->up)) {
        ssh_channel_close(ch->up);
    }
    sha[0] = mac[0] = '\0';
    if (ch->hook_open && h->close != NULL) {
        struct timespec ts;

        chan_now(&ts);
        h->close(h->ctx, ch->id, ch->exit_status, ch->exit_signal, &ts, sha, mac);
        ch->hook_open = 0;
    }
    if (ch->session_id[0] != '\0') {
        access_session_end(ch->conn->store, ch->session_id, ch->conn->user,
                           (long long)time(NULL), ch->exit_status, sha[0] ? sha : NULL,
                           mac[0] ? mac : NULL);
        log_msg(LOG_LVL_INFO, "session.end", "user=%s target=%s channel=%u exit=%d%s%s session=%s",
                ch->conn->user, ch->target, ch->id, ch->exit_status,
                ch->exit_signal ? " signal=" : "", ch->exit_signal ? ch->exit_signal : "",
                ch->session_id);
        ch->session_id[0] = '\0';
    }
    ch->state = CHAN_DONE;
    ch->conn->trim_due = 1;
    *progress = 1;
}

static void chan_free(struct chan *ch)
{
    if (ch == NULL) {
        return;
    }
    if (ch->down != NULL) {
        ssh_remove_channel_callbacks(ch->down, &ch->down_cb);
        ssh_channel_free(ch->down);
    }
    if (ch->up != NULL) {
        ssh_remove_channel_callbacks(ch->up, &ch->up_cb);
        ssh_channel_free(ch->up);
    }
    for (int i = 0; i < ch->nenv; i++) {
        free(ch->env_name[i]);
        free(ch->env_value[i]);
    }
    if (ch->sh.job != NULL) {
        ch->sh.job->free(ch->sh.job);
    }
    shell_term_free(ch->term_ed);
    rbuf_free(&ch->to_up);
    rbuf_free(&ch->to_down[0]);
    rbuf_free(&ch->to_down[1]);
    rbuf_free(&ch->line);
    free(ch->signal_pending);
    free(ch->exit_signal);
    free(ch->command);
    free(ch);
}

void chan_run_all(struct conn *c, int *progress)
{
    for (int i = 0; i < CONN_CHANNELS_MAX; i++) {
        struct chan *ch = c->chans[i];

        if (ch == NULL) {
            continue;
        }
        if (ch->state == CHAN_START) {
            if (ch->target[0] != '\0') {
                chan_start_target(ch);
            } else {
                chan_start_shell(ch);
            }
            *progress = 1;
        }
        if (ch->state == CHAN_OPEN) {
            if (ch->up != NULL) {
                chan_pump_target(ch, progress);
            } else {
                chan_pump_shell(ch, progress);
            }
        }
        if (ch->state == CHAN_NEW && ssh_channel_is_closed(ch->down)) {
            ch->state = CHAN_DONE;
        }
        if (ch->state == CHAN_CLOSING) {
            chan_finish(ch, progress);
        }
        if (ch->state == CHAN_DONE) {
            chan_free(ch);
            c->chans[i] = NULL;
        }
    }
}

void chan_trim(struct conn *c)
{
    for (int i = 0; i < CONN_CHANNELS_MAX; i++) {
        struct chan *ch = c->chans[i];
        struct rbuf *qs[3];

        if (ch == NULL) {
            continue;
        }
        qs[0] = &ch->to_up;
        qs[1] = &ch->to_down[0];
        qs[2] = &ch->to_down[1];
        for (int k = 0; k < 3; k++) {
            /* a queue sized for a stream's reads, empty now: gone until the next one */
            if (rbuf_used(qs[k]) == 0 && qs[k]->cap > 64 * 1024) {
                rbuf_free(qs[k]);
            }
        }
    }
    readahead_trim();
    if (c->hook.trim != NULL) {
        c->hook.trim(c->hook.ctx);
    }
}

void chan_set_policy(struct conn *c)
{
    for (int i = 0; i < CONN_CHANNELS_MAX; i++) {
        if (c->chans[i] != NULL) {
            c->chans[i]->sh.policy = c->policy;
        }
    }
}

int chan_count_live(const struct conn *c)
{
    int n = 0;

    for (int i = 0; i < CONN_CHANNELS_MAX; i++) {
        n += c->chans[i] != NULL;
    }
    return n;
}

void chan_free_all(struct conn *c)
{
    for (int i = 0; i < CONN_CHANNELS_MAX; i++) {
        if (c->chans[i] != NULL && c->chans[i]->hook_open) {
            int progress = 0;

            chan_finish(c->chans[i], &progress);
        }
        chan_free(c->chans[i]);
        c->chans[i] = NULL;
    }
}

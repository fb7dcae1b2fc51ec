/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Wake-ups: how a change to what live sessions may do reaches the session
 * children that carry them, so that no child ever polls the store on a timer.
 *
 *   any process of the daemon        the listener                 session children
 *   wake_send(WAKE_GRANT, "12") --> pipe --> wake_dispatch: which  --> SIGUSR1 / SIGUSR2
 *                                            live sessions, which       (a signalfd in
 *                                            of my children?             their event loop)
 *
 * The pipe is made by the listener before it forks anything, so every process
 * forked from it (session children, the web console, ...) inherits the write
 * end; the listener writes to it too (SIGHUP, a notification from the
 * store).  Each message is one short line, written with one write() (atomic
 * for a pipe below PIPE_BUF).  The listener reads every line pending, merges
 * them, asks the store once which live sessions they concern, and signals
 * only its own children that serve one of them: SIGUSR1 means "re-check your
 * grants and termination requests", SIGUSR2 "the policy was reloaded: load it
 * and re-check".  When the store cannot be asked, or too many things changed
 * at once, every child is woken and checks for itself (always safe: the
 * check is what a child would do on a timer).
 *
 * A session child blocks SIGUSR1, SIGUSR2, SIGTERM and SIGCHLD and reads them
 * from a signalfd (wake_child_fd), so a wake-up is never lost between a
 * check and a sleep, and one sent before the child was ready waits for it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "broker.h"

#define WAKE_LINE_MAX 96 /* "grant 123", "session ID", "user NAME", "policy", "all" */
#define WAKE_IDS_MAX 64  /* distinct things changed in one batch; more: wake everyone */

static int wake_rd = -1, wake_wr = -1;

static const char *const wake_names[] = {"all", "session", "grant", "user", "policy"};

int wake_init(char *err, size_t errlen)
{
    int fds[2];

    if (wake_rd >= 0) {
        return 0;
    }
    /* CLOEXEC: forked processes keep the write end, programs they exec do not */
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
        db_errf(err, errlen, "wake-up pipe: %s", strerror(errno));
        return DB_ERR_IO;
    }
    wake_rd = fds[0];
    wake_wr = fds[1];
    return 0;
}

int wake_fd(void)
{
    return wake_rd;
}

void wake_forked(void)
{
    if (wake_rd >= 0) {
        close(wake_rd);
        wake_rd = -1;
    }
}

int wake_send(enum wake_kind kind, const char *id)
{
    char line[WAKE_LINE_MAX];
    int n;

    if (wake_wr < 0 || (unsigned)kind >= sizeof(wake_names) / sizeof(wake_names[0])) {
        return DB_ERR_UNAVAIL;
    }
    if (kind == WAKE_SESSION || kind == WAKE_GRANT || kind == WAKE_USER) {
        if (id == NULL || id[0] == '\0' || strlen(id) > STORE_NAME_MAX || strchr(id, '\n') ||
            strchr(id, ' ')) {
            kind = WAKE_ALL; /* still a wake-up: whatever it was, everyone re-checks */
            id = NULL;
        }
    } else {
        id = NULL;
    }
    n = snprintf(line, sizeof(line), "%s%s%s\n", wake_names[kind], id ? " " : "", id ? id : "");
    for (int tries = 0; tries < 20; tries++) {
        ssize_t w = write(wake_wr, line, (size_t)n);
        struct pollfd pf = {wake_wr, POLLOUT, 0};

        if (w == n) {
            return 0;
        }
        if (w < 0 && errno != EAGAIN && errno != EINTR) {
            break; /* EPIPE: the listener is gone, and with it the children it would wake */
        }
        /* full (thousands of wake-ups unread): the listener is busy; wait a little */
        poll(&pf, 1, 50);
    }
    log_msg(LOG_LVL_ERROR, "wake.lost", "could not tell the listener: %s %s", wake_names[kind],
            id ? id : "");
    return DB_ERR_IO;
}

/* ---- the listener: reading, merging, finding the children concerned ---- */

struct wake_batch {
    int all, policy;
    size_t n;
    enum wake_kind kind[WAKE_IDS_MAX];
    char id[WAKE_IDS_MAX][STORE_NAME_MAX + 1];
};

static void wake_batch_add(struct wake_batch *b, const char *line, size_t len)
{
    for (size_t k = 0; k < sizeof(wake_names) / sizeof(wake_names[0]); k++) {
        size_t nl = strlen(wake_names[k]);
        const char *arg;
        size_t alen;

        if (len < nl || memcmp(line, wake_names[k], nl) != 0 || (len > nl && line[nl] != ' ')) {
            continue;
        }
        if (k == WAKE_ALL) {
            b->all = 1;
            return;
        }
        if (k == WAKE_POLICY) {
            b->policy = 1;
            return;
        }
        arg = line + nl + 1;
        alen = len > nl ? len - nl - 1 : 0;
        if (alen == 0 || alen > STORE_NAME_MAX || b->n == WAKE_IDS_MAX) {
            b->all = 1;
            return;
        }
        for (size_t i = 0; i < b->n; i++) {
            if (b->kind[i] == (enum wake_kind)k && strlen(b->id[i]) == alen &&
                memcmp(b->id[i], arg, alen) == 0) {
                return;
            }
        }
        b->kind[b->n] = (enum wake_kind)k;
        memcpy(b->id[b->n], arg, alen);
        b->id[b->n][alen] = '\0';
        b->n++;
        return;
    }
    b->all = 1; /* not a line we know: be safe */
}

/* Reads every pending line into b. */
static void wake_read(struct wake_batch *b)
{
    char buf[4096], part[WAKE_LINE_MAX];
    size_t plen = 0;
    ssize_t n;

    while ((n = read(wake_rd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR)) {
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == '\n') {
                wake_batch_add(b, part, plen);
                plen = 0;
            } else if (plen < sizeof(part)) {
                part[plen++] = buf[i];
            }
        }
    }
    if (plen > 0) {
        b->all = 1; /* whole lines only are ever written; a piece means confusion */
    }
}

static int wake_concerns(const struct wake_batch *b, const struct store_session *s)
{
    char g[32];

    snprintf(g, sizeof(g), "%lld", s->grant_id);
    for (size_t i = 0; i < b->n; i++) {
        if ((b->kind[i] == WAKE_SESSION && strcmp(b->id[i], s->id) == 0) ||
            (b->kind[i] == WAKE_USER && strcmp(b->id[i], s->user) == 0) ||
            (b->kind[i] == WAKE_GRANT && s->grant_id != 0 && strcmp(b->id[i], g) == 0)) {
            return 1;
        }
    }
    return 0;
}

static int wake_is_kid(const pid_t *kids, size_t nkids, long long pid)
{
    for (size_t i = 0; i < nkids; i++) {
        if ((long long)kids[i] == pid) {
            return 1;
        }
    }
    return 0;
}

void wake_dispatch(const struct config *cfg, const pid_t *kids, size_t nkids)
{
    struct wake_batch b;
    struct store *st = NULL;
    struct store_session *v = NULL;
    size_t n = 0, woken = 0;
    char err[256] = "";

    memset(&b, 0, sizeof(b));
    wake_read(&b);
    if (b.policy) {
        for (size_t i = 0; i < nkids; i++) {
            kill(kids[i], SIGUSR2); /* a policy wake-up includes the re-check */
        }
        log_msg(LOG_LVL_INFO, "wake.policy", "%zu session process(es) told to reload the policy",
                nkids);
        return;
    }
    if (!b.all && b.n == 0) {
        return;
    }
    if (!b.all && (store_open_config(cfg, &st, err, sizeof(err)) != 0 ||
                   store_session_list(st, 1, 0, NULL, NULL, (size_t)INT_MAX, &v, &n) != 0)) {
        log_msg(LOG_LVL_WARN, "wake.store", "cannot tell which sessions changed (%s): waking all",
                err[0] ? err : "listing live sessions failed");
        b.all = 1;
    }
    for (size_t i = 0; i < nkids; i++) {
        int hit = b.all;

        for (size_t k = 0; !hit && k < n; k++) {
            hit = v[k].pid == (long long)kids[i] && wake_concerns(&b, &v[k]);
        }
        if (hit && kill(kids[i], SIGUSR1) == 0) {
            woken++;
        }
    }
    /* a session served by a process that is not ours (another gateway) is not ours to wake */
    for (size_t k = 0; !b.all && k < n; k++) {
        if (wake_concerns(&b, &v[k]) && !wake_is_kid(kids, nkids, v[k].pid)) {
            log_msg(LOG_LVL_DEBUG, "wake.elsewhere", "session %s is served by pid %lld", v[k].id,
                    v[k].pid);
        }
    }
    log_msg(LOG_LVL_DEBUG, "wake.sent", "%zu session process(es) woken%s", woken,
            b.all ? " (all)" : "");
    store_sessions_free(v, n);
    store_close(st);
}

/* ---- the session child ---- */

static void wake_child_set(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGUSR1);
    sigaddset(set, SIGUSR2);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGCHLD);
}

int wake_child_fd(void)
{
    sigset_t set;

    wake_child_set(&set);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0) {
        return -1;
    }
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

unsigned wake_child_read(int fd)
{
    struct signalfd_siginfo si[8];
    unsigned got = 0;
    ssize_t n;

    while ((n = read(fd, si, sizeof(si))) > 0 || (n < 0 && errno == EINTR)) {
        for (ssize_t i = 0; i < n / (ssize_t)sizeof(si[0]); i++) {
            switch (si[i].ssi_signo) {
            case SIGUSR1:
                got |= WAKE_CHILD_CHECK;
                break;
            case SIGUSR2:
                got |= WAKE_CHILD_POLICY | WAKE_CHILD_CHECK;
                break;
            case SIGTERM:
                got |= WAKE_CHILD_TERM;
                break;
            case SIGCHLD:
                got |= WAKE_CHILD_REAP;
                break;
            default:
                break;
            }
        }
    }
    return got;
}

void wake_child_unblock(void)
{
    sigset_t set;

    wake_child_set(&set);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The web process: opens its own store handle and directory connection,
 * loads the TLS certificate and the static files, and serves with
 * libmicrohttpd from one loop of its own (epoll, no threads), so that
 * nothing here is shared between threads.
 *
 * Limits against floods and slow clients (a crash or overload here never
 * touches SSH, which is another process): at most WEB_CONN_MAX connections
 * and WEB_CONN_PER_IP per address, an idle timeout, a deadline for each
 * request's headers (WEB_HEADER_S from the connection's start or the end
 * of its previous request) and then one for its body (WEB_BODY_S from the
 * end of its headers until the request is whole): libmicrohttpd restarts
 * its idle timeout on every byte, so a client sending one byte every few
 * seconds, of its headers or of a body it announced as long, would
 * otherwise hold its slot for ever.
 */
#include "web.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#define WEB_CONN_MAX 256
#define WEB_CONN_PER_IP 64
#define WEB_IDLE_TIMEOUT_S 30
#define WEB_HEADER_S 10
#define WEB_BODY_S 10
#define WEB_TICK_MS 100

/* An open connection, for the header and body deadlines (MHD_OPTION_NOTIFY_CONNECTION). */
struct web_conn {
    struct web_conn *next, *prev;
    int fd;
    long long waiting_since; /* 0 while a request is being handled */
    int in_body;             /* waiting_since is the end of the headers: the body is due */
    int cut;
};

static volatile sig_atomic_t web_got_term, web_got_hup;

static void web_on_signal(int sig)
{
    if (sig == SIGHUP) {
        web_got_hup = 1;
    } else {
        web_got_term = 1;
    }
}

long long web_now(void)
{
    return (long long)time(NULL);
}

long long web_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void web_notify(void *ctx, const char *event, struct json_t *obj)
{
    struct web_app *app = ctx;

    notify_send(app->cfg, event, obj);
}

/* A whole file into a NUL-terminated buffer (PEM for libmicrohttpd); caller frees. */
static char *web_read_file(const char *path, char *err, size_t errlen)
{
    struct stat st;
    char *buf = NULL;
    size_t got = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > 1024 * 1024) {
        db_errf(err, errlen, "%s: cannot read it: %s", path,
                fd < 0 ? strerror(errno)
                       : "not a "
                         "small file");
        goto fail;
    }
    if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
        goto fail;
    }
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

        if (n <= 0) {
            db_errf(err, errlen, "%s: short read", path);
            goto fail;
        }
        got += (size_t)n;
    }
    buf[got] = '\0';
    close(fd);
    return buf;
fail:
    if (fd >= 0) {
        close(fd);
    }
    free(buf);
    return NULL;
}

static void web_conn_notify(void *cls, struct MHD_Connection *connection, void **socket_context,
                            enum MHD_ConnectionNotificationCode toe)
{
    struct web_app *app = cls;
    struct web_conn *c = *socket_context;
    const union MHD_ConnectionInfo *ci = NULL;

    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        if ((c = calloc(1, sizeof(*c))) == NULL) {
            return;
        }
        ci = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
        c->fd = ci != NULL ? ci->connect_fd : -1;
        c->waiting_since = web_now_ms();
        c->next = app->conns;
        if (app->conns != NULL) {
            app->conns->prev = c;
        }
        app->conns = c;
        *socket_context = c;
        return;
    }
    if (c == NULL) {
        return;
    }
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        app->conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    free(c);
    *socket_context = NULL;
}

static struct web_conn *web_conn_of(struct MHD_Connection *connection)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

    return ci != NULL ? ci->socket_context : NULL;
}

/* Connections still sending the headers or the body of a request past its deadline are cut. */
static void web_conn_deadlines(struct web_app *app, long long now_ms)
{
    for (struct web_conn *c = app->conns; c != NULL; c = c->next) {
        if (c->waiting_since != 0 && !c->cut && c->fd >= 0 &&
            now_ms - c->waiting_since > (c->in_body ? WEB_BODY_S : WEB_HEADER_S) * 1000) {
            shutdown(c->fd, SHUT_RDWR);
            c->cut = 1;
        }
    }
}

static void web_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
                          enum MHD_RequestTerminationCode toe)
{
    struct web_req *r = *con_cls;
    struct web_conn *c = web_conn_of(connection);

    (void)cls;
    (void)toe;
    if (c != NULL) {
        c->waiting_since = web_now_ms(); /* the next request on this connection */
        c->in_body = 0;
    }
    if (r != NULL) {
        free(r->body);
        free(r);
        *con_cls = NULL;
    }
}

static enum MHD_Result web_access(void *cls, struct MHD_Connection *connection, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct web_app *app = cls;
    struct web_req *r = *con_cls;

    (void)version;
    if (r == NULL) {
        struct web_conn *c = web_conn_of(connection);
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

        if (c != NULL) {
            c->waiting_since = web_now_ms(); /* the headers are in: now the body is due */
            c->in_body = 1;
        }
        if ((r = calloc(1, sizeof(*r))) == NULL) {
            return MHD_NO;
        }
        r->app = app;
        r->conn = connection;
        r->method = method;
        r->url = url;
        if (ci != NULL && ci->client_addr != NULL) {
            char host[INET6_ADDRSTRLEN + 8] = "?";
            const struct sockaddr *sa = ci->client_addr;

            if (sa->sa_family == AF_INET) {
                const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;

                inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
                snprintf(r->peer, sizeof(r->peer), "%s:%d", host, ntohs(s4->sin_port));
            } else if (sa->sa_family == AF_INET6) {
                const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;

                inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
                snprintf(r->peer, sizeof(r->peer), "[%s]:%d", host, ntohs(s6->sin6_port));
            }
        }
        *con_cls = r;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (!r->body_too_big && r->bodylen + *upload_data_size <= WEB_BODY_MAX) {
            char *nb = realloc(r->body, r->bodylen + *upload_data_size + 1);

            if (nb == NULL) {
                return MHD_NO;
            }
            r->body = nb;
            memcpy(r->body + r->bodylen, upload_data, *upload_data_size);
            r->bodylen += *upload_data_size;
            r->body[r->bodylen] = '\0';
        } else {
            r->body_too_big = 1;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->started) {
        return MHD_YES;
    }
    r->started = 1;
    {
        struct web_conn *c = web_conn_of(connection);

        if (c != NULL) {
            c->waiting_since = 0; /* the request is whole: its handler runs (a live view long) */
            c->in_body = 0;
        }
    }
    return (enum MHD_Result)web_dispatch(r);
}

static void web_reload(struct web_app *app)
{
    struct policy *np = NULL;
    char err[4096] = "";

    if (policy_load_file(app->cfg->policy_path, &np, err, sizeof(err)) != 0) {
        db_oneline(err);
        log_msg(LOG_LVL_ERROR, "web.policy_reload_failed", "keeping the previous policy: %s", err);
        return;
    }
    policy_free(app->policy_owned);
    app->policy_owned = np;
    app->policy = np;
    app->access.policy = np;
    log_msg(LOG_LVL_INFO, "web.policy_reload", "loaded %s", app->cfg->policy_path);
}

static void web_signals(void)
{
    struct sigaction sa;
    sigset_t none;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = web_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = SIG_DFL;
    sigaction(SIGCHLD, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    /* wake-ups are for session children; this process only sends them */
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

static struct MHD_Daemon *web_daemon(struct web_app *app, const char *cert, const char *key, int fd)
{
    return MHD_start_daemon(
        MHD_USE_EPOLL | MHD_USE_TLS | MHD_ALLOW_SUSPEND_RESUME, 0, NULL, NULL, web_access, app,
        MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd, MHD_OPTION_HTTPS_MEM_CERT, cert,
        MHD_OPTION_HTTPS_MEM_KEY, key, MHD_OPTION_HTTPS_PRIORITIES,
        "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2", MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)WEB_CONN_MAX, MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)WEB_CONN_PER_IP,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)WEB_IDLE_TIMEOUT_S,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024), MHD_OPTION_NOTIFY_COMPLETED,
        web_completed, app, MHD_OPTION_NOTIFY_CONNECTION, web_conn_notify, app, MHD_OPTION_END);
}

int web_run(const struct config *cfg, const struct policy *policy, const int *fds, size_t nfds)
{
    static struct web_app app_storage;
    struct web_app *app = &app_storage;
    struct MHD_Daemon *extra[WEB_LISTEN_MAX] = {NULL};
    char err[1024] = "", certp[PATH_MAX], keyp[PATH_MAX];
    char *cert = NULL, *key = NULL;
    int rc = 1;

    /* as a session child: never dumpable, and nothing it could exec gains privileges */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
    log_set_context("web", "-");
    web_signals();
    memset(app, 0, sizeof(*app));
    app->cfg = cfg;
    app->policy = policy;
    access_audit_set_via("web");
    if (web_tls_ensure(cfg, certp, sizeof(certp), keyp, sizeof(keyp), err, sizeof(err)) != 0 ||
        (cert = web_read_file(certp, err, sizeof(err))) == NULL ||
        (key = web_read_file(keyp, err, sizeof(err))) == NULL) {
        log_msg(LOG_LVL_ERROR, "web.tls", "%s", err);
        goto out;
    }
    if (store_open_config(cfg, &app->store, err, sizeof(err)) != 0) {
        log_msg(LOG_LVL_ERROR, "web.store", "%s", err);
        goto out;
    }
    if (dir_new(cfg, &app->dir) != 0) {
        log_msg(LOG_LVL_ERROR, "web.ldap", "cannot set up the directory client");
        goto out;
    }
    if (web_files_load(app, err, sizeof(err)) != 0) {
        log_msg(LOG_LVL_ERROR, "web.files", "%s", err);
        goto out;
    }
    app->notify.fn = web_notify;
    app->notify.ctx = app;
    app->access.store = app->store;
    app->access.policy = app->policy;
    app->access.notify = &app->notify;
    /* One daemon per listening address; the first one's loop drives the others too. */
    for (size_t i = 0; i < nfds; i++) {
        struct MHD_Daemon *d = web_daemon(app, cert, key, fds[i]);

        if (d == NULL) {
            log_msg(LOG_LVL_ERROR, "web.start", "libmicrohttpd refused to start on fd %d", fds[i]);
            goto out;
        }
        if (i == 0) {
            app->daemon = d;
        } else {
            extra[i] = d;
        }
    }
    log_msg(LOG_LVL_INFO, "web.start", "web console on %s (%zu addresses)", cfg->web.public_url,
            nfds);
    while (!web_got_term && app->daemon != NULL) {
        struct pollfd pf[WEB_LISTEN_MAX];
        size_t npf = 0;
        long long now_ms;

        for (size_t i = 0; i < nfds; i++) {
            struct MHD_Daemon *d = i == 0 ? app->daemon : extra[i];
            const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_EPOLL_FD);
            MHD_UNSIGNED_LONG_LONG to = 0;

            pf[npf].fd = di != NULL ? di->epoll_fd : -1;
            pf[npf].events = POLLIN;
            pf[npf++].revents = 0;
            if (MHD_get_timeout(d, &to) == MHD_YES && to == 0) {
                pf[0].revents = POLLIN; /* work pending (TLS buffers): no sleep */
            }
        }
        if (pf[0].revents == 0) {
            (void)poll(pf, npf, WEB_TICK_MS);
        }
        for (size_t i = 0; i < nfds; i++) {
            MHD_run(i == 0 ? app->daemon : extra[i]);
        }
        now_ms = web_now_ms();
        web_live_tick(app, now_ms);
        web_conn_deadlines(app, now_ms);
        web_sess_expire(app, web_now());
        notify_reap();
        if (web_got_hup) {
            web_got_hup = 0;
            web_reload(app);
        }
    }
    rc = 0;
out:
    web_live_stop_all(app);
    for (size_t i = 1; i < WEB_LISTEN_MAX; i++) {
        if (extra[i] != NULL) {
            MHD_stop_daemon(extra[i]);
        }
    }
    if (app->daemon != NULL) {
        MHD_stop_daemon(app->daemon);
    }
    web_sess_free_all(app);
    web_files_free(app);
    dir_free(app->dir);
    store_close(app->store);
    policy_free(app->policy_owned);
    if (key != NULL) {
        db_wipe(key, strlen(key));
    }
    free(key);
    free(cert);
    log_msg(LOG_LVL_INFO, "web.stop", "web console stopped");
    return rc;
}

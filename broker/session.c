/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One engineer connection, in its own forked child: key exchange,
 * authentication against the directory, and the event loop that drives
 * every channel (channel.c) and the target leg (upstream.c).
 *
 * Authentication is bound to the first username the client sends (SSH lets
 * it change between attempts; we refuse that).  The username's grammar is
 * checked before the directory is asked.  Public keys authenticate only after
 * libssh has verified the signature (SSH_PUBLICKEY_STATE_VALID) and only when
 * they match one of the user's keys in the directory.  A directory that cannot
 * be asked refuses, with a banner saying so, and never allows.
 */
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "conn.h"

/* The longest the loop sleeps before authentication (login_grace, the banner's moment). */
#define SESSION_PREAUTH_MS 500
/* Refused requests audited one by one per connection; the rest are counted. */
#define SESSION_REFUSALS_AUDITED 16

static volatile sig_atomic_t session_stop;

static void session_on_term(int sig)
{
    (void)sig;
    session_stop = 1;
}

void session_banner(struct conn *c, const char *msg)
{
    ssh_string s = ssh_string_from_char(msg);

    if (s != NULL) {
        ssh_send_issue_banner(c->down, s);
        ssh_string_free(s);
    }
}

/* Tell the listener we are past authentication, so we stop counting as a startup. */
static void session_report_auth(struct conn *c)
{
    if (c->status_fd >= 0) {
        char msg[80];
        ssize_t n;
        int len = snprintf(msg, sizeof(msg), "A%s\n", c->user);

        /* one write: the listener hands this child's signer socket over for that user */
        do {
            n = write(c->status_fd, msg, (size_t)len);
        } while (n < 0 && errno == EINTR);
        close(c->status_fd);
        c->status_fd = -1;
    }
}

void session_auth_failed(struct conn *c, const char *method, const char *why)
{
    c->auth_failures++;
    if (c->status_fd >= 0) {
        ssize_t n;

        do {
            n = write(c->status_fd, "F", 1);
        } while (n < 0 && errno == EINTR);
    }
    if (c->fail_delay_ms > 0) {
        /* this connection only: its source has been failing a lot */
        struct timespec ts = {c->fail_delay_ms / 1000, (c->fail_delay_ms % 1000) * 1000000L};

        nanosleep(&ts, NULL);
    }
    /* a refused code was audited by the second factor's own check (why is NULL then) */
    if (c->store != NULL && why != NULL) {
        access_audit_auth(c->store, (long long)time(NULL), c->user[0] ? c->user : "-", NULL,
                          c->peer, method, 0, why);
    }
    log_msg(LOG_LVL_WARN, "auth.fail", "login=%s method=%s reason=%s failures=%d", c->login, method,
            why != NULL ? why : "verification code refused", c->auth_failures);
    if (c->auth_failures >= c->cfg->limits.max_auth_tries) {
        session_banner(c, "drawbridge: too many authentication failures\r\n");
    }
}

/*
 * Binds the connection to its first username and checks the grammar.
 * Returns 0 when this username may be tried.
 */
static int session_bind_user(struct conn *c, const char *login)
{
    if (c->login[0] == '\0') {
        snprintf(c->login, sizeof(c->login), "%.150s", login);
        if (names_parse_login(login, c->user, c->target) != 0) {
            c->user[0] = '\0';
        }
    } else if (strcmp(c->login, login) != 0) {
        return DB_ERR_DENIED;
    }
    return c->user[0] != '\0' ? 0 : DB_ERR_INVALID;
}

/* Fetches the user from the directory once per connection. */
static int session_lookup(struct conn *c)
{
    char err[256] = "";
    int r;

    if (c->duser != NULL) {
        return 0;
    }
    if (c->dir == NULL && dir_new(c->cfg, &c->dir) != 0) {
        return DB_ERR_INTERNAL;
    }
    r = dir_lookup(c->dir, c->user, &c->duser, err, sizeof(err));
    if (r == DB_ERR_UNAVAIL || r == DB_ERR_TIMEOUT) {
        c->dir_down = 1;
        snprintf(c->dir_err, sizeof(c->dir_err), "%s", err);
        log_msg(LOG_LVL_ERROR, "ldap.unavailable", "user=%s %s", c->user, err);
    }
    return r;
}

static void session_dir_down(struct conn *c)
{
    char msg[320];

    snprintf(msg, sizeof(msg), "drawbridge: %s; try again later\r\n",
             c->dir_err[0] != '\0' ? c->dir_err : "directory unavailable");
    session_banner(c, msg);
}

int session_auth_done(struct conn *c, const char *method)
{
    /* no audit row, no session: the chain must hold every login */
    if (c->store == NULL || access_audit_auth(c->store, (long long)time(NULL), c->user,
                                              c->duser->dn, c->peer, method, 1, NULL) != 0) {
        log_msg(LOG_LVL_ERROR, "auth.refused", "user=%s the audit cannot be written", c->user);
        session_banner(c, "drawbridge: the audit store is unavailable; try again later\r\n");
        c->dir_down = 1;
        return SSH_AUTH_DENIED;
    }
    c->authenticated = 1;
    log_msg(LOG_LVL_INFO, "auth.ok", "user=%s target=%s method=%s", c->user,
            c->target[0] ? c->target : "-", method);
    session_report_auth(c);
    return SSH_AUTH_SUCCESS;
}

static int session_auth_password(ssh_session s, const char *login, const char *pw, void *ud)
{
    struct conn *c = ud;
    char err[256] = "";
    int r;

    (void)s;
    /* after the first factor only the code (keyboard-interactive) is taken */
    if (c->authenticated || c->mfa_first[0] != '\0' || c->dir_down ||
        c->auth_failures >= c->cfg->limits.max_auth_tries) {
        return SSH_AUTH_DENIED;
    }
    if (session_bind_user(c, login) != 0) {
        session_auth_failed(c, "password", "bad or changed username");
        return SSH_AUTH_DENIED;
    }
    r = session_lookup(c);
    if (r != 0) {
        if (c->dir_down) {
            session_dir_down(c);
        }
        session_auth_failed(c, "password", db_strerror(r));
        return SSH_AUTH_DENIED;
    }
    r = dir_check_password(c->dir, c->duser, pw, pw != NULL ? strlen(pw) : 0, err, sizeof(err));
    if (r == 0) {
        return session_mfa_first(c, "password");
    }
    if (r == DB_ERR_UNAVAIL || r == DB_ERR_TIMEOUT) {
        c->dir_down = 1;
        snprintf(c->dir_err, sizeof(c->dir_err), "%s", err);
        session_dir_down(c);
    }
    session_auth_failed(c, "password", err[0] != '\0' ? err : db_strerror(r));
    return SSH_AUTH_DENIED;
}

/* Does key match one of the user's directory keys? */
static int session_key_known(struct conn *c, ssh_key key)
{
    for (size_t i = 0; i < c->duser->nkeys; i++) {
        char type[64], *b64 = NULL, *sp = NULL, *copy = strdup(c->duser->keys[i]);
        ssh_key k = NULL;
        int match = 0;

        if (copy == NULL) {
            continue;
        }
        sp = strchr(copy, ' ');
        if (sp != NULL && (size_t)(sp - copy) < sizeof(type)) {
            memcpy(type, copy, (size_t)(sp - copy));
            type[sp - copy] = '\0';
            b64 = sp + 1;
            sp = strchr(b64, ' ');
            if (sp != NULL) {
                *sp = '\0';
            }
            if (ssh_pki_import_pubkey_base64(b64, ssh_key_type_from_name(type), &k) == SSH_OK &&
                ssh_key_cmp(k, key, SSH_KEY_CMP_PUBLIC) == 0) {
                match = 1;
            }
        }
        ssh_key_free(k);
        free(copy);
        if (match) {
            return 1;
        }
    }
    return 0;
}

static int session_auth_pubkey(ssh_session s, const char *login, struct ssh_key_struct *key,
                               char state, void *ud)
{
    struct conn *c = ud;
    int r;

    (void)s;
    if (c->authenticated || c->mfa_first[0] != '\0' || c->dir_down ||
        c->auth_failures >= c->cfg->limits.max_auth_tries) {
        return SSH_AUTH_DENIED;
    }
    if (session_bind_user(c, login) != 0) {
        session_auth_failed(c, "publickey", "bad or changed username");
        return SSH_AUTH_DENIED;
    }
    r = session_lookup(c);
    if (r != 0) {
        if (c->dir_down) {
            session_dir_down(c);
        }
        session_auth_failed(c, "publickey", db_strerror(r));
        return SSH_AUTH_DENIED;
    }
    if (!session_key_known(c, key)) {
        session_auth_failed(c, "publickey", "key not in directory");
        return SSH_AUTH_DENIED;
    }
    if (state == SSH_PUBLICKEY_STATE_NONE) {
        /* A probe: answering yes only sends PK_OK; no signature has been seen. */
        return SSH_AUTH_SUCCESS;
    }
    if (state != SSH_PUBLICKEY_STATE_VALID) {
        session_auth_failed(c, "publickey", "bad signature");
        return SSH_AUTH_DENIED;
    }
    return session_mfa_first(c, "publickey");
}

static int session_auth_none(ssh_session s, const char *login, void *ud)
{
    struct conn *c = ud;

    (void)s;
    /* "none" only asks which methods exist; it binds the username like any other. */
    if (!c->authenticated) {
        session_bind_user(c, login);
    }
    return SSH_AUTH_DENIED;
}

/* Logs and audits something the gateway refuses on an authenticated connection. */
void session_refused(struct conn *c, const char *what)
{
    log_msg(LOG_LVL_WARN, "request.refused", "user=%s %s is not allowed", c->user, what);
    /* each kind of refusal is audited; a flood of them adds one summary at the end */
    if (++c->refusals > SESSION_REFUSALS_AUDITED) {
        return;
    }
    if (c->authenticated && c->store != NULL) {
        json_t *d = json_pack("{ss ss}", "what", what, "peer", c->peer);

        access_audit_event(c->store, (long long)time(NULL), c->user, "forwarding.refused",
                           c->target[0] ? c->target : "gateway", d);
        json_decref(d);
    }
}

/*
 * Everything libssh does not route to a callback: other channel types (port
 * forwarding), global requests (tcpip-forward), agent and X11 requests,
 * keyboard-interactive.  All are refused (return 1: libssh sends the default
 * refusal) and logged, except keyboard-interactive after a first factor,
 * which asks for the verification code (session-mfa.c).
 */
static int session_message(ssh_session s, ssh_message m, void *ud)
{
    struct conn *c = ud;
    int type = ssh_message_type(m), sub = ssh_message_subtype(m);

    (void)s;
    switch (type) {
    case SSH_REQUEST_CHANNEL_OPEN:
        session_refused(c, sub == SSH_CHANNEL_DIRECT_TCPIP      ? "local or dynamic forwarding"
                           : sub == SSH_CHANNEL_FORWARDED_TCPIP ? "remote forwarding"
                           : sub == SSH_CHANNEL_X11             ? "X11 forwarding"
                           : sub == SSH_CHANNEL_AUTH_AGENT      ? "agent forwarding"
                                                                : "channel type");
        break;
    case SSH_REQUEST_GLOBAL:
        /* keepalive@openssh.com and friends are no attempt at anything: refuse quietly */
        if (sub == SSH_GLOBAL_REQUEST_TCPIP_FORWARD ||
            sub == SSH_GLOBAL_REQUEST_CANCEL_TCPIP_FORWARD) {
            session_refused(c, "remote forwarding");
        }
        break;
    case SSH_REQUEST_CHANNEL:
        if (sub == SSH_CHANNEL_REQUEST_X11) {
            session_refused(c, "X11 forwarding");
        } else if (sub == SSH_CHANNEL_REQUEST_UNKNOWN) {
            /* auth-agent-req@openssh.com arrives as an unknown request in 0.10 */
            session_refused(c, "agent forwarding or an unknown request");
        }
        break;
    case SSH_REQUEST_AUTH:
        if (sub == SSH_AUTH_METHOD_INTERACTIVE) {
            return session_mfa_kbdint(c, m); /* the verification code (session-mfa.c) */
        }
        if (sub == SSH_AUTH_METHOD_HOSTBASED || sub == SSH_AUTH_METHOD_GSSAPI_MIC) {
            ssh_message_auth_set_methods(m, c->mfa_first[0] != '\0'
                                                ? SSH_AUTH_METHOD_INTERACTIVE
                                                : SSH_AUTH_METHOD_PASSWORD |
                                                      SSH_AUTH_METHOD_PUBLICKEY);
        }
        break;
    default:
        break;
    }
    return 1;
}

static void session_setup_callbacks(struct conn *c)
{
    memset(&c->server_cb, 0, sizeof(c->server_cb));
    c->server_cb.userdata = c;
    c->server_cb.auth_password_function = session_auth_password;
    c->server_cb.auth_pubkey_function = session_auth_pubkey;
    c->server_cb.auth_none_function = session_auth_none;
    c->server_cb.channel_open_request_session_function = chan_open_cb;
    ssh_callbacks_init(&c->server_cb);
    ssh_set_server_callbacks(c->down, &c->server_cb);
    ssh_set_message_callback(c->down, session_message, c);
    ssh_set_auth_methods(c->down, SSH_AUTH_METHOD_PASSWORD | SSH_AUTH_METHOD_PUBLICKEY);
}

static void session_free(struct conn *c)
{
    chan_free_all(c);
    if (c->ev != NULL) {
        if (c->up != NULL) {
            ssh_event_remove_session(c->ev, c->up);
        }
        if (c->sig_fd >= 0) {
            ssh_event_remove_fd(c->ev, c->sig_fd);
        }
        ssh_event_remove_session(c->ev, c->down);
        ssh_event_free(c->ev);
    }
    if (c->sig_fd >= 0) {
        close(c->sig_fd);
    }
    policy_free(c->own_policy);
    if (c->up != NULL) {
        ssh_disconnect(c->up);
        ssh_free(c->up);
    }
    if (c->down != NULL) {
        ssh_disconnect(c->down);
        ssh_free(c->down);
    }
    dir_user_free(c->duser);
    dir_free(c->dir);
    store_close(c->store);
    if (c->status_fd >= 0) {
        close(c->status_fd);
    }
    if (c->signer_fd >= 0) {
        close(c->signer_fd);
    }
}

static long long session_ms(clockid_t clk)
{
    struct timespec ts;

    clock_gettime(clk, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long session_now_ms(void)
{
    return session_ms(CLOCK_MONOTONIC);
}

/*
 * How long the next poll may sleep: until a job step, a close deadline, the
 * recorder's next flush or the next grant warning or end is due; for ever
 * when nothing is (an idle session costs nothing).  Packets and wake-ups
 * (sig_fd) end the sleep at once.
 */
static int session_timeout(const struct conn *c)
{
    long long wait = LLONG_MAX, mono = session_now_ms();

    if (!c->authenticated) {
        return SESSION_PREAUTH_MS;
    }
    if (c->next_due_ms != LLONG_MAX) {
        wait = c->next_due_ms - mono;
    }
    /* the recorder's next flush, while it holds something back */
    if (c->next_tick_ms != LLONG_MAX && c->next_tick_ms - mono < wait) {
        wait = c->next_tick_ms - mono;
    }
    if (c->check_at != LLONG_MAX) {
        long long w = c->check_at * 1000 - session_ms(CLOCK_REALTIME);

        wait = w < wait ? w : wait;
    }
    if (wait == LLONG_MAX) {
        return -1;
    }
    return wait <= 0 ? 0 : wait > INT_MAX ? INT_MAX : (int)wait;
}

static int session_on_signal_fd(socket_t fd, int revents, void *userdata)
{
    struct conn *c = userdata;

    (void)revents;
    c->wake_bits |= wake_child_read(fd);
    return 0;
}

/*
 * The listener says the policy was reloaded: load it here too, use it for
 * everything from now on (new channels, the shell), and end what it no
 * longer allows.  A policy that does not load keeps the one in force.
 */
static void session_reload_policy(struct conn *c)
{
    struct policy *np = NULL;
    char err[1024] = "";

    if (policy_load_file(c->cfg->policy_path, &np, err, sizeof(err)) != 0) {
        char *nl = strchr(err, '\n');

        if (nl != NULL) {
            *nl = '\0';
        }
        log_msg(LOG_LVL_ERROR, "policy.reload_failed", "session keeps its policy: %s", err);
        return;
    }
    /*
     * Everything that keeps a pointer into the policy beyond one turn of the
     * loop is moved to the new one here (the connection, its access
     * context, its target, the shells of its channels), so the one this
     * process loaded before can go.  The listener's copy is not ours.
     */
    c->policy = np;
    c->access.policy = np;
    if (c->tgt != NULL) {
        snprintf(c->tgt_name, sizeof(c->tgt_name), "%s", c->tgt->name);
    }
    if (c->tgt_name[0] != '\0') {
        /* the same target in the new policy (NULL while gone: the check below ends its channels) */
        c->tgt = policy_target_find(np, c->tgt_name);
    }
    chan_set_policy(c);
    policy_free(c->own_policy);
    c->own_policy = np;
    chan_check_policy(c, (long long)time(NULL));
}

/* Acts on what came through sig_fd. */
static void session_take_wakeups(struct conn *c)
{
    unsigned bits = c->wake_bits;

    c->wake_bits = 0;
    if (bits & WAKE_CHILD_TERM) {
        session_stop = 1;
    }
    if (bits & WAKE_CHILD_REAP) {
        notify_reap();
    }
    if (!c->authenticated) {
        c->wake_bits = bits & (WAKE_CHILD_POLICY | WAKE_CHILD_CHECK); /* for later */
        return;
    }
    if (bits & WAKE_CHILD_POLICY) {
        session_reload_policy(c);
    }
    if (bits & WAKE_CHILD_CHECK) {
        c->check_at = 0;
    }
}

/* The loop: poll both legs, pump every channel, enforce deadlines. */
static int session_loop(struct conn *c)
{
    while (!session_stop) {
        int progress = 0, rc, timeout;

        timeout = session_timeout(c);
        if (timeout < 0 && c->trim_due) {
            /*
             * Going to sleep for as long as it takes, with channels set up or
             * torn down since the last time: the heap pages that key
             * exchanges, the directory and setup used and freed go back to
             * the system, so that thousands of idle sessions cost little.
             */
            c->trim_due = 0;
            chan_trim(c);
            store_release_memory(c->store);
            malloc_trim(0);
        }
        rc = ssh_event_dopoll(c->ev, timeout);
        if (rc == SSH_ERROR && !ssh_is_connected(c->down)) {
            break;
        }
        if ((ssh_get_status(c->down) & SSH_CLOSED_ERROR) &&
            strncmp(ssh_get_error(c->down), "Received SSH_MSG_DISCONNECT", 27) == 0) {
            break; /* the client said goodbye; libssh reports that as an error too */
        }
        if (ssh_get_status(c->down) & SSH_CLOSED_ERROR) {
            /* a protocol violation or a fatal error: libssh stopped serving; so do we */
            log_msg(LOG_LVL_WARN, "conn.error", "login=%s %s", c->login,
                    ssh_get_error(c->down));
            if (c->store != NULL && c->authenticated) {
                json_t *d = json_pack("{ss}", "error", ssh_get_error(c->down));

                access_audit_event(c->store, (long long)time(NULL), c->user, "conn.error",
                                   c->target[0] ? c->target : "gateway", d);
                json_decref(d);
            }
            break;
        }
        if (ssh_get_status(c->down) & SSH_CLOSED) {
            break; /* the engineer's client went away */
        }
        session_take_wakeups(c);
        if (session_stop) {
            break;
        }
        if (!c->authenticated) {
            if (c->dir_down || c->auth_failures >= c->cfg->limits.max_auth_tries) {
                /*
                 * The banner and the last refusal are queued: send them and go.
                 * Waiting for quiet rounds instead let a fast client try again
                 * on each of them (refused unchecked, but answered).
                 */
                (void)ssh_blocking_flush(c->down, SESSION_PREAUTH_MS);
                break;
            }
            if (time(NULL) > c->grace_deadline) {
                log_msg(LOG_LVL_WARN, "auth.timeout", "login=%s no authentication within %ds",
                        c->login, c->cfg->limits.login_grace);
                session_mfa_timeout(c);
                break;
            }
            continue;
        }
        if (!c->preconnected) {
            c->preconnected = 1;
            if (c->wake_bits != 0) {
                session_take_wakeups(c); /* e.g. a policy reload while we authenticated */
            }
            /* the directory was for authentication only: its connection and memory go */
            dir_free(c->dir);
            c->dir = NULL;
            chan_preconnect(c);
        }
        if (session_now_ms() >= c->next_tick_ms) {
            chan_tick_recordings(c);
        }
        if (c->check_at != LLONG_MAX && (long long)time(NULL) >= c->check_at) {
            chan_check_grants(c, (long long)time(NULL));
        }
        c->next_due_ms = LLONG_MAX;
        do {
            progress = 0;
            c->wake = 0;
            chan_run_all(c, &progress);
        } while (progress || c->wake);
        /* what was recorded just now may need a flush later */
        c->next_tick_ms = c->hook.due != NULL ? c->hook.due(c->hook.ctx) : LLONG_MAX;
        if (!ssh_is_connected(c->down)) {
            break;
        }
        if (c->up != NULL && !ssh_is_connected(c->up) && chan_count_live(c) == 0) {
            break;
        }
    }
    return 0;
}

static void session_notify(void *ctx, const char *event, struct json_t *obj)
{
    struct conn *c = ctx;

    notify_send(c->cfg, event, obj);
}

int session_run(const struct session_opts *o)
{
    struct conn conn;
    struct conn *c = &conn;
    struct sigaction sa;
    long timeout;
    int r = 1;

    memset(c, 0, sizeof(*c));
    c->cfg = o->cfg;
    c->policy = o->policy;
    c->peer = o->peer;
    c->status_fd = o->status_fd;
    c->signer_fd = o->signer_fd;
    c->fail_delay_ms = o->fail_delay_ms;
    c->next_chan_id = 1;
    c->next_due_ms = LLONG_MAX;
    /* one malloc arena: the recording thread's own would be mostly empty pages per session */
    mallopt(M_ARENA_MAX, 1);
    c->check_at = LLONG_MAX;
    c->next_tick_ms = LLONG_MAX;
    c->sig_fd = -1;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = session_on_term;
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);

    c->down = ssh_new();
    if (c->down == NULL) {
        goto out;
    }
    timeout = c->cfg->limits.login_grace;
    ssh_options_set(c->down, SSH_OPTIONS_TIMEOUT, &timeout);
    if (ssh_bind_accept_fd((ssh_bind)o->bind, c->down, o->fd) != SSH_OK) {
        log_msg(LOG_LVL_WARN, "conn.fail", "accept: %s", ssh_get_error(o->bind));
        goto out;
    }
    c->grace_deadline = time(NULL) + c->cfg->limits.login_grace;
    {
        char err[256] = "";

        /* opened in the child: a database handle never crosses fork */
        if (store_open_config(c->cfg, &c->store, err, sizeof(err)) != 0) {
            log_msg(LOG_LVL_ERROR, "store.unavailable", "%s", err);
            c->store = NULL;
        }
    }
    {
        char err[300] = "";

        /* without a recorder no target session can start (fail-closed) */
        if (recorder_init(c, &c->hook, err, sizeof(err)) != 0) {
            log_msg(LOG_LVL_ERROR, "recording.unavailable", "%s", err);
        }
    }
    c->notify.fn = session_notify;
    c->notify.ctx = c;
    c->access.store = c->store;
    c->access.policy = c->policy;
    c->access.notify = &c->notify;
    session_setup_callbacks(c);
    if (ssh_handle_key_exchange(c->down) != SSH_OK) {
        log_msg(LOG_LVL_INFO, "conn.kex_fail", "%s", ssh_get_error(c->down));
        goto out;
    }
    ssh_set_blocking(c->down, 0);
    (void)readahead_attach(ssh_get_fd(c->down)); /* without a slot it reads as libssh does */
    c->ev = ssh_event_new();
    if (c->ev == NULL || ssh_event_add_session(c->ev, c->down) != SSH_OK) {
        goto out;
    }
    /* from here SIGTERM and the wake-ups come through the loop (wake.c) */
    c->sig_fd = wake_child_fd();
    if (c->sig_fd < 0 ||
        ssh_event_add_fd(c->ev, c->sig_fd, POLLIN, session_on_signal_fd, c) != SSH_OK) {
        log_msg(LOG_LVL_ERROR, "conn.fail", "signalfd: %s", strerror(errno));
        goto out;
    }
    session_loop(c);
    r = 0;
out:
    session_mfa_end(c); /* a first factor that passed, and no code: audited */
    if (c->authenticated) {
        log_msg(LOG_LVL_INFO, "conn.end", "user=%s target=%s", c->user,
                c->target[0] ? c->target : "-");
    }
    if (c->refusals > SESSION_REFUSALS_AUDITED && c->store != NULL) {
        json_t *d = json_pack("{ss si}", "what", "requests refused on this connection",
                              "count", c->refusals);

        access_audit_event(c->store, (long long)time(NULL), c->user, "forwarding.refused",
                           c->target[0] ? c->target : "gateway", d);
        json_decref(d);
    }
    session_free(c);
    return r;
}

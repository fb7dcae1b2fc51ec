/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The listener: binds the configured addresses, accepts connections itself
 * (so it knows each peer), enforces the pre-authentication limits and forks
 * one child per connection, as sshd does.  A crash or protocol violation ends
 * one child, never the bastion.
 *
 * Limits: at most max_startups unauthenticated children in total and
 * max_startups_per_source per source address; a child tells the listener
 * over a pipe once it has authenticated, and one that has not within
 * login_grace (plus a margin) is killed from here as well as timing itself
 * out.  Signal handlers only set flags; signals are delivered only inside
 * ppoll, so the loop never races them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <math.h>
#include <pwd.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libssh/libssh.h>
#include <libssh/server.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <jansson.h>

#include "broker.h"
#include "web/web.h"
#include "signer.h"

#define SERVER_LISTEN_MAX 8
/* Expired requests and grants are swept (and audited) this often. */
#define SERVER_SWEEP_S 5
/* Authentication failures remembered per source (see server_fail_score). */
#define SERVER_FAIL_SOURCES 1024
#define SERVER_FAIL_HALFLIFE_S 300.0
#define SERVER_FAIL_DELAY_MAX_MS 5000
/* Retention runs at start and this often. */
#define SERVER_RETENTION_S 3600
/* While the recordings' disk is below a watermark, it is said again this often. */
#define SERVER_DISK_NOTICE_S 3600

struct server_child {
    pid_t pid;
    int status_fd;   /* read end; -1 once authenticated or gone */
    int signer_fd;   /* the signer's end of the child's socket, until handed over; -1 after */
    char status[96]; /* what the child wrote so far ("A<user>\n" once authenticated) */
    size_t nstatus;
    int authed;
    time_t started;
    char src[INET6_ADDRSTRLEN];
};

struct server_fail {
    char src[INET6_ADDRSTRLEN];
    double score;
    time_t updated;
};

struct server {
    struct server_fail fails[SERVER_FAIL_SOURCES];
    size_t nfails;
    struct config *cfg;
    struct policy *policy;
    ssh_bind bind;
    int lfd[SERVER_LISTEN_MAX];
    size_t nlfd;
    struct server_child *kids;
    size_t nkids, capkids;
    int child_died; /* a child ended abnormally since the last sweep */
    /* the web console's process (web: in the config), restarted when it dies */
    int web_fd[WEB_LISTEN_MAX];
    size_t nweb_fd;
    pid_t web_pid;
    time_t web_restart_at; /* 0: running or not wanted */
    int web_backoff;       /* seconds before the next restart */
    pid_t retention_pid;        /* the retention run in progress, 0: none */
    time_t retention_at;        /* when the last one started */
    enum disk_level disk_level; /* as last said in the log */
    time_t disk_noticed;        /* when it was last said (hourly while low) */
    int signer_ctl;   /* control socket to the certificate signer; -1: none (or it died) */
    /* PostgreSQL: what other gateways change reaches our children (store_watch) */
    struct store_watch *watch;
    int store_down; /* the last sweep could not open the store */
};

static volatile sig_atomic_t server_got_term, server_got_hup, server_got_chld;

static void server_on_signal(int sig)
{
    if (sig == SIGTERM || sig == SIGINT) {
        server_got_term = 1;
    } else if (sig == SIGHUP) {
        server_got_hup = 1;
    } else if (sig == SIGCHLD) {
        server_got_chld = 1;
    }
}

int server_listen_one(const struct config_listen *l, int *out, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    int fd = -1, one = 1;

    memset(&ss, 0, sizeof(ss));
    if (strchr(l->host, ':') != NULL) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)l->port);
        if (inet_pton(AF_INET6, l->host, &s6->sin6_addr) != 1) {
            db_errf(err, errlen, "listen: bad address %s", l->host);
            return DB_ERR_INVALID;
        }
        sslen = sizeof(*s6);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)l->port);
        if (inet_pton(AF_INET, l->host, &s4->sin_addr) != 1) {
            db_errf(err, errlen, "listen: bad address %s", l->host);
            return DB_ERR_INVALID;
        }
        sslen = sizeof(*s4);
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        db_errf(err, errlen, "listen: socket: %s", strerror(errno));
        return DB_ERR_IO;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ss.ss_family == AF_INET6) {
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    }
    if (bind(fd, (struct sockaddr *)&ss, sslen) != 0 || listen(fd, 128) != 0) {
        db_errf(err, errlen, "listen: %s:%d: %s", l->host, l->port, strerror(errno));
        close(fd);
        return DB_ERR_IO;
    }
    *out = fd;
    return 0;
}

static int server_make_bind(struct server *s, char *err, size_t errlen)
{
    char path[4096];
    int off = 0;

    keys_path(s->cfg, "host_ed25519", path, sizeof(path));
    s->bind = ssh_bind_new();
    if (s->bind == NULL) {
        return DB_ERR_NOMEM;
    }
    ssh_bind_options_set(s->bind, SSH_BIND_OPTIONS_PROCESS_CONFIG, &off);
    if (ssh_bind_options_set(s->bind, SSH_BIND_OPTIONS_HOSTKEY, path) != SSH_OK) {
        db_errf(err, errlen, "%s: cannot load host key", path);
        return DB_ERR_IO;
    }
    /* Modern algorithms only; chacha20 and AES-GCM first (fast and AEAD). */
    ssh_bind_options_set(s->bind, SSH_BIND_OPTIONS_CIPHERS_C_S,
                         "chacha20-poly1305@openssh.com,aes128-gcm@openssh.com,"
                         "aes256-gcm@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr");
    ssh_bind_options_set(s->bind, SSH_BIND_OPTIONS_CIPHERS_S_C,
                         "chacha20-poly1305@openssh.com,aes128-gcm@openssh.com,"
                         "aes256-gcm@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr");
    ssh_bind_options_set(s->bind, SSH_BIND_OPTIONS_KEY_EXCHANGE,
                         "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,"
                         "ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group16-sha512,"
                         "diffie-hellman-group18-sha512,diffie-hellman-group14-sha256");
    ssh_bind_options_set(s->bind, SSH_BIND_OPTIONS_HMAC_C_S,
                         "hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,"
                         "hmac-sha2-256,hmac-sha2-512");
    ssh_bind_options_set(s->bind, SSH_BIND_OPTIONS_HMAC_S_C,
                         "hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,"
                         "hmac-sha2-256,hmac-sha2-512");
    return 0;
}

static void server_reap(struct server *s)
{
    pid_t pid;
    int status;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        if (pid == s->retention_pid && s->retention_pid > 0) {
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                log_msg(LOG_LVL_WARN, "retention.incomplete",
                        "the retention run did not finish; the next one (in an hour, or at "
                        "start) goes on from where it stopped");
            }
            s->retention_pid = 0;
            continue;
        }
        if (pid == s->web_pid && s->web_pid > 0) {
            log_msg(LOG_LVL_ERROR, "web.exit", "the web console's process ended (%s %d); "
                    "restarting it in %d s", WIFSIGNALED(status) ? "signal" : "status",
                    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), s->web_backoff);
            s->web_pid = 0;
            s->web_restart_at = time(NULL) + s->web_backoff;
            s->web_backoff = s->web_backoff < 30 ? s->web_backoff * 2 : 60;
            continue;
        }
        for (size_t i = 0; i < s->nkids; i++) {
            if (s->kids[i].pid != pid) {
                continue;
            }
            if (s->kids[i].status_fd >= 0) {
                close(s->kids[i].status_fd);
            }
            if (s->kids[i].signer_fd >= 0) {
                close(s->kids[i].signer_fd);
            }
            if (WIFSIGNALED(status) && WTERMSIG(status) != SIGTERM &&
                WTERMSIG(status) != SIGKILL) {
                log_msg(LOG_LVL_ERROR, "child.crash", "pid=%d signal=%d", (int)pid,
                        WTERMSIG(status));
            }
            if (WIFSIGNALED(status) || WEXITSTATUS(status) != 0) {
                s->child_died = 1; /* its sessions may still read as live: sweep now */
            }
            s->kids[i] = s->kids[--s->nkids];
            break;
        }
    }
}

enum server_job { SERVER_JOB_POLICY_OK, SERVER_JOB_POLICY_BAD, SERVER_JOB_SWEEP };

static int server_pid_alive(long long pid)
{
    return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

/* A change another gateway committed ("grant N", "session ID"): wake whoever serves it here. */
static void server_on_notify(void *ctx, const char *payload)
{
    (void)ctx;
    if (strncmp(payload, "grant ", 6) == 0) {
        wake_send(WAKE_GRANT, payload + 6);
    } else if (strncmp(payload, "session ", 8) == 0) {
        wake_send(WAKE_SESSION, payload + 8);
    } else {
        wake_send(WAKE_ALL, NULL);
    }
}

/*
 * PostgreSQL: the LISTEN connection, opened when there is none.  A new one
 * may have missed announcements while there was none: every session
 * re-checks (WAKE_ALL), which is what a child would do on a timer.
 */
static void server_watch_reopen(struct server *s, struct store *st)
{
    char err[512] = "";
    int had = s->watch != NULL;

    if (s->watch != NULL || !store_backend_is_shared(st)) {
        return;
    }
    if (store_watch_open(st, &s->watch, err, sizeof(err)) != 0) {
        log_msg(LOG_LVL_ERROR, "store.listen_failed", "%s", err);
        return;
    }
    if (!had && s->watch != NULL && s->nkids > 0) {
        wake_send(WAKE_ALL, NULL);
    }
}

/* The LISTEN connection is readable: pass on what it heard. */
static void server_watch_read(struct server *s)
{
    if (store_watch_read(s->watch, server_on_notify, s) != 0) {
        log_msg(LOG_LVL_WARN, "store.listen_lost",
                "the store's notifications stopped; reconnecting at the next sweep");
        store_watch_close(s->watch);
        s->watch = NULL;
        wake_send(WAKE_ALL, NULL);
    }
}

/*
 * The listener's short-lived store handle: opened for one job and closed
 * again, so that no database handle is ever inherited by a session child.
 * The sweep expires requests and grants, and ends the sessions of children
 * that died without closing them (SIGKILL, a crash).
 */
static void server_store_job(struct server *s, enum server_job job, const char *detail)
{
    struct store *st = NULL;
    struct access a;
    char err[256] = "";
    int n = 0;

    if (store_open_config(s->cfg, &st, err, sizeof(err)) != 0) {
        log_msg(LOG_LVL_ERROR, "store.unavailable", "%s", err);
        if (!s->store_down) {
            /* every session looks for itself, and ends after store_grace if it stays away */
            s->store_down = 1;
            wake_send(WAKE_ALL, NULL);
        }
        return;
    }
    if (s->store_down) {
        s->store_down = 0;
        log_msg(LOG_LVL_INFO, "store.available", "the store can be opened again");
    }
    server_watch_reopen(s, st);
    switch (job) {
    case SERVER_JOB_POLICY_OK:
    case SERVER_JOB_POLICY_BAD:
        access_audit_policy_load(st, (long long)time(NULL), s->cfg->policy_path,
                                 job == SERVER_JOB_POLICY_OK, detail);
        break;
    case SERVER_JOB_SWEEP:
        memset(&a, 0, sizeof(a));
        a.store = st;
        if (access_expire(&a, (long long)time(NULL), &n) == 0 && n > 0) {
            log_msg(LOG_LVL_INFO, "access.expired", "%d request(s)/grant(s) expired", n);
        }
        if (access_sessions_reap(st, (long long)time(NULL), server_pid_alive, &n) == 0 && n > 0) {
            log_msg(LOG_LVL_WARN, "session.reaped", "%d session(s) of dead processes ended", n);
        }
        break;
    }
    store_close(st);
}

/*
 * The recordings' disk against the watermarks, at every sweep: a warning in
 * the log and a notification ("disk.low", "disk.full") when it gets worse
 * and every hour while it stays below warn_free; a line when it recovers.
 */
static void server_disk(struct server *s)
{
    struct disk_state d;
    char err[256] = "", why[512];
    time_t now = time(NULL);
    json_t *obj = NULL;
    const char *event = NULL;

    if (disk_check(s->cfg, &d, err, sizeof(err)) != 0) {
        log_msg(LOG_LVL_WARN, "disk.unknown", "%s", err);
        return;
    }
    disk_describe(s->cfg, &d, why, sizeof(why));
    if (d.level == DISK_OK) {
        if (s->disk_level != DISK_OK) {
            log_msg(LOG_LVL_INFO, "disk.ok", "recordings have room again: %s", why);
        }
        s->disk_level = DISK_OK;
        return;
    }
    if (d.level <= s->disk_level && now - s->disk_noticed < SERVER_DISK_NOTICE_S) {
        s->disk_level = d.level;
        return;
    }
    s->disk_level = d.level;
    s->disk_noticed = now;
    event = d.level == DISK_FULL ? "disk.full" : "disk.low";
    if (d.level == DISK_FULL) {
        log_msg(LOG_LVL_ERROR, event, "disk nearly full: new sessions are refused: %s", why);
    } else {
        log_msg(LOG_LVL_WARN, event, "disk space low: %s", why);
    }
    obj = json_pack("{ss sI ss sI sI sf ss}", "event", event, "time", (json_int_t)now, "path",
                    d.path, "free_bytes", (json_int_t)d.free_bytes, "total_bytes",
                    (json_int_t)d.total_bytes, "free_percent", d.free_percent, "message", why);
    notify_send(s->cfg, event, obj);
    json_decref(obj);
}

/*
 * At start, as the account the gateway runs as: the store must open (an
 * unreachable server, a wrong store.url or password, a schema newer than
 * this binary all stop the daemon with one line naming the cause) before
 * the gateway says it is listening.  A SQLite file that cannot be used just
 * now is the exception (below).
 */
static int server_store_check(struct server *s, char *err, size_t errlen)
{
    struct store *st = NULL;
    int r = store_open_config(s->cfg, &st, err, errlen);

    if ((r == DB_ERR_IO || r == DB_ERR_BUSY) && s->cfg->store_url == NULL) {
        /*
         * The local file, for now (a full disk, a lock held): the gateway
         * starts, refuses what needs the store with a message, and each
         * sweep and connection tries again, as before there was a check.
         */
        log_msg(LOG_LVL_ERROR, "store.unavailable", "%s", err);
        return 0;
    }

    if (r == 0) {
        r = store_anchor_adopt(st, (long long)time(NULL), err, errlen);
    }
    if (r == 0) {
        r = store_watch_open(st, &s->watch, err, errlen);
    }
    store_close(st);
    return r;
}

/*
 * Every session child does the same key exchanges, signatures, ciphers and
 * hashes.  OpenSSL sets each algorithm up (fetches and caches it) on first
 * use, in the process that uses it: done once here, before any fork, that
 * memory is shared by all the children instead of copied into each.
 */
static void server_warm_crypto(void)
{
    static const char *const mds[] = {"SHA256", "SHA512", "SHA1"};
    static const char *const ciphers[] = {"ChaCha20", "AES-128-GCM", "AES-256-GCM", "AES-128-CTR",
                                          "AES-192-CTR", "AES-256-CTR"};
    static const char *const macs[] = {"HMAC", "POLY1305"};
    static const char *const keys[] = {"X25519", "ED25519"};
    unsigned char buf[32];
    size_t n = sizeof(buf);

    for (size_t i = 0; i < sizeof(mds) / sizeof(mds[0]); i++) {
        EVP_MD_free(EVP_MD_fetch(NULL, mds[i], NULL));
    }
    for (size_t i = 0; i < sizeof(ciphers) / sizeof(ciphers[0]); i++) {
        EVP_CIPHER_free(EVP_CIPHER_fetch(NULL, ciphers[i], NULL));
    }
    for (size_t i = 0; i < sizeof(macs) / sizeof(macs[0]); i++) {
        EVP_MAC_free(EVP_MAC_fetch(NULL, macs[i], NULL));
    }
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, keys[i]);
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        EVP_PKEY_CTX *px = k != NULL ? EVP_PKEY_CTX_new(k, NULL) : NULL;
        unsigned char sig[64];
        size_t siglen = sizeof(sig);

        if (i == 0 && px != NULL && EVP_PKEY_derive_init(px) == 1 &&
            EVP_PKEY_derive_set_peer(px, k) == 1) {
            EVP_PKEY_derive(px, buf, &n);
        } else if (i == 1 && md != NULL && EVP_DigestSignInit(md, NULL, NULL, NULL, k) == 1) {
            EVP_DigestSign(md, sig, &siglen, buf, 1);
        }
        EVP_PKEY_CTX_free(px);
        EVP_MD_CTX_free(md);
        EVP_PKEY_free(k);
    }
    RAND_bytes(buf, sizeof(buf));
    OPENSSL_cleanse(buf, sizeof(buf));
}

static void server_reload(struct server *s)
{
    /* the signer's checker reads the policy file too, keeping its own on a bad one */
    if (s->signer_ctl >= 0) {
        signer_reload(s->signer_ctl);
    }
    struct policy *np = NULL;
    char err[4096] = "";

    if (policy_load_file(s->cfg->policy_path, &np, err, sizeof(err)) != 0) {
        char *nl = strchr(err, '\n');

        if (nl != NULL) {
            *nl = '\0';
        }
        log_msg(LOG_LVL_ERROR, "policy.reload_failed", "keeping the previous policy: %s", err);
        server_store_job(s, SERVER_JOB_POLICY_BAD, err);
        return;
    }
    server_store_job(s, SERVER_JOB_POLICY_OK, NULL);
    policy_free(s->policy);
    s->policy = np;
    log_msg(LOG_LVL_INFO, "policy.reload", "loaded %s (%zu targets, %zu rules)",
            s->cfg->policy_path, np->ntargets, np->nrules);
    /* live sessions are held to the new policy too */
    wake_send(WAKE_POLICY, NULL);
}

static void server_count(const struct server *s, const char *src, int *total, int *per)
{
    *total = 0;
    *per = 0;
    for (size_t i = 0; i < s->nkids; i++) {
        if (!s->kids[i].authed) {
            (*total)++;
            if (strcmp(s->kids[i].src, src) == 0) {
                (*per)++;
            }
        }
    }
}

/*
 * The web console runs in a process of its own, forked like a session child
 * (after the listener dropped its privileges, never dumpable), so that a
 * crash or a flood there never reaches SSH.  It holds only the web
 * listening sockets.
 */
static void server_web_spawn(struct server *s)
{
    struct sigaction sa;
    pid_t pid;

    s->web_restart_at = 0;
    pid = fork();
    if (pid < 0) {
        log_msg(LOG_LVL_ERROR, "web.fork_failed", "%s", strerror(errno));
        s->web_restart_at = time(NULL) + 5;
        return;
    }
    if (pid > 0) {
        s->web_pid = pid;
        return;
    }
    for (size_t i = 0; i < s->nlfd; i++) {
        close(s->lfd[i]);
    }
    for (size_t i = 0; i < s->nkids; i++) {
        if (s->kids[i].status_fd >= 0) {
            close(s->kids[i].status_fd);
        }
        if (s->kids[i].signer_fd >= 0) {
            close(s->kids[i].signer_fd);
        }
    }
    if (s->signer_ctl >= 0) {
        close(s->signer_ctl); /* the web console asks the signer for nothing */
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    sigaction(SIGCHLD, &sa, NULL);
    wake_forked(); /* it sends wake-ups (revoke, terminate); it never receives any */
    store_watch_forked(s->watch);
    _exit(web_run(s->cfg, s->policy, s->web_fd, s->nweb_fd));
}

/*
 * Retention (retention.c) runs at start and every hour, in a process of its
 * own so that removing a year's worth of recordings never holds up the
 * listener.  One run at a time.
 */
static void server_retention_spawn(struct server *s)
{
    struct retention_stats st;
    struct sigaction sa;
    sigset_t none;
    pid_t pid;

    if (s->retention_pid > 0 ||
        (s->cfg->recordings.retain <= 0 && s->cfg->audit.retain <= 0)) {
        return;
    }
    s->retention_at = time(NULL);
    pid = fork();
    if (pid < 0) {
        log_msg(LOG_LVL_ERROR, "retention.fork_failed", "%s", strerror(errno));
        return;
    }
    if (pid > 0) {
        s->retention_pid = pid;
        return;
    }
    for (size_t i = 0; i < s->nlfd; i++) {
        close(s->lfd[i]);
    }
    for (size_t i = 0; i < s->nweb_fd; i++) {
        close(s->web_fd[i]);
    }
    for (size_t i = 0; i < s->nkids; i++) {
        if (s->kids[i].status_fd >= 0) {
            close(s->kids[i].status_fd);
        }
        if (s->kids[i].signer_fd >= 0) {
            close(s->kids[i].signer_fd);
        }
    }
    if (s->signer_ctl >= 0) {
        close(s->signer_ctl);
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    sigaction(SIGCHLD, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    wake_forked();
    _exit(retention_run(s->cfg, (long long)time(NULL), &st) == 0 ? 0 : 1);
}

static void server_child(struct server *s, int fd, const char *peer, int status_w, int signer_w,
                         int fail_delay_ms)
{
    struct session_opts o;
    unsigned char rnd[6];
    char conn_id[16];
    sigset_t none;
    struct sigaction sa;

    for (size_t i = 0; i < s->nlfd; i++) {
        close(s->lfd[i]);
    }
    for (size_t i = 0; i < s->nweb_fd; i++) {
        close(s->web_fd[i]);
    }
    for (size_t i = 0; i < s->nkids; i++) {
        if (s->kids[i].status_fd >= 0) {
            close(s->kids[i].status_fd);
        }
        if (s->kids[i].signer_fd >= 0) {
            close(s->kids[i].signer_fd);
        }
    }
    if (s->signer_ctl >= 0) {
        close(s->signer_ctl);
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGCHLD, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    /* wake-ups (wake.c) stay blocked: the session reads them from a signalfd */
    sigemptyset(&none);
    sigaddset(&none, SIGUSR1);
    sigaddset(&none, SIGUSR2);
    sigprocmask(SIG_SETMASK, &none, NULL);
    wake_forked();
    store_watch_forked(s->watch);
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        memset(rnd, 0, sizeof(rnd));
    }
    snprintf(conn_id, sizeof(conn_id), "%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3],
             rnd[4], rnd[5]);
    log_set_context(conn_id, peer);
    memset(&o, 0, sizeof(o));
    o.cfg = s->cfg;
    o.policy = s->policy;
    o.bind = s->bind;
    o.fd = fd;
    o.peer = peer;
    o.status_fd = status_w;
    o.signer_fd = signer_w;
    o.fail_delay_ms = fail_delay_ms;
    /* nothing in a session child is for a debugger or a core file */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    _exit(session_run(&o));
}

/*
 * Authentication failures per source address, decaying with a half-life of
 * SERVER_FAIL_HALFLIFE_S.  A source past limits.slow_after_failures recent failures gets
 * its later failures answered slowly (see session_opts.fail_delay_ms), so
 * spraying passwords from one address costs time, while a user who mistypes
 * a few times notices nothing.
 */
static double server_fail_score(struct server_fail *f, time_t now)
{
    if (now > f->updated) {
        f->score *= pow(0.5, (double)(now - f->updated) / SERVER_FAIL_HALFLIFE_S);
        f->updated = now;
    }
    return f->score;
}

static struct server_fail *server_fail_find(struct server *s, const char *src, int create)
{
    size_t victim = 0;
    time_t now = time(NULL);

    for (size_t i = 0; i < s->nfails; i++) {
        if (strcmp(s->fails[i].src, src) == 0) {
            return &s->fails[i];
        }
        if (server_fail_score(&s->fails[i], now) < server_fail_score(&s->fails[victim], now)) {
            victim = i;
        }
    }
    if (!create) {
        return NULL;
    }
    if (s->nfails < SERVER_FAIL_SOURCES) {
        victim = s->nfails++;
    }
    memset(&s->fails[victim], 0, sizeof(s->fails[victim]));
    snprintf(s->fails[victim].src, sizeof(s->fails[victim].src), "%s", src);
    s->fails[victim].updated = now;
    return &s->fails[victim];
}

static int server_fail_delay_ms(struct server *s, const char *src)
{
    struct server_fail *f = server_fail_find(s, src, 0);
    double score = f != NULL ? server_fail_score(f, time(NULL)) : 0;

    if (score <= s->cfg->limits.slow_after_failures) {
        return 0;
    }
    score = 250.0 * (score - s->cfg->limits.slow_after_failures);
    return score > SERVER_FAIL_DELAY_MAX_MS ? SERVER_FAIL_DELAY_MAX_MS : (int)score;
}

/*
 * All startup slots are taken.  So that a few addresses holding silent
 * connections cannot lock everyone else out, a newcomer from an address
 * holding fewer unauthenticated connections than the busiest one takes the
 * busiest one's oldest slot.  0 when a slot was freed.
 */
static int server_evict(struct server *s, const char *src, int per)
{
    const char *busiest = NULL;
    int most = 0;
    size_t oldest = (size_t)-1;

    for (size_t i = 0; i < s->nkids; i++) {
        int n = 0;

        if (s->kids[i].authed) {
            continue;
        }
        server_count(s, s->kids[i].src, &(int){0}, &n);
        if (n > most) {
            most = n;
            busiest = s->kids[i].src;
        }
    }
    if (busiest == NULL || strcmp(busiest, src) == 0 || per + 1 >= most) {
        return DB_ERR_BUSY;
    }
    for (size_t i = 0; i < s->nkids; i++) {
        if (!s->kids[i].authed && strcmp(s->kids[i].src, busiest) == 0 &&
            (oldest == (size_t)-1 || s->kids[i].started < s->kids[oldest].started)) {
            oldest = i;
        }
    }
    log_msg(LOG_LVL_WARN, "conn.evicted", "peer=%s holds %d unauthenticated connections; "
            "its oldest makes room for %s", busiest, most, src);
    kill(s->kids[oldest].pid, SIGKILL);
    /* counted as authenticated no more: it is gone as soon as it is reaped */
    s->kids[oldest].authed = 1;
    return 0;
}

static void server_accept(struct server *s, int lfd)
{
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);
    char src[INET6_ADDRSTRLEN] = "?", peer[INET6_ADDRSTRLEN + 8];
    int fd, port = 0, total, per, pipefd[2], sp[2] = {-1, -1}, delay, one = 1;
    pid_t pid;

    fd = accept4(lfd, (struct sockaddr *)&ss, &sslen, SOCK_CLOEXEC);
    if (fd < 0) {
        return;
    }
    /* keystrokes and small protocol messages must not wait for Nagle */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

        inet_ntop(AF_INET, &s4->sin_addr, src, sizeof(src));
        port = ntohs(s4->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

        inet_ntop(AF_INET6, &s6->sin6_addr, src, sizeof(src));
        port = ntohs(s6->sin6_port);
    }
    snprintf(peer, sizeof(peer), "%s:%d", src, port);
    server_count(s, src, &total, &per);
    if (per >= s->cfg->limits.max_startups_per_source ||
        (total >= s->cfg->limits.max_startups && server_evict(s, src, per) != 0)) {
        log_msg(LOG_LVL_WARN, "conn.refused", "peer=%s unauthenticated=%d from_source=%d", peer,
                total, per);
        close(fd);
        return;
    }
    if (s->nkids == s->capkids) {
        size_t cap = s->capkids ? s->capkids * 2 : 64;
        struct server_child *k = realloc(s->kids, cap * sizeof(*k));

        if (k == NULL) {
            close(fd);
            return;
        }
        s->kids = k;
        s->capkids = cap;
    }
    if (pipe2(pipefd, O_CLOEXEC) != 0) {
        log_msg(LOG_LVL_WARN, "conn.refused", "peer=%s %s", peer, strerror(errno));
        close(fd);
        return;
    }
    /*
     * The child's own socket to the signer, handed to the signer once the
     * child authenticated.  Without it the session could get no certificate:
     * the connection is refused now rather than fail at the target.
     */
    if (s->signer_ctl >= 0 && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0) {
        log_msg(LOG_LVL_WARN, "conn.refused", "peer=%s %s", peer, strerror(errno));
        close(pipefd[0]);
        close(pipefd[1]);
        close(fd);
        return;
    }
    delay = server_fail_delay_ms(s, src);
    pid = fork();
    if (pid == 0) {
        close(pipefd[0]);
        if (sp[1] >= 0) {
            close(sp[1]);
        }
        server_child(s, fd, peer, pipefd[1], sp[0], delay);
    }
    close(fd);
    close(pipefd[1]);
    if (sp[0] >= 0) {
        close(sp[0]);
    }
    if (pid < 0) {
        log_msg(LOG_LVL_ERROR, "conn.fork_failed", "%s", strerror(errno));
        close(pipefd[0]);
        if (sp[1] >= 0) {
            close(sp[1]);
        }
        return;
    }
    memset(&s->kids[s->nkids], 0, sizeof(s->kids[s->nkids]));
    s->kids[s->nkids].pid = pid;
    s->kids[s->nkids].status_fd = pipefd[0];
    s->kids[s->nkids].signer_fd = sp[1];
    s->kids[s->nkids].authed = 0;
    s->kids[s->nkids].started = time(NULL);
    snprintf(s->kids[s->nkids].src, sizeof(s->kids[s->nkids].src), "%s", src);
    s->nkids++;
}

/*
 * A child authenticated as the user it names: it stops counting as a
 * startup, and its socket goes to the signer, bound to that user.  (A child
 * that failed to hand over, or names no valid user, gets no certificates:
 * its socket is closed and the signer is never asked.)
 */
static void server_kid_authed(struct server *s, struct server_child *kid)
{
    const char *user = kid->status + 1;

    kid->authed = 1;
    if (kid->signer_fd < 0) {
        return;
    }
    if (names_valid(user, strlen(user)) &&
        signer_bind(s->signer_ctl, kid->signer_fd, user) != 0) {
        log_msg(LOG_LVL_ERROR, "signer.bind", "pid=%d user=%s: the signer did not take the "
                "session's socket", (int)kid->pid, user);
    }
    close(kid->signer_fd);
    kid->signer_fd = -1;
}

static void server_poll_kids(struct server *s, struct pollfd *pf, size_t npf)
{
    time_t now = time(NULL);

    for (size_t i = 0; i < npf; i++) {
        if (pf[i].revents == 0) {
            continue;
        }
        for (size_t k = 0; k < s->nkids; k++) {
            char b[64];
            ssize_t n;

            if (s->kids[k].status_fd != pf[i].fd) {
                continue;
            }
            /* 'F' per failed attempt, "A<user>\n" once authenticated; EOF when the child ends */
            n = read(pf[i].fd, b, sizeof(b));
            for (ssize_t j = 0; j < n && !s->kids[k].authed; j++) {
                struct server_child *kid = &s->kids[k];

                if (kid->nstatus > 0) {
                    if (b[j] == '\n' || kid->nstatus == sizeof(kid->status) - 1) {
                        kid->status[kid->nstatus] = '\0';
                        server_kid_authed(s, kid);
                    } else {
                        kid->status[kid->nstatus++] = b[j];
                    }
                } else if (b[j] == 'A') {
                    kid->status[kid->nstatus++] = 'A';
                } else if (b[j] == 'F') {
                    struct server_fail *f = server_fail_find(s, kid->src, 1);

                    server_fail_score(f, now);
                    f->score += 1.0;
                }
            }
            if (n <= 0 || s->kids[k].authed) {
                close(s->kids[k].status_fd);
                s->kids[k].status_fd = -1;
            }
            break;
        }
    }
    for (size_t k = 0; k < s->nkids; k++) {
        if (!s->kids[k].authed && now - s->kids[k].started > s->cfg->limits.login_grace + 2) {
            kill(s->kids[k].pid, SIGKILL);
        }
    }
}

/* Wake-ups from any process of the daemon, passed on to the children concerned. */
static void server_wake(struct server *s)
{
    pid_t *pids = malloc((s->nkids + 1) * sizeof(*pids));

    if (pids == NULL) {
        return; /* what is unread stays in the pipe: the next round tries again */
    }
    for (size_t i = 0; i < s->nkids; i++) {
        pids[i] = s->kids[i].pid;
    }
    wake_dispatch(s->cfg, pids, s->nkids);
    free(pids);
}

static void server_shutdown(struct server *s)
{
    struct timespec ts = {0, 50 * 1000 * 1000};

    for (size_t i = 0; i < s->nlfd; i++) {
        close(s->lfd[i]);
    }
    /* the signer (and its checker) end when the control socket closes */
    if (s->signer_ctl >= 0) {
        close(s->signer_ctl);
        s->signer_ctl = -1;
    }
    for (size_t i = 0; i < s->nkids; i++) {
        kill(s->kids[i].pid, SIGTERM);
    }
    if (s->retention_pid > 0) {
        kill(s->retention_pid, SIGTERM); /* an interrupted run is finished by the next one */
    }
    if (s->web_pid > 0) {
        pid_t web = s->web_pid;

        kill(web, SIGTERM);
        for (int tries = 0; tries < 100 && waitpid(web, NULL, WNOHANG) == 0; tries++) {
            nanosleep(&ts, NULL);
        }
        kill(web, SIGKILL);
        waitpid(web, NULL, WNOHANG);
        s->web_pid = 0;
    }
    for (int tries = 0; tries < 100 && s->nkids > 0; tries++) {
        server_reap(s);
        nanosleep(&ts, NULL);
    }
    for (size_t i = 0; i < s->nkids; i++) {
        kill(s->kids[i].pid, SIGKILL);
    }
    server_reap(s);
    log_msg(LOG_LVL_INFO, "server.stop", "shut down");
}

/*
 * The certificate signer and its checker (broker/signer), forked while we
 * still may choose their accounts: the checker runs as the gateway's account
 * (service, NULL: as we are), the signer as upstream.signer_user.
 */
static int server_start_signer(struct server *s, const struct passwd *service, char *err,
                               size_t errlen)
{
    struct signer_accounts a;
    int r = 0;

    memset(&a, 0, sizeof(a));
    a.drop = geteuid() == 0;
    a.service_uid = service != NULL ? service->pw_uid : geteuid();
    a.service_gid = service != NULL ? service->pw_gid : getegid();
    if ((r = signer_accounts_resolve(s->cfg, &a, err, errlen)) != 0 ||
        (r = signer_prepare_files(s->cfg, &a, err, errlen)) != 0 ||
        (r = signer_start(s->cfg, &a, &s->signer_ctl, err, errlen)) != 0) {
        return r;
    }
    if (!a.drop && s->cfg->upstream.signer_user != NULL) {
        log_msg(LOG_LVL_WARN, "signer.account",
                "upstream.signer_user %s is not used: only a daemon started as root can run "
                "the signer under another account", s->cfg->upstream.signer_user);
    }
    if (!a.separate && s->cfg->upstream.auth == CONFIG_UPSTREAM_CERTIFICATE) {
        log_msg(LOG_LVL_WARN, "signer.account",
                "the signer runs as the gateway's own account (%s): set upstream.signer_user "
                "and start the daemon as root so that session children cannot read the CA key",
                a.signer_name);
    }
    log_msg(LOG_LVL_INFO, "signer.started", "the certificate signer runs as %s", a.signer_name);
    return 0;
}

/*
 * Started as root: hand state_dir to the service account and become it, after
 * the listeners are bound and the keys exist.  The account is `user:` from
 * the config, else "drawbridge" when that account exists; without either the
 * daemon stays root and says so.  Privileges cannot be regained afterwards.
 * The certificate signer is started here, after the hand-over and before
 * the drop (server_start_signer).
 */
static int server_drop_privileges(struct server *s, char *err, size_t errlen)
{
    const char *name = s->cfg->user;
    struct passwd *pw = NULL, service;
    int r = 0;

    if (geteuid() != 0) {
        return server_start_signer(s, NULL, err, errlen);
    }
    if (name == NULL && getpwnam("drawbridge") != NULL) {
        name = "drawbridge";
    }
    if (name == NULL) {
        log_msg(LOG_LVL_WARN, "server.root",
                "running as root: set `user:` in the config (or create a drawbridge account) "
                "to run unprivileged");
        return server_start_signer(s, NULL, err, errlen);
    }
    pw = getpwnam(name);
    if (pw == NULL) {
        db_errf(err, errlen, "user %s: no such account", name);
        return DB_ERR_INVALID;
    }
    if (pw->pw_uid == 0) {
        log_msg(LOG_LVL_WARN, "server.root", "user %s is root: running with full privileges",
                name);
        return server_start_signer(s, NULL, err, errlen);
    }
    service = *pw;
    {
        /* state_dir and, when they live elsewhere, keys_dir and recordings_dir */
        const char *dirs[] = {s->cfg->state_dir, s->cfg->keys_dir, s->cfg->recordings_dir};
        /*
         * Never the CA key, not even for a moment: the gateway's account (a
         * session child's) could read it, or keep user_ca.pub open for
         * writing.  signer_prepare_files gives them to the signer.
         */
        const char *ca[] = {"user_ca", "user_ca.pub"};
        struct stat skip[2];
        char path[4096];

        for (size_t i = 0; i < 2; i++) {
            keys_path(s->cfg, ca[i], path, sizeof(path));
            if (lstat(path, &skip[i]) != 0) {
                memset(&skip[i], 0, sizeof(skip[i]));
            }
        }

        for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
            char why[4096];

            if (dirs[i] != NULL && handover_tree(dirs[i], service.pw_uid, service.pw_gid, skip, 2,
                                                 why, sizeof(why)) != 0) {
                db_errf(err, errlen, "%s: cannot hand it to %s: %s", dirs[i], name, why);
                return DB_ERR_IO;
            }
        }
    }
    /* getpw* inside reuses pw's storage: from here on, only the copy */
    pw = NULL;
    if ((r = server_start_signer(s, &service, err, errlen)) != 0) {
        return r;
    }
    if (setgroups(0, NULL) != 0 || setgid(service.pw_gid) != 0 || setuid(service.pw_uid) != 0) {
        db_errf(err, errlen, "cannot become %s: %s", name, strerror(errno));
        return DB_ERR_INTERNAL;
    }
    if (setuid(0) == 0 || seteuid(0) == 0) {
        db_errf(err, errlen, "could regain root after dropping to %s; refusing to run", name);
        return DB_ERR_INTERNAL;
    }
    log_msg(LOG_LVL_INFO, "server.user", "running as %s (uid %d)", name, (int)service.pw_uid);
    return 0;
}

static int server_daemonize(void)
{
    pid_t pid = fork();
    int fd;

    if (pid < 0) {
        return DB_ERR_INTERNAL;
    }
    if (pid > 0) {
        _exit(0);
    }
    setsid();
    fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
        dup2(fd, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        if (fd > 2) {
            close(fd);
        }
    }
    return 0;
}

static void server_signals(sigset_t *during_poll)
{
    struct sigaction sa;
    sigset_t block;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = server_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGCHLD, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGHUP);
    sigaddset(&block, SIGCHLD);
    /* blocked for good before any fork: a child must never die of an early wake-up */
    sigaddset(&block, SIGUSR1);
    sigaddset(&block, SIGUSR2);
    sigprocmask(SIG_BLOCK, &block, during_poll);
    sigaddset(during_poll, SIGUSR1);
    sigaddset(during_poll, SIGUSR2);
    sigdelset(during_poll, SIGTERM);
    sigdelset(during_poll, SIGINT);
    sigdelset(during_poll, SIGHUP);
    sigdelset(during_poll, SIGCHLD);
}

int server_run(const struct server_opts *o)
{
    struct server srv;
    struct server *s = &srv;
    char err[4096] = "";
    sigset_t during_poll;
    struct pollfd *pf = NULL;
    time_t last_sweep = 0;
    int r = 1;

    memset(s, 0, sizeof(*s));
    s->signer_ctl = -1;
    log_init("drawbridge", o->log_json, !o->foreground);
    /* the listener holds two descriptors per session starting up, one per live one */
    db_raise_nofile();
    if (config_load(o->config_path, &s->cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        goto out;
    }
    if (policy_load_file(s->cfg->policy_path, &s->policy, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        goto out;
    }
    if (keys_ensure(s->cfg, err, sizeof(err)) != 0 || server_make_bind(s, err, sizeof(err)) != 0) {
        fprintf(stderr, "drawbridge: %s\n", err);
        goto out;
    }
    for (size_t i = 0; i < s->cfg->nlisten && s->nlfd < SERVER_LISTEN_MAX; i++) {
        if (server_listen_one(&s->cfg->listen[i], &s->lfd[s->nlfd], err, sizeof(err)) != 0) {
            fprintf(stderr, "drawbridge: %s\n", err);
            goto out;
        }
        s->nlfd++;
    }
    /* set up once here what every session child would otherwise set up for itself */
    dir_preload();
    server_warm_crypto();
    if (wake_init(err, sizeof(err)) != 0) {
        fprintf(stderr, "drawbridge: %s\n", err);
        goto out;
    }
    if (s->cfg->web.enabled) {
        char cert[4096], key[4096];

        if (web_listen(s->cfg, s->web_fd, &s->nweb_fd, err, sizeof(err)) != 0 ||
            web_tls_ensure(s->cfg, cert, sizeof(cert), key, sizeof(key), err, sizeof(err)) != 0) {
            fprintf(stderr, "drawbridge: %s\n", err);
            goto out;
        }
    }
    if (server_drop_privileges(s, err, sizeof(err)) != 0 ||
        server_store_check(s, err, sizeof(err)) != 0) {
        fprintf(stderr, "drawbridge: %s\n", err);
        goto out;
    }
    if (!o->foreground && server_daemonize() != 0) {
        goto out;
    }
    server_signals(&during_poll);
    server_store_job(s, SERVER_JOB_POLICY_OK, NULL);
    server_store_job(s, SERVER_JOB_SWEEP, NULL);
    log_msg(LOG_LVL_INFO, "server.start", "drawbridge %s listening (%zu addresses), policy %s",
            DRAWBRIDGE_VERSION, s->nlfd, s->cfg->policy_path);
    if (s->nweb_fd > 0) {
        s->web_backoff = 1;
        server_web_spawn(s);
    }
    if (retention_lint(s->cfg, (long long)time(NULL), err, sizeof(err)) != 0) {
        log_msg(LOG_LVL_WARN, "retention.review", "%s", err);
    }
    server_retention_spawn(s);
    while (!server_got_term) {
        size_t n = 0;
        struct timespec tick = {1, 0};
        struct pollfd *npf = realloc(pf, (s->nlfd + s->nkids + 3) * sizeof(*pf));

        if (npf == NULL) {
            break;
        }
        pf = npf;
        for (size_t i = 0; i < s->nlfd; i++) {
            pf[n].fd = s->lfd[i];
            pf[n++].events = POLLIN;
        }
        for (size_t i = 0; i < s->nkids; i++) {
            if (s->kids[i].status_fd >= 0) {
                pf[n].fd = s->kids[i].status_fd;
                pf[n++].events = POLLIN;
            }
        }
        /* last, after the children's status pipes: the wake-up pipe (wake.c), then the
         * signer's control socket, polled only to notice the signer ending */
        pf[n].fd = wake_fd();
        pf[n].events = POLLIN;
        pf[n + 1].fd = s->signer_ctl;
        pf[n + 1].events = 0;
        /* and what other gateways change (PostgreSQL's LISTEN; -1, ignored, when none) */
        pf[n + 2].fd = store_watch_fd(s->watch);
        pf[n + 2].events = POLLIN;
        for (size_t i = 0; i <= n + 2; i++) {
            pf[i].revents = 0;
        }
        if (ppoll(pf, n + 3, &tick, &during_poll) < 0 && errno != EINTR) {
            log_msg(LOG_LVL_ERROR, "server.poll", "%s", strerror(errno));
            break;
        }
        if (server_got_chld) {
            server_got_chld = 0;
            server_reap(s);
        }
        if (server_got_hup) {
            server_got_hup = 0;
            server_reload(s);
            if (s->web_pid > 0) {
                kill(s->web_pid, SIGHUP);
            }
        }
        if (s->web_restart_at != 0 && time(NULL) >= s->web_restart_at) {
            server_web_spawn(s);
        }
        if (server_got_term) {
            break;
        }
        if (s->signer_ctl >= 0 && pf[n + 1].revents != 0) {
            log_msg(LOG_LVL_ERROR, "signer.down",
                    "the certificate signer has stopped; certificate-mode connections are "
                    "refused until the daemon is restarted");
            close(s->signer_ctl);
            s->signer_ctl = -1;
        }
        server_poll_kids(s, pf + s->nlfd, n - s->nlfd);
        if (pf[n + 2].revents != 0 && s->watch != NULL) {
            server_watch_read(s); /* its wake-ups go through the pipe, read just below */
            pf[n].revents |= POLLIN;
        }
        if (pf[n].revents != 0) {
            server_wake(s);
        }
        if (time(NULL) - last_sweep >= SERVER_SWEEP_S || s->child_died) {
            last_sweep = time(NULL);
            s->child_died = 0;
            server_store_job(s, SERVER_JOB_SWEEP, NULL);
            server_disk(s);
            if (time(NULL) - s->retention_at >= SERVER_RETENTION_S) {
                server_retention_spawn(s);
            }
        }
        for (size_t i = 0; i < s->nlfd; i++) {
            if (pf[i].revents & POLLIN) {
                server_accept(s, s->lfd[i]);
            }
        }
    }
    server_shutdown(s);
    s->nlfd = 0;
    r = 0;
out:
    for (size_t i = 0; i < s->nlfd; i++) {
        close(s->lfd[i]);
    }
    for (size_t i = 0; i < s->nweb_fd; i++) {
        close(s->web_fd[i]);
    }
    if (s->signer_ctl >= 0) {
        close(s->signer_ctl);
    }
    free(pf);
    free(s->kids);
    store_watch_close(s->watch);
    if (s->bind != NULL) {
        ssh_bind_free(s->bind);
    }
    policy_free(s->policy);
    config_free(s->cfg);
    return r;
}

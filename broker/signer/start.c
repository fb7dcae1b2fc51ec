/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Starting the signer: the accounts it and its checker run as, the files
 * only the signer may read, and the two forks.  server.c calls these while
 * it is still root (when it was started as root), after state_dir has been
 * handed to the gateway's account and before the listener drops to it.
 *
 * The signer is not the listener's child (a double fork): the listener's
 * children are its connections, and whatever counts or signals them must not
 * meet the signer.  It ends when the listener's end of the control socket
 * closes, however the listener ended.
 *
 * The signer cannot be restarted later: only root can start a process under
 * another account, and the listener is no longer root.  If it dies, the
 * listener logs it and every certificate-mode connection is refused (never
 * a fall back to the static key) until the daemon is restarted.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "broker.h"
#include "signer.h"

#define SIGNER_DEFAULT_USER "drawbridge-ca"

int signer_accounts_resolve(const struct config *cfg, struct signer_accounts *a, char *err,
                            size_t errlen)
{
    const char *name = cfg->upstream.signer_user;
    struct passwd *pw = NULL;

    if (!a->drop) {
        /* not started as root: everything runs as we are */
        a->signer_uid = a->service_uid;
        a->signer_gid = a->service_gid;
        pw = getpwuid(a->signer_uid);
        snprintf(a->signer_name, sizeof(a->signer_name), "%s", pw != NULL ? pw->pw_name : "?");
        a->separate = 0;
        return 0;
    }
    if (name == NULL && getpwnam(SIGNER_DEFAULT_USER) != NULL) {
        name = SIGNER_DEFAULT_USER;
    }
    if (name == NULL) {
        a->signer_uid = a->service_uid;
        a->signer_gid = a->service_gid;
        pw = getpwuid(a->signer_uid);
    } else {
        pw = getpwnam(name);
        if (pw == NULL) {
            db_errf(err, errlen, "upstream.signer_user %s: no such account", name);
            return DB_ERR_INVALID;
        }
        a->signer_uid = pw->pw_uid;
        a->signer_gid = pw->pw_gid;
    }
    snprintf(a->signer_name, sizeof(a->signer_name), "%s", pw != NULL ? pw->pw_name : "?");
    a->separate = a->signer_uid != a->service_uid;
    return 0;
}

/*
 * The mode of path, changed as its owner: a root without CAP_FOWNER (the
 * systemd unit's bounding set) may not chmod another account's file, but
 * may become that account for a moment.
 */
static int signer_chmod_as_owner(const char *path, const struct stat *st, mode_t mode)
{
    int r = 0, saved = 0;

    if (st->st_uid == geteuid()) {
        return chmod(path, mode);
    }
    if (seteuid(st->st_uid) != 0) {
        return -1;
    }
    r = chmod(path, mode);
    saved = errno;
    if (seteuid(0) != 0) {
        _exit(1); /* cannot happen with a saved uid of 0; never go on half-privileged */
    }
    errno = saved;
    return r;
}

/* owner:group and mode of one path (never following a link), changed only where they differ. */
static int signer_own(const char *path, uid_t uid, gid_t gid, mode_t mode, char *err,
                      size_t errlen)
{
    struct stat st;

    if (lstat(path, &st) != 0) {
        if (errno == ENOENT) {
            return 0;
        }
        db_errf(err, errlen, "%s: %s", path, strerror(errno));
        return DB_ERR_IO;
    }
    if (S_ISLNK(st.st_mode)) {
        db_errf(err, errlen, "%s: is a symbolic link; refusing", path);
        return DB_ERR_INVALID;
    }
    if (((st.st_mode & 07777) != mode && signer_chmod_as_owner(path, &st, mode) != 0) ||
        ((st.st_uid != uid || st.st_gid != gid) && lchown(path, uid, gid) != 0)) {
        db_errf(err, errlen, "%s: cannot set its owner or mode: %s", path, strerror(errno));
        return DB_ERR_IO;
    }
    return 0;
}

int signer_prepare_files(const struct config *cfg, const struct signer_accounts *a, char *err,
                         size_t errlen)
{
    char path[4096], dir[4096];
    size_t slen = strlen(cfg->state_dir);
    int r = 0;

    if (!a->drop) {
        return 0;
    }
    keys_path(cfg, "user_ca", path, sizeof(path));
    if (a->separate) {
        struct stat st;

        /*
         * keys/ is the gateway's, so that account (a session child's) can
         * put a key of its own making in user_ca's place.  Handing that to
         * the signer would make it the CA (and `drawbridge keys` would have
         * new targets trust it): a CA key is only ever root's (as created)
         * or the signer's.
         */
        if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == a->service_uid) {
            db_errf(err, errlen,
                    "%s belongs to the gateway's account (uid %d), which session processes run "
                    "as: it may have been replaced. Check that it is the CA the targets trust, "
                    "then `chown %s` it (or remove it for a new CA)",
                    path, (int)a->service_uid, a->signer_name);
            return DB_ERR_INVALID;
        }
    }
    if ((r = signer_own(path, a->signer_uid, a->signer_gid, 0600, err, errlen)) != 0) {
        return r;
    }
    /* its public half (written again from it at this start, keys.c): not rewritable in place */
    keys_path(cfg, "user_ca.pub", dir, sizeof(dir));
    if ((r = signer_own(dir, a->signer_uid, a->signer_gid, 0644, err, errlen)) != 0) {
        return r;
    }
    if (!a->separate) {
        return 0;
    }
    /*
     * The signer's group may pass through (not list) the directories above
     * user_ca, from the keys directory up to state_dir, so the signer can
     * open the one file it owns and nothing else it was not given.
     */
    snprintf(dir, sizeof(dir), "%s", path);
    for (;;) {
        char *slash = strrchr(dir, '/');

        if (slash == NULL || slash == dir) {
            break;
        }
        *slash = '\0';
        if ((r = signer_own(dir, a->service_uid, a->signer_gid, 0710, err, errlen)) != 0) {
            return r;
        }
        if (strlen(dir) <= slen) {
            break; /* state_dir itself (or a keys_dir outside it: only its own directory) */
        }
        if (strncmp(dir, cfg->state_dir, slen) != 0 || dir[slen] != '/') {
            break;
        }
    }
    return 0;
}

int signer_accounts_as_root(const struct config *cfg, struct signer_accounts *a, char *err,
                            size_t errlen)
{
    const char *svc = cfg->user;
    struct passwd *pw = NULL;

    /* as server.c (server_drop_privileges) and signer_accounts_resolve choose them */
    memset(a, 0, sizeof(*a));
    a->drop = 1;
    if (svc == NULL && getpwnam("drawbridge") != NULL) {
        svc = "drawbridge";
    }
    pw = svc != NULL ? getpwnam(svc) : NULL;
    a->service_uid = pw != NULL ? pw->pw_uid : 0;
    a->service_gid = pw != NULL ? pw->pw_gid : 0;
    return signer_accounts_resolve(cfg, a, err, errlen);
}

int signer_ca_pub_check(const struct config *cfg, char *err, size_t errlen)
{
    struct signer_accounts a;
    const char *names[] = {"user_ca", "user_ca.pub"};
    char path[4096];
    int r = 0;

    if ((r = signer_accounts_as_root(cfg, &a, err, errlen)) != 0) {
        return r;
    }
    if (!a.separate) {
        return 0; /* the gateway's account holds the CA key itself: nothing to tell apart */
    }
    for (size_t i = 0; i < 2; i++) {
        struct stat st;

        keys_path(cfg, names[i], path, sizeof(path));
        if (lstat(path, &st) != 0) {
            db_errf(err, errlen, "%s: %s", path, strerror(errno));
            return DB_ERR_IO;
        }
        if (!S_ISREG(st.st_mode) || (st.st_uid != 0 && st.st_uid != a.signer_uid)) {
            db_errf(err, errlen,
                    "%s is not a file of the signer's account (%s) or root: a process of the "
                    "gateway's account may have replaced it. Run this as root (it writes "
                    "user_ca.pub again from user_ca), or restart the daemon",
                    path, a.signer_name);
            return DB_ERR_INVALID;
        }
    }
    return 0;
}

static void signer_child_become(uid_t uid, gid_t gid, int drop, const char *what)
{
    if (drop && (setgroups(0, NULL) != 0 || setgid(gid) != 0 || setuid(uid) != 0 ||
                 (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)))) {
        log_msg(LOG_LVL_ERROR, "signer.start", "the %s cannot drop its privileges: %s", what,
                strerror(errno));
        _exit(1);
    }
    /* nothing here is for a debugger or a core file, nor for another process of this account */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

/* In the forked child: becomes the signer, after forking its checker. */
static void signer_child(const struct config *cfg, const struct signer_accounts *a, int ctl)
{
    struct sigaction sa;
    sigset_t none;
    int sv[2] = {-1, -1};
    pid_t pid;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGCHLD, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* keep stdio and the control socket; drop the listeners and everything else */
    if (ctl != 3 && (dup2(ctl, 3) != 3 || close(ctl) != 0)) {
        _exit(1);
    }
    closelog();
    close_range(4, ~0U, 0);
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        log_msg(LOG_LVL_ERROR, "signer.start", "socketpair: %s", strerror(errno));
        _exit(1);
    }
    pid = fork();
    if (pid < 0) {
        log_msg(LOG_LVL_ERROR, "signer.start", "fork: %s", strerror(errno));
        _exit(1);
    }
    if (pid == 0) {
        close(3);
        close(sv[0]);
        signer_child_become(a->service_uid, a->service_gid, a->drop, "checker");
        _exit(checker_main(cfg, sv[1]));
    }
    close(sv[1]);
    signer_child_become(a->signer_uid, a->signer_gid, a->drop, "signer");
    _exit(signer_main(cfg, 3, sv[0]));
}

int signer_start(const struct config *cfg, const struct signer_accounts *a, int *ctl, char *err,
                 size_t errlen)
{
    int sv[2] = {-1, -1}, status = 0;
    pid_t p;

    *ctl = -1;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        db_errf(err, errlen, "signer: socketpair: %s", strerror(errno));
        return DB_ERR_IO;
    }
    p = fork();
    if (p < 0) {
        db_errf(err, errlen, "signer: fork: %s", strerror(errno));
        close(sv[0]);
        close(sv[1]);
        return DB_ERR_INTERNAL;
    }
    if (p == 0) {
        pid_t q;

        close(sv[0]);
        q = fork();
        if (q != 0) {
            _exit(q < 0 ? 1 : 0);
        }
        signer_child(cfg, a, sv[1]);
    }
    close(sv[1]);
    while (waitpid(p, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        db_errf(err, errlen, "signer: fork failed");
        close(sv[0]);
        return DB_ERR_INTERNAL;
    }
    /* the listener never waits for the signer: a full queue refuses that one child */
    fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
    *ctl = sv[0];
    return 0;
}

int signer_bind(int ctl, int fd, const char *user)
{
    struct wire_w w;
    int r = DB_ERR_UNAVAIL;

    if (ctl < 0) {
        return r;
    }
    wire_w_init(&w);
    signer_bind_encode(&w, user);
    r = signer_send(ctl, &w, fd);
    wire_w_free(&w);
    return r;
}

int signer_reload(int ctl)
{
    struct wire_w w;
    int r = DB_ERR_UNAVAIL;

    if (ctl < 0) {
        return r;
    }
    wire_w_init(&w);
    signer_reload_encode(&w);
    r = signer_send(ctl, &w, -1);
    wire_w_free(&w);
    return r;
}

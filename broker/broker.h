/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The broker: configuration, keys, logging, LDAP directory access, the
 * listener, the per-connection session and the upstream relay.
 */
#ifndef DRAWBRIDGE_BROKER_H
#define DRAWBRIDGE_BROKER_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common.h"
#include "policy.h"

/* ---- config.c ---- */

struct config_listen {
    char *host; /* numeric address */
    int port;
};

struct config_ldap {
    char *url;
    int starttls;
    char *ca_file;             /* NULL: system CAs */
    char *bind_dn;
    char *bind_password_file;
    char *user_base;
    char *user_filter;         /* contains %u */
    char *group_base;
    char *group_filter;        /* contains %d and/or %u */
    char *group_name_attribute;
    char *ssh_key_attribute;
    int timeout_ms;
};

struct config_limits {
    int max_startups;
    int max_startups_per_source;
    int login_grace;           /* seconds */
    int max_auth_tries;
};

struct config {
    char *path;
    struct config_listen *listen;
    size_t nlisten;
    char *state_dir;
    char *policy_path;
    struct config_ldap ldap;
    struct config_limits limits;
    char *notify_command;      /* NULL when not set */
};

/* Parses and validates; err gets "file:line: message".  Caller frees. */
int config_load(const char *path, struct config **out, char *err, size_t errlen);
void config_free(struct config *c);

/* ---- keys.c: state_dir/keys ---- */

/*
 * Creates state_dir, state_dir/keys and state_dir/recordings (0700) and the
 * keys if absent: host_ed25519 (the gateway's host key), upstream_ed25519
 * (what the gateway authenticates to targets with), recording.hmac (32 random
 * bytes).  Returns 0 or DB_ERR_*, err gets a one-line reason.
 */
int keys_ensure(const struct config *c, char *err, size_t errlen);
/* Paths into caller buffers. */
void keys_path(const struct config *c, const char *name, char *buf, size_t buflen);

/* ---- log.c ---- */

enum log_level { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* json: one JSON object per line on stderr; syslog_too: also to syslog. */
void log_init(const char *ident, int json, int syslog_too);
/* Adds "conn=<id> peer=<addr>" context to every later line of this process. */
void log_set_context(const char *conn_id, const char *peer);
void log_msg(enum log_level lvl, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- ldap.c: the directory (the only file that includes ldap.h) ---- */

struct dir_user {
    char *name;      /* the username asked for */
    char *dn;
    char **groups;   /* group names (group_name_attribute) */
    size_t ngroups;
    char **keys;     /* ssh public keys as stored ("ssh-ed25519 AAAA... comment") */
    size_t nkeys;
};

struct dir;

/* Opens nothing yet: connections are made lazily and reused.  Caller frees. */
int dir_new(const struct config *c, struct dir **out);
void dir_free(struct dir *d);
/*
 * Looks up the user (filter escaped per RFC 4515; exactly one entry or
 * DB_ERR_NOTFOUND), their keys and their groups.  DB_ERR_UNAVAIL or
 * DB_ERR_TIMEOUT when the directory cannot be asked; err gets a one-line
 * reason that may be shown to the user (no secrets).
 */
int dir_lookup(struct dir *d, const char *user, struct dir_user **out, char *err, size_t errlen);
/*
 * Binds as u->dn with the password on a separate connection.  Empty,
 * whitespace-only or NUL-containing passwords are refused before any bind.
 * 0, DB_ERR_AUTH, DB_ERR_UNAVAIL or DB_ERR_TIMEOUT.
 */
int dir_check_password(struct dir *d, const struct dir_user *u, const char *pw, size_t pwlen,
                       char *err, size_t errlen);
void dir_user_free(struct dir_user *u);
/* RFC 4515 escaping of a filter value, then %u / %d substitution: exposed for tests. */
int dir_filter_build(const char *tmpl, const char *user, const char *dn, char **out);

/* ---- names.c: the username grammar ---- */

/*
 * Splits "USER" or "USER+TARGET" and checks both against
 * [a-z_][a-z0-9_.-]{0,63}.  user/target buffers are at least 65 bytes;
 * target is "" when absent.  0 or DB_ERR_INVALID.
 */
int names_parse_login(const char *s, char *user, char *target);
int names_valid(const char *s, size_t len);

/* ---- relay.c: channels and the bytes that cross them ---- */

/*
 * The recording hook: every byte of every channel, both directions, passes
 * through hook->data exactly once, in order, with the time it crossed.  A hook
 * that returns non-zero ends the channel (recording is fail-closed).
 */
enum relay_dir {
    RELAY_DIR_IN,  /* engineer -> target (or the gateway's shell) */
    RELAY_DIR_OUT, /* target (or the shell) -> engineer */
};

struct relay_chan_info {
    unsigned id;          /* per connection, from 1 */
    const char *user;
    const char *target;   /* "" for the gateway's own shell */
    const char *login;    /* upstream login; "" for the shell */
    const char *kind;     /* "shell", "exec" or "subsystem" */
    const char *command;  /* exec command or subsystem name; NULL for shell */
    const char *term;     /* TERM of the pty; NULL without a pty */
    int cols, rows;
};

struct relay_hook {
    void *ctx;
    int (*open)(void *ctx, const struct relay_chan_info *ci, const struct timespec *ts);
    int (*data)(void *ctx, unsigned id, enum relay_dir dir, int is_stderr, const char *buf,
                size_t len, const struct timespec *ts);
    int (*resize)(void *ctx, unsigned id, int cols, int rows, const struct timespec *ts);
    void (*close)(void *ctx, unsigned id, int exit_status, const char *exit_signal,
                  const struct timespec *ts);
};

/* A growable byte queue; consumed from the front. */
struct rbuf {
    char *data;
    size_t off, len, cap;
};
int rbuf_append(struct rbuf *b, const void *p, size_t n);
void rbuf_consume(struct rbuf *b, size_t n);
void rbuf_free(struct rbuf *b);
static inline size_t rbuf_used(const struct rbuf *b)
{
    return b->len - b->off;
}

/* ---- session.c: one engineer connection (runs in a forked child) ---- */

struct session_opts {
    const struct config *cfg;
    const struct policy *policy;
    void *bind;          /* ssh_bind holding the host key */
    int fd;              /* the accepted socket */
    const char *peer;    /* "addr:port" */
    int status_fd;       /* write end of a pipe to the listener: "A" once authenticated */
};
/* Serves one connection to its end; returns the process exit code. */
int session_run(const struct session_opts *o);

/* ---- server.c: the listener ---- */

struct server_opts {
    const char *config_path;
    int foreground;
    int log_json;
};
int server_run(const struct server_opts *o);

#endif

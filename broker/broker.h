/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The broker: configuration, keys, logging, LDAP directory access, the
 * listener, the per-connection session and the upstream relay.
 */
#ifndef DRAWBRIDGE_BROKER_H
#define DRAWBRIDGE_BROKER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
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
    /* recent failures from one source address before its attempts are answered slowly */
    int slow_after_failures;
};

/* The web console (DESIGN.md, "Web console"); absent from the file: enabled = 0. */
struct config_web {
    int enabled;
    struct config_listen *listen;
    size_t nlisten;
    char *tls_cert;   /* PEM; NULL: self-signed under keys_dir (web_tls.crt, web_tls.key) */
    char *tls_key;
    char *public_url; /* "https://HOST[:PORT]", no path, no trailing slash */
    char *files;      /* the static files (HTML, CSS, JS, player); NULL: the built-in path */
};

/* A free-space watermark: a share of the file system or a number of bytes (0: off). */
struct config_free {
    int is_percent;
    double percent;           /* 0 to 100, exclusive of 100 */
    unsigned long long bytes;
};

/* recordings: how long they are kept and what disk they may use. */
struct config_recordings {
    long long retain;             /* seconds after a session ended; 0: keep forever */
    int retain_line;              /* where retain is written (lint messages) */
    struct config_free warn_free; /* below it: a warning and a notification every hour */
    struct config_free min_free;  /* below it: new sessions to targets are refused */
};

/* audit: how long rows stay in the store before they go to a sealed archive file. */
struct config_audit {
    long long retain;  /* seconds; 0: keep forever (never shorter than recordings.retain) */
    char *archive_dir; /* where the archives go; default state_dir/audit-archive */
};

/* upstream: how the gateway logs in to targets (DESIGN.md, "Per-session certificates") */
enum config_upstream_auth { CONFIG_UPSTREAM_KEY = 0, CONFIG_UPSTREAM_CERTIFICATE = 1 };

struct config_upstream {
    int auth;                  /* enum config_upstream_auth; a target may override */
    long long cert_ttl;        /* seconds a certificate can be used to log in; default 120 */
    char *signer_user;         /* the signer's account (root-started daemons); NULL: see signer.h */
    int cert_rate;             /* certificates per user per minute; default 120 */
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
    char *user;                /* the account to run as when started as root; NULL: see server.c */
    struct config_web web;
    struct config_recordings recordings;
    struct config_audit audit;
    struct config_upstream upstream;
    /* more than one gateway (NULL: the single-gateway default) */
    char *store_url;           /* store.url: postgresql://...; NULL: SQLite in state_dir */
    char *store_password_file; /* store.password_file: the password, when not in the URL */
    char *recordings_dir;      /* NULL: state_dir/recordings (config_recordings_dir) */
    char *keys_dir;            /* NULL: state_dir/keys (keys_path) */
    char *audit_forward_file;  /* audit_forward: {file: PATH} */
    int audit_forward_syslog;  /* audit_forward: syslog */
    int store_grace;           /* seconds live sessions outlast an unreachable store */
};

/* The login method for target t: its upstream_auth, else upstream.auth. */
int config_target_uses_certificate(const struct config *c, const struct policy_target *t);

/* Parses and validates; err gets "file:line: message".  Caller frees. */
int config_load(const char *path, struct config **out, char *err, size_t errlen);
void config_free(struct config *c);
/* recordings_dir, or state_dir/recordings, into buf. */
void config_recordings_dir(const struct config *c, char *buf, size_t buflen);

/* ---- keys.c: state_dir/keys ---- */

/*
 * Creates state_dir, state_dir/keys and state_dir/recordings (0700) and the
 * keys if absent: host_ed25519 (the gateway's host key), upstream_ed25519
 * (what the gateway authenticates to targets with in key mode), user_ca and
 * user_ca.pub (the certificate authority of certificate mode), recording.hmac
 * and mfa.key (32 random bytes each).  Returns 0 or DB_ERR_*, err gets a
 * one-line reason.
 */
int keys_ensure(const struct config *c, char *err, size_t errlen);
/*
 * handover.c: gives the tree at path to uid:gid without ever following a
 * link (see there); entries whose device and inode are in skip are left.
 */
struct stat;
int handover_tree(const char *path, uid_t uid, gid_t gid, const struct stat *skip, size_t nskip,
                  char *err, size_t errlen);
/* The same; make_ca 0: a missing CA key (user_ca) is left for the daemon to make. */
int keys_ensure_ex(const struct config *c, int make_ca, char *err, size_t errlen);
/* Paths into caller buffers. */
void keys_path(const struct config *c, const char *name, char *buf, size_t buflen);

/* ---- disk.c: free space for recordings, against recordings.warn_free / min_free ---- */

enum disk_level {
    DISK_OK,
    DISK_LOW,  /* below warn_free: warn and notify every hour */
    DISK_FULL, /* below min_free: "disk nearly full", new sessions to targets are refused */
};

struct disk_state {
    char path[4200];                     /* the recordings folder */
    unsigned long long free_bytes;       /* what the service account may still use */
    unsigned long long total_bytes;
    double free_percent;
    unsigned long long warn_bytes, min_bytes; /* the watermarks on this file system */
    enum disk_level level;
};

void disk_recordings_dir(const struct config *c, char *buf, size_t buflen);
/* 0 or DB_ERR_IO with a one-line reason. */
int disk_check(const struct config *c, struct disk_state *out, char *err, size_t errlen);
/* "ok", "low", "nearly full". */
const char *disk_level_name(enum disk_level l);
/* "12.3 GiB"; a watermark as configured ("10%", "500.0 MiB"). */
void disk_format_bytes(unsigned long long n, char *buf, size_t buflen);
void disk_format_free(const struct config_free *f, char *buf, size_t buflen);
/* "1.2 GiB free of 50.0 GiB (2.4%) on PATH[, below recordings.min_free 2%]". */
void disk_describe(const struct config *c, const struct disk_state *d, char *buf, size_t buflen);

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
/*
 * libldap's process-wide setup, done by the listener before it forks: the
 * libraries and plugins it loads are then shared by every session child
 * instead of loaded by each (tens of KiB per session).
 */
void dir_preload(void);
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
    const char *session;  /* the session row's id; NULL for the gateway's shell */
    long long grant;      /* 0: standing access */
    int record_input;     /* the target's record_input */
};

struct relay_hook {
    void *ctx;
    int (*open)(void *ctx, const struct relay_chan_info *ci, const struct timespec *ts);
    int (*data)(void *ctx, unsigned id, enum relay_dir dir, int is_stderr, const char *buf,
                size_t len, const struct timespec *ts);
    int (*resize)(void *ctx, unsigned id, int cols, int rows, const struct timespec *ts);
    /* A one-line note in the record (sftp file operations, why a session ended). */
    int (*note)(void *ctx, unsigned id, const char *text, const struct timespec *ts);
    /* Called per open channel when due says (flushes); non-zero ends the channel. */
    int (*tick)(void *ctx, unsigned id, const struct timespec *ts);
    /* When tick next has work (monotonic ms), LLONG_MAX for never: idle costs nothing. */
    long long (*due)(void *ctx);
    /* The connection goes idle after activity: memory kept for bursts can go back. */
    void (*trim)(void *ctx);
    /*
     * The channel ended; sha256/hmac (REC_HEX_LEN + 1 bytes each) receive the
     * sealed record's digests, or "" when there is none (or it failed).
     */
    void (*close)(void *ctx, unsigned id, int exit_status, const char *exit_signal,
                  const struct timespec *ts, char *sha256, char *hmac);
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

/*
 * ---- readahead.c: reads of up to 256 KiB under libssh's 4 KiB ones, for a session's
 * two SSH sockets.  The file also defines recv, read, poll and close for the
 * whole program (see there); every descriptor not attached passes through.
 */
/* Reads ahead on fd from now on; 0, or -1 when all slots are taken (it then reads as before). */
int readahead_attach(int fd);
/* Forgets fd and what was read ahead on it (close does the same). */
void readahead_detach(int fd);
/* Bytes read from fd that libssh has not taken yet. */
size_t readahead_pending(int fd);
/* Gives back the buffers that hold nothing (a session going idle). */
void readahead_trim(void);

/* ---- session.c: one engineer connection (runs in a forked child) ---- */

struct session_opts {
    const struct config *cfg;
    const struct policy *policy;
    void *bind;          /* ssh_bind holding the host key */
    int fd;              /* the accepted socket */
    const char *peer;    /* "addr:port" */
    int status_fd;       /* write end of a pipe to the listener: "F" per failure, "A<user>\n" once in */
    int signer_fd;       /* this child's socket to the certificate signer; -1: none */
    int fail_delay_ms;   /* answer each failed attempt this late (the source has been failing) */
};
/* Serves one connection to its end; returns the process exit code. */
int session_run(const struct session_opts *o);

/* ---- sftp.c: a passive SFTP observer for the audit ---- */

#define SFTP_HEAD_MAX 8192          /* bytes of each packet kept for parsing */
#define SFTP_PACKET_MAX (1u << 20)  /* larger packets are not sftp as OpenSSH speaks it */
#define SFTP_HANDLE_MAX 256
#define SFTP_HANDLES_MAX 64
#define SFTP_PENDING_MAX 64

/*
 * op: "open-read", "open-write", "list", "read" / "write" (at close, with the
 * byte count), "remove", "mkdir", "rmdir", "setstat", "rename", "symlink",
 * "hardlink" (path2 set; rename also from posix-rename@openssh.com).  Paths are as the client sent them (not validated UTF-8).
 */
typedef void (*sftp_event_fn)(void *ctx, const char *op, const char *path, const char *path2,
                              unsigned long long bytes);

struct sftp_handle {
    unsigned char h[SFTP_HANDLE_MAX];
    size_t hlen;
    char *path;
    int write;
    unsigned long long bytes_read, bytes_written;
};

struct sftp_pending {
    uint32_t id;
    int write;
    char *path;
};

struct sftp_read {
    uint32_t id;
    unsigned char h[SFTP_HANDLE_MAX];
    size_t hlen;
};

struct sftp_dir {
    unsigned char head[SFTP_HEAD_MAX];
    size_t have, want;
    uint32_t total;
    unsigned long long skip;
};

struct sftp_watch {
    sftp_event_fn fn;
    void *ctx;
    struct sftp_dir dir[2]; /* 0: from the client, 1: from the server */
    struct sftp_handle handles[SFTP_HANDLES_MAX];
    size_t nhandles;
    struct sftp_pending pending[SFTP_PENDING_MAX];
    size_t npending;
    struct sftp_read reads[SFTP_PENDING_MAX];
    size_t nreads;
    int lost; /* the stream stopped looking like sftp */
};

void sftp_watch_init(struct sftp_watch *w, sftp_event_fn fn, void *ctx);
void sftp_watch_feed(struct sftp_watch *w, int from_client, const void *buf, size_t len);
/* Reports totals for files still open and frees what the watch holds. */
void sftp_watch_finish(struct sftp_watch *w);

/* ---- notify.c: notify_command ---- */

struct json_t;
/*
 * Runs cfg->notify_command (if set) with obj as one line of JSON on stdin, in
 * a supervised background process with a timeout; never blocks the caller.
 * The caller reaps finished supervisors with notify_reap().
 */
void notify_send(const struct config *c, const char *event, struct json_t *obj);
void notify_reap(void);

/* ---- server.c: the listener ---- */

struct server_opts {
    const char *config_path;
    int foreground;
    int log_json;
};
int server_run(const struct server_opts *o);
/* Binds one listening TCP socket (non-blocking, close-on-exec) to l.  0 or DB_ERR_*, err set. */
int server_listen_one(const struct config_listen *l, int *out, char *err, size_t errlen);

/* ---- wake.c: telling the session children that their sessions changed ---- */

/*
 * Session children never poll the store: they sleep until a packet, a
 * deadline of their own (a grant's end and its warnings) or a wake-up.  A
 * process that changes what live sessions may do calls wake_send once its
 * change is committed:
 *
 *   wake_send(WAKE_GRANT, "12")   grant 12 was revoked (access_revoke does it)
 *   wake_send(WAKE_SESSION, id)   session id was asked to end (`terminate` does it)
 *   wake_send(WAKE_USER, "alice") something about alice changed (MFA reset, ...)
 *   wake_send(WAKE_POLICY, NULL)  the policy was reloaded (the listener on SIGHUP)
 *   wake_send(WAKE_ALL, NULL)     anything else (e.g. a store notification that
 *                                 names nothing): every session re-checks
 *
 * Any process of the daemon may call it: the listener makes the pipe
 * (wake_init) before it forks anything, every process forked from it
 * inherits the write end (session children, the web console, ...), and the
 * listener may call it itself (SIGHUP; a LISTEN/NOTIFY from PostgreSQL).  A
 * program started with exec does not inherit it.  The listener reads the
 * pipe in its loop (wake_fd, wake_dispatch), finds the live sessions
 * concerned in the store and signals only its own children serving them:
 * SIGUSR1 = re-check grants and termination requests, SIGUSR2 = load the
 * policy again and re-check; when the store cannot say, it wakes all of
 * them.  The woken child acts within milliseconds.
 *
 * wake_send never fails the caller's action: 0, or DB_ERR_UNAVAIL without a
 * listener (the CLI, unit tests), DB_ERR_IO when the listener is gone or
 * does not read (logged as wake.lost).  It may wait up to a second when the
 * pipe is full.  A session child that execs a program must unblock the
 * signals first (wake_child_unblock), as notify.c does.
 */
enum wake_kind { WAKE_ALL, WAKE_SESSION, WAKE_GRANT, WAKE_USER, WAKE_POLICY };
int wake_send(enum wake_kind kind, const char *id);

/* The listener: makes the pipe (before any fork); the read end to poll; in a forked child. */
int wake_init(char *err, size_t errlen);
int wake_fd(void);
void wake_forked(void);
/* Reads what is pending and signals the children concerned among kids[0..nkids). */
void wake_dispatch(const struct config *cfg, const pid_t *kids, size_t nkids);

/*
 * A session child: blocks SIGUSR1, SIGUSR2, SIGTERM and SIGCHLD and returns
 * a signalfd for them (non-blocking; -1 on failure); wake_child_read drains
 * it into WAKE_CHILD_* bits.
 */
#define WAKE_CHILD_CHECK 1u  /* re-check grants and termination requests */
#define WAKE_CHILD_POLICY 2u /* load the policy again (and re-check) */
#define WAKE_CHILD_TERM 4u   /* SIGTERM: end every session and exit */
#define WAKE_CHILD_REAP 8u   /* SIGCHLD: reap notify supervisors */
int wake_child_fd(void);
unsigned wake_child_read(int fd);
void wake_child_unblock(void);

/*
 * ======================================================================
 * Store, audit chain and access (store/, audit.c, access.c, admin.c)
 * ======================================================================
 *
 * Times are integer unix seconds passed in by the caller; nothing below
 * reads the clock (admin.c, the CLI, is the exception).  Every function
 * returns 0 or a negative DB_ERR_*; functions taking err fill it with one
 * line a user may see when they refuse or fail.
 *
 * Request ids (which are also grant ids) are sequential integers, short
 * enough to type: they are not secrets.  What protects a request is that
 * every action on it is authorised against the policy (only the requester
 * cancels, only eligible approvers other than the requester decide, listing
 * and `show` are scoped), so knowing or guessing a number gives nothing.
 * Session ids are random (STORE_SESSION_ID_LEN characters of [a-z2-7],
 * 80 bits) because a session id alone is what reviewers type to watch one.
 */

/* ---- audit.c: the chain's canonical form, the head anchor, the verifier ---- */

#define AUDIT_HASH_HEX 64 /* SHA-256 in lowercase hex, without the NUL */

/*
 * One audit row.  The canonical form hashed into the chain is
 *
 *   "drawbridge-audit-v1\n" then, for each of seq, time, actor, event,
 *   object, details, prev_hash in that order, a netstring:
 *   <decimal byte length> ":" <bytes> ","
 *
 * where seq and time are written in decimal (no sign for positive values,
 * no leading zeros) and NULL strings are empty.  hash = SHA-256 of that, in
 * lowercase hex; row N's prev_hash is row N-1's hash, row 1's is 64 zeros.
 */
struct audit_row {
    long long seq;
    long long time;
    const char *actor;   /* user name, or "system" */
    const char *event;   /* "request.create", "grant.start", ... */
    const char *object;  /* "request 12", "grant 12", "session ab3…", a user name */
    const char *details; /* JSON object text, compact, keys sorted */
    char prev_hash[AUDIT_HASH_HEX + 1];
    char hash[AUDIT_HASH_HEX + 1];
};

/* hash of row->... (prev_hash included) into hex (65 bytes).  0 or DB_ERR_*. */
int audit_row_hash(const struct audit_row *row, char hex[AUDIT_HASH_HEX + 1]);

/*
 * The head anchor, state_dir/audit.head: the last seq and its hash, sealed
 * with HMAC-SHA256 under the 32-byte key state_dir/keys/recording.hmac.  It
 * lives outside the database so that deleting the chain's tail is detected.
 * It only ever moves forward, and only to a row that extends the anchored
 * one, so evidence of a truncation survives later writes.
 */
struct audit_head {
    long long seq; /* 0: empty chain */
    char hash[AUDIT_HASH_HEX + 1];
};
/* 0, DB_ERR_NOTFOUND (no file) or DB_ERR_TAMPERED (bad format or HMAC). */
int audit_head_read(const char *path, const unsigned char key[32], struct audit_head *out,
                    char *err, size_t errlen);
/* Writes path.tmp.PID, fsync, rename, fsync of the directory. */
int audit_head_write(const char *path, const unsigned char key[32], const struct audit_head *h,
                     char *err, size_t errlen);

/*
 * The verifier: fed every row in seq order, it reports the first bad one as
 * "audit row N: <what is wrong>" (DB_ERR_TAMPERED).  head may be NULL (no
 * anchor to compare with).  Pure: the store drives it (store_audit_verify).
 */
struct audit_verifier {
    const struct audit_head *head;
    long long nrows;
    long long expect_seq;
    char prev_hash[AUDIT_HASH_HEX + 1];
    int head_seen; /* the anchored row was met and matched */
    /* the chain starts after row 1: rows up to base_seq were archived (audit.c) */
    long long base_seq;
    char base_hash[AUDIT_HASH_HEX + 1];
    int base_proved; /* an audit.archive row accounts for them */
};
/* The event of the row written when retention archives the oldest rows. */
#define AUDIT_ARCHIVE_EVENT "audit.archive"
void audit_verify_begin(struct audit_verifier *v, const struct audit_head *head);
int audit_verify_row(struct audit_verifier *v, const struct audit_row *row, char *err,
                     size_t errlen);
/* After the last row: checks the anchor is not past the end; *nrows may be NULL. */
int audit_verify_end(struct audit_verifier *v, long long *nrows, char *err, size_t errlen);

/* ---- archive.c: sealed files of archived audit rows (audit retention) ---- */

struct archive_info {
    long long first, last;              /* the rows it holds */
    char prev_hash[AUDIT_HASH_HEX + 1]; /* what row `first` chains to */
    char last_hash[AUDIT_HASH_HEX + 1];
    char sha256[AUDIT_HASH_HEX + 1];    /* of the file up to its seal line */
};
struct store;
/*
 * Writes the store's rows up to `through` (every row it still holds up to
 * it) to dir/audit-FIRST-LAST.jsonl, sealed with key; path gets the file.
 * 0, or DB_ERR_* with err.
 */
int archive_write(struct store *s, const char *dir, const unsigned char key[32], long long through,
                  struct archive_info *info, char *path, size_t pathlen, char *err, size_t errlen);
/* Checks one archive: every row's hash and link, the sha256 and the seal. DB_ERR_TAMPERED + err. */
int archive_verify_file(const char *path, const unsigned char key[32], struct archive_info *info,
                        char *err, size_t errlen);
/* The audit-*.jsonl files of dir by first row (none: 0 and *n = 0).  Free with archive_list_free. */
struct archive_entry {
    long long first, last; /* from the name */
    char *path;
};
int archive_list(const char *dir, struct archive_entry **out, size_t *n);
void archive_list_free(struct archive_entry *v, size_t n);

/* ---- retention.c: recordings.retain and audit.retain ---- */

struct retention_stats {
    int expired;   /* recordings expired by this run (audit row written) */
    int removed;   /* their files removed */
    int finished;  /* files of an earlier, interrupted run removed */
    long long archived;         /* audit rows moved to an archive file */
    long long sessions_dropped; /* session rows whose expiry was archived with them */
};
/* One run: what a crash left, expiring recordings, archiving audit rows. 0 or DB_ERR_*. */
int retention_run(const struct config *c, long long now, struct retention_stats *st);
/*
 * DB_ERR_INVALID with "file:line: recordings.retain: ..." when a session has
 * waited for its review longer than recordings.retain (it is kept, but the
 * operator must know); 0 otherwise, or when there is no store yet.
 */
int retention_lint(const struct config *c, long long now, char *err, size_t errlen);

/* ---- store/: one interface, two backends (store/store-int.h says which file does what) ---- */

#define STORE_NAME_MAX 64     /* users, targets, logins, rule names */
#define STORE_TEXT_MAX 1024   /* reasons and comments, bytes */
#define STORE_TICKET_MAX 128
#define STORE_SESSION_ID_LEN 16

enum store_request_status {
    STORE_REQ_PENDING,
    STORE_REQ_APPROVED,
    STORE_REQ_DENIED,
    STORE_REQ_CANCELLED,
    STORE_REQ_EXPIRED,
};

enum store_grant_status {
    STORE_GRANT_NONE = 0, /* the request has no grant */
    STORE_GRANT_ACTIVE,
    STORE_GRANT_REVOKED,
    STORE_GRANT_EXPIRED,
};

/* "pending", "approved", ...; "active", "revoked", "expired", "none". */
const char *store_request_status_name(enum store_request_status st);
const char *store_grant_status_name(enum store_grant_status st);

struct store_request {
    long long id;                         /* also the grant's id */
    char requester[STORE_NAME_MAX + 1];
    char target[STORE_NAME_MAX + 1];
    char login[STORE_NAME_MAX + 1];
    char rule[STORE_NAME_MAX + 1];        /* "" for break-glass */
    long long duration;                   /* seconds asked for */
    char reason[STORE_TEXT_MAX + 1];
    char ticket[STORE_TICKET_MAX + 1];    /* "" when none */
    enum store_request_status status;
    long long created_at;
    long long expires_at;                 /* created_at + request_ttl */
    long long decided_at;                 /* 0 while pending */
    char decided_by[STORE_NAME_MAX + 1];  /* final approver, denier, canceller; "system" */
    int approvals_needed;
    int approvals;                        /* distinct approve decisions so far */
    int breakglass;
};

struct store_decision {
    long long request_id;
    char approver[STORE_NAME_MAX + 1];
    int approve;                          /* 1 approve, 0 deny */
    char comment[STORE_TEXT_MAX + 1];     /* "" when none */
    long long at;
};

struct store_grant {
    long long id;                         /* = its request's id */
    char user[STORE_NAME_MAX + 1];
    char target[STORE_NAME_MAX + 1];
    char login[STORE_NAME_MAX + 1];
    char rule[STORE_NAME_MAX + 1];        /* "" for break-glass */
    long long starts_at, ends_at;
    enum store_grant_status status;
    char revoked_by[STORE_NAME_MAX + 1];
    char revoke_reason[STORE_TEXT_MAX + 1];
    long long revoked_at;                 /* 0 unless revoked */
    int breakglass;
    int review_required;
};

struct store_session {
    char id[STORE_SESSION_ID_LEN + 1];
    char user[STORE_NAME_MAX + 1];
    char target[STORE_NAME_MAX + 1];      /* "" for the gateway's shell */
    char login[STORE_NAME_MAX + 1];
    long long grant_id;                   /* 0: standing access or shell */
    char kind[16];                        /* "shell", "exec", "subsystem" */
    char *command;                        /* NULL for shell; owned, see store_session_clear */
    long long started_at, ended_at;       /* ended_at 0 while live */
    int exit_status;                      /* -1 when unknown */
    char *recording_path;                 /* owned; NULL when none */
    char sha256[AUDIT_HASH_HEX + 1];      /* "" until sealed */
    char hmac[AUDIT_HASH_HEX + 1];
    int review_required;
    char reviewed_by[STORE_NAME_MAX + 1]; /* "" until reviewed */
    long long reviewed_at;
    char *review_note;                    /* owned; NULL until reviewed */
    unsigned long long bytes_in, bytes_out; /* so far (about once a second, within 5 s) */
    long long pid;                        /* the session child serving it (set by insert) */
    long long expired_at;                 /* retention: when its recording expired; 0: kept */
    int expire_done;                      /* retention: the file is gone */
};
/* Frees the owned strings of one session (not s itself). */
void store_session_clear(struct store_session *s);
/* Frees an array from store_session_list. Accepts NULL. */
void store_sessions_free(struct store_session *v, size_t n);

struct store;

/*
 * Opens (creating, migrating) state_dir/drawbridge.db in WAL mode with a 5 s
 * busy timeout and foreign keys on, and reads the anchor key
 * state_dir/keys/recording.hmac (keys_ensure creates it; missing is an
 * error).  One handle per process: open it after fork, never carry one
 * across.  A process that forks while holding a handle (the listener) must
 * leave the child's inherited copy untouched -- not even store_close, which
 * could checkpoint the WAL under the parent -- so it is simplest to close
 * before fork and reopen after.  Caller frees with store_close.
 */
int store_open(const char *state_dir, struct store **out, char *err, size_t errlen);
/*
 * The same for a gateway's config: PostgreSQL when store.url is set (any
 * number of gateways may share it; errors name store.url), SQLite in
 * state_dir otherwise; the anchor key from keys_dir; audit rows also leave
 * through audit_forward.  The anchor (audit.head) stays in state_dir: each
 * gateway keeps its own.  store_open(dir) is this with only state_dir set.
 */
int store_open_config(const struct config *c, struct store **out, char *err, size_t errlen);
void store_close(struct store *s);
/*
 * A gateway joining a shared store (PostgreSQL) whose chain already has rows
 * has no anchor yet: the first `serve` anchors it at the chain's current
 * end (state_dir/audit.head) and appends an "audit.anchor" row saying which
 * host did, so that an anchor made again later (deleted behind its back)
 * shows in the chain.  Nothing for SQLite, whose missing anchor is evidence.
 */
int store_anchor_adopt(struct store *s, long long now, char *err, size_t errlen);
/* 1 when other gateways may write the same store (PostgreSQL). */
int store_backend_is_shared(const struct store *s);

/*
 * Changes made on other gateways (PostgreSQL only: LISTEN on the channel
 * "drawbridge", which triggers of the schema notify on commit; see
 * store/schema.c, migration 6).  Each payload is a wake-up line, "grant N"
 * or "session ID" (wake.c).  store_watch_open makes a second connection
 * next to s (which may be closed afterwards); *w is NULL for SQLite, where
 * nothing changes elsewhere.  The listener polls store_watch_fd and calls
 * store_watch_read when it is readable; DB_ERR_UNAVAIL means the connection
 * broke: close it, reopen later and assume something was missed.  A forked
 * child calls store_watch_forked (never store_watch_close) on its copy.
 */
struct store_watch;
int store_watch_open(struct store *s, struct store_watch **w, char *err, size_t errlen);
int store_watch_fd(const struct store_watch *w);
int store_watch_read(struct store_watch *w, void (*fn)(void *ctx, const char *payload), void *ctx);
void store_watch_forked(struct store_watch *w);
void store_watch_close(struct store_watch *w);
/* A process about to sleep long (an idle session): caches the store can rebuild go back. */
void store_release_memory(struct store *s);

/*
 * Transactions, for access.c: store_begin is BEGIN IMMEDIATE (so a
 * read-check-write inside it is race-free across processes); store_commit
 * commits and then advances the head anchor if audit rows were added;
 * store_rollback is safe to call when no transaction is open.  Nested begins
 * are refused (DB_ERR_INTERNAL).
 */
int store_begin(struct store *s);
int store_commit(struct store *s, char *err, size_t errlen);
void store_rollback(struct store *s);

/*
 * Appends one audit row (details: JSON object text or NULL for "{}").  Inside
 * a transaction it joins it; outside it runs in its own.  *seq_out may be NULL.
 */
int store_audit_append(struct store *s, long long now, const char *actor, const char *event,
                       const char *object, const char *details, long long *seq_out);
/* Calls fn for every row with time >= since (0: all), in seq order; fn returns non-zero to stop. */
int store_audit_foreach(struct store *s, long long since,
                        int (*fn)(void *ctx, const struct audit_row *row), void *ctx);
/*
 * Audit retention (retention.c): the newest seq whose time is before
 * `before` (0: none), and deleting every row up to `through` -- only ever
 * in the transaction that appends the "audit.archive" row accounting for
 * them (the verifier requires it).
 */
int store_audit_seq_before(struct store *s, long long before, long long *seq);
/* The newest row's seq and hash (0 and 64 zeros for an empty chain). */
int store_audit_last(struct store *s, long long *seq, char hash[AUDIT_HASH_HEX + 1]);
int store_audit_delete_through(struct store *s, long long through);
/* Calls fn with the newest row of that event; DB_ERR_NOTFOUND when there is none. */
int store_audit_last_event(struct store *s, const char *event,
                           int (*fn)(void *ctx, const struct audit_row *row), void *ctx);
/*
 * Checks the whole chain against itself and the head anchor.  0 with *nrows,
 * or DB_ERR_TAMPERED with "audit row N: <what is wrong>" (or "audit head:
 * ...") in err.  nrows may be NULL.
 */
int store_audit_verify(struct store *s, long long *nrows, char *err, size_t errlen);
/*
 * Compares the chain with a forwarded copy (audit_forward; store/forward.c
 * describes the form): DB_ERR_TAMPERED with "audit row N: removed|changed|
 * the chain was rebuilt ..." when the store's history differs from what was
 * forwarded.  *checked: rows found in both; *unforwarded: store rows after
 * the copy's first that it lacks (other gateways' rows, or lost in a crash).
 */
/*
 * `drawbridge migrate`: copies the SQLite store db_path (a drawbridge.db)
 * into the empty PostgreSQL store of c->store_url in one transaction, chain
 * intact, and appends a "store.migrate" audit row.  Progress to out.
 * DB_ERR_EXISTS when the target is not empty; err says why it refused.
 */
int store_migrate_from_sqlite(const struct config *c, const char *db_path, long long now, FILE *out,
                              char *err, size_t errlen);
int store_audit_verify_forwarded(struct store *s, const char *path, long long *checked,
                                 long long *unforwarded, char *err, size_t errlen);

/* Users seen: first_seen kept, last_seen and dn updated. */
int store_user_seen(struct store *s, const char *user, const char *dn, long long now);

/*
 * Row operations, for access.c (the rules live there; these only read and
 * write, inside the caller's transaction when one is open).  Everything else
 * should go through access_*.
 */
/* r->id is assigned (out). */
int store_request_insert(struct store *s, struct store_request *r);
/* DB_ERR_NOTFOUND when absent.  approvals is counted from the decisions. */
int store_request_get(struct store *s, long long id, struct store_request *out);
/* Sets status, decided_at and decided_by. */
int store_request_set_status(struct store *s, long long id, enum store_request_status st,
                             long long at, const char *by);
/* DB_ERR_EXISTS when this approver already decided this request. */
int store_decision_insert(struct store *s, const struct store_decision *d);
/* *out is an array the caller frees with free(); in time order. */
int store_decision_list(struct store *s, long long request_id, struct store_decision **out,
                        size_t *n);
int store_grant_insert(struct store *s, const struct store_grant *g);
int store_grant_get(struct store *s, long long id, struct store_grant *out);
/* Sets status (and revoked_* when st is STORE_GRANT_REVOKED). */
int store_grant_set_status(struct store *s, long long id, enum store_grant_status st,
                           long long at, const char *by, const char *reason);

/*
 * Listing filters.  requester NULL: anyone.  status_mask: bit (1 << status),
 * 0: any.  Newest first, at most limit rows (0: 1000).  Caller frees with free().
 */
int store_request_list(struct store *s, const char *requester, unsigned status_mask, size_t limit,
                       struct store_request **out, size_t *n);
/* Grants with status ACTIVE and starts_at <= now < ends_at; user NULL: anyone. */
int store_grant_list_live(struct store *s, const char *user, long long now,
                          struct store_grant **out, size_t *n);
/* The live grant for (user, target, login) ending last, or DB_ERR_NOTFOUND.  Indexed. */
int store_grant_find_live(struct store *s, const char *user, const char *target,
                          const char *login, long long now, struct store_grant *out);
/* Pending requests with expires_at <= now, and active grants with ends_at <= now. */
int store_request_list_stale(struct store *s, long long now, long long **ids, size_t *n);
int store_grant_list_stale(struct store *s, long long now, long long **ids, size_t *n);
/* Pending requests of requester (for the per-user cap). */
int store_request_count_pending(struct store *s, const char *requester, long long *n);

/*
 * Sessions (rows for recordings).  store_session_insert fills s->id with a
 * fresh random id, or uses the one already there (from store_session_id_new:
 * a certificate named the session before its row existed).  store_session_end sets ended_at, exit_status and, when
 * not NULL, recording sha256/hmac.  store_session_review sets reviewed_*.
 */
int store_session_insert(struct store *s, struct store_session *row);
int store_session_id_new(char id[STORE_SESSION_ID_LEN + 1]);
int store_session_end(struct store *s, const char *id, long long ended_at, int exit_status,
                      const char *sha256, const char *hmac);
int store_session_set_recording(struct store *s, const char *id, const char *path);
int store_session_review(struct store *s, const char *id, const char *reviewer, long long at,
                         const char *note);
/* Caller calls store_session_clear. */
int store_session_get(struct store *s, const char *id, struct store_session *out);
/*
 * live_only: ended_at = 0; review_pending: review_required and not reviewed;
 * user/target NULL: any.  Newest first, at most limit (0: 1000).  Caller
 * frees with store_sessions_free.
 */
int store_session_list(struct store *s, int live_only, int review_pending, const char *user,
                       const char *target, size_t limit, struct store_session **out, size_t *n);

/*
 * Recordings.  store_session_terminate asks a live session to end (the
 * listener wakes the session's child, wake.c); DB_ERR_NOTFOUND when it is not live
 * or already asked.  store_session_terminate_get: *at 0 when not asked.
 * store_session_bytes: the byte counts of a session so far.
 */
int store_session_terminate(struct store *s, const char *id, const char *by, const char *reason,
                            long long at);
int store_session_terminate_get(struct store *s, const char *id, long long *at, char *by,
                                size_t bylen, char *reason, size_t reasonlen);
int store_session_bytes(struct store *s, const char *id, unsigned long long in,
                        unsigned long long out);

/*
 * Retention (retention.c).  store_session_list_expirable: ended sessions with
 * a recording that ended before `before`, not expired yet and not awaiting
 * review, oldest first, at most limit (caller frees with store_sessions_free).
 * store_session_expire marks one expired at `at` (DB_ERR_NOTFOUND when it
 * already was: another gateway got there first); it runs in the transaction
 * of its audit row.  The file is removed afterwards, and
 * store_session_expire_done records that; store_session_list_expire_pending
 * lists those whose removal was not confirmed (a crash in between).
 * store_text_drop_expired drops the search text of expired sessions;
 * store_session_drop_expired the rows of sessions whose recording expired
 * before `before` (their audit rows have been archived).
 */
int store_session_list_expirable(struct store *s, long long before, size_t limit,
                                 struct store_session **out, size_t *n);
int store_session_expire(struct store *s, const char *id, long long at);
int store_session_list_expire_pending(struct store *s, size_t limit, struct store_session **out,
                                      size_t *n);
int store_session_expire_done(struct store *s, const char *id);
int store_text_drop_expired(struct store *s);
int store_session_drop_expired(struct store *s, long long before, long long *n);

/*
 * Live sessions (ended_at = 0) served on this host and the process serving
 * each (a pid means nothing on another gateway's host).  Caller frees with free().
 */
struct store_live {
    char id[STORE_SESSION_ID_LEN + 1];
    char user[STORE_NAME_MAX + 1];
    long long pid;
};
int store_session_list_live_pids(struct store *s, struct store_live **out, size_t *n);

/* One line of a session's text, for the search index. */
struct store_text {
    const char *session;
    int stream;        /* 0 output, 1 input */
    double ts;         /* seconds from the session's start */
    const char *line;  /* UTF-8, no control characters */
    size_t len;
    char session_buf[STORE_SESSION_ID_LEN + 1]; /* (search results) */
};
/* Adds a batch in one transaction (or the caller's). */
int store_text_insert(struct store *s, const struct store_text *lines, size_t n);
/*
 * Lines containing text (a substring, at least 3 characters: the index is
 * trigram-based), ordered by session and time, at most limit (0: 1000).
 * Caller frees with store_text_free.
 */
int store_text_search(struct store *s, const char *text, size_t limit, struct store_text **out,
                      size_t *n);
void store_text_free(struct store_text *v, size_t n);

/*
 * Web console login links (`ssh gw web`).  Only the SHA-256 (hex) of a
 * token is stored.  store_web_login_insert also drops rows long expired.
 * store_web_login_take marks the link used and gives its user and whether
 * that SSH login gave a verification code, in one statement, so that a link
 * works once: DB_ERR_NOTFOUND when unknown, used or expired (at now).
 */
int store_web_login_insert(struct store *s, const char *hash, const char *user, int mfa,
                           long long now, long long expires_at);
int store_web_login_take(struct store *s, const char *hash, long long now, char *user,
                         size_t userlen, int *mfa);
/* A link's user, when it was used (0: never) and when it expires.  DB_ERR_NOTFOUND when unknown. */
int store_web_login_peek(struct store *s, const char *hash, char *user, size_t userlen,
                         long long *used_at, long long *expires_at);

/* ---- weblink.c: tokens of the web console's one-time login links ---- */

#define WEBLINK_TOKEN_LEN 43 /* 256 bits, base64url, no padding */
#define WEBLINK_TTL 60       /* seconds a link stays usable */
/* A fresh token and its SHA-256 in hex.  0 or DB_ERR_INTERNAL (no randomness). */
int weblink_new(char token[WEBLINK_TOKEN_LEN + 1], char hex[AUDIT_HASH_HEX + 1]);
/* 1 when s (len bytes) has the form of a token. */
int weblink_token_valid(const char *s, size_t len);
int weblink_hash(const char *token, size_t len, char hex[AUDIT_HASH_HEX + 1]);

/*
 * The second factor's rows (store/rows-mfa.c; the rules are broker/mfa/'s).  One
 * enrolment per user: "pending" from `mfa enroll` until `mfa confirm`, then
 * "active".  The secret is stored sealed (mfa/secret.c), never in clear;
 * recovery codes only as keyed hashes.
 */
#define STORE_MFA_SECRET_MAX 256
#define STORE_MFA_HASH_LEN 64
struct store_mfa {
    char user[STORE_NAME_MAX + 1];
    char secret[STORE_MFA_SECRET_MAX + 1]; /* sealed, as stored */
    int active;                            /* 0: enrolment started, not yet confirmed */
    long long created_at, confirmed_at;    /* confirmed_at 0 while pending */
    long long last_step;                   /* the last TOTP step accepted (0: none) */
    int failures;                          /* wrong codes in a row */
    long long locked_until;                /* codes refused until then; 0: never locked */
    int recovery_left;                     /* recovery codes not yet used */
};
/* DB_ERR_NOTFOUND when the user never enrolled (or was reset). */
int store_mfa_get(struct store *s, const char *user, struct store_mfa *out);
/* Every enrolment, by user.  Caller frees *out with free(). */
int store_mfa_list(struct store *s, struct store_mfa **out, size_t *n);
/*
 * Starts (or restarts, while still pending) an enrolment with a new sealed
 * secret; failures and lock are kept.  DB_ERR_EXISTS when the user's
 * enrolment is active.
 */
int store_mfa_put_pending(struct store *s, const char *user, const char *secret, long long now);
/* pending -> active, with the step of the confirming code; DB_ERR_NOTFOUND when not pending. */
int store_mfa_activate(struct store *s, const char *user, long long now, long long step);
int store_mfa_set_counters(struct store *s, const char *user, long long last_step, int failures,
                           long long locked_until);
/* Removes the enrolment and its recovery codes.  DB_ERR_NOTFOUND when there is none. */
int store_mfa_delete(struct store *s, const char *user);
/* hash: STORE_MFA_HASH_LEN lowercase hex characters. */
int store_mfa_recovery_add(struct store *s, const char *user, const char *hash);
/* Marks one unused code spent; DB_ERR_NOTFOUND when the user has no such unused code. */
int store_mfa_recovery_use(struct store *s, const char *user, const char *hash, long long now);
/* Every user who ever logged in (store_user_seen), by name.  Caller frees *out with free(). */
struct store_user_name {
    char name[STORE_NAME_MAX + 1];
};
int store_user_list(struct store *s, struct store_user_name **out, size_t *n);

/* ---- access.c: the just-in-time state machine on top of store and policy ---- */

/*
 * Audit events written here (actor = who acted, "system" for the sweep):
 *   request.create, request.approve (each approval), request.deny,
 *   request.cancel, request.expire, grant.start, grant.revoke, grant.expire,
 *   breakglass, access.refused (a refusal on authorisation grounds: who,
 *   what, which target, why), auth.success, auth.failure, policy.load,
 *   policy.reject, session.start, session.end.  Objects are "request N",
 *   "grant N", "session ID", a user name, a target or "policy".
 */

struct json_t;

/*
 * Called after a decision has been committed (never inside a transaction)
 * with event "request.created", "request.approved", "request.denied",
 * "grant.revoked" or "breakglass" and a JSON object describing it
 * ({"event", "time", "id", "requester", "target", "login", "rule", "duration",
 * "reason", "ticket", "actor", ...}).  obj is borrowed: json_incref to keep
 * it.  The hook must not block (the session code runs notify_command
 * asynchronously); its outcome never affects the decision.
 */
struct access_notify {
    void (*fn)(void *ctx, const char *event, struct json_t *obj);
    void *ctx;
};

/* What the access functions work with; none of it is owned. */
struct access {
    struct store *store;
    const struct policy *policy;        /* the current policy */
    const struct access_notify *notify; /* NULL: no notifications */
};

struct access_request_args {
    const char *target;
    const char *login;   /* NULL: the rule's default */
    long long duration;  /* seconds */
    const char *reason;  /* required: 1..1024 bytes of UTF-8 without control characters */
    const char *ticket;  /* NULL or "": none; else 1..128 printable ASCII */
};

/* Checks reason/comment text and tickets as above; why names the field. */
int access_check_text(const char *what, const char *s, int required, char *err, size_t errlen);
int access_check_ticket(const char *s, char *err, size_t errlen);

/*
 * request: policy_eval_request decides rule, login and approvals; the
 * request is created pending, expiring at now + request_ttl ("request.create").
 * *out (may be NULL) gets the new request.  DB_ERR_DENIED, DB_ERR_INVALID,
 * DB_ERR_NOTFOUND (unknown target) with err.
 */
int access_request(const struct access *a, const struct policy_subject *who,
                   const struct access_request_args *q, long long now,
                   struct store_request *out, char *err, size_t errlen);

/*
 * approve: who must satisfy policy_may_approve for the request's rule in the
 * CURRENT policy (so never the requester), once per request.  When distinct
 * approvals reach max(approvals_needed, the rule's current approvals) the
 * request becomes approved and its grant runs from now for the requested
 * duration -- all in one transaction ("request.approve", "grant.start").
 * comment may be NULL.  *out (may be NULL) gets the request afterwards
 * (pending with one more approval, or approved).  Refusals: DB_ERR_DENIED
 * (not allowed), DB_ERR_CONFLICT (not pending, already decided by who,
 * expired), DB_ERR_NOTFOUND, DB_ERR_INVALID (comment).
 */
int access_approve(const struct access *a, const struct policy_subject *who, long long id,
                   const char *comment, long long now, struct store_request *out, char *err,
                   size_t errlen);
/* deny: same eligibility; reason required; one deny ends the request ("request.deny"). */
int access_deny(const struct access *a, const struct policy_subject *who, long long id,
                const char *reason, long long now, char *err, size_t errlen);
/* cancel: the requester only, pending only ("request.cancel"). */
int access_cancel(const struct access *a, const struct policy_subject *who, long long id,
                  long long now, char *err, size_t errlen);
/*
 * revoke: an active grant, by an approver of its rule (current policy), a
 * reviewer, or the grant's holder giving it up; reason required
 * ("grant.revoke").
 */
int access_revoke(const struct access *a, const struct policy_subject *who, long long id,
                  const char *reason, long long now, char *err, size_t errlen);
/*
 * breakglass: who must be a break_glass requester; target any target of the
 * policy, login NULL for its default; 0 < duration <= break_glass.max_duration.
 * Creates an approved request and an active grant at once, breakglass = 1,
 * review_required = 1 ("breakglass", "grant.start"), notifies "breakglass".
 */
int access_breakglass(const struct access *a, const struct policy_subject *who,
                      const char *target, const char *login, long long duration,
                      const char *reason, long long now, struct store_request *out, char *err,
                      size_t errlen);
/*
 * expire: pending requests past expires_at become expired, active grants past
 * ends_at expired, each audited ("request.expire", "grant.expire").
 * Idempotent; any process may call it.  *count (may be NULL) gets how many.
 * Only a->store is needed.
 */
int access_expire(const struct access *a, long long now, int *count);

/*
 * The live grant for (user, target, login) at now, or DB_ERR_NOTFOUND: one
 * indexed read, for the per-second re-check of every session.  Does not
 * consult the policy: the caller passes out->login to policy_eval_connect
 * (grant_login), which re-checks that a rule still backs it.  Break-glass
 * grants (out->breakglass) have no rule: accept them while the user is still
 * a break_glass requester.
 */
int access_live_grant(struct store *s, const char *user, const char *target, const char *login,
                      long long now, struct store_grant *out);
/*
 * One grant by id, with out->status as of now (an active grant whose ends_at
 * has passed reads STORE_GRANT_EXPIRED even before the sweep).  0 or
 * DB_ERR_NOTFOUND.
 */
int access_grant_status(struct store *s, long long id, long long now, struct store_grant *out);

/*
 * Listings, scoped by role: everyone sees their own requests and grants;
 * an approver also those they may decide (current policy); a reviewer all.
 * Statuses are as of now (a pending request past its ttl reads expired).
 */
#define ACCESS_LIST_PENDING 0x1u /* pending only */
#define ACCESS_LIST_MINE 0x2u    /* own only */
#define ACCESS_LIST_ALL 0x4u     /* every status; default: pending and approved-with-live-grant */
/* Newest first, at most 1000.  Caller frees *out with free(). */
int access_list_requests(const struct access *a, const struct policy_subject *who,
                         unsigned flags, long long now, struct store_request **out, size_t *n,
                         char *err, size_t errlen);
/* Live grants, scoped the same way (ACCESS_LIST_MINE honoured). Caller frees with free(). */
int access_list_grants(const struct access *a, const struct policy_subject *who, unsigned flags,
                       long long now, struct store_grant **out, size_t *n, char *err,
                       size_t errlen);
/*
 * show N: the request, its decisions (caller frees *decs with free()) and
 * its grant (grant->status STORE_GRANT_NONE when none).  A request who may
 * not see is DB_ERR_NOTFOUND "no request N that you can see", the same as
 * one that does not exist.  decs/ndecs/grant may be NULL.
 */
int access_show(const struct access *a, const struct policy_subject *who, long long id,
                long long now, struct store_request *req, struct store_decision **decs,
                size_t *ndecs, struct store_grant *grant, char *err, size_t errlen);

/*
 * Audit helpers for the session code.  Each appends in its own transaction
 * (session start/end together with the session row).
 *   auth: "auth.success" (also records the user as seen, with dn) or
 *         "auth.failure"; method "password"/"publickey"; why NULL on success.
 *   policy load: "policy.load" (ok) or "policy.reject" with the error.
 *   session start: inserts the row (row->id filled) + "session.start";
 *   session end:   ends the row + "session.end".
 *   event: anything else; details a JSON object (borrowed) or NULL.
 */
/*
 * Every audit row this process writes from now on carries "via": via in
 * its details (the web console's process sets "web"; NULL: nothing added).
 * Process-wide on purpose: the rows are those of the shell's own code paths.
 */
void access_audit_set_via(const char *via);
int access_audit_auth(struct store *s, long long now, const char *user, const char *dn,
                      const char *peer, const char *method, int ok, const char *why);
int access_audit_policy_load(struct store *s, long long now, const char *path, int ok,
                             const char *detail);
int access_session_start(struct store *s, struct store_session *row);
int access_session_end(struct store *s, const char *id, const char *user, long long now,
                       int exit_status, const char *sha256, const char *hmac);
int access_audit_event(struct store *s, long long now, const char *actor, const char *event,
                       const char *object, struct json_t *details);
/*
 * Ends every live session whose serving process is gone (alive(pid) is 0):
 * a session child killed with SIGKILL, or a crash.  Each ends with exit
 * status -1 and its "session.end" audit row says why.  *count may be NULL.
 */
int access_sessions_reap(struct store *s, long long now, int (*alive)(long long pid), int *count);

/*
 * May who reach target now, and as which login?  One check for
 * `ssh USER+TARGET@gw`, `connect` and `breakglass`, so that all give the same
 * answers: a standing rule (unprotected targets only), a live grant still
 * backed by a rule of the current policy, or a live break-glass grant while
 * the user is still a break_glass requester.  With login NULL, grants are
 * tried for the rule's default login and then each login of the target in
 * order.  a may be NULL (no store: standing access only; anything else is
 * refused as unavailable).
 *
 * 0 with out filled (out->login points into the policy), or DB_ERR_DENIED /
 * DB_ERR_NOTFOUND / DB_ERR_INVALID / DB_ERR_UNAVAIL with the one-line reason
 * the user sees in err (e.g. "no active grant; request one with: ssh gw
 * request ..."; may quote target and login as given: sanitize before
 * printing).  out->target is set whenever the target exists.
 */
struct access_connect {
    const struct policy_target *target;
    const char *login;
    long long grant_id; /* 0: standing access */
    long long ends_at;  /* the grant's end; 0 for standing access */
    int breakglass;
    int review_required;
    const char *rule; /* the rule that allowed it; NULL for break-glass */
};
int access_connect_check(const struct access *a, const struct policy *p,
                         const struct policy_subject *who, const char *target, const char *login,
                         long long now, struct access_connect *out, char *err, size_t errlen);

/* ---- admin.c: back-ends of `drawbridge audit`, `verify`, `access-report` ---- */

/*
 * Each opens the store under c->state_dir, writes its report to out and
 * problems to stderr as "drawbridge: ...", and returns 0 or a negative
 * DB_ERR_* (main maps DB_ERR_USAGE to exit status 2, others to 1).
 *
 * audit: one row per line ("SEQ TIME ACTOR EVENT OBJECT DETAILS"), or with
 * json one JSON object per line; since: unix seconds, "YYYY-MM-DD",
 * "YYYY-MM-DDTHH:MM:SSZ", or a DURATION meaning that long ago.
 * verify: the audit chain, then the sessions' recordings; prints "audit
 * chain: ok (N rows)" or the first bad row, then "session ID: ok" (or
 * "truncated (why)", "live", "TAMPERED: why", "MISSING: why", "no
 * recording") per session and "recordings: N checked: ..." counting each.
 * DB_ERR_TAMPERED on any tamper; DB_ERR_NOTFOUND for a missing recording or
 * an unknown session.  A truncated recording (a crash) is not a failure,
 * and a live session's recording is "live".  sessions (n of them)
 * restricts the recording checks to those.
 * export: the session's recording file, byte for byte, to out, after
 * checking it (rec_verify_file against the seal in its row) and hashing what
 * is written against the seal.  Warnings on stderr for a live or truncated
 * recording; a tampered one is still written (it is evidence) but returns
 * DB_ERR_TAMPERED.  DB_ERR_USAGE for a malformed id, DB_ERR_NOTFOUND for an
 * unknown session or a missing recording.
 * access-report: live grants (user, target, login, grant id, expiry),
 * standing rules (which principals reach which unprotected targets, through
 * which rule) and the second factor (admin_report_mfa).
 */
int admin_audit(const struct config *c, int json, const char *since, FILE *out);
int admin_verify(const struct config *c, char *const *sessions, size_t nsessions, FILE *out);
/* verify --archive PATH: one audit archive file on its own (rows, sha256, seal). */
int admin_verify_archive_file(const struct config *c, const char *path, FILE *out);
/*
 * status (status.c): listener, web console, live sessions, pending
 * requests, disk, store, certificates of the last hour, last verify; text
 * or one JSON document.  0 when all is well, DB_ERR_UNAVAIL when something
 * needs attention (listener down, store unreachable, disk below min_free,
 * the last verify failed).
 */
int admin_status(const struct config *c, int json, FILE *out);
/* verify --forwarded PATH: the chain against a forwarded copy (audit_forward). */
int admin_verify_forwarded(const struct config *c, const char *path, FILE *out);
int admin_export(const struct config *c, const char *session, FILE *out);
int admin_access_report(const struct config *c, const struct policy *p, long long now,
                        FILE *out);
/*
 * (admin-mfa.c) access-report's second-factor section: who is enrolled,
 * pending, or required by mfa.require but not enrolled (directory groups of
 * the users seen at a login, asked now).
 */
void admin_report_mfa(FILE *out, const struct config *c, const struct policy *p, struct store *s,
                      long long now);

#endif

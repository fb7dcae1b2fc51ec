/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internal to the session child: the state of one engineer connection and of
 * its channels, shared by session.c (authentication, event loop), channel.c
 * (channel requests, pumping, teardown) and upstream.c (the target leg).
 * Kept out of broker.h because it needs libssh's types, which nothing
 * outside the session child should see.
 */
#ifndef DRAWBRIDGE_CONN_H
#define DRAWBRIDGE_CONN_H

#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/server.h>

#include "broker.h"
#include "shell.h"

#define CONN_CHANNELS_MAX 10
#define CONN_ENV_MAX 16
/* Largest single read from a channel; see chan_pump_dir for why reads are whole. */
#define CONN_READ_MAX (4u * 1024 * 1024)
/*
 * The data one SSH packet carries when the peer's maximum packet is 32768
 * (OpenSSH's, both as client and as target): libssh sends at most the peer's
 * maximum less 10 bytes of headers in a packet.  Writes are cut at multiples
 * of it while more is on its way, so a full packet in is a full packet out.
 */
#define CONN_PACKET_DATA (32768u - 10)
/* How long a remainder shorter than a packet may wait for the rest to join it. */
#define CONN_HOLD_MS 2
/* A closing channel waits this long for the engineer to take what is queued. */
#define CONN_CLOSE_GRACE_S 3

enum chan_kind { CHAN_KIND_NONE, CHAN_KIND_SHELL, CHAN_KIND_EXEC, CHAN_KIND_SUBSYSTEM };

enum chan_state {
    CHAN_NEW,     /* opened, waiting for shell/exec/subsystem */
    CHAN_START,   /* a start request was accepted; the loop will set it up */
    CHAN_OPEN,    /* relaying (or running the shell) */
    CHAN_CLOSING, /* flushing what is queued, then exit status, EOF, close */
    CHAN_DONE,
};

struct conn;

struct chan {
    struct conn *conn;
    unsigned id;
    ssh_channel down;   /* engineer side */
    ssh_channel up;     /* target side; NULL for the gateway's shell */
    struct ssh_channel_callbacks_struct down_cb;
    struct ssh_channel_callbacks_struct up_cb;
    enum chan_state state;
    enum chan_kind kind;
    char *command;      /* exec command or subsystem name */
    int has_pty;
    char term[64];
    int cols, rows, pxw, pxh;
    int resize_pending;
    char *env_name[CONN_ENV_MAX];
    char *env_value[CONN_ENV_MAX];
    int nenv;
    char *signal_pending; /* a signal from the engineer to forward */
    struct rbuf to_up;      /* engineer -> target */
    struct rbuf to_down[2]; /* target -> engineer: stdout, stderr */
    /*
     * What libssh may hold for us, as its data, EOF and close callbacks said:
     * the engineer's stdout, the target's stdout and stderr.  A stream whose
     * flag is clear is not asked (ssh_channel_poll on an empty channel polls
     * the socket again).
     */
    int rx_down, rx_up[2];
    long long hold_since[3]; /* monotonic ms a short remainder was held back (to_up, to_down) */
    int eof_up_sent;        /* EOF forwarded to the target */
    int eof_down_sent;      /* EOF forwarded to the engineer */
    int exit_status;        /* -1 until known */
    char *exit_signal;
    int exit_core;
    int exit_sent;
    int up_closed;          /* the target closed its side (its exit status came first, if any) */
    int hook_open;          /* hook->open was called (so close is owed) */
    char target[72];        /* "" for the gateway's shell */
    char login[72];         /* asked-for upstream login ("" = default) */
    long long grant_id;     /* the grant this channel runs on; 0 = standing/shell */
    long long grant_ends;   /* for the expiry warnings */
    int warned;             /* 1: 5-minute warning given, 2: 1-minute */
    long long closing_since; /* monotonic ms the closing began; 0 before */
    char session_id[STORE_SESSION_ID_LEN + 1]; /* "" until the session row exists */
    struct shell_ctx sh;
    struct shell_term *term_ed; /* pty shell */
    struct rbuf line;           /* shell without a pty: partial input line */
    long long job_due_ms;       /* when the running job wants its next step */
    int input_eof;              /* the engineer sent EOF while a job runs */
};

struct conn {
    const struct config *cfg;
    const struct policy *policy;
    ssh_session down;
    ssh_session up;
    ssh_event ev;
    struct ssh_server_callbacks_struct server_cb;
    const char *peer;
    int status_fd;
    int signer_fd;        /* to the certificate signer (signer.h); -1: none */
    int fail_delay_ms;

    /* authentication: bound to the first username tried */
    char login[160];      /* the full SSH username as first sent */
    char user[72];
    char target[72];      /* from USER+TARGET; "" for the shell */
    int authenticated;
    int auth_failures;
    int dir_down;         /* the directory could not be asked: disconnect */
    char dir_err[256];
    time_t grace_deadline;
    struct dir *dir;
    struct dir_user *duser;
    /*
     * The second factor (broker/mfa/): an enrolled user's first factor gives
     * partial success; a code asked by keyboard-interactive completes it.
     */
    char mfa_first[16];   /* the first factor that passed ("password", "publickey"); "" before */
    int mfa_prompted;     /* a code prompt is out: only then is an answer taken */
    int mfa_verified;     /* this login gave a code (TOTP or recovery code) */
    int mfa_audited;      /* what became of the code on this connection is audited */

    /* the target leg, shared by every channel of the connection */
    const struct policy_target *tgt;
    char up_login[72];
    int up_failed;        /* connect failed once: later channels fail fast */
    int up_hostkey_mismatch; /* ... because the target's host key was not the pinned one */
    int preconnected;     /* chan_preconnect ran */
    int refusals;         /* forwarding and the like refused on this connection */
    char up_err[320];
    /* certificate mode: the session the certificate names (the connection's first) */
    char up_session[STORE_SESSION_ID_LEN + 1];
    int up_session_taken; /* a session row has that id */
    unsigned long long up_serial; /* the certificate's serial; 0 in key mode */

    /* the just-in-time state: opened after fork, one per connection */
    struct store *store;
    struct access access;
    struct access_notify notify;
    /*
     * No timer runs while nothing is due: grants are looked at when one of
     * them reaches a warning or its end (check_at, unix seconds; 0: now;
     * LLONG_MAX: never) and when the listener wakes us (wake.c: a revoke, a
     * terminate request, a policy reload), read from sig_fd.
     */
    long long check_at;
    /* when the store stopped answering (0: it answers); store_grace counts from here */
    long long store_down_since;
    int sig_fd;
    unsigned wake_bits;   /* WAKE_CHILD_* taken from sig_fd, not yet acted on */
    int trim_due;         /* a channel came or went: give freed heap back when next idle */
    struct policy *own_policy; /* the last one this process loaded on a reload (c->policy) */
    char tgt_name[72];        /* tgt's name, to find it again in each reloaded policy */
    long long next_due_ms; /* the earliest job step or close deadline (monotonic ms); LLONG_MAX: none */
    int wake;             /* a channel callback saw something arrive: pump again before sleeping */
    long long next_tick_ms; /* the next chan_tick_recordings (monotonic ms); LLONG_MAX: none */

    struct chan *chans[CONN_CHANNELS_MAX];
    unsigned next_chan_id;
    unsigned nchan_total;
    struct relay_hook hook;
};

/* session.c */
void session_refused(struct conn *c, const char *what);
void session_banner(struct conn *c, const char *msg);
/* Counts and logs a failed attempt; audits it unless why is NULL (already audited). */
void session_auth_failed(struct conn *c, const char *method, const char *why);
/* The login is complete: audited, the connection authenticated.  SSH_AUTH_SUCCESS or _DENIED. */
int session_auth_done(struct conn *c, const char *method);

/* session-mfa.c: the second factor at login */
/*
 * After a first factor passed: SSH_AUTH_SUCCESS (via session_auth_done) for
 * a user without a second factor, SSH_AUTH_PARTIAL (a code will be asked)
 * for an enrolled one, SSH_AUTH_DENIED (with a banner saying why) when
 * the second factor cannot be checked.
 */
int session_mfa_first(struct conn *c, const char *method);
/* A keyboard-interactive message (request or answer); returns as a message callback does. */
int session_mfa_kbdint(struct conn *c, ssh_message m);
/*
 * May this login open a session to t as far as the second factor goes (a
 * user required to enrol has; a protected target in mfa.actions needs a
 * login that gave a code)?  0, or DB_ERR_DENIED / _UNAVAIL with the
 * refusal in err (audited).  The _quiet form only answers (1: yes), for
 * chan_preconnect, which must not connect where the channel will refuse.
 */
int session_mfa_target(struct conn *c, const struct policy_target *t, char *err, size_t errlen);
int session_mfa_target_quiet(struct conn *c, const struct policy_target *t);
/* login_grace ran out: audits a code prompt left unanswered. */
void session_mfa_timeout(struct conn *c);
/* The connection ends: audits a first factor that passed with no code given after it. */
void session_mfa_end(struct conn *c);
/* The context broker/mfa/ works in, for this connection. */
struct mfa_ctx;
void session_mfa_ctx(struct conn *c, struct mfa_ctx *m);

/* channel.c */
ssh_channel chan_open_cb(ssh_session session, void *userdata);
void chan_run_all(struct conn *c, int *progress);
void chan_preconnect(struct conn *c);
int chan_count_live(const struct conn *c);
/* The connection's policy changed: the shells of its channels use it from now on. */
void chan_set_policy(struct conn *c);
/* Idle after activity: empty queues sized for a stream, and the recorder's, give memory back. */
void chan_trim(struct conn *c);
void chan_free_all(struct conn *c);
void chan_fail(struct chan *ch, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/*
 * When woken or due (conn.check_at): re-checks every live target channel's
 * grant and terminate requests; ends those whose grant ended or that a
 * reviewer terminated, warns of a near end, and sets check_at to the next
 * warning or end.
 */
void chan_check_grants(struct conn *c, long long now);
/* After a policy reload: ends the live target channels the new policy no longer allows. */
void chan_check_policy(struct conn *c, long long now);
/* When the recorder says it has something to flush (hook.due). */
void chan_tick_recordings(struct conn *c);

/* upstream.c */
/* grant: the grant the connection runs on (0 standing); named in a certificate's key ID. */
int upstream_connect(struct conn *c, const struct policy_target *t, const char *login,
                     long long grant, char *err, size_t errlen);
int upstream_open_channel(struct conn *c, struct chan *ch, char *err, size_t errlen);

/* recorder.c: the recording hook (recordings/, the search index, sftp audit) */
int recorder_init(struct conn *c, struct relay_hook *h, char *err, size_t errlen);

#endif

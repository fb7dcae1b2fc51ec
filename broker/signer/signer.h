/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The certificate signer (DESIGN.md, "Per-session certificates").
 *
 * In certificate mode the gateway holds no key that a target trusts on its
 * own.  For each upstream connection the session child makes a fresh
 * Ed25519 key in memory and asks the signer to certify it for that one
 * login.  The signer is a process of its own, under its own account
 * (upstream.signer_user), and the only reader of the CA key
 * (keys_dir/user_ca).  Before it signs it checks for itself, against the
 * store, the directory and the policy, that the user may reach that target
 * as that login now; it refuses anything else, and audits both.
 *
 * Processes (server.c starts them while still root, signer_start):
 *
 *   listener --control--> signer (signer_user) --check/audit--> checker
 *   session child --its own socketpair--> signer
 *
 * The listener hands the signer one end of a socketpair per session child,
 * together with the user that child authenticated, once the child has
 * authenticated: the signer answers on that socket for that user only.  The
 * checker runs under the gateway's account (it reads the store, the
 * directory and the policy as every other part of the gateway does); it
 * does no signing and no one but the signer can talk to it.
 *
 * Files:
 *   wire.c     length-prefixed fields (SSH's uint32/uint64/string)
 *   clock.c    time (a clock stepped back) and the per-user rate limit
 *   certkey.c  the certificate format: build, parse, verify
 *   cakey.c    the CA key file (openssh-key-v1, Ed25519)
 *   proto.c    the request formats between the processes (fuzzed)
 *   signer.c   the signer process; checker.c its checker; start.c starts both
 *   client.c   what a session child calls
 *
 * wire.c, clock.c, certkey.c, cakey.c and proto.c depend on nothing of ours but
 * common/ and policies/ (name syntax), and on libcrypto: they build as the
 * library drawbridge_signer, which the fuzz target and unit tests link.
 */
#ifndef DRAWBRIDGE_SIGNER_H
#define DRAWBRIDGE_SIGNER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common.h"

/* ---- wire.c ---- */

#define WIRE_MAX (1u << 20) /* the largest message anyone here writes */

struct wire_r {
    const unsigned char *p;
    size_t len, off;
    int bad; /* latched: a read past the end, a length over its maximum */
};

struct wire_w {
    unsigned char *p;
    size_t len, cap;
    int bad; /* latched: out of memory or over WIRE_MAX */
};

void wire_r_init(struct wire_r *r, const unsigned char *p, size_t len);
int wire_get_u8(struct wire_r *r, uint8_t *v);
int wire_get_u32(struct wire_r *r, uint32_t *v);
int wire_get_u64(struct wire_r *r, uint64_t *v);
/* A string of at most max bytes; *p points into the buffer. */
int wire_get_string(struct wire_r *r, const unsigned char **p, size_t *len, size_t max);
/* A string without NUL bytes copied into buf (bufsize - 1 bytes at most). */
int wire_get_cstr(struct wire_r *r, char *buf, size_t bufsize);
/* A string of exactly n bytes. */
int wire_get_fixed(struct wire_r *r, unsigned char *buf, size_t n);
/* 0 when nothing went wrong and every byte was read. */
int wire_r_done(const struct wire_r *r);

void wire_w_init(struct wire_w *w);
void wire_put_u8(struct wire_w *w, uint8_t v);
void wire_put_u32(struct wire_w *w, uint32_t v);
void wire_put_u64(struct wire_w *w, uint64_t v);
void wire_put_raw(struct wire_w *w, const void *p, size_t n);
void wire_put_string(struct wire_w *w, const void *p, size_t n);
void wire_put_cstr(struct wire_w *w, const char *s);
/* Wipes and frees the buffer. */
void wire_w_free(struct wire_w *w);

/* ---- cakey.c ---- */

#define CERTKEY_PK_LEN 32
#define CERTKEY_SIG_LEN 64
#define CERTKEY_CA_TYPE "ssh-ed25519"

struct cakey;

/*
 * Writes a new Ed25519 key to path (0600, never over an existing file) and
 * its public half to path.pub (0644).  err gets a one-line reason.
 */
int cakey_generate(const char *path, const char *comment, char *err, size_t errlen);
/* Loads path; DB_ERR_NOTFOUND, DB_ERR_IO (e.g. EACCES) or DB_ERR_INVALID with err.  Caller frees. */
int cakey_load(const char *path, struct cakey **out, char *err, size_t errlen);
/* The same from the file's text (len bytes); why gets a short reason.  Caller frees. */
int cakey_parse(const char *text, size_t len, struct cakey **out, char *why, size_t whylen);
void cakey_free(struct cakey *k);
/* The 32-byte public key. */
const unsigned char *cakey_public(const struct cakey *k);
int cakey_sign(const struct cakey *k, const unsigned char *tbs, size_t len,
               unsigned char sig[CERTKEY_SIG_LEN]);
/* 0 when sig is pk's Ed25519 signature of msg, else DB_ERR_TAMPERED. */
int cakey_verify(const unsigned char pk[CERTKEY_PK_LEN], const unsigned char *msg, size_t len,
                 const unsigned char sig[CERTKEY_SIG_LEN]);
/* "ssh-ed25519 BASE64[ comment]" */
int cakey_pub_line(const unsigned char pk[CERTKEY_PK_LEN], const char *comment, char *buf,
                   size_t buflen);
int cakey_parse_pub_line(const char *line, unsigned char pk[CERTKEY_PK_LEN]);
/* Reads path (a .pub file) into pk. */
int cakey_read_pub(const char *path, unsigned char pk[CERTKEY_PK_LEN], char *err, size_t errlen);

/* ---- certkey.c ---- */

#define CERTKEY_TYPE "ssh-ed25519-cert-v01@openssh.com"
#define CERTKEY_ID_MAX 255
#define CERTKEY_PRINCIPAL_MAX 128
#define CERTKEY_PRINCIPALS_MAX 8
#define CERTKEY_SOURCE_MAX 63
#define CERTKEY_NAME_MAX 64
/* The principal of target T is CERTKEY_PRINCIPAL_PREFIX T. */
#define CERTKEY_PRINCIPAL_PREFIX "drawbridge:"

struct certkey_spec {
    unsigned char pk[CERTKEY_PK_LEN]; /* the key being certified */
    uint64_t serial;
    const char *key_id;
    const char *principal;      /* exactly one; never empty */
    uint64_t valid_after, valid_before;
    const char *source_address; /* the critical option's value */
};

/*
 * Builds and signs a user certificate: the one principal, source-address as
 * the only critical option and permit-pty as the only extension.  *out
 * (caller frees) is the certificate blob, as it goes after the type in an
 * OpenSSH public key line.
 */
int certkey_build(const struct certkey_spec *s, const struct cakey *ca, unsigned char **out,
                  size_t *outlen, char *err, size_t errlen);

struct certkey_info {
    unsigned char pk[CERTKEY_PK_LEN];
    uint64_t serial;
    uint32_t type; /* 1 user, 2 host */
    char key_id[CERTKEY_ID_MAX + 1];
    char principals[CERTKEY_PRINCIPALS_MAX][CERTKEY_PRINCIPAL_MAX + 1];
    size_t nprincipals;
    uint64_t valid_after, valid_before;
    char critical[256];       /* names of the critical options, comma-separated */
    char source_address[CERTKEY_SOURCE_MAX + 1]; /* "" when absent */
    char extensions[512];     /* names of the extensions, comma-separated */
    unsigned char ca_pk[CERTKEY_PK_LEN];
};

/*
 * Parses a certificate blob and verifies its signature with the signature
 * key it names (the caller compares c->ca_pk with the CA it trusts).
 * DB_ERR_INVALID for a malformed blob, DB_ERR_TAMPERED for a bad signature;
 * why gets a short reason.
 */
int certkey_parse(const unsigned char *blob, size_t len, struct certkey_info *c, char *why,
                  size_t whylen);
/* "ssh-ed25519-cert-v01@openssh.com BASE64" into buf. */
int certkey_pub_line(const unsigned char *blob, size_t len, char *buf, size_t buflen);

/* ---- proto.c: the messages between the processes ---- */

#define SIGNER_PROTO_VERSION 1
#define SIGNER_MSG_MAX 8192 /* no message is longer */
#define SIGNER_TEXT_MAX 400 /* a reason or message, one line */
#define SIGNER_SESSION_LEN 16
#define SIGNER_ADDR_MAX 45  /* INET6_ADDRSTRLEN - 1 */
#define SIGNER_DETAILS_MAX 2048

enum signer_msg {
    SIGNER_MSG_CERT = 1,   /* session child -> signer */
    SIGNER_MSG_BIND = 2,   /* listener -> signer, with one fd */
    SIGNER_MSG_RELOAD = 3, /* listener -> signer -> checker */
    SIGNER_MSG_CHECK = 4,  /* signer -> checker */
    SIGNER_MSG_AUDIT = 5,  /* signer -> checker */
};

enum signer_status {
    SIGNER_OK = 0,
    SIGNER_REFUSED = 1, /* not allowed (or malformed): the reason says why */
    SIGNER_UNAVAIL = 2, /* cannot decide now: the store or directory is down */
};

/* A session child asks for a certificate for this connection. */
struct signer_cert_req {
    char user[65];
    char target[65];
    char login[65];
    char session[SIGNER_SESSION_LEN + 1];
    char source[SIGNER_ADDR_MAX + 1]; /* the gateway's address on that TCP connection */
    unsigned char pk[CERTKEY_PK_LEN];
};

struct signer_cert_reply {
    uint8_t status;
    char message[SIGNER_TEXT_MAX + 1];
    unsigned char cert[2048];
    size_t certlen;
    uint64_t serial;
};

/* The signer asks the checker whether user may reach target as login at now. */
struct signer_check_req {
    char user[65];
    char target[65];
    char login[65];
    int64_t now;
};

struct signer_check_reply {
    uint8_t status;
    char message[SIGNER_TEXT_MAX + 1];
    int64_t grant;     /* 0: standing access */
    int64_t ends;      /* when that grant ends; 0: standing access */
    uint8_t cert_mode; /* the target's upstream login is by certificate */
};

/* One audit row the signer wants written (details: a JSON object's text). */
struct signer_audit_req {
    int64_t now;
    char actor[65];
    char event[33];
    char object[129];
    char details[SIGNER_DETAILS_MAX + 1];
};

/*
 * Encoders append one whole message to w; decoders take one whole message
 * and check every field (syntax of names, lengths, that nothing trails).
 * Decoders return 0 or DB_ERR_INVALID with a short reason in why.
 */
void signer_cert_req_encode(struct wire_w *w, const struct signer_cert_req *q);
int signer_cert_req_decode(const unsigned char *p, size_t n, struct signer_cert_req *q, char *why,
                           size_t whylen);
void signer_cert_reply_encode(struct wire_w *w, const struct signer_cert_reply *a);
int signer_cert_reply_decode(const unsigned char *p, size_t n, struct signer_cert_reply *a);
void signer_bind_encode(struct wire_w *w, const char *user);
void signer_reload_encode(struct wire_w *w);
/* A control message: *kind gets SIGNER_MSG_BIND (user filled) or SIGNER_MSG_RELOAD. */
int signer_ctl_decode(const unsigned char *p, size_t n, int *kind, char user[65]);
void signer_check_req_encode(struct wire_w *w, const struct signer_check_req *q);
void signer_audit_req_encode(struct wire_w *w, const struct signer_audit_req *q);
/* A checker request: *kind SIGNER_MSG_CHECK (q filled), SIGNER_MSG_AUDIT (a) or SIGNER_MSG_RELOAD. */
int signer_checker_decode(const unsigned char *p, size_t n, int *kind, struct signer_check_req *q,
                          struct signer_audit_req *a);
void signer_check_reply_encode(struct wire_w *w, const struct signer_check_reply *a);
int signer_check_reply_decode(const unsigned char *p, size_t n, struct signer_check_reply *a);

/* 1 when s is a session id: SIGNER_SESSION_LEN characters of [a-z2-7]. */
int signer_session_valid(const char *s);
/* 1 when s is a numeric IPv4 or IPv6 address (as inet_ntop writes them). */
int signer_addr_valid(const char *s);
/*
 * The key ID of a certificate: "drawbridge user=U target=T login=L
 * session=ID grant=N" (grant=standing when grant is 0).
 */
void signer_key_id(char *buf, size_t buflen, const char *user, const char *target,
                   const char *login, const char *session, int64_t grant);

/*
 * One SEQPACKET message: send with an optional fd (SCM_RIGHTS, -1 for
 * none); receive into buf (a message longer than buflen is refused).
 * Receive returns the length, 0 at EOF, or a negative DB_ERR_*; *fd gets a
 * received descriptor or -1 (fd may be NULL: any descriptor is closed).
 */
int signer_send(int sock, const struct wire_w *w, int fd);
ssize_t signer_recv(int sock, unsigned char *buf, size_t buflen, int *fd);

/* ---- clock.c: time and the rate limit, pure ---- */

#define SIGNER_CLOCK_SLACK_S 2

struct signer_clock {
    long long high;       /* the latest wall-clock second seen */
    long long offset;     /* wall minus monotonic at the last look */
    int have_offset;
    uint64_t last_serial;
};

/*
 * Takes a reading (wall and monotonic seconds); returns by how many seconds
 * the wall clock stepped back since the last reading (0: it did not).
 */
long long signer_clock_observe(struct signer_clock *c, long long wall, long long mono);
/* The next serial: c->high << 32 | rnd, strictly above every earlier one. */
uint64_t signer_clock_serial(struct signer_clock *c, uint32_t rnd);

struct signer_rate {
    double tokens;
    long long updated_ms; /* monotonic */
    int refusal_audited;  /* the current run of refusals has its audit row */
};

void signer_rate_init(struct signer_rate *b, int rate, long long now_ms);
/* 1 when a request may go ahead (a token is taken), 0 when over rate a minute. */
int signer_rate_take(struct signer_rate *b, int rate, long long now_ms);

/* ---- the processes (signer.c, checker.c, start.c, client.c) ---- */

struct config;

/* Who runs what when the daemon was started as root (uid 0 otherwise: stay as we are). */
struct signer_accounts {
    int drop;            /* 1: change accounts (started as root) */
    uid_t service_uid;   /* the checker's account: the gateway's own */
    gid_t service_gid;
    uid_t signer_uid;    /* the signer's: upstream.signer_user */
    gid_t signer_gid;
    char signer_name[64];
    int separate;        /* the signer's account differs from the gateway's */
};

/*
 * Which account the signer runs as: upstream.signer_user, else
 * "drawbridge-ca" when that account exists, else the gateway's own (and the
 * CA key is then readable by the session children: logged as a warning).
 * Fills a->signer_*; a->service_* and a->drop must be set by the caller.
 */
int signer_accounts_resolve(const struct config *cfg, struct signer_accounts *a, char *err,
                            size_t errlen);
/*
 * While root, after state_dir was handed to the gateway's account: gives
 * user_ca to the signer's account (0600) and lets the signer's group pass
 * through the directories above it (0710, no listing).
 */
int signer_prepare_files(const struct config *cfg, const struct signer_accounts *a, char *err,
                         size_t errlen);
/* The accounts a daemon started as root with this configuration would use. */
int signer_accounts_as_root(const struct config *cfg, struct signer_accounts *a, char *err,
                            size_t errlen);
/*
 * For `drawbridge keys`: 0 when user_ca and user_ca.pub belong to the
 * signer's account or root (or when the signer shares the gateway's
 * account), so that the CA public key printed for targets to trust is not
 * one the gateway's account put there; else DB_ERR_INVALID with why in err.
 */
int signer_ca_pub_check(const struct config *cfg, char *err, size_t errlen);
/*
 * Forks the signer and its checker (each drops to its account); neither is
 * the caller's child.  *ctl gets the listener's end of the control socket
 * (non-blocking); the listener closes it to stop them.
 */
int signer_start(const struct config *cfg, const struct signer_accounts *a, int *ctl, char *err,
                 size_t errlen);
/* The listener: hand a session child's socket (fd, then closed) to the signer for user. */
int signer_bind(int ctl, int fd, const char *user);
int signer_reload(int ctl);

/* signer.c / checker.c: the processes' main loops (return the exit status). */
int signer_main(const struct config *cfg, int ctl, int checker);
int checker_main(const struct config *cfg, int sock);

/*
 * client.c: a session child's request.  conn is the connected TCP socket to
 * the target that the certificate is for: it travels with the request
 * (SCM_RIGHTS) and the signer takes the certificate's source-address from
 * it, never from the request alone.  0 with the certificate blob in *cert
 * (caller frees) and its serial; DB_ERR_DENIED with the signer's reason,
 * DB_ERR_UNAVAIL when there is no signer to ask, in err.
 */
int signer_request(int sock, const struct signer_cert_req *q, int conn, int timeout_ms,
                   unsigned char **cert, size_t *certlen, uint64_t *serial, char *err,
                   size_t errlen);
/* The same in two halves: send now, take the answer later (see client.c). */
int signer_request_send(int sock, const struct signer_cert_req *q, int conn, char *err,
                        size_t errlen);
/*
 * proto.c: the local and peer addresses of conn, which must be a connected
 * TCP socket (IPv4 or IPv6).  0, or DB_ERR_INVALID with a reason in why.
 */
int signer_conn_addrs(int conn, char local[SIGNER_ADDR_MAX + 1], char *peer, size_t peerlen,
                      char *why, size_t whylen);
int signer_request_recv(int sock, int timeout_ms, unsigned char **cert, size_t *certlen,
                        uint64_t *serial, char *err, size_t errlen);

#endif

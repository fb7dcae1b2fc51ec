/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The messages between the listener, the session children, the signer and
 * its checker.  Each is one SOCK_SEQPACKET datagram (so messages never run
 * together): uint8 version, uint8 kind, then that kind's fields in a fixed
 * order, strings length-prefixed (wire.c).  Decoders accept exactly one
 * layout: every length is checked against its field's maximum, names against
 * their grammar, and a message with bytes left over is refused.  The signer
 * treats everything a session child sends as hostile: this parser is its
 * first line, and it has a fuzz target (tests/fuzz/fuzz_signer.c).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "policy.h"
#include "signer.h"

int signer_session_valid(const char *s)
{
    size_t n = strlen(s);

    if (n != SIGNER_SESSION_LEN) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '2' && s[i] <= '7'))) {
            return 0;
        }
    }
    return 1;
}

int signer_addr_valid(const char *s)
{
    unsigned char buf[sizeof(struct in6_addr)];

    if (s[0] == '\0' || strlen(s) > SIGNER_ADDR_MAX) {
        return 0;
    }
    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static int proto_ntop(const struct sockaddr_storage *ss, char *buf, size_t buflen, int *port)
{
    const void *a = NULL;

    if (ss->ss_family == AF_INET) {
        a = &((const struct sockaddr_in *)ss)->sin_addr;
        *port = ntohs(((const struct sockaddr_in *)ss)->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
        *port = ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
    } else {
        return DB_ERR_INVALID;
    }
    return inet_ntop(ss->ss_family, a, buf, (socklen_t)buflen) != NULL ? 0 : DB_ERR_INVALID;
}

int signer_conn_addrs(int conn, char local[SIGNER_ADDR_MAX + 1], char *peer, size_t peerlen,
                      char *why, size_t whylen)
{
    struct sockaddr_storage ls, ps;
    socklen_t llen = sizeof(ls), plen = sizeof(ps), olen = sizeof(int);
    char paddr[SIGNER_ADDR_MAX + 1];
    int type = 0, proto = 0, lport = 0, pport = 0;

    local[0] = '\0';
    if (conn < 0) {
        db_errf(why, whylen, "the request came without its connection to the target");
        return DB_ERR_INVALID;
    }
    olen = sizeof(type);
    if (getsockopt(conn, SOL_SOCKET, SO_TYPE, &type, &olen) != 0 || type != SOCK_STREAM ||
        (olen = sizeof(proto), getsockopt(conn, SOL_SOCKET, SO_PROTOCOL, &proto, &olen)) != 0 ||
        proto != IPPROTO_TCP) {
        db_errf(why, whylen, "the connection sent with the request is not a TCP connection");
        return DB_ERR_INVALID;
    }
    /* connected: a socket still in SYN_SENT (or never connected) has no peer */
    memset(&ls, 0, sizeof(ls));
    memset(&ps, 0, sizeof(ps));
    if (getsockname(conn, (struct sockaddr *)&ls, &llen) != 0 ||
        getpeername(conn, (struct sockaddr *)&ps, &plen) != 0 ||
        proto_ntop(&ls, local, SIGNER_ADDR_MAX + 1, &lport) != 0 ||
        proto_ntop(&ps, paddr, sizeof(paddr), &pport) != 0) {
        local[0] = '\0';
        db_errf(why, whylen, "the connection sent with the request is not connected");
        return DB_ERR_INVALID;
    }
    snprintf(peer, peerlen, "%s%s%s:%d", ps.ss_family == AF_INET6 ? "[" : "", paddr,
             ps.ss_family == AF_INET6 ? "]" : "", pport);
    return 0;
}

void signer_key_id(char *buf, size_t buflen, const char *user, const char *target,
                   const char *login, const char *session, int64_t grant)
{
    char g[32];

    if (grant > 0) {
        snprintf(g, sizeof(g), "%lld", (long long)grant);
    } else {
        snprintf(g, sizeof(g), "standing");
    }
    snprintf(buf, buflen, "drawbridge user=%s target=%s login=%s session=%s grant=%s", user, target,
             login, session, g);
}

static void proto_head(struct wire_w *w, enum signer_msg kind)
{
    wire_put_u8(w, SIGNER_PROTO_VERSION);
    wire_put_u8(w, (uint8_t)kind);
}

static int proto_get_head(struct wire_r *r, uint8_t *kind)
{
    uint8_t v = 0;

    if (wire_get_u8(r, &v) != 0 || v != SIGNER_PROTO_VERSION || wire_get_u8(r, kind) != 0) {
        return DB_ERR_INVALID;
    }
    return 0;
}

/* One line of printable text (UTF-8 allowed), no control bytes. */
static int proto_text_ok(const char *s)
{
    for (size_t i = 0; s[i] != '\0'; i++) {
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
            return 0;
        }
    }
    return db_utf8_valid(s, strlen(s));
}

/* ---- session child -> signer ---- */

void signer_cert_req_encode(struct wire_w *w, const struct signer_cert_req *q)
{
    proto_head(w, SIGNER_MSG_CERT);
    wire_put_cstr(w, q->user);
    wire_put_cstr(w, q->target);
    wire_put_cstr(w, q->login);
    wire_put_cstr(w, q->session);
    wire_put_cstr(w, q->source);
    wire_put_string(w, q->pk, CERTKEY_PK_LEN);
}

int signer_cert_req_decode(const unsigned char *p, size_t n, struct signer_cert_req *q, char *why,
                           size_t whylen)
{
    struct wire_r r;
    uint8_t kind = 0;

    memset(q, 0, sizeof(*q));
    wire_r_init(&r, p, n);
    if (proto_get_head(&r, &kind) != 0 || kind != SIGNER_MSG_CERT) {
        db_errf(why, whylen, "not a certificate request");
        return DB_ERR_INVALID;
    }
    wire_get_cstr(&r, q->user, sizeof(q->user));
    wire_get_cstr(&r, q->target, sizeof(q->target));
    wire_get_cstr(&r, q->login, sizeof(q->login));
    wire_get_cstr(&r, q->session, sizeof(q->session));
    wire_get_cstr(&r, q->source, sizeof(q->source));
    wire_get_fixed(&r, q->pk, sizeof(q->pk));
    if (wire_r_done(&r) != 0) {
        db_errf(why, whylen, "malformed certificate request");
        return DB_ERR_INVALID;
    }
    if (!policy_name_valid(q->user) || !policy_name_valid(q->target) ||
        !policy_login_valid(q->login)) {
        db_errf(why, whylen, "malformed user, target or login in a certificate request");
        return DB_ERR_INVALID;
    }
    if (!signer_session_valid(q->session) || !signer_addr_valid(q->source)) {
        db_errf(why, whylen, "malformed session id or source address in a certificate request");
        return DB_ERR_INVALID;
    }
    return 0;
}

void signer_cert_reply_encode(struct wire_w *w, const struct signer_cert_reply *a)
{
    proto_head(w, SIGNER_MSG_CERT);
    wire_put_u8(w, a->status);
    wire_put_cstr(w, a->message);
    wire_put_string(w, a->cert, a->certlen);
    wire_put_u64(w, a->serial);
}

int signer_cert_reply_decode(const unsigned char *p, size_t n, struct signer_cert_reply *a)
{
    struct wire_r r;
    const unsigned char *cert = NULL;
    uint8_t kind = 0;

    memset(a, 0, sizeof(*a));
    wire_r_init(&r, p, n);
    if (proto_get_head(&r, &kind) != 0 || kind != SIGNER_MSG_CERT) {
        return DB_ERR_INVALID;
    }
    wire_get_u8(&r, &a->status);
    wire_get_cstr(&r, a->message, sizeof(a->message));
    wire_get_string(&r, &cert, &a->certlen, sizeof(a->cert));
    wire_get_u64(&r, &a->serial);
    if (wire_r_done(&r) != 0 || a->status > SIGNER_UNAVAIL || !proto_text_ok(a->message) ||
        (a->status == SIGNER_OK) != (a->certlen > 0)) {
        memset(a, 0, sizeof(*a));
        return DB_ERR_INVALID;
    }
    memcpy(a->cert, cert, a->certlen);
    return 0;
}

/* ---- listener -> signer ---- */

void signer_bind_encode(struct wire_w *w, const char *user)
{
    proto_head(w, SIGNER_MSG_BIND);
    wire_put_cstr(w, user);
}

void signer_reload_encode(struct wire_w *w)
{
    proto_head(w, SIGNER_MSG_RELOAD);
}

int signer_ctl_decode(const unsigned char *p, size_t n, int *kind, char user[65])
{
    struct wire_r r;
    uint8_t k = 0;

    *kind = 0;
    user[0] = '\0';
    wire_r_init(&r, p, n);
    if (proto_get_head(&r, &k) != 0) {
        return DB_ERR_INVALID;
    }
    if (k == SIGNER_MSG_BIND) {
        if (wire_get_cstr(&r, user, 65) != 0 || !policy_name_valid(user)) {
            return DB_ERR_INVALID;
        }
    } else if (k != SIGNER_MSG_RELOAD) {
        return DB_ERR_INVALID;
    }
    if (wire_r_done(&r) != 0) {
        return DB_ERR_INVALID;
    }
    *kind = k;
    return 0;
}

/* ---- signer <-> checker ---- */

void signer_check_req_encode(struct wire_w *w, const struct signer_check_req *q)
{
    proto_head(w, SIGNER_MSG_CHECK);
    wire_put_cstr(w, q->user);
    wire_put_cstr(w, q->target);
    wire_put_cstr(w, q->login);
    wire_put_u64(w, (uint64_t)q->now);
}

void signer_audit_req_encode(struct wire_w *w, const struct signer_audit_req *q)
{
    proto_head(w, SIGNER_MSG_AUDIT);
    wire_put_u64(w, (uint64_t)q->now);
    wire_put_cstr(w, q->actor);
    wire_put_cstr(w, q->event);
    wire_put_cstr(w, q->object);
    wire_put_cstr(w, q->details);
}

int signer_checker_decode(const unsigned char *p, size_t n, int *kind, struct signer_check_req *q,
                          struct signer_audit_req *a)
{
    struct wire_r r;
    uint64_t now = 0;
    uint8_t k = 0;

    *kind = 0;
    memset(q, 0, sizeof(*q));
    memset(a, 0, sizeof(*a));
    wire_r_init(&r, p, n);
    if (proto_get_head(&r, &k) != 0) {
        return DB_ERR_INVALID;
    }
    switch (k) {
    case SIGNER_MSG_CHECK:
        wire_get_cstr(&r, q->user, sizeof(q->user));
        wire_get_cstr(&r, q->target, sizeof(q->target));
        wire_get_cstr(&r, q->login, sizeof(q->login));
        wire_get_u64(&r, &now);
        q->now = (int64_t)now;
        if (wire_r_done(&r) != 0 || !policy_name_valid(q->user) || !policy_name_valid(q->target) ||
            !policy_login_valid(q->login) || q->now <= 0) {
            return DB_ERR_INVALID;
        }
        break;
    case SIGNER_MSG_AUDIT:
        wire_get_u64(&r, &now);
        a->now = (int64_t)now;
        wire_get_cstr(&r, a->actor, sizeof(a->actor));
        wire_get_cstr(&r, a->event, sizeof(a->event));
        wire_get_cstr(&r, a->object, sizeof(a->object));
        wire_get_cstr(&r, a->details, sizeof(a->details));
        if (wire_r_done(&r) != 0 || a->now <= 0 || a->actor[0] == '\0' || a->event[0] == '\0' ||
            !proto_text_ok(a->actor) || !proto_text_ok(a->event) || !proto_text_ok(a->object) ||
            !db_utf8_valid(a->details, strlen(a->details))) {
            return DB_ERR_INVALID;
        }
        break;
    case SIGNER_MSG_RELOAD:
        if (wire_r_done(&r) != 0) {
            return DB_ERR_INVALID;
        }
        break;
    default:
        return DB_ERR_INVALID;
    }
    *kind = k;
    return 0;
}

void signer_check_reply_encode(struct wire_w *w, const struct signer_check_reply *a)
{
    proto_head(w, SIGNER_MSG_CHECK);
    wire_put_u8(w, a->status);
    wire_put_cstr(w, a->message);
    wire_put_u64(w, (uint64_t)a->grant);
    wire_put_u64(w, (uint64_t)a->ends);
    wire_put_u8(w, a->cert_mode);
}

int signer_check_reply_decode(const unsigned char *p, size_t n, struct signer_check_reply *a)
{
    struct wire_r r;
    uint64_t grant = 0, ends = 0;
    uint8_t kind = 0;

    memset(a, 0, sizeof(*a));
    wire_r_init(&r, p, n);
    if (proto_get_head(&r, &kind) != 0 || kind != SIGNER_MSG_CHECK) {
        return DB_ERR_INVALID;
    }
    wire_get_u8(&r, &a->status);
    wire_get_cstr(&r, a->message, sizeof(a->message));
    wire_get_u64(&r, &grant);
    wire_get_u64(&r, &ends);
    wire_get_u8(&r, &a->cert_mode);
    a->grant = (int64_t)grant;
    a->ends = (int64_t)ends;
    if (wire_r_done(&r) != 0 || a->status > SIGNER_UNAVAIL || a->grant < 0 || a->ends < 0 ||
        (a->grant > 0) != (a->ends > 0) || a->cert_mode > 1 || !proto_text_ok(a->message)) {
        memset(a, 0, sizeof(*a));
        return DB_ERR_INVALID;
    }
    return 0;
}

/* ---- one message on a SEQPACKET socket ---- */

int signer_send(int sock, const struct wire_w *w, int fd)
{
    struct msghdr mh;
    struct iovec iov;
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    ssize_t n = 0;

    if (w->bad || w->len == 0 || w->len > SIGNER_MSG_MAX) {
        return DB_ERR_INVALID;
    }
    memset(&mh, 0, sizeof(mh));
    iov.iov_base = w->p;
    iov.iov_len = w->len;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    if (fd >= 0) {
        struct cmsghdr *cm = NULL;

        memset(&u, 0, sizeof(u));
        mh.msg_control = u.buf;
        mh.msg_controllen = sizeof(u.buf);
        cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &fd, sizeof(int));
    }
    do {
        n = sendmsg(sock, &mh, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n != (ssize_t)w->len) {
        return errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN ? DB_ERR_UNAVAIL
                                                                             : DB_ERR_IO;
    }
    return 0;
}

ssize_t signer_recv(int sock, unsigned char *buf, size_t buflen, int *fd)
{
    struct msghdr mh;
    struct iovec iov;
    union {
        char buf[CMSG_SPACE(sizeof(int) * 4)];
        struct cmsghdr align;
    } u;
    ssize_t n = 0;
    int got = -1;

    if (fd != NULL) {
        *fd = -1;
    }
    memset(&mh, 0, sizeof(mh));
    iov.iov_base = buf;
    iov.iov_len = buflen;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = u.buf;
    mh.msg_controllen = sizeof(u.buf);
    do {
        n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return errno == ECONNRESET ? 0 : DB_ERR_IO;
    }
    /* Take every descriptor that came, so none leaks; keep one only if asked. */
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) {
            continue;
        }
        for (size_t i = 0; (i + 1) * sizeof(int) <= cm->cmsg_len - CMSG_LEN(0); i++) {
            int one = -1;

            memcpy(&one, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
            if (got < 0 && fd != NULL) {
                got = one;
            } else {
                close(one);
            }
        }
    }
    if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0) {
        if (got >= 0) {
            close(got);
        }
        return DB_ERR_INVALID;
    }
    if (fd != NULL) {
        *fd = got;
    }
    return n;
}

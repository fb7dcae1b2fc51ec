/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The signer process: it alone reads the CA key, and it certifies a session
 * child's key only after checking, through its checker, that the user the
 * listener bound to that child's socket may reach the target as that login
 * now.  Everything a child sends is treated as hostile (a session child is
 * the most exposed part of the gateway): the request is parsed strictly, the
 * user must be the one the socket was bound to, each user has a rate limit,
 * and every refusal is audited (one row per burst when the limit is hit).
 *
 * One request at a time, in order: a certificate costs a directory lookup,
 * a store read and an audit row, a few milliseconds.
 *
 * Time (clock.c).  Grants are checked at the latest wall-clock time the
 * signer has seen, so a clock stepped backwards never revives a grant that
 * has ended; validity is taken from the wall clock as it reads now, because
 * that is what the targets compare it with.  A backwards step is logged and
 * audited.  Serials are (seconds << 32 | 32 random bits) from that latest
 * time and strictly increasing, so they stay unique when the clock steps
 * back, and a range of them names the certificates of a period (for a KRL).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"
#include "signer.h"

#define SIGNER_BUCKETS 1024
#define SIGNER_CLIENTS_MAX 65536
#define SIGNER_BACKDATE_S 60
/* Before this (2023-11-14) the clock is not set: refuse rather than sign for 1970. */
#define SIGNER_CLOCK_SANE 1700000000LL

struct signer_client {
    int fd;      /* non-blocking: a child that reads no answers never stalls the signer */
    char user[65];
    int dead;    /* an answer could not be sent: dropped after this request */
};

struct signer_bucket {
    char user[65];
    struct signer_rate rate;
};

struct signer {
    const struct config *cfg;
    int ctl;
    int checker;
    struct signer_client *clients;
    size_t nclients, capclients;
    struct signer_bucket buckets[SIGNER_BUCKETS];
    size_t nbuckets;
    struct signer_clock clock;
    int checker_down;
};

static long long signer_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the checker, synchronously ---- */

static int signer_checker_call(struct signer *s, const struct wire_w *w, unsigned char *buf,
                               size_t buflen, ssize_t *n)
{
    struct pollfd pf;

    *n = 0;
    if (s->checker_down || signer_send(s->checker, w, -1) != 0) {
        s->checker_down = 1;
        return DB_ERR_UNAVAIL;
    }
    /* the checker answers within the directory's and the store's own timeouts */
    pf.fd = s->checker;
    pf.events = POLLIN;
    if (poll(&pf, 1, 30000) != 1) {
        log_msg(LOG_LVL_ERROR, "signer.checker", "the checker did not answer within 30 s");
        s->checker_down = 1;
        return DB_ERR_TIMEOUT;
    }
    *n = signer_recv(s->checker, buf, buflen, NULL);
    if (*n <= 0) {
        log_msg(LOG_LVL_ERROR, "signer.checker", "the checker is gone");
        s->checker_down = 1;
        return DB_ERR_UNAVAIL;
    }
    return 0;
}

/* One audit row through the checker.  details is a JSON object's text. */
static int signer_audit(struct signer *s, long long now, const char *actor, const char *event,
                        const char *object, const char *details)
{
    struct signer_audit_req q;
    struct signer_check_reply a;
    struct wire_w w;
    unsigned char buf[SIGNER_MSG_MAX];
    ssize_t n = 0;
    int r = DB_ERR_INTERNAL;

    memset(&q, 0, sizeof(q));
    q.now = now;
    snprintf(q.actor, sizeof(q.actor), "%s", actor);
    snprintf(q.event, sizeof(q.event), "%s", event);
    snprintf(q.object, sizeof(q.object), "%s", object);
    snprintf(q.details, sizeof(q.details), "%s", details);
    wire_w_init(&w);
    signer_audit_req_encode(&w, &q);
    r = signer_checker_call(s, &w, buf, sizeof(buf), &n);
    wire_w_free(&w);
    if (r != 0) {
        return r;
    }
    if (signer_check_reply_decode(buf, (size_t)n, &a) != 0 || a.status != SIGNER_OK) {
        return DB_ERR_IO;
    }
    return 0;
}

static void signer_json_str(char *out, size_t outlen, const char *s)
{
    size_t o = 0;

    for (size_t i = 0; s[i] != '\0' && o + 8 < outlen; i++) {
        unsigned char ch = (unsigned char)s[i];

        if (ch == '"' || ch == '\\') {
            out[o++] = '\\';
            out[o++] = (char)ch;
        } else if (ch < 0x20 || ch == 0x7f) {
            o += (size_t)snprintf(out + o, outlen - o, "\\u%04x", ch);
        } else {
            out[o++] = (char)ch;
        }
    }
    out[o] = '\0';
}

/* ---- the clock ---- */

static long long signer_clock(struct signer *s)
{
    struct timespec wall, mono;
    long long back = 0;

    clock_gettime(CLOCK_REALTIME, &wall);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    back = signer_clock_observe(&s->clock, (long long)wall.tv_sec, (long long)mono.tv_sec);
    if (back > 0) {
        char details[128];

        log_msg(LOG_LVL_WARN, "signer.clock_backwards",
                "the wall clock stepped back by %lld s; grants are checked at the latest time "
                "seen", back);
        snprintf(details, sizeof(details), "{\"seconds\": %lld}", back);
        signer_audit(s, (long long)wall.tv_sec, "system", "clock.backwards", "signer", details);
    }
    return (long long)wall.tv_sec;
}

static uint64_t signer_serial(struct signer *s)
{
    uint32_t rnd = 0;

    if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        rnd = 0;
    }
    return signer_clock_serial(&s->clock, rnd);
}

/* ---- per-user rate limit: a bucket of cert_rate tokens refilled over a minute ---- */

static struct signer_bucket *signer_bucket(struct signer *s, const char *user, long long now_ms)
{
    size_t victim = 0;

    for (size_t i = 0; i < s->nbuckets; i++) {
        if (strcmp(s->buckets[i].user, user) == 0) {
            return &s->buckets[i];
        }
        if (s->buckets[i].rate.updated_ms < s->buckets[victim].rate.updated_ms) {
            victim = i;
        }
    }
    if (s->nbuckets < SIGNER_BUCKETS) {
        victim = s->nbuckets++;
    }
    snprintf(s->buckets[victim].user, sizeof(s->buckets[victim].user), "%s", user);
    signer_rate_init(&s->buckets[victim].rate, s->cfg->upstream.cert_rate, now_ms);
    return &s->buckets[victim];
}

/* ---- one request ---- */

static void signer_reply(struct signer_client *cl, const struct signer_cert_reply *a)
{
    struct wire_w w;

    wire_w_init(&w);
    signer_cert_reply_encode(&w, a);
    if (signer_send(cl->fd, &w, -1) != 0) {
        /* gone, or not reading its answers (its socket is full): no more answers for it */
        log_msg(LOG_LVL_WARN, "signer.reply", "user=%s: the session went away or reads no "
                "answers; its socket is closed", cl->user);
        cl->dead = 1;
    }
    wire_w_free(&w);
}

/*
 * Refuses and audits ("cert.refused"): q may be NULL for a request that did
 * not parse.  audit 0: the refusal is logged only (a rate-limited burst).
 */
static void signer_refuse(struct signer *s, struct signer_client *cl,
                          const struct signer_cert_req *q, long long now, int status, int audit,
                          const char *fmt, ...) __attribute__((format(printf, 7, 8)));

static void signer_refuse(struct signer *s, struct signer_client *cl,
                          const struct signer_cert_req *q, long long now, int status, int audit,
                          const char *fmt, ...)
{
    struct signer_cert_reply a;
    char reason[SIGNER_TEXT_MAX + 1], jr[2 * SIGNER_TEXT_MAX], details[SIGNER_DETAILS_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    db_oneline(reason);
    log_msg(LOG_LVL_WARN, "signer.refused", "user=%s target=%s login=%s: %s", cl->user,
            q != NULL ? q->target : "?", q != NULL ? q->login : "?", reason);
    if (audit) {
        signer_json_str(jr, sizeof(jr), reason);
        if (q != NULL) {
            snprintf(details, sizeof(details),
                     "{\"reason\": \"%s\", \"login\": \"%s\", \"session\": \"%s\", "
                     "\"source\": \"%s\", \"user\": \"%s\"}",
                     jr, q->login, q->session, q->source, q->user);
        } else {
            snprintf(details, sizeof(details), "{\"reason\": \"%s\"}", jr);
        }
        if (signer_audit(s, now, cl->user, "cert.refused", q != NULL ? q->target : "signer",
                         details) != 0) {
            log_msg(LOG_LVL_ERROR, "signer.audit", "the refusal could not be audited");
        }
    }
    memset(&a, 0, sizeof(a));
    a.status = (uint8_t)status;
    snprintf(a.message, sizeof(a.message), "%s", reason);
    signer_reply(cl, &a);
}

/* Asks the checker; 0 with *grant, or the status to refuse with and its reason. */
static int signer_check(struct signer *s, const struct signer_cert_req *q,
                        struct signer_check_reply *out)
{
    struct signer_check_req c;
    struct wire_w w;
    unsigned char buf[SIGNER_MSG_MAX];
    ssize_t n = 0;
    int r = DB_ERR_INTERNAL;

    memset(&c, 0, sizeof(c));
    snprintf(c.user, sizeof(c.user), "%s", q->user);
    snprintf(c.target, sizeof(c.target), "%s", q->target);
    snprintf(c.login, sizeof(c.login), "%s", q->login);
    c.now = s->clock.high;
    wire_w_init(&w);
    signer_check_req_encode(&w, &c);
    r = signer_checker_call(s, &w, buf, sizeof(buf), &n);
    wire_w_free(&w);
    memset(out, 0, sizeof(*out));
    if (r != 0 || signer_check_reply_decode(buf, (size_t)n, out) != 0) {
        out->status = SIGNER_UNAVAIL;
        snprintf(out->message, sizeof(out->message),
                 "the signer cannot check access now (its checker is not answering)");
    }
    return out->status == SIGNER_OK ? 0 : DB_ERR_DENIED;
}

/* Builds, audits and sends the certificate the check allowed. */
static void signer_issue(struct signer *s, struct signer_client *cl,
                         const struct signer_cert_req *q, const struct signer_check_reply *ck,
                         const char *peer, long long now)
{
    struct signer_cert_reply a;
    struct certkey_spec spec;
    struct cakey *ca = NULL;
    unsigned char *blob = NULL;
    size_t len = 0;
    char path[4096], err[512], key_id[CERTKEY_ID_MAX + 1], principal[CERTKEY_PRINCIPAL_MAX + 1];
    char details[SIGNER_DETAILS_MAX], object[64];

    keys_path(s->cfg, "user_ca", path, sizeof(path));
    if (cakey_load(path, &ca, err, sizeof(err)) != 0) {
        log_msg(LOG_LVL_ERROR, "signer.ca_key", "%s", err);
        signer_refuse(s, cl, q, now, SIGNER_UNAVAIL, 1,
                      "the certificate authority's key cannot be read; no certificate for %s",
                      q->target);
        return;
    }
    memset(&spec, 0, sizeof(spec));
    memcpy(spec.pk, q->pk, sizeof(spec.pk));
    spec.serial = signer_serial(s);
    signer_key_id(key_id, sizeof(key_id), q->user, q->target, q->login, q->session, ck->grant);
    snprintf(principal, sizeof(principal), "%s%s", CERTKEY_PRINCIPAL_PREFIX, q->target);
    spec.key_id = key_id;
    spec.principal = principal;
    spec.valid_after = (uint64_t)(now - SIGNER_BACKDATE_S);
    spec.valid_before = (uint64_t)(now + s->cfg->upstream.cert_ttl);
    /* never past the grant it was issued on: no new login on it once it has ended */
    if (ck->ends > 0 && (uint64_t)ck->ends < spec.valid_before) {
        spec.valid_before = (uint64_t)ck->ends;
    }
    spec.source_address = q->source;
    if (certkey_build(&spec, ca, &blob, &len, err, sizeof(err)) != 0 || len > sizeof(a.cert)) {
        log_msg(LOG_LVL_ERROR, "signer.build", "%s", err);
        signer_refuse(s, cl, q, now, SIGNER_UNAVAIL, 1, "the certificate could not be made");
        goto out;
    }
    /* on the record before it leaves: a certificate nobody can find in the audit is never issued */
    snprintf(details, sizeof(details),
             "{\"serial\": \"%llu\", \"key_id\": \"%s\", \"principal\": \"%s\", "
             "\"valid_after\": %llu, \"valid_before\": %llu, \"source\": \"%s\", "
             "\"peer\": \"%s\", \"login\": \"%s\", \"session\": \"%s\", \"grant\": %lld}",
             (unsigned long long)spec.serial, key_id, principal,
             (unsigned long long)spec.valid_after, (unsigned long long)spec.valid_before, q->source,
             peer, q->login, q->session, (long long)ck->grant);
    snprintf(object, sizeof(object), "session %s", q->session);
    if (signer_audit(s, now, q->user, "cert.issue", object, details) != 0) {
        signer_refuse(s, cl, q, now, SIGNER_UNAVAIL, 0,
                      "the certificate could not be recorded in the audit; refusing");
        goto out;
    }
    memset(&a, 0, sizeof(a));
    a.status = SIGNER_OK;
    snprintf(a.message, sizeof(a.message), "certificate %llu", (unsigned long long)spec.serial);
    memcpy(a.cert, blob, len);
    a.certlen = len;
    a.serial = spec.serial;
    signer_reply(cl, &a);
    log_msg(LOG_LVL_INFO, "signer.issue", "serial=%llu id=\"%s\" valid=%llu..%llu source=%s",
            (unsigned long long)spec.serial, key_id, (unsigned long long)spec.valid_after,
            (unsigned long long)spec.valid_before, q->source);
out:
    free(blob);
    cakey_free(ca);
}

/*
 * One request from a session child, with the TCP connection to the target
 * it sent along (conn, -1: none; the caller closes it).
 */
static void signer_handle(struct signer *s, struct signer_client *cl, const unsigned char *buf,
                          size_t n, int conn)
{
    struct signer_cert_req q;
    struct signer_check_reply ck;
    struct signer_bucket *b = NULL;
    long long now = signer_clock(s), now_ms = signer_mono_ms();
    char why[160], local[SIGNER_ADDR_MAX + 1], peer[SIGNER_ADDR_MAX + 16];

    /* the limit comes first: even a flood of garbage costs its sender, not the audit */
    b = signer_bucket(s, cl->user, now_ms);
    if (!signer_rate_take(&b->rate, s->cfg->upstream.cert_rate, now_ms)) {
        int first = !b->rate.refusal_audited;

        b->rate.refusal_audited = 1;
        signer_refuse(s, cl, NULL, now, SIGNER_REFUSED, first,
                      "too many certificate requests for %s (more than %d a minute); try again "
                      "shortly", cl->user, s->cfg->upstream.cert_rate);
        return;
    }
    if (signer_cert_req_decode(buf, n, &q, why, sizeof(why)) != 0) {
        signer_refuse(s, cl, NULL, now, SIGNER_REFUSED, 1, "%s", why);
        return;
    }
    if (strcmp(q.user, cl->user) != 0) {
        signer_refuse(s, cl, &q, now, SIGNER_REFUSED, 1,
                      "this session authenticated as %s and may not ask for %s", cl->user, q.user);
        return;
    }
    if (now < SIGNER_CLOCK_SANE) {
        signer_refuse(s, cl, &q, now, SIGNER_UNAVAIL, 1,
                      "the gateway's clock is not set (it reads %lld); no certificates until it is",
                      now);
        return;
    }
    /*
     * source-address is the gateway's end of that very connection, read here
     * from the socket itself: a child that names any other address (its
     * owner's laptop, say) would get a certificate usable from outside the
     * gateway, for a session nobody records.
     */
    if (signer_conn_addrs(conn, local, peer, sizeof(peer), why, sizeof(why)) != 0) {
        signer_refuse(s, cl, &q, now, SIGNER_REFUSED, 1, "%s", why);
        return;
    }
    if (strcmp(local, q.source) != 0) {
        signer_refuse(s, cl, &q, now, SIGNER_REFUSED, 1,
                      "source address %s is not the gateway's address on this connection (%s)",
                      q.source, local);
        return;
    }
    if (signer_check(s, &q, &ck) != 0) {
        signer_refuse(s, cl, &q, now, ck.status, 1, "%s", ck.message);
        return;
    }
    if (!ck.cert_mode) {
        signer_refuse(s, cl, &q, now, SIGNER_REFUSED, 1,
                      "target %s logs in with the gateway's key, not a certificate", q.target);
        return;
    }
    signer_issue(s, cl, &q, &ck, peer, now);
}

/* ---- the loop ---- */

static void signer_client_add(struct signer *s, int fd, const char *user)
{
    if (s->nclients == SIGNER_CLIENTS_MAX) {
        close(fd);
        return;
    }
    if (s->nclients == s->capclients) {
        size_t cap = s->capclients ? s->capclients * 2 : 64;
        struct signer_client *c = realloc(s->clients, cap * sizeof(*c));

        if (c == NULL) {
            close(fd);
            return;
        }
        s->clients = c;
        s->capclients = cap;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    memset(&s->clients[s->nclients], 0, sizeof(s->clients[s->nclients]));
    s->clients[s->nclients].fd = fd;
    snprintf(s->clients[s->nclients].user, sizeof(s->clients[s->nclients].user), "%s", user);
    s->nclients++;
}

static void signer_client_drop(struct signer *s, size_t i)
{
    close(s->clients[i].fd);
    s->clients[i] = s->clients[--s->nclients];
}

/* 1 to go on, 0 when the listener is gone. */
static int signer_on_ctl(struct signer *s)
{
    unsigned char buf[512];
    char user[65];
    ssize_t n = 0;
    int fd = -1, kind = 0;

    n = signer_recv(s->ctl, buf, sizeof(buf), &fd);
    if (n == 0) {
        return 0;
    }
    if (n < 0 || signer_ctl_decode(buf, (size_t)n, &kind, user) != 0) {
        /* a socket that did not fit (open files at their limit) shows as a cut message */
        log_msg(LOG_LVL_ERROR, "signer.ctl",
                "a malformed message from the listener, or a session's socket that could not "
                "be taken (%zu sessions held)", s->nclients);
    } else if (kind == SIGNER_MSG_BIND && fd >= 0) {
        signer_client_add(s, fd, user);
        fd = -1;
    } else if (kind == SIGNER_MSG_RELOAD && !s->checker_down) {
        struct wire_w w;

        wire_w_init(&w);
        signer_reload_encode(&w);
        if (signer_send(s->checker, &w, -1) != 0) {
            s->checker_down = 1;
        }
        wire_w_free(&w);
    }
    if (fd >= 0) {
        close(fd);
    }
    return 1;
}

int signer_main(const struct config *cfg, int ctl, int checker)
{
    struct signer *s = calloc(1, sizeof(*s));
    struct pollfd *pf = NULL;
    unsigned char buf[SIGNER_MSG_MAX];
    unsigned long long nofile;
    int rc = 1;

    if (s == NULL) {
        return 1;
    }
    s->cfg = cfg;
    s->ctl = ctl;
    s->checker = checker;
    /* one descriptor per authenticated session, however low the soft limit */
    nofile = db_raise_nofile();
    log_msg(LOG_LVL_INFO, "signer.start", "pid=%d uid=%d (certificates valid %llds, %llu open files)",
            (int)getpid(), (int)getuid(), (long long)cfg->upstream.cert_ttl,
            nofile);
    for (;;) {
        size_t n = 0;
        struct pollfd *npf = realloc(pf, (s->nclients + 1) * sizeof(*pf));

        if (npf == NULL) {
            break;
        }
        pf = npf;
        pf[n].fd = s->ctl;
        pf[n++].events = POLLIN;
        for (size_t i = 0; i < s->nclients; i++) {
            pf[n].fd = s->clients[i].fd;
            pf[n++].events = POLLIN;
        }
        if (poll(pf, n, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        if (pf[0].revents != 0 && !signer_on_ctl(s)) {
            rc = 0; /* the listener went away: so do we */
            break;
        }
        /* clients from the back, so that dropping one never skips another */
        for (size_t i = n - 1; i >= 1; i--) {
            ssize_t got = 0;
            int conn = -1;

            if (pf[i].revents == 0 || i - 1 >= s->nclients || s->clients[i - 1].fd != pf[i].fd) {
                continue;
            }
            got = signer_recv(pf[i].fd, buf, sizeof(buf), &conn);
            if (got == DB_ERR_INVALID) {
                got = 0; /* longer than any request: refused (and audited) as malformed */
            } else if (got <= 0) {
                if (conn >= 0) {
                    close(conn); /* an empty message (read as the end) may carry one too */
                }
                signer_client_drop(s, i - 1);
                continue;
            }
            signer_handle(s, &s->clients[i - 1], buf, (size_t)got, conn);
            if (conn >= 0) {
                close(conn); /* the child keeps its own copy: we only looked at its addresses */
            }
            if (s->clients[i - 1].dead) {
                signer_client_drop(s, i - 1);
            }
        }
    }
    for (size_t i = 0; i < s->nclients; i++) {
        close(s->clients[i].fd);
    }
    free(s->clients);
    free(pf);
    free(s);
    close(checker);
    close(ctl);
    return rc;
}

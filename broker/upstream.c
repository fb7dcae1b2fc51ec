/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The target leg: the gateway connects to the target as itself (engineers
 * never hold target credentials), and accepts the target only if it
 * presents exactly the host key pinned in the policy.
 *
 * It logs in with one of two keys.  In key mode, the gateway's static
 * upstream key.  In certificate mode (upstream.auth or the target's
 * upstream_auth), a fresh Ed25519 key made for this connection and held
 * only in memory, certified by the signer for this one login: the TCP
 * connection is made here first, so that the certificate can be bound to
 * its local address (source-address), then handed to libssh; the signer
 * works on the request during the key exchange, and its certificate is used
 * only once the target has shown its pinned host key.  The
 * certificate is read back and checked field by field before use -- in
 * particular that it certifies this key, which libssh 0.10 does not check.
 * Any failure refuses the connection; there is no fall back to the static
 * key.
 * Requests that need a reply (channel open, pty, shell, exec, subsystem) are
 * made in blocking mode from the event loop, never from a callback; the
 * session is switched back to non-blocking afterwards.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "signer.h"

#define UPSTREAM_TIMEOUT_S 10L
/* The signer answers after a directory lookup and an audit row; allow for a slow directory. */
#define UPSTREAM_SIGNER_TIMEOUT_MS 15000

/* The host key algorithms to offer, so the target presents the pinned key's type. */
static const char *upstream_hostkey_algos(const char *type)
{
    if (strcmp(type, "ssh-rsa") == 0 || strcmp(type, "rsa-sha2-256") == 0 ||
        strcmp(type, "rsa-sha2-512") == 0) {
        return "rsa-sha2-512,rsa-sha2-256";
    }
    return type;
}

static int upstream_pinned_key(const char *pinned, ssh_key *out, char *type, size_t typelen)
{
    char *copy = strdup(pinned), *sp = NULL, *b64 = NULL;
    int r = DB_ERR_INVALID;

    *out = NULL;
    if (copy == NULL) {
        return DB_ERR_NOMEM;
    }
    sp = strchr(copy, ' ');
    if (sp == NULL || (size_t)(sp - copy) >= typelen) {
        goto out;
    }
    *sp = '\0';
    snprintf(type, typelen, "%s", copy);
    b64 = sp + 1;
    sp = strchr(b64, ' ');
    if (sp != NULL) {
        *sp = '\0';
    }
    if (ssh_pki_import_pubkey_base64(b64, ssh_key_type_from_name(type), out) != SSH_OK) {
        goto out;
    }
    r = 0;
out:
    free(copy);
    return r;
}

static void upstream_fingerprint(ssh_key key, char *buf, size_t buflen)
{
    unsigned char *hash = NULL;
    size_t hlen = 0;
    char *fp = NULL;

    snprintf(buf, buflen, "unknown");
    if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &hlen) != 0) {
        return;
    }
    fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hlen);
    if (fp != NULL) {
        snprintf(buf, buflen, "%s", fp);
        ssh_string_free_char(fp);
    }
    ssh_clean_pubkey_hash(&hash);
}

static int upstream_load_key(const struct config *cfg, ssh_key *out)
{
    char path[4096];

    keys_path(cfg, "upstream_ed25519", path, sizeof(path));
    return ssh_pki_import_privkey_file(path, NULL, NULL, NULL, out) == SSH_OK ? 0 : DB_ERR_IO;
}

/* ---- certificate mode ---- */

/*
 * A TCP connection to the target (each of its addresses in turn, within
 * UPSTREAM_TIMEOUT_S), and the local address it left from.
 */
static int upstream_tcp(const struct policy_target *t, int *out, char *local, size_t locallen,
                        char *err, size_t errlen)
{
    struct addrinfo hints, *res = NULL;
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);
    char port[16];
    int fd = -1, rc = 0, one = 1, soerr = 0;
    socklen_t elen = sizeof(soerr);

    *out = -1;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    snprintf(port, sizeof(port), "%d", t->port);
    rc = getaddrinfo(t->host, port, &hints, &res);
    if (rc != 0) {
        db_errf(err, errlen, "target %s (%s) is unreachable: %s", t->name, t->address,
                gai_strerror(rc));
        return DB_ERR_UNAVAIL;
    }
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        struct pollfd pf;

        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            break;
        }
        pf.fd = fd;
        pf.events = POLLOUT;
        soerr = errno;
        if (errno == EINPROGRESS && poll(&pf, 1, (int)UPSTREAM_TIMEOUT_S * 1000) == 1 &&
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &elen) == 0 && soerr == 0) {
            break;
        }
        rc = soerr != 0 ? soerr : ETIMEDOUT;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        db_errf(err, errlen, "target %s (%s) is unreachable: %s", t->name, t->address,
                strerror(rc > 0 ? rc : ECONNREFUSED));
        return DB_ERR_UNAVAIL;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (getsockname(fd, (struct sockaddr *)&ss, &sslen) != 0 ||
        (ss.ss_family == AF_INET &&
         inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, local, (socklen_t)locallen) ==
             NULL) ||
        (ss.ss_family == AF_INET6 &&
         inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, local,
                   (socklen_t)locallen) == NULL) ||
        (ss.ss_family != AF_INET && ss.ss_family != AF_INET6)) {
        db_errf(err, errlen, "target %s: the connection has no local address", t->name);
        close(fd);
        return DB_ERR_IO;
    }
    *out = fd;
    return 0;
}

/* The 32 bytes of an Ed25519 key's public half. */
static int upstream_key_bytes(ssh_key key, unsigned char pk[CERTKEY_PK_LEN])
{
    char *b64 = NULL, line[160];
    int r = DB_ERR_INTERNAL;

    if (ssh_pki_export_pubkey_base64(key, &b64) == SSH_OK) {
        snprintf(line, sizeof(line), "%s %s", CERTKEY_CA_TYPE, b64);
        r = cakey_parse_pub_line(line, pk);
    }
    ssh_string_free_char(b64);
    return r;
}

/*
 * What the signer sent must be exactly the certificate asked for: this key,
 * the target's one principal, the key ID naming this login, this
 * connection's address, permit-pty only, valid now, from our CA.
 */
static int upstream_cert_check(struct conn *c, const struct policy_target *t, const char *login,
                               long long grant, const char *local, const unsigned char *pk,
                               const unsigned char *blob, size_t len, char *err, size_t errlen)
{
    struct certkey_info ci;
    unsigned char ca[CERTKEY_PK_LEN];
    char why[160], want_id[CERTKEY_ID_MAX + 1], want_p[CERTKEY_PRINCIPAL_MAX + 1], path[4096];
    long long now = (long long)time(NULL);
    const char *bad = NULL;

    if (certkey_parse(blob, len, &ci, why, sizeof(why)) != 0) {
        db_errf(err, errlen, "the signer's certificate is unusable: %s", why);
        return DB_ERR_INVALID;
    }
    signer_key_id(want_id, sizeof(want_id), c->user, t->name, login, c->up_session, grant);
    snprintf(want_p, sizeof(want_p), "%s%s", CERTKEY_PRINCIPAL_PREFIX, t->name);
    keys_path(c->cfg, "user_ca.pub", path, sizeof(path));
    if (memcmp(ci.pk, pk, CERTKEY_PK_LEN) != 0) {
        bad = "it certifies another key";
    } else if (ci.type != 1 || ci.nprincipals != 1 || strcmp(ci.principals[0], want_p) != 0) {
        bad = "its type or principals are not this target's";
    } else if (strcmp(ci.key_id, want_id) != 0) {
        bad = "its key ID names another login, session or grant";
    } else if (strcmp(ci.critical, "source-address") != 0 || strcmp(ci.source_address, local) != 0 ||
               strcmp(ci.extensions, "permit-pty") != 0) {
        bad = "its options are not source-address and permit-pty for this connection";
    } else if ((long long)ci.valid_after > now || (long long)ci.valid_before <= now) {
        bad = "it is not valid now";
    } else if (cakey_read_pub(path, ca, why, sizeof(why)) == 0 &&
               memcmp(ca, ci.ca_pk, CERTKEY_PK_LEN) != 0) {
        bad = "it is signed by a CA other than user_ca.pub";
    }
    if (bad != NULL) {
        db_errf(err, errlen, "the signer's certificate is refused: %s", bad);
        log_msg(LOG_LVL_ERROR, "upstream.cert_mismatch", "target=%s serial=%llu: %s", t->name,
                (unsigned long long)ci.serial, bad);
        return DB_ERR_INVALID;
    }
    return 0;
}

/*
 * Certificate mode in two steps around the key exchange with the target, so
 * that the signer's work (a directory lookup, a store read, an audit row)
 * overlaps it.  Asking: a fresh key, and the request for it sent (key and pk
 * kept in *a).  Taking: the answer read and checked, the certificate put on
 * the key.  A connection given up between the two closes the signer socket
 * (upstream_cert_abandon), so no answer is left for a later request to read.
 */
struct upstream_ask {
    ssh_key key;
    unsigned char pk[CERTKEY_PK_LEN];
    struct timespec sent;
};

static int upstream_cert_ask(struct conn *c, const struct policy_target *t, const char *login,
                             int fd, const char *local, struct upstream_ask *a, char *err,
                             size_t errlen)
{
    struct signer_cert_req q;

    memset(&q, 0, sizeof(q));
    if (c->up_session[0] == '\0' && store_session_id_new(c->up_session) != 0) {
        db_errf(err, errlen, "no randomness for a session id");
        return DB_ERR_INTERNAL;
    }
    if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &a->key) != SSH_OK ||
        upstream_key_bytes(a->key, a->pk) != 0) {
        db_errf(err, errlen, "cannot make a key for this connection");
        return DB_ERR_INTERNAL;
    }
    memcpy(q.pk, a->pk, sizeof(q.pk));
    snprintf(q.user, sizeof(q.user), "%.64s", c->user);
    snprintf(q.target, sizeof(q.target), "%s", t->name);
    snprintf(q.login, sizeof(q.login), "%s", login);
    snprintf(q.session, sizeof(q.session), "%s", c->up_session);
    snprintf(q.source, sizeof(q.source), "%s", local);
    clock_gettime(CLOCK_MONOTONIC, &a->sent);
    /* the connection goes along: the signer reads source-address from it, not from q */
    if (signer_request_send(c->signer_fd, &q, fd, err, errlen) != 0) {
        log_msg(LOG_LVL_WARN, "upstream.no_cert", "target=%s login=%s %s", t->name, login, err);
        return DB_ERR_UNAVAIL;
    }
    return 0;
}

static void upstream_cert_abandon(struct conn *c)
{
    if (c->signer_fd >= 0) {
        close(c->signer_fd);
        c->signer_fd = -1;
    }
}

static int upstream_cert_take(struct conn *c, const struct policy_target *t, const char *login,
                              long long grant, const char *local, struct upstream_ask *a,
                              ssh_key *out, char *err, size_t errlen)
{
    ssh_key cert = NULL;
    unsigned char *blob = NULL;
    size_t len = 0;
    uint64_t serial = 0;
    struct timespec now;
    char line[4096];
    int r = DB_ERR_INTERNAL;

    *out = NULL;
    r = signer_request_recv(c->signer_fd, UPSTREAM_SIGNER_TIMEOUT_MS, &blob, &len, &serial, err,
                            errlen);
    if (r != 0) {
        log_msg(LOG_LVL_WARN, "upstream.no_cert", "target=%s login=%s %s", t->name, login, err);
        if (r == DB_ERR_TIMEOUT) {
            upstream_cert_abandon(c);
        }
        goto out;
    }
    if ((r = upstream_cert_check(c, t, login, grant, local, a->pk, blob, len, err, errlen)) != 0) {
        goto out;
    }
    r = DB_ERR_INTERNAL;
    if (certkey_pub_line(blob, len, line, sizeof(line)) != 0 ||
        ssh_pki_import_cert_base64(strchr(line, ' ') + 1, SSH_KEYTYPE_ED25519_CERT01, &cert) !=
            SSH_OK ||
        ssh_pki_copy_cert_to_privkey(cert, a->key) != SSH_OK) {
        db_errf(err, errlen, "the signer's certificate cannot be used");
        goto out;
    }
    clock_gettime(CLOCK_MONOTONIC, &now);
    log_msg(LOG_LVL_INFO, "upstream.cert", "target=%s login=%s serial=%llu answered in %ld ms",
            t->name, login, (unsigned long long)serial,
            (long)((now.tv_sec - a->sent.tv_sec) * 1000 + (now.tv_nsec - a->sent.tv_nsec) / 1000000));
    c->up_serial = serial;
    *out = a->key;
    a->key = NULL;
    r = 0;
out:
    free(blob);
    ssh_key_free(cert);
    return r;
}

/* Target t does not accept what we logged in with: say what it is missing. */
static void upstream_auth_refused(struct conn *c, const struct policy_target *t, const char *login,
                                  int certificate, char *err, size_t errlen)
{
    unsigned char ca[CERTKEY_PK_LEN];
    char path[4096], line[160], why[160];

    if (!certificate) {
        db_errf(err, errlen, "target %s refused the gateway's key for login %s", t->name, login);
        return;
    }
    keys_path(c->cfg, "user_ca.pub", path, sizeof(path));
    if (cakey_read_pub(path, ca, why, sizeof(why)) != 0 ||
        cakey_pub_line(ca, NULL, line, sizeof(line)) != 0) {
        snprintf(line, sizeof(line), "(the CA key, keys_dir/user_ca.pub)");
    }
    db_errf(err, errlen,
            "target %s refused the gateway's certificate for login %s; that login's "
            "authorized_keys needs: cert-authority,principals=\"%s%s\" %s",
            t->name, login, CERTKEY_PRINCIPAL_PREFIX, t->name, line);
}

int upstream_connect(struct conn *c, const struct policy_target *t, const char *login,
                     long long grant, char *err, size_t errlen)
{
    ssh_session up = NULL;
    ssh_key pin = NULL, srv = NULL, ukey = NULL;
    char type[64], fp[128], local[INET6_ADDRSTRLEN];
    long timeout = UPSTREAM_TIMEOUT_S;
    int port = t->port, off = 0, nodelay = 1, r = DB_ERR_UPSTREAM, fd = -1, asked = 0;
    int certificate = config_target_uses_certificate(c->cfg, t);
    struct upstream_ask ask;

    memset(&ask, 0, sizeof(ask));

    if (upstream_pinned_key(t->host_key, &pin, type, sizeof(type)) != 0) {
        db_errf(err, errlen, "target %s has an unusable pinned host key", t->name);
        goto out;
    }
    if (certificate) {
        if ((r = upstream_tcp(t, &fd, local, sizeof(local), err, errlen)) != 0) {
            log_msg(LOG_LVL_WARN, "upstream.unreachable", "target=%s %s", t->name, err);
            goto out;
        }
        if ((r = upstream_cert_ask(c, t, login, fd, local, &ask, err, errlen)) != 0) {
            goto out;
        }
        asked = 1;
    } else if (upstream_load_key(c->cfg, &ukey) != 0) {
        db_errf(err, errlen, "the gateway's upstream key cannot be read");
        goto out;
    }
    up = ssh_new();
    if (up == NULL) {
        r = DB_ERR_NOMEM;
        goto out;
    }
    ssh_options_set(up, SSH_OPTIONS_PROCESS_CONFIG, &off);
    ssh_options_set(up, SSH_OPTIONS_HOST, t->host);
    ssh_options_set(up, SSH_OPTIONS_PORT, &port);
    ssh_options_set(up, SSH_OPTIONS_USER, login);
    ssh_options_set(up, SSH_OPTIONS_TIMEOUT, &timeout);
    ssh_options_set(up, SSH_OPTIONS_KNOWNHOSTS, "/dev/null");
    ssh_options_set(up, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null");
    ssh_options_set(up, SSH_OPTIONS_HOSTKEYS, upstream_hostkey_algos(type));
    /* AES-GCM first on this leg: hardware AES makes it the cheapest AEAD here */
    ssh_options_set(up, SSH_OPTIONS_CIPHERS_C_S,
                    "aes128-gcm@openssh.com,aes256-gcm@openssh.com,"
                    "chacha20-poly1305@openssh.com,aes128-ctr,aes256-ctr");
    ssh_options_set(up, SSH_OPTIONS_CIPHERS_S_C,
                    "aes128-gcm@openssh.com,aes256-gcm@openssh.com,"
                    "chacha20-poly1305@openssh.com,aes128-ctr,aes256-ctr");
    ssh_options_set(up, SSH_OPTIONS_NODELAY, &nodelay);
    if (fd >= 0) {
        ssh_options_set(up, SSH_OPTIONS_FD, &fd);
        fd = -1; /* libssh closes it from here on */
    }
    if (ssh_connect(up) != SSH_OK) {
        db_errf(err, errlen, "target %s (%s) is unreachable: %s", t->name, t->address,
                ssh_get_error(up));
        log_msg(LOG_LVL_WARN, "upstream.unreachable", "target=%s %s", t->name, ssh_get_error(up));
        r = DB_ERR_UNAVAIL;
        goto out;
    }
    if (ssh_get_server_publickey(up, &srv) != SSH_OK ||
        ssh_key_cmp(srv, pin, SSH_KEY_CMP_PUBLIC) != 0) {
        if (srv != NULL) {
            upstream_fingerprint(srv, fp, sizeof(fp));
        } else {
            snprintf(fp, sizeof(fp), "none");
        }
        db_errf(err, errlen, "host key of target %s does not match the pinned key (it offered %s); "
                "refusing", t->name, fp);
        log_msg(LOG_LVL_ERROR, "upstream.hostkey_mismatch", "target=%s offered=%s", t->name, fp);
        r = DB_ERR_HOSTKEY;
        goto out;
    }
    /* the answer was asked for before the key exchange; it is used only after the pin matched */
    if (asked) {
        asked = 0;
        if ((r = upstream_cert_take(c, t, login, grant, local, &ask, &ukey, err, errlen)) != 0) {
            goto out;
        }
    }
    r = DB_ERR_UPSTREAM;
    if (ssh_userauth_publickey(up, NULL, ukey) != SSH_AUTH_SUCCESS) {
        upstream_auth_refused(c, t, login, certificate, err, errlen);
        log_msg(LOG_LVL_ERROR, "upstream.auth_fail", "target=%s login=%s %s %s", t->name, login,
                certificate ? "certificate" : "key", ssh_get_error(up));
        goto out;
    }
    if (ssh_event_add_session(c->ev, up) != SSH_OK) {
        db_errf(err, errlen, "internal error");
        goto out;
    }
    ssh_set_blocking(up, 0);
    (void)readahead_attach(ssh_get_fd(up));
    c->up = up;
    up = NULL;
    c->tgt = t;
    snprintf(c->up_login, sizeof(c->up_login), "%s", login);
    r = 0;
out:
    ssh_key_free(pin);
    ssh_key_free(srv);
    ssh_key_free(ukey);
    if (up != NULL) {
        ssh_disconnect(up);
        ssh_free(up);
    }
    if (fd >= 0) {
        close(fd);
    }
    if (asked) {
        upstream_cert_abandon(c); /* given up before the answer was read */
    }
    ssh_key_free(ask.key);
    return r;
}

int upstream_open_channel(struct conn *c, struct chan *ch, char *err, size_t errlen)
{
    int r = DB_ERR_UPSTREAM, rc;

    ssh_set_blocking(c->up, 1);
    ch->up = ssh_channel_new(c->up);
    if (ch->up != NULL) {
        ssh_set_channel_callbacks(ch->up, &ch->up_cb);
    }
    if (ch->up == NULL || ssh_channel_open_session(ch->up) != SSH_OK) {
        db_errf(err, errlen, "target %s refused a session: %s", c->tgt->name, ssh_get_error(c->up));
        goto out;
    }
    if (ch->has_pty &&
        ssh_channel_request_pty_size(ch->up, ch->term, ch->cols, ch->rows) != SSH_OK) {
        db_errf(err, errlen, "target %s refused a terminal", c->tgt->name);
        goto out;
    }
    for (int i = 0; i < ch->nenv; i++) {
        /* the target's AcceptEnv decides; a refusal is not an error */
        ssh_channel_request_env(ch->up, ch->env_name[i], ch->env_value[i]);
    }
    switch (ch->kind) {
    case CHAN_KIND_SHELL:
        rc = ssh_channel_request_shell(ch->up);
        break;
    case CHAN_KIND_EXEC:
        rc = ssh_channel_request_exec(ch->up, ch->command);
        break;
    case CHAN_KIND_SUBSYSTEM:
        rc = ssh_channel_request_subsystem(ch->up, ch->command);
        break;
    default:
        rc = SSH_ERROR;
        break;
    }
    if (rc != SSH_OK) {
        db_errf(err, errlen, "target %s refused the request", c->tgt->name);
        goto out;
    }
    r = 0;
out:
    ssh_set_blocking(c->up, 0);
    if (r != 0 && ch->up != NULL) {
        ssh_channel_free(ch->up);
        ch->up = NULL;
    }
    return r;
}

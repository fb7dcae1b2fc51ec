/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The target leg: the gateway connects to the target as itself, with its own
 * upstream key (engineers never hold target credentials), and accepts the
 * target only if it presents exactly the host key pinned in the policy.
 * Requests that need a reply (channel open, pty, shell, exec, subsystem) are
 * made in blocking mode from the event loop, never from a callback; the
 * session is switched back to non-blocking afterwards.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"

#define UPSTREAM_TIMEOUT_S 10L

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

int upstream_connect(struct conn *c, const struct policy_target *t, const char *login, char *err,
                     size_t errlen)
{
    ssh_session up = NULL;
    ssh_key pin = NULL, srv = NULL, ukey = NULL;
    char type[64], fp[128];
    long timeout = UPSTREAM_TIMEOUT_S;
    int port = t->port, off = 0, nodelay = 1, r = DB_ERR_UPSTREAM;

    if (upstream_pinned_key(t->host_key, &pin, type, sizeof(type)) != 0) {
        db_errf(err, errlen, "target %s has an unusable pinned host key", t->name);
        goto out;
    }
    if (upstream_load_key(c->cfg, &ukey) != 0) {
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
    if (ssh_userauth_publickey(up, NULL, ukey) != SSH_AUTH_SUCCESS) {
        db_errf(err, errlen, "target %s refused the gateway's key for login %s", t->name, login);
        log_msg(LOG_LVL_ERROR, "upstream.auth_fail", "target=%s login=%s %s", t->name, login,
                ssh_get_error(up));
        goto out;
    }
    if (ssh_event_add_session(c->ev, up) != SSH_OK) {
        db_errf(err, errlen, "internal error");
        goto out;
    }
    ssh_set_blocking(up, 0);
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

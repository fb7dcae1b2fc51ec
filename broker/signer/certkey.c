/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OpenSSH user certificates for Ed25519 keys (openssh-portable's
 * PROTOCOL.certkeys, type ssh-ed25519-cert-v01@openssh.com), built and
 * checked here because neither libssh 0.10 nor libcrypto can.  The layout:
 *
 *   string  "ssh-ed25519-cert-v01@openssh.com"
 *   string  nonce (32 random bytes)
 *   string  pk (the certified key, 32 bytes)
 *   uint64  serial
 *   uint32  type (1 = user)
 *   string  key id
 *   string  valid principals (each a string)
 *   uint64  valid after, uint64 valid before (unix seconds)
 *   string  critical options, string extensions: {string name, string data}
 *           pairs sorted by name; an option's data is itself a string,
 *           a flag extension's data is empty
 *   string  reserved (empty)
 *   string  signature key (the CA's public key blob)
 *   string  signature: string "ssh-ed25519", string 64 bytes, over every
 *           byte before it
 *
 * What Drawbridge issues is narrow on purpose: exactly one principal (an
 * empty list would mean "any user" to some servers), the critical option
 * source-address and the extension permit-pty, nothing else.  The parser is
 * general enough to read any certificate of this type, and strict about its
 * encoding: the session child reads what the signer sent with it before
 * trusting a byte, and the tests read what sshd was shown.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/evp.h>

#include "signer.h"

#define CERTKEY_USER 1u

static int certkey_text_ok(const char *s, size_t max)
{
    size_t n = strlen(s);

    if (n == 0 || n > max) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        /* printable ASCII only: these end up in sshd's logs and in ssh-keygen -L */
        if (s[i] < 0x20 || s[i] > 0x7e) {
            return 0;
        }
    }
    return 1;
}

int certkey_build(const struct certkey_spec *s, const struct cakey *ca, unsigned char **out,
                  size_t *outlen, char *err, size_t errlen)
{
    struct wire_w w, sub, opt, sig;
    unsigned char nonce[32], signature[CERTKEY_SIG_LEN];
    int r = DB_ERR_INVALID;

    *out = NULL;
    *outlen = 0;
    wire_w_init(&w);
    wire_w_init(&sub);
    wire_w_init(&opt);
    wire_w_init(&sig);
    if (!certkey_text_ok(s->key_id, CERTKEY_ID_MAX) ||
        !certkey_text_ok(s->principal, CERTKEY_PRINCIPAL_MAX) || strchr(s->principal, ',') ||
        !certkey_text_ok(s->source_address, CERTKEY_SOURCE_MAX) ||
        s->valid_after >= s->valid_before) {
        db_errf(err, errlen, "refusing to build a certificate with an empty or malformed "
                "key id, principal, source address or validity");
        goto out;
    }
    if (getrandom(nonce, sizeof(nonce), 0) != (ssize_t)sizeof(nonce)) {
        db_errf(err, errlen, "no randomness for the certificate's nonce");
        r = DB_ERR_IO;
        goto out;
    }
    wire_put_cstr(&w, CERTKEY_TYPE);
    wire_put_string(&w, nonce, sizeof(nonce));
    wire_put_string(&w, s->pk, CERTKEY_PK_LEN);
    wire_put_u64(&w, s->serial);
    wire_put_u32(&w, CERTKEY_USER);
    wire_put_cstr(&w, s->key_id);
    wire_put_cstr(&sub, s->principal);
    wire_put_string(&w, sub.p, sub.len);
    wire_put_u64(&w, s->valid_after);
    wire_put_u64(&w, s->valid_before);
    /* critical options: source-address only; its data is a string inside the data string */
    wire_w_free(&sub);
    wire_put_cstr(&opt, s->source_address);
    wire_put_cstr(&sub, "source-address");
    wire_put_string(&sub, opt.p, opt.len);
    wire_put_string(&w, sub.p, sub.len);
    /* extensions: permit-pty only (no agent, port or X11 forwarding, no user rc) */
    wire_w_free(&sub);
    wire_put_cstr(&sub, "permit-pty");
    wire_put_string(&sub, "", 0);
    wire_put_string(&w, sub.p, sub.len);
    wire_put_string(&w, "", 0); /* reserved */
    wire_w_free(&sub);
    wire_put_cstr(&sub, CERTKEY_CA_TYPE);
    wire_put_string(&sub, cakey_public(ca), CERTKEY_PK_LEN);
    wire_put_string(&w, sub.p, sub.len);
    if (w.bad || sub.bad || opt.bad) {
        r = DB_ERR_NOMEM;
        goto out;
    }
    if ((r = cakey_sign(ca, w.p, w.len, signature)) != 0) {
        db_errf(err, errlen, "the CA key could not sign");
        goto out;
    }
    wire_put_cstr(&sig, CERTKEY_CA_TYPE);
    wire_put_string(&sig, signature, sizeof(signature));
    wire_put_string(&w, sig.p, sig.len);
    if (w.bad || sig.bad) {
        r = DB_ERR_NOMEM;
        goto out;
    }
    *out = w.p;
    *outlen = w.len;
    w.p = NULL;
    r = 0;
out:
    wire_w_free(&w);
    wire_w_free(&sub);
    wire_w_free(&opt);
    wire_w_free(&sig);
    return r;
}

/* A name of an option or extension: printable, and after the previous one (sorted, unique). */
static int certkey_name_next(const unsigned char *p, size_t n, char *prev, size_t prevsize)
{
    char name[CERTKEY_NAME_MAX + 1];

    if (n == 0 || n > CERTKEY_NAME_MAX || memchr(p, '\0', n) != NULL) {
        return DB_ERR_INVALID;
    }
    memcpy(name, p, n);
    name[n] = '\0';
    if (!certkey_text_ok(name, CERTKEY_NAME_MAX) || (prev[0] != '\0' && strcmp(prev, name) >= 0)) {
        return DB_ERR_INVALID;
    }
    snprintf(prev, prevsize, "%s", name);
    return 0;
}

static void certkey_list_add(char *list, size_t size, const char *name)
{
    size_t used = strlen(list);

    snprintf(list + used, size - used, "%s%s", used > 0 ? "," : "", name);
}

static int certkey_parse_options(const unsigned char *p, size_t n, struct certkey_info *c)
{
    struct wire_r r;
    char prev[CERTKEY_NAME_MAX + 1] = "";

    wire_r_init(&r, p, n);
    while (r.off < r.len) {
        const unsigned char *name = NULL, *data = NULL;
        size_t nlen = 0, dlen = 0;

        if (wire_get_string(&r, &name, &nlen, CERTKEY_NAME_MAX) != 0 ||
            wire_get_string(&r, &data, &dlen, 1024) != 0 ||
            certkey_name_next(name, nlen, prev, sizeof(prev)) != 0) {
            return DB_ERR_INVALID;
        }
        certkey_list_add(c->critical, sizeof(c->critical), prev);
        if (strcmp(prev, "source-address") == 0) {
            struct wire_r d;

            wire_r_init(&d, data, dlen);
            if (wire_get_cstr(&d, c->source_address, sizeof(c->source_address)) != 0 ||
                wire_r_done(&d) != 0) {
                return DB_ERR_INVALID;
            }
        }
    }
    return wire_r_done(&r);
}

static int certkey_parse_extensions(const unsigned char *p, size_t n, struct certkey_info *c)
{
    struct wire_r r;
    char prev[CERTKEY_NAME_MAX + 1] = "";

    wire_r_init(&r, p, n);
    while (r.off < r.len) {
        const unsigned char *name = NULL, *data = NULL;
        size_t nlen = 0, dlen = 0;

        if (wire_get_string(&r, &name, &nlen, CERTKEY_NAME_MAX) != 0 ||
            wire_get_string(&r, &data, &dlen, 1024) != 0 ||
            certkey_name_next(name, nlen, prev, sizeof(prev)) != 0) {
            return DB_ERR_INVALID;
        }
        certkey_list_add(c->extensions, sizeof(c->extensions), prev);
    }
    return wire_r_done(&r);
}

static int certkey_parse_principals(const unsigned char *p, size_t n, struct certkey_info *c)
{
    struct wire_r r;

    wire_r_init(&r, p, n);
    while (r.off < r.len) {
        if (c->nprincipals == CERTKEY_PRINCIPALS_MAX ||
            wire_get_cstr(&r, c->principals[c->nprincipals],
                          sizeof(c->principals[c->nprincipals])) != 0) {
            return DB_ERR_INVALID;
        }
        c->nprincipals++;
    }
    return wire_r_done(&r);
}

int certkey_parse(const unsigned char *blob, size_t len, struct certkey_info *c, char *why,
                  size_t whylen)
{
    struct wire_r r, s;
    const unsigned char *p = NULL, *sigkey = NULL, *sigblob = NULL;
    unsigned char nonce[64], sig[CERTKEY_SIG_LEN];
    char type[64];
    size_t n = 0, signed_len = 0, sklen = 0, sblen = 0;

    memset(c, 0, sizeof(*c));
    wire_r_init(&r, blob, len);
    if (wire_get_cstr(&r, type, sizeof(type)) != 0 || strcmp(type, CERTKEY_TYPE) != 0) {
        db_errf(why, whylen, "not an %s certificate", CERTKEY_TYPE);
        return DB_ERR_INVALID;
    }
    if (wire_get_string(&r, &p, &n, sizeof(nonce)) != 0 || n < 16 ||
        wire_get_fixed(&r, c->pk, CERTKEY_PK_LEN) != 0 || wire_get_u64(&r, &c->serial) != 0 ||
        wire_get_u32(&r, &c->type) != 0 || wire_get_cstr(&r, c->key_id, sizeof(c->key_id)) != 0) {
        db_errf(why, whylen, "damaged certificate (nonce, key, serial, type or key id)");
        return DB_ERR_INVALID;
    }
    if (wire_get_string(&r, &p, &n, 4096) != 0 || certkey_parse_principals(p, n, c) != 0) {
        db_errf(why, whylen, "damaged certificate (principals)");
        return DB_ERR_INVALID;
    }
    if (wire_get_u64(&r, &c->valid_after) != 0 || wire_get_u64(&r, &c->valid_before) != 0) {
        db_errf(why, whylen, "damaged certificate (validity)");
        return DB_ERR_INVALID;
    }
    if (wire_get_string(&r, &p, &n, 4096) != 0 || certkey_parse_options(p, n, c) != 0) {
        db_errf(why, whylen, "damaged certificate (critical options)");
        return DB_ERR_INVALID;
    }
    if (wire_get_string(&r, &p, &n, 4096) != 0 || certkey_parse_extensions(p, n, c) != 0) {
        db_errf(why, whylen, "damaged certificate (extensions)");
        return DB_ERR_INVALID;
    }
    if (wire_get_string(&r, &p, &n, 4096) != 0 || wire_get_string(&r, &sigkey, &sklen, 1024) != 0) {
        db_errf(why, whylen, "damaged certificate (reserved or signature key)");
        return DB_ERR_INVALID;
    }
    signed_len = r.off;
    if (wire_get_string(&r, &sigblob, &sblen, 1024) != 0 || wire_r_done(&r) != 0) {
        db_errf(why, whylen, "damaged certificate (signature)");
        return DB_ERR_INVALID;
    }
    wire_r_init(&s, sigkey, sklen);
    if (wire_get_cstr(&s, type, sizeof(type)) != 0 || strcmp(type, CERTKEY_CA_TYPE) != 0 ||
        wire_get_fixed(&s, c->ca_pk, CERTKEY_PK_LEN) != 0 || wire_r_done(&s) != 0) {
        db_errf(why, whylen, "the certificate is not signed by an Ed25519 CA");
        return DB_ERR_INVALID;
    }
    wire_r_init(&s, sigblob, sblen);
    if (wire_get_cstr(&s, type, sizeof(type)) != 0 || strcmp(type, CERTKEY_CA_TYPE) != 0 ||
        wire_get_fixed(&s, sig, sizeof(sig)) != 0 || wire_r_done(&s) != 0) {
        db_errf(why, whylen, "damaged certificate (signature)");
        return DB_ERR_INVALID;
    }
    if (cakey_verify(c->ca_pk, blob, signed_len, sig) != 0) {
        db_errf(why, whylen, "the certificate's signature does not verify");
        return DB_ERR_TAMPERED;
    }
    return 0;
}

int certkey_pub_line(const unsigned char *blob, size_t len, char *buf, size_t buflen)
{
    size_t need = strlen(CERTKEY_TYPE) + 1 + (len + 2) / 3 * 4 + 1;

    if (len > WIRE_MAX || need > buflen) {
        return DB_ERR_INVALID;
    }
    snprintf(buf, buflen, "%s ", CERTKEY_TYPE);
    EVP_EncodeBlock((unsigned char *)buf + strlen(buf), blob, (int)len);
    return 0;
}

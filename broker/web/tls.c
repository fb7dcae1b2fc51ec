/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The listener's part of the web console, done before it drops root: bind
 * the web.listen addresses, and make sure there is a certificate.  Without
 * web.tls_cert/tls_key, a key (EC P-256) and a self-signed certificate for
 * public_url's host are made under keys_dir on first start and kept, so
 * that a browser that was told to trust it keeps trusting it.
 */
#include "web.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define WEB_CERT_DAYS 825

int web_listen(const struct config *c, int fds[WEB_LISTEN_MAX], size_t *n, char *err, size_t errlen)
{
    *n = 0;
    for (size_t i = 0; i < c->web.nlisten && i < WEB_LISTEN_MAX; i++) {
        int r = server_listen_one(&c->web.listen[i], &fds[*n], err, errlen);

        if (r != 0) {
            for (size_t k = 0; k < *n; k++) {
                close(fds[k]);
            }
            *n = 0;
            return r;
        }
        (*n)++;
    }
    return 0;
}

/* public_url's host ("gw.example.org", "127.0.0.1", "::1") into buf; 1 when it is an address. */
static int web_url_host(const char *url, char *buf, size_t len)
{
    const char *h = url + strlen("https://");
    size_t n = 0;
    int bracket = h[0] == '[';

    if (bracket) {
        h++;
    }
    while (h[n] != '\0' && h[n] != (bracket ? ']' : ':') && n + 1 < len) {
        buf[n] = h[n];
        n++;
    }
    buf[n] = '\0';
    if (bracket) {
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        if ((buf[i] < '0' || buf[i] > '9') && buf[i] != '.') {
            return 0;
        }
    }
    return n > 0;
}

static int web_write_pem(const char *path, mode_t mode, EVP_PKEY *key, X509 *crt)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    FILE *f = NULL;
    int ok = 0;

    if (fd < 0) {
        return DB_ERR_IO;
    }
    if ((f = fdopen(fd, "w")) == NULL) {
        close(fd);
        unlink(path);
        return DB_ERR_IO;
    }
    ok = key != NULL ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL)
                     : PEM_write_X509(f, crt);
    ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
    if (fclose(f) != 0) {
        ok = 0;
    }
    if (!ok) {
        unlink(path);
        return DB_ERR_IO;
    }
    return 0;
}

static int web_add_ext(X509 *crt, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *ext = NULL;
    int ok;

    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, crt, crt, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (ext == NULL) {
        return 0;
    }
    ok = X509_add_ext(crt, ext, -1);
    X509_EXTENSION_free(ext);
    return ok;
}

/* A new key and self-signed certificate for host, written to keyp (0600) and certp. */
static int web_self_sign(const struct config *c, const char *certp, const char *keyp, char *err,
                         size_t errlen)
{
    EVP_PKEY *key = NULL;
    X509 *crt = NULL;
    X509_NAME *name = NULL;
    ASN1_INTEGER *serial = NULL;
    unsigned char sn[16];
    char host[256], san[300];
    int r = DB_ERR_INTERNAL, ip = web_url_host(c->web.public_url, host, sizeof(host));

    snprintf(san, sizeof(san), "%s:%s", ip ? "IP" : "DNS", host);
    if ((key = EVP_EC_gen("P-256")) == NULL || (crt = X509_new()) == NULL ||
        RAND_bytes(sn, sizeof(sn)) != 1) {
        goto fail;
    }
    sn[0] &= 0x7f; /* a positive serial */
    if ((serial = ASN1_INTEGER_new()) == NULL || ASN1_INTEGER_set_int64(serial, 0) != 1) {
        goto fail;
    }
    {
        BIGNUM *bn = BN_bin2bn(sn, sizeof(sn), NULL);

        if (bn == NULL || BN_to_ASN1_INTEGER(bn, serial) == NULL) {
            BN_free(bn);
            goto fail;
        }
        BN_free(bn);
    }
    name = X509_get_subject_name(crt);
    if (X509_set_version(crt, 2) != 1 || X509_set_serialNumber(crt, serial) != 1 ||
        X509_gmtime_adj(X509_getm_notBefore(crt), -3600) == NULL ||
        X509_gmtime_adj(X509_getm_notAfter(crt), 60L * 60 * 24 * WEB_CERT_DAYS) == NULL ||
        X509_set_pubkey(crt, key) != 1 ||
        X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"Drawbridge", -1,
                                   -1, 0) != 1 ||
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)host, -1, -1,
                                   0) != 1 ||
        X509_set_issuer_name(crt, name) != 1 ||
        !web_add_ext(crt, NID_basic_constraints, "critical,CA:FALSE") ||
        !web_add_ext(crt, NID_key_usage, "critical,digitalSignature") ||
        !web_add_ext(crt, NID_ext_key_usage, "serverAuth") ||
        !web_add_ext(crt, NID_subject_alt_name, san) || X509_sign(crt, key, EVP_sha256()) <= 0) {
        goto fail;
    }
    if (web_write_pem(keyp, 0600, key, NULL) != 0) {
        db_errf(err, errlen, "%s: cannot write it: %s", keyp, strerror(errno));
        r = DB_ERR_IO;
        goto out;
    }
    if (web_write_pem(certp, 0644, NULL, crt) != 0) {
        db_errf(err, errlen, "%s: cannot write it: %s", certp, strerror(errno));
        unlink(keyp);
        r = DB_ERR_IO;
        goto out;
    }
    r = 0;
    goto out;
fail:
    db_errf(err, errlen, "cannot make a self-signed certificate for %s", host);
out:
    ASN1_INTEGER_free(serial);
    X509_free(crt);
    EVP_PKEY_free(key);
    return r;
}

int web_tls_ensure(const struct config *c, char *cert, size_t certlen, char *key, size_t keylen,
                   char *err, size_t errlen)
{
    struct stat st;
    int have_cert, have_key;

    if (c->web.tls_cert != NULL) {
        snprintf(cert, certlen, "%s", c->web.tls_cert);
        snprintf(key, keylen, "%s", c->web.tls_key);
        return 0;
    }
    keys_path(c, "web_tls.crt", cert, certlen);
    keys_path(c, "web_tls.key", key, keylen);
    have_cert = stat(cert, &st) == 0;
    have_key = stat(key, &st) == 0;
    if (have_cert && have_key) {
        return 0;
    }
    if (have_cert != have_key) {
        db_errf(err, errlen, "%s: found without its %s; remove it to have both made again",
                have_cert ? cert : key, have_cert ? "key" : "certificate");
        return DB_ERR_INVALID;
    }
    return web_self_sign(c, cert, key, err, errlen);
}

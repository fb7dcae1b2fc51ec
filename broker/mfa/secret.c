/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Secrets at rest.  A TOTP secret is only as safe as the place it is kept:
 * the store (a SQLite file, or a PostgreSQL database other people run) never
 * holds one in clear.  Each is sealed with AES-256-GCM under a key derived
 * from keys_dir/mfa.key, with the user's name as additional data, so a row
 * copied to another user, a flipped bit or the wrong key all fail to open
 * -- and a secret that does not open refuses the login, it never skips the
 * factor.  Recovery codes are kept as HMAC-SHA256 under a second derived
 * key: a copy of the database alone cannot test guesses.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "mfa-int.h"

#define SEAL_PREFIX "v1:"
#define SEAL_NONCE 12
#define SEAL_TAG 16
#define SEAL_AD "drawbridge-mfa-v1"

static const char mfa_b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

static void mfa_derive(const unsigned char raw[32], const char *label, unsigned char out[32])
{
    unsigned int n = 32;

    HMAC(EVP_sha256(), raw, 32, (const unsigned char *)label, strlen(label), out, &n);
}

void mfa_keys_derive(const unsigned char raw[32], struct mfa_keys *k)
{
    mfa_derive(raw, "drawbridge mfa secret sealing v1", k->seal);
    mfa_derive(raw, "drawbridge mfa recovery codes v1", k->recovery);
}

void mfa_keys_wipe(struct mfa_keys *k)
{
    db_wipe(k, sizeof(*k));
}

int mfa_keys_load(const struct config *cfg, struct mfa_keys *k, char *err, size_t errlen)
{
    char path[4096];
    unsigned char raw[32], extra;
    int fd, r = DB_ERR_IO;
    ssize_t n;

    keys_path(cfg, MFA_KEY_FILE, path, sizeof(path));
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        db_errf(err, errlen, "the second-factor key %s cannot be read: %s", path, strerror(errno));
        return DB_ERR_IO;
    }
    n = read(fd, raw, sizeof(raw));
    if (n != (ssize_t)sizeof(raw) || read(fd, &extra, 1) != 0) {
        db_errf(err, errlen, "the second-factor key %s must hold exactly 32 bytes", path);
        r = DB_ERR_INVALID;
        goto out;
    }
    mfa_keys_derive(raw, k);
    r = 0;
out:
    db_wipe(raw, sizeof(raw));
    close(fd);
    return r;
}

static void mfa_hex(const unsigned char *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0xf];
    }
    out[2 * len] = '\0';
}

static int mfa_unhex_digit(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

/* Lowercase hex of exactly 2 * len characters.  0 or DB_ERR_INVALID. */
static int mfa_unhex(const char *in, size_t inlen, unsigned char *out, size_t len)
{
    if (inlen != 2 * len) {
        return DB_ERR_INVALID;
    }
    for (size_t i = 0; i < len; i++) {
        int hi = mfa_unhex_digit(in[2 * i]), lo = mfa_unhex_digit(in[2 * i + 1]);

        if (hi < 0 || lo < 0) {
            return DB_ERR_INVALID;
        }
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

/* The additional data: the label, a NUL and the user, so that a sealed secret belongs to one user.
 */
static int mfa_seal_ad(EVP_CIPHER_CTX *ctx, const char *user)
{
    int n = 0;

    return EVP_EncryptUpdate(ctx, NULL, &n, (const unsigned char *)SEAL_AD, sizeof(SEAL_AD)) == 1 &&
           EVP_EncryptUpdate(ctx, NULL, &n, (const unsigned char *)user, (int)strlen(user)) == 1;
}

static int mfa_open_ad(EVP_CIPHER_CTX *ctx, const char *user)
{
    int n = 0;

    return EVP_DecryptUpdate(ctx, NULL, &n, (const unsigned char *)SEAL_AD, sizeof(SEAL_AD)) == 1 &&
           EVP_DecryptUpdate(ctx, NULL, &n, (const unsigned char *)user, (int)strlen(user)) == 1;
}

int mfa_secret_seal(const struct mfa_keys *k, const char *user, const unsigned char *secret,
                    size_t len, char *out, size_t outlen)
{
    unsigned char buf[SEAL_NONCE + 64 + SEAL_TAG];
    EVP_CIPHER_CTX *ctx = NULL;
    int n = 0, fin = 0, r = DB_ERR_INTERNAL;

    if (len == 0 || len > 64 || outlen < sizeof(SEAL_PREFIX) + 2 * (SEAL_NONCE + len + SEAL_TAG)) {
        return DB_ERR_INVALID;
    }
    if (getrandom(buf, SEAL_NONCE, 0) != SEAL_NONCE) {
        return DB_ERR_IO;
    }
    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL || EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, k->seal, buf) != 1 ||
        !mfa_seal_ad(ctx, user) ||
        EVP_EncryptUpdate(ctx, buf + SEAL_NONCE, &n, secret, (int)len) != 1 ||
        EVP_EncryptFinal_ex(ctx, buf + SEAL_NONCE + n, &fin) != 1 || (size_t)(n + fin) != len ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SEAL_TAG, buf + SEAL_NONCE + len) != 1) {
        goto out;
    }
    memcpy(out, SEAL_PREFIX, sizeof(SEAL_PREFIX) - 1);
    mfa_hex(buf, SEAL_NONCE + len + SEAL_TAG, out + sizeof(SEAL_PREFIX) - 1);
    r = 0;
out:
    EVP_CIPHER_CTX_free(ctx);
    db_wipe(buf, sizeof(buf));
    return r;
}

int mfa_secret_unseal(const struct mfa_keys *k, const char *user, const char *sealed,
                      unsigned char *secret, size_t cap, size_t *len)
{
    unsigned char buf[SEAL_NONCE + 64 + SEAL_TAG], tag[SEAL_TAG];
    EVP_CIPHER_CTX *ctx = NULL;
    size_t hexlen = 0, total = 0, clen = 0;
    int n = 0, fin = 0, r = DB_ERR_TAMPERED;

    *len = 0;
    if (sealed == NULL || strncmp(sealed, SEAL_PREFIX, sizeof(SEAL_PREFIX) - 1) != 0) {
        return DB_ERR_TAMPERED;
    }
    sealed += sizeof(SEAL_PREFIX) - 1;
    hexlen = strlen(sealed);
    if (hexlen % 2 != 0 || hexlen / 2 <= SEAL_NONCE + SEAL_TAG || hexlen / 2 > sizeof(buf)) {
        return DB_ERR_TAMPERED;
    }
    total = hexlen / 2;
    clen = total - SEAL_NONCE - SEAL_TAG;
    if (clen > cap || mfa_unhex(sealed, hexlen, buf, total) != 0) {
        return DB_ERR_TAMPERED;
    }
    memcpy(tag, buf + SEAL_NONCE + clen, SEAL_TAG);
    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL) {
        r = DB_ERR_NOMEM;
        goto out;
    }
    if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, k->seal, buf) != 1 ||
        !mfa_open_ad(ctx, user) ||
        EVP_DecryptUpdate(ctx, secret, &n, buf + SEAL_NONCE, (int)clen) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SEAL_TAG, tag) != 1 ||
        EVP_DecryptFinal_ex(ctx, secret + n, &fin) != 1 || (size_t)(n + fin) != clen) {
        db_wipe(secret, cap);
        goto out;
    }
    *len = clen;
    r = 0;
out:
    EVP_CIPHER_CTX_free(ctx);
    db_wipe(buf, sizeof(buf));
    return r;
}

int mfa_recovery_normalise(const char *in, size_t len, char out[MFA_RECOVERY_CHARS + 1])
{
    size_t i = 0, n = 0;

    /* surrounding spaces, and one '-' or ' ' after the fifth character, as the codes are shown */
    while (len > 0 && in[len - 1] == ' ') {
        len--;
    }
    while (i < len && in[i] == ' ') {
        i++;
    }
    for (; i < len; i++) {
        char c = in[i];

        if ((c == '-' || c == ' ') && n == MFA_RECOVERY_CHARS / 2 && i + 1 < len &&
            in[i + 1] != '-' && in[i + 1] != ' ') {
            continue;
        }
        if (c >= 'A' && c <= 'Z') {
            c = (char)(c - 'A' + 'a');
        }
        if (!((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7')) || n >= MFA_RECOVERY_CHARS) {
            return DB_ERR_INVALID;
        }
        out[n++] = c;
    }
    if (n != MFA_RECOVERY_CHARS) {
        return DB_ERR_INVALID;
    }
    out[n] = '\0';
    return 0;
}

int mfa_recovery_hash(const struct mfa_keys *k, const char *user, const char *norm,
                      char hex[STORE_MFA_HASH_LEN + 1])
{
    unsigned char msg[STORE_NAME_MAX + 1 + MFA_RECOVERY_CHARS], md[32];
    unsigned int n = sizeof(md);
    size_t ulen = strlen(user), clen = strlen(norm);

    if (ulen > STORE_NAME_MAX || clen > MFA_RECOVERY_CHARS) {
        return DB_ERR_INVALID;
    }
    /* user NUL code: no two (user, code) pairs give the same message */
    memcpy(msg, user, ulen + 1);
    memcpy(msg + ulen + 1, norm, clen);
    if (HMAC(EVP_sha256(), k->recovery, sizeof(k->recovery), msg, ulen + 1 + clen, md, &n) ==
            NULL ||
        n != sizeof(md)) {
        return DB_ERR_INTERNAL;
    }
    mfa_hex(md, sizeof(md), hex);
    return 0;
}

int mfa_random_base32(char *out, size_t n)
{
    unsigned char b[64];

    if (n > sizeof(b) || getrandom(b, n, 0) != (ssize_t)n) {
        return DB_ERR_IO;
    }
    /* 32 divides 256: the low five bits of a uniform byte are uniform; | 0x20 lowers letters */
    for (size_t i = 0; i < n; i++) {
        out[i] = (char)(mfa_b32[b[i] & 31] | 0x20);
    }
    out[n] = '\0';
    db_wipe(b, sizeof(b));
    return 0;
}

void mfa_base32_encode(const unsigned char *in, size_t len, char *out)
{
    unsigned int acc = 0;
    int bits = 0;
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        acc = ((acc << 8) | in[i]) & 0xffffu;
        bits += 8;
        while (bits >= 5) {
            out[o++] = mfa_b32[(acc >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0) {
        out[o++] = mfa_b32[(acc << (5 - bits)) & 31];
    }
    out[o] = '\0';
}

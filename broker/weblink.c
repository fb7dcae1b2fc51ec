/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One-time login links for the web console (`ssh gw web`): a token of
 * WEBLINK_TOKEN_LEN characters (32 random bytes, base64url without padding)
 * and the SHA-256 of it, which is all the store keeps.  The shell command
 * makes links; the web process hashes what a browser brings and asks the
 * store to take the link (store_web_login_take).  Shared here so that both
 * hash a token the same way.
 */
#include "broker.h"

#include <string.h>
#include <sys/random.h>

#include <openssl/evp.h>

static const char weblink_b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int weblink_token_valid(const char *s, size_t len)
{
    if (s == NULL || len != WEBLINK_TOKEN_LEN) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\0' || strchr(weblink_b64url, s[i]) == NULL) {
            return 0;
        }
    }
    return 1;
}

int weblink_hash(const char *token, size_t len, char hex[AUDIT_HASH_HEX + 1])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char md[32];
    unsigned int mdlen = 0;

    hex[0] = '\0';
    if (EVP_Digest(token, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != sizeof(md)) {
        return DB_ERR_INTERNAL;
    }
    for (size_t i = 0; i < sizeof(md); i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[AUDIT_HASH_HEX] = '\0';
    return 0;
}

int weblink_new(char token[WEBLINK_TOKEN_LEN + 1], char hex[AUDIT_HASH_HEX + 1])
{
    unsigned char rnd[33]; /* a multiple of 3: 44 characters, of which the first 43 are used */
    size_t o = 0;
    int r = DB_ERR_INTERNAL;

    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        goto out;
    }
    rnd[32] = 0;
    for (size_t i = 0; i < sizeof(rnd) && o < WEBLINK_TOKEN_LEN; i += 3) {
        unsigned v = (unsigned)rnd[i] << 16 | (unsigned)rnd[i + 1] << 8 | rnd[i + 2];

        for (int k = 18; k >= 0 && o < WEBLINK_TOKEN_LEN; k -= 6) {
            token[o++] = weblink_b64url[(v >> k) & 63];
        }
    }
    token[WEBLINK_TOKEN_LEN] = '\0';
    r = weblink_hash(token, WEBLINK_TOKEN_LEN, hex);
out:
    db_wipe(rnd, sizeof(rnd));
    return r;
}

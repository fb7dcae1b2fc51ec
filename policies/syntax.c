/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The syntax of the values a policy holds: target and rule names, upstream
 * logins, labels, principals ("group:NAME" / "user:NAME"), target addresses
 * ("host:port", "[v6]:port") and pinned host keys ("TYPE BASE64 [comment]").
 * Shared by the parser (policy.c) and lint (lint.c), which checks policies
 * built by hand as well as parsed ones.
 *
 * Host keys are checked for syntax only -- a known type, well-formed base64,
 * and a blob that names the same type -- so this folder never links libssh.
 */
#include "policy.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POLICY_HOST_KEY_MAX 16384

static int syntax_lower_start(char c)
{
    return (c >= 'a' && c <= 'z') || c == '_';
}

static int syntax_lower_rest(char c)
{
    return syntax_lower_start(c) || (c >= '0' && c <= '9') || c == '.' || c == '-';
}

int policy_name_valid(const char *s)
{
    size_t i = 0;

    if (s == NULL || !syntax_lower_start(s[0])) {
        return 0;
    }
    for (i = 1; s[i] != '\0'; i++) {
        if (i >= 64 || !syntax_lower_rest(s[i])) {
            return 0;
        }
    }
    return 1;
}

/*
 * Upstream accounts are other systems' names, so mixed case and a leading
 * digit are allowed; what could confuse a command line or the USER+TARGET
 * grammar (spaces, '@', '+', ':', '/', leading '-') is not.
 */
int policy_login_valid(const char *s)
{
    size_t i = 0;

    if (s == NULL || s[0] == '\0' || s[0] == '-' || s[0] == '.') {
        return 0;
    }
    for (i = 0; s[i] != '\0'; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '.' || c == '-';

        if (i >= 64 || !ok) {
            return 0;
        }
    }
    return 1;
}

/* Printable ASCII without spaces, 1..max bytes. */
static int syntax_graph(const char *s, size_t max)
{
    size_t i = 0;

    if (s == NULL || s[0] == '\0') {
        return 0;
    }
    for (i = 0; s[i] != '\0'; i++) {
        unsigned char c = (unsigned char)s[i];

        if (i >= max || c <= 0x20 || c >= 0x7f) {
            return 0;
        }
    }
    return 1;
}

int policy_label_key_valid(const char *s)
{
    size_t i = 0;

    if (s == NULL || s[0] == '\0' || s[0] == '-' || s[0] == '.' || s[0] == '/') {
        return 0;
    }
    for (i = 0; s[i] != '\0'; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '.' || c == '-' || c == '/';

        if (i >= 63 || !ok) {
            return 0;
        }
    }
    return 1;
}

int policy_label_value_valid(const char *s)
{
    return syntax_graph(s, 128);
}

int policy_principal_name_valid(const char *s)
{
    return syntax_graph(s, 256);
}

int policy_principal_parse(const char *s, struct policy_principal *out)
{
    const char *name = NULL;

    out->kind = POLICY_PRINCIPAL_USER;
    out->name = NULL;
    if (s == NULL) {
        return DB_ERR_INVALID;
    }
    if (strncmp(s, "group:", 6) == 0) {
        out->kind = POLICY_PRINCIPAL_GROUP;
        name = s + 6;
    } else if (strncmp(s, "user:", 5) == 0) {
        name = s + 5;
    } else {
        return DB_ERR_INVALID;
    }
    if (!policy_principal_name_valid(name)) {
        return DB_ERR_INVALID;
    }
    out->name = strdup(name);
    return out->name != NULL ? 0 : DB_ERR_NOMEM;
}

static int syntax_hostname_valid(const char *h, size_t len)
{
    size_t label = 0;
    int all_numeric = 1;

    if (len == 0 || len > 253 || h[0] == '.' || h[len - 1] == '.') {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        char c = h[i];

        if (c == '.') {
            if (label == 0 || h[i - 1] == '-') {
                return 0;
            }
            label = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_')) {
            return 0;
        }
        if ((label == 0 && c == '-') || ++label > 63) {
            return 0;
        }
        if (c < '0' || c > '9') {
            all_numeric = 0;
        }
    }
    if (h[len - 1] == '-') {
        return 0;
    }
    if (all_numeric) {
        /* Looks like a dotted quad: it must be one ("10.0.1.300" is a typo, not a name). */
        char v4[16];
        struct in_addr a;

        if (len >= sizeof(v4)) {
            return 0;
        }
        memcpy(v4, h, len);
        v4[len] = '\0';
        return inet_pton(AF_INET, v4, &a) == 1;
    }
    return 1;
}

static int syntax_port(const char *s, int *port)
{
    long v = 0;

    if (s[0] == '\0' || s[0] == '0') {
        return 0;
    }
    for (size_t i = 0; s[i] != '\0'; i++) {
        if (s[i] < '0' || s[i] > '9' || i >= 5) {
            return 0;
        }
        v = v * 10 + (s[i] - '0');
    }
    if (v < 1 || v > 65535) {
        return 0;
    }
    *port = (int)v;
    return 1;
}

int policy_address_parse(const char *s, char **host, int *port, char *why, size_t whylen)
{
    const char *h = s, *colon = NULL, *end = NULL;
    size_t hlen = 0;
    int r = DB_ERR_INVALID;

    *host = NULL;
    *port = 22;
    if (s == NULL || s[0] == '\0') {
        db_errf(why, whylen, "empty address");
        return DB_ERR_INVALID;
    }
    if (s[0] == '[') {
        char v6[INET6_ADDRSTRLEN + 1];
        struct in6_addr a;

        end = strchr(s, ']');
        if (end == NULL) {
            db_errf(why, whylen, "missing ']' after IPv6 address");
            return DB_ERR_INVALID;
        }
        h = s + 1;
        hlen = (size_t)(end - h);
        if (hlen == 0 || hlen >= sizeof(v6)) {
            db_errf(why, whylen, "bad IPv6 address");
            return DB_ERR_INVALID;
        }
        memcpy(v6, h, hlen);
        v6[hlen] = '\0';
        if (inet_pton(AF_INET6, v6, &a) != 1) {
            db_errf(why, whylen, "bad IPv6 address \"%s\"", v6);
            return DB_ERR_INVALID;
        }
        if (end[1] != '\0' && end[1] != ':') {
            db_errf(why, whylen, "expected ':PORT' after ']'");
            return DB_ERR_INVALID;
        }
        colon = end[1] == ':' ? end + 1 : NULL;
    } else {
        colon = strchr(s, ':');
        if (colon != NULL && strchr(colon + 1, ':') != NULL) {
            db_errf(why, whylen, "IPv6 addresses are written [ADDRESS]:PORT");
            return DB_ERR_INVALID;
        }
        hlen = colon != NULL ? (size_t)(colon - s) : strlen(s);
        if (!syntax_hostname_valid(s, hlen)) {
            db_errf(why, whylen, "bad host name or IPv4 address");
            return DB_ERR_INVALID;
        }
    }
    if (colon != NULL && !syntax_port(colon + 1, port)) {
        db_errf(why, whylen, "port must be a number from 1 to 65535");
        return DB_ERR_INVALID;
    }
    *host = strndup(h, hlen);
    r = *host != NULL ? 0 : DB_ERR_NOMEM;
    return r;
}

static int syntax_b64_value(char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '+') {
        return 62;
    }
    if (c == '/') {
        return 63;
    }
    return -1;
}

/* Strict base64 (padding required, no whitespace).  out holds at least len*3/4 bytes. */
static int syntax_b64_decode(const char *s, size_t len, unsigned char *out, size_t *outlen)
{
    size_t o = 0;

    if (len == 0 || len % 4 != 0) {
        return DB_ERR_INVALID;
    }
    for (size_t i = 0; i < len; i += 4) {
        int v[4];
        int pad = 0;

        for (int k = 0; k < 4; k++) {
            if (s[i + k] == '=' && i + 4 == len && k >= 2) {
                v[k] = 0;
                pad++;
                continue;
            }
            v[k] = pad > 0 ? -1 : syntax_b64_value(s[i + k]);
            if (v[k] < 0) {
                return DB_ERR_INVALID;
            }
        }
        out[o++] = (unsigned char)((v[0] << 2) | (v[1] >> 4));
        if (pad < 2) {
            out[o++] = (unsigned char)(((v[1] & 0xf) << 4) | (v[2] >> 2));
        }
        if (pad < 1) {
            out[o++] = (unsigned char)(((v[2] & 0x3) << 6) | v[3]);
        }
    }
    *outlen = o;
    return 0;
}

/* The type written first in an SSH public key blob (RFC 4253 6.6). */
static const char *syntax_blob_type(const char *type)
{
    static const char *const types[] = {
        "ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
        "ssh-rsa",     "rsa-sha2-256",        "rsa-sha2-512",        NULL,
    };

    for (size_t i = 0; types[i] != NULL; i++) {
        if (strcmp(type, types[i]) == 0) {
            return strncmp(type, "rsa-sha2-", 9) == 0 ? "ssh-rsa" : type;
        }
    }
    return NULL;
}

int policy_host_key_parse(const char *s, char **out, char *why, size_t whylen)
{
    char type[32];
    const char *b64 = NULL, *expect = NULL;
    unsigned char *blob = NULL;
    size_t tlen = 0, blen = 0, rawlen = 0;
    int r = DB_ERR_INVALID;

    *out = NULL;
    if (s == NULL || strlen(s) > POLICY_HOST_KEY_MAX) {
        db_errf(why, whylen, "host key is missing or too long");
        goto out;
    }
    tlen = strcspn(s, " \t");
    if (tlen == 0 || tlen >= sizeof(type) || s[tlen] == '\0') {
        db_errf(why, whylen, "expected \"TYPE BASE64 [comment]\"");
        goto out;
    }
    memcpy(type, s, tlen);
    type[tlen] = '\0';
    expect = syntax_blob_type(type);
    if (expect == NULL) {
        db_errf(why, whylen, "unknown host key type \"%s\"", type);
        goto out;
    }
    b64 = s + tlen + strspn(s + tlen, " \t");
    blen = strcspn(b64, " \t");
    blob = malloc(blen / 4 * 3 + 3);
    if (blob == NULL) {
        r = DB_ERR_NOMEM;
        goto out;
    }
    if (syntax_b64_decode(b64, blen, blob, &rawlen) < 0) {
        db_errf(why, whylen, "host key is not valid base64");
        goto out;
    }
    {
        uint32_t n = rawlen >= 4 ? ((uint32_t)blob[0] << 24 | (uint32_t)blob[1] << 16 |
                                    (uint32_t)blob[2] << 8 | blob[3])
                                 : 0;

        if (rawlen < 4 || n != strlen(expect) || rawlen - 4 <= n ||
            memcmp(blob + 4, expect, n) != 0) {
            db_errf(why, whylen, "host key data is not a %s key", type);
            goto out;
        }
    }
    if (asprintf(out, "%s %.*s", type, (int)blen, b64) < 0) {
        *out = NULL;
        r = DB_ERR_NOMEM;
        goto out;
    }
    r = 0;
out:
    free(blob);
    return r;
}

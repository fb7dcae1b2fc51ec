/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The username grammar of DESIGN.md: "USER" or "USER+TARGET", each matching
 * [a-z_][a-z0-9_.-]{0,63}.  Checked before LDAP is asked, so nothing that
 * fails here ever reaches a filter, a log line unescaped, or a path.
 */
#include <string.h>

#include "broker.h"

#define NAMES_MAX 64

int names_valid(const char *s, size_t len)
{
    if (s == NULL || len == 0 || len > NAMES_MAX) {
        return 0;
    }
    if (!((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_')) {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
              c == '-')) {
            return 0;
        }
    }
    return 1;
}

int names_parse_login(const char *s, char *user, char *target)
{
    const char *plus = NULL;
    size_t len, ulen;

    user[0] = '\0';
    target[0] = '\0';
    if (s == NULL) {
        return DB_ERR_INVALID;
    }
    /* Bounded scan: anything longer than USER+TARGET at their maxima is refused. */
    len = strnlen(s, 2 * NAMES_MAX + 2);
    if (len > 2 * NAMES_MAX + 1) {
        return DB_ERR_INVALID;
    }
    plus = memchr(s, '+', len);
    ulen = plus != NULL ? (size_t)(plus - s) : len;
    if (!names_valid(s, ulen)) {
        return DB_ERR_INVALID;
    }
    if (plus != NULL) {
        size_t tlen = len - ulen - 1;

        if (!names_valid(plus + 1, tlen)) {
            return DB_ERR_INVALID;
        }
        memcpy(target, plus + 1, tlen);
        target[tlen] = '\0';
    }
    memcpy(user, s, ulen);
    user[ulen] = '\0';
    return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the username grammar (broker/names.c): the first
 * thing the gateway does with a login name an unauthenticated client sent.
 * For any input it checks, against a checker written from DESIGN.md rather
 * than from the code:
 *
 *   - names_valid(s, len) is true exactly when s[0..len) matches
 *     [a-z_][a-z0-9_.-]{0,63} (embedded NULs and all);
 *   - names_parse_login() accepts exactly "USER" or "USER+TARGET" with both
 *     parts in that grammar; what it hands back matches the grammar, fits
 *     the 65-byte buffers the callers give it, and user, then "+" and
 *     target when there is one, rebuilds the input exactly;
 *   - a refused login leaves both buffers empty.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"

#define NAME_MAX_LEN 64
#define NAME_BUF (NAME_MAX_LEN + 1) /* what broker.h promises callers need */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* [a-z_][a-z0-9_.-]{0,63}, over exactly len bytes. */
static int grammar_ok(const unsigned char *s, size_t len)
{
    if (len < 1 || len > NAME_MAX_LEN) {
        return 0;
    }
    if (!((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_')) {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        unsigned char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
              c == '-')) {
            return 0;
        }
    }
    return 1;
}

static int grammar_ok_str(const char *s)
{
    size_t n = strnlen(s, NAME_BUF);

    return n < NAME_BUF && grammar_ok((const unsigned char *)s, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = NULL, *user = NULL, *target = NULL, *rebuilt = NULL;
    const char *plus = NULL;
    size_t len = 0, ulen = 0, tlen = 0;
    int want = 0, r = 0;

    /* The raw bytes, exactly as long as the fuzzer made them. */
    if ((names_valid((const char *)data, size) != 0) != grammar_ok(data, size)) {
        abort();
    }
    if (names_valid(NULL, 0) != 0 || names_valid(NULL, 5) != 0) {
        abort();
    }

    /* The same bytes as the C string a login name arrives as. */
    s = malloc(size + 1);
    user = malloc(NAME_BUF);
    target = malloc(NAME_BUF);
    if (s == NULL || user == NULL || target == NULL) {
        abort();
    }
    memcpy(s, data, size);
    s[size] = '\0';
    len = strlen(s);
    plus = memchr(s, '+', len);
    ulen = plus != NULL ? (size_t)(plus - s) : len;
    tlen = plus != NULL ? len - ulen - 1 : 0;
    want = grammar_ok((const unsigned char *)s, ulen) &&
           (plus == NULL || grammar_ok((const unsigned char *)plus + 1, tlen));

    memset(user, 0x5a, NAME_BUF);
    memset(target, 0x5a, NAME_BUF);
    r = names_parse_login(s, user, target);
    if ((r == 0) != want || (r != 0 && r != DB_ERR_INVALID)) {
        abort();
    }
    if (r != 0) {
        if (user[0] != '\0' || target[0] != '\0') {
            abort();
        }
    } else {
        if (!grammar_ok_str(user) || (target[0] != '\0' && !grammar_ok_str(target))) {
            abort();
        }
        if ((plus == NULL) != (target[0] == '\0')) {
            abort();
        }
        rebuilt = malloc(2 * NAME_BUF + 1);
        if (rebuilt == NULL) {
            abort();
        }
        strcpy(rebuilt, user);
        if (target[0] != '\0') {
            strcat(rebuilt, "+");
            strcat(rebuilt, target);
        }
        if (strcmp(rebuilt, s) != 0) {
            abort();
        }
        free(rebuilt);
    }

    memset(user, 0x5a, NAME_BUF);
    memset(target, 0x5a, NAME_BUF);
    if (names_parse_login(NULL, user, target) == 0 || user[0] != '\0' || target[0] != '\0') {
        abort();
    }
    free(s);
    free(user);
    free(target);
    return 0;
}

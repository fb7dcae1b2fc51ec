/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TOTP (RFC 6238) through liboath: HMAC-SHA-1, 30-second steps counted from
 * the Unix epoch, 6 digits.  liboath takes the number of digits from the
 * length of the code it is handed, so the syntax is checked here first:
 * exactly six ASCII digits, nothing else -- a 7- or 8-digit answer must not
 * become a valid 7- or 8-digit TOTP.
 */
#include <stdio.h>
#include <string.h>

#include <liboath/oath.h>

#include "mfa.h"

int mfa_totp_syntax(const char *s, size_t len)
{
    if (s == NULL || len != MFA_DIGITS) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
    }
    return 1;
}

int mfa_totp_match(const unsigned char *secret, size_t secretlen, long long now, int window,
                   const char *code, long long *step)
{
    uint64_t counter = 0;
    int pos = 0, rc;

    *step = 0;
    if (code == NULL || !mfa_totp_syntax(code, strlen(code)) || window < 0 || now < 0) {
        return DB_ERR_AUTH;
    }
    if (oath_init() != OATH_OK) {
        return DB_ERR_INTERNAL;
    }
    rc = oath_totp_validate3((const char *)secret, secretlen, (time_t)now, MFA_STEP_SECONDS, 0,
                             (size_t)window, &pos, &counter, code);
    oath_done();
    if (rc < 0) {
        return rc == OATH_INVALID_OTP ? DB_ERR_AUTH : DB_ERR_INTERNAL;
    }
    *step = (long long)counter;
    return 0;
}

int mfa_totp_code(const unsigned char *secret, size_t secretlen, long long step, char *out)
{
    int rc;

    if (oath_init() != OATH_OK) {
        return DB_ERR_INTERNAL;
    }
    rc = oath_totp_generate((const char *)secret, secretlen, (time_t)(step * MFA_STEP_SECONDS),
                            MFA_STEP_SECONDS, 0, MFA_DIGITS, out);
    oath_done();
    return rc == OATH_OK ? 0 : DB_ERR_INTERNAL;
}

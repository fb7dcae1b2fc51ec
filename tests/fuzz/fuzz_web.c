/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The web console's parsers of what browsers and recordings send: a form
 * body's fields (the login forms) and terminal bytes made JSON text for the
 * player (cast and live view), over any bytes.  The first byte picks the
 * field asked for and where the bytes are split in two events; then:
 *   - a decoded field never holds a NUL and always fits its buffer;
 *   - the text of two events, joined, is valid UTF-8, never longer than
 *     three bytes per input byte, and when the input was valid UTF-8 without
 *     NUL it comes back unchanged, whatever the split.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "web/web.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const fields[] = {"user", "password", "code", "u"};
    unsigned char carry[4];
    size_t ncarry = 0, split, outlen = 0;
    char out[64], *joined = NULL;
    struct web_req r;
    json_t *a = NULL, *b = NULL;
    int rc;

    if (size < 1) {
        return 0;
    }
    memset(&r, 0, sizeof(r));
    r.body = malloc(size);
    if (r.body == NULL) {
        return 0;
    }
    memcpy(r.body, data + 1, size - 1);
    r.bodylen = size - 1;
    rc = web_form_field(&r, fields[data[0] & 3], out, sizeof(out));
    if (rc == 0 && strlen(out) >= sizeof(out)) {
        abort();
    }
    split = r.bodylen > 0 ? (data[0] >> 2) % (r.bodylen + 1) : 0;
    a = web_utf8_json(carry, &ncarry, r.body, split);
    b = web_utf8_json(carry, &ncarry, r.body + split, r.bodylen - split);
    if (a == NULL || b == NULL) {
        abort();
    }
    outlen = json_string_length(a) + json_string_length(b);
    if (outlen > 3 * r.bodylen) {
        abort();
    }
    joined = malloc(outlen + 1);
    if (joined == NULL) {
        abort();
    }
    memcpy(joined, json_string_value(a), json_string_length(a));
    memcpy(joined + json_string_length(a), json_string_value(b), json_string_length(b));
    joined[outlen] = '\0';
    if (!db_utf8_valid(joined, outlen)) {
        abort();
    }
    if (ncarry == 0 && db_utf8_valid(r.body, r.bodylen) &&
        (outlen != r.bodylen || memcmp(joined, r.body, outlen) != 0)) {
        abort();
    }
    free(joined);
    json_decref(a);
    json_decref(b);
    free(r.body);
    return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for what the certificate signer reads (broker/signer):
 * the request a session child sends -- the signer's first contact with a
 * possibly compromised process -- and every other message between the
 * processes, the certificate parser and the CA key file parser.  The first
 * byte picks which; the rest is the input.  Besides "no crash, no leak, no
 * read out of bounds" it checks:
 *
 *   - a message that decodes is canonical: encoding what was decoded gives
 *     back exactly the input bytes (so there is one way to say anything, and
 *     nothing the decoder skipped);
 *   - a decoded request's names match the grammar and its session and
 *     address are well formed;
 *   - a certificate built from fuzzed key id, principal and source address
 *     parses back to exactly those, and with any one byte changed it no
 *     longer parses (encoding or signature);
 *   - a CA key file that parses signs something its own public key verifies.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "signer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A fixed CA for the build-and-parse case (made by ssh-keygen once, for this target only). */
static const char fuzz_ca_text[] =
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    "QyNTUxOQAAACBL0MKEUIVZbEposGP9xOeNehWYK8R7OM26MwpcmxPhBQAAAJCzVgHms1YB\n"
    "5gAAAAtzc2gtZWQyNTUxOQAAACBL0MKEUIVZbEposGP9xOeNehWYK8R7OM26MwpcmxPhBQ\n"
    "AAAEDfGsJY9ecGCi48WEa9esA4uKdPX7EycUlQoL4nJPwWUUvQwoRQhVlsSmiwY/3E5416\n"
    "FZgrxHs4zbozClybE+EFAAAACWZ1enotY2EtMQECAwQ=\n"
    "-----END OPENSSH PRIVATE KEY-----\n";

static void same_or_die(const struct wire_w *w, const uint8_t *data, size_t size)
{
    if (w->bad || w->len != size || memcmp(w->p, data, size) != 0) {
        abort();
    }
}

static void fuzz_request(const uint8_t *data, size_t size)
{
    struct signer_cert_req q;
    struct wire_w w;
    char why[160];

    if (signer_cert_req_decode(data, size, &q, why, sizeof(why)) != 0) {
        return;
    }
    if (!policy_name_valid(q.user) || !policy_name_valid(q.target) ||
        !policy_login_valid(q.login) || !signer_session_valid(q.session) ||
        !signer_addr_valid(q.source)) {
        abort();
    }
    wire_w_init(&w);
    signer_cert_req_encode(&w, &q);
    same_or_die(&w, data, size);
    wire_w_free(&w);
}

static void fuzz_replies(const uint8_t *data, size_t size)
{
    struct signer_cert_reply *a = malloc(sizeof(*a));
    struct signer_check_reply c;
    struct wire_w w;

    if (a == NULL) {
        abort();
    }
    if (signer_cert_reply_decode(data, size, a) == 0) {
        wire_w_init(&w);
        signer_cert_reply_encode(&w, a);
        same_or_die(&w, data, size);
        wire_w_free(&w);
    }
    if (signer_check_reply_decode(data, size, &c) == 0) {
        wire_w_init(&w);
        signer_check_reply_encode(&w, &c);
        same_or_die(&w, data, size);
        wire_w_free(&w);
    }
    free(a);
}

static void fuzz_internal(const uint8_t *data, size_t size)
{
    struct signer_check_req q;
    struct signer_audit_req *au = malloc(sizeof(*au));
    struct wire_w w;
    char user[65];
    int kind = 0;

    if (au == NULL) {
        abort();
    }
    if (signer_ctl_decode(data, size, &kind, user) == 0) {
        wire_w_init(&w);
        if (kind == SIGNER_MSG_BIND) {
            signer_bind_encode(&w, user);
        } else {
            signer_reload_encode(&w);
        }
        same_or_die(&w, data, size);
        wire_w_free(&w);
    }
    if (signer_checker_decode(data, size, &kind, &q, au) == 0) {
        wire_w_init(&w);
        if (kind == SIGNER_MSG_CHECK) {
            signer_check_req_encode(&w, &q);
        } else if (kind == SIGNER_MSG_AUDIT) {
            signer_audit_req_encode(&w, au);
        } else {
            signer_reload_encode(&w);
        }
        same_or_die(&w, data, size);
        wire_w_free(&w);
    }
    free(au);
}

static void fuzz_cert_parse(const uint8_t *data, size_t size)
{
    struct certkey_info *c = malloc(sizeof(*c));
    char why[160];

    if (c == NULL) {
        abort();
    }
    if (certkey_parse(data, size, c, why, sizeof(why)) == 0 && c->nprincipals > CERTKEY_PRINCIPALS_MAX) {
        abort();
    }
    free(c);
}

/* Input: three NUL-separated strings (key id, principal, source) and a byte to flip. */
static void fuzz_cert_build(const uint8_t *data, size_t size)
{
    static struct cakey *ca = NULL;
    struct certkey_spec s;
    struct certkey_info *c = NULL;
    char *buf = NULL, *parts[3] = {NULL, NULL, NULL}, why[160];
    unsigned char *blob = NULL;
    size_t len = 0, at = 0;

    if (ca == NULL && cakey_parse(fuzz_ca_text, strlen(fuzz_ca_text), &ca, why, sizeof(why)) != 0) {
        abort();
    }
    buf = malloc(size + 1);
    c = malloc(sizeof(*c));
    if (buf == NULL || c == NULL) {
        abort();
    }
    memcpy(buf, data, size);
    buf[size] = '\0';
    parts[0] = buf;
    for (int i = 1; i < 3; i++) {
        char *nul = parts[i - 1] + strlen(parts[i - 1]);

        if (nul >= buf + size) {
            goto out;
        }
        parts[i] = nul + 1;
    }
    memset(&s, 0, sizeof(s));
    memset(s.pk, 0x11, sizeof(s.pk));
    s.serial = size;
    s.key_id = parts[0];
    s.principal = parts[1];
    s.source_address = parts[2];
    s.valid_after = 1;
    s.valid_before = 2 + size;
    if (certkey_build(&s, ca, &blob, &len, why, sizeof(why)) != 0) {
        goto out;
    }
    if (certkey_parse(blob, len, c, why, sizeof(why)) != 0 || strcmp(c->key_id, s.key_id) != 0 ||
        c->nprincipals != 1 || strcmp(c->principals[0], s.principal) != 0 ||
        strcmp(c->source_address, s.source_address) != 0 || c->serial != s.serial ||
        memcmp(c->ca_pk, cakey_public(ca), CERTKEY_PK_LEN) != 0) {
        abort();
    }
    at = size % len;
    blob[at] ^= 0x20;
    if (certkey_parse(blob, len, c, why, sizeof(why)) == 0) {
        abort();
    }
out:
    free(blob);
    free(buf);
    free(c);
}

static void fuzz_cakey(const uint8_t *data, size_t size)
{
    struct cakey *k = NULL;
    unsigned char sig[CERTKEY_SIG_LEN];
    char *text = malloc(size + 1), why[160];

    if (text == NULL) {
        abort();
    }
    memcpy(text, data, size);
    text[size] = '\0';
    if (cakey_parse(text, size, &k, why, sizeof(why)) == 0) {
        if (cakey_sign(k, data, size, sig) != 0 ||
            cakey_verify(cakey_public(k), data, size, sig) != 0) {
            abort();
        }
    }
    cakey_free(k);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    switch (data[0] % 6) {
    case 0:
        fuzz_request(data + 1, size - 1);
        break;
    case 1:
        fuzz_replies(data + 1, size - 1);
        break;
    case 2:
        fuzz_internal(data + 1, size - 1);
        break;
    case 3:
        fuzz_cert_parse(data + 1, size - 1);
        break;
    case 4:
        fuzz_cert_build(data + 1, size - 1);
        break;
    default:
        fuzz_cakey(data + 1, size - 1);
        break;
    }
    return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A session child asks the signer for a certificate, on the socket the
 * listener gave it at fork (the signer reads it only once the listener has
 * handed it over for the authenticated user; a request written before that
 * simply waits in the socket).  No signer, a refusal, a timeout or a reply
 * that does not parse all end in an error: the caller refuses the
 * connection, it never falls back to the static key.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "signer.h"

int signer_request(int sock, const struct signer_cert_req *q, int timeout_ms, unsigned char **cert,
                   size_t *certlen, uint64_t *serial, char *err, size_t errlen)
{
    struct signer_cert_reply *a = NULL;
    struct wire_w w;
    struct pollfd pf;
    unsigned char *buf = NULL;
    ssize_t n = 0;
    int r = DB_ERR_UNAVAIL, rc = 0;

    *cert = NULL;
    *certlen = 0;
    *serial = 0;
    wire_w_init(&w);
    if (sock < 0) {
        db_errf(err, errlen, "no certificate signer is running");
        goto out;
    }
    buf = malloc(SIGNER_MSG_MAX);
    a = malloc(sizeof(*a));
    if (buf == NULL || a == NULL) {
        r = DB_ERR_NOMEM;
        db_errf(err, errlen, "out of memory");
        goto out;
    }
    signer_cert_req_encode(&w, q);
    if (signer_send(sock, &w, -1) != 0) {
        db_errf(err, errlen, "the certificate signer is not running");
        goto out;
    }
    pf.fd = sock;
    pf.events = POLLIN;
    do {
        rc = poll(&pf, 1, timeout_ms);
    } while (rc < 0 && errno == EINTR);
    if (rc == 0) {
        r = DB_ERR_TIMEOUT;
        db_errf(err, errlen, "the certificate signer did not answer within %d s",
                timeout_ms / 1000);
        goto out;
    }
    n = signer_recv(sock, buf, SIGNER_MSG_MAX, NULL);
    if (n <= 0) {
        db_errf(err, errlen, "the certificate signer is not running");
        goto out;
    }
    if (signer_cert_reply_decode(buf, (size_t)n, a) != 0) {
        db_errf(err, errlen, "the certificate signer sent a malformed reply");
        goto out;
    }
    if (a->status != SIGNER_OK) {
        r = a->status == SIGNER_REFUSED ? DB_ERR_DENIED : DB_ERR_UNAVAIL;
        db_errf(err, errlen, "no certificate: %s", a->message);
        goto out;
    }
    *cert = malloc(a->certlen);
    if (*cert == NULL) {
        r = DB_ERR_NOMEM;
        goto out;
    }
    memcpy(*cert, a->cert, a->certlen);
    *certlen = a->certlen;
    *serial = a->serial;
    r = 0;
out:
    wire_w_free(&w);
    free(buf);
    free(a);
    return r;
}

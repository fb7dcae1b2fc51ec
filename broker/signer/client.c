/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A session child asks the signer for a certificate, on the socket the
 * listener gave it at fork (the signer reads it only once the listener has
 * handed it over for the authenticated user; a request written before that
 * simply waits in the socket), and hands over with the request its TCP
 * connection to the target: the signer takes the certificate's
 * source-address from that socket, not from the request.  No signer, a refusal, a timeout or a reply
 * that does not parse all end in an error: the caller refuses the
 * connection, it never falls back to the static key.
 *
 * The request can be sent early and the answer taken later (the session
 * sends it as soon as its TCP connection to the target exists, and reads the
 * answer after the key exchange), so that the signer's work overlaps the
 * target's.  The signer answers one request at a time, in order: a caller
 * that sent one and gives up on the connection closes the socket rather
 * than leave an answer for a later request to read.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "signer.h"

int signer_request_send(int sock, const struct signer_cert_req *q, int conn, char *err,
                        size_t errlen)
{
    struct wire_w w;
    int r = 0;

    if (sock < 0) {
        db_errf(err, errlen, "no certificate signer is running");
        return DB_ERR_UNAVAIL;
    }
    wire_w_init(&w);
    signer_cert_req_encode(&w, q);
    if (signer_send(sock, &w, conn) != 0) {
        db_errf(err, errlen, "the certificate signer is not running");
        r = DB_ERR_UNAVAIL;
    }
    wire_w_free(&w);
    return r;
}

int signer_request_recv(int sock, int timeout_ms, unsigned char **cert, size_t *certlen,
                        uint64_t *serial, char *err, size_t errlen)
{
    struct signer_cert_reply *a = NULL;
    struct pollfd pf;
    unsigned char *buf = NULL;
    ssize_t n = 0;
    int r = DB_ERR_UNAVAIL, rc = 0;

    *cert = NULL;
    *certlen = 0;
    *serial = 0;
    buf = malloc(SIGNER_MSG_MAX);
    a = malloc(sizeof(*a));
    if (buf == NULL || a == NULL) {
        r = DB_ERR_NOMEM;
        db_errf(err, errlen, "out of memory");
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
    free(buf);
    free(a);
    return r;
}

int signer_request(int sock, const struct signer_cert_req *q, int conn, int timeout_ms,
                   unsigned char **cert, size_t *certlen, uint64_t *serial, char *err,
                   size_t errlen)
{
    int r = signer_request_send(sock, q, conn, err, errlen);

    if (r != 0) {
        *cert = NULL;
        *certlen = 0;
        *serial = 0;
        return r;
    }
    return signer_request_recv(sock, timeout_ms, cert, certlen, serial, err, errlen);
}

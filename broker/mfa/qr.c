/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The otpauth:// URI as a QR code an authenticator app can scan off a
 * terminal (libqrencode).  Two rows of modules per line with the Unicode
 * half blocks, always dark modules on a light background whatever the
 * terminal's colours (scanners want dark on light), with a quiet zone of
 * two modules.
 */
#include <stdlib.h>
#include <string.h>

#include <qrencode.h>

#include "mfa.h"

#define QR_QUIET 2
#define QR_LINE_START "\033[30;107m" /* black on bright white */
#define QR_LINE_END "\033[0m\n"

/* 1 when the module at (x, y) of the padded square is dark. */
static int qr_dark(const QRcode *q, int x, int y)
{
    x -= QR_QUIET;
    y -= QR_QUIET;
    if (x < 0 || y < 0 || x >= q->width || y >= q->width) {
        return 0;
    }
    return q->data[y * q->width + x] & 1;
}

int mfa_qr_render(const char *text, char **out)
{
    static const char *const cell[4] = {" ", "\u2580", "\u2584", "\u2588"}; /* top, bottom dark */
    QRcode *q = NULL;
    char *buf = NULL;
    size_t cap = 0, used = 0;
    int size;

    *out = NULL;
    q = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (q == NULL) {
        return DB_ERR_INVALID;
    }
    size = q->width + 2 * QR_QUIET;
    /* per line: the colours, 3 bytes a cell, the reset */
    cap =
        (size_t)(size / 2 + 1) * (sizeof(QR_LINE_START) + 3 * (size_t)size + sizeof(QR_LINE_END)) +
        1;
    buf = malloc(cap);
    if (buf == NULL) {
        QRcode_free(q);
        return DB_ERR_NOMEM;
    }
    for (int y = 0; y < size; y += 2) {
        memcpy(buf + used, QR_LINE_START, sizeof(QR_LINE_START) - 1);
        used += sizeof(QR_LINE_START) - 1;
        for (int x = 0; x < size; x++) {
            const char *c = cell[qr_dark(q, x, y) | qr_dark(q, x, y + 1) << 1];
            size_t n = strlen(c);

            memcpy(buf + used, c, n);
            used += n;
        }
        memcpy(buf + used, QR_LINE_END, sizeof(QR_LINE_END) - 1);
        used += sizeof(QR_LINE_END) - 1;
    }
    buf[used] = '\0';
    QRcode_free(q);
    *out = buf;
    return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the replay sanitiser (recordings/sanitize.c), which
 * stands between whatever a recorded program wrote and a reviewer's
 * terminal.  For any input it checks what the sanitiser promises, with a
 * checker written from FORMAT.md rather than from the code:
 *
 *  - the output is valid UTF-8 with no C1 control (U+0080..U+009F), no C0
 *    but BS HT LF VT FF CR SO SI and ESC, and no DEL;
 *  - every ESC starts a whole sequence from the allowed list: no DCS, APC,
 *    PM or SOS, no OSC but titles without '?', no CSI that asks the terminal
 *    anything (n, c, t, x, $p, ...), no mode outside the allowed ones;
 *  - cutting the input anywhere (here: where its own bytes say, and byte by
 *    byte for short inputs) gives the same output;
 *  - the output passes through unchanged (what is kept is what is allowed).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "recording.h"

static int mode_ok(int private, long v)
{
    static const long dec[] = {1, 4, 5, 6, 7, 12, 25, 47, 66, 69, 1047, 1048, 1049, 2026};

    if (!private) {
        return v == 4;
    }
    for (size_t i = 0; i < sizeof(dec) / sizeof(dec[0]); i++) {
        if (dec[i] == v) {
            return 1;
        }
    }
    return 0;
}

/* The CSI at p[0..n) (after ESC [); returns its length, 0 when not allowed. */
static size_t check_csi(const unsigned char *p, size_t n)
{
    size_t i = 0, params;
    int private = 0;

    if (i < n && p[i] == '?') {
        private = 1;
        i++;
    }
    params = i;
    while (i < n && ((p[i] >= '0' && p[i] <= '9') || p[i] == ';' || p[i] == ':')) {
        i++;
    }
    if (i < n && (p[i] == ' ' || p[i] == '!')) {
        /* DECSCUSR and DECSTR only */
        if (private || i + 1 >= n || (p[i] == ' ' && p[i + 1] != 'q') ||
            (p[i] == '!' && (p[i + 1] != 'p' || i != params))) {
            return 0;
        }
        return i + 2;
    }
    if (i >= n) {
        return 0;
    }
    if (p[i] == 'h' || p[i] == 'l') {
        long v = 0;

        for (size_t k = params; k <= i; k++) {
            if (k == i || p[k] == ';') {
                if (!mode_ok(private, v)) {
                    return 0;
                }
                v = 0;
            } else if (p[k] == ':' || (v = v * 10 + (p[k] - '0')) > 100000) {
                return 0;
            }
        }
        return i + 1;
    }
    if (private) {
        return p[i] == 'J' || p[i] == 'K' ? i + 1 : 0;
    }
    if (strchr("@ABCDEFGHIJKLMPSTXZ`abdefgmrsu", p[i]) == NULL || p[i] == '\0') {
        return 0;
    }
    if (p[i] == 'T' && memchr(p + params, ';', i - params) != NULL) {
        return 0;
    }
    return i + 1;
}

/* A title, after ESC ]; returns its length with the terminator, 0 when not allowed. */
static size_t check_osc(const unsigned char *p, size_t n)
{
    size_t i = 2;

    if (n < 3 || p[0] < '0' || p[0] > '2' || p[1] != ';') {
        return 0;
    }
    while (i < n && p[i] >= 0x20 && p[i] != 0x7F && p[i] != '?') {
        int k = rec_utf8_len(p + i, n - i);

        if (k <= 0 || (p[i] == 0xC2 && p[i + 1] < 0xA0)) {
            return 0;
        }
        i += (size_t)k;
    }
    if (i < n && p[i] == 0x07) {
        return i + 1;
    }
    return i + 1 < n && p[i] == 0x1B && p[i + 1] == '\\' ? i + 2 : 0;
}

static void check_output(const unsigned char *p, size_t n)
{
    size_t i = 0;

    while (i < n) {
        int k = rec_utf8_len(p + i, n - i);
        size_t len;

        if (k <= 0 || (p[i] == 0xC2 && p[i + 1] < 0xA0) || p[i] == 0x7F ||
            (p[i] < 0x20 && p[i] != 0x1B && (p[i] < 0x08 || p[i] > 0x0F))) {
            abort();
        }
        if (p[i] != 0x1B) {
            i += (size_t)k;
            continue;
        }
        if (i + 1 >= n) {
            abort(); /* a lone ESC at the end */
        }
        if (p[i + 1] == '[') {
            len = check_csi(p + i + 2, n - i - 2);
        } else if (p[i + 1] == ']') {
            len = check_osc(p + i + 2, n - i - 2);
        } else if (strchr("()*+-./", p[i + 1]) != NULL && p[i + 1] != '\0' && i + 2 < n &&
                   p[i + 2] >= 0x30 && p[i + 2] <= 0x7E) {
            len = 1;
        } else if (p[i + 1] == '#' && i + 2 < n && strchr("34568", p[i + 2]) != NULL &&
                   p[i + 2] != '\0') {
            len = 1;
        } else {
            len = strchr("78=>DEMHcNOno|}~", p[i + 1]) != NULL && p[i + 1] != '\0' ? 0 : SIZE_MAX;
        }
        if (len == 0 && (p[i + 1] == '[' || p[i + 1] == ']')) {
            abort();
        }
        if (len == SIZE_MAX) {
            abort(); /* ESC P, ESC X, ESC ^, ESC _, ESC Z, ESC %, ESC SP ... */
        }
        i += 2 + len;
    }
}

static char *sanitize(const uint8_t *data, size_t size, const size_t *cuts, size_t ncuts,
                      size_t *outlen)
{
    struct rec_sanitizer *s = NULL;
    char *out = NULL;
    size_t cap = 0, prev = 0;

    *outlen = 0;
    if (rec_sanitizer_new(&s) != 0) {
        abort();
    }
    for (size_t k = 0; k <= ncuts; k++) {
        size_t end = k < ncuts ? cuts[k] : size;

        if (rec_sanitize(s, data + prev, end - prev, &out, outlen, &cap) != 0) {
            abort();
        }
        prev = end;
    }
    rec_sanitizer_free(s);
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n1, n2, cuts[4], ncuts = 0;
    char *a, *b;

    a = sanitize(data, size, NULL, 0, &n1);
    check_output((const unsigned char *)a, n1);
    /* cut where the input's own first bytes say */
    for (size_t k = 0; k < 4 && k < size; k++) {
        size_t c = size > 0 ? (data[k] * 7919u + k * 104729u) % (size + 1) : 0;

        if (ncuts == 0 || c >= cuts[ncuts - 1]) {
            cuts[ncuts++] = c;
        }
    }
    b = sanitize(data, size, cuts, ncuts, &n2);
    if (n1 != n2 || memcmp(a, b, n1) != 0) {
        abort();
    }
    free(b);
    if (size <= 256) {
        size_t every[256];

        for (size_t k = 0; k + 1 < size; k++) {
            every[k] = k + 1;
        }
        b = sanitize(data, size, every, size > 0 ? size - 1 : 0, &n2);
        if (n1 != n2 || memcmp(a, b, n1) != 0) {
            abort();
        }
        free(b);
    }
    /* what comes out is kept as it is */
    b = sanitize((const uint8_t *)a, n1, NULL, 0, &n2);
    if (n1 != n2 || memcmp(a, b, n1) != 0) {
        abort();
    }
    free(b);
    free(a);
    return 0;
}

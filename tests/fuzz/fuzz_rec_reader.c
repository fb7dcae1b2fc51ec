/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the recordings library's readers: a recording is a
 * file anyone with access to the disk may have edited.  The input is, in
 * turn:
 *
 *  - a recording, read by the reader: it never crashes, every event it
 *    accepts has a known code, a finite time that never goes back, and data
 *    that survives the format's own encodings (U+EF80..U+EFFF, base64)
 *    unchanged; compressed events are never larger than an event;
 *  - a file, checked by the verifier (unsealed and against a seal): it
 *    always gives a verdict, and "ok" only for a file the reader reads to
 *    the end and that ends with an "e" event and a checkpoint;
 *  - the bytes of a session, written by the writer in pieces the input
 *    chooses, on both streams, some close enough together to share an
 *    event: the reader gives back exactly those bytes, every line of the
 *    file is valid UTF-8, and the lines handed to the search index are
 *    valid UTF-8 without control bytes, at most 512 bytes each and within
 *    the cap.
 *
 * The seeds in corpus/fuzz_rec_reader/ were written with KEY below, so the
 * fuzzer starts from files whose checkpoints hold: in format 2, and one in
 * format 1 (shell-closed-format1.cast); compressed.cast has "zo"/"zi"
 * events (format 3) and no checkpoint that holds.
 */
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "recording.h"

static const unsigned char KEY[REC_KEY_LEN] = "drawbridge fuzz key 0123456789ab";

static void check_event(const struct rec_event *ev, double prev, size_t size)
{
    static const char *const codes[] = {"o", "i", "bo", "bi", "r", "m", "c", "e"};
    size_t k = 0, most;

    while (k < 8 && strcmp(ev->code, codes[k]) != 0) {
        k++;
    }
    /* a compressed event ("zo"/"zi", read as "bo"/"bi") may hold more than the file */
    most = k == 2 || k == 3 ? size + REC_EVENT_IN_MAX + 4 : size;

    if (k == 8 || !isfinite(ev->time) || ev->time < prev || ev->len > most ||
        ev->data[ev->len] != '\0') {
        abort();
    }
    if (k == 2 || k == 3) {
        /* base64 back and forth */
        char *b = malloc(ev->len / 3 * 4 + 8);
        unsigned char *d = malloc(ev->len + 8);
        size_t n = rec_b64_encode(ev->data, ev->len, b), m = 0;

        if (rec_b64_decode(b, n, d, &m) != 0 || m != ev->len || memcmp(d, ev->data, m) != 0) {
            abort();
        }
        free(b);
        free(d);
    } else if ((k == 0 || k == 1 || k == 5 || k == 7) && memchr(ev->data, 0, ev->len) == NULL) {
        /* the escape is a bijection: escaping and decoding gives the bytes back */
        char *s = rec_pua_string((const char *)ev->data, ev->len);
        unsigned char *d = malloc(ev->len * 3 + 1);
        size_t n;

        if (s == NULL || d == NULL || !db_utf8_valid(s, strlen(s))) {
            abort();
        }
        n = rec_pua_decode(s, strlen(s), d);
        if (n != ev->len || memcmp(d, ev->data, n) != 0) {
            abort();
        }
        free(s);
        free(d);
    }
}

/* Returns 1 when the whole buffer reads cleanly and ends with "e" then "c". */
static int read_all(const char *buf, size_t size)
{
    struct rec_reader *r = NULL;
    struct rec_event ev;
    char err[256], last[2][4] = {"", ""};
    double prev = 0;
    int rc;

    if (rec_reader_open_buf(buf, size, &r, err, sizeof(err)) != 0) {
        if (strncmp(err, "line 1: ", 8) != 0) {
            abort();
        }
        return 0;
    }
    while ((rc = rec_reader_next(r, &ev, err, sizeof(err))) == 1) {
        check_event(&ev, prev, size);
        prev = ev.time;
        memcpy(last[0], last[1], 4);
        memcpy(last[1], ev.code, 4);
    }
    if (rc != 0 && strncmp(err, "line ", 5) != 0) {
        abort();
    }
    rec_reader_free(r);
    return rc == 0 && strcmp(last[0], "e") == 0 && strcmp(last[1], "c") == 0;
}

static char path[64];

static void remove_file(void)
{
    unlink(path);
}

static void verify(const uint8_t *data, size_t size, int clean)
{
    static const char zeros[] = "0000000000000000000000000000000000000000000000000000000000000000";
    enum rec_verdict v;
    char why[400];
    int fd;

    if (path[0] == '\0') {
        snprintf(path, sizeof(path), "/tmp/fuzz_rec_reader.%d.cast", (int)getpid());
        atexit(remove_file);
    }
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, data, size) != (ssize_t)size) {
        abort();
    }
    close(fd);
    if (rec_verify_file(path, KEY, NULL, NULL, &v, why, sizeof(why)) != 0 || v > REC_MISSING ||
        v == REC_MISSING || why[0] == '\0' || (v == REC_OK && !clean)) {
        abort();
    }
    if (rec_verify_file(path, KEY, zeros, zeros, &v, why, sizeof(why)) != 0 || v != REC_TAMPERED) {
        abort();
    }
}

struct text_seen {
    size_t total[2], max;
};

static void text_line(void *ctx, enum rec_stream s, double ts, const char *line, size_t len)
{
    struct text_seen *t = ctx;

    t->total[s] += len;
    if (len == 0 || len > 512 || t->total[s] > t->max || !(ts >= 0) || !db_utf8_valid(line, len)) {
        abort();
    }
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)line[i] < 0x20 || line[i] == 0x7F ||
            ((unsigned char)line[i] == 0xC2 && (unsigned char)line[i + 1] < 0xA0)) {
            abort();
        }
    }
}

/* The input as session bytes, cut where its own bytes say, on both streams. */
static void roundtrip(const uint8_t *data, size_t size)
{
    struct rec_sink sink;
    struct rec_mem *mem = NULL;
    struct rec_writer *w = NULL;
    struct rec_reader *r = NULL;
    struct rec_meta m;
    struct rec_event ev;
    struct timespec ts = {0, 0};
    unsigned char *got[2];
    size_t n[2] = {0, 0}, len, pos = 0;
    char err[256], sha[REC_HEX_LEN + 1], mac[REC_HEX_LEN + 1];
    const char *bytes;
    unsigned seed = size > 0 ? data[0] : 1;
    struct text_seen text = {{0, 0}, 0};

    memset(&m, 0, sizeof(m));
    m.record_input = 1;
    got[0] = malloc(size + 1);
    got[1] = malloc(size + 1);
    if (rec_sink_mem(&sink, &mem, 0) != 0 ||
        rec_writer_new(&sink, &m, KEY, &ts, &w, err, sizeof(err)) != 0) {
        abort();
    }
    text.max = size > 1 ? data[1] * 16u : 4096;
    rec_writer_set_text(w, text_line, &text, text.max);
    while (pos < size) {
        size_t k;

        seed = seed * 1103515245u + 12345u;
        k = 1 + (seed >> 16) % 64;
        k = k < size - pos ? k : size - pos;
        /* within REC_COALESCE_MS of each other, or not */
        ts.tv_nsec += (seed >> 12) & 1 ? 3000000 : 300000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        /* odd pieces are input; the stream state of each is its own */
        if (rec_writer_data(w, (seed >> 8) & 1 ? REC_STREAM_IN : REC_STREAM_OUT, &ts, data + pos,
                            k) != 0 ||
            rec_writer_tick(w, &ts) != 0) {
            abort();
        }
        memcpy(got[(seed >> 8) & 1] + n[(seed >> 8) & 1], data + pos, k); /* expected */
        n[(seed >> 8) & 1] += k;
        pos += k;
    }
    if (rec_writer_close(w, sha, mac, err, sizeof(err)) != 0) {
        abort();
    }
    bytes = rec_mem_bytes(mem, &len);
    if (!db_utf8_valid(bytes, len) || rec_reader_open_buf(bytes, len, &r, err, sizeof(err)) != 0) {
        abort();
    }
    {
        size_t off[2] = {0, 0};
        int rc;

        while ((rc = rec_reader_next(r, &ev, err, sizeof(err))) == 1) {
            int s = ev.code[0] == 'i' || strcmp(ev.code, "bi") == 0;

            if (strchr("oi", ev.code[0]) == NULL && ev.code[0] != 'b') {
                continue;
            }
            if (off[s] + ev.len > n[s] || memcmp(got[s] + off[s], ev.data, ev.len) != 0) {
                abort();
            }
            off[s] += ev.len;
        }
        if (rc != 0 || off[0] != n[0] || off[1] != n[1]) {
            abort();
        }
    }
    rec_reader_free(r);
    rec_mem_free(mem);
    free(got[0]);
    free(got[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int clean;

    if (size > (1u << 20)) {
        return 0;
    }
    clean = read_all((const char *)data, size);
    verify(data, size, clean);
    roundtrip(data, size);
    return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for the size of what recordings/writer.c writes: a scripted
 * interactive session -- typing with its echo, a coloured ls, a page of
 * text, a full-screen program redrawing, a correction, short outputs, each
 * cut into writes the way a pty hands them over -- costs at most 1.5 bytes
 * of file per byte of output, header and checkpoints included, and reads
 * back byte for byte; bulk output costs base64's 4/3 when binary and little
 * more than itself when text.  The session is deterministic: the sizes are
 * the same on every run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recording.h"

static const unsigned char key[REC_KEY_LEN] = "0123456789abcdef0123456789abcdef";

#define SESSION_MAX (256u * 1024)

/* A session as it reaches the writer: writes of either stream, and a tick each second. */
struct session {
    struct rec_writer *w;
    long long us, next_tick;
    uint64_t rng;
    unsigned char *out, *in; /* what was written, to compare with what reads back */
    size_t nout, nin;
    int writes;
};

static unsigned s_rand(struct session *s, unsigned n)
{
    s->rng ^= s->rng << 13;
    s->rng ^= s->rng >> 7;
    s->rng ^= s->rng << 17;
    return (unsigned)(s->rng % n);
}

static struct timespec s_ts(long long us)
{
    struct timespec ts = {1000 + us / 1000000, (long)(us % 1000000) * 1000};
    return ts;
}

static void s_wait(struct session *s, long long us)
{
    s->us += us;
    while (s->us >= s->next_tick) {
        struct timespec ts = s_ts(s->next_tick);

        assert_int_equal(rec_writer_tick(s->w, &ts), 0);
        s->next_tick += 1000000;
    }
}

static void s_write(struct session *s, enum rec_stream st, const void *p, size_t n)
{
    struct timespec ts = s_ts(s->us);
    unsigned char *dst = st == REC_STREAM_OUT ? s->out : s->in;
    size_t *len = st == REC_STREAM_OUT ? &s->nout : &s->nin;

    assert_true(*len + n <= SESSION_MAX);
    memcpy(dst + *len, p, n);
    *len += n;
    s->writes++;
    assert_int_equal(rec_writer_data(s->w, st, &ts, p, n), 0);
}

static void s_out(struct session *s, const char *p)
{
    s_write(s, REC_STREAM_OUT, p, strlen(p));
}

/* Output a program wrote at once, as a pty hands it over: pieces of up to max bytes. */
static void s_burst(struct session *s, const char *p, size_t n, unsigned max)
{
    while (n > 0) {
        size_t k = 1 + s_rand(s, max);

        k = k < n ? k : n;
        s_write(s, REC_STREAM_OUT, p, k);
        p += k;
        n -= k;
        s_wait(s, 50 + s_rand(s, 350));
    }
}

/* bash's prompt: bracketed paste on, a title, colours. */
static void s_prompt(struct session *s)
{
    s_out(s, "\x1b[?2004h\x1b]0;alice@web-1: ~\x07\x1b[01;32malice@web-1\x1b[00m:"
             "\x1b[01;34m~\x1b[00m$ ");
    s_wait(s, 500000);
}

/* Keys 30-90 ms apart, each echoed within a millisecond. */
static void s_type(struct session *s, const char *line)
{
    for (const char *c = line; *c != '\0'; c++) {
        s_write(s, REC_STREAM_IN, c, 1);
        s_wait(s, 300 + s_rand(s, 700));
        if (*c == '\x7f') {
            s_out(s, "\b\x1b[K");
        } else if (*c == '\r') {
            s_out(s, "\r\n\x1b[?2004l\r");
        } else {
            s_write(s, REC_STREAM_OUT, c, 1);
        }
        s_wait(s, 30000 + s_rand(s, 60000));
    }
}

static void s_ls(struct session *s)
{
    static const char *const colours[] = {"01;32", "01;34", "01;36", "00", "01;31"};
    char buf[16384];
    size_t n = 0;

    for (int i = 0; i < 120; i++) {
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\x1b[%sm%s-%03d\x1b[0m%s",
                              colours[s_rand(s, 5)], i % 3 ? "lib" : "bin", i,
                              i % 6 == 5 ? "\r\n" : "  ");
    }
    s_burst(s, buf, n, 4096);
}

static void s_cat(struct session *s)
{
    static const char *const words[] = {"the", "gateway", "records", "every",  "session", "channel",
                                        "of",  "a",       "file",    "and",    "verify",  "checks",
                                        "its", "seal",    "(HMAC)",  "replay", "--speed"};
    static char buf[24000];
    size_t n = 0, col = 0;

    while (n < sizeof(buf) - 40) {
        const char *w = words[s_rand(s, sizeof(words) / sizeof(words[0]))];

        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s ", w);
        col += strlen(w) + 1;
        if (col > 60 + s_rand(s, 15)) {
            memcpy(buf + n, "\r\n", 2);
            n += 2;
            col = 0;
        }
    }
    s_burst(s, buf, n, 4096);
}

/* An editor: 25 full redraws 20 ms apart, one write per screen line, then cursor moves. */
static void s_redraw(struct session *s)
{
    char piece[256];

    for (int frame = 1; frame <= 25; frame++) {
        s_burst(s, "\x1b[?25l\x1b[H\x1b[2J", 13, 64);
        for (int row = 1; row <= 23; row++) {
            if (row <= 15) {
                snprintf(piece, sizeof(piece),
                         "\x1b[%d;1H\x1b[33m%3d \x1b[0m\x1b[1mstatic\x1b[0m int frame_%d(struct "
                         "chan *ch, size_t len)",
                         row, row + frame, row);
            } else {
                snprintf(piece, sizeof(piece), "\x1b[%d;1H\x1b[34m~\x1b[0m", row);
            }
            s_out(s, piece);
            s_wait(s, 100 + s_rand(s, 400));
        }
        snprintf(piece, sizeof(piece),
                 "\x1b[24;1H\x1b[7m\"relay.c\" %d lines --%d%%--\x1b[0m\x1b[?25h", frame * 40,
                 frame * 4);
        s_out(s, piece);
        s_wait(s, 21000 + s_rand(s, 3000));
    }
    for (int i = 1; i <= 60; i++) {
        snprintf(piece, sizeof(piece), "\x1b[8;%dHx\x1b[24;60H8,%d", 10 + i, 10 + i);
        s_out(s, piece);
        s_wait(s, 10500 + s_rand(s, 2000));
    }
    s_out(s, "\x1b[H\x1b[2J");
}

static void s_gitlog(struct session *s)
{
    char buf[4096];
    size_t n = 0;

    for (int i = 0; i < 20; i++) {
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%07x recordings: change %d of the log\r\n",
                              0x5ae0869 + i * 977, i);
    }
    s_burst(s, buf, n, 4096);
}

static void session_run(struct session *s)
{
    s_out(s, "Linux web-1 6.1.0 x86_64\r\nLast login: Mon Jan  1 00:00:00 2024\r\n");
    s_wait(s, 20000);
    s_prompt(s);
    s_type(s, "ls --color\r");
    s_ls(s);
    s_prompt(s);
    s_type(s, "cat README.md\r");
    s_cat(s);
    s_prompt(s);
    s_type(s, "sh redraw.sh\r");
    s_redraw(s);
    s_prompt(s);
    s_type(s, "echo the quick brown fox jumps\x7f\x7f\x7f\x7f\x7fleaps over the lazy dog\r");
    s_out(s, "the quick brown fox leaps over the lazy dog\r\n");
    s_prompt(s);
    s_type(s, "git log --oneline | head -n 20\r");
    s_gitlog(s);
    s_prompt(s);
    s_type(s, "uptime\r");
    s_out(s, " 12:00:01 up 3 days,  2:01,  1 user,  load average: 0.01, 0.02, 0.00\r\n");
    s_prompt(s);
    s_type(s, "exit\r");
    s_out(s, "logout\r\n");
}

/* Reads the file back: the bytes of each stream, and the number of event lines. */
static void read_back(const char *bytes, size_t len, const struct session *s, int *lines)
{
    struct rec_reader *r = NULL;
    struct rec_event ev;
    size_t no = 0, ni = 0;
    char err[256];
    int rc;

    *lines = 0;
    assert_int_equal(rec_reader_open_buf(bytes, len, &r, err, sizeof(err)), 0);
    while ((rc = rec_reader_next(r, &ev, err, sizeof(err))) == 1) {
        int in = strcmp(ev.code, "i") == 0 || strcmp(ev.code, "bi") == 0;

        (*lines)++;
        if (in || strcmp(ev.code, "o") == 0 || strcmp(ev.code, "bo") == 0) {
            size_t *n = in ? &ni : &no;
            const unsigned char *want = in ? s->in : s->out;

            assert_true(*n + ev.len <= (in ? s->nin : s->nout));
            assert_memory_equal(ev.data, want + *n, ev.len);
            *n += ev.len;
        }
    }
    assert_int_equal(rc, 0);
    assert_int_equal(no, s->nout);
    assert_int_equal(ni, s->nin);
    rec_reader_free(r);
}

static void test_interactive(void **state)
{
    struct rec_sink sink;
    struct rec_mem *mem = NULL;
    struct rec_meta m;
    struct session s;
    struct timespec t0 = s_ts(0);
    char err[256], sha[REC_HEX_LEN + 1], mac[REC_HEX_LEN + 1];
    const char *bytes;
    size_t len;
    int lines = 0;
    double ratio;

    (void)state;
    memset(&m, 0, sizeof(m));
    m.width = 80;
    m.height = 24;
    m.timestamp = 1700000000;
    m.term = "xterm-256color";
    m.session = "20240101-000000-abcdef12";
    m.user = "alice";
    m.target = "web-1";
    m.login = "deploy";
    m.kind = "shell";
    m.record_input = 1;
    memset(&s, 0, sizeof(s));
    s.rng = 0x243f6a8885a308d3ULL;
    s.next_tick = 1000000;
    s.out = malloc(SESSION_MAX);
    s.in = malloc(SESSION_MAX);
    assert_int_equal(rec_sink_mem(&sink, &mem, 0), 0);
    assert_int_equal(rec_writer_new(&sink, &m, key, &t0, &s.w, err, sizeof(err)), 0);
    session_run(&s);
    assert_int_equal(rec_writer_close(s.w, sha, mac, err, sizeof(err)), 0);
    bytes = rec_mem_bytes(mem, &len);
    read_back(bytes, len, &s, &lines);
    ratio = (double)len / (double)s.nout;
    print_message("interactive: %zu bytes for %zu out + %zu in, %d writes in %d lines: %.3f\n", len,
                  s.nout, s.nin, s.writes, lines, ratio);
    if (ratio > 1.5) {
        fail_msg("%.3f bytes of recording per byte of output", ratio);
    }
    assert_true(lines * 2 < s.writes); /* writes close together share an event */
    free(s.out);
    free(s.in);
    rec_mem_free(mem);
}

/* 1 MiB in 32 KiB writes: base64's 4/3 for binary, nearly nothing more for text. */
static void test_bulk(void **state)
{
    static const struct {
        const char *name;
        int kind; /* 0: zeros, 1: random, 2: text */
        double max;
    } cases[] = {{"zeros", 0, 1.34}, {"random", 1, 1.34}, {"text", 2, 1.03}};
    static unsigned char buf[1u << 20];

    (void)state;
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        struct rec_sink sink;
        struct rec_mem *mem = NULL;
        struct rec_writer *w = NULL;
        struct rec_meta m;
        struct timespec ts = s_ts(0);
        char err[256], sha[REC_HEX_LEN + 1], mac[REC_HEX_LEN + 1];
        uint64_t x = 88172645463325252ULL;
        size_t len;

        for (size_t i = 0; i < sizeof(buf); i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf[i] = cases[k].kind == 0   ? 0
                     : cases[k].kind == 1 ? (unsigned char)x
                     : i % 64 == 63       ? '\n'
                                          : (unsigned char)('a' + x % 26);
        }
        memset(&m, 0, sizeof(m));
        assert_int_equal(rec_sink_mem(&sink, &mem, 0), 0);
        assert_int_equal(rec_writer_new(&sink, &m, key, &ts, &w, err, sizeof(err)), 0);
        for (size_t off = 0; off < sizeof(buf); off += 32768) {
            ts.tv_nsec += 100000;
            assert_int_equal(rec_writer_data(w, REC_STREAM_OUT, &ts, buf + off, 32768), 0);
        }
        assert_int_equal(rec_writer_close(w, sha, mac, err, sizeof(err)), 0);
        rec_mem_bytes(mem, &len);
        if ((double)len / sizeof(buf) > cases[k].max) {
            fail_msg("%s: %.3f bytes per byte", cases[k].name, (double)len / sizeof(buf));
        }
        rec_mem_free(mem);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_interactive),
        cmocka_unit_test(test_bulk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

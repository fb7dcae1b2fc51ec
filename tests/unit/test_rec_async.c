/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for recordings/async.c, the writers on a thread of their own:
 * what it writes is what the writer would have written for the same calls
 * (same events, a seal that verifies); a sink slower than the caller makes
 * the caller wait, with the queue's memory fixed, and loses nothing; a sink
 * that fails makes every later call fail, says so on the notify descriptor,
 * and leaves no seal; search text reaches the caller's function on the
 * caller's thread only, all of it, even when the thread makes more than it
 * may hold; a writer left idle is flushed by the thread without a call; two
 * writers on one thread keep their own order; giving the queue's pages back
 * at any moment loses nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "recording.h"

#include "rec-rig.h"

/* A memory sink that can be slow (a pause per write) and fail after some bytes. */
struct slow {
    char *buf;
    size_t len, cap, fail_after;
    long pause_us;
    unsigned long writes;
};

static int slow_write(void *ctx, const void *p, size_t n)
{
    struct slow *s = ctx;

    if (s->pause_us > 0) {
        struct timespec ts = {0, s->pause_us * 1000L};

        nanosleep(&ts, NULL);
    }
    if (s->fail_after > 0 && s->len + n > s->fail_after) {
        return DB_ERR_IO;
    }
    if (s->len + n > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;

        while (cap < s->len + n) {
            cap *= 2;
        }
        s->buf = realloc(s->buf, cap);
        assert_non_null(s->buf);
        s->cap = cap;
    }
    memcpy(s->buf + s->len, p, n);
    s->len += n;
    s->writes++;
    return 0;
}

static void slow_close(void *ctx)
{
    (void)ctx;
}

/*
 * The thread ticks its writers on the real monotonic clock.  Writers whose
 * clock starts an hour from now see every tick as "no time has passed", so
 * what they write depends only on the calls (fut(ms): times on that clock).
 */
static struct timespec fut_base;

static struct timespec fut(long ms)
{
    struct timespec ts;

    if (fut_base.tv_sec == 0) {
        clock_gettime(CLOCK_MONOTONIC, &fut_base);
        fut_base.tv_sec += 3600;
        fut_base.tv_nsec = 0;
    }
    ts.tv_sec = fut_base.tv_sec + ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    return ts;
}

static struct rec_writer *writer_at(const struct rec_sink *sink, int record_input)
{
    struct rec_meta m;
    struct rec_writer *w = NULL;
    struct timespec t0 = fut(0);
    char err[256];

    memset(&m, 0, sizeof(m));
    m.user = "alice";
    m.target = "web-1";
    m.login = "deploy";
    m.record_input = record_input;
    assert_int_equal(rec_writer_new(sink, &m, key, &t0, &w, err, sizeof(err)), 0);
    return w;
}

static struct rec_writer *slow_writer(struct slow *s, int record_input)
{
    struct rec_sink sink = {s, slow_write, NULL, slow_close};

    return writer_at(&sink, record_input);
}

/* The recorded bytes of the o/bo (and i/bi) events of buf, and the file's verdict. */
static void check_file(const char *buf, size_t len, const char *sha, const char *hmac,
                       const void *want_o, size_t nwant_o, const void *want_i, size_t nwant_i)
{
    struct rec_reader *r = NULL;
    struct rec_event ev;
    /* compressed events ("zo"/"zi") hold more than their size in the file */
    unsigned char *o = malloc(len + nwant_o + 1), *in = malloc(len + nwant_i + 1);
    size_t no = 0, ni = 0;
    char err[256], path[] = "/tmp/test_rec_async.XXXXXX", why[300];
    enum rec_verdict v = REC_MISSING;
    int rc, fd;

    assert_int_equal(rec_reader_open_buf(buf, len, &r, err, sizeof(err)), 0);
    while ((rc = rec_reader_next(r, &ev, err, sizeof(err))) == 1) {
        if (strcmp(ev.code, "o") == 0 || strcmp(ev.code, "bo") == 0) {
            if (no + ev.len > len + nwant_o) {
                fail_msg("more output than was written");
            }
            memcpy(o + no, ev.data, ev.len);
            no += ev.len;
        } else if (strcmp(ev.code, "i") == 0 || strcmp(ev.code, "bi") == 0) {
            if (ni + ev.len > len + nwant_i) {
                fail_msg("more input than was written");
            }
            memcpy(in + ni, ev.data, ev.len);
            ni += ev.len;
        }
    }
    if (rc != 0) {
        fail_msg("reader: %s", err);
    }
    rec_reader_free(r);
    assert_int_equal(no, nwant_o);
    assert_memory_equal(o, want_o, no);
    assert_int_equal(ni, nwant_i);
    if (ni > 0) {
        assert_memory_equal(in, want_i, ni);
    }
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, buf, len), (ssize_t)len);
    close(fd);
    assert_int_equal(rec_verify_file(path, key, sha, hmac, &v, why, sizeof(why)), 0);
    if (v != REC_OK) {
        fail_msg("verify: %s", why);
    }
    unlink(path);
    free(o);
    free(in);
}

/* ---- the same recording as the writer makes ---- */

static void test_same_as_writer(void **state)
{
    static unsigned char big[300 * 1024];
    struct slow s;
    struct rec_async *a = NULL;
    struct rig g;
    struct back b;
    char sha[REC_HEX_LEN + 1], mac[REC_HEX_LEN + 1], err[256];
    const char *text = "$ ls\r\nREADME.md  broker\r\n";
    unsigned char want_o[sizeof(big) + 64];
    size_t nwant = 0;
    struct timespec ts;
    int h;

    (void)state;
    for (size_t i = 0; i < sizeof(big); i++) {
        big[i] = (unsigned char)(i * 7 + (i >> 9));
    }
    memset(&s, 0, sizeof(s));
    assert_int_equal(rec_async_new(0, -1, NULL, NULL, &a), 0);
    h = rec_async_add(a, slow_writer(&s, 1), 0);
    assert_true(h >= 0);
    memset(&g, 0, sizeof(g));
    assert_int_equal(rec_sink_mem(&g.sink, &g.mem, 0), 0);
    g.w = writer_at(&g.sink, 1);
    /* the same calls through the thread and straight to a writer */
    ts = fut(5);
    assert_int_equal(rec_async_data(a, h, REC_STREAM_IN, &ts, "ls\r", 3), 0);
    assert_int_equal(rec_writer_data(g.w, REC_STREAM_IN, &ts, "ls\r", 3), 0);
    ts = fut(7);
    assert_int_equal(rec_async_data(a, h, REC_STREAM_OUT, &ts, text, strlen(text)), 0);
    assert_int_equal(rec_writer_data(g.w, REC_STREAM_OUT, &ts, text, strlen(text)), 0);
    memcpy(want_o, text, strlen(text));
    nwant = strlen(text);
    ts = fut(9);
    assert_int_equal(rec_async_resize(a, h, &ts, 120, 40), 0);
    assert_int_equal(rec_writer_resize(g.w, &ts, 120, 40), 0);
    assert_int_equal(rec_async_marker(a, h, &ts, "sftp open /etc/hosts"), 0);
    assert_int_equal(rec_writer_marker(g.w, &ts, "sftp open /etc/hosts"), 0);
    ts = fut(20);
    assert_int_equal(rec_async_data(a, h, REC_STREAM_OUT, &ts, big, sizeof(big)), 0);
    /* the thread gets a long write in records of 64 KiB: the writer gets the same pieces */
    for (size_t off = 0; off < sizeof(big); off += 64 * 1024) {
        size_t k = sizeof(big) - off < 64 * 1024 ? sizeof(big) - off : 64 * 1024;

        assert_int_equal(rec_writer_data(g.w, REC_STREAM_OUT, &ts, big + off, k), 0);
    }
    memcpy(want_o + nwant, big, sizeof(big));
    nwant += sizeof(big);
    assert_int_equal(rec_async_close(a, h, sha, mac, err, sizeof(err)), 0);
    rig_close(&g);
    check_file(s.buf, s.len, sha, mac, want_o, nwant, "ls\r", 3);
    read_back(&g, &b);
    assert_int_equal(b.no, nwant);
    back_free(&b);
    /* byte for byte the file the writer makes itself, and so the same seal */
    {
        size_t len;
        const char *direct = rec_mem_bytes(g.mem, &len);

        assert_int_equal(s.len, len);
        assert_memory_equal(s.buf, direct, len);
        assert_string_equal(sha, g.sha);
        assert_string_equal(mac, g.hmac);
    }
    rig_free(&g);
    rec_async_free(a);
    free(s.buf);
}

/* ---- a slow sink slows the caller; nothing is lost; memory is the queue's ---- */

static void test_backpressure(void **state)
{
    static unsigned char chunk[256 * 1024];
    const size_t total = 24u << 20;
    struct slow s;
    struct rec_async *a = NULL;
    char sha[REC_HEX_LEN + 1], mac[REC_HEX_LEN + 1], err[256];
    unsigned char *want = malloc(total);
    struct timespec t0, t1;
    double secs;
    int h;

    (void)state;
    for (size_t i = 0; i < sizeof(chunk); i++) {
        chunk[i] = (unsigned char)('a' + i % 26);
    }
    memset(&s, 0, sizeof(s));
    s.pause_us = 2000; /* per 256 KiB the writer hands its sink: far slower than memcpy */
    assert_int_equal(rec_async_new(512 * 1024, -1, NULL, NULL, &a), 0);
    h = rec_async_add(a, slow_writer(&s, 1), 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (size_t off = 0; off < total; off += sizeof(chunk)) {
        struct timespec ts = fut((long)(off >> 20));

        assert_int_equal(rec_async_data(a, h, REC_STREAM_OUT, &ts, chunk, sizeof(chunk)), 0);
        memcpy(want + off, chunk, sizeof(chunk));
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    /* the caller waited: it could not run ahead by more than the queue */
    assert_true(rec_async_waits(a) > 0);
    /* 24 MiB in ~96 sink writes of 2 ms each: the caller took most of that */
    assert_true(secs > 0.1);
    assert_int_equal(rec_async_close(a, h, sha, mac, err, sizeof(err)), 0);
    check_file(s.buf, s.len, sha, mac, want, total, NULL, 0);
    rec_async_free(a);
    free(s.buf);
    free(want);
}

/* ---- a failing sink ---- */

static void test_failure_sticks(void **state)
{
    static unsigned char chunk[64 * 1024];
    struct slow s;
    struct rec_async *a = NULL;
    char sha[REC_HEX_LEN + 1], mac[REC_HEX_LEN + 1], err[256] = "";
    int h, efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), rc = 0;
    struct pollfd pf;
    struct timespec ts = fut(1);

    (void)state;
    memset(chunk, 'x', sizeof(chunk));
    memset(&s, 0, sizeof(s));
    s.fail_after = 300 * 1024;
    assert_true(efd >= 0);
    assert_int_equal(rec_async_new(0, efd, NULL, NULL, &a), 0);
    h = rec_async_add(a, slow_writer(&s, 1), 0);
    /* writes go on until the thread has met the error; then every call fails */
    for (int i = 0; i < 200 && rc == 0; i++) {
        rc = rec_async_data(a, h, REC_STREAM_OUT, &ts, chunk, sizeof(chunk));
        if (rc == 0 && i > 100) {
            struct timespec pause = {0, 10 * 1000 * 1000};

            nanosleep(&pause, NULL);
        }
    }
    assert_int_equal(rc, DB_ERR_IO);
    assert_int_equal(rec_async_error(a, h), DB_ERR_IO);
    assert_int_equal(rec_async_data(a, h, REC_STREAM_OUT, &ts, "a", 1), DB_ERR_IO);
    assert_int_equal(rec_async_marker(a, h, &ts, "x"), DB_ERR_IO);
    assert_int_equal(rec_async_resize(a, h, &ts, 80, 24), DB_ERR_IO);
    pf.fd = efd;
    pf.events = POLLIN;
    assert_int_equal(poll(&pf, 1, 2000), 1); /* the relay would have been told */
    assert_int_equal(rec_async_close(a, h, sha, mac, err, sizeof(err)), DB_ERR_IO);
    assert_string_equal(sha, "");
    assert_string_equal(mac, "");
    assert_non_null(strstr(err, "cannot write"));
    assert_true(s.len <= s.fail_after);
    rec_async_free(a);
    close(efd);
    free(s.buf);
}

/* ---- search text: on the caller's thread, all of it ---- */

struct text_seen {
    pthread_t caller;
    int wrong_thread;
    size_t lines, bytes;
    int last_h;
};

static void on_text(void *ctx, int h, enum rec_stream s, double ts, const char *line, size_t len)
{
    struct text_seen *t = ctx;

    (void)s;
    (void)ts;
    (void)line;
    if (!pthread_equal(pthread_self(), t->caller)) {
        t->wrong_thread = 1;
    }
    t->lines++;
    t->bytes += len;
    t->last_h = h;
}

static void test_text(void **state)
{
    struct slow s;
    struct rec_async *a = NULL;
    struct text_seen t;
    char sha[REC_HEX_LEN + 1], mac[REC_HEX_LEN + 1], err[256];
    char line[64];
    const int nlines = 20000; /* far more text than the thread may hold untaken */
    int h;

    (void)state;
    memset(&s, 0, sizeof(s));
    memset(&t, 0, sizeof(t));
    t.caller = pthread_self();
    assert_int_equal(rec_async_new(0, -1, on_text, &t, &a), 0);
    h = rec_async_add(a, slow_writer(&s, 1), 8u << 20);
    for (int i = 0; i < nlines; i++) {
        struct timespec ts = fut(i * 20); /* each its own event */
        int n = snprintf(line, sizeof(line), "line %06d of the output\r\n", i);

        assert_int_equal(rec_async_data(a, h, REC_STREAM_OUT, &ts, line, (size_t)n), 0);
        if (i % 5000 == 0) {
            rec_async_text(a); /* as the relay does now and then */
        }
    }
    assert_int_equal(rec_async_close(a, h, sha, mac, err, sizeof(err)), 0);
    assert_int_equal(t.wrong_thread, 0);
    assert_int_equal(t.lines, (size_t)nlines);
    assert_int_equal(t.bytes, (size_t)nlines * strlen("line 000000 of the output"));
    assert_int_equal(t.last_h, h);
    rec_async_free(a);
    free(s.buf);
}

/* ---- an idle writer is flushed by the thread ---- */

static void test_idle_flush(void **state)
{
    struct slow s;
    struct rec_async *a = NULL;
    struct rec_sink sink;
    struct rec_meta m;
    struct rec_writer *w = NULL;
    struct timespec now;
    char path[] = "/tmp/test_rec_async_idle.XXXXXX", err[256], buf[4096];
    char sha[REC_HEX_LEN + 1], mac[REC_HEX_LEN + 1];
    int fd, h, checkpoints = 0;
    ssize_t n = 0;

    (void)state;
    memset(&s, 0, sizeof(s));
    fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    unlink(path);
    assert_int_equal(rec_sink_file_create(path, &sink, err, sizeof(err)), 0);
    memset(&m, 0, sizeof(m));
    m.record_input = 1;
    clock_gettime(CLOCK_MONOTONIC, &now); /* the thread ticks on the real clock */
    assert_int_equal(rec_writer_new(&sink, &m, key, &now, &w, err, sizeof(err)), 0);
    assert_int_equal(rec_async_new(0, -1, NULL, NULL, &a), 0);
    h = rec_async_add(a, w, 0);
    clock_gettime(CLOCK_MONOTONIC, &now);
    assert_int_equal(rec_async_data(a, h, REC_STREAM_OUT, &now, "hello\r\n", 7), 0);
    /* a little data does not wake a sleeping thread: the caller kicks it */
    rec_async_kick(a);
    assert_int_equal(rec_async_kick_pending(a), 0);
    /* no call after this one: within the flush period (plus slack) the thread writes it */
    for (int i = 0; i < 40 && checkpoints < 2; i++) {
        struct timespec pause = {0, 100 * 1000 * 1000};

        nanosleep(&pause, NULL);
        fd = open(path, O_RDONLY);
        assert_true(fd >= 0);
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        buf[n > 0 ? n : 0] = '\0';
        checkpoints = 0;
        for (char *p = buf; (p = strstr(p, "\"c\"")) != NULL; p++) {
            checkpoints++;
        }
    }
    assert_int_equal(checkpoints, 2); /* the header's, and the one the flush wrote */
    assert_non_null(strstr(buf, "hello"));
    assert_int_equal(rec_async_close(a, h, sha, mac, err, sizeof(err)), 0);
    rec_async_free(a);
    unlink(path);
}

/* ---- two writers on one thread ---- */

static void test_two_writers(void **state)
{
    struct slow s1, s2;
    struct rec_async *a = NULL;
    char sha1[REC_HEX_LEN + 1], mac1[REC_HEX_LEN + 1], sha2[REC_HEX_LEN + 1], mac2[REC_HEX_LEN + 1],
        err[256];
    unsigned char w1[26 * 1000], w2[10 * 1000];
    int h1, h2;

    (void)state;
    memset(&s1, 0, sizeof(s1));
    memset(&s2, 0, sizeof(s2));
    assert_int_equal(rec_async_new(0, -1, NULL, NULL, &a), 0);
    h1 = rec_async_add(a, slow_writer(&s1, 1), 0);
    h2 = rec_async_add(a, slow_writer(&s2, 1), 0);
    assert_true(h1 >= 0 && h2 >= 0 && h1 != h2);
    for (int i = 0; i < 1000; i++) {
        struct timespec ts = fut(i);

        memset(w1 + i * 26, 'a' + i % 26, 26);
        memset(w2 + i * 10, '0' + i % 10, 10);
        assert_int_equal(rec_async_data(a, h1, REC_STREAM_OUT, &ts, w1 + i * 26, 26), 0);
        assert_int_equal(rec_async_data(a, h2, REC_STREAM_OUT, &ts, w2 + i * 10, 10), 0);
    }
    assert_int_equal(rec_async_close(a, h2, sha2, mac2, err, sizeof(err)), 0);
    assert_int_equal(rec_async_close(a, h1, sha1, mac1, err, sizeof(err)), 0);
    check_file(s1.buf, s1.len, sha1, mac1, w1, sizeof(w1), NULL, 0);
    check_file(s2.buf, s2.len, sha2, mac2, w2, sizeof(w2), NULL, 0);
    /* a closed handle is free again and gone for calls */
    assert_int_equal(rec_async_data(a, h1, REC_STREAM_OUT, &(struct timespec){1, 0}, "x", 1),
                     DB_ERR_INVALID);
    rec_async_free(a);
    free(s1.buf);
    free(s2.buf);
}

/* ---- giving the queue's pages back never loses what is queued ---- */

static void test_trim(void **state)
{
    static unsigned char chunk[48 * 1024];
    const int rounds = 64;
    struct slow s;
    struct rec_async *a = NULL;
    char sha[REC_HEX_LEN + 1], mac[REC_HEX_LEN + 1], err[256];
    unsigned char *want = malloc(sizeof(chunk) * rounds);
    int h;

    (void)state;
    memset(&s, 0, sizeof(s));
    assert_int_equal(rec_async_new(0, -1, NULL, NULL, &a), 0);
    h = rec_async_add(a, slow_writer(&s, 1), 0);
    for (int i = 0; i < rounds; i++) {
        struct timespec ts = fut(i);

        for (size_t k = 0; k < sizeof(chunk); k++) {
            chunk[k] = (unsigned char)(i * 31 + k);
        }
        assert_int_equal(rec_async_data(a, h, REC_STREAM_OUT, &ts, chunk, sizeof(chunk)), 0);
        memcpy(want + (size_t)i * sizeof(chunk), chunk, sizeof(chunk));
        rec_async_kick(a);
        rec_async_trim(a); /* whether the queue is empty at this moment or not */
        if (i % 8 == 0) {
            struct timespec pause = {0, 2 * 1000 * 1000};

            nanosleep(&pause, NULL);
            rec_async_trim(a);
        }
    }
    assert_int_equal(rec_async_close(a, h, sha, mac, err, sizeof(err)), 0);
    check_file(s.buf, s.len, sha, mac, want, sizeof(chunk) * rounds, NULL, 0);
    rec_async_free(a);
    free(s.buf);
    free(want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_as_writer), cmocka_unit_test(test_backpressure),
        cmocka_unit_test(test_failure_sticks), cmocka_unit_test(test_text),
        cmocka_unit_test(test_idle_flush),     cmocka_unit_test(test_two_writers),
        cmocka_unit_test(test_trim),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

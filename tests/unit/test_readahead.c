/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The read-ahead under libssh (broker/readahead.c), on socketpairs: bytes
 * come out in order and complete, whatever sizes the writer sends and the
 * reader asks for; poll says readable while only the read-ahead holds bytes
 * (or a reader that polls first, as libssh does, would hang) and still
 * reports the other descriptors; EOF and errors come after the bytes before
 * them; close forgets a descriptor before its number can come back; other
 * descriptors pass through untouched.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "broker.h"

#define SIP 4096 /* what libssh asks for */

static unsigned char pattern_byte(size_t i)
{
    return (unsigned char)((i * 2654435761u) >> 13);
}

static void pair(int sv[2])
{
    int sz = 1 << 20;

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    (void)setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
    (void)setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
}

static void put_pattern(int fd, size_t from, size_t n)
{
    unsigned char *b = malloc(n);

    assert_non_null(b);
    for (size_t i = 0; i < n; i++) {
        b[i] = pattern_byte(from + i);
    }
    assert_int_equal(write(fd, b, n), (ssize_t)n);
    free(b);
}

static int queued(int fd)
{
    int q = -1;

    assert_int_equal(ioctl(fd, FIONREAD, &q), 0);
    return q;
}

/* Reads exactly n bytes in SIP reads and checks them against the pattern. */
static void take_pattern(int fd, size_t from, size_t n)
{
    unsigned char b[SIP];
    size_t got = 0;

    while (got < n) {
        size_t want = n - got < SIP ? n - got : SIP;
        ssize_t r = recv(fd, b, want, 0);

        assert_true(r > 0);
        for (ssize_t i = 0; i < r; i++) {
            assert_int_equal(b[i], pattern_byte(from + got + (size_t)i));
        }
        got += (size_t)r;
    }
}

static void test_passthrough(void **state)
{
    int sv[2];
    char b[16];
    struct pollfd p;

    (void)state;
    pair(sv);
    p.fd = sv[0];
    p.events = POLLIN;
    assert_int_equal(poll(&p, 1, 0), 0);
    assert_int_equal(write(sv[1], "hello", 5), 5);
    assert_int_equal(poll(&p, 1, 1000), 1);
    assert_int_equal(recv(sv[0], b, sizeof(b), 0), 5);
    assert_memory_equal(b, "hello", 5);
    assert_int_equal(readahead_pending(sv[0]), 0);
    close(sv[0]);
    close(sv[1]);
}

/* A full socket is read in gulps (up to 256 KiB); the bytes come out as written. */
static void test_reads_ahead(void **state)
{
    int sv[2];
    size_t total = 600 * 1024;

    (void)state;
    pair(sv);
    assert_int_equal(readahead_attach(sv[0]), 0);
    put_pattern(sv[1], 0, total);
    take_pattern(sv[0], 0, SIP); /* a full read: from now on it reads ahead */
    take_pattern(sv[0], SIP, SIP);
    /* the second read took a gulp: far more left the socket than was handed out */
    assert_true(queued(sv[0]) <= (int)(total - 2 * SIP - 32 * 1024));
    assert_true(readahead_pending(sv[0]) > 0);
    assert_int_equal((size_t)queued(sv[0]) + readahead_pending(sv[0]), total - 2 * SIP);
    take_pattern(sv[0], 2 * SIP, total - 2 * SIP);
    assert_int_equal(readahead_pending(sv[0]), 0);
    close(sv[0]);
    close(sv[1]);
}

/* Bytes only the read-ahead holds make poll say readable at once. */
static void test_poll_sees_buffer(void **state)
{
    int sv[2];
    struct pollfd p;

    (void)state;
    pair(sv);
    assert_int_equal(readahead_attach(sv[0]), 0);
    put_pattern(sv[1], 0, SIP + 3 * SIP);
    take_pattern(sv[0], 0, SIP);
    take_pattern(sv[0], SIP, SIP);
    assert_int_equal(queued(sv[0]), 0);
    assert_int_equal(readahead_pending(sv[0]), 2 * SIP);
    p.fd = sv[0];
    p.events = POLLIN;
    p.revents = 0;
    assert_int_equal(poll(&p, 1, 5000), 1);
    assert_true(p.revents & POLLIN);
    /* asked only whether it can be written to: the buffer is not a reason to say readable */
    p.events = POLLOUT;
    p.revents = 0;
    assert_int_equal(poll(&p, 1, 0), 1);
    assert_false(p.revents & POLLIN);
    take_pattern(sv[0], 2 * SIP, 2 * SIP);
    p.events = POLLIN;
    assert_int_equal(poll(&p, 1, 0), 0);
    close(sv[0]);
    close(sv[1]);
}

/* While one socket's read-ahead keeps answering poll, the others are still heard. */
static void test_poll_fair(void **state)
{
    int sv[2], other[2], heard = 0;
    struct pollfd p[2];

    (void)state;
    pair(sv);
    pair(other);
    assert_int_equal(readahead_attach(sv[0]), 0);
    put_pattern(sv[1], 0, 3 * SIP);
    take_pattern(sv[0], 0, SIP);
    take_pattern(sv[0], SIP, SIP);
    assert_int_equal(write(other[1], "x", 1), 1);
    for (int i = 0; i < 32 && !heard; i++) {
        p[0].fd = sv[0];
        p[0].events = POLLIN;
        p[1].fd = other[0];
        p[1].events = POLLIN;
        assert_true(poll(p, 2, 5000) >= 1);
        assert_true(p[0].revents & POLLIN);
        heard = (p[1].revents & POLLIN) != 0;
    }
    assert_true(heard);
    close(sv[0]);
    close(sv[1]);
    close(other[0]);
    close(other[1]);
}

/* EOF comes after every byte read ahead, never before. */
static void test_eof_after_bytes(void **state)
{
    int sv[2];
    char b[SIP];

    (void)state;
    pair(sv);
    assert_int_equal(readahead_attach(sv[0]), 0);
    put_pattern(sv[1], 0, SIP + 20000);
    assert_int_equal(shutdown(sv[1], SHUT_WR), 0);
    take_pattern(sv[0], 0, SIP + 20000);
    assert_int_equal(recv(sv[0], b, sizeof(b), 0), 0);
    assert_int_equal(recv(sv[0], b, sizeof(b), 0), 0);
    close(sv[0]);
    close(sv[1]);
}

/* An error (here: nothing there, non-blocking) is the kernel's own, after the bytes. */
static void test_error_after_bytes(void **state)
{
    int sv[2];
    char b[SIP];

    (void)state;
    pair(sv);
    assert_int_equal(readahead_attach(sv[0]), 0);
    put_pattern(sv[1], 0, 2 * SIP + 100);
    take_pattern(sv[0], 0, 2 * SIP + 100);
    errno = 0;
    assert_int_equal(recv(sv[0], b, sizeof(b), MSG_DONTWAIT), -1);
    assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
    close(sv[0]);
    close(sv[1]);
}

/* close forgets: a socket that gets the same number later gets none of the old bytes. */
static void test_close_forgets(void **state)
{
    int sv[2], nv[2], old;
    char b[SIP];

    (void)state;
    pair(sv);
    old = sv[0];
    assert_int_equal(readahead_attach(old), 0);
    put_pattern(sv[1], 0, 4 * SIP);
    take_pattern(old, 0, SIP);
    take_pattern(old, SIP, SIP);
    assert_true(readahead_pending(old) > 0);
    assert_int_equal(close(old), 0);
    assert_int_equal(readahead_pending(old), 0);
    pair(nv);
    if (nv[0] != old && nv[1] == old) {
        int t = nv[0];

        nv[0] = nv[1];
        nv[1] = t;
    }
    assert_int_equal(nv[0], old); /* the lowest free number comes back */
    assert_int_equal(write(nv[1], "fresh", 5), 5);
    assert_int_equal(recv(nv[0], b, sizeof(b), 0), 5);
    assert_memory_equal(b, "fresh", 5);
    close(nv[0]);
    close(nv[1]);
    close(sv[1]);
}

/* MSG_PEEK looks without taking; read() and recv() share one stream; odd flags are refused. */
static void test_peek_read_flags(void **state)
{
    int sv[2];
    unsigned char a[SIP], b[SIP];

    (void)state;
    pair(sv);
    assert_int_equal(readahead_attach(sv[0]), 0);
    put_pattern(sv[1], 0, 6 * SIP);
    take_pattern(sv[0], 0, SIP);
    assert_int_equal(recv(sv[0], a, 100, MSG_PEEK), 100);
    assert_int_equal(read(sv[0], b, 100), 100);
    assert_memory_equal(a, b, 100);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(b[i], pattern_byte(SIP + (size_t)i));
    }
    errno = 0;
    assert_int_equal(recv(sv[0], a, 10, MSG_WAITALL), -1);
    assert_int_equal(errno, EOPNOTSUPP);
    take_pattern(sv[0], SIP + 100, 5 * SIP - 100);
    close(sv[0]);
    close(sv[1]);
}

static void test_slots(void **state)
{
    int sv[5][2];

    (void)state;
    for (int i = 0; i < 5; i++) {
        pair(sv[i]);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(readahead_attach(sv[i][0]), 0);
    }
    assert_int_equal(readahead_attach(sv[0][0]), 0); /* already: no second slot */
    assert_int_equal(readahead_attach(sv[4][0]), -1);
    assert_int_equal(readahead_attach(-1), -1);
    readahead_detach(sv[3][0]);
    assert_int_equal(readahead_attach(sv[4][0]), 0);
    /* an unattached socket in the same process reads as always */
    assert_int_equal(write(sv[3][1], "abc", 3), 3);
    {
        char b[8];

        assert_int_equal(recv(sv[3][0], b, sizeof(b), 0), 3);
    }
    for (int i = 0; i < 5; i++) {
        close(sv[i][0]);
        close(sv[i][1]);
    }
}

struct writer {
    int fd;
    size_t total;
    unsigned seed;
};

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    unsigned char *b = malloc(70000);
    size_t sent = 0;

    while (b != NULL && sent < w->total) {
        size_t n = 1 + (size_t)(rand_r(&w->seed) % 70000);

        if (n > w->total - sent) {
            n = w->total - sent;
        }
        for (size_t i = 0; i < n; i++) {
            b[i] = pattern_byte(sent + i);
        }
        for (size_t off = 0; off < n;) {
            ssize_t r = write(w->fd, b + off, n - off);

            if (r <= 0) {
                free(b);
                return NULL;
            }
            off += (size_t)r;
        }
        sent += n;
        if (rand_r(&w->seed) % 8 == 0) {
            usleep(200); /* pauses: the reader finds the socket empty, the buffer not */
        }
    }
    free(b);
    shutdown(w->fd, SHUT_WR);
    return NULL;
}

/*
 * Any sizes in, any sizes asked for, recv and read mixed, a poll before every
 * read as libssh does: 8 MiB come out byte for byte, then EOF.
 */
static void test_random_stream(void **state)
{
    int sv[2];
    pthread_t t;
    struct writer w;
    unsigned seed = 12345;
    unsigned char *b = malloc(70000);
    size_t got = 0;

    (void)state;
    assert_non_null(b);
    pair(sv);
    assert_int_equal(readahead_attach(sv[0]), 0);
    w.fd = sv[1];
    w.total = 8u << 20;
    w.seed = 777;
    assert_int_equal(pthread_create(&t, NULL, writer_main, &w), 0);
    for (;;) {
        struct pollfd p = {.fd = sv[0], .events = POLLIN};
        size_t want = rand_r(&seed) % 4 == 0 ? 1 + (size_t)(rand_r(&seed) % 70000) : SIP;
        ssize_t r;

        assert_int_equal(poll(&p, 1, 10000), 1);
        r = rand_r(&seed) % 3 == 0 ? read(sv[0], b, want) : recv(sv[0], b, want, 0);
        assert_true(r >= 0);
        if (r == 0) {
            break;
        }
        for (ssize_t i = 0; i < r; i++) {
            if (b[i] != pattern_byte(got + (size_t)i)) {
                fail_msg("byte %zu differs", got + (size_t)i);
            }
        }
        got += (size_t)r;
    }
    assert_int_equal(got, w.total);
    pthread_join(t, NULL);
    free(b);
    close(sv[0]);
    close(sv[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_passthrough),
        cmocka_unit_test(test_reads_ahead),
        cmocka_unit_test(test_poll_sees_buffer),
        cmocka_unit_test(test_poll_fair),
        cmocka_unit_test(test_eof_after_bytes),
        cmocka_unit_test(test_error_after_bytes),
        cmocka_unit_test(test_close_forgets),
        cmocka_unit_test(test_peek_read_flags),
        cmocka_unit_test(test_slots),
        cmocka_unit_test(test_random_stream),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

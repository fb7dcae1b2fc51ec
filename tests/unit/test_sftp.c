/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The passive sftp observer: packets built by hand, fed whole, byte by byte
 * and in odd splits, must give the same file operations; hostile streams
 * (huge lengths, truncated strings, unknown handles) stop the reporting
 * without crashing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "broker.h"

struct pkt {
    unsigned char b[65536];
    size_t len;
};

static void put_u32(struct pkt *p, uint32_t v)
{
    p->b[p->len++] = (unsigned char)(v >> 24);
    p->b[p->len++] = (unsigned char)(v >> 16);
    p->b[p->len++] = (unsigned char)(v >> 8);
    p->b[p->len++] = (unsigned char)v;
}

static void put_str(struct pkt *p, const void *s, size_t n)
{
    put_u32(p, (uint32_t)n);
    memcpy(p->b + p->len, s, n);
    p->len += n;
}

/* Starts a packet of type with request id; fix_len() sets its length. */
static size_t begin(struct pkt *p, int type, uint32_t id)
{
    size_t at = p->len;

    put_u32(p, 0);
    p->b[p->len++] = (unsigned char)type;
    put_u32(p, id);
    return at;
}

static void fix_len(struct pkt *p, size_t at)
{
    uint32_t n = (uint32_t)(p->len - at - 4);

    p->b[at] = (unsigned char)(n >> 24);
    p->b[at + 1] = (unsigned char)(n >> 16);
    p->b[at + 2] = (unsigned char)(n >> 8);
    p->b[at + 3] = (unsigned char)n;
}

struct seen {
    char log[4096];
};

static void on_event(void *ctx, const char *op, const char *path, const char *path2,
                     unsigned long long bytes)
{
    struct seen *s = ctx;
    size_t n = strlen(s->log);

    snprintf(s->log + n, sizeof(s->log) - n, "%s %s%s%s %llu;", op, path, path2 ? " > " : "",
             path2 ? path2 : "", bytes);
}

/* A client upload and a download, with the server's replies, as two streams. */
static void build_session(struct pkt *c2s, struct pkt *s2c)
{
    size_t at;
    unsigned char data[3000];

    memset(data, 'x', sizeof(data));
    memset(c2s, 0, sizeof(*c2s));
    memset(s2c, 0, sizeof(*s2c));
    /* open /tmp/up for write (pflags WRITE|CREAT), handle "h1" */
    at = begin(c2s, 3, 1);
    put_str(c2s, "/tmp/up", 7);
    put_u32(c2s, 0x02 | 0x08);
    put_u32(c2s, 0); /* attrs flags */
    fix_len(c2s, at);
    at = begin(s2c, 102, 1);
    put_str(s2c, "h1", 2);
    fix_len(s2c, at);
    for (uint32_t i = 0; i < 2; i++) {
        at = begin(c2s, 6, 2 + i);
        put_str(c2s, "h1", 2);
        put_u32(c2s, 0);
        put_u32(c2s, i * 3000);
        put_str(c2s, data, sizeof(data));
        fix_len(c2s, at);
    }
    at = begin(c2s, 4, 4);
    put_str(c2s, "h1", 2);
    fix_len(c2s, at);
    /* open /etc/motd for read, handle "h2", one read of 1000 bytes */
    at = begin(c2s, 3, 5);
    put_str(c2s, "/etc/motd", 9);
    put_u32(c2s, 0x01);
    put_u32(c2s, 0);
    fix_len(c2s, at);
    at = begin(s2c, 102, 5);
    put_str(s2c, "h2", 2);
    fix_len(s2c, at);
    at = begin(c2s, 5, 6);
    put_str(c2s, "h2", 2);
    put_u32(c2s, 0);
    put_u32(c2s, 0);
    put_u32(c2s, 4096);
    fix_len(c2s, at);
    at = begin(s2c, 103, 6);
    put_str(s2c, data, 1000);
    fix_len(s2c, at);
    at = begin(c2s, 4, 7);
    put_str(c2s, "h2", 2);
    fix_len(c2s, at);
    /* rename and remove */
    at = begin(c2s, 18, 8);
    put_str(c2s, "/tmp/up", 7);
    put_str(c2s, "/tmp/up2", 8);
    fix_len(c2s, at);
    at = begin(c2s, 13, 9);
    put_str(c2s, "/tmp/up2", 8);
    fix_len(c2s, at);
}

static const char *expected =
    "open-write /tmp/up 0;write /tmp/up 6000;open-read /etc/motd 0;read /etc/motd 1000;"
    "rename /tmp/up > /tmp/up2 0;remove /tmp/up2 0;";

/*
 * Feeds both streams in the order a real exchange has them: each request,
 * then the reply it causes, with chunk splitting the bytes into pieces.
 */
static void run(size_t chunk, struct seen *seen)
{
    struct pkt c2s, s2c;
    struct sftp_watch *w = malloc(sizeof(*w));
    /* split points: after OPEN, after the 2 WRITEs + CLOSE + OPEN, after READ, the rest */
    size_t c_cuts[5], s_cuts[4];
    size_t cpos = 0, spos = 0;

    assert_non_null(w);
    build_session(&c2s, &s2c);
    /* packet boundaries, computed from the lengths */
    {
        size_t ends[16], n = 0, off = 0;

        while (off < c2s.len) {
            uint32_t l = ((uint32_t)c2s.b[off] << 24) | ((uint32_t)c2s.b[off + 1] << 16) |
                         ((uint32_t)c2s.b[off + 2] << 8) | c2s.b[off + 3];

            off += 4 + l;
            ends[n++] = off;
        }
        c_cuts[0] = ends[0]; /* open up */
        c_cuts[1] = ends[4]; /* writes, close, open motd */
        c_cuts[2] = ends[5]; /* read */
        c_cuts[3] = c2s.len;
        c_cuts[4] = c2s.len;
        n = 0;
        off = 0;
        while (off < s2c.len) {
            uint32_t l = ((uint32_t)s2c.b[off] << 24) | ((uint32_t)s2c.b[off + 1] << 16) |
                         ((uint32_t)s2c.b[off + 2] << 8) | s2c.b[off + 3];

            off += 4 + l;
            ends[n++] = off;
        }
        s_cuts[0] = ends[0];
        s_cuts[1] = ends[1];
        s_cuts[2] = ends[2];
        s_cuts[3] = s2c.len;
    }
    memset(seen, 0, sizeof(*seen));
    sftp_watch_init(w, on_event, seen);
    for (int step = 0; step < 4; step++) {
        while (cpos < c_cuts[step]) {
            size_t k = c_cuts[step] - cpos < chunk ? c_cuts[step] - cpos : chunk;

            sftp_watch_feed(w, 1, c2s.b + cpos, k);
            cpos += k;
        }
        while (spos < s_cuts[step]) {
            size_t k = s_cuts[step] - spos < chunk ? s_cuts[step] - spos : chunk;

            sftp_watch_feed(w, 0, s2c.b + spos, k);
            spos += k;
        }
    }
    sftp_watch_finish(w);
    free(w);
}

static void test_operations_any_split(void **state)
{
    static const size_t chunks[] = {1, 2, 3, 7, 13, 4096, 65536};
    struct seen seen;

    (void)state;
    for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
        run(chunks[i], &seen);
        assert_string_equal(seen.log, expected);
    }
}

/* OpenSSH's sftp renames through the posix-rename@openssh.com extension. */
static void test_extended_rename(void **state)
{
    struct sftp_watch *w = malloc(sizeof(*w));
    struct seen seen;
    struct pkt p;
    size_t at;

    (void)state;
    assert_non_null(w);
    memset(&seen, 0, sizeof(seen));
    memset(&p, 0, sizeof(p));
    sftp_watch_init(w, on_event, &seen);
    at = begin(&p, 200, 1);
    put_str(&p, "posix-rename@openssh.com", 24);
    put_str(&p, "/srv/a", 6);
    put_str(&p, "/srv/b", 6);
    fix_len(&p, at);
    at = begin(&p, 200, 2);
    put_str(&p, "hardlink@openssh.com", 20);
    put_str(&p, "/srv/b", 6);
    put_str(&p, "/srv/c", 6);
    fix_len(&p, at);
    at = begin(&p, 200, 3); /* an extension we do not report, and a cut-short one */
    put_str(&p, "statvfs@openssh.com", 19);
    put_str(&p, "/", 1);
    fix_len(&p, at);
    at = begin(&p, 200, 4);
    put_str(&p, "posix-rename@openssh.com", 24);
    put_u32(&p, 99);
    fix_len(&p, at);
    for (size_t i = 0; i < p.len; i++) {
        sftp_watch_feed(w, 1, p.b + i, 1);
    }
    sftp_watch_finish(w);
    assert_string_equal(seen.log, "rename /srv/a > /srv/b 0;hardlink /srv/b > /srv/c 0;");
    free(w);
}

static void test_hostile_streams(void **state)
{
    struct sftp_watch *w = malloc(sizeof(*w));
    struct seen seen;
    struct pkt p;
    size_t at;
    static const unsigned char huge[] = {0xff, 0xff, 0xff, 0xff, 3, 0, 0, 0, 1};

    (void)state;
    assert_non_null(w);
    /* a length beyond any sftp packet: reporting stops, nothing crashes */
    memset(&seen, 0, sizeof(seen));
    sftp_watch_init(w, on_event, &seen);
    sftp_watch_feed(w, 1, huge, sizeof(huge));
    assert_int_equal(w->lost, 1);
    sftp_watch_finish(w);
    assert_string_equal(seen.log, "");

    /* a string length past the packet's end, a write to an unknown handle, a zero length */
    memset(&seen, 0, sizeof(seen));
    memset(&p, 0, sizeof(p));
    sftp_watch_init(w, on_event, &seen);
    at = begin(&p, 13, 1);
    put_u32(&p, 5000); /* claims 5000 bytes, has 3 */
    memcpy(p.b + p.len, "abc", 3);
    p.len += 3;
    fix_len(&p, at);
    at = begin(&p, 6, 2);
    put_str(&p, "nope", 4);
    put_u32(&p, 0);
    put_u32(&p, 0);
    put_str(&p, "data", 4);
    fix_len(&p, at);
    sftp_watch_feed(w, 1, p.b, p.len);
    assert_int_equal(w->lost, 0);
    sftp_watch_feed(w, 1, "\0\0\0\0", 4);
    assert_int_equal(w->lost, 1);
    sftp_watch_finish(w);
    assert_string_equal(seen.log, "");

    /* a HANDLE reply nobody asked for, and a file left open at the end */
    memset(&seen, 0, sizeof(seen));
    memset(&p, 0, sizeof(p));
    sftp_watch_init(w, on_event, &seen);
    at = begin(&p, 102, 77);
    put_str(&p, "hx", 2);
    fix_len(&p, at);
    sftp_watch_feed(w, 0, p.b, p.len);
    memset(&p, 0, sizeof(p));
    at = begin(&p, 3, 1);
    put_str(&p, "/var/log/x", 10);
    put_u32(&p, 0x01);
    put_u32(&p, 0);
    fix_len(&p, at);
    sftp_watch_feed(w, 1, p.b, p.len);
    memset(&p, 0, sizeof(p));
    at = begin(&p, 102, 1);
    put_str(&p, "hy", 2);
    fix_len(&p, at);
    sftp_watch_feed(w, 0, p.b, p.len);
    sftp_watch_finish(w);
    assert_string_equal(seen.log, "open-read /var/log/x 0;read /var/log/x 0;");
    free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_operations_any_split),
        cmocka_unit_test(test_extended_rename),
        cmocka_unit_test(test_hostile_streams),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

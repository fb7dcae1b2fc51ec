/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for recordings/writer.c, when and how bytes leave it: flushing
 * on ticks (and not before), checkpoints and the final SHA-256/HMAC seal
 * recomputed independently, buffers drained while a large write goes on,
 * write errors that surface and stick, lines asciinema accepts (exactly
 * three elements, times that never go back), and a cut character that never
 * gets finished.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "recording.h"

#include "rec-rig.h"

/* ---- flushing, checkpoints, the seal ---- */

/* Format 2: HMAC-SHA256(key, SHA-256(p[0..n))). */
static void hmac_hex(const void *p, size_t n, char hex[REC_HEX_LEN + 1])
{
    unsigned char sha[32], mac[32];
    unsigned int len = 0;

    assert_int_equal(EVP_Digest(p, n, sha, NULL, EVP_sha256(), NULL), 1);
    assert_non_null(HMAC(EVP_sha256(), key, REC_KEY_LEN, sha, 32, mac, &len));
    rec_hex(mac, 32, hex);
}

/* Every "c" line holds the HMAC of the SHA-256 of all bytes before it; returns how many. */
static int check_checkpoints(const char *bytes, size_t len)
{
    const char *p = bytes, *nl;
    int n = 0;

    while ((nl = memchr(p, '\n', len - (size_t)(p - bytes))) != NULL) {
        const char *c = memmem(p, (size_t)(nl - p), ", \"c\", \"", 8);

        if (c != NULL) {
            char hex[REC_HEX_LEN + 1];

            hmac_hex(bytes, (size_t)(p - bytes), hex);
            assert_memory_equal(c + 8, hex, REC_HEX_LEN);
            n++;
        }
        p = nl + 1;
    }
    assert_true(p == bytes + len); /* ends with a newline */
    return n;
}

static void test_flush_on_tick(void **state)
{
    struct rig g;
    struct timespec ts;
    size_t len0, len1, len2, len3;
    const char *bytes;

    (void)state;
    rig_open(&g, 1, 0);
    bytes = rec_mem_bytes(g.mem, &len0);
    assert_int_equal(check_checkpoints(bytes, len0), 1); /* the header's */
    out(&g, 100, "hello\r\n", 7);
    ts = at_ms(500);
    assert_int_equal(rec_writer_tick(g.w, &ts), 0);
    rec_mem_bytes(g.mem, &len1);
    assert_int_equal(len1, len0); /* buffered */
    ts = at_ms(1000);
    assert_int_equal(rec_writer_tick(g.w, &ts), 0);
    bytes = rec_mem_bytes(g.mem, &len2);
    assert_true(len2 > len1);
    assert_int_equal(check_checkpoints(bytes, len2), 2);
    assert_true(has(bytes, len2, "[1.000000, \"c\", \""));
    ts = at_ms(5000); /* nothing new: no checkpoint */
    assert_int_equal(rec_writer_tick(g.w, &ts), 0);
    rec_mem_bytes(g.mem, &len3);
    assert_int_equal(len3, len2);
    rig_close(&g);
    bytes = rec_mem_bytes(g.mem, &len3);
    assert_int_equal(check_checkpoints(bytes, len3), 3);
    rig_free(&g);
}

static void test_seal(void **state)
{
    struct rig g;
    char hex[REC_HEX_LEN + 1];
    unsigned char sha[32];
    size_t len;
    const char *bytes;
    unsigned long long raw = 0, written = 0;
    static char big[1 << 20];

    (void)state;
    for (size_t i = 0; i < sizeof(big); i++) {
        big[i] = (char)("abcdefgh \xe2\x82\xac\r\n\x1b[0m"[i % 17]);
    }
    rig_open(&g, 1, 0);
    out(&g, 10, big, sizeof(big)); /* more than the buffer: drained while written */
    rec_writer_stats(g.w, &raw, &written);
    assert_int_equal(raw, sizeof(big));
    assert_true(written > 0);
    assert_int_equal(rec_writer_resize(g.w, &(struct timespec){1001, 0}, 100, 40), 0);
    assert_int_equal(rec_writer_marker(g.w, NULL, "sftp open /etc/\"x\"\n\xff"), 0);
    rig_close(&g);
    bytes = rec_mem_bytes(g.mem, &len);
    EVP_Digest(bytes, len, sha, NULL, EVP_sha256(), NULL);
    rec_hex(sha, 32, hex);
    assert_string_equal(g.sha, hex);
    hmac_hex(bytes, len, hex);
    assert_string_equal(g.hmac, hex);
    check_checkpoints(bytes, len);
    assert_true(has(bytes, len, "[1.000000, \"r\", \"100x40\"]\n"));
    assert_true(has(bytes, len, "\"m\", \"sftp open /etc/\\\"x\\\"\\n\xee\xbf\xbf\"]"));
    rig_free(&g);
    roundtrip((const unsigned char *)big, sizeof(big));
}

struct fail_case {
    const char *name;
    size_t extra; /* sink fails this many bytes past the header */
    size_t nwrite;
    int tick;
};

static void test_write_failure(void **state)
{
    static const struct fail_case cases[] = {
        {"on a tick", 10, 100, 1},
        {"when the buffer fills", 1000, 600 * 1024, 0},
        {"on close", 10, 100, 0},
    };
    static char data[600 * 1024];

    (void)state;
    memset(data, 'x', sizeof(data));
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        struct rig g, h;
        struct timespec ts = at_ms(2000);
        size_t hdr;
        char err[256], sha[REC_HEX_LEN + 1], mac[REC_HEX_LEN + 1];
        int rc;

        rig_open(&h, 1, 0); /* how long the header is */
        rec_mem_bytes(h.mem, &hdr);
        rig_free(&h);
        rig_open(&g, 1, hdr + cases[k].extra);
        rc = rec_writer_data(g.w, REC_STREAM_OUT, &ts, data, cases[k].nwrite);
        if (cases[k].tick) {
            assert_int_equal(rc, 0);
            rc = rec_writer_tick(g.w, &ts);
        }
        if (cases[k].tick || cases[k].nwrite > 256 * 1024) {
            if (rc != DB_ERR_IO) {
                fail_msg("%s: %d", cases[k].name, rc);
            }
            /* it sticks */
            assert_int_equal(rec_writer_data(g.w, REC_STREAM_OUT, &ts, "a", 1), DB_ERR_IO);
            assert_int_equal(rec_writer_marker(g.w, &ts, "x"), DB_ERR_IO);
            assert_int_equal(rec_writer_tick(g.w, &ts), DB_ERR_IO);
        }
        assert_int_equal(rec_writer_close(g.w, sha, mac, err, sizeof(err)), DB_ERR_IO);
        assert_string_equal(sha, "");
        assert_string_equal(mac, "");
        assert_non_null(strstr(err, "cannot write"));
        g.w = NULL;
        rig_free(&g);
    }
}

static void test_header_write_failure(void **state)
{
    struct rec_sink sink;
    struct rec_mem *mem;
    struct rec_writer *w = (struct rec_writer *)&sink;
    struct rec_meta m;
    struct timespec t0 = at_ms(0);
    char err[256] = "";

    (void)state;
    memset(&m, 0, sizeof(m));
    assert_int_equal(rec_sink_mem(&sink, &mem, 20), 0);
    assert_int_equal(rec_writer_new(&sink, &m, key, &t0, &w, err, sizeof(err)), DB_ERR_IO);
    assert_null(w);
    assert_non_null(strstr(err, "header"));
    rec_mem_free(mem);
}

/* ---- what asciinema reads: every event line [number, string, string] ---- */

static void test_asciinema_lines(void **state)
{
    struct rig g;
    struct timespec ts;
    unsigned char bin[300];
    size_t len;
    const char *bytes, *p, *nl;
    double prev = 0;
    int lines = 0;

    (void)state;
    for (size_t i = 0; i < sizeof(bin); i++) {
        bin[i] = (unsigned char)(i * 7);
    }
    rig_open(&g, 1, 0);
    out(&g, 2000, "late", 4);
    ts = at_ms(1000); /* times never decrease */
    assert_int_equal(rec_writer_data(g.w, REC_STREAM_IN, &ts, "clock went back", 15), 0);
    out(&g, 2500, bin, sizeof(bin));
    ts = at_ms(2600);
    assert_int_equal(rec_writer_data(g.w, REC_STREAM_IN, &ts, bin, sizeof(bin)), 0);
    assert_int_equal(rec_writer_resize(g.w, &ts, 90, 30), 0);
    assert_int_equal(rec_writer_marker(g.w, &ts, "\x01\xc0 marker"), 0);
    ts = at_ms(3700);
    assert_int_equal(rec_writer_tick(g.w, &ts), 0);
    rig_close(&g);
    bytes = rec_mem_bytes(g.mem, &len);
    assert_true(db_utf8_valid(bytes, len));
    p = memchr(bytes, '\n', len) + 1;
    while ((nl = memchr(p, '\n', len - (size_t)(p - bytes))) != NULL) {
        json_error_t je;
        json_t *a = json_loadb(p, (size_t)(nl - p), JSON_ALLOW_NUL, &je);

        assert_non_null(a);
        assert_true(json_is_array(a));
        assert_int_equal(json_array_size(a), 3);
        assert_true(json_is_real(json_array_get(a, 0)));
        assert_true(json_is_string(json_array_get(a, 1)));
        assert_true(json_is_string(json_array_get(a, 2)));
        assert_true(json_real_value(json_array_get(a, 0)) >= prev);
        prev = json_real_value(json_array_get(a, 0));
        json_decref(a);
        lines++;
        p = nl + 1;
    }
    assert_int_equal(lines, 10); /* c o i bo bi r m c e c */
    assert_true(has(bytes, len, "[2.000000, \"i\", \"clock went back\"]"));
    rig_free(&g);
}

/* ---- a character cut and never finished ---- */

static void test_cut_character_flushed(void **state)
{
    struct rig g;
    struct back b;
    struct timespec ts;
    size_t len;
    const char *bytes;

    (void)state;
    rig_open(&g, 1, 0);
    out(&g, 100, "x\xe2\x82", 3);
    ts = at_ms(1000);
    assert_int_equal(rec_writer_tick(g.w, &ts), 0);
    bytes = rec_mem_bytes(g.mem, &len);
    assert_false(has(bytes, len, "\xee\xbf\xa2")); /* less than a period: still waiting */
    ts = at_ms(2200);
    assert_int_equal(rec_writer_tick(g.w, &ts), 0);
    bytes = rec_mem_bytes(g.mem, &len);
    assert_true(has(bytes, len, "[2.200000, \"o\", \"\xee\xbf\xa2\xee\xbe\x82\"]"));
    out(&g, 2300, "\xacy", 2);
    rig_close(&g);
    read_back(&g, &b);
    assert_int_equal(b.no, 5);
    assert_memory_equal(b.o, "x\xe2\x82\xacy", 5);
    back_free(&b);
    rig_free(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flush_on_tick),   cmocka_unit_test(test_seal),
        cmocka_unit_test(test_write_failure),   cmocka_unit_test(test_header_write_failure),
        cmocka_unit_test(test_asciinema_lines), cmocka_unit_test(test_cut_character_flushed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

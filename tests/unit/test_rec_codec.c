/* SPDX-License-Identifier: Apache-2.0 */
/*
 * base64 of binary events against OpenSSL's encoder, which shares no code
 * with ours: every length up to a few hundred bytes (the 24-byte steps of
 * the wide path, the three-byte steps and padding of the narrow one, and
 * every mix of the two), at every alignment, with random bytes and with each
 * byte value in each position of a group; and back through our decoder.
 */
#include "recording.h"

#include <openssl/evp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>

#include <cmocka.h>

#define MAXLEN 400

static uint32_t seed = 12345;

static unsigned char rnd8(void)
{
    seed = seed * 1664525u + 1013904223u;
    return (unsigned char)(seed >> 24);
}

/* in[0..len) encoded by us equals OpenSSL's encoding, and decodes back. */
static void same(const unsigned char *in, size_t len)
{
    char ours[MAXLEN * 2 + 8], ref[MAXLEN * 2 + 8];
    unsigned char back[MAXLEN + 8];
    size_t n, m = 0;
    int rn;

    memset(ours, '#', sizeof(ours));
    n = rec_b64_encode(in, len, ours);
    rn = EVP_EncodeBlock((unsigned char *)ref, in, (int)len);
    assert_int_equal(n, (size_t)rn);
    assert_memory_equal(ours, ref, n);
    assert_int_equal(ours[n], '#'); /* nothing written past what it returns */
    assert_int_equal(rec_b64_decode(ours, n, back, &m), 0);
    assert_int_equal(m, len);
    if (len > 0) {
        assert_memory_equal(back, in, len);
    }
}

static void test_lengths_alignments(void **state)
{
    unsigned char buf[MAXLEN + 64];

    (void)state;
    for (int round = 0; round < 4; round++) {
        for (size_t i = 0; i < sizeof(buf); i++) {
            buf[i] = rnd8();
        }
        for (size_t off = 0; off < 32; off += round == 0 ? 1 : 7) {
            for (size_t len = 0; len + off <= sizeof(buf) && len <= MAXLEN; len++) {
                same(buf + off, len);
            }
        }
    }
}

/* Every byte value at each of the three places of a group, in the wide steps and the tail. */
static void test_every_byte(void **state)
{
    unsigned char buf[MAXLEN];

    (void)state;
    for (size_t len = 60; len <= 62; len++) {
        for (unsigned v = 0; v < 256; v++) {
            for (size_t i = 0; i < len; i++) {
                buf[i] = (unsigned char)(v + i * 3);
            }
            same(buf, len);
            memset(buf, (int)v, len);
            same(buf, len);
        }
    }
}

/* 6-bit groups of 62 and 63 ('+' and '/') and of the class edges 25/26, 51/52. */
static void test_alphabet_edges(void **state)
{
    static const unsigned char edges[] = {0, 25, 26, 51, 52, 61, 62, 63};
    unsigned char buf[96];

    (void)state;
    for (size_t a = 0; a < sizeof(edges); a++) {
        for (size_t b = 0; b < sizeof(edges); b++) {
            for (size_t i = 0; i + 3 <= sizeof(buf); i += 3) {
                /* four groups: a, b, a, b */
                unsigned g0 = edges[a], g1 = edges[b];
                uint32_t v = g0 << 18 | g1 << 12 | g0 << 6 | g1;

                buf[i] = (unsigned char)(v >> 16);
                buf[i + 1] = (unsigned char)(v >> 8);
                buf[i + 2] = (unsigned char)v;
            }
            same(buf, sizeof(buf));
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lengths_alignments),
        cmocka_unit_test(test_every_byte),
        cmocka_unit_test(test_alphabet_edges),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The byte-level encodings of a recording (FORMAT.md): the JSON string
 * escaper of "o"/"i"/"m" events, which keeps every line valid UTF-8 by
 * mapping each byte that is not part of valid UTF-8 to U+EF00 + byte (a
 * Private Use code point), its inverse, standard base64 for "bo"/"bi"
 * events, and lowercase hex for checkpoints.
 *
 * rec_esc_json and rec_b64_encode are on the relay's hot path: runs of
 * plain ASCII are copied eight bytes at a time, everything else is one table
 * look-up or one UTF-8 sequence check per character, and base64 turns 24
 * bytes into 32 characters a step with AVX2 where the processor has it, or
 * else three bytes into four characters with two look-ups in a table of
 * pairs.
 */
#include "recording.h"

#include <stdlib.h>
#include <string.h>

/* What the escaper does with an ASCII byte. */
enum {
    ESC_COPY = 0,  /* as is */
    ESC_SHORT = 1, /* backslash and a letter */
    ESC_UNI = 2,   /* \u00XX, a control that is text in a terminal (ESC, BEL, SO ...) */
    ESC_BAD = 3,   /* \u00XX, and it counts against "mostly text" */
};

static const unsigned char esc_class[128] = {
    [0x00 ... 0x06] = ESC_BAD,   /* NUL .. ACK */
    [0x07] = ESC_UNI,            /* BEL */
    [0x08 ... 0x0A] = ESC_SHORT, /* BS HT LF */
    [0x0B] = ESC_UNI,            /* VT */
    [0x0C ... 0x0D] = ESC_SHORT, /* FF CR */
    [0x0E ... 0x0F] = ESC_UNI,   /* SO SI */
    [0x10 ... 0x1A] = ESC_BAD,   /* DLE .. SUB */
    [0x1B] = ESC_UNI,            /* ESC */
    [0x1C ... 0x1F] = ESC_BAD,   /* FS .. US */
    ['"'] = ESC_SHORT,
    ['\\'] = ESC_SHORT,
    /* everything else, DEL included, is copied */
};

static const char hexdig[] = "0123456789abcdef";

#define ONES 0x0101010101010101ULL
#define HIGH 0x8080808080808080ULL

/* Non-zero when any of the 8 bytes is >= 0x80, < 0x20, '"' or '\\'. */
static inline uint64_t esc_attention(uint64_t x)
{
    uint64_t q = x ^ (ONES * '"'), b = x ^ (ONES * '\\');

    return (x | ((x - ONES * 0x20) & ~x) | ((q - ONES) & ~q) | ((b - ONES) & ~b)) & HIGH;
}

/* Inlined into the escaper's loop; rec_utf8_len is the same for other files. */
static inline int utf8_len(const unsigned char *p, size_t avail)
{
    unsigned c = p[0], lo = 0x80, hi = 0xBF;
    size_t need;

    if (c < 0x80) {
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        lo = c == 0xE0 ? 0xA0 : 0x80; /* overlong */
        hi = c == 0xED ? 0x9F : 0xBF; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        lo = c == 0xF0 ? 0x90 : 0x80; /* overlong */
        hi = c == 0xF4 ? 0x8F : 0xBF; /* past U+10FFFF */
    } else {
        return 0;
    }
    if (avail < 2) {
        return -1;
    }
    if (p[1] < lo || p[1] > hi) {
        return 0;
    }
    for (size_t k = 2; k < need; k++) {
        if (avail <= k) {
            return -1;
        }
        if ((p[k] & 0xC0) != 0x80) {
            return 0;
        }
    }
    return (int)need;
}

int rec_utf8_len(const unsigned char *p, size_t avail)
{
    return utf8_len(p, avail);
}

/* Byte b (0x80..0xFF) as U+EF00 + b. */
static inline size_t esc_pua(unsigned char b, char *out)
{
    out[0] = (char)0xEE;
    out[1] = (char)(b < 0xC0 ? 0xBE : 0xBF);
    out[2] = (char)(0x80 | (b & 0x3F));
    return 3;
}

size_t rec_esc_json(const unsigned char *in, size_t len, int final, char *out, size_t *used,
                    size_t *bad, size_t max_bad)
{
    size_t i = 0, o = 0, nbad = *bad;

    while (i < len) {
        unsigned c;
        int n;

        while (len - i >= 8) {
            uint64_t x;

            memcpy(&x, in + i, 8);
            if (esc_attention(x) != 0) {
                break;
            }
            memcpy(out + o, &x, 8);
            i += 8;
            o += 8;
        }
        if (i == len) {
            break;
        }
        c = in[i];
        if (c < 0x80) {
            switch (esc_class[c]) {
            case ESC_COPY:
                out[o++] = (char)c;
                break;
            case ESC_SHORT:
                out[o++] = '\\';
                out[o++] = c == '\b'   ? 'b'
                           : c == '\t' ? 't'
                           : c == '\n' ? 'n'
                           : c == '\f' ? 'f'
                           : c == '\r' ? 'r'
                                       : (char)c;
                break;
            default:
                nbad += esc_class[c] == ESC_BAD;
                memcpy(out + o, "\\u00", 4);
                out[o + 4] = hexdig[c >> 4];
                out[o + 5] = hexdig[c & 15];
                o += 6;
                break;
            }
            i++;
        } else if ((n = utf8_len(in + i, len - i)) > 0) {
            if (n == 3 && c == 0xEE && in[i + 1] >= 0xBE) {
                /* a genuine U+EF80..U+EFFF: escaped so that decoding is exact */
                o += esc_pua(in[i], out + o);
                o += esc_pua(in[i + 1], out + o);
                o += esc_pua(in[i + 2], out + o);
                nbad += 3;
            } else {
                memcpy(out + o, in + i, (size_t)n);
                o += (size_t)n;
            }
            i += (size_t)n;
        } else if (n < 0 && !final) {
            break; /* the rest of the character comes with the next write */
        } else {
            o += esc_pua(in[i++], out + o);
            nbad++;
        }
        if (nbad > max_bad) {
            *bad = nbad;
            *used = i;
            return (size_t)-1;
        }
    }
    *bad = nbad;
    *used = i;
    return o;
}

size_t rec_pua_decode(const char *in, size_t len, unsigned char *out)
{
    const unsigned char *p = (const unsigned char *)in;
    size_t i = 0, o = 0;

    while (i < len) {
        if (p[i] == 0xEE && len - i >= 3 && (p[i + 1] == 0xBE || p[i + 1] == 0xBF) &&
            (p[i + 2] & 0xC0) == 0x80) {
            out[o++] = (unsigned char)(((p[i + 1] & 1) << 6) | 0x80 | (p[i + 2] & 0x3F));
            i += 3;
        } else {
            out[o++] = p[i++];
        }
    }
    return o;
}

char *rec_pua_string(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, n = 0;
    char *raw = malloc(len * 3 + 1), *out = NULL;

    /* Plain UTF-8 here (jansson escapes controls in the header itself). */
    if (raw == NULL) {
        return NULL;
    }
    while (i < len) {
        int k = utf8_len(p + i, len - i);

        if (k > 0 && !(k == 3 && p[i] == 0xEE && p[i + 1] >= 0xBE)) {
            memcpy(raw + n, p + i, (size_t)k);
            n += (size_t)k;
            i += (size_t)k;
        } else {
            n += esc_pua(p[i++], raw + n);
        }
    }
    raw[n] = '\0';
    out = realloc(raw, n + 1);
    return out != NULL ? out : raw;
}

/*
 * base64 by pairs: one 4096-entry table gives the two characters of each
 * 12 bits, so three bytes become four characters with two look-ups and no
 * work per 6-bit group.  The table is built by the compiler (8 KiB).
 */
#define B64_CHAR(v)                                                                                \
    ((char)((v) < 26    ? 'A' + (v)                                                                \
            : (v) < 52  ? 'a' + (v)-26                                                             \
            : (v) < 62  ? '0' + (v)-52                                                             \
            : (v) == 62 ? '+'                                                                      \
                        : '/'))
#define B64_P(i)                                                                                   \
    {                                                                                              \
        B64_CHAR((i) >> 6), B64_CHAR((i)&63)                                                       \
    }
#define B64_P4(i) B64_P(i), B64_P((i) + 1), B64_P((i) + 2), B64_P((i) + 3)
#define B64_P16(i) B64_P4(i), B64_P4((i) + 4), B64_P4((i) + 8), B64_P4((i) + 12)
#define B64_P64(i) B64_P16(i), B64_P16((i) + 16), B64_P16((i) + 32), B64_P16((i) + 48)
#define B64_P256(i) B64_P64(i), B64_P64((i) + 64), B64_P64((i) + 128), B64_P64((i) + 192)
#define B64_P1024(i) B64_P256(i), B64_P256((i) + 256), B64_P256((i) + 512), B64_P256((i) + 768)

static const char b64_pair[4096][2] = {B64_P1024(0), B64_P1024(1024), B64_P1024(2048),
                                       B64_P1024(3072)};

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define B64_WIDE 1

/*
 * 24 bytes to 32 characters a step, with AVX2, while at least 28 bytes are
 * left (each 16-byte load reads 4 bytes past its 12).  In each 128-bit lane
 * every 3 bytes a, b, c become the 32-bit word b a c b; two multiplies move
 * its four 6-bit groups into the word's four bytes, and one table look-up
 * per byte (by range: A-Z, a-z, 0-9, +, /) adds the offset to its character.
 * Returns the input bytes done (a multiple of 24); out has 4/3 of them.
 */
__attribute__((target("avx2"))) static size_t b64_avx2(const unsigned char *in, size_t len,
                                                       char *out)
{
    const __m256i spread = _mm256_setr_epi8(1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10, 1, 0,
                                            2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10);
    /* offset to the character, by class: 0 a-z, 1..10 0-9, 11 +, 12 /, 13 A-Z */
    const __m256i shift =
        _mm256_setr_epi8(71, -4, -4, -4, -4, -4, -4, -4, -4, -4, -4, -19, -16, 65, 0, 0, 71, -4, -4,
                         -4, -4, -4, -4, -4, -4, -4, -4, -19, -16, 65, 0, 0);
    size_t i = 0;

    for (; len - i >= 28; i += 24, out += 32) {
        __m256i v = _mm256_inserti128_si256(
            _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(in + i))),
            _mm_loadu_si128((const __m128i *)(in + i + 12)), 1);
        __m256i hi, lo, idx, cls;

        v = _mm256_shuffle_epi8(v, spread);
        /* a>>2 and (b&15)<<2|c>>6 to bytes 0 and 2; (a&3)<<4|b>>4 and c&63 to 1 and 3 */
        hi = _mm256_mulhi_epu16(_mm256_and_si256(v, _mm256_set1_epi32(0x0fc0fc00)),
                                _mm256_set1_epi32(0x04000040));
        lo = _mm256_mullo_epi16(_mm256_and_si256(v, _mm256_set1_epi32(0x003f03f0)),
                                _mm256_set1_epi32(0x01000010));
        idx = _mm256_or_si256(hi, lo);
        cls = _mm256_subs_epu8(idx, _mm256_set1_epi8(51));
        cls = _mm256_or_si256(cls, _mm256_and_si256(_mm256_cmpgt_epi8(_mm256_set1_epi8(26), idx),
                                                    _mm256_set1_epi8(13)));
        _mm256_storeu_si256((__m256i *)out, _mm256_add_epi8(idx, _mm256_shuffle_epi8(shift, cls)));
    }
    return i;
}
#endif

size_t rec_b64_encode(const unsigned char *in, size_t len, char *out)
{
    size_t i = 0, o = 0;

#ifdef B64_WIDE
    if (len >= 28 && __builtin_cpu_supports("avx2")) {
        i = b64_avx2(in, len, out);
        o = i / 3 * 4;
    }
#endif

    /* six bytes a step: one 48-bit value, four pairs */
    for (; len - i >= 6; i += 6, o += 8) {
        uint64_t v = (uint64_t)in[i] << 40 | (uint64_t)in[i + 1] << 32 | (uint64_t)in[i + 2] << 24 |
                     (uint64_t)in[i + 3] << 16 | (uint64_t)in[i + 4] << 8 | in[i + 5];

        memcpy(out + o, b64_pair[v >> 36], 2);
        memcpy(out + o + 2, b64_pair[(v >> 24) & 4095], 2);
        memcpy(out + o + 4, b64_pair[(v >> 12) & 4095], 2);
        memcpy(out + o + 6, b64_pair[v & 4095], 2);
    }
    if (len - i >= 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

        memcpy(out + o, b64_pair[v >> 12], 2);
        memcpy(out + o + 2, b64_pair[v & 4095], 2);
        i += 3;
        o += 4;
    }
    if (len - i == 1) {
        memcpy(out + o, b64_pair[(unsigned)in[i] << 4], 2);
        out[o + 2] = '=';
        out[o + 3] = '=';
        o += 4;
    } else if (len - i == 2) {
        unsigned v = (unsigned)in[i] << 8 | in[i + 1];

        memcpy(out + o, b64_pair[v >> 4], 2);
        out[o + 2] = B64_CHAR((v & 15) << 2);
        out[o + 3] = '=';
        o += 4;
    }
    return o;
}

/* The value of each base64 character, 64 for any other byte. */
#define B64_V(c)                                                                                   \
    ((unsigned char)((c) >= 'A' && (c) <= 'Z'   ? (c) - 'A'                                        \
                     : (c) >= 'a' && (c) <= 'z' ? (c) - 'a' + 26                                   \
                     : (c) >= '0' && (c) <= '9' ? (c) - '0' + 52                                   \
                     : (c) == '+'               ? 62                                               \
                     : (c) == '/'               ? 63                                               \
                                                : 64))
#define B64_V4(c) B64_V(c), B64_V((c) + 1), B64_V((c) + 2), B64_V((c) + 3)
#define B64_V16(c) B64_V4(c), B64_V4((c) + 4), B64_V4((c) + 8), B64_V4((c) + 12)
#define B64_V64(c) B64_V16(c), B64_V16((c) + 16), B64_V16((c) + 32), B64_V16((c) + 48)

static const unsigned char b64_val_tab[256] = {B64_V64(0), B64_V64(64), B64_V64(128), B64_V64(192)};

static int b64_val(unsigned char c)
{
    return b64_val_tab[c] < 64 ? b64_val_tab[c] : -1;
}

int rec_b64_decode(const char *in, size_t len, unsigned char *out, size_t *outlen)
{
    const unsigned char *p = (const unsigned char *)in;
    size_t o = 0;

    *outlen = 0;
    if (len % 4 != 0) {
        return DB_ERR_INVALID;
    }
    for (size_t i = 0; i < len; i += 4) {
        int v[4], pad = 0;

        for (int k = 0; k < 4; k++) {
            v[k] = b64_val(p[i + k]);
            if (v[k] < 0) {
                /* '=' only as the last one or two characters of the text */
                if (p[i + k] != '=' || i + 4 != len || k < 2 || (k == 2 && p[i + 3] != '=')) {
                    return DB_ERR_INVALID;
                }
                v[k] = 0;
                pad++;
            }
        }
        out[o++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
        if (pad == 2) {
            if ((v[1] & 15) != 0) {
                return DB_ERR_INVALID; /* not canonical */
            }
            break;
        }
        out[o++] = (unsigned char)((v[1] & 15) << 4 | v[2] >> 2);
        if (pad == 1) {
            if ((v[2] & 3) != 0) {
                return DB_ERR_INVALID;
            }
            break;
        }
        out[o++] = (unsigned char)((v[2] & 3) << 6 | v[3]);
    }
    *outlen = o;
    return 0;
}

void rec_hex(const unsigned char *in, size_t len, char *out)
{
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = hexdig[in[i] >> 4];
        out[2 * i + 1] = hexdig[in[i] & 15];
    }
    out[2 * len] = '\0';
}

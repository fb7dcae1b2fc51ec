/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for recordings/sanitize.c, byte by byte: each hostile sequence
 * (clipboard, title and colour queries, DECRQSS, device status and
 * attributes, window reports, mouse and focus reporting, 8-bit C1 in every
 * form, ISO 2022 switches) is removed, and ordinary output -- colours,
 * cursor movement, erasing, scrolling, charsets, screen modes, titles -- is
 * byte-identical.  Every case is also fed one byte at a time and cut at
 * every position, which must not change the output; an endless sequence
 * must not grow memory.  And rec_play_delay (play.c), from a table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recording.h"

struct san_case {
    const char *name;
    const char *in;
    const char *want; /* NULL: the same as in */
};

#define FFFD "\xef\xbf\xbd"

static const struct san_case cases[] = {
    /* the clipboard */
    {"OSC 52 BEL",
     "a\x1b]52;c;aGVsbG8=\x07"
     "b",
     "ab"},
    {"OSC 52 ST", "a\x1b]52;c;aGVsbG8=\x1b\\b", "ab"},
    {"OSC 52 query", "\x1b]52;c;?\x07", ""},
    {"OSC 52 C1 ST", "\x1b]52;p;AAAA\xc2\x9cz", "z"},
    {"OSC 52 then CSI", "\x1b]52;c;AAA\x1b[31mred", "\x1b[31mred"},
    {"OSC 52 cancelled", "\x1b]52;c;AAA\x18x", "x"},
    /* titles: set yes, query or report no */
    {"OSC 0 title", "\x1b]0;alice@web-1: ~\x07", NULL},
    {"OSC 1 icon", "\x1b]1;web-1\x1b\\", NULL},
    {"OSC 2 title ST", "\x1b]2;vim \xe2\x80\x94 main.c\x1b\\", NULL},
    {"OSC 2 C1 ST", "\x1b]2;t\xc2\x9c", "\x1b]2;t\x1b\\"},
    {"OSC 2 U+271C is not ST", "\x1b]2;\xe2\x9c\x9c\x07", NULL},
    {"OSC 0 query", "\x1b]0;?\x07", ""},
    {"OSC 2 with a question", "\x1b]2;what?\x07", ""},
    {"OSC 21", "\x1b]21\x07", ""},
    {"OSC 00", "\x1b]00;t\x07", ""},
    {"title with a control",
     "\x1b]0;a\x01"
     "b\x07",
     ""},
    {"title with C1",
     "\x1b]0;a\xc2\x9b"
     "6n\x07",
     ""},
    {"title with bad UTF-8", "\x1b]0;a\xff\x07", ""},
    {"CSI 21t title report", "\x1b[21t", ""},
    {"CSI 20t icon report", "\x1b[20t", ""},
    {"CSI 14t", "\x1b[14t", ""},
    {"CSI 18t", "\x1b[18t", ""},
    {"CSI 8t resize", "\x1b[8;50;200t", ""},
    {"CSI 22t push", "\x1b[22;0t", ""},
    /* colours and other OSC */
    {"OSC 4 query", "\x1b]4;1;?\x07", ""},
    {"OSC 10 query", "\x1b]10;?\x1b\\", ""},
    {"OSC 11 query", "\x1b]11;?\x07", ""},
    {"OSC 4 set", "\x1b]4;1;rgb:ff/00/00\x07", ""},
    {"OSC 8 link", "\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", "link"},
    {"OSC 50 font", "\x1b]50;?\x07", ""},
    {"OSC 777 notify", "\x1b]777;notify;a;b\x07", ""},
    /* DCS, APC, PM, SOS */
    {"DECRQSS SGR", "\x1bP$qm\x1b\\x", "x"},
    {"DECRQSS DECSCL", "\x1bP$q\"p\x1b\\", ""},
    {"XTGETTCAP", "\x1bP+q544e\x1b\\", ""},
    {"DCS BEL inside", "\x1bP1$r\x07more\x1b\\z", "z"},
    {"DCS tmux passthrough", "\x1bPtmux;\x1b\x1b]52;c;AAAA\x07\x1b\\", ""},
    {"sixel", "\x1bPq#0;2;0;0;0#0~~@@vv@@~~\x1b\\", ""},
    {"APC kitty graphics", "\x1b_Gf=100;AAAA\x1b\\", ""},
    {"PM", "\x1b^private\x1b\\", ""},
    {"SOS", "\x1bXstring\x1b\\", ""},
    {"DCS C1 ST", "\x1bP$qm\xc2\x9cok", "ok"},
    {"DCS cancelled",
     "\x1bP$qm\x1a"
     "ok",
     "ok"},
    /* device status and attributes */
    {"CSI 6n", "a\x1b[6nb", "ab"},
    {"CSI 5n", "\x1b[5n", ""},
    {"CSI ?6n", "\x1b[?6n", ""},
    {"CSI n", "\x1b[n", ""},
    {"CSI c", "\x1b[c", ""},
    {"CSI 0c", "\x1b[0c", ""},
    {"CSI >c", "\x1b[>c", ""},
    {"CSI >0c", "\x1b[>0c", ""},
    {"CSI =c", "\x1b[=c", ""},
    {"DECRQM", "\x1b[?1$p", ""},
    {"DECRQM ANSI", "\x1b[2$p", ""},
    {"DECREQTPARM", "\x1b[x", ""},
    {"DECREQTPARM 1", "\x1b[1x", ""},
    {"XTVERSION", "\x1b[>q", ""},
    {"kitty keyboard query", "\x1b[?u", ""},
    {"kitty keyboard push", "\x1b[>1u", ""},
    {"modifyOtherKeys", "\x1b[>4;1m", ""},
    {"XTSMGRAPHICS", "\x1b[?1;1S", ""},
    {"media copy", "\x1b[5i", ""},
    {"DECLL", "\x1b[1q", ""},
    {"DECSCL", "\x1b[61\"p", ""},
    {"DECID", "\x1bZ", ""},
    {"ENQ",
     "a\x05"
     "b",
     "ab"},
    /* modes */
    {"mouse", "\x1b[?1000h\x1b[?1002h\x1b[?1003h\x1b[?1006h\x1b[?1015h\x1b[?9h", ""},
    {"focus", "\x1b[?1004h", ""},
    {"bracketed paste", "\x1b[?2004h", ""},
    {"mouse and screen", "\x1b[?1000;1049;1006h", "\x1b[?1049h"},
    {"keyboard lock", "\x1b[2h", ""},
    {"local echo", "\x1b[12l", ""},
    {"insert and lock", "\x1b[4;2h", "\x1b[4h"},
    {"mouse highlight", "\x1b[1;5;1;1;1T", ""},
    /* 8-bit controls */
    {"8-bit CSI",
     "\x9b"
     "6n",
     "6n"},
    {"8-bit OSC",
     "\x9d"
     "52;c;AA\x07",
     "52;c;AA"},
    {"8-bit DCS", "\x90$qm\x9c", "$qm"},
    {"C1 as U+009B",
     "\xc2\x9b"
     "6n",
     "6n"},
    {"C1 as U+0090", "\xc2\x90$qm", "$qm"},
    {"every raw C1", "\x80\x81\x85\x8d\x8e\x8f\x90\x96\x97\x98\x9a\x9b\x9c\x9d\x9e\x9f", ""},
    {"overlong CSI",
     "\xe0\x82\x9b"
     "6n",
     FFFD "6n"},
    {"S8C1T", "\x1b G", ""},
    {"ISO 2022 return", "\x1b%@", ""},
    {"select UTF-8", "\x1b%G", ""},
    /* cancelled and broken sequences */
    {"CAN in CSI", "\x1b[6\x18n", "n"},
    {"SUB in CSI", "\x1b[6\x1an", "n"},
    {"ESC in CSI", "\x1b[6\x1b[31m", "\x1b[31m"},
    {"newline in CSI", "\x1b[1\n;31m", "\n\x1b[1;31m"},
    {"C1 in CSI",
     "\x1b[6\x9b"
     "6n",
     "6n"},
    {"huge parameter", "\x1b[99999b", ""},
    {"parameter after intermediate", "\x1b[1 2q", ""},
    {"private marker in the middle", "\x1b[1?25h", ""},
    {"stray ST", "\x1b\\", ""},
    {"ESC at the end", "abc\x1b", "abc"},
    /* other control bytes */
    {"BEL NUL DEL",
     "a\x07\x00\x7f"
     "b",
     "ab"},
    {"C0", "\x01\x02\x03\x04\x06\x10\x11\x12\x13\x14\x15\x16\x17\x19\x1c\x1d\x1e\x1f", ""},
    /* invalid UTF-8 */
    {"0xFF",
     "a\xff"
     "b",
     "a" FFFD "b"},
    {"cut character", "\xe2\x82x", FFFD "x"},
    {"overlong", "\xc0\xaf", FFFD FFFD},
    {"surrogate", "\xed\xa0\x80", FFFD FFFD},
    {"lone continuation", "\xa0", FFFD},
    /* ordinary output, unchanged */
    {"SGR", "\x1b[0m\x1b[1;31mred\x1b[38;5;196mx\x1b[38;2;1;2;3mrgb\x1b[38:2::1:2:3mx\x1b[m", NULL},
    {"cursor",
     "\x1b[H\x1b[10;20H\x1b[A\x1b[5B\x1b[C\x1b[D\x1b[E\x1b[F\x1b[G\x1b[12d\x1b[5`"
     "\x1b[3a\x1b[2e\x1b[5;5f\x1b[s\x1b[u\x1b"
     "7\x1b"
     "8\x1b[I\x1b[Z\x1b[3g\x1bH",
     NULL},
    {"erase and edit",
     "\x1b[2J\x1b[J\x1b[1J\x1b[K\x1b[1K\x1b[2K\x1b[3L\x1b[2M\x1b[4P\x1b[3@"
     "\x1b[5X\x1b[2S\x1b[3T\x1b[2b\x1b[?1J\x1b[?2K",
     NULL},
    {"scrolling",
     "\x1b[1;24r\x1b[r\x1b"
     "D\x1b"
     "E\x1bM",
     NULL},
    {"modes",
     "\x1b[?25l\x1b[?25h\x1b[?1049h\x1b[?1h\x1b=\x1b[?7h\x1b[?1049l\x1b[?1l\x1b>"
     "\x1b[4h\x1b[4l\x1b[?2026h\x1b[?2026l\x1b[?47h\x1b[?1047l\x1b[?12h\x1b[?5h\x1b[?6l",
     NULL},
    {"cursor shape and soft reset", "\x1b[2 q\x1b[!p", NULL},
    {"charsets",
     "\x1b(0lqqk\x1b(B\x1b)0\x0e"
     "abc\x0f\x1b*B\x1b+B\x1bn\x1bo\x1b#8\x1b#6",
     NULL},
    {"reset",
     "\x1b"
     "c",
     NULL},
    {"text",
     "h\xc3\xa9llo w\xc3\xb6rld \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80\r\n\tTab\b\x0b\x0c",
     NULL},
    {"U+00A0 and up", "\xc2\xa0\xc2\xbf\xdf\xbf", NULL},
    {"ls --color", "\x1b[0m\x1b[01;34mbin\x1b[0m  \x1b[01;32mrun.sh\x1b[0m  notes.txt\r\n", NULL},
    {"bash prompt",
     "\x1b]0;alice@web-1: ~\x07\x1b[01;32malice@web-1\x1b[00m:\x1b[01;34m~"
     "\x1b[00m$ ",
     NULL},
};

/* Sanitises in[0..n) in pieces cut at cuts[] (ascending); the caller frees the result. */
static char *run(const char *in, size_t n, const size_t *cuts, size_t ncuts, size_t *outlen)
{
    struct rec_sanitizer *s = NULL;
    char *out = NULL;
    size_t cap = 0, prev = 0;

    *outlen = 0;
    assert_int_equal(rec_sanitizer_new(&s), 0);
    for (size_t k = 0; k <= ncuts; k++) {
        size_t end = k < ncuts ? cuts[k] : n;

        assert_int_equal(rec_sanitize(s, in + prev, end - prev, &out, outlen, &cap), 0);
        assert_true(*outlen <= cap);
        prev = end;
    }
    rec_sanitizer_free(s);
    return out;
}

static void expect(const char *name, const char *how, const char *got, size_t gotlen,
                   const char *want, size_t wantlen)
{
    if (gotlen != wantlen || memcmp(got, want, wantlen) != 0) {
        fail_msg("%s (%s): %zu bytes out, want %zu", name, how, gotlen, wantlen);
    }
}

static size_t case_len(const struct san_case *c)
{
    /* cases with a NUL inside: the NUL is the only one, and "b" follows it */
    size_t n = strlen(c->in);

    return strcmp(c->name, "BEL NUL DEL") == 0 ? n + 3 : n;
}

static void test_cases(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        const struct san_case *c = &cases[k];
        size_t n = case_len(c), outlen, *cuts = calloc(n + 1, sizeof(size_t));
        const char *want = c->want != NULL ? c->want : c->in;
        size_t wantlen = c->want != NULL ? strlen(c->want) : n;
        char *out = run(c->in, n, NULL, 0, &outlen);

        expect(c->name, "whole", out, outlen, want, wantlen);
        free(out);
        for (size_t i = 0; i < n; i++) {
            cuts[i] = i + 1;
        }
        out = run(c->in, n, cuts, n > 0 ? n - 1 : 0, &outlen);
        expect(c->name, "byte by byte", out, outlen, want, wantlen);
        free(out);
        for (size_t cut = 0; cut <= n; cut++) {
            out = run(c->in, n, &cut, 1, &outlen);
            expect(c->name, "cut", out, outlen, want, wantlen);
            free(out);
        }
        free(cuts);
    }
}

/* All cases in one stream, cut at every position: the same as each case alone, joined. */
static void test_stream(void **state)
{
    char *in = malloc(1 << 16), *want = malloc(1 << 16), *out;
    size_t n = 0, nw = 0, outlen;

    (void)state;
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        const struct san_case *c = &cases[k];
        size_t len = case_len(c);

        if (strcmp(c->name, "ESC at the end") == 0 || strcmp(c->name, "cut character") == 0) {
            continue; /* they join with what follows */
        }
        memcpy(in + n, c->in, len);
        n += len;
        if (c->want != NULL) {
            memcpy(want + nw, c->want, strlen(c->want));
            nw += strlen(c->want);
        } else {
            memcpy(want + nw, c->in, len);
            nw += len;
        }
    }
    for (size_t cut = 0; cut <= n; cut++) {
        size_t cuts[2] = {cut / 2, cut};

        out = run(in, n, cuts, 2, &outlen);
        expect("all cases", "cut twice", out, outlen, want, nw);
        free(out);
    }
    free(in);
    free(want);
}

/*
 * An endless sequence of each kind: nothing comes out, the output buffer
 * stays the size one chunk needs, and what follows its end is output.
 */
static void test_endless(void **state)
{
    static const struct {
        const char *name, *start, *fill, *end;
    } kinds[] = {
        {"OSC title", "\x1b]0;", "A", "\x07ok"},  {"OSC 52", "\x1b]52;c;", "QUFB", "\x1b\\ok"},
        {"DCS", "\x1bP$q", "m", "\x1b\\ok"},      {"APC", "\x1b_G", "x", "\x1b\\ok"},
        {"CSI parameters", "\x1b[", "1;", "mok"}, {"ESC intermediates", "\x1b", " ", "Fok"},
    };
    char chunk[4096];

    (void)state;
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        struct rec_sanitizer *s = NULL;
        char *out = NULL;
        size_t outlen = 0, cap = 0, f = strlen(kinds[k].fill);

        for (size_t i = 0; i < sizeof(chunk); i++) {
            chunk[i] = kinds[k].fill[i % f];
        }
        assert_int_equal(rec_sanitizer_new(&s), 0);
        assert_int_equal(
            rec_sanitize(s, kinds[k].start, strlen(kinds[k].start), &out, &outlen, &cap), 0);
        for (int i = 0; i < 256; i++) { /* 1 MiB */
            assert_int_equal(rec_sanitize(s, chunk, sizeof(chunk), &out, &outlen, &cap), 0);
        }
        if (outlen != 0 || cap > 4 * sizeof(chunk) + 4096) {
            fail_msg("%s: %zu bytes out, %zu allocated", kinds[k].name, outlen, cap);
        }
        assert_int_equal(rec_sanitize(s, kinds[k].end, strlen(kinds[k].end), &out, &outlen, &cap),
                         0);
        if (outlen != 2 || memcmp(out, "ok", 2) != 0) {
            fail_msg("%s: not back to text after the end", kinds[k].name);
        }
        rec_sanitizer_free(s);
        free(out);
    }
}

/* The longest title kept, and one byte more. */
static void test_title_bound(void **state)
{
    char in[REC_SANITIZE_TITLE_MAX + 16], *out;
    size_t outlen, n;

    (void)state;
    memcpy(in, "\x1b]2;", 4);
    memset(in + 4, 't', REC_SANITIZE_TITLE_MAX - 2);
    n = 4 + REC_SANITIZE_TITLE_MAX - 2;
    in[n++] = '\x07';
    out = run(in, n, NULL, 0, &outlen);
    expect("longest title", "whole", out, outlen, in, n);
    free(out);
    memset(in + 4, 't', REC_SANITIZE_TITLE_MAX - 1);
    n = 4 + REC_SANITIZE_TITLE_MAX - 1;
    in[n++] = '\x07';
    in[n++] = 'x';
    out = run(in, n, NULL, 0, &outlen);
    expect("too long a title", "whole", out, outlen, "x", 1);
    free(out);
}

static void test_bad_arguments(void **state)
{
    struct rec_sanitizer *s = NULL;
    char *out = NULL;
    size_t outlen = 0, cap = 0;

    (void)state;
    assert_int_equal(rec_sanitizer_new(&s), 0);
    assert_int_equal(rec_sanitize(s, NULL, 1, &out, &outlen, &cap), DB_ERR_INVALID);
    assert_int_equal(rec_sanitize(NULL, "a", 1, &out, &outlen, &cap), DB_ERR_INVALID);
    assert_int_equal(rec_sanitize(s, NULL, 0, &out, &outlen, &cap), 0);
    assert_int_equal(outlen, 0);
    rec_sanitizer_free(s);
    rec_sanitizer_free(NULL);
    free(out);
}

/* ---- play.c ---- */

struct delay_case {
    double prev, t, speed, idle, want;
};

static void test_play_delay(void **state)
{
    static const struct delay_case d[] = {
        {0, 1.5, 1, 0, 1.5},      /* as recorded */
        {1, 1, 1, 0, 0},          /* same time */
        {2, 1, 1, 0, 0},          /* backwards: no wait */
        {0, 4, 2, 0, 2},          /* twice as fast */
        {0, 1, 0.5, 0, 2},        /* half speed */
        {0, 100, 1, 2, 2},        /* idle limit */
        {0, 100, 4, 2, 0.5},      /* idle limit, then speed */
        {0, 1, 1, 2, 1},          /* under the limit */
        {0, 1, 0, 0, 1},          /* speed 0: as recorded */
        {0, 1, -3, 0, 1},         /* negative speed: as recorded */
        {0, 1e9, 1, 0, 86400},    /* never more than a day */
        {0, 1, 1e-300, 0, 86400}, /* nor through a tiny speed */
        {NAN, 1, 1, 0, 0},        {0, NAN, 1, 0, 0},      {0, 1, NAN, 0, 1},
        {0, 3, 1, NAN, 3},        {0, INFINITY, 1, 0, 0}, {-INFINITY, 0, 1, 0, 0},
        {0, 3, INFINITY, 0, 0},
    };

    (void)state;
    for (size_t k = 0; k < sizeof(d) / sizeof(d[0]); k++) {
        double got = rec_play_delay(d[k].prev, d[k].t, d[k].speed, d[k].idle);

        if (!(fabs(got - d[k].want) < 1e-9)) {
            fail_msg("case %zu: %g, want %g", k, got, d[k].want);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),         cmocka_unit_test(test_stream),
        cmocka_unit_test(test_endless),       cmocka_unit_test(test_title_bound),
        cmocka_unit_test(test_bad_arguments), cmocka_unit_test(test_play_delay),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

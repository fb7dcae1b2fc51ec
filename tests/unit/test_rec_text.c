/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for recordings/text.c through rec_writer_set_text: the lines
 * handed to the search index, with escape sequences, titles and DCS strings
 * stripped, typed corrections applied, invalid UTF-8 replaced, long lines
 * split between characters, the cap per stream (on the bytes read, escape
 * sequences and all), unrecorded input never indexed -- each case also cut
 * at every position across two writes; what the writer stores as base64 is
 * never indexed, and text can be turned off.
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

#include "rec-rig.h"

/* ---- text for the search index ---- */

struct lines {
    char text[4096];
    size_t n;
    int count[2];
    double last_ts;
};

static void collect(void *ctx, enum rec_stream s, double ts, const char *line, size_t len)
{
    struct lines *l = ctx;

    assert_true(len > 0 && len <= 512);
    assert_true(db_utf8_valid(line, len));
    l->count[s]++;
    l->last_ts = ts;
    if (l->n + len + 4 < sizeof(l->text)) {
        l->text[l->n++] = s == REC_STREAM_IN ? '<' : '>';
        memcpy(l->text + l->n, line, len);
        l->n += len;
        l->text[l->n++] = '|';
        l->text[l->n] = '\0';
    }
}

struct text_case {
    const char *name;
    const char *out, *in;
    size_t max;
    const char *want;
};

static const struct text_case text_cases[] = {
    {"lines", "one\r\ntwo\nthree", "", 1 << 20, ">one|>two|>three|"},
    {"colours", "\x1b[01;34mdir\x1b[0m  file\r\n", "", 1 << 20, ">dir  file|"},
    {"title and DCS", "\x1b]0;user@host: ~\x07$ \x1bP$qm\x1b\\ls\r\n", "", 1 << 20, ">$ ls|"},
    {"typed input", "", "lss\x7f -l\rexit\r", 1 << 20, "<ls -l|<exit|"},
    {"echo of a backspace", "lss\b \b\r\n", "", 1 << 20, ">ls|"},
    {"invalid UTF-8",
     "a\xff"
     "b\xc2\x9b"
     "c\r\n",
     "", 1 << 20,
     ">a\xef\xbf\xbd"
     "bc|"},
    /* the cap counts the bytes read: 13 of them end with "a" */
    {"cap", "0123456789\r\nabcdef\r\n", "", 13, ">0123456789|>a|"},
    {"cap on escape sequences", "\x1b[31m\x1b[0mabc\r\nmore\r\n", "", 10, ">a|"},
    {"cap on control bytes",
     "\x01\x02\x03\x04\x05\x06\x07\x0e\x0f"
     "ab",
     "", 10, ">a|"},
    {"cap of input", "", "ls\rpwd\r", 5, "<ls|<pw|"},
    {"UTF-8 runs",
     "caf\xc3\xa9 \xe2\x82\xac"
     "5 \xf0\x9f\x98\x80!\r\n",
     "", 1 << 20,
     ">caf\xc3\xa9 \xe2\x82\xac"
     "5 \xf0\x9f\x98\x80!|"},
    {"C1 inside UTF-8 runs",
     "a\xc3\xa9\xc2\x85\xc3\xa9"
     "b\r\n",
     "", 1 << 20,
     ">a\xc3\xa9\xc3\xa9"
     "b|"},
    {"blank lines", "\r\n  \r\n\tx\r\n", "", 1 << 20, "> x|"},
    {"unfinished line at close", "prompt$ ", "", 1 << 20, ">prompt$ |"},
};

static void test_text_lines(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof(text_cases) / sizeof(text_cases[0]); k++) {
        const struct text_case *c = &text_cases[k];
        size_t no = strlen(c->out);

        /* whole, then cut at every position */
        for (size_t cut = 0; cut <= no; cut++) {
            struct rig g;
            struct lines l;
            struct timespec ts = at_ms(1500);

            memset(&l, 0, sizeof(l));
            rig_open(&g, 1, 0);
            rec_writer_set_text(g.w, collect, &l, c->max);
            out(&g, 1000, c->out, cut);
            out(&g, 1500, c->out + cut, no - cut);
            assert_int_equal(rec_writer_data(g.w, REC_STREAM_IN, &ts, c->in, strlen(c->in)), 0);
            rig_close(&g);
            if (strcmp(l.text, c->want) != 0) {
                fail_msg("%s (cut %zu): got \"%s\", want \"%s\"", c->name, cut, l.text, c->want);
            }
            rig_free(&g);
        }
    }
}

static void test_text_long_and_hidden(void **state)
{
    struct rig g;
    struct lines l;
    struct timespec ts = at_ms(10);
    char line[1300];

    (void)state;
    memset(&l, 0, sizeof(l));
    memset(line, 'x', sizeof(line));
    memcpy(line + 510, "\xe2\x82\xac", 3); /* a character across the 512-byte split */
    rig_open(&g, 0, 0);
    rec_writer_set_text(g.w, collect, &l, 1 << 20);
    out(&g, 10, line, sizeof(line));
    out(&g, 20, "\r\n", 2);
    assert_int_equal(rec_writer_data(g.w, REC_STREAM_IN, &ts, "secret\r", 7), 0);
    rig_close(&g);
    assert_int_equal(l.count[REC_STREAM_OUT], 3); /* 510 + 3... split on characters */
    assert_int_equal(l.count[REC_STREAM_IN], 0);  /* input not recorded: not indexed */
    assert_true(l.last_ts > 0.0099 && l.last_ts < 0.0101);
    rig_free(&g);
}

/* What goes in "bo" is not text: it ends the line it interrupts and gives none of its own. */
static void test_text_not_binary(void **state)
{
    struct rig g;
    struct lines l;
    unsigned char bin[600];

    (void)state;
    for (size_t i = 0; i < sizeof(bin); i++) {
        bin[i] = (unsigned char)(i % 3 == 0 ? 0 : i % 3 == 1 ? 0xff : 'w');
    }
    memcpy(bin + 100, "\r\nhidden words\r\n", 16);
    memset(&l, 0, sizeof(l));
    rig_open(&g, 1, 0);
    rec_writer_set_text(g.w, collect, &l, 1 << 20);
    out(&g, 100, "before\r\n\x1b[1mpre", 16);
    out(&g, 200, bin, sizeof(bin));
    out(&g, 300, "post\r\n", 6);
    rig_close(&g);
    assert_string_equal(l.text, ">before|>pre|>post|");
    rig_free(&g);
}

/* NULL turns text off (the default); another callback replaces the first. */
static void test_text_off(void **state)
{
    struct rig g;
    struct lines a, b;

    (void)state;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    rig_open(&g, 1, 0);
    out(&g, 100, "never seen\r\n", 12);
    rec_writer_set_text(g.w, collect, &a, 1 << 20);
    out(&g, 200, "one\r\n", 5);
    rec_writer_set_text(g.w, NULL, NULL, 1 << 20);
    out(&g, 300, "two\r\n", 5);
    rec_writer_set_text(g.w, collect, &b, 1 << 20);
    out(&g, 400, "three\r\n", 7);
    rig_close(&g);
    assert_string_equal(a.text, ">one|");
    assert_string_equal(b.text, ">three|");
    rig_free(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_lines),
        cmocka_unit_test(test_text_long_and_hidden),
        cmocka_unit_test(test_text_not_binary),
        cmocka_unit_test(test_text_off),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

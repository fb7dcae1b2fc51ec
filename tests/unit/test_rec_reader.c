/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for recordings/reader.c: good files (hand-written in formats 1
 * and 2, and written by the writer) give the header and every event with its
 * data decoded to the original bytes; every kind of broken header or event line is refused with
 * "line N: why"; files on disk are read with the same rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "recording.h"

#define HDR                                                                                        \
    "{\"version\": 2, \"width\": 100, \"height\": 30, \"timestamp\": 1700000000, "                 \
    "\"env\": {\"TERM\": \"xterm\"}, \"title\": \"t\", \"drawbridge\": {\"format\": 1, "           \
    "\"session\": \"s1\", \"user\": \"alice\", \"target\": \"web-1\", \"login\": \"deploy\", "     \
    "\"grant\": 9, \"kind\": \"shell\", \"record_input\": true}}\n"
#define CK "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static const char good[] = HDR "[0.000000, \"c\", \"" CK "\"]\n"
                               "[0.5, \"o\", \"hi \\u0000\\u001b[0m\xee\xbe\x80\xee\xbf\xbf\"]\n"
                               "[0.5, \"i\", \"ls\\r\"]\n"
                               "[1, \"bo\", \"AAH/gA==\"]\n"
                               "[1.25, \"bi\", \"\"]\n"
                               "[1.5, \"zo\", \"L2FiAgA2UGJhYmFi\"]\n"
                               "[1.5, \"zi\", \"TwABAgMEADRQAwABAgM=\"]\n"
                               "[2, \"r\", \"120x40\"]\n"
                               "[2, \"m\", \"sftp open \\\"/etc\\\"\"]\n"
                               "[2, \"e\", \"out=10 in=3\"]\n"
                               "[2, \"c\", \"" CK "\"]\n";

struct want_event {
    double time;
    const char *code;
    const char *data;
    size_t len;
};

#define WE(t, c, d)                                                                                \
    {                                                                                              \
        t, c, d, sizeof(d) - 1                                                                     \
    }
static const struct want_event good_events[] = {
    WE(0, "c", CK),
    WE(0.5, "o", "hi \0\x1b[0m\x80\xff"),
    WE(0.5, "i", "ls\r"),
    WE(1, "bo", "\x00\x01\xff\x80"),
    WE(1.25, "bi", ""),
    /* compressed (LZ4): read as "bo"/"bi" with the bytes they stand for */
    WE(1.5, "bo", "abababababababababababababababababababababababababababababababababababababababab"),
    WE(1.5, "bi", "\0\1\2\3\0\1\2\3\0\1\2\3\0\1\2\3\0\1\2\3\0\1\2\3\0\1\2\3\0\1\2\3\0\1\2\3\0\1\2\3"
                   "\0\1\2\3\0\1\2\3\0\1\2\3\0\1\2\3\0\1\2\3\0\1\2\3\0\1\2\3\0\1\2\3\0\1\2\3\0\1\2\3"),
    WE(2, "r", "120x40"),
    WE(2, "m", "sftp open \"/etc\""),
    WE(2, "e", "out=10 in=3"),
    WE(2, "c", CK),
};

/* good[] as format 1 (as it is), 2 or 3: the events read the same. */
static void good_format(int format)
{
    struct rec_reader *r = NULL;
    const struct rec_header *h;
    struct rec_event ev;
    char err[256], *text = malloc(sizeof(good)), *f;
    size_t n = 0;
    int rc;

    assert_non_null(text);
    memcpy(text, good, sizeof(good));
    f = strstr(text, "\"format\": 1");
    assert_non_null(f);
    f[10] = (char)('0' + format);
    assert_int_equal(rec_reader_open_buf(text, sizeof(good) - 1, &r, err, sizeof(err)), 0);
    h = rec_reader_header(r);
    assert_int_equal(h->version, 2);
    assert_int_equal(h->format, format);
    assert_int_equal(h->width, 100);
    assert_int_equal(h->height, 30);
    assert_int_equal(h->timestamp, 1700000000);
    assert_string_equal(h->term, "xterm");
    assert_string_equal(h->title, "t");
    assert_string_equal(h->session, "s1");
    assert_string_equal(h->user, "alice");
    assert_string_equal(h->target, "web-1");
    assert_string_equal(h->login, "deploy");
    assert_string_equal(h->kind, "shell");
    assert_null(h->command);
    assert_int_equal(h->grant, 9);
    assert_int_equal(h->record_input, 1);
    while ((rc = rec_reader_next(r, &ev, err, sizeof(err))) == 1) {
        const struct want_event *w = &good_events[n];

        assert_true(n < sizeof(good_events) / sizeof(good_events[0]));
        assert_true(ev.time == w->time);
        assert_string_equal(ev.code, w->code);
        assert_int_equal(ev.len, w->len);
        assert_memory_equal(ev.data, w->data, w->len);
        assert_int_equal(ev.data[ev.len], '\0');
        assert_int_equal(ev.line, (int)n + 2);
        n++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(n, sizeof(good_events) / sizeof(good_events[0]));
    assert_int_equal(rec_reader_next(r, &ev, err, sizeof(err)), 0); /* stays at the end */
    rec_reader_free(r);
    free(text);
}

static void test_good(void **state)
{
    (void)state;
    good_format(1);
    good_format(2);
    good_format(3);
}

/* What the writer writes, the reader reads: bytes of every kind, both streams. */
static void test_writer_output(void **state)
{
    static const unsigned char key[REC_KEY_LEN] = {7};
    struct rec_sink sink;
    struct rec_mem *mem;
    struct rec_writer *w = NULL;
    struct rec_reader *r = NULL;
    struct rec_meta m;
    struct rec_event ev;
    struct timespec t0 = {50, 0}, t1 = {51, 250000};
    unsigned char bin[256];
    char err[256], sha[REC_HEX_LEN + 1], mac[REC_HEX_LEN + 1];
    const char *bytes;
    size_t len, got = 0;
    int rc, seen_c = 0;

    (void)state;
    for (int i = 0; i < 256; i++) {
        bin[i] = (unsigned char)i;
    }
    memset(&m, 0, sizeof(m));
    m.record_input = 1;
    m.user = "\xff";
    assert_int_equal(rec_sink_mem(&sink, &mem, 0), 0);
    assert_int_equal(rec_writer_new(&sink, &m, key, &t0, &w, err, sizeof(err)), 0);
    assert_int_equal(rec_writer_data(w, REC_STREAM_IN, &t1, bin, sizeof(bin)), 0);
    assert_int_equal(rec_writer_close(w, sha, mac, err, sizeof(err)), 0);
    bytes = rec_mem_bytes(mem, &len);
    assert_int_equal(rec_reader_open_buf(bytes, len, &r, err, sizeof(err)), 0);
    assert_string_equal(rec_reader_header(r)->user, "\xff");
    assert_int_equal(rec_reader_header(r)->format, REC_FORMAT);
    while ((rc = rec_reader_next(r, &ev, err, sizeof(err))) == 1) {
        if (strcmp(ev.code, "bi") == 0 || strcmp(ev.code, "i") == 0) {
            assert_memory_equal(ev.data, bin + got, ev.len);
            got += ev.len;
            assert_true(ev.time > 1.000249 && ev.time < 1.000251);
        }
        seen_c += strcmp(ev.code, "c") == 0;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(got, sizeof(bin));
    assert_int_equal(seen_c, 2);
    rec_reader_free(r);
    rec_mem_free(mem);
}

struct bad_case {
    const char *name;
    const char *text;
    const char *err; /* a substring of the message, with its line number */
};

#define EV(s) HDR s
static const struct bad_case bad_cases[] = {
    {"empty file", "", "line 1: truncated"},
    {"header without newline", "{\"version\": 2}", "line 1: truncated"},
    {"header not JSON", "{\"version\": 2,\n", "line 1: not JSON"},
    {"header an array", "[2, 80, 24]\n", "line 1: the header is not a JSON object"},
    {"version 1", "{\"version\": 1, \"width\": 80, \"height\": 24}\n", "line 1: not asciicast"},
    {"version a string", "{\"version\": \"2\"}\n", "line 1: not asciicast"},
    {"duplicate key", "{\"version\": 2, \"version\": 2}\n", "line 1: not JSON"},
    {"no drawbridge", "{\"version\": 2, \"width\": 80, \"height\": 24}\n",
     "line 1: not a drawbridge recording"},
    {"format 4",
     "{\"version\": 2, \"width\": 80, \"height\": 24, \"drawbridge\": {\"format\": 4, "
     "\"record_input\": true}}\n",
     "line 1: not drawbridge recording format 1 to 3"},
    {"width 0", "{\"version\": 2, \"width\": 0, \"height\": 24}\n",
     "line 1: bad or missing \"width\""},
    {"height a string", "{\"version\": 2, \"width\": 80, \"height\": \"24\"}\n",
     "line 1: bad or missing \"height\""},
    {"TERM a number", "{\"version\": 2, \"width\": 80, \"height\": 24, \"env\": {\"TERM\": 1}}\n",
     "line 1: bad or missing \"env\""},
    {"NUL in user",
     "{\"version\": 2, \"width\": 80, \"height\": 24, \"drawbridge\": {\"format\": 1, "
     "\"user\": \"a\\u0000b\", \"record_input\": true}}\n",
     "line 1: not JSON: \\u0000 is not allowed"},
    {"no record_input",
     "{\"version\": 2, \"width\": 80, \"height\": 24, \"drawbridge\": {\"format\": 1}}\n",
     "line 1: bad or missing \"record_input\""},
    {"event not JSON", EV("[0.1, \"o\", \"a\"\n"), "line 2: not JSON"},
    {"event trailing garbage", EV("[0.1, \"o\", \"a\"] x\n"), "line 2: not JSON"},
    {"event an object", EV("{\"t\": 0.1}\n"), "line 2: an event is an array [time, code, data]"},
    {"two elements", EV("[0.1, \"o\"]\n"), "line 2: an event is an array"},
    {"four elements", EV("[0.1, \"o\", \"a\", \"b\"]\n"), "line 2: an event is an array"},
    {"time a string", EV("[\"0.1\", \"o\", \"a\"]\n"), "line 2: the time is not a number"},
    {"time negative", EV("[-1, \"o\", \"a\"]\n"), "line 2: the time is not a number"},
    {"time huge", EV("[1e300, \"o\", \"a\"]\n"), "line 2: the time is not a number"},
    {"time backwards", EV("[2, \"o\", \"a\"]\n[1, \"o\", \"b\"]\n"), "line 3: time goes backwards"},
    {"unknown code", EV("[1, \"x\", \"a\"]\n"), "line 2: unknown event code"},
    {"code with NUL", EV("[1, \"o\\u0000\", \"a\"]\n"), "line 2: unknown event code"},
    {"code a number", EV("[1, 1, \"a\"]\n"), "line 2: unknown event code"},
    {"data a number", EV("[1, \"o\", 5]\n"), "line 2: the data of an event is a string"},
    {"data null", EV("[1, \"o\", null]\n"), "line 2: the data of an event is a string"},
    {"base64 short", EV("[1, \"bo\", \"QQ=\"]\n"), "line 2: the data is not canonical base64"},
    {"base64 bad char", EV("[1, \"bo\", \"QQ*=\"]\n"), "line 2: the data is not canonical"},
    {"base64 not canonical", EV("[1, \"bo\", \"QR==\"]\n"), "line 2: the data is not canonical"},
    {"base64 inner padding", EV("[1, \"bi\", \"QQ==QQ==\"]\n"),
     "line 2: the data is not canonical"},
    {"base64 whitespace", EV("[1, \"bi\", \"QUJD RA==\"]\n"), "line 2: the data is not canonical"},
    /* compressed events: base64 of an LZ4 block of at most an event's bytes */
    {"lz4 not base64", EV("[1, \"zo\", \"QQ*=\"]\n"), "line 2: the data is not canonical"},
    {"lz4 empty", EV("[1, \"zo\", \"\"]\n"), "line 2: the data is not an LZ4 block"},
    {"lz4 garbage", EV("[1, \"zi\", \"/////wA=\"]\n"), "line 2: the data is not an LZ4 block"},
    {"lz4 cut short", EV("[1, \"zo\", \"L2FiAgA2\"]\n"), "line 2: the data is not an LZ4 block"},
    /* 16389 zeros: one byte more than an event and the bytes that waited */
    {"lz4 larger than an event",
     EV("[1, \"zo\", \"HwABAP//////////////////////////////////////////////////////////////////"
        "//////////////////////8sUAAAAAAA\"]\n"),
     "line 2: the data is not an LZ4 block of at most 16388 bytes"},
    /* 20000 zeros */
    {"lz4 bomb",
     EV("[1, \"zo\", \"HwABAP//////////////////////////////////////////////////////////////////"
        "/////////////////////////////////////////////1VQAAAAAAA=\"]\n"),
     "line 2: the data is not an LZ4 block"},
    {"resize words", EV("[1, \"r\", \"80 x 24\"]\n"), "line 2: bad data for a \"r\" event"},
    {"resize zero", EV("[1, \"r\", \"0x24\"]\n"), "line 2: bad data for a \"r\" event"},
    {"resize half", EV("[1, \"r\", \"80x\"]\n"), "line 2: bad data for a \"r\" event"},
    {"resize huge", EV("[1, \"r\", \"80x99999\"]\n"), "line 2: bad data for a \"r\" event"},
    {"checkpoint upper case",
     EV("[1, \"c\", \""
        "0123456789ABCDEF0123456789abcdef0123456789abcdef"
        "0123456789abcdef\"]\n"),
     "line 2: bad data for a \"c\" event"},
    {"checkpoint short", EV("[1, \"c\", \"0123\"]\n"), "line 2: bad data for a \"c\" event"},
    {"blank line", EV("[1, \"o\", \"a\"]\n\n"), "line 3: empty line"},
    {"last line cut", EV("[1, \"o\", \"a\"]\n[2, \"o\", \"b"), "line 3: truncated"},
    {"invalid UTF-8 in a line", EV("[1, \"o\", \"\xff\"]\n"), "line 2: not JSON"},
    {"deep nesting",
     EV("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
        "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n"),
     "line 2: an event is an array"},
};

static void test_bad(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof(bad_cases) / sizeof(bad_cases[0]); k++) {
        const struct bad_case *c = &bad_cases[k];
        struct rec_reader *r = NULL;
        struct rec_event ev;
        char err[256] = "";
        int rc = rec_reader_open_buf(c->text, strlen(c->text), &r, err, sizeof(err));

        while (rc == 0 && (rc = rec_reader_next(r, &ev, err, sizeof(err))) == 1) {
            rc = 0;
        }
        if (rc != DB_ERR_INVALID || strstr(err, c->err) == NULL) {
            fail_msg("%s: rc %d, \"%s\" (want \"%s\")", c->name, rc, err, c->err);
        }
        rec_reader_free(r);
    }
}

/* A line of more than 16 MiB is refused before it is parsed. */
static void test_long_line(void **state)
{
    size_t hl = strlen(HDR), n = hl + REC_LINE_MAX + 16;
    char *buf = malloc(n), err[256];
    struct rec_reader *r = NULL;
    struct rec_event ev;

    (void)state;
    assert_non_null(buf);
    memcpy(buf, HDR, hl);
    memset(buf + hl, ' ', n - hl);
    buf[n - 1] = '\n';
    assert_int_equal(rec_reader_open_buf(buf, n, &r, err, sizeof(err)), 0);
    assert_int_equal(rec_reader_next(r, &ev, err, sizeof(err)), DB_ERR_INVALID);
    assert_non_null(strstr(err, "line 2: longer than 16 MiB"));
    rec_reader_free(r);
    free(buf);
}

static void test_files(void **state)
{
    char dir[] = "/tmp/drawbridge-rec-reader-XXXXXX", path[128], err[256];
    struct rec_reader *r = NULL;
    struct rec_event ev;
    FILE *f;
    int n = 0;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/missing.cast", dir);
    assert_int_equal(rec_reader_open_file(path, &r, err, sizeof(err)), DB_ERR_NOTFOUND);
    assert_null(r);
    assert_int_equal(rec_reader_open_file(dir, &r, err, sizeof(err)), DB_ERR_INVALID);
    assert_non_null(strstr(err, "not a regular file"));
    snprintf(path, sizeof(path), "%s/good.cast", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fwrite(good, 1, sizeof(good) - 1, f);
    fclose(f);
    assert_int_equal(rec_reader_open_file(path, &r, err, sizeof(err)), 0);
    while (rec_reader_next(r, &ev, err, sizeof(err)) == 1) {
        n++;
    }
    assert_int_equal(n, 11);
    rec_reader_free(r);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),  cmocka_unit_test(test_writer_output),
        cmocka_unit_test(test_bad),   cmocka_unit_test(test_long_line),
        cmocka_unit_test(test_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for recordings/writer.c (and codec.c) against the memory sink,
 * what goes into the lines: the header, the JSON escaping of every byte
 * value, lossless round trips of invalid UTF-8 through the reader (edge
 * cases, characters cut by writes at every position, random buffers), the
 * choice between text and base64 events, writes gathered into events, and
 * input left out when the target says so.  test_rec_flush.c has flushing
 * and sealing, test_rec_text.c the search-index lines.
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

#include "recording.h"

#include "rec-rig.h"

/* ---- the header ---- */

static void test_header(void **state)
{
    struct rec_meta m;
    struct rig g;
    struct timespec t0 = at_ms(0);
    char err[256];
    size_t len;
    const char *bytes;
    json_t *h, *d;
    json_error_t je;

    (void)state;
    memset(&m, 0, sizeof(m));
    m.width = 132;
    m.height = 43;
    m.timestamp = 1700000000;
    m.term = "xterm-256color";
    m.title = "a title";
    m.session = "s-42";
    m.user = "alice";
    m.target = "web-1";
    m.login = "deploy";
    m.kind = "exec";
    m.command = "uptime \"now\"";
    m.grant = 7;
    m.record_input = 1;
    assert_int_equal(rec_sink_mem(&g.sink, &g.mem, 0), 0);
    assert_int_equal(rec_writer_new(&g.sink, &m, key, &t0, &g.w, err, sizeof(err)), 0);
    bytes = rec_mem_bytes(g.mem, &len);
    assert_non_null(memchr(bytes, '\n', len)); /* written at once, not buffered */
    h = json_loadb(bytes, (size_t)((const char *)memchr(bytes, '\n', len) - bytes), 0, &je);
    assert_non_null(h);
    assert_int_equal(json_integer_value(json_object_get(h, "version")), 2);
    assert_int_equal(json_integer_value(json_object_get(h, "width")), 132);
    assert_int_equal(json_integer_value(json_object_get(h, "height")), 43);
    assert_int_equal(json_integer_value(json_object_get(h, "timestamp")), 1700000000);
    assert_string_equal(json_string_value(json_object_get(json_object_get(h, "env"), "TERM")),
                        "xterm-256color");
    assert_string_equal(json_string_value(json_object_get(h, "title")), "a title");
    d = json_object_get(h, "drawbridge");
    assert_int_equal(json_integer_value(json_object_get(d, "format")), REC_FORMAT);
    assert_string_equal(json_string_value(json_object_get(d, "session")), "s-42");
    assert_string_equal(json_string_value(json_object_get(d, "user")), "alice");
    assert_string_equal(json_string_value(json_object_get(d, "target")), "web-1");
    assert_string_equal(json_string_value(json_object_get(d, "login")), "deploy");
    assert_string_equal(json_string_value(json_object_get(d, "kind")), "exec");
    assert_string_equal(json_string_value(json_object_get(d, "command")), "uptime \"now\"");
    assert_int_equal(json_integer_value(json_object_get(d, "grant")), 7);
    assert_true(json_is_true(json_object_get(d, "record_input")));
    json_decref(h);
    rig_close(&g);
    rig_free(&g);
}

static void test_header_defaults(void **state)
{
    struct rec_meta m;
    struct rig g;
    struct rec_reader *r = NULL;
    const struct rec_header *h;
    struct timespec t0 = at_ms(0);
    char err[256];
    size_t len;
    const char *bytes;

    (void)state;
    memset(&m, 0, sizeof(m));
    m.user = "bob";
    m.target = "db-1";
    m.login = "postgres";
    m.command = "echo \xff\xfe\x01 done"; /* an exec command is whatever bytes were sent */
    m.width = -5;
    m.height = 70000;
    m.timestamp = -1;
    m.grant = -3;
    assert_int_equal(rec_sink_mem(&g.sink, &g.mem, 0), 0);
    assert_int_equal(rec_writer_new(&g.sink, &m, key, &t0, &g.w, err, sizeof(err)), 0);
    rig_close(&g);
    bytes = rec_mem_bytes(g.mem, &len);
    assert_false(has(bytes, len, "\"env\""));
    assert_false(has(bytes, len, "\"grant\""));
    assert_false(has(bytes, len, "\"session\""));
    assert_int_equal(rec_reader_open_buf(bytes, len, &r, err, sizeof(err)), 0);
    h = rec_reader_header(r);
    assert_int_equal(h->width, 80);
    assert_int_equal(h->height, 65535);
    assert_int_equal(h->timestamp, 0);
    assert_null(h->term);
    assert_null(h->session);
    assert_int_equal(h->grant, 0);
    assert_int_equal(h->record_input, 0);
    assert_string_equal(h->title, "bob@db-1 (postgres)");
    assert_string_equal(h->command, m.command);
    rec_reader_free(r);
    rig_free(&g);
}

/* ---- escaping ---- */

struct esc_case {
    unsigned char byte;
    const char *json; /* the event's data as it appears in the file */
};

static const struct esc_case esc_cases[] = {
    {0x00, "\\u0000"},
    {0x01, "\\u0001"},
    {0x07, "\\u0007"},
    {'\b', "\\b"},
    {'\t', "\\t"},
    {'\n', "\\n"},
    {0x0b, "\\u000b"},
    {'\f', "\\f"},
    {'\r', "\\r"},
    {0x1b, "\\u001b"},
    {0x1f, "\\u001f"},
    {'"', "\\\""},
    {'\\', "\\\\"},
    {'/', "/"},
    {'A', "A"},
    {0x7f, "\x7f"},
    {0x80, "\xee\xbe\x80"},
    {0xbf, "\xee\xbe\xbf"},
    {0xc0, "\xee\xbf\x80"},
    {0xe2, "\xee\xbf\xa2"},
    {0xff, "\xee\xbf\xbf"},
};

static void test_escape_table(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof(esc_cases) / sizeof(esc_cases[0]); k++) {
        struct rig g;
        char want[64];
        size_t len;
        const char *bytes;

        rig_open(&g, 1, 0);
        out(&g, 10, &esc_cases[k].byte, 1);
        rig_close(&g);
        bytes = rec_mem_bytes(g.mem, &len);
        snprintf(want, sizeof(want), "[0.010000, \"o\", \"%s\"]\n", esc_cases[k].json);
        if (memmem(bytes, len, want, strlen(want)) == NULL) {
            fail_msg("byte 0x%02x: no line %s", esc_cases[k].byte, want);
        }
        rig_free(&g);
    }
}

/* Every byte value alone, as a run, and all of them in one write. */
static void test_escape_every_byte(void **state)
{
    unsigned char all[256], run[100];

    (void)state;
    for (int b = 0; b < 256; b++) {
        all[b] = (unsigned char)b;
        roundtrip(all + b, 1);
        memset(run, b, sizeof(run));
        roundtrip(run, sizeof(run));
    }
    roundtrip(all, sizeof(all));
    for (int b = 0; b < 256; b++) {
        all[b] = (unsigned char)(255 - b);
    }
    roundtrip(all, sizeof(all));
}

/* ---- invalid UTF-8 ---- */

struct utf8_case {
    const char *name;
    const char *bytes;
    size_t len;
    int literal;         /* 1: must appear as is in the file (valid, not in the escape range) */
    const char *escaped; /* when not NULL: how it must appear in the file */
};

#define U8(name, s, lit)                                                                           \
    {                                                                                              \
        name, s, sizeof(s) - 1, lit, NULL                                                          \
    }
#define U8E(name, s, esc)                                                                          \
    {                                                                                              \
        name, s, sizeof(s) - 1, 0, esc                                                             \
    }
static const struct utf8_case utf8_cases[] = {
    U8E("lone continuation", "a\x80z", "a\xee\xbe\x80z"),
    U8("continuations", "\x80\x81\xbf", 0),
    U8E("overlong 2", "\xc0\xaf", "\xee\xbf\x80\xee\xbe\xaf"),
    U8("overlong 2 max", "\xc1\xbf", 0),
    U8("overlong 3", "\xe0\x80\xaf", 0),
    U8("overlong 4", "\xf0\x80\x80\xaf", 0),
    U8E("surrogate high", "\xed\xa0\x80", "\xee\xbf\xad\xee\xbe\xa0\xee\xbe\x80"),
    U8("surrogate low", "\xed\xbf\xbf", 0),
    U8("surrogate pair", "\xed\xa0\xbd\xed\xb8\x80", 0),
    U8("past U+10FFFF", "\xf4\x90\x80\x80", 0),
    U8("F5", "\xf5\x80\x80\x80", 0),
    U8("FE FF", "\xfe\xff", 0),
    U8("cut 3 at the end", "ok \xe2\x82", 0),
    U8("cut 4 at the end", "ok \xf0\x9f\x98", 0),
    U8("cut 3 then ASCII", "\xe2\x82z", 0),
    U8("lead then lead", "\xe2\xe2\x82\xac", 0),
    U8E("U+EF80 genuine", "\xee\xbe\x80", "\"\xee\xbf\xae\xee\xbe\xbe\xee\xbe\x80\""),
    U8E("U+EFFF genuine", "\xee\xbf\xbf", "\"\xee\xbf\xae\xee\xbe\xbf\xee\xbe\xbf\""),
    U8("U+EFBE genuine", "x\xee\xbe\xbey", 0),
    U8("U+EF7F not escaped", "\xee\xbd\xbf", 1),
    U8("U+F000 not escaped", "\xef\x80\x80", 1),
    U8("euro", "\xe2\x82\xac", 1),
    U8("emoji", "\xf0\x9f\x98\x80", 1),
    U8("U+10FFFF", "\xf4\x8f\xbf\xbf", 1),
    U8("U+0080", "\xc2\x80", 1),
    U8E("NUL inside text", "a\0b", "a\\u0000b"),
};

static void test_utf8_cases(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof(utf8_cases) / sizeof(utf8_cases[0]); k++) {
        const struct utf8_case *c = &utf8_cases[k];
        const unsigned char *in = (const unsigned char *)c->bytes;
        struct rig g;
        size_t len, cut;
        const char *bytes;

        roundtrip(in, c->len);
        for (cut = 1; cut < c->len; cut++) {
            roundtrip_cuts(in, c->len, &cut, 1);
        }
        rig_open(&g, 1, 0);
        out(&g, 1, in, c->len);
        rig_close(&g);
        bytes = rec_mem_bytes(g.mem, &len);
        if (c->literal && memmem(bytes, len, c->bytes, c->len) == NULL) {
            fail_msg("%s: not in the file as it is", c->name);
        }
        if (c->escaped != NULL && !has(bytes, len, c->escaped)) {
            fail_msg("%s: not escaped as expected", c->name);
        }
        assert_true(db_utf8_valid(bytes, len)); /* every line stays UTF-8 */
        rig_free(&g);
    }
}

/* A character cut by writes at every position is written whole, never escaped. */
static void test_split_characters(void **state)
{
    static const char *const chars[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
                                        "\xf4\x8f\xbf\xbf"};

    (void)state;
    for (size_t c = 0; c < sizeof(chars) / sizeof(chars[0]); c++) {
        unsigned char in[16];
        size_t n = strlen(chars[c]), total = n + 2;

        in[0] = 'a';
        memcpy(in + 1, chars[c], n);
        in[n + 1] = 'b';
        for (size_t i = 1; i < total; i++) {
            for (size_t j = i; j < total; j++) {
                size_t cuts[2] = {i, j};
                struct rig g;
                size_t len;
                const char *bytes;

                roundtrip_cuts(in, total, cuts, 2);
                rig_open(&g, 1, 0);
                out(&g, 1, in, i);
                out(&g, 2, in + i, j - i);
                out(&g, 3, in + j, total - j);
                rig_close(&g);
                bytes = rec_mem_bytes(g.mem, &len);
                assert_non_null(memmem(bytes, len, chars[c], n));
                assert_null(memmem(bytes, len, "\xee\xbe", 2));
                assert_null(memmem(bytes, len, "\xee\xbf", 2));
                rig_free(&g);
            }
        }
    }
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void test_random_buffers(void **state)
{
    static const char pieces[] = "\xe2\x82\xac\xf0\x9f\x98\x80\xee\xbe\xbf"
                                 "a\n";
    unsigned char buf[6000];
    size_t cuts[8];

    (void)state;
    for (int round = 0; round < 300; round++) {
        size_t n = next_rand() % sizeof(buf), ncuts = n > 0 ? next_rand() % 8 : 0;
        int mode = round % 3;

        for (size_t i = 0; i < n; i++) {
            uint64_t r = next_rand();
            /* all bytes; mostly text with some high bytes; UTF-8 pieces */
            buf[i] = mode == 0   ? (unsigned char)r
                     : mode == 1 ? (unsigned char)(r % 8 == 0 ? 0x80 + r % 128 : 0x20 + r % 95)
                                 : (unsigned char)pieces[r % (sizeof(pieces) - 1)];
        }
        for (size_t k = 0; k < ncuts; k++) {
            cuts[k] = next_rand() % (n + 1);
        }
        for (size_t a = 0; a < ncuts; a++) { /* ascending */
            for (size_t b = a + 1; b < ncuts; b++) {
                if (cuts[b] < cuts[a]) {
                    size_t t = cuts[a];
                    cuts[a] = cuts[b];
                    cuts[b] = t;
                }
            }
        }
        roundtrip_cuts(buf, n, cuts, ncuts);
    }
}

/* ---- text or base64 ---- */

struct kind_case {
    const char *name;
    const char *bytes;
    size_t len;
    enum rec_stream s;
    const char *code;
};

#define KC(name, s, st, code)                                                                      \
    {                                                                                              \
        name, s, sizeof(s) - 1, st, code                                                           \
    }
static const struct kind_case kind_cases[] = {
    KC("plain text", "total 12\r\ndrwxr-xr-x 2 alice alice 4096 .\r\n", REC_STREAM_OUT, "o"),
    KC("colours", "\x1b[01;34mdir\x1b[0m  \x1b[01;32mrun.sh\x1b[0m\r\n\x1b[?2004h", REC_STREAM_OUT,
       "o"),
    KC("CJK",
       "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"
       "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
       REC_STREAM_OUT, "o"),
    KC("short binary stays text", "\x00\x01\x02\xff", REC_STREAM_OUT, "o"),
    KC("a key press", "\x03", REC_STREAM_IN, "i"),
    /* 32 bytes, 8 of them not text: exactly a quarter is still text */
    KC("a quarter",
       "\x00\x01\x02\x03\x04\x05\x06\xff"
       "aaaaaaaaaaaaaaaaaaaaaaaa",
       REC_STREAM_OUT, "o"),
    KC("over a quarter",
       "\x00\x01\x02\x03\x04\x05\x06\xff\xfe"
       "aaaaaaaaaaaaaaaaaaaaaaa",
       REC_STREAM_OUT, "bo"),
    KC("gzip",
       "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xcb\x48\xcd\xc9\xc9\x57\x28\xcf\x2f"
       "\xca\x49\xe1\x02\x00\x2d\x3b\x08\xaf\x0c\x00\x00\x00",
       REC_STREAM_OUT, "bo"),
    KC("scp data in",
       "C0644 12 f\n\x00\x01\x02\x03\x04\x05\x06\x07\x10\x11\x12\x13\x14\x15\x16"
       "\x17\x80\x81\x82\x83\x84",
       REC_STREAM_IN, "bi"),
};

static void test_text_or_binary(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof(kind_cases) / sizeof(kind_cases[0]); k++) {
        const struct kind_case *c = &kind_cases[k];
        struct rig g;
        struct back b;
        struct timespec ts = at_ms(5);
        char want[32];
        size_t len;
        const char *bytes;
        int n;

        rig_open(&g, 1, 0);
        assert_int_equal(rec_writer_data(g.w, c->s, &ts, c->bytes, c->len), 0);
        rig_close(&g);
        bytes = rec_mem_bytes(g.mem, &len);
        snprintf(want, sizeof(want), "[0.005000, \"%s\", ", c->code);
        n = count(bytes, len, want);
        if (c->code[0] == 'b') {
            /* binary either way: base64 as it is, or compressed ("zo"/"zi") */
            want[12] = 'z';
            n += count(bytes, len, want);
        }
        if (n != 1) {
            fail_msg("%s: %d events of code %s", c->name, n, c->code);
        }
        read_back(&g, &b);
        assert_int_equal(c->s == REC_STREAM_OUT ? b.no : b.ni, c->len);
        assert_memory_equal(c->s == REC_STREAM_OUT ? b.o : b.i, c->bytes, c->len);
        back_free(&b);
        rig_free(&g);
    }
}

/*
 * Large chunks: binary from the start is decided on the first 256 bytes;
 * text that turns binary later is still decided on the whole chunk.
 */
static void test_text_or_binary_large(void **state)
{
    static const struct {
        const char *name;
        size_t binary_from, binary_to; /* the rest is text */
        const char *code;
    } cases[] = {
        {"all text", 0, 0, "o"},
        {"binary start", 0, 100, "bo"},      /* 100 of the first 256: more than a quarter */
        {"binary start, short", 0, 60, "o"}, /* 60 of 256, and of 8192 */
        {"binary end", 5000, 8192, "bo"},    /* 3192 of 8192 */
        {"binary middle", 3000, 4000, "o"},  /* 1000 of 8192 */
    };
    static unsigned char buf[8192];

    (void)state;
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        struct rig g;
        struct back b;
        char want[32];
        size_t len;
        const char *bytes;

        for (size_t i = 0; i < sizeof(buf); i++) {
            buf[i] = i >= cases[k].binary_from && i < cases[k].binary_to
                         ? (unsigned char)(i % 7)
                         : (unsigned char)('a' + i % 26);
        }
        rig_open(&g, 1, 0);
        out(&g, 7, buf, sizeof(buf));
        rig_close(&g);
        bytes = rec_mem_bytes(g.mem, &len);
        snprintf(want, sizeof(want), "[0.007000, \"%s\", ", cases[k].code);
        if (cases[k].code[0] == 'b' && !has(bytes, len, want)) {
            want[12] = 'z'; /* binary, compressed */
        }
        if (!has(bytes, len, want)) {
            fail_msg("%s: not a \"%s\" event", cases[k].name, cases[k].code);
        }
        read_back(&g, &b);
        assert_int_equal(b.no, sizeof(buf));
        assert_memory_equal(b.o, buf, sizeof(buf));
        back_free(&b);
        rig_free(&g);
    }
}

/* ---- writes gathered into events ---- */

/*
 * One step of a session: data of a stream ("o"/"i"), a resize ("r"), a
 * marker ("m") or a tick ("t") at ms.  len 0: strlen(data); a data of NULL
 * and a len: that many 'x'.
 */
struct step {
    const char *what;
    long ms;
    const char *data;
    size_t len;
};

struct gather_case {
    const char *name;
    struct step steps[6];
    const char *want; /* the event lines after the header's checkpoint, up to the "e" event */
};

#define ST_END                                                                                     \
    {                                                                                              \
        NULL, 0, NULL, 0                                                                           \
    }
static const struct gather_case gather_cases[] = {
    {"within 10 ms: one event at its first byte's time",
     {{"o", 100, "ls", 0}, {"o", 101, " -l", 0}, {"o", 109, "\r\n", 0}, ST_END},
     "[0.100000, \"o\", \"ls -l\\r\\n\"]\n"},
    {"10 ms after the first byte: a new event",
     {{"o", 100, "a", 0}, {"o", 105, "b", 0}, {"o", 110, "c", 0}, {"o", 111, "d", 0}, ST_END},
     "[0.100000, \"o\", \"ab\"]\n[0.110000, \"o\", \"cd\"]\n"},
    {"the stream changes",
     {{"i", 100, "l", 0}, {"o", 101, "l", 0}, {"i", 102, "s", 0}, {"o", 103, "s", 0}, ST_END},
     "[0.100000, \"i\", \"l\"]\n[0.101000, \"o\", \"l\"]\n[0.102000, \"i\", \"s\"]\n"
     "[0.103000, \"o\", \"s\"]\n"},
    {"a resize and a marker end the event",
     {{"o", 100, "a", 0},
      {"r", 101, "90x30", 0},
      {"o", 102, "b", 0},
      {"m", 103, "note", 0},
      {"o", 104, "c", 0},
      ST_END},
     "[0.100000, \"o\", \"a\"]\n[0.101000, \"r\", \"90x30\"]\n[0.102000, \"o\", \"b\"]\n"
     "[0.103000, \"m\", \"note\"]\n[0.104000, \"o\", \"c\"]\n"},
    {"a tick that flushes ends the event",
     {{"o", 995, "a", 0}, {"t", 1000, NULL, 0}, {"o", 1002, "b", 0}, ST_END},
     "[0.995000, \"o\", \"a\"]\n[1.000000, \"c\", \"*\"]\n[1.002000, \"o\", \"b\"]\n"},
    {"a tick that does not flush leaves it open",
     {{"o", 500, "a", 0}, {"t", 505, NULL, 0}, {"o", 506, "b", 0}, ST_END},
     "[0.500000, \"o\", \"ab\"]\n"},
    {"a character cut between writes of one event",
     {{"o", 100, "\xe2", 0}, {"o", 101, "\x82\xac", 0}, ST_END},
     "[0.100000, \"o\", \"\xe2\x82\xac\"]\n"},
    {"a character cut between events waits for the next",
     {{"o", 100, "x\xe2\x82", 0}, {"o", 120, "\xac", 0}, ST_END},
     "[0.100000, \"o\", \"x\"]\n[0.120000, \"o\", \"\xe2\x82\xac\"]\n"},
    {"16 KiB at most: the write that does not fit starts the next",
     {{"o", 100, NULL, 10000}, {"o", 101, NULL, 10000}, ST_END},
     "[0.100000, \"o\", \"x{16384}\"]\n[0.101000, \"o\", \"x{3616}\"]\n"},
    {"a large write goes straight to events",
     {{"o", 100, NULL, 40000}, {"o", 102, "y", 0}, ST_END},
     "[0.100000, \"o\", \"x{16384}\"]\n[0.100000, \"o\", \"x{16384}\"]\n"
     "[0.100000, \"o\", \"x{7232}y\"]\n"},
};

/* want with "x{N}" for N x's and "*" for any checkpoint. */
static int gather_match(const char *got, size_t glen, const char *want)
{
    size_t g = 0;

    while (*want != '\0') {
        unsigned long n;
        char *end;

        if (want[0] == 'x' && want[1] == '{') {
            n = strtoul(want + 2, &end, 10);
            for (unsigned long k = 0; k < n; k++) {
                if (g >= glen || got[g++] != 'x') {
                    return 0;
                }
            }
            want = end + 1;
        } else if (*want == '*') {
            for (int k = 0; k < REC_HEX_LEN; k++) {
                if (g >= glen ||
                    !((got[g] >= '0' && got[g] <= '9') || (got[g] >= 'a' && got[g] <= 'f'))) {
                    return 0;
                }
                g++;
            }
            want++;
        } else if (g >= glen || got[g++] != *want++) {
            return 0;
        }
    }
    return g == glen;
}

/* Events of one code in the file (the writer's form: `, "CODE", `). */
static int count_code(const char *bytes, size_t len, const char *code)
{
    char want[16];

    snprintf(want, sizeof(want), ", \"%s\", ", code);
    return count(bytes, len, want);
}

/* The rig's recording reads back as exactly want[0..n) of output; the rig goes. */
static void out_back_free(struct rig *g, const void *want, size_t n)
{
    struct back b;

    read_back(g, &b);
    assert_int_equal(b.no, n);
    assert_memory_equal(b.o, want, n);
    back_free(&b);
    rig_free(g);
}

/*
 * Binary chunks that LZ4 shrinks by a quarter or more go as "zo"/"zi" and
 * read back as the same bytes; incompressible ones stay "bo"/"bi", and after
 * one, that stream's next 15 binary chunks are not tried.
 */
static void test_compressed(void **state)
{
    static unsigned char zeros[REC_EVENT_IN_MAX], noise[REC_EVENT_IN_MAX],
        all[20 * REC_EVENT_IN_MAX];
    uint32_t x = 12345;
    size_t nall = 0, len;
    const char *bytes;
    struct rig g;
    struct back b;
    long ms = 0;

    (void)state;
    for (size_t i = 0; i < sizeof(noise); i++) {
        x = x * 1103515245u + 12345u;
        noise[i] = (unsigned char)(x >> 16);
    }
    /* zeros: one compressed event, a small fraction of its size */
    rig_open(&g, 1, 0);
    out(&g, 5, zeros, sizeof(zeros));
    rig_close(&g);
    bytes = rec_mem_bytes(g.mem, &len);
    assert_int_equal(count_code(bytes, len, "zo"), 1);
    assert_int_equal(count_code(bytes, len, "bo"), 0);
    assert_true(len < 2048); /* the header, two checkpoints, the end: 16 KiB are ~100 bytes */
    out_back_free(&g, zeros, sizeof(zeros));

    /* input compresses the same way, when recorded */
    rig_open(&g, 1, 0);
    {
        struct timespec ts = at_ms(5);

        assert_int_equal(rec_writer_data(g.w, REC_STREAM_IN, &ts, zeros, 4096), 0);
    }
    rig_close(&g);
    bytes = rec_mem_bytes(g.mem, &len);
    assert_int_equal(count_code(bytes, len, "zi"), 1);
    read_back(&g, &b);
    assert_int_equal(b.ni, 4096);
    assert_memory_equal(b.i, zeros, 4096);
    back_free(&b);
    rig_free(&g);

    /* noise, then 16 chunks of zeros: 1 + 15 in base64, then compressed again */
    rig_open(&g, 1, 0);
    out(&g, ms += 20, noise, sizeof(noise));
    memcpy(all + nall, noise, sizeof(noise));
    nall += sizeof(noise);
    for (int k = 0; k < 16; k++) {
        out(&g, ms += 20, zeros, sizeof(zeros));
        memcpy(all + nall, zeros, sizeof(zeros));
        nall += sizeof(zeros);
    }
    /* a cut UTF-8 character waits, then goes in front of the next binary chunk */
    out(&g, ms += 20, "\xe6\x97", 2);
    memcpy(all + nall, "\xe6\x97", 2);
    nall += 2;
    out(&g, ms += 1, zeros, 1000);
    memcpy(all + nall, zeros, 1000);
    nall += 1000;
    rig_close(&g);
    bytes = rec_mem_bytes(g.mem, &len);
    assert_int_equal(count_code(bytes, len, "bo"), 16);
    assert_int_equal(count_code(bytes, len, "zo"), 2);
    out_back_free(&g, all, nall);

    /*
     * Eight different chunks that compress, one after the other, each
     * repeating what the one before held: every block stands alone (the
     * reader decodes each without the others), none refers to another.
     */
    rig_open(&g, 1, 0);
    nall = 0;
    for (int k = 0; k < 8; k++) {
        unsigned char *c = all + nall;

        memcpy(c, noise + 512 * (k + 1), 4096); /* the next chunk starts with this one's end */
        memset(c + 4096, k, 4096);
        memcpy(c + 8192, noise + 512 * k, 4096);
        memset(c + 12288, 255 - k, 4096);
        out(&g, ms += 20, c, 16384);
        nall += 16384;
    }
    rig_close(&g);
    bytes = rec_mem_bytes(g.mem, &len);
    assert_int_equal(count_code(bytes, len, "zo"), 8);
    out_back_free(&g, all, nall);
}

static void test_gather(void **state)
{
    static char xs[40000];

    (void)state;
    memset(xs, 'x', sizeof(xs));
    for (size_t k = 0; k < sizeof(gather_cases) / sizeof(gather_cases[0]); k++) {
        const struct gather_case *c = &gather_cases[k];
        struct rig g;
        size_t len;
        const char *bytes, *from, *to;

        rig_open(&g, 1, 0);
        for (const struct step *st = c->steps; st->what != NULL; st++) {
            struct timespec ts = at_ms(st->ms);
            const char *p = st->data != NULL ? st->data : xs;
            size_t n = st->len > 0 ? st->len : st->data != NULL ? strlen(p) : 0;
            int cols = 0, rows = 0;

            switch (st->what[0]) {
            case 'o':
            case 'i':
                assert_int_equal(
                    rec_writer_data(g.w, st->what[0] == 'o' ? REC_STREAM_OUT : REC_STREAM_IN, &ts,
                                    p, n),
                    0);
                break;
            case 'r':
                assert_int_equal(sscanf(p, "%dx%d", &cols, &rows), 2);
                assert_int_equal(rec_writer_resize(g.w, &ts, cols, rows), 0);
                break;
            case 'm':
                assert_int_equal(rec_writer_marker(g.w, &ts, p), 0);
                break;
            default:
                assert_int_equal(rec_writer_tick(g.w, &ts), 0);
                break;
            }
        }
        rig_close(&g);
        bytes = rec_mem_bytes(g.mem, &len);
        /* from after the header's checkpoint to the end event */
        from = memmem(bytes, len, "[0.000000, \"c\", \"", 17);
        assert_non_null(from);
        from = memchr(from, '\n', len - (size_t)(from - bytes)) + 1;
        to = memmem(from, len - (size_t)(from - bytes), "\"e\", \"", 6);
        assert_non_null(to);
        while (to > from && to[-1] != '\n') {
            to--;
        }
        if (!gather_match(from, (size_t)(to - from), c->want)) {
            fail_msg("%s: got\n%.*s", c->name, (int)(to - from > 600 ? 600 : to - from), from);
        }
        rig_free(&g);
    }
}

/* ---- input ---- */

static void test_input_not_recorded(void **state)
{
    static const struct {
        int record_input;
        int events;
    } cases[] = {{0, 0}, {1, 2}};

    (void)state;
    for (size_t k = 0; k < 2; k++) {
        struct rig g;
        struct back b;
        struct timespec ts = at_ms(3);
        unsigned long long raw = 0, written = 0;
        size_t len;
        const char *bytes;

        rig_open(&g, cases[k].record_input, 0);
        assert_int_equal(rec_writer_data(g.w, REC_STREAM_IN, &ts, "hunter2\r", 8), 0);
        ts = at_ms(3 + REC_COALESCE_MS); /* an event of its own */
        assert_int_equal(rec_writer_data(g.w, REC_STREAM_IN, &ts,
                                         "\x00\x01\x02\x03\x04\x05\x06"
                                         "\x07\x10\x11\x12\x13\x14\x15"
                                         "\x16\x17\x18\x19\x1a\x1c\x1d"
                                         "\x1e\x1f\x00\x00\x00\x00\x00"
                                         "\x00\x00\x00\x00",
                                         32),
                         0);
        out(&g, 4 + REC_COALESCE_MS, "$ ", 2);
        rec_writer_stats(g.w, &raw, &written);
        assert_int_equal(raw, 42);
        rig_close(&g);
        bytes = rec_mem_bytes(g.mem, &len);
        assert_true((has(bytes, len, "hunter2")) == cases[k].record_input);
        assert_true(has(bytes, len, "\"e\", \"out=2 in=40\""));
        read_back(&g, &b);
        assert_int_equal(b.count[1] + b.count[3], cases[k].events);
        assert_int_equal(b.ni, cases[k].record_input ? 40 : 0);
        assert_int_equal(b.no, 2);
        back_free(&b);
        rig_free(&g);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header),
        cmocka_unit_test(test_header_defaults),
        cmocka_unit_test(test_escape_table),
        cmocka_unit_test(test_escape_every_byte),
        cmocka_unit_test(test_utf8_cases),
        cmocka_unit_test(test_split_characters),
        cmocka_unit_test(test_random_buffers),
        cmocka_unit_test(test_text_or_binary),
        cmocka_unit_test(test_text_or_binary_large),
        cmocka_unit_test(test_compressed),
        cmocka_unit_test(test_gather),
        cmocka_unit_test(test_input_not_recorded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

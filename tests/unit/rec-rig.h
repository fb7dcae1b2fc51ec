/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared by the recordings writer tests (test_rec_writer.c, test_rec_flush.c,
 * test_rec_text.c): a writer on a memory sink with a fixed key and clock
 * ("the rig"), reading its bytes back by event code, and round trips.
 * Include after cmocka.h, jansson.h and recording.h.
 */
#ifndef DRAWBRIDGE_TEST_REC_RIG_H
#define DRAWBRIDGE_TEST_REC_RIG_H

static const unsigned char key[REC_KEY_LEN] = "0123456789abcdef0123456789abcdef";

struct rig {
    struct rec_sink sink;
    struct rec_mem *mem;
    struct rec_writer *w;
    char sha[REC_HEX_LEN + 1], hmac[REC_HEX_LEN + 1];
};

static inline struct timespec at_ms(long ms)
{
    struct timespec ts = {1000 + ms / 1000, (ms % 1000) * 1000000L};
    return ts;
}

static inline void rig_open(struct rig *g, int record_input, size_t fail_after)
{
    struct rec_meta m;
    struct timespec t0 = at_ms(0);
    char err[256];

    memset(g, 0, sizeof(*g));
    memset(&m, 0, sizeof(m));
    m.user = "alice";
    m.target = "web-1";
    m.login = "deploy";
    m.record_input = record_input;
    assert_int_equal(rec_sink_mem(&g->sink, &g->mem, fail_after), 0);
    assert_int_equal(rec_writer_new(&g->sink, &m, key, &t0, &g->w, err, sizeof(err)), 0);
}

static inline void rig_close(struct rig *g)
{
    char err[256];

    assert_int_equal(rec_writer_close(g->w, g->sha, g->hmac, err, sizeof(err)), 0);
    g->w = NULL;
}

static inline void out(struct rig *g, long ms, const void *p, size_t n)
{
    struct timespec ts = at_ms(ms);
    assert_int_equal(rec_writer_data(g->w, REC_STREAM_OUT, &ts, p, n), 0);
}

/* Reads the memory back: the bytes of o/bo and of i/bi events, and event counts by code. */
struct back {
    unsigned char *o, *i;
    size_t no, ni;
    int count[8];
};

static const char *const codes[] = {"o", "i", "bo", "bi", "r", "m", "c", "e"};

static inline int code_index(const char *c)
{
    for (int k = 0; k < 8; k++) {
        if (strcmp(codes[k], c) == 0) {
            return k;
        }
    }
    fail_msg("unknown code %s", c);
    return 7;
}

/*
 * Appends data[0..n) to *buf (*len bytes of *cap), growing it: a compressed
 * event holds more than its size in the file.
 */
static inline void back_add(unsigned char **buf, size_t *len, size_t *cap, const void *data,
                            size_t n)
{
    if (*len + n > *cap) {
        *cap = 2 * (*len + n);
        *buf = realloc(*buf, *cap);
        assert_non_null(*buf);
    }
    memcpy(*buf + *len, data, n);
    *len += n;
}

static inline void read_back(struct rig *g, struct back *b)
{
    struct rec_reader *r = NULL;
    struct rec_event ev;
    char err[256];
    size_t len;
    const char *bytes = rec_mem_bytes(g->mem, &len);
    int rc;
    size_t cap_o = len + 1, cap_i = len + 1;

    memset(b, 0, sizeof(*b));
    b->o = malloc(cap_o);
    b->i = malloc(cap_i);
    assert_non_null(b->o);
    assert_non_null(b->i);
    assert_int_equal(rec_reader_open_buf(bytes, len, &r, err, sizeof(err)), 0);
    while ((rc = rec_reader_next(r, &ev, err, sizeof(err))) == 1) {
        int k = code_index(ev.code);

        b->count[k]++;
        if (k == 0 || k == 2) {
            back_add(&b->o, &b->no, &cap_o, ev.data, ev.len);
        } else if (k == 1 || k == 3) {
            back_add(&b->i, &b->ni, &cap_i, ev.data, ev.len);
        }
    }
    if (rc != 0) {
        fail_msg("reader: %s", err);
    }
    rec_reader_free(r);
}

static inline void back_free(struct back *b)
{
    free(b->o);
    free(b->i);
}

static inline int has(const char *bytes, size_t len, const char *s)
{
    return memmem(bytes, len, s, strlen(s)) != NULL;
}

/* How many times s occurs in bytes[0..len). */
static inline int count(const char *bytes, size_t len, const char *s)
{
    int n = 0;

    for (const char *p = bytes; (p = memmem(p, len - (size_t)(p - bytes), s, strlen(s))) != NULL;
         p++) {
        n++;
    }
    return n;
}

static inline void rig_free(struct rig *g)
{
    rec_writer_free(g->w);
    rec_mem_free(g->mem);
}

/* Writes in[] in pieces cut at cuts[] (ascending), closes, and checks the bytes come back. */
static inline void roundtrip_cuts(const unsigned char *in, size_t n, const size_t *cuts, size_t ncuts)
{
    struct rig g;
    struct back b;
    size_t prev = 0;

    rig_open(&g, 1, 0);
    for (size_t k = 0; k <= ncuts; k++) {
        size_t end = k < ncuts ? cuts[k] : n;

        out(&g, (long)k, in + prev, end - prev);
        prev = end;
    }
    rig_close(&g);
    read_back(&g, &b);
    assert_int_equal(b.no, n);
    assert_memory_equal(b.o, in, n);
    back_free(&b);
    rig_free(&g);
}

static inline void roundtrip(const unsigned char *in, size_t n)
{
    roundtrip_cuts(in, n, NULL, 0);
}

#endif

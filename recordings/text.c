/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The lines of text a recording holds, for the broker's search index
 * (rec_writer_set_text).  A small state machine per stream strips what a
 * terminal would not print -- CSI sequences, OSC/DCS/APC/PM/SOS strings up
 * to their terminator, two-byte escapes, control bytes -- and what is left is
 * cut into lines at CR or LF (so typed input, which ends lines with CR,
 * splits like output does).  Backspace and DEL take back the last character,
 * which turns "lss<DEL>" and the echoed "s\b \b" into what was meant.
 * Invalid UTF-8 and C1 controls become U+FFFD and nothing, so every line is
 * valid UTF-8.  Lines longer than TEXT_LINE_MAX bytes are split.  Each
 * stream stops once it has been given max_bytes (the bytes it read, not the
 * text it made: a stream of NULs or escape sequences costs its share too),
 * and it never hands over more than max_bytes of text.  All of it survives
 * being cut anywhere by the writes it comes in.
 *
 * The writer feeds it the bytes of text events only; plain text takes the
 * fast way: eight bytes are checked at a time for anything but printable
 * ASCII, and runs of printable ASCII and whole UTF-8 characters are copied
 * to the line as they are.  Only escape sequences and controls go byte by
 * byte through the state machine.
 */
#include "recording.h"

#include <stdlib.h>
#include <string.h>

#define TEXT_LINE_MAX 512

enum t_state {
    T_GROUND,
    T_ESC,     /* after ESC, and its intermediates */
    T_CSI,     /* ESC [ ... up to a final byte */
    T_STR,     /* OSC, DCS, APC, PM, SOS: up to BEL or ST */
    T_STR_ESC, /* ESC inside one of those: ST, or the start of a new escape */
};

struct t_stream {
    enum t_state state;
    unsigned char u8[4]; /* a UTF-8 character so far */
    size_t nu8;
    char line[TEXT_LINE_MAX];
    size_t len;
    double ts;    /* of the line's last character */
    size_t total; /* text handed over */
    size_t fed;   /* bytes read */
    int stopped;
};

struct rec_text {
    rec_text_fn fn;
    void *ctx;
    size_t max;
    struct t_stream st[2];
};

struct rec_text *rec_text_new(rec_text_fn fn, void *ctx, size_t max_bytes)
{
    struct rec_text *t = calloc(1, sizeof(*t));

    if (t != NULL) {
        t->fn = fn;
        t->ctx = ctx;
        t->max = max_bytes;
        t->st[0].stopped = t->st[1].stopped = max_bytes == 0;
    }
    return t;
}

void rec_text_free(struct rec_text *t)
{
    free(t);
}

static void t_emit(struct rec_text *t, enum rec_stream s)
{
    struct t_stream *st = &t->st[s];
    size_t n = st->len, all = st->len;
    int blank = 1;

    for (size_t i = 0; i < n && blank; i++) {
        blank = st->line[i] == ' ';
    }
    st->len = 0;
    if (blank || st->stopped) {
        return;
    }
    if (n > t->max - st->total) {
        n = t->max - st->total;
        while (n > 0 && ((unsigned char)st->line[n] & 0xC0) == 0x80) {
            n--; /* whole characters only */
        }
    }
    st->total += n;
    st->stopped = st->total >= t->max || n < all;
    if (n > 0) {
        t->fn(t->ctx, s, st->ts, st->line, n);
    }
}

static void t_add(struct rec_text *t, enum rec_stream s, double ts, const unsigned char *c,
                  size_t n)
{
    struct t_stream *st = &t->st[s];

    if (st->len + n > TEXT_LINE_MAX) {
        t_emit(t, s);
    }
    memcpy(st->line + st->len, c, n);
    st->len += n;
    st->ts = ts;
}

static void t_erase(struct t_stream *st)
{
    while (st->len > 0 && ((unsigned char)st->line[st->len - 1] & 0xC0) == 0x80) {
        st->len--;
    }
    if (st->len > 0) {
        st->len--;
    }
}

static const unsigned char t_fffd[3] = {0xEF, 0xBF, 0xBD};

/* One byte outside any escape sequence. */
static void t_ground(struct rec_text *t, enum rec_stream s, double ts, unsigned char c)
{
    struct t_stream *st = &t->st[s];

    if (st->nu8 > 0) {
        int k;

        st->u8[st->nu8++] = c;
        k = rec_utf8_len(st->u8, st->nu8);
        if (k < 0) {
            return;
        }
        st->nu8 = 0;
        if (k > 0) {
            /* U+0080..U+009F (C2 80..C2 9F) are C1 controls: not text */
            if (!(st->u8[0] == 0xC2 && st->u8[1] < 0xA0)) {
                t_add(t, s, ts, st->u8, (size_t)k);
            }
            return;
        }
        t_add(t, s, ts, t_fffd, 3);
        /* c itself starts afresh */
    }
    if (c == 0x1B) {
        st->state = T_ESC;
    } else if (c == '\n' || c == '\r') {
        t_emit(t, s);
    } else if (c == '\t') {
        t_add(t, s, ts, (const unsigned char *)" ", 1);
    } else if (c == '\b' || c == 0x7F) {
        t_erase(st);
    } else if (c >= 0x20 && c < 0x80) {
        t_add(t, s, ts, &c, 1);
    } else if (c >= 0x80) {
        if (rec_utf8_len(&c, 1) == 0) {
            t_add(t, s, ts, t_fffd, 3);
        } else {
            st->u8[0] = c;
            st->nu8 = 1;
        }
    }
}

static void t_byte(struct rec_text *t, enum rec_stream s, double ts, unsigned char c)
{
    struct t_stream *st = &t->st[s];

    if (st->state != T_GROUND && (c == 0x18 || c == 0x1A)) {
        st->state = T_GROUND; /* CAN and SUB cancel a sequence */
        return;
    }
    switch (st->state) {
    case T_GROUND:
        t_ground(t, s, ts, c);
        break;
    case T_ESC:
        if (c == '[') {
            st->state = T_CSI;
        } else if (c == ']' || c == 'P' || c == 'X' || c == '^' || c == '_') {
            st->state = T_STR;
        } else if (c >= 0x30) {
            st->state = T_GROUND; /* the final byte; intermediates and C0 leave us here */
        }
        break;
    case T_CSI:
        if (c == 0x1B) {
            st->state = T_ESC;
        } else if (c >= 0x40) {
            st->state = T_GROUND;
        }
        break;
    case T_STR:
        if (c == 0x07) {
            st->state = T_GROUND;
        } else if (c == 0x1B) {
            st->state = T_STR_ESC;
        }
        break;
    case T_STR_ESC:
        st->state = c == '\\' ? T_GROUND : T_ESC;
        if (c != '\\') {
            t_byte(t, s, ts, c);
        }
        break;
    }
}

#define ONES 0x0101010101010101ULL
#define HIGH 0x8080808080808080ULL

/* The length of the run of printable ASCII (0x20..0x7E) at p. */
static inline size_t t_printable(const unsigned char *p, size_t len)
{
    size_t i = 0;

    while (len - i >= 8) {
        uint64_t x;

        memcpy(&x, p + i, 8);
        /* a byte below 0x20, or above 0x7E */
        if ((((x - ONES * 0x20) & ~x) | ((x + ONES * 0x01) | x)) & HIGH) {
            break;
        }
        i += 8;
    }
    while (i < len && p[i] >= 0x20 && p[i] < 0x7F) {
        i++;
    }
    return i;
}

/* Appends p[0..n) (whole characters) to the line, emitting it as it fills. */
static void t_copy(struct rec_text *t, enum rec_stream s, double ts, const unsigned char *p,
                   size_t n)
{
    struct t_stream *st = &t->st[s];

    while (n > 0 && !st->stopped) {
        size_t k = n < TEXT_LINE_MAX - st->len ? n : TEXT_LINE_MAX - st->len;

        if (k < n) {
            /* the line fills: cut between characters */
            while (k > 0 && (p[k] & 0xC0) == 0x80) {
                k--;
            }
        }
        if (k == 0) {
            t_emit(t, s);
            continue;
        }
        memcpy(st->line + st->len, p, k);
        st->len += k;
        st->ts = ts;
        p += k;
        n -= k;
    }
}

/*
 * In the ground state with no character begun: takes printable ASCII and
 * whole UTF-8 characters from buf[i..len) straight to the line; returns
 * where the first byte that needs the state machine is.
 */
static size_t t_text_run(struct rec_text *t, enum rec_stream s, double ts, const unsigned char *buf,
                         size_t i, size_t len)
{
    while (i < len) {
        size_t j = i + t_printable(buf + i, len - i);
        int k;

        /* then the UTF-8 characters that follow, as long as they are printable */
        while (j < len && buf[j] >= 0x80 && (k = rec_utf8_len(buf + j, len - j)) > 1 &&
               !(buf[j] == 0xC2 && buf[j + 1] < 0xA0)) {
            j += (size_t)k;
            j += t_printable(buf + j, len - j);
        }
        if (j == i) {
            break;
        }
        t_copy(t, s, ts, buf + i, j - i);
        i = j;
    }
    return i;
}

void rec_text_feed(struct rec_text *t, enum rec_stream s, double ts, const unsigned char *buf,
                   size_t len)
{
    struct t_stream *st;
    int last = 0;

    if (t == NULL || t->st[s].stopped) {
        return;
    }
    st = &t->st[s];
    if (len >= t->max - st->fed) {
        len = t->max - st->fed;
        last = 1;
    }
    st->fed += len;
    for (size_t i = 0; i < len && !st->stopped;) {
        if (st->state == T_GROUND && st->nu8 == 0) {
            i = t_text_run(t, s, ts, buf, i, len);
            if (len - i >= 2 && buf[i] == 0x1B && buf[i + 1] == '[') {
                st->state = T_CSI; /* the usual colour or cursor sequence */
                i += 2;
            }
        }
        if (st->state == T_CSI) {
            /* parameters and intermediates change nothing */
            while (i < len && buf[i] >= 0x20 && buf[i] < 0x40) {
                i++;
            }
            if (i < len && buf[i] >= 0x40) {
                st->state = T_GROUND; /* the final byte */
                i++;
                continue;
            }
        } else if (st->state == T_STR) {
            /* a title, DCS or APC payload: up to its end or what cancels it */
            while (i < len && buf[i] != 0x07 && buf[i] != 0x1B && buf[i] != 0x18 &&
                   buf[i] != 0x1A) {
                i++;
            }
        }
        if (i < len) {
            t_byte(t, s, ts, buf[i++]);
        }
    }
    if (last && !st->stopped) {
        /* the stream has had its share: what the line holds is the last of it */
        t_emit(t, s);
        st->stopped = 1;
    }
}

void rec_text_break(struct rec_text *t, enum rec_stream s)
{
    struct t_stream *st;

    if (t == NULL || t->st[s].stopped) {
        return;
    }
    st = &t->st[s];
    st->state = T_GROUND;
    st->nu8 = 0;
    t_emit(t, s);
}

void rec_text_finish(struct rec_text *t, double ts)
{
    if (t == NULL) {
        return;
    }
    for (int s = 0; s < 2; s++) {
        if (t->st[s].nu8 > 0) {
            t->st[s].nu8 = 0;
            t_add(t, (enum rec_stream)s, ts, t_fffd, 3);
        }
        t_emit(t, (enum rec_stream)s);
    }
}

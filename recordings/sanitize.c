/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Safe replay: a streaming filter between a recording and a reviewer's
 * terminal.  A recorded program could have written anything, and the
 * reviewer's terminal must not answer it (device status, attributes, window
 * and title reports, DECRQSS), hand it the clipboard (OSC 52), change how the
 * keyboard or mouse talk to the terminal, or be switched into modes where
 * later bytes mean something else (8-bit controls, ISO 2022 modes).
 *
 * The rule is an allow-list: what comes out is printable UTF-8, a few
 * layout controls (BS HT LF VT FF CR SO SI), and whole escape sequences this
 * file has read to the end and found harmless -- colours, cursor movement,
 * erasing, scrolling, charsets, screen modes, titles.  Nothing else is ever
 * written, so however the input is cut, the terminal is back in its ground
 * state after every sequence we emit.  Sequences we must hold until their
 * end have bounded buffers: a longer one is dropped whole, and memory never
 * grows with the input.  FORMAT.md lists exactly what is kept.
 */
#include "recording.h"

#include <stdlib.h>
#include <string.h>

enum s_state {
    S_GROUND,
    S_ESC,     /* after ESC: intermediates in seq */
    S_CSI,     /* ESC [ ...: parameters and intermediates in seq */
    S_OSC,     /* ESC ] ...: the payload in osc (a title, perhaps) */
    S_OSC_ESC, /* ESC inside an OSC */
    S_STR,     /* DCS, SOS, PM, APC: dropped up to their end */
    S_STR_ESC, /* ESC inside one of those */
};

struct rec_sanitizer {
    enum s_state state;
    unsigned char u8[4]; /* a UTF-8 character so far, in the ground state */
    size_t nu8;
    unsigned char seq[REC_SANITIZE_CSI_MAX];
    size_t nseq;
    int overflow; /* seq or osc could not hold the sequence: it is dropped */
    unsigned char osc[REC_SANITIZE_TITLE_MAX];
    size_t nosc;
    int cont, c2; /* inside strings: UTF-8 continuation bytes due; C2 just seen */
};

/* Where output goes: room was made for the worst case before we start. */
struct s_out {
    char *p;
    size_t n;
};

static inline void s_put(struct s_out *o, const void *p, size_t n)
{
    memcpy(o->p + o->n, p, n);
    o->n += n;
}

static const unsigned char s_fffd[3] = {0xEF, 0xBF, 0xBD};

int rec_sanitizer_new(struct rec_sanitizer **out)
{
    *out = calloc(1, sizeof(**out));
    return *out != NULL ? 0 : DB_ERR_NOMEM;
}

void rec_sanitizer_free(struct rec_sanitizer *s)
{
    free(s);
}

/* BS HT LF VT FF CR SO SI: layout on the screen, nothing more. */
static inline int s_c0_ok(unsigned char c)
{
    return c >= 0x08 && c <= 0x0F;
}

/* ---- CSI ---- */

static int s_mode_ok(int private, long v)
{
    static const long dec[] = {1, 4, 5, 6, 7, 12, 25, 47, 66, 69, 1047, 1048, 1049, 2026};

    if (!private) {
        return v == 4; /* IRM; never KAM (2, locks the keyboard) or SRM (12, local echo) */
    }
    for (size_t i = 0; i < sizeof(dec) / sizeof(dec[0]); i++) {
        if (dec[i] == v) {
            return 1;
        }
    }
    return 0;
}

/*
 * Set/reset mode: the same sequence with only the modes we allow, each as
 * it was written, or nothing when none is left.
 */
static void s_modes(struct s_out *o, const unsigned char *p, size_t n, int private,
                    unsigned char final)
{
    unsigned char buf[REC_SANITIZE_CSI_MAX + 4];
    size_t k = 0, i = 0;

    buf[k++] = 0x1B;
    buf[k++] = '[';
    if (private) {
        buf[k++] = '?';
    }
    while (i <= n) {
        size_t j = i;
        long v = 0;

        while (j < n && p[j] != ';') {
            v = p[j] >= '0' && p[j] <= '9' && v < 100000 ? v * 10 + (p[j] - '0') : 1L << 30;
            j++;
        }
        if (j > i && s_mode_ok(private, v)) {
            if (buf[k - 1] != '[' && buf[k - 1] != '?') {
                buf[k++] = ';';
            }
            memcpy(buf + k, p + i, j - i);
            k += j - i;
        }
        i = j + 1;
    }
    if (buf[k - 1] != '[' && buf[k - 1] != '?') {
        buf[k++] = final;
        s_put(o, buf, k);
    }
}

/* Whether the numbers of p[0..n) are all at most 32767 (a terminal has no use for more). */
static int s_params_ok(const unsigned char *p, size_t n)
{
    long v = 0;

    for (size_t i = 0; i < n; i++) {
        if (p[i] == ';' || p[i] == ':') {
            v = 0;
        } else if (p[i] >= '0' && p[i] <= '9') {
            v = v * 10 + (p[i] - '0');
            if (v > 32767) {
                return 0;
            }
        } else {
            return 0; /* '<' '=' '>' '?' past the first byte */
        }
    }
    return 1;
}

static void s_csi(struct rec_sanitizer *s, struct s_out *o, unsigned char final)
{
    /* cursor, erase, insert/delete, scroll, SGR, margins, save/restore, tabs, repeat */
    static const char plain[] = "@ABCDEFGHIJKLMPSTXZ`abdefgmrsu";
    const unsigned char *p = s->seq;
    size_t n = s->nseq, ni = 0;
    unsigned char prefix = 0;

    if (s->overflow) {
        return;
    }
    while (ni < n && p[n - 1 - ni] <= 0x2F) {
        ni++; /* intermediates end the sequence */
    }
    if (n > 0 && p[0] >= '<' && p[0] <= '?') {
        prefix = p[0];
        p++;
        n--;
    }
    if (!s_params_ok(p, n - ni)) {
        return;
    }
    if (ni > 0) {
        /* DECSCUSR (cursor shape) and DECSTR (soft reset) only */
        if (prefix == 0 && ni == 1 &&
            ((p[n - 1] == ' ' && final == 'q') || (p[n - 1] == '!' && final == 'p' && n == 1))) {
            goto keep;
        }
        return;
    }
    if (final == 'h' || final == 'l') {
        if (prefix == 0 || prefix == '?') {
            s_modes(o, p, n, prefix == '?', final);
        }
        return;
    }
    if (prefix == '?' && (final == 'J' || final == 'K')) {
        goto keep; /* selective erase */
    }
    if (prefix != 0 || strchr(plain, final) == NULL) {
        return; /* DSR, DA, window ops, DECRQM, DECREQTPARM, media copy, key modes ... */
    }
    if (final == 'T' && memchr(p, ';', n) != NULL) {
        return; /* CSI Ps;Ps;Ps;Ps;Ps T starts xterm's mouse highlight tracking */
    }
keep:
    s_put(o, "\033[", 2);
    s_put(o, s->seq, s->nseq);
    s_put(o, &final, 1);
}

/* ---- ESC and OSC ---- */

static void s_esc_final(struct rec_sanitizer *s, struct s_out *o, unsigned char c)
{
    /* DECSC DECRC DECKPAM DECKPNM IND NEL RI HTS RIS SS2 SS3 LS2 LS3 LS3R LS2R LS1R */
    static const char plain[] = "78=>DEMHcNOno|}~";
    unsigned char i0 = s->nseq > 0 ? s->seq[0] : 0;
    unsigned char buf[4] = {0x1B, i0, c, 0};

    if (s->overflow || s->nseq > 1) {
        return;
    }
    if (s->nseq == 0) {
        if (strchr(plain, c) != NULL) {
            buf[1] = c;
            s_put(o, buf, 2);
        }
        return; /* DECID (Z), a stray ST, and the rest */
    }
    /* G0..G3 designations; DEC line sizes and DECALN.  Never ESC % (ISO 2022
     * return, after which 0x9B is CSI) or ESC SP (8-bit controls). */
    if (strchr("()*+-./", i0) != NULL || (i0 == '#' && strchr("34568", c) != NULL)) {
        s_put(o, buf, 3);
    }
}

/* A title (OSC 0, 1 or 2) with nothing in it but printable UTF-8 and no '?'. */
static int s_title_ok(const unsigned char *p, size_t n)
{
    size_t i = 2;

    if (n < 2 || p[0] < '0' || p[0] > '2' || p[1] != ';') {
        return 0;
    }
    while (i < n) {
        int k = rec_utf8_len(p + i, n - i);

        if (k <= 0 || p[i] < 0x20 || p[i] == 0x7F || p[i] == '?' ||
            (p[i] == 0xC2 && p[i + 1] < 0xA0)) {
            return 0;
        }
        i += (size_t)k;
    }
    return 1;
}

static void s_osc_end(struct rec_sanitizer *s, struct s_out *o, int bel)
{
    if (!s->overflow && s_title_ok(s->osc, s->nosc)) {
        s_put(o, "\033]", 2);
        s_put(o, s->osc, s->nosc);
        s_put(o, bel ? "\007" : "\033\\", bel ? 1 : 2);
    }
    s->state = S_GROUND;
}

/* ---- the state machine ---- */

static void s_ground(struct rec_sanitizer *s, struct s_out *o, unsigned char c)
{
    if (s->nu8 > 0) {
        int k;

        s->u8[s->nu8++] = c;
        k = rec_utf8_len(s->u8, s->nu8);
        if (k < 0) {
            return;
        }
        s->nu8 = 0;
        if (k > 0) {
            if (!(s->u8[0] == 0xC2 && s->u8[1] < 0xA0)) { /* U+0080..U+009F: C1 */
                s_put(o, s->u8, (size_t)k);
            }
            return;
        }
        s_put(o, s_fffd, 3);
        /* c starts afresh */
    }
    if (c >= 0x20 && c < 0x7F) {
        s_put(o, &c, 1);
    } else if (c == 0x1B) {
        s->state = S_ESC;
        s->nseq = 0;
        s->overflow = 0;
    } else if (c < 0x20) {
        if (s_c0_ok(c)) {
            s_put(o, &c, 1);
        }
    } else if (c >= 0x80 && c < 0xA0) {
        /* an 8-bit C1 control (CSI, OSC, DCS ...): never */
    } else if (c >= 0x80) {
        if (rec_utf8_len(&c, 1) == 0) {
            s_put(o, s_fffd, 3);
        } else {
            s->u8[0] = c;
            s->nu8 = 1;
        }
    }
}

/* C0 inside a sequence: CAN and SUB cancel it, ESC starts another, the rest act as usual. */
static int s_c0_inside(struct rec_sanitizer *s, struct s_out *o, unsigned char c)
{
    if (c == 0x18 || c == 0x1A) {
        s->state = S_GROUND;
    } else if (c == 0x1B) {
        s->state = S_ESC;
        s->nseq = 0;
        s->overflow = 0;
    } else if (s_c0_ok(c)) {
        s_put(o, &c, 1);
    }
    return 1;
}

/*
 * Inside OSC or DCS & co.: the end of the string?  BEL ends an OSC; ST is
 * ESC \ (handled by the caller) or U+009C as C2 9C at a character boundary
 * (a 0x9C inside another character, as in U+271C, is not one); CAN and SUB
 * cancel the string.
 */
static int s_str_end(struct rec_sanitizer *s, unsigned char c, int osc, int *bel)
{
    int lead = !(s->cont > 0 && (c & 0xC0) == 0x80), st = s->c2 && c == 0x9C;

    if (lead) {
        s->cont = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
    } else {
        s->cont--;
    }
    s->c2 = lead && c == 0xC2;
    *bel = c == 0x07;
    if (st && s->nosc > 0 && s->osc[s->nosc - 1] == 0xC2) {
        s->nosc--;
    }
    if (c == 0x18 || c == 0x1A) {
        s->overflow = 1; /* cancelled: dropped */
        return 1;
    }
    return st || (osc && c == 0x07);
}

static void s_byte(struct rec_sanitizer *s, struct s_out *o, unsigned char c)
{
    int bel = 0;

    switch (s->state) {
    case S_GROUND:
        s_ground(s, o, c);
        break;
    case S_ESC:
        if (c < 0x20) {
            s_c0_inside(s, o, c);
        } else if (c <= 0x2F) {
            if (s->nseq < 4) {
                s->seq[s->nseq++] = c;
            } else {
                s->overflow = 1;
            }
        } else if (c >= 0x80) {
            s->state = S_GROUND;
            s_ground(s, o, c);
        } else if (c == 0x7F) {
            /* ignored */
        } else if (s->nseq == 0 && c == '[') {
            s->state = S_CSI;
        } else if (s->nseq == 0 && c == ']') {
            s->state = S_OSC;
            s->nosc = 0;
            s->cont = s->c2 = 0;
        } else if (s->nseq == 0 && (c == 'P' || c == 'X' || c == '^' || c == '_')) {
            s->state = S_STR;
            s->cont = s->c2 = 0;
        } else {
            s->state = S_GROUND;
            s_esc_final(s, o, c);
        }
        break;
    case S_CSI:
        if (c < 0x20) {
            s_c0_inside(s, o, c);
        } else if (c <= 0x3F) {
            if (s->nseq < sizeof(s->seq)) {
                s->seq[s->nseq++] = c;
            } else {
                s->overflow = 1;
            }
        } else if (c <= 0x7E) {
            s->state = S_GROUND;
            s_csi(s, o, c);
        } else if (c >= 0x80) {
            s->state = S_GROUND;
            s_ground(s, o, c);
        }
        break;
    case S_OSC:
        if (s_str_end(s, c, 1, &bel)) {
            s_osc_end(s, o, bel);
        } else if (c == 0x1B) {
            s->state = S_OSC_ESC;
        } else if (c < 0x20 || s->nosc == sizeof(s->osc)) {
            s->overflow = 1; /* not a title we would keep */
        } else {
            s->osc[s->nosc++] = c;
        }
        break;
    case S_STR:
        if (s_str_end(s, c, 0, &bel)) {
            s->state = S_GROUND;
        } else if (c == 0x1B) {
            s->state = S_STR_ESC;
        }
        break;
    case S_OSC_ESC:
    case S_STR_ESC:
        if (c == '\\') {
            if (s->state == S_OSC_ESC) {
                s_osc_end(s, o, 0);
            }
            s->state = S_GROUND;
        } else {
            /* ESC ends the string and starts a sequence of its own */
            s->state = S_ESC;
            s->nseq = 0;
            s->overflow = 0;
            s_byte(s, o, c);
        }
        break;
    }
}

int rec_sanitize(struct rec_sanitizer *s, const void *in, size_t len, char **out, size_t *outlen,
                 size_t *outcap)
{
    const unsigned char *p = in;
    struct s_out o;
    size_t need, i = 0;

    if (s == NULL || out == NULL || outlen == NULL || outcap == NULL || (p == NULL && len > 0)) {
        return DB_ERR_INVALID;
    }
    /* every byte gives at most 3 (U+FFFD); what was held back is bounded by the buffers */
    if (len > (SIZE_MAX - 4096 - *outlen) / 3) {
        return DB_ERR_NOMEM;
    }
    need = *outlen + 3 * len + sizeof(s->seq) + sizeof(s->osc) + 64;
    if (*out == NULL || need > *outcap) {
        size_t cap = *outcap * 2 > need ? *outcap * 2 : need;
        char *nb = realloc(*out, cap);

        if (nb == NULL) {
            return DB_ERR_NOMEM;
        }
        *out = nb;
        *outcap = cap;
    }
    o.p = *out;
    o.n = *outlen;
    while (i < len) {
        if (s->state == S_GROUND && s->nu8 == 0) {
            size_t j = i;

            while (j < len && p[j] >= 0x20 && p[j] < 0x7F) {
                j++;
            }
            s_put(&o, p + i, j - i);
            i = j;
            if (i == len) {
                break;
            }
        }
        s_byte(s, &o, p[i++]);
    }
    *outlen = o.n;
    return 0;
}

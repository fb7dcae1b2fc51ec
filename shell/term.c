/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The line editor for interactive (pty) shell sessions.  The client's
 * terminal is in raw mode, so every key arrives here as bytes and nothing
 * appears on the screen unless we echo it.  This is a small readline: insert
 * and delete at the cursor, arrows, Home/End, ^U, ^W, ^C, ^D, ^L, history.
 *
 * Input is untrusted and arrives in arbitrary pieces (a key may be split
 * across two reads, a paste may carry many lines), so all state -- a pending
 * escape sequence, a partial UTF-8 character, a CR waiting to see whether an
 * LF follows -- lives in struct shell_term between calls.
 *
 * The line is kept as valid UTF-8 at all times: incomplete or invalid
 * sequences and C1 controls are refused with a beep rather than inserted,
 * so that every byte we echo is one the terminal draws as a character and
 * the cursor arithmetic (one column per code point) stays right.  Escape
 * sequences we do not handle are consumed whole and never echoed.
 *
 * Our own output is batched in a small buffer and written through c->write
 * once per call (and before a command runs, so that it comes out in order).
 */
#include "shell.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define TERM_HIST_MAX 100
#define TERM_CSI_MAX 16
#define TERM_OUT_MAX 4096

enum term_esc {
    TERM_ESC_NONE, /* ordinary input */
    TERM_ESC_ESC,  /* saw ESC */
    TERM_ESC_CSI,  /* in ESC [ ... up to a final byte */
    TERM_ESC_SS3,  /* saw ESC O; one more byte */
};

struct shell_term {
    struct shell_ctx *c;
    char line[SHELL_LINE_MAX + 1];
    size_t len; /* bytes in line */
    size_t cur; /* cursor, a byte offset on a code point boundary */

    char *hist[TERM_HIST_MAX]; /* oldest first */
    size_t nhist;
    size_t hist_pos; /* == nhist while editing a new line */
    char *saved;     /* the new line, kept while walking the history */

    enum term_esc esc;
    char csi[TERM_CSI_MAX]; /* parameter and intermediate bytes */
    size_t ncsi;

    unsigned char u8[4]; /* a UTF-8 character being assembled */
    size_t nu8, u8_need;

    int last_cr; /* the previous byte was CR: an LF right after it is not a new line */
    int ended;
    int paused; /* a job or a connect took over; see shell_term_resume */

    char out[TERM_OUT_MAX];
    size_t nout;
};

/* ---- output ---- */

static void term_flush(struct shell_term *t)
{
    if (t->nout > 0 && t->c->write != NULL) {
        (void)t->c->write(t->c->io, 0, t->out, t->nout);
    }
    t->nout = 0;
}

static void term_emit(struct shell_term *t, const char *s, size_t n)
{
    while (n > 0) {
        size_t room = sizeof(t->out) - t->nout;
        size_t k = n < room ? n : room;

        memcpy(t->out + t->nout, s, k);
        t->nout += k;
        s += k;
        n -= k;
        if (t->nout == sizeof(t->out)) {
            term_flush(t);
        }
    }
}

static void term_emits(struct shell_term *t, const char *s)
{
    term_emit(t, s, strlen(s));
}

static void term_beep(struct shell_term *t)
{
    term_emit(t, "\a", 1);
}

/* Columns taken by s[0..n): one per code point (the line is valid UTF-8). */
static size_t term_cols(const char *s, size_t n)
{
    size_t cols = 0;

    for (size_t i = 0; i < n; i++) {
        if (((unsigned char)s[i] & 0xc0) != 0x80) {
            cols++;
        }
    }
    return cols;
}

static void term_move(struct shell_term *t, size_t cols, char dir)
{
    char seq[32];

    if (cols == 0) {
        return;
    }
    snprintf(seq, sizeof(seq), "\x1b[%zu%c", cols, dir);
    term_emits(t, seq);
}

static void term_prompt(struct shell_term *t)
{
    char user[72];
    const char *u = t->c->user != NULL ? t->c->user : "";

    shell_sanitize(user, sizeof(user), u, strlen(u), 1);
    term_emits(t, user);
    term_emits(t, "@drawbridge> ");
}

/*
 * Redraws from the cursor to the end of the line after the text there
 * changed, erasing what was left over, and puts the cursor back.
 */
static void term_redraw_tail(struct shell_term *t)
{
    term_emit(t, t->line + t->cur, t->len - t->cur);
    term_emits(t, "\x1b[K");
    term_move(t, term_cols(t->line + t->cur, t->len - t->cur), 'D');
}

/* ---- editing ---- */

static size_t term_prev_cp(const struct shell_term *t, size_t pos)
{
    while (pos > 0) {
        pos--;
        if (((unsigned char)t->line[pos] & 0xc0) != 0x80) {
            break;
        }
    }
    return pos;
}

static size_t term_next_cp(const struct shell_term *t, size_t pos)
{
    if (pos < t->len) {
        pos++;
    }
    while (pos < t->len && ((unsigned char)t->line[pos] & 0xc0) == 0x80) {
        pos++;
    }
    return pos;
}

static void term_insert(struct shell_term *t, const char *s, size_t n)
{
    if (t->len + n > SHELL_LINE_MAX) {
        term_beep(t);
        return;
    }
    memmove(t->line + t->cur + n, t->line + t->cur, t->len - t->cur);
    memcpy(t->line + t->cur, s, n);
    t->len += n;
    t->cur += n;
    term_emit(t, s, n);
    if (t->cur < t->len) {
        term_redraw_tail(t);
    }
}

/* Removes line[from..to) where to == cur or from == cur, and redraws. */
static void term_delete(struct shell_term *t, size_t from, size_t to)
{
    if (from >= to) {
        return;
    }
    term_move(t, term_cols(t->line + from, t->cur - from), 'D');
    memmove(t->line + from, t->line + to, t->len - to);
    t->len -= to - from;
    t->cur = from;
    term_redraw_tail(t);
}

static void term_set_line(struct shell_term *t, const char *s, size_t n)
{
    term_move(t, term_cols(t->line, t->cur), 'D');
    term_emits(t, "\x1b[K");
    if (n > SHELL_LINE_MAX) {
        n = SHELL_LINE_MAX;
    }
    memcpy(t->line, s, n);
    t->len = t->cur = n;
    term_emit(t, t->line, n);
}

static void term_home(struct shell_term *t)
{
    term_move(t, term_cols(t->line, t->cur), 'D');
    t->cur = 0;
}

static void term_end(struct shell_term *t)
{
    term_move(t, term_cols(t->line + t->cur, t->len - t->cur), 'C');
    t->cur = t->len;
}

static void term_left(struct shell_term *t)
{
    if (t->cur > 0) {
        t->cur = term_prev_cp(t, t->cur);
        term_move(t, 1, 'D');
    }
}

static void term_right(struct shell_term *t)
{
    if (t->cur < t->len) {
        t->cur = term_next_cp(t, t->cur);
        term_move(t, 1, 'C');
    }
}

/* ^W: the word before the cursor and the blanks after it. */
static void term_rubout_word(struct shell_term *t)
{
    size_t p = t->cur;

    while (p > 0 && t->line[p - 1] == ' ') {
        p--;
    }
    while (p > 0 && t->line[p - 1] != ' ') {
        p--;
    }
    term_delete(t, p, t->cur);
}

static void term_clear_line(struct shell_term *t)
{
    t->len = t->cur = 0;
    t->hist_pos = t->nhist;
    free(t->saved);
    t->saved = NULL;
}

/* ---- history ---- */

static void term_hist_add(struct shell_term *t)
{
    char *copy = NULL;
    size_t i = 0;

    /* Blank lines and a repeat of the previous line are not worth keeping. */
    while (i < t->len && t->line[i] == ' ') {
        i++;
    }
    if (i == t->len) {
        return;
    }
    if (t->nhist > 0 && strlen(t->hist[t->nhist - 1]) == t->len &&
        memcmp(t->hist[t->nhist - 1], t->line, t->len) == 0) {
        return;
    }
    copy = strndup(t->line, t->len);
    if (copy == NULL) {
        return; /* history is a convenience; running the line matters more */
    }
    if (t->nhist == TERM_HIST_MAX) {
        free(t->hist[0]);
        memmove(t->hist, t->hist + 1, (TERM_HIST_MAX - 1) * sizeof(t->hist[0]));
        t->nhist--;
    }
    t->hist[t->nhist++] = copy;
}

static void term_hist_up(struct shell_term *t)
{
    if (t->hist_pos == 0) {
        term_beep(t);
        return;
    }
    if (t->hist_pos == t->nhist) {
        free(t->saved);
        t->saved = strndup(t->line, t->len);
        if (t->saved == NULL) {
            term_beep(t);
            return;
        }
    }
    t->hist_pos--;
    term_set_line(t, t->hist[t->hist_pos], strlen(t->hist[t->hist_pos]));
}

static void term_hist_down(struct shell_term *t)
{
    const char *s = NULL;

    if (t->hist_pos >= t->nhist) {
        term_beep(t);
        return;
    }
    t->hist_pos++;
    s = t->hist_pos == t->nhist ? t->saved : t->hist[t->hist_pos];
    term_set_line(t, s != NULL ? s : "", s != NULL ? strlen(s) : 0);
    if (t->hist_pos == t->nhist) {
        free(t->saved);
        t->saved = NULL;
    }
}

/* ---- running a line ---- */

static void term_run(struct shell_term *t)
{
    size_t len = t->len;

    term_emits(t, "\r\n");
    term_flush(t);
    term_hist_add(t);
    t->line[len] = '\0';
    term_clear_line(t);
    (void)shell_run_line(t->c, t->line, len);
    if (t->c->want_exit) {
        t->ended = 1;
        return;
    }
    if (t->c->job != NULL || t->c->connect_target[0] != '\0') {
        /* the session takes over; shell_term_resume brings the prompt back */
        t->paused = 1;
        return;
    }
    term_prompt(t);
}

/* ---- escape sequences ---- */

static void term_csi_final(struct shell_term *t, unsigned char final)
{
    /* The first parameter decides; modifiers after ';' (ctrl, shift) do not. */
    int p = atoi(t->csi);

    switch (final) {
    case 'A':
        term_hist_up(t);
        break;
    case 'B':
        term_hist_down(t);
        break;
    case 'C':
        term_right(t);
        break;
    case 'D':
        term_left(t);
        break;
    case 'H':
        term_home(t);
        break;
    case 'F':
        term_end(t);
        break;
    case '~':
        if (p == 1 || p == 7) {
            term_home(t);
        } else if (p == 4 || p == 8) {
            term_end(t);
        } else if (p == 3) {
            term_delete(t, t->cur, term_next_cp(t, t->cur));
        }
        /* Anything else (F-keys, Insert, paste brackets): ignored. */
        break;
    default:
        break;
    }
}

/*
 * Feeds one byte to the escape parser.  Returns 1 when the byte was consumed
 * there, 0 when it must be handled as ordinary input (a control byte cuts a
 * sequence short, as a terminal would).
 */
static int term_esc_byte(struct shell_term *t, unsigned char ch)
{
    switch (t->esc) {
    case TERM_ESC_NONE:
        return 0;
    case TERM_ESC_ESC:
        if (ch == '[') {
            t->esc = TERM_ESC_CSI;
            t->ncsi = 0;
            memset(t->csi, 0, sizeof(t->csi));
            return 1;
        }
        if (ch == 'O') {
            t->esc = TERM_ESC_SS3;
            return 1;
        }
        if (ch == 0x1b) {
            return 1;
        }
        t->esc = TERM_ESC_NONE;
        /* Alt+key (ESC then the key) is swallowed; controls still work. */
        return ch >= 0x20 && ch < 0x7f;
    case TERM_ESC_CSI:
        if (ch >= 0x20 && ch <= 0x3f) {
            if (t->ncsi < sizeof(t->csi) - 1) {
                t->csi[t->ncsi++] = (char)ch;
            }
            return 1;
        }
        t->esc = TERM_ESC_NONE;
        if (ch >= 0x40 && ch <= 0x7e) {
            term_csi_final(t, ch);
            return 1;
        }
        return 0;
    case TERM_ESC_SS3:
        t->esc = TERM_ESC_NONE;
        if (ch >= 0x40 && ch <= 0x7e) {
            t->ncsi = 0;
            memset(t->csi, 0, sizeof(t->csi));
            term_csi_final(t, ch);
            return 1;
        }
        return ch >= 0x20 && ch < 0x40;
    }
    return 0;
}

/* ---- input ---- */

/* Collects a UTF-8 character; inserts it when whole and acceptable. */
static void term_utf8_byte(struct shell_term *t, unsigned char ch)
{
    if ((ch & 0xc0) == 0x80) {
        if (t->u8_need == 0) {
            term_beep(t); /* a continuation byte with no start */
            return;
        }
        t->u8[t->nu8++] = ch;
        if (t->nu8 < t->u8_need) {
            return;
        }
        /* Overlong forms, surrogates and C1 controls are not characters here. */
        if (db_utf8_valid((const char *)t->u8, t->nu8) && !(t->u8[0] == 0xc2 && t->u8[1] < 0xa0)) {
            term_insert(t, (const char *)t->u8, t->nu8);
        } else {
            term_beep(t);
        }
        t->nu8 = t->u8_need = 0;
        return;
    }
    if (ch >= 0xc2 && ch <= 0xf4) {
        t->u8[0] = ch;
        t->nu8 = 1;
        t->u8_need = ch < 0xe0 ? 2 : ch < 0xf0 ? 3 : 4;
        return;
    }
    term_beep(t);
}

static void term_key(struct shell_term *t, unsigned char ch)
{
    switch (ch) {
    case '\r':
    case '\n':
        term_run(t);
        break;
    case 0x7f:
    case 0x08:
        term_delete(t, term_prev_cp(t, t->cur), t->cur);
        break;
    case 0x15: /* ^U */
        term_set_line(t, "", 0);
        break;
    case 0x17: /* ^W */
        term_rubout_word(t);
        break;
    case 0x01: /* ^A */
        term_home(t);
        break;
    case 0x05: /* ^E */
        term_end(t);
        break;
    case 0x03: /* ^C */
        term_emits(t, "^C\r\n");
        term_clear_line(t);
        term_prompt(t);
        break;
    case 0x04: /* ^D */
        if (t->len == 0) {
            term_emits(t, "\r\n");
            t->c->want_exit = 1;
            t->ended = 1;
        } else {
            term_delete(t, t->cur, term_next_cp(t, t->cur));
        }
        break;
    case 0x0c: /* ^L */
        term_emits(t, "\x1b[H\x1b[2J");
        term_prompt(t);
        term_emit(t, t->line, t->len);
        term_move(t, term_cols(t->line + t->cur, t->len - t->cur), 'D');
        break;
    case '\t':
        /* No completion; a pasted tab still separates words. */
        term_insert(t, " ", 1);
        break;
    case 0x1b:
        t->esc = TERM_ESC_ESC;
        break;
    default:
        if (ch >= 0x20 && ch < 0x7f) {
            char b = (char)ch;

            term_insert(t, &b, 1);
        } else if (ch >= 0x80) {
            term_utf8_byte(t, ch);
        }
        /* Other control bytes do nothing. */
        break;
    }
}

static void term_byte(struct shell_term *t, unsigned char ch)
{
    int after_cr = t->last_cr;

    t->last_cr = ch == '\r';
    if (term_esc_byte(t, ch)) {
        return;
    }
    if (ch == '\n' && after_cr) {
        return; /* the LF of a CRLF: the CR already ran the line */
    }
    if (t->nu8 > 0 && (ch & 0xc0) != 0x80) {
        /* A character cut short by something else: drop what we had. */
        t->nu8 = t->u8_need = 0;
        term_beep(t);
    }
    term_key(t, ch);
}

int shell_term_input(struct shell_term *t, const char *buf, size_t len)
{
    if (t == NULL) {
        return 1;
    }
    for (size_t i = 0; i < len && !t->ended && !t->paused; i++) {
        term_byte(t, (unsigned char)buf[i]);
    }
    term_flush(t);
    return t->ended;
}

void shell_term_resume(struct shell_term *t)
{
    if (t == NULL || !t->paused) {
        return;
    }
    t->paused = 0;
    term_prompt(t);
    term_flush(t);
}

struct shell_term *shell_term_new(struct shell_ctx *c)
{
    struct shell_term *t = NULL;
    char user[72];
    const char *u = NULL;

    if (c == NULL) {
        return NULL;
    }
    t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return NULL;
    }
    t->c = c;
    u = c->user != NULL ? c->user : "";
    shell_sanitize(user, sizeof(user), u, strlen(u), 1);
    term_emits(t, "Drawbridge \xe2\x80\x94 type 'help' for commands.  Signed in as ");
    term_emits(t, user);
    term_emits(t, ".\r\n");
    term_prompt(t);
    term_flush(t);
    return t;
}

void shell_term_free(struct shell_term *t)
{
    if (t == NULL) {
        return;
    }
    for (size_t i = 0; i < t->nhist; i++) {
        free(t->hist[i]);
    }
    free(t->saved);
    free(t);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The shell's line parser: splits what a user typed (or passed to `ssh gw
 * COMMAND`) into words.  No system shell is ever involved and nothing is
 * expanded: $, `, *, ;, |, &, <, >, ~ and $(...) are ordinary bytes that end
 * up in words as typed.  The only syntax is whitespace between words, '...'
 * (everything literal), "..." (where \" and \\ are escapes and any other
 * backslash is kept) and a backslash outside quotes, which takes the next
 * byte literally.
 *
 * The input is untrusted and comes with an explicit length; a NUL inside it
 * is refused like every other control byte except tab.  Bytes >= 0x80 are
 * allowed here (commands check what they need, e.g. UTF-8 in a reason).
 */
#include "shell.h"

#include <stdlib.h>
#include <string.h>

#include "common.h"

/* Characters the parser treats as word separators. */
static int parse_is_space(unsigned char ch)
{
    return ch == ' ' || ch == '\t';
}

/* C0 controls (except tab) and DEL are never part of a command line. */
static int parse_is_control(unsigned char ch)
{
    return (ch < 0x20 && ch != '\t') || ch == 0x7f;
}

void shell_argv_clear(struct shell_argv *a)
{
    if (a == NULL) {
        return;
    }
    for (int i = 0; i < SHELL_ARGS_MAX + 1; i++) {
        free(a->argv[i]);
        a->argv[i] = NULL;
    }
    a->argc = 0;
}

/* Appends the finished word in buf[0..n) to out; caller checked the count. */
static int parse_push_word(struct shell_argv *out, const char *buf, size_t n)
{
    char *w = malloc(n + 1);

    if (w == NULL) {
        return DB_ERR_NOMEM;
    }
    memcpy(w, buf, n);
    w[n] = '\0';
    out->argv[out->argc++] = w;
    out->argv[out->argc] = NULL;
    return 0;
}

/*
 * Checks the whole line before splitting it, so that the message names the
 * first offending byte whatever quoting surrounds it.
 */
static int parse_check_bytes(const unsigned char *u, size_t len, char *err, size_t errlen)
{
    if (len > SHELL_LINE_MAX) {
        db_errf(err, errlen, "line too long (%zu bytes; at most %d)", len, SHELL_LINE_MAX);
        return DB_ERR_INVALID;
    }
    for (size_t i = 0; i < len; i++) {
        if (parse_is_control(u[i])) {
            db_errf(err, errlen, "control character 0x%02x at column %zu is not allowed",
                    (unsigned)u[i], i + 1);
            return DB_ERR_INVALID;
        }
    }
    return 0;
}

enum parse_state {
    PARSE_BETWEEN, /* skipping whitespace between words */
    PARSE_WORD,    /* inside an unquoted part of a word */
    PARSE_SQUOTE,  /* inside '...' */
    PARSE_DQUOTE,  /* inside "..." */
};

int shell_parse(const char *line, size_t len, struct shell_argv *out, char *err, size_t errlen)
{
    const unsigned char *u = (const unsigned char *)line;
    enum parse_state st = PARSE_BETWEEN;
    size_t quote_col = 0; /* where the open quote was, for the message */
    char *word = NULL;    /* the word being built; never longer than the line */
    size_t wlen = 0;
    int r = DB_ERR_INVALID;

    if (out == NULL) {
        return DB_ERR_INVALID;
    }
    memset(out, 0, sizeof(*out));
    if (err != NULL && errlen > 0) {
        err[0] = '\0';
    }
    if (line == NULL && len > 0) {
        db_errf(err, errlen, "no input");
        goto out;
    }
    r = parse_check_bytes(u, len, err, errlen);
    if (r < 0) {
        goto out;
    }
    r = DB_ERR_NOMEM;
    word = malloc(len + 1);
    if (word == NULL) {
        db_errf(err, errlen, "out of memory");
        goto out;
    }
    r = DB_ERR_INVALID;

    for (size_t i = 0; i < len; i++) {
        unsigned char ch = u[i];

        switch (st) {
        case PARSE_BETWEEN:
        case PARSE_WORD:
            if (parse_is_space(ch)) {
                if (st == PARSE_WORD) {
                    if (out->argc >= SHELL_ARGS_MAX) {
                        db_errf(err, errlen, "too many words (at most %d)", SHELL_ARGS_MAX);
                        goto out;
                    }
                    if (parse_push_word(out, word, wlen) < 0) {
                        r = DB_ERR_NOMEM;
                        db_errf(err, errlen, "out of memory");
                        goto out;
                    }
                    wlen = 0;
                    st = PARSE_BETWEEN;
                }
                break;
            }
            st = PARSE_WORD;
            if (ch == '\'') {
                st = PARSE_SQUOTE;
                quote_col = i + 1;
            } else if (ch == '"') {
                st = PARSE_DQUOTE;
                quote_col = i + 1;
            } else if (ch == '\\') {
                if (i + 1 >= len) {
                    db_errf(err, errlen, "line ends with a backslash");
                    goto out;
                }
                word[wlen++] = (char)u[++i];
            } else {
                word[wlen++] = (char)ch;
            }
            break;
        case PARSE_SQUOTE:
            if (ch == '\'') {
                st = PARSE_WORD;
            } else {
                word[wlen++] = (char)ch;
            }
            break;
        case PARSE_DQUOTE:
            if (ch == '"') {
                st = PARSE_WORD;
            } else if (ch == '\\' && i + 1 < len && (u[i + 1] == '"' || u[i + 1] == '\\')) {
                word[wlen++] = (char)u[++i];
            } else {
                word[wlen++] = (char)ch;
            }
            break;
        }
    }

    if (st == PARSE_SQUOTE || st == PARSE_DQUOTE) {
        db_errf(err, errlen, "unterminated %s quote (opened at column %zu)",
                st == PARSE_SQUOTE ? "single" : "double", quote_col);
        goto out;
    }
    if (st == PARSE_WORD) {
        if (out->argc >= SHELL_ARGS_MAX) {
            db_errf(err, errlen, "too many words (at most %d)", SHELL_ARGS_MAX);
            goto out;
        }
        if (parse_push_word(out, word, wlen) < 0) {
            r = DB_ERR_NOMEM;
            db_errf(err, errlen, "out of memory");
            goto out;
        }
    }
    r = 0;
out:
    free(word);
    if (r < 0) {
        shell_argv_clear(out);
    }
    return r;
}

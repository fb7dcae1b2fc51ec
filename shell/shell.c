/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The context a shell command runs in: its stdout/stderr (shell_out,
 * shell_err, shell_write), running one line (parse, look the command up in
 * the table, dispatch), and small helpers every command uses so that errors,
 * usage messages and JSON look the same everywhere.
 *
 * On a pty (c->interactive) the terminal is in raw mode, so "\n" is sent as
 * "\r\n"; stderr then goes to the same stream, which the write callback
 * decides from is_err.  Anything we echo back that came from a user, LDAP or
 * the store goes through shell_sanitize first, so that no one can make a
 * reviewer's terminal run escape sequences.
 */
#include "shell.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "common.h"

/* Longest command name echoed back in "unknown command" (bytes, sanitized). */
#define SHELL_ECHO_NAME_MAX 40

void shell_write(struct shell_ctx *c, int is_err, const char *buf, size_t len)
{
    char chunk[1024];
    size_t n = 0;

    if (c == NULL || c->write == NULL || buf == NULL || len == 0) {
        return;
    }
    if (!c->interactive) {
        (void)c->write(c->io, is_err, buf, len);
        return;
    }
    /*
     * Raw-mode terminal: a lone "\n" only moves down.  Translate through a
     * small buffer rather than one write per line; a "\r\n" already there is
     * left alone.
     */
    for (size_t i = 0; i < len; i++) {
        if (n + 2 > sizeof(chunk)) {
            (void)c->write(c->io, is_err, chunk, n);
            n = 0;
        }
        if (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r')) {
            chunk[n++] = '\r';
        }
        chunk[n++] = buf[i];
    }
    if (n > 0) {
        (void)c->write(c->io, is_err, chunk, n);
    }
}

static void shell_vprintf(struct shell_ctx *c, int is_err, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void shell_vprintf(struct shell_ctx *c, int is_err, const char *fmt, va_list ap)
{
    char small[512];
    char *big = NULL;
    va_list ap2;
    int n;

    va_copy(ap2, ap);
    n = vsnprintf(small, sizeof(small), fmt, ap);
    if (n < 0) {
        goto out;
    }
    if ((size_t)n < sizeof(small)) {
        shell_write(c, is_err, small, (size_t)n);
        goto out;
    }
    big = malloc((size_t)n + 1);
    if (big == NULL) {
        /* Better a truncated line than none. */
        shell_write(c, is_err, small, sizeof(small) - 1);
        goto out;
    }
    vsnprintf(big, (size_t)n + 1, fmt, ap2);
    shell_write(c, is_err, big, (size_t)n);
out:
    va_end(ap2);
    free(big);
}

void shell_out(struct shell_ctx *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    shell_vprintf(c, 0, fmt, ap);
    va_end(ap);
}

void shell_err(struct shell_ctx *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    shell_vprintf(c, 1, fmt, ap);
    va_end(ap);
}

int shell_fail(struct shell_ctx *c, const char *fmt, ...)
{
    va_list ap;

    shell_err(c, "drawbridge: ");
    va_start(ap, fmt);
    shell_vprintf(c, 1, fmt, ap);
    va_end(ap);
    shell_err(c, "\n");
    return SHELL_FAIL;
}

int shell_usage(struct shell_ctx *c, const char *name, const char *why)
{
    const struct shell_cmd_entry *e = shell_cmd_find(name);

    if (why != NULL && why[0] != '\0') {
        shell_err(c, "drawbridge: %s\n", why);
    }
    if (e != NULL) {
        shell_err(c, "usage: %s\n", e->usage);
    }
    return SHELL_USAGE;
}

int shell_cmd_opts(struct shell_ctx *c, const char *const *spec, int argc, char **argv,
                   struct shell_opts *o)
{
    char err[256];

    if (shell_opts_parse(spec, argc, argv, o, err, sizeof(err)) < 0) {
        return shell_usage(c, argc > 0 ? argv[0] : NULL, err);
    }
    return 0;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when it is not one. */
static size_t shell_utf8_len(const unsigned char *s, size_t avail)
{
    size_t n = 0;

    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        n = 2;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        n = 3;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        n = 4;
    }
    if (n == 0 || n > avail || !db_utf8_valid((const char *)s, n)) {
        return 0;
    }
    /* C1 controls (U+0080..U+009F) act like ESC sequences on some terminals. */
    if (n == 2 && s[0] == 0xc2 && s[1] < 0xa0) {
        return 0;
    }
    return n;
}

/*
 * One step of shell_sanitize: how many input bytes the unit at in[i] takes
 * (*nin) and what it becomes: itself (returns 1) or a single '?' (returns 0).
 */
static int shell_sanitize_unit(const unsigned char *u, size_t i, size_t inlen, int ascii_only,
                               size_t *nin)
{
    size_t n;

    *nin = 1;
    if (u[i] >= 0x20 && u[i] < 0x7f) {
        return 1;
    }
    if (u[i] < 0x80) {
        return 0;
    }
    /* A whole character is one '?' when only ASCII may pass. */
    n = shell_utf8_len(u + i, inlen - i);
    *nin = n > 0 ? n : 1;
    return n > 0 && !ascii_only;
}

char *shell_sanitize(char *out, size_t outlen, const char *in, size_t inlen, int ascii_only)
{
    const unsigned char *u = (const unsigned char *)in;
    size_t o = 0, i = 0, need = 0, budget, nin;

    if (out == NULL || outlen == 0) {
        return out;
    }
    if (in == NULL) {
        inlen = 0;
    }
    /* First pass: does it all fit?  Then nothing is cut. */
    for (i = 0; i < inlen; i += nin) {
        need += shell_sanitize_unit(u, i, inlen, ascii_only, &nin) ? nin : 1;
    }
    budget = need < outlen ? need : (outlen >= 4 ? outlen - 4 : 0);
    for (i = 0; i < inlen; i += nin) {
        int keep = shell_sanitize_unit(u, i, inlen, ascii_only, &nin);
        size_t take = keep ? nin : 1;

        if (o + take > budget) {
            break; /* never inside a UTF-8 sequence */
        }
        if (keep) {
            memcpy(out + o, in + i, nin);
        } else {
            out[o] = '?';
        }
        o += take;
    }
    if (need >= outlen && outlen >= 4) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

struct json_t *shell_json_string(const char *s)
{
    json_t *j = NULL;
    char *clean = NULL;
    size_t len = s != NULL ? strlen(s) : 0;

    if (s == NULL) {
        return json_null();
    }
    j = json_stringn(s, len);
    if (j != NULL) {
        return j;
    }
    /* Not UTF-8: JSON cannot carry it, so say so with '?' rather than fail. */
    clean = malloc(len + 8); /* one byte out per byte in: never truncated */
    if (clean == NULL) {
        return NULL;
    }
    shell_sanitize(clean, len + 8, s, len, 0);
    j = json_string(clean);
    free(clean);
    return j;
}

int shell_out_json(struct shell_ctx *c, struct json_t *v)
{
    char *s = NULL;

    if (v == NULL) {
        return DB_ERR_NOMEM;
    }
    s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    if (s == NULL) {
        return DB_ERR_NOMEM;
    }
    shell_write(c, 0, s, strlen(s));
    shell_write(c, 0, "\n", 1);
    free(s);
    return 0;
}

/* Maps whatever a command returned onto the documented 0/1/2. */
static int shell_exit_status(int r)
{
    if (r == SHELL_OK || r == SHELL_FAIL || r == SHELL_USAGE) {
        return r;
    }
    return r == DB_ERR_USAGE ? SHELL_USAGE : SHELL_FAIL;
}

int shell_run_line(struct shell_ctx *c, const char *line, size_t len)
{
    struct shell_argv a;
    const struct shell_cmd_entry *e = NULL;
    char err[256];
    char name[SHELL_ECHO_NAME_MAX + 4];
    int r = SHELL_FAIL;

    if (shell_parse(line, len, &a, err, sizeof(err)) < 0) {
        shell_err(c, "drawbridge: %s\n", err);
        return SHELL_USAGE;
    }
    if (a.argc == 0) {
        r = SHELL_OK;
        goto out;
    }
    e = shell_cmd_find(a.argv[0]);
    if (e == NULL) {
        shell_sanitize(name, sizeof(name), a.argv[0], strlen(a.argv[0]), 1);
        shell_err(c, "drawbridge: unknown command '%s'; try 'help'\n", name);
        r = SHELL_USAGE;
        goto out;
    }
    r = shell_exit_status(e->exec(c, a.argc, a.argv));
out:
    shell_argv_clear(&a);
    return r;
}

long long shell_now(struct shell_ctx *c)
{
    if (c->clock != NULL) {
        return c->clock(c->clock_ctx);
    }
    return (long long)time(NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the shell line parser (shell/parse.c), which sees
 * every byte a user sends as a command.  Beyond "does not crash", it checks
 * what the parser promises:
 *
 *  - success gives at most SHELL_ARGS_MAX words, argv[argc] == NULL, no word
 *    holding a control byte other than tab, and no more bytes than came in;
 *  - failure leaves the result empty and says why in one printable line;
 *  - round trip: quoting each word with '...' and parsing the joined line
 *    again gives the same words (so quoting is all there is to the syntax).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "shell.h"

static void check_words(const struct shell_argv *a, size_t inlen)
{
    size_t total = 0;

    if (a->argc < 0 || a->argc > SHELL_ARGS_MAX || a->argv[a->argc] != NULL) {
        abort();
    }
    for (int i = 0; i < a->argc; i++) {
        const unsigned char *w = (const unsigned char *)a->argv[i];
        size_t n = strlen(a->argv[i]);

        for (size_t k = 0; k < n; k++) {
            if ((w[k] < 0x20 && w[k] != '\t') || w[k] == 0x7f) {
                abort();
            }
        }
        total += n;
    }
    if (total > inlen) {
        abort();
    }
}

/* 'a'\''b' style quoting; returns NULL when the line would be too long. */
static char *requote(const struct shell_argv *a, size_t *len)
{
    size_t cap = 0, n = 0;
    char *s = NULL;

    for (int i = 0; i < a->argc; i++) {
        cap += strlen(a->argv[i]) * 4 + 3;
    }
    s = malloc(cap + 1);
    if (s == NULL) {
        abort();
    }
    for (int i = 0; i < a->argc; i++) {
        if (i > 0) {
            s[n++] = ' ';
        }
        s[n++] = '\'';
        for (const char *p = a->argv[i]; *p != '\0'; p++) {
            if (*p == '\'') {
                memcpy(s + n, "'\\''", 4);
                n += 4;
            } else {
                s[n++] = *p;
            }
        }
        s[n++] = '\'';
    }
    s[n] = '\0';
    *len = n;
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct shell_argv a, b;
    char err[256];
    char *line = NULL;
    size_t len = 0;
    int r;

    r = shell_parse((const char *)data, size, &a, err, sizeof(err));
    if (r < 0) {
        if (r != DB_ERR_INVALID || a.argc != 0 || a.argv[0] != NULL || err[0] == '\0') {
            abort();
        }
        for (const char *p = err; *p != '\0'; p++) {
            if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f) {
                abort();
            }
        }
        return 0;
    }
    check_words(&a, size);

    line = requote(&a, &len);
    if (len <= SHELL_LINE_MAX) {
        if (shell_parse(line, len, &b, err, sizeof(err)) != 0 || b.argc != a.argc) {
            abort();
        }
        for (int i = 0; i < a.argc; i++) {
            if (strcmp(a.argv[i], b.argv[i]) != 0) {
                abort();
            }
        }
        shell_argv_clear(&b);
    }
    free(line);
    shell_argv_clear(&a);
    return 0;
}

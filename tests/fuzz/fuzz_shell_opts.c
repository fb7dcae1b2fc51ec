/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for command option parsing (shell/opts.c) over every
 * line the line parser accepts, with two specs: request's (a free-text
 * --reason among value options and a flag) and search's ("*": all the
 * other words are the text).  Beyond "does not crash", it checks what the
 * parser promises against a small model written here from DESIGN.md ("Free
 * text in one-shot commands"):
 *
 *  - failure leaves no value and no positional word, and says why in one
 *    printable line;
 *  - --reason is every word after it (and the part after '=') up to the
 *    next of the spec's own options, one part as it stands, several joined
 *    with single spaces, empty parts left out;
 *  - search's text is every word that is not one of its options (after the
 *    first "--", every word), joined the same way.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "shell.h"

static const char *const spec_req[] = {"for=", "reason=", "login=", "json", NULL};
static const char *const spec_rest[] = {"limit=", "json", "*", NULL};

/* 1 when w is "--NAME" or "--NAME=..." for a NAME in names. */
static int is_opt(const char *w, const char *const *names)
{
    for (int i = 0; names[i] != NULL; i++) {
        size_t n = strlen(names[i]);

        if (strncmp(w, "--", 2) == 0 && strncmp(w + 2, names[i], n) == 0 &&
            (w[2 + n] == '\0' || w[2 + n] == '=')) {
            return 1;
        }
    }
    return 0;
}

/* Appends part to buf (of SHELL_LINE_MAX + 1) the way the parser joins. */
static void join(char *buf, size_t *len, const char *part)
{
    size_t n = strlen(part);

    if (n == 0) {
        return;
    }
    if (*len > 0) {
        buf[(*len)++] = ' ';
    }
    memcpy(buf + *len, part, n);
    *len += n;
    buf[*len] = '\0';
}

static void check_failure(const struct shell_opts *o, const char *err)
{
    if (o->npos != 0 || err[0] == '\0') {
        abort();
    }
    for (int k = 0; k < 16; k++) {
        if (o->values[k] != NULL) {
            abort();
        }
    }
    for (const char *p = err; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f) {
            abort();
        }
    }
}

/* The model of --reason in request's spec, compared with what o holds. */
static void check_reason(const struct shell_argv *a, const struct shell_opts *o, char *buf)
{
    static const char *const own[] = {"for", "reason", "login", "json", NULL};
    static const char *const valued[] = {"for", "login", NULL};
    static const char *const reason[] = {"reason", NULL};
    const char *got = shell_opt(o, "reason");
    const char *first = NULL;
    size_t len = 0;
    int i = 1, nparts = 0, j;

    for (; i < a->argc; i++) {
        const char *w = a->argv[i];

        if (strcmp(w, "--") == 0) {
            i = a->argc;
        } else if (is_opt(w, reason)) {
            break;
        } else if (is_opt(w, valued) && strchr(w, '=') == NULL) {
            i++;
        }
    }
    if (i >= a->argc) {
        if (got != NULL) {
            abort();
        }
        return;
    }
    buf[0] = '\0';
    if (strchr(a->argv[i], '=') != NULL) {
        first = strchr(a->argv[i], '=') + 1;
        join(buf, &len, first);
        nparts++;
    }
    for (j = i + 1; j < a->argc && !is_opt(a->argv[j], own); j++) {
        join(buf, &len, a->argv[j]);
        nparts++;
    }
    if (got == NULL || nparts == 0) {
        abort();
    }
    if (nparts == 1) {
        buf = (char *)(first != NULL ? first : a->argv[i + 1]);
    }
    if (strcmp(got, buf) != 0) {
        abort();
    }
}

/* The model of search's text, compared with what o holds. */
static void check_rest(const struct shell_argv *a, const struct shell_opts *o, char *buf)
{
    static const char *const own[] = {"limit", "json", NULL};
    const char *got = shell_opt(o, "*");
    size_t len = 0;
    int only = 0, parts = 0;

    buf[0] = '\0';
    for (int i = 1; i < a->argc; i++) {
        const char *w = a->argv[i];

        if (!only && strcmp(w, "--") == 0) {
            only = 1;
        } else if (!only && is_opt(w, own)) {
            if (strncmp(w, "--limit", 7) == 0 && w[7] == '\0') {
                i++;
            }
        } else {
            join(buf, &len, w);
            parts++;
        }
    }
    if ((parts == 0) != (got == NULL) || (got != NULL && strcmp(got, buf) != 0)) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char buf[SHELL_LINE_MAX + 1];
    struct shell_argv a;
    struct shell_opts *o = malloc(sizeof(*o));
    char err[256];

    if (o == NULL) {
        abort();
    }
    if (shell_parse((const char *)data, size, &a, err, sizeof(err)) == 0) {
        if (shell_opts_parse(spec_req, a.argc, a.argv, o, err, sizeof(err)) == 0) {
            check_reason(&a, o, buf);
        } else {
            check_failure(o, err);
        }
        if (shell_opts_parse(spec_rest, a.argc, a.argv, o, err, sizeof(err)) == 0) {
            check_rest(&a, o, buf);
        } else {
            check_failure(o, err);
        }
        shell_argv_clear(&a);
    }
    free(o);
    return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Option parsing shared by every shell command.  Only long options exist
 * ("--for 1h", "--for=1h", "--json"); a command lists the names it accepts
 * and whether each takes a value, and gets back the values and the positional
 * words.  Anything it did not list is a usage error, and so is giving an
 * option twice: a request with two reasons is ambiguous, and silently keeping
 * one of them would record something the user did not mean.
 *
 * Options and positional words may be mixed ("approve --comment ok 12"), as
 * users type them in any order; "--" ends options for words that start with
 * a dash.  Messages quote the user's words sanitized, so they are safe to
 * print on the user's terminal.
 */
#include "shell.h"

#include <string.h>

#include "common.h"

#define OPTS_MAX 16
#define OPTS_POS_MAX 16

/* Length of a spec name without its trailing '=' (which marks a value). */
static size_t opts_name_len(const char *spec_name, int *takes_value)
{
    size_t n = strlen(spec_name);

    *takes_value = n > 0 && spec_name[n - 1] == '=';
    return *takes_value ? n - 1 : n;
}

/* Index of the spec entry called name[0..len), or -1. */
static int opts_find(const struct shell_opts *o, const char *name, size_t len, int *takes_value)
{
    for (int i = 0; i < OPTS_MAX && o->names[i] != NULL; i++) {
        size_t n = opts_name_len(o->names[i], takes_value);

        if (n == len && memcmp(o->names[i], name, len) == 0) {
            return i;
        }
    }
    *takes_value = 0;
    return -1;
}

/* Handles argv[*i], which starts with "--" and is not "--" itself. */
static int opts_one(struct shell_opts *o, int argc, char **argv, int *i, char *err, size_t errlen)
{
    const char *word = argv[*i];
    const char *name = word + 2;
    const char *eq = strchr(name, '=');
    size_t len = eq != NULL ? (size_t)(eq - name) : strlen(name);
    char shown[48];
    int takes_value = 0;
    int k = opts_find(o, name, len, &takes_value);

    shell_sanitize(shown, sizeof(shown), word, eq != NULL ? (size_t)(eq - word) : strlen(word), 1);
    if (k < 0) {
        db_errf(err, errlen, "unknown option '%s'", shown);
        return DB_ERR_USAGE;
    }
    if (o->values[k] != NULL) {
        db_errf(err, errlen, "option '%s' given more than once", shown);
        return DB_ERR_USAGE;
    }
    if (!takes_value) {
        if (eq != NULL) {
            db_errf(err, errlen, "option '%s' takes no value", shown);
            return DB_ERR_USAGE;
        }
        o->values[k] = "";
        return 0;
    }
    if (eq != NULL) {
        o->values[k] = eq + 1;
        return 0;
    }
    if (*i + 1 >= argc || argv[*i + 1] == NULL) {
        db_errf(err, errlen, "option '%s' needs a value", shown);
        return DB_ERR_USAGE;
    }
    *i += 1;
    o->values[k] = argv[*i];
    return 0;
}

static int opts_positional(struct shell_opts *o, const char *word, char *err, size_t errlen)
{
    if (o->npos >= OPTS_POS_MAX) {
        db_errf(err, errlen, "too many arguments (at most %d)", OPTS_POS_MAX);
        return DB_ERR_USAGE;
    }
    o->pos[o->npos++] = word;
    return 0;
}

int shell_opts_parse(const char *const *spec, int argc, char **argv, struct shell_opts *o,
                     char *err, size_t errlen)
{
    int only_pos = 0;
    int r = DB_ERR_USAGE;

    if (o == NULL) {
        return DB_ERR_INVALID;
    }
    memset(o, 0, sizeof(*o));
    if (err != NULL && errlen > 0) {
        err[0] = '\0';
    }
    for (int k = 0; spec != NULL && spec[k] != NULL; k++) {
        if (k >= OPTS_MAX) {
            db_errf(err, errlen, "internal error: too many options in spec");
            r = DB_ERR_INVALID;
            goto out;
        }
        o->names[k] = spec[k];
    }
    for (int i = 1; i < argc && argv != NULL && argv[i] != NULL; i++) {
        const char *w = argv[i];

        if (!only_pos && strcmp(w, "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (!only_pos && w[0] == '-' && w[1] == '-') {
            r = opts_one(o, argc, argv, &i, err, errlen);
        } else if (!only_pos && w[0] == '-' && w[1] != '\0') {
            char shown[48];

            shell_sanitize(shown, sizeof(shown), w, strlen(w), 1);
            db_errf(err, errlen, "unknown option '%s' (options are long: --name)", shown);
            r = DB_ERR_USAGE;
        } else {
            r = opts_positional(o, w, err, errlen);
        }
        if (r < 0) {
            goto out;
        }
    }
    r = 0;
out:
    if (r < 0) {
        /* Leave nothing half-filled for a caller that ignores the code. */
        memset(o->values, 0, sizeof(o->values));
        memset(o->pos, 0, sizeof(o->pos));
        o->npos = 0;
    }
    return r;
}

const char *shell_opt(const struct shell_opts *o, const char *name)
{
    int takes_value = 0;
    size_t len;
    int k;

    if (o == NULL || name == NULL) {
        return NULL;
    }
    /* Accept the name as listed in the spec too ("for=" as well as "for"). */
    len = opts_name_len(name, &takes_value);
    if (len >= 2 && name[0] == '-' && name[1] == '-') {
        name += 2;
        len -= 2;
    }
    k = opts_find(o, name, len, &takes_value);
    return k < 0 ? NULL : o->values[k];
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Option parsing shared by every shell command.  Only long options exist
 * ("--for 1h", "--for=1h", "--json"); a command lists the names it accepts
 * and whether each takes a value, and gets back the values and the positional
 * words.  Anything it did not list is a usage error, and so is giving an
 * option twice: a request with two reasons is ambiguous, and silently keeping
 * one of them would record something the user did not mean.
 *
 * Free text.  `ssh gw request web-1 --for 1h --reason INC-4711: disk full`
 * arrives as one line with the user's quotes gone (ssh joins the words of a
 * remote command with spaces), so a free-text option -- --reason, --comment
 * or --note -- takes every following word up to the next word that is one of
 * the command's own options ("--for", "--for=2h"), joined with single spaces.
 * Any other word, "--" and words starting with a dash included, is text.  A
 * command whose spec holds "*" (search) takes all its words that are not its
 * own options as one text the same way.  To write one of the command's option
 * names inside a text, the text is quoted as one word ('see --for details').
 *
 * Options and positional words may otherwise be mixed ("approve 12 --json"),
 * as users type them in any order; "--" ends options for words that start
 * with a dash.  Messages quote the user's words sanitized, so they are safe
 * to print on the user's terminal.
 */
#include "shell.h"

#include <string.h>

#include "common.h"

#define OPTS_MAX 16
#define OPTS_POS_MAX 16

/* The options whose value is free text (DESIGN.md, "Free text in one-shot commands"). */
static const char *const opts_free_names[] = {"reason", "comment", "note", NULL};

/* Length of a spec name without its trailing '=' (which marks a value). */
static size_t opts_name_len(const char *spec_name, int *takes_value)
{
    size_t n = strlen(spec_name);

    *takes_value = n > 0 && spec_name[n - 1] == '=';
    return *takes_value ? n - 1 : n;
}

/* "*" in a spec is not an option: it makes the positional words one text. */
static int opts_is_rest(const char *spec_name)
{
    return strcmp(spec_name, "*") == 0;
}

/* Index of the spec entry called name[0..len), or -1. */
static int opts_find(const struct shell_opts *o, const char *name, size_t len, int *takes_value)
{
    for (int i = 0; i < OPTS_MAX && o->names[i] != NULL; i++) {
        size_t n = opts_name_len(o->names[i], takes_value);

        if (!opts_is_rest(o->names[i]) && n == len && memcmp(o->names[i], name, len) == 0) {
            return i;
        }
    }
    *takes_value = 0;
    return -1;
}

/* The free-text option called name[0..len) (its name without "--"), or NULL. */
static const char *opts_free_name(const char *name, size_t len)
{
    for (int i = 0; opts_free_names[i] != NULL; i++) {
        if (strlen(opts_free_names[i]) == len && memcmp(opts_free_names[i], name, len) == 0) {
            return opts_free_names[i];
        }
    }
    return NULL;
}

/* 1 when word is one of the command's own options: "--NAME" or "--NAME=...". */
static int opts_is_own(const struct shell_opts *o, const char *word)
{
    const char *name;
    const char *eq;
    int takes_value = 0;

    if (word[0] != '-' || word[1] != '-' || word[2] == '\0') {
        return 0;
    }
    name = word + 2;
    eq = strchr(name, '=');
    return opts_find(o, name, eq != NULL ? (size_t)(eq - name) : strlen(name), &takes_value) >= 0;
}

/*
 * Appends word to the text o->text[start..*end) (NUL at *end), with a space
 * first unless the text is still empty.  Empty words add nothing.
 */
static int opts_text_add(struct shell_opts *o, size_t start, size_t *end, const char *word,
                         char *err, size_t errlen)
{
    size_t n = strlen(word);
    size_t sep = *end > start ? 1 : 0;

    if (n == 0) {
        return 0;
    }
    if (*end + sep + n + 1 > sizeof(o->text)) {
        db_errf(err, errlen, "the text is too long (at most %d bytes)", SHELL_LINE_MAX);
        return DB_ERR_USAGE;
    }
    if (sep) {
        o->text[(*end)++] = ' ';
    }
    memcpy(o->text + *end, word, n);
    *end += n;
    o->text[*end] = '\0';
    return 0;
}

/*
 * The value of free-text option k, whose word is argv[*i]: first (the part
 * after '=', or NULL) and the words after it up to the next of the command's
 * own options.  One part is used as it stands; several are joined into
 * o->text after the texts before it.  No part at all, or an '=' part that is
 * itself one of the options, is a usage error: the user left the text out.
 */
static int opts_free(struct shell_opts *o, int argc, char **argv, int *i, int k, const char *first,
                     const char *shown, char *err, size_t errlen)
{
    int stop = *i + 1, nparts = first != NULL ? 1 : 0;
    size_t start = o->textused, end = o->textused;

    while (stop < argc && argv[stop] != NULL && !opts_is_own(o, argv[stop])) {
        stop++;
    }
    nparts += stop - (*i + 1);
    if (nparts == 0 || (first != NULL && opts_is_own(o, first))) {
        db_errf(err, errlen, "option '%s' needs a value", shown);
        return DB_ERR_USAGE;
    }
    if (nparts == 1) {
        o->values[k] = first != NULL ? first : argv[*i + 1];
        *i = stop - 1;
        return 0;
    }
    if (start >= sizeof(o->text)) {
        db_errf(err, errlen, "the text is too long (at most %d bytes)", SHELL_LINE_MAX);
        return DB_ERR_USAGE;
    }
    o->text[start] = '\0';
    if (first != NULL && opts_text_add(o, start, &end, first, err, errlen) < 0) {
        return DB_ERR_USAGE;
    }
    for (int j = *i + 1; j < stop; j++) {
        if (opts_text_add(o, start, &end, argv[j], err, errlen) < 0) {
            return DB_ERR_USAGE;
        }
    }
    o->values[k] = o->text + start;
    o->textused = end + 1; /* past this text's NUL */
    *i = stop - 1;
    return 0;
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
        if (o->free_name != NULL) {
            /* Most likely meant inside the text that came before. */
            db_errf(err, errlen,
                    "option '%s' given more than once (to write it inside the --%s text, quote "
                    "the whole text)",
                    shown, o->free_name);
        } else {
            db_errf(err, errlen, "option '%s' given more than once", shown);
        }
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
    if (opts_free_name(name, len) != NULL) {
        if (opts_free(o, argc, argv, i, k, eq != NULL ? eq + 1 : NULL, shown, err, errlen) < 0) {
            return DB_ERR_USAGE;
        }
        o->free_name = opts_free_name(name, len);
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
    if (o->rest >= 0) {
        /* search: every such word is part of the one text (the only one). */
        o->values[o->rest] = o->text;
        return opts_text_add(o, 0, &o->textused, word, err, errlen);
    }
    if (o->npos >= OPTS_POS_MAX) {
        db_errf(err, errlen, "too many arguments (at most %d)", OPTS_POS_MAX);
        return DB_ERR_USAGE;
    }
    o->pos[o->npos++] = word;
    return 0;
}

/* Copies the spec into o; checks what only a programming error could get wrong. */
static int opts_spec(struct shell_opts *o, const char *const *spec, char *err, size_t errlen)
{
    int nfree = 0;

    for (int k = 0; spec != NULL && spec[k] != NULL; k++) {
        int takes_value = 0;
        size_t len;

        if (k >= OPTS_MAX) {
            db_errf(err, errlen, "internal error: too many options in spec");
            return DB_ERR_INVALID;
        }
        o->names[k] = spec[k];
        len = opts_name_len(spec[k], &takes_value);
        if (opts_is_rest(spec[k])) {
            o->rest = k;
        } else if (takes_value && opts_free_name(spec[k], len) != NULL) {
            nfree++;
        }
    }
    /* The words of "*" and a free text would compete for the same words. */
    if (o->rest >= 0 && nfree > 0) {
        db_errf(err, errlen, "internal error: '*' and a free-text option in one spec");
        return DB_ERR_INVALID;
    }
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
    o->rest = -1;
    if (err != NULL && errlen > 0) {
        err[0] = '\0';
    }
    if ((r = opts_spec(o, spec, err, errlen)) < 0) {
        goto out;
    }
    for (int i = 1; i < argc && argv != NULL && argv[i] != NULL; i++) {
        const char *w = argv[i];

        if (!only_pos && strcmp(w, "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (!only_pos && w[0] == '-' && w[1] == '-' && (o->rest < 0 || opts_is_own(o, w))) {
            r = opts_one(o, argc, argv, &i, err, errlen);
        } else if (!only_pos && w[0] == '-' && w[1] != '\0' && o->rest < 0) {
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
        o->free_name = NULL;
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
    if (opts_is_rest(name)) {
        return o->rest >= 0 ? o->values[o->rest] : NULL;
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

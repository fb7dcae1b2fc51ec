/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `help` lists every command with its usage and a one-line summary, in table
 * order; `help CMD` shows one command, aliases included, with its example
 * and, for a command that takes free text, how that text is read (worked
 * out from the usage line, so a new command with "--reason TEXT" is
 * explained without more code); `help --json` gives the list as [{"name",
 * "usage", "summary"}] for scripts.  Nothing here depends on who asks: a
 * command the user may not run is still listed, and the command itself says
 * why it refuses.
 */
#include "shell.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

/* Usage column width: the longest usage, capped so summaries stay readable. */
#define HELP_USAGE_COL_MAX 44

#define HELP_WORDS_MAX 24
#define HELP_WORD_MAX 32

/* The words of a usage line, brackets and "=..." dropped. */
static int help_usage_words(const char *usage, char words[][HELP_WORD_MAX], int max)
{
    int n = 0;

    for (const char *p = usage; *p != '\0' && n < max;) {
        size_t len = 0;

        while (*p == ' ' || *p == '[' || *p == ']') {
            p++;
        }
        while (p[len] != '\0' && p[len] != ' ' && p[len] != '[' && p[len] != ']' &&
               p[len] != '=') {
            len++;
        }
        if (len > 0) {
            snprintf(words[n++], HELP_WORD_MAX, "%.*s", (int)len, p);
        }
        p += len;
        while (*p != '\0' && *p != ' ' && *p != ']') {
            p++;
        }
    }
    return n;
}

/*
 * For a command that takes free text ("--reason TEXT", or TEXT alone as
 * search has it): how the text is read, and how to write one of the
 * command's option names inside it.  Nothing for other commands.
 */
static void help_free_text(struct shell_ctx *c, const struct shell_cmd_entry *e)
{
    char w[HELP_WORDS_MAX][HELP_WORD_MAX], opts[256] = "", lit[HELP_WORD_MAX] = "";
    const char *free_opt = NULL, *at = NULL;
    int n = help_usage_words(e->usage, w, HELP_WORDS_MAX), text = 0;

    for (int i = 1; i < n; i++) {
        if (strcmp(w[i], "TEXT") == 0) {
            text = 1;
            free_opt = strncmp(w[i - 1], "--", 2) == 0 ? w[i - 1] : NULL;
        } else if (strncmp(w[i], "--", 2) == 0) {
            size_t off = strlen(opts);

            snprintf(opts + off, sizeof(opts) - off, "%s%s", off ? ", " : "", w[i]);
        }
    }
    if (!text) {
        return;
    }
    /* The option name the quoting example writes literally: another one when there is. */
    for (int i = 1; i < n; i++) {
        if (strncmp(w[i], "--", 2) == 0 && (lit[0] == '\0' || strcmp(lit, w[i]) != 0) &&
            (free_opt == NULL || strcmp(w[i], free_opt) != 0)) {
            snprintf(lit, sizeof(lit), "%s", w[i]);
            break;
        }
    }
    if (lit[0] == '\0') {
        snprintf(lit, sizeof(lit), "%s", free_opt != NULL ? free_opt : "--x");
    }
    if (free_opt == NULL) {
        shell_out(c, "TEXT: every word that is not an option of %s (%s),\n"
                     "words starting with '-' included; no quotes needed.  After '--' every word"
                     "\nis TEXT:  ssh gw %s -- %s output\n",
                  e->name, opts, e->name, lit);
        return;
    }
    shell_out(c, "TEXT: every word after %s, up to the next option of %s\n(%s); no quotes "
                 "needed.\n",
              free_opt, e->name, opts);
    shell_out(c, "An option name meant literally inside TEXT: quote the whole TEXT as one word,\n"
                 "and over ssh the whole command too:\n");
    if (e->example == NULL || (at = strstr(e->example, free_opt)) == NULL ||
        strncmp(e->example, "ssh gw ", 7) != 0) {
        shell_out(c, "  %s 'see %s below'\n", free_opt, lit);
        return;
    }
    shell_out(c, "  ssh gw \"%.*s%s 'see %s below'\"\n", (int)(at - e->example - 7),
              e->example + 7, free_opt, lit);
}

static int help_one(struct shell_ctx *c, const char *name)
{
    const struct shell_cmd_entry *e = shell_cmd_find(name);
    char shown[48];

    if (e == NULL) {
        shell_sanitize(shown, sizeof(shown), name, strlen(name), 1);
        shell_err(c, "drawbridge: unknown command '%s'; try 'help'\n", shown);
        return SHELL_USAGE;
    }
    shell_out(c, "usage: %s\n", e->usage);
    if (e->summary != NULL) {
        shell_out(c, "%s\n", e->summary);
        if (e->example != NULL) {
            shell_out(c, "example: %s\n", e->example);
        }
        help_free_text(c, e);
    } else {
        /* An alias: point at the command it stands for by its exec. */
        for (size_t i = 0; shell_cmd_table[i] != NULL; i++) {
            if (shell_cmd_table[i]->exec == e->exec && shell_cmd_table[i]->summary != NULL) {
                shell_out(c, "same as '%s': %s\n", shell_cmd_table[i]->name,
                          shell_cmd_table[i]->summary);
                break;
            }
        }
    }
    return SHELL_OK;
}

static int help_list(struct shell_ctx *c)
{
    int width = 0;

    for (size_t i = 0; shell_cmd_table[i] != NULL; i++) {
        int n = (int)strlen(shell_cmd_table[i]->usage);

        if (shell_cmd_table[i]->summary != NULL && n > width) {
            width = n;
        }
    }
    if (width > HELP_USAGE_COL_MAX) {
        width = HELP_USAGE_COL_MAX;
    }
    shell_out(c, "Commands:\n");
    for (size_t i = 0; shell_cmd_table[i] != NULL; i++) {
        const struct shell_cmd_entry *e = shell_cmd_table[i];

        if (e->summary == NULL) {
            continue;
        }
        if ((int)strlen(e->usage) > width) {
            /* Too long for the column: summary on its own line. */
            shell_out(c, "  %s\n  %*s  %s\n", e->usage, width, "", e->summary);
        } else {
            shell_out(c, "  %-*s  %s\n", width, e->usage, e->summary);
        }
    }
    shell_out(c, "Exit status: 0 done, 1 refused or failed, 2 usage.  "
                 "'help COMMAND' shows one command.\n");
    shell_out(c, "Free text needs no quotes: --reason, --comment and --note take every word up to"
                 "\nthe next option of their command; search takes all its words.  To write an"
                 "\noption name inside a text, quote the whole text as one word (over ssh, quote"
                 "\nthe command too):  ssh gw \"deny 13 --reason 'see --reason below'\"\n");
    return SHELL_OK;
}

static int help_json(struct shell_ctx *c)
{
    json_t *arr = json_array();
    int r = SHELL_FAIL;

    if (arr == NULL) {
        goto out;
    }
    for (size_t i = 0; shell_cmd_table[i] != NULL; i++) {
        const struct shell_cmd_entry *e = shell_cmd_table[i];
        json_t *o = NULL;

        if (e->summary == NULL) {
            continue;
        }
        o = json_pack("{s:s, s:s, s:s}", "name", e->name, "usage", e->usage, "summary", e->summary);
        if (o == NULL || json_array_append_new(arr, o) < 0) {
            goto out;
        }
    }
    if (shell_out_json(c, arr) < 0) {
        goto out;
    }
    r = SHELL_OK;
out:
    if (r != SHELL_OK) {
        shell_fail(c, "out of memory");
    }
    json_decref(arr);
    return r;
}

static int cmd_help_exec(struct shell_ctx *c, int argc, char **argv)
{
    static const char *const spec[] = {"json", NULL};
    struct shell_opts o;
    int r;

    r = shell_cmd_opts(c, spec, argc, argv, &o);
    if (r != 0) {
        return r;
    }
    if (o.npos > 1) {
        return shell_usage(c, argv[0], "too many arguments");
    }
    if (o.npos == 1) {
        if (shell_opt(&o, "json") != NULL) {
            return shell_usage(c, argv[0], "--json lists every command; drop COMMAND");
        }
        return help_one(c, o.pos[0]);
    }
    if (shell_opt(&o, "json") != NULL) {
        return help_json(c);
    }
    return help_list(c);
}

const struct shell_cmd_entry shell_cmd_help_entry = {
    .name = "help",
    .usage = "help [COMMAND] [--json]",
    .summary = "list commands, or show how to use one",
    .exec = cmd_help_exec,
};

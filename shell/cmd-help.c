/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `help` lists every command with its usage and a one-line summary, in table
 * order; `help CMD` shows one command, aliases included; `help --json`
 * gives the list as [{"name", "usage", "summary"}] for scripts.  Nothing here
 * depends on who asks: a command the user may not run is still listed, and
 * the command itself says why it refuses.
 */
#include "shell.h"

#include <string.h>

#include <jansson.h>

/* Usage column width: the longest usage, capped so summaries stay readable. */
#define HELP_USAGE_COL_MAX 44

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

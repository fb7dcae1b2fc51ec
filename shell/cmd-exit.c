/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `exit` ends an interactive session (the line editor sees want_exit after
 * the line ran and closes the channel).  `logout` and `quit` are aliases,
 * since people type whichever their fingers know; they are hidden from the
 * list in `help` (NULL summary) but `help logout` still explains them.
 * Over exec (`ssh gw exit`) the session ends after the command anyway, so
 * the flag is harmless there.
 */
#include "shell.h"

static int cmd_exit_exec(struct shell_ctx *c, int argc, char **argv)
{
    if (argc > 1) {
        return shell_usage(c, argv[0], "too many arguments");
    }
    c->want_exit = 1;
    return SHELL_OK;
}

const struct shell_cmd_entry shell_cmd_exit_entry = {
    .name = "exit",
    .usage = "exit",
    .summary = "end the session (also: logout, quit)",
    .exec = cmd_exit_exec,
};

const struct shell_cmd_entry shell_cmd_logout_entry = {
    .name = "logout",
    .usage = "logout",
    .summary = NULL,
    .exec = cmd_exit_exec,
};

const struct shell_cmd_entry shell_cmd_quit_entry = {
    .name = "quit",
    .usage = "quit",
    .summary = NULL,
    .exec = cmd_exit_exec,
};

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The command table.  Each command is one file, cmd-NAME.c, defining
 * `const struct shell_cmd_entry shell_cmd_NAME_entry`; this file lists them
 * once, in the order `help` shows them, and looks names up.
 *
 * Names are matched exactly.  There is no prefix matching or abbreviation:
 * on a bastion, "re" silently meaning "revoke" rather than "request" is not
 * a convenience anyone should have to reason about.
 *
 * Adding a command is one line in SHELL_CMD_LIST below.
 */
#include "shell.h"

#include <string.h>

/* Every command, in the order `help` lists them.  Aliases go last. */
#define SHELL_CMD_LIST(X)                                                                          \
    X(help)                                                                                        \
    X(whoami)                                                                                      \
    X(mfa)                                                                                         \
    X(targets)                                                                                     \
    X(request)                                                                                     \
    X(requests)                                                                                    \
    X(show)                                                                                        \
    X(cancel)                                                                                      \
    X(approve)                                                                                     \
    X(deny)                                                                                        \
    X(revoke)                                                                                      \
    X(grants)                                                                                      \
    X(connect)                                                                                     \
    X(breakglass)                                                                                  \
    X(sessions)                                                                                    \
    X(replay)                                                                                      \
    X(watch)                                                                                       \
    X(terminate)                                                                                   \
    X(export)                                                                                      \
    X(review)                                                                                      \
    X(reviews)                                                                                     \
    X(search)                                                                                      \
    X(audit)                                                                                       \
    X(web)                                                                                         \
    X(exit)                                                                                        \
    X(logout)                                                                                      \
    X(quit)

#define SHELL_CMD_DECLARE(name) extern const struct shell_cmd_entry shell_cmd_##name##_entry;
#define SHELL_CMD_REF(name) &shell_cmd_##name##_entry,

SHELL_CMD_LIST(SHELL_CMD_DECLARE)

const struct shell_cmd_entry *const shell_cmd_table[] = {
    SHELL_CMD_LIST(SHELL_CMD_REF) NULL,
};

const struct shell_cmd_entry *shell_cmd_find(const char *name)
{
    if (name == NULL) {
        return NULL;
    }
    for (size_t i = 0; shell_cmd_table[i] != NULL; i++) {
        if (strcmp(shell_cmd_table[i]->name, name) == 0) {
            return shell_cmd_table[i];
        }
    }
    return NULL;
}

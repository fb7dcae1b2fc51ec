/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `cancel N` withdraws the caller's own pending request.  Someone else's
 * request reads as "you have no request N": cancel tells nobody whether a
 * number exists.  A grant already running is given up with `revoke`.
 */
#include "shell.h"

static int cmd_cancel_exec(struct shell_ctx *c, int argc, char **argv)
{
    const struct access *a = NULL;
    struct policy_subject who = shell_subject(c);
    struct shell_opts o;
    char err[512] = "";
    long long id = 0;
    int r;

    if ((r = shell_cmd_opts(c, NULL, argc, argv, &o)) != 0) {
        return r;
    }
    if (o.npos != 1) {
        return shell_usage(c, argv[0],
                           o.npos == 0 ? "a request number is required" : "too many arguments");
    }
    if ((r = shell_parse_id(c, argv[0], o.pos[0], &id)) != 0) {
        return r;
    }
    if ((a = shell_access(c)) == NULL) {
        return SHELL_FAIL;
    }
    if ((r = access_cancel(a, &who, id, shell_now(c), err, sizeof(err))) != 0) {
        return shell_refuse(c, r, err);
    }
    shell_out(c, "request %lld cancelled\n", id);
    return SHELL_OK;
}

const struct shell_cmd_entry shell_cmd_cancel_entry = {
    .name = "cancel",
    .usage = "cancel N",
    .summary = "withdraw your own pending request",
    .exec = cmd_cancel_exec,
};

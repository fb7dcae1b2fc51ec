/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `deny N --reason TEXT` ends request N: one deny by an eligible approver
 * (never the requester, who cancels instead) is enough.  The reason is
 * required so that the requester learns why, and it goes into the audit.
 */
#include "shell.h"

static int cmd_deny_exec(struct shell_ctx *c, int argc, char **argv)
{
    static const char *const spec[] = {"reason=", NULL};
    const struct access *a = NULL;
    struct policy_subject who = shell_subject(c);
    struct shell_opts o;
    char err[512] = "";
    long long id = 0;
    int r;

    if ((r = shell_cmd_opts(c, spec, argc, argv, &o)) != 0) {
        return r;
    }
    if (o.npos != 1) {
        return shell_usage(c, argv[0],
                           o.npos == 0 ? "a request number is required" : "too many arguments");
    }
    if ((r = shell_parse_id(c, argv[0], o.pos[0], &id)) != 0) {
        return r;
    }
    if (shell_opt(&o, "reason") == NULL) {
        return shell_usage(c, argv[0], "--reason TEXT is required");
    }
    if (access_check_text("reason", shell_opt(&o, "reason"), 1, err, sizeof(err)) != 0) {
        return shell_fail_text(c, err);
    }
    if ((a = shell_access(c)) == NULL) {
        return SHELL_FAIL;
    }
    if (access_deny(a, &who, id, shell_opt(&o, "reason"), shell_now(c), err, sizeof(err)) != 0) {
        return shell_fail_text(c, err);
    }
    shell_out(c, "request %lld denied\n", id);
    return SHELL_OK;
}

const struct shell_cmd_entry shell_cmd_deny_entry = {
    .name = "deny",
    .usage = "deny N --reason TEXT",
    .summary = "deny a request you may decide",
    .exec = cmd_deny_exec,
};

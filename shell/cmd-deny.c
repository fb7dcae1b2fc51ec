/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `deny N --reason TEXT` ends request N: one deny by an eligible approver
 * (never the requester, who cancels instead) is enough.  The reason is
 * required so that the requester learns why, and it goes into the audit.
 */
#include "shell.h"

static int cmd_deny_exec(struct shell_ctx *c, int argc, char **argv)
{
    const struct access *a = NULL;
    struct policy_subject who = shell_subject(c);
    struct shell_opts o; /* the reason may live in it */
    const char *reason = NULL;
    char err[512] = "";
    long long id = 0;
    int r;

    if ((r = shell_id_reason(c, argc, argv, "request", &o, &id, &reason)) != 0) {
        return r;
    }
    if ((a = shell_access(c)) == NULL) {
        return SHELL_FAIL;
    }
    if ((r = access_deny(a, &who, id, reason, shell_now(c), err, sizeof(err))) != 0) {
        return shell_refuse(c, r, err);
    }
    shell_out(c, "request %lld denied\n", id);
    return SHELL_OK;
}

const struct shell_cmd_entry shell_cmd_deny_entry = {
    .name = "deny",
    .usage = "deny N --reason TEXT",
    .summary = "deny a request you may decide",
    .exec = cmd_deny_exec,
    .example = "ssh gw deny 13 --reason use staging, not prod",
};

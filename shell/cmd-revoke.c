/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `revoke N --reason TEXT` ends active grant N before its time: approvers
 * of its rule, reviewers, and its holder (giving it up) may.  Every session
 * using the grant is closed by its session process at its next re-check
 * (within seconds); this command only changes the grant.
 */
#include "shell.h"

static int cmd_revoke_exec(struct shell_ctx *c, int argc, char **argv)
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
                           o.npos == 0 ? "a grant number is required" : "too many arguments");
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
    if (access_revoke(a, &who, id, shell_opt(&o, "reason"), shell_now(c), err, sizeof(err)) != 0) {
        return shell_fail_text(c, err);
    }
    shell_out(c, "grant %lld revoked\n", id);
    return SHELL_OK;
}

const struct shell_cmd_entry shell_cmd_revoke_entry = {
    .name = "revoke",
    .usage = "revoke N --reason TEXT",
    .summary = "end an active grant now",
    .exec = cmd_revoke_exec,
};

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
    const struct access *a = NULL;
    struct policy_subject who = shell_subject(c);
    struct shell_opts o; /* the reason may live in it */
    const char *reason = NULL;
    char err[512] = "";
    long long id = 0;
    int r;

    if ((r = shell_id_reason(c, argc, argv, "grant", &o, &id, &reason)) != 0) {
        return r;
    }
    if ((a = shell_access(c)) == NULL) {
        return SHELL_FAIL;
    }
    if ((r = access_revoke(a, &who, id, reason, shell_now(c), err, sizeof(err))) != 0) {
        return shell_refuse(c, r, err);
    }
    shell_out(c, "grant %lld revoked\n", id);
    return SHELL_OK;
}

const struct shell_cmd_entry shell_cmd_revoke_entry = {
    .name = "revoke",
    .usage = "revoke N --reason TEXT",
    .summary = "end an active grant now",
    .exec = cmd_revoke_exec,
    .example = "ssh gw revoke 12 --reason incident closed",
};

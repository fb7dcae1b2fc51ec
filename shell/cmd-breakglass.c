/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `breakglass TARGET --reason TEXT [--for DURATION] [--login L]`: for the
 * policy's break_glass requesters, an immediate grant on any target, for
 * at most break_glass.max_duration (the default), with no approver in the
 * loop.  The price is scrutiny: notify_command hears of it at once and
 * every session under the grant waits on the reviewers' list.  Prints
 *
 *   break-glass grant 31 active until 2026-11-22 03:14 UTC; this session will be reviewed
 *
 * and, in an interactive shell, goes on to connect as `connect` does.
 */
#include "shell.h"

#include <stdio.h>

static int cmd_breakglass_exec(struct shell_ctx *c, int argc, char **argv)
{
    static const char *const spec[] = {"reason=", "for=", "login=", NULL};
    const struct access *a = NULL;
    struct policy_subject who = shell_subject(c);
    struct store_request out;
    struct shell_opts o;
    char err[512] = "", until[SHELL_TIME_MAX];
    long long duration = 0, now = 0;
    int r;

    if ((r = shell_cmd_opts(c, spec, argc, argv, &o)) != 0) {
        return r;
    }
    if (o.npos != 1) {
        return shell_usage(c, argv[0], o.npos == 0 ? "a target is required" : "too many arguments");
    }
    if (shell_opt(&o, "reason") == NULL) {
        return shell_usage(c, argv[0], "--reason TEXT is required");
    }
    if (shell_opt(&o, "for") != NULL &&
        (r = shell_parse_duration(c, argv[0], shell_opt(&o, "for"), &duration)) != 0) {
        return r;
    }
    if (access_check_text("reason", shell_opt(&o, "reason"), 1, err, sizeof(err)) != 0) {
        return shell_refuse(c, DB_ERR_INVALID, err);
    }
    if ((a = shell_access(c)) == NULL) {
        return SHELL_FAIL;
    }
    /* no grant that the second factor's rules would not let anyone use */
    if ((r = shell_mfa_target(c, policy_target_find(a->policy, o.pos[0]))) != 0) {
        return r;
    }
    if (duration == 0) {
        duration = a->policy->breakglass_max_duration;
    }
    now = shell_now(c);
    if ((r = access_breakglass(a, &who, o.pos[0], shell_opt(&o, "login"), duration,
                               shell_opt(&o, "reason"), now, &out, err, sizeof(err))) != 0) {
        return shell_refuse(c, r, err);
    }
    shell_out(c, "break-glass grant %lld active until %s; this session will be reviewed\n", out.id,
              shell_time(now + out.duration, until, sizeof(until)));
    if (c->interactive) {
        snprintf(c->connect_target, sizeof(c->connect_target), "%s", out.target);
        snprintf(c->connect_login, sizeof(c->connect_login), "%s", out.login);
        shell_out(c, "connecting to %s as %s...\n", c->connect_target, c->connect_login);
    }
    return SHELL_OK;
}

const struct shell_cmd_entry shell_cmd_breakglass_entry = {
    .name = "breakglass",
    .usage = "breakglass TARGET --reason TEXT [--for DURATION] [--login L]",
    .summary = "emergency access without approval (reviewed afterwards)",
    .exec = cmd_breakglass_exec,
    .example = "ssh gw breakglass web-1 --reason INC-4712: site down --for 30m",
};

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `approve N [--comment TEXT]` records the caller's approval of request N.
 * Only an approver of the request's rule in the current policy may, never
 * the requester (whatever groups they are in), and each person once: the
 * rule's `approvals` counts distinct people.  The approval that completes
 * the count starts the grant at once, for the duration asked:
 *
 *   request 12 approved: grant 12 active until 2026-11-22 03:14 UTC
 *   request 12 approved (1 of 2); still pending
 */
#include "shell.h"

static int cmd_approve_exec(struct shell_ctx *c, int argc, char **argv)
{
    static const char *const spec[] = {"comment=", NULL};
    const struct access *a = NULL;
    const struct policy_rule *rule = NULL;
    struct policy_subject who = shell_subject(c);
    struct store_request out;
    struct store_grant g;
    struct shell_opts o;
    char err[512] = "", until[SHELL_TIME_MAX];
    long long id = 0, now = 0;
    int r, needed;

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
    if (access_check_text("comment", shell_opt(&o, "comment"), 0, err, sizeof(err)) != 0) {
        return shell_refuse(c, DB_ERR_INVALID, err);
    }
    if ((a = shell_access(c)) == NULL) {
        return SHELL_FAIL;
    }
    now = shell_now(c);
    if ((r = access_approve(a, &who, id, shell_opt(&o, "comment"), now, &out, err,
                            sizeof(err))) != 0) {
        return shell_refuse(c, r, err);
    }
    if (out.status == STORE_REQ_APPROVED) {
        if (access_grant_status(a->store, id, now, &g) != 0) {
            /* Committed, so it is there; say so even if it cannot be read back now. */
            shell_out(c, "request %lld approved: grant %lld active\n", id, id);
            return SHELL_OK;
        }
        shell_out(c, "request %lld approved: grant %lld %s until %s\n", id, id,
                  store_grant_status_name(g.status), shell_time(g.ends_at, until, sizeof(until)));
        return SHELL_OK;
    }
    /* The same count access_approve used: the rule may now ask for more than it did. */
    rule = shell_rule_find(shell_policy(c), out.rule);
    needed = out.approvals_needed;
    if (rule != NULL && rule->approvals > needed) {
        needed = rule->approvals;
    }
    shell_out(c, "request %lld approved (%d of %d); still pending\n", id, out.approvals, needed);
    return SHELL_OK;
}

const struct shell_cmd_entry shell_cmd_approve_entry = {
    .name = "approve",
    .usage = "approve N [--comment TEXT]",
    .summary = "approve a request you may decide",
    .exec = cmd_approve_exec,
    .example = "ssh gw approve 12 --comment ok for INC-4711, watch the error rate",
};

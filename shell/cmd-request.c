/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `request TARGET --for DURATION --reason TEXT [--login L] [--ticket ID]`
 * asks for a just-in-time grant.  The policy picks the rule (the first
 * non-standing rule giving this user this target and login), which fixes
 * who may approve and how many must; the request then waits for them, for
 * at most the policy's request_ttl.  Prints
 *
 *   request 12 pending: needs 1 approval(s) from group:sre-leads
 *
 * or with --json the request as `show --json` prints it.  A malformed
 * DURATION is a usage error (2); an unknown target, a rule that does not
 * give it, a duration above the rule's max or a reason that cannot be
 * stored (too long, not UTF-8, control characters) is a refusal (1).
 */
#include "shell.h"

#include <string.h>

#include <jansson.h>

static int request_print(struct shell_ctx *c, const struct store_request *r, int json)
{
    const struct policy *p = shell_policy(c);
    const struct policy_rule *rule = shell_rule_find(p, r->rule);
    char who[512];
    json_t *o = NULL;
    int rc;

    if (json) {
        o = shell_request_json(p, r);
        rc = shell_out_json(c, o);
        json_decref(o);
        return rc < 0 ? shell_fail(c, "out of memory") : SHELL_OK;
    }
    shell_principals(rule != NULL ? rule->approvers : NULL, rule != NULL ? rule->napprovers : 0,
                     who, sizeof(who));
    shell_out(c, "request %lld pending: needs %d approval(s) from %s\n", r->id, r->approvals_needed,
              who);
    return SHELL_OK;
}

static int cmd_request_exec(struct shell_ctx *c, int argc, char **argv)
{
    static const char *const spec[] = {"for=", "reason=", "login=", "ticket=", "json", NULL};
    const struct access *a = NULL;
    struct policy_subject who = shell_subject(c);
    struct access_request_args q;
    struct store_request out;
    struct shell_opts o;
    char err[512] = "";
    long long duration = 0;
    int r;

    if ((r = shell_cmd_opts(c, spec, argc, argv, &o)) != 0) {
        return r;
    }
    if (o.npos != 1) {
        return shell_usage(c, argv[0], o.npos == 0 ? "a target is required" : "too many arguments");
    }
    if (shell_opt(&o, "for") == NULL) {
        return shell_usage(c, argv[0], "--for DURATION is required");
    }
    if (shell_opt(&o, "reason") == NULL) {
        return shell_usage(c, argv[0], "--reason TEXT is required");
    }
    if ((r = shell_parse_duration(c, argv[0], shell_opt(&o, "for"), &duration)) != 0) {
        return r;
    }
    /* Checked before the store is asked, so bad text is refused the same way without one. */
    if (access_check_text("reason", shell_opt(&o, "reason"), 1, err, sizeof(err)) != 0 ||
        access_check_ticket(shell_opt(&o, "ticket"), err, sizeof(err)) != 0) {
        return shell_refuse(c, DB_ERR_INVALID, err);
    }
    if ((a = shell_access(c)) == NULL) {
        return SHELL_FAIL;
    }
    memset(&q, 0, sizeof(q));
    q.target = o.pos[0];
    q.login = shell_opt(&o, "login");
    q.duration = duration;
    q.reason = shell_opt(&o, "reason");
    q.ticket = shell_opt(&o, "ticket");
    if ((r = access_request(a, &who, &q, shell_now(c), &out, err, sizeof(err))) != 0) {
        return shell_refuse(c, r, err);
    }
    return request_print(c, &out, shell_opt(&o, "json") != NULL);
}

const struct shell_cmd_entry shell_cmd_request_entry = {
    .name = "request",
    .usage = "request TARGET --for DURATION --reason TEXT [--login L] [--ticket ID] [--json]",
    .summary = "ask for time-boxed access to a target",
    .exec = cmd_request_exec,
    .example = "ssh gw request web-1 --for 1h --reason INC-4711: disk full on web-1",
};

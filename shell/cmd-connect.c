/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `connect TARGET [--login L]`, from an interactive shell: checks that the
 * user may reach TARGET now and, if so, leaves the target and login in
 * c->connect_target / c->connect_login for the session, which turns this
 * pty channel into a relay once the command returns.  Over exec there is
 * no terminal to hand over, so it refuses and names the form that works
 * (ssh -t USER+TARGET@gw).
 *
 * The check itself, shell_connect_check, is shared with the session code
 * for USER+TARGET@gw so both give the same answer and the same reasons:
 * standing access (never on a protected target), a live grant still backed
 * by a rule of the current policy, or a live break-glass grant while its
 * holder is still a break_glass requester.
 */
#include "shell.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

/* Records a refusal on a target that exists (an unknown name says nothing worth keeping). */
static void connect_audit_refusal(struct shell_ctx *c, const struct policy_target *t,
                                  const char *why)
{
    json_t *d = NULL;

    if (c->access == NULL || c->access->store == NULL || t == NULL || c->user == NULL) {
        return;
    }
    d = json_object();
    if (d != NULL && json_object_set_new(d, "action", json_string("connect")) == 0 &&
        json_object_set_new(d, "reason", shell_json_string(why)) == 0) {
        (void)access_audit_event(c->access->store, shell_now(c), c->user, "access.refused", t->name,
                                 d);
    }
    json_decref(d);
}

/* The refusal over exec: name the ssh form that works, with the user's names when plain. */
static int connect_need_pty(struct shell_ctx *c, const char *target)
{
    const char *user = c->user != NULL ? c->user : "";

    if (policy_name_valid(user) && policy_name_valid(target)) {
        return shell_fail(c, "connect needs an interactive session: use ssh -t %s+%s@gw", user,
                          target);
    }
    return shell_fail(c, "connect needs an interactive session: use ssh -t USER+TARGET@gw");
}

static int cmd_connect_exec(struct shell_ctx *c, int argc, char **argv)
{
    static const char *const spec[] = {"login=", NULL};
    const struct policy *p = shell_policy(c);
    struct policy_subject who = shell_subject(c);
    struct access_connect sc;
    struct shell_opts o;
    char err[512] = "";
    int r;

    if ((r = shell_cmd_opts(c, spec, argc, argv, &o)) != 0) {
        return r;
    }
    if (o.npos != 1) {
        return shell_usage(c, argv[0], o.npos == 0 ? "a target is required" : "too many arguments");
    }
    if (!c->interactive) {
        return connect_need_pty(c, o.pos[0]);
    }
    if (p == NULL) {
        return shell_fail(c, "no policy is loaded");
    }
    r = access_connect_check(c->access, p, &who, o.pos[0], shell_opt(&o, "login"), shell_now(c), &sc,
                            err, sizeof(err));
    if (r != 0) {
        if (r == DB_ERR_DENIED) {
            connect_audit_refusal(c, sc.target, err);
        }
        return shell_fail_text(c, err);
    }
    if ((r = shell_mfa_target(c, sc.target)) != 0) {
        return r;
    }
    snprintf(c->connect_target, sizeof(c->connect_target), "%s", sc.target->name);
    snprintf(c->connect_login, sizeof(c->connect_login), "%s", sc.login);
    shell_out(c, "connecting to %s as %s...\n", c->connect_target, c->connect_login);
    return SHELL_OK;
}

const struct shell_cmd_entry shell_cmd_connect_entry = {
    .name = "connect",
    .usage = "connect TARGET [--login L]",
    .summary = "open a session to a target you may reach now (interactive)",
    .exec = cmd_connect_exec,
};

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

/* The target's own copy of login (so out->login points into the policy), or NULL. */
static const char *connect_target_login(const struct policy_target *t, const char *login)
{
    for (size_t i = 0; t != NULL && login != NULL && i < t->nlogins; i++) {
        if (strcmp(t->logins[i], login) == 0) {
            return t->logins[i];
        }
    }
    return NULL;
}

/* Fills out from a live grant the policy (or break-glass) accepts for login. */
static void connect_from_grant(struct shell_connect *out, const struct store_grant *g,
                               const char *login, const struct policy_rule *rule)
{
    out->login = login;
    out->grant_id = g->id;
    out->ends_at = g->ends_at;
    out->breakglass = g->breakglass;
    out->rule = rule != NULL ? rule->name : NULL;
}

/*
 * Looks for a live grant that lets the subject in: for the login asked,
 * else for the rule's default login, else for each login of the target in
 * order -- the order the session code tries them for USER+TARGET@gw, so
 * that both pick the same grant.  1 when one does (out filled), else 0.
 */
static int connect_try_grants(const struct access *a, const struct policy *p,
                              const struct policy_connect_query *q0,
                              const struct policy_result *first, long long now,
                              struct shell_connect *out)
{
    const struct policy_target *t = first->target;
    const char *cands[17];
    size_t ncand = 0;

    if (q0->login != NULL) {
        cands[ncand++] = q0->login;
    } else {
        if (first->login != NULL) {
            cands[ncand++] = first->login;
        }
        for (size_t i = 0; i < t->nlogins && ncand < 17; i++) {
            cands[ncand++] = t->logins[i];
        }
    }
    for (size_t i = 0; i < ncand; i++) {
        struct policy_connect_query q = *q0;
        struct policy_result res;
        struct store_grant g;

        if (access_live_grant(a->store, q0->subject.user, t->name, cands[i], now, &g) != 0) {
            continue;
        }
        if (g.breakglass) {
            /* No rule backs a break-glass grant: its holder must still be allowed break-glass. */
            if (policy_is_breakglass_requester(p, &q0->subject) &&
                policy_target_has_login(t, cands[i])) {
                connect_from_grant(out, &g, connect_target_login(t, cands[i]), NULL);
                return 1;
            }
            continue;
        }
        q.login = cands[i];
        q.grant_login = g.login;
        policy_eval_connect(p, &q, &res);
        if (res.verdict == POLICY_ALLOW_GRANT) {
            connect_from_grant(out, &g, res.login, res.rule);
            return 1;
        }
    }
    return 0;
}

int shell_connect_check(const struct access *a, const struct policy *p,
                        const struct policy_subject *who, const char *target, const char *login,
                        long long now, struct shell_connect *out, char *err, size_t errlen)
{
    struct policy_connect_query q;
    struct policy_result res;

    memset(out, 0, sizeof(*out));
    memset(&q, 0, sizeof(q));
    if (p == NULL || who == NULL || who->user == NULL || target == NULL) {
        db_errf(err, errlen, "no policy is loaded");
        return DB_ERR_UNAVAIL;
    }
    q.subject = *who;
    q.target = target;
    q.login = login;
    policy_eval_connect(p, &q, &res);
    out->target = res.target;
    if (res.verdict == POLICY_UNKNOWN_TARGET || res.verdict == POLICY_BAD_LOGIN) {
        db_errf(err, errlen, "%s", res.reason);
        return res.verdict == POLICY_UNKNOWN_TARGET ? DB_ERR_NOTFOUND : DB_ERR_INVALID;
    }
    if (res.verdict == POLICY_ALLOW_STANDING) {
        out->login = res.login;
        out->rule = res.rule->name;
        return 0;
    }
    if (a != NULL && connect_try_grants(a, p, &q, &res, now, out)) {
        return 0;
    }
    if (a == NULL) {
        db_errf(err, errlen, "the grant store is unavailable; refusing");
        return DB_ERR_UNAVAIL;
    }
    db_errf(err, errlen, "%s", res.reason[0] != '\0' ? res.reason : "access refused");
    return DB_ERR_DENIED;
}

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
    struct shell_connect sc;
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
    r = shell_connect_check(c->access, p, &who, o.pos[0], shell_opt(&o, "login"), shell_now(c), &sc,
                            err, sizeof(err));
    if (r != 0) {
        if (r == DB_ERR_DENIED) {
            connect_audit_refusal(c, sc.target, err);
        }
        return shell_fail_text(c, err);
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

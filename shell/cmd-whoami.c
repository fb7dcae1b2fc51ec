/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `whoami` says who the bastion thinks you are: the LDAP user, their LDAP
 * groups (as read at login) and the roles the current policy gives them.
 * The roles are computed from the policy every time, so after a reload they
 * are current; a role means "some rule names you", not "you may do this to
 * that target" -- `targets` and the commands themselves answer that.
 *
 * The second factor too: enrolled or not, whether the policy requires it,
 * and whether this login gave a code.
 *
 * `--json` prints {"user": "...", "groups": [...], "roles": [...], "mfa":
 * {"enrolled", "pending", "required", "verified"}} ("mfa" and the text line
 * are left out when there is no store to ask).
 */
#include "shell.h"

#include <string.h>

#include <jansson.h>

#include "mfa.h"

#define WHOAMI_ROLES_MAX 4

/* Fills roles[] with the role names in a fixed order; returns how many. */
static size_t whoami_roles(const struct shell_ctx *c, const char *roles[WHOAMI_ROLES_MAX])
{
    struct policy_subject s = {
        .user = c->user,
        .groups = c->groups,
        .ngroups = c->ngroups,
    };
    /* The policy in force: after a reload, the access state carries the new one. */
    const struct policy *p = shell_policy(c);
    size_t n = 0;

    if (p == NULL || c->user == NULL) {
        return 0;
    }
    if (policy_is_any_requester(p, &s)) {
        roles[n++] = "requester";
    }
    if (policy_is_any_approver(p, &s)) {
        roles[n++] = "approver";
    }
    if (policy_is_reviewer(p, &s)) {
        roles[n++] = "reviewer";
    }
    if (policy_is_breakglass_requester(p, &s)) {
        roles[n++] = "break-glass";
    }
    return n;
}

/* The second factor's state; all zeros without a store. */
struct whoami_mfa {
    struct mfa_status st;
    int required;
    int known; /* the store could be asked */
};

static void whoami_mfa_get(struct shell_ctx *c, struct whoami_mfa *w)
{
    struct policy_subject who = shell_subject(c);
    struct mfa_ctx m;

    memset(w, 0, sizeof(*w));
    w->required = policy_mfa_required(shell_policy(c), &who);
    shell_mfa_ctx(c, &m);
    w->known = m.store != NULL && c->user != NULL &&
               mfa_status_get(&m, c->user, shell_now(c), &w->st) == 0;
}

static json_t *whoami_mfa_json(const struct shell_ctx *c, const struct whoami_mfa *w)
{
    return json_pack("{sb sb sb sb}", "enrolled", w->st.enrolled, "pending", w->st.pending,
                     "required", w->required, "verified", c->mfa_verified);
}

static void whoami_mfa_text(struct shell_ctx *c, const struct whoami_mfa *w)
{
    const char *state = w->st.enrolled    ? "enrolled"
                        : w->st.pending   ? "enrolment not yet confirmed (mfa confirm CODE)"
                        : w->required     ? "not enrolled, but required: enrol with mfa enroll"
                                          : "not enrolled";

    if (!w->known) {
        return; /* no store to ask (the line is left out rather than guessed) */
    }
    shell_out(c, "%-8s%s%s; this login %s\n", "mfa:", state,
              w->st.enrolled && w->required ? " (required)" : "",
              c->mfa_verified ? "gave a code" : "gave no code");
}

static int whoami_json(struct shell_ctx *c, const char *const *roles, size_t nroles,
                       const struct whoami_mfa *w)
{
    json_t *o = json_object();
    json_t *groups = json_array();
    json_t *jroles = json_array();
    int r = DB_ERR_NOMEM;

    if (o == NULL || groups == NULL || jroles == NULL) {
        goto out;
    }
    for (size_t i = 0; i < c->ngroups; i++) {
        if (json_array_append_new(groups, shell_json_string(c->groups[i])) < 0) {
            goto out;
        }
    }
    for (size_t i = 0; i < nroles; i++) {
        if (json_array_append_new(jroles, json_string(roles[i])) < 0) {
            goto out;
        }
    }
    if (json_object_set_new(o, "user", shell_json_string(c->user)) < 0 ||
        json_object_set(o, "groups", groups) < 0 || json_object_set(o, "roles", jroles) < 0 ||
        (w->known && json_object_set_new(o, "mfa", whoami_mfa_json(c, w)) < 0)) {
        goto out;
    }
    r = shell_out_json(c, o);
out:
    json_decref(groups);
    json_decref(jroles);
    json_decref(o);
    return r;
}

/* "a, b, c" on one line, each name made safe for the terminal. */
static void whoami_print_list(struct shell_ctx *c, const char *label, const char *const *v,
                              size_t n)
{
    char shown[256];

    shell_out(c, "%-8s", label);
    if (n == 0) {
        shell_out(c, "(none)");
    }
    for (size_t i = 0; i < n; i++) {
        shell_sanitize(shown, sizeof(shown), v[i], strlen(v[i]), 0);
        shell_out(c, "%s%s", i > 0 ? ", " : "", shown);
    }
    shell_out(c, "\n");
}

static int cmd_whoami_exec(struct shell_ctx *c, int argc, char **argv)
{
    static const char *const spec[] = {"json", NULL};
    const char *roles[WHOAMI_ROLES_MAX];
    const char *user = c->user != NULL ? c->user : "";
    struct whoami_mfa w;
    struct shell_opts o;
    size_t nroles;
    int r;

    r = shell_cmd_opts(c, spec, argc, argv, &o);
    if (r != 0) {
        return r;
    }
    if (o.npos > 0) {
        return shell_usage(c, argv[0], "too many arguments");
    }
    nroles = whoami_roles(c, roles);
    whoami_mfa_get(c, &w);
    if (shell_opt(&o, "json") != NULL) {
        if (whoami_json(c, roles, nroles, &w) < 0) {
            return shell_fail(c, "out of memory");
        }
        return SHELL_OK;
    }
    whoami_print_list(c, "user:", &user, 1);
    whoami_print_list(c, "groups:", c->groups, c->ngroups);
    whoami_print_list(c, "roles:", roles, nroles);
    whoami_mfa_text(c, &w);
    return SHELL_OK;
}

const struct shell_cmd_entry shell_cmd_whoami_entry = {
    .name = "whoami",
    .usage = "whoami [--json]",
    .summary = "show your user, LDAP groups and roles",
    .exec = cmd_whoami_exec,
};

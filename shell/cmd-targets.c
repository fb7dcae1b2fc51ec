/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `targets [--json]` answers "where can I go, and how": every target of the
 * current policy that the caller may reach now or may ask for, with its
 * labels, whether it is protected, its logins, and each way in --
 *
 *   standing via rule R           (unprotected targets only)
 *   grant N as LOGIN until TIME   (a live grant of the caller's)
 *   requestable via rule R        (who approves, how many, the longest grant)
 *   break-glass up to D           (for break_glass requesters, any target)
 *
 * Targets the caller has no way into are left out.  The answer is built
 * once as JSON (what --json prints: an array of {"name", "labels",
 * "protected", "logins", "access": [{"how", ...}]}) and the text is drawn
 * from it, so the two never disagree.
 */
#include "shell.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define TARGETS_DEFAULT_MAX (24 * 3600LL) /* as policy_eval_request when max_duration is unset */

/* The target's logins that rule r allows, as a JSON array. */
static json_t *targets_rule_logins(const struct policy_rule *r, const struct policy_target *t)
{
    json_t *arr = json_array();

    for (size_t i = 0; arr != NULL && i < t->nlogins; i++) {
        if (policy_rule_allows_login(r, t, t->logins[i]) &&
            json_array_append_new(arr, json_string(t->logins[i])) < 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

/* Standing and requestable rules that give who this target; appended to acc. */
static int targets_rules(const struct policy *p, const struct policy_subject *who,
                         const struct policy_target *t, json_t *acc)
{
    int prot = policy_target_is_protected(p, t);

    for (size_t i = 0; i < p->nrules; i++) {
        const struct policy_rule *r = &p->rules[i];
        json_t *o = NULL;

        if (!policy_rule_selects(r, t) ||
            !policy_principals_match(r->requesters, r->nrequesters, who) || (r->standing && prot)) {
            continue;
        }
        if (r->standing) {
            o = json_pack("{s:s, s:s, s:o}", "how", "standing", "rule", r->name, "logins",
                          targets_rule_logins(r, t));
        } else {
            o = json_pack(
                "{s:s, s:s, s:o, s:i, s:o, s:I}", "how", "requestable", "rule", r->name, "logins",
                targets_rule_logins(r, t), "approvals", r->approvals > 1 ? r->approvals : 1,
                "approvers", shell_principals_json(r->approvers, r->napprovers), "max_duration",
                (json_int_t)(r->max_duration > 0 ? r->max_duration : TARGETS_DEFAULT_MAX));
        }
        if (o == NULL || json_array_append_new(acc, o) < 0) {
            return DB_ERR_NOMEM;
        }
    }
    return 0;
}

/* Would connect accept this grant now (a rule still backs it, or break-glass still allowed)? */
static int targets_grant_usable(const struct policy *p, const struct policy_subject *who,
                                const struct store_grant *g)
{
    struct policy_connect_query q;
    struct policy_result res;

    if (g->breakglass) {
        return policy_is_breakglass_requester(p, who);
    }
    memset(&q, 0, sizeof(q));
    q.subject = *who;
    q.target = g->target;
    q.login = g->login;
    q.grant_login = g->login;
    policy_eval_connect(p, &q, &res);
    return res.verdict == POLICY_ALLOW_GRANT || res.verdict == POLICY_ALLOW_STANDING;
}

static int targets_grants(const struct policy *p, const struct policy_subject *who,
                          const struct policy_target *t, const struct store_grant *g, size_t ng,
                          json_t *acc)
{
    for (size_t i = 0; i < ng; i++) {
        json_t *o = NULL;

        if (strcmp(g[i].target, t->name) != 0) {
            continue;
        }
        o = json_pack("{s:s, s:I, s:o, s:b, s:b}", "how", "grant", "grant", (json_int_t)g[i].id,
                      "login", shell_json_string(g[i].login), "breakglass", g[i].breakglass,
                      "usable", targets_grant_usable(p, who, &g[i]));
        if (o == NULL || shell_json_set_time(o, "ends_at", g[i].ends_at) < 0 ||
            json_array_append_new(acc, o) < 0) {
            return DB_ERR_NOMEM;
        }
    }
    return 0;
}

/* One target's entry, or *out NULL when the caller has no way into it. */
static int targets_one(const struct policy *p, const struct policy_subject *who,
                       const struct policy_target *t, const struct store_grant *g, size_t ng,
                       json_t **out)
{
    json_t *o = NULL, *acc = json_array(), *labels = json_object(), *logins = json_array();
    int r = DB_ERR_NOMEM;

    *out = NULL;
    if (acc == NULL || labels == NULL || logins == NULL) {
        goto out;
    }
    if (targets_grants(p, who, t, g, ng, acc) != 0 || targets_rules(p, who, t, acc) != 0) {
        goto out;
    }
    if (p->breakglass_max_duration > 0 && policy_is_breakglass_requester(p, who) &&
        json_array_append_new(acc, json_pack("{s:s, s:I}", "how", "breakglass", "max_duration",
                                             (json_int_t)p->breakglass_max_duration)) < 0) {
        goto out;
    }
    r = 0;
    if (json_array_size(acc) == 0) {
        goto out;
    }
    for (size_t i = 0; i < t->nlabels; i++) {
        if (json_object_set_new(labels, t->labels[i].key, json_string(t->labels[i].value)) < 0) {
            r = DB_ERR_NOMEM;
            goto out;
        }
    }
    for (size_t i = 0; i < t->nlogins; i++) {
        if (json_array_append_new(logins, json_string(t->logins[i])) < 0) {
            r = DB_ERR_NOMEM;
            goto out;
        }
    }
    o = json_pack("{s:s, s:O, s:b, s:O, s:O}", "name", t->name, "labels", labels, "protected",
                  policy_target_is_protected(p, t), "logins", logins, "access", acc);
    r = o != NULL ? 0 : DB_ERR_NOMEM;
    *out = o;
out:
    json_decref(acc);
    json_decref(labels);
    json_decref(logins);
    return r;
}

/* "a, b, c" from a JSON array of strings; strings in JSON are sanitized when printed. */
static void targets_join(const json_t *arr, char *buf, size_t len)
{
    size_t off = 0;
    size_t i;
    json_t *v;

    buf[0] = '\0';
    json_array_foreach(arr, i, v)
    {
        int k = snprintf(buf + off, len - off, "%s%s", i > 0 ? ", " : "", json_string_value(v));

        if (k < 0 || (size_t)k >= len - off) {
            break;
        }
        off += (size_t)k;
    }
}

/* One "  how ..." line. */
static void targets_text_access(struct shell_ctx *c, const json_t *a)
{
    const char *how = json_string_value(json_object_get(a, "how"));
    char line[1024], logins[256], who[512], d[32], t1[SHELL_TIME_MAX], shown[1100];

    targets_join(json_object_get(a, "logins"), logins, sizeof(logins));
    if (strcmp(how, "grant") == 0) {
        snprintf(line, sizeof(line), "%sgrant %lld as %s until %s%s",
                 json_is_true(json_object_get(a, "breakglass")) ? "break-glass " : "",
                 (long long)json_integer_value(json_object_get(a, "grant")),
                 json_string_value(json_object_get(a, "login")),
                 shell_time(json_integer_value(json_object_get(a, "ends_at")), t1, sizeof(t1)),
                 json_is_true(json_object_get(a, "usable"))
                     ? ""
                     : " (not usable: the policy no longer backs it)");
    } else if (strcmp(how, "standing") == 0) {
        snprintf(line, sizeof(line), "standing via rule %s as %s",
                 json_string_value(json_object_get(a, "rule")), logins);
    } else if (strcmp(how, "requestable") == 0) {
        targets_join(json_object_get(a, "approvers"), who, sizeof(who));
        db_format_duration(json_integer_value(json_object_get(a, "max_duration")), d, sizeof(d));
        snprintf(line, sizeof(line),
                 "requestable via rule %s as %s, needing %lld approval(s) from %s, max %s",
                 json_string_value(json_object_get(a, "rule")), logins,
                 (long long)json_integer_value(json_object_get(a, "approvals")),
                 who[0] != '\0' ? who : "nobody", d);
    } else {
        db_format_duration(json_integer_value(json_object_get(a, "max_duration")), d, sizeof(d));
        snprintf(line, sizeof(line), "break-glass up to %s", d);
    }
    shell_sanitize(shown, sizeof(shown), line, strlen(line), 0);
    shell_out(c, "  %s\n", shown);
}

static void targets_text(struct shell_ctx *c, const json_t *arr)
{
    size_t i, k;
    json_t *t, *a;

    if (json_array_size(arr) == 0) {
        shell_out(c, "no targets you may reach or request\n");
        return;
    }
    json_array_foreach(arr, i, t)
    {
        char labels[512] = "", logins[256], line[1024], shown[1024];
        size_t off = 0;
        const char *key;
        json_t *v;

        json_object_foreach(json_object_get(t, "labels"), key, v)
        {
            int n = snprintf(labels + off, sizeof(labels) - off, "%s%s=%s", off > 0 ? ", " : "",
                             key, json_string_value(v));

            if (n < 0 || (size_t)n >= sizeof(labels) - off) {
                break;
            }
            off += (size_t)n;
        }
        targets_join(json_object_get(t, "logins"), logins, sizeof(logins));
        snprintf(line, sizeof(line), "%s  protected: %s  labels: %s  logins: %s",
                 json_string_value(json_object_get(t, "name")),
                 json_is_true(json_object_get(t, "protected")) ? "yes" : "no",
                 labels[0] != '\0' ? labels : "(none)", logins);
        shell_sanitize(shown, sizeof(shown), line, strlen(line), 0);
        shell_out(c, "%s\n", shown);
        json_array_foreach(json_object_get(t, "access"), k, a)
        {
            targets_text_access(c, a);
        }
    }
}

static int cmd_targets_exec(struct shell_ctx *c, int argc, char **argv)
{
    static const char *const spec[] = {"json", NULL};
    const struct access *a = NULL;
    struct policy_subject who = shell_subject(c);
    struct store_grant *g = NULL;
    struct shell_opts o;
    json_t *arr = NULL;
    size_t ng = 0;
    char err[512] = "";
    int r;

    if ((r = shell_cmd_opts(c, spec, argc, argv, &o)) != 0) {
        return r;
    }
    if (o.npos > 0) {
        return shell_usage(c, argv[0], "too many arguments");
    }
    if ((a = shell_access(c)) == NULL) {
        return SHELL_FAIL;
    }
    if ((r = access_list_grants(a, &who, ACCESS_LIST_MINE, shell_now(c), &g, &ng, err,
                                sizeof(err))) != 0) {
        return shell_refuse(c, r, err);
    }
    r = SHELL_FAIL;
    if ((arr = json_array()) == NULL) {
        goto out;
    }
    for (size_t i = 0; i < a->policy->ntargets; i++) {
        json_t *t = NULL;

        if (targets_one(a->policy, &who, &a->policy->targets[i], g, ng, &t) != 0 ||
            (t != NULL && json_array_append_new(arr, t) < 0)) {
            goto out;
        }
    }
    if (shell_opt(&o, "json") != NULL) {
        if (shell_out_json(c, arr) < 0) {
            goto out;
        }
    } else {
        targets_text(c, arr);
    }
    r = SHELL_OK;
out:
    if (r != SHELL_OK) {
        shell_fail(c, "out of memory");
    }
    json_decref(arr);
    free(g);
    return r;
}

const struct shell_cmd_entry shell_cmd_targets_entry = {
    .name = "targets",
    .usage = "targets [--json]",
    .summary = "list targets you may reach or request, and how",
    .exec = cmd_targets_exec,
};

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pure policy evaluation: given a policy, who is asking (user and LDAP
 * groups) and what they ask for, say whether it is allowed and under which
 * rule.  No I/O, no clock, no globals: the caller looks grants up in the store
 * at the time it chooses and passes what it found, so every decision here is
 * a function of its arguments and is tested from tables.
 *
 * Two invariants are enforced here whatever the policy says (lint refuses such
 * policies too, but a hand-built or future policy must not be able to break
 * them): standing rules never reach a protected target, and a requester never
 * approves their own request.
 */
#include "policy.h"

#include <stdio.h>
#include <string.h>

#define EVAL_DEFAULT_MAX (24 * 3600LL)

const struct policy_target *policy_target_find(const struct policy *p, const char *name)
{
    if (p == NULL || name == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < p->ntargets; i++) {
        if (p->targets[i].name != NULL && strcmp(p->targets[i].name, name) == 0) {
            return &p->targets[i];
        }
    }
    return NULL;
}

static int eval_has_label(const struct policy_target *t, const char *key, const char *value)
{
    for (size_t i = 0; i < t->nlabels; i++) {
        if (strcmp(t->labels[i].key, key) == 0 && strcmp(t->labels[i].value, value) == 0) {
            return 1;
        }
    }
    return 0;
}

int policy_target_is_protected(const struct policy *p, const struct policy_target *t)
{
    if (p == NULL || t == NULL) {
        return 0;
    }
    for (size_t i = 0; i < p->nprotect; i++) {
        for (size_t k = 0; k < p->protect[i].nvalues; k++) {
            if (eval_has_label(t, p->protect[i].key, p->protect[i].values[k])) {
                return 1;
            }
        }
    }
    return 0;
}

static int eval_in_list(char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i], s) == 0) {
            return 1;
        }
    }
    return 0;
}

int policy_target_has_login(const struct policy_target *t, const char *login)
{
    return t != NULL && login != NULL && eval_in_list(t->logins, t->nlogins, login);
}

int policy_rule_selects(const struct policy_rule *r, const struct policy_target *t)
{
    if (r == NULL || t == NULL || t->name == NULL) {
        return 0;
    }
    if (r->ntarget_names > 0) {
        return eval_in_list(r->target_names, r->ntarget_names, t->name);
    }
    /* An empty selector picks nothing, never everything. */
    if (r->ntarget_labels == 0) {
        return 0;
    }
    for (size_t i = 0; i < r->ntarget_labels; i++) {
        if (!eval_has_label(t, r->target_labels[i].key, r->target_labels[i].value)) {
            return 0;
        }
    }
    return 1;
}

int policy_rule_allows_login(const struct policy_rule *r, const struct policy_target *t,
                             const char *login)
{
    if (r == NULL || !policy_target_has_login(t, login)) {
        return 0;
    }
    return r->nlogins == 0 || eval_in_list(r->logins, r->nlogins, login);
}

int policy_principals_match(const struct policy_principal *ps, size_t n,
                            const struct policy_subject *s)
{
    if (ps == NULL || s == NULL || s->user == NULL) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (ps[i].name == NULL) {
            continue;
        }
        if (ps[i].kind == POLICY_PRINCIPAL_USER && strcmp(ps[i].name, s->user) == 0) {
            return 1;
        }
        if (ps[i].kind != POLICY_PRINCIPAL_GROUP) {
            continue;
        }
        for (size_t g = 0; g < s->ngroups; g++) {
            if (s->groups[g] != NULL && strcmp(ps[i].name, s->groups[g]) == 0) {
                return 1;
            }
        }
    }
    return 0;
}

int policy_is_reviewer(const struct policy *p, const struct policy_subject *s)
{
    return p != NULL && policy_principals_match(p->reviewers, p->nreviewers, s);
}

int policy_is_breakglass_requester(const struct policy *p, const struct policy_subject *s)
{
    return p != NULL &&
           policy_principals_match(p->breakglass_requesters, p->nbreakglass_requesters, s);
}

int policy_is_any_approver(const struct policy *p, const struct policy_subject *s)
{
    for (size_t i = 0; p != NULL && i < p->nrules; i++) {
        if (!p->rules[i].standing &&
            policy_principals_match(p->rules[i].approvers, p->rules[i].napprovers, s)) {
            return 1;
        }
    }
    return 0;
}

int policy_is_any_requester(const struct policy *p, const struct policy_subject *s)
{
    for (size_t i = 0; p != NULL && i < p->nrules; i++) {
        if (policy_principals_match(p->rules[i].requesters, p->rules[i].nrequesters, s)) {
            return 1;
        }
    }
    return 0;
}

/*
 * The login a rule gives when none was asked for: the first of the rule's
 * logins that the target offers, else the target's first (default) login --
 * which the rule must then allow.  NULL when the rule gives none.  Points
 * into the policy, so it outlives the query.
 */
static const char *eval_default_login(const struct policy_rule *r, const struct policy_target *t)
{
    for (size_t i = 0; i < r->nlogins; i++) {
        for (size_t k = 0; k < t->nlogins; k++) {
            if (strcmp(r->logins[i], t->logins[k]) == 0) {
                return t->logins[k];
            }
        }
    }
    if (t->nlogins > 0 && policy_rule_allows_login(r, t, t->logins[0])) {
        return t->logins[0];
    }
    return NULL;
}

/* The target's own copy of login (so results never point into the query). */
static const char *eval_target_login(const struct policy_target *t, const char *login)
{
    for (size_t i = 0; login != NULL && i < t->nlogins; i++) {
        if (strcmp(t->logins[i], login) == 0) {
            return t->logins[i];
        }
    }
    return NULL;
}

/* Applies to subject and target (standing rules only off protected targets). */
static int eval_rule_applies(const struct policy *p, const struct policy_rule *r,
                             const struct policy_target *t, const struct policy_subject *s,
                             int want_standing)
{
    if ((r->standing != 0) != (want_standing != 0)) {
        return 0;
    }
    if (r->standing && policy_target_is_protected(p, t)) {
        return 0;
    }
    return policy_rule_selects(r, t) && policy_principals_match(r->requesters, r->nrequesters, s);
}

/*
 * The first rule of the kind asked for that gives the subject this target
 * with login (or with its default login when login is NULL).
 */
static const struct policy_rule *eval_find_rule(const struct policy *p,
                                                const struct policy_target *t,
                                                const struct policy_subject *s, const char *login,
                                                int standing, const char **out_login)
{
    *out_login = NULL;
    for (size_t i = 0; i < p->nrules; i++) {
        const struct policy_rule *r = &p->rules[i];
        const char *l = NULL;

        if (!eval_rule_applies(p, r, t, s, standing)) {
            continue;
        }
        l = login != NULL ? eval_target_login(t, login) : eval_default_login(r, t);
        if (l != NULL && policy_rule_allows_login(r, t, l)) {
            *out_login = l;
            return r;
        }
    }
    return NULL;
}

/* Some rule reaches the target for this subject, whatever the login. */
static int eval_any_rule(const struct policy *p, const struct policy_target *t,
                         const struct policy_subject *s)
{
    for (size_t i = 0; i < p->nrules; i++) {
        if (eval_rule_applies(p, &p->rules[i], t, s, 0) ||
            eval_rule_applies(p, &p->rules[i], t, s, 1)) {
            return 1;
        }
    }
    return 0;
}

/* Target lookup and login checks common to connect and request. */
static int eval_start(const struct policy *p, const char *target, const char *login,
                      struct policy_result *out)
{
    out->target = policy_target_find(p, target);
    if (out->target == NULL) {
        out->verdict = POLICY_UNKNOWN_TARGET;
        snprintf(out->reason, sizeof(out->reason), "no such target: %s",
                 target != NULL ? target : "");
        return 0;
    }
    if (login != NULL && !policy_target_has_login(out->target, login)) {
        out->verdict = POLICY_BAD_LOGIN;
        snprintf(out->reason, sizeof(out->reason), "target %s has no login %s", target, login);
        return 0;
    }
    return 1;
}

static void eval_no_rule(const struct policy *p, const struct policy_subject *s, const char *target,
                         const char *login, struct policy_result *out)
{
    if (login != NULL && eval_any_rule(p, out->target, s)) {
        out->verdict = POLICY_BAD_LOGIN;
        snprintf(out->reason, sizeof(out->reason), "no rule lets you use login %s on %s", login,
                 target);
        return;
    }
    out->verdict = POLICY_DENY;
    snprintf(out->reason, sizeof(out->reason), "no rule gives you access to %s", target);
}

int policy_eval_connect(const struct policy *p, const struct policy_connect_query *q,
                        struct policy_result *out)
{
    const struct policy_rule *r = NULL;
    const char *login = NULL;

    if (out == NULL) {
        return DB_ERR_INVALID;
    }
    memset(out, 0, sizeof(*out));
    out->verdict = POLICY_DENY;
    if (p == NULL || q == NULL) {
        return DB_ERR_INVALID;
    }
    if (!eval_start(p, q->target, q->login, out)) {
        return 0;
    }
    /* A grant counts only for the login asked for (or any, when none was) and only while
     * a non-standing rule still backs it: a policy change takes effect on live grants. */
    if (q->grant_login != NULL && (q->login == NULL || strcmp(q->login, q->grant_login) == 0)) {
        r = eval_find_rule(p, out->target, &q->subject, q->grant_login, 0, &login);
        if (r != NULL) {
            out->verdict = POLICY_ALLOW_GRANT;
            out->rule = r;
            out->login = login;
            return 0;
        }
    }
    r = eval_find_rule(p, out->target, &q->subject, q->login, 1, &login);
    if (r != NULL) {
        out->verdict = POLICY_ALLOW_STANDING;
        out->rule = r;
        out->login = login;
        return 0;
    }
    r = eval_find_rule(p, out->target, &q->subject, q->login, 0, &login);
    if (r != NULL) {
        out->verdict = POLICY_NEED_GRANT;
        out->rule = r;
        out->login = login;
        snprintf(out->reason, sizeof(out->reason),
                 "no active grant; request one with: ssh gw request %s%s%s --for DURATION "
                 "--reason TEXT",
                 q->target, q->login != NULL ? " --login " : "", q->login != NULL ? q->login : "");
        return 0;
    }
    eval_no_rule(p, &q->subject, q->target, q->login, out);
    return 0;
}

int policy_eval_request(const struct policy *p, const struct policy_request_query *q,
                        struct policy_result *out)
{
    const struct policy_rule *r = NULL;
    const char *login = NULL;
    long long max = 0;
    char d[32];

    if (out == NULL) {
        return DB_ERR_INVALID;
    }
    memset(out, 0, sizeof(*out));
    out->verdict = POLICY_DENY;
    if (p == NULL || q == NULL) {
        return DB_ERR_INVALID;
    }
    if (!eval_start(p, q->target, q->login, out)) {
        return out->verdict == POLICY_UNKNOWN_TARGET ? DB_ERR_NOTFOUND : DB_ERR_INVALID;
    }
    r = eval_find_rule(p, out->target, &q->subject, q->login, 0, &login);
    if (r == NULL) {
        if (eval_find_rule(p, out->target, &q->subject, q->login, 1, &login) != NULL) {
            out->verdict = POLICY_DENY;
            snprintf(out->reason, sizeof(out->reason),
                     "you have standing access to %s; no request needed", q->target);
            return DB_ERR_DENIED;
        }
        eval_no_rule(p, &q->subject, q->target, q->login, out);
        return out->verdict == POLICY_BAD_LOGIN ? DB_ERR_INVALID : DB_ERR_DENIED;
    }
    out->rule = r;
    out->login = login;
    /* Lint refuses a rule needing approval without max_duration; never grant unbounded. */
    max = r->max_duration > 0 ? r->max_duration : EVAL_DEFAULT_MAX;
    if (q->duration <= 0 || q->duration > max) {
        out->verdict = POLICY_DENY;
        db_format_duration(max, d, sizeof(d));
        snprintf(out->reason, sizeof(out->reason), "duration must be from 1s to %s (rule %s)", d,
                 r->name);
        return DB_ERR_INVALID;
    }
    out->verdict = POLICY_NEED_GRANT;
    return 0;
}

int policy_may_approve(const struct policy_rule *rule, const struct policy_subject *approver,
                       const char *requester)
{
    if (rule == NULL || approver == NULL || approver->user == NULL || requester == NULL) {
        return 0;
    }
    if (strcmp(approver->user, requester) == 0 || rule->standing) {
        return 0;
    }
    return policy_principals_match(rule->approvers, rule->napprovers, approver);
}

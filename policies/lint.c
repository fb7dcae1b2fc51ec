/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Lint: the checks that need the whole policy, run by `drawbridge check` and
 * before any policy is loaded.  Each one guards an invariant of DESIGN.md --
 * nobody holds standing access to a protected target, every grant is bounded
 * in time and approved by someone else, one request never opens everything --
 * or catches a typo that would silently widen or narrow access (a selector
 * label no target carries, a target name that does not exist).
 *
 * Every problem is reported, one "file:line: message" per line, so that an
 * operator fixes a policy in one pass.  Works on hand-built policies too, so
 * it re-checks the syntax the parser already enforces.
 */
#include "policy.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINT_MAX_GRANT (24 * 3600LL)
#define LINT_MAX_TTL (7 * 24 * 3600LL)

struct lint_problem {
    int line;
    size_t seq; /* keeps the order of problems on one line */
    char *msg;
};

struct lint {
    const struct policy *p;
    struct lint_problem *v;
    size_t n, cap;
    int problems;
};

static void lint_add(struct lint *l, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Problems are collected and printed sorted by line, so the report reads in
 * file order whatever order the checks ran in.  Should memory run out, the
 * problem is still counted (lint fails) even if its text is lost.
 */
static void lint_add(struct lint *l, int line, const char *fmt, ...)
{
    char *msg = NULL;
    va_list ap;
    int n = 0;

    l->problems++;
    if (l->n == l->cap) {
        size_t cap = l->cap > 0 ? l->cap * 2 : 16;
        struct lint_problem *v = realloc(l->v, cap * sizeof(*v));

        if (v == NULL) {
            return;
        }
        l->v = v;
        l->cap = cap;
    }
    va_start(ap, fmt);
    n = vasprintf(&msg, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    db_oneline(msg);
    l->v[l->n].line = line > 0 ? line : 1;
    l->v[l->n].seq = l->n;
    l->v[l->n].msg = msg;
    l->n++;
}

static int lint_problem_cmp(const void *a, const void *b)
{
    const struct lint_problem *x = a, *y = b;

    if (x->line != y->line) {
        return x->line < y->line ? -1 : 1;
    }
    return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

static void lint_write(struct lint *l, char *buf, size_t len)
{
    const char *path = l->p->path != NULL ? l->p->path : "<policy>";
    size_t used = 0;

    if (l->n > 1) {
        qsort(l->v, l->n, sizeof(*l->v), lint_problem_cmp);
    }
    for (size_t i = 0; buf != NULL && i < l->n && used + 1 < len; i++) {
        int n = snprintf(buf + used, len - used, "%s:%d: %s\n", path, l->v[i].line, l->v[i].msg);

        if (n < 0) {
            break;
        }
        used += (size_t)n;
    }
}

static void lint_principals(struct lint *l, int line, const char *what,
                            const struct policy_principal *ps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!policy_principal_name_valid(ps[i].name)) {
            lint_add(l, line, "%s: principal name \"%s\" must be printable, without spaces", what,
                     ps[i].name != NULL ? ps[i].name : "");
        }
    }
}

static int lint_label_carried(const struct policy *p, const struct policy_label *lb)
{
    for (size_t i = 0; i < p->ntargets; i++) {
        const struct policy_target *t = &p->targets[i];

        for (size_t k = 0; k < t->nlabels; k++) {
            if (strcmp(t->labels[k].key, lb->key) == 0 &&
                strcmp(t->labels[k].value, lb->value) == 0) {
                return 1;
            }
        }
    }
    return 0;
}

static void lint_targets(struct lint *l)
{
    const struct policy *p = l->p;

    for (size_t i = 0; i < p->ntargets; i++) {
        const struct policy_target *t = &p->targets[i];
        const char *name = t->name != NULL ? t->name : "";

        if (!policy_name_valid(name)) {
            lint_add(l, t->line, "target name \"%s\" must match [a-z_][a-z0-9_.-]{0,63}", name);
        }
        if (t->host_key == NULL || t->host_key[0] == '\0') {
            lint_add(l, t->line, "target %s has no host_key (pin the target's SSH host key)", name);
        }
        if (t->nlogins == 0) {
            lint_add(l, t->line, "target %s offers no logins", name);
        }
        if (t->upstream_auth == POLICY_UPSTREAM_INVALID) {
            lint_add(l, t->upstream_auth_line,
                     "target %s: upstream_auth must be certificate or key", name);
        }
    }
}

/* Which targets the rule picks, and how many of them are protected. */
struct lint_sel {
    size_t n;
    size_t nprotected;
    const char *first_protected;
};

static void lint_select(const struct policy *p, const struct policy_rule *r, struct lint_sel *s)
{
    memset(s, 0, sizeof(*s));
    for (size_t i = 0; i < p->ntargets; i++) {
        const struct policy_target *t = &p->targets[i];

        if (!policy_rule_selects(r, t)) {
            continue;
        }
        s->n++;
        if (policy_target_is_protected(p, t)) {
            if (s->first_protected == NULL) {
                s->first_protected = t->name;
            }
            s->nprotected++;
        }
    }
}

static void lint_selector(struct lint *l, const struct policy_rule *r)
{
    for (size_t i = 0; i < r->ntarget_names; i++) {
        if (policy_target_find(l->p, r->target_names[i]) == NULL) {
            lint_add(l, r->line, "rule %s: unknown target \"%s\"", r->name, r->target_names[i]);
        }
    }
    for (size_t i = 0; i < r->ntarget_labels; i++) {
        if (!lint_label_carried(l->p, &r->target_labels[i])) {
            lint_add(l, r->line, "rule %s: no target carries label %s=%s", r->name,
                     r->target_labels[i].key, r->target_labels[i].value);
        }
    }
}

static void lint_rule_logins(struct lint *l, const struct policy_rule *r)
{
    for (size_t k = 0; k < r->nlogins; k++) {
        int offered = 0;

        for (size_t i = 0; i < l->p->ntargets && !offered; i++) {
            const struct policy_target *t = &l->p->targets[i];

            offered = policy_rule_selects(r, t) && policy_target_has_login(t, r->logins[k]);
        }
        if (!offered) {
            lint_add(l, r->line, "rule %s: login %s is not offered by any target it selects",
                     r->name, r->logins[k]);
        }
    }
}

/* When every approver is a named user, fewer of them than approvals can never approve. */
static void lint_approvers_enough(struct lint *l, const struct policy_rule *r)
{
    for (size_t i = 0; i < r->napprovers; i++) {
        if (r->approvers[i].kind != POLICY_PRINCIPAL_USER) {
            return;
        }
    }
    if (r->napprovers > 0 && (size_t)r->approvals > r->napprovers) {
        lint_add(l, r->line, "rule %s needs %d approvals but names only %zu approvers", r->name,
                 r->approvals, r->napprovers);
    }
}

static void lint_standing(struct lint *l, const struct policy_rule *r, const struct lint_sel *s)
{
    if (s->nprotected > 0) {
        lint_add(l, r->line,
                 "rule %s gives standing access to protected target %s (%zu protected "
                 "target(s) selected); protected targets need a grant",
                 r->name, s->first_protected, s->nprotected);
    }
    if (r->napprovers > 0 || r->approvals_set) {
        lint_add(l, r->line, "rule %s is standing: approvers and approvals do not apply", r->name);
    }
}

static void lint_needs_approval(struct lint *l, const struct policy_rule *r,
                                const struct lint_sel *s, size_t total_protected)
{
    char d[32];

    if (r->max_duration <= 0) {
        lint_add(l, r->line, "rule %s needs approval but has no max_duration", r->name);
    } else if (r->max_duration > LINT_MAX_GRANT) {
        db_format_duration(r->max_duration, d, sizeof(d));
        lint_add(l, r->line, "rule %s: max_duration %s is above 24h", r->name, d);
    }
    if (r->napprovers == 0) {
        lint_add(l, r->line, "rule %s needs approval but lists no approvers", r->name);
    }
    if (s->nprotected > 0 && r->approvals < 1) {
        lint_add(l, r->line, "rule %s selects protected target %s with approvals < 1", r->name,
                 s->first_protected);
    }
    /*
     * With a single protected target any rule reaching it "selects them all";
     * demanding two approvals there would forbid the ordinary one-target,
     * one-approver setup, so this guards policies with two or more.
     */
    if (total_protected >= 2 && s->nprotected == total_protected && r->approvals < 2) {
        lint_add(l, r->line,
                 "rule %s selects every protected target with approvals < 2 (one request "
                 "must not open everything)",
                 r->name);
    }
    lint_approvers_enough(l, r);
}

static void lint_rules(struct lint *l)
{
    const struct policy *p = l->p;
    size_t total_protected = 0;

    for (size_t i = 0; i < p->ntargets; i++) {
        total_protected += policy_target_is_protected(p, &p->targets[i]) ? 1 : 0;
    }
    for (size_t i = 0; i < p->nrules; i++) {
        const struct policy_rule *r = &p->rules[i];
        struct lint_sel s;
        char what[96];

        snprintf(what, sizeof(what), "rule %s", r->name);
        if (r->nrequesters == 0) {
            lint_add(l, r->line, "rule %s has no requesters", r->name);
        }
        lint_principals(l, r->line, what, r->requesters, r->nrequesters);
        lint_principals(l, r->line, what, r->approvers, r->napprovers);
        lint_selector(l, r);
        lint_select(p, r, &s);
        if (s.n == 0) {
            lint_add(l, r->line, "rule %s selects no target", r->name);
        } else {
            lint_rule_logins(l, r);
        }
        if (r->standing) {
            lint_standing(l, r, &s);
        } else {
            lint_needs_approval(l, r, &s, total_protected);
        }
    }
}

static void lint_global(struct lint *l)
{
    const struct policy *p = l->p;
    char d[32];

    if (p->request_ttl <= 0) {
        lint_add(l, p->request_ttl_line, "request_ttl must be positive");
    } else if (p->request_ttl > LINT_MAX_TTL) {
        db_format_duration(p->request_ttl, d, sizeof(d));
        lint_add(l, p->request_ttl_line, "request_ttl %s is above 7d", d);
    }
    lint_principals(l, 1, "reviewers", p->reviewers, p->nreviewers);
    if (p->breakglass_line == 0 && p->nbreakglass_requesters == 0) {
        return;
    }
    if (p->nbreakglass_requesters == 0) {
        lint_add(l, p->breakglass_line, "break_glass lists no requesters");
    }
    lint_principals(l, p->breakglass_line, "break_glass", p->breakglass_requesters,
                    p->nbreakglass_requesters);
    if (p->breakglass_max_duration <= 0) {
        lint_add(l, p->breakglass_line, "break_glass has no max_duration");
    } else if (p->breakglass_max_duration > LINT_MAX_GRANT) {
        db_format_duration(p->breakglass_max_duration, d, sizeof(d));
        lint_add(l, p->breakglass_line, "break_glass max_duration %s is above 24h", d);
    }
}

/*
 * The second factor (parsed policies cannot fail these; hand-built ones can):
 * require entries of principal syntax, known action names, a usable issuer.
 */
static void lint_mfa(struct lint *l)
{
    const struct policy_mfa *m = &l->p->mfa;
    int line = m->line;

    for (size_t i = 0; i < m->nrequire; i++) {
        struct policy_principal pp;
        char text[300];

        snprintf(text, sizeof(text), "%s:%s",
                 m->require[i].kind == POLICY_PRINCIPAL_GROUP ? "group" : "user",
                 m->require[i].name != NULL ? m->require[i].name : "");
        if (policy_principal_parse(text, &pp) != 0) {
            lint_add(l, line, "mfa: require: \"%s\" is not group:NAME or user:NAME", text);
        }
        free(pp.name);
    }
    if ((m->actions & ~POLICY_MFA_ACTIONS_ALL) != 0) {
        lint_add(l, line,
                 "mfa: actions: unknown action (protected, approve, deny, revoke, breakglass, "
                 "terminate)");
    }
    if (m->issuer != NULL && !policy_mfa_issuer_valid(m->issuer)) {
        lint_add(l, line, "mfa: issuer: 1 to %d printable ASCII characters without ':'",
                 POLICY_MFA_ISSUER_MAX);
    }
}

int policy_lint(const struct policy *p, char *err, size_t errlen)
{
    struct lint l = {p, NULL, 0, 0, 0};

    if (err != NULL && errlen > 0) {
        err[0] = '\0';
    }
    if (p == NULL) {
        return DB_ERR_INVALID;
    }
    lint_global(&l);
    lint_targets(&l);
    lint_rules(&l);
    lint_mfa(&l);
    lint_write(&l, err, errlen);
    for (size_t i = 0; i < l.n; i++) {
        free(l.v[i].msg);
    }
    free(l.v);
    return l.problems > 0 ? DB_ERR_INVALID : 0;
}

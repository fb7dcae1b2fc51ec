/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reads a policy file (DESIGN.md, "Policy") into struct policy.  Every key is
 * known and every value checked here, so a typo is an error with its line,
 * never a silently ignored setting: in an access policy an ignored key is a
 * hole.  What needs the whole policy to judge (selectors that pick nothing,
 * standing access to protected targets, ...) is lint.c's; policy_load_* runs
 * it and refuses a policy that fails.
 *
 * An optional key written as null ("reviewers:" with nothing after it) is the
 * same as an absent one.
 */
#include "policy.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POLICY_APPROVALS_MAX 100
#define POLICY_DEFAULT_TTL (24 * 3600LL)

struct pparse {
    const char *name;
    char *err;
    size_t errlen;
};

static int pp_fail(struct pparse *c, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int pp_fail(struct pparse *c, int line, const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    db_oneline(msg);
    db_errf(c->err, c->errlen, "%s:%d: %s", c->name, line, msg);
    return DB_ERR_INVALID;
}

static int pp_nomem(struct pparse *c)
{
    db_errf(c->err, c->errlen, "%s: out of memory", c->name);
    return DB_ERR_NOMEM;
}

/* The value of an optional key: NULL when absent or null. */
static const struct ytree *pp_opt(const struct ytree *m, const char *key)
{
    const struct ytree *v = ytree_get(m, key);

    return ytree_is_null(v) ? NULL : v;
}

static int pp_req(struct pparse *c, const struct ytree *m, const char *key, const char *what,
                  const struct ytree **out)
{
    *out = ytree_get(m, key);
    if (*out == NULL) {
        return pp_fail(c, m->line, "%s: missing \"%s\"", what, key);
    }
    return 0;
}

static int pp_kind(struct pparse *c, const struct ytree *n, enum ytree_kind kind, const char *what)
{
    static const char *const names[] = {"a string", "a list", "a map"};

    if (n->kind != kind || ytree_is_null(n)) {
        return pp_fail(c, n->line, "%s: expected %s, got %s", what, names[kind],
                       ytree_kind_name(n));
    }
    return 0;
}

static int pp_keys(struct pparse *c, const struct ytree *m, const char *what,
                   const char *const *allowed)
{
    int line = 0;
    const char *bad = ytree_unknown_key(m, allowed, &line);

    if (bad != NULL) {
        return pp_fail(c, line, "%s%sunknown key \"%s\"", what, what[0] ? ": " : "", bad);
    }
    return 0;
}

static int pp_str(struct pparse *c, const struct ytree *n, const char *what, const char **out)
{
    int r = pp_kind(c, n, YTREE_SCALAR, what);

    *out = NULL;
    if (r < 0) {
        return r;
    }
    if (n->value[0] == '\0') {
        return pp_fail(c, n->line, "%s: must not be empty", what);
    }
    *out = n->value;
    return 0;
}

static int pp_dup(struct pparse *c, const char *s, char **out)
{
    *out = strdup(s);
    return *out != NULL ? 0 : pp_nomem(c);
}

static int pp_duration(struct pparse *c, const struct ytree *n, const char *what, long long *out)
{
    const char *s = NULL;
    int r = pp_str(c, n, what, &s);

    if (r < 0) {
        return r;
    }
    if (db_parse_duration(s, out) < 0) {
        return pp_fail(c, n->line, "%s: \"%s\" is not a duration (like 90s, 30m, 4h, 2d)", what, s);
    }
    return 0;
}

/* A list of distinct strings each accepted by valid(); at least min of them. */
static int pp_names(struct pparse *c, const struct ytree *n, const char *what, size_t min,
                    int (*valid)(const char *), const char *kind, char ***out, size_t *nout)
{
    int r = pp_kind(c, n, YTREE_SEQ, what);

    if (r < 0) {
        return r;
    }
    if (n->nkids < min) {
        return pp_fail(c, n->line, "%s: must list at least %zu", what, min);
    }
    if (n->nkids == 0) {
        return 0;
    }
    *out = calloc(n->nkids, sizeof(**out));
    if (*out == NULL) {
        return pp_nomem(c);
    }
    *nout = n->nkids;
    for (size_t i = 0; i < n->nkids; i++) {
        const struct ytree *k = n->kids[i];
        const char *s = NULL;

        r = pp_str(c, k, what, &s);
        if (r < 0) {
            return r;
        }
        if (!valid(s)) {
            return pp_fail(c, k->line, "%s: \"%s\" is not a valid %s", what, s, kind);
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp((*out)[j], s) == 0) {
                return pp_fail(c, k->line, "%s: \"%s\" is listed twice", what, s);
            }
        }
        r = pp_dup(c, s, &(*out)[i]);
        if (r < 0) {
            return r;
        }
    }
    return 0;
}

static int pp_principals(struct pparse *c, const struct ytree *n, const char *what,
                         struct policy_principal **out, size_t *nout)
{
    int r = pp_kind(c, n, YTREE_SEQ, what);

    if (r < 0) {
        return r;
    }
    if (n->nkids == 0) {
        return pp_fail(c, n->line, "%s: must list at least one principal", what);
    }
    *out = calloc(n->nkids, sizeof(**out));
    if (*out == NULL) {
        return pp_nomem(c);
    }
    *nout = n->nkids;
    for (size_t i = 0; i < n->nkids; i++) {
        const struct ytree *k = n->kids[i];
        const char *s = NULL;

        r = pp_str(c, k, what, &s);
        if (r < 0) {
            return r;
        }
        r = policy_principal_parse(s, &(*out)[i]);
        if (r == DB_ERR_NOMEM) {
            return pp_nomem(c);
        }
        if (r < 0) {
            return pp_fail(c, k->line, "%s: \"%s\" is not group:NAME or user:NAME", what, s);
        }
        for (size_t j = 0; j < i; j++) {
            if ((*out)[j].kind == (*out)[i].kind && strcmp((*out)[j].name, (*out)[i].name) == 0) {
                return pp_fail(c, k->line, "%s: \"%s\" is listed twice", what, s);
            }
        }
    }
    return 0;
}

static int pp_labels(struct pparse *c, const struct ytree *n, const char *what,
                     struct policy_label **out, size_t *nout)
{
    int r = pp_kind(c, n, YTREE_MAP, what);

    if (r < 0) {
        return r;
    }
    if (n->nkids == 0) {
        return pp_fail(c, n->line, "%s: must hold at least one label", what);
    }
    *out = calloc(n->nkids, sizeof(**out));
    if (*out == NULL) {
        return pp_nomem(c);
    }
    *nout = n->nkids;
    for (size_t i = 0; i < n->nkids; i++) {
        const char *v = NULL;

        if (!policy_label_key_valid(n->keys[i])) {
            return pp_fail(c, n->key_lines[i], "%s: \"%s\" is not a valid label name", what,
                           n->keys[i]);
        }
        r = pp_str(c, n->kids[i], what, &v);
        if (r < 0) {
            return r;
        }
        if (!policy_label_value_valid(v)) {
            return pp_fail(c, n->kids[i]->line,
                           "%s: label value \"%s\" must be printable, without spaces", what, v);
        }
        if (pp_dup(c, n->keys[i], &(*out)[i].key) < 0 || pp_dup(c, v, &(*out)[i].value) < 0) {
            return DB_ERR_NOMEM;
        }
    }
    return 0;
}

static int pp_protected(struct pparse *c, const struct ytree *n, struct policy *p)
{
    int r = pp_kind(c, n, YTREE_MAP, "protected");

    if (r < 0 || n->nkids == 0) {
        return r;
    }
    p->protect = calloc(n->nkids, sizeof(*p->protect));
    if (p->protect == NULL) {
        return pp_nomem(c);
    }
    p->nprotect = n->nkids;
    for (size_t i = 0; i < n->nkids; i++) {
        struct policy_protected *pr = &p->protect[i];
        char what[96];

        if (!policy_label_key_valid(n->keys[i])) {
            return pp_fail(c, n->key_lines[i], "protected: \"%s\" is not a valid label name",
                           n->keys[i]);
        }
        r = pp_dup(c, n->keys[i], &pr->key);
        if (r < 0) {
            return r;
        }
        snprintf(what, sizeof(what), "protected.%s", n->keys[i]);
        r = pp_names(c, n->kids[i], what, 1, policy_label_value_valid, "label value", &pr->values,
                     &pr->nvalues);
        if (r < 0) {
            return r;
        }
    }
    return 0;
}

static int pp_target(struct pparse *c, const struct ytree *n, size_t idx, struct policy_target *t)
{
    static const char *const keys[] = {"name",   "address",      "host_key",      "logins",
                                       "labels", "record_input", "upstream_auth", NULL};
    const struct ytree *v = NULL;
    const char *s = NULL;
    char what[64], why[128];
    int r = DB_ERR_INTERNAL;

    snprintf(what, sizeof(what), "targets[%zu]", idx);
    t->record_input = 1;
    t->line = n->line;
    if ((r = pp_kind(c, n, YTREE_MAP, what)) < 0) {
        return r;
    }
    if ((r = pp_req(c, n, "name", what, &v)) < 0 || (r = pp_str(c, v, "name", &s)) < 0) {
        return r;
    }
    if (!policy_name_valid(s)) {
        return pp_fail(c, v->line, "target name \"%s\" must match [a-z_][a-z0-9_.-]{0,63}", s);
    }
    if ((r = pp_dup(c, s, &t->name)) < 0) {
        return r;
    }
    snprintf(what, sizeof(what), "target %s", t->name);
    if ((r = pp_keys(c, n, what, keys)) < 0) {
        return r;
    }
    if ((r = pp_req(c, n, "address", what, &v)) < 0 || (r = pp_str(c, v, "address", &s)) < 0) {
        return r;
    }
    r = policy_address_parse(s, &t->host, &t->port, why, sizeof(why));
    if (r < 0) {
        return r == DB_ERR_NOMEM ? pp_nomem(c)
                                 : pp_fail(c, v->line, "%s: address \"%s\": %s", what, s, why);
    }
    if ((r = pp_dup(c, s, &t->address)) < 0) {
        return r;
    }
    /* A missing host_key is lint's to report, with every other problem. */
    if ((v = pp_opt(n, "host_key")) != NULL) {
        if ((r = pp_str(c, v, "host_key", &s)) < 0) {
            return r;
        }
        r = policy_host_key_parse(s, &t->host_key, why, sizeof(why));
        if (r < 0) {
            return r == DB_ERR_NOMEM ? pp_nomem(c)
                                     : pp_fail(c, v->line, "%s: host_key: %s", what, why);
        }
    }
    snprintf(what, sizeof(what), "target %s: logins", t->name);
    if ((r = pp_req(c, n, "logins", what, &v)) < 0 ||
        (r = pp_names(c, v, what, 1, policy_login_valid, "login", &t->logins, &t->nlogins)) < 0) {
        return r;
    }
    snprintf(what, sizeof(what), "target %s: labels", t->name);
    if ((v = pp_opt(n, "labels")) != NULL &&
        (r = pp_labels(c, v, what, &t->labels, &t->nlabels)) < 0) {
        return r;
    }
    if ((v = pp_opt(n, "record_input")) != NULL && ytree_bool(v, &t->record_input) < 0) {
        return pp_fail(c, v->line, "target %s: record_input: expected true or false", t->name);
    }
    /* a value other than certificate or key is lint's to report */
    if ((v = pp_opt(n, "upstream_auth")) != NULL) {
        if ((r = pp_str(c, v, "upstream_auth", &s)) < 0) {
            return r;
        }
        t->upstream_auth_line = v->line;
        t->upstream_auth = strcmp(s, "certificate") == 0 ? POLICY_UPSTREAM_CERTIFICATE
                           : strcmp(s, "key") == 0       ? POLICY_UPSTREAM_KEY
                                                         : POLICY_UPSTREAM_INVALID;
    }
    return 0;
}

static int pp_selector(struct pparse *c, const struct ytree *n, const char *what,
                       struct policy_rule *r)
{
    static const char *const keys[] = {"labels", "names", NULL};
    const struct ytree *labels = NULL, *names = NULL;
    char sub[128];
    int rc = DB_ERR_INTERNAL;

    if ((rc = pp_kind(c, n, YTREE_MAP, what)) < 0 || (rc = pp_keys(c, n, what, keys)) < 0) {
        return rc;
    }
    labels = ytree_get(n, "labels");
    names = ytree_get(n, "names");
    if ((labels == NULL) == (names == NULL)) {
        return pp_fail(c, n->line, "%s: give exactly one of labels or names", what);
    }
    if (labels != NULL) {
        snprintf(sub, sizeof(sub), "%s.labels", what);
        return pp_labels(c, labels, sub, &r->target_labels, &r->ntarget_labels);
    }
    snprintf(sub, sizeof(sub), "%s.names", what);
    return pp_names(c, names, sub, 1, policy_name_valid, "target name", &r->target_names,
                    &r->ntarget_names);
}

static int pp_rule(struct pparse *c, const struct ytree *n, size_t idx, struct policy_rule *r)
{
    static const char *const keys[] = {"name",      "requesters",   "targets",
                                       "logins",    "max_duration", "approvers",
                                       "approvals", "standing",     NULL};
    const struct ytree *v = NULL;
    const char *s = NULL;
    char what[96];
    long long approvals = 1;
    int rc = DB_ERR_INTERNAL;

    snprintf(what, sizeof(what), "rules[%zu]", idx);
    r->line = n->line;
    r->approvals = 1;
    if ((rc = pp_kind(c, n, YTREE_MAP, what)) < 0) {
        return rc;
    }
    if ((rc = pp_req(c, n, "name", what, &v)) < 0 || (rc = pp_str(c, v, "name", &s)) < 0) {
        return rc;
    }
    if (!policy_name_valid(s)) {
        return pp_fail(c, v->line, "rule name \"%s\" must match [a-z_][a-z0-9_.-]{0,63}", s);
    }
    if ((rc = pp_dup(c, s, &r->name)) < 0) {
        return rc;
    }
    snprintf(what, sizeof(what), "rule %s", r->name);
    if ((rc = pp_keys(c, n, what, keys)) < 0) {
        return rc;
    }
    snprintf(what, sizeof(what), "rule %s: requesters", r->name);
    if ((rc = pp_req(c, n, "requesters", what, &v)) < 0 ||
        (rc = pp_principals(c, v, what, &r->requesters, &r->nrequesters)) < 0) {
        return rc;
    }
    snprintf(what, sizeof(what), "rule %s: targets", r->name);
    if ((rc = pp_req(c, n, "targets", what, &v)) < 0 || (rc = pp_selector(c, v, what, r)) < 0) {
        return rc;
    }
    snprintf(what, sizeof(what), "rule %s: logins", r->name);
    if ((v = pp_opt(n, "logins")) != NULL &&
        (rc = pp_names(c, v, what, 1, policy_login_valid, "login", &r->logins, &r->nlogins)) < 0) {
        return rc;
    }
    snprintf(what, sizeof(what), "rule %s: max_duration", r->name);
    if ((v = pp_opt(n, "max_duration")) != NULL &&
        (rc = pp_duration(c, v, what, &r->max_duration)) < 0) {
        return rc;
    }
    snprintf(what, sizeof(what), "rule %s: approvers", r->name);
    if ((v = pp_opt(n, "approvers")) != NULL &&
        (rc = pp_principals(c, v, what, &r->approvers, &r->napprovers)) < 0) {
        return rc;
    }
    if ((v = pp_opt(n, "approvals")) != NULL) {
        if (ytree_int(v, 0, POLICY_APPROVALS_MAX, &approvals) < 0) {
            return pp_fail(c, v->line, "rule %s: approvals: expected a number from 0 to %d",
                           r->name, POLICY_APPROVALS_MAX);
        }
        r->approvals = (int)approvals;
        r->approvals_set = 1;
    }
    if ((v = pp_opt(n, "standing")) != NULL && ytree_bool(v, &r->standing) < 0) {
        return pp_fail(c, v->line, "rule %s: standing: expected true or false", r->name);
    }
    return 0;
}

static int pp_break_glass(struct pparse *c, const struct ytree *n, struct policy *p)
{
    static const char *const keys[] = {"requesters", "max_duration", NULL};
    const struct ytree *v = NULL;
    int r = DB_ERR_INTERNAL;

    if ((r = pp_kind(c, n, YTREE_MAP, "break_glass")) < 0 ||
        (r = pp_keys(c, n, "break_glass", keys)) < 0) {
        return r;
    }
    if ((r = pp_req(c, n, "requesters", "break_glass", &v)) < 0 ||
        (r = pp_principals(c, v, "break_glass: requesters", &p->breakglass_requesters,
                           &p->nbreakglass_requesters)) < 0) {
        return r;
    }
    /* A missing max_duration is lint's to report. */
    if ((v = pp_opt(n, "max_duration")) != NULL &&
        (r = pp_duration(c, v, "break_glass: max_duration", &p->breakglass_max_duration)) < 0) {
        return r;
    }
    return 0;
}

/* mfa: {require, actions, issuer}; every key optional (mfa.c says what they mean). */
static int pp_mfa(struct pparse *c, const struct ytree *n, struct policy *p)
{
    static const char *const keys[] = {"require", "actions", "issuer", NULL};
    const struct ytree *v = NULL;
    const char *s = NULL;
    int r = DB_ERR_INTERNAL;

    if ((r = pp_kind(c, n, YTREE_MAP, "mfa")) < 0 || (r = pp_keys(c, n, "mfa", keys)) < 0) {
        return r;
    }
    if ((v = pp_opt(n, "require")) != NULL &&
        (r = pp_principals(c, v, "mfa: require", &p->mfa.require, &p->mfa.nrequire)) < 0) {
        return r;
    }
    if ((v = pp_opt(n, "actions")) != NULL) {
        if ((r = pp_kind(c, v, YTREE_SEQ, "mfa: actions")) < 0) {
            return r;
        }
        for (size_t i = 0; i < v->nkids; i++) {
            unsigned bit = 0;

            if ((r = pp_str(c, v->kids[i], "mfa: actions", &s)) < 0) {
                return r;
            }
            if ((bit = policy_mfa_action_parse(s)) == 0) {
                return pp_fail(c, v->kids[i]->line,
                               "mfa: actions: unknown action \"%s\" (protected, approve, deny, "
                               "revoke, breakglass, terminate)",
                               s);
            }
            if (p->mfa.actions & bit) {
                return pp_fail(c, v->kids[i]->line, "mfa: actions: \"%s\" is listed twice", s);
            }
            p->mfa.actions |= bit;
        }
    }
    if ((v = pp_opt(n, "issuer")) != NULL) {
        if ((r = pp_str(c, v, "mfa: issuer", &s)) < 0) {
            return r;
        }
        if (!policy_mfa_issuer_valid(s)) {
            return pp_fail(c, v->line,
                           "mfa: issuer: 1 to %d printable ASCII characters without ':'",
                           POLICY_MFA_ISSUER_MAX);
        }
        if ((r = pp_dup(c, s, &p->mfa.issuer)) < 0) {
            return r;
        }
    }
    return 0;
}

static int pp_targets(struct pparse *c, const struct ytree *n, struct policy *p)
{
    int r = pp_kind(c, n, YTREE_SEQ, "targets");

    if (r < 0 || n->nkids == 0) {
        return r;
    }
    p->targets = calloc(n->nkids, sizeof(*p->targets));
    if (p->targets == NULL) {
        return pp_nomem(c);
    }
    p->ntargets = n->nkids;
    for (size_t i = 0; i < n->nkids; i++) {
        if ((r = pp_target(c, n->kids[i], i, &p->targets[i])) < 0) {
            return r;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(p->targets[j].name, p->targets[i].name) == 0) {
                return pp_fail(c, p->targets[i].line,
                               "target %s is defined twice (first on line %d)", p->targets[i].name,
                               p->targets[j].line);
            }
        }
    }
    return 0;
}

static int pp_rules(struct pparse *c, const struct ytree *n, struct policy *p)
{
    int r = pp_kind(c, n, YTREE_SEQ, "rules");

    if (r < 0 || n->nkids == 0) {
        return r;
    }
    p->rules = calloc(n->nkids, sizeof(*p->rules));
    if (p->rules == NULL) {
        return pp_nomem(c);
    }
    p->nrules = n->nkids;
    for (size_t i = 0; i < n->nkids; i++) {
        if ((r = pp_rule(c, n->kids[i], i, &p->rules[i])) < 0) {
            return r;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(p->rules[j].name, p->rules[i].name) == 0) {
                return pp_fail(c, p->rules[i].line, "rule %s is defined twice (first on line %d)",
                               p->rules[i].name, p->rules[j].line);
            }
        }
    }
    return 0;
}

static int pp_policy(struct pparse *c, const struct ytree *root, struct policy *p)
{
    static const char *const keys[] = {"protected", "request_ttl", "targets", "rules",
                                       "reviewers", "break_glass", "mfa", NULL};
    const struct ytree *v = NULL;
    int r = DB_ERR_INTERNAL;

    p->request_ttl = POLICY_DEFAULT_TTL;
    if ((r = pp_kind(c, root, YTREE_MAP, "policy")) < 0 || (r = pp_keys(c, root, "", keys)) < 0) {
        return r;
    }
    if ((v = pp_opt(root, "protected")) != NULL && (r = pp_protected(c, v, p)) < 0) {
        return r;
    }
    if ((v = pp_opt(root, "request_ttl")) != NULL) {
        p->request_ttl_line = v->line;
        if ((r = pp_duration(c, v, "request_ttl", &p->request_ttl)) < 0) {
            return r;
        }
    }
    if ((v = pp_opt(root, "targets")) != NULL && (r = pp_targets(c, v, p)) < 0) {
        return r;
    }
    if ((v = pp_opt(root, "rules")) != NULL && (r = pp_rules(c, v, p)) < 0) {
        return r;
    }
    if ((v = pp_opt(root, "reviewers")) != NULL &&
        (r = pp_principals(c, v, "reviewers", &p->reviewers, &p->nreviewers)) < 0) {
        return r;
    }
    if ((v = pp_opt(root, "break_glass")) != NULL) {
        p->breakglass_line = ytree_key_line(root, "break_glass");
        if ((r = pp_break_glass(c, v, p)) < 0) {
            return r;
        }
    }
    if ((v = pp_opt(root, "mfa")) != NULL) {
        p->mfa.line = ytree_key_line(root, "mfa");
        if ((r = pp_mfa(c, v, p)) < 0) {
            return r;
        }
    }
    return 0;
}

static int policy_from_tree(const char *name, const struct ytree *root, struct policy **out,
                            char *err, size_t errlen)
{
    struct pparse c = {name, err, errlen};
    struct policy *p = NULL;
    int r = DB_ERR_INTERNAL;

    p = calloc(1, sizeof(*p));
    if (p == NULL || (p->path = strdup(name)) == NULL) {
        r = pp_nomem(&c);
        goto out;
    }
    r = pp_policy(&c, root, p);
    if (r < 0) {
        goto out;
    }
    *out = p;
    p = NULL;
    r = 0;
out:
    policy_free(p);
    return r;
}

int policy_parse_buffer(const char *name, const char *buf, size_t len, struct policy **out,
                        char *err, size_t errlen)
{
    struct ytree *root = NULL;
    int r = DB_ERR_INTERNAL;

    *out = NULL;
    if (name == NULL) {
        name = "<policy>";
    }
    r = ytree_parse(name, buf, len, &root, err, errlen);
    if (r < 0) {
        goto out;
    }
    r = policy_from_tree(name, root, out, err, errlen);
out:
    ytree_free(root);
    return r;
}

int policy_parse_file(const char *path, struct policy **out, char *err, size_t errlen)
{
    struct ytree *root = NULL;
    int r = DB_ERR_INTERNAL;

    *out = NULL;
    r = ytree_parse_file(path, &root, err, errlen);
    if (r < 0) {
        goto out;
    }
    r = policy_from_tree(path, root, out, err, errlen);
out:
    ytree_free(root);
    return r;
}

/* Lint, keeping the first problem and a count of the rest for a one-line err. */
static int policy_lint_one_line(struct policy *p, char *err, size_t errlen)
{
    char all[8192];
    size_t first = 0, more = 0;

    if (policy_lint(p, all, sizeof(all)) == 0) {
        return 0;
    }
    if (all[0] == '\0') {
        db_errf(err, errlen, "%s: fails lint (out of memory while reporting why)", p->path);
        return DB_ERR_INVALID;
    }
    first = strcspn(all, "\n");
    for (size_t i = first; all[i] != '\0'; i++) {
        if (all[i] == '\n' && all[i + 1] != '\0') {
            more++;
        }
    }
    if (strlen(all) + 1 >= sizeof(all)) {
        db_errf(err, errlen, "%.*s (and more; see drawbridge check)", (int)first, all);
    } else if (more > 0) {
        db_errf(err, errlen, "%.*s (and %zu more; see drawbridge check)", (int)first, all, more);
    } else {
        db_errf(err, errlen, "%.*s", (int)first, all);
    }
    return DB_ERR_INVALID;
}

int policy_load_buffer(const char *name, const char *buf, size_t len, struct policy **out,
                       char *err, size_t errlen)
{
    struct policy *p = NULL;
    int r = DB_ERR_INTERNAL;

    *out = NULL;
    r = policy_parse_buffer(name, buf, len, &p, err, errlen);
    if (r < 0) {
        goto out;
    }
    r = policy_lint_one_line(p, err, errlen);
    if (r < 0) {
        goto out;
    }
    *out = p;
    p = NULL;
out:
    policy_free(p);
    return r;
}

int policy_load_file(const char *path, struct policy **out, char *err, size_t errlen)
{
    struct policy *p = NULL;
    int r = DB_ERR_INTERNAL;

    *out = NULL;
    r = policy_parse_file(path, &p, err, errlen);
    if (r < 0) {
        goto out;
    }
    r = policy_lint_one_line(p, err, errlen);
    if (r < 0) {
        goto out;
    }
    *out = p;
    p = NULL;
out:
    policy_free(p);
    return r;
}

static void policy_principals_free(struct policy_principal *ps, size_t n)
{
    for (size_t i = 0; ps != NULL && i < n; i++) {
        free(ps[i].name);
    }
    free(ps);
}

static void policy_labels_free(struct policy_label *ls, size_t n)
{
    for (size_t i = 0; ls != NULL && i < n; i++) {
        free(ls[i].key);
        free(ls[i].value);
    }
    free(ls);
}

static void policy_strings_free(char **v, size_t n)
{
    for (size_t i = 0; v != NULL && i < n; i++) {
        free(v[i]);
    }
    free(v);
}

void policy_free(struct policy *p)
{
    if (p == NULL) {
        return;
    }
    for (size_t i = 0; p->protect != NULL && i < p->nprotect; i++) {
        free(p->protect[i].key);
        policy_strings_free(p->protect[i].values, p->protect[i].nvalues);
    }
    free(p->protect);
    for (size_t i = 0; p->targets != NULL && i < p->ntargets; i++) {
        struct policy_target *t = &p->targets[i];

        free(t->name);
        free(t->address);
        free(t->host);
        free(t->host_key);
        policy_strings_free(t->logins, t->nlogins);
        policy_labels_free(t->labels, t->nlabels);
    }
    free(p->targets);
    for (size_t i = 0; p->rules != NULL && i < p->nrules; i++) {
        struct policy_rule *r = &p->rules[i];

        free(r->name);
        policy_principals_free(r->requesters, r->nrequesters);
        policy_strings_free(r->target_names, r->ntarget_names);
        policy_labels_free(r->target_labels, r->ntarget_labels);
        policy_strings_free(r->logins, r->nlogins);
        policy_principals_free(r->approvers, r->napprovers);
    }
    free(p->rules);
    policy_principals_free(p->reviewers, p->nreviewers);
    policy_principals_free(p->breakglass_requesters, p->nbreakglass_requesters);
    policy_principals_free(p->mfa.require, p->mfa.nrequire);
    free(p->mfa.issuer);
    free(p->path);
    free(p);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading access state: the live-grant lookup every session child makes
 * each second, a grant's status for re-checks, and the scoped listings
 * behind `requests`, `show` and `grants`.
 *
 * Scope: everyone sees their own requests and grants; someone who may
 * approve a request under the current policy sees it (and its grant); a
 * reviewer sees everything.  A request outside that scope is reported as
 * absent, exactly like one that does not exist.  Statuses are reported as
 * of the caller's clock, so a pending request past its ttl reads expired
 * and an active grant past its end reads expired before the sweep
 * (access_expire) has written it.
 */
#include <stdlib.h>
#include <string.h>

#include "access-int.h"

int access_live_grant(struct store *s, const char *user, const char *target, const char *login,
                      long long now, struct store_grant *out)
{
    return store_grant_find_live(s, user, target, login, now, out);
}

static void access_grant_effective(struct store_grant *g, long long now)
{
    if (g->status == STORE_GRANT_ACTIVE && (now >= g->ends_at || now < g->starts_at)) {
        g->status = STORE_GRANT_EXPIRED;
    }
}

static void access_request_effective(struct store_request *r, long long now)
{
    if (r->status == STORE_REQ_PENDING && now >= r->expires_at) {
        r->status = STORE_REQ_EXPIRED;
    }
}

int access_grant_status(struct store *s, long long id, long long now, struct store_grant *out)
{
    int rc = store_grant_get(s, id, out);

    if (rc == 0) {
        access_grant_effective(out, now);
    }
    return rc;
}

/* May who see a request or grant of user under rule (NULL/"": break-glass or gone)? */
static int access_visible(const struct access *a, const struct policy_subject *who,
                          const char *user, const char *rule_name, int is_reviewer)
{
    const struct policy_rule *rule = NULL;

    if (strcmp(who->user, user) == 0 || is_reviewer) {
        return 1;
    }
    rule = access_rule_find(a->policy, rule_name);
    return rule != NULL && policy_may_approve(rule, who, user);
}

/* Approved and its grant is live at now. */
static int access_grant_live(struct store *s, long long id, long long now)
{
    struct store_grant g;

    if (store_grant_get(s, id, &g) != 0) {
        return 0;
    }
    access_grant_effective(&g, now);
    return g.status == STORE_GRANT_ACTIVE;
}

int access_list_requests(const struct access *a, const struct policy_subject *who, unsigned flags,
                         long long now, struct store_request **out, size_t *n, char *err,
                         size_t errlen)
{
    struct store_request *v = NULL;
    unsigned mask = 0;
    size_t nv = 0, k = 0;
    int rc, reviewer;

    *out = NULL;
    *n = 0;
    if ((rc = access_check_who(who, err, errlen)) != 0) {
        return rc;
    }
    reviewer = policy_is_reviewer(a->policy, who);
    if (flags & ACCESS_LIST_PENDING) {
        mask = 1u << STORE_REQ_PENDING;
    } else if (!(flags & ACCESS_LIST_ALL)) {
        mask = (1u << STORE_REQ_PENDING) | (1u << STORE_REQ_APPROVED);
    }
    rc = store_request_list(a->store, (flags & ACCESS_LIST_MINE) ? who->user : NULL, mask, 0, &v,
                            &nv);
    if (rc != 0) {
        db_errf(err, errlen, "the store failed: %s", db_strerror(rc));
        return rc;
    }
    for (size_t i = 0; i < nv; i++) {
        struct store_request *r = &v[i];

        access_request_effective(r, now);
        if (!access_visible(a, who, r->requester, r->rule, reviewer)) {
            continue;
        }
        if (!(flags & ACCESS_LIST_ALL)) {
            if (r->status == STORE_REQ_EXPIRED) {
                continue;
            }
            if (r->status == STORE_REQ_APPROVED &&
                ((flags & ACCESS_LIST_PENDING) || !access_grant_live(a->store, r->id, now))) {
                continue;
            }
        }
        if (k != i) {
            v[k] = *r;
        }
        k++;
    }
    if (k == 0) {
        free(v);
        v = NULL;
    }
    *out = v;
    *n = k;
    return 0;
}

int access_list_grants(const struct access *a, const struct policy_subject *who, unsigned flags,
                       long long now, struct store_grant **out, size_t *n, char *err, size_t errlen)
{
    struct store_grant *v = NULL;
    size_t nv = 0, k = 0;
    int rc, reviewer;

    *out = NULL;
    *n = 0;
    if ((rc = access_check_who(who, err, errlen)) != 0) {
        return rc;
    }
    reviewer = policy_is_reviewer(a->policy, who);
    rc = store_grant_list_live(a->store, (flags & ACCESS_LIST_MINE) ? who->user : NULL, now, &v,
                               &nv);
    if (rc != 0) {
        db_errf(err, errlen, "the store failed: %s", db_strerror(rc));
        return rc;
    }
    for (size_t i = 0; i < nv; i++) {
        if (!access_visible(a, who, v[i].user, v[i].rule, reviewer)) {
            continue;
        }
        if (k != i) {
            v[k] = v[i];
        }
        k++;
    }
    if (k == 0) {
        free(v);
        v = NULL;
    }
    *out = v;
    *n = k;
    return 0;
}

/* Did who decide on this request (an approver since removed from the rule still sees it)? */
static int access_decided_by(const struct store_decision *d, size_t n, const char *user)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(d[i].approver, user) == 0) {
            return 1;
        }
    }
    return 0;
}

int access_show(const struct access *a, const struct policy_subject *who, long long id,
                long long now, struct store_request *req, struct store_decision **decs,
                size_t *ndecs, struct store_grant *grant, char *err, size_t errlen)
{
    struct store_request r;
    struct store_decision *d = NULL;
    size_t nd = 0;
    int rc;

    if (decs != NULL) {
        *decs = NULL;
    }
    if (ndecs != NULL) {
        *ndecs = 0;
    }
    if ((rc = access_check_who(who, err, errlen)) != 0) {
        return rc;
    }
    rc = store_request_get(a->store, id, &r);
    if (rc == 0) {
        rc = store_decision_list(a->store, id, &d, &nd);
    }
    if (rc != 0 && rc != DB_ERR_NOTFOUND) {
        db_errf(err, errlen, "the store failed: %s", db_strerror(rc));
        return rc;
    }
    if (rc == DB_ERR_NOTFOUND ||
        (!access_visible(a, who, r.requester, r.rule, policy_is_reviewer(a->policy, who)) &&
         !access_decided_by(d, nd, who->user))) {
        free(d);
        db_errf(err, errlen, "no request %lld that you can see", id);
        return DB_ERR_NOTFOUND;
    }
    access_request_effective(&r, now);
    if (grant != NULL) {
        memset(grant, 0, sizeof(*grant));
        if (store_grant_get(a->store, id, grant) == 0) {
            access_grant_effective(grant, now);
        } else {
            memset(grant, 0, sizeof(*grant));
            grant->status = STORE_GRANT_NONE;
        }
    }
    if (req != NULL) {
        *req = r;
    }
    if (decs != NULL && ndecs != NULL) {
        *decs = d;
        *ndecs = nd;
    } else {
        free(d);
    }
    return 0;
}

/* ---- may this user reach this target now? ---- */

/* The target's own copy of login (so out->login points into the policy), or NULL. */
static const char *access_connect_login(const struct policy_target *t, const char *login)
{
    for (size_t i = 0; t != NULL && login != NULL && i < t->nlogins; i++) {
        if (strcmp(t->logins[i], login) == 0) {
            return t->logins[i];
        }
    }
    return NULL;
}

/* Fills out from a live grant the policy (or break-glass) accepts for login. */
static void access_connect_from_grant(struct access_connect *out, const struct store_grant *g,
                               const char *login, const struct policy_rule *rule)
{
    out->login = login;
    out->grant_id = g->id;
    out->ends_at = g->ends_at;
    out->breakglass = g->breakglass;
    out->review_required = g->review_required;
    out->rule = rule != NULL ? rule->name : NULL;
}

/*
 * Looks for a live grant that lets the subject in: for the login asked,
 * else for the rule's default login, else for each login of the target in
 * order -- the order the session code tries them for USER+TARGET@gw, so
 * that both pick the same grant.  1 when one does (out filled), else 0.
 */
static int access_connect_grants(const struct access *a, const struct policy *p,
                              const struct policy_connect_query *q0,
                              const struct policy_result *first, long long now,
                              struct access_connect *out)
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
                access_connect_from_grant(out, &g, access_connect_login(t, cands[i]), NULL);
                return 1;
            }
            continue;
        }
        q.login = cands[i];
        q.grant_login = g.login;
        policy_eval_connect(p, &q, &res);
        if (res.verdict == POLICY_ALLOW_GRANT) {
            access_connect_from_grant(out, &g, res.login, res.rule);
            return 1;
        }
    }
    return 0;
}

int access_connect_check(const struct access *a, const struct policy *p,
                        const struct policy_subject *who, const char *target, const char *login,
                        long long now, struct access_connect *out, char *err, size_t errlen)
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
    if (a != NULL && access_connect_grants(a, p, &q, &res, now, out)) {
        return 0;
    }
    if (a == NULL) {
        db_errf(err, errlen, "the grant store is unavailable; refusing");
        return DB_ERR_UNAVAIL;
    }
    db_errf(err, errlen, "%s", res.reason[0] != '\0' ? res.reason : "access refused");
    return DB_ERR_DENIED;
}

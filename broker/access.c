/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The just-in-time state machine.  A request is pending until enough
 * distinct eligible approvers approve it (then approved, and its grant
 * starts), one of them denies it, its requester cancels it, or request_ttl
 * passes (expired).  A grant is active until ends_at (expired) or until
 * someone revokes it.  Break-glass makes an approved request and an active
 * grant at once, flagged for review.
 *
 *   pending --approve (enough)--> approved  [grant: active --> expired | revoked]
 *   pending --deny--> denied;  --cancel--> cancelled;  --ttl--> expired
 *
 * Who may do what is asked of policies/eval.c with the CURRENT policy every
 * time (a reload that removes an approver takes effect at once); this file
 * adds the facts only the store knows: the request's requester, status,
 * earlier decisions.  Each change and its audit rows are one transaction
 * (store_begin .. store_commit): after a crash a request, decision or grant
 * is either fully there or absent.  Notifications go out after the commit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "access-int.h"

#define ACCESS_PENDING_MAX 20 /* open requests per requester: a cap on spam */
#define ACCESS_DEFAULT_TTL (24 * 3600LL)
#define ACCESS_DEFAULT_MAX (24 * 3600LL)

/* Marks a pending request whose ttl passed as expired, inside the open transaction. */
static int access_expire_request(struct store *s, struct store_request *r, long long now)
{
    int rc;

    if ((rc = store_request_set_status(s, r->id, STORE_REQ_EXPIRED, now, "system")) != 0) {
        return rc;
    }
    r->status = STORE_REQ_EXPIRED;
    return access_audit_tx(s, now, "system", "request.expire", "request", r->id,
                           json_pack("{sI}", "expired_at", (json_int_t)r->expires_at));
}

static int access_expire_grant(struct store *s, struct store_grant *g, long long now)
{
    int rc;

    if ((rc = store_grant_set_status(s, g->id, STORE_GRANT_EXPIRED, now, NULL, NULL)) != 0) {
        return rc;
    }
    g->status = STORE_GRANT_EXPIRED;
    return access_audit_tx(
        s, now, "system", "grant.expire", "grant", g->id,
        json_pack("{ss sI}", "user", g->user, "ends_at", (json_int_t)g->ends_at));
}

/*
 * Ends an operation that found its object already past its time: commits
 * the expiry just recorded (so the audit shows it) and refuses; the caller
 * has put the reason in err.
 */
static int access_refuse_stale(struct store *s, int rc)
{
    char tmp[64];

    if (rc != 0 || store_commit(s, tmp, sizeof(tmp)) != 0) {
        store_rollback(s);
    }
    return DB_ERR_CONFLICT;
}

int access_request(const struct access *a, const struct policy_subject *who,
                   const struct access_request_args *q, long long now, struct store_request *out,
                   char *err, size_t errlen)
{
    struct policy_request_query pq;
    struct policy_result res;
    struct store_request r;
    long long npending = 0;
    int rc;

    if ((rc = access_check_who(who, err, errlen)) != 0) {
        return rc;
    }
    if (q == NULL || q->target == NULL) {
        db_errf(err, errlen, "a target is required");
        return DB_ERR_INVALID;
    }
    if ((rc = access_check_text("reason", q->reason, 1, err, errlen)) != 0 ||
        (rc = access_check_ticket(q->ticket, err, errlen)) != 0) {
        return rc;
    }
    memset(&pq, 0, sizeof(pq));
    pq.subject = *who;
    pq.target = q->target;
    pq.login = q->login;
    pq.duration = q->duration;
    if ((rc = policy_eval_request(a->policy, &pq, &res)) != 0) {
        db_errf(err, errlen, "%s", res.reason[0] ? res.reason : "request refused");
        if (rc == DB_ERR_DENIED) {
            access_refused(a, who, now, "request", q->target, err);
        }
        return rc;
    }
    memset(&r, 0, sizeof(r));
    snprintf(r.requester, sizeof(r.requester), "%s", who->user);
    snprintf(r.target, sizeof(r.target), "%s", res.target->name);
    snprintf(r.login, sizeof(r.login), "%s", res.login);
    snprintf(r.rule, sizeof(r.rule), "%s", res.rule->name);
    snprintf(r.reason, sizeof(r.reason), "%s", q->reason);
    snprintf(r.ticket, sizeof(r.ticket), "%s", q->ticket != NULL ? q->ticket : "");
    r.duration = q->duration;
    r.status = STORE_REQ_PENDING;
    r.created_at = now;
    r.expires_at = now + (a->policy->request_ttl > 0 ? a->policy->request_ttl : ACCESS_DEFAULT_TTL);
    r.approvals_needed = res.rule->approvals > 1 ? res.rule->approvals : 1;

    if ((rc = store_begin(a->store)) != 0) {
        return access_store_fail(a->store, rc, err, errlen);
    }
    if ((rc = store_request_count_pending(a->store, who->user, &npending)) != 0) {
        return access_store_fail(a->store, rc, err, errlen);
    }
    if (npending >= ACCESS_PENDING_MAX) {
        store_rollback(a->store);
        db_errf(err, errlen, "you already have %lld pending requests; cancel some first", npending);
        return DB_ERR_DENIED;
    }
    if ((rc = store_request_insert(a->store, &r)) != 0 ||
        (rc = access_audit_tx(a->store, now, who->user, "request.create", "request", r.id,
                              access_request_json(&r))) != 0 ||
        (rc = store_commit(a->store, err, errlen)) != 0) {
        return access_store_fail(a->store, rc, err, errlen);
    }
    access_notify_request(a, "request.created", &r, who->user, NULL);
    if (out != NULL) {
        *out = r;
    }
    return 0;
}

/*
 * May who decide on request r under the current policy?  0, or DB_ERR_DENIED
 * with why.  rule_out gets the rule (NULL when it has left the policy).
 */
static int access_may_decide(const struct access *a, const struct policy_subject *who,
                             const struct store_request *r, const char *verb,
                             const struct policy_rule **rule_out, char *err, size_t errlen)
{
    const struct policy_rule *rule = access_rule_find(a->policy, r->rule);

    *rule_out = rule;
    if (strcmp(who->user, r->requester) == 0) {
        if (strcmp(verb, "deny") == 0) {
            db_errf(err, errlen, "you cannot deny your own request (cancel %lld instead)", r->id);
        } else {
            db_errf(err, errlen, "you cannot %s your own request", verb);
        }
        return DB_ERR_DENIED;
    }
    if (r->breakglass || rule == NULL) {
        db_errf(err, errlen, "request %lld cannot be decided: %s", r->id,
                r->breakglass ? "it is a break-glass grant"
                              : "its rule is no longer in the policy");
        return DB_ERR_DENIED;
    }
    if (!policy_may_approve(rule, who, r->requester)) {
        db_errf(err, errlen, "%s is not an approver for rule %s", who->user, rule->name);
        return DB_ERR_DENIED;
    }
    return 0;
}

/* Is the request still something the current policy would give? */
static int access_still_allowed(const struct access *a, const struct store_request *r,
                                const struct policy_rule *rule, char *err, size_t errlen)
{
    const struct policy_target *t = policy_target_find(a->policy, r->target);
    long long max = rule->max_duration > 0 ? rule->max_duration : ACCESS_DEFAULT_MAX;
    char d[32];

    if (t == NULL || !policy_rule_selects(rule, t) ||
        !policy_rule_allows_login(rule, t, r->login)) {
        db_errf(err, errlen, "request %lld: rule %s no longer gives %s@%s", r->id, rule->name,
                r->login, r->target);
        return DB_ERR_DENIED;
    }
    if (r->duration > max) {
        db_format_duration(max, d, sizeof(d));
        db_errf(err, errlen, "request %lld: rule %s now allows at most %s", r->id, rule->name, d);
        return DB_ERR_DENIED;
    }
    return 0;
}

/* Starts the grant of an approved request, inside the open transaction. */
static int access_grant_start(struct store *s, const struct store_request *r, long long now,
                              const char *actor, struct store_grant *g)
{
    int rc;

    memset(g, 0, sizeof(*g));
    g->id = r->id;
    memcpy(g->user, r->requester, sizeof(g->user));
    memcpy(g->target, r->target, sizeof(g->target));
    memcpy(g->login, r->login, sizeof(g->login));
    memcpy(g->rule, r->rule, sizeof(g->rule));
    g->starts_at = now;
    g->ends_at = now + r->duration;
    g->status = STORE_GRANT_ACTIVE;
    g->breakglass = r->breakglass;
    g->review_required = r->breakglass;
    if ((rc = store_grant_insert(s, g)) != 0) {
        return rc;
    }
    return access_audit_tx(s, now, actor, "grant.start", "grant", g->id, access_grant_json(g));
}

static int access_decide(const struct access *a, const struct policy_subject *who, long long id,
                         int approve, const char *text, long long now, struct store_request *out,
                         char *err, size_t errlen)
{
    const char *verb = approve ? "approve" : "deny";
    const struct policy_rule *rule = NULL;
    struct store_request r;
    struct store_decision d;
    struct store_grant g;
    int rc, needed;

    if ((rc = access_check_who(who, err, errlen)) != 0 ||
        (rc = access_check_text(approve ? "comment" : "reason", text, !approve, err, errlen)) !=
            0) {
        return rc;
    }
    if ((rc = store_begin(a->store)) != 0) {
        return access_store_fail(a->store, rc, err, errlen);
    }
    if ((rc = store_request_get(a->store, id, &r)) != 0) {
        store_rollback(a->store);
        db_errf(err, errlen, "no request %lld", id);
        return rc == DB_ERR_NOTFOUND ? rc : access_store_fail(a->store, rc, err, errlen);
    }
    if ((rc = access_may_decide(a, who, &r, verb, &rule, err, errlen)) != 0) {
        store_rollback(a->store);
        access_refused(a, who, now, verb, r.target, err);
        return rc;
    }
    if (r.status == STORE_REQ_PENDING && now >= r.expires_at) {
        rc = access_expire_request(a->store, &r, now);
        db_errf(err, errlen, "request %lld has expired (not decided in time)", id);
        return access_refuse_stale(a->store, rc);
    }
    if (r.status != STORE_REQ_PENDING) {
        store_rollback(a->store);
        db_errf(err, errlen, "request %lld is not pending (%s)", id,
                store_request_status_name(r.status));
        return DB_ERR_CONFLICT;
    }
    if (approve && (rc = access_still_allowed(a, &r, rule, err, errlen)) != 0) {
        store_rollback(a->store);
        return rc;
    }
    memset(&d, 0, sizeof(d));
    d.request_id = id;
    snprintf(d.approver, sizeof(d.approver), "%s", who->user);
    d.approve = approve;
    snprintf(d.comment, sizeof(d.comment), "%s", text != NULL ? text : "");
    d.at = now;
    rc = store_decision_insert(a->store, &d);
    if (rc == DB_ERR_EXISTS) {
        store_rollback(a->store);
        db_errf(err, errlen, "you have already decided on request %lld", id);
        return DB_ERR_CONFLICT;
    }
    needed = r.approvals_needed > rule->approvals ? r.approvals_needed : rule->approvals;
    if (approve) {
        r.approvals++;
    }
    if (rc != 0 ||
        (rc = access_audit_tx(a->store, now, who->user,
                              approve ? "request.approve" : "request.deny", "request", id,
                              json_pack("{si si ss}", "approvals", r.approvals, "needed", needed,
                                        approve ? "comment" : "reason", d.comment))) != 0) {
        return access_store_fail(a->store, rc, err, errlen);
    }
    if (!approve || r.approvals >= needed) {
        r.status = approve ? STORE_REQ_APPROVED : STORE_REQ_DENIED;
        r.decided_at = now;
        snprintf(r.decided_by, sizeof(r.decided_by), "%s", who->user);
        if ((rc = store_request_set_status(a->store, id, r.status, now, who->user)) != 0 ||
            (approve && (rc = access_grant_start(a->store, &r, now, who->user, &g)) != 0)) {
            return access_store_fail(a->store, rc, err, errlen);
        }
    }
    if ((rc = store_commit(a->store, err, errlen)) != 0) {
        return access_store_fail(a->store, rc, err, errlen);
    }
    if (r.status != STORE_REQ_PENDING) {
        access_notify_request(a, approve ? "request.approved" : "request.denied", &r, who->user,
                              text);
    }
    if (out != NULL) {
        *out = r;
    }
    return 0;
}

int access_approve(const struct access *a, const struct policy_subject *who, long long id,
                   const char *comment, long long now, struct store_request *out, char *err,
                   size_t errlen)
{
    return access_decide(a, who, id, 1, comment, now, out, err, errlen);
}

int access_deny(const struct access *a, const struct policy_subject *who, long long id,
                const char *reason, long long now, char *err, size_t errlen)
{
    return access_decide(a, who, id, 0, reason, now, NULL, err, errlen);
}

int access_cancel(const struct access *a, const struct policy_subject *who, long long id,
                  long long now, char *err, size_t errlen)
{
    struct store_request r;
    int rc;

    if ((rc = access_check_who(who, err, errlen)) != 0) {
        return rc;
    }
    if ((rc = store_begin(a->store)) != 0) {
        return access_store_fail(a->store, rc, err, errlen);
    }
    rc = store_request_get(a->store, id, &r);
    if (rc == DB_ERR_NOTFOUND || (rc == 0 && strcmp(r.requester, who->user) != 0)) {
        /* Someone else's request reads as absent: cancel reveals nothing about it. */
        store_rollback(a->store);
        db_errf(err, errlen, "you have no request %lld", id);
        return DB_ERR_NOTFOUND;
    }
    if (rc != 0) {
        return access_store_fail(a->store, rc, err, errlen);
    }
    if (r.status == STORE_REQ_PENDING && now >= r.expires_at) {
        rc = access_expire_request(a->store, &r, now);
        db_errf(err, errlen, "request %lld is not pending (expired)", id);
        return access_refuse_stale(a->store, rc);
    }
    if (r.status != STORE_REQ_PENDING) {
        store_rollback(a->store);
        db_errf(err, errlen, "request %lld is not pending (%s)", id,
                store_request_status_name(r.status));
        return DB_ERR_CONFLICT;
    }
    if ((rc = store_request_set_status(a->store, id, STORE_REQ_CANCELLED, now, who->user)) != 0 ||
        (rc = access_audit_tx(a->store, now, who->user, "request.cancel", "request", id,
                              json_object())) != 0 ||
        (rc = store_commit(a->store, err, errlen)) != 0) {
        return access_store_fail(a->store, rc, err, errlen);
    }
    return 0;
}

/* Holder, reviewer, or an approver of the grant's rule (current policy). */
static int access_may_revoke(const struct access *a, const struct policy_subject *who,
                             const struct store_grant *g)
{
    const struct policy_rule *rule = NULL;

    if (strcmp(who->user, g->user) == 0 || policy_is_reviewer(a->policy, who)) {
        return 1;
    }
    rule = g->breakglass ? NULL : access_rule_find(a->policy, g->rule);
    return rule != NULL && policy_may_approve(rule, who, g->user);
}

int access_revoke(const struct access *a, const struct policy_subject *who, long long id,
                  const char *reason, long long now, char *err, size_t errlen)
{
    struct store_request r;
    struct store_grant g;
    int rc;

    if ((rc = access_check_who(who, err, errlen)) != 0 ||
        (rc = access_check_text("reason", reason, 1, err, errlen)) != 0) {
        return rc;
    }
    if ((rc = store_begin(a->store)) != 0) {
        return access_store_fail(a->store, rc, err, errlen);
    }
    if ((rc = store_grant_get(a->store, id, &g)) != 0) {
        store_rollback(a->store);
        db_errf(err, errlen, "no grant %lld", id);
        return rc == DB_ERR_NOTFOUND ? rc : access_store_fail(a->store, rc, err, errlen);
    }
    if (!access_may_revoke(a, who, &g)) {
        store_rollback(a->store);
        db_errf(err, errlen, "%s may not revoke grant %lld (not an approver of %s%s or a reviewer)",
                who->user, id, g.breakglass ? "break-glass" : "rule ", g.breakglass ? "" : g.rule);
        access_refused(a, who, now, "revoke", g.target, err);
        return DB_ERR_DENIED;
    }
    if (g.status == STORE_GRANT_ACTIVE && now >= g.ends_at) {
        rc = access_expire_grant(a->store, &g, now);
        db_errf(err, errlen, "grant %lld is not active (expired)", id);
        return access_refuse_stale(a->store, rc);
    }
    if (g.status != STORE_GRANT_ACTIVE) {
        store_rollback(a->store);
        db_errf(err, errlen, "grant %lld is not active (%s)", id,
                store_grant_status_name(g.status));
        return DB_ERR_CONFLICT;
    }
    if ((rc = store_grant_set_status(a->store, id, STORE_GRANT_REVOKED, now, who->user, reason)) !=
            0 ||
        (rc = access_audit_tx(a->store, now, who->user, "grant.revoke", "grant", id,
                              json_pack("{ss ss}", "user", g.user, "reason", reason))) != 0 ||
        (rc = store_commit(a->store, err, errlen)) != 0) {
        return access_store_fail(a->store, rc, err, errlen);
    }
    {
        char gid[24];

        /* the sessions on this grant end now, not when it would have */
        snprintf(gid, sizeof(gid), "%lld", id);
        wake_send(WAKE_GRANT, gid);
    }
    if (store_request_get(a->store, id, &r) == 0) {
        access_notify_request(a, "grant.revoked", &r, who->user, reason);
    }
    return 0;
}

int access_breakglass(const struct access *a, const struct policy_subject *who, const char *target,
                      const char *login, long long duration, const char *reason, long long now,
                      struct store_request *out, char *err, size_t errlen)
{
    const struct policy_target *t = NULL;
    struct store_request r;
    struct store_grant g;
    long long max = a->policy->breakglass_max_duration;
    char d[32];
    int rc;

    if ((rc = access_check_who(who, err, errlen)) != 0 ||
        (rc = access_check_text("reason", reason, 1, err, errlen)) != 0) {
        return rc;
    }
    if (max <= 0 || !policy_is_breakglass_requester(a->policy, who)) {
        db_errf(err, errlen,
                max <= 0 ? "break-glass is not configured in the policy"
                         : "you are not allowed to use break-glass");
        access_refused(a, who, now, "breakglass", target != NULL ? target : "", err);
        return DB_ERR_DENIED;
    }
    if ((t = policy_target_find(a->policy, target)) == NULL) {
        db_errf(err, errlen, "no such target: %s", target != NULL ? target : "");
        return DB_ERR_NOTFOUND;
    }
    if (login != NULL && !policy_target_has_login(t, login)) {
        db_errf(err, errlen, "target %s has no login %s", t->name, login);
        return DB_ERR_INVALID;
    }
    if (duration <= 0 || duration > max) {
        db_format_duration(max, d, sizeof(d));
        db_errf(err, errlen, "break-glass duration must be from 1s to %s", d);
        return DB_ERR_INVALID;
    }
    memset(&r, 0, sizeof(r));
    snprintf(r.requester, sizeof(r.requester), "%s", who->user);
    snprintf(r.target, sizeof(r.target), "%s", t->name);
    snprintf(r.login, sizeof(r.login), "%s", login != NULL ? login : t->logins[0]);
    snprintf(r.reason, sizeof(r.reason), "%s", reason);
    snprintf(r.decided_by, sizeof(r.decided_by), "%s", who->user);
    r.duration = duration;
    r.status = STORE_REQ_APPROVED;
    r.created_at = r.expires_at = r.decided_at = now;
    r.breakglass = 1;
    if ((rc = store_begin(a->store)) != 0 || (rc = store_request_insert(a->store, &r)) != 0 ||
        (rc = access_audit_tx(a->store, now, who->user, "breakglass", "request", r.id,
                              access_request_json(&r))) != 0 ||
        (rc = access_grant_start(a->store, &r, now, who->user, &g)) != 0 ||
        (rc = store_commit(a->store, err, errlen)) != 0) {
        return access_store_fail(a->store, rc, err, errlen);
    }
    access_notify_request(a, "breakglass", &r, who->user, NULL);
    if (out != NULL) {
        *out = r;
    }
    return 0;
}

int access_expire(const struct access *a, long long now, int *count)
{
    struct store_request r;
    struct store_grant g;
    long long *rids = NULL, *gids = NULL;
    size_t nr = 0, ng = 0;
    char err[128];
    int rc, n = 0;

    if (count != NULL) {
        *count = 0;
    }
    /* Cheap reads first: every session calls this, and most times there is nothing to do. */
    if ((rc = store_request_list_stale(a->store, now, &rids, &nr)) != 0 ||
        (rc = store_grant_list_stale(a->store, now, &gids, &ng)) != 0 || (nr == 0 && ng == 0)) {
        goto out;
    }
    free(rids);
    free(gids);
    rids = gids = NULL;
    /* Again under the write lock: another process may have swept meanwhile. */
    if ((rc = store_begin(a->store)) != 0 ||
        (rc = store_request_list_stale(a->store, now, &rids, &nr)) != 0 ||
        (rc = store_grant_list_stale(a->store, now, &gids, &ng)) != 0) {
        store_rollback(a->store);
        goto out;
    }
    for (size_t i = 0; rc == 0 && i < nr; i++) {
        if ((rc = store_request_get(a->store, rids[i], &r)) == 0) {
            rc = access_expire_request(a->store, &r, now);
            n++;
        }
    }
    for (size_t i = 0; rc == 0 && i < ng; i++) {
        if ((rc = store_grant_get(a->store, gids[i], &g)) == 0) {
            rc = access_expire_grant(a->store, &g, now);
            n++;
        }
    }
    if (rc != 0 || (rc = store_commit(a->store, err, sizeof(err))) != 0) {
        store_rollback(a->store);
        n = 0;
    }
out:
    free(rids);
    free(gids);
    if (count != NULL) {
        *count = n;
    }
    return rc;
}

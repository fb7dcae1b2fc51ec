/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the access functions share: checks of user-supplied text (reasons,
 * comments, tickets), JSON for audit rows and notifications, and the audit
 * helpers the session code calls (authentication, policy loads, session
 * start and end).  Audit details are JSON objects dumped compactly with
 * sorted keys, so the same event always hashes the same way.
 */
#include <stdlib.h>
#include <string.h>

#include "access-int.h"

int access_check_who(const struct policy_subject *who, char *err, size_t errlen)
{
    if (who == NULL || who->user == NULL || who->user[0] == '\0' ||
        strnlen(who->user, STORE_NAME_MAX + 1) > STORE_NAME_MAX) {
        db_errf(err, errlen, "no valid user");
        return DB_ERR_INVALID;
    }
    return 0;
}

/*
 * Length of the control character at s (n bytes left), or 0: C0, DEL, C1,
 * the line/paragraph separators and the bidirectional overrides and
 * isolates, which would let a reason displayed to an approver read
 * differently from what it is.
 */
static size_t access_control_at(const unsigned char *s, size_t n)
{
    if (s[0] < 0x20 || s[0] == 0x7f) {
        return 1;
    }
    if (n >= 2 && s[0] == 0xc2 && s[1] >= 0x80 && s[1] <= 0x9f) {
        return 2;
    }
    if (n >= 3 && s[0] == 0xe2 && s[1] == 0x80 && s[2] >= 0xa8 && s[2] <= 0xae) {
        return 3; /* U+2028..U+202E */
    }
    if (n >= 3 && s[0] == 0xe2 && s[1] == 0x81 && s[2] >= 0xa6 && s[2] <= 0xa9) {
        return 3; /* U+2066..U+2069 */
    }
    return 0;
}

int access_check_text(const char *what, const char *s, int required, char *err, size_t errlen)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t len, blank = 1;

    if (s == NULL || s[0] == '\0') {
        if (required) {
            db_errf(err, errlen, "a %s is required", what);
            return DB_ERR_INVALID;
        }
        return 0;
    }
    len = strnlen(s, STORE_TEXT_MAX + 1);
    if (len > STORE_TEXT_MAX) {
        db_errf(err, errlen, "the %s is too long (at most %d bytes)", what, STORE_TEXT_MAX);
        return DB_ERR_INVALID;
    }
    if (!db_utf8_valid(s, len)) {
        db_errf(err, errlen, "the %s is not valid UTF-8", what);
        return DB_ERR_INVALID;
    }
    for (size_t i = 0; i < len; i++) {
        if (access_control_at(u + i, len - i) != 0) {
            db_errf(err, errlen, "the %s contains a control character (byte %zu)", what, i + 1);
            return DB_ERR_INVALID;
        }
        if (u[i] != ' ') {
            blank = 0;
        }
    }
    if (blank && required) {
        db_errf(err, errlen, "a %s is required", what);
        return DB_ERR_INVALID;
    }
    return 0;
}

int access_check_ticket(const char *s, char *err, size_t errlen)
{
    size_t len;

    if (s == NULL || s[0] == '\0') {
        return 0;
    }
    len = strnlen(s, STORE_TICKET_MAX + 1);
    if (len > STORE_TICKET_MAX) {
        db_errf(err, errlen, "the ticket is too long (at most %d characters)", STORE_TICKET_MAX);
        return DB_ERR_INVALID;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] < 0x21 || s[i] > 0x7e) {
            db_errf(err, errlen, "the ticket must be printable ASCII without spaces");
            return DB_ERR_INVALID;
        }
    }
    return 0;
}

const struct policy_rule *access_rule_find(const struct policy *p, const char *name)
{
    for (size_t i = 0; p != NULL && name != NULL && name[0] != '\0' && i < p->nrules; i++) {
        if (strcmp(p->rules[i].name, name) == 0) {
            return &p->rules[i];
        }
    }
    return NULL;
}

int access_store_fail(struct store *s, int rc, char *err, size_t errlen)
{
    store_rollback(s);
    if (rc == 0) {
        rc = DB_ERR_INTERNAL;
    }
    if (rc == DB_ERR_BUSY) {
        db_errf(err, errlen, "the store is busy; try again");
    } else {
        db_errf(err, errlen, "the store failed: %s", db_strerror(rc));
    }
    return rc;
}

json_t *access_json_str(const char *s)
{
    size_t len = s != NULL ? strlen(s) : 0;
    json_t *j = NULL;
    char *copy = NULL;

    if (s != NULL && db_utf8_valid(s, len)) {
        return json_stringn(s, len);
    }
    copy = malloc(len + 1);
    if (copy == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        copy[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    copy[len] = '\0';
    j = json_stringn(copy, len);
    free(copy);
    return j;
}

json_t *access_request_json(const struct store_request *r)
{
    return json_pack("{sI ss ss ss ss sI so ss si sI sb}", "id", (json_int_t)r->id, "requester",
                     r->requester, "target", r->target, "login", r->login, "rule", r->rule,
                     "duration", (json_int_t)r->duration, "reason", access_json_str(r->reason),
                     "ticket", r->ticket, "approvals_needed", r->approvals_needed, "expires_at",
                     (json_int_t)r->expires_at, "breakglass", r->breakglass);
}

json_t *access_grant_json(const struct store_grant *g)
{
    return json_pack("{sI ss ss ss ss sI sI sb sb}", "id", (json_int_t)g->id, "user", g->user,
                     "target", g->target, "login", g->login, "rule", g->rule, "starts_at",
                     (json_int_t)g->starts_at, "ends_at", (json_int_t)g->ends_at, "breakglass",
                     g->breakglass, "review_required", g->review_required);
}

/* "web" in the web console's process, NULL elsewhere (see access_audit_set_via). */
static const char *access_via;

void access_audit_set_via(const char *via)
{
    access_via = via;
}

static int access_audit_dump(struct store *s, long long now, const char *actor, const char *event,
                             const char *object, json_t *details)
{
    char *text = NULL;
    int rc;

    /* NULL is what json_pack returns when it fails: never record a row without its details. */
    if (details == NULL) {
        return DB_ERR_NOMEM;
    }
    if (access_via != NULL && json_is_object(details) &&
        json_object_set_new(details, "via", json_string(access_via)) != 0) {
        json_decref(details);
        return DB_ERR_NOMEM;
    }
    text = json_dumps(details, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    json_decref(details);
    if (text == NULL) {
        return DB_ERR_NOMEM;
    }
    rc = store_audit_append(s, now, actor, event, object, text, NULL);
    free(text);
    return rc;
}

int access_audit_tx(struct store *s, long long now, const char *actor, const char *event,
                    const char *kind, long long id, json_t *details)
{
    char object[64];

    snprintf(object, sizeof(object), "%s %lld", kind, id);
    return access_audit_dump(s, now, actor, event, object, details);
}

/* Printable ASCII, at most buflen - 1 bytes; anything else becomes '?'.  For names as typed. */
static char *access_printable(char *buf, size_t buflen, const char *s)
{
    size_t i = 0;

    for (; s != NULL && s[i] != '\0' && i + 1 < buflen; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    buf[i] = '\0';
    return buf;
}

void access_refused(const struct access *a, const struct policy_subject *who, long long now,
                    const char *action, const char *target, const char *why)
{
    char object[STORE_NAME_MAX + 1];
    json_t *d = json_pack("{ss so}", "action", action, "reason", access_json_str(why));

    /* The target is as typed (it may name nothing): keep the row short and plain. */
    access_audit_dump(a->store, now, who->user, "access.refused",
                      access_printable(object, sizeof(object), target), d);
}

void access_notify_request(const struct access *a, const char *event, const struct store_request *r,
                           const char *actor, const char *text)
{
    const struct policy_rule *rule = NULL;
    json_t *obj = NULL, *approvers = NULL;

    if (a->notify == NULL || a->notify->fn == NULL) {
        return;
    }
    obj = access_request_json(r);
    if (obj == NULL) {
        return;
    }
    json_object_set_new(obj, "event", json_string(event));
    json_object_set_new(obj, "actor", json_string(actor));
    json_object_set_new(obj, "status", json_string(store_request_status_name(r->status)));
    json_object_set_new(obj, "time", json_integer(r->decided_at ? r->decided_at : r->created_at));
    if (text != NULL && text[0] != '\0') {
        json_object_set_new(obj, "text", access_json_str(text));
    }
    if (r->status == STORE_REQ_APPROVED) {
        json_object_set_new(obj, "grant_ends_at", json_integer(r->decided_at + r->duration));
    }
    /* Who can act on it, so the hook can route the message ("group:sre-leads", ...). */
    rule = access_rule_find(a->policy, r->rule);
    if (rule != NULL && (approvers = json_array()) != NULL) {
        for (size_t i = 0; i < rule->napprovers; i++) {
            json_array_append_new(
                approvers,
                json_sprintf("%s:%s",
                             rule->approvers[i].kind == POLICY_PRINCIPAL_GROUP ? "group" : "user",
                             rule->approvers[i].name));
        }
        json_object_set_new(obj, "approvers", approvers);
    }
    a->notify->fn(a->notify->ctx, event, obj);
    json_decref(obj);
}

/* ---- helpers for the session code ---- */

int access_audit_auth(struct store *s, long long now, const char *user, const char *dn,
                      const char *peer, const char *method, int ok, const char *why)
{
    char actor[STORE_NAME_MAX + 1], err[128];
    json_t *d = NULL;
    int rc;

    /* Failed logins carry whatever name was typed: the actor is a short printable form of it,
     * the details keep it in full (JSON-escaped). */
    access_printable(actor, sizeof(actor), user);
    d = json_pack("{so so so}", "user", access_json_str(user), "peer", access_json_str(peer),
                  "method", access_json_str(method));
    if (d != NULL && !ok) {
        json_object_set_new(d, "reason", access_json_str(why));
    }
    if ((rc = store_begin(s)) != 0) {
        json_decref(d);
        return rc;
    }
    if (ok && (rc = store_user_seen(s, actor, dn, now)) != 0) {
        json_decref(d);
        store_rollback(s);
        return rc;
    }
    if ((rc = access_audit_dump(s, now, actor, ok ? "auth.success" : "auth.failure", actor, d)) !=
        0) {
        store_rollback(s);
        return rc;
    }
    return store_commit(s, err, sizeof(err));
}

int access_audit_policy_load(struct store *s, long long now, const char *path, int ok,
                             const char *detail)
{
    json_t *d = json_pack("{so}", "path", access_json_str(path));

    if (d != NULL && detail != NULL) {
        json_object_set_new(d, ok ? "summary" : "error", access_json_str(detail));
    }
    return access_audit_dump(s, now, "system", ok ? "policy.load" : "policy.reject", "policy", d);
}

int access_audit_event(struct store *s, long long now, const char *actor, const char *event,
                       const char *object, struct json_t *details)
{
    return access_audit_dump(s, now, actor, event, object,
                             details != NULL ? json_incref(details) : json_object());
}

int access_session_start(struct store *s, struct store_session *row)
{
    char object[STORE_SESSION_ID_LEN + 16], err[128];
    json_t *d = NULL;
    int rc;

    if ((rc = store_begin(s)) != 0) {
        return rc;
    }
    if ((rc = store_session_insert(s, row)) != 0) {
        store_rollback(s);
        return rc;
    }
    d = json_pack("{ss ss sI ss ss so}", "target", row->target, "login", row->login, "grant",
                  (json_int_t)row->grant_id, "kind", row->kind, "user", row->user, "command",
                  row->command != NULL ? access_json_str(row->command) : json_null());
    snprintf(object, sizeof(object), "session %s", row->id);
    if ((rc = access_audit_dump(s, row->started_at, row->user, "session.start", object, d)) != 0) {
        store_rollback(s);
        return rc;
    }
    return store_commit(s, err, sizeof(err));
}

int access_session_end(struct store *s, const char *id, const char *user, long long now,
                       int exit_status, const char *sha256, const char *hmac)
{
    char object[STORE_SESSION_ID_LEN + 16], err[128];
    json_t *d = NULL;
    int rc;

    if ((rc = store_begin(s)) != 0) {
        return rc;
    }
    if ((rc = store_session_end(s, id, now, exit_status, sha256, hmac)) != 0) {
        store_rollback(s);
        return rc;
    }
    d = json_pack("{si so}", "exit_status", exit_status, "sha256",
                  sha256 != NULL ? json_string(sha256) : json_null());
    snprintf(object, sizeof(object), "session %.*s", STORE_SESSION_ID_LEN, id);
    if ((rc = access_audit_dump(s, now, user, "session.end", object, d)) != 0) {
        store_rollback(s);
        return rc;
    }
    return store_commit(s, err, sizeof(err));
}

int access_sessions_reap(struct store *s, long long now, int (*alive)(long long pid), int *count)
{
    struct store_live *v = NULL;
    size_t n = 0;
    int rc, done = 0;

    if (count != NULL) {
        *count = 0;
    }
    if ((rc = store_session_list_live_pids(s, &v, &n)) != 0) {
        return rc;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        char object[STORE_SESSION_ID_LEN + 16], err[128];
        json_t *d = NULL;

        if (v[i].pid > 0 && alive(v[i].pid)) {
            continue;
        }
        if ((rc = store_begin(s)) != 0) {
            break;
        }
        /* its process is gone: nothing else will ever end this row */
        rc = store_session_end(s, v[i].id, now, -1, NULL, NULL);
        if (rc == 0) {
            d = json_pack("{si ss sI}", "exit_status", -1, "reason",
                          "the process serving the session ended without closing it", "pid",
                          (json_int_t)v[i].pid);
            snprintf(object, sizeof(object), "session %.*s", STORE_SESSION_ID_LEN, v[i].id);
            rc = access_audit_dump(s, now, v[i].user, "session.end", object, d);
        }
        if (rc != 0) {
            store_rollback(s);
            break;
        }
        if ((rc = store_commit(s, err, sizeof(err))) == 0) {
            done++;
        }
    }
    free(v);
    if (count != NULL) {
        *count = done;
    }
    return rc;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `show N` prints one request as its requester, an approver of its rule or
 * a reviewer may see it: what was asked, why, every decision with its time
 * and comment, and the state of its grant.  A request the caller may not
 * see reads exactly like one that does not exist (access_show decides).
 *
 * This file also holds the JSON views of requests, decisions and grants
 * that `request`, `requests` and `grants` print too, so that one object
 * looks the same wherever it appears (the fields are listed in shell.h).
 */
#include "shell.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* A JSON string, or null for "" (no ticket, no comment, not decided). */
static json_t *show_str_or_null(const char *s)
{
    return s[0] != '\0' ? shell_json_string(s) : json_null();
}

struct json_t *shell_request_json(const struct policy *p, const struct store_request *r)
{
    const struct policy_rule *rule = shell_rule_find(p, r->rule);
    json_t *o = json_object();
    int bad = o == NULL;

    bad = bad || json_object_set_new(o, "id", json_integer((json_int_t)r->id)) < 0;
    bad = bad ||
          json_object_set_new(o, "status", json_string(store_request_status_name(r->status))) < 0;
    bad = bad || json_object_set_new(o, "requester", shell_json_string(r->requester)) < 0;
    bad = bad || json_object_set_new(o, "target", shell_json_string(r->target)) < 0;
    bad = bad || json_object_set_new(o, "login", shell_json_string(r->login)) < 0;
    bad = bad || json_object_set_new(o, "rule", show_str_or_null(r->rule)) < 0;
    bad = bad || json_object_set_new(o, "breakglass", json_boolean(r->breakglass)) < 0;
    bad = bad || json_object_set_new(o, "duration", json_integer((json_int_t)r->duration)) < 0;
    bad = bad || json_object_set_new(o, "reason", shell_json_string(r->reason)) < 0;
    bad = bad || json_object_set_new(o, "ticket", show_str_or_null(r->ticket)) < 0;
    bad = bad || json_object_set_new(o, "approvals", json_integer(r->approvals)) < 0;
    bad = bad || json_object_set_new(o, "approvals_needed", json_integer(r->approvals_needed)) < 0;
    bad = bad || json_object_set_new(o, "approvers",
                                     rule != NULL
                                         ? shell_principals_json(rule->approvers, rule->napprovers)
                                         : json_array()) < 0;
    bad = bad || shell_json_set_time(o, "created_at", r->created_at) < 0;
    bad = bad || shell_json_set_time(o, "expires_at", r->expires_at) < 0;
    bad = bad || shell_json_set_time(o, "decided_at", r->decided_at) < 0;
    bad = bad || json_object_set_new(o, "decided_by", show_str_or_null(r->decided_by)) < 0;
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

struct json_t *shell_decision_json(const struct store_decision *d)
{
    json_t *o = json_object();
    int bad = o == NULL;

    bad = bad || json_object_set_new(o, "approver", shell_json_string(d->approver)) < 0;
    bad =
        bad || json_object_set_new(o, "decision", json_string(d->approve ? "approve" : "deny")) < 0;
    bad = bad || json_object_set_new(o, "comment", show_str_or_null(d->comment)) < 0;
    bad = bad || shell_json_set_time(o, "at", d->at) < 0;
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

struct json_t *shell_grant_json(const struct store_grant *g)
{
    json_t *o = json_object();
    int bad = o == NULL;

    bad = bad || json_object_set_new(o, "id", json_integer((json_int_t)g->id)) < 0;
    bad = bad ||
          json_object_set_new(o, "status", json_string(store_grant_status_name(g->status))) < 0;
    bad = bad || json_object_set_new(o, "user", shell_json_string(g->user)) < 0;
    bad = bad || json_object_set_new(o, "target", shell_json_string(g->target)) < 0;
    bad = bad || json_object_set_new(o, "login", shell_json_string(g->login)) < 0;
    bad = bad || json_object_set_new(o, "rule", show_str_or_null(g->rule)) < 0;
    bad = bad || json_object_set_new(o, "breakglass", json_boolean(g->breakglass)) < 0;
    bad = bad || shell_json_set_time(o, "starts_at", g->starts_at) < 0;
    bad = bad || shell_json_set_time(o, "ends_at", g->ends_at) < 0;
    bad = bad || shell_json_set_time(o, "revoked_at", g->revoked_at) < 0;
    bad = bad || json_object_set_new(o, "revoked_by", show_str_or_null(g->revoked_by)) < 0;
    bad = bad || json_object_set_new(o, "revoke_reason", show_str_or_null(g->revoke_reason)) < 0;
    bad = bad || json_object_set_new(o, "review_required", json_boolean(g->review_required)) < 0;
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int show_json(struct shell_ctx *c, const struct store_request *r,
                     const struct store_decision *d, size_t nd, const struct store_grant *g)
{
    json_t *o = json_object();
    json_t *decs = json_array();
    int r2 = DB_ERR_NOMEM;

    if (o == NULL || decs == NULL) {
        goto out;
    }
    for (size_t i = 0; i < nd; i++) {
        if (json_array_append_new(decs, shell_decision_json(&d[i])) < 0) {
            goto out;
        }
    }
    if (json_object_set_new(o, "request", shell_request_json(shell_policy(c), r)) < 0 ||
        json_object_set(o, "decisions", decs) < 0 ||
        json_object_set_new(
            o, "grant", g->status != STORE_GRANT_NONE ? shell_grant_json(g) : json_null()) < 0) {
        goto out;
    }
    r2 = shell_out_json(c, o);
out:
    json_decref(decs);
    json_decref(o);
    return r2;
}

/* "  label  value" with value sanitized (any length: reasons run to 1024 bytes). */
static void show_field(struct shell_ctx *c, const char *label, const char *value)
{
    char shown[STORE_TEXT_MAX + 8];

    shell_sanitize(shown, sizeof(shown), value, strlen(value), 0);
    shell_out(c, "  %-10s %s\n", label, shown);
}

static void show_request_text(struct shell_ctx *c, const struct store_request *r)
{
    const struct policy_rule *rule = shell_rule_find(shell_policy(c), r->rule);
    char line[600], who[400], t1[SHELL_TIME_MAX], dur[32];

    if (r->status == STORE_REQ_PENDING) {
        shell_out(c, "request %lld: pending (%d of %d approval(s))\n", r->id, r->approvals,
                  r->approvals_needed);
    } else {
        shell_out(c, "request %lld: %s\n", r->id, store_request_status_name(r->status));
    }
    show_field(c, "requester:", r->requester);
    snprintf(line, sizeof(line), "%s as %s", r->target, r->login);
    show_field(c, "target:", line);
    if (r->breakglass) {
        show_field(c, "rule:", "break-glass (the session will be reviewed)");
    } else {
        shell_principals(rule != NULL ? rule->approvers : NULL, rule != NULL ? rule->napprovers : 0,
                         who, sizeof(who));
        snprintf(line, sizeof(line), "%s, needs %d approval(s) from %s", r->rule,
                 r->approvals_needed, rule != NULL ? who : "(rule no longer in the policy)");
        show_field(c, "rule:", line);
    }
    db_format_duration(r->duration, dur, sizeof(dur));
    show_field(c, "duration:", dur);
    show_field(c, "reason:", r->reason);
    if (r->ticket[0] != '\0') {
        show_field(c, "ticket:", r->ticket);
    }
    show_field(c, "created:", shell_time(r->created_at, t1, sizeof(t1)));
    if (r->status == STORE_REQ_PENDING || r->status == STORE_REQ_EXPIRED) {
        show_field(c, r->status == STORE_REQ_PENDING ? "expires:" : "expired:",
                   shell_time(r->expires_at, t1, sizeof(t1)));
    }
    if (r->decided_at != 0) {
        snprintf(line, sizeof(line), "%s by %s", shell_time(r->decided_at, t1, sizeof(t1)),
                 r->decided_by);
        show_field(c, "decided:", line);
    }
}

static void show_decisions_text(struct shell_ctx *c, const struct store_decision *d, size_t nd)
{
    char t1[SHELL_TIME_MAX], who[STORE_NAME_MAX + 8], comment[STORE_TEXT_MAX + 8];

    shell_out(c, "decisions:%s\n", nd == 0 ? " none yet" : "");
    for (size_t i = 0; i < nd; i++) {
        shell_sanitize(who, sizeof(who), d[i].approver, strlen(d[i].approver), 0);
        shell_sanitize(comment, sizeof(comment), d[i].comment, strlen(d[i].comment), 0);
        shell_out(c, "  %s  %s %s%s%s\n", shell_time(d[i].at, t1, sizeof(t1)), who,
                  d[i].approve ? "approved" : "denied", comment[0] != '\0' ? ": " : "", comment);
    }
}

static void show_grant_text(struct shell_ctx *c, const struct store_grant *g)
{
    char t1[SHELL_TIME_MAX], t2[SHELL_TIME_MAX], line[STORE_TEXT_MAX + 200];
    char shown[sizeof(line) + 8];

    if (g->status == STORE_GRANT_NONE) {
        shell_out(c, "grant: none\n");
        return;
    }
    shell_time(g->starts_at, t1, sizeof(t1));
    shell_time(g->ends_at, t2, sizeof(t2));
    switch (g->status) {
    case STORE_GRANT_ACTIVE:
        snprintf(line, sizeof(line), "active from %s until %s", t1, t2);
        break;
    case STORE_GRANT_REVOKED:
        snprintf(line, sizeof(line), "revoked %s by %s: %s (was until %s)",
                 shell_time(g->revoked_at, t1, sizeof(t1)), g->revoked_by, g->revoke_reason, t2);
        break;
    default:
        snprintf(line, sizeof(line), "expired %s (from %s)", t2, t1);
        break;
    }
    shell_sanitize(shown, sizeof(shown), line, strlen(line), 0);
    shell_out(c, "grant %lld: %s%s\n", g->id, shown,
              g->review_required ? "; its sessions need review" : "");
}

static int cmd_show_exec(struct shell_ctx *c, int argc, char **argv)
{
    static const char *const spec[] = {"json", NULL};
    const struct access *a = NULL;
    struct policy_subject who = shell_subject(c);
    struct shell_opts o;
    struct store_request req;
    struct store_decision *decs = NULL;
    struct store_grant grant;
    size_t ndecs = 0;
    char err[512] = "";
    long long id = 0;
    int r;

    if ((r = shell_cmd_opts(c, spec, argc, argv, &o)) != 0) {
        return r;
    }
    if (o.npos != 1) {
        return shell_usage(c, argv[0],
                           o.npos == 0 ? "a request number is required" : "too many arguments");
    }
    if ((r = shell_parse_id(c, argv[0], o.pos[0], &id)) != 0) {
        return r;
    }
    if ((a = shell_access(c)) == NULL) {
        return SHELL_FAIL;
    }
    if ((r = access_show(a, &who, id, shell_now(c), &req, &decs, &ndecs, &grant, err,
                         sizeof(err))) != 0) {
        return shell_refuse(c, r, err);
    }
    r = SHELL_OK;
    if (shell_opt(&o, "json") != NULL) {
        if (show_json(c, &req, decs, ndecs, &grant) < 0) {
            r = shell_fail(c, "out of memory");
        }
        goto out;
    }
    show_request_text(c, &req);
    show_decisions_text(c, decs, ndecs);
    show_grant_text(c, &grant);
out:
    free(decs);
    return r;
}

const struct shell_cmd_entry shell_cmd_show_entry = {
    .name = "show",
    .usage = "show N [--json]",
    .summary = "show a request: what, why, decisions, grant",
    .exec = cmd_show_exec,
};

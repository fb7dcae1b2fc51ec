/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Back-ends of the operator commands `drawbridge audit`, `verify` and
 * `access-report`: each opens the store under state_dir, writes its report
 * to the stream it is given and its problems to stderr, and returns 0 or a
 * negative DB_ERR_* for main.c to turn into an exit status.  Unlike the rest
 * of the broker's library code these read the clock: they are the CLI.
 *
 * Anything printed that came from the store is passed through admin_safe so
 * that a hostile name in the audit (a failed login can carry any bytes)
 * cannot drive the operator's terminal.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "broker.h"

static int admin_open(const struct config *c, struct store **s)
{
    char err[512] = "";
    int rc = store_open(c->state_dir, s, err, sizeof(err));

    if (rc != 0) {
        fprintf(stderr, "drawbridge: %s\n", err);
    }
    return rc;
}

static void admin_time(long long t, char *buf, size_t buflen)
{
    struct tm tm;
    time_t tt = (time_t)t;

    if (gmtime_r(&tt, &tm) == NULL || strftime(buf, buflen, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
        snprintf(buf, buflen, "%lld", t);
    }
}

/* Printable ASCII kept; every other byte shown as '?'. */
static void admin_safe(FILE *out, const char *s)
{
    for (; s != NULL && *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;
        fputc(ch >= 0x20 && ch < 0x7f ? ch : '?', out);
    }
}

/*
 * --since: unix seconds, YYYY-MM-DD (UTC midnight), YYYY-MM-DDTHH:MM:SSZ, or
 * a DURATION meaning that long before now.
 */
static int admin_parse_since(const char *s, long long now, long long *out)
{
    struct tm tm;
    const char *end = NULL;
    long long d = 0;
    size_t i = 0;

    *out = 0;
    if (s == NULL) {
        return 0;
    }
    while (s[i] >= '0' && s[i] <= '9') {
        i++;
    }
    if (i > 0 && i <= 12 && s[i] == '\0') {
        *out = strtoll(s, NULL, 10);
        return 0;
    }
    memset(&tm, 0, sizeof(tm));
    end = strptime(s, "%Y-%m-%d", &tm);
    if (end != NULL && *end == 'T') {
        end = strptime(end + 1, "%H:%M:%S", &tm);
        if (end == NULL || *end != 'Z') {
            return DB_ERR_USAGE;
        }
        end++;
    }
    if (end != NULL && *end == '\0') {
        *out = (long long)timegm(&tm);
        return 0;
    }
    if (db_parse_duration(s, &d) == 0) {
        *out = now - d;
        return 0;
    }
    return DB_ERR_USAGE;
}

struct admin_audit_ctx {
    FILE *out;
    int json;
};

/* A JSON string of whatever the store holds: bytes that are not UTF-8 become '?'. */
static json_t *admin_json_str(const char *s)
{
    size_t len = s != NULL ? strlen(s) : 0;
    char *copy = NULL;
    json_t *j = NULL;

    if (db_utf8_valid(s != NULL ? s : "", len)) {
        return json_stringn(s != NULL ? s : "", len);
    }
    if ((copy = strdup(s)) == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)copy[i] >= 0x80) {
            copy[i] = '?';
        }
    }
    j = json_stringn(copy, len);
    free(copy);
    return j;
}

static int admin_audit_row(void *ctx, const struct audit_row *row)
{
    struct admin_audit_ctx *c = ctx;
    char when[32];
    json_t *o = NULL, *details = NULL;
    char *line = NULL;

    if (c->json) {
        /* details is JSON text written by us; if someone put something else there, show it
         * as a string rather than drop it (verify is what judges it). */
        details = json_loads(row->details != NULL ? row->details : "{}", 0, NULL);
        o = json_pack("{sI sI so so so so ss ss}", "seq", (json_int_t)row->seq, "time",
                      (json_int_t)row->time, "actor", admin_json_str(row->actor), "event",
                      admin_json_str(row->event), "object", admin_json_str(row->object), "details",
                      details != NULL ? details : admin_json_str(row->details), "prev_hash",
                      row->prev_hash, "hash", row->hash);
        line = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER)
                         : NULL;
        json_decref(o);
        if (line == NULL) {
            return DB_ERR_NOMEM;
        }
        fprintf(c->out, "%s\n", line);
        free(line);
        return 0;
    }
    admin_time(row->time, when, sizeof(when));
    fprintf(c->out, "%lld %s ", row->seq, when);
    admin_safe(c->out, row->actor);
    fputc(' ', c->out);
    admin_safe(c->out, row->event);
    fputs(" [", c->out);
    admin_safe(c->out, row->object);
    fputs("] ", c->out);
    admin_safe(c->out, row->details);
    fputc('\n', c->out);
    return 0;
}

int admin_audit(const struct config *c, int json, const char *since, FILE *out)
{
    struct admin_audit_ctx ctx;
    struct store *s = NULL;
    long long from = 0;
    int rc;

    if (admin_parse_since(since, (long long)time(NULL), &from) != 0) {
        fprintf(stderr, "drawbridge: --since: expected unix seconds, YYYY-MM-DD, "
                        "YYYY-MM-DDTHH:MM:SSZ or a duration such as 2h\n");
        return DB_ERR_USAGE;
    }
    if ((rc = admin_open(c, &s)) != 0) {
        return rc;
    }
    ctx.out = out;
    ctx.json = json;
    /* since 0 means "everything"; a --since of the epoch itself reads the same. */
    rc = store_audit_foreach(s, from, admin_audit_row, &ctx);
    if (rc != 0) {
        fprintf(stderr, "drawbridge: reading the audit chain: %s\n", db_strerror(rc));
    }
    store_close(s);
    return rc;
}

/*
 * Recordings: the recordings module plugs its check in here (every sealed
 * session's file hashed and HMAC'd against the store, or only the sessions
 * named).  Until it exists there is nothing to check, and saying so is
 * better than a silent "ok".
 */
static int admin_verify_recordings(struct store *s, char *const *sessions, size_t nsessions,
                                   FILE *out)
{
    (void)s;
    (void)sessions;
    if (nsessions > 0) {
        fprintf(stderr, "drawbridge: recordings: this build cannot verify recordings yet\n");
        return DB_ERR_UNAVAIL;
    }
    fprintf(out, "recordings: not checked (no recording verifier in this build)\n");
    return 0;
}

int admin_verify(const struct config *c, char *const *sessions, size_t nsessions, FILE *out)
{
    struct store *s = NULL;
    char err[512] = "";
    long long n = 0;
    int rc, rc2;

    if ((rc = admin_open(c, &s)) != 0) {
        return rc;
    }
    rc = store_audit_verify(s, &n, err, sizeof(err));
    if (rc == 0) {
        fprintf(out, "audit chain: ok (%lld rows)\n", n);
    } else if (rc == DB_ERR_TAMPERED) {
        fprintf(out, "audit chain: TAMPERED: ");
        admin_safe(out, err);
        fputc('\n', out);
    } else {
        fprintf(stderr, "drawbridge: audit chain: %s\n", err[0] ? err : db_strerror(rc));
    }
    rc2 = admin_verify_recordings(s, sessions, nsessions, out);
    store_close(s);
    /* A tamper anywhere wins over any other failure: it is what exit status 1 must mean. */
    if (rc == DB_ERR_TAMPERED || rc2 == DB_ERR_TAMPERED) {
        return DB_ERR_TAMPERED;
    }
    return rc != 0 ? rc : rc2;
}

static void admin_principals(FILE *out, const struct policy_principal *ps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        fprintf(out, "%s%s:", i ? ", " : "",
                ps[i].kind == POLICY_PRINCIPAL_GROUP ? "group" : "user");
        admin_safe(out, ps[i].name);
    }
}

static void admin_report_grants(FILE *out, const struct policy *p, struct store_grant *g, size_t n,
                                long long now)
{
    char when[32], left[32];

    fprintf(out, "live grants (%zu):\n", n);
    if (n == 0) {
        fprintf(out, "  (none)\n");
    }
    for (size_t i = 0; i < n; i++) {
        const char *why = "";

        admin_time(g[i].ends_at, when, sizeof(when));
        db_format_duration(g[i].ends_at - now, left, sizeof(left));
        if (g[i].breakglass) {
            why = "  break-glass, review required";
        } else if (p != NULL && policy_target_find(p, g[i].target) != NULL) {
            int found = 0;
            for (size_t k = 0; k < p->nrules; k++) {
                found |= strcmp(p->rules[k].name, g[i].rule) == 0;
            }
            why = found ? "" : "  (its rule is gone from the policy: not usable)";
        } else if (p != NULL) {
            why = "  (its target is gone from the policy: not usable)";
        }
        fprintf(out, "  %s -> %s@%s  grant %lld  rule %s  until %s (%s left)%s\n", g[i].user,
                g[i].login, g[i].target, g[i].id, g[i].rule[0] ? g[i].rule : "-", when, left, why);
    }
}

static void admin_report_standing(FILE *out, const struct policy *p)
{
    size_t lines = 0;

    fprintf(out, "standing access (unprotected targets only):\n");
    for (size_t i = 0; p != NULL && i < p->nrules; i++) {
        const struct policy_rule *r = &p->rules[i];

        if (!r->standing) {
            continue;
        }
        for (size_t t = 0; t < p->ntargets; t++) {
            const struct policy_target *tg = &p->targets[t];

            if (!policy_rule_selects(r, tg) || policy_target_is_protected(p, tg)) {
                continue;
            }
            fputs("  ", out);
            admin_principals(out, r->requesters, r->nrequesters);
            fprintf(out, " -> ");
            for (size_t l = 0, k = 0; l < tg->nlogins; l++) {
                if (policy_rule_allows_login(r, tg, tg->logins[l])) {
                    fprintf(out, "%s%s", k++ ? "," : "", tg->logins[l]);
                }
            }
            fprintf(out, "@%s  rule %s\n", tg->name, r->name);
            lines++;
        }
    }
    if (lines == 0) {
        fprintf(out, "  (none)\n");
    }
    fprintf(out, "protected targets (grant only):");
    lines = 0;
    for (size_t t = 0; p != NULL && t < p->ntargets; t++) {
        if (policy_target_is_protected(p, &p->targets[t])) {
            fprintf(out, "%s%s", lines++ ? ", " : " ", p->targets[t].name);
        }
    }
    fprintf(out, "%s\n", lines ? "" : " (none)");
}

int admin_access_report(const struct config *c, const struct policy *p, long long now, FILE *out)
{
    struct store *s = NULL;
    struct store_grant *g = NULL;
    size_t n = 0;
    int rc;

    if ((rc = admin_open(c, &s)) != 0) {
        return rc;
    }
    rc = store_grant_list_live(s, NULL, now, &g, &n);
    if (rc != 0) {
        fprintf(stderr, "drawbridge: reading grants: %s\n", db_strerror(rc));
        goto out;
    }
    admin_report_grants(out, p, g, n, now);
    admin_report_standing(out, p);
out:
    free(g);
    store_close(s);
    return rc;
}

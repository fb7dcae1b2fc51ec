/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The second factor's part of `drawbridge access-report`: who is enrolled
 * (since when, recovery codes left, locked), whose enrolment is pending, and
 * who the policy's mfa.require names but has not enrolled -- the users seen
 * at a login whose directory groups match, and every user:NAME listed.  The
 * groups are asked from the directory at the time of the report; when it
 * cannot be asked the report says so rather than leave people out silently.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker.h"

static void amfa_time(long long t, char *buf, size_t len)
{
    struct tm tm;
    time_t tt = (time_t)t;

    if (gmtime_r(&tt, &tm) == NULL || strftime(buf, len, "%Y-%m-%d %H:%M UTC", &tm) == 0) {
        snprintf(buf, len, "%lld", t);
    }
}

/* The first principal of mfa.require naming who, as "group:NAME" / "user:NAME"; NULL if none. */
static const char *amfa_required_by(const struct policy *p, const struct policy_subject *who,
                                    char *buf, size_t len)
{
    for (size_t i = 0; i < p->mfa.nrequire; i++) {
        if (policy_principals_match(&p->mfa.require[i], 1, who)) {
            snprintf(buf, len, "%s:%s",
                     p->mfa.require[i].kind == POLICY_PRINCIPAL_GROUP ? "group" : "user",
                     p->mfa.require[i].name);
            return buf;
        }
    }
    return NULL;
}

static const struct store_mfa *amfa_find(const struct store_mfa *v, size_t n, const char *user)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i].user, user) == 0) {
            return &v[i];
        }
    }
    return NULL;
}

/* One user who is not enrolled: printed when required (a directory lookup for groups). */
static void amfa_required(FILE *out, const struct policy *p, struct dir *d, int *dir_down,
                          const char *user, size_t *lines)
{
    struct policy_subject who = {user, NULL, 0};
    struct dir_user *u = NULL;
    char by[300], err[256];
    const char *why = amfa_required_by(p, &who, by, sizeof(by));

    if (why == NULL && d != NULL && !*dir_down) {
        int rc = dir_lookup(d, user, &u, err, sizeof(err));

        if (rc == 0) {
            who.groups = (const char *const *)u->groups;
            who.ngroups = u->ngroups;
            why = amfa_required_by(p, &who, by, sizeof(by));
        } else if (rc != DB_ERR_NOTFOUND) {
            *dir_down = 1;
        }
    }
    if (why != NULL) {
        fprintf(out, "  %-12s required (%s), not enrolled\n", user, why);
        (*lines)++;
    }
    dir_user_free(u);
}

void admin_report_mfa(FILE *out, const struct config *c, const struct policy *p, struct store *s,
                      long long now)
{
    struct store_mfa *v = NULL;
    struct store_user_name *users = NULL;
    struct dir *d = NULL;
    size_t n = 0, nusers = 0, lines = 0;
    int dir_down = 0;
    char when[40];

    fprintf(out, "second factor (a code needed for:");
    for (unsigned bit = POLICY_MFA_PROTECTED, k = 0; p != NULL && bit <= POLICY_MFA_TERMINATE;
         bit <<= 1) {
        if (policy_mfa_needs_code(p, bit)) {
            fprintf(out, "%s%s", k++ ? ", " : " ", policy_mfa_action_name(bit));
        }
    }
    fprintf(out, "%s):\n", p != NULL && p->mfa.actions != 0 ? "" : " nothing");
    if (store_mfa_list(s, &v, &n) != 0 || store_user_list(s, &users, &nusers) != 0) {
        fprintf(out, "  (the store cannot be read)\n");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        db_wipe(v[i].secret, sizeof(v[i].secret));
        if (!v[i].active) {
            fprintf(out, "  %-12s enrolment pending (not confirmed)\n", v[i].user);
        } else {
            amfa_time(v[i].confirmed_at, when, sizeof(when));
            fprintf(out, "  %-12s enrolled since %s, %d recovery codes left", v[i].user, when,
                    v[i].recovery_left);
            if (v[i].locked_until > now) {
                amfa_time(v[i].locked_until, when, sizeof(when));
                fprintf(out, ", codes locked until %s", when);
            }
            fputc('\n', out);
        }
        lines++;
    }
    if (p != NULL && p->mfa.nrequire > 0) {
        if (dir_new(c, &d) != 0) {
            d = NULL;
            dir_down = 1;
        }
        for (size_t i = 0; i < nusers; i++) {
            const struct store_mfa *m = amfa_find(v, n, users[i].name);

            if (m == NULL || !m->active) {
                amfa_required(out, p, d, &dir_down, users[i].name, &lines);
            }
        }
        /* user:NAME entries who never logged in */
        for (size_t i = 0; i < p->mfa.nrequire; i++) {
            const char *name = p->mfa.require[i].name;
            int seen = 0;

            if (p->mfa.require[i].kind != POLICY_PRINCIPAL_USER) {
                continue;
            }
            for (size_t k = 0; k < nusers && !seen; k++) {
                seen = strcmp(users[k].name, name) == 0;
            }
            if (!seen && amfa_find(v, n, name) == NULL) {
                fprintf(out, "  %-12s required (user:%s), not enrolled (never logged in)\n", name,
                        name);
                lines++;
            }
        }
        if (dir_down) {
            fprintf(out, "  (the directory cannot be asked: users required through a group may be "
                         "missing)\n");
        }
    }
    if (lines == 0) {
        fprintf(out, "  (nobody enrolled, nobody required)\n");
    }
out:
    dir_free(d);
    free(users);
    free(v);
}

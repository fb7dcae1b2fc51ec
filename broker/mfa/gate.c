/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a login may do, as far as the second factor is concerned (mfa.h,
 * mfa_gate).  The wording of the refusals is fixed here once, so the shell,
 * target sessions and any other front end say the same thing:
 *
 *   drawbridge: approve needs a verification code (enrol: ssh gw mfa enroll)
 *   drawbridge: a session to protected target web-1 needs a verification code (...)
 *   drawbridge: alice must enrol a second factor first: ssh gw mfa enroll (...)
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "mfa.h"

static void gate_refused(const struct mfa_ctx *m, const char *user, unsigned action,
                         const char *object, const char *why)
{
    json_t *d = json_object();
    const char *name = action != MFA_GATE_ANY ? policy_mfa_action_name(action) : NULL;
    char obj[STORE_NAME_MAX + 1];

    if (d == NULL || m->store == NULL) {
        json_decref(d);
        return;
    }
    /* the object may be a target name as typed: keep it short and printable */
    snprintf(obj, sizeof(obj), "%s", object != NULL && object[0] != '\0' ? object : "gateway");
    for (char *p = obj; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f) {
            *p = '?';
        }
    }
    json_object_set_new(d, "action", json_string(name != NULL ? name : "command"));
    json_object_set_new(d, "reason", json_string(why));
    json_object_set_new(d, "peer", json_string(m->peer != NULL ? m->peer : ""));
    if (m->via != NULL) {
        json_object_set_new(d, "via", json_string(m->via));
    }
    access_audit_event(m->store, (long long)time(NULL), user, "access.refused", obj, d);
    json_decref(d);
}

int mfa_gate(const struct mfa_ctx *m, const struct policy *p, const struct policy_subject *who,
             unsigned action, const char *object, int verified, char *err, size_t errlen)
{
    struct mfa_status st;
    int needs_code = action != MFA_GATE_ANY && policy_mfa_needs_code(p, action);
    int rc;

    memset(&st, 0, sizeof(st));
    if (!policy_mfa_required(p, who) && (!needs_code || verified)) {
        return 0;
    }
    if (m->store == NULL) {
        db_errf(err, errlen, "the store is unavailable; try again later");
        return DB_ERR_UNAVAIL;
    }
    if ((rc = mfa_status_get(m, who->user, (long long)time(NULL), &st)) != 0) {
        db_errf(err, errlen, "the store is unavailable (%s); try again later", db_strerror(rc));
        return DB_ERR_UNAVAIL;
    }
    if (policy_mfa_required(p, who) && !st.enrolled) {
        db_errf(err, errlen,
                "%s must enrol a second factor first: ssh gw mfa enroll (until then only help, "
                "whoami and mfa work)",
                who->user);
    } else if (needs_code && !verified) {
        char what[160];

        if (action == POLICY_MFA_PROTECTED) {
            snprintf(what, sizeof(what), "a session to protected target %.64s", object);
        } else {
            snprintf(what, sizeof(what), "%s", policy_mfa_action_name(action));
        }
        /* enrolled during this login: the code is asked at the next one */
        db_errf(err, errlen, "%s needs a verification code (%s)", what,
                st.enrolled ? "log in again to give one" : "enrol: ssh gw mfa enroll");
    } else {
        return 0;
    }
    gate_refused(m, who->user, action, object, err);
    return DB_ERR_DENIED;
}

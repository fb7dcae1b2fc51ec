/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The second factor's part of the policy (DESIGN.md, "Second factor"):
 *
 *   mfa:
 *     require: ["group:sre-leads"]   # must enrol; until then only help, whoami, mfa
 *     actions: [protected, approve]  # need a login that gave a code
 *     issuer: "Drawbridge"           # the name authenticator apps show
 *
 * Names of actions, the issuer's syntax and the two questions the broker
 * asks.  Pure: no I/O, no clock.
 */
#include "policy.h"

#include <string.h>

static const struct {
    unsigned bit;
    const char *name;
} mfa_actions[] = {
    {POLICY_MFA_PROTECTED, "protected"},
    {POLICY_MFA_APPROVE, "approve"},
    {POLICY_MFA_DENY, "deny"},
    {POLICY_MFA_REVOKE, "revoke"},
    {POLICY_MFA_BREAKGLASS, "breakglass"},
    {POLICY_MFA_TERMINATE, "terminate"},
};

const char *policy_mfa_action_name(unsigned action)
{
    for (size_t i = 0; i < sizeof(mfa_actions) / sizeof(mfa_actions[0]); i++) {
        if (mfa_actions[i].bit == action) {
            return mfa_actions[i].name;
        }
    }
    return NULL;
}

unsigned policy_mfa_action_parse(const char *s)
{
    for (size_t i = 0; s != NULL && i < sizeof(mfa_actions) / sizeof(mfa_actions[0]); i++) {
        if (strcmp(mfa_actions[i].name, s) == 0) {
            return mfa_actions[i].bit;
        }
    }
    return 0;
}

int policy_mfa_issuer_valid(const char *s)
{
    size_t i = 0;

    if (s == NULL || s[0] == '\0') {
        return 0;
    }
    for (i = 0; s[i] != '\0'; i++) {
        unsigned char c = (unsigned char)s[i];

        if (i >= POLICY_MFA_ISSUER_MAX || c < 0x20 || c >= 0x7f || c == ':') {
            return 0;
        }
    }
    return 1;
}

const char *policy_mfa_issuer(const struct policy *p)
{
    return p != NULL && p->mfa.issuer != NULL ? p->mfa.issuer : POLICY_MFA_ISSUER_DEFAULT;
}

int policy_mfa_required(const struct policy *p, const struct policy_subject *s)
{
    return p != NULL && s != NULL && policy_principals_match(p->mfa.require, p->mfa.nrequire, s);
}

int policy_mfa_needs_code(const struct policy *p, unsigned action)
{
    return p != NULL && action != 0 && (p->mfa.actions & action) == action;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to access.c, access-view.c and access-audit.c: helpers for
 * building audit rows and notifications and for the checks every access
 * function starts with.
 */
#ifndef DRAWBRIDGE_ACCESS_INT_H
#define DRAWBRIDGE_ACCESS_INT_H

#include <jansson.h>

#include "broker.h"

/* A usable subject: a user name that fits the store (1..64 bytes). */
int access_check_who(const struct policy_subject *who, char *err, size_t errlen);

/*
 * Appends an audit row inside the caller's transaction; object is
 * "<kind> <id>".  details is stolen; NULL (what a failed json_pack gives) is
 * DB_ERR_NOMEM, so no row is ever written without its details.
 */
int access_audit_tx(struct store *s, long long now, const char *actor, const char *event,
                    const char *kind, long long id, json_t *details);

/*
 * Records a refusal on authorisation grounds ("access.refused") in its own
 * transaction: who tried what on which target, and why it was refused.
 * Best effort: a refusal stands whether or not it could be recorded.
 */
void access_refused(const struct access *a, const struct policy_subject *who, long long now,
                    const char *action, const char *target, const char *why);

/* Rolls back, fills err with a generic store failure unless already set; returns rc. */
int access_store_fail(struct store *s, int rc, char *err, size_t errlen);

/* New references, or NULL when out of memory. */
json_t *access_request_json(const struct store_request *r);
json_t *access_grant_json(const struct store_grant *g);
/* A JSON string of any bytes: invalid UTF-8 and control bytes become '?'. */
json_t *access_json_str(const char *s);

/* Calls a->notify (when set) with the request and who acted; text is a comment or reason. */
void access_notify_request(const struct access *a, const char *event, const struct store_request *r,
                           const char *actor, const char *text);

/* The rule of that name in p, or NULL. */
const struct policy_rule *access_rule_find(const struct policy *p, const char *name);

#endif

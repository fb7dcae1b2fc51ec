/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `audit [--limit N] [--json]` shows the latest N rows of the audit chain
 * (default 50, at most 10000), oldest of them first, as the operator's
 * `drawbridge audit` prints them: "SEQ TIME ACTOR EVENT [OBJECT] DETAILS".
 * Everything shown is sanitised (a failed login can put any bytes in the
 * actor).  --json prints an array of {"seq", "time", "time_iso", "actor",
 * "event", "object", "details" (the object), "hash"}.
 *
 * The rows are read before this use is itself audited, so the list ends
 * with what came before it.
 */
#include "shell.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define AUDIT_LIMIT_DEFAULT 50
#define AUDIT_LIMIT_MAX 10000

struct audit_kept {
    long long seq, time;
    char *actor, *event, *object, *details;
    char hash[AUDIT_HASH_HEX + 1];
};

/* The last `limit` rows, in a ring. */
struct audit_ring {
    struct audit_kept *v;
    size_t limit, n, next;
    int nomem;
};

static void audit_kept_clear(struct audit_kept *k)
{
    free(k->actor);
    free(k->event);
    free(k->object);
    free(k->details);
    memset(k, 0, sizeof(*k));
}

static int audit_keep(void *ctx, const struct audit_row *row)
{
    struct audit_ring *ring = ctx;
    struct audit_kept *k = &ring->v[ring->next];

    audit_kept_clear(k);
    k->seq = row->seq;
    k->time = row->time;
    k->actor = strdup(row->actor != NULL ? row->actor : "");
    k->event = strdup(row->event != NULL ? row->event : "");
    k->object = strdup(row->object != NULL ? row->object : "");
    k->details = strdup(row->details != NULL ? row->details : "{}");
    snprintf(k->hash, sizeof(k->hash), "%s", row->hash);
    if (k->actor == NULL || k->event == NULL || k->object == NULL || k->details == NULL) {
        ring->nomem = 1;
        return 1;
    }
    ring->next = (ring->next + 1) % ring->limit;
    if (ring->n < ring->limit) {
        ring->n++;
    }
    return 0;
}

/* The i-th kept row, oldest first. */
static const struct audit_kept *audit_at(const struct audit_ring *ring, size_t i)
{
    size_t first = ring->n < ring->limit ? 0 : ring->next;

    return &ring->v[(first + i) % ring->limit];
}

static int audit_json(struct shell_ctx *c, const struct audit_ring *ring)
{
    json_t *arr = json_array();
    int r = DB_ERR_NOMEM;

    if (arr == NULL) {
        goto out;
    }
    for (size_t i = 0; i < ring->n; i++) {
        const struct audit_kept *k = audit_at(ring, i);
        json_t *o = json_object(), *details = json_loads(k->details, 0, NULL);
        int e = o == NULL;

        /* details is JSON we wrote; anything else is shown as the string it is */
        if (details == NULL) {
            details = shell_json_string(k->details);
        }
        if (!e) {
            e |= json_object_set_new(o, "seq", json_integer((json_int_t)k->seq));
            e |= shell_json_set_time(o, "time", k->time);
            e |= json_object_set_new(o, "actor", shell_json_string(k->actor));
            e |= json_object_set_new(o, "event", shell_json_string(k->event));
            e |= json_object_set_new(o, "object", shell_json_string(k->object));
            e |= json_object_set_new(o, "details", details);
            e |= json_object_set_new(o, "hash", json_string(k->hash));
        } else {
            json_decref(details);
        }
        if (e != 0 || json_array_append_new(arr, o) < 0) {
            goto out;
        }
    }
    r = shell_out_json(c, arr);
out:
    json_decref(arr);
    return r;
}

static void audit_text(struct shell_ctx *c, const struct audit_ring *ring)
{
    for (size_t i = 0; i < ring->n; i++) {
        const struct audit_kept *k = audit_at(ring, i);
        char when[SHELL_TIME_MAX], actor[80], event[80], object[120], details[1100];

        shell_sanitize(actor, sizeof(actor), k->actor, strlen(k->actor), 1);
        shell_sanitize(event, sizeof(event), k->event, strlen(k->event), 1);
        shell_sanitize(object, sizeof(object), k->object, strlen(k->object), 1);
        shell_sanitize(details, sizeof(details), k->details, strlen(k->details), 1);
        shell_out(c, "%lld %s %s %s [%s] %s\n", k->seq, shell_time_iso(k->time, when, sizeof(when)),
                  actor, event, object, details);
    }
}

static int cmd_audit_exec(struct shell_ctx *c, int argc, char **argv)
{
    static const char *const spec[] = {"limit=", "json", NULL};
    struct shell_review rv;
    struct shell_opts o;
    struct audit_ring ring;
    int r, rc;

    memset(&ring, 0, sizeof(ring));
    ring.limit = AUDIT_LIMIT_DEFAULT;
    if ((r = shell_review_begin(c, argv[0], spec, 0, argc, argv, &o, &rv)) != 0) {
        return r;
    }
    if (o.npos > 0) {
        return shell_usage(c, argv[0], "too many arguments");
    }
    if (shell_opt(&o, "limit") != NULL &&
        (r = shell_parse_limit(c, argv[0], shell_opt(&o, "limit"), AUDIT_LIMIT_MAX, &ring.limit)) !=
            0) {
        return r;
    }
    if ((ring.v = calloc(ring.limit, sizeof(*ring.v))) == NULL) {
        return shell_fail(c, "out of memory");
    }
    rc = store_audit_foreach(rv.a->store, 0, audit_keep, &ring);
    if (rc != 0 || ring.nomem) {
        r = shell_review_refuse(c, &rv, json_object(), "cannot read the audit chain: %s",
                                db_strerror(ring.nomem ? DB_ERR_NOMEM : rc));
        goto out;
    }
    if ((r = shell_review_ok(c, &rv, json_pack("{sI}", "rows", (json_int_t)ring.n))) != 0) {
        goto out;
    }
    if (shell_opt(&o, "json") != NULL) {
        r = audit_json(c, &ring) != 0 ? shell_fail(c, "out of memory") : SHELL_OK;
    } else if (ring.n == 0) {
        shell_out(c, "the audit chain is empty\n");
    } else {
        audit_text(c, &ring);
    }
out:
    for (size_t i = 0; ring.v != NULL && i < ring.limit; i++) {
        audit_kept_clear(&ring.v[i]);
    }
    free(ring.v);
    return r;
}

const struct shell_cmd_entry shell_cmd_audit_entry = {
    .name = "audit",
    .usage = "audit [--limit N] [--json]",
    .summary = "the latest rows of the audit chain (reviewers)",
    .exec = cmd_audit_exec,
};

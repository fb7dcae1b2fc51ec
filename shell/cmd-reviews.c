/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `reviews [--pending] [--json]` is the reviewers' work list: sessions that
 * must be reviewed -- those run on a break-glass grant, and any flagged for
 * review -- newest first.  --pending keeps the ones nobody has reviewed
 * yet; without it, reviewed ones are listed too, with who reviewed them and
 * their note.
 *
 * Text is one aligned row per session, WHY saying "break-glass" or
 * "flagged"; --json prints an array of session objects (see shell.h) with
 * "breakglass" added.
 */
#include "shell.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define REVIEWS_COLS 9
#define REVIEWS_LIMIT 1000

/* Was the session run on a break-glass grant? */
static int reviews_breakglass(struct store *st, const struct store_session *s)
{
    struct store_grant g;

    return s->grant_id > 0 && store_grant_get(st, s->grant_id, &g) == 0 && g.breakglass;
}

static int reviews_json(struct shell_ctx *c, struct store *st, const struct store_session *v,
                        size_t n)
{
    json_t *arr = json_array();
    int r = DB_ERR_NOMEM;

    if (arr == NULL) {
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *o = shell_session_json(&v[i]);

        if (o == NULL ||
            json_object_set_new(o, "breakglass", json_boolean(reviews_breakglass(st, &v[i]))) < 0 ||
            json_array_append_new(arr, o) < 0) {
            goto out;
        }
    }
    r = shell_out_json(c, arr);
out:
    json_decref(arr);
    return r;
}

static int reviews_text(struct shell_ctx *c, struct store *st, const struct store_session *v,
                        size_t n)
{
    static const char *const head[REVIEWS_COLS] = {"ID",       "USER", "TARGET", "LOGIN", "STARTED",
                                                   "DURATION", "WHY",  "REVIEW", "NOTE"};
    struct shell_table *t = shell_table_new(REVIEWS_COLS, head);
    int r = DB_ERR_NOMEM;

    if (t == NULL) {
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const struct store_session *s = &v[i];
        char started[SHELL_TIME_MAX], when[SHELL_TIME_MAX], dur[32] = "live", review[160];
        const char *row[REVIEWS_COLS];

        if (s->ended_at != 0) {
            db_format_duration(s->ended_at - s->started_at, dur, sizeof(dur));
        }
        if (s->reviewed_at != 0) {
            snprintf(review, sizeof(review), "reviewed by %s %s", s->reviewed_by,
                     shell_time(s->reviewed_at, when, sizeof(when)));
        } else {
            snprintf(review, sizeof(review), "pending");
        }
        row[0] = s->id;
        row[1] = s->user;
        row[2] = s->target[0] ? s->target : "-";
        row[3] = s->login[0] ? s->login : "-";
        row[4] = shell_time(s->started_at, started, sizeof(started));
        row[5] = dur;
        row[6] = reviews_breakglass(st, s) ? "break-glass" : "flagged";
        row[7] = review;
        row[8] = s->review_note != NULL ? s->review_note : "";
        if (shell_table_add(t, row) != 0) {
            goto out;
        }
    }
    shell_table_print(c, t);
    r = 0;
out:
    shell_table_free(t);
    return r;
}

static int cmd_reviews_exec(struct shell_ctx *c, int argc, char **argv)
{
    static const char *const spec[] = {"pending", "json", NULL};
    struct shell_review rv;
    struct shell_opts o;
    struct store_session *v = NULL;
    size_t n = 0, k = 0;
    int pending, r, rc;

    if ((r = shell_review_begin(c, argv[0], spec, 0, argc, argv, &o, &rv)) != 0) {
        return r;
    }
    if (o.npos > 0) {
        return shell_usage(c, argv[0], "too many arguments");
    }
    pending = shell_opt(&o, "pending") != NULL;
    rc = store_session_list(rv.a->store, 0, pending, NULL, NULL, REVIEWS_LIMIT, &v, &n);
    if (rc != 0) {
        return shell_review_refuse(c, &rv, json_object(), "cannot list sessions: %s",
                                   db_strerror(rc));
    }
    /* Without --pending: every session that asked for a review or got one. */
    for (size_t i = 0; i < n; i++) {
        if (v[i].review_required || v[i].reviewed_at != 0) {
            struct store_session tmp = v[k];

            v[k++] = v[i];
            v[i] = tmp;
        }
    }
    r = shell_review_ok(c, &rv, json_pack("{sb sI}", "pending", pending, "rows", (json_int_t)k));
    if (r != 0) {
        goto out;
    }
    if (shell_opt(&o, "json") != NULL) {
        rc = reviews_json(c, rv.a->store, v, k);
    } else if (k == 0) {
        shell_out(c, "%s\n", pending ? "no sessions waiting for review" : "no sessions to review");
        rc = 0;
    } else {
        rc = reviews_text(c, rv.a->store, v, k);
    }
    r = rc != 0 ? shell_fail(c, "out of memory") : SHELL_OK;
out:
    store_sessions_free(v, n);
    return r;
}

const struct shell_cmd_entry shell_cmd_reviews_entry = {
    .name = "reviews",
    .usage = "reviews [--pending] [--json]",
    .summary = "sessions that must be reviewed: break-glass and flagged (reviewers)",
    .exec = cmd_reviews_exec,
};

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `review ID --note TEXT` records that a reviewer has looked at a session:
 * who, when and what they concluded.  It takes the session off the pending
 * list (`reviews --pending`) when it was on it -- break-glass sessions are
 * -- and may be given to any other ended session too.
 *
 * A session is reviewed once, after it has ended, and never by the person
 * who ran it: a review is someone else's word on what happened.  The row
 * and its audit row ("review.review", with the note) are written in one
 * transaction.
 */
#include "shell.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

static int review_tx(struct shell_ctx *c, struct shell_review *rv, const char *note, char *err,
                     size_t errlen)
{
    struct store *st = rv->a->store;
    struct store_session s;
    long long now = shell_now(c);
    char when[SHELL_TIME_MAX];
    json_t *d = NULL;
    int rc;

    memset(&s, 0, sizeof(s));
    if ((rc = store_begin(st)) != 0) {
        db_errf(err, errlen, "the store is busy: %s", db_strerror(rc));
        return rc;
    }
    if ((rc = store_session_get(st, rv->id, &s)) != 0) {
        db_errf(err, errlen, "no session %s", rv->id);
        goto fail;
    }
    rc = DB_ERR_CONFLICT;
    if (strcmp(s.user, c->user) == 0) {
        db_errf(err, errlen, "you cannot review your own session");
        rc = DB_ERR_DENIED;
        goto fail;
    }
    if (s.ended_at == 0) {
        db_errf(err, errlen, "session %s is still live; review it once it has ended", rv->id);
        goto fail;
    }
    if (s.reviewed_at != 0) {
        db_errf(err, errlen, "session %s was already reviewed by %s on %s", rv->id, s.reviewed_by,
                shell_time(s.reviewed_at, when, sizeof(when)));
        goto fail;
    }
    if ((rc = store_session_review(st, rv->id, c->user, now, note)) != 0) {
        db_errf(err, errlen, "cannot record the review: %s", db_strerror(rc));
        goto fail;
    }
    d = json_pack("{ss so ss ss sb ss}", "command", rv->name, "note", shell_json_string(note),
                  "user", s.user, "target", s.target, "review_required", s.review_required,
                  "result", "ok");
    rc = d != NULL ? access_audit_event(st, now, c->user, rv->event, rv->object, d) : DB_ERR_NOMEM;
    json_decref(d);
    if (rc != 0) {
        db_errf(err, errlen, "cannot write the audit record (%s)", db_strerror(rc));
        goto fail;
    }
    if ((rc = store_commit(st, err, errlen)) != 0) {
        goto fail;
    }
    store_session_clear(&s);
    return 0;
fail:
    store_rollback(st);
    store_session_clear(&s);
    return rc;
}

static int cmd_review_exec(struct shell_ctx *c, int argc, char **argv)
{
    static const char *const spec[] = {"note=", NULL};
    struct shell_review rv;
    struct shell_opts o;
    char err[600] = "";
    const char *note;
    int r;

    if ((r = shell_review_begin(c, argv[0], spec, 1, argc, argv, &o, &rv)) != 0) {
        return r;
    }
    if ((note = shell_opt(&o, "note")) == NULL) {
        return shell_usage(c, argv[0], "--note TEXT is required");
    }
    if (access_check_text("note", note, 1, err, sizeof(err)) != 0) {
        c->refusal = DB_ERR_INVALID;
        return shell_review_refuse(c, &rv, json_object(), "%s", err);
    }
    if ((c->refusal = review_tx(c, &rv, note, err, sizeof(err))) != 0) {
        return shell_review_refuse(c, &rv, json_pack("{so}", "note", shell_json_string(note)), "%s",
                                   err);
    }
    shell_out(c, "session %s reviewed\n", rv.id);
    return SHELL_OK;
}

const struct shell_cmd_entry shell_cmd_review_entry = {
    .name = "review",
    .usage = "review ID --note TEXT",
    .summary = "record your review of an ended session (reviewers)",
    .exec = cmd_review_exec,
    .example = "ssh gw review 6a6nxld3tvyq32ke --note checked, matches INC-4711",
};

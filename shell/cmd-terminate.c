/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `terminate ID --reason TEXT` asks a live session to end.  The request is
 * a mark on the session's row (store_session_terminate), written in one
 * transaction with its audit row "session.terminate"; the listener wakes
 * the session's own process (wake.c), which ends the session with a message
 * to the engineer.  A session that has ended, or that was already asked to,
 * is refused (and the attempt audited as review.terminate).
 */
#include "shell.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

/*
 * In one transaction: the session is live and not yet asked, the request,
 * and its audit row.  0, or DB_ERR_CONFLICT / DB_ERR_NOTFOUND with err.
 */
static int terminate_tx(struct shell_ctx *c, struct shell_review *rv, const char *reason,
                        struct store_session *s, char *err, size_t errlen)
{
    struct store *st = rv->a->store;
    long long now = shell_now(c), at = 0;
    char by[STORE_NAME_MAX + 1] = "", when[SHELL_TIME_MAX];
    json_t *d = NULL;
    int rc;

    if ((rc = store_begin(st)) != 0) {
        db_errf(err, errlen, "the store is busy: %s", db_strerror(rc));
        return rc;
    }
    if ((rc = store_session_get(st, rv->id, s)) != 0) {
        db_errf(err, errlen, "no session %s", rv->id);
        goto fail;
    }
    if (s->ended_at != 0) {
        db_errf(err, errlen, "session %s has already ended", rv->id);
        rc = DB_ERR_CONFLICT;
        goto fail;
    }
    if (store_session_terminate_get(st, rv->id, &at, by, sizeof(by), NULL, 0) == 0 && at != 0) {
        db_errf(err, errlen, "session %s is already being terminated (asked by %s at %s)", rv->id,
                by, shell_time(at, when, sizeof(when)));
        rc = DB_ERR_CONFLICT;
        goto fail;
    }
    if ((rc = store_session_terminate(st, rv->id, c->user, reason, now)) != 0) {
        db_errf(err, errlen, "session %s cannot be terminated: %s", rv->id,
                rc == DB_ERR_NOTFOUND ? "it is not live" : db_strerror(rc));
        goto fail;
    }
    d = json_pack("{ss so ss ss ss}", "command", rv->name, "reason", shell_json_string(reason),
                  "user", s->user, "target", s->target, "result", "ok");
    rc = d != NULL ? access_audit_event(st, now, c->user, "session.terminate", rv->object, d)
                   : DB_ERR_NOMEM;
    if (rc != 0) {
        json_decref(d);
        db_errf(err, errlen, "cannot write the audit record (%s)", db_strerror(rc));
        goto fail;
    }
    json_decref(d);
    if ((rc = store_commit(st, err, errlen)) != 0) {
        goto fail;
    }
    wake_send(WAKE_SESSION, rv->id); /* its process ends it now (wake.c) */
    return 0;
fail:
    store_rollback(st);
    return rc;
}

static int cmd_terminate_exec(struct shell_ctx *c, int argc, char **argv)
{
    static const char *const spec[] = {"reason=", NULL};
    struct shell_review rv;
    struct shell_opts o;
    struct store_session s;
    char err[600] = "", label[200];
    const char *reason;
    int r;

    memset(&s, 0, sizeof(s));
    if ((r = shell_review_begin(c, argv[0], spec, 1, argc, argv, &o, &rv)) != 0) {
        return r;
    }
    if ((reason = shell_opt(&o, "reason")) == NULL) {
        return shell_usage(c, argv[0], "--reason TEXT is required");
    }
    if (access_check_text("reason", reason, 1, err, sizeof(err)) != 0) {
        c->refusal = DB_ERR_INVALID;
        return shell_review_refuse(c, &rv, json_object(), "%s", err);
    }
    if ((c->refusal = terminate_tx(c, &rv, reason, &s, err, sizeof(err))) != 0) {
        r = shell_review_refuse(c, &rv, json_pack("{so}", "reason", shell_json_string(reason)),
                                "%s", err);
        store_session_clear(&s);
        return r;
    }
    shell_out(c, "session %s (%s): asked to end; it ends within a few seconds\n", s.id,
              shell_session_label(&s, label, sizeof(label)));
    store_session_clear(&s);
    return SHELL_OK;
}

const struct shell_cmd_entry shell_cmd_terminate_entry = {
    .name = "terminate",
    .usage = "terminate ID --reason TEXT",
    .summary = "end a live session now (reviewers)",
    .exec = cmd_terminate_exec,
    .example = "ssh gw terminate 6a6nxld3tvyq32ke --reason outside the scope of INC-4711",
};

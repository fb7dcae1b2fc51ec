/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `sessions [--live] [--user U] [--target T] [--limit N] [--json]` lists
 * recorded sessions, newest first: every session to a target (shell, exec,
 * scp/sftp/rsync), live or ended, with its review state.  --live keeps the
 * ones still running; --user and --target select one user or one target;
 * --limit caps the list (default 100, at most 1000).
 *
 * Text is one aligned row per session; --json prints an array of session
 * objects (shell_session_json, also used by `reviews`).  Below a disk
 * watermark a note says so first (sessions_disk_note).
 */
#include "shell.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define SESSIONS_COLS 10
#define SESSIONS_LIMIT_DEFAULT 100
#define SESSIONS_LIMIT_MAX 1000

const char *shell_session_review_state(const struct store_session *s)
{
    if (s->reviewed_at != 0) {
        return "reviewed";
    }
    return s->review_required ? "pending" : "none";
}

struct json_t *shell_session_json(const struct store_session *s)
{
    json_t *o = json_object();
    int r = 0;

    if (o == NULL) {
        return NULL;
    }
    r |= json_object_set_new(o, "id", json_string(s->id));
    r |= json_object_set_new(o, "user", shell_json_string(s->user));
    r |= json_object_set_new(o, "target", shell_json_string(s->target));
    r |= json_object_set_new(o, "login", shell_json_string(s->login));
    r |= json_object_set_new(o, "kind", shell_json_string(s->kind));
    r |= json_object_set_new(o, "command", shell_json_string(s->command));
    r |= json_object_set_new(o, "grant",
                             s->grant_id > 0 ? json_integer((json_int_t)s->grant_id) : json_null());
    r |= shell_json_set_time(o, "started_at", s->started_at);
    r |= shell_json_set_time(o, "ended_at", s->ended_at);
    r |= json_object_set_new(o, "live", json_boolean(s->ended_at == 0));
    r |= json_object_set_new(
        o, "duration",
        s->ended_at != 0 ? json_integer((json_int_t)(s->ended_at - s->started_at)) : json_null());
    r |= json_object_set_new(o, "exit_status",
                             s->ended_at != 0 && s->exit_status >= 0 ? json_integer(s->exit_status)
                                                                     : json_null());
    r |= json_object_set_new(o, "recorded", json_boolean(s->recording_path != NULL));
    r |= json_object_set_new(o, "sealed", json_boolean(s->sha256[0] != '\0'));
    r |= json_object_set_new(o, "sha256", s->sha256[0] ? json_string(s->sha256) : json_null());
    r |= json_object_set_new(o, "review_required", json_boolean(s->review_required));
    r |= json_object_set_new(o, "review", json_string(shell_session_review_state(s)));
    r |= json_object_set_new(o, "reviewed_by",
                             s->reviewed_by[0] ? shell_json_string(s->reviewed_by) : json_null());
    r |= shell_json_set_time(o, "reviewed_at", s->reviewed_at);
    r |= json_object_set_new(o, "review_note", shell_json_string(s->review_note));
    r |= shell_json_set_time(o, "expired_at", s->expired_at);
    if (r != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int sessions_json(struct shell_ctx *c, const struct store_session *v, size_t n)
{
    json_t *arr = json_array();
    int r = DB_ERR_NOMEM;

    if (arr == NULL) {
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (json_array_append_new(arr, shell_session_json(&v[i])) < 0) {
            goto out;
        }
    }
    r = shell_out_json(c, arr);
out:
    json_decref(arr);
    return r;
}

static int sessions_text(struct shell_ctx *c, const struct store_session *v, size_t n)
{
    static const char *const head[SESSIONS_COLS] = {"ID",     "USER",    "TARGET",   "LOGIN",
                                                    "KIND",   "STARTED", "DURATION", "EXIT",
                                                    "REVIEW", "COMMAND"};
    struct shell_table *t = shell_table_new(SESSIONS_COLS, head);
    int r = DB_ERR_NOMEM;

    if (t == NULL) {
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const struct store_session *s = &v[i];
        char started[SHELL_TIME_MAX], dur[32] = "live", status[16] = "-", review[80];
        const char *row[SESSIONS_COLS];

        if (s->ended_at != 0) {
            db_format_duration(s->ended_at - s->started_at, dur, sizeof(dur));
            if (s->exit_status >= 0) {
                snprintf(status, sizeof(status), "%d", s->exit_status);
            } else {
                snprintf(status, sizeof(status), "?");
            }
        }
        if (s->reviewed_at != 0) {
            snprintf(review, sizeof(review), "reviewed by %s", s->reviewed_by);
        } else {
            snprintf(review, sizeof(review), "%s", s->review_required ? "pending" : "-");
        }
        if (s->expired_at != 0) {
            size_t used = strlen(review);

            snprintf(review + used, sizeof(review) - used, "%s", "; recording expired");
        }
        row[0] = s->id;
        row[1] = s->user;
        row[2] = s->target[0] ? s->target : "-";
        row[3] = s->login[0] ? s->login : "-";
        row[4] = s->kind;
        row[5] = shell_time(s->started_at, started, sizeof(started));
        row[6] = dur;
        row[7] = status;
        row[8] = review;
        row[9] = s->command != NULL ? s->command : "";
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

/*
 * Reviewers are the first to look at sessions: when the recordings' disk is
 * below a watermark the list says so (on stderr with --json, so that stdout
 * stays the JSON array).
 */
static void sessions_disk_note(struct shell_ctx *c, int json)
{
    struct disk_state d;
    char err[256], why[512];

    if (c->cfg == NULL || disk_check(c->cfg, &d, err, sizeof(err)) != 0 || d.level == DISK_OK) {
        return;
    }
    disk_describe(c->cfg, &d, why, sizeof(why));
    shell_write(c, json, "note: ", 6);
    if (d.level == DISK_FULL) {
        shell_write(c, json, "disk nearly full: new sessions are refused (", 44);
    } else {
        shell_write(c, json, "disk space low (", 16);
    }
    shell_write(c, json, why, strlen(why));
    shell_write(c, json, ")\n", 2);
}

/* --limit N: 1 to max. */
int shell_parse_limit(struct shell_ctx *c, const char *name, const char *s, size_t max, size_t *out)
{
    long long v = 0;
    size_t i;

    for (i = 0; s != NULL && i < 7 && s[i] >= '0' && s[i] <= '9'; i++) {
        v = v * 10 + (s[i] - '0');
    }
    if (s == NULL || i == 0 || s[i] != '\0' || v < 1 || (size_t)v > max) {
        char msg[96];

        snprintf(msg, sizeof(msg), "--limit: a number from 1 to %zu", max);
        return shell_usage(c, name, msg);
    }
    *out = (size_t)v;
    return 0;
}

static int cmd_sessions_exec(struct shell_ctx *c, int argc, char **argv)
{
    static const char *const spec[] = {"live", "user=", "target=", "limit=", "json", NULL};
    struct shell_review rv;
    struct shell_opts o;
    struct store_session *v = NULL;
    const char *user, *target;
    size_t n = 0, limit = SESSIONS_LIMIT_DEFAULT;
    int live, r, rc;

    if ((r = shell_review_begin(c, argv[0], spec, 0, argc, argv, &o, &rv)) != 0) {
        return r;
    }
    if (o.npos > 0) {
        return shell_usage(c, argv[0], "too many arguments");
    }
    user = shell_opt(&o, "user");
    target = shell_opt(&o, "target");
    live = shell_opt(&o, "live") != NULL;
    /* Names are [a-z_][a-z0-9_.-]*: anything else cannot match, and is a typo. */
    if (user != NULL && !names_valid(user, strlen(user))) {
        return shell_usage(c, argv[0], "--user: not a user name");
    }
    if (target != NULL && !names_valid(target, strlen(target))) {
        return shell_usage(c, argv[0], "--target: not a target name");
    }
    if (shell_opt(&o, "limit") != NULL &&
        (r = shell_parse_limit(c, argv[0], shell_opt(&o, "limit"), SESSIONS_LIMIT_MAX, &limit)) !=
            0) {
        return r;
    }
    rc = store_session_list(rv.a->store, live, 0, user, target, limit, &v, &n);
    if (rc != 0) {
        return shell_review_refuse(c, &rv, json_object(), "cannot list sessions: %s",
                                   db_strerror(rc));
    }
    r = shell_review_ok(c, &rv,
                        json_pack("{sb so so sI}", "live", live, "user",
                                  user != NULL ? json_string(user) : json_null(), "target",
                                  target != NULL ? json_string(target) : json_null(), "rows",
                                  (json_int_t)n));
    if (r != 0) {
        goto out;
    }
    sessions_disk_note(c, shell_opt(&o, "json") != NULL);
    if (shell_opt(&o, "json") != NULL) {
        rc = sessions_json(c, v, n);
    } else if (n == 0) {
        shell_out(c, "no %ssessions\n", live ? "live " : "");
        rc = 0;
    } else {
        rc = sessions_text(c, v, n);
    }
    r = rc != 0 ? shell_fail(c, "out of memory") : SHELL_OK;
out:
    store_sessions_free(v, n);
    return r;
}

const struct shell_cmd_entry shell_cmd_sessions_entry = {
    .name = "sessions",
    .usage = "sessions [--live] [--user U] [--target T] [--limit N] [--json]",
    .summary = "list recorded sessions, newest first (reviewers)",
    .exec = cmd_sessions_exec,
};

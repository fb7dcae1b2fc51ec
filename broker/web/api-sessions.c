/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The reviewers' JSON API: sessions, one session, terminate, review,
 * reviews, search and audit, each the shell command of that name run as the
 * logged-in user (and so refused, with the shell's words and audit row, to
 * anyone who is not a reviewer).  What the console adds is filtering only,
 * of what the command already returned: a date range and a grant for
 * sessions.
 *
 * GET sessions/ID has no command of its own in the shell: it goes through
 * the reviewer helpers every reviewer command starts with, under the name
 * "sessions" (audited as review.sessions, object "session ID").
 */
#include "web.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define WEB_SESSIONS_DEFAULT 100
#define WEB_SESSIONS_MAX_ROWS 1000

/* A query argument that must be a whole number >= 0 when given; -1 absent, -2 bad. */
static long long web_query_num(struct web_req *r, const char *name)
{
    const char *v = web_query(r, name);
    long long n = 0;
    size_t i = 0;

    if (v == NULL || v[0] == '\0') {
        return -1;
    }
    for (; v[i] >= '0' && v[i] <= '9' && i < 15; i++) {
        n = n * 10 + (v[i] - '0');
    }
    return v[i] == '\0' ? n : -2;
}

/*
 * ?user=U&target=T&live=1&limit=N, and what the console adds:
 * since=/until= (unix seconds: started at or after since, before until)
 * and grant=N (sessions that used grant N).
 */
int web_h_sessions(struct web_req *r)
{
    const char *user = web_query(r, "user"), *target = web_query(r, "target");
    const char *live = web_query(r, "live");
    long long since = web_query_num(r, "since"), until = web_query_num(r, "until");
    long long grant = web_query_num(r, "grant"), limit = web_query_num(r, "limit");
    int filtered = since >= 0 || until >= 0 || grant >= 0;
    char *argv[10], lim[32], ubuf[80], tbuf[80];
    struct web_run w;
    json_t *doc = NULL, *out = NULL;
    size_t i;
    int argc = 0, ret;

    if (since == -2 || until == -2 || grant == -2 || limit == -2) {
        return web_send_error(r, 400, "since, until, grant and limit are whole numbers");
    }
    if (limit < 0) {
        limit = WEB_SESSIONS_DEFAULT;
    }
    argv[argc++] = "sessions";
    argv[argc++] = "--json";
    if (live != NULL && strcmp(live, "0") != 0) {
        argv[argc++] = "--live";
    }
    if (user != NULL && user[0] != '\0') {
        snprintf(ubuf, sizeof(ubuf), "--user=%s", user);
        argv[argc++] = ubuf;
    }
    if (target != NULL && target[0] != '\0') {
        snprintf(tbuf, sizeof(tbuf), "--target=%s", target);
        argv[argc++] = tbuf;
    }
    /* Filtering here: take all the command may give, then cut to the limit. */
    snprintf(lim, sizeof(lim), "--limit=%lld", filtered ? WEB_SESSIONS_MAX_ROWS : limit);
    argv[argc++] = lim;
    argv[argc] = NULL;
    if (!filtered) {
        return web_run_json(r, argc, argv);
    }
    web_run_init(&w, r);
    web_run_argv(&w, argc, argv);
    if (w.status != SHELL_OK) {
        ret = web_run_send_error(r, &w);
        web_run_clear(&w);
        return ret;
    }
    doc = json_loads(w.out != NULL ? w.out : "", 0, NULL);
    web_run_clear(&w);
    if (!json_is_array(doc) || (out = json_array()) == NULL) {
        json_decref(doc);
        return web_send_error(r, 500, "sessions gave no document");
    }
    for (i = 0; i < json_array_size(doc) && (long long)json_array_size(out) < limit; i++) {
        json_t *s = json_array_get(doc, i);
        long long st = (long long)json_integer_value(json_object_get(s, "started_at"));
        json_t *g = json_object_get(s, "grant");

        if ((since >= 0 && st < since) || (until >= 0 && st >= until) ||
            (grant >= 0 && (!json_is_integer(g) || json_integer_value(g) != grant))) {
            continue;
        }
        json_array_append(out, s);
    }
    json_decref(doc);
    return web_send_json(r, 200, out);
}

int web_h_session_show(struct web_req *r)
{
    static const char *const spec[] = {NULL};
    char *argv[] = {"sessions", r->param[0], NULL};
    struct web_run w;
    struct shell_review rv;
    struct shell_opts o;
    struct store_session s;
    char label[200];
    long long tat = 0;
    char tby[STORE_NAME_MAX + 1] = "";
    json_t *doc = NULL;
    int ret;

    memset(&s, 0, sizeof(s));
    web_run_init(&w, r);
    /* what shell_run_argv checks before `sessions` runs */
    w.status = shell_mfa_gate(&w.c, "sessions") != 0 ? SHELL_FAIL : 0;
    if (w.status == 0) {
        w.status = shell_review_begin(&w.c, "sessions", spec, 1, 2, argv, &o, &rv);
    }
    if (w.status == 0) {
        w.status = shell_review_session(&w.c, &rv, &s);
    }
    if (w.status == 0 && (doc = shell_session_json(&s)) == NULL) {
        w.status = shell_review_refuse(&w.c, &rv, json_object(), "out of memory");
    }
    if (w.status == 0) {
        json_object_set_new(doc, "label",
                            json_string(shell_session_label(&s, label, sizeof(label))));
        if (store_session_terminate_get(rv.a->store, s.id, &tat, tby, sizeof(tby), NULL, 0) == 0 &&
            tat != 0) {
            json_object_set_new(doc, "terminate_by", shell_json_string(tby));
            shell_json_set_time(doc, "terminate_at", tat);
        }
        w.status = shell_review_ok(&w.c, &rv, json_object());
    }
    if (w.status != 0) {
        json_decref(doc);
        ret = web_run_send_error(r, &w);
    } else {
        ret = web_send_json(r, 200, doc);
    }
    store_session_clear(&s);
    web_run_clear(&w);
    return ret;
}

/* POST sessions/ID/terminate {reason}, sessions/ID/review {note}. */
static int web_session_action(struct web_req *r, const char *cmd, const char *field)
{
    char *argv[4] = {(char *)cmd, r->param[0], NULL, NULL};
    json_t *body = NULL, *v = NULL;
    char *opt = NULL;
    int sent = 0, ret, argc = 2;

    if ((body = web_body_json(r, &sent)) == NULL) {
        return sent ? 1 : web_send_error(r, 500, "out of memory");
    }
    v = json_object_get(body, field);
    if (v != NULL && !json_is_null(v)) {
        if (!json_is_string(v)) {
            json_decref(body);
            return web_send_error(r, 400, "the text must be a string");
        }
        if (asprintf(&opt, "--%s=%s", field, json_string_value(v)) < 0) {
            json_decref(body);
            return web_send_error(r, 500, "out of memory");
        }
        argv[argc++] = opt;
    }
    json_decref(body);
    ret = web_run_action(r, argc, argv);
    free(opt);
    return ret;
}

int web_h_session_terminate(struct web_req *r)
{
    return web_session_action(r, "terminate", "reason");
}

int web_h_session_review(struct web_req *r)
{
    return web_session_action(r, "review", "note");
}

int web_h_reviews(struct web_req *r)
{
    char *argv[] = {"reviews", "--pending", "--json", NULL};

    return web_run_json(r, 3, argv);
}

int web_h_search(struct web_req *r)
{
    const char *q = web_query(r, "q");
    long long limit = web_query_num(r, "limit");
    char lim[32];
    char *argv[] = {"search", "--json", lim, "--", (char *)(q != NULL ? q : ""), NULL};

    if (limit == -2) {
        return web_send_error(r, 400, "limit is a whole number");
    }
    snprintf(lim, sizeof(lim), "--limit=%lld", limit < 0 ? 100 : limit);
    if (q == NULL || q[0] == '\0') {
        return web_run_json(r, 3, argv); /* the shell's own "give a text" refusal */
    }
    return web_run_json(r, 5, argv);
}

int web_h_audit(struct web_req *r)
{
    long long limit = web_query_num(r, "limit");
    char lim[32];
    char *argv[] = {"audit", "--json", lim, NULL};

    if (limit == -2) {
        return web_send_error(r, 400, "limit is a whole number");
    }
    snprintf(lim, sizeof(lim), "--limit=%lld", limit < 0 ? 100 : limit);
    return web_run_json(r, 3, argv);
}

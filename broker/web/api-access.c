/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The JSON API of requests and grants: each call is the shell command of
 * the same name (targets, request, requests, show, approve, deny, cancel,
 * grants, revoke), run as the logged-in user; a GET answers with the
 * command's --json document, a POST with {"result": "<the line the shell
 * prints>"}.  Body fields arrive as JSON strings and go to the command as
 * "--name=value" words, which the shell's option parser takes whole.
 */
#include "web.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define WEB_ARGS_MAX 16

/* An argv being built; the words are owned. */
struct web_argv {
    int argc;
    char *argv[WEB_ARGS_MAX + 1];
    int failed;
};

/* Adds the word prefix + v. */
static void web_argv_add(struct web_argv *a, const char *prefix, const char *v)
{
    char *w = NULL;

    if (a->failed || a->argc >= WEB_ARGS_MAX ||
        asprintf(&w, "%s%s", prefix, v != NULL ? v : "") < 0) {
        a->failed = 1;
        return;
    }
    a->argv[a->argc++] = w;
    a->argv[a->argc] = NULL;
}

static void web_argv_clear(struct web_argv *a)
{
    for (int i = 0; i < a->argc; i++) {
        free(a->argv[i]);
    }
    memset(a, 0, sizeof(*a));
}

/*
 * Adds "--name=VALUE" for the body's field (a string; a whole number is
 * taken as its decimal form).  1 when added, 0 when absent or null, -1
 * after answering 400 for any other type.
 */
static int web_argv_field(struct web_req *r, struct web_argv *a, json_t *body, const char *field,
                          const char *opt)
{
    json_t *v = json_object_get(body, field);
    char fmt[64], num[32];

    if (v == NULL || json_is_null(v)) {
        return 0;
    }
    snprintf(fmt, sizeof(fmt), "--%s=", opt);
    if (json_is_string(v)) {
        web_argv_add(a, fmt, json_string_value(v));
        return 1;
    }
    if (json_is_integer(v)) {
        snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
        web_argv_add(a, fmt, num);
        return 1;
    }
    snprintf(fmt, sizeof(fmt), "%s must be a string", field);
    web_send_error(r, 400, fmt);
    return -1;
}

/* Runs a and answers; frees a. */
static int web_argv_run(struct web_req *r, struct web_argv *a, int json)
{
    int ret;

    if (a->failed) {
        web_argv_clear(a);
        return web_send_error(r, 500, "out of memory");
    }
    ret = json ? web_run_json(r, a->argc, a->argv) : web_run_action(r, a->argc, a->argv);
    web_argv_clear(a);
    return ret;
}

/* A POST on request or grant N (r->param[0]) with one optional text field. */
static int web_decide(struct web_req *r, const char *cmd, const char *field)
{
    struct web_argv a;
    json_t *body = NULL;
    int sent = 0;

    memset(&a, 0, sizeof(a));
    if ((body = web_body_json(r, &sent)) == NULL) {
        return sent ? 1 : web_send_error(r, 500, "out of memory");
    }
    web_argv_add(&a, "", cmd);
    web_argv_add(&a, "", r->param[0]);
    if (field != NULL && web_argv_field(r, &a, body, field, field) < 0) {
        json_decref(body);
        web_argv_clear(&a);
        return 1;
    }
    json_decref(body);
    return web_argv_run(r, &a, 0);
}

int web_h_targets(struct web_req *r)
{
    char *argv[] = {"targets", "--json", NULL};

    return web_run_json(r, 2, argv);
}

/* ?pending=1, ?mine=1, ?all=1: the flags of `requests`. */
int web_h_requests(struct web_req *r)
{
    static const char *const flags[] = {"pending", "mine", "all"};
    struct web_argv a;

    memset(&a, 0, sizeof(a));
    web_argv_add(&a, "", "requests");
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        const char *v = web_query(r, flags[i]);

        if (v != NULL && strcmp(v, "0") != 0) {
            web_argv_add(&a, "--", flags[i]);
        }
    }
    web_argv_add(&a, "", "--json");
    return web_argv_run(r, &a, 1);
}

/* {target, duration, reason, ticket?, login?}; duration "1h" or a number of seconds. */
int web_h_request_create(struct web_req *r)
{
    struct web_argv a;
    json_t *body = NULL, *t = NULL, *d = NULL;
    int sent = 0, bad = 0;

    memset(&a, 0, sizeof(a));
    if ((body = web_body_json(r, &sent)) == NULL) {
        return sent ? 1 : web_send_error(r, 500, "out of memory");
    }
    t = json_object_get(body, "target");
    d = json_object_get(body, "duration");
    if (!json_is_string(t)) {
        json_decref(body);
        return web_send_error(r, 400, "a target is required");
    }
    web_argv_add(&a, "", "request");
    web_argv_add(&a, "", json_string_value(t));
    if (json_is_integer(d)) {
        char num[32];

        snprintf(num, sizeof(num), "%llds", (long long)json_integer_value(d));
        web_argv_add(&a, "--for=", num);
    } else if (web_argv_field(r, &a, body, "duration", "for") < 0) {
        bad = 1;
    }
    if (!bad && (web_argv_field(r, &a, body, "reason", "reason") < 0 ||
                 web_argv_field(r, &a, body, "ticket", "ticket") < 0 ||
                 web_argv_field(r, &a, body, "login", "login") < 0)) {
        bad = 1;
    }
    json_decref(body);
    if (bad) {
        web_argv_clear(&a);
        return 1;
    }
    web_argv_add(&a, "", "--json");
    return web_argv_run(r, &a, 1);
}

int web_h_request_show(struct web_req *r)
{
    char *argv[] = {"show", r->param[0], "--json", NULL};

    return web_run_json(r, 3, argv);
}

int web_h_request_approve(struct web_req *r)
{
    return web_decide(r, "approve", "comment");
}

int web_h_request_deny(struct web_req *r)
{
    return web_decide(r, "deny", "reason");
}

int web_h_request_cancel(struct web_req *r)
{
    return web_decide(r, "cancel", NULL);
}

int web_h_grants(struct web_req *r)
{
    const char *mine = web_query(r, "mine");
    char *argv[] = {"grants", "--json", "--mine", NULL};

    return web_run_json(r, mine != NULL && strcmp(mine, "0") != 0 ? 3 : 2, argv);
}

int web_h_grant_revoke(struct web_req *r)
{
    return web_decide(r, "revoke", "reason");
}

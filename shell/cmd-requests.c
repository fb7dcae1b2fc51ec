/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `requests [--pending] [--mine] [--all] [--json]` lists the requests the
 * caller may see (access_list_requests scopes them: your own, those you may
 * decide under the current policy, all of them for reviewers), newest
 * first.  By default: pending ones and approved ones whose grant is still
 * live; --pending: pending only; --all: every status; --mine: your own only.
 *
 * Text is one aligned row per request, the reason cut to fit; `show N`
 * has the rest.  --json prints an array of request objects (see shell.h).
 */
#include "shell.h"

#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#define REQUESTS_COLS 10

static int requests_json(struct shell_ctx *c, const struct store_request *v, size_t n)
{
    json_t *arr = json_array();
    int r = DB_ERR_NOMEM;

    if (arr == NULL) {
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (json_array_append_new(arr, shell_request_json(shell_policy(c), &v[i])) < 0) {
            goto out;
        }
    }
    r = shell_out_json(c, arr);
out:
    json_decref(arr);
    return r;
}

static int requests_text(struct shell_ctx *c, const struct store_request *v, size_t n)
{
    static const char *const head[REQUESTS_COLS] = {"ID",      "STATUS", "REQUESTER", "TARGET",
                                                    "LOGIN",   "FOR",    "RULE",      "APPROVALS",
                                                    "CREATED", "REASON"};
    struct shell_table *t = shell_table_new(REQUESTS_COLS, head);
    int r = DB_ERR_NOMEM;

    if (t == NULL) {
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        char id[24], dur[32], approvals[32], created[SHELL_TIME_MAX];
        const char *row[REQUESTS_COLS];

        snprintf(id, sizeof(id), "%lld", v[i].id);
        db_format_duration(v[i].duration, dur, sizeof(dur));
        snprintf(approvals, sizeof(approvals), "%d/%d", v[i].approvals, v[i].approvals_needed);
        row[0] = id;
        row[1] = store_request_status_name(v[i].status);
        row[2] = v[i].requester;
        row[3] = v[i].target;
        row[4] = v[i].login;
        row[5] = dur;
        row[6] = v[i].breakglass ? "break-glass" : v[i].rule;
        row[7] = v[i].breakglass ? "-" : approvals;
        row[8] = shell_time(v[i].created_at, created, sizeof(created));
        row[9] = v[i].reason;
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

static int cmd_requests_exec(struct shell_ctx *c, int argc, char **argv)
{
    static const char *const spec[] = {"pending", "mine", "all", "json", NULL};
    const struct access *a = NULL;
    struct policy_subject who = shell_subject(c);
    struct store_request *v = NULL;
    struct shell_opts o;
    unsigned flags = 0;
    size_t n = 0;
    char err[512] = "";
    int r;

    if ((r = shell_cmd_opts(c, spec, argc, argv, &o)) != 0) {
        return r;
    }
    if (o.npos > 0) {
        return shell_usage(c, argv[0], "too many arguments");
    }
    if (shell_opt(&o, "pending") != NULL && shell_opt(&o, "all") != NULL) {
        return shell_usage(c, argv[0], "--pending and --all exclude each other");
    }
    flags |= shell_opt(&o, "pending") != NULL ? ACCESS_LIST_PENDING : 0;
    flags |= shell_opt(&o, "mine") != NULL ? ACCESS_LIST_MINE : 0;
    flags |= shell_opt(&o, "all") != NULL ? ACCESS_LIST_ALL : 0;
    if ((a = shell_access(c)) == NULL) {
        return SHELL_FAIL;
    }
    if ((r = access_list_requests(a, &who, flags, shell_now(c), &v, &n, err, sizeof(err))) != 0) {
        return shell_refuse(c, r, err);
    }
    if (shell_opt(&o, "json") != NULL) {
        r = requests_json(c, v, n);
    } else if (n == 0) {
        shell_out(c, "no %srequests\n", (flags & ACCESS_LIST_PENDING) ? "pending " : "");
        r = 0;
    } else {
        r = requests_text(c, v, n);
    }
    free(v);
    return r < 0 ? shell_fail(c, "out of memory") : SHELL_OK;
}

const struct shell_cmd_entry shell_cmd_requests_entry = {
    .name = "requests",
    .usage = "requests [--pending] [--mine] [--all] [--json]",
    .summary = "list requests you made or may decide",
    .exec = cmd_requests_exec,
};

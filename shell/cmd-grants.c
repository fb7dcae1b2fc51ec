/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `grants [--mine] [--json]` lists the grants live now (active, started,
 * not yet ended), scoped like `requests`: your own, those of rules you
 * approve for, all of them for reviewers.  A grant has its request's
 * number.  --json prints an array of grant objects (see shell.h).
 */
#include "shell.h"

#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#define GRANTS_COLS 7

static int grants_json(struct shell_ctx *c, const struct store_grant *v, size_t n)
{
    json_t *arr = json_array();
    int r = DB_ERR_NOMEM;

    if (arr == NULL) {
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (json_array_append_new(arr, shell_grant_json(&v[i])) < 0) {
            goto out;
        }
    }
    r = shell_out_json(c, arr);
out:
    json_decref(arr);
    return r;
}

static int grants_text(struct shell_ctx *c, const struct store_grant *v, size_t n, long long now)
{
    static const char *const head[GRANTS_COLS] = {"ID",   "USER",  "TARGET", "LOGIN",
                                                  "RULE", "UNTIL", "LEFT"};
    struct shell_table *t = shell_table_new(GRANTS_COLS, head);
    int r = DB_ERR_NOMEM;

    if (t == NULL) {
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        char id[24], until[SHELL_TIME_MAX], left[32];
        const char *row[GRANTS_COLS];

        snprintf(id, sizeof(id), "%lld", v[i].id);
        db_format_duration(v[i].ends_at - now, left, sizeof(left));
        row[0] = id;
        row[1] = v[i].user;
        row[2] = v[i].target;
        row[3] = v[i].login;
        row[4] = v[i].breakglass ? "break-glass" : v[i].rule;
        row[5] = shell_time(v[i].ends_at, until, sizeof(until));
        row[6] = left;
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

static int cmd_grants_exec(struct shell_ctx *c, int argc, char **argv)
{
    static const char *const spec[] = {"mine", "json", NULL};
    const struct access *a = NULL;
    struct policy_subject who = shell_subject(c);
    struct store_grant *v = NULL;
    struct shell_opts o;
    size_t n = 0;
    char err[512] = "";
    long long now = 0;
    int r;

    if ((r = shell_cmd_opts(c, spec, argc, argv, &o)) != 0) {
        return r;
    }
    if (o.npos > 0) {
        return shell_usage(c, argv[0], "too many arguments");
    }
    if ((a = shell_access(c)) == NULL) {
        return SHELL_FAIL;
    }
    now = shell_now(c);
    if ((r = access_list_grants(a, &who, shell_opt(&o, "mine") != NULL ? ACCESS_LIST_MINE : 0,
                                now, &v, &n, err, sizeof(err))) != 0) {
        return shell_refuse(c, r, err);
    }
    if (shell_opt(&o, "json") != NULL) {
        r = grants_json(c, v, n);
    } else if (n == 0) {
        shell_out(c, "no active grants\n");
        r = 0;
    } else {
        r = grants_text(c, v, n, now);
    }
    free(v);
    return r < 0 ? shell_fail(c, "out of memory") : SHELL_OK;
}

const struct shell_cmd_entry shell_cmd_grants_entry = {
    .name = "grants",
    .usage = "grants [--mine] [--json]",
    .summary = "list active grants",
    .exec = cmd_grants_exec,
};

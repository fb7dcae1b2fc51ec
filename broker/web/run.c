/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The console runs the shell's own commands, as the logged-in user with the
 * groups the directory gives now, against this process's store and policy:
 * so every page and API call is decided by exactly the code that decides
 * `ssh gw …`, refuses with the same words and leaves the same audit rows.
 * What a command writes is captured; its refusal ("drawbridge: why" on
 * stderr) becomes {"error": "why"} with the HTTP status of the refusal's
 * DB_ERR_* code (shell_ctx.refusal), 400 for a usage error.
 */
#include "web.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

static int web_run_append(char **buf, size_t *len, size_t *cap, const char *p, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t ncap = *cap ? *cap : 1024;
        char *nb;

        while (ncap < *len + n + 1) {
            ncap *= 2;
        }
        if ((nb = realloc(*buf, ncap)) == NULL) {
            return -1;
        }
        *buf = nb;
        *cap = ncap;
    }
    memcpy(*buf + *len, p, n);
    *len += n;
    (*buf)[*len] = '\0';
    return (int)n;
}

static int web_run_write(void *io, int is_err, const char *buf, size_t len)
{
    struct web_run *w = io;

    if (is_err) {
        return web_run_append(&w->err, &w->errlen, &w->errcap, buf, len);
    }
    return web_run_append(&w->out, &w->outlen, &w->outcap, buf, len);
}

void web_run_init(struct web_run *w, struct web_req *r)
{
    memset(w, 0, sizeof(*w));
    w->c.cfg = r->app->cfg;
    w->c.policy = r->app->policy;
    w->c.user = r->sess->user;
    w->c.groups = (const char *const *)r->sess->groups;
    w->c.ngroups = r->sess->ngroups;
    w->c.write = web_run_write;
    w->c.io = w;
    w->c.access = &r->app->access;
    w->c.peer = r->peer;
    /* mfa.actions and mfa.require hold in the console as in the shell */
    w->c.mfa_verified = r->sess->mfa;
}

int web_run_argv(struct web_run *w, int argc, char **argv)
{
    /* the shell's own dispatcher: whatever it checks before a command runs, it checks here */
    w->status = shell_run_argv(&w->c, argc, argv);
    return w->status;
}

void web_run_clear(struct web_run *w)
{
    if (w->c.job != NULL) {
        w->c.job->free(w->c.job);
        w->c.job = NULL;
    }
    free(w->out);
    free(w->err);
    w->out = w->err = NULL;
}

const char *web_run_message(const struct web_run *w, char *buf, size_t len)
{
    const char *p = w->err;

    snprintf(buf, len, "failed");
    while (p != NULL && *p != '\0') {
        size_t n = strcspn(p, "\n");

        if (n > 12 && strncmp(p, "drawbridge: ", 12) == 0) {
            /* a command run as on a terminal (the player) ends its lines with "\r\n" */
            snprintf(buf, len, "%.*s", (int)(n - 12 - (p[n - 1] == '\r')), p + 12);
            return buf;
        }
        p += n + (p[n] == '\n');
    }
    return buf;
}

int web_run_send_error(struct web_req *r, const struct web_run *w)
{
    char msg[700];
    unsigned status = w->status == SHELL_USAGE ? 400 : web_status_for(w->c.refusal);

    return web_send_error(r, status, web_run_message(w, msg, sizeof(msg)));
}

int web_run_json(struct web_req *r, int argc, char **argv)
{
    struct web_run w;
    json_t *doc = NULL;
    int ret;

    web_run_init(&w, r);
    web_run_argv(&w, argc, argv);
    if (w.status != SHELL_OK) {
        ret = web_run_send_error(r, &w);
        web_run_clear(&w);
        return ret;
    }
    doc = w.out != NULL ? json_loads(w.out, JSON_DECODE_ANY, NULL) : NULL;
    web_run_clear(&w);
    if (doc == NULL) {
        return web_send_error(r, 500, "the command gave no document");
    }
    return web_send_json(r, 200, doc);
}

int web_run_action(struct web_req *r, int argc, char **argv)
{
    struct web_run w;
    json_t *doc = NULL;
    int ret;

    web_run_init(&w, r);
    web_run_argv(&w, argc, argv);
    if (w.status != SHELL_OK) {
        ret = web_run_send_error(r, &w);
        web_run_clear(&w);
        return ret;
    }
    if (w.outlen > 0 && w.out[w.outlen - 1] == '\n') {
        w.out[--w.outlen] = '\0';
    }
    doc = json_pack("{so}", "result", shell_json_string(w.out != NULL ? w.out : ""));
    web_run_clear(&w);
    return web_send_json(r, 200, doc);
}

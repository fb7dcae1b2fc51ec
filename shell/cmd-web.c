/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `web` prints a one-time login link for the web console:
 *
 *   https://gw.example.org:8443/login/TOKEN
 *
 * The link logs one browser in as the caller, once, within WEBLINK_TTL
 * seconds; opening it shows a page with one button, and only pressing it
 * (a POST from the console's own origin) uses it.  The store keeps only the
 * token's SHA-256.  Making a link is audited ("web.link").
 */
#include "shell.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

static int cmd_web_exec(struct shell_ctx *c, int argc, char **argv)
{
    static const char *const spec[] = {NULL};
    const struct access *a = NULL;
    struct shell_opts o;
    char token[WEBLINK_TOKEN_LEN + 1], hash[AUDIT_HASH_HEX + 1];
    long long now = shell_now(c);
    json_t *d = NULL;
    int r;

    if ((r = shell_cmd_opts(c, spec, argc, argv, &o)) != 0) {
        return r;
    }
    if (o.npos != 0) {
        return shell_usage(c, argv[0], "too many arguments");
    }
    if (c->cfg == NULL || !c->cfg->web.enabled || c->cfg->web.public_url == NULL) {
        return shell_refuse(c, DB_ERR_UNAVAIL, "the web console is not configured on this gateway");
    }
    if ((a = shell_access(c)) == NULL) {
        return SHELL_FAIL;
    }
    if (weblink_new(token, hash) != 0) {
        return shell_fail(c, "cannot make a login link");
    }
    /* the browser's session gave a code when this login did (broker/mfa/, mfa.actions) */
    r = store_web_login_insert(a->store, hash, c->user, c->mfa_verified ? 1 : 0, now,
                               now + WEBLINK_TTL);
    if (r == 0) {
        d = json_pack("{sI}", "expires_at", (json_int_t)(now + WEBLINK_TTL));
        r = d != NULL ? access_audit_event(a->store, now, c->user, "web.link", c->user, d)
                      : DB_ERR_NOMEM;
        json_decref(d);
    }
    if (r != 0) {
        db_wipe(token, sizeof(token));
        return shell_fail(c, "cannot make a login link: %s", db_strerror(r));
    }
    shell_out(c, "%s/login/%s\n", c->cfg->web.public_url, token);
    shell_err(c, "open it within %d seconds; it works once\n", WEBLINK_TTL);
    db_wipe(token, sizeof(token));
    return SHELL_OK;
}

const struct shell_cmd_entry shell_cmd_web_entry = {
    .name = "web",
    .usage = "web",
    .summary = "print a one-time login link for the web console",
    .exec = cmd_web_exec,
};

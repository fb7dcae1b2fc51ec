/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The route table, like the shell's command table: each entry names a
 * method, a path pattern, what the request must bring (a logged-in browser,
 * the console's own Origin, the CSRF token, the reviewer role for reviewer
 * pages) and its handler.  web_dispatch checks those in one place, before
 * any handler runs.
 *
 * A ":x" segment matches any one segment; the handler's command checks it
 * (a request number, a session id) and refuses it with the shell's words.
 * Decisions about what a user may see or do are never made here: the
 * commands make them.  The one role check here, reviewer pages, uses the
 * policy function the reviewer commands use, so that an engineer gets a 403
 * instead of an empty page.
 */
#include "web.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <microhttpd.h>

#define L WEB_LOGIN
#define P (WEB_LOGIN | WEB_POST_CHECKS)
#define R (WEB_LOGIN | WEB_REVIEWER)

static const struct web_route web_routes[] = {
    {"GET", "/", 0, web_h_root, NULL},
    {"GET", "/login", 0, web_h_login_page, NULL},
    {"POST", "/login", WEB_ORIGIN, web_h_login_post, NULL},
    {"GET", "/login/:t", 0, web_h_login_link_page, NULL},
    {"POST", "/login/:t", WEB_ORIGIN, web_h_login_link_post, NULL},
    {"GET", "/static/:f", 0, web_h_static, NULL},
    {"GET", "/static/player/:f", 0, web_h_static, NULL},
    /* pages: static HTML, filled in by their module from the API */
    {"GET", "/targets", L, web_h_page, "targets.html"},
    {"GET", "/requests", L, web_h_page, "requests.html"},
    {"GET", "/requests/:n", L, web_h_page, "request.html"},
    {"GET", "/grants", L, web_h_page, "grants.html"},
    {"GET", "/sessions", R, web_h_page, "sessions.html"},
    {"GET", "/sessions/:id", R, web_h_page, "player.html"},
    {"GET", "/sessions/:id/watch", R, web_h_page, "watch.html"},
    {"GET", "/reviews", R, web_h_page, "reviews.html"},
    {"GET", "/search", R, web_h_page, "search.html"},
    {"GET", "/audit", R, web_h_page, "audit.html"},
    /* the API: the documents of the shell's --json */
    {"POST", "/api/v1/logout", P, web_h_logout, NULL},
    {"GET", "/api/v1/whoami", L, web_h_whoami, NULL},
    {"GET", "/api/v1/targets", L, web_h_targets, NULL},
    {"GET", "/api/v1/requests", L, web_h_requests, NULL},
    {"POST", "/api/v1/requests", P, web_h_request_create, NULL},
    {"GET", "/api/v1/requests/:n", L, web_h_request_show, NULL},
    {"POST", "/api/v1/requests/:n/approve", P, web_h_request_approve, NULL},
    {"POST", "/api/v1/requests/:n/deny", P, web_h_request_deny, NULL},
    {"POST", "/api/v1/requests/:n/cancel", P, web_h_request_cancel, NULL},
    {"GET", "/api/v1/grants", L, web_h_grants, NULL},
    {"POST", "/api/v1/grants/:n/revoke", P, web_h_grant_revoke, NULL},
    {"GET", "/api/v1/sessions", L, web_h_sessions, NULL},
    {"GET", "/api/v1/sessions/:id", L, web_h_session_show, NULL},
    {"GET", "/api/v1/sessions/:id/cast", L, web_h_session_cast, NULL},
    {"GET", "/api/v1/sessions/:id/transcript", L, web_h_session_transcript, NULL},
    {"GET", "/api/v1/sessions/:id/live", L, web_h_session_live, NULL},
    {"POST", "/api/v1/sessions/:id/terminate", P, web_h_session_terminate, NULL},
    {"POST", "/api/v1/sessions/:id/review", P, web_h_session_review, NULL},
    {"GET", "/api/v1/reviews", L, web_h_reviews, NULL},
    {"GET", "/api/v1/search", L, web_h_search, NULL},
    {"GET", "/api/v1/audit", L, web_h_audit, NULL},
};

#undef L
#undef P
#undef R

/* Does path match pattern?  The ":x" segments are copied into r->param. */
static int web_route_match(const char *pattern, const char *path, struct web_req *r)
{
    const char *p = pattern, *u = path;

    r->nparam = 0;
    while (*p != '\0' && *u != '\0') {
        if (*p == ':') {
            size_t n = strcspn(u, "/");

            if (n == 0 || n >= sizeof(r->param[0]) || r->nparam >= 2) {
                return 0;
            }
            memcpy(r->param[r->nparam], u, n);
            r->param[r->nparam++][n] = '\0';
            p += strcspn(p, "/");
            u += n;
            continue;
        }
        if (*p != *u) {
            return 0;
        }
        p++;
        u++;
    }
    return *p == '\0' && *u == '\0';
}

static int web_is_api(const char *url)
{
    return strncmp(url, "/api/", 5) == 0;
}

static int web_refuse(struct web_req *r, unsigned status, const char *msg)
{
    if (web_is_api(r->url) || strcmp(r->method, "GET") != 0) {
        return web_send_error(r, status, msg);
    }
    return web_send(r, status, "text/plain; charset=utf-8", msg, strlen(msg));
}

/*
 * The browser session named by the cookie, if any and still good (r->sess).
 * 0, or DB_ERR_UNAVAIL / DB_ERR_TIMEOUT when the directory cannot say
 * whether its user still exists and in which groups (the session stays).
 */
static int web_find_session(struct web_req *r)
{
    const char *tok = MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, WEB_COOKIE);
    long long now = web_now();
    int rc;

    r->sess = NULL;
    if (tok == NULL || !weblink_token_valid(tok, strlen(tok))) {
        return 0;
    }
    r->sess = web_sess_find(r->app, tok, now);
    if (r->sess != NULL && (rc = web_sess_refresh(r->app, r->sess, now)) != 0) {
        r->sess = NULL;
        if (rc == DB_ERR_UNAVAIL || rc == DB_ERR_TIMEOUT) {
            return rc;
        }
    }
    return 0;
}

/*
 * The Host header names public_url's host (and port, where it has one; 443
 * may be said or not).  A page reached under another name -- DNS rebinding,
 * a name the console does not answer to -- gets nothing but this refusal.
 */
static int web_host_ok(struct web_req *r)
{
    const char *want = r->app->cfg->web.public_url + strlen("https://");
    const char *host = web_header(r, "Host");
    size_t n = strlen(want);

    if (host == NULL) {
        return 0;
    }
    if (strcmp(host, want) == 0) {
        return 1;
    }
    /* no port in public_url: the default one may be written out */
    return strrchr(want, ':') == NULL || want[n - 1] == ']'
               ? strncmp(host, want, n) == 0 && strcmp(host + n, ":443") == 0
               : 0;
}

int web_dispatch(struct web_req *r)
{
    const struct web_route *rt = NULL;
    int path_known = 0;

    for (size_t i = 0; i < sizeof(web_routes) / sizeof(web_routes[0]); i++) {
        if (web_route_match(web_routes[i].pattern, r->url, r)) {
            path_known = 1;
            if (strcmp(web_routes[i].method, r->method) == 0 ||
                (strcmp(r->method, "HEAD") == 0 && strcmp(web_routes[i].method, "GET") == 0)) {
                rt = &web_routes[i];
                break;
            }
        }
    }
    if (!web_host_ok(r)) {
        return web_refuse(r, 421, "this console answers to its public_url's host only");
    }
    if (rt == NULL) {
        return web_refuse(r, path_known ? 405 : 404,
                          path_known ? "method not allowed" : "no such page");
    }
    web_route_match(rt->pattern, r->url, r);
    r->route = rt;
    if (rt->need & (WEB_ORIGIN | WEB_POST_CHECKS)) {
        const char *origin = web_header(r, "Origin");

        if (origin == NULL || strcmp(origin, r->app->cfg->web.public_url) != 0) {
            return web_refuse(r, 403, "cross-origin request refused");
        }
    }
    if (rt->need & WEB_LOGIN) {
        if (web_find_session(r) != 0) {
            return web_refuse(r, 503, "the directory cannot be reached; try again");
        }
        if (r->sess == NULL) {
            if (!web_is_api(r->url) && strcmp(r->method, "GET") == 0) {
                return web_redirect(r, "/login", NULL);
            }
            return web_refuse(r, 401, "not logged in");
        }
    }
    if (rt->need & WEB_POST_CHECKS) {
        const char *tok = web_header(r, "X-CSRF-Token");

        if (tok == NULL || !web_secure_eq(tok, r->sess->csrf)) {
            return web_refuse(r, 403, "missing or wrong CSRF token");
        }
    }
    if (rt->need & WEB_REVIEWER) {
        struct policy_subject who = {
            .user = r->sess->user,
            .groups = (const char *const *)r->sess->groups,
            .ngroups = r->sess->ngroups,
        };
        char msg[64];

        if (!policy_is_reviewer(r->app->policy, &who)) {
            /* the page's command ("sessions", "audit"...): refused and audited as the shell does */
            char name[32];
            json_t *d = NULL;

            snprintf(name, sizeof(name), "%s", r->url + 1);
            name[strcspn(name, "/")] = '\0';
            if ((d = json_pack("{ss}", "command", name)) != NULL) {
                access_audit_event(r->app->store, web_now(), r->sess->user, "review.refused", name,
                                   d);
                json_decref(d);
            }
            snprintf(msg, sizeof(msg), "%s is for reviewers\n", name);
            return web_refuse(r, 403, msg);
        }
    }
    return rt->handler(r);
}

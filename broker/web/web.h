/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The web console (DESIGN.md, "Web console"): a process of its own, forked
 * by the listener, serving HTTPS with GNU libmicrohttpd on the addresses of
 * the config's `web:` section.  It shows approvers and reviewers what the
 * shell shows them and lets them do what the shell lets them do, by running
 * the shell's own commands (run.c) as the logged-in user: the same
 * access_* checks, the same messages and the same audit rows, each with
 * "via": "web" in its details.
 *
 * One thread: libmicrohttpd runs from our own loop (epoll, no thread of its
 * own), so the store handle, the policy and the browser sessions are never
 * shared between threads.  Live views (server-sent events) are suspended
 * connections that the loop resumes when their session has written more.
 */
#ifndef DRAWBRIDGE_WEB_H
#define DRAWBRIDGE_WEB_H

#include <stddef.h>

#include "broker.h"
#include "shell.h"

/* ---- tls.c: the listener's part (run before privileges are dropped) ---- */

#define WEB_LISTEN_MAX 8

/* Binds every web.listen address (non-blocking, close-on-exec).  *n gets how many. */
int web_listen(const struct config *c, int fds[WEB_LISTEN_MAX], size_t *n, char *err,
               size_t errlen);
/*
 * Without web.tls_cert/tls_key: makes keys_dir/web_tls.key (EC P-256, 0600)
 * and a self-signed keys_dir/web_tls.crt for public_url's host when absent.
 * Paths of the certificate and key in use go to cert/key (PATH_MAX each).
 */
int web_tls_ensure(const struct config *c, char *cert, size_t certlen, char *key, size_t keylen,
                   char *err, size_t errlen);

/* ---- process.c: the web process ---- */

/*
 * The web process's main: serves on fds until SIGTERM; SIGHUP reloads the
 * policy from the config's path (a policy that fails to load is not taken).
 * Takes a copy of nothing: cfg and policy are the listener's, inherited by
 * fork.  Returns the process exit status.
 */
int web_run(const struct config *cfg, const struct policy *policy, const int *fds, size_t nfds);

/* ==== internal to broker/web/ ==== */

struct MHD_Connection;
struct MHD_Response;
struct web_app;

#define WEB_BODY_MAX (64 * 1024) /* bytes of a request body */
#define WEB_IDLE_S (30 * 60)     /* a browser session ends after this long unused */
#define WEB_MAX_S (12 * 60 * 60) /* ... and this long after its login in any case */
#define WEB_SESSIONS_MAX 4096
#define WEB_SESSIONS_PER_USER 32 /* a user's next login ends their least recently used one */
#define WEB_GROUPS_TTL 60 /* LDAP groups are read again after this many seconds */
#define WEB_COOKIE "__Host-drawbridge"

/* A logged-in browser (auth.c). */
struct web_sess {
    char key[AUDIT_HASH_HEX + 1]; /* SHA-256 of the cookie's token */
    char csrf[WEBLINK_TOKEN_LEN + 1];
    char user[STORE_NAME_MAX + 1];
    char **groups;
    size_t ngroups;
    long long created, last_seen, groups_at;
    int mfa; /* the login gave a verification code */
};

/* One request (http.c). */
struct web_req {
    struct web_app *app;
    struct MHD_Connection *conn;
    const char *method;
    const char *url; /* as received */
    char *body;
    size_t bodylen;
    int body_too_big;
    struct web_sess *sess; /* NULL: not logged in */
    char peer[64];
    char param[2][80]; /* the :x parts of the route's pattern, in order */
    size_t nparam;
    const struct web_route *route;
    int started;
};

/* A route (routes.c): method, a path pattern, what it needs, and its handler. */
enum web_need {
    WEB_PUBLIC = 0,      /* anyone */
    WEB_LOGIN = 1,       /* a logged-in browser */
    WEB_POST_CHECKS = 2, /* Origin == public_url and X-CSRF-Token (with WEB_LOGIN) */
    WEB_ORIGIN = 4,      /* Origin == public_url only (the login forms) */
    WEB_REVIEWER = 8,    /* pages for reviewers (the API's commands check for themselves) */
};
struct web_route {
    const char *method;
    const char *pattern; /* "/api/v1/requests/:n/approve": ":x" is any one segment */
    unsigned need;
    int (*handler)(struct web_req *r);
    const char *file; /* pages: the HTML file under static/ */
};
/* Finds and runs the route; the handler queues a response.  Returns an MHD_Result. */
int web_dispatch(struct web_req *r);

/* http.c: responses.  Each queues a response on r->conn and returns an MHD_Result. */
int web_send(struct web_req *r, unsigned status, const char *type, const void *body, size_t len);
/* A JSON value (stolen) as the body. */
int web_send_json(struct web_req *r, unsigned status, struct json_t *v);
/* {"error": msg}: one line, the shell's words. */
int web_send_error(struct web_req *r, unsigned status, const char *msg);
int web_redirect(struct web_req *r, const char *location, const char *cookie);
/* Adds the headers every response carries (CSP, HSTS, nosniff, ...). */
void web_headers(struct MHD_Response *resp, int cacheable);
/* A header of the request, or NULL. */
const char *web_header(struct web_req *r, const char *name);
/* A query argument, or NULL. */
const char *web_query(struct web_req *r, const char *name);
/* The body as a JSON object (new reference), or NULL after queueing the 400 (*sent set). */
struct json_t *web_body_json(struct web_req *r, int *sent);
/*
 * A field of an application/x-www-form-urlencoded body, decoded into out.
 * 0, DB_ERR_NOTFOUND, or DB_ERR_INVALID (too long, bad escape, NUL).
 */
int web_form_field(const struct web_req *r, const char *name, char *out, size_t outlen);
/* The HTTP status for a refusal's DB_ERR_* (400, 401, 403, 404, 409, 500, 503). */
unsigned web_status_for(int rc);
/* Constant-time comparison of two NUL-terminated strings. */
int web_secure_eq(const char *a, const char *b);
/*
 * Valid UTF-8 for JSON from terminal bytes: invalid sequences become
 * U+FFFD; an incomplete sequence at the end is kept in carry (up to 3
 * bytes, *ncarry) for the next call.  Returns a new JSON string or NULL.
 */
struct json_t *web_utf8_json(unsigned char carry[4], size_t *ncarry, const char *in, size_t len);

/* auth.c: browser sessions and logging in. */
/* A new session for u; cookie gets the Set-Cookie value ("__Host-drawbridge=TOKEN; ..."). */
int web_sess_new(struct web_app *app, const struct dir_user *u, int mfa, long long now,
                 char *cookie, size_t cookielen);
/* The session of that cookie token, NULL when unknown or idle past WEB_IDLE_S (then ended). */
struct web_sess *web_sess_find(struct web_app *app, const char *cookie_token, long long now);
/* LDAP groups refreshed when stale; DB_ERR_NOTFOUND when the user is gone (session ended). */
int web_sess_refresh(struct web_app *app, struct web_sess *s, long long now);
void web_sess_expire(struct web_app *app, long long now);
void web_sess_free_all(struct web_app *app);
int web_h_login_link_page(struct web_req *r);
int web_h_login_link_post(struct web_req *r);
int web_h_login_page(struct web_req *r);
int web_h_login_post(struct web_req *r);
int web_h_logout(struct web_req *r);
int web_h_whoami(struct web_req *r);

/* run.c: running a shell command as the request's user. */
struct web_run {
    struct shell_ctx c;
    char *out, *err; /* what the command wrote (NUL-terminated) */
    size_t outlen, errlen, outcap, errcap;
    int status; /* exit status 0/1/2 */
};
/* Sets up r's context (user, groups, store, policy; writes captured). */
void web_run_init(struct web_run *w, struct web_req *r);
/* Runs argv (argv[0] the command); w->status gets its exit status. */
int web_run_argv(struct web_run *w, int argc, char **argv);
void web_run_clear(struct web_run *w);
/* The first "drawbridge: ..." line of the command's stderr, without the prefix, into buf. */
const char *web_run_message(const struct web_run *w, char *buf, size_t len);
/* Sends a failed command's refusal with the status its code calls for. */
int web_run_send_error(struct web_req *r, const struct web_run *w);
/* Runs argv and answers: its --json output parsed as the body, or its refusal. */
int web_run_json(struct web_req *r, int argc, char **argv);
/* Runs argv and answers {"result": "<its output line>"} or its refusal. */
int web_run_action(struct web_req *r, int argc, char **argv);

/* api-access.c, api-sessions.c: the JSON API. */
int web_h_targets(struct web_req *r);
int web_h_requests(struct web_req *r);
int web_h_request_create(struct web_req *r);
int web_h_request_show(struct web_req *r);
int web_h_request_approve(struct web_req *r);
int web_h_request_deny(struct web_req *r);
int web_h_request_cancel(struct web_req *r);
int web_h_grants(struct web_req *r);
int web_h_grant_revoke(struct web_req *r);
int web_h_sessions(struct web_req *r);
int web_h_session_show(struct web_req *r);
int web_h_session_terminate(struct web_req *r);
int web_h_session_review(struct web_req *r);
int web_h_reviews(struct web_req *r);
int web_h_search(struct web_req *r);
int web_h_audit(struct web_req *r);

/* cast.c: a recording as the browser's player takes it. */
int web_h_session_cast(struct web_req *r);
int web_h_session_transcript(struct web_req *r);


/* live.c: server-sent events for a live session. */
int web_h_session_live(struct web_req *r);
/* Called from the loop: steps the live views and resumes those with news. */
void web_live_tick(struct web_app *app, long long now_ms);
/* The browser session s ends (logout, expiry, user gone): so do its live views, at once. */
void web_live_sess_end(struct web_app *app, const struct web_sess *s);
/* Ends every live view (shutdown). */
void web_live_stop_all(struct web_app *app);

/* pages.c: HTML pages and static files. */
int web_files_load(struct web_app *app, char *err, size_t errlen);
void web_files_free(struct web_app *app);
int web_h_page(struct web_req *r);
int web_h_static(struct web_req *r);
int web_h_root(struct web_req *r);

/* process.c: the process's state, reached by handlers through r->app. */
struct web_file {
    char *name; /* the URL path, "/static/app.js" */
    const char *type;
    char *data;
    size_t len;
};
struct web_live;
struct web_conn;
struct web_app {
    const struct config *cfg;
    const struct policy *policy; /* the listener's at fork, or policy_owned after a reload */
    struct policy *policy_owned;
    struct store *store;
    struct dir *dir;
    struct access access;
    struct access_notify notify;
    struct web_sess *sess[WEB_SESSIONS_MAX];
    size_t nsess;
    struct web_file *files;
    size_t nfiles;
    struct web_live *live;  /* live views, a list */
    struct web_conn *conns; /* open connections, for the header deadline */
    struct MHD_Daemon *daemon;
};
long long web_now(void);
long long web_now_ms(void);

#endif

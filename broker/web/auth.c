/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Logging browsers in, and the browser sessions that result.
 *
 * Two ways in, neither a second password store:
 *   - the one-time link `ssh gw web` prints: GET /login/TOKEN shows a page
 *     with one button (so that link scanners and previews, which only GET,
 *     use nothing), and its POST, from the console's own origin, takes the
 *     link in the store (once, within its minute) and logs the browser in
 *     as the user who asked for it;
 *   - the LDAP password, checked the way the SSH side checks it, and for a
 *     user who enrolled a second factor the verification code as well
 *     (mfa_verify: once-only codes, the lockout and recovery codes as at
 *     the SSH prompt).
 * Either way the user is looked up in the directory again, for the groups;
 * the session remembers whether its login gave a code (the link's: whether
 * the SSH login that made it did), for mfa.actions.
 *
 * A session is a random token in a cookie (__Host-, Secure, HttpOnly,
 * SameSite=Strict) that this process keeps only as a SHA-256, with a CSRF
 * token for the API's POSTs; a user holds at most WEB_SESSIONS_PER_USER.
 * Sessions live in this process's memory: they end after WEB_IDLE_S unused,
 * WEB_MAX_S after the login in any case, at logout, when the user is no
 * longer in the directory, and when the web process restarts.  The user's
 * groups are read again every WEB_GROUPS_TTL seconds, so a group change
 * reaches the console as fast as it reaches a new SSH login.
 */
#include "web.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <microhttpd.h>

#include "mfa.h"

#define WEB_FAIL_SOURCES 256
#define WEB_FAIL_MAX 10       /* failed password logins from one address ... */
#define WEB_FAIL_WINDOW_S 300 /* ... within this long lock it out for the rest of it */

struct web_fail {
    char src[64];
    long long first;
    int n;
};
static struct web_fail web_fails[WEB_FAIL_SOURCES];

static void web_sess_free(struct web_sess *s)
{
    if (s == NULL) {
        return;
    }
    for (size_t i = 0; i < s->ngroups; i++) {
        free(s->groups[i]);
    }
    free(s->groups);
    db_wipe(s, sizeof(*s));
    free(s);
}

static void web_sess_remove(struct web_app *app, size_t i)
{
    /* what the session opened ends with it: a live view must not outlive a logout */
    web_live_sess_end(app, app->sess[i]);
    web_sess_free(app->sess[i]);
    app->sess[i] = app->sess[--app->nsess];
    app->sess[app->nsess] = NULL;
}

struct web_sess *web_sess_find(struct web_app *app, const char *cookie_token, long long now)
{
    char key[AUDIT_HASH_HEX + 1];

    if (weblink_hash(cookie_token, strlen(cookie_token), key) != 0) {
        return NULL;
    }
    for (size_t i = 0; i < app->nsess; i++) {
        if (!web_secure_eq(app->sess[i]->key, key)) {
            continue;
        }
        if (now - app->sess[i]->last_seen > WEB_IDLE_S || now - app->sess[i]->created > WEB_MAX_S) {
            web_sess_remove(app, i);
            return NULL;
        }
        app->sess[i]->last_seen = now;
        return app->sess[i];
    }
    return NULL;
}

static int web_sess_set_groups(struct web_sess *s, const struct dir_user *u)
{
    char **g = calloc(u->ngroups + 1, sizeof(*g));

    if (g == NULL) {
        return DB_ERR_NOMEM;
    }
    for (size_t i = 0; i < u->ngroups; i++) {
        if ((g[i] = strdup(u->groups[i])) == NULL) {
            for (size_t k = 0; k < i; k++) {
                free(g[k]);
            }
            free(g);
            return DB_ERR_NOMEM;
        }
    }
    for (size_t i = 0; i < s->ngroups; i++) {
        free(s->groups[i]);
    }
    free(s->groups);
    s->groups = g;
    s->ngroups = u->ngroups;
    return 0;
}

int web_sess_refresh(struct web_app *app, struct web_sess *s, long long now)
{
    struct dir_user *u = NULL;
    char err[256];
    int rc;

    if (now - s->groups_at < WEB_GROUPS_TTL) {
        return 0;
    }
    rc = dir_lookup(app->dir, s->user, &u, err, sizeof(err));
    if (rc == 0) {
        rc = web_sess_set_groups(s, u);
        s->groups_at = now;
    }
    dir_user_free(u);
    if (rc == DB_ERR_NOTFOUND) {
        for (size_t i = 0; i < app->nsess; i++) {
            if (app->sess[i] == s) {
                log_msg(LOG_LVL_INFO, "web.logout", "user=%s is no longer in the directory",
                        s->user);
                web_sess_remove(app, i);
                break;
            }
        }
    }
    return rc;
}

void web_sess_expire(struct web_app *app, long long now)
{
    for (size_t i = 0; i < app->nsess;) {
        if (now - app->sess[i]->last_seen > WEB_IDLE_S || now - app->sess[i]->created > WEB_MAX_S) {
            web_sess_remove(app, i);
        } else {
            i++;
        }
    }
}

void web_sess_free_all(struct web_app *app)
{
    while (app->nsess > 0) {
        web_sess_remove(app, app->nsess - 1);
    }
}

int web_sess_new(struct web_app *app, const struct dir_user *u, int mfa, long long now,
                 char *cookie, size_t cookielen)
{
    struct web_sess *s = calloc(1, sizeof(*s));
    char token[WEBLINK_TOKEN_LEN + 1], hash[AUDIT_HASH_HEX + 1];
    int rc = DB_ERR_NOMEM;

    if (s == NULL) {
        return rc;
    }
    if ((rc = weblink_new(token, s->key)) != 0 || (rc = weblink_new(s->csrf, hash)) != 0 ||
        (rc = web_sess_set_groups(s, u)) != 0) {
        web_sess_free(s);
        return rc;
    }
    snprintf(s->user, sizeof(s->user), "%s", u->name);
    s->created = s->last_seen = s->groups_at = now;
    s->mfa = mfa;
    /*
     * Full: the least recently used session makes room -- the user's own
     * when they hold WEB_SESSIONS_PER_USER already, so that one user's
     * logins can never push everyone else out.
     */
    {
        size_t oldest = 0, mine = 0, oldest_mine = 0;

        for (size_t i = 0; i < app->nsess; i++) {
            if (app->sess[i]->last_seen < app->sess[oldest]->last_seen) {
                oldest = i;
            }
            if (strcmp(app->sess[i]->user, s->user) == 0 &&
                (mine++ == 0 || app->sess[i]->last_seen < app->sess[oldest_mine]->last_seen)) {
                oldest_mine = i;
            }
        }
        if (mine >= WEB_SESSIONS_PER_USER) {
            web_sess_remove(app, oldest_mine);
        } else if (app->nsess == WEB_SESSIONS_MAX) {
            web_sess_remove(app, oldest);
        }
    }
    app->sess[app->nsess++] = s;
    snprintf(cookie, cookielen, "%s=%s; Path=/; Secure; HttpOnly; SameSite=Strict", WEB_COOKIE,
             token);
    db_wipe(token, sizeof(token));
    return 0;
}

static int web_text(struct web_req *r, unsigned status, const char *msg)
{
    return web_send(r, status, "text/plain; charset=utf-8", msg, strlen(msg));
}

int web_h_login_link_page(struct web_req *r)
{
    r->route = &(const struct web_route){"GET", "", 0, NULL, "login-link.html"};
    return web_h_page(r);
}

static struct web_fail *web_fail_slot(const char *peer, long long now);

/*
 * A link that cannot be taken: when it existed (used already, or past its
 * minute) the attempt is audited under its user's name -- someone may be
 * replaying it from a screen, a chat or a log -- and counts against the
 * address like a wrong password.  A token that never existed leaves only a
 * log line: nobody can fill the audit with made-up ones.
 */
static void web_link_refused(struct web_req *r, struct web_fail *f, const char *hash, long long now)
{
    char user[STORE_NAME_MAX + 1], reason[64];
    long long used = 0, expires = 0;
    const char *why = NULL;

    if (hash[0] == '\0' ||
        store_web_login_peek(r->app->store, hash, user, sizeof(user), &used, &expires) != 0 ||
        (used == 0 && expires > now)) {
        log_msg(LOG_LVL_WARN, "web.login_refused", "peer=%s: unknown link", r->peer);
        return;
    }
    why = used != 0 ? "used already" : "expired";
    f->n++;
    snprintf(reason, sizeof(reason), "one-time login link %s", why);
    access_audit_auth(r->app->store, now, user, NULL, r->peer, "web-link", 0, reason);
    log_msg(LOG_LVL_WARN, "web.login_refused", "peer=%s: %s's link, %s", r->peer, user, why);
}

int web_h_login_link_post(struct web_req *r)
{
    struct web_app *app = r->app;
    struct web_fail *f = web_fail_slot(r->peer, web_now());
    const char *tok = r->param[0];
    char hash[AUDIT_HASH_HEX + 1] = "", user[STORE_NAME_MAX + 1], err[256], cookie[160];
    struct dir_user *u = NULL;
    long long now = web_now();
    int mfa = 0, rc;

    if (f->n >= WEB_FAIL_MAX) {
        return web_text(r, 429, "too many failed logins from your address; try again later\n");
    }
    if (!weblink_token_valid(tok, strlen(tok)) || weblink_hash(tok, strlen(tok), hash) != 0 ||
        store_web_login_take(app->store, hash, now, user, sizeof(user), &mfa) != 0) {
        web_link_refused(r, f, hash, now);
        return web_text(r, 401,
                        "This login link cannot be used: it was used already, it expired (links "
                        "last 60 seconds) or it never existed. Run `ssh gw web` for a new one.\n");
    }
    rc = dir_lookup(app->dir, user, &u, err, sizeof(err));
    if (rc != 0) {
        access_audit_auth(app->store, now, user, NULL, r->peer, "web-link", 0,
                          rc == DB_ERR_NOTFOUND ? "no such user" : err);
        return web_text(r, rc == DB_ERR_NOTFOUND ? 401 : 503,
                        rc == DB_ERR_NOTFOUND ? "unknown user\n"
                                              : "the directory cannot be reached; try again\n");
    }
    rc = web_sess_new(app, u, mfa, now, cookie, sizeof(cookie));
    if (rc == 0) {
        rc = access_audit_auth(app->store, now, user, u->dn, r->peer, "web-link", 1, NULL);
    }
    dir_user_free(u);
    if (rc != 0) {
        return web_text(r, 500, "cannot log in now\n");
    }
    log_msg(LOG_LVL_INFO, "web.login", "user=%s peer=%s method=web-link", user, r->peer);
    return web_redirect(r, "/", cookie);
}

int web_h_login_page(struct web_req *r)
{
    r->route = &(const struct web_route){"GET", "", 0, NULL, "login.html"};
    return web_h_page(r);
}

static struct web_fail *web_fail_slot(const char *peer, long long now)
{
    char src[64];
    size_t victim = 0;

    snprintf(src, sizeof(src), "%s", peer);
    src[strcspn(src, "]")] = '\0';
    if (src[0] != '[') {
        src[strcspn(src, ":")] = '\0';
    }
    for (size_t i = 0; i < WEB_FAIL_SOURCES; i++) {
        if (strcmp(web_fails[i].src, src) == 0) {
            if (now - web_fails[i].first > WEB_FAIL_WINDOW_S) {
                web_fails[i].first = now;
                web_fails[i].n = 0;
            }
            return &web_fails[i];
        }
        if (web_fails[i].first < web_fails[victim].first) {
            victim = i;
        }
    }
    memset(&web_fails[victim], 0, sizeof(web_fails[victim]));
    snprintf(web_fails[victim].src, sizeof(web_fails[victim].src), "%s", src);
    web_fails[victim].first = now;
    return &web_fails[victim];
}

/*
 * After the password: an enrolled user's code, from the form's "code" field.
 * 0 with *mfa set (1 when a code was given) and method named, or the HTTP
 * status to answer with err as the message.
 */
static int web_login_code(struct web_req *r, const char *user, long long now, int *mfa,
                          const char **method, char *err, size_t errlen)
{
    struct mfa_ctx m = {r->app->cfg, r->app->store, &r->app->notify, r->peer, NULL};
    enum mfa_kind kind = 0;
    char code[64];
    int rc = mfa_login_check(&m, user, now, err, errlen), field;

    *mfa = 0;
    if (rc == DB_ERR_NOTFOUND) {
        return 0;
    }
    if (rc != 0) {
        return 503;
    }
    field = web_form_field(r, "code", code, sizeof(code));
    if (field == DB_ERR_NOTFOUND || (field == 0 && code[0] == '\0')) {
        /* a right password and no code is audited like a wrong password: it may be a stolen one */
        access_audit_auth(r->app->store, now, user, NULL, r->peer, "password", 0,
                          "password right; no verification code given");
        db_errf(err, errlen, "%s has a second factor: give the verification code too", user);
        return 401;
    }
    /* a field too long or malformed is judged (and counted) like any wrong answer */
    rc = field == 0 ? mfa_verify(&m, user, code, strlen(code), now, &kind, err, errlen)
                    : mfa_verify(&m, user, "?", 1, now, &kind, err, errlen);
    db_wipe(code, sizeof(code));
    if (rc != 0) {
        return rc == DB_ERR_AUTH || rc == DB_ERR_DENIED ? 401 : 503;
    }
    *mfa = 1;
    *method = kind == MFA_KIND_RECOVERY ? "password+recovery-code" : "password+totp";
    return 0;
}

int web_h_login_post(struct web_req *r)
{
    struct web_app *app = r->app;
    struct web_fail *f = web_fail_slot(r->peer, web_now());
    char user[STORE_NAME_MAX + 2], pw[1024], err[400], cookie[160], msg[420];
    const char *method = "password";
    struct dir_user *u = NULL;
    long long now = web_now();
    int rc, mfa = 0, status;

    if (f->n >= WEB_FAIL_MAX) {
        return web_text(r, 429, "too many failed logins from your address; try again later\n");
    }
    if (web_form_field(r, "user", user, sizeof(user)) != 0 ||
        web_form_field(r, "password", pw, sizeof(pw)) != 0 || user[0] == '\0' ||
        !names_valid(user, strlen(user))) {
        db_wipe(pw, sizeof(pw));
        return web_text(r, 400, "give a user name and a password\n");
    }
    rc = dir_lookup(app->dir, user, &u, err, sizeof(err));
    if (rc == 0) {
        rc = dir_check_password(app->dir, u, pw, strlen(pw), err, sizeof(err));
    }
    db_wipe(pw, sizeof(pw));
    if (rc == DB_ERR_UNAVAIL || rc == DB_ERR_TIMEOUT) {
        dir_user_free(u);
        return web_text(r, 503, "the directory cannot be reached; try again\n");
    }
    if (rc != 0) {
        f->n++;
        access_audit_auth(app->store, now, user, NULL, r->peer, "password", 0,
                          rc == DB_ERR_NOTFOUND ? "no such user" : "wrong password");
        dir_user_free(u);
        return web_text(r, 401, "wrong user name or password\n");
    }
    if ((status = web_login_code(r, user, now, &mfa, &method, err, sizeof(err))) != 0) {
        f->n += status == 401;
        dir_user_free(u);
        snprintf(msg, sizeof(msg), "%s\n", err);
        return web_text(r, status, msg);
    }
    rc = web_sess_new(app, u, mfa, now, cookie, sizeof(cookie));
    if (rc == 0) {
        rc = access_audit_auth(app->store, now, user, u->dn, r->peer, method, 1, NULL);
    }
    dir_user_free(u);
    if (rc != 0) {
        return web_text(r, 500, "cannot log in now\n");
    }
    log_msg(LOG_LVL_INFO, "web.login", "user=%s peer=%s method=%s", user, r->peer, method);
    return web_redirect(r, "/", cookie);
}

int web_h_logout(struct web_req *r)
{
    struct web_app *app = r->app;
    struct MHD_Response *resp = NULL;
    static const char body[] = "{\"result\":\"logged out\"}";
    char user[STORE_NAME_MAX + 1];
    int ret;

    snprintf(user, sizeof(user), "%s", r->sess->user);
    for (size_t i = 0; i < app->nsess; i++) {
        if (app->sess[i] == r->sess) {
            web_sess_remove(app, i);
            break;
        }
    }
    r->sess = NULL;
    access_audit_event(app->store, web_now(), user, "web.logout", user, NULL);
    resp = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
    if (resp == NULL) {
        return MHD_NO;
    }
    web_headers(resp, 0);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    MHD_add_response_header(resp, "Set-Cookie",
                            WEB_COOKIE "=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0");
    ret = MHD_queue_response(r->conn, 200, resp);
    MHD_destroy_response(resp);
    return ret;
}

int web_h_whoami(struct web_req *r)
{
    struct web_run w;
    char *argv[] = {"whoami", "--json", NULL};
    json_t *doc = NULL;
    int ret;

    web_run_init(&w, r);
    web_run_argv(&w, 2, argv);
    if (w.status != 0) {
        ret = web_run_send_error(r, &w);
        web_run_clear(&w);
        return ret;
    }
    doc = json_loads(w.out, 0, NULL);
    web_run_clear(&w);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return web_send_error(r, 500, "whoami gave no document");
    }
    json_object_set_new(doc, "csrf_token", json_string(r->sess->csrf));
    json_object_set_new(doc, "verified", json_boolean(r->sess->mfa));
    json_object_set_new(doc, "idle_timeout", json_integer(WEB_IDLE_S));
    return web_send_json(r, 200, doc);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The second factor at login (DESIGN.md, "Second factor (TOTP)").
 *
 * A user who never enrolled logs in as before.  For an enrolled user the
 * first factor -- an LDAP password, or a key from the directory -- ends in
 * partial success (RFC 4252 section 5.1) with keyboard-interactive as the
 * only method that can continue; the client then asks for it and the
 * gateway sends one prompt, "Verification code: ", whose answer goes to
 * mfa_verify (once-only codes, lockout, recovery codes).  OpenSSH, PuTTY
 * and paramiko all follow partial success this way.  libssh 0.10 has no
 * server callback for keyboard-interactive, so it arrives through the
 * message callback (session.c hands it here).
 *
 * The rules that keep this honest:
 *   - keyboard-interactive is taken only after a first factor, and an
 *     answer only after this connection sent the question (libssh would
 *     accept an INFO_RESPONSE nobody asked for);
 *   - once the first factor passed, password and publickey are refused:
 *     the connection is bound to that user and that factor;
 *   - a code that cannot be checked (a secret that does not unseal, the
 *     key or the store unavailable) refuses the login and ends the
 *     connection with a banner saying why -- it never skips the factor;
 *   - every refused answer counts against max_auth_tries here and against
 *     the user's lockout in the store;
 *   - a prompt left unanswered ends with login_grace like any login;
 *   - a first factor that passed is never left out of the audit: a
 *     connection that ends before any code was given (someone who learnt
 *     from the prompt that a stolen password is right, and left) is an
 *     auth.failure row like a wrong password.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "conn.h"
#include "mfa.h"

#define SESSION_MFA_PROMPT "Verification code: "

void session_mfa_ctx(struct conn *c, struct mfa_ctx *m)
{
    memset(m, 0, sizeof(*m));
    m->cfg = c->cfg;
    m->store = c->store;
    m->notify = &c->notify;
    m->peer = c->peer;
    m->via = NULL; /* ssh: no "via", as in the rest of the audit */
}

/* "drawbridge: <why>" as a banner, then the connection ends (like a directory that is down). */
static void session_mfa_give_up(struct conn *c, const char *why)
{
    char msg[480];

    snprintf(msg, sizeof(msg), "drawbridge: %s\r\n", why);
    session_banner(c, msg);
    c->dir_down = 1;
    c->mfa_audited = 1; /* the refusal that follows is audited */
}

int session_mfa_first(struct conn *c, const char *method)
{
    struct mfa_ctx m;
    char err[400] = "";
    int r;

    if (c->store == NULL) {
        return session_auth_done(c, method); /* refuses: nothing is audited without a store */
    }
    session_mfa_ctx(c, &m);
    r = mfa_login_check(&m, c->user, (long long)time(NULL), err, sizeof(err));
    if (r == DB_ERR_NOTFOUND) {
        return session_auth_done(c, method);
    }
    if (r != 0) {
        log_msg(LOG_LVL_ERROR, "mfa.unusable", "user=%s %s", c->user, err);
        session_mfa_give_up(c, err[0] != '\0' ? err : "the second factor cannot be checked");
        session_auth_failed(c, method, "second factor cannot be checked");
        return SSH_AUTH_DENIED;
    }
    snprintf(c->mfa_first, sizeof(c->mfa_first), "%s", method);
    /* what the partial-success reply offers: the code and nothing else */
    ssh_set_auth_methods(c->down, SSH_AUTH_METHOD_INTERACTIVE);
    log_msg(LOG_LVL_INFO, "auth.partial", "user=%s method=%s; asking for a verification code",
            c->user, method);
    return SSH_AUTH_PARTIAL;
}

/* Sends the one prompt.  0 (handled) or 1 (refuse with the default reply). */
static int session_mfa_ask(struct conn *c, ssh_message m)
{
    const char *prompts[1] = {SESSION_MFA_PROMPT};
    char echo[1] = {0};
    const char *user = ssh_message_auth_user(m);

    /* the username of every request must stay the one of the first factor */
    if (user == NULL || strcmp(user, c->login) != 0) {
        session_auth_failed(c, "keyboard-interactive", "bad or changed username");
        return 1;
    }
    /* no name or instruction: clients print those on every try; the prompt says it all */
    if (ssh_message_auth_interactive_request(m, "", "", 1, prompts, echo) != SSH_OK) {
        return 1;
    }
    c->mfa_prompted = 1;
    return 0;
}

int session_mfa_kbdint(struct conn *c, ssh_message m)
{
    struct mfa_ctx mc;
    enum mfa_kind kind = 0;
    const char *answer = NULL;
    char err[400] = "", method[48];
    int r, n;

    if (c->authenticated || c->mfa_first[0] == '\0' || c->dir_down ||
        c->auth_failures >= c->cfg->limits.max_auth_tries) {
        /* keyboard-interactive is the second factor only; as a first one it is refused */
        ssh_message_auth_set_methods(m, c->mfa_first[0] != '\0'
                                            ? SSH_AUTH_METHOD_INTERACTIVE
                                            : SSH_AUTH_METHOD_PASSWORD | SSH_AUTH_METHOD_PUBLICKEY);
        return 1;
    }
    if (!ssh_message_auth_kbdint_is_response(m)) {
        return session_mfa_ask(c, m);
    }
    if (!c->mfa_prompted) {
        session_auth_failed(c, "keyboard-interactive", "an answer to no question");
        return 1;
    }
    c->mfa_prompted = 0;
    c->mfa_audited = 1; /* mfa_verify audits every answer it judges */
    n = ssh_userauth_kbdint_getnanswers(c->down);
    answer = n == 1 ? ssh_userauth_kbdint_getanswer(c->down, 0) : NULL;
    session_mfa_ctx(c, &mc);
    /* no answer, or several, is judged as an empty one: refused and counted */
    r = mfa_verify(&mc, c->user, answer != NULL ? answer : "", answer != NULL ? strlen(answer) : 0,
                   (long long)time(NULL), &kind, err, sizeof(err));
    if (r == 0) {
        snprintf(method, sizeof(method), "%s+%s", c->mfa_first,
                 kind == MFA_KIND_RECOVERY ? "recovery-code" : "totp");
        c->mfa_verified = 1;
        if (session_auth_done(c, method) == SSH_AUTH_SUCCESS) {
            ssh_message_auth_reply_success(m, 0);
            return 0;
        }
        c->mfa_verified = 0;
        return 1;
    }
    log_msg(LOG_LVL_WARN, "mfa.refused", "user=%s %s", c->user, err);
    if (r == DB_ERR_AUTH || r == DB_ERR_DENIED) {
        char msg[480];

        /* one line the engineer sees; the audit (mfa.failure) says more */
        snprintf(msg, sizeof(msg), "drawbridge: %s\r\n", err[0] != '\0' ? err : "code refused");
        session_banner(c, msg);
        session_auth_failed(c, "keyboard-interactive", NULL);
    } else {
        /* unreadable secret, key or store: refuse and end; never let the login through */
        session_mfa_give_up(c, err[0] != '\0' ? err : "the second factor cannot be checked");
        session_auth_failed(c, "keyboard-interactive",
                            r == DB_ERR_TAMPERED ? NULL : "second factor cannot be checked");
    }
    ssh_message_auth_set_methods(m, SSH_AUTH_METHOD_INTERACTIVE);
    return 1;
}

void session_mfa_timeout(struct conn *c)
{
    if (c->mfa_first[0] == '\0' || c->authenticated || c->store == NULL) {
        return;
    }
    access_audit_auth(c->store, (long long)time(NULL), c->user, NULL, c->peer,
                      "keyboard-interactive", 0, "no verification code within login_grace");
    c->mfa_audited = 1;
}

void session_mfa_end(struct conn *c)
{
    char why[96];

    if (c->mfa_first[0] == '\0' || c->authenticated || c->mfa_audited || c->store == NULL) {
        return;
    }
    snprintf(why, sizeof(why), "%s passed; no verification code before the connection closed",
             c->mfa_first);
    access_audit_auth(c->store, (long long)time(NULL), c->user, NULL, c->peer,
                      "keyboard-interactive", 0, why);
    c->mfa_audited = 1;
}

static struct policy_subject session_mfa_who(const struct conn *c)
{
    struct policy_subject who = {c->user, NULL, 0};

    if (c->duser != NULL) {
        who.groups = (const char *const *)c->duser->groups;
        who.ngroups = c->duser->ngroups;
    }
    return who;
}

int session_mfa_target(struct conn *c, const struct policy_target *t, char *err, size_t errlen)
{
    struct policy_subject who = session_mfa_who(c);
    struct mfa_ctx m;
    unsigned action =
        t != NULL && policy_target_is_protected(c->policy, t) ? POLICY_MFA_PROTECTED : MFA_GATE_ANY;

    session_mfa_ctx(c, &m);
    return mfa_gate(&m, c->policy, &who, action, t != NULL ? t->name : c->target, c->mfa_verified,
                    err, errlen);
}

int session_mfa_target_quiet(struct conn *c, const struct policy_target *t)
{
    struct policy_subject who = session_mfa_who(c);
    struct mfa_status st;
    struct mfa_ctx m;

    if (t != NULL && policy_target_is_protected(c->policy, t) &&
        policy_mfa_needs_code(c->policy, POLICY_MFA_PROTECTED) && !c->mfa_verified) {
        return 0;
    }
    if (!policy_mfa_required(c->policy, &who)) {
        return 1;
    }
    session_mfa_ctx(c, &m);
    return c->store != NULL && mfa_status_get(&m, c->user, (long long)time(NULL), &st) == 0 &&
           st.enrolled;
}

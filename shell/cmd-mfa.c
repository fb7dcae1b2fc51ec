/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `mfa`: the second factor (DESIGN.md, "Second factor (TOTP)").
 *
 *   mfa enroll                    a new secret: one line "otpauth://totp/...",
 *                                 and on a terminal the same as a QR code
 *   mfa confirm CODE              a code of it completes the enrolment and
 *                                 prints 10 recovery codes, once
 *   mfa status [--json]           enrolled or not, required or not, whether
 *                                 this login gave a code, recovery codes left
 *   mfa reset USER --reason TEXT  reviewers: remove USER's second factor (USER
 *                                 enrols again); a reviewer mfa.require names
 *                                 must have enrolled first
 *
 * From the next login after `mfa confirm`, the user is asked for a code
 * after the password or key.  Enrolment and reset are audited and call
 * notify_command (broker/mfa/), so that a person learns when someone else
 * enrolled in their name or removed their factor.
 *
 * This file also holds the gate shell_run_line passes every command
 * through (mfa_gate in broker/mfa/gate.c does the judging).
 */
#include "shell.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "mfa.h"

void shell_mfa_ctx(const struct shell_ctx *c, struct mfa_ctx *m)
{
    memset(m, 0, sizeof(*m));
    m->cfg = c->cfg;
    m->store = c->access != NULL ? c->access->store : NULL;
    m->notify = c->access != NULL ? c->access->notify : NULL;
    m->peer = c->peer;
    m->via = NULL; /* the audit adds "via" itself where it is not ssh (the web console) */
}

/* The commands whose name is an action of mfa.actions. */
static unsigned mfa_command_action(const char *command)
{
    static const char *const acts[] = {"approve",    "deny",      "revoke",
                                       "breakglass", "terminate", NULL};

    for (size_t i = 0; acts[i] != NULL; i++) {
        if (strcmp(command, acts[i]) == 0) {
            return policy_mfa_action_parse(acts[i]);
        }
    }
    return MFA_GATE_ANY;
}

int shell_mfa_gate(struct shell_ctx *c, const char *command)
{
    static const char *const open_to_all[] = {"help",   "whoami", "mfa", "exit",
                                              "logout", "quit",   NULL};
    const struct policy *p = shell_policy(c);
    struct policy_subject who = shell_subject(c);
    struct mfa_ctx m;
    char err[400] = "";

    for (size_t i = 0; open_to_all[i] != NULL; i++) {
        if (strcmp(command, open_to_all[i]) == 0) {
            return 0;
        }
    }
    if (p == NULL || c->user == NULL) {
        return 0; /* no policy: every command refuses on its own */
    }
    shell_mfa_ctx(c, &m);
    if (mfa_gate(&m, p, &who, mfa_command_action(command), command, c->mfa_verified, err,
                 sizeof(err)) != 0) {
        return shell_refuse(c, DB_ERR_DENIED, err);
    }
    return 0;
}

int shell_mfa_target(struct shell_ctx *c, const struct policy_target *t)
{
    const struct policy *p = shell_policy(c);
    struct policy_subject who = shell_subject(c);
    struct mfa_ctx m;
    char err[400] = "";

    if (p == NULL || t == NULL || !policy_target_is_protected(p, t)) {
        return 0;
    }
    shell_mfa_ctx(c, &m);
    if (mfa_gate(&m, p, &who, POLICY_MFA_PROTECTED, t->name, c->mfa_verified, err, sizeof(err)) !=
        0) {
        return shell_refuse(c, DB_ERR_DENIED, err);
    }
    return 0;
}

/* The store, or a refusal; the user name as the store wants it. */
static int mfa_begin(struct shell_ctx *c, struct mfa_ctx *m)
{
    if (shell_access(c) == NULL) {
        return SHELL_FAIL;
    }
    if (c->user == NULL || !names_valid(c->user, strlen(c->user))) {
        return shell_fail(c, "mfa needs a user name the gateway accepts");
    }
    shell_mfa_ctx(c, m);
    return 0;
}

static int mfa_enroll_cmd(struct shell_ctx *c, int argc, char **argv)
{
    struct mfa_ctx m;
    char uri[MFA_URI_MAX], err[400] = "";
    char *qr = NULL;
    int r;

    (void)argv;
    if (argc != 1) {
        return shell_usage(c, "mfa", "mfa enroll takes no arguments");
    }
    if ((r = mfa_begin(c, &m)) != 0) {
        return r;
    }
    if (mfa_enroll(&m, c->user, policy_mfa_issuer(shell_policy(c)), shell_now(c), uri, sizeof(uri),
                   err, sizeof(err)) != 0) {
        return shell_fail_text(c, err);
    }
    if (c->interactive && mfa_qr_render(uri, &qr) == 0) {
        shell_out(c, "Scan this QR code with your authenticator app:\n\n");
        shell_write(c, 0, qr, strlen(qr)); /* "\n" made "\r\n" for the terminal */
        shell_out(c, "\nor enter this URI (its secret) by hand:\n");
    }
    free(qr);
    shell_out(c, "%s\n", uri);
    shell_out(c,
              "Then confirm with a code it shows: mfa confirm CODE  (ssh gw mfa confirm CODE)\n");
    db_wipe(uri, sizeof(uri));
    return SHELL_OK;
}

static int mfa_confirm_cmd(struct shell_ctx *c, int argc, char **argv)
{
    char codes[MFA_RECOVERY_CODES][MFA_RECOVERY_LEN + 1], err[400] = "";
    struct mfa_ctx m;
    int r;

    if (argc != 2) {
        return shell_usage(c, "mfa",
                           argc < 2 ? "mfa confirm needs the CODE your app shows"
                                    : "mfa confirm takes one CODE");
    }
    if ((r = mfa_begin(c, &m)) != 0) {
        return r;
    }
    if (mfa_confirm(&m, c->user, argv[1], shell_now(c), codes, err, sizeof(err)) != 0) {
        return shell_fail_text(c, err);
    }
    shell_out(c,
              "second factor enrolled for %s; from your next login on a verification code is "
              "asked after your password or key.\n",
              c->user);
    shell_out(c, "Recovery codes (each works once in place of a code; they are shown only now):\n");
    for (int i = 0; i < MFA_RECOVERY_CODES; i++) {
        shell_out(c, "  %s\n", codes[i]);
    }
    db_wipe(codes, sizeof(codes));
    return SHELL_OK;
}

static json_t *mfa_actions_json(const struct policy *p)
{
    json_t *a = json_array();

    for (unsigned bit = POLICY_MFA_PROTECTED; a != NULL && bit <= POLICY_MFA_TERMINATE; bit <<= 1) {
        if (policy_mfa_needs_code(p, bit)) {
            json_array_append_new(a, json_string(policy_mfa_action_name(bit)));
        }
    }
    return a;
}

static int mfa_status_json(struct shell_ctx *c, const struct mfa_status *st, int required)
{
    json_t *o = json_object();
    int r = DB_ERR_NOMEM;

    if (o == NULL || json_object_set_new(o, "user", shell_json_string(c->user)) < 0 ||
        json_object_set_new(o, "enrolled", json_boolean(st->enrolled)) < 0 ||
        json_object_set_new(o, "pending", json_boolean(st->pending)) < 0 ||
        shell_json_set_time(o, "enrolled_at", st->enrolled_at) < 0 ||
        json_object_set_new(o, "required", json_boolean(required)) < 0 ||
        json_object_set_new(o, "verified", json_boolean(c->mfa_verified)) < 0 ||
        json_object_set_new(o, "recovery_codes_left", json_integer(st->recovery_left)) < 0 ||
        json_object_set_new(o, "failures", json_integer(st->failures)) < 0 ||
        shell_json_set_time(o, "locked_until", st->locked_until) < 0 ||
        json_object_set_new(o, "actions", mfa_actions_json(shell_policy(c))) < 0) {
        goto out;
    }
    r = shell_out_json(c, o);
out:
    json_decref(o);
    return r;
}

static int mfa_status_cmd(struct shell_ctx *c, int argc, char **argv)
{
    static const char *const spec[] = {"json", NULL};
    const struct policy *p = shell_policy(c);
    struct policy_subject who = shell_subject(c);
    struct mfa_status st;
    struct shell_opts o;
    struct mfa_ctx m;
    char when[SHELL_TIME_MAX], err[256];
    int r, required = policy_mfa_required(p, &who);

    if (shell_opts_parse(spec, argc, argv, &o, err, sizeof(err)) != 0 || o.npos > 0) {
        return shell_usage(c, "mfa", o.npos > 0 ? "mfa status takes no arguments" : err);
    }
    if ((r = mfa_begin(c, &m)) != 0) {
        return r;
    }
    if (mfa_status_get(&m, c->user, shell_now(c), &st) != 0) {
        return shell_fail(c, "the store is unavailable; try again later");
    }
    if (shell_opt(&o, "json") != NULL) {
        return mfa_status_json(c, &st, required) == 0 ? SHELL_OK : shell_fail(c, "out of memory");
    }
    shell_out(c, "user:            %s\n", c->user);
    if (st.enrolled) {
        shell_out(c, "second factor:   enrolled since %s\n",
                  shell_time(st.enrolled_at, when, sizeof(when)));
    } else if (st.pending) {
        shell_out(c, "second factor:   not yet: confirm with mfa confirm CODE\n");
    } else {
        shell_out(c, "second factor:   not enrolled (enrol: mfa enroll)\n");
    }
    shell_out(c, "required:        %s\n", required ? "yes (policy mfa.require)" : "no");
    shell_out(c, "this login:      %s\n", c->mfa_verified ? "gave a code" : "gave no code");
    if (st.enrolled) {
        shell_out(c, "recovery codes:  %d left\n", st.recovery_left);
    }
    if (st.locked_until != 0) {
        shell_out(c, "locked:          until %s (too many wrong codes)\n",
                  shell_time(st.locked_until, when, sizeof(when)));
    }
    shell_out(c, "needs a code:   ");
    for (unsigned bit = POLICY_MFA_PROTECTED, n = 0; bit <= POLICY_MFA_TERMINATE; bit <<= 1) {
        if (policy_mfa_needs_code(p, bit)) {
            shell_out(c, "%s%s", n++ ? ", " : " ", policy_mfa_action_name(bit));
        }
    }
    shell_out(c, "%s\n", p != NULL && p->mfa.actions != 0 ? "" : " nothing (policy mfa.actions)");
    return SHELL_OK;
}

static int mfa_reset_cmd(struct shell_ctx *c, int argc, char **argv)
{
    static const char *const spec[] = {"reason=", NULL};
    struct policy_subject who = shell_subject(c);
    const char *user = NULL, *reason = NULL;
    struct shell_opts o;
    struct mfa_ctx m;
    char err[512] = "";
    int r;

    if (shell_opts_parse(spec, argc, argv, &o, err, sizeof(err)) != 0) {
        return shell_usage(c, "mfa", err);
    }
    if (o.npos != 1) {
        return shell_usage(c, "mfa", o.npos == 0 ? "mfa reset needs a USER" : "too many arguments");
    }
    user = o.pos[0];
    if ((reason = shell_opt(&o, "reason")) == NULL) {
        return shell_usage(c, "mfa", "--reason TEXT is required");
    }
    if (!names_valid(user, strlen(user))) {
        return shell_usage(c, "mfa", "USER must match [a-z_][a-z0-9_.-]{0,63}");
    }
    if (access_check_text("reason", reason, 1, err, sizeof(err)) != 0) {
        return shell_fail_text(c, err);
    }
    if ((r = mfa_begin(c, &m)) != 0) {
        return r;
    }
    if (!policy_is_reviewer(shell_policy(c), &who)) {
        json_t *d = json_pack("{ss ss}", "action", "mfa reset", "reason", "not a reviewer");

        if (d != NULL) {
            access_audit_event(m.store, shell_now(c), c->user, "access.refused", user, d);
        }
        json_decref(d);
        return shell_fail(c, "mfa reset is for reviewers");
    }
    /*
     * `mfa` is open to a user mfa.require names so that they can enrol;
     * removing someone else's factor is a reviewer's action like the others,
     * and waits, like them, until the reviewer has enrolled.
     */
    if (mfa_gate(&m, shell_policy(c), &who, MFA_GATE_ANY, "mfa reset", c->mfa_verified, err,
                 sizeof(err)) != 0) {
        return shell_refuse(c, DB_ERR_DENIED, err);
    }
    if (mfa_reset(&m, c->user, user, reason, shell_now(c), err, sizeof(err)) != 0) {
        return shell_fail_text(c, err);
    }
    shell_out(c, "second factor of %s reset; %s must enrol again (mfa enroll)\n", user, user);
    return SHELL_OK;
}

static int cmd_mfa_exec(struct shell_ctx *c, int argc, char **argv)
{
    char shown[48];

    if (argc < 2) {
        return shell_usage(c, "mfa", "which one: enroll, confirm, status or reset?");
    }
    if (strcmp(argv[1], "enroll") == 0) {
        return mfa_enroll_cmd(c, argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "confirm") == 0) {
        return mfa_confirm_cmd(c, argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "status") == 0) {
        return mfa_status_cmd(c, argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "reset") == 0) {
        return mfa_reset_cmd(c, argc - 1, argv + 1);
    }
    shell_sanitize(shown, sizeof(shown), argv[1], strlen(argv[1]), 1);
    shell_err(c, "drawbridge: unknown mfa command '%s'\n", shown);
    return shell_usage(c, "mfa", NULL);
}

const struct shell_cmd_entry shell_cmd_mfa_entry = {
    .name = "mfa",
    .usage = "mfa enroll | mfa confirm CODE | mfa status [--json] | mfa reset USER --reason TEXT",
    .summary = "your second factor: enrol, confirm, status; reviewers reset someone's",
    .exec = cmd_mfa_exec,
    .example = "ssh gw mfa reset alice --reason lost her phone",
};

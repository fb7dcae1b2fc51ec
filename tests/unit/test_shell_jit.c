/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for the just-in-time shell commands (targets, request, requests,
 * show, cancel, approve, deny, revoke, grants, connect, breakglass) run as
 * lines through shell_run_line on a real store and policy (see
 * test_shell_jit.h): the flows people use -- request, approve, grants,
 * targets, connect; self-approval and outsiders refused; two-person rules;
 * deny; cancel; expiry on the clock; revoke; break-glass; scoping; standing
 * access and a policy reload -- with the exact text and the --json fields.
 * Bad input is in test_shell_jit_input.c.
 */
#include "test_shell_jit.h"

/* ---- scenarios ---- */

static void test_flow_request_approve_connect(void **state)
{
    struct fx *f = *state;
    struct run *r;
    json_t *v, *t;
    long long id;

    expect_ok(f, "alice", WEB_REQ, "request 1 pending: needs 1 approval(s) from group:sre-leads\n");
    id = 1;

    /* Before approval: no grant, connect refused with the hint ssh USER+TARGET@gw gives. */
    expect_ok(f, "alice", "grants", "no active grants\n");
    r = run_tty(f, "alice", "connect web-1");
    expect_refused_run(r, "connect web-1",
                       "no active grant; request one with: ssh gw request web-1 --for DURATION "
                       "--reason TEXT\r\n");
    assert_string_equal(r->ctx.connect_target, "");

    /* The approver sees it pending. */
    r = run(f, "bob", "requests --pending");
    assert_int_equal(r->status, 0);
    assert_non_null(strstr(r->out, "ID"));
    assert_non_null(strstr(r->out, "REASON"));
    assert_non_null(strstr(r->out, "1   pending"));
    assert_non_null(strstr(r->out, "0/1"));
    assert_non_null(strstr(r->out, "INC-4711 disk full"));
    r = run(f, "bob", "show 1");
    assert_int_equal(r->status, 0);
    assert_non_null(strstr(r->out, "request 1: pending (0 of 1 approval(s))\n"));
    assert_non_null(strstr(r->out, "web-oncall, needs 1 approval(s) from group:sre-leads"));
    assert_non_null(strstr(r->out, "expires:   2023-11-14 23:13 UTC"));
    assert_non_null(strstr(r->out, "decisions: none yet\n"));
    assert_non_null(strstr(r->out, "grant: none\n"));

    /* The grant runs from the approval, a minute later. */
    f->now = T0 + 60;
    expect_ok(f, "bob", "approve 1 --comment 'go ahead'",
              "request 1 approved: grant 1 active until 2023-11-14 23:14 UTC\n");
    expect_refused(f, "dave", "approve 1", "request 1 is not pending (approved)");

    r = run(f, "alice", "grants");
    assert_int_equal(r->status, 0);
    assert_non_null(strstr(r->out, "ID  USER   TARGET  LOGIN   RULE        UNTIL"));
    assert_non_null(
        strstr(r->out, "1   alice  web-1   deploy  web-oncall  2023-11-14 23:14 UTC  1h\n"));

    r = run(f, "alice", "targets");
    assert_int_equal(r->status, 0);
    assert_non_null(strstr(r->out, "web-1  protected: yes  labels: env=prod, tier=web  logins: "
                                   "deploy, root\n"));
    assert_non_null(strstr(r->out, "  grant 1 as deploy until 2023-11-14 23:14 UTC\n"));
    assert_non_null(strstr(r->out, "  requestable via rule web-oncall as deploy, needing 1 "
                                   "approval(s) from group:sre-leads, max 4h\n"));
    assert_non_null(strstr(r->out, "stage-1  protected: no"));
    assert_non_null(strstr(r->out, "  standing via rule staging-standing as deploy\n"));
    assert_null(strstr(r->out, "db-1"));

    r = run(f, "alice", "targets --json");
    v = out_json(r);
    assert_int_equal(json_array_size(v), 2);
    t = json_array_get(v, 0);
    assert_string_equal(jstr(t, "name"), "web-1");
    assert_true(json_is_true(json_object_get(t, "protected")));
    assert_string_equal(jstr(json_object_get(t, "labels"), "tier"), "web");
    assert_int_equal(json_array_size(json_object_get(t, "logins")), 2);
    t = json_object_get(t, "access");
    assert_string_equal(jstr(json_array_get(t, 0), "how"), "grant");
    assert_int_equal(jint(json_array_get(t, 0), "grant"), id);
    assert_int_equal(jint(json_array_get(t, 0), "ends_at"), T0 + 60 + 3600);
    assert_string_equal(jstr(json_array_get(t, 0), "ends_at_iso"), "2023-11-14T23:14:20Z");
    assert_true(json_is_true(json_object_get(json_array_get(t, 0), "usable")));
    assert_string_equal(jstr(json_array_get(t, 1), "how"), "requestable");
    assert_int_equal(jint(json_array_get(t, 1), "approvals"), 1);
    assert_int_equal(jint(json_array_get(t, 1), "max_duration"), 4 * 3600);
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(json_array_get(t, 1), "approvers"), 0)),
        "group:sre-leads");
    t = json_array_get(v, 1);
    assert_string_equal(jstr(t, "name"), "stage-1");
    assert_false(json_is_true(json_object_get(t, "protected")));
    assert_string_equal(jstr(json_array_get(json_object_get(t, "access"), 0), "how"), "standing");
    json_decref(v);

    /* Interactive: connect leaves the target for the session and says so. */
    r = run_tty(f, "alice", "connect web-1");
    assert_int_equal(r->status, 0);
    assert_string_equal(r->out, "connecting to web-1 as deploy...\r\n");
    assert_string_equal(r->ctx.connect_target, "web-1");
    assert_string_equal(r->ctx.connect_login, "deploy");
    /* The grant is for deploy only. */
    r = run_tty(f, "alice", "connect web-1 --login root");
    expect_refused_run(r, "connect --login root", "no rule lets you use login root on web-1");
    assert_string_equal(r->ctx.connect_target, "");
    /* Over exec there is no terminal to hand over. */
    expect_refused(f, "alice", "connect web-1",
                   "connect needs an interactive session: use ssh -t alice+web-1@gw");
    /* Someone else's grant is not yours. */
    expect_refused_run(run_tty(f, "dave", "connect web-1"), "dave connect", "no active grant");

    /* Once the grant has run out, connect is refused again. */
    f->now = T0 + 60 + 3600;
    r = run_tty(f, "alice", "connect web-1");
    expect_refused_run(r, "connect after expiry", "no active grant");
    assert_string_equal(r->ctx.connect_target, "");
    expect_ok(f, "alice", "grants", "no active grants\n");
    r = run(f, "alice", "show 1");
    assert_non_null(strstr(r->out, "grant 1: expired 2023-11-14 23:14 UTC"));
}

static void test_self_and_outsider_approval(void **state)
{
    struct fx *f = *state;

    request_id(f, "alice", WEB_REQ);
    /* alice is in sre-leads, the approver group, and still may not approve herself. */
    expect_refused(f, "alice", "approve 1", "you cannot approve your own request");
    expect_refused(f, "alice", "deny 1 --reason no", "you cannot deny your own request");
    /* Outsiders: an engineer, and an approver of another rule. */
    expect_refused(f, "eve", "approve 1", "eve is not an approver for rule web-oncall");
    expect_refused(f, "carol", "approve 1", "carol is not an approver for rule web-oncall");
    expect_refused(f, "dan", "deny 1 --reason no", "dan is not an approver for rule web-oncall");
    /* None of that changed anything. */
    expect_ok(f, "alice", "show 1 --json", NULL);
    {
        json_t *v = out_json(&R);

        assert_string_equal(jstr(json_object_get(v, "request"), "status"), "pending");
        assert_int_equal(json_array_size(json_object_get(v, "decisions")), 0);
        json_decref(v);
    }
    expect_ok(f, "bob", "approve 1", NULL);
}

static void test_two_approvals(void **state)
{
    struct fx *f = *state;
    json_t *v;

    expect_ok(f, "mallory", DB_REQ,
              "request 1 pending: needs 2 approval(s) from group:dba-leads, user:carol\n");
    expect_refused(f, "mallory", "approve 1", "you cannot approve your own request");
    expect_ok(f, "dan", "approve 1 --comment 'checked the plan'",
              "request 1 approved (1 of 2); still pending\n");
    /* The same person twice is still one approval. */
    expect_refused(f, "dan", "approve 1", "you have already decided on request 1");
    expect_refused(f, "mallory", "connect db-1", "connect needs an interactive session");
    expect_refused_run(run_tty(f, "mallory", "connect db-1"), "connect db-1", "no active grant");
    f->now = T0 + 300;
    expect_ok(f, "carol", "approve 1",
              "request 1 approved: grant 1 active until 2023-11-15 00:18 UTC\n");

    expect_ok(f, "sam", "show 1 --json", NULL);
    v = out_json(&R);
    assert_string_equal(jstr(json_object_get(v, "request"), "status"), "approved");
    assert_int_equal(jint(json_object_get(v, "request"), "approvals"), 2);
    assert_int_equal(jint(json_object_get(v, "request"), "approvals_needed"), 2);
    assert_string_equal(jstr(json_object_get(v, "request"), "ticket"), "CHG-7");
    assert_string_equal(jstr(json_object_get(v, "request"), "decided_by"), "carol");
    assert_int_equal(json_array_size(json_object_get(v, "decisions")), 2);
    assert_string_equal(jstr(json_array_get(json_object_get(v, "decisions"), 0), "approver"),
                        "dan");
    assert_string_equal(jstr(json_array_get(json_object_get(v, "decisions"), 0), "comment"),
                        "checked the plan");
    assert_true(json_is_null(
        json_object_get(json_array_get(json_object_get(v, "decisions"), 1), "comment")));
    assert_int_equal(jint(json_array_get(json_object_get(v, "decisions"), 1), "at"), T0 + 300);
    assert_string_equal(jstr(json_object_get(v, "grant"), "status"), "active");
    assert_int_equal(jint(json_object_get(v, "grant"), "starts_at"), T0 + 300);
    assert_int_equal(jint(json_object_get(v, "grant"), "ends_at"), T0 + 300 + 7200);
    json_decref(v);

    expect_ok(f, "sam", "show 1", NULL);
    assert_non_null(strstr(R.out, "request 1: approved\n"));
    assert_non_null(strstr(R.out, "  ticket:    CHG-7\n"));
    assert_non_null(strstr(R.out, "  2023-11-14 22:13 UTC  dan approved: checked the plan\n"));
    assert_non_null(strstr(R.out, "  2023-11-14 22:18 UTC  carol approved\n"));
    assert_non_null(strstr(R.out, "grant 1: active from 2023-11-14 22:18 UTC until 2023-11-15 "
                                  "00:18 UTC\n"));

    assert_int_equal(run_tty(f, "mallory", "connect db-1")->status, 0);
    assert_string_equal(R.ctx.connect_target, "db-1");
    assert_string_equal(R.ctx.connect_login, "postgres");
}

static void test_deny_and_cancel(void **state)
{
    struct fx *f = *state;

    request_id(f, "alice", WEB_REQ);
    expect_usage(f, "bob", "deny 1", "--reason TEXT is required");
    expect_ok(f, "bob", "deny 1 --reason 'not during the freeze'", "request 1 denied\n");
    expect_refused(f, "dave", "approve 1", "request 1 is not pending (denied)");
    expect_refused(f, "alice", "cancel 1", "request 1 is not pending (denied)");
    expect_ok(f, "alice", "show 1", NULL);
    assert_non_null(strstr(R.out, "request 1: denied\n"));
    assert_non_null(strstr(R.out, "bob denied: not during the freeze\n"));
    assert_non_null(strstr(R.out, "  decided:   2023-11-14 22:13 UTC by bob\n"));

    request_id(f, "alice", WEB_REQ);
    /* Only the requester cancels; anyone else is told there is no such request of theirs. */
    expect_refused(f, "bob", "cancel 2", "you have no request 2");
    expect_refused(f, "sam", "cancel 2", "you have no request 2");
    expect_ok(f, "alice", "cancel 2", "request 2 cancelled\n");
    expect_refused(f, "alice", "cancel 2", "request 2 is not pending (cancelled)");
    expect_refused(f, "bob", "approve 2", "request 2 is not pending (cancelled)");
    expect_refused(f, "alice", "cancel 99", "you have no request 99");
    /* Neither shows in the default list; --all has both. */
    expect_ok(f, "alice", "requests", "no requests\n");
    expect_ok(f, "alice", "requests --all --json", NULL);
    {
        json_t *v = out_json(&R);

        assert_int_equal(json_array_size(v), 2);
        assert_string_equal(jstr(json_array_get(v, 0), "status"), "cancelled");
        assert_string_equal(jstr(json_array_get(v, 1), "status"), "denied");
        json_decref(v);
    }
}

static void test_request_expiry(void **state)
{
    struct fx *f = *state;

    request_id(f, "alice", WEB_REQ);
    f->now = T0 + 3599;
    expect_ok(f, "bob", "requests --pending", NULL);
    assert_non_null(strstr(R.out, "1   pending"));
    f->now = T0 + 3600;
    expect_ok(f, "bob", "requests --pending", "no pending requests\n");
    expect_ok(f, "alice", "show 1", NULL);
    assert_non_null(strstr(R.out, "request 1: expired\n"));
    assert_non_null(strstr(R.out, "  expired:   2023-11-14 23:13 UTC\n"));
    expect_refused(f, "bob", "approve 1", "request 1 has expired (not decided in time)");
    expect_refused(f, "alice", "cancel 1", "request 1 is not pending (expired)");
    expect_ok(f, "alice", "requests --all --json", NULL);
    {
        json_t *v = out_json(&R);

        assert_string_equal(jstr(json_array_get(v, 0), "status"), "expired");
        assert_string_equal(jstr(json_array_get(v, 0), "expires_at_iso"), "2023-11-14T23:13:20Z");
        json_decref(v);
    }
}

static void test_revoke(void **state)
{
    struct fx *f = *state;

    request_id(f, "alice", WEB_REQ);
    expect_refused(f, "bob", "revoke 1 --reason x", "grant 1");
    expect_ok(f, "bob", "approve 1", NULL);
    expect_usage(f, "bob", "revoke 1", "--reason TEXT is required");
    expect_refused(f, "eve", "revoke 1 --reason mine", "eve may not revoke grant 1");
    expect_refused(f, "dan", "revoke 1 --reason mine", "dan may not revoke grant 1");
    f->now = T0 + 120;
    expect_ok(f, "sam", "revoke 1 --reason 'incident closed'", "grant 1 revoked\n");
    expect_refused(f, "bob", "revoke 1 --reason again", "grant 1 is not active (revoked)");
    expect_ok(f, "alice", "grants", "no active grants\n");
    expect_refused_run(run_tty(f, "alice", "connect web-1"), "connect after revoke",
                       "no active grant");
    expect_ok(f, "alice", "show 1", NULL);
    assert_non_null(strstr(R.out, "grant 1: revoked 2023-11-14 22:15 UTC by sam: incident closed"));
    expect_ok(f, "alice", "show 1 --json", NULL);
    {
        json_t *v = out_json(&R);
        json_t *g = json_object_get(v, "grant");

        assert_string_equal(jstr(g, "status"), "revoked");
        assert_string_equal(jstr(g, "revoked_by"), "sam");
        assert_string_equal(jstr(g, "revoke_reason"), "incident closed");
        assert_int_equal(jint(g, "revoked_at"), T0 + 120);
        json_decref(v);
    }
    /* The holder may give a grant up. */
    request_id(f, "alice", WEB_REQ);
    expect_ok(f, "dave", "approve 2", NULL);
    expect_ok(f, "alice", "revoke 2 --reason done", "grant 2 revoked\n");
}

static void test_breakglass(void **state)
{
    struct fx *f = *state;
    struct run *r;
    json_t *v;

    expect_refused(f, "eve", "breakglass db-1 --reason outage",
                   "you are not allowed to use break-glass");
    expect_refused(f, "olivia", "breakglass db-1 --reason outage --for 31m",
                   "break-glass duration must be from 1s to 30m");
    expect_refused(f, "olivia", "breakglass db-9 --reason outage", "no such target: db-9");
    expect_refused(f, "olivia", "breakglass db-1 --reason outage --login root",
                   "target db-1 has no login root");
    expect_usage(f, "olivia", "breakglass db-1", "--reason TEXT is required");
    expect_usage(f, "olivia", "breakglass db-1 --reason x --for 5", "invalid duration '5'");

    /* Over exec: the grant, no connect. */
    r = run(f, "olivia", "breakglass db-1 --reason 'primary down'");
    assert_int_equal(r->status, 0);
    assert_string_equal(r->out, "break-glass grant 1 active until 2023-11-14 22:43 UTC; this "
                                "session will be reviewed\n");
    assert_string_equal(r->ctx.connect_target, "");

    /* Interactive: the grant and straight on to the target. */
    f->now = T0 + 60;
    r = run_tty(f, "olivia", "breakglass web-1 --reason 'web down' --for 10m --login root");
    assert_int_equal(r->status, 0);
    assert_string_equal(r->out, "break-glass grant 2 active until 2023-11-14 22:24 UTC; this "
                                "session will be reviewed\r\nconnecting to web-1 as root...\r\n");
    assert_string_equal(r->ctx.connect_target, "web-1");
    assert_string_equal(r->ctx.connect_login, "root");

    /* connect honours the break-glass grant, for its login. */
    r = run_tty(f, "olivia", "connect db-1");
    assert_int_equal(r->status, 0);
    assert_string_equal(r->ctx.connect_login, "postgres");
    r = run_tty(f, "olivia", "connect web-1");
    assert_int_equal(r->status, 0);
    assert_string_equal(r->ctx.connect_login, "root");
    expect_refused_run(run_tty(f, "olivia", "connect stage-1"), "connect stage-1",
                       "no rule gives you access to stage-1");

    expect_ok(f, "olivia", "grants --json", NULL);
    v = out_json(&R);
    assert_int_equal(json_array_size(v), 2);
    assert_true(json_is_true(json_object_get(json_array_get(v, 0), "breakglass")));
    assert_true(json_is_true(json_object_get(json_array_get(v, 0), "review_required")));
    assert_true(json_is_null(json_object_get(json_array_get(v, 0), "rule")));
    json_decref(v);
    expect_ok(f, "olivia", "grants", NULL);
    assert_non_null(strstr(R.out, "break-glass"));

    /* Nobody decides a break-glass request after the fact; reviewers see it. */
    expect_refused(f, "bob", "approve 2", "it is a break-glass grant");
    expect_ok(f, "sam", "show 1", NULL);
    assert_non_null(strstr(R.out, "rule:      break-glass (the session will be reviewed)"));
    assert_non_null(strstr(R.out, "its sessions need review"));
    expect_ok(f, "olivia", "targets", NULL);
    assert_non_null(
        strstr(R.out, "  break-glass grant 1 as postgres until 2023-11-14 22:43 UTC\n"));
    assert_non_null(strstr(R.out, "  break-glass up to 30m\n"));
    assert_non_null(strstr(R.out, "stage-1  protected: no"));
}

static void test_scoping(void **state)
{
    struct fx *f = *state;
    json_t *v;

    request_id(f, "alice", WEB_REQ);
    request_id(f, "mallory", DB_REQ);
    /* eve sees neither, and a number she may not see reads like one that does not exist. */
    expect_ok(f, "eve", "requests --all", "no requests\n");
    expect_refused(f, "eve", "show 1", "no request 1 that you can see");
    expect_refused(f, "eve", "show 999", "no request 999 that you can see");
    /* Approvers see what they may decide; reviewers everything. */
    expect_ok(f, "bob", "requests --json", NULL);
    v = out_json(&R);
    assert_int_equal(json_array_size(v), 1);
    assert_string_equal(jstr(json_array_get(v, 0), "target"), "web-1");
    assert_string_equal(jstr(json_array_get(v, 0), "requester"), "alice");
    assert_string_equal(jstr(json_array_get(v, 0), "created_at_iso"), "2023-11-14T22:13:20Z");
    assert_true(json_is_null(json_object_get(json_array_get(v, 0), "decided_at")));
    json_decref(v);
    expect_ok(f, "sam", "requests --json", NULL);
    v = out_json(&R);
    assert_int_equal(json_array_size(v), 2);
    json_decref(v);
    /* --mine: alice approves web too, but her own list is her own. */
    expect_ok(f, "dave", "requests --mine", "no requests\n");
    expect_ok(f, "alice", "requests --mine --json", NULL);
    v = out_json(&R);
    assert_int_equal(json_array_size(v), 1);
    json_decref(v);
    expect_ok(f, "bob", "approve 1", NULL);
    expect_ok(f, "eve", "grants", "no active grants\n");
    expect_ok(f, "sam", "grants", NULL);
    assert_non_null(strstr(R.out, "alice"));
    expect_ok(f, "bob", "grants --mine", "no active grants\n");
}

static void test_standing_and_policy_change(void **state)
{
    struct fx *f = *state;
    struct policy *p2 = NULL;
    char err[1024];
    char *changed = NULL;
    const char *from = "approvers: [\"group:sre-leads\"]";
    const char *at = strstr(policy_yaml, from);
    struct run *r;
    size_t off;

    /* Standing access on an unprotected target: connect at once, nothing to request. */
    r = run_tty(f, "eve", "connect stage-1");
    assert_int_equal(r->status, 0);
    assert_string_equal(r->out, "connecting to stage-1 as deploy...\r\n");
    expect_refused(f, "eve", "request stage-1 --for 1h --reason x", "standing access");

    /* A reload that drops alice from web-oncall's requesters ends her live grant's use. */
    request_id(f, "alice", WEB_REQ);
    expect_ok(f, "bob", "approve 1", NULL);
    assert_int_equal(run_tty(f, "alice", "connect web-1")->status, 0);
    assert_non_null(at);
    changed = malloc(sizeof(policy_yaml) + 64);
    assert_non_null(changed);
    off = (size_t)(at - policy_yaml);
    memcpy(changed, policy_yaml, off);
    snprintf(changed + off, sizeof(policy_yaml) + 64 - off, "approvers: [\"group:web-leads\"]%s",
             at + strlen(from));
    /* ... the requesters line too: web-oncall now belongs to group:web. */
    at = strstr(changed, "requesters: [\"group:sre\"]");
    assert_non_null(at);
    memcpy((char *)at, "requesters: [\"group:web\"]", strlen("requesters: [\"group:web\"]"));
    if (policy_load_buffer("changed.yaml", changed, strlen(changed), &p2, err, sizeof(err)) != 0) {
        fail_msg("policy: %s", err);
    }
    f->a.policy = p2;
    expect_refused_run(run_tty(f, "alice", "connect web-1"), "connect after reload",
                       "no rule gives you access to web-1");
    expect_ok(f, "alice", "targets --json", NULL);
    {
        json_t *v = out_json(&R);
        json_t *t = json_array_get(v, 0);

        assert_string_equal(jstr(t, "name"), "web-1");
        assert_false(json_is_true(
            json_object_get(json_array_get(json_object_get(t, "access"), 0), "usable")));
        json_decref(v);
    }
    expect_ok(f, "alice", "targets", NULL);
    assert_non_null(strstr(R.out, "(not usable: the policy no longer backs it)"));
    /* whoami follows the policy in force too. */
    run_ctx(f, "bob", 0);
    R.ctx.policy = NULL;
    assert_int_equal(shell_run_line(&R.ctx, "whoami", 6), 0);
    assert_string_equal(R.out, "user:   bob\ngroups: sre-leads\nroles:  (none)\n"
                               "mfa:    not enrolled; this login gave no code\n");
    f->a.policy = f->p;
    run_ctx(f, "bob", 0);
    R.ctx.policy = NULL;
    assert_int_equal(shell_run_line(&R.ctx, "whoami", 6), 0);
    assert_string_equal(R.out, "user:   bob\ngroups: sre-leads\nroles:  approver\n"
                               "mfa:    not enrolled; this login gave no code\n");
    policy_free(p2);
    free(changed);
}

static void test_json_request_fields(void **state)
{
    struct fx *f = *state;
    json_t *v;

    expect_ok(f, "mallory",
              "request db-1 --for 90m --reason 'caf\xc3\xa9 migration' --ticket CHG-9 --json",
              NULL);
    v = out_json(&R);
    assert_int_equal(jint(v, "id"), 1);
    assert_string_equal(jstr(v, "status"), "pending");
    assert_string_equal(jstr(v, "requester"), "mallory");
    assert_string_equal(jstr(v, "target"), "db-1");
    assert_string_equal(jstr(v, "login"), "postgres");
    assert_string_equal(jstr(v, "rule"), "db-change");
    assert_false(json_is_true(json_object_get(v, "breakglass")));
    assert_int_equal(jint(v, "duration"), 5400);
    assert_string_equal(jstr(v, "reason"), "caf\xc3\xa9 migration");
    assert_string_equal(jstr(v, "ticket"), "CHG-9");
    assert_int_equal(jint(v, "approvals"), 0);
    assert_int_equal(jint(v, "approvals_needed"), 2);
    assert_int_equal(json_array_size(json_object_get(v, "approvers")), 2);
    assert_string_equal(json_string_value(json_array_get(json_object_get(v, "approvers"), 1)),
                        "user:carol");
    assert_int_equal(jint(v, "created_at"), T0);
    assert_string_equal(jstr(v, "created_at_iso"), "2023-11-14T22:13:20Z");
    assert_int_equal(jint(v, "expires_at"), T0 + 3600);
    assert_true(json_is_null(json_object_get(v, "decided_at")));
    assert_true(json_is_null(json_object_get(v, "decided_at_iso")));
    assert_true(json_is_null(json_object_get(v, "decided_by")));
    json_decref(v);

    /* Empty lists are empty arrays, not text. */
    expect_ok(f, "eve", "requests --json", "[]\n");
    expect_ok(f, "eve", "grants --json", "[]\n");
    expect_ok(f, "dan", "targets --json", "[]\n");
    expect_ok(f, "dan", "targets", "no targets you may reach or request\n");

    /* The text listing shows the request in one aligned row. */
    expect_ok(f, "carol", "requests", NULL);
    assert_non_null(strstr(R.out, "ID  STATUS   REQUESTER  TARGET  LOGIN     FOR    RULE       "
                                  "APPROVALS  CREATED               REASON\n"));
    assert_non_null(strstr(R.out, "1   pending  mallory    db-1    postgres  1h30m  db-change  "
                                  "0/2        2023-11-14 22:13 UTC  caf\xc3\xa9 migration\n"));
}

static void test_help_lists_commands(void **state)
{
    static const char *const names[] = {"targets", "request", "requests",  "show",
                                        "cancel",  "approve", "deny",      "revoke",
                                        "grants",  "connect", "breakglass"};
    struct fx *f = *state;

    expect_ok(f, "eve", "help", NULL);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const struct shell_cmd_entry *e = shell_cmd_find(names[i]);
        char want[128];

        assert_non_null(e);
        snprintf(want, sizeof(want), "  %s", e->usage);
        assert_non_null(strstr(R.out, want));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_flow_request_approve_connect, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_self_and_outsider_approval, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_two_approvals, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_deny_and_cancel, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_request_expiry, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_revoke, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_breakglass, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_scoping, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_standing_and_policy_change, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_json_request_fields, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_help_lists_commands, fx_setup, fx_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

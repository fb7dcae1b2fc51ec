/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for the just-in-time shell commands (targets, request, requests,
 * show, cancel, approve, deny, revoke, grants, connect, breakglass) run as
 * lines through shell_run_line, on a real store in a temp dir, a policy
 * parsed from YAML, a fake clock, and stdout/stderr captured apart.
 *
 * Scenarios walk the flows people use (request -> approve -> grants ->
 * targets -> connect, two-person rules, deny, cancel, expiry, revoke,
 * break-glass); tables cover every command's usage errors (exit 2) and
 * refusals (exit 1: exactly one line on stderr, nothing on stdout), bad
 * input (durations, ids, huge, non-UTF-8 and control-character text, shell
 * metacharacters) and the --json outputs, which must parse and carry the
 * documented fields.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "broker.h"
#include "common.h"
#include "policy.h"
#include "shell.h"

/* 2023-11-14 22:13:20 UTC */
#define T0 1700000000LL

static const char policy_yaml[] =
    "protected: {env: [prod]}\n"
    "request_ttl: 1h\n"
    "targets:\n"
    "  - name: web-1\n"
    "    address: 10.0.1.5:22\n"
    "    host_key: \"ssh-ed25519 "
    "AAAAC3NzaC1lZDI1NTE5AAAAIK2gdacZattUshfoN5KEENRTezsBX49Jt7jvKqAug/lF\"\n"
    "    logins: [deploy, root]\n"
    "    labels: {env: prod, tier: web}\n"
    "  - name: db-1\n"
    "    address: 10.0.2.5:22\n"
    "    host_key: \"ssh-ed25519 "
    "AAAAC3NzaC1lZDI1NTE5AAAAIHpiPRyeU4DKVU2+t8u1RDE/f3OBmyWOr6fM9YP1nNEK\"\n"
    "    logins: [postgres]\n"
    "    labels: {env: prod, tier: db}\n"
    "  - name: stage-1\n"
    "    address: 10.0.3.5:22\n"
    "    host_key: \"ssh-ed25519 "
    "AAAAC3NzaC1lZDI1NTE5AAAAILPtVhCpOOQv7KeM5h0JqM6M7R2Kd30TV3Q2JqTa1g60\"\n"
    "    logins: [deploy]\n"
    "    labels: {env: staging}\n"
    "rules:\n"
    "  - name: web-oncall\n"
    "    requesters: [\"group:sre\"]\n"
    "    targets: {labels: {tier: web}}\n"
    "    logins: [deploy]\n"
    "    max_duration: 4h\n"
    "    approvers: [\"group:sre-leads\"]\n"
    "    approvals: 1\n"
    "  - name: db-change\n"
    "    requesters: [\"group:dba\"]\n"
    "    targets: {names: [db-1]}\n"
    "    max_duration: 2h\n"
    "    approvers: [\"group:dba-leads\", \"user:carol\"]\n"
    "    approvals: 2\n"
    "  - name: staging-standing\n"
    "    requesters: [\"group:engineers\"]\n"
    "    targets: {labels: {env: staging}}\n"
    "    standing: true\n"
    "reviewers: [\"group:security\"]\n"
    "break_glass:\n"
    "  requesters: [\"group:oncall\"]\n"
    "  max_duration: 30m\n";

/*
 * The cast.  alice requests web and is in its approver group too; bob and
 * dave approve web; mallory requests db and is in its approver group; dan
 * and carol (by name) approve db; eve is an ordinary engineer; sam reviews;
 * olivia may break glass.
 */
struct person {
    const char *user;
    const char *groups[4];
};

static const struct person people[] = {
    {"alice", {"sre", "sre-leads", "engineers", NULL}},
    {"bob", {"sre-leads", NULL}},
    {"dave", {"sre-leads", "sre", NULL}},
    {"carol", {"engineers", NULL}},
    {"dan", {"dba-leads", NULL}},
    {"mallory", {"dba", "dba-leads", NULL}},
    {"eve", {"engineers", NULL}},
    {"sam", {"security", NULL}},
    {"olivia", {"oncall", NULL}},
};

struct fx {
    char dir[64];
    struct store *s;
    struct policy *p;
    struct access a;
    long long now;
};

static long long fx_clock(void *ctx)
{
    return ((struct fx *)ctx)->now;
}

static int fx_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    unsigned char key[32];
    char path[128], err[1024] = "";
    int fd;

    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/db-shell-jit-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    /* store_open wants the anchor key; any 32 bytes do for a test. */
    snprintf(path, sizeof(path), "%s/keys", f->dir);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/keys/recording.hmac", f->dir);
    for (size_t i = 0; i < sizeof(key); i++) {
        key[i] = (unsigned char)(i * 7 + 1);
    }
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, key, sizeof(key)), (ssize_t)sizeof(key));
    close(fd);
    if (store_open(f->dir, &f->s, err, sizeof(err)) != 0) {
        fail_msg("store: %s", err);
    }
    if (policy_load_buffer("test.yaml", policy_yaml, sizeof(policy_yaml) - 1, &f->p, err,
                           sizeof(err)) != 0) {
        fail_msg("policy: %s", err);
    }
    f->a.store = f->s;
    f->a.policy = f->p;
    f->now = T0;
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    char err[512] = "";

    /* Whatever a test did through the shell, the audit chain still verifies. */
    if (store_audit_verify(f->s, NULL, err, sizeof(err)) != 0) {
        fail_msg("audit chain: %s", err);
    }
    store_close(f->s);
    policy_free(f->p);
    nftw(f->dir, fx_rm, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* ---- running a line as someone, stdout and stderr apart ---- */

struct run {
    char out[65536], err[16384];
    size_t nout, nerr;
    int status;
    struct shell_ctx ctx;
};

static struct run R;

static int run_write(void *io, int is_err, const char *buf, size_t len)
{
    struct run *r = io;
    char *dst = is_err ? r->err : r->out;
    size_t *n = is_err ? &r->nerr : &r->nout;
    size_t cap = is_err ? sizeof(r->err) : sizeof(r->out);

    assert_true(*n + len < cap);
    memcpy(dst + *n, buf, len);
    *n += len;
    dst[*n] = '\0';
    return 0;
}

static const struct person *person(const char *user)
{
    for (size_t i = 0; i < sizeof(people) / sizeof(people[0]); i++) {
        if (strcmp(people[i].user, user) == 0) {
            return &people[i];
        }
    }
    fail_msg("no such person %s", user);
    return NULL;
}

/* Sets up R's context for user (without running anything). */
static void run_ctx(struct fx *f, const char *user, int interactive)
{
    const struct person *p = person(user);

    memset(&R, 0, sizeof(R));
    R.ctx.policy = f->p;
    R.ctx.access = &f->a;
    R.ctx.user = p->user;
    R.ctx.groups = p->groups;
    while (p->groups[R.ctx.ngroups] != NULL) {
        R.ctx.ngroups++;
    }
    R.ctx.interactive = interactive;
    R.ctx.write = run_write;
    R.ctx.io = &R;
    R.ctx.clock = fx_clock;
    R.ctx.clock_ctx = f;
}

static void run_check_common(void)
{
    /* Nothing a command prints carries ESC to the terminal raw. */
    assert_null(memchr(R.out, 0x1b, R.nout));
    assert_null(memchr(R.err, 0x1b, R.nerr));
    if (R.status != 0) {
        /* A refusal is reported, and never on stdout. */
        assert_int_equal(R.nout, 0);
        assert_true(R.nerr > 0);
    }
}

static struct run *run_line(struct fx *f, const char *user, int interactive, const char *line,
                            size_t len)
{
    run_ctx(f, user, interactive);
    R.status = shell_run_line(&R.ctx, line, len);
    run_check_common();
    return &R;
}

static struct run *run(struct fx *f, const char *user, const char *line)
{
    return run_line(f, user, 0, line, strlen(line));
}

static struct run *run_tty(struct fx *f, const char *user, const char *line)
{
    return run_line(f, user, 1, line, strlen(line));
}

/* Runs a command on words given as is (bytes the line parser would refuse included). */
static struct run *run_argv(struct fx *f, const char *user, int argc, char **argv)
{
    const struct shell_cmd_entry *e = shell_cmd_find(argv[0]);

    assert_non_null(e);
    run_ctx(f, user, 0);
    R.status = e->exec(&R.ctx, argc, argv);
    run_check_common();
    return &R;
}

#define run_fail(...) fail_msg(__VA_ARGS__)

static void dump_on_mismatch(const struct run *r, const char *what)
{
    print_error("%s\n--- stdout ---\n%s--- stderr ---\n%s--------------\n", what, r->out, r->err);
}

/* Exit 0, stdout exactly want (when not NULL), stderr empty. */
static void expect_ok(struct fx *f, const char *user, const char *line, const char *want)
{
    struct run *r = run(f, user, line);

    if (r->status != 0 || r->nerr != 0 || (want != NULL && strcmp(r->out, want) != 0)) {
        dump_on_mismatch(r, line);
        if (want != NULL) {
            print_error("wanted stdout:\n%s", want);
        }
        run_fail("\"%s\" as %s: status %d", line, user, r->status);
    }
}

/* Exit 1, nothing on stdout, exactly one line "drawbridge: ...needle...\n" on stderr. */
static void expect_refused_run(struct run *r, const char *what, const char *needle)
{
    const char *nl = strchr(r->err, '\n');

    if (r->status != 1 || r->nout != 0 || strncmp(r->err, "drawbridge: ", 12) != 0 || nl == NULL ||
        nl[1] != '\0' || strstr(r->err, needle) == NULL) {
        dump_on_mismatch(r, what);
        run_fail("\"%s\": wanted a one-line refusal with \"%s\" (status %d)", what, needle,
                 r->status);
    }
}

static void expect_refused(struct fx *f, const char *user, const char *line, const char *needle)
{
    expect_refused_run(run(f, user, line), line, needle);
}

/* Exit 2, nothing on stdout, the reason and "usage: <that command's usage>" on stderr. */
static void expect_usage(struct fx *f, const char *user, const char *line, const char *needle)
{
    struct run *r = run(f, user, line);

    if (r->status != 2 || r->nout != 0 || strstr(r->err, needle) == NULL) {
        dump_on_mismatch(r, line);
        run_fail("\"%s\": wanted usage error with \"%s\" (status %d)", line, needle, r->status);
    }
}

/* The number in "request N pending: ..." (or "break-glass grant N active ..."). */
static long long request_id(struct fx *f, const char *user, const char *line)
{
    long long id = 0;
    struct run *r = run(f, user, line);

    if (r->status != 0 || (sscanf(r->out, "request %lld pending", &id) != 1 &&
                           sscanf(r->out, "break-glass grant %lld active", &id) != 1)) {
        dump_on_mismatch(r, line);
        run_fail("no id from \"%s\"", line);
    }
    return id;
}

static json_t *out_json(const struct run *r)
{
    json_error_t jerr;
    json_t *v = json_loads(r->out, 0, &jerr);

    if (v == NULL) {
        dump_on_mismatch(r, "json");
        run_fail("stdout is not JSON: %s", jerr.text);
    }
    /* One JSON document, one line. */
    assert_non_null(strchr(r->out, '\n'));
    assert_int_equal(strchr(r->out, '\n')[1], '\0');
    return v;
}

static const char *jstr(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);

    if (!json_is_string(v)) {
        run_fail("\"%s\" is not a string", key);
    }
    return json_string_value(v);
}

static long long jint(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);

    if (!json_is_integer(v)) {
        run_fail("\"%s\" is not an integer", key);
    }
    return (long long)json_integer_value(v);
}

#define WEB_REQ "request web-1 --for 1h --reason 'INC-4711 disk full'"
#define DB_REQ "request db-1 --for 2h --reason 'schema migration' --ticket CHG-7"

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

/* ---- bad input ---- */

struct usage_case {
    const char *user;
    const char *line;
    const char *needle; /* in the reason; the usage line is checked too */
};

static const struct usage_case usage_cases[] = {
    {"alice", "request", "a target is required"},
    {"alice", "request web-1", "--for DURATION is required"},
    {"alice", "request web-1 --for 1h", "--reason TEXT is required"},
    {"alice", "request web-1 --reason x", "--for DURATION is required"},
    {"alice", "request web-1 stage-1 --for 1h --reason x", "too many arguments"},
    {"alice", "request web-1 --for 1 --reason x", "invalid duration '1'"},
    {"alice", "request web-1 --for 1x --reason x", "invalid duration '1x'"},
    {"alice", "request web-1 --for -5m --reason x", "invalid duration '-5m'"},
    {"alice", "request web-1 --for 99999999999h --reason x", "invalid duration '99999999999h'"},
    {"alice", "request web-1 --for '' --reason x", "invalid duration ''"},
    {"alice", "request web-1 --for= --reason x", "invalid duration ''"},
    {"alice", "request web-1 --for 0m --reason x", "invalid duration '0m'"},
    {"alice", "request web-1 --for '1 h' --reason x", "invalid duration '1 h'"},
    {"alice", "request web-1 --for 1h --reason x --for 2h", "given more than once"},
    {"alice", "request web-1 --for 1h --reason x --bogus", "unknown option '--bogus'"},
    {"alice", "request web-1 --for 1h --reason", "needs a value"},
    {"alice", "request web-1 -f 1h --reason x", "unknown option '-f'"},
    {"alice", "requests extra", "too many arguments"},
    {"alice", "requests --pending --all", "--pending and --all exclude each other"},
    {"alice", "requests --json=1", "takes no value"},
    {"alice", "show", "a request number is required"},
    {"alice", "show abc", "invalid number 'abc'"},
    {"alice", "show 0", "invalid number '0'"},
    {"alice", "show 000", "invalid number '000'"},
    {"alice", "show -- -1", "invalid number '-1'"},
    {"alice", "show +1", "invalid number '+1'"},
    {"alice", "show 0x10", "invalid number '0x10'"},
    {"alice", "show 12a", "invalid number '12a'"},
    {"alice", "show ' 12'", "invalid number ' 12'"},
    {"alice", "show 1e3", "invalid number '1e3'"},
    {"alice", "show 1234567890123456789", "invalid number '1234567890123456789'"},
    {"alice", "show 99999999999999999999999", "invalid number"},
    {"alice", "show 9999999999999999999", "invalid number '9999999999999999999'"},
    {"alice", "show 1 2", "too many arguments"},
    {"alice", "cancel", "a request number is required"},
    {"alice", "cancel x", "invalid number 'x'"},
    {"alice", "cancel 1 --json", "unknown option '--json'"},
    {"bob", "approve", "a request number is required"},
    {"bob", "approve 1 --comment", "needs a value"},
    {"bob", "approve one", "invalid number 'one'"},
    {"bob", "approve 1 2", "too many arguments"},
    {"bob", "deny 1", "--reason TEXT is required"},
    {"bob", "deny x --reason y", "invalid number 'x'"},
    {"bob", "deny --reason y", "a request number is required"},
    {"bob", "revoke", "a grant number is required"},
    {"bob", "revoke 1", "--reason TEXT is required"},
    {"bob", "revoke -3 --reason y", "unknown option '-3'"},
    {"alice", "grants x", "too many arguments"},
    {"alice", "grants --all", "unknown option '--all'"},
    {"alice", "targets web-1", "too many arguments"},
    {"alice", "connect", "a target is required"},
    {"alice", "connect web-1 db-1", "too many arguments"},
    {"alice", "connect web-1 --login", "needs a value"},
    {"olivia", "breakglass", "a target is required"},
    {"olivia", "breakglass db-1", "--reason TEXT is required"},
    {"olivia", "breakglass db-1 --reason x --for 5", "invalid duration '5'"},
    {"olivia", "breakglass db-1 --reason x --for 1y", "invalid duration '1y'"},
    {"alice", "whoami alice", "too many arguments"},
};

static void test_usage_errors(void **state)
{
    struct fx *f = *state;

    for (size_t i = 0; i < sizeof(usage_cases) / sizeof(usage_cases[0]); i++) {
        const struct usage_case *c = &usage_cases[i];
        const struct shell_cmd_entry *e = NULL;
        char name[32], want[256];

        print_message("usage: %s\n", c->line);
        expect_usage(f, c->user, c->line, c->needle);
        /* ... and the usage of that very command. */
        sscanf(c->line, "%31s", name);
        e = shell_cmd_find(name);
        assert_non_null(e);
        snprintf(want, sizeof(want), "usage: %s\n", e->usage);
        assert_non_null(strstr(R.err, want));
    }
    /* Nothing was created by any of them. */
    expect_ok(f, "sam", "requests --all", "no requests\n");
}

struct refusal_case {
    const char *user;
    int interactive;
    const char *line;
    const char *needle;
};

static const struct refusal_case refusal_cases[] = {
    {"alice", 0, "request web-9 --for 1h --reason x", "no such target: web-9"},
    {"alice", 0, "request WEB-1 --for 1h --reason x", "no such target: WEB-1"},
    {"alice", 0, "request 'web-1;id' --for 1h --reason x", "no such target: web-1;id"},
    {"alice", 0, "request web-1 --for 5h --reason x", "duration must be from 1s to 4h"},
    {"alice", 0, "request web-1 --for 1h --reason x --login root", "no rule lets you use login"},
    {"alice", 0, "request web-1 --for 1h --reason x --login nobody", "has no login nobody"},
    {"alice", 0, "request stage-1 --for 1h --reason x", "you have standing access to stage-1"},
    {"eve", 0, "request web-1 --for 1h --reason x", "no rule gives you access to web-1"},
    {"alice", 0, "request web-1 --for 1h --reason ''", "a reason is required"},
    {"alice", 0, "request web-1 --for 1h --reason '   '", "a reason is required"},
    {"alice", 0, "request web-1 --for 1h --reason 'tab\there'", "reason contains a control"},
    {"alice", 0, "request web-1 --for 1h --reason 'bad \xff\xfe bytes'", "not valid UTF-8"},
    {"alice", 0, "request web-1 --for 1h --reason 'overlong \xc0\xaf'", "not valid UTF-8"},
    {"alice", 0, "request web-1 --for 1h --reason 'c1 \xc2\x9b[2J'", "control character"},
    {"alice", 0, "request web-1 --for 1h --reason 'rlo \xe2\x80\xae txt'", "control character"},
    {"alice", 0, "request web-1 --for 1h --reason x --ticket 'A B'", "ticket must be printable"},
    {"bob", 0, "approve 1 --comment 'a\tb'", "comment contains a control character"},
    {"bob", 0, "deny 1 --reason '\xff'", "reason is not valid UTF-8"},
    {"bob", 0, "revoke 1 --reason '\xc2\x85'", "reason contains a control character"},
    {"olivia", 0, "breakglass db-1 --reason '\xe2\x81\xa6x'", "reason contains a control"},
    {"alice", 0, "show 999", "no request 999 that you can see"},
    /* 18 digits is a number (which names nothing); leading zeros are digits too. */
    {"alice", 0, "show 999999999999999999", "no request 999999999999999999 that you can see"},
    {"alice", 0, "show 0012", "no request 12 that you can see"},
    {"bob", 0, "approve 999", "no request 999"},
    {"bob", 0, "deny 999 --reason no", "no request 999"},
    {"bob", 0, "revoke 999 --reason no", "no grant 999"},
    {"alice", 0, "cancel 999", "you have no request 999"},
    {"alice", 0, "connect web-1",
     "connect needs an interactive session: use ssh -t alice+web-1@gw"},
    {"alice", 0, "connect 'x;y'",
     "connect needs an interactive session: use ssh -t USER+TARGET@gw"},
    {"alice", 1, "connect web-1", "no active grant; request one with: ssh gw request web-1"},
    {"alice", 1, "connect web-1 --login deploy", "request web-1 --login deploy --for DURATION"},
    {"alice", 1, "connect web-1 --login nobody", "target web-1 has no login nobody"},
    {"eve", 1, "connect db-1", "no rule gives you access to db-1"},
    {"eve", 1, "connect nosuch", "no such target: nosuch"},
    {"eve", 1, "connect '$(id)'", "no such target: $(id)"},
};

static void test_refusals(void **state)
{
    struct fx *f = *state;

    for (size_t i = 0; i < sizeof(refusal_cases) / sizeof(refusal_cases[0]); i++) {
        const struct refusal_case *c = &refusal_cases[i];
        struct run *r = NULL;

        print_message("refusal: %s\n", c->line);
        r = run_line(f, c->user, c->interactive, c->line, strlen(c->line));
        expect_refused_run(r, c->line, c->needle);
        assert_string_equal(r->ctx.connect_target, "");
    }
    expect_ok(f, "sam", "requests --all", "no requests\n");
}

static void test_huge_and_hostile_text(void **state)
{
    struct fx *f = *state;
    char line[SHELL_LINE_MAX + 64], path[128];
    char *argv[8];
    struct run *r;
    json_t *v;
    size_t n;

    /* A 5000-byte reason: refused with the limit, not cut silently. */
    n = (size_t)snprintf(line, sizeof(line), "request web-1 --for 1h --reason ");
    memset(line + n, 'x', 5000);
    line[n + 5000] = '\0';
    expect_refused(f, "alice", line, "the reason is too long (at most 1024 bytes)");
    /* Exactly 1024 bytes is fine. */
    line[n + 1024] = '\0';
    expect_ok(f, "alice", line, "request 1 pending: needs 1 approval(s) from group:sre-leads\n");
    expect_ok(f, "alice", "show 1", NULL);
    assert_true(R.nout > 1024);
    /* A line longer than the parser takes is a usage error before any command runs. */
    memset(line, 'y', SHELL_LINE_MAX + 1);
    line[SHELL_LINE_MAX + 1] = '\0';
    r = run(f, "alice", line);
    assert_int_equal(r->status, 2);
    assert_non_null(strstr(r->err, "line too long"));
    /* Control characters never get past the parser as typed. */
    r = run(f, "alice", "request web-1 --for 1h --reason 'a\x1b[2Jb'");
    assert_int_equal(r->status, 2);
    assert_non_null(strstr(r->err, "control character 0x1b"));

    /* Shell metacharacters are text: stored and shown literally, never run. */
    snprintf(path, sizeof(path), "%s/pwned", f->dir);
    snprintf(line, sizeof(line),
             "request web-1 --for 1h --reason '$(touch %s); `touch %s` | tee x && echo $HOME > "
             "y; *'",
             path, path);
    expect_ok(f, "alice", line, "request 2 pending: needs 1 approval(s) from group:sre-leads\n");
    expect_ok(f, "alice", "show 2 --json", NULL);
    v = out_json(&R);
    snprintf(line, sizeof(line), "$(touch %s); `touch %s` | tee x && echo $HOME > y; *", path,
             path);
    assert_string_equal(jstr(json_object_get(v, "request"), "reason"), line);
    json_decref(v);
    expect_ok(f, "alice", "show 2", NULL);
    assert_non_null(strstr(R.out, line));
    assert_int_equal(access(path, F_OK), -1);
    expect_ok(f, "bob", "deny 2 --reason '$(reboot); `halt`'", "request 2 denied\n");
    expect_ok(f, "alice", "show 2", NULL);
    assert_non_null(strstr(R.out, "bob denied: $(reboot); `halt`\n"));

    /* Words the parser would refuse, handed straight to the commands: nothing raw comes back. */
    argv[0] = "request";
    argv[1] = "web\x1b]52;c;eA==\x07-1";
    argv[2] = "--for";
    argv[3] = "1h";
    argv[4] = "--reason";
    argv[5] = "x";
    argv[6] = NULL;
    r = run_argv(f, "alice", 6, argv);
    expect_refused_run(r, "request ESC target", "no such target: web?]52;c;eA==?-1");
    argv[1] = "web-1";
    argv[5] = "two\nlines";
    expect_refused_run(run_argv(f, "alice", 6, argv), "request newline reason",
                       "the reason contains a control character (byte 4)");
    argv[3] = "1h\x1b[2J";
    r = run_argv(f, "alice", 6, argv);
    assert_int_equal(r->status, 2);
    assert_non_null(strstr(r->err, "invalid duration '1h?[2J'"));
    argv[0] = "show";
    argv[1] = "1\x9b";
    argv[2] = NULL;
    r = run_argv(f, "alice", 2, argv);
    assert_int_equal(r->status, 2);
    assert_non_null(strstr(r->err, "invalid number '1?'"));
}

/* Without a store every command that needs one says so in one line. */
static void test_store_unavailable(void **state)
{
    static const char *const lines[] = {
        "targets",
        "targets --json",
        "request web-1 --for 1h --reason x",
        "requests",
        "requests --json",
        "show 1",
        "cancel 1",
        "approve 1",
        "deny 1 --reason x",
        "revoke 1 --reason x",
        "grants",
        "breakglass db-1 --reason x",
    };
    struct fx *f = *state;

    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        run_ctx(f, "olivia", 0);
        R.ctx.access = NULL;
        R.status = shell_run_line(&R.ctx, lines[i], strlen(lines[i]));
        assert_int_equal(R.status, 1);
        assert_int_equal(R.nout, 0);
        assert_string_equal(R.err, "drawbridge: the store is unavailable\n");
    }
    /* Usage errors are still usage errors. */
    run_ctx(f, "alice", 0);
    R.ctx.access = NULL;
    assert_int_equal(shell_run_line(&R.ctx, "show x", 6), 2);
    /* Standing access needs no store; a grant does. */
    run_ctx(f, "eve", 1);
    R.ctx.access = NULL;
    assert_int_equal(shell_run_line(&R.ctx, "connect stage-1", 15), 0);
    assert_string_equal(R.ctx.connect_target, "stage-1");
    assert_string_equal(R.ctx.connect_login, "deploy");
    run_ctx(f, "alice", 1);
    R.ctx.access = NULL;
    assert_int_equal(shell_run_line(&R.ctx, "connect web-1", 13), 1);
    assert_string_equal(R.err, "drawbridge: the grant store is unavailable; refusing\r\n");
    assert_string_equal(R.ctx.connect_target, "");
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
    assert_string_equal(R.out, "user:   bob\ngroups: sre-leads\nroles:  (none)\n");
    f->a.policy = f->p;
    run_ctx(f, "bob", 0);
    R.ctx.policy = NULL;
    assert_int_equal(shell_run_line(&R.ctx, "whoami", 6), 0);
    assert_string_equal(R.out, "user:   bob\ngroups: sre-leads\nroles:  approver\n");
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
        cmocka_unit_test_setup_teardown(test_usage_errors, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_refusals, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_huge_and_hostile_text, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_store_unavailable, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_standing_and_policy_change, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_json_request_fields, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_help_lists_commands, fx_setup, fx_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared by test_shell_jit.c and test_shell_jit_input.c: a real store in a
 * temp dir, a policy parsed from YAML (two protected prod targets, one on a
 * one-approval rule and one on a two-approval rule, a staging target under
 * a standing rule, reviewers, break-glass), a fake clock, the people who
 * play the roles, and helpers that run a line as one of them with stdout and
 * stderr captured apart and check the exit status and output conventions.
 */
#ifndef DRAWBRIDGE_TEST_SHELL_JIT_H
#define DRAWBRIDGE_TEST_SHELL_JIT_H

#define SJ_UNUSED __attribute__((unused))

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
#include "store-backend.h"
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

SJ_UNUSED static long long fx_clock(void *ctx)
{
    return ((struct fx *)ctx)->now;
}

SJ_UNUSED static int fx_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

SJ_UNUSED static int fx_setup(void **state)
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
    if (tsb_open(f->dir, &f->s, err, sizeof(err)) != 0) {
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

SJ_UNUSED static int fx_teardown(void **state)
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

SJ_UNUSED static int run_write(void *io, int is_err, const char *buf, size_t len)
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

SJ_UNUSED static const struct person *person(const char *user)
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
SJ_UNUSED static void run_ctx(struct fx *f, const char *user, int interactive)
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

SJ_UNUSED static void run_check_common(void)
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

SJ_UNUSED static struct run *run_line(struct fx *f, const char *user, int interactive,
                                      const char *line, size_t len)
{
    run_ctx(f, user, interactive);
    R.status = shell_run_line(&R.ctx, line, len);
    run_check_common();
    return &R;
}

SJ_UNUSED static struct run *run(struct fx *f, const char *user, const char *line)
{
    return run_line(f, user, 0, line, strlen(line));
}

SJ_UNUSED static struct run *run_tty(struct fx *f, const char *user, const char *line)
{
    return run_line(f, user, 1, line, strlen(line));
}

/* Runs a command on words given as is (bytes the line parser would refuse included). */
SJ_UNUSED static struct run *run_argv(struct fx *f, const char *user, int argc, char **argv)
{
    const struct shell_cmd_entry *e = shell_cmd_find(argv[0]);

    assert_non_null(e);
    run_ctx(f, user, 0);
    R.status = e->exec(&R.ctx, argc, argv);
    run_check_common();
    return &R;
}

#define run_fail(...) fail_msg(__VA_ARGS__)

SJ_UNUSED static void dump_on_mismatch(const struct run *r, const char *what)
{
    print_error("%s\n--- stdout ---\n%s--- stderr ---\n%s--------------\n", what, r->out, r->err);
}

/* Exit 0, stdout exactly want (when not NULL), stderr empty. */
SJ_UNUSED static void expect_ok(struct fx *f, const char *user, const char *line, const char *want)
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
SJ_UNUSED static void expect_refused_run(struct run *r, const char *what, const char *needle)
{
    const char *nl = strchr(r->err, '\n');

    if (r->status != 1 || r->nout != 0 || strncmp(r->err, "drawbridge: ", 12) != 0 || nl == NULL ||
        nl[1] != '\0' || strstr(r->err, needle) == NULL) {
        dump_on_mismatch(r, what);
        run_fail("\"%s\": wanted a one-line refusal with \"%s\" (status %d)", what, needle,
                 r->status);
    }
}

SJ_UNUSED static void expect_refused(struct fx *f, const char *user, const char *line,
                                     const char *needle)
{
    expect_refused_run(run(f, user, line), line, needle);
}

/* Exit 2, nothing on stdout, the reason and "usage: <that command's usage>" on stderr. */
SJ_UNUSED static void expect_usage(struct fx *f, const char *user, const char *line,
                                   const char *needle)
{
    struct run *r = run(f, user, line);

    if (r->status != 2 || r->nout != 0 || strstr(r->err, needle) == NULL) {
        dump_on_mismatch(r, line);
        run_fail("\"%s\": wanted usage error with \"%s\" (status %d)", line, needle, r->status);
    }
}

/* The number in "request N pending: ..." (or "break-glass grant N active ..."). */
SJ_UNUSED static long long request_id(struct fx *f, const char *user, const char *line)
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

SJ_UNUSED static json_t *out_json(const struct run *r)
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

SJ_UNUSED static const char *jstr(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);

    if (!json_is_string(v)) {
        run_fail("\"%s\" is not a string", key);
    }
    return json_string_value(v);
}

SJ_UNUSED static long long jint(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);

    if (!json_is_integer(v)) {
        run_fail("\"%s\" is not an integer", key);
    }
    return (long long)json_integer_value(v);
}

#define WEB_REQ "request web-1 --for 1h --reason 'INC-4711 disk full'"
#define DB_REQ "request db-1 --for 2h --reason 'schema migration' --ticket CHG-7"

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for running lines (shell/shell.c) and the first commands (help,
 * whoami, exit and its aliases) against a small policy loaded from YAML:
 * exit statuses 0/1/2, what goes to stdout and what to stderr, unknown and
 * near-miss command names, usage errors, roles per user, --json, and that
 * nothing a user or LDAP supplied reaches the terminal as an escape
 * sequence.  Also checks the command table itself, so a new cmd-*.c that
 * breaks its conventions fails here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "common.h"
#include "policy.h"
#include "shell.h"

static const char policy_yaml[] =
    "protected: {env: [prod]}\n"
    "targets:\n"
    "  - name: web-1\n"
    "    address: 10.0.1.5:22\n"
    "    host_key: \"ssh-ed25519 "
    "AAAAC3NzaC1lZDI1NTE5AAAAIE7Dk0vQIUY385Ob8I0mvpAzevGBf41RCd9e04r7+gZx\"\n"
    "    logins: [deploy]\n"
    "    labels: {env: prod, tier: web}\n"
    "  - name: db-1\n"
    "    address: 10.0.2.5:22\n"
    "    host_key: \"ssh-ed25519 "
    "AAAAC3NzaC1lZDI1NTE5AAAAIA9IbR82MyVS87Nbujhr4m3nvo9/tWKtDGpJz8JgvpTF\"\n"
    "    logins: [postgres]\n"
    "    labels: {env: prod, tier: db}\n"
    "rules:\n"
    "  - name: web-oncall\n"
    "    requesters: [\"group:sre\", \"user:erin\"]\n"
    "    targets: {names: [web-1]}\n"
    "    logins: [deploy]\n"
    "    max_duration: 4h\n"
    "    approvers: [\"group:sre-leads\"]\n"
    "    approvals: 1\n"
    "reviewers: [\"group:security\"]\n"
    "break_glass:\n"
    "  requesters: [\"group:oncall\"]\n"
    "  max_duration: 30m\n";

static struct policy *policy;

static int setup(void **state)
{
    char err[512];

    (void)state;
    if (policy_load_buffer("test.yaml", policy_yaml, sizeof(policy_yaml) - 1, &policy, err,
                           sizeof(err)) < 0) {
        print_error("policy: %s\n", err);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    policy_free(policy);
    return 0;
}

/* ---- running a line with stdout and stderr captured apart ---- */

struct run {
    char out[8192], err[8192];
    size_t nout, nerr;
    struct shell_ctx ctx;
};

static int run_write(void *io, int is_err, const char *buf, size_t len)
{
    struct run *r = io;
    char *dst = is_err ? r->err : r->out;
    size_t *n = is_err ? &r->nerr : &r->nout;

    assert_true(*n + len < sizeof(r->out));
    memcpy(dst + *n, buf, len);
    *n += len;
    dst[*n] = '\0';
    return 0;
}

static int run_line(struct run *r, const char *user, const char *const *groups, int interactive,
                    const char *line, size_t len)
{
    size_t ngroups = 0;

    memset(r, 0, sizeof(*r));
    while (groups != NULL && groups[ngroups] != NULL) {
        ngroups++;
    }
    r->ctx.policy = policy;
    r->ctx.user = user;
    r->ctx.groups = groups;
    r->ctx.ngroups = ngroups;
    r->ctx.interactive = interactive;
    r->ctx.write = run_write;
    r->ctx.io = r;
    return shell_run_line(&r->ctx, line, len);
}

/* ---- the table ---- */

static const char *const g_none[] = {NULL};
static const char *const g_sre[] = {"sre", NULL};
static const char *const g_bob[] = {"sre-leads", "security", NULL};
static const char *const g_oncall[] = {"oncall", "engineers", NULL};
static const char *const g_evil[] = {"evil\x1b]52;c;eA==\x07", "caf\xe9", "\xc3\xa9quipe", NULL};

#define L(s) s, sizeof(s) - 1

struct cmd_case {
    const char *name;
    const char *user;
    const char *const *groups;
    int interactive;
    const char *line;
    size_t len;
    int status;
    const char *out;     /* exact stdout, or NULL */
    const char *out_has; /* substring of stdout, or NULL */
    const char *err;     /* exact stderr, or NULL: then stderr must be empty */
    const char *err_has; /* substring of stderr instead of an exact match */
    int want_exit;
};

#define UNKNOWN(x) "drawbridge: unknown command '" x "'; try 'help'\n"

static const struct cmd_case cmd_cases[] = {
    {"empty line", "alice", g_sre, 0, L(""), 0, "", NULL, NULL, NULL, 0},
    {"blank line", "alice", g_sre, 0, L(" \t "), 0, "", NULL, NULL, NULL, 0},
    {"help lists commands", "alice", g_sre, 0, L("help"), 0, NULL, "  whoami [--json]", NULL, NULL,
     0},
    {"help shows one", "alice", g_sre, 0, L("help whoami"), 0,
     "usage: whoami [--json]\nshow your user, LDAP groups and roles\n", NULL, NULL, NULL, 0},
    {"help on an alias", "alice", g_sre, 0, L("help quit"), 0, NULL, "same as 'exit'", NULL, NULL,
     0},
    {"help on an unknown command", "alice", g_sre, 0, L("help nosuch"), 2, "", NULL,
     UNKNOWN("nosuch"), NULL, 0},
    {"help with two names", "alice", g_sre, 0, L("help a b"), 2, "", NULL,
     "drawbridge: too many arguments\nusage: help [COMMAND] [--json]\n", NULL, 0},
    {"help with an unknown option", "alice", g_sre, 0, L("help --all"), 2, "", NULL, NULL,
     "unknown option '--all'", 0},
    {"whoami: requester", "alice", g_sre, 0, L("whoami"), 0,
     "user:   alice\ngroups: sre\nroles:  requester\n", NULL, NULL, NULL, 0},
    {"whoami: approver and reviewer", "bob", g_bob, 0, L("whoami"), 0,
     "user:   bob\ngroups: sre-leads, security\nroles:  approver, reviewer\n", NULL, NULL, NULL, 0},
    {"whoami: break-glass", "carol", g_oncall, 0, L("whoami"), 0,
     "user:   carol\ngroups: oncall, engineers\nroles:  break-glass\n", NULL, NULL, NULL, 0},
    {"whoami: requester by user name", "erin", g_none, 0, L("whoami"), 0,
     "user:   erin\ngroups: (none)\nroles:  requester\n", NULL, NULL, NULL, 0},
    {"whoami: no roles", "dave", g_none, 0, L("whoami"), 0,
     "user:   dave\ngroups: (none)\nroles:  (none)\n", NULL, NULL, NULL, 0},
    {"whoami --json", "bob", g_bob, 0, L("whoami --json"), 0,
     "{\"user\":\"bob\",\"groups\":[\"sre-leads\",\"security\"],"
     "\"roles\":[\"approver\",\"reviewer\"]}\n",
     NULL, NULL, NULL, 0},
    {"whoami --json, nothing", "dave", g_none, 0, L("whoami --json"), 0,
     "{\"user\":\"dave\",\"groups\":[],\"roles\":[]}\n", NULL, NULL, NULL, 0},
    {"whoami: hostile group names (text)", "dave", g_evil, 0, L("whoami"), 0,
     "user:   dave\ngroups: evil?]52;c;eA==?, caf?, \xc3\xa9quipe\nroles:  (none)\n", NULL, NULL,
     NULL, 0},
    {"whoami: hostile group names (json)", "dave", g_evil, 0, L("whoami --json"), 0,
     "{\"user\":\"dave\",\"groups\":[\"evil\\u001B]52;c;eA==\\u0007\",\"caf?\","
     "\"\xc3\xa9quipe\"],\"roles\":[]}\n",
     NULL, NULL, NULL, 0},
    {"whoami with an argument", "alice", g_sre, 0, L("whoami bob"), 2, "", NULL,
     "drawbridge: too many arguments\nusage: whoami [--json]\n", NULL, 0},
    {"whoami --json=yes", "alice", g_sre, 0, L("whoami --json=yes"), 2, "", NULL, NULL,
     "takes no value", 0},
    {"unknown command", "alice", g_sre, 0, L("frobnicate --x"), 2, "", NULL, UNKNOWN("frobnicate"),
     NULL, 0},
    {"no prefix matching", "alice", g_sre, 0, L("who"), 2, "", NULL, UNKNOWN("who"), NULL, 0},
    {"names are case-sensitive", "alice", g_sre, 0, L("HELP"), 2, "", NULL, UNKNOWN("HELP"), NULL,
     0},
    {"no suffix matching", "alice", g_sre, 0, L("helpme"), 2, "", NULL, UNKNOWN("helpme"), NULL, 0},
    {"unknown command: bytes sanitized", "alice", g_sre, 0, L("r\xc3\xa9quest\\\xff"), 2, "", NULL,
     UNKNOWN("r?quest?"), NULL, 0},
    {"unknown command: name truncated", "alice", g_sre, 0,
     L("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), 2, "",
     NULL, UNKNOWN("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa..."), NULL, 0},
    {"quoted command name", "alice", g_sre, 0, L("'help' \"whoami\""), 0, NULL, "usage: whoami",
     NULL, NULL, 0},
    {"metacharacters do nothing", "alice", g_sre, 0, L("whoami;help"), 2, "", NULL,
     UNKNOWN("whoami;help"), NULL, 0},
    {"command substitution does nothing", "alice", g_sre, 0, L("$(whoami)"), 2, "", NULL,
     UNKNOWN("$(whoami)"), NULL, 0},
    {"parse error", "alice", g_sre, 0, L("help 'whoami"), 2, "", NULL, NULL,
     "drawbridge: unterminated single quote", 0},
    {"control byte", "alice", g_sre, 0, L("help\x1b[2J"), 2, "", NULL, NULL,
     "control character 0x1b", 0},
    {"exit", "alice", g_sre, 0, L("exit"), 0, "", NULL, NULL, NULL, 1},
    {"logout", "alice", g_sre, 0, L("logout"), 0, "", NULL, NULL, NULL, 1},
    {"quit", "alice", g_sre, 0, L("quit"), 0, "", NULL, NULL, NULL, 1},
    {"exit with an argument", "alice", g_sre, 0, L("exit 3"), 2, "", NULL,
     "drawbridge: too many arguments\nusage: exit\n", NULL, 0},
    {"interactive: CRLF on stdout", "alice", g_sre, 1, L("help whoami"), 0,
     "usage: whoami [--json]\r\nshow your user, LDAP groups and roles\r\n", NULL, NULL, NULL, 0},
    {"interactive: CRLF on stderr", "alice", g_sre, 1, L("nope"), 2, "", NULL,
     "drawbridge: unknown command 'nope'; try 'help'\r\n", NULL, 0},
};

static void test_cmd_table_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cmd_cases) / sizeof(cmd_cases[0]); i++) {
        const struct cmd_case *cc = &cmd_cases[i];
        struct run r;
        int st;

        print_message("case: %s\n", cc->name);
        st = run_line(&r, cc->user, cc->groups, cc->interactive, cc->line, cc->len);
        assert_int_equal(st, cc->status);
        if (cc->out != NULL) {
            assert_string_equal(r.out, cc->out);
        }
        if (cc->out_has != NULL && strstr(r.out, cc->out_has) == NULL) {
            fail_msg("stdout \"%s\" lacks \"%s\"", r.out, cc->out_has);
        }
        if (cc->err_has != NULL) {
            if (strstr(r.err, cc->err_has) == NULL) {
                fail_msg("stderr \"%s\" lacks \"%s\"", r.err, cc->err_has);
            }
        } else {
            assert_string_equal(r.err, cc->err != NULL ? cc->err : "");
        }
        /* A refusal is reported, and never on stdout. */
        if (st != 0) {
            assert_true(r.nerr > 0);
            assert_int_equal(r.nout, 0);
        }
        assert_int_equal(r.ctx.want_exit, cc->want_exit);
        /* Nothing a command prints carries ESC to the terminal raw. */
        assert_null(memchr(r.out, 0x1b, r.nout));
        assert_null(memchr(r.err, 0x1b, r.nerr));
    }
}

static void test_cmd_help_list(void **state)
{
    struct run r;

    (void)state;
    assert_int_equal(run_line(&r, "alice", g_sre, 0, L("help")), 0);
    /* Every command with a summary is listed with its usage; aliases are not. */
    for (size_t i = 0; shell_cmd_table[i] != NULL; i++) {
        const struct shell_cmd_entry *e = shell_cmd_table[i];
        char want[256];

        snprintf(want, sizeof(want), "  %s", e->usage);
        if (e->summary != NULL) {
            assert_non_null(strstr(r.out, want));
            assert_non_null(strstr(r.out, e->summary));
        } else {
            assert_null(strstr(r.out, want));
        }
    }
}

static void test_cmd_help_json(void **state)
{
    struct run r;
    json_error_t jerr;
    json_t *v = NULL;
    size_t visible = 0;

    (void)state;
    assert_int_equal(run_line(&r, "alice", g_sre, 0, L("help --json")), 0);
    v = json_loads(r.out, 0, &jerr);
    assert_non_null(v);
    assert_true(json_is_array(v));
    for (size_t i = 0; shell_cmd_table[i] != NULL; i++) {
        visible += shell_cmd_table[i]->summary != NULL;
    }
    assert_int_equal(json_array_size(v), visible);
    assert_string_equal(json_string_value(json_object_get(json_array_get(v, 0), "name")), "help");
    assert_non_null(json_object_get(json_array_get(v, 0), "usage"));
    json_decref(v);

    assert_int_equal(run_line(&r, "alice", g_sre, 0, L("help whoami --json")), 2);
}

static void test_cmd_no_policy(void **state)
{
    struct shell_ctx c;
    struct run r;

    (void)state;
    /* Before a policy is loaded (or in a test harness) whoami still answers. */
    run_line(&r, "alice", g_sre, 0, "", 0);
    c = r.ctx;
    c.policy = NULL;
    assert_int_equal(shell_run_line(&c, L("whoami")), 0);
    assert_string_equal(r.out, "user:   alice\ngroups: sre\nroles:  (none)\n");
}

/* Conventions a new cmd-*.c must keep (see shell.h). */
static void test_cmd_table_conventions(void **state)
{
    (void)state;
    assert_non_null(shell_cmd_table[0]);
    for (size_t i = 0; shell_cmd_table[i] != NULL; i++) {
        const struct shell_cmd_entry *e = shell_cmd_table[i];
        size_t n = strlen(e->name);

        print_message("command: %s\n", e->name);
        assert_true(n > 0);
        assert_non_null(e->usage);
        assert_non_null(e->exec);
        assert_int_equal(strncmp(e->usage, e->name, n), 0);
        assert_true(e->usage[n] == '\0' || e->usage[n] == ' ');
        assert_ptr_equal(shell_cmd_find(e->name), e);
        for (size_t k = i + 1; shell_cmd_table[k] != NULL; k++) {
            assert_string_not_equal(e->name, shell_cmd_table[k]->name);
        }
    }
    assert_null(shell_cmd_find(NULL));
    assert_null(shell_cmd_find(""));
    assert_null(shell_cmd_find("hel"));
}

struct san_case {
    const char *in;
    size_t inlen;
    size_t outlen;
    int ascii_only;
    const char *want;
};

static void test_cmd_sanitize(void **state)
{
    static const struct san_case cases[] = {
        {L("plain text"), 64, 1, "plain text"},
        {L("a\x1b[31mb\x07"), 64, 1, "a?[31mb?"},
        {L("\xc3\xa9t\xc3\xa9"), 64, 0, "\xc3\xa9t\xc3\xa9"},
        {L("\xc3\xa9t\xc3\xa9"), 64, 1, "?t?"},
        {L("\xc2\x9b"
           "2J"),
         64, 0, "??2J"},
        {L("\xe9t\xe9"), 64, 0, "?t?"},
        {L("\xed\xa0\x80"), 64, 0, "???"},
        {L("a\0b"), 64, 0, "a?b"},
        {L("abcdefgh"), 9, 1, "abcdefgh"},
        {L("abcdefghi"), 9, 1, "abcde..."},
        {L("ab\xe2\x82\xac"
           "cdef"),
         8, 0, "ab..."},
        {L("abc"), 3, 0, ""},
    };
    char out[64];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(out, 'Z', sizeof(out));
        shell_sanitize(out, cases[i].outlen, cases[i].in, cases[i].inlen, cases[i].ascii_only);
        assert_string_equal(out, cases[i].want);
    }
}

static void test_cmd_write_crlf(void **state)
{
    struct run r;
    char *in = malloc(3000);
    size_t nl = 0;

    (void)state;
    assert_non_null(in);
    run_line(&r, "alice", g_sre, 1, "", 0);
    /* Long enough to cross the translation buffer; "\r\n" is left alone. */
    for (size_t i = 0; i < 3000; i++) {
        in[i] = i % 3 == 2 ? '\n' : 'x';
    }
    in[0] = '\n';
    in[1] = '\r';
    in[2] = '\n';
    shell_write(&r.ctx, 0, in, 3000);
    for (size_t i = 0; i < 3000; i++) {
        nl += in[i] == '\n';
    }
    assert_int_equal(r.nout, 3000 + nl - 1);
    for (size_t i = 0; i < r.nout; i++) {
        if (r.out[i] == '\n') {
            assert_true(i > 0 && r.out[i - 1] == '\r');
        }
    }
    free(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cmd_table_cases),       cmocka_unit_test(test_cmd_help_list),
        cmocka_unit_test(test_cmd_help_json),         cmocka_unit_test(test_cmd_no_policy),
        cmocka_unit_test(test_cmd_table_conventions), cmocka_unit_test(test_cmd_sanitize),
        cmocka_unit_test(test_cmd_write_crlf),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}

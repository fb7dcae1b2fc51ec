/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bad input to the just-in-time shell commands (see test_shell_jit.h for
 * the store, policy and helpers): every command's usage errors (exit 2,
 * the reason and the command's usage on stderr), refusals (exit 1, one line
 * on stderr, nothing on stdout), malformed durations and numbers, unknown
 * targets, huge, non-UTF-8 and control-character text, shell metacharacters
 * kept as text and never run, bytes the parser would refuse handed straight
 * to the commands, and running without a store.
 */
#include "test_shell_jit.h"

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
    {"alice", "request web-1 --bogus --for 1h --reason x", "unknown option '--bogus'"},
    {"alice", "request web-1 --reason --for 1h", "option '--reason' needs a value"},
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

/*
 * Free text as ssh delivers it (DESIGN.md, "Free text in one-shot
 * commands"): the words after --reason / --comment up to the next option of
 * the command are the text, stored exactly as joined; quotes still work.
 */
struct free_text_case {
    const char *line; /* alice's request */
    const char *reason;
    const char *verb; /* bob's approve or deny of it, or NULL */
    const char *rest; /* what follows the number */
    const char *said; /* the decision's comment; NULL: a usage error */
};

static const struct free_text_case free_text_cases[] = {
    {"request web-1 --for 1h --reason INC-4711: disk full on web-1",
     "INC-4711: disk full on web-1", "approve", "--comment ok for INC-4711, watch it",
     "ok for INC-4711, watch it"},
    {"request web-1 --reason INC-4712: site down --for 30m", "INC-4712: site down",
     "deny", "--reason use staging, not prod", "use staging, not prod"},
    {"request web-1 --for 1h --reason 'two  spaces' kept --login deploy", "two  spaces kept",
     "approve", "--comment \"a b\"", "a b"},
    {"request web-1 --for 1h --reason see --force -x -- now", "see --force -x -- now", NULL, NULL,
     NULL},
    {"request web-1 --for 1h --reason 'see --for below'", "see --for below",
     "deny", "--reason=see --reason twice", NULL},
    {"request web-1 --for=1h --reason=\"quoted \\\"inner\\\"\" tail --ticket OPS-1",
     "quoted \"inner\" tail", "approve", "--comment 'see --comment below' and more",
     "see --comment below and more"},
};

static void test_free_text(void **state)
{
    struct fx *f = *state;
    char line[2200];
    json_t *v;
    long long id;
    size_t n;

    for (size_t i = 0; i < sizeof(free_text_cases) / sizeof(free_text_cases[0]); i++) {
        const struct free_text_case *tc = &free_text_cases[i];

        id = request_id(f, "alice", tc->line);
        snprintf(line, sizeof(line), "show %lld --json", id);
        expect_ok(f, "alice", line, NULL);
        v = out_json(&R);
        assert_string_equal(jstr(json_object_get(v, "request"), "reason"), tc->reason);
        json_decref(v);
        if (tc->verb == NULL) {
            continue;
        }
        snprintf(line, sizeof(line), "%s %lld %s", tc->verb, id, tc->rest);
        if (tc->said == NULL) {
            /* --reason given again: ambiguous, so a usage error. */
            expect_usage(f, "bob", line, "given more than once");
            continue;
        }
        expect_ok(f, "bob", line, NULL);
        snprintf(line, sizeof(line), "show %lld --json", id);
        expect_ok(f, "alice", line, NULL);
        v = out_json(&R);
        assert_string_equal(
            jstr(json_array_get(json_object_get(v, "decisions"), 0), "comment"), tc->said);
        json_decref(v);
    }

    /* The length limit is on the joined text: 1024 bytes in many words pass, 1025 do not. */
    n = (size_t)snprintf(line, sizeof(line), "request web-1 --for 1h --reason");
    for (int w = 0; w < 256; w++) {
        n += (size_t)snprintf(line + n, sizeof(line) - n, " abc");
    }
    /* 256 words of 3 bytes and 255 spaces: 1023 bytes; one more byte is the limit. */
    line[n] = 'd';
    line[n + 1] = '\0';
    id = request_id(f, "alice", line);
    assert_true(id > 0);
    line[n + 1] = 'e';
    line[n + 2] = '\0';
    expect_refused(f, "alice", line, "the reason is too long (at most 1024 bytes)");
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_usage_errors, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_refusals, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_huge_and_hostile_text, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_store_unavailable, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_free_text, fx_setup, fx_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * broker/ldap.c against a real slapd.  Run by tests/integration/ldap_live.sh,
 * which starts slapd from tests/fixtures/ldap (lib-ldap.sh), adds ALICE_KEY
 * to alice's entry and passes LDAP_URL, LDAPS_URL, LDAP_SECRET_FILE,
 * LDAP_CA_FILE, LDAP_ROGUE_CA_FILE and LDAP_LOG.  The test stops, restarts,
 * pauses and resumes that slapd through "ldap_live.sh --ctl VERB", so the
 * tests run in order and each leaves slapd running.
 *
 * slapd runs with "-d stats": every BIND it receives is a line in LDAP_LOG,
 * which is how the tests show that refused passwords never reach it and that
 * the service connection is kept.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "broker.h"

#define TIMEOUT_MS 1500
#define PEOPLE "ou=people,dc=example,dc=org"
#define ALICE_DN "uid=alice," PEOPLE
#define SVC_DN "cn=drawbridge,ou=services,dc=example,dc=org"

static const char *env_or_empty(const char *name)
{
    const char *v = getenv(name);
    return v != NULL ? v : "";
}

/* The config ldap_live.sh's slapd needs; strings point at literals or env. */
static void cfg_fill(struct config *c, const char *url, int starttls, const char *ca)
{
    memset(c, 0, sizeof(*c));
    c->ldap.url = (char *)url;
    c->ldap.starttls = starttls;
    c->ldap.ca_file = (char *)ca;
    c->ldap.bind_dn = (char *)SVC_DN;
    c->ldap.bind_password_file = (char *)env_or_empty("LDAP_SECRET_FILE");
    c->ldap.user_base = (char *)PEOPLE;
    c->ldap.user_filter = (char *)"(&(objectClass=inetOrgPerson)(uid=%u))";
    c->ldap.group_base = (char *)"ou=groups,dc=example,dc=org";
    c->ldap.group_filter = (char *)"(member=%d)";
    c->ldap.group_name_attribute = (char *)"cn";
    c->ldap.ssh_key_attribute = (char *)"sshPublicKey";
    c->ldap.timeout_ms = TIMEOUT_MS;
}

static struct dir *dir_open(const char *url, int starttls, const char *ca)
{
    struct config c;
    struct dir *d = NULL;

    cfg_fill(&c, url, starttls, ca);
    assert_int_equal(dir_new(&c, &d), 0);
    assert_non_null(d);
    return d;
}

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ldap_live.sh --ctl stop|restart|pause|resume */
static void slapd_ctl(const char *verb)
{
    const char *script = getenv("LDAP_LIVE_SCRIPT");
    int status = -1;
    pid_t pid;

    assert_non_null(script);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl("/bin/bash", "bash", script, "--ctl", verb, (char *)NULL);
        _exit(127);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fail_msg("ldap_live.sh --ctl %s failed (status %d)", verb, status);
    }
}

/* How many times slapd logged a simple BIND as dn. */
static int bind_count(const char *dn)
{
    char needle[512], line[4096];
    FILE *f = fopen(env_or_empty("LDAP_LOG"), "r");
    int n = 0;

    assert_non_null(f);
    snprintf(needle, sizeof(needle), "BIND dn=\"%s\" method=128", dn);
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strstr(line, needle) != NULL) {
            n++;
        }
    }
    fclose(f);
    return n;
}

/* slapd writes its log as it goes; wait (up to 3 s) for a count to reach want. */
static int bind_count_wait(const char *dn, int want)
{
    int n = bind_count(dn);

    for (int i = 0; i < 60 && n < want; i++) {
        usleep(50 * 1000);
        n = bind_count(dn);
    }
    return n;
}

static int has(char **v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i], s) == 0) {
            return 1;
        }
    }
    return 0;
}

static void assert_groups(const struct dir_user *u, const char *const *want, size_t nwant)
{
    if (u->ngroups != nwant) {
        fail_msg("%s: %zu groups, want %zu", u->name, u->ngroups, nwant);
    }
    for (size_t i = 0; i < nwant; i++) {
        if (!has(u->groups, u->ngroups, want[i])) {
            fail_msg("%s: group %s missing", u->name, want[i]);
        }
    }
}

static void test_lookup_alice(void **state)
{
    static const char *const groups[] = {"sre", "engineers"};
    struct dir *d = dir_open(getenv("LDAP_URL"), 0, NULL);
    struct dir_user *u = NULL;
    char err[256];

    (void)state;
    assert_int_equal(dir_lookup(d, "alice", &u, err, sizeof(err)), 0);
    assert_string_equal(u->name, "alice");
    assert_string_equal(u->dn, ALICE_DN);
    assert_groups(u, groups, 2);
    assert_int_equal(u->nkeys, 1);
    assert_string_equal(u->keys[0], getenv("ALICE_KEY"));
    dir_user_free(u);
    dir_free(d);
}

static void test_lookup_others(void **state)
{
    static const char *const bob[] = {"sre-leads", "sre"}, *const carol[] = {"security"};
    static const char *const mallory[] = {"red-team"};
    struct dir *d = dir_open(getenv("LDAP_URL"), 0, NULL);
    struct dir_user *u = NULL;
    char err[256];

    (void)state;
    assert_int_equal(dir_lookup(d, "bob", &u, err, sizeof(err)), 0);
    assert_groups(u, bob, 2);
    assert_int_equal(u->nkeys, 0);
    dir_user_free(u);
    assert_int_equal(dir_lookup(d, "carol", &u, err, sizeof(err)), 0);
    assert_groups(u, carol, 1);
    dir_user_free(u);
    assert_int_equal(dir_lookup(d, "frank", &u, err, sizeof(err)), 0);
    assert_int_equal(u->ngroups, 0);
    dir_user_free(u);
    /* "*)(" in the DN: the group search works only if %d was escaped.  slapd
     * returns the RDN's "=" as \3D, which must be escaped again in turn. */
    assert_int_equal(dir_lookup(d, "mallory", &u, err, sizeof(err)), 0);
    assert_string_equal(u->dn, "cn=mallory *)(cn\\3D*," PEOPLE);
    assert_groups(u, mallory, 1);
    dir_user_free(u);
    dir_free(d);
}

static void test_lookup_refused(void **state)
{
    /* Two entries carry uid "twin": that must get the same answer as none. */
    static const char *const names[] = {
        "*", "alice)(uid=*", "*)(|(uid=*", "alic*", "twin-*", "al\\2aice", "nobody", "twin",
    };
    struct dir *d = dir_open(getenv("LDAP_URL"), 0, NULL);
    struct dir_user *u = (struct dir_user *)0x1;
    char err[256];

    (void)state;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        int r = dir_lookup(d, names[i], &u, err, sizeof(err));
        if (r != DB_ERR_NOTFOUND || u != NULL || strcmp(err, "unknown user") != 0) {
            fail_msg("\"%s\": rc %d, err \"%s\"", names[i], r, err);
        }
    }
    assert_int_equal(dir_lookup(d, "", &u, err, sizeof(err)), DB_ERR_INVALID);
    assert_null(u);
    assert_int_equal(dir_lookup(d, "twin-a", &u, err, sizeof(err)), 0);
    dir_user_free(u);
    dir_free(d);
}

static void test_password(void **state)
{
    struct dir *d = dir_open(getenv("LDAP_URL"), 0, NULL);
    struct dir_user *u = NULL, *m = NULL;
    char err[256];

    (void)state;
    assert_int_equal(dir_lookup(d, "alice", &u, err, sizeof(err)), 0);
    assert_int_equal(dir_check_password(d, u, "alice-pw-2026", 13, err, sizeof(err)), 0);
    assert_int_equal(dir_check_password(d, u, "alice-pw-2025", 13, err, sizeof(err)), DB_ERR_AUTH);
    assert_string_equal(err, "authentication failed");
    assert_int_equal(dir_check_password(d, u, "bob-pw-2026", 11, err, sizeof(err)), DB_ERR_AUTH);
    assert_int_equal(dir_check_password(d, u, "ALICE-PW-2026", 13, err, sizeof(err)), DB_ERR_AUTH);
    assert_int_equal(dir_check_password(d, u, "alice-pw-2026\n", 14, err, sizeof(err)),
                     DB_ERR_AUTH);
    /* pwlen is what counts, not a NUL: a prefix is not the password. */
    assert_int_equal(dir_check_password(d, u, "alice-pw-2026", 12, err, sizeof(err)), DB_ERR_AUTH);
    assert_int_equal(dir_lookup(d, "mallory", &m, err, sizeof(err)), 0);
    assert_int_equal(dir_check_password(d, m, "mallory-pw-2026", 15, err, sizeof(err)), 0);
    assert_int_equal(dir_check_password(d, m, "alice-pw-2026", 13, err, sizeof(err)), DB_ERR_AUTH);
    assert_int_equal(dir_check_password(d, NULL, "alice-pw-2026", 13, err, sizeof(err)),
                     DB_ERR_AUTH);
    dir_user_free(m);
    dir_user_free(u);
    dir_free(d);
}

static const struct {
    const char *pw;
    size_t len;
} bad_pw[] = {
    {"", 0}, {" ", 1}, {"\t", 1}, {" \t\r\n", 4}, {"alice-pw-2026\0x", 15}, {"\0", 1}, {NULL, 5},
};

/* Refused passwords never become a BIND: slapd's log shows none. */
static void test_password_refused_without_bind(void **state)
{
    struct dir *d = dir_open(getenv("LDAP_URL"), 0, NULL);
    struct dir_user *u = NULL;
    char err[256];
    int before;

    (void)state;
    assert_int_equal(dir_lookup(d, "alice", &u, err, sizeof(err)), 0);
    before = bind_count(ALICE_DN);
    for (size_t i = 0; i < sizeof(bad_pw) / sizeof(bad_pw[0]); i++) {
        if (dir_check_password(d, u, bad_pw[i].pw, bad_pw[i].len, err, sizeof(err)) !=
            DB_ERR_AUTH) {
            fail_msg("password #%zu was not refused", i);
        }
    }
    /* One real (wrong) bind after them: once it is logged, the others would be too. */
    assert_int_equal(dir_check_password(d, u, "wrong", 5, err, sizeof(err)), DB_ERR_AUTH);
    assert_int_equal(bind_count_wait(ALICE_DN, before + 1), before + 1);
    usleep(200 * 1000);
    assert_int_equal(bind_count(ALICE_DN), before + 1);

    /* And with slapd frozen they still answer at once: nothing waited for it. */
    slapd_ctl("pause");
    for (size_t i = 0; i < sizeof(bad_pw) / sizeof(bad_pw[0]); i++) {
        long long t0 = now_ms();
        int r = dir_check_password(d, u, bad_pw[i].pw, bad_pw[i].len, err, sizeof(err));
        long long dt = now_ms() - t0;
        /* A bind would have waited the whole timeout and then said TIMEOUT. */
        if (r != DB_ERR_AUTH || dt >= TIMEOUT_MS / 2) {
            slapd_ctl("resume");
            fail_msg("password #%zu with slapd paused: rc %d after %lld ms", i, r, dt);
        }
    }
    slapd_ctl("resume");
    dir_user_free(u);
    dir_free(d);
}

/* One service BIND per process, however many lookups follow. */
static void test_service_connection_kept(void **state)
{
    struct dir *d = dir_open(getenv("LDAP_URL"), 0, NULL);
    struct dir_user *u = NULL;
    char err[256];
    int before = bind_count(SVC_DN);

    (void)state;
    for (int i = 0; i < 5; i++) {
        assert_int_equal(dir_lookup(d, i % 2 ? "bob" : "alice", &u, err, sizeof(err)), 0);
        dir_user_free(u);
    }
    assert_int_equal(bind_count_wait(SVC_DN, before + 1), before + 1);
    usleep(200 * 1000);
    assert_int_equal(bind_count(SVC_DN), before + 1);
    dir_free(d);
}

/*
 * A child that inherits an open service connection opens its own, and does
 * not close the parent's: the parent's next lookup needs no new BIND.
 */
static void test_fork(void **state)
{
    struct dir *d = dir_open(getenv("LDAP_URL"), 0, NULL);
    struct dir_user *u = NULL;
    char err[256];
    int before = bind_count(SVC_DN), status = -1;
    pid_t pid;

    (void)state;
    assert_int_equal(dir_lookup(d, "alice", &u, err, sizeof(err)), 0);
    dir_user_free(u);
    before = bind_count_wait(SVC_DN, before + 1);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int r = dir_lookup(d, "bob", &u, err, sizeof(err));
        dir_user_free(u);
        dir_free(d);
        _exit(r == 0 ? 0 : 1);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(bind_count_wait(SVC_DN, before + 1), before + 1);
    assert_int_equal(dir_lookup(d, "carol", &u, err, sizeof(err)), 0);
    dir_user_free(u);
    usleep(200 * 1000);
    assert_int_equal(bind_count(SVC_DN), before + 1);
    dir_free(d);
}

/* slapd restarted under a kept connection: the next lookup reconnects once. */
static void test_restart_reconnects(void **state)
{
    struct dir *d = dir_open(getenv("LDAP_URL"), 0, NULL);
    struct dir_user *u = NULL;
    char err[256];

    (void)state;
    assert_int_equal(dir_lookup(d, "alice", &u, err, sizeof(err)), 0);
    dir_user_free(u);
    slapd_ctl("restart");
    assert_int_equal(dir_lookup(d, "alice", &u, err, sizeof(err)), 0);
    assert_string_equal(u->dn, ALICE_DN);
    dir_user_free(u);
    dir_free(d);
}

static void test_stopped_then_back(void **state)
{
    struct dir *d = dir_open(getenv("LDAP_URL"), 0, NULL);
    struct dir_user *u = NULL, *a = NULL;
    char err[256];
    long long t0;

    (void)state;
    assert_int_equal(dir_lookup(d, "alice", &a, err, sizeof(err)), 0);
    slapd_ctl("stop");
    t0 = now_ms();
    assert_int_equal(dir_lookup(d, "alice", &u, err, sizeof(err)), DB_ERR_UNAVAIL);
    assert_true(now_ms() - t0 < TIMEOUT_MS);
    assert_null(u);
    assert_non_null(strstr(err, "directory unavailable: Can't contact LDAP server"));
    t0 = now_ms();
    assert_int_equal(dir_check_password(d, a, "alice-pw-2026", 13, err, sizeof(err)),
                     DB_ERR_UNAVAIL);
    assert_true(now_ms() - t0 < TIMEOUT_MS);
    assert_null(strstr(err, "alice-pw"));
    slapd_ctl("restart");
    assert_int_equal(dir_lookup(d, "alice", &u, err, sizeof(err)), 0);
    assert_int_equal(dir_check_password(d, a, "alice-pw-2026", 13, err, sizeof(err)), 0);
    dir_user_free(u);
    dir_user_free(a);
    dir_free(d);
}

static void assert_slow_failure(int r, long long dt, const char *what)
{
    if ((r != DB_ERR_TIMEOUT && r != DB_ERR_UNAVAIL) || dt < TIMEOUT_MS - 100 ||
        dt > TIMEOUT_MS + 1500) {
        slapd_ctl("resume");
        fail_msg("%s with slapd paused: rc %d after %lld ms (timeout %d ms)", what, r, dt,
                 TIMEOUT_MS);
    }
}

/* SIGSTOPped slapd: TCP connects, nothing answers; each call gives up on time. */
static void test_paused_then_back(void **state)
{
    struct dir *d = dir_open(getenv("LDAP_URL"), 0, NULL), *fresh = NULL;
    struct dir_user *u = NULL, *a = NULL;
    char err[256];
    long long t0;
    int r;

    (void)state;
    /* Should a call ignore the timeout and wait for ever, die now instead. */
    alarm(4 * TIMEOUT_MS / 1000 + 10);
    assert_int_equal(dir_lookup(d, "alice", &a, err, sizeof(err)), 0);
    fresh = dir_open(getenv("LDAP_URL"), 0, NULL);
    slapd_ctl("pause");
    t0 = now_ms();
    r = dir_lookup(d, "alice", &u, err, sizeof(err)); /* on the kept connection */
    assert_slow_failure(r, now_ms() - t0, "lookup");
    assert_null(u);
    t0 = now_ms();
    r = dir_lookup(fresh, "alice", &u, err, sizeof(err)); /* service bind */
    assert_slow_failure(r, now_ms() - t0, "first lookup");
    t0 = now_ms();
    r = dir_check_password(d, a, "alice-pw-2026", 13, err, sizeof(err));
    assert_slow_failure(r, now_ms() - t0, "password check");
    assert_int_equal(r, DB_ERR_TIMEOUT);
    assert_non_null(strstr(err, "timed out"));
    slapd_ctl("resume");
    assert_int_equal(dir_lookup(d, "alice", &u, err, sizeof(err)), 0);
    dir_user_free(u);
    assert_int_equal(dir_check_password(d, a, "alice-pw-2026", 13, err, sizeof(err)), 0);
    assert_int_equal(dir_lookup(fresh, "bob", &u, err, sizeof(err)), 0);
    dir_user_free(u);
    dir_user_free(a);
    dir_free(fresh);
    dir_free(d);
    alarm(0);
}

static void test_service_secret(void **state)
{
    char path[512], err[256];
    struct dir_user *u = NULL;
    struct config c;
    struct dir *d = NULL;
    int fd;

    (void)state;
    /* In the wrapper's temp dir, which goes away even if an assertion fails here. */
    snprintf(path, sizeof(path), "%s/svc-secret.XXXXXX", env_or_empty("LDAP_LIVE_TMPDIR"));
    cfg_fill(&c, getenv("LDAP_URL"), 0, NULL);
    c.ldap.bind_password_file = path;
    fd = mkstemp(path);
    assert_true(fd >= 0);
    /* CRLF line end: stripped like a plain newline. */
    assert_int_equal(write(fd, "drawbridge-svc-pw\r\n", 19), 19);
    assert_int_equal(dir_new(&c, &d), 0);
    assert_int_equal(dir_lookup(d, "alice", &u, err, sizeof(err)), 0);
    dir_user_free(u);
    dir_free(d);
    /* A wrong service password: unavailable (not "unknown user"), and no secret shown. */
    assert_int_equal(ftruncate(fd, 0), 0);
    assert_int_equal(pwrite(fd, "not-the-svc-pw\n", 15, 0), 15);
    assert_int_equal(dir_new(&c, &d), 0);
    assert_int_equal(dir_lookup(d, "alice", &u, err, sizeof(err)), DB_ERR_UNAVAIL);
    assert_non_null(strstr(err, "service account bind refused"));
    assert_null(strstr(err, "not-the-svc-pw"));
    dir_free(d);
    /* Empty and missing files. */
    assert_int_equal(ftruncate(fd, 0), 0);
    assert_int_equal(dir_new(&c, &d), 0);
    assert_int_equal(dir_lookup(d, "alice", &u, err, sizeof(err)), DB_ERR_UNAVAIL);
    dir_free(d);
    close(fd);
    unlink(path);
    assert_int_equal(dir_new(&c, &d), 0);
    assert_int_equal(dir_lookup(d, "alice", &u, err, sizeof(err)), DB_ERR_UNAVAIL);
    assert_non_null(strstr(err, "bind_password_file"));
    dir_free(d);
}

/* Certificates are checked: the right CA works, anything else refuses. */
static void test_tls(void **state)
{
    const char *ldap = getenv("LDAP_URL"), *ldaps = getenv("LDAPS_URL");
    const char *ca = getenv("LDAP_CA_FILE"), *rogue = getenv("LDAP_ROGUE_CA_FILE");
    const struct {
        const char *url;
        int starttls;
        const char *ca;
        int want;
    } rows[] = {
        {ldap, 1, ca, 0},
        {ldaps, 0, ca, 0},
        {ldaps, 1, ca, 0}, /* starttls on an ldaps:// URL: already TLS */
        {ldap, 1, rogue, DB_ERR_UNAVAIL},
        {ldaps, 0, rogue, DB_ERR_UNAVAIL},
        {ldaps, 0, NULL, DB_ERR_UNAVAIL}, /* system CAs do not know the test CA */
        {ldap, 1, "/nonexistent/ca.pem", DB_ERR_UNAVAIL},
    };
    char err[256];

    (void)state;
    if (ldaps == NULL || ldaps[0] == '\0') {
        skip();
    }
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct dir *d = dir_open(rows[i].url, rows[i].starttls, rows[i].ca);
        struct dir_user *u = NULL;
        int r = dir_lookup(d, "alice", &u, err, sizeof(err));

        if (r != rows[i].want) {
            fail_msg("row %zu (%s starttls=%d ca=%s): rc %d, want %d: %s", i, rows[i].url,
                     rows[i].starttls, rows[i].ca ? rows[i].ca : "system", r, rows[i].want, err);
        }
        if (r == 0) {
            assert_int_equal(dir_check_password(d, u, "alice-pw-2026", 13, err, sizeof(err)), 0);
        }
        dir_user_free(u);
        dir_free(d);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup_alice),
        cmocka_unit_test(test_lookup_others),
        cmocka_unit_test(test_lookup_refused),
        cmocka_unit_test(test_password),
        cmocka_unit_test(test_password_refused_without_bind),
        cmocka_unit_test(test_service_connection_kept),
        cmocka_unit_test(test_fork),
        cmocka_unit_test(test_restart_reconnects),
        cmocka_unit_test(test_stopped_then_back),
        cmocka_unit_test(test_paused_then_back),
        cmocka_unit_test(test_service_secret),
        cmocka_unit_test(test_tls),
    };

    if (getenv("LDAP_URL") == NULL || getenv("LDAP_LIVE_SCRIPT") == NULL) {
        fprintf(stderr, "run me through tests/integration/ldap_live.sh\n");
        return 1;
    }
    /*
     * Without LDAPNOINIT libldap would take this from the environment and
     * bind every socket to a documentation address, so that no connection
     * could be made.  dir_new sets LDAPNOINIT before libldap's first call;
     * every test that reaches slapd shows it was ignored.
     */
    setenv("LDAPSOCKET_BIND_ADDRESSES", "192.0.2.1", 1);
    return cmocka_run_group_tests(tests, NULL, NULL);
}

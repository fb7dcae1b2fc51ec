/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for broker/config.c.  Each case starts from a valid config in a
 * fresh temporary directory, changes one line, and expects config_load to
 * refuse it with the line and reason -- or, for the good cases, checks the
 * values and defaults it produced.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker.h"

/* The valid config every case edits; one line per entry (line N is base[N-1]). */
static const char *const base[] = {
    "listen: [\"127.0.0.1:2222\"]",
    "state_dir: state",
    "policy: policy.yaml",
    "ldap:",
    "  url: ldap://127.0.0.1:389",
    "  bind_dn: cn=drawbridge,ou=services,dc=example,dc=org",
    "  bind_password_file: ldap.secret",
    "  user_base: ou=people,dc=example,dc=org",
    "  user_filter: \"(&(objectClass=inetOrgPerson)(uid=%u))\"",
    "  group_base: ou=groups,dc=example,dc=org",
    "  group_filter: \"(member=%d)\"",
};
#define NBASE (sizeof(base) / sizeof(base[0]))

struct tmp {
    char dir[64];
    char cfg[128];
};

static void tmp_file(const struct tmp *t, const char *name, const char *text)
{
    char path[256];
    FILE *f = NULL;

    snprintf(path, sizeof(path), "%s/%s", t->dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void tmp_setup(struct tmp *t)
{
    memset(t, 0, sizeof(*t));
    snprintf(t->dir, sizeof(t->dir), "/tmp/test_config_XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    snprintf(t->cfg, sizeof(t->cfg), "%s/drawbridge.yaml", t->dir);
    tmp_file(t, "policy.yaml", "targets: []\n");
    tmp_file(t, "ldap.secret", "secret\n");
    tmp_file(t, "ca.pem", "-----BEGIN CERTIFICATE-----\n");
}

static void tmp_teardown(struct tmp *t)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
    assert_int_equal(system(cmd), 0);
}

/* Writes the base config with line `line` (1-based) replaced by text; line 0 appends. */
static void write_config(const struct tmp *t, size_t line, const char *text)
{
    char buf[4096] = "";

    for (size_t i = 0; i < NBASE; i++) {
        const char *l = (line == i + 1) ? text : base[i];

        if (l[0] != '\0') {
            strcat(buf, l);
            strcat(buf, "\n");
        }
    }
    if (line == 0 && text != NULL) {
        strcat(buf, text);
        strcat(buf, "\n");
    }
    tmp_file(t, "drawbridge.yaml", buf);
}

/* cmocka fixtures: a fresh directory per test, removed even when the test fails. */
static int fixture_setup(void **state)
{
    struct tmp *t = calloc(1, sizeof(*t));

    if (t == NULL) {
        return -1;
    }
    tmp_setup(t);
    *state = t;
    return 0;
}

static int fixture_teardown(void **state)
{
    tmp_teardown(*state);
    free(*state);
    return 0;
}

struct bad_case {
    size_t replace; /* line replaced (0: appended) */
    const char *text;
    int line;
    const char *needle;
};

static const struct bad_case bad_cases[] = {
    {0, "colour: blue", 12, "unknown key \"colour\""},
    {1, "", 1, "missing listen"},
    {1, "listen: \"127.0.0.1:2222\"", 1, "listen: expected a list"},
    {1, "listen: []", 1, "give 1 to 8"},
    {1, "listen: [a,b,c,d,e,f,g,h,i]", 1, "give 1 to 8"},
    {1, "listen: [\"localhost:2222\"]", 1, "not IPV4:PORT"},
    {1, "listen: [\"127.0.0.1\"]", 1, "not IPV4:PORT"},
    {1, "listen: [\"127.0.0.1:0\"]", 1, "port 1-65535"},
    {1, "listen: [\"127.0.0.1:65536\"]", 1, "not IPV4"},
    {1, "listen: [\"127.0.0.1:22x\"]", 1, "not IPV4"},
    {1, "listen: [\"::1:22\"]", 1, "not IPV4"},
    {1, "listen: [\"[::1]\"]", 1, "not IPV4"},
    {1, "listen: [\"[::g]:22\"]", 1, "not IPV4"},
    {1, "listen: [\"256.0.0.1:22\"]", 1, "not IPV4"},
    {1, "listen:\n  - \"127.0.0.1:22\"\n  - \"127.0.0.1:22\"", 3, "listed twice"},
    {2, "", 1, "missing state_dir"},
    {2, "state_dir: policy.yaml", 2, "not a directory"},
    {2, "state_dir: \"\"", 2, "must not be empty"},
    {3, "", 1, "missing policy"},
    {3, "policy: nope.yaml", 3, "nope.yaml: No such file or directory"},
    {3, "policy: .", 3, "not a regular file"},
    {3, "policy: /dev/null", 3, "/dev/null: not a regular file"},
    {3, "policy: ~", 3, "expected a string, got null"},
    {4, "ldapp:", 4, "unknown key \"ldapp\""},
    {5, "  url: http://ldap.example.org", 5, "must start with ldap:// or ldaps://"},
    {5, "", 5, "missing ldap.url"},
    {5, "  uri: ldap://x", 5, "ldap: unknown key \"uri\""},
    {0, "  starttls: yes", 12, "ldap.starttls: expected true or false"},
    {5, "  url: ldaps://x\n  starttls: true", 6, "ldaps:// is already TLS"},
    {0, "  ca_file: missing.pem", 12, "ldap.ca_file: "},
    {6, "", 5, "bind_dn and bind_password_file go together"},
    {7, "  bind_password_file: nope.secret", 7, "No such file"},
    {7, "  bind_password_file: /tmp", 7, "not a regular file"},
    {8, "", 5, "missing ldap.user_base"},
    {9, "  user_filter: \"(uid=%s)\"", 9, "containing %u"},
    {9, "  user_filter: \"uid=%u\"", 9, "parenthesised"},
    {9, "  user_filter: \"(uid=%u))(\"", 9, "parenthesised"},
    {9, "  user_filter: \"(uid=%u)(cn=x)\"", 9, "parenthesised"},
    {10, "", 5, "group_base and group_filter go together"},
    {11, "  group_filter: \"(member=x)\"", 11, "containing %d or %u"},
    {0, "  group_name_attribute: \"c n\"", 12, "not an LDAP attribute name"},
    {0, "  ssh_key_attribute: \"-x\"", 12, "not an LDAP attribute name"},
    {0, "  timeout: 5", 12, "ldap.timeout: \"5\" is not a duration from 1s to 5m"},
    {0, "  timeout: 10m", 12, "ldap.timeout"},
    {0, "  timeout: 0s", 12, "ldap.timeout"},
    {0, "limits: {max_startup: 3}", 12, "limits: unknown key \"max_startup\""},
    {0, "limits: {max_startups: 0}", 12, "limits.max_startups: expected a whole number"},
    {0, "limits: {max_startups: -1}", 12, "limits.max_startups"},
    {0, "limits: {max_startups: 100001}", 12, "limits.max_startups"},
    {0, "limits: {max_startups: \"64\"}", 12, "limits.max_startups"},
    {0, "limits: {max_auth_tries: 1000}", 12, "limits.max_auth_tries"},
    {0, "limits: {max_startups: 4, max_startups_per_source: 5}", 12, "above max_startups"},
    {0, "limits: {max_startups_per_source: 65}", 12, "above max_startups (64)"},
    {0, "limits: {login_grace: 30}", 12, "limits.login_grace: \"30\" is not a duration"},
    {0, "limits: {login_grace: 1h}", 12, "limits.login_grace"},
    {0, "limits: [64]", 12, "limits: expected a map"},
    {0, "notify_command: [a]", 12, "notify_command: expected a string"},
    {0, "notify_command: \"\"", 12, "must not be empty"},
    {0, "listen: [\"127.0.0.1:2\"]", 12, "duplicate key \"listen\""},
    {0, "x: &a 1", 12, "anchors"},
    {0, "recordings: [1]", 12, "recordings: expected a map"},
    {0, "recordings: {warn_fre: 10%}", 12, "recordings: unknown key \"warn_fre\""},
    {0, "recordings: {warn_free: 100%}", 12, "recordings.warn_free: \"100%\" is not a share"},
    {0, "recordings: {warn_free: -1%}", 12, "recordings.warn_free"},
    {0, "recordings: {warn_free: 10 %}", 12, "recordings.warn_free"},
    {0, "recordings: {min_free: 5X}", 12, "recordings.min_free: \"5X\""},
    {0, "recordings: {min_free: 5GB}", 12, "recordings.min_free"},
    {0, "recordings: {min_free: 99999999999T}", 12, "recordings.min_free"},
    {0, "recordings: {min_free: 20%}", 12, "min_free is above warn_free"},
    {0, "recordings: {warn_free: 1%, min_free: 2%}", 12, "min_free is above warn_free"},
    {0, "recordings: {warn_free: 1G, min_free: 2G}", 12, "min_free is above warn_free"},
    {0, "web: {public_url: \"https://gw\"}", 12, "missing web.listen"},
    {0, "web: {listen: [\"127.0.0.1:8443\"]}", 12, "missing web.public_url"},
    {0, "web: {listen: [\"gw:8443\"], public_url: \"https://gw\"}", 12,
     "web.listen: \"gw:8443\" is not IPV4:PORT"},
    {0, "web: {listen: [\"127.0.0.1:8443\"], public_url: \"http://gw\"}", 12,
     "web.public_url: expected https://HOST"},
    {0, "web: {listen: [\"127.0.0.1:8443\"], public_url: \"https://gw/\"}", 12,
     "web.public_url"},
    {0, "web: {listen: [\"127.0.0.1:8443\"], public_url: \"https://GW\"}", 12,
     "web.public_url"},
    {0, "web: {listen: [\"127.0.0.1:8443\"], public_url: \"https://gw\", port: 1}", 12,
     "web: unknown key \"port\""},
    {0, "web: {listen: [\"127.0.0.1:8443\"], public_url: \"https://gw\", tls_cert: ldap.secret}",
     12, "give both tls_cert and tls_key"},
    {0, "web: {listen: [\"127.0.0.1:8443\"], public_url: \"https://gw\", tls_cert: nope.pem, "
        "tls_key: nope.pem}",
     12, "web.tls_cert: "},
    {0, "recordings: {retain: 0s}", 12, "recordings.retain: \"0s\" is not a duration"},
    {0, "recordings: {retain: 400}", 12, "recordings.retain"},
    {0, "recordings: {retain: 4000d}", 12, "recordings.retain"},
    {0, "audit: {retain: 1d}", 12, "audit.retain needs recordings.retain"},
    {0, "recordings: {retain: 2d}\naudit: {retain: 1d}", 13,
     "audit.retain (1d) is shorter than recordings.retain (2d)"},
    {0, "audit: {retian: 1d}", 12, "audit: unknown key \"retian\""},
    {0, "audit: []", 12, "audit: expected a map"},
    {0, "upstream: [certificate]", 12, "upstream: expected a map"},
    {0, "upstream: {auth: certificates}", 12, "upstream.auth: \"certificates\" is not certificate or key"},
    {0, "upstream: {auth: \"\"}", 12, "upstream.auth"},
    {0, "upstream: {mode: key}", 12, "upstream: unknown key \"mode\""},
    {0, "upstream: {cert_ttl: 5s}", 12, "upstream.cert_ttl: \"5s\" is not a duration from 10s to 1h"},
    {0, "upstream: {cert_ttl: 2h}", 12, "upstream.cert_ttl"},
    {0, "upstream: {cert_ttl: 120}", 12, "upstream.cert_ttl"},
    {0, "upstream: {cert_rate: 0}", 12, "upstream.cert_rate"},
    {0, "upstream: {cert_rate: 100001}", 12, "upstream.cert_rate"},
    {0, "upstream: {signer_user: no-such-account-here}", 12,
     "upstream.signer_user: no-such-account-here: no such user"},
};

static void test_bad_configs(void **state)
{
    struct tmp *t = *state;

    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad_case *c = &bad_cases[i];
        struct config *cfg = NULL;
        char err[1024] = "", prefix[256];
        int r = 0;

        write_config(t, c->replace, c->text);
        r = config_load(t->cfg, &cfg, err, sizeof(err));
        snprintf(prefix, sizeof(prefix), "%s:%d: ", t->cfg, c->line);
        if (r >= 0 || strncmp(err, prefix, strlen(prefix)) != 0 ||
            (c->needle != NULL && strstr(err, c->needle) == NULL)) {
            print_error("case %zu: r=%d err \"%s\"; wanted line %d, \"%s\"\n", i, r, err, c->line,
                        c->needle != NULL ? c->needle : "");
            fail();
        }
        assert_null(cfg);
    }
}

static void test_full_config(void **state)
{
    struct tmp *t = *state;
    struct config *cfg = NULL;
    char err[1024] = "", want[PATH_MAX + 32], dir[PATH_MAX];
    int r = 0;

    assert_non_null(realpath(t->dir, dir));
    {
        char buf[4096];

        snprintf(buf, sizeof(buf),
                 "listen: [\"0.0.0.0:2222\", \"[::1]:2200\"]\nstate_dir: %s/state\n"
                 "policy: ./policy.yaml\nldap:\n  url: LDAP://ldap.example.org\n"
                 "  bind_dn: cn=x\n  bind_password_file: ldap.secret\n  user_base: ou=p\n"
                 "  user_filter: \"(uid=%%u)\"\n  group_base: ou=g\n"
                 "  group_filter: \"(memberUid=%%u)\"\n"
                 "  starttls: true\n  ca_file: ca.pem\n  group_name_attribute: uid\n"
                 "  ssh_key_attribute: sshPublicKey;binary\n  timeout: 2m\n"
                 "limits: {max_startups: 10, max_startups_per_source: 2, login_grace: 45s, "
                 "max_auth_tries: 3}\nnotify_command: /usr/local/bin/page-oncall\n"
                 "recordings: {warn_free: 12.5%%, min_free: 500M, retain: 400d}\n"
                 "audit: {retain: 800d, archive_dir: archives}\n",
                 t->dir);
        tmp_file(t, "drawbridge.yaml", buf);
    }
    r = config_load(t->cfg, &cfg, err, sizeof(err));
    if (r != 0) {
        print_error("%s\n", err);
    }
    assert_int_equal(r, 0);
    assert_string_equal(cfg->path, t->cfg);
    assert_int_equal(cfg->nlisten, 2);
    assert_string_equal(cfg->listen[0].host, "0.0.0.0");
    assert_int_equal(cfg->listen[0].port, 2222);
    assert_string_equal(cfg->listen[1].host, "::1");
    assert_int_equal(cfg->listen[1].port, 2200);
    snprintf(want, sizeof(want), "%s/state", t->dir);
    assert_string_equal(cfg->state_dir, want);
    snprintf(want, sizeof(want), "%s/./policy.yaml", dir);
    assert_string_equal(cfg->policy_path, want);
    assert_string_equal(cfg->ldap.url, "LDAP://ldap.example.org");
    assert_int_equal(cfg->ldap.starttls, 1);
    snprintf(want, sizeof(want), "%s/ca.pem", dir);
    assert_string_equal(cfg->ldap.ca_file, want);
    snprintf(want, sizeof(want), "%s/ldap.secret", dir);
    assert_string_equal(cfg->ldap.bind_password_file, want);
    assert_string_equal(cfg->ldap.bind_dn, "cn=x");
    assert_string_equal(cfg->ldap.user_base, "ou=p");
    assert_string_equal(cfg->ldap.user_filter, "(uid=%u)");
    assert_string_equal(cfg->ldap.group_base, "ou=g");
    assert_string_equal(cfg->ldap.group_filter, "(memberUid=%u)");
    assert_string_equal(cfg->ldap.group_name_attribute, "uid");
    assert_string_equal(cfg->ldap.ssh_key_attribute, "sshPublicKey;binary");
    assert_int_equal(cfg->ldap.timeout_ms, 120000);
    assert_int_equal(cfg->limits.max_startups, 10);
    assert_int_equal(cfg->limits.max_startups_per_source, 2);
    assert_int_equal(cfg->limits.login_grace, 45);
    assert_int_equal(cfg->limits.max_auth_tries, 3);
    assert_string_equal(cfg->notify_command, "/usr/local/bin/page-oncall");
    assert_true(cfg->recordings.warn_free.is_percent);
    assert_true(cfg->recordings.warn_free.percent == 12.5);
    assert_false(cfg->recordings.min_free.is_percent);
    assert_true(cfg->recordings.min_free.bytes == 500ULL * 1024 * 1024);
    assert_int_equal(cfg->recordings.retain, 400 * 86400LL);
    assert_int_equal(cfg->audit.retain, 800 * 86400LL);
    snprintf(want, sizeof(want), "%s/archives", dir);
    assert_string_equal(cfg->audit.archive_dir, want);
    config_free(cfg);
}

static void test_defaults(void **state)
{
    struct tmp *t = *state;
    struct config *cfg = NULL;
    char err[1024] = "", want[PATH_MAX + 32];
    int r = 0;

    /* No bind (anonymous), no groups, explicit nulls. */
    {
        static const char text[] =
            "listen: [\"127.0.0.1:2222\"]\nstate_dir: state\npolicy: policy.yaml\n"
            "ldap:\n  url: ldap://127.0.0.1\n  ca_file: null\n  user_base: ou=p\n"
            "  user_filter: \"(uid=%u)\"\n  starttls: false\n"
            "limits: {login_grace: 5s}\nnotify_command: null\n";

        tmp_file(t, "drawbridge.yaml", text);
    }
    r = config_load(t->cfg, &cfg, err, sizeof(err));
    if (r != 0) {
        print_error("%s\n", err);
    }
    assert_int_equal(r, 0);
    assert_int_equal(cfg->limits.max_startups, 64);
    assert_int_equal(cfg->limits.max_startups_per_source, 8);
    assert_int_equal(cfg->limits.login_grace, 5);
    assert_int_equal(cfg->limits.max_auth_tries, 6);
    assert_int_equal(cfg->ldap.timeout_ms, 5000);
    assert_int_equal(cfg->ldap.starttls, 0);
    assert_null(cfg->ldap.ca_file);
    assert_null(cfg->ldap.bind_dn);
    assert_null(cfg->ldap.bind_password_file);
    assert_null(cfg->ldap.group_base);
    assert_null(cfg->ldap.group_filter);
    assert_string_equal(cfg->ldap.group_name_attribute, "cn");
    assert_string_equal(cfg->ldap.ssh_key_attribute, "sshPublicKey");
    assert_null(cfg->notify_command);
    assert_true(cfg->state_dir[0] == '/');
    assert_true(cfg->recordings.warn_free.is_percent && cfg->recordings.warn_free.percent == 10);
    assert_true(cfg->recordings.min_free.is_percent && cfg->recordings.min_free.percent == 2);
    assert_int_equal(cfg->recordings.retain, 0);
    assert_int_equal(cfg->audit.retain, 0);
    snprintf(want, sizeof(want), "%s/audit-archive", cfg->state_dir);
    assert_string_equal(cfg->audit.archive_dir, want);
    /* key mode unless the config says otherwise */
    assert_int_equal(cfg->upstream.auth, CONFIG_UPSTREAM_KEY);
    assert_int_equal(cfg->upstream.cert_ttl, 120);
    assert_int_equal(cfg->upstream.cert_rate, 120);
    assert_null(cfg->upstream.signer_user);
    config_free(cfg);

    /* upstream: every key, and a target overriding it either way */
    write_config(t, 0, "upstream: {auth: certificate, cert_ttl: 10m, signer_user: root, cert_rate: 7}");
    assert_int_equal(config_load(t->cfg, &cfg, err, sizeof(err)), 0);
    assert_int_equal(cfg->upstream.auth, CONFIG_UPSTREAM_CERTIFICATE);
    assert_int_equal(cfg->upstream.cert_ttl, 600);
    assert_int_equal(cfg->upstream.cert_rate, 7);
    assert_string_equal(cfg->upstream.signer_user, "root");
    {
        struct policy_target tg;

        memset(&tg, 0, sizeof(tg));
        assert_int_equal(config_target_uses_certificate(cfg, &tg), 1);
        assert_int_equal(config_target_uses_certificate(cfg, NULL), 1);
        tg.upstream_auth = POLICY_UPSTREAM_KEY;
        assert_int_equal(config_target_uses_certificate(cfg, &tg), 0);
        cfg->upstream.auth = CONFIG_UPSTREAM_KEY;
        tg.upstream_auth = POLICY_UPSTREAM_CERTIFICATE;
        assert_int_equal(config_target_uses_certificate(cfg, &tg), 1);
        tg.upstream_auth = POLICY_UPSTREAM_DEFAULT;
        assert_int_equal(config_target_uses_certificate(cfg, &tg), 0);
    }
    config_free(cfg);

    /* The base config with no limits at all gets every default too. */
    write_config(t, 0, NULL);
    assert_int_equal(config_load(t->cfg, &cfg, err, sizeof(err)), 0);
    assert_int_equal(cfg->limits.login_grace, 30);
    assert_int_equal(cfg->limits.max_startups_per_source, 8);
    config_free(cfg);
    config_free(NULL);

    tmp_file(t, "drawbridge.yaml",
             "listen: [\"127.0.0.1:2222\"]\nstate_dir: state\npolicy: policy.yaml\n");
    assert_int_equal(config_load(t->cfg, &cfg, err, sizeof(err)), DB_ERR_INVALID);
    assert_non_null(strstr(err, "drawbridge.yaml:1: missing ldap"));
    assert_null(cfg);
    tmp_file(t, "drawbridge.yaml",
             "listen: [\"127.0.0.1:2222\"]\nstate_dir: state\npolicy: policy.yaml\n"
             "ldap: [ldap://x]\n");
    assert_int_equal(config_load(t->cfg, &cfg, err, sizeof(err)), DB_ERR_INVALID);
    assert_non_null(strstr(err, "drawbridge.yaml:4: ldap: expected a map, got a list"));
}

/* Relative paths follow the config file, not the working directory. */
static void test_relative_paths(void **state)
{
    struct tmp *t = *state;
    struct config *cfg = NULL;
    char err[1024] = "", old[PATH_MAX], want[PATH_MAX + 32], dir[PATH_MAX];

    assert_non_null(realpath(t->dir, dir));
    assert_non_null(getcwd(old, sizeof(old)));
    write_config(t, 0, NULL);
    assert_int_equal(chdir("/"), 0);
    assert_int_equal(config_load(t->cfg, &cfg, err, sizeof(err)), 0);
    snprintf(want, sizeof(want), "%s/policy.yaml", dir);
    assert_string_equal(cfg->policy_path, want);
    snprintf(want, sizeof(want), "%s/state", dir);
    assert_string_equal(cfg->state_dir, want);
    config_free(cfg);

    /* A config named relative to the working directory works the same. */
    assert_int_equal(chdir(t->dir), 0);
    assert_int_equal(config_load("drawbridge.yaml", &cfg, err, sizeof(err)), 0);
    snprintf(want, sizeof(want), "%s/policy.yaml", dir);
    assert_string_equal(cfg->policy_path, want);
    config_free(cfg);
    assert_int_equal(chdir(old), 0);

    assert_int_equal(config_load("/nonexistent/drawbridge.yaml", &cfg, err, sizeof(err)),
                     DB_ERR_IO);
    assert_non_null(strstr(err, "/nonexistent/drawbridge.yaml"));
    assert_null(cfg);
    assert_int_equal(config_load(t->dir, &cfg, err, sizeof(err)), DB_ERR_INVALID);
    assert_non_null(strstr(err, "not a regular file"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bad_configs, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_full_config, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_defaults, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_relative_paths, fixture_setup, fixture_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

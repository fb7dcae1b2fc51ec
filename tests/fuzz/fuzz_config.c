/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the daemon's configuration reader (broker/config.c
 * over policies/yamltree.c).  config_load() reads a file, so each input is
 * written to one file in a directory of this process's own under /tmp,
 * created on the first run, rewritten on every run and removed at exit.  The
 * directory also holds the files the seed configs name (policy.yaml,
 * ldap.secret, ca.pem), so inputs get past the path checks to the keys after
 * them.
 *
 * Besides memory errors and leaks it checks that:
 *
 *   - a refused config comes with exactly one line of "file:line: message",
 *     the line within the file (or just after it), and no config;
 *   - an accepted config holds what DESIGN.md promises: 1 to 8 numeric
 *     listen addresses with ports 1-65535, absolute paths, a parenthesised
 *     user filter with %u, keys that go together present together, limits
 *     and timeouts within their ranges.
 */
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "broker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_dir[64];
static char fuzz_cfg[128];

static void fuzz_cleanup(void)
{
    static const char *const names[] = {"drawbridge.yaml", "policy.yaml", "ldap.secret",
                                        "ca.pem"};
    char path[128];

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", fuzz_dir, names[i]);
        (void)unlink(path);
    }
    (void)rmdir(fuzz_dir);
}

static void put_file(const char *name, const void *buf, size_t len)
{
    char path[128];
    const char *p = buf;
    int fd = -1;

    snprintf(path, sizeof(path), "%s/%s", fuzz_dir, name);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        abort();
    }
    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n <= 0) {
            abort();
        }
        p += n;
        len -= (size_t)n;
    }
    if (close(fd) != 0) {
        abort();
    }
}

static void fuzz_setup(void)
{
    snprintf(fuzz_dir, sizeof(fuzz_dir), "/tmp/fuzz_config.%ld.XXXXXX", (long)getpid());
    if (mkdtemp(fuzz_dir) == NULL) {
        abort();
    }
    snprintf(fuzz_cfg, sizeof(fuzz_cfg), "%s/drawbridge.yaml", fuzz_dir);
    atexit(fuzz_cleanup);
    put_file("policy.yaml", "targets: []\n", 12);
    put_file("ldap.secret", "secret\n", 7);
    put_file("ca.pem", "-----BEGIN CERTIFICATE-----\n", 28);
}

/* Says which promise an error message broke, then stops the run. */
static void bad_error(const char *why, const char *err)
{
    fprintf(stderr, "fuzz_config: %s: \"%s\"\n", why, err);
    abort();
}

/* "FILE:LINE: MESSAGE" on one line, LINE within the file's nlines lines. */
static void check_error(int r, const char *err, int nlines)
{
    size_t plen = strlen(fuzz_cfg);
    const char *p = NULL;
    char *end = NULL;
    long line = 0;

    if (err[0] == '\0') {
        bad_error("empty error", err);
    }
    if (strchr(err, '\n') != NULL || strchr(err, '\r') != NULL) {
        bad_error("error is more than one line", err);
    }
    if (strncmp(err, fuzz_cfg, plen) != 0 || err[plen] != ':') {
        bad_error("error does not start with the file name", err);
    }
    if (r == DB_ERR_NOMEM) {
        return; /* "FILE: out of memory" has no line */
    }
    if (r != DB_ERR_INVALID) {
        bad_error("unexpected error code", err);
    }
    p = err + plen + 1;
    if (*p < '0' || *p > '9') {
        bad_error("error has no line number", err);
    }
    line = strtol(p, &end, 10);
    /* the YAML reader puts an error at the end of the input on the line after it */
    if (line < 1 || line > nlines + 1) {
        bad_error("error's line is not in the file", err);
    }
    if (end[0] != ':' || end[1] != ' ' || end[2] == '\0') {
        bad_error("error is not FILE:LINE: MESSAGE", err);
    }
}

static int absolute(const char *p)
{
    return p != NULL && p[0] == '/';
}

static void check_config(const struct config *c)
{
    const struct config_ldap *l = &c->ldap;
    const struct config_limits *m = &c->limits;

    if (c->path == NULL || strcmp(c->path, fuzz_cfg) != 0) {
        abort();
    }
    if (c->nlisten < 1 || c->nlisten > 8 || c->listen == NULL) {
        abort();
    }
    for (size_t i = 0; i < c->nlisten; i++) {
        if (c->listen[i].host == NULL || c->listen[i].host[0] == '\0' ||
            c->listen[i].port < 1 || c->listen[i].port > 65535) {
            abort();
        }
        for (size_t j = 0; j < i; j++) {
            if (c->listen[i].port == c->listen[j].port &&
                strcmp(c->listen[i].host, c->listen[j].host) == 0) {
                abort();
            }
        }
    }
    if (!absolute(c->state_dir) || !absolute(c->policy_path)) {
        abort();
    }
    if (l->url == NULL ||
        (strncasecmp(l->url, "ldap://", 7) != 0 && strncasecmp(l->url, "ldaps://", 8) != 0)) {
        abort();
    }
    if (l->starttls && strncasecmp(l->url, "ldaps://", 8) == 0) {
        abort();
    }
    if ((l->ca_file != NULL && !absolute(l->ca_file)) ||
        (l->bind_password_file != NULL && !absolute(l->bind_password_file)) ||
        ((l->bind_dn == NULL) != (l->bind_password_file == NULL)) ||
        ((l->group_base == NULL) != (l->group_filter == NULL))) {
        abort();
    }
    if (l->user_base == NULL || l->user_base[0] == '\0' || l->user_filter == NULL ||
        strstr(l->user_filter, "%u") == NULL || l->user_filter[0] != '(' ||
        l->user_filter[strlen(l->user_filter) - 1] != ')') {
        abort();
    }
    if (l->group_filter != NULL && strstr(l->group_filter, "%u") == NULL &&
        strstr(l->group_filter, "%d") == NULL) {
        abort();
    }
    if (l->group_name_attribute == NULL || l->ssh_key_attribute == NULL ||
        l->timeout_ms < 1000 || l->timeout_ms > 300000) {
        abort();
    }
    if (m->max_startups < 1 || m->max_startups > 10000 || m->max_startups_per_source < 1 ||
        m->max_startups_per_source > m->max_startups || m->login_grace < 1 ||
        m->login_grace > 600 || m->max_auth_tries < 1 || m->max_auth_tries > 100 ||
        m->slow_after_failures < 1) {
        abort();
    }
    if ((c->notify_command != NULL && c->notify_command[0] == '\0') ||
        (c->user != NULL && c->user[0] == '\0')) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct config *cfg = NULL;
    char err[1024];
    int r = 0, nlines = 1;

    if (fuzz_dir[0] == '\0') {
        fuzz_setup();
    }
    put_file("drawbridge.yaml", data, size);
    /* every byte sequence YAML may take for a line break counts, \r\n twice */
    for (size_t i = 0; i < size; i++) {
        nlines += data[i] == '\n' || data[i] == '\r' ||
                  (data[i] == 0xc2 && i + 1 < size && data[i + 1] == 0x85) ||
                  (data[i] == 0xe2 && i + 2 < size && data[i + 1] == 0x80 &&
                   (data[i + 2] == 0xa8 || data[i + 2] == 0xa9));
    }
    memset(err, 0, sizeof(err));
    r = config_load(fuzz_cfg, &cfg, err, sizeof(err));
    if (r < 0) {
        if (cfg != NULL) {
            abort();
        }
        check_error(r, err, nlines);
        return 0;
    }
    if (r != 0 || cfg == NULL) {
        abort();
    }
    check_config(cfg);
    config_free(cfg);
    return 0;
}

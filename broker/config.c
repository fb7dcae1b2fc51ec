/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reads the daemon's configuration file (DESIGN.md, "Configuration") into
 * struct config.  Every key is known and every value checked before the
 * daemon does anything: an unknown key, a bad value or a missing file stops
 * it with "file:line: message" rather than starting half-configured.
 *
 * Relative paths (state_dir, policy, ldap.bind_password_file, ldap.ca_file)
 * are taken relative to the directory holding the config file and stored
 * absolute, so they mean the same thing whatever the daemon's working
 * directory later is.  An optional key written as null is the same as absent.
 */
#include "broker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy.h"

#define CONFIG_LISTEN_MAX 8 /* what the listener serves (server.c) */

struct cparse {
    const char *name;   /* the config file as given, for messages */
    char dir[PATH_MAX]; /* its directory, absolute */
    char *err;
    size_t errlen;
};

static int cfg_fail(struct cparse *c, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int cfg_fail(struct cparse *c, int line, const char *fmt, ...)
{
    char msg[PATH_MAX + 256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    db_oneline(msg);
    db_errf(c->err, c->errlen, "%s:%d: %s", c->name, line, msg);
    return DB_ERR_INVALID;
}

static int cfg_nomem(struct cparse *c)
{
    db_errf(c->err, c->errlen, "%s: out of memory", c->name);
    return DB_ERR_NOMEM;
}

static const struct ytree *cfg_opt(const struct ytree *m, const char *key)
{
    const struct ytree *v = ytree_get(m, key);

    return ytree_is_null(v) ? NULL : v;
}

static int cfg_keys(struct cparse *c, const struct ytree *m, const char *what,
                    const char *const *allowed)
{
    int line = 0;
    const char *bad = ytree_unknown_key(m, allowed, &line);

    if (bad != NULL) {
        return cfg_fail(c, line, "%s%sunknown key \"%s\"", what, what[0] ? ": " : "", bad);
    }
    return 0;
}

static int cfg_kind(struct cparse *c, const struct ytree *n, enum ytree_kind kind, const char *what)
{
    static const char *const names[] = {"a string", "a list", "a map"};

    if (n->kind != kind || ytree_is_null(n)) {
        return cfg_fail(c, n->line, "%s: expected %s, got %s", what, names[kind],
                        ytree_kind_name(n));
    }
    return 0;
}

/* A required key of map m: missing, null or empty is an error. */
static int cfg_req_str(struct cparse *c, const struct ytree *m, const char *key, const char *what,
                       const struct ytree **node, const char **out)
{
    int r = DB_ERR_INTERNAL;

    *out = NULL;
    *node = ytree_get(m, key);
    if (*node == NULL) {
        return cfg_fail(c, m->line, "missing %s", what);
    }
    if ((r = cfg_kind(c, *node, YTREE_SCALAR, what)) < 0) {
        return r;
    }
    if ((*node)->value[0] == '\0') {
        return cfg_fail(c, (*node)->line, "%s: must not be empty", what);
    }
    *out = (*node)->value;
    return 0;
}

/* An optional string, copied; *out keeps dflt (copied too, may be NULL) when absent. */
static int cfg_opt_str(struct cparse *c, const struct ytree *m, const char *key, const char *what,
                       const char *dflt, char **out)
{
    const struct ytree *v = cfg_opt(m, key);
    int r = DB_ERR_INTERNAL;

    if (v != NULL) {
        if ((r = cfg_kind(c, v, YTREE_SCALAR, what)) < 0) {
            return r;
        }
        if (v->value[0] == '\0') {
            return cfg_fail(c, v->line, "%s: must not be empty", what);
        }
        dflt = v->value;
    }
    if (dflt != NULL && (*out = strdup(dflt)) == NULL) {
        return cfg_nomem(c);
    }
    return 0;
}

static int cfg_resolve(struct cparse *c, const char *p, char **out)
{
    int n = 0;

    if (p[0] == '/') {
        n = asprintf(out, "%s", p);
    } else {
        n = asprintf(out, "%s/%s", c->dir, p);
    }
    if (n < 0) {
        *out = NULL;
        return cfg_nomem(c);
    }
    return 0;
}

/* The file must exist, be readable by us and be a regular file (not a FIFO, a device...). */
static int cfg_regular_file(struct cparse *c, int line, const char *what, const char *path)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    int r = DB_ERR_INVALID;

    if (fd < 0) {
        return cfg_fail(c, line, "%s: %s: %s", what, path, strerror(errno));
    }
    if (fstat(fd, &st) != 0) {
        r = cfg_fail(c, line, "%s: %s: %s", what, path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        r = cfg_fail(c, line, "%s: %s: not a regular file", what, path);
    } else {
        r = 0;
    }
    close(fd);
    return r;
}

/* A path key: resolved against the config's directory; must_exist checks the file. */
static int cfg_path(struct cparse *c, const struct ytree *m, const char *key, const char *what,
                    int required, int must_exist, char **out)
{
    const struct ytree *v = required ? ytree_get(m, key) : cfg_opt(m, key);
    const char *s = NULL;
    int r = DB_ERR_INTERNAL;

    *out = NULL;
    if (v == NULL) {
        return required ? cfg_fail(c, m->line, "missing %s", what) : 0;
    }
    if ((r = cfg_req_str(c, m, key, what, &v, &s)) < 0) {
        return r;
    }
    if ((r = cfg_resolve(c, s, out)) < 0) {
        return r;
    }
    if (must_exist) {
        return cfg_regular_file(c, v->line, what, *out);
    }
    return 0;
}

static int cfg_port(const char *s, int *port)
{
    long v = 0;

    if (s[0] == '\0' || s[0] == '0' || strlen(s) > 5) {
        return DB_ERR_INVALID;
    }
    for (size_t i = 0; s[i] != '\0'; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return DB_ERR_INVALID;
        }
        v = v * 10 + (s[i] - '0');
    }
    if (v > 65535) {
        return DB_ERR_INVALID;
    }
    *port = (int)v;
    return 0;
}

/* "1.2.3.4:PORT" or "[v6]:PORT", numeric only: the listener never resolves names. */
static int cfg_listen_parse(const char *s, struct config_listen *l)
{
    char host[INET6_ADDRSTRLEN + 1];
    const char *h = s, *colon = NULL;
    unsigned char addr[sizeof(struct in6_addr)];
    size_t hlen = 0;
    int family = AF_INET;

    if (s[0] == '[') {
        const char *end = strchr(s, ']');

        if (end == NULL || end[1] != ':') {
            return DB_ERR_INVALID;
        }
        h = s + 1;
        hlen = (size_t)(end - h);
        colon = end + 1;
        family = AF_INET6;
    } else {
        colon = strchr(s, ':');
        if (colon == NULL || strchr(colon + 1, ':') != NULL) {
            return DB_ERR_INVALID;
        }
        hlen = (size_t)(colon - s);
    }
    if (hlen == 0 || hlen >= sizeof(host)) {
        return DB_ERR_INVALID;
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    if (inet_pton(family, host, addr) != 1 || cfg_port(colon + 1, &l->port) < 0) {
        return DB_ERR_INVALID;
    }
    l->host = strdup(host);
    return l->host != NULL ? 0 : DB_ERR_NOMEM;
}

static int cfg_listen(struct cparse *c, const struct ytree *n, const char *what,
                      struct config *cfg)
{
    int r = cfg_kind(c, n, YTREE_SEQ, what);

    if (r < 0) {
        return r;
    }
    if (n->nkids == 0 || n->nkids > CONFIG_LISTEN_MAX) {
        return cfg_fail(c, n->line, "%s: give 1 to %d addresses", what, CONFIG_LISTEN_MAX);
    }
    cfg->listen = calloc(n->nkids, sizeof(*cfg->listen));
    if (cfg->listen == NULL) {
        return cfg_nomem(c);
    }
    for (size_t i = 0; i < n->nkids; i++) {
        const struct ytree *k = n->kids[i];

        if ((r = cfg_kind(c, k, YTREE_SCALAR, what)) < 0) {
            return r;
        }
        r = cfg_listen_parse(k->value, &cfg->listen[i]);
        if (r == DB_ERR_NOMEM) {
            return cfg_nomem(c);
        }
        if (r < 0) {
            return cfg_fail(c, k->line,
                            "%s: \"%s\" is not IPV4:PORT or [IPV6]:PORT (numeric, port "
                            "1-65535)",
                            what, k->value);
        }
        cfg->nlisten++;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(cfg->listen[j].host, cfg->listen[i].host) == 0 &&
                cfg->listen[j].port == cfg->listen[i].port) {
                return cfg_fail(c, k->line, "%s: \"%s\" is listed twice", what, k->value);
            }
        }
    }
    return 0;
}

/* A DURATION within [min, max] seconds. */
static int cfg_duration(struct cparse *c, const struct ytree *v, const char *what, long long min,
                        long long max, long long *out)
{
    char lo[32], hi[32];
    int r = cfg_kind(c, v, YTREE_SCALAR, what);

    if (r < 0) {
        return r;
    }
    db_format_duration(min, lo, sizeof(lo));
    db_format_duration(max, hi, sizeof(hi));
    if (db_parse_duration(v->value, out) < 0 || *out < min || *out > max) {
        return cfg_fail(c, v->line, "%s: \"%s\" is not a duration from %s to %s (like 5s)", what,
                        v->value, lo, hi);
    }
    return 0;
}

static int cfg_limits(struct cparse *c, const struct ytree *n, struct config_limits *l)
{
    static const char *const keys[] = {"max_startups",   "max_startups_per_source",
                                       "login_grace",    "max_auth_tries",
                                       "slow_after_failures", NULL};
    static const struct {
        const char *key;
        long long max;
    } ints[] = {{"max_startups", 10000},
                {"max_startups_per_source", 10000},
                {"max_auth_tries", 100},
                {"slow_after_failures", 1000000}};
    int *dst[] = {&l->max_startups, &l->max_startups_per_source, &l->max_auth_tries,
                  &l->slow_after_failures};
    const struct ytree *v = NULL;
    long long x = 0;
    int r = DB_ERR_INTERNAL;

    if ((r = cfg_kind(c, n, YTREE_MAP, "limits")) < 0 || (r = cfg_keys(c, n, "limits", keys)) < 0) {
        return r;
    }
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        if ((v = cfg_opt(n, ints[i].key)) == NULL) {
            continue;
        }
        if (ytree_int(v, 1, ints[i].max, &x) < 0) {
            return cfg_fail(c, v->line, "limits.%s: expected a whole number from 1 to %lld",
                            ints[i].key, ints[i].max);
        }
        *dst[i] = (int)x;
    }
    if ((v = cfg_opt(n, "login_grace")) != NULL) {
        if ((r = cfg_duration(c, v, "limits.login_grace", 1, 600, &x)) < 0) {
            return r;
        }
        l->login_grace = (int)x;
    }
    if (l->max_startups_per_source > l->max_startups) {
        return cfg_fail(c, n->line,
                        "limits: max_startups_per_source (%d) is above max_startups (%d)",
                        l->max_startups_per_source, l->max_startups);
    }
    return 0;
}

/*
 * A watermark: "10%" (of the file system, decimals allowed, below 100) or a
 * size, "500M" (K, M, G, T: powers of 1024; no suffix: bytes).  "0%" or 0
 * turns it off.
 */
static int cfg_free_parse(const char *s, struct config_free *out)
{
    char *end = NULL;
    size_t n = strlen(s);

    memset(out, 0, sizeof(*out));
    if (n == 0 || n > 24 || !(s[0] >= '0' && s[0] <= '9')) {
        return DB_ERR_INVALID;
    }
    if (s[n - 1] == '%') {
        errno = 0;
        out->percent = strtod(s, &end);
        if (errno != 0 || end != s + n - 1 || out->percent < 0 || out->percent >= 100) {
            return DB_ERR_INVALID;
        }
        out->is_percent = 1;
        return 0;
    }
    errno = 0;
    out->bytes = strtoull(s, &end, 10);
    if (errno != 0) {
        return DB_ERR_INVALID;
    }
    if (*end != '\0') {
        static const char units[] = "KMGT";
        const char *u = strchr(units, *end);

        if (u == NULL || end[1] != '\0') {
            return DB_ERR_INVALID;
        }
        for (const char *k = units; k <= u; k++) {
            if (out->bytes > (1ULL << 53)) {
                return DB_ERR_INVALID;
            }
            out->bytes *= 1024;
        }
    }
    return 0;
}

static int cfg_free(struct cparse *c, const struct ytree *n, const char *key, struct config_free *out)
{
    const struct ytree *v = cfg_opt(n, key);
    int r = DB_ERR_INTERNAL;
    char what[64];

    snprintf(what, sizeof(what), "recordings.%s", key);
    if (v == NULL) {
        return 0;
    }
    if ((r = cfg_kind(c, v, YTREE_SCALAR, what)) < 0) {
        return r;
    }
    if (cfg_free_parse(v->value, out) < 0) {
        return cfg_fail(c, v->line,
                        "%s: \"%s\" is not a share of the disk below 100%% (like 10%%) or a size "
                        "(like 500M or 2G)",
                        what, v->value);
    }
    return 0;
}

/* 1s to ten years: what a DURATION can say. */
#define CFG_RETAIN_MAX (10LL * 365 * 86400)

static int cfg_recordings(struct cparse *c, const struct ytree *n, struct config_recordings *rc)
{
    static const char *const keys[] = {"retain", "warn_free", "min_free", NULL};
    const struct ytree *v = NULL;
    int r = DB_ERR_INTERNAL;

    if ((r = cfg_kind(c, n, YTREE_MAP, "recordings")) < 0 ||
        (r = cfg_keys(c, n, "recordings", keys)) < 0) {
        return r;
    }
    if ((v = cfg_opt(n, "retain")) != NULL) {
        if ((r = cfg_duration(c, v, "recordings.retain", 1, CFG_RETAIN_MAX, &rc->retain)) < 0) {
            return r;
        }
        rc->retain_line = v->line;
    }
    if ((r = cfg_free(c, n, "warn_free", &rc->warn_free)) < 0 ||
        (r = cfg_free(c, n, "min_free", &rc->min_free)) < 0) {
        return r;
    }
    /* comparable only when both are shares or both sizes */
    if (rc->warn_free.is_percent == rc->min_free.is_percent &&
        (rc->warn_free.is_percent ? rc->min_free.percent > rc->warn_free.percent
                                  : rc->min_free.bytes > rc->warn_free.bytes)) {
        return cfg_fail(c, ytree_get(n, "min_free") != NULL ? ytree_get(n, "min_free")->line
                                                            : n->line,
                        "recordings: min_free is above warn_free (new sessions would be refused "
                        "before anyone is warned)");
    }
    return 0;
}

static int cfg_audit(struct cparse *c, const struct ytree *n, struct config *cfg)
{
    static const char *const keys[] = {"retain", "archive_dir", NULL};
    const struct ytree *v = NULL;
    char d1[32], d2[32];
    int r = DB_ERR_INTERNAL;

    if ((r = cfg_kind(c, n, YTREE_MAP, "audit")) < 0 || (r = cfg_keys(c, n, "audit", keys)) < 0) {
        return r;
    }
    if ((v = cfg_opt(n, "retain")) != NULL) {
        if ((r = cfg_duration(c, v, "audit.retain", 1, CFG_RETAIN_MAX, &cfg->audit.retain)) < 0) {
            return r;
        }
        /* the rows that tell of a recording, its expiry included, outlive it */
        if (cfg->recordings.retain == 0) {
            return cfg_fail(c, v->line,
                            "audit.retain needs recordings.retain: recordings kept forever keep "
                            "their audit rows forever");
        }
        if (cfg->audit.retain < cfg->recordings.retain) {
            db_format_duration(cfg->audit.retain, d1, sizeof(d1));
            db_format_duration(cfg->recordings.retain, d2, sizeof(d2));
            return cfg_fail(c, v->line, "audit.retain (%s) is shorter than recordings.retain (%s)",
                            d1, d2);
        }
    }
    return cfg_path(c, n, "archive_dir", "audit.archive_dir", 0, 0, &cfg->audit.archive_dir);
}

/* Parentheses balanced, outermost pair around the whole filter (RFC 4515). */
static int cfg_filter_ok(const char *f)
{
    int depth = 0;
    size_t len = strlen(f);

    if (len < 3 || f[0] != '(' || f[len - 1] != ')') {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        depth += f[i] == '(';
        depth -= f[i] == ')';
        if (depth < 0 || (depth == 0 && i + 1 < len)) {
            return 0;
        }
    }
    return depth == 0;
}

/* An LDAP attribute description: a name (with options) or a numeric OID. */
static int cfg_attr_ok(const char *a)
{
    if (a == NULL || a[0] == '\0') {
        return 0;
    }
    for (size_t i = 0; a[i] != '\0'; i++) {
        char ch = a[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              (i > 0 && (ch == '-' || ch == '.' || ch == ';')))) {
            return 0;
        }
    }
    return 1;
}

static int cfg_ldap_filters(struct cparse *c, const struct ytree *n, struct config_ldap *l)
{
    const struct ytree *v = NULL;
    const char *s = NULL;
    int r = DB_ERR_INTERNAL;

    if ((r = cfg_req_str(c, n, "user_filter", "ldap.user_filter", &v, &s)) < 0) {
        return r;
    }
    if (strstr(s, "%u") == NULL || !cfg_filter_ok(s)) {
        return cfg_fail(c, v->line,
                        "ldap.user_filter: must be a parenthesised filter containing %%u");
    }
    if ((l->user_filter = strdup(s)) == NULL) {
        return cfg_nomem(c);
    }
    /* Groups are optional, but base and filter go together. */
    if ((r = cfg_opt_str(c, n, "group_base", "ldap.group_base", NULL, &l->group_base)) < 0 ||
        (r = cfg_opt_str(c, n, "group_filter", "ldap.group_filter", NULL, &l->group_filter)) < 0) {
        return r;
    }
    if ((l->group_base == NULL) != (l->group_filter == NULL)) {
        return cfg_fail(c, n->line, "ldap: group_base and group_filter go together");
    }
    if (l->group_filter != NULL &&
        ((strstr(l->group_filter, "%d") == NULL && strstr(l->group_filter, "%u") == NULL) ||
         !cfg_filter_ok(l->group_filter))) {
        return cfg_fail(c, ytree_get(n, "group_filter")->line,
                        "ldap.group_filter: must be a parenthesised filter containing %%d or %%u");
    }
    return 0;
}

static int cfg_ldap(struct cparse *c, const struct ytree *n, struct config_ldap *l)
{
    static const char *const keys[] = {"url",
                                       "starttls",
                                       "ca_file",
                                       "bind_dn",
                                       "bind_password_file",
                                       "user_base",
                                       "user_filter",
                                       "group_base",
                                       "group_filter",
                                       "group_name_attribute",
                                       "ssh_key_attribute",
                                       "timeout",
                                       NULL};
    const struct ytree *v = NULL;
    const char *s = NULL;
    long long secs = 0;
    int r = DB_ERR_INTERNAL;

    if ((r = cfg_kind(c, n, YTREE_MAP, "ldap")) < 0 || (r = cfg_keys(c, n, "ldap", keys)) < 0) {
        return r;
    }
    if ((r = cfg_req_str(c, n, "url", "ldap.url", &v, &s)) < 0) {
        return r;
    }
    if (strncasecmp(s, "ldap://", 7) != 0 && strncasecmp(s, "ldaps://", 8) != 0) {
        return cfg_fail(c, v->line, "ldap.url: \"%s\" must start with ldap:// or ldaps://", s);
    }
    if ((l->url = strdup(s)) == NULL) {
        return cfg_nomem(c);
    }
    if ((v = cfg_opt(n, "starttls")) != NULL && ytree_bool(v, &l->starttls) < 0) {
        return cfg_fail(c, v->line, "ldap.starttls: expected true or false");
    }
    if (l->starttls && strncasecmp(l->url, "ldaps://", 8) == 0) {
        return cfg_fail(c, v->line,
                        "ldap.starttls: ldaps:// is already TLS; use ldap:// with "
                        "starttls, or ldaps:// without");
    }
    if ((r = cfg_path(c, n, "ca_file", "ldap.ca_file", 0, 1, &l->ca_file)) < 0 ||
        (r = cfg_opt_str(c, n, "bind_dn", "ldap.bind_dn", NULL, &l->bind_dn)) < 0 ||
        (r = cfg_path(c, n, "bind_password_file", "ldap.bind_password_file", 0, 1,
                      &l->bind_password_file)) < 0) {
        return r;
    }
    if ((l->bind_dn == NULL) != (l->bind_password_file == NULL)) {
        return cfg_fail(c, n->line, "ldap: bind_dn and bind_password_file go together");
    }
    if ((r = cfg_req_str(c, n, "user_base", "ldap.user_base", &v, &s)) < 0) {
        return r;
    }
    if ((l->user_base = strdup(s)) == NULL) {
        return cfg_nomem(c);
    }
    if ((r = cfg_ldap_filters(c, n, l)) < 0) {
        return r;
    }
    if ((r = cfg_opt_str(c, n, "group_name_attribute", "ldap.group_name_attribute", "cn",
                         &l->group_name_attribute)) < 0 ||
        (r = cfg_opt_str(c, n, "ssh_key_attribute", "ldap.ssh_key_attribute", "sshPublicKey",
                         &l->ssh_key_attribute)) < 0) {
        return r;
    }
    if (!cfg_attr_ok(l->group_name_attribute) || !cfg_attr_ok(l->ssh_key_attribute)) {
        v = !cfg_attr_ok(l->group_name_attribute) ? ytree_get(n, "group_name_attribute")
                                                  : ytree_get(n, "ssh_key_attribute");
        return cfg_fail(c, v->line, "ldap: \"%s\" is not an LDAP attribute name", v->value);
    }
    l->timeout_ms = 5000;
    if ((v = cfg_opt(n, "timeout")) != NULL) {
        if ((r = cfg_duration(c, v, "ldap.timeout", 1, 300, &secs)) < 0) {
            return r;
        }
        l->timeout_ms = (int)(secs * 1000);
    }
    return 0;
}

static int cfg_upstream(struct cparse *c, const struct ytree *n, struct config_upstream *u)
{
    static const char *const keys[] = {"auth", "cert_ttl", "signer_user", "cert_rate", NULL};
    const struct ytree *v = NULL;
    long long x = 0;
    int r = DB_ERR_INTERNAL;

    if ((r = cfg_kind(c, n, YTREE_MAP, "upstream")) < 0 ||
        (r = cfg_keys(c, n, "upstream", keys)) < 0) {
        return r;
    }
    if ((v = cfg_opt(n, "auth")) != NULL) {
        if ((r = cfg_kind(c, v, YTREE_SCALAR, "upstream.auth")) < 0) {
            return r;
        }
        if (strcmp(v->value, "certificate") == 0) {
            u->auth = CONFIG_UPSTREAM_CERTIFICATE;
        } else if (strcmp(v->value, "key") == 0) {
            u->auth = CONFIG_UPSTREAM_KEY;
        } else {
            return cfg_fail(c, v->line, "upstream.auth: \"%s\" is not certificate or key",
                            v->value);
        }
    }
    if ((v = cfg_opt(n, "cert_ttl")) != NULL &&
        (r = cfg_duration(c, v, "upstream.cert_ttl", 10, 3600, &u->cert_ttl)) < 0) {
        return r;
    }
    if ((v = cfg_opt(n, "cert_rate")) != NULL) {
        if (ytree_int(v, 1, 100000, &x) < 0) {
            return cfg_fail(c, v->line,
                            "upstream.cert_rate: expected certificates per user per minute, "
                            "a whole number from 1 to 100000");
        }
        u->cert_rate = (int)x;
    }
    if ((r = cfg_opt_str(c, n, "signer_user", "upstream.signer_user", NULL, &u->signer_user)) < 0) {
        return r;
    }
    if (u->signer_user != NULL && getpwnam(u->signer_user) == NULL) {
        return cfg_fail(c, ytree_get(n, "signer_user")->line, "upstream.signer_user: %s: no such user",
                        u->signer_user);
    }
    return 0;
}

int config_target_uses_certificate(const struct config *c, const struct policy_target *t)
{
    if (t != NULL && t->upstream_auth != POLICY_UPSTREAM_DEFAULT) {
        return t->upstream_auth == POLICY_UPSTREAM_CERTIFICATE;
    }
    return c->upstream.auth == CONFIG_UPSTREAM_CERTIFICATE;
}

static int cfg_state_dir(struct cparse *c, const struct ytree *root, struct config *cfg)
{
    struct stat st;
    int r = cfg_path(c, root, "state_dir", "state_dir", 1, 0, &cfg->state_dir);

    if (r < 0) {
        return r;
    }
    /* Created on first start when absent; if it is there it must be a directory. */
    if (stat(cfg->state_dir, &st) == 0 && !S_ISDIR(st.st_mode)) {
        return cfg_fail(c, ytree_get(root, "state_dir")->line, "state_dir: %s: not a directory",
                        cfg->state_dir);
    }
    return 0;
}

/*
 * web.public_url: https://HOST[:PORT] exactly as browsers will send it in
 * Origin (lower-case scheme and host, no path, query or trailing slash), so
 * that the console can compare the two byte for byte.
 */
static int cfg_public_url(const char *u)
{
    const char *h = u + 8;
    size_t n = 0;

    if (strncmp(u, "https://", 8) != 0 || h[0] == '\0') {
        return DB_ERR_INVALID;
    }
    for (n = 0; h[n] != '\0'; n++) {
        unsigned char ch = (unsigned char)h[n];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' ||
              ch == ':' || ch == '[' || ch == ']')) {
            return DB_ERR_INVALID;
        }
    }
    return n <= 255 ? 0 : DB_ERR_INVALID;
}

static int cfg_web(struct cparse *c, const struct ytree *n, struct config_web *w)
{
    static const char *const keys[] = {"listen", "tls_cert", "tls_key", "public_url", "files",
                                       NULL};
    struct config tmp;
    const struct ytree *v = NULL;
    int r = DB_ERR_INTERNAL;

    if ((r = cfg_kind(c, n, YTREE_MAP, "web")) < 0 || (r = cfg_keys(c, n, "web", keys)) < 0) {
        return r;
    }
    w->enabled = 1;
    memset(&tmp, 0, sizeof(tmp));
    if ((v = ytree_get(n, "listen")) == NULL) {
        return cfg_fail(c, n->line, "missing web.listen");
    }
    r = cfg_listen(c, v, "web.listen", &tmp);
    w->listen = tmp.listen;
    w->nlisten = tmp.nlisten;
    if (r < 0) {
        return r;
    }
    if ((r = cfg_path(c, n, "tls_cert", "web.tls_cert", 0, 1, &w->tls_cert)) < 0 ||
        (r = cfg_path(c, n, "tls_key", "web.tls_key", 0, 1, &w->tls_key)) < 0 ||
        (r = cfg_path(c, n, "files", "web.files", 0, 0, &w->files)) < 0) {
        return r;
    }
    if ((w->tls_cert == NULL) != (w->tls_key == NULL)) {
        return cfg_fail(c, n->line, "web: give both tls_cert and tls_key, or neither");
    }
    if ((v = ytree_get(n, "public_url")) == NULL) {
        return cfg_fail(c, n->line, "missing web.public_url");
    }
    if ((r = cfg_opt_str(c, n, "public_url", "web.public_url", NULL, &w->public_url)) < 0) {
        return r;
    }
    if (w->public_url == NULL || cfg_public_url(w->public_url) != 0) {
        return cfg_fail(c, v->line,
                        "web.public_url: expected https://HOST or https://HOST:PORT (lower "
                        "case, no path)");
    }
    return 0;
}

/*
 * More than one gateway: store (url, password_file), recordings_dir,
 * keys_dir, audit_forward, store_grace.  The URL is only checked for its
 * scheme here; the store says what is wrong with the rest when it connects.
 */
static int cfg_gateways(struct cparse *c, const struct ytree *root, struct config *cfg)
{
    static const char *const store_keys[] = {"url", "password_file", NULL};
    static const char *const fwd_keys[] = {"file", NULL};
    const struct ytree *v = NULL, *f = NULL;
    long long secs = 0;
    int r = DB_ERR_INTERNAL;

    if ((v = cfg_opt(root, "store")) != NULL) {
        if ((r = cfg_kind(c, v, YTREE_MAP, "store")) < 0 ||
            (r = cfg_keys(c, v, "store", store_keys)) < 0 ||
            (r = cfg_opt_str(c, v, "url", "store.url", NULL, &cfg->store_url)) < 0 ||
            (r = cfg_path(c, v, "password_file", "store.password_file", 0, 1,
                          &cfg->store_password_file)) < 0) {
            return r;
        }
        if (cfg->store_url != NULL && strncmp(cfg->store_url, "postgresql://", 13) != 0 &&
            strncmp(cfg->store_url, "postgres://", 11) != 0) {
            return cfg_fail(c, ytree_get(v, "url")->line,
                            "store.url: expected null (SQLite in state_dir) or postgresql://...");
        }
        if (cfg->store_url == NULL && cfg->store_password_file != NULL) {
            return cfg_fail(c, v->line, "store: password_file needs a url");
        }
    }
    if ((r = cfg_path(c, root, "recordings_dir", "recordings_dir", 0, 0, &cfg->recordings_dir)) <
            0 ||
        (r = cfg_path(c, root, "keys_dir", "keys_dir", 0, 0, &cfg->keys_dir)) < 0) {
        return r;
    }
    if ((v = cfg_opt(root, "audit_forward")) != NULL) {
        if (v->kind == YTREE_SCALAR && strcmp(v->value, "syslog") == 0) {
            cfg->audit_forward_syslog = 1;
        } else if (v->kind == YTREE_MAP) {
            if ((r = cfg_keys(c, v, "audit_forward", fwd_keys)) < 0 ||
                (r = cfg_path(c, v, "file", "audit_forward.file", 1, 0, &cfg->audit_forward_file)) <
                    0) {
                return r;
            }
        } else {
            return cfg_fail(c, v->line, "audit_forward: expected syslog or {file: PATH}");
        }
    }
    cfg->store_grace = 30;
    if ((f = cfg_opt(root, "store_grace")) != NULL) {
        if ((r = cfg_duration(c, f, "store_grace", 0, 86400, &secs)) < 0) {
            return r;
        }
        cfg->store_grace = (int)secs;
    }
    return 0;
}

static int cfg_top(struct cparse *c, const struct ytree *root, struct config *cfg)
{
    static const char *const keys[] = {"listen", "state_dir",      "policy", "ldap",
                                       "limits", "notify_command", "user",   "web",
                                       "recordings", "audit", "upstream",
                                       /* more than one gateway */
                                       "store", "recordings_dir", "keys_dir", "audit_forward",
                                       "store_grace", NULL};
    const struct ytree *v = NULL;
    int r = DB_ERR_INTERNAL;

    if ((r = cfg_kind(c, root, YTREE_MAP, "config")) < 0 || (r = cfg_keys(c, root, "", keys)) < 0) {
        return r;
    }
    if ((v = ytree_get(root, "listen")) == NULL) {
        return cfg_fail(c, root->line, "missing listen");
    }
    if ((r = cfg_listen(c, v, "listen", cfg)) < 0 || (r = cfg_state_dir(c, root, cfg)) < 0 ||
        (r = cfg_path(c, root, "policy", "policy", 1, 1, &cfg->policy_path)) < 0) {
        return r;
    }
    if ((v = ytree_get(root, "ldap")) == NULL) {
        return cfg_fail(c, root->line, "missing ldap");
    }
    if ((r = cfg_ldap(c, v, &cfg->ldap)) < 0) {
        return r;
    }
    cfg->limits.max_startups = 64;
    cfg->limits.max_startups_per_source = 8;
    cfg->limits.login_grace = 30;
    cfg->limits.max_auth_tries = 6;
    cfg->limits.slow_after_failures = 10;
    if ((v = cfg_opt(root, "limits")) != NULL && (r = cfg_limits(c, v, &cfg->limits)) < 0) {
        return r;
    }
    cfg->recordings.warn_free.is_percent = 1;
    cfg->recordings.warn_free.percent = 10;
    cfg->recordings.min_free.is_percent = 1;
    cfg->recordings.min_free.percent = 2;
    if ((v = cfg_opt(root, "recordings")) != NULL &&
        (r = cfg_recordings(c, v, &cfg->recordings)) < 0) {
        return r;
    }
    if ((v = cfg_opt(root, "audit")) != NULL && (r = cfg_audit(c, v, cfg)) < 0) {
        return r;
    }
    if (cfg->audit.archive_dir == NULL &&
        asprintf(&cfg->audit.archive_dir, "%s/audit-archive", cfg->state_dir) < 0) {
        cfg->audit.archive_dir = NULL;
        return cfg_nomem(c);
    }
    cfg->upstream.auth = CONFIG_UPSTREAM_KEY;
    cfg->upstream.cert_ttl = 120;
    cfg->upstream.cert_rate = 120;
    if ((v = cfg_opt(root, "upstream")) != NULL && (r = cfg_upstream(c, v, &cfg->upstream)) < 0) {
        return r;
    }
    if ((r = cfg_opt_str(c, root, "user", "user", NULL, &cfg->user)) < 0 ||
        (r = cfg_gateways(c, root, cfg)) < 0) {
        return r;
    }
    if (cfg->user != NULL && getpwnam(cfg->user) == NULL) {
        return cfg_fail(c, ytree_get(root, "user")->line, "user: %s: no such user", cfg->user);
    }
    if ((v = cfg_opt(root, "web")) != NULL && (r = cfg_web(c, v, &cfg->web)) < 0) {
        return r;
    }
    return cfg_opt_str(c, root, "notify_command", "notify_command", NULL, &cfg->notify_command);
}

/* The config file's directory, absolute, for resolving relative paths. */
static int cfg_dir(struct cparse *c, const char *path)
{
    char tmp[PATH_MAX];
    const char *slash = strrchr(path, '/');
    size_t len = 0;

    if (slash == NULL) {
        snprintf(tmp, sizeof(tmp), ".");
    } else {
        len = slash == path ? 1 : (size_t)(slash - path);
        if (len >= sizeof(tmp)) {
            db_errf(c->err, c->errlen, "%s: path too long", path);
            return DB_ERR_INVALID;
        }
        memcpy(tmp, path, len);
        tmp[len] = '\0';
    }
    if (realpath(tmp, c->dir) == NULL) {
        db_errf(c->err, c->errlen, "%s: %s: %s", path, tmp, strerror(errno));
        return DB_ERR_IO;
    }
    return 0;
}

int config_load(const char *path, struct config **out, char *err, size_t errlen)
{
    struct cparse c;
    struct ytree *root = NULL;
    struct config *cfg = NULL;
    int r = DB_ERR_INTERNAL;

    memset(&c, 0, sizeof(c));
    c.name = path;
    c.err = err;
    c.errlen = errlen;
    if (out == NULL || path == NULL) {
        return DB_ERR_INVALID;
    }
    *out = NULL;
    if ((r = ytree_parse_file(path, &root, err, errlen)) < 0) {
        goto out;
    }
    if ((r = cfg_dir(&c, path)) < 0) {
        goto out;
    }
    cfg = calloc(1, sizeof(*cfg));
    if (cfg == NULL || (cfg->path = strdup(path)) == NULL) {
        r = cfg_nomem(&c);
        goto out;
    }
    if ((r = cfg_top(&c, root, cfg)) < 0) {
        goto out;
    }
    *out = cfg;
    cfg = NULL;
    r = 0;
out:
    config_free(cfg);
    ytree_free(root);
    return r;
}

void config_free(struct config *c)
{
    if (c == NULL) {
        return;
    }
    for (size_t i = 0; c->listen != NULL && i < c->nlisten; i++) {
        free(c->listen[i].host);
    }
    free(c->listen);
    free(c->path);
    free(c->state_dir);
    free(c->policy_path);
    free(c->ldap.url);
    free(c->ldap.ca_file);
    free(c->ldap.bind_dn);
    free(c->ldap.bind_password_file);
    free(c->ldap.user_base);
    free(c->ldap.user_filter);
    free(c->ldap.group_base);
    free(c->ldap.group_filter);
    free(c->ldap.group_name_attribute);
    free(c->ldap.ssh_key_attribute);
    free(c->notify_command);
    free(c->audit.archive_dir);
    free(c->user);
    for (size_t i = 0; c->web.listen != NULL && i < c->web.nlisten; i++) {
        free(c->web.listen[i].host);
    }
    free(c->web.listen);
    free(c->web.tls_cert);
    free(c->web.tls_key);
    free(c->web.public_url);
    free(c->web.files);
    free(c->upstream.signer_user);
    free(c->store_url);
    free(c->store_password_file);
    free(c->recordings_dir);
    free(c->keys_dir);
    free(c->audit_forward_file);
    free(c);
}

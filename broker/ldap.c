/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The directory: looks engineers up in LDAP (DN, SSH keys, group names) and
 * checks their passwords by binding as them.  This is the only file in
 * Drawbridge that includes ldap.h.
 *
 * Lookups run on one service connection per process, bound as
 * ldap.bind_dn with the password read from ldap.bind_password_file.  It is
 * opened on first use, kept for later lookups and re-opened once when it
 * turns out to have died (slapd restarted, idle timeout).  Password checks
 * bind on a separate, short-lived connection so that the service
 * connection's identity never changes.  Handles are always created in the
 * process that uses them: one inherited across fork() is dropped without
 * touching the parent's socket.  Every handle speaks LDAPv3, follows no
 * referrals, gives up after ldap.timeout (connect, and each operation), and
 * checks the server certificate when TLS is on (ldaps:// or starttls).
 *
 * Every failure refuses: callers treat anything but 0 as "no".  Messages put
 * into err are one line, safe to show to the user, and never contain a
 * password.  libldap writes to a socket with write(), so a connection the
 * server closed can raise SIGPIPE: the broker ignores SIGPIPE process-wide.
 */
#include "broker.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <sys/types.h>
#include <unistd.h>

#include <lber.h>
#include <ldap.h>

#define DIR_TIMEOUT_DEFAULT_MS 5000
#define DIR_SECRET_MAX 1024   /* service password file, bytes */
#define DIR_PASSWORD_MAX 1024 /* user password, bytes */
#define DIR_USER_MAX 256      /* names are checked by names.c; this is a backstop */

/* Used when ldap.ca_file is not set: LDAPNOINIT also skips ldap.conf's TLS_CACERT. */
static const char *const dir_system_ca_files[] = {
    "/etc/ssl/certs/ca-certificates.crt", /* Debian, Ubuntu, Alpine */
    "/etc/pki/tls/certs/ca-bundle.crt",   /* Fedora, RHEL */
    NULL,
};

struct dir {
    struct config_ldap cfg; /* our own copy: the config may be reloaded */
    LDAP *svc;              /* service connection, NULL until needed */
    pid_t svc_pid;          /* process that opened svc */
};

/*
 * libldap reads ldap.conf, ./ldaprc, ~/.ldaprc and LDAP* environment
 * variables the first time any handle or option is touched: whoever controls
 * the working directory or the environment could change how the bastion talks
 * to its directory (source address, alias dereferencing, SASL and TLS
 * defaults...).  LDAPNOINIT=1 stops all of that; everything we need is set on
 * each handle.  It must be in the environment before libldap's first call,
 * so every entry point sets it (process-wide: only this file uses libldap).
 */
static void dir_libldap_prepare(void)
{
    static int done;

    if (!done) {
        setenv("LDAPNOINIT", "1", 1);
        done = 1;
    }
}

/* Copies libldap's diagnostic text (server- or TLS-supplied) as printable ASCII. */
static void dir_diag(LDAP *ld, char *buf, size_t buflen)
{
    char *msg = NULL;
    size_t i, n = 0;

    buf[0] = '\0';
    if (ld == NULL || ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &msg) != LDAP_OPT_SUCCESS ||
        msg == NULL) {
        return;
    }
    for (i = 0; msg[i] != '\0' && n + 1 < buflen; i++) {
        unsigned char c = (unsigned char)msg[i];
        buf[n++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    buf[n] = '\0';
    ldap_memfree(msg);
}

/*
 * Maps a libldap or server result code to DB_ERR_* with a one-line message.
 * "directory unavailable: Can't contact LDAP server" is what operators grep for.
 */
static int dir_map_err(LDAP *ld, int rc, char *err, size_t errlen)
{
    char diag[128];

    dir_diag(ld, diag, sizeof(diag));
    switch (rc) {
    case LDAP_TIMEOUT:
    case LDAP_TIMELIMIT_EXCEEDED:
        db_errf(err, errlen, "directory timed out: %s", ldap_err2string(rc));
        return DB_ERR_TIMEOUT;
    case LDAP_SERVER_DOWN:
    case LDAP_CONNECT_ERROR:
    case LDAP_UNAVAILABLE:
    case LDAP_BUSY:
        db_errf(err, errlen, "directory unavailable: %s%s%s", ldap_err2string(rc),
                diag[0] != '\0' ? " - " : "", diag);
        return DB_ERR_UNAVAIL;
    default:
        db_errf(err, errlen, "directory error: %s%s%s", ldap_err2string(rc),
                diag[0] != '\0' ? " - " : "", diag);
        return DB_ERR_UNAVAIL;
    }
}

/* ---- handles ---- */

static int dir_set(LDAP *ld, int opt, const void *val, char *err, size_t errlen)
{
    if (ldap_set_option(ld, opt, val) != LDAP_OPT_SUCCESS) {
        db_errf(err, errlen, "directory: cannot set LDAP option 0x%x", (unsigned)opt);
        return DB_ERR_INTERNAL;
    }
    return 0;
}

/*
 * Certificate checks on, on this handle only.  Per-handle TLS options take
 * effect only once LDAP_OPT_X_TLS_NEWCTX builds a context from them; without
 * it libldap uses the (empty) global context and every failure looks like
 * "Can't contact LDAP server".
 */
static int dir_tls_setup(const struct dir *d, LDAP *ld, char *err, size_t errlen)
{
    int demand = LDAP_OPT_X_TLS_DEMAND, min = LDAP_OPT_X_TLS_PROTOCOL_TLS1_2, client = 0;
    const char *ca = d->cfg.ca_file;
    int r;

    for (size_t i = 0; ca == NULL && dir_system_ca_files[i] != NULL; i++) {
        if (access(dir_system_ca_files[i], R_OK) == 0) {
            ca = dir_system_ca_files[i];
        }
    }
    if ((r = dir_set(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand, err, errlen)) != 0 ||
        (r = dir_set(ld, LDAP_OPT_X_TLS_PROTOCOL_MIN, &min, err, errlen)) != 0) {
        return r;
    }
    /* No CA at all: nothing verifies, so every handshake fails (closed). */
    if (ca != NULL && (r = dir_set(ld, LDAP_OPT_X_TLS_CACERTFILE, ca, err, errlen)) != 0) {
        return r;
    }
    if (ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &client) != LDAP_OPT_SUCCESS) {
        db_errf(err, errlen, "directory unavailable: cannot set up TLS (CA file %s)",
                ca != NULL ? ca : "missing");
        return DB_ERR_UNAVAIL;
    }
    return 0;
}

/* A configured, not yet connected handle (with StartTLS done when asked for). */
static int dir_conn_open(const struct dir *d, LDAP **out, char *err, size_t errlen)
{
    LDAP *ld = NULL;
    int version = LDAP_VERSION3, rc, r = DB_ERR_INTERNAL;
    int ldaps = strncasecmp(d->cfg.url, "ldaps://", 8) == 0;
    struct timeval tv;

    *out = NULL;
    tv.tv_sec = d->cfg.timeout_ms / 1000;
    tv.tv_usec = (d->cfg.timeout_ms % 1000) * 1000;
    rc = ldap_initialize(&ld, d->cfg.url);
    if (rc != LDAP_SUCCESS || ld == NULL) {
        db_errf(err, errlen, "directory url not usable: %s", ldap_err2string(rc));
        r = DB_ERR_INVALID;
        goto out;
    }
    if ((r = dir_set(ld, LDAP_OPT_PROTOCOL_VERSION, &version, err, errlen)) != 0 ||
        (r = dir_set(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv, err, errlen)) != 0 ||
        (r = dir_set(ld, LDAP_OPT_TIMEOUT, &tv, err, errlen)) != 0 ||
        (r = dir_set(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF, err, errlen)) != 0 ||
        (r = dir_set(ld, LDAP_OPT_RESTART, LDAP_OPT_ON, err, errlen)) != 0) {
        goto out;
    }
    if (ldaps || d->cfg.starttls) {
        if ((r = dir_tls_setup(d, ld, err, errlen)) != 0) {
            goto out;
        }
    }
    if (d->cfg.starttls && !ldaps) {
        rc = ldap_start_tls_s(ld, NULL, NULL);
        if (rc != LDAP_SUCCESS) {
            r = dir_map_err(ld, rc, err, errlen);
            goto out;
        }
    }
    *out = ld;
    ld = NULL;
    r = 0;
out:
    if (ld != NULL) {
        ldap_unbind_ext_s(ld, NULL, NULL);
    }
    return r;
}

/*
 * Reads the service password: the whole file minus one trailing newline
 * (and a CR before it).  Empty, over-long or NUL-containing files are refused.
 */
static int dir_read_secret(const char *path, char *buf, size_t bufsz, size_t *outlen, char *err,
                           size_t errlen)
{
    const char *why = NULL;
    size_t len = 0;
    ssize_t n;
    int fd;

    *outlen = 0;
    fd = open(path != NULL ? path : "", O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        why = strerror(errno);
        goto out;
    }
    while (len < bufsz && (n = read(fd, buf + len, bufsz - len)) != 0) {
        if (n < 0 && errno != EINTR) {
            why = strerror(errno);
            goto out;
        }
        len += n > 0 ? (size_t)n : 0;
    }
    if (len > 0 && len < bufsz && buf[len - 1] == '\n') {
        len -= (len > 1 && buf[len - 2] == '\r') ? 2 : 1;
    }
    if (len == 0 || len == bufsz || memchr(buf, '\0', len) != NULL) {
        why = "empty, too long or holds a NUL byte";
        goto out;
    }
    *outlen = len;
out:
    if (fd >= 0) {
        close(fd);
    }
    if (why != NULL) {
        db_errf(err, errlen, "directory unavailable: bind_password_file: %s", why);
        db_wipe(buf, bufsz);
    }
    return why != NULL ? DB_ERR_UNAVAIL : 0;
}

/*
 * A handle opened before fork() shares its socket (and TLS state) with the
 * parent.  Unbinding it here would send an Unbind on the parent's connection,
 * so its descriptor is pointed at /dev/null first: the Unbind goes nowhere
 * and the parent's connection stays as it was.
 */
static void dir_svc_close(struct dir *d)
{
    int fd = -1, devnull;

    if (d->svc == NULL) {
        return;
    }
    if (d->svc_pid != getpid() && ldap_get_option(d->svc, LDAP_OPT_DESC, &fd) == LDAP_OPT_SUCCESS &&
        fd >= 0) {
        devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (devnull >= 0) {
            dup2(devnull, fd);
            close(devnull);
        }
    }
    ldap_unbind_ext_s(d->svc, NULL, NULL);
    d->svc = NULL;
}

/* Opens and binds the service connection unless a usable one is open. */
static int dir_svc_get(struct dir *d, char *err, size_t errlen)
{
    char secret[DIR_SECRET_MAX];
    struct berval cred;
    LDAP *ld = NULL;
    size_t len = 0;
    int r = DB_ERR_INTERNAL, rc;

    if (d->svc != NULL && d->svc_pid != getpid()) {
        dir_svc_close(d);
    }
    if (d->svc != NULL) {
        return 0;
    }
    if ((r = dir_conn_open(d, &ld, err, errlen)) != 0) {
        goto out;
    }
    /* No bind_dn: anonymous lookups (the connection opens on the first search). */
    if (d->cfg.bind_dn != NULL && d->cfg.bind_dn[0] != '\0') {
        r = dir_read_secret(d->cfg.bind_password_file, secret, sizeof(secret), &len, err, errlen);
        if (r != 0) {
            goto out;
        }
        cred.bv_val = secret;
        cred.bv_len = len;
        rc = ldap_sasl_bind_s(ld, d->cfg.bind_dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
        if (rc == LDAP_INVALID_CREDENTIALS) {
            db_errf(err, errlen, "directory unavailable: service account bind refused (%s)",
                    ldap_err2string(rc));
            r = DB_ERR_UNAVAIL;
            goto out;
        }
        if (rc != LDAP_SUCCESS) {
            r = dir_map_err(ld, rc, err, errlen);
            goto out;
        }
    }
    d->svc = ld;
    d->svc_pid = getpid();
    ld = NULL;
    r = 0;
out:
    db_wipe(secret, sizeof(secret));
    if (ld != NULL) {
        ldap_unbind_ext_s(ld, NULL, NULL);
    }
    return r;
}

/* ---- filters ---- */

struct dir_buf {
    char *p;
    size_t len, cap;
};

static int dir_buf_add(struct dir_buf *b, const char *s, size_t n)
{
    char *np;
    size_t ncap;

    if (n > SIZE_MAX / 2 - b->len - 1) {
        return DB_ERR_NOMEM;
    }
    if (b->len + n + 1 > b->cap) {
        ncap = (b->len + n + 1) * 2;
        np = realloc(b->p, ncap);
        if (np == NULL) {
            return DB_ERR_NOMEM;
        }
        b->p = np;
        b->cap = ncap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

/* RFC 4515 escaping into a malloc'd berval (ber_memfree).  Empty input: refused. */
static int dir_escape(const char *in, struct berval *out)
{
    struct berval v;

    out->bv_val = NULL;
    out->bv_len = 0;
    if (in == NULL || in[0] == '\0') {
        return DB_ERR_INVALID;
    }
    v.bv_val = (char *)in;
    v.bv_len = strlen(in);
    if (ldap_bv2escaped_filter_value(&v, out) != 0 || out->bv_val == NULL) {
        return DB_ERR_NOMEM;
    }
    return 0;
}

int dir_filter_build(const char *tmpl, const char *user, const char *dn, char **out)
{
    struct berval eu = {0, NULL}, ed = {0, NULL};
    struct dir_buf b = {NULL, 0, 0};
    const char *p, *lit;
    int r = DB_ERR_INVALID;

    dir_libldap_prepare();
    if (out == NULL) {
        return DB_ERR_INVALID;
    }
    *out = NULL;
    if (tmpl == NULL || tmpl[0] == '\0') {
        goto out;
    }
    for (p = tmpl; *p != '\0'; p = lit) {
        lit = strchr(p, '%');
        if (lit == NULL) {
            r = dir_buf_add(&b, p, strlen(p));
            break;
        }
        if ((r = dir_buf_add(&b, p, (size_t)(lit - p))) != 0) {
            goto out;
        }
        /* Escaped on first use: a template without %d needs no DN. */
        if (lit[1] == 'u') {
            if ((r = eu.bv_val != NULL ? 0 : dir_escape(user, &eu)) == 0) {
                r = dir_buf_add(&b, eu.bv_val, eu.bv_len);
            }
        } else if (lit[1] == 'd') {
            if ((r = ed.bv_val != NULL ? 0 : dir_escape(dn, &ed)) == 0) {
                r = dir_buf_add(&b, ed.bv_val, ed.bv_len);
            }
        } else if (lit[1] == '%') {
            r = dir_buf_add(&b, "%", 1);
        } else {
            r = DB_ERR_INVALID; /* a typo in the template; never guess */
        }
        if (r != 0) {
            goto out;
        }
        lit += 2;
    }
    if (r == 0) {
        *out = b.p;
        b.p = NULL;
    }
out:
    free(b.p);
    ber_memfree(eu.bv_val);
    ber_memfree(ed.bv_val);
    return r;
}

/* ---- lookups ---- */

static int dir_strv_add(char ***v, size_t *n, const char *s, size_t len, int dedupe)
{
    char **nv, *copy;

    /* Values are C strings from here on: skip what cannot be one. */
    while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' ')) {
        len--;
    }
    if (len == 0 || memchr(s, '\0', len) != NULL) {
        return 0;
    }
    for (size_t i = 0; dedupe && i < *n; i++) {
        if (strlen((*v)[i]) == len && memcmp((*v)[i], s, len) == 0) {
            return 0;
        }
    }
    copy = strndup(s, len);
    if (copy == NULL) {
        return DB_ERR_NOMEM;
    }
    nv = realloc(*v, (*n + 1) * sizeof(*nv));
    if (nv == NULL) {
        free(copy);
        return DB_ERR_NOMEM;
    }
    nv[(*n)++] = copy;
    *v = nv;
    return 0;
}

static int dir_values_add(LDAP *ld, LDAPMessage *e, const char *attr, char ***v, size_t *n,
                          int dedupe)
{
    struct berval **vals = ldap_get_values_len(ld, e, attr);
    int r = 0;

    for (size_t i = 0; vals != NULL && vals[i] != NULL && r == 0; i++) {
        r = dir_strv_add(v, n, vals[i]->bv_val, vals[i]->bv_len, dedupe);
    }
    ldap_value_free_len(vals);
    return r;
}

/* The one entry for the user: DN and keys.  *ldrc gets libldap's code. */
static int dir_find_user(struct dir *d, struct dir_user *u, int *ldrc, char *err, size_t errlen)
{
    char *filter = NULL, *dn = NULL, *attrs[2] = {d->cfg.ssh_key_attribute, NULL};
    struct timeval tv = {d->cfg.timeout_ms / 1000, (d->cfg.timeout_ms % 1000) * 1000};
    LDAPMessage *res = NULL, *e;
    int r = DB_ERR_INTERNAL, rc;

    if ((r = dir_filter_build(d->cfg.user_filter, u->name, NULL, &filter)) != 0) {
        db_errf(err, errlen, "directory: user_filter cannot be built");
        goto out;
    }
    /* Size limit 2: enough to tell "exactly one" from "more than one". */
    rc = ldap_search_ext_s(d->svc, d->cfg.user_base, LDAP_SCOPE_SUBTREE, filter, attrs, 0, NULL,
                           NULL, &tv, 2, &res);
    *ldrc = rc;
    if (rc == LDAP_SIZELIMIT_EXCEEDED ||
        (rc == LDAP_SUCCESS && ldap_count_entries(d->svc, res) != 1)) {
        /* None or several: the same answer, so names cannot be probed. */
        db_errf(err, errlen, "unknown user");
        r = DB_ERR_NOTFOUND;
        goto out;
    }
    if (rc != LDAP_SUCCESS) {
        r = dir_map_err(d->svc, rc, err, errlen);
        goto out;
    }
    e = ldap_first_entry(d->svc, res);
    dn = e != NULL ? ldap_get_dn(d->svc, e) : NULL;
    if (dn == NULL || dn[0] == '\0' || (u->dn = strdup(dn)) == NULL) {
        db_errf(err, errlen, "directory error: entry without a DN");
        r = DB_ERR_INTERNAL;
        goto out;
    }
    if ((r = dir_values_add(d->svc, e, d->cfg.ssh_key_attribute, &u->keys, &u->nkeys, 0)) != 0) {
        db_errf(err, errlen, "%s", db_strerror(r));
        goto out;
    }
    r = 0;
out:
    ldap_memfree(dn);
    ldap_msgfree(res);
    free(filter);
    return r;
}

/* Every group whose group_filter matches the user; a partial list is an error. */
static int dir_find_groups(struct dir *d, struct dir_user *u, int *ldrc, char *err, size_t errlen)
{
    char *filter = NULL, *attrs[2] = {d->cfg.group_name_attribute, NULL};
    struct timeval tv = {d->cfg.timeout_ms / 1000, (d->cfg.timeout_ms % 1000) * 1000};
    LDAPMessage *res = NULL, *e;
    int r = DB_ERR_INTERNAL, rc;

    if (d->cfg.group_filter == NULL || d->cfg.group_base == NULL) {
        return 0;
    }
    if ((r = dir_filter_build(d->cfg.group_filter, u->name, u->dn, &filter)) != 0) {
        db_errf(err, errlen, "directory: group_filter cannot be built");
        goto out;
    }
    rc = ldap_search_ext_s(d->svc, d->cfg.group_base, LDAP_SCOPE_SUBTREE, filter, attrs, 0, NULL,
                           NULL, &tv, LDAP_NO_LIMIT, &res);
    *ldrc = rc;
    if (rc != LDAP_SUCCESS) {
        r = dir_map_err(d->svc, rc, err, errlen);
        goto out;
    }
    r = 0;
    for (e = ldap_first_entry(d->svc, res); e != NULL && r == 0; e = ldap_next_entry(d->svc, e)) {
        r = dir_values_add(d->svc, e, d->cfg.group_name_attribute, &u->groups, &u->ngroups, 1);
    }
    if (r != 0) {
        db_errf(err, errlen, "%s", db_strerror(r));
    }
out:
    ldap_msgfree(res);
    free(filter);
    return r;
}

int dir_lookup(struct dir *d, const char *user, struct dir_user **out, char *err, size_t errlen)
{
    struct dir_user *u = NULL;
    int r = DB_ERR_INTERNAL, ldrc, reused;

    db_errf(err, errlen, "%s", "");
    if (out == NULL) {
        return DB_ERR_INVALID;
    }
    *out = NULL;
    /* An empty name would escape to nothing and turn "uid=%u" into "uid=". */
    if (d == NULL || user == NULL || user[0] == '\0' || strlen(user) > DIR_USER_MAX) {
        db_errf(err, errlen, "unknown user");
        return DB_ERR_INVALID;
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        dir_user_free(u);
        u = calloc(1, sizeof(*u));
        if (u == NULL || (u->name = strdup(user)) == NULL) {
            r = DB_ERR_NOMEM;
            goto out;
        }
        reused = d->svc != NULL && d->svc_pid == getpid();
        if ((r = dir_svc_get(d, err, errlen)) != 0) {
            goto out;
        }
        ldrc = LDAP_SUCCESS;
        r = dir_find_user(d, u, &ldrc, err, errlen);
        if (r == 0) {
            r = dir_find_groups(d, u, &ldrc, err, errlen);
        }
        if (r == 0 || r == DB_ERR_NOTFOUND) {
            goto out;
        }
        /* Whatever went wrong, the next request starts on a fresh connection. */
        dir_svc_close(d);
        if (!reused || (ldrc != LDAP_SERVER_DOWN && ldrc != LDAP_CONNECT_ERROR)) {
            goto out;
        }
        /* The kept connection had died (restart, idle timeout): once more on a new one. */
    }
out:
    if (r == 0) {
        *out = u;
        u = NULL;
    }
    dir_user_free(u);
    return r;
}

/* ---- passwords ---- */

/* Refused before any bind: "unauthenticated bind" (RFC 4513 5.1.2) and worse. */
static int dir_password_acceptable(const char *pw, size_t pwlen)
{
    size_t i;

    if (pw == NULL || pwlen == 0 || pwlen > DIR_PASSWORD_MAX || memchr(pw, '\0', pwlen) != NULL) {
        return 0;
    }
    for (i = 0; i < pwlen; i++) {
        if (strchr(" \t\r\n\v\f", pw[i]) == NULL) {
            return 1;
        }
    }
    return 0;
}

/*
 * pw is not copied: libldap encodes it straight into the bind request (and
 * frees that buffer itself; it is not wiped there).  The caller wipes pw.
 */
int dir_check_password(struct dir *d, const struct dir_user *u, const char *pw, size_t pwlen,
                       char *err, size_t errlen)
{
    struct berval cred;
    LDAP *ld = NULL;
    int r = DB_ERR_AUTH, rc;

    db_errf(err, errlen, "authentication failed");
    if (d == NULL || u == NULL || u->dn == NULL || u->dn[0] == '\0' ||
        !dir_password_acceptable(pw, pwlen)) {
        goto out;
    }
    r = dir_conn_open(d, &ld, err, errlen);
    if (r != 0) {
        /* The contract is AUTH, UNAVAIL or TIMEOUT; all of them refuse. */
        r = r == DB_ERR_TIMEOUT ? r : DB_ERR_UNAVAIL;
        goto out;
    }
    cred.bv_val = (char *)pw;
    cred.bv_len = pwlen;
    rc = ldap_sasl_bind_s(ld, u->dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
    switch (rc) {
    case LDAP_SUCCESS:
        db_errf(err, errlen, "%s", "");
        r = 0;
        break;
    case LDAP_TIMEOUT:
    case LDAP_TIMELIMIT_EXCEEDED:
    case LDAP_SERVER_DOWN:
    case LDAP_CONNECT_ERROR:
    case LDAP_UNAVAILABLE:
    case LDAP_BUSY:
        r = dir_map_err(ld, rc, err, errlen);
        break;
    default:
        /* Invalid credentials, locked, unwilling...: all mean no. */
        db_errf(err, errlen, "authentication failed");
        r = DB_ERR_AUTH;
        break;
    }
out:
    if (ld != NULL) {
        ldap_unbind_ext_s(ld, NULL, NULL);
    }
    return r;
}

/* ---- lifetime ---- */

static void dir_cfg_free(struct config_ldap *c)
{
    free(c->url);
    free(c->ca_file);
    free(c->bind_dn);
    free(c->bind_password_file);
    free(c->user_base);
    free(c->user_filter);
    free(c->group_base);
    free(c->group_filter);
    free(c->group_name_attribute);
    free(c->ssh_key_attribute);
    memset(c, 0, sizeof(*c));
}

/* strdup that keeps NULL and turns "" into NULL; dflt when absent. */
static int dir_dup(char **dst, const char *src, const char *dflt)
{
    if (src == NULL || src[0] == '\0') {
        src = dflt;
    }
    *dst = NULL;
    if (src != NULL && (*dst = strdup(src)) == NULL) {
        return DB_ERR_NOMEM;
    }
    return 0;
}

void dir_preload(void)
{
    int v = 0;

    dir_libldap_prepare();
    /* any global option read runs libldap's one-time setup (and the SASL plugins it loads) */
    ldap_get_option(NULL, LDAP_OPT_PROTOCOL_VERSION, &v);
}

int dir_new(const struct config *c, struct dir **out)
{
    const struct config_ldap *l;
    struct dir *d = NULL;
    int r = DB_ERR_INVALID;

    dir_libldap_prepare();
    if (out == NULL) {
        return DB_ERR_INVALID;
    }
    *out = NULL;
    if (c == NULL) {
        goto out;
    }
    l = &c->ldap;
    /*
     * A user_filter without %u would give every name the same entry, a
     * group_filter without %d or %u every user the same groups.
     */
    if (l->url == NULL || l->url[0] == '\0' || l->user_base == NULL || l->user_filter == NULL ||
        strstr(l->user_filter, "%u") == NULL ||
        (l->group_filter != NULL && strstr(l->group_filter, "%d") == NULL &&
         strstr(l->group_filter, "%u") == NULL)) {
        goto out;
    }
    d = calloc(1, sizeof(*d));
    if (d == NULL) {
        r = DB_ERR_NOMEM;
        goto out;
    }
    if ((r = dir_dup(&d->cfg.url, l->url, NULL)) != 0 ||
        (r = dir_dup(&d->cfg.ca_file, l->ca_file, NULL)) != 0 ||
        (r = dir_dup(&d->cfg.bind_dn, l->bind_dn, NULL)) != 0 ||
        (r = dir_dup(&d->cfg.bind_password_file, l->bind_password_file, NULL)) != 0 ||
        (r = dir_dup(&d->cfg.user_base, l->user_base, NULL)) != 0 ||
        (r = dir_dup(&d->cfg.user_filter, l->user_filter, NULL)) != 0 ||
        (r = dir_dup(&d->cfg.group_base, l->group_base, NULL)) != 0 ||
        (r = dir_dup(&d->cfg.group_filter, l->group_filter, NULL)) != 0 ||
        (r = dir_dup(&d->cfg.group_name_attribute, l->group_name_attribute, "cn")) != 0 ||
        (r = dir_dup(&d->cfg.ssh_key_attribute, l->ssh_key_attribute, "sshPublicKey")) != 0) {
        goto out;
    }
    d->cfg.starttls = l->starttls;
    d->cfg.timeout_ms = l->timeout_ms > 0 ? l->timeout_ms : DIR_TIMEOUT_DEFAULT_MS;
    *out = d;
    d = NULL;
    r = 0;
out:
    dir_free(d);
    return r;
}

void dir_free(struct dir *d)
{
    if (d == NULL) {
        return;
    }
    dir_svc_close(d);
    dir_cfg_free(&d->cfg);
    free(d);
}

void dir_user_free(struct dir_user *u)
{
    if (u == NULL) {
        return;
    }
    for (size_t i = 0; i < u->ngroups; i++) {
        free(u->groups[i]);
    }
    for (size_t i = 0; i < u->nkeys; i++) {
        free(u->keys[i]);
    }
    free(u->groups);
    free(u->keys);
    free(u->name);
    free(u->dn);
    free(u);
}

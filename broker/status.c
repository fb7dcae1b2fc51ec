/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `drawbridge status -c FILE [--json]`: one screen an operator (or a
 * monitoring check) reads to know whether the gateway is well --
 *
 *   listener          each listen address answers with an SSH banner
 *   web console       each web.listen address accepts (when configured)
 *   live sessions     sessions to targets running now
 *   pending requests  requests waiting for approvers
 *   disk              free space for recordings against the watermarks
 *   store             the store opens (and its schema is current)
 *   certificates      "cert.issue" audit rows of the last hour
 *   last verify       the newest "verify.result" audit row (admin.c)
 *
 * The exit status is 0 when nothing needs attention and 1 when something
 * does: a listener down, the store unreachable, the disk below min_free,
 * or the last verify found tampering or a missing recording.  Like the
 * rest of admin.c this reads the clock.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "broker.h"

#define STATUS_PROBE_MS 2000
#define STATUS_CERT_WINDOW_S 3600

/*
 * Connects to host:port and reads the first line.  want_banner: it must be
 * an SSH identification string.  0, or DB_ERR_UNAVAIL with why.
 */
static int status_probe(const char *host, int port, int want_banner, char *why, size_t whylen)
{
    struct sockaddr_storage ss;
    socklen_t sslen = 0;
    struct pollfd pf;
    char line[256];
    size_t got = 0;
    int fd = -1, r = DB_ERR_UNAVAIL, soerr = 0;
    socklen_t soerrlen = sizeof(soerr);
    /* a wildcard listener is probed where this host reaches it */
    const char *h = strcmp(host, "0.0.0.0") == 0 ? "127.0.0.1"
                    : strcmp(host, "::") == 0    ? "::1"
                                                 : host;

    memset(&ss, 0, sizeof(ss));
    if (strchr(h, ':') != NULL) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        inet_pton(AF_INET6, h, &s6->sin6_addr);
        sslen = sizeof(*s6);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        inet_pton(AF_INET, h, &s4->sin_addr);
        sslen = sizeof(*s4);
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        db_errf(why, whylen, "socket: %s", strerror(errno));
        goto out;
    }
    if (connect(fd, (struct sockaddr *)&ss, sslen) != 0 && errno != EINPROGRESS) {
        db_errf(why, whylen, "%s", strerror(errno));
        goto out;
    }
    pf.fd = fd;
    pf.events = POLLOUT;
    if (poll(&pf, 1, STATUS_PROBE_MS) != 1 ||
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &soerrlen) != 0 || soerr != 0) {
        db_errf(why, whylen, "%s", soerr != 0 ? strerror(soerr) : "no answer");
        goto out;
    }
    if (!want_banner) {
        r = 0;
        goto out;
    }
    pf.events = POLLIN;
    while (got < sizeof(line) - 1 && memchr(line, '\n', got) == NULL) {
        ssize_t n;

        if (poll(&pf, 1, STATUS_PROBE_MS) != 1 ||
            (n = read(fd, line + got, sizeof(line) - 1 - got)) <= 0) {
            break;
        }
        got += (size_t)n;
    }
    line[got] = '\0';
    if (strncmp(line, "SSH-2.0-", 8) != 0) {
        db_errf(why, whylen, "%s", got == 0 ? "accepts but sends no SSH banner" : "not SSH");
        goto out;
    }
    r = 0;
out:
    if (fd >= 0) {
        close(fd);
    }
    return r;
}

/* One list of addresses: {"up": all of them, "addresses": [{"address", "up", "error"}]}. */
static json_t *status_listeners(const struct config_listen *l, size_t n, int banner, int *all_up)
{
    json_t *o = json_object(), *arr = json_array();

    *all_up = n > 0;
    for (size_t i = 0; i < n; i++) {
        char addr[INET6_ADDRSTRLEN + 16], why[256] = "";
        int up = status_probe(l[i].host, l[i].port, banner, why, sizeof(why)) == 0;

        snprintf(addr, sizeof(addr), strchr(l[i].host, ':') ? "[%s]:%d" : "%s:%d", l[i].host,
                 l[i].port);
        json_array_append_new(arr, json_pack("{ss sb so}", "address", addr, "up", up, "error",
                                             up ? json_null() : json_string(why)));
        *all_up &= up;
    }
    json_object_set_new(o, "up", json_boolean(*all_up));
    json_object_set_new(o, "addresses", arr);
    return o;
}

static int status_count_certs(void *ctx, const struct audit_row *row)
{
    if (row->event != NULL && strcmp(row->event, "cert.issue") == 0) {
        (*(long long *)ctx)++;
    }
    return 0;
}

static int status_last_verify(void *ctx, const struct audit_row *row)
{
    json_t **out = ctx;
    json_t *d = json_loads(row->details != NULL ? row->details : "{}", 0, NULL);

    *out = json_pack("{sI so}", "time", (json_int_t)row->time, "details",
                     d != NULL ? d : json_object());
    return 0;
}

/*
 * The store's part: whether it opens, and the counts, certificates and last
 * verify it holds (top-level keys of st; null when it cannot be asked).
 */
static json_t *status_store(const struct config *c, long long now, json_t *st, int *reachable,
                            json_t **verify)
{
    struct store *s = NULL;
    struct store_session *v = NULL;
    struct store_request *rq = NULL;
    size_t nv = 0, nrq = 0;
    long long certs = 0, pending = 0;
    char err[512] = "";
    json_t *o = json_object();

    *verify = NULL;
    *reachable = store_open_config(c, &s, err, sizeof(err)) == 0;
    json_object_set_new(o, "reachable", json_boolean(*reachable));
    json_object_set_new(o, "error", *reachable ? json_null() : json_string(err));
    json_object_set_new(st, "live_sessions", json_null());
    json_object_set_new(st, "pending_requests", json_null());
    json_object_set_new(st, "certificates_last_hour", json_null());
    if (!*reachable) {
        return o;
    }
    if (store_session_list(s, 1, 0, NULL, NULL, (size_t)LLONG_MAX, &v, &nv) == 0) {
        json_object_set_new(st, "live_sessions", json_integer((json_int_t)nv));
    }
    if (store_request_list(s, NULL, 1u << STORE_REQ_PENDING, (size_t)LLONG_MAX, &rq, &nrq) == 0) {
        for (size_t i = 0; i < nrq; i++) {
            pending += rq[i].expires_at > now; /* the listener's sweep expires the rest */
        }
        json_object_set_new(st, "pending_requests", json_integer((json_int_t)pending));
    }
    if (store_audit_foreach(s, now - STATUS_CERT_WINDOW_S, status_count_certs, &certs) == 0) {
        json_object_set_new(st, "certificates_last_hour", json_integer((json_int_t)certs));
    }
    store_audit_last_event(s, "verify.result", status_last_verify, verify);
    store_sessions_free(v, nv);
    free(rq);
    store_close(s);
    return o;
}

static void status_time(long long t, char *buf, size_t buflen)
{
    struct tm tm;
    time_t tt = (time_t)t;

    if (gmtime_r(&tt, &tm) == NULL || strftime(buf, buflen, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
        snprintf(buf, buflen, "%lld", t);
    }
}

static void status_print_listeners(FILE *out, const char *label, const json_t *l)
{
    size_t i;
    json_t *a;

    fprintf(out, "%-18s %s", label, json_is_true(json_object_get(l, "up")) ? "up" : "DOWN");
    json_array_foreach(json_object_get(l, "addresses"), i, a)
    {
        const char *err = json_string_value(json_object_get(a, "error"));

        fprintf(out, "%s%s%s%s", i == 0 ? " (" : ", ",
                json_string_value(json_object_get(a, "address")), err ? ": " : "", err ? err : "");
    }
    fprintf(out, "%s\n", i > 0 ? ")" : "");
}

static long long status_int(const json_t *o, const char *k)
{
    return (long long)json_integer_value(json_object_get(o, k));
}

/* A count, or "?" when the store could not be asked. */
static void status_print_count(FILE *out, const char *label, const json_t *n, const char *what)
{
    if (json_is_integer(n)) {
        fprintf(out, "%-18s %lld%s\n", label, (long long)json_integer_value(n), what);
    } else {
        fprintf(out, "%-18s ?\n", label);
    }
}

static void status_print(FILE *out, const json_t *st)
{
    const json_t *store = json_object_get(st, "store"), *disk = json_object_get(st, "disk");
    const json_t *v = json_object_get(st, "last_verify");
    char when[32];

    status_print_listeners(out, "listener:", json_object_get(st, "listener"));
    if (json_object_get(st, "web") != NULL) {
        status_print_listeners(out, "web console:", json_object_get(st, "web"));
    }
    status_print_count(out, "live sessions:", json_object_get(st, "live_sessions"), "");
    status_print_count(out, "pending requests:", json_object_get(st, "pending_requests"), "");
    fprintf(out, "%-18s %s: %s\n", "disk:", json_string_value(json_object_get(disk, "state")),
            json_string_value(json_object_get(disk, "message")));
    if (json_is_true(json_object_get(store, "reachable"))) {
        fprintf(out, "%-18s reachable\n", "store:");
    } else {
        fprintf(out, "%-18s UNREACHABLE: %s\n",
                "store:", json_string_value(json_object_get(store, "error")));
    }
    status_print_count(out, "certificates:", json_object_get(st, "certificates_last_hour"),
                       " issued in the last hour");
    if (v == NULL || json_is_null(v)) {
        fprintf(out, "%-18s never\n", "last verify:");
        return;
    }
    {
        const json_t *d = json_object_get(v, "details"), *r = json_object_get(d, "recordings");
        const char *scope = json_string_value(json_object_get(d, "scope"));

        status_time(status_int(v, "time"), when, sizeof(when));
        fprintf(out,
                "%-18s %s %s: audit chain %lld rows, %lld recordings checked (%lld ok, %lld "
                "truncated, %lld tampered, %lld missing)%s\n",
                "last verify:", when, json_string_value(json_object_get(d, "result")),
                status_int(d, "audit_rows"), status_int(r, "checked"), status_int(r, "ok"),
                status_int(r, "truncated"), status_int(r, "tampered"), status_int(r, "missing"),
                scope != NULL && strcmp(scope, "all") != 0 ? " [some sessions only]" : "");
    }
}

int admin_status(const struct config *c, int json, FILE *out)
{
    long long now = (long long)time(NULL);
    struct disk_state d;
    char err[512] = "", msg[600];
    int up = 0, web_up = 1, reachable = 0, disk_ok = 0, verify_ok = 1;
    json_t *st = json_object(), *disk = NULL, *verify = NULL;
    const char *result = NULL;

    json_object_set_new(st, "time", json_integer((json_int_t)now));
    json_object_set_new(st, "listener", status_listeners(c->listen, c->nlisten, 1, &up));
    if (c->web.enabled) {
        json_object_set_new(st, "web", status_listeners(c->web.listen, c->web.nlisten, 0, &web_up));
    }
    json_object_set_new(st, "store", status_store(c, now, st, &reachable, &verify));
    if (disk_check(c, &d, err, sizeof(err)) == 0) {
        disk_describe(c, &d, msg, sizeof(msg));
        disk = json_pack("{ss ss sI sI sf ss}", "state", disk_level_name(d.level), "path", d.path,
                         "free_bytes", (json_int_t)d.free_bytes, "total_bytes",
                         (json_int_t)d.total_bytes, "free_percent", d.free_percent, "message", msg);
        disk_ok = d.level != DISK_FULL;
    } else {
        disk = json_pack("{ss ss}", "state", "unknown", "message", err);
    }
    json_object_set_new(st, "disk", disk);
    json_object_set_new(st, "last_verify", verify != NULL ? verify : json_null());
    result = verify != NULL
                 ? json_string_value(json_object_get(json_object_get(verify, "details"), "result"))
                 : NULL;
    verify_ok = result == NULL || strcmp(result, "ok") == 0;
    json_object_set_new(st, "ok", json_boolean(up && web_up && reachable && disk_ok && verify_ok));
    if (json) {
        char *text = json_dumps(st, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

        fprintf(out, "%s\n", text != NULL ? text : "{}");
        free(text);
    } else {
        status_print(out, st);
    }
    json_decref(st);
    return up && web_up && reachable && disk_ok && verify_ok ? 0 : DB_ERR_UNAVAIL;
}

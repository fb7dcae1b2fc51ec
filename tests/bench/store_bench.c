/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Approvals per second through the store, for tests/bench/store: N writer
 * processes (gateways, or one gateway's session children) each open the
 * store and, for the given time, make a request and approve it (the work of
 * `ssh gw request` plus `ssh gw approve`: the checks, the rows, three audit
 * rows and the grant, each decision in its own transaction), on SQLite in a
 * state directory or on the PostgreSQL store of a URL.  Prints one line:
 *
 *   approvals=N seconds=S per_second=X
 *
 *   store_bench --state DIR [--url URL] [--procs N] [--seconds S]
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"

static const char bench_policy[] =
    "protected: {env: [prod]}\n"
    "request_ttl: 1h\n"
    "targets:\n"
    "  - name: web-1\n    address: 10.0.1.5:22\n"
    "    host_key: \"ssh-ed25519 "
    "AAAAC3NzaC1lZDI1NTE5AAAAIONH9O/85E2J7ruvA6x9LH9u8VvZRSZFjziSiZalffY5\"\n"
    "    logins: [deploy]\n    labels: {env: prod, tier: web}\n"
    "rules:\n"
    "  - name: web-oncall\n    requesters: [\"group:sre\"]\n    targets: {names: [web-1]}\n"
    "    logins: [deploy]\n    max_duration: 4h\n    approvers: [\"group:sre-leads\"]\n"
    "    approvals: 1\n";

static const char *const g_req[] = {"sre"};
static const char *const g_app[] = {"sre-leads"};

static double bench_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One writer: requests and approvals until the deadline; the count on fd. */
static int bench_writer(const struct config *c, int k, double seconds, int fd)
{
    struct policy *p = NULL;
    struct store *s = NULL;
    struct access a;
    char err[512], user[32];
    struct policy_subject req, app = {"approver", g_app, 1};
    struct access_request_args q = {"web-1", NULL, 600, "benchmark", NULL};
    struct store_request r;
    long long n = 0, now = (long long)time(NULL);
    double end;

    snprintf(user, sizeof(user), "engineer%d", k);
    req.user = user;
    req.groups = g_req;
    req.ngroups = 1;
    if (policy_load_buffer("bench", bench_policy, sizeof(bench_policy) - 1, &p, err,
                           sizeof(err)) != 0 ||
        store_open_config(c, &s, err, sizeof(err)) != 0) {
        fprintf(stderr, "store_bench: %s\n", err);
        return 1;
    }
    memset(&a, 0, sizeof(a));
    a.store = s;
    a.policy = p;
    end = bench_now() + seconds;
    while (bench_now() < end) {
        if (access_request(&a, &req, &q, now, &r, err, sizeof(err)) != 0 ||
            access_approve(&a, &app, r.id, NULL, now, NULL, err, sizeof(err)) != 0) {
            fprintf(stderr, "store_bench: writer %d: %s\n", k, err);
            break;
        }
        n++;
    }
    if (write(fd, &n, sizeof(n)) != (ssize_t)sizeof(n)) {
        return 1;
    }
    store_close(s);
    policy_free(p);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"state", required_argument, NULL, 's'},
                                         {"url", required_argument, NULL, 'u'},
                                         {"procs", required_argument, NULL, 'p'},
                                         {"seconds", required_argument, NULL, 't'},
                                         {NULL, 0, NULL, 0}};
    struct config c;
    struct store *s = NULL;
    char err[512];
    int procs = 1, fds[2], ch;
    double seconds = 5, t0;
    long long total = 0, n;

    memset(&c, 0, sizeof(c));
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 's':
            c.state_dir = optarg;
            break;
        case 'u':
            c.store_url = optarg;
            break;
        case 'p':
            procs = atoi(optarg);
            break;
        case 't':
            seconds = atof(optarg);
            break;
        default:
            return 2;
        }
    }
    if (c.state_dir == NULL || procs < 1 || procs > 64 || seconds <= 0) {
        fprintf(stderr, "usage: store_bench --state DIR [--url URL] [--procs N] [--seconds S]\n");
        return 2;
    }
    /* the keys and the schema once, before the writers start */
    if (keys_ensure(&c, err, sizeof(err)) != 0 || store_open_config(&c, &s, err, sizeof(err)) != 0) {
        fprintf(stderr, "store_bench: %s\n", err);
        return 1;
    }
    store_close(s);
    if (pipe(fds) != 0) {
        return 1;
    }
    t0 = bench_now();
    for (int k = 0; k < procs; k++) {
        pid_t pid = fork();

        if (pid == 0) {
            close(fds[0]);
            _exit(bench_writer(&c, k, seconds, fds[1]));
        }
    }
    close(fds[1]);
    while (read(fds[0], &n, sizeof(n)) == (ssize_t)sizeof(n)) {
        total += n;
    }
    while (wait(NULL) > 0) {
    }
    t0 = bench_now() - t0;
    printf("approvals=%lld seconds=%.2f per_second=%.1f\n", total, t0, (double)total / t0);
    return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * notify_command: run the configured program with one JSON event on its
 * standard input, asynchronously and with a timeout.  A supervisor process is
 * forked per event; it starts the program, feeds it the event, waits at most
 * NOTIFY_TIMEOUT_S and kills it after that, and logs the outcome.  Nothing
 * here ever blocks or fails a decision: the decision is committed before the
 * notification is sent.
 *
 * The command line comes from the configuration (trusted) and runs through
 * /bin/sh -c so operators can write pipelines; what users typed only ever
 * reaches the program as JSON on stdin, never its command line.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "broker.h"

#define NOTIFY_TIMEOUT_S 10

static int notify_write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return DB_ERR_IO;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Runs in the supervisor: start, feed, wait with a deadline.  Returns an exit code. */
static int notify_supervise(const char *command, const char *event, const char *text)
{
    int pfd[2], status = 0, devnull;
    pid_t pid;
    struct timespec tick = {0, 50 * 1000 * 1000};

    if (pipe(pfd) != 0) {
        log_msg(LOG_LVL_ERROR, "notify.fail", "event=%s pipe: %s", event, strerror(errno));
        return 1;
    }
    pid = fork();
    if (pid < 0) {
        log_msg(LOG_LVL_ERROR, "notify.fail", "event=%s fork: %s", event, strerror(errno));
        return 1;
    }
    if (pid == 0) {
        wake_child_unblock(); /* the program gets a normal signal mask */
        dup2(pfd[0], 0);
        close(pfd[0]);
        close(pfd[1]);
        devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) {
            dup2(devnull, 1);
        }
        execl("/bin/sh", "sh", "-c", command, (char *)NULL);
        _exit(127);
    }
    close(pfd[0]);
    signal(SIGPIPE, SIG_IGN);
    if (notify_write_all(pfd[1], text, strlen(text)) != 0 || notify_write_all(pfd[1], "\n", 1)) {
        log_msg(LOG_LVL_WARN, "notify.fail", "event=%s the command did not read its input",
                event);
    }
    close(pfd[1]);
    for (int i = 0; i < NOTIFY_TIMEOUT_S * 20; i++) {
        pid_t w = waitpid(pid, &status, WNOHANG);

        if (w == pid) {
            if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
                log_msg(LOG_LVL_INFO, "notify.sent", "event=%s", event);
                return 0;
            }
            log_msg(LOG_LVL_WARN, "notify.fail", "event=%s command exited with status %d", event,
                    WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
            return 1;
        }
        nanosleep(&tick, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    log_msg(LOG_LVL_WARN, "notify.fail", "event=%s command killed after %ds", event,
            NOTIFY_TIMEOUT_S);
    return 1;
}

void notify_send(const struct config *c, const char *event, json_t *obj)
{
    char *text = NULL;
    pid_t pid;

    if (c == NULL || c->notify_command == NULL || obj == NULL) {
        return;
    }
    text = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
    if (text == NULL) {
        log_msg(LOG_LVL_ERROR, "notify.fail", "event=%s cannot encode the event", event);
        return;
    }
    pid = fork();
    if (pid == 0) {
        _exit(notify_supervise(c->notify_command, event, text));
    }
    if (pid < 0) {
        log_msg(LOG_LVL_ERROR, "notify.fail", "event=%s fork: %s", event, strerror(errno));
    }
    free(text);
}

void notify_reap(void)
{
    int status;

    while (waitpid(-1, &status, WNOHANG) > 0) {
    }
}

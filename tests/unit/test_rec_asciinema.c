/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Recordings play with the stock asciinema (2.x): `asciinema cat FILE`
 * exits 0 and prints exactly the output events -- text cut across writes,
 * colours, invalid bytes as their U+EF80..U+EFFF stand-ins -- while it skips
 * our own event codes (bo, bi, m, c, e).  A file left by a crashed writer
 * plays too.  asciinema opens /dev/tty, so it runs on a pty of its own in
 * raw mode (no CR added to LF).  Skipped where asciinema is not installed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "recording.h"

#define ASCIINEMA "/usr/bin/asciinema"

static const unsigned char key[REC_KEY_LEN] = "k";
static char dir[64];

/* Runs asciinema cat on path; its output in *out (caller frees); returns the exit status. */
static int asciinema_cat(const char *path, char **out, size_t *len)
{
    struct termios tio;
    struct winsize ws = {24, 80, 0, 0};
    size_t cap = 1 << 16;
    int master = -1, status = -1;
    pid_t pid;

    memset(&tio, 0, sizeof(tio));
    cfmakeraw(&tio);
    *out = malloc(cap);
    *len = 0;
    pid = forkpty(&master, NULL, &tio, &ws);
    assert_true(pid >= 0);
    if (pid == 0) {
        setenv("HOME", dir, 1);
        setenv("ASCIINEMA_CONFIG_HOME", dir, 1);
        execl(ASCIINEMA, "asciinema", "cat", path, (char *)NULL);
        _exit(127);
    }
    for (;;) {
        ssize_t n = read(master, *out + *len, cap - *len);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break; /* EIO once the child is gone */
        }
        *len += (size_t)n;
        assert_true(*len < cap);
    }
    close(master);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static struct rec_writer *start(const char *path)
{
    struct rec_sink sink;
    struct rec_writer *w = NULL;
    struct rec_meta m;
    struct timespec t0 = {1, 0};
    char err[256];

    memset(&m, 0, sizeof(m));
    m.user = "alice";
    m.target = "web-1";
    m.login = "deploy";
    m.term = "xterm-256color";
    m.record_input = 1;
    assert_int_equal(rec_sink_file_create(path, &sink, err, sizeof(err)), 0);
    assert_int_equal(rec_writer_new(&sink, &m, key, &t0, &w, err, sizeof(err)), 0);
    return w;
}

static void put(struct rec_writer *w, enum rec_stream s, long ms, const char *p, size_t n)
{
    struct timespec ts = {1 + ms / 1000, (ms % 1000) * 1000000L};

    assert_int_equal(rec_writer_data(w, s, &ts, p, n), 0);
}

static void put_str(struct rec_writer *w, enum rec_stream s, long ms, const char *str)
{
    put(w, s, ms, str, strlen(str));
}

static void check_plays(const char *path, const char *want, size_t wantlen)
{
    char *out = NULL;
    size_t len = 0;
    int rc = asciinema_cat(path, &out, &len);

    if (rc != 0) {
        fail_msg("asciinema cat %s: exit %d: %.*s", path, rc, (int)len, out);
    }
    if (len != wantlen || memcmp(out, want, len) != 0) {
        fail_msg("asciinema cat %s: %zu bytes, want %zu: %.*s", path, len, wantlen, (int)len, out);
    }
    free(out);
}

static void test_plays(void **state)
{
    static const char want[] = "hello \xe2\x82\xac world\r\n\x1b[1;31mred\x1b[0m\r\n"
                               "bad \xee\xbf\xbf\xee\xbe\x80 bytes\r\n\x1b]0;t\x07"
                               "done\r\n";
    static const char tail[] = "bad \xff\x80 bytes\r\n\x1b]0;t\x07"
                               "done\r\n";
    unsigned char bin[200];
    struct rec_writer *w;
    struct timespec ts = {3, 0};
    char path[128], sha[REC_HEX_LEN + 1], mac[REC_HEX_LEN + 1], err[256];

    (void)state;
    /* asciinema is a test dependency (scripts/install-deps): no silent skip */
    if (access(ASCIINEMA, X_OK) != 0) {
        fail_msg("%s is missing (scripts/install-deps installs asciinema)", ASCIINEMA);
    }
    for (size_t i = 0; i < sizeof(bin); i++) {
        bin[i] = (unsigned char)(i * 13);
    }
    snprintf(path, sizeof(path), "%s/plays.cast", dir);
    w = start(path);
    put_str(w, REC_STREAM_OUT, 100, "hello \xe2\x82");
    put_str(w, REC_STREAM_OUT, 150, "\xac world\r\n");
    put_str(w, REC_STREAM_IN, 200, "ls\r");
    put(w, REC_STREAM_IN, 210, (const char *)bin, sizeof(bin)); /* bi: skipped */
    put_str(w, REC_STREAM_OUT, 300, "\x1b[1;31mred\x1b[0m\r\n");
    put(w, REC_STREAM_OUT, 400, (const char *)bin, sizeof(bin)); /* bo: skipped */
    assert_int_equal(rec_writer_tick(w, &ts), 0);
    assert_int_equal(rec_writer_resize(w, &ts, 100, 30), 0);
    assert_int_equal(rec_writer_marker(w, &ts, "sftp open /etc/passwd"), 0);
    put(w, REC_STREAM_OUT, 2100, tail, sizeof(tail) - 1);
    assert_int_equal(rec_writer_close(w, sha, mac, err, sizeof(err)), 0);
    check_plays(path, want, sizeof(want) - 1);
}

static void test_crashed_plays(void **state)
{
    struct rec_writer *w;
    struct timespec ts = {2, 500000000};
    char path[128];

    (void)state;
    if (access(ASCIINEMA, X_OK) != 0) {
        fail_msg("%s is missing (scripts/install-deps installs asciinema)", ASCIINEMA);
    }
    snprintf(path, sizeof(path), "%s/crashed.cast", dir);
    w = start(path);
    put_str(w, REC_STREAM_OUT, 100, "before the crash\r\n");
    assert_int_equal(rec_writer_tick(w, &ts), 0);
    put_str(w, REC_STREAM_OUT, 1600, "lost\r\n");
    rec_writer_free(w);
    check_plays(path, "before the crash\r\n", 18);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/drawbridge-rec-play-XXXXXX");
    return mkdtemp(dir) != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plays),
        cmocka_unit_test(test_crashed_plays),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The file sink: large writes are gathered into stages that a thread of the
 * sink's own writes, and the stage being filled is held back; small writes
 * are written at once.  Whatever the mix, after a push the file is every
 * byte taken, in order; before it, a prefix short of at most
 * REC_SINK_HELD_MAX.  Run in TMPDIR (or /tmp) and, where there is one, in a
 * tmpfs (/dev/shm).
 */
#include "recording.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

struct rig {
    char dir[256];
    char path[300];
    struct rec_sink sink;
    unsigned char *all; /* every byte written so far */
    size_t len, cap;
    uint32_t seed;
};

static uint32_t rnd(struct rig *r)
{
    r->seed = r->seed * 1664525u + 1013904223u;
    return r->seed >> 8;
}

static int rig_open(struct rig *r, const char *base)
{
    char err[256];

    memset(r, 0, sizeof(*r));
    r->seed = 7;
    snprintf(r->dir, sizeof(r->dir), "%s/test_rec_sink.XXXXXX", base);
    if (mkdtemp(r->dir) == NULL) {
        return -1;
    }
    snprintf(r->path, sizeof(r->path), "%s/rec.cast", r->dir);
    assert_int_equal(rec_sink_file_create(r->path, &r->sink, err, sizeof(err)), 0);
    assert_non_null(r->sink.push);
    return 0;
}

static void rig_close(struct rig *r)
{
    r->sink.close(r->sink.ctx);
    unlink(r->path);
    rmdir(r->dir);
    free(r->all);
}

/* The file's bytes. */
static unsigned char *slurp(const char *path, size_t *len)
{
    struct stat st;
    unsigned char *b;
    int fd = open(path, O_RDONLY);

    assert_true(fd >= 0);
    assert_int_equal(fstat(fd, &st), 0);
    b = malloc((size_t)st.st_size + 1);
    assert_non_null(b);
    assert_int_equal(pread(fd, b, (size_t)st.st_size, 0), st.st_size);
    close(fd);
    *len = (size_t)st.st_size;
    return b;
}

static int put(struct rig *r, size_t n)
{
    unsigned char *p;

    if (r->len + n > r->cap) {
        r->cap = (r->len + n) * 2;
        r->all = realloc(r->all, r->cap);
        assert_non_null(r->all);
    }
    p = r->all + r->len;
    for (size_t i = 0; i < n; i++) {
        p[i] = (unsigned char)(rnd(r) | 1); /* never 0: a hole reads as zeros */
    }
    r->len += n;
    return r->sink.write(r->sink.ctx, p, n);
}

/* After a push: exactly everything.  Otherwise: a prefix, at most REC_SINK_HELD_MAX short. */
static void check(struct rig *r, int pushed)
{
    size_t n;
    unsigned char *b = slurp(r->path, &n);

    if (pushed) {
        assert_int_equal(n, r->len);
    } else {
        assert_true(n <= r->len);
        assert_true(r->len - n <= REC_SINK_HELD_MAX);
    }
    assert_memory_equal(b, r->all, n);
    free(b);
}

/* Threads of this process: the sink's writer thread lives only until a push. */
static int threads(void)
{
    struct stat st;

    assert_int_equal(stat("/proc/self/task", &st), 0);
    return (int)st.st_nlink - 2;
}

static const char *tmp_base(void)
{
    const char *t = getenv("TMPDIR");

    return t != NULL && *t != '\0' ? t : "/tmp";
}

/* Small, bulk, tiny, bulk larger than the sink's stage, pushes between: the file follows. */
static void mix(const char *base)
{
    struct rig r;
    static const size_t sizes[] = {137, 70000, 9, 262144, 262139, 3, 1u << 20, 4096, 65536, 1};

    int alone;

    if (rig_open(&r, base) != 0) {
        skip();
    }
    alone = threads();
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
            assert_int_equal(put(&r, sizes[i] + (size_t)round), 0);
            check(&r, 0);
            if (sizes[i] == 1u << 20) {
                /* full stages: written by the sink's thread */
                assert_int_equal(threads(), alone + 1);
            }
            if ((i + (size_t)round) % 3 == 0) {
                assert_int_equal(r.sink.push(r.sink.ctx), 0);
                check(&r, 1);
                assert_int_equal(threads(), alone);
            }
        }
    }
    /* random sizes, pushed at random */
    for (int i = 0; i < 200; i++) {
        size_t n = rnd(&r) % 3 == 0 ? 64 * 1024 + rnd(&r) % (300 * 1024) : rnd(&r) % 5000;

        assert_int_equal(put(&r, n), 0);
        if (rnd(&r) % 4 == 0) {
            assert_int_equal(r.sink.push(r.sink.ctx), 0);
            check(&r, 1);
        } else {
            check(&r, 0);
        }
    }
    assert_int_equal(r.sink.sync(r.sink.ctx), 0); /* sync pushes too */
    check(&r, 1);
    rig_close(&r);
}

static void test_mix_tmpdir(void **state)
{
    (void)state;
    mix(tmp_base());
}

static void test_mix_tmpfs(void **state)
{
    struct stat st;

    (void)state;
    if (stat("/dev/shm", &st) != 0 || !S_ISDIR(st.st_mode) || access("/dev/shm", W_OK) != 0) {
        skip();
    }
    mix("/dev/shm");
}

/* From here on the file may not grow past cur bytes (EFBIG, not SIGXFSZ); *old to restore. */
static void fsize_limit(struct rlimit *old, rlim_t cur)
{
    struct rlimit lim;

    signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(getrlimit(RLIMIT_FSIZE, old), 0);
    lim = *old;
    lim.rlim_cur = cur;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
}

static void fsize_restore(const struct rlimit *old)
{
    assert_int_equal(setrlimit(RLIMIT_FSIZE, old), 0);
    signal(SIGXFSZ, SIG_DFL);
}

/* The file is a prefix of what was written, of at most cap bytes. */
static void check_capped(struct rig *r, size_t cap)
{
    size_t n;
    unsigned char *b = slurp(r->path, &n);

    assert_true(n <= cap);
    assert_memory_equal(b, r->all, n);
    free(b);
}

/*
 * A file that cannot grow (RLIMIT_FSIZE: EFBIG, as a full disk gives ENOSPC)
 * fails the write or the push that meets it, whichever path it takes, and
 * what reached the file is still a prefix of what was written.
 */
static void test_full(void **state)
{
    struct rig r;
    struct rlimit old;
    int r1 = 0;

    (void)state;
    if (rig_open(&r, tmp_base()) != 0) {
        skip();
    }
    fsize_limit(&old, 1000000); /* not a multiple of the block */
    for (int i = 0; i < 20 && r1 == 0; i++) {
        r1 = put(&r, 100000 + (size_t)i);
        if (r1 == 0) {
            r1 = r.sink.push(r.sink.ctx);
        }
    }
    fsize_restore(&old);
    assert_int_equal(r1, DB_ERR_IO);
    check_capped(&r, 1000000);
    rig_close(&r);
}

/*
 * An error the sink's thread met while the writer went on is reported by a
 * later write or by the push, even when the push itself could write: here
 * the file may not grow past 300000 bytes only while the stages go out.
 */
static void test_thread_error(void **state)
{
    struct rig r;
    struct rlimit old;
    int w, p;

    (void)state;
    if (rig_open(&r, tmp_base()) != 0) {
        skip();
    }
    fsize_limit(&old, 300000);
    w = put(&r, 700000); /* two full stages for the thread, the second cut short */
    usleep(200000);      /* the thread has met the limit (if the write did not wait for it) */
    fsize_restore(&old);
    p = r.sink.push(r.sink.ctx);
    assert_true(w == DB_ERR_IO || p == DB_ERR_IO);
    check_capped(&r, 300000);
    rig_close(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mix_tmpdir),
        cmocka_unit_test(test_mix_tmpfs),
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_thread_error),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where a writer's bytes go: a file created for this recording alone
 * (O_EXCL|O_NOFOLLOW, mode 0600, so a pre-planted file or symlink is refused
 * rather than followed or appended to), or memory for tests.  The memory
 * sink can be told to fail past a given size, which is how the tests make a
 * disk fill up; it keeps what reached it before the failure, like a file on
 * a full disk would.
 */
#include "recording.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct rec_file {
    int fd;
};

static int file_write(void *ctx, const void *buf, size_t len)
{
    struct rec_file *f = ctx;
    const char *p = buf;

    while (len > 0) {
        ssize_t n = write(f->fd, p, len);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return DB_ERR_IO;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int file_sync(void *ctx)
{
    struct rec_file *f = ctx;

    return fdatasync(f->fd) == 0 ? 0 : DB_ERR_IO;
}

static void file_close(void *ctx)
{
    struct rec_file *f = ctx;

    if (f != NULL) {
        close(f->fd);
        free(f);
    }
}

int rec_sink_file_create(const char *path, struct rec_sink *out, char *err, size_t errlen)
{
    struct rec_file *f = NULL;
    int fd = -1, r = DB_ERR_IO;

    memset(out, 0, sizeof(*out));
    if (path == NULL || *path == '\0') {
        db_errf(err, errlen, "no recording path");
        return DB_ERR_INVALID;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        r = errno == EEXIST ? DB_ERR_EXISTS : DB_ERR_IO;
        db_errf(err, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    f = malloc(sizeof(*f));
    if (f == NULL) {
        db_errf(err, errlen, "out of memory");
        r = DB_ERR_NOMEM;
        goto out;
    }
    f->fd = fd;
    fd = -1;
    out->ctx = f;
    out->write = file_write;
    out->sync = file_sync;
    out->close = file_close;
    r = 0;
out:
    if (fd >= 0) {
        /* we made it and it is empty: do not leave it behind */
        close(fd);
        unlink(path);
    }
    return r;
}

struct rec_mem {
    char *buf;
    size_t len, cap;
    size_t fail_after;
};

static int mem_write(void *ctx, const void *buf, size_t len)
{
    struct rec_mem *m = ctx;
    size_t take = len;

    if (m->fail_after != 0 && m->len + len > m->fail_after) {
        take = m->fail_after - m->len; /* a full disk takes what fits */
    }
    if (m->len + take > m->cap) {
        size_t cap = m->cap != 0 ? m->cap : 4096;
        char *nb;

        while (cap < m->len + take) {
            cap *= 2;
        }
        nb = realloc(m->buf, cap);
        if (nb == NULL) {
            return DB_ERR_NOMEM;
        }
        m->buf = nb;
        m->cap = cap;
    }
    if (take > 0) {
        memcpy(m->buf + m->len, buf, take);
        m->len += take;
    }
    return take == len ? 0 : DB_ERR_IO;
}

static int mem_sync(void *ctx)
{
    (void)ctx;
    return 0;
}

static void mem_close(void *ctx)
{
    (void)ctx; /* the bytes stay readable until rec_mem_free */
}

int rec_sink_mem(struct rec_sink *out, struct rec_mem **mem, size_t fail_after)
{
    struct rec_mem *m = calloc(1, sizeof(*m));

    memset(out, 0, sizeof(*out));
    *mem = NULL;
    if (m == NULL) {
        return DB_ERR_NOMEM;
    }
    m->fail_after = fail_after;
    out->ctx = m;
    out->write = mem_write;
    out->sync = mem_sync;
    out->close = mem_close;
    *mem = m;
    return 0;
}

const char *rec_mem_bytes(const struct rec_mem *m, size_t *len)
{
    *len = m != NULL ? m->len : 0;
    return m != NULL && m->buf != NULL ? m->buf : "";
}

void rec_mem_free(struct rec_mem *m)
{
    if (m != NULL) {
        free(m->buf);
        free(m);
    }
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where a writer's bytes go: a file created for this recording alone
 * (O_EXCL|O_NOFOLLOW, mode 0600, so a pre-planted file or symlink is refused
 * rather than followed or appended to), or memory for tests.  A file takes a
 * stream's large writes with O_DIRECT (recording.h says why).  The memory
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

#define F_BLOCK 4096u         /* O_DIRECT: offsets, lengths and memory in whole blocks */
#define F_BULK (64u * 1024)   /* a write at least this long goes around the page cache */
#define F_STAGE (512u * 1024) /* a held-back block and more than a writer's buffer */

struct rec_file {
    int fd;
    int direct;           /* the file system takes O_DIRECT (until it refuses a write) */
    off_t end;            /* bytes taken so far */
    unsigned char *stage; /* while bulk: the file's bytes from base to end, block-aligned */
    off_t base;           /* a multiple of F_BLOCK */
    size_t held;          /* end - base: less than a block after each write */
};

static int f_pwrite(int fd, const unsigned char *p, size_t len, off_t off)
{
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, off);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return n < 0 && errno == EINVAL ? DB_ERR_INVALID : DB_ERR_IO;
        }
        p += n;
        off += n;
        len -= (size_t)n;
    }
    return 0;
}

static int f_set_direct(struct rec_file *f, int on)
{
    int fl = fcntl(f->fd, F_GETFL);

    if (fl < 0) {
        return -1;
    }
    return fcntl(f->fd, F_SETFL, on ? fl | O_DIRECT : fl & ~O_DIRECT);
}

/* Through the page cache, at the end. */
static int f_plain(struct rec_file *f, const void *buf, size_t len)
{
    int r = f_pwrite(f->fd, buf, len, f->end);

    if (r != 0) {
        return DB_ERR_IO;
    }
    f->end += (off_t)len;
    return 0;
}

/*
 * The stage's whole blocks go to the file with O_DIRECT; the partial last
 * block stays at the stage's start.  A file system that refuses (EINVAL:
 * alignment it wants larger) gets everything through the page cache from
 * then on.
 */
static int f_stage_out(struct rec_file *f)
{
    size_t whole = f->held - f->held % F_BLOCK;
    int r;

    if (whole == 0) {
        return 0;
    }
    if (f_set_direct(f, 1) != 0) {
        r = DB_ERR_INVALID;
    } else {
        r = f_pwrite(f->fd, f->stage, whole, f->base);
        if (f_set_direct(f, 0) != 0 && r == 0) {
            r = DB_ERR_IO;
        }
    }
    if (r == DB_ERR_INVALID) {
        f->direct = 0;
        whole = f->held;
        r = f_pwrite(f->fd, f->stage, whole, f->base);
    }
    if (r != 0) {
        return DB_ERR_IO;
    }
    memmove(f->stage, f->stage + whole, f->held - whole);
    f->base += (off_t)whole;
    f->held -= whole;
    return 0;
}

static int f_bulk(struct rec_file *f, const unsigned char *p, size_t len)
{
    if (f->stage == NULL) {
        void *st = NULL;

        if (posix_memalign(&st, F_BLOCK, F_STAGE) != 0) {
            return DB_ERR_NOMEM;
        }
        f->stage = st;
        f->base = f->end - f->end % F_BLOCK;
        f->held = (size_t)(f->end - f->base);
        /* the partial block already in the file is rewritten whole */
        if (f->held > 0 && pread(f->fd, f->stage, f->held, f->base) != (ssize_t)f->held) {
            return DB_ERR_IO;
        }
    }
    while (len > 0) {
        size_t take = F_STAGE - f->held;

        take = take < len ? take : len;
        memcpy(f->stage + f->held, p, take);
        f->held += take;
        f->end += (off_t)take;
        p += take;
        len -= take;
        if (f_stage_out(f) != 0) {
            return DB_ERR_IO;
        }
        if (!f->direct) {
            /* all of the stage is in the file: the page cache from here on */
            free(f->stage);
            f->stage = NULL;
            break;
        }
    }
    return len > 0 ? f_plain(f, p, len) : 0;
}

/* What the stage holds back goes to the file, through the page cache; the stage goes. */
static int file_push(void *ctx)
{
    struct rec_file *f = ctx;
    int r = 0;

    if (f->stage != NULL) {
        if (f->held > 0 && f_pwrite(f->fd, f->stage, f->held, f->base) != 0) {
            r = DB_ERR_IO;
        }
        free(f->stage);
        f->stage = NULL;
        f->held = 0;
    }
    return r;
}

static int file_write(void *ctx, const void *buf, size_t len)
{
    struct rec_file *f = ctx;

    /* a stage exists only while O_DIRECT works: it takes whatever follows */
    if (f->stage != NULL || (f->direct && len >= F_BULK)) {
        return f_bulk(f, buf, len);
    }
    return f_plain(f, buf, len);
}

static int file_sync(void *ctx)
{
    struct rec_file *f = ctx;

    if (file_push(f) != 0) {
        return DB_ERR_IO;
    }
    return fdatasync(f->fd) == 0 ? 0 : DB_ERR_IO;
}

static void file_close(void *ctx)
{
    struct rec_file *f = ctx;

    if (f != NULL) {
        close(f->fd);
        free(f->stage);
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
    fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        r = errno == EEXIST ? DB_ERR_EXISTS : DB_ERR_IO;
        db_errf(err, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    f = calloc(1, sizeof(*f));
    if (f == NULL) {
        db_errf(err, errlen, "out of memory");
        r = DB_ERR_NOMEM;
        goto out;
    }
    f->fd = fd;
    fd = -1;
    /* O_DIRECT is set only around whole-block writes; this asks if it can be */
    f->direct = f_set_direct(f, 1) == 0 && f_set_direct(f, 0) == 0;
    out->ctx = f;
    out->write = file_write;
    out->sync = file_sync;
    out->close = file_close;
    out->push = file_push;
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

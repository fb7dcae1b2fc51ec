/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where a writer's bytes go: a file created for this recording alone
 * (O_EXCL|O_NOFOLLOW, mode 0600, so a pre-planted file or symlink is refused
 * rather than followed or appended to), or memory for tests.  The memory
 * sink can be told to fail past a given size, which is how the tests make a
 * disk fill up; it keeps what reached it before the failure, like a file on
 * a full disk would.
 *
 * A stream's large writes are gathered into 256 KiB stages, and a thread of
 * the file's own, "rec-io", writes the full stages in order while the
 * writer fills the next; it lives from a stream's first full stage to the
 * next push.  So the writer never waits for the file system (a write that
 * has to find free pages, a journal commit, a disk busy with writeback), and
 * the relay never waits for the writer on that account.  At most F_BUFS
 * stages exist: a writer that outruns the file system waits for one to come
 * back, so memory stays bounded and back-pressure reaches the relay.  Writes
 * go through the page cache; the kernel writes them back, and its dirty
 * limits slow the thread when the disk cannot keep up.
 */
#include "recording.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define F_BULK (64u * 1024)   /* a write at least this long starts a stage */
#define F_STAGE (256u * 1024) /* one write of the thread */
#define F_BUFS 3              /* stages: the one filling and those the thread holds */
#define F_HELD ((size_t)F_BUFS * F_STAGE) /* the most not in the file until a push */

_Static_assert(F_HELD <= REC_SINK_HELD_MAX, "recording.h's bound");

struct rec_file {
    int fd;
    off_t end;            /* bytes taken so far */
    unsigned char *stage; /* while bulk: the file's bytes from base to end */
    off_t base;
    size_t held; /* end - base: less than a stage after each write */

    /* the I/O thread; everything below is under mu while it runs */
    pthread_mutex_t mu;
    pthread_cond_t cv; /* both ways: a stage queued or stop; a stage written */
    pthread_t io;
    int io_on, io_stop;
    int io_err;                   /* the first failed write: later stages are not written */
    unsigned char *spare[F_BUFS]; /* stages written and free again */
    int nspare, nbufs;            /* free ones; all that exist, the filling one included */
    unsigned char *q[F_BUFS];     /* full stages in file order, the one being written first */
    off_t qoff[F_BUFS];
    int qhead, qn;
};

/* All of p[0..len) at off: 0 or DB_ERR_IO (ENOSPC, EFBIG, EIO, ...). */
static int f_pwrite(int fd, const unsigned char *p, size_t len, off_t off)
{
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, off);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return DB_ERR_IO;
        }
        p += n;
        off += n;
        len -= (size_t)n;
    }
    return 0;
}

/* At the end, by the caller. */
static int f_plain(struct rec_file *f, const void *buf, size_t len)
{
    if (f_pwrite(f->fd, buf, len, f->end) != 0) {
        return DB_ERR_IO;
    }
    f->end += (off_t)len;
    return 0;
}

static void *f_io_main(void *arg)
{
    struct rec_file *f = arg;

    pthread_mutex_lock(&f->mu);
    for (;;) {
        unsigned char *p;
        off_t off;
        int r = 0, skip;

        while (f->qn == 0 && !f->io_stop) {
            pthread_cond_wait(&f->cv, &f->mu);
        }
        if (f->qn == 0) {
            break;
        }
        p = f->q[f->qhead];
        off = f->qoff[f->qhead];
        skip = f->io_err != 0; /* past a failure: the file stays a prefix */
        pthread_mutex_unlock(&f->mu);
        if (!skip) {
            r = f_pwrite(f->fd, p, F_STAGE, off);
        }
        pthread_mutex_lock(&f->mu);
        if (r != 0 && f->io_err == 0) {
            f->io_err = r;
        }
        f->qhead = (f->qhead + 1) % F_BUFS;
        f->qn--;
        f->spare[f->nspare++] = p;
        pthread_cond_broadcast(&f->cv);
    }
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

/* Starts the thread with every signal blocked (they are the relay's). 0 or -1. */
static int f_io_start(struct rec_file *f)
{
    sigset_t all, old;
    int r;

    f->io_stop = 0;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    r = pthread_create(&f->io, NULL, f_io_main, f);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r != 0) {
        return -1;
    }
    pthread_setname_np(f->io, "rec-io");
    f->io_on = 1;
    return 0;
}

/* Waits for the thread to write what it holds and end; its first error, or 0. */
static int f_io_stop(struct rec_file *f)
{
    int r;

    if (!f->io_on) {
        return 0;
    }
    pthread_mutex_lock(&f->mu);
    f->io_stop = 1;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    pthread_join(f->io, NULL);
    f->io_on = 0;
    r = f->io_err;
    f->io_err = 0;
    return r != 0 ? DB_ERR_IO : 0;
}

/*
 * The full stage goes to the thread and an empty one takes its place: a
 * spare, a new one while fewer than F_BUFS exist, or else the next the
 * thread gives back.  Without a thread (it could not be started) the stage
 * is written here.
 */
static int f_submit(struct rec_file *f)
{
    int r = 0;

    if (!f->io_on && f_io_start(f) != 0) {
        if (f_pwrite(f->fd, f->stage, F_STAGE, f->base) != 0) {
            return DB_ERR_IO;
        }
        f->base += (off_t)F_STAGE;
        f->held = 0;
        return 0;
    }
    pthread_mutex_lock(&f->mu);
    f->q[(f->qhead + f->qn) % F_BUFS] = f->stage;
    f->qoff[(f->qhead + f->qn) % F_BUFS] = f->base;
    f->qn++;
    f->stage = NULL;
    pthread_cond_broadcast(&f->cv);
    while (f->nspare == 0 && f->nbufs >= F_BUFS && f->io_err == 0) {
        pthread_cond_wait(&f->cv, &f->mu);
    }
    if (f->io_err != 0) {
        r = DB_ERR_IO;
    } else if (f->nspare > 0) {
        f->stage = f->spare[--f->nspare];
    }
    pthread_mutex_unlock(&f->mu);
    if (r == 0 && f->stage == NULL) {
        f->stage = malloc(F_STAGE);
        if (f->stage == NULL) {
            r = DB_ERR_NOMEM;
        } else {
            f->nbufs++;
        }
    }
    if (r != 0) {
        /* the file ends where the thread stops; the session ends on the error */
        f_io_stop(f);
        return r;
    }
    f->base += (off_t)F_STAGE;
    f->held = 0;
    return 0;
}

/* Every stage there is, none queued: the thread has ended. */
static void f_free_stages(struct rec_file *f)
{
    free(f->stage);
    f->stage = NULL;
    while (f->nspare > 0) {
        free(f->spare[--f->nspare]);
    }
    f->nbufs = 0;
    f->held = 0;
}

static int f_bulk(struct rec_file *f, const unsigned char *p, size_t len)
{
    if (f->stage == NULL) {
        f_free_stages(f); /* spares a failed thread left */
        f->stage = malloc(F_STAGE);
        if (f->stage == NULL) {
            return DB_ERR_NOMEM;
        }
        f->nbufs = 1;
        f->base = f->end;
        f->held = 0;
    }
    while (len > 0) {
        size_t take = F_STAGE - f->held;

        take = take < len ? take : len;
        memcpy(f->stage + f->held, p, take);
        f->held += take;
        f->end += (off_t)take;
        p += take;
        len -= take;
        if (f->held == F_STAGE && f_submit(f) != 0) {
            return DB_ERR_IO;
        }
    }
    return 0;
}

/* Everything taken goes into the file: the thread's stages, then the stage's start.  The stages go. */
static int file_push(void *ctx)
{
    struct rec_file *f = ctx;
    int r = f_io_stop(f);

    if (f->stage != NULL) {
        if (r == 0 && f->held > 0 && f_pwrite(f->fd, f->stage, f->held, f->base) != 0) {
            r = DB_ERR_IO;
        }
        f_free_stages(f);
    }
    return r;
}

static int file_write(void *ctx, const void *buf, size_t len)
{
    struct rec_file *f = ctx;

    /* a stage, once started, takes whatever follows until the next push */
    if (f->stage != NULL || len >= F_BULK) {
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
        f_io_stop(f);
        close(f->fd);
        f_free_stages(f);
        pthread_mutex_destroy(&f->mu);
        pthread_cond_destroy(&f->cv);
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
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
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

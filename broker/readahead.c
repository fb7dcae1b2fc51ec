/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Read-ahead under libssh: a session child's two SSH connections read in
 * gulps of up to 256 KiB instead of 4 KiB sips.
 *
 * libssh 0.10 reads a socket 4 KiB per poll: one poll(2) and one recv(2) for
 * every 4 KiB a transfer moves, on each leg, whatever the socket holds.  A
 * session child relaying a bulk stream spent more time in those system
 * calls than in either leg's cipher.  libssh has no option for it, so the
 * session child defines recv, read, poll and close itself, and the dynamic
 * linker binds libssh's calls to them (a program's own definitions come
 * before libc's).  For a socket attached with readahead_attach, a recv or
 * read that finds the socket full refills a buffer of RA_SIZE bytes in one
 * call and hands it out in the sizes asked for; poll reports a socket whose
 * buffer holds bytes as readable without asking the kernel, and asks the
 * kernel anyway at least every RA_POLL_EVERY polls, so that the other
 * descriptors of the same poll (the other leg, the wake-ups) are never
 * starved; close forgets the buffer before the descriptor number can be
 * reused.  Bytes come out exactly as the kernel gave them, in order, with
 * EOF and errors only once the buffer is empty.
 *
 * Every other descriptor, and every process that attaches none (the
 * listener, the signer, the web process), goes straight to the next
 * definition (libc's, or a sanitizer's) after one atomic load.  A socket
 * that trickles (a read gets less than was asked for: an interactive
 * session, an idle one) gives its buffer back, so idle sessions hold none.
 *
 * Only the thread that drives the session's libssh connections reads the
 * attached sockets and attaches them; other threads (the recording's) only
 * close their own files, which the atomic slot check lets through.
 */
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include "broker.h"

#define RA_SLOTS 4
#define RA_SIZE (256 * 1024)
#define RA_POLL_EVERY 8

struct ra_slot {
    atomic_int fd; /* -1: free */
    char *buf;     /* NULL while the socket trickles */
    size_t off, len;
};

static struct ra_slot ra_slots[RA_SLOTS] = {
    {.fd = -1},
    {.fd = -1},
    {.fd = -1},
    {.fd = -1},
};
static atomic_int ra_attached;
static int ra_served; /* polls answered from the buffers since the kernel was last asked */

/* The next definitions in the lookup order: libc's, or a sanitizer's in front of them. */
static void *ra_p_recv, *ra_p_read, *ra_p_poll, *ra_p_close;

static void *ra_next(void **cache, const char *name)
{
    void *f = __atomic_load_n(cache, __ATOMIC_ACQUIRE);

    if (f == NULL) {
        f = dlsym(RTLD_NEXT, name);
        if (f == NULL) {
            abort(); /* no libc below us: nothing sensible is left to do */
        }
        __atomic_store_n(cache, f, __ATOMIC_RELEASE);
    }
    return f;
}

static ssize_t ra_sys_recv(int fd, void *b, size_t n, int flags)
{
    ssize_t (*f)(int, void *, size_t, int);
    void *p = ra_next(&ra_p_recv, "recv");

    memcpy(&f, &p, sizeof(f));
    return f(fd, b, n, flags);
}

static ssize_t ra_sys_read(int fd, void *b, size_t n)
{
    ssize_t (*f)(int, void *, size_t);
    void *p = ra_next(&ra_p_read, "read");

    memcpy(&f, &p, sizeof(f));
    return f(fd, b, n);
}

static int ra_sys_poll(struct pollfd *fds, nfds_t nfds, int timeout)
{
    int (*f)(struct pollfd *, nfds_t, int);
    void *p = ra_next(&ra_p_poll, "poll");

    memcpy(&f, &p, sizeof(f));
    return f(fds, nfds, timeout);
}

static int ra_sys_close(int fd)
{
    int (*f)(int);
    void *p = ra_next(&ra_p_close, "close");

    memcpy(&f, &p, sizeof(f));
    return f(fd);
}

static struct ra_slot *ra_find(int fd)
{
    if (fd < 0 || atomic_load_explicit(&ra_attached, memory_order_acquire) == 0) {
        return NULL;
    }
    for (int i = 0; i < RA_SLOTS; i++) {
        if (atomic_load_explicit(&ra_slots[i].fd, memory_order_acquire) == fd) {
            return &ra_slots[i];
        }
    }
    return NULL;
}

/* The buffer goes; the socket reads as libssh asks until it fills a read again. */
static void ra_release(struct ra_slot *s)
{
    free(s->buf);
    s->buf = NULL;
    s->off = s->len = 0;
}

static void ra_drop(struct ra_slot *s)
{
    ra_release(s);
    atomic_store_explicit(&s->fd, -1, memory_order_release);
    atomic_fetch_sub_explicit(&ra_attached, 1, memory_order_acq_rel);
}

int readahead_attach(int fd)
{
    if (fd < 0) {
        return -1;
    }
    if (ra_find(fd) != NULL) {
        return 0;
    }
    for (int i = 0; i < RA_SLOTS; i++) {
        if (atomic_load_explicit(&ra_slots[i].fd, memory_order_acquire) == -1) {
            ra_slots[i].buf = NULL;
            ra_slots[i].off = ra_slots[i].len = 0;
            atomic_store_explicit(&ra_slots[i].fd, fd, memory_order_release);
            atomic_fetch_add_explicit(&ra_attached, 1, memory_order_acq_rel);
            return 0;
        }
    }
    return -1;
}

void readahead_detach(int fd)
{
    struct ra_slot *s = ra_find(fd);

    if (s != NULL) {
        ra_drop(s);
    }
}

void readahead_trim(void)
{
    for (int i = 0; i < RA_SLOTS; i++) {
        struct ra_slot *s = &ra_slots[i];

        if (atomic_load_explicit(&s->fd, memory_order_acquire) != -1 && s->off == s->len) {
            ra_release(s);
        }
    }
}

size_t readahead_pending(int fd)
{
    const struct ra_slot *s = ra_find(fd);

    return s != NULL ? s->len - s->off : 0;
}

/* A read of an attached socket: from the buffer, refilled when it is empty. */
static ssize_t ra_take(struct ra_slot *s, int fd, void *b, size_t n, int flags)
{
    ssize_t got;
    size_t k;

    if (s->off == s->len) {
        if (n >= RA_SIZE || (flags & ~MSG_DONTWAIT) != 0) {
            return ra_sys_recv(fd, b, n, flags);
        }
        if (s->buf == NULL) {
            got = ra_sys_recv(fd, b, n, flags);
            if (got == (ssize_t)n && n > 0) {
                s->buf = malloc(RA_SIZE); /* the socket was full: read ahead from now on */
            }
            return got;
        }
        got = ra_sys_recv(fd, s->buf, RA_SIZE, flags);
        if (got <= 0) {
            return got; /* EOF or an error (errno set), as the kernel said */
        }
        if ((size_t)got < n) {
            /* the socket held less than one read: it trickles, the buffer goes */
            memcpy(b, s->buf, (size_t)got);
            ra_release(s);
            return got;
        }
        s->off = 0;
        s->len = (size_t)got;
    }
    k = s->len - s->off < n ? s->len - s->off : n;
    memcpy(b, s->buf + s->off, k);
    if (!(flags & MSG_PEEK)) {
        s->off += k;
    }
    return (ssize_t)k;
}

ssize_t recv(int fd, void *buf, size_t n, int flags)
{
    struct ra_slot *s = ra_find(fd);

    if (s == NULL) {
        return ra_sys_recv(fd, buf, n, flags);
    }
    if (s->off < s->len && (flags & ~(MSG_DONTWAIT | MSG_PEEK)) != 0) {
        errno = EOPNOTSUPP; /* MSG_WAITALL, MSG_OOB...: nothing of ours asks for them */
        return -1;
    }
    return ra_take(s, fd, buf, n, flags);
}

ssize_t read(int fd, void *buf, size_t n)
{
    struct ra_slot *s = ra_find(fd);

    if (s == NULL) {
        return ra_sys_read(fd, buf, n);
    }
    return ra_take(s, fd, buf, n, 0);
}

/* Does the read-ahead hold bytes for this entry of a poll that asks for input? */
static int ra_ready(const struct pollfd *p)
{
    const struct ra_slot *s = (p->events & POLLIN) ? ra_find(p->fd) : NULL;

    return s != NULL && s->off < s->len;
}

int poll(struct pollfd *fds, nfds_t nfds, int timeout)
{
    int cached = 0, rc;

    if (atomic_load_explicit(&ra_attached, memory_order_acquire) != 0) {
        for (nfds_t i = 0; i < nfds; i++) {
            cached |= ra_ready(&fds[i]);
        }
    }
    if (!cached) {
        return ra_sys_poll(fds, nfds, timeout);
    }
    if (ra_served < RA_POLL_EVERY) {
        ra_served++;
        for (nfds_t i = 0; i < nfds; i++) {
            fds[i].revents = 0;
        }
    } else {
        ra_served = 0;
        rc = ra_sys_poll(fds, nfds, 0);
        if (rc < 0) {
            return rc;
        }
    }
    rc = 0;
    for (nfds_t i = 0; i < nfds; i++) {
        if (ra_ready(&fds[i])) {
            fds[i].revents |= POLLIN;
        }
        rc += fds[i].revents != 0;
    }
    return rc;
}

int close(int fd)
{
    readahead_detach(fd);
    return ra_sys_close(fd);
}

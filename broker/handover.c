/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Handing a directory tree to the gateway's account: what a daemon started
 * as root does with state_dir (and keys_dir, recordings_dir) before it
 * drops to that account.
 *
 * The tree belongs to that account from its first start on, and a session
 * child runs as it: whatever it left running may change the tree while
 * root walks it.  So the walk never goes by path.  Each directory is opened
 * relative to its parent's descriptor with O_NOFOLLOW | O_DIRECTORY (a
 * directory swapped for a link in between is not entered), each entry is
 * changed relative to that descriptor with AT_SYMLINK_NOFOLLOW (a link is
 * changed itself, never what it points to), and a directory opened must be
 * the one that was looked at (device and inode).  nftw(3) opens by path and
 * the callback changes by path: a link swapped in mid-walk led root into
 * another tree.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker.h"

struct handover {
    uid_t uid;
    gid_t gid;
    const struct stat *skip;
    size_t nskip;
    const char *root;
    char *err;
    size_t errlen;
};

static int handover_skipped(const struct handover *h, const struct stat *st)
{
    for (size_t i = 0; i < h->nskip; i++) {
        if (h->skip[i].st_ino != 0 && st->st_ino == h->skip[i].st_ino &&
            st->st_dev == h->skip[i].st_dev) {
            return 1;
        }
    }
    return 0;
}

static int handover_one(const struct handover *h, int dirfd, const char *name,
                        const struct stat *st)
{
    if (handover_skipped(h, st) || (st->st_uid == h->uid && st->st_gid == h->gid)) {
        return 0;
    }
    if (fchownat(dirfd, name, h->uid, h->gid, AT_SYMLINK_NOFOLLOW) != 0) {
        db_errf(h->err, h->errlen, "%s: %s: %s", h->root, name, strerror(errno));
        return DB_ERR_IO;
    }
    return 0;
}

/* The entries of the directory open as fd (which this closes), depth first. */
static int handover_dir(const struct handover *h, int fd)
{
    DIR *d = fdopendir(fd);
    struct dirent *e = NULL;
    int r = 0;

    if (d == NULL) {
        db_errf(h->err, h->errlen, "%s: %s", h->root, strerror(errno));
        close(fd);
        return DB_ERR_IO;
    }
    while (r == 0 && (errno = 0, e = readdir(d)) != NULL) {
        struct stat st, opened;
        int sub = -1;

        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        if (fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT) {
                continue; /* gone meanwhile */
            }
            db_errf(h->err, h->errlen, "%s: %s: %s", h->root, e->d_name, strerror(errno));
            r = DB_ERR_IO;
            break;
        }
        if ((r = handover_one(h, fd, e->d_name, &st)) != 0 || !S_ISDIR(st.st_mode)) {
            continue;
        }
        sub = openat(fd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0) {
            if (errno == ENOENT || errno == ELOOP || errno == ENOTDIR) {
                continue; /* replaced (by a link, say) since it was looked at: not entered */
            }
            db_errf(h->err, h->errlen, "%s: %s: %s", h->root, e->d_name, strerror(errno));
            r = DB_ERR_IO;
            break;
        }
        if (fstat(sub, &opened) != 0 || opened.st_dev != st.st_dev || opened.st_ino != st.st_ino) {
            close(sub);
            continue; /* another directory than the one looked at: not entered */
        }
        r = handover_dir(h, sub);
    }
    if (r == 0 && errno != 0) {
        db_errf(h->err, h->errlen, "%s: %s", h->root, strerror(errno));
        r = DB_ERR_IO;
    }
    closedir(d);
    return r;
}

int handover_tree(const char *path, uid_t uid, gid_t gid, const struct stat *skip, size_t nskip,
                  char *err, size_t errlen)
{
    struct handover h = {uid, gid, skip, nskip, path, err, errlen};
    struct stat st;
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

    if (fd < 0) {
        db_errf(err, errlen, "%s: %s", path, strerror(errno));
        return DB_ERR_IO;
    }
    if (fstat(fd, &st) != 0 ||
        (!handover_skipped(&h, &st) && (st.st_uid != uid || st.st_gid != gid) &&
         fchown(fd, uid, gid) != 0)) {
        db_errf(err, errlen, "%s: %s", path, strerror(errno));
        close(fd);
        return DB_ERR_IO;
    }
    return handover_dir(&h, fd);
}

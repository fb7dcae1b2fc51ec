/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Free space where recordings are written, against the watermarks of the
 * configuration (recordings.warn_free, recordings.min_free).  Recording is
 * fail-closed: on a full disk every session would end.  So the gateway
 * looks ahead: below warn_free the listener warns (log and notify_command)
 * every hour, below min_free new sessions to targets are refused with a
 * message that says why, while live ones go on until the disk is truly
 * full.  statvfs is cheap, so callers ask whenever they need to know.
 *
 * Free space is what an unprivileged process may still use (f_bavail): the
 * daemon runs as its own account, so the blocks reserved for root are not
 * its to count on.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>

#include "broker.h"

void disk_recordings_dir(const struct config *c, char *buf, size_t buflen)
{
    config_recordings_dir(c, buf, buflen);
}

const char *disk_level_name(enum disk_level l)
{
    switch (l) {
    case DISK_OK:
        return "ok";
    case DISK_LOW:
        return "low";
    case DISK_FULL:
        return "nearly full";
    }
    return "ok";
}

void disk_format_bytes(unsigned long long n, char *buf, size_t buflen)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = (double)n;
    int u = 0;

    while (v >= 1024 && u < 5) {
        v /= 1024;
        u++;
    }
    if (u == 0) {
        snprintf(buf, buflen, "%llu B", n);
    } else {
        snprintf(buf, buflen, "%.1f %s", v, units[u]);
    }
}

void disk_format_free(const struct config_free *f, char *buf, size_t buflen)
{
    if (f->is_percent) {
        snprintf(buf, buflen, "%g%%", f->percent);
    } else {
        disk_format_bytes(f->bytes, buf, buflen);
    }
}

static unsigned long long disk_mark(const struct config_free *f, unsigned long long total)
{
    return f->is_percent ? (unsigned long long)((double)total * f->percent / 100.0) : f->bytes;
}

int disk_check(const struct config *c, struct disk_state *out, char *err, size_t errlen)
{
    struct statvfs st;

    memset(out, 0, sizeof(*out));
    disk_recordings_dir(c, out->path, sizeof(out->path));
    /* before the first start the recordings folder may not exist yet: its parent decides */
    if (statvfs(out->path, &st) != 0 && (errno != ENOENT || statvfs(c->state_dir, &st) != 0)) {
        db_errf(err, errlen, "%s: cannot read free space: %s", out->path, strerror(errno));
        return DB_ERR_IO;
    }
    out->total_bytes = (unsigned long long)st.f_blocks * st.f_frsize;
    out->free_bytes = (unsigned long long)st.f_bavail * st.f_frsize;
    out->free_percent =
        out->total_bytes > 0 ? 100.0 * (double)out->free_bytes / (double)out->total_bytes : 0;
    out->warn_bytes = disk_mark(&c->recordings.warn_free, out->total_bytes);
    out->min_bytes = disk_mark(&c->recordings.min_free, out->total_bytes);
    out->level = out->free_bytes < out->min_bytes    ? DISK_FULL
                 : out->free_bytes < out->warn_bytes ? DISK_LOW
                                                     : DISK_OK;
    return 0;
}

void disk_describe(const struct config *c, const struct disk_state *d, char *buf, size_t buflen)
{
    char fr[32], tot[32], mark[32];
    const struct config_free *m =
        d->level == DISK_FULL ? &c->recordings.min_free : &c->recordings.warn_free;

    disk_format_bytes(d->free_bytes, fr, sizeof(fr));
    disk_format_bytes(d->total_bytes, tot, sizeof(tot));
    disk_format_free(m, mark, sizeof(mark));
    if (d->level == DISK_OK) {
        snprintf(buf, buflen, "%s free of %s (%.1f%%) on %s", fr, tot, d->free_percent, d->path);
    } else {
        snprintf(buf, buflen, "%s free of %s (%.1f%%) on %s, below recordings.%s %s", fr, tot,
                 d->free_percent, d->path, d->level == DISK_FULL ? "min_free" : "warn_free", mark);
    }
}

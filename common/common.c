/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Error strings, durations, secret wiping and UTF-8 validation shared by all
 * libraries.  Nothing here allocates, logs or exits.
 */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

const char *db_strerror(int err)
{
    switch (err) {
    case DB_OK:
        return "ok";
    case DB_ERR_INTERNAL:
        return "internal error";
    case DB_ERR_NOMEM:
        return "out of memory";
    case DB_ERR_INVALID:
        return "invalid input";
    case DB_ERR_IO:
        return "I/O error";
    case DB_ERR_NOTFOUND:
        return "not found";
    case DB_ERR_DENIED:
        return "permission denied";
    case DB_ERR_AUTH:
        return "authentication failed";
    case DB_ERR_UNAVAIL:
        return "service unavailable";
    case DB_ERR_TIMEOUT:
        return "timed out";
    case DB_ERR_EXISTS:
        return "already exists";
    case DB_ERR_HOSTKEY:
        return "host key mismatch";
    case DB_ERR_UPSTREAM:
        return "upstream connection failed";
    case DB_ERR_USAGE:
        return "usage error";
    case DB_ERR_BUSY:
        return "busy";
    case DB_ERR_CONFLICT:
        return "conflict";
    case DB_ERR_TAMPERED:
        return "tampered";
    }
    return "unknown error";
}

void db_errf(char *buf, size_t buflen, const char *fmt, ...)
{
    va_list ap;

    if (buf == NULL || buflen == 0) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(buf, buflen, fmt, ap);
    va_end(ap);
}

#define DB_DURATION_MAX (10LL * 365 * 86400)

int db_parse_duration(const char *s, long long *out_seconds)
{
    long long v = 0, mult = 0;
    size_t i = 0;

    *out_seconds = 0;
    if (s == NULL || s[0] < '0' || s[0] > '9') {
        return DB_ERR_INVALID;
    }
    while (s[i] >= '0' && s[i] <= '9') {
        v = v * 10 + (s[i] - '0');
        if (v > DB_DURATION_MAX) {
            return DB_ERR_INVALID;
        }
        i++;
    }
    switch (s[i]) {
    case 's':
        mult = 1;
        break;
    case 'm':
        mult = 60;
        break;
    case 'h':
        mult = 3600;
        break;
    case 'd':
        mult = 86400;
        break;
    default:
        return DB_ERR_INVALID;
    }
    if (s[i + 1] != '\0' || v == 0 || v * mult > DB_DURATION_MAX) {
        return DB_ERR_INVALID;
    }
    *out_seconds = v * mult;
    return 0;
}

void db_format_duration(long long seconds, char *buf, size_t buflen)
{
    long long d = seconds / 86400, h = (seconds % 86400) / 3600;
    long long m = (seconds % 3600) / 60, s = seconds % 60;
    size_t off = 0;

    if (buflen == 0) {
        return;
    }
    buf[0] = '\0';
    if (seconds <= 0) {
        snprintf(buf, buflen, "0s");
        return;
    }
#define DB_APPEND(val, unit)                                                                       \
    if ((val) > 0 && off < buflen) {                                                               \
        int n_ = snprintf(buf + off, buflen - off, "%lld%s", (long long)(val), unit);              \
        off += n_ > 0 ? (size_t)n_ : 0;                                                            \
    }
    DB_APPEND(d, "d");
    DB_APPEND(h, "h");
    DB_APPEND(m, "m");
    DB_APPEND(s, "s");
#undef DB_APPEND
}

void db_oneline(char *s)
{
    for (; s != NULL && *s != '\0'; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f) {
            *s = '?';
        }
    }
}

void db_wipe(void *p, size_t len)
{
    volatile unsigned char *v = p;

    if (p == NULL) {
        return;
    }
    while (len-- > 0) {
        *v++ = 0;
    }
}

int db_utf8_valid(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;

    while (i < len) {
        unsigned char c = u[i];
        size_t n;
        uint32_t cp;

        if (c == 0) {
            return 0;
        }
        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xe0) == 0xc0) {
            n = 1;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (len - i <= n) {
            return 0;
        }
        for (size_t k = 1; k <= n; k++) {
            if ((u[i + k] & 0xc0) != 0x80) {
                return 0;
            }
            cp = (cp << 6) | (u[i + k] & 0x3f);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return 0;
        }
        i += n + 1;
    }
    return 1;
}

unsigned long long db_raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        return 0;
    }
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0 && getrlimit(RLIMIT_NOFILE, &rl) != 0) {
            return 0;
        }
    }
    return (unsigned long long)rl.rlim_cur;
}

int db_write_new_file(const char *path, const void *data, size_t len, unsigned int mode,
                      const char *what, char *err, size_t errlen)
{
    const char *p = data;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)mode);
    int r = DB_ERR_IO;

    if (fd < 0) {
        db_errf(err, errlen, "%s: cannot %s: %s", path, what, strerror(errno));
        return r;
    }
    if (fchmod(fd, (mode_t)mode) != 0) {
        goto out;
    }
    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            errno = n == 0 ? EIO : errno;
            goto out;
        }
        p += n;
        len -= (size_t)n;
    }
    if (fsync(fd) == 0) {
        r = 0;
    }
out:
    if (r != 0) {
        db_errf(err, errlen, "%s: cannot %s: %s", path, what, strerror(errno));
    }
    close(fd);
    if (r != 0) {
        unlink(path);
    }
    return r;
}

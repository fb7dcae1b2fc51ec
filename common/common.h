/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared by every Drawbridge library: the single error-code enum, and a few
 * helpers that the leaf libraries (policies/, recordings/) may use without
 * depending on the broker.  Every function in the project returns 0 or one of
 * the negative DB_ERR_* codes below.
 */
#ifndef DRAWBRIDGE_COMMON_H
#define DRAWBRIDGE_COMMON_H

#include <stddef.h>
#include <stdint.h>

#define DRAWBRIDGE_VERSION "0.1.0"

enum db_err {
    DB_OK = 0,
    DB_ERR_INTERNAL = -1,
    DB_ERR_NOMEM = -2,
    DB_ERR_INVALID = -3,  /* bad input: syntax, range, unknown key */
    DB_ERR_IO = -4,       /* file or socket I/O failed */
    DB_ERR_NOTFOUND = -5, /* no such user, target, row */
    DB_ERR_DENIED = -6,   /* authorisation refused */
    DB_ERR_AUTH = -7,     /* authentication failed */
    DB_ERR_UNAVAIL = -8,  /* a dependency (LDAP, target) is down */
    DB_ERR_TIMEOUT = -9,
    DB_ERR_EXISTS = -10,
    DB_ERR_HOSTKEY = -11, /* target host key does not match the pinned key */
    DB_ERR_UPSTREAM = -12,
    DB_ERR_USAGE = -13, /* command-line usage error (exit status 2) */
    DB_ERR_BUSY = -14,
    DB_ERR_CONFLICT = -15, /* state changed under us (already decided, expired) */
    DB_ERR_TAMPERED = -16,
};

/* Never NULL; a static string. */
const char *db_strerror(int err);

/* Formats into buf (always NUL-terminated when buflen > 0). */
void db_errf(char *buf, size_t buflen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Parses a DURATION ("90s", "30m", "4h", "2d"; a plain number is refused) into
 * seconds.  Returns 0 or DB_ERR_INVALID.  Bounded to ten years.
 */
int db_parse_duration(const char *s, long long *out_seconds);

/* Formats seconds as "1h30m", "45s"... into buf. */
void db_format_duration(long long seconds, char *buf, size_t buflen);

/*
 * Makes s safe as one line of a message: control bytes (and DEL) become '?',
 * so text quoted from a file or a network peer cannot add lines or send
 * terminal escapes.
 */
void db_oneline(char *s);

/* Overwrites len bytes in a way the compiler may not optimise away. */
void db_wipe(void *p, size_t len);

/* Returns 1 when s (len bytes) is valid UTF-8 with no NUL. */
int db_utf8_valid(const char *s, size_t len);

/*
 * Raises the soft limit on open files to the hard limit (a service starts
 * with 1024 under systemd, however many sessions the hard limit allows) and
 * returns the limit now in force, 0 when it cannot be read.
 */
unsigned long long db_raise_nofile(void);

/*
 * Creates path (O_CREAT|O_EXCL|O_NOFOLLOW: never an existing file or a link)
 * with mode, whatever the umask, writes data and fsyncs it.  On failure the
 * file is removed again and err says "PATH: cannot WHAT: reason".  0 or
 * DB_ERR_IO.
 */
int db_write_new_file(const char *path, const void *data, size_t len, unsigned int mode,
                      const char *what, char *err, size_t errlen);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The audit chain's rules, kept apart from SQLite so they can be read and
 * tested on their own: the canonical form of a row and its SHA-256, the head
 * anchor file that makes truncation of the tail visible, and a verifier that
 * is fed rows in order and names the first bad one.
 *
 * Canonical form (version 1) of a row, the bytes that are hashed:
 *
 *   "drawbridge-audit-v1\n"
 *   netstring(seq) netstring(time) netstring(actor) netstring(event)
 *   netstring(object) netstring(details) netstring(prev_hash)
 *
 * with netstring(x) = <decimal length of x> ":" x "," and integers written
 * in plain decimal ("-" only for negatives, no leading zeros).  Length
 * prefixes make the form unambiguous whatever bytes the fields hold, and
 * the version line lets a later format coexist.  Row 1's prev_hash is 64
 * '0' characters; every hash is lowercase hex.
 *
 * The head anchor (state_dir/audit.head) is one line,
 *
 *   "drawbridge-audit-head v1 <seq> <hash> <hmac>\n"
 *
 * where hmac is HMAC-SHA256, in lowercase hex, of everything before its
 * separating space, under the 32-byte key state_dir/keys/recording.hmac.
 * Rows are committed before the anchor is moved, so after a crash the anchor
 * may lag the table (the verifier accepts rows past it that chain
 * correctly); a table that ends before the anchored row was truncated.
 *
 * Audit retention (retention.c) moves the oldest rows into a sealed archive
 * file and deletes them, in one transaction with an "audit.archive" row
 * whose details say {"through": N, "last_hash": H}.  A chain that starts
 * after row 1 is accepted only when such a row accounts for exactly the
 * rows before its first one, with the hash that first row chains to.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "broker.h"

#define AUDIT_MAGIC "drawbridge-audit-v1\n"
#define AUDIT_HEAD_MAGIC "drawbridge-audit-head v1"
#define AUDIT_HEAD_MAX 256

static void audit_hex(const unsigned char *md, size_t n, char *hex)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 0x0f];
    }
    hex[2 * n] = '\0';
}

static int audit_ns(EVP_MD_CTX *md, const char *s, size_t len)
{
    char pre[32];
    int n = snprintf(pre, sizeof(pre), "%zu:", len);

    if (EVP_DigestUpdate(md, pre, (size_t)n) != 1 || EVP_DigestUpdate(md, s, len) != 1 ||
        EVP_DigestUpdate(md, ",", 1) != 1) {
        return DB_ERR_INTERNAL;
    }
    return 0;
}

static int audit_ns_str(EVP_MD_CTX *md, const char *s)
{
    return audit_ns(md, s != NULL ? s : "", s != NULL ? strlen(s) : 0);
}

static int audit_ns_int(EVP_MD_CTX *md, long long v)
{
    char num[32];
    int n = snprintf(num, sizeof(num), "%lld", v);

    return audit_ns(md, num, (size_t)n);
}

int audit_row_hash(const struct audit_row *row, char hex[AUDIT_HASH_HEX + 1])
{
    EVP_MD_CTX *md = NULL;
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int outlen = 0;
    int r = DB_ERR_INTERNAL;

    hex[0] = '\0';
    md = EVP_MD_CTX_new();
    if (md == NULL) {
        return DB_ERR_NOMEM;
    }
    if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
        EVP_DigestUpdate(md, AUDIT_MAGIC, strlen(AUDIT_MAGIC)) != 1) {
        goto out;
    }
    if (audit_ns_int(md, row->seq) != 0 || audit_ns_int(md, row->time) != 0 ||
        audit_ns_str(md, row->actor) != 0 || audit_ns_str(md, row->event) != 0 ||
        audit_ns_str(md, row->object) != 0 || audit_ns_str(md, row->details) != 0 ||
        audit_ns_str(md, row->prev_hash) != 0) {
        goto out;
    }
    if (EVP_DigestFinal_ex(md, out, &outlen) != 1 || outlen != 32) {
        goto out;
    }
    audit_hex(out, 32, hex);
    r = 0;
out:
    EVP_MD_CTX_free(md);
    return r;
}

static int audit_is_hex64(const char *s, size_t len)
{
    if (len != AUDIT_HASH_HEX) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return 0;
        }
    }
    return 1;
}

/* "drawbridge-audit-head v1 <seq> <hash>" into buf; its length. */
static int audit_head_body(const struct audit_head *h, char *buf, size_t buflen)
{
    return snprintf(buf, buflen, "%s %lld %s", AUDIT_HEAD_MAGIC, h->seq, h->hash);
}

static int audit_head_mac(const unsigned char key[32], const char *body, size_t len,
                          char hex[AUDIT_HASH_HEX + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    if (HMAC(EVP_sha256(), key, 32, (const unsigned char *)body, len, md, &mdlen) == NULL ||
        mdlen != 32) {
        return DB_ERR_INTERNAL;
    }
    audit_hex(md, 32, hex);
    return 0;
}

/* Splits "MAGIC SEQ HASH HMAC\n" strictly; 0 or DB_ERR_TAMPERED. */
static int audit_head_parse(const char *buf, size_t len, struct audit_head *h, size_t *bodylen,
                            const char **mac)
{
    size_t ml = strlen(AUDIT_HEAD_MAGIC), i, start;
    long long seq = 0;

    if (len < ml + 1 || memcmp(buf, AUDIT_HEAD_MAGIC, ml) != 0 || buf[ml] != ' ' ||
        buf[len - 1] != '\n') {
        return DB_ERR_TAMPERED;
    }
    i = ml + 1;
    start = i;
    while (i < len && buf[i] >= '0' && buf[i] <= '9' && i - start < 18) {
        seq = seq * 10 + (buf[i] - '0');
        i++;
    }
    if (i == start || (buf[start] == '0' && i - start > 1) || i >= len || buf[i] != ' ') {
        return DB_ERR_TAMPERED;
    }
    i++;
    if (len - i < 2 * AUDIT_HASH_HEX + 2 || !audit_is_hex64(buf + i, AUDIT_HASH_HEX) ||
        buf[i + AUDIT_HASH_HEX] != ' ') {
        return DB_ERR_TAMPERED;
    }
    memcpy(h->hash, buf + i, AUDIT_HASH_HEX);
    h->hash[AUDIT_HASH_HEX] = '\0';
    h->seq = seq;
    *bodylen = i + AUDIT_HASH_HEX;
    i += AUDIT_HASH_HEX + 1;
    if (len - i != AUDIT_HASH_HEX + 1 || !audit_is_hex64(buf + i, AUDIT_HASH_HEX)) {
        return DB_ERR_TAMPERED;
    }
    *mac = buf + i;
    return 0;
}

int audit_head_read(const char *path, const unsigned char key[32], struct audit_head *out,
                    char *err, size_t errlen)
{
    char buf[AUDIT_HEAD_MAX + 1], mac[AUDIT_HASH_HEX + 1];
    const char *got = NULL;
    size_t bodylen = 0;
    ssize_t n;
    int fd, r = DB_ERR_TAMPERED;

    memset(out, 0, sizeof(*out));
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        db_errf(err, errlen, "audit head: %s: %s", path, strerror(errno));
        return errno == ENOENT ? DB_ERR_NOTFOUND : DB_ERR_IO;
    }
    n = read(fd, buf, sizeof(buf));
    close(fd);
    if (n < 0) {
        db_errf(err, errlen, "audit head: %s: %s", path, strerror(errno));
        return DB_ERR_IO;
    }
    if ((size_t)n > AUDIT_HEAD_MAX || audit_head_parse(buf, (size_t)n, out, &bodylen, &got) != 0) {
        db_errf(err, errlen, "audit head: %s is malformed", path);
        goto out;
    }
    if (audit_head_mac(key, buf, bodylen, mac) != 0) {
        r = DB_ERR_INTERNAL;
        goto out;
    }
    if (CRYPTO_memcmp(mac, got, AUDIT_HASH_HEX) != 0) {
        db_errf(err, errlen, "audit head: %s has a bad HMAC (altered, or the key changed)", path);
        goto out;
    }
    r = 0;
out:
    if (r != 0) {
        memset(out, 0, sizeof(*out));
    }
    return r;
}

static int audit_fsync_dir(const char *path)
{
    char *copy = strdup(path);
    int fd, r = 0;

    if (copy == NULL) {
        return DB_ERR_NOMEM;
    }
    fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        r = DB_ERR_IO;
    }
    if (fd >= 0) {
        close(fd);
    }
    free(copy);
    return r;
}

int audit_head_write(const char *path, const unsigned char key[32], const struct audit_head *h,
                     char *err, size_t errlen)
{
    char tmp[4200], line[AUDIT_HEAD_MAX + 1], mac[AUDIT_HASH_HEX + 1];
    int n, fd = -1, r = DB_ERR_IO;

    n = audit_head_body(h, line, sizeof(line));
    if (n <= 0 || (size_t)n + AUDIT_HASH_HEX + 2 >= sizeof(line) ||
        audit_head_mac(key, line, (size_t)n, mac) != 0) {
        db_errf(err, errlen, "audit head: cannot seal");
        return DB_ERR_INTERNAL;
    }
    n += snprintf(line + n, sizeof(line) - (size_t)n, " %s\n", mac);
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= sizeof(tmp)) {
        db_errf(err, errlen, "audit head: path too long");
        return DB_ERR_INVALID;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, line, (size_t)n) != n || fsync(fd) != 0) {
        db_errf(err, errlen, "audit head: %s: %s", tmp, strerror(errno));
        goto out;
    }
    close(fd);
    fd = -1;
    if (rename(tmp, path) != 0) {
        db_errf(err, errlen, "audit head: rename to %s: %s", path, strerror(errno));
        goto out;
    }
    if (audit_fsync_dir(path) != 0) {
        db_errf(err, errlen, "audit head: cannot sync the directory of %s", path);
        goto out;
    }
    r = 0;
out:
    if (fd >= 0) {
        close(fd);
    }
    if (r != 0) {
        unlink(tmp);
    }
    return r;
}

/* ---- the verifier ---- */

void audit_verify_begin(struct audit_verifier *v, const struct audit_head *head)
{
    memset(v, 0, sizeof(*v));
    v->head = head;
    v->expect_seq = 1;
    memset(v->prev_hash, '0', AUDIT_HASH_HEX);
    v->prev_hash[AUDIT_HASH_HEX] = '\0';
}

/*
 * An "audit.archive" row: rows up to details.through went to an archive
 * file, the last of them with hash details.last_hash.  The one that accounts
 * for the rows before the first row still here proves that they were
 * archived, not deleted.
 */
static void audit_verify_archive_row(struct audit_verifier *v, const struct audit_row *row)
{
    json_t *d = NULL;
    const char *last = NULL;

    if (v->base_seq == 0 || row->event == NULL || strcmp(row->event, AUDIT_ARCHIVE_EVENT) != 0 ||
        row->details == NULL || (d = json_loads(row->details, 0, NULL)) == NULL) {
        return;
    }
    last = json_string_value(json_object_get(d, "last_hash"));
    if (json_integer_value(json_object_get(d, "through")) == v->base_seq && last != NULL &&
        strcmp(last, v->base_hash) == 0) {
        v->base_proved = 1;
    }
    json_decref(d);
}

int audit_verify_row(struct audit_verifier *v, const struct audit_row *row, char *err,
                     size_t errlen)
{
    char h[AUDIT_HASH_HEX + 1];

    /* Retention archives the oldest rows: the chain then starts where they end. */
    if (v->nrows == 0 && v->expect_seq == 1 && row->seq > 1) {
        v->base_seq = row->seq - 1;
        snprintf(v->base_hash, sizeof(v->base_hash), "%s", row->prev_hash);
        memcpy(v->prev_hash, v->base_hash, sizeof(v->prev_hash));
        v->expect_seq = row->seq;
    }

    if (row->seq > v->expect_seq) {
        db_errf(err, errlen, "audit row %lld: missing (deleted; the next row is %lld)",
                v->expect_seq, row->seq);
        return DB_ERR_TAMPERED;
    }
    if (row->seq < v->expect_seq) {
        db_errf(err, errlen, "audit row %lld: out of order (expected row %lld)", row->seq,
                v->expect_seq);
        return DB_ERR_TAMPERED;
    }
    if (audit_row_hash(row, h) != 0) {
        db_errf(err, errlen, "audit row %lld: cannot hash", row->seq);
        return DB_ERR_INTERNAL;
    }
    if (strcmp(h, row->hash) != 0) {
        db_errf(err, errlen, "audit row %lld: contents do not match its hash (edited or moved)",
                row->seq);
        return DB_ERR_TAMPERED;
    }
    if (strcmp(row->prev_hash, v->prev_hash) != 0) {
        /* The row is self-consistent, so it was written after a predecessor that is no longer
         * there: the row before it was rewritten (or the chain spliced). */
        if (row->seq > 1) {
            db_errf(err, errlen,
                    "audit row %lld: altered (row %lld was chained to a different version "
                    "of it)",
                    row->seq - 1, row->seq);
        } else {
            db_errf(err, errlen, "audit row 1: does not start the chain (rows before it removed)");
        }
        return DB_ERR_TAMPERED;
    }
    if (v->head != NULL && v->head->seq == row->seq) {
        if (strcmp(v->head->hash, row->hash) != 0) {
            db_errf(err, errlen,
                    "audit row %lld: differs from the head anchor (chain rewritten up to here)",
                    row->seq);
            return DB_ERR_TAMPERED;
        }
        v->head_seen = 1;
    }
    audit_verify_archive_row(v, row);
    memcpy(v->prev_hash, row->hash, sizeof(v->prev_hash));
    v->expect_seq++;
    v->nrows++;
    return 0;
}

int audit_verify_end(struct audit_verifier *v, long long *nrows, char *err, size_t errlen)
{
    if (nrows != NULL) {
        *nrows = v->nrows;
    }
    if (v->base_seq > 0 && !v->base_proved) {
        db_errf(err, errlen,
                "audit row 1: missing (rows 1-%lld are gone and no audit.archive row accounts "
                "for them)",
                v->base_seq);
        return DB_ERR_TAMPERED;
    }
    if (v->head != NULL && v->head->seq > 0 && !v->head_seen) {
        db_errf(err, errlen,
                "audit row %lld: missing (the chain ends at row %lld but the head anchor "
                "records row %lld: truncated)",
                v->expect_seq, v->expect_seq - 1, v->head->seq);
        return DB_ERR_TAMPERED;
    }
    return 0;
}

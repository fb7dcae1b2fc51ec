/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sealed archives of audit rows.  Audit retention (retention.c) moves the
 * oldest rows of the chain out of the store; before they are deleted they
 * are written here, to a file that can be checked on its own, anywhere,
 * with the key:
 *
 *   {"drawbridge_audit_archive": 1, "first": F, "prev_hash": "..."}
 *   {"seq": F, "time": T, "actor": A, "event": E, "object": O,
 *    "details": D, "prev_hash": "...", "hash": "..."}
 *   ... one line per row, F to L, in order ...
 *   {"last": L, "last_hash": "...", "rows": N, "sha256": "...", "seal": "..."}
 *
 * Text fields are JSON strings holding the stored bytes exactly (details is
 * the row's JSON text as it was hashed, not re-encoded); a field that is not
 * valid UTF-8 (a hostile login name) is {"base64": "..."} instead, so that
 * every row hashes again to its own "hash" (audit.c's canonical form).
 * "sha256" is the SHA-256 of every byte before the last line, "seal" the
 * HMAC-SHA256, in hex, of "drawbridge-audit-archive-v1:" followed by that
 * hex digest, under the key state_dir/keys/recording.hmac.  The file is
 * named audit-FIRST-LAST.jsonl (12 digits each), written under a temporary
 * name, synced and renamed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "broker.h"

#define ARCHIVE_SEAL_PREFIX "drawbridge-audit-archive-v1:"
#define ARCHIVE_LINE_MAX (4 * 1024 * 1024) /* one row's line; audit rows are far smaller */

static void archive_hex(const unsigned char *md, size_t n, char *hex)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 0x0f];
    }
    hex[2 * n] = '\0';
}

static int archive_seal(const unsigned char key[32], const char sha_hex[AUDIT_HASH_HEX + 1],
                        char out[AUDIT_HASH_HEX + 1])
{
    char msg[sizeof(ARCHIVE_SEAL_PREFIX) + AUDIT_HASH_HEX];
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    int n = snprintf(msg, sizeof(msg), "%s%s", ARCHIVE_SEAL_PREFIX, sha_hex);

    if (HMAC(EVP_sha256(), key, 32, (const unsigned char *)msg, (size_t)n, mac, &maclen) == NULL ||
        maclen != 32) {
        return DB_ERR_INTERNAL;
    }
    archive_hex(mac, 32, out);
    return 0;
}

/* A text field: the string when it is UTF-8, else {"base64": ...}. */
static json_t *archive_text(const char *s)
{
    size_t len = s != NULL ? strlen(s) : 0;
    unsigned char *b64 = NULL;
    json_t *j = NULL;

    if (db_utf8_valid(s != NULL ? s : "", len)) {
        return json_stringn(s != NULL ? s : "", len);
    }
    b64 = malloc(4 * ((len + 2) / 3) + 1);
    if (b64 == NULL) {
        return NULL;
    }
    EVP_EncodeBlock(b64, (const unsigned char *)s, (int)len);
    j = json_pack("{ss}", "base64", (const char *)b64);
    free(b64);
    return j;
}

/* The bytes of a text field (caller frees); NULL when it is neither form. */
static char *archive_text_read(const json_t *j)
{
    const char *b64 = NULL;
    unsigned char *raw = NULL;
    size_t n = 0, pad = 0;
    int got;

    if (json_is_string(j)) {
        if (memchr(json_string_value(j), '\0', json_string_length(j)) != NULL) {
            return NULL;
        }
        return strdup(json_string_value(j));
    }
    if (!json_is_object(j) || json_object_size(j) != 1 ||
        (b64 = json_string_value(json_object_get(j, "base64"))) == NULL) {
        return NULL;
    }
    n = strlen(b64);
    if (n % 4 != 0) {
        return NULL;
    }
    pad = n >= 1 && b64[n - 1] == '=' ? (n >= 2 && b64[n - 2] == '=' ? 2 : 1) : 0;
    raw = malloc(n / 4 * 3 + 1);
    if (raw == NULL) {
        return NULL;
    }
    got = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)n);
    if (got < 0 || (size_t)got < pad || memchr(raw, '\0', (size_t)got - pad) != NULL) {
        free(raw);
        return NULL;
    }
    raw[(size_t)got - pad] = '\0';
    return (char *)raw;
}

struct archive_writer {
    FILE *f;
    EVP_MD_CTX *sha;
    long long through;
    struct archive_info *info;
    long long rows;
    int failed;
};

static int archive_put(struct archive_writer *w, json_t *o)
{
    char *line = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    size_t n = line != NULL ? strlen(line) : 0;
    int r = 0;

    if (line == NULL || fwrite(line, 1, n, w->f) != n || fputc('\n', w->f) == EOF ||
        EVP_DigestUpdate(w->sha, line, n) != 1 || EVP_DigestUpdate(w->sha, "\n", 1) != 1) {
        r = DB_ERR_IO;
    }
    free(line);
    json_decref(o);
    return r;
}

static int archive_row(void *ctx, const struct audit_row *row)
{
    struct archive_writer *w = ctx;
    json_t *o = NULL;

    if (row->seq > w->through) {
        return 1; /* done */
    }
    if (w->rows == 0) {
        w->info->first = row->seq;
        snprintf(w->info->prev_hash, sizeof(w->info->prev_hash), "%s", row->prev_hash);
        if (archive_put(w, json_pack("{si sI ss}", "drawbridge_audit_archive", 1, "first",
                                     (json_int_t)row->seq, "prev_hash", row->prev_hash)) != 0) {
            w->failed = 1;
            return DB_ERR_IO;
        }
    }
    o = json_pack("{sI sI so so so so ss ss}", "seq", (json_int_t)row->seq, "time",
                  (json_int_t)row->time, "actor", archive_text(row->actor), "event",
                  archive_text(row->event), "object", archive_text(row->object), "details",
                  archive_text(row->details), "prev_hash", row->prev_hash, "hash", row->hash);
    if (archive_put(w, o) != 0) {
        w->failed = 1;
        return DB_ERR_IO;
    }
    w->info->last = row->seq;
    snprintf(w->info->last_hash, sizeof(w->info->last_hash), "%s", row->hash);
    w->rows++;
    return 0;
}

static int archive_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int r = 0;

    if (fd < 0) {
        return DB_ERR_IO;
    }
    if (fsync(fd) != 0) {
        r = DB_ERR_IO;
    }
    close(fd);
    return r;
}

int archive_write(struct store *s, const char *dir, const unsigned char key[32], long long through,
                  struct archive_info *info, char *path, size_t pathlen, char *err, size_t errlen)
{
    struct archive_writer w;
    char tmp[4200], sha_hex[AUDIT_HASH_HEX + 1], seal[AUDIT_HASH_HEX + 1];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int fd = -1, r = DB_ERR_IO;

    memset(&w, 0, sizeof(w));
    memset(info, 0, sizeof(*info));
    w.through = through;
    w.info = info;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        db_errf(err, errlen, "%s: cannot create: %s", dir, strerror(errno));
        return DB_ERR_IO;
    }
    snprintf(tmp, sizeof(tmp), "%s/.audit-archive-XXXXXX", dir);
    if ((fd = mkstemp(tmp)) < 0 || (w.f = fdopen(fd, "w")) == NULL) {
        db_errf(err, errlen, "%s: cannot create a file: %s", dir, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        return DB_ERR_IO;
    }
    if ((w.sha = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(w.sha, EVP_sha256(), NULL) != 1) {
        r = DB_ERR_NOMEM;
        goto out;
    }
    r = store_audit_foreach(s, 0, archive_row, &w);
    if ((r != 0 && r != 1) || w.failed || w.rows == 0) {
        db_errf(err, errlen, "%s: %s", tmp,
                w.rows == 0 ? "no rows to archive" : "writing the archive failed");
        r = w.rows == 0 ? DB_ERR_NOTFOUND : DB_ERR_IO;
        goto out;
    }
    if (EVP_DigestFinal_ex(w.sha, md, &mdlen) != 1 || mdlen != 32) {
        r = DB_ERR_INTERNAL;
        goto out;
    }
    archive_hex(md, 32, sha_hex);
    if ((r = archive_seal(key, sha_hex, seal)) != 0) {
        goto out;
    }
    if (fprintf(w.f,
                "{\"last\":%lld,\"last_hash\":\"%s\",\"rows\":%lld,\"sha256\":\"%s\","
                "\"seal\":\"%s\"}\n",
                info->last, info->last_hash, w.rows, sha_hex, seal) < 0 ||
        fflush(w.f) != 0 || fsync(fileno(w.f)) != 0) {
        db_errf(err, errlen, "%s: writing the archive failed: %s", tmp, strerror(errno));
        r = DB_ERR_IO;
        goto out;
    }
    fclose(w.f);
    w.f = NULL;
    snprintf(path, pathlen, "%s/audit-%012lld-%012lld.jsonl", dir, info->first, info->last);
    if (rename(tmp, path) != 0 || archive_fsync_dir(dir) != 0) {
        db_errf(err, errlen, "%s: cannot put the archive in place: %s", path, strerror(errno));
        r = DB_ERR_IO;
        goto out;
    }
    memcpy(info->sha256, sha_hex, sizeof(info->sha256));
    r = 0;
out:
    if (w.f != NULL) {
        fclose(w.f);
    }
    if (r != 0) {
        unlink(tmp);
    }
    EVP_MD_CTX_free(w.sha);
    return r;
}

/* One row line of an archive, checked against the chain so far. */
static int archive_check_row(const json_t *o, long long expect, char prev[AUDIT_HASH_HEX + 1],
                             char *err, size_t errlen)
{
    struct audit_row row;
    char *actor = archive_text_read(json_object_get(o, "actor"));
    char *event = archive_text_read(json_object_get(o, "event"));
    char *object = archive_text_read(json_object_get(o, "object"));
    char *details = archive_text_read(json_object_get(o, "details"));
    const char *ph = json_string_value(json_object_get(o, "prev_hash"));
    const char *h = json_string_value(json_object_get(o, "hash"));
    char mine[AUDIT_HASH_HEX + 1];
    int r = DB_ERR_TAMPERED;

    memset(&row, 0, sizeof(row));
    if (!json_is_integer(json_object_get(o, "seq")) ||
        !json_is_integer(json_object_get(o, "time")) || actor == NULL || event == NULL ||
        object == NULL || details == NULL || ph == NULL || h == NULL ||
        strlen(ph) != AUDIT_HASH_HEX || strlen(h) != AUDIT_HASH_HEX) {
        db_errf(err, errlen, "row %lld: malformed", expect);
        goto out;
    }
    row.seq = json_integer_value(json_object_get(o, "seq"));
    row.time = json_integer_value(json_object_get(o, "time"));
    row.actor = actor;
    row.event = event;
    row.object = object;
    row.details = details;
    memcpy(row.prev_hash, ph, sizeof(row.prev_hash));
    if (row.seq != expect) {
        db_errf(err, errlen, "row %lld: expected row %lld here", row.seq, expect);
        goto out;
    }
    if (audit_row_hash(&row, mine) != 0 || strcmp(mine, h) != 0) {
        db_errf(err, errlen, "row %lld: contents do not match its hash", row.seq);
        goto out;
    }
    if (strcmp(ph, prev) != 0) {
        db_errf(err, errlen, "row %lld: does not chain to the row before it", row.seq);
        goto out;
    }
    memcpy(prev, h, AUDIT_HASH_HEX + 1);
    r = 0;
out:
    free(actor);
    free(event);
    free(object);
    free(details);
    return r;
}

/* The last line against what the rows and bytes before it were. */
static int archive_check_seal(const json_t *o, const unsigned char key[32], long long last,
                              const char *last_hash, long long rows, const char *sha_hex, char *err,
                              size_t errlen)
{
    const char *lh = json_string_value(json_object_get(o, "last_hash"));
    const char *sh = json_string_value(json_object_get(o, "sha256"));
    const char *seal = json_string_value(json_object_get(o, "seal"));
    char want[AUDIT_HASH_HEX + 1];

    if (json_integer_value(json_object_get(o, "last")) != last || lh == NULL ||
        strcmp(lh, last_hash) != 0 || json_integer_value(json_object_get(o, "rows")) != rows) {
        db_errf(err, errlen,
                "the seal line does not describe the rows above it (rows cut or added)");
        return DB_ERR_TAMPERED;
    }
    if (sh == NULL || strcmp(sh, sha_hex) != 0) {
        db_errf(err, errlen, "the file's bytes do not match its sha256");
        return DB_ERR_TAMPERED;
    }
    if (seal == NULL || strlen(seal) != AUDIT_HASH_HEX || archive_seal(key, sha_hex, want) != 0 ||
        CRYPTO_memcmp(want, seal, AUDIT_HASH_HEX) != 0) {
        db_errf(err, errlen, "the seal does not match (written without the key, or edited)");
        return DB_ERR_TAMPERED;
    }
    return 0;
}

int archive_verify_file(const char *path, const unsigned char key[32], struct archive_info *info,
                        char *err, size_t errlen)
{
    FILE *f = NULL;
    EVP_MD_CTX *sha = EVP_MD_CTX_new();
    char *line = NULL, prev[AUDIT_HASH_HEX + 1] = "", sha_hex[AUDIT_HASH_HEX + 1];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    size_t cap = 0;
    ssize_t n;
    long long lineno = 0, expect = 0, rows = 0;
    int r = DB_ERR_TAMPERED, sealed = 0;

    memset(info, 0, sizeof(*info));
    if (sha == NULL || EVP_DigestInit_ex(sha, EVP_sha256(), NULL) != 1) {
        r = DB_ERR_NOMEM;
        goto out;
    }
    if ((f = fopen(path, "re")) == NULL) {
        db_errf(err, errlen, "%s", strerror(errno));
        r = errno == ENOENT ? DB_ERR_NOTFOUND : DB_ERR_IO;
        goto out;
    }
    while ((n = getline(&line, &cap, f)) > 0) {
        json_t *o = NULL;

        lineno++;
        if (sealed) {
            db_errf(err, errlen, "line %lld: bytes after the seal", lineno);
            goto out;
        }
        if (n > ARCHIVE_LINE_MAX || line[n - 1] != '\n' ||
            (o = json_loadb(line, (size_t)n - 1, JSON_REJECT_DUPLICATES, NULL)) == NULL) {
            db_errf(err, errlen, "line %lld: not a line of JSON", lineno);
            goto out;
        }
        if (lineno == 1) {
            const char *ph = json_string_value(json_object_get(o, "prev_hash"));

            if (json_integer_value(json_object_get(o, "drawbridge_audit_archive")) != 1 ||
                ph == NULL || strlen(ph) != AUDIT_HASH_HEX ||
                json_integer_value(json_object_get(o, "first")) < 1) {
                db_errf(err, errlen, "not a drawbridge audit archive (version 1)");
                json_decref(o);
                goto out;
            }
            info->first = expect = json_integer_value(json_object_get(o, "first"));
            memcpy(prev, ph, sizeof(prev));
            memcpy(info->prev_hash, ph, sizeof(info->prev_hash));
        } else if (json_object_get(o, "seal") != NULL) {
            if (EVP_DigestFinal_ex(sha, md, &mdlen) != 1 || mdlen != 32) {
                json_decref(o);
                r = DB_ERR_INTERNAL;
                goto out;
            }
            archive_hex(md, 32, sha_hex);
            r = archive_check_seal(o, key, expect - 1, prev, rows, sha_hex, err, errlen);
            json_decref(o);
            if (r != 0) {
                goto out;
            }
            r = DB_ERR_TAMPERED;
            sealed = 1;
            continue;
        } else if (archive_check_row(o, expect, prev, err, errlen) != 0) {
            json_decref(o);
            goto out;
        } else {
            expect++;
            rows++;
        }
        json_decref(o);
        if (EVP_DigestUpdate(sha, line, (size_t)n) != 1) {
            r = DB_ERR_INTERNAL;
            goto out;
        }
    }
    if (!sealed || rows == 0) {
        db_errf(err, errlen, "%s", rows == 0 ? "holds no rows" : "no seal line (cut short)");
        goto out;
    }
    info->last = expect - 1;
    memcpy(info->last_hash, prev, sizeof(info->last_hash));
    memcpy(info->sha256, sha_hex, sizeof(info->sha256));
    r = 0;
out:
    free(line);
    if (f != NULL) {
        fclose(f);
    }
    EVP_MD_CTX_free(sha);
    return r;
}

static int archive_cmp(const void *a, const void *b)
{
    const struct archive_entry *x = a, *y = b;

    return x->first < y->first ? -1 : x->first > y->first;
}

int archive_list(const char *dir, struct archive_entry **out, size_t *n)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t cap = 0;

    *out = NULL;
    *n = 0;
    if (d == NULL) {
        return errno == ENOENT ? 0 : DB_ERR_IO;
    }
    while ((e = readdir(d)) != NULL) {
        long long first = 0, last = 0;
        char tail[8] = "";

        if (sscanf(e->d_name, "audit-%12lld-%12lld.%7s", &first, &last, tail) != 3 ||
            strcmp(tail, "jsonl") != 0) {
            continue;
        }
        if (*n == cap) {
            size_t nc = cap ? cap * 2 : 8;
            struct archive_entry *nv = realloc(*out, nc * sizeof(**out));

            if (nv == NULL) {
                closedir(d);
                return DB_ERR_NOMEM;
            }
            *out = nv;
            cap = nc;
        }
        (*out)[*n].first = first;
        (*out)[*n].last = last;
        if (asprintf(&(*out)[*n].path, "%s/%s", dir, e->d_name) < 0) {
            closedir(d);
            return DB_ERR_NOMEM;
        }
        (*n)++;
    }
    closedir(d);
    if (*n > 1) {
        qsort(*out, *n, sizeof(**out), archive_cmp);
    }
    return 0;
}

void archive_list_free(struct archive_entry *v, size_t n)
{
    for (size_t i = 0; v != NULL && i < n; i++) {
        free(v[i].path);
    }
    free(v);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `drawbridge migrate -c FILE --from PATH/drawbridge.db`: a single gateway's
 * SQLite store copied into the PostgreSQL store of store.url, so that more
 * gateways can join it.  Row for row, in the order the rows were written
 * (schema.c, store_copy_tables), the audit chain with its hashes unchanged,
 * then one audit row "store.migrate" chained after the copied ones.
 *
 * Nothing half-done, whatever fails or crashes: the copy is one PostgreSQL
 * transaction under the store's write lock (an advisory lock, postgres.c),
 * so a second `migrate` (or a gateway's write) waits for it, and then finds
 * the target no longer empty and refuses.  The source is held under its own
 * write lock (BEGIN IMMEDIATE) for the whole copy, so a gateway still
 * running on it cannot add a row that would be left behind.  The source is
 * brought to the current schema first (as starting this version on it
 * would) and its chain must verify; the copied chain is verified again
 * before the command says it is done.
 */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "store-int.h"

/* The source store: state_dir is the file's directory, the anchor key the target config's. */
static int store_migrate_open_source(const struct config *c, const char *db_path,
                                     struct store **src, char *err, size_t errlen)
{
    struct config sc;
    char dirbuf[4096], keys[4200], *dir;
    const char *base = strrchr(db_path, '/');

    base = base != NULL ? base + 1 : db_path;
    if (strcmp(base, "drawbridge.db") != 0) {
        db_errf(err, errlen, "--from %s: expected the path of a drawbridge.db", db_path);
        return DB_ERR_USAGE;
    }
    if (access(db_path, R_OK | W_OK) != 0) {
        db_errf(err, errlen, "--from %s: %s", db_path, strerror(errno));
        return DB_ERR_IO;
    }
    snprintf(dirbuf, sizeof(dirbuf), "%s", db_path);
    dir = dirname(dirbuf);
    memset(&sc, 0, sizeof(sc));
    sc.state_dir = dir;
    if (c->keys_dir != NULL) {
        sc.keys_dir = c->keys_dir;
    } else {
        snprintf(keys, sizeof(keys), "%s/keys", c->state_dir);
        sc.keys_dir = keys;
    }
    return store_open_config(&sc, src, err, errlen);
}

static int store_migrate_empty(struct store *dst, char *err, size_t errlen)
{
    for (int t = 0; t < store_ncopy_tables; t++) {
        struct store_q *q = NULL;
        long long n = 0;
        int r;

        if ((r = store_q_new(dst, store_copy_tables[t].count, &q, err, errlen)) != 0) {
            return r;
        }
        if ((r = store_step(q)) > 0) {
            n = store_col_int(q, 0);
            r = 0;
        }
        store_q_free(q);
        if (r != 0) {
            db_errf(err, errlen, "store.url: %s: %s", dst->where, dst->msg);
            return r;
        }
        if (n > 0) {
            db_errf(err, errlen,
                    "store.url: %s is not empty (%s has %lld row(s)); migrate copies into a new "
                    "database, before any gateway has started on it",
                    dst->where, store_copy_tables[t].name, n);
            return DB_ERR_EXISTS;
        }
    }
    return 0;
}

static int store_migrate_table(struct store *src, struct store *dst,
                               const struct store_copy_table *t, long long *rows, char *err,
                               size_t errlen)
{
    struct store_q *in = NULL, *out = NULL;
    int r;

    *rows = 0;
    if ((r = store_q_new(src, t->select_sqlite, &in, err, errlen)) != 0 ||
        (r = store_q_new(dst, t->insert, &out, err, errlen)) != 0) {
        goto out;
    }
    while ((r = store_step(in)) > 0) {
        /* every value as text (or NULL): PostgreSQL reads it as the column's type */
        for (int col = 0; col < out->nparams; col++) {
            size_t len = 0;
            const char *v = src->be->col_text(in, col, &len);

            store_bind_textn(out, col + 1, v, len);
        }
        if ((r = store_exec(out)) != 0) {
            db_errf(err, errlen, "copying %s: %s", t->name, dst->msg);
            goto out;
        }
        (*rows)++;
    }
    if (r < 0) {
        db_errf(err, errlen, "reading %s from the SQLite store: %s", t->name, src->msg);
    }
out:
    store_q_free(in);
    store_q_free(out);
    return r;
}

/* The identity behind requests.id continues after the copied ids. */
static int store_migrate_sequences(struct store *dst, char *err, size_t errlen)
{
    struct store_q *q = NULL;
    int r = store_q_new(dst,
                        "SELECT setval(pg_get_serial_sequence('requests', 'id'), "
                        "(SELECT coalesce(max(id), 0) + 1 FROM requests), false)",
                        &q, err, errlen);

    if (r == 0 && (r = store_step(q)) > 0) {
        r = 0;
    }
    store_q_free(q);
    if (r != 0) {
        db_errf(err, errlen, "store.url: %s: %s", dst->where, dst->msg);
    }
    return r;
}

int store_migrate_from_sqlite(const struct config *c, const char *db_path, long long now, FILE *out,
                              char *err, size_t errlen)
{
    struct store *src = NULL, *dst = NULL;
    json_t *counts = NULL, *d = NULL;
    char *details = NULL, lasthash[AUDIT_HASH_HEX + 1] = "";
    long long n = 0, total = 0, last = 0;
    int r = DB_ERR_INTERNAL;

    if (c->store_url == NULL) {
        db_errf(err, errlen, "store.url is not set: migrate copies a SQLite store into PostgreSQL");
        return DB_ERR_USAGE;
    }
    if ((r = store_migrate_open_source(c, db_path, &src, err, errlen)) != 0 ||
        (r = store_open_config(c, &dst, err, errlen)) != 0) {
        goto out;
    }
    /* a target in use is refused before anything else is said (checked again under the lock) */
    if ((r = store_migrate_empty(dst, err, errlen)) != 0) {
        goto out;
    }
    if ((r = store_audit_verify(src, &n, err, errlen)) != 0) {
        goto out; /* err says which row: a tampered history is not carried over */
    }
    if ((r = store_begin(src)) != 0) {
        db_errf(err, errlen, "%s: cannot lock it (a gateway still writing?): %s", src->where,
                src->msg);
        goto out;
    }
    if ((r = store_begin(dst)) != 0) {
        db_errf(err, errlen, "store.url: %s: %s", dst->where, dst->msg);
        goto out;
    }
    if ((r = store_migrate_empty(dst, err, errlen)) != 0) {
        goto out;
    }
    if ((counts = json_object()) == NULL) {
        r = DB_ERR_NOMEM;
        goto out;
    }
    for (int t = 0; t < store_ncopy_tables; t++) {
        if ((r = store_migrate_table(src, dst, &store_copy_tables[t], &n, err, errlen)) != 0) {
            goto out;
        }
        json_object_set_new(counts, store_copy_tables[t].name, json_integer(n));
        fprintf(out, "%-13s %lld row(s)\n", store_copy_tables[t].name, n);
        total += n;
    }
    if ((r = store_migrate_sequences(dst, err, errlen)) != 0) {
        goto out;
    }
    if ((r = store_audit_last(dst, &last, lasthash)) != 0) {
        goto out;
    }
    d = json_pack("{ss sI sO}", "from", db_path, "last_seq", (json_int_t)last, "rows", counts);
    details = d != NULL ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (details == NULL ||
        (r = store_audit_append(dst, now, "system", "store.migrate", "store", details, NULL)) !=
            0 ||
        (r = store_commit(dst, err, errlen)) != 0) {
        r = r != 0 ? r : DB_ERR_NOMEM;
        goto out;
    }
    store_rollback(src);
    if ((r = store_audit_verify(dst, &n, err, errlen)) != 0) {
        goto out;
    }
    fprintf(out,
            "migrated %lld row(s) into %s; audit chain: ok (%lld rows, row %lld is %.16s...)\n",
            total, dst->where, n, last, lasthash);
    r = 0;
out:
    json_decref(counts);
    json_decref(d);
    free(details);
    store_close(dst); /* rolls back whatever was not committed */
    store_close(src);
    return r;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store's backend for a unit test, chosen by the environment: with
 * DRAWBRIDGE_TEST_PG=DIR (a server started by tests/integration/lib-pg.sh,
 * the ctest fixture "pg"; DIR/url is its base URL) every store a test opens
 * is PostgreSQL, one database per state directory; without it, SQLite in
 * the state directory as in production's default.  ctest runs each
 * store-touching unit test both ways (unit/NAME and unit-pg/NAME).
 *
 *   tsb_open(dir, &s, err, errlen)    store_open for the chosen backend
 *   tsb_pg()                          1 when that is PostgreSQL
 *   tsb_store_url(dir)                the store.url for a config of dir's own
 *   tsb_query(dir, sql, buf, buflen)  first column of the first row as text ("" for
 *                                     none); 0, or -1 when the SQL failed
 *   tsb_exec(dir, sql)                runs SQL (the tests' attacker edits rows behind the store)
 *
 * SQL given to tsb_query/tsb_exec must run on both (quote "user").
 */
#ifndef DRAWBRIDGE_TEST_STORE_BACKEND_H
#define DRAWBRIDGE_TEST_STORE_BACKEND_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "broker.h"

static inline int tsb_pg(void)
{
    const char *d = getenv("DRAWBRIDGE_TEST_PG");

    return d != NULL && d[0] != '\0';
}

/* The base URL the fixture wrote. */
static inline int tsb_base(char *buf, size_t buflen)
{
    char path[512];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/url", getenv("DRAWBRIDGE_TEST_PG"));
    fp = fopen(path, "r");
    if (fp == NULL || fgets(buf, (int)buflen, fp) == NULL) {
        if (fp != NULL) {
            fclose(fp);
        }
        fprintf(stderr, "store-backend.h: cannot read %s\n", path);
        return -1;
    }
    fclose(fp);
    buf[strcspn(buf, "\r\n")] = '\0';
    return 0;
}

/* One database per state directory: "t_" and the directory's name, lowercased. */
static inline void tsb_dbname(const char *dir, char *buf, size_t buflen)
{
    const char *base = strrchr(dir, '/');
    size_t k = 0;

    base = base != NULL ? base + 1 : dir;
    k = (size_t)snprintf(buf, buflen, "t_");
    for (; *base != '\0' && k + 1 < buflen && k < 60; base++) {
        char ch = *base;

        if (ch >= 'A' && ch <= 'Z') {
            ch = (char)(ch - 'A' + 'a');
        } else if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'))) {
            ch = '_';
        }
        buf[k++] = ch;
    }
    buf[k] = '\0';
}

static inline PGconn *tsb_connect(const char *db)
{
    char base[256], url[512];
    PGconn *c;

    if (tsb_base(base, sizeof(base)) != 0) {
        return NULL;
    }
    snprintf(url, sizeof(url), "%s/%s", base, db);
    c = PQconnectdb(url);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "store-backend.h: %s: %s", url, PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    return c;
}

/* Creates the directory's database when absent; its URL into url. */
static inline int tsb_db(const char *dir, char *url, size_t urllen)
{
    char base[256], name[80], sql[128];
    PGconn *c = NULL;
    PGresult *res = NULL;
    int ok;

    tsb_dbname(dir, name, sizeof(name));
    if (tsb_base(base, sizeof(base)) != 0 || (c = tsb_connect("postgres")) == NULL) {
        return -1;
    }
    /* the name is made of [a-z0-9_] only (tsb_dbname) */
    snprintf(sql, sizeof(sql), "CREATE DATABASE \"%s\"", name);
    res = PQexec(c, sql);
    ok = PQresultStatus(res) == PGRES_COMMAND_OK ||
         (PQresultErrorField(res, PG_DIAG_SQLSTATE) != NULL &&
          strcmp(PQresultErrorField(res, PG_DIAG_SQLSTATE), "42P04") == 0);
    if (!ok) {
        fprintf(stderr, "store-backend.h: %s", PQresultErrorMessage(res));
    }
    PQclear(res);
    PQfinish(c);
    snprintf(url, urllen, "%s/%s", base, name);
    return ok ? 0 : -1;
}

/*
 * For a test that builds its own struct config (the admin back-ends open the
 * store from it): the store.url of dir's database, or NULL for SQLite.  The
 * string lives as long as the program (tests make few).
 */
static inline char *tsb_store_url(const char *dir)
{
    char url[512];

    if (!tsb_pg() || tsb_db(dir, url, sizeof(url)) != 0) {
        return NULL;
    }
    return strdup(url);
}

static inline int tsb_open(const char *dir, struct store **s, char *err, size_t errlen)
{
    struct config c;
    char url[512];

    if (!tsb_pg()) {
        return store_open(dir, s, err, errlen);
    }
    if (tsb_db(dir, url, sizeof(url)) != 0) {
        snprintf(err, errlen, "the test's PostgreSQL database could not be made");
        return DB_ERR_UNAVAIL;
    }
    memset(&c, 0, sizeof(c));
    c.state_dir = (char *)dir;
    c.store_url = url;
    return store_open_config(&c, s, err, errlen);
}

static inline int tsb_query(const char *dir, const char *sql, char *buf, size_t buflen)
{
    int rc = -1;

    buf[0] = '\0';
    if (tsb_pg()) {
        char name[80];
        PGconn *c;
        PGresult *res;

        tsb_dbname(dir, name, sizeof(name));
        if ((c = tsb_connect(name)) == NULL) {
            return -1;
        }
        res = PQexec(c, sql);
        if (PQresultStatus(res) == PGRES_TUPLES_OK || PQresultStatus(res) == PGRES_COMMAND_OK) {
            rc = 0;
            if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0 &&
                !PQgetisnull(res, 0, 0)) {
                snprintf(buf, buflen, "%s", PQgetvalue(res, 0, 0));
            }
        } else {
            fprintf(stderr, "store-backend.h: %s: %s", sql, PQresultErrorMessage(res));
        }
        PQclear(res);
        PQfinish(c);
    } else {
        char path[512];
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;

        snprintf(path, sizeof(path), "%s/drawbridge.db", dir);
        if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK) {
            sqlite3_busy_timeout(db, 5000);
            if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
                int step = sqlite3_step(st);

                rc = step == SQLITE_ROW || step == SQLITE_DONE ? 0 : -1;
                if (step == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL) {
                    snprintf(buf, buflen, "%s", (const char *)sqlite3_column_text(st, 0));
                }
            }
        }
        sqlite3_finalize(st);
        sqlite3_close(db);
    }
    return rc;
}

/* 0 when sql ran. */
static inline int tsb_exec(const char *dir, const char *sql)
{
    int rc = -1;

    if (tsb_pg()) {
        char name[80];
        PGconn *c;
        PGresult *res;

        tsb_dbname(dir, name, sizeof(name));
        if ((c = tsb_connect(name)) == NULL) {
            return -1;
        }
        res = PQexec(c, sql);
        rc = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK
                 ? 0
                 : -1;
        if (rc != 0) {
            fprintf(stderr, "store-backend.h: %s: %s", sql, PQresultErrorMessage(res));
        }
        PQclear(res);
        PQfinish(c);
    } else {
        char path[512], *msg = NULL;
        sqlite3 *db = NULL;

        snprintf(path, sizeof(path), "%s/drawbridge.db", dir);
        if (sqlite3_open(path, &db) == SQLITE_OK) {
            sqlite3_busy_timeout(db, 5000);
            rc = sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK ? 0 : -1;
            if (rc != 0) {
                fprintf(stderr, "store-backend.h: %s: %s\n", sql, msg != NULL ? msg : "");
            }
            sqlite3_free(msg);
        }
        sqlite3_close(db);
    }
    return rc;
}

#endif

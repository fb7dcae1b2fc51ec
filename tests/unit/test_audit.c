/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for the audit chain (broker/audit.c and the store's side of
 * it): the canonical form against hashes computed independently, then a
 * table of tamperings done the way an attacker would -- straight into the
 * database, or on the head anchor -- each of which `verify` must catch and
 * name, and the crash case (anchor lagging the table) it must accept.
 * Finally the `drawbridge audit` and `verify` back-ends.
 *
 * This test opens the database itself (store-backend.h; it runs against
 * both backends): it plays the attacker, the one thing outside broker/store/
 * that touches the tables.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "broker.h"
#include "store-backend.h"

#define T0 1700000000LL
#define NROWS 6

struct fx {
    char dir[64];
    char db[128];
    char head[128];
    struct config cfg;
    struct store *s;
    char err[512];
};

static int fx_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void fx_append(struct fx *f, int i)
{
    char actor[32], object[32], details[64];

    snprintf(actor, sizeof(actor), "user%d", i);
    snprintf(object, sizeof(object), "request %d", i);
    snprintf(details, sizeof(details), "{\"n\":%d,\"why\":\"row %d\"}", i, i);
    assert_int_equal(
        store_audit_append(f->s, T0 + i, actor, "request.create", object, details, NULL), 0);
}

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/db-audit-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof(f->db), "%s/drawbridge.db", f->dir);
    snprintf(f->head, sizeof(f->head), "%s/audit.head", f->dir);
    f->cfg.state_dir = f->dir;
    f->cfg.store_url = tsb_store_url(f->dir);
    if (keys_ensure(&f->cfg, f->err, sizeof(f->err)) != 0 ||
        tsb_open(f->dir, &f->s, f->err, sizeof(f->err)) != 0) {
        fail_msg("setup: %s", f->err);
    }
    for (int i = 1; i <= NROWS; i++) {
        fx_append(f, i);
    }
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;

    store_close(f->s);
    free(f->cfg.store_url);
    nftw(f->dir, fx_rm, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static int fx_verify(struct fx *f, long long *n)
{
    f->err[0] = '\0';
    return store_audit_verify(f->s, n, f->err, sizeof(f->err));
}

#define assert_err(f, needle)                                                                      \
    do {                                                                                           \
        if (strstr((f)->err, (needle)) == NULL) {                                                  \
            fail_msg("expected \"%s\" in \"%s\"", (needle), (f)->err);                             \
        }                                                                                          \
    } while (0)

static void fx_sql(struct fx *f, const char *sql)
{
    if (tsb_exec(f->dir, sql) != 0) {
        fail_msg("%s failed", sql);
    }
}

/* Column col of audit row seq, as text. */
static void fx_col(struct fx *f, long long seq, const char *col, char *buf, size_t buflen)
{
    char sql[128];

    snprintf(sql, sizeof(sql), "SELECT %s FROM audit WHERE seq = %lld", col, seq);
    assert_int_equal(tsb_query(f->dir, sql, buf, buflen), 0);
}

static char *fx_read(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *buf = calloc(1, 512);

    assert_non_null(fp);
    *len = fread(buf, 1, 511, fp);
    fclose(fp);
    return buf;
}

static void fx_write(const char *path, const char *buf, size_t len)
{
    FILE *fp = fopen(path, "wb");

    assert_non_null(fp);
    assert_int_equal(fwrite(buf, 1, len, fp), len);
    fclose(fp);
}

/* ---- the canonical form ---- */

/* Expected values computed with Python's hashlib from the form documented in audit.c. */
static void test_canonical_known_answer(void **state)
{
    struct audit_row r1 = {1, T0, "alice", "request.create", "request 1", "{\"a\":1}", "", ""};
    struct audit_row r2 = {2, -5, NULL, "e", "", "{}", "", ""};
    char h[AUDIT_HASH_HEX + 1];

    (void)state;
    memset(r1.prev_hash, '0', AUDIT_HASH_HEX);
    assert_int_equal(audit_row_hash(&r1, h), 0);
    assert_string_equal(h, "90de05c5cff8508e34f4cd83422875c6df7a08515b3508df5c2f2ce951484713");
    memcpy(r2.prev_hash, h, sizeof(h));
    assert_int_equal(audit_row_hash(&r2, h), 0);
    assert_string_equal(h, "22f0bbb9d9e5745fe27ff72342479a41f17a2e1d7729a833028a9915ff2eace9");
    /* Moving a byte between fields changes the hash: the form is unambiguous. */
    r1.actor = "alic";
    r1.event = "erequest.create";
    assert_int_equal(audit_row_hash(&r1, h), 0);
    assert_string_not_equal(h, "90de05c5cff8508e34f4cd83422875c6df7a08515b3508df5c2f2ce951484713");
}

static void test_chain_ok(void **state)
{
    struct fx *f = *state;
    long long n = 0;

    assert_int_equal(fx_verify(f, &n), 0);
    assert_int_equal(n, NROWS);
    /* Reopening keeps the chain and the anchor. */
    store_close(f->s);
    assert_int_equal(tsb_open(f->dir, &f->s, f->err, sizeof(f->err)), 0);
    fx_append(f, 7);
    assert_int_equal(fx_verify(f, &n), 0);
    assert_int_equal(n, NROWS + 1);
}

/* ---- tampering straight in the database ---- */

struct tamper_case {
    const char *sql;
    const char *needle;
};

static const struct tamper_case tamper_cases[] = {
    {"UPDATE audit SET actor = 'mallory' WHERE seq = 3", "audit row 3: contents do not match"},
    {"UPDATE audit SET details = '{}' WHERE seq = 6", "audit row 6: contents do not match"},
    {"UPDATE audit SET time = time + 1 WHERE seq = 1", "audit row 1: contents do not match"},
    {"UPDATE audit SET prev_hash = (SELECT hash FROM audit WHERE seq = 1) WHERE seq = 3",
     "audit row 3: contents do not match"},
    {"DELETE FROM audit WHERE seq = 3", "audit row 3: missing"},
    {"DELETE FROM audit WHERE seq = 1", "audit row 1: missing"},
    {"DELETE FROM audit WHERE seq = 6", "audit row 6: missing (the chain ends at row 5"},
    {"DELETE FROM audit WHERE seq >= 4", "audit row 4: missing (the chain ends at row 3"},
    {"DELETE FROM audit", "truncated"},
    /* swap rows 2 and 3 */
    {"UPDATE audit SET seq = -1 WHERE seq = 2; UPDATE audit SET seq = 2 WHERE seq = 3;"
     "UPDATE audit SET seq = 3 WHERE seq = -1",
     "audit row 2: contents do not match"},
    /* renumber after a deletion so there is no gap */
    {"DELETE FROM audit WHERE seq = 4; UPDATE audit SET seq = seq - 1 WHERE seq > 4",
     "audit row 4: contents do not match"},
};

static void test_tamper_sql(void **state)
{
    struct fx *f = *state;

    for (size_t i = 0; i < sizeof(tamper_cases) / sizeof(tamper_cases[0]); i++) {
        /* Fresh chain per case. */
        fx_teardown(state);
        fx_setup(state);
        f = *state;
        store_close(f->s);
        fx_sql(f, tamper_cases[i].sql);
        assert_int_equal(tsb_open(f->dir, &f->s, f->err, sizeof(f->err)), 0);
        if (fx_verify(f, NULL) != DB_ERR_TAMPERED) {
            fail_msg("case %zu (%s) not detected", i, tamper_cases[i].sql);
        }
        assert_err(f, tamper_cases[i].needle);
    }
}

/*
 * Rewrites rows from..NROWS with the attacker's edit, recomputing hashes so
 * every link holds.  The new values are the attacker's own (a name, hex
 * hashes), written into the SQL as an attacker with a database shell would.
 */
static void fx_rewrite(struct fx *f, int from, int only_one)
{
    char prev[AUDIT_HASH_HEX + 1] = "", sql[512];
    char tm[32], actor[64], event[64], object[64], details[128];

    for (long long seq = from; seq <= NROWS; seq++) {
        struct audit_row r;

        memset(&r, 0, sizeof(r));
        r.seq = seq;
        fx_col(f, seq, "time", tm, sizeof(tm));
        fx_col(f, seq, "actor", actor, sizeof(actor));
        fx_col(f, seq, "event", event, sizeof(event));
        fx_col(f, seq, "object", object, sizeof(object));
        fx_col(f, seq, "details", details, sizeof(details));
        r.time = strtoll(tm, NULL, 10);
        r.actor = seq == from ? "nobody" : actor;
        r.event = event;
        r.object = object;
        r.details = details;
        if (prev[0] != '\0') {
            memcpy(r.prev_hash, prev, sizeof(prev));
        } else {
            fx_col(f, seq, "prev_hash", r.prev_hash, sizeof(r.prev_hash));
        }
        assert_int_equal(audit_row_hash(&r, r.hash), 0);
        snprintf(sql, sizeof(sql),
                 "UPDATE audit SET actor = '%s', prev_hash = '%s', hash = '%s' WHERE seq = %lld",
                 r.actor, r.prev_hash, r.hash, r.seq);
        fx_sql(f, sql);
        memcpy(prev, r.hash, sizeof(prev));
        if (only_one) {
            break;
        }
    }
}

static void test_tamper_rehashed(void **state)
{
    struct fx *f = *state;

    /* One row edited and its own hash fixed up: its successor no longer chains to it. */
    store_close(f->s);
    fx_rewrite(f, 3, 1);
    assert_int_equal(tsb_open(f->dir, &f->s, f->err, sizeof(f->err)), 0);
    assert_int_equal(fx_verify(f, NULL), DB_ERR_TAMPERED);
    assert_err(f, "audit row 3: altered");

    /* The whole chain from row 3 recomputed: only the sealed anchor can tell. */
    fx_teardown(state);
    fx_setup(state);
    f = *state;
    store_close(f->s);
    fx_rewrite(f, 3, 0);
    assert_int_equal(tsb_open(f->dir, &f->s, f->err, sizeof(f->err)), 0);
    assert_int_equal(fx_verify(f, NULL), DB_ERR_TAMPERED);
    assert_err(f, "audit row 6: differs from the head anchor");
}

/* Truncating the tail and then writing new rows must not launder the truncation. */
static void test_truncate_then_append(void **state)
{
    struct fx *f = *state;
    char *before = NULL, *after = NULL;
    size_t lb = 0, la = 0;
    long long n = 0;

    before = fx_read(f->head, &lb);
    store_close(f->s);
    fx_sql(f, "DELETE FROM audit WHERE seq >= 5");
    assert_int_equal(tsb_open(f->dir, &f->s, f->err, sizeof(f->err)), 0);
    for (int i = 5; i <= NROWS + 2; i++) {
        fx_append(f, 100 + i);
    }
    after = fx_read(f->head, &la);
    /* The anchor did not move onto the new, different, rows. */
    assert_int_equal(la, lb);
    assert_memory_equal(before, after, lb);
    assert_int_equal(fx_verify(f, &n), DB_ERR_TAMPERED);
    assert_err(f, "audit row 6: differs from the head anchor");
    free(before);
    free(after);
}

/* ---- the head anchor ---- */

static void test_anchor(void **state)
{
    struct fx *f = *state;
    char *saved = NULL, *buf = NULL;
    size_t ls = 0, lb = 0;
    long long n = 0;

    /* A crash between COMMIT and the anchor write leaves it lagging: that is fine. */
    saved = fx_read(f->head, &ls);
    fx_append(f, 7);
    fx_append(f, 8);
    fx_write(f->head, saved, ls);
    assert_int_equal(fx_verify(f, &n), 0);
    assert_int_equal(n, NROWS + 2);
    /* ...and the next write moves it forward again. */
    fx_append(f, 9);
    buf = fx_read(f->head, &lb);
    assert_non_null(strstr(buf, " 9 "));
    free(buf);

    /* Edited anchor (seq moved back to hide rows): the HMAC does not match. */
    buf = fx_read(f->head, &lb);
    assert_true(lb > 30);
    buf[25] = buf[25] == '8' ? '7' : '8';
    fx_write(f->head, buf, lb);
    assert_int_equal(fx_verify(f, NULL), DB_ERR_TAMPERED);
    assert_err(f, "HMAC");
    free(buf);

    /* Garbage anchor. */
    fx_write(f->head, "hello\n", 6);
    assert_int_equal(fx_verify(f, NULL), DB_ERR_TAMPERED);
    assert_err(f, "malformed");

    /* Removed anchor with rows in the table. */
    assert_int_equal(unlink(f->head), 0);
    assert_int_equal(fx_verify(f, NULL), DB_ERR_TAMPERED);
    assert_err(f, "missing");
    /* Nor does a later write or reopen quietly recreate it. */
    fx_append(f, 10);
    store_close(f->s);
    assert_int_equal(tsb_open(f->dir, &f->s, f->err, sizeof(f->err)), 0);
    assert_int_equal(access(f->head, F_OK), -1);
    free(saved);
}

/* Sealed with another key: refused. */
static void test_anchor_key(void **state)
{
    struct fx *f = *state;
    unsigned char other[32];
    struct audit_head h;
    char why[256];

    memset(other, 0x5a, sizeof(other));
    assert_int_equal(audit_head_read(f->head, other, &h, why, sizeof(why)), DB_ERR_TAMPERED);
    h.seq = NROWS;
    memset(h.hash, 'a', AUDIT_HASH_HEX);
    h.hash[AUDIT_HASH_HEX] = '\0';
    assert_int_equal(audit_head_write(f->head, other, &h, why, sizeof(why)), 0);
    assert_int_equal(audit_head_read(f->head, other, &h, why, sizeof(why)), 0);
    assert_int_equal(h.seq, NROWS);
    assert_int_equal(fx_verify(f, NULL), DB_ERR_TAMPERED);
    assert_err(f, "HMAC");
}

/* ---- the verifier on its own ---- */

static void test_verifier_pure(void **state)
{
    struct audit_row rows[3];
    struct audit_head head;
    struct audit_verifier v;
    char err[256];
    long long n = 0;

    (void)state;
    memset(rows, 0, sizeof(rows));
    for (int i = 0; i < 3; i++) {
        rows[i].seq = i + 1;
        rows[i].time = T0 + i;
        rows[i].actor = "system";
        rows[i].event = "policy.load";
        rows[i].object = "policy";
        rows[i].details = "{}";
        if (i == 0) {
            memset(rows[i].prev_hash, '0', AUDIT_HASH_HEX);
        } else {
            memcpy(rows[i].prev_hash, rows[i - 1].hash, sizeof(rows[i].hash));
        }
        assert_int_equal(audit_row_hash(&rows[i], rows[i].hash), 0);
    }
    head.seq = 3;
    memcpy(head.hash, rows[2].hash, sizeof(head.hash));
    audit_verify_begin(&v, &head);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(audit_verify_row(&v, &rows[i], err, sizeof(err)), 0);
    }
    assert_int_equal(audit_verify_end(&v, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 3);
    /* Without an anchor the same rows verify; with only two fed, the anchor says truncated. */
    audit_verify_begin(&v, NULL);
    assert_int_equal(audit_verify_row(&v, &rows[0], err, sizeof(err)), 0);
    assert_int_equal(audit_verify_end(&v, &n, err, sizeof(err)), 0);
    audit_verify_begin(&v, &head);
    assert_int_equal(audit_verify_row(&v, &rows[0], err, sizeof(err)), 0);
    assert_int_equal(audit_verify_row(&v, &rows[1], err, sizeof(err)), 0);
    assert_int_equal(audit_verify_end(&v, &n, err, sizeof(err)), DB_ERR_TAMPERED);
    assert_non_null(strstr(err, "audit row 3: missing"));
    /* A row fed twice is out of order. */
    audit_verify_begin(&v, NULL);
    assert_int_equal(audit_verify_row(&v, &rows[0], err, sizeof(err)), 0);
    assert_int_equal(audit_verify_row(&v, &rows[0], err, sizeof(err)), DB_ERR_TAMPERED);
    assert_non_null(strstr(err, "audit row 1: out of order"));
}

/* ---- the CLI back-ends ---- */

static char *fx_capture(FILE **fp, char **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    *fp = open_memstream(buf, len);
    assert_non_null(*fp);
    return NULL;
}

static size_t fx_lines(const char *s)
{
    size_t n = 0;

    for (; *s; s++) {
        n += *s == '\n';
    }
    return n;
}

static void test_admin_verify(void **state)
{
    struct fx *f = *state;
    FILE *fp = NULL;
    char *out = NULL;
    size_t len = 0;

    fx_capture(&fp, &out, &len);
    assert_int_equal(admin_verify(&f->cfg, NULL, 0, fp), 0);
    fclose(fp);
    assert_non_null(strstr(out, "audit chain: ok (6 rows)"));
    free(out);

    fx_sql(f, "UPDATE audit SET event = 'request.cancel' WHERE seq = 2");
    fx_capture(&fp, &out, &len);
    assert_int_equal(admin_verify(&f->cfg, NULL, 0, fp), DB_ERR_TAMPERED);
    fclose(fp);
    assert_non_null(strstr(out, "TAMPERED: audit row 2:"));
    free(out);
}

static void test_admin_audit(void **state)
{
    struct fx *f = *state;
    FILE *fp = NULL;
    char *out = NULL, *line = NULL, *save = NULL;
    size_t len = 0;
    char since[32];
    long long seq = 0;

    /* A failed login can carry any bytes; the text output must not pass them to a terminal. */
    assert_int_equal(access_audit_auth(f->s, T0 + 50, "\x1b]52;c;aGk=\x07", NULL, "1.2.3.4:5",
                                       "password", 0, "no such user"),
                     0);
    fx_capture(&fp, &out, &len);
    assert_int_equal(admin_audit(&f->cfg, 0, NULL, fp), 0);
    fclose(fp);
    assert_int_equal(fx_lines(out), NROWS + 1);
    assert_null(strchr(out, '\x1b'));
    assert_null(strchr(out, '\x07'));
    assert_non_null(strstr(out, "1 2023-11-14T22:13:21Z user1 request.create [request 1]"));
    assert_non_null(strstr(out, "auth.failure"));
    free(out);

    snprintf(since, sizeof(since), "%lld", T0 + 4);
    fx_capture(&fp, &out, &len);
    assert_int_equal(admin_audit(&f->cfg, 1, since, fp), 0);
    fclose(fp);
    assert_int_equal(fx_lines(out), 4); /* rows 4, 5, 6 and the login */
    for (line = strtok_r(out, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        json_t *j = json_loads(line, 0, NULL);

        assert_non_null(j);
        assert_true(json_is_object(json_object_get(j, "details")));
        assert_int_equal(json_string_length(json_object_get(j, "hash")), AUDIT_HASH_HEX);
        assert_true(json_integer_value(json_object_get(j, "seq")) > seq);
        seq = json_integer_value(json_object_get(j, "seq"));
        json_decref(j);
    }
    free(out);

    fx_capture(&fp, &out, &len);
    assert_int_equal(admin_audit(&f->cfg, 0, "2023-11-14T22:13:24Z", fp), 0);
    fclose(fp);
    assert_int_equal(fx_lines(out), 4);
    free(out);
    fx_capture(&fp, &out, &len);
    assert_int_equal(admin_audit(&f->cfg, 0, "2023-11-14", fp), 0);
    fclose(fp);
    assert_int_equal(fx_lines(out), NROWS + 1);
    free(out);
    fx_capture(&fp, &out, &len);
    assert_int_equal(admin_audit(&f->cfg, 0, "yesterday", fp), DB_ERR_USAGE);
    assert_int_equal(admin_audit(&f->cfg, 0, "2023-11-14T22", fp), DB_ERR_USAGE);
    fclose(fp);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canonical_known_answer),
        cmocka_unit_test(test_verifier_pure),
        cmocka_unit_test_setup_teardown(test_chain_ok, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_tamper_sql, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_tamper_rehashed, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_truncate_then_append, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_anchor, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_anchor_key, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_admin_verify, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_admin_audit, fx_setup, fx_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

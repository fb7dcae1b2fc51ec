/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for retention (broker/retention.c), the audit archives it
 * writes (broker/archive.c) and the verifier's rule for a chain that starts
 * after row 1 (broker/audit.c):
 *
 *   - a chain whose first rows were archived verifies only with the
 *     audit.archive row that accounts for exactly them;
 *   - an archive file verifies on its own, with rows that are not UTF-8,
 *     and any edit, cut, addition or other key is caught;
 *   - retention_run expires old recordings (audit row first, then the
 *     file), keeps those awaiting review, finishes what an interrupted run
 *     left, archives old audit rows, and `verify` then says "expired by
 *     retention", never "missing";
 *   - retention_lint names a session that waited for review longer than
 *     recordings.retain.
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
#include <sys/stat.h>
#include <unistd.h>

#include "broker.h"

#define T0 1700000000LL
#define DAY 86400LL

struct fx {
    char dir[64];
    char rec[128];
    char archive[128];
    char cfgpath[128];
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

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/db-retention-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->rec, sizeof(f->rec), "%s/recordings", f->dir);
    snprintf(f->archive, sizeof(f->archive), "%s/audit-archive", f->dir);
    snprintf(f->cfgpath, sizeof(f->cfgpath), "%s/drawbridge.yaml", f->dir);
    f->cfg.path = f->cfgpath;
    f->cfg.state_dir = f->dir;
    f->cfg.audit.archive_dir = f->archive;
    if (keys_ensure(&f->cfg, f->err, sizeof(f->err)) != 0 ||
        store_open(f->dir, &f->s, f->err, sizeof(f->err)) != 0) {
        fail_msg("setup: %s", f->err);
    }
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;

    store_close(f->s);
    nftw(f->dir, fx_rm, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* A session that ended at `ended`, with a recording file under recordings/YYYY/MM/DD. */
static void fx_session(struct fx *f, long long ended, int review, char id[STORE_SESSION_ID_LEN + 1],
                       char *path, size_t pathlen)
{
    struct store_session row;
    char day[256];
    FILE *fp = NULL;

    /* recordings/YYYY/MM/DD, as the recorder makes them (some may exist) */
    snprintf(day, sizeof(day), "%s/2023", f->rec);
    mkdir(day, 0700);
    snprintf(day, sizeof(day), "%s/2023/11", f->rec);
    mkdir(day, 0700);
    snprintf(day, sizeof(day), "%s/2023/11/14", f->rec);
    mkdir(day, 0700);
    memset(&row, 0, sizeof(row));
    snprintf(row.user, sizeof(row.user), "alice");
    snprintf(row.target, sizeof(row.target), "web-1");
    snprintf(row.login, sizeof(row.login), "deploy");
    snprintf(row.kind, sizeof(row.kind), "shell");
    row.started_at = ended - 60;
    row.review_required = review;
    assert_int_equal(access_session_start(f->s, &row), 0);
    snprintf(path, pathlen, "%s/%s.cast", day, row.id);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("{\"version\": 2}\n", fp);
    fclose(fp);
    assert_int_equal(store_session_set_recording(f->s, row.id, path), 0);
    assert_int_equal(access_session_end(f->s, row.id, "alice", ended, 0, NULL, NULL), 0);
    memcpy(id, row.id, STORE_SESSION_ID_LEN + 1);
}

/* ---- the verifier's rule for an archived start ---- */

static void fx_rows(struct audit_row *rows, int n, long long first, const char *first_prev)
{
    for (int i = 0; i < n; i++) {
        rows[i].seq = first + i;
        rows[i].time = T0 + i;
        rows[i].actor = "system";
        rows[i].event = "policy.load";
        rows[i].object = "policy";
        rows[i].details = "{}";
        if (i == 0) {
            snprintf(rows[i].prev_hash, sizeof(rows[i].prev_hash), "%s", first_prev);
        } else {
            memcpy(rows[i].prev_hash, rows[i - 1].hash, sizeof(rows[i].hash));
        }
    }
}

static int fx_feed(struct audit_row *rows, int n, char *err, size_t errlen)
{
    struct audit_verifier v;
    int r = 0;

    audit_verify_begin(&v, NULL);
    for (int i = 0; i < n && r == 0; i++) {
        r = audit_verify_row(&v, &rows[i], err, errlen);
    }
    return r != 0 ? r : audit_verify_end(&v, NULL, err, errlen);
}

static void test_verifier_archived_start(void **state)
{
    static const char before[] = "1111111111111111111111111111111111111111111111111111111111111111";
    struct audit_row rows[4];
    char details[200], err[256];

    (void)state;
    memset(rows, 0, sizeof(rows));
    fx_rows(rows, 4, 5, before);
    /* row 7 accounts for rows 1-4 */
    snprintf(details, sizeof(details), "{\"last_hash\":\"%s\",\"through\":4}", before);
    rows[2].event = AUDIT_ARCHIVE_EVENT;
    rows[2].details = details;
    for (int i = 0; i < 4; i++) {
        if (i > 0) {
            memcpy(rows[i].prev_hash, rows[i - 1].hash, sizeof(rows[i].hash));
        }
        assert_int_equal(audit_row_hash(&rows[i], rows[i].hash), 0);
    }
    assert_int_equal(fx_feed(rows, 4, err, sizeof(err)), 0);

    /* the same rows without the archive row's account: rows 1-4 deleted */
    rows[2].event = "policy.load";
    rows[2].details = "{}";
    for (int i = 2; i < 4; i++) {
        if (i > 0) {
            memcpy(rows[i].prev_hash, rows[i - 1].hash, sizeof(rows[i].hash));
        }
        assert_int_equal(audit_row_hash(&rows[i], rows[i].hash), 0);
    }
    assert_int_equal(fx_feed(rows, 4, err, sizeof(err)), DB_ERR_TAMPERED);
    assert_non_null(strstr(err, "audit row 1: missing (rows 1-4"));

    /* an account of other rows (through 3), or of another hash, proves nothing */
    snprintf(details, sizeof(details), "{\"last_hash\":\"%s\",\"through\":3}", before);
    rows[2].event = AUDIT_ARCHIVE_EVENT;
    rows[2].details = details;
    for (int i = 2; i < 4; i++) {
        memcpy(rows[i].prev_hash, rows[i - 1].hash, sizeof(rows[i].hash));
        assert_int_equal(audit_row_hash(&rows[i], rows[i].hash), 0);
    }
    assert_int_equal(fx_feed(rows, 4, err, sizeof(err)), DB_ERR_TAMPERED);
    snprintf(details, sizeof(details),
             "{\"last_hash\":\"2222222222222222222222222222222222222222222222222222222222222222\","
             "\"through\":4}");
    for (int i = 2; i < 4; i++) {
        memcpy(rows[i].prev_hash, rows[i - 1].hash, sizeof(rows[i].hash));
        assert_int_equal(audit_row_hash(&rows[i], rows[i].hash), 0);
    }
    assert_int_equal(fx_feed(rows, 4, err, sizeof(err)), DB_ERR_TAMPERED);
}

/* ---- archive files ---- */

static void fx_file_edit(const char *path, const char *from, const char *to)
{
    FILE *fp = fopen(path, "rb");
    char buf[65536];
    size_t n;
    char *at;

    assert_non_null(fp);
    n = fread(buf, 1, sizeof(buf) - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    at = strstr(buf, from);
    assert_non_null(at);
    fp = fopen(path, "wb");
    assert_non_null(fp);
    fwrite(buf, 1, (size_t)(at - buf), fp);
    fputs(to, fp);
    fputs(at + strlen(from), fp);
    fclose(fp);
}

static void fx_copy(const char *from, const char *to)
{
    char cmd[1200];

    snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", from, to);
    assert_int_equal(system(cmd), 0);
}

static int fx_hash4(void *ctx, const struct audit_row *row)
{
    if (row->seq != 4) {
        return 0;
    }
    memcpy(ctx, row->hash, AUDIT_HASH_HEX + 1);
    return 1;
}

static void test_archive_file(void **state)
{
    struct fx *f = *state;
    unsigned char key[32], other[32];
    struct archive_info w, r;
    char path[512], bad[512], hash4[AUDIT_HASH_HEX + 1];
    FILE *fp = NULL;

    for (int i = 1; i <= 6; i++) {
        /* row 3's actor is not UTF-8, as a hostile login name can be */
        assert_int_equal(store_audit_append(f->s, T0 + i, i == 3 ? "\xff\xfe-x" : "bob",
                                            "auth.failure", "user \"q\"", "{\"n\":1}", NULL),
                         0);
    }
    {
        char kp[256];

        snprintf(kp, sizeof(kp), "%s/keys/recording.hmac", f->dir);
        fp = fopen(kp, "rb");
        assert_non_null(fp);
        assert_int_equal(fread(key, 1, 32, fp), 32);
        fclose(fp);
    }
    assert_int_equal(
        archive_write(f->s, f->archive, key, 4, &w, path, sizeof(path), f->err, sizeof(f->err)), 0);
    assert_int_equal(w.first, 1);
    assert_int_equal(w.last, 4);
    assert_non_null(strstr(path, "/audit-000000000001-000000000004.jsonl"));
    assert_int_equal(store_audit_foreach(f->s, 0, fx_hash4, hash4), 1);
    assert_string_equal(w.last_hash, hash4);
    assert_int_equal(archive_verify_file(path, key, &r, f->err, sizeof(f->err)), 0);
    assert_int_equal(r.first, 1);
    assert_int_equal(r.last, 4);
    assert_string_equal(r.last_hash, hash4);
    assert_string_equal(r.sha256, w.sha256);

    /* another key */
    memcpy(other, key, sizeof(other));
    other[0] ^= 1;
    assert_int_equal(archive_verify_file(path, other, &r, f->err, sizeof(f->err)), DB_ERR_TAMPERED);
    assert_non_null(strstr(f->err, "seal"));
    /* an edited row */
    snprintf(bad, sizeof(bad), "%s/edited.jsonl", f->dir);
    fx_copy(path, bad);
    fx_file_edit(bad, "\"time\":1700000002", "\"time\":1700000009");
    assert_int_equal(archive_verify_file(bad, key, &r, f->err, sizeof(f->err)), DB_ERR_TAMPERED);
    assert_non_null(strstr(f->err, "row 2: contents do not match"));
    /* a row removed, and the seal line changed to match what remains: the seal fails */
    fx_copy(path, bad);
    fx_file_edit(bad, "\"seq\":4", "\"seq\":4,\"x\":1");
    assert_int_equal(archive_verify_file(bad, key, &r, f->err, sizeof(f->err)), DB_ERR_TAMPERED);
    /* cut short: no seal line */
    fx_copy(path, bad);
    {
        char cmd[600];

        snprintf(cmd, sizeof(cmd), "sed -i '$d' '%s'", bad);
        assert_int_equal(system(cmd), 0);
    }
    assert_int_equal(archive_verify_file(bad, key, &r, f->err, sizeof(f->err)), DB_ERR_TAMPERED);
    assert_non_null(strstr(f->err, "cut short"));
    /* something after the seal */
    fx_copy(path, bad);
    fp = fopen(bad, "a");
    assert_non_null(fp);
    fputs("{\"seq\":5}\n", fp);
    fclose(fp);
    assert_int_equal(archive_verify_file(bad, key, &r, f->err, sizeof(f->err)), DB_ERR_TAMPERED);
    assert_non_null(strstr(f->err, "after the seal"));
}

/* ---- retention_run ---- */

static int fx_exists(const char *p)
{
    struct stat st;

    return stat(p, &st) == 0;
}

static void test_retention_run(void **state)
{
    struct fx *f = *state;
    struct retention_stats st;
    struct store_session got;
    char old[STORE_SESSION_ID_LEN + 1], review[STORE_SESSION_ID_LEN + 1],
        young[STORE_SESSION_ID_LEN + 1], stuck[STORE_SESSION_ID_LEN + 1];
    char p_old[512], p_review[512], p_young[512], p_stuck[512], err[512];
    long long now = T0 + 100 * DAY, n = 0;
    FILE *fp = NULL;
    char *out = NULL;
    size_t len = 0;

    f->cfg.recordings.retain = 30 * DAY;
    f->cfg.recordings.retain_line = 7;
    fx_session(f, now - 40 * DAY, 0, old, p_old, sizeof(p_old));
    fx_session(f, now - 40 * DAY, 1, review, p_review, sizeof(p_review));
    fx_session(f, now - 10 * DAY, 0, young, p_young, sizeof(p_young));
    fx_session(f, now - 35 * DAY, 0, stuck, p_stuck, sizeof(p_stuck));
    /* a file that cannot be removed (a directory in its place): step 2 fails for it */
    assert_int_equal(unlink(p_stuck), 0);
    assert_int_equal(mkdir(p_stuck, 0700), 0);
    {
        char inner[600];

        snprintf(inner, sizeof(inner), "%s/x", p_stuck);
        fp = fopen(inner, "w");
        assert_non_null(fp);
        fclose(fp);
    }

    /* a session waiting for review longer than retain: lint says so */
    assert_int_equal(retention_lint(&f->cfg, now, err, sizeof(err)), DB_ERR_INVALID);
    assert_non_null(strstr(err, ":7: recordings.retain: 30d is shorter than session"));
    assert_non_null(strstr(err, review));

    assert_int_equal(retention_run(&f->cfg, now, &st), 0);
    assert_int_equal(st.expired, 2);
    assert_int_equal(st.removed, 1);
    assert_false(fx_exists(p_old));
    assert_true(fx_exists(p_review));
    assert_true(fx_exists(p_young));
    assert_int_equal(store_session_get(f->s, old, &got), 0);
    assert_int_equal(got.expired_at, now);
    assert_int_equal(got.expire_done, 1);
    store_session_clear(&got);
    assert_int_equal(store_session_get(f->s, stuck, &got), 0);
    assert_int_equal(got.expired_at, now);
    assert_int_equal(got.expire_done, 0);
    store_session_clear(&got);
    assert_int_equal(store_session_get(f->s, review, &got), 0);
    assert_int_equal(got.expired_at, 0);
    store_session_clear(&got);
    assert_int_equal(store_audit_verify(f->s, &n, err, sizeof(err)), 0);

    /* verify: expired by retention, never missing; the stuck one's removal is pending (the
     * fixture's files are not real recordings: only the expired sessions are checked) */
    fp = open_memstream(&out, &len);
    {
        char *ids[2] = {old, stuck};

        assert_int_equal(admin_verify(&f->cfg, ids, 2, fp), 0);
    }
    fclose(fp);
    assert_non_null(strstr(out, "expired by retention"));
    assert_non_null(strstr(out, "its file not removed yet"));
    assert_null(strstr(out, "MISSING"));
    assert_non_null(strstr(out, "2 expired by retention"));
    free(out);

    /* the next run finishes what the interrupted one left */
    {
        char inner[600];

        snprintf(inner, sizeof(inner), "%s/x", p_stuck);
        assert_int_equal(unlink(inner), 0);
        assert_int_equal(rmdir(p_stuck), 0);
        fp = fopen(p_stuck, "w");
        assert_non_null(fp);
        fclose(fp);
    }
    assert_int_equal(retention_run(&f->cfg, now + 60, &st), 0);
    assert_int_equal(st.finished, 1);
    assert_int_equal(st.expired, 0);
    assert_false(fx_exists(p_stuck));

    /* reviewed, the waiting one goes too; the lint is quiet */
    assert_int_equal(store_session_review(f->s, review, "carol", now + 120, "ok"), 0);
    assert_int_equal(retention_lint(&f->cfg, now + 120, err, sizeof(err)), 0);
    assert_int_equal(retention_run(&f->cfg, now + 180, &st), 0);
    assert_int_equal(st.expired, 1);
    assert_false(fx_exists(p_review));

    /* a session row marked expired without its audit row is an edit */
    assert_int_equal(store_session_expire(f->s, young, now + 200), 0);
    fp = open_memstream(&out, &len);
    {
        char *ids[1] = {young};

        assert_int_equal(admin_verify(&f->cfg, ids, 1, fp), DB_ERR_TAMPERED);
    }
    fclose(fp);
    assert_non_null(strstr(out, "TAMPERED: marked as expired"));
    free(out);
}

static void test_retention_audit(void **state)
{
    struct fx *f = *state;
    struct retention_stats st;
    struct archive_entry *v = NULL;
    size_t nv = 0;
    char old[STORE_SESSION_ID_LEN + 1], p_old[512], err[512];
    long long now = T0 + 100 * DAY, n = 0;
    struct store_session got;
    FILE *fp = NULL;
    char *out = NULL;
    size_t len = 0;

    f->cfg.recordings.retain = 10 * DAY;
    f->cfg.audit.retain = 20 * DAY;
    /* old rows: a session 60 days ago (its rows at T0-ish), and one row a day for 40 days */
    fx_session(f, now - 60 * DAY, 0, old, p_old, sizeof(p_old));
    for (int i = 40; i > 0; i--) {
        assert_int_equal(store_audit_append(f->s, now - i * DAY, "bob", "request.create",
                                            "request 1", NULL, NULL),
                         0);
    }
    /* first run: the recording expires (a fresh row), rows older than 20 days are archived */
    assert_int_equal(retention_run(&f->cfg, now, &st), 0);
    assert_int_equal(st.expired, 1);
    assert_true(st.archived > 0);
    assert_int_equal(archive_list(f->archive, &v, &nv), 0);
    assert_int_equal(nv, 1);
    assert_int_equal(v[0].first, 1);
    archive_list_free(v, nv);
    assert_int_equal(store_audit_verify(f->s, &n, err, sizeof(err)), 0);
    /* the session's own rows were archived, its expiry row is recent: the row stays */
    assert_int_equal(store_session_get(f->s, old, &got), 0);
    store_session_clear(&got);

    /* 30 days later the expiry row is archived too, and the session row goes with it */
    assert_int_equal(retention_run(&f->cfg, now + 30 * DAY, &st), 0);
    assert_true(st.archived > 0);
    assert_int_equal(st.sessions_dropped, 1);
    assert_int_equal(store_session_get(f->s, old, &got), DB_ERR_NOTFOUND);
    assert_int_equal(store_audit_verify(f->s, &n, err, sizeof(err)), 0);
    assert_int_equal(archive_list(f->archive, &v, &nv), 0);
    assert_int_equal(nv, 2);
    archive_list_free(v, nv);
    fp = open_memstream(&out, &len);
    assert_int_equal(admin_verify(&f->cfg, NULL, 0, fp), 0);
    fclose(fp);
    assert_non_null(strstr(out, "audit archives: 2 file(s), 2 ok"));
    assert_null(strstr(out, "note:"));
    free(out);

    /* an archive edited: verify says so */
    assert_int_equal(archive_list(f->archive, &v, &nv), 0);
    fx_file_edit(v[0].path, "request 1", "request 2");
    archive_list_free(v, nv);
    fp = open_memstream(&out, &len);
    assert_int_equal(admin_verify(&f->cfg, NULL, 0, fp), DB_ERR_TAMPERED);
    fclose(fp);
    assert_non_null(strstr(out, "TAMPERED"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verifier_archived_start),
        cmocka_unit_test_setup_teardown(test_archive_file, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_retention_run, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_retention_audit, fx_setup, fx_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests for the recording half of `drawbridge verify` (admin_verify) and
 * for `drawbridge export` (admin_export), on a real store in a temp
 * state_dir with recordings written by the recordings writer: one session
 * of each kind -- sealed and intact, cut short by a crash, live, edited
 * after sealing, deleted, live and edited, ended without a recording -- and
 * what verify says of each, all together or as named, with the exit code
 * each choice of sessions gives; export's bytes and results.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker.h"
#include "store-backend.h"
#include "common.h"
#include "recording.h"

#define T0 1700000000LL

enum kind { K_OK, K_TRUNCATED, K_LIVE, K_TAMPERED, K_MISSING, K_LIVE_TAMPERED, K_NONE, K_COUNT };

struct fx {
    char dir[64];
    struct store *s;
    struct config cfg;
    unsigned char key[REC_KEY_LEN];
    char id[K_COUNT][STORE_SESSION_ID_LEN + 1];
    char path[K_COUNT][256];
    struct rec_writer *live[K_COUNT];
};

static int fx_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static struct timespec at(double t)
{
    struct timespec ts;

    ts.tv_sec = 1000 + (time_t)t;
    ts.tv_nsec = (long)((t - (double)(long)t) * 1e9);
    return ts;
}

static void edit(const char *path, const char *from, const char *to)
{
    char buf[8192];
    size_t n;
    char *p;
    FILE *fp = fopen(path, "r+b");

    assert_non_null(fp);
    n = fread(buf, 1, sizeof(buf) - 1, fp);
    buf[n] = '\0';
    p = strstr(buf, from);
    assert_non_null(p);
    assert_int_equal(fseek(fp, p - buf, SEEK_SET), 0);
    assert_int_equal(fwrite(to, 1, strlen(to), fp), strlen(to));
    fclose(fp);
}

/* One session of kind k: its row, and a recording as the recorder leaves it. */
static void make(struct fx *f, enum kind k)
{
    struct store_session row;
    struct rec_sink sink;
    struct rec_meta m;
    struct rec_writer *w = NULL;
    struct timespec t;
    char err[512] = "", sha[REC_HEX_LEN + 1], mac[REC_HEX_LEN + 1];

    memset(&row, 0, sizeof(row));
    snprintf(row.user, sizeof(row.user), "alice");
    snprintf(row.target, sizeof(row.target), "web-1");
    snprintf(row.login, sizeof(row.login), "deploy");
    snprintf(row.kind, sizeof(row.kind), "shell");
    row.started_at = T0 + k;
    row.exit_status = -1;
    assert_int_equal(access_session_start(f->s, &row), 0);
    snprintf(f->id[k], sizeof(f->id[k]), "%s", row.id);
    if (k == K_NONE) {
        assert_int_equal(access_session_end(f->s, row.id, "alice", T0 + 60, 1, NULL, NULL), 0);
        return;
    }
    snprintf(f->path[k], sizeof(f->path[k]), "%s/recordings/%s.cast", f->dir, row.id);
    if (rec_sink_file_create(f->path[k], &sink, err, sizeof(err)) != 0) {
        fail_msg("%s", err);
    }
    memset(&m, 0, sizeof(m));
    m.timestamp = T0 + k;
    m.term = "xterm";
    m.session = row.id;
    m.user = "alice";
    m.target = "web-1";
    m.login = "deploy";
    m.kind = "shell";
    m.record_input = 1;
    t = at(0);
    if (rec_writer_new(&sink, &m, f->key, &t, &w, err, sizeof(err)) != 0) {
        fail_msg("%s", err);
    }
    assert_int_equal(store_session_set_recording(f->s, row.id, f->path[k]), 0);
    t = at(0.5);
    assert_int_equal(rec_writer_data(w, REC_STREAM_OUT, &t, "uptime output\r\n", 15), 0);
    t = at(1.5);
    assert_int_equal(rec_writer_tick(w, &t), 0);
    t = at(2.0);
    assert_int_equal(rec_writer_data(w, REC_STREAM_OUT, &t, "more\r\n", 6), 0);
    if (k == K_LIVE || k == K_LIVE_TAMPERED) {
        f->live[k] = w;
        if (k == K_LIVE_TAMPERED) {
            edit(f->path[k], "uptime", "Uptime");
        }
        return;
    }
    if (k == K_TRUNCATED) {
        rec_writer_free(w);
        assert_int_equal(access_session_end(f->s, row.id, "alice", T0 + 60, -1, NULL, NULL), 0);
        return;
    }
    if (rec_writer_close(w, sha, mac, err, sizeof(err)) != 0) {
        fail_msg("%s", err);
    }
    assert_int_equal(access_session_end(f->s, row.id, "alice", T0 + 60, 0, sha, mac), 0);
    if (k == K_TAMPERED) {
        edit(f->path[k], "uptime", "uptimE");
    } else if (k == K_MISSING) {
        assert_int_equal(unlink(f->path[k]), 0);
    }
}

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    char path[128], err[1024] = "";
    int fd;

    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/db-admin-rec-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(path, sizeof(path), "%s/keys", f->dir);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/recordings", f->dir);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/keys/recording.hmac", f->dir);
    for (size_t i = 0; i < sizeof(f->key); i++) {
        f->key[i] = (unsigned char)(0xa5 ^ i);
    }
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, f->key, sizeof(f->key)), (ssize_t)sizeof(f->key));
    close(fd);
    if (tsb_open(f->dir, &f->s, err, sizeof(err)) != 0) {
        fail_msg("store: %s", err);
    }
    f->cfg.state_dir = f->dir;
    f->cfg.store_url = tsb_store_url(f->dir);
    for (int k = 0; k < K_COUNT; k++) {
        make(f, (enum kind)k);
    }
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;

    for (int k = 0; k < K_COUNT; k++) {
        rec_writer_free(f->live[k]);
    }
    store_close(f->s);
    free(f->cfg.store_url);
    nftw(f->dir, fx_rm, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* Runs fn's output into a string (caller frees). */
static char *verify_out(struct fx *f, char *const *ids, size_t n, int *rc)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);

    assert_non_null(out);
    *rc = admin_verify(&f->cfg, ids, n, out);
    fclose(out);
    return buf;
}

static void expect_line(const char *out, const char *line)
{
    if (strstr(out, line) == NULL) {
        print_error("--- output ---\n%s--------------\n", out);
        fail_msg("no \"%s\"", line);
    }
}

static void test_verify_every_session(void **state)
{
    struct fx *f = *state;
    static const char *const said[K_COUNT] = {
        ": ok\n",      ": truncated (", ": live\n",         ": TAMPERED: ",
        ": MISSING: ", ": TAMPERED: ",  ": no recording\n",
    };
    char line[128];
    int rc = 0;
    char *out = verify_out(f, NULL, 0, &rc);

    assert_int_equal(rc, DB_ERR_TAMPERED);
    expect_line(out, "audit chain: ok (");
    for (int k = 0; k < K_COUNT; k++) {
        snprintf(line, sizeof(line), "session %s%s", f->id[k], said[k]);
        expect_line(out, line);
    }
    expect_line(out, "recordings: 7 checked: 1 ok, 1 truncated, 1 live, 2 tampered, 1 missing, 1 "
                     "without a recording\n");
    free(out);
}

static void test_verify_named_sessions(void **state)
{
    struct fx *f = *state;
    static const struct {
        int kinds[4]; /* -1 ends; K_COUNT: an unknown id; K_COUNT + 1: a malformed one */
        int rc;
        const char *summary;
    } cases[] = {
        {{K_OK, -1},
         0,
         "recordings: 1 checked: 1 ok, 0 truncated, 0 live, 0 tampered, 0 missing\n"},
        {{K_OK, K_TRUNCATED, K_LIVE, -1},
         0,
         "recordings: 3 checked: 1 ok, 1 truncated, 1 live, 0 tampered, 0 missing\n"},
        {{K_NONE, -1}, 0, "1 without a recording\n"},
        {{K_OK, K_MISSING, -1},
         DB_ERR_NOTFOUND,
         "1 ok, 0 truncated, 0 live, 0 tampered, 1 missing"},
        {{K_MISSING, K_TAMPERED, -1}, DB_ERR_TAMPERED, "1 tampered, 1 missing"},
        {{K_LIVE_TAMPERED, -1}, DB_ERR_TAMPERED, "0 live, 1 tampered"},
        {{K_OK, K_COUNT, -1},
         DB_ERR_NOTFOUND,
         "1 ok, 0 truncated, 0 live, 0 tampered, 0 missing, "
         "1 unknown session(s)\n"},
        {{K_COUNT + 1, -1}, DB_ERR_NOTFOUND, "recordings: 0 checked"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *ids[4];
        size_t n = 0;
        int rc = 0;
        char *out;

        for (; n < 4 && cases[i].kinds[n] >= 0; n++) {
            int k = cases[i].kinds[n];

            ids[n] = k < K_COUNT ? f->id[k] : k == K_COUNT ? "zzzzzzzzzzzzzzzz" : "../\x1b[2J";
        }
        out = verify_out(f, ids, n, &rc);
        if (rc != cases[i].rc || strstr(out, cases[i].summary) == NULL) {
            print_error("--- output ---\n%s--------------\n", out);
            fail_msg("case %zu: rc %d, wanted %d and \"%s\"", i, rc, cases[i].rc, cases[i].summary);
        }
        /* only the sessions named are reported, and nothing raw reaches the terminal */
        for (int k = 0; k < K_COUNT; k++) {
            int named = 0;

            for (size_t j = 0; j < n; j++) {
                named |= cases[i].kinds[j] == k;
            }
            assert_int_equal(strstr(out, f->id[k]) != NULL, named);
        }
        assert_null(strchr(out, 0x1b));
        free(out);
    }
}

static void test_export(void **state)
{
    struct fx *f = *state;
    static const struct {
        int kind; /* K_COUNT: an unknown id; K_COUNT + 1: a malformed one */
        int rc;
        int bytes; /* the file's bytes are written */
    } cases[] = {
        {K_OK, 0, 1},
        {K_TRUNCATED, 0, 1},
        {K_LIVE, 0, 1},
        {K_TAMPERED, DB_ERR_TAMPERED, 1},
        {K_LIVE_TAMPERED, DB_ERR_TAMPERED, 1},
        {K_MISSING, DB_ERR_NOTFOUND, 0},
        {K_NONE, DB_ERR_NOTFOUND, 0},
        {K_COUNT, DB_ERR_NOTFOUND, 0},
        {K_COUNT + 1, DB_ERR_USAGE, 0},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int k = cases[i].kind;
        const char *id = k < K_COUNT ? f->id[k] : k == K_COUNT ? "zzzzzzzzzzzzzzzz" : "x/../y";
        char *buf = NULL, want[8192];
        size_t len = 0, wlen = 0;
        FILE *out = open_memstream(&buf, &len);
        int rc;

        assert_non_null(out);
        rc = admin_export(&f->cfg, id, out);
        fclose(out);
        if (rc != cases[i].rc) {
            fail_msg("export case %zu: rc %d, wanted %d", i, rc, cases[i].rc);
        }
        if (cases[i].bytes) {
            FILE *fp = fopen(f->path[k], "rb");

            assert_non_null(fp);
            wlen = fread(want, 1, sizeof(want), fp);
            fclose(fp);
            assert_true(wlen > 0);
            assert_int_equal(len, wlen);
            assert_memory_equal(buf, want, wlen);
        } else {
            assert_int_equal(len, 0);
        }
        free(buf);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_verify_every_session, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_verify_named_sessions, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_export, fx_setup, fx_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

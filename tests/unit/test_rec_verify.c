/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for recordings/verify.c on real files in a mkdtemp directory,
 * in format 3 (what the writer writes; its checkpoints and seal are format
 * 2's) and format 1 (the same recording with
 * the MACs format 1 had, HMAC over the bytes rather than over their SHA-256):
 * a closed recording is ok sealed and unsealed; one byte flipped anywhere is
 * tampered; a file cut at any offset (what a crash leaves) is truncated and
 * never tampered when unsealed, and tampered against its seal; a crashed
 * writer's file is truncated; a file that claims the other format is
 * tampered; missing files, symlinks, wrong keys, appended or forged lines,
 * and bad arguments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "recording.h"

static const unsigned char key[REC_KEY_LEN] = "an HMAC key of thirty-two bytes";
static char dir[64];

struct rec_file {
    char path[128];
    char sha[REC_HEX_LEN + 1], hmac[REC_HEX_LEN + 1];
    char *bytes;
    size_t len;
};

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = malloc(1 << 20);

    assert_non_null(f);
    *len = fread(buf, 1, 1 << 20, f);
    fclose(f);
    return buf;
}

static void spill(const char *path, const char *bytes, size_t len)
{
    FILE *f;

    unlink(path);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, len, f), len);
    fclose(f);
}

static void hmac_hex(const void *p, size_t n, char hex[REC_HEX_LEN + 1])
{
    unsigned char mac[32];
    unsigned int len = 0;

    assert_non_null(HMAC(EVP_sha256(), key, REC_KEY_LEN, p, n, mac, &len));
    rec_hex(mac, 32, hex);
}

/* Sets the header's format to f, in place (the writer writes "format": 3). */
static void set_format(char *bytes, size_t len, int f)
{
    char *p = memmem(bytes, len, "\"format\": 3", 11);

    assert_non_null(p);
    p[10] = (char)('0' + f);
}

/*
 * Rewrites a recording of the writer's as format 1 would have it: the header says
 * 1, each checkpoint is HMAC-SHA256(K, the bytes before it), and the seal
 * is the SHA-256 and HMAC-SHA256(K, the file).
 */
static void to_format1(struct rec_file *rf)
{
    unsigned char sha[32];
    char *p = rf->bytes, *end = rf->bytes + rf->len, *nl;

    set_format(rf->bytes, rf->len, 1);
    while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        char *c = memmem(p, (size_t)(nl - p), ", \"c\", \"", 8);

        if (c != NULL) {
            char hex[REC_HEX_LEN + 1];

            hmac_hex(rf->bytes, (size_t)(p - rf->bytes), hex);
            memcpy(c + 8, hex, REC_HEX_LEN);
        }
        p = nl + 1;
    }
    spill(rf->path, rf->bytes, rf->len);
    EVP_Digest(rf->bytes, rf->len, sha, NULL, EVP_sha256(), NULL);
    rec_hex(sha, 32, rf->sha);
    hmac_hex(rf->bytes, rf->len, rf->hmac);
}

/* A few seconds of a session with a flush each second; closed unless crash; in format f. */
static void record(struct rec_file *rf, const char *name, int crash, int f)
{
    struct rec_sink sink;
    struct rec_writer *w = NULL;
    struct rec_meta m;
    struct timespec ts = {10, 0};
    char err[256];

    memset(rf, 0, sizeof(*rf));
    snprintf(rf->path, sizeof(rf->path), "%s/%s", dir, name);
    memset(&m, 0, sizeof(m));
    m.user = "alice";
    m.target = "web-1";
    m.login = "deploy";
    m.record_input = 1;
    unlink(rf->path); /* from the test in the other format */
    assert_int_equal(rec_sink_file_create(rf->path, &sink, err, sizeof(err)), 0);
    assert_int_equal(rec_writer_new(&sink, &m, key, &ts, &w, err, sizeof(err)), 0);
    for (int s = 1; s <= 4; s++) {
        ts.tv_sec = 10 + s;
        assert_int_equal(rec_writer_data(w, REC_STREAM_IN, &ts, "ls\r", 3), 0);
        ts.tv_nsec = 200000000;
        assert_int_equal(rec_writer_data(w, REC_STREAM_OUT, &ts, "a.txt  \xff b.txt\r\n$ ", 18), 0);
        ts.tv_nsec = 0;
        assert_int_equal(rec_writer_tick(w, &ts), 0);
    }
    assert_int_equal(rec_writer_resize(w, &ts, 100, 30), 0);
    assert_int_equal(rec_writer_data(w, REC_STREAM_OUT, &ts, "unflushed", 9), 0);
    if (crash) {
        rec_writer_free(w); /* what a killed gateway leaves */
    } else {
        assert_int_equal(rec_writer_close(w, rf->sha, rf->hmac, err, sizeof(err)), 0);
    }
    rf->bytes = slurp(rf->path, &rf->len);
    if (f == 1) {
        to_format1(rf);
    }
}

static enum rec_verdict verify(const char *path, const unsigned char *k, const char *sha,
                               const char *hmac, char *why, size_t whylen)
{
    enum rec_verdict v = REC_OK;

    assert_int_equal(rec_verify_file(path, k, sha, hmac, &v, why, whylen), 0);
    assert_true(strlen(why) > 0);
    return v;
}

static void ok_format(int f)
{
    struct rec_file rf;
    char why[400];
    struct stat sb;

    record(&rf, "ok.cast", 0, f);
    assert_int_equal(stat(rf.path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, f == 2 ? 0600 : 0644); /* format 1: rewritten here */
    assert_int_equal(verify(rf.path, key, rf.sha, rf.hmac, why, sizeof(why)), REC_OK);
    assert_non_null(strstr(why, "match"));
    assert_int_equal(verify(rf.path, key, NULL, NULL, why, sizeof(why)), REC_OK);
    assert_non_null(strstr(why, "6 checkpoints hold"));
    free(rf.bytes);
}

static void test_ok(void **state)
{
    (void)state;
    ok_format(2);
    ok_format(1);
}

static void flip_every_byte_format(int f)
{
    struct rec_file rf;
    char flipped[128], why[400];

    record(&rf, "flip.cast", 0, f);
    snprintf(flipped, sizeof(flipped), "%s/flipped.cast", dir);
    for (size_t i = 0; i < rf.len; i++) {
        static const unsigned char masks[] = {0x01, 0x20, 0x80};

        for (size_t k = 0; k < sizeof(masks); k++) {
            enum rec_verdict v;

            rf.bytes[i] ^= (char)masks[k];
            spill(flipped, rf.bytes, rf.len);
            rf.bytes[i] ^= (char)masks[k];
            if (verify(flipped, key, rf.sha, rf.hmac, why, sizeof(why)) != REC_TAMPERED) {
                fail_msg("sealed, byte %zu ^ 0x%02x: not tampered", i, masks[k]);
            }
            /* unsealed: checkpoints find it, but the final newline cut looks like a crash */
            v = verify(flipped, key, NULL, NULL, why, sizeof(why));
            if (v != (i + 1 == rf.len ? REC_TRUNCATED : REC_TAMPERED)) {
                fail_msg("unsealed, byte %zu ^ 0x%02x: %s (%s)", i, masks[k], rec_verdict_name(v),
                         why);
            }
        }
    }
    unlink(flipped);
    free(rf.bytes);
}

static void test_flip_every_byte(void **state)
{
    (void)state;
    flip_every_byte_format(2);
    flip_every_byte_format(1);
}

static void truncated_everywhere_format(int f)
{
    struct rec_file rf;
    char cut[128], why[400];

    record(&rf, "cut.cast", 0, f);
    snprintf(cut, sizeof(cut), "%s/cut.cast.part", dir);
    for (size_t n = 0; n < rf.len; n++) {
        enum rec_verdict v;

        spill(cut, rf.bytes, n);
        v = verify(cut, key, NULL, NULL, why, sizeof(why));
        if (v != REC_TRUNCATED) {
            fail_msg("cut at %zu of %zu: %s (%s)", n, rf.len, rec_verdict_name(v), why);
        }
        v = verify(cut, key, rf.sha, rf.hmac, why, sizeof(why));
        if (v != REC_TAMPERED || strstr(why, "differs from the sealed") == NULL) {
            fail_msg("sealed, cut at %zu: %s (%s)", n, rec_verdict_name(v), why);
        }
    }
    unlink(cut);
    free(rf.bytes);
}

static void test_truncated_everywhere(void **state)
{
    (void)state;
    truncated_everywhere_format(2);
    truncated_everywhere_format(1);
}

static void crash_format(int f)
{
    struct rec_file rf;
    char why[400];

    record(&rf, "crash.cast", 1, f);
    assert_null(memmem(rf.bytes, rf.len, "unflushed", 9)); /* lost with the process */
    assert_int_equal(verify(rf.path, key, NULL, NULL, why, sizeof(why)), REC_TRUNCATED);
    assert_non_null(strstr(why, "5 checkpoints hold"));
    free(rf.bytes);
}

static void test_crash(void **state)
{
    (void)state;
    crash_format(2);
    crash_format(1);
}

struct edit_case {
    const char *name;
    const char *append; /* added at the end of the file */
    int closed;         /* of a closed (1) or a crashed (0) recording */
    enum rec_verdict v; /* unsealed */
    const char *why;
};

static const struct edit_case edits[] = {
    {"a line after the end", "[9.0, \"o\", \"x\"]\n", 1, REC_TAMPERED, "after the end"},
    {"a partial line after the end", "[9.0, \"o\"", 1, REC_TAMPERED, "after the end"},
    {"a whole event after a crash", "[9.0, \"o\", \"x\"]\n", 0, REC_TRUNCATED, "1 unverified"},
    {"a partial line after a crash", "[9.0, \"o\", \"", 0, REC_TRUNCATED, "a partial line"},
    {"a bad line after a crash", "[9.0, \"o\", \"x\"] junk\n", 0, REC_TAMPERED,
     "line 15: not JSON"},
    {"a forged end",
     "[9.000000, \"e\", \"out=0 in=0\"]\n[9.000000, \"c\", \""
     "0000000000000000000000000000000000000000000000000000000000000000\"]\n",
     0, REC_TAMPERED, "line 16: checkpoint does not match"},
    {"a checkpoint in another form",
     "[9.0, \"c\", \""
     "0000000000000000000000000000000000000000000000000000000000000000\"]\n",
     0, REC_TAMPERED, "line 15: a checkpoint not as the writer writes it"},
};

static void edits_format(int f)
{
    char path[128], why[400];

    snprintf(path, sizeof(path), "%s/edited.cast", dir);
    for (size_t k = 0; k < sizeof(edits) / sizeof(edits[0]); k++) {
        struct rec_file rf;
        size_t n = strlen(edits[k].append);
        enum rec_verdict v;

        record(&rf, edits[k].closed ? "edit-closed.cast" : "edit-crashed.cast", !edits[k].closed,
               f);
        rf.bytes = realloc(rf.bytes, rf.len + n);
        memcpy(rf.bytes + rf.len, edits[k].append, n);
        spill(path, rf.bytes, rf.len + n);
        v = verify(path, key, NULL, NULL, why, sizeof(why));
        if (v != edits[k].v || strstr(why, edits[k].why) == NULL) {
            fail_msg("%s: %s (%s)", edits[k].name, rec_verdict_name(v), why);
        }
        unlink(rf.path);
        free(rf.bytes);
    }
    unlink(path);
}

static void test_edits(void **state)
{
    (void)state;
    edits_format(2);
    edits_format(1);
}

static void forged_event_format(int f)
{
    struct rec_file rf;
    char *p, why[400];

    record(&rf, "forged.cast", 0, f);
    p = memmem(rf.bytes, rf.len, "\"ls\\r\"", 6);
    assert_non_null(p);
    memcpy(p, "\"id\\r\"", 6); /* still a good line, but not what was typed */
    spill(rf.path, rf.bytes, rf.len);
    assert_int_equal(verify(rf.path, key, NULL, NULL, why, sizeof(why)), REC_TAMPERED);
    assert_non_null(strstr(why, "checkpoint does not match"));
    free(rf.bytes);
}

static void test_forged_event(void **state)
{
    (void)state;
    forged_event_format(2);
    forged_event_format(1);
}

static void other_files_format(int f)
{
    struct rec_file rf;
    unsigned char other[REC_KEY_LEN] = "another key, another installatio";
    char path[128], why[400];
    enum rec_verdict v = REC_OK;

    record(&rf, "keys.cast", 0, f);
    assert_int_equal(verify(rf.path, other, NULL, NULL, why, sizeof(why)), REC_TAMPERED);
    assert_non_null(strstr(why, "line 2: checkpoint does not match"));
    assert_int_equal(verify(rf.path, other, rf.sha, rf.hmac, why, sizeof(why)), REC_TAMPERED);
    assert_non_null(strstr(why, "the SHA-256 matches but the HMAC does not"));
    snprintf(path, sizeof(path), "%s/nothing-here.cast", dir);
    assert_int_equal(verify(path, key, rf.sha, rf.hmac, why, sizeof(why)), REC_MISSING);
    snprintf(path, sizeof(path), "%s/no-dir/x.cast", dir);
    assert_int_equal(verify(path, key, NULL, NULL, why, sizeof(why)), REC_MISSING);
    snprintf(path, sizeof(path), "%s/link.cast", dir);
    assert_int_equal(symlink(rf.path, path), 0);
    assert_int_equal(verify(path, key, rf.sha, rf.hmac, why, sizeof(why)), REC_TAMPERED);
    assert_non_null(strstr(why, "symbolic link"));
    unlink(path);
    assert_int_equal(verify(dir, key, NULL, NULL, why, sizeof(why)), REC_TAMPERED);
    assert_non_null(strstr(why, "not a regular file"));
    /* a sealed hash that is not one, or only half a seal: the check cannot run */
    assert_int_equal(rec_verify_file(rf.path, key, "abc", rf.hmac, &v, why, sizeof(why)),
                     DB_ERR_INVALID);
    assert_int_equal(rec_verify_file(rf.path, key, rf.sha, NULL, &v, why, sizeof(why)),
                     DB_ERR_INVALID);
    assert_int_equal(rec_verify_file(rf.path, NULL, NULL, NULL, &v, why, sizeof(why)),
                     DB_ERR_INVALID);
    /* the seal's case does not matter */
    for (char *c = rf.sha; *c != '\0'; c++) {
        *c = (char)(*c >= 'a' && *c <= 'f' ? *c - 32 : *c);
    }
    assert_int_equal(verify(rf.path, key, rf.sha, rf.hmac, why, sizeof(why)), REC_OK);
    free(rf.bytes);
}

static void test_other_files(void **state)
{
    (void)state;
    other_files_format(2);
    other_files_format(1);
}

/*
 * A recording whose header claims the other format (format 2 read as 1, and
 * a format 1 file passed off as format 2): its checkpoints and its seal do
 * not hold that format's way.
 */
static void test_other_format(void **state)
{
    (void)state;
    for (int f = 1; f <= 2; f++) {
        struct rec_file rf;
        char why[400], *p;

        record(&rf, "claims.cast", 0, f);
        p = memmem(rf.bytes, rf.len, "\"format\": ", 10);
        assert_non_null(p);
        p[10] = (char)('0' + 3 - f);
        spill(rf.path, rf.bytes, rf.len);
        assert_int_equal(verify(rf.path, key, NULL, NULL, why, sizeof(why)), REC_TAMPERED);
        assert_non_null(strstr(why, "line 2: checkpoint does not match"));
        assert_int_equal(verify(rf.path, key, rf.sha, rf.hmac, why, sizeof(why)), REC_TAMPERED);
        free(rf.bytes);
    }
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(rec_verdict_name(REC_OK), "ok");
    assert_string_equal(rec_verdict_name(REC_TRUNCATED), "truncated");
    assert_string_equal(rec_verdict_name(REC_TAMPERED), "tampered");
    assert_string_equal(rec_verdict_name(REC_MISSING), "missing");
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/drawbridge-rec-verify-XXXXXX");
    return mkdtemp(dir) != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ok),
        cmocka_unit_test(test_flip_every_byte),
        cmocka_unit_test(test_truncated_everywhere),
        cmocka_unit_test(test_crash),
        cmocka_unit_test(test_edits),
        cmocka_unit_test(test_forged_event),
        cmocka_unit_test(test_other_files),
        cmocka_unit_test(test_other_format),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

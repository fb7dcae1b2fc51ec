/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for broker/mfa/: TOTP against the RFC 6238 vectors, the code
 * syntax, sealing secrets (and every way an unseal must fail), recovery
 * code forms, and the rules on a real store in a temporary state_dir --
 * enrolment in two steps, once-only codes, the window and clock skew, the
 * lockout and its end, recovery codes spent by use, hostile answers (empty,
 * 7 digits, letters, NUL, 64 KiB), a damaged secret or key refusing rather
 * than skipping, reset, and the audit rows and notifications each leaves.
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
#include <unistd.h>

#include <jansson.h>
#include <liboath/oath.h>
#include <sqlite3.h>

#include "mfa-int.h"

#define T0 1700000000LL /* a multiple of 10 s; step boundaries are checked below */

struct fx {
    char dir[64];
    struct config cfg;
    struct store *s;
    struct mfa_ctx m;
    struct access_notify notify;
    char events[16][32];
    int nevents;
    char err[512];
    char uri[MFA_URI_MAX];
    unsigned char secret[64];
    size_t secretlen;
    char codes[MFA_RECOVERY_CODES][MFA_RECOVERY_LEN + 1];
};

static int fx_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void fx_notify(void *ctx, const char *event, json_t *obj)
{
    struct fx *f = ctx;

    assert_non_null(json_object_get(obj, "user"));
    if (f->nevents < 16) {
        snprintf(f->events[f->nevents++], sizeof(f->events[0]), "%s", event);
    }
}

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/db-mfa-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->cfg.state_dir = f->dir;
    if (keys_ensure(&f->cfg, f->err, sizeof(f->err)) != 0 ||
        store_open(f->dir, &f->s, f->err, sizeof(f->err)) != 0) {
        fail_msg("setup: %s", f->err);
    }
    f->notify.fn = fx_notify;
    f->notify.ctx = f;
    f->m.cfg = &f->cfg;
    f->m.store = f->s;
    f->m.notify = &f->notify;
    f->m.peer = "127.0.0.1:1234";
    f->m.via = "ssh";
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

/* The secret out of the otpauth URI, as an authenticator app reads it. */
static void fx_secret_from_uri(struct fx *f)
{
    const char *p = strstr(f->uri, "secret="), *e = NULL;
    char *out = NULL;
    size_t outlen = 0;

    assert_non_null(p);
    p += 7;
    e = strchr(p, '&');
    assert_non_null(e);
    assert_int_equal(oath_init(), OATH_OK);
    assert_int_equal(oath_base32_decode(p, (size_t)(e - p), &out, &outlen), OATH_OK);
    assert_int_equal(outlen, MFA_SECRET_BYTES);
    memcpy(f->secret, out, outlen);
    f->secretlen = outlen;
    free(out);
    oath_done();
}

/* The code an authenticator shows at time t. */
static const char *fx_code(struct fx *f, long long t)
{
    static char code[MFA_DIGITS + 1];

    assert_int_equal(mfa_totp_code(f->secret, f->secretlen, t / MFA_STEP_SECONDS, code), 0);
    return code;
}

/* alice enrolled at T0 (the confirming code is the one of T0's step). */
static void fx_enrol(struct fx *f, const char *user)
{
    assert_int_equal(
        mfa_enroll(&f->m, user, "Drawbridge", T0, f->uri, sizeof(f->uri), f->err, sizeof(f->err)),
        0);
    fx_secret_from_uri(f);
    if (mfa_confirm(&f->m, user, fx_code(f, T0), T0, f->codes, f->err, sizeof(f->err)) != 0) {
        fail_msg("confirm: %s", f->err);
    }
}

/* A 6-digit code valid at no step within two of t's. */
static const char *fx_wrong(struct fx *f, long long t)
{
    static char wrong[MFA_DIGITS + 1];
    long long step = 0;

    for (int v = 0;; v += 111111) {
        snprintf(wrong, sizeof(wrong), "%06d", v % 1000000);
        if (mfa_totp_match(f->secret, f->secretlen, t, 2, wrong, &step) != 0) {
            return wrong;
        }
    }
}

static int fx_verify(struct fx *f, const char *user, const char *code, long long now)
{
    f->err[0] = '\0';
    return mfa_verify(&f->m, user, code, strlen(code), now, NULL, f->err, sizeof(f->err));
}

/* Audit rows with this event. */
struct fx_count {
    const char *event;
    int n;
    char last_details[512];
};

static int fx_count_row(void *ctx, const struct audit_row *row)
{
    struct fx_count *c = ctx;

    if (strcmp(row->event, c->event) == 0) {
        c->n++;
        snprintf(c->last_details, sizeof(c->last_details), "%s", row->details);
    }
    return 0;
}

static int fx_audit_count(struct fx *f, const char *event, char *details, size_t len)
{
    struct fx_count c = {event, 0, ""};

    assert_int_equal(store_audit_foreach(f->s, 0, fx_count_row, &c), 0);
    if (details != NULL) {
        snprintf(details, len, "%s", c.last_details);
    }
    return c.n;
}

static void fx_sql(struct fx *f, const char *sql)
{
    char path[128];
    sqlite3 *db = NULL;

    snprintf(path, sizeof(path), "%s/drawbridge.db", f->dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* ---- TOTP ---- */

static void test_totp_rfc6238(void **state)
{
    /* RFC 6238 appendix B, SHA-1 (its 8-digit values, last six digits) */
    static const struct {
        long long t;
        const char *code;
    } v[] = {
        {59, "287082"},         {1111111109, "081804"}, {1111111111, "050471"},
        {1234567890, "005924"}, {2000000000, "279037"}, {20000000000LL, "353130"},
    };
    const unsigned char *key = (const unsigned char *)"12345678901234567890";
    char code[MFA_DIGITS + 1];
    long long step = 0;

    (void)state;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        assert_int_equal(mfa_totp_code(key, 20, v[i].t / 30, code), 0);
        assert_string_equal(code, v[i].code);
        assert_int_equal(mfa_totp_match(key, 20, v[i].t, 1, v[i].code, &step), 0);
        assert_int_equal(step, v[i].t / 30);
        /* one step either side is accepted, two are not */
        assert_int_equal(mfa_totp_match(key, 20, v[i].t + 30, 1, v[i].code, &step), 0);
        assert_int_equal(step, v[i].t / 30);
        assert_int_equal(mfa_totp_match(key, 20, v[i].t - 30, 1, v[i].code, &step), 0);
        assert_int_equal(mfa_totp_match(key, 20, v[i].t + 90, 1, v[i].code, &step), DB_ERR_AUTH);
        assert_int_equal(mfa_totp_match(key, 20, v[i].t - 90, 1, v[i].code, &step), DB_ERR_AUTH);
    }
}

static void test_totp_syntax(void **state)
{
    static const char *const bad[] = {"",       "12345",   "1234567",      "12345a", " 12345",
                                      "123 45", "12345\n", "１２３４５６", "+12345", "-12345"};
    long long step = 0;
    const unsigned char *key = (const unsigned char *)"12345678901234567890";

    (void)state;
    assert_true(mfa_totp_syntax("000000", 6));
    assert_true(mfa_totp_syntax("987654", 6));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_false(mfa_totp_syntax(bad[i], strlen(bad[i])));
    }
    /* liboath would take 8 digits as an 8-digit TOTP: the syntax check stops it */
    assert_int_equal(mfa_totp_match(key, 20, 59, 1, "94287082", &step), DB_ERR_AUTH);
    assert_int_equal(mfa_totp_match(key, 20, 59, 1, "4287082", &step), DB_ERR_AUTH);
}

/* ---- sealing ---- */

static void test_seal(void **state)
{
    unsigned char raw[32], raw2[32], secret[MFA_SECRET_BYTES], out[64];
    char sealed[STORE_MFA_SECRET_MAX + 1], bad[STORE_MFA_SECRET_MAX + 1];
    struct mfa_keys k, k2;
    size_t len = 0;

    (void)state;
    memset(raw, 7, sizeof(raw));
    memset(raw2, 8, sizeof(raw2));
    for (size_t i = 0; i < sizeof(secret); i++) {
        secret[i] = (unsigned char)(i * 13);
    }
    mfa_keys_derive(raw, &k);
    mfa_keys_derive(raw2, &k2);
    assert_memory_not_equal(k.seal, k.recovery, 32);
    assert_int_equal(mfa_secret_seal(&k, "alice", secret, sizeof(secret), sealed, sizeof(sealed)),
                     0);
    assert_int_equal(strncmp(sealed, "v1:", 3), 0);
    /* the clear secret is nowhere in the sealed form */
    assert_null(strstr(sealed, "000d1a"));
    assert_int_equal(mfa_secret_unseal(&k, "alice", sealed, out, sizeof(out), &len), 0);
    assert_int_equal(len, sizeof(secret));
    assert_memory_equal(out, secret, sizeof(secret));
    /* sealing twice gives two different forms (fresh nonce) */
    assert_int_equal(mfa_secret_seal(&k, "alice", secret, sizeof(secret), bad, sizeof(bad)), 0);
    assert_string_not_equal(bad, sealed);
    /* another user, another key, a flipped character anywhere, cut short, other versions */
    assert_int_equal(mfa_secret_unseal(&k, "bob", sealed, out, sizeof(out), &len), DB_ERR_TAMPERED);
    assert_int_equal(mfa_secret_unseal(&k2, "alice", sealed, out, sizeof(out), &len),
                     DB_ERR_TAMPERED);
    for (size_t i = 3; i < strlen(sealed); i++) {
        snprintf(bad, sizeof(bad), "%s", sealed);
        bad[i] = bad[i] == '0' ? '1' : '0';
        assert_int_equal(mfa_secret_unseal(&k, "alice", bad, out, sizeof(out), &len),
                         DB_ERR_TAMPERED);
    }
    snprintf(bad, sizeof(bad), "%.*s", (int)strlen(sealed) - 2, sealed);
    assert_int_equal(mfa_secret_unseal(&k, "alice", bad, out, sizeof(out), &len), DB_ERR_TAMPERED);
    snprintf(bad, sizeof(bad), "v2:%s", sealed + 3);
    assert_int_equal(mfa_secret_unseal(&k, "alice", bad, out, sizeof(out), &len), DB_ERR_TAMPERED);
    assert_int_equal(mfa_secret_unseal(&k, "alice", "", out, sizeof(out), &len), DB_ERR_TAMPERED);
    assert_int_equal(mfa_secret_unseal(&k, "alice", "v1:zz", out, sizeof(out), &len),
                     DB_ERR_TAMPERED);
    assert_int_equal(len, 0);
}

static void test_recovery_forms(void **state)
{
    static const char *const good[] = {"abcde-fghij", "ABCDE-FGHIJ", "abcdefghij", " abcde fghij ",
                                       "AbCdE-fGhIj"};
    static const char *const bad[] = {"",
                                      "abcde--fghij",
                                      "abcde-fghi1",
                                      "abcdefghi",
                                      "abcdefghijk",
                                      "abcd-efghij",
                                      "abcde-fghi-j",
                                      "-abcdefghij",
                                      "abcde_fghij",
                                      "abcde-fghi\xc3\xa9"};
    char norm[MFA_RECOVERY_CHARS + 1], hash[STORE_MFA_HASH_LEN + 1], hash2[STORE_MFA_HASH_LEN + 1];
    struct mfa_keys k;
    unsigned char raw[32] = {1};

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_int_equal(mfa_recovery_normalise(good[i], strlen(good[i]), norm), 0);
        assert_string_equal(norm, "abcdefghij");
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (mfa_recovery_normalise(bad[i], strlen(bad[i]), norm) == 0) {
            fail_msg("\"%s\" was taken as a recovery code", bad[i]);
        }
    }
    mfa_keys_derive(raw, &k);
    assert_int_equal(mfa_recovery_hash(&k, "alice", "abcdefghij", hash), 0);
    assert_int_equal(strlen(hash), STORE_MFA_HASH_LEN);
    assert_int_equal(mfa_recovery_hash(&k, "bob", "abcdefghij", hash2), 0);
    assert_string_not_equal(hash, hash2);
    for (int i = 0; i < 50; i++) {
        assert_int_equal(mfa_random_base32(norm, MFA_RECOVERY_CHARS), 0);
        assert_int_equal(mfa_recovery_normalise(norm, strlen(norm), hash2), 0);
    }
}

/* ---- the rules, on a real store ---- */

static void test_enrol_confirm(void **state)
{
    struct fx *f = *state;
    struct mfa_status st;
    char again[MFA_URI_MAX];

    /* never enrolled: no prompt, no row */
    assert_int_equal(mfa_status_get(&f->m, "alice", T0, &st), 0);
    assert_false(st.enrolled);
    assert_false(st.pending);
    assert_int_equal(mfa_login_check(&f->m, "alice", T0, f->err, sizeof(f->err)), DB_ERR_NOTFOUND);
    assert_int_equal(mfa_enroll(&f->m, "alice", "Drawbridge Prod", T0, f->uri, sizeof(f->uri),
                                f->err, sizeof(f->err)),
                     0);
    assert_int_equal(strncmp(f->uri, "otpauth://totp/Drawbridge%20Prod:alice?secret=", 46), 0);
    assert_non_null(strstr(f->uri, "&issuer=Drawbridge%20Prod&algorithm=SHA1&digits=6&period=30"));
    fx_secret_from_uri(f);
    /* pending: still no prompt at login */
    assert_int_equal(mfa_status_get(&f->m, "alice", T0, &st), 0);
    assert_true(st.pending);
    assert_int_equal(mfa_login_check(&f->m, "alice", T0, f->err, sizeof(f->err)), DB_ERR_NOTFOUND);
    /* a wrong confirmation is counted and refused */
    assert_int_equal(
        mfa_confirm(&f->m, "alice", fx_wrong(f, T0), T0, f->codes, f->err, sizeof(f->err)),
        DB_ERR_AUTH);
    assert_int_equal(mfa_confirm(&f->m, "alice", "12345", T0, f->codes, f->err, sizeof(f->err)),
                     DB_ERR_AUTH);
    assert_string_equal(f->codes[0], "");
    /* the right code */
    if (mfa_confirm(&f->m, "alice", fx_code(f, T0), T0 + 5, f->codes, f->err, sizeof(f->err)) !=
        0) {
        fail_msg("confirm: %s", f->err);
    }
    for (int i = 0; i < MFA_RECOVERY_CODES; i++) {
        assert_int_equal(strlen(f->codes[i]), MFA_RECOVERY_LEN);
        assert_int_equal(f->codes[i][5], '-');
        for (int j = 0; j < i; j++) {
            assert_string_not_equal(f->codes[i], f->codes[j]);
        }
    }
    assert_int_equal(mfa_status_get(&f->m, "alice", T0 + 5, &st), 0);
    assert_true(st.enrolled);
    assert_int_equal(st.recovery_left, MFA_RECOVERY_CODES);
    assert_int_equal(st.enrolled_at, T0 + 5);
    assert_int_equal(st.failures, 0);
    assert_int_equal(mfa_login_check(&f->m, "alice", T0, f->err, sizeof(f->err)), 0);
    /* the confirming code cannot then log in */
    assert_int_equal(fx_verify(f, "alice", fx_code(f, T0), T0 + 10), DB_ERR_AUTH);
    /* enrolling twice without a reset is refused; confirming twice too */
    assert_int_equal(mfa_enroll(&f->m, "alice", "Drawbridge", T0 + 60, again, sizeof(again), f->err,
                                sizeof(f->err)),
                     DB_ERR_EXISTS);
    assert_non_null(strstr(f->err, "already enrolled"));
    assert_string_equal(again, "");
    assert_int_equal(
        mfa_confirm(&f->m, "alice", fx_code(f, T0 + 60), T0 + 60, f->codes, f->err, sizeof(f->err)),
        DB_ERR_EXISTS);
    /* the secret in the store is sealed */
    {
        struct store_mfa row;
        char b32[64];

        assert_int_equal(store_mfa_get(f->s, "alice", &row), 0);
        mfa_base32_encode(f->secret, f->secretlen, b32);
        assert_null(strstr(row.secret, b32));
        assert_int_equal(strncmp(row.secret, "v1:", 3), 0);
    }
    assert_int_equal(fx_audit_count(f, "mfa.enroll", NULL, 0), 1);
    assert_int_equal(fx_audit_count(f, "mfa.enrolled", NULL, 0), 1);
    assert_int_equal(f->nevents, 1);
    assert_string_equal(f->events[0], "mfa.enrolled");
}

static void test_enrol_restart_pending(void **state)
{
    struct fx *f = *state;
    char first[MFA_URI_MAX];

    assert_int_equal(
        mfa_enroll(&f->m, "bob", "Drawbridge", T0, first, sizeof(first), f->err, sizeof(f->err)),
        0);
    assert_int_equal(mfa_enroll(&f->m, "bob", "Drawbridge", T0 + 1, f->uri, sizeof(f->uri), f->err,
                                sizeof(f->err)),
                     0);
    assert_string_not_equal(first, f->uri);
    fx_secret_from_uri(f);
    assert_int_equal(
        mfa_confirm(&f->m, "bob", fx_code(f, T0), T0, f->codes, f->err, sizeof(f->err)), 0);
}

static void test_once_and_window(void **state)
{
    struct fx *f = *state;
    char code[MFA_DIGITS + 1];

    fx_enrol(f, "alice");
    /* a code of the next step, then the same again: accepted once */
    snprintf(code, sizeof(code), "%s", fx_code(f, T0 + 30));
    assert_int_equal(fx_verify(f, "alice", code, T0 + 30), 0);
    assert_int_equal(fx_verify(f, "alice", code, T0 + 35), DB_ERR_AUTH);
    assert_string_equal(f->err, "verification code already used; wait for the next one");
    /* a device 30 s behind (its code is one step old) and one 30 s ahead are fine */
    assert_int_equal(fx_verify(f, "alice", fx_code(f, T0 + 90), T0 + 120), 0);
    assert_int_equal(fx_verify(f, "alice", fx_code(f, T0 + 180), T0 + 150), 0);
    /* an older step than the last accepted one is refused even inside the window */
    assert_int_equal(fx_verify(f, "alice", fx_code(f, T0 + 150), T0 + 160), DB_ERR_AUTH);
    /* two minutes of skew is not */
    assert_int_equal(fx_verify(f, "alice", fx_code(f, T0 + 600 - 120), T0 + 600), DB_ERR_AUTH);
    {
        char d[512];

        assert_int_equal(fx_audit_count(f, "mfa.failure", d, sizeof(d)), 3);
        assert_non_null(strstr(d, "outside the time window"));
    }
    assert_int_equal(fx_verify(f, "alice", fx_code(f, T0 + 600 + 120), T0 + 600), DB_ERR_AUTH);
    assert_int_equal(fx_verify(f, "alice", fx_code(f, T0 + 600), T0 + 600), 0);
}

static void test_hostile_answers(void **state)
{
    struct fx *f = *state;
    struct mfa_status st;
    char *big = malloc(64 * 1024);
    char nul[8] = {'1', '2', '3', '\0', '4', '5', '6', '7'};
    char d[512];

    assert_non_null(big);
    memset(big, '1', 64 * 1024);
    fx_enrol(f, "alice");
    assert_int_equal(
        mfa_verify(&f->m, "alice", big, 64 * 1024, T0 + 30, NULL, f->err, sizeof(f->err)),
        DB_ERR_AUTH);
    /* a NUL inside: never cut short to what comes before it */
    assert_int_equal(
        mfa_verify(&f->m, "alice", nul, sizeof(nul), T0 + 30, NULL, f->err, sizeof(f->err)),
        DB_ERR_AUTH);
    assert_int_equal(mfa_verify(&f->m, "alice", "", 0, T0 + 30, NULL, f->err, sizeof(f->err)),
                     DB_ERR_AUTH);
    assert_int_equal(mfa_status_get(&f->m, "alice", T0 + 30, &st), 0);
    assert_int_equal(st.failures, 3);
    assert_int_equal(fx_verify(f, "alice", "1234567", T0 + 30), DB_ERR_AUTH);
    assert_int_equal(fx_audit_count(f, "mfa.failure", d, sizeof(d)), 4);
    assert_non_null(strstr(d, "not a 6-digit code"));
    assert_non_null(strstr(d, "\"failures\":4"));
    /* the answer itself is never in the audit */
    assert_null(strstr(d, "1234567"));
    /* a right code ends the run */
    assert_int_equal(fx_verify(f, "alice", fx_code(f, T0 + 30), T0 + 30), 0);
    assert_int_equal(mfa_status_get(&f->m, "alice", T0 + 30, &st), 0);
    assert_int_equal(st.failures, 0);
    free(big);
}

static void test_lockout(void **state)
{
    struct fx *f = *state;
    struct mfa_status st;
    char good[MFA_DIGITS + 1], wrong[MFA_DIGITS + 1];

    fx_enrol(f, "alice");
    snprintf(good, sizeof(good), "%s", fx_code(f, T0 + 300));
    snprintf(wrong, sizeof(wrong), "%s", fx_wrong(f, T0 + 300));
    for (int i = 1; i <= MFA_LOCK_FAILURES; i++) {
        assert_int_equal(fx_verify(f, "alice", i % 2 ? wrong : "abc", T0 + 290 + i), DB_ERR_AUTH);
    }
    assert_non_null(strstr(f->err, "locked for 15 minutes"));
    /* locked: even the right code and a recovery code are refused, and the lock is not extended */
    assert_int_equal(fx_verify(f, "alice", good, T0 + 300), DB_ERR_DENIED);
    assert_non_null(strstr(f->err, "locked until"));
    assert_int_equal(fx_verify(f, "alice", f->codes[0], T0 + 300), DB_ERR_DENIED);
    assert_int_equal(mfa_status_get(&f->m, "alice", T0 + 300, &st), 0);
    assert_int_equal(st.locked_until, T0 + 295 + MFA_LOCK_SECONDS);
    assert_int_equal(fx_audit_count(f, "mfa.lock", NULL, 0), 1);
    assert_int_equal(f->nevents, 2);
    assert_string_equal(f->events[1], "mfa.locked");
    /* still locked a second before the end, open after it */
    assert_int_equal(
        fx_verify(f, "alice", fx_code(f, T0 + 294 + MFA_LOCK_SECONDS), T0 + 294 + MFA_LOCK_SECONDS),
        DB_ERR_DENIED);
    assert_int_equal(
        fx_verify(f, "alice", fx_code(f, T0 + 295 + MFA_LOCK_SECONDS), T0 + 295 + MFA_LOCK_SECONDS),
        0);
    assert_int_equal(mfa_status_get(&f->m, "alice", T0 + 296 + MFA_LOCK_SECONDS, &st), 0);
    assert_int_equal(st.locked_until, 0);
    assert_int_equal(st.failures, 0);
}

static void test_recovery_codes(void **state)
{
    struct fx *f = *state;
    struct mfa_status st;
    enum mfa_kind kind = 0;
    char upper[MFA_RECOVERY_LEN + 1];

    fx_enrol(f, "alice");
    assert_int_equal(mfa_verify(&f->m, "alice", f->codes[3], strlen(f->codes[3]), T0 + 60, &kind,
                                f->err, sizeof(f->err)),
                     0);
    assert_int_equal(kind, MFA_KIND_RECOVERY);
    /* spent */
    assert_int_equal(fx_verify(f, "alice", f->codes[3], T0 + 61), DB_ERR_AUTH);
    /* typed in capitals without the dash */
    for (int i = 0, o = 0; f->codes[4][i] != '\0'; i++) {
        if (f->codes[4][i] != '-') {
            upper[o++] = (char)(f->codes[4][i] >= 'a' ? f->codes[4][i] - 32 : f->codes[4][i]);
            upper[o] = '\0';
        }
    }
    assert_int_equal(fx_verify(f, "alice", upper, T0 + 62), 0);
    assert_int_equal(mfa_status_get(&f->m, "alice", T0 + 62, &st), 0);
    assert_int_equal(st.recovery_left, MFA_RECOVERY_CODES - 2);
    assert_int_equal(fx_audit_count(f, "mfa.recovery", NULL, 0), 2);
    /* one user's code is not another's */
    {
        char alice_codes[MFA_RECOVERY_CODES][MFA_RECOVERY_LEN + 1];

        memcpy(alice_codes, f->codes, sizeof(alice_codes));
        fx_enrol(f, "bob");
        assert_int_equal(fx_verify(f, "bob", alice_codes[5], T0 + 63), DB_ERR_AUTH);
        assert_int_equal(fx_verify(f, "alice", alice_codes[5], T0 + 63), 0);
    }
}

static void test_unreadable(void **state)
{
    struct fx *f = *state;
    char path[128];
    int fd;

    fx_enrol(f, "alice");
    fx_enrol(f, "bob");
    /* a damaged row: refused with a message, audited; never let through */
    fx_sql(f, "UPDATE mfa SET secret = substr(secret, 1, 10) || "
              "(CASE substr(secret, 11, 1) WHEN '0' THEN '1' ELSE '0' END) || substr(secret, 12) "
              "WHERE user = 'alice'");
    assert_int_equal(mfa_login_check(&f->m, "alice", T0, f->err, sizeof(f->err)), DB_ERR_TAMPERED);
    assert_non_null(strstr(f->err, "cannot be read"));
    assert_int_equal(fx_verify(f, "alice", fx_code(f, T0 + 60), T0 + 60), DB_ERR_TAMPERED);
    assert_int_equal(fx_audit_count(f, "mfa.unreadable", NULL, 0), 2);
    /* bob's row moved to alice does not open for alice */
    fx_sql(f, "UPDATE mfa SET secret = (SELECT secret FROM mfa WHERE user = 'bob') "
              "WHERE user = 'alice'");
    assert_int_equal(mfa_login_check(&f->m, "alice", T0, f->err, sizeof(f->err)), DB_ERR_TAMPERED);
    /* another gateway key: nobody's secret opens */
    snprintf(path, sizeof(path), "%s/keys/%s", f->dir, MFA_KEY_FILE);
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "0123456789abcdef0123456789abcdef", 32), 32);
    close(fd);
    assert_int_equal(mfa_login_check(&f->m, "bob", T0, f->err, sizeof(f->err)), DB_ERR_TAMPERED);
    assert_int_equal(fx_verify(f, "bob", fx_code(f, T0 + 60), T0 + 60), DB_ERR_TAMPERED);
    /* no key at all: refused too */
    assert_int_equal(unlink(path), 0);
    assert_int_equal(mfa_login_check(&f->m, "bob", T0, f->err, sizeof(f->err)), DB_ERR_UNAVAIL);
    assert_int_equal(fx_verify(f, "bob", fx_code(f, T0 + 90), T0 + 90), DB_ERR_UNAVAIL);
    /* ... and a never-enrolled user is unaffected */
    assert_int_equal(mfa_login_check(&f->m, "carol", T0, f->err, sizeof(f->err)), DB_ERR_NOTFOUND);
}

static void test_reset(void **state)
{
    struct fx *f = *state;
    struct mfa_status st;
    char d[512];

    fx_enrol(f, "alice");
    assert_int_equal(
        mfa_reset(&f->m, "carol", "alice", "lost phone", T0 + 100, f->err, sizeof(f->err)), 0);
    assert_int_equal(mfa_status_get(&f->m, "alice", T0 + 100, &st), 0);
    assert_false(st.enrolled);
    assert_false(st.pending);
    assert_int_equal(mfa_login_check(&f->m, "alice", T0, f->err, sizeof(f->err)), DB_ERR_NOTFOUND);
    /* the old recovery codes are gone with it */
    assert_int_equal(fx_verify(f, "alice", f->codes[0], T0 + 101), DB_ERR_NOTFOUND);
    assert_int_equal(mfa_reset(&f->m, "carol", "alice", "again", T0 + 102, f->err, sizeof(f->err)),
                     DB_ERR_NOTFOUND);
    assert_int_equal(fx_audit_count(f, "mfa.reset", d, sizeof(d)), 1);
    assert_non_null(strstr(d, "lost phone"));
    assert_string_equal(f->events[f->nevents - 1], "mfa.reset");
    /* and enrolment works again */
    fx_enrol(f, "alice");
    assert_int_equal(mfa_status_get(&f->m, "alice", T0, &st), 0);
    assert_true(st.enrolled);
}

static void test_qr(void **state)
{
    char *qr = NULL;
    size_t lines = 0;

    (void)state;
    assert_int_equal(mfa_qr_render("otpauth://totp/"
                                   "Drawbridge:alice?secret=ABCDEFGHIJKLMNOPQRSTUVWXYZ234567&"
                                   "issuer=Drawbridge&algorithm=SHA1&digits=6&period=30",
                                   &qr),
                     0);
    for (const char *p = qr; *p != '\0'; p++) {
        lines += *p == '\n';
    }
    /* a version 5-7 symbol with its quiet zone, two module rows a line */
    assert_true(lines >= 20 && lines <= 30);
    assert_non_null(strstr(qr, "\u2588"));
    free(qr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_totp_rfc6238),
        cmocka_unit_test(test_totp_syntax),
        cmocka_unit_test(test_seal),
        cmocka_unit_test(test_recovery_forms),
        cmocka_unit_test(test_qr),
        cmocka_unit_test_setup_teardown(test_enrol_confirm, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_enrol_restart_pending, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_once_and_window, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_hostile_answers, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_lockout, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_recovery_codes, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_unreadable, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_reset, fx_setup, fx_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The second factor's rules (see mfa.h): enrolment in two steps (a secret
 * is issued, then a code of it confirms that the user's authenticator holds
 * it), the check of a code at login with its once-only and lockout rules,
 * and the reviewers' reset.
 *
 * Each check runs in one BEGIN IMMEDIATE transaction: the row is read, the
 * code judged, the last accepted step or the run of failures written, and
 * the audit row appended together, so two logins racing with one code
 * cannot both succeed, and no failure goes uncounted.  The code itself is
 * never logged or audited (a password typed at the wrong prompt would be
 * kept forever): only why it was refused.
 */
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <jansson.h>

#include "mfa-int.h"

/* How far from now a refused code is looked for, to tell "out of the window" from "wrong". */
#define MFA_SKEW_PROBE 20

static json_t *mfa_details(const struct mfa_ctx *m)
{
    json_t *d = json_object();

    if (d != NULL) {
        json_object_set_new(d, "peer", json_string(m->peer != NULL ? m->peer : ""));
        if (m->via != NULL) {
            json_object_set_new(d, "via", json_string(m->via));
        }
    }
    return d;
}

/* Appends an audit row (inside the caller's transaction when one is open); details stolen. */
static int mfa_audit(const struct mfa_ctx *m, long long now, const char *actor, const char *event,
                     const char *user, json_t *details)
{
    int rc;

    if (details == NULL) {
        return DB_ERR_NOMEM;
    }
    rc = access_audit_event(m->store, now, actor, event, user, details);
    json_decref(details);
    return rc;
}

static void mfa_notify(const struct mfa_ctx *m, const char *event, long long now, const char *actor,
                       const char *user, const char *reason, long long locked_until)
{
    json_t *obj = NULL;

    if (m->notify == NULL || m->notify->fn == NULL) {
        return;
    }
    obj = mfa_details(m);
    if (obj == NULL) {
        return;
    }
    json_object_set_new(obj, "event", json_string(event));
    json_object_set_new(obj, "time", json_integer(now));
    json_object_set_new(obj, "user", json_string(user));
    json_object_set_new(obj, "actor", json_string(actor));
    if (reason != NULL) {
        json_object_set_new(obj, "reason", json_string(reason));
    }
    if (locked_until > 0) {
        json_object_set_new(obj, "locked_until", json_integer(locked_until));
    }
    m->notify->fn(m->notify->ctx, event, obj);
    json_decref(obj);
}

static char *mfa_clock(long long t, char *buf, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (gmtime_r(&tt, &tm) == NULL || strftime(buf, len, "%H:%M:%S UTC", &tm) == 0) {
        snprintf(buf, len, "%lld", t);
    }
    return buf;
}

static int mfa_fail_store(struct store *s, int rc, char *err, size_t errlen)
{
    store_rollback(s);
    if (err != NULL && errlen > 0 && err[0] == '\0') {
        db_errf(err, errlen, "the store is unavailable (%s); try again later", db_strerror(rc));
    }
    return rc;
}

int mfa_status_get(const struct mfa_ctx *m, const char *user, long long now, struct mfa_status *out)
{
    struct store_mfa row;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = store_mfa_get(m->store, user, &row);
    if (rc == DB_ERR_NOTFOUND) {
        return 0;
    }
    if (rc != 0) {
        return rc;
    }
    out->enrolled = row.active;
    out->pending = !row.active;
    out->enrolled_at = row.active ? row.confirmed_at : 0;
    out->recovery_left = row.active ? row.recovery_left : 0;
    out->failures = row.failures;
    out->locked_until = row.locked_until > now ? row.locked_until : 0;
    db_wipe(row.secret, sizeof(row.secret));
    return 0;
}

/* Unseals row's secret; when it fails, audits "mfa.unreadable" (in the open transaction). */
static int mfa_unseal(const struct mfa_ctx *m, const struct mfa_keys *k,
                      const struct store_mfa *row, long long now, unsigned char *secret, size_t cap,
                      size_t *len, char *err, size_t errlen)
{
    json_t *d = NULL;

    if (mfa_secret_unseal(k, row->user, row->secret, secret, cap, len) == 0 &&
        *len == MFA_SECRET_BYTES) {
        return 0;
    }
    d = mfa_details(m);
    if (d != NULL) {
        json_object_set_new(d, "reason", json_string("the stored secret does not unseal"));
    }
    mfa_audit(m, now, row->user, "mfa.unreadable", row->user, d);
    db_errf(err, errlen,
            "your second factor cannot be read on this gateway; ask a reviewer to reset it "
            "(mfa reset %s --reason TEXT), then enrol again",
            row->user);
    return DB_ERR_TAMPERED;
}

/* The gateway's key; a missing key refuses like an unreadable secret (never skips the factor). */
static int mfa_keys(const struct mfa_ctx *m, struct mfa_keys *k, char *err, size_t errlen)
{
    char why[512] = "";
    int rc = mfa_keys_load(m->cfg, k, why, sizeof(why));

    if (rc != 0) {
        log_msg(LOG_LVL_ERROR, "mfa.key", "%s", why);
        db_errf(err, errlen,
                "second factors cannot be checked on this gateway (its key is "
                "unreadable); try again later");
        return DB_ERR_UNAVAIL;
    }
    return 0;
}

int mfa_login_check(const struct mfa_ctx *m, const char *user, long long now, char *err,
                    size_t errlen)
{
    unsigned char secret[64];
    struct store_mfa row;
    struct mfa_keys k;
    size_t len = 0;
    int rc;

    rc = store_mfa_get(m->store, user, &row);
    if (rc != 0 || !row.active) {
        if (rc != 0 && rc != DB_ERR_NOTFOUND) {
            db_errf(err, errlen, "the store is unavailable (%s); try again later", db_strerror(rc));
            return rc;
        }
        return DB_ERR_NOTFOUND;
    }
    if ((rc = mfa_keys(m, &k, err, errlen)) != 0) {
        return rc;
    }
    rc = mfa_unseal(m, &k, &row, now, secret, sizeof(secret), &len, err, errlen);
    db_wipe(secret, sizeof(secret));
    mfa_keys_wipe(&k);
    return rc;
}

/*
 * Counts one refused answer inside the open transaction: the run of
 * failures grows, and the MFA_LOCK_FAILURES-th locks the user's codes.
 * *locked_until is set when this one locked.
 */
static int mfa_count_failure(const struct mfa_ctx *m, const struct store_mfa *row, long long now,
                             const char *why, long long *locked_until)
{
    int failures = row->failures + 1, rc;
    long long until = 0;
    json_t *d = mfa_details(m);

    *locked_until = 0;
    if (failures >= MFA_LOCK_FAILURES) {
        until = now + MFA_LOCK_SECONDS;
    }
    /* a lock starts a fresh run: after it, another MFA_LOCK_FAILURES tries */
    rc = store_mfa_set_counters(m->store, row->user, row->last_step, until ? 0 : failures, until);
    if (rc != 0) {
        json_decref(d);
        return rc;
    }
    if (d != NULL) {
        json_object_set_new(d, "reason", json_string(why));
        json_object_set_new(d, "failures", json_integer(failures));
    }
    if ((rc = mfa_audit(m, now, row->user, "mfa.failure", row->user, d)) != 0) {
        return rc;
    }
    if (until != 0) {
        d = mfa_details(m);
        if (d != NULL) {
            json_object_set_new(d, "locked_until", json_integer(until));
            json_object_set_new(d, "failures", json_integer(failures));
        }
        if ((rc = mfa_audit(m, now, row->user, "mfa.lock", row->user, d)) != 0) {
            return rc;
        }
        *locked_until = until;
    }
    return 0;
}

/*
 * What the user is told about a refused answer.  A code already used says
 * so (only someone holding a right code learns it); anything else is "wrong".
 */
static void mfa_refusal(const char *why, long long locked, char *err, size_t errlen)
{
    const char *what = "wrong verification code";

    if (why != NULL && strcmp(why, "code already used") == 0) {
        what = "verification code already used; wait for the next one";
    } else if (why != NULL && strncmp(why, "code outside", 12) == 0) {
        what = "wrong verification code (is the clock of your device right?)";
    }
    db_errf(err, errlen, "%s%s", what, locked ? "; codes are now locked for 15 minutes" : "");
}

/* The refusal of a locked user's answer: audited, not counted (a lock is not extended). */
static int mfa_refuse_locked(const struct mfa_ctx *m, const struct store_mfa *row, long long now,
                             char *err, size_t errlen)
{
    char until[32];
    json_t *d = mfa_details(m);

    if (d != NULL) {
        json_object_set_new(d, "reason", json_string("codes locked"));
        json_object_set_new(d, "locked_until", json_integer(row->locked_until));
    }
    mfa_audit(m, now, row->user, "mfa.failure", row->user, d);
    db_errf(err, errlen,
            "verification codes for %s are locked until %s after %d wrong codes in a row",
            row->user, mfa_clock(row->locked_until, until, sizeof(until)), MFA_LOCK_FAILURES);
    return DB_ERR_DENIED;
}

/*
 * Judges a TOTP answer against secret: 0 with *step, or the reason it is
 * refused in *why.
 */
static int mfa_judge_totp(const unsigned char *secret, size_t slen, const struct store_mfa *row,
                          const char *code, long long now, long long *step, const char **why)
{
    long long far = 0;
    int rc = mfa_totp_match(secret, slen, now, MFA_WINDOW, code, step);

    if (rc == 0 && *step <= row->last_step) {
        *why = "code already used";
        return DB_ERR_AUTH;
    }
    if (rc == 0) {
        return 0;
    }
    if (rc != DB_ERR_AUTH) {
        *why = "the code could not be checked";
        return rc;
    }
    *why = mfa_totp_match(secret, slen, now, MFA_SKEW_PROBE, code, &far) == 0
               ? "code outside the time window (clock skew?)"
               : "wrong code";
    return DB_ERR_AUTH;
}

/* A copy of the answer as a C string when it is short enough to be a code at all. */
static int mfa_answer(const char *code, size_t len, char *buf, size_t buflen)
{
    if (code == NULL || len >= buflen || memchr(code, '\0', len) != NULL) {
        return DB_ERR_INVALID;
    }
    memcpy(buf, code, len);
    buf[len] = '\0';
    return 0;
}

static int mfa_use_recovery(const struct mfa_ctx *m, const struct mfa_keys *k,
                            const struct store_mfa *row, const char *norm, long long now,
                            const char **why)
{
    char hash[STORE_MFA_HASH_LEN + 1];
    json_t *d = NULL;
    int rc;

    if ((rc = mfa_recovery_hash(k, row->user, norm, hash)) != 0) {
        *why = "the code could not be checked";
        return rc;
    }
    rc = store_mfa_recovery_use(m->store, row->user, hash, now);
    if (rc == DB_ERR_NOTFOUND) {
        *why = "wrong or already used recovery code";
        return DB_ERR_AUTH;
    }
    if (rc != 0) {
        return rc;
    }
    if ((rc = store_mfa_set_counters(m->store, row->user, row->last_step, 0, 0)) != 0) {
        return rc;
    }
    d = mfa_details(m);
    if (d != NULL) {
        json_object_set_new(d, "recovery_left", json_integer(row->recovery_left - 1));
    }
    return mfa_audit(m, now, row->user, "mfa.recovery", row->user, d);
}

int mfa_verify(const struct mfa_ctx *m, const char *user, const char *code, size_t len,
               long long now, enum mfa_kind *kind, char *err, size_t errlen)
{
    unsigned char secret[64];
    char answer[32], norm[MFA_RECOVERY_CHARS + 1];
    const char *why = NULL;
    struct store_mfa row;
    struct mfa_keys k;
    long long step = 0, locked = 0;
    size_t slen = 0;
    int rc, verdict = DB_ERR_AUTH;

    if (kind != NULL) {
        *kind = 0;
    }
    if (err != NULL && errlen > 0) {
        err[0] = '\0';
    }
    memset(&row, 0, sizeof(row));
    if ((rc = mfa_keys(m, &k, err, errlen)) != 0) {
        return rc;
    }
    if ((rc = store_begin(m->store)) != 0) {
        mfa_keys_wipe(&k);
        return mfa_fail_store(m->store, rc, err, errlen);
    }
    rc = store_mfa_get(m->store, user, &row);
    if (rc == DB_ERR_NOTFOUND || (rc == 0 && !row.active)) {
        store_rollback(m->store);
        db_errf(err, errlen, "%s has no second factor (enrol: ssh gw mfa enroll)", user);
        rc = DB_ERR_NOTFOUND;
        goto out;
    }
    if (rc != 0) {
        rc = mfa_fail_store(m->store, rc, err, errlen);
        goto out;
    }
    if (row.locked_until > now) {
        verdict = mfa_refuse_locked(m, &row, now, err, errlen);
        goto commit;
    }
    if ((verdict = mfa_unseal(m, &k, &row, now, secret, sizeof(secret), &slen, err, errlen)) != 0) {
        goto commit;
    }
    verdict = DB_ERR_AUTH; /* until the answer is judged good */
    if (mfa_answer(code, len, answer, sizeof(answer)) != 0) {
        why = "not a 6-digit code or a recovery code";
    } else if (mfa_totp_syntax(answer, len)) {
        verdict = mfa_judge_totp(secret, slen, &row, answer, now, &step, &why);
        if (verdict == 0) {
            rc = store_mfa_set_counters(m->store, user, step, 0, 0);
            if (kind != NULL) {
                *kind = MFA_KIND_TOTP;
            }
        }
    } else if (mfa_recovery_normalise(answer, len, norm) == 0) {
        verdict = mfa_use_recovery(m, &k, &row, norm, now, &why);
        if (verdict == 0 && kind != NULL) {
            *kind = MFA_KIND_RECOVERY;
        }
    } else {
        why = len == 0 ? "empty answer" : "not a 6-digit code or a recovery code";
    }
    if (verdict == DB_ERR_AUTH && why == NULL) {
        why = "not a 6-digit code or a recovery code";
    }
    if (verdict == DB_ERR_AUTH) {
        rc = mfa_count_failure(m, &row, now, why, &locked);
        mfa_refusal(why, locked, err, errlen);
    } else if (verdict != 0 && rc == 0) {
        rc = verdict;
    }
    if (rc != 0) {
        rc = mfa_fail_store(m->store, rc, err, errlen);
        goto out;
    }
commit:
    rc = store_commit(m->store, NULL, 0);
    if (rc != 0) {
        db_errf(err, errlen, "the store is unavailable (%s); try again later", db_strerror(rc));
        goto out;
    }
    if (locked != 0) {
        mfa_notify(m, "mfa.locked", now, user, user, "too many wrong verification codes", locked);
    }
    rc = verdict;
out:
    db_wipe(secret, sizeof(secret));
    db_wipe(answer, sizeof(answer));
    db_wipe(norm, sizeof(norm));
    db_wipe(row.secret, sizeof(row.secret));
    mfa_keys_wipe(&k);
    return rc;
}

/* otpauth://totp/ISSUER:USER?secret=...&issuer=ISSUER&algorithm=SHA1&digits=6&period=30 */
static int mfa_uri(const char *issuer, const char *user, const char *b32, char *uri, size_t len)
{
    char enc[3 * POLICY_MFA_ISSUER_MAX + 1];
    size_t o = 0;
    int n;

    for (size_t i = 0; issuer[i] != '\0' && o + 4 < sizeof(enc); i++) {
        unsigned char c = (unsigned char)issuer[i];

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            enc[o++] = (char)c;
        } else {
            o += (size_t)snprintf(enc + o, sizeof(enc) - o, "%%%02X", c);
        }
    }
    enc[o] = '\0';
    /* user names are [a-z_][a-z0-9_.-]*: nothing to escape */
    n = snprintf(uri, len,
                 "otpauth://totp/%s:%s?secret=%s&issuer=%s&algorithm=SHA1&digits=%d&period=%d", enc,
                 user, b32, enc, MFA_DIGITS, MFA_STEP_SECONDS);
    return n > 0 && (size_t)n < len ? 0 : DB_ERR_INVALID;
}

int mfa_enroll(const struct mfa_ctx *m, const char *user, const char *issuer, long long now,
               char *uri, size_t urilen, char *err, size_t errlen)
{
    unsigned char secret[MFA_SECRET_BYTES];
    char sealed[STORE_MFA_SECRET_MAX + 1], b32[MFA_SECRET_BYTES * 8 / 5 + 2];
    struct mfa_keys k;
    int rc;

    if (uri != NULL && urilen > 0) {
        uri[0] = '\0';
    }
    if ((rc = mfa_keys(m, &k, err, errlen)) != 0) {
        return rc;
    }
    if (getrandom(secret, sizeof(secret), 0) != (ssize_t)sizeof(secret)) {
        db_errf(err, errlen, "no randomness for a new secret; try again later");
        rc = DB_ERR_IO;
        goto out;
    }
    if ((rc = mfa_secret_seal(&k, user, secret, sizeof(secret), sealed, sizeof(sealed))) != 0) {
        db_errf(err, errlen, "cannot seal a new secret (%s)", db_strerror(rc));
        goto out;
    }
    mfa_base32_encode(secret, sizeof(secret), b32);
    if ((rc = mfa_uri(issuer, user, b32, uri, urilen)) != 0) {
        db_errf(err, errlen, "the otpauth URI does not fit");
        goto out;
    }
    if ((rc = store_begin(m->store)) != 0) {
        rc = mfa_fail_store(m->store, rc, err, errlen);
        goto out;
    }
    rc = store_mfa_put_pending(m->store, user, sealed, now);
    if (rc == DB_ERR_EXISTS) {
        store_rollback(m->store);
        db_errf(err, errlen,
                "%s is already enrolled; to enrol again a reviewer must first run: mfa reset %s "
                "--reason TEXT",
                user, user);
        goto out;
    }
    if (rc != 0 || (rc = mfa_audit(m, now, user, "mfa.enroll", user, mfa_details(m))) != 0 ||
        (rc = store_commit(m->store, NULL, 0)) != 0) {
        rc = mfa_fail_store(m->store, rc, err, errlen);
        goto out;
    }
out:
    if (rc != 0 && uri != NULL && urilen > 0) {
        db_wipe(uri, urilen);
    }
    db_wipe(secret, sizeof(secret));
    db_wipe(b32, sizeof(b32));
    mfa_keys_wipe(&k);
    return rc;
}

/*
 * Ten fresh codes into codes[], their hashes into the store (inside the open
 * transaction).  Codes are drawn distinct before anything is written: a
 * repeat among 2^50 is next to impossible, and a write that failed on a
 * duplicate would end the whole transaction on PostgreSQL.
 */
static int mfa_recovery_issue(const struct mfa_ctx *m, const struct mfa_keys *k, const char *user,
                              char codes[MFA_RECOVERY_CODES][MFA_RECOVERY_LEN + 1])
{
    char norm[MFA_RECOVERY_CODES][MFA_RECOVERY_CHARS + 1], hash[STORE_MFA_HASH_LEN + 1];
    int rc = 0;

    for (int i = 0; i < MFA_RECOVERY_CODES; i++) {
        int again = 1;

        while (again) {
            if ((rc = mfa_random_base32(norm[i], MFA_RECOVERY_CHARS)) != 0) {
                goto out;
            }
            again = 0;
            for (int j = 0; j < i; j++) {
                again |= strcmp(norm[i], norm[j]) == 0;
            }
        }
    }
    for (int i = 0; i < MFA_RECOVERY_CODES; i++) {
        if ((rc = mfa_recovery_hash(k, user, norm[i], hash)) != 0 ||
            (rc = store_mfa_recovery_add(m->store, user, hash)) != 0) {
            goto out;
        }
        snprintf(codes[i], MFA_RECOVERY_LEN + 1, "%.5s-%.5s", norm[i], norm[i] + 5);
    }
out:
    db_wipe(norm, sizeof(norm));
    return rc;
}

int mfa_confirm(const struct mfa_ctx *m, const char *user, const char *code, long long now,
                char codes[MFA_RECOVERY_CODES][MFA_RECOVERY_LEN + 1], char *err, size_t errlen)
{
    unsigned char secret[64];
    const char *why = NULL;
    struct store_mfa row;
    struct mfa_keys k;
    long long step = 0, locked = 0;
    size_t slen = 0, len = code != NULL ? strlen(code) : 0;
    int rc, verdict = DB_ERR_AUTH;
    json_t *d = NULL;

    memset(codes, 0, sizeof(char[MFA_RECOVERY_CODES][MFA_RECOVERY_LEN + 1]));
    memset(&row, 0, sizeof(row));
    if ((rc = mfa_keys(m, &k, err, errlen)) != 0) {
        return rc;
    }
    if ((rc = store_begin(m->store)) != 0) {
        mfa_keys_wipe(&k);
        return mfa_fail_store(m->store, rc, err, errlen);
    }
    rc = store_mfa_get(m->store, user, &row);
    if (rc == DB_ERR_NOTFOUND || (rc == 0 && row.active)) {
        store_rollback(m->store);
        if (rc == 0) {
            db_errf(err, errlen, "%s is already enrolled", user);
            rc = DB_ERR_EXISTS;
        } else {
            db_errf(err, errlen, "no enrolment to confirm; start one with: mfa enroll");
        }
        goto out;
    }
    if (rc != 0) {
        rc = mfa_fail_store(m->store, rc, err, errlen);
        goto out;
    }
    if (row.locked_until > now) {
        verdict = mfa_refuse_locked(m, &row, now, err, errlen);
        goto commit;
    }
    if ((verdict = mfa_unseal(m, &k, &row, now, secret, sizeof(secret), &slen, err, errlen)) != 0) {
        goto commit;
    }
    verdict = DB_ERR_AUTH; /* until the answer is judged good */
    if (!mfa_totp_syntax(code, len)) {
        why = len == 0 ? "empty answer" : "not a 6-digit code";
    } else {
        verdict = mfa_judge_totp(secret, slen, &row, code, now, &step, &why);
    }
    if (verdict == 0) {
        if ((rc = store_mfa_activate(m->store, user, now, step)) == 0 &&
            (rc = mfa_recovery_issue(m, &k, user, codes)) == 0 && (d = mfa_details(m)) != NULL) {
            json_object_set_new(d, "recovery_codes", json_integer(MFA_RECOVERY_CODES));
            rc = mfa_audit(m, now, user, "mfa.enrolled", user, d);
        } else if (rc == 0) {
            rc = DB_ERR_NOMEM;
        }
        if (rc != 0) {
            rc = mfa_fail_store(m->store, rc, err, errlen);
            goto out;
        }
    } else if (verdict == DB_ERR_AUTH) {
        if ((rc = mfa_count_failure(m, &row, now, why, &locked)) != 0) {
            rc = mfa_fail_store(m->store, rc, err, errlen);
            goto out;
        }
        mfa_refusal(why, locked, err, errlen);
    } else {
        rc = mfa_fail_store(m->store, verdict, err, errlen);
        goto out;
    }
commit:
    if ((rc = store_commit(m->store, NULL, 0)) != 0) {
        db_errf(err, errlen, "the store is unavailable (%s); try again later", db_strerror(rc));
        goto out;
    }
    if (verdict == 0) {
        mfa_notify(m, "mfa.enrolled", now, user, user, NULL, 0);
    }
    if (locked != 0) {
        mfa_notify(m, "mfa.locked", now, user, user, "too many wrong verification codes", locked);
    }
    rc = verdict;
out:
    if (rc != 0) {
        db_wipe(codes, sizeof(char[MFA_RECOVERY_CODES][MFA_RECOVERY_LEN + 1]));
    }
    db_wipe(secret, sizeof(secret));
    db_wipe(row.secret, sizeof(row.secret));
    mfa_keys_wipe(&k);
    return rc;
}

int mfa_reset(const struct mfa_ctx *m, const char *actor, const char *user, const char *reason,
              long long now, char *err, size_t errlen)
{
    struct store_mfa row;
    json_t *d = NULL;
    int rc;

    if ((rc = store_begin(m->store)) != 0) {
        return mfa_fail_store(m->store, rc, err, errlen);
    }
    rc = store_mfa_get(m->store, user, &row);
    db_wipe(row.secret, sizeof(row.secret));
    if (rc == DB_ERR_NOTFOUND) {
        store_rollback(m->store);
        db_errf(err, errlen, "%s has no second factor to reset", user);
        return rc;
    }
    if (rc != 0 || (rc = store_mfa_delete(m->store, user)) != 0) {
        return mfa_fail_store(m->store, rc, err, errlen);
    }
    d = mfa_details(m);
    if (d != NULL) {
        json_object_set_new(d, "reason", json_string(reason));
        json_object_set_new(d, "was", json_string(row.active ? "enrolled" : "pending"));
    }
    if ((rc = mfa_audit(m, now, actor, "mfa.reset", user, d)) != 0 ||
        (rc = store_commit(m->store, NULL, 0)) != 0) {
        return mfa_fail_store(m->store, rc, err, errlen);
    }
    mfa_notify(m, "mfa.reset", now, actor, user, reason, 0);
    return 0;
}

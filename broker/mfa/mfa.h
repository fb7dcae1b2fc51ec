/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The second factor (DESIGN.md, "Second factor (TOTP)"): TOTP codes per
 * RFC 6238 (HMAC-SHA-1, 30 s steps, 6 digits, one step either side) checked
 * with liboath, and single-use recovery codes.
 *
 *   secret.c  the key under keys_dir (mfa.key), sealing each secret with
 *             AES-256-GCM bound to its user, keyed hashes of recovery codes
 *   totp.c    what a code looks like, and checking one against a secret
 *   mfa.c     the rules: enrol, confirm, verify (once-only, lockout), reset,
 *             each audited, enrolment and reset notified
 *   qr.c      the otpauth:// URI as a QR code for a terminal (libqrencode)
 *
 * Rules every caller gets from mfa_verify (the login prompt, and any other
 * front end such as a web login form):
 *   - a code is accepted once: its step must be later than the last step
 *     accepted for that user;
 *   - MFA_LOCK_FAILURES wrong codes in a row (wrong, reused, out of the
 *     window, or not a code at all) lock the user's codes, recovery codes
 *     too, for MFA_LOCK_SECONDS; the lock is audited and notified;
 *   - a recovery code is spent by its use;
 *   - a secret that cannot be unsealed refuses (DB_ERR_TAMPERED), never
 *     lets anyone through.
 *
 * Every function reads the time from its caller (now, unix seconds) and
 * returns 0 or a negative DB_ERR_*, with a one-line reason the user may see
 * in err.
 */
#ifndef DRAWBRIDGE_MFA_H
#define DRAWBRIDGE_MFA_H

#include <stddef.h>

#include "broker.h"

#define MFA_DIGITS 6
#define MFA_STEP_SECONDS 30
#define MFA_WINDOW 1 /* steps accepted either side of now */
#define MFA_SECRET_BYTES 20
#define MFA_LOCK_FAILURES 5
#define MFA_LOCK_SECONDS (15 * 60)
#define MFA_RECOVERY_CODES 10
#define MFA_RECOVERY_CHARS 10 /* base32 characters: 50 bits */
#define MFA_RECOVERY_LEN 11   /* as shown: "abcde-fghij" */
#define MFA_URI_MAX 512
#define MFA_KEY_FILE "mfa.key"

/* What the functions work with; none of it is owned. */
struct mfa_ctx {
    const struct config *cfg; /* keys_path(cfg, MFA_KEY_FILE) */
    struct store *store;
    const struct access_notify *notify; /* NULL: no notifications */
    const char *peer;                   /* for the audit; may be NULL */
    const char *via;                    /* for the audit and notifications; NULL: not said */
};

struct mfa_status {
    int enrolled;          /* confirmed: codes are asked at login */
    int pending;           /* `mfa enroll` ran, `mfa confirm` not yet */
    long long enrolled_at; /* 0 unless enrolled */
    int recovery_left;
    int failures;           /* wrong codes in a row */
    long long locked_until; /* > now while locked; else 0 */
};

/* The user's state.  A user who never enrolled reads all zeros (and 0 is returned). */
int mfa_status_get(const struct mfa_ctx *m, const char *user, long long now,
                   struct mfa_status *out);

/*
 * For the login: 0 when the user is enrolled and the secret can be
 * unsealed (a prompt makes sense), DB_ERR_NOTFOUND when not enrolled (no
 * prompt), DB_ERR_TAMPERED when the secret or the key cannot be read (the
 * login must be refused: audited "mfa.unreadable"), another code when the
 * store failed.
 */
int mfa_login_check(const struct mfa_ctx *m, const char *user, long long now, char *err,
                    size_t errlen);

enum mfa_kind { MFA_KIND_TOTP = 1, MFA_KIND_RECOVERY = 2 };

/*
 * Checks one answer (code, len bytes, any bytes at all) for an enrolled
 * user, under the rules above, in one transaction.  0 when accepted (*kind
 * says which kind, may be NULL).  Refusals, each audited ("mfa.failure" with
 * the reason and the run of failures; "mfa.lock" when this one locks):
 *   DB_ERR_AUTH     wrong, reused, out of the window, not a code
 *   DB_ERR_DENIED   the user's codes are locked
 *   DB_ERR_NOTFOUND not enrolled
 *   DB_ERR_TAMPERED the secret cannot be unsealed
 * A used recovery code is audited ("mfa.recovery", with how many are left).
 *
 * This is the one function a front end other than the SSH login (the web
 * console's login form) calls to check a user's code.
 */
int mfa_verify(const struct mfa_ctx *m, const char *user, const char *code, size_t len,
               long long now, enum mfa_kind *kind, char *err, size_t errlen);

/*
 * `mfa enroll`: a new secret for user, sealed and stored as a pending
 * enrolment ("mfa.enroll"), and its otpauth://totp/ URI (issuer from the
 * policy) in uri.  DB_ERR_EXISTS when the user is already enrolled (a
 * reviewer must reset first).  Enrolling again while pending replaces the
 * pending secret.
 */
int mfa_enroll(const struct mfa_ctx *m, const char *user, const char *issuer, long long now,
               char *uri, size_t urilen, char *err, size_t errlen);
/*
 * `mfa confirm CODE`: a code of the pending secret (same rules as
 * mfa_verify, lockout included) makes the enrolment active and returns
 * MFA_RECOVERY_CODES fresh recovery codes, which are stored only as hashes
 * ("mfa.enrolled", notified).  DB_ERR_NOTFOUND when nothing is pending,
 * DB_ERR_EXISTS when already enrolled.
 */
int mfa_confirm(const struct mfa_ctx *m, const char *user, const char *code, long long now,
                char codes[MFA_RECOVERY_CODES][MFA_RECOVERY_LEN + 1], char *err, size_t errlen);
/*
 * `mfa reset USER --reason TEXT`, by actor (the caller checks that actor
 * is a reviewer): the enrolment and its recovery codes are removed
 * ("mfa.reset", notified); the user enrols again.  DB_ERR_NOTFOUND when
 * user has none.
 */
int mfa_reset(const struct mfa_ctx *m, const char *actor, const char *user, const char *reason,
              long long now, char *err, size_t errlen);

/* ---- gate.c: what a login without a code may do ---- */

/*
 * The policy's two rules, for every front end (the shell, target sessions,
 * the web console):
 *   - a user mfa.require names who has not enrolled may do nothing but
 *     enrol (and look: help, whoami, mfa): pass action MFA_GATE_ANY for
 *     everything else;
 *   - an action listed in mfa.actions (one POLICY_MFA_* bit) needs a login
 *     that gave a code (verified).
 * object names what is acted on, for the audit and the message: the target
 * for POLICY_MFA_PROTECTED, else the command.  0 to go on; DB_ERR_DENIED
 * with the one-line refusal in err (audited "access.refused"), e.g.
 * "approve needs a verification code (enrol: ssh gw mfa enroll)".  The
 * store is only asked when the policy requires who to enrol; when it
 * cannot be asked the answer is a refusal (DB_ERR_UNAVAIL).
 */
#define MFA_GATE_ANY 0u
int mfa_gate(const struct mfa_ctx *m, const struct policy *p, const struct policy_subject *who,
             unsigned action, const char *object, int verified, char *err, size_t errlen);

/* ---- totp.c ---- */

/* 1 when s (len bytes) is exactly MFA_DIGITS ASCII digits. */
int mfa_totp_syntax(const char *s, size_t len);
/*
 * Checks code (MFA_DIGITS digits) against secret at now within window
 * steps either side.  0 with *step the matching step, or DB_ERR_AUTH.
 */
int mfa_totp_match(const unsigned char *secret, size_t secretlen, long long now, int window,
                   const char *code, long long *step);
/* The code of secret at step (for tests).  out: MFA_DIGITS + 1 bytes. */
int mfa_totp_code(const unsigned char *secret, size_t secretlen, long long step, char *out);

/* ---- qr.c ---- */

/*
 * text as a QR code drawn with Unicode half blocks, black on white, lines
 * ending "\n"; for a terminal that shows UTF-8.  Caller frees *out.
 */
int mfa_qr_render(const char *text, char **out);

#endif

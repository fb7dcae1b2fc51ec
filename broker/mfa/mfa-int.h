/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to broker/mfa/: the keys derived from keys_dir/mfa.key and what
 * is done with them (secret.c).  Exposed to the unit tests, nothing else.
 */
#ifndef DRAWBRIDGE_MFA_INT_H
#define DRAWBRIDGE_MFA_INT_H

#include "mfa.h"

/*
 * Two keys derived from the 32-byte file with HMAC-SHA256 under fixed
 * labels, so that the key sealing secrets is never the key hashing codes.
 */
struct mfa_keys {
    unsigned char seal[32];
    unsigned char recovery[32];
};

/* DB_ERR_IO / DB_ERR_INVALID with the path in err when the key is missing or not 32 bytes. */
int mfa_keys_load(const struct config *cfg, struct mfa_keys *k, char *err, size_t errlen);
/* The same from 32 bytes in memory (tests). */
void mfa_keys_derive(const unsigned char raw[32], struct mfa_keys *k);
void mfa_keys_wipe(struct mfa_keys *k);

/*
 * "v1:" then hex of a random 12-byte nonce, the AES-256-GCM ciphertext of
 * secret and its 16-byte tag; the additional data binds it to user, so a
 * sealed secret copied to another user's row does not open.  out holds
 * STORE_MFA_SECRET_MAX + 1 bytes.
 */
int mfa_secret_seal(const struct mfa_keys *k, const char *user, const unsigned char *secret,
                    size_t len, char *out, size_t outlen);
/* 0 with *len bytes in secret (cap bytes), or DB_ERR_TAMPERED (bad form, wrong key or user). */
int mfa_secret_unseal(const struct mfa_keys *k, const char *user, const char *sealed,
                      unsigned char *secret, size_t cap, size_t *len);

/*
 * A recovery code as typed ("ABCDE-fghij", "abcdefghij", spaces around)
 * into its MFA_RECOVERY_CHARS lowercase characters.  0 or DB_ERR_INVALID.
 */
int mfa_recovery_normalise(const char *in, size_t len, char out[MFA_RECOVERY_CHARS + 1]);
/* hex (STORE_MFA_HASH_LEN + 1 bytes) = HMAC-SHA256(recovery key, user NUL code). */
int mfa_recovery_hash(const struct mfa_keys *k, const char *user, const char *norm,
                      char hex[STORE_MFA_HASH_LEN + 1]);
/* n random characters of [a-z2-7] and a NUL. */
int mfa_random_base32(char *out, size_t n);
/* RFC 4648 base32 without padding (upper case): out holds len * 8 / 5 + 2 bytes. */
void mfa_base32_encode(const unsigned char *in, size_t len, char *out);

#endif

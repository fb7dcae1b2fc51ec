/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The certificate authority's key, keys_dir/user_ca: an unencrypted Ed25519
 * key in OpenSSH's own file format ("openssh-key-v1", openssh-portable's
 * PROTOCOL.key), so that an operator can also use it with ssh-keygen (-y to
 * show the public key, -s to sign by hand in an emergency).  Its public half
 * is kept beside it as user_ca.pub, readable by the gateway's account, which
 * may not read user_ca itself.
 *
 * Only the signer loads the private key, and it reads the file afresh for
 * every certificate: a replaced key (rotation) is used at once, and an
 * unreadable one refuses the next certificate instead of signing with a
 * copy that lingers in memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "signer.h"

#define CAKEY_MAGIC "openssh-key-v1"
#define CAKEY_BEGIN "-----BEGIN OPENSSH PRIVATE KEY-----"
#define CAKEY_END "-----END OPENSSH PRIVATE KEY-----"
#define CAKEY_FILE_MAX 16384

struct cakey {
    EVP_PKEY *pkey;
    unsigned char pk[CERTKEY_PK_LEN];
};

void cakey_free(struct cakey *k)
{
    if (k == NULL) {
        return;
    }
    EVP_PKEY_free(k->pkey);
    free(k);
}

const unsigned char *cakey_public(const struct cakey *k)
{
    return k->pk;
}

int cakey_sign(const struct cakey *k, const unsigned char *tbs, size_t len,
               unsigned char sig[CERTKEY_SIG_LEN])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t siglen = CERTKEY_SIG_LEN;
    int r = DB_ERR_INTERNAL;

    if (ctx == NULL) {
        return DB_ERR_NOMEM;
    }
    /* Ed25519 signs the message itself (no digest): one-shot EVP_DigestSign */
    if (EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pkey) == 1 &&
        EVP_DigestSign(ctx, sig, &siglen, tbs, len) == 1 && siglen == CERTKEY_SIG_LEN) {
        r = 0;
    }
    EVP_MD_CTX_free(ctx);
    return r;
}

int cakey_verify(const unsigned char pk[CERTKEY_PK_LEN], const unsigned char *msg, size_t len,
                 const unsigned char sig[CERTKEY_SIG_LEN])
{
    EVP_PKEY *pub = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pk, CERTKEY_PK_LEN);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int r = DB_ERR_TAMPERED;

    if (pub == NULL || ctx == NULL) {
        r = DB_ERR_NOMEM;
    } else if (EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pub) == 1 &&
               EVP_DigestVerify(ctx, sig, CERTKEY_SIG_LEN, msg, len) == 1) {
        r = 0;
    }
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(pub);
    return r;
}

/* ---- the public key as one line ---- */

/* The SSH public key blob: string "ssh-ed25519", string pk. */
static void cakey_pub_blob(struct wire_w *w, const unsigned char pk[CERTKEY_PK_LEN])
{
    wire_put_cstr(w, CERTKEY_CA_TYPE);
    wire_put_string(w, pk, CERTKEY_PK_LEN);
}

int cakey_pub_line(const unsigned char pk[CERTKEY_PK_LEN], const char *comment, char *buf,
                   size_t buflen)
{
    struct wire_w w;
    unsigned char b64[128];
    int n, r = DB_ERR_INTERNAL;

    wire_w_init(&w);
    cakey_pub_blob(&w, pk);
    if (w.bad || w.len > 90) {
        goto out;
    }
    EVP_EncodeBlock(b64, w.p, (int)w.len);
    n = snprintf(buf, buflen, "%s %s%s%s", CERTKEY_CA_TYPE, (char *)b64,
                 comment != NULL && comment[0] != '\0' ? " " : "", comment != NULL ? comment : "");
    r = n > 0 && (size_t)n < buflen ? 0 : DB_ERR_INVALID;
out:
    wire_w_free(&w);
    return r;
}

/* Decodes base64 (no whitespace) into out; *outlen gets the decoded length. */
static int cakey_b64_decode(const char *s, size_t len, unsigned char *out, size_t outcap,
                            size_t *outlen)
{
    int n = 0, pad = 0;

    *outlen = 0;
    if (len == 0 || len % 4 != 0 || len / 4 * 3 > outcap || len > INT32_MAX) {
        return DB_ERR_INVALID;
    }
    n = EVP_DecodeBlock(out, (const unsigned char *)s, (int)len);
    if (n < 0) {
        return DB_ERR_INVALID;
    }
    pad = (s[len - 1] == '=') + (len > 1 && s[len - 2] == '=');
    *outlen = (size_t)n - (size_t)pad;
    return 0;
}

int cakey_parse_pub_line(const char *line, unsigned char pk[CERTKEY_PK_LEN])
{
    unsigned char blob[128];
    char type[32];
    const char *b = NULL, *e = NULL;
    struct wire_r r;
    size_t n = 0, tlen = 0;

    memset(pk, 0, CERTKEY_PK_LEN);
    tlen = strcspn(line, " \t");
    if (tlen == 0 || tlen >= sizeof(type)) {
        return DB_ERR_INVALID;
    }
    memcpy(type, line, tlen);
    type[tlen] = '\0';
    if (strcmp(type, CERTKEY_CA_TYPE) != 0) {
        return DB_ERR_INVALID;
    }
    b = line + tlen;
    b += strspn(b, " \t");
    e = b + strcspn(b, " \t\r\n");
    if (cakey_b64_decode(b, (size_t)(e - b), blob, sizeof(blob), &n) != 0) {
        return DB_ERR_INVALID;
    }
    wire_r_init(&r, blob, n);
    if (wire_get_cstr(&r, type, sizeof(type)) != 0 || strcmp(type, CERTKEY_CA_TYPE) != 0 ||
        wire_get_fixed(&r, pk, CERTKEY_PK_LEN) != 0 || wire_r_done(&r) != 0) {
        memset(pk, 0, CERTKEY_PK_LEN);
        return DB_ERR_INVALID;
    }
    return 0;
}

/* Reads a small regular file (no links) into a NUL-terminated buffer.  Caller frees. */
static int cakey_slurp(const char *path, char **out, size_t *outlen, char *err, size_t errlen)
{
    struct stat st;
    char *buf = NULL;
    ssize_t n = 0;
    int fd = -1, r = DB_ERR_IO;

    *out = NULL;
    *outlen = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
        r = errno == ENOENT ? DB_ERR_NOTFOUND : DB_ERR_IO;
        db_errf(err, errlen, "%s: %s", path, strerror(errno));
        return r;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
        st.st_size > CAKEY_FILE_MAX) {
        db_errf(err, errlen, "%s: not a key file", path);
        r = DB_ERR_INVALID;
        goto out;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        r = DB_ERR_NOMEM;
        goto out;
    }
    n = read(fd, buf, (size_t)st.st_size);
    if (n != (ssize_t)st.st_size) {
        db_errf(err, errlen, "%s: short read", path);
        goto out;
    }
    buf[n] = '\0';
    *out = buf;
    *outlen = (size_t)n;
    buf = NULL;
    r = 0;
out:
    if (buf != NULL) {
        db_wipe(buf, (size_t)st.st_size + 1);
        free(buf);
    }
    close(fd);
    return r;
}

int cakey_read_pub(const char *path, unsigned char pk[CERTKEY_PK_LEN], char *err, size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    int r = cakey_slurp(path, &text, &len, err, errlen);

    if (r != 0) {
        return r;
    }
    if (cakey_parse_pub_line(text, pk) != 0) {
        db_errf(err, errlen, "%s: not an ssh-ed25519 public key", path);
        r = DB_ERR_INVALID;
    }
    free(text);
    return r;
}

/* ---- the private key file ---- */

/*
 * The private section of an unencrypted openssh-key-v1 file holding one
 * Ed25519 key: two equal check words, the key type, the public key, the
 * 64-byte private key (seed then public key), a comment and padding.
 */
static int cakey_parse_private(struct wire_r *r, const unsigned char pub[CERTKEY_PK_LEN],
                               unsigned char seed[32])
{
    const unsigned char *p = NULL;
    unsigned char pk[CERTKEY_PK_LEN];
    char type[32];
    uint32_t c1 = 0, c2 = 0;
    size_t n = 0;

    if (wire_get_u32(r, &c1) != 0 || wire_get_u32(r, &c2) != 0 || c1 != c2 ||
        wire_get_cstr(r, type, sizeof(type)) != 0 || strcmp(type, CERTKEY_CA_TYPE) != 0 ||
        wire_get_fixed(r, pk, sizeof(pk)) != 0 || memcmp(pk, pub, sizeof(pk)) != 0 ||
        wire_get_string(r, &p, &n, 64) != 0 || n != 64 ||
        memcmp(p + 32, pub, CERTKEY_PK_LEN) != 0) {
        return DB_ERR_INVALID;
    }
    memcpy(seed, p, 32);
    if (wire_get_string(r, &p, &n, 1024) != 0) { /* comment */
        return DB_ERR_INVALID;
    }
    /* padding: 1, 2, 3 ... up to the cipher block size (8 for "none") */
    for (size_t i = 1; r->off < r->len; i++) {
        uint8_t b = 0;

        if (i > 8 || wire_get_u8(r, &b) != 0 || b != i) {
            return DB_ERR_INVALID;
        }
    }
    return 0;
}

/* The base64 between the armour lines, whitespace removed, into *out (caller frees). */
static int cakey_dearmour(const char *text, size_t len, unsigned char **out, size_t *outlen)
{
    const char *b = strstr(text, CAKEY_BEGIN), *e = NULL;
    char *b64 = NULL;
    size_t n = 0;
    int r = DB_ERR_INVALID;

    *out = NULL;
    if (b == NULL || strlen(text) != len) {
        return DB_ERR_INVALID;
    }
    b += strlen(CAKEY_BEGIN);
    e = strstr(b, CAKEY_END);
    if (e == NULL) {
        return DB_ERR_INVALID;
    }
    b64 = malloc((size_t)(e - b) + 1);
    *out = malloc((size_t)(e - b) + 1);
    if (b64 == NULL || *out == NULL) {
        r = DB_ERR_NOMEM;
        goto out;
    }
    for (const char *p = b; p < e; p++) {
        if (*p != '\n' && *p != '\r' && *p != ' ' && *p != '\t') {
            b64[n++] = *p;
        }
    }
    r = cakey_b64_decode(b64, n, *out, (size_t)(e - b) + 1, outlen);
out:
    if (b64 != NULL) {
        db_wipe(b64, (size_t)(e - b) + 1);
        free(b64);
    }
    if (r != 0 && *out != NULL) {
        db_wipe(*out, (size_t)(e - b) + 1);
        free(*out);
        *out = NULL;
    }
    return r;
}

int cakey_parse(const char *text, size_t len, struct cakey **out, char *why, size_t whylen)
{
    unsigned char *bin = NULL, seed[32], pub[CERTKEY_PK_LEN], check[CERTKEY_PK_LEN];
    const unsigned char *p = NULL;
    char cipher[32], kdf[32];
    struct wire_r r, pr;
    struct cakey *k = NULL;
    size_t binlen = 0, n = 0, mlen = sizeof(CAKEY_MAGIC), clen = sizeof(check);
    uint32_t nkeys = 0;
    int rc = DB_ERR_INVALID;

    *out = NULL;
    if (cakey_dearmour(text, len, &bin, &binlen) != 0) {
        db_errf(why, whylen, "not an OpenSSH private key file");
        goto out;
    }
    if (binlen < mlen || memcmp(bin, CAKEY_MAGIC, mlen) != 0) {
        db_errf(why, whylen, "not an openssh-key-v1 private key");
        goto out;
    }
    wire_r_init(&r, bin + mlen, binlen - mlen);
    if (wire_get_cstr(&r, cipher, sizeof(cipher)) != 0 || wire_get_cstr(&r, kdf, sizeof(kdf)) != 0 ||
        wire_get_string(&r, &p, &n, 1024) != 0 || wire_get_u32(&r, &nkeys) != 0) {
        db_errf(why, whylen, "damaged private key file");
        goto out;
    }
    if (strcmp(cipher, "none") != 0 || strcmp(kdf, "none") != 0) {
        db_errf(why, whylen, "the key is encrypted (%s); the signer needs it unencrypted", cipher);
        goto out;
    }
    if (nkeys != 1) {
        db_errf(why, whylen, "the file holds %u keys, not one", (unsigned)nkeys);
        goto out;
    }
    if (wire_get_string(&r, &p, &n, 1024) != 0) {
        db_errf(why, whylen, "damaged private key file");
        goto out;
    }
    wire_r_init(&pr, p, n);
    if (wire_get_cstr(&pr, cipher, sizeof(cipher)) != 0 || strcmp(cipher, CERTKEY_CA_TYPE) != 0 ||
        wire_get_fixed(&pr, pub, sizeof(pub)) != 0 || wire_r_done(&pr) != 0) {
        db_errf(why, whylen, "not an Ed25519 key (the signer needs ssh-ed25519)");
        goto out;
    }
    if (wire_get_string(&r, &p, &n, 4096) != 0 || wire_r_done(&r) != 0) {
        db_errf(why, whylen, "damaged private key file");
        goto out;
    }
    wire_r_init(&pr, p, n);
    if (cakey_parse_private(&pr, pub, seed) != 0) {
        db_errf(why, whylen, "damaged private key (check words, key or padding)");
        goto out;
    }
    k = calloc(1, sizeof(*k));
    if (k == NULL) {
        rc = DB_ERR_NOMEM;
        goto out;
    }
    k->pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, sizeof(seed));
    /* the public key written in the file must be the one the seed makes */
    if (k->pkey == NULL || EVP_PKEY_get_raw_public_key(k->pkey, check, &clen) != 1 ||
        clen != sizeof(check) || memcmp(check, pub, sizeof(pub)) != 0) {
        db_errf(why, whylen, "the private key does not match its public key");
        goto out;
    }
    memcpy(k->pk, pub, sizeof(pub));
    *out = k;
    k = NULL;
    rc = 0;
out:
    db_wipe(seed, sizeof(seed));
    if (bin != NULL) {
        db_wipe(bin, binlen);
        free(bin);
    }
    cakey_free(k);
    return rc;
}

int cakey_load(const char *path, struct cakey **out, char *err, size_t errlen)
{
    char *text = NULL, why[160];
    size_t len = 0;
    int r = DB_ERR_INTERNAL;

    *out = NULL;
    if ((r = cakey_slurp(path, &text, &len, err, errlen)) != 0) {
        return r;
    }
    if ((r = cakey_parse(text, len, out, why, sizeof(why))) != 0) {
        db_errf(err, errlen, "%s: %s", path, why);
    }
    db_wipe(text, len);
    free(text);
    return r;
}

/* ---- generating a key ---- */

/* The file's text for seed/pub: armour, base64 in lines of 70 characters. */
static int cakey_format(const unsigned char seed[32], const unsigned char pub[CERTKEY_PK_LEN],
                        const char *comment, char **out)
{
    struct wire_w w, priv, pubblob;
    unsigned char sk[64], *b64 = NULL;
    uint32_t check = 0;
    size_t b64len = 0, pos = 0;
    char *text = NULL;
    int r = DB_ERR_NOMEM;

    *out = NULL;
    wire_w_init(&w);
    wire_w_init(&priv);
    wire_w_init(&pubblob);
    if (getrandom(&check, sizeof(check), 0) != (ssize_t)sizeof(check)) {
        r = DB_ERR_IO;
        goto out;
    }
    memcpy(sk, seed, 32);
    memcpy(sk + 32, pub, 32);
    cakey_pub_blob(&pubblob, pub);
    wire_put_u32(&priv, check);
    wire_put_u32(&priv, check);
    wire_put_cstr(&priv, CERTKEY_CA_TYPE);
    wire_put_string(&priv, pub, CERTKEY_PK_LEN);
    wire_put_string(&priv, sk, sizeof(sk));
    wire_put_cstr(&priv, comment);
    for (uint8_t i = 1; priv.len % 8 != 0; i++) {
        wire_put_u8(&priv, i);
    }
    wire_put_raw(&w, CAKEY_MAGIC, sizeof(CAKEY_MAGIC));
    wire_put_cstr(&w, "none");
    wire_put_cstr(&w, "none");
    wire_put_string(&w, "", 0);
    wire_put_u32(&w, 1);
    wire_put_string(&w, pubblob.p, pubblob.len);
    wire_put_string(&w, priv.p, priv.len);
    if (w.bad || priv.bad || pubblob.bad) {
        goto out;
    }
    b64 = malloc(w.len / 3 * 4 + 8);
    text = malloc(w.len / 3 * 4 + 8 + w.len / 40 + 128);
    if (b64 == NULL || text == NULL) {
        goto out;
    }
    b64len = (size_t)EVP_EncodeBlock(b64, w.p, (int)w.len);
    pos = (size_t)sprintf(text, "%s\n", CAKEY_BEGIN);
    for (size_t i = 0; i < b64len; i += 70) {
        size_t n = b64len - i < 70 ? b64len - i : 70;

        memcpy(text + pos, b64 + i, n);
        pos += n;
        text[pos++] = '\n';
    }
    sprintf(text + pos, "%s\n", CAKEY_END);
    *out = text;
    text = NULL;
    r = 0;
out:
    db_wipe(sk, sizeof(sk));
    if (b64 != NULL) {
        db_wipe(b64, w.len / 3 * 4 + 8);
        free(b64);
    }
    free(text);
    wire_w_free(&w);
    wire_w_free(&priv);
    wire_w_free(&pubblob);
    return r;
}

int cakey_generate(const char *path, const char *comment, char *err, size_t errlen)
{
    EVP_PKEY *pkey = NULL;
    unsigned char seed[32], pub[CERTKEY_PK_LEN];
    size_t slen = sizeof(seed), plen = sizeof(pub);
    char *text = NULL, pubpath[4096], line[256];
    int r = DB_ERR_INTERNAL;

    pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (pkey == NULL || EVP_PKEY_get_raw_private_key(pkey, seed, &slen) != 1 ||
        EVP_PKEY_get_raw_public_key(pkey, pub, &plen) != 1 || slen != 32 || plen != 32) {
        db_errf(err, errlen, "%s: cannot generate an Ed25519 key", path);
        goto out;
    }
    if ((r = cakey_format(seed, pub, comment, &text)) != 0) {
        db_errf(err, errlen, "%s: cannot encode the key", path);
        goto out;
    }
    if ((r = db_write_new_file(path, text, strlen(text), 0600, "write", err, errlen)) != 0) {
        goto out;
    }
    snprintf(pubpath, sizeof(pubpath), "%s.pub", path);
    if ((r = cakey_pub_line(pub, comment, line, sizeof(line) - 1)) != 0) {
        goto out;
    }
    strcat(line, "\n");
    unlink(pubpath); /* a stale public half of an older key */
    r = db_write_new_file(pubpath, line, strlen(line), 0644, "write", err, errlen);
out:
    db_wipe(seed, sizeof(seed));
    if (text != NULL) {
        db_wipe(text, strlen(text));
        free(text);
    }
    EVP_PKEY_free(pkey);
    return r;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The gateway's own keys under keys_dir (default state_dir/keys), created on
 * first start (gateways sharing keys_dir share them):
 * host_ed25519 (what engineers' clients see), upstream_ed25519 (what the
 * gateway authenticates to targets with in key mode; engineers never hold
 * target credentials), user_ca and user_ca.pub (the certificate authority of
 * certificate mode: only the signer reads user_ca, see broker/signer),
 * recording.hmac (the key sealing recordings) and mfa.key (sealing
 * second-factor secrets, see broker/mfa/).  Directories are 0700 and files
 * 0600 (user_ca.pub 0644); an existing key is never overwritten.
 *
 * This runs as root when the daemon is started as root, in directories the
 * gateway's account owns from its first start on (and a session child runs
 * as that account): nothing here follows a symbolic link or writes through
 * a name that account could have put in place.  Each file is written under
 * a fresh random name with O_EXCL | O_NOFOLLOW and then linked or renamed
 * into place.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libssh/libssh.h>

#include "broker.h"
#include "signer.h"

void keys_path(const struct config *c, const char *name, char *buf, size_t buflen)
{
    if (c->keys_dir != NULL) {
        snprintf(buf, buflen, "%s/%s", c->keys_dir, name);
    } else {
        snprintf(buf, buflen, "%s/keys/%s", c->state_dir, name);
    }
}

void config_recordings_dir(const struct config *c, char *buf, size_t buflen)
{
    if (c->recordings_dir != NULL) {
        snprintf(buf, buflen, "%s", c->recordings_dir);
    } else {
        snprintf(buf, buflen, "%s/recordings", c->state_dir);
    }
}

/*
 * A key written to tmp is put in place with link(2), which never replaces:
 * gateways sharing keys_dir that start together end up with one key, the
 * first one written whole, and none ever reads a half-written file.
 */
static int keys_publish(const char *tmp, const char *path, char *err, size_t errlen)
{
    int r = 0;

    if (link(tmp, path) != 0 && errno != EEXIST) {
        db_errf(err, errlen, "%s: cannot write key: %s", path, strerror(errno));
        r = DB_ERR_IO;
    }
    unlink(tmp);
    return r;
}

/*
 * Writes data to a new file named path.tmp.RANDOM (mode, O_EXCL, never
 * through a link); *tmp gets its name.  The caller puts it in place.
 */
static int keys_write_tmp(const char *path, const void *data, size_t len, mode_t mode, char *tmp,
                          size_t tmplen, char *err, size_t errlen)
{
    unsigned char rnd[8];

    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        db_errf(err, errlen, "%s: no randomness: %s", path, strerror(errno));
        return DB_ERR_IO;
    }
    snprintf(tmp, tmplen, "%s.tmp.%02x%02x%02x%02x%02x%02x%02x%02x", path, rnd[0], rnd[1], rnd[2],
             rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
    return db_write_new_file(tmp, data, len, mode, "write key", err, errlen);
}

static int keys_mkdir(const char *path, char *err, size_t errlen)
{
    struct stat st;

    if (mkdir(path, 0700) == 0) {
        return 0;
    }
    if (errno != EEXIST) {
        db_errf(err, errlen, "%s: cannot create directory: %s", path, strerror(errno));
        return DB_ERR_IO;
    }
    if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        db_errf(err, errlen, "%s: exists and is not a directory", path);
        return DB_ERR_IO;
    }
    return 0;
}

static int keys_gen_ssh(const char *path, char *err, size_t errlen)
{
    ssh_key key = NULL;
    char tmp[4200], *b64 = NULL;
    int r = DB_ERR_INTERNAL;

    if (access(path, F_OK) == 0) {
        return 0;
    }
    if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &key) != SSH_OK) {
        db_errf(err, errlen, "%s: cannot generate an ed25519 key", path);
        goto out;
    }
    /* in memory first: libssh's own file writer opens the name it is given, links and all */
    if (ssh_pki_export_privkey_base64(key, NULL, NULL, NULL, &b64) != SSH_OK) {
        db_errf(err, errlen, "%s: cannot encode the key", path);
        goto out;
    }
    if ((r = keys_write_tmp(path, b64, strlen(b64), 0600, tmp, sizeof(tmp), err, errlen)) != 0) {
        goto out;
    }
    r = keys_publish(tmp, path, err, errlen);
out:
    if (b64 != NULL) {
        db_wipe(b64, strlen(b64));
        ssh_string_free_char(b64);
    }
    ssh_key_free(key);
    return r;
}

static int keys_gen_hmac(const char *path, char *err, size_t errlen)
{
    unsigned char k[32];
    char tmp[4200];
    int r = DB_ERR_IO;

    if (access(path, F_OK) == 0) {
        return 0;
    }
    if (getrandom(k, sizeof(k), 0) != (ssize_t)sizeof(k)) {
        db_errf(err, errlen, "%s: no randomness: %s", path, strerror(errno));
        goto out;
    }
    if ((r = keys_write_tmp(path, k, sizeof(k), 0600, tmp, sizeof(tmp), err, errlen)) != 0) {
        goto out;
    }
    r = keys_publish(tmp, path, err, errlen);
out:
    db_wipe(k, sizeof(k));
    return r;
}

/*
 * The CA key pair.  Whoever can read user_ca (root at a start, or the
 * signer's account) makes sure user_ca.pub holds its public key, writing it
 * again when it is missing, not a plain file, or another key: user_ca.pub
 * is what `drawbridge keys` prints for the targets to trust, and the
 * gateway's account could have put anything there.
 */
static int keys_gen_ca(const struct config *c, int make, char *err, size_t errlen)
{
    char path[4096], pubpath[4200], tmp[4300], line[160], why[256];
    unsigned char pk[CERTKEY_PK_LEN];
    struct cakey *ca = NULL;
    int r = 0;

    keys_path(c, "user_ca", path, sizeof(path));
    snprintf(pubpath, sizeof(pubpath), "%s.pub", path);
    if (access(path, F_OK) != 0) {
        return make ? cakey_generate(path, "drawbridge-user-ca", err, errlen) : 0;
    }
    if (cakey_load(path, &ca, why, sizeof(why)) != 0) {
        return 0; /* not ours to read (the signer's account owns it) */
    }
    if (cakey_read_pub(pubpath, pk, why, sizeof(why)) == 0 &&
        memcmp(pk, cakey_public(ca), CERTKEY_PK_LEN) == 0) {
        goto out; /* it holds the CA's key */
    }
    log_msg(LOG_LVL_WARN, "keys.ca_pub", "%s does not hold user_ca's public key; writing it again",
            pubpath);
    if (cakey_pub_line(cakey_public(ca), "drawbridge-user-ca", line, sizeof(line) - 1) != 0) {
        r = DB_ERR_INTERNAL;
        goto out;
    }
    strcat(line, "\n");
    /* rename replaces whatever has the name (a link too) and never follows it */
    if ((r = keys_write_tmp(pubpath, line, strlen(line), 0644, tmp, sizeof(tmp), err, errlen)) ==
            0 &&
        rename(tmp, pubpath) != 0) {
        db_errf(err, errlen, "%s: cannot write: %s", pubpath, strerror(errno));
        unlink(tmp);
        r = DB_ERR_IO;
    }
out:
    cakey_free(ca);
    return r;
}

int keys_ensure(const struct config *c, char *err, size_t errlen)
{
    return keys_ensure_ex(c, 1, err, errlen);
}

int keys_ensure_ex(const struct config *c, int make_ca, char *err, size_t errlen)
{
    char path[4096];
    int r;

    if ((r = keys_mkdir(c->state_dir, err, errlen)) != 0) {
        return r;
    }
    if (c->keys_dir != NULL) {
        snprintf(path, sizeof(path), "%s", c->keys_dir);
    } else {
        snprintf(path, sizeof(path), "%s/keys", c->state_dir);
    }
    if ((r = keys_mkdir(path, err, errlen)) != 0) {
        return r;
    }
    config_recordings_dir(c, path, sizeof(path));
    if ((r = keys_mkdir(path, err, errlen)) != 0) {
        return r;
    }
    keys_path(c, "host_ed25519", path, sizeof(path));
    if ((r = keys_gen_ssh(path, err, errlen)) != 0) {
        return r;
    }
    keys_path(c, "upstream_ed25519", path, sizeof(path));
    if ((r = keys_gen_ssh(path, err, errlen)) != 0) {
        return r;
    }
    if ((r = keys_gen_ca(c, make_ca, err, errlen)) != 0) {
        return r;
    }
    keys_path(c, "recording.hmac", path, sizeof(path));
    if ((r = keys_gen_hmac(path, err, errlen)) != 0) {
        return r;
    }
    /* the key that seals second-factor secrets and hashes recovery codes (broker/mfa/) */
    keys_path(c, "mfa.key", path, sizeof(path));
    return keys_gen_hmac(path, err, errlen);
}

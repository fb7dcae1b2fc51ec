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
    char tmp[4200];
    mode_t old;
    int r = DB_ERR_INTERNAL;

    if (access(path, F_OK) == 0) {
        return 0;
    }
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    unlink(tmp);
    if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &key) != SSH_OK) {
        db_errf(err, errlen, "%s: cannot generate an ed25519 key", path);
        goto out;
    }
    old = umask(077);
    if (ssh_pki_export_privkey_file(key, NULL, NULL, NULL, tmp) != SSH_OK) {
        umask(old);
        unlink(tmp);
        db_errf(err, errlen, "%s: cannot write key", path);
        r = DB_ERR_IO;
        goto out;
    }
    umask(old);
    r = keys_publish(tmp, path, err, errlen);
out:
    ssh_key_free(key);
    return r;
}

static int keys_gen_hmac(const char *path, char *err, size_t errlen)
{
    unsigned char k[32];
    char tmp[4200];
    int fd = -1, r = DB_ERR_IO;

    if (access(path, F_OK) == 0) {
        return 0;
    }
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    unlink(tmp);
    if (getrandom(k, sizeof(k), 0) != (ssize_t)sizeof(k)) {
        db_errf(err, errlen, "%s: no randomness: %s", path, strerror(errno));
        goto out;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, k, sizeof(k)) != (ssize_t)sizeof(k) || fsync(fd) != 0) {
        db_errf(err, errlen, "%s: cannot write key: %s", path, strerror(errno));
        unlink(tmp);
        goto out;
    }
    r = keys_publish(tmp, path, err, errlen);
out:
    db_wipe(k, sizeof(k));
    if (fd >= 0) {
        close(fd);
    }
    return r;
}

/* The CA key pair; a lost user_ca.pub is written again from user_ca when we can read it. */
static int keys_gen_ca(const struct config *c, char *err, size_t errlen)
{
    char path[4096], pubpath[4200], line[160];
    unsigned char pk[CERTKEY_PK_LEN];
    struct cakey *ca = NULL;
    FILE *f = NULL;
    int r = 0;

    keys_path(c, "user_ca", path, sizeof(path));
    snprintf(pubpath, sizeof(pubpath), "%s.pub", path);
    if (access(path, F_OK) != 0) {
        return cakey_generate(path, "drawbridge-user-ca", err, errlen);
    }
    if (cakey_read_pub(pubpath, pk, err, errlen) == 0 ||
        cakey_load(path, &ca, err, errlen) != 0) {
        return 0; /* fine, or not ours to read (the signer's account owns it) */
    }
    if (cakey_pub_line(cakey_public(ca), "drawbridge-user-ca", line, sizeof(line)) != 0 ||
        (f = fopen(pubpath, "w")) == NULL || fprintf(f, "%s\n", line) < 0) {
        db_errf(err, errlen, "%s: cannot write: %s", pubpath, strerror(errno));
        r = DB_ERR_IO;
    }
    if (f != NULL && fclose(f) != 0) {
        r = DB_ERR_IO;
    }
    chmod(pubpath, 0644);
    cakey_free(ca);
    return r;
}

int keys_ensure(const struct config *c, char *err, size_t errlen)
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
    if ((r = keys_gen_ca(c, err, errlen)) != 0) {
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

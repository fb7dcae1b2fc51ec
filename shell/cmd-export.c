/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `export ID` writes a session's recording, the .cast file's bytes as they
 * are, to stdout, so that
 *
 *     ssh gw export ID > s.cast && asciinema play s.cast
 *
 * works.  It is meant without -t: a pty would turn "\n" into "\r\n" on the
 * way out and the file would no longer be the recording (nor match its
 * seal), so in an interactive shell it is refused.  A job streams the file
 * SHELL_JOB_CHUNK bytes at a time.
 *
 * The file is checked against its seal first (tampered: refused; truncated
 * or live: a warning on stderr), and for a sealed recording the bytes sent
 * are hashed on the way and compared with the seal at the end: a file that
 * changed underneath fails the export (exit status 1) even though its bytes
 * have gone out.  A live session's recording is exported up to where it
 * was when the export began.
 */
#include "shell.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

struct export_job {
    struct shell_job job; /* first: the session holds a struct shell_job * */
    char id[STORE_SESSION_ID_LEN + 1];
    int fd;
    unsigned long long left; /* bytes still to send */
    EVP_MD_CTX *sha;         /* NULL when there is no seal to compare with */
    char sealed[REC_HEX_LEN + 1];
    char buf[SHELL_JOB_CHUNK];
};

static void export_free(struct shell_job *j)
{
    struct export_job *ej = (struct export_job *)j;

    if (ej == NULL) {
        return;
    }
    if (ej->fd >= 0) {
        close(ej->fd);
    }
    EVP_MD_CTX_free(ej->sha);
    free(ej);
}

/* At the end: do the bytes sent match the seal? */
static int export_check(struct export_job *ej, struct shell_ctx *c)
{
    static const char digits[] = "0123456789abcdef";
    unsigned char md[32];
    unsigned int mdlen = 0;
    char got[REC_HEX_LEN + 1];

    if (ej->sha == NULL) {
        return 0;
    }
    if (EVP_DigestFinal_ex(ej->sha, md, &mdlen) != 1 || mdlen != sizeof(md)) {
        shell_err(c, "drawbridge: export of session %s: cannot hash what was sent\n", ej->id);
        return -1;
    }
    for (size_t i = 0; i < sizeof(md); i++) {
        got[2 * i] = digits[md[i] >> 4];
        got[2 * i + 1] = digits[md[i] & 15];
    }
    got[REC_HEX_LEN] = '\0';
    if (strcasecmp(got, ej->sealed) != 0) {
        shell_err(c,
                  "drawbridge: export of session %s: the file changed while it was sent; "
                  "what was written does not match the seal\n",
                  ej->id);
        return -1;
    }
    return 0;
}

static int export_step(struct shell_job *j, struct shell_ctx *c, long long now_ms,
                       long long *next_ms)
{
    struct export_job *ej = (struct export_job *)j;
    size_t want = ej->left < sizeof(ej->buf) ? (size_t)ej->left : sizeof(ej->buf);
    ssize_t n;

    if (ej->left == 0) {
        return export_check(ej, c);
    }
    do {
        n = read(ej->fd, ej->buf, want);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) {
        shell_err(c, "drawbridge: export of session %s: the file ended early (%s)\n", ej->id,
                  n < 0 ? "read failed" : "it shrank");
        return -1;
    }
    if (ej->sha != NULL && EVP_DigestUpdate(ej->sha, ej->buf, (size_t)n) != 1) {
        EVP_MD_CTX_free(ej->sha);
        ej->sha = NULL;
    }
    shell_write_raw(c, 0, ej->buf, (size_t)n);
    ej->left -= (unsigned long long)n;
    *next_ms = now_ms;
    return 1;
}

/* Opens the file and sets what to send; the seal's hash is checked on the way when sealed. */
static int export_open(struct export_job *ej, const struct store_session *s)
{
    struct stat st;

    ej->fd = open(s->recording_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (ej->fd < 0 || fstat(ej->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        return DB_ERR_IO;
    }
    ej->left = (unsigned long long)st.st_size;
    if (s->sha256[0] != '\0') {
        snprintf(ej->sealed, sizeof(ej->sealed), "%s", s->sha256);
        ej->sha = EVP_MD_CTX_new();
        if (ej->sha == NULL || EVP_DigestInit_ex(ej->sha, EVP_sha256(), NULL) != 1) {
            return DB_ERR_NOMEM;
        }
    }
    return 0;
}

static int cmd_export_exec(struct shell_ctx *c, int argc, char **argv)
{
    static const char *const spec[] = {NULL};
    struct shell_review rv;
    struct shell_opts o;
    struct store_session s;
    struct export_job *ej = NULL;
    enum rec_verdict verdict = REC_MISSING;
    int r;

    memset(&s, 0, sizeof(s));
    if ((r = shell_review_begin(c, argv[0], spec, 1, argc, argv, &o, &rv)) != 0) {
        return r;
    }
    if (c->interactive) {
        return shell_review_refuse(c, &rv, json_object(),
                                   "export writes a file: run it without -t, as in "
                                   "ssh gw export %s > %s.cast",
                                   rv.id, rv.id);
    }
    if ((r = shell_review_session(c, &rv, &s)) != 0) {
        return r;
    }
    if ((r = shell_recording_usable(c, &rv, &s, "seal", "not exporting it", &verdict)) != 0) {
        goto out;
    }
    if ((ej = calloc(1, sizeof(*ej))) == NULL) {
        r = shell_review_refuse(c, &rv, json_object(), "out of memory");
        goto out;
    }
    ej->fd = -1;
    if (export_open(ej, &s) != 0) {
        r = shell_review_refuse(c, &rv, json_object(), "the recording of session %s cannot be read",
                                s.id);
        goto out;
    }
    if ((r = shell_review_ok(c, &rv,
                             json_pack("{ss sI}", "verdict",
                                       s.ended_at == 0 ? "live" : rec_verdict_name(verdict),
                                       "bytes", (json_int_t)ej->left))) != 0) {
        goto out;
    }
    if (s.ended_at == 0) {
        shell_err(c, "drawbridge: session %s is still live: exporting what is recorded so far\n",
                  s.id);
    } else if (verdict == REC_TRUNCATED) {
        shell_err(c,
                  "drawbridge: warning: the recording of session %s ends early "
                  "(truncated): the session did not close cleanly\n",
                  s.id);
    }
    snprintf(ej->id, sizeof(ej->id), "%s", s.id);
    ej->job.step = export_step;
    ej->job.input = NULL;
    ej->job.free = export_free;
    c->job = &ej->job;
    ej = NULL;
    r = SHELL_OK;
out:
    export_free(ej ? &ej->job : NULL);
    store_session_clear(&s);
    return r;
}

const struct shell_cmd_entry shell_cmd_export_entry = {
    .name = "export",
    .usage = "export ID",
    .summary = "write a session's recording (.cast) to stdout; use without -t (reviewers)",
    .exec = cmd_export_exec,
};

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the interactive line editor (shell/term.c) and,
 * through it, the shell: every line the input completes runs as a command
 * against a small policy.  Checks, beyond "does not crash":
 *
 *  - the editor's output does not depend on how the input was split: the
 *    same bytes fed in one call and one byte per call give the same output
 *    and the same return value (keys split across network reads are normal);
 *  - nothing the user types makes us send a terminal anything but text, CR,
 *    LF, BEL and our own cursor moves (ESC [ n C/D, ESC [ K, ESC [ H, ESC [ 2 J):
 *    the output is valid UTF-8 and carries no other control sequence.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "policy.h"
#include "shell.h"

#define OUT_MAX (2u << 20)

static const char policy_yaml[] =
    "protected: {env: [prod]}\n"
    "targets:\n"
    "  - name: web-1\n"
    "    address: 10.0.1.5:22\n"
    "    host_key: \"ssh-ed25519 "
    "AAAAC3NzaC1lZDI1NTE5AAAAIE7Dk0vQIUY385Ob8I0mvpAzevGBf41RCd9e04r7+gZx\"\n"
    "    logins: [deploy]\n"
    "    labels: {env: prod}\n"
    "rules:\n"
    "  - name: web-oncall\n"
    "    requesters: [\"group:sre\"]\n"
    "    targets: {names: [web-1]}\n"
    "    max_duration: 4h\n"
    "    approvers: [\"group:sre-leads\"]\n"
    "reviewers: [\"group:security\"]\n";

static struct policy *policy;
static const char *const groups[] = {"sre", "security"};
/* Allocated once: the same two buffers serve every input. */
static char out_whole[OUT_MAX], out_bytes[OUT_MAX];

struct out {
    char *buf;
    size_t len;
    int overflow;
};

static int out_write(void *io, int is_err, const char *buf, size_t len)
{
    struct out *o = io;

    (void)is_err;
    if (o->overflow || o->len + len > OUT_MAX) {
        o->overflow = 1;
        return 0;
    }
    memcpy(o->buf + o->len, buf, len);
    o->len += len;
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[256];

    (void)argc;
    (void)argv;
    if (policy_load_buffer("fuzz.yaml", policy_yaml, sizeof(policy_yaml) - 1, &policy, err,
                           sizeof(err)) < 0) {
        fprintf(stderr, "fuzz_shell_term: policy: %s\n", err);
        abort();
    }
    return 0;
}

/* Feeds data in pieces of step bytes (0: all at once); returns the last result. */
static int feed(const uint8_t *data, size_t size, size_t step, struct out *o)
{
    struct shell_ctx c;
    struct shell_term *t = NULL;
    int r = 0;

    memset(&c, 0, sizeof(c));
    c.policy = policy;
    c.user = "alice";
    c.groups = groups;
    c.ngroups = 2;
    c.interactive = 1;
    c.write = out_write;
    c.io = o;
    t = shell_term_new(&c);
    if (t == NULL) {
        abort();
    }
    for (size_t i = 0; i < size && r == 0;) {
        size_t n = step == 0 || size - i < step ? size - i : step;

        r = shell_term_input(t, (const char *)data + i, n);
        i += n;
    }
    /* After the end, more input is refused. */
    if (r == 1 && shell_term_input(t, "x", 1) != 1) {
        abort();
    }
    shell_term_free(t);
    return r;
}

/* Only text and the sequences the editor itself writes. */
static void check_output(const struct out *o)
{
    const unsigned char *u = (const unsigned char *)o->buf;

    if (!db_utf8_valid(o->buf, o->len)) {
        abort();
    }
    for (size_t i = 0; i < o->len; i++) {
        if (u[i] == 0x1b) {
            size_t k = i + 1;

            if (k >= o->len || u[k] != '[') {
                abort();
            }
            k++;
            while (k < o->len && u[k] >= '0' && u[k] <= '9') {
                k++;
            }
            if (k >= o->len || strchr("CDKHJ", u[k]) == NULL) {
                abort();
            }
            i = k;
        } else if (u[i] < 0x20 && u[i] != '\r' && u[i] != '\n' && u[i] != '\a') {
            abort();
        } else if (u[i] == 0x7f) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct out whole = {0}, bytes = {0};
    int r1, r2;

    if (size > 16384) {
        return 0;
    }
    whole.buf = out_whole;
    bytes.buf = out_bytes;
    r1 = feed(data, size, 0, &whole);
    r2 = feed(data, size, 1, &bytes);
    if (r1 != r2 || whole.overflow != bytes.overflow) {
        abort();
    }
    if (!whole.overflow) {
        if (whole.len != bytes.len || memcmp(whole.buf, bytes.buf, whole.len) != 0) {
            abort();
        }
        check_output(&whole);
    }
    return 0;
}

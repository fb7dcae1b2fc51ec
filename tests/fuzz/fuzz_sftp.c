/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the passive sftp observer (broker/sftp.c), which
 * sees every byte of every sftp channel, both directions, before anyone has
 * checked what the target or the engineer's client sends.
 *
 * The input is a list of chunks, each a 3-byte header then its bytes:
 *
 *   u8 flags   bit 0: 1 from the client (engineer -> target), 0 from the server
 *   u16 len    big-endian, the number of bytes that follow (cut to what is left)
 *
 * The chunks are fed as given, so the fuzzer picks both the interleaving of
 * the directions and where each stream is cut, then sftp_watch_finish()
 * closes the watch.  Besides memory errors and leaks it checks that:
 *
 *   - every reported operation is one sftp.c documents, with a path, and a
 *     second path exactly for rename and symlink;
 *   - nothing is reported once the stream was given up as not sftp, but
 *     the totals of files still open when the watch is finished;
 *   - the same streams cut differently (each run of one direction fed
 *     whole, then byte by byte) give the same operations, in the same order,
 *     and the same verdict on whether the stream is sftp.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
    const struct sftp_watch *w;
    int finishing; /* totals of files left open are still reported */
    uint64_t hash;
    size_t events;
};

static void mix(struct seen *s, const void *p, size_t n)
{
    const unsigned char *b = p;

    for (size_t i = 0; i < n; i++) {
        s->hash = (s->hash ^ b[i]) * 0x100000001b3ULL;
    }
}

static void on_event(void *ctx, const char *op, const char *path, const char *path2,
                     unsigned long long bytes)
{
    static const char *const ops[] = {"open-read", "open-write", "read",  "write",
                                      "list",      "remove",     "mkdir", "rmdir",
                                      "setstat",   "rename",     "symlink"};
    struct seen *s = ctx;
    size_t k = 0;

    while (k < sizeof(ops) / sizeof(ops[0]) && strcmp(op, ops[k]) != 0) {
        k++;
    }
    if (k == sizeof(ops) / sizeof(ops[0]) || path == NULL || (s->w->lost && !s->finishing)) {
        abort();
    }
    if ((path2 != NULL) != (strcmp(op, "rename") == 0 || strcmp(op, "symlink") == 0)) {
        abort();
    }
    mix(s, op, strlen(op) + 1);
    mix(s, path, strlen(path) + 1);
    if (path2 != NULL) {
        mix(s, path2, strlen(path2) + 1);
    }
    mix(s, &bytes, sizeof(bytes));
    s->events++;
}

enum cut { CUT_AS_GIVEN, CUT_RUNS, CUT_BYTES };

/* Feeds the chunks of data[0..size) cut as asked; returns the watch's lost flag. */
static int run(const uint8_t *data, size_t size, enum cut cut, struct seen *seen)
{
    struct sftp_watch *w = malloc(sizeof(*w));
    size_t off = 0;
    int lost = 0;

    if (w == NULL) {
        abort();
    }
    memset(seen, 0, sizeof(*seen));
    seen->hash = 0xcbf29ce484222325ULL;
    seen->w = w;
    sftp_watch_init(w, on_event, seen);
    while (size - off >= 3) {
        int from_client = data[off] & 1;
        size_t len = ((size_t)data[off + 1] << 8) | data[off + 2];
        const uint8_t *p = data + off + 3;

        off += 3;
        if (len > size - off) {
            len = size - off;
        }
        off += len;
        if (cut == CUT_RUNS) {
            /* the following chunks of the same direction join this one */
            const uint8_t *q = p;
            size_t total = len;
            uint8_t *joined = NULL;

            while (size - off >= 3 && (data[off] & 1) == from_client) {
                size_t l2 = ((size_t)data[off + 1] << 8) | data[off + 2];

                off += 3;
                if (l2 > size - off) {
                    l2 = size - off;
                }
                if (joined == NULL) {
                    joined = malloc(size);
                    if (joined == NULL) {
                        abort();
                    }
                    memcpy(joined, p, len);
                    q = joined;
                }
                memcpy(joined + total, data + off, l2);
                total += l2;
                off += l2;
            }
            sftp_watch_feed(w, from_client, q, total);
            free(joined);
        } else if (cut == CUT_BYTES) {
            for (size_t i = 0; i < len; i++) {
                sftp_watch_feed(w, from_client, p + i, 1);
            }
        } else {
            sftp_watch_feed(w, from_client, p, len);
        }
    }
    lost = w->lost;
    /* after finish nothing is held: the leak checker sees to that */
    seen->finishing = 1;
    sftp_watch_finish(w);
    if (w->nhandles != 0 || w->npending != 0) {
        abort();
    }
    free(w);
    return lost;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct seen a, b;
    int lost_a = 0, lost_b = 0;

    lost_a = run(data, size, CUT_AS_GIVEN, &a);
    lost_b = run(data, size, CUT_RUNS, &b);
    if (lost_a != lost_b || a.events != b.events || a.hash != b.hash) {
        abort();
    }
    lost_b = run(data, size, CUT_BYTES, &b);
    if (lost_a != lost_b || a.events != b.events || a.hash != b.hash) {
        abort();
    }
    return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The default relay hook: counts the bytes of each channel in both
 * directions and logs them when the channel closes.  The recorder replaces
 * it; its shape is the contract every byte passes through (see relay_hook in
 * broker.h).
 */
#include <string.h>

#include "conn.h"

#define HOOK_CHANNELS 64

struct hook_counts {
    unsigned long long in[HOOK_CHANNELS];
    unsigned long long out[HOOK_CHANNELS];
};

static struct hook_counts hook_counts;

static int hook_data(void *ctx, unsigned id, enum relay_dir dir, int is_stderr, const char *buf,
                     size_t len, const struct timespec *ts)
{
    struct hook_counts *hc = ctx;

    (void)is_stderr;
    (void)buf;
    (void)ts;
    if (dir == RELAY_DIR_IN) {
        hc->in[id % HOOK_CHANNELS] += len;
    } else {
        hc->out[id % HOOK_CHANNELS] += len;
    }
    return 0;
}

static void hook_close(void *ctx, unsigned id, int exit_status, const char *exit_signal,
                       const struct timespec *ts)
{
    struct hook_counts *hc = ctx;

    (void)exit_status;
    (void)exit_signal;
    (void)ts;
    log_msg(LOG_LVL_INFO, "channel.bytes", "channel=%u in=%llu out=%llu", id,
            hc->in[id % HOOK_CHANNELS], hc->out[id % HOOK_CHANNELS]);
    hc->in[id % HOOK_CHANNELS] = 0;
    hc->out[id % HOOK_CHANNELS] = 0;
}

void hook_default(struct relay_hook *h)
{
    memset(h, 0, sizeof(*h));
    memset(&hook_counts, 0, sizeof(hook_counts));
    h->ctx = &hook_counts;
    h->data = hook_data;
    h->close = hook_close;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The signer's sense of time and its per-user rate limit, as pure functions
 * of the times they are given, so that the tests can step a clock
 * backwards at will.
 *
 * Time.  The wall clock is what certificates are checked against on the
 * targets, so validity is taken from it as it reads now.  But a clock that
 * steps backwards must not revive a grant that has ended, nor repeat a
 * serial: grants are checked at the latest wall-clock second seen (high),
 * and serials are high << 32 | 32 random bits, strictly increasing.  A step
 * backwards shows as the wall clock falling behind the monotonic clock by
 * more than SIGNER_CLOCK_SLACK_S; the signer logs and audits it.
 *
 * Rate.  A bucket of `rate` tokens per user, refilled evenly over a minute;
 * a request takes one.  The first refusal of a run is audited, the rest
 * only counted, so a flood cannot flood the audit chain.
 */
#include <string.h>

#include "signer.h"

long long signer_clock_observe(struct signer_clock *c, long long wall, long long mono)
{
    long long off = wall - mono, back = 0;

    if (c->have_offset && off < c->offset - SIGNER_CLOCK_SLACK_S) {
        back = c->offset - off;
    }
    c->offset = off;
    c->have_offset = 1;
    if (wall > c->high) {
        c->high = wall;
    }
    return back;
}

uint64_t signer_clock_serial(struct signer_clock *c, uint32_t rnd)
{
    uint64_t serial = (uint64_t)(c->high > 0 ? c->high : 0) << 32 | rnd;

    if (serial <= c->last_serial) {
        serial = c->last_serial + 1;
    }
    c->last_serial = serial;
    return serial;
}

void signer_rate_init(struct signer_rate *b, int rate, long long now_ms)
{
    memset(b, 0, sizeof(*b));
    b->tokens = rate;
    b->updated_ms = now_ms;
}

int signer_rate_take(struct signer_rate *b, int rate, long long now_ms)
{
    if (now_ms > b->updated_ms) {
        b->tokens += (double)(now_ms - b->updated_ms) * rate / 60000.0;
        b->updated_ms = now_ms;
    }
    if (b->tokens > rate) {
        b->tokens = rate;
    }
    if (b->tokens < 1.0) {
        return 0;
    }
    b->tokens -= 1.0;
    b->refusal_audited = 0;
    return 1;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for the signer's clock and rate limit (broker/signer/clock.c),
 * driven by hand-made readings: a wall clock that steps backwards is
 * reported by how much, never moves the time grants are checked at
 * backwards, and never repeats or lowers a serial; a clock that runs on or
 * steps forwards is not reported.  The rate limit lets `rate` requests
 * through at once, then one per 60/rate seconds, and marks only the first
 * refusal of a run for the audit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "signer.h"

#define T0 1800000000LL

static void test_clock_steps(void **state)
{
    static const struct {
        long long wall, mono, back, high;
    } steps[] = {
        {T0, 100, 0, T0},             /* first reading */
        {T0 + 10, 110, 0, T0 + 10},   /* runs on */
        {T0 + 11, 112, 0, T0 + 11},   /* a second of drift: within the slack */
        {T0 - 3600, 113, 3612, T0 + 11}, /* stepped back an hour: reported, high kept */
        {T0 - 3590, 123, 0, T0 + 11}, /* runs on from there */
        {T0 + 20, 124, 0, T0 + 20},   /* stepped forwards: not reported, high follows */
        {T0 + 18, 124, 0, T0 + 20},   /* back by the slack exactly: not reported */
        {T0 + 15, 124, 3, T0 + 20},   /* back by more than the slack: reported */
    };
    struct signer_clock c;

    (void)state;
    memset(&c, 0, sizeof(c));
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        assert_int_equal(signer_clock_observe(&c, steps[i].wall, steps[i].mono), steps[i].back);
        assert_int_equal(c.high, steps[i].high);
    }
}

static void test_serials(void **state)
{
    struct signer_clock c;
    uint64_t prev = 0, s = 0;

    (void)state;
    memset(&c, 0, sizeof(c));
    signer_clock_observe(&c, T0, 1);
    s = signer_clock_serial(&c, 0xffffffffu);
    assert_true(s == ((uint64_t)T0 << 32 | 0xffffffffu));
    prev = s;
    /* a smaller random part in the same second still goes up */
    s = signer_clock_serial(&c, 5);
    assert_true(s > prev);
    prev = s;
    /* the clock steps back an hour: serials keep rising */
    signer_clock_observe(&c, T0 - 3600, 2);
    for (uint32_t r = 0; r < 1000; r++) {
        s = signer_clock_serial(&c, r * 7919u);
        assert_true(s > prev);
        prev = s;
    }
    /* later seconds give serials in their own range: revocable by time range */
    signer_clock_observe(&c, T0 + 100, 3);
    s = signer_clock_serial(&c, 0);
    assert_true(s >> 32 == (uint64_t)(T0 + 100));
}

static void test_rate(void **state)
{
    struct signer_rate b;
    long long ms = 5000;

    (void)state;
    signer_rate_init(&b, 3, ms);
    assert_int_equal(signer_rate_take(&b, 3, ms), 1);
    assert_int_equal(signer_rate_take(&b, 3, ms), 1);
    assert_int_equal(signer_rate_take(&b, 3, ms), 1);
    assert_int_equal(signer_rate_take(&b, 3, ms), 0);
    b.refusal_audited = 1;
    assert_int_equal(signer_rate_take(&b, 3, ms + 19000), 0); /* not yet a whole token */
    assert_int_equal(b.refusal_audited, 1);
    assert_int_equal(signer_rate_take(&b, 3, ms + 20001), 1); /* 60 s / 3 later */
    assert_int_equal(b.refusal_audited, 0);                   /* a new run may be audited */
    assert_int_equal(signer_rate_take(&b, 3, ms + 20001), 0);
    /* a long pause refills to the rate, no more */
    ms += 3600000;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(signer_rate_take(&b, 3, ms), 1);
    }
    assert_int_equal(signer_rate_take(&b, 3, ms), 0);
    /* a monotonic time that went back (never happens) refills nothing */
    assert_int_equal(signer_rate_take(&b, 3, ms - 100000), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clock_steps),
        cmocka_unit_test(test_serials),
        cmocka_unit_test(test_rate),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Replay timing: how long a player waits before the next event.  Pure
 * arithmetic, so that `replay` and `watch` share it and tests pin it down:
 * the recorded gap, capped by the idle limit (a reviewer need not sit through
 * an hour of silence), divided by the speed.  Garbage in -- NaN, a negative
 * gap, a speed of zero -- never gives a negative or endless wait.
 */
#include "recording.h"

#include <math.h>

#define PLAY_MAX_DELAY (24.0 * 3600) /* no single wait is longer than a day */

double rec_play_delay(double prev, double t, double speed, double idle_limit)
{
    double d = t - prev;

    if (!isfinite(d) || d <= 0) {
        return 0;
    }
    if (isfinite(idle_limit) && idle_limit > 0 && d > idle_limit) {
        d = idle_limit;
    }
    if (speed > 0) { /* NaN, 0 and negative speeds play as recorded; infinity does not wait */
        d /= speed;
    }
    if (!isfinite(d) || d < 0) {
        return 0;
    }
    return d > PLAY_MAX_DELAY ? PLAY_MAX_DELAY : d;
}

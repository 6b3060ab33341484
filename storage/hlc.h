/* hlc.h - a hybrid logical clock: 48 bits of wall-clock milliseconds and a
 * 16-bit logical counter packed in one uint64_t, so timestamps compare as
 * plain integers.
 *
 * The clock is pure: callers pass the wall time in, so the rules can be unit
 * tested without sleeping.  All functions are thread safe and lock free (one
 * C11 compare-and-swap loop per call).
 *
 *   63                              16 15            0
 *  +----------------------------------+---------------+
 *  |      wall clock, unix ms (48)    | logical (16)  |
 *  +----------------------------------+---------------+
 *
 * When more than 65,535 events share one millisecond the logical counter
 * carries into the millisecond bits: the clock runs slightly ahead of the wall
 * clock until the wall clock catches up.  That keeps every timestamp unique
 * and monotonic, which is all the merge rules need.
 */
#ifndef STRATA_HLC_H
#define STRATA_HLC_H

#include <stdint.h>

#define HLC_LOGICAL_BITS 16
#define HLC_LOGICAL_MASK ((uint64_t)0xFFFF)
#define HLC_WALL_MS_MAX ((UINT64_C(1) << 48) - 1) /* ms; year 10889 */

/* A clock.  Zero-initialise it (`hlcClock c = {0};`); it needs no cleanup. */
typedef struct hlcClock {
    _Atomic uint64_t last; /* the last timestamp handed out or observed */
} hlcClock;

/* Packs a wall time (ms, truncated to 48 bits) and a logical counter. */
static inline uint64_t hlcMake(uint64_t wall_ms, uint16_t logical) {
    return ((wall_ms & HLC_WALL_MS_MAX) << HLC_LOGICAL_BITS) | logical;
}
/* The millisecond part of a timestamp. */
static inline uint64_t hlcWallMs(uint64_t hlc) { return hlc >> HLC_LOGICAL_BITS; }
/* The logical counter of a timestamp. */
static inline uint16_t hlcLogical(uint64_t hlc) { return (uint16_t)(hlc & HLC_LOGICAL_MASK); }

/* A timestamp for a local event: max(wall_ms << 16, last + 1).  Strictly
 * greater than every timestamp this clock returned or observed before. */
uint64_t hlcNow(hlcClock *c, uint64_t wall_ms);

/* Merges a timestamp received from another node and returns the timestamp of
 * the receive event: max(wall_ms << 16, max(last, remote) + 1).  Afterwards
 * hlcNow() returns values greater than `remote`. */
uint64_t hlcObserve(hlcClock *c, uint64_t remote, uint64_t wall_ms);

/* The last timestamp handed out or observed (0 for a fresh clock). */
uint64_t hlcLast(hlcClock *c);

#endif

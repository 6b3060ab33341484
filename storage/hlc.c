/* hlc.c - the hybrid logical clock of hlc.h: monotonic timestamps from a wall
 * time passed in by the caller, merged with remote timestamps by the
 * max(local, remote) + 1 rule.
 *
 * Both operations are one compare-and-swap loop on the last timestamp: a
 * thread computes its candidate from the value it loaded and retries if
 * another thread moved the clock in between, so no two callers ever receive
 * the same timestamp and no lock is taken.
 */
#include "hlc.h"

#include <stdatomic.h>

/* ---- Helpers ------------------------------------------------------------ */

/* Moves the clock to max(floor, last + 1) and returns the new value.  `floor`
 * is the wall-clock candidate; the +1 keeps timestamps strictly increasing. */
static uint64_t hlcAdvance(hlcClock *c, uint64_t floor, uint64_t remote) {
    uint64_t last = atomic_load_explicit(&c->last, memory_order_relaxed);
    for (;;) {
        uint64_t base = last > remote ? last : remote;
        /* Saturate rather than wrap to 0 on a (corrupt) all-ones remote. */
        uint64_t next = base == UINT64_MAX ? base : base + 1;
        if (floor > next) next = floor;
        if (atomic_compare_exchange_weak_explicit(&c->last, &last, next,
                                                  memory_order_acq_rel,
                                                  memory_order_relaxed))
            return next;
        /* `last` was reloaded by the failed CAS: retry with it. */
    }
}

/* ---- Public API --------------------------------------------------------- */

uint64_t hlcNow(hlcClock *c, uint64_t wall_ms) {
    return hlcAdvance(c, hlcMake(wall_ms, 0), 0);
}

uint64_t hlcObserve(hlcClock *c, uint64_t remote, uint64_t wall_ms) {
    return hlcAdvance(c, hlcMake(wall_ms, 0), remote);
}

uint64_t hlcLast(hlcClock *c) {
    return atomic_load_explicit(&c->last, memory_order_acquire);
}

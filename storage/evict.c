/* evict.c - which cached object leaves RAM first: the maxmemory-policy
 * score and the LFU counter (Redis's logarithmic counter with decay).
 *
 * Pure functions of an object's bookkeeping fields and the clock, so cmocka
 * tests them directly; hotset.c samples entries and evicts the highest
 * score.  Eviction from the hot set never deletes data (the value stays in
 * RocksDB), so every policy always finds a victim: volatile-* policies
 * prefer keys with a TTL and fall back to the others only when a sample
 * holds none, because the RAM bound must hold whatever the keys are.
 */
#include <stdatomic.h>

#include "st_internal.h"

/* Policy and knobs; set by stSetEvictionPolicy(), read by every sampler. */
static _Atomic int evict_policy = ST_EVICT_LRU;
static _Atomic int evict_samples = 5;
static _Atomic int lfu_log_factor = 10;
static _Atomic int lfu_decay_minutes = 1;

void stSetEvictionPolicy(stEngine *st, int policy, int samples, int log_factor,
                         int decay_minutes) {
    (void)st;
    atomic_store(&evict_policy, policy);
    atomic_store(&evict_samples, samples < 1 ? 1 : samples > 64 ? 64 : samples);
    atomic_store(&lfu_log_factor, log_factor < 0 ? 0 : log_factor);
    atomic_store(&lfu_decay_minutes, decay_minutes < 0 ? 0 : decay_minutes);
}

int evictSamples(void) { return atomic_load_explicit(&evict_samples, memory_order_relaxed); }

uint8_t lfuDecay(uint8_t counter, uint32_t last_access_s, uint32_t now_s, int decay_minutes) {
    if (decay_minutes <= 0 || now_s <= last_access_s) return counter;
    uint32_t periods = (now_s - last_access_s) / 60 / (uint32_t)decay_minutes;
    return periods >= counter ? 0 : (uint8_t)(counter - periods);
}

uint8_t lfuIncr(uint8_t counter, int log_factor, double r) {
    if (counter == 255) return 255;
    double base = counter > ST_LFU_INIT ? counter - ST_LFU_INIT : 0;
    /* The more accesses a key has, the less likely the next one counts:
     * about log_factor * 2^(counter) accesses reach a given counter. */
    return r < 1.0 / (base * log_factor + 1) ? counter + 1 : counter;
}

uint8_t stObjFreq(const stObj *o) {
    return lfuDecay(__atomic_load_n(&o->lfu, __ATOMIC_RELAXED),
                    __atomic_load_n(&o->lru_clock, __ATOMIC_RELAXED), stLruClock(),
                    atomic_load_explicit(&lfu_decay_minutes, memory_order_relaxed));
}

void evictTouch(stObj *o, uint32_t now_s) {
    uint32_t last = __atomic_load_n(&o->lru_clock, __ATOMIC_RELAXED);
    uint8_t c = lfuDecay(__atomic_load_n(&o->lfu, __ATOMIC_RELAXED), last, now_s,
                         atomic_load_explicit(&lfu_decay_minutes, memory_order_relaxed));
    double r = (double)(stRandom64() >> 11) / (double)(UINT64_C(1) << 53);
    c = lfuIncr(c, atomic_load_explicit(&lfu_log_factor, memory_order_relaxed), r);
    __atomic_store_n(&o->lfu, c, __ATOMIC_RELAXED);
    __atomic_store_n(&o->lru_clock, now_s, __ATOMIC_RELAXED);
}

uint64_t evictScoreFor(int policy, const stObj *o, uint32_t now_s, uint64_t rnd,
                       int decay_minutes) {
    evictStamp e = {o->meta.expire_ms, __atomic_load_n(&o->lru_clock, __ATOMIC_RELAXED),
                    __atomic_load_n(&o->lfu, __ATOMIC_RELAXED)};
    return evictScoreStamp(policy, &e, now_s, rnd, decay_minutes);
}

uint64_t evictScoreStamp(int policy, const evictStamp *e, uint32_t now_s, uint64_t rnd,
                         int decay_minutes) {
    /* Bit 63: the object may be chosen under a volatile-* policy first. */
    uint64_t pref = (!(policy & ST_EVICT_VOLATILE) || e->expire_ms) ? UINT64_C(1) << 63 : 0;
    uint32_t last = e->lru_clock;
    uint64_t score;
    switch (policy & ~ST_EVICT_VOLATILE) {
    case ST_EVICT_LFU:
        score = 255 - lfuDecay(e->lfu, last, now_s, decay_minutes);
        score = score << 32 | (now_s > last ? now_s - last : 0); /* ties: older first */
        break;
    case ST_EVICT_RANDOM:
        score = rnd >> 1;
        break;
    case ST_EVICT_TTL:
        /* Sooner expiry first; keys without a TTL last. */
        score = e->expire_ms ? (UINT64_C(1) << 62) - (e->expire_ms >> 2) : 0;
        break;
    default: /* LRU */
        score = now_s > last ? now_s - last : 0;
        break;
    }
    return pref | (score & ~(UINT64_C(1) << 63));
}

uint64_t evictScore(const evictStamp *e, uint32_t now_s) {
    return evictScoreStamp(atomic_load_explicit(&evict_policy, memory_order_relaxed), e, now_s,
                           stRandom64(),
                           atomic_load_explicit(&lfu_decay_minutes, memory_order_relaxed));
}

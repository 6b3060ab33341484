/* overlay.c - the element writes a batch has queued but not committed, kept
 * searchable so that reads through the batch (coll.c) see them: a group of
 * pipelined commands, a MULTI/EXEC or a script shares one batch, and its
 * later commands must read what its earlier ones wrote.
 *
 * Entries are appended in write order, their bytes copied into an arena of
 * blocks that never move; a hash table maps (column family, record key) to
 * the newest entry of that key, for point reads.  Ranges (iterators) use a
 * sorted index of the newest entries, brought up to date lazily: the
 * entries added since the last range are folded in by binary search, so a
 * range costs O(log entries + entries in it) plus O(entries) of memmove per
 * entry added between ranges (LPOP in a pipeline group: one iterator and one
 * delete per pop; scanning every entry with a hash probe per iterator was a
 * fifth of its time).
 *
 * Invariants:
 *  1. slots[] holds, for every (cf, key) ever added, the index + 1 of its
 *     newest entry; older entries of a key are dead and never returned.
 *  2. Entry indexes and the bytes entries point to stay valid until
 *     ovFree(): an iterator's sorted index, and the key it returned, stay
 *     valid while the same batch queues more writes (LREM deletes what its
 *     iterator shows).
 *  3. sorted[0, nsorted) holds the index of the newest entry of every
 *     (cf, key) among entries [0, sorted_upto), ordered by (cf, key).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "st_internal.h"

#define OV_FIRST_BLOCK_BYTES 512
#define OV_BLOCK_BYTES 65536

typedef struct ovEntry {
    uint8_t cf;
    uint8_t del;
    const char *key, *val; /* in the arena */
    size_t klen, vlen;
} ovEntry;

/* Arena blocks are never moved (invariant 2). */
typedef struct ovBlock {
    struct ovBlock *next;
    size_t used, cap;
    char data[];
} ovBlock;

struct overlay {
    ovEntry *e;
    size_t n, cap;
    ovBlock *blocks; /* newest first */
    uint32_t *slots; /* entry index + 1, 0 = empty; power-of-two size */
    size_t nslots;
    uint32_t *sorted; /* invariant 3: a cache, refreshed by ovRange() */
    size_t nsorted, capsorted, sorted_upto;
};

/* ---- Helpers -------------------------------------------------------------- */

static void *ovRealloc(void *p, size_t n) {
    void *q = realloc(p, n);
    if (!q) {
        fprintf(stderr, "strata storage: out of memory in a batch overlay\n");
        abort();
    }
    return q;
}

static uint64_t ovHash(int cf, const char *key, size_t klen) {
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)cf;
    for (size_t i = 0; i < klen; i++) h = (h ^ (unsigned char)key[i]) * 1099511628211ULL;
    return h ^ (h >> 29);
}

static int ovSame(const ovEntry *e, int cf, const char *key, size_t klen) {
    return e->cf == cf && e->klen == klen && memcmp(e->key, key, klen) == 0;
}

/* The slot of (cf, key): the one holding it, or the empty one to insert at. */
static uint32_t *ovSlot(const overlay *ov, int cf, const char *key, size_t klen) {
    size_t mask = ov->nslots - 1;
    for (size_t i = ovHash(cf, key, klen) & mask;; i = (i + 1) & mask) {
        uint32_t s = ov->slots[i];
        if (!s || ovSame(&ov->e[s - 1], cf, key, klen)) return &ov->slots[i];
    }
}

static void ovRehash(overlay *ov) {
    size_t old = ov->nslots;
    uint32_t *slots = ov->slots;
    ov->nslots = old ? old * 2 : 64;
    ov->slots = calloc(ov->nslots, sizeof(uint32_t));
    if (!ov->slots) abort();
    for (size_t i = 0; i < old; i++) {
        if (!slots[i]) continue;
        const ovEntry *e = &ov->e[slots[i] - 1];
        *ovSlot(ov, e->cf, e->key, e->klen) = slots[i];
    }
    free(slots);
}

/* Copies a + b contiguously into the arena; returns the copy. */
static const char *ovCopy(overlay *ov, const char *a, size_t an, const char *b, size_t bn) {
    size_t n = an + bn;
    ovBlock *bl = ov->blocks;
    if (!bl || bl->cap - bl->used < n) {
        /* Blocks double from OV_FIRST_BLOCK_BYTES: most batches hold a
         * command's few records, and a 64 KB block per command showed. */
        size_t cap = bl ? bl->cap * 2 : OV_FIRST_BLOCK_BYTES;
        if (cap > OV_BLOCK_BYTES) cap = OV_BLOCK_BYTES;
        if (cap < n) cap = n;
        bl = ovRealloc(NULL, sizeof(*bl) + cap);
        bl->next = ov->blocks;
        bl->used = 0;
        bl->cap = cap;
        ov->blocks = bl;
    }
    char *p = bl->data + bl->used;
    if (an) memcpy(p, a, an);
    if (bn) memcpy(p + an, b, bn);
    bl->used += n;
    return p;
}

/* ---- API (st_internal.h) --------------------------------------------------- */

overlay *ovNew(void) {
    overlay *ov = calloc(1, sizeof(*ov));
    if (!ov) abort();
    return ov;
}

void ovFree(overlay *ov) {
    if (!ov) return;
    free(ov->e);
    free(ov->sorted);
    while (ov->blocks) {
        ovBlock *next = ov->blocks->next;
        free(ov->blocks);
        ov->blocks = next;
    }
    free(ov->slots);
    free(ov);
}

void ovAdd(overlay *ov, int cf, const char *key, size_t klen, const char *v1, size_t v1len,
           const char *v2, size_t v2len, int del) {
    if ((ov->n + 1) * 2 > ov->nslots) ovRehash(ov);
    if (ov->n == ov->cap) {
        ov->cap = ov->cap ? ov->cap * 2 : 32;
        ov->e = ovRealloc(ov->e, ov->cap * sizeof(*ov->e));
    }
    ovEntry *e = &ov->e[ov->n];
    e->cf = (uint8_t)cf;
    e->del = (uint8_t)del;
    e->key = ovCopy(ov, key, klen, NULL, 0);
    e->klen = klen;
    e->val = ovCopy(ov, v1, v1len, v2, v2len);
    e->vlen = v1len + v2len;
    ov->n++;
    *ovSlot(ov, cf, key, klen) = (uint32_t)ov->n; /* invariant 1 */
}

int ovGet(const overlay *ov, int cf, const char *key, size_t klen, const char **val,
          size_t *vlen) {
    if (!ov || !ov->n) return 0;
    uint32_t s = *ovSlot(ov, cf, key, klen);
    if (!s) return 0;
    const ovEntry *e = &ov->e[s - 1];
    if (e->del) return -1;
    *val = e->val;
    *vlen = e->vlen;
    return 1;
}

/* Orders entry e against (cf, key). */
static int ovCmp(const ovEntry *e, int cf, const char *key, size_t klen) {
    if (e->cf != cf) return e->cf < cf ? -1 : 1;
    size_t n = e->klen < klen ? e->klen : klen;
    int c = memcmp(e->key, key, n);
    return c ? c : (e->klen > klen) - (e->klen < klen);
}

/* First position of the sorted index whose entry is >= (cf, key). */
static size_t ovLowerBound(const overlay *ov, int cf, const char *key, size_t klen) {
    size_t lo = 0, hi = ov->nsorted;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ovCmp(&ov->e[ov->sorted[mid]], cf, key, klen) < 0) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* Folds the entries added since the last range into the sorted index. */
static void ovFold(overlay *ov) {
    for (size_t i = ov->sorted_upto; i < ov->n; i++) {
        const ovEntry *e = &ov->e[i];
        size_t pos = ovLowerBound(ov, e->cf, e->key, e->klen);
        if (pos < ov->nsorted && ovCmp(&ov->e[ov->sorted[pos]], e->cf, e->key, e->klen) == 0) {
            ov->sorted[pos] = (uint32_t)i; /* newer entry of the same key */
            continue;
        }
        if (ov->nsorted == ov->capsorted) {
            ov->capsorted = ov->capsorted ? ov->capsorted * 2 : 64;
            ov->sorted = ovRealloc(ov->sorted, ov->capsorted * sizeof(uint32_t));
        }
        memmove(ov->sorted + pos + 1, ov->sorted + pos, (ov->nsorted - pos) * sizeof(uint32_t));
        ov->sorted[pos] = (uint32_t)i;
        ov->nsorted++;
    }
    ov->sorted_upto = ov->n;
}

size_t ovRange(const overlay *cov, int cf, const char *lo, size_t lolen, const char *hi,
               size_t hilen, uint32_t **out) {
    *out = NULL;
    if (!cov || !cov->n) return 0;
    /* The sorted index is a cache of what the overlay holds: refreshing it
     * changes no answer (a batch is used by one thread at a time). */
    overlay *ov = (overlay *)cov;
    ovFold(ov);
    size_t from = ovLowerBound(ov, cf, lo, lolen), to = ovLowerBound(ov, cf, hi, hilen);
    if (to <= from) return 0;
    uint32_t *idx = ovRealloc(NULL, (to - from) * sizeof(*idx));
    memcpy(idx, ov->sorted + from, (to - from) * sizeof(*idx));
    *out = idx;
    return to - from;
}

void ovEntryAt(const overlay *ov, uint32_t i, const char **key, size_t *klen, const char **val,
               size_t *vlen, int *del) {
    const ovEntry *e = &ov->e[i];
    *key = e->key;
    *klen = e->klen;
    *val = e->val;
    *vlen = e->vlen;
    *del = e->del;
}

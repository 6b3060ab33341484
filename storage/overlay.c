/* overlay.c - the element writes a batch has queued but not committed, kept
 * searchable so that reads through the batch (coll.c) see them: a group of
 * pipelined commands, a MULTI/EXEC or a script shares one batch, and its
 * later commands must read what its earlier ones wrote.
 *
 * Entries are appended in write order, their bytes copied into an arena of
 * blocks that never move; a hash table maps
 * (column family, record key) to the newest entry of that key.  Ranges
 * (iterators) collect the newest entry of each key in the range and sort
 * them, which costs O(entries) per iterator: batches are short-lived and
 * bounded (a group holds at most a few hundred effects; a big HSET is the
 * worst case, and it does not iterate).
 *
 * Invariants:
 *  1. slots[] holds, for every (cf, key) ever added, the index + 1 of its
 *     newest entry; older entries of a key are dead and never returned.
 *  2. Entry indexes and the bytes entries point to stay valid until
 *     ovFree(): an iterator's sorted index, and the key it returned, stay
 *     valid while the same batch queues more writes (LREM deletes what its
 *     iterator shows).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "st_internal.h"

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
        size_t cap = n > OV_BLOCK_BYTES ? n : OV_BLOCK_BYTES;
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

static __thread const overlay *ovSortTls; /* qsort has no context argument */

static int ovCmpIdx(const void *a, const void *b) {
    const overlay *ov = ovSortTls;
    const ovEntry *x = &ov->e[*(const uint32_t *)a], *y = &ov->e[*(const uint32_t *)b];
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->key, y->key, n);
    return c ? c : (x->klen > y->klen) - (x->klen < y->klen);
}

size_t ovRange(const overlay *ov, int cf, const char *lo, size_t lolen, const char *hi,
               size_t hilen, uint32_t **out) {
    *out = NULL;
    if (!ov || !ov->n) return 0;
    uint32_t *idx = NULL;
    size_t n = 0, cap = 0;
    for (size_t i = 0; i < ov->n; i++) {
        const ovEntry *e = &ov->e[i];
        if (e->cf != cf) continue;
        const char *k = e->key;
        size_t m = e->klen < lolen ? e->klen : lolen;
        int c = memcmp(k, lo, m);
        if (c < 0 || (c == 0 && e->klen < lolen)) continue;
        m = e->klen < hilen ? e->klen : hilen;
        c = memcmp(k, hi, m);
        if (c > 0 || (c == 0 && e->klen >= hilen)) continue;
        if (*ovSlot(ov, cf, k, e->klen) != i + 1) continue; /* not the newest */
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            idx = ovRealloc(idx, cap * sizeof(*idx));
        }
        idx[n++] = (uint32_t)i;
    }
    ovSortTls = ov;
    if (n > 1) qsort(idx, n, sizeof(*idx), ovCmpIdx);
    *out = idx;
    return n;
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

/* object.c - stObj, the immutable reference-counted value of one key: creation
 * and the atomic retain/release that lets the hot set, batches and readers in
 * other threads share one object, and its idle time (OBJECT IDLETIME).
 *
 * An object is one malloc block (header + value + NUL).  The last
 * stObjRelease() frees it.  Everything but lru_clock / lfu (hot set
 * bookkeeping, see storage.h) is immutable once shared.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "st_internal.h"

/* ---- Public API --------------------------------------------------------- */

stObj *stObjNewRaw(const stMeta *meta, size_t vlen) {
    stObj *o = malloc(sizeof(*o) + vlen + 1);
    if (!o) {
        fprintf(stderr, "strata storage: out of memory allocating %zu bytes\n",
                sizeof(*o) + vlen + 1);
        abort();
    }
    if (meta)
        o->meta = *meta;
    else
        memset(&o->meta, 0, sizeof(o->meta));
    /* A collection's size is its elements' bytes (its value is bookkeeping):
     * copies of its meta keep it. */
    if (!meta || meta->type == ST_TYPE_STRING || meta->type == ST_TYPE_NONE) o->meta.size = vlen;
    o->refcount = 1;
    o->lru_clock = stLruClock();
    o->lfu = ST_LFU_INIT;
    o->vlen = vlen;
    o->val[vlen] = '\0';
    return o;
}

stObj *stObjNew(const stMeta *meta, const char *val, size_t vlen) {
    stObj *o = stObjNewRaw(meta, vlen);
    if (vlen) memcpy(o->val, val, vlen);
    return o;
}

stObj *stObjFromRecord(const stMeta *m, const char *val, size_t vlen) {
    stObj *o = stObjNew(m, val, vlen);
    if (m->type != ST_TYPE_STRING) {
        uint64_t bytes;
        const char *h, *t;
        size_t hl, tl;
        o->meta.size = encCollInfoDecode(val, vlen, &bytes, &h, &hl, &t, &tl) == 0 ? bytes : 0;
    }
    return o;
}

uint64_t stObjIdleSeconds(const stObj *o) {
    uint32_t now = stLruClock();
    uint32_t last = __atomic_load_n(&o->lru_clock, __ATOMIC_RELAXED);
    return now >= last ? now - last : 0;
}

void stObjRetain(stObj *o) {
    __atomic_add_fetch(&o->refcount, 1, __ATOMIC_RELAXED);
}

void stObjRelease(stObj *o) {
    if (!o) return;
    /* acq_rel: the thread that frees sees every other owner's last access. */
    if (__atomic_sub_fetch(&o->refcount, 1, __ATOMIC_ACQ_REL) == 0) free(o);
}

/* setpool.h - SPOP's pools of random members of big sets (setpool.c). */
#ifndef STRATA_SETPOOL_H
#define STRATA_SETPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "../storage/storage.h"

typedef struct setPool setPool;

/* Members a pool of a set of `count` members and `bytes` element bytes gets
 * (0 when none should be built). */
size_t setPoolSizeFor(uint64_t count, uint64_t bytes);
/* A uniformly random k-subset of the members h sees, in one ordered walk;
 * NULL when the walk did not find the set's count of members. */
setPool *setPoolBuild(stColl *h, size_t k);
/* Removes a uniformly random member from the pool: heap copy (caller
 * frees), NULL when the pool is empty. */
char *setPoolPop(setPool *p, size_t *ml);
/* What is stored for (db, key) if it was stored for exactly the set state m
 * describes (else it is dropped): the pool, which the caller owns until
 * setPoolPut() or setPoolFree(), or NULL; *pops, the SPOPs in a row that
 * led to that state (0 when nothing matched). */
setPool *setPoolTake(int db, const char *key, size_t klen, const stMeta *m, uint64_t *pops);
/* Stores p (NULL: no pool) and the count of SPOPs in a row for the set
 * state m (the meta record of the caller's write); m NULL frees p. */
void setPoolPut(setPool *p, uint64_t pops, int db, const char *key, size_t klen, const stMeta *m);
void setPoolFree(setPool *p);

#endif

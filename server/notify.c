/* notify.c - keyspace notifications (notify-keyspace-events): the event
 * classes a write announces and their publication on the __keyspace@<db>__
 * and __keyevent@<db>__ channels, as Redis 7.0 does.
 *
 * Commands call notifyKeyspaceEvent() after a successful write, with the
 * event name Redis uses ("hset", "lpush", "del", "expired", ...).  With no
 * class enabled (the default) a call is one relaxed atomic load.
 *
 * Messages are published when the command runs.  Inside a write group
 * (pipelined writes sharing one batch, commands.c) that is before the
 * group's batch commits: a subscriber that reacts by reading the key at
 * once may, rarely, see it before the write lands.
 */
#include <stdio.h>
#include <string.h>

#include "server.h"

void notifyKeyspaceEvent(int type, const char *event, const char *key, size_t klen, int db)
{
    int flags = __atomic_load_n(&cfg.notify_flags, __ATOMIC_RELAXED);
    if (!(flags & type) || !(flags & (NOTIFY_KEYSPACE | NOTIFY_KEYEVENT))) return;
    strbuf ch;
    sbInit(&ch);
    size_t elen = strlen(event);
    if (flags & NOTIFY_KEYSPACE) {
        sbPrintf(&ch, "__keyspace@%d__:", db);
        sbAppend(&ch, key, klen);
        pubsubPublishMessage(ch.buf, ch.len, event, elen);
        sbClear(&ch);
    }
    if (flags & NOTIFY_KEYEVENT) {
        sbPrintf(&ch, "__keyevent@%d__:%s", db, event);
        pubsubPublishMessage(ch.buf, ch.len, key, klen);
    }
    sbFree(&ch);
}

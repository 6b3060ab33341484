"""Integration tests for transactions (server/multi.c): MULTI EXEC DISCARD
WATCH UNWATCH with Redis 7.0's replies and errors, EXECABORT after a refused
command, WATCH against writes from other clients, other threads, the
watcher itself, expiry and FLUSHALL, one WriteBatch per EXEC, reads of the
transaction's own writes, and atomicity against concurrent readers.

Tests not marked strata_only pass against redis-server 7.0 too
(STRATA_BIN=/usr/bin/redis-server).
"""
import os
import threading
import time

import pytest
import redis

from rawresp import RawConn
from strata import SLOW, wait_until, start_replica_pair, wait_replica_converged

IS_REDIS = os.path.basename(os.environ.get("STRATA_BIN", "")) == "redis-server"
strata_only = pytest.mark.skipif(IS_REDIS, reason="Strata-specific behaviour")


def raw(server, *cmds):
    """Replies (raw bytes) of commands sent in one pipeline on a new socket."""
    with RawConn(server.port) as rc:
        for cmd in cmds:
            rc.send(b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in
                             [x.encode() for x in cmd]).join([b"*%d\r\n" % len(cmd), b""]))
        return [rc.reply().raw for _ in cmds]


def test_multi_exec_basic(server, r):
    out = raw(server, ["MULTI"], ["SET", "a", "1"], ["INCR", "a"], ["GET", "a"], ["EXEC"])
    assert out == [b"+OK\r\n", b"+QUEUED\r\n", b"+QUEUED\r\n", b"+QUEUED\r\n",
                   b"*3\r\n+OK\r\n:2\r\n$1\r\n2\r\n"]


def test_errors_and_nesting(server, r):
    out = raw(server, ["EXEC"], ["DISCARD"], ["MULTI"], ["MULTI"], ["WATCH", "x"],
              ["SET", "a", "1"], ["EXEC"])
    assert out == [b"-ERR EXEC without MULTI\r\n", b"-ERR DISCARD without MULTI\r\n", b"+OK\r\n",
                   b"-ERR MULTI calls can not be nested\r\n",
                   b"-ERR WATCH inside MULTI is not allowed\r\n", b"+QUEUED\r\n",
                   b"*1\r\n+OK\r\n"]


def test_execabort_after_refused_command(server, r):
    out = raw(server, ["MULTI"], ["SET", "a"], ["SET", "b", "1"], ["EXEC"], ["GET", "b"])
    assert out[1] == b"-ERR wrong number of arguments for 'set' command\r\n"
    assert out[3] == b"-EXECABORT Transaction discarded because of previous errors.\r\n"
    assert out[4] == b"$-1\r\n"
    out = raw(server, ["MULTI"], ["NOSUCHCMD"], ["EXEC"])
    assert out[2].startswith(b"-EXECABORT")
    out = raw(server, ["MULTI"], ["SAVE"], ["EXEC"])
    assert out[1] == b"-ERR Command not allowed inside a transaction\r\n"
    assert out[2].startswith(b"-EXECABORT")


def test_runtime_error_does_not_abort(server, r):
    r.hset("h", "f", "v")
    out = raw(server, ["MULTI"], ["INCR", "c"], ["INCR", "h"], ["INCR", "c"], ["EXEC"])
    assert out[4] == (b"*3\r\n:1\r\n-WRONGTYPE Operation against a key holding the wrong kind "
                      b"of value\r\n:2\r\n")


def test_discard_and_reset(server, r):
    out = raw(server, ["MULTI"], ["SET", "d", "1"], ["DISCARD"], ["GET", "d"], ["EXEC"])
    assert out[2:] == [b"+OK\r\n", b"$-1\r\n", b"-ERR EXEC without MULTI\r\n"]
    out = raw(server, ["MULTI"], ["SET", "d", "1"], ["RESET"], ["EXEC"], ["GET", "d"])
    assert out[2:] == [b"+RESET\r\n", b"-ERR EXEC without MULTI\r\n", b"$-1\r\n"]


def test_transaction_reads_its_own_writes(server, r):
    out = raw(server, ["MULTI"], ["HSET", "h", "a", "1", "b", "2"], ["HGETALL", "h"],
              ["HDEL", "h", "a", "b"], ["EXISTS", "h"], ["SET", "s", "x"], ["APPEND", "s", "y"],
              ["GET", "s"], ["DEL", "s"], ["GET", "s"], ["EXEC"])
    assert out[-1] == (b"*9\r\n:2\r\n*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n:2\r\n:0\r\n"
                       b"+OK\r\n:2\r\n$2\r\nxy\r\n:1\r\n$-1\r\n")


def test_resp3_aborted_exec_is_null(server, r):
    with RawConn(server.port) as rc:
        rc.cmd("HELLO", "3")
        rc.cmd("WATCH", "k")
        r.set("k", "changed")
        rc.cmd("MULTI")
        rc.cmd("PING")
        assert rc.cmd("EXEC").raw == b"_\r\n"


def test_watch_other_client(server, r):
    c2 = server.client(decode_responses=True)
    p = r.pipeline(transaction=True)
    p.watch("w")
    p.multi()
    p.set("w", "mine")
    c2.set("w", "theirs")
    with pytest.raises(redis.WatchError):
        p.execute()
    assert r.get("w") == "theirs"
    # Unchanged watched keys let the transaction through.
    p = r.pipeline(transaction=True)
    p.watch("w", "other")
    p.multi()
    p.set("w", "mine")
    assert p.execute() == [True]
    c2.close()


def test_watch_cases(server, r):
    def attempt(before):
        with RawConn(server.port) as rc:
            rc.cmd("WATCH", "k")
            before()
            rc.cmd("MULTI")
            rc.cmd("SET", "k", "tx")
            return rc.cmd("EXEC").raw
    r.delete("k")
    assert attempt(lambda: r.set("k", "1")) == b"*-1\r\n"          # created
    assert attempt(lambda: r.set("k", "1")) == b"*-1\r\n"          # same value rewritten
    assert attempt(lambda: r.delete("k")) == b"*-1\r\n"            # deleted
    assert attempt(lambda: r.delete("nothing")) == b"*1\r\n+OK\r\n"  # unrelated
    r.set("k", "1")
    assert attempt(lambda: r.flushall()) == b"*-1\r\n"
    assert attempt(lambda: r.flushall()) == b"*1\r\n+OK\r\n"       # k absent both times
    r.hset("hk", "f", "1")
    with RawConn(server.port) as rc:
        rc.cmd("WATCH", "hk")
        r.hset("hk", "g", "2")  # an element write of a watched collection
        rc.cmd("MULTI")
        rc.cmd("PING")
        assert rc.cmd("EXEC").raw == b"*-1\r\n"


def test_watch_own_write_and_unwatch(server, r):
    with RawConn(server.port) as rc:
        rc.cmd("WATCH", "k")
        rc.cmd("SET", "k", "self")
        rc.cmd("MULTI")
        rc.cmd("PING")
        assert rc.cmd("EXEC").raw == b"*-1\r\n"
        rc.cmd("WATCH", "k")
        r.set("k", "other")
        assert rc.cmd("UNWATCH").raw == b"+OK\r\n"
        rc.cmd("MULTI")
        rc.cmd("PING")
        assert rc.cmd("EXEC").raw == b"*1\r\n+PONG\r\n"
        # EXEC forgets the watches of its transaction.
        rc.cmd("WATCH", "k")
        rc.cmd("MULTI")
        rc.cmd("PING")
        rc.cmd("EXEC")
        r.set("k", "again")
        rc.cmd("MULTI")
        rc.cmd("PING")
        assert rc.cmd("EXEC").raw == b"*1\r\n+PONG\r\n"


def test_watch_expiry(server, r):
    r.set("e", "v", px=50)
    with RawConn(server.port) as rc:
        rc.cmd("WATCH", "e")
        time.sleep(0.15)
        rc.cmd("MULTI")
        rc.cmd("PING")
        assert rc.cmd("EXEC").raw == b"*-1\r\n"


@strata_only  # --server-threads
def test_watch_across_threads(mt_server, mt):
    """Watchers and writers on many connections, spread over two threads."""
    aborted = 0
    for i in range(20):
        watcher = RawConn(mt_server.port)
        writer = mt_server.client()
        watcher.cmd("WATCH", "x")
        writer.set("x", str(i))
        watcher.cmd("MULTI")
        watcher.cmd("SET", "x", "tx")
        aborted += watcher.cmd("EXEC").raw == b"*-1\r\n"
        watcher.close()
        writer.close()
    assert aborted == 20


@strata_only  # --server-threads
def test_optimistic_increment_is_exact(mt_server, mt):
    """The CAS loop of every client library: WATCH, GET, MULTI SET EXEC, retry."""
    mt.set("counter", "0")
    per, nthreads, errors = 50, 4, []

    def worker():
        cl = mt_server.client(decode_responses=True)
        try:
            for _ in range(per):
                for _attempt in range(1000):
                    with cl.pipeline(transaction=True) as p:
                        try:
                            p.watch("counter")
                            v = int(p.get("counter"))
                            p.multi()
                            p.set("counter", str(v + 1))
                            p.execute()
                            break
                        except redis.WatchError:
                            continue
        except Exception as e:  # noqa: BLE001
            errors.append(e)
        finally:
            cl.close()

    ts = [threading.Thread(target=worker) for _ in range(nthreads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60 * SLOW)
    assert not errors
    assert mt.get("counter") == str(per * nthreads)


@strata_only  # --server-threads
def test_readers_never_see_half_a_transaction(mt_server, mt):
    stop, bad = threading.Event(), []

    def reader():
        cl = mt_server.client(decode_responses=True)
        deadline = time.time() + 10 * SLOW
        while not stop.is_set() and time.time() < deadline:
            a, b = cl.mget("ta", "tb")
            if a != b:
                bad.append((a, b))
        cl.close()

    t = threading.Thread(target=reader)
    t.start()
    for i in range(300):
        p = mt.pipeline(transaction=True)
        p.set("ta", i)
        p.set("tb", i)
        p.execute()
    stop.set()
    t.join(30)
    assert bad == []


@strata_only
def test_exec_is_one_write_batch(server, r):
    def batches():
        return int(r.info("persistence")["storage_batches_committed"])
    r.set("warm", "1")
    before = batches()
    p = r.pipeline(transaction=True)
    for i in range(10):
        p.set(f"k{i}", i)
    p.hset("h", mapping={"a": "1", "b": "2"})
    p.delete("warm")
    p.execute()
    assert batches() == before + 1
    assert r.get("k9") == "9" and r.hget("h", "b") == "2" and not r.exists("warm")


@strata_only
def test_transactions_replicate(make_server):
    m, rc = start_replica_pair(make_server)
    for i in range(50):
        p = m.pipeline(transaction=True)
        p.incr("n")
        p.hset("h", f"f{i}", i)
        p.set(f"s{i}", i)
        p.execute()
    wait_replica_converged(m, rc)
    assert rc.get("n") == "50"

"""Integration tests for the hash commands (server/cmd_hash.c) on the
collection layout (storage/coll.c): replies and error strings as Redis 7.0,
WRONGTYPE both ways, empty-hash deletion, expiry, RENAME/COPY/MOVE, group
commit (a pipeline reading its own writes), restart, replication (DEBUG
DIGEST equal) and a hash of a million fields under maxmemory 64mb.

Tests that do not use Strata-only features pass against redis-server 7.0 too
(STRATA_BIN=/usr/bin/redis-server); those that do are marked strata_only.
Field order is unspecified in Redis, so multi-field replies are compared as
sets or sorted lists.
"""
import os
import random

import pytest
import redis

from strata import (SLOW, StrataServer, wait_until,
                    start_replica_pair, wait_replica_converged, assert_rss_within_maxmemory)
from checks import arity_err, err
from rawresp import RawConn

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
IS_REDIS = os.path.basename(os.environ.get("STRATA_BIN", "")) == "redis-server"
strata_only = pytest.mark.skipif(IS_REDIS, reason="Strata-specific behaviour")


def test_hset_hget_counts(c):
    assert c.execute_command("HSET", "h", "a", "1", "b", "2") == 2
    assert c.execute_command("HSET", "h", "a", "10", "c", "3") == 1
    assert c.execute_command("HGET", "h", "a") == "10"
    assert c.execute_command("HGET", "h", "zz") is None
    assert c.execute_command("HGET", "nokey", "a") is None
    assert c.execute_command("HMGET", "h", "a", "zz", "c") == ["10", None, "3"]
    assert c.execute_command("HMGET", "nokey", "a", "b") == [None, None]
    assert c.execute_command("HLEN", "h") == 3
    assert c.execute_command("HLEN", "nokey") == 0
    assert c.execute_command("TYPE", "h") == "hash"


def test_hset_of_the_same_value_is_still_a_write(server, c):
    """HSET of a field's current value stores nothing new (storage skips the
    element) but, as in Redis, it is a write: it counts as a change and
    fails a transaction that WATCHed the key."""
    c.execute_command("HSET", "h", "f", "v", "g", "w")
    w = server.client(decode_responses=True)
    try:
        before = w.info("persistence")["rdb_changes_since_last_save"]
        w.execute_command("WATCH", "h")
        assert c.execute_command("HSET", "h", "f", "v") == 0
        assert w.info("persistence")["rdb_changes_since_last_save"] > before
        w.execute_command("MULTI")
        w.execute_command("SET", "x", "1")
        assert w.execute_command("EXEC") is None
        assert c.execute_command("HGETALL", "h") == ["f", "v", "g", "w"]
        assert c.execute_command("HINCRBY", "h", "n", "0") == 0
        assert c.execute_command("HINCRBY", "h", "n", "0") == 0
        assert c.execute_command("HLEN", "h") == 3
    finally:
        w.close()


def test_hset_arity_and_hmset(c):
    assert err(c, "HSET", "h", "a", "1", "b") == arity_err("hset")
    assert err(c, "HMSET", "h", "a") == arity_err("hmset")
    assert c.execute_command("HMSET", "h", "a", "1", "b", "2") == "OK"
    assert c.execute_command("HGET", "h", "b") == "2"


def test_hsetnx(c):
    assert c.execute_command("HSETNX", "h", "a", "1") == 1
    assert c.execute_command("HSETNX", "h", "a", "2") == 0
    assert c.execute_command("HGET", "h", "a") == "1"


def test_hdel_and_empty_hash_disappears(c):
    c.execute_command("HSET", "h", "a", "1", "b", "2", "c", "3")
    assert c.execute_command("HDEL", "h", "a", "zz", "a") == 1
    assert c.execute_command("HLEN", "h") == 2
    assert c.execute_command("HDEL", "h", "b", "c") == 2
    assert c.execute_command("EXISTS", "h") == 0
    assert c.execute_command("TYPE", "h") == "none"
    assert c.execute_command("HDEL", "h", "a") == 0
    assert c.execute_command("DBSIZE") == 0


def test_hexists_hstrlen(c):
    c.execute_command("HSET", "h", "a", "hello", "e", "")
    assert c.execute_command("HEXISTS", "h", "a") == 1
    assert c.execute_command("HEXISTS", "h", "b") == 0
    assert c.execute_command("HEXISTS", "nokey", "a") == 0
    assert c.execute_command("HSTRLEN", "h", "a") == 5
    assert c.execute_command("HSTRLEN", "h", "e") == 0
    assert c.execute_command("HSTRLEN", "h", "zz") == 0


def test_hkeys_hvals_hgetall(c):
    pairs = {f"f{i}": f"v{i}" for i in range(50)}
    c.hset("h", mapping=pairs)
    assert sorted(c.execute_command("HKEYS", "h")) == sorted(pairs)
    assert sorted(c.execute_command("HVALS", "h")) == sorted(pairs.values())
    flat = c.execute_command("HGETALL", "h")
    assert dict(zip(flat[::2], flat[1::2])) == pairs
    assert c.execute_command("HGETALL", "nokey") == []
    assert c.execute_command("HKEYS", "nokey") == []


def test_hgetall_resp3_is_a_map(server, c):
    c.hset("h", mapping={"a": "1", "b": "2"})
    with RawConn(server.port) as rc:
        assert rc.cmd("HELLO", "3").type == "%"
        reply = rc.cmd("HGETALL", "h")
        assert reply.type == "%"
        assert reply.py() == {b"a": b"1", b"b": b"2"}
        pairs = rc.cmd("HRANDFIELD", "h", "2", "WITHVALUES")
        assert pairs.type == "*" and all(p.type == "*" for p in pairs.value)


def test_hincrby(c):
    assert c.execute_command("HINCRBY", "h", "n", "5") == 5
    assert c.execute_command("HINCRBY", "h", "n", "-7") == -2
    c.execute_command("HSET", "h", "s", "abc", "big", "9223372036854775807")
    assert err(c, "HINCRBY", "h", "s", "1") == "hash value is not an integer"
    assert err(c, "HINCRBY", "h", "n", "x") == "value is not an integer or out of range"
    assert err(c, "HINCRBY", "h", "big", "1") == "increment or decrement would overflow"
    assert c.execute_command("HGET", "h", "big") == "9223372036854775807"


def test_hincrbyfloat(c):
    assert c.execute_command("HINCRBYFLOAT", "h", "f", "10.5") == "10.5"
    assert c.execute_command("HINCRBYFLOAT", "h", "f", "0.1") == "10.6"
    assert c.execute_command("HINCRBYFLOAT", "h", "f", "-10.6") == "0"
    c.execute_command("HSET", "h", "s", "abc")
    assert err(c, "HINCRBYFLOAT", "h", "s", "1") == "hash value is not a float"
    assert err(c, "HINCRBYFLOAT", "h", "f", "x") == "value is not a valid float"
    assert err(c, "HINCRBYFLOAT", "h", "f", "inf") == "value is NaN or Infinity"


def test_hrandfield(c):
    assert c.execute_command("HRANDFIELD", "nokey") is None
    assert c.execute_command("HRANDFIELD", "nokey", "3") == []
    pairs = {f"f{i}": f"v{i}" for i in range(20)}
    c.hset("h", mapping=pairs)
    assert c.execute_command("HRANDFIELD", "h") in pairs
    assert c.execute_command("HRANDFIELD", "h", "0") == []
    got = c.execute_command("HRANDFIELD", "h", "5")
    assert len(got) == 5 and len(set(got)) == 5 and set(got) <= set(pairs)
    assert sorted(c.execute_command("HRANDFIELD", "h", "100")) == sorted(pairs)
    got = c.execute_command("HRANDFIELD", "h", "-50")
    assert len(got) == 50 and set(got) <= set(pairs)
    got = c.execute_command("HRANDFIELD", "h", "-7", "WITHVALUES")
    assert len(got) == 14
    for f, v in zip(got[::2], got[1::2]):
        assert pairs[f] == v
    assert err(c, "HRANDFIELD", "h", "1", "bogus") == "syntax error"
    assert err(c, "HRANDFIELD", "h", "x") == "value is not an integer or out of range"


@strata_only
def test_hrandfield_huge_negative_count_is_refused(c):
    # redis-server 7.0.15 hangs on this (fixed in later Redis: this error).
    c.execute_command("HSET", "h", "a", "1")
    assert err(c, "HRANDFIELD", "h", "-9223372036854775807") == "value is out of range"
    assert err(c, "HRANDFIELD", "h", "-4000000000000000000") == "value is out of range"
    assert len(c.execute_command("HRANDFIELD", "h", "-5000")) == 5000  # several chunks
    assert c.execute_command("PING") == "PONG"


def test_hrandfield_draws_are_spread(c):
    c.hset("h", mapping={f"f{i}": "x" for i in range(10)})
    seen = set(c.execute_command("HRANDFIELD", "h", "-400"))
    assert seen == {f"f{i}" for i in range(10)}
    orders = {tuple(c.execute_command("HRANDFIELD", "h", "-10")) for _ in range(5)}
    assert len(orders) > 1


def test_hscan_full_iteration(c):
    pairs = {f"f{i:03d}": f"v{i}" for i in range(300)}
    c.hset("h", mapping=pairs)
    cursor, seen = 0, {}
    for _ in range(1000):
        cursor, items = c.execute_command("HSCAN", "h", cursor, "COUNT", "17")
        cursor = int(cursor)
        for f, v in zip(items[::2], items[1::2]):
            seen[f] = v
        if cursor == 0:
            break
    assert seen == pairs
    cursor, items = c.execute_command("HSCAN", "h", "0", "MATCH", "f00*", "COUNT", "1000")
    assert int(cursor) == 0
    assert sorted(items[::2]) == [f"f00{i}" for i in range(10)]
    assert c.execute_command("HSCAN", "nokey", "0") == ["0", []]
    assert err(c, "HSCAN", "h", "0", "COUNT", "0") == "syntax error"
    assert err(c, "HSCAN", "h", "0", "BOGUS", "1") == "syntax error"


def test_wrongtype_both_ways(c):
    c.execute_command("SET", "s", "v")
    c.execute_command("HSET", "h", "a", "1")
    for cmd in (["HSET", "s", "a", "1"], ["HSETNX", "s", "a", "1"], ["HMSET", "s", "a", "1"],
                ["HGET", "s", "a"], ["HMGET", "s", "a"], ["HDEL", "s", "a"], ["HEXISTS", "s", "a"],
                ["HLEN", "s"], ["HSTRLEN", "s", "a"], ["HKEYS", "s"], ["HVALS", "s"],
                ["HGETALL", "s"], ["HINCRBY", "s", "a", "1"], ["HINCRBYFLOAT", "s", "a", "1"],
                ["HRANDFIELD", "s"], ["HSCAN", "s", "0"]):
        assert err(c, *cmd) == WRONGTYPE, cmd
    for cmd in (["GET", "h"], ["APPEND", "h", "x"], ["INCR", "h"], ["STRLEN", "h"],
                ["GETRANGE", "h", "0", "1"], ["SETRANGE", "h", "0", "x"]):
        assert err(c, *cmd) == WRONGTYPE, cmd
    assert c.execute_command("SET", "h", "now a string") == "OK"
    assert c.execute_command("GET", "h") == "now a string"


def test_binary_fields_and_values(cb):
    field, value = b"\x00\xff\r\nf", b"\x00v\xfe" * 100
    assert cb.execute_command("HSET", b"h\x00", field, value) == 1
    assert cb.execute_command("HGET", b"h\x00", field) == value
    assert cb.execute_command("HKEYS", b"h\x00") == [field]


def test_expire_and_ttl_on_hash(c):
    c.execute_command("HSET", "h", "a", "1")
    assert c.execute_command("PEXPIRE", "h", "100") == 1
    assert 0 < c.execute_command("PTTL", "h") <= 100
    c.execute_command("HSET", "h", "b", "2")  # writes keep the TTL
    assert c.execute_command("PTTL", "h") > 0
    wait_until(lambda: c.execute_command("EXISTS", "h") == 0, timeout=5, msg="hash to expire")
    assert c.execute_command("HGET", "h", "a") is None
    assert c.execute_command("HSET", "h", "c", "3") == 1
    assert c.execute_command("HKEYS", "h") == ["c"]
    assert c.execute_command("TTL", "h") == -1


def test_del_recreate_sees_no_old_fields(c):
    c.hset("h", mapping={f"f{i}": "x" for i in range(1000)})
    assert c.execute_command("DEL", "h") == 1
    assert c.execute_command("HLEN", "h") == 0
    c.execute_command("HSET", "h", "new", "1")
    assert c.execute_command("HGETALL", "h") == ["new", "1"]
    c.execute_command("SET", "h", "str")
    c.execute_command("DEL", "h")
    c.execute_command("HSET", "h", "x", "y")
    assert c.execute_command("HGETALL", "h") == ["x", "y"]


def hgetall(c, key):
    flat = c.execute_command("HGETALL", key)
    return dict(zip(flat[::2], flat[1::2]))


def test_rename_copy_move(c):
    c.hset("h", mapping={"a": "1", "b": "2"})
    c.execute_command("PEXPIRE", "h", "100000")
    assert c.execute_command("RENAME", "h", "h2") == "OK"
    assert c.execute_command("EXISTS", "h") == 0
    assert hgetall(c, "h2") == {"a": "1", "b": "2"}
    assert c.execute_command("PTTL", "h2") > 0
    c.hset("other", mapping={"z": "9"})
    assert c.execute_command("RENAME", "h2", "other") == "OK"
    assert hgetall(c, "other") == {"a": "1", "b": "2"}
    assert c.execute_command("COPY", "other", "cp") == 1
    c.execute_command("HSET", "cp", "c", "3")
    assert hgetall(c, "other") == {"a": "1", "b": "2"}
    assert hgetall(c, "cp") == {"a": "1", "b": "2", "c": "3"}
    assert c.execute_command("COPY", "other", "cp") == 0
    assert c.execute_command("COPY", "other", "cp", "REPLACE") == 1
    assert hgetall(c, "cp") == {"a": "1", "b": "2"}
    assert c.execute_command("MOVE", "cp", "1") == 1
    assert c.execute_command("EXISTS", "cp") == 0
    c.execute_command("SELECT", "1")
    assert hgetall(c, "cp") == {"a": "1", "b": "2"}
    assert c.execute_command("DBSIZE") == 1
    c.execute_command("SELECT", "0")
    assert c.execute_command("DBSIZE") == 1


def test_pipeline_reads_its_own_writes(c):
    p = c.pipeline(transaction=False)
    p.execute_command("HSET", "h", "a", "1")
    p.execute_command("HGET", "h", "a")
    p.execute_command("HINCRBY", "h", "n", "2")
    p.execute_command("HINCRBY", "h", "n", "3")
    p.execute_command("HDEL", "h", "a")
    p.execute_command("HGETALL", "h")
    p.execute_command("HLEN", "h")
    p.execute_command("DEL", "h")
    p.execute_command("HGET", "h", "n")
    p.execute_command("HSET", "h", "b", "x")
    p.execute_command("HGETALL", "h")
    assert p.execute() == [1, "1", 2, 5, 1, ["n", "5"], 1, 1, None, 1, ["b", "x"]]


@strata_only
def test_object_encoding_and_memory_usage(c):
    c.execute_command("HSET", "h", "a", "1")
    assert c.execute_command("OBJECT", "ENCODING", "h") == "hashtable"
    assert c.execute_command("MEMORY", "USAGE", "h") > 0


@strata_only
def test_hash_survives_restart(make_server):
    s = make_server().start()
    cl = s.client(decode_responses=True)
    cl.hset("h", mapping={f"f{i}": f"v{i}" for i in range(100)})
    cl.hdel("h", "f0")
    digest = cl.execute_command("DEBUG", "DIGEST")
    s.stop()
    s.start()
    cl = s.client(decode_responses=True)
    assert cl.hlen("h") == 99
    assert cl.hget("h", "f42") == "v42"
    assert cl.execute_command("DEBUG", "DIGEST") == digest


@strata_only
def test_digest_depends_on_fields(c):
    c.execute_command("HSET", "h", "a", "1")
    d1 = c.execute_command("DEBUG", "DIGEST")
    c.execute_command("HSET", "h", "a", "2")
    d2 = c.execute_command("DEBUG", "DIGEST")
    c.execute_command("HSET", "h", "a", "1")
    assert d1 != d2
    assert c.execute_command("DEBUG", "DIGEST") == d1


@strata_only
def test_hashes_replicate(make_server):
    m, rc = start_replica_pair(make_server)
    m.hset("h", mapping={f"f{i}": f"v{i}" for i in range(2000)})
    m.hincrby("h", "n", 5)
    m.hincrbyfloat("h", "fl", "1.5")
    m.hdel("h", "f1", "f2")
    m.hset("gone", mapping={"a": "1"})
    m.hdel("gone", "a")
    m.hset("big", mapping={f"f{i}": "x" * 20 for i in range(20000)})
    m.delete("big")
    m.hset("ttl", mapping={"a": "1"})
    m.pexpire("ttl", 50)
    m.hset("copy-src", mapping={"x": "1"})
    m.copy("copy-src", "copy-dst")
    m.rename("copy-src", "renamed")
    wait_until(lambda: m.exists("ttl") == 0, timeout=5, msg="ttl hash to expire on master")
    wait_replica_converged(m, rc)
    assert rc.hlen("h") == 2000
    assert rc.exists("big", "gone", "ttl") == 0
    assert rc.hgetall("renamed") == {"x": "1"}
    # The replica collects the deleted hash's records too.
    wait_until(lambda: int(rc.info("persistence")["storage_gc_dropped_records"]) >= 20000,
               timeout=30 * SLOW, msg="replica to drop the records of 'big'")


@pytest.mark.slow
@strata_only
def test_million_field_hash_under_64mb(make_server):
    s = make_server(args=["--maxmemory", "64mb"]).start()
    cl = s.client(decode_responses=True)
    n, per = 1_000_000, 2000
    p = cl.pipeline(transaction=False)
    for base in range(0, n, per):
        args = []
        for i in range(base, base + per):
            args += [f"field:{i}", f"value:{i}"]
        p.execute_command("HSET", "big", *args)
        if len(p) == 20:
            p.execute()
    p.execute()
    assert cl.hlen("big") == n
    for i in random.sample(range(n), 200):
        assert cl.hget("big", f"field:{i}") == f"value:{i}"
    assert_rss_within_maxmemory(s.proc.pid, 64 * 1024 * 1024)
    cursor, total = 0, 0
    for _ in range(10000):
        cursor, items = cl.hscan("big", cursor, count=5000)  # items: a dict
        total += len(items)
        if int(cursor) == 0:
            break
    assert total == n
    assert cl.delete("big") == 1
    assert cl.exists("big") == 0


@strata_only
def test_deleted_hash_records_are_collected(make_server):
    """DEL of a big hash is O(1); its field records are removed in the
    background (compaction filter + targeted compaction, storage/gc.c)."""
    s = make_server().start()
    cl = s.client(decode_responses=True)
    n = 20000
    p = cl.pipeline(transaction=False)
    for base in range(0, n, 1000):
        p.hset("big", mapping={f"f{i}": "x" * 50 for i in range(base, base + 1000)})
    p.execute()
    cl.hset("keep", mapping={f"f{i}": str(i) for i in range(2000)})
    cl.delete("big")
    cl.set("big", "now a string")  # the same name, another type

    def dropped():
        return int(cl.info("persistence")["storage_gc_dropped_records"])
    wait_until(lambda: dropped() >= n, timeout=30 * SLOW, msg="garbage records of 'big' removed")
    assert cl.get("big") == "now a string"
    assert cl.hlen("keep") == 2000 and cl.hget("keep", "f1999") == "1999"
    s.stop()
    s.start()
    cl = s.client(decode_responses=True)
    assert cl.hlen("keep") == 2000 and cl.hget("keep", "f7") == "7"

"""Integration tests across every data type: TYPE, OBJECT ENCODING, SCAN
TYPE, EXPIRE/TTL, COPY, RENAME, MOVE, DEL and a restart, for strings,
hashes, lists, sets and sorted sets alike (issue 5's "work for every
type"), with DEBUG DIGEST equal before and after the restart.
"""
import pytest

from strata import SLOW, wait_until

FILL = {
    "string": lambda c, k: c.execute_command("SET", k, "v"),
    "hash": lambda c, k: c.execute_command("HSET", k, "f1", "a", "f2", "b"),
    "list": lambda c, k: c.execute_command("RPUSH", k, "x", "y", "z"),
    "set": lambda c, k: c.execute_command("SADD", k, "m1", "m2"),
    "zset": lambda c, k: c.execute_command("ZADD", k, "1", "a", "2.5", "b"),
}
READ = {
    "string": lambda c, k: c.execute_command("GET", k),
    "hash": lambda c, k: sorted(c.execute_command("HGETALL", k)),
    "list": lambda c, k: c.execute_command("LRANGE", k, "0", "-1"),
    "set": lambda c, k: sorted(c.execute_command("SMEMBERS", k)),
    "zset": lambda c, k: c.execute_command("ZRANGE", k, "0", "-1", "WITHSCORES"),
}
ENCODING = {"string": "embstr", "hash": "hashtable", "list": "quicklist", "set": "hashtable",
            "zset": "skiplist"}


@pytest.mark.parametrize("t", sorted(FILL))
def test_generic_commands_on_every_type(c, t):
    FILL[t](c, "k")
    want = READ[t](c, "k")
    assert c.execute_command("TYPE", "k") == t
    assert c.execute_command("OBJECT", "ENCODING", "k") == ENCODING[t]
    FILL["string"](c, "other")
    cursor, keys = c.execute_command("SCAN", "0", "TYPE", t, "COUNT", "100")
    assert keys == ["k"] or (t == "string" and sorted(keys) == ["k", "other"])
    assert c.execute_command("EXPIRE", "k", "100") == 1
    assert 0 < c.execute_command("TTL", "k") <= 100
    assert c.execute_command("COPY", "k", "k2") == 1
    assert READ[t](c, "k2") == want and c.execute_command("TTL", "k2") > 0
    assert c.execute_command("RENAME", "k2", "k3") == "OK"
    assert c.execute_command("EXISTS", "k2") == 0 and READ[t](c, "k3") == want
    assert c.execute_command("MOVE", "k3", "1") == 1
    c.execute_command("SELECT", "1")
    assert c.execute_command("TYPE", "k3") == t and READ[t](c, "k3") == want
    c.execute_command("SELECT", "0")
    assert c.execute_command("PERSIST", "k") == 1 and c.execute_command("TTL", "k") == -1
    assert c.execute_command("DEL", "k") == 1
    assert c.execute_command("EXISTS", "k") == 0 and c.execute_command("TYPE", "k") == "none"
    FILL[t](c, "k")
    assert READ[t](c, "k") == want  # a new key: nothing of the old one shows


@pytest.mark.parametrize("t", sorted(FILL))
def test_expiry_removes_every_type(c, t):
    FILL[t](c, "e")
    c.execute_command("PEXPIRE", "e", "30")
    wait_until(lambda: c.execute_command("EXISTS", "e") == 0, timeout=5 * SLOW, msg="key to expire")
    assert c.execute_command("DBSIZE") == 0


def test_every_type_survives_restart(make_server):
    s = make_server().start()
    c = s.client(decode_responses=True)
    c.response_callbacks.clear()
    for t in FILL:
        FILL[t](c, "key:" + t)
    c.execute_command("PEXPIRE", "key:hash", "100000")
    want = {t: READ[t](c, "key:" + t) for t in FILL}
    digest = c.execute_command("DEBUG", "DIGEST")
    s.stop()
    s.start()
    c = s.client(decode_responses=True)
    c.response_callbacks.clear()
    assert {t: READ[t](c, "key:" + t) for t in FILL} == want
    assert c.execute_command("DEBUG", "DIGEST") == digest
    assert c.execute_command("TTL", "key:hash") > 0
    assert c.execute_command("DBSIZE") == len(FILL)


def test_small_collections_are_cached_whole(server, c):
    """storage/ccache.c: a small collection is read from RocksDB once and then
    served from RAM; every write gives it a new version, so cached reads
    never go stale; big collections are not cached."""
    def cached():
        info = c.execute_command("INFO", "memory")
        return int(info.split("hotset_collections:")[1].split()[0])
    base = cached()
    c.execute_command("HSET", "small", "a", "1", "b", "2")
    assert c.execute_command("HGET", "small", "a") == "1"
    assert cached() == base + 1
    for i in range(20):  # read, write, read: each read sees the last write
        c.execute_command("HSET", "small", "n", str(i))
        assert c.execute_command("HGET", "small", "n") == str(i)
        assert sorted(c.execute_command("HKEYS", "small")) == ["a", "b", "n"]
    assert cached() == base + 1  # one version kept per collection
    c.execute_command("HDEL", "small", "a", "b", "n")
    assert c.execute_command("HGETALL", "small") == []
    c.execute_command("SADD", "big", *[f"m{i}" for i in range(500)])
    assert c.execute_command("SISMEMBER", "big", "m7") == 1
    assert c.execute_command("SCARD", "big") == 500
    assert cached() == base + 1  # the big set was not cached (the dead small one ages out)

"""maxstorage (issue 4): the capacity limit of the data on disk.  Past it,
allkeys-*/volatile-* policies delete keys as a cache does (INFO evicted_keys),
noeviction refuses writes with -OOM while reads keep working.

Storage is accounted exactly as the bytes of keys and values
(INFO storage_data_bytes), not as file sizes, which lag behind compactions.
Deleting happens in the background (the memory keeper), so tests wait for the
data to come under the limit instead of expecting it after each write.
"""
import pytest

from checks import raw_line
from strata import wait_until

OOM = b"-OOM command not allowed when used storage > 'maxstorage'."
VALUE = b"v" * 1000


def mem(s):
    return s.client(decode_responses=True).info("memory")


def evicted(s):
    return s.client().info("stats")["evicted_keys"]


def fill(c, prefix, n, ex=None):
    """Pipelined SETs; returns how many were accepted."""
    p = c.pipeline(transaction=False)
    for i in range(n):
        p.set(f"{prefix}{i}", VALUE, ex=ex)
    return sum(r is True for r in p.execute(raise_on_error=False))


def test_data_bytes_are_exact(make_server):
    s = make_server().start()
    c = s.client()
    assert mem(s)["storage_data_bytes"] == 0
    c.set("k", "12345")
    assert mem(s)["storage_data_bytes"] == 1 + 5
    c.set("k", "1")
    assert mem(s)["storage_data_bytes"] == 2
    c.append("k", "abc")
    c.set("other", "x" * 100)
    assert mem(s)["storage_data_bytes"] == (1 + 4) + (5 + 100)
    c.delete("k")
    assert mem(s)["storage_data_bytes"] == 105
    c.flushall()
    assert mem(s)["storage_data_bytes"] == 0
    # Persisted with the data: the same after a restart.
    c.set("a", "b" * 10)
    s.stop()
    s.start()
    assert mem(s)["storage_data_bytes"] == 11


def test_noeviction_refuses_writes_keeps_reads(make_server):
    s = make_server(args=["--maxstorage", "100kb", "--maxmemory-policy", "noeviction"]).start()
    c = s.client()
    # One write at a time: refused as soon as the data is past 100 KB (each
    # key costs 1002 bytes).  (Pipelined writes of one event-loop pass share
    # one commit and may pass the limit by that pass.)
    ok = 0
    for i in range(150):
        if raw_line(s, "SET", f"k{i}", VALUE) == b"+OK":
            ok += 1
    assert ok == 100 * 1024 // 1002 + 1, ok
    assert raw_line(s, "SET", "new", "v") == OOM
    assert raw_line(s, "APPEND", "k1", "x") == OOM
    assert c.get("k1") == VALUE  # reads work
    assert c.dbsize() == ok  # nothing was deleted
    assert evicted(s) == 0
    # Deleting makes room; writes work again.
    c.delete(*[f"k{i}" for i in range(50)])
    assert c.set("new", "v")
    # CONFIG SET maxstorage applies at once.
    c.config_set("maxstorage", "1kb")
    assert raw_line(s, "SET", "again", "v") == OOM
    c.config_set("maxstorage", "0")
    assert c.set("again", "v")


@pytest.mark.parametrize("policy", ["allkeys-lru", "allkeys-lfu", "allkeys-random"])
def test_allkeys_policies_delete_as_a_cache(make_server, policy):
    s = make_server(args=["--maxstorage", "200kb", "--maxmemory-policy", policy]).start()
    c = s.client()
    for round_ in range(5):
        fill(c, f"r{round_}-", 200)  # 1 MB in all, 5x the limit
    wait_until(lambda: mem(s)["storage_data_bytes"] <= 200 * 1024, msg="data under maxstorage")
    n = c.dbsize()
    assert 100 <= n <= 205, n
    assert evicted(s) == 1000 - n
    assert c.set("fits", "again")  # writes are never refused under these policies


@pytest.mark.parametrize("policy", ["allkeys-lru", "allkeys-lfu"])
def test_lru_lfu_keep_keys_in_use(make_server, policy):
    """Access times have a one-second resolution (as Redis's LRU clock), so
    the cold keys are written, then left idle for two seconds, then the hot
    keys are used (many times: LFU counts them), and only then is the limit
    lowered below the data."""
    import time
    s = make_server(args=["--maxmemory-policy", policy]).start()
    c = s.client()
    fill(c, "hot", 50)
    for round_ in range(6):
        fill(c, f"cold{round_}-", 100)
    time.sleep(2.1)
    for _ in range(20):
        for i in range(50):
            c.get(f"hot{i}")
    c.config_set("maxstorage", "200kb")
    wait_until(lambda: mem(s)["storage_data_bytes"] <= 200 * 1024, msg="data under maxstorage")
    assert evicted(s) >= 440  # 650 keys of 1002 bytes down to 200 KB
    hot_left = sum(c.exists(f"hot{i}") for i in range(50))
    assert hot_left >= 45, f"only {hot_left} of 50 hot keys survived"


def test_volatile_deletes_only_keys_with_ttl(make_server):
    s = make_server(args=["--maxstorage", "200kb", "--maxmemory-policy", "volatile-lru"]).start()
    c = s.client()
    fill(c, "keep", 100)  # no TTL: never deleted
    fill(c, "ttl", 300, ex=3600)
    wait_until(lambda: mem(s)["storage_data_bytes"] <= 200 * 1024, msg="data under maxstorage")
    assert sum(c.exists(f"keep{i}") for i in range(100)) == 100
    assert evicted(s) > 0
    # Only keys without a TTL left past the limit: writes are refused.
    fill(c, "keep-more", 150)
    wait_until(lambda: raw_line(s, "SET", "x", "y") == OOM, msg="-OOM once nothing can go")
    assert sum(c.exists(f"keep{i}") for i in range(100)) == 100


def test_replica_does_not_delete_on_its_own(make_server):
    m = make_server(args=["--maxstorage", "100kb", "--maxmemory-policy", "allkeys-random"]).start()
    r = make_server(args=["--replicaof", "127.0.0.1", m.port, "--maxstorage", "10kb",
                          "--maxmemory-policy", "allkeys-random"]).start()
    wait_until(lambda: r.client(decode_responses=True).info("replication")["master_link_status"]
               == "up", msg="replica link up")
    fill(m.client(), "k", 300)
    wait_until(lambda: mem(m)["storage_data_bytes"] <= 100 * 1024, msg="master under maxstorage")
    dig = lambda s: s.client().execute_command("DEBUG", "DIGEST")  # noqa: E731
    wait_until(lambda: dig(m) == dig(r), msg="replica follows the master's deletes")
    assert evicted(r) == 0  # the replica only applied the master's deletes
    assert r.client().dbsize() == m.client().dbsize()

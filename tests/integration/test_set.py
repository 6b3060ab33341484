"""Integration tests for the set commands (server/cmd_set.c) on the
collection layout (storage/coll.c): replies and error strings as Redis 7.0
for every command and option, RESP3 set replies, WRONGTYPE on every key
argument, empty-set deletion, keyspace events, *STORE overwriting, random
members (SPOP/SRANDMEMBER) on small and large sets, a pipeline reading its
own writes, expiry, RENAME/COPY, restart, replication (DEBUG DIGEST equal)
and a set of a million members under maxmemory 64mb.

Tests that do not use Strata-only features pass against redis-server 7.0 too
(STRATA_BIN=/usr/bin/redis-server); those that do are marked strata_only.
Member order is unspecified in Redis (Strata answers in byte order), so
multi-member replies are compared as sets or sorted lists.
"""
import collections
import os
import random
import time

import pytest

from strata import (SLOW, wait_until, start_replica_pair,
                    wait_replica_converged, assert_rss_within_maxmemory)
from checks import arity_err, err
from rawresp import RawConn, encode
from blocked import conns_on_both_threads

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
POSITIVE = "value is out of range, must be positive"
IS_REDIS = os.path.basename(os.environ.get("STRATA_BIN", "")) == "redis-server"
strata_only = pytest.mark.skipif(IS_REDIS, reason="Strata-specific behaviour")
# redis-server refuses DEBUG unless told otherwise; Strata has no such switch.
DEBUG_ARGS = ["--enable-debug-command", "yes"] if IS_REDIS else []


def smembers(c, key):
    return set(c.execute_command("SMEMBERS", key))


def sadd_many(c, key, members, per=1000):
    """Adds members in pipelined batches of `per`."""
    members = list(members)
    p = c.pipeline(transaction=False)
    for i in range(0, len(members), per):
        p.execute_command("SADD", key, *members[i:i + per])
    p.execute()


# ---- SADD SREM SCARD SISMEMBER SMISMEMBER SMEMBERS ------------------------

def test_sadd_srem_scard(c):
    assert c.execute_command("SADD", "s", "a", "b", "c", "a") == 3
    assert c.execute_command("SADD", "s", "a", "d") == 1
    assert c.execute_command("SADD", "s", "a") == 0
    assert c.execute_command("SCARD", "s") == 4
    assert c.execute_command("SCARD", "nokey") == 0
    assert c.execute_command("TYPE", "s") == "set"
    assert c.execute_command("SREM", "s", "a", "zz", "a") == 1
    assert c.execute_command("SREM", "s", "zz") == 0
    assert c.execute_command("SREM", "nokey", "a") == 0
    assert c.execute_command("SCARD", "s") == 3
    assert smembers(c, "s") == {"b", "c", "d"}


def test_sadd_of_present_members_changes_nothing(server, c):
    """As Redis: SADD (and SMOVE into a set that has the member) of members
    already there neither counts as a change nor touches a WATCHed key;
    adding one new member does both."""
    c.execute_command("SADD", "s", "a", "b")
    c.execute_command("SADD", "src", "a")
    w = server.client(decode_responses=True)
    try:
        def changes():
            return w.info("persistence")["rdb_changes_since_last_save"]

        w.execute_command("WATCH", "s")
        before = changes()
        assert c.execute_command("SADD", "s", "a", "b", "a") == 0
        assert changes() == before
        w.execute_command("MULTI")
        w.execute_command("SET", "x", "1")
        assert w.execute_command("EXEC") == ["OK"]
        assert c.execute_command("SMOVE", "src", "s", "a") == 1
        assert smembers(c, "s") == {"a", "b"} and c.execute_command("EXISTS", "src") == 0
        w.execute_command("WATCH", "s")
        assert c.execute_command("SADD", "s", "a", "c") == 1
        assert changes() > before
        w.execute_command("MULTI")
        w.execute_command("SET", "x", "2")
        assert w.execute_command("EXEC") is None
        assert smembers(c, "s") == {"a", "b", "c"}
    finally:
        w.close()


@strata_only
def test_sadd_of_present_members_is_a_write_in_merge_modes(make_server):
    """With active-replica (writes merge by last writer wins), SADD of a
    present member rewrites it with a new timestamp so it wins over an older
    concurrent SREM from another node: then it is a write, as any other."""
    s = make_server(args=["--active-replica", "yes"]).start()
    cl = s.client(decode_responses=True)
    cl.sadd("s", "a")
    before = cl.info("persistence")["rdb_changes_since_last_save"]
    assert cl.sadd("s", "a") == 0
    assert cl.smembers("s") == {"a"}


def test_srem_of_last_member_deletes_the_key(c):
    c.execute_command("SADD", "s", "a", "b")
    assert c.execute_command("SREM", "s", "a", "b", "c") == 2
    assert c.execute_command("EXISTS", "s") == 0
    assert c.execute_command("TYPE", "s") == "none"
    assert c.execute_command("DBSIZE") == 0
    assert c.execute_command("SADD", "s", "x") == 1
    assert c.execute_command("SMEMBERS", "s") == ["x"]


def test_sismember_smismember(c):
    c.execute_command("SADD", "s", "a", "b", "")
    assert c.execute_command("SISMEMBER", "s", "a") == 1
    assert c.execute_command("SISMEMBER", "s", "") == 1
    assert c.execute_command("SISMEMBER", "s", "z") == 0
    assert c.execute_command("SISMEMBER", "nokey", "a") == 0
    assert c.execute_command("SMISMEMBER", "s", "a", "z", "b", "a") == [1, 0, 1, 1]
    assert c.execute_command("SMISMEMBER", "nokey", "a", "b") == [0, 0]


def test_smembers(c):
    members = {f"m{i}" for i in range(200)}
    sadd_many(c, "s", members, per=37)
    got = c.execute_command("SMEMBERS", "s")
    assert len(got) == 200 and set(got) == members
    assert c.execute_command("SMEMBERS", "nokey") == []


def test_binary_and_empty_members(cb):
    members = [b"", b"\x00", b"\x00\xff\r\n", b"\xff" * 300, b"plain"]
    assert cb.execute_command("SADD", b"s\x00k", *members) == 5
    assert set(cb.execute_command("SMEMBERS", b"s\x00k")) == set(members)
    assert cb.execute_command("SISMEMBER", b"s\x00k", b"\x00\xff\r\n") == 1
    assert cb.execute_command("SREM", b"s\x00k", b"") == 1
    assert cb.execute_command("SISMEMBER", b"s\x00k", b"") == 0
    cb.execute_command("SADD", b"e", b"")
    assert cb.execute_command("SRANDMEMBER", b"e", "-3") == [b"", b"", b""]
    assert cb.execute_command("SRANDMEMBER", b"e", "2") == [b""]
    assert cb.execute_command("SPOP", b"e", "1") == [b""]
    assert cb.execute_command("EXISTS", b"e") == 0
    cb.execute_command("SADD", b"t", b"\x00", b"other")
    assert cb.execute_command("SINTER", b"s\x00k", b"t") == [b"\x00"]
    assert set(cb.execute_command("SDIFF", b"t", b"s\x00k")) == {b"other"}


def test_arity_errors(c):
    for cmd, args in [("SADD", ["s"]), ("SREM", ["s"]), ("SMOVE", ["a", "b"]),
                      ("SISMEMBER", ["s"]), ("SMISMEMBER", ["s"]), ("SCARD", []),
                      ("SMEMBERS", []), ("SRANDMEMBER", []), ("SPOP", []), ("SINTER", []),
                      ("SINTERCARD", ["1"]), ("SINTERSTORE", ["d"]), ("SUNION", []),
                      ("SUNIONSTORE", ["d"]), ("SDIFF", []), ("SDIFFSTORE", ["d"]),
                      ("SSCAN", ["s"]), ("SCARD", ["a", "b"]), ("SMOVE", ["a", "b", "c", "d"])]:
        assert err(c, cmd, *args) == arity_err(cmd.lower()), cmd


# ---- SMOVE -------------------------------------------------------------------

def test_smove(c):
    c.execute_command("SADD", "src", "a", "b", "c")
    c.execute_command("SADD", "dst", "c")
    assert c.execute_command("SMOVE", "src", "dst", "a") == 1
    assert smembers(c, "src") == {"b", "c"} and smembers(c, "dst") == {"a", "c"}
    assert c.execute_command("SMOVE", "src", "dst", "zz") == 0
    assert c.execute_command("SMOVE", "src", "dst", "c") == 1  # already in dst
    assert smembers(c, "src") == {"b"} and smembers(c, "dst") == {"a", "c"}
    assert c.execute_command("SMOVE", "src", "new", "b") == 1  # creates new, empties src
    assert c.execute_command("EXISTS", "src") == 0
    assert c.execute_command("SMEMBERS", "new") == ["b"]
    assert c.execute_command("SMOVE", "nokey", "dst", "a") == 0
    assert c.execute_command("SMOVE", "nokey", "nokey", "a") == 0


def test_smove_within_one_set(c):
    c.execute_command("SADD", "s", "a", "b")
    assert c.execute_command("SMOVE", "s", "s", "a") == 1
    assert c.execute_command("SMOVE", "s", "s", "zz") == 0
    assert smembers(c, "s") == {"a", "b"}


def test_smove_wrongtype(c):
    c.execute_command("SET", "str", "v")
    c.execute_command("SADD", "s", "a")
    assert err(c, "SMOVE", "s", "str", "a") == WRONGTYPE
    assert err(c, "SMOVE", "s", "str", "zz") == WRONGTYPE
    assert err(c, "SMOVE", "str", "s", "a") == WRONGTYPE
    assert err(c, "SMOVE", "str", "str", "a") == WRONGTYPE
    # A missing source answers 0 before the destination's type is looked at.
    assert c.execute_command("SMOVE", "nokey", "str", "a") == 0
    assert smembers(c, "s") == {"a"} and c.execute_command("GET", "str") == "v"


# ---- SPOP SRANDMEMBER --------------------------------------------------------

def test_spop(c):
    c.execute_command("SADD", "s", "a", "b", "c")
    got = c.execute_command("SPOP", "s")
    assert got in {"a", "b", "c"}
    assert c.execute_command("SCARD", "s") == 2
    assert c.execute_command("SISMEMBER", "s", got) == 0
    assert c.execute_command("SPOP", "nokey") is None
    rest = c.execute_command("SPOP", "s", "1")
    assert len(rest) == 1 and c.execute_command("SCARD", "s") == 1
    last = c.execute_command("SPOP", "s")
    assert {got, last, rest[0]} == {"a", "b", "c"}
    assert c.execute_command("EXISTS", "s") == 0


def test_spop_count(c):
    members = {f"m{i}" for i in range(50)}
    c.execute_command("SADD", "s", *members)
    assert c.execute_command("SPOP", "s", "0") == []
    assert c.execute_command("SCARD", "s") == 50
    got = c.execute_command("SPOP", "s", "20")
    assert len(got) == 20 and len(set(got)) == 20 and set(got) <= members
    assert smembers(c, "s") == members - set(got)
    rest = c.execute_command("SPOP", "s", "1000")
    assert set(rest) == members - set(got) and len(rest) == 30
    assert c.execute_command("EXISTS", "s") == 0
    assert c.execute_command("SPOP", "nokey", "5") == []
    assert c.execute_command("SPOP", "nokey", "0") == []


def test_spop_errors(c):
    c.execute_command("SADD", "s", "a")
    c.execute_command("SET", "str", "v")
    for bad in ("-1", "x", "1.5", "+1", "-9223372036854775808", "9223372036854775808"):
        assert err(c, "SPOP", "s", bad) == POSITIVE, bad
    assert err(c, "SPOP", "nokey", "-1") == POSITIVE
    assert err(c, "SPOP", "str", "-1") == POSITIVE  # the count is parsed first
    assert err(c, "SPOP", "s", "1", "2") == "syntax error"
    assert err(c, "SPOP", "str") == WRONGTYPE
    assert err(c, "SPOP", "str", "0") == WRONGTYPE
    assert err(c, "SPOP", "str", "2") == WRONGTYPE
    assert c.execute_command("SPOP", "s", "9223372036854775807") == ["a"]


def test_srandmember(c):
    members = {f"m{i}" for i in range(20)}
    c.execute_command("SADD", "s", *members)
    assert c.execute_command("SRANDMEMBER", "s") in members
    assert c.execute_command("SRANDMEMBER", "nokey") is None
    assert c.execute_command("SRANDMEMBER", "nokey", "3") == []
    assert c.execute_command("SRANDMEMBER", "nokey", "-3") == []
    assert c.execute_command("SRANDMEMBER", "s", "0") == []
    got = c.execute_command("SRANDMEMBER", "s", "5")
    assert len(got) == 5 and len(set(got)) == 5 and set(got) <= members
    got = c.execute_command("SRANDMEMBER", "s", "100")
    assert len(got) == 20 and set(got) == members
    got = c.execute_command("SRANDMEMBER", "s", "-50")
    assert len(got) == 50 and set(got) <= members
    got = c.execute_command("SRANDMEMBER", "s", "-7")
    assert len(got) == 7 and set(got) <= members
    assert c.execute_command("SCARD", "s") == 20  # read-only


def test_srandmember_errors(c):
    c.execute_command("SADD", "s", "a")
    c.execute_command("SET", "str", "v")
    for bad in ("x", "1.5", " 1", "+1", "9223372036854775808"):
        assert err(c, "SRANDMEMBER", "s", bad) == "value is not an integer or out of range", bad
    assert err(c, "SRANDMEMBER", "s", "-9223372036854775808") == (
        "value is out of range, value must between -9223372036854775807 and 9223372036854775807")
    assert err(c, "SRANDMEMBER", "str", "x") == "value is not an integer or out of range"
    assert err(c, "SRANDMEMBER", "s", "1", "2") == "syntax error"
    assert err(c, "SRANDMEMBER", "str") == WRONGTYPE
    assert err(c, "SRANDMEMBER", "str", "1") == WRONGTYPE
    assert err(c, "SRANDMEMBER", "str", "0") == WRONGTYPE


def test_random_members_are_spread(c):
    members = {f"m{i}" for i in range(10)}
    c.execute_command("SADD", "s", *members)
    assert set(c.execute_command("SRANDMEMBER", "s", "-400")) == members
    assert {c.execute_command("SRANDMEMBER", "s") for _ in range(300)} == members
    orders = {tuple(c.execute_command("SRANDMEMBER", "s", "-10")) for _ in range(5)}
    assert len(orders) > 1
    picks = collections.Counter(c.execute_command("SRANDMEMBER", "s", "-5000"))
    assert min(picks.values()) > 350  # exact draws: about 500 each
    firsts = collections.Counter()
    for _ in range(200):
        c.execute_command("SADD", "t", *members)
        firsts[c.execute_command("SPOP", "t")] += 1
    assert len(firsts) == 10


def repeat(c, n, *cmd):
    """The replies of cmd sent n times in one pipeline."""
    p = c.pipeline(transaction=False)
    for _ in range(n):
        p.execute_command(*cmd)
    return p.execute()


def spop_n(c, key, n):
    return repeat(c, n, "SPOP", key)


def test_random_members_of_a_large_set(c):
    """Sets past the exact-pick size: picks by seeking (cmd_set.c) still
    return members, distinct when asked, and reach the whole set."""
    members = [f"element:{i:012d}" for i in random.Random(7).sample(range(10**6), 5000)]
    sadd_many(c, "s", members)
    allm = set(members)
    seen = set()
    for _ in range(300):
        m = c.execute_command("SRANDMEMBER", "s")
        assert m in allm
        seen.add(m)
    assert len(seen) > 200
    got = c.execute_command("SRANDMEMBER", "s", "50")
    assert len(got) == 50 and len(set(got)) == 50 and set(got) <= allm
    got = c.execute_command("SRANDMEMBER", "s", "-60")
    assert len(got) == 60 and set(got) <= allm
    popped = c.execute_command("SPOP", "s", "40")
    assert len(popped) == 40 and len(set(popped)) == 40 and set(popped) <= allm
    popped += spop_n(c, "s", 2000)
    assert len(set(popped)) == 2040 and set(popped) <= allm
    assert c.execute_command("SCARD", "s") == 5000 - 2040
    assert smembers(c, "s") == allm - set(popped)
    # Pop the rest: every member comes out exactly once.
    for _ in range(100):
        if not c.execute_command("EXISTS", "s"):
            break
        popped += c.execute_command("SPOP", "s", "29")
        popped += [m for m in spop_n(c, "s", 100) if m is not None]
    assert sorted(popped) == sorted(members)


def test_spop_pool_pops_every_member_once(c):
    """Repeated SPOPs of a big set go through a pool of random members
    (server/setpool.c) after a few descents: every member comes out once,
    then nil and the key is gone."""
    members = [f"element:{i:012d}" for i in range(3000)]
    sadd_many(c, "s", members)
    popped = spop_n(c, "s", 3000)
    assert sorted(popped) == members
    assert c.execute_command("SPOP", "s") is None
    assert c.exists("s") == 0


def test_spop_pool_follows_other_writes(c):
    """A pool is used only for the set state it was stored for: members
    removed (SREM, SMOVE) or added meanwhile, or a new set under the same
    name, never leave a popped member that is not in the set, nor a member
    popped twice."""
    rng = random.Random(11)
    members = [f"m{i:05d}" for i in range(4000)]
    sadd_many(c, "s", members)
    popped = spop_n(c, "s", 200)
    live = set(members) - set(popped)
    gone = rng.sample(sorted(live), 2500)
    for i in range(0, len(gone), 500):
        c.execute_command("SREM", "s", *gone[i:i + 500])
    c.execute_command("SMOVE", "s", "other", sorted(live - set(gone))[0])
    added = [f"n{i:05d}" for i in range(300)]
    sadd_many(c, "s", added)
    live = (live - set(gone) - {sorted(live - set(gone))[0]}) | set(added)
    assert smembers(c, "s") == live
    rest = spop_n(c, "s", len(live) + 1)
    assert rest[-1] is None
    assert sorted(rest[:-1]) == sorted(live)
    # The same name, a new set (a new incarnation), popped after an old pool.
    sadd_many(c, "t", members)
    spop_n(c, "t", 100)
    c.delete("t")
    fresh = [f"f{i:05d}" for i in range(3000)]
    sadd_many(c, "t", fresh)
    assert sorted(spop_n(c, "t", 3000)) == fresh


def test_spop_pool_order_is_random(c):
    """Pops from a pool are a uniformly random order of the members: the
    ranks of 1,000 pops after the first few spread evenly over the set and
    do not follow the members' order (a pool of the set's first members, or
    one popped in order, fails)."""
    n = 20000
    # 400-byte members: a pool (2 MB) holds about a quarter of the set.
    members = [f"m{i:06d}" + "x" * 393 for i in range(n)]
    sadd_many(c, "s", members)
    spop_n(c, "s", 200)  # past the descents that come before a pool
    popped = spop_n(c, "s", 1000)
    ranks = [int(m[1:7]) for m in popped]
    buckets = collections.Counter(r * 10 // n for r in ranks)
    assert all(60 <= buckets[b] <= 140 for b in range(10)), buckets  # 100 expected
    # Spearman's rho between pop order and member rank: ~0 (sd ~0.03).
    order = sorted(range(len(ranks)), key=lambda i: ranks[i])
    rank_of = [0] * len(ranks)
    for pos, i in enumerate(order):
        rank_of[i] = pos
    m = len(ranks)
    rho = 1 - 6 * sum((i - rank_of[i]) ** 2 for i in range(m)) / (m * (m * m - 1))
    assert abs(rho) < 0.15, rho


def test_spop_small_sets_pop_in_random_order(c):
    """A small set popped to the end (a pool of the whole set from its
    second pop on, server/setpool.c): which member comes out at each
    position is uniform over the members (a pool popped in its walk order,
    or the last pops taking the first member left, fails)."""
    size, trials = 8, 400
    at = [collections.Counter() for _ in range(size)]
    for _ in range(trials):
        c.execute_command("SADD", "small", *[f"m{i}" for i in range(size)])
        popped = spop_n(c, "small", size + 1)
        assert popped[-1] is None and c.exists("small") == 0
        assert sorted(popped[:-1]) == [f"m{i}" for i in range(size)]
        for pos, m in enumerate(popped[:-1]):
            at[pos][m] += 1
    for pos in (0, 1, size // 2, size - 2):
        # 50 expected per member and position; sd ~6.6.
        assert all(20 <= at[pos][f"m{i}"] <= 80 for i in range(size)), (pos, at[pos])


@strata_only
def test_spop_pool_across_threads(mt_server, mt):
    """Two connections on different server threads pop the same set at
    once (one pool, taken by one command at a time): every member comes out
    exactly once."""
    members = [f"e{i:05d}" for i in range(4000)]
    sadd_many(mt, "s", members)
    conns = conns_on_both_threads(mt_server, mt)
    try:
        for conn in conns:
            conn.send(b"".join(encode("SPOP", "s") for _ in range(2100)))
        got = [r.value for conn in conns for r in conn.replies(2100, timeout=60)]
    finally:
        for conn in conns:
            conn.close()
    popped = [m.decode() for m in got if m is not None]
    assert sorted(popped) == members
    assert got.count(None) == 200


def draws(c, key, n):
    return repeat(c, n, "SRANDMEMBER", key)


def test_random_members_of_mixed_lengths(c):
    """Members of different lengths, prefixes of each other, and bytes the
    first and last members do not use are all reachable by single picks."""
    sadd_many(c, "n", [str(i) for i in range(1, 2001)])
    seen = set(draws(c, "n", 3000))
    assert seen <= {str(i) for i in range(1, 2001)}
    for length in (1, 2, 3, 4):
        assert any(len(m) == length for m in seen), length
    kmembers = {f"k{i}" for i in range(300)}
    sadd_many(c, "k", list(kmembers) + ["a", "zz"])
    seen = set(draws(c, "k", 3000))
    assert {"a", "zz"} <= seen
    assert len(seen & kmembers) >= 20


def test_small_counts_of_a_large_set(c):
    """Counts small against the set (the descent serves them, cmd_set.c)."""
    members = {f"m{i:05d}" for i in range(6000)}
    sadd_many(c, "s", members)
    for _ in range(20):
        got = c.execute_command("SRANDMEMBER", "s", "9")
        assert len(got) == 9 and len(set(got)) == 9 and set(got) <= members
        got = c.execute_command("SRANDMEMBER", "s", "-11")
        assert len(got) == 11 and set(got) <= members
    popped = []
    for _ in range(20):
        got = c.execute_command("SPOP", "s", "11")
        assert len(got) == 11 and len(set(got)) == 11
        popped += got
    assert len(set(popped)) == 220 and set(popped) <= members
    assert smembers(c, "s") == members - set(popped)


def test_random_binary_members(cb):
    """Members with 0x00 and 0xff bytes, of every length from 0, prefixes of
    each other: picks and pops stay inside the set and cover it."""
    rng = random.Random(5)
    members = {b"", b"\x00", b"\xff", b"\xff\xff", b"\xff\xff\xff\x00", b"\x00\xff"}
    while len(members) < 600:
        members.add(bytes(rng.choice((0, 1, 0x7f, 0xfe, 0xff)) for _ in range(rng.randrange(1, 7))))
    sadd_many(cb, "b", list(members), per=100)
    seen = set(draws(cb, "b", 3000))
    assert seen <= members and len(seen) > 300
    assert set(cb.execute_command("SRANDMEMBER", "b", "-5")) <= members
    popped = []
    for _ in range(100):
        popped += [m for m in spop_n(cb, "b", 10) if m is not None]
        if not cb.execute_command("EXISTS", "b"):
            break
    assert sorted(popped) == sorted(members)


# ---- SINTER SUNION SDIFF SINTERCARD -------------------------------------------

def test_sinter_sunion_sdiff(c):
    c.execute_command("SADD", "a", "1", "2", "3", "4")
    c.execute_command("SADD", "b", "3", "4", "5")
    c.execute_command("SADD", "c", "4", "5", "6")
    assert sorted(c.execute_command("SINTER", "a", "b")) == ["3", "4"]
    assert c.execute_command("SINTER", "a", "b", "c") == ["4"]
    assert sorted(c.execute_command("SINTER", "a")) == ["1", "2", "3", "4"]
    assert sorted(c.execute_command("SINTER", "a", "a")) == ["1", "2", "3", "4"]
    assert c.execute_command("SINTER", "a", "nokey") == []
    assert c.execute_command("SINTER", "nokey") == []
    assert sorted(c.execute_command("SUNION", "a", "b", "c")) == ["1", "2", "3", "4", "5", "6"]
    assert sorted(c.execute_command("SUNION", "a", "nokey")) == ["1", "2", "3", "4"]
    assert c.execute_command("SUNION", "nokey", "nokey2") == []
    assert sorted(c.execute_command("SDIFF", "a", "b")) == ["1", "2"]
    assert sorted(c.execute_command("SDIFF", "a", "b", "c")) == ["1", "2"]
    assert sorted(c.execute_command("SDIFF", "a", "nokey")) == ["1", "2", "3", "4"]
    assert sorted(c.execute_command("SDIFF", "a")) == ["1", "2", "3", "4"]
    assert c.execute_command("SDIFF", "a", "a") == []
    assert c.execute_command("SDIFF", "nokey", "a") == []


def test_sintercard(c):
    c.execute_command("SADD", "a", "1", "2", "3", "4")
    c.execute_command("SADD", "b", "2", "3", "4", "5")
    assert c.execute_command("SINTERCARD", "2", "a", "b") == 3
    assert c.execute_command("SINTERCARD", "1", "a") == 4
    assert c.execute_command("SINTERCARD", "2", "a", "nokey") == 0
    assert c.execute_command("SINTERCARD", "2", "a", "b", "LIMIT", "0") == 3
    assert c.execute_command("SINTERCARD", "2", "a", "b", "LIMIT", "2") == 2
    assert c.execute_command("SINTERCARD", "2", "a", "b", "limit", "10") == 3
    assert c.execute_command("SINTERCARD", "2", "a", "b", "LIMIT", "5", "LIMIT", "1") == 1
    assert c.execute_command("SINTERCARD", "1", "a", "LIMIT", "9223372036854775807") == 4


def test_sintercard_errors(c):
    c.execute_command("SADD", "s", "a")
    c.execute_command("SET", "str", "v")
    for bad in ("0", "-1", "x", "00001"):
        assert err(c, "SINTERCARD", bad, "s") == "numkeys should be greater than 0", bad
    assert err(c, "SINTERCARD", "3", "s") == "Number of keys can't be greater than number of args"
    assert err(c, "SINTERCARD", "2", "str") == "Number of keys can't be greater than number of args"
    for bad in ("-1", "x", "9223372036854775808"):
        assert err(c, "SINTERCARD", "1", "s", "LIMIT", bad) == "LIMIT can't be negative", bad
    assert err(c, "SINTERCARD", "1", "str", "LIMIT", "x") == "LIMIT can't be negative"
    assert err(c, "SINTERCARD", "1", "s", "LIMIT") == "syntax error"
    assert err(c, "SINTERCARD", "1", "s", "FOO", "1") == "syntax error"
    assert err(c, "SINTERCARD", "1", "s", "s") == "syntax error"
    assert err(c, "SINTERCARD", "2", "s", "str") == WRONGTYPE
    assert err(c, "SINTERCARD", "2", "nokey", "str") == WRONGTYPE


def test_algebra_matches_python_sets(c):
    """Sizes far apart and close together: probes by point reads and by
    walking (cmd_set.c) give the same answers."""
    rng = random.Random(11)
    sets = {
        "tiny": {f"m{rng.randrange(3000)}" for _ in range(20)},
        "small": {f"m{rng.randrange(3000)}" for _ in range(300)},
        "mid": {f"m{rng.randrange(3000)}" for _ in range(1500)},
        "big": {f"m{rng.randrange(3000)}" for _ in range(2500)},
    }
    for k, v in sets.items():
        sadd_many(c, k, v, per=500)
    names = list(sets)
    for a in names:
        for b in names:
            assert set(c.execute_command("SINTER", a, b)) == sets[a] & sets[b]
            assert set(c.execute_command("SUNION", a, b)) == sets[a] | sets[b]
            assert set(c.execute_command("SDIFF", a, b)) == sets[a] - sets[b]
            assert c.execute_command("SINTERCARD", "2", a, b) == len(sets[a] & sets[b])
    allk = names
    inter = set.intersection(*sets.values())
    assert set(c.execute_command("SINTER", *allk)) == inter
    assert set(c.execute_command("SUNION", *allk)) == set.union(*sets.values())
    assert set(c.execute_command("SDIFF", "big", "tiny", "small")) == (
        sets["big"] - sets["tiny"] - sets["small"])
    got = c.execute_command("SINTER", "big", "mid")
    assert len(got) == len(set(got))
    got = c.execute_command("SUNION", "big", "mid", "big")
    assert len(got) == len(set(got)) == len(sets["big"] | sets["mid"])


def test_sunion_many_keys(c):
    p = c.pipeline(transaction=False)
    for i in range(300):
        p.execute_command("SADD", f"k{i}", f"m{i % 50}", f"x{i}")
    p.execute()
    keys = [f"k{i}" for i in range(300)] + ["nokey"]
    got = c.execute_command("SUNION", *keys)
    assert sorted(got) == sorted({f"m{i}" for i in range(50)} | {f"x{i}" for i in range(300)})
    assert c.execute_command("SINTER", *keys[:300]) == []


# ---- *STORE ------------------------------------------------------------------

def test_store_commands(c):
    c.execute_command("SADD", "a", "1", "2", "3")
    c.execute_command("SADD", "b", "2", "3", "4")
    assert c.execute_command("SINTERSTORE", "d", "a", "b") == 2
    assert smembers(c, "d") == {"2", "3"}
    assert c.execute_command("SUNIONSTORE", "d", "a", "b") == 4
    assert smembers(c, "d") == {"1", "2", "3", "4"}
    assert c.execute_command("SDIFFSTORE", "d", "a", "b") == 1
    assert smembers(c, "d") == {"1"}
    assert c.execute_command("SINTERSTORE", "d", "a") == 3
    assert smembers(c, "d") == {"1", "2", "3"}


def test_store_overwrites_any_type_and_drops_ttl(c):
    c.execute_command("SADD", "a", "1", "2")
    for setup in (["SET", "d", "str"], ["HSET", "d", "f", "v"], ["SADD", "d", "old", "x"]):
        c.execute_command("DEL", "d")
        c.execute_command(*setup)
        c.execute_command("EXPIRE", "d", "1000")
        assert c.execute_command("SUNIONSTORE", "d", "a") == 2
        assert c.execute_command("TYPE", "d") == "set"
        assert smembers(c, "d") == {"1", "2"}
        assert c.execute_command("TTL", "d") == -1


def test_store_empty_result_deletes_destination(c):
    c.execute_command("SADD", "a", "1", "2")
    for cmd in (["SINTERSTORE", "d", "a", "nokey"], ["SDIFFSTORE", "d", "a", "a"],
                ["SUNIONSTORE", "d", "nokey"], ["SDIFFSTORE", "d", "nokey", "a"]):
        c.execute_command("SET", "d", "v")
        assert c.execute_command(*cmd) == 0, cmd
        assert c.execute_command("EXISTS", "d") == 0, cmd
    assert c.execute_command("SINTERSTORE", "d", "a", "nokey") == 0
    assert c.execute_command("EXISTS", "d") == 0
    assert c.execute_command("DBSIZE") == 1


def test_store_destination_among_sources(c):
    c.execute_command("SADD", "a", "1", "2", "3")
    c.execute_command("SADD", "b", "3", "4")
    assert c.execute_command("SUNIONSTORE", "a", "a", "b") == 4
    assert smembers(c, "a") == {"1", "2", "3", "4"}
    assert c.execute_command("SINTERSTORE", "a", "b", "a") == 2
    assert smembers(c, "a") == {"3", "4"}
    assert c.execute_command("SDIFFSTORE", "b", "b", "a") == 0
    assert c.execute_command("EXISTS", "b") == 0
    sadd_many(c, "big", [f"m{i}" for i in range(3000)])
    assert c.execute_command("SUNIONSTORE", "big", "big", "a") == 3002
    assert c.execute_command("SDIFFSTORE", "big", "big", "a") == 3000
    assert c.execute_command("SCARD", "big") == 3000
    assert c.execute_command("SISMEMBER", "big", "3") == 0


def test_store_wrongtype_source_leaves_destination(c):
    c.execute_command("SADD", "a", "1")
    c.execute_command("SET", "str", "v")
    c.execute_command("SADD", "d", "keep")
    for cmd in ("SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"):
        assert err(c, cmd, "d", "a", "str") == WRONGTYPE
        assert err(c, cmd, "d", "nokey", "str") == WRONGTYPE
        assert err(c, cmd, "d", "str", "a") == WRONGTYPE
    assert smembers(c, "d") == {"keep"}
    # The destination's own type does not matter.
    assert c.execute_command("SINTERSTORE", "str", "a") == 1
    assert c.execute_command("TYPE", "str") == "set"


# ---- WRONGTYPE ------------------------------------------------------------------

def test_wrongtype_on_every_command(c):
    c.execute_command("SET", "str", "v")
    c.execute_command("SADD", "s", "a")
    for cmd in (["SADD", "str", "a"], ["SREM", "str", "a"], ["SISMEMBER", "str", "a"],
                ["SMISMEMBER", "str", "a"], ["SCARD", "str"], ["SMEMBERS", "str"],
                ["SRANDMEMBER", "str"], ["SRANDMEMBER", "str", "-2"], ["SPOP", "str"],
                ["SPOP", "str", "1"], ["SMOVE", "str", "s", "a"], ["SMOVE", "s", "str", "a"],
                ["SINTER", "str"], ["SINTER", "s", "str"], ["SINTER", "nokey", "str"],
                ["SUNION", "str"], ["SUNION", "s", "str"], ["SUNION", "nokey", "str"],
                ["SDIFF", "str", "s"], ["SDIFF", "s", "str"], ["SDIFF", "nokey", "str"],
                ["SINTERCARD", "1", "str"], ["SINTERCARD", "2", "s", "str"],
                ["SINTERSTORE", "d", "str"], ["SUNIONSTORE", "d", "s", "str"],
                ["SDIFFSTORE", "d", "s", "str"], ["SSCAN", "str", "0"]):
        assert err(c, *cmd) == WRONGTYPE, cmd
    for cmd in (["GET", "s"], ["HSET", "s", "f", "v"], ["HGET", "s", "f"], ["INCR", "s"],
                ["APPEND", "s", "x"]):
        assert err(c, *cmd) == WRONGTYPE, cmd
    assert c.execute_command("EXISTS", "d") == 0
    assert c.execute_command("SET", "s", "now a string") == "OK"


# ---- SSCAN --------------------------------------------------------------------------

def test_sscan_full_iteration(c):
    members = {f"m{i:03d}" for i in range(300)}
    sadd_many(c, "s", members)
    cursor, seen = 0, []
    for _ in range(1000):
        cursor, items = c.execute_command("SSCAN", "s", cursor, "COUNT", "17")
        cursor = int(cursor)
        seen += items
        if cursor == 0:
            break
    assert cursor == 0 and set(seen) == members
    cursor, items = c.execute_command("SSCAN", "s", "0", "MATCH", "m00*", "COUNT", "1000")
    assert int(cursor) == 0
    assert sorted(items) == [f"m00{i}" for i in range(10)]
    assert c.execute_command("SSCAN", "nokey", "0") == ["0", []]


def test_sscan_errors(c):
    c.execute_command("SADD", "s", "a", "b")
    c.execute_command("SET", "str", "v")
    assert err(c, "SSCAN", "s", "0", "COUNT", "0") == "syntax error"
    assert err(c, "SSCAN", "s", "0", "COUNT", "-1") == "syntax error"
    assert err(c, "SSCAN", "s", "0", "COUNT", "x") == "value is not an integer or out of range"
    assert err(c, "SSCAN", "s", "0", "MATCH") == "syntax error"
    assert err(c, "SSCAN", "s", "0", "NOVALUES") == "syntax error"
    assert err(c, "SSCAN", "s", "x") == "invalid cursor"
    assert err(c, "SSCAN", "str", "x") == "invalid cursor"
    assert err(c, "SSCAN", "str", "0", "COUNT", "0") == WRONGTYPE
    assert c.execute_command("SSCAN", "nokey", "0", "COUNT", "0") == ["0", []]


# ---- RESP3 ------------------------------------------------------------------------

def test_resp3_reply_types(server, c):
    c.execute_command("SADD", "s", "a", "b", "c")
    c.execute_command("SADD", "t", "b", "c", "d")
    with RawConn(server.port) as rc:
        assert rc.cmd("HELLO", "3").type == "%"
        for cmd, typ, n in ((["SMEMBERS", "s"], "~", 3), (["SMEMBERS", "nokey"], "~", 0),
                            (["SINTER", "s", "t"], "~", 2), (["SINTER", "s", "nokey"], "~", 0),
                            (["SUNION", "s", "t"], "~", 4), (["SUNION", "nokey"], "~", 0),
                            (["SDIFF", "s", "t"], "~", 1), (["SDIFF", "nokey", "s"], "~", 0),
                            (["SPOP", "nokey", "2"], "~", 0), (["SRANDMEMBER", "s", "2"], "*", 2),
                            (["SRANDMEMBER", "s", "-5"], "*", 5), (["SRANDMEMBER", "s", "9"], "*", 3),
                            (["SRANDMEMBER", "nokey", "2"], "*", 0),
                            (["SMISMEMBER", "s", "a", "z"], "*", 2)):
            rep = rc.cmd(*cmd)
            assert rep.type == typ and len(rep.value) == n, (cmd, rep)
        assert rc.cmd("SPOP", "nokey").type == "_"
        assert rc.cmd("SRANDMEMBER", "nokey").type == "_"
        assert rc.cmd("SISMEMBER", "s", "a").raw == b":1\r\n"
        assert rc.cmd("SINTERCARD", "2", "s", "t").raw == b":2\r\n"
        rep = rc.cmd("SSCAN", "s", "0")
        assert rep.type == "*" and rep.value[1].type == "*"
        assert rc.cmd("SPOP", "s", "0").raw == b"~0\r\n"
        rep = rc.cmd("SPOP", "s", "1")
        assert rep.type == "~" and len(rep.value) == 1
        rep = rc.cmd("SPOP", "s", "5")
        assert rep.type == "~" and len(rep.value) == 2
    with RawConn(server.port) as rc2:  # RESP2: plain arrays
        assert rc2.cmd("SMEMBERS", "t").type == "*"
        assert rc2.cmd("SPOP", "nokey", "1").raw == b"*0\r\n"
        assert rc2.cmd("SPOP", "nokey").raw == b"$-1\r\n"


# ---- Keyspace events ----------------------------------------------------------------

def key_events(server, c, *cmds):
    """Runs cmds and returns the (event, key) pairs of db 0 they published."""
    c.execute_command("CONFIG", "SET", "notify-keyspace-events", "KEA")
    try:
        with RawConn(server.port) as sub:
            sub.cmd("PSUBSCRIBE", "__keyevent@0__:*")
            for cmd in cmds:
                c.execute_command(*cmd)
            c.execute_command("PUBLISH", "__keyevent@0__:MARK", "x")
            out = []
            for _ in range(1000):
                m = sub.reply().py()
                if m[2] == b"__keyevent@0__:MARK":
                    return out
                out.append((m[2].decode().split(":", 1)[1], m[3].decode()))
            raise AssertionError(f"no marker after {out}")
    finally:
        c.execute_command("CONFIG", "SET", "notify-keyspace-events", "")


def test_keyspace_events(server, c):
    assert key_events(server, c, ["SADD", "s", "a", "b", "c"], ["SADD", "s", "a"],
                      ["SREM", "s", "zz"], ["SREM", "s", "a"], ["SREM", "s", "b", "c"]) == [
        ("sadd", "s"), ("srem", "s"), ("srem", "s"), ("del", "s")]
    assert key_events(server, c, ["SADD", "s", "a", "b", "c"], ["SPOP", "s"], ["SPOP", "s", "0"],
                      ["SPOP", "s", "1"], ["SPOP", "s", "5"], ["SPOP", "nokey", "5"],
                      ["SPOP", "nokey"]) == [
        ("sadd", "s"), ("spop", "s"), ("spop", "s"), ("spop", "s"), ("del", "s")]
    assert key_events(server, c, ["SADD", "s", "a", "b"], ["SMOVE", "s", "d", "a"],
                      ["SMOVE", "s", "d", "b"], ["SMOVE", "d", "d", "a"], ["SMOVE", "d", "e", "zz"],
                      ["SADD", "e", "a"], ["SMOVE", "e", "d", "a"]) == [
        ("sadd", "s"), ("srem", "s"), ("sadd", "d"), ("srem", "s"), ("del", "s"), ("sadd", "d"),
        ("sadd", "e"), ("srem", "e"), ("del", "e")]
    assert key_events(server, c, ["SADD", "s", "a", "b"], ["SINTERSTORE", "dst", "s", "d"],
                      ["SINTERSTORE", "dst", "s", "nokey"], ["SINTERSTORE", "dst", "s", "nokey"],
                      ["SUNIONSTORE", "dst", "s", "d"], ["SDIFFSTORE", "dst", "s", "s"],
                      ["SDIFFSTORE", "dst", "s"]) == [
        ("sadd", "s"), ("sinterstore", "dst"), ("del", "dst"), ("sunionstore", "dst"),
        ("del", "dst"), ("sdiffstore", "dst")]
    c.execute_command("SADD", "big", *range(100))
    assert key_events(server, c, ["SPOP", "big", "99"], ["SPOP", "big", "99"]) == [
        ("spop", "big"), ("spop", "big"), ("del", "big")]


# ---- Keyspace interplay -------------------------------------------------------------

def test_pipeline_reads_its_own_writes(c):
    p = c.pipeline(transaction=False)
    p.execute_command("SADD", "s", "a", "b", "c")
    p.execute_command("SISMEMBER", "s", "b")
    p.execute_command("SREM", "s", "b")
    p.execute_command("SMEMBERS", "s")
    p.execute_command("SMOVE", "s", "t", "a")
    p.execute_command("SUNIONSTORE", "u", "s", "t")
    p.execute_command("SCARD", "u")
    p.execute_command("SPOP", "s")
    p.execute_command("EXISTS", "s")
    p.execute_command("SINTER", "u", "t")
    p.execute_command("DEL", "u")
    p.execute_command("SADD", "u", "z")
    p.execute_command("SMEMBERS", "u")
    p.execute_command("SPOP", "t", "5")
    p.execute_command("SCARD", "t")
    res = p.execute()
    res[3] = sorted(res[3])
    assert res == [3, 1, 1, ["a", "c"], 1, 2, 2, "c", 0, ["a"], 1, 1, ["z"], ["a"], 0]


def test_expire_on_set(c):
    c.execute_command("SADD", "s", "a")
    assert c.execute_command("PEXPIRE", "s", "100") == 1
    c.execute_command("SADD", "s", "b")  # writes keep the TTL
    assert c.execute_command("PTTL", "s") > 0
    c.execute_command("SREM", "s", "b")
    assert c.execute_command("PTTL", "s") > 0
    wait_until(lambda: c.execute_command("EXISTS", "s") == 0, timeout=5, msg="set to expire")
    assert c.execute_command("SISMEMBER", "s", "a") == 0
    assert c.execute_command("SADD", "s", "c") == 1
    assert c.execute_command("SMEMBERS", "s") == ["c"]
    assert c.execute_command("TTL", "s") == -1


def test_del_and_recreate_sees_no_old_members(c):
    sadd_many(c, "s", [f"m{i}" for i in range(1000)])
    assert c.execute_command("DEL", "s") == 1
    assert c.execute_command("SCARD", "s") == 0
    c.execute_command("SADD", "s", "new")
    assert c.execute_command("SMEMBERS", "s") == ["new"]


def test_rename_copy_move(c):
    c.execute_command("SADD", "s", "a", "b")
    c.execute_command("PEXPIRE", "s", "100000")
    assert c.execute_command("RENAME", "s", "s2") == "OK"
    assert c.execute_command("EXISTS", "s") == 0
    assert smembers(c, "s2") == {"a", "b"}
    assert c.execute_command("PTTL", "s2") > 0
    c.execute_command("SADD", "other", "z")
    assert c.execute_command("RENAME", "s2", "other") == "OK"
    assert smembers(c, "other") == {"a", "b"}
    assert c.execute_command("COPY", "other", "cp") == 1
    c.execute_command("SADD", "cp", "c")
    assert smembers(c, "other") == {"a", "b"}
    assert smembers(c, "cp") == {"a", "b", "c"}
    assert c.execute_command("COPY", "other", "cp", "REPLACE") == 1
    assert smembers(c, "cp") == {"a", "b"}
    assert c.execute_command("MOVE", "cp", "1") == 1
    c.execute_command("SELECT", "1")
    assert smembers(c, "cp") == {"a", "b"}
    c.execute_command("SELECT", "0")


def test_command_info(c):
    rows = {r[0]: r for r in c.execute_command(
        "COMMAND", "INFO", "sadd", "srem", "smove", "sismember", "smismember", "scard", "spop",
        "srandmember", "sinter", "sinterstore", "sunion", "sunionstore", "sdiff", "sdiffstore",
        "smembers", "sscan")}
    expect = {"sadd": (-3, 1, 1, 1), "srem": (-3, 1, 1, 1), "smove": (4, 1, 2, 1),
              "sismember": (3, 1, 1, 1), "smismember": (-3, 1, 1, 1), "scard": (2, 1, 1, 1),
              "spop": (-2, 1, 1, 1), "srandmember": (-2, 1, 1, 1), "sinter": (-2, 1, -1, 1),
              "sinterstore": (-3, 1, -1, 1), "sunion": (-2, 1, -1, 1),
              "sunionstore": (-3, 1, -1, 1), "sdiff": (-2, 1, -1, 1),
              "sdiffstore": (-3, 1, -1, 1), "smembers": (2, 1, 1, 1), "sscan": (-3, 1, 1, 1)}
    for name, (arity, first, last, step) in expect.items():
        row = rows[name]
        assert (row[1], row[3], row[4], row[5]) == (arity, first, last, step), name
    assert "write" in rows["sadd"][2] and "denyoom" in rows["sadd"][2]
    assert "readonly" in rows["sinter"][2]
    assert c.execute_command("COMMAND", "GETKEYS", "smove", "a", "b", "m") == ["a", "b"]
    assert c.execute_command("COMMAND", "GETKEYS", "sunionstore", "d", "a", "b") == ["d", "a", "b"]


@strata_only
def test_object_encoding(c):
    c.execute_command("SADD", "s", "a")
    assert c.execute_command("OBJECT", "ENCODING", "s") == "hashtable"
    assert c.execute_command("MEMORY", "USAGE", "s") > 0


@strata_only
def test_digest_depends_on_members(c):
    c.execute_command("SADD", "s", "a")
    d1 = c.execute_command("DEBUG", "DIGEST")
    c.execute_command("SADD", "s", "b")
    assert c.execute_command("DEBUG", "DIGEST") != d1
    c.execute_command("SREM", "s", "b")
    assert c.execute_command("DEBUG", "DIGEST") == d1


def test_set_survives_restart(make_server):
    s = make_server(args=DEBUG_ARGS).start()
    cl = s.client(decode_responses=True)
    sadd_many(cl, "s", [f"m{i}" for i in range(500)])
    cl.srem("s", "m0")
    cl.sadd("t", "x")
    cl.sunionstore("u", "s", "t")
    digest = cl.execute_command("DEBUG", "DIGEST")
    s.stop()
    s.start()
    cl = s.client(decode_responses=True)
    assert cl.scard("s") == 499 and cl.scard("u") == 500
    assert cl.sismember("s", "m42") and not cl.sismember("s", "m0")
    assert cl.execute_command("DEBUG", "DIGEST") == digest


def test_sets_replicate(make_server):
    m, rc = start_replica_pair(make_server, DEBUG_ARGS)
    sadd_many(m, "s", [f"m{i}" for i in range(2000)])
    m.srem("s", "m1", "m2")
    m.spop("s")
    m.spop("s", 10)
    spop_n(m, "s", 500)  # past the first descents: pops from a pool
    m.sadd("t", *[f"m{i}" for i in range(0, 4000, 2)])
    m.sinterstore("inter", "s", "t")
    m.sunionstore("union", "s", "t")
    m.sdiffstore("diff", "s", "t")
    m.set("str", "v")
    m.sunionstore("str", "t")
    m.sinterstore("union", "t", "missing")  # deletes union
    m.smove("t", "moved", "m0")
    m.sadd("gone", "a")
    m.srem("gone", "a")
    sadd_many(m, "big", [f"x{i}" for i in range(20000)])
    m.delete("big")
    m.sadd("ttl", "a")
    m.pexpire("ttl", 50)
    m.sadd("copy-src", "x")
    m.copy("copy-src", "copy-dst")
    m.rename("copy-src", "renamed")
    wait_until(lambda: m.exists("ttl") == 0, timeout=5, msg="ttl set to expire on master")
    wait_replica_converged(m, rc)
    assert rc.scard("s") == 2000 - 2 - 11 - 500
    assert rc.exists("big", "gone", "ttl", "union") == 0
    assert rc.type("str") == "set"
    assert rc.smembers("renamed") == {"x"}


@pytest.mark.slow
def test_spop_is_not_linear_in_the_set(make_server):
    """redis-benchmark's SPOP on a set of a few hundred thousand members:
    one SPOP must not walk the set."""
    s = make_server().start()
    cl = s.client(decode_responses=True)
    sadd_many(cl, "s", [f"element:{i:012d}" for i in range(0, 900000, 3)], per=5000)
    assert cl.scard("s") == 300000
    start = time.monotonic()
    got = spop_n(cl, "s", 2000)
    for _ in range(500):
        got.append(cl.srandmember("s"))
    elapsed = time.monotonic() - start
    assert len(set(got[:2000])) == 2000
    assert cl.scard("s") == 298000
    # A walk per call would take minutes; seeks take well under a second.
    assert elapsed < 20 * SLOW, elapsed


@pytest.mark.slow
@strata_only
def test_million_member_set_under_64mb(make_server):
    s = make_server(args=["--maxmemory", "64mb"]).start()
    cl = s.client(decode_responses=True)
    n, per = 1_000_000, 5000
    p = cl.pipeline(transaction=False)
    for base in range(0, n, per):
        p.execute_command("SADD", "big", *[f"member:{i}" for i in range(base, base + per)])
        if len(p) == 10:
            p.execute()
    p.execute()
    assert cl.scard("big") == n
    for i in random.sample(range(n), 200):
        assert cl.sismember("big", f"member:{i}")
    assert not cl.sismember("big", "member:-1")
    assert_rss_within_maxmemory(s.proc.pid, 64 * 1024 * 1024)
    cursor, total = 0, 0
    for _ in range(10000):
        cursor, items = cl.sscan("big", cursor, count=5000)
        total += len(items)
        if int(cursor) == 0:
            break
    assert total == n
    assert cl.srandmember("big").startswith("member:")
    assert len(set(cl.srandmember("big", 100))) == 100
    assert cl.spop("big").startswith("member:")
    assert cl.delete("big") == 1
    assert cl.exists("big") == 0

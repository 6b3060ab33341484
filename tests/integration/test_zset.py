"""Integration tests for the sorted-set commands (server/cmd_zset.c,
server/cmd_zset_ops.c) on the collection layout (storage/coll.c: element
records plus the (score, member) index): replies, score formatting and
error strings as Redis 7.0 for every command and option, WRONGTYPE on every
key argument, empty-key deletion, destinations overwritten or deleted,
keyspace events, RESP3 shapes, group commit (a pipeline reading its own
writes), expiry, RENAME/COPY/MOVE, restart, replication (DEBUG DIGEST equal)
and a sorted set of a million members under maxmemory 64mb.

Tests that do not use Strata-only features pass against redis-server 7.0 too
(STRATA_BIN=/usr/bin/redis-server); those that do are marked strata_only.
Sets are kept small (Redis's listpack encoding) where Redis's reply depends
on the encoding: a small Redis sorted set stores -0 as 0, as Strata does.
"""
import os
import random
import time

import pytest
import redis

from strata import (SLOW, wait_until, start_replica_pair,
                    wait_replica_converged, assert_rss_within_maxmemory)
from checks import arity_err, err
from rawresp import RawConn

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
IS_REDIS = os.path.basename(os.environ.get("STRATA_BIN", "")) == "redis-server"
strata_only = pytest.mark.skipif(IS_REDIS, reason="Strata-specific behaviour")
NOT_FLOAT = "min or max is not a float"
NOT_LEX = "min or max not valid string range item"
NOT_INT = "value is not an integer or out of range"


def zall(c, key):
    """The whole sorted set as [member, score-string, ...] (RESP2 flat)."""
    return c.execute_command("ZRANGE", key, 0, -1, "WITHSCORES")


# ---------------------------------------------------------------- ZADD family

def test_zadd_counts_and_options(c):
    assert c.execute_command("ZADD", "z", 1, "a", 2, "b", 3, "c") == 3
    assert c.execute_command("ZADD", "z", 1, "a", 5, "d") == 1
    assert c.execute_command("ZADD", "z", "CH", 10, "a", 5, "d", 7, "e") == 2
    assert c.execute_command("ZADD", "z", "XX", 100, "zz") == 0
    assert c.execute_command("ZSCORE", "z", "zz") is None
    assert c.execute_command("ZADD", "z", "NX", 100, "a", 3, "f") == 1
    assert c.execute_command("ZSCORE", "z", "a") == "10"
    assert c.execute_command("ZADD", "z", "GT", "CH", 1, "a") == 0
    assert c.execute_command("ZADD", "z", "GT", "CH", 11, "a") == 1
    assert c.execute_command("ZADD", "z", "LT", "CH", 12, "a", 1, "b") == 1
    assert c.execute_command("ZADD", "z", "GT", 1, "new") == 1  # GT/LT still add
    assert c.execute_command("ZADD", "z", "XX", "GT", "CH", 50, "a", 60, "nope") == 1
    assert c.execute_command("ZSCORE", "z", "nope") is None
    assert c.execute_command("ZADD", "z", "ch", "nx", 1, "a", 1, "x1") == 1  # any case
    assert c.execute_command("ZADD", "z", 1, "dup", 2, "dup") == 1  # last one wins
    assert c.execute_command("ZSCORE", "z", "dup") == "2"
    assert c.execute_command("ZADD", "nokey", "XX", 1, "a") == 0
    assert c.execute_command("EXISTS", "nokey") == 0
    assert c.execute_command("TYPE", "z") == "zset"


def test_zadd_errors(c):
    assert err(c, "ZADD", "z", 1) == arity_err("zadd")
    assert err(c, "ZADD", "z", 1, "a", 2) == "syntax error"
    assert err(c, "ZADD", "z", "NX", 1) == "syntax error"
    assert err(c, "ZADD", "z", "NX", "XX", 1, "a") == \
        "XX and NX options at the same time are not compatible"
    msg = "GT, LT, and/or NX options at the same time are not compatible"
    for opts in (["GT", "LT"], ["NX", "GT"], ["NX", "LT"], ["LT", "GT", "XX"]):
        assert err(c, "ZADD", "z", *opts, 1, "a") == msg
    assert err(c, "ZADD", "z", "INCR", 1, "a", 2, "b") == \
        "INCR option supports a single increment-element pair"
    # NX+XX is checked before the INCR pair count, as in Redis.
    assert err(c, "ZADD", "z", "INCR", "NX", "XX", 1, "a", 2, "b") == \
        "XX and NX options at the same time are not compatible"
    for bad in ("abc", "nan", "", " 1", "1 ", "1e", "--1"):
        assert err(c, "ZADD", "z", bad, "a") == "value is not a valid float", bad
    # A bad score anywhere means nothing is added.
    assert err(c, "ZADD", "z", 1, "a", "x", "b") == "value is not a valid float"
    assert c.execute_command("EXISTS", "z") == 0


def test_zadd_score_parsing_and_formatting(c):
    c.execute_command("ZADD", "z", "inf", "a", "-inf", "b", "+inf", "c", "1.5e2", "d",
                      "0x10", "e", "0.1", "f", "-0", "g", "1e308", "h", "-2.5", "i")
    assert c.execute_command("ZSCORE", "z", "a") == "inf"
    assert c.execute_command("ZSCORE", "z", "b") == "-inf"
    assert c.execute_command("ZSCORE", "z", "c") == "inf"
    assert c.execute_command("ZSCORE", "z", "d") == "150"
    assert c.execute_command("ZSCORE", "z", "e") == "16"
    assert c.execute_command("ZSCORE", "z", "f") == "0.10000000000000001"
    assert c.execute_command("ZSCORE", "z", "g") == "0"  # -0 is stored as 0
    assert c.execute_command("ZSCORE", "z", "h") == "1e+308"
    assert c.execute_command("ZSCORE", "z", "i") == "-2.5"
    assert zall(c, "z") == ["b", "-inf", "i", "-2.5", "g", "0", "f", "0.10000000000000001",
                            "e", "16", "d", "150", "h", "1e+308",
                            "a", "inf", "c", "inf"]
    # Overflow is refused as a score, but a range bound takes it as inf.
    assert err(c, "ZADD", "z", "1e400", "big") == "value is not a valid float"
    assert c.execute_command("ZCOUNT", "z", "1e300", "1e400") == 3


def test_zincrby_and_zadd_incr(c):
    assert c.execute_command("ZINCRBY", "z", 2.5, "m") == "2.5"
    assert c.execute_command("ZINCRBY", "z", "-1", "m") == "1.5"
    assert c.execute_command("ZINCRBY", "z", "0.1", "f") == "0.10000000000000001"
    assert c.execute_command("ZINCRBY", "z", "0.2", "f") == "0.30000000000000004"
    assert c.execute_command("ZADD", "z", "INCR", 1, "m") == "2.5"
    assert c.execute_command("ZADD", "z", "INCR", "NX", 1, "m") is None
    assert c.execute_command("ZADD", "z", "INCR", "XX", 1, "newm") is None
    assert c.execute_command("ZADD", "z", "INCR", "GT", -1, "m") is None
    assert c.execute_command("ZADD", "z", "INCR", "LT", -1, "m") == "1.5"
    assert c.execute_command("ZADD", "z", "INCR", 0, "m") == "1.5"
    # The reply is the computed score; the stored -0 is 0.
    assert c.execute_command("ZINCRBY", "z", "-0", "neg0") == "-0"
    assert c.execute_command("ZSCORE", "z", "neg0") == "0"
    assert err(c, "ZINCRBY", "z", "x", "m") == "value is not a valid float"
    assert err(c, "ZINCRBY", "z", 1) == arity_err("zincrby")
    c.execute_command("ZADD", "inf", "inf", "a")
    assert c.execute_command("ZINCRBY", "inf", 1, "a") == "inf"
    assert err(c, "ZINCRBY", "inf", "-inf", "a") == "resulting score is not a number (NaN)"
    assert err(c, "ZADD", "inf", "INCR", "-inf", "a") == "resulting score is not a number (NaN)"
    assert c.execute_command("ZSCORE", "inf", "a") == "inf"


# ---------------------------------------------------------------- ZREM, reads

def test_zrem_and_empty_key_disappears(c):
    c.execute_command("ZADD", "z", 1, "a", 2, "b", 3, "c")
    assert c.execute_command("ZREM", "z", "a", "zz", "a") == 1
    assert c.execute_command("ZCARD", "z") == 2
    assert c.execute_command("ZREM", "z", "b", "c", "b") == 2
    assert c.execute_command("EXISTS", "z") == 0
    assert c.execute_command("TYPE", "z") == "none"
    assert c.execute_command("ZREM", "z", "a") == 0
    assert c.execute_command("DBSIZE") == 0
    assert err(c, "ZREM", "z") == arity_err("zrem")


def test_zscore_zmscore_zcard(c):
    c.execute_command("ZADD", "z", 1, "a", 2.5, "b")
    assert c.execute_command("ZSCORE", "z", "b") == "2.5"
    assert c.execute_command("ZSCORE", "z", "x") is None
    assert c.execute_command("ZSCORE", "nokey", "a") is None
    assert c.execute_command("ZMSCORE", "z", "a", "x", "b") == ["1", None, "2.5"]
    assert c.execute_command("ZMSCORE", "nokey", "a", "b") == [None, None]
    assert err(c, "ZMSCORE", "z") == arity_err("zmscore")
    assert c.execute_command("ZCARD", "z") == 2
    assert c.execute_command("ZCARD", "nokey") == 0


def test_zcount_and_score_range_syntax(c):
    c.execute_command("ZADD", "z", 1, "a", 2, "b", 3, "c", "-inf", "n", "inf", "p", 0, "zero")
    assert c.execute_command("ZCOUNT", "z", "-inf", "+inf") == 6
    assert c.execute_command("ZCOUNT", "z", "(-inf", "(inf") == 4
    assert c.execute_command("ZCOUNT", "z", "(1", 3) == 2
    assert c.execute_command("ZCOUNT", "z", 1, "(3") == 2
    assert c.execute_command("ZCOUNT", "z", "(1", "(3") == 1
    assert c.execute_command("ZCOUNT", "z", 3, 1) == 0
    assert c.execute_command("ZCOUNT", "z", "(2", 2) == 0
    assert c.execute_command("ZCOUNT", "z", " 1", "3") == 3  # strtod skips spaces
    assert c.execute_command("ZCOUNT", "z", "", "") == 1     # "" is 0
    assert c.execute_command("ZCOUNT", "z", "(", "1") == 1   # "(" alone is (0
    assert c.execute_command("ZCOUNT", "z", "0x1", "0x3") == 3
    assert c.execute_command("ZCOUNT", "z", "-Infinity", "1e0") == 3
    for lo, hi in (("x", 1), (1, "x"), ("nan", 1), ("[1", 2), ("1 ", 2), ("((1", 2)):
        assert err(c, "ZCOUNT", "z", lo, hi) == NOT_FLOAT, (lo, hi)
    assert c.execute_command("ZCOUNT", "nokey", 1, 2) == 0
    assert err(c, "ZCOUNT", "nokey", "x", 2) == NOT_FLOAT  # parsed before the lookup


def test_zlexcount_and_lex_range_syntax(c):
    c.execute_command("ZADD", "z", 0, "a", 0, "b", 0, "c", 0, "d", 0, "ab", 0, "")
    assert c.execute_command("ZLEXCOUNT", "z", "-", "+") == 6
    assert c.execute_command("ZLEXCOUNT", "z", "+", "-") == 0
    assert c.execute_command("ZLEXCOUNT", "z", "-", "-") == 0
    assert c.execute_command("ZLEXCOUNT", "z", "[a", "[c") == 4
    assert c.execute_command("ZLEXCOUNT", "z", "(a", "(c") == 2
    assert c.execute_command("ZLEXCOUNT", "z", "[", "+") == 6   # "[" is the empty string
    assert c.execute_command("ZLEXCOUNT", "z", "(", "+") == 5
    assert c.execute_command("ZLEXCOUNT", "z", "[a", "[a") == 1
    assert c.execute_command("ZLEXCOUNT", "z", "(a", "[a") == 0
    for lo, hi in (("a", "+"), ("-", "c"), ("", "+"), ("+x", "-"), ("-", "++")):
        assert err(c, "ZLEXCOUNT", "z", lo, hi) == NOT_LEX, (lo, hi)
    assert c.execute_command("ZLEXCOUNT", "nokey", "-", "+") == 0


# ---------------------------------------------------------------- ZRANGE

def test_zrange_by_rank(c):
    c.execute_command("ZADD", "z", 1, "a", 2, "b", 3, "c", 4, "d", 5, "e")
    assert c.execute_command("ZRANGE", "z", 0, -1) == ["a", "b", "c", "d", "e"]
    assert c.execute_command("ZRANGE", "z", 1, 2, "WITHSCORES") == ["b", "2", "c", "3"]
    assert c.execute_command("ZRANGE", "z", -2, -1) == ["d", "e"]
    assert c.execute_command("ZRANGE", "z", -100, 100) == ["a", "b", "c", "d", "e"]
    assert c.execute_command("ZRANGE", "z", 3, 1) == []
    assert c.execute_command("ZRANGE", "z", 5, 10) == []
    assert c.execute_command("ZRANGE", "z", 0, -6) == []
    assert c.execute_command("ZRANGE", "z", 0, 0, "REV") == ["e"]
    assert c.execute_command("ZRANGE", "z", 1, 3, "REV", "WITHSCORES") == \
        ["d", "4", "c", "3", "b", "2"]
    assert c.execute_command("ZREVRANGE", "z", 0, 1, "WITHSCORES") == ["e", "5", "d", "4"]
    assert c.execute_command("ZREVRANGE", "z", -1, -1) == ["a"]
    assert c.execute_command("ZRANGE", "nokey", 0, -1) == []
    assert err(c, "ZRANGE", "z", "a", 1) == NOT_INT
    assert err(c, "ZRANGE", "z", 0) == arity_err("zrange")


def test_zrange_rank_on_a_larger_set_from_both_ends(c):
    # Ranks are walked from the nearer end: check windows near both ends
    # and across the middle against a model.
    n = 1000
    model = sorted((random.Random(7).randint(0, 300), f"m{i:04d}") for i in range(n))
    p = c.pipeline(transaction=False)
    for s, m in model:
        p.execute_command("ZADD", "z", s, m)
    p.execute()
    names = [m for _, m in model]
    for start, stop in ((0, 9), (990, 999), (-10, -1), (400, 620), (-700, 800), (995, 2000),
                        (-2000, 3), (0, -1)):
        lo = start + n if start < 0 else start
        hi = stop + n if stop < 0 else stop
        want = names[max(lo, 0):hi + 1]
        assert c.execute_command("ZRANGE", "z", start, stop) == want, (start, stop)
        rev = names[::-1][max(lo, 0):hi + 1]
        assert c.execute_command("ZRANGE", "z", start, stop, "REV") == rev, (start, stop)
    for i in (0, 1, 499, 998, 999):
        assert c.execute_command("ZRANK", "z", names[i]) == i
        assert c.execute_command("ZREVRANK", "z", names[i]) == n - 1 - i


def test_zrange_byscore(c):
    c.execute_command("ZADD", "z", 1, "a", 2, "b", 3, "c", 4, "d", 5, "e")
    assert c.execute_command("ZRANGE", "z", "(1", 3, "BYSCORE") == ["b", "c"]
    assert c.execute_command("ZRANGE", "z", "(1", 3, "BYSCORE", "WITHSCORES") == \
        ["b", "2", "c", "3"]
    assert c.execute_command("ZRANGE", "z", 3, "(1", "BYSCORE", "REV") == ["c", "b"]
    assert c.execute_command("ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", 1, 2) == ["b", "c"]
    assert c.execute_command("ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", 1, -1) == \
        ["b", "c", "d", "e"]
    assert c.execute_command("ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", -1, 2) == []
    assert c.execute_command("ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", 5, 2) == []
    assert c.execute_command("ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", 0, 0) == []
    assert c.execute_command("ZRANGE", "z", "+inf", "-inf", "BYSCORE", "REV", "LIMIT", 1, 2,
                             "WITHSCORES") == ["d", "4", "c", "3"]
    assert c.execute_command("ZRANGE", "z", "(5", "+inf", "BYSCORE") == []
    assert c.execute_command("ZRANGE", "z", 2, 2, "BYSCORE") == ["b"]
    assert c.execute_command("ZRANGE", "z", "(2", "(3", "BYSCORE") == []
    assert c.execute_command("ZRANGEBYSCORE", "z", "-inf", "+inf", "WITHSCORES", "LIMIT", 0, 1) == \
        ["a", "1"]
    assert c.execute_command("ZRANGEBYSCORE", "z", "(2", "(10") == ["c", "d", "e"]
    assert c.execute_command("ZREVRANGEBYSCORE", "z", 10, 2, "LIMIT", 1, 1) == ["d"]
    assert c.execute_command("ZREVRANGEBYSCORE", "z", "+inf", "-inf", "WITHSCORES") == \
        ["e", "5", "d", "4", "c", "3", "b", "2", "a", "1"]
    assert c.execute_command("ZREVRANGEBYSCORE", "z", "-inf", "+inf") == []
    assert c.execute_command("ZRANGEBYSCORE", "nokey", 1, 2) == []
    assert err(c, "ZRANGEBYSCORE", "nokey", "x", 2) == NOT_FLOAT
    assert err(c, "ZRANGE", "z", "x", 2, "BYSCORE") == NOT_FLOAT


def test_zrange_bylex(c):
    c.execute_command("ZADD", "z", 0, "a", 0, "b", 0, "c", 0, "d", 0, "e", 0, "ab", 0, "", 0, "abc")
    assert c.execute_command("ZRANGEBYLEX", "z", "-", "+") == \
        ["", "a", "ab", "abc", "b", "c", "d", "e"]
    assert c.execute_command("ZRANGEBYLEX", "z", "[a", "[c") == ["a", "ab", "abc", "b", "c"]
    assert c.execute_command("ZRANGEBYLEX", "z", "(a", "(c") == ["ab", "abc", "b"]
    assert c.execute_command("ZRANGEBYLEX", "z", "[ab", "+") == ["ab", "abc", "b", "c", "d", "e"]
    assert c.execute_command("ZRANGEBYLEX", "z", "-", "(") == []
    assert c.execute_command("ZRANGEBYLEX", "z", "-", "[") == [""]
    assert c.execute_command("ZRANGEBYLEX", "z", "[c", "[a") == []
    assert c.execute_command("ZRANGEBYLEX", "z", "+", "-") == []
    assert c.execute_command("ZRANGEBYLEX", "z", "-", "+", "LIMIT", 2, 3) == ["ab", "abc", "b"]
    assert c.execute_command("ZRANGEBYLEX", "z", "-", "+", "LIMIT", -1, 3) == []
    assert c.execute_command("ZREVRANGEBYLEX", "z", "+", "-", "LIMIT", 0, 3) == ["e", "d", "c"]
    assert c.execute_command("ZREVRANGEBYLEX", "z", "[c", "[a") == ["c", "b", "abc", "ab", "a"]
    assert c.execute_command("ZREVRANGEBYLEX", "z", "(c", "(a", "LIMIT", 1, 5) == ["abc", "ab"]
    assert c.execute_command("ZREVRANGEBYLEX", "z", "-", "+") == []
    assert c.execute_command("ZRANGE", "z", "[b", "[d", "BYLEX") == ["b", "c", "d"]
    assert c.execute_command("ZRANGE", "z", "[d", "[b", "BYLEX", "REV") == ["d", "c", "b"]
    assert c.execute_command("ZRANGE", "z", "-", "+", "BYLEX", "LIMIT", 1, 1) == ["a"]
    assert err(c, "ZRANGEBYLEX", "z", "a", "c") == NOT_LEX
    assert err(c, "ZRANGE", "z", "a", "[c", "BYLEX") == NOT_LEX


def test_zrange_option_errors(c):
    c.execute_command("ZADD", "z", 1, "a")
    limit_rank = "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
    assert err(c, "ZRANGE", "z", 0, -1, "LIMIT", 0, 1) == limit_rank
    assert err(c, "ZREVRANGE", "z", 0, -1, "LIMIT", 0, 1) == limit_rank
    assert err(c, "ZRANGE", "z", "-", "+", "BYLEX", "WITHSCORES") == \
        "syntax error, WITHSCORES not supported in combination with BYLEX"
    assert err(c, "ZRANGEBYLEX", "z", "-", "+", "WITHSCORES") == \
        "syntax error, WITHSCORES not supported in combination with BYLEX"
    for extra in (["BYSCORE", "BYLEX"], ["REV", "REV"], ["BOGUS"], ["LIMIT", 1], ["BYSCORE", "BYSCORE"]):
        assert err(c, "ZRANGE", "z", 0, -1, *extra) == "syntax error", extra
    assert err(c, "ZRANGE", "z", 0, 1, "BYSCORE", "LIMIT", "x", 1) == NOT_INT
    assert err(c, "ZRANGEBYSCORE", "z", 0, 1, "REV") == "syntax error"
    assert err(c, "ZRANGEBYSCORE", "z", 0, 1, "BYSCORE") == "syntax error"
    assert err(c, "ZREVRANGE", "z", 0, 1, "BYSCORE") == "syntax error"
    assert err(c, "ZRANGESTORE", "d", "z", 0, -1, "WITHSCORES") == "syntax error"
    # Option errors come before the key's type is looked at.
    c.execute_command("SET", "s", "v")
    assert err(c, "ZRANGE", "s", 0, -1, "BOGUS") == "syntax error"
    assert err(c, "ZRANGE", "s", 0, -1) == WRONGTYPE


def test_zrangestore(c):
    c.execute_command("ZADD", "src", 1, "a", 2, "b", 3, "c", 4, "d")
    assert c.execute_command("ZRANGESTORE", "dst", "src", 1, 2) == 2
    assert zall(c, "dst") == ["b", "2", "c", "3"]
    assert c.execute_command("ZRANGESTORE", "dst", "src", "(1", "+inf", "BYSCORE", "LIMIT", 0, 2) == 2
    assert zall(c, "dst") == ["b", "2", "c", "3"]
    assert c.execute_command("ZRANGESTORE", "dst", "src", "+inf", "-inf", "BYSCORE", "REV",
                             "LIMIT", 0, 1) == 1
    assert zall(c, "dst") == ["d", "4"]
    assert c.execute_command("ZRANGESTORE", "dst", "src", "[b", "[c", "BYLEX") == 2
    # An empty result deletes the destination.
    assert c.execute_command("ZRANGESTORE", "dst", "src", 5, 1) == 0
    assert c.execute_command("EXISTS", "dst") == 0
    c.execute_command("ZADD", "dst", 1, "x")
    assert c.execute_command("ZRANGESTORE", "dst", "nokey", 0, -1) == 0
    assert c.execute_command("EXISTS", "dst") == 0
    # The destination is overwritten whatever it held; its TTL goes.
    c.execute_command("SET", "str", "v", "EX", 100)
    assert c.execute_command("ZRANGESTORE", "str", "src", 0, 0) == 1
    assert c.execute_command("TYPE", "str") == "zset"
    assert c.execute_command("TTL", "str") == -1
    assert zall(c, "str") == ["a", "1"]
    # Source and destination may be the same key.
    assert c.execute_command("ZRANGESTORE", "src", "src", 0, 1, "REV") == 2
    assert zall(c, "src") == ["c", "3", "d", "4"]
    assert err(c, "ZRANGESTORE", "dst", "str2") == arity_err("zrangestore")
    c.execute_command("SET", "s", "v")
    assert err(c, "ZRANGESTORE", "dst", "s", 0, -1) == WRONGTYPE


def test_zrank_zrevrank(c):
    c.execute_command("ZADD", "z", 1, "a", 2, "b", 2, "c", 3, "d")
    assert [c.execute_command("ZRANK", "z", m) for m in "abcd"] == [0, 1, 2, 3]
    assert [c.execute_command("ZREVRANK", "z", m) for m in "abcd"] == [3, 2, 1, 0]
    assert c.execute_command("ZRANK", "z", "x") is None
    assert c.execute_command("ZREVRANK", "nokey", "a") is None
    assert err(c, "ZRANK", "z", "a", "WITHSCORE") == arity_err("zrank")


# ---------------------------------------------------------------- removals

def test_zremrangebyrank(c):
    c.execute_command("ZADD", "z", 1, "a", 2, "b", 3, "c", 4, "d", 5, "e")
    assert c.execute_command("ZREMRANGEBYRANK", "z", 0, 1) == 2
    assert c.execute_command("ZRANGE", "z", 0, -1) == ["c", "d", "e"]
    assert c.execute_command("ZREMRANGEBYRANK", "z", -1, -1) == 1
    assert c.execute_command("ZREMRANGEBYRANK", "z", 5, 1) == 0
    assert c.execute_command("ZREMRANGEBYRANK", "z", 10, 20) == 0
    assert c.execute_command("ZREMRANGEBYRANK", "z", -100, 100) == 2
    assert c.execute_command("EXISTS", "z") == 0
    assert c.execute_command("ZREMRANGEBYRANK", "nokey", 0, -1) == 0
    assert err(c, "ZREMRANGEBYRANK", "z", "x", 1) == NOT_INT


def test_zremrangebyscore_and_bylex(c):
    c.execute_command("ZADD", "z", 1, "a", 2, "b", 3, "c", 4, "d", 5, "e")
    assert c.execute_command("ZREMRANGEBYSCORE", "z", "(1", 3) == 2
    assert c.execute_command("ZRANGE", "z", 0, -1) == ["a", "d", "e"]
    assert c.execute_command("ZREMRANGEBYSCORE", "z", 10, 20) == 0
    assert err(c, "ZREMRANGEBYSCORE", "z", 1, "x") == NOT_FLOAT
    assert c.execute_command("ZREMRANGEBYSCORE", "z", "-inf", "+inf") == 3
    assert c.execute_command("EXISTS", "z") == 0
    c.execute_command("ZADD", "l", 0, "a", 0, "b", 0, "c", 0, "d")
    assert c.execute_command("ZREMRANGEBYLEX", "l", "[b", "(d") == 2
    assert c.execute_command("ZRANGE", "l", 0, -1) == ["a", "d"]
    assert err(c, "ZREMRANGEBYLEX", "l", "b", "d") == NOT_LEX
    assert c.execute_command("ZREMRANGEBYLEX", "l", "-", "+") == 2
    assert c.execute_command("EXISTS", "l") == 0
    assert c.execute_command("ZREMRANGEBYLEX", "nokey", "-", "+") == 0


# ---------------------------------------------------------------- pops

def test_zpopmin_zpopmax(c):
    c.execute_command("ZADD", "z", 1, "a", 2, "b", 3, "c", 4, "d", 5, "e")
    assert c.execute_command("ZPOPMIN", "z") == ["a", "1"]
    assert c.execute_command("ZPOPMAX", "z") == ["e", "5"]
    assert c.execute_command("ZPOPMIN", "z", 2) == ["b", "2", "c", "3"]
    assert c.execute_command("ZPOPMIN", "z", 0) == []
    assert c.execute_command("ZPOPMAX", "z", 10) == ["d", "4"]
    assert c.execute_command("EXISTS", "z") == 0
    assert c.execute_command("ZPOPMIN", "nokey") == []
    assert c.execute_command("ZPOPMIN", "nokey", 3) == []
    for bad in ("-1", "x"):
        assert err(c, "ZPOPMIN", "z", bad) == "value is out of range, must be positive"
    assert err(c, "ZPOPMIN", "z", 1, 2) == "syntax error"


def test_zmpop(c):
    c.execute_command("ZADD", "z", 1, "a", 2, "b", 3, "c")
    c.execute_command("ZADD", "z2", 10, "x", 20, "y")
    assert c.execute_command("ZMPOP", 1, "z", "MIN") == ["z", [["a", "1"]]]
    assert c.execute_command("ZMPOP", 2, "nokey", "z2", "MAX", "COUNT", 5) == \
        ["z2", [["y", "20"], ["x", "10"]]]
    assert c.execute_command("EXISTS", "z2") == 0
    assert c.execute_command("ZMPOP", 2, "nokey", "z", "min", "count", 10) == \
        ["z", [["b", "2"], ["c", "3"]]]
    assert c.execute_command("ZMPOP", 2, "nokey", "nokey2", "MIN") is None
    c.execute_command("ZADD", "z", 1, "a")
    for args, msg in (([0, "z", "MIN"], "numkeys should be greater than 0"),
                      ([-1, "z", "MIN"], "numkeys should be greater than 0"),
                      (["x", "z", "MIN"], "numkeys should be greater than 0"),
                      ([1, "z", "BOGUS"], "syntax error"),
                      ([2, "z", "MIN"], "syntax error"),
                      ([1, "z", "MIN", "COUNT"], "syntax error"),
                      ([1, "z", "MIN", "COUNT", 0], "count should be greater than 0"),
                      ([1, "z", "MIN", "COUNT", "x"], "count should be greater than 0"),
                      ([1, "z", "MIN", "COUNT", 1, "COUNT", 1], "syntax error")):
        assert err(c, "ZMPOP", *args) == msg, args
    assert err(c, "ZMPOP", 1, "z") == arity_err("zmpop")
    c.execute_command("SET", "s", "v")
    assert err(c, "ZMPOP", 2, "nokey", "s", "MIN") == WRONGTYPE
    # Keys after the first non-empty one are not looked at.
    assert c.execute_command("ZMPOP", 2, "z", "s", "MIN") == ["z", [["a", "1"]]]


# ---------------------------------------------------------------- ZRANDMEMBER, ZSCAN

def test_zrandmember(c):
    assert c.execute_command("ZRANDMEMBER", "nokey") is None
    assert c.execute_command("ZRANDMEMBER", "nokey", 5) == []
    assert c.execute_command("ZRANDMEMBER", "nokey", 5, "WITHSCORES") == []
    members = {f"m{i}": str(i) for i in range(20)}
    for m, s in members.items():
        c.execute_command("ZADD", "z", s, m)
    assert c.execute_command("ZRANDMEMBER", "z") in members
    assert c.execute_command("ZRANDMEMBER", "z", 0) == []
    got = c.execute_command("ZRANDMEMBER", "z", 5)
    assert len(got) == 5 and len(set(got)) == 5 and set(got) <= set(members)
    assert sorted(c.execute_command("ZRANDMEMBER", "z", 100)) == sorted(members)
    got = c.execute_command("ZRANDMEMBER", "z", -50)
    assert len(got) == 50 and set(got) <= set(members)
    got = c.execute_command("ZRANDMEMBER", "z", -7, "WITHSCORES")
    assert len(got) == 14
    for m, s in zip(got[::2], got[1::2]):
        assert members[m] == s
    got = c.execute_command("ZRANDMEMBER", "z", 7, "WITHSCORES")
    assert len(got) == 14 and len(set(got[::2])) == 7
    assert err(c, "ZRANDMEMBER", "z", 1, "bogus") == "syntax error"
    assert err(c, "ZRANDMEMBER", "z", 1, "WITHSCORES", "x") == "syntax error"
    assert err(c, "ZRANDMEMBER", "z", "x") == NOT_INT
    assert err(c, "ZRANDMEMBER", "z", "x", "bogus") == NOT_INT  # count parsed first
    assert err(c, "ZRANDMEMBER", "z", "-9223372036854775807", "WITHSCORES") == \
        "value is out of range"


@strata_only
def test_zrandmember_huge_negative_count_is_refused(c):
    # redis-server 7.0.15 hangs on this without WITHSCORES (later Redis: this error).
    c.execute_command("ZADD", "z", 1, "a")
    assert err(c, "ZRANDMEMBER", "z", "-9223372036854775807") == "value is out of range"


def test_zrandmember_draws_are_spread(c):
    for i in range(10):
        c.execute_command("ZADD", "z", i, f"m{i}")
    seen = set(c.execute_command("ZRANDMEMBER", "z", -400))
    assert seen == {f"m{i}" for i in range(10)}
    orders = {tuple(c.execute_command("ZRANDMEMBER", "z", 5)) for _ in range(10)}
    assert len(orders) > 1


def test_zscan_full_iteration(c):
    members = {f"m{i:03d}": str(i) for i in range(300)}
    p = c.pipeline(transaction=False)
    for m, s in members.items():
        p.execute_command("ZADD", "z", s, m)
    p.execute()
    cursor, seen = 0, {}
    for _ in range(1000):
        cursor, items = c.execute_command("ZSCAN", "z", cursor, "COUNT", 17)
        cursor = int(cursor)
        for m, s in zip(items[::2], items[1::2]):
            seen[m] = s
        if cursor == 0:
            break
    assert seen == members
    cursor, items = c.execute_command("ZSCAN", "z", 0, "MATCH", "m00*", "COUNT", 1000)
    assert int(cursor) == 0
    assert sorted(items[::2]) == [f"m00{i}" for i in range(10)]
    assert c.execute_command("ZSCAN", "nokey", 0) == ["0", []]
    assert err(c, "ZSCAN", "z", 0, "COUNT", 0) == "syntax error"


# ---------------------------------------------------------------- set algebra

@pytest.fixture
def ab(c):
    c.execute_command("ZADD", "a", 1, "x", 2, "y", 3, "z")
    c.execute_command("ZADD", "b", 10, "y", 20, "z", 30, "w")
    return c


def test_zunion(ab):
    c = ab
    assert c.execute_command("ZUNION", 2, "a", "b") == ["x", "y", "z", "w"]
    assert c.execute_command("ZUNION", 2, "a", "b", "WITHSCORES") == \
        ["x", "1", "y", "12", "z", "23", "w", "30"]
    assert c.execute_command("ZUNION", 2, "a", "b", "WEIGHTS", 2, 3, "WITHSCORES") == \
        ["x", "2", "y", "34", "z", "66", "w", "90"]
    assert c.execute_command("ZUNION", 2, "a", "b", "AGGREGATE", "MIN", "WITHSCORES") == \
        ["x", "1", "y", "2", "z", "3", "w", "30"]
    assert c.execute_command("ZUNION", 2, "a", "b", "aggregate", "max", "withscores") == \
        ["x", "1", "y", "10", "z", "20", "w", "30"]
    assert c.execute_command("ZUNION", 2, "a", "nokey", "WITHSCORES") == \
        ["x", "1", "y", "2", "z", "3"]
    assert c.execute_command("ZUNION", 1, "nokey") == []
    assert c.execute_command("ZUNION", 2, "a", "a", "WITHSCORES") == ["x", "2", "y", "4", "z", "6"]


def test_zinter_zdiff(ab):
    c = ab
    assert c.execute_command("ZINTER", 2, "a", "b", "WITHSCORES") == ["y", "12", "z", "23"]
    assert c.execute_command("ZINTER", 2, "a", "b", "WEIGHTS", 2, 3, "AGGREGATE", "MAX",
                             "WITHSCORES") == ["y", "30", "z", "60"]
    assert c.execute_command("ZINTER", 2, "a", "nokey") == []
    assert c.execute_command("ZINTER", 2, "a", "a", "WITHSCORES") == ["x", "2", "y", "4", "z", "6"]
    assert c.execute_command("ZINTER", 1, "a") == ["x", "y", "z"]
    assert c.execute_command("ZDIFF", 2, "a", "b", "WITHSCORES") == ["x", "1"]
    assert c.execute_command("ZDIFF", 2, "b", "a", "WITHSCORES") == ["w", "30"]
    assert c.execute_command("ZDIFF", 1, "a") == ["x", "y", "z"]
    assert c.execute_command("ZDIFF", 2, "a", "a") == []
    assert c.execute_command("ZDIFF", 2, "a", "nokey") == ["x", "y", "z"]
    assert c.execute_command("ZDIFF", 2, "nokey", "a") == []
    assert err(c, "ZDIFF", 2, "a", "b", "WEIGHTS", 1, 2) == "syntax error"
    assert err(c, "ZDIFF", 2, "a", "b", "AGGREGATE", "SUM") == "syntax error"


def test_zintercard(ab):
    c = ab
    assert c.execute_command("ZINTERCARD", 2, "a", "b") == 2
    assert c.execute_command("ZINTERCARD", 2, "a", "b", "LIMIT", 1) == 1
    assert c.execute_command("ZINTERCARD", 2, "a", "b", "LIMIT", 0) == 2
    assert c.execute_command("ZINTERCARD", 2, "a", "nokey") == 0
    assert c.execute_command("ZINTERCARD", 1, "a", "LIMIT", 2) == 2
    assert err(c, "ZINTERCARD", 2, "a", "b", "LIMIT", -1) == "LIMIT can't be negative"
    assert err(c, "ZINTERCARD", 2, "a", "b", "LIMIT", "x") == "LIMIT can't be negative"
    assert err(c, "ZINTERCARD", 2, "a", "b", "WITHSCORES") == "syntax error"
    assert err(c, "ZINTERCARD", 2, "a", "b", "WEIGHTS", 1, 1) == "syntax error"


def test_set_algebra_option_errors(ab):
    c = ab
    for cmd in ("ZUNION", "ZINTER", "ZDIFF", "ZINTERCARD"):
        assert err(c, cmd, 0, "a") == f"at least 1 input key is needed for '{cmd.lower()}' command"
        assert err(c, cmd, -1, "a") == f"at least 1 input key is needed for '{cmd.lower()}' command"
        assert err(c, cmd, "x", "a") == NOT_INT
        assert err(c, cmd, 3, "a", "b") == "syntax error"
    for cmd in ("ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"):
        assert err(c, cmd, "d", 0, "a") == \
            f"at least 1 input key is needed for '{cmd.lower()}' command"
        assert err(c, cmd, "d", 2, "a") == "syntax error"
        assert err(c, cmd, "d", 1, "a", "WITHSCORES") == "syntax error"
    assert err(c, "ZUNION", 2, "a", "b", "WEIGHTS", 1) == "syntax error"
    assert err(c, "ZUNION", 2, "a", "b", "WEIGHTS", 1, "x") == "weight value is not a float"
    assert err(c, "ZUNION", 2, "a", "b", "WEIGHTS", 1, "nan") == "weight value is not a float"
    assert err(c, "ZUNION", 2, "a", "b", "AGGREGATE", "BOGUS") == "syntax error"
    assert err(c, "ZUNION", 2, "a", "b", "AGGREGATE") == "syntax error"
    assert err(c, "ZINTER", 2, "a", "b", "BOGUS") == "syntax error"
    assert err(c, "ZUNIONSTORE", "d") == arity_err("zunionstore")
    assert err(c, "ZUNION", 1) == arity_err("zunion")


def test_weights_infinities_and_nan_are_zero(c):
    c.execute_command("ZADD", "a", 1, "x", 0, "zero")
    c.execute_command("ZADD", "b", 10, "x")
    c.execute_command("ZADD", "ninf", "-inf", "m")
    c.execute_command("ZADD", "pinf", "inf", "m")
    assert c.execute_command("ZUNION", 2, "a", "b", "WEIGHTS", "0.5", "inf", "WITHSCORES") == \
        ["zero", "0", "x", "inf"]
    # 0 * inf is NaN: Redis counts it as 0.
    assert c.execute_command("ZUNION", 1, "a", "WEIGHTS", "inf", "WITHSCORES") == \
        ["zero", "0", "x", "inf"]
    # inf + -inf is NaN: 0 as well.
    assert c.execute_command("ZUNION", 2, "ninf", "pinf", "WITHSCORES") == ["m", "0"]
    assert c.execute_command("ZINTER", 2, "ninf", "pinf", "WITHSCORES") == ["m", "0"]
    assert c.execute_command("ZINTER", 2, "ninf", "pinf", "AGGREGATE", "MAX", "WITHSCORES") == \
        ["m", "inf"]
    # A negative weight on 0 replies -0, stored as 0.
    assert c.execute_command("ZUNION", 1, "a", "WEIGHTS", -1, "WITHSCORES") == \
        ["x", "-1", "zero", "-0"]
    assert c.execute_command("ZUNIONSTORE", "d", 1, "a", "WEIGHTS", -1) == 2
    assert zall(c, "d") == ["x", "-1", "zero", "0"]


def test_float_sums_follow_redis_input_order(c):
    # Union and intersection sum over the inputs sorted by size, smallest
    # first: 0.2 + 0.3 + 0.1 here, not 0.1 + 0.2 + 0.3.
    c.execute_command("ZADD", "f1", 0.1, "m", 0, "x", 0, "y")
    c.execute_command("ZADD", "f2", 0.2, "m")
    c.execute_command("ZADD", "f3", 0.3, "m", 0, "x")
    assert c.execute_command("ZUNION", 3, "f1", "f2", "f3", "WITHSCORES") == \
        ["x", "0", "y", "0", "m", "0.59999999999999998"]
    assert c.execute_command("ZINTER", 3, "f1", "f2", "f3", "WITHSCORES") == \
        ["m", "0.59999999999999998"]
    c.execute_command("ZADD", "g1", 0.1, "m")
    c.execute_command("ZADD", "g2", 0.2, "m", 0, "x")
    c.execute_command("ZADD", "g3", 0.3, "m", 0, "x", 0, "y")
    assert c.execute_command("ZINTER", 3, "g3", "g2", "g1", "WITHSCORES") == \
        ["m", "0.60000000000000009"]


def test_store_variants(ab):
    c = ab
    assert c.execute_command("ZUNIONSTORE", "d", 2, "a", "b") == 4
    assert zall(c, "d") == ["x", "1", "y", "12", "z", "23", "w", "30"]
    assert c.execute_command("ZINTERSTORE", "d", 2, "a", "b", "WEIGHTS", 1, 0.5,
                             "AGGREGATE", "MIN") == 2
    assert zall(c, "d") == ["y", "2", "z", "3"]
    assert c.execute_command("ZDIFFSTORE", "d", 2, "b", "a") == 1
    assert zall(c, "d") == ["w", "30"]
    # Empty results delete the destination.
    assert c.execute_command("ZINTERSTORE", "d", 2, "a", "nokey") == 0
    assert c.execute_command("EXISTS", "d") == 0
    assert c.execute_command("ZDIFFSTORE", "d", 2, "a", "a") == 0
    assert c.execute_command("ZUNIONSTORE", "d", 1, "nokey") == 0
    assert c.execute_command("EXISTS", "d") == 0
    # Any type is overwritten; the TTL goes.
    c.execute_command("SET", "str", "v", "EX", 100)
    assert c.execute_command("ZUNIONSTORE", "str", 1, "a") == 3
    assert c.execute_command("TYPE", "str") == "zset"
    assert c.execute_command("TTL", "str") == -1
    # The destination may be an input.
    assert c.execute_command("ZINTERSTORE", "a", 2, "a", "b") == 2
    assert zall(c, "a") == ["y", "12", "z", "23"]
    assert c.execute_command("ZUNIONSTORE", "b", 2, "b", "b", "WEIGHTS", 1, 1) == 3
    assert zall(c, "b") == ["y", "20", "z", "40", "w", "60"]


def test_plain_sets_are_inputs_with_score_one(c):
    c.execute_command("SADD", "s", "a", "b", "c")
    c.execute_command("ZADD", "z", 5, "a", 10, "d")
    assert c.execute_command("ZUNION", 2, "s", "z", "WITHSCORES") == \
        ["b", "1", "c", "1", "a", "6", "d", "10"]
    assert c.execute_command("ZINTER", 2, "s", "z", "WEIGHTS", 2, 3, "WITHSCORES") == ["a", "17"]
    assert c.execute_command("ZDIFF", 2, "s", "z", "WITHSCORES") == ["b", "1", "c", "1"]
    assert c.execute_command("ZINTERCARD", 2, "s", "z") == 1
    assert c.execute_command("ZINTERSTORE", "d", 1, "s") == 3
    assert zall(c, "d") == ["a", "1", "b", "1", "c", "1"]
    # Other commands still refuse a set.
    assert err(c, "ZRANGE", "s", 0, -1) == WRONGTYPE


# ---------------------------------------------------------------- types, RESP3

def test_wrongtype_on_every_key_argument(c):
    c.execute_command("SET", "s", "v")
    c.execute_command("HSET", "h", "f", "v")
    c.execute_command("ZADD", "z", 1, "a")
    cmds = [["ZADD", "s", 1, "a"], ["ZINCRBY", "s", 1, "a"], ["ZREM", "s", "a"], ["ZCARD", "s"],
            ["ZSCORE", "s", "a"], ["ZMSCORE", "s", "a"], ["ZCOUNT", "s", 1, 2],
            ["ZLEXCOUNT", "s", "-", "+"], ["ZRANK", "s", "a"], ["ZREVRANK", "s", "a"],
            ["ZRANGE", "s", 0, -1], ["ZRANGESTORE", "d", "s", 0, -1], ["ZREVRANGE", "s", 0, -1],
            ["ZRANGEBYSCORE", "s", 1, 2], ["ZREVRANGEBYSCORE", "s", 2, 1],
            ["ZRANGEBYLEX", "s", "-", "+"], ["ZREVRANGEBYLEX", "s", "+", "-"],
            ["ZREMRANGEBYSCORE", "s", 1, 2], ["ZREMRANGEBYRANK", "s", 0, 1],
            ["ZREMRANGEBYLEX", "s", "-", "+"], ["ZPOPMIN", "s"], ["ZPOPMAX", "s", 2],
            ["ZPOPMIN", "s", 0], ["ZMPOP", 1, "s", "MIN"], ["ZRANDMEMBER", "s"],
            ["ZRANDMEMBER", "s", 2], ["ZSCAN", "s", 0],
            ["ZUNION", 2, "z", "s"], ["ZINTER", 2, "z", "h"], ["ZDIFF", 2, "z", "s"],
            ["ZINTERCARD", 2, "s", "z"], ["ZUNIONSTORE", "d", 2, "z", "s"],
            ["ZINTERSTORE", "d", 1, "h"], ["ZDIFFSTORE", "d", 2, "z", "s"],
            ["ZUNION", 2, "s", "z", "WITHSCORES", "BOGUS"]]  # types before options
    for cmd in cmds:
        assert err(c, *cmd) == WRONGTYPE, cmd
    assert c.execute_command("EXISTS", "d") == 0
    for cmd in (["GET", "z"], ["HGET", "z", "a"], ["APPEND", "z", "x"], ["INCR", "z"]):
        assert err(c, *cmd) == WRONGTYPE, cmd
    assert c.execute_command("SET", "z", "now a string") == "OK"


def test_resp3_replies(server, c):
    c.execute_command("ZADD", "z", 1, "a", 2.5, "b")
    c.execute_command("ZADD", "z2", 3, "c")
    with RawConn(server.port) as rc:
        rc.cmd("HELLO", "3")
        r = rc.cmd("ZSCORE", "z", "b")
        assert r.type == "," and r.raw == b",2.5\r\n"
        assert rc.cmd("ZSCORE", "z", "x").raw == b"_\r\n"
        assert rc.cmd("ZMSCORE", "z", "a", "x").raw == b"*2\r\n,1\r\n_\r\n"
        assert rc.cmd("ZINCRBY", "z2", "0.1", "c").raw == b",3.1000000000000001\r\n"
        r = rc.cmd("ZRANGE", "z", 0, -1, "WITHSCORES")
        assert r.raw == b"*2\r\n*2\r\n$1\r\na\r\n,1\r\n*2\r\n$1\r\nb\r\n,2.5\r\n"
        assert rc.cmd("ZRANGE", "z", 0, -1).raw == b"*2\r\n$1\r\na\r\n$1\r\nb\r\n"
        r = rc.cmd("ZUNION", 2, "z", "z2", "WITHSCORES")
        assert r.py() == [[b"a", 1.0], [b"b", 2.5], [b"c", 3.1]]
        r = rc.cmd("ZRANDMEMBER", "z", -2, "WITHSCORES")
        assert all(p.type == "*" and len(p.value) == 2 for p in r.value)
        assert rc.cmd("ZPOPMIN", "z").raw == b"*2\r\n$1\r\na\r\n,1\r\n"  # flat without count
        assert rc.cmd("ZPOPMIN", "z", 1).raw == b"*1\r\n*2\r\n$1\r\nb\r\n,2.5\r\n"
        assert rc.cmd("ZMPOP", 1, "z2", "MAX").py() == [b"z2", [[b"c", 3.1]]]
        assert rc.cmd("ZMPOP", 1, "z2", "MAX").raw == b"_\r\n"
        rc.cmd("ZADD", "inf", "inf", "p", "-inf", "n")
        assert rc.cmd("ZRANGE", "inf", 0, -1, "WITHSCORES").raw == \
            b"*2\r\n*2\r\n$1\r\nn\r\n,-inf\r\n*2\r\n$1\r\np\r\n,inf\r\n"


def test_binary_members(cb):
    m1, m2 = b"\x00\xff\r\nm", b"\x00"
    assert cb.execute_command("ZADD", b"z\x00", 1, m1, 2, m2, 3, b"") == 3
    assert cb.execute_command("ZRANGE", b"z\x00", 0, -1) == [m1, m2, b""]
    assert cb.execute_command("ZSCORE", b"z\x00", m1) == b"1"
    assert cb.execute_command("ZRANK", b"z\x00", b"") == 2
    cb.execute_command("ZADD", b"lex", 0, m1, 0, m2, 0, b"")
    assert cb.execute_command("ZRANGEBYLEX", b"lex", b"-", b"+") == [b"", m2, m1]
    assert cb.execute_command("ZRANGEBYLEX", b"lex", b"(\x00", b"+") == [m1]


# ---------------------------------------------------------------- events

def _events(ps, n, timeout=5.0):
    out, deadline = [], time.time() + timeout * SLOW
    while len(out) < n and time.time() < deadline:
        m = ps.get_message(timeout=0.1)
        if m and m["type"] == "pmessage":
            out.append(m["data"] if m["channel"].startswith("__keyspace") else None)
    return [e for e in out if e is not None]


def test_keyspace_events(r):
    ps = r.pubsub()
    ps.psubscribe("__keyspace@0__:*")
    wait_until(lambda: ps.get_message(timeout=0.1) is not None, timeout=5, msg="psubscribe")
    try:
        r.config_set("notify-keyspace-events", "KA")
        ex = r.execute_command
        ex("ZADD", "z", 1, "a", 2, "b", 3, "c")
        ex("ZADD", "z", "NX", 1, "a")          # no change: no event
        ex("ZINCRBY", "z", 1, "a")
        ex("ZADD", "z", "INCR", 1, "a")
        ex("ZREM", "z", "a")
        ex("ZREM", "z", "nope")                # nothing removed: no event
        ex("ZPOPMIN", "z")
        ex("ZPOPMAX", "z")                     # emptied: del
        ex("ZADD", "y", 1, "a", 2, "b", 3, "c", 4, "d")
        ex("ZREMRANGEBYRANK", "y", 0, 0)
        ex("ZREMRANGEBYSCORE", "y", 2, 2)
        ex("ZREMRANGEBYLEX", "y", "-", "+")    # emptied: del
        ex("ZADD", "src", 1, "a")
        ex("ZRANGESTORE", "dst", "src", 0, -1)
        ex("ZRANGESTORE", "dst", "src", 5, 6)  # empty result: dst deleted
        ex("ZUNIONSTORE", "u", 1, "src")
        ex("ZINTERSTORE", "u", 1, "src")
        ex("ZDIFFSTORE", "u", 2, "src", "src")
        ex("ZMPOP", 1, "src", "MIN")
        got = _events(ps, 20)
        assert got == ["zadd", "zincr", "zincr", "zrem", "zpopmin", "zpopmax", "del",
                       "zadd", "zremrangebyrank", "zremrangebyscore", "zremrangebylex", "del",
                       "zadd", "zrangestore", "del", "zunionstore", "zinterstore", "del",
                       "zpopmin", "del"]
    finally:
        r.config_set("notify-keyspace-events", "")
        ps.close()


# ---------------------------------------------------------------- keyspace integration

def test_pipeline_reads_its_own_writes(c):
    p = c.pipeline(transaction=False)
    p.execute_command("ZADD", "z", 1, "a", 2, "b")
    p.execute_command("ZRANGE", "z", 0, -1, "WITHSCORES")
    p.execute_command("ZINCRBY", "z", 5, "a")
    p.execute_command("ZRANGEBYSCORE", "z", "-inf", "+inf")
    p.execute_command("ZRANK", "z", "a")
    p.execute_command("ZREM", "z", "b")
    p.execute_command("ZCARD", "z")
    p.execute_command("ZUNIONSTORE", "u", 1, "z")
    p.execute_command("ZRANGE", "u", 0, -1)
    p.execute_command("DEL", "z")
    p.execute_command("ZSCORE", "z", "a")
    p.execute_command("ZADD", "z", 9, "c")
    p.execute_command("ZRANGE", "z", 0, -1, "WITHSCORES")
    p.execute_command("ZPOPMIN", "z")
    p.execute_command("EXISTS", "z")
    assert p.execute() == [2, ["a", "1", "b", "2"], "6", ["b", "a"], 1, 1, 1, 1, ["a"], 1, None,
                           1, ["c", "9"], ["c", "9"], 0]


def test_expire_on_zset(c):
    c.execute_command("ZADD", "z", 1, "a")
    assert c.execute_command("PEXPIRE", "z", 100) == 1
    c.execute_command("ZADD", "z", 2, "b")  # writes keep the TTL
    assert c.execute_command("PTTL", "z") > 0
    wait_until(lambda: c.execute_command("EXISTS", "z") == 0, timeout=5, msg="zset to expire")
    assert c.execute_command("ZSCORE", "z", "a") is None
    assert c.execute_command("ZADD", "z", 3, "c") == 1
    assert zall(c, "z") == ["c", "3"]
    assert c.execute_command("TTL", "z") == -1


def test_del_recreate_sees_no_old_members(c):
    p = c.pipeline(transaction=False)
    for i in range(500):
        p.execute_command("ZADD", "z", i, f"m{i}")
    p.execute()
    assert c.execute_command("DEL", "z") == 1
    assert c.execute_command("ZCARD", "z") == 0
    c.execute_command("ZADD", "z", 1, "new")
    assert zall(c, "z") == ["new", "1"]
    assert c.execute_command("ZRANGEBYSCORE", "z", "-inf", "+inf") == ["new"]
    assert c.execute_command("ZRANK", "z", "new") == 0


def test_rename_copy_move(c):
    c.execute_command("ZADD", "z", 1, "a", 2, "b")
    c.execute_command("PEXPIRE", "z", 100000)
    assert c.execute_command("RENAME", "z", "z2") == "OK"
    assert c.execute_command("EXISTS", "z") == 0
    assert zall(c, "z2") == ["a", "1", "b", "2"]
    assert c.execute_command("PTTL", "z2") > 0
    assert c.execute_command("ZRANGEBYSCORE", "z2", "(1", "+inf") == ["b"]
    assert c.execute_command("COPY", "z2", "cp") == 1
    c.execute_command("ZADD", "cp", 3, "c")
    assert zall(c, "z2") == ["a", "1", "b", "2"]
    assert zall(c, "cp") == ["a", "1", "b", "2", "c", "3"]
    assert c.execute_command("ZREVRANGE", "cp", 0, 0) == ["c"]
    assert c.execute_command("MOVE", "cp", 1) == 1
    c.execute_command("SELECT", 1)
    assert zall(c, "cp") == ["a", "1", "b", "2", "c", "3"]
    c.execute_command("SELECT", 0)


@strata_only
def test_object_encoding(c):
    c.execute_command("ZADD", "z", 1, "a")
    assert c.execute_command("OBJECT", "ENCODING", "z") == "skiplist"


@strata_only
def test_zset_survives_restart(make_server):
    s = make_server().start()
    cl = s.client(decode_responses=True)
    for i in range(200):
        cl.zadd("z", {f"m{i}": i / 4})
    cl.zrem("z", "m0")
    digest = cl.execute_command("DEBUG", "DIGEST")
    s.stop()
    s.start()
    cl = s.client(decode_responses=True)
    assert cl.zcard("z") == 199
    assert cl.zscore("z", "m42") == 10.5
    assert cl.zrangebyscore("z", 49, "+inf") == ["m196", "m197", "m198", "m199"]
    assert cl.zrank("z", "m1") == 0
    assert cl.execute_command("DEBUG", "DIGEST") == digest


@strata_only
def test_digest_depends_on_scores(c):
    c.execute_command("ZADD", "z", 1, "a")
    d1 = c.execute_command("DEBUG", "DIGEST")
    c.execute_command("ZADD", "z", 2, "a")
    assert c.execute_command("DEBUG", "DIGEST") != d1
    c.execute_command("ZADD", "z", 1, "a")
    assert c.execute_command("DEBUG", "DIGEST") == d1


@strata_only
def test_zsets_replicate(make_server):
    m, rc = start_replica_pair(make_server)
    p = m.pipeline(transaction=False)
    for i in range(2000):
        p.execute_command("ZADD", "z", i % 97, f"m{i}")
    p.execute()
    m.execute_command("ZINCRBY", "z", 5, "m1")
    m.execute_command("ZREM", "z", "m2", "m3")
    m.execute_command("ZREMRANGEBYSCORE", "z", 10, 12)
    m.execute_command("ZREMRANGEBYRANK", "z", 0, 9)
    m.execute_command("ZPOPMAX", "z", 3)
    m.execute_command("ZADD", "lex", 0, "a", 0, "b", 0, "c")
    m.execute_command("ZREMRANGEBYLEX", "lex", "[b", "+")
    m.execute_command("ZADD", "gone", 1, "a")
    m.execute_command("ZPOPMIN", "gone")
    m.execute_command("ZUNIONSTORE", "u", 2, "z", "lex", "WEIGHTS", 2, 1)
    m.execute_command("ZINTERSTORE", "i", 2, "z", "u")
    m.execute_command("ZDIFFSTORE", "d", 2, "z", "lex")
    m.execute_command("ZRANGESTORE", "rs", "z", 0, 99)
    m.execute_command("ZADD", "big", *[x for i in range(20000) for x in (i, f"b{i}")])
    m.delete("big")
    m.execute_command("ZADD", "ttl", 1, "a")
    m.pexpire("ttl", 50)
    m.execute_command("ZADD", "copy-src", 1, "x")
    m.copy("copy-src", "copy-dst")
    m.rename("copy-src", "renamed")
    wait_until(lambda: m.exists("ttl") == 0, timeout=5, msg="ttl zset to expire on master")
    wait_replica_converged(m, rc)
    assert rc.zcard("z") == m.zcard("z")
    assert rc.zrange("u", 0, 9, withscores=True) == m.zrange("u", 0, 9, withscores=True)
    assert rc.exists("big", "gone", "ttl") == 0


@pytest.mark.slow
@strata_only
def test_million_member_zset_under_64mb(make_server):
    s = make_server(args=["--maxmemory", "64mb"]).start()
    cl = s.client(decode_responses=True)
    n, per = 1_000_000, 2000
    p = cl.pipeline(transaction=False)
    for base in range(0, n, per):
        args = []
        for i in range(base, base + per):
            args += [i * 2, f"member:{i}"]  # score 2i
        p.execute_command("ZADD", "big", *args)
        if len(p) == 20:
            p.execute()
    p.execute()
    assert cl.zcard("big") == n
    for i in random.Random(3).sample(range(n), 200):
        assert cl.zscore("big", f"member:{i}") == i * 2
    for lo in (0, 123456, 999_000):
        got = cl.execute_command("ZRANGEBYSCORE", "big", lo * 2, f"({(lo + 100) * 2}")
        assert got == [f"member:{i}" for i in range(lo, lo + 100)]
        assert cl.zcount("big", lo * 2, (lo + 5000) * 2 - 1) == min(n, lo + 5000) - lo
    got = cl.execute_command("ZREVRANGEBYSCORE", "big", "+inf", "-inf", "LIMIT", 0, 3)
    assert got == ["member:999999", "member:999998", "member:999997"]
    assert cl.execute_command("ZRANGE", "big", -2, -1) == ["member:999998", "member:999999"]
    assert cl.execute_command("ZRANGE", "big", 0, 1) == ["member:0", "member:1"]
    assert cl.zrevrank("big", "member:999990") == 9
    assert_rss_within_maxmemory(s.proc.pid, 64 * 1024 * 1024)
    assert cl.execute_command("ZPOPMIN", "big", 2) == ["member:0", "0", "member:1", "2"]
    assert cl.delete("big") == 1
    assert cl.exists("big") == 0


def test_pops_from_both_ends_with_adds_beyond_them(c):
    """Pops leave an end hint (storage/coll.c invariant 6): members added
    beyond it afterwards, updates moving members out, and pops from the other
    end must all still be seen."""
    c.execute_command("ZADD", "q", *sum(([i, f"m{i:05d}"] for i in range(0, 3000)), []))
    got = []
    for _ in range(100):
        got += c.execute_command("ZPOPMIN", "q", "10")[::2]
    assert got == [f"m{i:05d}" for i in range(1000)]
    c.execute_command("ZADD", "q", "-5", "below", "5000", "above")
    assert c.execute_command("ZPOPMIN", "q") == ["below", "-5"]
    assert c.execute_command("ZPOPMAX", "q") == ["above", "5000"]
    assert c.execute_command("ZPOPMAX", "q", "2") == ["m02999", "2999", "m02998", "2998"]
    c.execute_command("ZADD", "q", "-1", "m02500")  # an update moving a member below the hint
    assert c.execute_command("ZRANGE", "q", "0", "1") == ["m02500", "m01000"]
    assert c.execute_command("ZPOPMIN", "q") == ["m02500", "-1"]
    assert c.execute_command("ZCARD", "q") == 1997
    assert c.execute_command("ZRANGEBYSCORE", "q", "-inf", "1001") == ["m01000", "m01001"]
    assert c.execute_command("ZREVRANGEBYSCORE", "q", "+inf", "2996") == ["m02997", "m02996"]


def test_many_pops_stay_cheap(c):
    """20,000 single pops in a pipeline: each seek starts at the end hint
    instead of stepping over every earlier pop's tombstone (bounded by the
    client timeout, not timed)."""
    c.execute_command("ZADD", "big", *sum(([i, f"m{i}"] for i in range(20000)), []))
    p = c.pipeline(transaction=False)
    for _ in range(20000):
        p.execute_command("ZPOPMIN", "big")
    out = p.execute()
    assert [r[0] for r in out[:3]] == ["m0", "m1", "m2"] and out[-1][0] == "m19999"
    assert c.execute_command("EXISTS", "big") == 0

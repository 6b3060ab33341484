"""Integration tests for the list commands (server/cmd_list.c) on the
collection layout (storage/coll.c, list positions in storage/encoding.c):
every command and option with Redis 7.0's replies, error strings and
argument-checking order, WRONGTYPE both ways, empty-list deletion, keyspace
events, LINSERT many times at one spot, pipelines reading their own writes,
expiry, RENAME/COPY/MOVE, restart, replication (DEBUG DIGEST equal) and a
list of a million elements under maxmemory 64mb.  The blocking machinery
has its own file (test_blocking.py); here the blocking commands are only
checked where they do not block.

Tests that do not use Strata-only features pass against redis-server 7.0.15
too (STRATA_BIN=/usr/bin/redis-server); those that do are marked
strata_only.
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
RANK_ZERO = ("RANK can't be zero: use 1 to start from the first match, 2 from the second ... "
             "or use negative to start from the end of the list")
NOT_INT = "value is not an integer or out of range"
IS_REDIS = os.path.basename(os.environ.get("STRATA_BIN", "")) == "redis-server"
strata_only = pytest.mark.skipif(IS_REDIS, reason="Strata-specific behaviour")


def lrange(c, key):
    return c.execute_command("LRANGE", key, 0, -1)


def redis_range(n, start, end):
    """Redis's LRANGE index normalisation as Python indexes (possibly empty)."""
    if start < 0:
        start += n
    if end < 0:
        end += n
    if start < 0:
        start = 0
    if start > end or start >= n:
        return 0, 0
    return start, min(end, n - 1) + 1


# ---- Push and length ------------------------------------------------------

def test_push_order_with_multiple_values(c):
    assert c.execute_command("LPUSH", "l", "a", "b", "c") == 3
    assert lrange(c, "l") == ["c", "b", "a"]
    assert c.execute_command("RPUSH", "l", "x", "y") == 5
    assert lrange(c, "l") == ["c", "b", "a", "x", "y"]
    assert c.execute_command("LLEN", "l") == 5
    assert c.execute_command("LLEN", "nokey") == 0
    assert c.execute_command("TYPE", "l") == "list"
    assert c.execute_command("OBJECT", "ENCODING", "l") == "quicklist"
    assert err(c, "LPUSH", "l") == arity_err("lpush")
    assert err(c, "RPUSH", "l") == arity_err("rpush")


def test_pushx_only_existing(c):
    assert c.execute_command("LPUSHX", "nokey", "a") == 0
    assert c.execute_command("RPUSHX", "nokey", "a", "b") == 0
    assert c.execute_command("EXISTS", "nokey") == 0
    c.execute_command("RPUSH", "l", "m")
    assert c.execute_command("LPUSHX", "l", "a", "b") == 3
    assert c.execute_command("RPUSHX", "l", "y", "z") == 5
    assert lrange(c, "l") == ["b", "a", "m", "y", "z"]


def test_empty_and_binary_values(cb):
    vals = [b"", b"\x00\xff\r\n", b"x" * 10000, b"\x00"]
    assert cb.execute_command("RPUSH", b"l\x00", *vals) == 4
    assert cb.execute_command("LRANGE", b"l\x00", 0, -1) == vals
    assert cb.execute_command("LINDEX", b"l\x00", 0) == b""
    assert cb.execute_command("LPOS", b"l\x00", b"\x00") == 3
    assert cb.execute_command("LREM", b"l\x00", 0, b"") == 1
    assert cb.execute_command("LPOP", b"l\x00") == b"\x00\xff\r\n"


# ---- LPOP / RPOP ----------------------------------------------------------

def test_lpop_rpop(c):
    c.execute_command("RPUSH", "l", "a", "b", "c", "d", "e")
    assert c.execute_command("LPOP", "l") == "a"
    assert c.execute_command("RPOP", "l") == "e"
    assert c.execute_command("LPOP", "l", 2) == ["b", "c"]
    assert c.execute_command("LPOP", "l", 0) == []
    assert c.execute_command("RPOP", "l", 100) == ["d"]
    assert c.execute_command("EXISTS", "l") == 0
    assert c.execute_command("LPOP", "l") is None
    assert c.execute_command("LPOP", "l", 0) is None
    assert c.execute_command("RPOP", "l", 3) is None
    assert c.execute_command("DBSIZE") == 0


def test_pop_count_errors(c):
    c.execute_command("RPUSH", "l", "a")
    c.execute_command("SET", "s", "v")
    positive = "value is out of range, must be positive"
    assert err(c, "LPOP", "l", -1) == positive
    assert err(c, "RPOP", "l", "abc") == positive
    assert err(c, "LPOP", "nokey", "abc") == positive
    assert err(c, "LPOP", "s", "abc") == positive  # the count is parsed first
    assert err(c, "LPOP", "s", 0) == WRONGTYPE
    assert err(c, "LPOP", "l", 1, 2) == arity_err("lpop")
    assert err(c, "RPOP", "l", 1, 2) == arity_err("rpop")
    assert err(c, "LPOP") == arity_err("lpop")


def test_pop_all_of_a_long_list(c):
    c.execute_command("RPUSH", "l", *range(5000))
    assert c.execute_command("RPOP", "l", 10) == [str(i) for i in range(4999, 4989, -1)]
    got = c.execute_command("LPOP", "l", 3000)
    assert got == [str(i) for i in range(3000)]
    assert c.execute_command("LLEN", "l") == 1990
    assert c.execute_command("LINDEX", "l", 0) == "3000"
    assert c.execute_command("LINDEX", "l", -1) == "4989"
    assert c.execute_command("LPOP", "l", 1990) == [str(i) for i in range(3000, 4990)]
    assert c.execute_command("EXISTS", "l") == 0


# ---- LRANGE / LINDEX / LSET -------------------------------------------------

def test_lrange_index_semantics(c):
    items = [f"e{i}" for i in range(40)]
    c.execute_command("RPUSH", "l", *items)
    cases = [(0, -1), (0, 0), (-1, -1), (5, 10), (-10, -5), (10, 5), (-100, 100), (39, 100),
             (40, 50), (-41, 0), (0, -41), (20, -21), (3, -3), (-3, 3)]
    rnd = random.Random(7)
    cases += [(rnd.randint(-60, 60), rnd.randint(-60, 60)) for _ in range(60)]
    for s, e in cases:
        a, b = redis_range(40, s, e)
        assert c.execute_command("LRANGE", "l", s, e) == items[a:b], (s, e)
    assert c.execute_command("LRANGE", "nokey", 0, -1) == []
    assert err(c, "LRANGE", "l", "abc", 1) == NOT_INT
    assert err(c, "LRANGE", "l", 0, "1.5") == NOT_INT


def test_lindex(c):
    items = [f"v{i}" for i in range(25)]
    c.execute_command("RPUSH", "l", *items)
    for i in range(-30, 30):
        want = items[i] if -25 <= i < 25 else None
        assert c.execute_command("LINDEX", "l", i) == want, i
    assert c.execute_command("LINDEX", "nokey", 0) is None
    assert c.execute_command("LINDEX", "nokey", "abc") is None  # key looked up first
    assert err(c, "LINDEX", "l", "abc") == NOT_INT
    c.execute_command("SET", "s", "v")
    assert err(c, "LINDEX", "s", "abc") == WRONGTYPE


def test_lset(c):
    c.execute_command("RPUSH", "l", "a", "b", "c")
    assert c.execute_command("LSET", "l", 0, "A") == "OK"
    assert c.execute_command("LSET", "l", -1, "C") == "OK"
    assert c.execute_command("LSET", "l", 1, "") == "OK"
    assert lrange(c, "l") == ["A", "", "C"]
    assert err(c, "LSET", "l", 3, "x") == "index out of range"
    assert err(c, "LSET", "l", -4, "x") == "index out of range"
    assert err(c, "LSET", "l", "abc", "x") == NOT_INT
    assert err(c, "LSET", "nokey", 0, "x") == "no such key"
    assert err(c, "LSET", "nokey", "abc", "x") == "no such key"
    c.execute_command("SET", "s", "v")
    assert err(c, "LSET", "s", "abc", "x") == WRONGTYPE
    assert c.execute_command("LLEN", "l") == 3


# ---- LINSERT --------------------------------------------------------------

def test_linsert(c):
    c.execute_command("RPUSH", "l", "a", "b", "a", "c")
    assert c.execute_command("LINSERT", "l", "BEFORE", "a", "x") == 5
    assert c.execute_command("LINSERT", "l", "after", "a", "y") == 6
    assert lrange(c, "l") == ["x", "a", "y", "b", "a", "c"]
    assert c.execute_command("LINSERT", "l", "AFTER", "c", "z") == 7
    assert c.execute_command("LINSERT", "l", "BEFORE", "x", "w") == 8
    assert lrange(c, "l") == ["w", "x", "a", "y", "b", "a", "c", "z"]
    assert c.execute_command("LINSERT", "l", "BEFORE", "nope", "q") == -1
    assert c.execute_command("LINSERT", "nokey", "BEFORE", "a", "q") == 0
    assert c.execute_command("EXISTS", "nokey") == 0
    assert err(c, "LINSERT", "l", "middle", "a", "q") == "syntax error"
    assert err(c, "LINSERT", "nokey", "middle", "a", "q") == "syntax error"
    c.execute_command("SET", "s", "v")
    assert err(c, "LINSERT", "s", "middle", "a", "q") == "syntax error"
    assert err(c, "LINSERT", "s", "BEFORE", "a", "q") == WRONGTYPE
    assert c.execute_command("LPOS", "l", "z") == 7
    assert c.execute_command("LLEN", "l") == 8


@pytest.mark.parametrize("pattern", ["same-pivot-before", "same-pivot-after", "before-newest",
                                     "after-newest", "alternating"])
def test_linsert_many_times_at_one_spot(c, pattern):
    """LINSERT 3000 times into one gap (each pattern LINSERT can produce),
    then the whole order is checked against a model."""
    model = ["head", "pivot", "tail"]
    c.execute_command("RPUSH", "l", *model)
    p = c.pipeline(transaction=False)
    newest = "pivot"
    for i in range(3000):
        v = f"n{i}"
        if pattern == "same-pivot-before":
            where, pivot = "BEFORE", "pivot"
        elif pattern == "same-pivot-after":
            where, pivot = "AFTER", "pivot"
        elif pattern == "before-newest":
            where, pivot = "BEFORE", newest
        elif pattern == "after-newest":
            where, pivot = "AFTER", newest
        else:
            where, pivot = ("BEFORE" if i % 2 else "AFTER"), newest
        at = model.index(pivot) + (1 if where == "AFTER" else 0)
        model.insert(at, v)
        p.execute_command("LINSERT", "l", where, pivot, v)
        newest = v
        if len(p) == 500:
            p.execute()
    p.execute()
    assert c.execute_command("LLEN", "l") == len(model)
    assert lrange(c, "l") == model
    assert c.execute_command("LINDEX", "l", -2) == model[-2]
    assert c.execute_command("LRANGE", "l", 1500, 1510) == model[1500:1511]


def test_linsert_then_pop_and_push_at_both_ends(c):
    c.execute_command("RPUSH", "l", "a", "b")
    for i in range(300):
        c.execute_command("LINSERT", "l", "BEFORE", "a", f"x{i}")
    c.execute_command("LPUSH", "l", "h")
    c.execute_command("RPUSH", "l", "t")
    got = lrange(c, "l")
    assert got == ["h"] + [f"x{i}" for i in range(300)] + ["a", "b", "t"]
    assert c.execute_command("LPOP", "l", 2) == ["h", "x0"]
    assert c.execute_command("RPOP", "l", 3) == ["t", "b", "a"]
    assert c.execute_command("LINSERT", "l", "AFTER", "x299", "end") == 300
    assert c.execute_command("RPOP", "l") == "end"


# ---- LREM / LTRIM -----------------------------------------------------------

def test_lrem(c):
    c.execute_command("RPUSH", "l", "a", "b", "a", "c", "a", "b", "a")
    assert c.execute_command("LREM", "l", 2, "a") == 2
    assert lrange(c, "l") == ["b", "c", "a", "b", "a"]
    assert c.execute_command("LREM", "l", -1, "a") == 1
    assert lrange(c, "l") == ["b", "c", "a", "b"]
    assert c.execute_command("LREM", "l", 0, "b") == 2
    assert lrange(c, "l") == ["c", "a"]
    assert c.execute_command("LREM", "l", 0, "zz") == 0
    assert c.execute_command("LREM", "l", -9223372036854775808, "c") == 1
    assert c.execute_command("LREM", "l", 9223372036854775807, "a") == 1
    assert c.execute_command("EXISTS", "l") == 0
    assert c.execute_command("LREM", "nokey", 0, "a") == 0
    assert err(c, "LREM", "l", "abc", "a") == NOT_INT
    c.execute_command("SET", "s", "v")
    assert err(c, "LREM", "s", "abc", "a") == NOT_INT
    assert err(c, "LREM", "s", 0, "a") == WRONGTYPE


def test_lrem_many_from_both_ends(c):
    vals = ["x"] * 1000 + ["keep"] + ["x"] * 1000
    c.execute_command("RPUSH", "l", *vals)
    assert c.execute_command("LREM", "l", 600, "x") == 600
    assert c.execute_command("LREM", "l", -700, "x") == 700
    assert c.execute_command("LLEN", "l") == 701
    assert c.execute_command("LINDEX", "l", 400) == "keep"
    assert c.execute_command("LREM", "l", 0, "x") == 700
    assert lrange(c, "l") == ["keep"]
    c.execute_command("LPUSH", "l", "h")
    c.execute_command("RPUSH", "l", "t")
    assert lrange(c, "l") == ["h", "keep", "t"]


def test_ltrim(c):
    items = [str(i) for i in range(30)]
    rnd = random.Random(3)
    cases = [(0, -1), (1, -1), (0, -2), (5, 10), (-5, -1), (10, 5), (30, 40), (-100, 2),
             (0, 0), (29, 29), (-1, -1), (0, 100)]
    cases += [(rnd.randint(-40, 40), rnd.randint(-40, 40)) for _ in range(40)]
    for s, e in cases:
        c.execute_command("DEL", "l")
        c.execute_command("RPUSH", "l", *items)
        assert c.execute_command("LTRIM", "l", s, e) == "OK"
        a, b = redis_range(30, s, e)
        assert lrange(c, "l") == items[a:b], (s, e)
        assert c.execute_command("EXISTS", "l") == (1 if b > a else 0)
        if b > a:
            c.execute_command("LPUSH", "l", "h")  # the ends are right after a trim
            c.execute_command("RPUSH", "l", "t")
            assert lrange(c, "l") == ["h"] + items[a:b] + ["t"]
    assert c.execute_command("LTRIM", "nokey", 0, 1) == "OK"
    assert err(c, "LTRIM", "l", "abc", 1) == NOT_INT
    c.execute_command("SET", "s", "v")
    assert err(c, "LTRIM", "s", 0, 1) == WRONGTYPE


def test_capped_list_pattern(c):
    """LPUSH + LTRIM 0 99, the classic capped log."""
    p = c.pipeline(transaction=False)
    for i in range(1000):
        p.execute_command("LPUSH", "log", f"entry{i}")
        p.execute_command("LTRIM", "log", 0, 99)
    p.execute()
    assert c.execute_command("LLEN", "log") == 100
    assert lrange(c, "log") == [f"entry{i}" for i in range(999, 899, -1)]


# ---- LPOS -----------------------------------------------------------------

def test_lpos(c):
    c.execute_command("RPUSH", "l", "a", "b", "c", "1", "2", "3", "c", "c")
    assert c.execute_command("LPOS", "l", "c") == 2
    assert c.execute_command("LPOS", "l", "c", "RANK", 2) == 6
    assert c.execute_command("LPOS", "l", "c", "RANK", -1) == 7
    assert c.execute_command("LPOS", "l", "c", "RANK", -3) == 2
    assert c.execute_command("LPOS", "l", "c", "RANK", 4) is None
    assert c.execute_command("LPOS", "l", "c", "COUNT", 0) == [2, 6, 7]
    assert c.execute_command("LPOS", "l", "c", "COUNT", 2) == [2, 6]
    assert c.execute_command("LPOS", "l", "c", "COUNT", 2, "RANK", -1) == [7, 6]
    assert c.execute_command("LPOS", "l", "c", "RANK", 2, "COUNT", 0) == [6, 7]
    assert c.execute_command("LPOS", "l", "c", "COUNT", 0, "MAXLEN", 7) == [2, 6]
    assert c.execute_command("LPOS", "l", "c", "COUNT", 0, "MAXLEN", 2) == []
    assert c.execute_command("LPOS", "l", "c", "MAXLEN", 2) is None
    assert c.execute_command("LPOS", "l", "c", "RANK", -1, "MAXLEN", 1) == 7
    assert c.execute_command("LPOS", "l", "a", "RANK", -1, "COUNT", 0, "MAXLEN", 1) == []
    assert c.execute_command("LPOS", "l", "c", "rank", 2, "rank", 1) == 2  # last one wins
    assert c.execute_command("LPOS", "l", "zz") is None
    assert c.execute_command("LPOS", "l", "zz", "COUNT", 0) == []
    assert c.execute_command("LPOS", "nokey", "a") is None
    assert c.execute_command("LPOS", "nokey", "a", "COUNT", 1) == []
    assert c.execute_command("LPOS", "l", "c", "RANK", 9223372036854775807) is None


def test_lpos_errors(c):
    c.execute_command("RPUSH", "l", "a")
    c.execute_command("SET", "s", "v")
    assert err(c, "LPOS", "l", "a", "RANK", 0) == RANK_ZERO
    assert err(c, "LPOS", "s", "a", "RANK", 0) == RANK_ZERO  # options first
    assert err(c, "LPOS", "l", "a", "RANK", "abc") == NOT_INT
    assert err(c, "LPOS", "l", "a", "COUNT", -1) == "COUNT can't be negative"
    assert err(c, "LPOS", "l", "a", "COUNT", "abc") == "COUNT can't be negative"
    assert err(c, "LPOS", "l", "a", "MAXLEN", -1) == "MAXLEN can't be negative"
    assert err(c, "LPOS", "l", "a", "MAXLEN", "x") == "MAXLEN can't be negative"
    assert err(c, "LPOS", "l", "a", "RANK") == "syntax error"
    assert err(c, "LPOS", "l", "a", "FOO", 1) == "syntax error"
    assert err(c, "LPOS", "s", "a") == WRONGTYPE
    assert err(c, "LPOS", "l") == arity_err("lpos")


@strata_only
def test_lpos_rank_llong_min_is_refused(c):
    # redis-server 7.0.15 negates it (undefined behaviour) and answers as for
    # RANK -1; later Redis refuses it with this range error.
    c.execute_command("RPUSH", "l", "a", "a")
    assert err(c, "LPOS", "l", "a", "RANK", -9223372036854775808) == (
        "value is out of range, value must between -9223372036854775807 and 9223372036854775807")


# ---- LMOVE / RPOPLPUSH / LMPOP ----------------------------------------------

@pytest.mark.parametrize("frm,to", [("LEFT", "LEFT"), ("LEFT", "RIGHT"), ("RIGHT", "LEFT"),
                                    ("RIGHT", "RIGHT")])
def test_lmove_directions(c, frm, to):
    c.execute_command("RPUSH", "src", "a", "b", "c")
    c.execute_command("RPUSH", "dst", "x", "y")
    moved = c.execute_command("LMOVE", "src", "dst", frm, to)
    assert moved == ("a" if frm == "LEFT" else "c")
    src = ["b", "c"] if frm == "LEFT" else ["a", "b"]
    dst = [moved, "x", "y"] if to == "LEFT" else ["x", "y", moved]
    assert lrange(c, "src") == src
    assert lrange(c, "dst") == dst


def test_lmove_rotation_and_creation(c):
    c.execute_command("RPUSH", "l", "a", "b", "c")
    assert c.execute_command("LMOVE", "l", "l", "LEFT", "RIGHT") == "a"
    assert lrange(c, "l") == ["b", "c", "a"]
    assert c.execute_command("RPOPLPUSH", "l", "l") == "a"
    assert lrange(c, "l") == ["a", "b", "c"]
    assert c.execute_command("LMOVE", "l", "l", "LEFT", "LEFT") == "a"
    assert lrange(c, "l") == ["a", "b", "c"]
    assert c.execute_command("RPOPLPUSH", "l", "new") == "c"
    assert lrange(c, "new") == ["c"]
    c.execute_command("RPUSH", "one", "z")
    assert c.execute_command("LMOVE", "one", "one", "RIGHT", "LEFT") == "z"
    assert lrange(c, "one") == ["z"]
    assert c.execute_command("LMOVE", "one", "other", "RIGHT", "LEFT") == "z"
    assert c.execute_command("EXISTS", "one") == 0
    assert c.execute_command("LMOVE", "nokey", "other", "LEFT", "LEFT") is None
    assert c.execute_command("RPOPLPUSH", "nokey", "other") is None
    assert lrange(c, "other") == ["z"]


def test_lmove_errors(c):
    c.execute_command("SET", "s", "v")
    c.execute_command("RPUSH", "l", "a")
    assert err(c, "LMOVE", "s", "d", "LEFT", "UP") == "syntax error"
    assert err(c, "LMOVE", "l", "d", "DOWN", "LEFT") == "syntax error"
    assert err(c, "LMOVE", "s", "d", "LEFT", "LEFT") == WRONGTYPE
    assert err(c, "LMOVE", "l", "s", "LEFT", "LEFT") == WRONGTYPE
    assert err(c, "RPOPLPUSH", "l", "s") == WRONGTYPE
    assert lrange(c, "l") == ["a"]
    assert c.execute_command("LMOVE", "nokey", "s", "LEFT", "LEFT") is None  # dst not checked
    assert err(c, "LMOVE", "l", "d", "LEFT") == arity_err("lmove")


def test_lmpop(c):
    c.execute_command("RPUSH", "b", "1", "2", "3")
    c.execute_command("RPUSH", "c", "x")
    assert c.execute_command("LMPOP", 3, "a", "b", "c", "LEFT") == ["b", ["1"]]
    assert c.execute_command("LMPOP", 2, "b", "c", "RIGHT", "COUNT", 5) == ["b", ["3", "2"]]
    assert c.execute_command("EXISTS", "b") == 0
    assert c.execute_command("LMPOP", 2, "b", "c", "left", "count", 1) == ["c", ["x"]]
    assert c.execute_command("LMPOP", 2, "b", "c", "LEFT") is None
    c.execute_command("SET", "s", "v")
    c.execute_command("RPUSH", "l", "a")
    assert c.execute_command("LMPOP", 2, "l", "s", "LEFT") == ["l", ["a"]]  # s not reached
    assert err(c, "LMPOP", 2, "s", "l", "LEFT") == WRONGTYPE


def test_lmpop_errors(c):
    numkeys = "numkeys should be greater than 0"
    count = "count should be greater than 0"
    for args, want in [((0, "k", "LEFT"), numkeys), ((-1, "k", "LEFT"), numkeys),
                       (("abc", "k", "LEFT"), numkeys), ((2, "k", "LEFT"), "syntax error"),
                       ((1, "k", "MIDDLE"), "syntax error"), ((1, "k", "LEFT", "COUNT", 0), count),
                       ((1, "k", "LEFT", "COUNT", -1), count), ((1, "k", "LEFT", "COUNT", "x"), count),
                       ((1, "k", "LEFT", "COUNT", 1, "COUNT", 2), "syntax error"),
                       ((1, "k", "LEFT", "COUNT"), "syntax error"), ((1, "k", "LEFT", "FOO"), "syntax error"),
                       ((3, "a", "b", "c"), "syntax error"),
                       ((9223372036854775807, "a", "LEFT"), "syntax error")]:
        assert err(c, "LMPOP", *args) == want, args
    assert err(c, "LMPOP", 1, "k") == arity_err("lmpop")


def test_blocking_commands_that_do_not_block(c):
    c.execute_command("RPUSH", "b", "1", "2")
    assert c.execute_command("BLPOP", "a", "b", 0) == ["b", "1"]
    assert c.execute_command("BRPOP", "a", "b", 0) == ["b", "2"]
    assert c.execute_command("EXISTS", "b") == 0
    c.execute_command("RPUSH", "src", "x", "y", "z")
    assert c.execute_command("BLMOVE", "src", "dst", "RIGHT", "LEFT", 0) == "z"
    assert c.execute_command("BRPOPLPUSH", "src", "dst", 0) == "y"
    assert lrange(c, "dst") == ["y", "z"]
    assert c.execute_command("BLMPOP", 0, 2, "nokey", "dst", "RIGHT", "COUNT", 5) == ["dst", ["z", "y"]]
    assert c.execute_command("BLPOP", "nokey", "0.01") is None
    assert c.execute_command("BLMPOP", "0.01", 1, "nokey", "LEFT") is None
    assert c.execute_command("BLMOVE", "nokey", "dst", "LEFT", "LEFT", "0.01") is None


def test_blocking_argument_errors(c):
    c.execute_command("SET", "s", "v")
    notfloat, negative = "timeout is not a float or out of range", "timeout is negative"
    assert err(c, "BLPOP", "k", -1) == negative
    assert err(c, "BLPOP", "k", "abc") == notfloat
    assert err(c, "BLPOP", "k", "nan") == notfloat
    assert err(c, "BLPOP", "k", " 1") == notfloat
    assert err(c, "BLPOP", "k", "1e5000") == notfloat
    assert err(c, "BLPOP", "k", "inf") == negative
    assert err(c, "BLPOP", "k", "1e300") == negative
    assert err(c, "BRPOP", "k", "9223372036854775807") == negative
    assert err(c, "BLPOP", "s", "abc") == notfloat  # the timeout first
    assert err(c, "BLPOP", "k", "s", 0) == WRONGTYPE
    assert err(c, "BLMOVE", "s", "d", "LEFT", "UP", 0) == "syntax error"
    assert err(c, "BLMOVE", "s", "d", "LEFT", "LEFT", "abc") == notfloat
    assert err(c, "BLMOVE", "s", "d", "LEFT", "LEFT", 0) == WRONGTYPE
    assert err(c, "BRPOPLPUSH", "k", "d", -2) == negative
    assert err(c, "BLMPOP", 0, 0, "k", "LEFT") == "numkeys should be greater than 0"
    assert err(c, "BLMPOP", -1, 0, "k", "LEFT") == "numkeys should be greater than 0"
    assert err(c, "BLMPOP", "abc", 1, "k", "LEFT", "COUNT", 0) == "count should be greater than 0"
    assert err(c, "BLMPOP", -1, 1, "k", "LEFT") == negative
    assert err(c, "BLMPOP", "abc", 1, "s", "LEFT") == notfloat
    assert err(c, "BLMPOP", 0, 1, "s", "LEFT") == WRONGTYPE
    assert err(c, "BLMPOP", 0, 2, "k", "LEFT") == "syntax error"
    assert err(c, "BLPOP", "k") == arity_err("blpop")
    assert err(c, "BLMPOP", 0, 1, "k") == arity_err("blmpop")
    # Rounded up to whole milliseconds: these time out at once.
    assert c.execute_command("BLPOP", "k", "0.0001") is None
    assert c.execute_command("BLPOP", "k", "1.5e-5") is None
    assert c.execute_command("BLPOP", "k", "0x1p-20") is None


def test_null_replies_resp2_and_resp3(server, c):
    c.execute_command("RPUSH", "l", "a", "b", "c")
    cases = [("LPOP", "nokey", 1), ("LPOP", "nokey"), ("LPOP", "l", 0), ("BLPOP", "nokey", "0.01"),
             ("BLMPOP", "0.01", 1, "nokey", "LEFT"), ("LMPOP", 1, "nokey", "LEFT"),
             ("LPOS", "l", "zz"), ("LPOS", "l", "zz", "COUNT", 0), ("LINDEX", "l", 99),
             ("BLMOVE", "nokey", "x", "LEFT", "LEFT", "0.01"), ("BRPOPLPUSH", "nokey", "x", "0.01"),
             ("LMOVE", "nokey", "x", "LEFT", "LEFT"), ("LRANGE", "nokey", 0, -1), ("RPOP", "nokey", 2)]
    want2 = [b"*-1\r\n", b"$-1\r\n", b"*0\r\n", b"*-1\r\n", b"*-1\r\n", b"*-1\r\n", b"$-1\r\n",
             b"*0\r\n", b"$-1\r\n", b"*-1\r\n", b"*-1\r\n", b"$-1\r\n", b"*0\r\n", b"*-1\r\n"]
    with RawConn(server.port) as r2, RawConn(server.port) as r3:
        assert r3.cmd("HELLO", "3").type == "%"
        for args, w2 in zip(cases, want2):
            assert r2.cmd(*args).raw == w2, args
            assert r3.cmd(*args).raw == (b"*0\r\n" if w2 == b"*0\r\n" else b"_\r\n"), args
        assert r3.cmd("LMPOP", 1, "l", "LEFT", "COUNT", 2).raw == (
            b"*2\r\n$1\r\nl\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n")
        assert r3.cmd("BLPOP", "l", 0).raw == b"*2\r\n$1\r\nl\r\n$1\r\nc\r\n"


# ---- Types, keys, events ------------------------------------------------------

def test_wrongtype_both_ways(c):
    c.execute_command("SET", "s", "v")
    c.execute_command("RPUSH", "l", "a")
    for cmd in (["LPUSH", "s", "a"], ["RPUSH", "s", "a"], ["LPUSHX", "s", "a"], ["RPUSHX", "s", "a"],
                ["LPOP", "s"], ["RPOP", "s", 1], ["LLEN", "s"], ["LRANGE", "s", 0, -1],
                ["LINDEX", "s", 0], ["LSET", "s", 0, "x"], ["LINSERT", "s", "BEFORE", "a", "b"],
                ["LREM", "s", 0, "a"], ["LTRIM", "s", 0, 1], ["LPOS", "s", "a"],
                ["LMOVE", "s", "l", "LEFT", "LEFT"], ["RPOPLPUSH", "s", "l"],
                ["LMPOP", 1, "s", "LEFT"], ["BLPOP", "s", 0], ["BRPOP", "s", 0],
                ["BLMOVE", "s", "l", "LEFT", "LEFT", 0], ["BRPOPLPUSH", "s", "l", 0],
                ["BLMPOP", 0, 1, "s", "LEFT"]):
        assert err(c, *cmd) == WRONGTYPE, cmd
    for cmd in (["GET", "l"], ["APPEND", "l", "x"], ["INCR", "l"], ["HSET", "l", "f", "v"],
                ["HGET", "l", "f"]):
        assert err(c, *cmd) == WRONGTYPE, cmd
    assert c.execute_command("SET", "l", "now a string") == "OK"
    assert c.execute_command("GET", "l") == "now a string"


def test_keyspace_events(server, r):
    r.config_set("notify-keyspace-events", "KEA")
    try:
        p = r.pubsub()
        p.psubscribe("__keyevent@0__:*")
        wait_until(lambda: p.get_message(timeout=0.1), msg="psubscribe confirmation")
        cmds = [["RPUSH", "l", "a", "b", "c"], ["LPUSH", "l", "z"], ["LPUSHX", "nokey", "x"],
                ["RPUSHX", "l", "y"], ["LPOP", "l"], ["RPOP", "l", "2"], ["LINSERT", "l", "BEFORE", "a", "q"],
                ["LINSERT", "l", "BEFORE", "zz", "q"], ["LSET", "l", "0", "w"], ["LREM", "l", "0", "nomatch"],
                ["LREM", "l", "0", "w"], ["LTRIM", "l", "0", "100"], ["LTRIM", "l", "5", "1"],
                ["RPUSH", "s", "1", "2"], ["LMOVE", "s", "d", "LEFT", "RIGHT"],
                ["LMOVE", "s", "d", "RIGHT", "LEFT"], ["RPOPLPUSH", "d", "d"],
                ["LMPOP", "1", "d", "LEFT", "COUNT", "5"], ["RPUSH", "x", "1"], ["BLPOP", "x", "0"],
                ["RPUSH", "x", "1"], ["LPOP", "x", "0"], ["LPOP", "x", "5"], ["LPOP", "nokey"],
                ["LTRIM", "nokey", "0", "1"], ["SET", "end", "1"]]
        for cmd in cmds:
            r.execute_command(*cmd)
        want = [("rpush", "l"), ("lpush", "l"), ("rpush", "l"), ("lpop", "l"), ("rpop", "l"),
                ("linsert", "l"), ("lset", "l"), ("lrem", "l"), ("ltrim", "l"), ("ltrim", "l"),
                ("del", "l"), ("rpush", "s"), ("rpush", "d"), ("lpop", "s"), ("lpush", "d"),
                ("rpop", "s"), ("del", "s"), ("lpush", "d"), ("rpop", "d"), ("lpop", "d"),
                ("del", "d"), ("rpush", "x"), ("lpop", "x"), ("del", "x"), ("rpush", "x"),
                ("lpop", "x"), ("del", "x"), ("set", "end")]
        got = []
        deadline = time.monotonic() + 10 * SLOW
        while len(got) < len(want) and time.monotonic() < deadline:
            m = p.get_message(timeout=0.2)
            if m and m["type"] == "pmessage":
                got.append((m["channel"].split(":", 1)[1], m["data"]))
        assert got == want
        p.close()
    finally:
        r.config_set("notify-keyspace-events", "")


def test_expire_on_list(c):
    c.execute_command("RPUSH", "l", "a", "b")
    assert c.execute_command("PEXPIRE", "l", 100) == 1
    c.execute_command("RPUSH", "l", "c")  # writes keep the TTL
    assert c.execute_command("PTTL", "l") > 0
    wait_until(lambda: c.execute_command("EXISTS", "l") == 0, timeout=5, msg="list to expire")
    assert c.execute_command("LRANGE", "l", 0, -1) == []
    assert c.execute_command("RPUSH", "l", "new") == 1
    assert lrange(c, "l") == ["new"]
    assert c.execute_command("TTL", "l") == -1
    c.execute_command("RPUSH", "p", "a")
    c.execute_command("PEXPIRE", "p", 100000)
    c.execute_command("LPOP", "p")
    c.execute_command("RPUSH", "p", "b")
    assert c.execute_command("TTL", "p") == -1  # emptied, so a new key


def test_del_recreate_sees_no_old_elements(c):
    c.execute_command("RPUSH", "l", *range(1000))
    assert c.execute_command("DEL", "l") == 1
    assert c.execute_command("LLEN", "l") == 0
    c.execute_command("RPUSH", "l", "new")
    assert lrange(c, "l") == ["new"]
    c.execute_command("SET", "l", "str")
    c.execute_command("DEL", "l")
    c.execute_command("LPUSH", "l", "x")
    assert lrange(c, "l") == ["x"]


def test_rename_copy_move(c):
    items = [f"i{i}" for i in range(50)]
    c.execute_command("RPUSH", "l", *items)
    c.execute_command("LINSERT", "l", "BEFORE", "i10", "ins")
    items.insert(10, "ins")
    c.execute_command("PEXPIRE", "l", 100000)
    assert c.execute_command("RENAME", "l", "l2") == "OK"
    assert c.execute_command("EXISTS", "l") == 0
    assert lrange(c, "l2") == items
    assert c.execute_command("PTTL", "l2") > 0
    assert c.execute_command("COPY", "l2", "cp") == 1
    c.execute_command("RPUSH", "cp", "extra")
    c.execute_command("LPUSH", "cp", "first")
    assert lrange(c, "l2") == items
    assert lrange(c, "cp") == ["first"] + items + ["extra"]
    assert c.execute_command("MOVE", "cp", 1) == 1
    c.execute_command("SELECT", 1)
    assert c.execute_command("LLEN", "cp") == len(items) + 2
    assert c.execute_command("LPOP", "cp") == "first"
    c.execute_command("SELECT", 0)
    assert c.execute_command("EXISTS", "cp") == 0


def test_pipeline_reads_its_own_writes(c):
    p = c.pipeline(transaction=False)
    p.execute_command("RPUSH", "l", "a", "b", "c")
    p.execute_command("LPOP", "l")
    p.execute_command("LRANGE", "l", 0, -1)
    p.execute_command("LINSERT", "l", "AFTER", "b", "x")
    p.execute_command("LSET", "l", -1, "C")
    p.execute_command("LINDEX", "l", 1)
    p.execute_command("RPOPLPUSH", "l", "other")
    p.execute_command("LMOVE", "other", "l", "LEFT", "LEFT")
    p.execute_command("LREM", "l", 0, "b")
    p.execute_command("LTRIM", "l", 0, 0)
    p.execute_command("LRANGE", "l", 0, -1)
    p.execute_command("RPOP", "l", 5)
    p.execute_command("EXISTS", "l", "other")
    p.execute_command("LPUSH", "l", "new")
    p.execute_command("LPOS", "l", "new")
    assert p.execute() == [3, "a", ["b", "c"], 3, "OK", "x", "C", "C", 1, "OK", ["C"], ["C"], 0,
                           1, 0]


def test_blocking_commands_in_scripts(c):
    c.execute_command("RPUSH", "l", "a", "b")
    for call in ("redis.call('blpop', 'l', 0)", "redis.call('brpop', 'l', 0)",
                 "redis.call('blmove', 'l', 'd', 'left', 'left', 0)",
                 "redis.call('brpoplpush', 'l', 'd', 0)"):
        assert "This Redis command is not allowed from script" in err(c, "EVAL", "return " + call, 0)
    # BLMPOP is allowed and does not block (Redis 7.0.15).
    assert c.execute_command("EVAL", "return redis.call('blmpop', 0, 1, KEYS[1], 'left')", 1,
                             "nokey") is None
    assert c.execute_command("EVAL", "return redis.call('blmpop', 0, 1, KEYS[1], 'left')", 1,
                             "l") == ["l", ["a"]]


def test_blocking_commands_in_multi(c):
    c.execute_command("MULTI")
    c.execute_command("BLPOP", "nokey", 0)
    c.execute_command("BLMOVE", "nokey", "d", "LEFT", "LEFT", 0)
    c.execute_command("BRPOPLPUSH", "nokey", "d", 0)
    c.execute_command("BLMPOP", 0, 1, "nokey", "LEFT")
    c.execute_command("RPUSH", "nokey", "x")
    c.execute_command("BRPOP", "nokey", 0)
    assert c.execute_command("EXEC") == [None, None, None, None, 1, ["nokey", "x"]]


def test_push_pop_in_multi_and_watch(server, c):
    c.execute_command("RPUSH", "l", "a")
    c.execute_command("WATCH", "l")
    other = server.client(decode_responses=True)
    other.rpush("l", "b")
    c.execute_command("MULTI")
    c.execute_command("LPOP", "l")
    assert c.execute_command("EXEC") is None
    other.close()
    c.execute_command("MULTI")
    c.execute_command("LPUSH", "l", "z")
    c.execute_command("LRANGE", "l", 0, -1)
    c.execute_command("RPOP", "l", 2)
    assert c.execute_command("EXEC") == [3, ["z", "a", "b"], ["b", "a"]]


# ---- Durability and replication ------------------------------------------------

def list_workload(m):
    m.rpush("q", *[f"v{i}" for i in range(3000)])
    m.lpush("q", *[f"h{i}" for i in range(500)])
    m.lpop("q", 100)
    m.rpop("q", 100)
    for i in range(200):
        m.linsert("q", "BEFORE", "v1000", f"ins{i}")
    m.lset("q", 5, "SET")
    m.lrem("q", 3, "v2000")
    m.ltrim("q", 10, -10)
    m.rpush("src", "a", "b", "c")
    m.lmove("src", "dst", "LEFT", "RIGHT")
    m.rpoplpush("src", "dst")
    m.execute_command("LMPOP", 1, "src", "LEFT")
    m.rpush("gone", "x")
    m.lpop("gone")
    m.rpush("big", *["x" * 20] * 20000)
    m.delete("big")
    m.rpush("ttl", "a")
    m.pexpire("ttl", 50)
    m.rpush("cp", "1", "2")
    m.copy("cp", "cp2")
    m.rename("cp", "renamed")


@strata_only
def test_lists_survive_restart(make_server):
    s = make_server().start()
    cl = s.client(decode_responses=True)
    list_workload(cl)
    wait_until(lambda: cl.exists("ttl") == 0, timeout=5, msg="ttl list to expire")
    want = cl.lrange("q", 0, -1)
    digest = cl.execute_command("DEBUG", "DIGEST")
    s.stop()
    s.start()
    cl = s.client(decode_responses=True)
    assert cl.lrange("q", 0, -1) == want
    assert cl.execute_command("DEBUG", "DIGEST") == digest
    cl.lpush("q", "after-restart")
    cl.rpush("q", "tail")
    assert cl.lrange("q", 0, -1) == ["after-restart"] + want + ["tail"]


@strata_only
def test_lists_replicate(make_server):
    m, rc = start_replica_pair(make_server)
    list_workload(m)
    wait_until(lambda: m.exists("ttl") == 0, timeout=5, msg="ttl list to expire on master")
    wait_replica_converged(m, rc)
    assert rc.lrange("q", 0, -1) == m.lrange("q", 0, -1)
    assert rc.lrange("dst", 0, -1) == ["c", "a"]
    assert rc.exists("big", "gone", "ttl", "cp") == 0
    with pytest.raises(redis.ResponseError):
        rc.rpush("q", "x")  # a read-only replica refuses list writes


# ---- A million elements ----------------------------------------------------------

@pytest.mark.slow
@strata_only
def test_million_element_list_under_64mb(make_server):
    s = make_server(args=["--maxmemory", "64mb"]).start()
    cl = s.client(decode_responses=True)
    n, per = 1_000_000, 5000
    p = cl.pipeline(transaction=False)
    for base in range(0, n, per):
        p.execute_command("RPUSH", "big", *[f"value:{i}" for i in range(base, base + per)])
        if len(p) == 20:
            p.execute()
    p.execute()
    assert cl.llen("big") == n
    for i in (0, 1, 2, 17, 999, n - 1000, n - 18, n - 2, n - 1):
        assert cl.lindex("big", i) == f"value:{i}"
        assert cl.lindex("big", i - n) == f"value:{i}"
    assert cl.lrange("big", 0, 9) == [f"value:{i}" for i in range(10)]
    assert cl.lrange("big", -10, -1) == [f"value:{i}" for i in range(n - 10, n)]
    assert cl.lrange("big", 500_000, 500_004) == [f"value:{i}" for i in range(500_000, 500_005)]
    assert cl.lrange("big", 1000, 2999) == [f"value:{i}" for i in range(1000, 3000)]
    assert cl.lpos("big", "value:999990", maxlen=0, rank=-1) == 999990
    assert cl.lpop("big") == "value:0"
    assert cl.rpop("big") == f"value:{n - 1}"
    cl.lpush("big", "head")
    assert cl.lindex("big", 0) == "head"
    assert cl.llen("big") == n - 1
    assert_rss_within_maxmemory(s.proc.pid, 64 * 1024 * 1024)
    assert cl.ltrim("big", 0, 99) is True
    assert cl.llen("big") == 100
    assert cl.lindex("big", -1) == "value:99"
    assert cl.delete("big") == 1
    assert cl.exists("big") == 0

"""Integration tests for the string commands (server/cmd_string.c): GET, the
SET family and its options, MGET/MSET/MSETNX, GETSET/GETDEL/GETEX, APPEND,
STRLEN, the counters, INCRBYFLOAT, GETRANGE/SUBSTR/SETRANGE and the bit
commands, plus TTL retention, OBJECT ENCODING, binary safety and durability
across a restart.

Every expected reply and error string was checked against redis-server 7.0.15.
Replies are compared raw: the `c`/`cb` fixtures drop redis-py's per-command
post-processing (SET -> bool, INCRBYFLOAT -> float, ...), so "10.6" is
asserted as the exact bytes the server sent.
"""
import os
import time

import pytest
import redis

from strata import SLOW, wait_until
from checks import arity_err, err, expire_err

SYNTAX = "syntax error"
NOT_INT = "value is not an integer or out of range"
NOT_FLOAT = "value is not a valid float"
NAN_INF = "increment would produce NaN or Infinity"
OVERFLOW = "increment or decrement would overflow"
TOO_BIG = "string exceeds maximum allowed size (proto-max-bulk-len)"
BAD_OFFSET = "bit offset is not an integer or out of range"
BAD_BIT = "bit is not an integer or out of range"
LLONG_MAX = 9223372036854775807
LLONG_MIN = -9223372036854775808




def enc(cl, key):
    return cl.execute_command("OBJECT", "ENCODING", key)


def now_s():
    return int(time.time())


@pytest.fixture
def small_bulk_len(c):
    """Lowers proto-max-bulk-len to its minimum (1mb) for the test, so the
    size limits can be reached without 512 MB values; restores it after."""
    old = c.execute_command("CONFIG", "GET", "proto-max-bulk-len")[1]
    assert c.execute_command("CONFIG", "SET", "proto-max-bulk-len", "1mb") == "OK"
    yield 1 << 20
    assert c.execute_command("CONFIG", "SET", "proto-max-bulk-len", old) == "OK"


# ============================== Arity ======================================

@pytest.mark.parametrize("args", [
    ("GET",), ("GET", "a", "b"), ("SET", "k"), ("SETNX", "k"), ("SETEX", "k", "1"),
    ("PSETEX", "k", "1"), ("MGET",), ("MSET", "k"), ("MSET", "a", "1", "b"),
    ("MSETNX", "k"), ("MSETNX", "a", "1", "b"), ("GETSET", "k"), ("GETDEL",),
    ("GETDEL", "a", "b"), ("GETEX",), ("APPEND", "k"), ("STRLEN",), ("INCR",),
    ("DECR", "a", "b"), ("INCRBY", "k"), ("DECRBY", "k"), ("INCRBYFLOAT", "k"),
    ("GETRANGE", "k", "1"), ("SUBSTR", "k", "1"), ("SETRANGE", "k", "1"),
    ("SETBIT", "k", "1"), ("GETBIT", "k"), ("BITCOUNT",), ("BITPOS", "k"),
    ("BITOP",), ("BITOP", "AND", "d"),
])
def test_wrong_arity(c, args):
    assert err(c, *args) == arity_err(args[0].lower())


# ============================== GET / SET ==================================

def test_get_set_basic(c):
    assert c.execute_command("GET", "k") is None
    assert c.execute_command("SET", "k", "v") == "OK"
    assert c.execute_command("GET", "k") == "v"
    assert c.execute_command("SET", "k", "v2") == "OK"
    assert c.execute_command("GET", "k") == "v2"
    assert c.execute_command("SET", "e", "") == "OK"
    assert c.execute_command("GET", "e") == ""
    assert c.execute_command("EXISTS", "e") == 1
    assert c.execute_command("DBSIZE") == 2


def test_set_nx_xx(c):
    assert c.execute_command("SET", "k", "a", "XX") is None
    assert c.execute_command("EXISTS", "k") == 0
    assert c.execute_command("SET", "k", "a", "NX") == "OK"
    assert c.execute_command("SET", "k", "b", "NX") is None
    assert c.execute_command("GET", "k") == "a"
    assert c.execute_command("SET", "k", "c", "xx") == "OK"
    assert c.execute_command("GET", "k") == "c"
    # options are case-insensitive and may repeat
    assert c.execute_command("SET", "k", "d", "nX", "Nx") is None
    assert c.execute_command("SET", "k", "d", "Xx", "XX") == "OK"
    assert c.execute_command("GET", "k") == "d"


def test_set_get_option(c):
    assert c.execute_command("SET", "k", "a", "GET") is None
    assert c.execute_command("GET", "k") == "a"
    assert c.execute_command("SET", "k", "b", "GET") == "a"
    assert c.execute_command("GET", "k") == "b"
    # NX GET (allowed since 7.0): the old value, and nothing written
    assert c.execute_command("SET", "k", "c", "NX", "GET") == "b"
    assert c.execute_command("GET", "k") == "b"
    assert c.execute_command("SET", "n", "c", "NX", "GET") is None
    assert c.execute_command("GET", "n") == "c"
    # XX GET on a missing key: nil and nothing created
    assert c.execute_command("SET", "x", "c", "XX", "GET", "GET") is None
    assert c.execute_command("EXISTS", "x") == 0
    assert c.execute_command("SET", "k", "d", "XX", "GET", "EX", "100") == "b"
    assert 95 <= c.execute_command("TTL", "k") <= 100


def test_set_relative_and_absolute_expire(c):
    assert c.execute_command("SET", "ex", "v", "EX", "100") == "OK"
    assert 95 <= c.execute_command("TTL", "ex") <= 100
    assert c.execute_command("SET", "px", "v", "PX", "100000") == "OK"
    assert 95000 <= c.execute_command("PTTL", "px") <= 100000
    assert c.execute_command("SET", "exat", "v", "EXAT", str(now_s() + 100)) == "OK"
    assert 95 <= c.execute_command("TTL", "exat") <= 100
    at_ms = int(time.time() * 1000) + 100000
    assert c.execute_command("SET", "pxat", "v", "pxat", str(at_ms)) == "OK"
    assert c.execute_command("PEXPIRETIME", "pxat") == at_ms
    # the largest PXAT is valid: it needs no arithmetic
    assert c.execute_command("SET", "far", "v", "PXAT", str(LLONG_MAX)) == "OK"
    assert c.execute_command("PEXPIRETIME", "far") == LLONG_MAX
    # a repeated expire option: the last value wins
    assert c.execute_command("SET", "rep", "v", "EX", "10", "EX", "1000") == "OK"
    assert 995 <= c.execute_command("TTL", "rep") <= 1000
    # a plain SET clears the TTL
    assert c.execute_command("SET", "ex", "w") == "OK"
    assert c.execute_command("TTL", "ex") == -1


def test_set_expires_for_real(c):
    assert c.execute_command("SET", "k", "v", "PX", "150") == "OK"
    assert c.execute_command("GET", "k") == "v"
    wait_until(lambda: c.execute_command("GET", "k") is None, timeout=5, msg="k to expire")
    assert c.execute_command("EXISTS", "k") == 0


def test_set_keepttl(c):
    assert c.execute_command("SET", "k", "a", "EX", "100") == "OK"
    assert c.execute_command("SET", "k", "b", "KEEPTTL") == "OK"
    assert c.execute_command("GET", "k") == "b"
    assert 95 <= c.execute_command("TTL", "k") <= 100
    assert c.execute_command("SET", "k", "c", "keepttl", "KEEPTTL", "XX", "GET") == "b"
    assert 95 <= c.execute_command("TTL", "k") <= 100
    assert c.execute_command("SET", "m", "a", "KEEPTTL") == "OK"
    assert c.execute_command("TTL", "m") == -1
    assert c.execute_command("SET", "m", "b", "KEEPTTL") == "OK"
    assert c.execute_command("TTL", "m") == -1


@pytest.mark.parametrize("opts", [
    ["NX", "XX"], ["XX", "NX"], ["NX", "GET", "XX"],
    ["EX", "10", "PX", "100"], ["PX", "100", "EX", "10"], ["EX", "10", "EXAT", "99999999999"],
    ["PXAT", "99999999999999", "EX", "10"], ["EXAT", "9999999999", "PXAT", "9999999999999"],
    ["EX", "10", "KEEPTTL"], ["KEEPTTL", "EX", "10"], ["KEEPTTL", "PXAT", "9999999999999"],
    ["PX", "10", "KEEPTTL"], ["PERSIST"], ["EX"], ["PX"], ["EXAT"], ["PXAT"], ["GET", "EX"],
    ["EX", "10", "10"], ["FOO"], ["EX", "10", "FOO"], ["NXX"], ["EXPIRE", "10"],
    # the expire value is only parsed once every option was accepted
    ["EX", "abc", "FOO"], ["EX", "0", "PX", "10"],
])
def test_set_syntax_errors(c, opts):
    assert c.execute_command("SET", "k", "old") == "OK"
    assert err(c, "SET", "k", "new", *opts) == SYNTAX
    assert c.execute_command("GET", "k") == "old"
    assert c.execute_command("TTL", "k") == -1


def test_set_invalid_expire_value_is_not_parsed_when_overridden(c):
    # Redis keeps only the last EX value, so an earlier garbage value is fine.
    assert c.execute_command("SET", "k", "v", "EX", "abc", "EX", "100") == "OK"
    assert 95 <= c.execute_command("TTL", "k") <= 100


@pytest.mark.parametrize("opt,value,msg", [
    ("EX", "0", expire_err("set")), ("PX", "0", expire_err("set")),
    ("EXAT", "0", expire_err("set")), ("PXAT", "0", expire_err("set")),
    ("EX", "-1", expire_err("set")), ("PX", "-100", expire_err("set")),
    ("EXAT", "-5", expire_err("set")), ("PXAT", "-1", expire_err("set")),
    ("EX", str(LLONG_MIN), expire_err("set")),
    # seconds * 1000 overflows
    ("EX", str(LLONG_MAX), expire_err("set")), ("EXAT", str(LLONG_MAX), expire_err("set")),
    ("EX", str(LLONG_MAX // 1000 + 1), expire_err("set")),
    # now + value overflows
    ("EX", str(LLONG_MAX // 1000), expire_err("set")), ("PX", str(LLONG_MAX), expire_err("set")),
    ("EX", "abc", NOT_INT), ("PX", "1.5", NOT_INT), ("EX", "", NOT_INT), ("EX", " 10", NOT_INT),
    ("EX", "10 ", NOT_INT), ("EX", "+10", NOT_INT), ("EX", "010", NOT_INT),
    ("PX", "9223372036854775808", NOT_INT),
])
def test_set_invalid_expire(c, opt, value, msg):
    assert c.execute_command("SET", "k", "old", "EX", "1000") == "OK"
    assert err(c, "SET", "k", "new", opt, value) == msg
    assert err(c, "SET", "missing", "new", opt, value) == msg
    assert c.execute_command("GET", "k") == "old"
    assert 995 <= c.execute_command("TTL", "k") <= 1000
    assert c.execute_command("EXISTS", "missing") == 0


def test_set_expire_in_the_past_deletes(c):
    assert c.execute_command("SET", "k", "v", "EXAT", "1") == "OK"
    assert c.execute_command("EXISTS", "k") == 0
    assert c.execute_command("SET", "k", "v") == "OK"
    assert c.execute_command("SET", "k", "w", "EXAT", str(now_s() - 10)) == "OK"
    assert c.execute_command("GET", "k") is None
    assert c.execute_command("SET", "k", "v") == "OK"
    assert c.execute_command("SET", "k", "w", "PXAT", "1", "GET") == "v"
    assert c.execute_command("EXISTS", "k") == 0
    assert c.execute_command("DBSIZE") == 0
    # NX still decides first
    assert c.execute_command("SET", "k", "v") == "OK"
    assert c.execute_command("SET", "k", "w", "NX", "EXAT", "1") is None
    assert c.execute_command("GET", "k") == "v"


# ============================== SETNX / SETEX / PSETEX =====================

def test_setnx(c):
    assert c.execute_command("SETNX", "k", "a") == 1
    assert c.execute_command("SETNX", "k", "b") == 0
    assert c.execute_command("GET", "k") == "a"


def test_setex_psetex(c):
    assert c.execute_command("SET", "k", "old") == "OK"
    assert c.execute_command("SETEX", "k", "100", "v") == "OK"
    assert c.execute_command("GET", "k") == "v"
    assert 95 <= c.execute_command("TTL", "k") <= 100
    assert c.execute_command("PSETEX", "p", "100000", "w") == "OK"
    assert c.execute_command("GET", "p") == "w"
    assert 95000 <= c.execute_command("PTTL", "p") <= 100000
    assert c.execute_command("SETEX", "k", "200", "v2") == "OK"
    assert 195 <= c.execute_command("TTL", "k") <= 200


@pytest.mark.parametrize("cmd", ["SETEX", "PSETEX"])
@pytest.mark.parametrize("value,msg", [
    ("0", "invalid"), ("-1", "invalid"), (str(LLONG_MIN), "invalid"), (str(LLONG_MAX), "invalid"),
    ("abc", NOT_INT), ("1.5", NOT_INT), ("", NOT_INT), (" 1", NOT_INT),
])
def test_setex_psetex_invalid_expire(c, cmd, value, msg):
    if msg == "invalid":
        msg = expire_err(cmd.lower())
    assert c.execute_command("SET", "k", "old") == "OK"
    assert err(c, cmd, "k", value, "new") == msg
    assert c.execute_command("GET", "k") == "old"
    assert c.execute_command("TTL", "k") == -1


# ============================== MGET / MSET / MSETNX =======================

def test_mget(c):
    assert c.execute_command("MSET", "a", "1", "b", "2") == "OK"
    assert c.execute_command("MGET", "a", "missing", "b", "a") == ["1", None, "2", "1"]
    assert c.execute_command("MGET", "missing") == [None]


def test_mset_overwrites_and_clears_ttl(c):
    assert c.execute_command("SET", "a", "old", "EX", "100") == "OK"
    assert c.execute_command("MSET", "a", "1", "b", "2") == "OK"
    assert c.execute_command("MGET", "a", "b") == ["1", "2"]
    assert c.execute_command("TTL", "a") == -1
    assert c.execute_command("DBSIZE") == 2


def test_mset_duplicates_last_wins(c):
    assert c.execute_command("MSET", "a", "1", "b", "2", "a", "3", "a", "4", "b", "5") == "OK"
    assert c.execute_command("MGET", "a", "b") == ["4", "5"]
    assert c.execute_command("DBSIZE") == 2
    # keys that share a prefix are distinct keys
    assert c.execute_command("MSET", "ab", "x", "a", "y", "", "z", "ab", "w") == "OK"
    assert c.execute_command("MGET", "a", "ab", "") == ["y", "w", "z"]
    assert c.execute_command("DBSIZE") == 4


def test_msetnx(c):
    assert c.execute_command("MSETNX", "a", "1", "b", "2") == 1
    assert c.execute_command("MGET", "a", "b") == ["1", "2"]
    # one existing key blocks the whole command
    assert c.execute_command("MSETNX", "c", "3", "a", "9") == 0
    assert c.execute_command("MGET", "a", "c") == ["1", None]
    # a key named twice in one MSETNX: allowed, the last value wins
    assert c.execute_command("MSETNX", "d", "1", "d", "2") == 1
    assert c.execute_command("GET", "d") == "2"
    assert c.execute_command("MSETNX", "e", "1", "a", "2", "a", "3") == 0
    assert c.execute_command("EXISTS", "e") == 0
    assert c.execute_command("DBSIZE") == 3


def test_mset_many_keys_with_duplicates(c):
    """A large MSET (every key twice) is fast and exact: finding duplicates
    used to be quadratic (60000 pairs took tens of seconds)."""
    n = 30000
    args = []
    for i in range(n):
        args += [f"key:{i}", f"old{i}"]
    for i in range(n):
        args += [f"key:{i}", f"v{i}"]
    t0 = time.monotonic()
    assert c.execute_command("MSET", *args) == "OK"
    assert c.execute_command("MSETNX", *args) == 0
    elapsed = time.monotonic() - t0
    assert elapsed < 8 * SLOW, f"MSET of {2 * n} pairs took {elapsed:.1f}s"
    assert c.execute_command("DBSIZE") == n
    got = c.execute_command("MGET", *[f"key:{i}" for i in range(n)])
    assert got == [f"v{i}" for i in range(n)]


# ============================== GETSET / GETDEL / GETEX ====================

def test_getset(c):
    assert c.execute_command("GETSET", "k", "a") is None
    assert c.execute_command("GET", "k") == "a"
    assert c.execute_command("SET", "k", "b", "EX", "100") == "OK"
    assert c.execute_command("GETSET", "k", "c") == "b"
    assert c.execute_command("GET", "k") == "c"
    assert c.execute_command("TTL", "k") == -1


def test_getdel(c):
    assert c.execute_command("GETDEL", "k") is None
    assert c.execute_command("SET", "k", "v", "EX", "100") == "OK"
    assert c.execute_command("GETDEL", "k") == "v"
    assert c.execute_command("EXISTS", "k") == 0
    assert c.execute_command("GETDEL", "k") is None
    assert c.execute_command("DBSIZE") == 0


def test_getex_options(c):
    assert c.execute_command("SET", "k", "v") == "OK"
    assert c.execute_command("GETEX", "k") == "v"
    assert c.execute_command("TTL", "k") == -1
    assert c.execute_command("GETEX", "k", "EX", "100") == "v"
    assert 95 <= c.execute_command("TTL", "k") <= 100
    assert c.execute_command("GETEX", "k") == "v"
    assert 95 <= c.execute_command("TTL", "k") <= 100
    assert c.execute_command("GETEX", "k", "px", "200000") == "v"
    assert 195000 <= c.execute_command("PTTL", "k") <= 200000
    assert c.execute_command("GETEX", "k", "EXAT", str(now_s() + 300)) == "v"
    assert 295 <= c.execute_command("TTL", "k") <= 300
    at_ms = int(time.time() * 1000) + 400000
    assert c.execute_command("GETEX", "k", "PXAT", str(at_ms)) == "v"
    assert c.execute_command("PEXPIRETIME", "k") == at_ms
    assert c.execute_command("GETEX", "k", "PERSIST") == "v"
    assert c.execute_command("TTL", "k") == -1
    assert c.execute_command("GETEX", "k", "PERSIST", "persist") == "v"
    assert c.execute_command("TTL", "k") == -1
    assert c.execute_command("GETEX", "k", "EX", "abc", "EX", "10", "ex", "500") == "v"
    assert 495 <= c.execute_command("TTL", "k") <= 500
    assert c.execute_command("GET", "k") == "v"


def test_getex_expire_in_the_past_deletes(c):
    assert c.execute_command("SET", "k", "v") == "OK"
    assert c.execute_command("GETEX", "k", "EXAT", "1") == "v"
    assert c.execute_command("EXISTS", "k") == 0
    assert c.execute_command("SET", "k", "v") == "OK"
    assert c.execute_command("GETEX", "k", "PXAT", str(int(time.time() * 1000) - 1000)) == "v"
    assert c.execute_command("EXISTS", "k") == 0


@pytest.mark.parametrize("opts", [
    ["PERSIST", "EX", "10"], ["EX", "10", "PERSIST"], ["EX", "10", "PX", "10"],
    ["PXAT", "10", "EXAT", "10"], ["NX"], ["XX"], ["GET"], ["KEEPTTL"], ["EX"], ["FOO"],
    ["EX", "10", "10"], ["EX", "abc", "FOO"],
])
def test_getex_syntax_errors(c, opts):
    assert c.execute_command("SET", "k", "v", "EX", "1000") == "OK"
    assert err(c, "GETEX", "k", *opts) == SYNTAX
    assert err(c, "GETEX", "missing", *opts) == SYNTAX
    assert 995 <= c.execute_command("TTL", "k") <= 1000


@pytest.mark.parametrize("opt,value,msg", [
    ("EX", "0", expire_err("getex")), ("PX", "-1", expire_err("getex")),
    ("EXAT", "0", expire_err("getex")), ("PXAT", "-1", expire_err("getex")),
    ("EX", str(LLONG_MAX), expire_err("getex")), ("PX", str(LLONG_MAX), expire_err("getex")),
    ("EX", "abc", NOT_INT), ("PX", "1.5", NOT_INT),
])
def test_getex_invalid_expire(c, opt, value, msg):
    assert c.execute_command("SET", "k", "v", "EX", "1000") == "OK"
    assert err(c, "GETEX", "k", opt, value) == msg
    assert c.execute_command("GET", "k") == "v"
    assert 995 <= c.execute_command("TTL", "k") <= 1000
    # As Redis, a missing key answers nil before the value is looked at.
    assert c.execute_command("GETEX", "missing", opt, value) is None


# ============================== APPEND / STRLEN ============================

def test_append_strlen(c):
    assert c.execute_command("STRLEN", "k") == 0
    assert c.execute_command("APPEND", "k", "abc") == 3
    assert c.execute_command("APPEND", "k", "def") == 6
    assert c.execute_command("GET", "k") == "abcdef"
    assert c.execute_command("STRLEN", "k") == 6
    assert c.execute_command("APPEND", "k", "") == 6
    assert c.execute_command("SET", "n", "12345") == "OK"
    assert c.execute_command("STRLEN", "n") == 5
    assert c.execute_command("APPEND", "n", "6") == 6
    assert c.execute_command("GET", "n") == "123456"
    assert c.execute_command("INCR", "n") == 123457


def test_append_empty_to_missing_key_creates_it(c):
    assert c.execute_command("APPEND", "k", "") == 0
    assert c.execute_command("EXISTS", "k") == 1
    assert c.execute_command("GET", "k") == ""


def test_append_size_limit(c, small_bulk_len):
    assert c.execute_command("SETRANGE", "k", str(small_bulk_len - 1), "x") == small_bulk_len
    assert err(c, "APPEND", "k", "y") == TOO_BIG
    assert c.execute_command("STRLEN", "k") == small_bulk_len


# ============================== INCR / DECR family =========================

def test_incr_decr_basic(c):
    assert c.execute_command("INCR", "k") == 1
    assert c.execute_command("INCR", "k") == 2
    assert c.execute_command("DECR", "k") == 1
    assert c.execute_command("INCRBY", "k", "10") == 11
    assert c.execute_command("INCRBY", "k", "-20") == -9
    assert c.execute_command("DECRBY", "k", "5") == -14
    assert c.execute_command("DECRBY", "k", "-4") == -10
    assert c.execute_command("GET", "k") == "-10"
    assert c.execute_command("DECR", "d") == -1
    assert c.execute_command("INCRBY", "z", "0") == 0
    assert c.execute_command("GET", "z") == "0"


@pytest.mark.parametrize("value", [
    "abc", " 1", "1 ", "+1", "01", "-0", "-01", "1.5", "1e3", "", "0x10",
    "9223372036854775808", "-9223372036854775809", "12345678901234567890", "1\x00", "\x001",
])
def test_incr_non_integer_value(c, value):
    assert c.execute_command("SET", "k", value) == "OK"
    for args in (("INCR", "k"), ("DECR", "k"), ("INCRBY", "k", "1"), ("DECRBY", "k", "1")):
        assert err(c, *args) == NOT_INT
    assert c.execute_command("GET", "k") == value


@pytest.mark.parametrize("incr", ["abc", " 1", "1 ", "+1", "-0", "01", "1.5", "",
                                  "9223372036854775808", "-9223372036854775809"])
def test_incrby_non_integer_argument(c, incr):
    assert c.execute_command("SET", "k", "5") == "OK"
    assert err(c, "INCRBY", "k", incr) == NOT_INT
    assert err(c, "DECRBY", "k", incr) == NOT_INT
    assert err(c, "INCRBY", "missing", incr) == NOT_INT
    assert c.execute_command("GET", "k") == "5"
    assert c.execute_command("EXISTS", "missing") == 0


def test_incr_overflow(c):
    assert c.execute_command("SET", "k", str(LLONG_MAX)) == "OK"
    assert err(c, "INCR", "k") == OVERFLOW
    assert err(c, "INCRBY", "k", str(LLONG_MAX)) == OVERFLOW
    assert err(c, "DECRBY", "k", "-1") == OVERFLOW
    assert c.execute_command("GET", "k") == str(LLONG_MAX)
    assert c.execute_command("DECRBY", "k", str(LLONG_MAX)) == 0
    assert c.execute_command("INCRBY", "k", str(LLONG_MIN)) == LLONG_MIN
    assert err(c, "DECR", "k") == OVERFLOW
    assert err(c, "INCRBY", "k", "-1") == OVERFLOW
    assert c.execute_command("GET", "k") == str(LLONG_MIN)
    assert c.execute_command("INCRBY", "k", str(LLONG_MAX)) == -1
    assert err(c, "INCRBY", "k", str(LLONG_MIN)) == OVERFLOW
    assert c.execute_command("INCRBY", "k", "0") == -1
    assert c.execute_command("SET", "m", str(LLONG_MIN + 1)) == "OK"
    assert c.execute_command("DECR", "m") == LLONG_MIN


def test_decrby_llong_min(c):
    # -LLONG_MIN does not exist: DECRBY refuses it before looking at the key.
    assert err(c, "DECRBY", "k", str(LLONG_MIN)) == "decrement would overflow"
    assert c.execute_command("SET", "k", "0") == "OK"
    assert err(c, "DECRBY", "k", str(LLONG_MIN)) == "decrement would overflow"
    assert c.execute_command("GET", "k") == "0"


# ============================== INCRBYFLOAT ================================

@pytest.mark.parametrize("start,incr,expected", [
    (None, "10.5", "10.5"), ("10.5", "0.1", "10.6"), ("5.0e3", "2.0e2", "5200"),
    (None, "3.0e3", "3000"), ("3.0e3", "0", "3000"), ("10", "-10", "0"), ("0.1", "-0.1", "0"),
    ("1", "1e-5", "1.00001"), (None, "1e-17", "0.00000000000000001"),
    (None, "1e20", "100000000000000000000"), ("1", "1.0", "2"), (None, ".5", "0.5"),
    ("0.5", "5.", "5.5"), ("5.5", "+1", "6.5"), ("6.5", "-0", "6.5"), ("6.5", "1E5", "100006.5"),
    ("0.1", "0.2", "0.3"), ("17179869184", "1.5", "17179869185.5"), (None, "0x10", "16"),
    (None, "-1e-400", "0"), (None, "-5", "-5"), ("-0", "1", "1"), ("1e2", "0.5", "100.5"),
    ("12345678901234567", "1", "12345678901234568"), (None, "-0.0", "0"),
])
def test_incrbyfloat(c, start, incr, expected):
    if start is not None:
        assert c.execute_command("SET", "k", start) == "OK"
    assert c.execute_command("INCRBYFLOAT", "k", incr) == expected
    assert c.execute_command("GET", "k") == expected


def test_incrbyfloat_huge_values(c):
    # long double range: beyond double, formatted without an exponent
    v = c.execute_command("INCRBYFLOAT", "k", "1e308")
    assert len(v) == 308 and v.startswith("99999999999999999996") and "." not in v
    v = c.execute_command("INCRBYFLOAT", "k", "1e308")
    assert len(v) == 309 and v.startswith("1999999999999999999")
    v = c.execute_command("INCRBYFLOAT", "big", "1e4932")
    assert len(v) == 4933 and v.startswith("1000000000000000000")
    assert err(c, "INCRBYFLOAT", "big", "1e4932") == NAN_INF
    assert c.execute_command("GET", "big") == v


@pytest.mark.parametrize("incr,msg", [
    ("abc", NOT_FLOAT), ("", NOT_FLOAT), (" 1", NOT_FLOAT), ("1 ", NOT_FLOAT), ("1e", NOT_FLOAT),
    ("1.5.5", NOT_FLOAT), ("nan", NOT_FLOAT), ("1e5000", NOT_FLOAT), ("1\x00", NOT_FLOAT),
    ("1" * 5200, NOT_FLOAT),
    ("inf", NAN_INF), ("-inf", NAN_INF), ("infinity", NAN_INF), ("+Inf", NAN_INF),
])
def test_incrbyfloat_bad_increment(c, incr, msg):
    assert c.execute_command("SET", "k", "1.5") == "OK"
    assert err(c, "INCRBYFLOAT", "k", incr) == msg
    assert c.execute_command("GET", "k") == "1.5"
    assert err(c, "INCRBYFLOAT", "missing", incr) == msg
    assert c.execute_command("EXISTS", "missing") == 0


@pytest.mark.parametrize("value,msg", [
    ("abc", NOT_FLOAT), ("", NOT_FLOAT), (" 1", NOT_FLOAT), ("1 ", NOT_FLOAT), ("1\x00", NOT_FLOAT),
    ("nan", NOT_FLOAT), ("1e5000", NOT_FLOAT), ("inf", NAN_INF), ("-inf", NAN_INF),
])
def test_incrbyfloat_bad_stored_value(c, value, msg):
    assert c.execute_command("SET", "k", value) == "OK"
    assert err(c, "INCRBYFLOAT", "k", "1") == msg
    assert c.execute_command("GET", "k") == value


# ============================== GETRANGE / SUBSTR ==========================

@pytest.mark.parametrize("cmd", ["GETRANGE", "SUBSTR"])
@pytest.mark.parametrize("start,end,expected", [
    (0, 4, "Hello"), (-3, -1, "rld"), (0, -1, "Hello World"), (6, 100, "World"),
    (11, 11, ""), (10, 10, "d"), (100, 200, ""), (-100, -50, "H"), (-100, 2, "Hel"),
    (0, -100, "H"), (-1, -5, ""), (5, 3, ""), (3, -100, ""), (-1, 0, ""),
    (0, LLONG_MAX, "Hello World"), (LLONG_MIN, LLONG_MAX, "Hello World"),
    (LLONG_MIN, LLONG_MIN, "H"), (-5, -5, "W"), (-50, -100, ""),
])
def test_getrange(c, cmd, start, end, expected):
    assert c.execute_command("SET", "k", "Hello World") == "OK"
    assert c.execute_command(cmd, "k", start, end) == expected


def test_getrange_edge_cases(c):
    assert c.execute_command("GETRANGE", "missing", "0", "-1") == ""
    assert err(c, "GETRANGE", "missing", "a", "1") == NOT_INT
    assert err(c, "GETRANGE", "missing", "0", "1.5") == NOT_INT
    assert c.execute_command("SET", "e", "") == "OK"
    assert c.execute_command("GETRANGE", "e", "0", "-1") == ""
    assert c.execute_command("GETRANGE", "e", "-1", "-1") == ""
    assert c.execute_command("SET", "n", "12345") == "OK"
    assert c.execute_command("GETRANGE", "n", "1", "2") == "23"


# ============================== SETRANGE ===================================

def test_setrange(c):
    assert c.execute_command("SET", "k", "hello") == "OK"
    assert c.execute_command("SETRANGE", "k", "1", "ipp") == 5
    assert c.execute_command("GET", "k") == "hippo"
    assert c.execute_command("SETRANGE", "k", "5", "potamus") == 12
    assert c.execute_command("GET", "k") == "hippopotamus"
    assert c.execute_command("SET", "n", "12") == "OK"
    assert c.execute_command("SETRANGE", "n", "0", "3") == 2
    assert c.execute_command("GET", "n") == "32"


def test_setrange_pads_with_zero_bytes(cb):
    assert cb.execute_command("SETRANGE", "k", "5", "abc") == 8
    assert cb.execute_command("GET", "k") == b"\x00\x00\x00\x00\x00abc"
    assert cb.execute_command("SET", "s", "ab") == b"OK"
    assert cb.execute_command("SETRANGE", "s", "4", "z") == 5
    assert cb.execute_command("GET", "s") == b"ab\x00\x00z"


def test_setrange_empty_value(c):
    # On a missing key: nothing is created, whatever the offset.
    assert c.execute_command("SETRANGE", "k", "0", "") == 0
    assert c.execute_command("SETRANGE", "k", "10", "") == 0
    assert c.execute_command("SETRANGE", "k", "536870912", "") == 0
    assert c.execute_command("EXISTS", "k") == 0
    # On an existing key: its length, unchanged (the size limit is not checked).
    assert c.execute_command("SET", "k", "abc") == "OK"
    assert c.execute_command("SETRANGE", "k", "10", "") == 3
    assert c.execute_command("SETRANGE", "k", str(LLONG_MAX), "") == 3
    assert c.execute_command("GET", "k") == "abc"
    assert err(c, "SETRANGE", "k", "-1", "") == "offset is out of range"


def test_setrange_errors(c):
    assert c.execute_command("SET", "k", "abc") == "OK"
    assert err(c, "SETRANGE", "k", "-1", "x") == "offset is out of range"
    assert err(c, "SETRANGE", "missing", str(LLONG_MIN), "x") == "offset is out of range"
    assert err(c, "SETRANGE", "k", "a", "x") == NOT_INT
    assert err(c, "SETRANGE", "k", "1.0", "x") == NOT_INT
    assert err(c, "SETRANGE", "k", "536870912", "x") == TOO_BIG
    assert err(c, "SETRANGE", "k", "536870911", "xy") == TOO_BIG
    # offset + length must not wrap around (this used to crash the server)
    assert err(c, "SETRANGE", "k", str(LLONG_MAX), "x") == TOO_BIG
    assert err(c, "SETRANGE", "missing", str(LLONG_MAX - 3), "xxxxxxxx") == TOO_BIG
    assert c.execute_command("GET", "k") == "abc"
    assert c.execute_command("EXISTS", "missing") == 0


def test_setrange_size_limit(c, small_bulk_len):
    assert err(c, "SETRANGE", "k", str(small_bulk_len), "x") == TOO_BIG
    assert c.execute_command("EXISTS", "k") == 0
    assert c.execute_command("SETRANGE", "k", str(small_bulk_len - 1), "x") == small_bulk_len
    assert c.execute_command("STRLEN", "k") == small_bulk_len
    assert c.execute_command("GETRANGE", "k", "-2", "-1") == "\x00x"


# ============================== SETBIT / GETBIT ============================

def test_setbit_getbit(cb):
    assert cb.execute_command("SETBIT", "k", "7", "1") == 0
    assert cb.execute_command("GET", "k") == b"\x01"
    assert cb.execute_command("GETBIT", "k", "7") == 1
    assert cb.execute_command("GETBIT", "k", "6") == 0
    assert cb.execute_command("GETBIT", "k", "100") == 0
    assert cb.execute_command("SETBIT", "k", "7", "1") == 1
    assert cb.execute_command("SETBIT", "k", "0", "1") == 0
    assert cb.execute_command("GET", "k") == b"\x81"
    assert cb.execute_command("SETBIT", "k", "7", "0") == 1
    assert cb.execute_command("SETBIT", "k", "7", "0") == 0
    assert cb.execute_command("GET", "k") == b"\x80"
    # growing pads with zero bytes; clearing a bit past the end still grows
    assert cb.execute_command("SETBIT", "k", "23", "1") == 0
    assert cb.execute_command("GET", "k") == b"\x80\x00\x01"
    assert cb.execute_command("SETBIT", "z", "100", "0") == 0
    assert cb.execute_command("GET", "z") == b"\x00" * 13
    assert cb.execute_command("GETBIT", "missing", "0") == 0
    assert cb.execute_command("EXISTS", "missing") == 0
    # the bit order is the byte's most significant bit first
    assert cb.execute_command("SET", "a", "a") == b"OK"  # 0x61 = 01100001
    assert [cb.execute_command("GETBIT", "a", i) for i in range(8)] == [0, 1, 1, 0, 0, 0, 0, 1]


@pytest.mark.parametrize("value", ["2", "-1", "a", "01", " 1", "", "10", "1.0"])
def test_setbit_bad_value(c, value):
    assert err(c, "SETBIT", "k", "0", value) == BAD_BIT
    assert c.execute_command("EXISTS", "k") == 0


@pytest.mark.parametrize("offset", ["-1", "a", "1.5", "", " 1", "4294967296", str(LLONG_MAX),
                                    "9223372036854775808"])
def test_bit_offset_out_of_range(c, offset):
    assert err(c, "SETBIT", "k", offset, "1") == BAD_OFFSET
    assert err(c, "GETBIT", "k", offset) == BAD_OFFSET
    assert c.execute_command("EXISTS", "k") == 0


def test_bit_offset_limit_follows_proto_max_bulk_len(c, small_bulk_len):
    last = small_bulk_len * 8 - 1
    assert err(c, "SETBIT", "k", str(last + 1), "1") == BAD_OFFSET
    assert err(c, "GETBIT", "k", str(last + 1)) == BAD_OFFSET
    assert c.execute_command("GETBIT", "k", str(last)) == 0
    assert c.execute_command("SETBIT", "k", str(last), "1") == 0
    assert c.execute_command("STRLEN", "k") == small_bulk_len
    assert c.execute_command("GETBIT", "k", str(last)) == 1
    # Raised above 512mb, offsets past 2^32 bits become valid (as in Redis).
    assert c.execute_command("CONFIG", "SET", "proto-max-bulk-len", "1gb") == "OK"
    assert c.execute_command("GETBIT", "k", "4294967296") == 0
    assert c.execute_command("GETBIT", "k", str(8 * 2**30 - 1)) == 0
    assert err(c, "GETBIT", "k", str(8 * 2**30)) == BAD_OFFSET


# ============================== BITCOUNT ===================================

@pytest.mark.parametrize("args,expected", [
    ([], 26), (["0", "0"], 4), (["1", "1"], 6), (["1", "1", "BYTE"], 6), (["1", "1", "byte"], 6),
    (["5", "30", "BIT"], 17), (["0", "-1", "bit"], 26), (["-1", "-1"], 4), (["-2", "-1", "BIT"], 1),
    (["100", "200"], 0), (["-100", "-50"], 4), (["-100", "2"], 16), (["3", "1"], 0),
    # two negative indexes in the wrong order count nothing (no clamping first)
    (["-1", "-5"], 0), (["-5", "-100"], 0), (["-20", "-100", "BIT"], 0),
    ([str(LLONG_MIN), str(LLONG_MAX)], 26), ([str(LLONG_MIN), str(LLONG_MAX), "BIT"], 26),
    ([str(LLONG_MAX), str(LLONG_MAX)], 0),
])
def test_bitcount(c, args, expected):
    assert c.execute_command("SET", "k", "foobar") == "OK"
    assert c.execute_command("BITCOUNT", "k", *args) == expected


def test_bitcount_long_value(cb):
    # crosses the 64-bit word fast path at unaligned boundaries
    value = bytes(range(256)) * 5
    assert cb.execute_command("SET", "k", value) == b"OK"
    total = sum(bin(b).count("1") for b in value)
    assert cb.execute_command("BITCOUNT", "k") == total
    for s, e in [(3, 1000), (1, 9), (8, 15), (7, 1279), (0, 0)]:
        assert cb.execute_command("BITCOUNT", "k", s, e) == sum(bin(b).count("1") for b in value[s:e + 1])
    bits = "".join(f"{b:08b}" for b in value)
    for s, e in [(5, 200), (63, 129), (1, 10239), (100, 100)]:
        assert cb.execute_command("BITCOUNT", "k", s, e, "BIT") == bits[s:e + 1].count("1")


def test_bitcount_errors(c):
    assert c.execute_command("SET", "k", "foobar") == "OK"
    assert err(c, "BITCOUNT", "k", "0") == SYNTAX
    assert err(c, "BITCOUNT", "k", "0", "1", "FOO") == SYNTAX
    assert err(c, "BITCOUNT", "k", "0", "1", "BIT", "x") == SYNTAX
    assert err(c, "BITCOUNT", "k", "a", "1") == NOT_INT
    assert err(c, "BITCOUNT", "k", "0", "b") == NOT_INT
    assert c.execute_command("SET", "e", "") == "OK"
    assert c.execute_command("BITCOUNT", "e") == 0
    assert c.execute_command("BITCOUNT", "e", "0", "-1", "BIT") == 0


def test_bitcount_missing_key_answers_before_parsing(c):
    assert c.execute_command("BITCOUNT", "missing") == 0
    assert c.execute_command("BITCOUNT", "missing", "0", "1") == 0
    assert c.execute_command("BITCOUNT", "missing", "0") == 0
    assert c.execute_command("BITCOUNT", "missing", "a", "b") == 0
    assert c.execute_command("BITCOUNT", "missing", "0", "1", "FOO") == 0
    assert c.execute_command("BITCOUNT", "missing", "1", "2", "3", "4") == 0


# ============================== BITPOS =====================================

@pytest.mark.parametrize("value,args,expected", [
    (b"\xff\xf0\x00", ["0"], 12), (b"\xff\xf0\x00", ["1"], 0), (b"\xff\xf0\x00", ["0", "0"], 12),
    (b"\xff\xf0\x00", ["0", "2"], 16), (b"\xff\xf0\x00", ["0", "0", "0"], -1),
    (b"\xff\xf0\x00", ["0", "0", "-1"], 12), (b"\xff\xf0\x00", ["1", "2"], -1),
    (b"\xff\xf0\x00", ["0", "3"], -1), (b"\xff\xf0\x00", ["0", "100"], -1),
    (b"\xff\xf0\x00", ["0", "-1"], 16), (b"\xff\xf0\x00", ["1", "-1"], -1),
    (b"\xff\xf0\x00", ["0", "0", "-1", "BIT"], 12), (b"\xff\xf0\x00", ["0", "8", "15", "bit"], 12),
    (b"\xff\xf0\x00", ["1", "12", "20", "BIT"], -1), (b"\xff\xf0\x00", ["0", "-100", "-90"], -1),
    (b"\xff\xf0\x00", ["0", "2", "1"], -1), (b"\xff\xf0\x00", ["0", "-1", "-5"], -1),
    (b"\xff\xf0\x00", ["1", "-100", "0"], 0), (b"\xff\xf0\x00", ["1", "0", "-1", "BYTE"], 0),
    # all ones: a clear bit is found past the end only when no end was given
    (b"\xff\xff\xff", ["0"], 24), (b"\xff\xff\xff", ["0", "0"], 24), (b"\xff\xff\xff", ["0", "1"], 24),
    (b"\xff\xff\xff", ["0", "0", "-1"], -1), (b"\xff\xff\xff", ["0", "1", "2"], -1),
    (b"\xff\xff\xff", ["0", "0", "-1", "BIT"], -1), (b"\xff\xff\xff", ["0", "0", "23", "BIT"], -1),
    (b"\xff\xff\xff", ["0", "100"], -1), (b"\xff\xff\xff", ["1", "-1"], 16),
    (b"\x00\x00\x00", ["1"], -1), (b"\x00\x00\x00", ["0"], 0), (b"\x00\x00\x00", ["1", "0", "-1"], -1),
    (b"\x00\x00\x00", ["1", "0", "-1", "BIT"], -1), (b"\x00\x00\x00", ["0", "1"], 8),
    (b"\x00\xff\xf0", ["1", "0"], 8), (b"\x00\xff\xf0", ["1", "2"], 16),
    (b"\x00\xff\xf0", ["1", "2", "-1", "byte"], 16), (b"\x00\xff\xf0", ["1", "7", "15", "BIT"], 8),
    (b"\x00\xff\xf0", ["1", "7", "-3", "BIT"], 8), (b"\x00\xff\xf0", ["0", "0", "-1", "BIT"], 0),
    (b"\x00\xff\xf0", ["0", "8", "-1", "BIT"], 20), (b"\x00\xff\xf0", ["0", "8", "19", "BIT"], -1),
    (b"\x00\xff\xf0", ["1", str(LLONG_MIN), str(LLONG_MAX), "BIT"], 8),
    (b"\x00\xff\xf0", ["0", str(LLONG_MIN), str(LLONG_MAX)], 0),
    (b"", ["0"], -1), (b"", ["1"], -1), (b"", ["0", "0", "-1"], -1),
    (b"\xff" * 20 + b"\xfe", ["0"], 167), (b"\x00" * 20 + b"\x01", ["1"], 167),
    (b"\x00" * 20 + b"\x01", ["1", "3", "-1", "BIT"], 167),
])
def test_bitpos(cb, value, args, expected):
    assert cb.execute_command("SET", "k", value) == b"OK"
    assert cb.execute_command("BITPOS", "k", *args) == expected


def test_bitpos_errors(c):
    assert c.execute_command("SET", "k", "\x0f") == "OK"
    for bit in ("2", "-1"):
        assert err(c, "BITPOS", "k", bit) == "The bit argument must be 1 or 0."
        assert err(c, "BITPOS", "missing", bit) == "The bit argument must be 1 or 0."
    assert err(c, "BITPOS", "k", "a") == NOT_INT
    assert err(c, "BITPOS", "missing", "a") == NOT_INT
    assert err(c, "BITPOS", "k", "1", "a") == NOT_INT
    assert err(c, "BITPOS", "k", "1", "0", "a") == NOT_INT
    # an end of "BIT" is an end that is not a number
    assert err(c, "BITPOS", "k", "0", "12", "BIT") == NOT_INT
    assert err(c, "BITPOS", "k", "1", "0", "1", "FOO") == SYNTAX
    assert err(c, "BITPOS", "k", "1", "0", "1", "BIT", "x") == SYNTAX


def test_bitpos_missing_key(c):
    # a missing key is an endless run of clear bits, whatever the range
    assert c.execute_command("BITPOS", "missing", "0") == 0
    assert c.execute_command("BITPOS", "missing", "1") == -1
    assert c.execute_command("BITPOS", "missing", "0", "5", "10") == 0
    assert c.execute_command("BITPOS", "missing", "1", "0", "-1", "BIT") == -1
    assert c.execute_command("BITPOS", "missing", "0", "a") == 0
    assert c.execute_command("BITPOS", "missing", "0", "1", "2", "BIT", "extra") == 0


# ============================== BITOP ======================================

def test_bitop_operations(cb):
    assert cb.execute_command("SET", "a", b"\xff\x0f") == b"OK"
    assert cb.execute_command("SET", "b", b"\xf0") == b"OK"
    assert cb.execute_command("BITOP", "AND", "d", "a", "b") == 2
    assert cb.execute_command("GET", "d") == b"\xf0\x00"
    assert cb.execute_command("BITOP", "or", "d", "a", "b") == 2
    assert cb.execute_command("GET", "d") == b"\xff\x0f"
    assert cb.execute_command("BITOP", "Xor", "d", "a", "b") == 2
    assert cb.execute_command("GET", "d") == b"\x0f\x0f"
    assert cb.execute_command("BITOP", "NOT", "d", "a") == 2
    assert cb.execute_command("GET", "d") == b"\x00\xf0"
    assert cb.execute_command("SET", "c", b"\x3c\xaa\x55") == b"OK"
    assert cb.execute_command("BITOP", "XOR", "d", "a", "b", "c") == 3
    assert cb.execute_command("GET", "d") == b"\x33\xa5\x55"
    assert cb.execute_command("BITOP", "AND", "d", "a", "a") == 2
    assert cb.execute_command("GET", "d") == b"\xff\x0f"
    # the destination may be a source
    assert cb.execute_command("BITOP", "OR", "a", "a", "c") == 3
    assert cb.execute_command("GET", "a") == b"\xff\xaf\x55"


def test_bitop_missing_keys_are_zero_strings(cb):
    assert cb.execute_command("SET", "a", b"\xff\x0f") == b"OK"
    assert cb.execute_command("BITOP", "AND", "d", "a", "missing") == 2
    assert cb.execute_command("GET", "d") == b"\x00\x00"
    assert cb.execute_command("BITOP", "OR", "d", "missing", "a") == 2
    assert cb.execute_command("GET", "d") == b"\xff\x0f"
    assert cb.execute_command("BITOP", "AND", "d", "n1", "n2") == 0
    assert cb.execute_command("EXISTS", "d") == 0


def test_bitop_empty_result_deletes_destination(cb):
    for args in (("OR", "d", "n1", "n2"), ("NOT", "d", "n1"), ("AND", "d", "e"), ("XOR", "d", "e", "n1")):
        assert cb.execute_command("SET", "d", "x", "EX", "100") == b"OK"
        assert cb.execute_command("SET", "e", "") == b"OK"
        assert cb.execute_command("BITOP", *args) == 0
        assert cb.execute_command("EXISTS", "d") == 0
    assert cb.execute_command("DBSIZE") == 1


def test_bitop_errors(c):
    assert c.execute_command("SET", "a", "x") == "OK"
    assert c.execute_command("SET", "d", "old") == "OK"
    assert err(c, "BITOP", "NOT", "d", "a", "a") == "BITOP NOT must be called with a single source key."
    assert err(c, "BITOP", "NAND", "d", "a") == SYNTAX
    assert err(c, "BITOP", "", "d", "a") == SYNTAX
    assert c.execute_command("GET", "d") == "old"


# ============================== TTL retention ==============================

@pytest.mark.parametrize("args", [
    ("INCR", "k"), ("DECR", "k"), ("INCRBY", "k", "5"), ("DECRBY", "k", "5"),
    ("INCRBYFLOAT", "k", "1.5"), ("APPEND", "k", "0"), ("SETRANGE", "k", "0", "9"),
    ("SETRANGE", "k", "5", "xyz"), ("SETRANGE", "k", "0", ""), ("SETBIT", "k", "0", "1"),
    ("SETBIT", "k", "0", "0"), ("SETBIT", "k", "100", "1"), ("SET", "k", "v", "KEEPTTL"),
    ("GETEX", "k"), ("GET", "k"), ("SETNX", "k", "v"), ("SET", "k", "v", "NX"),
    ("MSETNX", "k", "v"), ("BITOP", "AND", "other", "k"),
])
def test_ttl_kept(c, args):
    assert c.execute_command("SET", "k", "10", "EX", "1000") == "OK"
    c.execute_command(*args)
    assert 995 <= c.execute_command("TTL", "k") <= 1000


@pytest.mark.parametrize("args", [
    ("SET", "k", "v"), ("SET", "k", "v", "XX"), ("SET", "k", "v", "GET"), ("GETSET", "k", "v"),
    ("MSET", "k", "v"), ("MSET", "x", "1", "k", "v"), ("BITOP", "OR", "k", "k"),
    ("BITOP", "NOT", "k", "other"), ("GETEX", "k", "PERSIST"),
])
def test_ttl_cleared(c, args):
    assert c.execute_command("SET", "k", "10", "EX", "1000") == "OK"
    assert c.execute_command("SET", "other", "abc") == "OK"
    c.execute_command(*args)
    assert c.execute_command("TTL", "k") == -1


# ============================== OBJECT ENCODING ============================

@pytest.mark.parametrize("value,expected", [
    ("1", "int"), ("-1", "int"), ("0", "int"), (str(LLONG_MAX), "int"), (str(LLONG_MIN), "int"),
    ("9223372036854775808", "embstr"), ("12345678901234567890", "embstr"), ("-0", "embstr"),
    ("01", "embstr"), (" 1", "embstr"), ("1.5", "embstr"), ("abc", "embstr"), ("", "embstr"),
    ("x" * 44, "embstr"), ("x" * 45, "raw"), ("1" * 45, "raw"),
])
def test_encoding_after_set(c, value, expected):
    assert c.execute_command("SET", "k", value) == "OK"
    assert enc(c, "k") == expected
    assert c.execute_command("MSET", "m", value) == "OK"
    assert enc(c, "m") == expected


@pytest.mark.parametrize("setup,args,expected", [
    ("abc", ("APPEND", "k", "d"), "raw"),
    ("1", ("APPEND", "k", "2"), "raw"),
    ("1", ("APPEND", "k", ""), "raw"),
    (None, ("APPEND", "k", "x"), "embstr"),
    (None, ("APPEND", "k", "12"), "int"),
    ("abc", ("SETRANGE", "k", "0", "x"), "raw"),
    ("123", ("SETRANGE", "k", "0", "1"), "raw"),
    ("5", ("SETRANGE", "k", "0", ""), "int"),
    (None, ("SETRANGE", "k", "0", "x"), "raw"),
    ("abc", ("SETBIT", "k", "0", "1"), "raw"),
    ("abc", ("SETBIT", "k", "0", "0"), "raw"),  # unchanged bit, still raw as Redis
    (None, ("SETBIT", "k", "0", "1"), "raw"),
    ("10", ("INCRBYFLOAT", "k", "1.5"), "embstr"),
    ("10", ("INCR", "k"), "int"),
    ("10", ("DECRBY", "k", "20"), "int"),
    (None, ("SETNX", "k", "100"), "int"),
    (None, ("SETEX", "k", "100", "12"), "int"),
    (None, ("PSETEX", "k", "100000", "ab"), "embstr"),
    ("abc", ("GETSET", "k", "5"), "int"),
    ("abc", ("GETEX", "k", "EX", "100"), "embstr"),
    ("12", ("GETEX", "k", "PERSIST"), "int"),
    (None, ("BITOP", "OR", "k", "src"), "raw"),
])
def test_encoding_after_command(c, setup, args, expected):
    assert c.execute_command("SET", "src", "1") == "OK"
    if setup is not None:
        assert c.execute_command("SET", "k", setup) == "OK"
    c.execute_command(*args)
    assert enc(c, "k") == expected


def test_encoding_raw_survives_getex(c):
    assert c.execute_command("SET", "k", "abc") == "OK"
    assert c.execute_command("APPEND", "k", "d") == 4
    assert c.execute_command("GETEX", "k", "EX", "100") == "abcd"
    assert enc(c, "k") == "raw"
    assert c.execute_command("INCRBY", "missing_enc", "1") == 1
    assert enc(c, "missing_enc") == "int"
    assert c.execute_command("OBJECT", "ENCODING", "nokey") is None


def test_encoding_incrbyfloat_integral_result_is_embstr(c):
    assert c.execute_command("SET", "k", "10") == "OK"
    assert c.execute_command("INCRBYFLOAT", "k", "1") == "11"
    assert enc(c, "k") == "embstr"


# ============================== Binary safety ==============================

def test_binary_values(cb):
    v = b"a\x00b\xff\r\n\x00"
    assert cb.execute_command("SET", "k", v) == b"OK"
    assert cb.execute_command("GET", "k") == v
    assert cb.execute_command("STRLEN", "k") == len(v)
    assert cb.execute_command("GETRANGE", "k", "1", "3") == b"\x00b\xff"
    assert cb.execute_command("APPEND", "k", b"\x00\x01") == len(v) + 2
    assert cb.execute_command("GET", "k") == v + b"\x00\x01"
    assert cb.execute_command("SETRANGE", "k", "2", b"\x00\x00") == len(v) + 2
    assert cb.execute_command("GET", "k") == b"a\x00\x00\x00\r\n\x00\x00\x01"
    # keys are binary-safe too
    assert cb.execute_command("MSET", b"k\x00a", b"1", b"k\x00b", b"\x00") == b"OK"
    assert cb.execute_command("MGET", b"k\x00a", b"k\x00b", b"k\x00") == [b"1", b"\x00", None]
    assert cb.execute_command("GETDEL", b"k\x00b") == b"\x00"
    assert cb.execute_command("GETSET", b"k\x00a", b"\xff") == b"1"
    assert cb.execute_command("GETEX", b"k\x00a", "PERSIST") == b"\xff"


def test_one_megabyte_value(cb):
    rnd = os.urandom(1 << 20)
    v = rnd[:1000] + b"\x00" * 1000 + rnd[2000:]
    assert cb.execute_command("SET", "big", v) == b"OK"
    assert cb.execute_command("GET", "big") == v
    assert cb.execute_command("STRLEN", "big") == len(v)
    assert cb.execute_command("GETRANGE", "big", "990", "2010") == v[990:2011]
    assert cb.execute_command("GETRANGE", "big", "-5", "-1") == v[-5:]
    assert cb.execute_command("APPEND", "big", b"\x00end") == len(v) + 4
    assert cb.execute_command("GETRANGE", "big", "-4", "-1") == b"\x00end"
    assert cb.execute_command("BITCOUNT", "big") == sum(bin(b).count("1") for b in v + b"\x00end")
    assert cb.execute_command("BITOP", "NOT", "inv", "big") == len(v) + 4
    assert cb.execute_command("GETRANGE", "inv", "0", "9") == bytes(255 - b for b in v[:10])
    assert cb.execute_command("MGET", "big", "inv")[0] == v + b"\x00end"


# ============================== Durability =================================

def test_values_survive_restart(make_server, tmp_path):
    d = str(tmp_path)
    s1 = make_server(dir=d).start()
    cl = s1.client()
    cl.response_callbacks.clear()
    big = os.urandom(1 << 20)
    assert cl.execute_command("SET", "int", "12345") == b"OK"
    assert cl.execute_command("SET", "str", "hello") == b"OK"
    assert cl.execute_command("SET", "bin", b"\x00\xff\x00") == b"OK"
    assert cl.execute_command("SET", "big", big) == b"OK"
    assert cl.execute_command("SET", "ttl", "v", "EX", "1000") == b"OK"
    assert cl.execute_command("APPEND", "str", " world") == 11
    assert cl.execute_command("INCRBY", "int", "5") == 12350
    assert cl.execute_command("INCRBYFLOAT", "flt", "10.5") == b"10.5"
    assert cl.execute_command("SETBIT", "bits", "9", "1") == 0
    assert cl.execute_command("MSET", "m1", "a", "m2", "b") == b"OK"
    assert cl.execute_command("SET", "gone", "x") == b"OK"
    assert cl.execute_command("GETDEL", "gone") == b"x"
    assert cl.execute_command("SET", "short", "x", "PX", "200") == b"OK"
    cl.close()
    s1.stop()

    s2 = make_server(dir=d).start()
    cl = s2.client()
    cl.response_callbacks.clear()
    assert cl.execute_command("GET", "int") == b"12350"
    assert cl.execute_command("INCR", "int") == 12351
    assert cl.execute_command("GET", "str") == b"hello world"
    assert cl.execute_command("GET", "bin") == b"\x00\xff\x00"
    assert cl.execute_command("GET", "big") == big
    assert 990 <= cl.execute_command("TTL", "ttl") <= 1000
    assert cl.execute_command("GET", "flt") == b"10.5"
    assert cl.execute_command("GET", "bits") == b"\x00\x40"
    assert cl.execute_command("MGET", "m1", "m2", "gone") == [b"a", b"b", None]
    wait_until(lambda: cl.execute_command("GET", "short") is None, timeout=5, msg="short to expire")
    assert cl.execute_command("DBSIZE") == 9
    cl.close()

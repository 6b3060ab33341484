"""Integration tests for the blocking sorted-set pops BZPOPMIN, BZPOPMAX and
BZMPOP (server/cmd_zset.c on server/blocking.c): immediate replies in RESP2
and RESP3, argument errors and WRONGTYPE as Redis 7.0, clients woken by
ZADD, ZINCRBY and the *STORE commands from another connection, arrival
order, timeouts, MULTI/EXEC and scripts (never blocking), list and zset
waiters on the same key, keyspace events, disconnects, and wake-ups across
event loops (--server-threads 2).

Blocked clients use raw sockets (rawresp.RawConn) so that a test can see
that no reply has come yet; every wait is bounded.  Tests not marked
strata_only pass against redis-server 7.0.15 too.
"""
import os
import time

import pytest

from strata import SLOW, wait_until
from checks import arity_err, err
from rawresp import RawConn, encode
from blocked import block, blocked, conns_on_both_threads, keyevents, no_reply_yet, wait_blocked

IS_REDIS = os.path.basename(os.environ.get("STRATA_BIN", "")) == "redis-server"
strata_only = pytest.mark.skipif(IS_REDIS, reason="Strata-specific behaviour")
WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"


# ---- Immediate replies ----------------------------------------------------------

def test_bzpopmin_bzpopmax_immediate(c):
    c.zadd("z", {"a": 1, "b": 2.5, "c": 3, "d": 4})
    assert c.execute_command("BZPOPMIN", "z", 0) == ["z", "a", "1"]
    assert c.execute_command("BZPOPMAX", "z", 0) == ["z", "d", "4"]
    # The first key that exists is popped; missing keys before it are skipped.
    assert c.execute_command("BZPOPMIN", "nokey", "z", "other", "0.01") == ["z", "b", "2.5"]
    assert c.execute_command("BZPOPMAX", "z", "1") == ["z", "c", "3"]
    assert c.exists("z") == 0  # the last member popped removes the key
    c.zadd("inf", {"lo": "-inf", "hi": "inf"})
    assert c.execute_command("BZPOPMIN", "inf", 0) == ["inf", "lo", "-inf"]
    assert c.execute_command("BZPOPMAX", "inf", 0) == ["inf", "hi", "inf"]


def test_bzmpop_immediate(c):
    c.zadd("z", {"a": 1, "b": 2, "c": 3})
    assert c.execute_command("BZMPOP", 0, 2, "nokey", "z", "MIN") == ["z", [["a", "1"]]]
    assert c.execute_command("BZMPOP", "0.5", 1, "z", "max", "count", 10) == \
        ["z", [["c", "3"], ["b", "2"]]]
    assert c.exists("z") == 0
    c.zadd("y", {"m": 1})
    assert c.execute_command("BZMPOP", 0, 1, "y", "MIN", "COUNT", 1) == ["y", [["m", "1"]]]


def test_resp3_shapes(server, r):
    w = RawConn(server.port)
    assert w.cmd("HELLO", "3").type == "%"
    r.zadd("z", {"a": 1, "b": 2, "c": 3.5, "d": 4})
    assert w.cmd("BZPOPMIN", "z", 0).raw == b"*3\r\n$1\r\nz\r\n$1\r\na\r\n,1\r\n"
    assert w.cmd("BZPOPMAX", "z", 0).raw == b"*3\r\n$1\r\nz\r\n$1\r\nd\r\n,4\r\n"
    assert w.cmd("BZMPOP", 0, 1, "z", "MIN", "COUNT", 5).raw == \
        b"*2\r\n$1\r\nz\r\n*2\r\n*2\r\n$1\r\nb\r\n,2\r\n*2\r\n$1\r\nc\r\n,3.5\r\n"
    for cmd in (("BZPOPMIN", "z", "0.05"), ("BZPOPMAX", "a", "b", "0.05"),
                ("BZMPOP", "0.05", 2, "a", "z", "MAX")):
        assert w.cmd(*cmd).raw == b"_\r\n", cmd
    w.close()


# ---- Errors -------------------------------------------------------------------------

def test_arity_and_timeout_errors(r):
    for cmd in ("bzpopmin", "bzpopmax"):
        assert err(r, cmd) == arity_err(cmd)
        assert err(r, cmd, "z") == arity_err(cmd)
        assert err(r, cmd, "z", "abc") == "timeout is not a float or out of range"
        assert err(r, cmd, "z", "-1") == "timeout is negative"
        assert err(r, cmd, "z", "inf") == "timeout is negative"
        assert err(r, cmd, "z", "1e300") == "timeout is negative"
    assert err(r, "bzmpop", 0, 1, "z") == arity_err("bzmpop")
    assert err(r, "bzmpop", "x", 1, "z", "MIN") == "timeout is not a float or out of range"
    assert err(r, "bzmpop", -1, 1, "z", "MIN") == "timeout is negative"


def test_bzmpop_argument_errors(r):
    assert err(r, "bzmpop", 0, 0, "z", "MIN") == "numkeys should be greater than 0"
    assert err(r, "bzmpop", 0, -1, "z", "MIN") == "numkeys should be greater than 0"
    assert err(r, "bzmpop", 0, "x", "z", "MIN") == "numkeys should be greater than 0"
    assert err(r, "bzmpop", 0, 2, "z", "MIN") == "syntax error"
    assert err(r, "bzmpop", 0, 9223372036854775807, "z", "MIN") == "syntax error"
    assert err(r, "bzmpop", 0, 1, "z", "foo") == "syntax error"
    assert err(r, "bzmpop", 0, 1, "z", "MIN", "COUNT") == "syntax error"
    assert err(r, "bzmpop", 0, 1, "z", "MIN", "COUNT", 0) == "count should be greater than 0"
    assert err(r, "bzmpop", 0, 1, "z", "MIN", "COUNT", -3) == "count should be greater than 0"
    assert err(r, "bzmpop", 0, 1, "z", "MIN", "COUNT", 1, "COUNT", 1) == "syntax error"
    # The arguments are checked before the timeout.
    assert err(r, "bzmpop", "x", 0, "z", "MIN") == "numkeys should be greater than 0"
    assert err(r, "bzmpop", "x", 1, "z", "MIN", "COUNT", 0) == "count should be greater than 0"
    assert r.exists("z") == 0


def test_wrongtype(c):
    r = c
    r.set("s", "v")
    r.zadd("z", {"a": 1})
    assert err(r, "bzpopmin", "s", 0) == WRONGTYPE
    assert err(r, "bzpopmax", "nokey", "s", "z", 0) == WRONGTYPE
    assert err(r, "bzmpop", "0.01", 2, "nokey", "s", "MIN") == WRONGTYPE
    # A key after the first sorted set is not looked at.
    assert r.execute_command("BZPOPMIN", "z", "s", 0) == ["z", "a", "1"]
    r.zadd("z", {"a": 1})
    assert r.execute_command("BZMPOP", 0, 2, "z", "s", "MAX") == ["z", [["a", "1"]]]
    assert r.get("s") == "v"


def test_command_info_flags(c):
    info = c.execute_command("COMMAND", "INFO", "bzpopmin", "bzpopmax", "bzmpop")
    for entry in info[:2]:
        assert entry[1] == -3
        assert set(entry[2]) == {"write", "noscript", "blocking", "fast"}
        assert entry[3:6] == [1, -2, 1]
    assert info[2][1] == -5
    assert set(info[2][2]) == {"write", "blocking", "movablekeys"}


# ---- Woken by writes ------------------------------------------------------------------

def test_bzpopmin_woken_by_zadd_from_another_connection(server, r):
    w = block(server.port, r, "BZPOPMIN", "z", 0)
    no_reply_yet(w)
    assert r.zadd("z", {"b": 2, "a": 1}) == 2
    # Served before the writer's reply: the lowest member is already gone.
    assert r.zrange("z", 0, -1) == ["b"]
    assert w.reply().py() == [b"z", b"a", b"1"]
    assert blocked(r) == 0
    assert w.cmd("PING").value == b"PONG"
    w.close()


def test_bzpopmax_and_bzmpop_woken(server, r):
    w = block(server.port, r, "BZPOPMAX", "x", "y", 0)
    r.zadd("y", {"a": 1, "b": 2})
    assert w.reply().py() == [b"y", b"b", b"2"]
    assert r.zrange("y", 0, -1) == ["a"]
    w.close()
    w = block(server.port, r, "BZMPOP", 0, 2, "p", "q", "MAX", "COUNT", 2)
    r.zadd("q", {"a": 1, "b": 2, "c": 3})
    assert w.reply().py() == [b"q", [[b"c", b"3"], [b"b", b"2"]]]
    assert r.zrange("q", 0, -1) == ["a"]
    w.close()


def test_bzmpop_count_larger_than_the_set(server, r):
    w = block(server.port, r, "BZMPOP", 0, 1, "z", "MIN", "COUNT", 10)
    r.zadd("z", {"a": 1, "b": 2})
    assert w.reply().py() == [b"z", [[b"a", b"1"], [b"b", b"2"]]]
    assert r.exists("z") == 0
    w.close()


def test_woken_by_zincrby(server, r):
    w = block(server.port, r, "BZPOPMIN", "z", 0)
    assert r.zincrby("z", 1.5, "m") == 1.5
    assert w.reply().py() == [b"z", b"m", b"1.5"]
    assert r.exists("z") == 0
    w.close()


def test_woken_by_store_commands(server, r):
    r.zadd("s1", {"a": 1, "b": 2})
    r.zadd("s2", {"b": 10, "c": 3})
    cases = [
        (("ZUNIONSTORE", "d", 2, "s1", "s2"), [b"d", b"a", b"1"]),
        (("ZINTERSTORE", "d", 2, "s1", "s2"), [b"d", b"b", b"12"]),
        (("ZDIFFSTORE", "d", 2, "s1", "s2"), [b"d", b"a", b"1"]),
        (("ZRANGESTORE", "d", "s2", 0, -1), [b"d", b"c", b"3"]),
    ]
    for cmd, expected in cases:
        r.delete("d")
        w = block(server.port, r, "BZPOPMIN", "d", 0)
        assert r.execute_command(*cmd) >= 1
        assert w.reply().py() == expected, cmd
        w.close()
    # An empty result stores nothing and wakes nobody.
    r.delete("d")
    w = block(server.port, r, "BZPOPMIN", "d", 0)
    assert r.execute_command("ZINTERSTORE", "d", 2, "s1", "nokey") == 0
    no_reply_yet(w)
    assert blocked(r) == 1
    r.zadd("d", {"late": 5})
    assert w.reply().py() == [b"d", b"late", b"5"]
    w.close()


def test_multi_exec_and_script_writes_wake_after_they_end(server, r):
    w = block(server.port, r, "BZPOPMIN", "z", 0)
    p = r.pipeline(transaction=True)
    p.zadd("z", {"a": 1})
    p.zadd("z", {"b": 2})
    p.zcard("z")
    assert p.execute() == [1, 1, 2]
    assert w.reply().py() == [b"z", b"a", b"1"]
    assert r.zrange("z", 0, -1) == ["b"]
    r.delete("z")
    w2 = block(server.port, r, "BZMPOP", 0, 1, "z", "MAX", "COUNT", 5)
    script = "redis.call('zadd', KEYS[1], 1, 'x', 2, 'y'); return redis.call('zcard', KEYS[1])"
    assert r.eval(script, 1, "z") == 2
    assert w2.reply().py() == [b"z", [[b"y", b"2"], [b"x", b"1"]]]
    w.close()
    w2.close()


def test_pipeline_after_a_blocked_command_waits(server, r):
    w = RawConn(server.port)
    w.send(encode("BZPOPMAX", "z", 0) + encode("PING") + encode("SET", "after", "1"))
    wait_blocked(r, 1)
    no_reply_yet(w)
    assert r.exists("after") == 0  # not run while blocked
    r.zadd("z", {"a": 1})
    assert [x.py() for x in w.replies(3)] == [[b"z", b"a", b"1"], b"PONG", b"OK"]
    assert r.get("after") == "1"
    w.close()


def test_rename_makes_a_zset_ready(server, r):
    w = block(server.port, r, "BZPOPMAX", "z", 0)
    r.zadd("tmp", {"a": 1, "b": 2})
    r.rename("tmp", "z")
    assert w.reply().py() == [b"z", b"b", b"2"]
    w.close()


def test_fairness_three_clients(server, r):
    ws = [block(server.port, r, "BZPOPMIN", "z", 0, n=i + 1) for i in range(3)]
    assert r.zadd("z", {"a": 1, "b": 2, "c": 3}) == 3
    assert [w.reply().py() for w in ws] == [[b"z", b"a", b"1"], [b"z", b"b", b"2"],
                                            [b"z", b"c", b"3"]]
    ws2 = [block(server.port, r, "BZPOPMAX", "z", 0, n=i + 1) for i in range(3)]
    r.zadd("z", {"x": 1})
    assert ws2[0].reply().py() == [b"z", b"x", b"1"]
    no_reply_yet(ws2[1])
    assert blocked(r) == 2
    r.zadd("z", {"y": 2})
    assert ws2[1].reply().py() == [b"z", b"y", b"2"]
    r.zadd("z", {"z": 3})
    assert ws2[2].reply().py() == [b"z", b"z", b"3"]
    for w in ws + ws2:
        w.close()


def test_list_and_zset_waiters_on_one_key(server, r):
    wl = block(server.port, r, "BLPOP", "k", 0, n=1)
    wz = block(server.port, r, "BZPOPMIN", "k", 0, n=2)
    r.zadd("k", {"m": 1})  # the BLPOP waiter came first but wants a list
    assert wz.reply().py() == [b"k", b"m", b"1"]
    no_reply_yet(wl)
    wz2 = block(server.port, r, "BZPOPMIN", "k", 0, n=2)
    r.rpush("k", "e")
    assert wl.reply().py() == [b"k", b"e"]
    no_reply_yet(wz2)
    r.set("k", "string")  # another type wakes nobody
    no_reply_yet(wz2)
    r.delete("k")
    r.zadd("k", {"n": 2})
    assert wz2.reply().py() == [b"k", b"n", b"2"]
    for w in (wl, wz, wz2):
        w.close()


def test_keyspace_events_of_a_served_client(server, r):
    r.config_set("notify-keyspace-events", "KEA")
    try:
        p = r.pubsub()
        p.psubscribe("__keyevent@0__:*")
        wait_until(lambda: p.get_message(timeout=0.1), msg="psubscribe confirmation")
        w = block(server.port, r, "BZPOPMIN", "z", 0)
        r.zadd("z", {"a": 1})
        assert w.reply().py() == [b"z", b"a", b"1"]
        assert keyevents(p, 3, 10 * SLOW) == [("zadd", "z"), ("zpopmin", "z"), ("del", "z")]
        p.close()
        w.close()
    finally:
        r.config_set("notify-keyspace-events", "")


# ---- Timeouts, MULTI, scripts -------------------------------------------------------------

def test_timeouts_resp2_and_resp3(server, r):
    for resp3 in (False, True):
        w = RawConn(server.port)
        if resp3:
            w.cmd("HELLO", "3")
        null = b"_\r\n" if resp3 else b"*-1\r\n"
        for cmd in (("BZPOPMIN", "nokey", "0.2"), ("BZPOPMAX", "a", "b", "0.1"),
                    ("BZMPOP", "0.1", 2, "a", "b", "MIN", "COUNT", 3)):
            t0 = time.monotonic()
            assert w.cmd(*cmd).raw == null, cmd
            assert time.monotonic() - t0 >= 0.09
        w.close()
    assert blocked(r) == 0


def test_multi_exec_does_not_block(server, r):
    w = RawConn(server.port)
    assert w.cmd("MULTI").value == b"OK"
    for cmd in (("BZPOPMIN", "z", 0), ("BZPOPMAX", "z", 0), ("BZMPOP", 0, 1, "z", "MIN")):
        assert w.cmd(*cmd).value == b"QUEUED"
    assert w.cmd("ZADD", "y", 1, "a").value == b"QUEUED"
    assert w.cmd("BZPOPMIN", "y", 0).value == b"QUEUED"
    assert w.cmd("EXEC").raw == (b"*5\r\n*-1\r\n*-1\r\n*-1\r\n:1\r\n"
                                 b"*3\r\n$1\r\ny\r\n$1\r\na\r\n$1\r\n1\r\n")
    assert blocked(r) == 0
    w.close()


def test_scripts(r):
    assert err(r, "EVAL", "return redis.call('bzpopmin', 'z', 0)", 0).startswith(
        "This Redis command is not allowed from script")
    # BZMPOP may run in a script, where it never blocks.
    assert r.eval("return redis.call('bzmpop', 0, 1, 'z', 'MIN')", 0) is None
    r.zadd("z", {"a": 1})
    assert r.eval("return redis.call('bzmpop', 0, 1, KEYS[1], 'MAX')", 1, "z") == \
        ["z", [["a", "1"]]]


# ---- Connections that go away ---------------------------------------------------------

def test_disconnect_while_blocked(server, r):
    w = block(server.port, r, "BZPOPMIN", "z", 0, n=1)
    w2 = block(server.port, r, "BZMPOP", 0, 1, "z", "MIN", n=2)
    w.close()
    wait_blocked(r, 1)
    r.zadd("z", {"a": 1, "b": 2})
    assert w2.reply().py() == [b"z", [[b"a", b"1"]]]
    assert r.zrange("z", 0, -1) == ["b"]  # nothing handed to the closed one
    w2.close()


def test_client_unblock(server, r):
    w = block(server.port, r, "BZPOPMAX", "z", 0)
    cid = next(x["id"] for x in r.client_list() if x["cmd"] == "bzpopmax")
    assert r.execute_command("CLIENT", "UNBLOCK", cid) == 1
    assert w.reply().raw == b"*-1\r\n"
    w.send(encode("BZMPOP", 0, 1, "z", "MIN"))
    wait_blocked(r, 1)
    assert r.execute_command("CLIENT", "UNBLOCK", cid, "ERROR") == 1
    assert w.reply().raw == b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
    w.close()


# ---- Several event loops (--server-threads 2) -------------------------------------------


@strata_only
def test_woken_from_another_thread(mt_server, mt):
    a, b = conns_on_both_threads(mt_server, mt)
    for waiter, writer in ((a, b), (b, a)):
        waiter.send(encode("BZPOPMIN", "z", 0))
        wait_blocked(mt, 1)
        assert writer.cmd("ZADD", "z", 1, "x", 2, "y").value == 2
        assert writer.cmd("ZRANGE", "z", 0, -1).py() == [b"y"]  # served before the reply
        assert waiter.reply().py() == [b"z", b"x", b"1"]
        assert writer.cmd("DEL", "z").value == 1
        waiter.send(encode("BZMPOP", 0, 1, "d", "MAX", "COUNT", 2))
        wait_blocked(mt, 1)
        mt.zadd("s", {"p": 1, "q": 2, "r": 3})
        assert writer.cmd("ZUNIONSTORE", "d", 1, "s").value == 3
        assert waiter.reply().py() == [b"d", [[b"r", b"3"], [b"q", b"2"]]]
        mt.delete("d", "s")
    a.close()
    b.close()


@strata_only
def test_fairness_across_threads(mt_server, mt):
    a, b = conns_on_both_threads(mt_server, mt)
    c = RawConn(mt_server.port)
    order = [a, b, c]
    for i, w in enumerate(order):
        w.send(encode("BZPOPMIN", "z", 0))
        wait_blocked(mt, i + 1)
    mt.zadd("z", {"1": 1, "2": 2, "3": 3})
    assert [w.reply().py() for w in order] == [[b"z", b"1", b"1"], [b"z", b"2", b"2"],
                                               [b"z", b"3", b"3"]]
    for w in order:
        w.close()

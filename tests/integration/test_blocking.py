"""Integration tests for clients blocked on keys (server/blocking.c) through
the blocking list commands: woken by a push from another connection and
from another event loop (--server-threads 2), served in arrival order,
timeouts (RESP2 and RESP3), BLMOVE waking a second client, keys made ready
by RENAME/COPY/MOVE, MULTI/EXEC and scripts, WRONGTYPE destinations, the
pipeline of a blocked client, disconnects, CLIENT KILL / UNBLOCK, QUIT and
RESET while blocked, INFO and CLIENT LIST, and no element lost or handed out
twice under concurrent producers and consumers.

Blocked clients use raw sockets (rawresp.RawConn) so that a test can see
that no reply has come yet; every wait is bounded.  Tests not marked
strata_only pass against redis-server 7.0.15 too.
"""
import os
import threading
import time

import pytest

from strata import SLOW, wait_until
from rawresp import RawConn, encode
from blocked import block, blocked, conns_on_both_threads, keyevents, no_reply_yet, wait_blocked

IS_REDIS = os.path.basename(os.environ.get("STRATA_BIN", "")) == "redis-server"
strata_only = pytest.mark.skipif(IS_REDIS, reason="Strata-specific behaviour")
WRONGTYPE = b"WRONGTYPE Operation against a key holding the wrong kind of value"


def py(reply):
    return reply.py()


# ---- Woken by a push ----------------------------------------------------------

def test_blpop_woken_by_push_from_another_connection(server, r):
    w = block(server.port, r, "BLPOP", "q", 0)
    no_reply_yet(w)
    assert r.rpush("q", "a") == 1
    # Served before the pusher's reply: the list is already empty.
    assert r.exists("q") == 0
    assert py(w.reply()) == [b"q", b"a"]
    assert blocked(r) == 0
    assert w.cmd("PING").value == b"PONG"  # the connection goes on
    w.close()


def test_multiple_values_pushed_at_once(server, r):
    w1 = block(server.port, r, "BRPOP", "k1", "k2", 0)
    assert r.lpush("k2", "a", "b", "c") == 3  # [c, b, a]: BRPOP takes a
    assert py(w1.reply()) == [b"k2", b"a"]
    assert r.lrange("k2", 0, -1) == ["c", "b"]
    r.delete("k2")
    w2 = block(server.port, r, "BLPOP", "x", 0)
    r.rpush("x", "1", "2", "3")
    assert py(w2.reply()) == [b"x", b"1"]
    assert r.lrange("x", 0, -1) == ["2", "3"]
    w1.close()
    w2.close()


def test_served_from_the_key_that_became_ready(server, r):
    w = block(server.port, r, "BLPOP", "a", "b", "c", 0)
    r.rpush("c", "from-c")
    assert py(w.reply()) == [b"c", b"from-c"]
    w.close()


def test_fairness_three_clients(server, r):
    ws = [block(server.port, r, "BLPOP", "q", 0, n=i + 1) for i in range(3)]
    assert r.rpush("q", "a", "b", "c") == 3
    assert [py(w.reply()) for w in ws] == [[b"q", b"a"], [b"q", b"b"], [b"q", b"c"]]
    ws = [block(server.port, r, "BLPOP", "q", 0, n=i + 1) for i in range(3)]
    r.rpush("q", "x")
    assert py(ws[0].reply()) == [b"q", b"x"]
    no_reply_yet(ws[1])
    assert blocked(r) == 2
    r.rpush("q", "y")
    assert py(ws[1].reply()) == [b"q", b"y"]
    r.rpush("q", "z")
    assert py(ws[2].reply()) == [b"q", b"z"]
    for w in ws:
        w.close()


def test_fairness_across_keys(server, r):
    w1 = block(server.port, r, "BLPOP", "q1", "q2", 0, n=1)
    w2 = block(server.port, r, "BLPOP", "q2", 0, n=2)
    r.rpush("q2", "v1")
    assert py(w1.reply()) == [b"q2", b"v1"]
    r.rpush("q1", "v2")  # w1 is gone from q1 too
    r.rpush("q2", "v3")
    assert py(w2.reply()) == [b"q2", b"v3"]
    assert r.lrange("q1", 0, -1) == ["v2"]
    w1.close()
    w2.close()


def test_same_key_twice(server, r):
    w = block(server.port, r, "BLPOP", "q", "q", 0)
    r.rpush("q", "a", "b")
    assert py(w.reply()) == [b"q", b"a"]
    assert r.lrange("q", 0, -1) == ["b"]
    assert blocked(r) == 0
    w.close()


def test_blmpop_served_with_count(server, r):
    w = block(server.port, r, "BLMPOP", 0, 2, "a", "b", "RIGHT", "COUNT", 2)
    r.rpush("b", "1", "2", "3")
    assert py(w.reply()) == [b"b", [b"3", b"2"]]
    w2 = block(server.port, r, "BLMPOP", 0, 1, "c", "LEFT", "COUNT", 10)
    r.rpush("c", "x", "y")
    assert py(w2.reply()) == [b"c", [b"x", b"y"]]
    assert r.exists("c") == 0
    w.close()
    w2.close()


def test_brpoplpush_and_blmove_served(server, r):
    w = block(server.port, r, "BRPOPLPUSH", "src", "dst", 0)
    r.rpush("src", "a", "b")
    assert w.reply().value == b"b"
    assert r.lrange("dst", 0, -1) == ["b"]
    w2 = block(server.port, r, "BLMOVE", "s2", "dst", "LEFT", "RIGHT", 0)
    r.rpush("s2", "c")
    assert w2.reply().value == b"c"
    assert r.lrange("dst", 0, -1) == ["b", "c"]
    assert r.exists("s2") == 0
    w.close()
    w2.close()


def test_blmove_wakes_a_second_client(server, r):
    w1 = block(server.port, r, "BLMOVE", "src", "mid", "LEFT", "RIGHT", 0, n=1)
    w2 = block(server.port, r, "BRPOPLPUSH", "mid", "dst", 0, n=2)
    w3 = block(server.port, r, "BLPOP", "dst", 0, n=3)
    r.lpush("src", "X")
    assert w1.reply().value == b"X"
    assert w2.reply().value == b"X"
    assert py(w3.reply()) == [b"dst", b"X"]
    assert r.exists("src", "mid", "dst") == 0
    assert blocked(r) == 0
    for w in (w1, w2, w3):
        w.close()


def test_blmove_to_itself_when_served(server, r):
    w = block(server.port, r, "BLMOVE", "q", "q", "RIGHT", "LEFT", 0)
    r.rpush("q", "a", "b")
    assert w.reply().value == b"b"
    assert r.lrange("q", 0, -1) == ["b", "a"]
    w.close()


def test_blmove_wrongtype_destination_when_served(server, r):
    w = block(server.port, r, "BLMOVE", "src", "dst", "LEFT", "LEFT", 0)
    r.set("dst", "string")
    r.rpush("src", "a")
    reply = w.reply()
    assert reply.type == "-" and reply.value == WRONGTYPE
    assert r.lrange("src", 0, -1) == ["a"]  # the element stays
    assert blocked(r) == 0
    w.close()


def test_pop_in_the_pushers_pipeline_comes_after_the_waiter(server, r):
    w = block(server.port, r, "BLPOP", "q", 0)
    p = r.pipeline(transaction=False)
    p.rpush("q", "a")
    p.lpop("q")
    assert p.execute() == [1, None]
    assert py(w.reply()) == [b"q", b"a"]
    w.close()


def test_wrong_type_or_other_db_does_not_wake(server, r):
    w = block(server.port, r, "BLPOP", "q", 0)
    r.set("q", "string")
    r.execute_command("SELECT", 1)
    r.rpush("q", "in-db1")
    r.execute_command("SELECT", 0)
    no_reply_yet(w)
    assert blocked(r) == 1
    r.delete("q")
    r.rpush("q", "now")
    assert py(w.reply()) == [b"q", b"now"]
    w2 = RawConn(server.port)
    assert w2.cmd("SELECT", 1).value == b"OK"
    w2.send(encode("BLPOP", "z", 0))
    wait_blocked(r, 1)
    r.rpush("z", "db0")
    no_reply_yet(w2)
    r.execute_command("SELECT", 1)
    r.rpush("z", "db1")
    assert py(w2.reply()) == [b"z", b"db1"]
    r.execute_command("SELECT", 0)
    w.close()
    w2.close()


def test_rename_copy_move_make_keys_ready(server, r):
    w = block(server.port, r, "BLPOP", "q", 0)
    r.rpush("tmp", "renamed")
    r.rename("tmp", "q")
    assert py(w.reply()) == [b"q", b"renamed"]
    w = block(server.port, r, "BLPOP", "c", 0)
    r.rpush("orig", "copied")
    assert r.copy("orig", "c") is True
    assert py(w.reply()) == [b"c", b"copied"]
    assert r.lrange("orig", 0, -1) == ["copied"]
    w1 = RawConn(server.port)
    w1.cmd("SELECT", 1)
    w1.send(encode("BLPOP", "m", 0))
    wait_blocked(r, 1)
    r.rpush("m", "moved")
    assert r.move("m", 1) is True
    assert py(w1.reply()) == [b"m", b"moved"]
    w.close()
    w1.close()


def test_swapdb_makes_keys_ready(server, r):
    w = block(server.port, r, "BLPOP", "q", 0)
    r.execute_command("SELECT", 1)
    r.rpush("q", "from-db1")
    r.execute_command("SELECT", 0)
    no_reply_yet(w)
    assert r.swapdb(0, 1) is True
    assert py(w.reply()) == [b"q", b"from-db1"]
    r.swapdb(0, 1)
    w.close()


def test_multi_exec_and_script_pushes_wake_after_they_end(server, r):
    w = block(server.port, r, "BLPOP", "q", 0)
    p = r.pipeline(transaction=True)
    p.rpush("q", "a")
    p.rpush("q", "b")
    p.llen("q")
    assert p.execute() == [1, 2, 2]
    assert py(w.reply()) == [b"q", b"a"]
    assert r.lrange("q", 0, -1) == ["b"]
    r.delete("q")
    w2 = block(server.port, r, "BLPOP", "q", 0)
    assert r.eval("redis.call('rpush', KEYS[1], 'x', 'y'); return redis.call('llen', KEYS[1])",
                  1, "q") == 2
    assert py(w2.reply()) == [b"q", b"x"]
    w.close()
    w2.close()


def test_keyspace_events_of_a_served_client(server, r):
    r.config_set("notify-keyspace-events", "KEA")
    try:
        p = r.pubsub()
        p.psubscribe("__keyevent@0__:*")
        wait_until(lambda: p.get_message(timeout=0.1), msg="psubscribe confirmation")
        w = block(server.port, r, "BLPOP", "q", 0)
        r.rpush("q", "a")
        assert py(w.reply()) == [b"q", b"a"]
        assert keyevents(p, 3, 10 * SLOW) == [("rpush", "q"), ("lpop", "q"), ("del", "q")]
        p.close()
        w.close()
    finally:
        r.config_set("notify-keyspace-events", "")


# ---- Timeouts -------------------------------------------------------------------

def test_timeouts_resp2_and_resp3(server, r):
    for resp3 in (False, True):
        w = RawConn(server.port)
        if resp3:
            w.cmd("HELLO", "3")
        null = b"_\r\n" if resp3 else b"*-1\r\n"
        for cmd in (("BLPOP", "nokey", "0.2"), ("BRPOP", "a", "b", "0.1"),
                    ("BLMOVE", "nokey", "d", "LEFT", "LEFT", "0.1"), ("BRPOPLPUSH", "nokey", "d", "0.1"),
                    ("BLMPOP", "0.1", 2, "a", "b", "LEFT")):
            t0 = time.monotonic()
            assert w.cmd(*cmd).raw == null, cmd
            assert time.monotonic() - t0 >= 0.09
        w.close()
    assert blocked(r) == 0
    assert r.exists("d") == 0


def test_info_counts_blocked_and_timed_clients(server, r):
    w1 = block(server.port, r, "BLPOP", "q", 0, n=1)
    w2 = block(server.port, r, "BLPOP", "q", 100, n=2)
    info = r.info("clients")
    assert info["blocked_clients"] == 2
    assert info["clients_in_timeout_table"] == 1
    flags = {c["cmd"]: c["flags"] for c in r.client_list() if c["cmd"] == "blpop"}
    assert flags == {"blpop": "b"}
    r.rpush("q", "1", "2")
    w1.reply()
    w2.reply()
    info = r.info("clients")
    assert info["blocked_clients"] == 0 and info["clients_in_timeout_table"] == 0
    w1.close()
    w2.close()


def test_timeout_zero_waits_for_a_push(server, r):
    w = block(server.port, r, "BLPOP", "q", "-0.0001")  # rounds to 0: forever
    no_reply_yet(w)
    r.rpush("q", "late")
    assert py(w.reply()) == [b"q", b"late"]
    w.close()


# ---- Connections that go away or are unblocked ------------------------------------

def test_disconnect_while_blocked(server, r):
    w = block(server.port, r, "BLPOP", "q", 0, n=1)
    w2 = block(server.port, r, "BLPOP", "q", 0, n=2)
    w.close()
    wait_blocked(r, 1)
    r.rpush("q", "a", "b")
    assert py(w2.reply()) == [b"q", b"a"]
    assert r.lrange("q", 0, -1) == ["b"]  # nothing handed to the closed one
    w2.close()


def test_client_kill_blocked(server, r):
    w = block(server.port, r, "BLPOP", "q", 0)
    cid = next(c["id"] for c in r.client_list() if c["cmd"] == "blpop")
    assert r.execute_command("CLIENT", "KILL", "ID", cid) == 1
    w.read_until_closed()
    wait_blocked(r, 0)
    r.rpush("q", "kept")
    assert r.lrange("q", 0, -1) == ["kept"]


def test_client_unblock(server, r):
    w = block(server.port, r, "BLPOP", "q", 0)
    cid = next(c["id"] for c in r.client_list() if c["cmd"] == "blpop")
    assert r.execute_command("CLIENT", "UNBLOCK", cid) == 1
    assert w.reply().raw == b"*-1\r\n"
    assert r.execute_command("CLIENT", "UNBLOCK", cid) == 0
    w.send(encode("BRPOP", "q", 0))
    wait_blocked(r, 1)
    assert r.execute_command("CLIENT", "UNBLOCK", cid, "ERROR") == 1
    assert w.reply().raw == b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
    w.send(encode("BLMOVE", "q", "d", "LEFT", "LEFT", 0))
    wait_blocked(r, 1)
    assert r.execute_command("CLIENT", "UNBLOCK", cid, "timeout") == 1
    assert w.reply().raw == b"*-1\r\n"
    assert w.cmd("PING").value == b"PONG"
    with pytest.raises(Exception, match="CLIENT UNBLOCK reason should be TIMEOUT or ERROR"):
        r.execute_command("CLIENT", "UNBLOCK", cid, "soon")
    with pytest.raises(Exception, match="value is not an integer or out of range"):
        r.execute_command("CLIENT", "UNBLOCK", "abc")
    assert r.execute_command("CLIENT", "UNBLOCK", 999999) == 0
    w.close()


def test_pipeline_after_a_blocked_command_waits(server, r):
    w = RawConn(server.port)
    w.send(encode("BLPOP", "q", 0) + encode("PING") + encode("SET", "after", "1") + encode("QUIT"))
    wait_blocked(r, 1)
    no_reply_yet(w)
    assert r.exists("after") == 0  # not run while blocked
    r.rpush("q", "a")
    reps = w.replies(4)
    assert [x.py() for x in reps] == [[b"q", b"a"], b"PONG", b"OK", b"OK"]
    w.read_until_closed()
    assert r.get("after") == "1"


def test_reset_sent_while_blocked(server, r):
    w = RawConn(server.port)
    w.send(encode("SELECT", 2) + encode("BLPOP", "q", 0) + encode("RESET") + encode("PING"))
    assert w.reply().value == b"OK"
    wait_blocked(r, 1)
    no_reply_yet(w)
    r.execute_command("SELECT", 2)
    r.rpush("q", "a")
    r.execute_command("SELECT", 0)
    assert [x.py() for x in w.replies(3)] == [[b"q", b"a"], b"RESET", b"PONG"]
    w.close()


def test_blocked_client_outlives_idle_timeout(server, r):
    r.config_set("timeout", 1)
    try:
        w = block(server.port, r, "BLPOP", "q", 0)
        assert w.is_open_for(2.2)
        r.rpush("q", "a")
        assert py(w.reply()) == [b"q", b"a"]
        w.close()
    finally:
        r.config_set("timeout", 0)


# ---- Concurrency ---------------------------------------------------------------------

def consume_produce(port, r, consumers=6, producers=3, per_producer=400):
    """Consumers loop on BLPOP (short timeouts) while producers push; returns
    (pushed, popped) element lists."""
    popped, lock, stop = [], threading.Lock(), threading.Event()
    errors = []

    def consumer(i):
        try:
            c = RawConn(port)
            keys = ["q1", "q2"] if i % 2 else ["q2", "q1"]
            for _ in range(100000):
                rep = c.cmd("BLPOP", *keys, "0.05")
                if rep.value is None:
                    if stop.is_set():
                        break
                    continue
                with lock:
                    popped.append(rep.value[1].value.decode())
            c.close()
        except Exception as e:  # noqa: BLE001 - asserted empty
            errors.append(repr(e))

    def producer(i):
        try:
            c = RawConn(port)
            for j in range(0, per_producer, 4):
                vals = [f"p{i}-{j + k}" for k in range(4)]
                c.cmd("RPUSH" if j % 8 else "LPUSH", "q1" if (i + j) % 3 else "q2", *vals)
            c.close()
        except Exception as e:  # noqa: BLE001 - asserted empty
            errors.append(repr(e))

    cs = [threading.Thread(target=consumer, args=(i,), daemon=True) for i in range(consumers)]
    ps = [threading.Thread(target=producer, args=(i,), daemon=True) for i in range(producers)]
    for t in cs + ps:
        t.start()
    for t in ps:
        t.join(60 * SLOW)
    total = producers * per_producer
    wait_until(lambda: len(popped) >= total, timeout=60, msg="every element popped")
    stop.set()
    for t in cs:
        t.join(30 * SLOW)
    assert not errors, errors
    pushed = [f"p{i}-{j}" for i in range(producers) for j in range(per_producer)]
    return pushed, popped


def test_no_element_lost_or_duplicated(server, r):
    pushed, popped = consume_produce(server.port, r)
    assert sorted(popped) == sorted(pushed)
    assert r.exists("q1", "q2") == 0
    wait_blocked(r, 0)


# ---- Several event loops (--server-threads 2) -----------------------------------------


@strata_only
def test_woken_from_another_thread(mt_server, mt):
    a, b = conns_on_both_threads(mt_server, mt)
    for waiter, pusher in ((a, b), (b, a)):
        waiter.send(encode("BLPOP", "q", 0))
        wait_blocked(mt, 1)
        assert pusher.cmd("RPUSH", "q", "x", "y").value == 2
        assert pusher.cmd("LRANGE", "q", 0, -1).py() == [b"y"]  # served before the reply
        assert waiter.reply().py() == [b"q", b"x"]
        assert pusher.cmd("DEL", "q").value == 1
        waiter.send(encode("BLMOVE", "src", "dst", "LEFT", "LEFT", 0))
        wait_blocked(mt, 1)
        pusher.send(encode("BLPOP", "dst", 0))
        wait_blocked(mt, 2)
        mt.rpush("src", "m")
        assert waiter.reply().value == b"m"
        assert pusher.reply().py() == [b"dst", b"m"]
    a.close()
    b.close()


@strata_only
def test_fairness_across_threads(mt_server, mt):
    a, b = conns_on_both_threads(mt_server, mt)
    c = RawConn(mt_server.port)
    order = [a, b, c]
    for i, w in enumerate(order):
        w.send(encode("BLPOP", "q", 0))
        wait_blocked(mt, i + 1)
    mt.rpush("q", "1", "2", "3")
    assert [w.reply().py() for w in order] == [[b"q", b"1"], [b"q", b"2"], [b"q", b"3"]]
    for w in order:
        w.close()


@strata_only
def test_no_element_lost_across_threads(mt_server, mt):
    pushed, popped = consume_produce(mt_server.port, mt, consumers=8, producers=4)
    assert sorted(popped) == sorted(pushed)
    wait_blocked(mt, 0)


@strata_only
def test_disconnects_and_kills_across_threads(mt_server, mt):
    a, b = conns_on_both_threads(mt_server, mt)
    a.send(encode("BLPOP", "q", 0))
    b.send(encode("BLPOP", "q", 5))
    wait_blocked(mt, 2)
    a.close()
    wait_blocked(mt, 1)
    bid = next(x["id"] for x in mt.client_list() if x["cmd"] == "blpop")
    assert mt.execute_command("CLIENT", "UNBLOCK", bid) == 1
    assert b.reply().raw == b"*-1\r\n"
    b.send(encode("BLPOP", "q", 0))
    wait_blocked(mt, 1)
    assert mt.execute_command("CLIENT", "KILL", "ID", bid) == 1
    b.read_until_closed()
    wait_blocked(mt, 0)
    mt.rpush("q", "kept")
    assert mt.lrange("q", 0, -1) == ["kept"]

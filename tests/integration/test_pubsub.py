"""Pub/sub: SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE PUNSUBSCRIBE PUBLISH PUBSUB with
Redis 7.0's exact replies in RESP2 and RESP3, the RESP2 subscribed context,
RESET, CLIENT LIST / INFO figures, delivery between event loops
(--server-threads 2), and client-output-buffer-limit for the pubsub class.

Wire-level checks use raw connections (tests/helpers/rawresp.py) so reply
types and bytes are asserted exactly; redis-py's PubSub is used once to show a
real client works unmodified.
"""
import threading
import time

import pytest

from strata import SLOW, ASAN, wait_until
from rawresp import RawConn, ConnectionClosed, encode

CONTEXT_ERR = ("ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / "
               "RESET are allowed in this context")


# ------------------------------------------------------------------ helpers ---

def bulk(x):
    if x is None:
        return None
    return x if isinstance(x, bytes) else str(x).encode()


def wire(resp, *elems):
    """Exact bytes of a pub/sub push: '*' in RESP2, '>' in RESP3.  str/bytes
    are bulks, int an integer, None a null ($-1 / _)."""
    out = [b"%s%d\r\n" % (b">" if resp == 3 else b"*", len(elems))]
    for e in elems:
        if e is None:
            out.append(b"_\r\n" if resp == 3 else b"$-1\r\n")
        elif isinstance(e, int):
            out.append(b":%d\r\n" % e)
        else:
            e = bulk(e)
            out.append(b"$%d\r\n%s\r\n" % (len(e), e))
    return b"".join(out)


def raw(server_or_port, resp=2, **kw):
    port = server_or_port if isinstance(server_or_port, int) else server_or_port.port
    c = RawConn(port, **kw)
    if resp == 3:
        assert c.cmd("HELLO", "3").type == "%"
    return c


def err(reply):
    assert reply.type == "-", reply
    return reply.value.decode()


def stat(client, name, section="stats"):
    return client.info(section)[name]


def client_fields(client, cid):
    """CLIENT LIST ID cid as a dict, or None when that client is gone."""
    line = client.execute_command("CLIENT", "LIST", "ID", cid)
    if isinstance(line, bytes):
        line = line.decode()
    line = line.strip()
    if not line:
        return None
    return dict(kv.split("=", 1) for kv in line.split(" "))


def holds_for(cond, seconds, msg, interval=0.05):
    """Asserts cond() stays true for `seconds` (polled, bounded)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert cond(), msg
        time.sleep(interval)  # poll interval of a bounded check
    assert cond(), msg


def numsub(client, *channels):
    return client.execute_command("PUBSUB", "NUMSUB", *channels)


# ----------------------------------------------------- replies, RESP2 and 3 ---

@pytest.mark.parametrize("resp", [2, 3])
def test_subscribe_and_unsubscribe_confirmations(server, r, resp):
    with raw(server, resp) as c:
        c.send(encode("SUBSCRIBE", "a", "b", "a"))
        assert [x.raw for x in c.replies(3)] == [
            wire(resp, "subscribe", "a", 1), wire(resp, "subscribe", "b", 2),
            wire(resp, "subscribe", "a", 2)]  # a second SUBSCRIBE a changes nothing
        c.send(encode("PSUBSCRIBE", "h*", "h*", "x?"))
        assert [x.raw for x in c.replies(3)] == [
            wire(resp, "psubscribe", "h*", 3), wire(resp, "psubscribe", "h*", 3),
            wire(resp, "psubscribe", "x?", 4)]
        # Unsubscribing from what one does not have is confirmed, count unchanged.
        assert c.cmd("UNSUBSCRIBE", "zz").raw == wire(resp, "unsubscribe", "zz", 4)
        assert c.cmd("PUNSUBSCRIBE", "zz*").raw == wire(resp, "punsubscribe", "zz*", 4)
        assert c.cmd("UNSUBSCRIBE", "b").raw == wire(resp, "unsubscribe", "b", 3)
        c.send(encode("PUNSUBSCRIBE", "x?", "h*"))
        assert [x.raw for x in c.replies(2)] == [
            wire(resp, "punsubscribe", "x?", 2), wire(resp, "punsubscribe", "h*", 1)]
        assert c.cmd("UNSUBSCRIBE", "a").raw == wire(resp, "unsubscribe", "a", 0)
        # Out of the subscribed context again.
        assert c.cmd("PING").raw == b"+PONG\r\n"
        assert c.cmd("SET", "k", "v").raw == b"+OK\r\n"


@pytest.mark.parametrize("resp", [2, 3])
def test_unsubscribe_without_arguments(server, r, resp):
    with raw(server, resp) as c:
        # Subscribed to nothing: one reply with a nil name and 0.
        assert c.cmd("UNSUBSCRIBE").raw == wire(resp, "unsubscribe", None, 0)
        assert c.cmd("PUNSUBSCRIBE").raw == wire(resp, "punsubscribe", None, 0)
        assert c.cmd("PING").raw == b"+PONG\r\n"  # still not subscribed
        c.send(encode("SUBSCRIBE", "c1", "c2", "c3"))
        c.replies(3)
        assert c.cmd("PSUBSCRIBE", "p*").raw == wire(resp, "psubscribe", "p*", 4)
        # All channels, one confirmation each, the pattern still counted.
        c.send(encode("UNSUBSCRIBE"))
        got = c.replies(3)
        assert [x.py()[0] for x in got] == [b"unsubscribe"] * 3
        assert sorted(x.py()[1] for x in got) == [b"c1", b"c2", b"c3"]
        assert [x.py()[2] for x in got] == [3, 2, 1]
        assert all(x.type == (">" if resp == 3 else "*") for x in got)
        assert c.cmd("UNSUBSCRIBE").raw == wire(resp, "unsubscribe", None, 1)
        assert c.cmd("PUNSUBSCRIBE").raw == wire(resp, "punsubscribe", "p*", 0)
        assert c.cmd("PUNSUBSCRIBE").raw == wire(resp, "punsubscribe", None, 0)
        assert c.cmd("GET", "nokey").raw == (b"_\r\n" if resp == 3 else b"$-1\r\n")
    assert numsub(r, "c1", "c2", "c3") == ["c1", 0, "c2", 0, "c3", 0]
    assert r.execute_command("PUBSUB", "NUMPAT") == 0


@pytest.mark.parametrize("resp", [2, 3])
def test_message_and_pmessage_formats(server, r, resp):
    with raw(server, resp) as sub, raw(server) as pub:
        sub.send(encode("SUBSCRIBE", "news.tech"))
        sub.reply()
        assert sub.cmd("PSUBSCRIBE", "news.*").raw == wire(resp, "psubscribe", "news.*", 2)
        assert pub.cmd("PUBLISH", "news.tech", "hello").raw == b":2\r\n"
        assert sub.reply().raw == wire(resp, "message", "news.tech", "hello")
        assert sub.reply().raw == wire(resp, "pmessage", "news.*", "news.tech", "hello")
        # Binary-safe channel, pattern and payload.
        chan, payload = b"bin\x00\r\nch", b"\x00\xff\r\n$3\r\n*2\r\n"
        assert sub.cmd("PSUBSCRIBE", b"bin\x00*").raw == wire(resp, "psubscribe", b"bin\x00*", 3)
        assert pub.cmd("PUBLISH", chan, payload).raw == b":1\r\n"
        assert sub.reply().raw == wire(resp, "pmessage", b"bin\x00*", chan, payload)
        # Empty message, and a large one.
        assert pub.cmd("PUBLISH", "news.tech", "").raw == b":2\r\n"
        assert sub.reply().raw == wire(resp, "message", "news.tech", "")
        assert sub.reply().raw == wire(resp, "pmessage", "news.*", "news.tech", "")
        big = b"z" * 300000
        assert pub.cmd("PUBLISH", "news.x", big).raw == b":1\r\n"
        assert sub.reply().raw == wire(resp, "pmessage", "news.*", "news.x", big)


def test_resp3_subscriber_runs_any_command_and_gets_its_own_messages(server, r):
    with raw(server, 3) as c:
        assert c.cmd("SUBSCRIBE", "me").raw == wire(3, "subscribe", "me", 1)
        assert c.cmd("PSUBSCRIBE", "m*").raw == wire(3, "psubscribe", "m*", 2)
        # No subscribed context in RESP3: ordinary commands and replies.
        assert c.cmd("SET", "k", "v").raw == b"+OK\r\n"
        assert c.cmd("GET", "k").raw == b"$1\r\nv\r\n"
        assert c.cmd("PING").raw == b"+PONG\r\n"
        assert c.cmd("PING", "x").raw == b"$1\r\nx\r\n"
        # Its own PUBLISH: the pushes come before PUBLISH's count, as in Redis.
        c.send(encode("PUBLISH", "me", "hi"))
        assert [x.raw for x in c.replies(3)] == [
            wire(3, "message", "me", "hi"), wire(3, "pmessage", "m*", "me", "hi"), b":2\r\n"]
        assert c.cmd("PUBSUB", "NUMSUB", "me").raw == b"*2\r\n$2\r\nme\r\n:1\r\n"
        # HELLO 2 while subscribed: from now on RESP2 arrays and the RESP2 rules.
        assert c.cmd("HELLO", "2").type == "*"
        with raw(server) as pub:
            assert pub.cmd("PUBLISH", "me", "two").raw == b":2\r\n"
        assert c.reply().raw == wire(2, "message", "me", "two")
        assert c.reply().raw == wire(2, "pmessage", "m*", "me", "two")
        assert err(c.cmd("GET", "k")) == CONTEXT_ERR % "get"


def test_publish_counts_receivers(server, r):
    with raw(server) as a, raw(server) as b, raw(server) as pub:
        assert pub.cmd("PUBLISH", "ch", "nobody").raw == b":0\r\n"
        a.cmd("SUBSCRIBE", "ch")
        b.cmd("SUBSCRIBE", "ch")
        assert pub.cmd("PUBLISH", "ch", "1").raw == b":2\r\n"
        # A client that has the channel and a matching pattern gets both.
        a.send(encode("PSUBSCRIBE", "c*", "*"))
        assert [x.py() for x in a.replies(3)] == [
            [b"message", b"ch", b"1"], [b"psubscribe", b"c*", 2], [b"psubscribe", b"*", 3]]
        assert pub.cmd("PUBLISH", "ch", "2").raw == b":4\r\n"
        assert pub.cmd("PUBLISH", "other", "3").raw == b":1\r\n"
        got = [x.py() for x in a.replies(4)]
        assert got == [[b"message", b"ch", b"2"], [b"pmessage", b"c*", b"ch", b"2"],
                       [b"pmessage", b"*", b"ch", b"2"],
                       [b"pmessage", b"*", b"other", b"3"]]
        assert [x.py() for x in b.replies(2)] == [[b"message", b"ch", b"1"],
                                                 [b"message", b"ch", b"2"]]
        b.cmd("UNSUBSCRIBE")
        assert pub.cmd("PUBLISH", "ch", "4").raw == b":3\r\n"
    # Connections closed: nobody left.
    wait_until(lambda: r.publish("ch", "5") == 0, msg="closed subscribers to leave the registry")


@pytest.mark.parametrize("pattern,matching,other", [
    ("news.*", ["news.", "news.a.b"], ["news", "xnews.a"]),
    ("h?llo", ["hello", "hallo"], ["hllo", "heello"]),
    ("h[ae]llo", ["hello", "hallo"], ["hillo"]),
    ("h[^e]llo", ["hallo", "hxllo"], ["hello"]),
    ("h[a-b]llo", ["hallo", "hbllo"], ["hcllo"]),
    ("a\\*b", ["a*b"], ["axb", "a\\*b"]),
    ("*", ["anything", "x"], [""]),  # Redis's matcher: '*' does not match ""
    ("Case*", ["Case1"], ["case1"]),
])
def test_pattern_matching(server, r, pattern, matching, other):
    with raw(server) as sub, raw(server) as pub:
        assert sub.cmd("PSUBSCRIBE", pattern).raw == wire(2, "psubscribe", pattern, 1)
        for ch in other:
            assert pub.cmd("PUBLISH", ch, "no").raw == b":0\r\n", ch
        for ch in matching:
            assert pub.cmd("PUBLISH", ch, "yes").raw == b":1\r\n", ch
            assert sub.reply().raw == wire(2, "pmessage", pattern, ch, "yes")
        # Nothing else was delivered: PING is the next reply.
        assert sub.cmd("PING").raw == wire(2, "pong", "")


# ------------------------------------------------------------------ PUBSUB ---

def test_pubsub_channels_numsub_numpat(server, r):
    with raw(server) as a, raw(server) as b:
        assert r.execute_command("PUBSUB", "CHANNELS") == []
        assert r.execute_command("PUBSUB", "NUMPAT") == 0
        a.send(encode("SUBSCRIBE", "news.tech", "news.art", "sport"))
        a.replies(3)
        b.send(encode("SUBSCRIBE", "news.tech"))
        b.reply()
        a.send(encode("PSUBSCRIBE", "n*", "s*"))
        a.replies(2)
        b.send(encode("PSUBSCRIBE", "n*"))
        b.reply()
        assert sorted(r.execute_command("PUBSUB", "CHANNELS")) == ["news.art", "news.tech", "sport"]
        assert sorted(r.execute_command("PUBSUB", "CHANNELS", "news.*")) == \
            ["news.art", "news.tech"]
        assert r.execute_command("PUBSUB", "CHANNELS", "x*") == []
        # Patterns are not channels; counts are per channel, in argument order.
        assert numsub(r, "news.tech", "sport", "n*", "none", "news.tech") == \
            ["news.tech", 2, "sport", 1, "n*", 0, "none", 0, "news.tech", 2]
        assert numsub(r) == []
        # NUMPAT counts unique patterns (Redis 7.0).
        assert r.execute_command("PUBSUB", "NUMPAT") == 2
        assert stat(r, "pubsub_channels") == 3
        assert stat(r, "pubsub_patterns") == 2
        b.cmd("PUNSUBSCRIBE", "n*")
        assert r.execute_command("PUBSUB", "NUMPAT") == 2
        a.cmd("PUNSUBSCRIBE", "n*")
        assert r.execute_command("PUBSUB", "NUMPAT") == 1
        a.cmd("UNSUBSCRIBE", "sport")
        assert sorted(r.execute_command("PUBSUB", "CHANNELS")) == ["news.art", "news.tech"]
        assert stat(r, "pubsub_channels") == 2
        assert stat(r, "pubsub_patterns") == 1
    wait_until(lambda: stat(r, "pubsub_channels") == 0 and stat(r, "pubsub_patterns") == 0,
               msg="INFO pubsub figures to drop to 0 after the subscribers left")
    assert r.execute_command("PUBSUB", "CHANNELS") == []


def test_pubsub_replies_in_resp3(server, r):
    with raw(server, 3) as c, raw(server) as sub:
        sub.cmd("SUBSCRIBE", "x")
        # NUMSUB stays a flat array, CHANNELS an array, NUMPAT an integer.
        assert c.cmd("PUBSUB", "NUMSUB", "x", "y").raw == \
            b"*4\r\n$1\r\nx\r\n:1\r\n$1\r\ny\r\n:0\r\n"
        assert c.cmd("PUBSUB", "CHANNELS").raw == b"*1\r\n$1\r\nx\r\n"
        assert c.cmd("PUBSUB", "NUMPAT").raw == b":0\r\n"


def test_pubsub_help_and_errors(server, r):
    with raw(server) as c:
        helptext = [
            b"PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            b"CHANNELS [<pattern>]",
            b"    Return the currently active channels matching a <pattern> (default: '*').",
            b"NUMPAT",
            b"    Return number of subscriptions to patterns.",
            b"NUMSUB [<channel> ...]",
            b"    Return the number of subscribers for the specified channels, excluding",
            b"    pattern subscriptions(default: no channels).",
            b"HELP",
            b"    Prints this help."]
        h = c.cmd("PUBSUB", "help")
        assert h.type == "*" and all(x.type == "+" for x in h.value)
        assert h.py() == helptext
        assert err(c.cmd("PUBSUB")) == "ERR wrong number of arguments for 'pubsub' command"
        assert err(c.cmd("PUBSUB", "foo")) == "ERR unknown subcommand 'foo'. Try PUBSUB HELP."
        assert err(c.cmd("PUBSUB", "HELP", "x")) == \
            "ERR wrong number of arguments for 'pubsub|help' command"
        assert err(c.cmd("PUBSUB", "NUMPAT", "x")) == \
            "ERR wrong number of arguments for 'pubsub|numpat' command"
        assert err(c.cmd("PUBSUB", "ChAnNeLs", "a", "b")) == \
            "ERR unknown subcommand or wrong number of arguments for 'ChAnNeLs'. Try PUBSUB HELP."
        for cmd, name in [(("SUBSCRIBE",), "subscribe"), (("PSUBSCRIBE",), "psubscribe"),
                          (("PUBLISH", "ch"), "publish"), (("PUBLISH", "a", "b", "c"), "publish")]:
            assert err(c.cmd(*cmd)) == f"ERR wrong number of arguments for '{name}' command"
        assert c.cmd("PING").raw == b"+PONG\r\n"  # none of those subscribed anything


def test_command_table_entries(server, r):
    info = r.execute_command("COMMAND", "INFO", "subscribe", "publish", "pubsub", "unsubscribe",
                             "psubscribe", "punsubscribe")
    arity = {name: e["arity"] for name, e in info.items()}
    assert arity == {"subscribe": -2, "unsubscribe": -1, "psubscribe": -2, "punsubscribe": -1,
                     "publish": 3, "pubsub": -2}
    assert set(info["subscribe"]["flags"]) == {"pubsub", "noscript", "loading", "stale"}
    assert set(info["publish"]["flags"]) == {"pubsub", "loading", "stale", "fast"}
    for name, e in info.items():  # no keys
        assert (e["first_key_pos"], e["last_key_pos"], e["step_count"]) == (0, 0, 0), name
    with raw(server) as c:
        docs = c.cmd("COMMAND", "DOCS", "unsubscribe").py()
    assert docs[0] == b"unsubscribe"
    fields = dict(zip(docs[1][0::2], docs[1][1::2]))
    assert fields[b"group"] == b"pubsub"
    assert fields[b"arguments"] == [[b"name", b"channel", b"type", b"string",
                                     b"flags", [b"optional", b"multiple"]]]


# ---------------------------------------------------- RESP2 subscribed mode ---

def test_resp2_subscribed_context(server, r):
    with raw(server) as c:
        c.cmd("SUBSCRIBE", "ch")
        for cmd, name in [(("GET", "k"), "get"), (("SET", "k", "v"), "set"),
                          (("PUBLISH", "ch", "m"), "publish"), (("CLIENT", "LIST"), "client|list"),
                          (("PUBSUB", "NUMPAT"), "pubsub|numpat"), (("HELLO", "3"), "hello"),
                          (("ECHO", "x"), "echo"), (("SELECT", "1"), "select")]:
            assert err(c.cmd(*cmd)) == CONTEXT_ERR % name
        # Unknown commands and arity errors are reported as such first.
        assert err(c.cmd("NOSUCH")) == \
            "ERR unknown command 'NOSUCH', with args beginning with: "
        assert err(c.cmd("GET")) == "ERR wrong number of arguments for 'get' command"
        # PING answers in message shape.
        assert c.cmd("PING").raw == wire(2, "pong", "")
        assert c.cmd("PING", "hello").raw == wire(2, "pong", "hello")
        # The (P)(UN)SUBSCRIBE family is allowed.
        assert c.cmd("PSUBSCRIBE", "p*").raw == wire(2, "psubscribe", "p*", 2)
        assert c.cmd("PUNSUBSCRIBE", "p*").raw == wire(2, "punsubscribe", "p*", 1)
        assert c.cmd("SUBSCRIBE", "d").raw == wire(2, "subscribe", "d", 2)
        c.send(encode("UNSUBSCRIBE", "ch", "d"))
        c.replies(2)
        # Left the context with the last subscription.
        assert c.cmd("GET", "k").raw == b"$-1\r\n"
        assert c.cmd("PING").raw == b"+PONG\r\n"
    # QUIT is allowed too and closes the connection.
    with raw(server) as c:
        c.cmd("PSUBSCRIBE", "q*")
        assert c.cmd("QUIT").raw == b"+OK\r\n"
        assert c.read_until_closed() == b""
    # Refused calls count as rejected, not as calls (ECHO ran nowhere else here).
    echo = r.info("commandstats")["cmdstat_echo"]
    assert (echo["calls"], echo["rejected_calls"]) == (0, 1)


@pytest.mark.parametrize("resp", [2, 3])
def test_reset_unsubscribes_everything(server, r, resp):
    with raw(server, resp) as c:
        cid = c.cmd("CLIENT", "ID").value
        c.send(encode("SUBSCRIBE", "a", "b"))
        c.replies(2)
        c.cmd("PSUBSCRIBE", "p*")
        f = client_fields(r, cid)
        assert (f["flags"], f["sub"], f["psub"]) == ("P", "2", "1")
        # No unsubscribe confirmations: +RESET is the only reply.
        assert c.cmd("RESET").raw == b"+RESET\r\n"
        assert c.cmd("PING").raw == b"+PONG\r\n"
        assert c.cmd("GET", "k").raw == b"$-1\r\n"  # RESP2 after RESET
        f = client_fields(r, cid)
        assert (f["flags"], f["sub"], f["psub"], f["resp"]) == ("N", "0", "0", "2")
        assert numsub(r, "a", "b") == ["a", 0, "b", 0]
        assert r.execute_command("PUBSUB", "NUMPAT") == 0
        assert r.publish("a", "x") == 0
        assert r.publish("pz", "x") == 0
        assert c.cmd("UNSUBSCRIBE").raw == wire(2, "unsubscribe", None, 0)


def test_client_list_and_kill_by_type(server, r):
    with raw(server) as c, raw(server) as plain:
        cid = c.cmd("CLIENT", "ID").value
        pid = plain.cmd("CLIENT", "ID").value
        c.send(encode("SUBSCRIBE", "a", "b", "c"))
        c.replies(3)
        c.send(encode("PSUBSCRIBE", "x", "y"))
        c.replies(2)
        f = client_fields(r, cid)
        assert (f["flags"], f["sub"], f["psub"], f["ssub"]) == ("P", "3", "2", "0")
        assert f["cmd"] == "psubscribe"
        f = client_fields(r, pid)
        assert (f["flags"], f["sub"], f["psub"]) == ("N", "0", "0")
        ids = lambda t: {int(x["id"]) for x in r.client_list(_type=t)}  # noqa: E731
        assert cid in ids("pubsub") and cid not in ids("normal")
        assert pid in ids("normal") and pid not in ids("pubsub")
        assert r.execute_command("CLIENT", "KILL", "TYPE", "pubsub") == 1
        assert c.read_until_closed() == b""
        assert plain.cmd("PING").raw == b"+PONG\r\n"
    wait_until(lambda: numsub(r, "a") == ["a", 0], msg="killed subscriber to leave the registry")


def test_redis_py_pubsub(server, r):
    p = r.pubsub()
    try:
        p.subscribe("rp")
        p.psubscribe("rp*")

        def next_message():
            return wait_until(lambda: p.get_message(timeout=0.1), timeout=5,
                              msg="a pub/sub message")

        assert next_message() == {"type": "subscribe", "pattern": None, "channel": "rp",
                                  "data": 1}
        assert next_message() == {"type": "psubscribe", "pattern": None, "channel": "rp*",
                                  "data": 2}
        assert r.publish("rp", "hello") == 2
        assert next_message() == {"type": "message", "pattern": None, "channel": "rp",
                                  "data": "hello"}
        assert next_message() == {"type": "pmessage", "pattern": "rp*", "channel": "rp",
                                  "data": "hello"}
        p.unsubscribe()
        p.punsubscribe()
        assert next_message()["type"] == "unsubscribe"
        last = next_message()
        assert (last["type"], last["data"]) == ("punsubscribe", 0)
    finally:
        p.close()


# ----------------------------------------------------------- event loops ---

# mt_server / mt: the shared --server-threads 2 fixtures in conftest.py.


def loop_counts(client):
    v = client.info("clients")["server_thread_clients"]
    if not isinstance(v, dict):
        v = dict([v.split("=")])
    return {k: int(n) for k, n in v.items()}


def open_on_loop(srv, ctl, loop, spares, resp=2, **kw):
    """A raw connection served by event loop `loop` ('t0' / 't1').  The
    kernel picks the loop (SO_REUSEPORT hash of the 4-tuple), so connections
    are opened until one lands there; the others go to `spares` (left open so
    the per-loop counts stay exact)."""
    for _ in range(64):
        before = loop_counts(ctl)
        c = raw(srv, resp, **kw)
        assert c.cmd("PING").raw == b"+PONG\r\n"
        after = loop_counts(ctl)
        diff = {k: after[k] - before.get(k, 0) for k in after}
        if diff.get(loop) == 1 and sum(diff.values()) == 1:
            return c
        spares.append(c)
    raise AssertionError(f"no connection landed on {loop} in 64 tries")


@pytest.mark.parametrize("sub_loop,pub_loop", [("t0", "t1"), ("t1", "t0"), ("t1", "t1")])
@pytest.mark.parametrize("resp", [2, 3])
def test_delivery_across_event_loops(mt_server, mt, sub_loop, pub_loop, resp):
    spares = []
    try:
        sub = open_on_loop(mt_server, mt, sub_loop, spares, resp)
        pub = open_on_loop(mt_server, mt, pub_loop, spares)
        assert sub.cmd("SUBSCRIBE", "x").raw == wire(resp, "subscribe", "x", 1)
        assert sub.cmd("PSUBSCRIBE", "x*").raw == wire(resp, "psubscribe", "x*", 2)
        for i in range(20):
            assert pub.cmd("PUBLISH", "x", f"m{i}").raw == b":2\r\n"
        for i in range(20):
            assert sub.reply().raw == wire(resp, "message", "x", f"m{i}")
            assert sub.reply().raw == wire(resp, "pmessage", "x*", "x", f"m{i}")
        sub.close()
        wait_until(lambda: pub.cmd("PUBLISH", "x", "gone").value == 0,
                   msg="the closed subscriber to leave the registry")
        pub.close()
    finally:
        for c in spares:
            c.close()


def test_many_publishers_and_subscribers_across_loops(mt_server, mt):
    """Two publishers and two subscribers, one of each per loop, one RESP3:
    every message arrives once, in each publisher's order."""
    n = 1000
    spares = []
    try:
        subs = [open_on_loop(mt_server, mt, "t0", spares),
                open_on_loop(mt_server, mt, "t1", spares, resp=3)]
        pubs = [open_on_loop(mt_server, mt, "t1", spares),
                open_on_loop(mt_server, mt, "t0", spares)]
        for s in subs:
            s.cmd("PSUBSCRIBE", "load.*")
        errors = []

        def publish(idx):
            try:
                c = pubs[idx]
                for start in range(0, n, 100):
                    c.send(b"".join(encode("PUBLISH", f"load.{idx}", f"{idx}:{i}")
                                    for i in range(start, start + 100)))
                    assert [x.raw for x in c.replies(100)] == [b":2\r\n"] * 100
            except Exception as e:  # reported below
                errors.append(repr(e))

        ts = [threading.Thread(target=publish, args=(i,)) for i in range(2)]
        for t in ts:
            t.start()
        for s in subs:
            seen = {0: [], 1: []}
            for x in s.replies(2 * n, timeout=60):
                kind, pat, ch, data = x.py()
                assert (kind, pat) == (b"pmessage", b"load.*")
                idx, i = data.decode().split(":")
                assert ch == f"load.{idx}".encode()
                seen[int(idx)].append(int(i))
            assert seen == {0: list(range(n)), 1: list(range(n))}
        for t in ts:
            t.join(timeout=60 * SLOW)
            assert not t.is_alive()
        assert errors == []
    finally:
        for c in spares:
            c.close()


@pytest.mark.parametrize("leave", ["UNSUBSCRIBE", "PUNSUBSCRIBE", "RESET"])
def test_no_message_after_leaving_while_another_loop_publishes(mt_server, mt, leave):
    """A message published on another loop before the subscriber leaves is
    delivered before the confirmation, never after it: after the confirmation
    the very next reply is PING's."""
    spares = []
    stop = threading.Event()
    errors = []
    try:
        sub = open_on_loop(mt_server, mt, "t1", spares)
        pub = open_on_loop(mt_server, mt, "t0", spares)

        def publisher():
            deadline = time.monotonic() + 60 * SLOW
            try:
                for _ in range(20000):  # bounded in count and time
                    if stop.is_set() or time.monotonic() > deadline:
                        return
                    pub.send(encode("PUBLISH", "flow", "m") * 100)
                    pub.replies(100)
            except Exception as e:
                errors.append(repr(e))

        t = threading.Thread(target=publisher)
        t.start()
        for rounds in range(15):
            if leave == "PUNSUBSCRIBE":
                assert sub.cmd("PSUBSCRIBE", "fl*").raw == wire(2, "psubscribe", "fl*", 1)
            else:
                assert sub.cmd("SUBSCRIBE", "flow").raw == wire(2, "subscribe", "flow", 1)
            first = sub.reply()  # messages flow
            assert first.py()[0] in (b"message", b"pmessage"), first
            sub.send(encode(leave) + encode("PING"))
            confirmation = {"UNSUBSCRIBE": wire(2, "unsubscribe", "flow", 0),
                            "PUNSUBSCRIBE": wire(2, "punsubscribe", "fl*", 0),
                            "RESET": b"+RESET\r\n"}[leave]
            for _ in range(100000):
                x = sub.reply()
                if x.raw == confirmation:
                    break
                assert x.py()[0] in (b"message", b"pmessage"), x
            else:
                raise AssertionError("no confirmation")
            assert sub.reply().raw == b"+PONG\r\n", rounds
        stop.set()
        t.join(timeout=60 * SLOW)
        assert not t.is_alive()
        assert errors == []
    finally:
        stop.set()
        for c in spares:
            c.close()


def test_subscribers_come_and_go_while_publishing(mt_server, mt):
    """Subscribers on both loops subscribe and vanish (closed, killed, or
    reset) while two loops publish: the registry never delivers to a freed
    client (the ASan pass checks) and ends empty."""
    churn_end = time.monotonic() + 1.5 * SLOW
    deadline = churn_end + 10 * SLOW
    stop = threading.Event()
    errors = []
    delivered = [0, 0]

    def publisher(idx):
        try:
            with raw(mt_server) as c:
                for i in range(100000):  # ends with the churn (stop) or the deadline
                    if stop.is_set() or time.monotonic() > deadline:
                        return
                    c.send(encode("PUBLISH", "churn", "x" * 200) * 10 +
                           encode("PUBLISH", f"churn.{i % 7}", "y") * 10)
                    delivered[idx] += sum(x.value for x in c.replies(20))
        except Exception as e:
            errors.append(repr(e))

    def killer():
        try:
            with raw(mt_server) as c:
                for _ in range(200):
                    if stop.is_set() or time.monotonic() > deadline:
                        return
                    c.cmd("CLIENT", "KILL", "TYPE", "pubsub")
                    time.sleep(0.02)  # pacing, not synchronisation
        except Exception as e:
            errors.append(repr(e))

    ts = [threading.Thread(target=publisher, args=(i,)) for i in range(2)]
    ts.append(threading.Thread(target=killer))
    for t in ts:
        t.start()
    churned = 0
    try:
        for i in range(5000):
            if time.monotonic() > churn_end:
                break
            churned += 1
            try:
                c = raw(mt_server, 3 if i % 3 == 0 else 2)
                c.send(encode("SUBSCRIBE", "churn", f"churn.{i % 7}") + encode("PSUBSCRIBE", "ch*"))
                if i % 4 == 0:
                    c.reply()
                    c.send(encode("RESET"))
                elif i % 4 == 1:
                    c.replies(3)
                    c.reply()  # a message or two
                # else: close with confirmations and messages unread
                c.close()
            except (ConnectionClosed, ConnectionResetError, BrokenPipeError):
                pass  # killed by the killer thread: fine
    finally:
        stop.set()
        for t in ts:
            t.join(timeout=60 * SLOW)
    assert not any(t.is_alive() for t in ts)
    assert errors == []
    assert churned >= 50 and all(delivered), (churned, delivered)
    wait_until(lambda: numsub(mt, "churn") == ["churn", 0] and
               mt.execute_command("PUBSUB", "NUMPAT") == 0 and
               mt.execute_command("PUBSUB", "CHANNELS") == [],
               msg="the registry to be empty once every subscriber is gone")
    assert stat(mt, "pubsub_channels") == 0 and stat(mt, "pubsub_patterns") == 0
    assert mt.ping() is True


# -------------------------------------------- client-output-buffer-limit ---

MSG_BYTES = 64 * 1024
LIMIT = "pubsub 256kb 64kb 1"
CLOSE_BOUND_S = 10


def cob_server(make_server, limit, threads=1):
    s = make_server(args=["--server-threads", str(threads)]).start()
    ctl = s.client(decode_responses=True)
    assert ctl.config_set("client-output-buffer-limit", limit) is True
    return s, ctl


def slow_subscriber(s, ctl, loop=None, spares=None):
    """A subscriber on channel 'flood' that never reads (small receive
    buffer).  Returns (conn, client id)."""
    if loop:
        c = open_on_loop(s, ctl, loop, spares, rcvbuf=32 * 1024)
    else:
        c = raw(s, rcvbuf=32 * 1024)
    cid = c.cmd("CLIENT", "ID").value
    assert c.cmd("SUBSCRIBE", "flood").raw == wire(2, "subscribe", "flood", 1)
    return c, cid


def flood_until_dropped(pub, payload, max_msgs):
    """PUBLISH until nobody receives; returns how many reached a receiver."""
    for i in range(max_msgs):
        if pub.cmd("PUBLISH", "flood", payload).value == 0:
            return i
    raise AssertionError(f"subscriber still registered after {max_msgs} messages")


def assert_closed_for_limit(s, ctl, cid, before):
    assert stat(ctl, "client_output_buffer_limit_disconnections") == before + 1
    log = s.log()
    assert f"Client id={cid} " in log
    assert "scheduled to be closed ASAP for overcoming of output buffer limits" in log
    assert numsub(ctl, "flood") == ["flood", 0]
    # freeClient leaves the registry before the client list.
    wait_until(lambda: client_fields(ctl, cid) is None, msg="the client to be gone")


@pytest.mark.parametrize("threads", [1, 2])
def test_pubsub_hard_limit(make_server, threads):
    s, ctl = cob_server(make_server, "pubsub 256kb 0 0", threads)
    spares = []
    try:
        before = stat(ctl, "client_output_buffer_limit_disconnections")
        sub, cid = slow_subscriber(s, ctl, "t1" if threads == 2 else None, spares)
        pub = open_on_loop(s, ctl, "t0", spares) if threads == 2 else raw(s)
        payload = b"p" * MSG_BYTES
        sent = flood_until_dropped(pub, payload, 600)  # 600 x 64 KB at most
        # Four messages (64 KB plus framing each) are over 256 KB by
        # themselves when none has reached the socket yet (the subscriber's
        # thread had not run): not closed any earlier than that.
        assert sent >= 256 * 1024 // MSG_BYTES
        assert_closed_for_limit(s, ctl, cid, before)
        # What reached the socket is a prefix of the stream, then EOF.
        data = sub.read_until_closed(CLOSE_BOUND_S)
        stream = wire(2, "message", "flood", payload) * sent
        assert len(data) < len(stream) and stream.startswith(data)
        # Others are served; a fresh subscriber that reads gets everything.
        with raw(s) as ok:
            ok.cmd("SUBSCRIBE", "flood")
            for _ in range(8):  # 512 KB in total, read as it comes
                assert pub.cmd("PUBLISH", "flood", payload).raw == b":1\r\n"
                assert ok.reply().raw == wire(2, "message", "flood", payload)
        assert stat(ctl, "client_output_buffer_limit_disconnections") == before + 1
        pub.close()
    finally:
        for c in spares:
            c.close()
        ctl.close()


def test_pubsub_hard_and_soft_limits_as_given(make_server):
    """'pubsub 256kb 64kb 1' with a publisher that keeps sending: the hard
    limit closes the subscriber long before the soft second is up."""
    s, ctl = cob_server(make_server, LIMIT)
    before = stat(ctl, "client_output_buffer_limit_disconnections")
    sub, cid = slow_subscriber(s, ctl)
    try:
        with raw(s) as pub:
            t0 = time.monotonic()
            flood_until_dropped(pub, b"q" * MSG_BYTES, 600)
            elapsed = time.monotonic() - t0
        if not ASAN:
            assert elapsed < 1.0, f"closed after {elapsed:.2f}s: not by the hard limit"
        assert_closed_for_limit(s, ctl, cid, before)
        sub.read_until_closed(CLOSE_BOUND_S)
    finally:
        sub.close()
        ctl.close()


def test_pubsub_soft_limit(make_server):
    """Over 64 KB (but under the 256 KB hard limit) for more than 1 s:
    closed, though nothing more is published, and not before that second."""
    s, ctl = cob_server(make_server, LIMIT)
    before = stat(ctl, "client_output_buffer_limit_disconnections")
    sub, cid = slow_subscriber(s, ctl)
    try:
        with raw(s) as pub:
            payload = b"s" * (16 * 1024)
            over_since = None
            t_prev = time.monotonic()
            for _ in range(2000):  # the kernel's buffers fill first (a few MB at most)
                t = time.monotonic()
                assert pub.cmd("PUBLISH", "flood", payload).raw == b":1\r\n"
                f = wait_until(lambda: client_fields(ctl, cid), msg="CLIENT LIST entry")
                if int(f["omem"]) >= 64 * 1024:
                    # The server's clock may have started with the previous
                    # message (its count includes posts not yet in omem).
                    over_since = t_prev
                    break
                t_prev = t
            assert over_since is not None, "the subscriber's buffer never passed 64 KB"
            assert int(f["omem"]) < 256 * 1024
            wait_until(lambda: client_fields(ctl, cid) is None, timeout=CLOSE_BOUND_S,
                       interval=0.05, msg="the subscriber over the soft limit to be closed")
            elapsed = time.monotonic() - over_since
            assert elapsed > 1.0, f"closed after {elapsed:.2f}s, before soft_seconds passed"
        assert_closed_for_limit(s, ctl, cid, before)
        sub.read_until_closed(CLOSE_BOUND_S)
    finally:
        sub.close()
        ctl.close()


def test_normal_limit_does_not_apply_to_subscribers(make_server):
    """normal 64kb 32kb 1 and no pubsub limit: a subscriber holding far more
    than 64 KB for longer than a second stays; a normal client does not."""
    s, ctl = cob_server(make_server, "normal 64kb 32kb 1 pubsub 0 0 0")
    before = stat(ctl, "client_output_buffer_limit_disconnections")
    sub, cid = slow_subscriber(s, ctl)
    payload = b"n" * MSG_BYTES
    sent = 0
    try:
        with raw(s) as pub:
            for _ in range(400):
                assert pub.cmd("PUBLISH", "flood", payload).raw == b":1\r\n"
                sent += 1
                if int(client_fields(ctl, cid)["omem"]) >= 256 * 1024:
                    break
            assert int(client_fields(ctl, cid)["omem"]) >= 256 * 1024
            holds_for(lambda: client_fields(ctl, cid) is not None, 1.5,
                      "a subscriber was closed by the normal class limit")
        # Everything arrives once it reads, before the confirmation of a
        # SUBSCRIBE sent now.
        sub.send(encode("SUBSCRIBE", "flood"))
        replies = sub.replies(sent + 1, timeout=30)
        assert [x.raw for x in replies[:-1]] == [wire(2, "message", "flood", payload)] * sent
        assert replies[-1].raw == wire(2, "subscribe", "flood", 1)
        assert stat(ctl, "client_output_buffer_limit_disconnections") == before
        # The normal class limit is in force for normal clients.
        assert ctl.set("big", "v" * 100 * 1024) is True
        with raw(s, rcvbuf=32 * 1024) as flood:
            fid = flood.cmd("CLIENT", "ID").value
            flood.send(encode("GET", "big") * 100)
            wait_until(lambda: client_fields(ctl, fid) is None, timeout=CLOSE_BOUND_S,
                       msg="the normal client over the normal limit to be closed")
        assert stat(ctl, "client_output_buffer_limit_disconnections") == before + 1
    finally:
        sub.close()
        ctl.close()


def test_pubsub_limit_does_not_apply_to_normal_clients(make_server):
    """With 'pubsub 256kb 64kb 1', a normal client (one that subscribed and
    left again included) holding MBs of replies for over a second stays."""
    s, ctl = cob_server(make_server, LIMIT)
    before = stat(ctl, "client_output_buffer_limit_disconnections")
    assert ctl.set("big", "v" * 100 * 1024) is True
    with raw(s, rcvbuf=32 * 1024) as c:
        cid = c.cmd("CLIENT", "ID").value
        assert c.cmd("SUBSCRIBE", "x").raw == wire(2, "subscribe", "x", 1)
        assert c.cmd("UNSUBSCRIBE", "x").raw == wire(2, "unsubscribe", "x", 0)
        c.send(encode("GET", "big") * 100)  # 10 MB: more than the kernel's buffers
        wait_until(lambda: int(client_fields(ctl, cid)["omem"]) >= 512 * 1024,
                   msg="replies to pile up in the server")
        holds_for(lambda: client_fields(ctl, cid) is not None, 1.5,
                  "a normal client was closed by the pubsub class limit")
        replies = c.replies(100, timeout=30)
        assert all(x.value == b"v" * 100 * 1024 for x in replies)
    assert stat(ctl, "client_output_buffer_limit_disconnections") == before
    ctl.close()

"""Integration tests for keyspace notifications (server/notify.c and the
notify-keyspace-events directive): the class characters and CONFIG GET's
canonical text, the keyspace and keyevent channels, class filtering, and
the events of the string, key, hash, expiry and HyperLogLog commands.

Runs against redis-server 7.0 as well (STRATA_BIN=/usr/bin/redis-server):
the expected events are Redis's.
"""
import time

import pytest

from checks import err
from strata import SLOW, wait_until


def events(ps, n, timeout=5.0):
    """The next n (channel, data) messages of a pubsub, bounded in time."""
    out, deadline = [], time.time() + timeout * SLOW
    while len(out) < n and time.time() < deadline:
        m = ps.get_message(timeout=0.1)
        if m and m["type"] in ("message", "pmessage"):
            out.append((m["channel"], m["data"]))
    return out


@pytest.fixture
def sub(server, r):
    """A pattern subscription to every keyspace and keyevent channel of db 0;
    restores notify-keyspace-events to "" afterwards."""
    ps = r.pubsub()
    ps.psubscribe("__key*@0__:*")
    wait_until(lambda: ps.get_message(timeout=0.1) is not None, timeout=5, msg="psubscribe")
    yield ps
    ps.close()
    r.config_set("notify-keyspace-events", "")


def test_config_flags_canonical(r):
    for given, shown in [("KEA", "AKE"), ("", ""), ("Kg$", "g$K"), ("Elshz", "lshzE"),
                         ("AKEmn", "AKEm"), ("Kx", "xK")]:
        r.config_set("notify-keyspace-events", given)
        assert r.config_get("notify-keyspace-events")["notify-keyspace-events"] == shown
    msg = err(r, "CONFIG", "SET", "notify-keyspace-events", "KQ")
    assert "Invalid event class character" in msg or "argument" in msg
    assert r.config_get("notify-keyspace-events")["notify-keyspace-events"] == "xK"
    r.config_set("notify-keyspace-events", "")


def test_string_and_generic_events(r, sub):
    r.config_set("notify-keyspace-events", "KEA")
    r.set("k", "v")
    assert events(sub, 2) == [("__keyspace@0__:k", "set"), ("__keyevent@0__:set", "k")]
    r.incr("n")
    assert events(sub, 2) == [("__keyspace@0__:n", "incrby"), ("__keyevent@0__:incrby", "n")]
    r.append("k", "x")
    r.expire("k", 100)
    r.persist("k")
    r.rename("k", "k2")
    r.delete("k2", "missing")
    got = [e for e in events(sub, 12) if e[0].startswith("__keyspace")]
    assert got == [("__keyspace@0__:k", "append"), ("__keyspace@0__:k", "expire"),
                   ("__keyspace@0__:k", "persist"), ("__keyspace@0__:k", "rename_from"),
                   ("__keyspace@0__:k2", "rename_to"), ("__keyspace@0__:k2", "del")]


def test_class_filter_and_channel_choice(r, sub):
    r.config_set("notify-keyspace-events", "Kh")  # hash class, keyspace channel only
    r.set("s", "v")
    r.hset("h", "f", "1")
    r.hincrby("h", "n", 2)
    r.hdel("h", "f", "n")
    assert events(sub, 4, timeout=1) == [("__keyspace@0__:h", "hset"),
                                         ("__keyspace@0__:h", "hincrby"),
                                         ("__keyspace@0__:h", "hdel")]
    r.config_set("notify-keyspace-events", "Eg")  # generic class, keyevent channel only
    r.hset("h", "f", "1")
    r.hdel("h", "f")  # emptied: the key is deleted
    r.set("s2", "v")
    r.delete("s2")
    assert events(sub, 3, timeout=1) == [("__keyevent@0__:del", "h"),
                                         ("__keyevent@0__:del", "s2")]


def test_expired_event(r, sub):
    r.config_set("notify-keyspace-events", "Ex")
    r.set("t", "v", px=30)
    assert events(sub, 1, timeout=5) == [("__keyevent@0__:expired", "t")]


def test_pfadd_and_mset_events(r, sub):
    r.config_set("notify-keyspace-events", "E$")
    r.pfadd("hll", "a", "b")
    r.pfadd("hll", "a")  # nothing changed: no event
    r.mset({"m1": "1", "m2": "2"})
    got = events(sub, 3, timeout=2)
    assert got[0] == ("__keyevent@0__:pfadd", "hll")
    assert sorted(got[1:]) == [("__keyevent@0__:set", "m1"), ("__keyevent@0__:set", "m2")]


def test_disabled_publishes_nothing(r, sub):
    r.set("a", "1")
    r.hset("h", "f", "v")
    assert events(sub, 1, timeout=0.5) == []

"""Key expiry: EXPIRE PEXPIRE EXPIREAT PEXPIREAT (NX XX GT LT), TTL PTTL
EXPIRETIME PEXPIRETIME PERSIST, lazy expiry on access, the active expire
cycle, TTLs across restarts and stale entries of the expire index.

Waits are on conditions (the server's clock, DBSIZE, INFO counters), never
on bare sleeps.
"""
import time

import pytest

from checks import assert_error, raw_line
from conftest import SLOW, wait_until

EXPIRE_CMDS = ["EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"]
LLONG_MAX = 9223372036854775807
LLONG_MIN = -9223372036854775808


# ---------------------------------------------------------------- helpers



def server_ms(client):
    """The server's unix time in ms (TIME): expiry is judged on its clock."""
    sec, usec = client.time()
    return sec * 1000 + usec // 1000


def wait_server_past(client, at_ms, msg):
    """Waits until the server's clock is past at_ms, without touching keys."""
    wait_until(lambda: server_ms(client) > at_ms, timeout=10, interval=0.01, msg=msg)


def expired_keys(client):
    return int(client.info("stats")["expired_keys"])


@pytest.fixture
def no_active_expire(r):
    """Disables the active expire cycle so only lazy expiry removes keys."""
    assert r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0") == "OK"
    yield
    r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")


def time_arg(cmd, client, seconds):
    """The argument for cmd that sets a TTL of `seconds` from now."""
    if cmd == "EXPIRE":
        return seconds
    if cmd == "PEXPIRE":
        return seconds * 1000
    now = server_ms(client)
    return (now // 1000) + seconds if cmd == "EXPIREAT" else now + seconds * 1000


def ttl_ok(client, key, seconds):
    """TTL is `seconds` give or take the second that passes while testing."""
    return seconds - 1 <= client.ttl(key) <= seconds


# ---------------------------------------------------------------- option errors

@pytest.mark.parametrize("cmd", EXPIRE_CMDS)
def test_option_errors(server, r, cmd):
    r.set("k", "v")
    nx_msg = "NX and XX, GT or LT options at the same time are not compatible"
    gt_msg = "GT and LT options at the same time are not compatible"
    for opts in (["NX", "XX"], ["nx", "GT"], ["LT", "nx"], ["XX", "NX", "GT"]):
        assert_error(r, nx_msg, cmd, "k", "100", *opts)
    assert_error(r, gt_msg, cmd, "k", "100", "GT", "LT")
    assert_error(r, gt_msg, cmd, "k", "100", "lt", "xx", "gt")
    assert_error(r, "Unsupported option foo", cmd, "k", "100", "foo")
    assert_error(r, "Unsupported option foo", cmd, "k", "100", "NX", "foo")
    assert_error(r, "Unsupported option foo", cmd, "k", "100", "foo", "NX", "XX")
    assert raw_line(server, cmd, "k", "100", "NX", "XX") == b"-ERR " + nx_msg.encode()
    assert raw_line(server, cmd, "k", "100", "GT", "LT") == b"-ERR " + gt_msg.encode()
    assert raw_line(server, cmd, "k", "100", "bad") == b"-ERR Unsupported option bad"
    # Options are checked before the time argument and before the key.
    assert_error(r, "Unsupported option foo", cmd, "k", "abc", "foo")
    assert_error(r, nx_msg, cmd, "k", "abc", "NX", "XX")
    assert_error(r, nx_msg, cmd, "missing", "100", "NX", "XX")
    assert_error(r, "value is not an integer or out of range", cmd, "k", "abc")
    assert_error(r, "value is not an integer or out of range", cmd, "k", "1.5")
    assert_error(r, "value is not an integer or out of range", cmd, "k", "")
    assert_error(r, "value is not an integer or out of range", cmd, "k", " 10")
    assert_error(r, f"wrong number of arguments for '{cmd.lower()}' command", cmd, "k")
    assert r.ttl("k") == -1  # no failed command changed anything


# ---------------------------------------------------------------- NX XX GT LT

@pytest.mark.parametrize("cmd", EXPIRE_CMDS)
def test_nx_xx_gt_lt(r, cmd):
    def ex(seconds, *opts):
        return r.execute_command(cmd, "k", time_arg(cmd, r, seconds), *opts)

    r.set("k", "v")
    assert ex(100, "XX") == 0  # no TTL yet
    assert r.ttl("k") == -1
    assert ex(100, "GT") == 0  # no TTL counts as infinite
    assert r.ttl("k") == -1
    assert ex(100, "NX") == 1
    assert ttl_ok(r, "k", 100)
    assert ex(200, "NX") == 0
    assert ttl_ok(r, "k", 100)
    assert ex(200, "xx") == 1
    assert ttl_ok(r, "k", 200)
    assert ex(150, "GT") == 0
    assert ttl_ok(r, "k", 200)
    assert ex(300, "gt") == 1
    assert ttl_ok(r, "k", 300)
    assert ex(400, "LT") == 0
    assert ttl_ok(r, "k", 300)
    assert ex(50, "LT") == 1
    assert ttl_ok(r, "k", 50)
    assert ex(60, "XX", "GT") == 1
    assert ttl_ok(r, "k", 60)
    assert ex(40, "XX", "LT") == 1
    assert ttl_ok(r, "k", 40)
    assert r.persist("k") is True
    assert ex(100, "LT") == 1  # no TTL counts as infinite: any TTL is less
    assert ttl_ok(r, "k", 100)
    assert r.persist("k") is True
    assert ex(100, "XX", "LT") == 0
    assert r.ttl("k") == -1
    for opts in ([], ["NX"], ["XX"], ["GT"], ["LT"]):
        assert r.execute_command(cmd, "missing", time_arg(cmd, r, 100), *opts) == 0
    assert r.exists("missing") == 0


# ---------------------------------------------------------------- past times and overflow

@pytest.mark.parametrize("cmd,arg", [
    ("EXPIRE", "0"), ("EXPIRE", "-1"), ("EXPIRE", "-9223372036854775"),
    ("PEXPIRE", "0"), ("PEXPIRE", "-1"), ("PEXPIRE", str(LLONG_MIN)),
    ("EXPIREAT", "1"), ("EXPIREAT", "0"), ("EXPIREAT", "-5"),
    ("PEXPIREAT", "1"), ("PEXPIREAT", "-1"), ("PEXPIREAT", str(LLONG_MIN)),
])
def test_past_time_deletes_key(r, cmd, arg):
    r.set("k", "v")
    r.set("other", "v")
    assert r.execute_command(cmd, "k", arg) == 1
    assert r.exists("k") == 0
    assert r.get("k") is None
    assert r.ttl("k") == -2
    assert r.dbsize() == 1


def test_past_time_with_conditions(r):
    r.set("k", "v")
    assert r.execute_command("EXPIRE", "k", "-1", "XX") == 0  # no TTL: XX fails
    assert r.execute_command("EXPIRE", "k", "-1", "GT") == 0  # -1 < infinite
    assert r.exists("k") == 1
    r.expire("k", 100)
    assert r.execute_command("EXPIRE", "k", "-1", "NX") == 0
    assert r.execute_command("EXPIRE", "k", "-1", "GT") == 0
    assert r.exists("k") == 1
    assert r.execute_command("EXPIRE", "k", "-1", "LT") == 1
    assert r.exists("k") == 0
    r.set("k", "v")
    assert r.execute_command("PEXPIREAT", "k", "1", "LT") == 1
    assert r.exists("k") == 0


@pytest.mark.parametrize("cmd,arg", [
    ("EXPIRE", str(LLONG_MAX)),
    ("EXPIRE", "9223372036854775"),
    ("EXPIRE", str(LLONG_MIN)),
    ("PEXPIRE", str(LLONG_MAX)),
    ("EXPIREAT", str(LLONG_MAX)),
    ("EXPIREAT", str(LLONG_MIN)),
])
def test_overflow(server, r, cmd, arg):
    r.set("k", "v")
    assert raw_line(server, cmd, "k", arg) == f"-ERR invalid expire time in '{cmd.lower()}' command".encode()
    assert_error(r, f"invalid expire time in '{cmd.lower()}' command", cmd, "k", arg)
    assert r.get("k") == "v"
    assert r.ttl("k") == -1


def test_largest_valid_times(r):
    r.set("k", "v")
    assert r.execute_command("PEXPIREAT", "k", str(LLONG_MAX)) == 1
    assert r.pexpiretime("k") == LLONG_MAX
    assert r.expiretime("k") == 9223372036854776  # rounded, without overflow
    assert r.pttl("k") > 9 * 10**18
    assert r.execute_command("EXPIRE", "k", "9223372036854") == 1
    assert r.ttl("k") == 9223372036854
    assert r.get("k") == "v"


# ---------------------------------------------------------------- TTL family, PERSIST

def test_ttl_family_missing_and_persistent(r):
    for f in (r.ttl, r.pttl, r.expiretime, r.pexpiretime):
        assert f("missing") == -2
    r.set("p", "v")
    for f in (r.ttl, r.pttl, r.expiretime, r.pexpiretime):
        assert f("p") == -1


def test_expiretime_exact(r):
    r.set("k", "v")
    assert r.expireat("k", 4000000000) is True
    assert r.expiretime("k") == 4000000000
    assert r.pexpiretime("k") == 4000000000000
    assert r.pexpireat("k", 4000000000123) is True
    assert r.expiretime("k") == 4000000000
    assert r.pexpiretime("k") == 4000000000123
    assert r.pexpireat("k", 4000000000500) is True
    assert r.expiretime("k") == 4000000001  # rounded to the nearest second
    assert r.pexpiretime("k") == 4000000000500
    now = server_ms(r)
    assert 4000000000500 - now - 5000 <= r.pttl("k") <= 4000000000500 - now


def test_ttl_rounding(r):
    r.set("k", "v")
    r.pexpire("k", 1800)
    assert r.ttl("k") == 2  # 1.8 s: rounded to the nearest second, as Redis
    assert 1000 < r.pttl("k") <= 1800
    r.pexpire("k", 1300)
    assert r.ttl("k") == 1
    r.pexpire("k", 100000)
    assert r.ttl("k") == 100
    before = server_ms(r)
    r.expire("k", 10)
    after = server_ms(r)
    assert before + 10000 <= r.pexpiretime("k") <= after + 10000


def test_persist(r):
    assert r.persist("missing") is False
    r.set("k", "v")
    assert r.persist("k") is False
    r.expire("k", 100)
    assert r.persist("k") is True
    assert r.ttl("k") == -1
    assert r.persist("k") is False
    assert r.get("k") == "v"


def test_set_clears_ttl_unless_keepttl(r):
    r.set("k", "v")
    r.expire("k", 100)
    r.set("k", "v2")
    assert r.ttl("k") == -1
    r.expire("k", 100)
    r.set("k", "v3", keepttl=True)
    assert ttl_ok(r, "k", 100)
    assert r.get("k") == "v3"
    r.getset("k", "v4")
    assert r.ttl("k") == -1
    r.setex("k", 100, "v5")
    r.set("k", "v6", nx=False)
    assert r.ttl("k") == -1


# ---------------------------------------------------------------- lazy expiry

def test_lazy_expiry(server, r, no_active_expire):
    r.set("persistent", "1")
    names = ["get", "exists", "ttl", "type", "del", "rename", "copy", "move", "setnx", "keys", "scan"]
    at = server_ms(r) + int(150 * SLOW)  # time enough to set them all up
    for n in names:
        r.set(n, "v")
        r.pexpireat(n, at)
    base = expired_keys(r)
    wait_server_past(r, at, "the TTLs to pass")
    # Nobody touched the keys: with the active cycle off they are still
    # stored and counted, as in Redis.
    assert r.dbsize() == len(names) + 1
    assert expired_keys(r) == base
    # Each access finds the key expired, deletes it and reports it missing.
    assert r.get("get") is None
    assert r.exists("exists") == 0
    assert r.ttl("ttl") == -2
    assert r.type("type") == "none"
    assert r.delete("del") == 0
    assert_error(r, "no such key", "RENAME", "rename", "x")
    assert r.copy("copy", "x") is False
    assert r.move("move", 1) is False
    assert r.setnx("setnx", "new") is True
    assert r.get("setnx") == "new" and r.ttl("setnx") == -1
    assert r.exists("x") == 0
    assert expired_keys(r) == base + 9
    # KEYS and SCAN skip expired keys.
    assert sorted(r.keys("*")) == ["persistent", "setnx"]
    cursor, page = r.scan(0, count=1000)
    assert cursor == 0 and sorted(page) == ["persistent", "setnx"]
    assert r.randomkey() in ("persistent", "setnx")


def test_lazy_expiry_get_only(r, no_active_expire):
    r.set("k", "v", px=100)
    r.set("keep", "v", px=100000)
    at = r.pexpiretime("k")
    wait_server_past(r, at, "k's TTL to pass")
    assert r.dbsize() == 2
    assert r.get("k") is None
    assert r.dbsize() == 1
    assert r.get("keep") == "v"


def test_randomkey_all_expired(r, no_active_expire):
    for i in range(5):
        r.set(f"k{i}", "v", px=100)
    wait_server_past(r, r.pexpiretime("k4"), "TTLs to pass")
    assert r.randomkey() is None


# ---------------------------------------------------------------- active expiry

def test_active_expiry(r):
    r.mset({f"keep:{i}": i for i in range(10)})
    n = 100
    base = expired_keys(r)
    p = r.pipeline(transaction=False)
    for i in range(n):
        p.set(f"short:{i}", "v", px=500 + (i % 5) * 50)
    p.dbsize()
    assert p.execute()[-1] == n + 10
    wait_until(lambda: r.dbsize() == 10, timeout=10, msg="the active cycle to remove short-TTL keys")
    wait_until(lambda: expired_keys(r) >= base + n, timeout=5, msg="expired_keys to count them")
    assert expired_keys(r) == base + n
    assert sorted(r.keys("*")) == sorted(f"keep:{i}" for i in range(10))


def test_active_expiry_other_databases(server, r):
    c = {db: server.client(db=db, decode_responses=True) for db in (1, 7, 15)}
    for db, cl in c.items():
        cl.set("a", "v", px=100)
        cl.set("b", "v")
    wait_until(lambda: all(cl.dbsize() == 1 for cl in c.values()), timeout=10,
               msg="keys in databases 1, 7, 15 to expire")
    for cl in c.values():
        assert cl.keys("*") == ["b"]
        cl.close()


def test_active_expiry_follows_rename_move_copy(server, r):
    r1 = server.client(db=1, decode_responses=True)
    for k in ("ren", "mov", "cop"):
        r.set(k, "v", px=300)
    r.rename("ren", "ren2")
    r.move("mov", 1)
    r.copy("cop", "cop2")
    r1.copy("mov", "mov2")
    assert r.dbsize() == 3 and r1.dbsize() == 2
    wait_until(lambda: r.dbsize() == 0 and r1.dbsize() == 0, timeout=10,
               msg="renamed, moved and copied keys to expire")
    r1.close()


def test_active_expiry_after_swapdb(server, r):
    r2 = server.client(db=2, decode_responses=True)
    r.set("vol", "v", px=300)
    r.set("keep0", "v")
    r2.set("keep2", "v")
    assert r.swapdb(0, 2) is True
    assert r2.dbsize() == 2
    wait_until(lambda: r2.dbsize() == 1, timeout=10, msg="the swapped volatile key to expire")
    assert r2.keys("*") == ["keep0"]
    assert r.keys("*") == ["keep2"]
    r.swapdb(0, 2)
    r2.close()


@pytest.mark.slow
def test_active_expiry_keeps_up_with_mass_expiry(make_server):
    """Tens of thousands of keys due at once are removed in seconds, and later
    rounds, which run over the index tombstones earlier ones left, are not
    slower (restarting the index scan made each round slower than the last)."""
    s = make_server().start()
    c = s.client(decode_responses=True)
    n, took = 20000, []
    for rnd in range(3):
        p = c.pipeline(transaction=False)
        for i in range(n):
            p.set(f"r{rnd}:{i}", "v", px=200)
            if i % 2000 == 1999:
                p.execute()
        p.execute()
        t0 = time.monotonic()
        wait_until(lambda: c.dbsize() == 0, timeout=20, interval=0.05,
                   msg=f"round {rnd}: {n} keys to expire")
        took.append(time.monotonic() - t0)
    assert took[2] <= 2 * took[0] + 2, f"expiry slowed down round after round: {took}"


def test_set_active_expire_off_and_on(r, no_active_expire):
    r.set("k", "v", px=100)
    at = r.pexpiretime("k")
    wait_server_past(r, at + 300, "k's TTL to pass by a few cycles")
    assert r.dbsize() == 1  # the cycle is off
    r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
    wait_until(lambda: r.dbsize() == 0, timeout=10, msg="the cycle to remove k once re-enabled")


# ---------------------------------------------------------------- expire index staleness

def test_stale_index_entries_do_not_expire_key(r):
    """The expire index keeps entries for old TTLs; only the key's current
    TTL may remove it."""
    r.set("changed", "v")
    r.pexpire("changed", 200)
    r.pexpire("changed", 30000)
    r.pexpire("changed", 250)
    r.pexpire("changed", 1500)  # the last one wins
    final_at = r.pexpiretime("changed")
    r.set("persisted", "v", px=200)
    r.persist("persisted")
    r.set("recreated", "v", px=200)
    r.delete("recreated")
    r.set("recreated", "v2")
    r.set("overwritten", "v", px=200)
    r.set("overwritten", "v2")
    # The sentinel expires after every stale entry above is due: once the
    # cycle removed it, it has processed (and skipped) those entries.
    r.set("sentinel", "v", px=600)
    base = expired_keys(r)
    wait_until(lambda: r.dbsize() == 4, timeout=10, msg="the sentinel to expire")
    assert expired_keys(r) == base + 1
    assert r.ttl("persisted") == -1 and r.get("persisted") == "v"
    assert r.get("recreated") == "v2" and r.ttl("overwritten") == -1
    assert 0 < r.pttl("changed") <= 1500

    def gone():
        present = r.dbsize() == 4
        now = server_ms(r)
        if not present:
            assert now >= final_at, "key expired before its last TTL"
        return not present

    wait_until(gone, timeout=10, msg="'changed' to expire at its last TTL")
    assert r.exists("changed") == 0
    assert expired_keys(r) == base + 2


@pytest.mark.parametrize("flush", ["FLUSHDB", "FLUSHALL"])
def test_flush_leaves_no_live_index_entries(server, r, flush):
    """Keys recreated after a flush must not be expired by entries their
    volatile predecessors left in the expire index."""
    r3 = server.client(db=3, decode_responses=True)
    for c in (r, r3):
        c.mset({f"v:{i}": i for i in range(20)})
        for i in range(20):
            c.pexpire(f"v:{i}", 200)
    assert r3.execute_command(flush) is True
    r3.mset({f"v:{i}": "new" for i in range(20)})
    r3.set("sentinel", "v", px=500)
    wait_until(lambda: r3.dbsize() == 20, timeout=10, msg="the sentinel to expire")
    assert sorted(r3.keys("*")) == sorted(f"v:{i}" for i in range(20))
    assert r3.ttl("v:0") == -1
    # Database 0 was flushed only by FLUSHALL; otherwise its keys expire.
    wait_until(lambda: r.dbsize() == 0, timeout=10, msg="db 0's volatile keys to go")
    r3.close()


def test_ttl_changed_back_and_forth(r):
    r.set("k", "v")
    at1 = server_ms(r) + 300
    r.pexpireat("k", at1)
    r.pexpireat("k", at1 + 60000)
    r.pexpireat("k", at1)  # back to the first value
    wait_until(lambda: r.dbsize() == 0, timeout=10, msg="k to expire at its restored TTL")
    assert server_ms(r) >= at1


# ---------------------------------------------------------------- restarts

def test_ttl_survives_restart(make_server):
    s = make_server().start()
    c = s.client(decode_responses=True)
    c.set("long", "v", ex=100)
    c.set("plain", "v")
    s.stop()
    s.start()
    c = s.client(decode_responses=True)
    assert 98 <= c.ttl("long") <= 100
    assert c.ttl("plain") == -1
    assert c.get("long") == "v"


def test_key_expired_while_down_is_gone(make_server):
    s = make_server().start()
    c = s.client(decode_responses=True)
    c.set("short", "v", px=1000)
    c.set("plain", "v")
    at = c.pexpiretime("short")
    s.stop()
    # The server is down: wait on the local clock (same machine as the server).
    wait_until(lambda: time.time() * 1000 > at + 50, timeout=10,
               msg="the TTL to pass while the server is down")
    s.start()
    c = s.client(decode_responses=True)
    # The persisted expire index lets the cycle remove it without an access.
    wait_until(lambda: c.dbsize() == 1, timeout=10, msg="the key to be expired after restart")
    assert c.get("short") is None
    assert c.keys("*") == ["plain"]


def test_key_expired_while_down_lazy(make_server):
    s = make_server().start()
    c = s.client(decode_responses=True)
    c.set("short", "v", px=500)
    at = c.pexpiretime("short")
    s.stop()
    wait_until(lambda: time.time() * 1000 > at + 50, timeout=10,
               msg="the TTL to pass while the server is down")
    s.start()
    c = s.client(decode_responses=True)
    assert c.get("short") is None
    assert c.ttl("short") == -2

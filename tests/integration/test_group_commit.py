"""Group commit: pipelined commands from one read share one WriteBatch.

Commands inside a group must read their own writes, key counts and the
expire index must stay exact, contention between threads must not deadlock or
lose updates, and acknowledged pipelined writes must survive a crash."""
import socket
import threading
import time

import pytest

from strata import SLOW, wait_until


def pipeline_raw(port, payload, expect_replies, timeout=20):
    """Sends payload in one write and reads until expect_replies CRLF-ended
    top-level simple replies have arrived (enough for +/:/- replies)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout * SLOW) as s:
        s.sendall(payload)
        buf = b""
        deadline = time.monotonic() + timeout * SLOW
        while buf.count(b"\r\n") < expect_replies and time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        return buf


def resp(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def test_pipeline_reads_its_own_writes(server, r):
    payload = (resp("SET", "a", "1") + resp("INCR", "a") + resp("INCRBY", "a", "5") +
               resp("APPEND", "a", "x") + resp("STRLEN", "a") + resp("DEL", "a") +
               resp("EXISTS", "a") + resp("SETNX", "a", "z") + resp("SETNX", "a", "y"))
    out = pipeline_raw(server.port, payload, 9)
    assert out == b"+OK\r\n:2\r\n:7\r\n:2\r\n:2\r\n:1\r\n:0\r\n:1\r\n:0\r\n"
    assert r.get("a") == "z"
    assert r.dbsize() == 1


def test_pipeline_counts_and_ttls_exact(server, r):
    payload = b"".join(resp("SET", f"k{i}", i) for i in range(300))      # crosses a group flush
    payload += b"".join(resp("EXPIRE", f"k{i}", 100) for i in range(0, 300, 3))
    payload += b"".join(resp("DEL", f"k{i}") for i in range(0, 300, 2))
    payload += resp("MSET", "k1", "x", "new1", "y", "new1", "z")
    out = pipeline_raw(server.port, payload, 300 + 100 + 150 + 1)
    assert out.count(b"\r\n") == 551
    assert r.dbsize() == 150 + 1
    assert r.get("new1") == "z"
    assert r.get("k1") == "x"
    info = r.info("keyspace")["db0"]
    assert info["keys"] == 151
    # TTL'd keys that survived: multiples of 3 that are odd (3, 9, 15, ...)
    assert info["expires"] == len([i for i in range(0, 300, 3) if i % 2 == 1])
    assert r.ttl("k3") > 90 and r.ttl("k2") == -2


def test_lazy_expiry_inside_a_group(server, r):
    r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        r.set("gone", "v", px=30)
        wait_until(lambda: r.pttl("gone") in (-2, 0) or r.pttl("gone") < 0, timeout=5, msg="expiry")
        time.sleep(0.05)  # past the expire time; lazy expiry must find it due
        payload = resp("GET", "gone") + resp("SET", "gone", "again") + resp("GET", "gone")
        out = pipeline_raw(server.port, payload, 3)
        assert out == b"$-1\r\n+OK\r\n$5\r\nagain\r\n"
        assert r.dbsize() == 1
        assert r.info("keyspace")["db0"]["expires"] == 0
    finally:
        r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")


def test_pipelined_global_command_flushes_group(server, r):
    payload = (resp("SET", "x", "1") + resp("DBSIZE") + resp("FLUSHALL") + resp("GET", "x") +
               resp("SET", "y", "2") + resp("KEYS", "*"))
    out = pipeline_raw(server.port, payload, 7)
    assert out == b"+OK\r\n:1\r\n+OK\r\n$-1\r\n+OK\r\n*1\r\n$1\r\ny\r\n"


def test_contended_pipelines_on_two_threads(make_server):
    """Pipelines on both event loops INCR the same keys: trylock failures force
    group flushes; the totals must be exact and nothing may deadlock."""
    s = make_server(args=["--server-threads", "2"]).start()
    rounds, per_round, workers = 20, 200, 6
    errors = []

    def work(w):
        try:
            with socket.create_connection(("127.0.0.1", s.port), timeout=30 * SLOW) as sock:
                for _ in range(rounds):
                    payload = b"".join(resp("INCR", f"c{(i + w) % 7}") for i in range(per_round))
                    sock.sendall(payload)
                    buf = b""
                    deadline = time.monotonic() + 30 * SLOW
                    while buf.count(b"\r\n") < per_round and time.monotonic() < deadline:
                        buf += sock.recv(65536)
                    if buf.count(b"\r\n") != per_round or b"-" in buf:
                        errors.append(buf[:200])
                        return
        except Exception as e:  # reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=work, args=(w,)) for w in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120 * SLOW)
    assert not any(t.is_alive() for t in threads), "pipelines stalled (deadlock?)"
    assert errors == []
    c = s.client(decode_responses=True)
    total = sum(int(c.get(f"c{i}") or 0) for i in range(7))
    assert total == rounds * per_round * workers
    assert c.dbsize() == 7


@pytest.mark.parametrize("fsync", ["always", "everysec"])
def test_acked_pipelined_writes_survive_kill9(make_server, tmp_path, fsync):
    s = make_server(dir=str(tmp_path), args=["--appendfsync", fsync]).start()
    acked = 0
    with socket.create_connection(("127.0.0.1", s.port), timeout=30 * SLOW) as sock:
        for batch in range(20):
            payload = b"".join(resp("SET", f"p{batch}:{i}", f"{batch}:{i}") for i in range(100))
            sock.sendall(payload)
            buf = b""
            deadline = time.monotonic() + 30 * SLOW
            while buf.count(b"\r\n") < 100 and time.monotonic() < deadline:
                buf += sock.recv(65536)
            assert buf == b"+OK\r\n" * 100
            acked = batch + 1
    s.kill9()
    s.start()
    c = s.client(decode_responses=True)
    # A process crash loses nothing acknowledged in either mode: the WAL is
    # written to the OS before any reply of the group is sent.
    for batch in range(acked):
        vals = c.mget([f"p{batch}:{i}" for i in range(100)])
        assert vals == [f"{batch}:{i}" for i in range(100)]
    assert c.dbsize() == acked * 100

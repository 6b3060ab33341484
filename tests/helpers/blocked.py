"""Helpers the blocking-command tests share (lists and sorted sets): waiting
for the server to count blocked clients, opening a connection that blocks,
checking that no reply came, and finding one connection on each event loop
of a --server-threads 2 server."""
import socket
import time

import pytest

from rawresp import RawConn, encode
from strata import wait_until

QUIET_S = 0.3  # how long "no reply yet" is checked for


def blocked(r):
    return r.info("clients")["blocked_clients"]


def wait_blocked(r, n):
    wait_until(lambda: blocked(r) == n, msg=f"{n} blocked clients")


def block(port, r, *cmd, n=1, resp3=False):
    """Opens a connection that sends cmd and blocks; waits until the server
    counts n blocked clients.  Returns the connection."""
    w = RawConn(port)
    if resp3:
        assert w.cmd("HELLO", "3").type == "%"
    w.send(encode(*cmd))
    wait_blocked(r, n)
    return w


def no_reply_yet(w):
    with pytest.raises(socket.timeout):
        w.reply(timeout=QUIET_S)


def conns_on_both_threads(mt_server, mt):
    """Two connections, one on each event loop (found through INFO's
    per-loop connection counts)."""
    def counts():
        v = mt.info("clients")["server_thread_clients"]
        return v if isinstance(v, dict) else dict([v.split("=")])
    found, spare = {}, []
    for _ in range(64):
        before = counts()
        conn = RawConn(mt_server.port)
        assert conn.cmd("PING").value == b"PONG"
        after = counts()
        t = next(k for k in after if int(after[k]) > int(before.get(k, 0)))
        if t in found:
            spare.append(conn)
        else:
            found[t] = conn
        if len(found) == 2:
            break
    for conn in spare:
        conn.close()
    assert len(found) == 2, "the kernel put every connection on one loop"
    return found["t0"], found["t1"]


def keyevents(p, n, timeout_s):
    """The next n keyevent notifications on pubsub p as (event, key) pairs,
    waiting at most timeout_s."""
    got = []
    deadline = time.monotonic() + timeout_s
    while len(got) < n and time.monotonic() < deadline:
        m = p.get_message(timeout=0.2)
        if m and m["type"] == "pmessage":
            got.append((m["channel"].split(":", 1)[1], m["data"]))
    return got

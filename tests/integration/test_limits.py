"""Connection limits: proto-max-bulk-len, client-query-buffer-limit,
maxclients, client-output-buffer-limit, timeout and protected-mode.

Every limit is checked from both sides: the offending connection is closed
(or refused) with Redis 7.0's text, the counters in INFO stats move, and the
server keeps serving everybody else with the data intact.  Raw sockets
(tests/helpers/rawresp.py) where the exact bytes or a closed connection
matter."""
import re
import time

import pytest

from rawresp import RawConn, encode
from strata import SLOW, wait_until

CLOSE_BOUND_S = 5  # how long a connection the server drops may take to close


def stat(c, name, section="stats"):
    """One INFO field over a redis-py client, as an int."""
    return int(c.info(section)[name])


def client_ids(c):
    return {int(x["id"]) for x in c.client_list()}


# ------------------------------------------------------- proto-max-bulk-len ---

def test_proto_max_bulk_len(make_server):
    s = make_server(args=["--proto-max-bulk-len", "1mb"]).start()
    r = s.client(decode_responses=True)
    assert r.config_get("proto-max-bulk-len") == {"proto-max-bulk-len": "1048576"}
    assert r.set("keep", "me") is True
    # Exactly the limit is allowed.
    with RawConn(s.port) as c:
        assert c.cmd("SET", "at-limit", b"x" * (1 << 20)).raw == b"+OK\r\n"
    assert r.strlen("at-limit") == 1 << 20
    # One byte more is a protocol error: the header alone is refused.
    with RawConn(s.port) as c:
        c.send(b"*3\r\n$3\r\nSET\r\n$4\r\nover\r\n$1048577\r\n")
        assert c.read_until_closed() == b"-ERR Protocol error: invalid bulk length\r\n"
    # Also for the command name and the key.
    with RawConn(s.port) as c:
        c.send(b"*1\r\n$1048577\r\n")
        assert c.read_until_closed() == b"-ERR Protocol error: invalid bulk length\r\n"
    assert r.exists("over") == 0
    assert r.get("keep") == "me"
    # CONFIG SET applies to the next bulk header.
    assert r.config_set("proto-max-bulk-len", "2mb") is True
    with RawConn(s.port) as c:
        assert c.cmd("SET", "over", b"y" * ((1 << 20) + 1)).raw == b"+OK\r\n"
    assert r.strlen("over") == (1 << 20) + 1
    r.close()


# ------------------------------------------------ client-query-buffer-limit ---

def test_client_query_buffer_limit_closes_the_client(make_server):
    s = make_server(args=["--proto-max-bulk-len", "512mb",
                          "--client-query-buffer-limit", "1mb"]).start()
    r = s.client(decode_responses=True)
    assert r.config_get("client-query-buffer-limit") == {"client-query-buffer-limit": "1048576"}
    assert r.set("keep", "me") is True
    before = stat(r, "client_query_buffer_limit_disconnections")
    with RawConn(s.port) as c:
        # A 2 MB bulk, sent in 64 KB pieces; it never completes: the server
        # must cut the client off once it holds more than 1 MB for it.
        c.send(b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$2097152\r\n")
        sent = 0
        closed = False
        piece = b"z" * 65536
        while sent < 2 * 1024 * 1024 - 65536:
            try:
                c.send(piece)
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            sent += len(piece)
        assert sent > 1024 * 1024 or closed
        if not closed:
            assert c.read_until_closed(CLOSE_BOUND_S) == b""
    wait_until(lambda: stat(r, "client_query_buffer_limit_disconnections") == before + 1,
               timeout=5, msg="client_query_buffer_limit_disconnections to count the client")
    assert "Closing client that reached max query buffer length" in s.log()
    assert r.exists("big") == 0
    assert r.get("keep") == "me"
    # A big value below the limit still goes through.
    with RawConn(s.port) as c:
        assert c.cmd("SET", "ok", b"v" * 900000).raw == b"+OK\r\n"
    assert r.strlen("ok") == 900000
    r.close()


# --------------------------------------------------------------- maxclients ---

def test_maxclients(make_server):
    s = make_server(args=["--maxclients", "5"]).start()
    obs = RawConn(s.port)
    conns = [obs]
    try:
        # The harness's start-up PING connection may still be closing.
        def only_obs():
            info = obs.cmd("INFO", "clients").value.decode()
            return re.search(r"connected_clients:(\d+)", info).group(1) == "1"

        wait_until(only_obs, timeout=5, msg="start-up connections to go away")
        assert obs.cmd("CONFIG", "GET", "maxclients").raw == \
            b"*2\r\n$10\r\nmaxclients\r\n$1\r\n5\r\n"
        for _ in range(4):
            c = RawConn(s.port)
            conns.append(c)
            assert c.cmd("PING").raw == b"+PONG\r\n"
        rejected_before = int(re.search(rb"rejected_connections:(\d+)",
                                        obs.cmd("INFO", "stats").value).group(1))
        with RawConn(s.port) as sixth:
            # The error arrives unasked, then the connection is closed.
            assert sixth.read_until_closed(CLOSE_BOUND_S) == b"-ERR max number of clients reached\r\n"
        info = obs.cmd("INFO", "stats").value
        assert int(re.search(rb"rejected_connections:(\d+)", info).group(1)) == rejected_before + 1
        # Everybody already connected is still served.
        for c in conns:
            assert c.cmd("PING").raw == b"+PONG\r\n"
        # A slot freed is a slot usable again.
        conns.pop().close()
        def sixth_gets_in():
            c = RawConn(s.port)
            try:
                ok = c.cmd("PING").raw == b"+PONG\r\n"
            except Exception:
                c.close()
                return False
            conns.append(c)
            return ok
        wait_until(sixth_gets_in, timeout=5, msg="a freed slot to be reusable")
        # CONFIG SET maxclients applies to new connections.
        assert obs.cmd("CONFIG", "SET", "maxclients", "6").raw == b"+OK\r\n"
        c = RawConn(s.port)
        conns.append(c)
        assert c.cmd("PING").raw == b"+PONG\r\n"
    finally:
        for c in conns:
            c.close()


# ----------------------------------------------- client-output-buffer-limit ---

VALUE_BYTES = 100 * 1024


def flood_gets(port, n):
    """A connection with a small receive buffer that pipelines n GETs of
    the 100 KB value `big` and never reads.  Returns (conn, its client id)."""
    c = RawConn(port, rcvbuf=32 * 1024)
    cid = c.cmd("CLIENT", "ID").value
    c.send(encode("GET", "big") * n)
    return c, cid


def cob_server(make_server, limit):
    s = make_server().start()
    r = s.client(decode_responses=True)
    assert r.config_set("client-output-buffer-limit", limit) is True
    assert r.set("big", "v" * VALUE_BYTES) is True
    return s, r


def test_output_buffer_hard_limit(make_server):
    s, r = cob_server(make_server, "normal 1mb 0 0")
    assert r.config_get("client-output-buffer-limit")["client-output-buffer-limit"] == \
        "normal 1048576 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
    before = stat(r, "client_output_buffer_limit_disconnections")
    c, cid = flood_gets(s.port, 200)  # 20 MB of replies
    try:
        wait_until(lambda: cid not in client_ids(r), timeout=CLOSE_BOUND_S,
                   msg="the client over the hard limit to be closed")
        assert stat(r, "client_output_buffer_limit_disconnections") == before + 1
        assert f"Client id={cid} " in s.log()
        assert "scheduled to be closed ASAP for overcoming of output buffer limits" in s.log()
        # What reached the socket before the close is a prefix of the replies.
        data = c.read_until_closed(CLOSE_BOUND_S)
        replies = b"$%d\r\n%s\r\n" % (VALUE_BYTES, b"v" * VALUE_BYTES) * 200
        assert len(data) < len(replies) and replies.startswith(data)
    finally:
        c.close()
    # Other clients and the data are fine.
    assert r.strlen("big") == VALUE_BYTES
    with RawConn(s.port) as ok:
        ok.send(encode("GET", "big") * 5)  # 500 KB at once: under the limit
        assert all(x.value == b"v" * VALUE_BYTES for x in ok.replies(5))
    r.close()


def test_output_buffer_hard_limit_spares_readers(make_server):
    """A client under the hard limit (it reads its replies) is not closed."""
    s, r = cob_server(make_server, "normal 1mb 0 0")
    before = stat(r, "client_output_buffer_limit_disconnections")
    with RawConn(s.port) as c:
        for _ in range(30):  # 3 MB in total, never more than one reply pending
            assert c.cmd("GET", "big").value == b"v" * VALUE_BYTES
    assert stat(r, "client_output_buffer_limit_disconnections") == before
    r.close()


def test_output_buffer_soft_limit(make_server):
    """Over the soft limit (512 KB) for more than its seconds (1): closed,
    but not before that second has passed.  No hard limit here."""
    s, r = cob_server(make_server, "normal 0 512kb 1")
    before = stat(r, "client_output_buffer_limit_disconnections")
    t0 = time.monotonic()
    c, cid = flood_gets(s.port, 100)  # 10 MB: far more than socket buffers hold
    try:
        wait_until(lambda: cid not in client_ids(r), timeout=CLOSE_BOUND_S,
                   interval=0.05, msg="the client over the soft limit to be closed")
        elapsed = time.monotonic() - t0
        assert elapsed > 1.0, f"closed after {elapsed:.2f}s, before soft_seconds passed"
        assert stat(r, "client_output_buffer_limit_disconnections") == before + 1
        assert f"Client id={cid} " in s.log()
    finally:
        c.close()
    assert r.ping() is True
    r.close()


def test_output_buffer_soft_limit_bursts_are_forgiven(make_server):
    """Going over the soft limit and draining below it again within the
    seconds allowed does not close the client, however long it lives: the
    soft-limit clock restarts after every drain.  Each burst is one reply
    of 600 KB, over the 512 KB soft limit by itself."""
    s, r = cob_server(make_server, "normal 0 512kb 1")
    assert r.set("huge", "h" * 600 * 1024) is True
    before = stat(r, "client_output_buffer_limit_disconnections")
    with RawConn(s.port) as c:
        for burst in range(3):
            assert c.cmd("GET", "huge").value == b"h" * 600 * 1024, burst
            if burst < 2:
                assert c.is_open_for(1.2)  # longer than the soft seconds
        c.send(encode("GET", "big") * 10)  # 1 MB pending at once
        assert all(x.value == b"v" * VALUE_BYTES for x in c.replies(10))
        assert c.cmd("PING").raw == b"+PONG\r\n"
    assert stat(r, "client_output_buffer_limit_disconnections") == before
    r.close()


def test_output_buffer_limit_as_given(make_server):
    """The limits of the brief together: 'normal 1mb 512kb 1'."""
    s, r = cob_server(make_server, "normal 1mb 512kb 1")
    before = stat(r, "client_output_buffer_limit_disconnections")
    c, cid = flood_gets(s.port, 100)
    try:
        wait_until(lambda: cid not in client_ids(r), timeout=CLOSE_BOUND_S,
                   msg="the flooding client to be closed")
        assert stat(r, "client_output_buffer_limit_disconnections") == before + 1
    finally:
        c.close()
    assert r.get("big") == "v" * VALUE_BYTES
    r.close()


def test_output_buffer_limit_pubsub_class_config_only(server, r):
    """The pubsub class as configuration: parsed, stored, shown and validated
    (enforcement is tested in test_pubsub.py)."""
    default = "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
    try:
        assert r.config_get("client-output-buffer-limit")["client-output-buffer-limit"] == default
        assert r.config_set("client-output-buffer-limit", "pubsub 1mb 512kb 10") is True
        assert r.config_get("client-output-buffer-limit")["client-output-buffer-limit"] == \
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 524288 10"
        # Several classes at once; 'replica' is shown as 'slave'.
        assert r.config_set("client-output-buffer-limit",
                            "normal 1mb 512kb 1 replica 1gb 512mb 30 PUBSUB 2mb 1mb 5") is True
        assert r.config_get("client-output-buffer-limit")["client-output-buffer-limit"] == \
            "normal 1048576 524288 1 slave 1073741824 536870912 30 pubsub 2097152 1048576 5"
        prefix = ("CONFIG SET failed (possibly related to argument 'client-output-buffer-limit')"
                  " - ")
        for bad, why in [
            ("foo 1mb 512kb 10", "Invalid client class specified in buffer limit configuration."),
            ("pubsub 1mb 512kb", "Wrong number of arguments in buffer limit configuration."),
            ("pubsub x 512kb 10",
             "Error in hard, soft or soft_seconds setting in buffer limit configuration."),
            ("pubsub 1mb 512kb -1",
             "Error in hard, soft or soft_seconds setting in buffer limit configuration."),
        ]:
            with pytest.raises(Exception) as e:
                r.config_set("client-output-buffer-limit", bad)
            assert str(e.value) == prefix + why, bad
        # A failed CONFIG SET changes nothing.
        assert r.config_get("client-output-buffer-limit")["client-output-buffer-limit"] == \
            "normal 1048576 524288 1 slave 1073741824 536870912 30 pubsub 2097152 1048576 5"
    finally:
        r.config_set("client-output-buffer-limit", default)


# ------------------------------------------------------------------ timeout ---

def test_timeout_closes_idle_clients_only(make_server):
    s = make_server(args=["--timeout", "1"]).start()
    assert s.client(decode_responses=True).config_get("timeout") == {"timeout": "1"}
    idle = RawConn(s.port)
    active = RawConn(s.port)
    monitor = RawConn(s.port)
    try:
        assert idle.cmd("PING").raw == b"+PONG\r\n"
        assert monitor.cmd("MONITOR").raw == b"+OK\r\n"
        t0 = time.monotonic()
        # The active client pings every 0.2 s; the pause doubles as the check
        # that the idle one is still open.  Bounded by CLOSE_BOUND_S.
        while idle.is_open_for(0.2):
            assert active.cmd("PING").raw == b"+PONG\r\n"
            assert time.monotonic() - t0 < 1 + CLOSE_BOUND_S * SLOW, "idle client never closed"
        elapsed = time.monotonic() - t0
        assert elapsed >= 0.9, f"idle client closed after {elapsed:.2f}s (timeout 1)"
        # The active client outlives the timeout by a margin.
        t1 = time.monotonic()
        while time.monotonic() - t1 < 1.5:
            assert active.is_open_for(0.2)
            assert active.cmd("PING").raw == b"+PONG\r\n"
        # MONITOR clients are exempt, as in Redis.
        monitor.buf = b""
        assert monitor.is_open_for(0.1)
        with RawConn(s.port) as c:
            ids = {l.split(" ")[0] for l in c.cmd("CLIENT", "LIST").value.decode().split("\n") if l}
            assert len(ids) == 3  # c, active, monitor
    finally:
        for c in (idle, active, monitor):
            c.close()


def test_timeout_counts_replies_being_written_as_activity(make_server):
    """A client draining a long reply is not idle: as in Redis, every write
    to it is an interaction.  The reader takes 256 KB every 0.05 s of a
    16 MB reply for 2.5 s, past the 1 s timeout, then the rest at full
    speed: the whole reply must arrive.  (The reply is far larger than the
    socket buffers, so the server keeps writing during the slow phase.)"""
    size = 16 << 20
    s = make_server(args=["--timeout", "1"]).start()
    r = s.client(decode_responses=True)
    assert r.set("big", "b" * size) is True
    r.close()
    c = RawConn(s.port, rcvbuf=256 * 1024)
    try:
        c.send(encode("GET", "big"))
        expected = len(b"$%d\r\n" % size) + size + 2
        got = slow_got = 0
        t0 = time.monotonic()
        c.sock.settimeout(5 * SLOW)
        while got < expected:
            slow = time.monotonic() - t0 < 2.5
            if slow:
                time.sleep(0.05)  # pacing a slow reader, not synchronisation
            chunk = c.sock.recv(256 * 1024)
            assert chunk, f"closed after {time.monotonic() - t0:.2f}s having read {got} bytes"
            got += len(chunk)
            if slow:
                slow_got = got
        assert time.monotonic() - t0 > 2.4
        assert slow_got < expected, "the reply was read before the timeout could matter"
        assert c.cmd("PING").raw == b"+PONG\r\n"
    finally:
        c.close()


def test_timeout_zero_never_closes(server, r):
    assert r.config_get("timeout") == {"timeout": "0"}
    with RawConn(server.port) as c:
        assert c.cmd("PING").raw == b"+PONG\r\n"
        assert c.is_open_for(1.2)
        assert c.cmd("PING").raw == b"+PONG\r\n"


def test_timeout_config_set_applies_to_existing_clients(make_server):
    s = make_server().start()
    r = s.client(decode_responses=True)
    with RawConn(s.port) as c:
        assert c.cmd("PING").raw == b"+PONG\r\n"
        assert r.config_set("timeout", "1") is True
        t0 = time.monotonic()
        assert c.read_until_closed(1 + CLOSE_BOUND_S) == b""
        assert time.monotonic() - t0 >= 0.5
    r.close()


# ----------------------------------------------------------- protected-mode ---

def test_protected_mode_accepts_loopback_without_password(make_server):
    """protected-mode yes (the default) and no password: loopback clients are
    served.  The refusing branch (non-loopback peer) cannot be reached while
    every test talks to 127.0.0.1; server/networking.c keeps the decision in
    the pure protectedModeRefuses() for a unit test."""
    s = make_server(args=["--protected-mode", "yes"]).start()
    r = s.client(decode_responses=True)
    assert r.config_get("protected-mode") == {"protected-mode": "yes"}
    assert r.config_get("requirepass") == {"requirepass": ""}
    before = stat(r, "rejected_connections")
    with RawConn(s.port) as c:
        assert c.cmd("PING").raw == b"+PONG\r\n"
        assert c.cmd("SET", "k", "v").raw == b"+OK\r\n"
    assert stat(r, "rejected_connections") == before
    # Switching it off and on at run time keeps loopback clients working.
    assert r.config_set("protected-mode", "no") is True
    with RawConn(s.port) as c:
        assert c.cmd("GET", "k").raw == b"$1\r\nv\r\n"
    assert r.config_set("protected-mode", "yes") is True
    with RawConn(s.port) as c:
        assert c.cmd("GET", "k").raw == b"$1\r\nv\r\n"
    r.close()


def test_protected_mode_with_password(make_server):
    s = make_server(args=["--protected-mode", "yes", "--requirepass", "pw"]).start(wait=False)
    wait_until(lambda: s.client(password="pw", socket_timeout=1).ping(), timeout=15,
               msg=f"server to answer; log:\n{s.log()}")
    with RawConn(s.port) as c:
        assert c.cmd("PING").raw == b"-NOAUTH Authentication required.\r\n"
        assert c.cmd("AUTH", "pw").raw == b"+OK\r\n"
        assert c.cmd("PING").raw == b"+PONG\r\n"

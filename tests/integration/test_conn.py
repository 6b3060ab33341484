"""Connection commands: PING ECHO QUIT RESET SELECT AUTH HELLO CLIENT MONITOR
TIME, and requirepass.

Expected replies and error texts are Redis 7.0.15's, checked against a real
redis-server.  Raw sockets (tests/helpers/rawresp.py) where the exact bytes
or a closed connection matter."""
import re
import time

import pytest
import redis

from rawresp import RawConn, encode
from strata import wait_until

PASSWORD = "s3cret"
NOAUTH = b"-NOAUTH Authentication required.\r\n"
WRONGPASS = b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
HELLO_NOAUTH = (b"-NOAUTH HELLO must be called with the client already authenticated, otherwise "
                b"the HELLO AUTH <user> <pass> option can be used to authenticate the client and "
                b"select the RESP protocol version at the same time\r\n")
CLIENT_LIST_FIELDS = ["id", "addr", "laddr", "fd", "name", "age", "idle", "flags", "db", "sub",
                      "psub", "ssub", "multi", "qbuf", "qbuf-free", "argv-mem", "multi-mem", "rbs",
                      "rbp", "obl", "oll", "omem", "tot-mem", "events", "cmd", "user", "redir",
                      "resp"]


@pytest.fixture
def conn(server, r):
    c = RawConn(server.port)
    yield c
    c.close()


@pytest.fixture(scope="module")
def pw_server():
    """A server with requirepass, shared by the AUTH tests."""
    from strata import StrataServer
    s = StrataServer(args=["--requirepass", PASSWORD])
    s.start(wait=False)
    wait_until(lambda: s.client(password=PASSWORD, socket_timeout=1).ping(), timeout=15,
               msg=f"password server to answer; log:\n{s.log()}")
    yield s
    s.stop()
    s.cleanup()


def parse_client_line(line):
    """One CLIENT LIST / CLIENT INFO line -> list of (field, value)."""
    if isinstance(line, bytes):
        line = line.decode()
    pairs = []
    for tok in line.strip("\n").split(" "):
        k, _, v = tok.partition("=")
        pairs.append((k, v))
    return pairs


def client_list(c, *args):
    """CLIENT LIST over a RawConn -> {id: {field: value}}."""
    rep = c.cmd("CLIENT", "LIST", *args)
    assert rep.type == "$", rep
    out = {}
    for line in rep.value.decode().split("\n"):
        if line:
            d = dict(parse_client_line(line))
            out[int(d["id"])] = d
    return out


# ------------------------------------------------------------ PING / ECHO ---

def test_ping(conn):
    assert conn.cmd("PING").raw == b"+PONG\r\n"
    assert conn.cmd("ping", "hello world").raw == b"$11\r\nhello world\r\n"
    assert conn.cmd("PING", "").raw == b"$0\r\n\r\n"
    assert conn.cmd("PING", "a", "b").raw == b"-ERR wrong number of arguments for 'ping' command\r\n"
    conn.cmd("HELLO", "3")
    assert conn.cmd("PING").raw == b"+PONG\r\n"


def test_echo(conn):
    assert conn.cmd("ECHO", "x").raw == b"$1\r\nx\r\n"
    assert conn.cmd("ECHO", b"\x00\r\n\xff").raw == b"$4\r\n\x00\r\n\xff\r\n"
    assert conn.cmd("ECHO", "").raw == b"$0\r\n\r\n"
    assert conn.cmd("ECHO").raw == b"-ERR wrong number of arguments for 'echo' command\r\n"
    assert conn.cmd("ECHO", "a", "b").raw == b"-ERR wrong number of arguments for 'echo' command\r\n"


# --------------------------------------------------------------------- QUIT ---

def test_quit_replies_ok_and_closes(server, r):
    with RawConn(server.port) as c:
        # Commands pipelined after QUIT are not run.
        c.send(encode("SET", "before", "1") + encode("QUIT") + encode("SET", "after", "1"))
        assert c.read_until_closed() == b"+OK\r\n+OK\r\n"
    assert r.get("before") == "1"
    assert r.exists("after") == 0


def test_quit_ignores_arguments(server):
    with RawConn(server.port) as c:
        c.send(encode("QUIT", "x"))
        assert c.read_until_closed() == b"+OK\r\n"


# -------------------------------------------------------------------- RESET ---

def test_reset_restores_connection_state(conn):
    assert conn.cmd("SELECT", "3").raw == b"+OK\r\n"
    assert conn.cmd("SET", "in3", "x").raw == b"+OK\r\n"
    assert conn.cmd("CLIENT", "SETNAME", "named").raw == b"+OK\r\n"
    assert conn.cmd("HELLO", "3").type == "%"
    assert conn.cmd("CLIENT", "NO-EVICT", "on").raw == b"+OK\r\n"
    assert conn.cmd("RESET").raw == b"+RESET\r\n"
    # db 0 again, name cleared, RESP2 again; NO-EVICT stays (as in Redis 7.0).
    assert conn.cmd("GET", "in3").raw == b"$-1\r\n"
    assert conn.cmd("CLIENT", "GETNAME").raw == b"$-1\r\n"
    info = dict(parse_client_line(conn.cmd("CLIENT", "INFO").value))
    assert (info["db"], info["name"], info["resp"], info["flags"]) == ("0", "", "2", "e")
    assert conn.cmd("SELECT", "3").raw == b"+OK\r\n"
    assert conn.cmd("GET", "in3").raw == b"$1\r\nx\r\n"


def test_reset_turns_replies_back_on(conn):
    conn.send(encode("CLIENT", "REPLY", "OFF") + encode("PING") + encode("RESET") + encode("PING"))
    assert [x.raw for x in conn.replies(2)] == [b"+RESET\r\n", b"+PONG\r\n"]


def test_reset_arity(conn):
    assert conn.cmd("RESET", "x").raw == b"-ERR wrong number of arguments for 'reset' command\r\n"


# ------------------------------------------------------------------- SELECT ---

def test_select(conn, r):
    assert conn.cmd("SELECT", "1").raw == b"+OK\r\n"
    assert conn.cmd("SET", "k", "db1").raw == b"+OK\r\n"
    assert conn.cmd("SELECT", "15").raw == b"+OK\r\n"
    assert conn.cmd("GET", "k").raw == b"$-1\r\n"
    assert conn.cmd("SELECT", "1").raw == b"+OK\r\n"
    assert conn.cmd("GET", "k").raw == b"$3\r\ndb1\r\n"
    assert r.get("k") is None
    assert conn.cmd("SELECT", "16").raw == b"-ERR DB index is out of range\r\n"
    assert conn.cmd("SELECT", "-1").raw == b"-ERR DB index is out of range\r\n"
    assert conn.cmd("SELECT", "x").raw == b"-ERR value is not an integer or out of range\r\n"
    assert conn.cmd("SELECT").raw == b"-ERR wrong number of arguments for 'select' command\r\n"
    # A failed SELECT keeps the current db.
    assert conn.cmd("GET", "k").raw == b"$3\r\ndb1\r\n"


# --------------------------------------------------------------------- AUTH ---

def test_auth_without_password_configured(conn):
    assert conn.cmd("AUTH", "x").raw == (
        b"-ERR AUTH <password> called without any password configured for the default user. "
        b"Are you sure your configuration is correct?\r\n")
    # The default user has nopass: any password works for it, no other user exists.
    assert conn.cmd("AUTH", "default", "anything").raw == b"+OK\r\n"
    assert conn.cmd("AUTH", "bob", "x").raw == WRONGPASS
    assert conn.cmd("AUTH", "a", "b", "c").raw == b"-ERR syntax error\r\n"
    assert conn.cmd("AUTH").raw == b"-ERR wrong number of arguments for 'auth' command\r\n"
    assert conn.cmd("HELLO", "3", "AUTH", "default", "x").type == "%"
    assert conn.cmd("HELLO", "3", "AUTH", "bob", "x").raw == WRONGPASS


def test_requirepass_noauth_before_auth(pw_server):
    with RawConn(pw_server.port) as c:
        for args in (("PING",), ("GET", "k"), ("SET", "k", "v"), ("CLIENT", "ID"),
                     ("SELECT", "1"), ("ECHO", "x"), ("CONFIG", "GET", "maxclients")):
            assert c.cmd(*args).raw == NOAUTH, args
        # Unknown commands and arity errors are reported before NOAUTH.
        assert c.cmd("FOO").raw == b"-ERR unknown command 'FOO', with args beginning with: \r\n"
        assert c.cmd("GET").raw == b"-ERR wrong number of arguments for 'get' command\r\n"
        # The connection stays open and can still authenticate.
        assert c.cmd("AUTH", PASSWORD).raw == b"+OK\r\n"
        assert c.cmd("PING").raw == b"+PONG\r\n"


def test_requirepass_auth_forms(pw_server):
    with RawConn(pw_server.port) as c:
        assert c.cmd("AUTH", "wrong").raw == WRONGPASS
        assert c.cmd("AUTH", "default", "wrong").raw == WRONGPASS
        assert c.cmd("AUTH", "bob", PASSWORD).raw == WRONGPASS
        assert c.cmd("AUTH", PASSWORD + "x").raw == WRONGPASS
        assert c.cmd("AUTH", PASSWORD[:-1]).raw == WRONGPASS
        assert c.cmd("AUTH", "").raw == WRONGPASS
        assert c.cmd("PING").raw == NOAUTH
        assert c.cmd("AUTH", "default", PASSWORD).raw == b"+OK\r\n"
        assert c.cmd("SET", "k", "v").raw == b"+OK\r\n"
        # A later wrong AUTH does not log an authenticated client out.
        assert c.cmd("AUTH", "wrong").raw == WRONGPASS
        assert c.cmd("GET", "k").raw == b"$1\r\nv\r\n"
    with RawConn(pw_server.port) as c:
        assert c.cmd("AUTH", PASSWORD).raw == b"+OK\r\n"
        assert c.cmd("GET", "k").raw == b"$1\r\nv\r\n"


def test_requirepass_hello(pw_server):
    with RawConn(pw_server.port) as c:
        assert c.cmd("HELLO", "3").raw == HELLO_NOAUTH
        assert c.cmd("HELLO").raw == HELLO_NOAUTH
        # The protocol version is checked before authentication.
        assert c.cmd("HELLO", "4").raw == b"-NOPROTO unsupported protocol version\r\n"
        assert c.cmd("HELLO", "3", "AUTH", "default", "wrong").raw == WRONGPASS
        assert c.cmd("HELLO", "3", "AUTH", "bob", PASSWORD).raw == WRONGPASS
        assert c.cmd("PING").raw == NOAUTH
        rep = c.cmd("HELLO", "3", "AUTH", "default", PASSWORD)
        assert rep.type == "%" and rep.py()[b"proto"] == 3
        assert c.cmd("PING").raw == b"+PONG\r\n"
        assert c.cmd("GET", "missing").raw == b"_\r\n"
    with RawConn(pw_server.port) as c:
        rep = c.cmd("HELLO", "2", "AUTH", "default", PASSWORD, "SETNAME", "cn")
        assert rep.type == "*"
        assert c.cmd("CLIENT", "GETNAME").raw == b"$2\r\ncn\r\n"
    with RawConn(pw_server.port) as c:
        # A wrong password leaves the name unset too.
        assert c.cmd("HELLO", "2", "AUTH", "default", "no", "SETNAME", "cn").raw == WRONGPASS
        assert c.cmd("AUTH", PASSWORD).raw == b"+OK\r\n"
        assert c.cmd("CLIENT", "GETNAME").raw == b"$-1\r\n"


def test_requirepass_reset_logs_out(pw_server):
    with RawConn(pw_server.port) as c:
        assert c.cmd("AUTH", PASSWORD).raw == b"+OK\r\n"
        assert c.cmd("RESET").raw == b"+RESET\r\n"
        assert c.cmd("PING").raw == NOAUTH


def test_requirepass_quit_works_unauthenticated(pw_server):
    with RawConn(pw_server.port) as c:
        c.send(encode("QUIT"))
        assert c.read_until_closed() == b"+OK\r\n"


def test_requirepass_redis_py(pw_server):
    c = pw_server.client(decode_responses=True)
    with pytest.raises(redis.AuthenticationError):
        c.ping()
    c.close()
    c = pw_server.client(password=PASSWORD, decode_responses=True)
    assert c.ping() is True
    c.close()
    c = pw_server.client(username="default", password=PASSWORD, decode_responses=True)
    assert c.ping() is True
    c.close()
    with pytest.raises(redis.ResponseError, match="^WRONGPASS invalid username-password pair"):
        pw_server.client(password="nope").ping()


# ------------------------------------------------------ CLIENT ID / names ---

def test_client_id(server, conn):
    cid = conn.cmd("CLIENT", "ID")
    assert cid.type == ":" and cid.value > 0
    assert conn.cmd("HELLO", "3").py()[b"id"] == cid.value
    with RawConn(server.port) as other:
        assert other.cmd("CLIENT", "ID").value > cid.value
    assert conn.cmd("CLIENT", "ID").value == cid.value
    assert conn.cmd("CLIENT", "ID", "x").raw == \
        b"-ERR wrong number of arguments for 'client|id' command\r\n"


def test_client_setname_getname(conn):
    assert conn.cmd("CLIENT", "GETNAME").raw == b"$-1\r\n"
    assert conn.cmd("CLIENT", "SETNAME", "ok-name_1.x").raw == b"+OK\r\n"
    assert conn.cmd("CLIENT", "GETNAME").raw == b"$11\r\nok-name_1.x\r\n"
    assert conn.cmd("CLIENT", "SETNAME", "!~").raw == b"+OK\r\n"
    # An empty name clears it.
    assert conn.cmd("CLIENT", "SETNAME", "").raw == b"+OK\r\n"
    assert conn.cmd("CLIENT", "GETNAME").raw == b"$-1\r\n"


@pytest.mark.parametrize("name", ["a b", "a\nb", "tab\there", "\xe9", "x\x00", "\x7f"])
def test_client_setname_invalid(conn, name):
    assert conn.cmd("CLIENT", "SETNAME", "keep").raw == b"+OK\r\n"
    assert conn.cmd("CLIENT", "SETNAME", name).raw == \
        b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
    assert conn.cmd("CLIENT", "GETNAME").raw == b"$4\r\nkeep\r\n"


def test_client_name_arity(conn):
    assert conn.cmd("CLIENT", "SETNAME").raw == \
        b"-ERR wrong number of arguments for 'client|setname' command\r\n"
    assert conn.cmd("CLIENT", "SETNAME", "a", "b").raw == \
        b"-ERR wrong number of arguments for 'client|setname' command\r\n"
    assert conn.cmd("CLIENT", "GETNAME", "x").raw == \
        b"-ERR wrong number of arguments for 'client|getname' command\r\n"


def test_hello_setname(conn):
    assert conn.cmd("HELLO", "2", "SETNAME", "via-hello").type == "*"
    assert conn.cmd("CLIENT", "GETNAME").raw == b"$9\r\nvia-hello\r\n"
    assert conn.cmd("HELLO", "2", "SETNAME", "bad name").raw == \
        b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
    assert conn.cmd("CLIENT", "GETNAME").raw == b"$9\r\nvia-hello\r\n"


# -------------------------------------------------------------- CLIENT LIST ---

def test_client_list_fields(server, conn):
    cid = conn.cmd("CLIENT", "ID").value
    conn.cmd("CLIENT", "SETNAME", "lister")
    conn.cmd("SELECT", "4")
    rep = conn.cmd("CLIENT", "LIST")
    lines = [l for l in rep.value.decode().split("\n") if l]
    assert rep.value.endswith(b"\n")
    mine = [l for l in lines if l.startswith(f"id={cid} ")]
    assert len(mine) == 1
    pairs = parse_client_line(mine[0])
    assert [k for k, _ in pairs] == CLIENT_LIST_FIELDS
    d = dict(pairs)
    assert d["addr"] == conn.local_addr()
    assert d["laddr"] == f"127.0.0.1:{server.port}"
    assert d["name"] == "lister"
    assert d["db"] == "4"
    assert d["flags"] == "N"
    assert d["cmd"] == "client|list"
    assert d["user"] == "default"
    assert d["resp"] == "2"
    assert int(d["fd"]) > 0 and int(d["age"]) >= 0 and int(d["idle"]) >= 0
    assert (d["sub"], d["psub"], d["ssub"], d["multi"]) == ("0", "0", "0", "-1")


def test_client_list_shows_other_clients(server, conn):
    with RawConn(server.port) as other:
        oid = other.cmd("CLIENT", "ID").value
        other.cmd("HELLO", "3")
        other.cmd("SET", "k", "v")
        d = client_list(conn)[oid]
        assert d["addr"] == other.local_addr()
        assert d["cmd"] == "set"
        assert d["resp"] == "3"
        assert d["name"] == ""
        assert d["flags"] == "N"
    wait_until(lambda: oid not in client_list(conn), timeout=5, msg="closed client to leave the list")


def test_client_list_type_filter(server, conn):
    cid = conn.cmd("CLIENT", "ID").value
    assert cid in client_list(conn, "TYPE", "normal")
    assert cid in client_list(conn, "type", "NORMAL")
    for t in ("master", "replica", "slave", "pubsub"):
        assert conn.cmd("CLIENT", "LIST", "TYPE", t).raw == b"$0\r\n\r\n", t
    assert conn.cmd("CLIENT", "LIST", "TYPE", "foo").raw == b"-ERR Unknown client type 'foo'\r\n"
    assert conn.cmd("CLIENT", "LIST", "TYPE", "normal", "x").raw == b"-ERR syntax error\r\n"
    assert conn.cmd("CLIENT", "LIST", "foo").raw == b"-ERR syntax error\r\n"


def test_client_list_id_filter(server, conn):
    cid = conn.cmd("CLIENT", "ID").value
    with RawConn(server.port) as a, RawConn(server.port) as b:
        aid = a.cmd("CLIENT", "ID").value
        bid = b.cmd("CLIENT", "ID").value
        assert set(client_list(conn, "ID", aid)) == {aid}
        assert set(client_list(conn, "ID", aid, bid, 999999999)) == {aid, bid}
        assert set(client_list(conn, "id", cid, bid)) == {cid, bid}
    assert conn.cmd("CLIENT", "LIST", "ID", "999999999").raw == b"$0\r\n\r\n"
    # Any integer is accepted (zero and negatives match nothing).
    assert conn.cmd("CLIENT", "LIST", "ID", "0").raw == b"$0\r\n\r\n"
    assert conn.cmd("CLIENT", "LIST", "ID", "-1").raw == b"$0\r\n\r\n"
    assert conn.cmd("CLIENT", "LIST", "ID", "abc").raw == b"-ERR Invalid client ID\r\n"
    assert conn.cmd("CLIENT", "LIST", "ID", str(cid), "x").raw == b"-ERR Invalid client ID\r\n"
    assert conn.cmd("CLIENT", "LIST", "ID").raw == b"-ERR syntax error\r\n"


def test_client_info(conn):
    cid = conn.cmd("CLIENT", "ID").value
    conn.cmd("CLIENT", "SETNAME", "me")
    rep = conn.cmd("CLIENT", "INFO")
    assert rep.type == "$" and rep.value.endswith(b"\n") and rep.value.count(b"\n") == 1
    pairs = parse_client_line(rep.value)
    assert [k for k, _ in pairs] == CLIENT_LIST_FIELDS
    d = dict(pairs)
    assert (d["id"], d["name"], d["cmd"], d["addr"]) == (str(cid), "me", "client|info",
                                                         conn.local_addr())
    assert conn.cmd("CLIENT", "INFO", "x").raw == \
        b"-ERR wrong number of arguments for 'client|info' command\r\n"


# -------------------------------------------------------------- CLIENT KILL ---

def test_client_kill_old_form(server, conn):
    with RawConn(server.port) as victim:
        addr = victim.local_addr()
        assert victim.cmd("PING").raw == b"+PONG\r\n"
        assert conn.cmd("CLIENT", "KILL", addr).raw == b"+OK\r\n"
        assert victim.read_until_closed() == b""
    assert conn.cmd("CLIENT", "KILL", "1.2.3.4:5").raw == b"-ERR No such client\r\n"
    assert conn.cmd("CLIENT", "KILL", addr).raw == b"-ERR No such client\r\n"


def test_client_kill_old_form_can_kill_self(server):
    with RawConn(server.port) as c:
        c.send(encode("CLIENT", "KILL", c.local_addr()))
        assert c.read_until_closed() == b"+OK\r\n"


def test_client_kill_by_id_and_addr(server, conn):
    with RawConn(server.port) as v1, RawConn(server.port) as v2, RawConn(server.port) as bystander:
        id1 = v1.cmd("CLIENT", "ID").value
        assert conn.cmd("CLIENT", "KILL", "ID", id1).raw == b":1\r\n"
        assert v1.read_until_closed() == b""
        assert conn.cmd("CLIENT", "KILL", "ID", id1).raw == b":0\r\n"
        assert conn.cmd("CLIENT", "KILL", "ADDR", v2.local_addr()).raw == b":1\r\n"
        assert v2.read_until_closed() == b""
        assert conn.cmd("CLIENT", "KILL", "ADDR", "1.2.3.4:5").raw == b":0\r\n"
        assert conn.cmd("CLIENT", "KILL", "LADDR", "1.2.3.4:5").raw == b":0\r\n"
        # Filters combine with AND.
        bid = bystander.cmd("CLIENT", "ID").value
        assert conn.cmd("CLIENT", "KILL", "ID", bid, "ADDR", "1.2.3.4:5").raw == b":0\r\n"
        assert bystander.cmd("PING").raw == b"+PONG\r\n"
        assert conn.cmd("CLIENT", "KILL", "ID", bid, "TYPE", "normal",
                        "LADDR", f"127.0.0.1:{server.port}").raw == b":1\r\n"
        assert bystander.read_until_closed() == b""
    assert conn.cmd("PING").raw == b"+PONG\r\n"


def test_client_kill_skipme(server):
    with RawConn(server.port) as c:
        me = c.local_addr()
        assert c.cmd("CLIENT", "KILL", "ADDR", me).raw == b":0\r\n"
        assert c.cmd("CLIENT", "KILL", "ADDR", me, "SKIPME", "yes").raw == b":0\r\n"
        assert c.cmd("PING").raw == b"+PONG\r\n"
        c.send(encode("CLIENT", "KILL", "ADDR", me, "SKIPME", "no") + encode("PING"))
        assert c.read_until_closed() == b":1\r\n"


def test_client_kill_type_and_user(server, conn):
    with RawConn(server.port) as a, RawConn(server.port) as b:
        a.cmd("PING")
        b.cmd("PING")
        assert conn.cmd("CLIENT", "KILL", "TYPE", "master").raw == b":0\r\n"
        assert conn.cmd("CLIENT", "KILL", "TYPE", "pubsub").raw == b":0\r\n"
        assert conn.cmd("CLIENT", "KILL", "USER", "bob").raw == b"-ERR No such user 'bob'\r\n"
        # Every other default-user client, here a, b and the fixtures' client.
        n = conn.cmd("CLIENT", "KILL", "USER", "default").value
        assert n >= 2
        assert a.read_until_closed() == b""
        assert b.read_until_closed() == b""
    assert conn.cmd("PING").raw == b"+PONG\r\n"


@pytest.mark.parametrize("args,err", [
    (("ID", "abc"), b"-ERR client-id should be greater than 0\r\n"),
    (("ID", "0"), b"-ERR client-id should be greater than 0\r\n"),
    (("ID", "-5"), b"-ERR client-id should be greater than 0\r\n"),
    (("TYPE", "foo"), b"-ERR Unknown client type 'foo'\r\n"),
    (("FOO", "bar"), b"-ERR syntax error\r\n"),
    (("MAXAGE", "100"), b"-ERR syntax error\r\n"),
    (("ADDR", "1.2.3.4:5", "SKIPME", "maybe"), b"-ERR syntax error\r\n"),
    (("a", "b", "c"), b"-ERR syntax error\r\n"),
    ((), b"-ERR wrong number of arguments for 'client|kill' command\r\n"),
])
def test_client_kill_errors(conn, args, err):
    assert conn.cmd("CLIENT", "KILL", *args).raw == err


def test_client_kill_across_server_threads(make_server):
    s = make_server(args=["--server-threads", "2"]).start()
    victims = [RawConn(s.port) for _ in range(8)]
    try:
        ids = [v.cmd("CLIENT", "ID").value for v in victims]
        with RawConn(s.port) as killer:
            for vid in ids:
                assert killer.cmd("CLIENT", "KILL", "ID", vid).raw == b":1\r\n"
            for v in victims:
                assert v.read_until_closed() == b""
            assert set(client_list(killer)) & set(ids) == set()
            assert killer.cmd("PING").raw == b"+PONG\r\n"
    finally:
        for v in victims:
            v.close()


# ------------------------------------------------ CLIENT REPLY / NO-EVICT ---

def test_client_reply_off_on(conn):
    conn.send(encode("CLIENT", "REPLY", "OFF") + encode("SET", "k", "v") + encode("PING")
              + encode("CLIENT", "REPLY", "ON") + encode("GET", "k"))
    assert [x.raw for x in conn.replies(2)] == [b"+OK\r\n", b"$1\r\nv\r\n"]


def test_client_reply_skip(conn):
    conn.send(encode("CLIENT", "REPLY", "SKIP") + encode("PING", "a") + encode("PING", "b"))
    assert conn.reply().raw == b"$1\r\nb\r\n"
    # Two SKIPs in a row skip only the command after the second.
    conn.send(encode("CLIENT", "REPLY", "SKIP") + encode("CLIENT", "REPLY", "SKIP")
              + encode("PING", "a") + encode("PING", "b"))
    assert conn.reply().raw == b"$1\r\nb\r\n"
    # SKIP while OFF changes nothing.
    conn.send(encode("CLIENT", "REPLY", "OFF") + encode("CLIENT", "REPLY", "SKIP")
              + encode("PING") + encode("CLIENT", "REPLY", "ON") + encode("PING", "on"))
    assert [x.raw for x in conn.replies(2)] == [b"+OK\r\n", b"$2\r\non\r\n"]
    # Errors are skipped too.
    conn.send(encode("CLIENT", "REPLY", "SKIP") + encode("GET") + encode("PING"))
    assert conn.reply().raw == b"+PONG\r\n"


def test_client_reply_errors(conn):
    assert conn.cmd("CLIENT", "REPLY", "foo").raw == b"-ERR syntax error\r\n"
    assert conn.cmd("CLIENT", "REPLY").raw == \
        b"-ERR wrong number of arguments for 'client|reply' command\r\n"


def test_client_no_evict(conn):
    assert conn.cmd("CLIENT", "NO-EVICT", "on").raw == b"+OK\r\n"
    assert dict(parse_client_line(conn.cmd("CLIENT", "INFO").value))["flags"] == "e"
    assert conn.cmd("CLIENT", "NO-EVICT", "OFF").raw == b"+OK\r\n"
    assert dict(parse_client_line(conn.cmd("CLIENT", "INFO").value))["flags"] == "N"
    assert conn.cmd("CLIENT", "NO-EVICT", "maybe").raw == b"-ERR syntax error\r\n"
    assert conn.cmd("CLIENT", "NO-EVICT").raw == \
        b"-ERR wrong number of arguments for 'client|no-evict' command\r\n"


def test_client_help_and_unknown_subcommand(conn):
    rep = conn.cmd("CLIENT", "HELP")
    assert rep.type == "*"
    assert all(e.type == "+" for e in rep.value)
    lines = [e.value.decode() for e in rep.value]
    assert lines[0] == "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    assert lines[-2:] == ["HELP", "    Print this help."]
    for sub in ("GETNAME", "ID", "INFO", "KILL <ip:port>", "SETNAME <name>"):
        assert sub in lines, sub
    for prefix in ("LIST", "NO-EVICT", "REPLY"):
        assert any(l.startswith(prefix + " ") for l in lines), prefix
    assert conn.cmd("client", "help").raw == rep.raw
    assert conn.cmd("CLIENT", "HELP", "x").raw == \
        b"-ERR wrong number of arguments for 'client|help' command\r\n"
    assert conn.cmd("CLIENT", "foo").raw == b"-ERR unknown subcommand 'foo'. Try CLIENT HELP.\r\n"
    assert conn.cmd("CLIENT").raw == b"-ERR wrong number of arguments for 'client' command\r\n"


# ------------------------------------------------------------------ MONITOR ---

MONITOR_LINE = re.compile(rb"^\+(\d+)\.(\d{6}) \[(\d+) ([^\]]+)\] (.*)$")


def monitor_lines(m, n):
    """The next n MONITOR lines as (db, addr, args-part) tuples."""
    out = []
    for _ in range(n):
        rep = m.reply()
        assert rep.type == "+", rep
        mt = MONITOR_LINE.match(rep.raw.rstrip(b"\r\n"))
        assert mt, rep.raw
        assert abs(int(mt.group(1)) - time.time()) < 60
        out.append((int(mt.group(3)), mt.group(4).decode(), mt.group(5)))
    return out


def test_monitor_shows_other_connections(server, conn):
    with RawConn(server.port) as m, RawConn(server.port) as c:
        assert m.cmd("MONITOR").raw == b"+OK\r\n"
        c.cmd("SET", "k", "plain value")
        c.cmd("SET", "bin", b'a\x07\x08"\\ \xff\x01\n\r\t')
        c.cmd("GET", "k")
        c.cmd("CONFIG", "GET", "maxclients")   # admin commands are not shown
        c.cmd("PING")
        lines = monitor_lines(m, 4)
        addr = c.local_addr()
        assert lines == [
            (0, addr, b'"SET" "k" "plain value"'),
            (0, addr, b'"SET" "bin" "a\\a\\b\\"\\\\ \\xff\\x01\\n\\r\\t"'),
            (0, addr, b'"GET" "k"'),
            (0, addr, b'"PING"'),
        ]
        # The monitor's own commands show up too, as in Redis.
        assert m.cmd("PING").raw == b"+PONG\r\n"
        assert monitor_lines(m, 1) == [(0, m.local_addr(), b'"PING"')]
        # MONITOR shows in CLIENT LIST; RESET leaves monitor mode.
        flags = [d["flags"] for d in client_list(conn).values() if d["addr"] == m.local_addr()]
        assert flags == ["O"]
        assert monitor_lines(m, 1) == [(0, conn.local_addr(), b'"CLIENT" "LIST"')]
        m.send(encode("RESET"))
        assert m.reply().raw == b"+RESET\r\n"
        c.cmd("SET", "after", "reset")
        assert m.cmd("PING").raw == b"+PONG\r\n"  # no monitor line in between
        assert m.buf == b""


def test_monitor_lines_for_another_db(server, conn):
    with RawConn(server.port) as m, RawConn(server.port) as c:
        assert m.cmd("MONITOR").raw == b"+OK\r\n"
        c.cmd("SELECT", "5")
        c.cmd("SET", "k", "v")
        c.cmd("SELECT", "0")
        lines = monitor_lines(m, 3)
        # Fed after each command runs, as Redis does: SELECT shows its new db.
        assert [(db, args) for db, _, args in lines] == [(5, b'"SELECT" "5"'),
                                                          (5, b'"SET" "k" "v"'),
                                                          (0, b'"SELECT" "0"')]


def test_monitor_redis_order_and_redaction(server):
    with RawConn(server.port) as m, RawConn(server.port) as c:
        assert m.cmd("MONITOR").raw == b"+OK\r\n"
        c.cmd("SELECT", "5")
        c.cmd("AUTH", "default", "x")
        c.cmd("SELECT", "0")
        c.cmd("ECHO", "end")
        lines = []
        while not lines or lines[-1][1] != b'"ECHO" "end"':
            lines.append([(db, args) for db, _, args in monitor_lines(m, 1)][0])
        assert lines == [(5, b'"SELECT" "5"'), (5, b'"AUTH" "(redacted)" "(redacted)"'),
                         (0, b'"SELECT" "0"'), (0, b'"ECHO" "end"')]


def thread_clients(c):
    """{'t0': n, 't1': m} from INFO clients (connections per event loop)."""
    info = c.cmd("INFO", "clients").value.decode()
    v = re.search(r"server_thread_clients:(\S+)", info).group(1)
    return {k: int(n) for k, n in (p.split("=") for p in v.split(","))}


def test_monitor_sees_commands_from_every_server_thread(make_server):
    """A monitor on one event loop gets the commands of clients on the other
    loop: connections are opened (bounded) until some land on each loop."""
    s = make_server(args=["--server-threads", "2"]).start()
    obs = RawConn(s.port)
    conns = []
    try:
        before = thread_clients(obs)
        m = RawConn(s.port)
        conns.append(m)
        wait_until(lambda: sum(thread_clients(obs).values()) == sum(before.values()) + 1,
                   timeout=5, msg="monitor connection accepted")
        after = thread_clients(obs)
        mon_loop = [t for t in after if after[t] == before[t] + 1][0]
        assert m.cmd("MONITOR").raw == b"+OK\r\n"
        loops = {}
        for i in range(64):
            prev = thread_clients(obs)
            c = RawConn(s.port)
            conns.append(c)
            assert c.cmd("PING").raw == b"+PONG\r\n"
            now = thread_clients(obs)
            loop = [t for t in now if now[t] == prev[t] + 1][0]
            loops.setdefault(loop, []).append(c)
            if len(loops) == 2 and all(len(v) >= 2 for v in loops.values()):
                break
        assert len(loops) == 2, "the kernel put every connection on one event loop"
        other = [t for t in loops if t != mon_loop][0]
        senders = loops[other][:2] + loops[mon_loop][:2]
        # Skip what was monitored so far (PINGs, INFOs) up to a marker.
        assert obs.cmd("ECHO", "marker").raw == b"$6\r\nmarker\r\n"
        for _ in range(200):
            if monitor_lines(m, 1)[0][2] == b'"ECHO" "marker"':
                break
        else:
            raise AssertionError("marker not seen on the monitor")
        for i, c in enumerate(senders):
            assert c.cmd("SET", f"from:{i}", str(i)).raw == b"+OK\r\n"
        got = sorted(args for _, _, args in monitor_lines(m, len(senders)))
        assert got == sorted(b'"SET" "from:%d" "%d"' % (i, i) for i in range(len(senders)))
    finally:
        for c in conns:
            c.close()
        obs.close()


# --------------------------------------------------------------------- TIME ---

def test_time(conn):
    rep = conn.cmd("TIME")
    assert rep.type == "*" and [e.type for e in rep.value] == ["$", "$"]
    sec, usec = (int(e.value) for e in rep.value)
    assert abs(sec + usec / 1e6 - time.time()) < 5
    assert 0 <= usec < 1000000
    assert conn.cmd("TIME", "x").raw == b"-ERR wrong number of arguments for 'time' command\r\n"


def test_monitor_connection_cannot_touch_keyspace(server):
    # Redis treats a MONITOR connection as a replica: key commands are refused,
    # others (PING) still work.
    with RawConn(server.port) as m:
        assert m.cmd("MONITOR").raw == b"+OK\r\n"
        assert m.cmd("GET", "x").raw == b"-ERR Replica can't interact with the keyspace\r\n"
        assert m.cmd("SET", "x", "1").raw == b"-ERR Replica can't interact with the keyspace\r\n"
        assert m.cmd("PING").raw == b"+PONG\r\n"

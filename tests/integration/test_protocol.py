"""The wire protocol: inline commands, RESP3 (HELLO 3) reply types,
pipelining, requests split at any byte, protocol errors and the generic
command errors (unknown command, wrong arity).

Raw sockets throughout (tests/helpers/rawresp.py): redis-py hides the bytes
and, in 4.3, cannot speak RESP3.  Expected bytes and error texts are Redis
7.0.15's, checked against a real redis-server."""
import re

import pytest
import redis

from rawresp import RawConn, encode
from strata import wait_until


@pytest.fixture
def conn(server, r):
    """A raw connection to the module's server (r flushed the data)."""
    c = RawConn(server.port)
    yield c
    c.close()


def raw_roundtrip(server, data, nreplies):
    """Sends data on a fresh connection, returns the first nreplies replies."""
    with RawConn(server.port) as c:
        c.send(data)
        return c.replies(nreplies)


def assert_protocol_error(server, data, expected, before=()):
    """data must produce the replies in `before`, then exactly -<expected>,
    then the server closes the connection."""
    with RawConn(server.port) as c:
        c.send(data)
        for b in before:
            assert c.reply().raw == b
        rest = c.read_until_closed()
        assert rest == b"-" + expected.encode() + b"\r\n"


# ------------------------------------------------------------------ inline ---

def test_inline_plain_and_quoted(conn):
    conn.send(b'SET k "hello world"\r\nGET k\r\n')
    assert [x.raw for x in conn.replies(2)] == [b"+OK\r\n", b"$11\r\nhello world\r\n"]


def test_inline_double_quote_escapes(conn):
    # \n \r \t \a \b, \xHH, \" and \\ are understood inside double quotes;
    # an invalid \x sequence is taken literally (the backslash dropped).
    conn.send(b'SET k "a\\nb\\r\\t\\a\\b\\x41\\x7e\\"\\\\"\r\nGET k\r\n')
    assert conn.reply().raw == b"+OK\r\n"
    assert conn.reply().value == b'a\nb\r\t\a\bA~"\\'
    conn.send(b'SET k "\\xzz\\q"\r\nGET k\r\n')
    assert conn.reply().raw == b"+OK\r\n"
    assert conn.reply().value == b"xzzq"


def test_inline_single_quotes(conn):
    # Only \' is an escape inside single quotes.
    conn.send(b"SET k 'it\\'s \\n \"x\"'\r\nGET k\r\n")
    assert conn.reply().raw == b"+OK\r\n"
    assert conn.reply().value == b"it's \\n \"x\""


def test_inline_empty_quoted_arguments_and_whitespace(conn):
    conn.send(b'SET "" ""\r\nGET ""\r\n  \t PING   hi  \r\nping\n')
    assert [x.raw for x in conn.replies(4)] == [b"+OK\r\n", b"$0\r\n\r\n", b"$2\r\nhi\r\n",
                                                b"+PONG\r\n"]


@pytest.mark.parametrize("line", [
    b'SET k "abc\r\n',          # unterminated double quote
    b"SET k 'abc\r\n",          # unterminated single quote
    b'SET k "abc"x\r\n',        # closing quote not followed by a space
    b"SET k 'abc'x\r\n",
])
def test_inline_unbalanced_quotes_closes_connection(server, r, line):
    assert_protocol_error(server, b"PING\r\n" + line,
                          "ERR Protocol error: unbalanced quotes in request",
                          before=[b"+PONG\r\n"])
    assert r.exists("k") == 0
    assert r.ping()


def test_empty_lines_and_empty_multibulks_are_ignored(conn):
    conn.send(b"\r\n\r\n\n\nPING\r\n   \r\n*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n\r\n\r\nECHO x\r\n")
    assert [x.raw for x in conn.replies(3)] == [b"+PONG\r\n", b"+PONG\r\n", b"$1\r\nx\r\n"]
    # Nothing else was answered.
    conn.send(b"PING\r\n")
    assert conn.reply().raw == b"+PONG\r\n"
    assert conn.buf == b""


def test_too_big_inline_request(server):
    assert_protocol_error(server, b"x" * 70000, "ERR Protocol error: too big inline request")


# ------------------------------------------------------------------- RESP3 ---

HELLO_KEYS = [b"server", b"version", b"proto", b"id", b"mode", b"role", b"modules"]


def test_hello3_is_a_map(conn):
    cid = conn.cmd("CLIENT", "ID").value
    rep = conn.cmd("HELLO", "3")
    assert rep.type == "%"
    assert [k.raw for k, _ in rep.value] == [b"$%d\r\n%s\r\n" % (len(k), k) for k in HELLO_KEYS]
    d = rep.py()
    assert d == {b"server": b"redis", b"version": b"7.0.15", b"proto": 3, b"id": cid,
                 b"mode": b"standalone", b"role": b"master", b"modules": []}
    assert [v.type for _, v in rep.value] == ["$", "$", ":", ":", "$", "$", "*"]


def test_hello_without_version_and_hello2_are_flat_arrays(conn):
    for args in (("HELLO",), ("HELLO", "2")):
        rep = conn.cmd(*args)
        assert rep.type == "*" and len(rep.value) == 14
        flat = rep.py()
        assert flat[0::2] == HELLO_KEYS
        assert flat[flat.index(b"proto") + 1] == 2


def test_hello3_then_hello2_switches_back(conn):
    conn.cmd("HELLO", "3")
    assert conn.cmd("GET", "missing").raw == b"_\r\n"
    assert conn.cmd("HELLO", "2").type == "*"
    assert conn.cmd("GET", "missing").raw == b"$-1\r\n"
    assert conn.cmd("CONFIG", "GET", "maxclients").raw == b"*2\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n"


def test_hello_errors(conn):
    assert conn.cmd("HELLO", "4").raw == b"-NOPROTO unsupported protocol version\r\n"
    assert conn.cmd("HELLO", "1").raw == b"-NOPROTO unsupported protocol version\r\n"
    assert conn.cmd("HELLO", "x").raw == b"-ERR Protocol version is not an integer or out of range\r\n"
    assert conn.cmd("HELLO", "3", "foo").raw == b"-ERR Syntax error in HELLO option 'foo'\r\n"
    assert conn.cmd("HELLO", "3", "AUTH", "a").raw == b"-ERR Syntax error in HELLO option 'AUTH'\r\n"
    # A failed HELLO leaves the protocol alone.
    assert conn.cmd("GET", "missing").raw == b"$-1\r\n"


def test_resp3_config_get_is_a_map(conn):
    conn.cmd("HELLO", "3")
    rep = conn.cmd("CONFIG", "GET", "maxclients")
    assert rep.raw == b"%1\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n"
    rep = conn.cmd("CONFIG", "GET", "maxmemory*")
    assert rep.type == "%"
    d = rep.py()
    assert d[b"maxmemory"] == b"0" and d[b"maxmemory-policy"] == b"noeviction"
    assert len(d) == len(rep.value)
    assert conn.cmd("CONFIG", "GET", "no-such-directive").raw == b"%0\r\n"


def test_resp3_nulls(conn):
    conn.cmd("HELLO", "3")
    conn.cmd("SET", "a", "1")
    assert conn.cmd("GET", "missing").raw == b"_\r\n"
    assert conn.cmd("MGET", "a", "missing").raw == b"*2\r\n$1\r\n1\r\n_\r\n"
    assert conn.cmd("CLIENT", "GETNAME").raw == b"_\r\n"
    assert conn.cmd("COMMAND", "INFO", "no-such-command").raw == b"*1\r\n_\r\n"


def test_resp3_verbatim_strings(conn):
    conn.cmd("HELLO", "3")
    for args in (("INFO", "server"), ("CLIENT", "LIST"), ("CLIENT", "INFO")):
        rep = conn.cmd(*args)
        assert rep.type == "=", args
        fmt, text = rep.value
        assert fmt == b"txt"
        # The length header counts "txt:" plus the payload.
        header = rep.raw.split(b"\r\n", 1)[0]
        assert header == b"=%d" % (len(text) + 4)
    info = conn.cmd("INFO", "server").value[1]
    assert info.startswith(b"# Server\r\nredis_version:7.0.15\r\n")
    line = conn.cmd("CLIENT", "INFO").value[1]
    assert line.endswith(b" resp=3\n")
    # RESP2 sends the same texts as plain bulk strings.
    conn.cmd("HELLO", "2")
    rep = conn.cmd("CLIENT", "INFO")
    assert rep.type == "$" and rep.value.endswith(b" resp=2\n")


def test_resp3_sets_doubles_and_booleans(conn):
    """Sets appear in COMMAND INFO.  No command Strata has today replies
    with a RESP3 double or boolean in Redis 7.0 either: INCRBYFLOAT stays a
    bulk string, integer-answer commands stay integers."""
    conn.cmd("HELLO", "3")
    rep = conn.cmd("COMMAND", "INFO", "get")
    assert rep.type == "*"
    info = rep.value[0].value
    assert info[2].type == "~" and sorted(info[2].py()) == [b"fast", b"readonly"]
    assert conn.cmd("SET", "f", "1.5").raw == b"+OK\r\n"
    assert conn.cmd("INCRBYFLOAT", "f", "1").raw == b"$3\r\n2.5\r\n"
    assert conn.cmd("EXISTS", "f").raw == b":1\r\n"
    assert conn.cmd("SETNX", "f", "x").raw == b":0\r\n"


@pytest.mark.skipif(tuple(int(x) for x in redis.__version__.split(".")[:1]) < (5,),
                    reason="redis-py < 5 has no RESP3 support (raw sockets cover RESP3)")
def test_redis_py_protocol_3(server, r):
    c = server.client(protocol=3, decode_responses=True)
    try:
        assert c.set("k", "v") is True
        assert c.get("k") == "v"
        assert c.get("missing") is None
        assert c.config_get("maxclients") == {"maxclients": "10000"}
    finally:
        c.close()


# -------------------------------------------------------------- pipelining ---

def test_pipeline_10000_commands_in_one_write(server, r):
    n = 10000
    parts = []
    expected = []
    for i in range(n // 4):
        parts.append(encode("SET", f"k:{i}", f"v:{i}"))
        expected.append(b"+OK\r\n")
        parts.append(encode("GET", f"k:{i}"))
        expected.append(b"$%d\r\nv:%d\r\n" % (len(f"v:{i}"), i))
        parts.append(encode("INCR", "counter"))
        expected.append(b":%d\r\n" % (i + 1))
        parts.append(f"ECHO e{i}\r\n".encode())  # inline commands mixed in
        expected.append(b"$%d\r\ne%d\r\n" % (len(f"e{i}"), i))
    data = b"".join(parts)
    with RawConn(server.port, timeout=60) as c:
        c.send(data)
        got = c.replies(n, timeout=60)
    for i, (rep, exp) in enumerate(zip(got, expected)):
        assert rep.raw == exp, f"reply {i}"
    assert r.get("counter") == str(n // 4)
    assert r.dbsize() == n // 4 + 1


# The representative buffer: multibulk and inline commands, an empty line, an
# empty multibulk, a binary value with CR LF inside, an empty argument.
SPLIT_PIECES = [
    (encode("SET", "sk", "a\r\nb"), b"+OK\r\n"),
    (b"PING\r\n", b"+PONG\r\n"),
    (encode("GET", "sk"), b"$4\r\na\r\nb\r\n"),
    (b"\r\n*0\r\n", None),  # ignored: no reply
    (encode("ECHO", ""), b"$0\r\n\r\n"),
    (b'ECHO "q x"\r\n', b"$3\r\nq x\r\n"),
    (encode("APPEND", "sk", "zz"), b":6\r\n"),
    (b"*1\r\n$4\r\nPING\r\n", b"+PONG\r\n"),
]
SPLIT_BUF = b"".join(p for p, _ in SPLIT_PIECES)
SPLIT_REPLIES = [rep for _, rep in SPLIT_PIECES if rep is not None]


def _reply_ends():
    """Offsets just after each command of SPLIT_BUF that gets a reply."""
    ends, pos = [], 0
    for piece, rep in SPLIT_PIECES:
        pos += len(piece)
        if rep is not None:
            ends.append(pos)
    return ends


def test_pipeline_split_at_every_byte(server, r):
    """For each split point the first part goes out in one write after a
    PING; the PING's reply proves the server has read the first part before
    the rest is sent."""
    ends = _reply_ends()
    assert len(SPLIT_BUF) < 200  # bounds the number of rounds
    with RawConn(server.port) as c:
        for k in range(1, len(SPLIT_BUF)):
            assert c.cmd("DEL", "sk").type == ":"
            complete = sum(1 for e in ends if e <= k)
            c.send(b"PING\r\n" + SPLIT_BUF[:k])
            got = c.replies(1 + complete)
            assert got[0].raw == b"+PONG\r\n", k
            c.send(SPLIT_BUF[k:])
            got += c.replies(len(SPLIT_REPLIES) - complete)
            assert [g.raw for g in got[1:]] == SPLIT_REPLIES, f"split at byte {k}"


def _net_input_bytes(obs):
    info = obs.cmd("INFO", "stats").value
    return int(re.search(rb"total_net_input_bytes:(\d+)", info).group(1))


def test_big_argument_split_at_sampled_bytes(server, r):
    """A value above the parser's big-argument size (32 KB), split around
    its header, inside its payload and around its trailing CR LF.  Another
    connection watches total_net_input_bytes to know the server has read
    the first part before the rest is sent."""
    value = bytes(range(256)) * 160  # 40 KB, every byte value
    cmd = encode("SET", "big", value)
    buf = cmd + encode("STRLEN", "big")
    head = len(cmd) - len(value) - 2  # offset of the payload
    points = sorted(set(list(range(1, 30)) + list(range(head - 3, head + 3))
                        + list(range(head + 1000, head + len(value), 8191))
                        + list(range(head + len(value) - 2, head + len(value) + 5))))
    assert len(points) < 60
    info_len = len(encode("INFO", "stats"))
    with RawConn(server.port) as c, RawConn(server.port) as obs:
        for k in points:
            base = _net_input_bytes(obs)
            c.send(buf[:k])
            polls = [0]

            def first_part_read():
                polls[0] += 1
                return _net_input_bytes(obs) - polls[0] * info_len - base >= k

            wait_until(first_part_read, timeout=10, msg=f"server to read {k} bytes")
            c.send(buf[k:])
            got = c.replies(2)
            assert [g.raw for g in got] == [b"+OK\r\n", b":40960\r\n"], f"split at byte {k}"
        assert c.cmd("GET", "big").value == value


# ---------------------------------------------------------- protocol errors ---

@pytest.mark.parametrize("data,before,expected", [
    (b"*abc\r\n", [], "ERR Protocol error: invalid multibulk length"),
    (b"*\r\n", [], "ERR Protocol error: invalid multibulk length"),
    (b"*+1\r\n$4\r\nPING\r\n", [], "ERR Protocol error: invalid multibulk length"),
    (b"*2147483648\r\n", [], "ERR Protocol error: invalid multibulk length"),
    (b"PING\r\n*x\r\n", [b"+PONG\r\n"], "ERR Protocol error: invalid multibulk length"),
    (b"*1\r\n$x\r\n", [], "ERR Protocol error: invalid bulk length"),
    (b"*1\r\n$-1\r\n", [], "ERR Protocol error: invalid bulk length"),
    (b"*1\r\n$\r\n", [], "ERR Protocol error: invalid bulk length"),
    (b"*1\r\n$01\r\nP\r\n", [], "ERR Protocol error: invalid bulk length"),
    (b"*1\r\n$4000000000\r\n", [], "ERR Protocol error: invalid bulk length"),
    (b"*1\r\n$536870913\r\n", [], "ERR Protocol error: invalid bulk length"),
    (b"*1\r\nPING\r\n", [], "ERR Protocol error: expected '$', got 'P'"),
    (b"*1\r\n:1\r\n", [], "ERR Protocol error: expected '$', got ':'"),
    (b"*2\r\n$4\r\nECHO\r\n*1\r\n", [], "ERR Protocol error: expected '$', got '*'"),
    (b"*1\r\n\r\n", [], "ERR Protocol error: expected '$', got ' '"),
    (b"*" + b"1" * 70000, [], "ERR Protocol error: too big mbulk count string"),
    (b"*1\r\n$" + b"1" * 70000, [], "ERR Protocol error: too big bulk count string"),
])
def test_protocol_errors_close_the_connection(server, r, data, before, expected):
    other = RawConn(server.port)
    try:
        assert other.cmd("SET", "survivor", "1").raw == b"+OK\r\n"
        assert_protocol_error(server, data, expected, before)
        # The server keeps serving connections old and new.
        assert other.cmd("GET", "survivor").raw == b"$1\r\n1\r\n"
        assert r.ping()
    finally:
        other.close()


def test_protocol_error_after_pipelined_commands(server, r):
    """Commands before the bad bytes run and are answered; nothing after."""
    data = encode("SET", "a", "1") + encode("INCR", "a") + b"*1\r\n$-5\r\n" + encode("INCR", "a")
    assert_protocol_error(server, data, "ERR Protocol error: invalid bulk length",
                          before=[b"+OK\r\n", b":2\r\n"])
    assert r.get("a") == "2"


def test_protocol_error_counts_as_an_error_reply(server, r):
    before = r.info("stats")["total_error_replies"]
    assert_protocol_error(server, b"*x\r\n", "ERR Protocol error: invalid multibulk length")
    wait_until(lambda: r.info("stats")["total_error_replies"] >= before + 1,
               timeout=5, msg="error reply counted")


# ------------------------------------------------------- generic errors ---

def test_unknown_command_error(conn):
    assert conn.cmd("FOO").raw == b"-ERR unknown command 'FOO', with args beginning with: \r\n"
    assert conn.cmd("foo", "a", "b").raw == \
        b"-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n"
    conn.send(b'FOO "a\\r\\nb" "c\\nd"\r\n')  # CR/LF become spaces
    assert conn.reply().raw == b"-ERR unknown command 'FOO', with args beginning with: 'a  b' 'c d' \r\n"
    long_name = "F" * 200
    assert conn.cmd(long_name, "x").raw == \
        b"-ERR unknown command '" + b"F" * 128 + b"', with args beginning with: 'x' \r\n"


def test_unknown_command_args_preview_is_capped_like_redis(conn):
    rep = conn.cmd("FOO", "a" * 100, "b" * 100, "c" * 100)
    assert rep.raw == (b"-ERR unknown command 'FOO', with args beginning with: '" + b"a" * 100
                       + b"' '" + b"b" * 25 + b"' \r\n")


def test_error_messages_without_a_code_get_err(conn):
    """Only Redis's error codes stand alone; messages that merely open with
    an upper-case word still get "ERR " in front."""
    assert conn.cmd("BITOP", "NOT", "dest", "a", "b").raw == \
        b"-ERR BITOP NOT must be called with a single source key.\r\n"
    assert conn.cmd("SWAPDB", "0", "99").raw == b"-ERR DB index is out of range\r\n"
    assert conn.cmd("AUTH", "x").raw.startswith(b"-ERR AUTH <password> called without")
    assert conn.cmd("SET", "k", "v").raw == b"+OK\r\n"
    assert conn.cmd("INCR", "k").raw == b"-ERR value is not an integer or out of range\r\n"
    assert conn.cmd("SETEX", "k", "x", "v").raw == b"-ERR value is not an integer or out of range\r\n"
    assert conn.cmd("HELLO", "9").raw == b"-NOPROTO unsupported protocol version\r\n"


@pytest.mark.parametrize("args,name", [
    (("GET",), "get"),
    (("gEt", "a", "b"), "get"),
    (("SET", "k"), "set"),
    (("ECHO",), "echo"),
    (("PING", "a", "b"), "ping"),
    (("SELECT",), "select"),
    (("CLIENT",), "client"),
    (("CONFIG",), "config"),
    (("INCRBY", "k"), "incrby"),
])
def test_wrong_number_of_arguments(conn, args, name):
    assert conn.cmd(*args).raw == b"-ERR wrong number of arguments for '%s' command\r\n" % name.encode()
    # An arity error does not close the connection.
    assert conn.cmd("PING").raw == b"+PONG\r\n"


def test_wrong_arity_inline(conn):
    conn.send(b"get\r\nGET a b c\r\n")
    assert [x.raw for x in conn.replies(2)] == [
        b"-ERR wrong number of arguments for 'get' command\r\n"] * 2

"""Lua scripting (EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT): reply
conversions in both directions for RESP2 and RESP3, Redis 7.0's exact error
texts, KEYS/ARGV, redis.* helpers, the script cache, read-only scripts and
shebang flags, busy scripts with SCRIPT KILL on one and two event loops,
UNKILLABLE, replicas, atomicity against concurrent clients, and the scripts
client libraries really send (redis-py's Lock, a rate limiter).

Every expected reply below was checked against redis-server 7.0.15."""
import hashlib
import os
import threading
import time

import pytest
import redis

from rawresp import RawConn, encode
from strata import SLOW, wait_until

BUSY = (b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or "
        b"SHUTDOWN NOSAVE.\r\n")
INFINITE = "local i = 0 while true do i = i + 1 end"
KILLED = b"-ERR Script killed by user with SCRIPT KILL... script: %s, on @user_script:1.\r\n"
UNKILLABLE = (b"-UNKILLABLE Sorry the script already executed write commands against the "
              b"dataset. You can either wait the script termination or kill the server in a "
              b"hard way using the SHUTDOWN NOSAVE command.\r\n")


def sha(body):
    return hashlib.sha1(body.encode()).hexdigest()


def sfx(body, line=1):
    """Redis 7.0's suffix of an error raised inside a script."""
    return " script: %s, on @user_script:%d." % (sha(body), line)


@pytest.fixture
def raw(server, r):
    """A raw RESP2 connection to the flushed module server."""
    c = RawConn(server.port)
    c.cmd("SCRIPT", "FLUSH")
    yield c
    c.close()


@pytest.fixture
def raw3(server, r):
    """A raw connection switched to RESP3 with HELLO 3."""
    c = RawConn(server.port)
    c.cmd("HELLO", "3")
    yield c
    c.close()


def ev(conn, body, *args):
    """EVAL body with no keys unless args say otherwise; the raw reply bytes."""
    if not args:
        args = ("0",)
    return conn.cmd("EVAL", body, *args).raw


# ------------------------------------------------------------ Lua -> RESP2

LUA_TO_RESP2 = [
    ("return 1", b":1\r\n"),
    ("return 3.99", b":3\r\n"),
    ("return -3.7", b":-3\r\n"),
    ("return -0.5", b":0\r\n"),
    ("return 2^53", b":9007199254740992\r\n"),
    ("return 1e30", b":-9223372036854775808\r\n"),
    ("return -1e30", b":-9223372036854775808\r\n"),
    ("return 0/0", b":-9223372036854775808\r\n"),
    ("return math.huge", b":-9223372036854775808\r\n"),
    ("return 'hi'", b"$2\r\nhi\r\n"),
    ("return ''", b"$0\r\n\r\n"),
    ("return 'a\\r\\nb'", b"$4\r\na\r\nb\r\n"),
    ("return '\\0x'", b"$2\r\n\x00x\r\n"),
    ("return true", b":1\r\n"),
    ("return false", b"$-1\r\n"),
    ("return nil", b"$-1\r\n"),
    ("return", b"$-1\r\n"),
    ("return 'a', 'b'", b"$1\r\na\r\n"),
    ("return {1,2,3,'x',nil,5}", b"*4\r\n:1\r\n:2\r\n:3\r\n$1\r\nx\r\n"),
    ("return {1,{2,{3}},false,true}", b"*4\r\n:1\r\n*2\r\n:2\r\n*1\r\n:3\r\n$-1\r\n:1\r\n"),
    ("return {1, 2, [4]=4}", b"*2\r\n:1\r\n:2\r\n"),
    ("return {}", b"*0\r\n"),
    ("return {a=1}", b"*0\r\n"),
    ("return {ok='fine'}", b"+fine\r\n"),
    ("return {ok=''}", b"+\r\n"),
    ("return {ok='a\\r\\nb'}", b"+a  b\r\n"),
    ("return {err='My Error'}", b"-My Error\r\n"),
    ("return {err='ERR xx'}", b"-ERR xx\r\n"),
    ("return {err='a\\r\\nb'}", b"-a  b\r\n"),
    ("return {ok='a', err='b'}", b"-b\r\n"),
    ("return {err=5}", b"*0\r\n"),
    ("return {ok=5}", b"*0\r\n"),
    ("return {ok={}}", b"*0\r\n"),
    ("return {1, {err='inner'}, {ok='s'}}", b"*3\r\n:1\r\n-inner\r\n+s\r\n"),
    ("return {{}, {ok='x'}, {err='y'}}", b"*3\r\n*0\r\n+x\r\n-y\r\n"),
    ("return redis.status_reply('FOO')", b"+FOO\r\n"),
    ("return redis.status_reply('')", b"+\r\n"),
    ("return redis.error_reply('My Error')", b"-My Error\r\n"),
    ("return redis.error_reply('-My Error')", b"-My Error\r\n"),
    ("return redis.error_reply('')", b"-ERR \r\n"),
    ("return redis.error_reply(5)", b"-ERR wrong number or type of arguments\r\n"),
    ("return redis.error_reply()", b"-ERR wrong number or type of arguments\r\n"),
    ("return redis.status_reply('a', 'b')", b"-ERR wrong number or type of arguments\r\n"),
    ("return {double=3.5}", b"$3\r\n3.5\r\n"),
    ("return {double=1/0}", b"$3\r\ninf\r\n"),
    ("return {double='3.5'}", b"*0\r\n"),
    ("return {map={a=1}}", b"*2\r\n$1\r\na\r\n:1\r\n"),
    ("return {set={a=true}}", b"*1\r\n$1\r\na\r\n"),
    ("return {big_number='1234567890123456789012'}", b"$22\r\n1234567890123456789012\r\n"),
    ("return {verbatim_string={format='txt', string='hello'}}", b"$5\r\nhello\r\n"),
    ("return {verbatim_string={string='x'}}", b"*0\r\n"),
    ("return setmetatable({}, {__index=function() return 1 end})", b"*0\r\n"),
    ("redis.setresp(3); return true", b":1\r\n"),
    ("redis.setresp(3); return false", b":0\r\n"),
    ("redis.setresp(3); return {true, false, nil}", b"*2\r\n:1\r\n:0\r\n"),
    ("redis.setresp(3); return nil", b"$-1\r\n"),
]


@pytest.mark.parametrize("body,expected", LUA_TO_RESP2)
def test_lua_to_resp2(raw, body, expected):
    assert ev(raw, body) == expected


def test_self_referencing_table_stops_at_the_stack_limit(raw):
    # Redis answers nested arrays down to Lua's stack limit, then this error.
    raw.send(encode("EVAL", "local t = {} t[1] = t return t", "0"))
    deadline = time.monotonic() + 10 * SLOW
    while b"-ERR reached lua stack limit\r\n" not in raw.buf:
        raw._fill(deadline)
    assert raw.buf.startswith(b"*1\r\n*1\r\n")
    assert raw.buf.endswith(b"-ERR reached lua stack limit\r\n")
    raw.buf = b""
    assert raw.cmd("PING").raw == b"+PONG\r\n"


# ------------------------------------------------------------ Lua -> RESP3

LUA_TO_RESP3 = [
    ("return true", b":1\r\n"),
    ("return false", b"_\r\n"),
    ("return nil", b"_\r\n"),
    ("return {1,2,nil,3}", b"*2\r\n:1\r\n:2\r\n"),
    ("return {1, true, false}", b"*3\r\n:1\r\n:1\r\n_\r\n"),
    ("return {double=3.5}", b",3.5\r\n"),
    ("return {double='3.5'}", b"*0\r\n"),
    ("return {map={a=1}}", b"%1\r\n$1\r\na\r\n:1\r\n"),
    ("return {map={[1]='one'}}", b"%1\r\n:1\r\n$3\r\none\r\n"),
    ("return {1, {map={x='y'}}}", b"*2\r\n:1\r\n%1\r\n$1\r\nx\r\n$1\r\ny\r\n"),
    ("return {set={a=true}}", b"~1\r\n$1\r\na\r\n"),
    ("return {set={'a'}}", b"~1\r\n:1\r\n"),
    ("return {big_number='123456789012345678901234567890'}",
     b"(123456789012345678901234567890\r\n"),
    ("return {verbatim_string={format='txt', string='hello'}}", b"=9\r\ntxt:hello\r\n"),
    ("return {verbatim_string={format='markdown', string='x'}}", b"=5\r\nmar:x\r\n"),
    ("return {verbatim_string={format='md', string='x'}}", b"=5\r\nmd :x\r\n"),
    ("return {big_number=5}", b"*0\r\n"),
    ("return {map=5}", b"*0\r\n"),
    ("redis.setresp(3); return true", b"#t\r\n"),
    ("redis.setresp(3); return false", b"#f\r\n"),
    ("redis.setresp(3); return {true, false, nil}", b"*2\r\n#t\r\n#f\r\n"),
    ("redis.setresp(3); return nil", b"_\r\n"),
]


@pytest.mark.parametrize("body,expected", LUA_TO_RESP3)
def test_lua_to_resp3(raw3, body, expected):
    assert ev(raw3, body) == expected


def test_map_with_nested_array_resp3(raw3):
    reply = raw3.cmd("EVAL", "return {map={a=1, b={1,2}}}", "0")
    assert reply.type == "%"
    assert reply.py() == {b"a": 1, b"b": [1, 2]}


# ------------------------------------------------------------ RESP -> Lua

RESP_TO_LUA = [
    # status replies become {ok=...}
    ("local r = redis.call('ping'); return type(r) .. ':' .. r.ok", b"$10\r\ntable:PONG\r\n"),
    ("return redis.call('ping')", b"+PONG\r\n"),
    ("return redis.call('ping', 'x')", b"$1\r\nx\r\n"),
    ("return redis.call('set', 'k', 'v')", b"+OK\r\n"),
    # integers become numbers
    ("redis.call('set', 'n', '41'); return redis.call('incr', 'n') + 1", b":43\r\n"),
    ("return type(redis.call('exists', 'nokey'))", b"$6\r\nnumber\r\n"),
    # nil bulk becomes false (RESP2), nil (RESP3)
    ("return redis.call('get', 'nokey')", b"$-1\r\n"),
    ("return type(redis.call('get', 'nokey'))", b"$7\r\nboolean\r\n"),
    ("redis.setresp(3); return type(redis.call('get','nokey'))", b"$3\r\nnil\r\n"),
    ("redis.setresp(3); return {redis.call('get','nokey')}", b"*0\r\n"),
    # arrays become tables, with false for missing elements
    ("redis.call('set','a','1'); local t = redis.call('mget','a','b'); "
     "return {t[1], type(t[2]), #t}", b"*3\r\n$1\r\n1\r\n$7\r\nboolean\r\n:2\r\n"),
    # errors: a table with err for pcall
    ("redis.call('set','s','x'); local r = redis.pcall('incr','s'); return type(r) .. ':' .. r.err",
     b"$49\r\ntable:ERR value is not an integer or out of range\r\n"),
    ("redis.call('set','s','x'); return redis.pcall('incr','s')",
     b"-ERR value is not an integer or out of range\r\n"),
    ("redis.call('set','s','x'); local e = redis.pcall('incr','s'); e.err = 'MYERR boom'; "
     "return e", b"-MYERR boom\r\n"),
    ("return redis.pcall('set', 'k', 'a', 'b', 'c')", b"-ERR syntax error\r\n"),
    # RESP2 maps are flat arrays; RESP3 maps are {map=...}
    ("redis.call('hset','h','f','v'); return redis.call('hgetall','h')",
     b"*2\r\n$1\r\nf\r\n$1\r\nv\r\n"),
    ("redis.setresp(3); redis.call('hset','h','f','v'); local t = redis.call('hgetall','h'); "
     "return {type(t.map), t.map.f}", b"*2\r\n$5\r\ntable\r\n$1\r\nv\r\n"),
    ("redis.setresp(3); return redis.call('hgetall','nohash')", b"*0\r\n"),
    # RESP3 verbatim strings (INFO) are {verbatim_string={format=, string=}}
    ("redis.setresp(3); local v = redis.call('info', 'server'); "
     "return {v.verbatim_string.format, type(v.verbatim_string.string)}",
     b"*2\r\n$3\r\ntxt\r\n$6\r\nstring\r\n"),
    ("redis.setresp(2); return type(redis.call('info', 'server'))", b"$6\r\nstring\r\n"),
]


@pytest.mark.parametrize("body,expected", RESP_TO_LUA)
def test_resp_to_lua(raw, body, expected):
    assert ev(raw, body) == expected


def test_resp3_caller_gets_map_from_setresp3_script(raw3):
    raw3.cmd("HSET", "h", "f", "v")
    assert ev(raw3, "redis.setresp(3); return redis.call('hgetall','h')") == \
        b"%1\r\n$1\r\nf\r\n$1\r\nv\r\n"
    assert ev(raw3, "redis.setresp(2); return redis.call('hgetall','h')") == \
        b"*2\r\n$1\r\nf\r\n$1\r\nv\r\n"


def test_number_arguments_are_formatted_as_redis_does(raw):
    cases = [("0.1", b"0.10000000000000001"), ("1/3", b"0.33333333333333331"),
             ("10", b"10"), ("-0", b"-0"), ("2^63", b"9.2233720368547758e+18"),
             ("1/0", b"inf"), ("1e20", b"1e+20"), ("3.5", b"3.5")]
    for expr, stored in cases:
        body = "redis.call('set', 'k', %s); return redis.call('get', 'k')" % expr
        assert ev(raw, body) == b"$%d\r\n%s\r\n" % (len(stored), stored), expr


def test_binary_safe_values_round_trip(rb):
    value = bytes(range(256)) * 4
    rb.set("bin", value)
    assert rb.eval("return redis.call('get', KEYS[1])", 1, "bin") == value
    assert rb.eval("return ARGV[1]", 0, value) == value
    rb.eval("redis.call('set', KEYS[1], ARGV[1])", 1, "bin2", value)
    assert rb.get("bin2") == value


def test_large_replies_both_ways(r):
    r.mset({"k%d" % i: i for i in range(2000)})
    keys = ["k%d" % i for i in range(2000)]
    got = r.eval("return redis.call('mget', unpack(KEYS))", len(keys), *keys)
    assert got == [str(i) for i in range(2000)]
    got = r.eval("local t = {} for i=1,10000 do t[i] = i end return t", 0)
    assert got == list(range(1, 10001))


# ------------------------------------------------------------ KEYS and ARGV


def test_keys_and_argv(raw):
    assert ev(raw, "return {KEYS[1], KEYS[2], ARGV[1], ARGV[2], #KEYS, #ARGV}",
              "2", "k1", "k2", "a1", "a2") == \
        b"*6\r\n$2\r\nk1\r\n$2\r\nk2\r\n$2\r\na1\r\n$2\r\na2\r\n:2\r\n:2\r\n"
    assert ev(raw, "return KEYS") == b"*0\r\n"
    assert ev(raw, "return ARGV", "1", "a", "b", "c") == b"*2\r\n$1\r\nb\r\n$1\r\nc\r\n"
    assert ev(raw, "KEYS[1] = 'x'; return KEYS[1]") == b"$1\r\nx\r\n"
    # a script's changes to KEYS do not reach the next script
    assert ev(raw, "return #KEYS") == b":0\r\n"


NUMKEYS_ERRORS = [
    (("return 1", "3", "a"), b"-ERR Number of keys can't be greater than number of args\r\n"),
    (("return 1", "-1"), b"-ERR Number of keys can't be negative\r\n"),
    (("return 1", "x"), b"-ERR value is not an integer or out of range\r\n"),
    (("return 1",), b"-ERR wrong number of arguments for 'eval' command\r\n"),
]


@pytest.mark.parametrize("args,expected", NUMKEYS_ERRORS)
def test_numkeys_errors(raw, args, expected):
    assert raw.cmd("EVAL", *args).raw == expected


def test_numkeys_checked_before_noscript(raw):
    assert raw.cmd("EVALSHA", "f" * 40, "2", "a").raw == \
        b"-ERR Number of keys can't be greater than number of args\r\n"


# ------------------------------------------------------------ error texts

def script_errors():
    e = []

    def add(body, msg, line=1):
        e.append((body, ("-" + msg + sfx(body, line) + "\r\n").encode()))

    add("return redis.call('incr','s')", "ERR value is not an integer or out of range")
    add("local x = 1\nlocal y = 2\nreturn redis.call('incr','s')",
        "ERR value is not an integer or out of range", 3)
    add("local function f()\n  return redis.call('incr','s')\nend\nreturn f()",
        "ERR value is not an integer or out of range", 2)
    add("return redis.call('nosuchcmd')", "ERR Unknown Redis command called from script")
    add("return redis.call(1)", "ERR Unknown Redis command called from script")
    add("return redis.call('get')", "ERR Wrong number of args calling Redis command from script")
    add("return redis.call()", "ERR Please specify at least one argument for this redis lib call")
    add("return redis.call('get', {})",
        "ERR Lua redis lib command arguments must be strings or integers")
    add("return redis.call('set', 'k', true)",
        "ERR Lua redis lib command arguments must be strings or integers")
    add("return redis.call('set', 'k', nil)",
        "ERR Lua redis lib command arguments must be strings or integers")
    for call in ("'subscribe', 'x'", "'eval', 'return 1', '0'", "'evalsha', 'x', '0'",
                 "'eval_ro', 'x', '0'", "'script', 'load', 'return 1'", "'shutdown'",
                 "'monitor'", "'auth', 'x'", "'hello'", "'client', 'id'",
                 "'config', 'get', 'port'", "'debug', 'sleep', '0'", "'wait', '0', '0'",
                 "'quit'", "'reset'", "'role'", "'replicaof', 'no', 'one'", "'save'"):
        add("return redis.call(%s)" % call, "ERR This Redis command is not allowed from script")
    # arity is checked before noscript, as in Redis
    add("return redis.call('reset', 'a', 'b')",
        "ERR Wrong number of args calling Redis command from script")
    add("return redis.call('set', 'k', 'a', 'b', 'c')", "ERR syntax error")
    add("return redis.call('set', 'k', 'v', 'EX', 0)", "ERR invalid expire time in 'set' command")
    add("return redis.call('select', 'x')", "ERR value is not an integer or out of range")
    add("return redis.call('select', '100')", "ERR DB index is out of range")
    add("return redis.sha1hex()", "ERR wrong number of arguments")
    add("return redis.sha1hex('a','b')", "ERR wrong number of arguments")
    add("return redis.setresp(4)", "ERR RESP version must be 2 or 3.")
    add("return redis.setresp()", "ERR redis.setresp() requires one argument.")
    add("return redis.log(99, 'x')", "ERR Invalid debug level.")
    add("return redis.log(redis.LOG_WARNING)", "ERR redis.log() requires two arguments or more.")
    add("return redis.set_repl(99)",
        "ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.")
    add("return redis.set_repl()", "ERR redis.set_repl() requires two arguments.")
    add("return redis.acl_check_cmd('nosuch')",
        "ERR Invalid command passed to redis.acl_check_cmd()")
    # Lua errors
    add("x = 1", "ERR user_script:1: Attempt to modify a readonly table")
    add("_G.x = 1", "ERR user_script:1: Attempt to modify a readonly table")
    add("redis.x = 1", "ERR user_script:1: Attempt to modify a readonly table")
    add("redis.call = nil", "ERR user_script:1: Attempt to modify a readonly table")
    add("string.x = 1", "ERR user_script:1: Attempt to modify a readonly table")
    add("cjson.x = 1", "ERR user_script:1: Attempt to modify a readonly table")
    add("rawset(_G, 'x', 1)", "ERR Attempt to modify a readonly table")
    add("return y", "ERR user_script:1: Script attempted to access nonexistent global variable 'y'")
    for name in ("print", "dofile", "loadfile", "require", "package", "debug", "setfenv",
                 "getfenv", "io", "os", "newproxy", "module"):
        add("return type(%s)" % name,
            "ERR user_script:1: Script attempted to access nonexistent global variable '%s'" % name)
    add("return nil + 1", "ERR user_script:1: attempt to perform arithmetic on a nil value")
    add("error('boom')", "ERR user_script:1: boom")
    add("local function f()\n  error('deep')\nend\n\nreturn f()", "ERR user_script:2: deep", 2)
    add("error({err='custom'})", "custom")
    add("error({err='ERR custom'})", "ERR custom")
    add("error(42)", "ERR user_script:1: 42")
    add("error()", "ERR nil")
    add("error(true)", "ERR true")
    add("error('x', 0)", "ERR x")
    add("redis.call('set','s','x'); local ok, e = pcall(function() return redis.call('incr', 's') "
        "end); error(e)", "ERR user_script:1: ERR value is not an integer or out of range")
    add("#!lua\nreturn y",
        "ERR user_script:2: Script attempted to access nonexistent global variable 'y'", 2)
    return e


@pytest.mark.parametrize("body,expected", script_errors())
def test_error_texts(raw, body, expected):
    raw.cmd("SET", "s", "x")
    assert ev(raw, body) == expected


PLAIN_ERRORS = [
    ("return redis.pcall('nosuchcmd')", b"-ERR Unknown Redis command called from script\r\n"),
    ("return redis.pcall('subscribe','x')", b"-ERR This Redis command is not allowed from script\r\n"),
    ("return redis.pcall()", b"-ERR Please specify at least one argument for this redis lib call\r\n"),
    ("return (", b"-ERR Error compiling script (new function): user_script:1: unexpected symbol "
                 b"near '<eof>'\r\n"),
    ("#!lua\nreturn redis.call('x') + ", b"-ERR Error compiling script (new function): "
                                         b"user_script:2: unexpected symbol near '<eof>'\r\n"),
    ("# comment\nreturn 1", b"-ERR Error compiling script (new function): user_script:1: "
                            b"unexpected symbol near '#'\r\n"),
]


@pytest.mark.parametrize("body,expected", PLAIN_ERRORS)
def test_plain_error_texts(raw, body, expected):
    assert ev(raw, body) == expected


def test_pcall_hands_redis_errors_to_the_script_as_strings(raw):
    raw.cmd("SET", "s", "x")
    cases = [
        ("local ok, e = pcall(redis.call, 'incr', 's'); return {tostring(ok), e}",
         b"*2\r\n$5\r\nfalse\r\n$43\r\nERR value is not an integer or out of range\r\n"),
        ("local ok, e = pcall(function() return redis.call('nosuch') end); return e",
         b"$44\r\nERR Unknown Redis command called from script\r\n"),
        ("local ok, e = pcall(redis.setresp, 9); return e",
         b"$32\r\nERR RESP version must be 2 or 3.\r\n"),
        ("local ok, e = pcall(function() x = 1 end); return e",
         b"$49\r\nuser_script:1: Attempt to modify a readonly table\r\n"),
        ("local ok, e = pcall(function() return zz end); return e",
         b"$74\r\nuser_script:1: Script attempted to access nonexistent global variable 'zz'\r\n"),
        ("local ok, e = pcall(error, {err='x'}); return e", b"$1\r\nx\r\n"),
        ("local ok, e = pcall(error, {foo=5}); return type(e)", b"$5\r\ntable\r\n"),
        ("return {pcall(function() return 1, 2 end)}", b"*3\r\n:1\r\n:1\r\n:2\r\n"),
        ("return {pcall(5)}", b"*2\r\n$-1\r\n$30\r\nattempt to call a number value\r\n"),
        ("return xpcall(function() return redis.call('incr','s') end, "
         "function(e) return type(e) end)", b"$-1\r\n"),
    ]
    for body, expected in cases:
        assert ev(raw, body) == expected, body


# ------------------------------------------------------------ redis.* helpers


def test_sha1hex(raw):
    assert ev(raw, "return redis.sha1hex('')") == \
        b"$40\r\nda39a3ee5e6b4b0d3255bfef95601890afd80709\r\n"
    assert ev(raw, "return redis.sha1hex('abc')") == \
        b"$40\r\na9993e364706816aba3e25717850c26c9cd0d89d\r\n"
    assert ev(raw, "return redis.sha1hex(5)") == \
        ("$40\r\n%s\r\n" % hashlib.sha1(b"5").hexdigest()).encode()
    assert ev(raw, "return redis.sha1hex({})") == \
        b"$40\r\nda39a3ee5e6b4b0d3255bfef95601890afd80709\r\n"


def test_constants_and_compatibility_functions(raw):
    assert ev(raw, "return {redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, "
                   "redis.LOG_WARNING}") == b"*4\r\n:0\r\n:1\r\n:2\r\n:3\r\n"
    assert ev(raw, "return {redis.REPL_ALL, redis.REPL_AOF, redis.REPL_SLAVE, "
                   "redis.REPL_REPLICA, redis.REPL_NONE}") == b"*5\r\n:3\r\n:1\r\n:2\r\n:2\r\n:0\r\n"
    assert ev(raw, "return redis.REDIS_VERSION") == b"$6\r\n7.0.15\r\n"
    assert ev(raw, "return redis.REDIS_VERSION_NUM") == b":458767\r\n"
    assert ev(raw, "return redis.replicate_commands()") == b":1\r\n"
    assert ev(raw, "return redis.set_repl(redis.REPL_ALL)") == b"$-1\r\n"
    assert ev(raw, "return redis.breakpoint()") == b"$-1\r\n"
    assert ev(raw, "return redis.debug('x')") == b"$-1\r\n"
    assert ev(raw, "return redis.acl_check_cmd('get', 'x')") == b":1\r\n"
    assert ev(raw, "return redis.setresp(3)") == b"$-1\r\n"


def test_redis_log_writes_the_server_log(server, raw):
    word = "scripted-log-line-%d" % os.getpid()
    assert ev(raw, "return redis.log(redis.LOG_WARNING, 'hello', ARGV[1], 7)", "0", word) == \
        b"$-1\r\n"
    wait_until(lambda: ("hello %s 7" % word) in server.log(), msg="redis.log line in the log")
    # below the configured loglevel nothing is written
    assert ev(raw, "return redis.log(redis.LOG_DEBUG, 'invisible-debug-line')") == b"$-1\r\n"
    assert "invisible-debug-line" not in server.log()


def test_globals_available_to_scripts(r):
    names = r.eval("local t = {} for k,v in pairs(_G) do t[#t+1]=k end table.sort(t) return t", 0)
    # Redis 7.0's globals (it also has bit, struct and cmsgpack)
    expected = {"ARGV", "KEYS", "_G", "_VERSION", "assert", "cjson", "collectgarbage",
                "coroutine", "error", "gcinfo", "getmetatable", "ipairs", "load", "loadstring",
                "math", "next", "pairs", "pcall", "rawequal", "rawget", "rawset", "redis",
                "select", "setmetatable", "string", "table", "tonumber", "tostring", "type",
                "unpack", "xpcall"}
    assert set(names) == expected
    api = r.eval("local t = {} for k,v in pairs(redis) do t[#t+1]=k end table.sort(t) return t", 0)
    assert api == ["LOG_DEBUG", "LOG_NOTICE", "LOG_VERBOSE", "LOG_WARNING", "REDIS_VERSION",
                   "REDIS_VERSION_NUM", "REPL_ALL", "REPL_AOF", "REPL_NONE", "REPL_REPLICA",
                   "REPL_SLAVE", "acl_check_cmd", "breakpoint", "call", "debug", "error_reply",
                   "log", "pcall", "replicate_commands", "set_repl", "setresp", "sha1hex",
                   "status_reply"]


def test_standard_library_works(raw):
    assert ev(raw, "return string.format('%d-%s', 7, 'x')") == b"$3\r\n7-x\r\n"
    assert ev(raw, "return ('abc'):upper()") == b"$3\r\nABC\r\n"
    assert ev(raw, "local t = {3,1,2} table.sort(t) return t") == b"*3\r\n:1\r\n:2\r\n:3\r\n"
    assert ev(raw, "return math.floor(3.7)") == b":3\r\n"
    assert ev(raw, "return loadstring('return 7')()") == b":7\r\n"
    assert ev(raw, "return select('#', 1, 2)") == b":2\r\n"
    assert ev(raw, "return coroutine.wrap(function() coroutine.yield(5) end)()") == b":5\r\n"
    assert ev(raw, "return _VERSION") == b"$7\r\nLua 5.1\r\n"
    assert ev(raw, "return tostring(1/3)") == b"$16\r\n0.33333333333333\r\n"


SANDBOX = [
    # precompiled chunks are refused (parsed as text), as Redis's patched Lua does
    ("return {loadstring(string.dump(function() return 1 end))}", b"*0\r\n"),
    ("local f, e = loadstring(string.dump(function() return 1 end)); "
     "return {type(f), tostring(e)}",
     b"*2\r\n$3\r\nnil\r\n$53\r\n[string \"\x1bLuaQ\"]:1: unexpected symbol near 'char(27)'\r\n"),
    ("local s = string.dump(function() return 1 end); local done = false; "
     "local f, e = load(function() if done then return nil end; done = true; return s end); "
     "return {type(f), tostring(e)}",
     b"*2\r\n$3\r\nnil\r\n$43\r\n(load):1: unexpected symbol near 'char(27)'\r\n"),
    ("local f, e = loadstring('return 1', 'chunky'); return {type(f), f()}",
     b"*2\r\n$8\r\nfunction\r\n:1\r\n"),
    ("local f, e = loadstring('return ('); return {type(f), e}",
     b"*2\r\n$3\r\nnil\r\n$53\r\n[string \"return (\"]:1: unexpected symbol near '<eof>'\r\n"),
    ("local done = false; local f, e = load(function() if done then return nil end; "
     "done = true; return 'return 5' end); return f()", b":5\r\n"),
    # the string methods and metatables cannot be changed for later scripts
    ("return type(getmetatable(''))", b"$5\r\ntable\r\n"),
    ("return type(getmetatable(_G))", b"$5\r\ntable\r\n"),
    ("return type(rawget(_G, 'redis'))", b"$5\r\ntable\r\n"),
    ("return ('x'):upper()", b"$1\r\nX\r\n"),
    ("local t = {} for k in pairs(string) do t[#t+1] = k end return #t > 5", b":1\r\n"),
]


@pytest.mark.parametrize("body,expected", SANDBOX)
def test_sandbox(raw, body, expected):
    assert ev(raw, body) == expected


def test_sandbox_refusals(raw):
    for body, prefix in [
            ("getmetatable('').__index.upper = nil", "ERR user_script:1: "),
            ("getmetatable('').x = 1", "ERR user_script:1: "),
            ("getmetatable(_G).x = 1", "ERR user_script:1: "),
            ("setmetatable(_G, nil)", "ERR "),
            ("rawset(getmetatable(_G), 'x', 1)", "ERR ")]:
        assert ev(raw, body) == \
            ("-" + prefix + "Attempt to modify a readonly table" + sfx(body) + "\r\n").encode()
    assert ev(raw, "return ('x'):upper()") == b"$1\r\nX\r\n"


def test_loadstring_cannot_create_globals(raw):
    body = "loadstring('q = 7')()"
    assert ev(raw, body) == ("-ERR [string \"q = 7\"]:1: Attempt to modify a readonly table "
                             "script: %s, on q = 7:1.\r\n" % sha(body)).encode()


def test_no_global_leaks_between_scripts(raw):
    ev(raw, "pcall(function() leaked = 1 end) return 1")
    assert ev(raw, "return rawget(_G, 'leaked')") == b"$-1\r\n"
    assert ev(raw, "local ok = pcall(function() return leaked end) return tostring(ok)") == \
        b"$5\r\nfalse\r\n"


def test_cjson(raw):
    assert ev(raw, "return cjson.encode({1,2,'x'})") == b'$9\r\n[1,2,"x"]\r\n'
    assert ev(raw, "return cjson.decode('[1,2,3]')") == b"*3\r\n:1\r\n:2\r\n:3\r\n"
    assert ev(raw, "return cjson.encode({a={1,2}})") == b'$11\r\n{"a":[1,2]}\r\n'
    assert ev(raw, "return {cjson.decode('{\"a\":null}').a == cjson.null}") == b"*1\r\n:1\r\n"
    assert ev(raw, "return cjson.encode(cjson.decode('[1.5, \"x\", true]'))") == \
        b'$14\r\n[1.5,"x",true]\r\n'


def test_select_in_a_script_does_not_change_the_callers_db(raw):
    assert ev(raw, "redis.call('select', 5); return redis.call('set','sel','1')") == b"+OK\r\n"
    assert raw.cmd("EXISTS", "sel").raw == b":0\r\n"
    raw.cmd("SELECT", "5")
    assert raw.cmd("EXISTS", "sel").raw == b":1\r\n"
    # scripts start in the caller's database
    assert ev(raw, "return redis.call('get', 'sel')") == b"$1\r\n1\r\n"
    raw.cmd("FLUSHDB")
    raw.cmd("SELECT", "0")


def test_monitor_shows_eval_then_the_script_commands(server, r):
    mon = RawConn(server.port)
    try:
        assert mon.cmd("MONITOR").raw == b"+OK\r\n"
        r.eval("redis.call('set', KEYS[1], '1'); return redis.call('get', KEYS[1])", 1, "mk")
        lines = []
        deadline = time.monotonic() + 10 * SLOW
        while len(lines) < 3:
            left = deadline - time.monotonic()
            assert left > 0, lines
            lines.append(mon.reply(timeout=left).value.decode())
        assert '"eval"' in lines[0].lower() and "[0 127.0.0.1:" in lines[0]
        assert lines[1].endswith('[0 lua] "set" "mk" "1"')
        assert lines[2].endswith('[0 lua] "get" "mk"')
    finally:
        mon.close()


# ------------------------------------------------------------ script cache


def test_script_load_exists_evalsha_flush(raw):
    body = "return 'loaded'"
    digest = sha(body)
    assert raw.cmd("SCRIPT", "LOAD", body).raw == b"$40\r\n%s\r\n" % digest.encode()
    assert raw.cmd("SCRIPT", "EXISTS", digest, digest.upper(), "a", "f" * 40).raw == \
        b"*4\r\n:1\r\n:1\r\n:0\r\n:0\r\n"
    assert raw.cmd("EVALSHA", digest, "0").raw == b"$6\r\nloaded\r\n"
    assert raw.cmd("EVALSHA", digest.upper(), "0").raw == b"$6\r\nloaded\r\n"
    assert raw.cmd("EVALSHA_RO", digest, "0").raw == b"$6\r\nloaded\r\n"
    assert raw.cmd("SCRIPT", "FLUSH").raw == b"+OK\r\n"
    assert raw.cmd("SCRIPT", "EXISTS", digest).raw == b"*1\r\n:0\r\n"
    assert raw.cmd("EVALSHA", digest, "0").raw == \
        b"-NOSCRIPT No matching script. Please use EVAL.\r\n"
    assert raw.cmd("SCRIPT", "FLUSH", "sync").raw == b"+OK\r\n"
    assert raw.cmd("SCRIPT", "FLUSH", "ASYNC").raw == b"+OK\r\n"


def test_eval_caches_the_script(raw):
    body = "return 'cached by eval'"
    assert ev(raw, body) == b"$14\r\ncached by eval\r\n"
    assert raw.cmd("SCRIPT", "EXISTS", sha(body)).raw == b"*1\r\n:1\r\n"
    assert raw.cmd("EVALSHA", sha(body), "0").raw == b"$14\r\ncached by eval\r\n"


def test_noscript_errors(raw):
    for s in ("f" * 40, "fff", "", "e0e1f9fabfc9d4800c877a703b823ac0578ff8dbX"):
        assert raw.cmd("EVALSHA", s, "0").raw == \
            b"-NOSCRIPT No matching script. Please use EVAL.\r\n"
    assert raw.cmd("EVALSHA_RO", "f" * 40, "0").raw == \
        b"-NOSCRIPT No matching script. Please use EVAL.\r\n"


SCRIPT_CMD_ERRORS = [
    (("SCRIPT",), b"-ERR wrong number of arguments for 'script' command\r\n"),
    (("SCRIPT", "LOAD"), b"-ERR wrong number of arguments for 'script|load' command\r\n"),
    (("SCRIPT", "LOAD", "a", "b"), b"-ERR wrong number of arguments for 'script|load' command\r\n"),
    (("SCRIPT", "EXISTS"), b"-ERR wrong number of arguments for 'script|exists' command\r\n"),
    (("SCRIPT", "FLUSH", "BAD"), b"-ERR SCRIPT FLUSH only support SYNC|ASYNC option\r\n"),
    (("SCRIPT", "FLUSH", "ASYNC", "SYNC"), b"-ERR SCRIPT FLUSH only support SYNC|ASYNC option\r\n"),
    (("SCRIPT", "KILL", "x"), b"-ERR wrong number of arguments for 'script|kill' command\r\n"),
    (("SCRIPT", "KILL"), b"-NOTBUSY No scripts in execution right now.\r\n"),
    (("SCRIPT", "FOO"), b"-ERR unknown subcommand 'FOO'. Try SCRIPT HELP.\r\n"),
    (("SCRIPT", "HELP", "x"), b"-ERR wrong number of arguments for 'script|help' command\r\n"),
    (("SCRIPT", "LOAD", "return ("), b"-ERR Error compiling script (new function): "
                                     b"user_script:1: unexpected symbol near '<eof>'\r\n"),
]


@pytest.mark.parametrize("args,expected", SCRIPT_CMD_ERRORS)
def test_script_command_errors(raw, args, expected):
    assert raw.cmd(*args).raw == expected


def test_script_help(raw):
    reply = raw.cmd("SCRIPT", "HELP").py()
    assert reply[0] == b"SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    assert b"LOAD <script>" in reply and b"KILL" in reply and b"FLUSH [ASYNC|SYNC]" in reply


def test_flush_reaches_every_thread(mt_server, mt):
    """A script compiled on both event loops is gone from both after FLUSH."""
    body = "return 'two threads'"
    digest = mt.script_load(body)
    clients = [mt_server.client(decode_responses=True) for _ in range(8)]
    try:
        for c in clients:
            assert c.evalsha(digest, 0) == "two threads"
        mt.script_flush()
        for c in clients:
            with pytest.raises(redis.exceptions.NoScriptError):
                c.evalsha(digest, 0)
        assert mt.eval(body, 0) == "two threads"
        for c in clients:
            assert c.evalsha(digest, 0) == "two threads"
    finally:
        for c in clients:
            c.close()


def test_redis_py_script_object_reloads_after_flush(r):
    incr_by = r.register_script("return redis.call('incrby', KEYS[1], ARGV[1])")
    assert incr_by(keys=["ctr"], args=[5]) == 5
    r.script_flush()
    assert incr_by(keys=["ctr"], args=[2]) == 7  # NOSCRIPT, then SCRIPT LOAD + EVALSHA


# ------------------------------------------------------------ read-only scripts

def test_eval_ro_refuses_writes(raw):
    body = "return redis.call('set','k','v')"
    assert raw.cmd("EVAL_RO", body, "0").raw == \
        ("-ERR Write commands are not allowed from read-only scripts." + sfx(body) +
         "\r\n").encode()
    assert raw.cmd("EVAL_RO", "return redis.pcall('set','k','v')", "0").raw == \
        b"-ERR Write commands are not allowed from read-only scripts.\r\n"
    raw.cmd("SET", "k", "v")
    assert raw.cmd("EVAL_RO", "return redis.call('get','k')", "0").raw == b"$1\r\nv\r\n"
    digest = raw.cmd("SCRIPT", "LOAD", body).value.decode()
    assert raw.cmd("EVALSHA_RO", digest, "0").raw.startswith(
        b"-ERR Write commands are not allowed from read-only scripts. script: ")
    assert raw.cmd("GET", "k").raw == b"$1\r\nv\r\n"


def test_shebang_flags(raw):
    body = "#!lua flags=no-writes\nreturn redis.call('set','x','1')"
    assert ev(raw, body) == ("-ERR Write commands are not allowed from read-only scripts." +
                             sfx(body, 2) + "\r\n").encode()
    assert ev(raw, "#!lua flags=no-writes,allow-oom\nreturn 1") == b":1\r\n"
    assert ev(raw, "#!lua flags=\nreturn 1") == b":1\r\n"
    assert ev(raw, "#!lua  flags=no-writes \nreturn 1") == b":1\r\n"
    assert ev(raw, "#!lua flags=no-writes,allow-stale,no-cluster,allow-cross-slot-keys,"
                   "allow-oom\nreturn 1") == b":1\r\n"
    assert ev(raw, "#!lua\nreturn redis.call('set', KEYS[1], 'v')", "1", "sb") == b"+OK\r\n"
    assert ev(raw, "#!lua flags=bogus\nreturn 1") == \
        b"-ERR Unexpected flag in script shebang: bogus\r\n"
    assert ev(raw, "#!python\nreturn 1") == \
        b"-ERR Unexpected engine in script shebang: #!python\r\n"
    assert ev(raw, "#! lua\nreturn 1") == b"-ERR Unexpected engine in script shebang: #!\r\n"
    assert ev(raw, "#!LUA\nreturn 1") == b"-ERR Unexpected engine in script shebang: #!LUA\r\n"
    assert ev(raw, "#!lua name=foo\nreturn 1") == \
        b"-ERR Unknown lua shebang option: name=foo\r\n"
    assert ev(raw, "#!lua") == b"-ERR Invalid script shebang\r\n"
    assert raw.cmd("SCRIPT", "LOAD", "#!lua flags=bogus\nreturn 1").raw == \
        b"-ERR Unexpected flag in script shebang: bogus\r\n"


# ------------------------------------------------------------ client libraries


def test_redis_py_lock(r):
    """redis-py's Lock releases, extends and reacquires through Lua scripts."""
    lock = r.lock("resource", timeout=10)
    assert lock.acquire(blocking=False)
    assert not r.lock("resource", timeout=10).acquire(blocking=False)
    assert lock.extend(5)
    assert 10000 < r.pttl("resource") <= 15000
    assert lock.reacquire()
    lock.release()
    assert r.get("resource") is None
    # releasing a lock someone else holds fails: the token does not match
    other = r.lock("resource", timeout=10)
    assert other.acquire(blocking=False)
    r.set("resource", "stolen")
    with pytest.raises(redis.exceptions.LockNotOwnedError):
        other.release()
    assert r.get("resource") == "stolen"


RELEASE = """
if redis.call("get", KEYS[1]) == ARGV[1] then
    return redis.call("del", KEYS[1])
else
    return 0
end
"""


def test_lock_release_script(r):
    assert r.set("lk", "token-1", nx=True, px=10000)
    release = r.register_script(RELEASE)
    assert release(keys=["lk"], args=["token-2"]) == 0
    assert r.get("lk") == "token-1"
    assert release(keys=["lk"], args=["token-1"]) == 1
    assert r.exists("lk") == 0
    assert release(keys=["lk"], args=["token-1"]) == 0


RATE_LIMIT = """
local tokens_key, ts_key = KEYS[1], KEYS[2]
local rate, capacity, now, requested = tonumber(ARGV[1]), tonumber(ARGV[2]),
                                       tonumber(ARGV[3]), tonumber(ARGV[4])
local ttl = math.floor(capacity / rate * 2)
local last_tokens = tonumber(redis.call("get", tokens_key)) or capacity
local last_refreshed = tonumber(redis.call("get", ts_key)) or 0
local delta = math.max(0, now - last_refreshed)
local filled = math.min(capacity, last_tokens + delta * rate)
local allowed = filled >= requested
local new_tokens = filled
if allowed then new_tokens = filled - requested end
redis.call("setex", tokens_key, ttl, new_tokens)
redis.call("setex", ts_key, ttl, now)
return { allowed and 1 or 0, new_tokens }
"""

WINDOW = """
local current = redis.call('incr', KEYS[1])
if current == 1 then redis.call('pexpire', KEYS[1], ARGV[1]) end
if current > tonumber(ARGV[2]) then return 0 end
return 1
"""


def test_token_bucket_rate_limiter(r):
    limiter = r.register_script(RATE_LIMIT)
    keys = ["rl:tokens", "rl:ts"]
    # capacity 5, 1 token per second, all requests at t=100: five pass, then none
    got = [limiter(keys=keys, args=[1, 5, 100, 1]) for _ in range(7)]
    assert [g[0] for g in got] == [1, 1, 1, 1, 1, 0, 0]
    assert [g[1] for g in got] == [4, 3, 2, 1, 0, 0, 0]
    # two seconds later two tokens are back
    assert limiter(keys=keys, args=[1, 5, 102, 1]) == [1, 1]
    assert 0 < r.ttl("rl:tokens") <= 10


def test_fixed_window_rate_limiter(r):
    window = r.register_script(WINDOW)
    assert [window(keys=["w"], args=[60000, 3]) for _ in range(5)] == [1, 1, 1, 0, 0]
    assert 0 < r.pttl("w") <= 60000


# ------------------------------------------------------------ atomicity

ATOMIC_LOOP = """
local first = redis.call('incr', KEYS[1])
for i = 2, tonumber(ARGV[1]) do
    local v = redis.call('incr', KEYS[1])
    if v ~= first + i - 1 then return {err = 'interleaved at ' .. i} end
end
return first
"""


def test_script_never_interleaves_with_concurrent_clients(mt_server, mt):
    """Scripts doing INCR in a loop while other clients INCR the same key on
    both event loops: every script sees its own increments back to back, and
    no increment is lost."""
    deadline = time.monotonic() + 20 * SLOW
    errors, counts = [], {"plain": 0, "script": 0}
    lock = threading.Lock()
    per_script = 500

    def plain(idx):
        c = mt_server.client()
        try:
            for _ in range(400):
                if time.monotonic() > deadline:
                    break
                c.incr("ctr")
                with lock:
                    counts["plain"] += 1
        except Exception as e:  # noqa: BLE001 - collected and asserted empty
            errors.append(repr(e))
        finally:
            c.close()

    def scripted(idx):
        c = mt_server.client()
        try:
            loop = c.register_script(ATOMIC_LOOP)
            for _ in range(15):
                if time.monotonic() > deadline:
                    break
                loop(keys=["ctr"], args=[per_script])
                with lock:
                    counts["script"] += per_script
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))
        finally:
            c.close()

    threads = [threading.Thread(target=plain, args=(i,), daemon=True) for i in range(4)]
    threads += [threading.Thread(target=scripted, args=(i,), daemon=True) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60 * SLOW)
        assert not t.is_alive(), "a client thread did not finish"
    assert errors == []
    assert counts["script"] > 0 and counts["plain"] > 0
    assert int(mt.get("ctr")) == counts["plain"] + counts["script"]


def test_script_reads_a_consistent_snapshot_of_several_keys(mt_server, mt):
    """A writer MSETs two keys to the same value; a script reading both must
    never see them differ."""
    stop = time.monotonic() + 3 * SLOW
    errors = []

    def writer():
        c = mt_server.client()
        try:
            i = 0
            while time.monotonic() < stop and i < 20000:
                c.mset({"pa": i, "pb": i})
                i += 1
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))
        finally:
            c.close()

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    check = mt.register_script("local a = redis.call('get', 'pa') "
                               "for i = 1, 200 do redis.call('get', 'pa') end "
                               "return a == redis.call('get', 'pb') and 1 or 0")
    n = 0
    while time.monotonic() < stop and n < 2000:
        assert check() == 1
        n += 1
    t.join(timeout=30 * SLOW)
    assert not t.is_alive() and errors == []


# ------------------------------------------------------------ busy scripts


def info_field(conn, section, field):
    """One field of INFO section, read on a raw connection."""
    text = conn.cmd("INFO", section).value.decode()
    for line in text.split("\r\n"):
        if line.startswith(field + ":"):
            return line.split(":", 1)[1]
    raise AssertionError(f"no {field} in INFO {section}")


def thread_of_new_conns(s, n_per_thread, limit=64):
    """Opens connections until each of the two loops serves n_per_thread of
    them; returns {0: [conns], 1: [conns]}.  A connection's loop is the one
    whose client count grew when it connected (INFO clients)."""
    adm = RawConn(s.port)

    def counts():
        v = info_field(adm, "clients", "server_thread_clients")
        return [int(kv.split("=")[1]) for kv in v.split(",")]

    by_thread = {0: [], 1: []}
    try:
        for _ in range(limit):
            before = counts()
            c = RawConn(s.port)
            assert c.cmd("PING").raw == b"+PONG\r\n"
            after = counts()
            grew = [i for i in (0, 1) if after[i] > before[i]]
            if len(grew) != 1:
                c.close()
                continue
            by_thread[grew[0]].append(c)
            if all(len(v) >= n_per_thread for v in by_thread.values()):
                return by_thread
        raise AssertionError(f"connections did not spread over both loops: {counts()}")
    finally:
        adm.close()


def running_script_seen(conn):
    """True once a script is running (CLIENT LIST shows an eval in progress,
    or the script is already busy)."""
    reply = conn.cmd("CLIENT", "LIST").raw
    return reply == BUSY or b"cmd=eval " in reply


def busy_server(make_server, threads=1, threshold_ms=100):
    return make_server(args=["--server-threads", threads,
                             "--busy-reply-threshold", threshold_ms]).start()


def start_busy_script(s, body=INFINITE):
    """Sends body on its own connection and waits until others get -BUSY;
    returns (script connection, an observer connection)."""
    runner, obs = RawConn(s.port), RawConn(s.port)
    runner.send(encode("EVAL", body, "0"))
    wait_until(lambda: obs.cmd("PING").raw == BUSY, timeout=10, msg="the script to turn busy")
    return runner, obs


def test_busy_and_script_kill_single_thread(make_server):
    s = busy_server(make_server, threads=1)
    others = [RawConn(s.port) for _ in range(3)]
    runner, obs = start_busy_script(s)
    try:
        for o in others:
            assert o.cmd("GET", "k").raw == BUSY
            assert o.cmd("SCRIPT", "LOAD", "return 1").raw == BUSY
            assert o.cmd("CLIENT", "LIST").raw == BUSY
        assert obs.cmd("SHUTDOWN").raw == BUSY
        assert obs.cmd("SHUTDOWN", "SAVE").raw == BUSY
        assert obs.cmd("SHUTDOWN", "ABORT").raw == b"-ERR No shutdown in progress.\r\n"
        assert obs.cmd("SCRIPT", "KILL", "x").raw == \
            b"-ERR wrong number of arguments for 'script|kill' command\r\n"
        assert obs.cmd("AUTH", "x").raw.startswith(b"-ERR AUTH <password> called without")
        # a connection opened while the script is busy is served too
        late = RawConn(s.port)
        assert late.cmd("PING").raw == BUSY
        assert late.cmd("SCRIPT", "KILL").raw == b"+OK\r\n"
        assert runner.reply(timeout=10).raw == KILLED % sha(INFINITE).encode()
        assert late.cmd("PING").raw == b"+PONG\r\n"
        assert runner.cmd("PING").raw == b"+PONG\r\n"
        assert obs.cmd("SCRIPT", "KILL").raw == b"-NOTBUSY No scripts in execution right now.\r\n"
        late.close()
    finally:
        for c in others + [runner, obs]:
            c.close()
    assert "Slow script detected: still in execution after" in s.log()
    assert "Lua script killed by user with SCRIPT KILL." in s.log()


@pytest.mark.parametrize("killer_thread", [0, 1])
def test_busy_and_script_kill_two_threads(make_server, killer_thread):
    """Connections on both event loops answer -BUSY; SCRIPT KILL from either
    loop ends the script (one of them is the script's own loop)."""
    s = busy_server(make_server, threads=2)
    by_thread = thread_of_new_conns(s, 2)
    conns = by_thread[0] + by_thread[1]
    runner, obs = start_busy_script(s)
    try:
        for c in conns:
            assert c.cmd("PING").raw == BUSY
            assert c.cmd("SET", "k", "v").raw == BUSY
        assert by_thread[killer_thread][0].cmd("SCRIPT", "KILL").raw == b"+OK\r\n"
        assert runner.reply(timeout=10).raw == KILLED % sha(INFINITE).encode()
        for c in conns:
            assert c.cmd("PING").raw == b"+PONG\r\n"
        assert obs.cmd("SET", "k", "v").raw == b"+OK\r\n"
    finally:
        for c in conns + [runner, obs]:
            c.close()


def test_waiting_command_gets_busy_once_the_script_is_busy(make_server):
    """A command queued behind a running script (not yet busy) is answered
    -BUSY when the script crosses the threshold, on either loop."""
    s = busy_server(make_server, threads=2, threshold_ms=300)
    by_thread = thread_of_new_conns(s, 2)
    conns = by_thread[0] + by_thread[1]
    runner, watcher = RawConn(s.port), RawConn(s.port)
    try:
        runner.send(encode("EVAL", INFINITE, "0"))
        wait_until(lambda: running_script_seen(watcher), msg="the script to start")
        for c in conns:
            c.send(encode("INCR", "n"))
        for c in conns:
            assert c.reply(timeout=10).raw == BUSY
        assert conns[0].cmd("SCRIPT", "KILL").raw == b"+OK\r\n"
        assert runner.reply(timeout=10).raw == KILLED % sha(INFINITE).encode()
        assert conns[0].cmd("GET", "n").raw == b"$-1\r\n"
    finally:
        for c in conns + [runner, watcher]:
            c.close()


def test_short_script_blocks_others_until_done(make_server):
    """Below the threshold a script just runs; commands behind it wait and
    then see its effects."""
    s = busy_server(make_server, threads=2, threshold_ms=20000)
    body = ("redis.call('set', 'phase', 'during') local i = 0 "
            "while i < tonumber(ARGV[1]) do i = i + 1 end "
            "redis.call('set', 'phase', 'after') return i")
    by_thread = thread_of_new_conns(s, 2)
    others = by_thread[0] + by_thread[1]
    runner, watcher = RawConn(s.port), RawConn(s.port)
    try:
        runner.send(encode("EVAL", body, "0", "20000000"))
        wait_until(lambda: running_script_seen(watcher), timeout=60, msg="the script to start")
        for o in others:
            o.send(encode("GET", "phase"))
        assert runner.reply(timeout=60).raw == b":20000000\r\n"
        for o in others:
            assert o.reply(timeout=10).raw == b"$5\r\nafter\r\n"
    finally:
        for c in others + [runner, watcher]:
            c.close()


def test_pcall_cannot_swallow_script_kill(make_server):
    s = busy_server(make_server)
    body = "while true do pcall(function() local i = 0 while true do i = i + 1 end end) end"
    runner, obs = start_busy_script(s, body)
    try:
        assert obs.cmd("SCRIPT", "KILL").raw == b"+OK\r\n"
        reply = runner.reply(timeout=10).raw
        assert reply.startswith(b"-ERR Script killed by user with SCRIPT KILL... script: ")
        assert obs.cmd("PING").raw == b"+PONG\r\n"
    finally:
        runner.close()
        obs.close()


def test_unkillable_then_shutdown_nosave(make_server):
    s = busy_server(make_server)
    body = "redis.call('set','w','1') " + INFINITE
    runner, obs = start_busy_script(s, body)
    try:
        assert obs.cmd("SCRIPT", "KILL").raw == UNKILLABLE
        assert obs.cmd("SCRIPT", "KILL").raw == UNKILLABLE
        obs.send(encode("SHUTDOWN", "NOSAVE"))
        s.proc.wait(timeout=30 * SLOW)
        assert s.proc.returncode == 0
    finally:
        runner.close()
        obs.close()


def test_a_script_that_wrote_nothing_stays_killable(make_server):
    """SET NX on an existing key does not write: the script can be killed."""
    s = busy_server(make_server)
    s.client().set("exists", "1")
    body = "redis.call('set', 'exists', '2', 'NX') " + INFINITE
    runner, obs = start_busy_script(s, body)
    try:
        assert obs.cmd("SCRIPT", "KILL").raw == b"+OK\r\n"
        assert runner.reply(timeout=10).raw.startswith(b"-ERR Script killed by user")
    finally:
        runner.close()
        obs.close()


def test_caller_disconnect_during_busy_script(make_server):
    """The caller hanging up while its script is busy: the script is killed
    and the server carries on (the caller's client is freed afterwards)."""
    s = busy_server(make_server)
    runner, obs = start_busy_script(s)
    runner.close()
    assert obs.cmd("PING").raw == BUSY
    assert obs.cmd("SCRIPT", "KILL").raw == b"+OK\r\n"
    wait_until(lambda: obs.cmd("PING").raw == b"+PONG\r\n", msg="the server to be idle again")
    wait_until(lambda: info_field(obs, "clients", "connected_clients") == "1",
               msg="the caller's connection to be freed")
    obs.close()


@pytest.mark.parametrize("threads", [1, 2])
def test_shutdown_nosave_ends_a_busy_script(make_server, threads):
    s = busy_server(make_server, threads=threads)
    runner, obs = start_busy_script(s)
    try:
        obs.send(encode("SHUTDOWN", "NOSAVE"))
        s.proc.wait(timeout=30 * SLOW)
        assert s.proc.returncode == 0
    finally:
        runner.close()
        obs.close()


# ------------------------------------------------------------ configuration


def test_busy_reply_threshold_config(r):
    assert r.config_get("lua-time-limit") == {"lua-time-limit": "5000"}
    assert r.config_get("busy-reply-threshold") == {"busy-reply-threshold": "5000"}
    assert r.config_set("lua-time-limit", 200)
    assert r.config_get("busy-reply-threshold") == {"busy-reply-threshold": "200"}
    with pytest.raises(redis.ResponseError):
        r.config_set("busy-reply-threshold", -1)
    assert r.config_set("busy-reply-threshold", 5000)


def test_command_info_for_scripting_commands(raw):
    info = raw.cmd("COMMAND", "INFO", "eval", "evalsha_ro", "script").py()
    assert info[0][:2] == [b"eval", -3]
    assert set(info[0][2]) == {b"noscript", b"stale", b"skip_monitor", b"no_mandatory_keys",
                               b"movablekeys"}
    assert b"readonly" in info[1][2]
    assert info[2][:2] == [b"script", -2]


GETKEYS = [
    (("eval", "return 1", "0"), b"*0\r\n"),
    (("eval", "return 1", "3", "a"), b"*0\r\n"),
    (("eval", "return 1", "x", "a"), b"*0\r\n"),
    (("eval", "return 1", "-1", "a"), b"*0\r\n"),
    (("evalsha_ro", "abc", "2", "a", "b", "c"), b"*2\r\n$1\r\na\r\n$1\r\nb\r\n"),
    (("eval", "return 1"), b"-ERR Invalid number of arguments specified for command\r\n"),
]


@pytest.mark.parametrize("args,expected", GETKEYS)
def test_command_getkeys_eval(raw, args, expected):
    assert raw.cmd("COMMAND", "GETKEYS", *args).raw == expected


# ------------------------------------------------------------ replication


def test_scripts_on_master_and_read_only_replica(make_server):
    m = make_server().start()
    rep = make_server(args=["--replicaof", "127.0.0.1", m.port]).start()
    info = lambda: rep.client(decode_responses=True).info("replication")  # noqa: E731
    wait_until(lambda: info()["master_link_status"] == "up", msg="replica link up")
    mc = m.client(decode_responses=True)
    assert mc.eval("redis.call('set', KEYS[1], ARGV[1]); return redis.call('incr', KEYS[2])",
                   2, "sk", "n", "v") == 1
    rc = RawConn(rep.port)
    try:
        wait_until(lambda: rc.cmd("GET", "sk").raw == b"$1\r\nv\r\n", msg="script writes replicated")
        assert rc.cmd("EVAL", "return redis.call('get', 'sk')", "0").raw == b"$1\r\nv\r\n"
        body = "return redis.call('set','x','1')"
        assert rc.cmd("EVAL", body, "0").raw == \
            ("-READONLY You can't write against a read only replica." + sfx(body) +
             "\r\n").encode()
        assert rc.cmd("EVAL", "return redis.pcall('set','x','1')", "0").raw == \
            b"-READONLY You can't write against a read only replica.\r\n"
        # a shebang script that may write is refused before it runs
        assert rc.cmd("EVAL", "#!lua\nreturn redis.call('get','sk')", "0").raw == \
            b"-READONLY You can't write against a read only replica.\r\n"
        assert rc.cmd("EVAL", "#!lua flags=no-writes\nreturn redis.call('get','sk')", "0").raw == \
            b"$1\r\nv\r\n"
        assert rc.cmd("EVAL_RO", body, "0").raw == \
            ("-ERR Write commands are not allowed from read-only scripts." + sfx(body) +
             "\r\n").encode()
        assert rc.cmd("EXISTS", "x").raw == b":0\r\n"
    finally:
        rc.close()
    digest = lambda s: s.client().execute_command("DEBUG", "DIGEST")  # noqa: E731
    wait_until(lambda: digest(m) == digest(rep), msg="replica digest to equal the master's")


def test_script_writes_are_one_batch(server):
    """A script's writes commit as one WriteBatch (all or nothing on disk and
    on replicas), as EXEC's do."""
    cl = server.client(decode_responses=True)
    cl.flushall()
    cl.set("warm", "1")
    before = int(cl.info("persistence")["storage_batches_committed"])
    cl.eval("for i = 1, 20 do redis.call('SET', 'k' .. i, i) end "
            "redis.call('HSET', 'h', 'a', '1') redis.call('DEL', 'warm') return 1", 0)
    assert int(cl.info("persistence")["storage_batches_committed"]) == before + 1
    assert cl.get("k20") == "20" and cl.hget("h", "a") == "1" and not cl.exists("warm")
    # Inside EXEC, the script joins the transaction's batch.
    before = int(cl.info("persistence")["storage_batches_committed"])
    p = cl.pipeline(transaction=True)
    p.set("x", "1")
    p.eval("return redis.call('INCR', 'x')", 0)
    p.set("y", "2")
    assert p.execute() == [True, 2, True]
    assert int(cl.info("persistence")["storage_batches_committed"]) == before + 1
    cl.close()

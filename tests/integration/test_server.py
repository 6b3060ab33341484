"""Server commands and process behaviour: CONFIG (GET/SET/RESETSTAT/REWRITE),
the command line and config file, INFO, COMMAND, redis-cli, SLOWLOG, DEBUG,
FLUSHDB/FLUSHALL, SWAPDB, LASTSAVE/SAVE and SHUTDOWN.

Expected replies and error strings are Redis 7.0's, checked against a real
redis-server."""
import os
import re
import socket
import subprocess
import time
from fnmatch import fnmatchcase

import pytest
import redis

from strata import STRATA_BIN, SLOW, wait_until

REDIS_CLI = "redis-cli"
BIN_DIR = os.path.dirname(STRATA_BIN)


# ---------------------------------------------------------------- raw RESP ---

class RawConn:
    """A bare RESP2/RESP3 connection, for checking the exact reply shape
    (redis-py 4.3 speaks only RESP2 and post-processes replies)."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10 * SLOW)
        self.buf = b""

    def close(self):
        self.sock.close()

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("server closed the connection")
        self.buf += data

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def read(self):
        """Returns (type byte, value); aggregates hold lists of such pairs,
        maps a list of (key, value) pairs."""
        line = self._line()
        t, rest = line[:1], line[1:]
        if t in (b"+", b"-"):
            return t, rest.decode()
        if t in (b":", b","):
            return t, rest.decode()
        if t in (b"$", b"="):
            n = int(rest)
            return t, (None if n < 0 else self._exact(n))
        if t == b"_":
            return t, None
        if t in (b"*", b"~", b">"):
            n = int(rest)
            return t, (None if n < 0 else [self.read() for _ in range(n)])
        if t == b"%":
            return t, [(self.read(), self.read()) for _ in range(int(rest))]
        raise AssertionError(f"unexpected RESP type in {line!r}")

    def call(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)
        return self.read()


def cli(port, *args, timeout=20):
    """Runs redis-cli against the server; returns the CompletedProcess."""
    return subprocess.run([REDIS_CLI, "-p", str(port)] + [str(a) for a in args],
                          capture_output=True, text=True, timeout=timeout * SLOW)


def info_field(client, section, name):
    return client.info(section)[name]


@pytest.fixture
def rr(r, server):
    """A decoded client that returns replies as the server sent them (no
    redis-py response callbacks), sharing r's FLUSHALL."""
    c = server.client(decode_responses=True)
    c.response_callbacks = {}
    yield c
    c.close()


# ------------------------------------------------------------------ CONFIG ---

def test_config_get_glob(r):
    got = r.config_get("maxmemory*")
    assert {"maxmemory", "maxmemory-policy", "maxmemory-samples"} <= set(got)
    assert all(fnmatchcase(k, "maxmemory*") for k in got)
    assert got["maxmemory"] == "0"
    assert got["maxmemory-policy"] == "noeviction"
    assert got["maxmemory-samples"] == "5"
    assert r.config_get("no-such-directive-*") == {}


def test_config_get_several_patterns(r, server):
    # Redis does not promise an order; each directive appears once
    got = r.execute_command("CONFIG", "GET", "port", "maxclients", "databases", "port")
    assert len(got) == 6
    assert dict(zip(got[::2], got[1::2])) == {"port": str(server.port), "maxclients": "10000",
                                             "databases": "16"}
    got = r.execute_command("CONFIG", "GET", "maxmemory", "maxmemory*")
    names = got[::2]
    assert len(names) == len(set(names))
    assert dict(zip(names, got[1::2]))["maxmemory"] == "0" and "maxmemory-policy" in names
    with pytest.raises(redis.ResponseError, match=r"^wrong number of arguments for 'config\|get' command$"):
        r.execute_command("CONFIG", "GET")


def test_config_get_resp2_flat_and_resp3_map(server):
    c = RawConn(server.port)
    try:
        t, v = c.call("CONFIG", "GET", "port", "maxclients")
        assert t == b"*"
        flat = [x[1] for x in v]
        assert len(flat) == 4
        assert dict(zip(flat[::2], flat[1::2])) == {b"port": str(server.port).encode(),
                                                   b"maxclients": b"10000"}
        t, _ = c.call("HELLO", "3")
        assert t == b"%"
        t, v = c.call("CONFIG", "GET", "port", "maxclients")
        assert t == b"%"
        assert len(v) == 2 and all(k[0] == b"$" and x[0] == b"$" for k, x in v)
        assert {k[1]: x[1] for k, x in v} == {b"port": str(server.port).encode(),
                                              b"maxclients": b"10000"}
    finally:
        c.close()


def test_config_set_several_pairs_atomic(r):
    assert r.execute_command("CONFIG", "SET", "maxmemory", "10mb", "slowlog-max-len", "77") == "OK"
    try:
        assert r.config_get("maxmemory") == {"maxmemory": "10485760"}
        assert r.config_get("slowlog-max-len") == {"slowlog-max-len": "77"}
        # one bad value: nothing is applied
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command("CONFIG", "SET", "maxmemory", "20mb", "maxmemory-policy", "bogus")
        assert str(e.value) == (
            "CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) "
            "must be one of the following: volatile-lru, volatile-lfu, volatile-random, "
            "volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction")
        assert r.config_get("maxmemory") == {"maxmemory": "10485760"}
        assert r.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command("CONFIG", "SET", "slowlog-max-len", "5", "maxmemory", "lots")
        assert str(e.value) == ("CONFIG SET failed (possibly related to argument 'maxmemory') - "
                                "argument must be a memory value")
        assert r.config_get("slowlog-max-len") == {"slowlog-max-len": "77"}
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command("CONFIG", "SET", "maxmemory", "1mb", "maxmemory", "2mb")
        assert str(e.value) == ("CONFIG SET failed (possibly related to argument 'maxmemory') - "
                                "duplicate parameter")
    finally:
        r.execute_command("CONFIG", "SET", "maxmemory", "0", "slowlog-max-len", "128")


def test_config_set_immutable_unknown_and_arity(r):
    with pytest.raises(redis.ResponseError) as e:
        r.config_set("databases", "3")
    assert str(e.value) == ("CONFIG SET failed (possibly related to argument 'databases') - "
                            "can't set immutable config")
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("CONFIG", "SET", "maxmemory", "1mb", "daemonize", "yes")
    assert str(e.value) == ("CONFIG SET failed (possibly related to argument 'daemonize') - "
                            "can't set immutable config")
    assert r.config_get("maxmemory") == {"maxmemory": "0"}
    with pytest.raises(redis.ResponseError) as e:
        r.config_set("no-such-directive", "1")
    assert str(e.value) == "Unknown option or number of arguments for CONFIG SET - 'no-such-directive'"
    for args in (("maxmemory",), ("maxmemory", "1", "maxclients")):
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command("CONFIG", "SET", *args)
        assert str(e.value) == "wrong number of arguments for 'config|set' command"
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("CONFIG", "NOSUCH")
    assert str(e.value) == "unknown subcommand 'NOSUCH'. Try CONFIG HELP."


def test_config_set_redis_tuning_directives(make_server):
    # a server of its own: these directives are stored only, and a fault in
    # that path must not take the module's shared server down
    s = make_server().start()
    r = s.client(decode_responses=True)
    for name in ("list-max-listpack-size", "hash-max-listpack-entries", "activerehashing", "save"):
        assert list(r.config_get(name)) == [name]
    assert r.execute_command("CONFIG", "SET", "list-max-listpack-size", "5",
                             "hash-max-listpack-entries", "100",
                             "activerehashing", "no") == "OK"
    assert r.config_get("list-max-listpack-size") == {"list-max-listpack-size": "5"}
    assert r.config_get("hash-max-listpack-entries") == {"hash-max-listpack-entries": "100"}
    assert r.config_get("activerehashing") == {"activerehashing": "no"}
    for _ in range(3):  # repeated: each SET replaces the previous save points
        assert r.config_set("save", "3600 1 300 100") is True
        assert r.config_get("save") == {"save": "3600 1 300 100"}
    assert r.config_set("save", "") is True
    assert r.config_get("save") == {"save": ""}
    with pytest.raises(redis.ResponseError) as e:
        r.config_set("save", "3600")
    assert str(e.value) == ("CONFIG SET failed (possibly related to argument 'save') - "
                            "Invalid save parameters")
    with pytest.raises(redis.ResponseError) as e:
        r.config_set("activerehashing", "maybe")
    assert str(e.value) == ("CONFIG SET failed (possibly related to argument "
                            "'activerehashing') - argument must be 'yes' or 'no'")
    assert r.ping() is True
    r.close()


def test_config_resetstat(r):
    r.set("k", "v")
    for _ in range(3):
        r.get("k")
    r.get("missing")
    assert info_field(r, "stats", "keyspace_hits") >= 3
    assert r.config_resetstat() is True
    stats = r.info("stats")
    assert stats["keyspace_hits"] == 0
    assert stats["keyspace_misses"] == 0
    assert stats["total_commands_processed"] <= 2
    assert "cmdstat_get" not in r.info("commandstats")
    r.get("k")
    r.get("k")
    assert r.info("commandstats")["cmdstat_get"]["calls"] == 2
    assert info_field(r, "stats", "keyspace_hits") == 2
    with pytest.raises(redis.ResponseError, match=r"^wrong number of arguments for 'config\|resetstat' command$"):
        r.execute_command("CONFIG", "RESETSTAT", "x")


CONF_WITH_COMMENTS = """# Strata test configuration
# this comment must survive CONFIG REWRITE

maxmemory 100mb
# slow log settings
slowlog-max-len 64
timeout 0
"""


def test_config_rewrite_round_trip(make_server):
    s = make_server(config_text=CONF_WITH_COMMENTS).start()
    c = s.client(decode_responses=True)
    assert c.config_get("maxmemory") == {"maxmemory": str(100 * 1024 * 1024)}
    assert c.execute_command("CONFIG", "SET", "maxmemory", "200mb", "slowlog-max-len", "77",
                             "maxmemory-policy", "allkeys-lru",
                             "list-max-listpack-size", "9") == "OK"
    assert c.execute_command("CONFIG", "REWRITE") == "OK"
    with open(s.config_path) as f:
        text = f.read()
    lines = text.splitlines()
    assert "# Strata test configuration" in lines
    assert "# this comment must survive CONFIG REWRITE" in lines
    assert "# slow log settings" in lines
    assert "maxmemory 200mb" in lines
    assert "maxmemory 100mb" not in lines
    assert "slowlog-max-len 77" in lines
    assert "slowlog-max-len 64" not in lines
    assert "maxmemory-policy allkeys-lru" in lines
    assert "list-max-listpack-size 9" in lines
    # the rewritten value keeps its place: after the first comment, before the second
    assert lines.index("# this comment must survive CONFIG REWRITE") < lines.index("maxmemory 200mb") \
        < lines.index("# slow log settings") < lines.index("slowlog-max-len 77")
    c.close()
    s.stop()
    s.start()
    c = s.client(decode_responses=True)
    assert c.config_get("maxmemory") == {"maxmemory": str(200 * 1024 * 1024)}
    assert c.config_get("slowlog-max-len") == {"slowlog-max-len": "77"}
    assert c.config_get("maxmemory-policy") == {"maxmemory-policy": "allkeys-lru"}
    assert c.config_get("list-max-listpack-size") == {"list-max-listpack-size": "9"}
    assert c.info("server")["config_file"] == s.config_path
    c.close()


def test_config_rewrite_without_config_file(r):
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("CONFIG", "REWRITE")
    assert str(e.value) == "The server is running without a config file"


# ----------------------------------------------------------- command line ---

def run_binary(args, binary=STRATA_BIN, timeout=20):
    return subprocess.run([binary] + args, capture_output=True, text=True, timeout=timeout * SLOW)


def test_command_line_overrides_config_file(make_server):
    s = make_server(config_text="maxclients 50\nslowlog-max-len 20\n",
                    args=["--maxclients", "7"]).start()
    c = s.client(decode_responses=True)
    assert c.config_get("port") == {"port": str(s.port)}
    assert c.config_get("maxclients") == {"maxclients": "7"}
    assert c.config_get("slowlog-max-len") == {"slowlog-max-len": "20"}
    assert c.info("clients")["maxclients"] == 7
    c.close()


def test_unknown_directive_fails_start(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("# a comment\nport 0\nbogus-directive 1\n")
    p = run_binary([str(conf), "--dir", str(tmp_path)])
    assert p.returncode != 0
    assert f"{conf}:3: unknown directive 'bogus-directive'" in p.stdout + p.stderr
    p = run_binary(["--port", "0", "--dir", str(tmp_path), "--bogus-option", "1"])
    assert p.returncode != 0
    assert "unknown directive 'bogus-option'" in p.stdout + p.stderr


def test_bad_value_names_directive(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("# a comment\nmaxmemory lots\n")
    p = run_binary([str(conf), "--dir", str(tmp_path)])
    assert p.returncode != 0
    out = p.stdout + p.stderr
    line = [x for x in out.splitlines() if f"{conf}:2:" in x]
    assert line, out
    assert "maxmemory" in line[0] and "must be a memory value" in line[0]
    p = run_binary(["--port", "0", "--dir", str(tmp_path), "--maxclients", "abc"])
    assert p.returncode != 0
    assert re.search(r"maxclients.*couldn't be parsed into an integer", p.stdout + p.stderr)


def test_version_flag():
    for flag in ("--version", "-v"):
        p = run_binary([flag])
        assert p.returncode == 0
        assert re.match(r"^Strata server v=\S+ \(Redis compatible 7\.0\.\d+\)", p.stdout), p.stdout
    link = os.path.join(BIN_DIR, "keydb-server")
    if os.path.exists(link):
        p = run_binary(["--version"], binary=link)
        assert p.returncode == 0
        assert p.stdout.startswith("Strata server v=")


def test_keydb_server_link_serves(make_server):
    link = os.path.join(BIN_DIR, "keydb-server")
    if not os.path.exists(link):
        pytest.skip("no keydb-server link next to the binary under test")
    s = make_server(binary=link, args=["--maxclients", "9"]).start()
    c = s.client(decode_responses=True)
    assert c.set("k", "v") is True
    assert c.get("k") == "v"
    assert c.config_get("maxclients") == {"maxclients": "9"}
    c.close()


# -------------------------------------------------------------------- INFO ---

DEFAULT_SECTIONS = ["Server", "Clients", "Memory", "Persistence", "Stats", "Replication", "CPU",
                    "Modules", "Cluster", "Keyspace"]


def info_raw(client, *sections):
    c = client.connection_pool.get_connection("INFO")
    try:
        c.send_command("INFO", *sections)
        return c.read_response().replace("\r\n", "\n")
    finally:
        client.connection_pool.release(c)


def headers(text):
    return [l[2:] for l in text.splitlines() if l.startswith("# ")]


def test_info_default_sections_and_fields(r, server):
    for i in range(5):
        r.set(f"k{i}", i)
    text = info_raw(r)
    hs = headers(text)
    for s in DEFAULT_SECTIONS:
        assert s in hs, hs
    assert "Commandstats" not in hs
    info = r.info()
    assert re.match(r"^7\.0\.\d+$", str(info["redis_version"]))
    assert info["process_id"] == server.proc.pid
    assert info["tcp_port"] == server.port
    assert info["uptime_in_seconds"] >= 0
    assert info["connected_clients"] >= 1
    assert info["used_memory"] > 0
    assert re.match(r"^\d+(\.\d+)?[BKMGT]$", info["used_memory_human"]), info["used_memory_human"]
    assert info["used_memory_rss"] > 0
    assert info["maxmemory"] == 0
    assert info["maxmemory_policy"] == "noeviction"
    assert isinstance(info["mem_fragmentation_ratio"], float)
    assert info["loading"] == 0
    assert info["rdb_changes_since_last_save"] >= 5
    assert info["total_connections_received"] >= 1
    assert info["total_commands_processed"] >= 6
    for f in ("keyspace_hits", "keyspace_misses", "expired_keys", "connected_slaves",
              "master_repl_offset"):
        assert isinstance(info[f], int) and info[f] >= 0, f
    assert info["role"] == "master"
    assert info["connected_slaves"] == 0
    assert isinstance(info["used_cpu_sys"], float)
    assert info["db0"] == {"keys": 5, "expires": 0, "avg_ttl": 0}
    assert "db1" not in info
    r.expire("k1", 1000)
    r.set("k5", "v", ex=1000)
    r.set("k2", "no ttl any more")
    r.expire("k3", 1000)
    r.persist("k3")
    assert r.info("keyspace")["db0"]["keys"] == 6
    assert r.info("keyspace")["db0"]["expires"] == 2
    # every line of the text is "# Section", "name:value" or blank
    for line in text.splitlines():
        assert line == "" or line.startswith("# ") or re.match(r"^[a-z0-9_]+:", line), line


def test_info_counters_move(r, server):
    before = r.info()
    r.set("hit", "1")
    r.get("hit")
    r.get("miss")
    other = server.client()
    other.ping()
    r.set("short", "v", px=1)
    wait_until(lambda: r.get("short") is None, timeout=5, msg="key with PX 1 to expire")
    after = r.info()
    other.close()
    assert after["keyspace_hits"] >= before["keyspace_hits"] + 1
    assert after["keyspace_misses"] >= before["keyspace_misses"] + 1
    assert after["total_connections_received"] >= before["total_connections_received"] + 1
    assert after["total_commands_processed"] >= before["total_commands_processed"] + 4
    assert after["expired_keys"] >= before["expired_keys"] + 1
    assert after["rdb_changes_since_last_save"] > before["rdb_changes_since_last_save"]
    assert after["master_repl_offset"] > before["master_repl_offset"]


def test_info_commandstats(r):
    r.config_resetstat()
    r.set("a", "1")
    r.get("a")
    r.get("a")
    r.get("b")
    with pytest.raises(redis.ResponseError):
        r.execute_command("GET")  # wrong arity: rejected
    text = info_raw(r, "commandstats")
    assert headers(text) == ["Commandstats"]
    m = re.search(r"^cmdstat_get:calls=(\d+),usec=(\d+),usec_per_call=(\d+\.\d\d),"
                  r"rejected_calls=(\d+),failed_calls=(\d+)$", text, re.M)
    assert m, text
    assert int(m.group(1)) == 3
    assert int(m.group(4)) == 1
    assert int(m.group(5)) == 0
    assert re.search(r"^cmdstat_set:calls=1,", text, re.M)


def test_info_sections(r):
    assert headers(info_raw(r, "keyspace")) == ["Keyspace"]
    assert headers(info_raw(r, "SERVER")) == ["Server"]
    assert headers(info_raw(r, "server", "clients")) == ["Server", "Clients"]
    assert headers(info_raw(r, "nosuchsection")) == []
    for word in ("all", "everything"):
        hs = headers(info_raw(r, word))
        for s in DEFAULT_SECTIONS + ["Commandstats"]:
            assert s in hs, (word, hs)
        assert len(hs) == len(set(hs)), hs
    hs = headers(info_raw(r, "default"))
    assert set(DEFAULT_SECTIONS) <= set(hs) and "Commandstats" not in hs
    hs = headers(info_raw(r, "default", "commandstats"))
    assert set(DEFAULT_SECTIONS + ["Commandstats"]) <= set(hs)
    # a section asked for twice (or also covered by "all") is printed once
    hs = headers(info_raw(r, "all", "server", "SERVER"))
    assert hs.count("Server") == 1


# ----------------------------------------------------------------- COMMAND ---

def test_command_count_matches_table(server):
    c = RawConn(server.port)
    try:
        t, count = c.call("COMMAND", "COUNT")
        t2, table = c.call("COMMAND")
        assert t == b":" and t2 == b"*"
        assert int(count) == len(table) > 50
        names = [e[1][0][1] for e in table]
        assert len(names) == len(set(names))
        for n in (b"get", b"set", b"config", b"info", b"command", b"debug"):
            assert n in names
    finally:
        c.close()


def test_command_info(server):
    c = RawConn(server.port)
    try:
        t, v = c.call("COMMAND", "INFO", "get", "nosuchcommand", "SET")
        assert t == b"*" and len(v) == 3
        get = v[0][1]
        assert get[0][1] == b"get"
        assert int(get[1][1]) == 2
        assert sorted(x[1] for x in get[2][1]) == ["fast", "readonly"]
        assert [int(get[i][1]) for i in (3, 4, 5)] == [1, 1, 1]
        assert v[1] == (b"*", None)
        st = v[2][1]
        assert st[0][1] == b"set"
        assert int(st[1][1]) == -3
        assert "write" in [x[1] for x in st[2][1]]
    finally:
        c.close()


def test_command_docs(rr):
    r = rr
    docs = r.execute_command("COMMAND", "DOCS", "set")
    assert isinstance(docs, list) and docs[0] == "set"
    body = dict(zip(docs[1][::2], docs[1][1::2]))
    assert body["group"] == "string"
    args = body["arguments"]
    first = [dict(zip(a[::2], a[1::2])) for a in args]
    assert first[0]["name"] == "key" and first[0]["type"] == "key"
    assert first[1]["name"] == "value" and first[1]["type"] == "string"
    assert len(first) >= 3
    assert r.execute_command("COMMAND", "DOCS", "nosuchcommand") == []


DOC_ARG_TYPES = {"string", "integer", "double", "key", "pattern", "unix-time", "pure-token",
                 "oneof", "block"}


def check_doc_args(args, where):
    for a in args:
        d = dict(zip(a[::2], a[1::2]))
        assert isinstance(d.get("name"), str) and d["name"], where
        assert d.get("type") in DOC_ARG_TYPES, (where, d)
        if d["type"] in ("oneof", "block"):
            assert d.get("arguments"), (where, d)
            check_doc_args(d["arguments"], f"{where}/{d['name']}")
        else:
            assert "arguments" not in d, (where, d)
        if d["type"] == "pure-token":
            assert d.get("token"), (where, d)
        assert set(d.get("flags", [])) <= {"optional", "multiple", "multiple_token"}, (where, d)


def test_command_docs_all_well_formed(rr):
    """redis-cli builds its interactive hints from COMMAND DOCS of every
    command: each argument tree must have the shape it expects."""
    docs = rr.execute_command("COMMAND", "DOCS")
    names = docs[::2]
    assert len(names) == rr.execute_command("COMMAND", "COUNT")
    for name, body in zip(docs[::2], docs[1::2]):
        b = dict(zip(body[::2], body[1::2]))
        assert {"summary", "since", "group", "complexity"} <= set(b), name
        check_doc_args(b.get("arguments", []), name)


def test_command_list(rr):
    r = rr
    names = r.execute_command("COMMAND", "LIST")
    assert len(names) == r.execute_command("COMMAND", "COUNT")
    assert {"get", "set", "config", "command"} <= set(names)
    got = r.execute_command("COMMAND", "LIST", "FILTERBY", "PATTERN", "get*")
    assert sorted(got) == sorted(n for n in names if fnmatchcase(n, "get*"))
    assert "get" in got and "set" not in got
    assert r.execute_command("COMMAND", "LIST", "FILTERBY", "PATTERN", "nosuch*") == []
    with pytest.raises(redis.ResponseError, match="^syntax error$"):
        r.execute_command("COMMAND", "LIST", "FILTERBY", "PATTERN")


def test_command_errors_and_getkeys(rr):
    r = rr
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("COMMAND", "NOSUCH")
    assert str(e.value) == "unknown subcommand 'NOSUCH'. Try COMMAND HELP."
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("COMMAND", "COUNT", "x")
    assert str(e.value) == "wrong number of arguments for 'command|count' command"
    assert r.execute_command("COMMAND", "GETKEYS", "mset", "a", "1", "b", "2") == ["a", "b"]
    assert r.execute_command("COMMAND", "GETKEYS", "get", "k") == ["k"]
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("COMMAND", "GETKEYS", "nosuch", "k")
    assert str(e.value) == "Invalid command specified"
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("COMMAND", "GETKEYS", "get")
    assert str(e.value) == "Invalid number of arguments specified for command"
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("COMMAND", "GETKEYS", "ping")
    assert str(e.value) == "The command has no key arguments"


NUMKEYS_GETKEYS = [
    (["zunionstore", "dst", "2", "a", "b", "weights", "1", "2"], ["dst", "a", "b"]),
    (["zunion", "2", "a", "b", "withscores"], ["a", "b"]),
    (["zinterstore", "dst", "1", "a"], ["dst", "a"]),
    (["zdiff", "1", "a"], ["a"]),
    (["zintercard", "2", "a", "b", "limit", "1"], ["a", "b"]),
    (["lmpop", "2", "a", "b", "left", "count", "3"], ["a", "b"]),
    (["blmpop", "0", "2", "a", "b", "left"], ["a", "b"]),
    (["zmpop", "1", "a", "min"], ["a"]),
    (["bzmpop", "0", "1", "a", "min"], ["a"]),
    (["sintercard", "2", "a", "b", "limit", "1"], ["a", "b"]),
    # numkeys not a count of the keys present: no keys, an error
    (["zunionstore", "dst", "5", "a"], "Invalid arguments specified for command"),
    (["zdiff", "x", "a"], "Invalid arguments specified for command"),
    (["lmpop", "0", "a", "left"], "Invalid arguments specified for command"),
]


@pytest.mark.parametrize("args,expected", NUMKEYS_GETKEYS)
def test_command_getkeys_numkeys(rr, args, expected):
    r = rr
    if isinstance(expected, str):
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command("COMMAND", "GETKEYS", *args)
        assert str(e.value) == expected
    else:
        assert r.execute_command("COMMAND", "GETKEYS", *args) == expected


def test_command_info_numkeys_key_specs(rr):
    """Redis 7.0: the legacy (first, last, step) of a numkeys command keeps
    only a destination key; the key specs add a keynum spec."""
    legacy = {"zunionstore": [1, 1, 1], "zdiffstore": [1, 1, 1], "zunion": [0, 0, 0],
              "lmpop": [0, 0, 0], "blmpop": [0, 0, 0], "sintercard": [0, 0, 0],
              "bzmpop": [0, 0, 0], "get": [1, 1, 1], "mset": [1, -1, 2]}
    infos = rr.execute_command("COMMAND", "INFO", *legacy)
    for info in infos:
        name, specs = info[0], info[8]
        assert list(info[3:6]) == legacy[name], name
        if name in ("get", "mset"):
            continue
        assert len(specs) == (2 if name.endswith("store") else 1), name
        keynum = dict(zip(specs[-1][::2], specs[-1][1::2]))
        find = dict(zip(keynum["find_keys"][::2], keynum["find_keys"][1::2]))
        assert find["type"] == "keynum", name
        assert dict(zip(find["spec"][::2], find["spec"][1::2])) == {
            "keynumidx": 0, "firstkey": 1, "keystep": 1}, name


# --------------------------------------------------------------- redis-cli ---

def test_redis_cli_unmodified(server):
    p = cli(server.port, "set", "cli-key", "cli value")
    assert (p.returncode, p.stdout) == (0, "OK\n"), p.stderr
    p = cli(server.port, "get", "cli-key")
    assert (p.returncode, p.stdout) == (0, "cli value\n"), p.stderr
    p = cli(server.port, "ping")
    assert (p.returncode, p.stdout) == (0, "PONG\n")
    p = cli(server.port, "echo", "hello world")
    assert (p.returncode, p.stdout) == (0, "hello world\n")
    p = cli(server.port, "--no-raw", "command", "docs", "get")
    assert p.returncode == 0 and p.stderr == ""
    assert "(error)" not in p.stdout and '"key"' in p.stdout
    p = cli(server.port, "command", "docs")
    assert p.returncode == 0 and p.stderr == "" and "getrange" in p.stdout
    # non-interactive batch from stdin goes through the same hints table
    p = subprocess.run([REDIS_CLI, "-p", str(server.port)], input="set x 1\nincr x\nget x\n",
                       capture_output=True, text=True, timeout=20 * SLOW)
    assert (p.returncode, p.stdout) == (0, "OK\n2\n2\n"), p.stderr
    p = cli(server.port, "del", "cli-key", "x")
    assert p.stdout == "2\n"


# ----------------------------------------------------------------- SLOWLOG ---

@pytest.fixture
def slowlog_all(r):
    r.config_set("slowlog-log-slower-than", "0")
    yield r
    r.config_set("slowlog-log-slower-than", "10000")
    r.config_set("slowlog-max-len", "128")
    r.execute_command("SLOWLOG", "RESET")


def test_slowlog_get_len_reset(slowlog_all, server):
    r = slowlog_all
    assert r.execute_command("SLOWLOG", "RESET") == "OK"
    # SLOWLOG RESET itself is logged after it ran, as in Redis
    assert r.execute_command("SLOWLOG", "LEN") == 1
    r.client_setname("slow-client")
    r.set("sk", "sv")
    entries = r.execute_command("SLOWLOG", "GET", "1")
    assert len(entries) == 1
    eid, ts, dur, argv, peer, name = entries[0]
    assert argv == ["SET", "sk", "sv"]
    assert abs(ts - time.time()) < 60
    assert dur >= 0
    laddr = r.client_info()["addr"]
    assert peer == laddr
    assert name == "slow-client"
    n = r.execute_command("SLOWLOG", "LEN")
    assert n >= 4
    all_entries = r.execute_command("SLOWLOG", "GET", "-1")
    assert len(all_entries) >= n
    ids = [e[0] for e in all_entries]
    assert ids == sorted(ids, reverse=True)
    assert r.execute_command("SLOWLOG", "GET", "0") == []
    assert r.execute_command("SLOWLOG", "RESET") == "OK"
    got = r.execute_command("SLOWLOG", "GET")
    assert [e[3] for e in got] == [["SLOWLOG", "RESET"]]
    assert got[0][0] > eid


def test_slowlog_truncation_and_max_len(slowlog_all):
    r = slowlog_all
    r.execute_command("SLOWLOG", "RESET")
    r.set("big", "x" * 200)
    r.execute_command("DEL", *[f"k{i}" for i in range(40)])
    dl, st = r.execute_command("SLOWLOG", "GET", "2")
    assert dl[3] == ["DEL"] + [f"k{i}" for i in range(30)] + ["... (10 more arguments)"]
    assert st[3] == ["SET", "big", "x" * 128 + "... (72 more bytes)"]
    for i in range(10):
        r.set(f"s{i}", i)
    # shrinking keeps the newest entries (the CONFIG SET itself is one)
    r.config_set("slowlog-max-len", "3")
    assert [e[3] for e in r.execute_command("SLOWLOG", "GET")] == [
        ["CONFIG", "SET", "slowlog-max-len", "3"], ["SET", "s9", "9"], ["SET", "s8", "8"]]
    for i in range(10):
        r.set(f"t{i}", i)
    assert [e[3][1] for e in r.execute_command("SLOWLOG", "GET")] == ["t9", "t8", "t7"]
    r.config_set("slowlog-max-len", "0")
    assert r.execute_command("SLOWLOG", "LEN") == 0
    assert r.execute_command("SLOWLOG", "GET") == []
    r.config_set("slowlog-max-len", "1000000000")  # grows on demand, not up front
    for i in range(40):
        r.set(f"u{i}", i)
    assert r.execute_command("SLOWLOG", "LEN") == 41
    assert [e[3] for e in r.execute_command("SLOWLOG", "GET", "2")] == [
        ["SLOWLOG", "LEN"], ["SET", "u39", "39"]]


def test_slowlog_redacts_auth(slowlog_all):
    r = slowlog_all
    r.execute_command("SLOWLOG", "RESET")
    with pytest.raises(redis.ResponseError):
        r.execute_command("AUTH", "secret-password")
    entries = r.execute_command("SLOWLOG", "GET", "-1")
    flat = [a for e in entries for a in e[3]]
    assert "secret-password" not in flat
    assert ["AUTH", "(redacted)"] in [e[3] for e in entries]


def test_slowlog_errors(r):
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("SLOWLOG", "GET", "-2")
    assert str(e.value) == "count should be greater than or equal to -1"
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("SLOWLOG", "NOSUCH")
    assert str(e.value) == "unknown subcommand 'NOSUCH'. Try SLOWLOG HELP."
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("SLOWLOG", "LEN", "1")
    assert str(e.value) == "wrong number of arguments for 'slowlog|len' command"
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("SLOWLOG", "GET", "1", "2")
    assert str(e.value) == "unknown subcommand or wrong number of arguments for 'GET'. Try SLOWLOG HELP."


# ------------------------------------------------------------------- DEBUG ---

def load(client, items, order):
    """Writes items {key: (value, pexpireat or None)} in the given key order."""
    for k in order:
        v, at = items[k]
        client.set(k, v)
        if at is not None:
            client.pexpireat(k, at)


def test_debug_sleep(r):
    t0 = time.monotonic()
    assert r.execute_command("DEBUG", "SLEEP", "0.1") == "OK"
    assert time.monotonic() - t0 >= 0.09
    assert r.execute_command("DEBUG", "SLEEP", "0") == "OK"


def test_debug_digest(r, make_server):
    empty = r.execute_command("DEBUG", "DIGEST")
    assert empty == "0" * 40
    at = int(time.time() * 1000) + 3_600_000
    items = {f"key:{i}": (f"value-{i}", at + i if i % 3 == 0 else None) for i in range(50)}
    items["n"] = ("12345", None)
    load(r, items, sorted(items))
    d1 = r.execute_command("DEBUG", "DIGEST")
    assert re.match(r"^[0-9a-f]{40}$", d1) and d1 != empty
    assert r.execute_command("DEBUG", "DIGEST") == d1

    other = make_server().start()
    o = other.client(decode_responses=True)
    assert o.execute_command("DEBUG", "DIGEST") == "0" * 40
    # other order, and the TTLs first set to something else then to the same
    # absolute time
    for k in reversed(sorted(items)):
        o.set(k, items[k][0], ex=100 if items[k][1] is None else 50)
        if items[k][1] is None:
            o.persist(k)
        else:
            o.pexpireat(k, items[k][1])
    assert o.dbsize() == r.dbsize()
    assert o.execute_command("DEBUG", "DIGEST") == d1
    assert o.execute_command("DEBUG", "DIGEST-VALUE", "key:1", "n") == \
        r.execute_command("DEBUG", "DIGEST-VALUE", "key:1", "n")

    # one different value, then one different TTL, then one extra key
    o.set("key:7", "changed")
    assert o.execute_command("DEBUG", "DIGEST") != d1
    o.set("key:7", items["key:7"][0])
    assert o.execute_command("DEBUG", "DIGEST") == d1
    o.pexpireat("key:3", items["key:3"][1] + 1000)
    assert o.execute_command("DEBUG", "DIGEST") != d1
    o.pexpireat("key:3", items["key:3"][1])
    assert o.execute_command("DEBUG", "DIGEST") == d1
    o.set("extra", "1")
    assert o.execute_command("DEBUG", "DIGEST") != d1
    o.delete("extra")
    assert o.execute_command("DEBUG", "DIGEST") == d1
    # a key in another database counts
    o.execute_command("SELECT", "3")
    o.set("key:1", items["key:1"][0])
    assert o.execute_command("DEBUG", "DIGEST") != d1
    o.flushall()
    assert o.execute_command("DEBUG", "DIGEST") == "0" * 40
    o.close()


def test_debug_digest_value_and_object(r):
    r.set("a", "1")
    r.set("b", "hello")
    da, db_, dn = r.execute_command("DEBUG", "DIGEST-VALUE", "a", "b", "nokey")
    assert re.match(r"^[0-9a-f]{40}$", da) and da != db_
    assert dn == "0" * 40
    assert r.execute_command("DEBUG", "DIGEST-VALUE") == []
    r.set("b", "hello!")
    assert r.execute_command("DEBUG", "DIGEST-VALUE", "b")[0] != db_
    obj = r.execute_command("DEBUG", "OBJECT", "a")
    assert re.match(r"^Value at:0x[0-9a-f]+ refcount:\d+ encoding:int serializedlength:\d+ "
                    r"lru:\d+ lru_seconds_idle:\d+", obj), obj
    assert "encoding:embstr" in r.execute_command("DEBUG", "OBJECT", "b")
    r.set("c", "x" * 100)
    assert "encoding:raw" in r.execute_command("DEBUG", "OBJECT", "c")
    assert r.object("encoding", "a") == "int"
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("DEBUG", "OBJECT", "nokey")
    assert str(e.value) == "no such key"


def test_debug_errors(r):
    for args in (("NOSUCH",), ("DIGEST", "x"), ("SLEEP",), ("OBJECT",)):
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command("DEBUG", *args)
        assert str(e.value) == (f"unknown subcommand or wrong number of arguments for "
                                f"'{args[0]}'. Try DEBUG HELP.")


# ------------------------------------------------ FLUSH / SWAPDB / SAVE -----

def fill(client, n, prefix="k"):
    for i in range(n):
        client.set(f"{prefix}{i}", i)


def test_flushdb_flushall_variants(rr, server):
    r = rr
    r1 = server.client(decode_responses=True, db=1)
    for mode in (None, "ASYNC", "SYNC", "async", "sync"):
        fill(r, 5)
        fill(r1, 3)
        args = ["FLUSHDB"] + ([mode] if mode else [])
        assert r.execute_command(*args) == "OK"
        assert r.dbsize() == 0 and r1.dbsize() == 3
        fill(r, 5)
        args = ["FLUSHALL"] + ([mode] if mode else [])
        assert r.execute_command(*args) == "OK"
        assert r.dbsize() == 0 and r1.dbsize() == 0
        assert r.get("k1") is None
    for cmd in ("FLUSHDB", "FLUSHALL"):
        fill(r, 2)
        for bad in (["foo"], ["async", "sync"], ["sync", "x"]):
            with pytest.raises(redis.ResponseError) as e:
                r.execute_command(cmd, *bad)
            assert str(e.value) == "syntax error"
        assert r.dbsize() == 2
    r1.close()


def test_swapdb(r, server):
    r1 = server.client(decode_responses=True, db=1)
    r.set("in0", "zero")
    r1.set("in1", "one")
    r1.set("also1", "one")
    assert r.swapdb(0, 1) is True
    assert r.get("in1") == "one" and r.get("in0") is None
    assert r1.get("in0") == "zero"
    assert r.dbsize() == 2 and r1.dbsize() == 1
    assert r.swapdb(0, 0) is True
    assert r.dbsize() == 2
    assert r.swapdb(1, 0) is True
    assert r.get("in0") == "zero"
    for a, b, msg in (("0", "16", "DB index is out of range"),
                      ("-1", "0", "DB index is out of range"),
                      ("x", "0", "invalid first DB index"),
                      ("0", "y", "invalid second DB index")):
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command("SWAPDB", a, b)
        assert str(e.value) == msg
    # the full error line, code included (redis-py strips a leading "ERR ")
    raw = RawConn(server.port)
    assert raw.call("SWAPDB", "0", "16") == (b"-", "ERR DB index is out of range")
    raw.close()
    r1.flushdb()
    r1.close()


def test_lastsave_and_save(r, rr):
    before = r.lastsave()
    assert abs(before.timestamp() - time.time()) < 24 * 3600
    r.set("x", "1")
    assert info_field(r, "persistence", "rdb_changes_since_last_save") >= 1
    t0 = int(time.time())
    assert rr.execute_command("SAVE") == "OK"
    after = rr.execute_command("LASTSAVE")
    assert t0 <= after <= int(time.time()) + 1
    assert info_field(r, "persistence", "rdb_changes_since_last_save") == 0
    assert info_field(r, "persistence", "rdb_last_save_time") == after


# ---------------------------------------------------------------- SHUTDOWN ---

def wait_exit(s):
    wait_until(lambda: s.proc.poll() is not None, timeout=20, msg="server process to exit")
    return s.proc.returncode


@pytest.mark.parametrize("mode", ["NOSAVE", "SAVE", None])
def test_shutdown_exits_zero_and_keeps_data(make_server, mode):
    s = make_server().start()
    c = s.client(decode_responses=True)
    c.set("persist-me", "yes")
    c.set("counter", "41")
    c.incr("counter")
    raw = RawConn(s.port)
    raw.sock.sendall(b"SHUTDOWN" + (b" " + mode.encode() if mode else b"") + b"\r\n")
    # no reply: the connection closes when the process exits
    with pytest.raises((ConnectionError, OSError)):
        raw.read()
    raw.close()
    c.close()
    assert wait_exit(s) == 0
    assert "ready to exit" in s.log()
    s.stop()
    s.start()
    c = s.client(decode_responses=True)
    assert c.get("persist-me") == "yes"
    assert c.get("counter") == "42"
    assert c.dbsize() == 2
    c.close()


def test_shutdown_errors(r):
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("SHUTDOWN", "BOGUS")
    assert str(e.value) == "syntax error"
    assert r.ping()


def test_echo_ping(r, rr, server):
    assert r.echo("hi there") == "hi there"
    assert rr.execute_command("PING") == "PONG"
    assert rr.execute_command("PING", "msg") == "msg"
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("ECHO")
    assert str(e.value) == "wrong number of arguments for 'echo' command"
    p = cli(server.port, "ping", "abc")
    assert p.stdout == "abc\n"


def test_port_in_use_refuses_to_start(server, tmp_path):
    # SO_REUSEPORT would let a second server share the port and split the
    # connections; like Redis, start-up must fail instead.
    proc = subprocess.run([STRATA_BIN, "--port", str(server.port), "--bind", "127.0.0.1",
                           "--dir", str(tmp_path)], capture_output=True, timeout=30 * SLOW)
    assert proc.returncode != 0
    assert b"Address already in use" in proc.stdout + proc.stderr
    assert server.client().ping()


def test_config_get_dir_is_absolute_working_directory(server, r):
    # Redis reports the directory it chdir()ed into, as an absolute path.
    assert r.config_get("dir") == {"dir": os.path.realpath(server.dir)}

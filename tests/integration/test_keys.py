"""Keyspace commands: DEL UNLINK EXISTS TYPE TOUCH KEYS SCAN RANDOMKEY RENAME
RENAMENX COPY MOVE SWAPDB SELECT DBSIZE FLUSHDB FLUSHALL OBJECT.

Every reply and error string is compared with what Redis 7.0 answers.
"""

import pytest

from checks import assert_error, raw_line
from conftest import wait_until

DATABASES = 16


# ---------------------------------------------------------------- helpers



def raw_cmd(client, *args):
    """Runs a command without redis-py's reply callbacks (OBJECT HELP)."""
    conn = client.connection_pool.get_connection(args[0])
    try:
        conn.send_command(*args)
        return conn.read_response()
    finally:
        client.connection_pool.release(conn)


def db_client(server, db):
    return server.client(db=db, decode_responses=True)


def full_scan(client, count=10, match=None, _type=None, limit=100000):
    """All keys of a complete SCAN, in the order returned (duplicates kept)."""
    keys, cursor, calls = [], 0, 0
    while True:
        cursor, page = client.scan(cursor, match=match, count=count, _type=_type)
        keys += page
        calls += 1
        assert calls < limit, "SCAN did not finish"
        if cursor == 0:
            return keys


# ---------------------------------------------------------------- DEL UNLINK EXISTS TYPE TOUCH

@pytest.mark.parametrize("cmd", ["DEL", "UNLINK"])
def test_del_counts_existing_keys_once(r, cmd):
    r.mset({"a": "1", "b": "2", "c": "3"})
    assert r.execute_command(cmd, "a", "a", "b", "missing", "b") == 2
    assert r.exists("a", "b") == 0
    assert r.get("c") == "3"
    assert r.execute_command(cmd, "missing") == 0
    assert r.execute_command(cmd, "c") == 1
    assert r.dbsize() == 0
    assert_error(r, f"wrong number of arguments for '{cmd.lower()}' command", cmd)


@pytest.mark.parametrize("cmd", ["DEL", "UNLINK"])
def test_del_many_keys(r, cmd):
    n = 3000
    for start in range(0, n, 500):
        r.mset({f"k:{i}": i for i in range(start, start + 500)})
    assert r.dbsize() == n
    names = [f"k:{i}" for i in range(n)] + [f"k:{i}" for i in range(0, n, 7)] + ["nope"]
    assert r.execute_command(cmd, *names) == n
    assert r.dbsize() == 0
    assert r.keys("*") == []


def test_exists_counts_repetitions(r):
    r.set("a", "1")
    r.set("b", "2")
    assert r.exists("a") == 1
    assert r.exists("a", "a", "a") == 3
    assert r.exists("a", "b", "x", "a") == 3
    assert r.exists("x", "y") == 0
    assert_error(r, "wrong number of arguments for 'exists' command", "EXISTS")


def test_type(r):
    r.set("s", "v")
    assert r.type("s") == "string"
    assert r.type("missing") == "none"
    r.delete("s")
    assert r.type("s") == "none"


def test_touch(r):
    r.mset({"b": "1", "c": "2"})
    assert r.touch("b", "c", "x", "b") == 3
    assert r.touch("x") == 0
    assert r.get("b") == "1"  # TOUCH does not change values


# ---------------------------------------------------------------- KEYS

def test_keys_glob_patterns(r):
    for k in ["hello", "hallo", "hillo", "hllo", "heeello", "*", "a*b", "a?b", "axb", "[x", "b", "c"]:
        r.set(k, "1")
    assert sorted(r.keys("*")) == sorted(["hello", "hallo", "hillo", "hllo", "heeello", "*", "a*b",
                                          "a?b", "axb", "[x", "b", "c"])
    assert sorted(r.keys("h?llo")) == ["hallo", "hello", "hillo"]
    assert sorted(r.keys("h*llo")) == ["hallo", "heeello", "hello", "hillo", "hllo"]
    assert sorted(r.keys("h[ae]llo")) == ["hallo", "hello"]
    assert sorted(r.keys("h[^e]llo")) == ["hallo", "hillo"]
    assert sorted(r.keys("h[a-b]llo")) == ["hallo"]
    assert sorted(r.keys("h[b-a]llo")) == ["hallo"]  # reversed ranges work as in Redis
    assert sorted(r.keys("?")) == ["*", "b", "c"]
    assert sorted(r.keys("[!b]")) == ["b"]  # '!' is a literal, only '^' negates
    assert sorted(r.keys("[^b]")) == ["*", "c"]
    assert r.keys("[") == []
    assert r.keys("[a-") == []
    assert r.keys("nothing*") == []


def test_keys_escapes(r):
    for k in ["*", "a*b", "a?b", "axb", "[x", "ab", "a\\b"]:
        r.set(k, "1")
    assert r.keys("\\*") == ["*"]
    assert r.keys("a\\*b") == ["a*b"]
    assert r.keys("a\\?b") == ["a?b"]
    assert sorted(r.keys("a?b")) == ["a*b", "a?b", "a\\b", "axb"]
    assert r.keys("\\[x") == ["[x"]
    assert r.keys("a\\\\b") == ["a\\b"]
    assert r.keys("ab") == ["ab"]


def test_keys_literal_prefix(r):
    """Patterns with a literal prefix only look at that key range: keys just
    before and after it, shorter keys and exact matches must come out right."""
    for k in ["use", "user", "user:", "user:1", "user:10", "user:2", "user;", "userX:1", "usex", "v", "u"]:
        r.set(k, "1")
    assert sorted(r.keys("user:*")) == ["user:", "user:1", "user:10", "user:2"]
    assert sorted(r.keys("user*")) == ["user", "user:", "user:1", "user:10", "user:2", "user;", "userX:1"]
    assert sorted(r.keys("user:1*")) == ["user:1", "user:10"]
    assert r.keys("user:1") == ["user:1"]
    assert r.keys("user:3*") == []
    assert r.keys("zzz*") == []
    assert sorted(r.keys("user?1")) == ["user:1"]
    assert sorted(r.keys("user\\:*")) == ["user:", "user:1", "user:10", "user:2"]


def test_keys_binary_prefix(rb):
    keys = [b"p\xff", b"p\xff\x00", b"p\xff\xffz", b"p\xfe", b"q", b"p"]
    for k in keys:
        rb.set(k, b"1")
    assert sorted(rb.keys(b"p\xff*")) == [b"p\xff", b"p\xff\x00", b"p\xff\xffz"]
    assert sorted(rb.keys(b"p*")) == sorted([b"p\xff", b"p\xff\x00", b"p\xff\xffz", b"p\xfe", b"p"])
    assert rb.keys(b"p\xff\x00") == [b"p\xff\x00"]


def test_keys_per_database(server, r):
    r1 = db_client(server, 1)
    r.set("only0", "1")
    r1.set("only1", "1")
    assert r.keys("*") == ["only0"]
    assert r1.keys("*") == ["only1"]
    assert r1.keys("only0") == []
    r1.close()


# ---------------------------------------------------------------- SCAN

def test_scan_full_returns_every_key_once(r):
    n = 1000
    r.mset({f"key:{i}": i for i in range(n)})
    for count in (1, 17, 10, 5000):
        keys = full_scan(r, count=count)
        assert len(keys) == n, f"count {count}"
        assert set(keys) == {f"key:{i}" for i in range(n)}


def test_scan_empty_db(r):
    assert r.scan(0) == (0, [])
    assert raw_cmd(r, "SCAN", "0") == ["0", []]


def test_scan_count_bounds_page(r):
    r.mset({f"k{i}": i for i in range(50)})
    cursor, page = r.scan(0, count=5)
    assert cursor != 0
    assert 0 < len(page) <= 5
    cursor, page = r.scan(0, count=1000)
    assert cursor == 0
    assert len(page) == 50


def test_scan_match(r):
    r.mset({f"user:{i}": i for i in range(100)})
    r.mset({f"item:{i}": i for i in range(100)})
    keys = full_scan(r, count=7, match="user:1*")
    assert sorted(keys) == sorted(["user:1"] + [f"user:1{i}" for i in range(10)])
    assert full_scan(r, count=7, match="nomatch*") == []
    assert len(full_scan(r, count=7, match="*")) == 200
    assert sorted(full_scan(r, match="item:9?")) == sorted(f"item:9{i}" for i in range(10))


def test_scan_type(r):
    r.mset({"a": "1", "b": "2"})
    assert sorted(full_scan(r, _type="string")) == ["a", "b"]
    assert sorted(r.execute_command("SCAN", "0", "TYPE", "STRING")[1]) == ["a", "b"]
    assert full_scan(r, _type="hash") == []
    assert full_scan(r, _type="nosuchtype") == []
    assert sorted(full_scan(r, match="a*", _type="string")) == ["a"]


def test_scan_errors(server, r):
    r.set("a", "1")
    assert raw_line(server, "SCAN", "abc") == b"-ERR invalid cursor"
    assert_error(r, "invalid cursor", "SCAN", "1.5")
    assert_error(r, "syntax error", "SCAN", "0", "COUNT", "0")
    assert_error(r, "syntax error", "SCAN", "0", "COUNT", "-1")
    assert_error(r, "value is not an integer or out of range", "SCAN", "0", "COUNT", "x")
    assert_error(r, "syntax error", "SCAN", "0", "MATCH")
    assert_error(r, "syntax error", "SCAN", "0", "FOO", "bar")
    assert_error(r, "wrong number of arguments for 'scan' command", "SCAN")


def test_scan_cursor_stable_across_writes(r):
    """Keys present for the whole scan are all returned (and exactly once,
    which Strata guarantees beyond Redis), while other keys are added and
    deleted between calls."""
    stable = {f"stable:{i}" for i in range(300)}
    r.mset({k: "1" for k in stable})
    temps = [f"temp:{i}" for i in range(200)]
    r.mset({k: "1" for k in temps})
    seen, cursor, calls, added = [], 0, 0, 0
    while True:
        cursor, page = r.scan(cursor, count=10)
        seen += page
        calls += 1
        assert calls < 1000, "SCAN did not finish"
        if cursor == 0:
            break
        # Writes between calls, spread over the key space before and after
        # the cursor position.
        r.mset({f"new:{added + j}": "1" for j in range(3)} | {f"zz:{added + j}": "1" for j in range(2)}
               | {f"aa:{added + j}": "1" for j in range(2)})
        added += 3
        for _ in range(3):
            if temps:
                r.delete(temps.pop())
    assert len(seen) == len(set(seen)), "a key was returned twice"
    assert stable <= set(seen)
    universe = stable | {f"temp:{i}" for i in range(200)} | {f"{p}:{i}" for p in ("new", "zz", "aa") for i in range(added + 3)}
    assert set(seen) <= universe


def test_scan_interleaved_cursors(r):
    r.mset({f"k:{i}": i for i in range(200)})
    c1 = c2 = None
    a, b = [], []
    for _ in range(1000):
        if c1 != 0:
            c1, page = r.scan(c1 or 0, count=7)
            a += page
        if c2 != 0:
            c2, page = r.scan(c2 or 0, count=13)
            b += page
        if c1 == 0 and c2 == 0:
            break
    assert c1 == 0 and c2 == 0
    assert sorted(a) == sorted(b) == sorted(f"k:{i}" for i in range(200))


def test_scan_per_database(server, r):
    r3 = db_client(server, 3)
    r.mset({f"zero:{i}": i for i in range(20)})
    r3.mset({f"three:{i}": i for i in range(30)})
    assert sorted(full_scan(r3, count=4)) == sorted(f"three:{i}" for i in range(30))
    assert sorted(full_scan(r, count=4)) == sorted(f"zero:{i}" for i in range(20))
    r3.close()


def test_scan_iter(r):
    r.mset({f"user:{i}": i for i in range(57)})
    r.mset({f"other:{i}": i for i in range(40)})
    got = list(r.scan_iter(match="user:*", count=3))
    assert len(got) == 57
    assert set(got) == {f"user:{i}" for i in range(57)}
    assert len(list(r.scan_iter(count=1000))) == 97
    assert len(list(r.scan_iter(_type="string"))) == 97


# ---------------------------------------------------------------- RANDOMKEY

def test_randomkey(server, r):
    assert r.randomkey() is None
    assert raw_line(server, "RANDOMKEY") == b"$-1"
    r.set("only", "1")
    for _ in range(5):
        assert r.randomkey() == "only"
    r.mset({f"k{i}": i for i in range(100)})
    seen = {r.randomkey() for _ in range(40)}
    assert seen <= {"only"} | {f"k{i}" for i in range(100)}
    assert len(seen) > 1  # not always the same key (spread: see below)
    r.flushdb()
    assert r.randomkey() is None


def test_randomkey_spread(make_server):
    """Redis picks keys about uniformly: 1000 draws over 1000 keys hit ~630
    distinct keys and no key more than a handful of times."""
    # A fresh server: on the shared one, tombstones left by earlier tests make
    # each RANDOMKEY cost milliseconds.
    r = make_server().start().client(decode_responses=True)
    n = 1000
    r.mset({f"k{i}": i for i in range(n)})
    p = r.pipeline(transaction=False)
    for _ in range(n):
        p.randomkey()
    draws = p.execute()
    most = max(draws.count(k) for k in set(draws))
    assert len(set(draws)) > 400 and most < 20, (len(set(draws)), most)


# ---------------------------------------------------------------- RENAME RENAMENX

def test_rename(r):
    r.set("a", "1")
    assert r.rename("a", "b") is True
    assert r.get("a") is None
    assert r.get("b") == "1"
    r.set("c", "3")
    assert r.rename("b", "c") is True  # overwrites
    assert r.get("c") == "1"
    assert r.dbsize() == 1


def test_rename_missing_key(server, r):
    assert raw_line(server, "RENAME", "nokey", "x") == b"-ERR no such key"
    assert raw_line(server, "RENAMENX", "nokey", "x") == b"-ERR no such key"
    assert_error(r, "no such key", "RENAME", "nokey", "nokey")
    assert_error(r, "no such key", "RENAMENX", "nokey", "nokey")
    assert r.dbsize() == 0


def test_rename_same_name(r):
    r.set("a", "1", ex=100)
    assert r.rename("a", "a") is True
    assert r.renamenx("a", "a") is False
    assert r.get("a") == "1"
    assert 99 <= r.ttl("a") <= 100


def test_renamenx(r):
    r.mset({"a": "1", "b": "2"})
    assert r.renamenx("a", "b") is False
    assert r.get("a") == "1" and r.get("b") == "2"
    assert r.renamenx("a", "c") is True
    assert r.get("a") is None and r.get("c") == "1"


def test_rename_carries_ttl(r):
    r.set("t", "v", ex=100)
    r.rename("t", "t2")
    assert 99 <= r.ttl("t2") <= 100
    assert r.ttl("t") == -2
    assert r.renamenx("t2", "t3") is True
    assert 99 <= r.ttl("t3") <= 100
    # The destination's own TTL is replaced by the source's (none here).
    r.set("p", "persistent")
    r.set("d", "volatile", ex=500)
    r.rename("p", "d")
    assert r.ttl("d") == -1
    assert r.get("d") == "persistent"


# ---------------------------------------------------------------- COPY

def test_copy(r):
    r.set("src", "v")
    assert r.copy("src", "dst") is True
    assert r.get("src") == "v" and r.get("dst") == "v"
    r.set("src", "v2")
    assert r.copy("src", "dst") is False
    assert r.get("dst") == "v"
    assert r.copy("src", "dst", replace=True) is True
    assert r.get("dst") == "v2"
    assert r.copy("missing", "dst2") is False
    assert r.exists("dst2") == 0
    assert r.dbsize() == 2


def test_copy_carries_ttl(r):
    r.set("src", "v", ex=100)
    r.set("dst", "old")
    assert r.copy("src", "dst", replace=True) is True
    assert 99 <= r.ttl("dst") <= 100
    r.set("p", "persistent")
    assert r.copy("p", "dst", replace=True) is True
    assert r.ttl("dst") == -1


def test_copy_db_option(server, r):
    r1 = db_client(server, 1)
    r.set("k", "v0")
    assert r.copy("k", "k", destination_db=1) is True
    assert r1.get("k") == "v0"
    r.set("k", "v0b")
    assert r.copy("k", "k", destination_db=1) is False
    assert r1.get("k") == "v0"
    assert r.copy("k", "k", destination_db=1, replace=True) is True
    assert r1.get("k") == "v0b"
    assert r.copy("k", "other", destination_db=15) is True
    assert db_client(server, 15).get("other") == "v0b"
    assert r.dbsize() == 1 and r1.dbsize() == 1
    r1.close()


def test_copy_errors(server, r):
    r.set("k", "v")
    assert raw_line(server, "COPY", "k", "k") == b"-ERR source and destination objects are the same"
    assert_error(r, "source and destination objects are the same", "COPY", "k", "k", "DB", "0")
    assert_error(r, "source and destination objects are the same", "COPY", "k", "k", "REPLACE")
    assert_error(r, "DB index is out of range", "COPY", "k", "x", "DB", "16")
    assert_error(r, "DB index is out of range", "COPY", "k", "x", "DB", "-1")
    assert_error(r, "value is not an integer or out of range", "COPY", "k", "x", "DB", "one")
    assert_error(r, "syntax error", "COPY", "k", "x", "DB")
    assert_error(r, "syntax error", "COPY", "k", "x", "FOO")
    assert r.copy("k", "x", replace=True) is True
    assert r.execute_command("COPY", "k", "y", "REPLACE", "REPLACE") == 1


# ---------------------------------------------------------------- MOVE

def test_move(server, r):
    r1 = db_client(server, 1)
    r.set("k", "v", ex=100)
    assert r.move("k", 1) is True
    assert r.exists("k") == 0
    assert r1.get("k") == "v"
    assert 99 <= r1.ttl("k") <= 100
    assert r.dbsize() == 0 and r1.dbsize() == 1
    assert r.move("missing", 1) is False
    r1.close()


def test_move_existing_destination(server, r):
    r1 = db_client(server, 1)
    r.set("k", "zero")
    r1.set("k", "one")
    assert r.move("k", 1) is False
    assert r.get("k") == "zero" and r1.get("k") == "one"
    r1.close()


def test_move_errors(server, r):
    r.set("k", "v")
    assert raw_line(server, "MOVE", "k", "0") == b"-ERR source and destination objects are the same"
    assert_error(r, "DB index is out of range", "MOVE", "k", "16")
    assert_error(r, "DB index is out of range", "MOVE", "k", "-1")
    assert_error(r, "value is not an integer or out of range", "MOVE", "k", "x")
    assert r.get("k") == "v"


# ---------------------------------------------------------------- SWAPDB SELECT

def test_swapdb(server, r):
    r1 = db_client(server, 1)
    r.mset({"a": "db0", "only0": "x"})
    r1.set("a", "db1")
    assert r.swapdb(0, 1) is True
    # Connections keep their index: they now see the other dataset.
    assert r.get("a") == "db1" and r.exists("only0") == 0 and r.dbsize() == 1
    assert r1.get("a") == "db0" and r1.get("only0") == "x" and r1.dbsize() == 2
    assert r.swapdb(1, 0) is True
    assert r.get("a") == "db0" and r1.get("a") == "db1"
    assert r.swapdb(5, 5) is True
    assert r.get("a") == "db0"
    r1.close()


def test_swapdb_errors(server, r):
    assert raw_line(server, "SWAPDB", "x", "0") == b"-ERR invalid first DB index"
    assert raw_line(server, "SWAPDB", "0", "x") == b"-ERR invalid second DB index"
    assert raw_line(server, "SWAPDB", "0", "16") == b"-ERR DB index is out of range"
    assert_error(r, "DB index is out of range", "SWAPDB", "16", "0")
    assert_error(r, "DB index is out of range", "SWAPDB", "0", "-1")
    assert_error(r, "invalid first DB index", "SWAPDB", "1.5", "0")
    assert_error(r, "wrong number of arguments for 'swapdb' command", "SWAPDB", "0")


def test_swapdb_persists_across_restart(make_server):
    s = make_server().start()
    c0 = s.client(db=0, decode_responses=True)
    c0.set("k", "was0")
    s.client(db=2, decode_responses=True).mset({"k": "was2", "k2": "x"})
    assert c0.swapdb(0, 2) is True
    s.stop()
    s.start()
    c0 = s.client(db=0, decode_responses=True)
    c2 = s.client(db=2, decode_responses=True)
    assert c0.get("k") == "was2" and c0.dbsize() == 2
    assert c2.get("k") == "was0" and c2.dbsize() == 1


def test_select(server, r):
    for db in range(DATABASES):
        assert raw_cmd(r, "SELECT", db) == "OK"
    assert raw_cmd(r, "SELECT", 0) == "OK"
    assert raw_line(server, "SELECT", "16") == b"-ERR DB index is out of range"
    assert_error(r, "DB index is out of range", "SELECT", "-1")
    assert_error(r, "value is not an integer or out of range", "SELECT", "x")
    assert_error(r, "value is not an integer or out of range", "SELECT", "1.0")


# ---------------------------------------------------------------- DBSIZE FLUSHDB FLUSHALL

def fill_databases(server):
    """Puts db+1 keys into every database; returns the expected sizes."""
    for db in range(DATABASES):
        c = db_client(server, db)
        c.mset({f"k:{i}": i for i in range(db + 1)})
        c.close()
    return [db + 1 for db in range(DATABASES)]


def sizes(server):
    out = []
    for db in range(DATABASES):
        c = db_client(server, db)
        out.append(c.dbsize())
        c.close()
    return out


def test_dbsize_exact(server, r):
    assert r.dbsize() == 0
    r.set("a", "1")
    r.set("a", "2")  # overwrite does not count twice
    assert r.dbsize() == 1
    r.delete("missing")
    assert r.dbsize() == 1
    r.rename("a", "b")
    assert r.dbsize() == 1
    r.copy("b", "c")
    assert r.dbsize() == 2
    r.delete("b", "c")
    assert r.dbsize() == 0


def test_dbsize_across_databases_and_flushdb(server, r):
    expected = fill_databases(server)
    assert sizes(server) == expected
    c3 = db_client(server, 3)
    assert c3.flushdb() is True
    expected[3] = 0
    assert sizes(server) == expected
    c5 = db_client(server, 5)
    assert raw_cmd(c5, "FLUSHDB", "ASYNC") == "OK"
    expected[5] = 0
    assert sizes(server) == expected
    c7 = db_client(server, 7)
    assert raw_cmd(c7, "FLUSHDB", "sync") == "OK"
    expected[7] = 0
    assert sizes(server) == expected
    assert_error(c7, "syntax error", "FLUSHDB", "foo")
    assert_error(c7, "syntax error", "FLUSHALL", "async", "sync")
    assert sizes(server) == expected
    # Flushed databases work normally afterwards.
    c3.set("again", "1")
    assert c3.dbsize() == 1 and c3.keys("*") == ["again"]
    for c in (c3, c5, c7):
        c.close()


@pytest.mark.parametrize("mode", [None, "ASYNC", "SYNC"])
def test_flushall(server, r, mode):
    fill_databases(server)
    args = ["FLUSHALL"] + ([mode] if mode else [])
    assert raw_cmd(r, *args) == "OK"
    assert sizes(server) == [0] * DATABASES
    assert r.keys("*") == [] and r.randomkey() is None


def test_dbsize_after_restart(make_server):
    s = make_server().start()
    expected = fill_databases(s)
    c4 = db_client(s, 4)
    c4.flushdb()
    expected[4] = 0
    c9 = db_client(s, 9)
    c9.delete("k:0", "k:1")
    expected[9] -= 2
    s.stop()
    s.start()
    assert sizes(s) == expected
    assert s.client().flushall() is True
    s.stop()
    s.start()
    assert sizes(s) == [0] * DATABASES


# ---------------------------------------------------------------- OBJECT

OBJECT_HELP = [
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
]


@pytest.fixture
def restore_policy(r):
    yield
    r.config_set("maxmemory-policy", "noeviction")


def test_object_encoding(r):
    cases = {
        "short": ("abc", "embstr"),
        "int": ("123", "int"),
        "neg": ("-5", "int"),
        "zero": ("0", "int"),
        "lead0": ("0123", "embstr"),
        "toobig": ("12345678901234567890", "embstr"),
        "e44": ("x" * 44, "embstr"),
        "e45": ("x" * 45, "raw"),
    }
    for k, (v, _) in cases.items():
        r.set(k, v)
    for k, (_, enc) in cases.items():
        assert r.object("encoding", k) == enc, k
    r.set("app", "abc")
    r.append("app", "d")
    assert r.object("encoding", "app") == "raw"
    assert r.object("encoding", "missing") is None


def test_object_refcount(r):
    r.set("s", "abc")
    assert r.object("refcount", "s") == 1
    # Redis shares the integers 0..9999: their refcount is INT_MAX.
    r.set("shared", "123")
    assert r.object("refcount", "shared") == 2147483647
    r.set("big", "10000")
    assert r.object("refcount", "big") == 1
    r.set("neg", "-1")
    assert r.object("refcount", "neg") == 1
    assert r.object("refcount", "missing") is None


def test_object_idletime(r):
    r.set("k", "v")
    assert r.object("idletime", "k") == 0
    assert r.object("idletime", "missing") is None


def test_object_freq_needs_lfu(r, restore_policy):
    r.set("k", "v")
    assert_error(r, "An LFU maxmemory policy is not selected, access frequency not tracked. "
                    "Please note that when switching between policies at runtime LRU and LFU "
                    "data will take some time to adjust.", "OBJECT", "FREQ", "k")
    assert r.object("freq", "missing") is None
    assert r.config_set("maxmemory-policy", "allkeys-lfu") is True
    freq = r.object("freq", "k")
    assert isinstance(freq, int) and 0 <= freq <= 255
    assert r.object("freq", "missing") is None
    assert_error(r, "An LFU maxmemory policy is selected, idle time not tracked. Please note "
                    "that when switching between policies at runtime LRU and LFU data will "
                    "take some time to adjust.", "OBJECT", "IDLETIME", "k")
    assert r.object("idletime", "missing") is None
    r.config_set("maxmemory-policy", "volatile-lfu")
    assert isinstance(r.object("freq", "k"), int)
    r.config_set("maxmemory-policy", "allkeys-lru")
    assert r.object("idletime", "k") <= 1  # one-second resolution, as Redis
    assert_error(r, "An LFU maxmemory policy is not selected, access frequency not tracked. "
                    "Please note that when switching between policies at runtime LRU and LFU "
                    "data will take some time to adjust.", "OBJECT", "FREQ", "k")


def test_object_help_and_errors(server, r):
    assert raw_cmd(r, "OBJECT", "HELP") == OBJECT_HELP
    assert raw_cmd(r, "object", "help") == OBJECT_HELP
    assert raw_line(server, "OBJECT", "foo", "k") == b"-ERR unknown subcommand 'foo'. Try OBJECT HELP."
    assert_error(r, "unknown subcommand 'foo'. Try OBJECT HELP.", "OBJECT", "foo")
    assert_error(r, "wrong number of arguments for 'object|encoding' command", "OBJECT", "ENCODING")
    assert_error(r, "wrong number of arguments for 'object|encoding' command", "OBJECT", "encoding", "a", "b")
    assert_error(r, "wrong number of arguments for 'object|freq' command", "OBJECT", "FREQ")
    assert_error(r, "wrong number of arguments for 'object|idletime' command", "OBJECT", "IdleTime")
    assert_error(r, "wrong number of arguments for 'object|refcount' command", "OBJECT", "refcount")
    assert_error(r, "wrong number of arguments for 'object|help' command", "OBJECT", "help", "x")
    assert_error(r, "wrong number of arguments for 'object' command", "OBJECT")


def test_object_idletime_grows(r):
    r.set("k", "v")
    start = r.time()[0]
    wait_until(lambda: r.time()[0] >= start + 2, timeout=5, msg="two seconds on the server clock")
    assert r.object("idletime", "k") >= 1
    # Looking at a key is not an access of it (Redis's LOOKUP_NOTOUCH)...
    for sub in ("encoding", "refcount", "idletime"):
        r.object(sub, "k")
    before = r.debug_object("k")
    assert before["lru_seconds_idle"] >= 1
    assert r.object("idletime", "k") >= 1
    # ...reading it is.
    assert r.get("k") == "v"
    assert r.debug_object("k")["lru"] > before["lru"]

"""Integration tests for the HyperLogLog commands (server/cmd_hll.c over
server/hll.c): PFADD, PFCOUNT, PFMERGE, PFDEBUG and PFSELFTEST.

Every value, estimate and error below is a fact obtained from redis-server
7.0.15 running the same commands: short values byte for byte, long ones by
length and the first 16 hex digits of their SHA-1.  An HLL is a string whose
bytes must equal Redis's, cached cardinality included, so GET is checked
after PFADD, PFCOUNT and PFMERGE alike.
"""
import hashlib

import pytest
import redis

from checks import assert_error, raw_line
from strata import wait_until

HLL_WRONGTYPE = "WRONGTYPE Key is not a valid HyperLogLog string value."
WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
CORRUPT = "INVALIDOBJ Corrupted HLL object detected"
DENSE_BYTES = 12304
EMPTY = b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f\xff"
SPARSE_HDR_STALE = b"HYLL\x01\x00\x00\x00" + b"\x00" * 7 + b"\x80"

# PFADD elem:1..elem:n in commands of 50 (then 500, then 10000), each followed
# by GET and PFCOUNT: (n, len(GET), sha1(GET)[:16], PFCOUNT).  The value turns
# dense between 1650 and 1700 elements (past hll-sparse-max-bytes 3000).
GROWTH = [
    (50, 158, '1fab7124162c52c0', 50),
    (100, 278, '197cc1d8bd824fb5', 100),
    (150, 384, '9ee1436f6692f8c1', 150),
    (200, 494, '698c6d03ff9f96b6', 200),
    (250, 598, '72f2c366f66341c0', 251),
    (300, 700, '317a50fcc3949119', 302),
    (350, 782, 'a06f371ebb4be25a', 351),
    (400, 874, '587305cbac5ad9e1', 402),
    (450, 961, '7ae6905ff468d6d0', 453),
    (500, 1048, '02b67f8a8ba8f1c2', 505),
    (550, 1135, 'a49e1a62dbaf7628', 555),
    (600, 1222, 'e678b63216b0b9f8', 604),
    (650, 1307, '8e69606b1caffd88', 650),
    (700, 1396, '41a0b70aa29a6906', 701),
    (750, 1484, '29234a2d0c4b837a', 752),
    (800, 1565, 'c75ace2f2c18f980', 801),
    (850, 1649, '8aa9ec0ac0f02a63', 852),
    (900, 1739, '91eb3af3d35e6d6b', 902),
    (950, 1824, '83fd73f5ee172712', 953),
    (1000, 1914, '80643baf39a3e36d', 1005),
    (1050, 2007, '867348125df5ce5b', 1058),
    (1100, 2090, 'bc7209ef11e23f94', 1106),
    (1150, 2169, '301b198f20e34613', 1155),
    (1200, 2251, 'b7ab5e4f41dbf7f7', 1205),
    (1250, 2334, '0ded5bbb13d38e81', 1254),
    (1300, 2418, '8346f878f87ecc73', 1305),
    (1350, 2493, 'af84fa3364a490c0', 1353),
    (1400, 2568, '36fba4674a82421b', 1401),
    (1450, 2656, 'e3c32efd7cecab81', 1451),
    (1500, 2740, 'ebd3bfd77ec394aa', 1504),
    (1550, 2826, '2551a20f6d310ce9', 1554),
    (1600, 2893, '7b75739bbf44411b', 1604),
    (1650, 2981, '9d910f7730e54592', 1655),
    (1700, 12304, '7d1db7cacc24d6a8', 1705),
    (1750, 12304, '4877988cd909a951', 1751),
    (1800, 12304, '105fefa4236f2048', 1797),
    (1850, 12304, '554b1142982a9a95', 1846),
    (1900, 12304, '238f696201a5fac7', 1894),
    (1950, 12304, '92f2754fb373222e', 1945),
    (2000, 12304, 'ab5ed8dffdf67956', 1994),
    (2500, 12304, 'e2f23d86acf62fbb', 2487),
    (3000, 12304, '310834ffee3aa2bd', 2987),
    (3500, 12304, 'e66e84d94dd750f6', 3474),
    (4000, 12304, 'a6a3ce87c69027b7', 3964),
    (4500, 12304, 'cf64abee6fb6d0d0', 4467),
    (5000, 12304, '873cf559fb1dbe67', 4973),
    (5500, 12304, '10210f0ca0bc84ca', 5480),
    (6000, 12304, '08692bc5da4e7f8b', 5961),
    (6500, 12304, '6b0d9e9bf81f3d84', 6447),
    (7000, 12304, '57d8d2b7a61575fa', 6952),
    (7500, 12304, '7236e8ef1ed4b603', 7454),
    (8000, 12304, '4699b9b27cae0419', 7903),
    (8500, 12304, '125e2f2f9f451243', 8411),
    (9000, 12304, '1cace0948e034660', 8930),
    (19000, 12304, '034519b7b28ff6ed', 18682),
    (29000, 12304, 'd51135456a96d0fd', 28579),
]

# PFCOUNT after PFADD of "0".."n-1", added checkpoint by checkpoint.
COUNTS = {1: 1, 2: 2, 3: 3, 10: 10, 50: 50, 100: 100, 200: 201, 500: 503, 1000: 1001,
          2000: 2007, 5000: 4985, 10000: 9987, 20000: 19891, 50000: 50354, 100000: 99565}


def sha16(v):
    return hashlib.sha1(v).hexdigest()[:16]


def err(cl, *args):
    """Runs a command that must fail; returns the error text."""
    with pytest.raises(redis.ResponseError) as ei:
        cl.execute_command(*args)
    return str(ei.value)


def make_non_string(cl, key):
    """Creates key with a collection type, with whichever one this build has."""
    for args in (("HSET", key, "f", "v"), ("SADD", key, "m"), ("RPUSH", key, "e")):
        try:
            cl.execute_command(*args)
            return
        except redis.ResponseError as e:
            if "unknown command" not in str(e):
                raise
    pytest.skip("no collection type in this build")


@pytest.fixture
def sparse_max(rb):
    """Sets hll-sparse-max-bytes for the test; restores Redis's default."""
    def set_(n):
        assert rb.config_set("hll-sparse-max-bytes", n)
    yield set_
    rb.config_set("hll-sparse-max-bytes", 3000)


def pfadd_range(cl, key, fmt, lo, hi):
    """PFADD of fmt % i for i in [lo, hi) in one command."""
    return cl.pfadd(key, *[fmt % i for i in range(lo, hi)])


# ============================== PFADD =======================================


def test_pfadd_creates_empty_sparse(rb):
    assert rb.execute_command("PFADD", "e") == 1
    assert rb.get("e") == EMPTY
    assert rb.execute_command("PFADD", "e") == 0
    assert rb.type("e") == b"string"
    assert rb.object("encoding", "e") == b"raw"
    assert rb.pfcount("e") == 0


def test_pfadd_pfcount_bytes(rb):
    assert rb.pfadd("a", "x", "y", "z") == 1
    assert rb.get("a") == SPARSE_HDR_STALE + b"a\x84\x80X\xcd\x88E\xa0\x84\x08"
    # PFCOUNT stores the estimate in the header, cache marked current.
    assert rb.pfcount("a") == 3
    counted = b"HYLL\x01\x00\x00\x00\x03" + b"\x00" * 7 + b"a\x84\x80X\xcd\x88E\xa0\x84\x08"
    assert rb.get("a") == counted
    assert rb.pfcount("a") == 3
    # Re-adding changes no register: 0 and nothing written.
    assert rb.pfadd("a", "x", "z") == 0
    assert rb.get("a") == counted
    # A change marks the cache stale by one bit; the old count stays.
    assert rb.pfadd("a", "w") == 1
    assert rb.get("a") == (b"HYLL\x01\x00\x00\x00\x03\x00\x00\x00\x00\x00\x00\x80"
                           b"PG\x84Q;\x80X\xcd\x88E\xa0\x84\x08")
    assert rb.pfcount("a") == 4


def test_growth_and_promotion_match_redis(rb):
    n = 0
    for want_n, want_len, want_sha, want_count in GROWTH:
        pfadd_range(rb, "g", "elem:%d", n + 1, want_n + 1)
        n = want_n
        v = rb.get("g")
        assert (n, len(v), sha16(v)) == (want_n, want_len, want_sha)
        assert rb.pfcount("g") == want_count
    assert rb.execute_command("PFDEBUG", "ENCODING", "g") == b"dense"


def test_sparse_max_bytes_directive(rb, sparse_max):
    assert rb.config_get("hll-sparse-max-bytes") == {"hll-sparse-max-bytes": "3000"}
    sparse_max(100)
    assert rb.config_get("hll-sparse-max-bytes") == {"hll-sparse-max-bytes": "100"}
    pfadd_range(rb, "small", "x%d", 0, 20)
    assert rb.get("small").hex() == (
        "48594c4c01000000000000000000008043729442a384482b844295b4404390412b8042a080"
        "456880425984412f8c40c88445ab80465f98417f8c47188024842d8844d28c410884460f884061")
    pfadd_range(rb, "small", "x%d", 20, 40)
    v = rb.get("small")
    assert (len(v), sha16(v)) == (DENSE_BYTES, "b3e666aa0115ba66")
    sparse_max(0)
    rb.pfadd("zero", "a")
    assert len(rb.get("zero")) == DENSE_BYTES


# ============================== PFCOUNT =====================================


def test_estimates_match_redis(rb):
    lo = 0
    for n, want in COUNTS.items():
        pfadd_range(rb, "cnt", "%d", lo, n)
        lo = n
        card = rb.pfcount("cnt")
        assert card == want, n
        # Redis's standard error is 1.04 / sqrt(16384) = 0.81%.
        assert abs(card - n) <= max(1, 0.025 * n)
    assert sha16(rb.get("cnt")) == "34aa9fd8ef04422f"


def test_pfcount_of_several_keys_writes_nothing(rb):
    rb.pfadd("k1", "a", "b", "c")
    rb.pfadd("k2", "c", "d")
    before = (rb.get("k1"), rb.get("k2"))
    assert rb.pfcount("k1", "k2", "missing") == 4
    assert rb.pfcount("missing", "also-missing") == 0
    assert (rb.get("k1"), rb.get("k2")) == before
    assert rb.exists("missing") == 0
    # Single-key PFCOUNT of a missing key creates nothing either.
    assert rb.pfcount("missing") == 0
    assert rb.exists("missing") == 0


def test_modifying_commands_keep_ttl(rb):
    rb.pfadd("t", "a", "b", "c")
    rb.expire("t", 1000)
    rb.pfadd("t", "d")
    assert 990 < rb.ttl("t") <= 1000
    assert rb.pfcount("t") == 4  # writes the cache back
    assert rb.get("t")[15] == 0
    assert 990 < rb.ttl("t") <= 1000
    rb.pfadd("src", "z")
    rb.pfmerge("t", "src")
    assert 990 < rb.ttl("t") <= 1000
    rb.pfmerge("fresh", "t")
    assert rb.ttl("fresh") == -1


def test_keyspace_hit_counting(rb):
    """Like Redis: PFCOUNT is a read (hits and misses count), PFADD and
    PFDEBUG are not."""
    def stats():
        i = rb.info("stats")
        return i["keyspace_hits"], i["keyspace_misses"]
    h0, m0 = stats()
    rb.pfadd("k", "a")
    rb.pfadd("k", "b")
    rb.execute_command("PFDEBUG", "ENCODING", "k")
    assert stats() == (h0, m0)
    rb.pfcount("k")
    assert stats() == (h0 + 1, m0)
    rb.pfcount("nokey")
    assert stats() == (h0 + 1, m0 + 1)
    rb.pfcount("k", "nokey")
    assert stats() == (h0 + 2, m0 + 2)


# ============================== PFMERGE =====================================


def test_pfmerge_matches_redis(rb):
    pfadd_range(rb, "cnt", "%d", 0, 100000)
    pfadd_range(rb, "m1", "a%d", 0, 300)
    pfadd_range(rb, "m2", "b%d", 0, 300)
    # Two sparse inputs: the destination stays sparse.
    assert rb.pfmerge("m3", "m1", "m2")
    v = rb.get("m3")
    assert (len(v), sha16(v), rb.pfcount("m3")) == (1218, "bb3e2931b69e6039", 603)
    # A dense input makes the destination dense.
    assert rb.pfmerge("m4", "m1", "cnt")
    v = rb.get("m4")
    assert (len(v), sha16(v), rb.pfcount("m4")) == (DENSE_BYTES, "588728f16b7a395f", 99886)
    # Into an existing sparse destination.
    assert rb.pfmerge("m1", "m2")
    v = rb.get("m1")
    assert (len(v), sha16(v)) == (1218, "bb3e2931b69e6039")
    assert rb.pfcount("m2", "cnt", "nokey") == 99829


def test_pfmerge_creates_and_invalidates(rb, server):
    assert raw_line(server, "PFMERGE", "new") == b"+OK"
    assert rb.get("new") == EMPTY
    rb.pfadd("k", "a")
    assert rb.pfmerge("m", "nokey", "k")
    assert rb.get("m") == SPARSE_HDR_STALE + b"q\xa6\x84NW"
    # Always written: a current cache goes stale even when nothing changed.
    assert rb.pfcount("m") == 1
    assert rb.get("m")[15] == 0
    assert rb.pfmerge("m", "k")
    assert rb.get("m")[15] == 0x80
    assert rb.get("m")[8] == 1


# ============================== Errors ======================================


@pytest.mark.parametrize("value", [
    b"123",                                        # int-encoded in Redis
    b"hello world",
    b"HYLL\x01\x00",                               # shorter than the header
    b"HYLX" + SPARSE_HDR_STALE[4:] + b"\x7f\xff",  # magic
    b"HYLL\x02" + SPARSE_HDR_STALE[5:] + b"\x7f\xff",  # encoding
    b"HYLL\x00" + SPARSE_HDR_STALE[5:] + b"\x00" * 100,  # dense of the wrong size
])
def test_strings_that_are_not_hlls(rb, value, server):
    rb.set("s", value)
    rb.pfadd("h", "a")
    for args in (("PFADD", "s", "a"), ("PFADD", "s"), ("PFCOUNT", "s"), ("PFCOUNT", "h", "s"),
                 ("PFMERGE", "s", "h"), ("PFMERGE", "h", "s"), ("PFDEBUG", "ENCODING", "s")):
        assert err(rb, *args) == HLL_WRONGTYPE, args
    assert raw_line(server, "PFCOUNT", "s") == b"-" + HLL_WRONGTYPE.encode()
    assert rb.get("s") == value


def test_wrong_type(rb):
    make_non_string(rb, "coll")
    rb.pfadd("h", "a")
    for args in (("PFADD", "coll", "a"), ("PFCOUNT", "coll"), ("PFCOUNT", "h", "coll"),
                 ("PFMERGE", "coll", "h"), ("PFMERGE", "h", "coll"),
                 ("PFDEBUG", "ENCODING", "coll")):
        assert err(rb, *args) == WRONGTYPE, args


def test_corrupt_sparse_values(rb, server):
    # Opcodes covering 16383 registers instead of 16384.
    short = SPARSE_HDR_STALE + b"\x7f\xfe"
    rb.set("bad", short)
    rb.pfadd("h", "a")
    for args in (("PFCOUNT", "bad"), ("PFCOUNT", "h", "bad"), ("PFMERGE", "d", "bad"),
                 ("PFMERGE", "bad", "h"), ("PFDEBUG", "GETREG", "bad"),
                 ("PFDEBUG", "TODENSE", "bad")):
        assert err(rb, *args) == CORRUPT, args
    assert raw_line(server, "PFCOUNT", "bad") == b"-" + CORRUPT.encode()
    assert rb.exists("d") == 0
    assert rb.get("bad") == short
    # Redis too only notices when the register it needs is missing.
    assert rb.pfadd("bad", "a") == 1
    assert rb.get("bad") == SPARSE_HDR_STALE + b"q\xa6\x84NV"
    rb.set("empty", SPARSE_HDR_STALE)
    assert err(rb, "PFADD", "empty", "a") == CORRUPT
    assert rb.get("empty") == SPARSE_HDR_STALE
    # A value above 32 turns the value dense, which checks every opcode.
    rb.set("bad2", short)
    assert err(rb, "PFDEBUG", "TODENSE", "bad2") == CORRUPT


def test_valid_cache_is_trusted(rb):
    """As Redis: a current cache is answered without looking at registers."""
    rb.set("c", b"HYLL\x01\x00\x00\x00\x05" + b"\x00" * 7 + b"\x7f\xff")
    assert rb.pfcount("c") == 5
    assert rb.pfcount("c", "nokey") == 0


def test_arity(rb):
    for cmd in ("PFADD", "PFCOUNT", "PFMERGE"):
        assert err(rb, cmd) == f"wrong number of arguments for '{cmd.lower()}' command"
    assert err(rb, "PFDEBUG", "ENCODING") == "wrong number of arguments for 'pfdebug' command"
    assert err(rb, "PFSELFTEST", "x") == "wrong number of arguments for 'pfselftest' command"


def test_command_info(r):
    r.response_callbacks.clear()  # the reply as sent, not redis-py's dict
    info = r.execute_command("COMMAND", "INFO", "pfadd", "pfcount", "pfmerge")
    got = [(i[0], i[1], sorted(i[2]), i[3], i[4], i[5]) for i in info]
    assert got == [
        ("pfadd", -2, ["denyoom", "fast", "write"], 1, 1, 1),
        ("pfcount", -2, ["readonly"], 1, -1, 1),
        ("pfmerge", -2, ["denyoom", "write"], 1, -1, 1),
    ]


# ============================== PFDEBUG / PFSELFTEST ========================


def test_pfdebug(rb):
    assert err(rb, "PFDEBUG", "ENCODING", "nokey") == "The specified key does not exist"
    assert err(rb, "PFDEBUG", "FOO", "nokey") == "The specified key does not exist"
    rb.pfadd("k", "a")
    assert err(rb, "PFDEBUG", "FOO", "k") == "Unknown PFDEBUG subcommand 'FOO'"
    assert rb.execute_command("PFDEBUG", "ENCODING", "k") == b"sparse"
    assert rb.execute_command("PFDEBUG", "DECODE", "k") == b"Z:12711 v:2,1 Z:3672"
    rb.pfadd("k", *[str(i) for i in range(1, 6)])
    assert rb.execute_command("PFDEBUG", "DECODE", "k") == (
        b"Z:495 v:2,1 Z:2084 v:1,1 Z:4946 v:1,1 Z:3445 v:1,1 Z:1737 v:2,1 Z:2659 v:4,1 Z:1012")
    assert rb.execute_command("PFDEBUG", "TODENSE", "k") == 1
    assert rb.execute_command("PFDEBUG", "TODENSE", "k") == 0
    assert len(rb.get("k")) == DENSE_BYTES
    assert rb.execute_command("PFDEBUG", "ENCODING", "k") == b"dense"
    assert err(rb, "PFDEBUG", "DECODE", "k") == "HLL encoding is not sparse"
    regs = rb.execute_command("PFDEBUG", "GETREG", "k")
    assert len(regs) == 16384 and regs[12711] == 2 and sum(1 for x in regs if x) == 6
    assert rb.pfcount("k") == 6


def test_pfdebug_getreg_turns_dense(rb):
    rb.pfadd("k", "a")
    assert rb.pfcount("k") == 1
    regs = rb.execute_command("PFDEBUG", "GETREG", "k")
    assert regs[12711] == 2
    v = rb.get("k")
    assert len(v) == DENSE_BYTES and v[:16] == b"HYLL\x00\x00\x00\x00\x01" + b"\x00" * 7


def test_pfselftest(rb):
    assert rb.execute_command("PFSELFTEST") == b"OK"


# ============================== Persistence and replication =================


def test_values_survive_restart(make_server):
    s = make_server().start()
    c = s.client()
    pfadd_range(c, "sparse", "p%d", 0, 100)
    pfadd_range(c, "dense", "p%d", 0, 5000)
    c.pfcount("dense")
    before = (c.get("sparse"), c.get("dense"))
    s.stop()
    s.start()
    c = s.client()
    assert (c.get("sparse"), c.get("dense")) == before
    assert c.pfadd("sparse", "p1") == 0


def digest(s):
    return s.client().execute_command("DEBUG", "DIGEST")


def test_replica_stays_identical(make_server):
    """A single-key PFCOUNT recomputes the cache: on the master it writes the
    value back (and the write replicates), on a replica it only answers."""
    m = make_server().start()
    rep = make_server(args=["--replicaof", "127.0.0.1", m.port]).start()
    rc = rep.client()
    info = rep.client(decode_responses=True).info
    wait_until(lambda: info("replication")["master_link_status"] == "up",
               msg="replica link up")
    mc = m.client()
    pfadd_range(mc, "h", "e%d", 0, 200)
    pfadd_range(mc, "d", "e%d", 0, 3000)
    mc.pfmerge("u", "h", "d")
    assert mc.execute_command("WAIT", 1, 5000) == 1
    wait_until(lambda: digest(m) == digest(rep), msg="replica digest to equal the master's")
    stale = mc.get("h")
    assert stale[15] == 0x80
    # On the replica: answered, not stored (a read-only replica accepts it).
    assert rc.pfcount("h") == mc.pfcount("h", "nokey")
    assert rc.get("h") == stale
    assert rc.pfcount("u") > 0
    with pytest.raises(redis.ReadOnlyError):
        rc.pfadd("h", "x")
    # On the master: stored, and the write reaches the replica.
    assert mc.pfcount("h") == rc.pfcount("h")
    assert mc.pfcount("u") > 0
    assert mc.get("h")[15] == 0
    assert mc.execute_command("WAIT", 1, 5000) == 1
    wait_until(lambda: digest(m) == digest(rep), msg="replica digest to equal the master's")
    assert rc.get("h") == mc.get("h")
    assert rc.get("u") == mc.get("u")

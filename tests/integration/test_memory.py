"""Memory under maxmemory (issue 4): RSS stays bounded while the data set is
many times maxmemory, maxmemory-policy decides which values stay in RAM (the
hot set) and never loses data, one-off scans do not flush the hot keys,
MEMORY USAGE/STATS/DOCTOR/PURGE/HELP, a restart serves at once, and a replica
with a small maxmemory converges with a big master.

Where Strata differs from Redis by design, and what these tests do instead:

- Redis evicts by deleting keys; Strata evicts a decoded copy from RAM and the
  key stays in RocksDB.  So "was this key evicted?" cannot be asked with
  EXISTS or GET: the tests read INFO memory hotset_hits / hotset_misses around
  a pass of GETs (each GET counts exactly one of them; a hit means the value
  was in RAM).
- Every policy, noeviction included, evicts from RAM; nothing answers -OOM
  under maxmemory (that is maxstorage's job, not tested here).
- The LRU clock counts whole seconds (as Redis's LRU_CLOCK_RESOLUTION of
  1000 ms), so keys touched within the same second tie.  The LRU test waits,
  on the server's own clock (OBJECT IDLETIME), for the second to turn between
  "old" and "recent" accesses.
- A read miss is admitted to the hot set only on its second miss once the
  hot set is half full (scan resistance), so the tests "warm" a key by
  reading it twice.
- The LFU counter lives with the cached object: a key read back from disk
  starts again at 5 (Redis never drops a key's counter without the key).
- The memory keeper trims the hot set's budget while jemalloc's resident
  bytes are above maxmemory, and gives it back within about a second.  Tests
  wait for the full budget (hotset_max_bytes, about 35% of 32mb) before they
  measure, and make eviction pressure by reading (admitted on the second
  miss) rather than writing, so that memtables do not grow while they measure.

Bulk loads and read-backs go through a bare RESP socket: the whole expected
reply stream (every value is derived from its key) is compared byte for
byte, and redis-py's per-command cost would dominate the runtime.
"""
import socket
import tempfile
import threading
import time

import pytest

from checks import assert_error, raw_line
from strata import ASAN, SLOW, StrataServer, wait_until

MAXMEM_BYTES = 32 << 20
MAXMEM_ARGS = ["--maxmemory", "32mb"]
# server/memory.c memHotsetShare(): maxmemory minus the block cache (15%), two
# memtable budgets (10%, at least 4 MB each) and the reserve (10%, >= 8 MB).
HOTSET_SHARE_BYTES = (MAXMEM_BYTES - MAXMEM_BYTES * 15 // 100 - 2 * max(MAXMEM_BYTES * 10 // 100, 4 << 20)
                      - max(MAXMEM_BYTES * 10 // 100, 8 << 20))
VALUE_BYTES = 1024
# What one 1 KB string with a ~10-byte key costs in the hot set (MEMORY
# USAGE says 1156 for a 3-byte key); used only to size the workloads.
ENTRY_BYTES = 1165
HOTSET_CAPACITY = HOTSET_SHARE_BYTES // ENTRY_BYTES  # about 10,000 keys
# The RSS bound: maxmemory + 15% + 32 MB (code, libraries, stacks).
RSS_BOUND_KB = int((MAXMEM_BYTES * 1.15 + (32 << 20)) / 1024)

# The policy tests used to end every batch of 1,000 commands with MEMORY
# PURGE: the keeper cut the hot set's budget (down to its 1 MB floor in some
# runs) during a read-only stream while allocated memory was ~60% of
# maxmemory, because jemalloc's resident bytes still held pages freed
# moments ago (dirty_decay_ms 250, longer than the keeper's 100 ms step).
# The keeper now purges before it cuts; True brings the workaround back.
KEEPER_WORKAROUND = False

POLICIES = ["noeviction", "allkeys-lru", "allkeys-lfu", "allkeys-random",
            "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"]

LFU_NOT_SELECTED = ("An LFU maxmemory policy is not selected, access frequency not tracked. "
                    "Please note that when switching between policies at runtime LRU and "
                    "LFU data will take some time to adjust.")
LFU_SELECTED = ("An LFU maxmemory policy is selected, idle time not tracked. Please note "
                "that when switching between policies at runtime LRU and LFU data will "
                "take some time to adjust.")


# ------------------------------------------------------------ keys, values ---

def key(prefix, i):
    return b"%s:%d" % (prefix, i)


def value(prefix, i):
    """VALUE_BYTES bytes that name their key, so a value served for the wrong
    key (or a truncated one) fails the comparison."""
    unit = b"%s:%d|" % (prefix, i)
    return (unit * (VALUE_BYTES // len(unit) + 1))[:VALUE_BYTES]


def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def get_reply(prefix, i):
    return b"$%d\r\n%s\r\n" % (VALUE_BYTES, value(prefix, i))


def twice(indices):
    """Each index twice in a row: the second miss admits the key."""
    return [i for i in indices for _ in (0, 1)]


# ------------------------------------------------------------ bulk traffic ---

class RawConn:
    """A bare RESP connection that sends a batch of commands and checks the
    replies against the exact bytes expected."""

    def __init__(self, server):
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=60 * SLOW)

    def close(self):
        self.sock.close()

    def batch(self, commands, expected):
        self.sock.sendall(b"".join(commands))
        got = bytearray()
        while len(got) < len(expected):
            chunk = self.sock.recv(1 << 20)
            assert chunk, "server closed the connection mid-batch"
            start = len(got)
            got += chunk
            if got[start:] != expected[start:len(got)]:
                break  # fail now instead of waiting for bytes that never come
        if got != expected:
            at = next((i for i, (a, b) in enumerate(zip(got, expected)) if a != b),
                      min(len(got), len(expected)))
            raise AssertionError(f"reply stream differs at byte {at}: got "
                                 f"{bytes(got[max(0, at - 40):at + 80])!r}, expected "
                                 f"{expected[max(0, at - 40):at + 80]!r}")


class Traffic:
    """Pipelined SETs and GETs against one server, every reply checked.
    purge: end each batch with MEMORY PURGE (KEEPER_WORKAROUND)."""

    BATCH = 1000

    def __init__(self, server, purge=False):
        self.server = server
        self.purge = purge
        self.c = server.client(decode_responses=True)

    def run(self, indices, command, reply, limit_s):
        """Sends command(i) for every i of indices and checks each reply(i);
        bounded by len(indices) and limit_s seconds."""
        indices = list(indices)
        tail = [resp(b"MEMORY", b"PURGE")] if self.purge else []
        tail_reply = b"+OK\r\n" if self.purge else b""
        conn = RawConn(self.server)
        t0 = time.monotonic()
        try:
            for j in range(0, len(indices), self.BATCH):
                elapsed = time.monotonic() - t0
                assert elapsed < limit_s * SLOW, \
                    f"bulk run too slow: {j} of {len(indices)} after {elapsed:.0f} s"
                part = indices[j:j + self.BATCH]
                conn.batch([command(i) for i in part] + tail,
                           b"".join(reply(i) for i in part) + tail_reply)
        finally:
            conn.close()

    def load(self, prefix, n, ex=None, limit_s=60):
        """SETs prefix:i to value(prefix, i) for i in [0, n)."""
        extra = () if ex is None else (b"EX", ex)
        self.run(range(n), lambda i: resp(b"SET", key(prefix, i), value(prefix, i), *extra),
                 lambda i: b"+OK\r\n", limit_s)

    def read(self, prefix, indices, limit_s=60):
        """GETs prefix:i for every i of indices (repeats allowed) and checks
        each value exactly."""
        self.run(indices, lambda i: resp(b"GET", key(prefix, i)),
                 lambda i: get_reply(prefix, i), limit_s)

    def hotset_counts(self):
        i = self.c.info("memory")
        return i["hotset_hits"], i["hotset_misses"]

    def hit_ratio(self, prefix, indices):
        """Reads the keys once and returns the share served from RAM.
        Nothing else runs on the server meanwhile, so hits + misses is
        exactly the number of GETs."""
        indices = list(indices)
        h0, m0 = self.hotset_counts()
        self.read(prefix, indices)
        h1, m1 = self.hotset_counts()
        assert (h1 - h0) + (m1 - m0) == len(indices), (h1 - h0, m1 - m0, len(indices))
        return (h1 - h0) / len(indices)

    def assert_pressure(self, prefix, n):
        """After prefix:0..n-1 were pulled through RAM (read twice each), more
        keys than the hot set holds: most have left it again, so what stayed
        was chosen by the policy, not kept for lack of pressure.  (Which of
        them left is not checked: keys used within one LRU second tie.)"""
        assert n > HOTSET_CAPACITY
        stayed = self.hit_ratio(prefix, range(0, n, 10))
        assert stayed <= 0.8, \
            f"{stayed:.0%} of the {n} streamed keys still in RAM; {self.c.info('memory')}"

    def wait_full_budget(self):
        """Waits until the memory keeper has given the hot set its whole
        share back after a bulk write (see the module docstring)."""
        wait_until(lambda: self.c.info("memory")["hotset_max_bytes"] == HOTSET_SHARE_BYTES,
                   timeout=30, interval=0.1,
                   msg=f"hot set budget back at {HOTSET_SHARE_BYTES} bytes")

    def wait_next_lru_second(self):
        """Returns once everything touched before the call is at least one
        LRU clock tick (1 s) older than anything touched after it."""
        self.c.set("lru-marker", "x")
        wait_until(lambda: self.c.object("idletime", "lru-marker") >= 1, timeout=5,
                   interval=0.05, msg="the server's LRU clock to tick")


# The ASan build has no jemalloc (STRATA_NO_JEMALLOC): the keeper steers by
# RSS, which ASan's shadow memory alone keeps above 32 MB (~47 MB idle), so
# the hot set sits at its 1 MB floor and never gets the share these tests
# measure against.  The eviction paths still run under ASan in
# test_eviction_never_loses_data and test_policy_holds_in_a_small_hot_set.
needs_hotset_share = pytest.mark.skipif(
    ASAN, reason="ASan build: no jemalloc, RSS > 32mb keeps the hot set at its floor")


def policy_traffic(make_server, policy, maxmemory="32mb"):
    s = make_server(args=["--maxmemory", maxmemory, "--maxmemory-policy", policy]).start()
    return s, Traffic(s, purge=KEEPER_WORKAROUND)


# ------------------------------------------------------------------- RSS ---

def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


class RssSampler:
    """Samples a process's VmRSS every 0.1 s in a background thread while the
    with-block runs; peak_kb is the highest sample."""

    def __init__(self, pid):
        self.pid = pid
        self.peak_kb = 0
        self.samples = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._done.is_set():
            try:
                self.peak_kb = max(self.peak_kb, rss_kb(self.pid))
                self.samples += 1
            except (OSError, AssertionError):
                return  # the process is gone; the test's own checks say why
            self._done.wait(0.1)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join()
        if exc[0] is None:
            self.peak_kb = max(self.peak_kb, rss_kb(self.pid))


# ------------------------------------------------ eviction keeps the data ---

N_POLICY_KEYS = 2 * HOTSET_CAPACITY  # 20 MB of values: twice the hot set's share


@pytest.mark.parametrize("policy", POLICIES)
def test_eviction_never_loses_data(make_server, policy):
    """Under every policy, with 32mb and twice the hot set's share written,
    every key reads back with its value and TTL, and DBSIZE is exact."""
    s = make_server(args=MAXMEM_ARGS + ["--maxmemory-policy", policy]).start()
    t = Traffic(s)  # no purge: this one runs as a client would
    c = t.c
    n, ttl_s = N_POLICY_KEYS, 1000000
    # Every fourth key has a long TTL, so volatile-* policies have both kinds.
    t.run(range(n), lambda i: resp(b"SET", key(b"p", i), value(b"p", i),
                                   *((b"EX", ttl_s) if i % 4 == 0 else ())),
          lambda i: b"+OK\r\n", limit_s=60)
    info = c.info("memory")
    assert info["maxmemory_policy"] == policy
    assert info["maxmemory"] == MAXMEM_BYTES
    # The data did not simply fit: the hot set holds about half of it.
    assert info["hotset_keys"] < n * 3 // 4, info
    # The keeper may have trimmed the budget, never raised it past the share.
    assert 0 < info["hotset_max_bytes"] <= HOTSET_SHARE_BYTES, info
    t.read(b"p", range(n))
    assert c.dbsize() == n
    p = c.pipeline(transaction=False)
    for i in range(n):
        p.ttl(key(b"p", i))
    for i, ttl in enumerate(p.execute()):
        if i % 4 == 0:
            assert ttl_s - 60 <= ttl <= ttl_s, (i, ttl)
        else:
            assert ttl == -1, (i, ttl)


# ------------------------------------------------------------------- LRU ---

@needs_hotset_share
def test_lru_keeps_recently_used_keys_hot(make_server):
    """allkeys-lru: keys read again and again stay in RAM while a stream of
    other keys passes through; keys not read since they were written leave.

    Write 12k cold keys, then ~19k warm keys and 300 hot keys (the 19 MB
    written after the cold keys push them out of RAM).  Fill the hot set
    with warm keys (read twice: admitted).  Then two rounds of: let the LRU
    clock tick, read the hot keys (now the most recent), pull 4,000 more
    warm keys through RAM.  Each round's evictions should take keys last
    used in an earlier second, not a hot key: only when all 5 sampled
    entries are from the current second (hot keys and that round's keys,
    at most 43% of the hot set) can a hot key go.

    Thresholds, measured: LRU keeps 96-97% of the hot keys; allkeys-random
    keeps 66-70% (about exp(-4000/10000): each round re-admits the hot keys,
    so only the last round counts), so >= 85% tells them apart.  Cold keys:
    at most a handful can still be in RAM; >= 80% misses is far from the
    expected ~100%."""
    s, t = policy_traffic(make_server, "allkeys-lru")
    n_cold, n_hot, n_round = 12000, 300, 4000
    fill = HOTSET_CAPACITY + 1000
    n_warm = fill + 2 * n_round
    t.load(b"cold", n_cold)
    t.load(b"warm", n_warm)
    t.load(b"hot", n_hot)
    t.wait_full_budget()
    t.read(b"warm", twice(range(fill)))
    for first in (fill, fill + n_round):
        t.wait_next_lru_second()
        t.read(b"hot", twice(range(n_hot)))
        t.read(b"warm", twice(range(first, first + n_round)))
    hot = t.hit_ratio(b"hot", range(n_hot))
    cold = t.hit_ratio(b"cold", range(0, n_cold, 12))
    assert hot >= 0.85, f"hot keys: {hot:.0%} hits; {t.c.info('memory')}"
    assert cold <= 0.2, f"cold keys: {cold:.0%} hits; {t.c.info('memory')}"
    t.assert_pressure(b"warm", n_warm)


# ---------------------------------------------------------- volatile-lru ---

@needs_hotset_share
def test_volatile_lru_evicts_keys_with_ttl_first(make_server):
    """volatile-lru: 300 keys without TTL stay in RAM while 1.5x the hot
    set's capacity of keys with a TTL passes through it.  No clock tick is
    needed: the TTL keys are read after the kept keys, so allkeys-lru would
    evict the kept keys first (they are the oldest), and only the volatile
    preference keeps them.  A sample of 5 entries holds no TTL key with
    probability (300/10000)^5, so >= 90% hits is generous."""
    s, t = policy_traffic(make_server, "volatile-lru")
    n_ttl, n_keep = 20000, 300
    t.load(b"ttl", n_ttl, ex=3600)
    t.load(b"keep", n_keep)
    t.wait_full_budget()
    t.read(b"keep", twice(range(n_keep)))
    churn = HOTSET_CAPACITY * 3 // 2
    t.read(b"ttl", twice(range(churn)))
    keep = t.hit_ratio(b"keep", range(n_keep))
    assert keep >= 0.9, f"keys without TTL: {keep:.0%} hits; {t.c.info('memory')}"
    t.assert_pressure(b"ttl", churn)
    assert t.c.ttl(key(b"ttl", 0)) > 3500
    assert t.c.ttl(key(b"keep", 0)) == -1
    assert t.c.dbsize() == n_ttl + n_keep


# ------------------------------------------------------------------- LFU ---

def test_object_freq_and_runtime_policy_switch(make_server):
    """OBJECT FREQ needs an LFU policy (Redis's error text otherwise), OBJECT
    IDLETIME the opposite; CONFIG SET maxmemory-policy switches at runtime.
    With lfu-log-factor 0 every access counts, so the counter is exact: a
    new key starts at 5 (LFU_INIT_VAL), each GET or overwrite adds one,
    EXISTS and OBJECT do not touch (values checked against Redis 7.0)."""
    s = make_server(args=MAXMEM_ARGS + ["--maxmemory-policy", "allkeys-lru"]).start()
    c = s.client(decode_responses=True)
    c.set("f", "v")
    assert_error(c, LFU_NOT_SELECTED, "OBJECT", "FREQ", "f")
    assert c.object("idletime", "f") == 0
    assert c.config_set("maxmemory-policy", "allkeys-lfu") is True
    assert c.config_get("maxmemory-policy") == {"maxmemory-policy": "allkeys-lfu"}
    assert c.info("memory")["maxmemory_policy"] == "allkeys-lfu"
    assert_error(c, LFU_SELECTED, "OBJECT", "IDLETIME", "f")
    assert c.config_set("lfu-log-factor", 0) is True
    c.set("g", "v")
    assert c.object("freq", "g") == 5
    for _ in range(10):
        assert c.get("g") == "v"
    assert c.object("freq", "g") == 15
    c.set("g", "v2")
    assert c.object("freq", "g") == 16
    assert c.exists("g") == 1
    assert c.object("freq", "g") == 16
    assert c.object("freq", "nosuchkey") is None
    # Default log factor: growth slows down but 100 accesses still count.
    assert c.config_set("lfu-log-factor", 10) is True
    c.set("h", "v")
    for _ in range(100):
        c.get("h")
    assert c.object("freq", "h") > 5  # 6 after the first access, for sure
    assert c.config_set("maxmemory-policy", "volatile-lfu") is True
    assert c.object("freq", "h") > 5
    assert c.config_set("maxmemory-policy", "volatile-lru") is True
    assert_error(c, LFU_NOT_SELECTED, "OBJECT", "FREQ", "h")


@needs_hotset_share
def test_lfu_keeps_frequently_used_keys(make_server):
    """allkeys-lfu (switched on at runtime): 100 keys read 40 times each stay
    in RAM while 1.5x the hot set's capacity of other keys passes through it
    after them.  Under LRU that stream would push the hot keys out (they
    are the oldest).  Under LFU the stream's keys carry the initial counter
    (5, or 6 when a read found one in RAM), the hot keys 7 or more after 40
    accesses at lfu-log-factor 10 (about 33 accesses reach 8), so a sample
    of 5 entries picks a hot key only when it holds nothing else."""
    s, t = policy_traffic(make_server, "allkeys-lru")
    assert t.c.config_set("maxmemory-policy", "allkeys-lfu") is True
    n_other, n_hot, reads = 16000, 100, 40
    t.load(b"other", n_other)
    t.load(b"hot", n_hot)
    t.wait_full_budget()
    t.read(b"hot", [i for _ in range(reads) for i in range(n_hot)])
    freqs = [t.c.object("freq", key(b"hot", i)) for i in range(0, n_hot, 5)]
    assert min(freqs) >= 6 and sum(f >= 7 for f in freqs) >= len(freqs) // 2, freqs
    churn = HOTSET_CAPACITY * 3 // 2
    t.read(b"other", twice(range(churn)))
    hot = t.hit_ratio(b"hot", range(n_hot))
    assert hot >= 0.9, f"frequent keys: {hot:.0%} hits; {t.c.info('memory')}"
    t.assert_pressure(b"other", churn)


@pytest.mark.parametrize("policy", ["allkeys-lfu", "volatile-lru"])
def test_policy_holds_in_a_small_hot_set(make_server, policy):
    """The same choice with a hot set at the keeper's 1 MB floor (maxmemory
    3mb: RocksDB's fixed memory alone is above it, so the budget stays at
    the floor): 100 keys the policy must keep (read 40 times under LFU;
    without TTL among keys with one under volatile-lru) are 11% of the ~900
    keys in RAM, and 6,000 other keys pass through.  A sample of 5 holds
    only kept keys with probability 0.11^5, so >= 90% of them must stay.
    (About 55% stayed while hotsetEvictOne took its victim from one shard
    round-robin, whatever that shard held: with ~14 keys per shard, a shard
    new keys did not land in ran out of other keys and gave up kept ones.
    It now takes the best of four shards' samples.)"""
    s, t = policy_traffic(make_server, policy, maxmemory="3mb")
    n_other, n_keep = 6000, 100
    t.load(b"other", n_other, ex=3600 if policy.startswith("volatile") else None)
    t.load(b"keep", n_keep)
    t.read(b"keep", [i for _ in range(40) for i in range(n_keep)])
    info = t.c.info("memory")
    assert info["hotset_max_bytes"] <= 2 << 20, info  # at or near the floor
    assert t.hit_ratio(b"keep", range(n_keep)) == 1.0
    t.read(b"other", twice(range(n_other)))
    keep = t.hit_ratio(b"keep", range(n_keep))
    assert keep >= 0.9, f"kept keys: {keep:.0%} hits; {t.c.info('memory')}"


# ------------------------------------------------------ scan resistance ---

@needs_hotset_share
def test_one_off_scan_does_not_flush_hot_keys(make_server):
    """A hot set at least half full, then one GET over each of 30k keys on
    disk (3x the hot set's capacity, as SCAN + GET would do): the scanned
    keys miss once and are not admitted, so the hot keys are still hits
    afterwards.  Without the doorkeeper, LRU would admit every scanned key
    and evict the hot keys (they are older): ~0% hits.  A key read twice is
    admitted (the second miss), so a real change of working set still
    reaches RAM.  The hot keys take 30% of the hot set; 3,000 scanned keys
    read twice before them fill it past half, the doorkeeper's condition."""
    s, t = policy_traffic(make_server, "allkeys-lru")
    n_scan, n_hot, n_filler = 30000, int(HOTSET_CAPACITY * 0.3), 3000
    t.load(b"scan", n_scan)
    t.load(b"hot", n_hot)
    t.wait_full_budget()
    # Access times have one-second resolution (as Redis's LRU clock): let it
    # tick between the phases, or the admissions of the hot keys' second
    # misses evict among equally old entries, hot keys included.
    time.sleep(1.1)
    t.read(b"scan", twice(range(n_scan - n_filler, n_scan)))
    time.sleep(1.1)
    t.read(b"hot", twice(range(n_hot)))
    info = t.c.info("memory")
    assert info["hotset_bytes"] >= info["hotset_max_bytes"] // 2, info
    before = t.hit_ratio(b"hot", range(n_hot))
    assert before >= 0.9, f"hot keys before the scan: {before:.0%} hits; {info}"
    scanned = t.hit_ratio(b"scan", range(n_scan))
    # The scan went to disk: at most the filler and the last keys written
    # were in RAM, fewer than the hot set holds.
    assert scanned <= HOTSET_CAPACITY / n_scan, f"scan: {scanned:.0%} hits"
    after = t.hit_ratio(b"hot", range(n_hot))
    assert after >= 0.8, f"hot keys after the scan: {after:.0%} hits; {t.c.info('memory')}"
    # Read twice more (the second miss admits), then they are served from RAM.
    again = range(0, 2000, 10)
    t.read(b"scan", twice(again))
    assert t.hit_ratio(b"scan", again) >= 0.8


# ---------------------------------------------------------------- MEMORY ---

# Redis 7.0's MEMORY HELP without the MALLOC-STATS entry: Strata has no
# MEMORY MALLOC-STATS (an unknown subcommand there).
MEMORY_HELP = [
    "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return memory problems reports.",
    "PURGE",
    "    Attempt to purge dirty pages for reclamation by the allocator.",
    "STATS",
    "    Return information about the memory usage of the server.",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
    "HELP",
    "    Prints this help.",
]


def test_hotset_share_follows_storage_sizes(make_server):
    """The hot set's share is maxmemory minus what RocksDB was opened with
    (block cache, two memtable budgets) and the reserve (10%, >= 8 MB);
    CONFIG SET maxmemory recomputes it from the sizes storage really has,
    storage's defaults (64 MB, 16 MB) when it started without maxmemory."""
    MB = 1 << 20

    def share(c):
        return c.info("memory")["hotset_max_bytes"]

    s = make_server().start()
    c = s.client()
    assert share(c) == 256 * MB
    assert c.config_set("maxmemory", "200mb") is True
    assert share(c) == 200 * MB - (64 * MB + 2 * 16 * MB) - 20 * MB
    assert c.config_set("maxmemory", "32mb") is True
    assert share(c) == 1 * MB  # the floor: the defaults alone pass 32mb
    s2 = make_server(args=["--maxmemory", "64mb", "--rocksdb-block-cache-size", "4mb"]).start()
    c2 = s2.client()
    wbuf = 64 * MB * 10 // 100
    assert share(c2) == 64 * MB - 4 * MB - 2 * wbuf - 8 * MB
    assert c2.config_set("maxmemory", "128mb") is True
    assert share(c2) == 128 * MB - 4 * MB - 2 * wbuf - 128 * MB * 10 // 100


def test_memory_usage(server, r):
    """MEMORY USAGE: an integer for a key, nil for a missing one.  The figure
    is what the key costs in the hot set (Redis's differs: 64 for a 1-byte
    string where Strata says ~120), so only its order is checked."""
    r.set("small", "v")
    r.set("kilo", "x" * VALUE_BYTES)
    small = r.execute_command("MEMORY", "USAGE", "small")
    kilo = r.execute_command("MEMORY", "USAGE", "kilo")
    assert isinstance(small, int) and 0 < small < 512, small
    assert VALUE_BYTES < kilo < VALUE_BYTES + 512, kilo
    assert r.execute_command("MEMORY", "USAGE", "kilo", "SAMPLES", "0") == kilo
    assert r.execute_command("memory", "usage", "kilo", "samples", "5") == kilo
    assert r.execute_command("MEMORY", "USAGE", "missing") is None
    assert r.execute_command("MEMORY", "USAGE", "missing", "SAMPLES", "3") is None
    # Error texts as Redis 7.0 gives them.
    assert_error(r, "syntax error", "MEMORY", "USAGE", "small", "SAMPLES")
    assert_error(r, "syntax error", "MEMORY", "USAGE", "small", "FOO")
    assert_error(r, "syntax error", "MEMORY", "USAGE", "small", "FOO", "1")
    assert_error(r, "syntax error", "MEMORY", "USAGE", "small", "SAMPLES", "5", "extra")
    assert_error(r, "syntax error", "MEMORY", "USAGE", "missing", "FOO")
    assert_error(r, "value is not an integer or out of range",
                 "MEMORY", "USAGE", "small", "SAMPLES", "x")
    assert_error(r, "value is not an integer or out of range",
                 "MEMORY", "USAGE", "small", "SAMPLES", "99999999999999999999")
    assert_error(r, "wrong number of arguments for 'memory|usage' command", "MEMORY", "USAGE")
    assert raw_line(server, "MEMORY", "USAGE") == \
        b"-ERR wrong number of arguments for 'memory|usage' command"


def test_memory_usage_negative_samples_is_a_syntax_error(r):
    """Redis rejects SAMPLES below 0 with a syntax error (object.c)."""
    r.set("k", "v")
    assert_error(r, "syntax error", "MEMORY", "USAGE", "k", "SAMPLES", "-1")
    assert_error(r, "syntax error", "MEMORY", "USAGE", "missing", "SAMPLES", "-1")


def test_memory_stats_doctor_purge_help(server, r):
    """MEMORY STATS is a map with Redis's peak.allocated, total.allocated and
    keys.count (all databases); DOCTOR a text; PURGE +OK; HELP Redis's lines;
    arity and unknown subcommands with Redis's error texts."""
    for i in range(7):
        r.set(f"k{i}", i)
    r.execute_command("SELECT", 1)
    r.set("other-db", 1)
    r.execute_command("SELECT", 0)
    stats = r.memory_stats()
    assert isinstance(stats, dict), stats
    assert stats["keys.count"] == 8
    assert r.dbsize() == 7
    assert 0 < stats["total.allocated"] <= stats["peak.allocated"], stats
    doctor = r.execute_command("MEMORY", "DOCTOR")
    assert isinstance(doctor, str) and doctor, doctor
    assert raw_line(server, "MEMORY", "PURGE") == b"+OK"
    assert r.execute_command("MEMORY", "HELP") == MEMORY_HELP
    assert r.execute_command("memory", "help") == MEMORY_HELP
    assert_error(r, "unknown subcommand 'foo'. Try MEMORY HELP.", "MEMORY", "foo")
    assert raw_line(server, "MEMORY", "foo") == \
        b"-ERR unknown subcommand 'foo'. Try MEMORY HELP."
    assert_error(r, "wrong number of arguments for 'memory' command", "MEMORY")
    for sub in ("stats", "doctor", "purge", "help"):
        assert_error(r, f"wrong number of arguments for 'memory|{sub}' command",
                     "MEMORY", sub.upper(), "x")


# ------------------------------------- big data: RSS, restart, replica ---

BIG_KEYS = 340000  # x 1 KB = 340 MB, more than 10x maxmemory


class BigData:
    """One data directory loaded once with BIG_KEYS keys under maxmemory 32mb
    (RSS sampled during the load), then served by whatever server a test
    needs on it: the slow tests share the load, which is most of their cost."""

    def __init__(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="strata-bigmem-")
        self.server = None
        self.args = None
        self.load_peak_kb = 0

    def run(self, args):
        """Returns a running server on the directory with exactly args,
        restarting (SIGTERM, then a new process) if it runs with others."""
        if self.server is not None and self.args == list(args) and self.server.proc:
            return self.server
        self.stop()
        self.server = StrataServer(args=list(args), dir=self.tmp.name).start()
        self.args = list(args)
        return self.server

    def stop(self):
        if self.server is not None:
            s, self.server = self.server, None
            s.stop()

    def close(self):
        try:
            self.stop()
        finally:
            self.tmp.cleanup()


@pytest.fixture(scope="module")
def big():
    b = BigData()
    try:
        s = b.run(MAXMEM_ARGS)
        with RssSampler(s.proc.pid) as rss:
            Traffic(s).load(b"big", BIG_KEYS, limit_s=300)
        assert rss.samples > 10, rss.samples
        b.load_peak_kb = rss.peak_kb
        yield b
    finally:
        b.close()


@pytest.mark.slow
def test_rss_bounded_with_data_10x_maxmemory(big):
    """340 MB of 1 KB values written and then read back in full through a
    32mb server: every value exact, DBSIZE exact, and RSS (sampled every
    0.1 s) never above maxmemory + 15% + 32 MB during the load or the
    read-back."""
    s = big.run(MAXMEM_ARGS)
    c = s.client(decode_responses=True)
    assert c.dbsize() == BIG_KEYS
    with RssSampler(s.proc.pid) as rss:
        Traffic(s).read(b"big", range(BIG_KEYS), limit_s=300)
    assert rss.samples > 10, rss.samples
    assert c.dbsize() == BIG_KEYS
    info = c.info("memory")
    # The keeper may have trimmed the budget, never raised it past the share.
    assert 0 < info["hotset_max_bytes"] <= HOTSET_SHARE_BYTES, info
    assert big.load_peak_kb <= RSS_BOUND_KB, \
        f"RSS peaked at {big.load_peak_kb} kB during the load (bound {RSS_BOUND_KB} kB)"
    assert rss.peak_kb <= RSS_BOUND_KB, \
        f"RSS peaked at {rss.peak_kb} kB during the read-back (bound {RSS_BOUND_KB} kB)"


@pytest.mark.slow
def test_restart_is_ready_at_once(big):
    """SIGTERM a server holding 340 MB, start it again on the same directory:
    it answers PING and serves a known key at once, not after reading the
    data (RocksDB opens its files; the hot set warms on demand).

    The target is well under 1 s (about 0.1 s here); timing assertions are
    fragile on a shared machine, so the bound is 5 s, which still fails a
    server that loads or scans its data at start (that takes longer than
    the 2-7 s a full read of these 340 MB takes)."""
    s = big.run(MAXMEM_ARGS)
    s.stop()
    t0 = time.monotonic()
    s.start(wait=False)
    wait_until(lambda: s.proc.poll() is None and s.client(socket_timeout=1).ping(),
               timeout=15, interval=0.005, msg=f"PING after restart; log:\n{s.log()}")
    t_ping = time.monotonic() - t0
    c = s.client()
    assert c.get(key(b"big", 123457)) == value(b"big", 123457)
    t_get = time.monotonic() - t0
    assert c.info("persistence")["loading"] == 0
    assert c.dbsize() == BIG_KEYS
    assert t_get < 5.0, f"ready after {t_ping:.2f} s (PING), {t_get:.2f} s (GET)"


@pytest.mark.slow
def test_small_replica_of_big_master_converges(big, make_server):
    """A master without maxmemory holding 340 MB, a fresh replica with
    maxmemory 32mb: the full sync completes (slave0 lag_seq=0), DEBUG DIGEST
    and DBSIZE are equal, and the replica's RSS stays within the same
    bound as any 32mb server while it takes in 10x its maxmemory."""
    m = big.run([])
    r = make_server(args=MAXMEM_ARGS + ["--replicaof", "127.0.0.1", m.port]).start()
    mc = m.client(decode_responses=True)

    def caught_up():
        s0 = mc.info("replication").get("slave0")
        return isinstance(s0, dict) and s0.get("state") == "online" and s0.get("lag_seq") == 0

    with RssSampler(r.proc.pid) as rss:
        wait_until(caught_up, timeout=300, interval=0.1, msg="slave0 lag_seq=0")
    digest = [x.client(socket_timeout=300).execute_command("DEBUG", "DIGEST") for x in (m, r)]
    assert digest[0] == digest[1]
    assert r.client().dbsize() == BIG_KEYS
    assert r.client().get(key(b"big", 7)) == value(b"big", 7)
    assert rss.peak_kb <= RSS_BOUND_KB, \
        f"replica RSS peaked at {rss.peak_kb} kB during the sync (bound {RSS_BOUND_KB} kB)"

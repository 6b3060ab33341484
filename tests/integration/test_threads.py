"""A server with two event loops (--server-threads 2) under concurrent
clients: exact counters, per-client keys, MSET/MGET atomicity, FLUSHALL
racing writers, and both loops really serving connections."""
import threading
import time

from strata import SLOW, wait_until

CLIENT_THREADS = 8
OPS_PER_THREAD = 400            # bound on iterations per client thread
RUN_SECONDS = 20.0              # bound on any load loop
COUNTERS = 4




def run_threads(target, n):
    """Runs target(idx, errors) on n threads; returns the errors they recorded
    (a thread that does not finish in time is an error too)."""
    errors = []
    lock = threading.Lock()

    def wrap(idx):
        try:
            target(idx)
        except Exception as e:  # noqa: BLE001 - collected and asserted empty
            with lock:
                errors.append(f"thread {idx}: {e!r}")

    ts = [threading.Thread(target=wrap, args=(i,), daemon=True) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=(RUN_SECONDS + 30) * SLOW)
        if t.is_alive():
            errors.append("a client thread did not finish in time")
    return errors


def thread_clients(client):
    """{'t0': n, 't1': m}: connections per event loop, from INFO clients."""
    v = client.info("clients")["server_thread_clients"]
    return v if isinstance(v, dict) else dict([v.split("=")])


def test_server_threads_configured(mt, mt_server):
    assert mt.info("server")["server_threads"] == 2
    assert mt.config_get("server-threads") == {"server-threads": "2"}


def test_counters_and_own_keys_exact(mt, mt_server):
    deadline = time.monotonic() + RUN_SECONDS * SLOW
    done = [0] * CLIENT_THREADS

    def work(idx):
        c = mt_server.client(decode_responses=True)
        try:
            c.client_setname(f"worker-{idx}")
            for j in range(OPS_PER_THREAD):
                if time.monotonic() > deadline:
                    break
                c.incr(f"counter:{j % COUNTERS}")
                key = f"own:{idx}:{j % 50}"
                val = f"{idx}-{j}"
                assert c.set(key, val) is True
                got = c.get(key)
                assert got == val, (key, got, val)
                done[idx] += 1
        finally:
            c.close()

    errors = run_threads(work, CLIENT_THREADS)
    assert errors == []
    total = sum(done)
    assert total == CLIENT_THREADS * OPS_PER_THREAD, "the load loop hit its time bound"
    counters = [int(mt.get(f"counter:{k}")) for k in range(COUNTERS)]
    assert counters == [CLIENT_THREADS * OPS_PER_THREAD // COUNTERS] * COUNTERS
    for idx in range(CLIENT_THREADS):
        last = OPS_PER_THREAD - 50
        assert mt.mget([f"own:{idx}:{k}" for k in range(50)]) == \
            [f"{idx}-{last + k}" for k in range(50)]
    assert mt.dbsize() == COUNTERS + CLIENT_THREADS * 50


def test_both_threads_serve_connections(mt, mt_server):
    clients = []
    try:
        # The kernel spreads connections over the two SO_REUSEPORT listeners
        # by hashing the 4-tuple: keep opening connections (bounded) until
        # both loops hold some.
        def both_busy():
            c = mt_server.client(decode_responses=True)
            c.client_setname(f"conn-{len(clients)}")
            clients.append(c)
            per = thread_clients(mt)
            return len(per) == 2 and all(int(n) > 0 for n in per.values())

        wait_until(lambda: both_busy() or len(clients) >= 64, timeout=20,
                   msg="connections to land on both event loops")
        per = thread_clients(mt)
        assert set(per) == {"t0", "t1"}
        assert all(int(n) > 0 for n in per.values()), per
        assert sum(int(n) for n in per.values()) == mt.info("clients")["connected_clients"]
        names = {c["name"] for c in mt.client_list()}
        assert {f"conn-{i}" for i in range(len(clients))} <= names
        # every connection, on either loop, is served
        for i, c in enumerate(clients):
            assert c.set(f"via:{i}", i) is True
        assert mt.dbsize() == len(clients)
    finally:
        for c in clients:
            c.close()


def test_mset_is_atomic_for_concurrent_readers(mt, mt_server):
    keys = [f"k{i}" for i in range(1, 11)]
    mt.mset({k: "0" for k in keys})
    deadline = time.monotonic() + 3.0 * SLOW
    stop = threading.Event()
    writes = [0, 0]
    reads = [0, 0, 0, 0]

    def writer(idx):
        c = mt_server.client(decode_responses=True)
        try:
            for j in range(1, 1500):
                if stop.is_set() or time.monotonic() > deadline:
                    break
                v = f"w{idx}-{j}"
                assert c.mset({k: v for k in keys}) is True
                writes[idx] += 1
        finally:
            c.close()

    def reader(idx):
        c = mt_server.client(decode_responses=True)
        try:
            for _ in range(3000):
                if stop.is_set() or time.monotonic() > deadline:
                    break
                vals = c.mget(keys)
                assert len(set(vals)) == 1, f"half-applied MSET seen: {vals}"
                reads[idx] += 1
        finally:
            c.close()

    def role(i):
        if i < 2:
            writer(i)
        else:
            reader(i - 2)

    errors = run_threads(role, 6)
    stop.set()
    assert errors == []
    assert min(writes) > 50 and min(reads) > 50, (writes, reads)
    vals = mt.mget(keys)
    assert len(set(vals)) == 1 and vals[0] != "0"


def test_flushall_while_writing(mt, mt_server):
    deadline = time.monotonic() + 3.0 * SLOW
    flushes = [0]
    ops = [0] * 5
    stop = threading.Event()

    def writer(idx):
        c = mt_server.client(decode_responses=True)
        try:
            for j in range(4000):
                if stop.is_set() or time.monotonic() > deadline:
                    break
                c.set(f"fw:{idx}:{j % 100}", j)
                c.incr(f"fc:{idx}")
                c.mset({f"fm:{idx}:{k}": j for k in range(5)})
                vals = c.mget([f"fm:{idx}:{k}" for k in range(5)])
                # a flush may land between MSET and MGET, never inside either
                assert len(set(vals)) == 1, vals
                ops[idx] += 1
        finally:
            c.close()

    def flusher():
        c = mt_server.client(decode_responses=True)
        try:
            for n in range(30):
                # let the writers make progress between two flushes
                seen = sum(ops)
                wait_until(lambda: sum(ops) >= seen + 20 or time.monotonic() > deadline, timeout=10,
                           msg="writers to progress between flushes")
                assert c.flushall(asynchronous=n % 2 == 1) is True
                flushes[0] += 1
        finally:
            c.close()
            stop.set()

    def role(i):
        if i == 0:
            flusher()
        else:
            writer(i)

    errors = run_threads(role, 5)
    assert errors == []
    assert flushes[0] == 30
    assert sum(ops) >= 30 * 20
    # still serving, and the key count agrees with the keys that exist
    assert mt.ping() is True
    assert mt.dbsize() == len(mt.keys("*"))
    mt.set("after", "1")
    assert mt.get("after") == "1"
    assert mt.flushall() is True
    assert mt.dbsize() == 0


def test_command_info_from_both_loops_at_once(mt, mt_server):
    """COMMAND builds its replies on the calling event loop: concurrent calls
    on both loops must each get the same, intact table."""
    c = mt_server.client()
    c.response_callbacks = {}
    expected = c.execute_command("COMMAND")
    c.close()

    def work(idx):
        cl = mt_server.client()
        cl.response_callbacks = {}
        try:
            for _ in range(30):
                assert cl.execute_command("COMMAND") == expected
        finally:
            cl.close()

    assert run_threads(work, 6) == []

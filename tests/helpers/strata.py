"""Launches real strata-server processes for integration tests.

Each server gets a free loopback port and its own temporary directory, is
stopped by PID (never by name), and has its log kept for failure messages.
"""
import os
import signal
import socket
import subprocess
import tempfile
import time

import redis

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
STRATA_BIN = os.environ.get("STRATA_BIN", os.path.join(REPO, "bin", "strata-server"))
ASAN = os.environ.get("STRATA_ASAN") == "1"
# ASan builds are several times slower; stretch every wait bound.
SLOW = 4.0 if ASAN else 1.0


def free_port():
    """Returns a currently free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(cond, timeout=10.0, interval=0.02, msg="condition"):
    """Polls cond() until it is truthy; fails with msg after timeout seconds."""
    deadline = time.monotonic() + timeout * SLOW
    last_exc = None
    while time.monotonic() < deadline:
        try:
            v = cond()
            if v:
                return v
        except Exception as e:  # the server may not be up yet
            last_exc = e
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {msg}" + (f" (last error: {last_exc})" if last_exc else ""))


class StrataServer:
    """One strata-server process.  Use as a context manager or call stop()."""

    def __init__(self, args=None, config_text=None, dir=None, port=None, binary=None):
        self.port = port or free_port()
        self.own_dir = dir is None
        self.tmp = tempfile.TemporaryDirectory(prefix="strata-test-") if dir is None else None
        self.dir = dir or self.tmp.name
        self.args = list(args or [])
        self.binary = binary or STRATA_BIN
        self.config_path = None
        if config_text is not None:
            self.config_path = os.path.join(self.dir, "keydb.conf")
            with open(self.config_path, "w") as f:
                f.write(config_text)
        self.log_path = os.path.join(self.dir, "server.log")
        self.proc = None

    def start(self, wait=True):
        cmd = [self.binary]
        if self.config_path:
            cmd.append(self.config_path)
        cmd += ["--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir]
        cmd += [str(a) for a in self.args]
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:halt_on_error=1")
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, stdout=self.logf, stderr=subprocess.STDOUT, env=env)
        if wait:
            wait_until(self._ping, timeout=15, msg=f"strata-server on port {self.port} to answer PING; log:\n{self.log()}")
        return self

    def _ping(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"server exited with {self.proc.returncode}; log:\n{self.log()}")
        return self.client(socket_timeout=1).ping()

    def client(self, **kw):
        kw.setdefault("socket_timeout", 30 * SLOW)
        return redis.Redis(host="127.0.0.1", port=self.port, **kw)

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")[-6000:]
        except OSError:
            return ""

    def kill9(self):
        """Kills the process with SIGKILL (crash simulation) and waits for it."""
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self, check=True):
        """SIGTERM and wait; with check, the exit must be clean (ASan findings
        make the exit code non-zero)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30 * SLOW)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)
                raise AssertionError(f"server did not stop on SIGTERM; log:\n{self.log()}")
        rc = self.proc.returncode
        self.proc = None
        self.logf.close()
        if check and rc != 0:
            raise AssertionError(f"server exited with code {rc}; log:\n{self.log()}")

    def cleanup(self):
        if self.tmp is not None:
            self.tmp.cleanup()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        try:
            self.stop(check=exc[0] is None)
        finally:
            self.cleanup()


def start_replica_pair(make, args=()):
    """A master and a replica of it, started with the make_server fixture's
    factory (which stops them); waits for the link.  Returns decoded clients
    (master, replica)."""
    master = make(args=list(args)).start()
    replica = make(args=list(args) + ["--replicaof", "127.0.0.1", str(master.port)]).start()
    m = master.client(decode_responses=True)
    rc = replica.client(decode_responses=True)
    wait_until(lambda: rc.info("replication")["master_link_status"] == "up", timeout=20 * SLOW,
               msg="replica link up")
    return m, rc


def wait_replica_converged(m, rc):
    """Waits until the replica's DEBUG DIGEST equals the master's."""
    md = m.execute_command("DEBUG", "DIGEST")
    wait_until(lambda: rc.execute_command("DEBUG", "DIGEST") == md, timeout=20 * SLOW,
               msg="replica digest to equal the master's")


def assert_rss_within_maxmemory(pid, maxmemory_bytes):
    """The issue 4 bound on a process's resident memory: maxmemory + 15% +
    32 MB (allocator and RocksDB slack)."""
    with open(f"/proc/{pid}/status") as f:
        rss_kb = int(f.read().split("VmRSS:")[1].split()[0])
    assert rss_kb * 1024 < maxmemory_bytes * 1.15 + 32 * 1024 * 1024, f"RSS {rss_kb} kB"

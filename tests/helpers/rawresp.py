"""Raw RESP2/RESP3 connections for tests that must see the wire: exact reply
bytes, RESP3 types redis-py 4.3 cannot parse, protocol errors, connections
the server closes.

RawConn talks to 127.0.0.1 only.  Every read is bounded by a timeout (scaled
by strata.SLOW for ASan builds); a test never blocks forever on a silent
server.
"""
import socket
import time

from strata import SLOW


def encode(*args):
    """Encodes one command as a RESP multibulk request."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, int):
            a = str(a)
        if isinstance(a, str):
            a = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Reply:
    """One parsed reply: `type` is the wire type byte as a one-character str
    ('+', '-', ':', '$', '*', '%', '~', '_', ',', '#', '=', '(', '>'), `value`
    is bytes (simple, error, bulk, big number), int, float, bool, None (nulls),
    a list (array, set, push), a list of (key, value) pairs (map), or
    (format, payload) for verbatim strings.  `raw` holds the exact bytes."""

    __slots__ = ("type", "value", "raw")

    def __init__(self, type_, value, raw):
        self.type = type_
        self.value = value
        self.raw = raw

    def py(self):
        """Plain Python value: maps become dicts, nested replies converted."""
        if self.type in ("*", "~", ">"):
            return [e.py() for e in self.value]
        if self.type == "%":
            return {k.py(): v.py() for k, v in self.value}
        if self.type == "=":
            return self.value[1]
        return self.value

    def __repr__(self):
        return f"Reply({self.type!r}, {self.value!r})"


class ConnectionClosed(Exception):
    pass


class RawConn:
    """A plain TCP connection to a server on 127.0.0.1."""

    def __init__(self, port, timeout=10.0, rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            # Set before connect so the advertised window starts small.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(timeout * SLOW)
        self.sock.connect(("127.0.0.1", port))
        self.timeout = timeout * SLOW
        self.buf = b""

    # ---- writing ----------------------------------------------------------
    def send(self, data):
        self.sock.sendall(data)

    def cmd(self, *args):
        """Sends one command and returns its parsed reply."""
        self.send(encode(*args))
        return self.reply()

    def local_addr(self):
        host, port = self.sock.getsockname()[:2]
        return f"{host}:{port}"

    # ---- reading ----------------------------------------------------------
    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("no reply within the time bound")
        self.sock.settimeout(left)
        data = self.sock.recv(1 << 16)
        if not data:
            raise ConnectionClosed("server closed the connection")
        self.buf += data

    def _line(self, deadline):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = self.buf[:i]
                self.buf = self.buf[i + 2:]
                return line
            self._fill(deadline)

    def _exact(self, n, deadline):
        while len(self.buf) < n:
            self._fill(deadline)
        data = self.buf[:n]
        self.buf = self.buf[n:]
        return data

    def _parse(self, deadline):
        pieces = []
        line = self._line(deadline)
        pieces.append(line + b"\r\n")
        t, rest = chr(line[0]), line[1:]
        if t in "+-(":
            return Reply(t, rest, b"".join(pieces))
        if t == ":":
            return Reply(t, int(rest), b"".join(pieces))
        if t == "_":
            return Reply(t, None, b"".join(pieces))
        if t == ",":
            return Reply(t, float(rest), b"".join(pieces))
        if t == "#":
            assert rest in (b"t", b"f"), line
            return Reply(t, rest == b"t", b"".join(pieces))
        if t in "$=!":
            n = int(rest)
            if n < 0:
                return Reply(t, None, b"".join(pieces))
            data = self._exact(n + 2, deadline)
            assert data[-2:] == b"\r\n", data[-10:]
            pieces.append(data)
            payload = data[:-2]
            if t == "=":
                assert payload[3:4] == b":", payload[:8]
                return Reply(t, (payload[:3], payload[4:]), b"".join(pieces))
            return Reply(t, payload, b"".join(pieces))
        if t in "*~>%|":
            n = int(rest)
            if n < 0:
                return Reply(t, None, b"".join(pieces))
            count = n * 2 if t in "%|" else n
            elems = []
            for _ in range(count):
                e = self._parse(deadline)
                elems.append(e)
                pieces.append(e.raw)
            if t in "%|":
                elems = list(zip(elems[0::2], elems[1::2]))
            return Reply(t, elems, b"".join(pieces))
        raise AssertionError(f"unknown reply type in {line[:40]!r}")

    def reply(self, timeout=None):
        """Reads and parses one reply."""
        deadline = time.monotonic() + (timeout * SLOW if timeout else self.timeout)
        return self._parse(deadline)

    def replies(self, n, timeout=None):
        deadline = time.monotonic() + (timeout * SLOW if timeout else self.timeout)
        return [self._parse(deadline) for _ in range(n)]

    def read_raw(self, n, timeout=None):
        """Reads exactly n bytes."""
        deadline = time.monotonic() + (timeout * SLOW if timeout else self.timeout)
        return self._exact(n, deadline)

    def read_until_closed(self, timeout=5.0):
        """Reads until the server closes the connection (EOF or reset) and
        returns everything received; fails after timeout seconds."""
        deadline = time.monotonic() + timeout * SLOW
        while True:
            try:
                self._fill(deadline)
            except ConnectionClosed:
                break
            except ConnectionResetError:
                break
            except socket.timeout:
                raise AssertionError(f"connection still open after {timeout * SLOW:.1f}s; "
                                     f"received {self.buf[-200:]!r}")
        data, self.buf = self.buf, b""
        return data

    def is_open_for(self, seconds):
        """True if no EOF/reset arrives within `seconds` (data is kept)."""
        deadline = time.monotonic() + seconds
        try:
            while True:
                self._fill(deadline)
        except socket.timeout:
            return True
        except (ConnectionClosed, ConnectionResetError):
            return False

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

"""Assertion helpers shared by integration tests: exact error texts through
redis-py, and the first raw reply line (with its "-ERR " prefix) of a
command sent on a fresh loopback socket."""
import socket

import pytest
import redis

from strata import SLOW


def assert_error(client, expected, *args):
    """Runs args and asserts the error text (redis-py strips the "ERR ")."""
    with pytest.raises(redis.ResponseError) as e:
        client.execute_command(*args)
    assert str(e.value) == expected


def raw_line(server, *args):
    """Sends one command on a fresh socket and returns the first reply line
    (bytes, CRLF stripped), so error prefixes such as "-ERR " are checked too."""
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    with socket.create_connection(("127.0.0.1", server.port), timeout=10 * SLOW) as s:
        s.sendall(b"".join(parts))
        buf = b""
        while b"\r\n" not in buf:
            chunk = s.recv(4096)
            assert chunk, "connection closed before a reply"
            buf += chunk
    return buf.split(b"\r\n", 1)[0]


def expire_err(cmd):
    return f"invalid expire time in '{cmd}' command"


def arity_err(cmd):
    return f"wrong number of arguments for '{cmd}' command"


def err(cl, *args):
    """Runs a command that must fail; returns the error text (without "ERR ")."""
    with pytest.raises(redis.ResponseError) as ei:
        cl.execute_command(*args)
    return str(ei.value)

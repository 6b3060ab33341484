"""Shared pytest fixtures: a strata-server per test module, a fresh client per
test (FLUSHALL between tests), and helpers to start extra servers."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "helpers"))

from strata import StrataServer, wait_until, free_port, SLOW  # noqa: E402,F401


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long-running test, skipped in the ASan pass")


def _serve(args=()):
    """Runs one server for a module-scoped fixture; stops and checks it after."""
    s = StrataServer(args=list(args))
    s.start()
    yield s
    s.stop()
    s.cleanup()


@pytest.fixture(scope="module")
def server():
    yield from _serve()


def _fresh_client(server, **kw):
    """A client on an emptied server (FLUSHALL), closed after the test."""
    c = server.client(**kw)
    c.flushall()
    yield c
    c.close()


@pytest.fixture
def r(server):
    yield from _fresh_client(server, decode_responses=True)


@pytest.fixture
def rb(server):
    """Client without response decoding, for binary values."""
    yield from _fresh_client(server)


@pytest.fixture(scope="module")
def mt_server():
    """A server with two event loops (--server-threads 2), per test module."""
    yield from _serve(["--server-threads", "2"])


@pytest.fixture
def mt(mt_server):
    yield from _fresh_client(mt_server, decode_responses=True)


@pytest.fixture
def make_server():
    """Factory for extra servers; all are stopped (and checked) at test end."""
    started = []

    def make(**kw):
        s = StrataServer(**kw)
        started.append(s)
        return s

    yield make
    errors = []
    for s in started:
        try:
            s.stop()
        except AssertionError as e:
            errors.append(str(e))
        finally:
            s.cleanup()
    if errors:
        raise AssertionError("\n".join(errors))


@pytest.fixture
def c(r):
    """Decoded client returning replies exactly as sent."""
    r.response_callbacks.clear()
    return r


@pytest.fixture
def cb(rb):
    """Bytes client returning replies exactly as sent."""
    rb.response_callbacks.clear()
    return rb

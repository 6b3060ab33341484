"""Shared pytest fixtures: a strata-server per test module, a fresh client per
test (FLUSHALL between tests), and helpers to start extra servers."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "helpers"))

from strata import StrataServer, wait_until, free_port, SLOW  # noqa: E402,F401


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long-running test, skipped in the ASan pass")


@pytest.fixture(scope="module")
def server():
    s = StrataServer()
    s.start()
    yield s
    s.stop()
    s.cleanup()


@pytest.fixture
def r(server):
    c = server.client(decode_responses=True)
    c.flushall()
    yield c
    c.close()


@pytest.fixture
def rb(server):
    """Client without response decoding, for binary values."""
    c = server.client()
    c.flushall()
    yield c
    c.close()


@pytest.fixture(scope="module")
def mt_server():
    """A server with two event loops (--server-threads 2), per test module."""
    s = StrataServer(args=["--server-threads", "2"])
    s.start()
    yield s
    s.stop()
    s.cleanup()


@pytest.fixture
def mt(mt_server):
    c = mt_server.client(decode_responses=True)
    c.flushall()
    yield c
    c.close()


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

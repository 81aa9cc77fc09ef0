"""The misbehaving server used by fault tests is itself bounded and honest."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request

import pytest
from faultserver import FaultServer


def _post(url: str, body: bytes = b"Action=AssumeRole&Version=2011-06-15") -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=body), timeout=5) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


def test_modes_answer_as_named() -> None:
    with FaultServer("500") as srv:
        assert _post(srv.url) == 500
    with FaultServer("throttle") as srv:
        assert _post(srv.url) == 400
        assert srv.actions == ["AssumeRole"]
    with FaultServer("error", status=403, code="AccessDenied") as srv:
        assert _post(srv.url) == 403
    with FaultServer("refuse") as srv, pytest.raises(urllib.error.URLError) as err:
        _post(srv.url)
    assert isinstance(err.value.reason, ConnectionRefusedError)


def test_stops_by_itself() -> None:
    srv = FaultServer("hang", lifetime=0.2).start()
    assert srv._timer is not None
    srv._timer.join(timeout=5)  # the timer fires stop(): no test waits on a clock
    with pytest.raises(ConnectionRefusedError), socket.create_connection(
            ("127.0.0.1", srv.port), timeout=2):
        pass


def test_hang_is_released_on_stop() -> None:
    with FaultServer("hang") as srv:
        with pytest.raises(TimeoutError):
            urllib.request.urlopen(urllib.request.Request(srv.url, data=b"x"), timeout=0.3)
        assert srv.requests == 1

"""Connections that send nothing, and files where roletray's folders should be (issue 25,
Low 10 and 11).

Bounded: at most 200 Unix-socket connections, every wait a deadline."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tray.domain import wire
from tray.instance import control
from tray.paths import Paths

REPO = Path(__file__).resolve().parent.parent


def here() -> Paths:
    return Paths.from_env(os.environ)


def sock() -> Path:
    return control.socket_path(here())


def echo(request: dict[str, Any]) -> dict[str, Any]:
    return wire.ok(echo=request.get("cmd"))


def connect_silent(count: int) -> list[socket.socket]:
    """``count`` connections that never send a byte. A full listen backlog answers a Unix
    socket's connect with EAGAIN at once (it does not wait): try again until the server
    has accepted some, within a deadline."""
    out = []
    deadline = time.monotonic() + 20
    for _ in range(count):
        while True:
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(10)
            try:
                s.connect(str(sock()))
                break
            except BlockingIOError:
                s.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.005)  # the accept thread drains the backlog meanwhile
            except OSError:
                s.close()
                raise
        out.append(s)
    return out


def closed_by_server(s: socket.socket, within: float) -> bool:
    s.settimeout(within)
    try:
        return s.recv(1) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


@pytest.fixture
def silent() -> Iterator[list[socket.socket]]:
    socks: list[socket.socket] = []
    yield socks
    for s in socks:
        s.close()


def test_status_answers_at_once_behind_two_hundred_silent_connections(
        isolated_env: Path, silent: list[socket.socket]) -> None:
    # Before: each silent connection held one of 16 slots for the 10 s request deadline,
    # and status waited minutes behind them.
    srv = control.ControlServer(echo, path=sock(), where=here()).start()
    try:
        silent += connect_silent(200)
        start = time.monotonic()
        reply = control.send("status", {}, timeout=3, where=here())
        assert reply == {"ok": True, "echo": "status"}
        assert time.monotonic() - start < 3
    finally:
        srv.stop()


def test_a_silent_connection_is_closed_at_its_first_byte_deadline(
        isolated_env: Path, silent: list[socket.socket]) -> None:
    srv = control.ControlServer(echo, path=sock(), where=here(),
                                first_byte_timeout=0.2).start()
    try:
        silent += connect_silent(5)
        start = time.monotonic()
        assert all(closed_by_server(s, within=5) for s in silent)
        assert time.monotonic() - start < 3
    finally:
        srv.stop()


def test_the_oldest_silent_connection_makes_room_for_a_real_request(
        isolated_env: Path, silent: list[socket.socket]) -> None:
    # A deadline far away: only the cap on silent connections lets the request in.
    srv = control.ControlServer(echo, path=sock(), where=here(), first_byte_timeout=60,
                                max_waiting=4, max_connections=2).start()
    try:
        silent += connect_silent(50)
        assert control.send("status", {}, timeout=3, where=here()) == {"ok": True,
                                                                       "echo": "status"}
        assert closed_by_server(silent[0], within=3)  # the oldest went first
    finally:
        srv.stop()


# ------------------------------------------------------- one line, not a traceback

def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tray", *args], capture_output=True, check=False,
                          text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)})


def test_a_file_where_the_runtime_folder_should_be_is_one_line(isolated_env: Path) -> None:
    runtime = here().runtime_dir
    runtime.write_text("not a folder\n")
    with pytest.raises(control.UsageError, match=str(runtime)):
        control.send("status", {}, where=here())
    out = run_cli("status")
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr and str(runtime) in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_a_folder_where_the_instance_lock_should_be_is_one_line(isolated_env: Path) -> None:
    lock = control.lock_path(here())
    lock.mkdir(parents=True)
    with pytest.raises(control.UsageError, match=str(lock)):
        control.InstanceLock(lock).acquire()
    out = run_cli("daemon")
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr and str(lock) in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1

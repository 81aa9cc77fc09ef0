"""One keeper per credentials file, whatever the XDG variables say; a caller finds it
from any runtime folder, and waits briefly for one that is starting (issue 25, Medium 4
and Low 14).

Every wait is a deadline; the daemons are real ``roletray daemon`` processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tray import fsutil
from tray.domain import wire
from tray.domain.errors import InstanceRunningError
from tray.instance import control, keeper
from tray.paths import Paths

REPO = Path(__file__).resolve().parent.parent


def here(env: dict[str, str] | None = None) -> Paths:
    return Paths.from_env(os.environ if env is None else env)


def other_xdg(tmp_path: Path, name: str) -> dict[str, str]:
    """This test's environment with its own state and runtime folders: same AWS files."""
    run = tmp_path / f"{name}-run"
    run.mkdir(mode=0o700)
    return {**os.environ, "XDG_STATE_HOME": str(tmp_path / f"{name}-state"),
            "XDG_RUNTIME_DIR": str(run), "PYTHONPATH": str(REPO)}


def echo(request: dict[str, Any]) -> dict[str, Any]:
    return wire.ok(echo=request.get("cmd"))


@pytest.fixture
def daemons(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(env: dict[str, str]) -> subprocess.Popen[bytes]:
        err = open(tmp_path / f"daemon{len(started)}.err", "wb")  # noqa: SIM115
        proc = subprocess.Popen([sys.executable, "-m", "tray", "daemon"], env=env,
                                stdout=subprocess.DEVNULL, stderr=err)
        err.close()
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def wait_ready(proc: subprocess.Popen[bytes], where: Paths) -> None:
    deadline = time.monotonic() + 20
    while control.send("status", {}, timeout=5, where=where) is None:
        assert proc.poll() is None, f"the daemon exited {proc.returncode}"
        assert time.monotonic() < deadline, "the daemon did not come up"
        time.sleep(0.05)  # a polling interval, not a timing assumption


# --------------------------------------------------------------- one keeper (4)

def test_a_second_daemon_with_other_xdg_folders_is_refused_naming_the_first(
        isolated_env: Path, tmp_path: Path, daemons: Any) -> None:
    first_env, second_env = other_xdg(tmp_path, "a"), other_xdg(tmp_path, "b")
    first = daemons(first_env)
    wait_ready(first, here(first_env))
    second = subprocess.run([sys.executable, "-m", "tray", "daemon"], env=second_env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert second.returncode == 2, second.stderr
    assert f"already running (pid {first.pid})" in second.stderr
    assert "Traceback" not in second.stderr
    assert len(second.stderr.strip().splitlines()) == 1
    # The first is unharmed, and still reached at its own socket.
    assert control.send("status", {}, timeout=5, path=control.socket_path(here(first_env)),
                        where=here(first_env)) is not None


def test_a_cli_with_another_runtime_folder_hands_over_to_the_keeper(
        isolated_env: Path, tmp_path: Path, daemons: Any) -> None:
    first_env, cli_env = other_xdg(tmp_path, "a"), other_xdg(tmp_path, "cli")
    first = daemons(first_env)
    wait_ready(first, here(first_env))
    assert not control.socket_path(here(cli_env)).exists()
    reply = control.send("status", {}, timeout=5, where=here(cli_env))
    assert reply is not None and reply["ok"] is True  # before: None, and it wrote itself
    out = subprocess.run([sys.executable, "-m", "tray", "status", "--json"], env=cli_env,
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr


def test_an_instance_of_another_credentials_file_may_not_take_the_socket(
        isolated_env: Path, tmp_path: Path, daemons: Any) -> None:
    # Same runtime folder, other state folder and other credentials file: before, the
    # second unlinked the first's socket and bound its own.
    first_env = other_xdg(tmp_path, "a")
    second_env = {**first_env, "XDG_STATE_HOME": str(tmp_path / "b-state"),
                  "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "b-credentials")}
    first = daemons(first_env)
    wait_ready(first, here(first_env))
    second = subprocess.run([sys.executable, "-m", "tray", "daemon"], env=second_env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert second.returncode == 2, second.stderr
    assert f"already running (pid {first.pid})" in second.stderr
    reply = control.send("status", {}, timeout=5, where=here(first_env))
    assert reply is not None and reply["ok"] is True  # still the first's socket


def test_the_record_lies_beside_the_file_and_follows_its_links(isolated_env: Path,
                                                               tmp_path: Path) -> None:
    creds = here().aws_credentials
    link = tmp_path / "linked-credentials"
    link.symlink_to(creds)
    record = keeper.record_path(creds)
    assert record == creds.parent / ".credentials.roletray.instance"
    assert keeper.record_path(link) == record
    sock = tmp_path / "x.sock"
    with keeper.acquire(link, sock):
        assert record.read_text() == f"{os.getpid()}\n{sock}\n"
        assert oct(record.stat().st_mode & 0o777) == "0o600"
        found = keeper.read(creds)
        assert found is not None and found.pid == os.getpid() and found.socket == sock
        with pytest.raises(InstanceRunningError, match="it keeps"):
            keeper.acquire(creds, sock)
    assert keeper.read(creds) is None and record.read_text() == ""


def test_a_read_only_folder_puts_the_record_in_the_users_own_folder(
        isolated_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # root writes anywhere: a folder of another user stands in for a read-only one
        shared = tmp_path / "shared"
        shared.mkdir()
        os.chown(shared, 65534, 65534)
    else:
        shared = tmp_path / "shared"
        shared.mkdir()
        shared.chmod(0o555)
    monkeypatch.setattr(keeper, "fallback_dir", lambda: tmp_path / "fallback")
    creds = shared / "credentials"
    record = keeper.record_path(creds)
    assert record.parent == tmp_path / "fallback"
    assert record.name == f"{keeper.file_id(creds)}.roletray.instance"
    with keeper.acquire(creds, tmp_path / "x.sock"):
        assert oct((tmp_path / "fallback").stat().st_mode & 0o777) == "0o700"
        assert keeper.read(creds) is not None
    assert not any(shared.iterdir())


def test_a_record_of_a_dead_process_or_another_user_is_ignored(isolated_env: Path,
                                                               tmp_path: Path) -> None:
    creds = here().aws_credentials
    record = keeper.record_path(creds)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(10)
    record.write_text(f"{dead.pid}\n{tmp_path / 'x.sock'}\n")
    assert keeper.read(creds) is None
    record.write_text(f"{os.getpid()}\n{tmp_path / 'x.sock'}\n")
    assert keeper.read(creds) is not None
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        os.chown(record, 65534, 65534)
        assert keeper.read(creds) is None


# ------------------------------------------------------- an instance starting (14)

def test_a_caller_waits_for_an_instance_that_holds_its_lock_but_has_no_socket_yet(
        isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    where = here()
    server: list[control.ControlServer] = []
    pauses: list[float] = []

    def pause(seconds: float) -> None:
        # The caller found the keeper's record and no socket: the instance binds now.
        pauses.append(seconds)
        if not server:
            server.append(control.ControlServer(echo, control.socket_path(where),
                                                where=where).start())

    monkeypatch.setattr(control, "_pause_for_start", pause)
    with keeper.acquire(where.aws_credentials, control.socket_path(where)):
        try:
            reply = control.send("status", {}, timeout=5, where=where)
        finally:
            for srv in server:
                srv.stop()
    assert reply == {"ok": True, "echo": "status"}
    assert len(pauses) == 1  # before: None at once, and 200 callers assumed by themselves


def test_the_wait_for_a_starting_instance_is_bounded(isolated_env: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    where = here()
    clock = [0.0]
    monkeypatch.setattr(control.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(control, "_pause_for_start",
                        lambda s: clock.__setitem__(0, clock[0] + s))
    # A stale socket at the path: bound once, nobody listens (not listening yet).
    path = control.socket_path(where)
    fsutil.private_dir(path.parent)
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(path))
    with keeper.acquire(where.aws_credentials, path):
        assert control.send("status", {}, timeout=30, where=where) is None
    assert control.STARTING_WAIT <= clock[0] < control.STARTING_WAIT + 0.2


def test_no_record_means_no_wait(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def never(_: float) -> None:
        raise AssertionError("waited with no instance starting")

    monkeypatch.setattr(control, "_pause_for_start", never)
    assert control.send("status", {}, where=here()) is None


def test_a_stopping_keeper_ends_the_wait_early(isolated_env: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    where = here()
    held = keeper.acquire(where.aws_credentials, control.socket_path(where))
    calls = threading.Event()

    def pause(_: float) -> None:
        calls.set()
        held.release()  # it stopped: its record is empty

    monkeypatch.setattr(control, "_pause_for_start", pause)
    try:
        assert control.send("status", {}, where=where) is None
    finally:
        held.release()
    assert calls.is_set()


def test_the_keeper_and_the_keys_index_name_a_file_alike(tmp_path: Path) -> None:
    """Two copies of one line (the fast path's record reader stays lean; the keys index
    sits below the instance layer): the same id for the same file, however it is named."""
    from tray import keys_index

    real = tmp_path / "dotfiles" / "credentials"
    real.parent.mkdir()
    real.write_text("")
    (tmp_path / "link").symlink_to(real)
    for name in (real, tmp_path / "link", tmp_path / "dotfiles" / ".." / "dotfiles" /
                 "credentials", tmp_path / "other"):
        assert keeper.file_id(name) == keys_index.file_id(name)
    assert keeper.file_id(tmp_path / "link") != keeper.file_id(tmp_path / "other")

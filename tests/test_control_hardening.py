"""The instance lock and the control socket under hostile local conditions (issue 13).

Timing comes from deadlines and socket timeouts, never from sleeping: a client that
"trickles" sends its next byte when its own short recv() times out.
"""

from __future__ import annotations

import contextlib
import errno
import inspect
import itertools
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tray import __version__, fsutil, paths
from tray.domain import wire
from tray.domain.errors import InstanceRunningError, UsageError
from tray.instance import control
from tray.paths import Paths

REPO = Path(__file__).resolve().parent.parent
NOBODY = 65534
needs_root = pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0,
                                reason="acting as another user needs root")



def sock() -> Path:
    """The control socket of the environment the test set up."""
    return control.socket_path(Paths.from_env(os.environ))


def here() -> Paths:
    """The paths of the environment the test set up (its AWS files, its socket)."""
    return Paths.from_env(os.environ)


def lock() -> Path:
    return control.lock_path(Paths.from_env(os.environ))

def echo(request: dict[str, Any]) -> dict[str, Any]:
    return wire.ok(echo=request.get("cmd"))


@pytest.fixture
def server(isolated_env: Path) -> Iterator[control.ControlServer]:
    srv = control.ControlServer(echo, path=sock(), where=here()).start()
    yield srv
    srv.stop()


def start_as_nobody(fn: Callable[[], bytes]) -> tuple[int, int]:
    """Fork a child that runs ``fn()`` as uid/gid 65534; ``finish`` collects its bytes.

    Fork before opening any client socket: a child holding a copy of one would keep
    that connection open after the parent closed it."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(r)
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            out = fn()
        except BaseException as e:  # noqa: BLE001 - reported to the parent
            out = f"ERR {e!r}".encode()
        os.write(w, out)
        os._exit(0)
    os.close(w)
    return pid, r


def finish(child: tuple[int, int]) -> bytes:
    pid, r = child
    chunks = []
    while chunk := os.read(r, 65536):
        chunks.append(chunk)
    os.close(r)
    os.waitpid(pid, 0)
    return b"".join(chunks)


def as_nobody(fn: Callable[[], bytes]) -> bytes:
    return finish(start_as_nobody(fn))


def envelope(cmd: str) -> bytes:
    """A request line as ``control.send`` writes it, for this environment's files."""
    return json.dumps({"proto": wire.PROTO, "version": __version__,
                       "files": control.files_of(here()), "call": {"cmd": cmd}}).encode() + b"\n"


def exchange(sock_path: Path, data: bytes, timeout: float = 5.0) -> bytes:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(timeout)
        s.connect(str(sock_path))
        s.sendall(data)
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
    return buf


# -------------------------------------------------------- one instance (item 3)

def test_the_lock_holds_across_different_runtime_dirs(isolated_env: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    other_run = tmp_path / "other-run"
    other_run.mkdir(mode=0o700)
    code = ("import os, sys; from tray.instance import control; from tray.paths import Paths; "
            "lock = control.InstanceLock(control.lock_path(Paths.from_env(os.environ))).acquire(); "
            "print('locked', flush=True); sys.stdin.read()")
    env = {**os.environ, "PYTHONPATH": str(REPO), "XDG_RUNTIME_DIR": str(other_run)}
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "locked"
        for runtime in (str(tmp_path / "run"), None):  # ours, and none at all
            if runtime is None:
                monkeypatch.delenv("XDG_RUNTIME_DIR")
            else:
                monkeypatch.setenv("XDG_RUNTIME_DIR", runtime)
            with pytest.raises(InstanceRunningError, match=f"pid {child.pid}"):
                control.InstanceLock(lock()).acquire()
    finally:
        child.kill()
        child.wait(10)
    assert lock().parent == paths.state_dir(os.environ)


# ------------------------------------------------- many clients at once (item 6)

@pytest.fixture
def gated(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """The server's accept loop waits for this event: connections pile up in the backlog."""
    gate = threading.Event()
    serve = control.ControlServer._serve

    def waiting(self: control.ControlServer) -> None:
        gate.wait(30)
        serve(self)

    monkeypatch.setattr(control.ControlServer, "_serve", waiting)
    return gate


def test_sixty_pending_connections_fit_in_the_backlog(isolated_env: Path,
                                                      gated: threading.Event) -> None:
    srv = control.ControlServer(echo, path=sock(), where=here()).start()
    socks: list[socket.socket] = []
    try:
        for _ in range(60):  # as 60 CLI calls connect before the server accepts any
            s = socket.socket(socket.AF_UNIX)
            socks.append(s)
            s.settimeout(5)  # non-blocking underneath, like the client: EAGAIN if full
            s.connect(str(sock()))
            s.sendall(envelope("status"))
        gated.set()
        for s in socks:
            assert json.loads(s.makefile().readline()) == {"ok": True, "echo": "status",
                                                           "proto": wire.PROTO,
                                                           "version": __version__}
    finally:
        for s in socks:
            s.close()
        gated.set()
        srv.stop()


def test_a_full_backlog_is_retried_then_reported_in_one_line(
        isolated_env: Path, gated: threading.Event, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(control, "BACKLOG", 1)
    srv = control.ControlServer(echo, path=sock(), where=here()).start()
    socks: list[socket.socket] = []
    try:
        while True:  # fill the backlog
            s = socket.socket(socket.AF_UNIX)
            s.setblocking(False)
            try:
                s.connect(str(sock()))
            except BlockingIOError:
                s.close()
                break
            socks.append(s)
            assert len(socks) < 50
        start = time.monotonic()
        reply = control.send("status", {}, timeout=0.5, where=here())
        assert time.monotonic() - start >= 0.4  # it kept trying until its deadline
        assert reply is not None and reply["ok"] is False and reply["exit_code"] == 2
        assert "cannot reach the running roletray" in reply["error"]
        assert "\n" not in reply["error"]
    finally:
        for s in socks:
            s.close()
        gated.set()
        srv.stop()


def test_sixty_concurrent_cli_calls_all_get_answers(server: control.ControlServer) -> None:
    replies: list[dict[str, Any] | None] = []
    failures: list[BaseException] = []

    def call() -> None:
        try:
            replies.append(control.send("status", {}, timeout=60, where=here()))
        except BaseException as e:  # noqa: BLE001 - collected and asserted below
            failures.append(e)

    threads = [threading.Thread(target=call) for _ in range(60)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert failures == []
    assert replies == [{"ok": True, "echo": "status"}] * 60


# ----------------------------------------------- who is at the other end (item 8)

def test_the_client_refuses_a_socket_in_a_folder_others_can_write(isolated_env: Path) -> None:
    path = sock()
    fsutil.private_dir(path.parent)
    with socket.socket(socket.AF_UNIX) as fake:
        fake.bind(str(path))
        fake.listen(8)
        os.chmod(path.parent, 0o777)  # a shared folder: anyone could have put it there
        with pytest.raises(UsageError, match=f"{path.parent} is not a private folder"):
            control.send("mfa", {"code": "902817"}, timeout=1, where=here())
        fake.setblocking(False)
        with pytest.raises(BlockingIOError):
            fake.accept()  # nobody even connected


def test_a_plain_file_at_the_socket_path_means_no_instance(isolated_env: Path) -> None:
    path = sock()
    fsutil.private_dir(path.parent)
    path.write_text("left over\n")
    assert control.send("status", {}, where=here()) is None


@needs_root
def test_the_client_refuses_a_socket_owned_by_another_user(isolated_env: Path) -> None:
    path = sock()
    fsutil.private_dir(path.parent)
    with socket.socket(socket.AF_UNIX) as fake:
        fake.bind(str(path))
        fake.listen(8)
        os.chown(path, NOBODY, NOBODY)
        with pytest.raises(UsageError, match=f"belongs to uid {NOBODY}"):
            control.send("mfa", {"code": "902817"}, timeout=1, where=here())
        fake.setblocking(False)
        with pytest.raises(BlockingIOError):
            fake.accept()


@needs_root
def test_the_client_refuses_a_server_running_as_another_user(isolated_env: Path) -> None:
    """Our socket file in our private folder, but another user's process listens on it."""
    path = sock()
    fsutil.private_dir(path.parent)
    bound = socket.socket(socket.AF_UNIX)
    bound.bind(str(path))
    os.chmod(path, 0o600)
    result: list[bytes] = []

    def fake_server() -> bytes:
        bound.listen(8)  # SO_PEERCRED names whoever called listen()
        conn, _ = bound.accept()
        conn.settimeout(5)
        return b"received " + conn.recv(4096)

    child = start_as_nobody(fake_server)
    bound.close()  # the child has it
    try:
        deadline = time.monotonic() + 10
        with pytest.raises(UsageError, match=f"runs as uid {NOBODY}"):
            # None until the child listens (connect: ECONNREFUSED)
            while control.send("mfa", {"code": "902817"}, timeout=2, where=here()) is None:
                assert time.monotonic() < deadline, "the fake server never listened"
    finally:
        result.append(finish(child))
    assert result == [b"received "]  # it got a connection, and not one byte of the code


@needs_root
def test_the_server_turns_another_user_away_before_parsing(tmp_path: Path) -> None:
    # A lax setup lets another user reach the socket: a folder others may traverse.
    with tempfile.TemporaryDirectory(prefix="roletray-test-") as shared:
        os.chmod(shared, 0o711)
        path = Path(shared) / "roletray" / control.SOCKET_NAME
        handled: list[dict[str, Any]] = []

        def handler(request: dict[str, Any]) -> dict[str, Any]:
            handled.append(request)
            return wire.ok()

        srv = control.ControlServer(handler, path, where=here()).start()
        try:
            os.chmod(path.parent, 0o711)
            os.chmod(path, 0o666)
            # 60k-deep JSON: parsed before the peer check, it would crash the handler.
            raw = as_nobody(lambda: exchange(path, b"[" * 60000 + b"\n"))
            reply = json.loads(raw)
            assert reply["ok"] is False and reply["error"] == "permission denied"
            raw = as_nobody(lambda: exchange(path, b'{"cmd": "mfa", "code": "902817"}\n'))
            assert json.loads(raw)["error"] == "permission denied"
            assert handled == []
        finally:
            srv.stop()


def test_the_server_refuses_a_symlinked_folder(isolated_env: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    folder = sock().parent
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.symlink_to(elsewhere)
    with pytest.raises(UsageError, match="symbolic link"):
        control.ControlServer(echo, path=sock(), where=here()).start()
    assert list(elsewhere.iterdir()) == []


# ------------------------------------------------------------- the Low items

def test_a_deeply_nested_request_gets_a_one_line_answer(server: control.ControlServer) -> None:
    reply = json.loads(exchange(sock(), b"[" * 60000 + b"\n"))
    assert reply["ok"] is False and reply["code"] == "usage"
    assert reply["error"] == "bad request (ValueError)"
    assert control.send("status", {}, where=here()) == {"ok": True, "echo": "status"}


def test_a_trickling_client_loses_its_connection_at_the_request_deadline(
        isolated_env: Path) -> None:
    """The connection ends at the deadline, however the kernel reports it: the server's
    answer and then EOF, or a reset (the server closed while our trickled bytes were
    still unread in its buffer, and a Unix socket then drops what it had not delivered).
    Either way it ends well before the client's own 5 s give-up."""
    srv = control.ControlServer(echo, request_timeout=0.5, path=sock(), where=here()).start()
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(sock()))
            s.settimeout(0.1)
            start = time.monotonic()
            answer = b""
            ended_by = "nothing"
            while time.monotonic() - start < 5:
                try:
                    chunk = s.recv(4096)
                    if not chunk:
                        ended_by = "eof"
                        break
                    answer += chunk
                except TimeoutError:
                    try:
                        s.sendall(b" ")  # one more byte: each recv of the server gets data
                    except (BrokenPipeError, ConnectionResetError):
                        ended_by = "reset"
                        break
                except ConnectionResetError:
                    ended_by = "reset"
                    break
            elapsed = time.monotonic() - start
        assert ended_by in ("eof", "reset")
        assert elapsed < 2.5
        if ended_by == "eof":
            assert json.loads(answer)["error"] == "bad request (TimeoutError)"
        else:  # whatever arrived before the reset is the start of that same answer
            full = json.dumps(wire.encode_error(UsageError("bad request (TimeoutError)")))
            assert (full.encode() + b"\n").startswith(answer)
    finally:
        srv.stop()


def test_idle_connections_hold_at_most_the_bound_of_threads(isolated_env: Path) -> None:
    srv = control.ControlServer(echo, max_connections=4, request_timeout=0.3, path=sock(),
                                where=here()).start()
    idle = []
    try:
        for _ in range(20):
            s = socket.socket(socket.AF_UNIX)
            s.connect(str(sock()))
            idle.append(s)
        assert control.send("status", {}, timeout=20, where=here()) == {"ok": True,
                                                                        "echo": "status"}
        serving = [t for t in threading.enumerate() if t.name == "roletray-control-conn"]
        assert len(serving) <= 4
    finally:
        for s in idle:
            s.close()
        srv.stop()


def test_a_failing_accept_backs_off_instead_of_spinning(isolated_env: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(control, "ACCEPT_BACKOFF", 0.05)
    srv = control.ControlServer(echo, path=sock(), where=here())
    calls: list[float] = []

    readable, other = socket.socketpair()
    other.send(b"x")  # a listener that always has someone to accept

    class OutOfFiles:
        def fileno(self) -> int:
            return readable.fileno()

        def accept(self) -> Any:
            calls.append(time.monotonic())
            if len(calls) == 5:
                srv._closing.set()
            raise OSError(errno.EMFILE, "Too many open files")

    srv._sock = OutOfFiles()  # type: ignore[assignment]
    with readable, other:
        srv._serve()  # returns once closing is set
    gaps = [b - a for a, b in itertools.pairwise(calls)]
    assert len(calls) == 5 and min(gaps) >= 0.04


def test_a_trickling_server_does_not_hold_the_client_past_its_deadline(
        isolated_env: Path) -> None:
    path = sock()
    fsutil.private_dir(path.parent)
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    listener.listen(1)

    def trickle() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(0.05)
            end = time.monotonic() + 3
            while time.monotonic() < end:
                with contextlib.suppress(TimeoutError):
                    conn.recv(4096)  # paces the loop: up to 50 ms
                try:
                    conn.sendall(b" ")  # a byte at a time, never a newline
                except OSError:
                    break  # the client hung up

    t = threading.Thread(target=trickle)
    t.start()
    try:
        start = time.monotonic()
        reply = control.send("status", {}, timeout=0.5, where=here())
        elapsed = time.monotonic() - start
    finally:
        t.join(10)
        listener.close()
    assert reply is not None and reply["ok"] is False and reply["exit_code"] == 1
    assert "did not answer within" in reply["error"] and elapsed < 2


def test_the_cli_waits_longer_than_the_instance_may_take() -> None:
    # A handed-over assume may wait for a refresh in flight, then run its own worker;
    # the CLI must not report a failure that the instance then turns into a switch.
    from tray.engine import worker

    assert worker.TIMEOUT == wire.WORKER_TIMEOUT
    default = inspect.signature(control.send).parameters["timeout"].default
    assert default == wire.HANDOVER_TIMEOUT > 2 * worker.TIMEOUT


def test_workers_start_as_connections_need_them(isolated_env: Path) -> None:
    """An idle tray holds no connection worker it never used (each one a thread); a burst
    gets one per connection up to the bound, so a real request is not queued behind
    clients that are still sending."""
    def workers() -> int:
        return sum(t.name == "roletray-control-conn" for t in threading.enumerate())

    before = workers()  # stopped servers of earlier tests may still be winding down
    srv = control.ControlServer(echo, max_connections=4, request_timeout=5.0, path=sock(),
                                where=here()).start()
    slow = []
    try:
        assert srv._started == 0 and workers() <= before
        assert control.send("status", {}, timeout=20, where=here())["echo"] == "status"
        assert srv._started == 1
        for _ in range(3):  # each holds a worker: half a request, the rest never comes
            s = socket.socket(socket.AF_UNIX)
            s.connect(str(sock()))
            s.sendall(b'{"proto"')
            slow.append(s)
        # Answered while all three still wait for their deadline (5 s): not behind them.
        assert control.send("status", {}, timeout=20, where=here())["echo"] == "status"
        assert not any(closed_by_server(s, 0) for s in slow)
        assert srv._started == 4
    finally:
        for s in slow:
            s.close()
        srv.stop()


def closed_by_server(s: socket.socket, within: float) -> bool:
    s.settimeout(within)
    try:
        return s.recv(1) == b""
    except (TimeoutError, BlockingIOError):
        return False
    except ConnectionResetError:
        return True

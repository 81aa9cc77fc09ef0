"""One running instance per user, and its private channel for the CLI.

- ``InstanceLock``: an exclusive ``flock`` on ``runtime_dir()/instance.lock``,
  which holds the owner's pid; a second instance gets ``InstanceRunningError``.
- ``ControlServer``: a Unix socket ``runtime_dir()/control.sock`` (folder 0700,
  socket 0600, peer uid checked), never a TCP port. One JSON line in, one out::

      -> {"cmd": "assume", "profile": "platform", "target": null, "duration": null,
          "mfa_code": null, "force": false}
      <- {"ok": true, "snapshot": {"state": "fresh", "role": "platform", ...}}
      <- {"ok": false, "error": "profile 'platform': AccessDenied: ...", "exit_code": 1,
          "error_type": "AccessDeniedError"}

- ``send(cmd, payload)``: the client; None when no instance listens.

The request may carry an MFA code: it travels only over this socket and is
never logged.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import socket
import stat
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from tray import paths
from tray.domain.errors import EXIT_AWS, EXIT_USAGE, InstanceRunningError, RoletrayError, UsageError

if TYPE_CHECKING:
    from tray.engine.refresher import Refresher

log = logging.getLogger(__name__)

LOCK_NAME = "instance.lock"
SOCKET_NAME = "control.sock"
MAX_LINE = 64 * 1024  # a request is a few hundred bytes; refuse anything absurd
COMMANDS = ("assume", "refresh", "clear", "status", "mfa")

Handler = Callable[[dict[str, Any]], dict[str, Any]]


def lock_path(where: paths.Paths | None = None) -> Path:
    """The lock in ``where.runtime_dir`` (the composition root passes its ``Paths``)."""
    return (where.runtime_dir if where else paths.runtime_dir()) / LOCK_NAME


def socket_path(where: paths.Paths | None = None) -> Path:
    return (where.runtime_dir if where else paths.runtime_dir()) / SOCKET_NAME


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` 0700, or tighten it when it is ours; refuse one owned by someone else."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    st = path.stat()
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        raise UsageError(f"{path} belongs to another user; refusing to use it")
    if stat.S_IMODE(st.st_mode) & 0o077:
        os.chmod(path, 0o700)
    return path


# ---------------------------------------------------------------- instance lock

class InstanceLock:
    """Held for the life of the tray or daemon; released by ``release()`` or process exit.

    The kernel drops a ``flock`` when its holder dies, so a crash leaves no stale lock.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or lock_path()
        self._file: IO[str] | None = None

    def acquire(self) -> InstanceLock:
        ensure_private_dir(self.path.parent)
        f = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 (held open on purpose)
        try:
            _lock_nonblocking(f)
        except OSError as e:
            f.seek(0)
            pid = f.read().strip() or "unknown"
            f.close()
            if e.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            raise InstanceRunningError(
                pid=pid, hint="`roletray assume|refresh|clear|status` talk to it; "
                f"stop it with `kill {pid}` to start another") from None
        os.chmod(self.path, 0o600)
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()}\n")
        f.flush()
        self._file = f
        return self

    def release(self) -> None:
        # The file stays: unlinking a lock file races with a starting instance.
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.seek(0)
                self._file.truncate()
            self._file.close()
            self._file = None

    def __enter__(self) -> InstanceLock:  # noqa: PYI034
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _lock_nonblocking(f: IO[str]) -> None:
    try:
        import fcntl
    except ImportError:  # Windows: an exclusive byte-range lock on the first byte
        import msvcrt

        try:
            msvcrt.locking(f.fileno(), msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError as e:
            raise OSError(errno.EACCES, str(e)) from e
        return
    fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)


def running_pid() -> int | None:
    """The pid in the lock file, if an instance holds the lock now."""
    try:
        with InstanceLock():
            return None
    except InstanceRunningError as e:
        try:
            return int(e.kwargs["pid"])
        except (KeyError, ValueError):
            return None


# --------------------------------------------------------------------- dispatch

def dispatch(refresher: Refresher, request: dict[str, Any]) -> dict[str, Any]:
    """One request to the refresher; errors become ``{"ok": false, ...}``, never exceptions."""
    cmd = request.get("cmd")
    try:
        if cmd == "status":
            snap = refresher.snapshot()
        elif cmd == "assume":
            profile = request.get("profile")
            if not isinstance(profile, str) or not profile:
                raise UsageError("assume: a profile name is required")
            snap = refresher.switch(profile, _opt_str(request, "mfa_code"),
                                    target=_opt_str(request, "target"),
                                    duration=_opt_int(request, "duration"),
                                    force=bool(request.get("force", False)))
        elif cmd == "refresh":
            snap = refresher.refresh_now(_opt_str(request, "mfa_code"))
        elif cmd == "mfa":
            code = _opt_str(request, "code") or _opt_str(request, "mfa_code")
            if not code:
                raise UsageError("mfa: a code is required")
            snap = refresher.provide_mfa_code(code)
        elif cmd == "clear":
            snap = refresher.clear(_opt_str(request, "target"))
        else:
            raise UsageError(f"unknown command {cmd!r} (known: {', '.join(COMMANDS)})")
    except RoletrayError as e:
        return {"ok": False, "error": str(e), "exit_code": e.exit_code,
                "error_type": type(e).__name__}
    except Exception as e:  # the server must answer something, and must survive
        log.exception("control command %s failed", cmd)
        return {"ok": False, "error": f"internal error in the running roletray "
                f"({type(e).__name__}); see its log", "exit_code": EXIT_USAGE,
                "error_type": type(e).__name__}
    reply: dict[str, Any] = {"ok": True, "snapshot": snap.to_json()}
    outcome = refresher.last_outcome
    if cmd in ("assume", "refresh", "mfa") and outcome is not None:
        reply["access_key_id"] = outcome.result.credentials.masked_key
        reply["region"] = outcome.region
        reply["warnings"] = list(outcome.warnings)
    return reply


def _opt_str(request: dict[str, Any], key: str) -> str | None:
    value = request.get(key)
    if value is None or isinstance(value, str):
        return value or None
    raise UsageError(f"{key} must be a string")


def _opt_int(request: dict[str, Any], key: str) -> int | None:
    value = request.get(key)
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise UsageError(f"{key} must be a whole number")


# ----------------------------------------------------------------------- server

class ControlServer:
    """Accepts on the socket in a daemon thread; each connection gets its own short thread,
    so ``status`` answers while a slow ``assume`` is still talking to AWS."""

    def __init__(self, handler: Handler, path: Path | None = None) -> None:
        self.handler = handler
        self.path = path or socket_path()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()

    def start(self) -> ControlServer:
        """Bind (removing a stale socket: the caller holds the instance lock) and serve."""
        ensure_private_dir(self.path.parent)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)  # born 0600: no window where another user could connect
        try:
            sock.bind(str(self.path))
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)
        sock.listen(8)
        self._sock = sock
        self._thread = threading.Thread(target=self._serve, name="roletray-control", daemon=True)
        self._thread.start()
        log.debug("control socket at %s", self.path)
        return self

    def stop(self) -> None:
        if self._sock is None:
            return
        self._closing.set()
        # A blocked accept() is not woken by close() everywhere: connect to ourselves.
        with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as s:
            s.settimeout(1.0)
            s.connect(str(self.path))
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        self._sock.close()
        self._sock = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def _serve(self) -> None:
        assert self._sock is not None
        while not self._closing.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                if self._closing.is_set():
                    return
                continue
            if self._closing.is_set():
                conn.close()
                return
            threading.Thread(target=self._handle, args=(conn,), name="roletray-control-conn",
                             daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.settimeout(10.0)  # a client that connects and says nothing
                # Read first, then judge: closing on unread data would reset the
                # connection, and the client would never see why.
                request = _read_json_line(conn)
                if not _same_user(conn):
                    _write(conn, {"ok": False, "error": "permission denied",
                                  "exit_code": EXIT_USAGE})
                    return
                if not isinstance(request, dict):
                    raise TypeError("not a JSON object")
            except (OSError, ValueError, TypeError) as e:
                with contextlib.suppress(OSError):
                    _write(conn, {"ok": False, "error": f"bad request ({type(e).__name__})",
                                  "exit_code": EXIT_USAGE})
                return
            # The command only, never the payload (it may hold an MFA code); status is chatty.
            log.log(logging.DEBUG if request.get("cmd") == "status" else logging.INFO,
                    "control: %s", request.get("cmd"))
            conn.settimeout(None)  # an assume may take a while; the client has its own timeout
            reply = self.handler(request)
            with contextlib.suppress(OSError):
                _write(conn, reply)


def _same_user(conn: socket.socket) -> bool:
    """The peer's uid, where the platform tells it (Linux); the 0700 folder guards the rest."""
    peercred = getattr(socket, "SO_PEERCRED", None)
    if peercred is None or not hasattr(os, "getuid"):
        return True
    raw = conn.getsockopt(socket.SOL_SOCKET, peercred, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", raw)
    return uid == os.getuid()


def _write(conn: socket.socket, doc: dict[str, Any]) -> None:
    conn.sendall(json.dumps(doc).encode("utf-8") + b"\n")


def _read_json_line(conn: socket.socket) -> Any:
    buf = bytearray()
    while b"\n" not in buf:
        chunk = conn.recv(4096)
        if not chunk:
            break
        buf += chunk
        if len(buf) > MAX_LINE:
            raise ValueError("request too long")
    line = bytes(buf).split(b"\n", 1)[0]
    if not line:
        raise ValueError("empty request")
    return json.loads(line.decode("utf-8"))


def make_handler(refresher: Refresher) -> Handler:
    return lambda request: dispatch(refresher, request)


# ----------------------------------------------------------------------- client

def send(cmd: str, payload: dict[str, Any] | None = None, timeout: float = 30.0,
         *, path: Path | None = None) -> dict[str, Any] | None:
    """Hand ``cmd`` to the running instance. None when none runs (no socket, or refused).

    Payloads: assume {profile, target, duration, mfa_code, force}; refresh {mfa_code};
    mfa {code}; clear {target}; status {}.
    """
    if not hasattr(socket, "AF_UNIX"):
        return None
    path = path or socket_path()
    if not path.exists():
        return None
    request = {**(payload or {}), "cmd": cmd}
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        try:
            sock.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError):
            return None  # a stale socket: the instance is gone
        except OSError as e:
            if e.errno in (errno.ENOENT, errno.ECONNREFUSED, errno.ENOTSOCK):
                return None
            raise
        try:
            _write(sock, request)
            reply = _read_json_line(sock)
        except TimeoutError:
            return {"ok": False, "exit_code": EXIT_AWS, "error_type": "TimeoutError",
                    "error": f"the running roletray did not answer within {timeout:.0f} s"}
        except (OSError, ValueError) as e:
            return {"ok": False, "exit_code": EXIT_USAGE, "error_type": type(e).__name__,
                    "error": f"the running roletray gave no usable answer ({type(e).__name__})"}
    finally:
        sock.close()
    if not isinstance(reply, dict):
        return {"ok": False, "exit_code": EXIT_USAGE, "error_type": "ValueError",
                "error": "the running roletray gave no usable answer"}
    return reply


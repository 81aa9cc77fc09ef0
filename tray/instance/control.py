"""One running instance per user, and its private channel for the CLI.

- ``InstanceLock``: an exclusive ``flock`` on ``instance.lock`` in the state
  folder, which holds the owner's pid; a second instance gets
  ``InstanceRunningError``. Not in the runtime folder: two processes that see
  different ``XDG_RUNTIME_DIR`` values must still find one lock.
- ``ControlServer``: a Unix socket ``Paths.runtime_dir/control.sock`` (folder 0700,
  opened without following links, socket 0600, peer uid checked before a request
  is parsed), never a TCP port. A connection must send its first byte within
  ``FIRST_BYTE_TIMEOUT`` (at most ``MAX_WAITING`` silent ones are held, the oldest
  closed first) and then its whole request within ``REQUEST_TIMEOUT``; at most
  ``MAX_CONNECTIONS`` requests are served at once, the rest queue. One JSON line in,
  one out (``tray.domain.wire`` on ``wireline``)::

      -> {"proto": 3, "version": "0.1.0", "files": {"config": "/home/u/.aws/config",
          "credentials": "/home/u/.aws/credentials"}, "call": {"cmd": "assume",
          "profile": "platform", "target": null, "duration": null, "mfa_code": null,
          "force": false}}  (+ "unattended": true from the lean hand-over: a guarded
          profile is declined, ``needs_person``, before any AssumeRole)
      <- {"proto": 3, "ok": true, "snapshot": {"state": "fresh", "role": "platform", ...}}
      <- {"proto": 3, "ok": false, "code": "access_denied", "error": "profile ...",
          "exit_code": 1, "profile": "platform"}

  The instance answers only for its own AWS files: a request naming other files (the
  caller's ``AWS_CONFIG_FILE`` or ``AWS_SHARED_CREDENTIALS_FILE``, resolved) is declined
  (``other_files``) before the command is looked at, and so is one of another protocol
  (``other_proto``: an older or newer roletray), with a line naming both versions.

- ``send(cmd, payload, where=paths)``: the client; None when no instance listens, or
  when it answers for other files than ``where``'s (the caller does the work itself,
  as with no instance). Before it sends anything it checks that the socket and its
  folder are the user's own and private, and that the listening process runs as the
  user (SO_PEERCRED).

The request may carry an MFA code: it travels only over this socket and is
never logged.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import queue
import selectors
import socket
import stat
import struct
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tray import fsutil, paths
from tray.domain import wire, wireline
from tray.domain.errors import AwsError, MfaRequiredError, RoletrayError, UsageError
from tray.domain.text import Text, lines_to_json
from tray.i18n import N_
from tray.instance import keeper
from tray.instance.lock import (  # noqa: F401 (the instance's locks, as callers know them)
    InstanceLock,
    running_pid,
)
from tray.settings import check_target

if TYPE_CHECKING:
    from tray.engine.refresher import Refresher
    from tray.serve.keeper import ServedKeeper

log = logging.getLogger(__name__)

LOCK_NAME = "instance.lock"
SOCKET_NAME = "control.sock"
SOCKET_LOCK_NAME = "control.lock"
MAX_LINE = 64 * 1024  # a request is a few hundred bytes; refuse anything absurd
COMMANDS = ("assume", "refresh", "clear", "status", "mfa", "section_keys")
BACKLOG = 128  # 60 CLI calls at once must queue, not fail with EAGAIN
MAX_CONNECTIONS = 16  # requests served at once: one worker thread each
REQUEST_TIMEOUT = 10.0  # for the whole request line, however slowly it trickles in
FIRST_BYTE_TIMEOUT = 1.0  # a client writes at once: a silent connection is dropped then
MAX_WAITING = 64  # silent connections held at once; the oldest goes first
ACCEPT_BACKOFF = 0.2  # after accept() fails (EMFILE): wait instead of spinning
STARTING_WAIT = 2.0  # a keeper's record but no socket yet: it is starting; wait this long
STARTING_POLL = 0.05

Handler = Callable[[dict[str, Any]], dict[str, Any]]


def lock_path(where: paths.Paths) -> Path:
    """The lock in the state folder, never the runtime folder: two instances that see
    different ``XDG_RUNTIME_DIR`` values must still find one lock."""
    return where.state_dir / LOCK_NAME


def socket_path(where: paths.Paths) -> Path:
    return where.runtime_dir / SOCKET_NAME


def socket_lock_path(where: paths.Paths) -> Path:
    """Held by the instance that listens on ``socket_path``: two instances of two state
    folders and two credentials files in one runtime folder must not take the socket
    from each other."""
    return where.runtime_dir / SOCKET_LOCK_NAME


def files_of(where: paths.Paths) -> dict[str, str]:
    """The AWS files ``where`` names, as a request carries them: real paths (links
    resolved, relative ones from the working folder), so two spellings of one file match."""
    config, credentials = where.aws_files()
    return {"config": config, "credentials": credentials}


# --------------------------------------------------------------------- dispatch

def dispatch(refresher: Refresher, request: dict[str, Any]) -> dict[str, Any]:
    """One request to the refresher; errors become ``{"ok": false, ...}``, never exceptions."""
    cmd = request.get("cmd")
    if cmd == "section_keys":
        return section_keys(refresher, request)
    extra: dict[str, Any] = {}
    target = None
    try:
        if cmd == "status":
            snap = refresher.snapshot()
            # Every kept section, the default target's first (the top level is that one).
            extra["sections"] = [s.to_json() for s in refresher.snapshots()]
        elif cmd == "assume":
            profile = request.get("profile")
            if not isinstance(profile, str) or not profile:
                raise UsageError(Text(N_("assume: a profile name is required")))
            target = check_target(_opt_str(request, "target"))
            if request.get("unattended") is True:
                # The lean hand-over: nobody was asked; a guarded profile goes back to the
                # full command line, which asks (or refuses), before any AssumeRole.
                guard = refresher.guard_of(profile)
                if guard is not None:
                    return wire.declined(wire.NEEDS_PERSON, (
                        f"profile '{profile}' is guarded ({guard}): a person confirms it "
                        "first"))
            snap = refresher.switch(profile, _opt_str(request, "mfa_code"), target=target,
                                    duration=_opt_int(request, "duration"),
                                    force=bool(request.get("force", False)))
        elif cmd == "refresh":
            target = check_target(_opt_str(request, "target"))
            snap = refresher.refresh_now(_opt_str(request, "mfa_code"), target=target)
        elif cmd == "mfa":
            code = _opt_str(request, "code") or _opt_str(request, "mfa_code")
            if not code:
                raise UsageError(Text(N_("mfa: a code is required")))
            target = _opt_str(request, "target")
            snap = refresher.provide_mfa_code(code, target=target)
        elif cmd == "clear":
            cleared = refresher.clear_section(check_target(_opt_str(request, "target")))
            snap = refresher.snapshot()
            extra.update(removed=cleared.anything, section=cleared.section,
                         target=cleared.target)
        else:
            raise UsageError(N_("unknown command {cmd!r} (known: {known})"),
                             cmd=cmd, known=', '.join(COMMANDS))
    except RoletrayError as e:
        return wire.encode_error(e)
    except Exception as e:  # the server must answer something, and must survive
        log.exception("control command %s failed", cmd)
        return wire.internal_error(f"internal error in the running roletray "
                                   f"({type(e).__name__}); see its log")
    reply = wire.ok(snapshot=snap.to_json(), **extra)
    outcome = refresher.outcome_of(target)
    if cmd == "assume":
        reply["default_target"] = refresher.default_target  # "Switched" or "kept too"
    if cmd in ("assume", "refresh", "mfa") and outcome is not None:
        reply["access_key_id"] = outcome.result.credentials.masked_key
        reply["region"] = outcome.region
        reply["warnings"] = list(outcome.warnings)  # English, as --json gives them
        # The same, to be said in the caller's language (tray.cli.snapshot_text).
        reply["warning_texts"] = lines_to_json(outcome.warnings)
    return reply


def section_keys(refresher: Refresher, request: dict[str, Any]) -> dict[str, Any]:
    """``section_keys {profile}``: the keys a kept section holds for PROFILE, from memory and
    without an AssumeRole (``document`` is None when no section keeps it with keys that
    still work). For ``roletray console``: the reply holds the keys, so it goes only to
    a peer that runs as the user, and is never logged."""
    from tray.serve.document import process_document

    try:
        profile = request.get("profile")
        if not isinstance(profile, str) or not profile:
            raise UsageError(Text(N_("section_keys: a profile name is required")))
        keys = refresher.held_keys(profile)
    except RoletrayError as e:
        return wire.encode_error(e)
    return wire.ok(document=None if keys is None else process_document(keys))


def _opt_str(request: dict[str, Any], key: str) -> str | None:
    value = request.get(key)
    if value is None or isinstance(value, str):
        return value or None
    raise UsageError(N_("{key} must be a string"),
                     key=key)


def _opt_int(request: dict[str, Any], key: str) -> int | None:
    value = request.get(key)
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise UsageError(N_("{key} must be a whole number"),
                     key=key)


# ----------------------------------------------------------------------- server

class ControlServer:
    """One accept thread and ``max_connections`` worker threads, so ``status`` answers
    while a slow ``assume`` is still talking to AWS.

    The accept thread holds a connection until its first byte arrives (a client writes
    its request as soon as it connects): one that stays silent for
    ``first_byte_timeout`` is closed, and when ``max_waiting`` are silent at once the
    oldest is closed to make room. A connection with a byte to read goes to a worker,
    where the whole request must arrive within ``request_timeout``. Silent connections
    never hold a worker, so a real request always finds one soon.

    ``where``: the instance's paths. ``handler`` sees only requests of this protocol
    that name ``where``'s AWS files; the rest are declined here."""

    def __init__(self, handler: Handler, path: Path, *, where: paths.Paths,
                 max_connections: int = MAX_CONNECTIONS,
                 request_timeout: float = REQUEST_TIMEOUT,
                 first_byte_timeout: float = FIRST_BYTE_TIMEOUT,
                 max_waiting: int = MAX_WAITING) -> None:
        self.handler = handler
        self.path = path
        self.where = where
        self.request_timeout = request_timeout
        self.first_byte_timeout = first_byte_timeout
        self.max_waiting = max(1, max_waiting)
        self._workers = max(1, max_connections)
        self._ready: queue.Queue[socket.socket | None] = queue.Queue()
        # Workers start as connections need them (an idle tray holds none it never used),
        # up to ``max_connections``, and stay.
        self._pool_lock = threading.Lock()
        self._started = 0
        self._idle = 0  # started workers not answering a connection
        self._queued = 0  # connections handed on, not yet taken by a worker
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None

    def start(self) -> ControlServer:
        """Bind (removing a stale socket: the caller holds the instance lock) and serve."""
        fsutil.private_dir(self.path.parent)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)  # born 0600: no window where another user could connect
        try:
            sock.bind(str(self.path))
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)
        sock.listen(BACKLOG)
        sock.setblocking(False)
        self._sock = sock
        self._wake_r, self._wake_w = socket.socketpair()
        self._thread = threading.Thread(target=self._serve, name="roletray-control", daemon=True)
        self._thread.start()
        log.debug("control socket at %s", self.path)
        return self

    def stop(self) -> None:
        if self._sock is None:
            return
        self._closing.set()
        if self._wake_w is not None:
            with contextlib.suppress(OSError):
                self._wake_w.send(b"x")
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        with self._pool_lock:
            started = self._started
        for _ in range(started):
            self._ready.put(None)
        self._sock.close()
        self._sock = None
        for s in (self._wake_r, self._wake_w):
            if s is not None:
                s.close()
        self._wake_r = self._wake_w = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def _serve(self) -> None:
        """The accept loop: accept one connection at a time, hand on those with a byte to
        read, close the silent ones at their deadline or when too many wait."""
        assert self._sock is not None
        waiting: dict[socket.socket, float] = {}  # oldest first (one deadline for all)
        with selectors.DefaultSelector() as sel:
            sel.register(self._sock, selectors.EVENT_READ)
            if self._wake_r is not None:
                sel.register(self._wake_r, selectors.EVENT_READ)
            try:
                while not self._closing.is_set():
                    timeout = None
                    if waiting:
                        timeout = max(0.0, next(iter(waiting.values())) - time.monotonic())
                    accept = False
                    for key, _ in sel.select(timeout):
                        if key.fileobj is self._sock:
                            accept = True
                        elif key.fileobj is not self._wake_r:
                            conn = key.fileobj
                            assert isinstance(conn, socket.socket)
                            sel.unregister(conn)
                            del waiting[conn]
                            self._hand_on(conn)  # a byte (or EOF) to read: a worker's
                    now = time.monotonic()
                    for conn, deadline in list(waiting.items()):
                        if deadline > now:
                            break
                        _drop(sel, waiting, conn)
                    if accept and not self._closing.is_set():
                        self._accept_one(sel, waiting)
            finally:
                for conn in list(waiting):
                    _drop(sel, waiting, conn)

    def _accept_one(self, sel: selectors.BaseSelector,
                    waiting: dict[socket.socket, float]) -> None:
        """One at a time: a request that came in meanwhile is handed on before the next
        silent connection can push it out."""
        assert self._sock is not None
        try:
            conn, _ = self._sock.accept()
        except BlockingIOError:
            return
        except OSError as e:
            # EMFILE and the like do not clear by retrying at once.
            log.warning("control socket: accept failed (%s)", e.strerror or e)
            self._closing.wait(ACCEPT_BACKOFF)
            return
        if len(waiting) >= self.max_waiting:
            _drop(sel, waiting, next(iter(waiting)))
        conn.setblocking(False)
        waiting[conn] = time.monotonic() + self.first_byte_timeout
        sel.register(conn, selectors.EVENT_READ)

    def _hand_on(self, conn: socket.socket) -> None:
        """``conn`` to an idle worker; a new one when none is idle and fewer than the
        most have started (beyond that, it waits in the queue for the first free one)."""
        with self._pool_lock:
            self._queued += 1
            grow = self._queued > self._idle and self._started < self._workers
            if grow:
                self._started += 1
                self._idle += 1  # counted idle until it takes its first connection
        if grow:
            threading.Thread(target=self._work, name="roletray-control-conn",
                             daemon=True).start()
        self._ready.put(conn)

    def _work(self) -> None:
        while (conn := self._ready.get()) is not None:
            with self._pool_lock:
                self._queued -= 1
                self._idle -= 1
            try:
                with conn:
                    self._answer(conn)
            except Exception:  # a worker must survive any one connection
                log.exception("control socket: a connection failed")
            finally:
                with self._pool_lock:
                    self._idle += 1

    def _answer(self, conn: socket.socket) -> None:
        try:
            # Read first (bounded), then judge the peer, then parse: closing on unread
            # data would reset the connection, and the client would never see why.
            line = _read_line(conn, time.monotonic() + self.request_timeout)
            if not _same_user(conn):
                denied = UsageError(Text(N_("permission denied")))
                _write(conn, _stamped(wire.encode_error(denied)))
                return
            request = _parse(line)
            if not isinstance(request, dict):
                raise TypeError("not a JSON object")
        except (OSError, ValueError, TypeError) as e:
            with contextlib.suppress(OSError):
                _write(conn, _stamped(wire.encode_error(
                    UsageError(N_("bad request ({error_type})"),
                               error_type=type(e).__name__))))
            return
        reply = self._reply(request)  # an assume may take a while; the client waits for it
        conn.settimeout(self.request_timeout)  # a client that stops reading loses its slot
        with contextlib.suppress(OSError):
            _write(conn, reply)

    def _reply(self, request: dict[str, Any]) -> dict[str, Any]:
        """The handler's reply to the envelope's call, or a decline: another protocol (an
        older CLI sends no ``proto``), or other AWS files than the instance's."""
        call = request.get("call")
        if request.get("proto") != wire.PROTO or not isinstance(call, dict):
            log.info("control: declined a request of another protocol (%s)",
                     _short(request.get("proto")))
            return _stamped(wire.declined(wire.OTHER_PROTO, wire.mismatch(
                running=(wire.PROTO, _version()),
                caller=(request.get("proto"), request.get("version")), pid=os.getpid())))
        files, own = request.get("files"), files_of(self.where)
        if files != own:
            log.debug("control: declined %s for other AWS files", _short(call.get("cmd")))
            return _stamped(wire.declined(wire.OTHER_FILES, (
                f"the running roletray answers for {own['config']} and {own['credentials']} "
                "only; this command does the work itself")))
        # The command only, never the payload (it may hold an MFA code); status and
        # credentials (every SDK process start) are chatty.
        log.log(logging.DEBUG if call.get("cmd") in ("status", "credentials")
                else logging.INFO,
                "control: %s", _short(call.get("cmd")))
        return _stamped(self.handler(call))


def _drop(sel: selectors.BaseSelector, waiting: dict[socket.socket, float],
          conn: socket.socket) -> None:
    sel.unregister(conn)
    del waiting[conn]
    conn.close()


def _stamped(reply: dict[str, Any]) -> dict[str, Any]:
    return {**reply, "proto": wire.PROTO, "version": _version()}


def _short(value: object) -> str:
    """A field of an unchecked request, for the log: short, one line, never a payload."""
    if isinstance(value, str) and value.isprintable() and len(value) <= 40:
        return value
    return repr(value)[:40]


def _version() -> str:
    from tray import __version__

    return __version__


def _peer_uid(conn: socket.socket) -> int | None:
    """The uid of the process at the other end, where the platform tells it (Linux)."""
    return _peer(conn)[1]


def _peer(conn: socket.socket) -> tuple[int | None, int | None]:
    """(pid, uid) of the process at the other end, where the platform tells them (Linux)."""
    peercred = getattr(socket, "SO_PEERCRED", None)
    if peercred is None:
        return None, None
    raw = conn.getsockopt(socket.SOL_SOCKET, peercred, struct.calcsize("3i"))
    pid, uid, _gid = struct.unpack("3i", raw)
    return int(pid), int(uid)


def _same_user(conn: socket.socket) -> bool:
    """Where the platform cannot tell, the 0700 folder guards the rest."""
    uid = _peer_uid(conn)
    return uid is None or not hasattr(os, "getuid") or uid == os.getuid()


def _write(conn: socket.socket, doc: dict[str, Any]) -> None:
    conn.sendall(wireline.encode(doc))


def _read_line(conn: socket.socket, deadline: float) -> bytes:
    """One line, within ``deadline`` (monotonic) as a whole, at most ``MAX_LINE``."""
    return wireline.read_line(conn, deadline, MAX_LINE)


def _parse(line: bytes) -> Any:
    return wireline.decode(line)


def make_handler(refresher: Refresher, keeper: ServedKeeper | None = None) -> Handler:
    def handle(request: dict[str, Any]) -> dict[str, Any]:
        if request.get("cmd") == "credentials" and keeper is not None:
            return serve_credentials(keeper, request)
        return dispatch(refresher, request)

    return handle


def serve_credentials(keeper: ServedKeeper, request: dict[str, Any]) -> dict[str, Any]:
    """``credentials {profile, mfa_code}``: the ``credential_process`` document of a served
    role, from memory (``tray.serve.keeper``); ``credentials {source, file_id,
    mfa_code}``: a session of a keyring-held source of the credentials file ``file_id``
    (``credential-process --source``). The reply holds the keys: it goes only to a peer
    that runs as the user, and is never logged."""
    from tray.domain.source_line import FILE_ID_RE
    from tray.serve.document import process_document

    try:
        profile, source = request.get("profile"), request.get("source")
        code = _opt_str(request, "mfa_code")
        if isinstance(source, str) and source and profile is None:
            file_id = request.get("file_id")
            if not isinstance(file_id, str) or not FILE_ID_RE.fullmatch(file_id):
                raise UsageError(Text(N_("credentials: a source needs its credentials file's "
                                         "id (file_id, 12 hex digits)")))
            keys = keeper.source_credentials(source, file_id, code)
        elif isinstance(profile, str) and profile and source is None:
            keys = keeper.credentials(profile, code)
        else:
            raise UsageError(Text(N_("credentials: a profile name or a source name is required")))
    except RoletrayError as e:
        return wire.encode_error(e)
    except Exception as e:  # the server must answer something, and must survive
        log.exception("control command credentials failed")
        return wire.internal_error(f"internal error in the running roletray "
                                   f"({type(e).__name__}); see its log")
    return wire.ok(document=process_document(keys))


# ----------------------------------------------------------------------- client

def send(cmd: str, payload: dict[str, Any] | None = None,
         timeout: float = wire.HANDOVER_TIMEOUT, *,
         where: paths.Paths, path: Path | None = None) -> dict[str, Any] | None:
    """Hand ``cmd`` to the running instance of ``where`` (its socket, or ``path``), for
    ``where``'s AWS files. None when none runs (no socket, or refused), and when the one
    that runs answers for other AWS files: the caller then does the work itself.

    Raises ``UsageError`` when what listens there may not be the user's own instance:
    nothing is sent to it. Every other failure is an error reply (``wire``), one line;
    an instance of another protocol (an older or newer roletray) is one
    (``other_proto``) that names both versions and how to restart it.

    Payloads: assume {profile, target, duration, mfa_code, force}; refresh {mfa_code,
    target}; mfa {code, target}; clear {target}; status {}; credentials {profile, mfa_code}
    or {source, file_id, mfa_code}; section_keys {profile}.
    """
    if not hasattr(socket, "AF_UNIX"):
        return None
    if path is None:
        # The lean hand-over (``tray.instance.handover``) got the reply to this very
        # request in this process: it is not asked again (no second AssumeRole). Only a
        # process that ran it has it loaded (a tray or daemon never does).
        lean = sys.modules.get("tray.instance.handover")
        kept = lean.handed_over(cmd, payload or {}, files_of(where)) if lean is not None \
            else None
        if kept is not None:
            return kept
    own = socket_path(where) if path is None else path
    deadline = time.monotonic() + timeout
    waiting_until: float | None = None
    while True:
        # The instance that keeps the caller's credentials file, wherever its runtime
        # folder is (another XDG_RUNTIME_DIR); else the one at our own socket.
        found = keeper.read(where.aws_credentials) if path is None else None
        target = own if found is None else found.socket
        reply = _exchange(target, cmd, payload, timeout, deadline, where)
        if reply is not _NOBODY:
            return reply  # type: ignore[return-value]
        if found is None:
            return None
        # A live keeper without a socket: starting (it binds after it locks) or stopping.
        now = time.monotonic()
        if waiting_until is None:
            waiting_until = min(now + STARTING_WAIT, deadline)
        if now >= waiting_until:
            break
        _pause_for_start(min(STARTING_POLL, waiting_until - now))
    if target == own:
        return None
    reply = _exchange(own, cmd, payload, timeout, deadline, where)
    return None if reply is _NOBODY else reply  # type: ignore[return-value]


def send_asking(cmd: str, payload: dict[str, Any], ask: Callable[[], str | None], *,
                where: paths.Paths, retry: str | None = None,
                first: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """``send`` without a code first (the running instance may hold an MFA session);
    if it answers that it needs a code, ``ask()`` for one and send ``retry`` (default:
    ``cmd`` again) with ``mfa_code`` added, once. The one way every command that hands
    over asks: ``assume``, ``refresh`` (retry ``mfa``), ``credentials``.

    ``first``: the reply to ``cmd`` already in hand (the lean path's), not sent again.
    None when no instance runs; else the last reply, unchecked (``wire.raise_for``):
    the first one when ``ask`` gives no code, so it says that a code is needed.
    ``UsageError`` when the instance went away while the code was being asked for."""
    reply = first if first is not None else send(cmd, payload, where=where)
    if reply is None or reply.get("ok") or \
            not isinstance(wire.decode_error(reply), MfaRequiredError):
        return reply
    code = ask()
    if code is None:
        return reply
    again = send(retry or cmd, {**payload, "mfa_code": code}, where=where)
    if again is None:
        raise UsageError(Text(N_("the running roletray went away while asking for "
                                       "the code")))
    return again


_NOBODY = object()  # no socket, or nothing listens on it
_pause_for_start: Callable[[float], None] = time.sleep  # tests see the caller wait here


def _exchange(path: Path, cmd: str, payload: dict[str, Any] | None, timeout: float,
              deadline: float, where: paths.Paths) -> dict[str, Any] | None | object:
    """One request to the socket at ``path``: the reply, None for a decline of other
    files, ``_NOBODY`` when nobody listens there."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return _NOBODY
    except NotADirectoryError:
        raise UsageError(N_("{parent} should be roletray's runtime folder, but something above "
                            "or at it is a file; remove or rename it"),
                         parent=path.parent) from None
    if not stat.S_ISSOCK(st.st_mode):
        return _NOBODY  # nothing can listen on a plain file
    _check_socket(path, st)
    try:
        sock = _connect(path, deadline)
    except OSError as e:
        return wire.encode_error(RoletrayError(
            N_("cannot reach the running roletray at {path} ({reason})"),
            path=path, reason=e.strerror or type(e).__name__))
    if sock is None:
        return _NOBODY  # a stale socket: the instance is gone (or not listening yet)
    with sock:
        pid, uid = _peer(sock)
        if uid is not None and hasattr(os, "getuid") and uid != os.getuid():
            raise UsageError(N_("{path}: the process listening there runs as uid {uid}, not as "
                                "you; refusing to send it anything"),
                             path=path, uid=uid)
        request = {"proto": wire.PROTO, "version": _version(), "files": files_of(where),
                   "call": {**(payload or {}), "cmd": cmd}}
        try:
            sock.settimeout(max(0.001, deadline - time.monotonic()))
            _write(sock, request)
            reply = _parse(_read_line(sock, deadline))
        except (OSError, ValueError) as e:
            return no_answer(e, timeout)
    if not isinstance(reply, dict):
        return wire.encode_error(RoletrayError(
            Text(N_("the running roletray gave no usable answer"))))
    return _unwrapped(reply, pid)


def no_answer(e: OSError | ValueError, timeout: float) -> dict[str, Any]:
    """The error reply for a request sent to the instance that brought no answer (it
    may still be at work: the caller must not send it again). The lean hand-over's too
    (``tray.instance.handover``)."""
    if isinstance(e, TimeoutError):
        return wire.encode_error(AwsError(
            N_("the running roletray did not answer within {timeout:.0f} s; it may still "
               "finish: see `roletray status`"),
            timeout=timeout))
    return wire.encode_error(RoletrayError(
        N_("the running roletray gave no usable answer ({error_type})"),
        error_type=type(e).__name__))


def _unwrapped(reply: dict[str, Any], pid: int | None) -> dict[str, Any] | None:
    """The reply as the caller reads it (without ``proto``); None for a decline of other
    files; a one-line error when the instance speaks another protocol: an older one
    declined the envelope unread, a newer one said so itself."""
    proto, version = reply.pop("proto", None), reply.pop("version", None)
    if proto != wire.PROTO or reply.get("code") == wire.OTHER_PROTO:
        return wire.declined(wire.OTHER_PROTO, wire.mismatch(
            running=(proto, version), caller=(wire.PROTO, _version()), pid=pid))
    if reply.get("ok") is not True and reply.get("code") == wire.OTHER_FILES:
        log.debug("the running roletray answers for other AWS files: %s", reply.get("error"))
        return None
    return reply


def _check_socket(path: Path, st: os.stat_result) -> None:
    """The socket and its folder must be the user's own, and the folder private: in a
    shared folder, another user could listen there and collect MFA codes."""
    if not hasattr(os, "getuid"):
        return
    uid = os.getuid()
    if st.st_uid != uid:
        raise UsageError(N_("{path} belongs to uid {uid}, not to you; refusing to use it"),
                         path=path, uid=st.st_uid)
    folder = os.lstat(path.parent)
    if not stat.S_ISDIR(folder.st_mode) or folder.st_uid != uid \
            or stat.S_IMODE(folder.st_mode) & 0o077:
        raise UsageError(N_("{parent} is not a private folder of yours (mode {mode:o}, uid "
                            "{uid}); refusing to use its socket"),
                         parent=path.parent, mode=stat.S_IMODE(folder.st_mode),
                         uid=folder.st_uid)


def _connect(path: Path, deadline: float) -> socket.socket | None:
    """Connected, or None when nobody listens. A full backlog (EAGAIN: many CLI calls at
    once) is retried until ``deadline``."""
    pause = 0.005
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(max(0.001, deadline - time.monotonic()))
        try:
            sock.connect(str(path))
            return sock
        except OSError as e:
            sock.close()
            if e.errno in (errno.ENOENT, errno.ECONNREFUSED, errno.ENOTSOCK):
                return None
            if e.errno not in (errno.EAGAIN, errno.EWOULDBLOCK) \
                    or time.monotonic() + pause >= deadline:
                raise
        time.sleep(pause)  # the server is accepting; give it a moment
        pause = min(pause * 2, 0.1)

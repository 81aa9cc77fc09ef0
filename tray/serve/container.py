"""A loopback endpoint for the SDKs' container credentials provider.

A process started with::

    AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:PORT/role/platform
    AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=/proc/PID/fd/N

asks this endpoint for keys whenever its own are in their last 15 minutes, as the
SDKs do on ECS and EKS, so it never runs on expired keys however long it runs.

It answers only a loopback peer that sends the exact token (compared in constant
time) with a ``Host`` header naming this endpoint (so a web page that rebinds a DNS
name to 127.0.0.1 cannot read the keys), and only for the roles it was given.

Nothing a client sends before the token check costs more than a small, fixed amount:
one thread reads every request head (a selector, no thread per connection), at most
``MAX_HEAD`` bytes of it, and the whole head must arrive within ``REQUEST_DEADLINE``
of the connection (not per read: a byte a second does not keep it open). At most
``MAX_CONNECTIONS`` are open at once; one more closes the oldest that has not sent its
request yet, so a flood of silent connections cannot keep a real client out. A fixed
pool of ``WORKERS`` threads answers complete requests (a first call may wait for an
AssumeRole). A client that hangs up, early or late, is forgotten without a word.
"""

from __future__ import annotations

import contextlib
import hmac
import io
import ipaddress
import json
import logging
import queue
import selectors
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from http.client import HTTPException, parse_headers
from typing import Any

from tray.domain.errors import RoletrayError
from tray.domain.models import TempCredentials
from tray.serve.document import container_document, good_to_hand_out

log = logging.getLogger(__name__)

# Keys for one role: raises RoletrayError when they cannot be had.
KeySource = Callable[[str], TempCredentials]

REQUEST_DEADLINE = 5.0  # seconds from connect to the end of the request head
MAX_HEAD = 8 * 1024  # bytes: an SDK's GET is a few hundred
MAX_CONNECTIONS = 64  # open at once, waiting or being answered
WORKERS = 4  # threads answering complete requests
SEND_TIMEOUT = 5.0  # for writing an answer to a client that does not read it
_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
            404: "Not Found", 405: "Method Not Allowed", 431: "Request Header Fields Too Large",
            503: "Service Unavailable"}


@dataclass(eq=False)
class _Conn:
    sock: socket.socket
    peer: str
    opened: float
    head: bytearray = field(default_factory=bytearray)


class ContainerEndpoint:
    """``start()`` binds 127.0.0.1 on a free port; ``url_for(profile)`` is the FULL_URI."""

    def __init__(self, keys_for: KeySource, profiles: set[str], token: str, *,
                 now: Callable[[], datetime], host: str = "127.0.0.1", port: int = 0,
                 deadline: float = REQUEST_DEADLINE, max_connections: int = MAX_CONNECTIONS,
                 workers: int = WORKERS, monotonic: Callable[[], float] = time.monotonic
                 ) -> None:
        if not token:
            raise ValueError("the endpoint needs a token")
        self._keys_for = keys_for
        self._profiles = set(profiles)
        self._token = token.encode()
        self._now = now
        self._deadline = deadline
        self._max = max_connections
        self._monotonic = monotonic
        self._listener = socket.create_server((host, port), backlog=128)
        self._listener.setblocking(False)
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_w.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._waiting: dict[socket.socket, _Conn] = {}  # oldest first
        self._answering = 0  # handed to the workers, not yet closed
        self._count_lock = threading.Lock()
        self._jobs: queue.SimpleQueue[_Conn | None] = queue.SimpleQueue()
        self._stopping = False
        self._threads = [threading.Thread(target=self._loop, daemon=True,
                                          name="roletray-container-endpoint")]
        self._threads += [threading.Thread(target=self._work, daemon=True,
                                           name=f"roletray-container-worker-{i}")
                          for i in range(workers)]

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    def url_for(self, profile: str) -> str:
        return f"http://127.0.0.1:{self.port}/role/{profile}"

    def start(self) -> ContainerEndpoint:
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stopping = True
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        for _ in self._threads[1:]:
            self._jobs.put(None)
        for t in self._threads:
            if t.is_alive():
                t.join(timeout=5)
        for conn in list(self._waiting.values()):
            _close(conn.sock)
        self._waiting.clear()
        self._selector.close()
        for s in (self._listener, self._wake_r, self._wake_w):
            s.close()

    # --------------------------------------------------------------- one request

    def answer(self, peer: str, headers: Mapping[str, str] | Message, path: str
               ) -> tuple[int, dict[str, Any]]:
        """The status and JSON body for one GET; checks in order, cheapest first."""
        if not _is_loopback(peer):
            return 403, _error("Forbidden", "only loopback clients are answered")
        if headers.get("Host", "") not in {f"127.0.0.1:{self.port}", f"localhost:{self.port}"}:
            return 403, _error("Forbidden", "unexpected Host header")
        sent = headers.get("Authorization", "").encode()
        if not hmac.compare_digest(sent, self._token):
            return 401, _error("Unauthorized", "missing or wrong authorization token")
        prefix = "/role/"
        profile = path[len(prefix):] if path.startswith(prefix) else ""
        if profile not in self._profiles:
            return 404, _error("NotFound", "no such role at this endpoint")
        try:
            keys = self._keys_for(profile)
        except RoletrayError as e:
            log.warning("container endpoint: no keys for %s: %s", profile, e)
            return 503, _error("Unavailable", str(e))
        if not good_to_hand_out(keys, self._now()):
            return 503, _error("Unavailable", f"the keys of {profile} end within 15 minutes")
        return 200, container_document(keys)

    # ------------------------------------------------------- reading request heads

    def open_connections(self) -> int:
        """Connections open now: waiting for their request, or being answered."""
        with self._count_lock:
            return len(self._waiting) + self._answering

    def _loop(self) -> None:
        self._selector.register(self._listener, selectors.EVENT_READ)
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        while not self._stopping:
            timeout = None
            if self._waiting:
                oldest = next(iter(self._waiting.values()))
                timeout = max(0.0, oldest.opened + self._deadline - self._monotonic())
            for key, _ in self._selector.select(timeout):
                if key.fileobj is self._listener:
                    self._accept()
                elif key.fileobj is not self._wake_r:
                    conn = self._waiting.get(key.fileobj)  # type: ignore[call-overload]
                    if conn is not None:
                        self._read(conn)
            self._expire()

    def _accept(self) -> None:
        for _ in range(self._max):  # what is queued now, not forever
            try:
                sock, addr = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:  # EMFILE: the next select tries again
                log.warning("container endpoint: accept failed (%s)", e.strerror)
                return
            if self.open_connections() >= self._max and not self._evict_oldest():
                _close(sock)  # all busy being answered: this one waits for nothing
                continue
            sock.setblocking(False)
            conn = _Conn(sock, str(addr[0]), self._monotonic())
            with self._count_lock:
                self._waiting[sock] = conn
            self._selector.register(sock, selectors.EVENT_READ)

    def _evict_oldest(self) -> bool:
        if not self._waiting:
            return False
        self._drop(next(iter(self._waiting.values())))
        return True

    def _read(self, conn: _Conn) -> None:
        try:
            data = conn.sock.recv(MAX_HEAD + 1 - len(conn.head))
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""  # reset by the client
        if not data:
            self._drop(conn)  # hung up before its request: nothing to say
            return
        conn.head += data
        if b"\r\n\r\n" in conn.head:
            self._hand_over(conn)
        elif len(conn.head) > MAX_HEAD:
            self._unwatch(conn)
            _reply(conn.sock, 431, _error("RequestTooLarge", "request head too large"))
            _close(conn.sock)

    def _expire(self) -> None:
        now = self._monotonic()
        while self._waiting:
            oldest = next(iter(self._waiting.values()))
            if now < oldest.opened + self._deadline:
                return
            self._drop(oldest)  # too slow: its deadline covers the whole head

    def _unwatch(self, conn: _Conn) -> None:
        with self._count_lock:
            self._waiting.pop(conn.sock, None)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(conn.sock)

    def _drop(self, conn: _Conn) -> None:
        self._unwatch(conn)
        _close(conn.sock)

    def _hand_over(self, conn: _Conn) -> None:
        self._unwatch(conn)
        with self._count_lock:
            self._answering += 1
        self._jobs.put(conn)

    # ------------------------------------------------------------------ answering

    def _work(self) -> None:
        while True:
            conn = self._jobs.get()
            if conn is None:
                return
            try:
                self._respond(conn)
            except Exception:  # a bug: the endpoint keeps serving, the client is dropped
                log.exception("container endpoint: answering a request failed")
            finally:
                _close(conn.sock)
                with self._count_lock:
                    self._answering -= 1

    def _respond(self, conn: _Conn) -> None:
        head = bytes(conn.head).split(b"\r\n\r\n", 1)[0]
        line, _, rest = head.partition(b"\r\n")
        parts = line.split()
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
            _reply(conn.sock, 400, _error("BadRequest", "not an HTTP/1 request"))
            return
        try:
            headers = parse_headers(io.BytesIO(rest + b"\r\n\r\n"))
            path = parts[1].decode("ascii")
        except (HTTPException, ValueError):  # malformed (UnicodeError is a ValueError)
            _reply(conn.sock, 400, _error("BadRequest", "malformed request head"))
            return
        if parts[0] != b"GET":
            _reply(conn.sock, 405, _error("MethodNotAllowed", "only GET is answered"))
            return
        status, body = self.answer(conn.peer, headers, path)
        _reply(conn.sock, status, body)


def _reply(sock: socket.socket, status: int, body: dict[str, Any]) -> None:
    """Send the answer; a client that went away is not an error."""
    data = json.dumps(body).encode()
    head = (f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
            "Server: roletray\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\nCache-Control: no-store\r\n"
            "Connection: close\r\n\r\n").encode()
    try:
        sock.settimeout(SEND_TIMEOUT)
        sock.sendall(head + data)
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.close()


def _error(code: str, message: str) -> dict[str, Any]:
    return {"code": code, "message": message}


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False

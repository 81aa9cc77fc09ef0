"""A small HTTP server on 127.0.0.1 that misbehaves on purpose, for fault tests.

Modes:
- ``refuse``: nothing listens on the port (connection refused).
- ``hang``: accepts and reads the request, never answers (until stopped).
- ``500``: answers HTTP 500 with an AWS-style ``InternalFailure`` error.
- ``throttle``: answers HTTP 400 with a ``Throttling`` error, as STS does.
- ``error``: answers ``status`` with the given AWS error ``code``/``message``.
- ``slow``: waits ``delay`` seconds, then forwards to ``upstream`` (or answers 500).
- ``proxy``: forwards every request to ``upstream`` unchanged (a counting proxy).
- ``answer``: answers 200 with ``body`` as ``content_type`` (a broken success).

Every request is recorded (``requests``, ``actions``, ``forms``). The server is
bounded: it stops by itself after ``lifetime`` seconds, and a hanging or slow
handler waits at most that long. Use it as a context manager::

    with FaultServer("throttle") as srv:
        os.environ["AWS_ENDPOINT_URL_STS"] = srv.url
        ...
        assert srv.actions == ["AssumeRole", "AssumeRole"]

``LocalServer`` and ``QuietHandler`` are the serving plumbing shared with the other
local fakes (``ssofake``, ``stsproxy``).
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

MODES = ("refuse", "hang", "500", "throttle", "error", "slow", "proxy", "answer")

_ERROR_XML = """<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message></Error>
  <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>
</ErrorResponse>
"""

# Hop-by-hop headers a proxy must not forward (RFC 9110 7.6.1).
_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
        "upgrade", "content-length"}


class QuietHandler(BaseHTTPRequestHandler):
    """HTTP/1.1, and no request log in the test output."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass


JsonAnswer = Callable[[str, str, dict[str, str], dict[str, Any]],
                      tuple[int, dict[str, Any], "str | None"]]
"""``answer(method, path, headers, body) -> (status, document, x-amzn-ErrorType or None)``."""


def json_handler(answer: JsonAnswer) -> type[BaseHTTPRequestHandler]:
    """A handler for a REST-JSON stand-in of an AWS service: the body read as JSON (``{}``
    when empty or not JSON), headers lower-cased, the answer sent as AWS sends it (an
    error's type in ``x-amzn-ErrorType``, so botocore raises the modelled exception)."""

    class Handler(QuietHandler):
        # Headers and body leave in two writes: with Nagle on, each answer on a kept-alive
        # connection would wait ~40 ms for the client's delayed ACK, which no AWS endpoint does.
        disable_nagle_algorithm = True

        def _serve(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                body = {}
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, doc, error_type = answer(self.command, self.path, headers,
                                             body if isinstance(body, dict) else {})
            data = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            if error_type:
                self.send_header("x-amzn-ErrorType", error_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = _serve
        do_POST = _serve

    return Handler


class LocalServer:
    """Serves ``_handler()`` on a free port of 127.0.0.1 in a daemon thread.

    ``start`` (or ``with``) starts it, ``stop`` shuts it down; stopping twice is harmless.
    """

    port: int
    _httpd: ThreadingHTTPServer | None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self.port = int(self._httpd.server_address[1])
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class FaultServer(LocalServer):
    """One misbehaving server; ``url`` is where to point ``AWS_ENDPOINT_URL_STS``."""

    def __init__(self, mode: str, *, upstream: str | None = None, delay: float = 1.0,
                 status: int = 400, code: str = "AccessDenied", message: str = "denied",
                 lifetime: float = 30.0, body: str = "",
                 content_type: str = "text/xml") -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        if mode == "proxy" and not upstream:
            raise ValueError("proxy mode needs upstream")
        self.mode = mode
        self.upstream = upstream
        self.delay = delay
        self.status = status
        self.code = code
        self.message = message
        self.lifetime = lifetime
        self.body = body
        self.content_type = content_type
        self.forms: list[dict[str, str]] = []  # parsed request bodies, in order
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._timer: threading.Timer | None = None
        self.port = 0

    @property
    def requests(self) -> int:
        with self._lock:
            return len(self.forms)

    @property
    def actions(self) -> list[str]:
        with self._lock:
            return [f.get("Action", "") for f in self.forms]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        return _make_handler(self)

    def start(self) -> Self:
        if self.mode == "refuse":
            # Take a free port and let it go: nothing listens there afterwards.
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                self.port = int(s.getsockname()[1])
            return self
        super().start()
        # Bounded: a forgotten server goes away by itself.
        self._timer = threading.Timer(self.lifetime, self.stop)
        self._timer.daemon = True
        self._timer.start()
        return self

    def stop(self) -> None:
        self._stopped.set()  # releases hanging and slow handlers
        if self._timer is not None and self._timer is not threading.current_thread():
            self._timer.cancel()
        super().stop()

    def _record(self, body: bytes) -> None:
        form = dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace")))
        with self._lock:
            self.forms.append(form)


def _make_handler(server: FaultServer) -> type[BaseHTTPRequestHandler]:
    class Handler(QuietHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            server._record(body)
            mode = server.mode
            if mode == "hang":
                server._stopped.wait(server.lifetime)
                self.close_connection = True
                return
            if mode == "slow" and server._stopped.wait(server.delay):
                self.close_connection = True  # stopped while waiting
                return
            if mode in ("proxy", "slow") and server.upstream:
                self._forward(body)
            elif mode == "answer":
                self._send(200, server.body.encode(), server.content_type)
            elif mode == "throttle":
                self._error(400, "Throttling", "Rate exceeded")
            elif mode == "error":
                self._error(server.status, server.code, server.message)
            else:  # 500, and slow without upstream
                self._error(500, "InternalFailure", "We encountered an internal error.")

        do_GET = do_POST

        def _error(self, status: int, code: str, message: str) -> None:
            kind = "Receiver" if status >= 500 else "Sender"
            data = _ERROR_XML.format(kind=kind, code=code, message=message).encode()
            self._send(status, data, "text/xml")

        def _send(self, status: int, data: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _forward(self, body: bytes) -> None:
            up = urllib.parse.urlsplit(server.upstream or "")
            conn = http.client.HTTPConnection(up.hostname or "127.0.0.1", up.port or 80,
                                              timeout=10)
            try:
                # The Host header is kept: SigV4 signed it, and moto checks signatures.
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
            finally:
                conn.close()
            self.send_response(resp.status)
            for k, v in resp.getheaders():
                if k.lower() not in _HOP and k.lower() not in ("date", "server"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler

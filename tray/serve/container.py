"""A loopback endpoint for the SDKs' container credentials provider.

A process started with::

    AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:PORT/role/platform
    AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=/run/user/1000/roletray/serve-platform.token

asks this endpoint for keys whenever its own are in their last 15 minutes, as the
SDKs do on ECS and EKS, so it never runs on expired keys however long it runs.

It answers only a loopback peer that sends the exact token (compared in constant
time) with a ``Host`` header naming this endpoint (so a web page that rebinds a DNS
name to 127.0.0.1 cannot read the keys), and only for the roles it was given.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tray.domain.errors import RoletrayError
from tray.domain.models import TempCredentials
from tray.serve.document import container_document, good_to_hand_out

log = logging.getLogger(__name__)

# Keys for one role: raises RoletrayError when they cannot be had.
KeySource = Callable[[str], TempCredentials]

REQUEST_TIMEOUT = 10.0  # seconds a client may take to send its request


class ContainerEndpoint:
    """``start()`` binds 127.0.0.1 on a free port; ``url_for(profile)`` is the FULL_URI."""

    def __init__(self, keys_for: KeySource, profiles: set[str], token: str, *,
                 now: Callable[[], datetime], host: str = "127.0.0.1", port: int = 0) -> None:
        if not token:
            raise ValueError("the endpoint needs a token")
        self._keys_for = keys_for
        self._profiles = set(profiles)
        self._token = token.encode()
        self._now = now
        self._server = _Server((host, port), _Handler)
        self._server.endpoint = self
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url_for(self, profile: str) -> str:
        return f"http://127.0.0.1:{self.port}/role/{profile}"

    def start(self) -> ContainerEndpoint:
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="roletray-container-endpoint", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

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


def _error(code: str, message: str) -> dict[str, Any]:
    return {"code": code, "message": message}


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    endpoint: ContainerEndpoint


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = REQUEST_TIMEOUT  # a client trickling its request does not hold a thread long
    server_version = "roletray"
    sys_version = ""

    def do_GET(self) -> None:
        status, body = self.server.endpoint.answer(
            self.client_address[0], self.headers, self.path)
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Requests are not logged: nothing secret is in them, but nothing useful either."""

"""A proxy on 127.0.0.1 in front of moto's STS, for the MFA-session tests.

- records every call: the Action, the form, which access key signed it and
  whether a session token came along (``calls``);
- answers a given Action with a scripted AWS error instead of forwarding it
  (``fail(action, code, message, times)``), e.g. a wrong MFA code, which moto
  never rejects;
- with a ``FakeClock``, moves moto's times onto that clock: every
  ``<Expiration>`` is shifted by (fake now - real now) and ``Date`` is the fake
  now, so a refresher timed by the FakeClock sees AWS living on the same clock.

Everything else is moto's answer, byte for byte.
"""

from __future__ import annotations

import http.client
import re
import threading
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from fakes import FakeClock
from faultserver import LocalServer, QuietHandler

_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
        "upgrade", "content-length", "date", "server"}
_CREDENTIAL_RE = re.compile(r"Credential=([^/,\s]+)/")
_EXPIRATION_RE = re.compile(rb"<Expiration>([^<]+)</Expiration>")
_ERROR_XML = """<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>
  <RequestId>0e1b2c3d-0000-4000-8000-000000000001</RequestId>
</ErrorResponse>
"""


@dataclass
class Call:
    action: str
    form: dict[str, str]
    access_key_id: str | None
    has_token: bool
    answered: int = 0


@dataclass
class _Script:
    code: str
    message: str
    status: int
    times: int


@dataclass
class StsProxy(LocalServer):
    upstream: str
    clock: FakeClock | None = None
    calls: list[Call] = field(default_factory=list)
    port: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._scripts: dict[str, _Script] = {}
        self._httpd: ThreadingHTTPServer | None = None

    @property
    def actions(self) -> list[str]:
        with self._lock:
            return [c.action for c in self.calls]

    def of(self, action: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.action == action]

    def fail(self, action: str, code: str, message: str, *, status: int = 403,
             times: int = 1) -> None:
        """Answer the next ``times`` calls of ``action`` with this AWS error."""
        with self._lock:
            self._scripts[action] = _Script(code, message, status, times)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        return _make_handler(self)

    def _take_script(self, action: str) -> _Script | None:
        with self._lock:
            script = self._scripts.get(action)
            if script is None or script.times <= 0:
                return None
            script.times -= 1
            return script

    def _record(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)

    def _shift(self, body: bytes, asked_at: datetime) -> bytes:
        if self.clock is None:
            return body
        # From the moment the request came in: moto's "now" is a little later, so the
        # fake Expiration is now + duration plus a fraction of a second, cut to seconds.
        offset = self.clock.now() - asked_at

        def moved(m: re.Match[bytes]) -> bytes:
            real = datetime.fromisoformat(m.group(1).decode())
            if real.tzinfo is None:
                real = real.replace(tzinfo=UTC)
            fake = (real + offset).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            return b"<Expiration>" + fake.encode() + b"</Expiration>"

        return _EXPIRATION_RE.sub(moved, body)


def _make_handler(proxy: StsProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(QuietHandler):
        def do_POST(self) -> None:
            asked_at = datetime.now(UTC)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            form = dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace")))
            m = _CREDENTIAL_RE.search(self.headers.get("Authorization", ""))
            call = Call(action=form.get("Action", ""), form=form,
                        access_key_id=m.group(1) if m else None,
                        has_token="X-Amz-Security-Token" in self.headers)
            proxy._record(call)
            script = proxy._take_script(call.action)
            if script is not None:
                data = _ERROR_XML.format(code=script.code, message=script.message).encode()
                call.answered = script.status
                self._send(script.status, [("Content-Type", "text/xml")], data)
                return
            up = urllib.parse.urlsplit(proxy.upstream)
            conn = http.client.HTTPConnection(up.hostname or "127.0.0.1", up.port or 80,
                                              timeout=10)
            try:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                conn.request("POST", self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
            finally:
                conn.close()
            call.answered = resp.status
            kept = [(k, v) for k, v in resp.getheaders() if k.lower() not in _HOP]
            self._send(resp.status, kept, proxy._shift(data, asked_at))

        def _send(self, status: int, headers: list[tuple[str, str]], data: bytes) -> None:
            self.send_response_only(status)
            now = proxy.clock.now() if proxy.clock is not None else datetime.now(UTC)
            self.send_header("Date", format_datetime(now, usegmt=True))
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler

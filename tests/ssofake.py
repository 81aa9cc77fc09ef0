"""A small fake of AWS SSO on 127.0.0.1: the portal's GetRoleCredentials and the
OIDC device flow (RegisterClient, StartDeviceAuthorization, CreateToken).

moto 5.2 has neither (only ``sso-admin``). Point botocore at it with
``AWS_ENDPOINT_URL_SSO`` and ``AWS_ENDPOINT_URL_SSO_OIDC``. It answers the
REST-JSON shapes of the real services; errors carry ``x-amzn-ErrorType`` as AWS
sends it, so botocore raises the modelled exceptions.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from faultserver import LocalServer, QuietHandler


@dataclass
class SsoFake(LocalServer):
    valid_tokens: set[str] = field(default_factory=set)  # bearer tokens the portal accepts
    role_keys: tuple[str, str, str] = ("ASIASSOFAKEKEY000001", "ssoSecretKey000000000000000000000000001",
                                       "ssoSessionToken" + "S" * 60)
    pending: int = 2  # CreateToken answers authorization_pending this many times first
    slow_down: int = 0  # then slow_down this many times
    issued_token: str = "ssoAccessTokenIssuedByTheFake0001"
    forbidden: set[str] = field(default_factory=set)  # role names the sign-in may not use
    requests: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    port: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    def paths(self) -> list[str]:
        with self._lock:
            return [p for _, p, _ in self.requests]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        return _make_handler(self)

    # -- answers ---------------------------------------------------------------

    def answer(self, method: str, path: str, headers: dict[str, str],
               body: dict[str, Any]) -> tuple[int, dict[str, Any], str | None]:
        url = urllib.parse.urlsplit(path)
        with self._lock:
            self.requests.append((method, url.path, body))
        if method == "GET" and url.path == "/federation/credentials":
            token = headers.get("x-amz-sso_bearer_token", "")
            if token not in self.valid_tokens:
                return 401, {"message": "Session token not found or invalid"}, \
                    "UnauthorizedException"
            query = urllib.parse.parse_qs(url.query)
            if query.get("role_name", [""])[0] in self.forbidden:
                return 403, {"message": "No access"}, "ForbiddenException"
            akid, secret, session = self.role_keys
            expires_ms = int((time.time() + 3600) * 1000)
            return 200, {"roleCredentials": {"accessKeyId": akid, "secretAccessKey": secret,
                                             "sessionToken": session,
                                             "expiration": expires_ms}}, None
        if url.path == "/client/register":
            return 200, {"clientId": "fake-client-id", "clientSecret": "fake-client-secret",
                         "clientIdIssuedAt": int(time.time()),
                         "clientSecretExpiresAt": int(time.time()) + 90 * 86400}, None
        if url.path == "/device_authorization":
            return 200, {"deviceCode": "fake-device-code", "userCode": "ABCD-EFGH",
                         "verificationUri": "https://device.sso.example/",
                         "verificationUriComplete": "https://device.sso.example/?user_code=ABCD-EFGH",
                         "expiresIn": 600, "interval": 1}, None
        if url.path == "/token":
            with self._lock:
                if self.pending > 0:
                    self.pending -= 1
                    return 400, {"error": "authorization_pending"}, "AuthorizationPendingException"
                if self.slow_down > 0:
                    self.slow_down -= 1
                    return 400, {"error": "slow_down"}, "SlowDownException"
                self.valid_tokens.add(self.issued_token)
            return 200, {"accessToken": self.issued_token, "tokenType": "Bearer",
                         "expiresIn": 28800, "refreshToken": "fake-refresh-token"}, None
        return 404, {"message": f"no route for {method} {url.path}"}, "ResourceNotFoundException"


def _make_handler(fake: SsoFake) -> type[BaseHTTPRequestHandler]:
    class Handler(QuietHandler):
        def _serve(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                body = {}
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, doc, error_type = fake.answer(self.command, self.path, headers, body)
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

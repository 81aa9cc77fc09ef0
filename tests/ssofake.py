"""A small fake of AWS SSO on 127.0.0.1: the portal (GetRoleCredentials, ListAccounts,
ListAccountRoles) and OIDC (RegisterClient, StartDeviceAuthorization, CreateToken with
the device-code and the refresh-token grants).

moto 5.2 has neither (only ``sso-admin``). Point botocore at it with
``AWS_ENDPOINT_URL_SSO`` and ``AWS_ENDPOINT_URL_SSO_OIDC``. It answers the
REST-JSON shapes of the real services; errors carry ``x-amzn-ErrorType`` as AWS
sends it, so botocore raises the modelled exceptions.
"""

from __future__ import annotations

import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from faultserver import LocalServer, json_handler


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
    # The directory: account id -> (account name, its permission sets), in ListAccounts order.
    directory: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    page_size: int = 100  # the most a page holds, whatever max_result asks
    delay: float = 0.0  # seconds each /assignment/ call takes (the benchmark's 50 ms)
    throttle: int = 0  # the next this many /assignment/ calls answer TooManyRequestsException
    refresh_tokens: set[str] = field(default_factory=set)  # what the refresh grant accepts
    registered_scopes: list[str] | None = None  # of the last RegisterClient
    refuse_roles: set[str] = field(default_factory=set)  # accounts whose roles answer 404

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._in_flight = 0
        self.max_in_flight = 0  # the most /assignment/ calls served at once
        self._issued = 0

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
        if method == "GET" and url.path.startswith("/assignment/"):
            return self._assignment(url.path, urllib.parse.parse_qs(url.query), headers)
        if url.path == "/client/register":
            with self._lock:
                self.registered_scopes = body.get("scopes")
            return 200, {"clientId": "fake-client-id", "clientSecret": "fake-client-secret",
                         "clientIdIssuedAt": int(time.time()),
                         "clientSecretExpiresAt": int(time.time()) + 90 * 86400}, None
        if url.path == "/device_authorization":
            return 200, {"deviceCode": "fake-device-code", "userCode": "ABCD-EFGH",
                         "verificationUri": "https://device.sso.example/",
                         "verificationUriComplete": "https://device.sso.example/?user_code=ABCD-EFGH",
                         "expiresIn": 600, "interval": 1}, None
        if url.path == "/token" and body.get("grantType") == "refresh_token":
            return self._refresh(body)
        if url.path == "/token":
            with self._lock:
                if self.pending > 0:
                    self.pending -= 1
                    return 400, {"error": "authorization_pending"}, "AuthorizationPendingException"
                if self.slow_down > 0:
                    self.slow_down -= 1
                    return 400, {"error": "slow_down"}, "SlowDownException"
                self.valid_tokens.add(self.issued_token)
                doc: dict[str, Any] = {"accessToken": self.issued_token, "tokenType": "Bearer",
                                       "expiresIn": 28800}
                if self.registered_scopes:  # as OIDC: a refresh token for a client with scopes
                    doc["refreshToken"] = "fake-refresh-token"
                    self.refresh_tokens.add("fake-refresh-token")
            return 200, doc, None
        return 404, {"message": f"no route for {method} {url.path}"}, "ResourceNotFoundException"

    def _refresh(self, body: dict[str, Any]) -> tuple[int, dict[str, Any], str | None]:
        with self._lock:
            if body.get("refreshToken") not in self.refresh_tokens:
                return 400, {"error": "invalid_grant"}, "InvalidGrantException"
            self.refresh_tokens.discard(body["refreshToken"])  # rotated: good once
            self._issued += 1
            access, refresh = f"ssoRefreshedAccessToken{self._issued:04d}", \
                f"fake-refresh-token-{self._issued}"
            self.valid_tokens.add(access)
            self.refresh_tokens.add(refresh)
        return 200, {"accessToken": access, "tokenType": "Bearer", "expiresIn": 28800,
                     "refreshToken": refresh}, None

    def _assignment(self, path: str, query: dict[str, list[str]],
                    headers: dict[str, str]) -> tuple[int, dict[str, Any], str | None]:
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            if self.delay:
                time.sleep(self.delay)  # the service's own latency, on the server's thread
            return self._assignment_answer(path, query, headers)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _assignment_answer(self, path: str, query: dict[str, list[str]],
                           headers: dict[str, str]) -> tuple[int, dict[str, Any], str | None]:
        if headers.get("x-amz-sso_bearer_token", "") not in self.valid_tokens:
            return 401, {"message": "Session token not found or invalid"}, "UnauthorizedException"
        with self._lock:
            if self.throttle > 0:
                self.throttle -= 1
                return 429, {"message": "Rate exceeded"}, "TooManyRequestsException"
        start = int(query.get("next_token", ["0"])[0])
        size = min(int(query.get("max_result", ["100"])[0]), self.page_size)
        if path == "/assignment/accounts":
            items: list[dict[str, Any]] = [
                {"accountId": a, "accountName": name, "emailAddress": f"{a}@example.com"}
                for a, (name, _) in self.directory.items()]
            key = "accountList"
        elif path == "/assignment/roles":
            account = query.get("account_id", [""])[0]
            if account not in self.directory or account in self.refuse_roles:
                return 404, {"message": "account not found"}, "ResourceNotFoundException"
            items = [{"roleName": r, "accountId": account} for r in self.directory[account][1]]
            key = "roleList"
        else:
            return 404, {"message": f"no route for GET {path}"}, "ResourceNotFoundException"
        page: dict[str, Any] = {key: items[start:start + size]}
        if start + size < len(items):
            page["nextToken"] = str(start + size)
        return 200, page, None


def _make_handler(fake: SsoFake) -> type[BaseHTTPRequestHandler]:
    return json_handler(fake.answer)

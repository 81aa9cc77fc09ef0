"""A small stand-in for the AWS Sign-In service of ``aws login`` on 127.0.0.1.

moto has no Sign-In service. botocore's login provider renews an ``aws login`` sign-in
with ``POST /v1/token`` (``CreateOAuth2Token``, the refresh grant) and a DPoP header;
point it here with ``AWS_ENDPOINT_URL_SIGNIN``. The stand-in checks what the real
service checks: the DPoP proof is an ES256 JWT over the request's method and URL,
signed by the key the refresh token is bound to, and each refresh token is used once
(it rotates). The keys it hands out are moto's (``GetSessionToken`` of the user's
long-term keys), so every AWS tool can use them against moto.

``write_token_cache`` writes the token file as the AWS CLI writes it after
``aws login`` (a real P-256 key in ``dpopKey``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from faultserver import LocalServer, json_handler

CLIENT_ID = "arn:aws:signin:::devtools/same-device"
Keys = tuple[str, str, str]  # access key id, secret access key, session token


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638: the SHA-256 of the key's required members, in order."""
    canon = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"))
    return b64url(hashlib.sha256(canon.encode()).digest())


def public_jwk(key: ec.EllipticCurvePrivateKey) -> dict[str, str]:
    numbers = key.public_key().public_numbers()
    return {"kty": "EC", "crv": "P-256", "x": b64url(numbers.x.to_bytes(32, "big")),
            "y": b64url(numbers.y.to_bytes(32, "big"))}


@dataclass
class SignInFake(LocalServer):
    """``keys()`` gives the next keys to hand out (moto's). ``ended`` makes every refresh
    fail with that OAuth error (``TOKEN_EXPIRED``, ``USER_CREDENTIALS_CHANGED``,
    ``INSUFFICIENT_PERMISSIONS``)."""

    keys: Callable[[], Keys]
    account_id: str = "123456789012"
    ended: str | None = None
    refreshes: int = 0
    refused: list[str] = field(default_factory=list)  # why each refused request was refused
    port: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._bound: dict[str, str] = {}  # live refresh token -> thumbprint of its key
        self._serial = 0

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        return _make_handler(self)

    def sign_in(self, key: ec.EllipticCurvePrivateKey) -> str:
        """A new refresh token bound to ``key``, as ``aws login`` gets one."""
        with self._lock:
            self._serial += 1
            token = f"signin-refresh-{self._serial:04d}-" + b64url(os.urandom(12))
            self._bound[token] = thumbprint(public_jwk(key))
        return token

    def live_tokens(self) -> set[str]:
        with self._lock:
            return set(self._bound)

    # -- answers ---------------------------------------------------------------

    def answer(self, path: str, headers: dict[str, str],
               body: dict[str, Any]) -> tuple[int, dict[str, Any], str | None]:
        if path != "/v1/token":
            return 404, {"message": f"no route for {path}"}, "ResourceNotFoundException"
        why = self._check(headers.get("dpop", ""), body)
        if why is not None:
            with self._lock:
                self.refused.append(why)
            return 400, {"error": "INVALID_REQUEST", "message": why}, "ValidationException"
        if self.ended is not None:
            status = 401 if self.ended == "TOKEN_EXPIRED" else 403
            return status, {"error": self.ended, "message": "sign in again"}, \
                "AccessDeniedException"
        with self._lock:
            bound = self._bound.pop(body["refreshToken"])
            self.refreshes += 1
            self._serial += 1
            new = f"signin-refresh-{self._serial:04d}-" + b64url(os.urandom(12))
            self._bound[new] = bound
        akid, secret, session = self.keys()
        return 200, {"accessToken": {"accessKeyId": akid, "secretAccessKey": secret,
                                     "sessionToken": session},
                     "tokenType": "aws_sigv4", "expiresIn": 900, "refreshToken": new}, None

    def _check(self, dpop: str, body: dict[str, Any]) -> str | None:
        """Why the request is refused, or None: the refresh grant, a live token, a DPoP
        proof for this URL signed by the token's key."""
        if body.get("grantType") != "refresh_token" or body.get("clientId") != CLIENT_ID:
            return "not a refresh grant of the CLI's client"
        token = body.get("refreshToken")
        with self._lock:
            bound = self._bound.get(token) if isinstance(token, str) else None
        if bound is None:
            return "unknown or spent refresh token"
        try:
            head_b64, claims_b64, sig_b64 = dpop.split(".")
            head = json.loads(unb64url(head_b64))
            claims = json.loads(unb64url(claims_b64))
            signature = unb64url(sig_b64)
        except ValueError:
            return "DPoP header is not a JWT"
        if head.get("typ") != "dpop+jwt" or head.get("alg") != "ES256":
            return "DPoP header is not an ES256 dpop+jwt"
        jwk = head.get("jwk") or {}
        if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256" or thumbprint(jwk) != bound:
            return "DPoP key is not the one the refresh token is bound to"
        if claims.get("htm") != "POST" or claims.get("htu") != f"{self.url}/v1/token":
            return "DPoP proof is for another request"
        if abs(time.time() - float(claims.get("iat", 0))) > 300 or not claims.get("jti"):
            return "DPoP proof is stale or has no jti"
        public = ec.EllipticCurvePublicNumbers(
            int.from_bytes(unb64url(jwk["x"]), "big"), int.from_bytes(unb64url(jwk["y"]), "big"),
            ec.SECP256R1()).public_key()
        if len(signature) != 64:
            return "DPoP signature is not r||s"
        der = encode_dss_signature(int.from_bytes(signature[:32], "big"),
                                   int.from_bytes(signature[32:], "big"))
        try:
            public.verify(der, f"{head_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return "DPoP signature does not verify"
        return None


def write_token_cache(cache_dir: Path, session_name: str, fake: SignInFake, keys: Keys, *,
                      expires_at: datetime, signed_in: datetime | None = None) -> Path:
    """The token file ``aws login`` leaves: 15-minute keys, a refresh token bound to a new
    P-256 key (``dpopKey``, SEC1 PEM), and an ID token naming when the person signed in."""
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM,
                            serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption()).decode()
    at = int((signed_in or datetime.now(UTC)).timestamp())
    id_token = ".".join([b64url(b'{"alg":"none"}'),
                         b64url(json.dumps({"iat": at, "auth_time": at}).encode()), "sig"])
    akid, secret, session = keys
    doc = {"accessToken": {"accessKeyId": akid, "secretAccessKey": secret,
                           "sessionToken": session, "accountId": fake.account_id,
                           "expiresAt": expires_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")},
           "tokenType": "aws_sigv4", "clientId": CLIENT_ID,
           "refreshToken": fake.sign_in(key), "idToken": id_token, "dpopKey": pem}
    cache_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = cache_dir / (hashlib.sha256(session_name.encode()).hexdigest() + ".json")
    path.write_text(json.dumps(doc))
    os.chmod(path, 0o600)
    return path


def expired(minutes: int = 5) -> datetime:
    """A keys' expiry already past, so that botocore renews at once."""
    return datetime.now(UTC) - timedelta(minutes=minutes)


def _make_handler(fake: SignInFake) -> type[BaseHTTPRequestHandler]:
    return json_handler(lambda method, path, headers, body: fake.answer(path, headers, body))

"""The token cache of ``aws login`` (AWS CLI 2.32 and later), read as botocore reads it.

A profile with ``login_session`` signs in as an IAM user without stored keys::

    [profile dev]                                 ~/.aws/login/cache/<sha256 of the
    login_session = arn:aws:iam::1111:user/dev ->  session name>.json

botocore's login provider turns that file's refresh token into 15-minute keys and
writes the rotated token back; roletray lets botocore do both (in the worker) and
reads here only what is not a secret: where the file is, when its keys expire, and
when the person signed in. Nothing here imports botocore.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tray import paths
from tray.awsfiles import awsconfig

LOGIN_KEY = "login_session"
CACHE_ENV = "AWS_LOGIN_CACHE_DIRECTORY"
# An `aws login` sign-in is renewed with its refresh token for at most this long.
MAX_SIGNIN = timedelta(hours=12)


def cache_dir(env: Mapping[str, str]) -> Path:
    """``AWS_LOGIN_CACHE_DIRECTORY``, else ``~/.aws/login/cache`` under ``env``'s HOME
    (botocore reads the process environment; roletray passes the caller's)."""
    given = env.get(CACHE_ENV)
    if given:
        return paths.expand(given, env)
    return paths.home_of(env) / ".aws" / "login" / "cache"


def token_path(session_name: str, env: Mapping[str, str]) -> Path:
    """Where botocore keeps the token of ``login_session = session_name``."""
    import hashlib  # here: it maps OpenSSL, which an idle tray need not hold

    key = hashlib.sha256(session_name.encode("utf-8")).hexdigest()
    return cache_dir(env) / f"{key}.json"


def is_login_profile(values: Mapping[str, str]) -> bool:
    return LOGIN_KEY in values


def find_login_profile(name: str, profile_map: Mapping[str, Mapping[str, str]]) -> str | None:
    """The first profile of ``name``'s source chain that signs in with ``aws login``."""
    for link in awsconfig.source_chain(name, profile_map):
        values = profile_map.get(link, {})
        if is_login_profile(values):
            return link
        if any(k in values for k in awsconfig.STATIC_KEYS):
            return None  # keys end the chain before any sign-in
    return None


@dataclass(frozen=True)
class SignIn:
    """What the token file says, without a secret: the keys' expiry, the account, when the
    person signed in (the ID token's ``auth_time`` or ``iat``, when readable), and whether a
    refresh token is there to renew with."""

    path: Path
    keys_expire: datetime | None
    account_id: str | None
    signed_in: datetime | None
    renewable: bool

    @property
    def ends_by(self) -> datetime | None:
        """The latest the sign-in can last (12 hours after it began), when known."""
        return self.signed_in + MAX_SIGNIN if self.signed_in is not None else None


def read_sign_in(session_name: str, env: Mapping[str, str]) -> SignIn | None:
    """The sign-in of ``session_name``; None when no token file is there (never signed in,
    or signed out). A file that cannot be read as the CLI writes it reads as not renewable."""
    path = token_path(session_name, env)
    try:
        doc = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return SignIn(path, None, None, None, renewable=False)
    if not isinstance(doc, dict):
        return SignIn(path, None, None, None, renewable=False)
    access = doc.get("accessToken")
    access = access if isinstance(access, dict) else {}
    account = access.get("accountId")
    return SignIn(path, _time(access.get("expiresAt")),
                  account if isinstance(account, str) else None,
                  _signed_in(doc.get("idToken")),
                  renewable=all(isinstance(doc.get(k), str) and doc.get(k)
                                for k in ("refreshToken", "dpopKey", "clientId")))


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)  # 3.11 reads a trailing Z
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _signed_in(id_token: object) -> datetime | None:
    """``auth_time`` (else ``iat``) of an ID token's claims; the signature is not checked:
    the time is only shown, never trusted for access."""
    if not isinstance(id_token, str) or id_token.count(".") != 2:
        return None
    part = id_token.split(".")[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(claims, dict):
        return None
    for key in ("auth_time", "iat"):
        value = claims.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            try:
                return datetime.fromtimestamp(value, UTC)
            except (OverflowError, OSError, ValueError):
                return None
    return None

"""AWS's console federation: temporary keys -> a sign-in token -> a console login URL.

``getSigninToken`` takes the role session's keys (as the ``Session`` JSON) and
answers ``{"SigninToken": ...}``; the ``login`` URL built from that token signs a
browser in to the console as the role. Plain ``urllib``: one GET, no botocore.

The login URL is a bearer credential (whoever opens it is signed in, for up to
12 hours), so it and the keys never go into an error message, a log record or an
exception chain: failures are one line naming the endpoint's host and what went
wrong, nothing from the request.
"""

from __future__ import annotations

import http.client
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from tray.domain.errors import AwsError, ConfigError, UsageError
from tray.domain.models import ROLE_ARN_RE, TempCredentials
from tray.domain.text import N_, Text

ENDPOINT_ENV = "ROLETRAY_FEDERATION_ENDPOINT"
ISSUER = "roletray"
# partition -> (sign-in host, console host)
PARTITIONS: dict[str, tuple[str, str]] = {
    "aws": ("signin.aws.amazon.com", "console.aws.amazon.com"),
    "aws-cn": ("signin.amazonaws.cn", "console.amazonaws.cn"),
    "aws-us-gov": ("signin.amazonaws-us-gov.com", "console.amazonaws-us-gov.com"),
}
# getSigninToken's limits for SessionDuration.
MIN_SESSION = 900
MAX_SESSION = 43200
# Bounded: each socket operation, and the whole answer, end within these.
TIMEOUT = 5.0
TOTAL_TIMEOUT = 15.0
MAX_ANSWER = 64 * 1024

_LOOPBACK = {"127.0.0.1", "::1", "localhost"}
_SERVICE_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
# us-east-1, ap-northeast-2, us-gov-west-1, cn-north-1, us-isob-east-1
_REGION_RE = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}$")


class FederationError(AwsError):
    """The federation endpoint could not be reached, or gave no sign-in token (exit 1)."""


def partition_of(role_arn: str) -> str:
    m = ROLE_ARN_RE.match(role_arn)
    partition = m.group("partition") if m else "aws"
    return partition if partition in PARTITIONS else "aws"


def endpoint(partition: str, env: Mapping[str, str]) -> str:
    """The federation endpoint of ``partition``, or ``ROLETRAY_FEDERATION_ENDPOINT``'s.

    The override carries the role's keys, so it must be https, or http to this machine.
    """
    value = env.get(ENDPOINT_ENV, "").strip()
    if not value:
        return f"https://{PARTITIONS.get(partition, PARTITIONS['aws'])[0]}/federation"
    try:
        parts = urllib.parse.urlsplit(value)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - a bad port raises here
    except ValueError:
        raise ConfigError(N_("{variable}: not a URL; give a full URL ending in /federation "
                             "(https://signin.aws.amazon.com/federation)"),
                          variable=ENDPOINT_ENV) from None
    if parts.username is not None or parts.password is not None:
        raise ConfigError(N_("{variable} must not carry a user name or password"),
                          variable=ENDPOINT_ENV)
    shown = value if len(value) <= 120 else value[:117] + "..."
    if parts.scheme not in ("https", "http") or not host or parts.query or parts.fragment \
            or not parts.path.endswith("/federation"):
        raise ConfigError(N_("{variable} '{url}' must be a full URL ending in /federation "
                             "(https://signin.aws.amazon.com/federation)"),
                          variable=ENDPOINT_ENV, url=shown)
    if parts.scheme == "http" and host not in _LOOPBACK:
        raise ConfigError(N_("{variable} '{url}': http is allowed only to this machine "
                             "(127.0.0.1, ::1, localhost); the role's keys are sent there"),
                          variable=ENDPOINT_ENV, url=shown)
    return value


def check_region(region: str, what: str = "--region") -> str:
    """``region``, if it looks like one; ``what`` names where it came from."""
    if not _REGION_RE.match(region):
        raise UsageError(N_("{what} '{region}' is not a region name (e.g. eu-west-1)"),
                         what=what, region=region[:40])
    return region


def destination(partition: str, region: str, given: str | None = None) -> str:
    """Where the console opens: its home in ``region``, a service's page, or a console URL."""
    console = PARTITIONS.get(partition, PARTITIONS["aws"])[1]
    region_q = urllib.parse.quote(region)
    if not given:
        return f"https://{console}/console/home?region={region_q}"
    given = given.strip()
    if _SERVICE_RE.match(given):
        return f"https://{console}/{given}/home?region={region_q}"
    try:
        parts = urllib.parse.urlsplit(given)
        host = (parts.hostname or "").lower()
    except ValueError:
        host, parts = "", None
    if parts is not None and parts.scheme == "https" and parts.username is None \
            and (host == console or host.endswith("." + console)):
        return given
    shown = given if len(given) <= 80 else given[:77] + "..."
    raise UsageError(N_("--destination '{value}': give a service name such as s3 or ec2, or a "
                        "console URL https://{console}/..."),
                     value=shown, console=console)


def session_duration(keys: TempCredentials, now: datetime) -> int:
    """The console session as long as the role's keys last, within getSigninToken's limits."""
    seconds = int((keys.expiration - now).total_seconds())
    return max(MIN_SESSION, min(MAX_SESSION, seconds))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect would send the keys in the query to another URL: refuse it."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def get_signin_token(url: str, keys: TempCredentials, *, session_duration: int | None = None,
                     timeout: float = TIMEOUT, total_timeout: float = TOTAL_TIMEOUT) -> str:
    """One ``getSigninToken`` at ``url``; the token, or ``FederationError``.

    ``session_duration``: only for keys that AssumeRole gave to long-term user keys;
    AWS refuses it for a chained role's session.
    """
    session = json.dumps({"sessionId": keys.access_key_id,
                          "sessionKey": keys.secret_access_key,
                          "sessionToken": keys.session_token})
    query: dict[str, str] = {"Action": "getSigninToken"}
    if session_duration is not None:
        query["SessionDuration"] = str(session_duration)
    query["Session"] = session
    request = urllib.request.Request(f"{url}?{urllib.parse.urlencode(query)}",
                                     headers={"Accept": "application/json",
                                              "User-Agent": "roletray"})
    where = _host(url)
    opener = urllib.request.build_opener(_NoRedirect)
    deadline = time.monotonic() + total_timeout
    # Nothing from the request (the keys are in its URL) may reach an exception's
    # chain or message: each failure becomes a fresh error, raised outside the except.
    failure: str | None = None
    body = b""
    try:
        with opener.open(request, timeout=timeout) as answer:
            body = _read_bounded(answer, deadline)
    except urllib.error.HTTPError as e:
        failure = Text(N_("answered HTTP {code}"), code=e.code)
    except urllib.error.URLError as e:
        failure = _reason(e.reason)
    except TimeoutError:
        failure = Text(N_("timed out: no answer"))
    except http.client.HTTPException as e:
        failure = Text(N_("answered with something other than HTTP ({error_type})"),
                       error_type=type(e).__name__)
    except _TooSlow:
        failure = Text(N_("did not finish answering within {seconds} s"),
                       seconds=f"{total_timeout:g}")
    except _TooBig:
        failure = Text(N_("answered with more than {kib} KiB"), kib=MAX_ANSWER // 1024)
    except OSError as e:
        failure = Text(N_("could not be reached ({error_type})"), error_type=type(e).__name__)
    if failure is not None:
        raise FederationError(N_("federation endpoint {where} {failure}"),
                              where=where, failure=failure)
    return _token(body, where)


class _TooSlow(Exception):
    pass


class _TooBig(Exception):
    pass


def _read_bounded(answer: Any, deadline: float) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        if time.monotonic() > deadline:
            raise _TooSlow
        chunk = answer.read1(8192) if hasattr(answer, "read1") else answer.read(8192)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_ANSWER:
            raise _TooBig
        chunks.append(chunk)


def _token(body: bytes, where: str) -> str:
    try:
        doc = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        kind = Text(N_("an HTML page")) if body.lstrip()[:1] == b"<" \
            else Text(N_("something other than JSON"))
        raise FederationError(N_("federation endpoint {where} answered with {kind}, not a "
                                 "sign-in token"),
                              where=where, kind=kind) from None
    token = doc.get("SigninToken") if isinstance(doc, dict) else None
    if not isinstance(token, str) or not token.strip():
        raise FederationError(N_("federation endpoint {where} answered without a sign-in token"),
                              where=where)
    return token


def _reason(reason: object) -> Text:
    if isinstance(reason, TimeoutError) or "timed out" in str(reason):
        return Text(N_("timed out: no answer"))
    if isinstance(reason, ConnectionRefusedError):
        return Text(N_("could not be reached: the connection was refused"))
    if isinstance(reason, OSError) and reason.strerror:
        return Text(N_("could not be reached: {reason}"), reason=reason.strerror)
    return Text(N_("could not be reached ({error_type})"), error_type=type(reason).__name__)


def _host(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def login_url(url: str, token: str, dest: str, *, issuer: str = ISSUER) -> str:
    """The URL that signs a browser in. A bearer credential: show it to nobody but its user."""
    return f"{url}?" + urllib.parse.urlencode({"Action": "login", "Issuer": issuer,
                                                "Destination": dest, "SigninToken": token})

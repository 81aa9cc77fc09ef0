"""What an Identity Center sign-in can use: every account, and each account's permission sets.

``ListAccounts`` is read page after page; ``ListAccountRoles`` runs for several
accounts at once (``WORKERS`` at a time, on one botocore client: clients are
thread-safe), each paged too. A throttled call (``TooManyRequestsException``) is
tried again after a backoff that grows, with jitter, up to ``MAX_TRIES`` times;
botocore's own retries are off, so that the waiting is ours and can be tested
with a fake clock. The first call refused for another reason stops the rest.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Any

from tray.aws.sso_sessions import SsoSessionSignInError
from tray.awsfiles.ssoblock import Account
from tray.domain.errors import AwsError, RoletrayError
from tray.domain.text import N_, Text

log = logging.getLogger(__name__)

WORKERS = 8
PAGE = 100  # the most ListAccounts and ListAccountRoles give per page
MAX_TRIES = 8
BACKOFF_BASE = 0.2  # seconds before the first retry; doubles, capped
BACKOFF_CAP = 5.0
THROTTLING = frozenset({"TooManyRequestsException", "ThrottlingException",
                        "ThrottledException", "RequestLimitExceeded"})
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 20.0


def portal_client(region: str, env: Mapping[str, str], workers: int = WORKERS) -> Any:
    """A botocore ``sso`` client for ``region`` (``AWS_ENDPOINT_URL_SSO`` of ``env`` honoured),
    unsigned: the portal takes the bearer token in a header."""
    from botocore import UNSIGNED
    from botocore.config import Config

    from tray.aws import session as aws_session

    return aws_session.base_session(env).create_client(
        "sso", region_name=region, endpoint_url=aws_session.endpoint_from(env, "sso"),
        config=Config(signature_version=UNSIGNED, connect_timeout=CONNECT_TIMEOUT,
                      read_timeout=READ_TIMEOUT, max_pool_connections=max(workers, 1),
                      retries={"mode": "standard", "total_max_attempts": 1}))


class Directory:
    """Reads the directory of one sso-session through ``client`` with ``token``."""

    def __init__(self, client: Any, token: str, session: str, *, workers: int = WORKERS,
                 sleep: Callable[[float], None] = time.sleep,
                 jitter: Callable[[], float] = random.random) -> None:
        self._client = client
        self._token = token
        self._session = session
        self._workers = max(1, workers)
        self._sleep = sleep
        self._jitter = jitter
        self._stop = threading.Event()
        self.calls = 0  # requests made, retries included
        self.throttled = 0
        self._count = threading.Lock()

    def accounts(self) -> list[Account]:
        """Every account with its permission sets, sorted by account name and id."""
        listed = [(a["accountId"], a.get("accountName") or "")
                  for a in self._pages("list_accounts", "accountList", {})]
        if self._workers == 1 or len(listed) <= 1:
            roles = [self._roles(account_id) for account_id, _ in listed]
        else:
            roles = self._concurrently([account_id for account_id, _ in listed])
        out = [Account(account_id, name, tuple(sorted(r)))
               for (account_id, name), r in zip(listed, roles, strict=True)]
        return sorted(out, key=lambda a: (a.name.lower(), a.account_id))

    def _concurrently(self, account_ids: list[str]) -> list[list[str]]:
        with ThreadPoolExecutor(max_workers=self._workers,
                                thread_name_prefix="roletray-sso-roles") as pool:
            futures = [pool.submit(self._roles, a) for a in account_ids]
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            failed = [f for f in futures if f in done and f.exception() is not None]
            if failed:
                self._stop.set()  # the queued ones return at once
                for f in futures:
                    f.cancel()
                raise failed[0].exception()  # type: ignore[misc]
            return [f.result() for f in futures]

    def _roles(self, account_id: str) -> list[str]:
        if self._stop.is_set():
            return []
        return [r["roleName"] for r in self._pages("list_account_roles", "roleList",
                                                   {"accountId": account_id})]

    def _pages(self, operation: str, key: str, kwargs: dict[str, Any]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        next_token: str | None = None
        while True:
            args = dict(kwargs, accessToken=self._token, maxResults=PAGE)
            if next_token:
                args["nextToken"] = next_token
            page = self._call(operation, args)
            items += page.get(key) or []
            next_token = page.get("nextToken")
            if not next_token or self._stop.is_set():
                return items

    def _call(self, operation: str, args: dict[str, Any]) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        from tray.aws.session import error_code

        what = _describe(operation, args)
        for attempt in range(MAX_TRIES):
            with self._count:
                self.calls += 1
            try:
                return dict(getattr(self._client, operation)(**args))
            except (BotoCoreError, ClientError) as e:
                code = error_code(e)
                if code in THROTTLING and attempt + 1 < MAX_TRIES and not self._stop.is_set():
                    with self._count:
                        self.throttled += 1
                    self._sleep(self._backoff(attempt))
                    continue
                raise self._error(e, code, what, attempt + 1) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _backoff(self, attempt: int) -> float:
        # "Full jitter" over half the span: never 0, never above the cap.
        span = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** attempt)
        return span / 2 + self._jitter() * span / 2

    def _error(self, e: Exception, code: str | None, what: str, tries: int) -> RoletrayError:
        if code == "UnauthorizedException":
            return SsoSessionSignInError(session=self._session,
                                         reason=Text(N_("Identity Center refused its token")))
        if code in THROTTLING:
            return AwsError(N_("Identity Center kept throttling {what} ({tries} tries); try "
                               "again in a minute"),
                            what=what, tries=tries)
        if code is None:
            return AwsError(N_("could not reach Identity Center for {what} ({error_type})"),
                            what=what, error_type=type(e).__name__)
        # Only the code: the message may echo request fields.
        return AwsError(N_("Identity Center refused {what} ({code})"),
                        what=what, code=code)


def _describe(operation: str, args: Mapping[str, Any]) -> str:
    if operation == "list_account_roles":
        return f"ListAccountRoles of account {args.get('accountId')}"
    return "ListAccounts"

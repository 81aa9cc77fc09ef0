"""Served roles: keys kept in memory for ``credential-process`` callers, never written.

The first ``credentials(profile)`` assumes the role (in the worker child) and from
then on the role is kept fresh on the instance's one scheduler (job
``serve:PROFILE``), ``SERVE_MARGIN`` before its keys end, so callers always get keys
with more than ``MIN_LEFT`` (botocore's 15-minute advisory window) left. While the
keys are good, calls return them without asking STS.

Single flight: each role has its own lock, held across its AssumeRole; twenty
callers arriving together wait on the first one's call and then read its keys.
A failed scheduled refresh is retried on the refresh policy's backoff while the old
keys are still handed out (they have more than 15 minutes left, or they are not).
One that needs a person (an MFA code, an SSO sign-in) is not retried on a timer: the
first call after the keys run low gets the error, and ``credential-process`` asks on
the terminal, sending the code with its next request.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tray.domain.errors import NeedsInputError, RoletrayError
from tray.domain.models import TempCredentials
from tray.engine import actions
from tray.engine import refresh_policy as policy
from tray.engine.scheduler import Scheduler
from tray.serve.document import SERVE_MARGIN, good_to_hand_out

log = logging.getLogger(__name__)

# (profile, *, ctx, mfa_code) -> the keys, nothing written: worker.assume_only_in_child
AssumeOnlyFn = Callable[..., actions.Outcome]
JOB_PREFIX = "serve:"


@dataclass
class _Served:
    profile: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    keys: TempCredentials | None = None
    policy_keys: policy.Keys = field(default_factory=policy.Keys)
    failures: int = 0


class ServedKeeper:
    """The served roles of one running instance."""

    def __init__(self, ctx: actions.Context, scheduler: Scheduler, *,
                 assume_fn: AssumeOnlyFn, rng: random.Random | None = None) -> None:
        self._ctx = ctx
        self._sched = scheduler
        self._assume_fn = assume_fn
        self._rng = rng or random.Random()
        self._roles: dict[str, _Served] = {}
        self._lock = threading.Lock()  # the dict only; never held across a call to AWS
        self.assume_calls = 0  # for logs and tests

    def profiles(self) -> list[str]:
        with self._lock:
            return sorted(p for p, s in self._roles.items() if s.keys is not None)

    def credentials(self, profile: str, mfa_code: str | None = None) -> TempCredentials:
        """Keys for ``profile`` with more than 15 minutes left; the role is kept from now on.

        Raises the ``RoletrayError`` of a refused or failed AssumeRole.
        """
        with self._lock:
            served = self._roles.setdefault(profile, _Served(profile))
        with served.lock:
            if self._good(served):
                assert served.keys is not None
                return served.keys
            try:
                self._assume_locked(served, mfa_code)
            except RoletrayError:
                if served.keys is None:  # never served: do not keep a role that fails
                    with self._lock:
                        self._roles.pop(profile, None)
                raise
            assert served.keys is not None
            return served.keys

    def forget(self, profile: str) -> bool:
        with self._lock:
            served = self._roles.pop(profile, None)
        self._sched.cancel(JOB_PREFIX + profile)
        return served is not None

    # ------------------------------------------------------------------ inside

    def _good(self, served: _Served) -> bool:
        return good_to_hand_out(served.keys, served.policy_keys.aws_now(self._ctx.now()))

    def _assume_locked(self, served: _Served, mfa_code: str | None) -> None:
        self.assume_calls += 1
        outcome = self._assume_fn(served.profile, ctx=self._ctx, mfa_code=mfa_code)
        now = self._ctx.now()
        res = outcome.result
        skew = policy.measure_skew(now, res.server_date)
        issued = res.server_date or (now - skew)
        served.keys = res.credentials
        served.policy_keys = policy.Keys.issued(res.credentials.expiration, issued, skew)
        served.failures = 0
        plan = policy.after_success(now, served.policy_keys, SERVE_MARGIN)
        assert plan.refresh_at is not None
        self._schedule(served, plan.refresh_at)
        log.info("serving %s (keys %s, refresh at %s)", served.profile,
                 res.credentials.masked_key, plan.refresh_at.isoformat(timespec="seconds"))

    def _schedule(self, served: _Served, run_at: datetime) -> None:
        profile = served.profile

        def run() -> None:
            self._refresh(profile)

        self._sched.schedule(JOB_PREFIX + profile, run_at, run)

    def _refresh(self, profile: str) -> None:
        with self._lock:
            served = self._roles.get(profile)
        if served is None:
            return
        with served.lock:
            try:
                self._assume_locked(served, None)
            except NeedsInputError as e:
                # A code or a sign-in is needed: retrying on a timer cannot help. The keys
                # are handed out while good; the next call after that asks the person.
                log.warning("served role %s: %s; asking the next caller", profile, e)
            except RoletrayError as e:
                served.failures += 1
                now = self._ctx.now()
                plan = policy.after_failure(now, served.policy_keys, served.failures,
                                            transient=policy.is_transient(e),
                                            draw=self._rng.random())
                assert plan.refresh_at is not None
                log.warning("served role %s: refresh failed (%s); retrying in %s", profile,
                            e, _human(plan.refresh_at - now))
                self._schedule(served, plan.refresh_at)


def _human(delta: timedelta) -> str:
    return f"{int(delta.total_seconds())} s"

"""When to refresh, retry, expire and ask for an MFA code: pure functions of times.

No I/O, no locks, no clock reads. The refresher passes ``now`` (its local clock)
and what it knows of the keys (``Keys``); every time a function returns is by the
local clock, AWS's skew applied, ready to hand to the scheduler::

    keys = Keys(expiration=T0 + 1h, lifetime=1h)
    after_success(T0, keys, margin=10min)   # Plan(FRESH, refresh_at=T0+50min, expire_at=T0+1h)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from tray.domain.errors import AccessDeniedError, AwsError, RoletrayError, SourceCredentialsError
from tray.domain.mfa import EXPIRY_SLACK
from tray.domain.models import RefreshState

BACKOFF_FIRST = 5.0  # seconds before the first retry
BACKOFF_CAP = 300.0  # retries never wait longer than this
JITTER = 0.2  # a retry waits between (1 - JITTER) and 1 times its step, so clients spread out
MIN_INTERVAL = timedelta(seconds=60)  # after a success, never refresh again sooner than this
SKEW_LIMIT = timedelta(seconds=60)  # below this, the local clock is trusted as it is
WAKE_JUMP = timedelta(seconds=5)  # wall minus monotonic beyond this: a suspend or clock step
RESTORE_SLACK = timedelta(seconds=60)  # in-memory keys this close to expiry are not worth restoring
SESSION_SLACK = EXPIRY_SLACK  # a refresh this close to the MFA session's end cannot use it
MFA_ASK_AHEAD = timedelta(minutes=15)  # ask for a code this long before the MFA session ends


def is_transient(error: RoletrayError) -> bool:
    """Worth a quick retry: AWS unreachable, throttling, a 5xx. Anything else (AccessDenied,
    a bad config or credentials file, source keys rejected) waits for a person, so it is
    retried at the cap only: a trust policy or a file can be fixed while we wait."""
    return isinstance(error, AwsError) and not isinstance(
        error, (AccessDeniedError, SourceCredentialsError))


def backoff_step(failures: int) -> float:
    """Seconds before retry number ``failures`` (1-based), before jitter: 5, 10, 20 ... 300."""
    return min(BACKOFF_CAP, BACKOFF_FIRST * 2 ** max(0, failures - 1))


def measure_skew(now: datetime, server_date: datetime | None) -> timedelta:
    """Local clock minus AWS's (the Date of an STS response); zero within ``SKEW_LIMIT``."""
    if server_date is None:
        return timedelta(0)
    measured = now - server_date
    return measured if abs(measured) > SKEW_LIMIT else timedelta(0)


@dataclass(frozen=True)
class Keys:
    """What the policy knows of a section's keys. ``expiration`` is by AWS's clock;
    ``skew`` is the local clock minus AWS's."""

    expiration: datetime | None = None
    lifetime: timedelta | None = None
    skew: timedelta = timedelta(0)

    @classmethod
    def issued(cls, expiration: datetime, issued_at: datetime, skew: timedelta) -> Keys:
        """Keys AWS issued at ``issued_at`` (its clock, or ours without a Date)."""
        lifetime = expiration - issued_at if expiration > issued_at else None
        return cls(expiration, lifetime, skew)

    def aws_now(self, now: datetime) -> datetime:
        return now - self.skew

    def expired(self, now: datetime) -> bool:
        """Unknown keys count as expired."""
        return self.expiration is None or self.aws_now(now) >= self.expiration

    def past(self, now: datetime) -> bool:
        """Known keys whose expiration has passed."""
        return self.expiration is not None and self.aws_now(now) >= self.expiration

    def margin(self, setting: timedelta) -> timedelta:
        """The refresh margin, at most half the keys' lifetime (short sessions)."""
        return min(setting, self.lifetime / 2) if self.lifetime is not None else setting

    def due(self, margin: timedelta) -> datetime | None:
        """When a refresh is due, local clock; None for unknown keys."""
        if self.expiration is None:
            return None
        return self.expiration - self.margin(margin) + self.skew

    def expire_at(self) -> datetime | None:
        return self.expiration + self.skew if self.expiration is not None else None


@dataclass(frozen=True)
class Plan:
    """What to do next: the state to publish and the jobs to (re)place, local times.
    ``None`` means no such job. ``ask_mfa_at`` is only ever later than now: asking at
    once is the ``NEEDS_INPUT`` state itself."""

    state: RefreshState
    refresh_at: datetime | None = None
    expire_at: datetime | None = None
    ask_mfa_at: datetime | None = None


def mfa_ask_at(refresh_at: datetime, now: datetime, session_end: datetime | None,
               skew: timedelta) -> datetime | None:
    """When to ask for a new MFA code, given the MFA session's end (AWS's clock): only
    when the next refresh would fall after that end, ``MFA_ASK_AHEAD`` before it, never
    before ``now``. None: the next refresh still runs on the session (or there is none)."""
    if session_end is None:
        return None
    end_local = session_end + skew
    if refresh_at < end_local - SESSION_SLACK:
        return None
    return max(now, end_local - MFA_ASK_AHEAD)


def after_success(now: datetime, keys: Keys, margin: timedelta,
                  mfa_end: datetime | None = None) -> Plan:
    """New keys are written: refresh at ``expiration - margin``, but never sooner than
    ``MIN_INTERVAL`` (keys that look expired by a wrong local clock with no Date to
    correct it must not turn into a refresh loop)."""
    refresh_at = max(keys.due(margin) or now, now + MIN_INTERVAL)
    ask = mfa_ask_at(refresh_at, now, mfa_end, keys.skew)
    if ask is not None and ask <= now:
        return Plan(RefreshState.NEEDS_INPUT, refresh_at, keys.expire_at())
    return Plan(RefreshState.FRESH, refresh_at, keys.expire_at(), ask)


def after_failure(now: datetime, keys: Keys, failures: int, *, transient: bool,
                  draw: float) -> Plan:
    """Failure number ``failures`` (1-based): a transient one backs off from 5 s, any
    other waits at the cap. ``draw`` in [0, 1) picks the jitter."""
    step = backoff_step(failures) if transient else BACKOFF_CAP
    retry_at = now + timedelta(seconds=step * (1 - JITTER * draw))
    if not transient:
        state = RefreshState.ERROR
    else:
        state = RefreshState.EXPIRED if keys.expired(now) else RefreshState.RETRYING
    return Plan(state, retry_at)


def on_resume(now: datetime, keys: Keys, margin: timedelta, *, have_keys: bool) -> Plan:
    """Starting with the state file's role: keys still in the section keep their
    schedule; missing or due keys are refreshed at once (in the scheduler's thread)."""
    due = keys.due(margin)
    if not have_keys or due is None or now >= due:
        state = RefreshState.EXPIRED if keys.expired(now) else RefreshState.REFRESHING
        return Plan(state, now)
    return Plan(RefreshState.FRESH, due, keys.expire_at())


def keep_schedule(now: datetime, keys: Keys, margin: timedelta, *,
                  floor: timedelta = MIN_INTERVAL) -> datetime:
    """The refresh time to keep when the keys stay as they are (a refused code while an
    MFA session lasts: ``floor`` keeps it from retrying at once; a restored section: 0)."""
    return max(keys.due(margin) or now, now + floor)


def restorable(now: datetime, keys: Keys) -> bool:
    """In-memory keys worth writing back into a section someone else rewrote."""
    return keys.expiration is not None and \
        keys.aws_now(now) < keys.expiration - RESTORE_SLACK


def on_rewritten_section(kind: str, *, blocked: bool, waiting: bool,
                         restorable: bool) -> Literal["leave", "refresh", "restore"]:
    """What to do about the section when it is not as we left it. ``kind`` is what
    ``SectionGuard.inspect`` found; ``blocked``: it already held keys not ours;
    ``waiting``: a person must act first (needs-input); ``restorable``: our keys in
    memory are worth writing back. Otherwise fresh keys are needed, by a refresh."""
    if kind == "ours" or (kind == "foreign" and blocked):
        return "leave"
    if restorable:
        return "restore"
    return "leave" if waiting else "refresh"


def wall_jump(before: tuple[datetime, float] | None, wall: datetime,
              mono: float) -> timedelta | None:
    """How much more the wall clock moved than the monotonic one since ``before``
    (wall, monotonic): a suspend or a clock step. None when within ``WAKE_JUMP``."""
    if before is None:
        return None
    drift = (wall - before[0]) - timedelta(seconds=mono - before[1])
    return drift if abs(drift) > WAKE_JUMP else None


def overdue(now: datetime, refresh_at: datetime | None) -> bool:
    """The planned refresh should have run (the scheduler slept through it)."""
    return refresh_at is not None and now >= refresh_at

"""The refresh policy as tables: (now, keys, failures, skew, margin, ...) -> state and times.

Pure functions, so every case is one line: no clock, no scheduler, no files.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tray.domain.errors import (
    AccessDeniedError,
    ConfigError,
    CredentialsFileError,
    EndpointError,
    RoletrayError,
    SourceCredentialsError,
)
from tray.domain.models import RefreshState
from tray.engine import refresh_policy as policy
from tray.engine.refresh_policy import Keys, Plan

T0 = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
S = timedelta(seconds=1)
MIN = timedelta(minutes=1)
H = timedelta(hours=1)
MARGIN = 10 * MIN

FRESH, RETRYING, EXPIRED, ERROR, REFRESHING, NEEDS_INPUT = (
    RefreshState.FRESH, RefreshState.RETRYING, RefreshState.EXPIRED, RefreshState.ERROR,
    RefreshState.REFRESHING, RefreshState.NEEDS_INPUT)


def hour_keys(skew: timedelta = timedelta(0), *, at: datetime = T0,
              lifetime: timedelta | None = H) -> Keys:
    """Keys issued at ``at`` (AWS's clock) for an hour."""
    return Keys(at + H, lifetime, skew)


@pytest.mark.parametrize(("case", "now", "keys", "margin", "mfa_end", "plan"), [
    ("an hour: at expiration - margin", T0, hour_keys(), MARGIN, None,
     Plan(FRESH, T0 + 50 * MIN, T0 + H)),
    ("15 min keys: margin at most half", T0, Keys(T0 + 15 * MIN, 15 * MIN), 40 * MIN, None,
     Plan(FRESH, T0 + timedelta(minutes=7, seconds=30), T0 + 15 * MIN)),
    ("local clock 2 h fast: by AWS's time", T0, hour_keys(2 * H, at=T0 - 2 * H), MARGIN, None,
     Plan(FRESH, T0 + 50 * MIN, T0 + H)),
    ("looks expired, no Date to fix it: the floor", T0, Keys(T0 - H, None), MARGIN, None,
     Plan(FRESH, T0 + MIN, T0 - H)),
    ("MFA session outlives the next refresh", T0, hour_keys(), MARGIN, T0 + 12 * H,
     Plan(FRESH, T0 + 50 * MIN, T0 + H)),
    ("MFA session ends before the next refresh: ask 15 min ahead", T0, hour_keys(), MARGIN,
     T0 + 40 * MIN, Plan(FRESH, T0 + 50 * MIN, T0 + H, ask_mfa_at=T0 + 25 * MIN)),
    ("MFA session ends within 15 min: ask now", T0, hour_keys(), MARGIN, T0 + 10 * MIN,
     Plan(NEEDS_INPUT, T0 + 50 * MIN, T0 + H)),
    ("MFA session ends just after the refresh, within its slack: ask", T0, hour_keys(), MARGIN,
     T0 + 51 * MIN, Plan(FRESH, T0 + 50 * MIN, T0 + H, ask_mfa_at=T0 + 36 * MIN)),
])
def test_after_success(case: str, now: datetime, keys: Keys, margin: timedelta,
                       mfa_end: datetime | None, plan: Plan) -> None:
    assert policy.after_success(now, keys, margin, mfa_end) == plan, case


@pytest.mark.parametrize(("case", "now", "keys", "failures", "transient", "draw", "plan"), [
    ("first transient: 5 s", T0, hour_keys(), 1, True, 0.0, Plan(RETRYING, T0 + 5 * S)),
    ("jitter takes up to 20 % off", T0, hour_keys(), 1, True, 0.5, Plan(RETRYING, T0 + 4.5 * S)),
    ("fourth: 40 s", T0, hour_keys(), 4, True, 0.0, Plan(RETRYING, T0 + 40 * S)),
    ("the cap", T0, hour_keys(), 12, True, 0.0, Plan(RETRYING, T0 + 300 * S)),
    ("keys expired meanwhile", T0 + H, hour_keys(), 9, True, 0.0,
     Plan(EXPIRED, T0 + H + 300 * S)),
    ("no keys known", T0, Keys(), 1, True, 0.0, Plan(EXPIRED, T0 + 5 * S)),
    ("not transient: an error, retried at the cap", T0, hour_keys(), 1, False, 0.0,
     Plan(ERROR, T0 + 300 * S)),
    ("skewed: expired by AWS's clock only", T0 + 30 * MIN, hour_keys(-H), 2, True, 0.0,
     Plan(EXPIRED, T0 + 30 * MIN + 10 * S)),
])
def test_after_failure(case: str, now: datetime, keys: Keys, failures: int, transient: bool,
                       draw: float, plan: Plan) -> None:
    assert policy.after_failure(now, keys, failures, transient=transient, draw=draw) == plan, case


@pytest.mark.parametrize(("case", "now", "keys", "have_keys", "plan"), [
    ("in the section, not due: keep the schedule", T0 + 10 * MIN, hour_keys(), True,
     Plan(FRESH, T0 + 50 * MIN, T0 + H)),
    ("due, not expired: refresh at once", T0 + 55 * MIN, hour_keys(), True,
     Plan(REFRESHING, T0 + 55 * MIN)),
    ("expired: at once", T0 + 3 * H, hour_keys(), True, Plan(EXPIRED, T0 + 3 * H)),
    ("section gone: at once", T0 + 10 * MIN, hour_keys(), False,
     Plan(REFRESHING, T0 + 10 * MIN)),
    ("nothing known: at once", T0, Keys(), False, Plan(EXPIRED, T0)),
    ("short session keeps its margin cap", T0, Keys(T0 + 15 * MIN, 15 * MIN), True,
     Plan(FRESH, T0 + timedelta(minutes=7, seconds=30), T0 + 15 * MIN)),
])
def test_on_resume(case: str, now: datetime, keys: Keys, have_keys: bool, plan: Plan) -> None:
    assert policy.on_resume(now, keys, MARGIN, have_keys=have_keys) == plan, case


@pytest.mark.parametrize(("case", "before", "wall", "mono", "jump"), [
    ("first look", None, T0, 0.0, None),
    ("time passed normally", (T0, 100.0), T0 + 30 * S, 130.0, None),
    ("within 5 s of drift", (T0, 100.0), T0 + 34 * S, 130.0, None),
    ("a 3 h suspend", (T0, 100.0), T0 + 3 * H, 100.0, 3 * H),
    ("the clock stepped back", (T0, 100.0), T0 - MIN + 30 * S, 130.0, -MIN),
])
def test_wall_jump(case: str, before: tuple[datetime, float] | None, wall: datetime,
                   mono: float, jump: timedelta | None) -> None:
    assert policy.wall_jump(before, wall, mono) == jump, case


@pytest.mark.parametrize(("now", "server_date", "skew"), [
    (T0, None, timedelta(0)),
    (T0, T0 - 59 * S, timedelta(0)),  # trusted as it is
    (T0, T0 - 2 * H, 2 * H),
    (T0, T0 + 61 * S, -61 * S),
])
def test_measure_skew(now: datetime, server_date: datetime | None, skew: timedelta) -> None:
    assert policy.measure_skew(now, server_date) == skew


@pytest.mark.parametrize(("error", "transient"), [
    (EndpointError("could not reach STS"), True),
    (AccessDeniedError("denied"), False),
    (SourceCredentialsError("the source's keys were rejected"), False),
    (ConfigError("bad config"), False),
    (CredentialsFileError("bad credentials file"), False),
    (RoletrayError("anything else"), False),
])
def test_only_aws_trouble_is_transient(error: RoletrayError, transient: bool) -> None:
    assert policy.is_transient(error) is transient


@pytest.mark.parametrize(("case", "now", "floor", "at"), [
    ("refused code: never sooner than a minute", T0 + 49 * MIN + 30 * S, policy.MIN_INTERVAL,
     T0 + 50 * MIN + 30 * S),
    ("refused code, early: the due time", T0, policy.MIN_INTERVAL, T0 + 50 * MIN),
    ("restored section past due: at once", T0 + 55 * MIN, timedelta(0), T0 + 55 * MIN),
])
def test_keep_schedule(case: str, now: datetime, floor: timedelta, at: datetime) -> None:
    assert policy.keep_schedule(now, hour_keys(), MARGIN, floor=floor) == at, case


@pytest.mark.parametrize(("now", "restorable"), [
    (T0, True), (T0 + 58 * MIN, True), (T0 + 59 * MIN, False), (T0 + 2 * H, False)])
def test_restorable_until_a_minute_before_expiry(now: datetime, restorable: bool) -> None:
    assert policy.restorable(now, hour_keys()) is restorable
    assert not policy.restorable(T0, Keys())


@pytest.mark.parametrize(("kind", "blocked", "waiting", "restorable", "action"), [
    ("ours", False, False, True, "leave"),
    ("ours", False, True, False, "leave"),
    ("absent", False, False, True, "restore"),
    ("changed", False, True, True, "restore"),  # keys still good: no person needed for that
    ("absent", False, False, False, "refresh"),  # ours are too old: new ones
    ("absent", False, True, False, "leave"),  # a new one needs a person: nothing to do
    ("foreign", False, False, True, "restore"),  # the write refuses long-term keys
    ("foreign", True, False, True, "leave"),  # refused before: said once, left alone
    ("foreign", False, False, False, "refresh"),
])
def test_on_rewritten_section(kind: str, blocked: bool, waiting: bool, restorable: bool,
                              action: str) -> None:
    assert policy.on_rewritten_section(kind, blocked=blocked, waiting=waiting,
                                       restorable=restorable) == action


@pytest.mark.parametrize(("now", "refresh_at", "due"), [
    (T0, None, False), (T0, T0 + S, False), (T0, T0, True), (T0 + H, T0, True)])
def test_overdue(now: datetime, refresh_at: datetime | None, due: bool) -> None:
    assert policy.overdue(now, refresh_at) is due

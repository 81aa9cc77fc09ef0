"""The refresher's use of MFA sessions, with a recording assume function: which
session a call gets, what a code starts, what AWS's refusal drops."""

from __future__ import annotations

import dataclasses
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeClock
from fakests import ACCOUNT, FakeSts, write_world

from tray import compose
from tray.domain.errors import AccessDeniedError, MfaSessionEndedError
from tray.domain.mfa import MfaSession
from tray.domain.models import TempCredentials
from tray.engine import actions
from tray.engine.mfa_keeper import MfaKeeper
from tray.settings import Settings

H = timedelta(hours=1)


@pytest.fixture
def keeper(isolated_env: Path) -> MfaKeeper:
    write_world(isolated_env)
    return MfaKeeper(compose.in_process(os.environ, settings=Settings(mfa_session_hours=8)), enabled=True)


def session_for(keeper: MfaKeeper, clock: FakeClock, hours: float = 8) -> MfaSession:
    key = keeper.key("guarded")
    assert key is not None
    return MfaSession(source=key[0], mfa_serial=key[1], credentials=TempCredentials(
        "ASIASESSION000000001", "x" * 40, "y" * 60, clock.now() + hours * H))


def test_only_roles_with_a_device_have_sessions(keeper: MfaKeeper, isolated_env: Path) -> None:
    assert keeper.key("platform") is None and keeper.key("no-such-profile") is None
    assert keeper.key("guarded") == ("default", f"arn:aws:iam::{ACCOUNT}:mfa/dev")
    off = MfaKeeper(compose.in_process(os.environ), enabled=False)
    assert off.key("guarded") is None
    clock = FakeClock()
    assert not keeper.needs_code("platform", clock.now())
    assert keeper.needs_code("guarded", clock.now()) and off.needs_code("guarded", clock.now())


def test_a_code_starts_a_session_that_later_calls_use(keeper: MfaKeeper) -> None:
    clock = FakeClock()
    session = session_for(keeper, clock)
    sts = FakeSts(clock)
    seen: list[dict[str, Any]] = []

    def assume(profile: str, **kw: Any) -> actions.Outcome:
        seen.append(kw)
        if kw["mfa_code"]:
            kw["on_mfa_session"](session)  # as actions.assume does
        outcome = sts(profile, ctx=kw["ctx"], mfa_code=kw["mfa_code"] or "000000")
        return dataclasses.replace(outcome, mfa_session=session if kw["mfa_code"] else None)

    keeper.assume(assume, "guarded", aws_now=clock.now(), mfa_code="123456")
    assert seen[0]["mfa_session_hours"] == 8 and "mfa_session" not in seen[0]
    assert not keeper.needs_code("guarded", clock.now())
    assert keeper.end(keeper.key("guarded")) == session.expiration

    keeper.assume(assume, "guarded", aws_now=clock.now() + H)
    assert seen[1]["mfa_session"] is session and seen[1]["mfa_code"] is None
    # Within two minutes of its end a session is not handed out: the call could outlive it.
    assert keeper.needs_code("guarded", session.expiration - timedelta(minutes=1))


def test_refusals_drop_an_ended_session_and_keep_a_started_one(keeper: MfaKeeper) -> None:
    clock = FakeClock()
    started = session_for(keeper, clock)

    def refused_after_start(profile: str, **kw: Any) -> actions.Outcome:
        kw["on_mfa_session"](started)  # as actions.assume does, before its AssumeRole
        raise AccessDeniedError("the role refused")

    with pytest.raises(AccessDeniedError):
        keeper.assume(refused_after_start, "guarded", aws_now=clock.now(), mfa_code="123456")
    assert keeper.session(keeper.key("guarded")) is started  # the code is spent; kept

    def ended(profile: str, **kw: Any) -> actions.Outcome:
        raise MfaSessionEndedError(profile="guarded", mfa_serial="arn", code="ExpiredToken")

    with pytest.raises(MfaSessionEndedError):
        keeper.assume(ended, "guarded", aws_now=clock.now())
    assert keeper.session(keeper.key("guarded")) is None

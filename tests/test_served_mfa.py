"""Served MFA roles share the instance's MFA sessions with its refresher (one ``MfaKeeper``).

Against moto's server through ``StsProxy`` (which records who signed each call), on a
FakeClock and FakeScheduler. Enforcement stays OFF in every test here: moto's
GetSessionToken ignores the code and, with enforcement on, moto refuses the keys
GetSessionToken hands out (AWS accepts them), so a session could not sign the AssumeRole.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import AwsSandbox
from fakes import FakeClock, FakeScheduler
from stsproxy import StsProxy
from test_mfa_session import SERIAL, SESSION_KEY_ID, clock, mfa_world, proxy  # noqa: F401

from tray import compose
from tray.domain.errors import MfaRequiredError
from tray.engine import actions, worker
from tray.engine.mfa_keeper import MfaKeeper
from tray.engine.refresher import Refresher
from tray.serve.keeper import JOB_PREFIX, ServedKeeper
from tray.settings import Settings

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Instance:
    """What ``app.running_instance`` builds, in this process: one MfaKeeper for both."""

    refresher: Refresher
    keeper: ServedKeeper
    sched: FakeScheduler


def instance(fake_clock: FakeClock, *, shared: bool = True) -> Instance:
    sched = FakeScheduler(fake_clock)
    ctx = compose.in_process(os.environ, now=fake_clock.now,
                                   settings=Settings(mfa_session_hours=12))
    mfa = MfaKeeper(ctx, enabled=True)
    refresher = Refresher(ctx, sched, monotonic=fake_clock.monotonic, rng=random.Random(5),
                          tick_interval=None, mfa=mfa)
    refresher.start()
    keeper = ServedKeeper(ctx, sched, assume_fn=actions.assume_only,
                          mfa=mfa if shared else None)
    return Instance(refresher, keeper, sched)


def signed_by_session(sts: StsProxy) -> list[bool]:
    return [c.access_key_id == SESSION_KEY_ID and c.has_token
            for c in sts.of("AssumeRole")]


def test_a_served_role_uses_the_refreshers_mfa_session_without_a_code(
        aws: AwsSandbox, proxy: StsProxy, clock: FakeClock) -> None:  # noqa: F811
    mfa_world(aws)
    inst = instance(clock)
    inst.refresher.switch("guarded-a", mfa_code="123456")  # the active role starts a session
    assert proxy.actions == ["GetSessionToken", "AssumeRole"]
    proxy.calls.clear()

    keys = inst.keeper.credentials("guarded-b")  # same source and device: no code asked
    assert keys.access_key_id.startswith("ASIA")
    assert proxy.actions == ["AssumeRole"]  # exactly one, and no GetSessionToken
    assert signed_by_session(proxy) == [True]

    # The served role's scheduled refresh uses the session too: no code, nobody asked.
    due = inst.sched.next_run(JOB_PREFIX + "guarded-b")
    assert due is not None
    inst.sched.advance_to(due)
    assert proxy.actions == ["AssumeRole", "AssumeRole"]
    assert inst.keeper.credentials("guarded-b").access_key_id != keys.access_key_id
    assert inst.sched.next_run(JOB_PREFIX + "guarded-b") is not None


def test_a_code_given_to_a_served_role_starts_a_session_the_refresher_uses(
        aws: AwsSandbox, proxy: StsProxy, clock: FakeClock) -> None:  # noqa: F811
    mfa_world(aws)
    inst = instance(clock)
    with pytest.raises(MfaRequiredError):
        inst.keeper.credentials("guarded-a")  # nothing to use yet: the caller is asked
    assert inst.refresher.needs_mfa_code("guarded-b")

    inst.keeper.credentials("guarded-a", "123456")
    assert proxy.actions == ["GetSessionToken", "AssumeRole"]
    assert not inst.refresher.needs_mfa_code("guarded-b")  # the tray would not ask
    snap = inst.refresher.switch("guarded-b")  # no code
    assert snap.role == "guarded-b" and snap.state.value == "fresh"
    assert proxy.actions == ["GetSessionToken", "AssumeRole", "AssumeRole"]
    assert signed_by_session(proxy) == [True, True]
    assert inst.refresher.mfa_session_end("guarded-b") is not None


def test_a_keeper_without_the_shared_sessions_asks_each_time(
        aws: AwsSandbox, proxy: StsProxy, clock: FakeClock) -> None:  # noqa: F811
    """What a keeper gets without an MfaKeeper (``serve`` had none before
    ``instance_keeper``)."""
    mfa_world(aws)
    inst = instance(clock, shared=False)
    inst.refresher.switch("guarded-a", mfa_code="123456")
    with pytest.raises(MfaRequiredError):
        inst.keeper.credentials("guarded-b")


def test_the_worker_child_brings_back_a_session_a_served_code_started(
        aws: AwsSandbox, proxy: StsProxy) -> None:  # noqa: F811
    mfa_world(aws)
    ctx = compose.in_process({**os.environ, "PYTHONPATH": str(REPO)})
    first = worker.assume_only_in_child("guarded-a", ctx=ctx, mfa_code="123456",
                                        mfa_session_hours=12)
    assert first.mfa_session is not None and first.mfa_session.key == ("default", SERIAL)
    second = worker.assume_only_in_child("guarded-b", ctx=ctx,
                                         mfa_session=first.mfa_session)
    assert second.mfa_session is None  # used, not started
    assert proxy.actions == ["GetSessionToken", "AssumeRole", "AssumeRole"]
    assert signed_by_session(proxy) == [True, True]


def test_a_code_for_a_kept_section_starts_the_session_every_role_then_uses(
        aws: AwsSandbox, proxy: StsProxy, clock: FakeClock) -> None:  # noqa: F811
    """Issue 12: the tray's "Enter MFA code for [second]…" ends in
    ``provide_mfa_code(code, target=)``: that section is refreshed, the session is the
    instance's one (the served role below needs no code), the active role is untouched."""
    from datetime import timedelta

    from tray.domain.models import RefreshState

    mfa_world(aws)
    inst = instance(clock)
    inst.refresher.switch("guarded-a", mfa_code="123456", target="second")
    inst.sched.advance(timedelta(hours=12))  # the 12-hour session is over: a code is needed
    assert inst.refresher.snapshot("second").state is RefreshState.NEEDS_INPUT
    proxy.calls.clear()

    snap = inst.refresher.provide_mfa_code("654321", target="second")
    assert (snap.target, snap.role, snap.state) == ("second", "guarded-a", RefreshState.FRESH)
    assert proxy.actions == ["GetSessionToken", "AssumeRole"]
    assert inst.refresher.snapshot().role is None  # the default target: nothing kept there
    inst.keeper.credentials("guarded-b")  # same source and device: no code
    assert proxy.actions == ["GetSessionToken", "AssumeRole", "AssumeRole"]
    assert signed_by_session(proxy) == [True, True]


def test_serve_on_its_own_asks_one_code_for_many_refreshes(
        aws: AwsSandbox, proxy: StsProxy, clock: FakeClock) -> None:  # noqa: F811
    """``roletray serve`` without a running instance keeps the MFA session its one code
    started (``instance_keeper``, as the tray's and daemon's): the scheduled refreshes
    need no code. Before, it had no MfaKeeper: the first refresh needed a code nobody
    could give, and the endpoint went dark once the keys ran low."""
    from tray.serve import foreground
    from tray.serve.keeper import instance_keeper

    mfa_world(aws)
    sched = FakeScheduler(clock)
    ctx = compose.in_process({**os.environ, "PYTHONPATH": str(REPO)}, now=clock.now,
                                   settings=Settings(mfa_session_hours=12))
    keeper = instance_keeper(ctx, sched)
    keys_for = foreground.key_source(ctx, keeper)  # no instance runs: this keeper answers
    asked: list[str] = []
    foreground.first_keys("guarded-a", keys_for, lambda p: asked.append(p) or "123456")
    first = keys_for("guarded-a")
    for _ in range(2):  # two scheduled refreshes
        due = sched.next_run(JOB_PREFIX + "guarded-a")
        assert due is not None
        sched.advance_to(due)
    assert asked == ["guarded-a"]  # one code
    assert proxy.actions == ["GetSessionToken", "AssumeRole", "AssumeRole", "AssumeRole"]
    assert signed_by_session(proxy) == [True, True, True]
    assert keys_for("guarded-a").access_key_id != first.access_key_id  # refreshed keys


def test_clearing_the_last_kept_section_keeps_the_mfa_session_served_roles_use(
        aws: AwsSandbox, proxy: StsProxy, clock: FakeClock) -> None:  # noqa: F811
    """"Stop (remove keys)" or ``clear`` removes a section's keys, not the instance's MFA
    session: a served role (credential-process callers, e.g. a two-hour terraform apply)
    still refreshes without a code. Before, clearing the last kept section forgot every
    session and the served role's next refresh needed a code nobody could give."""
    mfa_world(aws)
    inst = instance(clock)
    inst.keeper.credentials("guarded-b", "123456")  # a served role starts the session
    inst.refresher.switch("guarded-a")  # the active role uses it: no code
    assert proxy.actions == ["GetSessionToken", "AssumeRole", "AssumeRole"]
    inst.refresher.clear()  # the last kept section goes
    assert inst.refresher.snapshot().role is None
    assert not inst.refresher.needs_mfa_code("guarded-a")  # the session is still there

    due = inst.sched.next_run(JOB_PREFIX + "guarded-b")
    assert due is not None
    inst.sched.advance_to(due)  # the served role's refresh: no code, nobody asked
    assert proxy.actions[3:] == ["AssumeRole"] and signed_by_session(proxy)[-1]
    assert inst.sched.next_run(JOB_PREFIX + "guarded-b") is not None  # kept fresh

"""The refresh engine, timed by a FakeClock and a FakeScheduler: no sleeps.

Most tests script STS with ``FakeSts`` (keys expire by the fake clock); the
section is still written, verified and recorded for real. The last tests run
the real ``actions.assume`` against moto's server and a misbehaving one.
"""

from __future__ import annotations

import itertools
import logging
import os
import random
import threading
import types
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fakes import FakeClock, FakeScheduler
from fakests import ACCOUNT, DEFAULT_KEY, FakeSts, write_world
from faultserver import FaultServer

from tray import compose
from tray.aws import sts
from tray.awsfiles import credfile
from tray.domain.errors import AccessDeniedError, EndpointError, UsageError
from tray.domain.models import RefreshState, Snapshot, TempCredentials, utcnow
from tray.engine.refresh_policy import BACKOFF_CAP, backoff_step
from tray.engine.refresher import Refresher
from tray.engine.scheduler import ApsScheduler
from tray.engine.section import job_id
from tray.paths import Paths
from tray.settings import Settings
from tray.state import load_state

T0 = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
REFRESH = job_id("refresh", "roletray")
EXPIRE = job_id("expire", "roletray")


@dataclass
class Rig:
    r: Refresher
    sched: FakeScheduler
    sts: FakeSts
    clock: FakeClock
    creds_path: Path
    seen: list[Snapshot] = field(default_factory=list)

    @property
    def states(self) -> list[RefreshState]:
        return [s.state for s in self.seen]

    def section_key(self) -> str | None:
        owned = credfile.read_owned(self.creds_path, "roletray")
        return owned.access_key_id if owned else None


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def world(isolated_env: Path) -> Path:
    return write_world(isolated_env)[1]


def make_rig(clock: FakeClock, creds_path: Path, *, margin: timedelta = timedelta(minutes=10),
             fake: FakeSts | None = None, seed: int = 7) -> Rig:
    sched = FakeScheduler(clock)
    fake = fake or FakeSts(clock)
    ctx = compose.in_process(os.environ, now=clock.now, settings=Settings(refresh_margin=margin))
    r = Refresher(ctx, sched, monotonic=clock.monotonic, rng=random.Random(seed),
                  assume_fn=fake, tick_interval=None)
    rig = Rig(r, sched, fake, clock, creds_path)
    r.subscribe(rig.seen.append)
    return rig


def earlier_run(clock: FakeClock, creds_path: Path, *, fake: FakeSts | None = None) -> Rig:
    """A run before a restart: started, switched to "platform", stopped (state kept)."""
    first = make_rig(clock, creds_path, fake=fake)
    first.r.start()
    first.r.switch("platform")
    first.r.stop()
    return first


@pytest.fixture
def rig(clock: FakeClock, world: Path) -> Rig:
    rig = make_rig(clock, world)
    rig.r.start()
    return rig


# ----------------------------------------------------------------- scheduling

def test_refresh_is_scheduled_at_expiration_minus_margin(rig: Rig) -> None:
    snap = rig.r.switch("platform")
    assert snap.state is RefreshState.FRESH
    assert snap.role == "platform" and snap.account == ACCOUNT
    assert snap.identity_arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/platform/roletray-1"
    assert snap.expiration == T0 + timedelta(hours=1) and snap.seconds_left == 3600
    assert snap.clock_skew_seconds is None
    assert rig.sched.next_run(REFRESH) == T0 + 50 * MIN
    assert rig.sched.next_run(EXPIRE) == T0 + 60 * MIN

    rig.sched.advance(50 * MIN - timedelta(seconds=1))
    assert len(rig.sts.calls) == 1
    rig.sched.advance(timedelta(seconds=1))
    assert [c["at"] for c in rig.sts.calls] == [T0, T0 + 50 * MIN]  # one AssumeRole per refresh
    assert rig.section_key() == rig.sts.keys[-1]
    assert rig.sched.next_run(REFRESH) == T0 + 100 * MIN
    assert rig.r.snapshot().state is RefreshState.FRESH
    # every change was published, refreshing included
    assert rig.states[-2:] == [RefreshState.REFRESHING, RefreshState.FRESH]

    rig.sched.advance(timedelta(hours=5))
    assert len(rig.sts.calls) == 2 + 6  # every 50 minutes, nothing dropped, nothing doubled


def test_margin_is_at_most_half_the_session(clock: FakeClock, world: Path) -> None:
    rig = make_rig(clock, world, margin=timedelta(minutes=40), fake=FakeSts(clock, duration=900))
    rig.r.start()
    rig.r.switch("platform")
    assert rig.sched.next_run(REFRESH) == T0 + timedelta(minutes=7, seconds=30)


def test_backoff_doubles_from_5s_to_the_cap_with_jitter_then_expires_then_recovers(
        rig: Rig) -> None:
    rig.r.switch("platform")
    rig.sts.fail_with = EndpointError("profile 'platform': could not reach STS at "
                                      "http://127.0.0.1:9: the connection failed")
    rig.sched.advance(50 * MIN)
    snap = rig.r.snapshot()
    assert snap.state is RefreshState.RETRYING
    assert snap.last_error is not None and "could not reach STS" in snap.last_error
    assert "\n" not in snap.last_error

    delays = []
    at = rig.clock.now()
    for _ in range(10):
        nxt = rig.sched.next_run(REFRESH)
        assert nxt is not None
        delays.append((nxt - at).total_seconds())
        rig.sched.advance_to(nxt)
        at = nxt
    steps = [5, 10, 20, 40, 80, 160, 300, 300, 300, 300]
    assert [backoff_step(n) for n in range(1, 11)] == steps
    for delay, step in zip(delays, steps):
        assert 0.8 * step <= delay <= step
    assert len({round(d / s, 6) for d, s in zip(delays, steps)}) > 1  # jittered, not fixed
    assert len(rig.sts.calls) == 1 + 1 + 10  # one AssumeRole per try

    # The keys expired (at T0 + 60 min) while retrying: said so at that moment.
    expired = [s for s in rig.seen if s.state is RefreshState.EXPIRED]
    assert expired and expired[0].now == T0 + 60 * MIN and expired[0].seconds_left == 0
    assert rig.r.snapshot().state is RefreshState.EXPIRED
    # ... and retrying goes on at the cap.
    nxt = rig.sched.next_run(REFRESH)
    assert nxt is not None and 0.8 * BACKOFF_CAP <= (nxt - at).total_seconds() <= BACKOFF_CAP

    rig.sts.fail_with = None  # AWS is back
    rig.sched.advance_to(nxt)
    snap = rig.r.snapshot()
    assert snap.state is RefreshState.FRESH and snap.last_error is None
    assert rig.section_key() == rig.sts.keys[-1]
    # (STS gives whole seconds; the jittered retry ran at a fraction of one)
    assert abs(rig.sched.next_run(REFRESH) - (nxt + 50 * MIN)) < timedelta(seconds=1)  # type: ignore[operator]
    # After recovery the backoff starts again from 5 s.
    rig.sts.fail_with = EndpointError("down again")
    rig.sched.advance(50 * MIN)
    retry = rig.sched.next_run(REFRESH)
    assert retry is not None and 4 <= (retry - rig.clock.now()).total_seconds() <= 5


def test_access_denied_is_an_error_retried_at_the_cap(rig: Rig) -> None:
    rig.r.switch("platform")
    rig.sts.fail_with = AccessDeniedError("profile 'platform': AccessDenied: not authorized "
                                          "to perform: sts:AssumeRole")
    rig.sched.advance(50 * MIN)
    snap = rig.r.snapshot()
    assert snap.state is RefreshState.ERROR and "AccessDenied" in (snap.last_error or "")
    nxt = rig.sched.next_run(REFRESH)
    assert nxt is not None and 240 <= (nxt - rig.clock.now()).total_seconds() <= 300
    rig.sts.fail_with = None  # the trust policy was fixed
    rig.sched.advance_to(nxt)
    assert rig.r.snapshot().state is RefreshState.FRESH


# ---------------------------------------------------------- suspend and clocks

def test_wake_after_a_3h_suspend_refreshes_at_once_and_drops_nothing(rig: Rig) -> None:
    rig.r.switch("platform")
    stale_job = rig.sched.job(REFRESH)
    rig.r.check_wake()  # the tick before the suspend
    rig.clock.jump_wall(timedelta(hours=3))  # wall moved, monotonic did not
    assert len(rig.sts.calls) == 1  # nothing fired: the scheduler sleeps on monotonic time

    rig.r.check_wake()
    assert [c["at"] for c in rig.sts.calls] == [T0, T0 + timedelta(hours=3)]
    snap = rig.r.snapshot()
    assert snap.state is RefreshState.FRESH and snap.seconds_left == 3600
    assert rig.section_key() == rig.sts.keys[-1]
    assert rig.sched.next_run(REFRESH) == T0 + timedelta(hours=3) + 50 * MIN

    # The real scheduler would still fire the stale job, late: it must not refresh again.
    assert stale_job is not None
    stale_job()
    rig.r.check_wake()
    assert len(rig.sts.calls) == 2
    rig.sched.advance(50 * MIN)
    assert len(rig.sts.calls) == 3


def test_small_jump_when_nothing_is_due_does_not_refresh(rig: Rig) -> None:
    rig.r.switch("platform")
    rig.r.check_wake()
    rig.clock.jump_wall(timedelta(minutes=20))
    rig.r.check_wake()
    assert len(rig.sts.calls) == 1
    assert rig.sched.next_run(REFRESH) == T0 + 50 * MIN


def test_the_wall_clock_check_is_a_scheduler_job(clock: FakeClock, world: Path) -> None:
    """No thread of its own: the tick is the scheduler's job, replaced every 30 s."""
    sched = FakeScheduler(clock)
    fake = FakeSts(clock)
    r = Refresher(compose.in_process(os.environ, now=clock.now, settings=Settings()), sched,
                  monotonic=clock.monotonic, rng=random.Random(3), assume_fn=fake,
                  tick_interval=30.0)
    r.start()
    assert sched.next_run("tick") == T0 + timedelta(seconds=30)
    r.switch("platform")
    assert sorted(sched.pending()) == [EXPIRE, REFRESH, "tick"]
    sched.advance(timedelta(seconds=90))
    assert [job for job, _ in sched.fired] == ["tick"] * 3
    assert sched.next_run("tick") == T0 + timedelta(seconds=120)

    clock.jump_wall(timedelta(hours=3))  # a suspend: the scheduler wakes late, once
    sched.run_due()
    assert [c["at"] for c in fake.calls] == [T0, T0 + timedelta(hours=3, seconds=90)]
    # The tick (on the scheduler's thread) hands the catch-up to the pool ("tick-work");
    # the late refresh job and it share one AssumeRole between them.
    assert [job for job, _ in sched.fired[3:]] == ["tick", REFRESH, "tick-work"]
    assert sched.next_run("tick") == clock.now() + timedelta(seconds=30)

    credfile.remove_credentials(world, "roletray")  # the next tick guards the section
    sched.advance(timedelta(seconds=30))
    assert credfile.read_owned(world, "roletray") is not None and len(fake.calls) == 2

    tick = sched.job("tick")
    assert tick is not None and r.stop()
    tick()  # a tick that was already running when the refresher stopped
    assert sched.pending() == {}  # it did not place itself again


def test_jobs_are_named_after_their_section(rig: Rig) -> None:
    rig.r.switch("platform")
    snap = rig.r.switch("other", target="work")  # another target: kept too, not instead
    assert snap.target == "work" and snap.role == "other" and snap.state is RefreshState.FRESH
    assert sorted(rig.sched.pending()) == sorted(
        job_id(kind, t) for kind in ("expire", "refresh") for t in ("roletray", "work"))
    assert rig.r.snapshot().role == "platform"  # the default section is still the active role
    rig.sched.advance(50 * MIN)  # each section's own refresh: one AssumeRole each
    assert len(rig.sts.calls) == 4 and sorted(c["profile"] for c in rig.sts.calls[2:]) == [
        "other", "platform"]
    work = credfile.read_owned(rig.creds_path, "work")
    assert work is not None and work.access_key_id in rig.sts.keys[2:]
    assert rig.section_key() in rig.sts.keys[2:] and rig.section_key() != work.access_key_id
    old_refresh = rig.sched.job(job_id("refresh", "work"))
    rig.r.clear("work")
    assert old_refresh is not None
    old_refresh()  # a run of the cleared section's job already under way: it does nothing
    assert len(rig.sts.calls) == 4 and credfile.read_owned(rig.creds_path, "work") is None


def test_overdue_job_runs_on_the_tick_even_without_a_jump(rig: Rig) -> None:
    rig.r.switch("platform")
    rig.clock.advance(52 * MIN)  # time passed, but the scheduler did not wake
    rig.r.check_wake()
    assert len(rig.sts.calls) == 2 and rig.sts.calls[1]["at"] == T0 + 52 * MIN


def test_skew_schedules_by_aws_time_and_reports_it(clock: FakeClock, world: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="tray")
    # Our clock is 2 h fast: by it, the keys AWS gives expire an hour ago.
    rig = make_rig(clock, world, fake=FakeSts(clock, server_offset=-timedelta(hours=2)))
    rig.r.start()
    snap = rig.r.switch("platform")
    assert snap.clock_skew_seconds == 7200
    assert snap.state is RefreshState.FRESH and snap.seconds_left == 3600
    assert rig.sched.next_run(REFRESH) == T0 + 50 * MIN
    assert "clock is +7200 s off AWS" in caplog.text
    rig.sched.advance(2 * 60 * MIN)
    assert len(rig.sts.calls) == 1 + 2  # no refresh loop


def test_fast_local_clock_without_a_date_cannot_loop(clock: FakeClock, world: Path) -> None:
    rig = make_rig(clock, world, fake=FakeSts(clock, server_offset=-timedelta(hours=2),
                                              send_date=False))
    rig.r.start()
    rig.r.switch("platform")
    assert rig.sched.next_run(REFRESH) == T0 + MIN  # the floor, not "now"
    rig.sched.advance(10 * MIN)
    times = [c["at"] for c in rig.sts.calls]
    assert len(times) == 11
    assert all(b - a >= MIN for a, b in itertools.pairwise(times))


def test_resume_with_keys_that_look_expired_refreshes_once_then_trusts_aws(
        clock: FakeClock, world: Path) -> None:
    fake = FakeSts(clock, server_offset=-timedelta(hours=2))
    earlier_run(clock, world, fake=fake)
    # A restart: the state says the keys expired an hour ago (by our fast clock).
    rig = make_rig(clock, world, fake=fake)
    rig.r.start()
    rig.sched.run_due()
    assert len(fake.calls) == 2
    rig.sched.advance(30 * MIN)
    assert len(fake.calls) == 2
    assert rig.r.snapshot().clock_skew_seconds == 7200


# --------------------------------------------------------------------- resume

def test_resume_from_state_schedules_without_calling_aws(clock: FakeClock, world: Path) -> None:
    first = earlier_run(clock, world)
    clock.advance(10 * MIN)

    rig = make_rig(clock, world, fake=first.sts)
    snap = rig.r.start()
    assert snap.state is RefreshState.FRESH and snap.role == "platform"
    assert snap.identity_arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/platform/roletray-1"
    assert snap.seconds_left == 50 * 60
    assert rig.sched.next_run(REFRESH) == T0 + 50 * MIN
    assert len(first.sts.calls) == 1
    rig.sched.advance(40 * MIN)
    assert len(first.sts.calls) == 2


def test_resume_when_due_or_missing_or_expired_refreshes_at_once(clock: FakeClock,
                                                                 world: Path) -> None:
    first = earlier_run(clock, world)

    clock.advance(55 * MIN)  # due (not yet expired)
    rig = make_rig(clock, world, fake=first.sts)
    assert rig.r.start().state is RefreshState.REFRESHING
    assert rig.sched.next_run(REFRESH) == clock.now()
    rig.sched.run_due()
    assert len(first.sts.calls) == 2
    rig.r.stop()

    credfile.remove_credentials(world, "roletray")  # missing
    rig = make_rig(clock, world, fake=first.sts)
    rig.r.start()
    rig.sched.run_due()
    assert len(first.sts.calls) == 3 and rig.section_key() == first.sts.keys[-1]
    rig.r.stop()

    clock.advance(3 * 60 * MIN)  # expired
    rig = make_rig(clock, world, fake=first.sts)
    assert rig.r.start().state is RefreshState.EXPIRED
    rig.sched.run_due()
    assert rig.r.snapshot().state is RefreshState.FRESH
    assert len(first.sts.calls) == 4


def test_resume_keeps_the_margin_cap_of_short_sessions(clock: FakeClock, world: Path) -> None:
    fake = FakeSts(clock, duration=900)
    earlier_run(clock, world, fake=fake)
    rig = make_rig(clock, world, fake=fake)
    rig.r.start()
    assert rig.sched.next_run(REFRESH) == T0 + timedelta(minutes=7, seconds=30)


# ------------------------------------------------------------------- tampering

def test_removed_section_is_restored_from_memory_without_aws(
        rig: Rig, world: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="tray")
    rig.r.switch("platform")
    before_default = world.read_text().split("[roletray]")[0]
    credfile.remove_credentials(world, "roletray")
    rig.r.check_wake()
    assert rig.section_key() == rig.sts.keys[0]
    assert len(rig.sts.calls) == 1
    assert world.read_text().startswith(before_default)  # the rest untouched
    assert ("restored [roletray] in ~/.aws/credentials: another program removed it"
            in caplog.text)


def test_changed_section_is_restored(rig: Rig, world: Path,
                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="tray")
    rig.r.switch("platform")
    other = TempCredentials("ASIAOTHERPROGRAM0001", "s" * 40, "t" * 60, T0 + 60 * MIN)
    credfile.write_credentials(world, "roletray", other, role="platform")
    rig.r.check_wake()
    assert rig.section_key() == rig.sts.keys[0]
    assert "another program changed it" in caplog.text
    assert len(rig.sts.calls) == 1


def test_foreign_temporary_keys_are_replaced(rig: Rig, world: Path) -> None:
    rig.r.switch("platform")
    text = world.read_text().split("[roletray]")[0]
    world.write_text(text + "[roletray]\naws_access_key_id = ASIAFOREIGN00000001\n"
                     "aws_secret_access_key = abc\naws_session_token = def\n")
    rig.r.check_wake()
    assert credfile.section_state(world, "roletray") == "owned"
    assert rig.section_key() == rig.sts.keys[0]


def test_foreign_long_term_keys_are_never_overwritten(
        rig: Rig, world: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="tray")
    rig.r.switch("platform")
    head = world.read_text().split("[roletray]")[0]
    world.write_text(head + "[roletray]\naws_access_key_id = AKIASOMEONESKEYS001\n"
                     "aws_secret_access_key = theirsecret\n")
    before = world.read_bytes()
    rig.r.check_wake()
    snap = rig.r.snapshot()
    assert snap.state is RefreshState.ERROR
    assert snap.last_error is not None and "long-term keys" in snap.last_error
    assert world.read_bytes() == before
    assert rig.sched.next_run(REFRESH) is None  # nothing to do until it is ours again
    rig.sched.advance(2 * 60 * MIN)
    rig.r.check_wake()
    assert world.read_bytes() == before and len(rig.sts.calls) == 1
    assert caplog.text.count("not touching [roletray]") == 1  # said once, not every tick

    world.write_text(head)  # the user moved their keys away
    rig.r.check_wake()
    snap = rig.r.snapshot()
    assert snap.state is RefreshState.FRESH and rig.section_key() == rig.sts.keys[-1]
    assert rig.sched.next_run(REFRESH) is not None


def test_tampering_noticed_at_refresh_time_is_restored_by_the_refresh(
        rig: Rig, world: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="tray")
    rig.r.switch("platform")
    credfile.remove_credentials(world, "roletray")
    rig.sched.advance(50 * MIN)
    assert len(rig.sts.calls) == 2 and rig.section_key() == rig.sts.keys[-1]
    assert "another program removed it" in caplog.text


# ------------------------------------------------------------------------ MFA

def test_mfa_role_waits_for_a_code_without_blocking(rig: Rig,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    rig.r.switch("guarded", mfa_code="902817")
    assert rig.sts.calls[0]["mfa_code"] == "902817"

    rig.sched.advance(50 * MIN)  # returns: nothing waits for a person
    snap = rig.r.snapshot()
    assert snap.state is RefreshState.NEEDS_INPUT
    assert snap.last_error is not None and "needs an MFA code" in snap.last_error
    assert len(rig.sts.calls) == 1  # no AssumeRole without a code
    assert rig.sched.next_run(REFRESH) is None
    rig.r.check_wake()
    rig.sched.advance(15 * MIN)  # expired meanwhile: still "needs input", which says what to do
    assert rig.r.snapshot().state is RefreshState.NEEDS_INPUT
    assert len(rig.sts.calls) == 1

    rig.sts.errors = [AccessDeniedError("profile 'guarded': the MFA code was rejected")]
    with pytest.raises(AccessDeniedError):
        rig.r.provide_mfa_code("447310")
    assert rig.r.snapshot().state is RefreshState.NEEDS_INPUT

    snap = rig.r.provide_mfa_code("665102")
    assert snap.state is RefreshState.FRESH and rig.sts.calls[-1]["mfa_code"] == "665102"
    assert rig.sched.next_run(REFRESH) is not None
    for code in ("902817", "447310", "665102"):
        assert code not in caplog.text


# ------------------------------------------------------- commands and events

def test_switch_failure_keeps_the_active_role(rig: Rig) -> None:
    rig.r.switch("platform")
    rig.sts.fail_with = AccessDeniedError("denied")
    with pytest.raises(AccessDeniedError):
        rig.r.switch("other")
    snap = rig.r.snapshot()
    assert snap.role == "platform" and snap.state is RefreshState.FRESH
    rig.sts.fail_with = None
    assert rig.r.switch("other").role == "other"
    assert load_state(Paths.from_env(os.environ)) is not None and load_state(Paths.from_env(os.environ)).active_role == "other"  # type: ignore[union-attr]


def test_refresh_now_and_clear(rig: Rig, world: Path) -> None:
    with pytest.raises(UsageError):
        rig.r.refresh_now()
    rig.r.switch("platform")
    rig.clock.advance(5 * MIN)
    snap = rig.r.refresh_now()
    assert len(rig.sts.calls) == 2 and snap.seconds_left == 3600
    assert rig.sched.next_run(REFRESH) == T0 + 55 * MIN

    rig.sts.fail_with = EndpointError("unreachable")
    with pytest.raises(EndpointError):
        rig.r.refresh_now()
    assert rig.r.snapshot().state is RefreshState.RETRYING

    snap = rig.r.clear()
    assert snap.state is RefreshState.IDLE and snap.role is None
    assert "[roletray]" not in world.read_text() and DEFAULT_KEY in world.read_text()
    assert load_state(Paths.from_env(os.environ)) is None
    assert rig.sched.pending() == {}
    rig.sched.advance(3 * 60 * MIN)
    rig.r.check_wake()
    assert len(rig.sts.calls) == 3


def test_a_failing_subscriber_never_stops_the_refresher(
        rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    def broken(_: Snapshot) -> None:
        raise RuntimeError("tray went away")

    rig.r.subscribe(broken)
    rig.r.switch("platform")
    rig.sched.advance(50 * MIN)
    assert len(rig.sts.calls) == 2 and rig.r.snapshot().state is RefreshState.FRESH
    assert rig.states.count(RefreshState.FRESH) == 2
    assert "subscriber" in caplog.text and "tray went away" in caplog.text


def test_no_secret_in_logs_or_snapshots(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    rig.r.switch("platform")
    rig.sts.fail_with = EndpointError("unreachable")
    rig.sched.advance(51 * MIN)
    rig.sts.fail_with = None
    rig.sched.advance(MIN)
    published = repr([s.to_json() for s in rig.seen])
    for secret in rig.sts.secrets:
        assert secret not in caplog.text and secret not in published
    assert "fakeToken" not in caplog.text and "fakeToken" not in published


def test_one_assume_role_at_a_time(rig: Rig) -> None:
    """A hand-over, the scheduled job and the tick, all at once: one AssumeRole in flight."""
    rig.r.switch("platform")
    rig.clock.advance(50 * MIN)  # the job is due
    rig.sts.gate = threading.Event()
    rig.sts.entered.clear()
    job = rig.sched.job(REFRESH)
    assert job is not None
    threads = [threading.Thread(target=job),
               threading.Thread(target=rig.r.refresh_now),
               threading.Thread(target=rig.r.check_wake)]
    threads[0].start()
    assert rig.sts.entered.wait(5)
    for t in threads[1:]:
        t.start()
    threads[2].join(5)  # the tick skips while a refresh runs: it never queues
    assert not threads[2].is_alive()
    rig.sts.gate.set()
    for t in threads[:2]:
        t.join(5)
        assert not t.is_alive()
    assert rig.sts.max_in_flight == 1
    assert len(rig.sts.calls) == 3  # switch, the job, then the hand-over after it


# ------------------------------------------------- real scheduler and servers

def test_real_scheduler_runs_the_resume_refresh_at_once(world: Path) -> None:
    clock = types.SimpleNamespace(now=utcnow)
    fake = FakeSts(clock)  # type: ignore[arg-type]
    ctx = compose.in_process(os.environ, settings=Settings())
    fresh = threading.Event()
    r = Refresher(ctx, ApsScheduler(), assume_fn=fake, tick_interval=None)
    r.start()
    r.switch("platform")
    r.stop()
    credfile.remove_credentials(world, "roletray")

    r = Refresher(ctx, ApsScheduler(), assume_fn=fake, tick_interval=None)
    r.subscribe(lambda s: fresh.set() if s.state is RefreshState.FRESH
                and len(fake.calls) == 2 else None)
    r.start()
    try:
        assert fresh.wait(10), "the due refresh never ran"
        assert len(fake.calls) == 2
        assert credfile.read_owned(world, "roletray") is not None
    finally:
        assert r.stop(timeout=5)


@pytest.fixture
def live(aws, monkeypatch: pytest.MonkeyPatch) -> Rig:  # type: ignore[no-untyped-def]
    aws.seed_world()
    aws.enforce()
    clock = FakeClock(utcnow())  # moto's keys expire by the real clock
    sched = FakeScheduler(clock)
    ctx = compose.in_process(os.environ, now=clock.now, settings=Settings(),
                          client_factory=sts.make_client_factory(
                              connect_timeout=1, read_timeout=2, max_attempts=1))
    r = Refresher(ctx, sched, monotonic=clock.monotonic, rng=random.Random(1),
                  tick_interval=None)
    rig = Rig(r, sched, FakeSts(clock), clock, aws.credentials_path)
    r.subscribe(rig.seen.append)
    r.start()
    return rig


def test_unreachable_sts_retries_and_recovers_against_moto(
        live: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    snap = live.r.switch("platform")
    assert snap.state is RefreshState.FRESH
    assert snap.identity_arn and snap.identity_arn.startswith(
        f"arn:aws:sts::{ACCOUNT}:assumed-role/platform/")
    first_key = live.section_key()

    with FaultServer("refuse") as srv:
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", srv.url)
        with pytest.raises(EndpointError):
            live.r.refresh_now()
        assert live.r.snapshot().state is RefreshState.RETRYING
        live.sched.advance(timedelta(seconds=5))  # the first retry: still refused
        snap = live.r.snapshot()
        assert snap.state is RefreshState.RETRYING and "could not reach STS" in (
            snap.last_error or "")
    assert live.section_key() == first_key  # the still-valid keys were left alone

    monkeypatch.delenv("AWS_ENDPOINT_URL_STS")  # it came back
    live.sched.advance(timedelta(seconds=10))
    snap = live.r.snapshot()
    assert snap.state is RefreshState.FRESH and snap.last_error is None
    assert live.section_key() not in (None, first_key)


def test_sts_500_is_retried_one_call_per_try(live: Rig, monkeypatch: pytest.MonkeyPatch,
                                             moto_url: str) -> None:
    live.r.switch("platform")
    with FaultServer("500") as srv:
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", srv.url)
        with pytest.raises(EndpointError):
            live.r.refresh_now()
        assert srv.actions == ["AssumeRole"]
        assert live.r.snapshot().state is RefreshState.RETRYING
        srv.upstream, srv.mode = moto_url, "proxy"  # it recovers
        live.sched.advance(timedelta(seconds=5))
        assert srv.actions == ["AssumeRole", "AssumeRole"]
    assert live.r.snapshot().state is RefreshState.FRESH


def test_nothing_to_refresh_and_an_internal_error_are_said_in_korean(rig: Rig) -> None:
    from tray import i18n
    from tray.domain.errors import UsageError

    try:
        i18n.setup({"LANG": "ko_KR.UTF-8"})
        with pytest.raises(UsageError) as none:
            rig.r.refresh_now(target="work")
        assert none.value.localized == ("[work]에 유지 중인 갱신할 역할이 없습니다. 먼저 역할을 "
                                        "맡으세요")
        assert str(none.value) == "no role kept in [work] to refresh: assume a role first"
        with pytest.raises(UsageError) as none:
            rig.r.refresh_now()
        assert none.value.localized == "갱신할 활성 역할이 없습니다. 먼저 역할을 맡으세요"
    finally:
        i18n.setup({})

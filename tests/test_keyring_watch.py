"""A locked keyring's wait ends by itself once the keyring is unlocked.

The refresher asks ``keyring_locked`` (``tray.platform.keyring_watch``: the Secret
Service's default collection over D-Bus) on its tick, only while a keyring wait is on.
Timing is a FakeClock and a FakeScheduler's tick; the last tests use a real Secret
Service on a private bus (tests/secretservice.py), moto's server and the worker child.
"""

from __future__ import annotations

import logging
import os
import random
import re
import socket
import subprocess
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import AwsSandbox
from fakes import FakeClock, FakeScheduler
from fakests import FakeSts, write_world

from tests import secretservice
from tray import app, compose
from tray.awsfiles import credfile
from tray.domain.errors import KeyringLockedError, MfaRequiredError
from tray.domain.models import RefreshState, utcnow
from tray.engine.refresher import TICK_INTERVAL, TICK_WORK_JOB, Refresher
from tray.platform import keyring_watch
from tray.platform.secret_store import UNLOCK_HOW
from tray.settings import Settings

TICK = timedelta(seconds=TICK_INTERVAL)


@dataclass
class FakeKeyring:
    """``keyring_locked``: what the Secret Service would say, and how often it was asked."""

    locked: bool | None = True
    calls: int = 0

    def __call__(self) -> bool | None:
        self.calls += 1
        return self.locked


@dataclass
class Rig:
    r: Refresher
    sched: FakeScheduler
    sts: FakeSts
    keyring: FakeKeyring | None
    seen: list[RefreshState] = field(default_factory=list)

    def tick(self, n: int = 1) -> None:
        for _ in range(n):
            self.sched.advance(TICK)

    def lock_the_keyring(self) -> None:
        self.sts.fail_with = KeyringLockedError(source="default", profile="default",
                                                how=UNLOCK_HOW)


def make_rig(home: Path, keyring: FakeKeyring | None) -> Rig:
    write_world(home)
    clock = FakeClock()
    sched = FakeScheduler(clock)
    sts = FakeSts(clock)
    ctx = compose.in_process(os.environ, now=clock.now, settings=Settings())
    r = Refresher(ctx, sched, monotonic=clock.monotonic, rng=random.Random(3), assume_fn=sts,
                  keyring_locked=keyring)
    rig = Rig(r, sched, sts, keyring)
    r.subscribe(lambda s: rig.seen.append(s.state))
    r.start()
    assert r.switch("platform").state is RefreshState.FRESH
    return rig


def wait_for_keyring(rig: Rig) -> None:
    """The scheduled refresh meets a locked keyring."""
    rig.lock_the_keyring()
    with pytest.raises(KeyringLockedError):
        rig.r.refresh_now()
    snap = rig.r.snapshot()
    assert snap.state is RefreshState.NEEDS_INPUT
    assert snap.problem is not None and snap.problem.code == "needs_keyring"
    assert snap.input_needed == "keyring"


def waiting(home: Path, locked: bool | None) -> tuple[Rig, FakeKeyring, int]:
    """A rig in a keyring wait, the fake keyring, and the AssumeRole calls made so far."""
    keyring = FakeKeyring(locked=locked)
    rig = make_rig(home, keyring)
    wait_for_keyring(rig)
    return rig, keyring, len(rig.sts.calls)


# ------------------------------------------------------------------ the refresher

def test_the_wait_ends_on_the_first_tick_after_the_unlock(isolated_env: Path) -> None:
    rig, keyring, calls = waiting(isolated_env, locked=True)
    rig.tick(3)  # still locked: nothing is retried (a retry would prompt again)
    assert rig.r.snapshot().state is RefreshState.NEEDS_INPUT
    assert len(rig.sts.calls) == calls
    assert keyring.calls == 1 + 3  # when the wait began, then once per tick

    keyring.locked = False  # the person unlocked it (at the desktop, or a terminal)
    rig.sts.fail_with = None
    rig.tick()
    snap = rig.r.snapshot()
    assert snap.state is RefreshState.FRESH and snap.problem is None
    assert len(rig.sts.calls) == calls + 1  # the refresh that waited, once
    rig.tick(3)  # the wait is over: the keyring is not asked any more
    assert keyring.calls == 1 + 4


def test_a_keyring_that_reads_unlocked_from_the_start_is_not_retried_every_tick(
        isolated_env: Path) -> None:
    # The default collection reads unlocked, yet the keys' collection is locked: a retry
    # would fail again, each time with the system's unlock prompt. Only a lock then an
    # unlock ends the wait by itself.
    rig, keyring, calls = waiting(isolated_env, locked=False)
    rig.tick(5)
    assert rig.r.snapshot().state is RefreshState.NEEDS_INPUT
    assert len(rig.sts.calls) == calls

    keyring.locked = True  # a screen lock ...
    rig.tick()
    keyring.locked = False  # ... and the unlock after it
    rig.sts.fail_with = None
    rig.tick()
    assert rig.r.snapshot().state is RefreshState.FRESH
    assert len(rig.sts.calls) == calls + 1


def test_a_retry_after_the_unlock_that_meets_a_locked_keyring_again_does_not_loop(
        isolated_env: Path) -> None:
    rig, keyring, calls = waiting(isolated_env, locked=True)
    keyring.locked = False  # reads unlocked, but the keys stay locked (another collection)
    rig.tick(6)
    assert rig.r.snapshot().state is RefreshState.NEEDS_INPUT
    assert len(rig.sts.calls) == calls + 1  # one retry on the unlock, then the person's


def test_no_keyring_look_on_a_tick_when_no_keyring_wait_is_on(isolated_env: Path) -> None:
    keyring = FakeKeyring(locked=True)
    rig = make_rig(isolated_env, keyring)
    rig.tick(20)  # fresh: ticks only
    assert keyring.calls == 0
    assert TICK_WORK_JOB not in [job for job, _ in rig.sched.fired]  # nothing left the tick

    rig.r.switch("guarded", mfa_code="123456")
    with pytest.raises(MfaRequiredError):
        rig.r.refresh_now()  # another kind of wait
    assert rig.r.snapshot().input_needed == "mfa"
    rig.tick(4)
    assert keyring.calls == 0
    assert TICK_WORK_JOB not in [job for job, _ in rig.sched.fired]

    rig.r.switch("platform")
    wait_for_keyring(rig)
    assert keyring.calls == 1
    rig.sts.fail_with = None
    rig.r.refresh_now()  # "Try again" after the unlock ends the wait too
    assert rig.r.snapshot().state is RefreshState.FRESH
    rig.tick(10)
    assert keyring.calls == 1


def test_without_a_watch_the_wait_stays_until_try_again_said_once_in_the_log(
        isolated_env: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="tray.engine.refresher")
    rig = make_rig(isolated_env, keyring=None)
    wait_for_keyring(rig)
    calls = len(rig.sts.calls)
    rig.tick(10)
    wait_for_keyring(rig)  # a second wait: still said once only
    rig.tick(10)
    assert rig.r.snapshot().state is RefreshState.NEEDS_INPUT
    assert len(rig.sts.calls) == calls + 1  # the second "Try again" only
    said = [r.getMessage() for r in caplog.records if "cannot tell when" in r.getMessage()]
    assert len(said) == 1 and "Try again" in said[0]

    rig.sts.fail_with = None
    assert rig.r.refresh_now().state is RefreshState.FRESH


def test_a_service_that_stops_answering_is_said_once_and_the_wait_stays(
        isolated_env: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="tray.engine.refresher")
    rig, keyring, _ = waiting(isolated_env, locked=True)
    keyring.locked = None  # gnome-keyring went away
    rig.tick(5)
    assert rig.r.snapshot().state is RefreshState.NEEDS_INPUT
    said = [r for r in caplog.records if "cannot tell when" in r.getMessage()]
    assert len(said) == 1
    keyring.locked = False  # it came back, unlocked
    rig.sts.fail_with = None
    rig.tick()
    assert rig.r.snapshot().state is RefreshState.FRESH


# ------------------------------------------------------------- the advice

def test_the_headless_unlock_advice_types_the_password_without_a_newline(
        tmp_path: Path) -> None:
    # The status line and the log say how to unlock without a desktop. The password is
    # typed (never a command-line word, nor in the shell's history), and reaches
    # gnome-keyring-daemon without the newline that would make it a wrong password.
    [command] = re.findall(r"`([^`]+)`", UNLOCK_HOW)
    assert "gnome-keyring-daemon --replace --unlock" in command
    assert "keyring get" not in UNLOCK_HOW  # that prints the stored keys on the screen
    got = tmp_path / "stdin"
    shell = command.replace("gnome-keyring-daemon --replace --unlock", f"cat > {got}")
    out = subprocess.run(["bash", "-c", shell], input="correct horse\n", text=True,
                         capture_output=True, timeout=10, check=False)
    assert out.returncode == 0, out.stderr
    assert got.read_bytes() == b"correct horse"


# ------------------------------------------------------------- where it can watch

def test_lock_check_only_where_a_secret_service_can_be_asked(tmp_path: Path) -> None:
    bus = {"DBUS_SESSION_BUS_ADDRESS": "unix:path=/run/user/1000/bus"}
    assert keyring_watch.lock_check(bus, platform="darwin") is None
    assert keyring_watch.lock_check(bus, platform="win32") is None
    assert keyring_watch.lock_check({}, platform="linux") is None  # no session bus
    assert keyring_watch.lock_check(bus, platform="linux") is not None

    # systemd's user bus, when DBUS_SESSION_BUS_ADDRESS is not set
    runtime = tmp_path / "rt"
    runtime.mkdir()
    assert keyring_watch.session_bus_address({"XDG_RUNTIME_DIR": str(runtime)}) is None
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(runtime / "bus"))
        assert keyring_watch.session_bus_address({"XDG_RUNTIME_DIR": str(runtime)}) == \
            f"unix:path={runtime / 'bus'}"


def test_the_app_wires_the_watch_from_its_env(isolated_env: Path) -> None:
    ctx = compose.in_process({**os.environ, "DBUS_SESSION_BUS_ADDRESS": "unix:path=/x"})
    assert app.build_refresher(ctx, scheduler=FakeScheduler(FakeClock()))._keyring_locked \
        is not None
    bare = {k: v for k, v in os.environ.items() if k != "DBUS_SESSION_BUS_ADDRESS"}
    assert app.build_refresher(compose.in_process(bare),
                               scheduler=FakeScheduler(FakeClock()))._keyring_locked is None


# ------------------------------------------------------ a real Secret Service

def test_the_secret_service_says_locked_and_unlocked_without_prompting(
        secret_service: secretservice.SecretService) -> None:
    look = keyring_watch.SecretServiceLock(secret_service.address)
    assert look.locked() is False
    secret_service.lock()
    assert look.locked() is True
    assert look.locked() is True  # reading it never unlocks (no prompt was answered)
    secret_service.unlock()
    assert look.locked() is False


def test_no_secret_service_on_the_bus_or_no_bus_is_no_answer(tmp_path: Path) -> None:
    if secretservice.missing():
        pytest.skip(secretservice.missing())
    # The machine's session config: its installed gnome-keyring is a service the bus
    # would start on a call that allows it; the look's calls do not (no_auto_start).
    bus = secretservice.start_bus(os.environ, tmp_path, machine_services=True)
    try:
        assert keyring_watch.SecretServiceLock(bus.address).locked() is None
        assert not bus.name_owned()  # the look started nobody
    finally:
        bus.stop()
    gone = keyring_watch.SecretServiceLock(f"unix:path={tmp_path / 'no-bus'}")
    assert gone.locked() is None


def test_the_daemons_refresh_waits_for_the_unlock_then_runs_by_itself(
        aws: AwsSandbox, secret_service: secretservice.SecretService,
        caplog: pytest.LogCaptureFixture) -> None:
    # What `roletray daemon` composes (app.build_refresher: the worker child reads the
    # keyring, the watch asks the Secret Service), timed by a FakeScheduler's tick.
    from test_source_keyring_e2e import keyring_world

    caplog.set_level(logging.INFO)
    keyring_world(aws)
    clock = FakeClock(utcnow())
    sched = FakeScheduler(clock)
    r = app.build_refresher(compose.in_process(os.environ, now=clock.now), scheduler=sched)
    r.start()
    assert r.switch("platform").state is RefreshState.FRESH
    first = credfile.read_owned(aws.credentials_path, "roletray")
    assert first is not None

    secret_service.lock()  # a screen lock that locks the keyring
    with pytest.raises(KeyringLockedError):
        r.refresh_now()
    snap = r.snapshot()
    assert snap.state is RefreshState.NEEDS_INPUT and snap.input_needed == "keyring"
    assert snap.problem is not None and snap.problem.code == "needs_keyring"
    assert "gnome-keyring-daemon --replace --unlock" in snap.problem.message  # how, headless
    assert any("goes on by itself" in rec.getMessage() for rec in caplog.records)
    sched.advance(TICK)
    assert r.snapshot().state is RefreshState.NEEDS_INPUT

    secret_service.unlock()  # as `gnome-keyring-daemon --replace --unlock` does, headless
    sched.advance(TICK)
    snap = r.snapshot()
    assert snap.state is RefreshState.FRESH and snap.problem is None
    second = credfile.read_owned(aws.credentials_path, "roletray")
    assert second is not None and second.access_key_id != first.access_key_id
    assert any("(the keyring was unlocked)" in rec.getMessage() for rec in caplog.records)
    r.stop()

"""Several roles kept at once: one section per target, each with its own schedule,
retries and state, on the one scheduler; kept across restarts; cleared one by one.

Timed by a FakeClock and a FakeScheduler; STS is scripted by ``FakeSts`` and
everything after the call (the credentials file, the state file) is real.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fakes import FakeClock, FakeScheduler
from fakests import FakeSts, write_world

from tray import cli, compose
from tray.awsfiles import credfile
from tray.domain.errors import EndpointError
from tray.domain.models import RefreshState
from tray.engine.refresher import Refresher
from tray.engine.section import job_id
from tray.instance import control
from tray.paths import Paths
from tray.settings import Settings
from tray.state import State, load_state, load_states, save_state

T0 = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
KEPT = {"roletray": "platform", "second": "other", "third": "platform"}



def sock() -> Path:
    """The control socket of the environment the test set up."""
    return control.socket_path(Paths.from_env(os.environ))


def here() -> Paths:
    """The paths of the environment the test set up (its AWS files, its socket)."""
    return Paths.from_env(os.environ)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def world(isolated_env: Path) -> Path:
    return write_world(isolated_env)[1]


def make(clock: FakeClock, fake: FakeSts | None = None, *, tick: float | None = None
         ) -> tuple[Refresher, FakeScheduler, FakeSts]:
    sched = FakeScheduler(clock)
    fake = fake or FakeSts(clock)
    ctx = compose.in_process(os.environ, now=clock.now, settings=Settings())
    r = Refresher(ctx, sched, monotonic=clock.monotonic, rng=random.Random(5),
                  assume_fn=fake, tick_interval=tick)
    return r, sched, fake


def keep_three(r: Refresher) -> None:
    for target, profile in KEPT.items():
        r.switch(profile, target=None if target == "roletray" else target)


def key_in(world: Path, target: str) -> str | None:
    owned = credfile.read_owned(world, target)
    return owned.access_key_id if owned else None


def test_three_sections_are_kept_at_once_across_a_suspend(clock: FakeClock, world: Path) -> None:
    r, sched, fake = make(clock)
    r.start()
    keep_three(r)
    assert [(s.target, s.role, s.state) for s in r.snapshots()] == [
        (t, p, RefreshState.FRESH) for t, p in KEPT.items()]
    assert r.snapshot().target == "roletray" and r.kept_targets() == ["second", "third"]
    for target in KEPT:  # each its own jobs on the one scheduler
        assert sched.next_run(job_id("refresh", target)) == T0 + 50 * MIN
    before = {t: key_in(world, t) for t in KEPT}
    assert len(set(before.values())) == 3

    r.check_wake()  # the tick before the suspend
    clock.jump_wall(timedelta(hours=3))  # wall moved, monotonic did not: a suspend
    fake.errors = [EndpointError("STS unreachable")]  # the first refresh after wake fails
    r.check_wake()
    assert len(fake.calls) == 6  # one AssumeRole per section on wake, none more
    snaps = {s.target: s for s in r.snapshots()}
    # The failure is the default section's alone (its keys ran out during the
    # suspend: expired, retrying soon); the others are fresh.
    assert snaps["roletray"].state is RefreshState.EXPIRED
    assert snaps["second"].state is RefreshState.FRESH and snaps["third"].state is \
        RefreshState.FRESH
    assert snaps["second"].expiration == T0 + timedelta(hours=4)
    assert key_in(world, "second") != before["second"] and key_in(world, "third") != \
        before["third"]
    retry_at = sched.next_run(job_id("refresh", "roletray"))
    assert retry_at is not None and retry_at < clock.now() + 5 * MIN
    assert sched.next_run(job_id("refresh", "second")) == clock.now() + 50 * MIN
    sched.advance(retry_at - clock.now())
    assert r.snapshot().state is RefreshState.FRESH and len(fake.calls) == 7
    assert [c["target"] for c in fake.calls[3:]] == ["roletray", "second", "third", "roletray"]


def test_a_section_another_program_removed_is_restored_the_others_untouched(
        clock: FakeClock, world: Path) -> None:
    r, _, fake = make(clock)
    r.start()
    keep_three(r)
    keys = {t: key_in(world, t) for t in KEPT}
    credfile.remove_credentials(world, "third")
    r.check_wake()
    assert {t: key_in(world, t) for t in KEPT} == keys and len(fake.calls) == 3


def test_clear_of_one_keeps_the_others(clock: FakeClock, world: Path) -> None:
    r, sched, fake = make(clock)
    r.start()
    keep_three(r)
    cleared = r.clear_section("second")
    assert cleared.section and cleared.anything
    assert key_in(world, "second") is None
    assert key_in(world, "roletray") is not None and key_in(world, "third") is not None
    assert [s.target for s in r.snapshots()] == ["roletray", "third"]
    assert job_id("refresh", "second") not in sched.pending()
    assert [s.target for s in load_states(Paths.from_env(os.environ))] == ["roletray", "third"]

    sched.advance(50 * MIN)  # the two left are refreshed, the cleared one is not
    assert sorted(c["target"] for c in fake.calls[3:]) == ["roletray", "third"]
    assert key_in(world, "second") is None

    nothing = r.clear_section("nothere")
    assert not nothing.anything and len(r.snapshots()) == 2

    r.clear()  # the default target: its role is forgotten, the other stays kept
    assert r.snapshot().role is None and [s.target for s in r.snapshots()] == [
        "roletray", "third"]
    assert [s.target for s in load_states(Paths.from_env(os.environ))] == ["third"]


def test_a_restart_restores_every_kept_section(clock: FakeClock, world: Path) -> None:
    first, _, fake = make(clock)
    first.start()
    keep_three(first)
    assert first.stop()

    clock.advance(20 * MIN)
    again, sched, _ = make(clock, fake)
    snap = again.start()
    assert snap.role == "platform" and snap.target == "roletray"
    assert [(s.target, s.role, s.state) for s in again.snapshots()] == [
        (t, p, RefreshState.FRESH) for t, p in KEPT.items()]
    for target in KEPT:  # nothing was due: each refresh placed where it was
        assert sched.next_run(job_id("refresh", target)) == T0 + 50 * MIN
    sched.advance(30 * MIN)
    assert sorted(c["target"] for c in fake.calls[3:]) == sorted(KEPT)


def test_an_old_state_file_still_loads_and_a_new_one_reads_as_the_old(
        isolated_env: Path) -> None:
    paths = Paths.from_env(os.environ)
    paths.state_dir.mkdir(parents=True)
    paths.state_file.write_text(json.dumps({
        "version": 1, "active_role": "platform", "target": "roletray",
        "expiration": "2026-11-28T13:00:00Z", "identity_arn": None, "updated_at": None}))
    assert [(s.target, s.active_role) for s in load_states(paths)] == [("roletray", "platform")]

    save_state(State(active_role="other", target="second"), paths)
    save_state(State(active_role="platform", target="roletray",
                     expiration=T0 + timedelta(hours=1)), paths)  # in place: still first
    doc = json.loads(paths.state_file.read_text())
    # What an older roletray reads: the top level, the first kept section.
    assert (doc["version"], doc["active_role"], doc["target"]) == (1, "platform", "roletray")
    assert doc["expiration"] == "2026-11-28T13:00:00Z"
    assert [e["target"] for e in doc["also_kept"]] == ["second"]
    assert load_state(paths) == State(active_role="platform", target="roletray",
                                      expiration=T0 + timedelta(hours=1),
                                      files=paths.aws_files())


def test_a_malformed_kept_section_names_the_file(isolated_env: Path) -> None:
    from tray.domain.errors import StateError

    paths = Paths.from_env(os.environ)
    paths.state_dir.mkdir(parents=True)
    paths.state_file.write_text(json.dumps({
        "version": 1, "active_role": "platform", "target": "roletray",
        "also_kept": [{"active_role": 3, "target": "second"}]}))
    with pytest.raises(StateError, match=r"state\.json: .*run `roletray clear`"):
        load_states(paths)


def test_status_json_lists_every_kept_section_without_an_instance(
        clock: FakeClock, world: Path, capsys: pytest.CaptureFixture[str]) -> None:
    r, _, _ = make(clock)
    r.start()
    keep_three(r)
    r.stop()
    capsys.readouterr()
    assert cli.main(["status", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["target"] == "roletray" and doc["role"] == "platform"  # as before
    assert [(s["target"], s["role"]) for s in doc["sections"]] == list(KEPT.items())
    assert cli.main(["status"]) == 0
    out = capsys.readouterr().out
    assert "Also kept fresh: other -> [second]" in out
    assert "Also kept fresh: platform -> [third]" in out


@pytest.fixture
def instance(clock: FakeClock, world: Path) -> Iterator[tuple[Refresher, FakeScheduler, FakeSts]]:
    r, sched, fake = make(clock)
    r.start()
    server = control.ControlServer(control.make_handler(r), sock(), where=here()).start()
    yield r, sched, fake
    server.stop()


def test_assume_target_is_handed_over_and_kept_by_the_running_instance(
        instance: tuple[Refresher, FakeScheduler, FakeSts], world: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    r, sched, fake = instance
    assert cli.main(["assume", "platform"]) == 0
    assert cli.main(["assume", "other", "--target", "second"]) == 0
    out = capsys.readouterr().out
    assert "keeps other fresh in [second] too" in out
    assert [c["target"] for c in fake.calls] == ["roletray", "second"]  # the instance did both
    assert r.kept_targets() == ["second"] and r.snapshot().role == "platform"
    assert sched.next_run(job_id("refresh", "second")) is not None

    assert cli.main(["status", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [(s["target"], s["role"], s["state"]) for s in doc["sections"]] == [
        ("roletray", "platform", "fresh"), ("second", "other", "fresh")]

    assert cli.main(["clear", "--target", "nothere"]) == 0
    assert "Nothing to clear" in capsys.readouterr().out
    assert cli.main(["clear", "--target", "nothere", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["removed"] is False
    assert cli.main(["clear", "--target", "second"]) == 0
    assert "Removed [second]" in capsys.readouterr().out
    assert r.kept_targets() == [] and key_in(world, "second") is None
    assert key_in(world, "roletray") is not None


def test_an_invalid_target_is_refused_before_any_call(
        instance: tuple[Refresher, FakeScheduler, FakeSts],
        capsys: pytest.CaptureFixture[str]) -> None:
    r, _, fake = instance
    assert cli.main(["assume", "other", "--target", "default"]) == 2
    assert "default" in capsys.readouterr().err
    assert fake.calls == [] and r.kept_targets() == []


def test_the_tray_adds_a_kept_section_for_a_role_and_removes_it(
        clock: FakeClock, world: Path) -> None:
    from tray.ui.menu import find, render_text
    from tray.ui.tray_app import Services, TrayApp

    r, sched, fake = make(clock)
    r.start()
    r.switch("platform")
    app = TrayApp(r, log_path=world.parent / "roletray.log", notifications=False,
                  services=Services(call_soon=lambda fn: fn()), tz=UTC, now=clock.now,
                  config_path=world.parent / "config", env=os.environ)
    keep = find(app.menu(), "Keep fresh in its own profile…")
    assert keep is not None and [n.text for n in keep.children] == [
        "guarded → [guarded-roletray]", "other → [other-roletray]",
        "platform → [platform-roletray]"]
    keep.children[1].action()  # type: ignore[misc]
    app.drain()
    assert fake.calls[-1]["target"] == "other-roletray" and r.kept_targets() == [
        "other-roletray"]
    assert key_in(world, "other-roletray") is not None
    assert r.snapshot().role == "platform"  # the active role did not change
    text = render_text(app.menu())
    assert "Also kept fresh: other → [other-roletray] >" in text
    assert "other → [other-roletray]" not in text.split("Keep fresh in its own profile…")[1]

    stop = find(app.menu(), "Stop keeping [other-roletray] fresh")
    assert stop is not None and stop.action is not None
    stop.action()
    app.drain()
    assert r.kept_targets() == [] and key_in(world, "other-roletray") is None
    assert "Also kept fresh" not in app.menu_text()
    assert [s.target for s in load_states(Paths.from_env(os.environ))] == ["roletray"]
    assert job_id("refresh", "other-roletray") not in sched.pending()
    app.close()


def test_clear_alone_clears_the_default_target_only(
        clock: FakeClock, world: Path, capsys: pytest.CaptureFixture[str]) -> None:
    r, _, _ = make(clock)
    r.start()
    keep_three(r)
    r.stop()
    assert cli.main(["clear"]) == 0  # no instance runs: the CLI does it itself
    assert "Removed [roletray]" in capsys.readouterr().out
    assert key_in(world, "roletray") is None
    assert key_in(world, "second") is not None and key_in(world, "third") is not None
    assert [s.target for s in load_states(Paths.from_env(os.environ))] == ["second", "third"]
    assert cli.main(["clear"]) == 0
    assert "Nothing to clear: no role kept in [roletray]" in capsys.readouterr().out
    assert cli.main(["clear", "--target", "third", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["removed"] is True
    assert [s.target for s in load_states(Paths.from_env(os.environ))] == ["second"]

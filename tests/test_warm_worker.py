"""The instance's warm worker (``tray.child.warm``): one process used again, gone when
idle, started again on demand; one killed mid-switch is one clear error, never a hang."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from functools import partial
from pathlib import Path

import pytest
from fakes import FakeClock, FakeScheduler, gone
from faultserver import FaultServer
from test_daemon import poll_until

from tray import compose
from tray.awsfiles import credfile
from tray.child import runner, warm
from tray.domain.errors import AccessDeniedError, RoletrayError, UnknownProfileError
from tray.engine import actions, worker

REPO = Path(__file__).resolve().parent.parent
IDLE = timedelta(minutes=10)


@pytest.fixture
def rig(aws, monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
        ) -> Iterator[tuple[warm.WarmChild, FakeScheduler, FaultServer, actions.Context]]:
    aws.seed_world()
    aws.enforce()
    clock = FakeClock()
    sched = FakeScheduler(clock)
    with FaultServer("proxy", upstream=aws.url, lifetime=120) as srv:
        monkeypatch.setenv("PYTHONPATH", str(REPO))
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", srv.url)
        ctx = compose.in_process(os.environ)
        child = worker.warm_worker(ctx.env, sched, now=clock.now, idle=IDLE)
        try:
            yield child, sched, srv, ctx
        finally:
            child.stop()
    assert runner.WORKERS.live() == []


def test_one_worker_answers_call_after_call_and_leaves_when_idle(rig) -> None:  # type: ignore[no-untyped-def]
    child, sched, srv, ctx = rig
    assume = partial(worker.assume_in_child, via=child)
    first = assume("platform", ctx=ctx)
    pid = child.pid
    assert pid is not None and runner.WORKERS.live() != []
    second = assume("platform", ctx=ctx)
    assert child.pid == pid and child.started == 1  # the same process, loaded once
    assert first.result.credentials != second.result.credentials
    assert credfile.read_owned(ctx.credentials_path, "roletray") == second.result.credentials
    assert srv.actions == ["AssumeRole", "AssumeRole"]  # one STS round trip a call
    served = worker.assume_only_in_child("platform", ctx=ctx, via=child)  # a served role
    assert served.result.credentials.access_key_id.startswith("ASIA") and child.started == 1

    sched.advance(IDLE - timedelta(seconds=1))
    assert child.pid == pid  # not idle long enough yet
    sched.advance(timedelta(seconds=1))
    assert child.pid is None and gone(pid) and runner.WORKERS.live() == []

    assume("platform", ctx=ctx)  # back on demand
    assert child.started == 2 and child.pid not in (None, pid)


def test_a_call_resets_the_idle_time(rig) -> None:  # type: ignore[no-untyped-def]
    child, sched, _srv, ctx = rig
    worker.assume_in_child("platform", ctx=ctx, via=child)
    pid = child.pid
    sched.advance(IDLE - timedelta(minutes=1))
    worker.assume_in_child("platform", ctx=ctx, via=child)
    sched.advance(timedelta(minutes=2))  # past the first call's idle end
    assert child.pid == pid
    sched.advance(IDLE)
    assert child.pid is None


def test_errors_come_back_and_the_worker_stays(rig) -> None:  # type: ignore[no-untyped-def]
    child, _sched, srv, ctx = rig
    srv.mode = "error"  # AccessDenied
    with pytest.raises(AccessDeniedError, match="AWS denied sts:AssumeRole on .*shows the fix"):
        worker.assume_in_child("platform", ctx=ctx, via=child)
    srv.mode = "proxy"
    with pytest.raises(UnknownProfileError):
        worker.assume_in_child("nope", ctx=ctx, via=child)
    pid = child.pid
    worker.assume_in_child("platform", ctx=ctx, via=child)
    assert child.pid == pid and child.started == 1


def test_kill_9_mid_switch_is_one_clear_error_and_the_next_switch_works(rig) -> None:  # type: ignore[no-untyped-def]
    child, _sched, srv, ctx = rig
    worker.assume_in_child("platform", ctx=ctx, via=child)
    before = credfile.read_owned(ctx.credentials_path, "roletray")
    pid = child.pid
    assert pid is not None
    srv.mode = "hang"  # the next AssumeRole reaches STS and waits there
    with ThreadPoolExecutor(1) as pool:
        call = pool.submit(worker.assume_in_child, "platform", ctx=ctx, via=child)
        poll_until("the AssumeRole in flight", lambda: srv.requests == 2)
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(RoletrayError) as stopped:
            call.result(timeout=30)
    assert type(stopped.value) is RoletrayError
    assert str(stopped.value) == ("profile 'platform': the refresh worker stopped (killed by "
                                  "signal 9) before it answered; try again (a new worker "
                                  "starts)")
    assert gone(pid) and runner.WORKERS.live() == []
    assert credfile.read_owned(ctx.credentials_path, "roletray") == before

    srv.mode = "proxy"
    out = worker.assume_in_child("platform", ctx=ctx, via=child)
    assert child.started == 2 and child.pid != pid
    assert credfile.read_owned(ctx.credentials_path, "roletray") == out.result.credentials


def test_a_worker_that_died_while_idle_is_started_again_for_the_call(rig) -> None:  # type: ignore[no-untyped-def]
    child, _sched, _srv, ctx = rig
    worker.assume_in_child("platform", ctx=ctx, via=child)
    pid = child.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    assert gone(pid)
    out = worker.assume_in_child("platform", ctx=ctx, via=child)  # no error: nothing was lost
    assert child.started == 2 and out.role.name == "platform"


def test_a_call_past_its_timeout_kills_the_worker(rig) -> None:  # type: ignore[no-untyped-def]
    child, _sched, srv, ctx = rig
    srv.mode = "hang"
    with pytest.raises(RoletrayError, match="did not finish within 1 s"):
        worker.assume_in_child("platform", ctx=ctx, via=child, timeout=1.0)
    assert child.pid is None and runner.WORKERS.live() == []
    srv.mode = "proxy"
    worker.assume_in_child("platform", ctx=ctx, via=child)
    assert child.started == 2
